//! Leases in the ledger state: opened by fills (`orders`), paid out as the
//! buyer's signed delivery counts land, closed when they end.
//!
//! Money conservation: a lease locks the price of its undelivered units. A
//! count pays the provider for the units above the last one; closing pays
//! a last count, if given, and gives the rest back to the buyer; a lease
//! whose every unit is paid ends by itself. Who may do what
//! (docs/market.md §10): anyone may present a count (the money only goes to
//! the provider) until `LEASE_GRACE_MS` after the lease's end; the
//! provider's side may close at any time; anyone may close after the grace.

use ting_core::limits::LEASE_GRACE_MS;
use ting_core::resource::{DeliveryCount, Lease, LeaseId};
use ting_core::{AccountId, Amount, Signature, Timestamp};

use crate::channel::Sender;
use crate::error::TxError;
use crate::state::State;

impl State {
    pub fn lease(&self, id: &LeaseId) -> Option<&Lease> {
        self.leases.get(id)
    }

    /// Every open lease, in no particular order.
    pub fn leases(&self) -> impl Iterator<Item = (&LeaseId, &Lease)> {
        self.leases.iter()
    }

    /// How many leases `buyer` has open.
    pub fn open_lease_count(&self, buyer: &AccountId) -> usize {
        self.open_leases.get(buyer).map_or(0, |&n| n as usize)
    }

    /// Puts a lease a fill made in the state.
    pub(crate) fn open_lease(&mut self, id: LeaseId, lease: Lease) {
        let open = self.open_leases.entry(lease.buyer).or_default();
        *open = open.saturating_add(1);
        self.note_lease(&id);
        self.set_lease(id, Some(lease));
    }

    pub(crate) fn lease_settle(
        &mut self,
        sender: Sender,
        id: &LeaseId,
        count: u64,
        signature: &Signature,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let lease = self.leases.get(id).ok_or(TxError::UnknownLease(*id))?;
        let pay = self.counted(id, lease, count, signature, at)?;
        let mut after = lease.clone();
        after.delivered = count;
        let provider = lease.provider;
        self.pay_out(sender, &[(provider, pay)])?;
        if after.delivered == after.quantity {
            self.end_lease(id);
        } else {
            self.note_lease(id);
            self.set_lease(*id, Some(after));
        }
        Ok(())
    }

    pub(crate) fn lease_close(
        &mut self,
        sender: Sender,
        id: &LeaseId,
        count: Option<&(u64, Signature)>,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let lease = self.leases.get(id).ok_or(TxError::UnknownLease(*id))?;
        let from = lease.ends_at.saturating_add_ms(LEASE_GRACE_MS);
        if !self.speaks_for(&sender.0, &lease.provider) && at <= from {
            return Err(TxError::TooEarlyToCloseLease { lease: *id, from });
        }
        let (to_provider, delivered) = match count {
            Some((count, signature)) => (self.counted(id, lease, *count, signature, at)?, *count),
            None => (Amount::ZERO, lease.delivered),
        };
        let to_buyer = lease
            .price
            .checked_mul(lease.quantity.saturating_sub(delivered))
            .ok_or(TxError::Overflow)?;
        let credits = [(lease.provider, to_provider), (lease.buyer, to_buyer)];
        self.pay_out(sender, &credits)?;
        self.end_lease(id);
        Ok(())
    }

    /// What a count pays the provider, once it is checked: in time, above
    /// the last, within the lease, signed by the buyer.
    fn counted(
        &self,
        id: &LeaseId,
        lease: &Lease,
        count: u64,
        signature: &Signature,
        at: Timestamp,
    ) -> Result<Amount, TxError> {
        let until = lease.ends_at.saturating_add_ms(LEASE_GRACE_MS);
        if at > until {
            return Err(TxError::CountTooLate { lease: *id, until });
        }
        if count <= lease.delivered {
            return Err(TxError::StaleCount {
                lease: *id,
                delivered: lease.delivered,
            });
        }
        if count > lease.quantity {
            return Err(TxError::CountOverQuantity {
                lease: *id,
                quantity: lease.quantity,
            });
        }
        DeliveryCount { lease: *id, count }
            .verify(&self.genesis_hash, &lease.buyer, signature)
            .map_err(|_| TxError::BadCountSignature(*id))?;
        lease
            .price
            .checked_mul(count.saturating_sub(lease.delivered))
            .ok_or(TxError::Overflow)
    }

    fn end_lease(&mut self, id: &LeaseId) {
        let Some(lease) = self.leases.get(id) else {
            return;
        };
        let buyer = lease.buyer;
        match self.open_leases.get(&buyer).copied().unwrap_or(0) {
            0 | 1 => {
                self.open_leases.remove(&buyer);
            }
            n => {
                self.open_leases.insert(buyer, n.saturating_sub(1));
            }
        }
        self.note_lease(id);
        self.set_lease(*id, None);
    }
}
