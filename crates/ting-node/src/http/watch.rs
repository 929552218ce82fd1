//! `GET /v1/events?account=ID&skip_empty=true`: an account watcher, the
//! stream behind a page that shows one account or device live.
//!
//! It sends only the groups of blocks that carry a receipt for its account
//! (`events.rs` describes groups and ids). It is registered with the feed's
//! [`Watchers`](crate::feed::Watchers), which puts those groups in its inbox
//! and never wakes it for other blocks; between groups only keep-alive
//! comments go out.
//!
//! On resume with `Last-Event-ID: H` it first replays the blocks after `H`,
//! up to where its live groups start ([`Watch::from`]), that hold a receipt
//! for the account. Its last id can be far behind the durable height (the
//! account was quiet), so it does not read every block in between: the query
//! index lists the account's transactions up to the height it has reached,
//! and the blocks above that (the index may lag under load) are read from the
//! log, at most `SCAN_BLOCKS_MAX` of them. At most `REPLAY_BLOCKS_MAX` blocks
//! are replayed, the newest; when more may have held receipts the replay
//! starts with a `lagged` event counting the blocks before the first replayed
//! one that were not looked at.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::Event;
use futures_util::stream::{self, Stream, StreamExt};
use ting_core::limits::ACCOUNT_TXS_PAGE_MAX;
use ting_core::{AccountId, BlockHeight};
use ting_store::TxLocation;
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::events::{lagged_event, Group, REPLAY_BLOCKS_MAX};
use crate::feed::{Item, Watch};
use crate::node::Shared;
use crate::pipeline::CommittedBlock;

/// The most blocks above the query index a resuming watcher reads to find
/// its account's (the index is at most this far behind outside heavy load).
const SCAN_BLOCKS_MAX: u64 = 1024;
/// The most pages of the account's history a resuming watcher reads from
/// the index (`ACCOUNT_TXS_PAGE_MAX` transactions each).
const INDEX_PAGES_MAX: usize = 8;

/// The blocks a resuming watcher replays, oldest first, and how many blocks
/// before the first of them it did not look at.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    heights: Vec<u64>,
    missed: u64,
}

/// The blocks in `(after, upto]` that touch the account, newest
/// `REPLAY_BLOCKS_MAX` of them: the index lists the account's transactions up
/// to `indexed`, newest first below a cursor (`page`); above it `touches`
/// reads a block. Bounded by `SCAN_BLOCKS_MAX` blocks read and
/// `INDEX_PAGES_MAX` pages; what is left unexamined is counted as missed.
fn plan(
    after: u64,
    upto: u64,
    indexed: u64,
    mut touches: impl FnMut(u64) -> Result<bool, String>,
    mut page: impl FnMut(TxLocation) -> Result<Vec<TxLocation>, String>,
) -> Result<Plan, String> {
    if after >= upto {
        return Ok(Plan::default());
    }
    let max = usize::try_from(REPLAY_BLOCKS_MAX).expect("a small bound");
    let indexed = indexed.clamp(after, upto);
    let mut newest_first: Vec<u64> = Vec::new();
    // Every block from `low` to `upto` has been looked at.
    let mut low = upto + 1;
    while low > indexed + 1 && upto + 1 - low < SCAN_BLOCKS_MAX && newest_first.len() <= max {
        low -= 1;
        if touches(low)? {
            newest_first.push(low);
        }
    }
    if low == indexed + 1 && indexed > after && newest_first.len() <= max {
        let mut before = TxLocation {
            height: BlockHeight(indexed + 1),
            index: 0,
        };
        'pages: for _ in 0..INDEX_PAGES_MAX {
            let locations = match page(before) {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "a resuming account watcher could not read the query index; it reports the rest as missed");
                    break;
                }
            };
            for l in &locations {
                let height = l.height.0;
                if height <= after {
                    low = after + 1;
                    break 'pages;
                }
                if newest_first.last() != Some(&height) {
                    newest_first.push(height);
                }
                if newest_first.len() > max {
                    break 'pages;
                }
                // Its block is replayed whole, whatever the next page holds.
                low = height;
            }
            match locations.last() {
                Some(last) if locations.len() == ACCOUNT_TXS_PAGE_MAX => before = *last,
                _ => {
                    low = after + 1;
                    break;
                }
            }
        }
    }
    if newest_first.len() > max {
        // The oldest found is not replayed: it and everything below go unsent.
        low = newest_first[max] + 1;
        newest_first.truncate(max);
    }
    newest_first.reverse();
    Ok(Plan {
        heights: newest_first,
        missed: low - 1 - after,
    })
}

/// Reads the plan of `account`'s replay from the index and the log.
fn plan_from_store(s: &Shared, account: &AccountId, after: u64, upto: u64) -> Result<Plan, String> {
    // Read how far the index has got before asking it: what it does not list
    // then lies above that height.
    let indexed = match s.index.indexed_height() {
        Ok(h) => h.0,
        Err(e) => {
            tracing::warn!(error = %e, "a resuming account watcher could not read the query index's height; it reads blocks instead");
            0
        }
    };
    let touches = |h: u64| {
        let block = read_block(s, h)?;
        Ok(!block.touched(&s.state).get(account).is_empty())
    };
    let page = |before: TxLocation| {
        let page = s
            .index
            .account_txs(account, Some(before), ACCOUNT_TXS_PAGE_MAX);
        page.map(|p| p.into_iter().map(|(l, _)| l).collect())
            .map_err(|e| e.to_string())
    };
    plan(after, upto, indexed, touches, page)
}

fn read_block(s: &Shared, height: u64) -> Result<CommittedBlock, String> {
    match s.log.block(BlockHeight(height)) {
        Ok(Some(block)) => {
            let hash = block.header.hash();
            Ok(CommittedBlock::new(block, hash))
        }
        Ok(None) => Err(format!("the block log does not hold block {height}")),
        Err(e) => Err(e.to_string()),
    }
}

/// One open account watcher's state.
struct Watcher {
    s: Arc<Shared>,
    account: AccountId,
    live: Watch,
    closing: watch::Receiver<bool>,
    /// The `Last-Event-ID` it resumes after, until its replay is planned.
    resume_after: Option<u64>,
    replay: VecDeque<u64>,
    lagged: u64,
    /// Held for as long as the stream lives (`NodeConfig::event_streams_max`).
    _permit: OwnedSemaphorePermit,
}

impl Watcher {
    /// The next events to send; `None` ends the stream.
    async fn next_events(&mut self) -> Option<Vec<Event>> {
        if *self.closing.borrow() {
            return None;
        }
        if let Some(after) = self.resume_after.take() {
            let plan = self.plan(after).await?;
            self.replay = plan.heights.into();
            self.lagged = plan.missed;
        }
        if self.lagged > 0 {
            return Some(vec![lagged_event(std::mem::take(&mut self.lagged))]);
        }
        while let Some(height) = self.replay.pop_front() {
            let group = self.replayed(height).await?;
            if group.has_receipts() {
                return Some(group.events());
            }
        }
        tokio::select! {
            item = self.live.next() => Some(match item {
                Item::Group(group) => group.events(),
                Item::Lagged(missed) => vec![lagged_event(missed)],
            }),
            _ = self.closing.wait_for(|c| *c) => None,
        }
    }

    /// The replay after `after`, planned on a blocking thread. A failure ends
    /// the stream: the client resumes later.
    async fn plan(&self, after: u64) -> Option<Plan> {
        let (s, account, upto) = (Arc::clone(&self.s), self.account, self.live.from);
        let planned =
            tokio::task::spawn_blocking(move || plan_from_store(&s, &account, after, upto)).await;
        match planned {
            Ok(Ok(plan)) => Some(plan),
            Ok(Err(error)) => {
                tracing::error!(%error, "an account watcher could not plan its replay; ending it");
                None
            }
            Err(error) => {
                tracing::error!(%error, "an account watcher's replay planning failed; ending it");
                None
            }
        }
    }

    /// The account's group of a durable block, read from the log on a
    /// blocking thread. A block the log cannot give ends the stream.
    async fn replayed(&self, height: u64) -> Option<Group> {
        let (s, account) = (Arc::clone(&self.s), self.account);
        let read = tokio::task::spawn_blocking(move || {
            let b = read_block(&s, height)?;
            let txs = b.touched(&s.state).get(&account).to_vec();
            Ok::<_, String>(Group::of(&b, txs))
        })
        .await;
        let error = match read {
            Ok(Ok(group)) => return Some(group),
            Ok(Err(e)) => e,
            Err(e) => e.to_string(),
        };
        tracing::error!(height, %error, "an account watcher could not replay a durable block; ending it");
        None
    }
}

/// The stream of an account watcher of `account`, resuming after
/// `resume_after` if given.
pub(super) fn stream(
    s: Arc<Shared>,
    account: AccountId,
    resume_after: Option<u64>,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let watcher = Watcher {
        live: s.watchers.watch(account),
        closing: s.closing.subscribe(),
        account,
        resume_after,
        replay: VecDeque::new(),
        lagged: 0,
        _permit: permit,
        s,
    };
    stream::unfold(watcher, |mut w| async move {
        let events = w.next_events().await?;
        Some((stream::iter(events.into_iter().map(Ok)), w))
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A chain whose account has transactions at `account_heights` (two at
    /// each), indexed up to `indexed`; answers the plan and how many blocks
    /// were read and index pages asked for.
    fn check(account_heights: &[u64], after: u64, upto: u64, indexed: u64) -> (Plan, u64, u64) {
        check_with(account_heights, 2, after, upto, indexed)
    }

    /// [`check`] with `per_block` of the account's transactions in each of its blocks.
    fn check_with(
        account_heights: &[u64],
        per_block: u32,
        after: u64,
        upto: u64,
        indexed: u64,
    ) -> (Plan, u64, u64) {
        let set: BTreeSet<u64> = account_heights.iter().copied().collect();
        let (mut reads, mut pages) = (0u64, 0u64);
        let touches = |h: u64| {
            assert!(
                h > indexed.max(after) && h <= upto,
                "block {h} is read only above the index"
            );
            reads += 1;
            Ok(set.contains(&h))
        };
        let page = |before: TxLocation| {
            pages += 1;
            let mut locations: Vec<TxLocation> = set
                .iter()
                .filter(|h| **h <= indexed)
                .flat_map(|h| {
                    (0..per_block).map(|index| TxLocation {
                        height: BlockHeight(*h),
                        index,
                    })
                })
                .filter(|l| (l.height, l.index) < (before.height, before.index))
                .collect();
            locations.reverse();
            locations.truncate(ACCOUNT_TXS_PAGE_MAX);
            Ok(locations)
        };
        let plan = plan(after, upto, indexed, touches, page).expect("a plan");
        (plan, reads, pages)
    }

    fn plan_of(heights: Vec<u64>, missed: u64) -> Plan {
        Plan { heights, missed }
    }

    #[test]
    fn a_replay_finds_the_accounts_blocks_in_the_index_and_above_it() {
        let mine = [3, 10, 5_000, 9_000, 9_990, 9_995];
        let (plan, reads, _) = check(&mine, 4, 10_000, 9_980);
        assert_eq!(plan, plan_of(vec![10, 5_000, 9_000, 9_990, 9_995], 0));
        assert_eq!(reads, 20, "only the blocks above the index are read");
        let (plan, reads, pages) = check(&mine, 0, 10_000, 10_000);
        assert_eq!(plan, plan_of(mine.to_vec(), 0));
        assert_eq!((reads, pages), (0, 1));
        assert_eq!(
            check(&mine, 9_000, 9_000, 5).0,
            Plan::default(),
            "nothing after"
        );
        assert_eq!(check(&mine, 20_000, 9_000, 5).0, Plan::default(), "ahead");
        let (plan, _, pages) = check(&mine, 9_980, 10_000, 9_980);
        assert_eq!((plan, pages), (plan_of(vec![9_990, 9_995], 0), 0));
    }

    #[test]
    fn a_replay_keeps_the_newest_blocks_and_counts_what_it_did_not_look_at() {
        let max = REPLAY_BLOCKS_MAX;
        let mine: Vec<u64> = (1..=max + 5).map(|i| i * 10).collect();
        let (plan, _, _) = check(&mine, 0, 10_000, 10_000);
        let kept: Vec<u64> = mine[5..].to_vec();
        // The 65th newest of its blocks, 50, is where the replay stops: 1 to 50 go unsent.
        assert_eq!(plan, plan_of(kept.clone(), 50));
        let (plan, _, _) = check(&mine, 0, 10_000, 0);
        assert_eq!(
            plan.heights,
            Vec::<u64>::new(),
            "1024 blocks read, none of the account's"
        );
        assert_eq!(plan.missed, 10_000 - SCAN_BLOCKS_MAX);
        let (plan, _, _) = check(&mine, 0, max * 10 + 50, 0);
        assert_eq!(plan, plan_of(kept, 50), "found by reading blocks");
    }

    #[test]
    fn a_replay_stops_after_its_pages_and_counts_the_rest_as_missed() {
        // 100 transactions in each of 60 blocks: the pages run out first.
        let mine: Vec<u64> = (1..=60).map(|i| i * 10).collect();
        let (plan, reads, pages) = check_with(&mine, 100, 0, 1_000, 1_000);
        assert_eq!((reads, pages), (0, INDEX_PAGES_MAX as u64));
        let seen = ACCOUNT_TXS_PAGE_MAX * INDEX_PAGES_MAX / 100;
        assert_eq!(plan.heights, mine[mine.len() - seen..].to_vec());
        assert_eq!(plan.missed, 209, "blocks 1 to 209 were not looked at");
        // Fewer transactions: one page holds them all.
        let (plan, _, pages) = check_with(&mine, 5, 0, 1_000, 1_000);
        assert_eq!((plan, pages), (plan_of(mine, 0), 1));
    }
}
