//! `DurablePayee`: a payee that keeps every payment it acknowledges.
//!
//! `accept` writes the new best proof (and waits for `fdatasync`) before it
//! returns `Ok`, and the caller delivers only after `Ok`: a payment the
//! payee delivered for is never lost to a crash. A refused payment writes
//! nothing.

use std::path::Path;

use ting_core::channel::payee::{Accepted, ClaimPolicy, Payee, PlanError};
use ting_core::{Amount, ChainSegment, ChannelId, ChannelProof, Payment, Timestamp};

use crate::dir::{channel_path, Role};
use crate::error::{DurableAcceptError, DurableClaimError, DurableTopUpError, StoreError};
use crate::record::RecordFile;
use ting_core::channel::state_bytes::{decode_payee, encode_payee};

/// A payee kept in `<dir>/payee/<channel>.chan`.
#[derive(Debug)]
pub struct DurablePayee {
    payee: Payee,
    file: RecordFile,
}

impl DurablePayee {
    /// Persists a payee for a channel the ledger opened. Fails if its file exists.
    pub fn create(dir: &Path, payee: Payee) -> Result<DurablePayee, StoreError> {
        let path = channel_path(dir, Role::Payee, &payee.terms().channel);
        let file = RecordFile::create(&path, &encode_payee(payee.state()))?;
        Ok(DurablePayee { payee, file })
    }

    /// Opens a channel's payee from its newest whole record.
    pub fn open(dir: &Path, channel: &ChannelId) -> Result<DurablePayee, StoreError> {
        let (file, bytes) = RecordFile::open(&channel_path(dir, Role::Payee, channel))?;
        let payee = Payee::restore(decode_payee(&bytes)?)?;
        if payee.terms().channel != *channel {
            return Err(StoreError::WrongChannel {
                found: payee.terms().channel.to_hex(),
            });
        }
        Ok(DurablePayee { payee, file })
    }

    pub fn payee(&self) -> &Payee {
        &self.payee
    }

    /// Decodes and accepts a payment as the messaging layer carried it.
    pub fn accept(&mut self, bytes: &[u8], now: Timestamp) -> Result<Accepted, DurableAcceptError> {
        self.accept_payment(&Payment::decode(bytes)?, now)
    }

    /// Accepts a payment; durable before `Ok` is returned.
    pub fn accept_payment(
        &mut self,
        payment: &Payment,
        now: Timestamp,
    ) -> Result<Accepted, DurableAcceptError> {
        let mut next = self.payee.clone();
        let accepted = next.accept(payment, now)?;
        self.persist(next)?;
        Ok(accepted)
    }

    /// The claims to send now (see `Payee::claim_plan`); writes nothing.
    pub fn claim_plan(
        &self,
        now: Timestamp,
        policy: &ClaimPolicy,
    ) -> Result<Vec<ChannelProof>, PlanError> {
        self.payee.claim_plan(now, policy)
    }

    /// Records a claim the ledger confirmed.
    pub fn record_claim(&mut self, proof: &ChannelProof) -> Result<(), DurableClaimError> {
        let mut next = self.payee.clone();
        next.record_claim(proof)?;
        Ok(self.persist(next)?)
    }

    /// Records a top-up the ledger confirmed.
    pub fn record_top_up(
        &mut self,
        amount: Amount,
        expires_at: Timestamp,
        extension: Option<(u32, ChainSegment)>,
    ) -> Result<(), DurableTopUpError> {
        let mut next = self.payee.clone();
        next.record_top_up(amount, expires_at, extension)?;
        Ok(self.persist(next)?)
    }

    fn persist(&mut self, next: Payee) -> Result<(), StoreError> {
        if next != self.payee {
            self.file.write(&encode_payee(next.state()))?;
            self.payee = next;
        }
        Ok(())
    }
}
