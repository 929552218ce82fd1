//! `ting bench recovery`: how long `Node::start` takes over a block log of N transfers.
//!
//! The log is written directly with `ting_store::FileLog`: full blocks of
//! `BLOCK_TXS_MAX` round-robin transfers (every prefix valid), sealed and
//! signed by the node key, one fsync per group of blocks. Replay does not
//! check transaction signatures (the log's blocks are signed by the
//! sequencer, and only verified transactions ever reach a block), so by
//! default the transfers carry zero signatures; `--sign` signs them for real.
//! Two restarts are timed: the first replays everything from the genesis (no
//! snapshot exists yet); its shutdown writes a snapshot at the tip, a tail of
//! transfers is appended, and the second start loads the snapshot and replays
//! only the tail. The log was just written, so it is read from the page cache.
//!
//! Then, in a data directory of its own, the restart is timed over a history of
//! 1 and then 10 million transfers (`recovery_s_1m`, `recovery_s_10m`), each with
//! a snapshot near the tip: the bench writes the snapshot a node would have
//! written (from the state it keeps beside the writer) `NEAR_TIP_TXS` before
//! the end. The log reads only the segments from the one holding the snapshot's
//! block on, so the two should take about the same time: flat as history grows.

use std::path::Path;
use std::time::Instant;

use serde_json::json;
use ting_core::limits::BLOCK_TXS_MAX;
use ting_core::{Block, BlockDraft, BlockHeight, Genesis, Keypair, SignedTx, Timestamp};
use ting_ledger::State;
use ting_node::{Node, NodeConfig, StartReport};
use ting_store::{BlockLog, FileLog, SnapshotStore};

use super::workload::{self, par_map, transfer, Accounts};
use super::{progress, spinner, RecoveryArgs, TempDir};

/// Blocks made and appended (one fsync) at a time.
const GROUP_BLOCKS: usize = 16;
/// The histories the restart is timed over, in transfers.
const HISTORIES_TXS: [u64; 2] = [1_000_000, 10_000_000];
/// Transfers appended after the snapshot of a timed restart over a history: four blocks.
const NEAR_TIP_TXS: u64 = 4 * BLOCK_TXS_MAX as u64;

/// One timed start.
#[derive(Debug)]
struct Start {
    ms: f64,
    report: StartReport,
}

/// A restart over a long history with a snapshot near its tip.
#[derive(Debug)]
struct OverHistory {
    txs: u64,
    start: Start,
    log_bytes: u64,
}

/// What the recovery run measured.
#[derive(Debug)]
struct Outcome {
    full: Start,
    snap: Start,
    log_bytes: u64,
    shutdown_ms: f64,
    histories: Vec<OverHistory>,
}

pub fn run(args: &RecoveryArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.txs > 0, "--txs must be at least 1");
    let accounts = workload::accounts(BLOCK_TXS_MAX);
    let dir = TempDir::new("recovery")?;
    let data = dir.path().join("node");
    let log_dir = data.join("blocks");
    // The log is written as a node would: each block carries the state root its
    // transactions lead to, so the ledger runs beside the writer.
    let mut state = State::from_genesis(&accounts.genesis, 0);
    append(
        &log_dir,
        &mut state,
        &accounts,
        (0, args.txs),
        args.sign,
        "writing the block log",
    )?;
    let log_bytes = segment_bytes(&log_dir)?;
    let (full, node) = timed_start(&data, &accounts, "replaying from genesis")?;
    let shutdown_ms = stop(node);
    anyhow::ensure!(
        full.report.snapshot_height == 0,
        "the first start found a snapshot"
    );
    append(
        &log_dir,
        &mut state,
        &accounts,
        (args.txs, args.tail_txs),
        args.sign,
        "appending the tail",
    )?;
    let (snap, node) = timed_start(&data, &accounts, "restarting from the snapshot")?;
    stop(node);
    anyhow::ensure!(
        snap.report.snapshot_height > 0,
        "the second start found no snapshot"
    );
    drop(dir);
    let histories = over_histories(&accounts, args.sign)?;
    let outcome = Outcome {
        full,
        snap,
        log_bytes,
        shutdown_ms,
        histories,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&outcome_json(args, &outcome))?
        );
    } else {
        print_human(args, &outcome);
    }
    Ok(())
}

fn per_million(args: &RecoveryArgs, o: &Outcome) -> f64 {
    o.full.ms * 1e6 / args.txs as f64
}

fn outcome_json(args: &RecoveryArgs, o: &Outcome) -> serde_json::Value {
    let mut out = json!({
        "txs": args.txs,
        "replay_ms": o.full.ms.round(),
        "replay_ms_per_million": per_million(args, o).round(),
        "snapshot_restart_ms": o.snap.ms.round(),
        "log_bytes": o.log_bytes,
        "blocks": o.full.report.replayed_blocks,
        "log_open_ms": o.full.report.log.scan_ms,
        "tail_txs": args.tail_txs,
        "tail_blocks": o.snap.report.replayed_blocks,
        "snapshot_height": o.snap.report.snapshot_height,
        "shutdown_ms": o.shutdown_ms.round(),
        "signed": args.sign,
    });
    for h in &o.histories {
        let name = format!("{}m", h.txs / 1_000_000);
        let report = &h.start.report.log;
        out[format!("recovery_s_{name}")] = json!(h.start.ms.round() / 1000.0);
        out[format!("recovery_log_bytes_{name}")] = json!(h.log_bytes);
        out[format!("recovery_scanned_bytes_{name}")] = json!(report.scanned_bytes);
        out[format!("recovery_segments_{name}")] = json!(report.segments_sealed + 1);
        out[format!("recovery_replayed_blocks_{name}")] = json!(h.start.report.replayed_blocks);
    }
    out
}

fn print_human(args: &RecoveryArgs, o: &Outcome) {
    let signed = if args.sign {
        "signed"
    } else {
        "zero signatures (replay does not check them)"
    };
    let per_million = per_million(args, o);
    println!(
        "ting bench recovery: {} transfers in {} blocks, {} bytes of log, transactions {signed}",
        args.txs, o.full.report.replayed_blocks, o.log_bytes
    );
    println!(
        "  full replay from genesis   {:>8.0} ms  = {per_million:.0} ms per million   target < 5000 ms per million: {}",
        o.full.ms,
        if per_million < 5000.0 { "met" } else { "MISSED" }
    );
    println!(
        "    of which opening the log (read, check every block, apply) {} ms",
        o.full.report.log.scan_ms
    );
    println!(
        "  snapshot + tail restart    {:>8.0} ms  (snapshot at height {}, tail of {} transfers in {} blocks; the log is read from the segment holding the snapshot's block)",
        o.snap.ms, o.snap.report.snapshot_height, args.tail_txs, o.snap.report.replayed_blocks
    );
    println!(
        "  shutdown after the replay  {:>8.0} ms  (the indexer catches up on the whole log, then the snapshot is written)",
        o.shutdown_ms
    );
    for h in &o.histories {
        let report = &h.start.report.log;
        println!(
            "  restart over {:>2} M transfers {:>6.0} ms  target < 1000 ms: {}  ({} bytes of log in {} segments, {} read; {} blocks replayed)",
            h.txs / 1_000_000,
            h.start.ms,
            if h.start.ms < 1000.0 { "met" } else { "MISSED" },
            h.log_bytes,
            report.segments_sealed + 1,
            report.scanned_bytes,
            h.start.report.replayed_blocks,
        );
    }
}

/// The bytes of every segment of the log in `dir`.
pub(super) fn segment_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .ends_with(ting_store::log::SEGMENT_SUFFIX)
        {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Times a restart over each of `HISTORIES_TXS` transfers, one log grown from one to
/// the next, with a snapshot `NEAR_TIP_TXS` before each tip.
fn over_histories(accounts: &Accounts, sign: bool) -> anyhow::Result<Vec<OverHistory>> {
    let dir = TempDir::new("recovery-history")?;
    let data = dir.path().join("node");
    let log_dir = data.join("blocks");
    let mut state = State::from_genesis(&accounts.genesis, 0);
    let mut written = 0;
    let mut out = Vec::new();
    for txs in HISTORIES_TXS {
        let snapshot_at = txs - NEAR_TIP_TXS;
        let what = format!("writing a history of {} M transfers", txs / 1_000_000);
        append(
            &log_dir,
            &mut state,
            accounts,
            (written, snapshot_at - written),
            sign,
            &what,
        )?;
        // The snapshot a node would have written at this height.
        let snapshots = SnapshotStore::open(&data.join("snapshots"))?;
        snapshots.write(state.height(), state.tip_hash(), &state.encode())?;
        append(
            &log_dir,
            &mut state,
            accounts,
            (snapshot_at, NEAR_TIP_TXS),
            sign,
            "appending past the snapshot",
        )?;
        written = txs;
        let what = format!("restarting over {} M transfers", txs / 1_000_000);
        let (start, node) = timed_start(&data, accounts, &what)?;
        stop(node);
        anyhow::ensure!(
            start.report.snapshot_height
                == state.height().0 - NEAR_TIP_TXS.div_ceil(BLOCK_TXS_MAX as u64),
            "the restart over {txs} transfers did not start from the snapshot near the tip"
        );
        let log_bytes = segment_bytes(&log_dir)?;
        out.push(OverHistory {
            txs,
            start,
            log_bytes,
        });
    }
    Ok(out)
}

fn config(data: &Path, accounts: &Accounts) -> NodeConfig {
    let key = Keypair::from_seed(accounts.node_key.seed());
    NodeConfig::new(data.to_path_buf(), accounts.genesis.clone(), key)
}

fn timed_start(data: &Path, accounts: &Accounts, what: &str) -> anyhow::Result<(Start, Node)> {
    let cfg = config(data, accounts);
    let bar = spinner(what);
    let started = Instant::now();
    let node = Node::start(cfg)?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    bar.finish_and_clear();
    let report = node.report().clone();
    Ok((Start { ms, report }, node))
}

fn stop(node: Node) -> f64 {
    let bar = spinner("stopping the node (indexer, then snapshot)");
    let started = Instant::now();
    node.shutdown();
    bar.finish_and_clear();
    started.elapsed().as_secs_f64() * 1000.0
}

/// Appends transfers `[first, first + count)` to the log in `dir`, in full blocks but the last.
fn append(
    dir: &Path,
    state: &mut State,
    accounts: &Accounts,
    (first, count): (u64, u64),
    sign: bool,
    what: &str,
) -> anyhow::Result<()> {
    let genesis = accounts.genesis.hash();
    let writer = LogWriter {
        dir,
        genesis: &accounts.genesis,
        node_key: &accounts.node_key,
    };
    writer.append(state, (first, count), what, |i| {
        transfer(&accounts.senders, &genesis, i, sign)
    })
}

/// Writes blocks straight into a node's block log, as its sequencer would
/// have: full blocks of `BLOCK_TXS_MAX`, sealed and signed by `node_key`,
/// each with the state root its transactions lead to. `bench dashboard`
/// writes its long account history with it too.
pub(super) struct LogWriter<'a> {
    pub dir: &'a Path,
    pub genesis: &'a Genesis,
    pub node_key: &'a Keypair,
}

impl LogWriter<'_> {
    /// Appends transactions `make(first) .. make(first + count - 1)`, in
    /// full blocks but the last, applying each to `state` (which must be
    /// the log's state at its tip); fails if the ledger refuses one.
    pub fn append(
        &self,
        state: &mut State,
        (first, count): (u64, u64),
        what: &str,
        make: impl Fn(u64) -> SignedTx + Sync,
    ) -> anyhow::Result<()> {
        let (mut log, _) = FileLog::open(self.dir, self.genesis, &mut |_| Ok(()))?;
        let (mut height, mut prev) = log.tip();
        let genesis = self.genesis.hash();
        let per_block = BLOCK_TXS_MAX as u64;
        let blocks = usize::try_from(count.div_ceil(per_block))?;
        let bar = progress(count, what);
        for group in (0..blocks).step_by(GROUP_BLOCKS) {
            let n = GROUP_BLOCKS.min(blocks - group);
            let bodies = par_map(n, &indicatif::ProgressBar::hidden(), |b| {
                let start = first + (group + b) as u64 * per_block;
                let end = (start + per_block).min(first + count);
                (start..end).map(&make).collect::<Vec<SignedTx>>()
            });
            let mut sealed = Vec::with_capacity(n);
            for txs in bodies {
                height = BlockHeight(height.0 + 1);
                bar.inc(txs.len() as u64);
                // Any non-decreasing timestamps will do; one millisecond per block.
                let at = Timestamp(self.genesis.timestamp.0 + height.0);
                for tx in &txs {
                    state.apply_tx(tx, at).map_err(|e| {
                        anyhow::anyhow!("the ledger refused a bench transaction: {e}")
                    })?;
                }
                let draft = BlockDraft {
                    genesis,
                    height,
                    epoch: 0,
                    prev_hash: prev,
                    timestamp: at,
                    state_root: state.update_root(),
                };
                let block = Block::seal(draft, txs, self.node_key);
                state.commit_block(&block.header)?;
                prev = block.header.hash();
                sealed.push(block);
            }
            log.append(&sealed)?;
        }
        bar.finish_and_clear();
        Ok(())
    }
}
