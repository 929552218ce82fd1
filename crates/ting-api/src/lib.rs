//! The JSON forms of Ting's HTTP API (docs/api.md), in one place for the
//! node that serves them and the clients (`ting-agent`, so the CLI, the demo
//! and the benchmarks) that send and read them.
//!
//! JSON is the API's edge format only: every form here is a view of the
//! canonical bytes of `ting-core` (docs/wire.md), and whatever is checked
//! (a signature, a Merkle proof, a header) is checked from those bytes.
//! Parsing is strict: unknown fields are refused, every id, hash and
//! signature must have its exact length, and limits are checked here before
//! anything is encoded. A form that does not parse is a [`FormError`] with
//! the API's stable code; the node answers it as `400`.

pub mod channel;
pub mod market;
pub mod receipt;
pub mod resource;
pub mod state;
pub mod stream;
pub mod tx;

use std::fmt;

use ting_core::{AccountId, Hash32};

pub use receipt::{header_json, receipt_from_json, receipt_json};
pub use tx::{decode_tx, SubmitTx, TxJson};

/// Why a JSON form is not one: a stable code (docs/api.md §2.1) and a
/// message that names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub code: &'static str,
    pub message: String,
}

impl FormError {
    pub fn new(code: &'static str, message: impl Into<String>) -> FormError {
        FormError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for FormError {}

/// An `invalid_field` error naming `field`.
pub fn field_err(field: &str, why: impl fmt::Display) -> FormError {
    FormError::new("invalid_field", format!("{field}: {why}"))
}

/// Parses an account id (did:key or hex) named `field`.
pub fn parse_account(field: &str, text: &str) -> Result<AccountId, FormError> {
    AccountId::parse(text).map_err(|e| FormError::new(e.code(), format!("{field}: {e}")))
}

/// Parses exactly `N` bytes of hex named `field`.
pub fn parse_hex_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N], FormError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|_| field_err(field, format!("must be {N} bytes as {} hex digits", 2 * N)))?;
    Ok(out)
}

/// Parses hex of at most `max` bytes named `field`.
pub fn parse_hex_bytes(field: &str, text: &str, max: usize) -> Result<Vec<u8>, FormError> {
    let bytes = hex::decode(text.trim()).map_err(|_| field_err(field, "must be hex"))?;
    if bytes.len() > max {
        return Err(FormError::new(
            "too_long",
            format!("{field} is {} bytes; the limit is {max}", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Parses a 32-byte hash given as 64 hex digits.
pub fn parse_hash(field: &str, text: &str) -> Result<Hash32, FormError> {
    parse_hex_array::<32>(field, text).map(Hash32)
}
