//! `ting bench dashboard` end to end, scaled down to seconds: the real
//! binary writes a history for its hub account, starts a node over it,
//! times the dashboard's pages (each answer checked for its rows: a run
//! whose pages failed would have failed), then drives transfers without and
//! with watchers on SSE, and prints one JSON object. Latencies and rates
//! are a debug build's here; only what must hold on any machine is checked:
//! every figure is there, and each watcher got every receipt its account
//! was due.

#[path = "common/bench.rs"]
mod bench;

use std::process::Command;

#[test]
fn the_dashboard_benchmark_times_the_pages_and_feeds_every_watcher() {
    let report = bench::run(&[
        "bench",
        "dashboard",
        "--history",
        "1000",
        "--watchers",
        "10",
        "--seconds",
        "1",
        "--rounds",
        "1",
        "--senders",
        "64",
        "--requests",
        "5",
        "--json",
    ]);
    let number = |key: &str| bench::number(&report, key);
    for key in [
        "page_p50_ms",
        "page_p95_ms",
        "page_max_ms",
        "small_page_p95_ms",
        "history_cost_ratio",
        "json_history_p95_ms",
        "older_page_p95_ms",
        "deep_page_p95_ms",
        "page_bytes",
        "rate_without_tx_s",
        "rate_with_tx_s",
        "watchers_rate_ratio",
        "verify_capacity_per_s",
        "watcher_receipts_min",
        "watcher_receipts_total",
        "cost_rate_tx_s",
        "node_cores_paced_without",
        "node_cores_paced_with",
    ] {
        assert!(number(key) > 0.0, "{key} in {report}");
    }
    assert!(report["node_cpu_per_watcher_pct"].is_number(), "{report}");
    assert_eq!(
        report["watchers_rate_ratios"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(number("history_txs"), 1000.0);
    assert_eq!(number("page_requests"), 5.0);
    assert_eq!(number("watchers"), 10.0);
    assert_eq!(
        number("watcher_receipts_total"),
        number("watcher_receipts_expected"),
        "each watcher got every receipt of its account: {report}"
    );
    assert_eq!(number("watcher_receipts_missing"), 0.0, "{report}");
    assert_eq!(number("target_page_p95_ms"), 200.0);
    assert_eq!(number("target_watchers_rate_ratio"), 0.9);
}

#[test]
fn bad_arguments_are_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["bench", "dashboard", "--watchers", "20", "--senders", "10"])
        .output()
        .expect("ting runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--watchers must be at most --senders"),
        "{stderr}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["bench", "dashboard", "--idle", "--history", "1000"])
        .args(["--watchers", "2000", "--senders", "4000"])
        .output()
        .expect("ting runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--idle watches the history's 1000 senders"),
        "{stderr}"
    );
}
