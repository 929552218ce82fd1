//! JSON forms of the four stream transaction kinds, both directions, and of
//! an open stream's record as the node shows it (docs/api.md §4, §6.11).
//!
//! Terms are parsed as strictly as the bytes decode: unknown fields are
//! refused, and the terms' own rules (names, units, area, price, epoch) are
//! checked here, so a form that parses encodes to a transaction the ledger
//! can take.

use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::stream::{
    Delivery, DeliveryAck, EpochRule, FieldKind, FieldSpec, Stream, StreamId, StreamTerms,
};
use ting_core::{Amount, Signature, TxKind};

use crate::tx::fields;
use crate::{field_err, parse_account, parse_hash, parse_hex_array, FormError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldJson {
    name: String,
    #[serde(default)]
    unit: String,
    /// `"number"` or `"location"`.
    kind: String,
    #[serde(default)]
    decimals: Option<u8>,
}

/// A stream's terms in JSON, as `stream_open` takes them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TermsJson {
    fields: Vec<FieldJson>,
    price_per_epoch: u64,
    #[serde(default)]
    epoch_points: Option<u32>,
    #[serde(default)]
    epoch_ms: Option<u64>,
    area: String,
    consent: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentJson {
    stream: String,
    consent: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryJson {
    stream: String,
    buyer: String,
    epochs: u64,
    paid: u64,
    buyer_signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamOnly {
    stream: String,
}

/// Parses a stream id named `field`.
pub fn parse_stream(field: &str, text: &str) -> Result<StreamId, FormError> {
    parse_hash(field, text).map(StreamId)
}

fn parse_field(i: usize, f: &FieldJson) -> Result<FieldSpec, FormError> {
    let kind = match (f.kind.as_str(), f.decimals) {
        ("number", decimals) => FieldKind::Number {
            decimals: decimals.unwrap_or(0),
        },
        ("location", None) => FieldKind::Location,
        ("location", Some(_)) => {
            return Err(field_err(
                &format!("fields[{i}].decimals"),
                "a location field has no decimals",
            ))
        }
        (other, _) => {
            return Err(field_err(
                &format!("fields[{i}].kind"),
                format!("{other:?}; use \"number\" or \"location\""),
            ))
        }
    };
    Ok(FieldSpec {
        name: f.name.clone(),
        unit: f.unit.clone(),
        kind,
    })
}

fn parse_terms(v: &Value) -> Result<StreamTerms, FormError> {
    let f: TermsJson = fields("stream_open", v)?;
    let epoch = match (f.epoch_points, f.epoch_ms) {
        (Some(n), None) => EpochRule::Points(n),
        (None, Some(ms)) => EpochRule::Time(ms),
        _ => {
            return Err(field_err(
                "epoch_points",
                "give exactly one of epoch_points or epoch_ms",
            ))
        }
    };
    let terms = StreamTerms {
        fields: f
            .fields
            .iter()
            .enumerate()
            .map(|(i, field)| parse_field(i, field))
            .collect::<Result<_, _>>()?,
        price_per_epoch: Amount::new(f.price_per_epoch),
        epoch,
        area: f.area,
        consent: parse_hash("consent", &f.consent)?,
    };
    terms
        .check()
        .map_err(|e| FormError::new("invalid_terms", e.0))?;
    Ok(terms)
}

/// The stream kind named `kind` from its JSON fields; `None` if `kind` is not a stream kind.
pub fn kind_from_json(kind: &str, v: &Value) -> Option<Result<TxKind, FormError>> {
    let parsed = match kind {
        "stream_open" => parse_terms(v).map(|terms| TxKind::StreamOpen { terms }),
        "stream_consent" => fields::<ConsentJson>(kind, v).and_then(|f| {
            Ok(TxKind::StreamConsent {
                stream: parse_stream("stream", &f.stream)?,
                consent: parse_hash("consent", &f.consent)?,
            })
        }),
        "stream_delivery" => fields::<DeliveryJson>(kind, v).and_then(|f| {
            Ok(TxKind::StreamDelivery {
                stream: parse_stream("stream", &f.stream)?,
                ack: DeliveryAck {
                    delivery: Delivery {
                        buyer: parse_account("buyer", &f.buyer)?,
                        epochs: f.epochs,
                        paid: Amount::new(f.paid),
                    },
                    signature: Signature(parse_hex_array("buyer_signature", &f.buyer_signature)?),
                },
            })
        }),
        "stream_close" => fields::<StreamOnly>(kind, v).and_then(|f| {
            Ok(TxKind::StreamClose {
                stream: parse_stream("stream", &f.stream)?,
            })
        }),
        _ => return None,
    };
    Some(parsed)
}

/// A field of a schema in JSON: `{name, unit, kind, decimals?}`.
fn field_json(f: &FieldSpec) -> Value {
    match f.kind {
        FieldKind::Number { decimals } => json!({
            "name": f.name, "unit": f.unit, "kind": "number", "decimals": decimals,
        }),
        FieldKind::Location => json!({ "name": f.name, "unit": f.unit, "kind": "location" }),
    }
}

/// Terms in JSON, the shape `stream_open` takes.
pub fn terms_json(t: &StreamTerms) -> Value {
    let mut v = json!({
        "fields": t.fields.iter().map(field_json).collect::<Vec<_>>(),
        "price_per_epoch": t.price_per_epoch.base_units(),
        "area": t.area,
        "consent": t.consent.to_hex(),
    });
    match t.epoch {
        EpochRule::Points(n) => v["epoch_points"] = json!(n),
        EpochRule::Time(ms) => v["epoch_ms"] = json!(ms),
    }
    v
}

/// The JSON fields of a stream kind; `None` for other kinds.
pub fn kind_to_json(kind: &TxKind) -> Option<Value> {
    Some(match kind {
        TxKind::StreamOpen { terms } => terms_json(terms),
        TxKind::StreamConsent { stream, consent } => {
            json!({ "stream": stream.to_hex(), "consent": consent.to_hex() })
        }
        TxKind::StreamDelivery { stream, ack } => json!({
            "stream": stream.to_hex(),
            "buyer": ack.delivery.buyer.to_did(),
            "epochs": ack.delivery.epochs,
            "paid": ack.delivery.paid.base_units(),
            "buyer_signature": ack.signature.to_hex(),
        }),
        TxKind::StreamClose { stream } => json!({ "stream": stream.to_hex() }),
        _ => return None,
    })
}

/// An open stream as the API shows it: its terms, its parties and its
/// delivery record (per buyer, and totals).
pub fn stream_json(id: &StreamId, s: &Stream) -> Value {
    let (epochs, paid) = s.delivered();
    json!({
        "stream": id.to_hex(),
        "seller": s.seller.to_did(),
        "owner": s.owner.to_did(),
        "deposit": s.deposit.base_units(),
        "opened_at_ms": s.opened_at.0,
        "terms": terms_json(&s.terms),
        "delivered": {
            "epochs": epochs,
            "paid": paid.base_units(),
            "buyers": s.buyers.iter().map(|d| json!({
                "buyer": d.buyer.to_did(),
                "epochs": d.epochs,
                "paid": d.paid.base_units(),
            })).collect::<Vec<_>>(),
        },
    })
}
