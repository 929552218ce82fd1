//! Resources on order books: bandwidth and compute bought by the unit and
//! paid as they are delivered (docs/market.md §10, docs/wire.md §18).
//!
//! An issuer names a [`class`] of resource (`bandwidth.uplink.msg`): its
//! unit and how long a lease on it runs. Buyers and sellers place limit
//! [`order`]s on the class's [`book`]; a placement that crosses the book
//! fills at the resting order's price, oldest first among equal prices.
//! Each fill makes a [`lease`]: the price of the units leaves the bid and
//! waits in the lease, and reaches the provider only as the buyer signs
//! cumulative delivery counts for it; what was not delivered when the lease
//! ends goes back to the buyer.

use crate::prelude::*;

use crate::account::AccountId;
use crate::hash::Hash32;
use crate::types::Nonce;

pub mod book;
pub mod class;
pub mod lease;
pub mod order;

pub use book::{Book, Plan, Step};
pub use class::ResourceClass;
pub use lease::{DeliveryCount, Lease};
pub use order::{Order, OrderTerms, Side};

/// Identifies an order: fixed by the transaction that places it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub Hash32);

/// Identifies a lease: fixed by the bid and the ask whose fill made it (a
/// pair fills at most once: one of the two is used up, or ends, by it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseId(pub Hash32);

/// Prefix of an order id's preimage.
pub const ORDER_ID_DOMAIN: &[u8] = b"ting:order-id:v1";
/// Prefix of a lease id's preimage.
pub const LEASE_ID_DOMAIN: &[u8] = b"ting:lease-id:v1";

impl OrderId {
    /// The id of the order `sender` places with the transaction of nonce
    /// `nonce`: known in advance, never shared, bound to one network.
    pub fn derive(genesis: &Hash32, sender: &AccountId, nonce: Nonce) -> OrderId {
        OrderId(Hash32::digest(&[
            ORDER_ID_DOMAIN,
            &genesis.0,
            sender.as_bytes(),
            &nonce.0.to_le_bytes(),
        ]))
    }
}

impl LeaseId {
    /// The id of the lease that the fill of `bid` against `ask` makes.
    pub fn derive(bid: &OrderId, ask: &OrderId) -> LeaseId {
        LeaseId(Hash32::digest(&[LEASE_ID_DOMAIN, &bid.0 .0, &ask.0 .0]))
    }
}

macro_rules! hex_id {
    ($id:ident) => {
        impl $id {
            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }

            /// Parses 64 hex digits.
            pub fn from_hex(text: &str) -> Option<$id> {
                Hash32::from_hex(text).map($id)
            }
        }

        impl core::fmt::Display for $id {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

hex_id!(OrderId);
hex_id!(LeaseId);

#[cfg(test)]
mod tests;
