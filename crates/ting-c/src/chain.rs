//! Hash-chain channels, the way a device pays per tick: the payer derives
//! its chain from its key, opens the channel with the chain's anchor, and
//! reveals one tick at a time; the payee takes each tick after hashing it
//! back to the anchor. Each side's state is bytes the caller keeps (in
//! flash, say) and hands back on the next call; every call that moves a
//! side on writes its new state, which the caller persists before it sends
//! or serves (docs/c.md).
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::channel::payee::{Payee, PaymentError};
use ting_core::channel::payer::{derive_chain_seed, ChannelTerms, NewSegment, PayError, Payer};
use ting_core::channel::state_bytes::{
    decode_payee, decode_payer, encode_payee_into, encode_payer_into,
};
use ting_core::channel::Payment;
use ting_core::tx::{TxBody, TxKind};
use ting_core::{
    AccountId, Amount, ChainSegment, ChannelId, ChannelMode, Hash32, NetworkId, Nonce, Timestamp,
};

use crate::ffi::{array, attempt, bytes, ok, put, set};
use crate::TingStatus;

/// The longest state either side of a channel keeps.
pub const TING_CHANNEL_STATE_BYTES_MAX: usize = 492;
/// The longest payment message.
pub const TING_PAYMENT_BYTES_MAX: usize = 110;

const _: () =
    assert!(TING_CHANNEL_STATE_BYTES_MAX == ting_core::channel::state_bytes::STATE_BYTES_MAX);
const _: () = assert!(TING_PAYMENT_BYTES_MAX == Payment::BYTES_MAX);

/// A hash-chain channel's terms, as both sides hold them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TingHashChain {
    /// The network's id (its genesis's `network`).
    pub network: u32,
    /// The channel's id (`ting_channel_id`).
    pub channel: [u8; 32],
    pub payer: [u8; 32],
    pub payee: [u8; 32],
    /// Base units locked in the channel.
    pub deposit: u64,
    /// Ledger time (milliseconds) the channel expires at.
    pub expires_at_ms: u64,
    /// Base units one tick is worth.
    pub price: u64,
    /// Ticks on the chain.
    pub chain_len: u32,
    /// The chain's anchor: what the open transaction carries and the payee
    /// hashes ticks back to. `ting_payer_open` fills it in.
    pub anchor: [u8; 32],
}

impl TingHashChain {
    fn terms(&self) -> ChannelTerms {
        ChannelTerms {
            network: NetworkId(self.network),
            channel: ChannelId(Hash32(self.channel)),
            payer: AccountId(self.payer),
            payee: AccountId(self.payee),
            deposit: Amount::new(self.deposit),
            expires_at: Timestamp(self.expires_at_ms),
        }
    }

    fn mode(&self) -> ChannelMode {
        ChannelMode::HashChain {
            chain: ChainSegment {
                anchor: Hash32(self.anchor),
                len: self.chain_len,
            },
            price: Amount::new(self.price),
        }
    }
}

/// The 32-byte id of the channel that the payer's transaction number
/// `nonce` opens on the network of 32-byte `genesis`, into `channel_out`.
#[no_mangle]
pub extern "C" fn ting_channel_id(
    genesis: *const u8,
    payer: *const u8,
    nonce: u64,
    channel_out: *mut u8,
) -> TingStatus {
    let genesis = Hash32(attempt!(array::<32>(genesis)));
    let payer = AccountId(attempt!(array::<32>(payer)));
    let id = ChannelId::derive(&genesis, &payer, Nonce(nonce));
    put(&id.0 .0, false, channel_out, 32)
}

/// Opens a hash-chain channel as its payer, `key`:
/// `terms` gives the network, channel, payee, deposit, expiry, price and
/// chain length; this fills in its `payer` and `anchor`, and writes the
/// payer's state into the `state_cap` bytes at `state_out`
/// (`TING_CHANNEL_STATE_BYTES_MAX` always do), its length through
/// `state_len_out`. Costs `chain_len` hash steps. A deposit too small for
/// the chain, a zero price or a chain over its limit is `invalid_input`.
#[no_mangle]
pub extern "C" fn ting_payer_open(
    key: *const crate::TingKey,
    terms: *mut TingHashChain,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let mut chain = attempt!(crate::ffi::read(terms));
    chain.payer = key.account().0;
    let channel = ChannelId(Hash32(chain.channel));
    let segment = NewSegment {
        seed: derive_chain_seed(&key, &channel, 0),
        len: chain.chain_len,
    };
    let Ok((payer, ChannelMode::HashChain { chain: anchor, .. })) =
        Payer::open_hash_chain(chain.terms(), Amount::new(chain.price), segment)
    else {
        return TingStatus::InvalidInput;
    };
    chain.anchor = anchor.anchor.0;
    attempt!(ok(put_payer(&payer, state_out, state_cap, state_len_out)));
    crate::ffi::write(terms, chain);
    TingStatus::Ok
}

/// Signs the transaction that opens the hash-chain channel of `terms`
/// (after `ting_payer_open` filled in its anchor), from the payer's key
/// with 32-byte `seed`, on the network of 32-byte `genesis`, as its
/// transaction number `nonce` (the one `ting_channel_id` was given), valid
/// until `valid_until_ms`. The signed transaction goes into the `cap`
/// bytes at `out`, its length through `len_out`.
#[no_mangle]
pub extern "C" fn ting_sign_channel_open(
    key: *const crate::TingKey,
    genesis: *const u8,
    nonce: u64,
    valid_until_ms: u64,
    terms: *const TingHashChain,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let chain = attempt!(crate::ffi::read(terms.cast_mut()));
    let body = TxBody {
        genesis: Hash32(attempt!(array::<32>(genesis))),
        sender: key.account(),
        nonce: Nonce(nonce),
        valid_until: Timestamp(valid_until_ms),
        kind: TxKind::ChannelOpen {
            payee: AccountId(chain.payee),
            deposit: Amount::new(chain.deposit),
            expires_at: Timestamp(chain.expires_at_ms),
            mode: chain.mode(),
        },
    };
    crate::tx::sign(&body, &key, out, cap, len_out)
}

/// Pays `units` more ticks from the payer's state (the `state_len` bytes
/// at `state`) at ledger time `now_ms`: the payment message for the payee
/// goes into the `payment_cap` bytes at `payment_out` (`TING_PAYMENT_BYTES_MAX`
/// always do) and the payer's new state into `state_out` (which may be
/// `state` itself). Persist the new state before sending the payment.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_payer_pay(
    state: *const u8,
    state_len: usize,
    units: u64,
    now_ms: u64,
    payment_out: *mut u8,
    payment_cap: usize,
    payment_len_out: *mut usize,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
) -> TingStatus {
    let held = attempt!(bytes(state, state_len));
    let Ok(Ok(mut payer)) = decode_payer(held).map(Payer::restore) else {
        return TingStatus::InvalidInput;
    };
    let payment = match payer.pay_ticks(units, Timestamp(now_ms)) {
        Ok(p) => p.encode(),
        Err(e) => return pay_status(&e),
    };
    let payment_out = (payment_out, payment_cap, payment_len_out);
    put_paid(
        &payer,
        &payment,
        payment_out,
        (state_out, state_cap, state_len_out),
    )
}

/// The payee's state for the hash-chain channel of `terms` (as the ledger
/// opened it: anchor, price and length from the open transaction), into the
/// `state_cap` bytes at `state_out`, its length through `state_len_out`.
#[no_mangle]
pub extern "C" fn ting_payee_open(
    terms: *const TingHashChain,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
) -> TingStatus {
    let chain = attempt!(crate::ffi::read(terms.cast_mut()));
    let payee = Payee::new(chain.terms(), chain.mode());
    put_payee(&payee, state_out, state_cap, state_len_out)
}

/// Takes a payment (the `payment_len` bytes at `payment`) into the payee's
/// state (the `state_len` bytes at `state`) at ledger time `now_ms`: the
/// tick is hashed back to the chain. The new state goes into `state_out`
/// (which may be `state` itself), what this payment added through
/// `newly_paid_out` and all paid so far through `total_out` (either may be
/// NULL). A refused payment changes nothing and is named: `replayed`,
/// `bad_preimage`, `over_deposit`, `channel_expired`, `wrong_channel`, ...
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_payee_accept(
    state: *const u8,
    state_len: usize,
    payment: *const u8,
    payment_len: usize,
    now_ms: u64,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
    newly_paid_out: *mut u64,
    total_out: *mut u64,
) -> TingStatus {
    let held = attempt!(bytes(state, state_len));
    let Ok(Ok(mut payee)) = decode_payee(held).map(Payee::restore) else {
        return TingStatus::InvalidInput;
    };
    let Ok(payment) = Payment::decode(attempt!(bytes(payment, payment_len))) else {
        return TingStatus::InvalidInput;
    };
    let accepted = match payee.accept(&payment, Timestamp(now_ms)) {
        Ok(a) => a,
        Err(e) => return payment_status(&e),
    };
    attempt!(ok(put_payee(&payee, state_out, state_cap, state_len_out)));
    set(newly_paid_out, accepted.newly_paid.base_units());
    set(total_out, accepted.total.base_units());
    TingStatus::Ok
}

/// A caller's buffer: where, how long, and where its length goes.
pub(crate) type Out = (*mut u8, usize, *mut usize);

/// Writes the payer's state into the caller's buffer, its length through
/// `len_out` (set even when the buffer is too short).
pub(crate) fn put_payer(
    payer: &Payer,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let mut next = [0u8; TING_CHANNEL_STATE_BYTES_MAX];
    let len = encode_payer_into(payer.state(), &mut next).expect("a state fits its maximum");
    set(len_out, len);
    put(&next[..len], false, out, cap)
}

/// Writes the payee's state, as [`put_payer`] does the payer's.
pub(crate) fn put_payee(
    payee: &Payee,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let mut next = [0u8; TING_CHANNEL_STATE_BYTES_MAX];
    let len = encode_payee_into(payee.state(), &mut next).expect("a state fits its maximum");
    set(len_out, len);
    put(&next[..len], false, out, cap)
}

/// Hands over a payment and the payer's state after it. Both buffers are
/// checked before either is written, so the caller's state moves on only
/// with a payment to send, never without one.
pub(crate) fn put_paid(
    payer: &Payer,
    payment: &[u8],
    payment_out: Out,
    state_out: Out,
) -> TingStatus {
    let mut next = [0u8; TING_CHANNEL_STATE_BYTES_MAX];
    let len = encode_payer_into(payer.state(), &mut next).expect("a state fits its maximum");
    set(payment_out.2, payment.len());
    set(state_out.2, len);
    if payment_out.0.is_null() || state_out.0.is_null() {
        return TingStatus::NullPointer;
    }
    if payment.len() > payment_out.1 || len > state_out.1 {
        return TingStatus::BufferTooSmall;
    }
    attempt!(ok(put(&next[..len], false, state_out.0, state_out.1)));
    put(payment, false, payment_out.0, payment_out.1)
}

pub(crate) fn pay_status(e: &PayError) -> TingStatus {
    match e {
        PayError::NothingToPay => TingStatus::NothingToPay,
        PayError::Expired => TingStatus::ChannelExpired,
        PayError::ChainExhausted { .. } => TingStatus::ChainExhausted,
        PayError::OverDeposit => TingStatus::OverDeposit,
        PayError::WrongMode => TingStatus::WrongChannel,
        PayError::WrongKey => TingStatus::WrongSigner,
        _ => TingStatus::InvalidInput,
    }
}

fn payment_status(e: &PaymentError) -> TingStatus {
    match e {
        PaymentError::WrongNetwork => TingStatus::WrongNetwork,
        PaymentError::WrongChannel | PaymentError::WrongMode | PaymentError::UnknownSegment => {
            TingStatus::WrongChannel
        }
        PaymentError::Expired => TingStatus::ChannelExpired,
        PaymentError::Replayed => TingStatus::Replayed,
        PaymentError::OverDeposit => TingStatus::OverDeposit,
        PaymentError::BadPreimage => TingStatus::BadPreimage,
        PaymentError::BadSignature => TingStatus::BadSignature,
        _ => TingStatus::InvalidInput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_key;
    use ting_core::Keypair;

    const NOW: u64 = 1_700_000_000_000;

    fn opened() -> (TingHashChain, Vec<u8>, Vec<u8>) {
        let seed = [5u8; 32];
        let genesis = [9u8; 32];
        let payer = Keypair::from_seed(seed).account().0;
        let mut channel = [0u8; 32];
        assert_eq!(
            ting_channel_id(genesis.as_ptr(), payer.as_ptr(), 3, channel.as_mut_ptr()),
            TingStatus::Ok
        );
        let mut terms = TingHashChain {
            network: 7,
            channel,
            payer: [0; 32],
            payee: Keypair::from_seed([6; 32]).account().0,
            deposit: 1_000,
            expires_at_ms: NOW + 3_600_000,
            price: 10,
            chain_len: 50,
            anchor: [0; 32],
        };
        let mut payer_state = vec![0u8; TING_CHANNEL_STATE_BYTES_MAX];
        let mut len = 0usize;
        let status = ting_payer_open(
            &test_key(seed),
            &mut terms,
            payer_state.as_mut_ptr(),
            payer_state.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        payer_state.truncate(len);
        assert_eq!(terms.payer, payer);
        assert_ne!(terms.anchor, [0; 32]);
        let mut payee_state = vec![0u8; TING_CHANNEL_STATE_BYTES_MAX];
        assert_eq!(
            ting_payee_open(
                &terms,
                payee_state.as_mut_ptr(),
                payee_state.len(),
                &mut len
            ),
            TingStatus::Ok
        );
        payee_state.truncate(len);
        (terms, payer_state, payee_state)
    }

    fn pay(state: &mut Vec<u8>, units: u64) -> (TingStatus, Vec<u8>) {
        let mut payment = vec![0u8; TING_PAYMENT_BYTES_MAX];
        let mut payment_len = 0usize;
        let mut next = vec![0u8; TING_CHANNEL_STATE_BYTES_MAX];
        let mut next_len = 0usize;
        let status = ting_payer_pay(
            state.as_ptr(),
            state.len(),
            units,
            NOW,
            payment.as_mut_ptr(),
            payment.len(),
            &mut payment_len,
            next.as_mut_ptr(),
            next.len(),
            &mut next_len,
        );
        if status == TingStatus::Ok {
            next.truncate(next_len);
            *state = next;
        }
        payment.truncate(payment_len);
        (status, payment)
    }

    fn accept(state: &mut Vec<u8>, payment: &[u8]) -> (TingStatus, u64, u64) {
        let (mut newly, mut total) = (0u64, 0u64);
        let mut len = 0usize;
        let mut next = vec![0u8; TING_CHANNEL_STATE_BYTES_MAX];
        let status = ting_payee_accept(
            state.as_ptr(),
            state.len(),
            payment.as_ptr(),
            payment.len(),
            NOW,
            next.as_mut_ptr(),
            next.len(),
            &mut len,
            &mut newly,
            &mut total,
        );
        if status == TingStatus::Ok {
            next.truncate(len);
            *state = next;
        }
        (status, newly, total)
    }

    #[test]
    fn ticks_paid_by_the_payer_are_taken_by_the_payee_once_and_only_genuine_ones() {
        let (_, mut payer, mut payee) = opened();
        let (status, first) = pay(&mut payer, 3);
        assert_eq!(status, TingStatus::Ok);
        assert_eq!(accept(&mut payee, &first), (TingStatus::Ok, 30, 30));
        let (_, second) = pay(&mut payer, 2);
        assert_eq!(accept(&mut payee, &second), (TingStatus::Ok, 20, 50));
        assert_eq!(accept(&mut payee, &first).0, TingStatus::Replayed);

        let (_, mut third) = pay(&mut payer, 1);
        let last = third.len() - 1;
        third[last] ^= 1;
        assert_eq!(accept(&mut payee, &third).0, TingStatus::BadPreimage);
        assert_eq!(pay(&mut payer, 0).0, TingStatus::NothingToPay);
        assert_eq!(pay(&mut payer, 100).0, TingStatus::ChainExhausted);
    }

    #[test]
    fn a_payment_with_nowhere_to_go_leaves_the_callers_state_as_it_was() {
        let (_, payer, _) = opened();
        let mut state = payer.clone();
        let mut state_len = state.len();
        let mut payment_len = 0usize;
        let status = ting_payer_pay(
            payer.as_ptr(),
            payer.len(),
            1,
            NOW,
            std::ptr::null_mut(),
            TING_PAYMENT_BYTES_MAX,
            &mut payment_len,
            state.as_mut_ptr(),
            state.len(),
            &mut state_len,
        );
        assert_eq!(status, TingStatus::NullPointer);
        assert_eq!(state, payer, "not moved on without a payment to send");
        let mut small = [0u8; 8];
        let status = ting_payer_pay(
            payer.as_ptr(),
            payer.len(),
            1,
            NOW,
            small.as_mut_ptr(),
            small.len(),
            &mut payment_len,
            state.as_mut_ptr(),
            state.len(),
            &mut state_len,
        );
        assert_eq!(status, TingStatus::BufferTooSmall);
        assert_eq!(state, payer);
        assert!(payment_len > small.len(), "the length needed is given");
    }

    #[test]
    fn the_open_transaction_carries_the_payers_anchor() {
        let (terms, _, _) = opened();
        let mut out = [0u8; crate::TING_TX_BYTES_MAX];
        let mut len = 0usize;
        let status = ting_sign_channel_open(
            &test_key([5u8; 32]),
            [9u8; 32].as_ptr(),
            3,
            NOW + 60_000,
            &terms,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        let tx = ting_core::SignedTx::decode(&out[..len]).expect("decodes");
        assert_eq!(tx.opened_channel(), Some(ChannelId(Hash32(terms.channel))));
        let TxKind::ChannelOpen {
            mode: ChannelMode::HashChain { chain, price },
            ..
        } = tx.kind()
        else {
            panic!("a hash-chain open: {:?}", tx.kind())
        };
        assert_eq!(
            (chain.anchor.0, chain.len, price.base_units()),
            (terms.anchor, 50, 10)
        );
    }
}
