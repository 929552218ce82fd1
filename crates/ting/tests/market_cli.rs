//! `ting market ...` end to end, beyond the README's tour: a real node
//! process, a provider run in the background as a user would, and every
//! other command a buyer, a provider and an arbiter use: an offer listed
//! from a text file and found, a counter-offer met at the floor, a dispute
//! decided by the arbiter, a release on the payer's word, a call no
//! proposal fits, a state directory one command at a time, and the errors
//! a user meets on bad input, each named by its flag.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::cli::Cli;
use common::{free_addr, poll, NodeProc};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CATEGORY: &str = "water.cartridge.replace";
const FUNDS: &str = "1100000";

/// A `ting market provide` running in the background; killed if the test fails first.
struct Provider {
    child: Child,
    out: PathBuf,
}

impl Provider {
    /// Starts it with `--json` and `args`, and waits until it follows calls.
    fn start(cli: &Cli, name: &str, args: &[&str]) -> Provider {
        let ready = cli.dir.join(format!("{name}.ready"));
        let out = cli.dir.join(format!("{name}.out"));
        let err = cli.dir.join(format!("{name}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_ting"))
            .args(["--json", "market", "provide", "--ready"])
            .arg(&ready)
            .args(args)
            .env("TING_NODE", &cli.node)
            .env("TING_LOG", "warn")
            .current_dir(&cli.dir)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(err).expect("stderr file"))
            .spawn()
            .expect("run ting market provide");
        let mut p = Provider { child, out };
        poll("the provider to follow calls", || {
            if let Some(status) = p.child.try_wait().expect("try_wait") {
                panic!("the provider exited ({status}): {}", p.output());
            }
            ready.exists().then_some(())
        });
        p
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Its events so far, one JSON object a line.
    fn events(&self) -> Vec<Value> {
        self.output()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Waits for it to stop by itself (its `--jobs` done); answers its events.
    fn finish(mut self) -> Vec<Value> {
        let status = poll("the provider to stop after its jobs", || {
            self.child.try_wait().expect("try_wait")
        });
        assert!(status.success(), "the provider failed: {}", self.output());
        self.events()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or(""))
        .collect()
}

/// A node, and a working directory with funded keys `names`.
fn market(tmp: &Path, names: &[&str]) -> (NodeProc, Cli, Vec<String>) {
    let addr = free_addr();
    let node = NodeProc::start(&tmp.join("node"), addr, &tmp.join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.to_path_buf(),
    };
    let ids = names
        .iter()
        .map(|n| {
            let id = cli.key(n);
            cli.run(&["faucet", "--to", &id, "--amount", FUNDS]);
            id
        })
        .collect();
    (node, cli, ids)
}

#[test]
fn bad_input_is_refused_by_name_before_anything_is_sent() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    // No node listens here: every one of these stops before asking.
    let cli = Cli {
        node: format!("http://{}", free_addr()),
        dir: tmp.path().to_path_buf(),
    };
    cli.key("p");
    let call = "ab".repeat(32);
    fn buy<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "market",
            "buy",
            "--key",
            "p.key",
            "--category",
            CATEGORY,
            "--area",
            "u4pruydq",
            "--max-price",
            "60000",
            "--deliver-within",
            "4h",
        ];
        args.extend_from_slice(extra);
        args
    }
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            buy(&["--require", "flow_ml_min>abc"]),
            "bad_require",
            "--require",
        ),
        (buy(&["--require", "count=5"]), "bad_require", "count>=5"),
        (buy(&["--release", "arbiter"]), "bad_release", "--arbiter"),
        (buy(&["--rounds", "9"]), "bad_rounds", "--rounds"),
        (buy(&["--min-score", "150%"]), "bad_score", "--min-score"),
        (
            vec!["market", "offers", "--area", "u4!"],
            "bad_area",
            "--area",
        ),
        (
            buy(&["--answer-within", "5h"]),
            "bad_duration",
            "--deliver-within",
        ),
        (buy(&["--wait", "forever"]), "bad_wait", "--wait"),
        (
            vec![
                "market",
                "provide",
                "--key",
                "p.key",
                "--category",
                CATEGORY,
                "--area",
                "u4",
                "--price",
                "40000",
                "--floor",
                "50000",
                "--deliver-in",
                "2h",
            ],
            "bad_floor",
            "--floor",
        ),
        (
            vec![
                "market",
                "provide",
                "--key",
                "p.key",
                "--category",
                "Water",
                "--area",
                "u4",
                "--price",
                "1",
                "--deliver-in",
                "2h",
            ],
            "bad_category",
            "--category",
        ),
        (
            vec![
                "market", "confirm", "--key", "p.key", "nothex", "--field", "a=1",
            ],
            "bad_call_id",
            "ting market contracts",
        ),
        (
            vec!["market", "confirm", "--key", "p.key", &call, "--field", "a"],
            "bad_field",
            "NAME=VALUE",
        ),
        (
            vec!["market", "holds", "--phase", "closed"],
            "bad_phase",
            "--phase",
        ),
        (
            vec!["market", "hold", "show", "zz"],
            "bad_hold_id",
            "64 hex digits",
        ),
        (
            vec!["market", "offers", "--min-score", "half"],
            "bad_score",
            "percentage",
        ),
        (
            vec!["market", "reputation", "nobody"],
            "bad_account_id",
            "did:key",
        ),
        (
            vec!["market", "contracts", "--state", "no-such-dir"],
            "no_state",
            "--state",
        ),
    ];
    for (args, code, says) in cases {
        let f = cli.fails_with(&args, 2, code);
        assert!(
            f.message.contains(says),
            "ting {args:?}: {:?} should say {says:?}",
            f.message
        );
    }
}

#[test]
fn a_counter_offer_met_at_the_floor_then_a_dispute_decided_by_the_arbiter() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let (_node, cli, ids) = market(tmp.path(), &["buyer", "centre", "arbiter"]);
    let (buyer, centre, arbiter) = (&ids[0], &ids[1], &ids[2]);

    // An offer whose terms are a text file's SHA-256, found and proved.
    let text = "Cartridge fitting within two hours in Oslo; 90 days warranty.\n";
    std::fs::write(tmp.path().join("terms.txt"), text).expect("terms");
    let opened = cli.run(&[
        "market",
        "offer",
        "open",
        "--key",
        "centre.key",
        "--category",
        CATEGORY,
        "--area",
        "u4pr",
        "--price",
        "50000",
        "--deliver-in",
        "2h",
        "--text",
        "terms.txt",
    ]);
    let offer = opened["offer"].as_str().expect("an offer id").to_owned();
    assert_eq!(
        opened["terms_hash"],
        hex::encode(Sha256::digest(text.as_bytes()))
    );
    let found = cli.run(&[
        "market",
        "offers",
        "--category",
        "water",
        "--area",
        "u4pruydq",
    ]);
    assert_eq!(found["offers"][0]["offer"], offer.as_str());
    assert!(found["offers"][0]["reputation"].is_null(), "a newcomer");
    let shown = cli.run(&["market", "offer", "show", &offer]);
    assert_eq!(
        (shown["listed"].as_bool(), shown["provider"].as_str()),
        (Some(true), Some(centre.as_str()))
    );

    let provider = Provider::start(
        &cli,
        "centre",
        &[
            "--key",
            "centre.key",
            "--category",
            "water.cartridge",
            "--area",
            "u4pr",
            "--price",
            "50000",
            "--floor",
            "30000",
            "--deliver-in",
            "2h",
            "--offer",
            &offer,
            "--jobs",
            "1",
            "--for",
            "5m",
        ],
    );
    // One command at a time on a device's state.
    cli.fails_with(
        &[
            "market",
            "provide",
            "--key",
            "centre.key",
            "--category",
            "water",
            "--area",
            "",
            "--price",
            "1",
            "--deliver-in",
            "1h",
        ],
        2,
        "state_in_use",
    );
    let bought = cli.run(&[
        "market",
        "buy",
        "--key",
        "buyer.key",
        "--category",
        CATEGORY,
        "--area",
        "u4pruydq",
        "--max-price",
        "60000",
        "--target-price",
        "35000",
        "--deliver-within",
        "4h",
        "--answer-within",
        "3s",
        "--arbiter",
        arbiter,
    ]);
    assert_eq!(
        (bought["status"].as_str(), bought["price"].as_u64()),
        (Some("accepted"), Some(35_000))
    );
    let (call, hold) = (
        bought["call"].as_str().expect("call"),
        bought["hold"].as_str().expect("hold"),
    );
    let listed = cli.run(&["market", "holds", "--payer", buyer, "--phase", "accepted"]);
    assert_eq!(listed["holds"][0]["hold"], hold);
    let proved = cli.run(&["market", "hold", "show", hold]);
    assert_eq!(
        (
            proved["open"].as_bool(),
            proved["terms"]["rule"]["kind"].as_str()
        ),
        (Some(true), Some("payer"))
    );
    let kept = cli.run(&["market", "contracts", "--key", "buyer.key"]);
    assert_eq!(
        (
            kept["contracts"][0]["status"].as_str(),
            kept["contracts"][0]["hold"].as_str()
        ),
        (Some("accepted"), Some(hold))
    );

    // Evidence cannot release a hold under the payer's rule; the arbiter decides a dispute.
    cli.fails_with(
        &[
            "market",
            "confirm",
            "--key",
            "buyer.key",
            call,
            "--field",
            "a=1",
        ],
        2,
        "no_evidence_rule",
    );
    let disputed = cli.run(&[
        "market",
        "dispute",
        "--key",
        "buyer.key",
        call,
        "--reason",
        "the cartridge leaks",
    ]);
    assert_eq!(
        disputed["reason_hash"],
        hex::encode(Sha256::digest(b"the cartridge leaks"))
    );
    cli.fails_with(
        &[
            "market",
            "decide",
            "--key",
            "arbiter.key",
            hold,
            "--to-payee",
            "35001",
        ],
        2,
        "decision_over_amount",
    );
    cli.run(&[
        "market",
        "decide",
        "--key",
        "arbiter.key",
        hold,
        "--to-payee",
        "10000",
    ]);
    assert_eq!(
        cli.run(&["market", "hold", "show", hold])["open"].as_bool(),
        Some(false)
    );

    let events = provider.finish();
    assert_eq!(
        kinds(&events),
        ["proposed", "proposed", "job", "ended", "stopped"],
        "{events:?}"
    );
    assert_eq!(
        (events[1]["round"].as_u64(), events[1]["price"].as_u64()),
        (Some(1), Some(35_000))
    );
    let rep = cli.run(&["market", "reputation", centre, "--category", CATEGORY]);
    assert_eq!(
        (
            rep["lost"]["count"].as_u64(),
            rep["released"]["count"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(cli.balance(centre), 1_100_000 - 1_000_000 + 10_000);
    assert_eq!(cli.balance(buyer), 1_100_000 - 10_000);
    cli.run(&["market", "offer", "close", "--key", "centre.key", &offer]);
    assert_eq!(
        cli.run(&["market", "offer", "show", &offer])["listed"].as_bool(),
        Some(false)
    );
}

#[test]
fn a_call_no_proposal_fits_says_why_and_the_payer_releases_the_next() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let (_node, cli, ids) = market(tmp.path(), &["buyer", "centre"]);
    let (buyer, centre) = (&ids[0], &ids[1]);
    let provider = Provider::start(
        &cli,
        "centre",
        &[
            "--key",
            "centre.key",
            "--category",
            "water",
            "--area",
            "",
            "--price",
            "40000",
            "--deliver-in",
            "1h",
            "--jobs",
            "1",
            "--for",
            "5m",
        ],
    );
    let call = |max_price: &str, extra: &[&str]| {
        let mut args = vec![
            "market",
            "buy",
            "--key",
            "buyer.key",
            "--category",
            CATEGORY,
            "--area",
            "u4pruydq",
            "--max-price",
            max_price,
            "--deliver-within",
            "2h",
            "--answer-within",
            "3s",
        ];
        args.extend_from_slice(extra);
        cli.try_run(&args)
    };
    // A newcomer asking more than the policy gives one is not taken, and the buyer says so.
    let refused = call("60000", &["--newcomer-max", "20000"]).expect_err("no proposal fits");
    assert!(
        refused.contains("no_proposal") && refused.contains("--newcomer-max"),
        "{refused}"
    );
    // A call the provider cannot meet gets no proposal, and the provider says why.
    let silent = call("30000", &[]).expect_err("no proposal comes");
    assert!(silent.contains("no provider answered"), "{silent}");

    let bought = call("60000", &[]).expect("a proposal fits");
    let c = bought["call"].as_str().expect("call");
    let released = cli.run(&["market", "release", "--key", "buyer.key", c]);
    assert_eq!(
        (released["status"].as_str(), released["amount"].as_u64()),
        (Some("released"), Some(40_000))
    );
    cli.fails_with(
        &["market", "release", "--key", "buyer.key", c],
        3,
        "contract_ended",
    );

    let events = provider.finish();
    let passed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "passed_over")
        .collect();
    assert_eq!(passed.len(), 1, "{events:?}");
    assert_eq!(passed[0]["code"], "cannot_meet_call");
    assert_eq!(
        kinds(&events).iter().filter(|k| **k == "declined").count(),
        0,
        "{events:?}"
    );
    let rep = cli.run(&["market", "reputation", centre, "--category", CATEGORY]);
    assert_eq!(rep["released"]["value"].as_u64(), Some(40_000));
    assert_eq!(cli.balance(buyer), 1_100_000 - 40_000);
    let kept = cli.run(&["market", "contracts", "--state", "centre.market"]);
    let statuses: Vec<&str> = kept["contracts"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["status"].as_str().unwrap_or(""))
        .collect();
    assert!(statuses.contains(&"ended"), "{statuses:?}");
}
