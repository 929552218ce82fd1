//! Data streams: what a seller device delivers and a buyer checks.
//!
//! A stream's points are hash-linked, `link_i = SHA-256(LINK_DOMAIN ||
//! link_{i-1} || seq_i u64 || len u16 || point_i)`, and the seller signs one
//! chunk of points at a time over the chunk's header and its last link
//! ([`chunk`]): one signature per chunk, and every point's provenance for a
//! hash. A buyer that holds the link it last checked also sees a chunk that
//! is missing, repeated or out of order.

use crate::hash::Hash32;

pub mod chunk;
pub mod epoch;
pub mod keyx;
pub mod point;
pub mod record;
pub mod sales;
pub mod terms;

pub use record::{Delivery, DeliveryAck, Stream};
pub use terms::{EpochRule, FieldKind, FieldSpec, StreamTerms};

/// Identifies a stream: fixed when the seller registers it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(pub Hash32);

/// Prefix of every point link.
pub const LINK_DOMAIN: &[u8] = b"ting:stream-link:v1";

/// The link after `prev` for point number `seq` with bytes `point`.
pub fn link(prev: &Hash32, seq: u64, point: &[u8]) -> Hash32 {
    let len = u16::try_from(point.len()).unwrap_or(u16::MAX).to_le_bytes();
    Hash32::digest(&[LINK_DOMAIN, &prev.0, &seq.to_le_bytes(), &len, point])
}

#[cfg(test)]
mod tests;
