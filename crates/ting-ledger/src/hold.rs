//! Escrow holds in the ledger state: create, accept, release, refund,
//! dispute and decide.
//!
//! Money conservation: an open hold locks its amount and the payer's
//! deposit; every way a hold ends pays exactly those two out (the amount to
//! the payee, to the payer, or split by the arbiter; the deposit to the
//! payer) and takes the record out of the state, so a hold is released or
//! refunded once and never both. An ended hold's history stays in the
//! blocks; its outcome stays in the payee's reputation (`reputation`).
//!
//! Who may do what (docs/market.md §2): the payer's side is the payer or
//! its owner, the payee's side the payee or its owner.
//! - accept: the payee, while the hold is open and not past its deadline;
//! - release: the payer's side at any time; the arbiter under an arbiter
//!   rule; anyone with matching evidence under an evidence rule, unless
//!   disputed;
//! - refund: the payee's side at any time; the payer's side before the
//!   payee accepts, after the deadline and the hold's grace once accepted,
//!   or after the arbiter's window once disputed;
//! - dispute: either side of an accepted hold with an arbiter, until the
//!   deadline and the hold's grace end;
//! - decide: the arbiter of a disputed hold.

use ting_core::limits::{
    EVIDENCE_CLOCK_SKEW_MS, HOLDS_OPEN_PER_PAYER_MAX, HOLD_ARBITER_MS, HOLD_DEADLINE_MAX_MS,
    HOLD_DEPOSIT,
};
use ting_core::market::reputation::Outcome;
use ting_core::market::{Hold, HoldId, HoldPhase, HoldTerms, ReleaseRule, SignedEvidence};
use ting_core::{AccountId, Amount, Nonce, Timestamp};

use crate::apply::debited;
use crate::channel::Sender;
use crate::error::TxError;
use crate::state::State;

impl State {
    /// Every open hold, in no particular order.
    pub fn holds(&self) -> impl Iterator<Item = (&HoldId, &Hold)> {
        self.holds.iter()
    }

    pub fn hold(&self, id: &HoldId) -> Option<&Hold> {
        self.holds.get(id)
    }

    /// How many holds `payer` has open.
    pub fn open_hold_count(&self, payer: &AccountId) -> usize {
        self.open_holds.get(payer).map_or(0, |&n| n as usize)
    }

    /// Who `id` answers to: its owner if it is a registered device, else itself.
    pub fn principal(&self, id: &AccountId) -> AccountId {
        self.devices.get(id).map_or(*id, |d| d.owner)
    }

    /// Whether `sender` is `party` or `party`'s owner.
    pub(crate) fn speaks_for(&self, sender: &AccountId, party: &AccountId) -> bool {
        sender == party || self.devices.get(party).is_some_and(|d| d.owner == *sender)
    }

    pub(crate) fn hold_create(
        &mut self,
        (id, account, next): Sender,
        nonce: Nonce,
        terms: &HoldTerms,
        at: Timestamp,
    ) -> Result<(), TxError> {
        check_terms(&id, terms, at)?;
        let open = self.open_holds.get(&id).copied().unwrap_or(0);
        if open as usize >= HOLDS_OPEN_PER_PAYER_MAX {
            return Err(TxError::TooManyHolds {
                payer: id,
                max: HOLDS_OPEN_PER_PAYER_MAX,
            });
        }
        let hold_id = HoldId::derive(&self.genesis_hash, &id, nonce);
        if self.holds.contains_key(&hold_id) {
            return Err(TxError::HoldExists(hold_id));
        }
        let deposit = Amount::new(HOLD_DEPOSIT);
        let locked = terms.amount.checked_add(deposit).ok_or(TxError::Overflow)?;
        let balance = debited(&account, locked)?;
        let spend = self.spend_check(&id, locked, at)?;
        let unrelated = self.principal(&id) != self.principal(&terms.payee);
        self.put(id, balance, next);
        self.record_spend(&id, spend);
        self.open_holds.insert(id, open.saturating_add(1));
        self.note_hold(&hold_id);
        self.set_hold(
            hold_id,
            Some(Hold {
                payer: id,
                deposit,
                created_at: at,
                phase: HoldPhase::Open,
                unrelated,
                terms: terms.clone(),
            }),
        );
        Ok(())
    }

    fn open_hold(&self, id: &HoldId) -> Result<&Hold, TxError> {
        self.holds.get(id).ok_or(TxError::UnknownHold(*id))
    }

    pub(crate) fn hold_accept(
        &mut self,
        sender: Sender,
        id: &HoldId,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let hold = self.open_hold(id)?;
        if hold.terms.payee != sender.0 {
            return Err(TxError::NotHoldParty(*id));
        }
        need_phase(id, hold, HoldPhase::Open, "open")?;
        if at > hold.terms.deadline {
            return Err(TxError::HoldPastDeadline {
                hold: *id,
                deadline: hold.terms.deadline,
            });
        }
        let mut updated = hold.clone();
        updated.phase = HoldPhase::Accepted;
        self.touch(sender);
        self.note_hold(id);
        self.set_hold(*id, Some(updated));
        Ok(())
    }

    pub(crate) fn hold_release(
        &mut self,
        sender: Sender,
        id: &HoldId,
        evidence: Option<&SignedEvidence>,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let hold = self.open_hold(id)?;
        match evidence {
            Some(e) => self.check_evidence(id, hold, e, at)?,
            None => {
                let by_arbiter = hold.terms.arbiter == Some(sender.0)
                    && matches!(hold.terms.rule, ReleaseRule::Arbiter);
                if !by_arbiter && !self.speaks_for(&sender.0, &hold.payer) {
                    return Err(TxError::NotHoldParty(*id));
                }
            }
        }
        let hold = hold.clone();
        let credits = [
            (hold.terms.payee, hold.terms.amount),
            (hold.payer, hold.deposit),
        ];
        self.end_hold(sender, id, &hold, &credits)?;
        if hold.phase != HoldPhase::Open {
            self.count_outcome(&hold, Outcome::Released, at);
        }
        Ok(())
    }

    fn check_evidence(
        &self,
        id: &HoldId,
        hold: &Hold,
        signed: &SignedEvidence,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let ReleaseRule::Evidence { device, template } = &hold.terms.rule else {
            return Err(TxError::NoEvidenceRule(*id));
        };
        if hold.phase == HoldPhase::Disputed {
            return Err(wrong_phase(id, hold, "open or accepted"));
        }
        let e = &signed.evidence;
        if e.hold != *id {
            return Err(TxError::EvidenceForOtherHold(*id));
        }
        if e.observed_at < hold.created_at
            || e.observed_at > hold.terms.deadline
            || e.observed_at > at.saturating_add_ms(EVIDENCE_CLOCK_SKEW_MS)
        {
            return Err(TxError::EvidenceOutOfTime {
                hold: *id,
                observed_at: e.observed_at,
            });
        }
        signed
            .verify(&self.genesis_hash, device)
            .map_err(|_| TxError::BadEvidenceSignature(*id))?;
        template
            .matches(e)
            .map_err(|field| TxError::EvidenceMismatch {
                hold: *id,
                field: field.to_owned(),
            })
    }

    pub(crate) fn hold_refund(
        &mut self,
        sender: Sender,
        id: &HoldId,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let hold = self.open_hold(id)?;
        let outcome = if self.speaks_for(&sender.0, &hold.terms.payee) {
            (hold.phase != HoldPhase::Open).then_some(Outcome::Withdrawn)
        } else if self.speaks_for(&sender.0, &hold.payer) {
            let wait = match hold.phase {
                HoldPhase::Open => None,
                HoldPhase::Accepted => Some(hold.terms.grace_ms),
                HoldPhase::Disputed => Some(HOLD_ARBITER_MS),
            };
            if let Some(wait) = wait {
                let from = hold.terms.deadline.saturating_add_ms(wait);
                if at <= from {
                    return Err(TxError::TooEarlyToRefund { hold: *id, from });
                }
            }
            // Only a hold its payee accepted and let pass is late; one
            // whose arbiter never decided is nobody's outcome.
            (hold.phase == HoldPhase::Accepted).then_some(Outcome::Late)
        } else {
            return Err(TxError::NotHoldParty(*id));
        };
        let hold = hold.clone();
        let back = hold.locked().ok_or(TxError::Overflow)?;
        self.end_hold(sender, id, &hold, &[(hold.payer, back)])?;
        if let Some(outcome) = outcome {
            self.count_outcome(&hold, outcome, at);
        }
        Ok(())
    }

    pub(crate) fn hold_dispute(
        &mut self,
        sender: Sender,
        id: &HoldId,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let hold = self.open_hold(id)?;
        if !self.speaks_for(&sender.0, &hold.payer)
            && !self.speaks_for(&sender.0, &hold.terms.payee)
        {
            return Err(TxError::NotHoldParty(*id));
        }
        if hold.terms.arbiter.is_none() {
            return Err(TxError::NoArbiter(*id));
        }
        need_phase(id, hold, HoldPhase::Accepted, "accepted")?;
        let until = hold.terms.deadline.saturating_add_ms(hold.terms.grace_ms);
        if at > until {
            return Err(TxError::TooLateToDispute { hold: *id, until });
        }
        let mut updated = hold.clone();
        updated.phase = HoldPhase::Disputed;
        self.touch(sender);
        self.note_hold(id);
        self.set_hold(*id, Some(updated));
        Ok(())
    }

    pub(crate) fn hold_decide(
        &mut self,
        sender: Sender,
        id: &HoldId,
        to_payee: Amount,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let hold = self.open_hold(id)?;
        if hold.terms.arbiter != Some(sender.0) {
            return Err(TxError::NotHoldParty(*id));
        }
        need_phase(id, hold, HoldPhase::Disputed, "disputed")?;
        let amount = hold.terms.amount;
        let to_payer = amount
            .checked_sub(to_payee)
            .ok_or(TxError::DecisionOverAmount { hold: *id, amount })?;
        let hold = hold.clone();
        let credits = [
            (hold.terms.payee, to_payee),
            (hold.payer, to_payer),
            (hold.payer, hold.deposit),
        ];
        self.end_hold(sender, id, &hold, &credits)?;
        let outcome = if to_payee == amount {
            Outcome::Released
        } else {
            Outcome::Lost
        };
        self.count_outcome(&hold, outcome, at);
        Ok(())
    }

    /// Pays out an ending hold and takes it out of the state: every new
    /// balance is computed before any is written.
    fn end_hold(
        &mut self,
        sender: Sender,
        id: &HoldId,
        hold: &Hold,
        credits: &[(AccountId, Amount)],
    ) -> Result<(), TxError> {
        self.pay_out(sender, credits)?;
        let open = self.open_holds.get(&hold.payer).copied().unwrap_or(0);
        if open <= 1 {
            self.open_holds.remove(&hold.payer);
        } else {
            self.open_holds.insert(hold.payer, open.saturating_sub(1));
        }
        self.note_hold(id);
        self.set_hold(*id, None);
        Ok(())
    }

    /// Credits each `(account, amount)` and advances the sender's nonce, or
    /// changes nothing if any credit cannot be made.
    pub(crate) fn pay_out(
        &mut self,
        (id, account, next): Sender,
        credits: &[(AccountId, Amount)],
    ) -> Result<(), TxError> {
        let mut merged: Vec<(AccountId, Amount)> = Vec::with_capacity(credits.len());
        for &(to, amount) in credits.iter().filter(|(_, a)| !a.is_zero()) {
            match merged.iter_mut().find(|(a, _)| *a == to) {
                Some(entry) => entry.1 = entry.1.checked_add(amount).ok_or(TxError::Overflow)?,
                None => merged.push((to, amount)),
            }
        }
        let mut own = account.balance;
        let mut writes = Vec::with_capacity(merged.len());
        for (to, amount) in merged {
            if to == id {
                own = own.checked_add(amount).ok_or(TxError::Overflow)?;
            } else {
                let (balance, nonce) = self.credited(&to, amount)?;
                writes.push((to, balance, nonce));
            }
        }
        self.put(id, own, next);
        for (to, balance, nonce) in writes {
            self.put(to, balance, nonce);
        }
        Ok(())
    }

    /// Moves the payee's reputation by how an accepted hold ended, unless
    /// payer and payee answer to one owner.
    fn count_outcome(&mut self, hold: &Hold, outcome: Outcome, at: Timestamp) {
        if !hold.unrelated {
            return;
        }
        let buyer = self.principal(&hold.payer);
        self.record_outcome(
            &hold.terms.payee,
            &hold.terms.category,
            outcome,
            hold.terms.amount,
            buyer,
            at,
        );
    }
}

/// What a hold's terms must be to be created by `payer` at `at`.
fn check_terms(payer: &AccountId, terms: &HoldTerms, at: Timestamp) -> Result<(), TxError> {
    terms
        .check()
        .map_err(|e| TxError::InvalidHold(e.0.to_owned()))?;
    let parties = [
        Some(terms.payee),
        terms.arbiter,
        match &terms.rule {
            ReleaseRule::Evidence { device, .. } => Some(*device),
            _ => None,
        },
    ];
    for party in parties.into_iter().flatten() {
        party
            .check_valid()
            .map_err(|e| TxError::InvalidHold(format!("{party} cannot take part: {e}")))?;
    }
    if terms.payee == *payer {
        return Err(TxError::InvalidHold("the payer cannot be the payee".into()));
    }
    if terms.arbiter == Some(*payer) {
        return Err(TxError::InvalidHold(
            "the payer cannot be the arbiter".into(),
        ));
    }
    if terms.deadline <= at {
        return Err(TxError::BadDeadline(format!(
            "the deadline {} is not after the block's time {at}",
            terms.deadline
        )));
    }
    let latest = at.saturating_add_ms(HOLD_DEADLINE_MAX_MS);
    if terms.deadline > latest {
        return Err(TxError::BadDeadline(format!(
            "the deadline {} is more than 366 days after the block's time {at}",
            terms.deadline
        )));
    }
    Ok(())
}

fn wrong_phase(id: &HoldId, hold: &Hold, needed: &'static str) -> TxError {
    TxError::WrongHoldPhase {
        hold: *id,
        phase: hold.phase.name(),
        needed,
    }
}

fn need_phase(
    id: &HoldId,
    hold: &Hold,
    phase: HoldPhase,
    needed: &'static str,
) -> Result<(), TxError> {
    if hold.phase == phase {
        Ok(())
    } else {
        Err(wrong_phase(id, hold, needed))
    }
}
