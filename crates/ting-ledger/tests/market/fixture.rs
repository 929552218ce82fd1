//! What the market's cases share: the actors, the terms and transaction
//! kinds they use, and a ledger fixture that checks every send (a refusal
//! changes nothing, money is conserved, the running sums equal a walk) and
//! every block (the incremental root equals a rebuilt one), and checks
//! state answers as a client does.

use super::common::*;
use ting_core::limits::{DAY_MS, HOLD_DEPOSIT, HOLD_GRACE_MS_DEFAULT};
use ting_core::market::reputation::Tally;
use ting_core::market::{
    Condition, Evidence, FieldRule, Hold, HoldId, HoldTerms, Offer, OfferId, OfferTerms,
    ReleaseRule, Reputation, SignedEvidence, Template, Value,
};
use ting_core::state_proof::{StateAnswer, StateAnswerError, StateCheck};
use ting_core::state_tree::StateProof;
use ting_core::{AccountId, Amount, Block, Genesis, Hash32, Keypair, SignedTx, Timestamp, TxKind};
use ting_ledger::{State, TxError};

/// What each genesis key (0 to 3) starts with: a thousand deposits.
pub const START: u64 = 1_000 * HOLD_DEPOSIT;
/// What the fixture gives each device, the provider and the arbiter.
pub const FUND: u64 = 10 * HOLD_DEPOSIT;
/// What the fixture's holds hold.
pub const AMOUNT: u64 = 250_000;
pub const CATEGORY: &str = "water.cartridge.replace";

/// Owns `device()` and `shop()`.
pub fn owner() -> Keypair {
    key(1)
}

pub fn stranger() -> Keypair {
    key(2)
}

/// A payer with no owner and no devices.
pub fn buyer() -> Keypair {
    key(3)
}

/// `owner()`'s device that pays.
pub fn device() -> Keypair {
    key(10)
}

/// `owner()`'s device that sells.
pub fn shop() -> Keypair {
    key(11)
}

/// A provider with no owner.
pub fn provider() -> Keypair {
    key(20)
}

pub fn arbiter() -> Keypair {
    key(21)
}

/// The device that signs evidence; it never holds money.
pub fn sensor() -> Keypair {
    key(30)
}

pub fn template() -> Template {
    Template {
        rules: vec![
            FieldRule {
                name: "event".into(),
                condition: Condition::Equals(b"cartridge_installed".to_vec()),
            },
            FieldRule {
                name: "flow_ml_min".into(),
                condition: Condition::AtLeast(500),
            },
        ],
    }
}

pub fn evidence_rule() -> ReleaseRule {
    ReleaseRule::Evidence {
        device: sensor().account(),
        template: template(),
    }
}

/// What `sensor()` observed for `hold` at `observed_at`: the cartridge
/// installed, with a flow of `flow`.
pub fn evidence(hold: HoldId, observed_at: u64, flow: u64) -> Evidence {
    Evidence {
        hold,
        observed_at: Timestamp(observed_at),
        fields: vec![
            ("event".into(), Value::Text(b"cartridge_installed".to_vec())),
            ("flow_ml_min".into(), Value::Number(flow)),
            ("serial".into(), Value::Text(b"X-2231".to_vec())),
        ],
    }
}

pub fn signed(e: Evidence) -> SignedEvidence {
    e.sign(&sensor(), &genesis_hash())
}

pub fn accept(hold: HoldId) -> TxKind {
    TxKind::HoldAccept { hold }
}

pub fn release(hold: HoldId) -> TxKind {
    TxKind::HoldRelease {
        hold,
        evidence: None,
    }
}

pub fn release_with(hold: HoldId, e: SignedEvidence) -> TxKind {
    TxKind::HoldRelease {
        hold,
        evidence: Some(e),
    }
}

pub fn refund(hold: HoldId) -> TxKind {
    TxKind::HoldRefund { hold }
}

pub fn dispute(hold: HoldId) -> TxKind {
    TxKind::HoldDispute {
        hold,
        reason: Hash32::digest(&[b"the cartridge leaks"]),
    }
}

pub fn decide(hold: HoldId, to_payee: u64) -> TxKind {
    TxKind::HoldDecide {
        hold,
        to_payee: Amount::new(to_payee),
    }
}

pub fn offer_terms(price: u64) -> OfferTerms {
    OfferTerms {
        category: "water.cartridge".into(),
        area: "u4pr".into(),
        price: Amount::new(price),
        delivery_ms: 2 * DAY_MS,
        warranty_ms: 180 * DAY_MS,
        terms: Hash32::digest(&[b"offer text"]),
    }
}

pub fn code(r: Result<(), TxError>) -> Result<(), &'static str> {
    r.map_err(|e| e.code())
}

/// The four tallies of a reputation as (count, value) pairs: released,
/// late, withdrawn, lost.
pub fn tallies(r: &Reputation) -> [(u64, u64); 4] {
    let pair = |t: Tally| (t.count, t.value.base_units());
    [
        pair(r.released),
        pair(r.late),
        pair(r.withdrawn),
        pair(r.lost),
    ]
}

/// A ledger with `owner()`'s devices `device()` and `shop()` registered,
/// and each device, `provider()` and `arbiter()` funded with [`FUND`];
/// blocks cut on demand, and every send checked.
pub struct Fixture {
    pub genesis: Genesis,
    pub state: State,
    pub at: u64,
    pub pending: Vec<SignedTx>,
    pub blocks: Vec<Block>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let genesis = genesis(START);
        let state = State::from_genesis(&genesis, 1);
        let mut f = Fixture {
            genesis,
            state,
            at: T0,
            pending: Vec::new(),
            blocks: Vec::new(),
        };
        let owner = owner();
        for d in [device(), shop()] {
            let nonce = f.state.next_nonce(&owner.account()).0;
            f.apply(register(&owner, nonce, &d)).expect("registers");
        }
        for who in [device(), shop(), provider(), arbiter()] {
            f.fund(&who.account(), FUND);
        }
        f.commit();
        f
    }

    /// Applies `t` at the fixture's time: a refusal must leave the state
    /// byte for byte and the sender's nonce where it was, money must be
    /// conserved and the running sums must equal a walk.
    pub fn apply(&mut self, t: SignedTx) -> Result<(), TxError> {
        let before = self.state.digest();
        let result = self.state.apply_tx(&t, Timestamp(self.at));
        match result {
            Ok(()) => self.pending.push(t),
            Err(_) => assert_eq!(self.state.digest(), before, "a refusal changed the state"),
        }
        assert_eq!(self.state.held_sum(), Some(self.state.supply()), "supply");
        let running = (self.state.balance_sum(), self.state.locked_sum());
        assert_eq!(running, self.state.walked_sums(), "running sums");
        result
    }

    pub fn tx_of(&self, who: &Keypair, kind: TxKind) -> SignedTx {
        let nonce = self.state.next_nonce(&who.account()).0;
        tx(who, who.account(), nonce, kind)
    }

    pub fn send(&mut self, who: &Keypair, kind: TxKind) -> Result<(), TxError> {
        let t = self.tx_of(who, kind);
        self.apply(t)
    }

    /// The issuer (key 0) sends `amount` to `to`.
    pub fn fund(&mut self, to: &AccountId, amount: u64) {
        let kind = TxKind::Transfer {
            to: *to,
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        self.send(&key(0), kind).expect("funds");
    }

    /// Terms for [`AMOUNT`] to `payee` in [`CATEGORY`], due a day from now,
    /// released by the payer, with no arbiter.
    pub fn terms(&self, payee: &Keypair) -> HoldTerms {
        HoldTerms {
            payee: payee.account(),
            amount: Amount::new(AMOUNT),
            deadline: Timestamp(self.at + DAY_MS),
            grace_ms: HOLD_GRACE_MS_DEFAULT,
            terms: Hash32::digest(&[b"the accepted proposal"]),
            category: CATEGORY.into(),
            rule: ReleaseRule::Payer,
            arbiter: None,
        }
    }

    /// Terms released by `sensor()`'s evidence, with `arbiter()`.
    pub fn evidence_terms(&self, payee: &Keypair) -> HoldTerms {
        HoldTerms {
            rule: evidence_rule(),
            arbiter: Some(arbiter().account()),
            ..self.terms(payee)
        }
    }

    /// Terms released by `arbiter()`.
    pub fn arbiter_terms(&self, payee: &Keypair) -> HoldTerms {
        HoldTerms {
            rule: ReleaseRule::Arbiter,
            arbiter: Some(arbiter().account()),
            ..self.terms(payee)
        }
    }

    /// `payer` creates a hold on `terms`; returns its id.
    pub fn create(&mut self, payer: &Keypair, terms: HoldTerms) -> HoldId {
        let t = self.tx_of(payer, TxKind::HoldCreate { terms });
        let id = t.opened_hold().expect("a create names its hold");
        self.apply(t).expect("creates");
        id
    }

    /// `payer` creates a hold on `terms` and its payee accepts it.
    pub fn accepted(&mut self, payer: &Keypair, payee: &Keypair, terms: HoldTerms) -> HoldId {
        let id = self.create(payer, terms);
        self.send(payee, accept(id)).expect("accepts");
        id
    }

    pub fn open_offer(&mut self, provider: &Keypair, terms: OfferTerms) -> OfferId {
        let t = self.tx_of(provider, TxKind::OfferOpen { terms });
        let id = t.opened_offer().expect("an open names its offer");
        self.apply(t).expect("lists");
        id
    }

    /// Seals the applied transactions as the next block and commits it; the
    /// incremental root must be the one rebuilt from scratch.
    pub fn commit(&mut self) {
        let b = block(&mut self.state, self.at, std::mem::take(&mut self.pending));
        self.state.commit_block(&b.header).expect("block follows");
        assert_eq!(
            self.state.committed_root(),
            self.state.recomputed_root(),
            "incremental state root at height {}",
            self.state.height().0
        );
        self.blocks.push(b);
    }

    /// Commits what is pending and moves the clock to `at`.
    pub fn wait_until(&mut self, at: u64) {
        self.commit();
        self.at = at;
    }

    pub fn balance(&self, who: &Keypair) -> u64 {
        self.state
            .account(&who.account())
            .map_or(0, |a| a.balance.base_units())
    }

    pub fn locked(&self) -> u64 {
        self.state.locked_sum().expect("fits").base_units()
    }

    pub fn reputation(&self, provider: &Keypair, category: &str) -> Option<Reputation> {
        self.state
            .reputation(&provider.account(), category)
            .cloned()
    }

    /// An answer at the last committed block, through its bytes, checked
    /// as a client checks it with `verify`.
    pub fn proved<T>(
        &self,
        (record, proof): (Option<Vec<u8>>, StateProof),
        verify: impl FnOnce(&StateAnswer, &StateCheck<'_>) -> Result<T, StateAnswerError>,
    ) -> T {
        let header = self.state.tip_header().expect("a block committed").clone();
        let answer = StateAnswer {
            header,
            record,
            proof,
        };
        let answer = StateAnswer::from_bytes(&answer.to_bytes()).expect("the answer decodes");
        let genesis = genesis_hash();
        let sequencers = [sequencer().account()];
        let check = StateCheck {
            genesis: &genesis,
            sequencers: &sequencers,
            min_height: self.state.height(),
        };
        verify(&answer, &check).expect("the answer verifies")
    }

    pub fn proved_hold(&self, id: &HoldId) -> Option<Hold> {
        self.proved(self.state.prove_hold(id), |a, c| a.verify_hold(id, c))
    }

    pub fn proved_offer(&self, id: &OfferId) -> Option<Offer> {
        self.proved(self.state.prove_offer(id), |a, c| a.verify_offer(id, c))
    }

    pub fn proved_reputation(&self, provider: &Keypair, category: &str) -> Option<Reputation> {
        let p = provider.account();
        self.proved(self.state.prove_reputation(&p, category), |a, c| {
            a.verify_reputation(&p, category, c)
        })
    }
}
