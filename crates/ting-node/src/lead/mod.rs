//! Several nodes on one PostgreSQL database: one leads, the others follow.
//!
//! ```text
//!   start ─► recover from the database ─► follow ─┬─► (lease free) take it ─► lead
//!                                                 └─► apply each block the leader appends
//! ```
//!
//! - **The lease** (`ting_store::Leases`, decided on the database's clock)
//!   names the leader and its epoch. A node takes it when it is free
//!   (released, expired, or its own from an earlier run); taking raises the
//!   epoch, and every block the leader seals carries it, so the database
//!   refuses a block from any earlier leader (`log_fenced`).
//! - **Followers** ([`follow`]) read each append as it commits (`LISTEN`,
//!   and a poll of the tip in case a notice is lost), check it against the
//!   genesis sequencers, apply it, and publish it as the writer would:
//!   reads, events and the index work on every node. A submission on a
//!   follower passes its door and is forwarded to the leader ([`forward`]);
//!   its answer comes once the follower holds the block, with a proof from
//!   its own copy.
//! - **The leader** writes the query tables behind its appends ([`rows`]),
//!   and keeps its lease ([`keeper`]). A leader that cannot renew
//!   before the lease runs out, or whose append the database fences, stops
//!   the process ([`step_down`]): its state is ahead of the log, and a
//!   restart recovers from the database as a follower. Run nodes under a
//!   supervisor that restarts them (docs/operations.md).

mod batcher;
mod follow;
mod forward;
mod keeper;
pub mod peer;
mod rows;

use std::time::Duration;

use tokio::sync::watch;

pub(crate) use follow::{spawn_follower, FollowerParts, Standby};
pub(crate) use forward::Forwarder;

/// The lease's length unless `--lease-ttl` says otherwise.
pub const LEASE_TTL_DEFAULT: Duration = Duration::from_secs(3);
/// The shortest lease accepted: renewals come every third of it.
pub const LEASE_TTL_MIN: Duration = Duration::from_millis(300);
/// The exit status of a node that stopped leading: restart it, and it follows.
pub const EXIT_STEPPED_DOWN: i32 = 75;
/// How long a follower waits for a notice before it polls the tip anyway.
pub(crate) const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// How a node on PostgreSQL takes part in leadership.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// How long a lease runs without renewal; a killed leader is replaced
    /// about this long after its last renewal.
    pub ttl: Duration,
    /// Where this node answers HTTP (`http://HOST:PORT`), for followers to
    /// forward submissions to while it leads.
    pub address: String,
    /// A direct URL for `LISTEN` when `store` goes through a pooler in
    /// transaction mode; `None` listens on `store` itself.
    pub listen_url: Option<String>,
}

impl Default for LeaseConfig {
    fn default() -> LeaseConfig {
        LeaseConfig {
            ttl: LEASE_TTL_DEFAULT,
            address: String::new(),
            listen_url: None,
        }
    }
}

/// The leader as the lease names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderInfo {
    pub epoch: u64,
    pub holder: String,
    pub address: String,
}

/// What this node does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The only node: the block log is its own files.
    Single,
    /// Applying the leader's blocks; the leader while one holds the lease.
    Following { leader: Option<LeaderInfo> },
    /// Sealing blocks in `epoch`.
    Leading { epoch: u64 },
}

impl Role {
    /// The name `/v1/status` and the metrics give it.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Following { .. } => "follower",
            Role::Leading { .. } => "leader",
        }
    }
}

/// The node's role, shared with request handlers.
#[derive(Debug)]
pub struct Roles {
    now: watch::Sender<Role>,
}

impl Roles {
    pub fn new(role: Role) -> Roles {
        Roles {
            now: watch::Sender::new(role),
        }
    }

    pub fn get(&self) -> Role {
        self.now.borrow().clone()
    }

    /// Whether submissions go into this node's own pipeline.
    pub fn sequences(&self) -> bool {
        matches!(*self.now.borrow(), Role::Single | Role::Leading { .. })
    }

    pub(crate) fn set(&self, role: Role) {
        self.now.send_if_modified(|now| {
            let changed = *now != role;
            *now = role;
            changed
        });
    }

    /// Waits in a task until the role is one `pred` accepts.
    pub async fn wait_for(&self, pred: impl FnMut(&Role) -> bool) {
        let mut rx = self.now.subscribe();
        let _ = rx.wait_for(pred).await;
    }
}

/// Stops the process because this node may no longer lead: its state is
/// ahead of the database, and a restart recovers from it as a follower.
pub(crate) fn step_down(reason: &str) -> ! {
    tracing::error!(%reason, "this node no longer leads; stopping so that a restart follows the new leader");
    eprintln!("ting-node: stopped leading: {reason}. Restart the node: it will follow the new leader (exit status {EXIT_STEPPED_DOWN})");
    std::process::exit(EXIT_STEPPED_DOWN)
}
