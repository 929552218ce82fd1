//! The embedded broker's gatekeeper: logins, topic ACLs and connections per
//! source, as rmqtt hooks over the pure rules of `ting_core::login` and
//! `ting_core::acl` (docs/mqtt.md §9, §10).
//!
//! Every CONNECT must carry a login token; no session is a superuser, so
//! rmqtt asks this guard about every SUBSCRIBE filter and every PUBLISH. A
//! last will is checked at CONNECT, since rmqtt publishes wills unchecked.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType};
use rmqtt::types::{AuthResult, ConnectInfo, LastWill, PublishAclResult, SubscribeAclResult};
use ting_core::acl::{self, Access, Role};
use ting_core::login::{self, LoginError, LoginReplay};
use ting_core::{AccountId, Hash32};

use super::login_gate::LoginGate;

/// What the guard needs to know about the network and its limits.
#[derive(Debug, Clone)]
pub struct Policy {
    pub genesis_hash: Hash32,
    /// What login tokens are checked against.
    pub time: crate::clock::NetworkTime,
    pub sequencers: HashSet<AccountId>,
    /// Most connections from one IP address at once.
    pub connections_per_source: usize,
    /// Most logins checked a second; more are refused before their check.
    pub logins_per_s: u32,
}

/// Refusals by reason, for the node's metrics and tests.
#[derive(Debug, Default)]
pub struct Refusals {
    pub logins: AtomicU64,
    pub subscribes: AtomicU64,
    pub publishes: AtomicU64,
    pub over_source_limit: AtomicU64,
    /// Logins refused unchecked because the broker was admitting its most a second.
    pub over_login_rate: AtomicU64,
}

/// The hook handler: one per broker.
pub struct Guard {
    policy: Policy,
    replay: Mutex<LoginReplay>,
    gate: Mutex<LoginGate>,
    started: Instant,
    per_source: Mutex<HashMap<IpAddr, usize>>,
    refusals: Arc<Refusals>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy)
            .finish()
    }
}

impl Guard {
    pub fn new(policy: Policy, refusals: Arc<Refusals>) -> Guard {
        let replay = LoginReplay::default().on_clock(policy.time.clock());
        Guard {
            gate: Mutex::new(LoginGate::new(policy.logins_per_s)),
            started: Instant::now(),
            policy,
            replay: Mutex::new(replay),
            per_source: Mutex::new(HashMap::new()),
            refusals,
        }
    }

    fn role_of(&self, account: &AccountId) -> Role {
        if self.policy.sequencers.contains(account) {
            Role::Node
        } else {
            Role::Device
        }
    }

    /// The logged-in account and role of a session, from its username (set
    /// only by a login that passed).
    fn who(&self, username: Option<&str>) -> Option<(AccountId, Role)> {
        let account = login::parse_username(username?).ok()?;
        Some((account, self.role_of(&account)))
    }

    fn authenticate(&self, info: &ConnectInfo) -> AuthResult {
        let id = info.id();
        if !self.admit() {
            // rmqtt's hooks can answer a login only "bad credentials" or "not
            // authorized"; "not authorized" is the one a device retries
            // (docs/mqtt.md §9).
            self.refusals
                .over_login_rate
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(from = ?id.remote_addr, "MQTT login refused unchecked: the broker is admitting its most logins a second");
            return AuthResult::NotAuthorized;
        }
        let username = info.username().map(|u| u.as_ref()).unwrap_or("");
        let password = info.password().map(|p| p.as_ref()).unwrap_or(&[]);
        let now = self.policy.time.now();
        let checked = {
            let mut replay = self.replay.lock().unwrap_or_else(|e| e.into_inner());
            login::verify(
                &self.policy.genesis_hash,
                username,
                &id.client_id,
                password,
                now,
                &mut replay,
            )
        };
        let account = match checked {
            Ok(l) => l.account,
            Err(e) => return self.refuse_login(id.remote_addr, e),
        };
        if let Some(will) = info.last_will() {
            let (topic, retain) = will_of(&will);
            let access = if retain {
                Access::PublishRetained
            } else {
                Access::Publish
            };
            if let Err(denied) = acl::check(self.role_of(&account), &account, access, &topic) {
                tracing::info!(
                    code = denied.code(),
                    "MQTT login refused: last will: {denied}"
                );
                self.refusals.logins.fetch_add(1, Ordering::Relaxed);
                return AuthResult::NotAuthorized;
            }
        }
        if let Some(ip) = id.remote_addr.map(|a| a.ip()) {
            let per_source = self.per_source.lock().unwrap_or_else(|e| e.into_inner());
            if per_source.get(&ip).copied().unwrap_or(0) >= self.policy.connections_per_source {
                tracing::info!(%ip, limit = self.policy.connections_per_source, "MQTT login refused: too many connections from one source");
                self.refusals
                    .over_source_limit
                    .fetch_add(1, Ordering::Relaxed);
                return AuthResult::NotAuthorized;
            }
        }
        AuthResult::Allow(false, None)
    }

    /// Whether the login gate has a token for one more login now.
    fn admit(&self) -> bool {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        gate.admit(now_ms)
    }

    fn refuse_login(&self, from: Option<std::net::SocketAddr>, e: LoginError) -> AuthResult {
        self.refusals.logins.fetch_add(1, Ordering::Relaxed);
        tracing::info!(code = e.code(), from = ?from, "MQTT login refused: {e}");
        match e {
            LoginError::Busy => AuthResult::NotAuthorized,
            _ => AuthResult::BadUsernameOrPassword,
        }
    }

    fn count_source(&self, ip: Option<IpAddr>, up: bool) {
        let Some(ip) = ip else { return };
        let mut per_source = self.per_source.lock().unwrap_or_else(|e| e.into_inner());
        if up {
            *per_source.entry(ip).or_insert(0) += 1;
        } else if let Some(n) = per_source.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_source.remove(&ip);
            }
        }
    }

    fn check(&self, username: Option<&str>, access: Access, topic: &str) -> bool {
        let Some((account, role)) = self.who(username) else {
            return false;
        };
        match acl::check(role, &account, access, topic) {
            Ok(()) => true,
            Err(denied) => {
                tracing::debug!(code = denied.code(), "{denied}");
                false
            }
        }
    }
}

fn will_of(will: &LastWill<'_>) -> (String, bool) {
    match will {
        LastWill::V3(w) => (w.topic.to_string(), w.retain),
        LastWill::V5(w) => (w.topic.to_string(), w.retain),
    }
}

/// The filter as the client wrote it: rmqtt splits `$share/{group}/` off.
fn full_filter(sub: &rmqtt::types::Subscribe) -> String {
    match sub.opts.shared_group() {
        Some(group) => format!("$share/{group}/{}", sub.topic_filter),
        None => sub.topic_filter.to_string(),
    }
}

#[async_trait::async_trait]
impl Handler for Guard {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientAuthenticate(info) => {
                let result = self.authenticate(info);
                (false, Some(HookResult::AuthResult(result)))
            }
            Parameter::ClientConnected(session) => {
                self.count_source(session.id.remote_addr.map(|a| a.ip()), true);
                (true, acc)
            }
            Parameter::ClientDisconnected(session, _) => {
                self.count_source(session.id.remote_addr.map(|a| a.ip()), false);
                (true, acc)
            }
            Parameter::ClientSubscribeCheckAcl(session, sub) => {
                let filter = full_filter(sub);
                let user = session.id.username.as_deref();
                let result = if self.check(user, Access::Subscribe, &filter) {
                    SubscribeAclResult::new_success(sub.opts.qos(), None)
                } else {
                    self.refusals.subscribes.fetch_add(1, Ordering::Relaxed);
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let access = if publish.retain {
                    Access::PublishRetained
                } else {
                    Access::Publish
                };
                let user = session.id.username.as_deref();
                let result = if self.check(user, access, &publish.topic) {
                    PublishAclResult::allow()
                } else {
                    self.refusals.publishes.fetch_add(1, Ordering::Relaxed);
                    PublishAclResult::rejected(false, None)
                };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            _ => (true, acc),
        }
    }
}
