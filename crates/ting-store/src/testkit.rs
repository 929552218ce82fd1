//! Test helpers: a genesis and a chain of real, signed blocks to store.
//!
//! Every test of this crate builds its blocks here, so that the blocks pass the same
//! chain checks a node's blocks do (sealed by a sequencer the genesis names, holding
//! mint transactions signed by its issuer).

use ting_core::{
    Amount, Block, BlockDraft, BlockHeight, Genesis, Hash32, Keypair, NetworkId, Nonce, Timestamp,
    TxBody, TxKind,
};

pub const NETWORK: NetworkId = NetworkId(7);

/// The genesis hash of `Chain::new()`: what transactions made outside a chain sign for.
pub fn genesis_hash() -> Hash32 {
    Chain::new().genesis.hash()
}

/// A chain being built: the genesis, its keys and the blocks cut so far.
#[derive(Debug)]
pub struct Chain {
    pub genesis: Genesis,
    pub issuer: Keypair,
    pub sequencer: Keypair,
    pub blocks: Vec<Block>,
    /// The leader epoch of the blocks cut from now on.
    pub epoch: u64,
    next_nonce: u64,
}

impl Chain {
    pub fn new() -> Chain {
        Chain::with_name("test")
    }

    /// A chain whose genesis differs from `Chain::new()`'s by its name.
    pub fn with_name(name: &str) -> Chain {
        let issuer = Keypair::from_seed([1; 32]);
        let sequencer = Keypair::from_seed([2; 32]);
        let genesis = Genesis {
            name: name.into(),
            network: NETWORK,
            timestamp: Timestamp(1_700_000_000_000),
            issuers: vec![issuer.account()],
            sequencers: vec![sequencer.account()],
            allocations: vec![],
            clock: ting_core::LedgerClock::Real,
        };
        Chain {
            genesis,
            issuer,
            sequencer,
            blocks: Vec::new(),
            epoch: 0,
            next_nonce: 0,
        }
    }

    pub fn tip(&self) -> (BlockHeight, Hash32) {
        match self.blocks.last() {
            Some(b) => (b.header.height, b.header.hash()),
            None => (BlockHeight(0), self.genesis.hash()),
        }
    }

    /// The header fields of the block after `height`. The log does not run
    /// transactions, so the state root is a stand-in derived from the height.
    fn draft(&self, height: BlockHeight, prev: Hash32) -> BlockDraft {
        BlockDraft {
            genesis: self.genesis.hash(),
            height: BlockHeight(height.0 + 1),
            epoch: self.epoch,
            prev_hash: prev,
            timestamp: Timestamp(1_700_000_000_000 + height.0),
            state_root: Hash32::digest(&[b"testkit state root", &height.0.to_le_bytes()]),
        }
    }

    /// Mints to a few recipients, each transaction signed by the issuer.
    pub fn mints(&mut self, count: usize) -> Vec<ting_core::SignedTx> {
        (10u8..15)
            .cycle()
            .take(count)
            .map(|seed| {
                let nonce = self.next_nonce;
                self.next_nonce += 1;
                let to = Keypair::from_seed([seed; 32]).account();
                TxBody {
                    genesis: self.genesis.hash(),
                    sender: self.issuer.account(),
                    nonce: Nonce(nonce),
                    valid_until: Timestamp(u64::MAX),
                    kind: TxKind::Mint {
                        to,
                        amount: Amount::new(nonce + 1),
                    },
                }
                .sign(&self.issuer)
            })
            .collect()
    }

    /// Cuts the next block with `tx_count` transactions, signed by `key`, without keeping it.
    pub fn next_signed_by(&mut self, tx_count: usize, key: &Keypair) -> Block {
        let (height, prev) = self.tip();
        let txs = self.mints(tx_count);
        Block::seal(self.draft(height, prev), txs, key)
    }

    /// Cuts the next block holding `txs`, keeps it and returns a copy.
    pub fn push_txs(&mut self, txs: Vec<ting_core::SignedTx>) -> Block {
        let (height, prev) = self.tip();
        let block = Block::seal(self.draft(height, prev), txs, &self.sequencer);
        self.blocks.push(block.clone());
        block
    }

    /// A transfer signed by `from`, with `nonce` (the ledger is not consulted).
    pub fn transfer(&self, from: &Keypair, to: &Keypair, nonce: u64) -> ting_core::SignedTx {
        TxBody {
            genesis: self.genesis.hash(),
            sender: from.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::Transfer {
                to: to.account(),
                amount: Amount::new(1),
                memo: Vec::new(),
            },
        }
        .sign(from)
    }

    /// Cuts the next block with `tx_count` transactions, keeps it and returns a copy.
    pub fn push(&mut self, tx_count: usize) -> Block {
        let txs = self.mints(tx_count);
        self.push_txs(txs)
    }

    /// Cuts `count` blocks of `tx_count` transactions each and returns copies of them.
    pub fn extend(&mut self, count: usize, tx_count: usize) -> Vec<Block> {
        (0..count).map(|_| self.push(tx_count)).collect()
    }
}
