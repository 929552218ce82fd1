//! What `ting bench devices` prints: the figures, their targets, and how the
//! run went.

use serde_json::json;

use super::{DevicesArgs, MqttFigures};
use crate::bench::stats::{round, verdict, Latency};

/// The targets of DESIGN.md §8 for one node on the reference machine.
const CONNECTED_TARGET: usize = 100_000;
const RSS_KIB_PER_DEVICE_TARGET: f64 = 20.0;
const RECONNECT_STORM_S_TARGET: f64 = 60.0;
const MQTT_CPU_RATIO_TARGET: f64 = 0.5;
const DEVICE_P99_MS_TARGET: f64 = 50.0;

/// Everything measured.
#[derive(Debug, Default)]
pub struct Report {
    /// The sessions spoke TLS; only logins and memory were measured.
    pub tls: bool,
    pub devices: usize,
    pub sdk_devices: usize,
    pub sources: u8,
    pub hold_seconds: u64,
    pub seconds: f64,
    pub logins_per_s_admitted: u32,
    pub bench_files: u64,
    pub node_files: String,
    pub rss_base_kib: u64,
    pub rss_hold_kib: u64,
    pub node_rss_after_kib: u64,
    pub logins_s: f64,
    pub logins_per_s: f64,
    pub login_refusals: u64,
    pub connected_devices: usize,
    pub dropped_in_hold: u64,
    pub mqtt: MqttFigures,
    pub http_tx_per_s: f64,
    pub http_cpu_us_per_tx: f64,
    pub http_ran_dry: bool,
    pub http_paced_tx_per_s: f64,
    pub http_paced_cpu_us_per_tx: f64,
    pub http_threads: String,
    pub half: Latency,
    pub half_rate: f64,
    pub restart_s: f64,
    pub reconnect_storm_s: f64,
    pub storm_queued: u64,
    pub storm_confirmed: u64,
    pub applied: u64,
    pub confirmed_total: u64,
    pub problems: Vec<String>,
}

impl Report {
    pub fn new(args: &DevicesArgs) -> Report {
        Report {
            tls: args.tls,
            devices: args.devices as usize,
            sdk_devices: args.sdk_devices as usize,
            sources: args.sources,
            hold_seconds: args.hold_seconds,
            seconds: args.seconds,
            logins_per_s_admitted: args.logins_per_s,
            ..Report::default()
        }
    }

    /// Node memory per light session, KiB.
    pub fn rss_kib_per_device(&self) -> f64 {
        self.rss_hold_kib.saturating_sub(self.rss_base_kib) as f64 / self.devices.max(1) as f64
    }

    pub fn mqtt_cpu_ratio(&self) -> f64 {
        self.http_cpu_us_per_tx / self.mqtt.cpu_us_per_tx.max(1e-9)
    }

    pub fn json(&self) -> String {
        let mut first = json!({
            "tls": self.tls,
            "devices": self.devices,
            "sdk_devices": self.sdk_devices,
            "sources": self.sources,
            "hold_seconds": self.hold_seconds,
            "window_seconds": self.seconds,
            "connected_devices": self.connected_devices,
            "connected_devices_target": CONNECTED_TARGET,
            "dropped_in_hold": self.dropped_in_hold,
            "rss_kib_per_device": round(self.rss_kib_per_device(), 2),
            "rss_kib_per_device_target": RSS_KIB_PER_DEVICE_TARGET,
            "node_rss_base_kib": self.rss_base_kib,
            "node_rss_hold_kib": self.rss_hold_kib,
            "mqtt_failed": self.mqtt.failed,
        });
        let more = json!({
            "logins_per_s": round(self.logins_per_s, 0),
            "logins_s": round(self.logins_s, 2),
            "logins_per_s_admitted": self.logins_per_s_admitted,
            "login_refusals": self.login_refusals,
            "reconnect_storm_s": round(self.reconnect_storm_s, 2),
            "reconnect_storm_s_target": RECONNECT_STORM_S_TARGET,
            "restart_s": round(self.restart_s, 2),
            "mqtt_tx_per_s": round(self.mqtt.tx_per_s, 0),
            "http_tx_per_s": round(self.http_tx_per_s, 0),
            "mqtt_cpu_us_per_tx": round(self.mqtt.cpu_us_per_tx, 1),
            "http_cpu_us_per_tx": round(self.http_cpu_us_per_tx, 1),
            "mqtt_cpu_ratio": round(self.mqtt_cpu_ratio(), 3),
            "mqtt_cpu_ratio_target": MQTT_CPU_RATIO_TARGET,
            "http_ran_dry": self.http_ran_dry,
            "http_at_mqtt_rate_tx_per_s": round(self.http_paced_tx_per_s, 0),
            "http_at_mqtt_rate_cpu_us_per_tx": round(self.http_paced_cpu_us_per_tx, 1),
            "mqtt_cpu_ratio_at_equal_rate": round(self.http_paced_cpu_us_per_tx / self.mqtt.cpu_us_per_tx.max(1e-9), 3),
            "node_threads_mqtt": self.mqtt.threads,
            "node_threads_http": self.http_threads,
            "device_p50_ms": round(self.half.p50_ms, 2),
            "device_p99_ms": round(self.half.p99_ms, 2),
            "device_p99_ms_target": DEVICE_P99_MS_TARGET,
            "half_load_tx_per_s": round(self.half_rate, 0),
            "storm_queued": self.storm_queued,
            "storm_confirmed": self.storm_confirmed,
            "transfers_confirmed": self.confirmed_total,
            "transfers_applied": self.applied,
            "node_files": self.node_files,
            "bench_files": self.bench_files,
            "problems": self.problems,
        });
        if let (Some(a), serde_json::Value::Object(b)) = (first.as_object_mut(), more) {
            a.extend(b);
        }
        first.to_string()
    }

    pub fn human(&self) -> String {
        let mut out = format!(
            "ting bench devices: {} light sessions from {} loopback addresses{}, {} SDK devices, one node process\n",
            self.devices,
            self.sources,
            if self.tls { " over TLS" } else { "" },
            if self.tls { 0 } else { self.sdk_devices }
        );
        out += &format!("  node               {}\n", self.node_files);
        out += &format!(
            "  connected_devices  {} held {} s (target >= {CONNECTED_TARGET}: {}); {} sessions dropped while held\n",
            self.connected_devices,
            self.hold_seconds,
            verdict(self.connected_devices >= CONNECTED_TARGET),
            self.dropped_in_hold
        );
        out += &format!(
            "  rss_kib_per_device {:.2} KiB (node {} KiB before the light sessions, {} KiB with them; target < {RSS_KIB_PER_DEVICE_TARGET}: {})\n",
            self.rss_kib_per_device(),
            self.rss_base_kib,
            self.rss_hold_kib,
            verdict(self.rss_kib_per_device() < RSS_KIB_PER_DEVICE_TARGET)
        );
        out += &format!(
            "  logins_per_s       {:.0} (all up in {:.1} s; the node admits {} /s; {} refused over that rate, retried with backoff)\n",
            self.logins_per_s, self.logins_s, self.logins_per_s_admitted, self.login_refusals
        );
        if self.tls {
            out += "  over TLS only the sessions are measured: run without --tls for the storm, the transfers and the latency";
            return out;
        }
        out += &format!(
            "  reconnect_storm_s  {:.1} s from the restarted node serving to every session back (restart took {:.1} s; target < {RECONNECT_STORM_S_TARGET}: {})\n",
            self.reconnect_storm_s,
            self.restart_s,
            verdict(self.reconnect_storm_s < RECONNECT_STORM_S_TARGET)
        );
        out += &format!(
            "  mqtt_tx_per_s      {:.0} (node CPU {:.1} µs per transfer: {})\n",
            self.mqtt.tx_per_s, self.mqtt.cpu_us_per_tx, self.mqtt.threads
        );
        out += &format!(
            "  http_tx_per_s      {:.0} (node CPU {:.1} µs per transfer{}: {})\n",
            self.http_tx_per_s,
            self.http_cpu_us_per_tx,
            if self.http_ran_dry {
                ", ran dry: a floor"
            } else {
                ""
            },
            self.http_threads
        );
        out += &format!(
            "  mqtt_cpu_ratio     {:.3} (HTTP CPU per transfer ÷ MQTT's; target >= {MQTT_CPU_RATIO_TARGET}: {})\n",
            self.mqtt_cpu_ratio(),
            verdict(self.mqtt_cpu_ratio() >= MQTT_CPU_RATIO_TARGET)
        );
        out += &format!(
            "  at equal rates     HTTP at {:.0} /s costs the node {:.1} µs per transfer: {:.3} of MQTT's\n",
            self.http_paced_tx_per_s,
            self.http_paced_cpu_us_per_tx,
            self.http_paced_cpu_us_per_tx / self.mqtt.cpu_us_per_tx.max(1e-9)
        );
        out += &format!(
            "  device_p99_ms      {:.1} ms at {:.0} /s (p50 {:.1}; target < {DEVICE_P99_MS_TARGET}: {})\n",
            self.half.p99_ms,
            self.half_rate,
            self.half.p50_ms,
            verdict(self.half.p99_ms < DEVICE_P99_MS_TARGET)
        );
        out += &format!(
            "  storm              {} transfers queued while the node was down, {} confirmed; {} confirmed in all, {} applied\n",
            self.storm_queued, self.storm_confirmed, self.confirmed_total, self.applied
        );
        if self.problems.is_empty() {
            out += "  every transfer confirmed to a device was applied exactly once";
        } else {
            out += &format!("  PROBLEMS: {}", self.problems.join("; "));
        }
        out
    }
}
