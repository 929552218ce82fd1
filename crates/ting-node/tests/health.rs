//! `/healthz` tells the truth per component, on real full disks.
//!
//! The query index and the snapshots are put on a small tmpfs (mounting one
//! needs root: without it these tests fail, they never skip), which a filler
//! file then fills. The indexer fails, `/healthz` answers 503 with what is
//! wrong, and once the filler is deleted each worker recovers by itself, with
//! no restart.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use ting_core::Hash32;
use ting_node::pipeline::Outcome;
use ting_node::{Node, Shared};

use common::*;

/// Size of the small filesystem the tests fill.
const TMPFS_BYTES: u64 = 4 * 1024 * 1024;

/// A tmpfs mounted on a temporary directory; unmounted on drop (lazily if a
/// failed test left a file open on it).
struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    fn mount(bytes: u64) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("could not run mount: {e}"));
        assert!(
            out.status.success(),
            "this test fills a real disk: it mounts a {bytes}-byte tmpfs, which needs root (CAP_SYS_ADMIN); run the tests as root. mount said: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the filesystem to the last byte with a file; answers its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..=TMPFS_BYTES / 1024 {
            let room = match file.write(&chunk) {
                Ok(0) | Err(_) => 0,
                Ok(n) => n,
            };
            if room == 0 {
                return path;
            }
        }
        panic!("{TMPFS_BYTES} bytes of filler did not fill the tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let path = self.dir.path();
        let plain = Command::new("umount").arg(path).status();
        if !plain.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(path).status();
        }
    }
}

/// A data directory whose `name` (`index.redb`, `snapshots`) lives on `small`.
fn data_dir_with(name: &str, small: &Tmpfs) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(small.path().join(name), dir.path().join(name))
        .expect("symlink into the tmpfs");
    dir
}

/// Every funded user sends `each` transfers of 1; answers their hashes once committed.
async fn commit_transfers(shared: &Shared, each: u64) -> Vec<Hash32> {
    let mut txs = Vec::new();
    for i in 0..USERS {
        let from = user(i);
        let first = next_nonce(shared, &from);
        let to = user((i + 1) % USERS).account();
        txs.extend((first..first + each).map(|n| transfer(&from, n, to, 1)));
    }
    let hashes = txs.iter().map(|t| t.hash()).collect();
    for rx in shared.submit(txs).expect("admitted") {
        match rx.await.expect("an outcome") {
            Outcome::Committed(_) => {}
            Outcome::Refused(r) => panic!("refused: {} {}", r.code, r.message),
        }
    }
    hashes
}

async fn health(shared: &Arc<Shared>) -> (StatusCode, Value) {
    call(shared, get("/healthz")).await
}

/// Waits until `/healthz` satisfies `done`; answers its last body.
async fn health_until(
    shared: &Arc<Shared>,
    what: &str,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> Value {
    let deadline = Deadline::new(what);
    loop {
        let (status, body) = health(shared).await;
        if done(status, &body) {
            return body;
        }
        deadline.tick().await;
    }
}

async fn metric(shared: &Arc<Shared>, series: &str) -> u64 {
    let (_, text) = call_text(shared, get("/metrics")).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
        .trim()
        .parse()
        .expect("an integer metric")
}

#[tokio::test]
async fn a_fresh_node_reports_every_component_ok_with_its_figures() {
    let node = TestNode::start();
    let s = node.shared();
    let (status, body) = health(&s).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    let c = &body["components"];
    for name in ["pipeline", "writer", "indexer", "snapshotter"] {
        assert_eq!(c[name]["status"], "ok", "{name} in {body}");
        assert_eq!(c[name].get("code"), None, "{name} in {body}");
    }
    assert_eq!(c["pipeline"]["queued_txs"], 0, "{body}");
    let free = c["writer"]["disk_free_bytes"].as_u64().expect("free bytes");
    let min = c["writer"]["disk_free_min_bytes"].as_u64().expect("bound");
    assert!(
        free >= min,
        "a test machine's disk is not nearly full: {body}"
    );
    assert_eq!(c["indexer"]["indexed_height"], 0, "{body}");
    assert_eq!(c["indexer"]["lag_blocks"], 0, "{body}");
    assert_eq!(c["snapshotter"]["snapshot_height"], 0, "{body}");
    assert_eq!(c.get("mqtt"), None, "no gateway, no mqtt component: {body}");
    for name in ["pipeline", "writer", "indexer", "snapshotter", "mqtt"] {
        let series = format!("ting_component_degraded{{component=\"{name}\"}}");
        assert_eq!(metric(&s, &series).await, 0, "{series}");
    }
    assert_eq!(metric(&s, "ting_indexer_restarts_total").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_index_disk_degrades_health_and_the_indexer_recovers_by_itself_once_there_is_room() {
    let small = Tmpfs::mount(TMPFS_BYTES);
    let dir = data_dir_with("index.redb", &small);
    let node = Node::start(config(dir.path())).expect("the node starts");
    let shared = Arc::clone(node.shared());
    commit_transfers(&shared, 8).await;
    index_caught_up(&shared).await;

    // The disk fills. redb keeps commits that are not durable in memory, so a
    // full disk shows at the index's next durable commit (every
    // DURABLE_EVERY_BLOCKS blocks, or a flush): make it now.
    let filler = small.fill();
    commit_transfers(&shared, 8).await;
    index_caught_up(&shared).await;
    let refused = shared.index.flush();
    assert!(refused.is_err(), "a full disk refuses the index's write");

    // The chain goes on; the index does not, and health says so.
    let during = commit_transfers(&shared, 8).await;
    let body = health_until(&shared, "healthz to say the indexer failed", |status, b| {
        status == StatusCode::SERVICE_UNAVAILABLE
            && b["components"]["indexer"]["status"] == "degraded"
            && b["components"]["indexer"]["lag_blocks"].as_u64() > Some(0)
    })
    .await;
    assert_eq!(body["status"], "degraded", "{body}");
    let indexer = &body["components"]["indexer"];
    assert_eq!(indexer["code"], "index_failed", "{body}");
    let message = indexer["message"].as_str().unwrap_or_default();
    assert!(message.contains("free space"), "says what to do: {body}");
    assert!(indexer["since_ms"].as_u64() > Some(T0), "{body}");
    assert_eq!(body["components"]["pipeline"]["status"], "ok", "{body}");
    let series = "ting_component_degraded{component=\"indexer\"}";
    assert_eq!(metric(&shared, series).await, 1);
    // It reopens the index and tries again, and fails again while the disk
    // is full: indexing into memory does not count, a durable commit does.
    let deadline = Deadline::new("the indexer to try again twice");
    while metric(&shared, "ting_indexer_restarts_total").await < 2 {
        deadline.tick().await;
    }
    let (status, body) = health(&shared).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["components"]["indexer"]["code"], "index_failed",
        "{body}"
    );

    // Room again: the indexer catches up by itself, without a restart.
    std::fs::remove_file(filler).expect("delete the filler");
    let body = health_until(&shared, "the indexer to recover", |status, b| {
        status == StatusCode::OK && b["components"]["indexer"]["lag_blocks"] == 0
    })
    .await;
    assert_eq!(body["components"]["indexer"]["status"], "ok", "{body}");
    assert_eq!(metric(&shared, series).await, 0);
    index_caught_up(&shared).await;
    for hash in [during[0], during[during.len() - 1]] {
        let path = format!("/v1/transactions/{}", hash.to_hex());
        let (status, body) = call(&shared, get(&path)).await;
        assert_eq!(status, StatusCode::OK, "found after recovery: {body}");
    }
    drop(shared);
    node.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_snapshot_degrades_health_and_the_next_block_tries_again_without_a_whole_interval()
{
    let small = Tmpfs::mount(TMPFS_BYTES);
    let dir = data_dir_with("snapshots", &small);
    std::fs::create_dir(small.path().join("snapshots")).expect("snapshots directory");
    let filler = small.fill();
    let mut cfg = config(dir.path());
    cfg.snapshot_every_blocks = u64::MAX;
    cfg.snapshot_every_txs = 12;
    let node = Node::start(cfg).expect("the node starts");
    let shared = Arc::clone(node.shared());
    commit_transfers(&shared, 3).await;
    let body = health_until(&shared, "healthz to say a snapshot failed", |status, b| {
        status == StatusCode::SERVICE_UNAVAILABLE
            && b["components"]["snapshotter"]["status"] == "degraded"
    })
    .await;
    let snapshotter = &body["components"]["snapshotter"];
    assert_eq!(snapshotter["code"], "snapshot_failed", "{body}");
    assert_eq!(snapshotter["snapshot_height"], 0, "{body}");
    let series = "ting_component_degraded{component=\"snapshotter\"}";
    assert_eq!(metric(&shared, series).await, 1);

    // Room again. After its pause the snapshotter asks for the next block's
    // state: one transaction, far fewer than the interval of 12, brings it.
    std::fs::remove_file(filler).expect("delete the filler");
    health_until(
        &shared,
        "the snapshotter to wait for the next block",
        |_, b| {
            let message = b["components"]["snapshotter"]["message"].as_str();
            message.is_some_and(|m| m.contains("with the next block"))
        },
    )
    .await;
    let from = user(0);
    let tx = transfer(&from, next_nonce(&shared, &from), user(1).account(), 1);
    let height = commit(&shared, &tx).await["height"].as_u64();
    let body = health_until(&shared, "the snapshot to be written", |status, b| {
        status == StatusCode::OK
            && b["components"]["snapshotter"]["snapshot_height"].as_u64() > Some(0)
    })
    .await;
    assert_eq!(
        body["components"]["snapshotter"]["snapshot_height"].as_u64(),
        height,
        "the snapshot is of the next block: {body}"
    );
    assert_eq!(metric(&shared, series).await, 0);
    let snapshots = ting_store::SnapshotStore::open(&dir.path().join("snapshots"))
        .expect("snapshot store")
        .list()
        .expect("list");
    assert_eq!(snapshots.last().map(|(h, _)| h.0), height, "it is on disk");
    drop(shared);
    node.shutdown();
}

/// Each injected snapshot fault (no space mid-write, a write cut short, an
/// fsync that loses pages, a failed rename) is reported as `snapshot_failed`,
/// leaves no damaged snapshot behind, and the next attempt writes one; a
/// restart then starts from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_snapshot_faults_are_reported_and_the_next_attempt_writes_one() {
    use ting_store::{Fault, Faults, FileKind, Op};
    let faults = Arc::new(Faults::new());
    let dir = tempfile::tempdir().expect("a data directory");
    let mut cfg = config(dir.path());
    cfg.snapshot_every_blocks = u64::MAX;
    cfg.snapshot_every_txs = u64::MAX;
    cfg.faults = Some(Arc::clone(&faults));
    let node = Node::start(cfg).expect("the node starts");
    let shared = Arc::clone(node.shared());
    let cases = [
        (Op::Write, Fault::NoSpace),
        (Op::Write, Fault::ShortWrite),
        (Op::Sync, Fault::LostSync),
        (Op::Rename, Fault::Io),
    ];
    let mut written = 0u64;
    for (op, fault) in cases {
        let fired = faults.fired();
        faults.arm(FileKind::Snapshot, op, fault);
        shared.ask_snapshot();
        commit_transfers(&shared, 1).await;
        let what = format!("{op:?} {fault:?} to be reported");
        let body = health_until(&shared, &what, |status, b| {
            status == StatusCode::SERVICE_UNAVAILABLE
                && b["components"]["snapshotter"]["code"] == "snapshot_failed"
        })
        .await;
        assert_eq!(faults.fired(), fired + 1, "{op:?} {fault:?}: {body}");
        // The fault is spent: the next block's snapshot is written.
        health_until(&shared, "the snapshotter to ask again", |_, b| {
            let message = b["components"]["snapshotter"]["message"].as_str();
            message.is_some_and(|m| m.contains("with the next block"))
        })
        .await;
        commit_transfers(&shared, 1).await;
        let body = health_until(&shared, "the snapshot to be written", |status, b| {
            status == StatusCode::OK
                && b["components"]["snapshotter"]["snapshot_height"].as_u64() > Some(written)
        })
        .await;
        written = body["components"]["snapshotter"]["snapshot_height"]
            .as_u64()
            .expect("a height");
        let store = ting_store::SnapshotStore::open(&dir.path().join("snapshots"))
            .expect("the snapshot store");
        let latest = store.latest().expect("read").expect("a good snapshot");
        assert_eq!(
            latest.height.0, written,
            "{op:?} {fault:?}: the newest good one"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("snapshots"))
            .expect("list snapshots")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{op:?} {fault:?} left {leftovers:?}");
    }
    drop(shared);
    node.shutdown();
    let node = Node::start(config_with_faults_off(dir.path())).expect("the node restarts");
    assert!(node.report().snapshot_height >= written);
    node.shutdown();
}

fn config_with_faults_off(dir: &Path) -> ting_node::NodeConfig {
    let mut cfg = config(dir);
    cfg.snapshot_every_blocks = u64::MAX;
    cfg
}

/// Injected index faults (a failed fsync, a write cut short) fail the index's
/// durable commit like a full disk does: `/healthz` says `index_failed`, the
/// chain goes on, and once the fault is spent the indexer reopens the index
/// and catches up by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_index_faults_degrade_health_and_the_indexer_recovers() {
    use ting_store::{Fault, Faults, FileKind, Op};
    let faults = Arc::new(Faults::new());
    let dir = tempfile::tempdir().expect("a data directory");
    let mut cfg = config(dir.path());
    cfg.faults = Some(Arc::clone(&faults));
    let node = Node::start(cfg).expect("the node starts");
    let shared = Arc::clone(node.shared());
    for (op, fault) in [(Op::Sync, Fault::Io), (Op::Write, Fault::ShortWrite)] {
        commit_transfers(&shared, 2).await;
        index_caught_up(&shared).await;
        faults.arm(FileKind::Index, op, fault);
        assert!(
            shared.index.flush().is_err(),
            "{op:?} {fault:?}: the durable commit fails"
        );
        commit_transfers(&shared, 2).await;
        let body = health_until(&shared, "healthz to say the indexer failed", |status, b| {
            status == StatusCode::SERVICE_UNAVAILABLE
                && b["components"]["indexer"]["code"] == "index_failed"
        })
        .await;
        assert_eq!(body["components"]["pipeline"]["status"], "ok", "{body}");
        health_until(&shared, "the indexer to recover", |status, b| {
            status == StatusCode::OK && b["components"]["indexer"]["lag_blocks"] == 0
        })
        .await;
    }
    let hash = commit_transfers(&shared, 1).await[0];
    index_caught_up(&shared).await;
    let path = format!("/v1/transactions/{}", hash.to_hex());
    let (status, body) = call(&shared, get(&path)).await;
    assert_eq!(status, StatusCode::OK, "the index serves again: {body}");
    drop(shared);
    node.shutdown();
}
