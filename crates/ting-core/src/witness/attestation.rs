//! One witness's signature over one block header it checked.
//!
//! Bytes (fixed length, [`ATTESTATION_BYTES`]): version `u8` ‖ genesis
//! hash ‖ height `u64` ‖ epoch `u64` ‖ header hash ‖ witness account ‖
//! signature. The witness signs `WITNESS_DOMAIN ‖` every byte before
//! the signature, so an attestation cannot be taken for any other signed
//! thing of Ting's, nor moved to another network, height or header.

use crate::prelude::*;

use crate::account::AccountId;
use crate::block::BlockHeader;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::types::BlockHeight;

/// Domain of the attestation signatures.
pub const WITNESS_DOMAIN: &[u8] = b"ting:witness:v1";
/// The attestation format this code writes and reads.
pub const ATTESTATION_VERSION: u8 = 1;
/// Length of an encoded attestation.
pub const ATTESTATION_BYTES: usize = 1 + 32 + 8 + 8 + 32 + 32 + 64;
/// Length of what is signed after the domain.
const UNSIGNED_BYTES: usize = ATTESTATION_BYTES - 64;

/// `witness` checked the block whose header hashes to `header`, at
/// `height` in `epoch`, on the network of `genesis`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    pub genesis: Hash32,
    pub height: BlockHeight,
    pub epoch: u64,
    pub header: Hash32,
    pub witness: AccountId,
    pub signature: Signature,
}

impl Attestation {
    /// `key`'s attestation of `header`. Sign only a header whose block was
    /// applied and reached its state root.
    pub fn sign(header: &BlockHeader, key: &Keypair) -> Attestation {
        let mut a = Attestation {
            genesis: header.genesis,
            height: header.height,
            epoch: header.epoch,
            header: header.hash(),
            witness: key.account(),
            signature: Signature([0; 64]),
        };
        a.signature = key.sign_parts(&[WITNESS_DOMAIN, &a.unsigned()]);
        a
    }

    /// Whether this attests `header` (its network, height, epoch and hash);
    /// says nothing of the signature.
    pub fn covers(&self, header: &BlockHeader) -> bool {
        self.genesis == header.genesis
            && self.height == header.height
            && self.epoch == header.epoch
            && self.header == header.hash()
    }

    /// Checks the witness's signature.
    ///
    /// # Errors
    /// The signature is not the witness's over these fields.
    pub fn verify(&self) -> Result<(), SignatureError> {
        keys::verify_parts(
            &self.witness,
            &[WITNESS_DOMAIN, &self.unsigned()],
            &self.signature,
        )
    }

    fn unsigned(&self) -> [u8; UNSIGNED_BYTES] {
        let mut out = [0u8; UNSIGNED_BYTES];
        let mut w = Writer::over(&mut out);
        self.encode_unsigned(&mut w);
        let len = w.finish().expect("an attestation has a fixed length");
        debug_assert_eq!(len, UNSIGNED_BYTES);
        out
    }

    fn encode_unsigned<S: crate::encoding::Sink>(&self, w: &mut Writer<S>) {
        w.u8(ATTESTATION_VERSION)
            .hash(&self.genesis)
            .u64(self.height.0)
            .u64(self.epoch)
            .hash(&self.header)
            .account(&self.witness);
    }

    /// The attestation's bytes ([`ATTESTATION_BYTES`] long).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(ATTESTATION_BYTES);
        self.encode_unsigned(&mut w);
        w.signature(&self.signature);
        w.into_bytes()
    }

    /// Reads one attestation from `r`.
    ///
    /// # Errors
    /// Too short, another version, or a witness key that is not a valid
    /// account.
    pub fn decode(r: &mut Reader<'_>) -> Result<Attestation, DecodeError> {
        let version = r.u8("attestation version")?;
        if version != ATTESTATION_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "attestation",
                version,
            });
        }
        Ok(Attestation {
            genesis: r.hash("genesis")?,
            height: BlockHeight(r.u64("height")?),
            epoch: r.u64("epoch")?,
            header: r.hash("header hash")?,
            witness: r.account("witness")?,
            signature: r.signature("signature")?,
        })
    }

    /// Exactly one attestation.
    ///
    /// # Errors
    /// As [`Attestation::decode`], or bytes left over.
    pub fn from_bytes(bytes: &[u8]) -> Result<Attestation, DecodeError> {
        let mut r = Reader::new(bytes);
        let a = Attestation::decode(&mut r)?;
        r.finish("attestation")?;
        Ok(a)
    }
}
