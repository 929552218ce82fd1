//! Transactions in JSON (docs/api.md §4): the form a client may submit
//! instead of the canonical bytes, and the form the node shows them in.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ting_core::limits::{MEMO_BYTES_MAX, METADATA_BYTES_MAX};
use ting_core::{
    Amount, Hash32, MessagingKey, Nonce, Signature, SignedTx, Timestamp, TxBody, TxKind,
};

use crate::{field_err, parse_account, parse_hex_array, parse_hex_bytes, FormError};

/// A transaction in JSON: the envelope, and the kind's fields under `fields`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxJson {
    #[serde(default)]
    pub version: Option<u8>,
    /// The genesis hash of the network, as 64 hex digits.
    pub genesis: String,
    pub sender: String,
    pub nonce: u64,
    /// The last ledger time (milliseconds since the Unix epoch) at which it may apply.
    pub valid_until: u64,
    pub kind: String,
    pub fields: Value,
    pub signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToAmount {
    to: String,
    amount: u64,
    #[serde(default)]
    memo_hex: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    device: String,
    #[serde(default)]
    metadata_hex: Option<String>,
    device_signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limit {
    device: String,
    per_day: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceOnly {
    device: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyOnly {
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceAmount {
    device: String,
    amount: u64,
}

pub(crate) fn fields<T: serde::de::DeserializeOwned>(
    kind: &str,
    v: &Value,
) -> Result<T, FormError> {
    serde_json::from_value(v.clone()).map_err(|e| field_err(&format!("fields of {kind}"), e))
}

/// A kind from its name and its `fields` object (docs/api.md §4), for a
/// client that builds transactions from JSON (the Python package does).
pub fn kind_from_json(kind: &str, v: &Value) -> Result<TxKind, FormError> {
    if let Some(parsed) = crate::stream::kind_from_json(kind, v) {
        return parsed;
    }
    if let Some(parsed) = crate::market::kind_from_json(kind, v) {
        return parsed;
    }
    if let Some(parsed) = crate::resource::kind_from_json(kind, v) {
        return parsed;
    }
    if let Some(parsed) = crate::channel::kind_from_json(kind, v) {
        return parsed;
    }
    if let Some(parsed) = owner_kind_from_json(kind, v) {
        return parsed;
    }
    Ok(match kind {
        "transfer" => {
            let f: ToAmount = fields(kind, v)?;
            let memo = match f.memo_hex {
                Some(m) => parse_hex_bytes("memo_hex", &m, MEMO_BYTES_MAX)?,
                None => Vec::new(),
            };
            TxKind::Transfer {
                to: parse_account("to", &f.to)?,
                amount: Amount::new(f.amount),
                memo,
            }
        }
        "mint" => {
            let f: ToAmount = fields(kind, v)?;
            if f.memo_hex.is_some() {
                return Err(field_err("memo_hex", "a mint has no memo"));
            }
            TxKind::Mint {
                to: parse_account("to", &f.to)?,
                amount: Amount::new(f.amount),
            }
        }
        "set_messaging_key" => {
            let f: KeyOnly = fields(kind, v)?;
            // Only the length is checked here; the ledger refuses a small-order key.
            TxKind::SetMessagingKey {
                key: MessagingKey(parse_hex_array("key", &f.key)?),
            }
        }
        other => {
            return Err(FormError::new(
                "unknown_kind",
                format!("unknown transaction kind {other:?}"),
            ))
        }
    })
}

/// The owner's kinds over a device; `None` if `kind` is not one.
fn owner_kind_from_json(kind: &str, v: &Value) -> Option<Result<TxKind, FormError>> {
    let parsed = match kind {
        "register_device" => fields::<Registration>(kind, v).and_then(|f| {
            let metadata = match f.metadata_hex {
                Some(m) => parse_hex_bytes("metadata_hex", &m, METADATA_BYTES_MAX)?,
                None => Vec::new(),
            };
            Ok(TxKind::RegisterDevice {
                device: parse_account("device", &f.device)?,
                metadata,
                device_signature: Signature(parse_hex_array(
                    "device_signature",
                    &f.device_signature,
                )?),
            })
        }),
        "set_spend_limit" => fields::<Limit>(kind, v).and_then(|f| {
            Ok(TxKind::SetSpendLimit {
                device: parse_account("device", &f.device)?,
                per_day: f.per_day.map(Amount::new),
            })
        }),
        "freeze" | "unfreeze" => fields::<DeviceOnly>(kind, v).and_then(|f| {
            let device = parse_account("device", &f.device)?;
            Ok(if kind == "freeze" {
                TxKind::Freeze { device }
            } else {
                TxKind::Unfreeze { device }
            })
        }),
        "sweep" => fields::<DeviceAmount>(kind, v).and_then(|f| {
            Ok(TxKind::Sweep {
                device: parse_account("device", &f.device)?,
                amount: Amount::new(f.amount),
            })
        }),
        _ => return None,
    };
    Some(parsed)
}

impl TxJson {
    /// The signed transaction this JSON describes (its signature is checked later).
    pub fn to_tx(&self) -> Result<SignedTx, FormError> {
        if let Some(v) = self.version {
            if v != ting_core::tx::TX_VERSION {
                return Err(FormError::new(
                    "unsupported_version",
                    format!("transaction version {v}"),
                ));
            }
        }
        let body = TxBody {
            genesis: Hash32(parse_hex_array("genesis", &self.genesis)?),
            sender: parse_account("sender", &self.sender)?,
            nonce: Nonce(self.nonce),
            valid_until: Timestamp(self.valid_until),
            kind: kind_from_json(&self.kind, &self.fields)?,
        };
        let signature = Signature(parse_hex_array("signature", &self.signature)?);
        Ok(SignedTx::from_parts(body, signature))
    }

    pub fn from_tx(tx: &SignedTx) -> TxJson {
        TxJson {
            version: Some(ting_core::tx::TX_VERSION),
            genesis: tx.genesis().to_hex(),
            sender: tx.sender().to_did(),
            nonce: tx.nonce().0,
            valid_until: tx.valid_until().0,
            kind: tx.kind().name().to_owned(),
            fields: kind_to_json(tx.kind()),
            signature: tx.signature().to_hex(),
        }
    }
}

fn kind_to_json(kind: &TxKind) -> Value {
    match kind {
        TxKind::Transfer { to, amount, memo } => {
            let mut v = json!({ "to": to.to_did(), "amount": amount.base_units() });
            if !memo.is_empty() {
                v["memo_hex"] = json!(hex::encode(memo));
            }
            v
        }
        TxKind::Mint { to, amount } => json!({ "to": to.to_did(), "amount": amount.base_units() }),
        TxKind::RegisterDevice {
            device,
            metadata,
            device_signature,
        } => json!({
            "device": device.to_did(),
            "metadata_hex": hex::encode(metadata),
            "device_signature": device_signature.to_hex(),
        }),
        TxKind::SetSpendLimit { device, per_day } => json!({
            "device": device.to_did(),
            "per_day": per_day.map(Amount::base_units),
        }),
        TxKind::Freeze { device } | TxKind::Unfreeze { device } => {
            json!({ "device": device.to_did() })
        }
        TxKind::Sweep { device, amount } => {
            json!({ "device": device.to_did(), "amount": amount.base_units() })
        }
        TxKind::SetMessagingKey { key } => json!({ "key": key.to_hex() }),
        TxKind::ChannelOpen { .. }
        | TxKind::ChannelClaim { .. }
        | TxKind::ChannelTopUp { .. }
        | TxKind::ChannelClose { .. }
        | TxKind::ChannelReclaim { .. } => {
            crate::channel::kind_to_json(kind).expect("channel kinds have a channel JSON form")
        }
        TxKind::StreamOpen { .. }
        | TxKind::StreamConsent { .. }
        | TxKind::StreamDelivery { .. }
        | TxKind::StreamClose { .. } => {
            crate::stream::kind_to_json(kind).expect("stream kinds have a stream JSON form")
        }
        TxKind::HoldCreate { .. }
        | TxKind::HoldAccept { .. }
        | TxKind::HoldRelease { .. }
        | TxKind::HoldRefund { .. }
        | TxKind::HoldDispute { .. }
        | TxKind::HoldDecide { .. }
        | TxKind::OfferOpen { .. }
        | TxKind::OfferUpdate { .. }
        | TxKind::OfferClose { .. } => {
            crate::market::kind_to_json(kind).expect("market kinds have a market JSON form")
        }
        TxKind::ClassRegister { .. }
        | TxKind::OrderPlace { .. }
        | TxKind::OrderCancel { .. }
        | TxKind::LeaseSettle { .. }
        | TxKind::LeaseClose { .. } => {
            crate::resource::kind_to_json(kind).expect("resource kinds have a resource JSON form")
        }
    }
}

/// One transaction as submitted: exactly one of hex, base64 or JSON.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SubmitTx {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<TxJson>,
}

impl SubmitTx {
    pub fn to_tx(&self) -> Result<SignedTx, FormError> {
        match (&self.hex, &self.base64, &self.json) {
            (Some(h), None, None) => {
                let bytes = hex::decode(h.trim()).map_err(|_| field_err("hex", "must be hex"))?;
                decode_tx(&bytes)
            }
            (None, Some(b), None) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|_| field_err("base64", "must be standard base64"))?;
                decode_tx(&bytes)
            }
            (None, None, Some(j)) => j.to_tx(),
            _ => Err(FormError::new(
                "invalid_field",
                "give the transaction as exactly one of `hex`, `base64` or `json`",
            )),
        }
    }
}

/// Decodes the canonical binary form, mapping its errors to API codes.
pub fn decode_tx(bytes: &[u8]) -> Result<SignedTx, FormError> {
    SignedTx::decode(bytes).map_err(|e| FormError::new(e.code(), format!("transaction: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::Keypair;

    #[test]
    fn a_messaging_key_round_trips_through_json_and_a_short_key_is_refused() {
        let key = Keypair::from_seed([1; 32]);
        let tx = TxBody {
            genesis: Hash32([1; 32]),
            sender: key.account(),
            nonce: Nonce(0),
            valid_until: Timestamp(1_800_000_000_000),
            kind: TxKind::SetMessagingKey {
                key: MessagingKey([0xab; 32]),
            },
        }
        .sign(&key);
        let j = TxJson::from_tx(&tx);
        assert_eq!(j.kind, "set_messaging_key");
        assert_eq!(j.fields, json!({ "key": "ab".repeat(32) }));
        assert_eq!(j.to_tx().unwrap(), tx);
        let mut short = j.clone();
        short.fields = json!({ "key": "ab".repeat(31) });
        assert!(short.to_tx().is_err());
        let mut extra = j;
        extra.fields = json!({ "key": "ab".repeat(32), "other": 1 });
        assert!(extra.to_tx().is_err());
    }
}
