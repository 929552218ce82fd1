//! SHA-256 hash chains bound to one channel and one segment (PayWord).
//!
//! One step is `H(x) = SHA-256(prefix || x)`, where `prefix` is exactly one
//! 64-byte SHA-256 block: `CHAIN_DOMAIN` padded with zeros to 28 bytes, the
//! segment number (u32, little-endian like every integer of the wire format) and the channel id. Because the prefix is
//! one whole block, its compression is done once per chain ([`ChainKey`]) and
//! every step costs a single SHA-256 compression, the same as hashing a bare
//! 32-byte value. The prefix binds the chain: a preimage from one channel, or
//! one segment, is worthless in another.
//!
//! A chain of length `n` starts from a secret seed; its anchor `H^n(seed)` is
//! tick 0 and goes on the ledger; tick `i` is `H^(n-i)(seed)`, so tick `n` is
//! the seed itself. Tick `i` is checked against any earlier tick `j` by
//! hashing it `i - j` times.

use sha2::block_api::compress256;

use super::ChannelId;
use crate::hash::Hash32;

/// Prefix of every chain step, padded with zeros to 28 bytes in the step block.
pub const CHAIN_DOMAIN: &[u8] = b"ting:chain:v1";

const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
/// Length in bits of one step's whole message: a 64-byte prefix and a 32-byte value.
const STEP_MESSAGE_BITS: u64 = 96 * 8;

/// The step function of one chain: the SHA-256 state after its prefix block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainKey {
    midstate: [u32; 8],
}

impl ChainKey {
    /// The key of segment `segment` of channel `channel`.
    pub fn new(channel: &ChannelId, segment: u32) -> ChainKey {
        let mut midstate = SHA256_IV;
        compress256(&mut midstate, &[prefix_block(channel, segment)]);
        ChainKey { midstate }
    }

    /// One step: `SHA-256(prefix || x)`.
    #[inline]
    pub fn step(&self, x: &Hash32) -> Hash32 {
        let mut block = value_block();
        block[..32].copy_from_slice(&x.0);
        Hash32(self.finish(&block))
    }

    /// `steps` steps from `x`: `H^steps(x)`.
    pub fn walk(&self, x: &Hash32, steps: u64) -> Hash32 {
        if steps == 0 {
            return *x;
        }
        // The padding never changes; only the first 32 bytes are rewritten.
        let mut block = value_block();
        block[..32].copy_from_slice(&x.0);
        for _ in 1..steps {
            let out = self.finish(&block);
            block[..32].copy_from_slice(&out);
        }
        Hash32(self.finish(&block))
    }

    /// Whether `later`, claimed to be `steps` ticks past `earlier`, hashes to it.
    pub fn links(&self, later: &Hash32, steps: u64, earlier: &Hash32) -> bool {
        self.walk(later, steps) == *earlier
    }

    #[inline]
    fn finish(&self, block: &[u8; 64]) -> [u8; 32] {
        let mut state = self.midstate;
        compress256(&mut state, core::slice::from_ref(block));
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// The first block of every step message of one chain.
pub fn prefix_block(channel: &ChannelId, segment: u32) -> [u8; 64] {
    let mut block = [0u8; 64];
    block[..CHAIN_DOMAIN.len()].copy_from_slice(CHAIN_DOMAIN);
    block[28..32].copy_from_slice(&segment.to_le_bytes());
    block[32..].copy_from_slice(&channel.0 .0);
    block
}

/// The second block with SHA-256's padding for a 96-byte message, value left zero.
fn value_block() -> [u8; 64] {
    let mut block = [0u8; 64];
    block[32] = 0x80;
    block[56..].copy_from_slice(&STEP_MESSAGE_BITS.to_be_bytes());
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> ChannelId {
        ChannelId(Hash32::digest(&[b"a channel"]))
    }

    #[test]
    fn a_step_is_plain_sha256_of_prefix_and_value() {
        let key = ChainKey::new(&channel(), 7);
        let x = Hash32::digest(&[b"seed"]);
        let expected = Hash32::digest(&[&prefix_block(&channel(), 7), &x.0]);
        assert_eq!(key.step(&x), expected);
    }

    #[test]
    fn walk_is_repeated_step() {
        let key = ChainKey::new(&channel(), 0);
        let seed = Hash32::digest(&[b"seed"]);
        let mut x = seed;
        for n in 0..20u64 {
            assert_eq!(key.walk(&seed, n), x, "n = {n}");
            x = key.step(&x);
        }
        let tick5 = key.walk(&seed, 15);
        let tick2 = key.walk(&seed, 18);
        assert!(key.links(&tick5, 3, &tick2));
        assert!(!key.links(&tick5, 2, &tick2));
    }

    #[test]
    fn the_chain_is_bound_to_channel_and_segment() {
        let seed = Hash32::digest(&[b"seed"]);
        let base = ChainKey::new(&channel(), 0).step(&seed);
        assert_ne!(ChainKey::new(&channel(), 1).step(&seed), base);
        let other = ChannelId(Hash32::digest(&[b"another channel"]));
        assert_ne!(ChainKey::new(&other, 0).step(&seed), base);
    }
}
