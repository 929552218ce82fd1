//! The owners' watch: each household's owner follows what its purifier
//! sends, block by block (the node's committed blocks, as `GET /v1/events`
//! serves them), and freezes a purifier that pays in a way it never
//! should (`ting_sim::city::owner::unexpected`). The freeze is signed by
//! that owner's key and lands on the ledger like any transaction.

use std::collections::BTreeSet;
use std::sync::Arc;

use ting_node::pipeline::CommittedBlock;
use ting_sim::city::{owner, Tally};
use tokio::sync::{broadcast, watch};

use super::agents::City;

/// Watches until `stop`, freezing each misbehaving purifier once.
pub async fn watch(
    city: City,
    mut blocks: broadcast::Receiver<Arc<CommittedBlock>>,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let mut frozen = BTreeSet::new();
    loop {
        let block = tokio::select! {
            b = blocks.recv() => b,
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() { return; }
                continue;
            }
        };
        let block = match block {
            Ok(b) => b,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for tx in &block.block.txs {
            let Some(h) = city.cast.household_of(&tx.sender()) else {
                continue;
            };
            let Some(why) = owner::unexpected(tx.kind()) else {
                continue;
            };
            // A freeze that failed is tried again at the next transfer.
            if frozen.insert(h)
                && !freeze(&city, h, &why, block.block.header.timestamp.0, &tally).await
            {
                frozen.remove(&h);
            }
        }
    }
}

/// The owner of `household` freezes its purifier; answers whether it did.
async fn freeze(city: &City, household: u32, why: &str, at_ms: u64, tally: &Tally) -> bool {
    let (owner_actor, purifier) = (
        &city.cast.owners[household as usize],
        &city.cast.purifiers[household as usize],
    );
    let done = async {
        let device = city.device(owner_actor, 30_000 + u64::from(household))?;
        let result = owner::freeze(&device, &purifier.account()).await;
        device.shutdown().await;
        anyhow::Ok(result?)
    }
    .await;
    match done {
        Ok(()) => {
            tally.freeze(format!(
                "{} froze {} on {}: {why}",
                owner_actor.name,
                purifier.name,
                ting_sim::report::format::utc(at_ms),
            ));
            true
        }
        Err(e) => {
            tally.error(format!(
                "{}: freezing {}: {e}",
                owner_actor.name, purifier.name
            ));
            false
        }
    }
}
