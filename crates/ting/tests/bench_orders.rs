//! `ting bench orders` end to end, scaled down to seconds: the real binary
//! makes its order workload, applies it and as many transfers on one core,
//! then pushes signed transfers and signed orders through an in-process
//! node, and prints one JSON object. Rates are a debug build's here; only
//! what must hold on any machine is checked: every figure is there, the
//! workload crossed the book (fills) and cancelled, and the node took it
//! all (a refusal would have failed the run).

#[path = "common/bench.rs"]
mod bench;

use std::process::Command;

#[test]
fn the_orders_benchmark_fills_and_cancels_and_prints_every_figure() {
    let report = bench::run(&[
        "bench",
        "orders",
        "--ops",
        "1000",
        "--senders",
        "64",
        "--rounds",
        "1",
        "--tx-seconds",
        "1",
        "--tx-senders",
        "64",
        "--json",
    ]);
    let number = |key: &str| bench::number(&report, key);
    for key in [
        "matching_ops_per_s_core",
        "order_apply_ns",
        "transfer_apply_ns",
        "order_apply_ratio",
        "order_tx_ratio",
        "order_txs_per_s",
        "transfers_per_s",
        "verify_capacity_per_s",
        "core_fills",
        "core_cancels",
        "core_units_filled",
        "node_order_fills",
    ] {
        assert!(number(key) > 0.0, "{key} in {report}");
    }
    assert_eq!(number("core_ops"), 1000.0);
    assert_eq!(
        number("core_places") + number("core_cancels"),
        1000.0,
        "every operation is a placement or a cancellation: {report}"
    );
    assert!(
        number("core_units_filled") >= number("core_fills"),
        "{report}"
    );
    assert_eq!(number("target_order_apply_ratio"), 2.0);
    assert_eq!(number("target_order_tx_ratio"), 0.8);
}

#[test]
fn bad_arguments_are_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["bench", "orders", "--ops", "0"])
        .output()
        .expect("ting runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--ops must be at least 1"), "{stderr}");
}
