//! The query tables: a row per transaction in `ting_transactions`, for the
//! views a person queries (docs/postgres.md), written by the leader's
//! [`RowWriter`] behind the appends, in transactions of its own.
//!
//! Everything here is read from the blocks alone: the sender, the kind,
//! and for the kinds that name them the counterparty, the amount and the
//! channel. Balances and channel states are the ledger's, read from a node's
//! API (`/v1/accounts`, `/v1/channels`).
//!
//! Why behind and not inside the append: the rows' indexes cost the
//! database more than the blocks do (measured: 36,600 transfers/s with
//! them in the append, 61,000 without), and the appends are what
//! acknowledgements wait for. `ting_rows.height` says how far the rows
//! are; each step inserts the rows of the blocks after it and moves it, in
//! one transaction, only from the height it read, so two writers (an old
//! leader still stepping) never write a block's rows twice.

use postgres::types::Type;
use ting_core::{Block, BlockHeight, SignedTx, TxKind};

use super::worker::{database, describe, Worker};
use crate::LogError;

/// The most blocks one step reads and writes rows for.
const ROW_STEP_BLOCKS_MAX: i64 = 8;

/// Writes the rows of the blocks the database holds beyond `ting_rows.height`.
#[derive(Debug)]
pub struct RowWriter {
    worker: Worker,
}

impl RowWriter {
    /// Connects to the database at `url` (migrated).
    ///
    /// # Errors
    /// The database cannot be reached.
    pub fn connect(url: &str) -> Result<RowWriter, LogError> {
        Ok(RowWriter {
            worker: Worker::connect(url, "ting-pg-rows")?,
        })
    }

    /// Writes the rows of up to [`ROW_STEP_BLOCKS_MAX`] blocks past the
    /// rows' height; answers the height the rows reach now (the same when
    /// there was nothing to do, or another writer moved it first).
    ///
    /// # Errors
    /// A database error, or a stored block that does not decode.
    pub fn step(&self) -> Result<BlockHeight, LogError> {
        self.worker.read(step_on)
    }
}

fn step_on(c: &mut postgres::Client) -> Result<BlockHeight, LogError> {
    let fail = |e: postgres::Error| database("write the transaction rows", &describe(&e));
    let mut tx = c.transaction().map_err(fail)?;
    let from: i64 = tx
        .query_typed_one("SELECT height FROM ting_rows", &[])
        .map_err(fail)?
        .get(0);
    let blocks = tx
        .query_typed(
            "SELECT height, block FROM ting_blocks WHERE height > $1 ORDER BY height LIMIT $2",
            &[(&from, Type::INT8), (&ROW_STEP_BLOCKS_MAX, Type::INT8)],
        )
        .map_err(fail)?;
    let Some(last) = blocks.last().map(|r| r.get::<_, i64>(0)) else {
        return Ok(BlockHeight(u64::try_from(from).unwrap_or(0)));
    };
    let mut rows = TxRows::default();
    for row in &blocks {
        let (height, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
        let block = Block::decode(&bytes).map_err(|e| LogError::Replay {
            height: BlockHeight(u64::try_from(height).unwrap_or(0)),
            message: format!("the stored block does not decode: {e}"),
        })?;
        rows.add(&block);
    }
    tx.execute_typed(
        INSERT_TXS,
        &[
            (&rows.height, Type::INT8_ARRAY),
            (&rows.idx, Type::INT4_ARRAY),
            (&rows.hash, Type::BYTEA_ARRAY),
            (&rows.sender, Type::TEXT_ARRAY),
            (&rows.nonce, Type::INT8_ARRAY),
            (&rows.kind, Type::TEXT_ARRAY),
            (&rows.counterparty, Type::TEXT_ARRAY),
            (&rows.amount, Type::INT8_ARRAY),
            (&rows.channel, Type::TEXT_ARRAY),
        ],
    )
    .map_err(fail)?;
    let moved = tx
        .execute_typed(
            "UPDATE ting_rows SET height = $2 WHERE height = $1",
            &[(&from, Type::INT8), (&last, Type::INT8)],
        )
        .map_err(fail)?;
    if moved == 1 {
        tx.commit().map_err(fail)?;
    }
    // Otherwise another writer moved first; dropping the transaction undoes this one's rows.
    Ok(BlockHeight(u64::try_from(last).unwrap_or(0)))
}

/// The transactions of one append, as columns for one multi-row insert.
#[derive(Debug, Default)]
struct TxRows {
    pub height: Vec<i64>,
    pub idx: Vec<i32>,
    pub hash: Vec<Vec<u8>>,
    pub sender: Vec<String>,
    pub nonce: Vec<i64>,
    pub kind: Vec<&'static str>,
    pub counterparty: Vec<Option<String>>,
    pub amount: Vec<Option<i64>>,
    pub channel: Vec<Option<String>>,
}

const INSERT_TXS: &str = "INSERT INTO ting_transactions
         (height, idx, hash, sender, nonce, kind, counterparty, amount, channel)
     SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bytea[], $4::text[], $5::bigint[],
                          $6::text[], $7::text[], $8::bigint[], $9::text[])";

impl TxRows {
    /// Adds a row for each transaction of `block`.
    pub fn add(&mut self, block: &Block) {
        let height = i64::try_from(block.header.height.0).unwrap_or(i64::MAX);
        for (i, tx) in block.txs.iter().enumerate() {
            let (counterparty, amount, channel) = details(tx);
            self.height.push(height);
            self.idx.push(i32::try_from(i).unwrap_or(i32::MAX));
            self.hash.push(tx.hash().0.to_vec());
            self.sender.push(tx.sender().to_did());
            self.nonce
                .push(i64::try_from(tx.nonce().0).unwrap_or(i64::MAX));
            self.kind.push(tx.kind().name());
            self.counterparty.push(counterparty);
            self.amount.push(amount.and_then(|a| i64::try_from(a).ok()));
            self.channel.push(channel);
        }
    }
}

/// The counterparty, amount (base units) and channel a transaction names, where it names them.
fn details(tx: &SignedTx) -> (Option<String>, Option<u64>, Option<String>) {
    match tx.kind() {
        TxKind::Transfer { to, amount, .. } | TxKind::Mint { to, amount } => {
            (Some(to.to_did()), Some(amount.base_units()), None)
        }
        TxKind::Sweep { device, amount } => {
            (Some(device.to_did()), Some(amount.base_units()), None)
        }
        TxKind::ChannelOpen { payee, deposit, .. } => (
            Some(payee.to_did()),
            Some(deposit.base_units()),
            tx.opened_channel().map(|c| c.to_hex()),
        ),
        TxKind::ChannelTopUp {
            channel, amount, ..
        } => (None, Some(amount.base_units()), Some(channel.to_hex())),
        TxKind::ChannelClaim { channel, .. }
        | TxKind::ChannelClose { channel, .. }
        | TxKind::ChannelReclaim { channel } => (None, None, Some(channel.to_hex())),
        _ => (None, None, None),
    }
}
