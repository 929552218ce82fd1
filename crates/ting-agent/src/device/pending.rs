//! What the device waits for: the outbox, which of its entries are
//! transactions (by hash and nonce), and who awaits each outcome.

use std::collections::HashMap;
use std::path::Path;

use ting_core::{AccountId, BlockHeight, Hash32, Nonce, SignedTx};
use tokio::sync::oneshot;

use super::error::TxError;
use crate::outbox::{Item, Outbox, OutboxError};

/// A transaction in a durable block, as the node's receipt told it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirmed {
    pub tx_hash: Hash32,
    pub height: BlockHeight,
    pub index: u32,
}

/// How a transaction ended.
pub type TxOutcome = Result<Confirmed, TxError>;

/// A queued transaction's entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TxEntry {
    pub id: u64,
    pub nonce: Nonce,
}

/// A transaction taken out of the outbox with its outcome.
#[derive(Debug)]
pub(crate) struct Taken {
    pub nonce: Nonce,
    /// Who waits for the outcome; `None` if nobody does any more.
    pub waiter: Option<oneshot::Sender<TxOutcome>>,
}

/// The outbox and the bookkeeping around it; kept under one lock.
#[derive(Debug)]
pub(crate) struct Pending {
    outbox: Outbox,
    txs: HashMap<Hash32, TxEntry>,
    waiters: HashMap<Hash32, oneshot::Sender<TxOutcome>>,
}

impl Pending {
    /// Opens the outbox and indexes its transactions; an entry that does not
    /// decode as a transaction of `me` is dropped (it could never be answered).
    pub fn open(dir: &Path, me: &AccountId) -> Result<Pending, OutboxError> {
        let mut outbox = Outbox::open(dir)?;
        let mut txs = HashMap::new();
        let mut junk = Vec::new();
        for (id, item) in outbox.entries() {
            if let Item::Tx(bytes) = item {
                match SignedTx::decode(bytes) {
                    Ok(tx) if tx.sender() == *me => {
                        txs.insert(
                            tx.hash(),
                            TxEntry {
                                id,
                                nonce: tx.nonce(),
                            },
                        );
                    }
                    _ => junk.push(id),
                }
            }
        }
        for id in junk {
            outbox.remove(id)?;
        }
        Ok(Pending {
            outbox,
            txs,
            waiters: HashMap::new(),
        })
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Appends `tx` durably; the receiver yields its outcome.
    pub fn push_tx(&mut self, tx: &SignedTx) -> Result<oneshot::Receiver<TxOutcome>, OutboxError> {
        let id = self.outbox.push(Item::Tx(tx.bytes().to_vec()))?;
        let (send, recv) = oneshot::channel();
        self.txs.insert(
            tx.hash(),
            TxEntry {
                id,
                nonce: tx.nonce(),
            },
        );
        self.waiters.insert(tx.hash(), send);
        Ok(recv)
    }

    pub fn push_envelope(
        &mut self,
        recipient: AccountId,
        bytes: Vec<u8>,
    ) -> Result<u64, OutboxError> {
        self.outbox.push(Item::Envelope { recipient, bytes })
    }

    /// The broker took envelope `id`; it leaves the outbox.
    pub fn delivered(&mut self, id: u64) -> Result<(), OutboxError> {
        if matches!(self.outbox.get(id), Some(Item::Envelope { .. })) {
            self.outbox.remove(id)?;
        }
        Ok(())
    }

    /// The queued transaction with this hash.
    pub fn tx_bytes(&self, hash: &Hash32) -> Option<SignedTx> {
        match self.outbox.get(self.txs.get(hash)?.id)? {
            Item::Tx(bytes) => SignedTx::decode(bytes).ok(),
            Item::Envelope { .. } => None,
        }
    }

    /// Takes a transaction that has its outcome out of the outbox; answers
    /// its nonce and whoever waits for it (told by the caller, once the
    /// device's own state agrees with the outcome). `None` if it was not
    /// pending (a duplicate answer).
    pub fn take(&mut self, hash: &Hash32) -> Result<Option<Taken>, OutboxError> {
        let Some(entry) = self.txs.get(hash).copied() else {
            return Ok(None);
        };
        self.outbox.remove(entry.id)?;
        self.txs.remove(hash);
        Ok(Some(Taken {
            nonce: entry.nonce,
            waiter: self.waiters.remove(hash),
        }))
    }

    /// The highest nonce a pending transaction carries.
    pub fn max_nonce(&self) -> Option<Nonce> {
        self.txs.values().map(|e| e.nonce).max()
    }

    /// Whether a pending transaction carries a nonce from `from` up to, not
    /// including, `below`.
    pub fn holds_nonce_between(&self, from: Nonce, below: Nonce) -> bool {
        self.txs
            .values()
            .any(|e| from <= e.nonce && e.nonce < below)
    }

    /// Every waiter hears that the device stopped; the entries stay on disk.
    pub fn stop_waiters(&mut self) {
        for (hash, waiter) in self.waiters.drain() {
            let _ = waiter.send(Err(TxError::Stopped(hash)));
        }
    }
}
