//! `ting channel ...` end to end: a real node process, two parties with their
//! own state directories, and every step a user takes: open, pay off the
//! ledger, accept, claim, top up with a queued chain, pay across it, close,
//! a voucher channel, and the errors a user meets on bad input.

mod common;

use std::path::Path;

use common::cli::Cli;
use common::{free_addr, NodeProc};

fn state(dir: &Path, who: &str) -> String {
    dir.join(who).to_str().expect("utf-8").to_owned()
}

#[test]
fn a_hash_chain_channel_from_open_to_close() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let _node = NodeProc::start(&tmp.path().join("node"), addr, &tmp.path().join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    let payer = cli.key("payer");
    let payee = cli.key("payee");
    cli.run(&["faucet", "--to", &payer, "--amount", "10000"]);
    cli.run(&["faucet", "--to", &payee, "--amount", "1"]);
    let (p, q) = (
        state(tmp.path(), "payer-state"),
        state(tmp.path(), "payee-state"),
    );

    let opened = cli.run(&[
        "channel",
        "open",
        "--key",
        "payer.key",
        "--payee",
        &payee,
        "--deposit",
        "1000",
        "--price",
        "2",
        "--ticks",
        "400",
        "--expires-in",
        "1h",
        "--state",
        &p,
    ]);
    let id = opened["channel"].as_str().expect("a channel id").to_owned();
    assert_eq!(cli.balance(&payer), 9_000);

    let first = cli.run(&[
        "channel",
        "pay",
        "--channel",
        &id,
        "--units",
        "5",
        "--state",
        &p,
    ]);
    let first_hex = first["payment_hex"].as_str().expect("hex").to_owned();
    let got = cli.run(&["channel", "accept", &first_hex, "--state", &q]);
    assert_eq!(
        (got["newly_paid"].as_u64(), got["total"].as_u64()),
        (Some(10), Some(10))
    );
    let second = cli.run(&[
        "channel",
        "pay",
        "--channel",
        &id,
        "--units",
        "3",
        "--state",
        &p,
    ]);
    let got = cli.run(&[
        "channel",
        "accept",
        second["payment_hex"].as_str().expect("hex"),
        "--state",
        &q,
    ]);
    assert_eq!(got["total"].as_u64(), Some(16));
    cli.fails(
        &["channel", "accept", &first_hex, "--state", &q],
        "not more than one already received",
    );

    let claimed = cli.run(&[
        "channel",
        "claim",
        "--channel",
        &id,
        "--key",
        "payee.key",
        "--state",
        &q,
    ]);
    assert_eq!(claimed["claimed"].as_u64(), Some(16));
    let again = cli.run(&[
        "channel",
        "claim",
        "--channel",
        &id,
        "--key",
        "payee.key",
        "--state",
        &q,
    ]);
    assert_eq!(
        again["claims"].as_u64(),
        Some(0),
        "nothing is claimed twice"
    );
    assert_eq!(cli.balance(&payee), 1 + 16);

    let shown = cli.run(&["channel", "show", &id, "--state", &q]);
    assert_eq!(shown["ledger"]["claimed"].as_u64(), Some(16));
    assert_eq!(shown["ledger"]["status"].as_str(), Some("open"));
    assert_eq!(shown["local"]["payee"]["claimed"].as_u64(), Some(16));
    let listed = cli.run(&["channel", "list", &payer, "--role", "payer"]);
    let ids: Vec<&str> = listed["channels"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![id.as_str()]);

    // Queue 50 more ticks, then pay across the end of the first chain. The
    // payer's file is put back as it was before the top-up, as if the machine
    // had crashed between the commit and its local record: a bare `top-up`
    // brings it up to the ledger again.
    let file = Path::new(&p).join("payer").join(format!("{id}.chan"));
    let before = std::fs::read(&file).expect("the payer's file");
    cli.run(&[
        "channel",
        "top-up",
        "--channel",
        &id,
        "--key",
        "payer.key",
        "--amount",
        "100",
        "--extend-ticks",
        "50",
        "--state",
        &p,
    ]);
    std::fs::write(&file, before).expect("put the old file back");
    let synced = cli.run(&[
        "channel",
        "top-up",
        "--channel",
        &id,
        "--key",
        "payer.key",
        "--state",
        &p,
    ]);
    assert_eq!(synced["submitted"].as_bool(), Some(false));
    let crossing = cli.run(&[
        "channel",
        "pay",
        "--channel",
        &id,
        "--units",
        "400",
        "--state",
        &p,
    ]);
    let got = cli.run(&[
        "channel",
        "accept",
        crossing["payment_hex"].as_str().expect("hex"),
        "--state",
        &q,
    ]);
    assert_eq!(
        (got["newly_paid"].as_u64(), got["total"].as_u64()),
        (Some(800), Some(816))
    );

    cli.run(&[
        "channel",
        "close",
        "--channel",
        &id,
        "--key",
        "payee.key",
        "--state",
        &q,
    ]);
    assert_eq!(cli.balance(&payee), 1 + 816);
    assert_eq!(
        cli.balance(&payer),
        10_000 - 816,
        "the rest came back to the payer"
    );
    let closed = cli.run(&["channel", "show", &id]);
    assert_eq!(closed["ledger"]["status"].as_str(), Some("closed_by_payee"));
    // The payer cannot know the payee closed, but the payee's machine refuses
    // anything more for the channel.
    let late = cli.run(&[
        "channel",
        "pay",
        "--channel",
        &id,
        "--units",
        "1",
        "--state",
        &p,
    ]);
    let late_hex = late["payment_hex"].as_str().expect("hex");
    cli.fails(
        &["channel", "accept", late_hex, "--state", &q],
        "closed_by_payee",
    );
}

#[test]
fn a_voucher_channel_and_bad_input() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let _node = NodeProc::start(&tmp.path().join("node"), addr, &tmp.path().join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    let payer = cli.key("payer");
    let payee = cli.key("payee");
    cli.run(&["faucet", "--to", &payer, "--amount", "500"]);
    cli.run(&["faucet", "--to", &payee, "--amount", "1"]);
    let (p, q) = (state(tmp.path(), "p"), state(tmp.path(), "q"));
    let opened = cli.run(&[
        "channel",
        "open",
        "--key",
        "payer.key",
        "--payee",
        &payee,
        "--deposit",
        "200",
        "--mode",
        "voucher",
        "--state",
        &p,
    ]);
    let id = opened["channel"].as_str().expect("an id").to_owned();
    let paid = cli.run(&[
        "channel",
        "pay",
        "--channel",
        &id,
        "--amount",
        "30",
        "--key",
        "payer.key",
        "--state",
        &p,
    ]);
    let got = cli.run(&[
        "channel",
        "accept",
        paid["payment_hex"].as_str().expect("hex"),
        "--state",
        &q,
    ]);
    assert_eq!(got["total"].as_u64(), Some(30));
    cli.fails(
        &[
            "channel",
            "pay",
            "--channel",
            &id,
            "--amount",
            "171",
            "--key",
            "payer.key",
            "--state",
            &p,
        ],
        "deposit",
    );
    cli.run(&[
        "channel",
        "close",
        "--channel",
        &id,
        "--key",
        "payee.key",
        "--state",
        &q,
    ]);
    assert_eq!(cli.balance(&payee), 31);
    assert_eq!(cli.balance(&payer), 470);

    cli.fails(&["channel", "accept", "zz", "--state", &q], "not hex");
    cli.fails(
        &["channel", "accept", "0102", "--state", &q],
        "does not decode",
    );
    cli.fails(&["channel", "show", "1234"], "not a channel id");
    let unknown = "ab".repeat(32);
    cli.fails(&["channel", "show", &unknown], "unknown_channel");
    cli.fails(
        &[
            "channel",
            "pay",
            "--channel",
            &unknown,
            "--units",
            "1",
            "--state",
            &p,
        ],
        "no payer state",
    );
    cli.fails(
        &[
            "channel",
            "open",
            "--key",
            "payer.key",
            "--payee",
            &payee,
            "--deposit",
            "10",
            "--expires-in",
            "3w",
        ],
        "unit",
    );
    // A refused open leaves no payer file behind.
    cli.fails(
        &[
            "channel",
            "open",
            "--key",
            "payer.key",
            "--payee",
            &payer,
            "--deposit",
            "10",
            "--state",
            &p,
        ],
        "self_transfer",
    );
    let files = std::fs::read_dir(Path::new(&p).join("payer"))
        .expect("payer dir")
        .count();
    assert_eq!(files, 1, "only the voucher channel's file");
    // An open refused on today's balance could still apply until its
    // valid_until: its file (the chain's seed) is kept, and the error says so.
    let failed = cli.failure(&[
        "channel",
        "open",
        "--key",
        "payer.key",
        "--payee",
        &payee,
        "--deposit",
        "1000000000000",
        "--mode",
        "voucher",
        "--state",
        &p,
    ]);
    assert_eq!(failed.code, "insufficient_funds", "{failed:?}");
    assert!(
        failed.message.contains("is kept") && failed.message.contains("could still apply"),
        "{failed:?}"
    );
    let files = std::fs::read_dir(Path::new(&p).join("payer"))
        .expect("payer dir")
        .count();
    assert_eq!(files, 2, "the refused open's file stays");
}
