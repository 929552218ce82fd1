//! The broker login token: the MQTT password a device logs in with
//! (docs/mqtt.md §9).
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use core::ffi::c_char;

use ting_core::login::{LoginToken, CLIENT_ID_SUFFIX_MAX};
use ting_core::{Hash32, Timestamp};

use crate::ffi::{array, attempt, put_text, text};
use crate::TingStatus;

/// The longest client id: the account in hex, `-` and a suffix.
const CLIENT_ID_MAX: usize = 64 + 1 + CLIENT_ID_SUFFIX_MAX;

/// The MQTT password for `key` logging in as the
/// NUL-terminated `client_id` (the account id in hex, optionally `-` and a
/// suffix) on the network of 32-byte `genesis`, issued at `now_ms` (the
/// network's time in milliseconds) with the 16 random bytes at `nonce`. The
/// password's text (`TING_LOGIN_TOKEN_TEXT_BYTES` hex digits) and a NUL go
/// into the `cap` bytes at `out`; its length through `len_out` (may be
/// NULL). The username is the account id in hex.
#[no_mangle]
pub extern "C" fn ting_login_token(
    key: *const crate::TingKey,
    genesis: *const u8,
    client_id: *const c_char,
    now_ms: u64,
    nonce: *const u8,
    out: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let genesis = Hash32(attempt!(array::<32>(genesis)));
    let client_id = attempt!(text(client_id, CLIENT_ID_MAX));
    if ting_core::login::check_client_id(&key.account(), client_id).is_err() {
        return TingStatus::InvalidInput;
    }
    let nonce = attempt!(array::<16>(nonce));
    let token = LoginToken::issue(&key, &genesis, client_id, Timestamp(now_ms), nonce);
    put_text(&token.to_text(), out, cap, len_out)
}
