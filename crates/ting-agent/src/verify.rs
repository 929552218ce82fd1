//! What a client believes, and why: receipts and state proofs checked
//! against the genesis hash and the sequencer keys it holds.
//!
//! A [`Verifier`] is given to a [`crate::client::NodeClient`] (a device's is
//! made from its configuration); the client then takes a transaction as
//! committed only with a receipt whose header a sequencer of the network
//! signed and whose Merkle path leads to that header's root, and reads
//! balances, nonces, channel terms, messaging keys, streams, and the
//! market's holds, offers and reputations, and the resource classes,
//! orders and leases, only from state proofs against such a header. It also remembers the highest height it has checked, and
//! refuses a proof from below it: a node cannot answer with an old,
//! genuinely signed state to hide a later payment or a replaced key.
//! "Below it" means below what it had seen when it asked (the `floor`
//! each state check takes, [`Verifier::seen`] read before the request):
//! answers to questions asked at once may come back in any order, and one
//! from a lower height than another's is no less honest for arriving
//! second.
//!
//! What fails is an [`Unproven`] error naming what was asked, a stable code
//! and the reason; nothing is acted on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use thiserror::Error;
use ting_core::channel::Channel;
use ting_core::market::{Hold, HoldId, Offer, OfferId, Reputation};
use ting_core::resource::{Lease, LeaseId, Order, OrderId, ResourceClass};
use ting_core::state_map::AccountRecord;
use ting_core::state_proof::{StateAnswer, StateAnswerError, StateCheck};
use ting_core::{AccountId, BlockHeader, BlockHeight, ChannelId, Hash32, Receipt};

/// Block headers whose signature a verifier remembers having checked: the
/// receipts of one block all carry its header, so a device with several
/// transactions in a block checks its signature once. A few blocks' worth.
pub const HEADERS_REMEMBERED: usize = 16;

/// How long a state answer waits for its header to be attested by enough of
/// the witnesses a policy trusts, before it is refused (`not_attested`).
/// Witnesses attest a block within their fetch's poll of it; this covers one
/// restarting or catching up.
pub const ATTESTED_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting state answer looks again for its attestations.
const ATTESTED_POLL: Duration = Duration::from_millis(50);

/// A witness policy's say over state answers: whether a header is attested
/// by enough of the witnesses it trusts.
struct WitnessGate(Arc<dyn Fn(&BlockHeader) -> bool + Send + Sync>);

impl std::fmt::Debug for WitnessGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WitnessGate")
    }
}

/// The network a client trusts, and how far it has seen it.
#[derive(Debug)]
pub struct Verifier {
    genesis: Hash32,
    sequencers: Vec<AccountId>,
    /// The highest block height of a header this verifier has checked.
    seen: AtomicU64,
    /// Digests of headers (signature included) checked lately, newest last.
    checked_headers: Mutex<VecDeque<Hash32>>,
    /// Sequencers that evidence showed dishonest: their headers are no
    /// longer believed (`distrusted_sequencer`).
    distrusted: Mutex<Vec<AccountId>>,
    /// Under a witness policy, the check a state answer's header must pass.
    gate: OnceLock<WitnessGate>,
}

/// An answer of the node that does not prove what it says.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "the node's answer for {what} does not prove itself ({code}): {reason}; it was not acted on"
)]
pub struct Unproven {
    /// What was asked: `the receipt of <hash>`, `account <did>`, `channel <id>`.
    pub what: String,
    /// A stable code: the failed check's (`bad_header_signature`,
    /// `proof_record_mismatch`, `stale_state`, ...), or `no_proof`.
    pub code: &'static str,
    pub reason: String,
}

/// An account's record at a checked header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvedAccount {
    /// What the account holds: all zero, no device and no key, when the
    /// proof shows it does not exist.
    pub record: AccountRecord,
    pub height: BlockHeight,
}

impl Verifier {
    pub fn new(genesis: Hash32, sequencers: Vec<AccountId>) -> Verifier {
        Verifier {
            genesis,
            sequencers,
            seen: AtomicU64::new(0),
            checked_headers: Mutex::new(VecDeque::with_capacity(HEADERS_REMEMBERED)),
            distrusted: Mutex::new(Vec::new()),
            gate: OnceLock::new(),
        }
    }

    /// Takes state answers only under headers `attested` says enough
    /// trusted witnesses attested (a device's witness policy); `false` if a
    /// gate was set already. Receipts are held back by the device itself.
    pub fn require_attested(
        &self,
        attested: impl Fn(&BlockHeader) -> bool + Send + Sync + 'static,
    ) -> bool {
        self.gate.set(WitnessGate(Arc::new(attested))).is_ok()
    }

    /// Whether a state answer under `header` may be taken: attested enough,
    /// or no witness policy.
    pub fn attested(&self, header: &BlockHeader) -> bool {
        self.gate.get().is_none_or(|g| (g.0)(header))
    }

    /// Waits, up to [`ATTESTED_WAIT`], until `header` is [attested](Self::attested);
    /// not at all for a distrusted sequencer's, which is refused anyway.
    pub async fn wait_attested(&self, header: &BlockHeader) {
        let deadline = tokio::time::Instant::now() + ATTESTED_WAIT;
        while !self.attested(header)
            && !self.distrusted().contains(&header.sequencer)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(ATTESTED_POLL).await;
        }
    }

    /// Believes no more header of `sequencer` (evidence showed it signed two
    /// blocks at one height); `true` the first time.
    pub fn distrust(&self, sequencer: AccountId) -> bool {
        let mut d = self.distrusted.lock().unwrap_or_else(|e| e.into_inner());
        if d.contains(&sequencer) {
            return false;
        }
        d.push(sequencer);
        true
    }

    /// The sequencers no longer believed.
    pub fn distrusted(&self) -> Vec<AccountId> {
        self.distrusted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A checked header's height now seen, unless its sequencer is distrusted.
    fn taken(&self, what: impl FnOnce() -> String, header: &BlockHeader) -> Result<(), Unproven> {
        self.believed(what, header)?;
        self.saw(header.height);
        Ok(())
    }

    /// [`Verifier::taken`] for a state answer, which a witness policy must
    /// also have seen attested.
    fn taken_state(&self, what: impl Fn() -> String, header: &BlockHeader) -> Result<(), Unproven> {
        self.believed(&what, header)?;
        if !self.attested(header) {
            return Err(Unproven {
                what: what(),
                code: "not_attested",
                reason: format!(
                    "block {}'s header is not attested by enough of the witnesses this device trusts (a state answer waits up to {}s)",
                    header.height.0,
                    ATTESTED_WAIT.as_secs()
                ),
            });
        }
        self.saw(header.height);
        Ok(())
    }

    /// Refuses a header of a distrusted sequencer.
    fn believed(
        &self,
        what: impl FnOnce() -> String,
        header: &BlockHeader,
    ) -> Result<(), Unproven> {
        if self.distrusted().contains(&header.sequencer) {
            return Err(Unproven {
                what: what(),
                code: "distrusted_sequencer",
                reason: format!(
                    "evidence shows {} broke the ledger's rules; its headers are no longer believed",
                    header.sequencer
                ),
            });
        }
        Ok(())
    }

    pub fn genesis(&self) -> &Hash32 {
        &self.genesis
    }

    pub fn sequencers(&self) -> &[AccountId] {
        &self.sequencers
    }

    /// The highest height checked so far.
    pub fn seen(&self) -> BlockHeight {
        BlockHeight(self.seen.load(Ordering::Acquire))
    }

    fn saw(&self, height: BlockHeight) {
        self.seen.fetch_max(height.0, Ordering::AcqRel);
    }

    fn check(&self, floor: BlockHeight) -> StateCheck<'_> {
        StateCheck {
            genesis: &self.genesis,
            sequencers: &self.sequencers,
            min_height: floor,
        }
    }

    /// Checks that `receipt` proves `tx_hash` committed on this network.
    pub fn receipt(&self, tx_hash: &Hash32, receipt: &Receipt) -> Result<(), Unproven> {
        let what = || format!("the receipt of {tx_hash}");
        if receipt.tx_hash != *tx_hash {
            return Err(Unproven {
                what: what(),
                code: "receipt_for_another_tx",
                reason: format!("it is the receipt of {}", receipt.tx_hash),
            });
        }
        let digest = header_digest(&receipt.header);
        let known = self.header_checked(&digest);
        let checked = if known {
            receipt.verify_path()
        } else {
            receipt.verify(&self.genesis, &self.sequencers)
        };
        checked.map_err(|e| Unproven {
            what: what(),
            code: e.code(),
            reason: e.to_string(),
        })?;
        self.taken(what, &receipt.header)?;
        if !known {
            self.remember_header(digest);
        }
        Ok(())
    }

    fn header_checked(&self, digest: &Hash32) -> bool {
        let headers = self
            .checked_headers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        headers.contains(digest)
    }

    fn remember_header(&self, digest: Hash32) {
        let mut headers = self
            .checked_headers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if headers.len() == HEADERS_REMEMBERED {
            headers.pop_front();
        }
        headers.push_back(digest);
    }

    /// What account `id` holds, from a checked state proof.
    pub fn account(
        &self,
        id: &AccountId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<ProvedAccount, Unproven> {
        let record = answer
            .verify_account(id, &self.check(floor))
            .map_err(|e| Unproven {
                what: format!("account {id}"),
                code: e.code(),
                reason: e.to_string(),
            })?;
        self.taken_state(|| format!("account {id}"), &answer.header)?;
        Ok(ProvedAccount {
            record: record.unwrap_or_default(),
            height: answer.header.height,
        })
    }

    /// What channel `id` is, from a checked state proof; `None` when the
    /// proof shows it was never opened.
    pub fn channel(
        &self,
        id: &ChannelId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<Channel>, Unproven> {
        let channel = answer
            .verify_channel(id, &self.check(floor))
            .map_err(|e| Unproven {
                what: format!("channel {id}"),
                code: e.code(),
                reason: e.to_string(),
            })?;
        self.taken_state(|| format!("channel {id}"), &answer.header)?;
        Ok(channel)
    }

    /// What open stream `id` is, from a checked state proof; `None` when
    /// the proof shows no open stream has this id.
    pub fn stream(
        &self,
        id: &ting_core::stream::StreamId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<ting_core::stream::Stream>, Unproven> {
        let stream = answer
            .verify_stream(id, &self.check(floor))
            .map_err(|e| Unproven {
                what: format!("stream {id}"),
                code: e.code(),
                reason: e.to_string(),
            })?;
        self.taken_state(|| format!("stream {id}"), &answer.header)?;
        Ok(stream)
    }

    /// What open hold `id` is, from a checked state proof; `None` when the
    /// proof shows no open hold has this id (never created, or ended).
    pub fn hold(
        &self,
        id: &HoldId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<Hold>, Unproven> {
        let checked = answer.verify_hold(id, &self.check(floor));
        self.believe(|| format!("hold {id}"), answer, checked)
    }

    /// What listed offer `id` is, from a checked state proof; `None` when
    /// the proof shows no offer has this id (never listed, or closed).
    pub fn offer(
        &self,
        id: &OfferId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<Offer>, Unproven> {
        let checked = answer.verify_offer(id, &self.check(floor));
        self.believe(|| format!("offer {id}"), answer, checked)
    }

    /// `provider`'s reputation in exactly `category`, from a checked state
    /// proof; `None` when the proof shows no outcome was recorded there. A
    /// record of another provider or category is refused.
    pub fn reputation(
        &self,
        provider: &AccountId,
        category: &str,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<Reputation>, Unproven> {
        let checked = answer.verify_reputation(provider, category, &self.check(floor));
        self.believe(
            || format!("the reputation of {provider} in {category}"),
            answer,
            checked,
        )
    }

    /// Resource class `name`, from a checked state proof; `None` when the
    /// proof shows no class of that name is registered. A record of another
    /// class is refused.
    pub fn class(
        &self,
        name: &str,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<ResourceClass>, Unproven> {
        let checked = answer.verify_class(name, &self.check(floor));
        self.believe(|| format!("class {name}"), answer, checked)
    }

    /// What resting order `id` is, from a checked state proof; `None` when
    /// the proof shows no order rests with this id (never placed, or ended).
    pub fn order(
        &self,
        id: &OrderId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<Order>, Unproven> {
        let checked = answer.verify_order(id, &self.check(floor));
        self.believe(|| format!("order {id}"), answer, checked)
    }

    /// What open lease `id` is, from a checked state proof; `None` when the
    /// proof shows no open lease has this id (never made, or ended).
    pub fn lease(
        &self,
        id: &LeaseId,
        answer: &StateAnswer,
        floor: BlockHeight,
    ) -> Result<Option<Lease>, Unproven> {
        let checked = answer.verify_lease(id, &self.check(floor));
        self.believe(|| format!("lease {id}"), answer, checked)
    }

    /// A checked answer's value, its height now seen; or why it proves nothing.
    fn believe<T>(
        &self,
        what: impl Fn() -> String,
        answer: &StateAnswer,
        checked: Result<T, StateAnswerError>,
    ) -> Result<T, Unproven> {
        let value = checked.map_err(|e| Unproven {
            what: what(),
            code: e.code(),
            reason: e.to_string(),
        })?;
        self.taken_state(what, &answer.header)?;
        Ok(value)
    }
}

/// An answer that should carry a proof and does not, or carries one that
/// does not decode.
pub fn no_proof(what: String, reason: impl Into<String>) -> Unproven {
    Unproven {
        what,
        code: "no_proof",
        reason: reason.into(),
    }
}

/// A header's identity for [`Verifier`]'s memory: its hash and its
/// signature, so that only the very header that was checked is taken again.
fn header_digest(header: &BlockHeader) -> Hash32 {
    Hash32::digest(&[&header.hash().0, &header.signature.0])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::block::{Block, BlockDraft};
    use ting_core::merkle::{self, MerkleTree};
    use ting_core::{Keypair, Timestamp};

    fn block(key: &Keypair, genesis: Hash32, hashes: &[Hash32]) -> BlockHeader {
        let draft = BlockDraft {
            genesis,
            height: BlockHeight(4),
            epoch: 0,
            prev_hash: Hash32([2; 32]),
            timestamp: Timestamp(9),
            state_root: Hash32([3; 32]),
        };
        let mut header = BlockHeader {
            tx_root: merkle::root(hashes),
            tx_count: u32::try_from(hashes.len()).expect("few"),
            ..Block::seal(draft, Vec::new(), key).header
        };
        header.sign(key);
        header
    }

    fn receipt(header: &BlockHeader, hashes: &[Hash32], i: usize) -> Receipt {
        Receipt {
            tx_hash: hashes[i],
            proof: MerkleTree::new(hashes).proof(i).expect("in range"),
            header: header.clone(),
        }
    }

    #[test]
    fn a_remembered_header_still_needs_a_path_and_only_the_same_signature_is_remembered() {
        let key = Keypair::from_seed([8; 32]);
        let genesis = Hash32([1; 32]);
        let hashes = [Hash32([4; 32]), Hash32([5; 32]), Hash32([6; 32])];
        let header = block(&key, genesis, &hashes);
        let verifier = Verifier::new(genesis, vec![key.account()]);
        for i in 0..hashes.len() {
            let r = receipt(&header, &hashes, i);
            assert_eq!(verifier.receipt(&hashes[i], &r), Ok(()), "receipt {i}");
        }
        // The header is remembered; a path that does not lead to its root is not.
        let mut wrong = receipt(&header, &hashes, 0);
        wrong.proof.index = 1;
        let refused = verifier.receipt(&hashes[0], &wrong).map_err(|e| e.code);
        assert!(refused.is_err(), "a bad path under a remembered header");
        // The same content with another signature is checked again, and fails.
        let mut forged = receipt(&header, &hashes, 0);
        forged.header.signature.0[0] ^= 1;
        let refused = verifier.receipt(&hashes[0], &forged).map_err(|e| e.code);
        assert_eq!(refused, Err("bad_header_signature"));
    }

    #[test]
    fn the_memory_keeps_the_newest_headers_only() {
        let key = Keypair::from_seed([8; 32]);
        let genesis = Hash32([1; 32]);
        let verifier = Verifier::new(genesis, vec![key.account()]);
        let rounds = u8::try_from(HEADERS_REMEMBERED + 4).expect("few");
        for n in 0..rounds {
            let hashes = [Hash32([n; 32]), Hash32([n.wrapping_add(100); 32])];
            let header = block(&key, genesis, &hashes);
            assert_eq!(
                verifier.receipt(&hashes[0], &receipt(&header, &hashes, 0)),
                Ok(())
            );
        }
        let remembered = verifier.checked_headers.lock().expect("lock").len();
        assert_eq!(remembered, HEADERS_REMEMBERED);
    }

    #[test]
    fn once_distrusted_a_sequencer_s_headers_prove_nothing_even_remembered_ones() {
        let key = Keypair::from_seed([8; 32]);
        let other = Keypair::from_seed([9; 32]);
        let genesis = Hash32([1; 32]);
        let hashes = [Hash32([4; 32]), Hash32([5; 32])];
        let header = block(&key, genesis, &hashes);
        let verifier = Verifier::new(genesis, vec![key.account(), other.account()]);
        assert_eq!(
            verifier.receipt(&hashes[0], &receipt(&header, &hashes, 0)),
            Ok(())
        );
        assert!(verifier.distrust(key.account()));
        assert!(!verifier.distrust(key.account()), "once");
        let refused = verifier
            .receipt(&hashes[1], &receipt(&header, &hashes, 1))
            .map_err(|e| e.code);
        assert_eq!(refused, Err("distrusted_sequencer"));
        // The other sequencer is still believed.
        let theirs = block(&other, genesis, &hashes);
        assert_eq!(
            verifier.receipt(&hashes[0], &receipt(&theirs, &hashes, 0)),
            Ok(())
        );
        assert_eq!(verifier.distrusted(), vec![key.account()]);
    }

    #[test]
    fn under_a_witness_policy_a_state_answer_needs_its_header_attested_and_a_receipt_does_not() {
        let key = Keypair::from_seed([8; 32]);
        let genesis = Hash32([1; 32]);
        let me = Keypair::from_seed([7; 32]).account();
        let record = AccountRecord::default().to_record();
        let tree = ting_core::state_tree::StateTree::from_entries([(
            ting_core::state_map::account_key(&me),
            ting_core::state_map::account_value_hash(&record),
        )]);
        let hashes = [Hash32([4; 32])];
        let mut header = block(&key, genesis, &hashes);
        header.state_root = tree.root();
        header.sign(&key);
        let answer = StateAnswer {
            header: header.clone(),
            record: Some(record),
            proof: tree.prove(&ting_core::state_map::account_key(&me)),
        };
        let attested = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let verifier = Verifier::new(genesis, vec![key.account()]);
        let said = Arc::clone(&attested);
        assert!(verifier.require_attested(move |_| said.load(Ordering::Acquire)));
        assert!(!verifier.require_attested(|_| true), "set once");

        let refused = verifier
            .account(&me, &answer, BlockHeight(0))
            .map_err(|e| e.code);
        assert_eq!(refused, Err("not_attested"));
        assert_eq!(verifier.seen(), BlockHeight(0), "not taken, not seen");
        // Receipts are held back by the device, not refused here.
        assert_eq!(
            verifier.receipt(&hashes[0], &receipt(&header, &hashes, 0)),
            Ok(())
        );

        attested.store(true, Ordering::Release);
        let proved = verifier
            .account(&me, &answer, BlockHeight(0))
            .expect("attested");
        assert_eq!(proved.height, header.height);
    }
}
