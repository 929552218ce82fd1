//! A Mosquitto 2 plugin that gives an external broker the node's gatekeeper:
//! every client logs in as a Ting account with a fresh login token, and every
//! SUBSCRIBE filter, PUBLISH and delivery is checked against the topic table
//! (docs/mqtt.md §9, §10; docs/operations.md, "Mosquitto").
//!
//! The rules are not written here. A login is `ting_core::login::verify` and
//! an access is `ting_core::acl::check`, the same calls the node's embedded
//! broker makes (`crates/ting-node/src/mqtt/broker/guard.rs`), so the two
//! brokers cannot drift apart. What this crate adds is the translation between
//! Mosquitto's events and those calls:
//!
//! - [`options`] reads the plugin's `plugin_opt_*` lines and the genesis file;
//! - [`guard`] decides, on plain Rust values: a login (with the replay cache
//!   behind a mutex and the clock read once per CONNECT by the caller), an
//!   access to a topic, and the count of connections per source address
//!   ([`sources`]);
//! - [`mosq`] holds the numbers of Mosquitto's C interface;
//! - `ffi` is the only unsafe code: the three exported entry points
//!   (`mosquitto_plugin_version`, `_init`, `_cleanup`), the event callbacks,
//!   and the few broker functions they call. It turns C strings into `&str`,
//!   asks the guard, logs a refusal with its stable code through
//!   `mosquitto_log_printf`, and returns a Mosquitto error code.
//!
//! Design notes (where one rests on how Mosquitto behaves, `tests/plugin.rs`
//! shows that behaviour with a real broker):
//!
//! - **No superusers, no deferring.** The plugin answers every check itself and
//!   never returns `MOSQ_ERR_PLUGIN_DEFER`, so no password file or other plugin
//!   can widen what a client may do.
//! - **Deliveries are re-checked.** Mosquitto asks `MOSQ_ACL_READ` before it
//!   sends a message to a subscriber, with the concrete topic. The plugin
//!   allows it when the client could subscribe to that exact topic, or to the
//!   nodes' shared form of it (`$share/ting-nodes/ting/v1/tx`), which is how a
//!   node receives transactions. See [`guard::Guard::access`].
//! - **Wills are checked when published.** Mosquitto 2.0 shows a plugin no
//!   last will at CONNECT; it checks the will with `MOSQ_ACL_WRITE` when it
//!   is about to publish it. A will on a topic the client may not publish to
//!   is therefore accepted at CONNECT and dropped at disconnect, where the
//!   embedded broker refuses the CONNECT.
//! - **The embedded broker's per-client limits travel along.** At most
//!   `plugin_opt_connections_per_source` connections per IP address (default
//!   20 000, as the node's) and 80 subscriptions per client
//!   ([`guard::SUBSCRIPTIONS_PER_CLIENT_MAX`]). Queues, in-flight windows,
//!   packet sizes and the total of connections are Mosquitto's own settings
//!   (docs/operations.md).
//! - **A failure is a refusal.** A panic inside a check, a string that is not
//!   UTF-8 or an access kind the plugin does not know is refused, never
//!   allowed; a bad option or genesis file stops the broker at start-up.

pub mod clock;
#[allow(unsafe_code)]
mod ffi;
pub mod guard;
pub mod mosq;
pub mod options;
pub mod sources;

pub use guard::{AclRefused, Connect, Guard, LoginRefused, Request};
pub use options::{Config, ConfigError};
pub use sources::{ClientKey, Sources};
