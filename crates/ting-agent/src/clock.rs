//! This machine's clock, as the ledger counts time: the one place a client
//! (a device, the CLI, the demo, a benchmark) reads the wall clock.
//!
//! The ledger itself never reads a clock (block timestamps are set by the
//! sequencer); a client needs one for expiries it proposes, envelope
//! timestamps and the receive window. [`now`] is the wall clock; a
//! [`NetworkClock`] is a network's time by its genesis's clock
//! ([`LedgerClock`]), which on an accelerated network (a simulation) runs
//! faster than the wall clock. A device reads the time through its
//! network's clock, so its deadlines, envelope stamps and login tokens agree
//! with the sequencer's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ting_core::{Genesis, LedgerClock, Timestamp};

/// Milliseconds since the Unix epoch, UTC, by this machine's clock; 0 for a
/// clock set before 1970, `u64::MAX` far beyond.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

/// A network's time: the wall clock, or an accelerated clock running from
/// the genesis timestamp (wire.md §8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkClock {
    clock: LedgerClock,
    epoch: Timestamp,
}

impl NetworkClock {
    /// The real clock: the network's time is the wall clock.
    pub const REAL: NetworkClock = NetworkClock {
        clock: LedgerClock::Real,
        epoch: Timestamp(0),
    };

    /// `clock` running from `epoch` (the genesis timestamp).
    pub fn new(clock: LedgerClock, epoch: Timestamp) -> NetworkClock {
        NetworkClock { clock, epoch }
    }

    /// The clock `genesis` declares.
    pub fn of(genesis: &Genesis) -> NetworkClock {
        NetworkClock::new(genesis.clock, genesis.timestamp)
    }

    /// The network's time now.
    pub fn now(&self) -> Timestamp {
        self.clock.ledger_time(self.epoch, now())
    }

    /// The declared clock.
    pub fn clock(&self) -> LedgerClock {
        self.clock
    }

    /// How many network milliseconds pass in one wall-clock millisecond.
    pub fn speed(&self) -> u32 {
        self.clock.speed()
    }

    /// The wall-clock time in which `ledger_ms` of network time pass: what
    /// to sleep for a network-time wait.
    pub fn wall(&self, ledger_ms: u64) -> Duration {
        Duration::from_millis(self.clock.wall_ms(ledger_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_after_this_code_was_written() {
        // 2026-01-01T00:00:00Z: a clock before it is broken, not merely skewed.
        assert!(now().0 > 1_767_225_600_000);
    }

    #[test]
    fn a_network_clock_runs_at_its_speed_from_its_epoch() {
        let real = NetworkClock::REAL.now();
        assert!(real.0.abs_diff(now().0) < 60_000);
        let epoch = Timestamp(now().0 - 1_000);
        let fast = NetworkClock::new(LedgerClock::Accelerated { speed: 100 }, epoch);
        // At least a second of wall time has passed since the epoch: 100 s of network time.
        assert!(fast.now().0 >= epoch.0 + 100_000);
        assert_eq!(fast.wall(100_000), Duration::from_secs(1));
    }
}
