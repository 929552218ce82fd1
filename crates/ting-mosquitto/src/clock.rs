//! The plugin's wall clock: the one place it is read. The broker-facing code
//! reads it once per CONNECT and passes the reading to [`crate::Guard::login`],
//! so the decision itself stays a function of its inputs.

use std::time::{SystemTime, UNIX_EPOCH};

use ting_core::Timestamp;

/// Milliseconds since the Unix epoch, UTC; 0 for a clock set before 1970.
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}
