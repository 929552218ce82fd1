//! The devices of the MQTT run: each a `ting_agent::Device` holding one of
//! the test's funded accounts, sending transfers over the one broker only.
//! A device keeps a transaction until it holds a receipt it checked against
//! the genesis sequencers, sending it again while none comes (the node that
//! took it may have died with it); the test only queues and waits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ting_agent::{Broker, Confirmed, Device, DeviceConfig, LinkStats};
use ting_core::{AccountId, Amount, Keypair, TxKind};
use tokio::runtime::Runtime;

use super::common::Rng;
use super::nodes::{Nodes, NODES};

/// How long every queued transaction has, in all, to be confirmed: generous,
/// since a device's wait before sending again grows while nothing answers.
const CONFIRM_DEADLINE: Duration = Duration::from_secs(120);

/// What each device's transactions came to.
#[derive(Debug, Default)]
struct Outcomes {
    confirmed: Vec<(usize, Confirmed)>,
    failed: Vec<String>,
}

/// The devices and what they were told.
pub struct Fleet {
    runtime: Runtime,
    devices: Vec<Device>,
    _dirs: Vec<tempfile::TempDir>,
    pub recipient: AccountId,
    /// Per device: transactions queued and the amounts they move.
    pub queued: Vec<(u64, u64)>,
    outcomes: Arc<Mutex<Outcomes>>,
    rng: Rng,
}

impl Fleet {
    /// One device per funded account, each told of a different node (for
    /// its few HTTP questions) and of `broker`.
    pub fn start(nodes: &Nodes, broker: SocketAddr, seed: u64) -> Fleet {
        let runtime = Runtime::new().expect("a runtime");
        let mut rng = Rng::new(seed);
        let mut devices = Vec::new();
        let mut dirs = Vec::new();
        for (i, key) in nodes.net.users.iter().enumerate() {
            let dir = tempfile::tempdir().expect("a directory");
            let url = format!("http://{}", nodes.addr(i % NODES));
            let key = Keypair::from_seed(key.seed());
            let device = runtime.block_on(async {
                let mut config = DeviceConfig::discover(key, dir.path().to_path_buf(), &url)
                    .await
                    .expect("the node's status");
                config.broker = Some(Broker {
                    host: broker.ip().to_string(),
                    port: broker.port(),
                    tls: false,
                });
                config.seed = rng.next_u64();
                Device::start(config).expect("the device starts")
            });
            devices.push(device);
            dirs.push(dir);
        }
        let n = devices.len();
        Fleet {
            runtime,
            devices,
            _dirs: dirs,
            recipient: Keypair::from_seed(rng.seed32()).account(),
            queued: vec![(0, 0); n],
            outcomes: Arc::default(),
            rng,
        }
    }

    /// Queues `per_device` transfers on every device to the recipient.
    pub fn queue(&mut self, per_device: usize) {
        for (i, device) in self.devices.iter().enumerate() {
            for _ in 0..per_device {
                let amount = 1 + self.rng.next_u64() % 1_000;
                let kind = TxKind::Transfer {
                    to: self.recipient,
                    amount: Amount::new(amount),
                    memo: Vec::new(),
                };
                let ticket = self.runtime.block_on(device.queue(kind)).expect("queued");
                self.queued[i].0 += 1;
                self.queued[i].1 += amount;
                let outcomes = Arc::clone(&self.outcomes);
                self.runtime.spawn(async move {
                    let hash = ticket.tx_hash;
                    let outcome = ticket.wait().await;
                    let mut o = outcomes.lock().expect("outcomes");
                    match outcome {
                        Ok(confirmed) => o.confirmed.push((i, confirmed)),
                        Err(e) => o.failed.push(format!("device {i}, {hash}: {e}")),
                    }
                });
            }
        }
    }

    /// Transactions answered so far; fails the test on any refusal.
    pub fn answered(&self) -> usize {
        let o = self.outcomes.lock().expect("outcomes");
        assert!(
            o.failed.is_empty(),
            "a device's transaction failed: {:?}",
            o.failed
        );
        o.confirmed.len()
    }

    /// Waits until `n` transactions are confirmed in all.
    pub fn wait_for(&self, n: usize) {
        let deadline = Instant::now() + CONFIRM_DEADLINE;
        while self.answered() < n {
            assert!(
                Instant::now() < deadline,
                "gave up after {CONFIRM_DEADLINE:?}: {} of {n} transactions confirmed; the devices' links: {:?}",
                self.answered(),
                self.stats()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every confirmation, by device.
    pub fn confirmed(&self) -> BTreeMap<usize, Vec<Confirmed>> {
        let mut by = BTreeMap::<usize, Vec<Confirmed>>::new();
        for (i, c) in &self.outcomes.lock().expect("outcomes").confirmed {
            by.entry(*i).or_default().push(*c);
        }
        by
    }

    pub fn stats(&self) -> Vec<LinkStats> {
        self.devices.iter().map(Device::stats).collect()
    }

    pub fn shutdown(self) {
        let Fleet {
            runtime, devices, ..
        } = self;
        runtime.block_on(async {
            for d in devices {
                d.shutdown().await;
            }
        });
    }
}
