//! The buyer's side of a service: call for proposals, choose by policy,
//! pay into a hold, release it on evidence (docs/market.md §5).
//!
//! A contract moves through these statuses, each saved before anything
//! that depends on it goes out:
//!
//! - `calling`: the call is published and proposals come in, until the
//!   call's `answer_by` (and one proposal window more per counter round);
//! - `holding`: a proposal was chosen and the hold's id is known; the
//!   `hold_create` is in the outbox. After a crash the buyer waits for the
//!   outbox to drain and asks the ledger: the hold is there (go on) or it
//!   never will be (choose again);
//! - `accepted`: the hold exists and the provider was told; the buyer waits
//!   for the service. After the deadline and its grace it takes the money
//!   back (`hold_refund`);
//! - `releasing`: evidence (or the payer's word) is being presented;
//! - `released`, `refunded`, `ended` (the hold ended some other way, as the
//!   ledger shows), `no_proposal`: done.

use std::collections::BTreeMap;

use ting_core::market::cfp::{Accept, Call, Counter, Decline, Proposal};
use ting_core::market::{HoldTerms, ReleaseRule};
use ting_core::{AccountId, Amount, Hash32, Timestamp};

use super::contract::{Contract, ContractDir};
use super::policy::{Candidate, Policy};
use super::{MarketError, CONTRACTS_OPEN_MAX, PROPOSALS_PER_CALL_MAX};
use crate::device::{Device, Message, SubmitError, TxError};

/// How many of the best proposals a counter-offer goes to.
mod settle;

const COUNTER_TO_MAX: usize = 3;
/// How often an accepted hold is looked up on the ledger, to see it end.
const POLL_MS: u64 = 5_000;

const CALLING: &str = "calling";
const HOLDING: &str = "holding";
const ACCEPTED: &str = "accepted";
const RELEASING: &str = "releasing";

/// What the buyer needs, in the terms of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub category: String,
    /// Where: a geohash (empty for anywhere).
    pub area: String,
    pub spec: String,
    pub max_price: Amount,
    /// How long proposals are taken, in ms.
    pub answer_within_ms: u64,
    /// When the service is due, in ms from now.
    pub deliver_within_ms: u64,
    /// The hold's grace after the deadline, in ms
    /// (`limits::HOLD_GRACE_MS_DEFAULT` is an hour).
    pub grace_ms: u64,
    pub rounds: u8,
    pub rule: ReleaseRule,
    pub arbiter: Option<AccountId>,
}

/// What happened, for the app's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuyerEvent {
    Called {
        call: Hash32,
    },
    Proposed {
        call: Hash32,
        provider: AccountId,
        price: Amount,
    },
    Countered {
        call: Hash32,
        round: u8,
        providers: usize,
    },
    Chose {
        call: Hash32,
        provider: AccountId,
        price: Amount,
        hold: ting_core::market::HoldId,
    },
    NoProposal {
        call: Hash32,
    },
    /// The ledger refused the hold for `provider`'s proposal (`code`: the
    /// buyer lacks the funds, say); the buyer chooses among the others.
    HoldRefused {
        call: Hash32,
        provider: AccountId,
        code: String,
    },
    Released {
        call: Hash32,
    },
    Refunded {
        call: Hash32,
    },
    Ended {
        call: Hash32,
    },
}

/// A buyer on one device.
#[derive(Debug)]
pub struct Buyer {
    /// The network's time, read through the device's clock.
    clock: crate::clock::NetworkClock,
    dir: ContractDir,
    policy: Policy,
    contracts: BTreeMap<Hash32, Contract>,
    /// Calls published since this buyer started (a restart publishes again).
    published: std::collections::BTreeSet<Hash32>,
    next_poll: BTreeMap<Hash32, u64>,
}

fn is_open(c: &Contract) -> bool {
    matches!(c.status.as_str(), CALLING | HOLDING | ACCEPTED | RELEASING)
}

impl Buyer {
    /// Opens the buyer of `device`, with the contracts it kept.
    pub fn open(device: &Device, policy: Policy) -> Result<Buyer, MarketError> {
        let dir = ContractDir::open(device.state_dir(), "buyer")?;
        let contracts = dir.load()?.into_iter().map(|c| (c.id(), c)).collect();
        Ok(Buyer {
            clock: device.clock(),
            dir,
            policy,
            contracts,
            published: Default::default(),
            next_poll: BTreeMap::new(),
        })
    }

    /// Every contract kept, open or ended.
    pub fn contracts(&self) -> impl Iterator<Item = &Contract> {
        self.contracts.values()
    }

    pub fn contract(&self, call: &Hash32) -> Option<&Contract> {
        self.contracts.get(call)
    }

    /// Never choose `provider` again (its owner's policy: say it missed a
    /// deadline); see [`Policy::avoid`].
    pub fn avoid(&mut self, provider: AccountId) {
        self.policy.avoid(provider);
    }

    /// Signs a call for `need`, saves it and publishes it.
    pub async fn call(&mut self, device: &Device, need: Need) -> Result<Hash32, MarketError> {
        if self.contracts.values().filter(|c| is_open(c)).count() >= CONTRACTS_OPEN_MAX {
            return Err(MarketError::TooManyContracts);
        }
        let at = self.clock.now();
        // Unique among this buyer's calls, even two in one millisecond.
        let last = self.contracts.values().map(|c| c.call.call.id).max();
        let id = last.map_or(at.0, |l| l.saturating_add(1).max(at.0));
        let call = Call {
            genesis: device.genesis_hash(),
            buyer: device.account(),
            id,
            issued_at: at,
            answer_by: at.saturating_add_ms(need.answer_within_ms),
            deliver_by: at.saturating_add_ms(need.deliver_within_ms),
            grace_ms: need.grace_ms,
            category: need.category,
            area: need.area,
            spec: need.spec,
            max_price: need.max_price.min(self.policy.max_price),
            rounds: need.rounds,
            rule: need.rule,
            arbiter: need.arbiter,
        };
        call.check().map_err(|e| MarketError::BadCall(e.0))?;
        let signed = call.sign(device.key());
        let contract = Contract::new(signed.clone(), CALLING);
        self.dir.save(&contract)?;
        let id = contract.id();
        self.contracts.insert(id, contract);
        device.publish_call(&signed);
        self.published.insert(id);
        Ok(id)
    }

    /// Takes a proposal or a decline meant for one of this buyer's calls;
    /// other messages are not its business and answer `None`.
    pub fn on_message(&mut self, msg: &Message) -> Result<Option<BuyerEvent>, MarketError> {
        match msg {
            Message::Proposal { from, proposal } => self.on_proposal(*from, proposal),
            Message::Decline { from, decline } => {
                let Some(c) = self.contracts.get_mut(&decline.call) else {
                    return Ok(None);
                };
                if c.status == CALLING {
                    c.proposals.retain(|(who, _)| who != from);
                    self.dir.save(c)?;
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn on_proposal(
        &mut self,
        from: AccountId,
        p: &Proposal,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let Some(c) = self.contracts.get_mut(&p.call) else {
            return Ok(None);
        };
        let fresh = c.status == CALLING
            && p.round == c.round
            && from != c.call.call.buyer
            && p.fits(&c.call).is_ok();
        let known = c.proposals.iter().any(|(who, _)| *who == from);
        if !fresh || (!known && c.proposals.len() >= PROPOSALS_PER_CALL_MAX) {
            return Ok(None);
        }
        c.proposals.retain(|(who, _)| *who != from);
        c.proposals.push((from, p.clone()));
        self.dir.save(c)?;
        Ok(Some(BuyerEvent::Proposed {
            call: p.call,
            provider: from,
            price: p.price,
        }))
    }

    /// Does what time asks: publishes calls again after a restart, decides
    /// calls whose proposals are in, resumes holds, takes late holds back.
    pub async fn tick(&mut self, device: &Device) -> Result<Vec<BuyerEvent>, MarketError> {
        let at = self.clock.now();
        let mut events = Vec::new();
        let open: Vec<Hash32> = self
            .contracts
            .iter()
            .filter(|(_, c)| is_open(c))
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            if let Some(e) = self.step(device, &id, at).await? {
                events.push(e);
            }
        }
        Ok(events)
    }

    async fn step(
        &mut self,
        device: &Device,
        id: &Hash32,
        at: Timestamp,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let c = self.contracts.get(id).expect("listed open").clone();
        match c.status.as_str() {
            CALLING if at >= decide_at(&c) => self.decide(device, c, at).await,
            CALLING => {
                if self.published.insert(*id) {
                    device.publish_call(&c.call);
                }
                Ok(None)
            }
            HOLDING => self.resume_holding(device, c, at).await,
            ACCEPTED => self.watch_accepted(device, c, at).await,
            RELEASING => match c.evidence.clone() {
                Some(e) => self.present(device, c, Some(e)).await,
                None => self.present(device, c, None).await,
            },
            _ => Ok(None),
        }
    }

    async fn candidates(
        &self,
        device: &Device,
        c: &Contract,
    ) -> Result<Vec<Candidate>, MarketError> {
        let mut out = Vec::with_capacity(c.proposals.len());
        for (provider, proposal) in &c.proposals {
            let reputation = match device
                .http()
                .reputation(provider, &c.call.call.category)
                .await
            {
                Ok(r) => r,
                // A network with no block yet has no record of anyone: each
                // provider is a newcomer, which the policy caps.
                Err(e) if e.code() == "no_signed_state" => None,
                Err(e) => return Err(e.into()),
            };
            out.push(Candidate {
                provider: *provider,
                proposal: proposal.clone(),
                reputation,
            });
        }
        Ok(out)
    }

    async fn decide(
        &mut self,
        device: &Device,
        mut c: Contract,
        at: Timestamp,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let call_id = c.id();
        let candidates = self.candidates(device, &c).await?;
        let ranked = self.policy.rank(&c.call, &candidates, at);
        let Some(best) = ranked.first().copied().cloned() else {
            c.status = "no_proposal".into();
            self.save(c)?;
            return Ok(Some(BuyerEvent::NoProposal { call: call_id }));
        };
        if self.policy.wants_better(&best.proposal) && c.round < c.call.call.rounds {
            let round = c.round.saturating_add(1);
            let window = window_ms(&c.call.call);
            let sent: Vec<(AccountId, Counter)> = ranked
                .iter()
                .take(COUNTER_TO_MAX)
                .map(|cand| {
                    (
                        cand.provider,
                        self.counter(&c, &cand.proposal, round, at, window),
                    )
                })
                .collect();
            c.round = round;
            c.proposals.clear();
            self.save(c)?;
            for (to, counter) in &sent {
                device.send_counter(*to, counter).await?;
            }
            return Ok(Some(BuyerEvent::Countered {
                call: call_id,
                round,
                providers: sent.len(),
            }));
        }
        self.take(device, c, best).await
    }

    fn counter(
        &self,
        c: &Contract,
        p: &Proposal,
        round: u8,
        at: Timestamp,
        window: u64,
    ) -> Counter {
        Counter {
            call: c.id(),
            round,
            price: self.policy.target_price.map_or(p.price, |t| t.min(p.price)),
            deliver_by: p.deliver_by,
            warranty_ms: p.warranty_ms.max(self.policy.min_warranty_ms),
            valid_until: at.saturating_add_ms(window),
        }
    }

    /// Pays `best` into a hold, tells its provider and declines the others.
    async fn take(
        &mut self,
        device: &Device,
        mut c: Contract,
        best: Candidate,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let call = &c.call.call;
        let terms = HoldTerms {
            payee: best.provider,
            amount: best.proposal.price,
            deadline: best.proposal.deliver_by,
            grace_ms: call.grace_ms,
            terms: best.proposal.terms_hash(&best.provider),
            category: call.category.clone(),
            rule: call.rule.clone(),
            arbiter: call.arbiter,
        };
        c.chosen = Some((best.provider, best.proposal.clone()));
        c.status = HOLDING.into();
        let dir = self.dir.clone();
        let (_, ticket) = device
            .create_hold(terms, |hold| {
                c.hold = Some(hold);
                dir.save(&c)
            })
            .await?;
        self.contracts.insert(c.id(), c.clone());
        match ticket.wait().await {
            Ok(_) => self.accepted(device, c).await,
            Err(TxError::Refused { code, .. }) => {
                // The hold cannot be made (the money is not there, or the
                // provider cannot be paid): choose among the others.
                c.proposals.retain(|(who, _)| *who != best.provider);
                c.chosen = None;
                c.hold = None;
                c.status = CALLING.into();
                let call = c.id();
                self.save(c)?;
                Ok(Some(BuyerEvent::HoldRefused {
                    call,
                    provider: best.provider,
                    code,
                }))
            }
            Err(e) => Err(MarketError::Submit(SubmitError::Tx(e))),
        }
    }

    /// Tells the chosen provider which hold pays for its proposal.
    async fn send_accept(&self, device: &Device, c: &Contract) -> Result<(), MarketError> {
        let (provider, proposal) = c.chosen.as_ref().expect("a chosen contract");
        let accept = Accept {
            call: c.id(),
            proposal: proposal.terms_hash(provider),
            hold: c.hold.expect("a chosen contract names its hold"),
        };
        device.send_accept(*provider, &accept).await?;
        Ok(())
    }

    /// The hold exists: tell the chosen provider, decline the others.
    async fn accepted(
        &mut self,
        device: &Device,
        mut c: Contract,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let (provider, proposal) = c.chosen.clone().expect("a chosen contract");
        let hold = c.hold.expect("a holding contract names its hold");
        c.status = ACCEPTED.into();
        let call = c.id();
        let others: Vec<AccountId> = c
            .proposals
            .iter()
            .map(|(who, _)| *who)
            .filter(|who| *who != provider)
            .collect();
        self.save(c.clone())?;
        self.send_accept(device, &c).await?;
        for other in others {
            let decline = Decline {
                call,
                round: proposal.round,
                code: "chose_another".into(),
                message: "another proposal ranked first".into(),
            };
            device.send_decline(other, &decline).await?;
        }
        Ok(Some(BuyerEvent::Chose {
            call,
            provider,
            price: proposal.price,
            hold,
        }))
    }

    /// After a restart in `holding`: the hold is on the ledger (go on), or,
    /// once nothing is left in the outbox, it never will be (choose again).
    async fn resume_holding(
        &mut self,
        device: &Device,
        mut c: Contract,
        _at: Timestamp,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let hold = c.hold.expect("a holding contract names its hold");
        if device.http().hold(&hold).await?.is_some() {
            return self.accepted(device, c).await;
        }
        if device.outbox_len() > 0 {
            return Ok(None);
        }
        c.status = CALLING.into();
        c.hold = None;
        c.chosen = None;
        self.save(c)?;
        Ok(None)
    }

    fn save(&mut self, c: Contract) -> Result<(), MarketError> {
        self.dir.save(&c)?;
        self.contracts.insert(c.id(), c);
        Ok(())
    }
}

/// How long one proposal window lasts: the call's own.
fn window_ms(call: &Call) -> u64 {
    call.answer_by.0.saturating_sub(call.issued_at.0)
}

/// When a calling contract decides: the call's `answer_by`, and one window
/// more per counter round started.
fn decide_at(c: &Contract) -> Timestamp {
    let window = window_ms(&c.call.call);
    c.call
        .call
        .answer_by
        .saturating_add_ms(window.saturating_mul(u64::from(c.round)))
}
