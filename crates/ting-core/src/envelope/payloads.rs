//! The payloads of the node's envelope types: receipt, refusal and error.
//!
//! docs/mqtt.md §2.1 gives their bytes. Codes are short ASCII
//! (`ENVELOPE_CODE_BYTES_MAX`) and messages bounded UTF-8
//! (`ENVELOPE_MESSAGE_BYTES_MAX`). Encoding never fails: a longer code or
//! message is cut at a character boundary, because a node reporting an error
//! must not itself fail on the report. Decoding is strict and refuses over-long
//! fields, non-ASCII codes, invalid UTF-8 and trailing bytes.

use crate::prelude::*;

use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::limits::{ENVELOPE_CODE_BYTES_MAX, ENVELOPE_MESSAGE_BYTES_MAX};
pub use crate::receipt::Receipt;

/// `0x0001 receipt`: the transaction is in a durable block, and the proof of
/// it: the signed header and the Merkle path ([`Receipt::encode`]). A device
/// counts the transaction as committed only once it has checked both.
pub type ReceiptPayload = Receipt;

/// `0x0002 refusal`: the ledger refused the transaction with `code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusalPayload {
    pub tx_hash: Hash32,
    pub code: String,
    pub message: String,
}

impl RefusalPayload {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.hash(&self.tx_hash);
        write_code_message(&mut w, &self.code, &self.message);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<RefusalPayload, DecodeError> {
        let mut r = Reader::new(bytes);
        let tx_hash = r.hash("tx_hash")?;
        let (code, message) = read_code_message(&mut r)?;
        r.finish("refusal payload")?;
        Ok(RefusalPayload {
            tx_hash,
            code,
            message,
        })
    }
}

/// `0x0003 error`: the node could not take a payload from `ting/v1/tx`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}

impl ErrorPayload {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        write_code_message(&mut w, &self.code, &self.message);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<ErrorPayload, DecodeError> {
        let mut r = Reader::new(bytes);
        let (code, message) = read_code_message(&mut r)?;
        r.finish("error payload")?;
        Ok(ErrorPayload { code, message })
    }
}

fn write_code_message(w: &mut Writer, code: &str, message: &str) {
    let code: String = code
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .take(ENVELOPE_CODE_BYTES_MAX)
        .collect();
    w.bytes_u8(code.as_bytes());
    w.bytes_u16(truncate_utf8(message, ENVELOPE_MESSAGE_BYTES_MAX).as_bytes());
}

fn read_code_message(r: &mut Reader<'_>) -> Result<(String, String), DecodeError> {
    let code = r.bytes_u8("code", ENVELOPE_CODE_BYTES_MAX)?;
    if !code.is_ascii() {
        return Err(DecodeError::InvalidValue { what: "code" });
    }
    let code = String::from_utf8(code.to_vec()).expect("ASCII is UTF-8");
    let message = r.bytes_u16("message", ENVELOPE_MESSAGE_BYTES_MAX)?;
    let message = String::from_utf8(message.to_vec())
        .map_err(|_| DecodeError::InvalidValue { what: "message" })?;
    Ok((code, message))
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_round_trips_and_long_fields_are_cut_on_encode() {
        let p = RefusalPayload {
            tx_hash: Hash32([1; 32]),
            code: "insufficient_funds".into(),
            message: "the sender has 3".into(),
        };
        assert_eq!(RefusalPayload::decode(&p.encode()), Ok(p));
        let long = RefusalPayload {
            tx_hash: Hash32::ZERO,
            code: "c".repeat(100),
            message: "é".repeat(1000),
        };
        let back = RefusalPayload::decode(&long.encode()).unwrap();
        assert_eq!(back.code.len(), ENVELOPE_CODE_BYTES_MAX);
        assert_eq!(back.message.len(), ENVELOPE_MESSAGE_BYTES_MAX);
    }

    #[test]
    fn an_error_payload_refuses_non_ascii_codes_and_bad_utf8() {
        let p = ErrorPayload {
            code: "busy".into(),
            message: "try later".into(),
        };
        assert_eq!(ErrorPayload::decode(&p.encode()), Ok(p));
        let non_ascii = [1u8, 0xc3, 0, 0];
        assert!(ErrorPayload::decode(&non_ascii).is_err());
        let bad_utf8 = [1u8, b'a', 1, 0, 0xff];
        assert!(ErrorPayload::decode(&bad_utf8).is_err());
        let mut trailing = ErrorPayload::default_for_test().encode();
        trailing.push(0);
        assert!(ErrorPayload::decode(&trailing).is_err());
    }

    impl ErrorPayload {
        fn default_for_test() -> Self {
            ErrorPayload {
                code: "x".into(),
                message: String::new(),
            }
        }
    }
}
