//! The door before the pipeline: no free work.
//!
//! Every submission passes here before any signature is checked:
//!
//! 1. **Memory.** Bytes already in the pipeline are answered `already_pending`;
//!    bytes refused for good are answered with the same refusal from memory.
//! 2. **Cheap checks** on the state as it is (read once per submission): the
//!    network, the expiry, a sender that has an account (or is credited
//!    earlier in the same submission), a nonce not absurdly far ahead.
//! 3. **Budgets.** Each refusal costs whoever caused it: the source address
//!    always, and the sender too when its own signed transaction was refused
//!    on the state (except `bad_nonce`, which anyone replaying its old
//!    transactions could cause). While a budget is spent, that source's or
//!    sender's transactions are refused unchecked with `refusal_budget`,
//!    saying when to come back. The verifiers and the executor look at the
//!    same budgets, so a flood admitted in one batch stops costing as soon as
//!    its budget is spent.
//!
//! In-process callers (`Source::Local`: the faucet, the demo, benchmarks) have
//! no source budget. Answers from here change no state and are never final
//! unless the memory says so.

mod budget;
mod precheck;
mod seen;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ting_core::limits::{
    FINAL_REFUSALS_KEPT_MAX, REFUSALS_PER_SENDER_BURST, REFUSALS_PER_SENDER_PER_S,
    REFUSALS_PER_SOURCE_BURST, REFUSALS_PER_SOURCE_PER_S, REFUSAL_BUDGETS_MAX,
};
use ting_core::{AccountId, Hash32, SignedTx};

pub use budget::{Budgets, Rate};
pub use precheck::{precheck, View};
use seen::{Recall, Seen};

use crate::pipeline::Refusal;

/// Where a submission came from, for its refusal budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// In-process: no source budget.
    Local,
    /// An HTTP client's address.
    Peer(IpAddr),
    /// The MQTT gateway: the broker's clients share one budget.
    Mqtt,
    /// A node of the network forwarding what passed its own door, proved by
    /// its signature (`crate::lead::peer`): no source budget.
    Node,
}

/// The key of a source's budget: an IPv6 client is counted by its /64, which
/// one host can fill with addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum SourceKey {
    V4([u8; 4]),
    V6Net([u8; 8]),
    Mqtt,
}

impl SourceKey {
    fn of(source: Source) -> Option<SourceKey> {
        match source {
            Source::Local | Source::Node => None,
            Source::Mqtt => Some(SourceKey::Mqtt),
            Source::Peer(IpAddr::V4(a)) => Some(SourceKey::V4(a.octets())),
            Source::Peer(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => Some(SourceKey::V4(v4.octets())),
                None => {
                    let mut net = [0u8; 8];
                    net.copy_from_slice(&a.octets()[..8]);
                    Some(SourceKey::V6Net(net))
                }
            },
        }
    }
}

/// The MQTT gateway speaks for many devices: its shared budget is this many
/// times a single address's.
const MQTT_BUDGET_FACTOR: u64 = 4;

/// The admission memory and budgets; one per node.
#[derive(Debug)]
pub struct Admission {
    seen: Mutex<Seen>,
    /// Resubmissions answered from memory (pending or refused for good).
    from_memory: AtomicU64,
    sources: Mutex<Budgets<SourceKey>>,
    mqtt: Mutex<Budgets<SourceKey>>,
    senders: Mutex<Budgets<AccountId>>,
}

impl Default for Admission {
    fn default() -> Admission {
        let per_source = Rate {
            burst: REFUSALS_PER_SOURCE_BURST,
            per_s: REFUSALS_PER_SOURCE_PER_S,
        };
        let mqtt = Rate {
            burst: REFUSALS_PER_SOURCE_BURST.saturating_mul(MQTT_BUDGET_FACTOR),
            per_s: REFUSALS_PER_SOURCE_PER_S.saturating_mul(MQTT_BUDGET_FACTOR),
        };
        let per_sender = Rate {
            burst: REFUSALS_PER_SENDER_BURST,
            per_s: REFUSALS_PER_SENDER_PER_S,
        };
        Admission {
            seen: Mutex::new(Seen::new(FINAL_REFUSALS_KEPT_MAX)),
            from_memory: AtomicU64::new(0),
            sources: Mutex::new(Budgets::new(per_source, REFUSAL_BUDGETS_MAX)),
            mqtt: Mutex::new(Budgets::new(mqtt, 1)),
            senders: Mutex::new(Budgets::new(per_sender, REFUSAL_BUDGETS_MAX)),
        }
    }
}

/// The refusal of a transaction whose source or sender spent its budget.
pub fn over_budget(tx_hash: Hash32, who: &str, wait: Duration) -> Refusal {
    Refusal::new(
        tx_hash,
        "refusal_budget",
        format!(
            "{who} caused too many refusals recently, so its transactions are refused unchecked for now; retry in {} ms, and check why the earlier ones were refused",
            wait.as_millis().max(1)
        ),
    )
}

impl Admission {
    fn source_budget(&self, key: SourceKey) -> &Mutex<Budgets<SourceKey>> {
        match key {
            SourceKey::Mqtt => &self.mqtt,
            _ => &self.sources,
        }
    }

    /// How long `source` must wait, if its budget is spent.
    pub fn source_exhausted(&self, source: Source, now: Instant) -> Option<Duration> {
        let key = SourceKey::of(source)?;
        self.source_budget(key)
            .lock()
            .expect("budget lock")
            .exhausted(&key, now)
    }

    /// How long `sender` must wait, if its budget is spent.
    pub fn sender_exhausted(&self, sender: &AccountId, now: Instant) -> Option<Duration> {
        self.senders
            .lock()
            .expect("budget lock")
            .exhausted(sender, now)
    }

    /// Charges one refusal of a transaction from `source` sent by `sender`:
    /// the sender is charged only when its signature verified and the refusal
    /// was its own doing (`signed_by_sender`).
    pub fn charge(&self, source: Source, sender: Option<&AccountId>, now: Instant) {
        if let Some(key) = SourceKey::of(source) {
            self.source_budget(key)
                .lock()
                .expect("budget lock")
                .charge(key, now);
        }
        if let Some(sender) = sender {
            self.senders
                .lock()
                .expect("budget lock")
                .charge(*sender, now);
        }
    }

    /// Decides for each transaction of one submission whether it may enter the
    /// pipeline: `None` admits it (and marks it pending), `Some` is its answer.
    /// Every refusal decided here is charged to `source`.
    pub fn screen(
        &self,
        source: Source,
        txs: &[SignedTx],
        view: &View<'_>,
        now: Instant,
    ) -> Vec<Option<Refusal>> {
        let mut credited = HashSet::new();
        let mut answers = Vec::with_capacity(txs.len());
        let mut refused = 0u64;
        // The source's budget is read once: what this submission is refused
        // is charged after it.
        let source_wait = self.source_exhausted(source, now);
        {
            let mut seen = self.seen.lock().expect("admission lock");
            for tx in txs {
                let answer = self.screen_one(&mut seen, source_wait, tx, view, &credited, now);
                refused = refused.saturating_add(u64::from(answer.is_some()));
                if answer.is_none() {
                    credited.extend(precheck::credits(tx));
                }
                answers.push(answer);
            }
        }
        if let Some(key) = SourceKey::of(source) {
            self.source_budget(key)
                .lock()
                .expect("budget lock")
                .charge_n(key, refused, now);
        }
        answers
    }

    fn screen_one(
        &self,
        seen: &mut Seen,
        source_wait: Option<Duration>,
        tx: &SignedTx,
        view: &View<'_>,
        credited: &HashSet<AccountId>,
        now: Instant,
    ) -> Option<Refusal> {
        let recalled = match seen.recall(&tx.hash()) {
            Recall::Pending => Some(already_pending(tx.hash())),
            Recall::Refused(r) => Some(r),
            Recall::New => None,
        };
        if recalled.is_some() {
            self.from_memory.fetch_add(1, Ordering::Relaxed);
            return recalled;
        }
        if let Some(wait) = source_wait {
            return Some(over_budget(tx.hash(), "this source address", wait));
        }
        if let Some(wait) = self.sender_exhausted(&tx.sender(), now) {
            return Some(over_budget(tx.hash(), "this sender", wait));
        }
        if let Err(r) = precheck(tx, view, credited) {
            if ting_core::tx::refusal_is_final(r.code) {
                seen.refused_for_good(r.clone());
            }
            return Some(r);
        }
        if !seen.admit(tx.hash()) {
            // The same bytes twice in one submission.
            return Some(already_pending(tx.hash()));
        }
        None
    }

    /// The pipeline is done with `hash`: it applied, or was refused.
    pub fn leave(&self, hash: &Hash32) {
        self.seen.lock().expect("admission lock").leave(hash);
    }

    /// The pipeline refused a transaction: it leaves, and a final refusal is
    /// remembered.
    pub fn refused(&self, refusal: &Refusal) {
        let mut seen = self.seen.lock().expect("admission lock");
        seen.leave(&refusal.tx_hash);
        if ting_core::tx::refusal_is_final(refusal.code) {
            seen.refused_for_good(refusal.clone());
        }
    }

    /// Resubmissions answered from memory so far, for metrics.
    pub fn answered_from_memory(&self) -> u64 {
        self.from_memory.load(Ordering::Relaxed)
    }

    /// Transactions in the pipeline, for metrics.
    pub fn pending(&self) -> usize {
        self.seen.lock().expect("admission lock").pending()
    }
}

fn already_pending(tx_hash: Hash32) -> Refusal {
    Refusal::new(
        tx_hash,
        "already_pending",
        format!(
            "the same transaction is already in the pipeline; read its outcome from /v1/transactions/{tx_hash}"
        ),
    )
}

#[cfg(test)]
mod tests;
