//! Several `ting node` processes on one PostgreSQL database (a cluster the
//! test starts): the leader is killed with `kill -9` under load, again and
//! again, and paused past its lease with SIGSTOP. Throughout:
//!
//! - every transaction a node acknowledged as committed (the leader or a
//!   follower that forwarded it) is in the final chain, at the height and
//!   block it was acknowledged in, on every node;
//! - there is no fork: every node ends on the same tip, and the blocks'
//!   epochs never go down along the chain (no leader wrote after a later one);
//! - a follower takes over after each kill (within a generous deadline: how
//!   fast is `ting bench ledger --store`'s figure, not a test threshold);
//! - a paused leader that wakes is fenced and stops (exit status 75);
//! - a killed node restarted mid-stream catches up and follows;
//! - transfers between the test's accounts conserve their sum on every node.
//!
//! The same runs again with the nodes reaching the database through a
//! PgBouncer in transaction mode (and LISTEN on a direct connection).
//!
//! `TING_FAILOVER_KILLS` sets the number of kills (10 in CI; the soak in
//! docs/operations.md runs 100). `TING_TEST_SEED` replays a run.

mod broker;
#[path = "../common/mod.rs"]
mod common;
mod database;
mod devices;
mod load;
mod nodes;
mod on_broker;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use ting_store::pg::bouncer::TempBouncer;
use ting_store::pg::cluster::TempCluster;

use common::{poll, request, Rng};
use load::{Ack, Load};
use nodes::Nodes;

/// Kills in one run unless `TING_FAILOVER_KILLS` says otherwise.
const KILLS_DEFAULT: u64 = 10;
/// Kills in the run through PgBouncer.
const BOUNCED_KILLS: u64 = 3;
/// Acknowledged transactions the load must add before each kill.
const ACKS_PER_ROUND: usize = 24;
/// Acknowledgements checked on each node besides the last leader (all are
/// checked there).
const SAMPLED_ACKS: usize = 100;

fn kills() -> u64 {
    std::env::var("TING_FAILOVER_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(KILLS_DEFAULT)
}

pub(crate) fn seed() -> u64 {
    std::env::var("TING_TEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(common::clock_seed)
}

/// Prints the seed if the test fails.
pub(crate) struct SeedGuard(pub(crate) u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "failover test failed; replay it with TING_TEST_SEED={}",
                self.0
            );
        }
    }
}

#[test]
fn the_leader_killed_under_load_loses_nothing_acknowledged_and_a_paused_one_is_fenced() {
    let pg = TempCluster::start().expect("a PostgreSQL cluster");
    let url = pg.create_database("failover").expect("a database");
    ting_store::pg::migrate(&url).expect("migrated");
    eprintln!("failover test: the database is {url}");
    scenario(&url, None, kills());
}

#[test]
fn through_pgbouncer_in_transaction_mode_the_same_holds() {
    let pg = TempCluster::start().expect("a PostgreSQL cluster");
    let direct = pg.create_database("bounced").expect("a database");
    ting_store::pg::migrate(&direct).expect("migrated");
    let bouncer = TempBouncer::start(&pg).expect("a PgBouncer (apt-get install pgbouncer)");
    let url = bouncer.url("bounced");
    eprintln!("failover test: the nodes reach the database through {url}, LISTEN on {direct}");
    scenario(&url, Some(&direct), BOUNCED_KILLS);
}

/// Runs the nodes on `url` (LISTEN on `listen_url` when given), kills the
/// leader `kills` times, pauses one, and checks what they hold.
fn scenario(url: &str, listen_url: Option<&str>, kills: u64) {
    let seed = seed();
    let _guard = SeedGuard(seed);
    let mut rng = Rng::new(seed);
    let mut nodes = Nodes::start(url, listen_url);
    check_forged_refused_by_follower(&nodes);
    let mut load = Load::start(&nodes, rng.next_u64());

    let mut failovers = Vec::new();
    for round in 0..kills {
        let (leader, epoch) = nodes.leader();
        load.wait_for_acks(ACKS_PER_ROUND);
        let height = nodes.height(leader);
        let killed_at = Instant::now();
        nodes.kill9(leader);
        let (next, next_epoch) = nodes.new_leader_after(epoch, height, &load);
        failovers.push(killed_at.elapsed());
        assert_ne!(next, leader, "round {round}: a follower took over");
        assert!(next_epoch > epoch);
        nodes.restart(leader);
        // Every third round a follower is restarted mid-stream as well.
        if round % 3 == 1 {
            let follower = nodes.follower_other_than(next);
            nodes.kill9(follower);
            nodes.restart(follower);
        }
    }
    eprintln!(
        "failover test: {} kills, takeovers (kill to the new leader's first block) {:?}",
        failovers.len(),
        failovers
    );

    // A leader paused past its lease is fenced when it wakes, and stops.
    let pausing = Instant::now();
    let (paused, epoch) = nodes.leader();
    load.wait_for_acks(ACKS_PER_ROUND);
    let height = nodes.height(paused);
    nodes.signal(paused, "STOP");
    nodes.new_leader_after(epoch, height, &load);
    nodes.signal(paused, "CONT");
    let status = nodes.wait_exit(paused);
    assert_eq!(
        status.code(),
        Some(ting_node::lead::EXIT_STEPPED_DOWN),
        "the woken leader stops: {status}\n{}",
        nodes.log(paused)
    );
    nodes.restart(paused);
    load.wait_for_acks(ACKS_PER_ROUND);
    let paused_round = pausing.elapsed();

    let acks = load.stop();
    let checking = Instant::now();
    check_one_chain(&nodes);
    check_epochs(&nodes);
    check_acks(&nodes, &acks, &mut rng);
    check_conserved(&nodes, &load);
    check_rows(listen_url.unwrap_or(url), nodes.height(nodes.leader().0));
    eprintln!(
        "failover test: {} acknowledged transactions checked in {:?}; the paused leader's round took {:?}",
        acks.len(),
        checking.elapsed(),
        paused_round
    );
}

/// A transaction with a forged signature sent to a follower is refused by
/// the follower itself (`bad_signature`), never forwarded to the leader.
fn check_forged_refused_by_follower(nodes: &Nodes) {
    let (leader, _) = nodes.leader();
    let follower = nodes.follower_other_than(leader);
    let users = &nodes.net.users;
    let tx = common::transfer(&nodes.net.genesis, &users[0], 0, users[1].account(), 1);
    let mut bytes = tx.bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = ting_core::SignedTx::decode(&bytes).expect("still well formed");
    let body = serde_json::json!({ "hex": hex::encode(&bytes) });
    let reply = request(
        nodes.addr(follower),
        "POST",
        "/v1/transactions",
        Some(&body),
    )
    .expect("the follower answers");
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        reply.body["error"]["code"], "bad_signature",
        "{}",
        reply.body
    );
    // The leader never heard of it; the follower remembers its refusal.
    let lookup = format!("/v1/transactions/{}", forged.hash().to_hex());
    let at_leader = request(nodes.addr(leader), "GET", &lookup, None).expect("the leader answers");
    assert_eq!(at_leader.status, 404, "{}", at_leader.body);
    let at_follower = request(nodes.addr(follower), "GET", &lookup, None).expect("answers");
    assert_eq!(
        at_follower.body["error"]["code"], "bad_signature",
        "{}",
        at_follower.body
    );
}

/// Every node reaches the same tip.
pub(crate) fn check_one_chain(nodes: &Nodes) {
    let (leader, _) = nodes.leader();
    let target = nodes.height(leader);
    for i in nodes.live() {
        poll("every node to reach the leader's height", || {
            (nodes.height(i) >= target).then_some(())
        });
    }
    let tip = |i: usize| -> String {
        let s = nodes.status(i).expect("a status");
        let at = format!("/v1/blocks/{target}");
        let reply = request(nodes.addr(i), "GET", &at, None).expect("a block");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let _ = s;
        reply.body["hash"].as_str().map_or_else(
            || {
                reply.body["header"]["hash"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            },
            str::to_owned,
        )
    };
    let first = tip(leader);
    assert!(!first.is_empty(), "the block at {target} has a hash");
    for i in nodes.live() {
        assert_eq!(tip(i), first, "node {i} holds the same block at {target}");
    }
}

/// Along the chain the epoch never goes down: no leader's block follows a later leader's.
pub(crate) fn check_epochs(nodes: &Nodes) {
    let (leader, _) = nodes.leader();
    let top = nodes.height(leader);
    let mut from = 1;
    let mut last = 0;
    let mut epochs = BTreeMap::new();
    while from <= top {
        let path = format!("/v1/blocks?from={from}&limit=100");
        let reply = request(nodes.addr(leader), "GET", &path, None).expect("blocks");
        let blocks = reply.body["blocks"].as_array().expect("blocks").clone();
        assert!(!blocks.is_empty(), "blocks from {from}");
        for b in &blocks {
            let epoch = b["epoch"].as_u64().expect("an epoch");
            assert!(
                epoch >= last,
                "block {} has epoch {epoch} after {last}",
                b["height"]
            );
            last = epoch;
            *epochs.entry(epoch).or_insert(0u64) += 1;
            from = b["height"].as_u64().expect("a height") + 1;
        }
    }
    assert!(epochs.len() > 1, "blocks of several leaders: {epochs:?}");
}

/// Every acknowledged transaction is where it was acknowledged, on every node.
fn check_acks(nodes: &Nodes, acks: &[Ack], rng: &mut Rng) {
    assert!(!acks.is_empty());
    let (leader, _) = nodes.leader();
    for i in nodes.live() {
        let sample: Vec<&Ack> = if i == leader {
            acks.iter().collect()
        } else {
            (0..SAMPLED_ACKS.min(acks.len()))
                .map(|_| &acks[rng.index(acks.len())])
                .collect()
        };
        for ack in sample {
            let found = poll("an acknowledged transaction to be indexed", || {
                let r = request(
                    nodes.addr(i),
                    "GET",
                    &format!("/v1/transactions/{}", ack.hash),
                    None,
                )
                .ok()?;
                (r.status == 200).then_some(r.body)
            });
            let header = &found["receipt"]["header"];
            assert_eq!(
                (header["height"].as_u64(), header_hash(&found)),
                (Some(ack.height), Some(ack.block_hash.clone())),
                "node {i}: transaction {} was acknowledged at {} in {}",
                ack.hash,
                ack.height,
                ack.block_hash
            );
        }
    }
}

fn header_hash(found: &Value) -> Option<String> {
    found["receipt"]["block_hash"]
        .as_str()
        .or_else(|| found["receipt"]["header"]["hash"].as_str())
        .map(str::to_owned)
}

/// Transfers among the test's accounts keep their sum, on every node.
fn check_conserved(nodes: &Nodes, load: &Load) {
    for i in nodes.live() {
        let total: u64 = load
            .accounts()
            .iter()
            .map(|id| {
                let a = nodes.get(i, &format!("/v1/accounts/{id}"));
                a["balance"].as_u64().expect("a balance")
            })
            .sum();
        assert_eq!(total, load.total(), "node {i}: the accounts' sum");
    }
}

/// The query tables catch up with the chain, a row for each transaction,
/// whichever leaders wrote them.
pub(crate) fn check_rows(url: &str, tip: u64) {
    let url = url.to_owned();
    let one = move |sql: &'static str| -> Option<u64> {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).ok()?;
            let rows = c.simple_query(sql).ok()?;
            rows.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
                _ => None,
            })
        })
        .join()
        .ok()
        .flatten()
    };
    poll("the transaction rows to reach the tip", || {
        (one("SELECT height FROM ting_rows")? >= tip).then_some(())
    });
    let rows = one(
        "SELECT count(*) FROM ting_transactions WHERE height <= (SELECT height FROM ting_rows)",
    );
    let txs =
        one("SELECT sum(tx_count) FROM ting_blocks WHERE height <= (SELECT height FROM ting_rows)");
    assert_eq!(rows, txs, "a row for each transaction");
}

/// A short pause between looks at the nodes.
pub(crate) const LOOK: Duration = Duration::from_millis(20);
