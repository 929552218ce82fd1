//! Small newtypes: nonces, timestamps, block heights and network ids.
//!
//! Each is a fixed-width integer with a name, so that a height is never passed
//! where a nonce was meant.

use core::fmt;

use crate::limits::DAY_MS;

/// A sender's sequence number: the first transaction of an account has nonce 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nonce(pub u64);

impl Nonce {
    #[must_use]
    pub fn next(self) -> Option<Nonce> {
        self.0.checked_add(1).map(Nonce)
    }
}

/// Milliseconds since the Unix epoch, UTC. Enters the ledger only through block headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The UTC day this instant falls in, counted from the epoch.
    pub fn utc_day(self) -> u64 {
        self.0 / DAY_MS
    }

    /// The proleptic Gregorian date (year, month 1–12, day 1–31) of this
    /// instant's UTC day, after Howard Hinnant's `civil_from_days`.
    // Cannot overflow: the day count is below 2^38, so every intermediate
    // is far below 2^64, and each subtraction takes less than it is from.
    #[allow(clippy::arithmetic_side_effects)]
    pub fn utc_date(self) -> (u64, u64, u64) {
        let z = self.utc_day() + 719_468;
        let era = z / 146_097;
        let doe = z % 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + u64::from(month <= 2);
        (year, month, day)
    }

    /// `ms` later, or the end of time if that would overflow.
    #[must_use]
    pub fn saturating_add_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

/// The height of a block; the genesis state is height 0 and the first block is 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockHeight(pub u64);

impl BlockHeight {
    #[must_use]
    pub fn next(self) -> Option<BlockHeight> {
        self.0.checked_add(1).map(BlockHeight)
    }
}

/// Identifies one ledger; every signed object carries it so nothing replays across networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetworkId(pub u32);

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )*};
}
display_inner!(Nonce, Timestamp, BlockHeight, NetworkId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_knows_its_utc_date() {
        assert_eq!(Timestamp(0).utc_date(), (1970, 1, 1));
        // 2000-02-29 (a leap day of a century divisible by 400), 12:00 UTC.
        assert_eq!(Timestamp(951_825_600_000).utc_date(), (2000, 2, 29));
        // 2026-12-06 01:00 UTC.
        assert_eq!(Timestamp(1_796_518_800_000).utc_date(), (2026, 12, 6));
        let (year, _, _) = Timestamp(u64::MAX).utc_date();
        assert!(year > 500_000_000, "the far future does not wrap: {year}");
    }

    #[test]
    fn utc_day_changes_exactly_at_midnight() {
        assert_eq!(Timestamp(DAY_MS - 1).utc_day(), 0);
        assert_eq!(Timestamp(DAY_MS).utc_day(), 1);
    }
}
