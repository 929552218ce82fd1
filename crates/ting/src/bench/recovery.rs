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

use std::path::Path;
use std::time::Instant;

use serde_json::json;
use ting_core::limits::BLOCK_TXS_MAX;
use ting_core::{Block, BlockDraft, BlockHeight, Keypair, Timestamp};
use ting_ledger::State;
use ting_node::{Node, NodeConfig, StartReport};
use ting_store::{BlockLog, FileLog};

use super::workload::{self, par_map, transfers, Accounts};
use super::{progress, spinner, RecoveryArgs, TempDir};

/// Blocks made and appended (one fsync) at a time.
const GROUP_BLOCKS: usize = 16;

/// One timed start.
#[derive(Debug)]
struct Start {
    ms: f64,
    report: StartReport,
}

/// What the recovery run measured.
#[derive(Debug)]
struct Outcome {
    full: Start,
    snap: Start,
    log_bytes: u64,
    shutdown_ms: f64,
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
    let log_bytes = std::fs::metadata(log_dir.join(ting_store::log::FILE_NAME))?.len();
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
    let outcome = Outcome {
        full,
        snap,
        log_bytes,
        shutdown_ms,
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
    json!({
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
    })
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
        "  snapshot + tail restart    {:>8.0} ms  (snapshot at height {}, tail of {} transfers in {} blocks; the log is still read and checked whole)",
        o.snap.ms, o.snap.report.snapshot_height, args.tail_txs, o.snap.report.replayed_blocks
    );
    println!(
        "  shutdown after the replay  {:>8.0} ms  (the indexer catches up on the whole log, then the snapshot is written)",
        o.shutdown_ms
    );
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
    let (mut log, _) = FileLog::open(dir, &accounts.genesis, &mut |_| Ok(()))?;
    let (mut height, mut prev) = log.tip();
    let genesis = accounts.genesis.hash();
    let per_block = BLOCK_TXS_MAX as u64;
    let blocks = usize::try_from(count.div_ceil(per_block))?;
    let bar = progress(count, what);
    for group in (0..blocks).step_by(GROUP_BLOCKS) {
        let n = GROUP_BLOCKS.min(blocks - group);
        let bodies = par_map(n, &indicatif::ProgressBar::hidden(), |b| {
            let start = first + (group + b) as u64 * per_block;
            let len =
                usize::try_from(per_block.min(first + count - start)).expect("at most a block");
            transfers(&accounts.senders, &genesis, start, len, sign)
        });
        let mut sealed = Vec::with_capacity(n);
        for txs in bodies {
            height = BlockHeight(height.0 + 1);
            bar.inc(txs.len() as u64);
            // Any non-decreasing timestamps will do; one millisecond per block.
            let at = Timestamp(accounts.genesis.timestamp.0 + height.0);
            for tx in &txs {
                state
                    .apply_tx(tx, at)
                    .map_err(|e| anyhow::anyhow!("the ledger refused a bench transfer: {e}"))?;
            }
            let draft = BlockDraft {
                genesis,
                height,
                epoch: 0,
                prev_hash: prev,
                timestamp: at,
                state_root: state.update_root(),
            };
            let block = Block::seal(draft, txs, &accounts.node_key);
            state.commit_block(&block.header)?;
            prev = block.header.hash();
            sealed.push(block);
        }
        log.append(&sealed)?;
    }
    bar.finish_and_clear();
    Ok(())
}
