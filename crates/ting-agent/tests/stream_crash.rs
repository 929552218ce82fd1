//! Kills a stream's seller, and then a stream's buyer, with SIGKILL in the
//! middle of an epoch, restarts it on the same state directory, and checks
//! what the stream SDK promises: a seller that crashes neither sells a key
//! twice nor loses a point it logged; a buyer that crashes keeps every point
//! it opened and every key it paid for, and pays for nothing twice.
//!
//! Both tests run a real node in this process with a real broker (Mosquitto
//! for the seller's test, the node's embedded broker for the buyer's), do
//! the owner's registration of the seller, the stream's opening and the
//! buyer's channel here, then re-run this test binary as a child (marked by
//! `CHILD_ENV`) that is one side of the market, on its own state directory
//! (the same one every run), while this process is the other side. The
//! child appends what it did to `progress.log` (whole lines in one
//! `write(2)`, after the SDK call returned), so the parent knows how far it
//! got. Each run, the parent waits for a random amount of progress or for a
//! random event (a key request reaching the seller, a new epoch reaching the
//! buyer), sleeps a random few milliseconds, SIGKILLs the child and starts
//! it again. After [`ROUNDS`] kills, a last run is let catch up, then killed
//! too. The seed is printed and can be set with `TING_STREAM_CRASH_SEED`;
//! `TING_STREAM_CRASH_KEEP` keeps the work directory. A child stops on its
//! own after [`CHILD_LIFETIME_MAX`] or [`CHILD_MESSAGES_MAX`] messages.
//!
//! **The seller killed** (`a_seller_killed_mid_epoch_...`): the child opens
//! `Seller` (chunks of [`CHUNK_POINTS`], epochs of [`EPOCH_POINTS`] points)
//! and pushes one reading every [`PUSH_EVERY`], of value `(run + 1) · 10⁶ +
//! i` for its `i`-th push, and answers key requests; this process is the
//! buyer, buying every epoch and calling `Buyer::tick`. Checked against the
//! model:
//! - each restart opens at the point number after the last one the killed
//!   run logged, or the one after that (a push under way at the kill);
//! - the buyer opened every point number from 0 to the seller's last once,
//!   with no gap (the seller publishes again on open the chunks a killed
//!   process may not have sent, and the points it had not yet put in one),
//!   the readings in the order they were pushed, each in its epoch;
//! - of each run, every push that returned was opened, and past it at most
//!   the one under way at the kill;
//! - the sales log holds each (buyer, epoch) once, every epoch was sold and
//!   the buyer holds its key, though kills fell between a key request's
//!   arrival and its answer; the buyer spent the price times its keys and
//!   paid exactly that; the seller's payee file holds at least the sales.
//!
//! **The buyer killed** (`a_buyer_killed_mid_epoch_...`): the child opens
//! `Buyer` (which answers the points bought in earlier runs) and feeds it
//! chunks, grants and refusals; this process is the seller, pushing reading
//! `i` with value `5000 + i` every [`PUSH_EVERY`]. At every restart: the
//! points `Buyer::open` answers hold every point an earlier run reported
//! opened, each with its model value; the keys held were all sold, and what
//! it spent is the price times its keys; its credit (paid into the channel
//! less spent) is never negative and at most one price per epoch it saw
//! and holds no key for (a request a kill interrupted). At the end (the
//! last run catches up with the seller's last point): the sales log holds
//! each epoch once, the buyer holds exactly the epochs sold and paid
//! exactly what it spent, the seller's payee file holds that, and after the
//! seller claims the channel on the ledger its balance grew by exactly that,
//! the channel's locked deposit by that less, and the buyer's balance is its
//! funds less the deposit.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::net::Net;
use common::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_agent::clock::now;
use ting_agent::stream::{Bought, Buyer, BuyerSetup, BuyerStats, Seller, SellerSetup};
use ting_agent::{ChannelOffer, Device, DurablePayee, DurablePayer, Message};
use ting_core::channel::payee::ClaimPolicy;
use ting_core::consent::filter::{Reading, Value};
use ting_core::consent::{BuyerRule, ConsentRecord, FieldRule, FieldUse, SignedConsent};
use ting_core::stream::chunk::Chunk;
use ting_core::stream::point::PointValue;
use ting_core::stream::sales::Sale;
use ting_core::stream::{EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, ChannelId, Hash32, Keypair, Timestamp, TxKind};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

const CHILD_ENV: &str = "TING_STREAM_CRASH_DIR";
const ROUND_ENV: &str = "TING_STREAM_CRASH_ROUND";
const LAST_ENV: &str = "TING_STREAM_CRASH_LAST";
const SEED_ENV: &str = "TING_STREAM_CRASH_SEED";
const KEEP_ENV: &str = "TING_STREAM_CRASH_KEEP";
const SELLER_TEST: &str = "a_seller_killed_mid_epoch_sells_no_key_twice_and_loses_no_point";
const BUYER_TEST: &str = "a_buyer_killed_mid_epoch_keeps_what_it_paid_for";

/// Kills per test; a last run follows.
const ROUNDS: usize = 8;
const PRICE: u64 = 10;
const EPOCH_POINTS: u32 = 12;
const CHUNK_POINTS: usize = 4;
/// One reading this often: an epoch lasts about 100 ms.
const PUSH_EVERY: Duration = Duration::from_millis(8);
/// How often a buyer's app calls `Buyer::tick`.
const TICK_EVERY: Duration = Duration::from_millis(500);
/// Readings the seller's last run pushes before it stops.
const LAST_READINGS: u64 = 2 * EPOCH_POINTS as u64 + 5;
/// Value of the buyer test's reading `i` (and of point `i`).
const VALUE_BASE: i64 = 5_000;
/// Ticks of the buyer's channel (one base unit each).
const CHANNEL_TICKS: u32 = 4_000;
/// What a child does at most, so that one whose parent died stops on its own.
const CHILD_READINGS_MAX: u64 = 3_000;
const CHILD_MESSAGES_MAX: u64 = 50_000;
const CHILD_LIFETIME_MAX: Duration = Duration::from_secs(60);
/// Longest the parent waits for a child's progress.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(20);

fn owner() -> Keypair {
    Keypair::from_seed([30; 32])
}
fn buyer_key() -> Keypair {
    Keypair::from_seed([31; 32])
}

// ---------------------------------------------------------------- the market

fn consent(genesis: Hash32, issued_at: u64, expires_at: u64) -> SignedConsent {
    ConsentRecord {
        genesis,
        owner: owner().account(),
        device: device_key().account(),
        issued_at: Timestamp(issued_at),
        expires_at: Timestamp(expires_at),
        min_price_per_epoch: Amount::new(PRICE),
        purpose: "crash testing".into(),
        fields: vec![FieldRule {
            name: "level".into(),
            use_: FieldUse::Raw { round_to: 1 },
        }],
        buyers: vec![BuyerRule::Account(buyer_key().account())],
    }
    .sign(&owner())
    .expect("signed")
}

fn terms(consent: &SignedConsent) -> StreamTerms {
    StreamTerms {
        fields: vec![FieldSpec {
            name: "level".into(),
            unit: "mm".into(),
            kind: FieldKind::Number { decimals: 0 },
        }],
        price_per_epoch: Amount::new(PRICE),
        epoch: EpochRule::Points(EPOCH_POINTS),
        area: "u0m".into(),
        consent: consent.hash(),
    }
}

/// What a child needs to join the market, written by the parent to `conf`.
#[derive(Clone, Debug)]
struct Conf {
    url: String,
    port: u16,
    stream: StreamId,
    channel: ChannelId,
    issued_at: u64,
    expires_at: u64,
}

impl Conf {
    fn write(&self, work: &Path) {
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n",
            self.url,
            self.port,
            self.stream.to_hex(),
            self.channel.0.to_hex(),
            self.issued_at,
            self.expires_at
        );
        fs::write(work.join("conf"), text).expect("write conf");
    }

    fn read(work: &Path) -> Conf {
        let text = fs::read_to_string(work.join("conf")).expect("read conf");
        let l: Vec<&str> = text.lines().collect();
        Conf {
            url: l[0].to_owned(),
            port: l[1].parse().expect("port"),
            stream: StreamId::from_hex(l[2]).expect("stream"),
            channel: ChannelId(Hash32::from_hex(l[3]).expect("channel")),
            issued_at: l[4].parse().expect("issued_at"),
            expires_at: l[5].parse().expect("expires_at"),
        }
    }

    fn seller_setup(&self, genesis: Hash32) -> SellerSetup {
        let consent = consent(genesis, self.issued_at, self.expires_at);
        SellerSetup {
            stream: self.stream,
            terms: terms(&consent),
            consent,
            chunk_points: CHUNK_POINTS,
        }
    }

    fn buyer_setup(&self) -> BuyerSetup {
        BuyerSetup {
            stream: self.stream,
            channel: self.channel,
            budget: Amount::new(1_000_000),
            attestation: None,
        }
    }
}

async fn start(embedded: bool) -> Net {
    let funded: Vec<(AccountId, u64)> = [owner(), buyer_key()]
        .iter()
        .map(|k| (k.account(), FUNDS))
        .collect();
    Net::start(embedded, &funded).await
}

async fn device(key: Keypair, dir: &Path, url: &str, port: u16) -> Device {
    let d = mqtt_device(key, dir, url, port).await;
    d.wait_for_node(DEADLINE).await.expect("the node is seen");
    d
}

/// The owner registers the seller's device; the seller opens the stream;
/// the buyer publishes its messaging key and opens a channel to the
/// seller, which takes it up. Answers the seller's and the buyer's devices
/// and what a child needs.
async fn market(net: &Net, seller_dir: &Path, buyer_dir: &Path) -> (Device, Device, Conf) {
    let genesis = net.node.shared().state.read().unwrap().genesis_hash();
    let at = now().0;
    let (issued_at, expires_at) = (at - 60_000, at + 3_600_000);
    let consent = consent(genesis, issued_at, expires_at);
    let owner_dir = tempfile::tempdir().expect("tempdir");
    let owner_device = device(owner(), owner_dir.path(), &net.url, net.port).await;
    let seller = device_key();
    let metadata = b"level sensor".to_vec();
    let message =
        device_consent_message(&genesis, &owner().account(), &seller.account(), &metadata);
    let register = TxKind::RegisterDevice {
        device: seller.account(),
        device_signature: seller.sign(&message),
        metadata,
    };
    owner_device.submit(register).await.expect("registered");
    owner_device.shutdown().await;
    let seller_device = device(device_key(), seller_dir, &net.url, net.port).await;
    let stream = seller_device
        .open_stream(terms(&consent))
        .await
        .expect("the stream opens");
    let buyer_device = device(buyer_key(), buyer_dir, &net.url, net.port).await;
    buyer_device
        .publish_messaging_key()
        .await
        .expect("messaging key");
    let offer = ChannelOffer {
        payee: seller_device.account(),
        deposit: Amount::new(u64::from(CHANNEL_TICKS)),
        price: Amount::new(1),
        ticks: CHANNEL_TICKS,
        expires_at: Timestamp(expires_at),
    };
    let channel = buyer_device.open_channel(offer).await.expect("a channel");
    seller_device
        .accept_channel(&channel)
        .await
        .expect("taken up");
    let conf = Conf {
        url: net.url.clone(),
        port: net.port,
        stream,
        channel,
        issued_at,
        expires_at,
    };
    (seller_device, buyer_device, conf)
}

// ------------------------------------------------------------ the chaos kit

/// The seed: `TING_STREAM_CRASH_SEED`, or one of this process and test.
fn seed(salt: u64) -> u64 {
    let seed: u64 = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let pid = u64::from(std::process::id());
            (pid ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
    println!("stream crash test seed {seed} (rerun with {SEED_ENV}={seed})");
    seed
}

/// The directory the child works in; kept (and named) when
/// `TING_STREAM_CRASH_KEEP` is set, to read its progress log after a failure.
fn work_dir() -> tempfile::TempDir {
    let mut dir = tempfile::tempdir().expect("tempdir");
    if std::env::var_os(KEEP_ENV).is_some() {
        dir.disable_cleanup(true);
        println!("the work directory is {}", dir.path().display());
    }
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Appends whole lines in one `write(2)` on an `O_APPEND` file: a kill
/// leaves them whole or absent.
fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the progress log");
    file.write_all(text.as_bytes())
        .expect("write the progress log");
}

/// The whole lines of a progress log, split into words.
fn read_lines(path: &Path) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    whole
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

fn num<T: std::str::FromStr>(word: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    word.parse().expect("a number in the progress log")
}

/// Lines tagged `tag` of run `round`.
fn of_round<'a>(
    lines: &'a [Vec<String>],
    tag: &'a str,
    round: usize,
) -> impl Iterator<Item = &'a Vec<String>> + 'a {
    lines
        .iter()
        .filter(move |l| l[0] == tag && num::<usize>(&l[1]) == round)
}

/// A child process, killed and reaped if the test fails while it runs.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_child(test: &str, work: &Path, round: usize, last: bool) -> Kid {
    let err = fs::File::create(work.join(format!("child-{round}.err"))).expect("stderr file");
    let mut cmd = Command::new(std::env::current_exe().expect("this test binary"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, work)
        .env(ROUND_ENV, round.to_string())
        .stdout(Stdio::null())
        .stderr(err);
    if last {
        cmd.env(LAST_ENV, "1");
    }
    Kid(cmd.spawn().expect("the child starts"))
}

/// Waits until the progress log satisfies `cond`; fails if the child exits
/// or the deadline passes.
async fn wait_progress(
    work: &Path,
    child: &mut Kid,
    round: usize,
    what: &str,
    mut cond: impl FnMut(&[Vec<String>]) -> bool,
) {
    let deadline = Instant::now() + PROGRESS_DEADLINE;
    loop {
        if cond(&read_lines(&work.join("progress.log"))) {
            return;
        }
        if let Some(status) = child.0.try_wait().expect("the child's status") {
            let err =
                fs::read_to_string(work.join(format!("child-{round}.err"))).unwrap_or_default();
            panic!("run {round}: the child exited by itself ({status}) before {what}:\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "run {round}: timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn kill(child: &mut Kid, round: usize) {
    child.0.kill().expect("SIGKILL");
    let status = child.0.wait().expect("reaped");
    assert!(
        !status.success(),
        "run {round}: the child finished instead of being killed"
    );
}

/// The whole records of an append-only log (`ting_agent::stream::log`),
/// read without writing: `magic [8]`, then `len u32 | crc32c u32 | body`.
fn read_records(path: &Path, magic: &[u8; 8]) -> Vec<Vec<u8>> {
    let bytes = fs::read(path).unwrap_or_default();
    if bytes.is_empty() {
        return Vec::new();
    }
    assert_eq!(
        &bytes[..8],
        magic,
        "{} is the log it should be",
        path.display()
    );
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len_bytes: [u8; 4] = bytes[at..at + 4].try_into().expect("4 bytes");
        let len = u32::from_le_bytes(len_bytes) as usize;
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32c::crc32c_append(crc32c::crc32c(&len_bytes), body) != crc {
            break;
        }
        out.push(body.to_vec());
        at += 8 + len;
    }
    out
}

/// Every sale in a seller's `sales.log`, checked to be of this market, and
/// each (buyer, epoch) found once: no key sold twice.
fn sales(seller_dir: &Path, conf: &Conf) -> BTreeSet<u64> {
    let path = seller_dir
        .join("streams")
        .join(conf.stream.to_hex())
        .join("sales.log");
    let mut epochs = BTreeSet::new();
    for body in read_records(&path, b"TGSALE01") {
        let sale = Sale::decode(&body).expect("a sale");
        assert_eq!(sale.stream, conf.stream);
        assert_eq!(sale.buyer, buyer_key().account());
        assert_eq!(sale.channel, conf.channel);
        assert_eq!(sale.price, Amount::new(PRICE));
        assert!(
            epochs.insert(sale.epoch),
            "epoch {} was sold twice to the buyer",
            sale.epoch
        );
    }
    epochs
}

fn value_of(p: &Bought) -> i64 {
    match p.point.value {
        PointValue::Number { value, .. } => value,
        ref other => panic!("the level leaves raw, not {other:?}"),
    }
}

fn lifetime_over(started: Instant) -> bool {
    started.elapsed() > CHILD_LIFETIME_MAX
}

// ------------------------------------------------------- the seller killed

/// A value names its run and push: `(run + 1) · 10⁶ + i`.
fn reading_value(round: usize, i: u64) -> i64 {
    i64::try_from((round as u64 + 1) * 1_000_000 + i).expect("small")
}

fn run_and_push(value: i64) -> (usize, u64) {
    let v = u64::try_from(value).expect("positive");
    let run = usize::try_from(v / 1_000_000 - 1).expect("small");
    (run, v % 1_000_000)
}

/// The child: the seller. Progress lines: `open R next_seq`, `p R i
/// next_seq` after push `i` returned, `q R epoch` when a key request arrives, `a R epoch`
/// after it is answered, `done R next_seq` when the last run has pushed and
/// flushed everything.
fn seller_child(work: &Path) {
    let round: usize = num(&std::env::var(ROUND_ENV).expect("the run"));
    let last = std::env::var_os(LAST_ENV).is_some();
    let conf = Conf::read(work);
    let progress = work.join("progress.log");
    runtime().block_on(async {
        let started = Instant::now();
        let mut device = device(device_key(), &work.join("seller"), &conf.url, conf.port).await;
        let setup = conf.seller_setup(device.genesis_hash());
        let mut seller = Seller::open(&device, setup).expect("the seller opens");
        append(&progress, &format!("open {round} {}\n", seller.next_seq()));
        let readings = if last {
            LAST_READINGS
        } else {
            CHILD_READINGS_MAX
        };
        let mut ticker = tokio::time::interval(PUSH_EVERY);
        let (mut i, mut messages) = (0u64, 0u64);
        while !lifetime_over(started) && messages < CHILD_MESSAGES_MAX {
            tokio::select! {
                m = device.recv() => {
                    messages += 1;
                    match m {
                        Some(Message::KeyRequest { from, request }) => {
                            append(&progress, &format!("q {round} {}\n", request.epoch));
                            seller.answer(&device, from, &request).await.expect("answered");
                            append(&progress, &format!("a {round} {}\n", request.epoch));
                        }
                        Some(Message::Delivery { from, note }) => seller.on_delivery(from, &note),
                        Some(_) => {}
                        None => break,
                    }
                }
                _ = ticker.tick(), if i < readings => {
                    let reading = Reading {
                        field: "level",
                        value: Value::Number(reading_value(round, i)),
                        at: now(),
                    };
                    assert_eq!(seller.push(&device, reading).expect("pushed"), 1);
                    append(&progress, &format!("p {round} {i} {}\n", seller.next_seq()));
                    i += 1;
                    if i == readings && last {
                        seller.flush(&device).expect("flushed");
                        append(&progress, &format!("done {round} {}\n", seller.next_seq()));
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        device.shutdown().await;
    });
}

/// What the buyer's task shares with the test.
#[derive(Clone, Default)]
struct Seen {
    points: Vec<Bought>,
    stats: BuyerStats,
    spent: u64,
    paid: u64,
    epochs: BTreeSet<u64>,
}

async fn buyer_task(
    mut device: Device,
    mut buyer: Buyer,
    channel: ChannelId,
    seen: Arc<Mutex<Seen>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut ticker = tokio::time::interval(TICK_EVERY);
    loop {
        let opened = tokio::select! {
            m = device.recv() => match m {
                Some(Message::Chunk { bytes, .. }) => {
                    buyer.on_chunk(&device, &bytes).await.expect("a chunk")
                }
                Some(Message::KeyGrant { from, grant }) => {
                    buyer.on_grant(&device, from, &grant).await.expect("a grant")
                }
                Some(Message::KeyRefusal { from, refusal }) => {
                    buyer.on_refusal(&device, from, &refusal).await.expect("a refusal");
                    Vec::new()
                }
                Some(_) => Vec::new(),
                None => break,
            },
            _ = ticker.tick() => {
                buyer.tick(&device).await.expect("a tick");
                Vec::new()
            }
            _ = &mut stop => break,
        };
        let paid = device.paid_into(&channel).await.expect("paid").base_units();
        let mut s = seen.lock().unwrap();
        s.points.extend(opened);
        s.stats = buyer.stats().clone();
        s.spent = buyer.spent().base_units();
        s.paid = paid;
        s.epochs = buyer.epochs().collect();
    }
    device.shutdown().await;
}

async fn seller_crash(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let started = std::time::Instant::now();
    let net = start(false).await;
    let work = work_dir();
    let work = work.path();
    let seller_dir = work.join("seller");
    let buyer_dir = tempfile::tempdir().expect("tempdir");
    let (seller_device, buyer_device, conf) = market(&net, &seller_dir, buyer_dir.path()).await;
    seller_device.shutdown().await;
    conf.write(work);
    let (buyer, earlier) = Buyer::open(&buyer_device, conf.buyer_setup())
        .await
        .expect("the buyer opens");
    assert!(earlier.is_empty());
    wait_until("the stream is subscribed", || {
        buyer_device.streams_settled()
    })
    .await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(buyer_task(
        buyer_device,
        buyer,
        conf.channel,
        Arc::clone(&seen),
        stopped,
    ));
    let setup_secs = started.elapsed().as_secs_f64();

    let progress = work.join("progress.log");
    for round in 0..=ROUNDS {
        let last = round == ROUNDS;
        let mut child = spawn_child(SELLER_TEST, work, round, last);
        wait_progress(work, &mut child, round, "the seller's open", |l| {
            of_round(l, "open", round).count() == 1
        })
        .await;
        if last {
            wait_progress(work, &mut child, round, "the last push", |l| {
                of_round(l, "done", round).count() == 1
            })
            .await;
            let lines = read_lines(&progress);
            let done = of_round(&lines, "done", round).next().expect("done");
            let end: u64 = num(&done[2]);
            let ok = waited(|| {
                let s = seen.lock().unwrap();
                s.points.len() as u64 >= end
                    && s.epochs.len() as u64 > (end - 1) / u64::from(EPOCH_POINTS)
            })
            .await;
            let s = seen.lock().unwrap();
            let got: BTreeSet<u64> = s.points.iter().map(|p| p.seq).collect();
            let missing: Vec<u64> = (0..end).filter(|n| !got.contains(n)).collect();
            assert!(
                ok,
                "the buyer opened {} of {end} points (missing {missing:?}); it holds epochs \
                 {:?}; {:?}",
                s.points.len(),
                s.epochs,
                s.stats
            );
            drop(s);
            kill(&mut child, round);
            break;
        }
        let pushes = rng.random_range(1..60);
        let on_request = rng.random_bool(0.5);
        wait_progress(work, &mut child, round, "pushes", |l| {
            of_round(l, "p", round).count() >= pushes
        })
        .await;
        let delay = if on_request {
            let asked = of_round(&read_lines(&progress), "q", round).count();
            wait_progress(work, &mut child, round, "a key request", |l| {
                of_round(l, "q", round).count() > asked
            })
            .await;
            rng.random_range(0..4_000)
        } else {
            rng.random_range(0..20_000)
        };
        tokio::time::sleep(Duration::from_micros(delay)).await;
        kill(&mut child, round);
        sales(&seller_dir, &conf);
    }
    let _ = stop.send(());
    task.await.expect("the buyer's task");

    // The model: each run's pushes whose progress line was written, and
    // the point number after the last of them.
    let lines = read_lines(&progress);
    let mut pushed: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    let mut interrupted = 0;
    for round in 0..=ROUNDS {
        let open = of_round(&lines, "open", round)
            .next()
            .expect("an open line");
        let opened_at: u64 = num(&open[2]);
        if let Some((_, next)) = round.checked_sub(1).and_then(|r| pushed.get(&r)) {
            // The log kept every point pushed, and at most the one under way.
            assert!(
                opened_at == *next || opened_at == next + 1,
                "run {round} opens at point {opened_at}; the last run logged up to {next}"
            );
        }
        let (mut returned, mut next) = (0, opened_at);
        for l in of_round(&lines, "p", round) {
            assert_eq!(num::<u64>(&l[2]), returned, "run {round}'s pushes in order");
            returned += 1;
            next = num(&l[3]);
        }
        pushed.insert(round, (returned, next));
        let (q, a) = (
            of_round(&lines, "q", round).count(),
            of_round(&lines, "a", round).count(),
        );
        interrupted += q - a;
    }
    let s = seen.lock().unwrap().clone();
    // Points open when their epoch's key comes: in number order once sorted.
    let mut points = s.points.clone();
    points.sort_by_key(|p| p.seq);
    let seqs: Vec<u64> = points.iter().map(|p| p.seq).collect();
    let end = points.len() as u64;
    if seqs != (0..end).collect::<Vec<_>>() {
        let got: BTreeSet<u64> = seqs.iter().copied().collect();
        let top = seqs.iter().copied().max().unwrap_or(0);
        let missing: Vec<u64> = (0..top).filter(|n| !got.contains(n)).collect();
        panic!(
            "the buyer did not open every point number once: missing {missing:?}, {} twice; \
             {:?}",
            seqs.len() - got.len(),
            s.stats
        );
    }
    assert_eq!(s.stats.gaps, 0, "{:?}", s.stats);
    // Each run's readings: pushes 0.. of it, in order, up to every push that
    // returned and at most the one under way at the kill.
    let mut got: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut previous = 0i64;
    for p in &points {
        let value = value_of(p);
        assert!(value > previous, "point {} is out of push order", p.seq);
        previous = value;
        let (round, i) = run_and_push(value);
        got.entry(round).or_default().push(i);
        assert_eq!(
            p.epoch,
            p.seq / u64::from(EPOCH_POINTS),
            "point {}'s epoch",
            p.seq
        );
    }
    for (round, (returned, _)) in &pushed {
        let is = got.get(round).cloned().unwrap_or_default();
        let n = is.len() as u64;
        assert_eq!(is, (0..n).collect::<Vec<_>>(), "run {round}'s pushes");
        assert!(
            n >= *returned && n <= returned + 1,
            "run {round}: {n} points opened of {returned} pushes logged"
        );
    }
    assert!(got.keys().all(|r| pushed.contains_key(r)));

    // Keys: each epoch sold once, every epoch sold, and paid for exactly.
    let sold = sales(&seller_dir, &conf);
    let epochs: BTreeSet<u64> = (0..=(end - 1) / u64::from(EPOCH_POINTS)).collect();
    assert_eq!(sold, epochs, "every epoch sold once");
    assert_eq!(s.epochs, sold, "the buyer holds every key it paid for");
    assert_eq!(s.spent, PRICE * sold.len() as u64);
    assert_eq!(s.paid, s.spent, "the buyer paid exactly for its keys");
    let payee = DurablePayee::open(&seller_dir, &conf.channel).expect("the payee file");
    assert!(payee.payee().paid().base_units() >= PRICE * sold.len() as u64);
    println!(
        "seller killed {ROUNDS} times ({interrupted} while answering a key request); setup \
         {setup_secs:.1} s, all {:.1} s; {end} points, {} epochs; buyer {:?}",
        started.elapsed().as_secs_f64(),
        sold.len(),
        s.stats
    );
    net.stop().await;
}

#[test]
fn a_seller_killed_mid_epoch_sells_no_key_twice_and_loses_no_point() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        seller_child(&PathBuf::from(dir));
        return;
    }
    let seed = seed(1);
    runtime().block_on(seller_crash(seed));
}

// -------------------------------------------------------- the buyer killed

/// The child: the buyer. Progress lines: `E R seq value` for each point
/// `Buyer::open` answered, then `ready R spent paid epochs…` (in one
/// write); `s R epoch` before the first chunk of an epoch is handed over;
/// `o R seq value` for each point opened and `k R epoch` for each key
/// gained, after the call returned; `r R epoch code` for a refusal.
fn buyer_child(work: &Path) {
    let round: usize = num(&std::env::var(ROUND_ENV).expect("the run"));
    let conf = Conf::read(work);
    let progress = work.join("progress.log");
    runtime().block_on(async {
        let started = Instant::now();
        let mut device = device(buyer_key(), &work.join("buyer"), &conf.url, conf.port).await;
        let (mut buyer, earlier) = Buyer::open(&device, conf.buyer_setup())
            .await
            .expect("the buyer opens");
        let paid = device.paid_into(&conf.channel).await.expect("paid");
        let mut text = String::new();
        for p in &earlier {
            text.push_str(&format!("E {round} {} {}\n", p.seq, value_of(p)));
        }
        text.push_str(&format!(
            "ready {round} {} {}",
            buyer.spent().base_units(),
            paid.base_units()
        ));
        for e in buyer.epochs() {
            text.push_str(&format!(" {e}"));
        }
        text.push('\n');
        append(&progress, &text);
        let mut seen_epochs = BTreeSet::new();
        let mut keys: BTreeSet<u64> = buyer.epochs().collect();
        let mut ticker = tokio::time::interval(TICK_EVERY);
        let mut messages = 0u64;
        while !lifetime_over(started) && messages < CHILD_MESSAGES_MAX {
            let opened = tokio::select! {
                m = device.recv() => {
                    messages += 1;
                    match m {
                        Some(Message::Chunk { bytes, .. }) => {
                            if let Ok(c) = Chunk::decode(&bytes) {
                                if seen_epochs.insert(c.epoch) {
                                    append(&progress, &format!("s {round} {}\n", c.epoch));
                                }
                            }
                            buyer.on_chunk(&device, &bytes).await.expect("a chunk")
                        }
                        Some(Message::KeyGrant { from, grant }) => {
                            buyer.on_grant(&device, from, &grant).await.expect("a grant")
                        }
                        Some(Message::KeyRefusal { from, refusal }) => {
                            buyer.on_refusal(&device, from, &refusal).await.expect("a refusal");
                            append(&progress, &format!("r {round} {} {}\n", refusal.epoch, refusal.code));
                            Vec::new()
                        }
                        Some(_) => Vec::new(),
                        None => break,
                    }
                }
                _ = ticker.tick() => {
                    buyer.tick(&device).await.expect("a tick");
                    Vec::new()
                }
            };
            let new: String = buyer
                .epochs()
                .filter(|e| keys.insert(*e))
                .map(|e| format!("k {round} {e}\n"))
                .collect();
            if !new.is_empty() {
                append(&progress, &new);
            }
            if !opened.is_empty() {
                let text: String = opened
                    .iter()
                    .map(|p| format!("o {round} {} {}\n", p.seq, value_of(p)))
                    .collect();
                append(&progress, &text);
            }
        }
        device.shutdown().await;
    });
}

/// The seller's balance before and after it claimed the channel, what its
/// payee file counts as claimed, and the channel's `claimed` and `locked`
/// on the ledger.
type Claimed = (u64, u64, u64, u64, u64);

enum SellerCmd {
    /// Stop pushing, flush, and answer the next point number.
    Stop(oneshot::Sender<u64>),
    /// Claim the channel on the ledger.
    Claim(ChannelId, oneshot::Sender<Claimed>),
    /// Stop the task.
    Finish(oneshot::Sender<()>),
}

async fn pushing_seller(
    mut device: Device,
    mut seller: Seller,
    mut cmds: mpsc::Receiver<SellerCmd>,
) {
    let mut ticker = tokio::time::interval(PUSH_EVERY);
    let (mut i, mut pushing) = (0u64, true);
    loop {
        tokio::select! {
            m = device.recv() => match m {
                Some(Message::KeyRequest { from, request }) => {
                    seller.answer(&device, from, &request).await.expect("answered");
                }
                Some(Message::Delivery { from, note }) => seller.on_delivery(from, &note),
                Some(_) => {}
                None => break,
            },
            _ = ticker.tick(), if pushing => {
                let reading = Reading {
                    field: "level",
                    value: Value::Number(VALUE_BASE + i64::try_from(i).expect("small")),
                    at: now(),
                };
                assert_eq!(seller.push(&device, reading).expect("pushed"), 1);
                i += 1;
            }
            c = cmds.recv() => match c {
                Some(SellerCmd::Stop(tx)) => {
                    pushing = false;
                    seller.flush(&device).expect("flushed");
                    let _ = tx.send(seller.next_seq());
                }
                Some(SellerCmd::Claim(channel, tx)) => {
                    let before = device.balance().await.expect("a balance").base_units();
                    let claimed = device
                        .claim(&channel, &ClaimPolicy::ALWAYS)
                        .await
                        .expect("claimed")
                        .base_units();
                    let after = device.balance().await.expect("a balance").base_units();
                    let on_ledger = device
                        .http()
                        .get(&format!("/v1/channels/{}", channel.to_hex()))
                        .await
                        .expect("the channel");
                    let field = |name: &str| on_ledger[name].as_u64().expect("a number");
                    let _ = tx.send((before, claimed, after, field("claimed"), field("locked")));
                }
                Some(SellerCmd::Finish(tx)) => {
                    device.shutdown().await;
                    let _ = tx.send(());
                    return;
                }
                None => break,
            },
        }
    }
    device.shutdown().await;
}

async fn ask_seller<T>(
    cmds: &mpsc::Sender<SellerCmd>,
    make: impl FnOnce(oneshot::Sender<T>) -> SellerCmd,
) -> T {
    let (tx, rx) = oneshot::channel();
    assert!(cmds.send(make(tx)).await.is_ok(), "the seller runs");
    tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("in time")
        .expect("answered")
}

/// Checks what a restarted buyer answered against every earlier run.
fn check_restart(lines: &[Vec<String>], round: usize, sold: &BTreeSet<u64>) {
    let mut earlier: BTreeMap<u64, i64> = BTreeMap::new();
    for l in of_round(lines, "E", round) {
        let (seq, value): (u64, i64) = (num(&l[2]), num(&l[3]));
        let was = earlier.insert(seq, value);
        assert!(
            was.is_none_or(|v| v == value),
            "run {round}: point {seq} holds two values"
        );
    }
    for (seq, value) in &earlier {
        assert_eq!(
            *value,
            VALUE_BASE + i64::try_from(*seq).expect("small"),
            "run {round}: point {seq} is the seller's"
        );
    }
    for l in lines
        .iter()
        .filter(|l| l[0] == "o" && num::<usize>(&l[1]) < round)
    {
        let (seq, value): (u64, i64) = (num(&l[2]), num(&l[3]));
        assert_eq!(
            earlier.get(&seq),
            Some(&value),
            "run {round}: point {seq}, opened in run {}, is kept",
            l[1]
        );
    }
    let ready = of_round(lines, "ready", round).next().expect("ready");
    let (spent, paid): (u64, u64) = (num(&ready[2]), num(&ready[3]));
    let keys: BTreeSet<u64> = ready[4..].iter().map(|e| num(e)).collect();
    assert_eq!(spent, PRICE * keys.len() as u64, "run {round}: spent");
    assert!(
        keys.is_subset(sold),
        "run {round}: holds keys {keys:?}, of {sold:?} sold"
    );
    let seen: BTreeSet<u64> = lines
        .iter()
        .filter(|l| l[0] == "s" && num::<usize>(&l[1]) < round)
        .map(|l| num(&l[2]))
        .collect();
    let open = seen.difference(&keys).count() as u64;
    assert!(
        paid >= spent && paid - spent <= PRICE * open,
        "run {round}: paid {paid}, spent {spent}, {open} epochs seen without a key"
    );
}

async fn buyer_crash(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let started = std::time::Instant::now();
    let net = start(true).await;
    let work = work_dir();
    let work = work.path();
    let buyer_dir = work.join("buyer");
    let seller_dir = tempfile::tempdir().expect("tempdir");
    let seller_dir = seller_dir.path();
    let (seller_device, buyer_device, conf) = market(&net, seller_dir, &buyer_dir).await;
    buyer_device.shutdown().await;
    conf.write(work);
    let setup = conf.seller_setup(seller_device.genesis_hash());
    let seller = Seller::open(&seller_device, setup).expect("the seller opens");
    let (cmds, rx) = mpsc::channel(4);
    let task = tokio::spawn(pushing_seller(seller_device, seller, rx));
    let setup_secs = started.elapsed().as_secs_f64();

    let progress = work.join("progress.log");
    for round in 0..=ROUNDS {
        let last = round == ROUNDS;
        let mut child = spawn_child(BUYER_TEST, work, round, last);
        wait_progress(work, &mut child, round, "the buyer's open", |l| {
            of_round(l, "ready", round).count() == 1
        })
        .await;
        check_restart(&read_lines(&progress), round, &sales(seller_dir, &conf));
        if last {
            let end = ask_seller(&cmds, SellerCmd::Stop).await;
            wait_progress(work, &mut child, round, "the last point", |l| {
                of_round(l, "o", round).any(|o| num::<u64>(&o[2]) == end - 1)
            })
            .await;
            wait_progress(work, &mut child, round, "every key sold", |l| {
                let ready = of_round(l, "ready", round).next().expect("ready");
                let keys: BTreeSet<u64> = ready[4..]
                    .iter()
                    .chain(of_round(l, "k", round).map(|k| &k[2]))
                    .map(|e| num(e))
                    .collect();
                keys == sales(seller_dir, &conf)
            })
            .await;
            kill(&mut child, round);
            break;
        }
        let on_epoch = rng.random_bool(0.5);
        if on_epoch {
            let epochs = of_round(&read_lines(&progress), "s", round).count();
            let more = rng.random_range(1..4);
            wait_progress(work, &mut child, round, "a new epoch", |l| {
                of_round(l, "s", round).count() >= epochs + more
            })
            .await;
        } else {
            let points = rng.random_range(1..60);
            wait_progress(work, &mut child, round, "opened points", |l| {
                of_round(l, "o", round).count() >= points
            })
            .await;
        }
        let delay = rng.random_range(0..25_000);
        tokio::time::sleep(Duration::from_micros(delay)).await;
        kill(&mut child, round);
    }
    let claimed = ask_seller(&cmds, |tx| SellerCmd::Claim(conf.channel, tx)).await;
    ask_seller(&cmds, SellerCmd::Finish).await;
    task.await.expect("the seller's task");

    // The buyer as a last restart finds it, beside the seller's books.
    let lines = read_lines(&progress);
    let buyer_device = device(buyer_key(), &buyer_dir, &conf.url, conf.port).await;
    let (buyer, earlier) = Buyer::open(&buyer_device, conf.buyer_setup())
        .await
        .expect("the buyer opens");
    let kept: BTreeMap<u64, i64> = earlier.iter().map(|p| (p.seq, value_of(p))).collect();
    for l in lines.iter().filter(|l| l[0] == "o") {
        let (seq, value): (u64, i64) = (num(&l[2]), num(&l[3]));
        assert_eq!(kept.get(&seq), Some(&value), "point {seq} is kept");
    }
    let sold = sales(seller_dir, &conf);
    let keys: BTreeSet<u64> = buyer.epochs().collect();
    assert_eq!(
        keys, sold,
        "the buyer holds every key sold to it, and no other"
    );
    let spent = buyer.spent().base_units();
    assert_eq!(spent, PRICE * sold.len() as u64);
    let paid = buyer_device
        .paid_into(&conf.channel)
        .await
        .expect("paid")
        .base_units();
    assert_eq!(paid, spent, "the buyer paid exactly for its keys");
    let payee = DurablePayee::open(seller_dir, &conf.channel).expect("the payee file");
    assert_eq!(payee.payee().paid().base_units(), paid);
    let payer = DurablePayer::open(&buyer_dir, &conf.channel).expect("the payer file");
    assert_eq!(payer.payer().paid().base_units(), paid);
    // On the ledger: the seller claims exactly what was paid, no more.
    let (before, payee_claimed, after, ledger_claimed, locked) = claimed;
    assert_eq!(payee_claimed, paid, "the seller claimed what it was paid");
    assert_eq!(after - before, paid, "the seller's balance grew by it");
    assert_eq!(ledger_claimed, paid);
    assert_eq!(locked, u64::from(CHANNEL_TICKS) - paid);
    let balance = buyer_device
        .balance()
        .await
        .expect("a balance")
        .base_units();
    assert_eq!(
        balance,
        FUNDS - u64::from(CHANNEL_TICKS),
        "the buyer's balance"
    );
    // How often a kill caught the buyer mid-purchase: it restarted holding
    // credit, or gained in a run a key of an epoch it saw in an earlier run.
    let mut with_credit = 0;
    let mut regained = 0;
    for round in 1..=ROUNDS {
        let ready = of_round(&lines, "ready", round).next().expect("ready");
        if num::<u64>(&ready[3]) > num::<u64>(&ready[2]) {
            with_credit += 1;
        }
        let now: BTreeSet<u64> = of_round(&lines, "s", round).map(|l| num(&l[2])).collect();
        regained += of_round(&lines, "k", round)
            .filter(|k| !now.contains(&num::<u64>(&k[2])))
            .count();
    }
    println!(
        "buyer killed {ROUNDS} times ({with_credit} restarts with credit, {regained} keys of an \
         earlier run's epoch gained after a restart); setup {setup_secs:.1} s, all {:.1} s; {} \
         points kept, {} epochs bought, {paid} paid and claimed",
        started.elapsed().as_secs_f64(),
        kept.len(),
        sold.len()
    );
    buyer_device.shutdown().await;
    net.stop().await;
}

#[test]
fn a_buyer_killed_mid_epoch_keeps_what_it_paid_for() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        buyer_child(&PathBuf::from(dir));
        return;
    }
    let seed = seed(2);
    runtime().block_on(buyer_crash(seed));
}

/// Whether `cond` came to hold within [`PROGRESS_DEADLINE`].
async fn waited(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + PROGRESS_DEADLINE;
    while !cond() {
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}
