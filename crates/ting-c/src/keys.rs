//! Keys: the account a seed signs for, and its `did:key` text.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use core::ffi::c_char;

use ting_core::{AccountId, Keypair};

use crate::ffi::{array, attempt, put, put_text};
use crate::TingStatus;

/// A key ready to sign: its seed, its account and a check over both, 96
/// bytes. Make it once with `ting_key_from_seed` and keep it as secret as
/// the seed; every call that signs takes it, and refuses one whose check
/// fails (`invalid_input`), since signing under a damaged account would
/// reveal the key.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TingKey {
    pub bytes: [u8; 96],
}

const _: () = assert!(ting_core::keys::KEY_CACHE_BYTES == 96);

/// The key of 32-byte `seed`, ready to sign, into `key_out`. Costs what
/// deriving the public key costs; the calls that take the key do not.
#[no_mangle]
pub extern "C" fn ting_key_from_seed(seed: *const u8, key_out: *mut TingKey) -> TingStatus {
    let seed = attempt!(array::<32>(seed));
    if key_out.is_null() {
        return TingStatus::NullPointer;
    }
    let bytes = Keypair::from_seed(seed).to_cache();
    crate::ffi::write(key_out, TingKey { bytes });
    TingStatus::Ok
}

/// The key's account id (its 32-byte Ed25519 public key), into `account_out`.
#[no_mangle]
pub extern "C" fn ting_key_account(key: *const TingKey, account_out: *mut u8) -> TingStatus {
    let key = attempt!(key_of(key));
    put(&key.account().0, false, account_out, 32)
}

/// The signing key behind `key`, its check passed.
pub(crate) fn key_of(key: *const TingKey) -> Result<Keypair, TingStatus> {
    let held = crate::ffi::read(key.cast_mut())?;
    Keypair::from_cache(&held.bytes).ok_or(TingStatus::InvalidInput)
}

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

/// The 32-byte account id written as the NUL-terminated `text` (a
/// `did:key`, or 64 hex digits) into `account_out`: how firmware reads a
/// sequencer's or a payee's key given as text. Text that is neither, or
/// not a valid key, is `invalid_input`.
#[no_mangle]
pub extern "C" fn ting_account_parse(text: *const c_char, account_out: *mut u8) -> TingStatus {
    let text = attempt!(crate::ffi::text(text, crate::TING_DID_BYTES_MAX));
    let Ok(id) = AccountId::parse(text) else {
        return TingStatus::InvalidInput;
    };
    put(&id.0, false, account_out, 32)
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

        // And back: the did (NUL-terminated) or the hex gives the account.
        let hex: String = account.iter().map(|b| format!("{b:02x}")).collect();
        for written in [text.to_owned(), hex] {
            let mut nul = written.into_bytes();
            nul.push(0);
            let mut parsed = [0u8; 32];
            let status = ting_account_parse(nul.as_ptr().cast(), parsed.as_mut_ptr());
            assert_eq!((status, parsed), (TingStatus::Ok, account));
        }
        for bad in [&b"did:key:z6Mk\0"[..], b"not an account\0", &[b'a'; 200]] {
            let mut parsed = [0u8; 32];
            let status = ting_account_parse(bad.as_ptr().cast(), parsed.as_mut_ptr());
            assert_eq!(status, TingStatus::InvalidInput, "{bad:?}");
        }
    }
}
