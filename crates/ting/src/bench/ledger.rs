//! `ting bench ledger`: committed transfers per second through a real node, as a ratio of
//! the machine's Ed25519 verification capacity measured in the same run.
//!
//! Order of work: derive sender keys; measure verification capacity with
//! nothing else running; sign enough transfers for the whole run (the
//! capacity bounds the rate, so it sizes the workload); start a node with the
//! default configuration in a temporary directory (durable, fsynced group
//! commits); keep its pipeline full for a warm-up and a measured window;
//! drain; then a paced run at half the measured rate for the half-load
//! latency; report.

use super::stats::{round, verdict};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use ting_core::limits::VERIFY_BATCH_TXS_MAX;
use ting_core::{Keypair, SignedTx};
use ting_node::{Node, NodeConfig};

use super::capacity::{self, Capacity};
use super::drive::{settle, Direct, Phase};
use super::flood::{FloodAccounts, Flooder};
use super::stats::format_cores;
use super::workload::{self, Accounts};
use super::{cores, rss_mib, spinner, LedgerArgs, TempDir, Via};

/// Funded senders: more than a block holds, so a block never repeats a sender.
const SENDERS: usize = 16_384;
/// How long the capacity run measures.
const CAPACITY_SECONDS: f64 = 3.0;
/// Batches in the capacity run's sample.
const CAPACITY_SAMPLE_BATCHES: usize = 32;
/// Workload prepared beyond what the capacity could possibly consume.
const WORKLOAD_HEADROOM: f64 = 1.3;
/// The standing target: committed transfers over verification capacity, state root on.
const RATIO_TARGET: f64 = 0.65;
/// The target of transfers per second on PostgreSQL over the embedded log's.
const PG_RATIO_TARGET: f64 = 0.5;
/// The target of valid transfers kept under a refusal flood, as a share of the half-load rate.
const FLOOD_RATIO_TARGET: f64 = 0.8;

/// The lengths of the phases.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub peak: Duration,
    pub half_warmup: Duration,
    pub half: Duration,
}

impl Timing {
    /// Transfers the run could consume at most, were every one verified at `per_s`.
    fn transfers_max(&self, per_s: f64) -> f64 {
        let full = (self.warmup + self.peak).as_secs_f64();
        // The half-load phase runs three times: alone, beside the flood, with a snapshot.
        let half = 3.0 * (self.half_warmup + self.half).as_secs_f64();
        per_s * (full + 0.5 * half) * WORKLOAD_HEADROOM
    }
}

/// What the node phases measured.
#[derive(Debug)]
struct Phases {
    peak: Phase,
    half: Phase,
    /// Half load again, beside a flood of refused transactions (in-process runs only).
    flooded: Option<Flooded>,
    /// Half load again, with a snapshot asked for halfway through (in-process runs only).
    snapshot: Option<Snapshotted>,
    /// The pause between the phases while the indexer caught up.
    settled: Duration,
    /// Resident memory right after the node started, with the whole workload prepared.
    rss_start_mib: f64,
}

/// The half-load phase beside the flood.
#[derive(Debug)]
struct Flooded {
    phase: Phase,
    /// Flood transactions offered per second, over the whole flood.
    offered_per_s: f64,
}

/// The half-load phase with a snapshot in it.
#[derive(Debug)]
struct Snapshotted {
    phase: Phase,
    /// How long after it was asked for the snapshot was written.
    written_after: Duration,
}

/// Runs a half-load phase and asks for a snapshot halfway through its
/// measured window; fails if none is written by the end.
fn snapshot_window(
    shared: &Arc<ting_node::Shared>,
    driver: &mut Direct,
    rate: f64,
    timing: &Timing,
) -> anyhow::Result<Snapshotted> {
    let asker = {
        let shared = Arc::clone(shared);
        let at = timing.half_warmup + timing.half / 2;
        std::thread::spawn(move || {
            std::thread::sleep(at);
            // Read at the moment of asking: an interval snapshot may have come before.
            let before = shared.health.snapshot_height();
            shared.ask_snapshot();
            let asked = std::time::Instant::now();
            let deadline = asked + Duration::from_secs(120);
            while shared.health.snapshot_height() == before && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            (shared.health.snapshot_height() != before).then(|| asked.elapsed())
        })
    };
    let phase = driver.paced(rate, VERIFY_BATCH_TXS_MAX, timing.half_warmup, timing.half)?;
    let written_after = asker
        .join()
        .map_err(|_| anyhow::anyhow!("the snapshot asker panicked"))?
        .ok_or_else(|| {
            anyhow::anyhow!("no snapshot was written within 120 s of being asked for")
        })?;
    Ok(Snapshotted {
        phase,
        written_after,
    })
}

/// Everything one run measured.
#[derive(Debug)]
struct Report {
    via: Via,
    capacity: Capacity,
    /// The same measurement again once the node has stopped: a check that the machine did not change.
    capacity_after: Capacity,
    phases: Phases,
    prepared: usize,
    idle_accounts: usize,
    /// The same node on PostgreSQL, and three of them (`--store`).
    pg: Option<super::ledger_pg::PgReport>,
}

pub fn run(args: &LedgerArgs) -> anyhow::Result<()> {
    let timing = Timing {
        warmup: Duration::from_secs(1),
        peak: Duration::from_secs(args.seconds.max(1)),
        half_warmup: Duration::from_secs(1),
        half: Duration::from_secs(args.half_seconds.max(1)),
    };
    let mut accounts = workload::accounts(SENDERS);
    let flood = FloodAccounts::new();
    flood.fund(&mut accounts.genesis);
    fund_idle(&mut accounts, args.idle_accounts);
    let sample = capacity_sample(&accounts);
    let capacity = measure_capacity(&sample);
    let batch = match args.via {
        Via::Direct => VERIFY_BATCH_TXS_MAX,
        Via::Http => args.batch,
    };
    let chunks = whole(timing.transfers_max(capacity.per_s) / batch as f64);
    let dir = TempDir::new("ledger")?;
    // The PostgreSQL window replays the same kind of workload on a node of its own.
    let pg_chunks = args.store.as_ref().map(|_| {
        let n = whole(
            capacity.per_s * (timing.warmup + timing.peak).as_secs_f64() * WORKLOAD_HEADROOM
                / VERIFY_BATCH_TXS_MAX as f64,
        );
        workload::signed_chunks(
            &accounts.senders,
            &accounts.genesis.hash(),
            n,
            VERIFY_BATCH_TXS_MAX,
        )
    });
    let phases = match args.via {
        Via::Direct => {
            let chunks =
                workload::signed_chunks(&accounts.senders, &accounts.genesis.hash(), chunks, batch);
            let flood_txs = flood.prepare(
                &flood_channels(&accounts),
                &accounts.senders,
                &accounts.genesis.hash(),
                whole(
                    capacity.per_s
                        * 0.5
                        * (timing.half_warmup + timing.half).as_secs_f64()
                        * WORKLOAD_HEADROOM,
                ),
            );
            let node = start_node(&dir, &accounts)?;
            flood.open_channels(node.shared())?;
            run_direct(node, chunks, flood_txs, &timing)?
        }
        Via::Http => {
            let bodies = super::http::bodies(
                &accounts.senders,
                &accounts.genesis.hash(),
                chunks,
                batch,
                args.clients,
            )?;
            run_http(start_node(&dir, &accounts)?, bodies, &timing)?
        }
    };
    let pg = match (&args.store, pg_chunks) {
        (Some(store), Some(chunks)) => Some(super::ledger_pg::run(
            store,
            &accounts,
            chunks,
            (timing.warmup, timing.peak),
            args.kills,
        )?),
        _ => None,
    };
    let report = Report {
        via: args.via,
        capacity,
        capacity_after: measure_capacity(&sample),
        phases,
        prepared: chunks * batch,
        idle_accounts: args.idle_accounts,
        pg,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print_human(&report);
    }
    Ok(())
}

/// Funds `n` accounts that send nothing, keys derived on every core.
fn fund_idle(accounts: &mut Accounts, n: usize) {
    if n == 0 {
        return;
    }
    let bar = super::progress(n as u64, "deriving idle accounts");
    let idle = workload::par_map(n, &bar, |i| workload::keypair(0x1d, i as u64).account());
    bar.finish_and_clear();
    accounts
        .genesis
        .allocations
        .extend(idle.into_iter().map(|a| (a, ting_core::Amount::new(1))));
}

/// The ids the flood's channel opens will have.
fn flood_channels(accounts: &Accounts) -> Vec<ting_core::ChannelId> {
    let genesis = accounts.genesis.hash();
    FloodAccounts::channel_ids(&genesis)
}

fn run_direct(
    node: Node,
    chunks: Vec<Vec<SignedTx>>,
    flood_txs: Vec<SignedTx>,
    timing: &Timing,
) -> anyhow::Result<Phases> {
    let rss_start_mib = rss_mib();
    let mut driver = Direct::new(Arc::clone(node.shared()), chunks);
    let bar = spinner("peak: keeping the pipeline full");
    let peak = driver.peak(timing.warmup, timing.peak)?;
    bar.set_message("waiting for the indexer to catch up");
    let settled = settle(node.shared());
    bar.set_message("paced run at half the peak rate");
    let half_rate = peak.window.rate() * 0.5;
    let half = driver.paced(
        half_rate,
        VERIFY_BATCH_TXS_MAX,
        timing.half_warmup,
        timing.half,
    )?;
    // Each half-load phase starts, as the first did, with the index caught up.
    bar.set_message("waiting for the indexer to catch up");
    settle(node.shared());
    bar.set_message("half load again, beside a flood of refused transactions");
    let flooder = Flooder::start(Arc::clone(node.shared()), flood_txs, half_rate);
    let flooded = driver.paced(
        half_rate,
        VERIFY_BATCH_TXS_MAX,
        timing.half_warmup,
        timing.half,
    );
    let offered_per_s = flooder.stop();
    let flooded = Flooded {
        phase: flooded?,
        offered_per_s,
    };
    bar.set_message("waiting for the indexer to catch up");
    settle(node.shared());
    bar.set_message("half load again, with a snapshot in the window");
    let snapshot = snapshot_window(node.shared(), &mut driver, half_rate, timing)?;
    bar.finish_and_clear();
    driver.finish();
    shutdown(node);
    Ok(Phases {
        peak,
        half,
        flooded: Some(flooded),
        snapshot: Some(snapshot),
        settled,
        rss_start_mib,
    })
}

fn run_http(node: Node, bodies: super::http::Bodies, timing: &Timing) -> anyhow::Result<Phases> {
    let rss_start_mib = rss_mib();
    let bar = spinner("peak, then half load, over HTTP");
    let (peak, half, settled) = super::http::phases(node.shared(), bodies, timing)?;
    bar.finish_and_clear();
    shutdown(node);
    Ok(Phases {
        peak,
        half,
        flooded: None,
        snapshot: None,
        settled,
        rss_start_mib,
    })
}

/// `v` rounded up to a count; `v` is a non-negative number of chunks, far below `usize::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: f64) -> usize {
    v.max(0.0).ceil() as usize
}

fn capacity_sample(accounts: &Accounts) -> Vec<SignedTx> {
    let batches = workload::signed_chunks(
        &accounts.senders,
        &accounts.genesis.hash(),
        CAPACITY_SAMPLE_BATCHES,
        VERIFY_BATCH_TXS_MAX,
    );
    batches.into_iter().flatten().collect()
}

fn measure_capacity(sample: &[SignedTx]) -> Capacity {
    let bar = spinner("measuring verification capacity");
    let capacity = capacity::measure(sample, cores(), CAPACITY_SECONDS);
    bar.finish_and_clear();
    capacity
}

fn start_node(dir: &TempDir, accounts: &Accounts) -> anyhow::Result<Node> {
    let key = Keypair::from_seed(accounts.node_key.seed());
    let cfg = NodeConfig::new(dir.path().join("node"), accounts.genesis.clone(), key);
    Ok(Node::start(cfg)?)
}

fn shutdown(node: Node) {
    let bar = spinner("stopping the node (the indexer catches up first)");
    node.shutdown();
    bar.finish_and_clear();
}

fn ratio(r: &Report) -> f64 {
    r.phases.peak.window.rate() / r.capacity.per_s
}

/// Valid transfers per second beside the flood over the same without it.
fn flood_ratio(r: &Report) -> Option<f64> {
    let f = r.phases.flooded.as_ref()?;
    Some(f.phase.window.rate() / r.phases.half.window.rate())
}

fn via_name(via: Via) -> &'static str {
    match via {
        Via::Direct => "direct",
        Via::Http => "http",
    }
}

fn report_json(r: &Report) -> serde_json::Value {
    let (p, h) = (&r.phases.peak, &r.phases.half);
    let cpu: serde_json::Map<String, serde_json::Value> = p
        .cpu
        .iter()
        .map(|u| (u.name.clone(), json!(round(u.cores, 3))))
        .collect();
    let mut v = json!({
        "transfers_per_s": round(p.window.rate(), 0),
        "verify_capacity_per_s": round(r.capacity.per_s, 0),
        "ratio": round(ratio(r), 3),
        "state_root_us_per_tx": round(p.window.state_root_us_per_tx, 3),
        "ack_p50_ms": round(p.latency.p50_ms, 3),
        "ack_p99_ms": round(p.latency.p99_ms, 3),
        "ack_p99_ms_half_load": round(h.latency.p99_ms, 3),
        "rss_mib": round(p.rss_mib, 1),
        "via": via_name(r.via),
        "seconds": round(p.window.seconds, 3),
        "txs": p.window.committed,
        "blocks": p.window.blocks,
        "fsyncs": p.window.fsyncs,
        "fsync_ms_mean": round(p.window.fsync_ms_mean, 3),
        "verify_threads": r.capacity.threads,
        "verify_capacity_after_per_s": round(r.capacity_after.per_s, 0),
        "verify_capacity_seconds": round(r.capacity.seconds, 3),
        "verify_capacity_verified": r.capacity.verified,
        "ack_samples": p.latency.samples,
        "ack_samples_half_load": h.latency.samples,
        "ack_max_ms": round(p.latency.max_ms, 3),
        "ack_p50_ms_half_load": round(h.latency.p50_ms, 3),
        "ack_max_ms_half_load": round(h.latency.max_ms, 3),
        "half_load_per_s": round(h.window.rate(), 0),
        "half_load_seconds": round(h.window.seconds, 3),
        "blocks_half_load": h.window.blocks,
        "fsync_ms_mean_half_load": round(h.window.fsync_ms_mean, 3),
        "busy_backoffs": p.backoffs,
        "transfers_prepared": r.prepared,
        "rss_mib_node_start": round(r.phases.rss_start_mib, 1),
        "index_lag_blocks_peak_end": p.window.index_lag_blocks,
        "index_catch_up_s": round(r.phases.settled.as_secs_f64(), 3),
        "cores_by_thread_peak": cpu,
        "cores_other_processes_peak": round(p.machine.1, 3),
        "cores_idle_peak": round(p.machine.2, 3),
        "cores_other_processes_half_load": round(h.machine.1, 3),
    });
    add_disturbed(&mut v, r);
    if let Some(pg) = &r.pg {
        add_pg(&mut v, pg, p.window.rate());
    }
    v
}

/// The PostgreSQL keys: its rate and its ratio to the embedded log's, the
/// failovers and the follower's reads.
fn add_pg(v: &mut serde_json::Value, pg: &super::ledger_pg::PgReport, embedded_per_s: f64) {
    let w = &pg.peak.window;
    let more = json!({
        "pg_transfers_per_s": round(w.rate(), 0),
        "pg_ratio": round(w.rate() / embedded_per_s, 3),
        "pg_txs": w.committed,
        "pg_blocks": w.blocks,
        "pg_seconds": round(w.seconds, 3),
        "pg_commit_ms_mean": round(w.fsync_ms_mean, 3),
        "pg_ack_p99_ms": round(pg.peak.latency.p99_ms, 3),
        "pg_server": pg.server,
        "lease_s": round(pg.lease.as_secs_f64(), 3),
        "failovers": pg.failovers.len(),
        "failover_s": pg.failovers.iter().map(|d| round(d.as_secs_f64(), 3)).collect::<Vec<_>>(),
        "failover_s_median": pg.failover_median().map(|s| round(s, 3)),
        "failover_s_max": pg.failover_max().map(|s| round(s, 3)),
        "follower_reads_per_s": round(pg.follower_reads_per_s, 0),
        "forwarded_per_s": round(pg.forwards.follower_per_s, 0),
        "leader_single_per_s": round(pg.forwards.leader_per_s, 0),
        "forward_ratio": round(pg.forwards.follower_per_s / pg.forwards.leader_per_s, 3),
    });
    if let (Some(v), Some(more)) = (v.as_object_mut(), more.as_object()) {
        v.extend(more.clone());
    }
}

/// The keys of the phases beside a flood and with a snapshot.
fn add_disturbed(v: &mut serde_json::Value, r: &Report) {
    let more = json!({
        "flood_valid_ratio": flood_ratio(r).map(|v| round(v, 3)),
        "flood_valid_per_s": r.phases.flooded.as_ref().map(|f| round(f.phase.window.rate(), 0)),
        "flood_offered_per_s": r.phases.flooded.as_ref().map(|f| round(f.offered_per_s, 0)),
        "ack_p99_ms_flood": r.phases.flooded.as_ref().map(|f| round(f.phase.latency.p99_ms, 3)),
        "ack_p99_ms_snapshot": r.phases.snapshot.as_ref().map(|s| round(s.phase.latency.p99_ms, 3)),
        "snapshot_written_ms": r.phases.snapshot.as_ref().map(|s| round(s.written_after.as_secs_f64() * 1000.0, 1)),
        "idle_accounts": r.idle_accounts,
    });
    if let (Some(v), Some(more)) = (v.as_object_mut(), more.as_object()) {
        v.extend(more.clone());
    }
}

fn print_human(r: &Report) {
    let p = &r.phases.peak;
    let via = match r.via {
        Via::Direct => "in-process submit",
        Via::Http => "HTTP batch API",
    };
    println!(
        "ting bench ledger: {} cores, {via}, {SENDERS} senders, {} transfers prepared",
        cores(),
        r.prepared
    );
    println!(
        "  verification capacity  {:>10.0} /s   ZIP-215 batches of {VERIFY_BATCH_TXS_MAX}, {} threads, nothing else running ({:.0} /s again after the node stopped)",
        r.capacity.per_s, r.capacity.threads, r.capacity_after.per_s
    );
    println!(
        "  committed transfers    {:>10.0} /s   {} in {:.1} s, {} blocks, {} fsyncs (mean {:.2} ms)",
        p.window.rate(), p.window.committed, p.window.seconds, p.window.blocks, p.window.fsyncs, p.window.fsync_ms_mean
    );
    println!(
        "  ratio                  {:>10.3}      target >= {RATIO_TARGET:.2} (with the state root): {}",
        ratio(r),
        verdict(ratio(r) >= RATIO_TARGET)
    );
    println!(
        "  state root             {:>10.2} µs/tx of executor time, updated once per block",
        p.window.state_root_us_per_tx
    );
    if (r.capacity_after.per_s / r.capacity.per_s - 1.0).abs() > 0.1 {
        println!("  warning: the capacity moved by more than 10% during the run; other work shares this machine");
    }
    print_latency_and_resources(r);
    if let Some(pg) = &r.pg {
        print_pg(pg, p.window.rate());
    }
}

fn print_pg(pg: &super::ledger_pg::PgReport, embedded_per_s: f64) {
    let w = &pg.peak.window;
    let ratio = w.rate() / embedded_per_s;
    println!(
        "  on PostgreSQL          {:>10.0} /s   {} in {:.1} s, {} blocks, mean commit {:.2} ms ({}); ratio to the embedded log {ratio:.3}   target >= {PG_RATIO_TARGET:.1}: {}",
        w.rate(), w.committed, w.seconds, w.blocks, w.fsync_ms_mean, pg.server, verdict(ratio >= PG_RATIO_TARGET)
    );
    let lease = pg.lease.as_secs_f64();
    if let (Some(median), Some(max)) = (pg.failover_median(), pg.failover_max()) {
        println!(
            "  failover               {} kills: median {median:.2} s, max {max:.2} s from kill -9 to the new leader's first block (lease {lease:.1} s)   target max <= lease + 1 s: {}",
            pg.failovers.len(),
            verdict(max <= lease + 1.0)
        );
    }
    let f = &pg.forwards;
    println!(
        "  forwarded              {:>10.0} /s   one transaction per request through a follower, 64 senders each waiting for its commit; straight to the leader {:.0} /s, ratio {:.3}",
        f.follower_per_s,
        f.leader_per_s,
        f.follower_per_s / f.leader_per_s
    );
    println!(
        "  follower reads         {:>10.0} /s   GET /v1/accounts/{{id}} on a follower, three nodes, the leader under a light load",
        pg.follower_reads_per_s
    );
}

fn print_latency_and_resources(r: &Report) {
    let (p, h) = (&r.phases.peak, &r.phases.half);
    println!(
        "  ack latency, peak      p50 {:.1} ms, p99 {:.1} ms (pipeline kept full: mostly queueing), {} back-offs",
        p.latency.p50_ms, p.latency.p99_ms, p.backoffs
    );
    println!(
        "  query index            {} blocks behind at the end of the peak window; caught up {:.1} s later",
        p.window.index_lag_blocks,
        r.phases.settled.as_secs_f64()
    );
    println!(
        "  ack latency, half load p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms at {:.0} /s   target p99 < 10 ms: {}",
        h.latency.p50_ms, h.latency.p99_ms, h.latency.max_ms, h.window.rate(), verdict(h.latency.p99_ms < 10.0)
    );
    println!(
        "    half load: {} blocks, {} fsyncs (mean {:.2} ms) in {:.1} s",
        h.window.blocks, h.window.fsyncs, h.window.fsync_ms_mean, h.window.seconds
    );
    if let (Some(f), Some(kept)) = (&r.phases.flooded, flood_ratio(r)) {
        println!(
            "  beside a refusal flood {:>10.0} /s valid while {:.0} /s refused ones were offered: ratio {kept:.3}   target >= {FLOOD_RATIO_TARGET:.1}: {}",
            f.phase.window.rate(), f.offered_per_s, verdict(kept >= FLOOD_RATIO_TARGET)
        );
        println!(
            "    ack latency beside the flood: p50 {:.2} ms, p99 {:.2} ms",
            f.phase.latency.p50_ms, f.phase.latency.p99_ms
        );
    }
    if let Some(snap) = &r.phases.snapshot {
        let ratio = snap.phase.latency.p99_ms / h.latency.p99_ms;
        println!(
            "  half load with a snapshot p99 {:.2} ms, {ratio:.2} x the half-load p99   target <= 1.5 x: {}; the snapshot ({} idle accounts beside the senders) was written {:.0} ms after it was asked for",
            snap.phase.latency.p99_ms,
            verdict(ratio <= 1.5),
            r.idle_accounts,
            snap.written_after.as_secs_f64() * 1000.0
        );
    }
    println!(
        "  resident memory        {:.0} MiB at the end of the peak window ({:.0} MiB at node start, with every transfer prepared)",
        p.rss_mib, r.phases.rss_start_mib
    );
    for (what, phase) in [("peak", p), ("half load", h)] {
        let (ours, others, idle) = phase.machine;
        println!(
            "  cores, {what:<9}        this process {ours:.2}, other processes {others:.2}, idle {idle:.2}; by thread: {}",
            format_cores(&phase.cpu)
        );
    }
}
