//! Order books and leases on the ledger against a plain model: random
//! placements, cancels, delivery counts (well or badly signed), closes,
//! freezes and the passing of time (which expires orders and ends leases),
//! among five accounts (a device, its owner and three others), on one
//! class. Bursts of one-unit orders, walls of soon-expiring ones and sweeps
//! at the far price make walks reach `ORDER_FILLS_MAX` fills and
//! `ORDER_MATCH_STEPS_MAX` steps, and accounts reach
//! `ORDERS_OPEN_PER_ACCOUNT_MAX` resting orders.
//!
//! The model is written from the rules alone and kept as plain as can be:
//! every order and lease ever made in a `Vec`, the best resting order found
//! by scanning them all (lowest ask, highest bid, then the lowest sequence
//! number), the money moved by hand. It does not use the ledger's `Book`.
//! After every transaction the receipt (ok or error code), every balance,
//! every resting order and open lease, the open counts, the class's
//! counters and the locked total must agree, money must be conserved and
//! the running sums must equal a walk; a refusal must leave the state byte
//! for byte. After every block the incremental state root must equal one
//! rebuilt from scratch; at the end, replaying the blocks and a snapshot
//! round trip must give the same state.
//!
//! A failure names the step (its index, the step and the time) and prints
//! the shrunk list of steps; CI runs with `PROPTEST_RNG_SEED=20261124`
//! (scripts/test), and the same seed replays it.

#![allow(clippy::cast_possible_truncation)] // small test indices

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use ting_core::limits::{
    DAY_MS, LEASES_OPEN_PER_BUYER_MAX, LEASE_GRACE_MS, ORDERS_OPEN_PER_ACCOUNT_MAX, ORDER_DEPOSIT,
    ORDER_EXPIRY_MAX_MS, ORDER_FILLS_MAX, ORDER_MATCH_STEPS_MAX,
};
use ting_core::resource::{DeliveryCount, LeaseId, OrderId, OrderTerms, Side};
use ting_core::{Amount, Block, Hash32, Keypair, Signature, SignedTx, Timestamp, TxKind};
use ting_ledger::{State, TxError};

const DEP: u64 = ORDER_DEPOSIT;
/// What each genesis key (0 to 3) starts with.
const START: u64 = 1_000 * ORDER_DEPOSIT;
const CLASS: &str = "bandwidth.uplink.msg";
/// Prices run from 1 to this, so that orders often cross.
const PRICE_MAX: u64 = 7;
/// Orders in a wall: one more than a walk's steps.
const WALL: usize = ORDER_MATCH_STEPS_MAX + 1;
/// Short, so that leases end within a run.
const LEASE_MS: u64 = 5_000;

/// The owner (key 1), its device (key 10), keys 2 and 3, and key 20.
const ACTORS: usize = 5;
const OWNER: usize = 0;
const DEVICE: usize = 1;
/// What the device and actor 4 are given: actor 4 a few deposits, so that
/// it runs short of money now and then.
const SMALL_FUND: [(usize, u64); 2] = [(DEVICE, 40 * DEP + 200), (4, 3 * DEP + 100)];

/// Actor `i`'s key (derived once: deriving is slow in debug builds).
fn actor(i: usize) -> &'static Keypair {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    &KEYS.get_or_init(|| vec![key(1), key(10), key(2), key(3), key(20)])[i]
}

fn code(r: Result<(), TxError>) -> Result<(), &'static str> {
    r.map_err(|e| e.code())
}

// ---------------------------------------------------------------------------
// Steps.

/// Which order or lease a step names.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// One still resting (open), or any if none is.
    Live(Index),
    /// Any made so far, ended ones too.
    Any(Index),
    /// One never made.
    Unknown,
}

/// Who sends a cancel or a close.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// The order's owner, or the lease's provider.
    Party,
    /// The device's owner (actor 0), whoever the party is.
    DeviceOwner,
    Actor(usize),
}

/// How a delivery count is signed.
#[derive(Clone, Copy, Debug)]
enum Sig {
    Good,
    /// By the provider instead of the buyer.
    Provider,
    /// By the buyer, for another network.
    OtherNetwork,
    /// By the buyer, for another lease.
    OtherLease,
}

/// The count a settle or close presents.
#[derive(Clone, Copy, Debug)]
enum Count {
    /// The lease's delivered count plus this, floored at zero.
    Above(i64),
    /// The lease's whole quantity.
    Full,
    /// One over the quantity.
    Over,
}

#[derive(Clone, Debug)]
enum Op {
    Place {
        actor: usize,
        side: Side,
        price: u64,
        quantity: u64,
        /// Past the step's time; zero is refused.
        expires_in: u64,
        /// On a class never registered.
        unknown_class: bool,
    },
    /// An order for many units at the far price (a bid at the highest, an
    /// ask at the lowest), to walk the whole other side.
    Sweep {
        actor: usize,
        side: Side,
        quantity: u64,
    },
    /// Actors 2 and 3 take turns placing one-unit orders at `price` that
    /// expire in a second, `WALL` of them in all: once they expire, a walk
    /// that meets them reaches the most steps.
    Wall {
        side: Side,
        price: u64,
    },
    /// `count` orders of one unit each, one after another.
    Burst {
        actor: usize,
        side: Side,
        price: u64,
        count: usize,
        expires_in: u64,
    },
    Cancel {
        order: Pick,
        who: Who,
    },
    Settle {
        lease: Pick,
        sender: usize,
        count: Count,
        sig: Sig,
    },
    Close {
        lease: Pick,
        who: Who,
        count: Option<(Count, Sig)>,
    },
    /// The device's owner freezes (or unfreezes) it.
    Freeze(bool),
    /// Cuts the block, then lets `ms` pass.
    Advance(u64),
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Bid), Just(Side::Ask)]
}

/// An expiry that is allowed: soon, or a day off.
fn expires_in() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(1_000u64),
        3 => Just(4_000u64),
        2 => Just(20_000u64),
        4 => Just(DAY_MS),
    ]
}

/// Now and then one that is refused: at the block's time, or past the
/// furthest allowed.
fn any_expires_in() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        12 => expires_in(),
        1 => Just(ORDER_EXPIRY_MAX_MS + 1),
    ]
}

/// How many orders a burst places: often enough that a sweep after it
/// reaches the most fills, or two of them the most steps.
fn burst_count() -> impl Strategy<Value = usize> {
    prop_oneof![2 => 1usize..=8, 3 => 12usize..=20]
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        10 => any::<Index>().prop_map(Pick::Live),
        2 => any::<Index>().prop_map(Pick::Any),
        1 => Just(Pick::Unknown),
    ]
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        5 => Just(Who::Party),
        1 => Just(Who::DeviceOwner),
        2 => (0..ACTORS).prop_map(Who::Actor),
    ]
}

fn sig() -> impl Strategy<Value = Sig> {
    prop_oneof![
        12 => Just(Sig::Good),
        1 => Just(Sig::Provider),
        1 => Just(Sig::OtherNetwork),
        1 => Just(Sig::OtherLease),
    ]
}

fn count() -> impl Strategy<Value = Count> {
    prop_oneof![
        8 => (-1i64..6).prop_map(Count::Above),
        2 => Just(Count::Full),
        1 => Just(Count::Over),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..ACTORS, side(), 1..=PRICE_MAX, 1u64..=20, any_expires_in(), prop::bool::weighted(0.03))
            .prop_map(|(actor, side, price, quantity, expires_in, unknown_class)| Op::Place {
                actor,
                side,
                price,
                quantity,
                expires_in,
                unknown_class,
            }),
        3 => (0..ACTORS, side(), 1..=PRICE_MAX, burst_count(), expires_in()).prop_map(
            |(actor, side, price, count, expires_in)| Op::Burst {
                actor,
                side,
                price,
                count,
                expires_in,
            }
        ),
        2 => (0..ACTORS, side(), 17u64..=40)
            .prop_map(|(actor, side, quantity)| Op::Sweep { actor, side, quantity }),
        1 => (side(), 1..=PRICE_MAX).prop_map(|(side, price)| Op::Wall { side, price }),
        3 => (pick(), who()).prop_map(|(order, who)| Op::Cancel { order, who }),
        5 => (pick(), 0..ACTORS, count(), sig()).prop_map(|(lease, sender, count, sig)| {
            Op::Settle {
                lease,
                sender,
                count,
                sig,
            }
        }),
        3 => (pick(), who(), prop::option::weighted(0.5, (count(), sig())))
            .prop_map(|(lease, who, count)| Op::Close { lease, who, count }),
        1 => any::<bool>().prop_map(Op::Freeze),
        4 => prop_oneof![
            Just(0u64),
            Just(500u64),
            Just(1_000u64),
            Just(3_000u64),
            Just(LEASE_MS),
            Just(LEASE_GRACE_MS),
        ]
        .prop_map(Op::Advance),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60)
}

// ---------------------------------------------------------------------------
// The model.

#[derive(Clone, Debug)]
struct MOrder {
    id: OrderId,
    owner: usize,
    side: Side,
    price: u64,
    quantity: u64,
    remaining: u64,
    fills: u16,
    seq: u64,
    placed_at: u64,
    expires_at: u64,
    /// Resting on the book.
    live: bool,
}

impl MOrder {
    /// What it locks while it rests.
    fn lock(&self) -> u64 {
        match self.side {
            Side::Bid => self.price * self.remaining + DEP,
            Side::Ask => DEP,
        }
    }
}

#[derive(Clone, Debug)]
struct MLease {
    id: LeaseId,
    buyer: usize,
    provider: usize,
    price: u64,
    quantity: u64,
    delivered: u64,
    started_at: u64,
    ends_at: u64,
    open: bool,
}

#[derive(Debug)]
struct Model {
    now: u64,
    balances: [u64; ACTORS],
    frozen: bool,
    /// Every order ever placed, in placement order.
    orders: Vec<MOrder>,
    /// Every lease ever made, in the order made.
    leases: Vec<MLease>,
    orders_placed: u64,
    traded: u64,
    last_price: u64,
    last_trade_at: u64,
}

/// Whether `sender` may act for `party`: itself, or the device's owner.
fn speaks_for(sender: usize, party: usize) -> bool {
    sender == party || (party == DEVICE && sender == OWNER)
}

/// A model placement: the op's terms with the order's id and time.
struct Placement {
    id: OrderId,
    owner: usize,
    side: Side,
    price: u64,
    quantity: u64,
    expires_at: u64,
    known_class: bool,
}

impl Model {
    fn resting_count(&self, owner: usize) -> usize {
        self.orders
            .iter()
            .filter(|o| o.live && o.owner == owner)
            .count()
    }

    fn open_lease_count(&self, buyer: usize) -> usize {
        self.leases
            .iter()
            .filter(|l| l.open && l.buyer == buyer)
            .count()
    }

    /// The index of the best resting order on `side`: the lowest ask or the
    /// highest bid, the earliest placed among equal prices.
    fn best(&self, side: Side) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if !o.live || o.side != side {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let b = &self.orders[b];
                    let price_better = match side {
                        Side::Ask => o.price < b.price,
                        Side::Bid => o.price > b.price,
                    };
                    price_better || (o.price == b.price && o.seq < b.seq)
                }
            };
            if better {
                best = Some(i);
            }
        }
        best
    }

    /// Ends resting order `i`, giving its owner back what it locks.
    fn end_order(&mut self, i: usize) {
        let back = self.orders[i].lock();
        self.balances[self.orders[i].owner] += back;
        self.orders[i].live = false;
    }

    fn place(&mut self, p: &Placement) -> Result<(), &'static str> {
        let now = self.now;
        if p.owner == DEVICE && self.frozen {
            return Err("frozen");
        }
        if !p.known_class {
            return Err("unknown_class");
        }
        if p.expires_at <= now || p.expires_at > now + ORDER_EXPIRY_MAX_MS {
            return Err("bad_expiry");
        }
        if self.resting_count(p.owner) >= ORDERS_OPEN_PER_ACCOUNT_MAX {
            return Err("too_many_orders");
        }
        if p.side == Side::Bid && self.open_lease_count(p.owner) >= LEASES_OPEN_PER_BUYER_MAX {
            return Err("too_many_leases");
        }
        let lock = match p.side {
            Side::Bid => p.price * p.quantity + DEP,
            Side::Ask => DEP,
        };
        if self.balances[p.owner] < lock {
            return Err("insufficient_funds");
        }
        self.balances[p.owner] -= lock;
        let against = match p.side {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        };
        let (mut left, mut steps, mut fills, mut rests) = (p.quantity, 0usize, 0u16, true);
        while left > 0 {
            let Some(m) = self.best(against) else {
                break;
            };
            let maker = self.orders[m].clone();
            let crosses = match p.side {
                Side::Bid => maker.price <= p.price,
                Side::Ask => maker.price >= p.price,
            };
            if !crosses {
                break;
            }
            // Still crossing after the most steps or fills: the rest goes back.
            if steps >= ORDER_MATCH_STEPS_MAX || fills >= ORDER_FILLS_MAX {
                rests = false;
                break;
            }
            steps += 1;
            if now >= maker.expires_at || maker.owner == p.owner {
                self.end_order(m);
                continue;
            }
            let units = left.min(maker.remaining);
            let (bid, ask, buyer, provider) = match p.side {
                Side::Bid => (p.id, maker.id, p.owner, maker.owner),
                Side::Ask => (maker.id, p.id, maker.owner, p.owner),
            };
            if p.side == Side::Bid {
                self.balances[p.owner] += (p.price - maker.price) * units;
            }
            {
                let o = &mut self.orders[m];
                o.remaining -= units;
                o.fills += 1;
            }
            if self.orders[m].remaining == 0 || self.orders[m].fills >= ORDER_FILLS_MAX {
                self.end_order(m);
            }
            self.leases.push(MLease {
                id: LeaseId::derive(&bid, &ask),
                buyer,
                provider,
                price: maker.price,
                quantity: units,
                delivered: 0,
                started_at: now,
                ends_at: now + LEASE_MS,
                open: true,
            });
            left -= units;
            fills += 1;
            self.traded += units;
            self.last_price = maker.price;
            self.last_trade_at = now;
        }
        if left > 0 && fills >= ORDER_FILLS_MAX {
            rests = false;
        }
        let live = rests && left > 0;
        self.orders.push(MOrder {
            id: p.id,
            owner: p.owner,
            side: p.side,
            price: p.price,
            quantity: p.quantity,
            remaining: left,
            fills,
            seq: self.orders_placed,
            placed_at: now,
            expires_at: p.expires_at,
            live,
        });
        if !live {
            let unfilled = match p.side {
                Side::Bid => p.price * left,
                Side::Ask => 0,
            };
            self.balances[p.owner] += unfilled + DEP;
        }
        self.orders_placed += 1;
        Ok(())
    }

    fn cancel(&mut self, sender: usize, order: Option<usize>) -> Result<(), &'static str> {
        let i = order
            .filter(|&i| self.orders[i].live)
            .ok_or("unknown_order")?;
        let o = &self.orders[i];
        if self.now < o.expires_at && !speaks_for(sender, o.owner) {
            return Err("not_order_owner");
        }
        self.end_order(i);
        Ok(())
    }

    /// What a count pays the provider, once checked.
    fn counted(&self, l: &MLease, count: u64, sig: Sig) -> Result<u64, &'static str> {
        if self.now > l.ends_at + LEASE_GRACE_MS {
            return Err("count_too_late");
        }
        if count <= l.delivered {
            return Err("stale_count");
        }
        if count > l.quantity {
            return Err("count_over_quantity");
        }
        if !matches!(sig, Sig::Good) {
            return Err("bad_count_signature");
        }
        Ok(l.price * (count - l.delivered))
    }

    fn settle(&mut self, lease: Option<usize>, count: u64, sig: Sig) -> Result<(), &'static str> {
        let i = lease
            .filter(|&i| self.leases[i].open)
            .ok_or("unknown_lease")?;
        let pay = self.counted(&self.leases[i], count, sig)?;
        let l = &mut self.leases[i];
        self.balances[l.provider] += pay;
        l.delivered = count;
        if l.delivered == l.quantity {
            l.open = false;
        }
        Ok(())
    }

    fn close(
        &mut self,
        sender: usize,
        lease: Option<usize>,
        count: Option<(u64, Sig)>,
    ) -> Result<(), &'static str> {
        let i = lease
            .filter(|&i| self.leases[i].open)
            .ok_or("unknown_lease")?;
        let l = &self.leases[i];
        if !speaks_for(sender, l.provider) && self.now <= l.ends_at + LEASE_GRACE_MS {
            return Err("too_early_to_close_lease");
        }
        let (pay, delivered) = match count {
            Some((count, sig)) => (self.counted(l, count, sig)?, count),
            None => (0, l.delivered),
        };
        let back = l.price * (l.quantity - delivered);
        let (provider, buyer) = (l.provider, l.buyer);
        self.balances[provider] += pay;
        self.balances[buyer] += back;
        self.leases[i].open = false;
        Ok(())
    }

    fn locked(&self) -> u64 {
        let orders: u64 = self
            .orders
            .iter()
            .filter(|o| o.live)
            .map(MOrder::lock)
            .sum();
        let leases: u64 = self
            .leases
            .iter()
            .filter(|l| l.open)
            .map(|l| l.price * (l.quantity - l.delivered))
            .sum();
        orders + leases
    }
}

/// Resolves a pick among `n` records of which `live` are still live.
fn resolve(pick: Pick, live: &[usize], n: usize) -> Option<usize> {
    match pick {
        Pick::Live(i) if !live.is_empty() => Some(live[i.index(live.len())]),
        Pick::Live(i) | Pick::Any(i) if n > 0 => Some(i.index(n)),
        _ => None,
    }
}

fn sender_of(who: Who, party: usize) -> usize {
    match who {
        Who::Party => party,
        Who::DeviceOwner => OWNER,
        Who::Actor(a) => a,
    }
}

/// The count and signature a settle or close presents on lease `i` (or on
/// `unknown` when it names none).
fn count_of(
    model: &Model,
    lease: Option<usize>,
    unknown: LeaseId,
    count: Count,
    sig: Sig,
) -> (u64, Signature) {
    let (id, delivered, quantity, buyer, provider) = match lease {
        Some(i) => {
            let l = &model.leases[i];
            (l.id, l.delivered, l.quantity, l.buyer, l.provider)
        }
        None => (unknown, 0, 1, 3, 2),
    };
    let n = match count {
        Count::Above(d) => delivered.saturating_add_signed(d),
        Count::Full => quantity,
        Count::Over => quantity + 1,
    };
    let genesis = genesis_hash();
    let signature = match sig {
        Sig::Good => DeliveryCount {
            lease: id,
            count: n,
        }
        .sign(actor(buyer), &genesis),
        Sig::Provider => DeliveryCount {
            lease: id,
            count: n,
        }
        .sign(actor(provider), &genesis),
        Sig::OtherNetwork => DeliveryCount {
            lease: id,
            count: n,
        }
        .sign(actor(buyer), &Hash32::digest(&[b"another network"])),
        Sig::OtherLease => DeliveryCount {
            lease: unknown,
            count: n,
        }
        .sign(actor(buyer), &genesis),
    };
    (n, signature)
}

// ---------------------------------------------------------------------------
// Running the ledger beside the model.

struct Run {
    state: State,
    model: Model,
    pending: Vec<SignedTx>,
    blocks: Vec<Block>,
}

impl Run {
    /// Sends `kind` as actor `sender` to the ledger; the model's answer is
    /// `want` (computed by `model_step` on the model as it was). Everything
    /// must agree after.
    fn send(
        &mut self,
        sender: usize,
        kind: TxKind,
        model_step: impl FnOnce(&mut Model, Option<OrderId>) -> Result<(), &'static str>,
        what: &str,
    ) -> Result<(), TestCaseError> {
        let who = actor(sender);
        let nonce = self.state.next_nonce(&who.account());
        let t = tx(who, who.account(), nonce.0, kind);
        let before = self.state.digest();
        let got = code(self.state.apply_tx(&t, Timestamp(self.model.now)));
        let want = model_step(&mut self.model, t.placed_order());
        prop_assert_eq!(got, want, "receipt of {} from actor {}", what, sender);
        if got.is_ok() {
            self.pending.push(t);
        } else {
            prop_assert_eq!(self.state.digest(), before, "a refusal changed the state");
        }
        self.agrees(what)
    }

    /// The ledger and the model agree on balances, resting orders, open
    /// leases, counts, the class and what is locked; money is conserved.
    fn agrees(&self, what: &str) -> Result<(), TestCaseError> {
        let (state, model) = (&self.state, &self.model);
        prop_assert_eq!(
            state.held_sum(),
            Some(state.supply()),
            "supply after {}",
            what
        );
        sums_walked(state)?;
        for (i, want) in model.balances.iter().enumerate() {
            let got = state
                .account(&actor(i).account())
                .map_or(0, |a| a.balance.base_units());
            prop_assert_eq!(got, *want, "balance of actor {} after {}", i, what);
            prop_assert_eq!(
                state.open_order_count(&actor(i).account()),
                model.resting_count(i),
                "resting orders of actor {} after {}",
                i,
                what
            );
            prop_assert_eq!(
                state.open_lease_count(&actor(i).account()),
                model.open_lease_count(i),
                "open leases of actor {} after {}",
                i,
                what
            );
        }
        type OrderRow = (
            OrderId,
            [u8; 32],
            Side,
            u64,
            u64,
            u64,
            u16,
            u64,
            u64,
            u64,
            u64,
        );
        let mut got: Vec<OrderRow> = state
            .orders()
            .map(|(id, o)| {
                (
                    *id,
                    o.owner.0,
                    o.terms.side,
                    o.terms.price.base_units(),
                    o.terms.quantity,
                    o.remaining,
                    o.fills,
                    o.seq,
                    o.placed_at.0,
                    o.terms.expires_at.0,
                    o.deposit.base_units(),
                )
            })
            .collect();
        let mut want: Vec<OrderRow> = model
            .orders
            .iter()
            .filter(|o| o.live)
            .map(|o| {
                (
                    o.id,
                    actor(o.owner).account().0,
                    o.side,
                    o.price,
                    o.quantity,
                    o.remaining,
                    o.fills,
                    o.seq,
                    o.placed_at,
                    o.expires_at,
                    DEP,
                )
            })
            .collect();
        got.sort_unstable_by_key(|r| r.0);
        want.sort_unstable_by_key(|r| r.0);
        prop_assert_eq!(got, want, "resting orders after {}", what);
        type LeaseRow = (LeaseId, [u8; 32], [u8; 32], u64, u64, u64, u64, u64);
        let mut got: Vec<LeaseRow> = state
            .leases()
            .map(|(id, l)| {
                prop_assert_eq!(&l.class, CLASS);
                Ok((
                    *id,
                    l.buyer.0,
                    l.provider.0,
                    l.price.base_units(),
                    l.quantity,
                    l.delivered,
                    l.started_at.0,
                    l.ends_at.0,
                ))
            })
            .collect::<Result<_, TestCaseError>>()?;
        let mut want: Vec<LeaseRow> = model
            .leases
            .iter()
            .filter(|l| l.open)
            .map(|l| {
                (
                    l.id,
                    actor(l.buyer).account().0,
                    actor(l.provider).account().0,
                    l.price,
                    l.quantity,
                    l.delivered,
                    l.started_at,
                    l.ends_at,
                )
            })
            .collect();
        got.sort_unstable_by_key(|r| r.0);
        want.sort_unstable_by_key(|r| r.0);
        prop_assert_eq!(got, want, "open leases after {}", what);
        let class = state.class(CLASS).expect("registered");
        prop_assert_eq!(
            (
                class.orders_placed,
                class.traded,
                class.last_price.base_units(),
                class.last_trade_at.0
            ),
            (
                model.orders_placed,
                model.traded,
                model.last_price,
                model.last_trade_at
            ),
            "class counters after {}",
            what
        );
        let resting = model.orders.iter().filter(|o| o.live).count();
        prop_assert_eq!(state.book(CLASS).map_or(0, |b| b.len()), resting);
        prop_assert_eq!(
            state.locked_sum(),
            Some(Amount::new(model.locked())),
            "locked after {}",
            what
        );
        Ok(())
    }

    /// Seals the pending transactions as the next block at the model's
    /// time and commits it; the incremental root must equal a rebuilt one.
    fn end_block(&mut self) -> Result<(), TestCaseError> {
        let b = block(
            &mut self.state,
            self.model.now,
            std::mem::take(&mut self.pending),
        );
        self.state.commit_block(&b.header).expect("block follows");
        prop_assert_eq!(
            self.state.committed_root(),
            self.state.recomputed_root(),
            "incremental root at height {}",
            self.state.height().0
        );
        self.blocks.push(b);
        Ok(())
    }

    fn step(&mut self, op: &Op, what: &str) -> Result<(), TestCaseError> {
        let unknown_order = OrderId(Hash32::digest(&[b"no such order"]));
        let unknown_lease = LeaseId(Hash32::digest(&[b"no such lease"]));
        match *op {
            Op::Place {
                actor,
                side,
                price,
                quantity,
                expires_in,
                unknown_class,
            } => self.place(
                actor,
                (side, price, quantity, expires_in, !unknown_class),
                what,
            ),
            Op::Sweep {
                actor,
                side,
                quantity,
            } => {
                let price = match side {
                    Side::Bid => PRICE_MAX,
                    Side::Ask => 1,
                };
                self.place(actor, (side, price, quantity, DAY_MS, true), what)
            }
            Op::Wall { side, price } => {
                for n in 0..WALL {
                    let what = format!("{what} (order {n} of the wall)");
                    self.place(2 + n % 2, (side, price, 1, 1_000, true), &what)?;
                }
                Ok(())
            }
            Op::Burst {
                actor,
                side,
                price,
                count,
                expires_in,
            } => {
                for n in 0..count {
                    let what = format!("{what} (order {n} of the burst)");
                    self.place(actor, (side, price, 1, expires_in, true), &what)?;
                }
                Ok(())
            }
            Op::Cancel { order, who } => {
                let live: Vec<usize> = (0..self.model.orders.len())
                    .filter(|&i| self.model.orders[i].live)
                    .collect();
                let i = resolve(order, &live, self.model.orders.len());
                let (id, owner) = i.map_or((unknown_order, 2), |i| {
                    (self.model.orders[i].id, self.model.orders[i].owner)
                });
                let sender = sender_of(who, owner);
                self.send(
                    sender,
                    TxKind::OrderCancel { order: id },
                    |m, _| m.cancel(sender, i),
                    what,
                )
            }
            Op::Settle {
                lease,
                sender,
                count,
                sig,
            } => {
                let i = self.pick_lease(lease);
                let (n, signature) = count_of(&self.model, i, unknown_lease, count, sig);
                let id = i.map_or(unknown_lease, |i| self.model.leases[i].id);
                let kind = TxKind::LeaseSettle {
                    lease: id,
                    count: n,
                    signature,
                };
                self.send(sender, kind, |m, _| m.settle(i, n, sig), what)
            }
            Op::Close { lease, who, count } => {
                let i = self.pick_lease(lease);
                let id = i.map_or(unknown_lease, |i| self.model.leases[i].id);
                let provider = i.map_or(2, |i| self.model.leases[i].provider);
                let sender = sender_of(who, provider);
                let count = count.map(|(c, sig)| {
                    let (n, signature) = count_of(&self.model, i, unknown_lease, c, sig);
                    ((n, signature), (n, sig))
                });
                let kind = TxKind::LeaseClose {
                    lease: id,
                    count: count.map(|c| c.0),
                };
                let model_count = count.map(|c| c.1);
                self.send(sender, kind, |m, _| m.close(sender, i, model_count), what)
            }
            Op::Freeze(on) => {
                let device = actor(DEVICE).account();
                let kind = if on {
                    TxKind::Freeze { device }
                } else {
                    TxKind::Unfreeze { device }
                };
                self.send(
                    OWNER,
                    kind,
                    |m, _| {
                        m.frozen = on;
                        Ok(())
                    },
                    what,
                )
            }
            Op::Advance(ms) => {
                self.end_block()?;
                self.model.now += ms;
                Ok(())
            }
        }
    }

    fn pick_lease(&self, pick: Pick) -> Option<usize> {
        let open: Vec<usize> = (0..self.model.leases.len())
            .filter(|&i| self.model.leases[i].open)
            .collect();
        resolve(pick, &open, self.model.leases.len())
    }

    fn place(
        &mut self,
        owner: usize,
        (side, price, quantity, expires_in, known_class): (Side, u64, u64, u64, bool),
        what: &str,
    ) -> Result<(), TestCaseError> {
        let expires_at = self.model.now + expires_in;
        let terms = OrderTerms {
            class: if known_class {
                CLASS.into()
            } else {
                "compute.cpu.s".into()
            },
            side,
            price: Amount::new(price),
            quantity,
            expires_at: Timestamp(expires_at),
        };
        self.send(
            owner,
            TxKind::OrderPlace { terms },
            |m, id| {
                let p = Placement {
                    id: id.expect("a placement names its order"),
                    owner,
                    side,
                    price,
                    quantity,
                    expires_at,
                    known_class,
                };
                m.place(&p)
            },
            what,
        )
    }
}

/// What every case starts from: the genesis state, and the state after
/// block 1 (the device registered, the small accounts funded, the class
/// registered) with that block. Built once: a state map costs milliseconds
/// to build in a debug build.
struct Base {
    fresh: State,
    setup: Block,
    after: State,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let fresh = State::from_genesis(&genesis(START), 42);
        let mut after = fresh.clone();
        let issuer = key(0);
        let mut setup = vec![register(actor(OWNER), 0, actor(DEVICE))];
        for (n, &(to, amount)) in SMALL_FUND.iter().enumerate() {
            setup.push(transfer(&issuer, n as u64, actor(to).account(), amount));
        }
        let class = TxKind::ClassRegister {
            name: CLASS.into(),
            unit: "msg".into(),
            lease_ms: LEASE_MS,
        };
        setup.push(tx(
            &issuer,
            issuer.account(),
            SMALL_FUND.len() as u64,
            class,
        ));
        for t in &setup {
            after.apply_tx(t, Timestamp(T0)).expect("setup applies");
        }
        let setup = block(&mut after, T0, setup);
        after.commit_block(&setup.header).expect("block 1 follows");
        Base {
            fresh,
            setup,
            after,
        }
    })
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    // The builders sign for the network of the last genesis made.
    genesis(START);
    let base = base();
    let mut balances = [START; ACTORS];
    for (to, amount) in SMALL_FUND {
        balances[to] = amount;
    }
    let mut r = Run {
        state: base.after.clone(),
        model: Model {
            now: T0,
            balances,
            frozen: false,
            orders: Vec::new(),
            leases: Vec::new(),
            orders_placed: 0,
            traded: 0,
            last_price: 0,
            last_trade_at: 0,
        },
        pending: Vec::new(),
        blocks: vec![base.setup.clone()],
    };
    r.agrees("setup")?;
    for (n, op) in ops.iter().enumerate() {
        let what = format!("step {n} {op:?} at {}", r.model.now);
        r.step(op, &what)?;
    }
    r.end_block()?;
    replays_and_restores(&base.fresh, &r.blocks, &r.state)
}

/// Replaying `blocks` from the genesis state `fresh` applies every transaction and reaches
/// `state`, whose snapshot decodes (another hasher seed) to the same state;
/// each builds its state map once and checks it against the last block's
/// root. (Lighter than `common::replays_exactly`, which builds more maps:
/// in a debug build each costs milliseconds, and this runs per case.)
fn replays_and_restores(
    fresh: &State,
    blocks: &[Block],
    state: &State,
) -> Result<(), TestCaseError> {
    let mut replay = fresh.clone();
    replay.begin_replay();
    for (n, b) in blocks.iter().enumerate() {
        let receipts = replay.apply_block(b).expect("replayed block follows");
        prop_assert!(
            receipts.iter().all(Result::is_ok),
            "replay refused a transaction of block {}",
            n
        );
    }
    replay
        .end_replay()
        .expect("the replayed map has the last block's root");
    prop_assert_eq!(replay.digest(), state.digest(), "replay diverged");
    let mut restored = State::decode(&state.encode(), 5).expect("the snapshot decodes");
    let tip = state.tip_header().expect("a block committed");
    restored.adopt_tip_header(tip).expect("at the tip");
    restored
        .end_replay()
        .expect("the rebuilt map has the tip's root");
    prop_assert_eq!(restored.digest(), state.digest(), "snapshot round trip");
    // The book is built again from the resting orders (a book that held
    // orders once and is empty now is not kept through a snapshot).
    let book = |s: &State| s.book(CLASS).filter(|b| !b.is_empty()).cloned();
    prop_assert_eq!(book(&restored), book(state), "book rebuilt");
    sums_walked(&restored)
}

proptest! {
    // 48 cases of up to 60 steps (walls and bursts place many orders): about
    // ten seconds in a debug build, most of it building state maps.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn order_books_and_leases_agree_with_a_plain_model(ops in ops()) {
        run(&ops)?;
    }
}
