//! `AccountId`: an account is its Ed25519 public key.
//!
//! The text forms are `did:key:z6Mk...` (multibase base58btc of the multicodec
//! `ed25519-pub` prefix `0xed 0x01` followed by the key) and plain hex; both
//! are accepted wherever an id is read, and `did:key` is what Ting prints.
//!
//! Not every 32 bytes may be an account: the bytes must be the canonical
//! encoding of a curve point that is not of small order. Anyone can produce a
//! signature that verifies under a small-order key, so such a key must never
//! hold money. The check costs a point decompression, so the ledger runs it
//! only when an account is first created.

use crate::prelude::*;

use core::fmt;
use core::str::FromStr;

use curve25519_dalek::edwards::CompressedEdwardsY;
use thiserror::Error;

/// The multicodec varint for an Ed25519 public key.
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
const DID_KEY_PREFIX: &str = "did:key:z";

/// An account id: a 32-byte Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AccountId(pub [u8; 32]);

/// Why a text or byte string is not a usable account id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AccountError {
    #[error("account id must be `did:key:z6Mk...` or 64 hex digits")]
    BadText,
    #[error("did:key does not hold an Ed25519 public key (multicodec 0xed01, 32 bytes)")]
    NotEd25519DidKey,
    #[error("the 32 bytes are not the canonical encoding of a curve point")]
    NotAPoint,
    #[error(
        "the key is a small-order point: anyone could sign for it, so it cannot be an account"
    )]
    SmallOrder,
}

impl AccountError {
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::BadText | AccountError::NotEd25519DidKey => "bad_account_id",
            AccountError::NotAPoint => "invalid_key",
            AccountError::SmallOrder => "small_order_key",
        }
    }
}

impl AccountId {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The `did:key` form of this key.
    pub fn to_did(&self) -> String {
        let mut bytes = Vec::with_capacity(34);
        bytes.extend_from_slice(&ED25519_MULTICODEC);
        bytes.extend_from_slice(&self.0);
        format!("{DID_KEY_PREFIX}{}", bs58::encode(bytes).into_string())
    }

    /// Parses `did:key:z...` or 64 hex digits. Does not check the point: see [`AccountId::check_valid`].
    pub fn parse(text: &str) -> Result<AccountId, AccountError> {
        let text = text.trim();
        if let Some(encoded) = text.strip_prefix(DID_KEY_PREFIX) {
            let bytes = bs58::decode(encoded)
                .into_vec()
                .map_err(|_| AccountError::BadText)?;
            let key = bytes
                .strip_prefix(&ED25519_MULTICODEC[..])
                .ok_or(AccountError::NotEd25519DidKey)?;
            let key: [u8; 32] = key.try_into().map_err(|_| AccountError::NotEd25519DidKey)?;
            return Ok(AccountId(key));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| AccountError::BadText)?;
        Ok(AccountId(out))
    }

    /// Whether these bytes may be an account: a canonically encoded point of
    /// more than small order. One rule for senders and recipients alike.
    pub fn check_valid(&self) -> Result<(), AccountError> {
        let compressed = CompressedEdwardsY(self.0);
        let point = compressed.decompress().ok_or(AccountError::NotAPoint)?;
        if point.compress() != compressed {
            return Err(AccountError::NotAPoint);
        }
        if point.is_small_order() {
            return Err(AccountError::SmallOrder);
        }
        Ok(())
    }
}

impl FromStr for AccountId {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountId::parse(s)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_did())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    #[test]
    fn did_key_of_an_ed25519_key_starts_with_z6mk_and_round_trips() {
        let id = Keypair::from_seed([7; 32]).account();
        let did = id.to_did();
        assert!(did.starts_with("did:key:z6Mk"), "{did}");
        assert_eq!(AccountId::parse(&did), Ok(id));
        assert_eq!(AccountId::parse(&id.to_hex()), Ok(id));
    }

    #[test]
    fn the_w3c_example_did_key_decodes_to_its_key() {
        // did:key test vector of the W3C did:key method, Ed25519 section.
        let did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let id = AccountId::parse(did).expect("parses");
        assert_eq!(id.to_did(), did);
        assert_eq!(id.check_valid(), Ok(()));
    }

    #[test]
    fn text_that_is_not_an_id_is_refused() {
        assert_eq!(AccountId::parse("alice"), Err(AccountError::BadText));
        assert_eq!(AccountId::parse("abcd"), Err(AccountError::BadText));
        // A secp256k1 did:key (multicodec 0xe7) is not an Ed25519 account.
        let did = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
        assert_eq!(AccountId::parse(did), Err(AccountError::NotEd25519DidKey));
    }

    #[test]
    fn small_order_points_are_refused_as_accounts() {
        // The identity, the point of order 2 and a point of order 8.
        let identity = {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        };
        let order_two = {
            let mut b = [0xffu8; 32];
            b[0] = 0xec;
            b[31] = 0x7f;
            b
        };
        let order_eight =
            hex::decode("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
                .expect("hex");
        for bytes in [identity, order_two, order_eight.try_into().expect("32")] {
            assert_eq!(
                AccountId(bytes).check_valid(),
                Err(AccountError::SmallOrder)
            );
        }
    }

    #[test]
    fn non_canonical_encodings_are_refused_as_accounts() {
        // y = p + 1 encodes the identity non-canonically.
        let mut bytes = [0xffu8; 32];
        bytes[0] = 0xee;
        bytes[31] = 0x7f;
        assert_eq!(AccountId(bytes).check_valid(), Err(AccountError::NotAPoint));
    }
}
