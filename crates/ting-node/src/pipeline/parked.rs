//! Transactions whose nonce is ahead of their sender's next one, held a
//! short while for the transactions before them.
//!
//! One node applies a sender's transactions in the order it admitted them,
//! so a device that sends nonces `n`, `n+1` in turn needs nothing here. On
//! several nodes it does: a broker's shared subscription hands `n` to one
//! node and `n+1` to another, and both forward to the leader, in either
//! order. So the executor parks `n+1` instead of refusing it `bad_nonce`,
//! and applies it as soon as `n` applies; one still parked after
//! [`PARK_WAIT`] is refused as before.
//!
//! Bounded: at most [`PARKED_MAX`] transactions in all and
//! [`PARKED_PER_SENDER_MAX`] of one sender; past either, a transaction is
//! refused at once. Pure data: the executor owns it and says what time it is.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ting_core::{AccountId, Nonce, SignedTx};

use super::Reply;
use crate::admission::Source;

/// How long a transaction waits for those before it.
pub const PARK_WAIT: Duration = Duration::from_secs(2);
/// Most transactions parked at once.
pub const PARKED_MAX: usize = 8_192;
/// Most transactions of one sender parked at once.
pub const PARKED_PER_SENDER_MAX: usize = 64;

/// A parked transaction and who waits for it.
#[derive(Debug)]
pub struct Held {
    pub tx: SignedTx,
    pub reply: Reply,
    pub source: Source,
    until: Instant,
}

/// The parked transactions, by sender and nonce, and by deadline.
#[derive(Debug, Default)]
pub struct Parked {
    by_sender: HashMap<AccountId, BTreeMap<Nonce, Held>>,
    deadlines: BTreeSet<(Instant, AccountId, Nonce)>,
}

impl Parked {
    pub fn len(&self) -> usize {
        self.deadlines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deadlines.is_empty()
    }

    /// Parks `tx` until `now + PARK_WAIT`; gives it back (`Some`) when full,
    /// or when another transaction of its sender with its nonce is parked.
    #[must_use]
    pub fn park(
        &mut self,
        tx: SignedTx,
        reply: Reply,
        source: Source,
        now: Instant,
    ) -> Option<(SignedTx, Reply)> {
        let (sender, nonce) = (tx.sender(), tx.nonce());
        let mine = self.by_sender.get(&sender);
        let taken = mine.is_some_and(|m| m.contains_key(&nonce));
        let full =
            self.len() >= PARKED_MAX || mine.is_some_and(|m| m.len() >= PARKED_PER_SENDER_MAX);
        if taken || full {
            return Some((tx, reply));
        }
        let until = now + PARK_WAIT;
        self.deadlines.insert((until, sender, nonce));
        let held = Held {
            tx,
            reply,
            source,
            until,
        };
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, held);
        None
    }

    /// Takes `sender`'s parked transaction with `nonce`, if there is one.
    pub fn take(&mut self, sender: &AccountId, nonce: Nonce) -> Option<Held> {
        let mine = self.by_sender.get_mut(sender)?;
        let held = mine.remove(&nonce)?;
        if mine.is_empty() {
            self.by_sender.remove(sender);
        }
        self.deadlines.remove(&(held.until, *sender, nonce));
        Some(held)
    }

    /// Takes every transaction whose wait ended by `now`.
    pub fn expired(&mut self, now: Instant) -> Vec<Held> {
        let due: Vec<(Instant, AccountId, Nonce)> = self
            .deadlines
            .iter()
            .take_while(|(until, _, _)| *until <= now)
            .copied()
            .collect();
        due.into_iter()
            .filter_map(|(_, sender, nonce)| self.take(&sender, nonce))
            .collect()
    }

    /// When the next wait ends.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(until, _, _)| *until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{Amount, Hash32, Keypair, Timestamp, TxBody, TxKind};

    fn tx(key: &Keypair, nonce: u64) -> SignedTx {
        TxBody {
            genesis: Hash32([1; 32]),
            valid_until: Timestamp(u64::MAX),
            sender: key.account(),
            nonce: Nonce(nonce),
            kind: TxKind::Transfer {
                to: Keypair::from_seed([9; 32]).account(),
                amount: Amount::new(1),
                memo: Vec::new(),
            },
        }
        .sign(key)
    }

    fn park(p: &mut Parked, t: SignedTx, now: Instant) -> bool {
        p.park(t, None, Source::Local, now).is_none()
    }

    #[test]
    fn a_parked_transaction_is_taken_by_its_sender_and_nonce_once() {
        let (a, b) = (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]));
        let now = Instant::now();
        let mut p = Parked::default();
        assert!(park(&mut p, tx(&a, 3), now));
        assert!(park(&mut p, tx(&b, 3), now));
        assert!(!park(&mut p, tx(&a, 3), now), "one per sender and nonce");
        assert!(p.take(&a.account(), Nonce(2)).is_none());
        let held = p.take(&a.account(), Nonce(3)).expect("parked");
        assert_eq!(held.tx.sender(), a.account());
        assert!(p.take(&a.account(), Nonce(3)).is_none(), "taken once");
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn waits_end_in_deadline_order_and_only_when_due() {
        let a = Keypair::from_seed([3; 32]);
        let t0 = Instant::now();
        let mut p = Parked::default();
        assert!(park(&mut p, tx(&a, 5), t0));
        assert!(park(&mut p, tx(&a, 4), t0 + Duration::from_millis(10)));
        assert_eq!(p.next_deadline(), Some(t0 + PARK_WAIT));
        assert!(p
            .expired(t0 + PARK_WAIT - Duration::from_millis(1))
            .is_empty());
        let first = p.expired(t0 + PARK_WAIT);
        assert_eq!(
            first.iter().map(|h| h.tx.nonce()).collect::<Vec<_>>(),
            [Nonce(5)]
        );
        let rest = p.expired(t0 + PARK_WAIT * 2);
        assert_eq!(
            rest.iter().map(|h| h.tx.nonce()).collect::<Vec<_>>(),
            [Nonce(4)]
        );
        assert!(p.is_empty() && p.next_deadline().is_none());
    }

    #[test]
    fn one_sender_cannot_take_more_than_its_share() {
        let (a, b) = (Keypair::from_seed([4; 32]), Keypair::from_seed([5; 32]));
        let now = Instant::now();
        let mut p = Parked::default();
        for n in 0..PARKED_PER_SENDER_MAX as u64 {
            assert!(park(&mut p, tx(&a, n + 1), now));
        }
        assert!(
            !park(&mut p, tx(&a, 1_000), now),
            "the sender's share is full"
        );
        assert!(park(&mut p, tx(&b, 1), now), "another sender still parks");
    }
}
