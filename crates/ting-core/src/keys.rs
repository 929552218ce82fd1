//! Ed25519 keys and Ting's one signature validity rule.
//!
//! Whether a signature is valid must not depend on whether it was checked
//! alone or in a batch, nor on which node checked it, or replicas replaying
//! the same log could disagree. Ting uses the ZIP-215 rules: `S` must be
//! canonical (`S < l`), `A` and `R` may be any point encoding, and the
//! cofactored equation `[8][S]B = [8]R + [8][k]A` decides.
//!
//! Signing and single checks are written here on `curve25519-dalek`, so that
//! firmware gets them without `std`, with or without the curve's precomputed
//! tables, and over messages in several pieces with no allocation. Hosts (the
//! `std` feature) batch-check through `ed25519-zebra`, whose batch verifier
//! agrees with its single verifier on every input; `tests/ed25519_rule.rs`
//! pins the rule with the standard edge-case vectors and checks that this
//! module and `ed25519-zebra` agree on them and on random signatures.
//!
//! Whether a key may *hold money* is a separate, stricter question, answered
//! by [`AccountId::check_valid`](crate::AccountId::check_valid).

use core::fmt;

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use curve25519_dalek::traits::IsIdentity;
#[cfg(feature = "std")]
use ed25519_zebra::{batch, VerificationKeyBytes};
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use thiserror::Error;
use zeroize::Zeroize;

use crate::account::AccountId;
use crate::hash::Hash32;
#[cfg(feature = "std")]
use crate::prelude::*;

/// An Ed25519 signature: `R` (32 bytes) then `S` (32 bytes, little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub fn to_hex(&self) -> alloc::string::String {
        hex::encode(self.0)
    }

    fn r_bytes(&self) -> [u8; 32] {
        let mut r = [0u8; 32];
        r.copy_from_slice(&self.0[..32]);
        r
    }

    fn s_bytes(&self) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&self.0[32..]);
        s
    }

    #[cfg(feature = "std")]
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
///
/// It keeps the expanded key (the clamped scalar and the nonce prefix, both
/// from SHA-512 of the seed) so that signing hashes the message only twice,
/// and wipes all of it when dropped, as it wipes the copies signing makes
/// (SHA-2's states are wiped on drop: ting-core builds `sha2` with
/// `zeroize`).
pub struct Keypair {
    seed: [u8; 32],
    scalar: Scalar,
    prefix: [u8; 32],
    account: AccountId,
}

/// Bytes of a key's cached form ([`Keypair::to_cache`]).
pub const KEY_CACHE_BYTES: usize = 96;
const KEY_CACHE_DOMAIN: &[u8] = b"ting:key-cache:v1";

/// The secret scalar and the nonce prefix of `seed` (RFC 8032 §5.1.5).
fn expand(seed: &[u8; 32]) -> (Scalar, [u8; 32]) {
    let mut expanded: [u8; 64] = Sha512::digest(seed).into();
    let mut low = [0u8; 32];
    low.copy_from_slice(&expanded[..32]);
    let mut clamped = clamp_integer(low);
    let scalar = Scalar::from_bytes_mod_order(clamped);
    clamped.zeroize();
    let mut prefix = [0u8; 32];
    prefix.copy_from_slice(&expanded[32..]);
    low.zeroize();
    expanded.zeroize();
    (scalar, prefix)
}

impl Keypair {
    pub fn from_seed(seed: [u8; 32]) -> Keypair {
        let (scalar, prefix) = expand(&seed);
        let public = EdwardsPoint::mul_base(&scalar).compress().to_bytes();
        Keypair {
            seed,
            scalar,
            prefix,
            account: AccountId(public),
        }
    }

    /// The key's cached form: its seed, its account and a check over both,
    /// so that a device can keep its key ready to sign without the base-point
    /// multiplication [`Keypair::from_seed`] costs each time.
    pub fn to_cache(&self) -> [u8; KEY_CACHE_BYTES] {
        let mut out = [0u8; KEY_CACHE_BYTES];
        out[..32].copy_from_slice(&self.seed);
        out[32..64].copy_from_slice(&self.account.0);
        let check = Hash32::digest(&[KEY_CACHE_DOMAIN, &out[..64]]);
        out[64..].copy_from_slice(&check.0);
        out
    }

    /// A key from its [cached form](Keypair::to_cache), without recomputing
    /// its account; `None` when the check fails. A damaged account must never
    /// be signed under: two signatures of one message under two accounts
    /// reveal the secret scalar.
    pub fn from_cache(cache: &[u8; KEY_CACHE_BYTES]) -> Option<Keypair> {
        let check = Hash32::digest(&[KEY_CACHE_DOMAIN, &cache[..64]]);
        if check.0[..] != cache[64..] {
            return None;
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&cache[..32]);
        let mut account = [0u8; 32];
        account.copy_from_slice(&cache[32..64]);
        let (scalar, prefix) = expand(&seed);
        Some(Keypair {
            seed,
            scalar,
            prefix,
            account: AccountId(account),
        })
    }

    /// A fresh key from the caller's random source.
    pub fn generate<R: CryptoRng>(rng: &mut R) -> Keypair {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let key = Keypair::from_seed(seed);
        seed.zeroize();
        key
    }

    pub fn seed(&self) -> [u8; 32] {
        self.seed
    }

    pub fn account(&self) -> AccountId {
        self.account
    }

    /// Signs `msg` deterministically (RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.sign_parts(&[msg])
    }

    /// Signs the concatenation of `parts` without joining them: a device can
    /// sign a domain prefix and a body that sit in different buffers, with no
    /// allocation.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Signature {
        let mut h = Sha512::new();
        h.update(self.prefix);
        for part in parts {
            h.update(part);
        }
        let mut r = scalar_from_wide(h);
        let r_bytes = EdwardsPoint::mul_base(&r).compress().to_bytes();
        let k = challenge(&r_bytes, &self.account.0, parts);
        let s = scalar_mul_add(&k, &self.scalar, &r);
        // A nonce that leaks gives the key away: a = (S - r) / k.
        r.zeroize();
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&r_bytes);
        out[32..].copy_from_slice(s.as_bytes());
        Signature(out)
    }
}

impl Drop for Keypair {
    fn drop(&mut self) {
        self.seed.zeroize();
        self.scalar.zeroize();
        self.prefix.zeroize();
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keypair({})", self.account.to_did())
    }
}

/// A SHA-512 digest reduced modulo the group order; the digest is wiped
/// (for the signing nonce it is secret).
fn scalar_from_wide(h: Sha512) -> Scalar {
    let mut wide: [u8; 64] = h.finalize().into();
    let scalar = Scalar::from_bytes_mod_order_wide(&wide);
    wide.zeroize();
    scalar
}

/// `k = SHA-512(R || A || message) mod l`, the challenge both sides compute.
fn challenge(r_bytes: &[u8; 32], key: &[u8; 32], parts: &[&[u8]]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r_bytes);
    h.update(key);
    for part in parts {
        h.update(part);
    }
    scalar_from_wide(h)
}

/// `k·a + r` in the scalar field (arithmetic modulo `l`, which cannot overflow).
#[allow(clippy::arithmetic_side_effects)]
fn scalar_mul_add(k: &Scalar, a: &Scalar, r: &Scalar) -> Scalar {
    k * a + r
}

/// Verifies one signature under the ZIP-215 rule.
pub fn verify(key: &AccountId, msg: &[u8], sig: &Signature) -> Result<(), SignatureError> {
    verify_parts(key, &[msg], sig)
}

/// Verifies a signature over the concatenation of `parts`, by the same rule
/// as [`verify`] and with no allocation.
///
/// In the order `ed25519-zebra` checks them: `A` must decode to a point (any
/// encoding), `S` must be canonical, `R` must decode to a point, and then
/// `[8](R - ([S]B - [k]A))` must be the identity.
#[allow(clippy::arithmetic_side_effects)] // curve point arithmetic is modular
pub fn verify_parts(
    key: &AccountId,
    parts: &[&[u8]],
    sig: &Signature,
) -> Result<(), SignatureError> {
    let a = CompressedEdwardsY(key.0)
        .decompress()
        .ok_or(SignatureError::MalformedKey)?;
    let r_bytes = sig.r_bytes();
    let k = challenge(&r_bytes, &key.0, parts);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(sig.s_bytes()))
        .ok_or(SignatureError::Invalid)?;
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .ok_or(SignatureError::Invalid)?;
    let r_prime = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &-a, &s);
    if (r - r_prime).mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

#[cfg(feature = "std")]
/// Collects signatures and checks them together, then names each bad one.
///
/// Batch verification costs roughly half of checking each signature alone.
/// When the batch fails, every item is checked alone to find the culprits;
/// under ZIP-215 both paths give the same answer for every item.
#[derive(Default)]
pub struct BatchVerifier {
    items: Vec<batch::Item>,
}

#[cfg(feature = "std")]
impl fmt::Debug for BatchVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchVerifier({} items)", self.items.len())
    }
}

#[cfg(feature = "std")]
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

/// Without `std` there is no batch verifier: each signature is checked as it
/// is queued, by the same rule, so the answers are the ones a host gives.
#[cfg(not(feature = "std"))]
#[derive(Debug, Default)]
pub struct BatchVerifier {
    results: alloc::vec::Vec<bool>,
}

#[cfg(not(feature = "std"))]
impl BatchVerifier {
    pub fn with_capacity(n: usize) -> BatchVerifier {
        BatchVerifier {
            results: alloc::vec::Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.results.len()
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// Checks one (key, message, signature) now and keeps only the answer.
    pub fn queue(&mut self, key: &AccountId, msg: &[u8], sig: &Signature) {
        self.results.push(verify(key, msg, sig).is_ok());
    }

    /// `result[i]` tells whether item `i` is valid; `rng` is not needed here.
    pub fn verify<R: CryptoRng>(self, _rng: &mut R) -> alloc::vec::Vec<bool> {
        self.results
    }
}

#[cfg(feature = "std")]
/// At or below this many items, a failed batch is checked one by one.
const BISECT_SINGLES_MAX: usize = 4;

#[cfg(feature = "std")]
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
        out.extend(core::iter::repeat_n(true, items.len()));
        return;
    }
    let (left, right) = items.split_at(items.len().checked_div(2).unwrap_or(0));
    bisect(left, rng, out);
    bisect(right, rng, out);
}

#[cfg(all(test, feature = "std"))]
#[allow(clippy::cast_possible_truncation)] // small test indices
mod tests {

    use super::*;
    use crate::test_rng::CountingRng;

    #[test]
    fn a_cached_key_signs_as_the_seed_does_and_a_damaged_cache_is_refused() {
        let key = Keypair::from_seed([21; 32]);
        let cache = key.to_cache();
        let back = Keypair::from_cache(&cache).expect("its own cache");
        assert_eq!(back.account(), key.account());
        assert_eq!(back.sign(b"reading"), key.sign(b"reading"));
        for at in [0, 40, 70] {
            let mut damaged = cache;
            damaged[at] ^= 1;
            assert!(Keypair::from_cache(&damaged).is_none(), "byte {at}");
        }
    }

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
