//! The buyer's side after a hold is accepted: watching it (sending the
//! accept again to a provider that has not taken it, taking the money back
//! after the deadline and grace, noticing a hold that ended), and ending it
//! with evidence, the payer's word or a dispute.

use ting_core::market::cfp::EvidenceNote;
use ting_core::market::{HoldPhase, SignedEvidence};
use ting_core::{Hash32, Timestamp, TxKind};

use super::{Buyer, BuyerEvent, ACCEPTED, POLL_MS, RELEASING};
use crate::device::{Device, SubmitError, TxError};
use crate::market::contract::Contract;
use crate::market::MarketError;

impl Buyer {
    /// Waits for the service; takes the money back once the deadline and
    /// its grace have passed (or the deadline, for a hold the provider never
    /// accepted, telling it again until then); notices a hold that ended
    /// (the provider's evidence, an arbiter's decision). Reads the hold,
    /// proved, at most every [`POLL_MS`].
    pub(super) async fn watch_accepted(
        &mut self,
        device: &Device,
        mut c: Contract,
        at: Timestamp,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let id = c.id();
        let due = self.next_poll.get(&id).copied().unwrap_or(0);
        if at.0 < due {
            return Ok(None);
        }
        self.next_poll.insert(id, at.0.saturating_add(POLL_MS));
        let hold = c.hold.expect("an accepted contract names its hold");
        let Some(held) = device.http().hold(&hold).await? else {
            return self.ended(c);
        };
        let due = match held.phase {
            // The provider has not taken the job: its `accept` may have been
            // lost with a crash, so it goes again until the deadline, after
            // which the buyer cancels the hold (which counts for no one).
            HoldPhase::Open if at <= held.terms.deadline => {
                self.send_accept(device, &c).await?;
                return Ok(None);
            }
            HoldPhase::Open => held.terms.deadline,
            HoldPhase::Accepted => held.terms.deadline.saturating_add_ms(held.terms.grace_ms),
            // The arbiter decides; the ledger shows it when it has.
            HoldPhase::Disputed => return Ok(None),
        };
        if at <= due {
            return Ok(None);
        }
        match device.submit(TxKind::HoldRefund { hold }).await {
            Ok(_) => {
                c.status = "refunded".into();
                self.save(c)?;
                Ok(Some(BuyerEvent::Refunded { call: id }))
            }
            Err(SubmitError::Tx(TxError::Refused { code, .. })) => match code.as_str() {
                "unknown_hold" => self.ended(c),
                // This machine's clock is ahead of the ledger's: next time.
                "too_early_to_refund" => Ok(None),
                _ => Err(MarketError::Refused(code)),
            },
            Err(e) => Err(e.into()),
        }
    }

    fn ended(&mut self, mut c: Contract) -> Result<Option<BuyerEvent>, MarketError> {
        let call = c.id();
        c.status = "ended".into();
        self.save(c)?;
        Ok(Some(BuyerEvent::Ended { call }))
    }

    /// The buyer's device saw the service done: passes its evidence to the
    /// provider and releases the hold with it.
    pub async fn confirm(
        &mut self,
        device: &Device,
        call: &Hash32,
        evidence: SignedEvidence,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let mut c = self.accepted_contract(call)?;
        c.evidence = Some(evidence.clone());
        c.status = RELEASING.into();
        self.save(c.clone())?;
        if let Some((provider, _)) = &c.chosen {
            let note = EvidenceNote {
                evidence: evidence.clone(),
            };
            device.send_evidence(*provider, &note).await?;
        }
        self.present(device, c, Some(evidence)).await
    }

    /// Releases the hold on the payer's word (under any rule).
    pub async fn release(
        &mut self,
        device: &Device,
        call: &Hash32,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let mut c = self.accepted_contract(call)?;
        c.status = RELEASING.into();
        self.save(c.clone())?;
        self.present(device, c, None).await
    }

    /// Hands the accepted hold of `call` to its arbiter; `reason` is the
    /// hash of the buyer's statement, which it gives the arbiter itself.
    /// The contract stays `accepted`: the arbiter's decision ends the hold,
    /// which the buyer sees on the ledger.
    pub async fn dispute(
        &mut self,
        device: &Device,
        call: &Hash32,
        reason: Hash32,
    ) -> Result<(), MarketError> {
        let c = self.accepted_contract(call)?;
        let hold = c.hold.expect("an accepted contract names its hold");
        device.submit(TxKind::HoldDispute { hold, reason }).await?;
        Ok(())
    }

    fn accepted_contract(&self, call: &Hash32) -> Result<Contract, MarketError> {
        self.contracts
            .get(call)
            .filter(|c| c.status == ACCEPTED || c.status == RELEASING)
            .cloned()
            .ok_or(MarketError::UnknownContract(*call))
    }

    pub(super) async fn present(
        &mut self,
        device: &Device,
        mut c: Contract,
        evidence: Option<SignedEvidence>,
    ) -> Result<Option<BuyerEvent>, MarketError> {
        let hold = c.hold.expect("a releasing contract names its hold");
        let call = c.id();
        match device.submit(TxKind::HoldRelease { hold, evidence }).await {
            Ok(_) => {
                c.status = "released".into();
                c.evidence = None;
                self.save(c)?;
                Ok(Some(BuyerEvent::Released { call }))
            }
            // The provider presented the same evidence first.
            Err(SubmitError::Tx(TxError::Refused { code, .. })) if code == "unknown_hold" => {
                self.ended(c)
            }
            Err(SubmitError::Tx(TxError::Refused { code, .. })) => {
                // It does not release the hold (evidence that does not meet
                // the template, a disputed hold): back to waiting, and the
                // caller hears the ledger's code.
                c.status = ACCEPTED.into();
                c.evidence = None;
                self.save(c)?;
                Err(MarketError::Refused(code))
            }
            Err(e) => Err(e.into()),
        }
    }
}
