//! The dashboard bench's report: one JSON object, or lines for a person.
//!
//! CPU is split by thread group (`stats::ThreadCpu`): the node's threads
//! (`ting-*`, its HTTP runtime `ting-http` among them), the watchers'
//! client runtime (`bench-sse`), and the bench's submitter (`main`) and
//! collector. A watcher's cost to the node comes from the two windows paced
//! at the same rate (`rounds::Cost`): what the node's threads used with the
//! watchers beyond what they used without, per watcher; and the same for
//! the node's threads outside the transaction pipeline (the HTTP runtime,
//! where the streams are served, and any thread that feeds them). At the
//! same rate the pipeline's threads do the same work in both windows, but
//! their time moves by a few per cent with whatever else runs on the
//! machine, which on two shared cores can hide the watchers' share; the
//! second figure leaves that noise out.

use super::super::stats::{round, verdict};
use serde_json::{json, Value};

use super::super::drive::Phase;
use super::super::stats::Latency;
use super::history::BuildFigures;
use super::{pages, rounds, Plan, TARGET_PAGE_P95_MS, TARGET_WATCHERS_RATE_RATIO};

/// The node's transaction pipeline: its threads do the same work at the same
/// rate whoever watches.
const PIPELINE: [&str; 5] = [
    "ting-verify-*",
    "ting-executor",
    "ting-writer",
    "ting-indexer",
    "ting-snapshot",
];
/// The watchers' client runtime.
const CLIENTS: &str = "bench-sse";

#[derive(Debug)]
pub struct Report {
    pub plan: Plan,
    pub build: BuildFigures,
    pub pages: pages::Figures,
    pub watched: rounds::Figures,
}

/// Whether a thread group is the node's (not the bench's submitter, collector or clients).
fn is_node(group: &str) -> bool {
    !group.starts_with("bench-") && group != "main"
}

/// Cores the node's own threads used in a window.
fn node_cores(p: &Phase) -> f64 {
    p.cpu
        .iter()
        .filter(|u| is_node(&u.name))
        .fold(0.0, |sum, u| sum + u.cores)
}

/// Cores the node's threads outside its pipeline used in a window.
fn serving_cores(p: &Phase) -> f64 {
    p.cpu
        .iter()
        .filter(|u| is_node(&u.name) && !PIPELINE.contains(&u.name.as_str()))
        .fold(0.0, |sum, u| sum + u.cores)
}

/// Cores a thread group used in a window.
fn group_cores(p: &Phase, name: &str) -> f64 {
    p.cpu
        .iter()
        .filter(|u| u.name == name)
        .fold(0.0, |sum, u| sum + u.cores)
}

impl Report {
    fn watchers(&self) -> f64 {
        self.plan.watchers as f64
    }

    /// The node's cores per watcher at the paced rate: with them beyond without, in % of a core.
    fn node_cpu_per_watcher_pct(&self) -> f64 {
        let c = &self.watched.cost;
        (node_cores(&c.with) - node_cores(&c.without)) / self.watchers() * 100.0
    }

    /// The same for the node's threads outside its pipeline.
    fn serving_cpu_per_watcher_pct(&self) -> f64 {
        let c = &self.watched.cost;
        (serving_cores(&c.with) - serving_cores(&c.without)) / self.watchers() * 100.0
    }

    pub fn json(&self) -> Value {
        let (p, b) = (&self.pages, &self.build);
        let mut v = json!({
            "history_txs": self.plan.history,
            "page_p50_ms": round(p.hub.p50_ms, 2),
            "page_p95_ms": round(p.hub.p95_ms, 2),
            "page_max_ms": round(p.hub.max_ms, 2),
            "small_page_p50_ms": round(p.small.p50_ms, 2),
            "small_page_p95_ms": round(p.small.p95_ms, 2),
            "small_page_max_ms": round(p.small.max_ms, 2),
            "history_cost_ratio": round(p.history_cost_ratio(), 3),
            "target_page_p95_ms": TARGET_PAGE_P95_MS,
            "page_target_met": p.hub.p95_ms < TARGET_PAGE_P95_MS,
            "json_history_p50_ms": round(p.json.p50_ms, 2),
            "json_history_p95_ms": round(p.json.p95_ms, 2),
            "older_page_p95_ms": round(p.older.p95_ms, 2),
            "older_page_max_ms": round(p.older.max_ms, 2),
            "older_depth_txs": p.older_depth,
            "deep_page_p50_ms": round(p.deep.p50_ms, 2),
            "deep_page_p95_ms": round(p.deep.p95_ms, 2),
            "deep_page_max_ms": round(p.deep.max_ms, 2),
            "page_requests": p.hub.samples,
            "page_bytes": p.hub_page_bytes,
            "small_page_bytes": p.small_page_bytes,
            "history_write_s": round(b.write_s, 3),
            "history_blocks": b.blocks,
            "log_bytes": b.log_bytes,
            "node_start_s": round(b.start_s, 3),
            "history_indexed_s": round(b.index_s, 3),
        });
        extend(&mut v, self.watchers_json());
        v
    }

    fn watchers_json(&self) -> Value {
        let w = &self.watched;
        let peak_cpu = |with: bool| -> serde_json::Map<String, Value> {
            w.cores_by_group(with)
                .into_iter()
                .filter(|(_, cores)| *cores >= 0.005)
                .map(|(name, cores)| (name, json!(round(cores, 3))))
                .collect()
        };
        let cpu = |p: &Phase| -> serde_json::Map<String, Value> {
            p.cpu
                .iter()
                .map(|u| (u.name.clone(), json!(round(u.cores, 3))))
                .collect()
        };
        let per_round =
            |f: &dyn Fn(&rounds::Round) -> f64| -> Vec<f64> { w.rounds.iter().map(f).collect() };
        json!({
            "watchers": self.plan.watchers,
            "watchers_idle": self.plan.idle,
            "rate_without_tx_s": round(w.rate(false), 0),
            "rate_with_tx_s": round(w.rate(true), 0),
            "watchers_rate_ratio": round(w.ratio(), 3),
            "watchers_rate_ratios": per_round(&|r| round(r.ratio(), 3)),
            "target_watchers_rate_ratio": TARGET_WATCHERS_RATE_RATIO,
            "watchers_target_met": w.ratio() >= TARGET_WATCHERS_RATE_RATIO,
            "node_cpu_per_watcher_pct": round(self.node_cpu_per_watcher_pct(), 4),
            "serving_cpu_per_watcher_pct": round(self.serving_cpu_per_watcher_pct(), 4),
            "cost_rate_tx_s": round(w.cost.rate, 0),
            "cost_rates_tx_s": [round(w.cost.without.window.rate(), 0), round(w.cost.with.window.rate(), 0)],
            "node_cores_paced_without": round(node_cores(&w.cost.without), 3),
            "node_cores_paced_with": round(node_cores(&w.cost.with), 3),
            "serving_cores_paced_without": round(serving_cores(&w.cost.without), 3),
            "serving_cores_paced_with": round(serving_cores(&w.cost.with), 3),
            "client_cores_paced_with": round(group_cores(&w.cost.with, CLIENTS), 3),
            "ack_p99_ms_paced_without": round(w.cost.without.latency.p99_ms, 2),
            "ack_p99_ms_paced_with": round(w.cost.with.latency.p99_ms, 2),
            "cores_by_thread_paced_without": cpu(&w.cost.without),
            "cores_by_thread_paced_with": cpu(&w.cost.with),
            "watcher_receipts_min": w.receipts_min(),
            "watcher_receipts_total": w.receipts_total(),
            "watcher_receipts_expected": w.receipts_expected(),
            "watcher_receipts_missing": w.receipts_missing(),
            "watcher_block_events_total": w.block_events(),
            "watcher_lagged_events": w.lagged(),
            "watchers_connect_s": per_round(&|r| round(r.watched.connect_s, 3)),
            "watchers_drain_s": per_round(&|r| round(r.watched.drain_s, 3)),
            "verify_capacity_per_s": round(w.capacity.per_s, 0),
            "senders": self.plan.senders,
            "inflight": w.inflight,
            "rounds": w.rounds.len(),
            "seconds": self.plan.window.as_secs(),
            "rates_without_tx_s": per_round(&|r| round(r.without.window.rate(), 0)),
            "rates_with_tx_s": per_round(&|r| round(r.with.window.rate(), 0)),
            "cores_other_processes_without": per_round(&|r| round(r.without.machine.1, 3)),
            "cores_other_processes_with": per_round(&|r| round(r.with.machine.1, 3)),
            "cores_by_thread_without": peak_cpu(false),
            "cores_by_thread_with": peak_cpu(true),
        })
    }

    pub fn print(&self) {
        let (p, b) = (&self.pages, &self.build);
        println!(
            "ting bench dashboard: {} cores; the hub's history of {} transactions written in {:.1} s \
             ({} blocks, {} bytes of log), replayed in {:.1} s, indexed {:.1} s after the start",
            super::super::cores(),
            self.plan.history,
            b.write_s,
            b.blocks,
            b.log_bytes,
            b.start_s,
            b.index_s
        );
        let met = p.hub.p95_ms < TARGET_PAGE_P95_MS;
        line(&format!("account page, {} txs", self.plan.history), &p.hub);
        println!(
            "    {} requests, {} bytes each; target p95 < {TARGET_PAGE_P95_MS:.0} ms: {}",
            p.hub.samples,
            p.hub_page_bytes,
            verdict(met)
        );
        line("account page, 1 tx (ceiling)", &p.small);
        println!(
            "  history cost ratio      {:>8.3}   the p95s' ratio",
            p.history_cost_ratio()
        );
        line("history as JSON (50)", &p.json);
        line("Older link, page by page", &p.older);
        println!(
            "    followed down to {} transactions below the newest",
            p.older_depth
        );
        line("pages across the history", &p.deep);
        self.print_watchers();
    }

    fn print_watchers(&self) {
        let w = &self.watched;
        let whose = if self.plan.idle {
            "an account no transfer touches (--idle)"
        } else {
            "a sender of the window's transfers"
        };
        println!(
            "  watchers                {} SSE streams, each watching {whose}, skip_empty=true; {} rounds of {} s windows (verification capacity {:.0} /s)",
            self.plan.watchers,
            w.rounds.len(),
            self.plan.window.as_secs(),
            w.capacity.per_s
        );
        for (i, r) in w.rounds.iter().enumerate() {
            println!(
                "    round {}: {:>6.0} /s without, {:>6.0} /s with: {:.3}   ({} first; other processes took {:.2} and {:.2} cores; streams opened in {:.2} s)",
                i + 1,
                r.without.window.rate(),
                r.with.window.rate(),
                r.ratio(),
                if r.with_first { "watchers" } else { "no watcher" },
                r.without.machine.1,
                r.with.machine.1,
                r.watched.connect_s
            );
            let asked = self.plan.window.as_secs_f64() * 0.95;
            if r.without.window.seconds < asked || r.with.window.seconds < asked {
                println!("    warning: a window of this round ended early, its transfers used up");
            }
        }
        println!(
            "  watchers rate ratio     {:>8.3}   the rounds' median; target >= {TARGET_WATCHERS_RATE_RATIO}: {}",
            w.ratio(),
            verdict(w.ratio() >= TARGET_WATCHERS_RATE_RATIO)
        );
        let c = &w.cost;
        println!(
            "  node CPU per watcher    {:>8.4} % of a core, paced at {:.0} /s: the node's threads {:.2} cores with the watchers, {:.2} without; \
             outside the pipeline {:.4} % per watcher; the clients used {:.2} cores",
            self.node_cpu_per_watcher_pct(),
            c.rate,
            node_cores(&c.with),
            node_cores(&c.without),
            self.serving_cpu_per_watcher_pct(),
            group_cores(&c.with, CLIENTS)
        );
        println!(
            "    ack latency there: p50 {:.2} ms, p99 {:.2} ms without them; p50 {:.2} ms, p99 {:.2} ms with them",
            c.without.latency.p50_ms,
            c.without.latency.p99_ms,
            c.with.latency.p50_ms,
            c.with.latency.p99_ms
        );
        println!(
            "  receipts                {} to the watchers (min {} each in a round), {} missing of {} expected, {} lagged events",
            w.receipts_total(),
            w.receipts_min(),
            w.receipts_missing(),
            w.receipts_expected(),
            w.lagged(),
        );
        for (what, with) in [("peak, no watcher", false), ("peak, watchers", true)] {
            let mut groups: Vec<(String, f64)> = w
                .cores_by_group(with)
                .into_iter()
                .filter(|(_, cores)| *cores >= 0.005)
                .collect();
            groups.sort_by(|a, b| b.1.total_cmp(&a.1));
            let groups: Vec<String> = groups
                .iter()
                .map(|(name, cores)| format!("{name} {cores:.2}"))
                .collect();
            println!("  cores, {what:<16} by thread: {}", groups.join(", "));
        }
    }
}

fn line(what: &str, l: &Latency) {
    println!(
        "  {what:<28} p50 {:>7.2} ms, p95 {:>7.2} ms, max {:>7.2} ms",
        l.p50_ms, l.p95_ms, l.max_ms
    );
}

fn extend(v: &mut Value, more: Value) {
    if let (Some(v), Value::Object(more)) = (v.as_object_mut(), more) {
        v.extend(more);
    }
}
