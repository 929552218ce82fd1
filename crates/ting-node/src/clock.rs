//! The node's wall clock: the one place the server reads it. The executor
//! stamps blocks from it (never earlier than the previous block), and the MQTT
//! gateway stamps the envelopes it signs. Clients have theirs in
//! `ting_agent::clock`; the ledger itself never reads a clock.

use std::time::{SystemTime, UNIX_EPOCH};

use ting_core::Timestamp;

/// Milliseconds since the Unix epoch, UTC; 0 for a clock set before 1970.
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}
