//! The plugin's decisions, on plain Rust values: who may log in, and what a
//! logged-in client may do with a topic. The rules are `ting_core::login`
//! and `ting_core::acl`, called exactly as the embedded broker calls them
//! (`crates/ting-node/src/mqtt/broker/guard.rs`): an account that is a
//! genesis sequencer is a [`Role::Node`], every other account a
//! [`Role::Device`], and nobody is a superuser.
//!
//! Nothing here touches Mosquitto; `ffi` turns each event into one call.

use std::collections::HashSet;
use std::ffi::c_int;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use thiserror::Error;
use ting_core::acl::{self, Access, Denied, Role};
use ting_core::login::{self, LoginError, LoginReplay};
use ting_core::topics::{TX_SHARED_FILTER, TX_TOPIC};
use ting_core::{AccountId, Hash32, Timestamp};

use crate::mosq::{MOSQ_ACL_READ, MOSQ_ACL_SUBSCRIBE, MOSQ_ACL_UNSUBSCRIBE, MOSQ_ACL_WRITE};
use crate::options::Config;
use crate::sources::{ClientKey, Sources};

/// Subscriptions one client may hold, as on the embedded broker
/// (`MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX` in `crates/ting-node/src/mqtt/limits.rs`):
/// its inbox, the blocks and the announcements of its network's sequencers
/// fit. The table alone does not bound them, since `ting/v1/nodes/{account}`
/// names any account.
pub const SUBSCRIPTIONS_PER_CLIENT_MAX: usize = 80;

/// Characters of a client-supplied string (client id, topic) put in a log line.
pub const LOG_FIELD_CHARS_MAX: usize = 100;

/// What Mosquitto asks about a topic (its `MOSQ_ACL_*` access kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The client subscribes with this filter, as written.
    Subscribe,
    /// The client unsubscribes from this filter.
    Unsubscribe,
    /// The client publishes, or its last will is about to be published.
    Write { retain: bool },
    /// A message on this concrete topic is about to be sent to the client.
    Read,
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Request::Subscribe => "subscribe",
            Request::Unsubscribe => "unsubscribe",
            Request::Write { retain: false } => "publish",
            Request::Write { retain: true } => "retained publish",
            Request::Read => "delivery",
        })
    }
}

impl Request {
    /// The request of an ACL check's `access` and `retain`; `None` for an
    /// access kind this plugin does not know (which it refuses).
    pub fn from_mosquitto(access: c_int, retain: bool) -> Option<Request> {
        match access {
            MOSQ_ACL_READ => Some(Request::Read),
            MOSQ_ACL_WRITE => Some(Request::Write { retain }),
            MOSQ_ACL_SUBSCRIBE => Some(Request::Subscribe),
            MOSQ_ACL_UNSUBSCRIBE => Some(Request::Unsubscribe),
            _ => None,
        }
    }
}

/// One CONNECT, as the broker shows it to the plugin. A string that was
/// absent, or not UTF-8, is `None`.
#[derive(Debug, Clone, Copy)]
pub struct Connect<'a> {
    pub client: ClientKey,
    pub username: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    /// The peer's IP address as text; a client without one is not counted
    /// per source.
    pub address: Option<&'a str>,
}

/// A login that passed: who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub account: AccountId,
    pub role: Role,
}

/// Why a CONNECT was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LoginRefused {
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("{limit} connections from this address already (plugin_opt_connections_per_source)")]
    SourceFull { limit: usize },
}

impl LoginRefused {
    /// A stable machine-readable code: `ting_core::login`'s, or
    /// `login_source_full`.
    pub fn code(&self) -> &'static str {
        match self {
            LoginRefused::Login(e) => e.code(),
            LoginRefused::SourceFull { .. } => "login_source_full",
        }
    }

    /// The broker's log line for this refusal.
    pub fn log_line(&self, connect: &Connect<'_>) -> String {
        format!(
            "ting: login refused ({}): {self}; client id {}, from {}",
            self.code(),
            shown(connect.client_id),
            shown(connect.address),
        )
    }
}

/// Why an access to a topic was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AclRefused {
    #[error("{request}: {denied}")]
    Denied { request: Request, denied: Denied },
    #[error("{request} of {topic} by a client that is not logged in as an account")]
    NotLoggedIn { request: Request, topic: String },
    #[error("subscribe: the client already holds {held} subscriptions (at most {SUBSCRIPTIONS_PER_CLIENT_MAX})")]
    TooManySubscriptions { held: usize },
    #[error("Mosquitto asked about access kind {0}, which this plugin does not know")]
    UnknownAccess(c_int),
}

impl AclRefused {
    /// A stable machine-readable code: `acl_denied` for a rule of the table.
    pub fn code(&self) -> &'static str {
        match self {
            AclRefused::Denied { denied, .. } => denied.code(),
            AclRefused::NotLoggedIn { .. } => "acl_not_logged_in",
            AclRefused::TooManySubscriptions { .. } => "acl_too_many_subscriptions",
            AclRefused::UnknownAccess(_) => "acl_unknown_access",
        }
    }

    /// The broker's log line for this refusal.
    pub fn log_line(&self, client_id: Option<&str>) -> String {
        format!(
            "ting: access refused ({}): {self}; client id {}",
            self.code(),
            shown(client_id)
        )
    }
}

/// A client-supplied string for a log line: quoted, escaped, cut short.
fn shown(s: Option<&str>) -> String {
    match s {
        None => "(none)".into(),
        Some(s) => {
            let cut: String = s.chars().take(LOG_FIELD_CHARS_MAX).collect();
            format!("{cut:?}")
        }
    }
}

/// The gatekeeper of one plugin instance.
#[derive(Debug)]
pub struct Guard {
    genesis_hash: Hash32,
    /// The genesis's clock and timestamp: login tokens are stamped in the
    /// network's time, which on an accelerated network runs ahead of the wall.
    clock: (ting_core::LedgerClock, Timestamp),
    sequencers: HashSet<AccountId>,
    replay: Arc<Mutex<LoginReplay>>,
    sources: Mutex<Sources>,
}

impl Guard {
    /// A guard for `config` that remembers accepted logins in `replay`.
    pub fn new(config: &Config, replay: Arc<Mutex<LoginReplay>>) -> Guard {
        Guard {
            genesis_hash: config.genesis.hash(),
            clock: (config.genesis.clock, config.genesis.timestamp),
            sequencers: config.genesis.sequencers.iter().copied().collect(),
            replay,
            sources: Mutex::new(Sources::new(config.connections_per_source)),
        }
    }

    /// The guard of a plugin instance in the broker. With
    /// `per_listener_settings true` Mosquitto starts one instance per
    /// listener; they share one replay cache, so a login token is good for one
    /// connection to the broker, not one per listener.
    pub fn for_broker(config: &Config) -> Guard {
        static REPLAY: OnceLock<Arc<Mutex<LoginReplay>>> = OnceLock::new();
        let replay = REPLAY.get_or_init(|| {
            let replay = LoginReplay::default().on_clock(config.genesis.clock);
            Arc::new(Mutex::new(replay))
        });
        Guard::new(config, Arc::clone(replay))
    }

    /// A sequencer of the genesis logs in as a node; any other account as a device.
    pub fn role_of(&self, account: &AccountId) -> Role {
        if self.sequencers.contains(account) {
            Role::Node
        } else {
            Role::Device
        }
    }

    /// Checks a CONNECT's login (docs/mqtt.md §9) at wall-clock reading
    /// `wall` (the network's time by its genesis's clock), then counts it
    /// against its source address. A login that passes is recorded, so its
    /// token is refused next time.
    pub fn login(&self, connect: &Connect<'_>, wall: Timestamp) -> Result<Granted, LoginRefused> {
        let now = self.clock.0.ledger_time(self.clock.1, wall);
        let checked = login::verify(
            &self.genesis_hash,
            connect.username.unwrap_or(""),
            connect.client_id.unwrap_or(""),
            connect.password.unwrap_or(&[]),
            now,
            &mut lock(&self.replay),
        );
        let account = checked?.account;
        if let Some(address) = connect.address {
            lock(&self.sources)
                .admit(connect.client, address)
                .map_err(|full| LoginRefused::SourceFull { limit: full.limit })?;
        }
        Ok(Granted {
            account,
            role: self.role_of(&account),
        })
    }

    /// A client has gone: it no longer counts against its source.
    pub fn disconnected(&self, client: ClientKey) {
        lock(&self.sources).release(client);
    }

    /// An ACL check as Mosquitto passes it: `access` is a `MOSQ_ACL_*` kind,
    /// and `subscriptions` what `mosquitto_client_sub_count` says the client
    /// holds.
    pub fn acl_check(
        &self,
        username: Option<&str>,
        access: c_int,
        retain: bool,
        topic: &str,
        subscriptions: usize,
    ) -> Result<(), AclRefused> {
        let request =
            Request::from_mosquitto(access, retain).ok_or(AclRefused::UnknownAccess(access))?;
        self.access(username, request, topic)?;
        if request == Request::Subscribe {
            room_for_subscription(subscriptions, topic)?;
        }
        Ok(())
    }

    /// Whether the client logged in as `username` may make `request` on
    /// `topic` (docs/mqtt.md §10).
    ///
    /// - A subscription filter is checked as written; Mosquitto passes shared
    ///   subscriptions whole (`$share/ting-nodes/ting/v1/tx`), as the table
    ///   lists them.
    /// - A publish is checked with its retain flag. So is a last will, which
    ///   Mosquitto 2.0 checks only when it is about to publish it.
    /// - Unsubscribing is always allowed: it gives the client nothing, and
    ///   refusing it would only keep a subscription alive.
    /// - A delivery is allowed where the client may subscribe to the concrete
    ///   topic, or (a node) to its shared form: see `may_read` below.
    pub fn access(
        &self,
        username: Option<&str>,
        request: Request,
        topic: &str,
    ) -> Result<(), AclRefused> {
        if request == Request::Unsubscribe {
            return Ok(());
        }
        let Some(me) = username.and_then(|u| login::parse_username(u).ok()) else {
            return Err(AclRefused::NotLoggedIn {
                request,
                topic: shown(Some(topic)),
            });
        };
        let role = self.role_of(&me);
        let checked = match request {
            Request::Subscribe => acl::check(role, &me, Access::Subscribe, topic),
            Request::Write { retain: false } => acl::check(role, &me, Access::Publish, topic),
            Request::Write { retain: true } => {
                acl::check(role, &me, Access::PublishRetained, topic)
            }
            Request::Read => may_read(role, &me, topic),
            Request::Unsubscribe => Ok(()),
        };
        checked.map_err(|denied| AclRefused::Denied { request, denied })
    }
}

/// Whether a client holding `held` subscriptions may add `filter`.
///
/// `held` is Mosquitto's count of the client's subscription slots: an
/// UNSUBSCRIBE empties a slot for the next filter but does not lower the
/// count, and a SUBSCRIBE to a filter the client already holds is checked
/// like a new one. So the cap is a little stricter than "80 at once", never
/// looser. Shared subscriptions are counted apart by Mosquitto, and the table
/// grants exactly one (the nodes'), so they pass.
fn room_for_subscription(held: usize, filter: &str) -> Result<(), AclRefused> {
    if held >= SUBSCRIPTIONS_PER_CLIENT_MAX && !filter.starts_with("$share/") {
        return Err(AclRefused::TooManySubscriptions { held });
    }
    Ok(())
}

/// Whether a message on the concrete `topic` may be delivered to `me`: when
/// `me` may subscribe to that very topic, or to the nodes' shared form of it.
///
/// Mosquitto asks `MOSQ_ACL_READ` for every message it hands a subscriber.
/// Every delivery comes from a filter that passed the SUBSCRIBE check, so
/// allowing all of them would also be sound today; re-checking costs one
/// table lookup and keeps the rule "a client reads only what it may
/// subscribe to" true even for a subscription that was granted under other
/// rules (a persistent session restored after the genesis or this plugin
/// changed). The shared form is needed because a node takes transactions
/// through `$share/ting-nodes/ting/v1/tx` and Mosquitto asks about the
/// delivery with the bare `ting/v1/tx`, which the table grants nodes only in
/// that shared form (so that each transaction reaches one node). Devices may
/// subscribe to neither, so they still read no transaction.
fn may_read(role: Role, me: &AccountId, topic: &str) -> Result<(), Denied> {
    acl::check(role, me, Access::Subscribe, topic).or_else(|denied| {
        let shared = format!("{}{topic}", nodes_share_prefix());
        acl::check(role, me, Access::Subscribe, &shared).map_err(|_| denied)
    })
}

/// `$share/ting-nodes/`: the nodes' shared filter without the topic it shares.
fn nodes_share_prefix() -> &'static str {
    TX_SHARED_FILTER
        .strip_suffix(TX_TOPIC)
        .expect("TX_SHARED_FILTER is TX_TOPIC under a $share/{group}/ prefix")
}

/// A poisoned lock still holds consistent data here (every update is one
/// call into `ting_core` or `Sources`), so a panic elsewhere does not stop
/// logins.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
