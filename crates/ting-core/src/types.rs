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
    fn utc_day_changes_exactly_at_midnight() {
        assert_eq!(Timestamp(DAY_MS - 1).utc_day(), 0);
        assert_eq!(Timestamp(DAY_MS).utc_day(), 1);
    }
}
