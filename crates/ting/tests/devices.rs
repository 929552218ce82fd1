//! `ting bench devices`, scaled down for CI: a real `ting node` process with
//! its embedded broker, 2,000 light device sessions from four loopback
//! addresses and 8 SDK devices. Every session must log in and stay up, the
//! node is restarted with transfers waiting in the devices' outboxes, every
//! session must come back, every outbox drain, and every transfer confirmed
//! to a device must have been applied exactly once (the sink's balance and
//! the devices' nonces equal the confirmations). Rates are the machine's;
//! only what must hold anywhere is checked, with the benchmark's own
//! deadlines (minutes), never a timing threshold.

use std::process::Command;

/// Light sessions: enough that logins queue and are refused over the
/// admission rate set below, few enough for a debug build on two cores.
const DEVICES: u32 = 2_000;
const SDK_DEVICES: u32 = 8;
/// Low, so that the storm after the restart meets the login gate.
const LOGINS_PER_S: u32 = 500;

#[test]
fn every_device_logs_in_stays_up_and_comes_back_after_a_restart_with_nothing_lost() {
    let seed = std::env::var("TING_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7u64);
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["bench", "devices", "--json", "--sources", "4"])
        .args(["--devices", &DEVICES.to_string()])
        .args(["--sdk-devices", &SDK_DEVICES.to_string()])
        .args(["--logins-per-s", &LOGINS_PER_S.to_string()])
        .args(["--hold-seconds", "3", "--seconds", "1"])
        .args(["--seed", &seed.to_string()])
        .output()
        .expect("ting runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("seed {seed}: no JSON on stdout ({e}); stderr: {stderr}"));
    assert!(
        output.status.success(),
        "seed {seed}: ting bench devices failed: {stderr}\n{report}"
    );
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("seed {seed}: {key} is a number in {report}"))
    };
    let everyone = f64::from(DEVICES + SDK_DEVICES);
    assert_eq!(
        number("connected_devices"),
        everyone,
        "seed {seed}: {report}"
    );
    assert_eq!(number("dropped_in_hold"), 0.0, "seed {seed}: {report}");
    assert!(
        number("login_refusals") > 0.0,
        "seed {seed}: 2,000 logins at once against 500 /s must meet the gate: {report}"
    );
    let queued = number("storm_queued");
    assert_eq!(
        queued,
        f64::from(SDK_DEVICES) * 4.0,
        "seed {seed}: {report}"
    );
    assert_eq!(number("storm_confirmed"), queued, "seed {seed}: {report}");
    let confirmed = number("transfers_confirmed");
    assert!(confirmed >= queued, "seed {seed}: {report}");
    assert_eq!(
        number("transfers_applied"),
        confirmed,
        "seed {seed}: {report}"
    );
    assert_eq!(report["problems"], serde_json::json!([]), "seed {seed}");
    for key in [
        "mqtt_tx_per_s",
        "http_tx_per_s",
        "mqtt_cpu_ratio",
        "device_p99_ms",
        "rss_kib_per_device",
    ] {
        assert!(number(key) > 0.0, "seed {seed}: {key} in {report}");
    }
}
