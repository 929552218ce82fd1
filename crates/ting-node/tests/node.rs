//! The node as a library, without a process: restart and recovery from the
//! data directory, the directory lock, the sequencer check, backpressure,
//! submission order under many small submissions, and the query index.

mod common;

use ting_core::limits::VERIFY_QUEUE_TXS_MAX;
use ting_core::{AccountId, Amount, BlockHeight, Hash32, SignedTx, TxKind};
use ting_node::pipeline::{Committed, Outcome, SubmitError};
use ting_node::{Node, NodeConfig, Shared, StartError};
use ting_store::SnapshotStore;

use common::*;

/// Submits `txs` as one submission and waits for every outcome.
fn committed(outcome: Outcome) -> Committed {
    match outcome {
        Outcome::Committed(c) => c,
        Outcome::Refused(r) => panic!("refused: {} {}", r.code, r.message),
    }
}

/// Every funded user sends `rounds` transfers to the next user, one waited block per round.
fn run_transfers(shared: &Shared, rounds: u64) {
    for _ in 0..rounds {
        let txs = (0..USERS)
            .map(|i| {
                let from = user(i);
                let to = user((i + 1) % USERS).account();
                transfer(&from, next_nonce(shared, &from), to, 10 + u64::from(i))
            })
            .collect();
        for outcome in submit_and_wait(shared, txs) {
            committed(outcome);
        }
    }
}

fn ids() -> Vec<AccountId> {
    (0..USERS + 2)
        .map(|i| user(i).account())
        .chain([issuer().account()])
        .collect()
}

/// The ledger, the height and the tip, compared across restarts.
fn chain_state(shared: &Shared) -> (LedgerView, BlockHeight, Hash32, BlockHeight) {
    let view = ledger(shared, &ids());
    let st = shared.state.read().expect("state lock");
    (view, st.height(), st.tip_hash(), shared.log.height())
}

fn wait_index_caught_up_blocking(shared: &Shared) {
    let deadline = Deadline::new("the index to reach the durable height");
    while shared.index.indexed_height().expect("index height") < shared.durable.height() {
        deadline.tick_blocking();
    }
}

#[test]
fn a_restart_from_the_same_directory_keeps_balances_nonces_height_and_tip() {
    let mut node = TestNode::start();
    let shared = node.shared();
    run_transfers(&shared, 5);
    let mint = signed(
        &issuer(),
        0,
        TxKind::Mint {
            to: user(5).account(),
            amount: Amount::new(99),
        },
    );
    committed(submit_and_wait(&shared, vec![mint]).remove(0));
    let before = chain_state(&shared);
    assert_eq!(before.1, before.3, "everything waited for is durable");
    assert!(before.1 .0 >= 6);
    drop(shared);

    let report = node.restart().clone();
    assert_eq!(
        report.snapshot_height, before.1 .0,
        "shutdown wrote a snapshot at the tip"
    );
    assert_eq!(report.replayed_blocks, 0);
    let shared = node.shared();
    assert_eq!(chain_state(&shared), before);

    // The chain goes on from the old tip.
    let tx = transfer(
        &user(0),
        next_nonce(&shared, &user(0)),
        user(1).account(),
        1,
    );
    let c = committed(submit_and_wait(&shared, vec![tx]).remove(0));
    assert_eq!(c.height.0, before.1 .0 + 1);
    let block = shared.log.block(c.height).expect("read").expect("durable");
    assert_eq!(block.header.prev_hash, before.2);
}

/// Heights of the snapshot files in `dir`, oldest first.
fn snapshot_heights(node: &TestNode) -> Vec<(u64, std::path::PathBuf)> {
    let store = SnapshotStore::open(&node.dir().join("snapshots")).expect("snapshot store");
    store
        .list()
        .expect("list")
        .into_iter()
        .map(|(h, p)| (h.0, p))
        .collect()
}

#[test]
fn recovery_loads_the_newest_snapshot_and_replays_the_blocks_above_it() {
    let mut node = TestNode::start_with(|cfg| cfg.snapshot_every_blocks = 1);
    let shared = node.shared();
    run_transfers(&shared, 6);
    let before = chain_state(&shared);
    drop(shared);
    node.stop();

    // Losing the newest snapshot (a crash before the shutdown snapshot) leaves an older one.
    let snapshots = snapshot_heights(&node);
    assert!(
        snapshots.len() >= 2,
        "periodic snapshots were written: {snapshots:?}"
    );
    let (newest, path) = snapshots.last().expect("a snapshot").clone();
    assert_eq!(newest, before.1 .0, "the newest snapshot is at the tip");
    std::fs::remove_file(path).expect("remove the newest snapshot");
    let older = snapshots[snapshots.len() - 2].0;
    assert!(older < newest);

    let report = node.restart().clone();
    assert_eq!(report.snapshot_height, older);
    assert_eq!(report.replayed_blocks, newest - older);
    assert_eq!(report.log.last_height, BlockHeight(newest));
    assert_eq!(chain_state(&node.shared()), before);

    // Without any snapshot and without the index, everything is rebuilt from the log.
    node.stop();
    std::fs::remove_dir_all(node.dir().join("snapshots")).expect("remove snapshots");
    std::fs::remove_file(node.dir().join("index.redb")).expect("remove the index");
    let report = node.restart().clone();
    assert_eq!(
        (report.snapshot_height, report.replayed_blocks),
        (0, newest)
    );
    let shared = node.shared();
    assert_eq!(chain_state(&shared), before);
    wait_index_caught_up_blocking(&shared);
    let history = shared
        .index
        .account_txs(&user(0).account(), None, 500)
        .expect("history");
    assert_eq!(history.len(), 6 * 2, "user 0 sent 6 and received 6");
}

#[test]
fn a_second_node_on_a_running_nodes_directory_is_refused() {
    let mut node = TestNode::start();
    match Node::start(node.config()) {
        Err(StartError::Locked(dir)) => assert_eq!(dir, node.dir().display().to_string()),
        other => panic!("expected Locked, got {other:?}"),
    }
    // The refused start did not disturb the running node.
    run_transfers(&node.shared(), 1);
    node.stop();
    let second = Node::start(node.config()).expect("free once the first has stopped");
    second.shutdown();
}

#[test]
fn a_node_whose_key_is_not_a_sequencer_is_refused_before_touching_the_directory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let mut cfg: NodeConfig = config(&data);
    cfg.key = user(0);
    match Node::start(cfg) {
        Err(StartError::NotSequencer(id)) => assert_eq!(id, user(0).account()),
        other => panic!("expected NotSequencer, got {other:?}"),
    }
    assert!(!data.exists(), "nothing was created");
}

#[test]
fn a_submission_over_the_verify_queue_limit_is_refused_busy_and_changes_nothing() {
    let node = TestNode::start();
    let shared = node.shared();
    let before = ledger(&shared, &ids());
    // Admission refuses by count before any signature is checked, so garbage is fine.
    // Distinct bytes, so the door does not answer them as duplicates.
    let base = tampered(&transfer(&user(0), 0, user(1).account(), 1));
    let n = VERIFY_QUEUE_TXS_MAX + 1;
    let garbage: Vec<SignedTx> = (0..n as u64)
        .map(|i| {
            let mut bytes = base.bytes().to_vec();
            let len = bytes.len();
            bytes[len - 8..].copy_from_slice(&i.to_le_bytes());
            SignedTx::decode(&bytes).expect("a signature is any 64 bytes")
        })
        .collect();
    let refused = shared.ingress.submit(
        ting_node::admission::Source::Local,
        garbage.clone(),
        (0..n).map(|_| None).collect(),
    );
    assert_eq!(
        refused,
        Err(SubmitError::Busy {
            queued: 0,
            max: VERIFY_QUEUE_TXS_MAX
        })
    );
    assert_eq!(refused.map_err(|e| e.code()), Err("busy"));
    let refused = shared.submit(garbage).map(|_| ());
    assert!(matches!(refused, Err(SubmitError::Busy { .. })));
    assert_eq!(
        shared
            .metrics
            .busy
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(
        shared
            .metrics
            .txs_submitted
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(
        shared
            .ingress
            .load()
            .verifying
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(ledger(&shared, &ids()), before);
    assert_eq!(shared.durable.height(), BlockHeight(0));
    run_transfers(&shared, 1);
}

#[test]
fn a_closed_ingress_refuses_with_shutting_down_after_draining_what_it_admitted() {
    let mut node = TestNode::start();
    let shared = node.shared();
    let from = user(0);
    let txs: Vec<SignedTx> = (0..40)
        .map(|n| transfer(&from, n, user(1).account(), 1))
        .collect();
    let receivers = shared.submit(txs).expect("admitted");
    node.stop();
    for rx in receivers {
        committed(
            rx.blocking_recv()
                .expect("answered before the node stopped"),
        );
    }
    let late = transfer(&from, 40, user(1).account(), 1);
    assert_eq!(
        shared.submit(vec![late]).map(|_| ()),
        Err(SubmitError::ShuttingDown)
    );
    drop(shared);
    node.restart();
    assert_eq!(
        next_nonce(&node.shared(), &from),
        40,
        "everything answered was durable"
    );
}

#[test]
fn many_small_submissions_from_one_sender_commit_in_nonce_order_and_get_indexed() {
    const COUNT: u64 = 300;
    let node = TestNode::start();
    let shared = node.shared();
    let (from, to) = (user(0), user(1).account());
    let txs: Vec<SignedTx> = (0..COUNT)
        .map(|n| transfer(&from, n, to, 1 + n % 3))
        .collect();
    // Submission sizes 1..=7 in turn: many small submissions, none waited for.
    let mut receivers = Vec::new();
    let mut rest = txs.as_slice();
    for size in (1..=7).cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at(rest.len().min(size));
        receivers.extend(shared.submit(now.to_vec()).expect("admitted"));
        rest = later;
    }
    let places: Vec<Committed> = receivers
        .into_iter()
        .map(|rx| committed(rx.blocking_recv().expect("an outcome")))
        .collect();
    for (pair, tx) in places.windows(2).zip(&txs[1..]) {
        assert!(
            (pair[0].height, pair[0].index) < (pair[1].height, pair[1].index),
            "nonce order is block order"
        );
        assert_eq!(pair[1].tx_hash, tx.hash());
    }
    let sent: u64 = (0..COUNT).map(|n| 1 + n % 3).sum();
    assert_eq!(next_nonce(&shared, &from), COUNT);
    assert_eq!(balance(&shared, &from.account()), FUNDS - sent);
    assert_eq!(balance(&shared, &to), FUNDS + sent);
    let blocks = places.last().expect("a place").height.0;
    assert!(
        blocks < COUNT,
        "transactions were grouped into blocks ({blocks} blocks)"
    );

    // The index catches up: the history lists every transaction, newest first.
    let deadline = Deadline::new("the index to list every transaction");
    let history = loop {
        let page = shared
            .index
            .account_txs(&from.account(), None, 500)
            .expect("history");
        if page.len() == txs.len() {
            break page;
        }
        deadline.tick_blocking();
    };
    let listed: Vec<Hash32> = history.iter().map(|(_, h)| *h).collect();
    let newest_first: Vec<Hash32> = txs.iter().rev().map(SignedTx::hash).collect();
    assert_eq!(listed, newest_first);
    for (place, tx) in places.iter().zip(&txs) {
        let at = shared
            .index
            .tx_location(&tx.hash())
            .expect("lookup")
            .expect("indexed");
        assert_eq!((at.height, at.index), (place.height, place.index));
    }
    let to_history = shared.index.account_txs(&to, None, 500).expect("history");
    assert_eq!(to_history.len(), txs.len(), "the recipient's history too");
}

/// Blocks stay open long enough to observe what is answered before they are durable.
fn slow_blocks(cfg: &mut NodeConfig) {
    cfg.block_cut = std::time::Duration::from_millis(300);
}

#[test]
fn a_refusal_that_depends_on_an_undurable_transaction_waits_for_its_block() {
    let node = TestNode::start_with(slow_blocks);
    let shared = node.shared();
    let (a, b) = (user(0), user(1));
    let first = transfer(&a, 0, b.account(), 5);
    let pending = shared.submit(vec![first.clone()]).expect("admitted");
    // Until the first is applied, the door answers the same bytes `already_pending`.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while shared
        .state
        .read()
        .expect("state")
        .account(&a.account())
        .map(|x| x.nonce.0)
        != Some(1)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first transaction was never applied"
        );
        std::thread::yield_now();
    }
    // The same transaction again: refused (bad_nonce) because the first is applied,
    // but the first is not durable yet, so neither may the refusal be answered.
    let replay = submit_and_wait(&shared, vec![first]);
    let Outcome::Refused(r) = &replay[0] else {
        panic!("the replay must be refused: {replay:?}");
    };
    assert_eq!(r.code, "bad_nonce");
    assert!(
        shared.durable.height() >= BlockHeight(1),
        "a refusal based on block 1 was answered before block 1 was durable"
    );
    let first = pending
        .into_iter()
        .next()
        .expect("one")
        .blocking_recv()
        .expect("an outcome");
    assert_eq!(committed(first).height, BlockHeight(1));
}

#[test]
fn reads_wait_for_the_open_block_whose_effects_they_show() {
    let node = TestNode::start_with(slow_blocks);
    let shared = node.shared();
    let (a, b) = (user(0), user(1));
    let replies: Vec<ting_node::pipeline::Reply> = vec![None];
    shared
        .submit_with(vec![transfer(&a, 0, b.account(), 5)], replies)
        .expect("admitted");
    let deadline = Deadline::new("the transfer is applied");
    while next_nonce(&shared, &a) == 0 {
        deadline.tick_blocking();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (status, body) = runtime.block_on(call(&shared, get(&format!("/v1/accounts/{}", did(&a)))));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["nonce"], 1, "{body}");
    assert!(
        shared.durable.height() >= BlockHeight(1),
        "an account read showed a transaction whose block was not durable"
    );
}

#[test]
fn a_log_whose_blocks_do_not_lead_to_their_state_root_stops_the_start() {
    use ting_core::{Block, BlockDraft, Timestamp};
    use ting_store::{BlockLog, FileLog};
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let cfg = config(&data);
    let (mut log, _) =
        FileLog::open(&data.join("blocks"), &cfg.genesis, &mut |_| Ok(())).expect("a new log");
    let tx = transfer(&user(0), 0, user(1).account(), 5);
    // Signed by the sequencer, but over a root the transfer does not lead to.
    let draft = BlockDraft {
        genesis: cfg.genesis.hash(),
        height: BlockHeight(1),
        epoch: 0,
        prev_hash: cfg.genesis.hash(),
        timestamp: Timestamp(cfg.genesis.timestamp.0 + 1),
        state_root: Hash32([7; 32]),
    };
    log.append(&[Block::seal(draft, vec![tx], &cfg.key)])
        .expect("the log takes any sealed block");
    drop(log);
    match Node::start(cfg) {
        Err(e @ StartError::StateMismatch(_)) => {
            assert!(
                e.to_string().contains("state_root") || e.to_string().contains("state root"),
                "{e}"
            )
        }
        other => panic!("expected StateMismatch, got {other:?}"),
    }
}

#[test]
fn transactions_arriving_ahead_of_their_nonce_wait_for_those_before_them() {
    let node = TestNode::start();
    let shared = &*node.shared();
    let from = user(2);
    let start = next_nonce(shared, &from);
    let txs: Vec<SignedTx> = (0..5)
        .map(|i| transfer(&from, start + i, user(3).account(), 1 + i))
        .collect();
    // Submitted newest first, each alone, as nodes forwarding a device's
    // transactions from a shared subscription may hand them to the leader.
    let mut waiting = Vec::new();
    for tx in txs.iter().rev() {
        waiting.push(shared.submit(vec![tx.clone()]).expect("admitted").remove(0));
    }
    let mut heights = Vec::new();
    for (rx, tx) in waiting.into_iter().rev().zip(&txs) {
        let c = committed(rx.blocking_recv().expect("an outcome"));
        assert_eq!(c.tx_hash, tx.hash());
        heights.push((c.height, c.index));
    }
    let mut sorted = heights.clone();
    sorted.sort();
    assert_eq!(heights, sorted, "applied in nonce order");
    assert_eq!(next_nonce(shared, &from), start + 5);

    // A gap that nothing fills is refused bad_nonce once its wait ends.
    let stranded = transfer(&from, start + 7, user(3).account(), 1);
    let outcome = submit_and_wait(shared, vec![stranded]);
    let Outcome::Refused(r) = &outcome[0] else {
        panic!("a gap never filled is refused: {outcome:?}");
    };
    assert_eq!(r.code, "bad_nonce");
    assert_eq!(next_nonce(shared, &from), start + 5, "nothing applied");
}
