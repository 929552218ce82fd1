//! The MQTT gateway's named limits: the embedded broker's memory bounds and
//! the gateway's own queues.
//!
//! They live beside the gateway rather than in `ting_core::limits` because
//! nothing outside the node's MQTT shell depends on them: no wire format,
//! no ledger rule. docs/mqtt.md §6 explains each bound and what happens when
//! it is reached.

use std::time::Duration;

use ting_core::envelope::ENVELOPE_BYTES_MAX;
use ting_core::limits::TX_BYTES_MAX;

/// The largest MQTT payload the embedded broker and the node's client take:
/// the largest envelope plus 4 KiB of headroom for the MQTT fixed header,
/// topic and properties. It admits every transaction, so an over-limit
/// transaction reaches the gateway and is counted, rather than costing the
/// device its connection.
pub const MQTT_PAYLOAD_BYTES_MAX: usize = ENVELOPE_BYTES_MAX + 4 * 1024;

/// Connections the embedded broker holds at once; one more is refused.
pub const MQTT_CONNECTIONS_MAX: usize = 1024;

/// Unacknowledged QoS 1 messages the embedded broker sends one connection.
pub const MQTT_INFLIGHT_MAX: u16 = 64;

/// Unacknowledged QoS 1 publishes of the node's client. Its one connection
/// carries every device's notice, so it needs a deeper window than a device:
/// the client takes a new publish only while fewer than this await their
/// PUBACK, and at 64 the broker's acknowledgement round trip capped the notices
/// at about 4 000/s, with the publisher waiting on every one. At 1024 a 16 ms
/// round trip still passes 64 000 notices/s. Each holds one notice, a few
/// hundred bytes (a receipt is under 200).
pub const MQTT_CLIENT_INFLIGHT_MAX: u16 = 1024;

/// Packets the embedded broker's router hands one connection per turn.
pub const MQTT_OUTGOING_PACKETS_MAX: u64 = 200;

/// Bytes in one segment of a topic filter's in-memory log in the embedded broker.
/// A segment holds at least one packet, so its real size reaches this plus one payload.
pub const MQTT_SEGMENT_BYTES: usize = 64 * 1024;

/// Segments each filter's log keeps; older ones are dropped (slow readers miss them).
pub const MQTT_SEGMENTS_MAX: usize = 2;

/// Segment size for `ting/v1/tx`, which buffers a burst of transactions for the node.
pub const MQTT_TX_SEGMENT_BYTES: usize = 1024 * 1024;

/// Segments of `ting/v1/tx`'s log: together 4 MiB, about 16 000 typical transactions.
pub const MQTT_TX_SEGMENTS_MAX: usize = 4;

/// How long the broker waits for a new connection's CONNECT packet.
pub const MQTT_CONNECT_TIMEOUT_MS: u16 = 5_000;

/// Transactions from MQTT whose outcome the gateway is waiting for. Past this,
/// a transaction is answered `busy` without being submitted.
pub const MQTT_OUTCOMES_MAX: usize = 16_384;

/// Inbox notices (receipt, refusal, error) waiting to be published. When full,
/// a new notice is dropped and counted; the pipeline never waits for MQTT.
pub const MQTT_OUTBOX_MAX: usize = 4_096;

/// Requests the node's client queues for its event loop (publish, subscribe),
/// as deep as its in-flight window so that a burst of notices waits here
/// rather than in the publisher.
pub const MQTT_CLIENT_REQUESTS_MAX: usize = 1024;

/// Keep-alive of the node's client connection.
pub const MQTT_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// Pause between the node client's attempts to reach its broker.
pub const MQTT_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// How long start-up waits for the broker to accept the node's subscription.
pub const MQTT_START_WAIT: Duration = Duration::from_secs(10);

/// How long shutdown waits for outstanding notices to be published.
pub const MQTT_FLUSH_WAIT: Duration = Duration::from_secs(5);

const _: () = assert!(MQTT_PAYLOAD_BYTES_MAX > TX_BYTES_MAX);
const _: () = assert!(MQTT_CLIENT_INFLIGHT_MAX as usize <= MQTT_CLIENT_REQUESTS_MAX);
const _: () = assert!(MQTT_PAYLOAD_BYTES_MAX > ENVELOPE_BYTES_MAX);
const _: () = assert!(
    MQTT_SEGMENT_BYTES >= 1024,
    "rumqttd refuses segments under 1 KiB"
);
