//! A node with its block log in PostgreSQL (a cluster the test starts):
//! it commits, stops, and a node with a new, empty data directory recovers
//! the whole chain from the database alone; the blocks are rows a person
//! can query; a database not migrated is refused at start with what to do.

mod common;

use ting_core::{AccountId, BlockHeight, Hash32};
use ting_node::pipeline::Outcome;
use ting_node::{Node, NodeConfig, Shared};
use ting_store::pg::cluster::TempCluster;

use common::*;

fn config_on(dir: &std::path::Path, url: &str) -> NodeConfig {
    let mut cfg = config(dir);
    cfg.store = Some(url.to_owned());
    cfg
}

fn transfers(shared: &Shared, rounds: u64) {
    for _ in 0..rounds {
        let txs = (0..USERS)
            .map(|i| {
                let from = user(i);
                transfer(
                    &from,
                    next_nonce(shared, &from),
                    user((i + 1) % USERS).account(),
                    7,
                )
            })
            .collect();
        for outcome in submit_and_wait(shared, txs) {
            assert!(matches!(outcome, Outcome::Committed(_)), "{outcome:?}");
        }
    }
}

fn ids() -> Vec<AccountId> {
    (0..USERS).map(|i| user(i).account()).collect()
}

fn chain(shared: &Shared) -> (LedgerView, BlockHeight, Hash32) {
    let view = ledger(shared, &ids());
    let st = shared.state.read().expect("state lock");
    (view, st.height(), st.tip_hash())
}

#[test]
fn a_node_on_postgres_recovers_its_chain_from_the_database_alone() {
    let pg = TempCluster::start().expect("a PostgreSQL cluster");
    let url = pg.create_database("node").expect("a database");

    let first_dir = tempfile::tempdir().expect("a directory");
    let refused = Node::start(config_on(first_dir.path(), &url)).expect_err("not migrated");
    assert!(refused.to_string().contains("ting migrate"), "{refused}");

    ting_store::pg::migrate(&url).expect("migrated");
    let node = Node::start(config_on(first_dir.path(), &url)).expect("starts on PostgreSQL");
    let shared = std::sync::Arc::clone(node.shared());
    transfers(&shared, 3);
    let before = chain(&shared);
    assert!(before.1 .0 >= 3, "{:?}", before.1);
    assert!(
        !first_dir.path().join("blocks").exists(),
        "no block log in files beside the database"
    );
    drop(shared);
    node.shutdown();

    // A new machine: an empty data directory, the same database.
    let second_dir = tempfile::tempdir().expect("a directory");
    let node = Node::start(config_on(second_dir.path(), &url)).expect("restarts");
    assert_eq!(
        node.report().replayed_blocks,
        before.1 .0,
        "every block replayed"
    );
    let shared = std::sync::Arc::clone(node.shared());
    assert_eq!(chain(&shared), before);
    transfers(&shared, 1);
    let height = shared.durable.height();
    assert!(height.0 > before.1 .0);
    drop(shared);
    node.shutdown();

    // The blocks and their transactions are rows, and the views read them.
    let me = user(0).account().to_did();
    let (blocks, txs, in_block_counts, history, account) = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let one = |c: &mut postgres::Client, sql: &str| -> i64 {
            c.query_one(sql, &[]).expect(sql).get(0)
        };
        let blocks = one(&mut c, "SELECT count(*) FROM ting_blocks");
        let txs = one(&mut c, "SELECT count(*) FROM ting_transactions");
        let counted = one(&mut c, "SELECT sum(tx_count)::bigint FROM ting_blocks");
        let history: Vec<(String, i64)> = c
            .query(
                "SELECT direction, amount FROM ting_history WHERE account = $1 AND kind = 'transfer'",
                &[&me],
            )
            .expect("history")
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let account: (i64, i64, i64) = {
            let r = c
                .query_one(
                    "SELECT transactions, amount_in::bigint, amount_out::bigint FROM ting_accounts WHERE account = $1",
                    &[&me],
                )
                .expect("the account's row");
            (r.get(0), r.get(1), r.get(2))
        };
        (blocks, txs, counted, history, account)
    })
    .join()
    .expect("queried");
    assert_eq!(u64::try_from(blocks).expect("a count"), height.0);
    assert_eq!(txs, in_block_counts, "a row per transaction");
    let rounds = 4;
    let outs = history
        .iter()
        .filter(|(d, a)| d == "out" && *a == 7)
        .count();
    let ins = history.iter().filter(|(d, a)| d == "in" && *a == 7).count();
    assert_eq!((outs, ins), (rounds, rounds), "{history:?}");
    assert_eq!(
        account,
        (2 * rounds as i64, 7 * rounds as i64, 7 * rounds as i64)
    );
}
