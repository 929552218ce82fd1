//! An account's state proved against a signed header, checked in place:
//! what a device reads its balance and its next nonce from, trusting no
//! node (docs/devices.md §5).
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::receipt::ReceiptError;
use ting_core::state_map::AccountRecord;
use ting_core::state_proof::{check_account_bytes, CheckedState, StateAnswerError, StateCheck};
use ting_core::{AccountId, BlockHeight, Hash32};

use crate::ffi::{array, attempt, bytes};
use crate::receipt::trusted_keys;
use crate::TingStatus;

/// What a checked state answer says of an account.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TingAccount {
    /// The height of the header the answer was checked against: keep the
    /// highest, and give it as `min_height` next time.
    pub height: u64,
    /// Whether the account exists (holds or held money).
    pub exists: bool,
    pub balance: u64,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
    /// Whether it is a device with an owner, and whether that owner froze it.
    pub is_device: bool,
    pub frozen: bool,
    /// Whether it published a messaging key, and the key.
    pub has_messaging_key: bool,
    pub messaging_key: [u8; 32],
}

/// Checks the state answer in the `len` bytes at `answer` (the `proof` of
/// `GET /v1/accounts/{id}?proof=true`, docs/api.md) for the 32-byte
/// `account`, against the 32-byte `genesis` hash, the `sequencer_count`
/// 32-byte keys at `sequencers`, and `min_height` (the highest height you
/// have seen checked; an answer below it is `stale_state`). What it proves
/// goes to `account_out`: a proved absence is `exists` false, balance and
/// nonce 0.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_account_check(
    answer: *const u8,
    len: usize,
    account: *const u8,
    genesis: *const u8,
    sequencers: *const u8,
    sequencer_count: usize,
    min_height: u64,
    account_out: *mut TingAccount,
) -> TingStatus {
    let id = AccountId(attempt!(array::<32>(account)));
    let trust = Trust {
        genesis,
        sequencers,
        sequencer_count,
        min_height,
    };
    let checked = attempt!(checked(answer, len, &trust, |raw, check| {
        check_account_bytes(raw, &id, check)
    }));
    let mut out = TingAccount {
        height: checked.header.height.0,
        ..TingAccount::default()
    };
    if let Some(record) = checked.record {
        let Ok(parts) = AccountRecord::from_record(record) else {
            return TingStatus::InvalidInput;
        };
        out.exists = true;
        out.balance = parts.account.balance.base_units();
        out.nonce = parts.account.nonce.0;
        out.is_device = parts.device.is_some();
        out.frozen = parts.device.as_ref().is_some_and(|d| d.frozen);
        if let Some(key) = parts.messaging_key {
            out.has_messaging_key = true;
            out.messaging_key = key.0;
        }
    }
    if account_out.is_null() {
        return TingStatus::NullPointer;
    }
    crate::ffi::write(account_out, out);
    TingStatus::Ok
}

/// What a state answer is checked against, as the caller passed it.
pub(crate) struct Trust {
    pub genesis: *const u8,
    pub sequencers: *const u8,
    pub sequencer_count: usize,
    pub min_height: u64,
}

/// The `len` bytes at `answer` checked by `check` against `trust`: the
/// header and the record, or the status to answer.
pub(crate) fn checked<'a>(
    answer: *const u8,
    len: usize,
    trust: &Trust,
    check: impl FnOnce(&'a [u8], &StateCheck<'_>) -> Result<CheckedState<'a>, StateAnswerError>,
) -> Result<CheckedState<'a>, TingStatus> {
    let raw = bytes(answer, len)?;
    let genesis = Hash32(array::<32>(trust.genesis)?);
    let (keys, count) = trusted_keys(trust.sequencers, trust.sequencer_count)?;
    let state = StateCheck {
        genesis: &genesis,
        sequencers: &keys[..count],
        min_height: BlockHeight(trust.min_height),
    };
    check(raw, &state).map_err(|e| state_status(&e))
}

fn state_status(e: &StateAnswerError) -> TingStatus {
    match e {
        StateAnswerError::Header(ReceiptError::WrongNetwork { .. }) => TingStatus::WrongNetwork,
        StateAnswerError::Header(ReceiptError::UnknownSequencer(_)) => TingStatus::UnknownSequencer,
        StateAnswerError::Header(ReceiptError::BadHeaderSignature) => {
            TingStatus::BadHeaderSignature
        }
        StateAnswerError::Stale { .. } => TingStatus::StaleState,
        StateAnswerError::Malformed(_) | StateAnswerError::BadRecord(_) => TingStatus::InvalidInput,
        _ => TingStatus::BadProof,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::state_proof::StateAnswer;
    use ting_core::state_tree::StateTree;
    use ting_core::{Amount, Block, BlockDraft, Keypair, Nonce, Timestamp};

    #[test]
    fn an_account_proved_under_a_trusted_header_reads_out_and_a_stale_one_does_not() {
        let me = Keypair::from_seed([3; 32]).account();
        let sequencer = Keypair::from_seed([11; 32]);
        let genesis = Hash32([9; 32]);
        let record = AccountRecord {
            account: ting_core::state_map::Account {
                balance: Amount::new(97),
                nonce: Nonce(4),
            },
            device: None,
            messaging_key: None,
        }
        .to_record();
        let key = ting_core::state_map::account_key(&me);
        let tree =
            StateTree::from_entries([(key, ting_core::state_map::account_value_hash(&record))]);
        let draft = BlockDraft {
            genesis,
            height: BlockHeight(8),
            epoch: 0,
            prev_hash: Hash32([1; 32]),
            timestamp: Timestamp(1_700_000_000_000),
            state_root: tree.root(),
        };
        let header = Block::seal(draft, Vec::new(), &sequencer).header;
        let answer = StateAnswer {
            header,
            record: Some(record),
            proof: tree.prove(&key),
        }
        .to_bytes();
        let seq = sequencer.account().0;
        let mut out = TingAccount::default();
        let status = ting_account_check(
            answer.as_ptr(),
            answer.len(),
            me.0.as_ptr(),
            genesis.0.as_ptr(),
            seq.as_ptr(),
            1,
            0,
            &mut out,
        );
        assert_eq!(status, TingStatus::Ok);
        assert!(out.exists && !out.is_device);
        assert_eq!((out.balance, out.nonce, out.height), (97, 4, 8));
        let status = ting_account_check(
            answer.as_ptr(),
            answer.len(),
            me.0.as_ptr(),
            genesis.0.as_ptr(),
            seq.as_ptr(),
            1,
            9,
            &mut out,
        );
        assert_eq!(status, TingStatus::StaleState);
        let other = Keypair::from_seed([4; 32]).account().0;
        let status = ting_account_check(
            answer.as_ptr(),
            answer.len(),
            me.0.as_ptr(),
            genesis.0.as_ptr(),
            other.as_ptr(),
            1,
            0,
            &mut out,
        );
        assert_eq!(status, TingStatus::UnknownSequencer);
    }
}
