//! The leader's lease: one row, `ting_lease`, with a holder, an expiry and
//! an epoch that only grows.
//!
//! Every statement decides on the database's clock, so the nodes' clocks
//! do not matter. It reads that clock when it writes the row
//! (`clock_timestamp()`, once the row is locked), not when its transaction
//! began (`now()`): a taking that waited for a paused leader's append to
//! let go of the row would otherwise write a lease that had already run
//! out, and the next node to look would take it from under the new leader.
//! A lease so runs at least `ttl` past the moment its holder asked for it.
//!
//! No statement keeps session state (no advisory lock, no prepared
//! statement kept across transactions), so a pooler in transaction mode
//! may stand between. Taking the lease raises the epoch, even for the
//! holder it had: a restarted node's earlier incarnation may still have an
//! append in flight, and the new epoch fences it (`PgLog`
//! checks the epoch inside each append's transaction). Each statement is
//! safe to repeat, so each is tried once more on a new connection when the
//! server closed the old one (a restart, a database failover).

use std::time::Duration;

use postgres::types::Type;

use super::worker::{database, describe, Worker};
use crate::LogError;

/// The lease as the database holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseState {
    pub epoch: u64,
    pub holder: Option<String>,
    /// Where the holder answers HTTP (`http://HOST:PORT`), as it said when it took the lease.
    pub address: Option<String>,
    /// Milliseconds until it expires (negative once expired); `None` when released.
    pub expires_in_ms: Option<i64>,
}

/// A connection for taking, renewing and releasing the lease.
#[derive(Debug)]
pub struct Leases {
    worker: Worker,
}

/// How long taking the lease waits for a row lock (milliseconds), for this
/// transaction only: longer than an append may sit idle (`log.rs`).
const TAKE_LOCK_LIMIT: &str = "SET LOCAL lock_timeout = 5000";

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

    /// Takes the lease for `holder`, who answers at `address` (empty: nowhere
    /// other nodes can reach), for `ttl` if
    /// nobody holds it (released or expired) or `holder` does; answers the
    /// new epoch, or `None` when another holder's lease is still running.
    ///
    /// # Errors
    /// A holder name or address over [`HOLDER_BYTES_MAX`] bytes, an empty holder name, or a database error.
    pub fn take(
        &self,
        holder: &str,
        address: &str,
        ttl: Duration,
    ) -> Result<Option<u64>, LogError> {
        let holder = checked_holder(holder)?;
        let address = checked_address(address)?;
        let ttl_ms = ttl_ms(ttl);
        self.worker.read(move |c| {
            let fail = |e: postgres::Error| database("take the lease", &describe(&e));
            let mut tx = c.transaction().map_err(fail)?;
            // A leader paused inside an append holds the row until the
            // server ends its transaction; wait that long, not for ever.
            // The row is locked first, by itself: an UPDATE that waits
            // reads `clock_timestamp()` before it waits.
            tx.batch_execute(TAKE_LOCK_LIMIT).map_err(fail)?;
            tx.batch_execute("SELECT 1 FROM ting_lease FOR UPDATE")
                .map_err(fail)?;
            let epoch = tx
                .query_typed_opt(
                    "UPDATE ting_lease
                     SET epoch = epoch + 1, holder = $1, address = NULLIF($3, ''),
                         expires_at = clock_timestamp() + $2::bigint * interval '1 millisecond'
                     WHERE holder IS NULL OR holder = $1
                        OR expires_at IS NULL OR expires_at < clock_timestamp()
                     RETURNING epoch",
                    &[
                        (&holder, Type::TEXT),
                        (&ttl_ms, Type::INT8),
                        (&address, Type::TEXT),
                    ],
                )
                .map_err(fail)?
                .map(|r| epoch_of(r.get(0)));
            tx.commit().map_err(fail)?;
            Ok(epoch)
        })
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
        self.worker.read(move |c| {
            c.execute_typed(
                "UPDATE ting_lease
                 SET expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
                 WHERE holder = $1 AND epoch = $2 AND expires_at >= clock_timestamp()",
                &[
                    (&holder, Type::TEXT),
                    (&epoch, Type::INT8),
                    (&ttl_ms, Type::INT8),
                ],
            )
            .map(|n| n == 1)
            .map_err(|e| database("renew the lease", &describe(&e)))
        })
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
            c.execute_typed(
                "UPDATE ting_lease SET expires_at = NULL
                 WHERE holder = $1 AND epoch = $2",
                &[(&holder, Type::TEXT), (&epoch, Type::INT8)],
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
        self.worker.read(|c| {
            let r = c
                .query_typed_one(
                    "SELECT epoch, holder,
                            (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint, address
                     FROM ting_lease",
                    &[],
                )
                .map_err(|e| database("read the lease", &describe(&e)))?;
            Ok(LeaseState {
                epoch: epoch_of(r.get(0)),
                holder: r.get(1),
                expires_in_ms: r.get(2),
                address: r.get(3),
            })
        })
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

fn checked_address(address: &str) -> Result<String, LogError> {
    if address.len() > HOLDER_BYTES_MAX {
        return Err(database(
            "use the lease",
            &format!(
                "an address must be at most {HOLDER_BYTES_MAX} bytes, not {}",
                address.len()
            ),
        ));
    }
    Ok(address.to_owned())
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
