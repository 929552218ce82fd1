//! `ting bench witness` end to end, scaled down: the real binary makes
//! blocks in its node, has a witness check them, and prints one JSON object
//! whose figures are all there and add up. Rates are a debug build's; only
//! what must hold on any machine is checked.

#[path = "common/bench.rs"]
mod bench;

#[test]
fn the_witness_benchmark_checks_every_block_the_node_made_and_prints_every_figure() {
    let report = bench::run(&[
        "bench",
        "witness",
        "--txs",
        "4000",
        "--senders",
        "64",
        "--json",
    ]);
    let number = |key: &str| bench::number(&report, key);
    for key in [
        "witness_ratio",
        "witness_blocks_per_s",
        "sequencer_blocks_per_s",
        "witness_tx_per_s",
        "sequencer_tx_per_s",
        "attest_verify_us",
        "root_evidence_txs",
        "root_evidence_bytes",
        "root_evidence_verify_ms",
    ] {
        assert!(number(key) > 0.0, "{key} in {report}");
    }
    assert_eq!(number("target_witness_ratio"), 1.0);
    // Every transfer went into a block; the witness checked all blocks but
    // the last, which it then proved wrong once re-signed with another root.
    assert!(number("txs") >= 4000.0, "{report}");
    assert!(number("blocks") >= 2.0, "{report}");
    let ratio = number("witness_blocks_per_s") / number("sequencer_blocks_per_s");
    assert!((ratio - number("witness_ratio")).abs() < 1e-6, "{report}");
}
