//! Running totals of what accounts hold and what is locked: open channels,
//! stream deposits, holds (amount and deposit), offer deposits, resting
//! orders (deposit, and a bid's price) and leases (undelivered units).
//!
//! The supply check (`balances + locked in channels == minted`) is asked on
//! every `GET /v1/supply` and after every transaction in the tests; walking
//! every account and channel for it costs in proportion to the whole state,
//! under the state's lock. Instead every write of an account or a channel goes
//! through [`State::set_account`] or [`State::set_channel`], which move the
//! totals by the difference, so the sums cost O(1). [`State::walked_sums`]
//! still walks everything, for the tests that compare the two.
//!
//! The totals are `u128`: a sum of `u64` amounts over fewer than 2^64 records
//! cannot overflow it, so the running sum is exact even where the `u64` sum
//! would not be, and `None` (overflow) is answered exactly when a walk would.

use ting_core::market::{Hold, HoldId, Offer, OfferId};
use ting_core::resource::{Lease, LeaseId, Order, OrderId};
use ting_core::stream::{Stream, StreamId};
use ting_core::{AccountId, Amount, ChannelId};

use crate::channel::Channel;
use crate::state::{Account, State};

/// The sums of every balance and of what every open channel holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    balances: u128,
    locked: u128,
}

/// `total` with `old` taken out and `new` put in. `old` is part of `total`, so
/// neither step can fail unless the totals were not kept: that is a bug that
/// would misstate money, so it stops the node in release builds too.
fn moved(total: u128, old: Amount, new: Amount) -> u128 {
    total
        .checked_sub(u128::from(old.base_units()))
        .and_then(|t| t.checked_add(u128::from(new.base_units())))
        .expect("a running total includes every amount it counts, and fits in u128")
}

/// A `u128` sum as an amount; `None` when it does not fit in 64 bits.
fn as_amount(total: u128) -> Option<Amount> {
    u64::try_from(total).ok().map(Amount::new)
}

impl State {
    /// Writes `id`'s account, keeping the balance total.
    pub(crate) fn set_account(&mut self, id: AccountId, account: Account) {
        let old = self.accounts.insert(id, account).unwrap_or_default();
        self.totals.balances = moved(self.totals.balances, old.balance, account.balance);
    }

    /// Writes channel `id`, keeping the locked total.
    pub(crate) fn set_channel(&mut self, id: ChannelId, channel: Channel) {
        let new = channel.locked();
        let old = self
            .channels
            .insert(id, channel)
            .map_or(Amount::ZERO, |c| c.locked());
        self.totals.locked = moved(self.totals.locked, old, new);
    }

    /// Writes stream `id`, or takes it out with `None`, keeping the locked
    /// total (an open stream locks its deposit).
    pub(crate) fn set_stream(&mut self, id: StreamId, stream: Option<Stream>) {
        let new = stream.as_ref().map_or(Amount::ZERO, |s| s.deposit);
        let old = match stream {
            Some(s) => self.streams.insert(id, s),
            None => self.streams.remove(&id),
        }
        .map_or(Amount::ZERO, |s| s.deposit);
        self.totals.locked = moved(self.totals.locked, old, new);
    }

    /// Writes hold `id`, or takes it out with `None`, keeping the locked
    /// total (an open hold locks its amount and deposit).
    pub(crate) fn set_hold(&mut self, id: HoldId, hold: Option<Hold>) {
        let locked = |h: &Hold| h.locked().expect("a hold's amount and deposit fit in u64");
        let new = hold.as_ref().map_or(Amount::ZERO, locked);
        let old = match hold {
            Some(h) => self.holds.insert(id, h),
            None => self.holds.remove(&id),
        }
        .map_or(Amount::ZERO, |h| locked(&h));
        self.totals.locked = moved(self.totals.locked, old, new);
    }

    /// Writes offer `id`, or takes it out with `None`, keeping the locked
    /// total (a listed offer locks its deposit).
    pub(crate) fn set_offer(&mut self, id: OfferId, offer: Option<Offer>) {
        let new = offer.as_ref().map_or(Amount::ZERO, |o| o.deposit);
        let old = match offer {
            Some(o) => self.offers.insert(id, o),
            None => self.offers.remove(&id),
        }
        .map_or(Amount::ZERO, |o| o.deposit);
        self.totals.locked = moved(self.totals.locked, old, new);
    }

    /// Writes order `id`, or takes it out with `None`, keeping the locked
    /// total (a resting order locks its deposit and, for a bid, its price).
    pub(crate) fn set_order(&mut self, id: OrderId, order: Option<Order>) {
        let locked = |o: &Order| o.locked().expect("an order's lock fits in u64");
        let new = order.as_ref().map_or(Amount::ZERO, locked);
        let old = match order {
            Some(o) => self.orders.insert(id, o),
            None => self.orders.remove(&id),
        }
        .map_or(Amount::ZERO, |o| locked(&o));
        self.totals.locked = moved(self.totals.locked, old, new);
    }

    /// Writes lease `id`, or takes it out with `None`, keeping the locked
    /// total (an open lease locks the price of its undelivered units).
    pub(crate) fn set_lease(&mut self, id: LeaseId, lease: Option<Lease>) {
        let locked = |l: &Lease| l.locked().expect("a lease's lock fits in u64");
        let new = lease.as_ref().map_or(Amount::ZERO, locked);
        let old = match lease {
            Some(l) => self.leases.insert(id, l),
            None => self.leases.remove(&id),
        }
        .map_or(Amount::ZERO, |l| locked(&l));
        self.totals.locked = moved(self.totals.locked, old, new);
    }

    /// The sum of all balances; `None` if it does not fit in 64 bits.
    pub fn balance_sum(&self) -> Option<Amount> {
        as_amount(self.totals.balances)
    }

    /// What is locked: open channels, stream and offer deposits, and holds'
    /// amounts and deposits; `None` if it does not fit in 64 bits.
    pub fn locked_sum(&self) -> Option<Amount> {
        as_amount(self.totals.locked)
    }

    /// Balances plus what channels hold; `None` if it does not fit in 64
    /// bits. Equals [`State::supply`] after every transaction.
    pub fn held_sum(&self) -> Option<Amount> {
        as_amount(self.totals.balances.checked_add(self.totals.locked)?)
    }

    /// [`State::balance_sum`] and [`State::locked_sum`] computed by walking
    /// every account and channel, as the running totals must always agree:
    /// for tests and checks, it costs in proportion to the whole state.
    pub fn walked_sums(&self) -> (Option<Amount>, Option<Amount>) {
        let balances = self
            .accounts
            .values()
            .try_fold(Amount::ZERO, |acc, a| acc.checked_add(a.balance));
        let locked = self
            .channels
            .values()
            .try_fold(Amount::ZERO, |acc, c| acc.checked_add(c.locked()))
            .and_then(|channels| {
                self.streams
                    .values()
                    .try_fold(channels, |acc, s| acc.checked_add(s.deposit))
            })
            .and_then(|streams| {
                self.holds
                    .values()
                    .try_fold(streams, |acc, h| acc.checked_add(h.locked()?))
            })
            .and_then(|holds| {
                self.offers
                    .values()
                    .try_fold(holds, |acc, o| acc.checked_add(o.deposit))
            })
            .and_then(|offers| {
                self.orders
                    .values()
                    .try_fold(offers, |acc, o| acc.checked_add(o.locked()?))
            })
            .and_then(|orders| {
                self.leases
                    .values()
                    .try_fold(orders, |acc, l| acc.checked_add(l.locked()?))
            });
        (balances, locked)
    }
}

#[cfg(test)]
mod tests {
    use ting_core::{AccountId, Amount, Hash32, NetworkId, Nonce};

    use crate::state::{Account, State};

    fn account(balance: u64) -> Account {
        Account {
            balance: Amount::new(balance),
            nonce: Nonce(0),
        }
    }

    #[test]
    fn a_sum_past_64_bits_is_none_as_a_walk_says_and_comes_back_when_it_fits() {
        let mut state = State::empty(NetworkId(1), Hash32::ZERO, 7);
        let (a, b) = (AccountId([1; 32]), AccountId([2; 32]));
        state.set_account(a, account(u64::MAX));
        state.set_account(b, account(1));
        assert_eq!(state.balance_sum(), None);
        assert_eq!(state.walked_sums(), (None, Some(Amount::ZERO)));
        state.set_account(a, account(u64::MAX - 1));
        assert_eq!(state.balance_sum(), Some(Amount::new(u64::MAX)));
        assert_eq!(state.walked_sums().0, state.balance_sum());
        assert_eq!(state.held_sum(), Some(Amount::new(u64::MAX)));
    }
}
