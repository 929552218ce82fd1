//! Ting for C: the operations device firmware needs, over ting-core, behind
//! a stable C ABI (docs/c.md). The library is `libting.a` and `libting.so`;
//! its header is `include/ting.h`, made by cbindgen from this crate.
//!
//! Every function returns a [`TingStatus`]: `TING_STATUS_OK`, or a code
//! whose name `ting_status_name` gives (`buffer_too_small`,
//! `bad_header_signature`, ...). Inputs are byte arrays of fixed sizes
//! (keys, hashes, signatures: 32, 32, 64 bytes) or a pointer and a length;
//! outputs go into buffers the caller gives, with their capacity, and the
//! length written comes back through an out-parameter. Nothing is kept
//! between calls, nothing is allocated that the caller must free, and no
//! call panics across the boundary: a bad input is a status.
//!
//! A signing key is a [`TingKey`]: made once from the 32-byte seed firmware
//! keeps in its secure storage (`ting_key_from_seed`), then handed to each
//! call that signs, which checks it before use.
//!
//! Without its `std` feature the library is `#![no_std]`, for bare-metal
//! firmware ([`bare`] gives it the firmware's heap and `abort`);
//! `scripts/check-no-std` builds it for a Cortex-M4F and a RISC-V core.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(not(feature = "std"))]
mod bare;

mod chain;
mod channel;
mod channel_state;
mod envelope;
mod ffi;
mod keys;
mod login;
mod receipt;
mod state;
mod status;
mod tx;
mod voucher;

pub use chain::{
    ting_channel_id, ting_payee_accept, ting_payee_open, ting_payer_open, ting_payer_pay,
    ting_sign_channel_open, TingHashChain, TING_CHANNEL_STATE_BYTES_MAX, TING_PAYMENT_BYTES_MAX,
};
pub use channel::{ting_voucher_sign, ting_voucher_verify};
pub use channel_state::{ting_channel_check, TingChannel};
pub use envelope::{
    ting_envelope_check, ting_envelope_sign, ting_messaging_key, ting_seal, ting_unseal,
    TingEnvelopeHeader, TING_ENVELOPE_BYTES_MAX, TING_ENVELOPE_PAYLOAD_BYTES_MAX,
    TING_SEAL_OVERHEAD_BYTES,
};
pub use keys::{
    ting_account_did, ting_account_from_seed, ting_account_parse, ting_key_account,
    ting_key_from_seed, TingKey,
};
pub use login::ting_login_token;
pub use receipt::{ting_receipt_check, TING_SEQUENCERS_MAX};
pub use state::{ting_account_check, TingAccount};
pub use status::{ting_status_name, ting_version, TingStatus};
pub use tx::{ting_sign_body, ting_sign_transfer, ting_tx_hash};
pub use voucher::{
    ting_sign_voucher_channel_open, ting_voucher_payee_open, ting_voucher_payer_open,
    ting_voucher_payer_pay, TingVoucherChannel,
};

/// Bytes of a seed, an account id, a hash.
pub const TING_KEY_BYTES: usize = 32;
/// Bytes of a signature.
pub const TING_SIGNATURE_BYTES: usize = 64;
/// The longest signed transaction of any kind: a buffer this long holds any.
pub const TING_TX_BYTES_MAX: usize = 1024;
/// The longest `did:key` text, without its terminating NUL.
pub const TING_DID_BYTES_MAX: usize = 64;
/// A login token's text (the MQTT password), without its terminating NUL.
pub const TING_LOGIN_TOKEN_TEXT_BYTES: usize = 178;

// The header's numbers are written out for cbindgen; these keep them true.
const _: () = assert!(TING_TX_BYTES_MAX == ting_core::limits::TX_BYTES_MAX);
const _: () = assert!(TING_LOGIN_TOKEN_TEXT_BYTES == 2 * ting_core::login::LOGIN_TOKEN_BYTES);

/// The key of `seed`, as C makes it, for the tests.
#[cfg(test)]
pub(crate) fn test_key(seed: [u8; 32]) -> TingKey {
    let mut key = TingKey { bytes: [0; 96] };
    assert_eq!(ting_key_from_seed(seed.as_ptr(), &mut key), TingStatus::Ok);
    key
}
