//! Several nodes, one device network: three `ting node` processes on one
//! PostgreSQL database and one Mosquitto, each node's gateway taking
//! `ting/v1/tx` through the shared subscription `$share/ting-nodes/...`,
//! so the broker splits the devices' transactions between them. Devices
//! (`ting_agent::Device`) send over MQTT only while the leader is killed,
//! and a follower: what a dead subscriber held is lost by the broker
//! (Mosquitto #2662 and its kind), the device sends it again until it holds
//! a receipt, and a copy of a transaction that had landed is answered with
//! its commit. In the end:
//!
//! - every transaction is confirmed to its device by a receipt the device
//!   checked against the genesis sequencers, at the height and index the
//!   final chain holds it;
//! - each device's nonce is the number of transactions it sent, and its
//!   balance moved by exactly their amounts: none was lost, none applied twice;
//! - every node ends on one chain whose epochs never go down.

use std::time::Instant;

use ting_core::limits::REFUSALS_PER_SOURCE_BURST;
use ting_store::pg::cluster::TempCluster;

use super::broker::Mosquitto;
use super::common::{self, poll, request};
use super::devices::Fleet;
use super::nodes::{Nodes, NODES, START_BALANCE};
use super::{check_epochs, check_one_chain, seed, SeedGuard};

/// Transfers each device queues per round.
const PER_ROUND: usize = 6;
/// Kills: the leader in even rounds, a follower in odd ones.
const KILLS: usize = 6;
/// Confirmations waited for in a round before its kill, so that the kill
/// falls among transactions still in flight.
const BEFORE_KILL: usize = 4;

#[test]
fn devices_on_one_broker_see_one_network_through_kills_and_nothing_applies_twice() {
    let seed = seed();
    let _guard = SeedGuard(seed);
    let pg = TempCluster::start().expect("a PostgreSQL cluster");
    let url = pg.create_database("devices").expect("a database");
    ting_store::pg::migrate(&url).expect("migrated");
    let broker = Mosquitto::start();
    eprintln!("failover test: the nodes share the broker {}", broker.addr);
    let mut nodes = Nodes::start_with(&url, None, Some(broker.addr));
    let mut fleet = Fleet::start(&nodes, broker.addr, seed);
    let devices = nodes.net.users.len();

    // With every node up, the broker splits the transactions between them.
    fleet.queue(PER_ROUND);
    let mut total = devices * PER_ROUND;
    fleet.wait_for(total);
    let taken: Vec<u64> = (0..NODES)
        .map(|i| nodes.metric(i, "ting_mqtt_received_total"))
        .collect();
    assert!(
        taken.iter().filter(|n| **n > 0).count() >= 2,
        "the shared subscription gives transactions to several nodes: {taken:?}"
    );

    let started = Instant::now();
    for round in 0..KILLS {
        let (leader, epoch) = nodes.leader();
        fleet.queue(PER_ROUND);
        fleet.wait_for(total + BEFORE_KILL);
        total += devices * PER_ROUND;
        let victim = if round % 2 == 0 {
            leader
        } else {
            nodes.follower_other_than(leader)
        };
        nodes.kill9(victim);
        nodes.restart(victim);
        fleet.wait_for(total);
        if victim == leader {
            let (next, next_epoch) = nodes.leader();
            assert!(
                next_epoch > epoch,
                "round {round}: a new leader ({next}) took over"
            );
        }
    }
    eprintln!(
        "failover test: {KILLS} kills under MQTT load in {:?}; devices' links {:?}; copies answered with their commit per node {:?}",
        started.elapsed(),
        fleet.stats(),
        (0..NODES)
            .map(|i| nodes.metric(i, "ting_txs_resent_answered_total"))
            .collect::<Vec<_>>()
    );

    check_one_chain(&nodes);
    check_epochs(&nodes);
    check_devices(&nodes, &fleet);
    check_a_copy_through_a_follower_gets_its_commit(&nodes, fleet.queued[0].0);
    check_refusals_charged_where_they_came_in(&nodes);
    fleet.shutdown();
}

/// A transaction sent to the leader, then its copy to a follower: the
/// follower answers with the same commit, marked as a copy's.
fn check_a_copy_through_a_follower_gets_its_commit(nodes: &Nodes, nonce: u64) {
    let (leader, _) = nodes.leader();
    let follower = nodes.follower_other_than(leader);
    let (from, to) = (&nodes.net.users[0], nodes.net.users[1].account());
    let tx = common::transfer(&nodes.net.genesis, from, nonce, to, 3);
    let body = common::batch_body(std::slice::from_ref(&tx));
    let path = "/v1/transactions/batch?wait=true";
    let first = request(nodes.addr(leader), "POST", path, Some(&body)).expect("the leader answers");
    let first = &first.body["results"][0];
    assert_eq!(first["status"], "committed", "{first}");
    let copy =
        request(nodes.addr(follower), "POST", path, Some(&body)).expect("the follower answers");
    let copy = &copy.body["results"][0];
    assert_eq!(copy["status"], "committed", "{copy}");
    assert_eq!(
        (&copy["height"], &copy["index"]),
        (&first["height"], &first["index"])
    );
    assert_eq!(copy["resent"], true, "{copy}");
}

/// A client sending refused transactions through a follower spends its own
/// budget at the follower's door; the leader, shown each forwarded batch
/// signed by the follower, charges the follower's address nothing, so the
/// follower's other clients are not turned away there.
fn check_refusals_charged_where_they_came_in(nodes: &Nodes) {
    let (leader, _) = nodes.leader();
    let follower = nodes.follower_other_than(leader);
    let user = &nodes.net.users[0];
    let genesis = nodes.net.genesis;
    // Copies of a spent nonce, each different: refused by the leader's ledger.
    let stale: Vec<_> = (0..REFUSALS_PER_SOURCE_BURST + 100)
        .map(|i| common::transfer(&genesis, user, 0, nodes.net.users[1].account(), 7 + i))
        .collect();
    let flood = common::batch_body(&stale);
    let one = common::batch_body(&stale[..1]);
    let addr = nodes.addr(follower);
    let name = "ting_txs_refused_total{code=\"refusal_budget\"}";
    let before = nodes.counter(leader, name);
    poll("the follower to turn the flooding client away", || {
        let r = request(
            addr,
            "POST",
            "/v1/transactions/batch?wait=true",
            Some(&flood),
        )
        .ok()?;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = request(addr, "POST", "/v1/transactions/batch?wait=true", Some(&one)).ok()?;
        (r.body["results"][0]["code"] == "refusal_budget").then_some(())
    });
    assert_eq!(
        nodes.counter(leader, name),
        before,
        "the leader charged the follower's forwards to no address"
    );
}

/// Each confirmation is where the final chain holds it; each device's nonce
/// and balance say every transaction applied exactly once.
fn check_devices(nodes: &Nodes, fleet: &Fleet) {
    let (leader, _) = nodes.leader();
    let confirmed = fleet.confirmed();
    let mut sent_total = 0;
    for (i, user) in nodes.net.users.iter().enumerate() {
        let mine = confirmed.get(&i).map_or(&[][..], Vec::as_slice);
        let (count, amounts) = fleet.queued[i];
        assert_eq!(
            mine.len() as u64,
            count,
            "device {i}: every transaction confirmed"
        );
        for c in mine {
            let found = nodes.get(leader, &format!("/v1/transactions/{}", c.tx_hash.to_hex()));
            let header = &found["receipt"]["header"];
            assert_eq!(
                (
                    header["height"].as_u64(),
                    found["receipt"]["proof"]["index"].as_u64()
                ),
                (Some(c.height.0), Some(u64::from(c.index))),
                "device {i}: {} was confirmed at {} index {}: {found}",
                c.tx_hash,
                c.height.0,
                c.index
            );
        }
        let account = nodes.get(leader, &format!("/v1/accounts/{}", user.account()));
        assert_eq!(
            account["nonce"].as_u64(),
            Some(count),
            "device {i}: {account}"
        );
        assert_eq!(
            account["balance"].as_u64(),
            Some(START_BALANCE - amounts),
            "device {i}: {account}"
        );
        sent_total += amounts;
    }
    let recipient = nodes.get(leader, &format!("/v1/accounts/{}", fleet.recipient));
    assert_eq!(
        recipient["balance"].as_u64(),
        Some(sent_total),
        "{recipient}"
    );
}
