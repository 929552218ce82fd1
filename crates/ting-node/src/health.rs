//! Health per component: what `GET /healthz` and `ting_component_degraded` report.
//!
//! Each part of a running node that can go wrong without stopping it is a
//! component: `pipeline` (transactions wait and nothing moves), `writer` (the
//! block log's disk is nearly full; a full one stops the node), `indexer` and
//! `snapshotter` (their supervisors record each failure and clear it on the
//! next success), and `mqtt` (the gateway's link to its broker, when there is
//! one). A component is ok, or degraded with a stable code, a message saying
//! what is wrong and what to do, and since when.
//!
//! Supervisors record their troubles as they happen. The rest is sampled every
//! `HEALTH_SAMPLE_EVERY` by the `ting-health` thread and again on each
//! `/healthz`, so `/metrics` stays true when nobody asks `/healthz`. The
//! decisions are pure functions of their readings and of the time they are
//! given ([`disk_low`], [`StallWatch::observe`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use ting_core::limits::{
    DISK_FREE_MIN_BYTES, DISK_FREE_MIN_PERCENT, HEALTH_SAMPLE_EVERY, PIPELINE_STALL_AFTER,
};

use crate::metrics::Metrics;
use crate::node::Shared;

/// How long the health thread sleeps before it looks at the stop flag again.
const POLL: Duration = Duration::from_millis(100);

/// A part of the node that reports its health.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Pipeline,
    Writer,
    Indexer,
    Snapshotter,
    Mqtt,
}

impl Component {
    pub const ALL: [Component; 5] = [
        Component::Pipeline,
        Component::Writer,
        Component::Indexer,
        Component::Snapshotter,
        Component::Mqtt,
    ];

    /// Its name in `/healthz` and in the `component` label of the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Component::Pipeline => "pipeline",
            Component::Writer => "writer",
            Component::Indexer => "indexer",
            Component::Snapshotter => "snapshotter",
            Component::Mqtt => "mqtt",
        }
    }
}

/// What is wrong with a degraded component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trouble {
    /// Stable and machine-readable: `stalled`, `disk_low`, `index_failed`,
    /// `snapshot_failed`, `disconnected`.
    pub code: &'static str,
    /// What is wrong and what to do.
    pub message: String,
    /// When it began, in milliseconds since the Unix epoch.
    pub since_ms: u64,
}

/// The health of a running node's components (`Shared::health`).
#[derive(Debug)]
pub struct Health {
    metrics: Arc<Metrics>,
    /// The block log's directory, whose filesystem the writer fills.
    blocks_dir: PathBuf,
    troubles: Mutex<[Option<Trouble>; Component::ALL.len()]>,
    /// The height the indexer last reached: read without touching the index,
    /// which may be failing or reopening.
    indexed_height: AtomicU64,
    /// The height of the last snapshot written (or loaded at start); 0 for none.
    snapshot_height: AtomicU64,
    samples: Mutex<Samples>,
}

/// What the samplers remember between two readings.
#[derive(Debug, Default)]
struct Samples {
    stall: StallWatch,
    disk: Option<DiskSpace>,
}

impl Health {
    pub fn new(
        metrics: Arc<Metrics>,
        blocks_dir: PathBuf,
        indexed_height: u64,
        snapshot_height: u64,
    ) -> Health {
        for c in Component::ALL {
            metrics.set_degraded(c.name(), false);
        }
        Health {
            metrics,
            blocks_dir,
            troubles: Mutex::default(),
            indexed_height: AtomicU64::new(indexed_height),
            snapshot_height: AtomicU64::new(snapshot_height),
            samples: Mutex::default(),
        }
    }

    /// What is wrong with `c` now, if anything.
    pub fn trouble(&self, c: Component) -> Option<Trouble> {
        self.troubles()[c as usize].clone()
    }

    pub fn indexed_height(&self) -> u64 {
        self.indexed_height.load(Ordering::Acquire)
    }

    pub fn snapshot_height(&self) -> u64 {
        self.snapshot_height.load(Ordering::Acquire)
    }

    /// The indexer failed; `message` says why and when it tries again.
    pub(crate) fn index_failed(&self, message: String) {
        self.record(
            Component::Indexer,
            "index_failed",
            message,
            SystemTime::now(),
        );
    }

    /// The indexer reached `height`: whatever went wrong before is over.
    pub(crate) fn indexed(&self, height: u64) {
        self.indexed_height.store(height, Ordering::Release);
        self.clear(Component::Indexer);
    }

    /// A snapshot write failed; `message` says why and when it tries again.
    pub(crate) fn snapshot_failed(&self, message: String) {
        let c = Component::Snapshotter;
        self.record(c, "snapshot_failed", message, SystemTime::now());
    }

    pub(crate) fn snapshot_written(&self, height: u64) {
        self.snapshot_height.store(height, Ordering::Release);
        self.clear(Component::Snapshotter);
    }

    /// Reads the pipeline's progress, the block log's free space and the MQTT
    /// link, and records or clears their troubles.
    pub fn sample(&self, shared: &Shared) {
        // Held to the end, so that two samplers (the thread and a request)
        // record what they read in the order they read it.
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let load = shared.ingress.load();
        let reading = PipelineReading {
            durable_height: shared.durable.height().0,
            refused: shared.metrics.refused_total(),
            waiting_txs: load.verifying.load(Ordering::Acquire)
                + load.sequencing.load(Ordering::Acquire),
            block_open: load.block_open.load(Ordering::Acquire),
        };
        let disk = DiskSpace::of(&self.blocks_dir);
        samples.disk = disk;
        let stalled = samples
            .stall
            .observe(reading, Instant::now(), PIPELINE_STALL_AFTER);
        match stalled {
            Some(for_) => self.record(
                Component::Pipeline,
                "stalled",
                stalled_message(reading.waiting_txs, for_),
                SystemTime::now().checked_sub(for_).unwrap_or(UNIX_EPOCH),
            ),
            None => self.clear(Component::Pipeline),
        }
        match disk {
            Some(d) if disk_low(d) => {
                let message = disk_low_message(&self.blocks_dir, d);
                self.record(Component::Writer, "disk_low", message, SystemTime::now());
            }
            _ => self.clear(Component::Writer),
        }
        let connected = shared.metrics.mqtt.connected.load(Ordering::Relaxed) == 1;
        match shared.mqtt_broker.get() {
            Some(broker) if !connected => {
                let message = format!("the node's link to its MQTT broker {broker} is down: devices on MQTT get no receipts meanwhile; the gateway reconnects by itself, so check that the broker runs and is reachable");
                self.record(Component::Mqtt, "disconnected", message, SystemTime::now());
            }
            _ => self.clear(Component::Mqtt),
        }
    }

    fn troubles(&self) -> std::sync::MutexGuard<'_, [Option<Trouble>; Component::ALL.len()]> {
        // Each slot is replaced whole: a panic cannot leave one half written.
        self.troubles.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `c` degraded; a trouble with the same code keeps its start.
    fn record(&self, c: Component, code: &'static str, message: String, since: SystemTime) {
        let mut troubles = self.troubles();
        let slot = &mut troubles[c as usize];
        match slot {
            Some(t) if t.code == code => t.message = message,
            _ => {
                tracing::warn!(component = c.name(), code, "{message}");
                *slot = Some(Trouble {
                    code,
                    message,
                    since_ms: unix_ms(since),
                });
                self.metrics.set_degraded(c.name(), true);
            }
        }
    }

    fn clear(&self, c: Component) {
        if let Some(t) = self.troubles()[c as usize].take() {
            tracing::info!(component = c.name(), code = t.code, "recovered");
            self.metrics.set_degraded(c.name(), false);
        }
    }

    /// A component's entry in `/healthz`: its status, its trouble, its fields.
    fn entry(&self, c: Component, fields: Value) -> (Value, bool) {
        let mut entry = Map::new();
        let trouble = self.trouble(c);
        let degraded = trouble.is_some();
        match trouble {
            None => {
                entry.insert("status".into(), json!("ok"));
            }
            Some(t) => {
                entry.insert("status".into(), json!("degraded"));
                entry.insert("code".into(), json!(t.code));
                entry.insert("message".into(), json!(t.message));
                entry.insert("since_ms".into(), json!(t.since_ms));
            }
        }
        if let Value::Object(fields) = fields {
            entry.extend(fields);
        }
        (Value::Object(entry), degraded)
    }
}

/// What `/healthz` answers: 200 with `body` when `ok`, 503 otherwise.
#[derive(Debug)]
pub struct Report {
    pub ok: bool,
    pub body: Value,
}

/// Samples the node and builds the `/healthz` answer (docs/api.md §8.1).
pub fn report(shared: &Shared) -> Report {
    let health = &shared.health;
    health.sample(shared);
    let durable = shared.durable.height().0;
    let indexed = health.indexed_height();
    let load = shared.ingress.load();
    let queued = load.verifying.load(Ordering::Acquire) + load.sequencing.load(Ordering::Acquire);
    let disk = health
        .samples
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .disk;
    let connected = shared.metrics.mqtt.connected.load(Ordering::Relaxed) == 1;
    let broker = shared.mqtt_broker.get();
    let mut entries = vec![
        (Component::Pipeline, json!({ "queued_txs": queued })),
        (
            Component::Writer,
            json!({
                "disk_free_bytes": disk.map(|d| d.free_bytes),
                "disk_free_min_bytes": disk.map(|d| disk_free_min_bytes(d.total_bytes)),
            }),
        ),
        (
            Component::Indexer,
            json!({ "indexed_height": indexed, "lag_blocks": durable.saturating_sub(indexed) }),
        ),
        (
            Component::Snapshotter,
            json!({ "snapshot_height": health.snapshot_height() }),
        ),
    ];
    if let Some(broker) = broker {
        let fields = json!({ "broker": broker, "connected": connected });
        entries.push((Component::Mqtt, fields));
    }
    let mut components = Map::new();
    let mut degraded = false;
    for (c, fields) in entries {
        let (entry, bad) = health.entry(c, fields);
        degraded |= bad;
        components.insert(c.name().into(), entry);
    }
    let mut body = json!({
        "status": if degraded { "degraded" } else { "ok" },
        "durable_height": durable,
        "components": components,
    });
    if let Some(broker) = broker {
        // Also at the top level, where it was before components were reported.
        body["mqtt"] = json!({ "broker": broker, "connected": connected });
    }
    let jump = shared.clock_status.jump();
    if let Some(jump) = &jump {
        body["status"] = json!(jump.code());
        body["clock"] = json!({
            "ahead": jump.ahead,
            "by_ms": jump.by_ms,
            "max_step_ms": jump.max_step_ms,
            "message": jump.to_string(),
        });
    }
    Report {
        ok: !degraded && jump.is_none(),
        body,
    }
}

/// Samples the node every `HEALTH_SAMPLE_EVERY` until it stops (or is gone).
pub(crate) fn spawn_health_watch(
    shared: Weak<Shared>,
    stopping: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ting-health".into())
        .spawn(move || loop {
            let mut waited = Duration::ZERO;
            while waited < HEALTH_SAMPLE_EVERY {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(POLL);
                waited += POLL;
            }
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.health.sample(&shared);
        })
        .expect("spawn health thread")
}

// ---- The decisions, as pure functions of their readings ----

/// The size and free space of a filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    /// Free to an unprivileged process (`f_bavail`).
    pub free_bytes: u64,
    pub total_bytes: u64,
}

impl DiskSpace {
    /// The filesystem that holds `dir`; `None` if it cannot be read.
    pub fn of(dir: &Path) -> Option<DiskSpace> {
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(DiskSpace {
            free_bytes: st.f_bavail.saturating_mul(st.f_frsize),
            total_bytes: st.f_blocks.saturating_mul(st.f_frsize),
        })
    }
}

/// The free space below which a filesystem of `total_bytes` counts as low.
pub fn disk_free_min_bytes(total_bytes: u64) -> u64 {
    DISK_FREE_MIN_BYTES.min(total_bytes / 100 * DISK_FREE_MIN_PERCENT)
}

/// Whether the block log's filesystem is nearly full.
pub fn disk_low(d: DiskSpace) -> bool {
    d.free_bytes < disk_free_min_bytes(d.total_bytes)
}

fn disk_low_message(dir: &Path, d: DiskSpace) -> String {
    format!(
        "the filesystem of the block log ({}) has {} bytes free, less than {}: when it is full the node stops (nothing acknowledged is lost); free space there or grow it",
        dir.display(),
        d.free_bytes,
        disk_free_min_bytes(d.total_bytes)
    )
}

fn stalled_message(waiting_txs: usize, for_: Duration) -> String {
    format!(
        "{waiting_txs} transactions wait and the pipeline has made no block durable and refused nothing for {} s: look in the log for a hung disk under the block log or a clock jump; a restart recovers from the durable log",
        for_.as_secs()
    )
}

/// What the pipeline looks like at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineReading {
    pub durable_height: u64,
    /// Transactions refused so far: refusing is progress too.
    pub refused: u64,
    /// Transactions waiting for verification or for the executor.
    pub waiting_txs: usize,
    /// Whether the executor holds an open block.
    pub block_open: bool,
}

/// Tells a stalled pipeline from an idle or a busy one, from readings.
#[derive(Debug, Default)]
pub struct StallWatch {
    /// The durable height and refusal count of the last reading.
    last: Option<(u64, u64)>,
    /// Since when every reading showed work waiting and no progress.
    waiting_since: Option<Instant>,
}

impl StallWatch {
    /// Takes the reading made at `now`; answers how long work has waited
    /// without progress, when that is longer than `after`.
    pub fn observe(
        &mut self,
        r: PipelineReading,
        now: Instant,
        after: Duration,
    ) -> Option<Duration> {
        let progress = (r.durable_height, r.refused);
        let moved = self.last != Some(progress);
        self.last = Some(progress);
        let waiting = r.waiting_txs > 0 || r.block_open;
        if moved || !waiting {
            self.waiting_since = waiting.then_some(now);
        } else if self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
        let stalled = now.saturating_duration_since(self.waiting_since?);
        (stalled > after).then_some(stalled)
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;
    const AFTER: Duration = Duration::from_secs(30);

    fn disk(free_bytes: u64, total_bytes: u64) -> DiskSpace {
        DiskSpace {
            free_bytes,
            total_bytes,
        }
    }

    #[test]
    fn a_disk_is_low_below_the_smaller_of_the_bytes_and_the_share_of_its_size() {
        // A large disk: the bound is DISK_FREE_MIN_BYTES.
        let big = 1024 * 1024 * MIB;
        assert_eq!(disk_free_min_bytes(big), DISK_FREE_MIN_BYTES);
        assert!(disk_low(disk(DISK_FREE_MIN_BYTES - 1, big)));
        assert!(!disk_low(disk(DISK_FREE_MIN_BYTES, big)));
        // A small one: 5 % of its size.
        let small = 1000 * MIB;
        assert_eq!(disk_free_min_bytes(small), 50 * MIB);
        assert!(disk_low(disk(50 * MIB - 1, small)));
        assert!(!disk_low(disk(50 * MIB, small)));
        // An empty reading (no size) is never low.
        assert!(!disk_low(disk(0, 0)));
    }

    #[test]
    fn the_data_directory_s_filesystem_can_be_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = DiskSpace::of(dir.path()).expect("statvfs of a directory");
        assert!(d.total_bytes > 0 && d.free_bytes <= d.total_bytes, "{d:?}");
        assert_eq!(DiskSpace::of(&dir.path().join("missing")), None);
    }

    fn reading(durable_height: u64, refused: u64, waiting_txs: usize) -> PipelineReading {
        PipelineReading {
            durable_height,
            refused,
            waiting_txs,
            block_open: false,
        }
    }

    #[test]
    fn a_pipeline_stalls_only_when_work_waits_without_progress_for_longer_than_the_bound() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = StallWatch::default();
        // Idle for an hour, then a transaction arrives: not a stall.
        assert_eq!(w.observe(reading(5, 0, 0), at(0), AFTER), None);
        assert_eq!(w.observe(reading(5, 0, 0), at(3600), AFTER), None);
        assert_eq!(w.observe(reading(5, 0, 1), at(3601), AFTER), None);
        // It waits, nothing moves: a stall only past the bound.
        assert_eq!(w.observe(reading(5, 0, 1), at(3631), AFTER), None);
        assert_eq!(
            w.observe(reading(5, 0, 3), at(3632), AFTER),
            Some(Duration::from_secs(31))
        );
        // A durable block is progress.
        assert_eq!(w.observe(reading(6, 0, 3), at(3633), AFTER), None);
        assert_eq!(w.observe(reading(6, 0, 3), at(3660), AFTER), None);
        // So is a refusal.
        assert_eq!(w.observe(reading(6, 1, 3), at(3670), AFTER), None);
        assert_eq!(w.observe(reading(6, 1, 3), at(3700), AFTER), None);
        assert_eq!(
            w.observe(reading(6, 1, 3), at(3701), AFTER),
            Some(Duration::from_secs(31))
        );
        // Nothing waiting any more: no stall, whatever the height.
        assert_eq!(w.observe(reading(6, 1, 0), at(3800), AFTER), None);
    }

    #[test]
    fn a_trouble_keeps_its_start_until_progress_clears_it_and_the_gauge_follows() {
        let metrics = Arc::new(Metrics::default());
        let health = Health::new(Arc::clone(&metrics), PathBuf::from("/"), 0, 0);
        let gauge = |v: u8| format!("ting_component_degraded{{component=\"indexer\"}} {v}\n");
        let rendered = || metrics.render(&crate::metrics::Gauges::default());
        assert!(rendered().contains(&gauge(0)), "{}", rendered());
        let t0 = UNIX_EPOCH + Duration::from_secs(100);
        let c = Component::Indexer;
        health.record(c, "index_failed", "first".into(), t0);
        health.record(c, "index_failed", "again".into(), t0 + AFTER);
        let t = health.trouble(c).expect("degraded");
        assert_eq!(
            (t.code, t.message.as_str(), t.since_ms),
            ("index_failed", "again", 100_000)
        );
        assert!(rendered().contains(&gauge(1)), "{}", rendered());
        health.indexed(7);
        assert_eq!(health.trouble(c), None);
        assert_eq!(health.indexed_height(), 7);
        assert!(rendered().contains(&gauge(0)), "{}", rendered());
    }

    #[test]
    fn an_open_block_that_is_never_made_durable_is_a_stall() {
        let t0 = Instant::now();
        let mut w = StallWatch::default();
        let open = PipelineReading {
            block_open: true,
            ..reading(9, 0, 0)
        };
        assert_eq!(w.observe(open, t0, AFTER), None);
        let later = t0 + Duration::from_secs(45);
        assert_eq!(w.observe(open, later, AFTER), Some(Duration::from_secs(45)));
    }
}
