//! The provider's side of a service: answer calls with a pricing function,
//! take the job on once the buyer's hold is on the ledger, and present the
//! evidence that pays it (docs/market.md §6).
//!
//! Statuses, each saved before anything that depends on it goes out:
//! `proposed` (a proposal went to the buyer), `accepting` (the buyer named
//! a hold; it is checked against the ledger, with its proof, before the
//! provider accepts it), `accepted` (the provider's `hold_accept` landed:
//! the job is on), `presenting` (evidence is being presented), and the
//! ends `paid`, `ended` (the hold ended another way) and `declined`.
//! A call that was never taken leaves no file once its proposal expires.
//!
//! Every call is checked before any work is spent on it: its signature,
//! its network, that it came on its buyer's own topic, that this provider
//! serves its category and area, that proposals are still taken, and a
//! budget of calls per buyer per minute. Refusals are counted by code.

use std::collections::BTreeMap;

use ting_core::market::cfp::{Call, Counter, Decline, Proposal, SignedCall};
use ting_core::market::{area_serves, category_covers, Hold, HoldPhase, OfferId, SignedEvidence};
use ting_core::{topics, AccountId, Amount, Hash32, Timestamp, TxKind};

use super::contract::{Contract, ContractDir};
use super::{MarketError, CONTRACTS_OPEN_MAX};
use crate::device::{Device, Message, SubmitError, TxError};

/// Calls one buyer may have answered per minute: a buyer that floods its
/// topic gets no more of this provider's work.
pub const CALLS_PER_BUYER_PER_MIN: u32 = 10;
/// Buyers whose call budget is remembered; past it the oldest minute is forgotten.
const BUDGETS_MAX: usize = 4096;
/// How often an accepted hold is looked up on the ledger, to see it end.
const POLL_MS: u64 = 5_000;
/// How long a proposal is kept past its `valid_until`: a buyer that took
/// it in time may still be making the hold, or its `accept` still on its way.
const PROPOSAL_KEPT_MS: u64 = 60_000;
/// Bytes of a call read from a topic.
pub const CALL_BYTES_MAX: usize = 2048;

const PROPOSED: &str = "proposed";
const ACCEPTING: &str = "accepting";
const ACCEPTED: &str = "accepted";
const PRESENTING: &str = "presenting";

/// What the provider asks for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub price: Amount,
    /// How long after now the service will be delivered, in ms.
    pub deliver_in_ms: u64,
    pub warranty_ms: u64,
    pub note: String,
}

/// The pricing function: a quote for a call (with the buyer's counter-offer,
/// when answering one), or `None` to stay silent (or decline a counter).
pub type Pricing = Box<dyn FnMut(&Call, Option<&Counter>) -> Option<Quote> + Send>;

/// What a provider serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Categories it answers calls in (and every category under each).
    pub categories: Vec<String>,
    /// Where it serves: a geohash prefix, empty for anywhere.
    pub area: String,
    /// The listed offer its proposals come from, if any.
    pub offer: Option<OfferId>,
}

/// What happened, for the app: `Job` is the one to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderEvent {
    Proposed {
        call: Hash32,
        buyer: AccountId,
        price: Amount,
    },
    /// The hold is on the ledger and accepted: deliver by `deliver_by`.
    Job {
        call: Hash32,
        buyer: AccountId,
        hold: ting_core::market::HoldId,
        spec: String,
        deliver_by: Timestamp,
    },
    Paid {
        call: Hash32,
        amount: Amount,
    },
    Ended {
        call: Hash32,
    },
    Declined {
        call: Hash32,
    },
}

/// A provider on one device.
pub struct Provider {
    /// The network's time, read through the device's clock.
    clock: crate::clock::NetworkClock,
    dir: ContractDir,
    config: ProviderConfig,
    pricing: Pricing,
    contracts: BTreeMap<Hash32, Contract>,
    /// Calls answered per buyer in the current minute.
    budgets: BTreeMap<AccountId, (u64, u32)>,
    refused: BTreeMap<&'static str, u64>,
    next_poll: BTreeMap<Hash32, u64>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("config", &self.config)
            .field("contracts", &self.contracts.len())
            .field("refused", &self.refused)
            .finish()
    }
}

fn is_open(c: &Contract) -> bool {
    matches!(
        c.status.as_str(),
        PROPOSED | ACCEPTING | ACCEPTED | PRESENTING
    )
}

impl Provider {
    /// Opens the provider of `device` with the contracts it kept, and
    /// follows the calls of its categories.
    pub fn open(
        device: &Device,
        config: ProviderConfig,
        pricing: Pricing,
    ) -> Result<Provider, MarketError> {
        for category in &config.categories {
            if !device.follow_calls(category) {
                return Err(MarketError::BadCall(
                    "a category to serve is not a category, or too many are followed",
                ));
            }
        }
        let dir = ContractDir::open(device.state_dir(), "provider")?;
        let contracts = dir.load()?.into_iter().map(|c| (c.id(), c)).collect();
        Ok(Provider {
            clock: device.clock(),
            dir,
            config,
            pricing,
            contracts,
            budgets: BTreeMap::new(),
            refused: BTreeMap::new(),
            next_poll: BTreeMap::new(),
        })
    }

    /// Calls and messages refused, by code.
    pub fn refused(&self) -> &BTreeMap<&'static str, u64> {
        &self.refused
    }

    pub fn contracts(&self) -> impl Iterator<Item = &Contract> {
        self.contracts.values()
    }

    /// Takes a call, counter, accept, decline or evidence meant for this
    /// provider; other messages answer `None`.
    pub async fn on_message(
        &mut self,
        device: &Device,
        msg: &Message,
    ) -> Result<Option<ProviderEvent>, MarketError> {
        match msg {
            Message::Call { topic, bytes } => match self.check_call(device, topic, bytes) {
                Ok(call) => self.propose(device, call).await,
                Err(code) => {
                    *self.refused.entry(code).or_default() += 1;
                    Ok(None)
                }
            },
            Message::Counter { from, counter } => self.on_counter(device, *from, counter).await,
            Message::Accept { from, accept } => {
                let Some(mut c) = self.mine(&accept.call, from, PROPOSED) else {
                    return Ok(None);
                };
                let agreed = c.chosen.as_ref().map(|(me, p)| p.terms_hash(me));
                if agreed != Some(accept.proposal) {
                    *self.refused.entry("accept_mismatch").or_default() += 1;
                    return Ok(None);
                }
                c.status = ACCEPTING.into();
                c.hold = Some(accept.hold);
                self.save(c)?;
                self.take_job(device, &accept.call).await
            }
            Message::Decline { from, decline } => {
                let Some(mut c) = self.mine(&decline.call, from, PROPOSED) else {
                    return Ok(None);
                };
                c.status = "declined".into();
                self.forget(&c)?;
                Ok(Some(ProviderEvent::Declined { call: c.id() }))
            }
            Message::Evidence { from, note } => {
                let hold = note.evidence.evidence.hold;
                let found = self
                    .contracts
                    .values()
                    .find(|c| {
                        c.hold == Some(hold) && c.call.call.buyer == *from && c.status == ACCEPTED
                    })
                    .map(Contract::id);
                match found {
                    Some(call) => self.present(device, &call, note.evidence.clone()).await,
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// The open contract for `call` with `buyer`, in `status`.
    fn mine(&self, call: &Hash32, buyer: &AccountId, status: &str) -> Option<Contract> {
        self.contracts
            .get(call)
            .filter(|c| c.call.call.buyer == *buyer && c.status == status)
            .cloned()
    }

    /// Every check a call must pass before any work is spent on it.
    fn check_call(
        &mut self,
        device: &Device,
        topic: &str,
        bytes: &[u8],
    ) -> Result<SignedCall, &'static str> {
        if bytes.len() > CALL_BYTES_MAX {
            return Err("call_too_long");
        }
        let call = SignedCall::from_bytes(bytes).map_err(|_| "bad_call")?;
        let c = &call.call;
        if c.genesis != device.genesis_hash() {
            return Err("wrong_network");
        }
        if topic != topics::calls(&c.buyer, &c.category) {
            return Err("topic_mismatch");
        }
        if c.buyer == device.account() {
            return Err("own_call");
        }
        let served = self
            .config
            .categories
            .iter()
            .any(|cat| category_covers(cat, &c.category));
        if !served || !area_serves(&self.config.area, &c.area) {
            return Err("not_served");
        }
        if self.clock.now() >= c.answer_by {
            return Err("call_closed");
        }
        if self.contracts.contains_key(&call.hash()) {
            return Err("call_known");
        }
        if self.contracts.values().filter(|c| is_open(c)).count() >= CONTRACTS_OPEN_MAX {
            return Err("too_many_contracts");
        }
        call.verify().map_err(|_| "bad_call_signature")?;
        self.spend_budget(&c.buyer)?;
        Ok(call)
    }

    fn spend_budget(&mut self, buyer: &AccountId) -> Result<(), &'static str> {
        let minute = self.clock.now().0 / 60_000;
        if self.budgets.len() >= BUDGETS_MAX && !self.budgets.contains_key(buyer) {
            self.budgets.retain(|_, (m, _)| *m == minute);
            if self.budgets.len() >= BUDGETS_MAX {
                return Err("rate_limited");
            }
        }
        let entry = self.budgets.entry(*buyer).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= CALLS_PER_BUYER_PER_MIN {
            return Err("rate_limited");
        }
        entry.1 = entry.1.saturating_add(1);
        Ok(())
    }

    fn quote_to_proposal(&self, call: &SignedCall, round: u8, q: &Quote) -> Option<Proposal> {
        let c = &call.call;
        let at = self.clock.now();
        let window = c.answer_by.0.saturating_sub(c.issued_at.0);
        let proposal = Proposal {
            call: call.hash(),
            round,
            price: q.price,
            deliver_by: at.saturating_add_ms(q.deliver_in_ms),
            warranty_ms: q.warranty_ms,
            valid_until: c
                .answer_by
                .saturating_add_ms(window.saturating_mul(u64::from(c.rounds).saturating_add(1))),
            offer: self.config.offer,
            note: q
                .note
                .chars()
                .take(ting_core::limits::PROPOSAL_NOTE_BYTES_MAX / 4)
                .collect(),
        };
        proposal.fits(call).is_ok().then_some(proposal)
    }

    async fn propose(
        &mut self,
        device: &Device,
        call: SignedCall,
    ) -> Result<Option<ProviderEvent>, MarketError> {
        let Some(quote) = (self.pricing)(&call.call, None) else {
            return Ok(None);
        };
        let Some(proposal) = self.quote_to_proposal(&call, 0, &quote) else {
            *self.refused.entry("cannot_meet_call").or_default() += 1;
            return Ok(None);
        };
        let buyer = call.call.buyer;
        let mut c = Contract::new(call, PROPOSED);
        c.chosen = Some((device.account(), proposal.clone()));
        self.save(c.clone())?;
        device.send_proposal(buyer, &proposal).await?;
        Ok(Some(ProviderEvent::Proposed {
            call: c.id(),
            buyer,
            price: proposal.price,
        }))
    }

    async fn on_counter(
        &mut self,
        device: &Device,
        from: AccountId,
        counter: &Counter,
    ) -> Result<Option<ProviderEvent>, MarketError> {
        let Some(mut c) = self.mine(&counter.call, &from, PROPOSED) else {
            return Ok(None);
        };
        if counter.round != c.round.saturating_add(1) || counter.round > c.call.call.rounds {
            *self.refused.entry("counter_out_of_round").or_default() += 1;
            return Ok(None);
        }
        let quote = (self.pricing)(&c.call.call, Some(counter));
        let proposal = quote.and_then(|q| self.quote_to_proposal(&c.call, counter.round, &q));
        c.round = counter.round;
        let Some(proposal) = proposal else {
            let decline = Decline {
                call: c.id(),
                round: counter.round,
                code: "counter_refused".into(),
                message: "the counter-offer is not one this provider takes".into(),
            };
            self.save(c)?;
            device.send_decline(from, &decline).await?;
            return Ok(None);
        };
        c.chosen = Some((device.account(), proposal.clone()));
        self.save(c.clone())?;
        device.send_proposal(from, &proposal).await?;
        Ok(Some(ProviderEvent::Proposed {
            call: c.id(),
            buyer: from,
            price: proposal.price,
        }))
    }

    /// Checks the named hold against the ledger, with its proof, and
    /// accepts it if it is exactly what was agreed.
    async fn take_job(
        &mut self,
        device: &Device,
        call: &Hash32,
    ) -> Result<Option<ProviderEvent>, MarketError> {
        let mut c = self
            .contracts
            .get(call)
            .cloned()
            .ok_or(MarketError::UnknownContract(*call))?;
        let hold_id = c.hold.expect("an accepting contract names its hold");
        let Some(hold) = device.http().hold(&hold_id).await? else {
            // Not on the ledger (yet, or it already ended): asked again on the next tick.
            return Ok(None);
        };
        if let Err(why) = agreed(&c, &hold, &device.account()) {
            c.status = "declined".into();
            self.forget(&c)?;
            let decline = Decline {
                call: *call,
                round: c.round,
                code: "hold_mismatch".into(),
                message: why.into(),
            };
            device.send_decline(c.call.call.buyer, &decline).await?;
            return Err(MarketError::HoldMismatch {
                hold: hold_id.to_hex(),
                why,
            });
        }
        if hold.phase == HoldPhase::Open {
            match device.submit(TxKind::HoldAccept { hold: hold_id }).await {
                Ok(_) => {}
                // A copy sent before a crash landed first.
                Err(SubmitError::Tx(TxError::Refused { code, .. }))
                    if code == "wrong_hold_phase" => {}
                Err(e) => return Err(e.into()),
            }
        }
        c.status = ACCEPTED.into();
        self.save(c.clone())?;
        let deliver_by = c
            .chosen
            .as_ref()
            .map_or(Timestamp(0), |(_, p)| p.deliver_by);
        Ok(Some(ProviderEvent::Job {
            call: *call,
            buyer: c.call.call.buyer,
            hold: hold_id,
            spec: c.call.call.spec.clone(),
            deliver_by,
        }))
    }

    /// Presents `evidence` for the hold of `call` to the ledger.
    pub async fn present(
        &mut self,
        device: &Device,
        call: &Hash32,
        evidence: SignedEvidence,
    ) -> Result<Option<ProviderEvent>, MarketError> {
        let mut c = self
            .contracts
            .get(call)
            .cloned()
            .ok_or(MarketError::UnknownContract(*call))?;
        let hold = c.hold.ok_or(MarketError::UnknownContract(*call))?;
        c.status = PRESENTING.into();
        c.evidence = Some(evidence.clone());
        self.save(c.clone())?;
        let amount = c.chosen.as_ref().map_or(Amount::ZERO, |(_, p)| p.price);
        let release = TxKind::HoldRelease {
            hold,
            evidence: Some(evidence),
        };
        c.evidence = None;
        match device.submit(release).await {
            Ok(_) => {
                c.status = "paid".into();
                self.save(c)?;
                Ok(Some(ProviderEvent::Paid {
                    call: *call,
                    amount,
                }))
            }
            // The buyer presented it first: the hold has ended.
            Err(SubmitError::Tx(TxError::Refused { code, .. })) if code == "unknown_hold" => {
                self.ended(c)
            }
            Err(SubmitError::Tx(TxError::Refused { .. })) => {
                c.status = ACCEPTED.into();
                self.save(c)?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn ended(&mut self, mut c: Contract) -> Result<Option<ProviderEvent>, MarketError> {
        let call = c.id();
        c.status = "ended".into();
        self.save(c)?;
        Ok(Some(ProviderEvent::Ended { call }))
    }

    /// Resumes what a crash interrupted and notices holds that ended.
    pub async fn tick(&mut self, device: &Device) -> Result<Vec<ProviderEvent>, MarketError> {
        let at = self.clock.now();
        let mut events = Vec::new();
        let open: Vec<Contract> = self
            .contracts
            .values()
            .filter(|c| is_open(c))
            .cloned()
            .collect();
        for c in open {
            let id = c.id();
            let event = match c.status.as_str() {
                PROPOSED
                    if c.chosen.as_ref().is_some_and(|(_, p)| {
                        p.valid_until.saturating_add_ms(PROPOSAL_KEPT_MS) < at
                    }) =>
                {
                    self.forget(&c)?;
                    None
                }
                ACCEPTING => self.take_job(device, &id).await?,
                PRESENTING => match c.evidence.clone() {
                    Some(e) => self.present(device, &id, e).await?,
                    None => None,
                },
                ACCEPTED if at.0 >= self.next_poll.get(&id).copied().unwrap_or(0) => {
                    self.next_poll.insert(id, at.0.saturating_add(POLL_MS));
                    let hold = c.hold.expect("an accepted contract names its hold");
                    match device.http().hold(&hold).await? {
                        None => self.ended(c)?,
                        Some(_) => None,
                    }
                }
                _ => None,
            };
            events.extend(event);
        }
        Ok(events)
    }

    fn save(&mut self, c: Contract) -> Result<(), MarketError> {
        self.dir.save(&c)?;
        self.contracts.insert(c.id(), c);
        Ok(())
    }

    /// Drops a contract that never held money, file and all.
    fn forget(&mut self, c: &Contract) -> Result<(), MarketError> {
        self.contracts.remove(&c.id());
        self.dir.remove(&c.id())
    }
}

/// Whether `hold` is the hold the contract agreed on, paying `me`.
fn agreed(c: &Contract, hold: &Hold, me: &AccountId) -> Result<(), &'static str> {
    let (_, proposal) = c.chosen.as_ref().ok_or("no proposal was made")?;
    let call = &c.call.call;
    let t = &hold.terms;
    let checks = [
        (hold.payer == call.buyer, "the payer is not the buyer"),
        (t.payee == *me, "the payee is not this provider"),
        (t.amount == proposal.price, "the amount is not the price"),
        (
            t.terms == proposal.terms_hash(me),
            "the terms are not the proposal",
        ),
        (
            t.deadline == proposal.deliver_by,
            "the deadline is not the delivery time",
        ),
        (t.grace_ms == call.grace_ms, "the grace is not the call's"),
        (
            hold.created_at <= proposal.valid_until,
            "the hold was made after the proposal expired",
        ),
        (
            t.category == call.category,
            "the category is not the call's",
        ),
        (t.rule == call.rule, "the release rule is not the call's"),
        (t.arbiter == call.arbiter, "the arbiter is not the call's"),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, why)) => Err(why),
        None => Ok(()),
    }
}
