//! Running `ting bench ... --json` as the bench tests do: the real binary,
//! its exit status checked (stderr shown when it fails) and its one JSON
//! object read back. A bench test includes this file alone
//! (`#[path = "common/bench.rs"] mod bench;`), not the rest of `common`.

use std::process::Command;

use serde_json::Value;

/// `ting ARGS`, which must succeed and print one JSON object on stdout.
pub fn run(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(args)
        .output()
        .expect("ting runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ting {} failed: {stderr}",
        args.join(" ")
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

/// `report[key]`, which must be a number.
pub fn number(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number in {report}"))
}
