//! A bounded memory of recent refusals, so a receipt query can report them.
//!
//! Refused transactions never reach a block, so nothing durable records them.
//! The last `REFUSALS_KEPT_MAX` are kept here (oldest evicted first) so that a
//! client that submitted without waiting can still learn why.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use ting_core::limits::REFUSALS_KEPT_MAX;
use ting_core::Hash32;

use crate::pipeline::Refusal;

#[derive(Debug, Default)]
struct Inner {
    by_hash: HashMap<Hash32, Refusal>,
    order: VecDeque<Hash32>,
}

/// Recent refusals by transaction hash.
#[derive(Debug, Default)]
pub struct Refusals {
    inner: Mutex<Inner>,
}

impl Refusals {
    pub fn insert(&self, refusal: Refusal) {
        let mut inner = self.inner.lock().expect("refusals lock");
        let hash = refusal.tx_hash;
        if inner.by_hash.insert(hash, refusal).is_none() {
            inner.order.push_back(hash);
        }
        while inner.order.len() > REFUSALS_KEPT_MAX {
            if let Some(old) = inner.order.pop_front() {
                inner.by_hash.remove(&old);
            }
        }
    }

    pub fn get(&self, hash: &Hash32) -> Option<Refusal> {
        self.inner
            .lock()
            .expect("refusals lock")
            .by_hash
            .get(hash)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_refusal_is_forgotten_first() {
        let r = Refusals::default();
        let hash = |i: usize| Hash32::digest(&[&i.to_le_bytes()]);
        for i in 0..=REFUSALS_KEPT_MAX {
            r.insert(Refusal {
                tx_hash: hash(i),
                code: "bad_nonce",
                message: String::new(),
            });
        }
        assert!(r.get(&hash(0)).is_none());
        assert!(r.get(&hash(1)).is_some());
        assert!(r.get(&hash(REFUSALS_KEPT_MAX)).is_some());
    }
}
