//! What the node has recently seen by transaction hash: transactions in the
//! pipeline, and final refusals.
//!
//! A resubmission of bytes already in the pipeline is answered
//! `already_pending`; one refused for good (a bad signature, an expired or
//! malformed transaction: `ting_core::tx::refusal_is_final`) gets the same
//! refusal again from memory, without a signature check. A refusal that
//! depends on the state is not remembered here: the same bytes may apply
//! later. Both memories are bounded; the oldest final refusal goes first.

use std::collections::{HashMap, HashSet, VecDeque};

use ting_core::Hash32;

use crate::pipeline::Refusal;

#[derive(Debug)]
pub struct Seen {
    pending: HashSet<Hash32>,
    finals: HashMap<Hash32, Refusal>,
    order: VecDeque<Hash32>,
    finals_max: usize,
}

/// What the memory says about a transaction about to be admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Recall {
    New,
    Pending,
    Refused(Refusal),
}

impl Seen {
    pub fn new(finals_max: usize) -> Seen {
        Seen {
            pending: HashSet::new(),
            finals: HashMap::new(),
            order: VecDeque::new(),
            finals_max,
        }
    }

    pub fn recall(&self, hash: &Hash32) -> Recall {
        if self.pending.contains(hash) {
            return Recall::Pending;
        }
        match self.finals.get(hash) {
            Some(r) => Recall::Refused(r.clone()),
            None => Recall::New,
        }
    }

    /// Marks `hash` as in the pipeline; false if it already was.
    pub fn admit(&mut self, hash: Hash32) -> bool {
        self.pending.insert(hash)
    }

    /// The pipeline is done with `hash` (applied, refused, or never admitted).
    pub fn leave(&mut self, hash: &Hash32) {
        self.pending.remove(hash);
    }

    /// Remembers a final refusal.
    pub fn refused_for_good(&mut self, refusal: Refusal) {
        let hash = refusal.tx_hash;
        if self.finals.insert(hash, refusal).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > self.finals_max {
            if let Some(old) = self.order.pop_front() {
                self.finals.remove(&old);
            }
        }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u32) -> Hash32 {
        Hash32::digest(&[&i.to_le_bytes()])
    }

    fn refusal(i: u32) -> Refusal {
        Refusal {
            tx_hash: hash(i),
            code: "bad_signature",
            message: "the signature does not verify".into(),
        }
    }

    #[test]
    fn a_pending_hash_is_recalled_until_it_leaves() {
        let mut s = Seen::new(4);
        assert!(s.admit(hash(1)));
        assert!(!s.admit(hash(1)));
        assert_eq!(s.recall(&hash(1)), Recall::Pending);
        s.leave(&hash(1));
        assert_eq!(s.recall(&hash(1)), Recall::New);
    }

    #[test]
    fn final_refusals_are_recalled_and_the_oldest_forgotten_first() {
        let mut s = Seen::new(4);
        for i in 0..5 {
            s.refused_for_good(refusal(i));
        }
        assert_eq!(s.recall(&hash(0)), Recall::New);
        assert_eq!(s.recall(&hash(4)), Recall::Refused(refusal(4)));
        // Remembering the same refusal twice does not take two places.
        s.refused_for_good(refusal(4));
        assert_eq!(s.recall(&hash(1)), Recall::Refused(refusal(1)));
    }
}
