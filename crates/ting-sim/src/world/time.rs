//! Simulated time: `u64` milliseconds since the Unix epoch (UTC), as in
//! the ledger, cut into whole hours.
//!
//! Every time-varying quantity of the world is constant within an hour
//! bucket (`t / HOUR_MS`), so integrals over an interval are sums over the
//! pieces of the buckets it covers. That is what makes demand and cartridge
//! use additive: an agent that steps at irregular real intervals gets the
//! same totals as one that asks once.

/// One simulated minute.
pub const MINUTE_MS: u64 = 60_000;
/// One simulated hour: the world's time bucket.
pub const HOUR_MS: u64 = 3_600_000;
/// One simulated day.
pub const DAY_MS: u64 = 86_400_000;
/// Hours in a day.
pub const HOURS_PER_DAY: u64 = 24;
/// Minutes in an hour.
pub const MINUTES_PER_HOUR: u64 = 60;
/// The longest interval one query integrates over (a year and a day), so
/// every integration loop has a bound.
pub const INTERVAL_MS_MAX: u64 = 366 * DAY_MS;

/// The hour of the day (0..24, UTC) that `t_ms` falls in.
#[must_use]
pub fn hour_of_day(t_ms: u64) -> u8 {
    // The remainder is below 24, so it fits; the fallback is never taken.
    u8::try_from((t_ms / HOUR_MS) % HOURS_PER_DAY).unwrap_or(0)
}

/// The absolute hour bucket (hours since the epoch) that `t_ms` falls in.
#[must_use]
pub const fn hour_bucket(t_ms: u64) -> u64 {
    t_ms / HOUR_MS
}

/// One piece of an interval: the part of `bucket` it covers, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// The absolute hour bucket.
    pub bucket: u64,
    /// How many milliseconds of the bucket the interval covers (1..=HOUR_MS).
    pub covered_ms: u64,
}

impl Piece {
    /// The covered share of the bucket, in (0, 1].
    #[must_use]
    pub fn fraction(self) -> f64 {
        self.covered_ms as f64 / HOUR_MS as f64
    }
}

/// The pieces of `[from_ms, to_ms)`, bucket by bucket, in time order.
/// Callers check the interval against [`INTERVAL_MS_MAX`] first, which
/// bounds the iteration to about 8_800 pieces.
#[derive(Debug, Clone)]
pub struct Pieces {
    at_ms: u64,
    to_ms: u64,
}

impl Pieces {
    /// The pieces of `[from_ms, to_ms)`; none when `to_ms <= from_ms`.
    #[must_use]
    pub const fn new(from_ms: u64, to_ms: u64) -> Self {
        Self {
            at_ms: from_ms,
            to_ms,
        }
    }
}

impl Iterator for Pieces {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        if self.at_ms >= self.to_ms {
            return None;
        }
        let bucket = hour_bucket(self.at_ms);
        let bucket_end_ms = bucket.saturating_add(1).saturating_mul(HOUR_MS);
        let end_ms = bucket_end_ms.min(self.to_ms);
        let piece = Piece {
            bucket,
            covered_ms: end_ms - self.at_ms,
        };
        self.at_ms = end_ms;
        Some(piece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cover_the_interval_exactly_and_split_at_hour_boundaries() {
        let from_ms = 5 * HOUR_MS + 1_000;
        let to_ms = 7 * HOUR_MS + 500;
        let pieces: Vec<Piece> = Pieces::new(from_ms, to_ms).collect();
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces[0].bucket, 5);
        assert_eq!(pieces[2].covered_ms, 500);
        let covered: u64 = pieces.iter().map(|p| p.covered_ms).sum();
        assert_eq!(covered, to_ms - from_ms);
    }

    #[test]
    fn an_empty_or_reversed_interval_has_no_pieces() {
        assert_eq!(Pieces::new(10, 10).count(), 0);
        assert_eq!(Pieces::new(10, 5).count(), 0);
    }

    #[test]
    fn the_hour_of_day_wraps_at_midnight() {
        assert_eq!(hour_of_day(0), 0);
        assert_eq!(hour_of_day(23 * HOUR_MS + 59 * MINUTE_MS), 23);
        assert_eq!(hour_of_day(DAY_MS + 3 * HOUR_MS), 3);
    }
}
