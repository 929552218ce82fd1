//! JSON forms of the five channel transaction kinds, both directions.
//!
//! Kept apart from the older kinds in `tx.rs` because channels bring their
//! own nested shapes (a mode, a proof, a chain segment). Parsing is as strict
//! as for every other kind: unknown fields are refused, hashes and signatures
//! must have their exact length, and a field that does not belong to the
//! chosen mode or proof kind is an error rather than silently ignored.

use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::channel::{ChainSegment, ChannelId, ChannelMode, ChannelProof};
use ting_core::{Amount, Signature, Timestamp, TxKind};

use crate::tx::fields;
use crate::{field_err, parse_account, parse_hash, parse_hex_array, FormError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Open {
    payee: String,
    deposit: u64,
    expires_at_ms: u64,
    mode: String,
    #[serde(default)]
    anchor: Option<String>,
    #[serde(default)]
    chain_len: Option<u32>,
    #[serde(default)]
    price: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofJson {
    kind: String,
    #[serde(default)]
    index: Option<u64>,
    #[serde(default)]
    preimage: Option<String>,
    #[serde(default)]
    amount: Option<u64>,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentJson {
    anchor: String,
    chain_len: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claim {
    channel: String,
    proof: ProofJson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopUp {
    channel: String,
    amount: u64,
    expires_at_ms: u64,
    #[serde(default)]
    extension: Option<SegmentJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Close {
    channel: String,
    #[serde(default)]
    proof: Option<ProofJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reclaim {
    channel: String,
}

/// Parses a channel id given as 64 hex digits.
pub fn parse_channel(field: &str, text: &str) -> Result<ChannelId, FormError> {
    parse_hash(field, text).map(ChannelId)
}

fn required<T>(field: &str, value: Option<T>, why: &str) -> Result<T, FormError> {
    value.ok_or_else(|| field_err(field, why))
}

fn parse_mode(f: &Open) -> Result<ChannelMode, FormError> {
    match f.mode.as_str() {
        "hash_chain" => {
            let why = "a hash_chain channel needs it";
            let anchor = required("anchor", f.anchor.as_deref(), why)?;
            Ok(ChannelMode::HashChain {
                chain: ChainSegment {
                    anchor: parse_hash("anchor", anchor)?,
                    len: required("chain_len", f.chain_len, why)?,
                },
                price: Amount::new(required("price", f.price, why)?),
            })
        }
        "voucher" => {
            if f.anchor.is_some() || f.chain_len.is_some() || f.price.is_some() {
                return Err(field_err(
                    "mode",
                    "a voucher channel has no anchor, chain_len or price",
                ));
            }
            Ok(ChannelMode::Voucher)
        }
        other => Err(FormError::new(
            "unknown_channel_mode",
            format!("channel mode {other:?}; use \"hash_chain\" or \"voucher\""),
        )),
    }
}

fn parse_proof(p: &ProofJson) -> Result<ChannelProof, FormError> {
    match p.kind.as_str() {
        "tick" => {
            if p.amount.is_some() || p.signature.is_some() {
                return Err(field_err("proof", "a tick has no amount or signature"));
            }
            let why = "a tick proof needs it";
            Ok(ChannelProof::Tick {
                index: required("proof.index", p.index, why)?,
                preimage: parse_hash(
                    "proof.preimage",
                    required("proof.preimage", p.preimage.as_deref(), why)?,
                )?,
            })
        }
        "voucher" => {
            if p.index.is_some() || p.preimage.is_some() {
                return Err(field_err("proof", "a voucher has no index or preimage"));
            }
            let why = "a voucher proof needs it";
            let signature = required("proof.signature", p.signature.as_deref(), why)?;
            Ok(ChannelProof::Voucher {
                amount: Amount::new(required("proof.amount", p.amount, why)?),
                signature: Signature(parse_hex_array("proof.signature", signature)?),
            })
        }
        other => Err(FormError::new(
            "unknown_proof_kind",
            format!("proof kind {other:?}; use \"tick\" or \"voucher\""),
        )),
    }
}

fn parse_segment(s: &SegmentJson) -> Result<ChainSegment, FormError> {
    Ok(ChainSegment {
        anchor: parse_hash("extension.anchor", &s.anchor)?,
        len: s.chain_len,
    })
}

/// The channel kind named `kind` from its JSON fields; `None` if `kind` is not a channel kind.
pub fn kind_from_json(kind: &str, v: &Value) -> Option<Result<TxKind, FormError>> {
    let parsed = match kind {
        "channel_open" => open_from_json(v),
        "channel_claim" => fields::<Claim>(kind, v).and_then(|f| {
            Ok(TxKind::ChannelClaim {
                channel: parse_channel("channel", &f.channel)?,
                proof: parse_proof(&f.proof)?,
            })
        }),
        "channel_top_up" => fields::<TopUp>(kind, v).and_then(|f| {
            Ok(TxKind::ChannelTopUp {
                channel: parse_channel("channel", &f.channel)?,
                amount: Amount::new(f.amount),
                expires_at: Timestamp(f.expires_at_ms),
                extension: f.extension.as_ref().map(parse_segment).transpose()?,
            })
        }),
        "channel_close" => fields::<Close>(kind, v).and_then(|f| {
            Ok(TxKind::ChannelClose {
                channel: parse_channel("channel", &f.channel)?,
                proof: f.proof.as_ref().map(parse_proof).transpose()?,
            })
        }),
        "channel_reclaim" => fields::<Reclaim>(kind, v).and_then(|f| {
            Ok(TxKind::ChannelReclaim {
                channel: parse_channel("channel", &f.channel)?,
            })
        }),
        _ => return None,
    };
    Some(parsed)
}

fn open_from_json(v: &Value) -> Result<TxKind, FormError> {
    let f: Open = fields("channel_open", v)?;
    Ok(TxKind::ChannelOpen {
        payee: parse_account("payee", &f.payee)?,
        deposit: Amount::new(f.deposit),
        expires_at: Timestamp(f.expires_at_ms),
        mode: parse_mode(&f)?,
    })
}

/// A proof in JSON: `{kind: "tick", index, preimage}` or `{kind: "voucher", amount, signature}`.
pub fn proof_json(p: &ChannelProof) -> Value {
    match p {
        ChannelProof::Tick { index, preimage } => {
            json!({ "kind": "tick", "index": index, "preimage": preimage.to_hex() })
        }
        ChannelProof::Voucher { amount, signature } => json!({
            "kind": "voucher",
            "amount": amount.base_units(),
            "signature": signature.to_hex(),
        }),
    }
}

/// A chain segment in JSON: `{anchor, chain_len}`.
pub fn segment_json(s: &ChainSegment) -> Value {
    json!({ "anchor": s.anchor.to_hex(), "chain_len": s.len })
}

fn open_json(
    payee: &ting_core::AccountId,
    deposit: Amount,
    at: Timestamp,
    mode: &ChannelMode,
) -> Value {
    let mut v = json!({
        "payee": payee.to_did(),
        "deposit": deposit.base_units(),
        "expires_at_ms": at.0,
        "mode": mode.name(),
    });
    if let ChannelMode::HashChain { chain, price } = mode {
        v["anchor"] = json!(chain.anchor.to_hex());
        v["chain_len"] = json!(chain.len);
        v["price"] = json!(price.base_units());
    }
    v
}

/// The JSON fields of a channel kind; `None` for other kinds.
pub fn kind_to_json(kind: &TxKind) -> Option<Value> {
    Some(match kind {
        TxKind::ChannelOpen {
            payee,
            deposit,
            expires_at,
            mode,
        } => open_json(payee, *deposit, *expires_at, mode),
        TxKind::ChannelClaim { channel, proof } => {
            json!({ "channel": channel.to_hex(), "proof": proof_json(proof) })
        }
        TxKind::ChannelTopUp {
            channel,
            amount,
            expires_at,
            extension,
        } => json!({
            "channel": channel.to_hex(),
            "amount": amount.base_units(),
            "expires_at_ms": expires_at.0,
            "extension": extension.as_ref().map(segment_json),
        }),
        TxKind::ChannelClose { channel, proof } => json!({
            "channel": channel.to_hex(),
            "proof": proof.as_ref().map(proof_json),
        }),
        TxKind::ChannelReclaim { channel } => json!({ "channel": channel.to_hex() }),
        _ => return None,
    })
}
