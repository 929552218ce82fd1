//! The Ting node: the server around the ledger.
//!
//! `Node::start` recovers state from the data directory (snapshot, then the
//! block log above it) and runs the pipeline on threads of its own:
//! verification on every core, one executor, one durable writer, an indexer
//! and a snapshotter (see [`pipeline`]), each reporting its health
//! ([`health`]), and the [`feed`] that serves the dashboard's overview and
//! account watchers from each durable block once; a panic on any of them
//! stops the process (fail-stop).
//! [`http::router`] serves the JSON API over the node's shared parts, and
//! [`mqtt::Gateway`] takes transactions from MQTT and answers in the devices'
//! inboxes. Only this crate and the CLI know JSON; the core has one canonical
//! binary encoding.

pub mod admission;
mod background;
pub mod books;
pub mod calls;
pub mod clock;
pub mod faucet;
pub mod feed;
pub mod health;

pub mod http;
pub mod landed;
pub mod lead;
pub mod metrics;
pub mod mqtt;
pub mod node;
pub mod open_files;
mod pg_store;
pub mod pipeline;
mod recovery;
pub mod refusals;
mod snapshotter;
mod submit;
pub mod tls;
mod web;
pub mod witness;

pub use node::{Node, NodeConfig, Shared, StartError, StartReport};
