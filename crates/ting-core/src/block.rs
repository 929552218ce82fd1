//! Blocks: the signed header, the body of transactions, and their encodings.
//!
//! A header commits to its network's genesis hash, its height, the leader
//! epoch (zero for a single node), the previous block's hash, the
//! sequencer's timestamp, the Merkle root of its transactions and their
//! count, and the root of the state map after them ([`crate::state_tree`]),
//! and is signed by the sequencer. The block hash is SHA-256 of the header's signing
//! message (`BLOCK_DOMAIN || unsigned header`), so it does not depend on the
//! signature's encoding. Blocks hold only applied transactions.

use crate::prelude::*;

use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::limits::{BLOCK_TXS_MAX, TX_BYTES_MAX};
use crate::merkle;
use crate::tx::SignedTx;
use crate::types::{BlockHeight, Timestamp};

/// Version 2: the genesis hash instead of a network id, the epoch and the state root.
pub const BLOCK_VERSION: u8 = 2;
/// Prefix of every block-header signing message.
pub const BLOCK_DOMAIN: &[u8] = b"ting:block:v2";
/// Encoded length of an unsigned header.
pub const UNSIGNED_HEADER_BYTES: usize = 1 + 32 + 8 + 8 + 32 + 8 + 32 + 4 + 32 + 32;
/// Encoded length of a signed header.
pub const HEADER_BYTES: usize = UNSIGNED_HEADER_BYTES + 64;
/// Length of a header's signing message, `BLOCK_DOMAIN || unsigned header`.
const SIGNING_MESSAGE_BYTES: usize = BLOCK_DOMAIN.len() + UNSIGNED_HEADER_BYTES;

/// A block header, signed by the sequencer that cut the block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// The hash of the genesis of the network the block belongs to.
    pub genesis: Hash32,
    pub height: BlockHeight,
    /// The leader epoch the block was cut in; zero for a single node.
    pub epoch: u64,
    pub prev_hash: Hash32,
    pub timestamp: Timestamp,
    pub tx_root: Hash32,
    pub tx_count: u32,
    /// The root of the state map after the block's transactions.
    pub state_root: Hash32,
    pub sequencer: AccountId,
    pub signature: Signature,
}

impl BlockHeader {
    fn encode_unsigned<S: Sink>(&self, w: &mut Writer<S>) {
        w.u8(BLOCK_VERSION)
            .hash(&self.genesis)
            .u64(self.height.0)
            .u64(self.epoch)
            .hash(&self.prev_hash)
            .u64(self.timestamp.0)
            .hash(&self.tx_root)
            .u32(self.tx_count)
            .hash(&self.state_root)
            .account(&self.sequencer);
    }

    /// Exactly the bytes the sequencer signs: `BLOCK_DOMAIN || unsigned header`.
    pub fn signing_message(&self) -> Vec<u8> {
        self.signing_bytes().to_vec()
    }

    /// The signing message on the stack, for hashing and checking without
    /// allocation.
    fn signing_bytes(&self) -> [u8; SIGNING_MESSAGE_BYTES] {
        let mut out = [0u8; SIGNING_MESSAGE_BYTES];
        let mut w = Writer::over(&mut out);
        w.bytes(BLOCK_DOMAIN);
        self.encode_unsigned(&mut w);
        let len = w
            .finish()
            .expect("a header's signing message has a fixed length");
        debug_assert_eq!(len, SIGNING_MESSAGE_BYTES);
        out
    }

    /// The block hash: SHA-256 of the signing message.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest(&[&self.signing_bytes()])
    }

    pub fn sign(&mut self, key: &Keypair) {
        self.sequencer = key.account();
        self.signature = key.sign(&self.signing_bytes());
    }

    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        keys::verify(&self.sequencer, &self.signing_bytes(), &self.signature)
    }

    pub fn encode(&self, w: &mut Writer) {
        self.encode_unsigned(w);
        w.signature(&self.signature);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_BYTES);
        self.encode(&mut w);
        w.into_bytes()
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<BlockHeader, DecodeError> {
        let version = r.u8("block version")?;
        if version != BLOCK_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "block",
                version,
            });
        }
        Ok(BlockHeader {
            genesis: r.hash("genesis")?,
            height: BlockHeight(r.u64("height")?),
            epoch: r.u64("epoch")?,
            prev_hash: r.hash("prev_hash")?,
            timestamp: Timestamp(r.u64("timestamp")?),
            tx_root: r.hash("tx_root")?,
            tx_count: r.u32("tx_count")?,
            state_root: r.hash("state_root")?,
            sequencer: r.account("sequencer")?,
            signature: r.signature("signature")?,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<BlockHeader, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = BlockHeader::decode(&mut r)?;
        r.finish("block header")?;
        Ok(header)
    }
}

/// Everything a header holds but the transactions' root and count and the
/// signature: what the sequencer decides before it seals a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockDraft {
    pub genesis: Hash32,
    pub height: BlockHeight,
    pub epoch: u64,
    pub prev_hash: Hash32,
    pub timestamp: Timestamp,
    pub state_root: Hash32,
}

/// A header and the transactions it commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<SignedTx>,
}

impl Block {
    /// Cuts and signs a block over `txs`.
    pub fn seal(draft: BlockDraft, txs: Vec<SignedTx>, key: &Keypair) -> Block {
        assert!(txs.len() <= BLOCK_TXS_MAX, "block over BLOCK_TXS_MAX");
        let hashes: Vec<Hash32> = txs.iter().map(SignedTx::hash).collect();
        let mut header = BlockHeader {
            genesis: draft.genesis,
            height: draft.height,
            epoch: draft.epoch,
            prev_hash: draft.prev_hash,
            timestamp: draft.timestamp,
            tx_root: merkle::root(&hashes),
            tx_count: u32::try_from(txs.len()).expect("bounded by BLOCK_TXS_MAX"),
            state_root: draft.state_root,
            sequencer: key.account(),
            signature: Signature([0; 64]),
        };
        header.sign(key);
        Block { header, txs }
    }

    pub fn tx_hashes(&self) -> Vec<Hash32> {
        self.txs.iter().map(SignedTx::hash).collect()
    }

    /// Whether the header's root and count match the transactions.
    pub fn body_matches_header(&self) -> bool {
        self.txs.len() == self.header.tx_count as usize
            && merkle::root(&self.tx_hashes()) == self.header.tx_root
    }

    /// `header || (u16 length || transaction) × tx_count`.
    pub fn encode(&self) -> Vec<u8> {
        let body = self.txs.iter().fold(0usize, |n, tx| {
            n.saturating_add(2).saturating_add(tx.bytes().len())
        });
        let mut w = Writer::with_capacity(HEADER_BYTES.saturating_add(body));
        self.header.encode(&mut w);
        for tx in &self.txs {
            w.bytes_u16(tx.bytes());
        }
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Block, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = BlockHeader::decode(&mut r)?;
        let count = header.tx_count as usize;
        if count > BLOCK_TXS_MAX {
            return Err(DecodeError::TooLong {
                what: "block transaction count",
                len: count,
                max: BLOCK_TXS_MAX,
            });
        }
        let mut txs = Vec::with_capacity(count);
        for _ in 0..count {
            txs.push(SignedTx::decode(r.bytes_u16("transaction", TX_BYTES_MAX)?)?);
        }
        r.finish("block")?;
        Ok(Block { header, txs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::tx::{TxBody, TxKind};
    use crate::types::Nonce;

    fn sample_block() -> Block {
        let key = Keypair::from_seed([3; 32]);
        let txs = (0..3)
            .map(|n| {
                TxBody {
                    genesis: Hash32([1; 32]),
                    sender: key.account(),
                    nonce: Nonce(n),
                    valid_until: Timestamp(u64::MAX),
                    kind: TxKind::Mint {
                        to: key.account(),
                        amount: Amount::new(10),
                    },
                }
                .sign(&key)
            })
            .collect();
        let draft = BlockDraft {
            genesis: Hash32([1; 32]),
            height: BlockHeight(1),
            epoch: 0,
            prev_hash: Hash32::ZERO,
            timestamp: Timestamp(1_700_000_000_000),
            state_root: Hash32([2; 32]),
        };
        Block::seal(draft, txs, &key)
    }

    #[test]
    fn a_sealed_block_round_trips_and_verifies() {
        let block = sample_block();
        let decoded = Block::decode(&block.encode()).expect("decodes");
        assert_eq!(decoded, block);
        assert!(decoded.body_matches_header());
        assert_eq!(decoded.header.verify_signature(), Ok(()));
        assert_eq!(block.header.to_bytes().len(), HEADER_BYTES);
    }

    #[test]
    fn a_changed_header_field_breaks_the_signature() {
        let mut block = sample_block();
        block.header.timestamp = Timestamp(block.header.timestamp.0 + 1);
        assert!(block.header.verify_signature().is_err());
    }

    #[test]
    fn a_dropped_transaction_no_longer_matches_the_header() {
        let mut block = sample_block();
        block.txs.pop();
        block.header.tx_count -= 1;
        assert!(!block.body_matches_header());
    }
}
