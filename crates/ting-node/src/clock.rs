//! Time on the node: the wall clock that stamps envelopes and checks login
//! tokens ([`now`]), and the ledger's clock, injected through [`Clock`] and
//! guarded by [`TimeGuard`], that stamps blocks.
//!
//! Ledger time decides spend-limit days, channel claim windows and
//! expiries, so a wrong clock moves money. The guard compares every reading
//! with what the clock's own monotonic count says should have passed since
//! the last good one: a reading further off than `max_step`, ahead or back,
//! is a jump. While the clock is off the executor opens no block and
//! `/healthz` answers 503 `clock_jump`; once a reading agrees again (the
//! operator fixed the clock) blocks resume on their own. An idle node is not
//! a jump: its monotonic count advanced as much as its wall clock.
//!
//! A simulation's accelerated clock ([`ScaledClock`]) is a clock of its own
//! kind: its wall time and its monotonic count run at the same speed, so the
//! guard bounds jumps relative to it, not its speed.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ting_core::{Genesis, LedgerClock, Timestamp};

/// The default bound on a jump of the ledger clock (`--max-clock-step`).
pub const MAX_CLOCK_STEP_DEFAULT: Duration = Duration::from_secs(60);
/// How often an executor holding transactions for a bad clock looks again.
pub const CLOCK_RECHECK: Duration = Duration::from_millis(200);

/// Milliseconds since the Unix epoch, UTC, from the system clock; 0 for a
/// clock set before 1970. Envelopes and login tokens are stamped and checked
/// with it: they meet devices' clocks, which are real ones.
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

/// One reading of a ledger clock: its wall time, and its monotonic count
/// (which never goes back and counts in the same scale as the wall time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub wall: Timestamp,
    pub ticks: Duration,
}

/// Where the ledger's time comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    fn read(&self) -> Reading;
}

/// The system's clock: wall time from `CLOCK_REALTIME`, the count from
/// `CLOCK_BOOTTIME`, which keeps counting while the machine is suspended, so
/// a host that slept is not taken for a jump.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn read(&self) -> Reading {
        Reading {
            wall: now(),
            ticks: boot_time(),
        }
    }
}

/// Time since boot, suspended time included.
fn boot_time() -> Duration {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// An accelerated clock for simulations: starts at `origin` and runs `speed`
/// times faster than real time. Both its wall time and its count run at that
/// speed.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    origin: Timestamp,
    started: Instant,
    speed: u32,
}

impl ScaledClock {
    pub fn new(origin: Timestamp, speed: u32) -> ScaledClock {
        ScaledClock {
            origin,
            started: Instant::now(),
            speed: speed.max(1),
        }
    }
}

impl Clock for ScaledClock {
    fn read(&self) -> Reading {
        let ticks = self.started.elapsed().saturating_mul(self.speed);
        let ms = u64::try_from(ticks.as_millis()).unwrap_or(u64::MAX);
        Reading {
            wall: Timestamp(self.origin.0.saturating_add(ms)),
            ticks,
        }
    }
}

/// The network's time, by its genesis's clock ([`LedgerClock`]): what
/// stamps the node's envelopes and checks login tokens and, on an
/// accelerated network, what stamps blocks. On the real clock it is the
/// system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkTime {
    clock: LedgerClock,
    epoch: Timestamp,
}

impl NetworkTime {
    /// The time of the network `genesis` starts.
    pub fn of(genesis: &Genesis) -> NetworkTime {
        NetworkTime {
            clock: genesis.clock,
            epoch: genesis.timestamp,
        }
    }

    /// The network's time now, by this machine's wall clock.
    pub fn now(&self) -> Timestamp {
        self.clock.ledger_time(self.epoch, now())
    }

    /// Whether the network runs faster than the wall clock.
    pub fn is_accelerated(&self) -> bool {
        self.clock != LedgerClock::Real
    }

    /// The genesis's clock.
    pub fn clock(&self) -> LedgerClock {
        self.clock
    }

    /// Where an accelerated clock runs from: the genesis timestamp.
    pub fn epoch(&self) -> Timestamp {
        self.epoch
    }
}

/// An accelerated network's ledger clock: both the wall time and the count
/// run at the genesis's speed, so the guard bounds jumps, not the speed.
impl Clock for NetworkTime {
    fn read(&self) -> Reading {
        let speed = self.clock.speed();
        Reading {
            wall: self.now(),
            ticks: boot_time().saturating_mul(speed),
        }
    }
}

/// A reading that disagrees with the clock's own count by more than the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the clock jumped {} by {} ms since its last good reading, more than the {} ms allowed (--max-clock-step); no block is cut until it agrees again", if *.ahead { "ahead" } else { "back" }, .by_ms, .max_step_ms)]
pub struct ClockJump {
    pub ahead: bool,
    pub by_ms: u64,
    pub max_step_ms: u64,
}

impl ClockJump {
    pub fn code(&self) -> &'static str {
        "clock_jump"
    }
}

/// Checks readings against the last good one. Pure: it is given readings.
#[derive(Debug, Clone)]
pub struct TimeGuard {
    max_step_ms: u64,
    anchor: Option<Reading>,
}

impl TimeGuard {
    pub fn new(max_step: Duration) -> TimeGuard {
        TimeGuard {
            max_step_ms: u64::try_from(max_step.as_millis()).unwrap_or(u64::MAX),
            anchor: None,
        }
    }

    /// Accepts `r` when it is within the bound of what the last good reading
    /// and the count say (the first reading is always good), and keeps it as
    /// the new anchor; refuses it otherwise, keeping the old anchor, so a
    /// clock that is set right again is accepted again.
    pub fn check(&mut self, r: Reading) -> Result<Timestamp, ClockJump> {
        let Some(anchor) = self.anchor else {
            self.anchor = Some(r);
            return Ok(r.wall);
        };
        let passed = r.ticks.saturating_sub(anchor.ticks);
        let passed_ms = u64::try_from(passed.as_millis()).unwrap_or(u64::MAX);
        let expected = anchor.wall.0.saturating_add(passed_ms);
        let (ahead, by_ms) = if r.wall.0 >= expected {
            (true, r.wall.0 - expected)
        } else {
            (false, expected - r.wall.0)
        };
        if by_ms > self.max_step_ms {
            return Err(ClockJump {
                ahead,
                by_ms,
                max_step_ms: self.max_step_ms,
            });
        }
        self.anchor = Some(r);
        Ok(r.wall)
    }
}

/// Whether the ledger clock is off now, for `/healthz` and the metrics; set
/// by the executor.
#[derive(Debug, Default)]
pub struct ClockStatus {
    jump: std::sync::Mutex<Option<ClockJump>>,
}

impl ClockStatus {
    /// The jump that holds block cutting, if any.
    pub fn jump(&self) -> Option<ClockJump> {
        *self.jump.lock().expect("clock status lock")
    }

    /// Records the outcome of a check, logging when the state changes.
    pub fn record(&self, outcome: Result<Timestamp, ClockJump>) {
        let mut held = self.jump.lock().expect("clock status lock");
        match (outcome, held.is_some()) {
            (Err(j), false) => {
                tracing::error!(code = j.code(), "{j}; fix the clock, or restart with a larger --max-clock-step if the jump is right");
                *held = Some(j);
            }
            (Err(j), true) => *held = Some(j),
            (Ok(_), true) => {
                tracing::warn!("the clock agrees with its count again; blocks resume");
                *held = None;
            }
            (Ok(_), false) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(wall_ms: u64, ticks_ms: u64) -> Reading {
        Reading {
            wall: Timestamp(wall_ms),
            ticks: Duration::from_millis(ticks_ms),
        }
    }

    const STEP: Duration = Duration::from_secs(60);

    #[test]
    fn an_idle_clock_is_not_a_jump_however_long_it_idled() {
        let mut g = TimeGuard::new(STEP);
        assert!(g.check(at(1_000_000, 5)).is_ok());
        let day = 86_400_000;
        assert_eq!(
            g.check(at(1_000_000 + day, 5 + day)),
            Ok(Timestamp(1_000_000 + day))
        );
    }

    #[test]
    fn jumps_both_ways_beyond_the_step_are_refused_and_within_it_accepted() {
        let mut g = TimeGuard::new(STEP);
        g.check(at(1_000_000, 0)).expect("first");
        // Ahead by three days after one second.
        let ahead = g.check(at(1_000_000 + 1_000 + 3 * 86_400_000, 1_000));
        assert_eq!(
            ahead,
            Err(ClockJump {
                ahead: true,
                by_ms: 3 * 86_400_000,
                max_step_ms: 60_000
            })
        );
        // Back by two minutes.
        let back = g
            .check(at(1_000_000 + 2_000 - 120_000, 2_000))
            .expect_err("back");
        assert!(!back.ahead && back.by_ms == 120_000, "{back:?}");
        // Within the step (NTP slewing): fine.
        assert!(g.check(at(1_000_000 + 3_000 + 59_000, 3_000)).is_ok());
    }

    #[test]
    fn a_clock_set_right_again_is_accepted_again() {
        let mut g = TimeGuard::new(STEP);
        g.check(at(5_000_000, 0)).expect("first");
        assert!(g.check(at(5_000_000 + 10_000_000, 1_000)).is_err());
        assert!(
            g.check(at(5_000_000 + 10_000_000, 2_000)).is_err(),
            "still off"
        );
        assert_eq!(g.check(at(5_003_000, 3_000)), Ok(Timestamp(5_003_000)));
    }

    proptest::proptest! {
        /// Against the model "a reading is good iff its offset from the last
        /// good reading's offset (wall minus count) is at most the step":
        /// honest readings always pass, jumps never do and leave the anchor.
        #[test]
        fn the_guard_accepts_exactly_the_readings_within_the_step_of_the_last_good_one(
            steps in proptest::collection::vec((0u64..10_000_000, -200_000i64..200_000), 1..64),
        ) {
            let mut g = TimeGuard::new(STEP);
            let base = 10_000_000_000u64;
            g.check(at(base, 0)).expect("the first reading");
            let mut good_offset: i64 = 0;
            let mut ticks = 0u64;
            for (advance, offset) in steps {
                ticks += advance;
                let wall = base.checked_add_signed(offset).expect("no underflow") + ticks;
                let jump = (offset - good_offset).unsigned_abs();
                let outcome = g.check(at(wall, ticks));
                if jump > 60_000 {
                    let j = outcome.expect_err("a jump");
                    proptest::prop_assert_eq!(j.by_ms, jump);
                    proptest::prop_assert_eq!(j.ahead, offset > good_offset);
                } else {
                    proptest::prop_assert_eq!(outcome, Ok(Timestamp(wall)));
                    good_offset = offset;
                }
            }
        }
    }

    #[test]
    fn a_scaled_clock_runs_at_its_speed_and_agrees_with_itself() {
        let c = ScaledClock::new(Timestamp(1_000), 3_600);
        let mut g = TimeGuard::new(STEP);
        let first = c.read();
        g.check(first).expect("first");
        std::thread::sleep(Duration::from_millis(20));
        let later = c.read();
        assert!(later.wall.0 >= first.wall.0 + 20 * 3_600, "{later:?}");
        assert!(g.check(later).is_ok(), "its speed is not a jump");
    }
}
