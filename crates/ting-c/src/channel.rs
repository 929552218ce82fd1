//! Payment channels' vouchers: the payer signs the cumulative amount a
//! voucher channel owes its payee; the payee checks it before it serves.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::{AccountId, Amount, ChannelId, Hash32, NetworkId, Signature};

use crate::ffi::{array, attempt, put};
use crate::TingStatus;

/// Signs a voucher for `amount` base units in all on the 32-byte `channel`
/// of network `network`, with the payer's `key`; the 64-byte
/// signature goes to `signature_out`.
#[no_mangle]
pub extern "C" fn ting_voucher_sign(
    key: *const crate::TingKey,
    network: u32,
    channel: *const u8,
    amount: u64,
    signature_out: *mut u8,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let channel = ChannelId(Hash32(attempt!(array::<32>(channel))));
    let proof =
        ting_core::channel::sign_voucher(&key, NetworkId(network), &channel, Amount::new(amount));
    let ting_core::ChannelProof::Voucher { signature, .. } = proof else {
        unreachable!("sign_voucher makes a voucher")
    };
    put(&signature.0, false, signature_out, 64)
}

/// Checks a voucher: the 64-byte `signature` by the 32-byte account `payer`
/// for `amount` on the 32-byte `channel` of network `network`.
/// `TING_STATUS_OK` when it verifies, `bad_signature` when not.
#[no_mangle]
pub extern "C" fn ting_voucher_verify(
    payer: *const u8,
    network: u32,
    channel: *const u8,
    amount: u64,
    signature: *const u8,
) -> TingStatus {
    let payer = AccountId(attempt!(array::<32>(payer)));
    let channel = ChannelId(Hash32(attempt!(array::<32>(channel))));
    let signature = Signature(attempt!(array::<64>(signature)));
    match ting_core::channel::verify_voucher(
        &payer,
        NetworkId(network),
        &channel,
        Amount::new(amount),
        &signature,
    ) {
        Ok(()) => TingStatus::Ok,
        Err(_) => TingStatus::BadSignature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_key;
    use ting_core::Keypair;

    #[test]
    fn a_voucher_signed_here_verifies_for_its_amount_only() {
        let seed = [5u8; 32];
        let payer = Keypair::from_seed(seed).account().0;
        let channel = [6u8; 32];
        let mut sig = [0u8; 64];
        assert_eq!(
            ting_voucher_sign(&test_key(seed), 7, channel.as_ptr(), 40, sig.as_mut_ptr()),
            TingStatus::Ok
        );
        assert_eq!(
            ting_voucher_verify(payer.as_ptr(), 7, channel.as_ptr(), 40, sig.as_ptr()),
            TingStatus::Ok
        );
        assert_eq!(
            ting_voucher_verify(payer.as_ptr(), 7, channel.as_ptr(), 41, sig.as_ptr()),
            TingStatus::BadSignature
        );
        assert_eq!(
            ting_voucher_verify(payer.as_ptr(), 8, channel.as_ptr(), 40, sig.as_ptr()),
            TingStatus::BadSignature,
            "another network"
        );
    }
}
