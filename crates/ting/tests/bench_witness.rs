//! `ting bench witness` end to end, scaled down: the real binary makes
//! blocks in its node, has a witness check them, and prints one JSON object
//! whose figures are all there and add up. Rates are a debug build's; only
//! what must hold on any machine is checked.

use std::process::Command;

#[test]
fn the_witness_benchmark_checks_every_block_the_node_made_and_prints_every_figure() {
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args([
            "bench",
            "witness",
            "--txs",
            "4000",
            "--senders",
            "64",
            "--json",
        ])
        .output()
        .expect("ting runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ting bench witness failed: {stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object on stdout");
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} is a number in {report}"))
    };
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
