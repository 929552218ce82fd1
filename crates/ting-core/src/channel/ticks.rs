//! The payer's side of a hash chain: any tick from the seed, in bounded memory.
//!
//! Tick `i` of a chain of length `n` is `H^(n-i)(seed)`. Holding all `n`
//! values costs 32·n bytes (512 MiB at `CHAIN_LEN_MAX`); recomputing each tick
//! from the seed costs up to `n` steps per payment. [`TickSource`] keeps a
//! checkpoint every `w` steps from the seed (`w ≈ √n`) plus the window of `w`
//! values the payer is paying from, so memory is about `2·√n` hashes and
//! paying forward costs about one step per tick, amortised. `ting bench
//! channel` measures both strategies.

use crate::prelude::*;

use super::chain::ChainKey;
use crate::hash::Hash32;

/// Produces the ticks of one chain segment from its seed.
#[derive(Clone, Debug)]
pub struct TickSource {
    key: ChainKey,
    len: u32,
    interval: u32,
    /// `checkpoints[k] = H^(k·interval)(seed)`.
    checkpoints: Vec<Hash32>,
    /// Which checkpoint `window` starts at, if one is filled.
    window_at: Option<usize>,
    /// `window[j] = H^(window_at·interval + j)(seed)`.
    window: Vec<Hash32>,
}

impl TickSource {
    /// Builds the checkpoints: `len` steps once. `len` must be at least 1.
    pub fn new(key: ChainKey, seed: Hash32, len: u32) -> TickSource {
        assert!(len >= 1, "a chain has at least one tick");
        let interval = checkpoint_interval(len);
        let mut checkpoints = Vec::with_capacity(
            (len.checked_div(interval).unwrap_or(len) as usize).saturating_add(1),
        );
        let mut x = seed;
        checkpoints.push(x);
        let mut walked = 0u32;
        while let Some(next) = walked.checked_add(interval).filter(|n| *n <= len) {
            x = key.walk(&x, u64::from(interval));
            walked = next;
            checkpoints.push(x);
        }
        TickSource {
            key,
            len,
            interval,
            checkpoints,
            window_at: None,
            window: Vec::with_capacity(interval as usize),
        }
    }

    /// The anchor, tick 0: `H^len(seed)`.
    pub fn anchor(&mut self) -> Hash32 {
        self.tick(0)
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    /// Never true: a chain has at least one tick.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Tick `i` (`0 ≤ i ≤ len`): `H^(len-i)(seed)`.
    pub fn tick(&mut self, i: u32) -> Hash32 {
        assert!(
            i <= self.len,
            "tick {i} is past the chain's length {}",
            self.len
        );
        let (k, offset) = self.position(i);
        let offset = offset as usize;
        if self.window_at != Some(k) {
            self.fill_window(k);
        }
        self.window[offset]
    }

    /// Tick `i` by walking from the nearest checkpoint only, without the window.
    pub fn tick_uncached(&self, i: u32) -> Hash32 {
        assert!(
            i <= self.len,
            "tick {i} is past the chain's length {}",
            self.len
        );
        let (k, offset) = self.position(i);
        self.key.walk(&self.checkpoints[k], u64::from(offset))
    }

    /// Bytes held for checkpoints and the window.
    pub fn memory_bytes(&self) -> usize {
        self.checkpoints
            .capacity()
            .saturating_add(self.window.capacity())
            .saturating_mul(core::mem::size_of::<Hash32>())
    }

    /// Which checkpoint tick `i` walks from, and how many steps: `i ≤ len`
    /// (checked by the callers) and the interval is at least 1.
    fn position(&self, i: u32) -> (usize, u32) {
        let distance = self.len.checked_sub(i).expect("a tick within the chain");
        let k = distance
            .checked_div(self.interval)
            .expect("an interval of at least 1");
        let offset = distance
            .checked_rem(self.interval)
            .expect("an interval of at least 1");
        (k as usize, offset)
    }

    fn fill_window(&mut self, k: usize) {
        self.window.clear();
        let mut x = self.checkpoints[k];
        self.window.push(x);
        for _ in 1..self.interval {
            x = self.key.step(&x);
            self.window.push(x);
        }
        self.window_at = Some(k);
    }
}

/// The checkpoint spacing for a chain of `len` ticks: about `√len`, at least 1.
fn checkpoint_interval(len: u32) -> u32 {
    len.isqrt().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelId;

    fn naive(key: &ChainKey, seed: &Hash32, len: u32, i: u32) -> Hash32 {
        key.walk(seed, u64::from(len - i))
    }

    #[test]
    fn every_tick_matches_the_definition_in_any_order() {
        let key = ChainKey::new(&ChannelId(Hash32::digest(&[b"c"])), 0);
        let seed = Hash32::digest(&[b"seed"]);
        for len in [1u32, 2, 3, 10, 17, 100] {
            let mut source = TickSource::new(key, seed, len);
            assert_eq!(source.anchor(), naive(&key, &seed, len, 0));
            for i in (0..=len).chain((0..=len).rev()).chain([len / 2, 0, len]) {
                assert_eq!(
                    source.tick(i),
                    naive(&key, &seed, len, i),
                    "len {len} tick {i}"
                );
                assert_eq!(source.tick_uncached(i), naive(&key, &seed, len, i));
            }
            assert_eq!(source.tick(len), seed);
        }
    }

    #[test]
    fn memory_grows_with_the_square_root_of_the_length() {
        let key = ChainKey::new(&ChannelId(Hash32::digest(&[b"c"])), 0);
        let mut source = TickSource::new(key, Hash32::digest(&[b"s"]), 1 << 16);
        source.tick(1);
        assert!(
            source.memory_bytes() <= 2 * 257 * 32 + 64,
            "{}",
            source.memory_bytes()
        );
        let (t5, t0) = (source.tick(5), source.tick(0));
        assert!(key.links(&t5, 5, &t0));
    }
}
