//! Kills the node, the gateway and the sensor of an uplink relay lease with
//! SIGKILL at random moments, restarts each on its own state directory, and
//! checks what the relay promises: the lease ends, the gateway is paid for
//! no more than the buyer signed, every count once, and no money is lost.
//!
//! Four children of this test binary (marked by `ROLE_ENV`) play the parts,
//! each on the same directory every run: the node (its embedded broker and
//! its HTTP API on ports fixed for the test; it registers the relay class,
//! with a short lease, with the genesis issuer's key), a gateway selling
//! messages on that class, a sensor that buys [`UNITS`] and sends
//! [`MESSAGES`] (payload `reading <i>` as seq `i`), so that the gateway
//! must close the lease after its end, and a sink, the gateway's
//! destination, which is never killed. Children append what they did to
//! `progress.log` (whole lines, one `write(2)` each). The parent waits for
//! progress, sleeps a random few milliseconds, kills the node, the gateway
//! or the sensor (one seed in three spares the node) and starts it again,
//! [`ROUNDS`] times; then it lets the lease end and the gateway close it.
//!
//! Checked at the end, against the node's ledger:
//! - the lease is closed (a proved absence) and no lease of the buyer is
//!   open;
//! - the gateway gained exactly what the sensor lost (resting orders'
//!   deposits counted back), a whole number `paid` of the lease's unit
//!   price (the sensor logs it from the lease it reads with its proof);
//! - `paid` is at most the count the sensor last signed (its file), which
//!   is at most the messages it sent, and at most what the gateway
//!   relayed (its file); at least every count the gateway saw settled or
//!   closed, and exactly the closing count when it saw the close land;
//! - every payload the sink got is one the sensor sent; when the node was
//!   never killed (a killed embedded broker loses what it had queued for
//!   the sink), the sink got at least `paid` distinct payloads;
//! - the supply check holds.
//!
//! The seed is printed and can be set with `TING_RELAY_CRASH_SEED`;
//! `TING_RELAY_CRASH_KEEP` keeps the work directory.

mod common;

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_agent::relay::{
    Gateway as RelayGateway, GatewayConfig as RelayConfig, GatewayEvent, PricePolicy, Sensor,
    SensorConfig, SensorEvent,
};
use ting_agent::{Message, NodeClient, Verifier};
use ting_core::resource::LeaseId;
use ting_core::{AccountId, Amount, Keypair, Nonce, Timestamp, TxBody, TxKind};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use tokio::time::Instant;

const ROLE_ENV: &str = "TING_RELAY_CRASH_ROLE";
const WORK_ENV: &str = "TING_RELAY_CRASH_DIR";
const PORTS_ENV: &str = "TING_RELAY_CRASH_PORTS";
const SEED_ENV: &str = "TING_RELAY_CRASH_SEED";
const KEEP_ENV: &str = "TING_RELAY_CRASH_KEEP";
const TEST: &str = "the_node_gateway_and_sensor_killed_mid_lease_pay_each_count_once";

/// Kills, spread over the node, the gateway and the sensor.
const ROUNDS: usize = 10;
/// Messages the sensor buys.
const UNITS: u64 = 60;
/// Messages it sends: fewer, so the lease is never paid in full and ends
/// only when the gateway closes it after its end.
const MESSAGES: u64 = 50;
/// The class's lease, in ms: short, so the lease ends within the test.
const LEASE_MS: u64 = 15_000;
const CLASS: &str = "bandwidth.uplink.msg";
/// The gateway's ask price; the sensor bids up to `MAX_PRICE` (a lease
/// takes the price of the order that rested first).
const PRICE: u64 = 3;
const MAX_PRICE: u64 = 5;
/// How long the lease may take to end after the last kill.
const FINISH_DEADLINE: Duration = Duration::from_secs(60);
/// How long a child may take to show progress before the test fails.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(30);

fn gateway_key() -> Keypair {
    Keypair::from_seed([71; 32])
}
fn sensor_key() -> Keypair {
    Keypair::from_seed([72; 32])
}
fn sink_key() -> Keypair {
    Keypair::from_seed([73; 32])
}

fn funded() -> Vec<(AccountId, u64)> {
    [gateway_key(), sensor_key(), sink_key()]
        .iter()
        .map(|k| (k.account(), FUNDS))
        .collect()
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

fn payload(i: u64) -> Vec<u8> {
    format!("reading {i}").into_bytes()
}

// ------------------------------------------------------------------ children

/// The node: its embedded broker and HTTP API on the test's ports, forever;
/// registers the class (refused as a replay after a restart, which is fine).
fn node_child(work: &Path) {
    let (http, mqtt) = ports();
    runtime().block_on(async {
        let node = node(&work.join("node"), &funded());
        let shared = Arc::clone(node.shared());
        // A killed node's ports may take a moment to be free again.
        let end = Instant::now() + PROGRESS_DEADLINE;
        let _gateway: Gateway = loop {
            match Gateway::start(Arc::clone(&shared), broker_config(mqtt)).await {
                Ok(g) => break g,
                Err(e) if Instant::now() < end => {
                    eprintln!("broker port not free yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the broker starts: {e}"),
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
        tokio::spawn(ting_node::http::serve(
            listener,
            shared,
            std::future::pending(),
        ));
        register(&format!("http://127.0.0.1:{http}")).await;
        append(&work.join("progress.log"), "node up");
        std::future::pending::<()>().await;
    });
}

/// The genesis issuer (the sequencer) registers the class, once.
async fn register(url: &str) {
    let client = NodeClient::new(url).expect("a URL");
    let genesis = client.status().await.expect("the status").genesis_hash;
    let tx = TxBody {
        genesis,
        sender: sequencer().account(),
        nonce: Nonce(0),
        valid_until: Timestamp(u64::MAX),
        kind: TxKind::ClassRegister {
            name: CLASS.into(),
            unit: "msg".into(),
            lease_ms: LEASE_MS,
        },
    }
    .sign(&sequencer());
    let verifier = Verifier::new(genesis, vec![sequencer().account()]);
    let client = client.verifying(Arc::new(verifier));
    match tokio::time::timeout(PROGRESS_DEADLINE, client.submit(&tx)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("the class registration: {e} (registered before?)"),
        Err(_) => eprintln!("the class registration timed out"),
    }
}

fn broker_config(port: u16) -> GatewayConfig {
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

fn relay_config() -> RelayConfig {
    RelayConfig {
        class: CLASS.into(),
        price: PricePolicy {
            base: Amount::new(PRICE),
            per_lease_step: Amount::new(1),
        },
        units_per_ask: 100,
        ask_lifetime_ms: 600_000,
        credit: 10,
        settle_every: 20,
        destination: sink_key().account(),
        poll_ms: 200,
    }
}

fn sensor_config() -> SensorConfig {
    SensorConfig {
        class: CLASS.into(),
        max_price: Amount::new(MAX_PRICE),
        units: UNITS,
        budget: Amount::new(UNITS * MAX_PRICE),
        batch: 5,
        window: 10,
        bid_lifetime_ms: 600_000,
        poll_ms: 200,
        resend_ms: 1_000,
    }
}

/// The gateway: keeps its ask, relays, settles and closes, forever.
fn gateway_child(work: &Path) {
    runtime().block_on(async {
        let mut device = child_device(gateway_key(), &work.join("gateway")).await;
        let mut gateway = RelayGateway::open(&device, relay_config()).expect("the gateway opens");
        let log = work.join("progress.log");
        append(&log, "gateway up");
        loop {
            let mut events = Vec::new();
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(20), device.recv()).await
            {
                match gateway.on_message(&device, &msg).await {
                    Ok(e) => events.extend(e),
                    Err(e) => eprintln!("gateway: {e}"),
                }
            }
            match gateway.tick(&device).await {
                Ok(e) => events.extend(e),
                Err(e) => eprintln!("gateway tick: {e}"),
            }
            for e in events {
                let line = match e {
                    GatewayEvent::AskPlaced { order, .. } => format!("ask placed {order}"),
                    GatewayEvent::AskAdopted { order } => format!("ask adopted {order}"),
                    GatewayEvent::Leased { lease, .. } => format!("gateway leased {lease}"),
                    GatewayEvent::Relayed { seq, .. } => format!("relayed {seq}"),
                    GatewayEvent::Settled { count, .. } => format!("settled {count}"),
                    GatewayEvent::Closed { count, .. } => format!("closed {count}"),
                    GatewayEvent::LedgerRefused { code, .. } => format!("ledger refused {code}"),
                    _ => continue,
                };
                append(&log, &line);
            }
        }
    });
}

/// The sensor: bids once, then sends `reading <i>` as seq `i` for every
/// `i` below [`MESSAGES`], going on after a restart where it was.
fn sensor_child(work: &Path) {
    runtime().block_on(async {
        let mut device = child_device(sensor_key(), &work.join("sensor")).await;
        let mut sensor = Sensor::open(&device, sensor_config()).expect("the sensor opens");
        let log = work.join("progress.log");
        append(&log, "sensor up");
        while sensor.bid_placed().is_none() {
            match sensor.bid(&device, Amount::new(MAX_PRICE)).await {
                Ok(order) => append(&log, &format!("bid {order}")),
                Err(e) => {
                    eprintln!("sensor bid: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        for i in sensor.next_seq()..MESSAGES {
            sensor.push(payload(i)).expect("a small payload");
        }
        loop {
            let mut events = Vec::new();
            if let Ok(Some(msg)) =
                tokio::time::timeout(Duration::from_millis(20), device.recv()).await
            {
                match sensor.on_message(&device, &msg).await {
                    Ok(e) => events.extend(e),
                    Err(e) => eprintln!("sensor: {e}"),
                }
            }
            match sensor.tick(&device).await {
                Ok(e) => events.extend(e),
                Err(e) => eprintln!("sensor tick: {e}"),
            }
            for e in events {
                let line = match e {
                    SensorEvent::Leased { lease, .. } => {
                        let price = sensor.lease().map_or(0, |(_, l)| l.price.base_units());
                        append(&log, &format!("price {price}"));
                        format!("sensor leased {lease}")
                    }
                    SensorEvent::Receipt { seq } => format!("receipt {seq}"),
                    SensorEvent::Signed { count } => format!("signed {count}"),
                    SensorEvent::Resent { relays } => format!("resent {relays}"),
                    SensorEvent::LeaseEnded { lease } => format!("sensor lease ended {lease}"),
                    _ => continue,
                };
                append(&log, &line);
            }
        }
    });
}

/// The sink: the gateway's destination; logs every payload from it.
fn sink_child(work: &Path) {
    runtime().block_on(async {
        let mut device = child_device(sink_key(), &work.join("sink")).await;
        let log = work.join("progress.log");
        append(&log, "sink up");
        while let Some(msg) = device.recv().await {
            if let Message::Data { from, payload, .. } = msg {
                if from == gateway_key().account() {
                    append(&log, &format!("sunk {}", String::from_utf8_lossy(&payload)));
                }
            }
        }
    });
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
/// saying `want` came); fails after the deadline.
async fn wait_progress(work: &Path, seen: usize, want: Option<&str>) {
    let end = Instant::now() + PROGRESS_DEADLINE;
    loop {
        let lines = progress(work);
        let done = match want {
            Some(w) => lines[seen.min(lines.len())..].iter().any(|l| l == w),
            None => lines.len() > seen,
        };
        if done {
            return;
        }
        assert!(Instant::now() < end, "no progress; the log has {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A key's `key value` field from the sensor's state file.
fn sensor_field(work: &Path, key: &str) -> Option<String> {
    let text = fs::read_to_string(work.join("sensor/relay/sensor/state")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ').map(str::to_owned))
}

/// The lease the sensor keeps, once it found one.
fn lease_of(work: &Path) -> Option<LeaseId> {
    LeaseId::from_hex(&sensor_field(work, "lease")?)
}

/// Whether the sensor's lease was made and is no longer open (the node's
/// list of the buyer's leases, not proved: the check proves it).
async fn finished(work: &Path, client: &NodeClient) -> bool {
    if lease_of(work).is_none() {
        return false;
    }
    let account = sensor_key().account();
    matches!(client.lease_ids(Some(&account), None).await, Ok(ids) if ids.is_empty())
}

#[test]
fn the_node_gateway_and_sensor_killed_mid_lease_pay_each_count_once() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        let work = PathBuf::from(std::env::var_os(WORK_ENV).expect("a work dir"));
        match role.as_str() {
            "node" => node_child(&work),
            "gateway" => gateway_child(&work),
            "sensor" => sensor_child(&work),
            "sink" => sink_child(&work),
            other => panic!("no role {other}"),
        }
        return;
    }
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    println!("relay crash test seed {seed} (rerun with {SEED_ENV}={seed})");
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
    let http = ports.split(',').next().expect("the HTTP port");
    let client = NodeClient::new(&format!("http://127.0.0.1:{http}")).expect("a client");
    let mut runs = 0;
    let mut node = spawn("node", &work, &ports, runs);
    wait_progress(&work, 0, Some("node up")).await;
    let _sink = spawn("sink", &work, &ports, runs);
    let mut gateway = spawn("gateway", &work, &ports, runs);
    let mut sensor = spawn("sensor", &work, &ports, runs);
    wait_progress(&work, 0, Some("sink up")).await;
    wait_progress(&work, 0, Some("gateway up")).await;
    wait_progress(&work, 0, Some("sensor up")).await;
    let mut node_killed = false;
    let spare_node = rng.random_range(0..3) == 0;
    if spare_node {
        println!("the node is spared this run");
    }
    for round in 0..ROUNDS {
        if finished(&work, &client).await {
            println!("the lease ended after {round} kills");
            break;
        }
        let seen = progress(&work).len();
        wait_progress(&work, seen, None).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        runs += 1;
        let victim = rng.random_range(usize::from(spare_node)..3);
        let name = ["node", "gateway", "sensor"][victim];
        println!("round {round}: killing the {name}");
        node_killed |= victim == 0;
        let kid = match victim {
            0 => &mut node,
            1 => &mut gateway,
            _ => &mut sensor,
        };
        let _ = kid.0.kill();
        let _ = kid.0.wait();
        let seen = progress(&work).len();
        *kid = spawn(name, &work, &ports, runs);
        wait_progress(&work, seen, Some(&format!("{name} up"))).await;
    }
    let end = Instant::now() + FINISH_DEADLINE;
    while !finished(&work, &client).await {
        assert!(
            Instant::now() < end,
            "the lease did not end; the log ends {:?}; seed {seed}",
            progress(&work).iter().rev().take(20).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The close landed; give the gateway a moment to log it (it may not:
    // a gateway restarted after queueing the close never sees it land).
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && !progress(&work).iter().any(|l| l.starts_with("closed ")) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(sensor);
    drop(gateway);
    check(&work, &client, node_killed, seed).await;
    drop(node);
}

/// The deposits of `owner`'s resting orders.
async fn resting_deposits(client: &NodeClient, owner: &Keypair) -> u64 {
    let page = client
        .get(&format!(
            "/v1/orders?owner={}&limit=100",
            owner.account().to_hex()
        ))
        .await
        .expect("the orders");
    page["orders"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| o["deposit"].as_u64().expect("a deposit"))
        .sum()
}

fn counts_logged(lines: &[String], prefix: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix)?.parse().ok())
        .collect()
}

async fn check(work: &Path, client: &NodeClient, node_killed: bool, seed: u64) {
    let lease = lease_of(work).expect("the sensor kept its lease");
    let genesis = client.status().await.expect("the status").genesis_hash;
    let verifier = Verifier::new(genesis, vec![sequencer().account()]);
    let proving = client.clone().verifying(Arc::new(verifier));
    assert_eq!(
        proving.lease(&lease).await.expect("proved"),
        None,
        "the lease is closed; seed {seed}"
    );
    let balance = |who: Keypair| {
        let client = client.clone();
        async move {
            let b = client.balance(&who.account()).await.expect("a balance");
            b.base_units() + resting_deposits(&client, &who).await
        }
    };
    let gateway = balance(gateway_key()).await;
    let sensor = balance(sensor_key()).await;
    assert!(gateway >= FUNDS, "the gateway lost money; seed {seed}");
    let gained = gateway - FUNDS;
    assert_eq!(
        FUNDS - sensor,
        gained,
        "the sensor lost what the gateway gained, no more; seed {seed}"
    );
    let lines = progress(work);
    let prices: BTreeSet<u64> = counts_logged(&lines, "price ").into_iter().collect();
    assert_eq!(prices.len(), 1, "one lease price: {prices:?}; seed {seed}");
    let price = *prices.first().expect("one");
    assert!((PRICE..=MAX_PRICE).contains(&price), "{price}; seed {seed}");
    assert_eq!(gained % price, 0, "whole prices only; seed {seed}");
    let paid = gained / price;

    let signed: u64 = sensor_field(work, "signed")
        .and_then(|s| s.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    let gateway_file = work
        .join("gateway/relay/gateway")
        .join(format!("{}.lease", lease.to_hex()));
    let relayed: u64 = fs::read_to_string(&gateway_file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("relayed ")?.parse().ok())
        })
        .unwrap_or(0);
    assert!(
        paid <= signed && signed <= MESSAGES,
        "{paid} paid, {signed} signed of {MESSAGES}; seed {seed}"
    );
    assert!(
        paid <= relayed,
        "{paid} paid, {relayed} relayed; seed {seed}"
    );
    let settled = counts_logged(&lines, "settled ");
    let closed = counts_logged(&lines, "closed ");
    assert!(closed.len() <= 1, "closed once: {closed:?}; seed {seed}");
    if let Some(most) = settled.iter().chain(&closed).max() {
        assert!(paid >= *most, "{paid} paid, {most} settled; seed {seed}");
    }
    if let Some(c) = closed.first() {
        assert_eq!(paid, *c, "paid the closing count; seed {seed}");
    }
    let sent: BTreeSet<Vec<u8>> = (0..MESSAGES).map(payload).collect();
    let sunk: BTreeSet<Vec<u8>> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("sunk "))
        .map(|p| p.as_bytes().to_vec())
        .collect();
    assert!(
        sunk.is_subset(&sent),
        "the sink got only payloads sent; seed {seed}"
    );
    if !node_killed {
        assert!(
            sunk.len() as u64 >= paid,
            "{paid} paid, {} received; seed {seed}",
            sunk.len()
        );
    }
    let supply = client.get("/v1/supply").await.expect("the supply");
    assert_eq!(supply["conserved"], true, "{supply}; seed {seed}");
    println!(
        "{paid} paid at {price} of {signed} signed, {relayed} relayed, {} distinct received; settled {settled:?}, closed {closed:?}; node killed: {node_killed}",
        sunk.len()
    );
}
