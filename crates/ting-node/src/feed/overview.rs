//! The overview's figures: what `GET /v1/overview` and `/v1/overview/events`
//! show (docs/api.md §7, "`GET /v1/overview`", defines each one).
//!
//! The feed keeps a [`Tally`] of the durable blocks it sees: a window of the
//! last 60 one-second buckets (closed by the feed's once-a-second tick, by
//! this process's monotonic clock, not by block timestamps: an accelerated
//! network's ledger time would make "per second" mean something else), the
//! last `RECENT_BLOCKS` blocks, and the count of every transaction in the log
//! (the blocks already durable at start are counted from their headers in
//! the background; until then the total is unknown, `null`). The ledger's
//! own figures are read under one short state lock.

use std::collections::VecDeque;
use std::sync::RwLock;

use serde::Serialize;
use ting_core::{Block, BlockHeader, Hash32};
use ting_ledger::State;

/// Durable blocks the overview lists.
pub const RECENT_BLOCKS: usize = 10;
/// Seconds `tps` averages over.
const TPS_SECONDS: usize = 10;
/// Seconds `blocks_per_min` and `volume_1m` sum over: the window's length.
const WINDOW_SECONDS: usize = 60;

/// A durable block as the overview lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentBlock {
    pub height: u64,
    pub hash: String,
    pub timestamp_ms: u64,
    pub tx_count: u32,
}

impl RecentBlock {
    pub fn of(header: &BlockHeader, hash: &Hash32) -> RecentBlock {
        RecentBlock {
            height: header.height.0,
            hash: hash.to_hex(),
            timestamp_ms: header.timestamp.0,
            tx_count: header.tx_count,
        }
    }
}

/// The overview's figures, all integers (docs/api.md §7 defines each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    pub height: u64,
    pub durable_height: u64,
    pub accounts: u64,
    pub devices: u64,
    pub open_channels: u64,
    pub escrow: u64,
    pub supply: u64,
    pub tps: u64,
    pub blocks_per_min: u64,
    pub volume_1m: u64,
    pub txs_total: Option<u64>,
    /// Newest first.
    pub recent_blocks: Vec<RecentBlock>,
}

/// The overview as the HTTP handlers serve it: its figures and their JSON,
/// encoded once per change for every reader.
#[derive(Debug)]
pub struct Published {
    pub overview: Overview,
    pub json: axum::body::Bytes,
}

impl Published {
    pub fn of(overview: Overview) -> Published {
        let json = serde_json::to_vec(&overview).expect("the overview encodes");
        Published {
            overview,
            json: json.into(),
        }
    }
}

/// What the ledger's state says, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateFigures {
    /// The state's height, plus one while a block is open: its transactions
    /// are in the state already, so that block must be durable before these
    /// figures are shown.
    pub height: u64,
    pub accounts: u64,
    pub devices: u64,
    pub open_channels: u64,
    pub escrow: u64,
    pub supply: u64,
}

impl StateFigures {
    /// Reads them under one short lock. `block_open` is the pipeline's flag,
    /// which changes only under the write lock, so it agrees with the state.
    pub fn read(state: &RwLock<State>, block_open: &std::sync::atomic::AtomicBool) -> StateFigures {
        let st = state.read().expect("state lock");
        let open = block_open.load(std::sync::atomic::Ordering::Acquire);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        StateFigures {
            height: st.height().0 + u64::from(open),
            accounts: count(st.account_count()),
            devices: count(st.device_count()),
            open_channels: count(st.open_channel_total()),
            // What is locked is part of the supply, which fits in 64 bits:
            // the sum cannot overflow while the ledger conserves money.
            escrow: st.locked_sum().map_or(u64::MAX, |a| a.base_units()),
            supply: st.supply().base_units(),
        }
    }
}

/// Transactions, blocks and volume made durable in one second.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Second {
    blocks: u64,
    txs: u64,
    volume: u64,
}

/// The sum of the amounts `block`'s transactions name (`TxKind::amount`),
/// in base units; claims, settlements and closes name none.
pub fn volume(block: &Block) -> u64 {
    block
        .txs
        .iter()
        .filter_map(|tx| tx.kind().amount())
        .fold(0u64, |sum, a| sum.saturating_add(a.base_units()))
}

/// What the feed has counted of the durable blocks.
#[derive(Debug)]
pub struct Tally {
    current: Second,
    /// Closed seconds, newest last, at most `WINDOW_SECONDS`.
    closed: VecDeque<Second>,
    /// Newest last, at most `RECENT_BLOCKS`.
    recent: VecDeque<RecentBlock>,
    /// Transactions in the blocks seen live.
    live_txs: u64,
    /// Transactions in the blocks durable at start, once counted.
    counted_txs: u64,
    /// The next block durable at start to count, and the last one.
    count_next: u64,
    count_upto: u64,
    /// A block could not be read: the total is unknown from then on.
    lost: bool,
}

impl Tally {
    /// A tally that has seen nothing live; the blocks up to `durable_at_start`
    /// are to be counted ([`Tally::count`]); `recent` lists the newest of them.
    pub fn new(durable_at_start: u64, recent: Vec<RecentBlock>) -> Tally {
        Tally {
            current: Second::default(),
            closed: VecDeque::with_capacity(WINDOW_SECONDS),
            recent: recent.into_iter().take(RECENT_BLOCKS).rev().collect(),
            live_txs: 0,
            counted_txs: 0,
            count_next: 1,
            count_upto: durable_at_start,
            lost: false,
        }
    }

    /// A block made durable now.
    pub fn block(&mut self, block: &Block, hash: &Hash32) {
        let txs = u64::from(block.header.tx_count);
        self.current.blocks += 1;
        self.current.txs += txs;
        self.current.volume = self.current.volume.saturating_add(volume(block));
        self.live_txs += txs;
        if self.recent.len() == RECENT_BLOCKS {
            self.recent.pop_front();
        }
        self.recent.push_back(RecentBlock::of(&block.header, hash));
    }

    /// A durable block that could not be read.
    pub fn lost(&mut self) {
        self.lost = true;
    }

    /// Ends the current second: it enters the window.
    pub fn close_second(&mut self) {
        if self.closed.len() == WINDOW_SECONDS {
            self.closed.pop_front();
        }
        self.closed.push_back(std::mem::take(&mut self.current));
    }

    /// Whether blocks durable at start are still to be counted.
    pub fn counting(&self) -> bool {
        !self.lost && self.count_next <= self.count_upto
    }

    /// The heights to count next, at most `n` of them.
    pub fn to_count(&self, n: u64) -> std::ops::RangeInclusive<u64> {
        self.count_next..=self.count_upto.min(self.count_next.saturating_add(n - 1))
    }

    /// Counts the transactions of the next block durable at start.
    pub fn counted(&mut self, tx_count: u32) {
        self.counted_txs += u64::from(tx_count);
        self.count_next += 1;
    }

    fn sum(&self, seconds: usize, field: impl Fn(&Second) -> u64) -> u64 {
        let skip = self.closed.len().saturating_sub(seconds);
        self.closed
            .iter()
            .skip(skip)
            .fold(0u64, |sum, s| sum.saturating_add(field(s)))
    }

    /// Transactions a second over the last `TPS_SECONDS` closed seconds
    /// (seconds before the node started count as none).
    pub fn tps(&self) -> u64 {
        self.sum(TPS_SECONDS, |s| s.txs) / TPS_SECONDS as u64
    }

    pub fn blocks_per_min(&self) -> u64 {
        self.sum(WINDOW_SECONDS, |s| s.blocks)
    }

    pub fn volume_1m(&self) -> u64 {
        self.sum(WINDOW_SECONDS, |s| s.volume)
    }

    /// Every transaction in the block log, once the blocks durable at start are counted.
    pub fn txs_total(&self) -> Option<u64> {
        (!self.lost && !self.counting()).then_some(self.counted_txs + self.live_txs)
    }

    /// The last `RECENT_BLOCKS` durable blocks, newest first.
    pub fn recent(&self) -> Vec<RecentBlock> {
        self.recent.iter().rev().cloned().collect()
    }

    /// The overview of these figures, with the state's and the durable height.
    pub fn overview(&self, st: StateFigures, durable_height: u64) -> Overview {
        Overview {
            height: st.height,
            durable_height,
            accounts: st.accounts,
            devices: st.devices,
            open_channels: st.open_channels,
            escrow: st.escrow,
            supply: st.supply,
            tps: self.tps(),
            blocks_per_min: self.blocks_per_min(),
            volume_1m: self.volume_1m(),
            txs_total: self.txs_total(),
            recent_blocks: self.recent(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{
        Amount, BlockHeight, Keypair, Nonce, Signature, SignedTx, Timestamp, TxBody, TxKind,
    };

    fn transfer(amount: u64) -> SignedTx {
        let key = Keypair::from_seed([1; 32]);
        let kind = TxKind::Transfer {
            to: Keypair::from_seed([2; 32]).account(),
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        TxBody {
            genesis: Hash32([0; 32]),
            sender: key.account(),
            nonce: Nonce(0),
            valid_until: Timestamp(u64::MAX),
            kind,
        }
        .sign(&key)
    }

    fn block(height: u64, amounts: &[u64]) -> Block {
        let txs: Vec<SignedTx> = amounts.iter().map(|a| transfer(*a)).collect();
        let header = BlockHeader {
            genesis: Hash32([0; 32]),
            height: BlockHeight(height),
            epoch: 0,
            prev_hash: Hash32([0; 32]),
            timestamp: Timestamp(height * 1_000),
            tx_root: Hash32([0; 32]),
            tx_count: u32::try_from(txs.len()).expect("a small block"),
            state_root: Hash32([0; 32]),
            sequencer: Keypair::from_seed([3; 32]).account(),
            signature: Signature([0; 64]),
        };
        Block { header, txs }
    }

    #[test]
    fn the_window_sums_whole_seconds_and_forgets_what_is_older_than_a_minute() {
        let mut t = Tally::new(0, Vec::new());
        t.block(&block(1, &[5, 7]), &Hash32([1; 32]));
        assert_eq!(
            (t.tps(), t.blocks_per_min(), t.volume_1m()),
            (0, 0, 0),
            "not closed yet"
        );
        t.close_second();
        assert_eq!((t.blocks_per_min(), t.volume_1m()), (1, 12));
        for h in 2..=11 {
            t.block(&block(h, &[1; 10]), &Hash32([1; 32]));
            t.close_second();
        }
        assert_eq!(t.tps(), 10, "the last ten seconds: ten transactions each");
        assert_eq!(t.blocks_per_min(), 11);
        assert_eq!(t.volume_1m(), 12 + 100);
        for _ in 0..WINDOW_SECONDS - 1 {
            t.close_second();
        }
        assert_eq!((t.tps(), t.blocks_per_min(), t.volume_1m()), (0, 1, 10));
        t.close_second();
        assert_eq!(
            (t.blocks_per_min(), t.volume_1m()),
            (0, 0),
            "a minute later"
        );
        assert_eq!(t.txs_total(), Some(2 + 100), "the total forgets nothing");
    }

    #[test]
    fn the_total_is_unknown_until_the_blocks_durable_at_start_are_counted() {
        let mut t = Tally::new(3, Vec::new());
        t.block(&block(4, &[1]), &Hash32([1; 32]));
        assert_eq!(t.txs_total(), None);
        assert_eq!(t.to_count(2), 1..=2);
        t.counted(5);
        t.counted(0);
        assert_eq!(t.to_count(2), 3..=3);
        t.counted(2);
        assert!(!t.counting());
        assert_eq!(t.txs_total(), Some(5 + 2 + 1));
        t.lost();
        assert_eq!(t.txs_total(), None, "a block it could not read");
    }

    #[test]
    fn recent_blocks_are_the_last_ten_newest_first() {
        let seen: Vec<RecentBlock> = (1..=3)
            .rev()
            .map(|h| RecentBlock::of(&block(h, &[]).header, &Hash32([0; 32])))
            .collect();
        let mut t = Tally::new(3, seen);
        for h in 4..=14 {
            t.block(&block(h, &[1]), &Hash32([0; 32]));
        }
        let heights: Vec<u64> = t.recent().iter().map(|b| b.height).collect();
        assert_eq!(heights, (5..=14).rev().collect::<Vec<_>>());
        let b = &t.recent()[0];
        assert_eq!((b.timestamp_ms, b.tx_count), (14_000, 1));
        assert_eq!(volume(&block(1, &[3, 4])), 7);
    }
}
