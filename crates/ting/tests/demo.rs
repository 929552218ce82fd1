//! `ting demo` end to end, as a newcomer runs it: the real binary makes a
//! water city on an accelerated clock, says where its API, broker and keys
//! are, runs its devices, and on stopping prints and writes its report. A
//! rerun with other arguments refuses to mix cities, and `--fresh` removes
//! only a directory that holds a city.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn free_port() -> u16 {
    common::free_addr().port()
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
fn a_damaged_city_file_is_named_and_nothing_is_removed() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::write(dir.path().join("city.json"), b"{\"seed\": \"many\"}").expect("a file");
    let run = demo(dir.path(), &["--seconds", "1"]);
    let (_, stderr) = text(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("city.json") && stderr.contains("--fresh"),
        "{stderr}"
    );
    assert!(dir.path().join("city.json").exists());
}

#[test]
fn bad_arguments_are_named() {
    for (args, what) in [
        (&["--households", "0"][..], "--households"),
        (&["--speed", "1"][..], "--speed"),
        (&["--days", "0"][..], "--days"),
        (&["--days", "366"][..], "--days"),
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

/// What one `--json` line says, the few figures the scenario test reads.
fn figure(line: &str, name: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    v[name].as_u64().unwrap_or(0)
}

#[test]
fn a_centre_that_misses_its_deadline_is_refunded_and_another_fits_the_cartridge() {
    use std::io::BufRead;
    // Seed 1 with 12 households: purifier 1 starts nearly spent, and the
    // unreliable centre wins its first order and misses it. The same run
    // waits for the battery sensor's reports to go through a gateway.
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args([
            "demo",
            "--households",
            "12",
            "--speed",
            "3000",
            "--seed",
            "1",
            "--json",
        ])
        .args(["--http", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("city"))
        .env("TING_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ting demo");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    let mut seen = Vec::new();
    let done = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let both = figure(&line, "installed") >= 1 && figure(&line, "refunded") >= 1;
                let relayed = figure(&line, "relay_messages") >= 1;
                seen.push(line);
                if both && relayed {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    // Ctrl-C: the demo stops its devices and writes its report.
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("the demo exits");
    let _ = reader.join();
    let tail: Vec<String> = rx.try_iter().collect();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    assert!(
        done,
        "no fitting, refund and relayed report within 240 s; the demo printed:\n{}\nstderr:\n{stderr}",
        seen.join("\n")
    );
    assert!(
        status.success(),
        "the demo after Ctrl-C: {status:?}\n{}",
        tail.join("\n")
    );
    let last = seen.last().expect("a line");
    assert_eq!(figure(last, "agent_errors"), 0, "{last}");
    assert!(figure(last, "centre_failures") >= 1, "{last}");
    assert!(figure(last, "relay_leases") >= 1, "{last}");
    let report = std::fs::read_to_string(dir.path().join("city/report/report.md")).expect("report");
    assert!(report.contains("Money was conserved"), "{report}");
}

#[test]
fn the_same_seed_gives_the_same_city() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let summary = |name: &str| {
        let run = demo(&dir.path().join(name), &["--seed", "5", "--seconds", "1"]);
        let (stdout, stderr) = text(&run);
        assert!(run.status.success(), "{stderr}");
        // The lines between the title and the addresses describe the city.
        stdout
            .lines()
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with("API"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let (a, b) = (summary("a"), summary("b"));
    assert!(a.len() >= 2, "{a:?}");
    assert_eq!(a, b, "two cities of seed 5");
}
