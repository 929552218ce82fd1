//! Calls for proposals: what buyers and providers say to each other before
//! a hold exists (docs/market.md §4, docs/wire.md §17.7).
//!
//! A buyer signs a [`Call`] and publishes it on its call topic
//! (`ting/v1/market/calls/{buyer}/{category as levels}`), where providers
//! that serve the category listen. Everything after travels as signed
//! envelopes between the two inboxes:
//!
//! - `0x0120 proposal` (provider → buyer): a price, a delivery time and a
//!   warranty for one call, in round 0 or in answer to a counter-offer;
//! - `0x0121 counter` (buyer → provider): the terms the buyer would take
//!   instead, price, time and warranty, at most the call's `rounds` times;
//! - `0x0122 accept` (buyer → provider): the proposal taken and the hold
//!   that now pays for it;
//! - `0x0123 decline` (either way): a proposal or call turned down, with a code;
//! - `0x0124 evidence` (buyer → provider): the device's signed evidence, so
//!   the provider can present it to the ledger itself.
//!
//! A hold made from a proposal names the proposal's [`Proposal::terms_hash`]
//! as its terms, so either party can show an arbiter what was agreed: the
//! provider's signed envelope and the call it answers.

use crate::prelude::*;

use super::evidence::SignedEvidence;
use super::hold::ReleaseRule;
use super::offer::is_service_area;
use super::{is_category, HoldId, OfferId};
use crate::account::AccountId;
use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::limits::{
    CALL_ROUNDS_MAX, CALL_SPEC_BYTES_MAX, CALL_WINDOW_MS_MAX, ENVELOPE_CODE_BYTES_MAX,
    ENVELOPE_MESSAGE_BYTES_MAX, GEOHASH_CHARS_MAX, HOLD_DEADLINE_MAX_MS, HOLD_GRACE_MS_MAX,
    PROPOSAL_NOTE_BYTES_MAX, SERVICE_CATEGORY_BYTES_MAX,
};
use crate::types::Timestamp;

/// The only version of these payloads this code reads and writes.
pub const CFP_VERSION: u8 = 1;
/// Prefix of the message a buyer signs over a call.
pub const CALL_DOMAIN: &[u8] = b"ting:market-call:v1";
/// Prefix of a proposal's terms hash.
pub const PROPOSAL_DOMAIN: &[u8] = b"ting:market-proposal:v1";

/// Why a call or proposal breaks a rule; the text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidCfp(pub &'static str);

impl core::fmt::Display for InvalidCfp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// What a buyer asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The network's genesis hash: a call is for one network.
    pub genesis: Hash32,
    pub buyer: AccountId,
    /// The buyer's own number for this call, unique among its calls.
    pub id: u64,
    pub issued_at: Timestamp,
    /// Proposals are taken until then.
    pub answer_by: Timestamp,
    /// The service is due by then, at the latest.
    pub deliver_by: Timestamp,
    /// The grace after the deadline the hold will give (hold terms' `grace_ms`).
    pub grace_ms: u64,
    pub category: String,
    /// Where the service is needed: a geohash (empty for anywhere).
    pub area: String,
    /// What exactly is needed, in words (UTF-8).
    pub spec: String,
    /// The most the buyer pays.
    pub max_price: Amount,
    /// Counter-offer rounds the buyer may start after the first proposals.
    pub rounds: u8,
    /// How the hold will be released (an evidence template tells providers
    /// what the buyer's device must see).
    pub rule: ReleaseRule,
    pub arbiter: Option<AccountId>,
}

/// A call with the buyer's signature, as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCall {
    pub call: Call,
    pub signature: Signature,
}

impl Call {
    /// The first rule broken, if any.
    pub fn check(&self) -> Result<(), InvalidCfp> {
        let bad = |why| Err(InvalidCfp(why));
        if !is_category(&self.category) {
            return bad("the category is 1 to 8 dotted parts of a-z, 0-9 and _, at most 48 bytes");
        }
        if !is_service_area(&self.area) {
            return bad("the area is empty or a geohash of at most 12 characters");
        }
        if self.spec.len() > CALL_SPEC_BYTES_MAX {
            return bad("the spec is at most 512 bytes");
        }
        if self.max_price.is_zero() {
            return bad("the maximum price must be above zero");
        }
        if self.answer_by <= self.issued_at
            || self.answer_by.0.saturating_sub(self.issued_at.0) > CALL_WINDOW_MS_MAX
        {
            return bad("proposals are taken for 1 ms to a day after the call is issued");
        }
        if self.deliver_by <= self.answer_by
            || self.deliver_by.0.saturating_sub(self.issued_at.0) > HOLD_DEADLINE_MAX_MS
        {
            return bad("delivery is due after the proposals end and within 366 days");
        }
        if self.grace_ms > HOLD_GRACE_MS_MAX {
            return bad("the grace after the deadline is at most a week");
        }
        if self.rounds > CALL_ROUNDS_MAX {
            return bad("a call allows at most 4 counter-offer rounds");
        }
        if self.arbiter == Some(self.buyer) {
            return bad("the buyer cannot be the arbiter");
        }
        match &self.rule {
            ReleaseRule::Evidence { template, .. } => {
                template.check().map_err(|e| InvalidCfp(e.0))?;
            }
            ReleaseRule::Arbiter if self.arbiter.is_none() => {
                return bad("an arbiter rule needs an arbiter");
            }
            _ => {}
        }
        Ok(())
    }

    /// The call's bytes, which the buyer signs after [`CALL_DOMAIN`]. It
    /// must have passed [`Call::check`].
    pub fn encode(&self, w: &mut Writer) {
        w.u8(CFP_VERSION)
            .hash(&self.genesis)
            .account(&self.buyer)
            .u64(self.id)
            .u64(self.issued_at.0)
            .u64(self.answer_by.0)
            .u64(self.deliver_by.0)
            .u64(self.grace_ms);
        w.bytes_u8(self.category.as_bytes());
        w.bytes_u8(self.area.as_bytes());
        w.bytes_u16(self.spec.as_bytes());
        w.amount(self.max_price).u8(self.rounds);
        self.rule.encode(w);
        match &self.arbiter {
            None => w.u8(0),
            Some(a) => w.u8(1).account(a),
        };
    }

    fn decode(r: &mut Reader<'_>) -> Result<Call, DecodeError> {
        version(r, "call")?;
        let call = Call {
            genesis: r.hash("genesis")?,
            buyer: r.account("buyer")?,
            id: r.u64("call id")?,
            issued_at: Timestamp(r.u64("issued_at")?),
            answer_by: Timestamp(r.u64("answer_by")?),
            deliver_by: Timestamp(r.u64("deliver_by")?),
            grace_ms: r.u64("grace_ms")?,
            category: text(
                r.bytes_u8("category", SERVICE_CATEGORY_BYTES_MAX)?,
                "category",
            )?,
            area: text(r.bytes_u8("area", usize::from(GEOHASH_CHARS_MAX))?, "area")?,
            spec: text(r.bytes_u16("spec", CALL_SPEC_BYTES_MAX)?, "spec")?,
            max_price: r.amount("max_price")?,
            rounds: r.u8("rounds")?,
            rule: ReleaseRule::decode(r)?,
            arbiter: flagged_account(r, "arbiter")?,
        };
        call.check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(call)
    }

    fn signing_message(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(CALL_DOMAIN.len().saturating_add(256));
        w.bytes(CALL_DOMAIN);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// The buyer's signature over this call. It must pass [`Call::check`].
    pub fn sign(self, buyer: &Keypair) -> SignedCall {
        let signature = buyer.sign(&self.signing_message());
        SignedCall {
            call: self,
            signature,
        }
    }
}

impl SignedCall {
    /// The published bytes: the call, then the signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(320);
        self.call.encode(&mut w);
        w.signature(&self.signature);
        w.into_bytes()
    }

    /// Decodes published bytes and checks the call's rules (not the signature).
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedCall, DecodeError> {
        let mut r = Reader::new(bytes);
        let call = Call::decode(&mut r)?;
        let signature = r.signature("call signature")?;
        r.finish("call")?;
        Ok(SignedCall { call, signature })
    }

    /// Checks the buyer's signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        keys::verify(
            &self.call.buyer,
            &self.call.signing_message(),
            &self.signature,
        )
    }

    /// What proposals, counters and accepts name the call by: SHA-256 of
    /// the published bytes.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest(&[&self.to_bytes()])
    }
}

/// What a provider offers for one call, or answers to a counter-offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The call's [`SignedCall::hash`].
    pub call: Hash32,
    /// 0 for a first proposal; `r + 1` answers the counter of round `r + 1`.
    pub round: u8,
    pub price: Amount,
    /// When the provider will have delivered.
    pub deliver_by: Timestamp,
    pub warranty_ms: u64,
    /// Until when the buyer may accept it.
    pub valid_until: Timestamp,
    /// The listed offer it comes from, if any.
    pub offer: Option<OfferId>,
    /// A word to the buyer (UTF-8).
    pub note: String,
}

impl Proposal {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        w.u8(CFP_VERSION)
            .hash(&self.call)
            .u8(self.round)
            .amount(self.price)
            .u64(self.deliver_by.0)
            .u64(self.warranty_ms)
            .u64(self.valid_until.0);
        match &self.offer {
            None => w.u8(0),
            Some(o) => w.u8(1).hash(&o.0),
        };
        w.bytes_u8(self.note.as_bytes());
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Proposal, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "proposal")?;
        let proposal = Proposal {
            call: r.hash("call")?,
            round: r.u8("round")?,
            price: r.amount("price")?,
            deliver_by: Timestamp(r.u64("deliver_by")?),
            warranty_ms: r.u64("warranty_ms")?,
            valid_until: Timestamp(r.u64("valid_until")?),
            offer: match r.u8("offer flag")? {
                0 => None,
                1 => Some(OfferId(r.hash("offer")?)),
                _ => return Err(DecodeError::InvalidValue { what: "offer flag" }),
            },
            note: text(r.bytes_u8("note", PROPOSAL_NOTE_BYTES_MAX)?, "note")?,
        };
        r.finish("proposal")?;
        Ok(proposal)
    }

    /// Whether this proposal answers `call` as the call allows: its round,
    /// a price within the maximum, delivery by the call's date.
    pub fn fits(&self, call: &SignedCall) -> Result<(), InvalidCfp> {
        let c = &call.call;
        if self.call != call.hash() {
            return Err(InvalidCfp("the proposal answers another call"));
        }
        if self.round > c.rounds {
            return Err(InvalidCfp("the proposal's round is past the call's rounds"));
        }
        if self.price.is_zero() || self.price > c.max_price {
            return Err(InvalidCfp("the price is zero or above the call's maximum"));
        }
        if self.deliver_by > c.deliver_by {
            return Err(InvalidCfp("delivery is later than the call asks"));
        }
        Ok(())
    }

    /// The hash a hold made from this proposal names as its terms:
    /// `SHA-256(PROPOSAL_DOMAIN || provider || proposal bytes)`.
    pub fn terms_hash(&self, provider: &AccountId) -> Hash32 {
        Hash32::digest(&[PROPOSAL_DOMAIN, provider.as_bytes(), &self.encode()])
    }
}

/// The terms a buyer would take instead of a proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counter {
    pub call: Hash32,
    /// 1 for the first counter-offer, at most the call's `rounds`.
    pub round: u8,
    pub price: Amount,
    pub deliver_by: Timestamp,
    pub warranty_ms: u64,
    pub valid_until: Timestamp,
}

impl Counter {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(72);
        w.u8(CFP_VERSION)
            .hash(&self.call)
            .u8(self.round)
            .amount(self.price)
            .u64(self.deliver_by.0)
            .u64(self.warranty_ms)
            .u64(self.valid_until.0);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Counter, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "counter")?;
        let counter = Counter {
            call: r.hash("call")?,
            round: r.u8("round")?,
            price: r.amount("price")?,
            deliver_by: Timestamp(r.u64("deliver_by")?),
            warranty_ms: r.u64("warranty_ms")?,
            valid_until: Timestamp(r.u64("valid_until")?),
        };
        r.finish("counter")?;
        Ok(counter)
    }
}

/// The buyer took a proposal and made the hold that pays for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accept {
    pub call: Hash32,
    /// The accepted proposal's [`Proposal::terms_hash`].
    pub proposal: Hash32,
    pub hold: HoldId,
}

impl Accept {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(97);
        w.u8(CFP_VERSION)
            .hash(&self.call)
            .hash(&self.proposal)
            .hash(&self.hold.0);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Accept, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "accept")?;
        let accept = Accept {
            call: r.hash("call")?,
            proposal: r.hash("proposal")?,
            hold: HoldId(r.hash("hold")?),
        };
        r.finish("accept")?;
        Ok(accept)
    }
}

/// A call, proposal or counter turned down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decline {
    pub call: Hash32,
    pub round: u8,
    /// A stable code, such as `price_too_low` or `chose_another`.
    pub code: String,
    pub message: String,
}

impl Decline {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.u8(CFP_VERSION).hash(&self.call).u8(self.round);
        w.bytes_u8(self.code.as_bytes());
        w.bytes_u16(self.message.as_bytes());
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Decline, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "decline")?;
        let decline = Decline {
            call: r.hash("call")?,
            round: r.u8("round")?,
            code: text(r.bytes_u8("code", ENVELOPE_CODE_BYTES_MAX)?, "code")?,
            message: text(
                r.bytes_u16("message", ENVELOPE_MESSAGE_BYTES_MAX)?,
                "message",
            )?,
        };
        r.finish("decline")?;
        Ok(decline)
    }
}

/// The buyer's device's signed evidence, passed on to the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceNote {
    pub evidence: SignedEvidence,
}

impl EvidenceNote {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        w.u8(CFP_VERSION);
        self.evidence.encode(&mut w);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<EvidenceNote, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "evidence note")?;
        let evidence = SignedEvidence::decode(&mut r)?;
        r.finish("evidence note")?;
        Ok(EvidenceNote { evidence })
    }
}

fn version(r: &mut Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    match r.u8("version")? {
        CFP_VERSION => Ok(()),
        version => Err(DecodeError::UnsupportedVersion { what, version }),
    }
}

fn flagged_account(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Option<AccountId>, DecodeError> {
    match r.u8("flag")? {
        0 => Ok(None),
        1 => Ok(Some(r.account(what)?)),
        _ => Err(DecodeError::InvalidValue { what }),
    }
}
