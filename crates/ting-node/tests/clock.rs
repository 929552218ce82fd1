//! Ledger time under a clock that jumps: a real node with a clock the test
//! drives. A jump ahead or back beyond the bound holds block cutting and turns
//! `/healthz` to 503 `clock_jump`, with nothing applied meanwhile; once the
//! clock agrees with its count again the held transaction commits, and no
//! block ever carries the jumped time. An idle day is not a jump.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use ting_node::clock::{Clock, Reading};
use ting_node::pipeline::Outcome;
use ting_node::{Node, Shared};
use tokio::sync::oneshot;

/// The test's clock: it says what the test last set.
#[derive(Debug)]
struct FakeClock(Mutex<Reading>);

impl FakeClock {
    fn set(&self, wall_ms: u64, ticks_ms: u64) {
        *self.0.lock().expect("fake clock") = Reading {
            wall: ting_core::Timestamp(wall_ms),
            ticks: Duration::from_millis(ticks_ms),
        };
    }
}

impl Clock for FakeClock {
    fn read(&self) -> Reading {
        *self.0.lock().expect("fake clock")
    }
}

/// Where the fake clock starts: a day after the genesis.
const START: u64 = T0 + 86_400_000;
const STEP_MS: u64 = 60_000;
const DAY_MS: u64 = 86_400_000;

fn submit(shared: &Shared, nonce: u64) -> oneshot::Receiver<Outcome> {
    let tx = transfer(&user(0), nonce, user(1).account(), 1);
    let mut rx = shared.submit(vec![tx]).expect("admitted");
    rx.pop().expect("one receiver")
}

async fn committed(rx: oneshot::Receiver<Outcome>) -> u64 {
    let outcome = tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("an outcome within the deadline")
        .expect("the node answers");
    match outcome {
        Outcome::Committed(c) => c.height.0,
        Outcome::Refused(r) => panic!("refused: {r:?}"),
    }
}

fn last_block_time(shared: &Shared) -> u64 {
    shared.state.read().expect("state lock").last_timestamp().0
}

/// Waits until the node reports a clock jump, and checks what it says.
async fn wait_for_jump(shared: &Arc<Shared>, ahead: bool) {
    let deadline = Deadline::new("the node to see the clock jump");
    while shared.clock_status.jump().is_none() {
        deadline.tick().await;
    }
    let (status, body) = call(shared, get("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "clock_jump", "{body}");
    assert_eq!(body["clock"]["ahead"], ahead, "{body}");
    assert_eq!(body["clock"]["max_step_ms"], STEP_MS, "{body}");
    let message = body["clock"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("--max-clock-step"),
        "says what to do: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jumps_both_ways_hold_blocks_until_the_clock_is_right_and_idling_is_not_a_jump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(FakeClock(Mutex::new(Reading {
        wall: ting_core::Timestamp(START),
        ticks: Duration::ZERO,
    })));
    let mut cfg = config(dir.path());
    cfg.clock = Arc::clone(&clock) as Arc<dyn Clock>;
    cfg.max_clock_step = Duration::from_millis(STEP_MS);
    let node = Node::start(cfg).expect("the node starts");
    let shared = Arc::clone(node.shared());

    committed(submit(&shared, 0)).await;
    assert_eq!(last_block_time(&shared), START);

    // A day idle: wall time and count move together, so it is no jump.
    clock.set(START + DAY_MS, DAY_MS);
    committed(submit(&shared, 1)).await;
    assert_eq!(last_block_time(&shared), START + DAY_MS);
    let (status, body) = call(&shared, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Three days ahead after one second: held, nothing applied.
    let base = START + DAY_MS;
    clock.set(base + 1_000 + 3 * DAY_MS, DAY_MS + 1_000);
    let height = shared.durable.height();
    let mut held = submit(&shared, 2);
    wait_for_jump(&shared, true).await;
    assert!(held.try_recv().is_err(), "the transaction waits");
    assert_eq!(shared.durable.height(), height, "no block was cut");

    // The operator sets the clock right: the held transaction commits at the right time.
    clock.set(base + 2_000, DAY_MS + 2_000);
    committed(held).await;
    assert_eq!(last_block_time(&shared), base + 2_000);
    assert!(shared.clock_status.jump().is_none());
    let (status, _) = call(&shared, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);

    // Ten minutes back: held too; within the step again, it goes on.
    clock.set(base + 3_000 - 600_000, DAY_MS + 3_000);
    let held = submit(&shared, 3);
    wait_for_jump(&shared, false).await;
    clock.set(base + 4_000 - 30_000, DAY_MS + 4_000);
    committed(held).await;
    assert_eq!(
        last_block_time(&shared),
        base + 2_000,
        "ledger time never goes back: the block keeps the last block's time"
    );

    drop(shared);
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .expect("the node stops");
}
