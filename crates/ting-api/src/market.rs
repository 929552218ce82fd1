//! JSON forms of the market's transaction kinds (holds and offers), both
//! directions, and of holds, offers and reputations as the node shows them
//! (docs/api.md §4, §6.13–6.15).
//!
//! Parsed as strictly as the bytes decode: unknown fields are refused and
//! the records' own rules (category, area, template, evidence) are checked
//! here, so a form that parses encodes to a transaction the ledger can take.
//! Text values in templates and evidence are JSON strings when they are
//! UTF-8 and `{"hex": "…"}` otherwise; numbers are JSON integers.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value as Json};
use ting_core::limits::EVIDENCE_VALUE_BYTES_MAX;
use ting_core::market::{
    Condition, Evidence, FieldRule, Hold, HoldId, HoldTerms, Offer, OfferId, OfferTerms,
    ReleaseRule, Reputation, SignedEvidence, Template, Value,
};
use ting_core::{Amount, Signature, Timestamp, TxKind};

use crate::tx::fields;
use crate::{field_err, parse_account, parse_hash, parse_hex_array, parse_hex_bytes, FormError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    field: String,
    #[serde(default)]
    equals: Option<Json>,
    #[serde(default)]
    at_least: Option<u64>,
    #[serde(default)]
    at_most: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseJson {
    /// `"payer"`, `"evidence"` or `"arbiter"`.
    kind: String,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    template: Option<Vec<RuleJson>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldJson {
    payee: String,
    amount: u64,
    deadline: u64,
    #[serde(default = "default_grace")]
    grace_ms: u64,
    terms: String,
    category: String,
    rule: ReleaseJson,
    #[serde(default)]
    arbiter: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceJson {
    hold: String,
    observed_at: u64,
    fields: BTreeMap<String, Json>,
    signature: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseTxJson {
    hold: String,
    #[serde(default)]
    evidence: Option<EvidenceJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldOnly {
    hold: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeJson {
    hold: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideJson {
    hold: String,
    to_payee: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferJson {
    #[serde(default)]
    offer: Option<String>,
    category: String,
    #[serde(default)]
    area: String,
    price: u64,
    delivery_ms: u64,
    #[serde(default)]
    warranty_ms: u64,
    terms: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferOnly {
    offer: String,
}

fn default_grace() -> u64 {
    ting_core::limits::HOLD_GRACE_MS_DEFAULT
}

/// Parses a hold id named `field`.
pub fn parse_hold(field: &str, text: &str) -> Result<HoldId, FormError> {
    parse_hash(field, text).map(HoldId)
}

/// Parses an offer id named `field`.
pub fn parse_offer(field: &str, text: &str) -> Result<OfferId, FormError> {
    parse_hash(field, text).map(OfferId)
}

/// A text value: a JSON string, or `{"hex": "…"}` for bytes that are not UTF-8.
fn parse_text(field: &str, v: &Json) -> Result<Vec<u8>, FormError> {
    let bytes = match v {
        Json::String(s) => s.as_bytes().to_vec(),
        Json::Object(o) if o.len() == 1 && o.contains_key("hex") => {
            let hex = o["hex"]
                .as_str()
                .ok_or_else(|| field_err(field, "hex is a string"))?;
            parse_hex_bytes(field, hex, EVIDENCE_VALUE_BYTES_MAX)?
        }
        _ => return Err(field_err(field, "a string or {\"hex\": \"...\"}")),
    };
    if bytes.len() > EVIDENCE_VALUE_BYTES_MAX {
        return Err(field_err(field, "at most 32 bytes"));
    }
    Ok(bytes)
}

fn text_json(bytes: &[u8]) -> Json {
    match std::str::from_utf8(bytes) {
        Ok(s) => json!(s),
        Err(_) => json!({ "hex": hex::encode(bytes) }),
    }
}

fn parse_rule(i: usize, r: &RuleJson) -> Result<FieldRule, FormError> {
    let at = format!("rule.template[{i}]");
    let condition = match (&r.equals, r.at_least, r.at_most) {
        (Some(v), None, None) => Condition::Equals(parse_text(&format!("{at}.equals"), v)?),
        (None, Some(n), None) => Condition::AtLeast(n),
        (None, None, Some(n)) => Condition::AtMost(n),
        _ => {
            return Err(field_err(
                &at,
                "give exactly one of equals, at_least or at_most",
            ))
        }
    };
    Ok(FieldRule {
        name: r.field.clone(),
        condition,
    })
}

fn parse_release_rule(r: &ReleaseJson) -> Result<ReleaseRule, FormError> {
    let extra = |what: &str| field_err(&format!("rule.{what}"), "only an evidence rule has one");
    match r.kind.as_str() {
        "evidence" => {
            let device = r
                .device
                .as_deref()
                .ok_or_else(|| field_err("rule.device", "an evidence rule names its device"))?;
            let rules = r
                .template
                .as_ref()
                .ok_or_else(|| field_err("rule.template", "an evidence rule has a template"))?;
            Ok(ReleaseRule::Evidence {
                device: parse_account("rule.device", device)?,
                template: Template {
                    rules: rules
                        .iter()
                        .enumerate()
                        .map(|(i, r)| parse_rule(i, r))
                        .collect::<Result<_, _>>()?,
                },
            })
        }
        "payer" | "arbiter" if r.device.is_some() => Err(extra("device")),
        "payer" | "arbiter" if r.template.is_some() => Err(extra("template")),
        "payer" => Ok(ReleaseRule::Payer),
        "arbiter" => Ok(ReleaseRule::Arbiter),
        other => Err(field_err(
            "rule.kind",
            format!("{other:?}; use \"payer\", \"evidence\" or \"arbiter\""),
        )),
    }
}

fn parse_hold_terms(v: &Json) -> Result<HoldTerms, FormError> {
    let f: HoldJson = fields("hold_create", v)?;
    let terms = HoldTerms {
        payee: parse_account("payee", &f.payee)?,
        amount: Amount::new(f.amount),
        deadline: Timestamp(f.deadline),
        grace_ms: f.grace_ms,
        terms: parse_hash("terms", &f.terms)?,
        category: f.category,
        rule: parse_release_rule(&f.rule)?,
        arbiter: f
            .arbiter
            .as_deref()
            .map(|a| parse_account("arbiter", a))
            .transpose()?,
    };
    terms
        .check()
        .map_err(|e| FormError::new("invalid_hold", e.0))?;
    Ok(terms)
}

/// Evidence in JSON: `{hold, observed_at, fields: {name: value}, signature}`.
pub fn parse_evidence(v: &Json) -> Result<SignedEvidence, FormError> {
    evidence_from(&fields::<EvidenceJson>("evidence", v)?)
}

fn evidence_from(e: &EvidenceJson) -> Result<SignedEvidence, FormError> {
    let mut fields = Vec::with_capacity(e.fields.len());
    for (name, v) in &e.fields {
        let at = format!("evidence.fields.{name}");
        let value = match v {
            Json::Number(n) => Value::Number(
                n.as_u64()
                    .ok_or_else(|| field_err(&at, "a whole number from 0 to 2^64 - 1"))?,
            ),
            other => Value::Text(parse_text(&at, other)?),
        };
        fields.push((name.clone(), value));
    }
    let evidence = Evidence {
        hold: parse_hold("evidence.hold", &e.hold)?,
        observed_at: Timestamp(e.observed_at),
        fields,
    };
    evidence
        .check()
        .map_err(|err| FormError::new("invalid_evidence", err.0))?;
    Ok(SignedEvidence {
        evidence,
        signature: Signature(parse_hex_array("evidence.signature", &e.signature)?),
    })
}

/// Signed evidence in JSON, the shape `hold_release` takes.
pub fn evidence_json(e: &SignedEvidence) -> Json {
    let fields: serde_json::Map<String, Json> = e
        .evidence
        .fields
        .iter()
        .map(|(name, v)| {
            let value = match v {
                Value::Text(t) => text_json(t),
                Value::Number(n) => json!(n),
            };
            (name.clone(), value)
        })
        .collect();
    json!({
        "hold": e.evidence.hold.to_hex(),
        "observed_at": e.evidence.observed_at.0,
        "fields": fields,
        "signature": e.signature.to_hex(),
    })
}

fn parse_offer_terms(f: &OfferJson) -> Result<OfferTerms, FormError> {
    let terms = OfferTerms {
        category: f.category.clone(),
        area: f.area.clone(),
        price: Amount::new(f.price),
        delivery_ms: f.delivery_ms,
        warranty_ms: f.warranty_ms,
        terms: parse_hash("terms", &f.terms)?,
    };
    terms
        .check()
        .map_err(|e| FormError::new("invalid_offer", e.0))?;
    Ok(terms)
}

fn parse_offer_kind(kind: &str, v: &Json) -> Result<TxKind, FormError> {
    let f: OfferJson = fields(kind, v)?;
    let terms = parse_offer_terms(&f)?;
    match (kind, &f.offer) {
        ("offer_open", None) => Ok(TxKind::OfferOpen { terms }),
        ("offer_open", Some(_)) => Err(field_err("offer", "an offer_open makes a new offer")),
        (_, Some(offer)) => Ok(TxKind::OfferUpdate {
            offer: parse_offer("offer", offer)?,
            terms,
        }),
        (_, None) => Err(field_err("offer", "an offer_update names its offer")),
    }
}

/// The market kind named `kind` from its JSON fields; `None` if `kind` is not a market kind.
pub fn kind_from_json(kind: &str, v: &Json) -> Option<Result<TxKind, FormError>> {
    let hold_only =
        |v: &Json| fields::<HoldOnly>(kind, v).and_then(|f| parse_hold("hold", &f.hold));
    let parsed = match kind {
        "hold_create" => parse_hold_terms(v).map(|terms| TxKind::HoldCreate { terms }),
        "hold_accept" => hold_only(v).map(|hold| TxKind::HoldAccept { hold }),
        "hold_refund" => hold_only(v).map(|hold| TxKind::HoldRefund { hold }),
        "hold_release" => fields::<ReleaseTxJson>(kind, v).and_then(|f| {
            Ok(TxKind::HoldRelease {
                hold: parse_hold("hold", &f.hold)?,
                evidence: f.evidence.map(|e| evidence_from(&e)).transpose()?,
            })
        }),
        "hold_dispute" => fields::<DisputeJson>(kind, v).and_then(|f| {
            Ok(TxKind::HoldDispute {
                hold: parse_hold("hold", &f.hold)?,
                reason: parse_hash("reason", &f.reason)?,
            })
        }),
        "hold_decide" => fields::<DecideJson>(kind, v).and_then(|f| {
            Ok(TxKind::HoldDecide {
                hold: parse_hold("hold", &f.hold)?,
                to_payee: Amount::new(f.to_payee),
            })
        }),
        "offer_open" | "offer_update" => parse_offer_kind(kind, v),
        "offer_close" => fields::<OfferOnly>(kind, v).and_then(|f| {
            Ok(TxKind::OfferClose {
                offer: parse_offer("offer", &f.offer)?,
            })
        }),
        _ => return None,
    };
    Some(parsed)
}

fn template_json(t: &Template) -> Json {
    t.rules
        .iter()
        .map(|r| match &r.condition {
            Condition::Equals(v) => json!({ "field": r.name, "equals": text_json(v) }),
            Condition::AtLeast(n) => json!({ "field": r.name, "at_least": n }),
            Condition::AtMost(n) => json!({ "field": r.name, "at_most": n }),
        })
        .collect()
}

/// How a hold is released, in JSON (a hold's terms and a call name it).
pub fn release_rule_json(rule: &ReleaseRule) -> Json {
    match rule {
        ReleaseRule::Payer => json!({ "kind": "payer" }),
        ReleaseRule::Arbiter => json!({ "kind": "arbiter" }),
        ReleaseRule::Evidence { device, template } => json!({
            "kind": "evidence",
            "device": device.to_did(),
            "template": template_json(template),
        }),
    }
}

/// A signed call for proposals as the node saw it on the broker
/// (docs/wire.md §17.7), named by its hash.
pub fn call_json(c: &ting_core::market::cfp::SignedCall) -> Json {
    let call = &c.call;
    json!({
        "call": c.hash().to_hex(),
        "buyer": call.buyer.to_did(),
        "id": call.id,
        "category": call.category,
        "area": call.area,
        "spec": call.spec,
        "max_price": call.max_price.base_units(),
        "issued_at_ms": call.issued_at.0,
        "answer_by_ms": call.answer_by.0,
        "deliver_by_ms": call.deliver_by.0,
        "grace_ms": call.grace_ms,
        "rounds": call.rounds,
        "rule": release_rule_json(&call.rule),
        "arbiter": call.arbiter.map(|a| a.to_did()),
    })
}

/// A hold's terms in JSON, the shape `hold_create` takes.
pub fn hold_terms_json(t: &HoldTerms) -> Json {
    let rule = release_rule_json(&t.rule);
    let mut v = json!({
        "payee": t.payee.to_did(),
        "amount": t.amount.base_units(),
        "deadline": t.deadline.0,
        "grace_ms": t.grace_ms,
        "terms": t.terms.to_hex(),
        "category": t.category,
        "rule": rule,
    });
    if let Some(a) = &t.arbiter {
        v["arbiter"] = json!(a.to_did());
    }
    v
}

/// An offer's terms in JSON, the shape `offer_open` takes.
pub fn offer_terms_json(t: &OfferTerms) -> Json {
    json!({
        "category": t.category,
        "area": t.area,
        "price": t.price.base_units(),
        "delivery_ms": t.delivery_ms,
        "warranty_ms": t.warranty_ms,
        "terms": t.terms.to_hex(),
    })
}

/// The JSON fields of a market kind; `None` for other kinds.
pub fn kind_to_json(kind: &TxKind) -> Option<Json> {
    Some(match kind {
        TxKind::HoldCreate { terms } => hold_terms_json(terms),
        TxKind::HoldAccept { hold } | TxKind::HoldRefund { hold } => {
            json!({ "hold": hold.to_hex() })
        }
        TxKind::HoldRelease { hold, evidence } => {
            let mut v = json!({ "hold": hold.to_hex() });
            if let Some(e) = evidence {
                v["evidence"] = evidence_json(e);
            }
            v
        }
        TxKind::HoldDispute { hold, reason } => {
            json!({ "hold": hold.to_hex(), "reason": reason.to_hex() })
        }
        TxKind::HoldDecide { hold, to_payee } => {
            json!({ "hold": hold.to_hex(), "to_payee": to_payee.base_units() })
        }
        TxKind::OfferOpen { terms } => offer_terms_json(terms),
        TxKind::OfferUpdate { offer, terms } => {
            let mut v = offer_terms_json(terms);
            v["offer"] = json!(offer.to_hex());
            v
        }
        TxKind::OfferClose { offer } => json!({ "offer": offer.to_hex() }),
        _ => return None,
    })
}

/// An open hold as the API shows it.
pub fn hold_json(id: &HoldId, h: &Hold) -> Json {
    json!({
        "hold": id.to_hex(),
        "payer": h.payer.to_did(),
        "deposit": h.deposit.base_units(),
        "created_at_ms": h.created_at.0,
        "phase": h.phase.name(),
        "counts_for_reputation": h.unrelated,
        "terms": hold_terms_json(&h.terms),
    })
}

/// A listed offer as the API shows it, with its provider's reputation in
/// the offer's category when one is given.
pub fn offer_json(id: &OfferId, o: &Offer, reputation: Option<&Reputation>) -> Json {
    json!({
        "offer": id.to_hex(),
        "provider": o.provider.to_did(),
        "deposit": o.deposit.base_units(),
        "opened_at_ms": o.opened_at.0,
        "terms": offer_terms_json(&o.terms),
        "reputation": reputation.map(reputation_json),
    })
}

/// A reputation record as the API shows it: the tallies, the distinct
/// buyers and the scores derived from them.
pub fn reputation_json(r: &Reputation) -> Json {
    let tally = |t: &ting_core::market::reputation::Tally| json!({ "count": t.count, "value": t.value.base_units() });
    json!({
        "provider": r.provider.to_did(),
        "category": r.category,
        "released": tally(&r.released),
        "late": tally(&r.late),
        "withdrawn": tally(&r.withdrawn),
        "lost": tally(&r.lost),
        "distinct_buyers": r.buyers.len(),
        "last_at_ms": r.last_at.0,
        "success_ppm": r.success_ppm(),
        "score_ppm": r.score_ppm(),
    })
}
