//! How a network's ledger time relates to the wall clock, as its genesis
//! declares it ([`LedgerClock`]).
//!
//! A real network's ledger time is the wall clock. A simulation's network
//! (the demo's water city) declares an accelerated clock: from the genesis
//! timestamp on, ledger time runs `speed` times faster than the wall clock.
//! Because the rule is in the genesis, every party (the sequencer stamping
//! blocks, a device proposing a deadline or stamping an envelope, the broker
//! checking a login token) computes the same ledger time from its own wall
//! clock without talking to the others: deadlines, daily limits, channel
//! expiries, envelope windows and login tokens all move at the same speed.
//!
//! Pure: the wall time is passed in.

use crate::limits::CLOCK_SPEED_MAX;
use crate::types::Timestamp;

/// The clock a genesis declares (wire.md §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LedgerClock {
    /// Ledger time is the wall clock (genesis version 1).
    #[default]
    Real,
    /// From the genesis timestamp on, ledger time runs `speed` times faster
    /// than the wall clock (genesis version 2); `speed` is in
    /// `2..=CLOCK_SPEED_MAX`.
    Accelerated { speed: u32 },
}

impl LedgerClock {
    /// How many ledger milliseconds pass in one wall-clock millisecond.
    pub fn speed(self) -> u32 {
        match self {
            LedgerClock::Real => 1,
            LedgerClock::Accelerated { speed } => speed,
        }
    }

    /// Whether `speed` is one this clock kind may declare.
    pub fn is_valid(self) -> bool {
        match self {
            LedgerClock::Real => true,
            LedgerClock::Accelerated { speed } => (2..=CLOCK_SPEED_MAX).contains(&speed),
        }
    }

    /// Ledger time at wall time `wall`, for a network whose genesis is
    /// stamped `epoch`. Before the epoch an accelerated clock reads the wall
    /// clock (nothing on the ledger can be older than its genesis anyway);
    /// it saturates at `u64::MAX`.
    pub fn ledger_time(self, epoch: Timestamp, wall: Timestamp) -> Timestamp {
        let speed = u64::from(self.speed());
        if speed == 1 || wall.0 <= epoch.0 {
            return wall;
        }
        let since = wall.0.saturating_sub(epoch.0);
        Timestamp(epoch.0.saturating_add(since.saturating_mul(speed)))
    }

    /// The length in ledger time of a freshness window of `wall_ms` (an
    /// envelope's or a login token's): `speed` times longer on an
    /// accelerated clock, so that it lasts the same wall time on every
    /// network. Freshness guards against replay and transit delay, which
    /// happen in wall time; a window that shrank with the speed would refuse
    /// a message for an ordinary delay. Saturates at `u64::MAX`.
    pub fn window_ms(self, wall_ms: u64) -> u64 {
        wall_ms.saturating_mul(u64::from(self.speed()))
    }

    /// Wall-clock milliseconds in which `ledger_ms` of ledger time pass
    /// (rounded up, so a wait for it is never too short).
    pub fn wall_ms(self, ledger_ms: u64) -> u64 {
        ledger_ms.div_ceil(u64::from(self.speed().max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: Timestamp = Timestamp(1_800_000_000_000);

    #[test]
    fn a_real_clock_is_the_wall_clock() {
        let wall = Timestamp(EPOCH.0 + 12_345);
        assert_eq!(LedgerClock::Real.ledger_time(EPOCH, wall), wall);
        assert_eq!(LedgerClock::Real.wall_ms(1_000), 1_000);
    }

    #[test]
    fn an_accelerated_clock_runs_speed_times_faster_from_the_epoch() {
        let clock = LedgerClock::Accelerated { speed: 60 };
        let wall = Timestamp(EPOCH.0 + 1_000);
        assert_eq!(clock.ledger_time(EPOCH, wall), Timestamp(EPOCH.0 + 60_000));
        assert_eq!(clock.ledger_time(EPOCH, EPOCH), EPOCH);
        assert_eq!(clock.wall_ms(60_000), 1_000);
        assert_eq!(clock.wall_ms(61), 2, "a wait is rounded up");
    }

    #[test]
    fn a_freshness_window_lasts_the_same_wall_time_at_any_speed() {
        assert_eq!(LedgerClock::Real.window_ms(60_000), 60_000);
        let fast = LedgerClock::Accelerated { speed: 600 };
        assert_eq!(fast.window_ms(60_000), 36_000_000);
        assert_eq!(fast.wall_ms(fast.window_ms(60_000)), 60_000);
        let fastest = LedgerClock::Accelerated {
            speed: CLOCK_SPEED_MAX,
        };
        assert_eq!(fastest.window_ms(u64::MAX), u64::MAX);
    }

    #[test]
    fn before_its_epoch_an_accelerated_clock_reads_the_wall_clock() {
        let clock = LedgerClock::Accelerated { speed: 60 };
        let early = Timestamp(EPOCH.0 - 5);
        assert_eq!(clock.ledger_time(EPOCH, early), early);
    }

    #[test]
    fn an_accelerated_clock_saturates_instead_of_wrapping() {
        let clock = LedgerClock::Accelerated {
            speed: CLOCK_SPEED_MAX,
        };
        let far = clock.ledger_time(Timestamp(1), Timestamp(u64::MAX));
        assert_eq!(far, Timestamp(u64::MAX));
    }

    #[test]
    fn only_speeds_from_2_to_the_limit_are_valid() {
        assert!(LedgerClock::Real.is_valid());
        for (speed, ok) in [(0, false), (1, false), (2, true), (CLOCK_SPEED_MAX, true)] {
            assert_eq!(LedgerClock::Accelerated { speed }.is_valid(), ok, "{speed}");
        }
        let over = CLOCK_SPEED_MAX + 1;
        assert!(!LedgerClock::Accelerated { speed: over }.is_valid());
    }
}
