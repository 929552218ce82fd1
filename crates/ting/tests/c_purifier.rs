//! The C library against a real node, as firmware would use it: the
//! purifier example (`crates/ting-c/examples/purifier.c`), compiled with the
//! system's C compiler, pays a vendor, opens a hash-chain channel, has the
//! vendor's side check the channel's state proof, and pays three ticks
//! through a dev node over plain HTTP, checking each receipt itself. The node then shows what it did: the vendor's balance and the
//! channel.

mod common;

use std::process::Command;

use common::c;
use common::cli::Cli;
use common::{free_addr, NodeProc};
use ting_core::{AccountId, Keypair};

#[test]
fn the_c_purifier_pays_a_vendor_and_per_litre_through_a_real_node() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let exe = c::compile("purifier", tmp.path());
    let addr = free_addr();
    let node = NodeProc::start(&tmp.path().join("node"), addr, &tmp.path().join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    let purifier = Keypair::from_seed([31; 32]);
    let vendor = Keypair::from_seed([32; 32]);
    let purifier_did = purifier.account().to_did();
    cli.run(&["faucet", "--to", &purifier_did, "--amount", "100"]);

    let status = node.get("/v1/status");
    let sequencer = status["sequencer"].as_str().expect("a sequencer");
    let sequencer = AccountId::parse(sequencer).expect("a did:key");
    let out = Command::new(&exe)
        .arg(addr.ip().to_string())
        .arg(addr.port().to_string())
        .arg(status["genesis_hash"].as_str().expect("a genesis hash"))
        .arg(sequencer.to_hex())
        .arg(status["network"].as_u64().expect("a network").to_string())
        .arg(hex::encode([31u8; 32]))
        .arg(hex::encode([32u8; 32]))
        .output()
        .expect("the purifier runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| c::line(&stdout, name);
    let paid_at: u64 = line("transfer_committed").parse().expect("a height");
    let opened_at: u64 = line("channel_opened").parse().expect("a height");
    assert!(paid_at >= 2 && opened_at > paid_at, "{stdout}");
    assert_eq!(line("litres_paid"), "3 3");
    // The vendor's side read the channel, proved, before it took a tick.
    let proved: Vec<u64> = line("channel_proved")
        .split(' ')
        .map(|n| n.parse().expect("numbers"))
        .collect();
    assert!(proved[0] >= opened_at, "{stdout}");
    assert_eq!(proved[1..], [50, 0], "{stdout}");

    // The node shows what the purifier did.
    let vendor_hex = vendor.account().to_hex();
    let account = node.get(&format!("/v1/accounts/{vendor_hex}"));
    assert_eq!(account["balance"], 5, "{account}");
    let channel = node.get(&format!("/v1/channels/{}", line("channel")));
    assert_eq!(
        channel["payee"],
        vendor.account().to_did().as_str(),
        "{channel}"
    );
    assert_eq!(channel["deposit"], 50, "{channel}");
}
