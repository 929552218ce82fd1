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
use ting_core::{AccountId, Genesis, Hash32, Keypair};
use ting_ledger::State;
use ting_store::{BlockLog, ChainRules, Index, LogReader, RecoveryReport, SnapshotStore};
use tokio::sync::broadcast;

use crate::admission::Admission;
use crate::background::{spawn_indexer, IndexerParts};
use crate::clock::{Clock, ClockStatus, SystemClock, TimeGuard, MAX_CLOCK_STEP_DEFAULT};
use crate::faucet::Faucet;
use crate::feed::{Feed, FeedParts, Published, Watchers};
use crate::health::{spawn_health_watch, Health};
use crate::lead::{Role, Roles};
use crate::metrics::Metrics;
use crate::pipeline::{self, CommittedBlock, Durable, ExecutorConfig, Ingress, Load};
use crate::recovery::OpenedLog;
use crate::refusals::Refusals;
use crate::snapshotter::{spawn_snapshotter, SnapshotterParts};

/// The leader epoch of a node that sequences alone on its own files.
const SINGLE_NODE_EPOCH: u64 = 0;
/// The least time start waits for a node on PostgreSQL's first look at the lease.
const LEASE_LOOK_WAIT_MIN: Duration = Duration::from_secs(5);

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
    /// On PostgreSQL the node follows, and leads while it holds the lease
    /// (`crate::lead`, configured by `lease`).
    pub store: Option<String>,
    /// How a node on PostgreSQL takes part in leadership.
    pub lease: crate::lead::LeaseConfig,
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
            lease: crate::lead::LeaseConfig::default(),
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
    /// Whether this node sequences alone, follows or leads (`crate::lead`).
    pub roles: Arc<crate::lead::Roles>,
    /// On PostgreSQL: sends submissions to the leader while this node follows.
    pub(crate) forward: Option<crate::lead::Forwarder>,
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
    /// Set first at shutdown: a follower stops following.
    closing: Arc<AtomicBool>,
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
            crate::recovery::recover(&cfg, &snapshots, hash_seed)?;
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
        log: OpenedLog,
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
        let closing = Arc::new(AtomicBool::new(false));
        let reader = match &log {
            OpenedLog::Files(log) => log.reader(),
            OpenedLog::Postgres(log) => log.reader(),
        };
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
            epoch: SINGLE_NODE_EPOCH,
        };
        let exec_parts = pipeline::ExecutorParts {
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
        };
        let writer_parts = pipeline::WriterParts {
            durable: Arc::clone(&durable),
            refusals: Arc::clone(&refusals),
            events: events.clone(),
            metrics: Arc::clone(&metrics),
        };
        let (settled_tx, settled) = mpsc::channel();
        // On PostgreSQL the follower starts last, once everything that
        // starts from the recovered height (the feed, the indexer) has.
        let mut follower = None;
        let (roles, forward) = match log {
            OpenedLog::Files(log) => {
                pipeline_threads.push(pipeline::spawn_executor(exec_cfg, exec_parts));
                pipeline_threads.push(pipeline::spawn_writer(log, sealed_rx, writer_parts));
                (Arc::new(Roles::new(Role::Single)), None)
            }
            OpenedLog::Postgres(log) => {
                let roles = Arc::new(Roles::new(Role::Following { leader: None }));
                follower = Some(crate::lead::FollowerParts {
                    url: cfg.store.clone().expect("a PostgreSQL log has its URL"),
                    holder: cfg.key.account().to_did(),
                    lease: cfg.lease.clone(),
                    rules: ChainRules::from_genesis(&cfg.genesis),
                    log,
                    state: Arc::clone(&state),
                    durable: Arc::clone(&durable),
                    events: events.clone(),
                    metrics: Arc::clone(&metrics),
                    roles: Arc::clone(&roles),
                    closing: Arc::clone(&closing),
                    snapshot_every_blocks: cfg.snapshot_every_blocks,
                    standby: crate::lead::Standby {
                        executor: exec_cfg,
                        executor_parts: exec_parts,
                        sealed: sealed_rx,
                        writer_parts,
                    },
                    settled: settled_tx,
                });
                let forward = crate::lead::Forwarder::new(
                    (Keypair::from_seed(cfg.key.seed()), cfg.genesis.hash()),
                    Arc::clone(&roles),
                    Arc::clone(&durable),
                    reader.clone(),
                    Arc::clone(&admission),
                    Arc::clone(&refusals),
                );
                (roles, Some(forward))
            }
        };
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
        if let Some(parts) = follower {
            pipeline_threads.push(crate::lead::spawn_follower(parts));
            // A lone node leads before start returns; one that finds
            // another leading starts as its follower.
            let _ = settled.recv_timeout(cfg.lease.ttl.max(LEASE_LOOK_WAIT_MIN));
        }
        let faucet = cfg.faucet.map(Faucet::new);
        let shared = Arc::new(Shared {
            genesis_doc: std::sync::OnceLock::new(),
            open_calls: crate::calls::OpenCalls::default(),
            roles,
            forward,
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
            closing,
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
        self.closing.store(true, Ordering::Release);
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
