//! Sealing tests: round trips, tampering, wrong recipients, invalid keys, and
//! the RFC 9180 A.2.1 known answer (base mode, sequence number 0).

use super::*;
use crate::account::AccountId;
use crate::envelope::{EnvelopeId, EnvelopeType};
use crate::types::Timestamp;

/// Hands out fixed bytes then zeros: the ephemeral IKM of a known-answer test,
/// because the crate derives its ephemeral key as `DeriveKeyPair(random(32))`.
struct FixedRng(Vec<u8>);

impl rand_core::TryRng for FixedRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst.iter_mut() {
            *byte = if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            };
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for FixedRng {}

fn rng(tag: u8) -> FixedRng {
    FixedRng(vec![tag; 32])
}

fn h(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn h32(text: &str) -> [u8; 32] {
    h(text).try_into().unwrap()
}

#[test]
fn rfc9180_a_2_1_base_mode_known_answer() {
    let sk_r = MessagingSecret::from_bytes(h32(
        "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
    ));
    let pk_r = sk_r.public();
    assert_eq!(
        pk_r.to_hex(),
        "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a"
    );
    let info = h("4f6465206f6e2061204772656369616e2055726e");
    let pt = h("4265617574792069732074727574682c20747275746820626561757479");
    let aad = h("436f756e742d30");
    let ikm_e = h("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b");
    let sealed = seal_with_info(&pk_r, &info, &aad, &pt, &mut FixedRng(ikm_e)).unwrap();
    let expected_enc = "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a";
    let expected_ct = "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db\
                       21993c62ce81883d2dd1b51a28";
    assert_eq!(hex::encode(&sealed[..ENC_BYTES]), expected_enc);
    assert_eq!(hex::encode(&sealed[ENC_BYTES..]), expected_ct);
    assert_eq!(open_with_info(&sk_r, &info, &aad, &sealed).unwrap(), pt);
}

#[test]
fn the_secret_is_the_clamped_hash_of_the_seed() {
    let seed = [5u8; 32];
    let mut digest: [u8; 32] = Sha256::digest([X25519_DERIVE_DOMAIN, &seed[..]].concat()).into();
    digest[0] &= 0xf8;
    digest[31] &= 0x7f;
    digest[31] |= 0x40;
    assert_eq!(MessagingSecret::derive(&seed).to_bytes(), digest);
    let key = Keypair::from_seed(seed);
    assert_eq!(
        MessagingSecret::from_keypair(&key).public(),
        MessagingSecret::derive(&seed).public()
    );
    assert_eq!(
        MessagingSecret::derive(&seed).public().check_valid(),
        Ok(())
    );
}

#[test]
fn a_sealed_payload_opens_only_with_its_secret_aad_and_bytes() {
    let bob = MessagingSecret::derive(&[2; 32]);
    let carol = MessagingSecret::derive(&[3; 32]);
    let sealed = seal(&bob.public(), b"aad", b"meter 42", &mut rng(7)).unwrap();
    assert_eq!(sealed.len(), 8 + SEAL_OVERHEAD_BYTES);
    assert_eq!(open(&bob, b"aad", &sealed).unwrap(), b"meter 42");
    assert_eq!(open(&carol, b"aad", &sealed), Err(SealError::BadCiphertext));
    assert_eq!(open(&bob, b"aaD", &sealed), Err(SealError::BadCiphertext));
    for i in [0, ENC_BYTES - 1, ENC_BYTES, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[i] ^= 0x01;
        assert_eq!(
            open(&bob, b"aad", &tampered),
            Err(SealError::BadCiphertext),
            "byte {i}"
        );
    }
    assert_eq!(
        open(&bob, b"aad", &sealed[..SEAL_OVERHEAD_BYTES - 1]),
        Err(SealError::BadCiphertext)
    );
}

#[test]
fn an_empty_plaintext_seals_to_just_the_overhead() {
    let bob = MessagingSecret::derive(&[2; 32]);
    let sealed = seal(&bob.public(), b"", b"", &mut rng(1)).unwrap();
    assert_eq!(sealed.len(), SEAL_OVERHEAD_BYTES);
    assert_eq!(open(&bob, b"", &sealed).unwrap(), Vec::<u8>::new());
}

/// Small-order u-coordinates on the curve and twist (the libsodium list),
/// and non-canonical encodings.
fn invalid_keys() -> Vec<[u8; 32]> {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    let mut p_plus_1 = p;
    p_plus_1[0] = 0xee;
    let mut p_minus_1 = p;
    p_minus_1[0] = 0xec;
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut high_bit = MessagingSecret::derive(&[9; 32]).public().0;
    high_bit[31] |= 0x80;
    vec![
        [0; 32],
        one,
        h32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        h32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        p_minus_1,
        p,
        p_plus_1,
        high_bit,
    ]
}

#[test]
fn small_order_and_non_canonical_keys_are_refused() {
    for key in invalid_keys() {
        let key = MessagingKey(key);
        assert_eq!(key.check_valid(), Err(SealError::InvalidKey), "{key:?}");
        assert_eq!(
            seal(&key, b"", b"x", &mut rng(1)),
            Err(SealError::InvalidKey)
        );
    }
}

fn header() -> EnvelopeHeader {
    EnvelopeHeader {
        genesis: crate::hash::Hash32([1; 32]),
        sender: Keypair::from_seed([1; 32]).account(),
        recipient: Keypair::from_seed([2; 32]).account(),
        kind: EnvelopeType::DATA,
        id: EnvelopeId::from_counter(1),
        timestamp: Timestamp(1_000),
        encrypted: false,
    }
}

#[test]
fn an_encrypted_envelope_round_trips_and_binds_its_header() {
    let alice = Keypair::from_seed([1; 32]);
    let bob_secret = MessagingSecret::derive(&[2; 32]);
    let env = Envelope::seal_and_sign(
        header(),
        b"secret reading",
        &bob_secret.public(),
        &alice,
        &mut rng(3),
    )
    .unwrap();
    assert!(env.header.encrypted);
    assert_eq!(env.verify(), Ok(()));
    assert_eq!(env.open_payload(&bob_secret).unwrap(), b"secret reading");
    let wrong = MessagingSecret::derive(&[3; 32]);
    assert_eq!(env.open_payload(&wrong), Err(ReceiveError::BadCiphertext));
    // The same ciphertext under another header (re-signed by the sender) fails.
    let mut moved_header = env.header;
    moved_header.recipient = AccountId([7; 32]);
    let moved = Envelope::sign(moved_header, env.payload.clone(), &alice).unwrap();
    assert_eq!(
        moved.open_payload(&bob_secret),
        Err(ReceiveError::BadCiphertext)
    );
}

#[test]
fn seal_and_sign_refuses_bad_keys_and_oversized_plaintexts() {
    let alice = Keypair::from_seed([1; 32]);
    let bob = MessagingSecret::derive(&[2; 32]).public();
    let err = Envelope::seal_and_sign(header(), b"x", &MessagingKey([0; 32]), &alice, &mut rng(1));
    assert_eq!(err.unwrap_err().code(), "invalid_messaging_key");
    let max = vec![0u8; ENVELOPE_PAYLOAD_BYTES_MAX - SEAL_OVERHEAD_BYTES];
    assert!(Envelope::seal_and_sign(header(), &max, &bob, &alice, &mut rng(1)).is_ok());
    let over = vec![0u8; ENVELOPE_PAYLOAD_BYTES_MAX - SEAL_OVERHEAD_BYTES + 1];
    let err = Envelope::seal_and_sign(header(), &over, &bob, &alice, &mut rng(1));
    assert_eq!(err.unwrap_err().code(), "payload_too_long");
}

#[test]
fn a_plain_envelope_opens_to_its_payload() {
    let alice = Keypair::from_seed([1; 32]);
    let env = Envelope::sign(header(), b"open".to_vec(), &alice).unwrap();
    let any = MessagingSecret::derive(&[2; 32]);
    assert_eq!(env.open_payload(&any).unwrap(), b"open");
}
