//! Open calls for proposals, as the node sees them on its broker: the
//! market page's "open calls" and `GET /v1/calls`.
//!
//! Calls never reach the ledger (docs/market.md §4): a buyer publishes one
//! on its own call topic and providers answer in envelopes. The gateway
//! subscribes to every call topic and offers each message here. A call is
//! kept only if it decodes, is for this network, was published on its own
//! buyer's topic in its own category, is still taking proposals, and its
//! signature holds. What is kept is bounded: at most `CALLS_KEPT_MAX` calls,
//! `CALLS_PER_BUYER_MAX` of one buyer (its newest), and a full table gives
//! way to the call that closes latest. Signature checks are rationed
//! (`CALL_CHECKS_PER_S`), so a flood of calls costs the node little and
//! drops calls, never the node's other work. This is market data, not state:
//! nothing here is proved, and a node that was not connected when a call was
//! published does not know it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use ting_core::market::cfp::SignedCall;
use ting_core::topics::{calls as call_topic, CALLS_PREFIX};
use ting_core::{AccountId, Hash32, Timestamp};

/// Open calls kept at most.
pub const CALLS_KEPT_MAX: usize = 1024;
/// Open calls of one buyer kept at most (its newest).
pub const CALLS_PER_BUYER_MAX: usize = 8;
/// Call signatures checked per second at most; beyond, calls are dropped.
pub const CALL_CHECKS_PER_S: u64 = 200;
/// The longest call message taken (a call is a few hundred bytes; its spec at most 512).
pub const CALL_BYTES_MAX: usize = 2048;

/// Why a call was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallDropped {
    #[error("the message is not a call (or breaks a call's rules)")]
    Malformed,
    #[error("the call is for another network")]
    OtherNetwork,
    #[error("the call was not published on its buyer's topic for its category")]
    WrongTopic,
    #[error("the call no longer takes proposals")]
    Closed,
    #[error("the call's signature does not hold")]
    BadSignature,
    #[error("too many calls to check this second")]
    Rationed,
    #[error("the table is full of calls that close later, or the buyer's newer calls")]
    Full,
}

impl CallDropped {
    pub fn code(&self) -> &'static str {
        match self {
            CallDropped::Malformed => "malformed",
            CallDropped::OtherNetwork => "other_network",
            CallDropped::WrongTopic => "wrong_topic",
            CallDropped::Closed => "closed",
            CallDropped::BadSignature => "bad_signature",
            CallDropped::Rationed => "rationed",
            CallDropped::Full => "full",
        }
    }
}

/// The open calls the node has seen.
#[derive(Debug, Default)]
pub struct OpenCalls {
    inner: Mutex<Inner>,
    /// Calls offered that were not kept.
    pub dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    calls: HashMap<Hash32, SignedCall>,
    /// The second the ration counts in, and the checks made in it.
    ration: (u64, u64),
}

impl OpenCalls {
    /// Offers a message published on `topic` at network time `now`; keeps it
    /// if it is an open call of this network (`genesis`) with a good signature.
    pub fn offer(
        &self,
        topic: &str,
        payload: &[u8],
        genesis: &Hash32,
        now: Timestamp,
    ) -> Result<Hash32, CallDropped> {
        let kept = self.check_and_keep(topic, payload, genesis, now);
        if kept.is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        kept
    }

    fn check_and_keep(
        &self,
        topic: &str,
        payload: &[u8],
        genesis: &Hash32,
        now: Timestamp,
    ) -> Result<Hash32, CallDropped> {
        if payload.len() > CALL_BYTES_MAX || !topic.starts_with(CALLS_PREFIX) {
            return Err(CallDropped::Malformed);
        }
        let signed = SignedCall::from_bytes(payload).map_err(|_| CallDropped::Malformed)?;
        let call = &signed.call;
        if call.genesis != *genesis {
            return Err(CallDropped::OtherNetwork);
        }
        if call_topic(&call.buyer, &call.category) != topic {
            return Err(CallDropped::WrongTopic);
        }
        if call.answer_by <= now {
            return Err(CallDropped::Closed);
        }
        self.take_ration(now)?;
        signed.verify().map_err(|_| CallDropped::BadSignature)?;
        let hash = signed.hash();
        let buyer = call.buyer;
        let mut inner = self.inner.lock().expect("calls lock");
        inner.calls.retain(|_, c| c.call.answer_by > now);
        inner.calls.insert(hash, signed);
        trim_buyer(&mut inner.calls, &buyer);
        if !inner.calls.contains_key(&hash) {
            return Err(CallDropped::Full);
        }
        if inner.calls.len() > CALLS_KEPT_MAX {
            let closing_first = inner
                .calls
                .iter()
                .min_by_key(|(h, c)| (c.call.answer_by, **h))
                .map(|(h, _)| *h)
                .expect("a full table has calls");
            inner.calls.remove(&closing_first);
            if closing_first == hash {
                return Err(CallDropped::Full);
            }
        }
        Ok(hash)
    }

    fn take_ration(&self, now: Timestamp) -> Result<(), CallDropped> {
        let mut inner = self.inner.lock().expect("calls lock");
        let second = now.0 / 1000;
        if inner.ration.0 != second {
            inner.ration = (second, 0);
        }
        if inner.ration.1 >= CALL_CHECKS_PER_S {
            return Err(CallDropped::Rationed);
        }
        inner.ration.1 += 1;
        Ok(())
    }

    /// The calls still open at `now`, closing soonest first, under
    /// `category` (and its sub-categories) when given.
    pub fn open(&self, now: Timestamp, category: Option<&str>) -> Vec<SignedCall> {
        let inner = self.inner.lock().expect("calls lock");
        let under = |c: &str| {
            category.is_none_or(|want| {
                c == want
                    || c.strip_prefix(want)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        };
        let mut open: Vec<SignedCall> = inner
            .calls
            .values()
            .filter(|c| c.call.answer_by > now && under(&c.call.category))
            .cloned()
            .collect();
        open.sort_by_key(|c| (c.call.answer_by, c.call.buyer, c.call.id));
        open
    }
}

/// Keeps a buyer's `CALLS_PER_BUYER_MAX` newest calls.
fn trim_buyer(calls: &mut HashMap<Hash32, SignedCall>, buyer: &AccountId) {
    let mut theirs: Vec<(Timestamp, u64, Hash32)> = calls
        .iter()
        .filter(|(_, c)| c.call.buyer == *buyer)
        .map(|(h, c)| (c.call.issued_at, c.call.id, *h))
        .collect();
    if theirs.len() <= CALLS_PER_BUYER_MAX {
        return;
    }
    theirs.sort_unstable();
    for (_, _, h) in &theirs[..theirs.len() - CALLS_PER_BUYER_MAX] {
        calls.remove(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::market::cfp::Call;
    use ting_core::market::ReleaseRule;
    use ting_core::{Amount, Keypair};

    const T: u64 = 1_700_000_000_000;

    fn genesis() -> Hash32 {
        Hash32([7; 32])
    }

    fn call(buyer: &Keypair, id: u64, answer_by: u64) -> (String, Vec<u8>) {
        let c = Call {
            genesis: genesis(),
            buyer: buyer.account(),
            id,
            issued_at: Timestamp(T + id),
            answer_by: Timestamp(answer_by),
            deliver_by: Timestamp(answer_by + 3_600_000),
            grace_ms: 60_000,
            category: "water.cartridge".into(),
            area: "u0yj".into(),
            spec: "a cartridge".into(),
            max_price: Amount::new(40_000),
            rounds: 1,
            rule: ReleaseRule::Payer,
            arbiter: None,
        };
        let signed = c.sign(buyer);
        (
            call_topic(&buyer.account(), "water.cartridge"),
            signed.to_bytes(),
        )
    }

    fn key(i: u8) -> Keypair {
        Keypair::from_seed([i; 32])
    }

    #[test]
    fn an_open_call_of_this_network_is_kept_and_listed_until_it_closes() {
        let calls = OpenCalls::default();
        let (topic, bytes) = call(&key(1), 1, T + 60_000);
        let hash = calls
            .offer(&topic, &bytes, &genesis(), Timestamp(T))
            .expect("kept");
        let open = calls.open(Timestamp(T), None);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].hash(), hash);
        assert_eq!(calls.open(Timestamp(T), Some("water")).len(), 1);
        assert_eq!(calls.open(Timestamp(T), Some("water.cartridge")).len(), 1);
        assert!(
            calls.open(Timestamp(T), Some("wat")).is_empty(),
            "a prefix is not a category"
        );
        assert!(calls.open(Timestamp(T + 60_000), None).is_empty(), "closed");
    }

    #[test]
    fn forged_misplaced_foreign_and_closed_calls_are_dropped() {
        let calls = OpenCalls::default();
        let now = Timestamp(T);
        let (topic, mut bytes) = call(&key(1), 1, T + 60_000);
        assert_eq!(
            calls.offer(&topic, &bytes, &Hash32([8; 32]), now),
            Err(CallDropped::OtherNetwork)
        );
        let elsewhere = call_topic(&key(2).account(), "water.cartridge");
        assert_eq!(
            calls.offer(&elsewhere, &bytes, &genesis(), now),
            Err(CallDropped::WrongTopic)
        );
        let other_category = call_topic(&key(1).account(), "water");
        assert_eq!(
            calls.offer(&other_category, &bytes, &genesis(), now),
            Err(CallDropped::WrongTopic)
        );
        assert_eq!(
            calls.offer(&topic, &bytes, &genesis(), Timestamp(T + 60_000)),
            Err(CallDropped::Closed)
        );
        assert_eq!(
            calls.offer(&topic, b"junk", &genesis(), now),
            Err(CallDropped::Malformed)
        );
        assert_eq!(
            calls.offer(&topic, &vec![0; CALL_BYTES_MAX + 1], &genesis(), now),
            Err(CallDropped::Malformed)
        );
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(
            calls.offer(&topic, &bytes, &genesis(), now),
            Err(CallDropped::BadSignature)
        );
        assert!(calls.open(now, None).is_empty());
        assert_eq!(calls.dropped.load(Ordering::Relaxed), 7);
    }

    #[test]
    fn a_buyer_keeps_its_newest_calls_and_the_table_keeps_those_closing_last() {
        let calls = OpenCalls::default();
        let now = Timestamp(T);
        for id in 0..(CALLS_PER_BUYER_MAX as u64 + 3) {
            let (topic, bytes) = call(&key(1), id, T + 60_000 + id);
            calls.offer(&topic, &bytes, &genesis(), now).expect("kept");
        }
        let open = calls.open(now, None);
        assert_eq!(open.len(), CALLS_PER_BUYER_MAX);
        assert!(open.iter().all(|c| c.call.id >= 3), "the oldest went");
    }

    #[test]
    fn signature_checks_are_rationed_per_second() {
        let calls = OpenCalls::default();
        let (topic, mut bytes) = call(&key(1), 1, T + 60_000);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        for _ in 0..CALL_CHECKS_PER_S {
            assert_eq!(
                calls.offer(&topic, &bytes, &genesis(), Timestamp(T)),
                Err(CallDropped::BadSignature)
            );
        }
        assert_eq!(
            calls.offer(&topic, &bytes, &genesis(), Timestamp(T)),
            Err(CallDropped::Rationed)
        );
        assert_eq!(
            calls.offer(&topic, &bytes, &genesis(), Timestamp(T + 1_000)),
            Err(CallDropped::BadSignature)
        );
    }
}
