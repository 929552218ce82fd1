//! `ting demo` end to end: the real binary sets up its economy (funding,
//! registrations, limits), drives payments, prints its live summary, and
//! stops cleanly after `--seconds`.

use std::net::TcpListener;
use std::process::Command;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

#[test]
fn the_demo_sets_up_its_economy_pays_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args([
            "demo",
            "--seconds",
            "2",
            "--devices",
            "8",
            "--rate",
            "100",
            "--seed",
            "7",
        ])
        .arg("--http")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(dir.path().join("demo"))
        .env("TING_LOG", "warn")
        .output()
        .expect("run ting demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ting demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("seed 7"), "the seed is printed: {stdout}");
    assert!(
        stdout.contains("refused []"),
        "a live summary without refusals: {stdout}"
    );
    let committed: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ting demo: stopped cleanly after "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no closing line in: {stdout}"));
    assert!(committed > 0, "the demo committed payments: {stdout}");
}
