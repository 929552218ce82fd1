//! Witnesses as users run them: `ting node --witness --follow URL` against
//! a real node (every block attested, a restart catches up), and against a
//! dishonest sequencer played by the test over HTTP (a block rewritten at a
//! height the witness attested, a state root that does not follow, a header
//! shown to a device that differs from the one attested): the witness
//! stops attesting, and its evidence checks offline with `ting
//! verify-evidence`. A later epoch's block at a height is not evidence.

#[path = "../common/mod.rs"]
mod common;
mod corrupt;
mod fake;
mod mqtt;
mod proc;

use common::cli::Cli;
use common::{free_addr, poll, request, NodeProc};
use proc::WitnessProc;
use serde_json::json;
use ting_core::witness::WitnessPolicy;
use ting_core::BlockHeader;

const NOT_VALID: i32 = 5;

/// A real dev node, and the CLI pointed at it.
struct Real {
    tmp: tempfile::TempDir,
    addr: std::net::SocketAddr,
    data: std::path::PathBuf,
    node: NodeProc,
    cli: Cli,
}

impl Real {
    fn new() -> Real {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let addr = free_addr();
        let data = tmp.path().join("node");
        let node = NodeProc::start(&data, addr, &tmp.path().join("node.log"));
        let cli = Cli {
            node: format!("http://{addr}"),
            dir: tmp.path().to_path_buf(),
        };
        Real {
            tmp,
            addr,
            data,
            node,
            cli,
        }
    }
}

/// The test's dishonest sequencer serving three honest blocks, a witness
/// key, and where the witness keeps its data.
struct Faked {
    tmp: tempfile::TempDir,
    chain: fake::Chain,
    server: fake::Sequencer,
    cli: Cli,
    key: std::path::PathBuf,
    wdata: std::path::PathBuf,
}

impl Faked {
    fn new() -> Faked {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let chain = fake::Chain::new(tmp.path());
        let server = fake::Sequencer::start(chain.blocks(3));
        let cli = Cli {
            node: format!("http://{}", free_addr()),
            dir: tmp.path().to_path_buf(),
        };
        cli.key("witness");
        let key = tmp.path().join("witness.key");
        let wdata = tmp.path().join("witness");
        Faked {
            tmp,
            chain,
            server,
            cli,
            key,
            wdata,
        }
    }
}

#[test]
fn a_witness_attests_every_block_of_a_real_node_and_catches_up_after_a_restart() {
    let Real {
        tmp,
        addr,
        data,
        node: _node,
        cli,
    } = Real::new();
    let alice = cli.key("alice");
    let witness_id = cli.key("witness");
    for _ in 0..3 {
        cli.run(&["faucet", "--to", &alice, "--amount", "5"]);
    }
    let genesis = data.join("genesis.json");
    let key = tmp.path().join("witness.key");
    let wdata = tmp.path().join("witness");
    let mut witness = WitnessProc::start(&addr.to_string(), &genesis, &key, &wdata);
    let height = node_height(addr);
    let status = witness.wait_attested(height);
    assert_eq!(status["witness"], witness_id.as_str());
    assert_eq!(status["attesting"], true, "{status}");

    // Each attestation is the witness's signature over the node's header.
    let policy = WitnessPolicy::new(
        vec![ting_core::AccountId::parse(&witness_id).expect("an id")],
        1,
    )
    .expect("a policy");
    for h in 1..=height {
        let header = node_header(addr, h);
        let a = witness.attestation(h);
        assert_eq!(a.verify(), Ok(()));
        assert!(a.covers(&header), "height {h}");
        assert_eq!(policy.check(&header, &[a]), Ok(1));
    }
    let missing = request(
        witness.addr,
        "GET",
        &format!("/v1/attestations/{}", height + 50),
        None,
    )
    .expect("answers");
    assert_eq!(missing.status, 404, "{}", missing.body);
    assert_eq!(missing.body["error"]["code"], "not_attested");

    // The node's raw range refuses what is not a range, by name.
    for (query, code) in [
        ("from=0", "invalid_field"),
        ("from=x", "invalid_query"),
        ("from=1&limit=0", "page_too_large"),
    ] {
        let r = request(addr, "GET", &format!("/v1/raw/blocks?{query}"), None).expect("answers");
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.body["error"]["code"], code, "{query}: {}", r.body);
    }

    // Killed, it misses blocks; restarted, it replays, compares and catches up.
    witness.kill9();
    for _ in 0..3 {
        cli.run(&["faucet", "--to", &alice, "--amount", "5"]);
    }
    let later = node_height(addr);
    assert!(later > height);
    let mut witness = WitnessProc::start(&addr.to_string(), &genesis, &key, &wdata);
    let status = witness.wait_attested(later);
    assert_eq!(status["attesting"], true, "{status}");
    assert_eq!(status["evidence"], 0, "{status}");
    let a = witness.attestation(later);
    assert!(a.covers(&node_header(addr, later)));

    // A receipt is taken with the witness's attestation of its header, and
    // refused when the witnesses trusted have not attested it.
    let tx = cli.run(&["faucet", "--to", &alice, "--amount", "5"]);
    let hash = tx["tx_hash"].as_str().expect("a hash").to_owned();
    cli.run(&["receipt", &hash, "--out", "r.json"]);
    let genesis_arg = genesis.to_str().expect("utf-8");
    let url = format!("http://{}", witness.addr);
    let ok = cli.run(&[
        "verify-receipt",
        "r.json",
        "--genesis",
        genesis_arg,
        "--witness",
        &witness_id,
        "--witness-url",
        &url,
        "--witness-wait",
        "30s",
    ]);
    assert_eq!(ok["witnesses"]["attested_by"], json!([witness_id]), "{ok}");
    let stranger = cli.key("stranger");
    let ran = cli.exec(
        true,
        &[
            "verify-receipt",
            "r.json",
            "--genesis",
            genesis_arg,
            "--witness",
            &stranger,
            "--witness-url",
            &url,
        ],
    );
    assert_eq!(
        ran.status.code(),
        Some(NOT_VALID),
        "{}{}",
        ran.stdout,
        ran.stderr
    );
    assert!(ran.stdout.contains("not_attested"), "{}", ran.stdout);

    // The node's own header, handed in by a device, is consistent.
    let shown = witness.post_header(&node_header(addr, 2));
    assert_eq!(shown, json!({ "height": 2, "consistent": true }));
    witness.terminate();
}

#[test]
fn a_device_on_the_broker_receives_the_attestations_the_witness_publishes() {
    let Real {
        tmp,
        addr,
        data,
        node,
        cli,
    } = Real::new();
    let alice = cli.key("alice");
    cli.key("witness");
    let broker = node.get("/v1/status")["mqtt"]["broker"]
        .as_str()
        .expect("the node's broker")
        .to_owned();
    let genesis = data.join("genesis.json");
    let genesis_hash = common::genesis_of(&node.get("/v1/status"));
    let device = mqtt::Follower::connect(&broker, &genesis_hash);
    let witness = WitnessProc::start_with(
        &addr.to_string(),
        &genesis,
        &tmp.path().join("witness.key"),
        &tmp.path().join("witness"),
        &["--mqtt-broker", &broker],
    );
    cli.run(&["faucet", "--to", &alice, "--amount", "5"]);
    let height = node_height(addr);
    witness.wait_attested(height);
    let header = node_header(addr, height);
    let got = device.wait_for_attestation_of(&header);
    assert_eq!(got.verify(), Ok(()));
    assert_eq!(witness.status()["mqtt"]["dropped_batches"], 0);
}

/// A device whose owner trusts one witness holds its receipt back until
/// that witness attested the header; a device trusting no witness takes it
/// on the sequencer's word as before.
#[test]
fn a_device_with_a_witness_policy_confirms_only_once_its_witness_attested() {
    let Real {
        tmp,
        addr,
        data,
        node,
        cli,
    } = Real::new();
    let witness_id = cli.key("witness");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let device = runtime.block_on(mqtt::device(
        &tmp.path().join("device"),
        &format!("http://{addr}"),
        mqtt::trusting(&witness_id),
    ));
    let plain = runtime.block_on(mqtt::device(
        &tmp.path().join("plain"),
        &format!("http://{addr}"),
        WitnessPolicy::default(),
    ));
    for d in [&device, &plain] {
        let id = d.account().to_did();
        cli.run(&["faucet", "--to", &id, "--amount", "100"]);
    }

    // No witness runs yet: the plain device confirms. The other takes
    // nothing under an unattested header: not the proof of its balance, not
    // the proof of its own nonce its transfer needs, not a receipt.
    let taken = runtime.block_on(mqtt::transfer(&plain, device.account()));
    runtime
        .block_on(async { taken.wait().await })
        .expect("confirmed on the sequencer's word");
    let device = std::sync::Arc::new(device);
    let (d, to) = (std::sync::Arc::clone(&device), plain.account());
    let held = runtime.spawn(async move { mqtt::transfer(&d, to).await.wait().await });
    let d = std::sync::Arc::clone(&device);
    let balance = runtime.spawn(async move { d.balance().await });
    runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_secs(2)).await });
    assert!(!held.is_finished(), "the transfer waits for the witness");
    assert!(!balance.is_finished(), "the balance waits for the witness");

    // The witness comes, attests, publishes: the answers go through.
    let _witness = WitnessProc::publishing(addr, &data, tmp.path(), &mqtt::broker_of(&node));
    let balance = runtime
        .block_on(async { tokio::time::timeout(common::DEADLINE, balance).await })
        .expect("the balance before the deadline")
        .expect("the task ran")
        .expect("a balance under an attested header");
    assert!(balance.base_units() >= 99, "{balance:?}");
    let confirmed = runtime
        .block_on(async { tokio::time::timeout(common::DEADLINE, held).await })
        .expect("confirmed before the deadline")
        .expect("the task ran")
        .expect("confirmed");
    assert!(confirmed.height.0 >= 1);
    let device = std::sync::Arc::into_inner(device).expect("the tasks are done");
    runtime.block_on(async {
        device.shutdown().await;
        plain.shutdown().await;
    });
}

/// The node's own key (a dev node keeps it in its data directory) signs a
/// second block at an attested height, as a thief of the key would; a
/// device handed that header passes it to the witness, whose evidence on
/// the broker makes every device that trusts the witness stop believing
/// that sequencer.
#[test]
fn evidence_on_the_broker_makes_a_device_stop_believing_the_sequencer() {
    let Real {
        tmp,
        addr,
        data,
        node,
        cli,
    } = Real::new();
    let witness_id = cli.key("witness");
    let witness = WitnessProc::publishing(addr, &data, tmp.path(), &mqtt::broker_of(&node));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let device = runtime.block_on(mqtt::device(
        &tmp.path().join("device"),
        &format!("http://{addr}"),
        mqtt::trusting(&witness_id),
    ));
    cli.run(&[
        "faucet",
        "--to",
        &device.account().to_did(),
        "--amount",
        "100",
    ]);
    let height = node_height(addr);
    witness.wait_attested(height);

    let key = ting_agent::files::read_key(&data.join("node.key")).expect("the dev node's key");
    let mut forked = node_header(addr, height);
    forked.timestamp = ting_core::Timestamp(forked.timestamp.0 + 1);
    forked.sign(&key);
    let answer = witness.post_header(&forked);
    assert!(answer["evidence"].is_string(), "{answer}");
    let distrusted = poll("the device to hear the evidence", || {
        let d = device.distrusted();
        (!d.is_empty()).then_some(d)
    });
    assert_eq!(distrusted, vec![key.account()]);

    // Nothing under that sequencer's headers is believed any more: not even
    // the proof of the device's own nonce, so no transfer is queued on it.
    let refused = runtime.block_on(device.queue(ting_core::TxKind::Transfer {
        to: key.account(),
        amount: ting_core::Amount::new(1),
        memo: Vec::new(),
    }));
    let said = format!("{:?}", refused.expect_err("refused"));
    assert!(said.contains("distrusted_sequencer"), "{said}");
    runtime.block_on(device.shutdown());
}

#[test]
fn a_sequencer_that_signs_two_blocks_at_a_height_is_caught_and_the_evidence_checks_offline() {
    let Faked {
        tmp,
        chain,
        server,
        cli,
        key,
        wdata,
    } = Faked::new();
    let mut witness = WitnessProc::start(&server.url(), &chain.genesis_path, &key, &wdata);
    witness.wait_attested(3);

    // A failover: the next leader signs height 2 again, in a later epoch.
    // Not evidence, and the witness goes on.
    let failover = chain.other_block(2, 1);
    let answer = witness.post_header(&failover.header);
    assert_eq!(answer["consistent"], false, "{answer}");
    assert_eq!(answer["evidence"], serde_json::Value::Null, "{answer}");
    assert_eq!(witness.status()["attesting"], true);

    // A device is shown another block at height 2 in the same epoch.
    let forked = chain.other_block(2, 0);
    let answer = witness.post_header(&forked.header);
    let hex = answer["evidence"].as_str().expect("evidence").to_owned();
    let status = witness.status();
    assert_eq!(status["attesting"], false, "{status}");
    assert_eq!(status["fault"]["code"], "equivocation", "{status}");
    assert_eq!(status["evidence"], 1);
    let listed = witness.get("/v1/evidence");
    assert_eq!(listed["evidence"][0]["hex"], hex.as_str());

    // Anyone checks it offline, against the network's genesis.
    let file = tmp.path().join("evidence.hex");
    std::fs::write(&file, &hex).expect("written");
    let genesis = chain.genesis_path.to_str().expect("utf-8");
    let ok = cli.run(&["verify-evidence", "evidence.hex", "--genesis", genesis]);
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["height"], 2);
    assert_eq!(ok["sequencer"], chain.sequencer_did().as_str());
    // Tampered with, it proves nothing (exit 5, not valid).
    let mut bytes = hex::decode(&hex).expect("hex");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&file, hex::encode(bytes)).expect("written");
    let ran = cli.exec(
        true,
        &["verify-evidence", "evidence.hex", "--genesis", genesis],
    );
    assert_eq!(
        ran.status.code(),
        Some(NOT_VALID),
        "{}{}",
        ran.stdout,
        ran.stderr
    );
    assert!(ran.stdout.contains("bad_signature"), "{}", ran.stdout);

    // Restarted, the witness still holds the evidence and attests no more.
    witness.terminate();
    let witness = WitnessProc::start(&server.url(), &chain.genesis_path, &key, &wdata);
    let status = witness.status();
    assert_eq!(status["evidence"], 1, "{status}");
    assert!(
        std::fs::read_dir(&wdata)
            .expect("the data directory")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("evidence-")),
        "the evidence is kept in the data directory"
    );
}

#[test]
fn a_rewritten_history_is_caught_on_replay_and_a_wrong_state_root_is_never_attested() {
    let Faked {
        tmp,
        chain,
        server,
        cli,
        key,
        wdata,
    } = Faked::new();
    let mut witness = WitnessProc::start(&server.url(), &chain.genesis_path, &key, &wdata);
    witness.wait_attested(3);
    witness.kill9();

    // While it is down, the sequencer rewrites height 2 (and so 3).
    server.serve(chain.rewritten(3, 2));
    let witness = WitnessProc::start(&server.url(), &chain.genesis_path, &key, &wdata);
    let status = poll("the witness to find the rewrite", || {
        let s = witness.status();
        (s["attesting"] == false).then_some(s)
    });
    assert_eq!(status["fault"]["code"], "equivocation", "{status}");
    assert_eq!(status["evidence"], 1, "{status}");
    assert_eq!(status["attested_height"], 3);

    // Another witness, on a chain whose block 3 claims a state root its
    // transactions do not lead to: blocks 1 and 2 attested, 3 never.
    let bad = fake::Sequencer::start(chain.with_wrong_root(3));
    let other = tmp.path().join("other");
    let witness = WitnessProc::start(&bad.url(), &chain.genesis_path, &key, &other);
    let status = poll("the witness to refuse block 3", || {
        let s = witness.status();
        (s["attesting"] == false).then_some(s)
    });
    assert_eq!(status["fault"]["code"], "wrong_state_root", "{status}");
    assert_eq!(status["attested_height"], 2, "{status}");
    let none = request(witness.addr, "GET", "/v1/attestations/3", None).expect("answers");
    assert_eq!(none.status, 404);
    // An empty block must leave the state as it was: its evidence needs no
    // proof, and checks offline.
    assert_eq!(status["evidence"], 1, "{status}");
    let listed = witness.get("/v1/evidence");
    assert_eq!(
        listed["evidence"][0]["kind"], "wrong_state_root",
        "{listed}"
    );
    let hex = listed["evidence"][0]["hex"].as_str().expect("hex");
    std::fs::write(tmp.path().join("root.hex"), hex).expect("written");
    let genesis = chain.genesis_path.to_str().expect("utf-8");
    let checked = cli.run(&["verify-evidence", "root.hex", "--genesis", genesis]);
    assert_eq!(checked["kind"], "wrong_state_root", "{checked}");
    assert_eq!(checked["height"], 3, "{checked}");
}

fn node_height(addr: std::net::SocketAddr) -> u64 {
    let r = request(addr, "GET", "/v1/status", None).expect("status");
    r.body["durable_height"].as_u64().expect("a height")
}

fn node_header(addr: std::net::SocketAddr, height: u64) -> BlockHeader {
    let r = request(addr, "GET", &format!("/v1/blocks/{height}"), None).expect("a block");
    assert_eq!(r.status, 200, "{}", r.body);
    let hex = r.body["header"]["hex"].as_str().expect("header hex");
    BlockHeader::from_bytes(&hex::decode(hex).expect("hex")).expect("a header")
}

/// A witness that cannot start says why, names what to change, and exits
/// with its kind: its API's port taken, its broker unreachable, TLS flags
/// for a plain broker, no genesis.
#[test]
fn a_witness_that_cannot_start_says_why() {
    let Faked {
        tmp,
        chain,
        server,
        key,
        ..
    } = Faked::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken = taken.local_addr().expect("its address").to_string();
    let genesis = chain.genesis_path.to_str().expect("utf-8").to_owned();
    let key = key.to_str().expect("utf-8").to_owned();
    let data = tmp.path().join("w").to_str().expect("utf-8").to_owned();
    let url = server.url();
    let base = [
        "node",
        "--witness",
        "--follow",
        url.as_str(),
        "--genesis",
        genesis.as_str(),
        "--key",
        key.as_str(),
        "--data-dir",
        data.as_str(),
    ];
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ting"))
            .args(base)
            .args(extra)
            .env("TING_LOG", "warn")
            .output()
            .expect("run ting node --witness")
    };
    let out = run(&["--http", &taken]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already in use"),
        "{out:?}"
    );

    let free = free_addr().to_string();
    let nowhere = format!("mqtts://{}", free_addr());
    let out = run(&["--http", &free, "--mqtt-broker", &nowhere]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&nowhere),
        "names the broker it could not reach: {said}"
    );

    let plain = format!("mqtt://{}", free_addr());
    let out = run(&[
        "--http",
        &free,
        "--mqtt-broker",
        &plain,
        "--mqtt-tls-pin",
        &"ab".repeat(32),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mqtts://"),
        "{out:?}"
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ting"))
        .args([
            "node",
            "--witness",
            "--follow",
            url.as_str(),
            "--key",
            key.as_str(),
            "--data-dir",
            data.as_str(),
            "--http",
            &free,
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--genesis"),
        "{out:?}"
    );
}
