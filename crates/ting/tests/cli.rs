//! The CLI as a new user meets it, end to end against a real node process:
//! errors that say what went wrong (as JSON with `--json`) and exit with a
//! status of their kind, offline signing and later submission in every
//! printed form, `mint` by a genesis issuer, `account history`, `key show`,
//! readable `status` and `tx`, `--node` only where it means something, and a
//! node that cannot start writing nothing.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::cli::Cli;
use common::{free_addr, NodeProc};

/// Exit statuses (README, "Exit status").
const BAD_INPUT: i32 = 2;
const REFUSED: i32 = 3;
const UNREACHABLE: i32 = 4;
const NOT_VALID: i32 = 5;

struct World {
    _tmp: tempfile::TempDir,
    _node: NodeProc,
    cli: Cli,
    data: std::path::PathBuf,
}

fn world() -> World {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let data = tmp.path().join("node");
    let node = NodeProc::start(&data, addr, &tmp.path().join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    World {
        _tmp: tmp,
        _node: node,
        cli,
        data,
    }
}

fn text(v: &serde_json::Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
        .to_owned()
}

#[test]
fn failures_say_what_went_wrong_in_json_and_exit_by_kind() {
    let w = world();
    let cli = &w.cli;
    let alice = cli.key("alice");
    let bob = cli.key("bob");
    cli.run(&["faucet", "--to", &alice, "--amount", "100"]);

    cli.fails_with(
        &[
            "transfer",
            "--key",
            "alice.key",
            "--to",
            &bob,
            "--amount",
            "1000",
        ],
        REFUSED,
        "insufficient_funds",
    );

    let missing = cli.fails_with(
        &[
            "transfer", "--key", "nope.key", "--to", &bob, "--amount", "1",
        ],
        BAD_INPUT,
        "file_not_found",
    );
    assert_eq!(
        missing.message.matches("nope.key").count(),
        1,
        "{}",
        missing.message
    );

    cli.fails_with(
        &["account", "show", "not-an-id"],
        BAD_INPUT,
        "bad_account_id",
    );

    cli.fails_with(
        &["transfer", "--kye", "alice.key"],
        BAD_INPUT,
        "bad_arguments",
    );

    let away = Cli {
        node: format!("http://{}", free_addr()),
        dir: cli.dir.clone(),
    };
    away.fails_with(&["status"], UNREACHABLE, "node_unreachable");

    // A human reader gets the message on stderr, the OS error said once.
    let (ok, _, stderr) = cli.human(&["key", "show", "nope.key"]);
    assert!(!ok);
    assert_eq!(stderr.trim(), format!("error: nope.key does not exist"));
}

#[test]
fn a_receipt_from_another_network_is_named_as_such() {
    let w = world();
    let cli = &w.cli;
    let alice = cli.key("alice");
    let tx = cli.run(&["faucet", "--to", &alice, "--amount", "5"]);
    let hash = text(&tx, "tx_hash");
    cli.run(&["receipt", &hash, "--out", "r.json"]);
    let genesis = w.data.join("genesis.json");
    let genesis = genesis.to_str().expect("utf-8");
    let ok = cli.run(&["verify-receipt", "r.json", "--genesis", genesis]);
    assert_eq!(ok["valid"], true);

    // The same trust given by hand: the genesis hash and the sequencer key.
    let status = cli.run(&["status"]);
    let (genesis_hash, sequencer) = (text(&status, "genesis_hash"), text(&status, "sequencer"));
    let by_hand = [
        "verify-receipt",
        "r.json",
        "--sequencer",
        &sequencer,
        "--genesis-hash",
        &genesis_hash,
    ];
    assert_eq!(cli.run(&by_hand)["valid"], true);
    let elsewhere = "00".repeat(32);
    cli.fails_with(
        &[
            "verify-receipt",
            "r.json",
            "--sequencer",
            &sequencer,
            "--genesis-hash",
            &elsewhere,
        ],
        NOT_VALID,
        "genesis_mismatch",
    );
    cli.fails_with(
        &[
            "verify-receipt",
            "r.json",
            "--sequencer",
            &sequencer,
            "--genesis-hash",
            "abc",
        ],
        BAD_INPUT,
        "bad_genesis_hash",
    );

    cli.run(&[
        "genesis",
        "new",
        "--out",
        "other.json",
        "--network-id",
        "32343",
        "--sequencer",
        &alice,
    ]);
    let other = cli.fails_with(
        &["verify-receipt", "r.json", "--genesis", "other.json"],
        NOT_VALID,
        "genesis_mismatch",
    );
    assert!(other.message.contains("other.json"), "{}", other.message);
}

#[test]
fn a_transaction_signed_offline_is_submitted_later_in_every_form() {
    let w = world();
    let cli = &w.cli;
    let alice = cli.key("alice");
    let bob = cli.key("bob");
    cli.run(&["faucet", "--to", &alice, "--amount", "100"]);
    let status = cli.run(&["status"]);
    // Fully offline: the genesis file and the nonce are given, and the node
    // named is one nobody listens on.
    let genesis = w.data.join("genesis.json").display().to_string();
    let nowhere = format!("http://{}", free_addr());
    for (nonce, format) in [("0", "hex"), ("1", "base64"), ("2", "json")] {
        let signed = cli.run(&[
            "sign",
            "transfer",
            "--key",
            "alice.key",
            "--to",
            &bob,
            "--amount",
            "7",
            "--nonce",
            nonce,
            "--genesis",
            &genesis,
            "--format",
            format,
            "--node",
            &nowhere,
        ]);
        assert_eq!(signed["genesis"], status["genesis_hash"], "{signed}");
        let printed = text(&signed, "tx");
        let committed = cli.run(&["submit", &printed]);
        assert_eq!(committed["status"], "committed", "{format}: {committed}");
        assert_eq!(text(&committed, "tx_hash"), text(&signed, "tx_hash"));
        // Sent again, it is recognised as the transaction already committed.
        let again = cli.run(&["submit", &printed]);
        assert_eq!(again["already"], true, "{again}");
    }
    assert_eq!(cli.balance(&bob), 21);

    // With the node at hand, the nonce is read from it.
    let signed = cli.run(&[
        "sign",
        "transfer",
        "--key",
        "alice.key",
        "--to",
        &bob,
        "--amount",
        "1",
    ]);
    assert_eq!(signed["nonce"], 3);
    let garbage = cli.failure(&["submit", "not a transaction"]);
    assert_eq!(garbage.exit, BAD_INPUT);

    // Valid for a moment only: once the ledger's time has passed it, it is
    // refused for ever, even with the right nonce and the funds there.
    let brief = cli.run(&[
        "sign",
        "transfer",
        "--key",
        "alice.key",
        "--to",
        &bob,
        "--amount",
        "1",
        "--valid-for",
        "1ms",
    ]);
    cli.run(&["faucet", "--to", &bob, "--amount", "1"]);
    let late = cli.failure(&["submit", &text(&brief, "tx")]);
    assert_eq!(late.exit, REFUSED, "{late:?}");
    assert_eq!(late.code, "tx_expired", "{late:?}");
}

#[test]
fn an_issuer_mints_and_history_key_and_status_read_as_a_person_would() {
    let w = world();
    let cli = &w.cli;
    let alice = cli.key("alice");
    let issuer = w.data.join("issuer.key");
    let issuer = issuer.to_str().expect("utf-8");
    cli.run(&["mint", "--key", issuer, "--to", &alice, "--amount", "50"]);
    assert_eq!(cli.balance(&alice), 50);
    cli.fails_with(
        &[
            "mint",
            "--key",
            "alice.key",
            "--to",
            &alice,
            "--amount",
            "1",
        ],
        REFUSED,
        "unknown_issuer",
    );

    let shown = cli.run(&["key", "show", "alice.key"]);
    assert_eq!(text(&shown, "account"), alice);
    let (ok, stdout, _) = cli.human(&["key", "show", "alice.key"]);
    assert!(ok && stdout.contains(&alice));
    let seed = std::fs::read_to_string(cli.dir.join("alice.key")).expect("key file");
    let seed: serde_json::Value = serde_json::from_str(&seed).expect("JSON");
    assert!(
        !stdout.contains(&text(&seed, "seed")),
        "key show never prints the secret"
    );

    let history = cli.run(&["account", "history", &alice]);
    let rows = history["transactions"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    let (ok, stdout, _) = cli.human(&["account", "history", &alice]);
    assert!(ok && stdout.contains("mint 50"), "{stdout}");
    assert!(stdout.contains(" UTC"), "dates read as dates: {stdout}");

    let (ok, stdout, _) = cli.human(&["status"]);
    assert!(ok, "{stdout}");
    for needle in [
        "network",
        "genesis",
        "MQTT broker  mqtt://127.0.0.1:",
        "faucet",
    ] {
        assert!(stdout.contains(needle), "status shows {needle}: {stdout}");
    }
    let hash = text(&rows[0], "tx_hash");
    let (ok, stdout, _) = cli.human(&["tx", &hash]);
    assert!(
        ok && stdout.contains("mint 50") && stdout.contains(" UTC"),
        "{stdout}"
    );
}

#[test]
fn node_is_an_option_only_where_a_node_is_talked_to() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cli = Cli {
        node: "http://127.0.0.1:1".into(),
        dir: tmp.path().to_path_buf(),
    };
    for args in [
        &["keygen", "--node", "http://x:1"][..],
        &["--node", "http://x:1", "status"][..],
        &[
            "verify-receipt",
            "r.json",
            "--genesis",
            "g.json",
            "--node",
            "http://x:1",
        ][..],
    ] {
        let f = cli.failure(args);
        assert_eq!(
            (f.exit, f.code.as_str()),
            (BAD_INPUT, "bad_arguments"),
            "{args:?}"
        );
    }
    let payee = cli.key("payee");
    cli.key("payer");
    let voucher = cli.fails_with(
        &[
            "channel",
            "open",
            "--key",
            "payer.key",
            "--payee",
            &payee,
            "--deposit",
            "5",
            "--mode",
            "voucher",
            "--price",
            "2",
        ],
        BAD_INPUT,
        "invalid_field",
    );
    assert!(voucher.message.contains("--price"), "{}", voucher.message);
}

#[test]
fn a_channel_file_that_is_not_there_points_at_state() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let cli = Cli {
        node: "http://127.0.0.1:1".into(),
        dir: tmp.path().to_path_buf(),
    };
    let f = cli.fails_with(
        &[
            "channel",
            "pay",
            "--channel",
            &"ab".repeat(32),
            "--units",
            "1",
        ],
        BAD_INPUT,
        "no_channel_file",
    );
    assert!(f.message.contains("--state"), "{}", f.message);
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_node_that_cannot_start_writes_nothing() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("address");
    let data = tmp.path().join("data");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ting"))
            .args(["node", "--dev", "--data-dir"])
            .arg(&data)
            .args(extra)
            .env("TING_LOG", "warn")
            .output()
            .expect("run ting node")
    };
    let http = taken.to_string();
    let out = run(&["--http", &http, "--mqtt-listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
    let free = free_addr().to_string();
    let out = run(&["--http", &free, "--mqtt-listen", &http]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mqtt-listen"));
    let nowhere = format!("mqtt://{}", free_addr());
    let out = run(&["--http", &free, "--mqtt-broker", &nowhere]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&nowhere),
        "names the broker it could not reach: {said}"
    );
    for (step, says) in [("0s", "more than 0"), ("soon", "not a duration")] {
        let out = run(&["--http", &free, "--max-clock-step", step]);
        assert_eq!(out.status.code(), Some(2), "bad input: {out:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains("--max-clock-step") && said.contains(says),
            "{said}"
        );
    }
    assert!(
        files_in(&data).is_empty() && !data.exists(),
        "{:?}",
        files_in(&data)
    );
}

#[test]
fn fresh_dev_keys_are_never_made_beside_another_networks_data() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("log")).expect("a log directory");
    let out = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["--json", "node", "--dev", "--data-dir"])
        .arg(&data)
        .args([
            "--http",
            &free_addr().to_string(),
            "--mqtt-listen",
            "127.0.0.1:0",
        ])
        .env("TING_LOG", "warn")
        .output()
        .expect("run ting node");
    assert_eq!(out.status.code(), Some(BAD_INPUT));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    assert_eq!(v["error"]["code"], "not_a_dev_network", "{v}");
    assert_eq!(files_in(&data), vec!["log".to_owned()], "nothing was added");
}

#[test]
fn a_claim_the_ledger_takes_in_steps_is_signed_offline_as_several_and_sent_in_order() {
    let w = world();
    let cli = &w.cli;
    let payer = cli.key("payer");
    let payee = cli.key("payee");
    cli.run(&["faucet", "--to", &payer, "--amount", "20000"]);
    cli.run(&["faucet", "--to", &payee, "--amount", "1"]);
    let opened = cli.run(&[
        "channel",
        "open",
        "--key",
        "payer.key",
        "--payee",
        &payee,
        "--deposit",
        "10000",
        "--ticks",
        "10000",
        "--expires-in",
        "1h",
        "--state",
        "p",
    ]);
    let channel = text(&opened, "channel");
    // Far past the ledger's work bound for one claim (CLAIM_HASHES_MAX).
    let paid = cli.run(&[
        "channel",
        "pay",
        "--channel",
        &channel,
        "--units",
        "6000",
        "--state",
        "p",
    ]);
    cli.run(&[
        "channel",
        "accept",
        &text(&paid, "payment_hex"),
        "--state",
        "q",
    ]);
    let signed = cli.run(&[
        "sign",
        "channel-claim",
        "--key",
        "payee.key",
        "--channel",
        &channel,
        "--state",
        "q",
    ]);
    let txs = signed["txs"].as_array().expect("a list");
    assert!(txs.len() >= 2, "claimed in steps: {signed}");
    let nonces: Vec<u64> = txs
        .iter()
        .map(|t| t["nonce"].as_u64().expect("nonce"))
        .collect();
    assert!(nonces.windows(2).all(|w| w[1] == w[0] + 1), "{nonces:?}");
    let lines: Vec<String> = txs.iter().map(|t| text(t, "tx")).collect();
    std::fs::write(cli.dir.join("claims.tx"), lines.join("\n")).expect("write");
    cli.run(&["submit", "@claims.tx"]);
    assert_eq!(cli.balance(&payee), 1 + 6000);
}

/// Started with a soft limit of 512 open files (the hard one as it is), the
/// node raises its own to what the system allows before it serves, and its
/// start message says from what to what.
#[test]
fn the_node_raises_its_open_file_limit_and_says_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let log = tmp.path().join("node.log");
    let stderr = std::fs::File::create(&log).expect("log file");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 512 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_ting"))
        .arg("node")
        .arg("--dev")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .arg("--http")
        .arg(addr.to_string())
        .args(["--mqtt-listen", "127.0.0.1:0"])
        .env_remove("TING_NODE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(stderr))
        .spawn()
        .expect("sh runs");
    let said = common::poll("the node's start message", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("  files ").then_some(text)
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).expect("limits");
    let _ = child.kill();
    let _ = child.wait();
    let line = said
        .lines()
        .find(|l| l.trim_start().starts_with("files "))
        .expect("a files line");
    assert!(line.contains("raised from 512"), "{line}");
    let soft: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .expect("the soft limit");
    assert!(soft > 512, "{limits}");
    assert!(line.contains(&soft.to_string()), "{line} / {soft}");
}
