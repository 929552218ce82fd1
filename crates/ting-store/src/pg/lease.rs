//! The leader's lease: one row, `ting_lease`, with a holder, an expiry and
//! an epoch that only grows.
//!
//! Every statement decides on the database's clock (`now()`), so the
//! nodes' clocks do not matter, and none keeps session state (no advisory
//! lock, no prepared statement kept across transactions), so a pooler in
//! transaction mode may stand between. Taking the lease raises the epoch,
//! even for the holder it had: a restarted node's earlier incarnation may
//! still have an append in flight, and the new epoch fences it (`PgLog`
//! checks the epoch inside each append's transaction).

use std::time::Duration;

use super::worker::{database, describe, Worker};
use crate::LogError;

/// The lease as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub epoch: u64,
    pub holder: Option<String>,
    /// Milliseconds until it expires (negative once expired); `None` when released.
    pub expires_in_ms: Option<i64>,
}

/// A connection for taking, renewing and releasing the lease.
#[derive(Debug)]
pub struct Leases {
    worker: Worker,
}

/// The longest holder name kept.
pub const HOLDER_BYTES_MAX: usize = 128;

impl Leases {
    /// Connects to the database at `url` (migrated).
    ///
    /// # Errors
    /// The database cannot be reached.
    pub fn connect(url: &str) -> Result<Leases, LogError> {
        Ok(Leases {
            worker: Worker::connect(url, "ting-pg-lease")?,
        })
    }

    /// Takes the lease for `holder` for `ttl` if nobody holds it (released
    /// or expired) or `holder` does; answers the new epoch, or `None` when
    /// another holder's lease is still running.
    ///
    /// # Errors
    /// A holder name over [`HOLDER_BYTES_MAX`] bytes, or a database error.
    pub fn take(&self, holder: &str, ttl: Duration) -> Result<Option<u64>, LogError> {
        let holder = checked_holder(holder)?;
        let ttl_ms = ttl_ms(ttl);
        self.worker.run(move |c| {
            c.query_opt(
                "UPDATE ting_lease
                 SET epoch = epoch + 1, holder = $1,
                     expires_at = now() + $2::bigint * interval '1 millisecond'
                 WHERE holder IS NULL OR holder = $1
                    OR expires_at IS NULL OR expires_at < now()
                 RETURNING epoch",
                &[&holder, &ttl_ms],
            )
            .map(|row| row.map(|r| epoch_of(r.get(0))))
            .map_err(|e| database("take the lease", &describe(&e)))
        })?
    }

    /// Extends the lease `holder` holds in `epoch` by `ttl` from now, if it
    /// has not expired; `false` when it is no longer this holder's (then
    /// stop appending, and take it again to lead).
    ///
    /// # Errors
    /// A database error: the lease may be running out; stop appending
    /// before it does.
    pub fn renew(&self, holder: &str, epoch: u64, ttl: Duration) -> Result<bool, LogError> {
        let holder = checked_holder(holder)?;
        let (epoch, ttl_ms) = (db_epoch(epoch), ttl_ms(ttl));
        self.worker.run(move |c| {
            c.execute(
                "UPDATE ting_lease
                 SET expires_at = now() + $3::bigint * interval '1 millisecond'
                 WHERE holder = $1 AND epoch = $2 AND expires_at >= now()",
                &[&holder, &epoch, &ttl_ms],
            )
            .map(|n| n == 1)
            .map_err(|e| database("renew the lease", &describe(&e)))
        })?
    }

    /// Gives the lease up at once (a clean shutdown), so that another node
    /// need not wait for it to expire; `false` if it was not this holder's.
    ///
    /// # Errors
    /// A database error.
    pub fn release(&self, holder: &str, epoch: u64) -> Result<bool, LogError> {
        let holder = checked_holder(holder)?;
        let epoch = db_epoch(epoch);
        self.worker.run(move |c| {
            c.execute(
                "UPDATE ting_lease SET expires_at = NULL
                 WHERE holder = $1 AND epoch = $2",
                &[&holder, &epoch],
            )
            .map(|n| n == 1)
            .map_err(|e| database("release the lease", &describe(&e)))
        })?
    }

    /// The lease as it is now.
    ///
    /// # Errors
    /// A database error.
    pub fn state(&self) -> Result<LeaseState, LogError> {
        self.worker.run(|c| {
            let r = c
                .query_one(
                    "SELECT epoch, holder,
                            (extract(epoch FROM expires_at - now()) * 1000)::bigint
                     FROM ting_lease",
                    &[],
                )
                .map_err(|e| database("read the lease", &describe(&e)))?;
            Ok(LeaseState {
                epoch: epoch_of(r.get(0)),
                holder: r.get(1),
                expires_in_ms: r.get(2),
            })
        })?
    }
}

fn checked_holder(holder: &str) -> Result<String, LogError> {
    if holder.is_empty() || holder.len() > HOLDER_BYTES_MAX {
        return Err(database(
            "use the lease",
            &format!(
                "a holder name must be 1 to {HOLDER_BYTES_MAX} bytes, not {}",
                holder.len()
            ),
        ));
    }
    Ok(holder.to_owned())
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

fn db_epoch(epoch: u64) -> i64 {
    i64::try_from(epoch).unwrap_or(i64::MAX)
}

fn epoch_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
