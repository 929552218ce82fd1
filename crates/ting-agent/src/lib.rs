//! Ting's device SDK: a [`Device`] with its identity, wallet, signed and
//! encrypted messages over MQTT, a durable outbox, and payment channels kept
//! durably on the device.
//!
//! [`device`] is the entry point: start a [`Device`] from a key, a state
//! directory, the network, its trusted sequencer keys, the node's URL and a
//! broker; `submit` transactions, `send` and `recv` messages, `pay` through
//! channels. Everything outgoing goes through the [`outbox`] (an append-only,
//! CRC-checked, synced file) before it is sent, so a broker or node outage
//! delays it and loses nothing. The receive path ([`device::inbox`]) checks
//! every envelope before the app sees it. Over TLS (an `https://` node, an
//! `mqtts://` broker) the server's certificate is checked against a
//! [`TlsTrust`] ([`tls`]): the system's CAs, a CA file, or a pin.
//!
//! The rest of this comment is about the channel files underneath.
//!
//! `ting-core` holds the channel rules as pure state machines (`Payer`,
//! `Payee`); this crate puts each channel's state in a small file and orders
//! every step so that a crash at any instant keeps the money right:
//!
//! - [`DurablePayer::pay`] persists the advanced position before it returns
//!   the payment: a restarted payer never reveals a tick (or signs an amount)
//!   it already handed out, so no tick pays for two purchases.
//! - [`DurablePayee::accept`] persists the best proof before it returns
//!   `Ok`, and the caller delivers only after `Ok`: nothing delivered is
//!   ever unpaid after a crash.
//!
//! Each channel file is a [`record::RecordFile`]: two 512-byte slots written
//! alternately, each with a sequence number and a CRC-32C, so a torn write
//! falls back to the previous record. Files are mode 0600 and created under a
//! temporary name, then linked and the directory synced. Layout:
//! `<dir>/payer/<channel hex>.chan` and `<dir>/payee/<channel hex>.chan`.
//! The record bytes are in `ting_core::channel::state_bytes` and docs/wire.md.
//!
//! ## What durability costs
//!
//! Every `pay` and every accepted payment is one 512-byte `pwrite` and one
//! `fdatasync`: the device's sync latency bounds the payments per second of
//! one channel (tens of microseconds on tmpfs, about 0.1–2 ms on a local SSD,
//! 5–20 ms on SD cards and eMMC). The hashing is cheaper by far: a tick costs
//! about one SHA-256 compression, amortised. A device that must pay faster
//! pays more units per payment. `tests/durable.rs` prints both costs and their
//! ratio; on the development VM (ext4 on a virtio disk, debug build) one
//! pay plus accept took about 180 µs durably against 11 µs in memory (17×),
//! nearly all of it the two `fdatasync`s.
//!
//! Unix only: it relies on `pwrite`, `fdatasync`, file modes and directory fsync.

pub mod dir;
pub mod durable;
pub mod error;
pub mod market;
pub mod payee;
pub mod payer;
pub mod record;
pub mod relay;
pub mod stream;

pub use dir::{channel_path, list_channels, Role};
pub use error::{
    DurableAcceptError, DurableClaimError, DurablePayError, DurableTopUpError, StoreError,
};
pub use payee::DurablePayee;
pub use payer::DurablePayer;

pub mod backoff;
pub mod client;
pub mod clock;
pub mod device;
pub mod files;
pub mod mqtt_login;
pub mod outbox;
pub mod state_lock;
pub mod tls;
pub mod trust;
pub mod txtext;
pub mod verify;
pub mod wallet;

pub use client::{HttpError, NodeClient};
pub use device::channels::ChannelOffer;
pub use device::{Broker, Confirmed, Device, DeviceConfig, LinkStats, Message, Ticket, TxError};
pub use files::{read_genesis, read_key, FileError};
pub use mqtt_login::{mqtt_login, MqttLogin};
pub use tls::TlsTrust;
pub use verify::{Unproven, Verifier};

/// The README's Rust program, compiled as a doc test so that it stays true
/// to this API (only its ```rust blocks are; the shell blocks are run by
/// `crates/ting/tests/readme.rs`).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
