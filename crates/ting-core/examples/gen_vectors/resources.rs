//! The order-book vectors (docs/wire.md §18): the five resource
//! transactions (a class's registration, an ask and bids, a cancellation, a
//! lease's settlement and its close with and without a last count),
//! encodings of them a decoder must refuse, order and lease ids, the
//! buyer's signed delivery counts, and a class, two orders and a lease as
//! the state map holds them.
//!
//! The story: `issuer` registers `bandwidth.uplink.msg` (unit `msg`, leases
//! of an hour). `relay` asks 10,000 messages at 3 base units (order A, its
//! nonce 0). `gateway` bids 6,000 at 4 (B, its nonce 0), which fills at A's
//! price and makes lease 1, and then 1,000 at 3 (C, nonce 1), which makes
//! lease 2; A rests with 3,000 left and `relay` cancels it. `relay`
//! presents `gateway`'s count of 2,500 on lease 1, then closes it with a
//! count of 5,800; `gateway` closes lease 2 after its end and grace, with
//! no count. `gateway` last bids 500 at 2 (D, nonce 3), which rests. The
//! vectors pin encodings, ids and records; they are not a block log to
//! replay.

use serde_json::{json, Value};
use ting_core::encoding::Writer;
use ting_core::limits::{LEASE_GRACE_MS, ORDER_DEPOSIT};
use ting_core::resource::{
    DeliveryCount, Lease, LeaseId, Order, OrderId, OrderTerms, ResourceClass, Side,
};
use ting_core::state_map;
use ting_core::state_tree::bucket_of;
use ting_core::tx::TxKind;
use ting_core::{Amount, Hash32, Nonce, SignedTx, Timestamp};

use super::{genesis_hash, id, key, seed, spec, with_extra, TxSpec, GENESIS_MS};

const DAY_MS: u64 = 86_400_000;
const CLASS: &str = "bandwidth.uplink.msg";
const UNIT: &str = "msg";
/// How long a lease on the class runs: an hour.
const LEASE_MS: u64 = 3_600_000;
/// When A was placed: an hour after the genesis; B a minute later, C two.
const PLACED_A_MS: u64 = GENESIS_MS + 3_600_000;
const PLACED_B_MS: u64 = PLACED_A_MS + 60_000;
const PLACED_C_MS: u64 = PLACED_A_MS + 120_000;
const PLACED_D_MS: u64 = PLACED_A_MS + 2 * LEASE_MS;
/// Every order's expiry: two days after the genesis.
const EXPIRES_MS: u64 = GENESIS_MS + 2 * DAY_MS;
/// The count `relay` settles lease 1 with, and the one it closes it with.
const SETTLED: u64 = 2_500;
const CLOSED: u64 = 5_800;

fn order_of(sender: &str, nonce: u64) -> OrderId {
    OrderId::derive(&genesis_hash(), &id(sender), Nonce(nonce))
}

fn order_a() -> OrderId {
    order_of("relay", 0)
}

/// Lease 1: B's fill against A.
fn lease_1() -> LeaseId {
    LeaseId::derive(&order_of("gateway", 0), &order_a())
}

/// Lease 2: C's fill against A.
fn lease_2() -> LeaseId {
    LeaseId::derive(&order_of("gateway", 1), &order_a())
}

fn terms(side: Side, price: u64, quantity: u64) -> OrderTerms {
    OrderTerms {
        class: CLASS.into(),
        side,
        price: Amount::new(price),
        quantity,
        expires_at: Timestamp(EXPIRES_MS),
    }
}

fn terms_a() -> OrderTerms {
    terms(Side::Ask, 3, 10_000)
}

fn terms_b() -> OrderTerms {
    terms(Side::Bid, 4, 6_000)
}

fn terms_c() -> OrderTerms {
    terms(Side::Bid, 3, 1_000)
}

fn terms_d() -> OrderTerms {
    terms(Side::Bid, 2, 500)
}

/// `gateway`'s signature over a count on lease 1.
fn count_1(count: u64) -> (DeliveryCount, ting_core::Signature) {
    let c = DeliveryCount {
        lease: lease_1(),
        count,
    };
    let sig = c.sign(&key("gateway"), &genesis_hash());
    assert_eq!(c.verify(&genesis_hash(), &id("gateway"), &sig), Ok(()));
    (c, sig)
}

// ---- JSON forms ----

/// Order terms in the shape of the API's JSON form (`ting_api::resource`),
/// `u64` values as decimal strings like the rest of the file.
fn order_terms_json(t: &OrderTerms) -> Value {
    json!({
        "class": t.class,
        "side": t.side.name(),
        "price": t.price.base_units().to_string(),
        "quantity": t.quantity.to_string(),
        "expires_at": t.expires_at.0.to_string(),
    })
}

fn bytes_of(encode: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::with_capacity(160);
    encode(&mut w);
    w.into_bytes()
}

fn order_terms_hex(t: &OrderTerms) -> String {
    hex::encode(bytes_of(|w| t.encode(w)))
}

/// What a reader needs to check the buyer's count signature.
fn count_extra(c: &DeliveryCount) -> Value {
    json!({
        "buyer_seed_hex": hex::encode(seed("gateway")),
        "message_hex": hex::encode(c.signing_message(&genesis_hash())),
    })
}

// ---- Transactions ----

fn register() -> TxSpec {
    let kind = TxKind::ClassRegister {
        name: CLASS.into(),
        unit: UNIT.into(),
        lease_ms: LEASE_MS,
    };
    let fields = json!({ "name": CLASS, "unit": UNIT, "lease_ms": LEASE_MS.to_string() });
    let definition = bytes_of(|w| ResourceClass::encode_definition(w, CLASS, UNIT, LEASE_MS));
    with_extra(
        spec("class_register", "issuer", 1, (kind, fields)),
        json!({ "definition_hex": hex::encode(definition) }),
    )
}

fn place(name: &'static str, sender: &'static str, nonce: u64, terms: OrderTerms) -> TxSpec {
    let extra = json!({
        "order_id_hex": order_of(sender, nonce).to_hex(),
        "terms_hex": order_terms_hex(&terms),
    });
    let fields = order_terms_json(&terms);
    with_extra(
        spec(name, sender, nonce, (TxKind::OrderPlace { terms }, fields)),
        extra,
    )
}

fn settle() -> TxSpec {
    let (c, signature) = count_1(SETTLED);
    let kind = TxKind::LeaseSettle {
        lease: c.lease,
        count: c.count,
        signature,
    };
    let fields = json!({
        "lease": c.lease.to_hex(),
        "count": c.count.to_string(),
        "signature": signature.to_hex(),
    });
    with_extra(
        spec("lease_settle", "relay", 2, (kind, fields)),
        json!({ "count": count_extra(&c) }),
    )
}

fn close_with_count() -> TxSpec {
    let (c, signature) = count_1(CLOSED);
    let kind = TxKind::LeaseClose {
        lease: c.lease,
        count: Some((c.count, signature)),
    };
    let fields = json!({
        "lease": c.lease.to_hex(),
        "count": c.count.to_string(),
        "signature": signature.to_hex(),
    });
    with_extra(
        spec("lease_close_with_count", "relay", 3, (kind, fields)),
        json!({ "count": count_extra(&c) }),
    )
}

fn close_without_count() -> TxSpec {
    let kind = TxKind::LeaseClose {
        lease: lease_2(),
        count: None,
    };
    let fields = json!({ "lease": lease_2().to_hex(), "count": null, "signature": null });
    spec("lease_close_without_count", "gateway", 2, (kind, fields))
}

/// The order book's transactions, as the module's header tells them.
pub fn resource_specs() -> Vec<TxSpec> {
    vec![
        register(),
        place("order_place_ask", "relay", 0, terms_a()),
        place("order_place_bid", "gateway", 0, terms_b()),
        place("order_place_bid_at_the_ask", "gateway", 1, terms_c()),
        spec(
            "order_cancel",
            "relay",
            1,
            (
                TxKind::OrderCancel { order: order_a() },
                json!({ "order": order_a().to_hex() }),
            ),
        ),
        settle(),
        close_with_count(),
        close_without_count(),
        place("order_place_bid_resting", "gateway", 3, terms_d()),
    ]
}

/// Encodings of the order-book vectors that every decoder must refuse,
/// each with the code ting-core gives. Offsets count from the kind tag `k`.
pub fn invalid_vectors(txs: &[(Value, SignedTx)]) -> Vec<Value> {
    let by_name = |name: &str| {
        txs.iter()
            .find(|(v, _)| v["name"] == name)
            .map(|(_, tx)| tx.bytes().to_vec())
            .expect("named vector exists")
    };
    let k = ting_core::tx::TX_KIND_OFFSET;
    let with = |name: &str, at: usize, value: u8| {
        let mut out = by_name(name);
        out[at] = value;
        out
    };
    // class_register: the name's length at k + 1 (20 bytes), the unit's at
    // k + 22 (3 bytes), lease_ms at k + 26, the delivery byte at k + 34.
    let c = by_name("class_register");
    assert_eq!(
        [c[k + 1], c[k + 22], c[k + 34]],
        [20, 3, 1],
        "the class where the offsets say"
    );
    let mut no_lease = c.clone();
    no_lease[k + 26..k + 34].fill(0);
    // order_place: the class's length at k + 1 (20 bytes), the side at
    // k + 22, the price at k + 23, the quantity at k + 31.
    let b = by_name("order_place_bid");
    assert_eq!([b[k + 1], b[k + 22], b[k + 23]], [20, 0, 4]);
    let mut zero_quantity = b.clone();
    zero_quantity[k + 31..k + 39].fill(0);
    let mut zero_price = b.clone();
    zero_price[k + 23..k + 31].fill(0);
    let mut too_much = b.clone();
    too_much[k + 31..k + 39].copy_from_slice(&u64::MAX.to_le_bytes());
    // lease_close: the lease at k + 1, the count flag at k + 33.
    let l = by_name("lease_close_with_count");
    assert_eq!(l[k + 33], 1);
    assert_eq!(by_name("lease_close_without_count")[k + 33], 0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "class_register_delivery_0",
            with("class_register", k + 34, 0),
            "invalid_value",
        ),
        (
            "class_register_delivery_2",
            with("class_register", k + 34, 2),
            "invalid_value",
        ),
        ("class_register_lease_ms_0", no_lease, "invalid_value"),
        (
            "class_register_unit_uppercase",
            with("class_register", k + 23, b'M'),
            "invalid_value",
        ),
        (
            "class_register_name_of_49_bytes",
            with("class_register", k + 1, 49),
            "too_long",
        ),
        (
            "class_register_unit_of_17_bytes",
            with("class_register", k + 22, 17),
            "too_long",
        ),
        (
            "order_place_side_2",
            with("order_place_bid", k + 22, 2),
            "invalid_value",
        ),
        ("order_place_quantity_0", zero_quantity, "invalid_value"),
        ("order_place_price_0", zero_price, "invalid_value"),
        ("order_place_cost_over_64_bits", too_much, "invalid_value"),
        (
            "order_place_class_of_49_bytes",
            with("order_place_bid", k + 1, 49),
            "too_long",
        ),
        (
            "lease_close_count_flag_2",
            with("lease_close_with_count", k + 33, 2),
            "invalid_value",
        ),
        (
            "lease_close_without_count_flag_1",
            with("lease_close_without_count", k + 33, 1),
            "truncated",
        ),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, error)| {
            let got = SignedTx::decode(&bytes).map(|_| ()).map_err(|e| e.code());
            assert_eq!(got, Err(error), "{name}");
            json!({ "name": name, "encoded_hex": hex::encode(&bytes), "error": error })
        })
        .collect()
}

// ---- Ids, counts and records ----

fn order_id_vector(name: &str, sender: &str, nonce: u64) -> Value {
    let input = [
        b"ting:order-id:v1".as_slice(),
        &genesis_hash().0,
        &id(sender).0,
        &nonce.to_le_bytes(),
    ]
    .concat();
    json!({
        "name": name,
        "genesis": genesis_hash().to_hex(),
        "sender": id(sender).to_hex(),
        "nonce": nonce.to_string(),
        "hash_input_hex": hex::encode(&input),
        "id_hex": order_of(sender, nonce).to_hex(),
    })
}

fn lease_id_vector(name: &str, bid: OrderId, ask: OrderId) -> Value {
    let input = [b"ting:lease-id:v1".as_slice(), &bid.0 .0, &ask.0 .0].concat();
    json!({
        "name": name,
        "bid": bid.to_hex(),
        "ask": ask.to_hex(),
        "hash_input_hex": hex::encode(&input),
        "id_hex": LeaseId::derive(&bid, &ask).to_hex(),
    })
}

fn count_vector(name: &str, c: &DeliveryCount) -> Value {
    let sig = c.sign(&key("gateway"), &genesis_hash());
    json!({
        "name": name,
        "genesis": genesis_hash().to_hex(),
        "lease": c.lease.to_hex(),
        "buyer": id("gateway").to_hex(),
        "buyer_seed_hex": hex::encode(seed("gateway")),
        "count": c.count.to_string(),
        "message_hex": hex::encode(c.signing_message(&genesis_hash())),
        "signature_hex": sig.to_hex(),
    })
}

fn class_json(c: &ResourceClass) -> Value {
    json!({
        "name": c.name,
        "unit": c.unit,
        "lease_ms": c.lease_ms.to_string(),
        "delivery": c.delivery.name(),
        "orders_placed": c.orders_placed.to_string(),
        "traded": c.traded.to_string(),
        "last_price": c.last_price.base_units().to_string(),
        "last_trade_at": c.last_trade_at.0.to_string(),
    })
}

fn order_json(o: &Order) -> Value {
    json!({
        "owner": o.owner.to_hex(),
        "seq": o.seq.to_string(),
        "placed_at": o.placed_at.0.to_string(),
        "remaining": o.remaining.to_string(),
        "fills": o.fills,
        "deposit": o.deposit.base_units().to_string(),
        "terms": order_terms_json(&o.terms),
    })
}

fn lease_json(l: &Lease) -> Value {
    json!({
        "buyer": l.buyer.to_hex(),
        "provider": l.provider.to_hex(),
        "price": l.price.base_units().to_string(),
        "quantity": l.quantity.to_string(),
        "delivered": l.delivered.to_string(),
        "started_at": l.started_at.0.to_string(),
        "ends_at": l.ends_at.0.to_string(),
        "class": l.class,
    })
}

/// A record as the state map holds it, in the form of the `state_proofs`
/// entries: its fields, bytes, key, value hash and bucket.
fn record_vector(
    name: &str,
    kind: &str,
    id: Value,
    record: Value,
    bytes: &[u8],
    key: Hash32,
    value: Hash32,
) -> Value {
    json!({
        "name": name,
        "kind": kind,
        "id": id,
        "record": record,
        "record_hex": hex::encode(bytes),
        "key_hex": key.to_hex(),
        "value_hash_hex": value.to_hex(),
        "bucket": bucket_of(&key),
    })
}

fn order_record(name: &str, id: OrderId, o: &Order) -> Value {
    let bytes = o.to_record();
    assert_eq!(Order::from_record(&bytes).as_ref(), Ok(o), "{name}");
    record_vector(
        name,
        "order",
        json!(id.to_hex()),
        order_json(o),
        &bytes,
        state_map::order_key(&id),
        state_map::order_value_hash(&bytes),
    )
}

/// Order and lease ids, `gateway`'s counts on lease 1, and four records:
/// the class after the story's fills, A after both fills (before its
/// cancellation), D resting, and lease 1 after its settlement.
pub fn resource_vectors() -> Value {
    let order_ids = vec![
        order_id_vector("order_a", "relay", 0),
        order_id_vector("order_b", "gateway", 0),
        order_id_vector("order_full_width_nonce", "alice", 0x0102_0304_0506_0708),
    ];
    let lease_ids = vec![
        lease_id_vector("lease_1", order_of("gateway", 0), order_a()),
        lease_id_vector("lease_2", order_of("gateway", 1), order_a()),
    ];
    let counts = vec![
        count_vector("lease_1_settled", &count_1(SETTLED).0),
        count_vector("lease_1_closed", &count_1(CLOSED).0),
        count_vector(
            "lease_1_full_width",
            &DeliveryCount {
                lease: lease_1(),
                count: u64::MAX,
            },
        ),
    ];
    let mut class = ResourceClass::new(CLASS.into(), UNIT.into(), LEASE_MS);
    class.orders_placed = 3;
    class.traded = 7_000;
    class.last_price = Amount::new(3);
    class.last_trade_at = Timestamp(PLACED_C_MS);
    let class_bytes = class.to_record();
    assert_eq!(
        ResourceClass::from_record(&class_bytes).as_ref(),
        Ok(&class)
    );
    let a = Order {
        owner: id("relay"),
        seq: 0,
        placed_at: Timestamp(PLACED_A_MS),
        remaining: 3_000,
        fills: 2,
        deposit: Amount::new(ORDER_DEPOSIT),
        terms: terms_a(),
    };
    let d = Order {
        owner: id("gateway"),
        seq: 3,
        placed_at: Timestamp(PLACED_D_MS),
        remaining: 500,
        fills: 0,
        deposit: Amount::new(ORDER_DEPOSIT),
        terms: terms_d(),
    };
    let lease = Lease {
        buyer: id("gateway"),
        provider: id("relay"),
        price: Amount::new(3),
        quantity: 6_000,
        delivered: SETTLED,
        started_at: Timestamp(PLACED_B_MS),
        ends_at: Timestamp(PLACED_B_MS + LEASE_MS),
        class: CLASS.into(),
    };
    let lease_bytes = lease.to_record();
    assert_eq!(Lease::from_record(&lease_bytes).as_ref(), Ok(&lease));
    // Lease 2 ends an hour after C; `gateway` closes it after the grace,
    // while the vectors' transactions are still valid.
    const { assert!(PLACED_C_MS + LEASE_MS + LEASE_GRACE_MS < GENESIS_MS + DAY_MS) };
    let records = vec![
        record_vector(
            "class_bandwidth_uplink_msg",
            "class",
            Value::Null,
            class_json(&class),
            &class_bytes,
            state_map::class_key(CLASS),
            state_map::class_value_hash(&class_bytes),
        ),
        order_record("order_a_after_two_fills", order_a(), &a),
        order_record("order_d_resting", order_of("gateway", 3), &d),
        record_vector(
            "lease_1_settled",
            "lease",
            json!(lease_1().to_hex()),
            lease_json(&lease),
            &lease_bytes,
            state_map::lease_key(&lease_1()),
            state_map::lease_value_hash(&lease_bytes),
        ),
    ];
    json!({
        "order_ids": order_ids,
        "lease_ids": lease_ids,
        "counts": counts,
        "records": records,
    })
}
