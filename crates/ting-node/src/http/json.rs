//! JSON forms of transactions, block headers and receipts.
//!
//! Used by the API and by the CLI (which builds, prints and checks the same
//! shapes). Parsing is strict: unknown fields are refused, every id, hash
//! and signature must have its exact length, and limits are checked here
//! before anything is encoded. docs/api.md shows each shape.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use ting_core::encoding::Reader;
use ting_core::limits::{MEMO_BYTES_MAX, METADATA_BYTES_MAX};
use ting_core::merkle::MerkleProof;
use ting_core::{
    AccountId, Amount, BlockHeader, Hash32, MessagingKey, NetworkId, Nonce, Receipt, Signature,
    SignedTx, TxBody, TxKind,
};

use super::error::ApiError;

pub mod channel;

pub(crate) fn field_err(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_field", format!("{field}: {why}"))
}

/// Parses an account id (did:key or hex) named `field`.
pub fn parse_account(field: &str, text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text).map_err(|e| ApiError::bad_request(e.code(), format!("{field}: {e}")))
}

/// Parses exactly `N` bytes of hex named `field`.
pub fn parse_hex_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N], ApiError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text.trim(), &mut out)
        .map_err(|_| field_err(field, format!("must be {N} bytes as {} hex digits", 2 * N)))?;
    Ok(out)
}

fn parse_hex_bytes(field: &str, text: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    let bytes = hex::decode(text.trim()).map_err(|_| field_err(field, "must be hex"))?;
    if bytes.len() > max {
        return Err(ApiError::bad_request(
            "too_long",
            format!("{field} is {} bytes; the limit is {max}", bytes.len()),
        ));
    }
    Ok(bytes)
}

pub fn parse_hash(field: &str, text: &str) -> Result<Hash32, ApiError> {
    parse_hex_array::<32>(field, text).map(Hash32)
}

/// A transaction in JSON: the envelope, and the kind's fields under `fields`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxJson {
    #[serde(default)]
    pub version: Option<u8>,
    pub network: u32,
    pub sender: String,
    pub nonce: u64,
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

pub(crate) fn fields<T: serde::de::DeserializeOwned>(kind: &str, v: &Value) -> Result<T, ApiError> {
    serde_json::from_value(v.clone()).map_err(|e| field_err(&format!("fields of {kind}"), e))
}

fn kind_from_json(kind: &str, v: &Value) -> Result<TxKind, ApiError> {
    if let Some(parsed) = channel::kind_from_json(kind, v) {
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
        "register_device" => {
            let f: Registration = fields(kind, v)?;
            let metadata = match f.metadata_hex {
                Some(m) => parse_hex_bytes("metadata_hex", &m, METADATA_BYTES_MAX)?,
                None => Vec::new(),
            };
            TxKind::RegisterDevice {
                device: parse_account("device", &f.device)?,
                metadata,
                device_signature: Signature(parse_hex_array(
                    "device_signature",
                    &f.device_signature,
                )?),
            }
        }
        "set_spend_limit" => {
            let f: Limit = fields(kind, v)?;
            TxKind::SetSpendLimit {
                device: parse_account("device", &f.device)?,
                per_day: f.per_day.map(Amount::new),
            }
        }
        "freeze" | "unfreeze" => {
            let f: DeviceOnly = fields(kind, v)?;
            let device = parse_account("device", &f.device)?;
            if kind == "freeze" {
                TxKind::Freeze { device }
            } else {
                TxKind::Unfreeze { device }
            }
        }
        "sweep" => {
            let f: DeviceAmount = fields(kind, v)?;
            TxKind::Sweep {
                device: parse_account("device", &f.device)?,
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
            return Err(ApiError::bad_request(
                "unknown_kind",
                format!("unknown transaction kind {other:?}"),
            ))
        }
    })
}

impl TxJson {
    /// The signed transaction this JSON describes (its signature is checked later).
    pub fn to_tx(&self) -> Result<SignedTx, ApiError> {
        if let Some(v) = self.version {
            if v != ting_core::tx::TX_VERSION {
                return Err(ApiError::bad_request(
                    "unsupported_version",
                    format!("transaction version {v}"),
                ));
            }
        }
        let body = TxBody {
            network: NetworkId(self.network),
            sender: parse_account("sender", &self.sender)?,
            nonce: Nonce(self.nonce),
            kind: kind_from_json(&self.kind, &self.fields)?,
        };
        let signature = Signature(parse_hex_array("signature", &self.signature)?);
        Ok(SignedTx::from_parts(body, signature))
    }

    pub fn from_tx(tx: &SignedTx) -> TxJson {
        TxJson {
            version: Some(ting_core::tx::TX_VERSION),
            network: tx.network().0,
            sender: tx.sender().to_did(),
            nonce: tx.nonce().0,
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
            channel::kind_to_json(kind).expect("channel kinds have a channel JSON form")
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
    pub fn to_tx(&self) -> Result<SignedTx, ApiError> {
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
            _ => Err(ApiError::bad_request(
                "invalid_field",
                "give the transaction as exactly one of `hex`, `base64` or `json`",
            )),
        }
    }
}

/// Decodes the canonical binary form, mapping its errors to API codes.
pub fn decode_tx(bytes: &[u8]) -> Result<SignedTx, ApiError> {
    SignedTx::decode(bytes)
        .map_err(|e| ApiError::bad_request(e.code(), format!("transaction: {e}")))
}

/// A block header in JSON, with its exact bytes for offline checks.
pub fn header_json(h: &BlockHeader) -> Value {
    json!({
        "network": h.network.0,
        "height": h.height.0,
        "prev_hash": h.prev_hash.to_hex(),
        "timestamp_ms": h.timestamp.0,
        "tx_root": h.tx_root.to_hex(),
        "tx_count": h.tx_count,
        "sequencer": h.sequencer.to_did(),
        "signature": h.signature.to_hex(),
        "hash": h.hash().to_hex(),
        "hex": hex::encode(h.to_bytes()),
    })
}

/// A receipt in JSON: where the transaction is and the proof of it.
pub fn receipt_json(r: &Receipt) -> Value {
    json!({
        "tx_hash": r.tx_hash.to_hex(),
        "status": "committed",
        "height": r.header.height.0,
        "index": r.proof.index,
        "block_hash": r.header.hash().to_hex(),
        "proof": {
            "index": r.proof.index,
            "count": r.proof.count,
            "siblings": r.proof.siblings.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
        },
        "header": header_json(&r.header),
    })
}

/// Reads a receipt back from its JSON form; the header comes from its exact bytes.
pub fn receipt_from_json(v: &Value) -> Result<Receipt, String> {
    let text = |v: &Value, name: &str| -> Result<String, String> {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("receipt has no string field `{name}`"))
    };
    let number = |v: &Value, name: &str| -> Result<u32, String> {
        v.get(name)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("receipt has no 32-bit number `{name}`"))
    };
    let hash =
        |s: &str| Hash32::from_hex(s).ok_or_else(|| format!("{s:?} is not a 32-byte hex hash"));
    let header = v.get("header").ok_or("receipt has no `header`")?;
    let header_bytes = hex::decode(text(header, "hex")?).map_err(|_| "header.hex is not hex")?;
    let mut r = Reader::new(&header_bytes);
    let decoded = BlockHeader::decode(&mut r).map_err(|e| format!("header.hex: {e}"))?;
    r.finish("block header")
        .map_err(|e| format!("header.hex: {e}"))?;
    let proof = v.get("proof").ok_or("receipt has no `proof`")?;
    let siblings = proof
        .get("siblings")
        .and_then(Value::as_array)
        .ok_or("proof has no `siblings` list")?
        .iter()
        .map(|s| {
            s.as_str()
                .ok_or_else(|| "a sibling is not a string".to_owned())
                .and_then(hash)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Receipt {
        tx_hash: hash(&text(v, "tx_hash")?)?,
        proof: MerkleProof {
            index: number(proof, "index")?,
            count: number(proof, "count")?,
            siblings,
        },
        header: decoded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::Keypair;

    #[test]
    fn a_messaging_key_round_trips_through_json_and_a_short_key_is_refused() {
        let key = Keypair::from_seed([1; 32]);
        let tx = TxBody {
            network: NetworkId(1),
            sender: key.account(),
            nonce: Nonce(0),
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
