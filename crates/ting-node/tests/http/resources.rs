//! Resources on order books over the API: the genesis issuer registers a
//! class, providers ask and buyers bid, and a crossing bid fills at the
//! resting price and makes a lease. The depth, the last fills, the orders
//! and the leases read back as they are, paged and filtered; a class, an
//! order and a lease read with their proofs check against the signed
//! header as a device checks them, absences included (a filled order, a
//! lease paid in full, a class never registered). Then hostile reads,
//! each refused by name.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_api::state::state_answer_from_json;
use ting_core::limits::{DAY_MS, ORDER_DEPOSIT};
use ting_core::resource::{DeliveryCount, LeaseId, OrderId, OrderTerms, Side};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::{Amount, BlockHeight, Keypair, SignedTx, Timestamp, TxKind};
use ting_node::Shared;

use crate::common::*;

const CLASS: &str = "bandwidth.uplink.msg";

/// A day from now: block times follow the wall clock.
fn tomorrow() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    Timestamp(u64::try_from(now).expect("a 64-bit time") + DAY_MS)
}

fn terms(side: Side, price: u64, quantity: u64) -> OrderTerms {
    OrderTerms {
        class: CLASS.to_owned(),
        side,
        price: Amount::new(price),
        quantity,
        expires_at: tomorrow(),
    }
}

async fn send(s: &Arc<Shared>, key: &Keypair, kind: TxKind) -> SignedTx {
    let tx = signed(key, next_nonce(s, key), kind);
    commit(s, &tx).await;
    tx
}

async fn place(s: &Arc<Shared>, key: &Keypair, side: Side, price: u64, qty: u64) -> OrderId {
    let tx = send(
        s,
        key,
        TxKind::OrderPlace {
            terms: terms(side, price, qty),
        },
    )
    .await;
    tx.placed_order().expect("an order_place")
}

async fn register_class(s: &Arc<Shared>) {
    let kind = TxKind::ClassRegister {
        name: CLASS.into(),
        unit: "msg".into(),
        lease_ms: 3_600_000,
    };
    send(s, &issuer(), kind).await;
}

/// A proved read: its height the proof's; answers the state answer (not
/// yet checked) and the body.
async fn proved(s: &Arc<Shared>, path: &str, record: Expect) -> (StateAnswer, Value) {
    let body = check(s, path, get(path), record).await;
    let answer = state_answer_from_json(&body["proof"]).expect("the proof decodes");
    assert_eq!(body["height"], json!(answer.header.height.0), "{path}");
    (answer, body)
}

/// The `id_field` of every item of `list` that `GET base?query` finds, a
/// page of one at a time, following `next` to the end.
async fn paged(
    s: &Arc<Shared>,
    base: &str,
    (list, id_field): (&str, &str),
    query: &str,
) -> Vec<String> {
    let mut all = Vec::new();
    let mut path = format!("{base}?limit=1&{query}");
    for _ in 0..10 {
        let body = check(s, &path, get(&path), ok(vec![])).await;
        for item in body[list].as_array().expect("a list") {
            all.push(item[id_field].as_str().expect("an id").to_owned());
        }
        let Some(next) = body["next"].as_str() else {
            return all;
        };
        path = format!("{base}?limit=1&{query}&after={next}");
    }
    panic!("the listing did not end");
}

fn sorted(ids: &[&dyn ToString]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    v.sort();
    v
}

fn level(price: u64, units: u64, orders: u32) -> Value {
    json!({ "price": price, "units": units, "orders": orders })
}

#[tokio::test]
async fn crossing_orders_make_a_lease_and_the_book_orders_and_leases_read_back_proved() {
    let node = TestNode::start();
    let s = node.shared();
    let (resting_buyer, p1, p2) = (user(0), user(1), user(2));
    let buyer = Keypair::from_seed([91; 32]);
    let mint = TxKind::Mint {
        to: buyer.account(),
        amount: Amount::new(2 * ORDER_DEPOSIT),
    };
    send(&s, &issuer(), mint).await;
    register_class(&s).await;

    let one = format!("/v1/classes/{CLASS}");
    check(
        &s,
        "the class",
        get(&one),
        ok(vec![
            ("/name", json!(CLASS)),
            ("/unit", json!("msg")),
            ("/lease_ms", json!(3_600_000)),
            ("/delivery", json!("signed_count")),
            ("/orders_placed", json!(0)),
        ]),
    )
    .await;
    let book = format!("/v1/books/{CLASS}");
    let empty = ok(vec![
        ("/class", json!(CLASS)),
        ("/bids", json!([])),
        ("/asks", json!([])),
    ]);
    check(&s, "an empty book", get(&book), empty).await;

    let ask1 = place(&s, &p1, Side::Ask, 10, 100).await;
    let ask2 = place(&s, &p2, Side::Ask, 12, 50).await;
    let bid1 = place(&s, &resting_buyer, Side::Bid, 8, 40).await;
    // Crosses the best ask: fills 30 at the resting price, 10, and ends.
    let before = balance(&s, &buyer.account());
    let bid2 = place(&s, &buyer, Side::Bid, 11, 30).await;
    assert_eq!(
        balance(&s, &buyer.account()),
        before - 30 * 10,
        "paid the resting price"
    );
    let lease = LeaseId::derive(&bid2, &ask1);

    let body = check(
        &s,
        "the book after the fill",
        get(&book),
        ok(vec![
            ("/bids", json!([level(8, 40, 1)])),
            ("/asks", json!([level(10, 70, 1), level(12, 50, 1)])),
            ("/last_trades/0/price", json!(10)),
            ("/last_trades/0/units", json!(30)),
            ("/last_trades/0/taker", json!("bid")),
            ("/last_trades/0/lease", json!(lease.to_hex())),
        ]),
    )
    .await;
    assert_eq!(
        body["last_trades"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert!(body["at_ms"].as_u64().is_some_and(|t| t > T0), "{body}");
    let top = get(&format!("{book}?levels=1"));
    check(
        &s,
        "one level",
        top,
        ok(vec![("/asks", json!([level(10, 70, 1)]))]),
    )
    .await;
    check(
        &s,
        "the class counts the fill",
        get(&one),
        ok(vec![
            ("/orders_placed", json!(4)),
            ("/traded", json!(30)),
            ("/last_price", json!(10)),
        ]),
    )
    .await;
    let classes = check(
        &s,
        "the classes",
        get("/v1/classes"),
        ok(vec![("/next", Value::Null)]),
    )
    .await;
    assert_eq!(classes["classes"][0]["name"], json!(CLASS), "{classes}");

    // Orders: the filled bid is gone; the rest page one at a time in id order.
    let orders = ("orders", "order");
    let resting = sorted(&[&ask1, &ask2, &bid1]);
    assert_eq!(paged(&s, "/v1/orders", orders, "").await, resting);
    assert_eq!(
        paged(&s, "/v1/orders", orders, &format!("class={CLASS}")).await,
        resting
    );
    let by_p1 = format!("owner={}", did(&p1));
    assert_eq!(
        paged(&s, "/v1/orders", orders, &by_p1).await,
        [ask1.to_hex()]
    );
    let elsewhere = paged(&s, "/v1/orders", orders, "class=compute.cpu").await;
    assert!(elsewhere.is_empty());
    check(
        &s,
        "one order",
        get(&format!("/v1/orders/{ask1}")),
        ok(vec![
            ("/owner", json!(did(&p1))),
            ("/remaining", json!(70)),
            ("/fills", json!(1)),
            ("/terms/side", json!("ask")),
        ]),
    )
    .await;
    let filled = get(&format!("/v1/orders/{bid2}"));
    check_error(&s, "filled", filled, StatusCode::NOT_FOUND, "unknown_order").await;

    // Leases, by buyer and by provider.
    let leases = ("leases", "lease");
    let mine = [lease.to_hex()];
    assert_eq!(
        paged(&s, "/v1/leases", leases, &format!("buyer={}", did(&buyer))).await,
        mine
    );
    assert_eq!(
        paged(&s, "/v1/leases", leases, &format!("provider={}", did(&p1))).await,
        mine
    );
    let p2_leases = paged(&s, "/v1/leases", leases, &format!("provider={}", did(&p2))).await;
    assert!(p2_leases.is_empty());
    check(
        &s,
        "the lease",
        get(&format!("/v1/leases/{lease}")),
        ok(vec![
            ("/buyer", json!(did(&buyer))),
            ("/provider", json!(did(&p1))),
            ("/class", json!(CLASS)),
            ("/price", json!(10)),
            ("/quantity", json!(30)),
            ("/delivered", json!(0)),
        ]),
    )
    .await;

    // Proved as a device proves them.
    let (genesis, sequencers) = (genesis_hash(), vec![sequencer().account()]);
    let trust = StateCheck {
        genesis: &genesis,
        sequencers: &sequencers,
        min_height: BlockHeight(0),
    };
    let (answer, _) = proved(
        &s,
        &format!("{one}?proof=true"),
        ok(vec![("/class", json!(CLASS))]),
    )
    .await;
    let class = answer
        .verify_class(CLASS, &trust)
        .expect("the proof holds")
        .expect("registered");
    assert_eq!((class.unit.as_str(), class.traded), ("msg", 30));
    assert!(
        answer.verify_class("bandwidth", &trust).is_err(),
        "proves only its own class"
    );
    let path = "/v1/classes/compute.cpu?proof=true";
    let (answer, _) = proved(&s, path, ok(vec![("/record", Value::Null)])).await;
    assert_eq!(
        answer
            .verify_class("compute.cpu", &trust)
            .expect("the proof holds"),
        None
    );

    let path = format!("/v1/orders/{ask1}?proof=true");
    let (answer, body) = proved(&s, &path, ok(vec![("/order", json!(ask1.to_hex()))])).await;
    let order = answer
        .verify_order(&ask1, &trust)
        .expect("the proof holds")
        .expect("rests");
    assert_eq!((order.owner, order.remaining), (p1.account(), 70));
    assert_eq!(body["record"]["remaining"], json!(70));
    let path = format!("/v1/orders/{bid2}?proof=true");
    let (answer, _) = proved(&s, &path, ok(vec![("/record", Value::Null)])).await;
    assert_eq!(
        answer.verify_order(&bid2, &trust).expect("the proof holds"),
        None
    );

    let path = format!("/v1/leases/{lease}?proof=true");
    let (answer, _) = proved(&s, &path, ok(vec![("/record/quantity", json!(30))])).await;
    let proved_lease = answer
        .verify_lease(&lease, &trust)
        .expect("the proof holds")
        .expect("open");
    assert_eq!(
        (proved_lease.buyer, proved_lease.price),
        (buyer.account(), Amount::new(10))
    );

    // Every unit counted: the provider is paid and the lease ends.
    let count = DeliveryCount { lease, count: 30 };
    let settle = TxKind::LeaseSettle {
        lease,
        count: 30,
        signature: count.sign(&buyer, &genesis),
    };
    let before = balance(&s, &p1.account());
    send(&s, &p1, settle).await;
    assert_eq!(balance(&s, &p1.account()), before + 300);
    let (answer, _) = proved(&s, &path, ok(vec![("/record", Value::Null)])).await;
    assert_eq!(
        answer
            .verify_lease(&lease, &trust)
            .expect("the proof holds"),
        None
    );
    let ended = get(&format!("/v1/leases/{lease}"));
    check_error(
        &s,
        "paid in full",
        ended,
        StatusCode::NOT_FOUND,
        "unknown_lease",
    )
    .await;
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![("/conserved", json!(true))]),
    )
    .await;
}

#[tokio::test]
async fn hostile_resource_reads_are_refused_naming_the_parameter() {
    let node = TestNode::start();
    let s = node.shared();
    let zeros = "00".repeat(32);
    let early = get(&format!("/v1/leases/{zeros}?proof=true"));
    let busy = StatusCode::SERVICE_UNAVAILABLE;
    check_error(&s, "no block yet", early, busy, "no_signed_state").await;
    register_class(&s).await;

    let bad_reads = [
        ("/v1/classes/Bandwidth", "bad_class", "name"),
        ("/v1/classes/a..b", "bad_class", "name"),
        ("/v1/classes/water.%20x", "bad_class", "name"),
        ("/v1/classes/{long}", "bad_class", "name"),
        ("/v1/classes?after=A.b", "bad_class", "after"),
        ("/v1/classes?limit=0", "page_too_large", "limit"),
        ("/v1/classes?colour=red", "invalid_query", "colour"),
        ("/v1/classes/{class}?proof=maybe", "invalid_query", "proof"),
        ("/v1/books/UP", "bad_class", "class"),
        ("/v1/books/{class}?levels=0", "invalid_query", "levels"),
        ("/v1/books/{class}?levels=51", "invalid_query", "levels"),
        (
            "/v1/books/{class}?levels=4294967296000",
            "invalid_query",
            "levels",
        ),
        (
            "/v1/books/{class}?levels=99999999999999999999",
            "invalid_query",
            "levels",
        ),
        ("/v1/books/{class}?levels=-1", "invalid_query", "levels"),
        ("/v1/books/{class}?depth=3", "invalid_query", "depth"),
        ("/v1/books/{class}?proof=true", "invalid_query", "proof"),
        ("/v1/orders/xyz", "bad_order_id", "id"),
        ("/v1/orders/{zeros}00", "bad_order_id", "id"),
        ("/v1/orders/{zeros}?proof=maybe", "invalid_query", "proof"),
        ("/v1/orders?after=00", "bad_order_id", "after"),
        ("/v1/orders?owner=nobody", "bad_account_id", "owner"),
        ("/v1/orders?class=Up", "bad_class", "class"),
        ("/v1/orders?limit=201", "page_too_large", "limit"),
        ("/v1/orders?side=bid", "invalid_query", "side"),
        ("/v1/leases/xyz?proof=true", "bad_lease_id", "id"),
        ("/v1/leases?after=zz", "bad_lease_id", "after"),
        ("/v1/leases?buyer=x", "bad_account_id", "buyer"),
        ("/v1/leases?provider=x", "bad_account_id", "provider"),
        ("/v1/leases?class=a.", "bad_class", "class"),
        ("/v1/leases?limit=0", "page_too_large", "limit"),
    ];
    let long = ["a"; 9].join(".");
    let filled = |path: &str| {
        path.replace("{zeros}", &zeros)
            .replace("{class}", CLASS)
            .replace("{long}", &long)
    };
    for (path, code, field) in bad_reads {
        let path = filled(path);
        let (status, body) = call(&s, get(&path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], json!(code), "{path}: {body}");
        let message = body["error"]["message"].as_str().expect("a message");
        assert!(message.contains(field), "{path}: names {field}: {body}");
    }
    let misses = [
        ("/v1/classes/compute.cpu", "unknown_class"),
        ("/v1/books/compute.cpu", "unknown_class"),
        ("/v1/orders/{zeros}", "unknown_order"),
        ("/v1/leases/{zeros}", "unknown_lease"),
    ];
    for (path, code) in misses {
        let path = filled(path);
        check_error(&s, &path, get(&path), StatusCode::NOT_FOUND, code).await;
    }
    // The most a book shows is answered.
    let most = format!("/v1/books/{CLASS}?levels=50");
    check(
        &s,
        "fifty levels",
        get(&most),
        ok(vec![("/bids", json!([]))]),
    )
    .await;
    check_still_serving(&s, "after hostile resource reads").await;
}
