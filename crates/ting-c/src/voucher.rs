//! Voucher channels, the way a device pays any amount at a time: the payer
//! signs the running total, the payee takes each voucher above the last.
//! As with hash chains (`chain.rs`), each side's state is bytes the caller
//! keeps and hands back; each call that moves a side writes its new state,
//! to persist before the payment is sent or the service given.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::channel::payee::Payee;
use ting_core::channel::payer::{ChannelTerms, Payer};
use ting_core::channel::state_bytes::decode_payer;
use ting_core::tx::{TxBody, TxKind};
use ting_core::{AccountId, Amount, ChannelId, ChannelMode, Hash32, NetworkId, Nonce, Timestamp};

use crate::chain::{pay_status, put_paid, put_payee, put_payer};
use crate::ffi::{array, attempt, bytes, ok};
use crate::{TingKey, TingStatus};

/// A voucher channel's terms, as both sides hold them.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TingVoucherChannel {
    /// The network's id (its genesis's `network`).
    pub network: u32,
    /// The channel's id (`ting_channel_id`).
    pub channel: [u8; 32],
    /// Filled in by `ting_voucher_payer_open`.
    pub payer: [u8; 32],
    pub payee: [u8; 32],
    /// Base units locked in the channel.
    pub deposit: u64,
    /// Ledger time (milliseconds) the channel expires at.
    pub expires_at_ms: u64,
}

impl TingVoucherChannel {
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
}

/// Opens a voucher channel as its payer, `key`: fills in `terms.payer` and
/// writes the payer's state into the `state_cap` bytes at `state_out`
/// (`TING_CHANNEL_STATE_BYTES_MAX` always do), its length through
/// `state_len_out`.
#[no_mangle]
pub extern "C" fn ting_voucher_payer_open(
    key: *const TingKey,
    terms: *mut TingVoucherChannel,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let mut channel = attempt!(crate::ffi::read(terms));
    channel.payer = key.account().0;
    let payer = Payer::open_voucher(channel.terms());
    attempt!(ok(put_payer(&payer, state_out, state_cap, state_len_out)));
    crate::ffi::write(terms, channel);
    TingStatus::Ok
}

/// Signs the transaction that opens the voucher channel of `terms`, from
/// the payer's `key`, on the network of 32-byte `genesis`, as its
/// transaction number `nonce` (the one `ting_channel_id` was given), valid
/// until `valid_until_ms`, into the `cap` bytes at `out`.
#[no_mangle]
pub extern "C" fn ting_sign_voucher_channel_open(
    key: *const TingKey,
    genesis: *const u8,
    nonce: u64,
    valid_until_ms: u64,
    terms: *const TingVoucherChannel,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let channel = attempt!(crate::ffi::read(terms.cast_mut()));
    let body = TxBody {
        genesis: Hash32(attempt!(array::<32>(genesis))),
        sender: key.account(),
        nonce: Nonce(nonce),
        valid_until: Timestamp(valid_until_ms),
        kind: TxKind::ChannelOpen {
            payee: AccountId(channel.payee),
            deposit: Amount::new(channel.deposit),
            expires_at: Timestamp(channel.expires_at_ms),
            mode: ChannelMode::Voucher,
        },
    };
    crate::tx::sign(&body, &key, out, cap, len_out)
}

/// Pays `amount` more base units from the payer's state (the `state_len`
/// bytes at `state`), signed with the payer's `key`, at ledger time
/// `now_ms`: the payment message (a voucher for the new total) goes into
/// the `payment_cap` bytes at `payment_out`, the new state into
/// `state_out` (which may be `state` itself). Persist the state before
/// sending the payment.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_voucher_payer_pay(
    key: *const TingKey,
    state: *const u8,
    state_len: usize,
    amount: u64,
    now_ms: u64,
    payment_out: *mut u8,
    payment_cap: usize,
    payment_len_out: *mut usize,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let held = attempt!(bytes(state, state_len));
    let Ok(Ok(mut payer)) = decode_payer(held).map(Payer::restore) else {
        return TingStatus::InvalidInput;
    };
    let prepared = match payer.prepare_pay_amount(Amount::new(amount), Timestamp(now_ms), &key) {
        Ok(p) => p,
        Err(e) => return pay_status(&e),
    };
    let payment = payer.commit(prepared).encode();
    let payment_out = (payment_out, payment_cap, payment_len_out);
    put_paid(
        &payer,
        &payment,
        payment_out,
        (state_out, state_cap, state_len_out),
    )
}

/// The payee's state for the voucher channel of `terms` (as the ledger
/// opened it), into the `state_cap` bytes at `state_out`. Payments are then
/// taken with `ting_payee_accept`, as for hash chains.
#[no_mangle]
pub extern "C" fn ting_voucher_payee_open(
    terms: *const TingVoucherChannel,
    state_out: *mut u8,
    state_cap: usize,
    state_len_out: *mut usize,
) -> TingStatus {
    let channel = attempt!(crate::ffi::read(terms.cast_mut()));
    let payee = Payee::new(channel.terms(), ChannelMode::Voucher);
    put_payee(&payee, state_out, state_cap, state_len_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{ting_payee_accept, TING_CHANNEL_STATE_BYTES_MAX, TING_PAYMENT_BYTES_MAX};
    use crate::test_key;
    use ting_core::Keypair;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn vouchers_paid_by_the_payer_are_taken_for_their_increase_only() {
        let key = test_key([5; 32]);
        let mut terms = TingVoucherChannel {
            network: 7,
            channel: [8; 32],
            payer: [0; 32],
            payee: Keypair::from_seed([6; 32]).account().0,
            deposit: 100,
            expires_at_ms: NOW + 3_600_000,
        };
        let mut payer = vec![0u8; TING_CHANNEL_STATE_BYTES_MAX];
        let mut payer_len = 0usize;
        assert_eq!(
            ting_voucher_payer_open(
                &key,
                &mut terms,
                payer.as_mut_ptr(),
                payer.len(),
                &mut payer_len
            ),
            TingStatus::Ok
        );
        assert_eq!(terms.payer, Keypair::from_seed([5; 32]).account().0);
        let mut payee = vec![0u8; TING_CHANNEL_STATE_BYTES_MAX];
        let mut payee_len = 0usize;
        assert_eq!(
            ting_voucher_payee_open(&terms, payee.as_mut_ptr(), payee.len(), &mut payee_len),
            TingStatus::Ok
        );

        let pay = |amount: u64, payer: &mut Vec<u8>, payer_len: &mut usize| {
            let mut payment = vec![0u8; TING_PAYMENT_BYTES_MAX];
            let mut payment_len = 0usize;
            let state = payer.clone();
            let status = ting_voucher_payer_pay(
                &key,
                state.as_ptr(),
                *payer_len,
                amount,
                NOW,
                payment.as_mut_ptr(),
                payment.len(),
                &mut payment_len,
                payer.as_mut_ptr(),
                payer.len(),
                payer_len,
            );
            payment.truncate(payment_len);
            (status, payment)
        };
        let take = |payment: &[u8], payee: &mut Vec<u8>, payee_len: &mut usize| {
            let (mut newly, mut total) = (0u64, 0u64);
            let state = payee.clone();
            let status = ting_payee_accept(
                state.as_ptr(),
                *payee_len,
                payment.as_ptr(),
                payment.len(),
                NOW,
                payee.as_mut_ptr(),
                payee.len(),
                payee_len,
                &mut newly,
                &mut total,
            );
            (status, newly, total)
        };
        let (status, first) = pay(30, &mut payer, &mut payer_len);
        assert_eq!(status, TingStatus::Ok);
        assert_eq!(
            take(&first, &mut payee, &mut payee_len),
            (TingStatus::Ok, 30, 30)
        );
        let (_, second) = pay(25, &mut payer, &mut payer_len);
        assert_eq!(
            take(&second, &mut payee, &mut payee_len),
            (TingStatus::Ok, 25, 55)
        );
        assert_eq!(
            take(&first, &mut payee, &mut payee_len).0,
            TingStatus::Replayed
        );
        assert_eq!(
            pay(50, &mut payer, &mut payer_len).0,
            TingStatus::OverDeposit
        );
        let other = test_key([9; 32]);
        let state = payer.clone();
        let status = ting_voucher_payer_pay(
            &other,
            state.as_ptr(),
            payer_len,
            1,
            NOW,
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            payer.as_mut_ptr(),
            payer.len(),
            &mut payer_len,
        );
        assert_eq!(
            status,
            TingStatus::WrongSigner,
            "another key cannot pay from this channel"
        );

        let mut out = [0u8; crate::TING_TX_BYTES_MAX];
        let mut len = 0usize;
        let status = ting_sign_voucher_channel_open(
            &key,
            [9u8; 32].as_ptr(),
            2,
            NOW,
            &terms,
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        let tx = ting_core::SignedTx::decode(&out[..len]).expect("decodes");
        assert!(matches!(
            tx.kind(),
            TxKind::ChannelOpen {
                mode: ChannelMode::Voucher,
                ..
            }
        ));
    }
}
