//! Encrypted envelope payloads: HPKE (RFC 9180) to a recipient's messaging key.
//!
//! The suite is fixed: base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
//! ChaCha20-Poly1305, `info = "ting:hpke:v1"`. A sealed payload is
//! `enc [32] ‖ ciphertext`, the ciphertext carrying its 16-byte tag. The
//! associated data is the envelope's header bytes (version through flags), so
//! a ciphertext cannot be moved to another envelope.
//!
//! An account's X25519 secret is derived from its Ed25519 seed, so a device
//! keeps one secret file: `SHA-256("ting:x25519:v1" ‖ seed)`, clamped as
//! RFC 7748 clamps (clear bits 0-2 and 255, set bit 254). It is a separate key,
//! not the birational image of the signing key, so that the two uses never
//! share a scalar. The public half is published on the ledger with the
//! `set_messaging_key` transaction.
//!
//! A messaging key must be a canonical encoding (`u < 2^255 - 19`) of a point
//! that is not of small order: a small-order key makes every shared secret
//! one of eight values, so anyone could read what is sealed to it.

use crate::prelude::*;

use core::fmt;

use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::clamp_integer;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::envelope::{Envelope, EnvelopeError, EnvelopeHeader, ReceiveError};
use crate::keys::Keypair;
use crate::limits::ENVELOPE_PAYLOAD_BYTES_MAX;

/// Prefix of the hash that derives an X25519 secret from an Ed25519 seed.
pub const X25519_DERIVE_DOMAIN: &[u8] = b"ting:x25519:v1";
/// HPKE `info` of every sealed payload.
pub const HPKE_INFO: &[u8] = b"ting:hpke:v1";
/// Bytes of the encapsulated key at the front of a sealed payload.
pub const ENC_BYTES: usize = 32;
/// Bytes of the ChaCha20-Poly1305 tag at the end of a sealed payload.
pub const TAG_BYTES: usize = 16;
/// What sealing adds to a plaintext.
pub const SEAL_OVERHEAD_BYTES: usize = ENC_BYTES + TAG_BYTES;

type Kem = X25519HkdfSha256;

/// Why a payload could not be sealed or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("the messaging key is not canonical or has small order")]
    InvalidKey,
    #[error("the sealed payload does not decrypt with this key and header")]
    BadCiphertext,
}

impl SealError {
    pub fn code(&self) -> &'static str {
        match self {
            SealError::InvalidKey => "invalid_messaging_key",
            SealError::BadCiphertext => "bad_ciphertext",
        }
    }
}

/// An account's public X25519 messaging key, as set on the ledger.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessagingKey(pub [u8; 32]);

impl MessagingKey {
    /// Refuses a non-canonical encoding and any point of small order
    /// (the all-zero key among them), on the curve or its twist.
    pub fn check_valid(&self) -> Result<(), SealError> {
        if !is_canonical(&self.0) {
            return Err(SealError::InvalidKey);
        }
        // Clamped scalars are multiples of 8, which kills every point of
        // order dividing 8 (curve) or 4 (twist): the ladder then yields u = 0.
        let probe = MontgomeryPoint(self.0).mul_clamped([9; 32]);
        if probe.0 == [0; 32] {
            return Err(SealError::InvalidKey);
        }
        Ok(())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits; says nothing about validity.
    pub fn from_hex(text: &str) -> Option<MessagingKey> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut out).ok()?;
        Some(MessagingKey(out))
    }
}

impl fmt::Debug for MessagingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessagingKey({})", self.to_hex())
    }
}

/// `u < p = 2^255 - 19`, with bit 255 clear.
fn is_canonical(u: &[u8; 32]) -> bool {
    if u[31] & 0x80 != 0 {
        return false;
    }
    let below_p_top = u[31] < 0x7f || u[1..31].iter().any(|&b| b != 0xff);
    below_p_top || u[0] < 0xed
}

/// An account's X25519 messaging secret (clamped).
#[derive(Clone)]
pub struct MessagingSecret([u8; 32]);

impl MessagingSecret {
    /// The secret of the account whose Ed25519 seed is `seed`:
    /// `clamp(SHA-256(X25519_DERIVE_DOMAIN ‖ seed))`.
    pub fn derive(seed: &[u8; 32]) -> MessagingSecret {
        let digest: [u8; 32] = Sha256::new()
            .chain_update(X25519_DERIVE_DOMAIN)
            .chain_update(seed)
            .finalize()
            .into();
        MessagingSecret::from_bytes(digest)
    }

    /// The secret derived from `key`'s seed.
    pub fn from_keypair(key: &Keypair) -> MessagingSecret {
        MessagingSecret::derive(&key.seed())
    }

    /// A secret from raw bytes, clamped as RFC 7748 does.
    pub fn from_bytes(bytes: [u8; 32]) -> MessagingSecret {
        MessagingSecret(clamp_integer(bytes))
    }

    /// The clamped scalar bytes (RFC 9180 `SerializePrivateKey`).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    pub fn public(&self) -> MessagingKey {
        MessagingKey(MontgomeryPoint::mul_base_clamped(self.0).0)
    }
}

impl fmt::Debug for MessagingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessagingSecret(public {})", self.public().to_hex())
    }
}

/// Seals `plaintext` to `recipient`: `enc [32] ‖ ciphertext ‖ tag [16]`.
pub fn seal<R: CryptoRng>(
    recipient: &MessagingKey,
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    seal_with_info(recipient, HPKE_INFO, aad, plaintext, rng)
}

/// Opens what [`seal`] made for `secret` under the same `aad`.
pub fn open(secret: &MessagingSecret, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    open_with_info(secret, HPKE_INFO, aad, sealed)
}

fn seal_with_info<R: CryptoRng>(
    recipient: &MessagingKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SealError> {
    recipient.check_valid()?;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&recipient.0)
        .map_err(|_| SealError::InvalidKey)?;
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| SealError::InvalidKey)?;
    let mut out = Vec::with_capacity(ENC_BYTES.saturating_add(ciphertext.len()));
    out.extend_from_slice(&enc.to_bytes());
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open_with_info(
    secret: &MessagingSecret,
    info: &[u8],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    if sealed.len() < SEAL_OVERHEAD_BYTES {
        return Err(SealError::BadCiphertext);
    }
    let (enc, ciphertext) = sealed.split_at(ENC_BYTES);
    let enc =
        <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| SealError::BadCiphertext)?;
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&secret.0)
        .map_err(|_| SealError::BadCiphertext)?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Base,
        &sk,
        &enc,
        info,
        ciphertext,
        aad,
    )
    .map_err(|_| SealError::BadCiphertext)
}

impl Envelope {
    /// Seals `plaintext` to `recipient_key` under `header` (whose `encrypted`
    /// flag is set here) and signs the result with `key`, the header's sender.
    pub fn seal_and_sign<R: CryptoRng>(
        mut header: EnvelopeHeader,
        plaintext: &[u8],
        recipient_key: &MessagingKey,
        key: &Keypair,
        rng: &mut R,
    ) -> Result<Envelope, EnvelopeError> {
        let sealed_len = plaintext.len().saturating_add(SEAL_OVERHEAD_BYTES);
        if sealed_len > ENVELOPE_PAYLOAD_BYTES_MAX {
            return Err(EnvelopeError::PayloadTooLong {
                len: sealed_len,
                max: ENVELOPE_PAYLOAD_BYTES_MAX,
            });
        }
        header.encrypted = true;
        let aad = header.to_bytes();
        let sealed = seal(recipient_key, &aad, plaintext, rng)
            .map_err(|_| EnvelopeError::InvalidRecipientKey)?;
        Envelope::sign(header, sealed, key)
    }

    /// The payload's plaintext: opened with `secret` if the envelope is
    /// encrypted (the last receiving check, `bad_ciphertext`), as is if not.
    pub fn open_payload(&self, secret: &MessagingSecret) -> Result<Vec<u8>, ReceiveError> {
        if !self.header.encrypted {
            return Ok(self.payload.clone());
        }
        open(secret, &self.header.to_bytes(), &self.payload)
            .map_err(|_| ReceiveError::BadCiphertext)
    }
}

#[cfg(test)]
mod tests;
