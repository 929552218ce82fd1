//! Round trips and rules of resource classes, orders, leases and counts,
//! and the book's plans on small cases (the ledger's property test checks
//! the plans against a model on long random runs).

use super::book::Incoming;
use super::class::check_definition;
use super::*;
use crate::amount::Amount;
use crate::keys::Keypair;
use crate::limits::{ORDER_FILLS_MAX, ORDER_MATCH_STEPS_MAX};
use crate::types::Timestamp;

fn terms(side: Side, price: u64, quantity: u64) -> OrderTerms {
    OrderTerms {
        class: "bandwidth.uplink.msg".into(),
        side,
        price: Amount::new(price),
        quantity,
        expires_at: Timestamp(10_000),
    }
}

fn order(owner: u8, seq: u64, side: Side, price: u64, quantity: u64) -> Order {
    Order {
        owner: AccountId([owner; 32]),
        seq,
        placed_at: Timestamp(1),
        remaining: quantity,
        fills: 0,
        deposit: Amount::new(100),
        terms: terms(side, price, quantity),
    }
}

fn id(n: u64) -> OrderId {
    OrderId(crate::hash::Hash32::digest(&[&n.to_le_bytes()]))
}

/// A book with `orders`, each under `id(seq)`.
fn book(orders: &[Order]) -> (Book, Vec<(OrderId, Order)>) {
    let mut book = Book::default();
    let mut all = Vec::new();
    for o in orders {
        book.insert(o.terms.side, o.terms.price, o.seq, id(o.seq));
        all.push((id(o.seq), o.clone()));
    }
    (book, all)
}

fn plan(book: &Book, all: &[(OrderId, Order)], incoming: Incoming, at: u64) -> Plan {
    book.plan(&incoming, Timestamp(at), |want| {
        &all.iter().find(|(i, _)| i == want).expect("in the book").1
    })
}

fn bid(owner: u8, price: u64, quantity: u64) -> Incoming {
    Incoming {
        owner: AccountId([owner; 32]),
        side: Side::Bid,
        price: Amount::new(price),
        quantity,
    }
}

#[test]
fn records_round_trip_and_refuse_what_breaks_a_rule() {
    let mut class = ResourceClass::new("compute.cpu.s".into(), "cpu_s".into(), 60_000);
    class.orders_placed = 7;
    class.last_price = Amount::new(3);
    assert_eq!(ResourceClass::from_record(&class.to_record()), Ok(class));
    let o = order(1, 4, Side::Ask, 9, 50);
    assert_eq!(Order::from_record(&o.to_record()), Ok(o.clone()));
    let mut spent = o.clone();
    spent.remaining = 0;
    assert!(Order::from_record(&spent.to_record()).is_err());
    let lease = Lease {
        buyer: AccountId([1; 32]),
        provider: AccountId([2; 32]),
        price: Amount::new(5),
        quantity: 10,
        delivered: 3,
        started_at: Timestamp(1),
        ends_at: Timestamp(2),
        class: "bandwidth.uplink.msg".into(),
    };
    assert_eq!(lease.locked(), Some(Amount::new(35)));
    assert_eq!(Lease::from_record(&lease.to_record()), Ok(lease));
    for (name, unit, lease_ms) in [
        ("Bad", "msg", 1),
        ("ok.name", "", 1),
        ("ok.name", "MSG", 1),
        ("ok.name", "msg", 0),
        ("ok.name", "msg", 31 * 86_400_000),
    ] {
        assert!(
            check_definition(name, unit, lease_ms).is_err(),
            "{name} {unit}"
        );
    }
    assert!(terms(Side::Bid, 0, 1).check().is_err());
    assert!(terms(Side::Bid, 1, 0).check().is_err());
    assert!(terms(Side::Bid, u64::MAX, 2).check().is_err());
}

#[test]
fn a_count_verifies_for_its_buyer_network_lease_and_number_only() {
    let buyer = Keypair::from_seed([3; 32]);
    let genesis = crate::hash::Hash32([9; 32]);
    let count = DeliveryCount {
        lease: LeaseId(crate::hash::Hash32([5; 32])),
        count: 40,
    };
    let sig = count.sign(&buyer, &genesis);
    assert!(count.verify(&genesis, &buyer.account(), &sig).is_ok());
    let other = Keypair::from_seed([4; 32]);
    assert!(count.verify(&genesis, &other.account(), &sig).is_err());
    assert!(count
        .verify(&crate::hash::Hash32([8; 32]), &buyer.account(), &sig)
        .is_err());
    let more = DeliveryCount { count: 41, ..count };
    assert!(more.verify(&genesis, &buyer.account(), &sig).is_err());
}

#[test]
fn a_bid_fills_the_cheapest_asks_oldest_first_at_their_prices_and_rests_the_rest() {
    let (book, all) = book(&[
        order(2, 0, Side::Ask, 5, 10),
        order(3, 1, Side::Ask, 4, 10),
        order(4, 2, Side::Ask, 4, 10),
        order(5, 3, Side::Ask, 9, 10),
    ]);
    let p = plan(&book, &all, bid(1, 5, 25), 100);
    let fill = |seq, units, price, maker_ends| Step::Fill {
        maker: id(seq),
        units,
        price: Amount::new(price),
        maker_ends,
    };
    assert_eq!(
        p.steps,
        vec![
            fill(1, 10, 4, true),
            fill(2, 10, 4, true),
            fill(0, 5, 5, false)
        ]
    );
    assert_eq!((p.filled, p.fills, p.rests), (25, 3, true));
    let p = plan(&book, &all, bid(1, 3, 25), 100);
    assert!(p.steps.is_empty() && p.rests);
}

#[test]
fn expired_and_own_orders_end_unfilled_and_the_walk_is_bounded() {
    let mut expired = order(2, 0, Side::Ask, 1, 10);
    expired.terms.expires_at = Timestamp(50);
    let (b, all) = book(&[
        expired,
        order(1, 1, Side::Ask, 2, 10),
        order(3, 2, Side::Ask, 3, 10),
    ]);
    let p = plan(&b, &all, bid(1, 9, 5), 50);
    assert_eq!(p.steps[0], Step::Expired(id(0)));
    assert_eq!(p.steps[1], Step::OwnCancelled(id(1)));
    assert!(matches!(p.steps[2], Step::Fill { units: 5, .. }));

    let many: Vec<Order> = (0..40)
        .map(|s| order(2 + u8::try_from(s).expect("under 40"), s, Side::Ask, 1, 1))
        .collect();
    let (b, all) = book(&many);
    let p = plan(&b, &all, bid(1, 1, 100), 1);
    assert_eq!(p.fills, ORDER_FILLS_MAX);
    assert!(!p.rests, "an order that still crosses never rests");
    let mut stale: Vec<Order> = (0..40).map(|s| order(2, s, Side::Ask, 1, 1)).collect();
    for o in &mut stale {
        o.terms.expires_at = Timestamp(1);
    }
    let (b, all) = book(&stale);
    let p = plan(&b, &all, bid(1, 1, 100), 1);
    assert_eq!(p.steps.len(), ORDER_MATCH_STEPS_MAX);
    assert!(!p.rests);
}

#[test]
fn a_maker_at_its_last_fill_ends_with_units_left() {
    let mut old = order(2, 0, Side::Ask, 1, 100);
    old.fills = ORDER_FILLS_MAX - 1;
    let (b, all) = book(&[old]);
    let p = plan(&b, &all, bid(1, 1, 10), 1);
    assert_eq!(
        p.steps,
        vec![Step::Fill {
            maker: id(0),
            units: 10,
            price: Amount::new(1),
            maker_ends: true
        }]
    );
}

#[test]
fn depth_sums_live_orders_by_price_best_first() {
    let mut gone = order(2, 1, Side::Bid, 7, 10);
    gone.terms.expires_at = Timestamp(5);
    let (b, all) = book(&[
        order(2, 0, Side::Bid, 5, 10),
        gone,
        order(3, 2, Side::Bid, 5, 4),
        order(4, 3, Side::Bid, 3, 1),
    ]);
    let levels = b.depth(Side::Bid, Timestamp(5), 8, |want| {
        &all.iter().find(|(i, _)| i == want).expect("in the book").1
    });
    let got: Vec<(u64, u64, u32)> = levels
        .iter()
        .map(|l| (l.price.base_units(), l.units, l.orders))
        .collect();
    assert_eq!(got, vec![(5, 14, 2), (3, 1, 1)]);
}
