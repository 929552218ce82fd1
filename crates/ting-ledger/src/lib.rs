//! Ting's deterministic state machine.
//!
//! `State::apply_block(block) -> receipts` is the whole ledger: given the same
//! genesis and the same blocks, every machine reaches the same state, byte for
//! byte (compare [`State::digest`]). It never reads a clock, a random source,
//! a file or a socket: time enters as the block's timestamp, fixed by the
//! sequencer. Signatures of transactions are checked before they reach the
//! state machine (the node's verification pool); the device's consent
//! signature inside a registration is checked here, since it is part of what
//! the transaction means.
//!
//! Each transaction is either applied or refused with a [`TxError`] whose
//! `code()` is stable; a refused transaction changes nothing, not even the
//! sender's nonce. Total supply is conserved: the sum of all balances and of
//! what is locked (open payment channels, stream and offer deposits, escrow
//! holds, resting orders and leases) equals everything minted (genesis allocations included) after
//! every transaction.

// Money and lengths are computed with checked or saturating operations only:
// an overflow is an error or a stated bound, never a silent wrap. Release
// builds keep overflow checks for this crate too (Cargo.toml).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

mod apply;
mod channel;
mod commitment;
mod error;
pub mod evidence;
#[cfg(feature = "fault-injection")]
mod fault;
mod hold;
mod lease;
mod messaging;
mod offer;
mod orders;
mod snapshot;
mod snapshot_channels;
mod snapshot_market;
mod snapshot_resources;
mod snapshot_streams;
mod state;
mod stream;
mod totals;

pub use channel::{Channel, ChannelTerms, CloseKind, Closed, HashChainState};
pub use error::{BlockError, SnapshotDecodeError, TxError};
pub use orders::Trade;
pub use state::{Account, Device, State};
