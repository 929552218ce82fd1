//! Revocations: the owner withdraws a consent record, and keeps a signed
//! revocation to show for it.
//!
//! Bytes: `version u8 | genesis [32] | owner [32] | consent [32] |
//! revoked_at u64 | signature [64]`, the owner signing `REVOCATION_DOMAIN ||`
//! everything before the signature. `consent` is the record's hash
//! ([`SignedConsent::hash`]). The device stops at the first epoch that
//! starts at or after `revoked_at` (the stream decides where its epochs
//! start); [`ConsentFilter::revoke`](super::filter::ConsentFilter::revoke)
//! withholds every reading from that time on.

use super::{ConsentError, SignedConsent};
use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::types::Timestamp;

/// The only revocation version this code reads and writes.
pub const REVOCATION_VERSION: u8 = 1;
/// Prefix of every revocation's signing message.
pub const REVOCATION_DOMAIN: &[u8] = b"ting:consent-revocation:v1";
/// Encoded length of a signed revocation.
pub const REVOCATION_BYTES: usize = 1 + 32 + 32 + 32 + 8 + 64;

/// A revocation, unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub genesis: Hash32,
    pub owner: AccountId,
    /// The hash of the signed consent record it withdraws.
    pub consent: Hash32,
    /// From when: the device stops at the first epoch starting then or later.
    pub revoked_at: Timestamp,
}

/// A revocation with its owner's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedRevocation {
    pub revocation: Revocation,
    pub signature: Signature,
}

impl Revocation {
    /// The revocation of `consent` from `revoked_at`, for its owner to sign.
    pub fn of(consent: &SignedConsent, revoked_at: Timestamp) -> Revocation {
        Revocation {
            genesis: consent.record.genesis,
            owner: consent.record.owner,
            consent: consent.hash(),
            revoked_at,
        }
    }

    fn unsigned(&self) -> [u8; REVOCATION_BYTES - 64] {
        let mut out = [0u8; REVOCATION_BYTES - 64];
        let mut w = Writer::over(&mut out);
        w.u8(REVOCATION_VERSION)
            .hash(&self.genesis)
            .account(&self.owner)
            .hash(&self.consent)
            .u64(self.revoked_at.0);
        w.finish().expect("a revocation has a fixed length");
        out
    }

    /// Signs as `key`, which must be the owner.
    pub fn sign(self, key: &Keypair) -> Result<SignedRevocation, ConsentError> {
        if key.account() != self.owner {
            return Err(ConsentError::BadSignature(SignatureError::Invalid));
        }
        let signature = key.sign_parts(&[REVOCATION_DOMAIN, &self.unsigned()]);
        Ok(SignedRevocation {
            revocation: self,
            signature,
        })
    }
}

impl SignedRevocation {
    pub fn encode(&self) -> [u8; REVOCATION_BYTES] {
        let mut out = [0u8; REVOCATION_BYTES];
        out[..REVOCATION_BYTES - 64].copy_from_slice(&self.revocation.unsigned());
        out[REVOCATION_BYTES - 64..].copy_from_slice(&self.signature.0);
        out
    }

    /// Decodes and checks the owner's signature and the network.
    pub fn decode(bytes: &[u8], genesis: &Hash32) -> Result<SignedRevocation, ConsentError> {
        let malformed = ConsentError::Malformed;
        let mut r = Reader::new(bytes);
        let version = r.u8("revocation version").map_err(malformed)?;
        if version != REVOCATION_VERSION {
            return Err(malformed(DecodeError::UnsupportedVersion {
                what: "revocation",
                version,
            }));
        }
        let revocation = Revocation {
            genesis: r.hash("genesis").map_err(malformed)?,
            owner: r.account("owner").map_err(malformed)?,
            consent: r.hash("consent").map_err(malformed)?,
            revoked_at: Timestamp(r.u64("revoked_at").map_err(malformed)?),
        };
        let signature = r.signature("signature").map_err(malformed)?;
        r.finish("revocation").map_err(malformed)?;
        if revocation.genesis != *genesis {
            return Err(ConsentError::WrongNetwork);
        }
        let signed = SignedRevocation {
            revocation,
            signature,
        };
        signed.verify()?;
        Ok(signed)
    }

    /// Checks the owner's signature.
    pub fn verify(&self) -> Result<(), ConsentError> {
        keys::verify_parts(
            &self.revocation.owner,
            &[REVOCATION_DOMAIN, &self.revocation.unsigned()],
            &self.signature,
        )
        .map_err(ConsentError::BadSignature)
    }

    /// Whether this revokes `consent`: its hash, by its owner, on its network.
    pub fn revokes(&self, consent: &SignedConsent) -> bool {
        let r = &self.revocation;
        r.consent == consent.hash()
            && r.owner == consent.record.owner
            && r.genesis == consent.record.genesis
    }
}
