//! Resource classes, order books and leases on the ledger, case by case:
//! one test per rule of `crates/ting-ledger/src/orders.rs` and `lease.rs`,
//! with its refusal code (`orders_model.rs` holds the property test).
//!
//! The rules pinned here: only an issuer registers a class, once, and a
//! definition that breaks a rule cannot even be signed; a bid locks its
//! price for its quantity and `ORDER_DEPOSIT`, an ask only the deposit; a
//! placement walks the other side best price first and, among equal prices,
//! oldest first, while the prices cross, filling at the resting (maker's)
//! price and handing a taking bid its price improvement back at once; a
//! resting order it meets that has expired is taken out and one of the
//! placer's own is cancelled, both with their locks returned; what is left
//! rests with the class's next sequence number, unless the walk stopped at
//! `ORDER_FILLS_MAX` fills or after `ORDER_MATCH_STEPS_MAX` steps with the
//! book still crossing, when it goes back; a maker ends at its
//! `ORDER_FILLS_MAX`-th fill. The owner (or the owner's owner) cancels at
//! any time, anyone once the order has expired. Each fill opens a lease
//! locking the maker's price of its units; the buyer's signed cumulative
//! counts pay the provider, until `LEASE_GRACE_MS` after the lease's end;
//! the provider's side closes at any time, anyone after the grace, and what
//! was not counted goes back to the buyer.
//!
//! After every transaction the fixture checks that a refusal changed nothing
//! and that money is conserved with the running sums equal to a walk; after
//! every block, that the incremental state root equals one rebuilt from
//! scratch. Snapshots keep classes, orders (their books are rebuilt) and
//! leases.

#![allow(clippy::cast_possible_truncation)] // small test indices

mod common;

use common::*;
use ting_core::limits::{
    DAY_MS, LEASES_OPEN_PER_BUYER_MAX, LEASE_GRACE_MS, LEASE_MS_MAX, ORDERS_OPEN_PER_ACCOUNT_MAX,
    ORDER_DEPOSIT, ORDER_EXPIRY_MAX_MS, ORDER_FILLS_MAX, ORDER_MATCH_STEPS_MAX,
};
use ting_core::resource::class::check_definition;
use ting_core::resource::{
    DeliveryCount, Lease, LeaseId, OrderId, OrderTerms, ResourceClass, Side,
};
use ting_core::{
    AccountId, Amount, Block, Genesis, Hash32, Keypair, Signature, SignedTx, Timestamp, TxKind,
};
use ting_ledger::{State, TxError};

/// What each genesis key (0 to 3) starts with: a thousand deposits.
const START: u64 = 1_000 * ORDER_DEPOSIT;
/// What the fixture gives the device and the stranger.
const FUND: u64 = 100 * ORDER_DEPOSIT;
const DEP: u64 = ORDER_DEPOSIT;
const CLASS: &str = "bandwidth.uplink.msg";
/// How long the fixture class's leases run.
const LEASE_MS: u64 = 60_000;

/// The issuer: registers classes and funds the others.
fn issuer() -> Keypair {
    key(0)
}

/// Owns `device()`.
fn owner() -> Keypair {
    key(1)
}

/// Sells capacity: the provider of most leases here.
fn relay() -> Keypair {
    key(2)
}

/// Buys capacity: the buyer of most leases here.
fn buyer() -> Keypair {
    key(3)
}

/// `owner()`'s device.
fn device() -> Keypair {
    key(10)
}

/// A funded account with no part in most leases.
fn stranger() -> Keypair {
    key(20)
}

fn code(r: Result<(), TxError>) -> Result<(), &'static str> {
    r.map_err(|e| e.code())
}

fn register_class(name: &str, unit: &str, lease_ms: u64) -> TxKind {
    TxKind::ClassRegister {
        name: name.into(),
        unit: unit.into(),
        lease_ms,
    }
}

fn cancel(order: OrderId) -> TxKind {
    TxKind::OrderCancel { order }
}

/// `buyer`'s signature over `count` on `lease`, for this network.
fn signed(buyer: &Keypair, lease: LeaseId, count: u64) -> Signature {
    DeliveryCount { lease, count }.sign(buyer, &genesis_hash())
}

fn settle(lease: LeaseId, count: u64, signature: Signature) -> TxKind {
    TxKind::LeaseSettle {
        lease,
        count,
        signature,
    }
}

/// `buyer()` signs `count` on `lease`, to be presented by anyone.
fn settle_signed(lease: LeaseId, count: u64) -> TxKind {
    settle(lease, count, signed(&buyer(), lease, count))
}

fn close(lease: LeaseId) -> TxKind {
    TxKind::LeaseClose { lease, count: None }
}

fn close_with(lease: LeaseId, count: u64, signature: Signature) -> TxKind {
    TxKind::LeaseClose {
        lease,
        count: Some((count, signature)),
    }
}

/// A ledger with `owner()`'s device registered, the device and the
/// stranger funded with [`FUND`], and class [`CLASS`] registered; blocks
/// cut on demand, and every send checked.
struct Fixture {
    genesis: Genesis,
    state: State,
    at: u64,
    pending: Vec<SignedTx>,
    blocks: Vec<Block>,
}

impl Fixture {
    fn new() -> Fixture {
        let genesis = genesis(START);
        let state = State::from_genesis(&genesis, 1);
        let mut f = Fixture {
            genesis,
            state,
            at: T0,
            pending: Vec::new(),
            blocks: Vec::new(),
        };
        let owner = owner();
        f.send(&owner, register(&owner, 0, &device()).body().kind.clone())
            .expect("registers");
        f.fund(&device().account(), FUND);
        f.fund(&stranger().account(), FUND);
        f.send(&issuer(), register_class(CLASS, "msg", LEASE_MS))
            .expect("registers the class");
        f.commit();
        f
    }

    /// Applies `t` at the fixture's time: a refusal must leave the state
    /// byte for byte, money must be conserved and the running sums must
    /// equal a walk.
    fn apply(&mut self, t: SignedTx) -> Result<(), TxError> {
        let before = self.state.digest();
        let result = self.state.apply_tx(&t, Timestamp(self.at));
        match result {
            Ok(()) => self.pending.push(t),
            Err(_) => assert_eq!(self.state.digest(), before, "a refusal changed the state"),
        }
        assert_eq!(self.state.held_sum(), Some(self.state.supply()), "supply");
        let running = (self.state.balance_sum(), self.state.locked_sum());
        assert_eq!(running, self.state.walked_sums(), "running sums");
        result
    }

    /// The transaction `who` sends next with `kind`.
    fn tx_of(&self, who: &Keypair, kind: TxKind) -> SignedTx {
        let nonce = self.state.next_nonce(&who.account()).0;
        tx(who, who.account(), nonce, kind)
    }

    fn send(&mut self, who: &Keypair, kind: TxKind) -> Result<(), TxError> {
        let t = self.tx_of(who, kind);
        self.apply(t)
    }

    /// The issuer sends `amount` to `to`.
    fn fund(&mut self, to: &AccountId, amount: u64) {
        let kind = TxKind::Transfer {
            to: *to,
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        self.send(&issuer(), kind).expect("funds");
    }

    /// Terms on [`CLASS`] that expire a day from now.
    fn terms(&self, side: Side, price: u64, quantity: u64) -> OrderTerms {
        self.terms_until(side, price, quantity, self.at + DAY_MS)
    }

    fn terms_until(&self, side: Side, price: u64, quantity: u64, expires_at: u64) -> OrderTerms {
        OrderTerms {
            class: CLASS.into(),
            side,
            price: Amount::new(price),
            quantity,
            expires_at: Timestamp(expires_at),
        }
    }

    /// `who` places `terms`, which must be accepted; returns the order's id.
    fn place(&mut self, who: &Keypair, terms: OrderTerms) -> OrderId {
        let t = self.tx_of(who, TxKind::OrderPlace { terms });
        let id = t.placed_order().expect("a placement names its order");
        self.apply(t).expect("places");
        id
    }

    fn bid(&mut self, who: &Keypair, price: u64, quantity: u64) -> OrderId {
        let terms = self.terms(Side::Bid, price, quantity);
        self.place(who, terms)
    }

    fn ask(&mut self, who: &Keypair, price: u64, quantity: u64) -> OrderId {
        let terms = self.terms(Side::Ask, price, quantity);
        self.place(who, terms)
    }

    /// What placing `terms` as `who` is refused with.
    fn refused_place(&mut self, who: &Keypair, terms: OrderTerms) -> Result<(), &'static str> {
        code(self.send(who, TxKind::OrderPlace { terms }))
    }

    /// `relay()` asks `quantity` at `price` and `buyer()` takes all of it:
    /// returns the lease.
    fn lease(&mut self, price: u64, quantity: u64) -> LeaseId {
        let ask = self.ask(&relay(), price, quantity);
        let bid = self.bid(&buyer(), price, quantity);
        LeaseId::derive(&bid, &ask)
    }

    /// Seals the applied transactions as the next block and commits it; the
    /// incremental root must be the one rebuilt from scratch, before the
    /// block (`update_root`) and after it.
    fn commit(&mut self) {
        let mut ahead = self.state.clone();
        assert_eq!(ahead.update_root(), self.state.recomputed_root());
        let b = block(&mut self.state, self.at, std::mem::take(&mut self.pending));
        self.state.commit_block(&b.header).expect("block follows");
        assert_eq!(
            self.state.committed_root(),
            self.state.recomputed_root(),
            "incremental state root at height {}",
            self.state.height().0
        );
        self.blocks.push(b);
    }

    /// Commits, then moves the clock to `at`.
    fn wait_until(&mut self, at: u64) {
        self.commit();
        self.at = at;
    }

    fn balance(&self, who: &Keypair) -> u64 {
        self.state
            .account(&who.account())
            .map_or(0, |a| a.balance.base_units())
    }

    fn locked(&self) -> u64 {
        self.state.locked_sum().expect("fits").base_units()
    }

    /// `(remaining, fills)` of a resting order; `None` once it has ended.
    fn resting(&self, id: &OrderId) -> Option<(u64, u16)> {
        self.state.order(id).map(|o| (o.remaining, o.fills))
    }

    fn class(&self) -> ResourceClass {
        self.state.class(CLASS).expect("registered").clone()
    }

    /// Replaying the blocks gives this state, which survives a snapshot.
    fn replays(&mut self) {
        self.commit();
        replays_exactly(&self.genesis, &self.blocks, &self.state).expect("replays");
    }
}

// ---------------------------------------------------------------------------
// Classes.

#[test]
fn the_issuer_registers_a_class_with_nothing_placed_or_traded() {
    let f = Fixture::new();
    let want = ResourceClass::new(CLASS.into(), "msg".into(), LEASE_MS);
    assert_eq!(f.class(), want);
    assert_eq!(f.class().orders_placed, 0);
    assert!(f.state.book(CLASS).is_none(), "no order yet, no book");
    assert_eq!(f.state.classes().count(), 1);
    assert_eq!(f.locked(), 0);
}

#[test]
fn only_an_issuer_registers_a_class() {
    let mut f = Fixture::new();
    for who in [owner(), relay(), device(), stranger()] {
        let refused = f.send(&who, register_class("compute.cpu.s", "cpu_s", 1_000));
        assert_eq!(code(refused), Err("unknown_issuer"));
    }
    assert!(f.state.class("compute.cpu.s").is_none());
    f.send(&issuer(), register_class("compute.cpu.s", "cpu_s", 1_000))
        .expect("the issuer registers it");
    assert_eq!(f.state.classes().count(), 2);
    f.replays();
}

#[test]
fn a_class_name_is_registered_once() {
    let mut f = Fixture::new();
    let again = f.send(&issuer(), register_class(CLASS, "mb", 5));
    assert_eq!(code(again), Err("class_exists"));
    assert_eq!(f.class().unit, "msg", "the first definition stands");
}

#[test]
fn a_class_definition_that_breaks_a_rule_cannot_be_signed_or_decoded() {
    // The rules themselves.
    for (name, unit, lease_ms) in [
        ("Bandwidth", "msg", 1_000),
        ("", "msg", 1_000),
        ("bandwidth..msg", "msg", 1_000),
        ("bandwidth", "", 1_000),
        ("bandwidth", "MSG", 1_000),
        ("bandwidth", "a_unit_of_17_char", 1_000),
        ("bandwidth", "msg", 0),
        ("bandwidth", "msg", LEASE_MS_MAX + 1),
    ] {
        assert!(
            check_definition(name, unit, lease_ms).is_err(),
            "{name:?} {unit:?} {lease_ms}"
        );
    }
    assert!(check_definition("bandwidth", "msg", LEASE_MS_MAX).is_ok());
    assert!(check_definition("bandwidth", "a_unit_of_16_chr", 1).is_ok());
    // A transaction with such a definition never reaches the ledger: the
    // bytes of a good one, changed to break a rule, do not decode.
    let f = Fixture::new();
    let good = f.tx_of(&issuer(), register_class("bandwidth", "msg", 60_000));
    assert!(SignedTx::decode(good.bytes()).is_ok());
    let find = |bytes: &[u8], what: &[u8]| {
        bytes
            .windows(what.len())
            .position(|w| w == what)
            .expect("in the bytes")
    };
    let mut zero_lease = good.bytes().to_vec();
    let at = find(&zero_lease, &60_000u64.to_le_bytes());
    zero_lease[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    assert!(SignedTx::decode(&zero_lease).is_err());
    let mut upper = good.bytes().to_vec();
    let at = find(&upper, b"bandwidth");
    upper[at] = b'B';
    assert!(SignedTx::decode(&upper).is_err());
}

#[test]
fn an_order_names_a_registered_class_and_an_expiry_within_thirty_days() {
    let mut f = Fixture::new();
    let unknown = OrderTerms {
        class: "compute.gpu.s".into(),
        ..f.terms(Side::Bid, 5, 1)
    };
    assert_eq!(f.refused_place(&buyer(), unknown), Err("unknown_class"));
    for expires_at in [f.at - 1, f.at, f.at + ORDER_EXPIRY_MAX_MS + 1] {
        let terms = f.terms_until(Side::Ask, 5, 1, expires_at);
        assert_eq!(
            f.refused_place(&relay(), terms),
            Err("bad_expiry"),
            "expiry {expires_at}"
        );
    }
    let furthest = f.terms_until(Side::Ask, 5, 1, f.at + ORDER_EXPIRY_MAX_MS);
    f.place(&relay(), furthest);
    let soonest = f.terms_until(Side::Ask, 5, 1, f.at + 1);
    f.place(&relay(), soonest);
    // Terms that break a rule of their own cannot be signed at all.
    for (price, quantity) in [(0, 1), (1, 0), (u64::MAX, 2)] {
        assert!(f.terms(Side::Bid, price, quantity).check().is_err());
    }
    f.replays();
}

// ---------------------------------------------------------------------------
// Placing and matching.

#[test]
fn a_bid_locks_its_price_and_the_deposit_and_an_ask_only_the_deposit() {
    let mut f = Fixture::new();
    let (b0, r0) = (f.balance(&buyer()), f.balance(&relay()));
    let bid = f.bid(&buyer(), 7, 30);
    assert_eq!(f.balance(&buyer()), b0 - 7 * 30 - DEP);
    assert_eq!(f.locked(), 7 * 30 + DEP);
    let ask = f.ask(&relay(), 9, 1_000_000);
    assert_eq!(f.balance(&relay()), r0 - DEP);
    assert_eq!(f.locked(), 7 * 30 + 2 * DEP);
    let b = f.state.order(&bid).expect("rests");
    assert_eq!(
        (b.owner, b.seq, b.placed_at, b.remaining, b.fills, b.deposit),
        (
            buyer().account(),
            0,
            Timestamp(f.at),
            30,
            0,
            Amount::new(DEP)
        )
    );
    assert_eq!(b.terms, f.terms(Side::Bid, 7, 30));
    assert_eq!(f.state.order(&ask).map(|o| o.seq), Some(1));
    assert_eq!(f.state.open_order_count(&buyer().account()), 1);
    assert_eq!(f.state.book(CLASS).map(|b| b.len()), Some(2));
    assert_eq!(f.class().orders_placed, 2);
    assert_eq!(f.class().traded, 0);
    // Not enough for the price and the deposit: refused.
    let poor = Keypair::from_seed([0x71; 32]);
    f.fund(&poor.account(), DEP + 7 * 30 - 1);
    let terms = f.terms(Side::Bid, 7, 30);
    assert_eq!(f.refused_place(&poor, terms), Err("insufficient_funds"));
    f.bid(&poor, 7, 29);
    f.replays();
}

#[test]
fn a_bid_fills_the_lowest_ask_first_and_among_equal_prices_the_oldest() {
    let mut f = Fixture::new();
    let a5 = f.ask(&relay(), 5, 10);
    let a4_old = f.ask(&stranger(), 4, 10);
    let a4_new = f.ask(&relay(), 4, 10);
    let a6 = f.ask(&device(), 6, 10);
    let b0 = f.balance(&buyer());
    let (s0, r0) = (f.balance(&stranger()), f.balance(&relay()));
    let bid = f.bid(&buyer(), 5, 25);
    // 10 at 4 from the older ask, 10 at 4 from the newer, 5 at 5; the ask
    // at 6 does not cross.
    let leases = [
        (LeaseId::derive(&bid, &a4_old), stranger(), 4, 10),
        (LeaseId::derive(&bid, &a4_new), relay(), 4, 10),
        (LeaseId::derive(&bid, &a5), relay(), 5, 5),
    ];
    for (id, provider, price, quantity) in &leases {
        let want = Lease {
            buyer: buyer().account(),
            provider: provider.account(),
            price: Amount::new(*price),
            quantity: *quantity,
            delivered: 0,
            started_at: Timestamp(f.at),
            ends_at: Timestamp(f.at + LEASE_MS),
            class: CLASS.into(),
        };
        assert_eq!(f.state.lease(id), Some(&want));
    }
    assert_eq!(f.state.leases().count(), 3);
    assert_eq!(f.state.open_lease_count(&buyer().account()), 3);
    // The buyer pays the makers' prices: 105, not 125.
    assert_eq!(f.balance(&buyer()), b0 - (4 * 10 + 4 * 10 + 5 * 5));
    assert!(f.state.order(&bid).is_none(), "filled in full");
    assert_eq!(f.resting(&a4_old), None);
    assert_eq!(f.resting(&a4_new), None);
    assert_eq!(f.resting(&a5), Some((5, 1)));
    assert_eq!(f.resting(&a6), Some((10, 0)));
    // Used-up asks give their deposits back; nothing is paid yet.
    assert_eq!(f.balance(&stranger()), s0 + DEP);
    assert_eq!(f.balance(&relay()), r0 + DEP);
    assert_eq!(f.locked(), 105 + 2 * DEP);
    let trades: Vec<(u64, u64, Side)> = f
        .state
        .trades(CLASS)
        .map(|t| (t.price.base_units(), t.units, t.taker))
        .collect();
    assert_eq!(
        trades,
        vec![(4, 10, Side::Bid), (4, 10, Side::Bid), (5, 5, Side::Bid)]
    );
    let class = f.class();
    assert_eq!(
        (
            class.orders_placed,
            class.traded,
            class.last_price,
            class.last_trade_at
        ),
        (5, 25, Amount::new(5), Timestamp(f.at))
    );
    f.replays();
}

#[test]
fn a_taking_bid_pays_the_makers_price_and_gets_the_difference_back_at_once() {
    let mut f = Fixture::new();
    let ask = f.ask(&relay(), 3, 10);
    let b0 = f.balance(&buyer());
    let t = f.tx_of(
        &buyer(),
        TxKind::OrderPlace {
            terms: f.terms(Side::Bid, 8, 10),
        },
    );
    let bid = t.placed_order().expect("an order");
    f.apply(t).expect("fills");
    // It locked 8 * 10 + the deposit, got (8 - 3) * 10 and the deposit back.
    assert_eq!(f.balance(&buyer()), b0 - 30);
    let lease = f.state.lease(&LeaseId::derive(&bid, &ask)).expect("open");
    assert_eq!((lease.price, lease.quantity), (Amount::new(3), 10));
    assert_eq!(f.locked(), 30);
}

#[test]
fn a_taking_ask_sells_at_the_resting_bids_price() {
    let mut f = Fixture::new();
    let b7 = f.bid(&buyer(), 7, 10);
    let b6 = f.bid(&stranger(), 6, 10);
    let b6_late = f.bid(&device(), 6, 10);
    let r0 = f.balance(&relay());
    let (b0, s0) = (f.balance(&buyer()), f.balance(&stranger()));
    let ask = f.ask(&relay(), 5, 15);
    let l7 = f.state.lease(&LeaseId::derive(&b7, &ask)).expect("open");
    assert_eq!(
        (l7.buyer, l7.provider, l7.price, l7.quantity),
        (buyer().account(), relay().account(), Amount::new(7), 10)
    );
    let l6 = f.state.lease(&LeaseId::derive(&b6, &ask)).expect("open");
    assert_eq!((l6.price, l6.quantity), (Amount::new(6), 5));
    assert!(f.state.lease(&LeaseId::derive(&b6_late, &ask)).is_none());
    // The ask put down only its deposit and, filled in full, got it back.
    assert_eq!(f.balance(&relay()), r0);
    assert!(f.state.order(&ask).is_none());
    // The used-up bid returns its deposit; the partly filled one keeps
    // locking the price of what remains.
    assert_eq!(f.balance(&buyer()), b0 + DEP);
    assert_eq!(f.balance(&stranger()), s0);
    assert_eq!(f.resting(&b6), Some((5, 1)));
    assert_eq!(f.resting(&b6_late), Some((10, 0)));
    assert_eq!(f.locked(), 70 + 30 + (6 * 5 + DEP) + (6 * 10 + DEP));
    let trades: Vec<Side> = f.state.trades(CLASS).map(|t| t.taker).collect();
    assert_eq!(trades, vec![Side::Ask, Side::Ask]);
    assert_eq!(f.class().last_price, Amount::new(6));
    f.replays();
}

#[test]
fn a_partly_filled_placement_rests_with_the_next_sequence_number() {
    let mut f = Fixture::new();
    let ask = f.ask(&relay(), 5, 10);
    let small = f.bid(&buyer(), 5, 4);
    assert!(f.state.order(&small).is_none());
    assert_eq!(f.resting(&ask), Some((6, 1)));
    let b0 = f.balance(&buyer());
    let big = f.bid(&buyer(), 6, 10);
    assert_eq!(f.resting(&ask), None);
    let rested = f.state.order(&big).expect("the rest rests");
    assert_eq!(
        (rested.seq, rested.remaining, rested.fills),
        (2, 4, 1),
        "placed third, took one fill"
    );
    assert_eq!(rested.locked(), Some(Amount::new(6 * 4 + DEP)));
    // 6 units at 5, and the price of the resting 4 at 6 with the deposit.
    assert_eq!(f.balance(&buyer()), b0 - 6 * 5 - 6 * 4 - DEP);
    assert_eq!(f.state.leases().count(), 2);
    assert_eq!(f.locked(), 4 * 5 + 6 * 5 + 6 * 4 + DEP);
    // A crossing ask now meets the resting bid at its price.
    let second = f.ask(&stranger(), 1, 4);
    let lease = f
        .state
        .lease(&LeaseId::derive(&big, &second))
        .expect("open");
    assert_eq!(lease.price, Amount::new(6));
    assert_eq!(
        f.state.book(CLASS).map(|b| b.len()),
        None,
        "an empty book leaves the state"
    );
    f.replays();
}

#[test]
fn an_expired_resting_order_met_by_a_walk_is_taken_out_and_its_lock_returned() {
    let mut f = Fixture::new();
    let soon = f.at + 1_000;
    let terms = f.terms_until(Side::Ask, 3, 5, soon);
    let expiring = f.place(&relay(), terms);
    let far = f.ask(&stranger(), 4, 5);
    let terms = f.terms_until(Side::Ask, 9, 5, soon);
    let unreached = f.place(&relay(), terms);
    f.wait_until(soon - 1);
    // Until its expiry it fills.
    let first = f.bid(&buyer(), 3, 1);
    assert!(f.state.lease(&LeaseId::derive(&first, &expiring)).is_some());
    f.wait_until(soon);
    let r0 = f.balance(&relay());
    let bid = f.bid(&buyer(), 4, 5);
    assert_eq!(f.resting(&expiring), None);
    assert_eq!(f.balance(&relay()), r0 + DEP, "the expired ask's deposit");
    assert!(f.state.lease(&LeaseId::derive(&bid, &expiring)).is_none());
    assert!(f.state.lease(&LeaseId::derive(&bid, &far)).is_some());
    // An expired order no walk reaches stays until someone cancels it.
    assert_eq!(f.resting(&unreached), Some((5, 0)));
    assert_eq!(f.state.open_order_count(&relay().account()), 1);
    f.send(&stranger(), cancel(unreached))
        .expect("anyone ends an expired order");
    assert_eq!(f.balance(&relay()), r0 + 2 * DEP);
    assert_eq!(f.state.open_order_count(&relay().account()), 0);
    f.replays();
}

#[test]
fn a_placement_that_meets_its_own_resting_order_cancels_it() {
    let mut f = Fixture::new();
    let own = f.ask(&relay(), 4, 5);
    let other = f.ask(&stranger(), 5, 5);
    let r0 = f.balance(&relay());
    let bid = f.bid(&relay(), 5, 8);
    assert_eq!(f.resting(&own), None, "an account never trades with itself");
    assert!(f.state.lease(&LeaseId::derive(&bid, &own)).is_none());
    let lease = f.state.lease(&LeaseId::derive(&bid, &other)).expect("open");
    assert_eq!(
        (lease.buyer, lease.provider, lease.quantity),
        (relay().account(), stranger().account(), 5)
    );
    // The own ask's deposit back; 5 units at 5 paid and 3 resting at 5.
    assert_eq!(f.balance(&relay()), r0 + DEP - 25 - (15 + DEP));
    assert_eq!(f.resting(&bid), Some((3, 1)));
    assert_eq!(f.state.open_order_count(&relay().account()), 1);
    // A device and its owner are two accounts: they trade.
    let d = f.ask(&device(), 6, 1);
    let o = f.bid(&owner(), 6, 1);
    assert!(f.state.lease(&LeaseId::derive(&o, &d)).is_some());
    f.replays();
}

#[test]
fn a_placement_takes_at_most_the_fills_cap_and_the_rest_goes_back() {
    let mut f = Fixture::new();
    let n = usize::from(ORDER_FILLS_MAX) + 1;
    let asks: Vec<OrderId> = (0..n).map(|_| f.ask(&relay(), 5, 1)).collect();
    let b0 = f.balance(&buyer());
    let bid = f.bid(&buyer(), 5, 20);
    assert!(f.state.order(&bid).is_none(), "the rest does not rest");
    assert_eq!(f.state.open_lease_count(&buyer().account()), n - 1);
    assert_eq!(f.balance(&buyer()), b0 - 5 * (n as u64 - 1));
    for ask in &asks[..n - 1] {
        assert_eq!(f.resting(ask), None);
    }
    assert_eq!(f.resting(&asks[n - 1]), Some((1, 0)));
    assert_eq!(f.class().traded, n as u64 - 1);
    // One fill short of the cap and the rest rests.
    let bid = f.bid(&buyer(), 5, 3);
    assert_eq!(f.resting(&bid), Some((2, 1)));
    f.replays();
}

#[test]
fn a_resting_order_ends_at_its_last_allowed_fill() {
    let mut f = Fixture::new();
    let cap = u64::from(ORDER_FILLS_MAX);
    let ask = f.ask(&relay(), 5, cap + 4);
    let r0 = f.balance(&relay());
    for _ in 0..cap - 1 {
        f.bid(&buyer(), 5, 1);
    }
    assert_eq!(f.resting(&ask), Some((5, ORDER_FILLS_MAX - 1)));
    let last = f.bid(&buyer(), 5, 1);
    assert_eq!(f.resting(&ask), None, "its last fill ends it");
    assert!(f.state.lease(&LeaseId::derive(&last, &ask)).is_some());
    assert_eq!(f.balance(&relay()), r0 + DEP);
    // A bid that took fills when placed counts them while it rests.
    for _ in 0..3 {
        f.ask(&stranger(), 5, 1);
    }
    let bid = f.bid(&buyer(), 5, 3 + cap);
    assert_eq!(f.resting(&bid), Some((cap, 3)));
    for _ in 0..cap - 4 {
        f.ask(&relay(), 5, 1);
    }
    assert_eq!(f.resting(&bid), Some((4, ORDER_FILLS_MAX - 1)));
    let b0 = f.balance(&buyer());
    f.ask(&relay(), 5, 1);
    assert_eq!(f.resting(&bid), None);
    assert_eq!(f.balance(&buyer()), b0 + 3 * 5 + DEP, "the unfilled 3 back");
    f.replays();
}

/// `n` asks of one unit at `price` expiring at `soon`, half from the relay
/// and half from the stranger.
fn expiring_asks(f: &mut Fixture, n: usize, price: u64, soon: u64) -> Vec<OrderId> {
    (0..n)
        .map(|i| {
            let who = if i % 2 == 0 { relay() } else { stranger() };
            let terms = f.terms_until(Side::Ask, price, 1, soon);
            f.place(&who, terms)
        })
        .collect()
}

#[test]
fn a_walk_stops_after_the_step_cap_and_the_rest_goes_back_while_the_book_crosses() {
    let mut f = Fixture::new();
    let soon = f.at + 1_000;
    let expired = expiring_asks(&mut f, ORDER_MATCH_STEPS_MAX, 3, soon);
    let live = f.ask(&device(), 4, 1);
    f.wait_until(soon);
    let (b0, r0, s0) = (
        f.balance(&buyer()),
        f.balance(&relay()),
        f.balance(&stranger()),
    );
    let bid = f.bid(&buyer(), 4, 5);
    // Every step took out an expired ask; the live one still crosses, so
    // the bid goes back whole rather than rest on a crossed book.
    assert!(f.state.order(&bid).is_none());
    assert_eq!(f.balance(&buyer()), b0);
    for id in &expired {
        assert_eq!(f.resting(id), None);
    }
    let half = ORDER_MATCH_STEPS_MAX as u64 / 2;
    assert_eq!(f.balance(&relay()), r0 + half * DEP);
    assert_eq!(f.balance(&stranger()), s0 + half * DEP);
    assert_eq!(f.resting(&live), Some((1, 0)));
    assert_eq!(f.state.leases().count(), 0);
    // The next placement reaches it.
    let bid = f.bid(&buyer(), 4, 5);
    assert!(f.state.lease(&LeaseId::derive(&bid, &live)).is_some());
    assert_eq!(f.resting(&bid), Some((4, 1)));
    f.replays();
}

#[test]
fn a_walk_of_the_most_steps_with_nothing_more_crossing_rests() {
    let mut f = Fixture::new();
    let soon = f.at + 1_000;
    expiring_asks(&mut f, ORDER_MATCH_STEPS_MAX, 3, soon);
    let above = f.ask(&device(), 5, 1);
    f.wait_until(soon);
    let bid = f.bid(&buyer(), 4, 5);
    assert_eq!(f.resting(&bid), Some((5, 0)));
    assert_eq!(f.resting(&above), Some((1, 0)));
    assert_eq!(f.state.open_order_count(&relay().account()), 0);
    f.replays();
}

#[test]
fn an_account_has_at_most_the_most_resting_orders() {
    let mut f = Fixture::new();
    let ids: Vec<OrderId> = (0..ORDERS_OPEN_PER_ACCOUNT_MAX)
        .map(|_| f.ask(&relay(), 9, 1))
        .collect();
    assert_eq!(
        f.state.open_order_count(&relay().account()),
        ORDERS_OPEN_PER_ACCOUNT_MAX
    );
    for side in [Side::Ask, Side::Bid] {
        let terms = f.terms(side, 1, 1);
        assert_eq!(f.refused_place(&relay(), terms), Err("too_many_orders"));
    }
    // Others are not held back, and an order that ends makes room.
    f.bid(&buyer(), 9, 1);
    assert_eq!(
        f.state.open_order_count(&relay().account()),
        ORDERS_OPEN_PER_ACCOUNT_MAX - 1
    );
    f.ask(&relay(), 9, 1);
    assert_eq!(
        f.refused_place(&relay(), f.terms(Side::Ask, 9, 1)),
        Err("too_many_orders")
    );
    f.send(&relay(), cancel(ids[5])).expect("cancels");
    f.ask(&relay(), 9, 1);
    f.replays();
}

#[test]
fn a_buyer_with_the_most_open_leases_may_not_bid_until_one_ends() {
    let mut f = Fixture::new();
    let per = usize::from(ORDER_FILLS_MAX);
    let mut leases = Vec::new();
    while leases.len() < LEASES_OPEN_PER_BUYER_MAX {
        let asks: Vec<OrderId> = (0..per).map(|_| f.ask(&relay(), 5, 1)).collect();
        let bid = f.bid(&buyer(), 5, per as u64);
        leases.extend(asks.iter().map(|a| LeaseId::derive(&bid, a)));
        f.commit();
    }
    assert_eq!(
        f.state.open_lease_count(&buyer().account()),
        LEASES_OPEN_PER_BUYER_MAX
    );
    let terms = f.terms(Side::Bid, 1, 1);
    assert_eq!(f.refused_place(&buyer(), terms), Err("too_many_leases"));
    // An ask is no purchase: it is not held back.
    f.ask(&buyer(), 9, 1);
    // A lease counted in full ends, and so makes room.
    f.send(&relay(), settle_signed(leases[0], 1))
        .expect("settles in full");
    assert!(f.state.lease(&leases[0]).is_none());
    f.ask(&relay(), 5, 1);
    f.bid(&buyer(), 5, 1);
    assert_eq!(
        f.state.open_lease_count(&buyer().account()),
        LEASES_OPEN_PER_BUYER_MAX
    );
    // A close makes room too.
    f.ask(&relay(), 5, 1);
    assert_eq!(
        f.refused_place(&buyer(), f.terms(Side::Bid, 5, 1)),
        Err("too_many_leases")
    );
    f.send(&relay(), close(leases[1]))
        .expect("the provider closes");
    f.bid(&buyer(), 5, 1);
    f.replays();
}

#[test]
fn a_frozen_device_cannot_place_but_may_cancel_settle_and_close() {
    let mut f = Fixture::new();
    let (d, o) = (device(), owner());
    // The device buys from the relay and sells to the buyer.
    let ask = f.ask(&relay(), 5, 10);
    let bid = f.bid(&d, 5, 10);
    let bought = LeaseId::derive(&bid, &ask);
    let sold_ask = f.ask(&d, 7, 4);
    let sold_bid = f.bid(&buyer(), 7, 4);
    let sold = LeaseId::derive(&sold_bid, &sold_ask);
    let resting = f.ask(&d, 9, 1);
    f.send(
        &o,
        TxKind::Freeze {
            device: d.account(),
        },
    )
    .expect("freezes");
    for side in [Side::Ask, Side::Bid] {
        let terms = f.terms(side, 8, 1);
        assert_eq!(f.refused_place(&d, terms), Err("frozen"));
    }
    let d0 = f.balance(&d);
    f.send(&d, cancel(resting)).expect("cancels");
    assert_eq!(f.balance(&d), d0 + DEP);
    // As buyer it signs and presents its own count.
    let r0 = f.balance(&relay());
    f.send(&d, settle(bought, 3, signed(&d, bought, 3)))
        .expect("settles");
    assert_eq!(f.balance(&relay()), r0 + 15);
    // As provider it closes with the buyer's last count.
    let count = signed(&buyer(), sold, 4);
    f.send(&d, close_with(sold, 4, count)).expect("closes");
    assert_eq!(f.balance(&d), d0 + DEP + 28);
    assert_eq!(f.state.leases().count(), 1);
    f.replays();
}

// ---------------------------------------------------------------------------
// Cancelling.

#[test]
fn the_owner_cancels_a_resting_order_and_gets_its_lock_back() {
    let mut f = Fixture::new();
    let b0 = f.balance(&buyer());
    let bid = f.bid(&buyer(), 6, 20);
    let ask = f.ask(&relay(), 7, 20);
    f.bid(&stranger(), 7, 5);
    assert_eq!(f.resting(&ask), Some((15, 1)));
    f.send(&buyer(), cancel(bid)).expect("cancels");
    assert_eq!(f.balance(&buyer()), b0);
    assert!(f.state.order(&bid).is_none());
    let r0 = f.balance(&relay());
    f.send(&relay(), cancel(ask))
        .expect("cancels a partly filled ask");
    assert_eq!(f.balance(&relay()), r0 + DEP);
    assert_eq!(
        f.state.book(CLASS).map(|b| b.len()),
        None,
        "an empty book leaves the state"
    );
    assert_eq!(f.locked(), 35, "only the lease");
    assert_eq!(code(f.send(&buyer(), cancel(bid))), Err("unknown_order"));
    let never = OrderId(Hash32::digest(&[b"no such order"]));
    assert_eq!(code(f.send(&buyer(), cancel(never))), Err("unknown_order"));
    f.replays();
}

#[test]
fn the_devices_owner_cancels_its_order_and_the_lock_goes_to_the_device() {
    let mut f = Fixture::new();
    let d0 = f.balance(&device());
    let bid = f.bid(&device(), 3, 10);
    let o0 = f.balance(&owner());
    f.send(&owner(), cancel(bid)).expect("the owner cancels");
    assert_eq!(f.balance(&device()), d0);
    assert_eq!(f.balance(&owner()), o0);
    // The device may not cancel its owner's order.
    let own = f.ask(&owner(), 9, 1);
    assert_eq!(code(f.send(&device(), cancel(own))), Err("not_order_owner"));
    f.replays();
}

#[test]
fn a_stranger_cancels_an_order_only_once_it_has_expired() {
    let mut f = Fixture::new();
    let expires = f.at + 5_000;
    let terms = f.terms_until(Side::Bid, 4, 10, expires);
    let bid = f.place(&buyer(), terms);
    for who in [stranger(), relay(), device(), owner()] {
        let refused = f.send(&who, cancel(bid));
        assert_eq!(code(refused), Err("not_order_owner"));
    }
    f.wait_until(expires - 1);
    assert_eq!(
        code(f.send(&stranger(), cancel(bid))),
        Err("not_order_owner")
    );
    f.wait_until(expires);
    let (b0, s0) = (f.balance(&buyer()), f.balance(&stranger()));
    f.send(&stranger(), cancel(bid))
        .expect("anyone, once expired");
    assert_eq!(f.balance(&buyer()), b0 + 40 + DEP);
    assert_eq!(f.balance(&stranger()), s0);
    assert_eq!(f.locked(), 0);
    f.replays();
}

// ---------------------------------------------------------------------------
// Leases.

#[test]
fn a_signed_count_pays_the_provider_for_the_units_above_the_last_whoever_sends_it() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    assert_eq!(f.locked(), 50);
    let (r0, s0) = (f.balance(&relay()), f.balance(&stranger()));
    f.send(&stranger(), settle_signed(lease, 3))
        .expect("anyone presents a count");
    assert_eq!(f.balance(&relay()), r0 + 15);
    assert_eq!(f.balance(&stranger()), s0);
    assert_eq!(f.state.lease(&lease).map(|l| l.delivered), Some(3));
    assert_eq!(f.locked(), 35);
    f.send(&relay(), settle_signed(lease, 9)).expect("settles");
    assert_eq!(f.balance(&relay()), r0 + 45);
    f.commit();
    // The last unit counted ends the lease.
    f.send(&buyer(), settle_signed(lease, 10)).expect("settles");
    assert!(f.state.lease(&lease).is_none());
    assert_eq!(f.state.open_lease_count(&buyer().account()), 0);
    assert_eq!(f.balance(&relay()), r0 + 50);
    assert_eq!(f.locked(), 0);
    assert_eq!(
        code(f.send(&relay(), settle_signed(lease, 10))),
        Err("unknown_lease")
    );
    f.replays();
}

#[test]
fn a_count_not_above_the_last_is_stale() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    assert_eq!(
        code(f.send(&relay(), settle_signed(lease, 0))),
        Err("stale_count")
    );
    f.send(&relay(), settle_signed(lease, 4)).expect("settles");
    for count in [4, 3, 1] {
        let refused = f.send(&relay(), settle_signed(lease, count));
        assert_eq!(code(refused), Err("stale_count"), "count {count}");
    }
    let refused = f.send(&relay(), close_with(lease, 4, signed(&buyer(), lease, 4)));
    assert_eq!(code(refused), Err("stale_count"));
}

#[test]
fn a_count_over_the_quantity_is_refused() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    for count in [11, u64::MAX] {
        let refused = f.send(&relay(), settle_signed(lease, count));
        assert_eq!(code(refused), Err("count_over_quantity"));
        let refused = f.send(
            &relay(),
            close_with(lease, count, signed(&buyer(), lease, count)),
        );
        assert_eq!(code(refused), Err("count_over_quantity"));
    }
    assert_eq!(f.state.lease(&lease).map(|l| l.delivered), Some(0));
}

#[test]
fn a_count_is_signed_by_the_buyer_for_this_lease_on_this_network() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    let other = f.lease(5, 10);
    let other_network = Hash32::digest(&[b"another network"]);
    let bad = [
        signed(&relay(), lease, 3),
        signed(&stranger(), lease, 3),
        signed(&buyer(), other, 3),
        signed(&buyer(), lease, 4),
        DeliveryCount { lease, count: 3 }.sign(&buyer(), &other_network),
        Signature([0; 64]),
    ];
    for signature in bad {
        let refused = f.send(&relay(), settle(lease, 3, signature));
        assert_eq!(code(refused), Err("bad_count_signature"));
        let refused = f.send(&relay(), close_with(lease, 3, signature));
        assert_eq!(code(refused), Err("bad_count_signature"));
    }
    assert_eq!(f.state.lease(&lease).map(|l| l.delivered), Some(0));
    f.send(&relay(), settle_signed(lease, 3))
        .expect("the good one");
}

#[test]
fn a_count_lands_until_the_grace_after_the_lease_ends_and_no_later() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    let ends_at = f.at + LEASE_MS;
    assert_eq!(
        f.state.lease(&lease).map(|l| l.ends_at),
        Some(Timestamp(ends_at))
    );
    f.wait_until(ends_at + LEASE_GRACE_MS);
    f.send(&relay(), settle_signed(lease, 4))
        .expect("at the end of the grace");
    f.wait_until(ends_at + LEASE_GRACE_MS + 1);
    let refused = f.send(&relay(), settle_signed(lease, 6));
    assert_eq!(code(refused), Err("count_too_late"));
    let refused = f.send(&relay(), close_with(lease, 6, signed(&buyer(), lease, 6)));
    assert_eq!(code(refused), Err("count_too_late"));
    let (r0, b0) = (f.balance(&relay()), f.balance(&buyer()));
    f.send(&relay(), close(lease)).expect("closes without it");
    assert_eq!(f.balance(&relay()), r0);
    assert_eq!(f.balance(&buyer()), b0 + 30);
    f.replays();
}

#[test]
fn the_provider_closes_at_any_time_and_the_rest_goes_back_to_the_buyer() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    f.send(&relay(), settle_signed(lease, 2)).expect("settles");
    let (r0, b0) = (f.balance(&relay()), f.balance(&buyer()));
    f.send(&relay(), close(lease))
        .expect("the provider closes early");
    assert_eq!(f.balance(&relay()), r0);
    assert_eq!(f.balance(&buyer()), b0 + 40);
    assert!(f.state.lease(&lease).is_none());
    assert_eq!(f.state.open_lease_count(&buyer().account()), 0);
    assert_eq!(f.locked(), 0);
    assert_eq!(code(f.send(&relay(), close(lease))), Err("unknown_lease"));
    f.replays();
}

#[test]
fn the_providers_owner_closes_the_devices_lease() {
    let mut f = Fixture::new();
    let ask = f.ask(&device(), 4, 10);
    let bid = f.bid(&buyer(), 4, 10);
    let lease = LeaseId::derive(&bid, &ask);
    let (d0, o0) = (f.balance(&device()), f.balance(&owner()));
    let b0 = f.balance(&buyer());
    f.send(&owner(), close_with(lease, 6, signed(&buyer(), lease, 6)))
        .expect("the owner closes");
    assert_eq!(f.balance(&device()), d0 + 24);
    assert_eq!(f.balance(&owner()), o0);
    assert_eq!(f.balance(&buyer()), b0 + 16);
    f.replays();
}

#[test]
fn anyone_else_closes_only_after_the_lease_ends_and_its_grace() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    let from = f.at + LEASE_MS + LEASE_GRACE_MS;
    for at in [f.at, f.at + LEASE_MS, from] {
        f.wait_until(at);
        for who in [stranger(), buyer(), device(), owner()] {
            let refused = f.send(&who, close(lease));
            assert_eq!(code(refused), Err("too_early_to_close_lease"), "at {at}");
        }
    }
    f.wait_until(from + 1);
    let (r0, b0, s0) = (
        f.balance(&relay()),
        f.balance(&buyer()),
        f.balance(&stranger()),
    );
    f.send(&stranger(), close(lease))
        .expect("anyone, after the grace");
    assert_eq!(f.balance(&buyer()), b0 + 50);
    assert_eq!((f.balance(&relay()), f.balance(&stranger())), (r0, s0));
    f.replays();
}

#[test]
fn a_close_with_a_final_count_pays_it_before_the_rest_goes_back() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    f.send(&relay(), settle_signed(lease, 3)).expect("settles");
    let (r0, b0) = (f.balance(&relay()), f.balance(&buyer()));
    f.send(&relay(), close_with(lease, 7, signed(&buyer(), lease, 7)))
        .expect("closes with a count");
    assert_eq!(f.balance(&relay()), r0 + 20);
    assert_eq!(f.balance(&buyer()), b0 + 15);
    // A close with the whole quantity gives nothing back.
    let full = f.lease(2, 4);
    let b0 = f.balance(&buyer());
    f.send(&relay(), close_with(full, 4, signed(&buyer(), full, 4)))
        .expect("closes");
    assert_eq!(f.balance(&buyer()), b0);
    assert_eq!(f.locked(), 0);
    f.replays();
}

#[test]
fn a_relay_that_stops_delivering_stops_being_paid() {
    let mut f = Fixture::new();
    let price = 7;
    let lease = f.lease(price, 100);
    let (r0, b0) = (f.balance(&relay()), f.balance(&buyer()));
    // The buyer signs as messages arrive; the relay presents each count.
    for count in [10, 20, 30, 40] {
        f.wait_until(f.at + 1_000);
        f.send(&relay(), settle_signed(lease, count))
            .expect("settles");
    }
    assert_eq!(f.balance(&relay()), r0 + 40 * price);
    assert_eq!(f.locked(), 60 * price);
    // Then the relay stops delivering, and so the buyer stops signing: no
    // count above 40 exists, and none the relay makes up will do.
    let made_up = f.send(&relay(), settle(lease, 100, signed(&relay(), lease, 100)));
    assert_eq!(code(made_up), Err("bad_count_signature"));
    let ends_at = f.state.lease(&lease).expect("open").ends_at.0;
    f.wait_until(ends_at + LEASE_GRACE_MS + 1);
    f.send(&stranger(), close(lease))
        .expect("anyone closes the lapsed lease");
    assert_eq!(
        f.balance(&relay()),
        r0 + 40 * price,
        "paid exactly 40 units"
    );
    assert_eq!(f.balance(&buyer()), b0 + 60 * price, "the 60 back");
    assert_eq!(f.locked(), 0);
    assert_eq!(f.state.open_lease_count(&buyer().account()), 0);
    f.replays();
}

#[test]
fn a_buyer_that_refuses_to_sign_pays_only_up_to_its_last_signed_count() {
    let mut f = Fixture::new();
    let price = 3;
    let lease = f.lease(price, 100);
    let r0 = f.balance(&relay());
    // The relay delivers all 100 but the buyer signs only 25.
    let last = signed(&buyer(), lease, 25);
    f.send(&relay(), settle(lease, 25, last)).expect("settles");
    let forgeries = [
        signed(&relay(), lease, 100),
        signed(&stranger(), lease, 100),
        signed(&owner(), lease, 100),
        last,
    ];
    for signature in forgeries {
        let refused = f.send(&relay(), settle(lease, 100, signature));
        assert_eq!(code(refused), Err("bad_count_signature"));
    }
    let refused = f.send(&relay(), settle(lease, 25, last));
    assert_eq!(code(refused), Err("stale_count"));
    let refused = f.send(
        &relay(),
        close_with(lease, 100, signed(&relay(), lease, 100)),
    );
    assert_eq!(code(refused), Err("bad_count_signature"));
    assert_eq!(f.balance(&relay()), r0 + 25 * price);
    // Closing, the relay can only cut its losses: 25 units is all it gets.
    let b0 = f.balance(&buyer());
    f.send(&relay(), close(lease)).expect("closes");
    assert_eq!(f.balance(&relay()), r0 + 25 * price);
    assert_eq!(f.balance(&buyer()), b0 + 75 * price);
    f.replays();
}

// ---------------------------------------------------------------------------
// State.

#[test]
fn a_snapshot_with_classes_orders_and_leases_round_trips_and_goes_on_alike() {
    let mut f = Fixture::new();
    f.send(&issuer(), register_class("compute.cpu.s", "cpu_s", 5_000))
        .expect("registers");
    let lease = f.lease(5, 10);
    f.send(&relay(), settle_signed(lease, 4)).expect("settles");
    let a6 = f.ask(&relay(), 6, 10);
    let a6_late = f.ask(&stranger(), 6, 3);
    let b4 = f.bid(&buyer(), 4, 10);
    f.bid(&device(), 4, 2);
    f.bid(&buyer(), 6, 2);
    assert_eq!(f.resting(&a6), Some((8, 1)));
    f.commit();
    let tip = f.state.tip_header().expect("committed").clone();
    let mut restored = State::decode(&f.state.encode(), 77).expect("the snapshot decodes");
    restored.adopt_tip_header(&tip).expect("at the tip");
    restored
        .end_replay()
        .expect("the rebuilt map has the tip's root");
    assert_eq!(restored.digest(), f.state.digest());
    assert_eq!(restored.committed_root(), f.state.committed_root());
    assert_eq!(
        (restored.balance_sum(), restored.locked_sum()),
        (f.state.balance_sum(), f.state.locked_sum())
    );
    assert_eq!(restored.walked_sums(), f.state.walked_sums());
    for (id, o) in f.state.orders() {
        assert_eq!(restored.order(id), Some(o));
        assert_eq!(
            restored.open_order_count(&o.owner),
            f.state.open_order_count(&o.owner)
        );
    }
    for (id, l) in f.state.leases() {
        assert_eq!(restored.lease(id), Some(l));
        assert_eq!(
            restored.open_lease_count(&l.buyer),
            f.state.open_lease_count(&l.buyer)
        );
    }
    assert_eq!(
        restored.book(CLASS),
        f.state.book(CLASS),
        "the book rebuilt"
    );
    assert_eq!(
        restored.class("compute.cpu.s"),
        f.state.class("compute.cpu.s")
    );
    // The restored state walks its rebuilt book as the original does.
    let walks = [
        f.tx_of(
            &owner(),
            TxKind::OrderPlace {
                terms: f.terms(Side::Bid, 7, 20),
            },
        ),
        f.tx_of(&buyer(), cancel(b4)),
    ];
    for t in walks {
        let got = restored.apply_tx(&t, Timestamp(f.at));
        assert_eq!(got, f.apply(t));
        assert_eq!(restored.digest(), f.state.digest());
        assert_eq!(restored.update_root(), f.state.clone().update_root());
    }
    assert_eq!(f.resting(&a6), None);
    assert_eq!(f.resting(&a6_late), None);
    f.replays();
}

#[test]
fn the_incremental_root_equals_a_rebuilt_one_through_a_market_day() {
    let mut f = Fixture::new();
    let lease = f.lease(5, 10);
    let soon = f.at + 2_000;
    let terms = f.terms_until(Side::Ask, 2, 5, soon);
    let expiring = f.place(&stranger(), terms);
    f.commit();
    // A class, an order placed and cancelled within one block.
    f.send(&issuer(), register_class("compute.cpu.s", "cpu_s", 5_000))
        .expect("registers");
    let gone = f.bid(&buyer(), 1, 1);
    f.send(&buyer(), cancel(gone)).expect("cancels");
    f.commit();
    f.wait_until(soon);
    // A walk past the expired ask, a settle and a close.
    f.bid(&device(), 3, 1);
    assert_eq!(f.resting(&expiring), None);
    f.send(&relay(), settle_signed(lease, 5)).expect("settles");
    f.commit();
    f.send(&relay(), close(lease)).expect("closes");
    f.commit();
    f.commit();
    f.replays();
}
