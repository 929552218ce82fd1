//! The resource sections of a snapshot (version 8 and later): classes,
//! resting orders and open leases.
//!
//! Layout (little-endian, as the rest of the snapshot): u64 count, then per
//! class its record alone, sorted by its state-map key (which the name in
//! the record gives); u64 count, then per order `id [32] | record`; u64
//! count, then per lease `id [32] | record`; each sorted by id. The books
//! are not stored: they are built again from the orders, which carry their
//! price and time priority. Last trades are not stored either: they are
//! market data, not state.

use ting_core::encoding::{Reader, Writer};
use ting_core::resource::{Lease, LeaseId, Order, OrderId, ResourceClass};
use ting_core::state_map::class_key;
use ting_core::DecodeError;

use crate::error::SnapshotDecodeError;
use crate::snapshot_market::{count, sorted};
use crate::state::State;

/// The fewest bytes one class takes: a one-character name and unit,
/// lease_ms, delivery and four counters.
const CLASS_BYTES_MIN: usize = 2 + 2 + 8 + 1 + 8 * 4;
/// The fewest bytes one order takes: id, the record's fixed part, and
/// terms with a one-character class.
const ORDER_BYTES_MIN: usize = 32 + (32 + 8 + 8 + 8 + 2 + 8) + (2 + 1 + 8 * 3);
/// The fewest bytes one lease takes: id and a record with a one-character class.
const LEASE_BYTES_MIN: usize = 32 + 32 + 32 + 8 * 5 + 2;

pub(crate) fn encode(state: &State, w: &mut Writer) {
    let mut classes: Vec<_> = state.classes.iter().collect();
    classes.sort_unstable_by_key(|(key, _)| **key);
    w.u64(classes.len() as u64);
    for (_, c) in classes {
        c.encode(w);
    }
    let mut orders: Vec<(&OrderId, &Order)> = state.orders.iter().collect();
    orders.sort_unstable_by_key(|(id, _)| **id);
    w.u64(orders.len() as u64);
    for (id, o) in orders {
        w.hash(&id.0);
        o.encode(w);
    }
    let mut leases: Vec<(&LeaseId, &Lease)> = state.leases.iter().collect();
    leases.sort_unstable_by_key(|(id, _)| **id);
    w.u64(leases.len() as u64);
    for (id, l) in leases {
        w.hash(&id.0);
        l.encode(w);
    }
}

pub(crate) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let mut last = None;
    for _ in 0..count(r, "class count", CLASS_BYTES_MIN)? {
        let class = ResourceClass::decode(r)?;
        let key = class_key(&class.name);
        sorted(&mut last, key)?;
        state.classes.insert(key, class);
    }
    let mut last = None;
    for _ in 0..count(r, "order count", ORDER_BYTES_MIN)? {
        let id = OrderId(r.hash("order")?);
        sorted(&mut last, id)?;
        let order = Order::decode(r)?;
        let key = class_key(&order.terms.class);
        let placed = state.classes.get(&key).map(|c| c.orders_placed);
        if order.locked().is_none() || placed.is_none_or(|placed| order.seq >= placed) {
            return Err(DecodeError::InvalidValue {
                what: "order lock, class or seq",
            }
            .into());
        }
        let book = state.books.entry(key).or_default();
        if !book.insert(order.terms.side, order.terms.price, order.seq, id) {
            return Err(DecodeError::InvalidValue {
                what: "two orders of one side, price and seq",
            }
            .into());
        }
        let open = state.open_orders.entry(order.owner).or_default();
        *open = open.saturating_add(1);
        state.set_order(id, Some(order));
    }
    // A placement never leaves its book crossed; a snapshot whose book is
    // crossed was not written by this ledger.
    for book in state.books.values() {
        if let (Some(bid), Some(ask)) = book.best() {
            if bid >= ask {
                return Err(DecodeError::InvalidValue {
                    what: "a crossed book",
                }
                .into());
            }
        }
    }
    let mut last = None;
    for _ in 0..count(r, "lease count", LEASE_BYTES_MIN)? {
        let id = LeaseId(r.hash("lease")?);
        sorted(&mut last, id)?;
        let lease = Lease::decode(r)?;
        if !state.classes.contains_key(&class_key(&lease.class)) {
            return Err(DecodeError::InvalidValue {
                what: "lease class",
            }
            .into());
        }
        let open = state.open_leases.entry(lease.buyer).or_default();
        *open = open.saturating_add(1);
        state.set_lease(id, Some(lease));
    }
    Ok(())
}
