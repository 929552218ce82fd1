//! Attestations: a certifier's signed word that an account belongs to a
//! category of buyers (`utility.water`), until a time. A consent record's
//! category rule names the certifiers its owner trusts; a buyer shows an
//! attestation by one of them, and a category it merely claims means
//! nothing ([`ConsentRecord::allows_buyer`]).
//!
//! Bytes: `version u8 | genesis [32] | certifier [32] | buyer [32] |
//! category (u8 len) | expires_at u64 | signature [64]`, the certifier
//! signing `ATTESTATION_DOMAIN ||` everything before the signature.

use crate::prelude::*;

use super::{BuyerRule, ConsentRecord, CATEGORY_BYTES_MAX};
use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::types::Timestamp;

/// The only attestation version this code reads and writes.
pub const ATTESTATION_VERSION: u8 = 1;
/// Prefix of every attestation's signing message.
pub const ATTESTATION_DOMAIN: &[u8] = b"ting:attestation:v1";
/// The longest encoded attestation.
pub const ATTESTATION_BYTES_MAX: usize = 1 + 32 * 3 + 1 + CATEGORY_BYTES_MAX + 8 + 64;

/// A certifier's statement, unsigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attestation {
    pub genesis: Hash32,
    pub certifier: AccountId,
    pub buyer: AccountId,
    pub category: String,
    /// The first time at which it no longer holds.
    pub expires_at: Timestamp,
}

/// An attestation with its certifier's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAttestation {
    pub attestation: Attestation,
    pub signature: Signature,
}

impl Attestation {
    fn encode_unsigned<S: Sink>(&self, w: &mut Writer<S>) {
        w.u8(ATTESTATION_VERSION)
            .hash(&self.genesis)
            .account(&self.certifier)
            .account(&self.buyer);
        w.bytes_u8(self.category.as_bytes());
        w.u64(self.expires_at.0);
    }

    /// Signs as `certifier`, whose account must be the attestation's.
    /// `None` if the key is not the certifier's or the category is empty or
    /// longer than [`CATEGORY_BYTES_MAX`].
    pub fn sign(self, certifier: &Keypair) -> Option<SignedAttestation> {
        let fits = !self.category.is_empty() && self.category.len() <= CATEGORY_BYTES_MAX;
        if certifier.account() != self.certifier || !fits {
            return None;
        }
        let mut w = Writer::with_capacity(ATTESTATION_BYTES_MAX);
        self.encode_unsigned(&mut w);
        let signature = certifier.sign_parts(&[ATTESTATION_DOMAIN, w.as_slice()]);
        Some(SignedAttestation {
            attestation: self,
            signature,
        })
    }
}

impl SignedAttestation {
    /// The signed bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(ATTESTATION_BYTES_MAX);
        self.attestation.encode_unsigned(&mut w);
        w.signature(&self.signature);
        w.into_bytes()
    }

    /// Reads one attestation from `r` (its signature is not checked here).
    pub fn read(r: &mut Reader<'_>) -> Result<SignedAttestation, DecodeError> {
        let version = r.u8("attestation version")?;
        if version != ATTESTATION_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "attestation",
                version,
            });
        }
        let genesis = r.hash("genesis")?;
        let certifier = r.account("certifier")?;
        let buyer = r.account("buyer")?;
        let category = core::str::from_utf8(r.bytes_u8("category", CATEGORY_BYTES_MAX)?)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or(DecodeError::InvalidValue { what: "category" })?
            .to_owned();
        let expires_at = Timestamp(r.u64("expires_at")?);
        Ok(SignedAttestation {
            attestation: Attestation {
                genesis,
                certifier,
                buyer,
                category,
                expires_at,
            },
            signature: r.signature("signature")?,
        })
    }

    /// Decodes an attestation that must be the whole of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<SignedAttestation, DecodeError> {
        let mut r = Reader::new(bytes);
        let a = SignedAttestation::read(&mut r)?;
        r.finish("attestation")?;
        Ok(a)
    }

    /// Checks the certifier's signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        let mut w = Writer::with_capacity(ATTESTATION_BYTES_MAX);
        self.attestation.encode_unsigned(&mut w);
        keys::verify_parts(
            &self.attestation.certifier,
            &[ATTESTATION_DOMAIN, w.as_slice()],
            &self.signature,
        )
    }
}

impl ConsentRecord {
    /// Whether `buyer` may buy at `now`: the record names it, or names a
    /// category and certifiers, one of which signed `attestation` for this
    /// buyer, category and network, still in force.
    pub fn allows_buyer(
        &self,
        buyer: &AccountId,
        attestation: Option<&SignedAttestation>,
        now: Timestamp,
    ) -> bool {
        self.buyers.iter().any(|rule| match rule {
            BuyerRule::Account(id) => id == buyer,
            BuyerRule::Category {
                category,
                certifiers,
            } => attestation.is_some_and(|signed| {
                let a = &signed.attestation;
                a.buyer == *buyer
                    && a.genesis == self.genesis
                    && a.category == *category
                    && certifiers.contains(&a.certifier)
                    && now < a.expires_at
                    && signed.verify().is_ok()
            }),
        })
    }
}
