//! Pins Ting's one Ed25519 rule (ZIP-215) with the standard edge cases.
//!
//! The rule: `S` must be canonical (`S < l`); `A` and `R` may be any encoding
//! that decodes to a curve point, canonical or not, of any order; the
//! challenge `k` is SHA-512 over the bytes of `R` and `A` *as given* and the
//! message; and the cofactored equation `[8][S]B = [8]R + [8][k]A` decides.
//! `zip215()` below transcribes that rule with curve25519-dalek, and every case
//! is checked three ways: its stated verdict, the transcription, and ting-core
//! (`keys::verify` alone, `BatchVerifier` alone and mixed into batches of valid
//! signatures, and ed25519-zebra's raw batch equation under several random
//! coefficient seeds). The cases are the twelve of "Taming the many EdDSAs"
//! (Chalkias, Garillot, Nikolaenko, SSR 2020; ed25519-speccheck's cases.json)
//! and equivalents built here from the eight torsion points.
//!
//! Separately, [`AccountId::check_valid`] must refuse every encoding of a
//! small-order point, because ZIP-215 lets anyone sign for such a key.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};
use ting_core::keys::{self, BatchVerifier};
use ting_core::{AccountError, AccountId, Keypair, Signature};

/// The prime order `l` of the base point, little-endian.
const L_BYTES: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

fn bytes32(text: &str) -> [u8; 32] {
    hex::decode(text)
        .expect("hex")
        .try_into()
        .expect("32 bytes")
}

fn bytes64(text: &str) -> [u8; 64] {
    hex::decode(text)
        .expect("hex")
        .try_into()
        .expect("64 bytes")
}

/// A fixed, seeded generator for batch coefficients (SplitMix64).
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::try_from(self.try_next_u64()? >> 32).expect("32 bits"))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

// ---- The rule, transcribed ----

fn challenge(r: &[u8], a: &[u8], msg: &[u8]) -> Scalar {
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// Whether the cofactored equation holds, with `S` taken mod `l` (no canonical check).
fn equation_holds(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let (r_bytes, s_bytes) = sig.split_at(32);
    let a = CompressedEdwardsY(*key).decompress();
    let r = CompressedEdwardsY(r_bytes.try_into().expect("32")).decompress();
    let (Some(a), Some(r)) = (a, r) else {
        return false;
    };
    let s = Scalar::from_bytes_mod_order(s_bytes.try_into().expect("32"));
    let k = challenge(r_bytes, key, msg);
    (EdwardsPoint::mul_base(&s) - r - k * a)
        .mul_by_cofactor()
        .is_identity()
}

/// ZIP-215: canonical `S`, then the cofactored equation over `A` and `R` as encoded.
fn zip215(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    let s_bytes: [u8; 32] = sig[32..].try_into().expect("32");
    let canonical = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).is_some();
    canonical && equation_holds(key, msg, sig)
}

// ---- Cases ----

/// One signature to check and the verdict the rule gives it.
struct Case {
    name: String,
    key: [u8; 32],
    msg: Vec<u8>,
    sig: [u8; 64],
    valid: bool,
}

impl Case {
    fn new(name: impl Into<String>, key: [u8; 32], msg: &[u8], sig: [u8; 64], valid: bool) -> Case {
        Case {
            name: name.into(),
            key,
            msg: msg.to_vec(),
            sig,
            valid,
        }
    }

    fn queue(&self, batch: &mut BatchVerifier) {
        batch.queue(&AccountId(self.key), &self.msg, &Signature(self.sig));
    }

    fn zebra_item(&self) -> ed25519_zebra::batch::Item {
        let vk = ed25519_zebra::VerificationKeyBytes::from(self.key);
        let sig = ed25519_zebra::Signature::from_bytes(&self.sig);
        ed25519_zebra::batch::Item::from((vk, sig, &self.msg[..]))
    }
}

/// Valid signatures by ordinary keys, to mix into batches.
fn honest(n: u8) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let key = Keypair::from_seed([0x80 | i; 32]);
            let msg = [b'm', i];
            let sig = key.sign(&msg).0;
            Case::new(format!("honest {i}"), key.account().0, &msg, sig, true)
        })
        .collect()
}

/// ed25519-zebra's batch equation with no fallback: `Ok` only if every item passes it.
fn raw_batch_accepts(cases: &[&Case], seed: u64) -> bool {
    let mut verifier = ed25519_zebra::batch::Verifier::new();
    for case in cases {
        verifier.queue(case.zebra_item());
    }
    verifier.verify(TestRng(seed)).is_ok()
}

/// The verdict, the transcribed rule, and every way ting-core checks a signature agree.
fn check(case: &Case) {
    let name = &case.name;
    assert_eq!(
        zip215(&case.key, &case.msg, &case.sig),
        case.valid,
        "{name}: the rule"
    );
    let single = keys::verify(&AccountId(case.key), &case.msg, &Signature(case.sig));
    assert_eq!(
        single.is_ok(),
        case.valid,
        "{name}: keys::verify gave {single:?}"
    );
    assert_eq!(
        single,
        zebra_single(case),
        "{name}: keys::verify and ed25519-zebra's single check differ"
    );
    if case.msg.len() > 1 {
        let (head, tail) = case.msg.split_at(case.msg.len() / 2);
        let parts = keys::verify_parts(&AccountId(case.key), &[head, tail], &Signature(case.sig));
        assert_eq!(parts, single, "{name}: the message in two pieces");
    }
    let others = honest(3);
    for seed in 0..4 {
        let mut alone = BatchVerifier::default();
        case.queue(&mut alone);
        assert_eq!(
            alone.verify(&mut TestRng(seed)),
            [case.valid],
            "{name}: batch alone"
        );
        let mut mixed = BatchVerifier::default();
        others[0].queue(&mut mixed);
        case.queue(&mut mixed);
        others[1].queue(&mut mixed);
        others[2].queue(&mut mixed);
        let want = [true, case.valid, true, true];
        assert_eq!(
            mixed.verify(&mut TestRng(seed)),
            want,
            "{name}: mixed batch"
        );
        let all = [&others[0], case, &others[1], &others[2]];
        assert_eq!(
            raw_batch_accepts(&all, seed),
            case.valid,
            "{name}: raw batch, seed {seed}"
        );
    }
}

/// ed25519-zebra's own single check, in ting-core's error terms.
fn zebra_single(case: &Case) -> Result<(), keys::SignatureError> {
    let key = ed25519_zebra::VerificationKey::try_from(case.key)
        .map_err(|_| keys::SignatureError::MalformedKey)?;
    key.verify(&ed25519_zebra::Signature::from_bytes(&case.sig), &case.msg)
        .map_err(|_| keys::SignatureError::Invalid)
}

proptest::proptest! {
    // Debug-build signing is slow: a few dozen keys and messages.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// ting-core signs exactly as ed25519-zebra does (RFC 8032 is
    /// deterministic), in one piece or several, and a flipped bit is refused
    /// by both.
    #[test]
    fn signing_and_checking_agree_with_ed25519_zebra(
        seed in proptest::array::uniform32(proptest::num::u8::ANY),
        msg in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        split in 0usize..300,
        flip in 0usize..512,
    ) {
        let ours = Keypair::from_seed(seed);
        let theirs = ed25519_zebra::SigningKey::from(seed);
        let their_key: [u8; 32] = ed25519_zebra::VerificationKeyBytes::from(&theirs).into();
        proptest::prop_assert_eq!(ours.account().0, their_key);
        let sig = ours.sign(&msg);
        proptest::prop_assert_eq!(sig.0, theirs.sign(&msg).to_bytes());
        let (head, tail) = msg.split_at(split.min(msg.len()));
        proptest::prop_assert_eq!(ours.sign_parts(&[head, tail]), sig);
        let mut bad = sig;
        bad.0[flip / 8] ^= 1 << (flip % 8);
        let case = Case::new("flipped", ours.account().0, &msg, bad.0, false);
        let verdict = keys::verify(&ours.account(), &msg, &bad);
        proptest::prop_assert_eq!(verdict, zebra_single(&case));
        proptest::prop_assert!(verdict.is_err());
        proptest::prop_assert_eq!(keys::verify(&ours.account(), &msg, &sig), Ok(()));
    }
}

/// The twelve cases of ed25519-speccheck's cases.json, with the ZIP-215 verdicts.
fn speccheck_cases() -> Vec<Case> {
    #[rustfmt::skip]
    let table: [(&str, &str, &str, &str, bool); 12] = [
        ("0: S = 0, small-order A, small-order R",
         "8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6",
         "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
         "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000", true),
        ("1: 0 < S < l, small-order A, mixed-order R",
         "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
         "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
         "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04", true),
        ("2: 0 < S < l, mixed-order A, small-order R",
         "aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab",
         "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
         "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e", true),
        ("3: 0 < S < l, mixed-order A and R, passes cofactored and cofactorless",
         "9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79",
         "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
         "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009", true),
        ("4: 0 < S < l, mixed-order A and R, passes cofactored only",
         "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
         "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
         "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09", true),
        ("5: 0 < S < l, mixed-order A, order-l R, cofactored with [8]k not pre-reduced",
         "e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c",
         "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d",
         "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405", true),
        ("6: S > l (non-canonical S)",
         "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
         "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
         "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514", false),
        ("7: S >> l (non-canonical S, high bits set)",
         "85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40",
         "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623",
         "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22", false),
        ("8: non-canonical small-order R, k over the reduced R (ZIP-215 hashes R as given)",
         "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
         "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f", false),
        ("9: non-canonical small-order R, k over R as given",
         "9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41",
         "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43",
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908", true),
        ("10: non-canonical small-order A, k over the reduced A ([8]kA vanishes anyway)",
         "e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b",
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
         "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04", true),
        ("11: non-canonical small-order A, k over A as given",
         "39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f",
         "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
         "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04", true),
    ];
    table
        .iter()
        .map(|(name, msg, key, sig, valid)| {
            let msg = hex::decode(msg).expect("hex");
            Case::new(
                format!("speccheck {name}"),
                bytes32(key),
                &msg,
                bytes64(sig),
                *valid,
            )
        })
        .collect()
}

// ---- Cases built from the torsion points ----

/// The eight points of small order: the multiples of one point of order 8.
fn torsion() -> [EdwardsPoint; 8] {
    let encoded = bytes32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    let t = CompressedEdwardsY(encoded).decompress().expect("a point");
    assert!(t.mul_by_cofactor().is_identity() && !(t + t + t + t).is_identity());
    let mut points = [EdwardsPoint::default(); 8];
    for i in 1..8 {
        points[i] = points[i - 1] + t;
    }
    points
}

/// Every encoding of a small-order point: 8 canonical, and 6 that are not
/// (`y + p` where that still fits in 255 bits, and the sign bit set on `x = 0`).
fn small_order_encodings() -> Vec<([u8; 32], bool)> {
    let torsion = torsion();
    let mut found = Vec::new();
    for point in &torsion {
        let canonical = point.compress().0;
        found.push((canonical, true));
        let mut candidates = vec![canonical];
        if let Some(plus_p) = add_p(&canonical) {
            candidates.push(plus_p);
        }
        for c in candidates {
            for sign in [0u8, 0x80] {
                let mut bytes = c;
                bytes[31] = (bytes[31] & 0x7f) | sign;
                let decodes_here = CompressedEdwardsY(bytes).decompress() == Some(*point);
                if bytes != canonical && decodes_here && !found.contains(&(bytes, false)) {
                    found.push((bytes, false));
                }
            }
        }
    }
    found
}

/// `y + p` for the 255-bit `y` of an encoding, if it is still below 2^255.
fn add_p(encoding: &[u8; 32]) -> Option<[u8; 32]> {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut y = *encoding;
    y[31] &= 0x7f;
    let sum = add_le(&y, &p)?;
    (sum[31] & 0x80 == 0).then_some(sum)
}

/// Little-endian 256-bit addition; `None` on overflow.
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = sum.to_le_bytes()[0];
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

fn scalar(label: &str) -> Scalar {
    let digest: [u8; 64] = Sha512::digest(label.as_bytes()).into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// `R_bytes || S` with `S = r + k·a`, `k` hashed over `hash_r` (usually `r_bytes` itself).
fn sign_raw(
    a: Scalar,
    key: &[u8; 32],
    r: Scalar,
    r_bytes: &[u8; 32],
    hash_r: &[u8; 32],
    msg: &[u8],
) -> [u8; 64] {
    let s = r + challenge(hash_r, key, msg) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

fn constructed_cases() -> Vec<Case> {
    let t = torsion();
    let msg = b"ting: a constructed case";
    let a = scalar("secret a");
    let r = scalar("nonce r");
    let a_point = EdwardsPoint::mul_base(&a);
    let a_bytes = a_point.compress().0;
    let r_bytes = EdwardsPoint::mul_base(&r).compress().0;
    let mut cases = Vec::new();
    for (i, ti) in t.iter().enumerate() {
        let ti_bytes = ti.compress().0;
        // Small-order A: [8][k]A vanishes, so R = T_(7-i), S = 0 satisfies the
        // cofactored equation for any message, without any secret.
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&t[7 - i].compress().0);
        cases.push(Case::new(
            format!("small-order A = T{i}, small-order R, S = 0"),
            ti_bytes,
            msg,
            forged,
            true,
        ));
        // Small-order R = T_i under an ordinary key: S = k·a (r = 0).
        let sig = sign_raw(a, &a_bytes, Scalar::ZERO, &ti_bytes, &ti_bytes, msg);
        cases.push(Case::new(
            format!("ordinary A, small-order R = T{i}"),
            a_bytes,
            msg,
            sig,
            true,
        ));
        // Mixed-order R = [r]B + T_i: cofactorless verification would refuse i > 0.
        let mixed_r = (EdwardsPoint::mul_base(&r) + ti).compress().0;
        let sig = sign_raw(a, &a_bytes, r, &mixed_r, &mixed_r, msg);
        cases.push(Case::new(
            format!("ordinary A, mixed-order R = rB + T{i}"),
            a_bytes,
            msg,
            sig,
            true,
        ));
        // Mixed-order A = [a]B + T_i: a key that still holds money (see check_valid).
        let mixed_a = (a_point + ti).compress().0;
        let sig = sign_raw(a, &mixed_a, r, &r_bytes, &r_bytes, msg);
        cases.push(Case::new(
            format!("mixed-order A = aB + T{i}, ordinary R"),
            mixed_a,
            msg,
            sig,
            true,
        ));
    }
    cases.extend(non_canonical_s_cases(a, &a_bytes, r, &r_bytes, msg));
    cases.extend(non_canonical_point_cases(a, &a_bytes, r, &r_bytes, msg));
    cases
}

/// `S + l` and `S + 2^255`: the equation holds mod `l`, yet `S` is not canonical.
fn non_canonical_s_cases(
    a: Scalar,
    a_bytes: &[u8; 32],
    r: Scalar,
    r_bytes: &[u8; 32],
    msg: &[u8],
) -> Vec<Case> {
    let good = sign_raw(a, a_bytes, r, r_bytes, r_bytes, msg);
    let real = Keypair::from_seed([7; 32]);
    let real_sig = real.sign(msg).0;
    let mut cases = vec![
        Case::new(
            "constructed signature, S canonical",
            *a_bytes,
            msg,
            good,
            true,
        ),
        Case::new(
            "RFC 8032 signature, S canonical",
            real.account().0,
            msg,
            real_sig,
            true,
        ),
    ];
    for (what, key, sig) in [
        ("constructed", *a_bytes, good),
        ("RFC 8032", real.account().0, real_sig),
    ] {
        let s: [u8; 32] = sig[32..].try_into().expect("32");
        let mut plus_l = sig;
        plus_l[32..].copy_from_slice(&add_le(&s, &bytes32(L_BYTES)).expect("S + l < 2^256"));
        assert!(
            equation_holds(&key, msg, &plus_l),
            "S + l still satisfies the equation mod l"
        );
        cases.push(Case::new(
            format!("{what} signature, S + l"),
            key,
            msg,
            plus_l,
            false,
        ));
        let mut high_bit = sig;
        high_bit[63] |= 0x80;
        cases.push(Case::new(
            format!("{what} signature, S + 2^255"),
            key,
            msg,
            high_bit,
            false,
        ));
    }
    cases
}

/// Non-canonical encodings of A and R (only small-order points have them, so
/// these are built on the six non-canonical small-order encodings).
fn non_canonical_point_cases(
    a: Scalar,
    a_bytes: &[u8; 32],
    r: Scalar,
    r_bytes: &[u8; 32],
    msg: &[u8],
) -> Vec<Case> {
    let mut cases = Vec::new();
    for (encoding, canonical) in small_order_encodings() {
        if canonical {
            continue;
        }
        let name = hex::encode(encoding);
        let reduced = CompressedEdwardsY(encoding)
            .decompress()
            .expect("a point")
            .compress()
            .0;
        // R non-canonical, k over R as given: the rule accepts.
        let sig = sign_raw(a, a_bytes, Scalar::ZERO, &encoding, &encoding, msg);
        cases.push(Case::new(
            format!("non-canonical R {name}, k over R as given"),
            *a_bytes,
            msg,
            sig,
            true,
        ));
        // R non-canonical, k over its canonical re-encoding: the rule refuses.
        let sig = sign_raw(a, a_bytes, Scalar::ZERO, &encoding, &reduced, msg);
        cases.push(Case::new(
            format!("non-canonical R {name}, k over reduced R"),
            *a_bytes,
            msg,
            sig,
            false,
        ));
        // A non-canonical (small order): R = [r]B, S = r satisfies the equation for any k.
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r_bytes);
        sig[32..].copy_from_slice(r.as_bytes());
        cases.push(Case::new(
            format!("non-canonical A {name}, R = rB, S = r"),
            encoding,
            msg,
            sig,
            true,
        ));
    }
    // Encodings that are not points at all (y = 2 is not on the curve).
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert!(CompressedEdwardsY(not_a_point).decompress().is_none());
    let good = sign_raw(a, a_bytes, r, r_bytes, r_bytes, msg);
    let mut bad_r = good;
    bad_r[..32].copy_from_slice(&not_a_point);
    cases.push(Case::new("A is not a point", not_a_point, msg, good, false));
    cases.push(Case::new("R is not a point", *a_bytes, msg, bad_r, false));
    cases
}

// ---- The tests ----

#[test]
fn the_twelve_speccheck_cases_get_the_zip215_verdict_alone_and_in_batches() {
    let cases = speccheck_cases();
    let verdicts: Vec<bool> = cases.iter().map(|c| c.valid).collect();
    // Zebra's row of the speccheck results table: V V V V V V X X X V V V.
    let want = [
        true, true, true, true, true, true, false, false, false, true, true, true,
    ];
    assert_eq!(verdicts, want);
    cases.iter().for_each(check);
}

#[test]
fn cases_built_from_the_torsion_points_get_the_zip215_verdict_alone_and_in_batches() {
    let cases = constructed_cases();
    assert!(cases.len() > 50);
    cases.iter().for_each(check);
}

#[test]
fn one_batch_of_every_case_names_exactly_the_invalid_ones() {
    let cases: Vec<Case> = speccheck_cases()
        .into_iter()
        .chain(constructed_cases())
        .chain(honest(5))
        .collect();
    let want: Vec<bool> = cases.iter().map(|c| c.valid).collect();
    for seed in [11, 12, 13] {
        let mut batch = BatchVerifier::with_capacity(cases.len());
        cases.iter().for_each(|c| c.queue(&mut batch));
        assert_eq!(batch.verify(&mut TestRng(seed)), want, "seed {seed}");
        let valid: Vec<&Case> = cases.iter().filter(|c| c.valid).collect();
        assert!(
            raw_batch_accepts(&valid, seed),
            "every valid case passes one raw batch"
        );
    }
}

#[test]
fn non_canonical_s_is_refused_however_it_is_checked() {
    let cases = constructed_cases();
    let non_canonical: Vec<&Case> = cases.iter().filter(|c| c.name.contains("S + ")).collect();
    assert_eq!(non_canonical.len(), 4);
    for case in non_canonical {
        assert!(!case.valid, "{}", case.name);
        check(case);
    }
}

#[test]
fn there_are_fourteen_encodings_of_small_order_points_and_no_account_may_use_one() {
    let encodings = small_order_encodings();
    assert_eq!(
        encodings.iter().filter(|(_, canonical)| *canonical).count(),
        8
    );
    assert_eq!(encodings.len(), 14);
    for (bytes, canonical) in encodings {
        let want = if canonical {
            AccountError::SmallOrder
        } else {
            AccountError::NotAPoint
        };
        assert_eq!(
            AccountId(bytes).check_valid(),
            Err(want),
            "{}",
            hex::encode(bytes)
        );
    }
}

#[test]
fn every_non_canonical_encoding_is_refused_as_an_account() {
    // y + p for every y < 19 (both sign bits), and the sign bit on x = 0 (y = 1, y = p - 1).
    let mut candidates = Vec::new();
    for y in 0u8..19 {
        let mut bytes = [0u8; 32];
        bytes[0] = y;
        let plus_p = add_p(&bytes).expect("y + p < 2^255");
        candidates.push(plus_p);
    }
    let mut one = [0u8; 32];
    one[0] = 1;
    candidates.push(one);
    candidates.push(torsion()[4].compress().0); // the point of order 2, y = p - 1
    for c in candidates {
        for sign in [0u8, 0x80] {
            let mut bytes = c;
            bytes[31] |= sign;
            let Some(point) = CompressedEdwardsY(bytes).decompress() else {
                continue;
            };
            if point.compress().0 == bytes {
                continue; // the canonical encodings of y = 1 and y = p - 1
            }
            let got = AccountId(bytes).check_valid();
            assert_eq!(got, Err(AccountError::NotAPoint), "{}", hex::encode(bytes));
        }
    }
}

#[test]
fn ordinary_and_mixed_order_keys_are_accepted_as_accounts() {
    for i in 0..32u8 {
        let id = Keypair::from_seed([i; 32]).account();
        assert_eq!(id.check_valid(), Ok(()), "{id}");
    }
    // A point with a torsion component but of large order is not small order;
    // its holder signs like anyone else (ZIP-215 multiplies the torsion away).
    let a = EdwardsPoint::mul_base(&scalar("mixed"));
    for t in &torsion()[1..] {
        assert_eq!(AccountId((a + t).compress().0).check_valid(), Ok(()));
    }
}

#[test]
fn every_key_anyone_can_sign_for_is_refused_as_an_account() {
    let msg = b"a message nobody signed";
    for (bytes, _) in small_order_encodings() {
        let forged = Signature(sign_anything_for_small_order_key());
        assert_eq!(keys::verify(&AccountId(bytes), msg, &forged), Ok(()));
        assert!(
            AccountId(bytes).check_valid().is_err(),
            "{}",
            hex::encode(bytes)
        );
    }
}

/// The identity as R and S = 0: valid under ZIP-215 for every small-order key and message.
fn sign_anything_for_small_order_key() -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[0] = 1;
    sig
}

#[test]
fn keys_and_signatures_follow_rfc_8032() {
    // RFC 8032 §7.1, TEST 1 to TEST 3: secret key, public key, message, signature.
    #[rustfmt::skip]
    let vectors = [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
         "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ];
    for (secret, public, msg, sig) in vectors {
        let key = Keypair::from_seed(bytes32(secret));
        let msg = hex::decode(msg).expect("hex");
        assert_eq!(key.account().to_hex(), public);
        assert_eq!(key.sign(&msg).to_hex(), sig);
        check(&Case::new(
            format!("RFC 8032 {public}"),
            bytes32(public),
            &msg,
            bytes64(sig),
            true,
        ));
    }
    // The base point itself is an ordinary key.
    assert_eq!(
        AccountId(ED25519_BASEPOINT_POINT.compress().0).check_valid(),
        Ok(())
    );
}

// ---- The cases as JSON, for clients in other languages ----

/// Where the cases are committed for clients outside Rust (the dashboard's
/// in-page verifier, crates/ting-node/web/test/verify.test.mjs).
const VECTORS_PATH: &str = "docs/test-vectors/ed25519_rule.json";

/// The forgery every small-order key admits (identity `R`, `S = 0`), under
/// each of the fourteen encodings: valid by the rule, which is why
/// [`AccountId::check_valid`] refuses these keys.
fn forged_for_small_order_keys() -> Vec<Case> {
    let msg = b"a message nobody signed";
    small_order_encodings()
        .into_iter()
        .map(|(bytes, canonical)| {
            let form = if canonical {
                "canonical"
            } else {
                "non-canonical"
            };
            Case::new(
                format!(
                    "small-order A {} ({form}), R = identity, S = 0",
                    hex::encode(bytes)
                ),
                bytes,
                msg,
                sign_anything_for_small_order_key(),
                true,
            )
        })
        .collect()
}

/// Every case of this file as the JSON of `docs/test-vectors/ed25519_rule.json`,
/// which `examples/gen_ed25519_vectors.rs` prints: the speccheck cases, the
/// torsion cases, the small-order forgeries and a few honest signatures.
/// Deterministic: no clock, no random source.
pub fn vectors_json() -> String {
    let cases: Vec<serde_json::Value> = speccheck_cases()
        .into_iter()
        .chain(constructed_cases())
        .chain(forged_for_small_order_keys())
        .chain(honest(3))
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "public_key_hex": hex::encode(c.key),
                "message_hex": hex::encode(&c.msg),
                "signature_hex": hex::encode(c.sig),
                "valid": c.valid,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "description": "Ting's Ed25519 signature rule (ZIP-215, docs/wire.md §3.2): each case is a key, a message and a signature, and whether the rule accepts it. From crates/ting-core/tests/ed25519_rule.rs, which checks every verdict against ting-core and ed25519-zebra.",
        "generator": format!("cargo run -p ting-core --example gen_ed25519_vectors > {VECTORS_PATH}"),
        "cases": cases,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON values always serialize");
    text.push('\n');
    text
}

#[test]
fn the_committed_json_vectors_are_exactly_the_cases_of_this_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/test-vectors/ed25519_rule.json"
    );
    let committed = std::fs::read_to_string(path).expect("the vector file is readable");
    assert!(
        committed == vectors_json(),
        "{VECTORS_PATH} is out of date: regenerate it with \
         `cargo run -p ting-core --example gen_ed25519_vectors > {VECTORS_PATH}`"
    );
}

#[test]
fn every_small_order_forgery_in_the_json_vectors_gets_its_verdict() {
    let cases = forged_for_small_order_keys();
    assert_eq!(cases.len(), 14);
    cases.iter().for_each(check);
}
