//! The market against a plain model: random sequences of hold and offer
//! transactions, sent by random actors at advancing times.
//!
//! Eight actors: owner A (key 1) with devices key 10 and key 11, owner B
//! (key 2) with device key 12, and three accounts of their own (keys 3, 20
//! and 21); evidence is signed by key 30, forged by key 31. Each step is a
//! create, accept, release (by the payer's side, the arbiter, or with good
//! or bad evidence), refund, dispute, decision, or an offer's open, update
//! or close, or the end of a block with the clock moved on (by up to the
//! arbiter's window, so deadlines, grace and windows pass). After every
//! transaction the outcome code, every balance, every hold (open or not,
//! its phase), open holds and offers per actor, what is locked and every
//! reputation must agree with the model, money must be conserved and the
//! running sums must equal a walk; a refusal must change nothing and an
//! acceptance advance the sender's nonce; a hold ends at most once. After
//! every block the incremental root equals a rebuilt one; at the end,
//! replaying the blocks and a snapshot round trip give the same state.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use ting_core::limits::{
    HOLDS_OPEN_PER_PAYER_MAX, HOLD_ARBITER_MS, HOLD_DEADLINE_MAX_MS, HOLD_DEPOSIT,
    HOLD_GRACE_MS_DEFAULT, OFFERS_OPEN_PER_PROVIDER_MAX, OFFER_DEPOSIT,
};
use ting_core::market::{HoldId, HoldPhase, OfferId};
use ting_core::{AccountId, Amount, Block, Hash32, SignedTx, Timestamp, TxKind};
use ting_ledger::State;

use super::common::*;
use super::steps::*;

// ---- The model ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Released,
    Refunded,
    Decided,
}

#[derive(Clone, Debug)]
struct MHold {
    id: HoldId,
    payer: usize,
    payee: usize,
    amount: u64,
    deadline: u64,
    created_at: u64,
    rule: Rule,
    arbiter: Option<usize>,
    category: usize,
    phase: HoldPhase,
    unrelated: bool,
    /// How it ended, once it has: a hold ends once.
    ended: Option<End>,
}

/// A reputation: the four tallies (released, late, withdrawn, lost) as
/// (count, value), when the last was counted, and the buyers by owner.
#[derive(Clone, Debug, Default)]
struct MRep {
    tallies: [(u64, u64); 4],
    last_at: u64,
    buyers: BTreeSet<AccountId>,
}

#[derive(Clone, Debug)]
struct MOffer {
    id: OfferId,
    provider: usize,
    price: u64,
    open: bool,
}

#[derive(Debug)]
struct Model {
    balances: [u64; ACTORS],
    holds: Vec<MHold>,
    offers: Vec<MOffer>,
    /// By (payee, category index).
    reps: BTreeMap<(usize, usize), MRep>,
}

const RELEASED: usize = 0;
const LATE: usize = 1;
const WITHDRAWN: usize = 2;
const LOST: usize = 3;

/// A model transaction: the op with its sender and its hold or offer resolved.
struct MTx {
    sender: usize,
    /// The model index of the hold or offer named; `None` for one never made.
    target: Option<usize>,
}

/// The item `pick` names among `items`, `open` saying which are open and
/// `ready` which are ready for the transaction.
fn resolve<T>(
    items: &[T],
    open: impl Fn(&T) -> bool,
    ready: impl Fn(&T) -> bool,
    pick: Pick,
) -> Option<usize> {
    let live: Vec<usize> = (0..items.len()).filter(|&i| open(&items[i])).collect();
    let fit: Vec<usize> = live.iter().copied().filter(|&i| ready(&items[i])).collect();
    match pick {
        Pick::Ready(i) if !fit.is_empty() => Some(fit[i.index(fit.len())]),
        Pick::Ready(i) | Pick::Open(i) if !live.is_empty() => Some(live[i.index(live.len())]),
        Pick::Ready(i) | Pick::Open(i) | Pick::Any(i) if !items.is_empty() => {
            Some(i.index(items.len()))
        }
        _ => None,
    }
}

impl Model {
    fn open_holds(&self, payer: usize) -> usize {
        self.holds
            .iter()
            .filter(|h| h.ended.is_none() && h.payer == payer)
            .count()
    }

    fn open_offers(&self, provider: usize) -> usize {
        self.offers
            .iter()
            .filter(|o| o.open && o.provider == provider)
            .count()
    }

    fn live(&self, i: Option<usize>) -> Result<&MHold, &'static str> {
        i.and_then(|i| self.holds.get(i))
            .filter(|h| h.ended.is_none())
            .ok_or("unknown_hold")
    }

    /// Pays `credits` out of hold `i` and ends it as `end`, counting
    /// `outcome` for its payee if the hold was accepted by an unrelated payee.
    fn end(
        &mut self,
        i: usize,
        end: End,
        credits: &[(usize, u64)],
        outcome: Option<usize>,
        now: u64,
    ) {
        let h = &mut self.holds[i];
        assert_eq!(h.ended, None, "a hold ends once");
        h.ended = Some(end);
        let h = h.clone();
        for &(to, amount) in credits {
            self.balances[to] += amount;
        }
        if let Some(tally) = outcome.filter(|_| h.unrelated) {
            let r = self.reps.entry((h.payee, h.category)).or_default();
            r.tallies[tally].0 += 1;
            r.tallies[tally].1 += h.amount;
            r.last_at = r.last_at.max(now);
            if tally == RELEASED {
                r.buyers.insert(actor(PRINCIPAL[h.payer]).account());
            }
        }
    }

    fn create(&mut self, c: &Create, id: HoldId, now: u64) -> Result<(), &'static str> {
        if c.payee == c.payer || c.arbiter == Some(c.payer) {
            return Err("invalid_hold");
        }
        let deadline = now + c.deadline_ms;
        if deadline <= now || deadline > now + HOLD_DEADLINE_MAX_MS {
            return Err("bad_deadline");
        }
        if self.open_holds(c.payer) >= HOLDS_OPEN_PER_PAYER_MAX {
            return Err("too_many_holds");
        }
        let locked = c.amount + HOLD_DEPOSIT;
        if self.balances[c.payer] < locked {
            return Err("insufficient_funds");
        }
        self.balances[c.payer] -= locked;
        self.holds.push(MHold {
            id,
            payer: c.payer,
            payee: c.payee,
            amount: c.amount,
            deadline,
            created_at: now,
            rule: c.rule,
            arbiter: c.arbiter,
            category: c.category,
            phase: HoldPhase::Open,
            unrelated: PRINCIPAL[c.payer] != PRINCIPAL[c.payee],
            ended: None,
        });
        Ok(())
    }

    fn release(&mut self, m: &MTx, evidence: Option<Ev>, now: u64) -> Result<(), &'static str> {
        let h = self.live(m.target)?;
        match evidence {
            Some(e) => {
                if h.rule != Rule::Evidence {
                    return Err("no_evidence_rule");
                }
                if h.phase == HoldPhase::Disputed {
                    return Err("wrong_hold_phase");
                }
                match e {
                    Ev::Good => {}
                    Ev::OtherHold => return Err("evidence_for_other_hold"),
                    Ev::Early | Ev::Late | Ev::Future => return Err("evidence_out_of_time"),
                    Ev::Forged => return Err("bad_evidence_signature"),
                    Ev::Mismatch => return Err("evidence_mismatch"),
                }
            }
            None => {
                let by_arbiter = h.arbiter == Some(m.sender) && h.rule == Rule::Arbiter;
                if !by_arbiter && !speaks_for(m.sender, h.payer) {
                    return Err("not_hold_party");
                }
            }
        }
        let outcome = (h.phase != HoldPhase::Open).then_some(RELEASED);
        let credits = [(h.payee, h.amount), (h.payer, HOLD_DEPOSIT)];
        self.end(
            m.target.expect("live"),
            End::Released,
            &credits,
            outcome,
            now,
        );
        Ok(())
    }

    fn refund(&mut self, m: &MTx, now: u64) -> Result<(), &'static str> {
        let h = self.live(m.target)?;
        let outcome = if speaks_for(m.sender, h.payee) {
            (h.phase != HoldPhase::Open).then_some(WITHDRAWN)
        } else if speaks_for(m.sender, h.payer) {
            let wait = match h.phase {
                HoldPhase::Open => 0,
                HoldPhase::Accepted => HOLD_GRACE_MS_DEFAULT,
                HoldPhase::Disputed => HOLD_ARBITER_MS,
            };
            if h.phase != HoldPhase::Open && now <= h.deadline + wait {
                return Err("too_early_to_refund");
            }
            (h.phase == HoldPhase::Accepted).then_some(LATE)
        } else {
            return Err("not_hold_party");
        };
        let credits = [(h.payer, h.amount + HOLD_DEPOSIT)];
        self.end(
            m.target.expect("live"),
            End::Refunded,
            &credits,
            outcome,
            now,
        );
        Ok(())
    }

    fn decide(&mut self, m: &MTx, share: u8, now: u64) -> Result<(), &'static str> {
        let h = self.live(m.target)?;
        if h.arbiter != Some(m.sender) {
            return Err("not_hold_party");
        }
        if h.phase != HoldPhase::Disputed {
            return Err("wrong_hold_phase");
        }
        let to_payee = to_payee(h.amount, share);
        if to_payee > h.amount {
            return Err("decision_over_amount");
        }
        let outcome = if to_payee == h.amount { RELEASED } else { LOST };
        let credits = [
            (h.payee, to_payee),
            (h.payer, h.amount - to_payee + HOLD_DEPOSIT),
        ];
        self.end(
            m.target.expect("live"),
            End::Decided,
            &credits,
            Some(outcome),
            now,
        );
        Ok(())
    }

    /// The phase change of an accept or a dispute, after its checks.
    fn advance(&mut self, m: &MTx, accept: bool, now: u64) -> Result<(), &'static str> {
        let h = self.live(m.target)?;
        let next = if accept {
            if h.payee != m.sender {
                return Err("not_hold_party");
            }
            if h.phase != HoldPhase::Open {
                return Err("wrong_hold_phase");
            }
            if now > h.deadline {
                return Err("hold_past_deadline");
            }
            HoldPhase::Accepted
        } else {
            if !speaks_for(m.sender, h.payer) && !speaks_for(m.sender, h.payee) {
                return Err("not_hold_party");
            }
            if h.arbiter.is_none() {
                return Err("no_arbiter");
            }
            if h.phase != HoldPhase::Accepted {
                return Err("wrong_hold_phase");
            }
            if now > h.deadline + HOLD_GRACE_MS_DEFAULT {
                return Err("too_late_to_dispute");
            }
            HoldPhase::Disputed
        };
        self.holds[m.target.expect("live")].phase = next;
        Ok(())
    }

    fn offer(&mut self, op: &Op, m: &MTx, id: OfferId) -> Result<(), &'static str> {
        if let Op::OfferOpen { .. } = op {
            if self.open_offers(m.sender) >= OFFERS_OPEN_PER_PROVIDER_MAX {
                return Err("too_many_offers");
            }
            if self.balances[m.sender] < OFFER_DEPOSIT {
                return Err("insufficient_funds");
            }
            self.balances[m.sender] -= OFFER_DEPOSIT;
            self.offers.push(MOffer {
                id,
                provider: m.sender,
                price: 1,
                open: true,
            });
            return Ok(());
        }
        let i = m
            .target
            .filter(|&i| self.offers[i].open)
            .ok_or("unknown_offer")?;
        let provider = self.offers[i].provider;
        match *op {
            Op::OfferUpdate { price, .. } if m.sender == provider => self.offers[i].price = price,
            Op::OfferClose { .. } if speaks_for(m.sender, provider) => {
                self.offers[i].open = false;
                self.balances[provider] += OFFER_DEPOSIT;
            }
            _ => return Err("not_provider"),
        }
        Ok(())
    }

    fn apply(
        &mut self,
        op: &Op,
        m: &MTx,
        ids: (HoldId, OfferId),
        now: u64,
    ) -> Result<(), &'static str> {
        match op {
            Op::Create(c) => self.create(c, ids.0, now),
            Op::Accept { .. } => self.advance(m, true, now),
            Op::Dispute { .. } => self.advance(m, false, now),
            Op::Release { evidence, .. } => self.release(m, *evidence, now),
            Op::Refund { .. } => self.refund(m, now),
            Op::Decide { share, .. } => self.decide(m, *share, now),
            Op::OfferOpen { .. } | Op::OfferUpdate { .. } | Op::OfferClose { .. } => {
                self.offer(op, m, ids.1)
            }
        }
    }
}

fn to_payee(amount: u64, share: u8) -> u64 {
    match share {
        0 => 0,
        1 => amount / 2,
        2 => amount,
        _ => amount + 1,
    }
}

fn life(h: &MHold) -> (u64, u64) {
    (h.created_at, h.deadline)
}

/// Resolves `op` against the model and builds its transaction kind.
fn build(model: &Model, op: &Op, now: u64, unknown: (HoldId, OfferId)) -> (MTx, TxKind) {
    let needs = match op {
        Op::Accept { .. } => Some(HoldPhase::Open),
        Op::Dispute { .. } => Some(HoldPhase::Accepted),
        Op::Decide { .. } => Some(HoldPhase::Disputed),
        _ => None,
    };
    let ready = |h: &MHold| needs.is_none_or(|p| h.phase == p);
    let hold_of = |pick| resolve(&model.holds, |h: &MHold| h.ended.is_none(), ready, pick);
    let offer_of = |pick| resolve(&model.offers, |o: &MOffer| o.open, |_| true, pick);
    let hold_id = |i: Option<usize>| i.map_or(unknown.0, |i| model.holds[i].id);
    let offer_id = |i: Option<usize>| i.map_or(unknown.1, |i| model.offers[i].id);
    // A hold never made has actor 5 for payer, 6 for payee and arbiter.
    let sender = |who: Who, i: Option<usize>| {
        let h = i.map(|i| &model.holds[i]);
        let (payer, payee) = h.map_or((5, 6), |h| (h.payer, h.payee));
        match who {
            Who::Payer => payer,
            Who::PayerOwner => PRINCIPAL[payer],
            Who::Payee => payee,
            Who::PayeeOwner => PRINCIPAL[payee],
            Who::Arbiter => h.and_then(|h| h.arbiter).unwrap_or(ARBITER),
            Who::Actor(a) => a,
        }
    };
    let offer_sender = |who: OfferWho, i: Option<usize>| {
        let provider = i.map_or(0, |i| model.offers[i].provider);
        match who {
            OfferWho::Provider => provider,
            OfferWho::Owner => PRINCIPAL[provider],
            OfferWho::Actor(a) => a,
        }
    };
    let on_hold = |who, pick, kind: &dyn Fn(HoldId, Option<usize>) -> TxKind| {
        let i = hold_of(pick);
        let m = MTx {
            sender: sender(who, i),
            target: i,
        };
        (m, kind(hold_id(i), i))
    };
    match op {
        Op::Create(c) => (
            MTx {
                sender: c.payer,
                target: None,
            },
            TxKind::HoldCreate {
                terms: hold_terms(c, now),
            },
        ),
        Op::Accept { who, hold } => on_hold(*who, *hold, &|hold, _| TxKind::HoldAccept { hold }),
        Op::Release {
            who,
            hold,
            evidence,
        } => on_hold(*who, *hold, &|id, i| TxKind::HoldRelease {
            hold: id,
            evidence: evidence.map(|e| evidence_for(e, id, i.map(|i| life(&model.holds[i])), now)),
        }),
        Op::Refund { who, hold } => on_hold(*who, *hold, &|hold, _| TxKind::HoldRefund { hold }),
        Op::Dispute { who, hold } => on_hold(*who, *hold, &|hold, _| TxKind::HoldDispute {
            hold,
            reason: Hash32::digest(&[b"reason"]),
        }),
        Op::Decide { who, hold, share } => on_hold(*who, *hold, &|id, i| TxKind::HoldDecide {
            hold: id,
            to_payee: Amount::new(to_payee(i.map_or(1, |i| model.holds[i].amount), *share)),
        }),
        Op::OfferOpen { provider } => (
            MTx {
                sender: *provider,
                target: None,
            },
            TxKind::OfferOpen {
                terms: offer_terms(1),
            },
        ),
        Op::OfferUpdate { who, offer, price } => {
            let i = offer_of(*offer);
            let m = MTx {
                sender: offer_sender(*who, i),
                target: i,
            };
            let kind = TxKind::OfferUpdate {
                offer: offer_id(i),
                terms: offer_terms(*price),
            };
            (m, kind)
        }
        Op::OfferClose { who, offer } => {
            let i = offer_of(*offer);
            let m = MTx {
                sender: offer_sender(*who, i),
                target: i,
            };
            (m, TxKind::OfferClose { offer: offer_id(i) })
        }
    }
}

// ---- Agreement ----

fn holds_agree(state: &State, model: &Model) -> Result<(), TestCaseError> {
    for (i, m) in model.holds.iter().enumerate() {
        let real = state.hold(&m.id);
        prop_assert_eq!(real.is_some(), m.ended.is_none(), "hold {} open", i);
        if let Some(h) = real {
            prop_assert_eq!(h.payer, actor(m.payer).account());
            prop_assert_eq!(h.terms.payee, actor(m.payee).account());
            prop_assert_eq!(h.terms.amount, Amount::new(m.amount));
            prop_assert_eq!(h.terms.deadline, Timestamp(m.deadline));
            prop_assert_eq!(h.created_at, Timestamp(m.created_at));
            prop_assert_eq!(h.deposit, Amount::new(HOLD_DEPOSIT));
            prop_assert_eq!(h.phase, m.phase, "phase of hold {}", i);
            prop_assert_eq!(h.unrelated, m.unrelated, "hold {} unrelated", i);
        }
    }
    let open: Vec<&MHold> = model.holds.iter().filter(|h| h.ended.is_none()).collect();
    prop_assert_eq!(state.holds().count(), open.len());
    let offers: Vec<&MOffer> = model.offers.iter().filter(|o| o.open).collect();
    prop_assert_eq!(state.offers().count(), offers.len());
    for (i, m) in model.offers.iter().enumerate() {
        let real = state.offer(&m.id);
        prop_assert_eq!(real.is_some(), m.open, "offer {} listed", i);
        if let Some(o) = real {
            prop_assert_eq!(o.provider, actor(m.provider).account());
            prop_assert_eq!(o.terms.price, Amount::new(m.price));
        }
    }
    for a in 0..ACTORS {
        let id = actor(a).account();
        prop_assert_eq!(
            state.open_hold_count(&id),
            model.open_holds(a),
            "holds of {}",
            a
        );
        prop_assert_eq!(
            state.open_offer_count(&id),
            model.open_offers(a),
            "offers of {}",
            a
        );
    }
    let locked: u64 = open.iter().map(|h| h.amount + HOLD_DEPOSIT).sum::<u64>()
        + offers.len() as u64 * OFFER_DEPOSIT;
    prop_assert_eq!(state.locked_sum(), Some(Amount::new(locked)), "locked");
    Ok(())
}

fn reputations_agree(state: &State, model: &Model) -> Result<(), TestCaseError> {
    for a in 0..ACTORS {
        let id = actor(a).account();
        let mut counted = 0;
        for (c, category) in CATEGORIES.iter().enumerate() {
            let real = state.reputation(&id, category);
            let want = model.reps.get(&(a, c));
            prop_assert_eq!(
                real.is_some(),
                want.is_some(),
                "reputation of {} in {}",
                a,
                category
            );
            let (Some(r), Some(w)) = (real, want) else {
                continue;
            };
            counted += 1;
            let pair = |t: ting_core::market::reputation::Tally| (t.count, t.value.base_units());
            let got = [
                pair(r.released),
                pair(r.late),
                pair(r.withdrawn),
                pair(r.lost),
            ];
            prop_assert_eq!(got, w.tallies, "tallies of {} in {}", a, category);
            prop_assert_eq!(r.last_at, Timestamp(w.last_at));
            let buyers: Vec<AccountId> = w.buyers.iter().copied().collect();
            prop_assert_eq!(&r.buyers, &buyers, "buyers of {} in {}", a, category);
        }
        prop_assert_eq!(state.reputations_of(&id, "").count(), counted);
    }
    Ok(())
}

fn agrees(state: &State, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        state.held_sum(),
        Some(state.supply()),
        "supply not conserved"
    );
    sums_walked(state)?;
    for (i, want) in model.balances.iter().enumerate() {
        let real = state
            .account(&actor(i).account())
            .map_or(0, |a| a.balance.base_units());
        prop_assert_eq!(real, *want, "balance of actor {}", i);
    }
    holds_agree(state, model)?;
    reputations_agree(state, model)
}

// ---- The run ----

fn end_block(
    state: &mut State,
    now: u64,
    pending: &mut Vec<SignedTx>,
    blocks: &mut Vec<Block>,
) -> Result<(), TestCaseError> {
    let b = block(state, now, std::mem::take(pending));
    state.commit_block(&b.header).expect("block follows");
    prop_assert_eq!(
        state.committed_root(),
        state.recomputed_root(),
        "incremental root at height {}",
        state.height().0
    );
    blocks.push(b);
    Ok(())
}

/// Block 1: the devices registered, the actors without a genesis
/// allocation funded.
fn setup(state: &mut State, now: u64) -> Vec<SignedTx> {
    let mut txs = vec![
        register(&actor(0), 0, &actor(1)),
        register(&actor(0), 1, &actor(2)),
        register(&actor(3), 0, &actor(4)),
    ];
    for (n, a) in [1, 2, 4, 6, 7].into_iter().enumerate() {
        txs.push(transfer(&key(0), n as u64, actor(a).account(), FUND));
    }
    for t in &txs {
        state.apply_tx(t, Timestamp(now)).expect("setup applies");
    }
    txs
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let genesis = genesis(START);
    let mut state = State::from_genesis(&genesis, 42);
    let mut now = T0;
    let mut pending = setup(&mut state, now);
    let mut blocks = Vec::new();
    end_block(&mut state, now, &mut pending, &mut blocks)?;
    let mut balances = [FUND; ACTORS];
    for a in [0, 3, 5] {
        balances[a] = START;
    }
    let mut model = Model {
        balances,
        holds: Vec::new(),
        offers: Vec::new(),
        reps: BTreeMap::new(),
    };
    agrees(&state, &model)?;
    let unknown = (
        HoldId(Hash32::digest(&[b"no such hold"])),
        OfferId(Hash32::digest(&[b"no such offer"])),
    );
    for step in steps {
        let op = match step {
            Step::Tx(op) => op,
            Step::Wait(ms) => {
                end_block(&mut state, now, &mut pending, &mut blocks)?;
                now += ms;
                continue;
            }
        };
        let (m, kind) = build(&model, op, now, unknown);
        let sender = actor(m.sender);
        let nonce = state.next_nonce(&sender.account());
        let t = tx(&sender, sender.account(), nonce.0, kind);
        let ids = (
            t.opened_hold().unwrap_or(unknown.0),
            t.opened_offer().unwrap_or(unknown.1),
        );
        let before = state.digest();
        let got = state.apply_tx(&t, Timestamp(now));
        let want = model.apply(op, &m, ids, now);
        prop_assert_eq!(code(got), want, "op {:?} from actor {}", op, m.sender);
        if want.is_ok() {
            pending.push(t);
            prop_assert_eq!(state.next_nonce(&sender.account()).0, nonce.0 + 1);
        } else {
            prop_assert_eq!(state.digest(), before, "refusal changed state");
        }
        agrees(&state, &model)?;
    }
    end_block(&mut state, now, &mut pending, &mut blocks)?;
    replays_exactly(&genesis, &blocks, &state)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn holds_agree_with_the_model(steps in steps()) {
        run(&steps)?;
    }
}
