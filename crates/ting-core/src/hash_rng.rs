//! Caller entropy stretched for one operation: SHA-256 in counter mode over
//! a 32-byte seed and a domain. Firmware (and the C library) hand an
//! operation 32 bytes from their hardware RNG; an operation that draws more
//! (HPKE's ephemeral key, say) draws them from this. With a fixed seed it is
//! also a reproducible source for checks. No heap, no `std`.

use core::convert::Infallible;

use crate::Hash32;

/// SHA-256(domain ‖ seed ‖ counter) for counter 1, 2, ...
#[derive(Debug)]
pub struct HashRng {
    domain: &'static [u8],
    seed: [u8; 32],
    counter: u64,
}

impl HashRng {
    /// A source over `seed`; `domain` keeps two uses of one seed apart.
    pub fn new(domain: &'static [u8], seed: [u8; 32]) -> HashRng {
        HashRng {
            domain,
            seed,
            counter: 0,
        }
    }

    fn block(&mut self) -> [u8; 32] {
        self.counter = self.counter.wrapping_add(1);
        Hash32::digest(&[self.domain, &self.seed, &self.counter.to_le_bytes()]).0
    }
}

impl rand_core::TryRng for HashRng {
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

impl rand_core::TryCryptoRng for HashRng {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::TryRng;

    #[test]
    fn one_seed_and_domain_draw_the_same_and_another_domain_draws_otherwise() {
        let mut a = HashRng::new(b"a", [1; 32]);
        let mut b = HashRng::new(b"a", [1; 32]);
        let mut c = HashRng::new(b"c", [1; 32]);
        let (mut x, mut y, mut z) = ([0u8; 70], [0u8; 70], [0u8; 70]);
        a.try_fill_bytes(&mut x).expect("infallible");
        b.try_fill_bytes(&mut y).expect("infallible");
        c.try_fill_bytes(&mut z).expect("infallible");
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert_ne!(x[..32], x[32..64], "each block is new");
        assert_ne!(a.try_next_u64(), b.try_next_u32().map(u64::from));
    }
}
