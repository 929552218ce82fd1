//! `ting bench market` end to end, scaled down to seconds: the real binary
//! sets up its node, broker, buyers and providers, runs bare contracts and
//! real ones through them, then transfers and holds through the node, and
//! prints one JSON object whose figures say every contract went through.
//! Rates and latencies are the machine's (a debug build's, here); only
//! what must hold on any machine is checked. The window is long enough
//! that a debug build's buyer chooses, makes its hold and tells the
//! provider before the provider's proposal expires (one window after the
//! call closes), which a busy debug build does not do within 100 ms.

#[path = "common/bench.rs"]
mod bench;

#[test]
fn the_market_benchmark_completes_contracts_and_prints_every_figure() {
    let report = bench::run(&[
        "bench",
        "market",
        "--buyers",
        "2",
        "--providers",
        "2",
        "--window-ms",
        "500",
        "--seconds",
        "2",
        "--tx-seconds",
        "1",
        // Enough payers for the holds of a debug build's node (at its
        // 15-20k transfers a second, 64 would need over 300 rounds of
        // holds where a payer may hold 60 at once).
        "--tx-senders",
        "2048",
        "--json",
    ]);
    let number = |key: &str| bench::number(&report, key);
    for key in [
        "contracts_per_s",
        "contract_p50_ms",
        "contract_p99_ms",
        "ceiling_contracts_per_s",
        "ceiling_p99_ms",
        "ratio",
        "transfer_round_trip_p50_ms",
        "hold_tx_ratio",
        "hold_tx_ratio_payer_release",
        "transfers_per_s",
        "hold_txs_per_s",
        "hold_txs_per_s_payer_release",
        "verify_capacity_per_s",
    ] {
        assert!(number(key) > 0.0, "{key} in {report}");
    }
    assert_eq!(number("window_ms"), 500.0);
    assert_eq!(number("target_hold_tx_ratio"), 0.8);
    assert_eq!((number("buyers"), number("providers")), (2.0, 2.0));
    assert!(number("contracts") >= 1.0, "{report}");
    // A contract takes at least its proposal window.
    assert!(number("contract_p50_ms") >= 500.0, "{report}");
    assert!(number("ceiling_p50_ms") >= 500.0, "{report}");
    // Every contract ends in exactly one release, whoever presented it first.
    let released = number("released_by_buyer")
        + number("released_by_provider_first")
        + number("buyer_release_refused");
    assert!(released >= number("contracts"), "{report}");
    assert_eq!(
        number("provider_paid") + number("provider_ended"),
        released,
        "the provider presents every evidence it is passed: {report}"
    );
    for key in [
        "no_proposal",
        "timed_out",
        "errors",
        "ceiling_errors",
        "app_dropped",
        "pool_waits",
        "accepts_after_proposal_expired",
    ] {
        assert_eq!(number(key), 0.0, "{key} in {report}");
    }
    assert_eq!(
        report["refused_by_providers"],
        serde_json::json!({}),
        "{report}"
    );
    assert_eq!(
        report["envelopes_refused_by_buyers"],
        serde_json::json!({}),
        "{report}"
    );
}
