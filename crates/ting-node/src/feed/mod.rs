//! The feed: the node's one reader of durable blocks for its pages.
//!
//! One background thread, `ting-feed`, takes every durable block once, in
//! height order, and does for all pages what each would otherwise do for
//! itself:
//!
//! - hands the block to the account watchers ([`Watchers`]), waking only
//!   those whose account it touches;
//! - counts it for the overview ([`overview::Tally`]), and once a second
//!   reads the ledger's figures under one short state lock and publishes the
//!   overview on a watch channel, only when it changed. `GET /v1/overview`
//!   reads the latest copy, and each `/v1/overview/events` stream waits on
//!   the channel: any number of overview pages cost the node one computation
//!   a second.
//!
//! Blocks come from the writer's event broadcast (subscribed before the
//! writer starts, so no block is missed at start); a block the feed was too
//! slow to take from it is read from the log instead, so every block is
//! handled exactly once. The blocks already durable at start are counted for
//! `txs_total` from their headers, a chunk at a time between live blocks.
//! The thread runs at background priority (`background::lower_priority`):
//! the ledger comes first. It stops when the node stops.

mod overview;
mod watchers;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use ting_core::BlockHeight;
use ting_ledger::State;
use ting_store::LogReader;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

pub use overview::{Overview, Published, RecentBlock, RECENT_BLOCKS};
pub use watchers::{Item, Watch, Watchers};

use crate::background::{lower_priority, POLL};
use crate::pipeline::{CommittedBlock, Durable, Load};
use overview::{StateFigures, Tally};

/// How often the overview is worked out (and published, if it changed).
const OVERVIEW_EVERY: Duration = Duration::from_secs(1);
/// The longest the feed waits for the blocks its state figures include to be
/// durable; past it that second's overview is skipped (the disk is behind).
const DURABLE_WAIT: Duration = Duration::from_secs(1);
/// Headers of blocks durable at start counted between two looks at live blocks.
const COUNT_CHUNK_BLOCKS: u64 = 1024;

/// What the feed reads and whom it tells.
pub(crate) struct FeedParts {
    pub state: Arc<RwLock<State>>,
    pub load: Arc<Load>,
    pub log: LogReader,
    pub durable: Arc<Durable>,
    /// Subscribed before the writer starts.
    pub blocks: broadcast::Receiver<Arc<CommittedBlock>>,
    pub watchers: Arc<Watchers>,
    pub stopping: Arc<AtomicBool>,
}

/// The feed's state, owned by its thread.
pub(crate) struct Feed {
    parts: FeedParts,
    tally: Tally,
    /// The height of the last block handled.
    last: u64,
    overview: watch::Sender<Arc<Published>>,
}

impl Feed {
    /// A feed that starts after the blocks durable now, and the overview as
    /// it is now, for the handlers to read until the first tick.
    pub fn new(parts: FeedParts) -> (Feed, watch::Receiver<Arc<Published>>) {
        let durable = parts.durable.height().0;
        assert_eq!(
            parts.watchers.dispatched(),
            durable,
            "the watchers start where the feed does"
        );
        let recent = (durable.saturating_sub(RECENT_BLOCKS as u64) + 1..=durable)
            .rev()
            .filter_map(|h| match parts.log.header(BlockHeight(h)) {
                Ok(Some(header)) => Some(RecentBlock::of(&header, &header.hash())),
                _ => None,
            })
            .collect();
        let tally = Tally::new(durable, recent);
        let figures = StateFigures::read(&parts.state, &parts.load.block_open);
        let first = Published::of(tally.overview(figures, durable));
        let (overview, rx) = watch::channel(Arc::new(first));
        let feed = Feed {
            parts,
            tally,
            last: durable,
            overview,
        };
        (feed, rx)
    }

    /// Runs the feed on a thread of its own until the node stops.
    pub fn spawn(self) -> JoinHandle<()> {
        std::thread::Builder::new()
            .name("ting-feed".into())
            .spawn(move || {
                lower_priority("feed");
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("the feed's runtime");
                rt.block_on(self.run());
            })
            .expect("spawn feed thread")
    }

    async fn run(mut self) {
        let mut tick = tokio::time::interval(OVERVIEW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stop = tokio::time::interval(POLL);
        loop {
            tokio::select! {
                biased;
                _ = stop.tick() => {
                    if self.parts.stopping.load(Ordering::Acquire) {
                        return;
                    }
                }
                received = self.parts.blocks.recv() => match received {
                    Ok(b) => self.next_block(&b),
                    // The gap shows, and is read from the log, with the next block.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => self.publish().await,
                () = std::future::ready(()), if self.tally.counting() => {
                    self.count_some();
                    // Let the runtime's timers and wake-ups run between chunks.
                    tokio::task::yield_now().await;
                }
            }
        }
    }

    /// A block from the broadcast, after any the feed missed there.
    fn next_block(&mut self, b: &CommittedBlock) {
        let height = b.block.header.height.0;
        if height <= self.last {
            // Durable before the feed started.
            return;
        }
        for missed in self.last + 1..height {
            match self.parts.log.block(BlockHeight(missed)) {
                Ok(Some(block)) => {
                    let hash = block.header.hash();
                    self.take(&CommittedBlock::new(block, hash));
                }
                other => {
                    let error = other.err().map(|e| e.to_string());
                    tracing::error!(height = missed, ?error, "the feed could not read a durable block; account watchers are told they may have missed it");
                    self.parts.watchers.skip(missed);
                    self.tally.lost();
                    self.last = missed;
                }
            }
        }
        self.take(b);
    }

    fn take(&mut self, b: &CommittedBlock) {
        self.parts.watchers.dispatch(b, &self.parts.state);
        self.tally.block(&b.block, &b.block_hash);
        self.last = b.block.header.height.0;
    }

    /// Closes the second and publishes the overview if it changed. The state
    /// figures include every block up to their height, so the feed first
    /// takes the blocks up to it (which makes it durable too): the block
    /// counts and recent blocks are never behind the state figures.
    async fn publish(&mut self) {
        self.tally.close_second();
        let figures = StateFigures::read(&self.parts.state, &self.parts.load.block_open);
        let deadline = tokio::time::Instant::now() + DURABLE_WAIT;
        while self.last < figures.height {
            match tokio::time::timeout_at(deadline, self.parts.blocks.recv()).await {
                Ok(Ok(b)) => self.next_block(&b),
                Ok(Err(RecvError::Lagged(_))) => {}
                // The disk is behind (or the node stops): skip this second.
                Ok(Err(RecvError::Closed)) | Err(_) => return,
            }
        }
        let overview = self.tally.overview(figures, self.parts.durable.height().0);
        self.overview.send_if_modified(|current| {
            if current.overview == overview {
                return false;
            }
            *current = Arc::new(Published::of(overview));
            true
        });
    }

    /// Counts the transactions of a chunk of the blocks durable at start.
    fn count_some(&mut self) {
        for h in self.tally.to_count(COUNT_CHUNK_BLOCKS) {
            match self.parts.log.header(BlockHeight(h)) {
                Ok(Some(header)) => self.tally.counted(header.tx_count),
                other => {
                    let error = other.err().map(|e| e.to_string());
                    tracing::error!(
                        height = h,
                        ?error,
                        "the feed could not read a durable block's header; txs_total stays unknown"
                    );
                    self.tally.lost();
                    return;
                }
            }
        }
    }
}
