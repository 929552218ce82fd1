//! A real node that applies a block wrongly, and the witness that catches it
//! (issue 20): the `ting` binary the tests run is a test build (ting-node's
//! `fault-injection` feature, a dev-dependency of this package) that adds
//! one base unit to a balance in the block named by
//! `TING_FAULT_CORRUPT_BALANCE_AT`, and signs that block with the state
//! root of the wrong state. A witness following the node replays the block,
//! finds another root, stops attesting at the height before it, and proves
//! it: evidence that the CLI and a device each check for themselves.
//!
//! The fault is compiled in with debug assertions only, so that no release
//! build carries it, not even one made by `cargo test --release`; there
//! these tests would have no fault to see, so they are left out.
#![cfg(debug_assertions)]

use super::common::{free_addr, poll, request, NodeProc};
use super::proc::WitnessProc;
use super::{mqtt, node_header, Cli};

/// The variable that arms the test build's fault (`ting-node`'s `pipeline/fault.rs`).
const FAULT_AT: &str = "TING_FAULT_CORRUPT_BALANCE_AT";
/// The block the node applies wrongly: the second of alice's transfers.
const CORRUPTED: u64 = 4;
/// What the faucet gives alice and the device.
const FUNDED: u64 = 100;
/// Exit status of a command given too little to go on.
const BAD_INPUT: i32 = 2;
/// Exit status of evidence that proves nothing.
const NOT_VALID: i32 = 5;

/// The node applies block 4 wrongly; the witness refuses it, attests the
/// three before it, and publishes self-contained evidence on the node's
/// broker. A device whose policy trusts the witness holds back its receipt
/// under the bad header, checks the evidence itself (re-running the block
/// on the proven records) and believes that sequencer no more; anyone
/// checks the same evidence offline with `ting verify-evidence`.
#[test]
fn a_witness_refuses_the_block_a_real_node_applied_wrongly_and_proves_it_to_devices() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let data = tmp.path().join("node");
    let log = tmp.path().join("node.log");
    let at = CORRUPTED.to_string();
    let node = NodeProc::start_with_env(&data, addr, &log, &[(FAULT_AT, &at)]);
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    let alice = cli.key("alice");
    let bob = cli.key("bob");
    let witness_id = cli.key("witness");
    let witness = WitnessProc::publishing(addr, &data, tmp.path(), &mqtt::broker_of(&node));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let device = runtime.block_on(mqtt::device(
        &tmp.path().join("device"),
        &format!("http://{addr}"),
        mqtt::trusting(&witness_id),
    ));

    // One transaction per block: each is committed before the next is sent.
    // Blocks 1 and 2 fund alice and the device; 3 and 4 are alice's.
    let funded = cli.run(&["faucet", "--to", &alice, "--amount", &FUNDED.to_string()]);
    assert_eq!(funded["height"], 1, "{funded}");
    let device_id = device.account().to_did();
    let funded = cli.run(&[
        "faucet",
        "--to",
        &device_id,
        "--amount",
        &FUNDED.to_string(),
    ]);
    assert_eq!(funded["height"], 2, "{funded}");
    for height in 3..=CORRUPTED {
        let sent = cli.run(&[
            "transfer",
            "--key",
            "alice.key",
            "--to",
            &bob,
            "--amount",
            "1",
        ]);
        assert_eq!(sent["height"], height, "{sent}");
    }

    // The node applied block 4 wrongly, and goes on from the wrong state:
    // alice holds one base unit more than her transfers leave her, and the
    // supply no longer adds up.
    assert_eq!(cli.balance(&alice), FUNDED - 2 + 1);
    assert_eq!(node.get("/v1/supply")["conserved"], false);
    assert!(
        node.stderr().contains("FAULT INJECTED: block 4"),
        "the node says loudly that it corrupted block 4"
    );

    let status = poll("the witness to refuse the corrupted block", || {
        let s = witness.status();
        (s["attesting"] == false).then_some(s)
    });
    assert_eq!(status["fault"]["code"], "wrong_state_root", "{status}");
    assert_eq!(status["attested_height"], CORRUPTED - 1, "{status}");
    for h in 1..CORRUPTED {
        assert!(
            witness.attestation(h).covers(&node_header(addr, h)),
            "height {h}"
        );
    }
    let none = request(
        witness.addr,
        "GET",
        &format!("/v1/attestations/{CORRUPTED}"),
        None,
    )
    .expect("answers");
    assert_eq!(none.status, 404, "{}", none.body);

    // Self-contained evidence: the block, the header before it and proofs
    // of the accounts it touched, which anyone re-runs offline.
    assert_eq!(status["evidence"], 1, "{status}");
    let listed = witness.get("/v1/evidence");
    let found = &listed["evidence"][0];
    assert_eq!(found["kind"], "wrong_state_root", "{listed}");
    assert_eq!(found["height"], CORRUPTED, "{listed}");
    let hex = found["hex"].as_str().expect("hex");
    std::fs::write(tmp.path().join("evidence.hex"), hex).expect("written");
    let genesis = data.join("genesis.json");
    let genesis = genesis.to_str().expect("utf-8");
    let checked = cli.run(&["verify-evidence", "evidence.hex", "--genesis", genesis]);
    assert_eq!(checked["valid"], true, "{checked}");
    assert_eq!(checked["kind"], "wrong_state_root", "{checked}");
    let claimed = node_header(addr, CORRUPTED).state_root.to_hex();
    assert_eq!(
        checked["detail"]["claimed_root"],
        claimed.as_str(),
        "{checked}"
    );
    assert_ne!(
        checked["detail"]["computed_root"],
        claimed.as_str(),
        "{checked}"
    );
    // Evidence edited to frame the node (a record that is not the proven
    // one, here the last byte of the last account's record) proves nothing.
    let mut framed = hex::decode(hex).expect("hex");
    let last = framed.len() - 1;
    framed[last] ^= 1;
    std::fs::write(tmp.path().join("framed.hex"), hex::encode(framed)).expect("written");
    let refused = cli.exec(
        true,
        &["verify-evidence", "framed.hex", "--genesis", genesis],
    );
    assert_eq!(
        refused.status.code(),
        Some(NOT_VALID),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stdout.contains("record_mismatch"),
        "{}",
        refused.stdout
    );
    let bare = cli.exec(true, &["verify-evidence", "evidence.hex"]);
    assert_eq!(
        bare.status.code(),
        Some(BAD_INPUT),
        "{}{}",
        bare.stdout,
        bare.stderr
    );
    assert!(bare.stdout.contains("needs_genesis"), "{}", bare.stdout);

    // The device heard the evidence on the broker, checked it itself, and
    // believes none of the node's headers any more.
    let distrusted = poll("the device to hear the evidence", || {
        let d = device.distrusted();
        (!d.is_empty()).then_some(d)
    });
    let key = ting_agent::files::read_key(&data.join("node.key")).expect("the dev node's key");
    assert_eq!(distrusted, vec![key.account()]);
    // Nothing under the node's headers is taken any more, not even the
    // device's own balance.
    let refused = runtime.block_on(device.balance()).expect_err("refused");
    assert!(
        format!("{refused:?}").contains("distrusted_sequencer"),
        "{refused:?}"
    );
    runtime.block_on(device.shutdown());

    // The node itself noticed nothing and keeps serving.
    let served = request(addr, "GET", "/v1/status", None).expect("the node answers");
    assert_eq!(served.status, 200, "{}", served.body);
}

#[test]
fn a_test_build_told_to_corrupt_a_height_that_is_not_one_does_not_start() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let data = tmp.path().join("node");
    let log = tmp.path().join("node.log");
    let envs = [(FAULT_AT, "soon")];
    let Err((status, stderr)) = NodeProc::try_start_with_env(&data, free_addr(), &log, &envs)
    else {
        panic!("the node started with {FAULT_AT}=soon");
    };
    assert!(!status.success());
    assert!(
        stderr.contains("TING_FAULT_CORRUPT_BALANCE_AT=soon is not a block height"),
        "{stderr}"
    );
}
