//! What `ting bench mqtt` prints: each figure beside its ceiling from the
//! same run, as a table for people or one JSON object.

use serde_json::json;

use super::super::capacity::Capacity;
use super::flows::Measured;
use super::logins::{Logins, LOGIN_CLIENTS};
use super::messages::Messages;
use super::session::Rate;
use super::{MSG_BATCH_MAX, TARGET_RATIO};

#[derive(Debug)]
pub(super) struct Report {
    pub broker: String,
    /// Which broker it is: embedded, a started Mosquitto (with or without the
    /// plugin), or external.
    pub label: String,
    pub tx_size: usize,
    pub msg_size: usize,
    pub verify: Capacity,
    pub logins: Logins,
    pub raw_tx: Rate,
    pub raw_msg: Rate,
    pub txs: Measured,
    pub msgs: Messages,
}

impl Report {
    /// The lower of the two ceilings of the messages run: the broker's raw
    /// rate at the envelope's size, or the machine's batch verification rate.
    fn msg_ceiling_per_s(&self) -> f64 {
        self.raw_msg.per_s().min(self.verify.per_s)
    }

    fn msg_ceiling_name(&self) -> &'static str {
        if self.raw_msg.per_s() <= self.verify.per_s {
            "broker_raw"
        } else {
            "verify_capacity"
        }
    }

    fn ratio(&self) -> f64 {
        self.msgs.measured.rate.per_s() / self.msg_ceiling_per_s().max(1e-9)
    }

    fn msgs_over_raw(&self) -> f64 {
        self.msgs.measured.rate.per_s() / self.raw_msg.per_s().max(1e-9)
    }

    fn msgs_over_verify(&self) -> f64 {
        self.msgs.measured.rate.per_s() / self.verify.per_s.max(1e-9)
    }

    fn tx_ratio(&self) -> f64 {
        self.txs.rate.per_s() / self.raw_tx.per_s().max(1e-9)
    }

    pub fn json(&self) -> serde_json::Value {
        json!({
            "broker": self.broker,
            "broker_kind": self.label,
            "tls": self.broker.starts_with("mqtts://"),
            "logins_per_s": self.logins.per_s(),
            "logins_accepted": self.logins.accepted,
            "logins_refused": self.logins.refused,
            "login_clients": LOGIN_CLIENTS,
            "verify_capacity_per_s": self.verify.per_s,
            "verify_threads": self.verify.threads,
            "verify_batch": MSG_BATCH_MAX,
            "mqtt_tx_per_s": self.txs.rate.per_s(),
            "msgs_per_s": self.msgs.measured.rate.per_s(),
            "broker_raw_per_s": self.raw_msg.per_s(),
            "ratio": self.ratio(),
            "ratio_ceiling": self.msg_ceiling_name(),
            "msgs_over_raw": self.msgs_over_raw(),
            "msgs_over_verify_capacity": self.msgs_over_verify(),
            "msgs_refused": self.msgs.measured.refused,
            "msg_batch_mean": self.msgs.batch_mean(),
            "broker_raw_tx_size_per_s": self.raw_tx.per_s(),
            "tx_ratio": self.tx_ratio(),
            "receipts_refused": self.txs.refused,
            "publishers_stopped_early": self.txs.stopped_early + self.msgs.measured.stopped_early,
            "tx_bytes": self.tx_size,
            "msg_bytes": self.msg_size,
            "target_ratio": TARGET_RATIO,
        })
    }

    pub fn print(&self) {
        println!("ting bench mqtt: broker {} ({})", self.broker, self.label);
        println!(
            "  device logins, {LOGIN_CLIENTS} at once              {:>9.0} login/s ({} refused)",
            self.logins.per_s(),
            self.logins.refused
        );
        println!(
            "  envelope batch verification, {} threads  {:>9.0} sig/s",
            self.verify.threads, self.verify.per_s
        );
        println!(
            "  broker raw, {:>3} B (a signed transfer)   {:>9.0} msg/s",
            self.tx_size,
            self.raw_tx.per_s()
        );
        println!(
            "  transactions over MQTT, durable receipt  {:>9.0} tx/s   = {:.3} of raw",
            self.txs.rate.per_s(),
            self.tx_ratio()
        );
        println!(
            "  broker raw, {:>3} B (a data envelope)    {:>9.0} msg/s",
            self.msg_size,
            self.raw_msg.per_s()
        );
        let verdict = if self.ratio() >= TARGET_RATIO {
            "MET"
        } else {
            "MISSED"
        };
        println!(
            "  signed messages, batch-verified          {:>9.0} msg/s  = {:.3} of raw, {:.3} of verification",
            self.msgs.measured.rate.per_s(),
            self.msgs_over_raw(),
            self.msgs_over_verify()
        );
        println!(
            "    (receivers checked {:.1} envelopes per receive_batch on average)",
            self.msgs.batch_mean()
        );
        println!(
            "  ratio: messages / min(raw, verification) = {:.3} ({}; target >= {TARGET_RATIO}: {verdict})",
            self.ratio(),
            self.msg_ceiling_name()
        );
        if self.msgs.measured.refused + self.txs.refused > 0 {
            println!(
                "  refused by the receivers: {} envelopes, {} receipts",
                self.msgs.measured.refused, self.txs.refused
            );
        }
    }
}
