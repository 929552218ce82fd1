//! Keys: the account a seed signs for, and its `did:key` text.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs`).
#![allow(unsafe_code)]

use std::ffi::c_char;

use ting_core::{AccountId, Keypair};

use crate::ffi::{array, attempt, put, put_text};
use crate::TingStatus;

/// The account id (Ed25519 public key, 32 bytes) of the key with 32-byte
/// `seed`, written to the 32 bytes at `account_out`.
#[no_mangle]
pub extern "C" fn ting_account_from_seed(seed: *const u8, account_out: *mut u8) -> TingStatus {
    let seed = attempt!(array::<32>(seed));
    let account = Keypair::from_seed(seed).account();
    put(&account.0, false, account_out, 32)
}

/// The `did:key` text of the 32-byte `account`, with a NUL after it, into
/// the `cap` bytes at `out` (`TING_DID_BYTES_MAX` + 1 always do); its
/// length without the NUL through `len_out` (may be NULL). An account id
/// that is not a valid key is `invalid_input`.
#[no_mangle]
pub extern "C" fn ting_account_did(
    account: *const u8,
    out: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let id = AccountId(attempt!(array::<32>(account)));
    if id.check_valid().is_err() {
        return TingStatus::InvalidInput;
    }
    put_text(&id.to_did(), out, cap, len_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_its_account_and_the_account_its_did() {
        let seed = [7u8; 32];
        let mut account = [0u8; 32];
        assert_eq!(
            ting_account_from_seed(seed.as_ptr(), account.as_mut_ptr()),
            TingStatus::Ok
        );
        assert_eq!(account, Keypair::from_seed(seed).account().0);

        let mut did = [0u8; crate::TING_DID_BYTES_MAX + 1];
        let mut len = 0usize;
        let status = ting_account_did(
            account.as_ptr(),
            did.as_mut_ptr().cast(),
            did.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        let text = std::str::from_utf8(&did[..len]).expect("text");
        assert_eq!(text, Keypair::from_seed(seed).account().to_did());
        assert_eq!(did[len], 0, "NUL-terminated");

        let mut short = [0u8; 10];
        let status = ting_account_did(
            account.as_ptr(),
            short.as_mut_ptr().cast(),
            short.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::BufferTooSmall);
        assert_eq!(len, text.len(), "the length needed");
        assert_eq!(
            ting_account_from_seed(std::ptr::null(), account.as_mut_ptr()),
            TingStatus::NullPointer
        );
    }
}
