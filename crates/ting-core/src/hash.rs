//! `Hash32`: a SHA-256 digest, with its hex text form.

use crate::prelude::*;

use core::fmt;

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 digest.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// SHA-256 of the concatenation of `parts`.
    pub fn digest(parts: &[&[u8]]) -> Hash32 {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        Hash32(hasher.finalize().into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Hash32> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut out).ok()?;
        Some(Hash32(out))
    }
}

/// The 32-byte hashes laid end to end in `bytes` (whose length is a
/// multiple of 32), read in place: how firmware walks a proof's siblings
/// without copying them into a `Vec`.
pub fn hashes_in(bytes: &[u8]) -> impl ExactSizeIterator<Item = Hash32> + Clone + '_ {
    bytes.chunks_exact(32).map(|chunk| {
        let mut h = [0u8; 32];
        h.copy_from_slice(chunk);
        Hash32(h)
    })
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_nothing_is_the_standard_empty_hash() {
        assert_eq!(
            Hash32::digest(&[]).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trips_and_refuses_wrong_lengths() {
        let h = Hash32::digest(&[b"ting"]);
        assert_eq!(Hash32::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash32::from_hex("abcd"), None);
    }
}
