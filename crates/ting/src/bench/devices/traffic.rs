//! The devices that carry the traffic: full SDK devices (`ting_agent::Device`),
//! each with its outbox, its MQTT link and its receipt checks, sending
//! transfers to one sink account over the node's broker.
//!
//! A transfer's latency is the device's: from `queue` (signed, written to the
//! outbox) to its ticket resolving with a receipt the device checked against
//! the sequencer's key.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ting_agent::{Broker, Device, DeviceConfig, Ticket};
use ting_core::{AccountId, Amount, Keypair, TxKind};
use tokio::runtime::Runtime;

use crate::bench::TempDir;

/// Transfers one device keeps unanswered in the saturating window.
pub const DEVICE_WINDOW: usize = 16;
/// How often the paced window hands out its transfers.
const PACE_TICK: Duration = Duration::from_millis(10);
/// How long a device may take to connect at start.
const CONNECT_WAIT: Duration = Duration::from_secs(60);

/// The SDK devices.
pub struct Fleet {
    devices: Vec<Arc<Device>>,
    /// Every transfer confirmed or failed since the start, in or out of a window.
    pub totals: Arc<Totals>,
    pub sink: AccountId,
    _root: TempDir,
}

/// Every transfer's end, whichever window it fell in.
#[derive(Debug, Default)]
pub struct Totals {
    pub confirmed: AtomicU64,
    pub failed: AtomicU64,
}

impl Totals {
    fn count(&self, ok: bool) {
        if ok {
            self.confirmed.fetch_add(1, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a window of traffic came to.
#[derive(Debug, Default)]
pub struct Window {
    pub confirmed: u64,
    pub failed: u64,
    pub seconds: f64,
    /// Device-observed latencies, microseconds.
    pub latencies_us: Vec<u32>,
}

impl Window {
    pub fn rate(&self) -> f64 {
        self.confirmed as f64 / self.seconds.max(1e-9)
    }
}

impl Fleet {
    /// One device per key, learning the network and broker from the node's
    /// `/v1/status`, its state on `state_root`.
    pub fn start(
        rt: &Runtime,
        keys: &[Keypair],
        node_url: &str,
        broker: Broker,
        state_root: &Path,
        seed: u64,
    ) -> anyhow::Result<Fleet> {
        let root = TempDir::new_in(state_root, "devices-sdk")?;
        let mut devices = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let dir = root.path().join(format!("device-{i}"));
            let key = Keypair::from_seed(key.seed());
            let device = rt.block_on(async {
                let mut config = DeviceConfig::discover(key, dir, node_url)
                    .await
                    .context("the node's status")?;
                config.broker = Some(broker.clone());
                config.seed = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Device::start(config).context("an SDK device starts")
            })?;
            devices.push(Arc::new(device));
        }
        let fleet = Fleet {
            devices,
            sink: crate::bench::workload::keypair(0x72, 0).account(),
            _root: root,
            totals: Arc::default(),
        };
        fleet.wait_connected(CONNECT_WAIT)?;
        Ok(fleet)
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Devices whose link is up now.
    pub fn connected(&self) -> usize {
        self.devices.iter().filter(|d| d.stats().connected).count()
    }

    /// Waits until every device's link is up.
    pub fn wait_connected(&self, deadline: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + deadline;
        while self.connected() < self.devices.len() {
            if Instant::now() > until {
                bail!(
                    "{} of {} SDK devices connected after {deadline:?}",
                    self.connected(),
                    self.devices.len()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn transfer(&self) -> TxKind {
        TxKind::Transfer {
            to: self.sink,
            amount: Amount::new(1),
            memo: Vec::new(),
        }
    }

    /// Every device keeps `DEVICE_WINDOW` transfers unanswered for `seconds`
    /// after `warm_up`; counts what is confirmed inside the window.
    pub fn saturate(&self, rt: &Runtime, warm_up: Duration, seconds: f64) -> Window {
        let start = Instant::now() + warm_up;
        let end = start + Duration::from_secs_f64(seconds);
        let out = Arc::new(Mutex::new(Window::default()));
        rt.block_on(async {
            let mut tasks = Vec::new();
            for device in &self.devices {
                for _ in 0..DEVICE_WINDOW {
                    let (device, out, kind) =
                        (Arc::clone(device), Arc::clone(&out), self.transfer());
                    let totals = Arc::clone(&self.totals);
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < end {
                            let sent = Instant::now();
                            let result = match device.queue(kind.clone()).await {
                                Ok(ticket) => ticket.wait().await.is_ok(),
                                Err(_) => false,
                            };
                            totals.count(result);
                            let done = Instant::now();
                            if sent >= start && done <= end {
                                record(&out, result, sent, done);
                            }
                        }
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        let mut w = std::mem::take(&mut *out.lock().expect("window"));
        w.seconds = seconds;
        w
    }

    /// Sends `rate` transfers a second, round-robin over the devices, for
    /// `seconds`; every transfer's latency is kept.
    pub fn paced(&self, rt: &Runtime, rate: f64, seconds: f64) -> Window {
        let out = Arc::new(Mutex::new(Window::default()));
        let per_tick = rate * PACE_TICK.as_secs_f64();
        // A window of seconds is a small positive count of ticks.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ticks = (seconds / PACE_TICK.as_secs_f64()).ceil() as u64;
        rt.block_on(async {
            let mut tasks = Vec::new();
            let mut owed = 0.0f64;
            let mut next = 0usize;
            let mut tick = tokio::time::interval(PACE_TICK);
            for _ in 0..ticks {
                tick.tick().await;
                owed += per_tick;
                while owed >= 1.0 {
                    owed -= 1.0;
                    let device = Arc::clone(&self.devices[next % self.devices.len()]);
                    next += 1;
                    let (out, kind) = (Arc::clone(&out), self.transfer());
                    let totals = Arc::clone(&self.totals);
                    tasks.push(tokio::spawn(async move {
                        let sent = Instant::now();
                        let result = match device.queue(kind).await {
                            Ok(ticket) => ticket.wait().await.is_ok(),
                            Err(_) => false,
                        };
                        totals.count(result);
                        record(&out, result, sent, Instant::now());
                    }));
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        });
        let mut w = std::mem::take(&mut *out.lock().expect("window"));
        w.seconds = seconds;
        w
    }

    /// Queues `per_device` transfers on every device without waiting (for
    /// an outage: they sit in the outboxes); answers the tickets.
    pub fn queue_all(&self, rt: &Runtime, per_device: usize) -> anyhow::Result<Vec<Ticket>> {
        rt.block_on(async {
            let mut tickets = Vec::new();
            for device in &self.devices {
                for _ in 0..per_device {
                    tickets.push(
                        device
                            .queue(self.transfer())
                            .await
                            .context("queueing a transfer")?,
                    );
                }
            }
            Ok(tickets)
        })
    }

    /// Shuts every device down.
    pub fn shutdown(self, rt: &Runtime) {
        rt.block_on(async {
            for d in self.devices {
                if let Ok(d) = Arc::try_unwrap(d) {
                    d.shutdown().await;
                }
            }
        });
    }

    /// The accounts of the devices.
    pub fn accounts(&self) -> Vec<AccountId> {
        self.devices.iter().map(|d| d.account()).collect()
    }
}

fn record(out: &Mutex<Window>, ok: bool, sent: Instant, done: Instant) {
    let mut w = out.lock().expect("window");
    if ok {
        w.confirmed += 1;
        let us = done.duration_since(sent).as_micros();
        w.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
    } else {
        w.failed += 1;
    }
}

/// Waits for every ticket, `deadline` in all; answers how many were
/// confirmed and what failed or was still unsettled.
pub fn settle(
    rt: &Runtime,
    totals: &Totals,
    tickets: Vec<Ticket>,
    deadline: Duration,
) -> (u64, Vec<String>) {
    rt.block_on(async {
        let until = tokio::time::Instant::now() + deadline;
        let (mut confirmed, mut failures) = (0u64, Vec::new());
        for t in tickets {
            let hash = t.tx_hash;
            match tokio::time::timeout_at(until, t.wait()).await {
                Ok(outcome) => {
                    totals.count(outcome.is_ok());
                    match outcome {
                        Ok(_) => confirmed += 1,
                        Err(e) => failures.push(format!("{hash}: {e}")),
                    }
                }
                Err(_) => failures.push(format!("{hash}: not settled within {deadline:?}")),
            }
        }
        (confirmed, failures)
    })
}

/// Where the devices keep their state: in memory (`/dev/shm`) where there is
/// one, since the devices' disks are not what this benchmark measures.
pub fn state_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}
