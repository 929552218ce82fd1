//! `ting orders ...` end to end, beyond the README's tour: a real dev node,
//! a gateway and a sensor trading on one book, and the errors a user meets,
//! each named by its flag or by the rule it breaks, before anything is sent
//! where the command can tell: a count not above the last, a count over the
//! lease, a signature that is not the buyer's, a buyer signing for a lease
//! it does not buy, a stranger closing a lease before its end and grace.

mod common;

use common::cli::Cli;
use common::{free_addr, NodeProc};

const CLASS: &str = "bandwidth.uplink.msg";

#[test]
fn bad_flags_are_refused_by_name_before_anything_is_sent() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    // No node listens here: every one of these stops before asking.
    let cli = Cli {
        node: format!("http://{}", free_addr()),
        dir: tmp.path().to_path_buf(),
    };
    cli.key("k");
    let some_lease = "ab".repeat(32);
    let place = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec!["orders", "place", "--key", "k.key", "--class", CLASS];
        args.extend_from_slice(extra);
        args
    };
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            place(&["--side", "buy", "--price", "1", "--quantity", "1"]),
            "bad_side",
            "--side",
        ),
        (
            place(&["--side", "bid", "--price", "0", "--quantity", "1"]),
            "invalid_order",
            "price",
        ),
        (
            place(&["--side", "bid", "--price", "1", "--quantity", "0"]),
            "invalid_order",
            "quantity",
        ),
        (
            place(&[
                "--side",
                "ask",
                "--price",
                "1",
                "--quantity",
                "1",
                "--expires-in",
                "31d",
            ]),
            "bad_duration",
            "--expires-in",
        ),
        (
            vec![
                "orders", "register", "--key", "k.key", "--class", "Bad", "--unit", "msg",
                "--lease", "1h",
            ],
            "invalid_class",
            "class name",
        ),
        (
            vec![
                "orders", "register", "--key", "k.key", "--class", CLASS, "--unit", "msg",
                "--lease", "forever",
            ],
            "bad_duration",
            "duration",
        ),
        (
            vec!["orders", "cancel", "--key", "k.key", "abc"],
            "bad_order_id",
            "order id",
        ),
        (
            vec![
                "orders",
                "settle",
                "--key",
                "k.key",
                "--lease",
                "zz",
                "--count",
                "1",
                "--signature",
                "00",
            ],
            "bad_lease_id",
            "lease id",
        ),
        (
            vec![
                "orders",
                "settle",
                "--key",
                "k.key",
                "--lease",
                &some_lease,
                "--count",
                "1",
                "--signature",
                "00",
            ],
            "bad_signature",
            "--signature",
        ),
        (
            vec!["orders", "book", CLASS, "--levels", "51"],
            "bad_levels",
            "--levels",
        ),
        (
            vec!["orders", "mine", "--owner", "nobody"],
            "bad_account",
            "--owner",
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
fn counts_and_closes_that_cannot_apply_are_refused_with_the_reason() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let data = tmp.path().join("node");
    let _node = NodeProc::start(&data, addr, &tmp.path().join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    cli.key("early");
    let f = cli.fails_with(
        &[
            "orders",
            "place",
            "--key",
            "early.key",
            "--class",
            CLASS,
            "--side",
            "bid",
            "--price",
            "1",
            "--quantity",
            "1",
        ],
        2,
        "unknown_class",
    );
    assert!(f.message.contains("ting orders register"), "{}", f.message);
    let issuer = data.join("issuer.key");
    let issuer = issuer.to_str().expect("a UTF-8 path");
    cli.run(&[
        "orders", "register", "--key", issuer, "--class", CLASS, "--unit", "msg", "--lease", "1h",
    ]);
    cli.fails_with(
        &[
            "orders", "register", "--key", issuer, "--class", CLASS, "--unit", "msg", "--lease",
            "1h",
        ],
        3,
        "class_exists",
    );
    let ids: Vec<String> = ["gw", "sensor", "other"]
        .iter()
        .map(|n| {
            let id = cli.key(n);
            cli.run(&["faucet", "--to", &id, "--amount", "200000"]);
            id
        })
        .collect();
    let (gw, sensor) = (&ids[0], &ids[1]);
    let ask = cli.run(&[
        "orders",
        "place",
        "--key",
        "gw.key",
        "--class",
        CLASS,
        "--side",
        "ask",
        "--price",
        "3",
        "--quantity",
        "50",
    ]);
    assert_eq!(ask["resting"], 50, "{ask}");
    let bid = cli.run(&[
        "orders",
        "place",
        "--key",
        "sensor.key",
        "--class",
        CLASS,
        "--side",
        "bid",
        "--price",
        "4",
        "--quantity",
        "20",
    ]);
    assert!(bid["resting"].is_null(), "the bid filled at once: {bid}");
    let leases = cli.run(&["orders", "leases", "--provider", gw]);
    let lease = leases["leases"][0]["lease"]
        .as_str()
        .expect("one lease")
        .to_owned();
    assert_eq!(leases["leases"][0]["price"], 3, "the resting ask's price");
    assert_eq!(leases["leases"][0]["buyer"], sensor.as_str());
    // Only the buyer signs, and never over the lease.
    cli.fails_with(
        &[
            "orders",
            "sign-count",
            "--key",
            "other.key",
            "--lease",
            &lease,
            "--count",
            "5",
        ],
        2,
        "not_the_buyer",
    );
    cli.fails_with(
        &[
            "orders",
            "sign-count",
            "--key",
            "sensor.key",
            "--lease",
            &lease,
            "--count",
            "21",
        ],
        2,
        "count_over_quantity",
    );
    let signed = cli.run(&[
        "orders",
        "sign-count",
        "--key",
        "sensor.key",
        "--lease",
        &lease,
        "--count",
        "8",
    ]);
    let sig = signed["signature"]
        .as_str()
        .expect("a signature")
        .to_owned();
    assert_eq!(signed["pays"], 24);
    // A signature for another count, or by someone else, is refused here.
    cli.fails_with(
        &[
            "orders",
            "settle",
            "--key",
            "gw.key",
            "--lease",
            &lease,
            "--count",
            "9",
            "--signature",
            &sig,
        ],
        2,
        "bad_count_signature",
    );
    let before = cli.balance(gw);
    cli.run(&[
        "orders",
        "settle",
        "--key",
        "gw.key",
        "--lease",
        &lease,
        "--count",
        "8",
        "--signature",
        &sig,
    ]);
    assert_eq!(cli.balance(gw), before + 24);
    cli.fails_with(
        &[
            "orders",
            "settle",
            "--key",
            "gw.key",
            "--lease",
            &lease,
            "--count",
            "8",
            "--signature",
            &sig,
        ],
        2,
        "stale_count",
    );
    // A stranger may not close before the lease's end and grace; the provider may.
    cli.fails_with(
        &["orders", "close", "--key", "other.key", "--lease", &lease],
        2,
        "too_early_to_close_lease",
    );
    let buyer_before = cli.balance(sensor);
    cli.run(&["orders", "close", "--key", "gw.key", "--lease", &lease]);
    assert_eq!(
        cli.balance(sensor),
        buyer_before + 12 * 3,
        "the undelivered 12 come back"
    );
    cli.fails_with(&["orders", "leases", &lease], 2, "unknown_lease");
    // The ask's rest is still on the book, and its owner takes it off.
    let order = ask["order"].as_str().expect("the ask's id");
    let book = cli.run(&["orders", "book", CLASS]);
    assert_eq!(book["asks"][0]["units"], 30, "{book}");
    cli.fails_with(
        &["orders", "cancel", "--key", "other.key", order],
        3,
        "not_order_owner",
    );
    cli.run(&["orders", "cancel", "--key", "gw.key", order]);
    let mine = cli.run(&["orders", "mine", "--owner", gw]);
    assert_eq!(mine["orders"].as_array().map(Vec::len), Some(0), "{mine}");
}
