//! A device's witness policy at work (docs/witnesses.md): receipts held
//! back until enough of the witnesses its owner trusts attested their
//! header. Pure: the link hands it what arrives and settles what it
//! returns.
//!
//! The device follows each trusted witness's attestations topic. What
//! arrives there is kept as it came, per header, at most two per trusted
//! witness and for the newest `HEADERS_KEPT` headers; signatures are
//! checked only when a receipt needs them, by [`WitnessPolicy::check`],
//! which stops at `needed`. A receipt that already checked against the
//! sequencer waits here, at most `WAITING_MAX` of them (the oldest gives
//! way, and its transaction is simply asked about again later, as any
//! unanswered one is).

use std::collections::{BTreeMap, VecDeque};

use ting_core::topics;
use ting_core::witness::{Attestation, WitnessPolicy, ATTESTATION_BYTES};
use ting_core::{Hash32, Receipt};

/// Headers whose attestations are kept.
const HEADERS_KEPT: usize = 1_024;
/// Receipts waiting for attestations.
const WAITING_MAX: usize = 1_024;

/// The attestations heard of one header, and what checking them found.
#[derive(Debug, Default)]
struct Heard {
    attestations: Vec<Attestation>,
    /// The policy is met: no need to check again.
    passed: bool,
    /// How many attestations there were when the policy was last not met:
    /// checking the same ones again would find the same.
    failed_with: Option<usize>,
}

/// What the device knows of its witnesses.
#[derive(Debug, Default)]
pub(crate) struct Witnessed {
    policy: WitnessPolicy,
    /// Each trusted witness's attestations and evidence topics, made once.
    topics: Vec<String>,
    /// Attestations as they came, by (height, header hash).
    seen: BTreeMap<(u64, Hash32), Heard>,
    waiting: VecDeque<Box<Receipt>>,
    /// Receipts that gave way to newer ones before they were attested.
    pub gave_way: u64,
}

impl Witnessed {
    pub fn new(policy: WitnessPolicy) -> Witnessed {
        let topics = policy
            .witnesses()
            .iter()
            .flat_map(|w| [topics::witness_attestations(w), topics::witness_evidence(w)])
            .collect();
        Witnessed {
            policy,
            topics,
            ..Witnessed::default()
        }
    }

    /// Whether receipts wait for witnesses at all.
    pub fn required(&self) -> bool {
        self.policy.is_required()
    }

    /// The topics to follow: each trusted witness's attestations and evidence.
    pub fn topics(&self) -> Vec<String> {
        self.topics.clone()
    }

    /// Whether `topic` is one this device follows.
    pub fn follows(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }

    /// Evidence published by a trusted witness: the sequencer of `network`
    /// it proves dishonest, with what it did, if it proves that of one of
    /// the network's sequencers. A wrong state root is checked by re-running
    /// its block on the state it proves (`ting_ledger::evidence`); one at
    /// height 1 needs the genesis, which a device does not hold, and is
    /// left to the witness policy (its witnesses never attest that block).
    pub fn evidence_against(
        payload: &[u8],
        network: &ting_ledger::evidence::Network<'_>,
    ) -> Option<ting_core::witness::Proven> {
        let evidence = ting_core::witness::Evidence::from_bytes(payload).ok()?;
        ting_ledger::evidence::verify(&evidence, network).ok()
    }

    /// A receipt that checked against a sequencer: back when its header is
    /// attested enough (or no policy asks for it), else it waits.
    pub fn admit(&mut self, receipt: Box<Receipt>) -> Option<Box<Receipt>> {
        if !self.required() || self.attested(&receipt) {
            return Some(receipt);
        }
        // The same receipt again (the transaction was asked about again).
        if self.waiting.iter().any(|w| w.tx_hash == receipt.tx_hash) {
            return None;
        }
        if self.waiting.len() >= WAITING_MAX {
            self.waiting.pop_front();
            self.gave_way = self.gave_way.saturating_add(1);
        }
        self.waiting.push_back(receipt);
        None
    }

    /// Takes a message from a witness's topic; answers the waiting receipts
    /// it made attested enough.
    pub fn on_published(&mut self, payload: &[u8]) -> Vec<Receipt> {
        if payload.is_empty() || !payload.len().is_multiple_of(ATTESTATION_BYTES) {
            return Vec::new();
        }
        let cap = self.policy.witnesses().len().saturating_mul(2);
        for chunk in payload.chunks(ATTESTATION_BYTES) {
            let Ok(a) = Attestation::from_bytes(chunk) else {
                continue;
            };
            if !self.policy.trusts(&a.witness) {
                continue;
            }
            let heard = self.seen.entry((a.height.0, a.header)).or_default();
            if heard.attestations.len() < cap && !heard.attestations.contains(&a) {
                heard.attestations.push(a);
            }
        }
        while self.seen.len() > HEADERS_KEPT {
            self.seen.pop_first();
        }
        let mut ready = Vec::new();
        for r in std::mem::take(&mut self.waiting) {
            if self.attested(&r) {
                ready.push(*r);
            } else {
                self.waiting.push_back(r);
            }
        }
        ready
    }

    /// Whether `r`'s header is attested enough.
    fn attested(&mut self, r: &Receipt) -> bool {
        self.header_attested(&r.header)
    }

    /// Whether `header` is attested enough: what receipts and, through the
    /// device's verifier, state answers wait for. The signatures of one
    /// header's attestations are checked once per attestation heard, however
    /// many receipts and answers wait under it.
    pub fn header_attested(&mut self, header: &ting_core::BlockHeader) -> bool {
        let key = (header.height.0, header.hash());
        let Some(heard) = self.seen.get_mut(&key) else {
            return false;
        };
        if heard.passed {
            return true;
        }
        if heard.failed_with == Some(heard.attestations.len()) {
            return false;
        }
        heard.passed = self.policy.check(header, &heard.attestations).is_ok();
        if !heard.passed {
            heard.failed_with = Some(heard.attestations.len());
        }
        heard.passed
    }

    /// Receipts waiting now.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use ting_core::merkle::MerkleTree;
    use ting_core::{BlockHeader, BlockHeight, Keypair, Signature, Timestamp};

    use super::*;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32])
    }

    fn receipt(height: u64) -> Box<Receipt> {
        let hashes = [Hash32::digest(&[&height.to_le_bytes()])];
        let mut header = BlockHeader {
            genesis: Hash32([1; 32]),
            height: BlockHeight(height),
            epoch: 0,
            prev_hash: Hash32([2; 32]),
            timestamp: Timestamp(1_700_000_000_000),
            tx_root: ting_core::merkle::root(&hashes),
            tx_count: 1,
            state_root: Hash32([3; 32]),
            sequencer: key(1).account(),
            signature: Signature([0; 64]),
        };
        header.sign(&key(1));
        Box::new(Receipt {
            tx_hash: hashes[0],
            proof: MerkleTree::new(&hashes).proof(0).expect("in range"),
            header,
        })
    }

    fn published(r: &Receipt, witnesses: &[u8]) -> Vec<u8> {
        witnesses
            .iter()
            .flat_map(|w| Attestation::sign(&r.header, &key(*w)).to_bytes())
            .collect()
    }

    #[test]
    fn without_a_policy_a_receipt_passes_at_once() {
        let mut w = Witnessed::default();
        assert!(w.topics().is_empty());
        assert!(w.admit(receipt(1)).is_some());
    }

    #[test]
    fn a_receipt_waits_for_two_of_three_trusted_witnesses_and_strangers_do_not_count() {
        let policy = WitnessPolicy::new(
            vec![key(2).account(), key(3).account(), key(4).account()],
            2,
        )
        .expect("a policy");
        let mut w = Witnessed::new(policy);
        assert_eq!(w.topics().len(), 6, "attestations and evidence of each");
        assert!(w.follows(&topics::witness_attestations(&key(3).account())));
        assert!(!w.follows(&topics::witness_attestations(&key(9).account())));

        let r = receipt(5);
        assert!(w.admit(r.clone()).is_none(), "no attestation yet");
        assert_eq!(w.waiting(), 1);
        assert!(
            w.on_published(&published(&r, &[9, 8])).is_empty(),
            "strangers"
        );
        assert!(
            w.on_published(&published(&r, &[2])).is_empty(),
            "one of two"
        );
        // A forged one in a trusted witness's name does not count.
        let mut forged = published(&r, &[3]);
        forged[ATTESTATION_BYTES - 1] ^= 1;
        assert!(w.on_published(&forged).is_empty());
        assert!(w.on_published(&[1, 2, 3]).is_empty(), "not attestations");
        let ready = w.on_published(&published(&r, &[4]));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].tx_hash, r.tx_hash);
        assert_eq!(w.waiting(), 0);
        // Another receipt under the same header passes at once now.
        assert!(w.admit(r).is_some());
    }

    #[test]
    fn what_is_kept_is_bounded_and_the_oldest_waiting_receipt_gives_way() {
        let policy = WitnessPolicy::new(vec![key(2).account()], 1).expect("a policy");
        let mut w = Witnessed::new(policy);
        for h in 0..(WAITING_MAX as u64 + 3) {
            assert!(w.admit(receipt(h + 1)).is_none());
        }
        assert_eq!(w.waiting(), WAITING_MAX);
        assert_eq!(w.gave_way, 3);
        for h in 0..(HEADERS_KEPT as u64 + 10) {
            w.on_published(&published(&receipt(h + 1), &[7]));
        }
        assert!(w.seen.is_empty(), "a stranger's attestations are not kept");
        let r = receipt(1);
        for _ in 0..5 {
            w.on_published(&published(&r, &[2]));
        }
        assert_eq!(
            w.seen.values().map(|h| h.attestations.len()).sum::<usize>(),
            1,
            "one copy kept"
        );
    }

    #[test]
    fn only_evidence_that_proves_a_trusted_sequencer_dishonest_counts() {
        let seq = key(1);
        let a = receipt(2).header;
        let mut b = a.clone();
        b.timestamp = Timestamp(b.timestamp.0 + 1);
        b.sign(&seq);
        let evidence = ting_core::witness::Evidence::equivocation(a.clone(), b).to_bytes();
        let genesis = a.genesis;
        let against = |bytes: &[u8], g: &Hash32, s: &[ting_core::AccountId]| {
            let network = ting_ledger::evidence::Network {
                id: ting_core::NetworkId(1),
                genesis_hash: *g,
                sequencers: s,
                genesis: None,
            };
            Witnessed::evidence_against(bytes, &network).map(|p| p.sequencer)
        };
        assert_eq!(
            against(&evidence, &genesis, &[seq.account()]),
            Some(seq.account())
        );
        assert_eq!(
            against(&evidence, &Hash32([9; 32]), &[seq.account()]),
            None,
            "another network"
        );
        assert_eq!(
            against(&evidence, &genesis, &[key(2).account()]),
            None,
            "not trusted"
        );
        let mut forged = evidence.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(
            against(&forged, &genesis, &[seq.account()]),
            None,
            "a forged signature"
        );
        assert_eq!(against(&[1, 2], &genesis, &[seq.account()]), None);
    }
}
