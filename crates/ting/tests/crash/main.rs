//! Crash safety of the real `ting node` process (DESIGN.md §8: "no acknowledged
//! transaction lost and the supply invariant intact across repeated `kill -9` of the
//! node under load").
//!
//! Soak: many more kills than CI runs, in a release build (a debug node replays its log
//! over 100 times slower, and a kill -9 leaves no snapshot, so late restarts of a long
//! debug soak take tens of seconds). The seed is printed at the start and on failure;
//! `TING_CRASH_SEED` replays a run:
//!
//! ```text
//! TING_CRASH_ROUNDS=500 cargo test --release -p ting --test crash -- --nocapture
//! TING_CRASH_SEED=<seed> TING_CRASH_ROUNDS=500 cargo test --release -p ting --test crash -- --nocapture
//! ```
//!
//! (100 rounds took 35 s in release on 2 cores, about 100,000 transactions acknowledged;
//! the default 20 rounds take about 25 s in debug.)
//!
//! Each round of the kill test submits signed transfers (and a few faucet mints) from
//! background threads, `kill -9`s the node at a random moment, restarts it on the same
//! data directory and checks, against what the test was told before the kill: every
//! acknowledged transaction is in the block it was acknowledged in, no durable block
//! changed, the chain links, nonces and balances agree, and supply is conserved with
//! `minted` accounted for by the mints the test sent.
//!
//! The node seals its block log's segments small and snapshots often (`ting node`'s
//! hidden `--log-segment-bytes` and `--snapshot-every-blocks`, passed in the environment
//! it inherits), so restarts cross segment boundaries and start from snapshots whose
//! sealed segments recovery does not read; the run checks that segments were sealed
//! and that restarts started from snapshots past the first of them.
//!
//! A `kill -9` cannot tear a write (the page cache survives the process), so the torn
//! tail test makes torn tails by hand; the last test checks the error for a taken port.

#[path = "../common/mod.rs"]
mod common;
mod load;
mod tail;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use common::{poll, NodeProc, Rng};
use load::{load_and_kill, Ack, Progress};
use serde_json::{json, Value};
use ting_core::{AccountId, Hash32, Keypair};

/// Accounts funded at the start; every one sends and receives.
const ACCOUNTS: usize = 32;
/// What the faucet grants each account at the start.
const GRANT_BASE_UNITS: u64 = 1_000_000_000;
/// Kill rounds when `TING_CRASH_ROUNDS` is not set.
const ROUNDS_DEFAULT: u64 = 20;
/// Acknowledged transactions looked up one by one through `/v1/transactions/{hash}`
/// each round (all of them are checked against their block's contents).
const TX_LOOKUPS_PER_ROUND: usize = 16;
/// Headers per `/v1/blocks` page (the API's `BLOCK_RANGE_MAX`).
const HEADERS_PAGE: u64 = 100;
/// The node's block log segment size: a round's load seals a few.
const LOG_SEGMENT_BYTES: u64 = 32 * 1024;
/// The node's snapshot interval. A round cuts only a few blocks, and the executor counts
/// blocks since its own start, so it must be this small for a killed node to snapshot.
const SNAPSHOT_EVERY_BLOCKS: u64 = 2;

/// Makes every node this test binary starts seal small segments and snapshot often.
/// Each test calls it before it starts a node; the variables are set once, before any
/// node is spawned, and only ever read by the spawning (which takes std's lock on the
/// environment).
fn small_segments_and_frequent_snapshots() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("TING_LOG_SEGMENT_BYTES", LOG_SEGMENT_BYTES.to_string());
        std::env::set_var(
            "TING_SNAPSHOT_EVERY_BLOCKS",
            SNAPSHOT_EVERY_BLOCKS.to_string(),
        );
    });
}

/// The snapshot height a node's start message names.
fn started_from_snapshot(stderr: &str) -> u64 {
    let (_, after) = stderr
        .split_once("snapshot at height ")
        .unwrap_or_else(|| panic!("no start message in the node's log:\n{stderr}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("a height")
}

fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

/// Prints the seed if the test fails, so the run can be replayed.
struct SeedGuard(u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "crash test FAILED with seed {0}; replay with TING_CRASH_SEED={0}",
                self.0
            );
        }
    }
}
/// The test's model of the ledger, updated from the node after each restart.
#[derive(Debug)]
struct Model {
    seeds: Vec<[u8; 32]>,
    ids: Vec<AccountId>,
    genesis: Hash32,
    genesis_hash: String,
    /// Read from the node after the last restart.
    nonces: Vec<u64>,
    minted_base_units: u64,
    /// Hashes of every durable block seen so far, height `h` at index `h - 1`.
    headers: Vec<String>,
    acked_total: usize,
    signed_next: BTreeMap<usize, u64>,
}

impl Model {
    fn new(rng: &mut Rng, node: &NodeProc) -> Model {
        let seeds: Vec<[u8; 32]> = (0..ACCOUNTS).map(|_| rng.seed32()).collect();
        let ids = seeds
            .iter()
            .map(|s| Keypair::from_seed(*s).account())
            .collect();
        let status = node.get("/v1/status");
        Model {
            seeds,
            ids,
            genesis: common::genesis_of(&status),
            genesis_hash: status["genesis_hash"].as_str().expect("genesis").to_owned(),
            nonces: vec![0; ACCOUNTS],
            minted_base_units: 0,
            headers: Vec::new(),
            acked_total: 0,
            signed_next: BTreeMap::new(),
        }
    }
}
fn hex_str(v: &Value, what: &str) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
        .to_owned()
}

/// Fetches the headers from `from` to `to` and checks that they link to what is known;
/// a header already known must not have changed.
fn check_chain(node: &NodeProc, model: &mut Model, from: u64, to: u64) {
    let mut h = from;
    while h <= to {
        let page = node.get(&format!("/v1/blocks?from={h}&limit={HEADERS_PAGE}"));
        let headers = page["blocks"].as_array().expect("blocks").clone();
        assert!(!headers.is_empty(), "no headers from height {h} up to {to}");
        for header in headers
            .iter()
            .take_while(|x| x["height"].as_u64() <= Some(to))
        {
            assert_eq!(header["height"].as_u64(), Some(h), "headers out of order");
            let hash = hex_str(&header["hash"], "hash");
            let prev = if h == 1 {
                model.genesis_hash.clone()
            } else {
                model.headers[usize::try_from(h - 2).expect("height")].clone()
            };
            assert_eq!(
                hex_str(&header["prev_hash"], "prev_hash"),
                prev,
                "block {h}'s prev_hash is not block {}'s hash",
                h - 1
            );
            let i = usize::try_from(h - 1).expect("height");
            match model.headers.get(i) {
                Some(known) => assert_eq!(&hash, known, "durable block {h} changed after a crash"),
                None => model.headers.push(hash),
            }
            h += 1;
        }
    }
}

/// Waits until the query index has caught up with the log. After a `kill -9` the index
/// (written mostly without fsync) restarts behind the log and catches up in the
/// background; a lookup by hash racing that catch-up can answer 404 for a committed
/// transaction (`locate` reads the index's location and its indexed height in two
/// separate reads, so a block indexed between them is searched in neither). The blocks
/// themselves are checked without the index, in `check_acks`.
fn wait_indexed(node: &NodeProc) {
    poll("the query index to catch up with the log", || {
        let status = node.get("/v1/status");
        (status["indexed_height"].as_u64() >= status["durable_height"].as_u64()).then_some(())
    });
}

/// Every acknowledged transaction is in the block it was acknowledged in.
fn check_acks(node: &NodeProc, model: &Model, acks: &[Ack], rng: &mut Rng) {
    let durable = model.headers.len() as u64;
    let mut by_height: BTreeMap<u64, Vec<&Ack>> = BTreeMap::new();
    for ack in acks {
        assert!(
            ack.height >= 1 && ack.height <= durable,
            "{} was acknowledged in block {} but the log ends at {durable} after the restart",
            ack.hash,
            ack.height
        );
        let hash = &model.headers[usize::try_from(ack.height - 1).expect("height")];
        if let Some(acked) = &ack.block_hash {
            assert_eq!(
                acked, hash,
                "block {} is not the one acknowledged",
                ack.height
            );
        }
        by_height.entry(ack.height).or_default().push(ack);
    }
    for (height, acks) in &by_height {
        let block = node.get(&format!("/v1/blocks/{height}"));
        let present: HashSet<String> = block["txs"]
            .as_array()
            .expect("txs")
            .iter()
            .map(|t| hex_str(&t["tx_hash"], "tx_hash"))
            .collect();
        for ack in acks {
            assert!(
                present.contains(&ack.hash),
                "acknowledged {} is missing from block {height}",
                ack.hash
            );
        }
    }
    wait_indexed(node);
    for _ in 0..TX_LOOKUPS_PER_ROUND.min(acks.len()) {
        let ack = &acks[rng.index(acks.len())];
        let found = node.get(&format!("/v1/transactions/{}", ack.hash));
        assert_eq!(found["receipt"]["height"].as_u64(), Some(ack.height));
    }
}

/// Nonces, balances and supply agree with what was acknowledged; the model learns them.
fn check_accounts_and_supply(node: &NodeProc, model: &mut Model, p: &Progress) {
    let mut sum = 0u64;
    for (i, id) in model.ids.iter().enumerate() {
        let account = node.get(&format!("/v1/accounts/{}", id.to_did()));
        let nonce = account["nonce"].as_u64().expect("nonce");
        let acked_next = p
            .acks
            .iter()
            .filter_map(|a| a.sent.filter(|(s, _)| *s == i).map(|(_, n)| n + 1))
            .max()
            .unwrap_or(0);
        let signed_next = model.signed_next.get(&i).copied().unwrap_or(0);
        assert!(
            nonce >= acked_next.max(model.nonces[i]),
            "account {i}: nonce {nonce} is behind its acknowledged transactions ({acked_next})"
        );
        assert!(
            nonce <= signed_next.max(model.nonces[i]),
            "account {i}: nonce {nonce} is past anything signed ({signed_next})"
        );
        model.nonces[i] = nonce;
        sum += account["balance"].as_u64().expect("balance");
    }
    let supply = node.get("/v1/supply");
    assert_eq!(supply["conserved"], true, "supply not conserved: {supply}");
    let minted = supply["minted"].as_u64().expect("minted");
    let low = model.minted_base_units + p.grants_acked_base_units;
    let high = low + p.grants_unknown_base_units;
    assert!(
        (low..=high).contains(&minted),
        "minted {minted}, but acknowledged mints make {low} (and at most {high} with the unanswered)"
    );
    assert_eq!(
        sum, minted,
        "the test's accounts hold all the money there is"
    );
    model.minted_base_units = minted;
}

/// After a restart: the chain, the acknowledged transactions, nonces, balances, supply.
fn check_after_restart(node: &NodeProc, model: &mut Model, progress: &Progress, rng: &mut Rng) {
    let status = node.get("/v1/status");
    assert_eq!(
        hex_str(&status["genesis_hash"], "genesis_hash"),
        model.genesis_hash
    );
    let durable = status["durable_height"].as_u64().expect("durable_height");
    let known = model.headers.len() as u64;
    assert!(
        durable >= known,
        "the log ends at {durable} after the restart; block {known} was durable before"
    );
    // Re-read the last known header: the new ones must link onto it unchanged.
    check_chain(node, model, known.max(1), durable);
    check_acks(node, model, &progress.acks, rng);
    for (s, next) in &progress.signed_next {
        let e = model.signed_next.entry(*s).or_insert(0);
        *e = (*e).max(*next);
    }
    check_accounts_and_supply(node, model, progress);
    model.acked_total += progress.acks.len();
}

fn fund_accounts(node: &NodeProc, model: &mut Model) {
    for id in &model.ids {
        let body = json!({ "to": id.to_did(), "amount": GRANT_BASE_UNITS });
        let reply = node.post("/v1/faucet", &body);
        assert_eq!(reply["status"], "committed", "{reply}");
    }
    model.minted_base_units = GRANT_BASE_UNITS * ACCOUNTS as u64;
    let supply = node.get("/v1/supply");
    assert_eq!(supply["minted"].as_u64(), Some(model.minted_base_units));
}

/// Restarts the node on `addr`. While it was down the kernel may have handed its port
/// to another process (as any free port); only then does the node move to a fresh one.
fn restart_on(data: &Path, addr: &mut SocketAddr, log: &Path) -> NodeProc {
    match NodeProc::try_start(data, *addr, log) {
        Ok(node) => node,
        Err((status, stderr)) => {
            let taken = std::net::TcpListener::bind(*addr).is_err();
            assert!(
                taken && stderr.contains("already in use"),
                "the node did not restart ({status}); its log:\n{stderr}"
            );
            eprintln!("{addr} was taken by another process while the node was down; moving");
            *addr = common::free_addr();
            NodeProc::start(data, *addr, log)
        }
    }
}

fn log_path(dir: &Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("node-{n:04}.log"))
}

#[test]
fn a_node_killed_under_load_keeps_every_acknowledged_transaction_and_conserves_supply() {
    let seed = env_u64("TING_CRASH_SEED").unwrap_or_else(common::clock_seed);
    let rounds = env_u64("TING_CRASH_ROUNDS").unwrap_or(ROUNDS_DEFAULT);
    let _guard = SeedGuard(seed);
    small_segments_and_frequent_snapshots();
    eprintln!("crash test: seed {seed} (TING_CRASH_SEED), {rounds} rounds (TING_CRASH_ROUNDS)");
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let mut addr = common::free_addr();
    let mut node = NodeProc::start(&data, addr, &log_path(tmp.path(), 0));
    let mut model = Model::new(&mut rng, &node);
    fund_accounts(&node, &mut model);
    let mut torn_tails = 0;
    let mut snapshot_heights = Vec::new();
    let sealed_count = || {
        ting_store::log::manifest_segments(&data.join("blocks"))
            .expect("the manifest")
            .len()
    };
    let (mut sealed_before, mut rounds_across_a_seal) = (sealed_count(), 0);
    for round in 1..=rounds {
        let progress = load_and_kill(&mut node, &model, &mut rng);
        drop(node);
        let restart = Instant::now();
        node = restart_on(&data, &mut addr, &log_path(tmp.path(), round));
        let restart = restart.elapsed();
        if node.stderr().contains("torn") {
            torn_tails += 1;
        }
        snapshot_heights.push(started_from_snapshot(&node.stderr()));
        let sealed_now = sealed_count();
        if sealed_now > sealed_before {
            rounds_across_a_seal += 1;
        }
        sealed_before = sealed_now;
        check_after_restart(&node, &mut model, &progress, &mut rng);
        eprintln!(
            "round {round}: {} acknowledged ({} mints), height {}, restarted in {restart:.1?} from the snapshot at {}, {:.1?} elapsed",
            progress.acks.len(),
            progress.acks.iter().filter(|a| a.sent.is_none()).count(),
            model.headers.len(),
            snapshot_heights.last().expect("one per round"),
            started.elapsed()
        );
    }
    // The whole chain once more, from genesis, over the final restart.
    model.headers.clear();
    let durable = node.get("/v1/status")["durable_height"]
        .as_u64()
        .expect("height");
    check_chain(&node, &mut model, 1, durable);
    let status = node.terminate();
    assert!(
        status.success(),
        "the node did not stop cleanly: {status}\n{}",
        node.stderr()
    );
    let sealed = ting_store::log::manifest_segments(&data.join("blocks")).expect("the manifest");
    let first_sealed_end = sealed.first().map_or(u64::MAX, |s| s.last.0);
    let past_a_seal = snapshot_heights
        .iter()
        .filter(|h| **h > first_sealed_end)
        .count();
    eprintln!(
        "crash test: {rounds} kills, {} transactions acknowledged, {} blocks in {} sealed segments, {rounds_across_a_seal} rounds sealed one, {past_a_seal} restarts from a snapshot past the first, {torn_tails} torn tails cut, {:.1?}",
        model.acked_total,
        model.headers.len(),
        sealed.len(),
        started.elapsed()
    );
    if rounds >= ROUNDS_DEFAULT {
        assert!(
            sealed.len() >= 2,
            "only {} segments were sealed",
            sealed.len()
        );
        assert!(
            rounds_across_a_seal >= 2,
            "only {rounds_across_a_seal} rounds sealed a segment before their kill"
        );
        assert!(
            past_a_seal * 4 >= snapshot_heights.len(),
            "only {past_a_seal} of {} restarts started from a snapshot past the first sealed segment (ending at {first_sealed_end}): {snapshot_heights:?}",
            snapshot_heights.len()
        );
    }
}
