//! Kills the node, the buyer and the provider of a service market with
//! SIGKILL, at random moments of their contracts, restarts each on its own
//! state directory, and checks what the market promises: every hold ends
//! released or refunded, once, and no money is lost.
//!
//! Three children of this test binary (marked by `ROLE_ENV`) play the parts,
//! each on the same directory every run: the node (its embedded broker and
//! its HTTP API on ports fixed for the test), a provider that quotes one
//! price, and a buyer that keeps up to two contracts open until it has made
//! [`CONTRACTS`]: it confirms, with evidence its own key signs, every
//! accepted contract whose hold id is even, and lets the others run past
//! their deadline, to be refunded. Children append what they did to
//! `progress.log` (whole lines, one `write(2)` each). The parent waits for
//! progress, sleeps a random few milliseconds, kills a random child and
//! starts it again, [`ROUNDS`] times; then it lets the market finish.
//!
//! Checked at the end, against the node's ledger (the node was itself
//! killed along the way):
//! - every contract the buyer kept is over (released, refunded, ended, or
//!   without a proposal), and the ledger holds no open hold of the buyer;
//! - the buyer's and the provider's balances add up to what they started
//!   with: deposits came back and nothing vanished;
//! - the provider gained a whole number of prices, at least one per
//!   contract released and at most one per hold not refunded: no hold paid
//!   twice, none both paid and refunded;
//! - the supply check holds.
//!
//! The seed is printed and can be set with `TING_MARKET_CRASH_SEED`;
//! `TING_MARKET_CRASH_KEEP` keeps the work directory.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_agent::clock::now;
use ting_agent::market::{
    Buyer, BuyerEvent, Need, Policy, Provider, ProviderConfig, ProviderEvent, Quote,
};
use ting_agent::NodeClient;
use ting_core::market::cfp::{Call, Counter};
use ting_core::market::{Condition, Evidence, FieldRule, ReleaseRule, Template, Value};
use ting_core::{AccountId, Amount, Keypair};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use tokio::time::Instant;

const ROLE_ENV: &str = "TING_MARKET_CRASH_ROLE";
const WORK_ENV: &str = "TING_MARKET_CRASH_DIR";
const PORTS_ENV: &str = "TING_MARKET_CRASH_PORTS";
const SEED_ENV: &str = "TING_MARKET_CRASH_SEED";
const KEEP_ENV: &str = "TING_MARKET_CRASH_KEEP";
const TEST: &str = "the_node_buyer_and_provider_killed_mid_contract_end_every_hold_once";

/// Kills, spread over the three children.
const ROUNDS: usize = 12;
/// Contracts the buyer makes in all.
const CONTRACTS: usize = 12;
/// Contracts it keeps open at once.
const OPEN_AT_ONCE: usize = 2;
const PRICE: u64 = 25_000;
/// How long the market may take to finish after the last kill.
const FINISH_DEADLINE: Duration = Duration::from_secs(120);
/// How long a child may wait for progress before the test fails.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(60);
const CATEGORY: &str = "water.cartridge.replace";

fn provider_key() -> Keypair {
    Keypair::from_seed([51; 32])
}

fn funded() -> Vec<(AccountId, u64)> {
    vec![(provider_key().account(), FUNDS)]
}

fn template() -> Template {
    Template {
        rules: vec![FieldRule {
            name: "event".into(),
            condition: Condition::Equals(b"cartridge_installed".to_vec()),
        }],
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Appends a whole line in one `write(2)` on an `O_APPEND` file.
fn append(path: &Path, line: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the progress log");
    file.write_all(format!("{line}\n").as_bytes())
        .expect("a whole line");
}

fn progress(work: &Path) -> Vec<String> {
    fs::read_to_string(work.join("progress.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn ports() -> (u16, u16) {
    let text = std::env::var(PORTS_ENV).expect("the ports");
    let (http, mqtt) = text.split_once(',').expect("two ports");
    (http.parse().expect("a port"), mqtt.parse().expect("a port"))
}

// ------------------------------------------------------------------ children

/// The node: its embedded broker and HTTP API on the test's ports, forever.
fn node_child(work: &Path) {
    let (http, mqtt) = ports();
    runtime().block_on(async {
        let node = node(&work.join("node"), &funded());
        let shared = std::sync::Arc::clone(node.shared());
        // A killed node's ports may take a moment to be free again.
        let end = Instant::now() + PROGRESS_DEADLINE;
        let _gateway: Gateway = loop {
            match Gateway::start(std::sync::Arc::clone(&shared), gateway_config(mqtt)).await {
                Ok(g) => break g,
                Err(e) if Instant::now() < end => {
                    eprintln!("broker port not free yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the gateway starts: {e}"),
            }
        };
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", http)).await {
                Ok(l) => break l,
                Err(e) if Instant::now() < end => {
                    eprintln!("HTTP port not free yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the HTTP port: {e}"),
            }
        };
        append(&work.join("progress.log"), "node up");
        ting_node::http::serve(listener, shared, std::future::pending())
            .await
            .expect("the HTTP API serves");
    });
}

fn gateway_config(port: u16) -> GatewayConfig {
    GatewayConfig {
        mode: MqttMode::Embedded {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        },
        key: sequencer(),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    }
}

async fn child_device(key: Keypair, dir: &Path) -> ting_agent::Device {
    let (http, mqtt) = ports();
    let url = format!("http://127.0.0.1:{http}");
    let end = Instant::now() + PROGRESS_DEADLINE;
    loop {
        if NodeClient::new(&url).expect("a url").status().await.is_ok() {
            break;
        }
        assert!(Instant::now() < end, "the node never came up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    mqtt_device(key, dir, &url, mqtt).await
}

/// The provider: one price, delivered in two seconds.
fn provider_child(work: &Path) {
    runtime().block_on(async {
        let device = child_device(provider_key(), &work.join("provider")).await;
        let pricing = Box::new(|_: &Call, _: Option<&Counter>| {
            Some(Quote {
                price: Amount::new(PRICE),
                deliver_in_ms: 2_000,
                warranty_ms: 0,
                note: String::new(),
            })
        });
        let config = ProviderConfig {
            categories: vec!["water".into()],
            area: String::new(),
            offer: None,
        };
        let mut provider = Provider::open(&device, config, pricing).expect("the provider opens");
        let log = work.join("progress.log");
        append(&log, "provider up");
        let mut device = device;
        loop {
            let mut events = Vec::new();
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(20), device.recv()).await
            {
                match provider.on_message(&device, &msg).await {
                    Ok(e) => events.extend(e),
                    Err(e) => eprintln!("provider: {e}"),
                }
            }
            match provider.tick(&device).await {
                Ok(e) => events.extend(e),
                Err(e) => eprintln!("provider tick: {e}"),
            }
            for e in events {
                match e {
                    ProviderEvent::Job { hold, .. } => append(&log, &format!("job {hold}")),
                    ProviderEvent::Paid { call, .. } => append(&log, &format!("paid {call}")),
                    _ => {}
                }
            }
        }
    });
}

/// The buyer: contracts until it has made [`CONTRACTS`].
fn buyer_child(work: &Path) {
    runtime().block_on(async {
        let mut device = child_device(device_key(), &work.join("buyer")).await;
        let mut buyer = Buyer::open(&device, Policy::default()).expect("the buyer opens");
        let log = work.join("progress.log");
        append(&log, "buyer up");
        loop {
            let open = buyer.contracts().filter(|c| is_open(&c.status)).count();
            let made = buyer.contracts().count();
            if made < CONTRACTS && open < OPEN_AT_ONCE {
                match buyer.call(&device, need()).await {
                    Ok(call) => append(&log, &format!("called {call}")),
                    Err(e) => eprintln!("buyer call: {e}"),
                }
            }
            let mut events = Vec::new();
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(20), device.recv()).await
            {
                match buyer.on_message(&msg) {
                    Ok(e) => events.extend(e),
                    Err(e) => eprintln!("buyer: {e}"),
                }
            }
            match buyer.tick(&device).await {
                Ok(e) => events.extend(e),
                Err(e) => eprintln!("buyer tick: {e}"),
            }
            // Confirm every accepted contract whose hold id is even.
            let to_confirm: Vec<_> = buyer
                .contracts()
                .filter(|c| c.status == "accepted" && c.hold.is_some_and(|h| h.0 .0[0] % 2 == 0))
                .map(|c| (c.id(), c.hold.expect("filtered")))
                .collect();
            for (call, hold) in to_confirm {
                let evidence = Evidence {
                    hold,
                    observed_at: now(),
                    fields: vec![("event".into(), Value::Text(b"cartridge_installed".to_vec()))],
                }
                .sign(device.key(), &device.genesis_hash());
                match buyer.confirm(&device, &call, evidence).await {
                    Ok(e) => events.extend(e),
                    Err(e) => eprintln!("buyer confirm: {e}"),
                }
            }
            for e in events {
                let line = match e {
                    BuyerEvent::Chose { call, hold, .. } => format!("chose {call} {hold}"),
                    BuyerEvent::Released { call } => format!("released {call}"),
                    BuyerEvent::Refunded { call } => format!("refunded {call}"),
                    BuyerEvent::Ended { call } => format!("ended {call}"),
                    BuyerEvent::NoProposal { call } => format!("no proposal {call}"),
                    _ => continue,
                };
                append(&log, &line);
            }
        }
    });
}

fn need() -> Need {
    Need {
        category: CATEGORY.into(),
        area: "u4pruydq".into(),
        spec: "a cartridge".into(),
        max_price: Amount::new(PRICE),
        answer_within_ms: 400,
        deliver_within_ms: 3_000,
        grace_ms: 0,
        rounds: 0,
        rule: ReleaseRule::Evidence {
            device: device_key().account(),
            template: template(),
        },
        arbiter: None,
    }
}

fn is_open(status: &str) -> bool {
    matches!(status, "calling" | "holding" | "accepted" | "releasing")
}

// -------------------------------------------------------------------- parent

struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(role: &str, work: &Path, ports: &str, run: usize) -> Kid {
    let err = fs::File::create(work.join(format!("{role}-{run}.err"))).expect("stderr file");
    let mut cmd = Command::new(std::env::current_exe().expect("this test binary"));
    cmd.args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(WORK_ENV, work)
        .env(PORTS_ENV, ports)
        .stdout(Stdio::null())
        .stderr(err);
    Kid(cmd.spawn().expect("the child starts"))
}

/// Waits until the progress log has grown past `seen` lines (or a line
/// saying `want` came), or the market finished; fails after the deadline.
async fn wait_progress(work: &Path, seen: usize, want: Option<&str>) {
    let end = Instant::now() + PROGRESS_DEADLINE;
    loop {
        let lines = progress(work);
        let done = match want {
            Some(w) => lines[seen.min(lines.len())..].iter().any(|l| l == w),
            None => lines.len() > seen,
        };
        if done || (want.is_none() && finished(work)) {
            return;
        }
        assert!(Instant::now() < end, "no progress; the log has {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the buyer made all its contracts and each is over.
fn finished(work: &Path) -> bool {
    let statuses = contract_statuses(work);
    statuses.len() >= CONTRACTS && statuses.iter().all(|(_, s)| !is_open(s))
}

/// The buyer's contracts and their statuses, read from its files.
fn contract_statuses(work: &Path) -> Vec<(String, String)> {
    contracts(work)
        .into_iter()
        .map(|(call, status, _)| (call, status))
        .collect()
}

/// The buyer's contracts: call, status and hold (if one was made).
fn contracts(work: &Path) -> Vec<(String, String, Option<String>)> {
    let dir = work.join("buyer").join("market").join("buyer");
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().len() == 64)
        .map(|e| {
            let text = fs::read_to_string(e.path()).unwrap_or_default();
            let field = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(str::to_owned)
            };
            let status = field("status ").unwrap_or_default();
            (
                e.file_name().to_string_lossy().into_owned(),
                status,
                field("hold "),
            )
        })
        .collect()
}

#[test]
fn the_node_buyer_and_provider_killed_mid_contract_end_every_hold_once() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        let work = PathBuf::from(std::env::var_os(WORK_ENV).expect("a work dir"));
        match role.as_str() {
            "node" => node_child(&work),
            "provider" => provider_child(&work),
            "buyer" => buyer_child(&work),
            other => panic!("no role {other}"),
        }
        return;
    }
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    println!("market crash test seed {seed} (rerun with {SEED_ENV}={seed})");
    runtime().block_on(parent(seed));
}

async fn parent(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let work = tmp.path().to_path_buf();
    if std::env::var_os(KEEP_ENV).is_some() {
        println!("keeping {}", tmp.keep().display());
    }
    let ports = format!("{},{}", free_port(), free_port());
    let mut runs = 0;
    let mut node = spawn("node", &work, &ports, runs);
    wait_progress(&work, 0, Some("node up")).await;
    let mut provider = spawn("provider", &work, &ports, runs);
    let mut buyer = spawn("buyer", &work, &ports, runs);
    wait_progress(&work, 0, Some("buyer up")).await;
    for round in 0..ROUNDS {
        if finished(&work) {
            println!("the market finished after {round} kills");
            break;
        }
        let seen = progress(&work).len();
        wait_progress(&work, seen, None).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        runs += 1;
        let victim = rng.random_range(0..3);
        let name = ["node", "provider", "buyer"][victim];
        println!("round {round}: killing the {name}");
        let kid = match victim {
            0 => &mut node,
            1 => &mut provider,
            _ => &mut buyer,
        };
        let _ = kid.0.kill();
        let _ = kid.0.wait();
        let seen = progress(&work).len();
        *kid = spawn(name, &work, &ports, runs);
        wait_progress(&work, seen, Some(&format!("{name} up"))).await;
    }
    let end = Instant::now() + FINISH_DEADLINE;
    while !finished(&work) {
        assert!(
            Instant::now() < end,
            "the market did not finish; contracts {:?}; seed {seed}",
            contract_statuses(&work)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(buyer);
    drop(provider);
    check(&work, &ports, seed).await;
    drop(node);
}

async fn check(work: &Path, ports: &str, seed: u64) {
    let http = ports.split(',').next().expect("the HTTP port");
    let client = NodeClient::new(&format!("http://127.0.0.1:{http}")).expect("a client");
    let statuses = contract_statuses(work);
    let count = |s: &str| statuses.iter().filter(|(_, st)| st == s).count() as u64;
    let (released, refunded) = (count("released"), count("refunded"));
    // A contract whose hold the ledger refused forgets it, so these are the
    // holds that lived, at most.
    let holds_made = contracts(work).iter().filter(|c| c.2.is_some()).count() as u64;
    let open = client
        .get(&format!(
            "/v1/holds?payer={}",
            device_key().account().to_hex()
        ))
        .await
        .expect("the buyer's holds");
    assert_eq!(
        open["holds"].as_array().map(Vec::len),
        Some(0),
        "no hold is left open; seed {seed}"
    );
    let buyer = client
        .balance(&device_key().account())
        .await
        .expect("a balance")
        .base_units();
    let provider = client
        .balance(&provider_key().account())
        .await
        .expect("a balance")
        .base_units();
    assert_eq!(buyer + provider, 2 * FUNDS, "no money lost; seed {seed}");
    let gained = provider - FUNDS;
    assert_eq!(gained % PRICE, 0, "whole prices only; seed {seed}");
    let paid = gained / PRICE;
    assert!(
        paid >= released,
        "{paid} paid, {released} released; seed {seed}"
    );
    assert!(
        paid + refunded <= holds_made,
        "{paid} paid and {refunded} refunded of {holds_made} holds; seed {seed}"
    );
    let supply = client.get("/v1/supply").await.expect("the supply");
    assert_eq!(supply["conserved"], true, "{supply}");
    println!(
        "{} contracts: {released} released, {refunded} refunded, {paid} paid in all",
        statuses.len()
    );
}
