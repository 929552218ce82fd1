//! Whether the device's node answers on the device's broker.
//!
//! A device can reach a broker and still talk to no one: a system Mosquitto
//! on 1883 while the node's broker is elsewhere, or a node that is down. Its
//! transactions would then wait for ever. So a node announces itself on its
//! broker with a signed, retained `hello` on `ting/v1/nodes/{its key}`
//! (docs/mqtt.md §1, `ting_core::envelope::check_hello`), renewed every
//! minute, and its MQTT last will is a signed `hello` saying it left. The link follows what it sees in
//! [`Presence`]; [`crate::Device::wait_for_node`] waits for a hello from a
//! trusted sequencer and, when none comes in time, says which broker it
//! reached and what is wrong.

use std::time::Duration;

use thiserror::Error;
use ting_core::envelope::EnvelopeId;
use ting_core::{AccountId, BlockHeight, NetworkId};

/// What the link knows of the broker and the node behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    /// No connection yet; the last attempt's error, if one failed.
    Connecting { last_error: Option<String> },
    /// The broker's TLS certificate is not the trusted one (a wrong pin, an
    /// unknown CA). The link keeps trying, in case the certificate changes.
    Untrusted { reason: String },
    /// Connected to the broker; no trusted node has announced itself.
    Connected,
    /// A trusted node announced itself on this broker; `run` is the id of
    /// its gateway run, which only that run's leaving hello can end.
    Node {
        node: AccountId,
        height: BlockHeight,
        run: EnvelopeId,
    },
    /// The node that had announced itself said it left (or died: its last will).
    Left { node: AccountId },
}

/// A node found on the device's broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSeen {
    /// The node's sequencer key, one the device trusts.
    pub node: AccountId,
    /// Its durable height when it announced itself.
    pub height: BlockHeight,
    /// The broker, as `mqtt://HOST:PORT` or `mqtts://HOST:PORT`.
    pub broker: String,
}

/// Why no node answers on the device's broker.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("this device has no MQTT broker configured; give DeviceConfig a broker (DeviceConfig::discover takes the one the node names)")]
    NoBroker,
    #[error("cannot reach the MQTT broker at {broker} within {} s: {reason}; is a broker running there?", waited.as_secs())]
    Unreachable {
        broker: String,
        waited: Duration,
        reason: String,
    },
    #[error(
        "connected to the MQTT broker at {broker}, but no node of network {network} announced \
         itself there within {} s{}", waited.as_secs(), advice(broker, advertised.as_deref())
    )]
    NoNode {
        broker: String,
        waited: Duration,
        network: NetworkId,
        /// The broker the node names in `/v1/status`, if it could be asked.
        advertised: Option<String>,
    },
    #[error(
        "the node {node} announced itself on {broker} and has left since; is it still running?"
    )]
    NodeLeft { broker: String, node: AccountId },
    #[error("the MQTT broker at {broker} is not trusted over TLS: {reason}")]
    BrokerUntrusted { broker: String, reason: String },
    #[error("the device stopped")]
    Stopped,
}

impl ConnectError {
    pub fn code(&self) -> &'static str {
        match self {
            ConnectError::NoBroker => "no_broker",
            ConnectError::Unreachable { .. } => "broker_unreachable",
            ConnectError::NoNode { .. } => "no_node_on_broker",
            ConnectError::NodeLeft { .. } => "node_left",
            ConnectError::BrokerUntrusted { .. } => "broker_tls_untrusted",
            ConnectError::Stopped => "device_stopped",
        }
    }
}

/// What to try, given the broker the node itself names.
fn advice(broker: &str, advertised: Option<&str>) -> String {
    match advertised {
        Some(a) if a != broker => format!(
            ": the node uses the broker at {a}; connect the device there (DeviceConfig::discover does)"
        ),
        Some(_) => ": the node names this broker; is the node running and connected to it?".into(),
        None => ": is the device on the same broker as its node? The node names its broker in GET /v1/status (`mqtt.broker`)".into(),
    }
}
