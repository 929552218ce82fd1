//! Counters the node exposes at `/metrics` in the Prometheus text format.
//!
//! Plain atomics, written on the hot path without locks; refusal codes are
//! few and rare, so they sit in a small locked map, as do the per-component
//! health gauges ([`crate::health`] sets them). The MQTT gateway's counters
//! are grouped in [`MqttMetrics`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub txs_submitted: AtomicU64,
    pub txs_committed: AtomicU64,
    /// Copies of landed transactions answered with their commit (`crate::landed`).
    pub txs_resent_answered: AtomicU64,
    pub blocks_committed: AtomicU64,
    pub busy: AtomicU64,
    pub malformed: AtomicU64,
    pub fsyncs: AtomicU64,
    pub fsync_micros: AtomicU64,
    /// Time the executor spent bringing the state map up to each block.
    pub state_root_nanos: AtomicU64,
    pub http_requests: AtomicU64,
    pub http_client_errors: AtomicU64,
    /// Times the indexer started again after a failure.
    pub indexer_restarts: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// 1 for each component that is degraded now, 0 for the others.
    degraded: Mutex<BTreeMap<&'static str, u64>>,
    pub mqtt: MqttMetrics,
}

/// The MQTT gateway's counters; labels are few and fixed, so they sit in small locked maps.
#[derive(Debug, Default)]
pub struct MqttMetrics {
    /// Payloads received on `ting/v1/tx`.
    pub received: AtomicU64,
    /// 1 while the node's client is connected to its broker.
    pub connected: AtomicU64,
    /// Successful connections to the broker, the first one included.
    pub connects: AtomicU64,
    /// Transactions from MQTT whose outcome is awaited.
    pub outcomes_waiting: AtomicU64,
    /// What the embedded broker refused; its guard counts into these.
    pub broker_refusals: Arc<crate::mqtt::BrokerRefusals>,
    published: Mutex<BTreeMap<&'static str, u64>>,
    dropped: Mutex<BTreeMap<&'static str, u64>>,
    publish_dropped: Mutex<BTreeMap<&'static str, u64>>,
}

fn bump(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str) {
    *map.lock().expect("metrics lock").entry(key).or_default() += 1;
}

fn labelled(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    map: &Mutex<BTreeMap<&'static str, u64>>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (key, n) in map.lock().expect("metrics lock").iter() {
        let _ = writeln!(out, "{name}{{{label}=\"{key}\"}} {n}");
    }
}

impl MqttMetrics {
    /// A message published, by kind: `receipt`, `refusal`, `error`, `block`.
    pub fn published(&self, kind: &'static str) {
        bump(&self.published, kind);
    }

    /// A payload from `ting/v1/tx` not submitted, by reason.
    pub fn dropped(&self, reason: &'static str) {
        bump(&self.dropped, reason);
    }

    /// A message the node meant to publish and did not, by reason.
    pub fn publish_dropped(&self, reason: &'static str) {
        bump(&self.publish_dropped, reason);
    }

    /// How many payloads were dropped for `reason`.
    pub fn dropped_count(&self, reason: &str) -> u64 {
        let map = self.dropped.lock().expect("metrics lock");
        map.get(reason).copied().unwrap_or(0)
    }

    fn render(&self, out: &mut String) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let plain = [
            (
                "ting_mqtt_received_total",
                "Payloads received on ting/v1/tx.",
                "counter",
                load(&self.received),
            ),
            (
                "ting_mqtt_connects_total",
                "Connections made to the MQTT broker.",
                "counter",
                load(&self.connects),
            ),
            (
                "ting_mqtt_connected",
                "1 while the node is connected to its MQTT broker.",
                "gauge",
                load(&self.connected),
            ),
            (
                "ting_mqtt_outcomes_waiting",
                "Transactions from MQTT waiting for their outcome.",
                "gauge",
                load(&self.outcomes_waiting),
            ),
        ];
        for (name, help, kind, value) in plain {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        labelled(
            out,
            "ting_mqtt_published_total",
            "Messages published, by kind.",
            "kind",
            &self.published,
        );
        labelled(
            out,
            "ting_mqtt_dropped_total",
            "Payloads on ting/v1/tx not submitted, by reason.",
            "reason",
            &self.dropped,
        );
        labelled(
            out,
            "ting_mqtt_publish_dropped_total",
            "Messages not published (queue full, client closed), by reason.",
            "reason",
            &self.publish_dropped,
        );
        self.render_broker(out);
    }

    /// The embedded broker's refusals (all zero with an external broker).
    fn render_broker(&self, out: &mut String) {
        let r = &self.broker_refusals;
        let name = "ting_mqtt_broker_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} What the embedded broker refused, by reason.\n# TYPE {name} counter"
        );
        for (reason, n) in [
            ("login", &r.logins),
            ("login_rate", &r.over_login_rate),
            ("per_source", &r.over_source_limit),
            ("subscribe", &r.subscribes),
            ("publish", &r.publishes),
        ] {
            let _ = writeln!(
                out,
                "{name}{{reason=\"{reason}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }
}

/// Gauges read at scrape time.
#[derive(Debug, Default)]
pub struct Gauges {
    pub height: u64,
    pub durable_height: u64,
    pub indexed_height: u64,
    pub accounts: u64,
    pub verify_queue: u64,
    pub sequencer_queue: u64,
    pub parked: u64,
    pub rss_bytes: u64,
}

impl Metrics {
    pub fn refused(&self, code: &'static str) {
        *self
            .refused
            .lock()
            .expect("metrics lock")
            .entry(code)
            .or_default() += 1;
    }

    /// Every transaction refused so far, whatever the code.
    pub fn refused_total(&self) -> u64 {
        self.refused.lock().expect("metrics lock").values().sum()
    }

    /// Sets `ting_component_degraded{component}`.
    pub fn set_degraded(&self, component: &'static str, degraded: bool) {
        let mut map = self.degraded.lock().expect("metrics lock");
        map.insert(component, u64::from(degraded));
    }

    pub fn group_committed(&self, _blocks: usize, took: Duration) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.fsync_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts the time one block's state root took; `_txs` is its size.
    pub fn state_root_time(&self, took: Duration, _txs: u64) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.state_root_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub fn block_committed(&self, txs: usize) {
        self.blocks_committed.fetch_add(1, Ordering::Relaxed);
        self.txs_committed.fetch_add(txs as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter and gauge.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(2048);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counters = [
            (
                "ting_txs_submitted_total",
                "Transactions admitted into the pipeline.",
                load(&self.txs_submitted),
            ),
            (
                "ting_txs_committed_total",
                "Transactions in durable blocks.",
                load(&self.txs_committed),
            ),
            (
                "ting_txs_resent_answered_total",
                "Copies of transactions that had landed, answered with their commit.",
                load(&self.txs_resent_answered),
            ),
            (
                "ting_blocks_committed_total",
                "Durable blocks.",
                load(&self.blocks_committed),
            ),
            (
                "ting_busy_total",
                "Submissions refused because a queue was full.",
                load(&self.busy),
            ),
            (
                "ting_malformed_total",
                "Inputs refused before verification (bad encoding, JSON, size).",
                load(&self.malformed),
            ),
            (
                "ting_fsyncs_total",
                "Group commits (one fsync each).",
                load(&self.fsyncs),
            ),
            (
                "ting_fsync_seconds_total",
                "Time spent appending and syncing the block log.",
                0,
            ),
            (
                "ting_state_root_seconds_total",
                "Time the executor spent updating the state map's root.",
                0,
            ),
            (
                "ting_http_requests_total",
                "HTTP requests served.",
                load(&self.http_requests),
            ),
            (
                "ting_http_client_errors_total",
                "HTTP requests answered with a 4xx status.",
                load(&self.http_client_errors),
            ),
            (
                "ting_indexer_restarts_total",
                "Times the indexer started again after a failure.",
                load(&self.indexer_restarts),
            ),
        ];
        for (name, help, value) in counters {
            let secs = match name {
                "ting_fsync_seconds_total" => Some(load(&self.fsync_micros) as f64 / 1e6),
                "ting_state_root_seconds_total" => Some(load(&self.state_root_nanos) as f64 / 1e9),
                _ => None,
            };
            if let Some(secs) = secs {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} counter\n{name} {secs}"
                );
                continue;
            }
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let name = "ting_txs_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} Transactions refused, by code.\n# TYPE {name} counter"
        );
        for (code, n) in self.refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "{name}{{code=\"{code}\"}} {n}");
        }
        let gauges = [
            ("ting_height", "Height of the executed state.", g.height),
            (
                "ting_durable_height",
                "Height of the last durable block.",
                g.durable_height,
            ),
            (
                "ting_indexed_height",
                "Height the query index has reached.",
                g.indexed_height,
            ),
            ("ting_accounts", "Accounts in the state.", g.accounts),
            (
                "ting_verify_queue_txs",
                "Transactions waiting for signature verification.",
                g.verify_queue,
            ),
            (
                "ting_sequencer_queue_txs",
                "Verified transactions waiting for the executor.",
                g.sequencer_queue,
            ),
            (
                "ting_parked_txs",
                "Transactions ahead of their sender's nonce, waiting for those before them.",
                g.parked,
            ),
            (
                "ting_resident_memory_bytes",
                "Resident set size of the node process.",
                g.rss_bytes,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let name = "ting_component_degraded";
        let _ = writeln!(
            out,
            "# HELP {name} 1 while the component is degraded (GET /healthz says why).\n# TYPE {name} gauge"
        );
        for (component, v) in self.degraded.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "{name}{{component=\"{component}\"}} {v}");
        }
        self.mqtt.render(&mut out);
        out
    }
}

/// Resident set size of this process, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
