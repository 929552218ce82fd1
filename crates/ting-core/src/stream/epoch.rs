//! Epoch keys: a stream's points are sealed under one key per epoch, and a
//! buyer that paid for the epoch gets that key sealed to its messaging key.
//!
//! The key of epoch `e` of stream `s` is HKDF-SHA256 of the seller's seed
//! (salt `EPOCH_KEY_DOMAIN`, info `s || e`), so a seller that restarts makes
//! the same keys: it never loses the key of an epoch already paid for, and a
//! key handed out reveals nothing of the seed or of another epoch's key.
//! A point is sealed with ChaCha20-Poly1305 under the epoch key, its nonce
//! its sequence number (unique within the stream, so within the key), and
//! its associated data `POINT_AAD || stream || epoch || seq`.
//!
//! Because a restart makes the same keys, a seller must persist its next
//! point number before it seals a point, and never seal two different
//! points under one number: the same key and nonce twice would expose both
//! points and allow forgeries. Sealing the same point again is harmless.

use crate::prelude::*;

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroize;

use super::StreamId;
use crate::keys::Keypair;
use crate::seal::{self, MessagingKey, MessagingSecret, SealError};

/// HKDF salt of every epoch key.
pub const EPOCH_KEY_DOMAIN: &[u8] = b"ting:stream-epoch-key:v1";
/// Associated-data prefix of every sealed point.
pub const POINT_AAD: &[u8] = b"ting:stream-point:v1";
/// Associated-data prefix of an epoch key sealed to a buyer.
pub const EPOCH_KEY_AAD: &[u8] = b"ting:stream-epoch-key-sealed:v1";
/// Bytes a sealed point adds to the point: the authentication tag.
pub const POINT_TAG_BYTES: usize = 16;

/// The key of one epoch of one stream. Wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochKey(pub [u8; 32]);

impl core::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EpochKey(..)")
    }
}

impl Drop for EpochKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Why a sealed point or key does not open.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EpochError {
    #[error("the sealed point is shorter than its tag")]
    Truncated,
    #[error("the point does not open under this epoch's key (wrong key, epoch or point number, or changed bytes)")]
    BadPoint,
    #[error("the epoch key does not open: {0}")]
    BadKey(SealError),
}

impl EpochError {
    pub fn code(&self) -> &'static str {
        match self {
            EpochError::Truncated => "truncated",
            EpochError::BadPoint => "bad_point",
            EpochError::BadKey(e) => e.code(),
        }
    }
}

/// The key of `epoch` of `stream`, from the seller's key.
pub fn derive_epoch_key(seller: &Keypair, stream: &StreamId, epoch: u64) -> EpochKey {
    let mut seed = seller.seed();
    let hk = Hkdf::<Sha256>::new(Some(EPOCH_KEY_DOMAIN), &seed);
    seed.zeroize();
    let mut key = [0u8; 32];
    hk.expand_multi_info(&[&stream.0 .0, &epoch.to_le_bytes()], &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    EpochKey(key)
}

fn nonce(seq: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&seq.to_le_bytes());
    Nonce::from(n)
}

fn aad(stream: &StreamId, epoch: u64, seq: u64) -> [u8; 20 + 32 + 8 + 8] {
    let mut out = [0u8; 20 + 32 + 8 + 8];
    out[..20].copy_from_slice(POINT_AAD);
    out[20..52].copy_from_slice(&stream.0 .0);
    out[52..60].copy_from_slice(&epoch.to_le_bytes());
    out[60..].copy_from_slice(&seq.to_le_bytes());
    out
}

impl EpochKey {
    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&Key::from(self.0))
    }

    /// Seals point `seq` in place, with no allocation: `buf` holds the
    /// point, and the tag to append after it is returned.
    pub fn seal_in_place(
        &self,
        stream: &StreamId,
        epoch: u64,
        seq: u64,
        buf: &mut [u8],
    ) -> [u8; POINT_TAG_BYTES] {
        let tag = self
            .cipher()
            .encrypt_inout_detached(&nonce(seq), &aad(stream, epoch, seq), buf.into())
            .expect("a point is far below ChaCha20-Poly1305's length limit");
        tag.into()
    }

    /// Opens point `seq` in place: `buf` holds the sealed point without its
    /// tag, and holds the point after.
    pub fn open_in_place(
        &self,
        stream: &StreamId,
        epoch: u64,
        seq: u64,
        buf: &mut [u8],
        tag: &[u8; POINT_TAG_BYTES],
    ) -> Result<(), EpochError> {
        self.cipher()
            .decrypt_inout_detached(
                &nonce(seq),
                &aad(stream, epoch, seq),
                buf.into(),
                &Tag::from(*tag),
            )
            .map_err(|_| EpochError::BadPoint)
    }

    /// The point sealed: its ciphertext, then the tag.
    pub fn seal(&self, stream: &StreamId, epoch: u64, seq: u64, point: &[u8]) -> Vec<u8> {
        let mut out = point.to_vec();
        let tag = self.seal_in_place(stream, epoch, seq, &mut out);
        out.extend_from_slice(&tag);
        out
    }

    /// Opens what [`EpochKey::seal`] made.
    pub fn open(
        &self,
        stream: &StreamId,
        epoch: u64,
        seq: u64,
        sealed: &[u8],
    ) -> Result<Vec<u8>, EpochError> {
        let split = sealed
            .len()
            .checked_sub(POINT_TAG_BYTES)
            .ok_or(EpochError::Truncated)?;
        let (body, tag) = sealed.split_at(split);
        let mut tag_bytes = [0u8; POINT_TAG_BYTES];
        tag_bytes.copy_from_slice(tag);
        let mut out = body.to_vec();
        self.open_in_place(stream, epoch, seq, &mut out, &tag_bytes)?;
        Ok(out)
    }

    /// The key sealed to a buyer's messaging key (HPKE), bound to the stream
    /// and epoch: what a seller sends once the epoch is paid for.
    pub fn seal_to<R: CryptoRng>(
        &self,
        buyer: &MessagingKey,
        stream: &StreamId,
        epoch: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, SealError> {
        seal::seal(buyer, &key_aad(stream, epoch), &self.0, rng)
    }

    /// Opens a key sealed to this buyer for `stream` and `epoch`.
    pub fn open_from(
        secret: &MessagingSecret,
        stream: &StreamId,
        epoch: u64,
        sealed: &[u8],
    ) -> Result<EpochKey, EpochError> {
        let mut plain =
            seal::open(secret, &key_aad(stream, epoch), sealed).map_err(EpochError::BadKey)?;
        let mut key = [0u8; 32];
        let ok = plain.len() == 32;
        if ok {
            key.copy_from_slice(&plain);
        }
        plain.zeroize();
        if ok {
            Ok(EpochKey(key))
        } else {
            Err(EpochError::BadKey(SealError::BadCiphertext))
        }
    }
}

fn key_aad(stream: &StreamId, epoch: u64) -> Vec<u8> {
    [EPOCH_KEY_AAD, &stream.0 .0, &epoch.to_le_bytes()].concat()
}
