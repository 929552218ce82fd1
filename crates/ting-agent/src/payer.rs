//! `DurablePayer`: a payer whose every step is on disk before it is used.
//!
//! `pay` writes the advanced state (and waits for `fdatasync`) before it
//! returns the payment, so after a crash the payer resumes past every tick or
//! voucher it ever handed out: it never reveals one tick for two purchases
//! and never pays twice. A crash between the write and the send loses at
//! most that one payment; `last_payment` gives it back to send again.

use std::path::Path;

use ting_core::channel::payer::{NewSegment, Payer, Prepared};
use ting_core::{Amount, ChannelId, Keypair, Payment, Timestamp};

use crate::dir::{channel_path, Role};
use crate::error::{DurablePayError, DurableTopUpError, StoreError};
use crate::record::RecordFile;
use ting_core::channel::state_bytes::{decode_payer, encode_payer};

/// A payer kept in `<dir>/payer/<channel>.chan`.
#[derive(Debug)]
pub struct DurablePayer {
    payer: Payer,
    file: RecordFile,
}

impl DurablePayer {
    /// Persists a new channel's payer (before its open transaction is sent,
    /// so its seed is never lost). Fails if the channel's file exists.
    pub fn create(dir: &Path, payer: Payer) -> Result<DurablePayer, StoreError> {
        let path = channel_path(dir, Role::Payer, &payer.terms().channel);
        let file = RecordFile::create(&path, &encode_payer(payer.state()))?;
        Ok(DurablePayer { payer, file })
    }

    /// Opens a channel's payer from its newest whole record.
    pub fn open(dir: &Path, channel: &ChannelId) -> Result<DurablePayer, StoreError> {
        let (file, bytes) = RecordFile::open(&channel_path(dir, Role::Payer, channel))?;
        let payer = Payer::restore(decode_payer(&bytes)?)?;
        if payer.terms().channel != *channel {
            return Err(StoreError::WrongChannel {
                found: payer.terms().channel.to_hex(),
            });
        }
        Ok(DurablePayer { payer, file })
    }

    pub fn payer(&self) -> &Payer {
        &self.payer
    }

    /// Reveals the tick `units` further; durable before it is returned.
    pub fn pay(&mut self, units: u64, now: Timestamp) -> Result<Payment, DurablePayError> {
        let prepared = self.payer.prepare_pay(units, now)?;
        Ok(self.persist(prepared)?)
    }

    /// Signs a voucher for `amount` more; durable before it is returned.
    pub fn pay_amount(
        &mut self,
        amount: Amount,
        now: Timestamp,
        key: &Keypair,
    ) -> Result<Payment, DurablePayError> {
        let prepared = self.payer.prepare_pay_amount(amount, now, key)?;
        Ok(self.persist(prepared)?)
    }

    /// The last payment handed out, to send again when its delivery is in doubt.
    pub fn last_payment(&self) -> Option<Payment> {
        self.payer.last_payment()
    }

    /// Records a top-up the ledger confirmed (see `Payer::prepare_top_up`).
    pub fn top_up(
        &mut self,
        amount: Amount,
        expires_at: Timestamp,
        extension: Option<NewSegment>,
    ) -> Result<(), DurableTopUpError> {
        let prepared = self.payer.prepare_top_up(amount, expires_at, extension)?;
        Ok(self.persist(prepared)?)
    }

    fn persist<T>(&mut self, prepared: Prepared<T>) -> Result<T, StoreError> {
        self.file.write(&encode_payer(prepared.state()))?;
        Ok(self.payer.commit(prepared))
    }
}
