//! Signed transactions and receipts as text: the forms a person copies
//! between machines (a transaction signed offline and sent later, a receipt
//! kept as proof), written and read in one place.
//!
//! A transaction is written as hex or standard base64 of its canonical
//! bytes, or as the API's JSON form (docs/api.md §4); it is read from any of
//! these or from the API's submission body (`{"hex": ...}`). What is read is
//! only decoded, never believed: the node checks the signature, and a
//! receipt is checked with [`crate::trust::Trust`].

use base64::Engine;
use serde_json::Value;
pub use ting_api::FormError;
use ting_api::{SubmitTx, TxJson};
use ting_core::{Receipt, SignedTx};

/// How a transaction is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxFormat {
    /// The canonical bytes in hex.
    Hex,
    /// The canonical bytes in standard base64.
    Base64,
    /// The API's JSON form, on one line.
    Json,
}

/// `tx` written in `format`.
pub fn tx_to_text(tx: &SignedTx, format: TxFormat) -> String {
    let bytes = tx.bytes();
    match format {
        TxFormat::Hex => hex::encode(bytes),
        TxFormat::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        TxFormat::Json => serde_json::to_value(TxJson::from_tx(tx))
            .expect("a transaction serializes")
            .to_string(),
    }
}

fn json_err(e: serde_json::Error) -> FormError {
    FormError::new("invalid_json", format!("the transaction: {e}"))
}

/// One transaction in any of the forms [`tx_to_text`] writes, or the API's
/// submission body; surrounding whitespace is ignored.
pub fn tx_from_text(text: &str) -> Result<SignedTx, FormError> {
    let text = text.trim();
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(json_err)?;
        let is_body = ["hex", "base64", "json"]
            .iter()
            .any(|k| value.get(k).is_some());
        return if is_body {
            serde_json::from_value::<SubmitTx>(value)
                .map_err(json_err)?
                .to_tx()
        } else {
            serde_json::from_value::<TxJson>(value)
                .map_err(json_err)?
                .to_tx()
        };
    }
    let bytes = if !text.is_empty() && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| FormError::new("invalid_field", "odd-length hex"))?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                FormError::new(
                    "invalid_field",
                    "the transaction is neither hex, base64 nor JSON",
                )
            })?
    };
    ting_api::decode_tx(&bytes)
}

/// Transactions in `text`: one in any form, or several, one per line.
pub fn txs_from_text(text: &str) -> Result<Vec<SignedTx>, FormError> {
    if let Ok(tx) = tx_from_text(text) {
        return Ok(vec![tx]);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 2 {
        return tx_from_text(text).map(|tx| vec![tx]);
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            tx_from_text(l)
                .map_err(|e| FormError::new(e.code, format!("line {}: {}", i + 1, e.message)))
        })
        .collect()
}

/// A receipt from its JSON text (as `GET /v1/receipts/{hash}` answers it).
pub fn receipt_from_text(text: &str) -> Result<Receipt, FormError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FormError::new("bad_receipt", format!("not JSON: {e}")))?;
    ting_api::receipt_from_json(&value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{Amount, Hash32, Keypair, Nonce, Timestamp, TxBody, TxKind};

    fn tx(nonce: u64) -> SignedTx {
        let key = Keypair::from_seed([3; 32]);
        TxBody {
            genesis: Hash32([7; 32]),
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(1_800_000_000_000),
            kind: TxKind::Transfer {
                to: Keypair::from_seed([4; 32]).account(),
                amount: Amount::new(9),
                memo: b"x".to_vec(),
            },
        }
        .sign(&key)
    }

    #[test]
    fn a_transaction_reads_back_from_every_written_form_and_the_api_body() {
        let t = tx(4);
        let body = serde_json::json!({ "hex": hex::encode(t.bytes()) }).to_string();
        for text in [
            tx_to_text(&t, TxFormat::Hex),
            tx_to_text(&t, TxFormat::Base64),
            tx_to_text(&t, TxFormat::Json),
            body,
        ] {
            assert_eq!(tx_from_text(&format!(" {text}\n")).expect(&text), t);
        }
        for bad in ["zz", "{\"hex\": 1}", "abc", "", "{"] {
            assert!(tx_from_text(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn several_transactions_read_one_per_line_and_a_bad_line_is_named() {
        let (a, b) = (tx(0), tx(1));
        let text = format!(
            "{}\n\n{}\n",
            tx_to_text(&a, TxFormat::Hex),
            tx_to_text(&b, TxFormat::Json)
        );
        assert_eq!(txs_from_text(&text).expect("two"), vec![a.clone(), b]);
        let broken = format!("{}\nnot a transaction\n", tx_to_text(&a, TxFormat::Hex));
        let err = txs_from_text(&broken).expect_err("line 2");
        assert!(err.message.starts_with("line 2"), "{err}");
    }
}
