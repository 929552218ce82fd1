//! An escrow hold: what a payer locked for a payee, the rule that releases
//! it, and where it stands.
//!
//! Terms (little-endian): `payee [32] | amount u64 | deadline u64 |
//! grace_ms u64 | terms [32] | category (u8 len) | rule u8 (0 payer; 1 evidence: device [32] |
//! template; 2 arbiter) | arbiter flag u8 (1: arbiter [32])`. The record
//! the ledger keeps while the hold is open: `payer [32] | deposit u64 |
//! created_at u64 | phase u8 (0 open, 1 accepted, 2 disputed) | unrelated
//! u8 | terms`. The hold id is the key, not part of the record.

use crate::prelude::*;

use super::evidence::{Template, EVIDENCE_VALUE_BYTES_MAX, TEMPLATE_RULES_MAX};
use super::is_category;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::limits::{FIELD_NAME_BYTES_MAX, HOLD_GRACE_MS_MAX, SERVICE_CATEGORY_BYTES_MAX};
use crate::types::Timestamp;

const RULE_PAYER: u8 = 0;
const RULE_EVIDENCE: u8 = 1;
const RULE_ARBITER: u8 = 2;

/// Who, besides the payer, may release a hold to its payee. The payer may
/// always release what it paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseRule {
    /// Only the payer (or its owner).
    Payer,
    /// Anyone who presents evidence signed by `device` that matches `template`.
    Evidence {
        device: AccountId,
        template: Template,
    },
    /// The hold's arbiter, at any time.
    Arbiter,
}

/// What the payer sets when it creates a hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldTerms {
    pub payee: AccountId,
    pub amount: Amount,
    /// When the service is due: after it (and a grace period), an accepted
    /// hold that was not released goes back to the payer.
    pub deadline: Timestamp,
    /// How long after the deadline evidence observed in time may still
    /// land, and a dispute be raised, before the payer may take the money
    /// back (at most [`HOLD_GRACE_MS_MAX`]).
    pub grace_ms: u64,
    /// SHA-256 of the agreed contract (for the market: the accepted proposal).
    pub terms: Hash32,
    /// The service category (dotted), under which the outcome counts for
    /// the payee's reputation.
    pub category: String,
    pub rule: ReleaseRule,
    /// Who decides a dispute; without one a hold cannot be disputed.
    pub arbiter: Option<AccountId>,
}

/// Where an open hold stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldPhase {
    /// Created, and not yet accepted by the payee: the payer may cancel it.
    Open,
    /// The payee has taken the job on: the money waits for the release rule
    /// or the deadline.
    Accepted,
    /// A party disputed it: the arbiter decides.
    Disputed,
}

/// An open hold as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub payer: AccountId,
    /// What the payer put down beside the amount; it goes back to the payer.
    pub deposit: Amount,
    pub created_at: Timestamp,
    pub phase: HoldPhase,
    /// Whether payer and payee answer to different owners: only then does
    /// the outcome count for the payee's reputation.
    pub unrelated: bool,
    pub terms: HoldTerms,
}

/// The longest terms: a full category, an evidence rule with a full
/// template, and an arbiter.
pub const HOLD_TERMS_BYTES_MAX: usize = 32
    + 8
    + 8
    + 8
    + 32
    + 1
    + SERVICE_CATEGORY_BYTES_MAX
    + 1
    + 32
    + 1
    + TEMPLATE_RULES_MAX * (1 + FIELD_NAME_BYTES_MAX + 1 + 1 + EVIDENCE_VALUE_BYTES_MAX)
    + 1
    + 32;
/// The longest hold record.
pub const HOLD_RECORD_BYTES_MAX: usize = 32 + 8 + 8 + 1 + 1 + HOLD_TERMS_BYTES_MAX;

/// Why terms break a rule; the text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidHold(pub &'static str);

impl core::fmt::Display for InvalidHold {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl HoldTerms {
    /// The first rule the terms break on their own, if any (the ledger
    /// checks what needs the state: the payer, the deadline against the
    /// block's time).
    pub fn check(&self) -> Result<(), InvalidHold> {
        if self.amount.is_zero() {
            return Err(InvalidHold("the held amount must be above zero"));
        }
        if self.grace_ms > HOLD_GRACE_MS_MAX {
            return Err(InvalidHold(
                "the grace after the deadline is at most a week",
            ));
        }
        if !is_category(&self.category) {
            return Err(InvalidHold(
                "the category is 1 to 8 dotted parts of a-z, 0-9 and _, at most 48 bytes",
            ));
        }
        if self.arbiter == Some(self.payee) {
            return Err(InvalidHold("the payee cannot be the arbiter"));
        }
        match &self.rule {
            ReleaseRule::Payer => {}
            ReleaseRule::Evidence { device, template } => {
                if *device == self.payee {
                    return Err(InvalidHold("the payee cannot sign the evidence"));
                }
                template.check().map_err(|e| InvalidHold(e.0))?;
            }
            ReleaseRule::Arbiter if self.arbiter.is_none() => {
                return Err(InvalidHold("an arbiter rule needs an arbiter"));
            }
            ReleaseRule::Arbiter => {}
        }
        Ok(())
    }

    /// Appends the terms' bytes. They must have passed [`HoldTerms::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.payee)
            .amount(self.amount)
            .u64(self.deadline.0)
            .u64(self.grace_ms)
            .hash(&self.terms);
        w.bytes_u8(self.category.as_bytes());
        self.rule.encode(w);
        match &self.arbiter {
            None => w.u8(0),
            Some(a) => w.u8(1).account(a),
        };
    }

    /// Reads terms and checks their rules.
    pub fn decode(r: &mut Reader<'_>) -> Result<HoldTerms, DecodeError> {
        let payee = r.account("payee")?;
        let amount = r.amount("amount")?;
        let deadline = Timestamp(r.u64("deadline")?);
        let grace_ms = r.u64("grace_ms")?;
        let terms = r.hash("terms")?;
        let category = text(
            r.bytes_u8("category", SERVICE_CATEGORY_BYTES_MAX)?,
            "category",
        )?;
        let rule = ReleaseRule::decode(r)?;
        let arbiter = match r.u8("arbiter flag")? {
            0 => None,
            1 => Some(r.account("arbiter")?),
            _ => {
                return Err(DecodeError::InvalidValue {
                    what: "arbiter flag",
                })
            }
        };
        let held = HoldTerms {
            payee,
            amount,
            deadline,
            grace_ms,
            terms,
            category,
            rule,
            arbiter,
        };
        held.check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(held)
    }
}

impl HoldPhase {
    fn to_u8(self) -> u8 {
        match self {
            HoldPhase::Open => 0,
            HoldPhase::Accepted => 1,
            HoldPhase::Disputed => 2,
        }
    }

    /// The phase's stable name, as used in JSON and docs.
    pub fn name(self) -> &'static str {
        match self {
            HoldPhase::Open => "open",
            HoldPhase::Accepted => "accepted",
            HoldPhase::Disputed => "disputed",
        }
    }
}

impl Hold {
    /// What the hold locks: the amount and the deposit.
    pub fn locked(&self) -> Option<Amount> {
        self.terms.amount.checked_add(self.deposit)
    }

    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Appends the canonical record to `w`.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.payer)
            .amount(self.deposit)
            .u64(self.created_at.0)
            .u8(self.phase.to_u8())
            .u8(u8::from(self.unrelated));
        self.terms.encode(w);
    }

    /// Reads one record from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Hold, DecodeError> {
        let payer = r.account("payer")?;
        let deposit = r.amount("deposit")?;
        let created_at = Timestamp(r.u64("created_at")?);
        let phase = match r.u8("phase")? {
            0 => HoldPhase::Open,
            1 => HoldPhase::Accepted,
            2 => HoldPhase::Disputed,
            _ => return Err(DecodeError::InvalidValue { what: "phase" }),
        };
        let unrelated = match r.u8("unrelated flag")? {
            0 => false,
            1 => true,
            _ => {
                return Err(DecodeError::InvalidValue {
                    what: "unrelated flag",
                })
            }
        };
        Ok(Hold {
            payer,
            deposit,
            created_at,
            phase,
            unrelated,
            terms: HoldTerms::decode(r)?,
        })
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Hold, DecodeError> {
        let mut r = Reader::new(bytes);
        let hold = Hold::decode(&mut r)?;
        r.finish("hold record")?;
        Ok(hold)
    }
}

impl ReleaseRule {
    /// Appends the rule's bytes (`rule u8` and, for evidence, `device [32]
    /// | template`), as in hold terms. An evidence template must have
    /// passed [`Template::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        match self {
            ReleaseRule::Payer => {
                w.u8(RULE_PAYER);
            }
            ReleaseRule::Evidence { device, template } => {
                w.u8(RULE_EVIDENCE).account(device);
                template.encode(w);
            }
            ReleaseRule::Arbiter => {
                w.u8(RULE_ARBITER);
            }
        }
    }

    /// Reads a rule, its template checked.
    pub fn decode(r: &mut Reader<'_>) -> Result<ReleaseRule, DecodeError> {
        Ok(match r.u8("release rule")? {
            RULE_PAYER => ReleaseRule::Payer,
            RULE_EVIDENCE => ReleaseRule::Evidence {
                device: r.account("evidence device")?,
                template: Template::decode(r)?,
            },
            RULE_ARBITER => ReleaseRule::Arbiter,
            _ => {
                return Err(DecodeError::InvalidValue {
                    what: "release rule",
                })
            }
        })
    }

    /// The rule's stable name, as used in JSON and docs.
    pub fn name(&self) -> &'static str {
        match self {
            ReleaseRule::Payer => "payer",
            ReleaseRule::Evidence { .. } => "evidence",
            ReleaseRule::Arbiter => "arbiter",
        }
    }
}
