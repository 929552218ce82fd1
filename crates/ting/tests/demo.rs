//! `ting demo` end to end, as a newcomer runs it: the real binary makes a
//! water city on an accelerated clock, says where its API, broker and keys
//! are, runs its devices, and on stopping prints and writes its report. A
//! rerun with other arguments refuses to mix cities, and `--fresh` removes
//! only a directory that holds a city.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

fn demo(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["demo", "--households", "6", "--speed", "2000"])
        .args(extra)
        .arg("--http")
        .arg(format!("127.0.0.1:{}", free_port()))
        .args(["--mqtt-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env("TING_LOG", "warn")
        .output()
        .expect("run ting demo")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_demo_runs_a_city_writes_its_keys_and_report_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let city = dir.path().join("city");
    let run = demo(&city, &["--seed", "7", "--seconds", "4"]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in [
        "the water city, seed 7, 6 households, 2000 times real time (a new city",
        "API   http://127.0.0.1:",
        "MQTT  mqtt://127.0.0.1:",
        "README.txt has their ids and three commands",
        "transactions/s",
        "money conserved",
        "ting demo: stopped cleanly",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let keys = city.join("keys");
    for file in ["utility.key", "household.key", "purifier.key"] {
        let mode = std::fs::metadata(keys.join(file))
            .expect(file)
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
    }
    let readme = std::fs::read_to_string(keys.join("README.txt")).expect("README.txt");
    for command in [
        "ting account show",
        "ting consent new",
        "ting device freeze",
    ] {
        assert!(readme.contains(command), "{command} in:\n{readme}");
    }
    let report = std::fs::read_to_string(city.join("report/report.md")).expect("report.md");
    assert!(report.contains("Seed 7"), "{report}");
    for chart in ["prices.svg", "replacements.svg", "map.svg", "flows.svg"] {
        let svg = std::fs::read_to_string(city.join("report").join(chart)).expect(chart);
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{chart}"
        );
    }

    // The same arguments continue the city; others are refused, with the way out named.
    let again = demo(&city, &["--seed", "7", "--seconds", "1"]);
    let (stdout, stderr) = text(&again);
    assert!(
        again.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("(continued in"), "{stdout}");
    let other = demo(&city, &["--seed", "8", "--seconds", "1"]);
    let (_, stderr) = text(&other);
    assert_eq!(other.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("holds another city") && stderr.contains("--fresh"),
        "{stderr}"
    );
    let fresh = demo(&city, &["--seed", "8", "--seconds", "1", "--fresh"]);
    let (stdout, stderr) = text(&fresh);
    assert!(
        fresh.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("seed 8") && stdout.contains("(a new city"),
        "{stdout}"
    );
}

#[test]
fn fresh_never_removes_a_directory_that_holds_no_city() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("precious.txt"), b"keep me").expect("a file");
    let run = demo(dir.path(), &["--fresh", "--seconds", "1"]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds no demo city"), "{stderr}");
    assert!(dir.path().join("precious.txt").exists());
}

#[test]
fn bad_arguments_are_named() {
    for (args, what) in [
        (&["--households", "0"][..], "--households"),
        (&["--speed", "1"][..], "--speed"),
        (&["--no-mqtt"][..], "--no-mqtt"),
    ] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let run = Command::new(env!("CARGO_BIN_EXE_ting"))
            .arg("demo")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .expect("run ting demo");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(what), "{stderr}");
    }
}
