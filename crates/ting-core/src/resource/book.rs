//! One class's order book as an index, and the plan of what a placement
//! does to it: pure, with no money in it (the ledger moves the money).
//!
//! Bids are kept highest price first and asks lowest first; among equal
//! prices the order placed first (the lower `seq`) comes first. A
//! placement walks the other side from its best order while the prices
//! cross: an expired order it meets is taken out, an order of the placer's
//! own is cancelled (an account never trades with itself), and any other
//! fills at its own price, as much as both have left. The walk stops after
//! `ORDER_MATCH_STEPS_MAX` orders, or when the placement has taken
//! `ORDER_FILLS_MAX` fills; what is left of it then goes back rather than
//! rest on a book it would cross. Otherwise what is left rests.

use crate::prelude::*;

use alloc::collections::{btree_map, BTreeMap};
use core::cmp::Reverse;

use super::order::{Order, Side};
use super::OrderId;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::limits::{ORDER_FILLS_MAX, ORDER_MATCH_STEPS_MAX};
use crate::types::Timestamp;

/// The resting orders of one class, by price and time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Book {
    bids: BTreeMap<(Reverse<Amount>, u64), OrderId>,
    asks: BTreeMap<(Amount, u64), OrderId>,
}

/// One side's order ids, best first.
#[derive(Debug)]
pub enum SideIter<'a> {
    Bids(btree_map::Values<'a, (Reverse<Amount>, u64), OrderId>),
    Asks(btree_map::Values<'a, (Amount, u64), OrderId>),
}

impl<'a> Iterator for SideIter<'a> {
    type Item = &'a OrderId;
    fn next(&mut self) -> Option<&'a OrderId> {
        match self {
            SideIter::Bids(i) => i.next(),
            SideIter::Asks(i) => i.next(),
        }
    }
}

/// What a placement brings to the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub owner: AccountId,
    pub side: Side,
    pub price: Amount,
    pub quantity: u64,
}

/// One resting order the walk reached, and what happens to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Fills `units` at the resting order's `price`; `maker_ends` when that
    /// uses it up or is its last allowed fill.
    Fill {
        maker: OrderId,
        units: u64,
        price: Amount,
        maker_ends: bool,
    },
    /// The resting order had expired: it ends, unfilled.
    Expired(OrderId),
    /// The resting order was the placer's own: it ends, unfilled.
    OwnCancelled(OrderId),
}

/// What a placement does: the steps in order, the units filled, and
/// whether what is left rests on the book.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub filled: u64,
    /// Fills the placement took (its `fills` if it rests).
    pub fills: u16,
    /// Whether the rest (`quantity - filled`, if above zero) rests; if not,
    /// it goes back.
    pub rests: bool,
}

/// One price level of a book's depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    pub price: Amount,
    /// Units resting at this price.
    pub units: u64,
    pub orders: u32,
}

impl Book {
    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Resting orders on both sides.
    pub fn len(&self) -> usize {
        self.bids.len().saturating_add(self.asks.len())
    }

    /// Puts a resting order in its place; false (and the book unchanged)
    /// if an order of that side, price and `seq` is there already.
    pub fn insert(&mut self, side: Side, price: Amount, seq: u64, id: OrderId) -> bool {
        match side {
            Side::Bid => match self.bids.entry((Reverse(price), seq)) {
                btree_map::Entry::Occupied(_) => false,
                btree_map::Entry::Vacant(v) => {
                    v.insert(id);
                    true
                }
            },
            Side::Ask => match self.asks.entry((price, seq)) {
                btree_map::Entry::Occupied(_) => false,
                btree_map::Entry::Vacant(v) => {
                    v.insert(id);
                    true
                }
            },
        }
    }

    /// The best bid and ask prices, if any rest (expired orders included).
    pub fn best(&self) -> (Option<Amount>, Option<Amount>) {
        (
            self.bids.keys().next().map(|(Reverse(p), _)| *p),
            self.asks.keys().next().map(|(p, _)| *p),
        )
    }

    /// Takes a resting order out; its id, if it was there.
    pub fn remove(&mut self, side: Side, price: Amount, seq: u64) -> Option<OrderId> {
        match side {
            Side::Bid => self.bids.remove(&(Reverse(price), seq)),
            Side::Ask => self.asks.remove(&(price, seq)),
        }
    }

    /// One side's orders, best first.
    pub fn side(&self, side: Side) -> SideIter<'_> {
        match side {
            Side::Bid => SideIter::Bids(self.bids.values()),
            Side::Ask => SideIter::Asks(self.asks.values()),
        }
    }

    /// What placing `incoming` at `at` does; `order` finds each resting
    /// order the book names (every id in the book must be found).
    pub fn plan<'o>(
        &self,
        incoming: &Incoming,
        at: Timestamp,
        order: impl Fn(&OrderId) -> &'o Order,
    ) -> Plan {
        let against = match incoming.side {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        };
        let mut plan = Plan {
            steps: Vec::new(),
            filled: 0,
            fills: 0,
            rests: true,
        };
        let mut left = incoming.quantity;
        for id in self.side(against) {
            if left == 0 {
                break;
            }
            let maker = order(id);
            let crosses = match incoming.side {
                Side::Bid => maker.terms.price <= incoming.price,
                Side::Ask => maker.terms.price >= incoming.price,
            };
            if !crosses {
                break;
            }
            if plan.steps.len() >= ORDER_MATCH_STEPS_MAX || plan.fills >= ORDER_FILLS_MAX {
                plan.rests = false;
                break;
            }
            if maker.expired(at) {
                plan.steps.push(Step::Expired(*id));
                continue;
            }
            if maker.owner == incoming.owner {
                plan.steps.push(Step::OwnCancelled(*id));
                continue;
            }
            let units = left.min(maker.remaining);
            let maker_ends =
                units == maker.remaining || maker.fills.saturating_add(1) >= ORDER_FILLS_MAX;
            plan.steps.push(Step::Fill {
                maker: *id,
                units,
                price: maker.terms.price,
                maker_ends,
            });
            left = left.saturating_sub(units);
            plan.filled = plan.filled.saturating_add(units);
            plan.fills = plan.fills.saturating_add(1);
        }
        if left > 0 && plan.fills >= ORDER_FILLS_MAX {
            plan.rests = false;
        }
        plan
    }

    /// Up to `limit` price levels of one side, best first, counting only
    /// orders that have not expired at `at`.
    pub fn depth<'o>(
        &self,
        side: Side,
        at: Timestamp,
        limit: usize,
        order: impl Fn(&OrderId) -> &'o Order,
    ) -> Vec<Level> {
        let mut levels: Vec<Level> = Vec::new();
        for id in self.side(side) {
            let o = order(id);
            if o.expired(at) {
                continue;
            }
            let full = levels.len() >= limit;
            match levels.last_mut() {
                Some(level) if level.price == o.terms.price => {
                    level.units = level.units.saturating_add(o.remaining);
                    level.orders = level.orders.saturating_add(1);
                }
                _ if full => break,
                _ => levels.push(Level {
                    price: o.terms.price,
                    units: o.remaining,
                    orders: 1,
                }),
            }
        }
        levels
    }
}
