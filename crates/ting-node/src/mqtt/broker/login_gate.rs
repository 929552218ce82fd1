//! How fast the embedded broker admits logins: a token bucket, checked before
//! a login's signature is, so that a reconnect storm (every device of a
//! city coming back after a restart) costs the node at most this many
//! verifications a second and leaves the rest of the cores to the ledger.
//!
//! Pure: the caller passes the time. A login over the rate is refused at
//! once, never queued; devices come back with jittered, growing waits, so
//! the refused ones spread themselves over the following seconds.

/// A token bucket of logins: up to `rate` a second, and up to one second's
/// worth at once after a quiet spell.
#[derive(Debug, Clone)]
pub struct LoginGate {
    rate: u64,
    /// Tokens, in thousandths of a login, so that refilling by the
    /// millisecond loses nothing at any rate.
    milli_tokens: u64,
    last_ms: u64,
}

impl LoginGate {
    /// A gate admitting `rate` logins a second (at least one), full.
    pub fn new(rate: u32) -> LoginGate {
        let rate = u64::from(rate.max(1));
        LoginGate {
            rate,
            milli_tokens: rate * 1_000,
            last_ms: 0,
        }
    }

    /// Whether one more login may be checked at `now_ms` (any monotonic
    /// milliseconds); takes its token if so.
    pub fn admit(&mut self, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        let cap = self.rate * 1_000;
        self.milli_tokens = self
            .milli_tokens
            .saturating_add(elapsed.saturating_mul(self.rate))
            .min(cap);
        if self.milli_tokens >= 1_000 {
            self.milli_tokens -= 1_000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_full_gate_admits_one_second_at_once_then_the_rate() {
        let mut gate = LoginGate::new(100);
        let burst = (0..1_000).filter(|_| gate.admit(0)).count();
        assert_eq!(burst, 100);
        assert!(!gate.admit(0));
        assert!(!gate.admit(9), "a token takes 10 ms at 100 /s");
        assert!(gate.admit(10));
        let next_second = (11..=1_010).filter(|ms| gate.admit(*ms)).count();
        assert_eq!(next_second, 100);
    }

    #[test]
    fn time_going_backwards_adds_nothing() {
        let mut gate = LoginGate::new(1);
        assert!(gate.admit(5_000));
        assert!(!gate.admit(1_000));
        assert!(!gate.admit(5_999));
        assert!(gate.admit(6_000));
    }

    proptest! {
        /// Over any run of calls, no window admits more than its length's
        /// worth at the rate plus one second's burst.
        #[test]
        fn never_more_than_the_rate_plus_one_burst(
            rate in 1u32..5_000,
            steps in proptest::collection::vec(0u64..50, 1..2_000),
        ) {
            let mut gate = LoginGate::new(rate);
            let mut now = 0u64;
            let mut admitted = 0u64;
            for step in steps {
                now += step;
                if gate.admit(now) {
                    admitted += 1;
                }
            }
            let bound = u64::from(rate) + now * u64::from(rate) / 1_000 + 1;
            prop_assert!(admitted <= bound, "{admitted} admitted in {now} ms at {rate}/s");
        }
    }
}
