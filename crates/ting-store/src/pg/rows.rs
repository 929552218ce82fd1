//! What one append writes beside the blocks: a row per transaction in
//! `ting_transactions`, for the views a person queries (docs/postgres.md).
//! Everything here is read from the blocks alone: the sender, the kind,
//! and for the kinds that name them the counterparty, the amount and the
//! channel. Balances and channel states are the ledger's, read from a node's
//! API (`/v1/accounts`, `/v1/channels`).

use ting_core::{Block, SignedTx, TxKind};

/// The transactions of one append, as columns for one multi-row insert.
#[derive(Debug, Default)]
pub(super) struct TxRows {
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

pub(super) const INSERT_TXS: &str = "INSERT INTO ting_transactions
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
