//! Exponential backoff with seeded jitter, for reconnects and resends.
//!
//! Attempt `n` waits a random time in `[d/2, d]` where `d = min(base · 2^n,
//! max)`: the growth keeps a device from hammering a broker that is down, the
//! cap bounds how late it notices that the broker is back, and the jitter
//! keeps a fleet that lost the broker together from reconnecting in lockstep.
//! The generator is seeded by the caller so a test run can be replayed.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// First delay after a failure.
pub const BACKOFF_BASE_MS: u64 = 100;
/// Longest delay between two attempts.
pub const BACKOFF_MAX_MS: u64 = 5_000;
/// Attempts beyond this all wait about `BACKOFF_MAX_MS`.
const DOUBLINGS_MAX: u32 = 16;

/// A jittered exponential backoff schedule.
#[derive(Debug)]
pub struct Backoff {
    rng: StdRng,
    base_ms: u64,
    max_ms: u64,
}

impl Backoff {
    pub fn new(seed: u64) -> Backoff {
        Backoff::with_limits(seed, BACKOFF_BASE_MS, BACKOFF_MAX_MS)
    }

    pub fn with_limits(seed: u64, base_ms: u64, max_ms: u64) -> Backoff {
        assert!(
            base_ms >= 1 && base_ms <= max_ms,
            "backoff limits are ordered"
        );
        Backoff {
            rng: StdRng::seed_from_u64(seed),
            base_ms,
            max_ms,
        }
    }

    /// The wait before attempt `attempt` (0: the first retry).
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let doubled = self
            .base_ms
            .saturating_mul(1u64 << attempt.min(DOUBLINGS_MAX));
        let ceiling = doubled.min(self.max_ms);
        Duration::from_millis(self.rng.random_range(ceiling / 2..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_under_the_cap_and_repeat_for_a_seed() {
        let mut a = Backoff::new(42);
        let mut b = Backoff::new(42);
        let mut last_ceiling = 0;
        for attempt in 0..40 {
            let d = a.delay(attempt);
            assert_eq!(d, b.delay(attempt), "same seed, same schedule");
            let ceiling = (BACKOFF_BASE_MS << attempt.min(16)).min(BACKOFF_MAX_MS);
            assert!(d.as_millis() <= u128::from(ceiling));
            assert!(d.as_millis() >= u128::from(ceiling / 2));
            assert!(ceiling >= last_ceiling);
            last_ceiling = ceiling;
        }
    }
}
