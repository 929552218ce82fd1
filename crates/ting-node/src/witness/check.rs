//! The witness's check of one block, pure: the header is signed by one of
//! the network's sequencers, the body is the one the header names, every
//! transaction's signature verifies, and applying the block to the
//! witness's own state leads to the header's state root. Only then does the
//! witness attest it.
//!
//! A header seen again at a height already attested is compared with the
//! attested one ([`compare`]): a different block at that height in the same epoch, by
//! the same key, is an equivocation ([`Evidence`]).

use ting_core::witness::{Attestation, Evidence, EvidenceError};
use ting_core::{AccountId, Block, BlockHeader, Genesis, Hash32, Keypair};
use ting_ledger::{BlockError, State};

/// What a fault left to prove it: self-contained evidence, or why the
/// block's fault cannot be shown from the block and proofs alone.
pub type Found = Result<Evidence, EvidenceError>;

/// Why a block was not attested. Each is the sequencer's fault, not the
/// witness's: the witness stops attesting that sequencer's chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    #[error("block {height} is signed by {signer}, which is not a sequencer of this network")]
    UnknownSequencer { height: u64, signer: AccountId },
    #[error("block {height}'s header signature does not verify")]
    BadHeaderSignature { height: u64 },
    #[error("block {height}'s transactions are not the ones its header names (root or count)")]
    BodyMismatch { height: u64 },
    #[error("block {height} holds transaction {tx} whose signature does not verify")]
    BadTxSignature { height: u64, tx: Hash32 },
    #[error("block {height} does not follow the chain the witness checked: {source}")]
    DoesNotFollow { height: u64, source: BlockError },
    #[error(
        "block {height}'s state root {header} does not follow from its transactions and the \
         previous state (the witness computed {computed})"
    )]
    WrongStateRoot {
        height: u64,
        header: Hash32,
        computed: Hash32,
    },
}

impl Fault {
    pub fn code(&self) -> &'static str {
        match self {
            Fault::UnknownSequencer { .. } => "unknown_sequencer",
            Fault::BadHeaderSignature { .. } => "bad_header_signature",
            Fault::BodyMismatch { .. } => "body_mismatch",
            Fault::BadTxSignature { .. } => "bad_tx_signature",
            Fault::DoesNotFollow { .. } => "does_not_follow",
            Fault::WrongStateRoot { .. } => "wrong_state_root",
        }
    }
}

/// The witness's state and what it attested.
pub struct Checker {
    state: State,
    sequencers: Vec<AccountId>,
    key: Keypair,
    /// The evidence of the last fault, until taken.
    found: Option<Found>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("height", &self.state.height())
            .finish_non_exhaustive()
    }
}

impl Checker {
    /// A witness with `key` at the start of the network of `genesis`.
    pub fn new(genesis: &Genesis, key: Keypair) -> Checker {
        Checker {
            state: State::from_genesis(genesis, 0),
            sequencers: genesis.sequencers.clone(),
            key,
            found: None,
        }
    }

    /// The evidence of the fault just reported, when the fault is one a
    /// block can be shown guilty of ([`Fault::WrongStateRoot`],
    /// [`Fault::BadTxSignature`]).
    pub fn take_found(&mut self) -> Option<Found> {
        self.found.take()
    }

    /// Keeps the evidence of `fault` in `block`, made from the state the
    /// block started from (`apply_block` leaves its state map there).
    fn note(&mut self, fault: Fault, block: &Block) -> Fault {
        if matches!(
            fault,
            Fault::WrongStateRoot { .. } | Fault::BadTxSignature { .. }
        ) {
            self.found = Some(ting_ledger::evidence::build(&self.state, block));
        }
        fault
    }

    /// The height of the last block checked.
    pub fn height(&self) -> u64 {
        self.state.height().0
    }

    /// The witness's account.
    pub fn witness(&self) -> AccountId {
        self.key.account()
    }

    /// Checks `block`, the next one, applies it and attests its header.
    ///
    /// # Errors
    /// What is wrong with the block; after [`Fault::WrongStateRoot`] the
    /// state holds the block's transactions and the checker must not be
    /// used again.
    pub fn check(&mut self, block: &Block) -> Result<Attestation, Fault> {
        verify(block, &self.sequencers)
            .and_then(|()| self.apply(block))
            .map_err(|fault| self.note(fault, block))
    }

    /// Checks `blocks`, the next ones in order: their signatures on up to
    /// `threads` threads at once ([`verify_all`]), then each applied in
    /// turn. The attestations of those that checked, and the first fault.
    pub fn check_batch(
        &mut self,
        blocks: &[Block],
        threads: usize,
    ) -> (Vec<Attestation>, Option<Fault>) {
        let verdicts = verify_all(blocks, &self.sequencers, threads);
        let mut attested = Vec::with_capacity(blocks.len());
        for (block, verdict) in blocks.iter().zip(verdicts) {
            match verdict.and_then(|()| self.apply(block)) {
                Ok(a) => attested.push(a),
                Err(fault) => return (attested, Some(self.note(fault, block))),
            }
        }
        (attested, None)
    }

    /// Applies `block`, whose signatures and body [`verify`] passed, and
    /// attests its header if its state root is the one reached.
    fn apply(&mut self, block: &Block) -> Result<Attestation, Fault> {
        let h = &block.header;
        let height = h.height.0;
        // `apply_block` checks the header follows before it changes anything.
        match self.state.apply_block(block) {
            Ok(_) => Ok(Attestation::sign(h, &self.key)),
            Err(BlockError::StateRootMismatch {
                header, computed, ..
            }) => Err(Fault::WrongStateRoot {
                height,
                header,
                computed,
            }),
            Err(source) => Err(Fault::DoesNotFollow { height, source }),
        }
    }
}

/// What a block must satisfy on its own, without the state: signed by one
/// of `sequencers`, its body the one its header names, and every
/// transaction's signature good.
///
/// # Errors
/// The first of these that fails.
pub fn verify(block: &Block, sequencers: &[AccountId]) -> Result<(), Fault> {
    let h = &block.header;
    let height = h.height.0;
    if !sequencers.contains(&h.sequencer) {
        return Err(Fault::UnknownSequencer {
            height,
            signer: h.sequencer,
        });
    }
    if h.verify_signature().is_err() {
        return Err(Fault::BadHeaderSignature { height });
    }
    if !block.body_matches_header() {
        return Err(Fault::BodyMismatch { height });
    }
    // The batch's coefficients must be unpredictable to whoever made the
    // block, or forged signatures could be built to pass together.
    // Queued by reference: the block's transactions are not copied.
    let mut batch = ting_core::keys::BatchVerifier::with_capacity(block.txs.len());
    for tx in &block.txs {
        batch.queue(&tx.body().sender, &tx.signing_message(), tx.signature());
    }
    let good = batch.verify(&mut rand::rng());
    match block.txs.iter().zip(good).find(|(_, ok)| !ok) {
        Some((tx, _)) => Err(Fault::BadTxSignature {
            height,
            tx: tx.hash(),
        }),
        None => Ok(()),
    }
}

/// [`verify`] on every block, the blocks shared out over up to `threads`
/// threads; the verdicts in the blocks' order.
pub fn verify_all(
    blocks: &[Block],
    sequencers: &[AccountId],
    threads: usize,
) -> Vec<Result<(), Fault>> {
    let threads = threads.clamp(1, blocks.len().max(1));
    if threads == 1 {
        return blocks.iter().map(|b| verify(b, sequencers)).collect();
    }
    let share = blocks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = blocks
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|b| verify(b, sequencers))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a verifying thread panicked"))
            .collect()
    })
}

/// Compares a header seen anywhere (the log served again, the blocks topic,
/// a device) with the one attested at its height: evidence when the same
/// sequencer signed a different block there in the same epoch.
pub fn compare(attested: &BlockHeader, seen: &BlockHeader) -> Option<Evidence> {
    if attested.height != seen.height || attested.hash() == seen.hash() {
        return None;
    }
    let evidence = Evidence::equivocation(attested.clone(), seen.clone());
    evidence.verify().ok().map(|_| evidence)
}

#[cfg(test)]
mod tests {
    use ting_core::{
        Amount, BlockHeight, LedgerClock, NetworkId, Nonce, Signature, SignedTx, Timestamp, TxBody,
        TxKind,
    };

    use super::*;

    const START: u64 = 1_700_000_000_000;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32])
    }

    fn genesis() -> Genesis {
        Genesis {
            name: "checked".into(),
            network: NetworkId(7),
            timestamp: Timestamp(START),
            issuers: vec![key(2).account()],
            sequencers: vec![key(1).account()],
            allocations: vec![(key(3).account(), Amount::new(1_000))],
            clock: LedgerClock::Real,
        }
    }

    fn transfer(g: &Genesis, nonce: u64, amount: u64) -> SignedTx {
        TxBody {
            genesis: g.hash(),
            sender: key(3).account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::Transfer {
                to: key(4).account(),
                amount: Amount::new(amount),
                memo: Vec::new(),
            },
        }
        .sign(&key(3))
    }

    /// The next block of `mirror` holding `txs`, signed by `signer`; the
    /// mirror moves on as an honest sequencer's state would.
    fn block(mirror: &mut State, txs: Vec<SignedTx>, signer: &Keypair) -> Block {
        let height = mirror.height().next().expect("a height");
        let at = Timestamp(START + height.0 * 1_000);
        for tx in &txs {
            let _ = mirror.apply_tx(tx, at);
        }
        let hashes: Vec<Hash32> = txs.iter().map(SignedTx::hash).collect();
        let mut header = BlockHeader {
            genesis: mirror.genesis_hash(),
            height,
            epoch: 0,
            prev_hash: mirror.tip_hash(),
            timestamp: at,
            tx_root: ting_core::merkle::root(&hashes),
            tx_count: u32::try_from(txs.len()).expect("few"),
            state_root: mirror.update_root(),
            sequencer: signer.account(),
            signature: Signature([0; 64]),
        };
        header.sign(signer);
        mirror.commit_block(&header).expect("the mirror moves on");
        Block { header, txs }
    }

    #[test]
    fn a_good_block_is_attested_and_each_kind_of_bad_one_is_refused_by_name() {
        let g = genesis();
        let mut checker = Checker::new(&g, key(9));
        let mut mirror = State::from_genesis(&g, 0);

        let good = block(&mut mirror, vec![transfer(&g, 0, 5)], &key(1));
        let a = checker.check(&good).expect("attested");
        assert!(a.covers(&good.header));
        assert_eq!(a.witness, key(9).account());
        assert_eq!(checker.height(), 1);

        // Each refusal below leaves the checker where it was.
        let code =
            |checker: &mut Checker, b: &Block| checker.check(b).map(|_| ()).map_err(|f| f.code());
        let mut other = mirror.clone();
        let stranger = block(&mut other, vec![transfer(&g, 1, 5)], &key(5));
        assert_eq!(code(&mut checker, &stranger), Err("unknown_sequencer"));

        let mut other = mirror.clone();
        let mut unsigned = block(&mut other, vec![transfer(&g, 1, 5)], &key(1));
        unsigned.header.signature.0[0] ^= 1;
        assert_eq!(code(&mut checker, &unsigned), Err("bad_header_signature"));

        let mut other = mirror.clone();
        let mut swapped = block(&mut other, vec![transfer(&g, 1, 5)], &key(1));
        swapped.txs = vec![transfer(&g, 1, 6)];
        assert_eq!(code(&mut checker, &swapped), Err("body_mismatch"));

        // A transaction its sender never signed, committed to by the header.
        let mut forged_tx = transfer(&g, 1, 500).bytes().to_vec();
        let last = forged_tx.len() - 1;
        forged_tx[last] ^= 1;
        let forged_tx = SignedTx::decode(&forged_tx).expect("well formed");
        let mut other = mirror.clone();
        let forged = block(&mut other, vec![forged_tx], &key(1));
        assert_eq!(code(&mut checker, &forged), Err("bad_tx_signature"));
        let network = ting_ledger::evidence::Network::of(&g);
        let found = checker
            .take_found()
            .expect("a block is guilty of a forged transaction");
        let proven = ting_ledger::evidence::verify(&found.expect("evidence"), &network);
        assert_eq!(proven.map(|p| p.fault.code()), Ok("forged_transaction"));

        let mut other = mirror.clone();
        let mut elsewhere = block(&mut other, vec![transfer(&g, 1, 5)], &key(1));
        elsewhere.header.prev_hash = Hash32([1; 32]);
        elsewhere.header.sign(&key(1));
        assert_eq!(code(&mut checker, &elsewhere), Err("does_not_follow"));
        assert_eq!(checker.height(), 1);

        // A root the transactions do not lead to.
        let mut other = mirror.clone();
        let mut wrong = block(&mut other, vec![transfer(&g, 1, 5)], &key(1));
        let right = wrong.header.state_root;
        wrong.header.state_root = Hash32([7; 32]);
        wrong.header.sign(&key(1));
        assert!(checker.take_found().is_none(), "taken once");
        assert_eq!(code(&mut checker, &wrong), Err("wrong_state_root"));
        let found = checker.take_found().expect("a block is guilty of its root");
        let proven = ting_ledger::evidence::verify(&found.expect("evidence"), &network);
        assert_eq!(
            proven.map(|p| p.fault),
            Ok(ting_core::witness::ProvenFault::WrongStateRoot {
                claimed: Hash32([7; 32]),
                computed: right,
            })
        );
    }

    #[test]
    fn a_batch_is_checked_on_several_threads_in_order_up_to_its_first_fault() {
        let g = genesis();
        let mut mirror = State::from_genesis(&g, 0);
        let mut blocks: Vec<Block> = (0..5)
            .map(|n| block(&mut mirror, vec![transfer(&g, n, 1)], &key(1)))
            .collect();
        let mut clean = Checker::new(&g, key(9));
        let (all, fault) = clean.check_batch(&blocks, 3);
        assert_eq!((all.len(), fault), (5, None));
        assert!(all.iter().zip(&blocks).all(|(a, b)| a.covers(&b.header)));

        // The fourth block's transaction forged: three attested, then its fault.
        let mut forged = blocks[3].txs[0].bytes().to_vec();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        blocks[3].txs[0] = SignedTx::decode(&forged).expect("well formed");
        blocks[3].header.tx_root = ting_core::merkle::root(&blocks[3].tx_hashes());
        blocks[3].header.sign(&key(1));
        let mut checker = Checker::new(&g, key(9));
        let (some, fault) = checker.check_batch(&blocks, 2);
        assert_eq!(some.len(), 3);
        assert_eq!(fault.map(|f| f.code()), Some("bad_tx_signature"));
        assert_eq!(checker.height(), 3);
    }

    #[test]
    fn only_one_key_signing_two_blocks_at_one_height_and_epoch_is_evidence() {
        let g = genesis();
        let mut mirror = State::from_genesis(&g, 0);
        let mut fork = mirror.clone();
        let a = block(&mut mirror, vec![transfer(&g, 0, 5)], &key(1));
        let b = block(&mut fork, vec![transfer(&g, 0, 6)], &key(1));
        assert!(compare(&a.header, &a.header).is_none(), "the same block");
        let evidence = compare(&a.header, &b.header).expect("evidence");
        assert_eq!(evidence.verify().expect("proves").height, BlockHeight(1));
        let mut later = b.header.clone();
        later.epoch = 1;
        later.sign(&key(1));
        assert!(compare(&a.header, &later).is_none(), "a failover");
    }
}
