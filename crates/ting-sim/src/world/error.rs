//! The world's errors: one enum for building a scenario, one for asking it.
//!
//! Each variant has a stable machine-readable `code()` and a message a
//! person can act on, as everywhere in Ting.

use std::fmt;

/// Why [`super::Scenario::new`] refused to build a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioError {
    /// A city needs at least one household.
    NoHouseholds,
    /// More households than [`super::HOUSEHOLDS_MAX`].
    TooManyHouseholds {
        /// How many were asked for.
        households: u32,
        /// The limit.
        max: u32,
    },
    /// A start after [`super::START_MS_MAX`].
    StartTooLate {
        /// The start asked for.
        start_ms: u64,
        /// The limit.
        max_ms: u64,
    },
}

impl ScenarioError {
    /// A stable, machine-readable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoHouseholds => "households_zero",
            Self::TooManyHouseholds { .. } => "households_over_max",
            Self::StartTooLate { .. } => "start_too_late",
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoHouseholds => write!(f, "a scenario needs at least 1 household"),
            Self::TooManyHouseholds { households, max } => {
                write!(
                    f,
                    "{households} households asked for, at most {max} allowed"
                )
            }
            Self::StartTooLate { start_ms, max_ms } => {
                write!(
                    f,
                    "start at {start_ms} ms is after the latest allowed, {max_ms} ms"
                )
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Why a question to a scenario has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    /// No district with this id in the scenario.
    UnknownDistrict(u16),
    /// No household with this id in the scenario.
    UnknownHousehold(u32),
    /// No service centre with this id in the scenario.
    UnknownCentre(u16),
    /// No sensor with this id in the scenario.
    UnknownSensor(u16),
    /// The interval ends before it starts.
    IntervalReversed {
        /// Where it starts.
        from_ms: u64,
        /// Where it ends.
        to_ms: u64,
    },
    /// The interval is longer than [`super::INTERVAL_MS_MAX`].
    IntervalTooLong {
        /// Its length.
        length_ms: u64,
        /// The limit.
        max_ms: u64,
    },
}

impl QueryError {
    /// A stable, machine-readable code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownDistrict(_) => "unknown_district",
            Self::UnknownHousehold(_) => "unknown_household",
            Self::UnknownCentre(_) => "unknown_centre",
            Self::UnknownSensor(_) => "unknown_sensor",
            Self::IntervalReversed { .. } => "interval_reversed",
            Self::IntervalTooLong { .. } => "interval_too_long",
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownDistrict(id) => write!(f, "no district {id} in this scenario"),
            Self::UnknownHousehold(id) => write!(f, "no household {id} in this scenario"),
            Self::UnknownCentre(id) => write!(f, "no service centre {id} in this scenario"),
            Self::UnknownSensor(id) => write!(f, "no sensor {id} in this scenario"),
            Self::IntervalReversed { from_ms, to_ms } => {
                write!(
                    f,
                    "interval ends at {to_ms} ms, before it starts at {from_ms} ms"
                )
            }
            Self::IntervalTooLong { length_ms, max_ms } => write!(
                f,
                "interval of {length_ms} ms is longer than {max_ms} ms: ask in several parts"
            ),
        }
    }
}

impl std::error::Error for QueryError {}

/// Checks `[from_ms, to_ms)` against the limits every integration obeys.
///
/// # Errors
/// [`QueryError::IntervalReversed`] or [`QueryError::IntervalTooLong`].
pub(super) fn check_interval(from_ms: u64, to_ms: u64) -> Result<(), QueryError> {
    let Some(length_ms) = to_ms.checked_sub(from_ms) else {
        return Err(QueryError::IntervalReversed { from_ms, to_ms });
    };
    let max_ms = super::INTERVAL_MS_MAX;
    if length_ms > max_ms {
        return Err(QueryError::IntervalTooLong { length_ms, max_ms });
    }
    Ok(())
}
