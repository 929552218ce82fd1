//! Resource classes and their order books in the ledger state: register a
//! class, place an order (matching it against the book), cancel one.
//!
//! Money conservation: a bid locks its price for what remains of it and
//! `ORDER_DEPOSIT`, an ask only the deposit. A fill moves the resting
//! order's price for the filled units out of the bid and into a new lease
//! (`lease`); a taking bid that would have paid more gets the difference
//! back at once. An order that ends (used up, at its last fill, expired,
//! cancelled, or met by its owner's own placement) gives back everything
//! it still locks. The book is an index over resting orders (`Book`), built
//! again from them when a snapshot loads.

use ting_core::limits::{
    BOOK_TRADES_KEPT, LEASES_OPEN_PER_BUYER_MAX, ORDERS_OPEN_PER_ACCOUNT_MAX, ORDER_DEPOSIT,
    ORDER_EXPIRY_MAX_MS,
};
use ting_core::resource::book::Incoming;
use ting_core::resource::class::check_definition;
use ting_core::resource::{
    Book, Lease, LeaseId, Order, OrderId, OrderTerms, Plan, ResourceClass, Side, Step,
};
use ting_core::state_map::class_key;
use ting_core::{AccountId, Amount, Hash32, Nonce, Timestamp};

use crate::apply::debited;
use crate::channel::Sender;
use crate::error::TxError;
use crate::state::{Account, State};

/// One fill, as market data shows it (kept in memory, not in the state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    pub at: Timestamp,
    pub price: Amount,
    pub units: u64,
    /// The side of the order that took: a bid lifting an ask, or an ask
    /// hitting a bid.
    pub taker: Side,
    pub lease: LeaseId,
}

/// What a placement's plan does with money and records, computed before
/// anything is written.
struct Settlement {
    /// Credits to make: price improvements, ended orders' locks, the
    /// placement's own unfilled part.
    credits: Vec<(AccountId, Amount)>,
    leases: Vec<(LeaseId, Lease)>,
    /// Resting orders after the walk: `None` for those that end.
    makers: Vec<(OrderId, Option<Order>)>,
}

impl State {
    /// Every registered class, in no particular order.
    pub fn classes(&self) -> impl Iterator<Item = &ResourceClass> {
        self.classes.values()
    }

    pub fn class(&self, name: &str) -> Option<&ResourceClass> {
        self.classes.get(&class_key(name))
    }

    pub fn order(&self, id: &OrderId) -> Option<&Order> {
        self.orders.get(id)
    }

    /// Every resting order, in no particular order.
    pub fn orders(&self) -> impl Iterator<Item = (&OrderId, &Order)> {
        self.orders.iter()
    }

    /// How many orders `owner` has resting.
    pub fn open_order_count(&self, owner: &AccountId) -> usize {
        self.open_orders.get(owner).map_or(0, |&n| n as usize)
    }

    /// The book of class `name`, if any order rests on it.
    pub fn book(&self, name: &str) -> Option<&Book> {
        self.books.get(&class_key(name))
    }

    /// Class `name`'s last fills, oldest first (at most `BOOK_TRADES_KEPT`,
    /// since this state was loaded).
    pub fn trades(&self, name: &str) -> impl Iterator<Item = &Trade> {
        self.trades.get(&class_key(name)).into_iter().flatten()
    }

    pub(crate) fn class_register(
        &mut self,
        sender: Sender,
        name: &str,
        unit: &str,
        lease_ms: u64,
    ) -> Result<(), TxError> {
        if !self.issuers.contains(&sender.0) {
            return Err(TxError::UnknownIssuer);
        }
        check_definition(name, unit, lease_ms).map_err(|e| TxError::InvalidClass(e.0.into()))?;
        let key = class_key(name);
        if self.classes.contains_key(&key) {
            return Err(TxError::ClassExists(name.to_owned()));
        }
        self.touch(sender);
        self.note_class(&key);
        self.classes.insert(
            key,
            ResourceClass::new(name.to_owned(), unit.to_owned(), lease_ms),
        );
        Ok(())
    }

    pub(crate) fn order_place(
        &mut self,
        (id, account, next): Sender,
        nonce: Nonce,
        terms: &OrderTerms,
        at: Timestamp,
    ) -> Result<(), TxError> {
        terms
            .check()
            .map_err(|e| TxError::InvalidOrder(e.0.into()))?;
        let key = class_key(&terms.class);
        let class = self
            .classes
            .get(&key)
            .ok_or_else(|| TxError::UnknownClass(terms.class.clone()))?;
        check_expiry(terms, at)?;
        let open = self.open_orders.get(&id).copied().unwrap_or(0);
        if open as usize >= ORDERS_OPEN_PER_ACCOUNT_MAX {
            return Err(TxError::TooManyOrders {
                owner: id,
                max: ORDERS_OPEN_PER_ACCOUNT_MAX,
            });
        }
        if terms.side == Side::Bid
            && self.open_leases.get(&id).copied().unwrap_or(0) as usize >= LEASES_OPEN_PER_BUYER_MAX
        {
            return Err(TxError::TooManyLeases {
                buyer: id,
                max: LEASES_OPEN_PER_BUYER_MAX,
            });
        }
        let order_id = OrderId::derive(&self.genesis_hash, &id, nonce);
        if self.orders.contains_key(&order_id) {
            return Err(TxError::OrderExists(order_id));
        }
        let deposit = Amount::new(ORDER_DEPOSIT);
        let lock = match terms.side {
            Side::Bid => terms
                .cost(terms.quantity)
                .and_then(|c| c.checked_add(deposit)),
            Side::Ask => Some(deposit),
        }
        .ok_or(TxError::Overflow)?;
        let balance = debited(&account, lock)?;
        let spend = self.spend_check(&id, lock, at)?;
        let incoming = Incoming {
            owner: id,
            side: terms.side,
            price: terms.price,
            quantity: terms.quantity,
        };
        // A class whose book is empty has no entry (an empty `Book` holds no allocation).
        let empty = Book::default();
        let book = self.books.get(&key).unwrap_or(&empty);
        let plan = book.plan(&incoming, at, |o| {
            self.orders
                .get(o)
                .expect("a book indexes only resting orders")
        });
        let placed = (order_id, terms, deposit);
        let settlement = self.settle_plan(&plan, placed, id, class.lease_ms, at)?;
        let seq = class.orders_placed;
        // Every check is done: the writes below cannot fail but for the
        // credits, which `pay_out` makes all or none of.
        let sender = (id, Account { balance, ..account }, next);
        self.pay_out(sender, &settlement.credits)?;
        self.record_spend(&id, spend);
        self.write_makers(key, settlement.makers);
        for (lease_id, lease) in settlement.leases {
            self.push_trade(key, &lease, lease_id, terms.side, at);
            self.open_lease(lease_id, lease);
        }
        let left = terms.quantity.saturating_sub(plan.filled);
        if plan.rests && left > 0 {
            let order = Order {
                owner: id,
                seq,
                placed_at: at,
                remaining: left,
                fills: plan.fills,
                deposit,
                terms: terms.clone(),
            };
            self.rest(key, order_id, order);
        }
        self.count_placement(key, &plan, at);
        Ok(())
    }

    /// The credits, leases and resting orders a plan leads to.
    fn settle_plan(
        &self,
        plan: &Plan,
        (order_id, terms, deposit): (OrderId, &OrderTerms, Amount),
        placer: AccountId,
        lease_ms: u64,
        at: Timestamp,
    ) -> Result<Settlement, TxError> {
        let mut out = Settlement {
            credits: Vec::with_capacity(plan.steps.len().saturating_add(1)),
            leases: Vec::new(),
            makers: Vec::with_capacity(plan.steps.len()),
        };
        for step in &plan.steps {
            let (maker_id, fill) = match *step {
                Step::Fill {
                    maker,
                    units,
                    price,
                    maker_ends,
                } => (maker, Some((units, price, maker_ends))),
                Step::Expired(maker) | Step::OwnCancelled(maker) => (maker, None),
            };
            let maker = self.orders.get(&maker_id).expect("planned from the book");
            let Some((units, price, maker_ends)) = fill else {
                let back = maker.locked().ok_or(TxError::Overflow)?;
                out.credits.push((maker.owner, back));
                out.makers.push((maker_id, None));
                continue;
            };
            let (bid, ask, buyer, provider) = match terms.side {
                Side::Bid => (order_id, maker_id, placer, maker.owner),
                Side::Ask => (maker_id, order_id, maker.owner, placer),
            };
            if terms.side == Side::Bid {
                let better = terms
                    .price
                    .checked_sub(price)
                    .and_then(|d| d.checked_mul(units))
                    .ok_or(TxError::Overflow)?;
                out.credits.push((placer, better));
            }
            let mut after = maker.clone();
            after.remaining = after.remaining.saturating_sub(units);
            after.fills = after.fills.saturating_add(1);
            if maker_ends {
                let back = after.locked().ok_or(TxError::Overflow)?;
                out.credits.push((maker.owner, back));
                out.makers.push((maker_id, None));
            } else {
                out.makers.push((maker_id, Some(after)));
            }
            let lease = Lease {
                buyer,
                provider,
                price,
                quantity: units,
                delivered: 0,
                started_at: at,
                ends_at: at.saturating_add_ms(lease_ms),
                class: terms.class.clone(),
            };
            lease.locked().ok_or(TxError::Overflow)?;
            out.leases.push((LeaseId::derive(&bid, &ask), lease));
        }
        let left = terms.quantity.saturating_sub(plan.filled);
        if !plan.rests || left == 0 {
            let unfilled = match terms.side {
                Side::Bid => terms.cost(left).ok_or(TxError::Overflow)?,
                Side::Ask => Amount::ZERO,
            };
            let back = unfilled.checked_add(deposit).ok_or(TxError::Overflow)?;
            out.credits.push((placer, back));
        }
        Ok(out)
    }

    /// Writes the resting orders a walk reached: updated, or ended.
    fn write_makers(&mut self, key: Hash32, makers: Vec<(OrderId, Option<Order>)>) {
        for (maker_id, after) in makers {
            match after {
                Some(order) => {
                    self.note_order(&maker_id);
                    self.set_order(maker_id, Some(order));
                }
                None => self.end_order(key, &maker_id),
            }
        }
    }

    /// Puts a new order on its book.
    fn rest(&mut self, key: Hash32, id: OrderId, order: Order) {
        let open = self.open_orders.entry(order.owner).or_default();
        *open = open.saturating_add(1);
        let fresh = self.books.entry(key).or_default().insert(
            order.terms.side,
            order.terms.price,
            order.seq,
            id,
        );
        debug_assert!(fresh, "a class numbers its orders once");
        self.note_order(&id);
        self.set_order(id, Some(order));
    }

    /// Takes a resting order off its book and out of the state (its lock is
    /// credited by the caller).
    pub(crate) fn end_order(&mut self, key: Hash32, id: &OrderId) {
        let Some(order) = self.orders.get(id) else {
            return;
        };
        let (owner, side, price, seq) =
            (order.owner, order.terms.side, order.terms.price, order.seq);
        if let Some(book) = self.books.get_mut(&key) {
            book.remove(side, price, seq);
            // An empty book leaves the map, as it would be after a
            // snapshot loads (books are built from resting orders).
            if book.is_empty() {
                self.books.remove(&key);
            }
        }
        match self.open_orders.get(&owner).copied().unwrap_or(0) {
            0 | 1 => {
                self.open_orders.remove(&owner);
            }
            n => {
                self.open_orders.insert(owner, n.saturating_sub(1));
            }
        }
        self.note_order(id);
        self.set_order(*id, None);
    }

    fn push_trade(&mut self, key: Hash32, lease: &Lease, id: LeaseId, taker: Side, at: Timestamp) {
        let trades = self.trades.entry(key).or_default();
        if trades.len() >= BOOK_TRADES_KEPT {
            trades.pop_front();
        }
        trades.push_back(Trade {
            at,
            price: lease.price,
            units: lease.quantity,
            taker,
            lease: id,
        });
    }

    /// Moves the class's counters: one more order placed, the units traded
    /// and the last fill's price.
    fn count_placement(&mut self, key: Hash32, plan: &Plan, at: Timestamp) {
        self.note_class(&key);
        let class = self.classes.get_mut(&key).expect("checked by order_place");
        class.orders_placed = class.orders_placed.saturating_add(1);
        class.traded = class.traded.saturating_add(plan.filled);
        let last = plan.steps.iter().rev().find_map(|s| match s {
            Step::Fill { price, .. } => Some(*price),
            _ => None,
        });
        if let Some(price) = last {
            class.last_price = price;
            class.last_trade_at = at;
        }
    }

    pub(crate) fn order_cancel(
        &mut self,
        sender: Sender,
        id: &OrderId,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let order = self.orders.get(id).ok_or(TxError::UnknownOrder(*id))?;
        if !order.expired(at) && !self.speaks_for(&sender.0, &order.owner) {
            return Err(TxError::NotOrderOwner(*id));
        }
        let back = order.locked().ok_or(TxError::Overflow)?;
        let owner = order.owner;
        let key = class_key(&order.terms.class);
        self.pay_out(sender, &[(owner, back)])?;
        self.end_order(key, id);
        Ok(())
    }
}

/// An order's expiry must lie after the block's time and at most
/// `ORDER_EXPIRY_MAX_MS` past it.
fn check_expiry(terms: &OrderTerms, at: Timestamp) -> Result<(), TxError> {
    if terms.expires_at <= at {
        return Err(TxError::BadExpiry(format!(
            "the order's expiry {} is not after the block's time {at}",
            terms.expires_at
        )));
    }
    if terms.expires_at > at.saturating_add_ms(ORDER_EXPIRY_MAX_MS) {
        return Err(TxError::BadExpiry(format!(
            "the order's expiry {} is more than 30 days after the block's time {at}",
            terms.expires_at
        )));
    }
    Ok(())
}
