//! Hearing of appends as they commit: `LISTEN ting_blocks` on a connection
//! of its own. Each append notifies its last height inside its transaction,
//! so a notice comes only for blocks that are durable.
//!
//! A pooler in transaction mode cannot carry `LISTEN` (the session it
//! belongs to is not the client's): followers give the listener a direct
//! URL there, and poll the tip in any case, so a lost notice or a listener
//! that cannot connect only slows them down.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::log::NOTIFY_CHANNEL;
use super::worker::{database, describe, Worker};
use crate::LogError;

/// A connection listening for appends.
#[derive(Debug)]
pub struct Listener {
    worker: Worker,
}

impl Listener {
    /// Connects to `url` and starts listening.
    ///
    /// # Errors
    /// The database cannot be reached.
    pub fn connect(url: &str) -> Result<Listener, LogError> {
        let worker = Worker::connect(url, "ting-pg-listen")?;
        worker.run(|c| {
            c.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
                .map_err(|e| database("listen for appends", &describe(&e)))
        })??;
        Ok(Listener { worker })
    }

    /// Waits up to `timeout` for appends; answers the highest height heard,
    /// or `None` when none came in time.
    ///
    /// # Errors
    /// The connection failed: connect a new listener.
    pub fn wait(&self, timeout: Duration) -> Result<Option<u64>, LogError> {
        self.worker.run(move |c| {
            let fail = |e: postgres::Error| database("listen for appends", &describe(&e));
            let mut notices = c.notifications();
            let Some(first) = notices.timeout_iter(timeout).next().map_err(fail)? else {
                return Ok(None);
            };
            let mut best = height_of(first.payload());
            let mut pending = notices.iter();
            while let Some(next) = pending.next().map_err(fail)? {
                best = best.max(height_of(next.payload()));
            }
            Ok(Some(best))
        })?
    }
}

/// A notice's height; 0 for a payload that is not one (nothing else sends here).
fn height_of(payload: &str) -> u64 {
    payload.parse().unwrap_or(0)
}
