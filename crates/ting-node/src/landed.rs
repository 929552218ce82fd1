//! Where a transaction landed, and the answer to one sent again after it did.
//!
//! A transaction's block is found through the query index or, above the
//! height the index has reached, by reading the newest blocks back (at most a
//! bound of them).
//!
//! A copy of a transaction that already landed is refused by the ledger with
//! `bad_nonce`: its nonce is used. Copies are normal, not an attack: a device
//! sends a transaction again until it holds its receipt (the node that took
//! it may have died, a shared subscriber's broker may have dropped it, a
//! receipt may have been lost), and a broker may deliver a message twice.
//! So the node answers such a copy with the first one's commit and receipt,
//! over HTTP and MQTT alike: a transaction gets the same answer however often
//! it is sent (docs/api.md §5, rule 6; docs/mqtt.md §5). On several nodes the
//! leader does this, and a follower passes its answer on.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use ting_core::merkle::MerkleTree;
use ting_core::{Block, BlockHeight, Hash32};
use ting_store::{IndexError, LogError};

use crate::books::visible_height;
use crate::node::Shared;
use crate::pipeline::{Committed, Outcome};

/// Most blocks above the index's height a query reads back.
pub const UNINDEXED_SCAN_BLOCKS_MAX: u64 = 1024;
/// Most blocks above the index's height read back for a copy: the index is
/// normally a few blocks behind at most, and a copy refused while it is
/// further behind keeps its `bad_nonce` (the device asks again by hash).
pub const RESENT_SCAN_BLOCKS_MAX: u64 = 16;
/// Longest a copy's answer waits for the block that used its nonce to be durable.
const RESENT_DURABLE_WAIT: Duration = Duration::from_secs(2);

/// Why a transaction's block could not be looked for.
#[derive(Debug, Error)]
pub enum LandedError {
    #[error("the query index could not be read: {0}")]
    Index(#[from] IndexError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(
        "the query index is {behind} blocks behind the log (more than {scan_max} to read back)"
    )]
    IndexBehind { behind: u64, scan_max: u64 },
}

impl Shared {
    /// The durable block holding `hash` and its index there, looking through
    /// at most `scan_max` blocks the index has not reached. Blocking: run it
    /// off the async workers.
    ///
    /// # Errors
    /// The index or the log cannot be read, or the index is more than
    /// `scan_max` blocks behind.
    pub fn landed(
        &self,
        hash: &Hash32,
        scan_max: u64,
    ) -> Result<Option<(Block, u32)>, LandedError> {
        // Read how far the index has got *before* asking it: a transaction it does not know
        // then lies above that height, even if the indexer moves on between the two reads.
        let indexed = self.index.indexed_height()?;
        if let Some(loc) = self.index.tx_location(hash)? {
            return Ok(self.log.block(loc.height)?.map(|b| (b, loc.index)));
        }
        let durable = self.log.height();
        let behind = durable.0.saturating_sub(indexed.0);
        if behind > scan_max {
            return Err(LandedError::IndexBehind { behind, scan_max });
        }
        for h in (indexed.0 + 1..=durable.0).rev() {
            let Some(block) = self.log.block(BlockHeight(h))? else {
                continue;
            };
            if let Some(i) = block.txs.iter().position(|t| t.hash() == *hash) {
                let i = u32::try_from(i).expect("bounded by BLOCK_TXS_MAX");
                return Ok(Some((block, i)));
            }
        }
        Ok(None)
    }
}

/// The commit of the transaction at `index` in `block`, with its proof.
pub fn committed_in(block: &Block, index: u32) -> Option<Committed> {
    let hashes = block.tx_hashes();
    let at = usize::try_from(index).ok()?;
    let tx_hash = *hashes.get(at)?;
    let proof = MerkleTree::new(&hashes).proof(at)?;
    Some(Committed {
        tx_hash,
        height: block.header.height,
        index,
        block_hash: block.header.hash(),
        header: Arc::new(block.header.clone()),
        proof,
        resent: false,
    })
}

/// `outcome`, except that a `bad_nonce` refusal of a transaction that itself
/// landed becomes that landing's commit.
pub async fn answer_resent(shared: &Arc<Shared>, outcome: Outcome) -> Outcome {
    let Outcome::Refused(refusal) = &outcome else {
        return outcome;
    };
    // On a follower the leader looked already: its answer is passed on.
    if refusal.code != "bad_nonce" || !shared.roles.sequences() {
        return outcome;
    }
    match resent_commit(shared, refusal.tx_hash).await {
        Some(committed) => {
            shared
                .metrics
                .txs_resent_answered
                .fetch_add(1, Ordering::Relaxed);
            Outcome::Committed(Committed {
                resent: true,
                ..committed
            })
        }
        None => outcome,
    }
}

/// The commit of `hash`, if it landed. The ledger refused the copy on a
/// state that may hold the first one's block before it is durable: that
/// block is waited for first (briefly), then looked in.
async fn resent_commit(shared: &Arc<Shared>, hash: Hash32) -> Option<Committed> {
    let applied = {
        let st = shared.state.read().expect("state lock");
        visible_height(shared, &st)
    };
    tokio::time::timeout(RESENT_DURABLE_WAIT, shared.durable.reached(applied))
        .await
        .ok()?;
    let s = Arc::clone(shared);
    let found = tokio::task::spawn_blocking(move || s.landed(&hash, RESENT_SCAN_BLOCKS_MAX))
        .await
        .ok()?;
    match found {
        Ok(Some((block, index))) => committed_in(&block, index),
        Ok(None) => None,
        Err(e) => {
            tracing::debug!(error = %e, tx = %hash, "could not look for a resent transaction's block");
            None
        }
    }
}
