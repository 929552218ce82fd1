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

/// Sessions the embedded broker holds at once, connected or kept for an
/// offline device; one more CONNECT is refused (MQTT 3.1.1 code 3, server
/// unavailable) instead of left to hang. Twice the 100,000 devices one node
/// is sized for, so that a city's devices and the sessions of those away
/// (kept `MQTT_SESSION_EXPIRY`) fit; at about 21 KiB a session
/// (`ting bench devices`) that is about 4 GiB at most.
pub const MQTT_SESSIONS_MAX: usize = 200_000;

/// Connections from one IP address at once; one more login is refused (code
/// 5, not authorized). High enough for thousands of simulated devices on
/// loopback; a deployment behind a NAT raises it with `--mqtt-per-source`.
pub const MQTT_CONNECTIONS_PER_SOURCE_MAX: usize = 20_000;

/// Logins the embedded broker checks a second, by default; more are refused
/// (CONNACK 5, not authorized) before their signature is checked, and the
/// devices come back with their jittered backoff. At this rate a city's
/// 100,000 devices are back within 20 s of a restart, and the logins take
/// about a third of one core (one Ed25519 verification each), leaving the
/// rest to the ledger. `--mqtt-logins-per-s` sets it.
pub const MQTT_LOGINS_PER_S: u32 = 5_000;

/// Unacknowledged QoS 1 messages the embedded broker sends one connection.
pub const MQTT_INFLIGHT_MAX: u16 = 64;

/// Messages the embedded broker queues for one session beyond its in-flight
/// window (a device's receipts while it is away); older ones are dropped.
pub const MQTT_QUEUED_MAX: usize = 1024;

/// Subscriptions one client may hold: its inbox, the blocks, and the
/// announcement topics of its network's sequencers (at most 64).
pub const MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX: usize = 80;

/// Retained messages the embedded broker keeps: the node topics only (the
/// ACL allows retain nowhere else), one per node, the blocks header, and
/// two per class with a book (its depth and its trades).
pub const MQTT_RETAINED_MAX: usize = 1024;

/// Largest retained payload; a node's hello and a block header are far below.
pub const MQTT_RETAINED_BYTES_MAX: usize = 4 * 1024;

/// Price levels a side in a book's retained depth (`ting/v1/books/.../depth`).
pub const MQTT_BOOK_LEVELS: usize = 10;

/// Fills, newest first, in a book's retained trades (`.../trades`); with
/// the levels above, the longest payloads stay under
/// `MQTT_RETAINED_BYTES_MAX` (about 1.8 and 3.1 KiB).
pub const MQTT_BOOK_TRADES: usize = 16;

/// Longest client id: an account id, `-` and a 16-character suffix.
pub const MQTT_CLIENT_ID_BYTES_MAX: usize = 64 + 1 + ting_core::login::CLIENT_ID_SUFFIX_MAX;

/// How long the broker keeps an offline device's session (its inbox
/// subscription and queued messages).
pub const MQTT_SESSION_EXPIRY: Duration = Duration::from_secs(2 * 60 * 60);

/// Unacknowledged QoS 1 publishes of the node's client. Its one connection
/// carries every device's notice, so it needs a deeper window than a device:
/// the client takes a new publish only while fewer than this await their
/// PUBACK, and at 64 the broker's acknowledgement round trip capped the notices
/// at about 4 000/s, with the publisher waiting on every one. At 1024 a 16 ms
/// round trip still passes 64 000 notices/s. Each holds one notice, a few
/// hundred bytes (a receipt with its header and Merkle path, about 550 to
/// 870 as an envelope).
pub const MQTT_CLIENT_INFLIGHT_MAX: u16 = 1024;

/// How long the broker waits for a new connection's CONNECT packet.
pub const MQTT_CONNECT_TIMEOUT_MS: u16 = 5_000;

/// Transactions from MQTT whose outcome the gateway is waiting for. Past this,
/// a transaction is answered `busy` without being submitted.
pub const MQTT_OUTCOMES_MAX: usize = 16_384;

/// Inbox notices (receipt, refusal, error) waiting to be published. When full,
/// a new notice is dropped and counted; the pipeline never waits for MQTT.
pub const MQTT_OUTBOX_MAX: usize = 4_096;

/// Error notices one inbox may be sent per second; more are dropped and
/// counted (`ting_mqtt_publish_dropped_total{reason="rate_limited"}`).
pub const MQTT_ERROR_NOTICES_PER_RECIPIENT_PER_S: u32 = 10;

/// Recipients of error notices tracked in one second; error notices to
/// further recipients are dropped (and counted) until the next second.
pub const MQTT_ERROR_NOTICE_RECIPIENTS_MAX: usize = 16_384;

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
    MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX > ting_core::limits::GENESIS_SEQUENCERS_MAX + 1,
    "a device subscribes to its inbox and every sequencer's announcements"
);
