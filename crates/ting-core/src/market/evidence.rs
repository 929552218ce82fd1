//! Evidence that a service was delivered, and the template a hold names
//! for it.
//!
//! A device (the purifier's own sensor) signs what it observed as named
//! fields, bound to one hold: `{event: "cartridge_installed", serial:
//! "X-2231", flow_ml_min: 812}`. The hold's template says what the fields
//! must show: `event = "cartridge_installed"`, `flow_ml_min ≥ 500`. Only
//! the key the hold names can sign evidence for it, evidence names the
//! hold so it releases no other, and a hold ends when it is released, so
//! evidence is never used twice.
//!
//! Bytes (little-endian). Template: `rule count u8 | rules`, a rule being
//! `name (u8 len) | tag u8 (1 equals: value (u8 len); 2 at least: u64;
//! 3 at most: u64)`. Evidence: `hold [32] | observed_at u64 | field count
//! u8 | fields`, a field being `name (u8 len) | tag u8 (1 text: value (u8
//! len); 2 number: u64)`, names strictly increasing. The device signs
//! `EVIDENCE_DOMAIN || genesis [32] || evidence bytes`.

use crate::prelude::*;

use super::HoldId;
use crate::account::AccountId;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
pub use crate::limits::{
    EVIDENCE_FIELDS_MAX, EVIDENCE_VALUE_BYTES_MAX, FIELD_NAME_BYTES_MAX, TEMPLATE_RULES_MAX,
};
use crate::types::Timestamp;

/// Prefix of the message a device signs over its evidence.
pub const EVIDENCE_DOMAIN: &[u8] = b"ting:hold-evidence:v1";

const TAG_EQUALS: u8 = 1;
const TAG_AT_LEAST: u8 = 2;
const TAG_AT_MOST: u8 = 3;
const TAG_TEXT: u8 = 1;
const TAG_NUMBER: u8 = 2;

/// What one field of the evidence must show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// A text field with exactly these bytes.
    Equals(Vec<u8>),
    /// A number field of at least this.
    AtLeast(u64),
    /// A number field of at most this.
    AtMost(u64),
}

/// One rule of a template: the field it is about and what it must show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRule {
    pub name: String,
    pub condition: Condition,
}

/// What evidence must show to release a hold: every rule holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub rules: Vec<FieldRule>,
}

/// One observed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(Vec<u8>),
    Number(u64),
}

/// What a device observed, for one hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub hold: HoldId,
    /// When the device observed it, in its own clock (ms since the Unix epoch).
    pub observed_at: Timestamp,
    /// The fields, sorted by name, each name once.
    pub fields: Vec<(String, Value)>,
}

/// Evidence with the device's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEvidence {
    pub evidence: Evidence,
    pub signature: Signature,
}

/// Why a template or evidence breaks a rule; the text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidEvidence(pub &'static str);

impl core::fmt::Display for InvalidEvidence {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Whether `text` may name a field: 1 to 32 of `a-z`, `0-9`, `_` and `.`.
pub fn is_field_name(text: &str) -> bool {
    (1..=FIELD_NAME_BYTES_MAX).contains(&text.len())
        && text
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'.')
}

impl Template {
    /// The first rule broken, if any: 1 to 8 rules with valid names and
    /// text of at most 32 bytes.
    pub fn check(&self) -> Result<(), InvalidEvidence> {
        if self.rules.is_empty() || self.rules.len() > TEMPLATE_RULES_MAX {
            return Err(InvalidEvidence("a template has 1 to 8 rules"));
        }
        for rule in &self.rules {
            if !is_field_name(&rule.name) {
                return Err(InvalidEvidence(
                    "a field name is 1 to 32 of a-z, 0-9, _ and .",
                ));
            }
            if matches!(&rule.condition, Condition::Equals(v) if v.len() > EVIDENCE_VALUE_BYTES_MAX)
            {
                return Err(InvalidEvidence("a text value is at most 32 bytes"));
            }
        }
        Ok(())
    }

    /// Whether `evidence` shows what every rule asks; the error names the
    /// first rule it does not meet.
    pub fn matches<'a>(&'a self, evidence: &Evidence) -> Result<(), &'a str> {
        for rule in &self.rules {
            let value = evidence.field(&rule.name);
            let met = match (&rule.condition, value) {
                (Condition::Equals(want), Some(Value::Text(got))) => want == got,
                (Condition::AtLeast(min), Some(Value::Number(got))) => got >= min,
                (Condition::AtMost(max), Some(Value::Number(got))) => got <= max,
                _ => false,
            };
            if !met {
                return Err(&rule.name);
            }
        }
        Ok(())
    }

    /// Appends the template's bytes. It must have passed [`Template::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.u8(u8::try_from(self.rules.len()).expect("checked template"));
        for rule in &self.rules {
            w.bytes_u8(rule.name.as_bytes());
            match &rule.condition {
                Condition::Equals(v) => w.u8(TAG_EQUALS).bytes_u8(v),
                Condition::AtLeast(n) => w.u8(TAG_AT_LEAST).u64(*n),
                Condition::AtMost(n) => w.u8(TAG_AT_MOST).u64(*n),
            };
        }
    }

    /// Reads a template and checks its rules.
    pub fn decode(r: &mut Reader<'_>) -> Result<Template, DecodeError> {
        let count = usize::from(r.u8("rule count")?);
        if count > TEMPLATE_RULES_MAX {
            return Err(DecodeError::TooLong {
                what: "template rules",
                len: count,
                max: TEMPLATE_RULES_MAX,
            });
        }
        let mut rules = Vec::with_capacity(count);
        for _ in 0..count {
            let name = text(r.bytes_u8("rule name", FIELD_NAME_BYTES_MAX)?, "rule name")?;
            let condition = match r.u8("rule condition")? {
                TAG_EQUALS => {
                    Condition::Equals(r.bytes_u8("rule value", EVIDENCE_VALUE_BYTES_MAX)?.to_vec())
                }
                TAG_AT_LEAST => Condition::AtLeast(r.u64("rule bound")?),
                TAG_AT_MOST => Condition::AtMost(r.u64("rule bound")?),
                _ => {
                    return Err(DecodeError::InvalidValue {
                        what: "rule condition",
                    })
                }
            };
            rules.push(FieldRule { name, condition });
        }
        let template = Template { rules };
        template
            .check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(template)
    }
}

impl Evidence {
    /// The value of the field named `name`.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.fields[i].1)
    }

    /// The first rule broken, if any: 1 to 8 fields, valid names in
    /// strictly increasing order, text of at most 32 bytes.
    pub fn check(&self) -> Result<(), InvalidEvidence> {
        if self.fields.is_empty() || self.fields.len() > EVIDENCE_FIELDS_MAX {
            return Err(InvalidEvidence("evidence has 1 to 8 fields"));
        }
        for (i, (name, value)) in self.fields.iter().enumerate() {
            if !is_field_name(name) {
                return Err(InvalidEvidence(
                    "a field name is 1 to 32 of a-z, 0-9, _ and .",
                ));
            }
            if i > 0 && self.fields[i.saturating_sub(1)].0 >= *name {
                return Err(InvalidEvidence(
                    "evidence fields are sorted by name, each once",
                ));
            }
            if matches!(value, Value::Text(v) if v.len() > EVIDENCE_VALUE_BYTES_MAX) {
                return Err(InvalidEvidence("a text value is at most 32 bytes"));
            }
        }
        Ok(())
    }

    /// Appends the evidence's bytes. It must have passed [`Evidence::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.hash(&self.hold.0).u64(self.observed_at.0);
        w.u8(u8::try_from(self.fields.len()).expect("checked evidence"));
        for (name, value) in &self.fields {
            w.bytes_u8(name.as_bytes());
            match value {
                Value::Text(v) => w.u8(TAG_TEXT).bytes_u8(v),
                Value::Number(n) => w.u8(TAG_NUMBER).u64(*n),
            };
        }
    }

    /// Reads evidence and checks its rules.
    pub fn decode(r: &mut Reader<'_>) -> Result<Evidence, DecodeError> {
        let hold = HoldId(r.hash("hold")?);
        let observed_at = Timestamp(r.u64("observed_at")?);
        let count = usize::from(r.u8("field count")?);
        if count > EVIDENCE_FIELDS_MAX {
            return Err(DecodeError::TooLong {
                what: "evidence fields",
                len: count,
                max: EVIDENCE_FIELDS_MAX,
            });
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let name = text(
                r.bytes_u8("field name", FIELD_NAME_BYTES_MAX)?,
                "field name",
            )?;
            let value = match r.u8("value kind")? {
                TAG_TEXT => Value::Text(r.bytes_u8("value", EVIDENCE_VALUE_BYTES_MAX)?.to_vec()),
                TAG_NUMBER => Value::Number(r.u64("value")?),
                _ => return Err(DecodeError::InvalidValue { what: "value kind" }),
            };
            fields.push((name, value));
        }
        let evidence = Evidence {
            hold,
            observed_at,
            fields,
        };
        evidence
            .check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(evidence)
    }

    /// The message the device signs.
    pub fn signing_message(&self, genesis: &Hash32) -> Vec<u8> {
        let mut w = Writer::with_capacity(EVIDENCE_DOMAIN.len().saturating_add(128));
        w.bytes(EVIDENCE_DOMAIN).hash(genesis);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// The device's signature over this evidence. It must pass [`Evidence::check`].
    pub fn sign(self, device: &Keypair, genesis: &Hash32) -> SignedEvidence {
        let signature = device.sign(&self.signing_message(genesis));
        SignedEvidence {
            evidence: self,
            signature,
        }
    }
}

impl SignedEvidence {
    /// Checks that `device` signed this evidence on the network of `genesis`.
    pub fn verify(&self, genesis: &Hash32, device: &AccountId) -> Result<(), SignatureError> {
        keys::verify(
            device,
            &self.evidence.signing_message(genesis),
            &self.signature,
        )
    }

    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        self.evidence.encode(w);
        w.signature(&self.signature);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<SignedEvidence, DecodeError> {
        Ok(SignedEvidence {
            evidence: Evidence::decode(r)?,
            signature: r.signature("evidence signature")?,
        })
    }

    /// The whole signed encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Decodes bytes that must be exactly one signed evidence.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedEvidence, DecodeError> {
        let mut r = Reader::new(bytes);
        let evidence = SignedEvidence::decode(&mut r)?;
        r.finish("evidence")?;
        Ok(evidence)
    }
}
