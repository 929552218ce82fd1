//! Refusal budgets: a token bucket per source address and per sender.
//!
//! Every refusal the node decides costs the one who caused it a token; a
//! bucket refills at a steady rate up to its burst. While a bucket is empty,
//! transactions from that source (or sender) are refused unchecked, with how
//! long to wait. A bucket may go into debt down to minus its burst, so a
//! flood past the budget waits longer than one that stopped at it. Pure: time
//! is given, never read.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Refusals allowed at once.
    pub burst: u64,
    /// Refusals regained per second.
    pub per_s: u64,
}

/// Thousandths of a refusal, so that refills need no floating point.
const MILLI: u64 = 1000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Thousandths of refusals left; negative while in debt.
    milli: i64,
    at: Instant,
}

/// A rate's burst in thousandths, as a bucket counts.
fn full_milli(rate: Rate) -> i64 {
    i64::try_from(rate.burst.saturating_mul(MILLI)).unwrap_or(i64::MAX)
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            milli: full_milli(rate),
            at: now,
        }
    }

    /// Refills for the time since the last look.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed_ms =
            u64::try_from(now.saturating_duration_since(self.at).as_millis()).unwrap_or(u64::MAX);
        // per_s refusals a second is per_s thousandths a millisecond.
        let gained = i64::try_from(elapsed_ms.saturating_mul(rate.per_s)).unwrap_or(i64::MAX);
        self.milli = self.milli.saturating_add(gained).min(full_milli(rate));
        self.at = now;
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.milli >= full_milli(rate)
    }

    /// How long until one whole refusal is back, if none is left now.
    fn wait(&self, rate: Rate) -> Option<Duration> {
        let one = i64::try_from(MILLI).unwrap_or(i64::MAX);
        if self.milli >= one {
            return None;
        }
        let missing = u64::try_from(one.saturating_sub(self.milli)).unwrap_or(0);
        let ms = missing.div_ceil(rate.per_s.max(1));
        Some(Duration::from_millis(ms))
    }
}

/// Buckets by key, at most `max` of them.
#[derive(Debug)]
pub struct Budgets<K> {
    rate: Rate,
    max: usize,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Copy> Budgets<K> {
    pub fn new(rate: Rate, max: usize) -> Budgets<K> {
        Budgets {
            rate,
            max,
            buckets: HashMap::new(),
        }
    }

    /// `None` while `key` may still be refused; else how long until it may.
    pub fn exhausted(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let rate = self.rate;
        let bucket = self.buckets.get_mut(key)?;
        bucket.refill(rate, now);
        bucket.wait(rate)
    }

    /// Takes one refusal from `key`'s budget.
    pub fn charge(&mut self, key: K, now: Instant) {
        self.charge_n(key, 1, now);
    }

    /// Takes `n` refusals from `key`'s budget (none: nothing changes).
    pub fn charge_n(&mut self, key: K, n: u64, now: Instant) {
        if n == 0 {
            return;
        }
        if !self.buckets.contains_key(&key) {
            self.make_room(now);
        }
        let rate = self.rate;
        let bucket = self
            .buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(rate, now));
        bucket.refill(rate, now);
        let spent = i64::try_from(n.saturating_mul(MILLI)).unwrap_or(i64::MAX);
        bucket.milli = bucket.milli.saturating_sub(spent).max(-full_milli(rate));
    }

    /// Forgets buckets that have refilled (they hold nothing a new one would
    /// not); if every bucket is still spent, forgets half of them, so that the
    /// map stays bounded even under a flood from many keys.
    fn make_room(&mut self, now: Instant) {
        if self.buckets.len() < self.max {
            return;
        }
        let rate = self.rate;
        self.buckets.retain(|_, b| !b.is_full(rate, now));
        if self.buckets.len() >= self.max {
            let keep = self.max / 2;
            let mut kept = 0usize;
            self.buckets.retain(|_, _| {
                kept = kept.saturating_add(1);
                kept <= keep
            });
        }
    }

    /// How many keys have a bucket.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        burst: 3,
        per_s: 10,
    };

    #[test]
    fn a_key_is_refused_once_its_burst_is_spent_and_regains_at_the_rate() {
        let t0 = Instant::now();
        let mut b = Budgets::new(RATE, 16);
        for _ in 0..3 {
            assert_eq!(b.exhausted(&1, t0), None);
            b.charge(1, t0);
        }
        // One refusal per 100 ms comes back.
        assert_eq!(b.exhausted(&1, t0), Some(Duration::from_millis(100)));
        assert_eq!(
            b.exhausted(&1, t0 + Duration::from_millis(40)),
            Some(Duration::from_millis(60))
        );
        assert_eq!(b.exhausted(&1, t0 + Duration::from_millis(100)), None);
        // Another key is untouched.
        assert_eq!(b.exhausted(&2, t0), None);
    }

    #[test]
    fn a_flood_past_the_budget_waits_longer_down_to_one_burst_of_debt() {
        let t0 = Instant::now();
        let mut b = Budgets::new(RATE, 16);
        for _ in 0..100 {
            b.charge(1, t0);
        }
        // Three in debt (the floor) and one to earn: 400 ms at 10 a second.
        assert_eq!(b.exhausted(&1, t0), Some(Duration::from_millis(400)));
        assert_eq!(b.exhausted(&1, t0 + Duration::from_millis(400)), None);
    }

    #[test]
    fn a_budget_never_refills_past_its_burst() {
        let t0 = Instant::now();
        let mut b = Budgets::new(RATE, 16);
        b.charge(1, t0);
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            b.charge(1, later);
        }
        assert!(b.exhausted(&1, later).is_some());
    }

    #[test]
    fn the_map_stays_bounded_under_many_keys() {
        let t0 = Instant::now();
        let mut b = Budgets::new(RATE, 8);
        for k in 0..100u32 {
            for _ in 0..3 {
                b.charge(k, t0);
            }
            assert!(b.len() <= 8, "{} buckets after key {k}", b.len());
        }
        // The newest key is still tracked and refused.
        assert!(b.exhausted(&99, t0).is_some());
        // Refilled buckets are forgotten first.
        let later = t0 + Duration::from_secs(1);
        b.charge(1000, later);
        assert_eq!(b.len(), 1);
    }
}
