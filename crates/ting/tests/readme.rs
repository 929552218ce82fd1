//! The README's shell tour, run as written: every fenced block marked
//! ```` ```sh ting-tour ```` is taken in order into one bash script (with
//! `set -euo pipefail`) and run with the `ting` this build made on `PATH`, in
//! a fresh `HOME`. Only ports change: 8080, 8090, 8093, 1883 and 1884 become free
//! ones, a node started without `--http` or `--mqtt-listen` gets them, and
//! `TING_NODE` names the tour's dev node, so the tour runs on a machine where
//! those ports are taken. The Rust program in the README is a doc test of
//! `ting-agent`.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::free_addr;

/// The longest the whole tour may take: two nodes start, a few dozen commands run.
const TOUR_DEADLINE: Duration = Duration::from_secs(180);
/// The ports the README names, each replaced by a free one.
const README_PORTS: [&str; 5] = ["8080", "8090", "8093", "1883", "1884"];

/// The bodies of the blocks opened with ```` ```sh ting-tour ````, in order.
fn tour_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh ting-tour") => current = Some(Vec::new()),
            (Some(lines), "```") => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), _) => lines.push(line),
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "a tour block is not closed");
    blocks
}

/// Replaces `from` by `to` wherever it is not part of a longer number.
fn replace_number(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(|c| c.is_ascii_digit()) || after.is_some_and(|c| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// A `ting node` line gets the tour's ports when it names none.
fn pin_node_ports(line: &str, http: &str) -> String {
    if !line.trim_start().starts_with("ting node ") {
        return line.to_owned();
    }
    let mut extra = String::new();
    if !line.contains("--http") {
        extra += &format!(" --http 127.0.0.1:{http}");
    }
    if !line.contains("--mqtt-") && !line.contains("--no-mqtt") {
        extra += " --mqtt-listen 127.0.0.1:0";
    }
    line.replacen("ting node ", &format!("ting node{extra} "), 1)
}

fn script(blocks: &[String], ports: &BTreeMap<&str, String>) -> String {
    let mut body = blocks.join("\n");
    for (from, to) in ports {
        body = replace_number(&body, from, to);
    }
    let body: Vec<String> = body
        .lines()
        .map(|l| pin_node_ports(l, &ports["8080"]))
        .collect();
    // Stop the nodes the tour started in the background, and wait for them.
    let prologue = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n";
    format!("{prologue}{}\n", body.join("\n"))
}

#[test]
fn the_readme_tour_runs_as_written() {
    let readme = include_str!("../../../README.md");
    let blocks = tour_blocks(readme);
    assert!(
        blocks.len() >= 5,
        "the README has its tour blocks: {}",
        blocks.len()
    );
    let ports: BTreeMap<&str, String> = README_PORTS
        .iter()
        .map(|p| (*p, free_addr().port().to_string()))
        .collect();
    let script = script(&blocks, &ports);

    let tmp = tempfile::tempdir().expect("temporary directory");
    let (home, bin) = (tmp.path().join("home"), tmp.path().join("bin"));
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&bin).expect("bin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ting"), bin.join("ting")).expect("link ting");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (out, err) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&home)
        .env("HOME", &home)
        .env("PATH", path)
        .env("TING_NODE", format!("http://127.0.0.1:{}", ports["8080"]))
        .env("TING_LOG", "warn")
        .env_remove("TING_CHANNELS")
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .process_group(0)
        .spawn()
        .expect("run bash");
    let deadline = Instant::now() + TOUR_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            // The whole group: bash and the nodes it started.
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let report = format!("script:\n{script}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("the README tour failed ({s})\n{report}"),
        None => panic!("the README tour did not finish within {TOUR_DEADLINE:?}\n{report}"),
    }
    for said in [
        "valid: transaction",
        "attested by 1 of the witnesses trusted (1 needed)",
        "already committed",
        "payment good: 10 newly paid",
        "\"conserved\":true",
        // Reads from the query index show what was just done.
        "out  transfer 2500",
        "hash_chain open                 deposit 1000",
        // The service market: the centre's offer, found before it has a record.
        "sells water.cartridge.replace in u4pr: usually 40000, delivered in 2h, warranty 90d",
        "no record yet: a newcomer",
        // The centre answers the call, meets the counter-offer at 35000 and takes the job.
        "proposed 40000, delivered by",
        "countered; proposed 35000 in round 1",
        "job: hold ",
        "deliver \"one AquaPure-5 cartridge, fitted\" by",
        "showing event = cartridge_installed and flow_ml_min >= 500",
        "made: waiting for the service",
        // The purifier's evidence pays it, once, and the ledger keeps the record.
        "stopped (its jobs are done): 2 proposals, 1 job,",
        "score 33.3% in water.cartridge.replace",
        "released 1 (35000), late 0, withdrawn 0, lost 0",
    ] {
        assert!(stdout.contains(said), "the tour shows {said:?}\n{report}");
    }
    // The purifier presents its evidence and passes it to the centre, which
    // presents it too: whichever reaches the ledger first releases the hold.
    let buyer_first = stdout.contains("released: 35000 paid to did:key:")
        && stdout.contains("ended before this provider presented evidence");
    let centre_first = stdout.contains("had already ended when this evidence reached the ledger")
        && stdout.contains("paid 35000 for call");
    assert!(
        buyer_first || centre_first,
        "the hold is released once, by one side\n{report}"
    );
    for told in [
        "calling for proposals: water.cartridge.replace at u4pruydq, at most 60000",
        "countered the best proposal (round 1)",
        "accepted hold ",
        "next: once the service is done",
    ] {
        assert!(stderr.contains(told), "the buyer tells {told:?}\n{report}");
    }
    assert!(
        !stdout.contains("no channels"),
        "the payee's channel is listed\n{report}"
    );
    assert!(
        !stderr.contains("ERROR"),
        "nothing routine is logged as an error\n{report}"
    );
}

#[test]
fn ports_are_replaced_only_where_they_are_whole_numbers() {
    assert_eq!(
        replace_number("a:8080 b:18080 8080x 80801", "8080", "5"),
        "a:5 b:18080 5x 80801"
    );
    assert_eq!(
        pin_node_ports("ting node --dev --data-dir ./dev &", "9"),
        "ting node --http 127.0.0.1:9 --mqtt-listen 127.0.0.1:0 --dev --data-dir ./dev &"
    );
    let named = "ting node --genesis g --http 127.0.0.1:7 --mqtt-listen 127.0.0.1:8 &";
    assert_eq!(pin_node_ports(named, "9"), named);
}
