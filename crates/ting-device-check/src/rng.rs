//! A deterministic random source for the check (SHA-256 of a counter), so
//! that every run does the same work. Firmware passes its hardware RNG.

use core::convert::Infallible;

use ting_core::Hash32;

/// SHA-256 in counter mode over a fixed seed.
#[derive(Debug)]
pub struct CheckRng {
    seed: [u8; 32],
    counter: u64,
}

impl CheckRng {
    pub fn new(seed: [u8; 32]) -> CheckRng {
        CheckRng { seed, counter: 0 }
    }

    fn block(&mut self) -> [u8; 32] {
        self.counter = self.counter.wrapping_add(1);
        Hash32::digest(&[&self.seed, &self.counter.to_le_bytes()]).0
    }
}

impl rand_core::TryRng for CheckRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let b = self.block();
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let b = self.block();
        let mut out = [0u8; 8];
        out.copy_from_slice(&b[..8]);
        Ok(u64::from_le_bytes(out))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let b = self.block();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for CheckRng {}
