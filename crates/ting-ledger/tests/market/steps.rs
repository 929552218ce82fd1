//! The steps of the market's property test (`model.rs`): the actors, what
//! each step may be and how often, and the terms and evidence its
//! transactions carry.

use proptest::prelude::*;
use proptest::sample::Index;
use ting_core::limits::{
    DAY_MS, EVIDENCE_CLOCK_SKEW_MS, HOLD_ARBITER_MS, HOLD_DEADLINE_MAX_MS, HOLD_DEPOSIT,
    HOLD_GRACE_MS_DEFAULT,
};
use ting_core::market::{
    Condition, Evidence, FieldRule, HoldId, HoldTerms, OfferTerms, ReleaseRule, SignedEvidence,
    Template, Value,
};
use ting_core::{Amount, Hash32, Keypair, Timestamp};
use ting_ledger::TxError;

use super::common::*;

pub const ACTORS: usize = 8;
/// Whom each actor answers to (an actor index): owner A (0) with devices 1
/// and 2, owner B (3) with device 4, and 5, 6 and 7 on their own.
pub const PRINCIPAL: [usize; ACTORS] = [0, 0, 0, 3, 3, 5, 6, 7];
/// What the genesis gives keys 0 to 3 (actors 0, 3 and 5 among them).
pub const START: u64 = 100 * HOLD_DEPOSIT;
/// What the other actors are given: enough for three holds, not four.
pub const FUND: u64 = 3 * HOLD_DEPOSIT + HOLD_DEPOSIT / 2;
/// The actor most holds name as arbiter.
pub const ARBITER: usize = 6;
pub const CATEGORIES: [&str; 3] = ["water.cartridge", "water.cartridge.replace", "hvac.filter"];

pub fn actor(i: usize) -> Keypair {
    match i {
        0 => key(1),
        1 => key(10),
        2 => key(11),
        3 => key(2),
        4 => key(12),
        5 => key(3),
        6 => key(20),
        _ => key(21),
    }
}

pub fn sensor() -> Keypair {
    key(30)
}

pub fn forger() -> Keypair {
    key(31)
}

/// Whether `sender` is `party` or `party`'s owner.
pub fn speaks_for(sender: usize, party: usize) -> bool {
    sender == party || PRINCIPAL[party] == sender
}

pub fn template() -> Template {
    Template {
        rules: vec![
            FieldRule {
                name: "event".into(),
                condition: Condition::Equals(b"done".to_vec()),
            },
            FieldRule {
                name: "flow".into(),
                condition: Condition::AtLeast(500),
            },
        ],
    }
}

pub fn code(r: Result<(), TxError>) -> Result<(), &'static str> {
    r.map_err(|e| e.code())
}

// ---- Steps ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Payer,
    Evidence,
    Arbiter,
}

/// Who sends a transaction on a hold, by the hold's parties or any actor.
#[derive(Clone, Copy, Debug)]
pub enum Who {
    Payer,
    PayerOwner,
    Payee,
    PayeeOwner,
    Arbiter,
    Actor(usize),
}

/// Who sends a transaction on an offer.
#[derive(Clone, Copy, Debug)]
pub enum OfferWho {
    Provider,
    Owner,
    Actor(usize),
}

/// Which hold or offer a transaction names.
#[derive(Clone, Copy, Debug)]
pub enum Pick {
    /// For a hold: one open in the phase the transaction needs (an open
    /// one to accept, an accepted one to dispute, a disputed one to
    /// decide, any to release or refund); else as `Open`.
    Ready(Index),
    /// One still open (any, if none is).
    Open(Index),
    /// Any made so far, ended ones too.
    Any(Index),
    /// One never made.
    Unknown,
}

/// The evidence a release carries.
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    /// Signed by the sensor, for this hold, observed at its creation.
    Good,
    /// Signed by another key.
    Forged,
    /// Signed by the sensor, for a hold never made.
    OtherHold,
    /// Observed before the hold was created.
    Early,
    /// Observed after the deadline.
    Late,
    /// Observed further after the block's time than a clock's skew.
    Future,
    /// A flow below the template's least.
    Mismatch,
}

#[derive(Clone, Debug)]
pub struct Create {
    pub payer: usize,
    pub payee: usize,
    pub amount: u64,
    /// How far past the block's time the deadline lies.
    pub deadline_ms: u64,
    pub rule: Rule,
    pub arbiter: Option<usize>,
    pub category: usize,
}

#[derive(Clone, Debug)]
pub enum Op {
    Create(Create),
    Accept {
        who: Who,
        hold: Pick,
    },
    Release {
        who: Who,
        hold: Pick,
        evidence: Option<Ev>,
    },
    Refund {
        who: Who,
        hold: Pick,
    },
    Dispute {
        who: Who,
        hold: Pick,
    },
    /// `share`: 0 nothing to the payee, 1 half, 2 all, 3 one more than all.
    Decide {
        who: Who,
        hold: Pick,
        share: u8,
    },
    OfferOpen {
        provider: usize,
    },
    OfferUpdate {
        who: OfferWho,
        offer: Pick,
        price: u64,
    },
    OfferClose {
        who: OfferWho,
        offer: Pick,
    },
}

#[derive(Clone, Debug)]
pub enum Step {
    Tx(Op),
    /// End the block, then move the clock on by this much.
    Wait(u64),
}

/// A sender for a hold transaction, the parties weighted as `[payer,
/// payer's owner, payee, payee's owner, arbiter]`, any actor at weight 1.
pub fn who(weights: [u32; 5]) -> impl Strategy<Value = Who> {
    let [payer, payer_owner, payee, payee_owner, arbiter] = weights;
    prop_oneof![
        payer => Just(Who::Payer),
        payer_owner => Just(Who::PayerOwner),
        payee => Just(Who::Payee),
        payee_owner => Just(Who::PayeeOwner),
        arbiter => Just(Who::Arbiter),
        1 => (0..ACTORS).prop_map(Who::Actor),
    ]
}

pub fn offer_who() -> impl Strategy<Value = OfferWho> {
    prop_oneof![
        4 => Just(OfferWho::Provider),
        1 => Just(OfferWho::Owner),
        1 => (0..ACTORS).prop_map(OfferWho::Actor),
    ]
}

pub fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => any::<Index>().prop_map(Pick::Ready),
        4 => any::<Index>().prop_map(Pick::Open),
        1 => any::<Index>().prop_map(Pick::Any),
        1 => Just(Pick::Unknown),
    ]
}

pub fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        8 => Just(Ev::Good),
        1 => Just(Ev::Forged),
        1 => Just(Ev::OtherHold),
        1 => Just(Ev::Early),
        1 => Just(Ev::Late),
        1 => Just(Ev::Future),
        1 => Just(Ev::Mismatch),
    ]
}

/// Terms the core's own check passes (signing asserts it): an arbiter is
/// never the payee, and an arbiter rule always has one.
pub fn create() -> impl Strategy<Value = Create> {
    let amount = prop_oneof![
        Just(1u64),
        Just(1_000),
        Just(250_000),
        Just(3 * HOLD_DEPOSIT)
    ];
    let deadline = prop_oneof![
        1 => Just(0u64),
        4 => Just(DAY_MS),
        2 => Just(2 * DAY_MS),
        1 => Just(HOLD_DEADLINE_MAX_MS),
        1 => Just(HOLD_DEADLINE_MAX_MS + 1),
    ];
    let rule = prop_oneof![Just(Rule::Payer), Just(Rule::Evidence), Just(Rule::Arbiter)];
    let arbiter = prop_oneof![
        1 => Just(None),
        4 => Just(Some(ARBITER)),
        1 => (0..ACTORS).prop_map(Some),
    ];
    (
        0..ACTORS,
        0..ACTORS,
        amount,
        deadline,
        rule,
        arbiter,
        0..CATEGORIES.len(),
    )
        .prop_map(
            |(payer, payee, amount, deadline_ms, rule, arbiter, category)| {
                let arbiter = arbiter.filter(|&a| a != payee);
                let rule = if rule == Rule::Arbiter && arbiter.is_none() {
                    Rule::Payer
                } else {
                    rule
                };
                Create {
                    payer,
                    payee,
                    amount,
                    deadline_ms,
                    rule,
                    arbiter,
                    category,
                }
            },
        )
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => create().prop_map(Op::Create),
        5 => (who([1, 1, 8, 1, 1]), pick()).prop_map(|(who, hold)| Op::Accept { who, hold }),
        4 => (who([4, 1, 1, 1, 3]), pick(), prop::option::weighted(0.4, ev()))
            .prop_map(|(who, hold, evidence)| Op::Release { who, hold, evidence }),
        3 => (who([5, 1, 2, 1, 1]), pick()).prop_map(|(who, hold)| Op::Refund { who, hold }),
        3 => (who([3, 1, 3, 1, 1]), pick()).prop_map(|(who, hold)| Op::Dispute { who, hold }),
        3 => (who([1, 0, 1, 0, 6]), pick(), 0u8..4)
            .prop_map(|(who, hold, share)| Op::Decide { who, hold, share }),
        1 => (0..ACTORS).prop_map(|provider| Op::OfferOpen { provider }),
        1 => (offer_who(), pick(), 1u64..1_000)
            .prop_map(|(who, offer, price)| Op::OfferUpdate { who, offer, price }),
        1 => (offer_who(), pick()).prop_map(|(who, offer)| Op::OfferClose { who, offer }),
    ]
}

pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    let wait = prop_oneof![
        3 => Just(0u64),
        3 => Just(1_000),
        2 => Just(HOLD_GRACE_MS_DEFAULT),
        2 => Just(DAY_MS),
        2 => Just(2 * DAY_MS + 1),
        1 => Just(HOLD_ARBITER_MS),
    ];
    prop::collection::vec(
        prop_oneof![14 => op().prop_map(Step::Tx), 2 => wait.prop_map(Step::Wait)],
        1..100,
    )
}

// ---- Building the transactions ----

pub fn hold_terms(c: &Create, now: u64) -> HoldTerms {
    HoldTerms {
        payee: actor(c.payee).account(),
        amount: Amount::new(c.amount),
        deadline: Timestamp(now.saturating_add(c.deadline_ms)),
        grace_ms: HOLD_GRACE_MS_DEFAULT,
        terms: Hash32::digest(&[b"proposal", &[c.category as u8]]),
        category: CATEGORIES[c.category].into(),
        rule: match c.rule {
            Rule::Payer => ReleaseRule::Payer,
            Rule::Evidence => ReleaseRule::Evidence {
                device: sensor().account(),
                template: template(),
            },
            Rule::Arbiter => ReleaseRule::Arbiter,
        },
        arbiter: c.arbiter.map(|a| actor(a).account()),
    }
}

pub fn offer_terms(price: u64) -> OfferTerms {
    OfferTerms {
        category: CATEGORIES[0].into(),
        area: String::new(),
        price: Amount::new(price),
        delivery_ms: DAY_MS,
        warranty_ms: 0,
        terms: Hash32::digest(&[b"offer", &price.to_le_bytes()]),
    }
}

/// The evidence `e` for hold `id`, created at `created` and due at
/// `deadline` (for a hold never made: now, and a day later), at `now`.
pub fn evidence_for(e: Ev, id: HoldId, life: Option<(u64, u64)>, now: u64) -> SignedEvidence {
    let (created, deadline) = life.unwrap_or((now, now + DAY_MS));
    let observed = match e {
        Ev::Early => created - 1,
        Ev::Late => deadline + 1,
        Ev::Future => now + EVIDENCE_CLOCK_SKEW_MS + 1,
        _ => created,
    };
    let hold = match e {
        Ev::OtherHold => HoldId(Hash32::digest(&[b"another hold"])),
        _ => id,
    };
    let flow = if matches!(e, Ev::Mismatch) { 100 } else { 812 };
    let evidence = Evidence {
        hold,
        observed_at: Timestamp(observed),
        fields: vec![
            ("event".into(), Value::Text(b"done".to_vec())),
            ("flow".into(), Value::Number(flow)),
        ],
    };
    let signer = if matches!(e, Ev::Forged) {
        forger()
    } else {
        sensor()
    };
    evidence.sign(&signer, &genesis_hash())
}
