//! Starting, recovering and stopping a node.
//!
//! Start-up: lock the data directory, load the newest good snapshot (or the
//! genesis), open the block log (which checks the blocks from the snapshot's
//! height on, reading no sealed segment below it, and cuts a torn tail) while
//! replaying the blocks above the snapshot, open the query index,
//! then start the pipeline threads. Shutdown closes ingress and lets every
//! stage drain in order, so everything admitted is either committed durably
//! or answered, and writes a final snapshot so the next start is quick.
//!
//! A node is fail-stop: `Node::start` makes a panic on any of its threads
//! (named `ting-...`) abort the process, since those threads hold state ahead
//! of the log and recovery from the durable log is always safe.
//!
//! Data directory layout: `blocks/` (the block log's segments and manifest), `snapshots/`,
//! `index.redb` (derived, rebuilt when missing), `LOCK`.

use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Once, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;
use ting_core::limits::{
    BLOCK_CUT_MS, DURABLE_QUEUE_BLOCKS_MAX, EVENTS_BUFFER_MAX, EVENT_SUBSCRIBERS_MAX,
    HTTP_REQUESTS_MAX, LOG_SEGMENT_BYTES, SNAPSHOT_INTERVAL_BLOCKS, SNAPSHOT_INTERVAL_TXS,
};
use ting_core::{AccountId, Block, Genesis, Hash32, Keypair};
use ting_ledger::State;
use ting_store::{BlockLog, FileLog, Index, LogOptions, LogReader, RecoveryReport, SnapshotStore};
use tokio::sync::broadcast;

use crate::admission::Admission;
use crate::background::{spawn_indexer, IndexerParts};
use crate::clock::{Clock, ClockStatus, SystemClock, TimeGuard, MAX_CLOCK_STEP_DEFAULT};
use crate::faucet::Faucet;
use crate::feed::{Feed, FeedParts, Published, Watchers};
use crate::health::{spawn_health_watch, Health};
use crate::metrics::Metrics;
use crate::pipeline::{self, CommittedBlock, Durable, ExecutorConfig, Ingress, Load};
use crate::refusals::Refusals;
use crate::snapshotter::{spawn_snapshotter, SnapshotterParts};

/// Everything a node needs to start.
#[derive(Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub genesis: Genesis,
    /// The sequencer key that signs blocks; must be named in the genesis.
    pub key: Keypair,
    /// In dev mode, the issuer key the faucet mints with.
    pub faucet: Option<Keypair>,
    pub verify_workers: usize,
    pub block_cut: Duration,
    pub snapshot_every_blocks: u64,
    pub snapshot_every_txs: u64,
    /// Answer an external broker's HTTP authentication and authorization
    /// calls (`POST /v1/mqtt/auth`, `/v1/mqtt/acl`; docs/operations.md).
    pub mqtt_auth_hook: bool,
    /// Where ledger time comes from: the system clock, or a simulation's.
    pub clock: Arc<dyn Clock>,
    /// The largest disagreement between the clock and its own monotonic
    /// count that is not a jump (`--max-clock-step`; docs/operations.md).
    pub max_clock_step: Duration,
    /// Size past which the block log's open segment is sealed
    /// (`LOG_SEGMENT_BYTES`; tests and the crash loop make it small).
    pub log_segment_bytes: u64,
    /// Faults a test arms for the block log's file operations; `None` outside tests.
    pub faults: Option<Arc<ting_store::Faults>>,
    /// Where the block log is kept: `None` for files under `data_dir`, or a
    /// `postgres://` URL (docs/postgres.md; migrated with `ting migrate`).
    /// The node appends in epoch 0: one node per database until the lease
    /// is taken by nodes.
    pub store: Option<String>,
    /// What one client address may hold open on the HTTP API.
    pub http_per_source: crate::http::sources::PerSource,
    /// The most event streams open at once (`/v1/events` and
    /// `/v1/overview/events`); past it they are answered `503 busy`. One
    /// address also holds at most `http_per_source.connections` of them, one
    /// per connection. Default `EVENT_SUBSCRIBERS_MAX`; limits.rs says what
    /// each costs.
    pub event_streams_max: usize,
}

impl NodeConfig {
    /// A configuration with the default limits and one verifier per core.
    pub fn new(data_dir: PathBuf, genesis: Genesis, key: Keypair) -> NodeConfig {
        NodeConfig {
            data_dir,
            genesis,
            key,
            faucet: None,
            verify_workers: std::thread::available_parallelism().map_or(1, usize::from),
            block_cut: Duration::from_millis(BLOCK_CUT_MS),
            snapshot_every_blocks: SNAPSHOT_INTERVAL_BLOCKS,
            snapshot_every_txs: SNAPSHOT_INTERVAL_TXS,
            mqtt_auth_hook: false,
            clock: Arc::new(SystemClock),
            max_clock_step: MAX_CLOCK_STEP_DEFAULT,
            log_segment_bytes: LOG_SEGMENT_BYTES,
            faults: None,
            store: None,
            http_per_source: crate::http::sources::PerSource::default(),
            event_streams_max: EVENT_SUBSCRIBERS_MAX,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("data directory {0} is in use by another running node")]
    Locked(String),
    #[error("this node's key {0} is not a sequencer in the genesis; name it there or use the right --key")]
    NotSequencer(AccountId),
    #[error("block log: {0}")]
    Log(#[from] ting_store::LogError),
    #[error("snapshots: {0}")]
    Snapshot(#[from] ting_store::SnapshotError),
    #[error("snapshot at height {height} cannot be read: {reason}; move the snapshots directory aside to replay from genesis")]
    BadSnapshot { height: u64, reason: String },
    #[error("{0}")]
    OldData(String),
    #[error("the newest snapshot is at height {snapshot} but the block log ends at {log}; move the snapshots directory aside to replay from genesis")]
    SnapshotAhead { snapshot: u64, log: u64 },
    #[error("the state rebuilt from the data directory does not match the block log's last block: {0}; move the snapshots directory aside to replay from genesis, or restore the data directory from a backup")]
    StateMismatch(String),
    #[error("query index: {0}")]
    Index(#[from] ting_store::IndexError),
    #[error("the genesis is not valid: {0}")]
    Genesis(ting_core::genesis::GenesisError),
}

/// What start-up found, for logs and the recovery benchmark.
#[derive(Debug, Clone)]
pub struct StartReport {
    pub snapshot_height: u64,
    pub log: RecoveryReport,
    pub replayed_blocks: u64,
    pub took: Duration,
}

/// The parts of a running node that request handlers share.
#[derive(Debug)]
pub struct Shared {
    pub genesis: Genesis,
    pub genesis_hash: Hash32,
    pub sequencer: AccountId,
    pub state: Arc<RwLock<State>>,
    pub ingress: Ingress,
    pub log: LogReader,
    pub index: Arc<Index>,
    pub durable: Arc<Durable>,
    pub events: broadcast::Sender<Arc<CommittedBlock>>,
    pub metrics: Arc<Metrics>,
    pub refusals: Arc<Refusals>,
    /// The door's memory of recent hashes and its refusal budgets.
    pub admission: Arc<Admission>,
    pub faucet: Option<Faucet>,
    /// Becomes true when the HTTP server starts shutting down, so endless streams end.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// One permit per HTTP request being handled (`HTTP_REQUESTS_MAX`).
    pub http_permits: Arc<tokio::sync::Semaphore>,
    /// The HTTP edge's counts per client source and of bodies being read.
    pub(crate) http_sources: Arc<crate::http::sources::Sources>,
    /// One permit per open event stream (`NodeConfig::event_streams_max`).
    pub event_permits: Arc<tokio::sync::Semaphore>,
    /// How many event streams may be open (`NodeConfig::event_streams_max`).
    pub event_streams_max: usize,
    /// The account watchers the feed wakes (`/v1/events?skip_empty=true`).
    pub watchers: Arc<Watchers>,
    /// The overview the feed publishes once a second when it changed.
    pub overview: tokio::sync::watch::Receiver<Arc<Published>>,
    /// The MQTT broker devices are told to use in `/v1/status`
    /// (`mqtt://HOST:PORT`): set by whoever starts first, the operator's
    /// `--mqtt-advertise` or the gateway with its own broker's address.
    pub mqtt_broker: std::sync::OnceLock<String>,
    /// The logins an external broker asked about, when the node answers its
    /// HTTP auth hook (`NodeConfig::mqtt_auth_hook`); `None` otherwise.
    pub mqtt_logins: Option<std::sync::Mutex<ting_core::login::LoginReplay>>,
    /// Whether the ledger clock jumped and holds block cutting.
    pub clock_status: Arc<ClockStatus>,
    /// Where ledger time comes from (`NodeConfig::clock`).
    pub clock: Arc<dyn Clock>,
    /// The network's time by its genesis's clock: stamps the node's
    /// envelopes and checks login tokens.
    pub time: crate::clock::NetworkTime,
    /// The health of each component, for `/healthz` and `/metrics`.
    pub health: Arc<Health>,
    /// `GET /v1/genesis`'s answer, made at the first request (a genesis
    /// with many allocations is tens of megabytes: encoded once, not per request).
    pub genesis_doc: std::sync::OnceLock<axum::body::Bytes>,
    /// Open calls for proposals seen on the broker (`calls`), for `/v1/calls`.
    pub open_calls: crate::calls::OpenCalls,
    /// Set to have the executor ask for a snapshot at its next block.
    snapshot_now: Arc<AtomicBool>,
}

impl Shared {
    /// Asks for a state snapshot at the next block, whatever the interval
    /// (benchmarks use it to time a window that holds one).
    pub fn ask_snapshot(&self) {
        self.snapshot_now.store(true, Ordering::Release);
    }
}

/// A running node: its shared parts and its threads.
#[derive(Debug)]
pub struct Node {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    pipeline_threads: Vec<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
    snapshots: Arc<SnapshotStore>,
    report: StartReport,
    _lock: File,
}

fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StartError + '_ {
    move |source| StartError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn lock_data_dir(dir: &std::path::Path) -> Result<File, StartError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join("LOCK");
    let file = File::create(&path).map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(StartError::Locked(dir.display().to_string())),
        Err(fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
    }
}

/// What recovery hands the launch: the state, the open log, the snapshot's
/// height, what opening the log found, and the blocks replayed.
type Recovered = (State, Box<dyn BlockLog>, u64, RecoveryReport, u64);

/// Loads the newest snapshot (or the genesis) and replays the log above it. The log
/// reads only the segments from the one holding the block above the snapshot, and
/// hands over the snapshot's own block first, which must be the one the snapshot names.
fn recover(
    cfg: &NodeConfig,
    snapshots: &SnapshotStore,
    hash_seed: u64,
) -> Result<Recovered, StartError> {
    let mut state = match snapshots.latest()? {
        Some(s) => State::decode(&s.state, hash_seed).map_err(|e| match e {
            ting_ledger::SnapshotDecodeError::OldVersion { .. } => {
                StartError::OldData(format!("{}: {e}", cfg.data_dir.display()))
            }
            e => StartError::BadSnapshot {
                height: s.height.0,
                reason: e.to_string(),
            },
        })?,
        None => State::from_genesis(&cfg.genesis, hash_seed),
    };
    if state.network() != cfg.genesis.network {
        return Err(StartError::BadSnapshot {
            height: state.height().0,
            reason: "it is for another network".into(),
        });
    }
    let (snap_height, snap_hash) = (state.height(), state.tip_hash());
    // The state map is built once, after the last block, not per block.
    state.begin_replay();
    let mut replayed = 0u64;
    let mut anchored = snap_height.0 == 0;
    let mut visit = |block: &Block| -> Result<(), String> {
        let h = block.header.height;
        if h <= snap_height {
            if h == snap_height {
                if block.header.hash() != snap_hash {
                    return Err(format!(
                        "the snapshot at height {h} does not match the log's block there"
                    ));
                }
                // The state map was rebuilt from the snapshot: its root must be the block's.
                state.adopt_tip_header(&block.header).map_err(|e| {
                    format!("the snapshot at height {h} does not match its block: {e}")
                })?;
                anchored = true;
            }
            return Ok(());
        }
        if !anchored {
            return Err(format!(
                "block {h} came before the log's block at the snapshot height {snap_height}"
            ));
        }
        let receipts = state.apply_block(block).map_err(|e| e.to_string())?;
        if let Some((i, Err(e))) = receipts.iter().enumerate().find(|(_, r)| r.is_err()) {
            return Err(format!(
                "block {h}, transaction {i} was refused on replay: {e}"
            ));
        }
        replayed += 1;
        Ok(())
    };
    let (log, report): (Box<dyn BlockLog>, RecoveryReport) = match &cfg.store {
        None => {
            let blocks_dir = cfg.data_dir.join("blocks");
            let mut options = LogOptions::default();
            options.segment_bytes = cfg.log_segment_bytes;
            options.faults = cfg.faults.clone();
            let (log, report) = FileLog::open_above_with(
                &blocks_dir,
                &cfg.genesis,
                snap_height,
                &options,
                &mut visit,
            )?;
            (Box::new(log), report)
        }
        Some(url) => {
            let (log, report) = crate::pg_store::open(url, &cfg.genesis, snap_height, &mut visit)?;
            (Box::new(log), report)
        }
    };
    if let Some(reason) = &report.truncated_reason {
        tracing::warn!(bytes = report.truncated_bytes, %reason, "cut a torn tail off the block log");
    }
    if report.last_height < snap_height {
        return Err(StartError::SnapshotAhead {
            snapshot: snap_height.0,
            log: report.last_height.0,
        });
    }
    // The log hands over the snapshot's block whenever it holds it.
    assert!(
        anchored,
        "the block log did not show its block at the snapshot height"
    );
    assert_eq!(
        state.height(),
        report.last_height,
        "replay reached the log's tip"
    );
    state
        .end_replay()
        .map_err(|e| StartError::StateMismatch(e.to_string()))?;
    Ok((state, log, snap_height.0, report, replayed))
}

impl Node {
    /// Recovers from the data directory and starts the pipeline.
    pub fn start(cfg: NodeConfig) -> Result<Node, StartError> {
        fail_stop_on_node_thread_panic();
        let started = Instant::now();
        cfg.genesis.validate().map_err(StartError::Genesis)?;
        if !cfg.genesis.sequencers.contains(&cfg.key.account()) {
            return Err(StartError::NotSequencer(cfg.key.account()));
        }
        let lock = lock_data_dir(&cfg.data_dir)?;
        let snapshots = Arc::new(SnapshotStore::open_with(
            &cfg.data_dir.join("snapshots"),
            cfg.faults.clone(),
        )?);
        let hash_seed = rand::random::<u64>();
        let (state, log, snapshot_height, log_report, replayed) =
            recover(&cfg, &snapshots, hash_seed)?;
        let index = Arc::new(Index::open_with(
            &cfg.data_dir.join("index.redb"),
            cfg.faults.clone(),
        )?);
        if index.indexed_height()? > state.height() {
            tracing::warn!("the index is ahead of the block log; rebuilding it");
            index.reset()?;
        }
        let report = StartReport {
            snapshot_height,
            log: log_report,
            replayed_blocks: replayed,
            took: started.elapsed(),
        };
        Ok(Node::launch(
            cfg, state, log, index, snapshots, report, lock,
        ))
    }

    fn launch(
        cfg: NodeConfig,
        state: State,
        log: Box<dyn BlockLog>,
        index: Arc<Index>,
        snapshots: Arc<SnapshotStore>,
        report: StartReport,
        lock: File,
    ) -> Node {
        let mut cfg = cfg;
        let time = crate::clock::NetworkTime::of(&cfg.genesis);
        if time.is_accelerated() {
            // The genesis's clock is the network's: every device computes it too.
            cfg.clock = Arc::new(time);
        }
        let load = Arc::new(Load::default());
        let metrics = Arc::new(Metrics::default());
        let refusals = Arc::new(Refusals::default());
        let admission = Arc::new(Admission::default());
        let durable = Arc::new(Durable::new(state.height()));
        let (events, _) = broadcast::channel(EVENTS_BUFFER_MAX);
        // The feed's subscription, made before the writer can publish anything.
        let feed_blocks = events.subscribe();
        let watchers = Arc::new(Watchers::new(state.height().0));
        let clock_status = Arc::new(ClockStatus::default());
        warn_if_behind(
            cfg.clock.read().wall,
            state.last_timestamp(),
            cfg.max_clock_step,
        );
        // The snapshotter's copy, taken before anything else touches the state.
        let replica = state.clone();
        let state = Arc::new(RwLock::new(state));
        let stopping = Arc::new(AtomicBool::new(false));
        let reader = log.reader();
        let health = Arc::new(Health::new(
            Arc::clone(&metrics),
            // The disk to watch: the log's, or with the log in PostgreSQL
            // the snapshots' and the index's.
            match cfg.store {
                None => cfg.data_dir.join("blocks"),
                Some(_) => cfg.data_dir.clone(),
            },
            index.indexed_height().map_or(0, |h| h.0),
            report.snapshot_height,
        ));

        let (chunk_tx, chunk_rx) = mpsc::channel();
        let (checked_tx, checked_rx) = mpsc::channel();
        let (sealed_tx, sealed_rx) = mpsc::sync_channel(DURABLE_QUEUE_BLOCKS_MAX);
        let snapshot_busy = Arc::new(AtomicBool::new(false));
        let snapshot_retry = Arc::new(AtomicBool::new(false));
        let (snap_tx, snap_rx) = mpsc::sync_channel(1);
        let mut pipeline_threads = pipeline::spawn_verifiers(
            cfg.verify_workers,
            chunk_rx,
            checked_tx,
            Arc::clone(&load),
            Arc::clone(&admission),
        );
        let exec_cfg = ExecutorConfig {
            key: Keypair::from_seed(cfg.key.seed()),
            block_cut: cfg.block_cut,
            snapshot_every_blocks: cfg.snapshot_every_blocks,
            snapshot_every_txs: cfg.snapshot_every_txs,
            clock: Arc::clone(&cfg.clock),
            guard: TimeGuard::new(cfg.max_clock_step),
            clock_status: Arc::clone(&clock_status),
        };
        pipeline_threads.push(pipeline::spawn_executor(
            exec_cfg,
            pipeline::ExecutorParts {
                state: Arc::clone(&state),
                checked: checked_rx,
                to_writer: sealed_tx,
                snapshots: snap_tx,
                snapshot_busy: Arc::clone(&snapshot_busy),
                snapshot_retry: Arc::clone(&snapshot_retry),
                durable: Arc::clone(&durable),
                load: Arc::clone(&load),
                refusals: Arc::clone(&refusals),
                admission: Arc::clone(&admission),
                metrics: Arc::clone(&metrics),
            },
        ));
        let writer_parts = pipeline::WriterParts {
            durable: Arc::clone(&durable),
            refusals: Arc::clone(&refusals),
            events: events.clone(),
            metrics: Arc::clone(&metrics),
        };
        pipeline_threads.push(pipeline::spawn_writer(log, sealed_rx, writer_parts));
        let mut threads = vec![
            spawn_indexer(IndexerParts {
                index: Arc::clone(&index),
                log: reader.clone(),
                durable: Arc::clone(&durable),
                stopping: Arc::clone(&stopping),
                load: Arc::clone(&load),
                health: Arc::clone(&health),
                metrics: Arc::clone(&metrics),
            }),
            spawn_snapshotter(
                replica,
                SnapshotterParts {
                    store: Arc::clone(&snapshots),
                    log: reader.clone(),
                    requests: snap_rx,
                    durable: Arc::clone(&durable),
                    stopping: Arc::clone(&stopping),
                    busy: snapshot_busy,
                    retry: Arc::clone(&snapshot_retry),
                    health: Arc::clone(&health),
                },
            ),
        ];
        let (feed, overview) = Feed::new(FeedParts {
            state: Arc::clone(&state),
            load: Arc::clone(&load),
            log: reader.clone(),
            durable: Arc::clone(&durable),
            blocks: feed_blocks,
            watchers: Arc::clone(&watchers),
            stopping: Arc::clone(&stopping),
        });
        threads.push(feed.spawn());
        let faucet = cfg.faucet.map(Faucet::new);
        let shared = Arc::new(Shared {
            genesis_doc: std::sync::OnceLock::new(),
            open_calls: crate::calls::OpenCalls::default(),
            genesis_hash: cfg.genesis.hash(),
            time,
            sequencer: cfg.key.account(),
            genesis: cfg.genesis,
            state,
            ingress: Ingress::new(chunk_tx, load),
            log: reader,
            index,
            durable,
            events,
            metrics,
            refusals,
            admission,
            faucet,
            closing: tokio::sync::watch::Sender::new(false),
            http_permits: Arc::new(tokio::sync::Semaphore::new(HTTP_REQUESTS_MAX)),
            http_sources: Arc::new(crate::http::sources::Sources::new(cfg.http_per_source)),
            event_permits: Arc::new(tokio::sync::Semaphore::new(cfg.event_streams_max)),
            event_streams_max: cfg.event_streams_max,
            watchers,
            overview,
            mqtt_broker: std::sync::OnceLock::new(),
            mqtt_logins: cfg.mqtt_auth_hook.then(|| {
                let replay = ting_core::login::LoginReplay::default();
                std::sync::Mutex::new(replay.on_clock(time.clock()))
            }),
            clock_status,
            clock: Arc::clone(&cfg.clock),
            health,
            snapshot_now: snapshot_retry,
        });
        threads.push(spawn_health_watch(
            Arc::downgrade(&shared),
            Arc::clone(&stopping),
        ));
        Node {
            shared,
            threads,
            pipeline_threads,
            stopping,
            snapshots,
            report,
            _lock: lock,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn report(&self) -> &StartReport {
        &self.report
    }

    /// Stops admitting, drains every stage, writes a final snapshot, joins the threads.
    pub fn shutdown(self) {
        self.shared.ingress.close();
        for t in self.pipeline_threads {
            let _ = t.join();
        }
        self.stopping.store(true, Ordering::Release);
        for t in self.threads {
            let _ = t.join();
        }
        let state = self.shared.state.read().expect("state lock");
        let (height, hash) = (state.height(), state.tip_hash());
        let newest = self
            .snapshots
            .list()
            .ok()
            .and_then(|l| l.last().map(|(h, _)| *h));
        // Only a state whose every block is durable may be snapshotted.
        let durable = self.shared.durable.height() == height;
        if height.0 > 0 && durable && newest != Some(height) {
            if let Err(e) = self.snapshots.write(height, hash, &state.encode()) {
                tracing::warn!(error = %e, "could not write the shutdown snapshot");
            }
        }
        let _ = self.shared.index.flush();
    }
}

/// Makes a panic on a node thread (one named `ting-...`) abort the process,
/// once per process, after the previous hook has reported it. Those threads
/// hold state ahead of the durable log; limping on without one leaves a
/// half-dead node, while a restart recovers from the log. Panics on other
/// threads (the embedding program's) go on as before.
fn fail_stop_on_node_thread_panic() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            if name.starts_with("ting-") {
                eprintln!("ting-node: a panic on the node thread {name} is a bug; stopping the process so that recovery starts from the durable log");
                std::process::abort();
            }
        }));
    });
}

/// Says loudly at start when the ledger is ahead of this clock by more than
/// the bound: blocks then keep the last block's time (ledger time never goes
/// back) until the clock catches up, so day limits and claim windows stand
/// still meanwhile.
fn warn_if_behind(now: ting_core::Timestamp, last: ting_core::Timestamp, step: Duration) {
    let behind_ms = last.0.saturating_sub(now.0);
    if u128::from(behind_ms) > step.as_millis() {
        tracing::warn!(
            behind_ms,
            "this clock is {} s behind the last block's time; blocks keep that time until the clock catches up. If the clock is right, an earlier run's clock was ahead",
            behind_ms / 1_000
        );
    }
}
