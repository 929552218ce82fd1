//! A channel's state proved against a signed header, checked in place: what
//! a payee's firmware reads before it delivers against a channel (its payer,
//! that it pays this device, its deposit and what was claimed), trusting no
//! node (docs/c.md).
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::channel::record::{Channel, ChannelTerms};
use ting_core::state_proof::check_channel_bytes;
use ting_core::{ChannelId, Hash32};

use crate::ffi::{array, attempt};
use crate::state::{checked, Trust};
use crate::TingStatus;

/// What a checked state answer says of a channel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TingChannel {
    /// The height of the header the answer was checked against.
    pub height: u64,
    /// Whether the ledger holds the channel (open or settled).
    pub exists: bool,
    pub payer: [u8; 32],
    pub payee: [u8; 32],
    /// Everything the payer put in: the deposit and every top-up.
    pub deposit: u64,
    /// Everything paid out to the payee so far.
    pub claimed: u64,
    pub opened_at_ms: u64,
    pub expires_at_ms: u64,
    /// Whether it is paid by hash-chain ticks (else by vouchers), and what
    /// one tick is worth (0 for vouchers).
    pub hash_chain: bool,
    pub price: u64,
    /// Whether it is settled (it then holds nothing).
    pub closed: bool,
}

/// Checks the state answer in the `len` bytes at `answer` (the `proof` of
/// `GET /v1/channels/{id}?proof=true`, docs/api.md) for the 32-byte
/// `channel` id, against the 32-byte `genesis` hash, the `sequencer_count`
/// 32-byte keys at `sequencers`, and `min_height` (an answer below it is
/// `stale_state`). What it proves goes to `channel_out`: a proved absence
/// is `exists` false.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_channel_check(
    answer: *const u8,
    len: usize,
    channel: *const u8,
    genesis: *const u8,
    sequencers: *const u8,
    sequencer_count: usize,
    min_height: u64,
    channel_out: *mut TingChannel,
) -> TingStatus {
    if channel_out.is_null() {
        return TingStatus::NullPointer;
    }
    let id = ChannelId(Hash32(attempt!(array::<32>(channel))));
    let trust = Trust {
        genesis,
        sequencers,
        sequencer_count,
        min_height,
    };
    let checked = attempt!(checked(answer, len, &trust, |raw, check| {
        check_channel_bytes(raw, &id, check)
    }));
    let mut out = TingChannel {
        height: checked.header.height.0,
        ..TingChannel::default()
    };
    if let Some(record) = checked.record {
        let Ok(c) = Channel::from_record(record) else {
            return TingStatus::InvalidInput;
        };
        fill(&mut out, &c);
    }
    crate::ffi::write(channel_out, out);
    TingStatus::Ok
}

fn fill(out: &mut TingChannel, c: &Channel) {
    out.exists = true;
    out.payer = c.payer.0;
    out.payee = c.payee.0;
    out.deposit = c.deposit.base_units();
    out.claimed = c.claimed.base_units();
    out.opened_at_ms = c.opened_at.0;
    out.expires_at_ms = c.expires_at.0;
    if let ChannelTerms::HashChain(chain) = &c.mode {
        out.hash_chain = true;
        out.price = chain.price.base_units();
    }
    out.closed = c.closed.is_some();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::channel::record::HashChainState;
    use ting_core::state_proof::StateAnswer;
    use ting_core::state_tree::StateTree;
    use ting_core::{Amount, Block, BlockDraft, BlockHeight, ChainSegment, Keypair, Timestamp};

    const GENESIS: Hash32 = Hash32([9; 32]);

    fn channel() -> Channel {
        Channel {
            payer: Keypair::from_seed([3; 32]).account(),
            payee: Keypair::from_seed([4; 32]).account(),
            deposit: Amount::new(50),
            claimed: Amount::new(6),
            opened_at: Timestamp(1_700_000_000_000),
            expires_at: Timestamp(1_800_000_000_000),
            mode: ChannelTerms::HashChain(HashChainState {
                price: Amount::new(2),
                segment: 0,
                base: 0,
                current: ChainSegment {
                    anchor: Hash32([5; 32]),
                    len: 25,
                },
                next: None,
                claimed_index: 3,
                claimed_tick: Hash32([6; 32]),
            }),
            closed: None,
        }
    }

    /// A state answer for `id` under a header signed by `sequencer`, holding `record`.
    fn answer(id: &ChannelId, record: Option<Vec<u8>>, sequencer: &Keypair) -> Vec<u8> {
        let key = ting_core::state_map::channel_key(id);
        let other = ting_core::state_map::channel_key(&ChannelId(Hash32([8; 32])));
        let entries = match &record {
            Some(r) => vec![(key, ting_core::state_map::channel_value_hash(r))],
            None => vec![(other, Hash32([1; 32]))],
        };
        let tree = StateTree::from_entries(entries);
        let draft = BlockDraft {
            genesis: GENESIS,
            height: BlockHeight(12),
            epoch: 0,
            prev_hash: Hash32([1; 32]),
            timestamp: Timestamp(1_700_000_000_000),
            state_root: tree.root(),
        };
        StateAnswer {
            header: Block::seal(draft, Vec::new(), sequencer).header,
            record,
            proof: tree.prove(&key),
        }
        .to_bytes()
    }

    fn check(answer: &[u8], id: &ChannelId, seq: &[u8; 32], min: u64) -> (TingStatus, TingChannel) {
        let mut out = TingChannel::default();
        let status = ting_channel_check(
            answer.as_ptr(),
            answer.len(),
            id.0 .0.as_ptr(),
            GENESIS.0.as_ptr(),
            seq.as_ptr(),
            1,
            min,
            &mut out,
        );
        (status, out)
    }

    #[test]
    fn a_proved_channel_reads_out_and_stale_foreign_or_absent_ones_say_so() {
        let sequencer = Keypair::from_seed([11; 32]);
        let seq = sequencer.account().0;
        let id = ChannelId(Hash32([7; 32]));
        let c = channel();
        let proved = answer(&id, Some(c.to_record()), &sequencer);
        let (status, out) = check(&proved, &id, &seq, 0);
        assert_eq!(status, TingStatus::Ok);
        assert!(out.exists && out.hash_chain && !out.closed);
        assert_eq!((out.payer, out.payee), (c.payer.0, c.payee.0));
        assert_eq!(
            (out.deposit, out.claimed, out.price, out.height),
            (50, 6, 2, 12)
        );
        assert_eq!(out.expires_at_ms, 1_800_000_000_000);

        assert_eq!(check(&proved, &id, &seq, 13).0, TingStatus::StaleState);
        let stranger = Keypair::from_seed([12; 32]).account().0;
        assert_eq!(
            check(&proved, &id, &stranger, 0).0,
            TingStatus::UnknownSequencer
        );
        let other_id = ChannelId(Hash32([6; 32]));
        assert_ne!(check(&proved, &other_id, &seq, 0).0, TingStatus::Ok);

        let absent = answer(&id, None, &sequencer);
        let (status, out) = check(&absent, &id, &seq, 0);
        assert_eq!(status, TingStatus::Ok);
        assert!(!out.exists);

        let mut out = TingChannel::default();
        let null = ting_channel_check(
            proved.as_ptr(),
            proved.len(),
            id.0 .0.as_ptr(),
            GENESIS.0.as_ptr(),
            seq.as_ptr(),
            1,
            0,
            std::ptr::null_mut(),
        );
        assert_eq!(null, TingStatus::NullPointer);
        let short = ting_channel_check(
            proved.as_ptr(),
            proved.len() - 1,
            id.0 .0.as_ptr(),
            GENESIS.0.as_ptr(),
            seq.as_ptr(),
            1,
            0,
            &mut out,
        );
        assert_ne!(short, TingStatus::Ok);
    }
}
