//! The block log in PostgreSQL (`--store postgres://...`): the same
//! [`BlockLog`](crate::BlockLog) as the file log, on a database that
//! replicates.
//!
//! - **Schema** ([`schema`]): versioned migrations, applied by
//!   [`migrate`] (`ting migrate`) and checked by [`PgLog::open`], which
//!   refuses a database whose schema is older or newer than this build's.
//! - **Appends** ([`PgLog`]): a group of blocks is one transaction, inserted
//!   with one multi-row statement and acknowledged when PostgreSQL commits
//!   it. Inside it the database itself checks what makes the chain: the
//!   blocks' epoch is the lease's current one (the lease row is read `FOR
//!   SHARE`, so a takeover waits for the insert or the insert sees the new
//!   epoch) and the first block's previous hash is the stored tip's hash
//!   (the height is the primary key). A leader whose lease was taken over is
//!   fenced by the database, whatever it believes.
//! - **The lease** ([`Leases`]): taken, renewed and released on the
//!   database's clock; taking it raises the epoch.
//! - **Reads** ([`PgLog::reader`]): blocks and headers by height, on a
//!   connection of their own. Followers read the tip ([`PgReader::refresh`])
//!   and hear of appends as they commit ([`Listener`], `LISTEN ting_blocks`).
//!
//! [`cluster::TempCluster`] starts a throwaway cluster for tests and benchmarks,
//! and [`bouncer::TempBouncer`] a PgBouncer in transaction mode in front of one.
//!
//! Every statement is sent unnamed (`query_typed`, `execute_typed`): one
//! round trip each, and no prepared statement outlives its transaction, so
//! PgBouncer in transaction mode may stand between the nodes and the
//! database. Limits an append needs are `SET LOCAL`, for its transaction only.
//!
//! Every connection lives on a thread of its own (`worker`): the
//! synchronous `postgres` client runs its own small runtime, which must not
//! be started from inside the node's, and the log is called from both.

pub mod bouncer;
pub mod cluster;
pub mod lease;
mod listen;
pub mod schema;
pub mod scratch;
mod worker;

mod log;
mod rows;
#[cfg(test)]
mod tests;

pub use lease::{LeaseState, Leases};
pub use listen::Listener;
pub use log::{PgLog, PgReader, NOTIFY_CHANNEL};
pub use rows::RowWriter;
pub use schema::{migrate, Migrated, SCHEMA_VERSION};
