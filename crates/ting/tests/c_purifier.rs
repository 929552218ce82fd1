//! The C library against a real node, as firmware would use it: docs/c.md's
//! five-minute example, run as written (bash, from the checkout) against a
//! dev node. It builds libting with cargo, compiles the purifier example
//! (`crates/ting-c/examples/purifier.c`) with the system's C compiler, funds
//! its account through the CLI and runs it: it reads its own account and
//! the network from the node (checking the account's state proof), pays a
//! vendor, opens a hash-chain channel, has the vendor's side check the
//! channel's state proof, and pays three ticks, over plain HTTP, checking
//! each receipt itself. The node then shows what it did.

mod common;

use std::path::Path;
use std::process::Command;

use common::c;
use common::{free_addr, NodeProc};
use ting_core::Keypair;

/// The body of docs/c.md's one block opened with ```` ```sh c-tour ````.
fn tour(doc: &str) -> String {
    let mut blocks = doc.split("```sh c-tour\n").skip(1);
    let block = blocks.next().expect("docs/c.md has a ```sh c-tour block");
    assert!(blocks.next().is_none(), "docs/c.md has one c-tour block");
    block
        .split("```")
        .next()
        .expect("the block ends")
        .to_owned()
}

#[test]
fn the_c_five_minute_example_runs_as_written_against_a_real_node() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let node = NodeProc::start(&tmp.path().join("node"), addr, &tmp.path().join("node.log"));
    let checkout = c::source().join("../..");
    let doc = std::fs::read_to_string(checkout.join("docs/c.md")).expect("docs/c.md");
    let ting = Path::new(env!("CARGO_BIN_EXE_ting"));
    let path = format!(
        "{}:{}",
        ting.parent().expect("a directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &tour(&doc)])
        .current_dir(&checkout)
        .env("PATH", path)
        .env("TING_NODE", format!("http://{addr}"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| c::line(&stdout, name);
    assert_eq!(line("balance"), "100 nonce 0", "{stdout}");
    let paid_at: u64 = line("transfer_committed").parse().expect("a height");
    let opened_at: u64 = line("channel_opened").parse().expect("a height");
    assert!(paid_at >= 2 && opened_at > paid_at, "{stdout}");
    // The vendor's side read the channel, proved, before it took a tick.
    let proved: Vec<u64> = line("channel_proved")
        .split(' ')
        .map(|n| n.parse().expect("numbers"))
        .collect();
    assert!(proved[0] >= opened_at, "{stdout}");
    assert_eq!(proved[1..], [50, 0], "{stdout}");
    assert_eq!(line("litres_paid"), "3 3");

    // The node shows what the purifier did: the doc's seeds are 0x1f.. and 0x20...
    let vendor = Keypair::from_seed([0x20; 32]).account();
    let account = node.get(&format!("/v1/accounts/{}", vendor.to_hex()));
    assert_eq!(account["balance"], 5, "{account}");
    let channel = node.get(&format!("/v1/channels/{}", line("channel")));
    assert_eq!(channel["payee"], vendor.to_did().as_str(), "{channel}");
    assert_eq!(channel["deposit"], 50, "{channel}");
    let purifier = Keypair::from_seed([0x1f; 32]).account();
    let account = node.get(&format!("/v1/accounts/{}", purifier.to_hex()));
    assert_eq!(account["balance"], 45, "{account}");
}
