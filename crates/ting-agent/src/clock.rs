//! This machine's clock, as the ledger counts time: the one place a client
//! (a device, the CLI, the demo, a benchmark) reads the wall clock.
//!
//! The ledger itself never reads a clock (block timestamps are set by the
//! sequencer); a client needs one for expiries it proposes, envelope
//! timestamps and the receive window.

use std::time::{SystemTime, UNIX_EPOCH};

use ting_core::Timestamp;

/// Milliseconds since the Unix epoch, UTC, by this machine's clock; 0 for a
/// clock set before 1970, `u64::MAX` far beyond.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_after_this_code_was_written() {
        // 2026-01-01T00:00:00Z: a clock before it is broken, not merely skewed.
        assert!(now().0 > 1_767_225_600_000);
    }
}
