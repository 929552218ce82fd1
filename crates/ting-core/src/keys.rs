//! Ed25519 keys and Ting's one signature validity rule.
//!
//! Whether a signature is valid must not depend on whether it was checked
//! alone or in a batch, nor on which node checked it, or replicas replaying
//! the same log could disagree. Ting uses the ZIP-215 rules as implemented by
//! `ed25519-zebra`, whose batch verifier agrees with its single verifier on
//! every input: `S` must be canonical (`S < l`), `A` and `R` may be any point
//! encoding, and the cofactored equation `[8][S]B = [8]R + [8][k]A` decides.
//! `tests/ed25519_rule.rs` pins the rule with the standard edge-case vectors.
//!
//! Whether a key may *hold money* is a separate, stricter question, answered
//! by [`AccountId::check_valid`](crate::AccountId::check_valid).

use std::fmt;

use ed25519_zebra::batch;
use ed25519_zebra::{SigningKey, VerificationKey, VerificationKeyBytes};
use rand_core::CryptoRng;
use thiserror::Error;

use crate::account::AccountId;

/// An Ed25519 signature: `R` (32 bytes) then `S` (32 bytes, little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn to_zebra(self) -> ed25519_zebra::Signature {
        ed25519_zebra::Signature::from_bytes(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("the public key is not a curve point")]
    MalformedKey,
    #[error("the signature does not verify under the sender's key")]
    Invalid,
}

impl SignatureError {
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::MalformedKey => "invalid_key",
            SignatureError::Invalid => "bad_signature",
        }
    }
}

/// A signing key, made from a 32-byte seed (RFC 8032 secret key).
pub struct Keypair {
    signing: SigningKey,
    account: AccountId,
}

impl Keypair {
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        let signing = SigningKey::from(seed);
        let public: [u8; 32] = VerificationKeyBytes::from(&signing).into();
        Keypair {
            signing,
            account: AccountId(public),
        }
    }

    /// A fresh key from the caller's random source.
    pub fn generate<R: CryptoRng>(rng: &mut R) -> Keypair {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Keypair::from_seed(seed)
    }

    pub fn seed(&self) -> [u8; 32] {
        *self.signing.as_bytes()
    }

    pub fn account(&self) -> AccountId {
        self.account
    }

    /// Signs `msg` deterministically (RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.signing.sign(msg).to_bytes())
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.account.to_did())
    }
}

/// Verifies one signature under the ZIP-215 rule.
pub fn verify(key: &AccountId, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
    let vk = VerificationKey::try_from(key.0).map_err(|_| SignatureError::MalformedKey)?;
    vk.verify(&sig.to_zebra(), msg)
        .map_err(|_| SignatureError::Invalid)
}

/// Collects signatures and checks them together, then names each bad one.
///
/// Batch verification costs roughly half of checking each signature alone.
/// When the batch fails, every item is checked alone to find the culprits;
/// under ZIP-215 both paths give the same answer for every item.
#[derive(Default)]
pub struct BatchVerifier {
    items: Vec<batch::Item>,
}

impl fmt::Debug for BatchVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchVerifier({} items)", self.items.len())
    }
}

impl BatchVerifier {
    pub fn with_capacity(n: usize) -> BatchVerifier {
        BatchVerifier {
            items: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues one (key, message, signature); the message is hashed now and not kept.
    pub fn queue(&mut self, key: &AccountId, msg: &[u8], sig: &Signature) {
        let item = batch::Item::from((VerificationKeyBytes::from(key.0), sig.to_zebra(), msg));
        self.items.push(item);
    }

    /// Checks every queued signature; `result[i]` tells whether item `i` is valid.
    ///
    /// One batch check first; if it fails, each half is checked as a batch
    /// again, down to `BISECT_SINGLES_MAX` items checked one by one. A batch
    /// with one bad signature among 64 costs about a dozen small batches
    /// instead of 64 single checks.
    pub fn verify<R: CryptoRng>(self, rng: &mut R) -> Vec<bool> {
        let mut out = Vec::with_capacity(self.items.len());
        bisect(&self.items, rng, &mut out);
        out
    }
}

/// At or below this many items, a failed batch is checked one by one.
const BISECT_SINGLES_MAX: usize = 4;

fn bisect<R: CryptoRng>(items: &[batch::Item], rng: &mut R, out: &mut Vec<bool>) {
    if items.is_empty() {
        return;
    }
    if items.len() <= BISECT_SINGLES_MAX {
        out.extend(items.iter().map(|i| i.clone().verify_single().is_ok()));
        return;
    }
    let mut verifier = batch::Verifier::new();
    for item in items {
        verifier.queue(item.clone());
    }
    if verifier.verify(&mut *rng).is_ok() {
        out.extend(std::iter::repeat_n(true, items.len()));
        return;
    }
    let (left, right) = items.split_at(items.len().checked_div(2).unwrap_or(0));
    bisect(left, rng, out);
    bisect(right, rng, out);
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // small test indices
mod tests {
    use super::*;

    struct CountingRng(u64);
    impl rand_core::TryRng for CountingRng {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            Ok(self.0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for chunk in dst.chunks_mut(8) {
                let v = self.try_next_u64()?.to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for CountingRng {}

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let alice = Keypair::from_seed([1; 32]);
        let bob = Keypair::from_seed([2; 32]);
        let sig = alice.sign(b"hello");
        assert_eq!(verify(&alice.account(), b"hello", &sig), Ok(()));
        assert_eq!(
            verify(&alice.account(), b"hellO", &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify(&bob.account(), b"hello", &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn a_batch_names_exactly_the_bad_signatures() {
        let mut rng = CountingRng(42);
        let keys: Vec<Keypair> = (0..8u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let mut batch = BatchVerifier::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let msg = [i as u8; 10];
            let mut sig = key.sign(&msg);
            if i == 3 || i == 6 {
                sig.0[5] ^= 1;
            }
            batch.queue(&key.account(), &msg, &sig);
        }
        let result = batch.verify(&mut rng);
        let expected: Vec<bool> = (0..8).map(|i| i != 3 && i != 6).collect();
        assert_eq!(result, expected);
    }

    proptest::proptest! {
        // Signing is slow in debug builds: a few cases, each up to 48 signatures.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
        /// Halving a failed batch names the same signatures as checking each alone.
        #[test]
        fn bisection_agrees_with_single_checks(
            bad in proptest::collection::vec(proptest::bool::weighted(0.1), 0..48),
            seed in 0u64..1000,
        ) {
            let mut rng = CountingRng(seed);
            let key = Keypair::from_seed([9; 32]);
            let mut batch = BatchVerifier::with_capacity(bad.len());
            for (i, &is_bad) in bad.iter().enumerate() {
                let msg = (i as u32).to_le_bytes();
                let mut sig = key.sign(&msg);
                if is_bad {
                    sig.0[7] ^= 0x10;
                }
                batch.queue(&key.account(), &msg, &sig);
            }
            let want: Vec<bool> = bad.iter().map(|b| !b).collect();
            proptest::prop_assert_eq!(batch.verify(&mut rng), want);
        }
    }
}
