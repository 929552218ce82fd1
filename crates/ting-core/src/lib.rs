//! Ting's pure core: the types every other crate agrees on.
//!
//! This crate holds the rules that must be identical on every machine that
//! touches a Ting ledger: account ids and their text forms, amounts and other
//! newtypes, the one Ed25519 validity rule, the canonical binary encoding of
//! transactions and blocks, transaction and block hashes, Merkle proofs and
//! receipt verification, payment-channel ids, hash chains, vouchers, the
//! off-ledger payment message, and the signed envelope of MQTT inboxes with
//! its HPKE-sealed payloads.
//!
//! It performs no I/O: no clock, no file, no socket, no global random source.
//! Where randomness is needed (batch verification coefficients) the caller
//! passes a generator in. What is signed and hashed is only ever the canonical
//! bytes, which `docs/wire.md` specifies. Two things every party shares are
//! kept here too so that they exist once: the text formats of key and genesis
//! files ([`files`], docs/files.md; reading and writing them is `ting-agent`'s)
//! and the MQTT topic names ([`topics`]). The HTTP API's JSON lives in
//! `ting-api`.
//!
//! It needs no operating system: it is `#![no_std]` with `alloc`, and the
//! default `std` feature adds only batch verification and `files`. The
//! operations firmware needs most also work on the caller's buffers, with no
//! heap: [`TxBody::sign_into`], [`receipt::check_receipt_bytes`],
//! [`state_proof::check_account_bytes`] and
//! [`channel::payer::Payer::pay_ticks`] (docs/devices.md).

// Money and lengths are computed with checked or saturating operations only:
// an overflow is an error or a stated bound, never a silent wrap. Release
// builds keep overflow checks for this crate too (Cargo.toml).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]
// The crate is `no_std` with `alloc` in every build, so that code written for
// hosts cannot reach for `std` by accident; the `std` feature adds what only
// hosts have (batch verification, the JSON files).
#![no_std]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

/// What `std`'s prelude would give, for this `no_std` crate's modules.
mod prelude {
    pub(crate) use alloc::borrow::ToOwned;
    pub(crate) use alloc::format;
    pub(crate) use alloc::string::String;
    #[allow(unused_imports)] // used by the `std` modules and tests only
    pub(crate) use alloc::string::ToString;
    pub(crate) use alloc::vec;
    pub(crate) use alloc::vec::Vec;
}

pub mod account;
pub mod acl;
pub mod amount;
pub mod block;
pub mod broker_url;
pub mod channel;
pub mod consent;
pub mod encoding;
pub mod envelope;
#[cfg(feature = "std")]
pub mod files;
pub mod genesis;
pub mod hash;
pub mod hash_rng;
pub mod keys;
pub mod ledger_clock;
pub mod limits;
pub mod login;
pub mod market;
pub mod merkle;
pub mod receipt;
pub mod resource;
pub mod seal;
pub mod state_map;
pub mod state_proof;
pub mod state_tree;
pub mod stream;
#[cfg(test)]
mod test_rng;
pub mod topics;
pub mod tx;
pub mod types;
pub mod witness;

pub use account::{AccountError, AccountId};
pub use amount::Amount;
pub use block::{Block, BlockDraft, BlockHeader};
pub use channel::{ChainKey, ChainSegment, ChannelId, ChannelMode, ChannelProof, Payment};
pub use encoding::DecodeError;
pub use envelope::{Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, ReceiveError, ReplayGuard};
pub use genesis::Genesis;
pub use hash::Hash32;
pub use keys::{Keypair, Signature, SignatureError};
pub use ledger_clock::LedgerClock;
pub use merkle::MerkleProof;
pub use receipt::{Receipt, ReceiptError};
pub use seal::{MessagingKey, MessagingSecret, SealError};
pub use tx::{SignedTx, TxBody, TxKind, Verified};
pub use types::{BlockHeight, NetworkId, Nonce, Timestamp};
