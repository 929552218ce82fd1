//! The PostgreSQL schema, as numbered migrations.
//!
//! `ting_schema` holds the version applied. [`migrate`] applies what is
//! missing, each step in its own transaction under a transaction-scoped
//! advisory lock (so two nodes migrating at once take turns, and the lock
//! holds through a pooler in transaction mode). The tables are documented
//! in docs/postgres.md.

use postgres::types::Type;
use postgres::Client;

use super::worker::{database, describe, Worker};
use crate::LogError;

/// The schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 3;

/// A key for `pg_advisory_xact_lock`: "ting" and 1.
const MIGRATION_LOCK: i64 = 0x7469_6e67_0000_0001;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 1: the network, the leader's lease and the blocks.
    "CREATE TABLE ting_network (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         genesis_hash bytea NOT NULL CHECK (length(genesis_hash) = 32)
     );
     CREATE TABLE ting_lease (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         epoch bigint NOT NULL CHECK (epoch >= 0),
         holder text,
         expires_at timestamptz
     );
     INSERT INTO ting_lease (epoch) VALUES (0);
     CREATE TABLE ting_blocks (
         height bigint PRIMARY KEY CHECK (height > 0),
         hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
         prev_hash bytea NOT NULL CHECK (length(prev_hash) = 32),
         epoch bigint NOT NULL CHECK (epoch >= 0),
         block_time timestamptz NOT NULL,
         tx_count integer NOT NULL CHECK (tx_count >= 0),
         header bytea NOT NULL,
         block bytea NOT NULL
     );",
    // 2: where the leader answers (followers forward submissions there),
    // and a readable list of the blocks.
    "ALTER TABLE ting_lease ADD COLUMN address text;
     CREATE VIEW ting_block_list AS
         SELECT height, encode(hash, 'hex') AS hash, encode(prev_hash, 'hex') AS prev_hash,
                epoch, block_time, tx_count, length(block) AS bytes
         FROM ting_blocks;",
    // 3: a row per transaction (written behind the appends, up to
    // ting_rows.height), and views over them.
    "CREATE TABLE ting_rows (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         height bigint NOT NULL CHECK (height >= 0)
     );
     INSERT INTO ting_rows (height) VALUES (0);
     CREATE TABLE ting_transactions (
         height bigint NOT NULL REFERENCES ting_blocks (height),
         idx integer NOT NULL CHECK (idx >= 0),
         hash bytea NOT NULL CHECK (length(hash) = 32),
         sender text NOT NULL,
         nonce bigint NOT NULL,
         kind text NOT NULL,
         counterparty text,
         amount bigint,
         channel text,
         PRIMARY KEY (height, idx)
     );
     CREATE INDEX ting_transactions_hash ON ting_transactions (hash);
     CREATE INDEX ting_transactions_sender ON ting_transactions (sender, height);
     CREATE INDEX ting_transactions_counterparty ON ting_transactions (counterparty, height)
         WHERE counterparty IS NOT NULL;
     CREATE INDEX ting_transactions_channel ON ting_transactions (channel, height)
         WHERE channel IS NOT NULL;
     CREATE VIEW ting_history AS
         SELECT sender AS account, height, idx, encode(hash, 'hex') AS hash, kind,
                'out' AS direction, counterparty, amount, channel
         FROM ting_transactions
         UNION ALL
         SELECT counterparty AS account, height, idx, encode(hash, 'hex') AS hash, kind,
                'in' AS direction, sender AS counterparty, amount, channel
         FROM ting_transactions WHERE counterparty IS NOT NULL;
     CREATE VIEW ting_accounts AS
         SELECT account, count(*) AS transactions, min(height) AS first_height,
                max(height) AS last_height,
                coalesce(sum(amount) FILTER (WHERE direction = 'in'), 0) AS amount_in,
                coalesce(sum(amount) FILTER (WHERE direction = 'out'), 0) AS amount_out
         FROM ting_history GROUP BY account;
     CREATE VIEW ting_channels AS
         SELECT channel, min(height) AS opened_height, max(height) AS last_height,
                count(*) AS transactions,
                (array_agg(sender ORDER BY height, idx) FILTER (WHERE kind = 'channel_open'))[1] AS payer,
                (array_agg(counterparty ORDER BY height, idx) FILTER (WHERE kind = 'channel_open'))[1] AS payee,
                coalesce(sum(amount) FILTER (WHERE kind IN ('channel_open', 'channel_top_up')), 0) AS deposited,
                bool_or(kind IN ('channel_close', 'channel_reclaim')) AS ended
         FROM ting_transactions WHERE channel IS NOT NULL GROUP BY channel;",
];

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
}

/// Brings the database at `url` to [`SCHEMA_VERSION`].
///
/// # Errors
/// The database cannot be reached, a step fails (nothing of that step is
/// kept), or the database holds a newer schema than this build knows.
pub fn migrate(url: &str) -> Result<Migrated, LogError> {
    let worker = Worker::connect(url, "ting-migrate")?;
    worker.run(migrate_on)?
}

fn migrate_on(client: &mut Client) -> Result<Migrated, LogError> {
    let fail = |e: postgres::Error| database("migrate the schema", &describe(&e));
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS ting_schema (version integer NOT NULL)")
        .map_err(fail)?;
    let from = {
        let mut tx = client.transaction().map_err(fail)?;
        tx.execute_typed(
            "SELECT pg_advisory_xact_lock($1)",
            &[(&MIGRATION_LOCK, Type::INT8)],
        )
        .map_err(fail)?;
        let found = version(&mut tx).map_err(fail)?;
        tx.commit().map_err(fail)?;
        found
    };
    if from > SCHEMA_VERSION {
        return Err(LogError::Schema {
            found: from,
            supported: SCHEMA_VERSION,
        });
    }
    for step in from..SCHEMA_VERSION {
        let mut tx = client.transaction().map_err(fail)?;
        tx.execute_typed(
            "SELECT pg_advisory_xact_lock($1)",
            &[(&MIGRATION_LOCK, Type::INT8)],
        )
        .map_err(fail)?;
        // Another node may have applied this step while this one waited.
        if version(&mut tx).map_err(fail)? > step {
            continue;
        }
        tx.batch_execute(MIGRATIONS[step as usize]).map_err(fail)?;
        tx.execute_typed("DELETE FROM ting_schema", &[])
            .map_err(fail)?;
        let to = i32::try_from(step + 1).expect("a small version");
        tx.execute_typed(
            "INSERT INTO ting_schema (version) VALUES ($1)",
            &[(&to, Type::INT4)],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(Migrated {
        from,
        to: SCHEMA_VERSION,
    })
}

/// The version applied; 0 on a database never migrated.
fn version(tx: &mut postgres::Transaction<'_>) -> Result<u32, postgres::Error> {
    let row = tx.query_typed_opt("SELECT max(version) FROM ting_schema", &[])?;
    let v: Option<i32> = row.and_then(|r| r.get(0));
    Ok(v.map_or(0, |v| u32::try_from(v).unwrap_or(0)))
}

/// The version applied, for [`super::PgLog::open`]; refuses anything but this build's.
pub(crate) fn check(client: &mut Client) -> Result<(), LogError> {
    let fail = |e: postgres::Error| database("read the schema version", &describe(&e));
    let exists: bool = client
        .query_typed_one("SELECT to_regclass('ting_schema') IS NOT NULL", &[])
        .map_err(fail)?
        .get(0);
    let found = if exists {
        let mut tx = client.transaction().map_err(fail)?;
        let v = version(&mut tx).map_err(fail)?;
        tx.commit().map_err(fail)?;
        v
    } else {
        0
    };
    if found == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(LogError::Schema {
            found,
            supported: SCHEMA_VERSION,
        })
    }
}
