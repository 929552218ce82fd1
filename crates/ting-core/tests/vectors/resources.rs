//! Order-book vectors, checked by hand from docs/wire.md §18 and through
//! ting-core: the five resource transactions' fields, the class definition
//! and order terms laid out byte by byte; order and lease ids derived; the
//! buyer's delivery counts rebuilt, signed again and verified (and refused
//! for another lease, network, count or buyer); and class, order and lease
//! records with their state-map keys and value hashes (§18.5).

use serde_json::Value;
use ting_core::encoding::{Reader, Writer};
use ting_core::limits::ORDER_DEPOSIT;
use ting_core::resource::class::Delivery;
use ting_core::resource::{
    DeliveryCount, Lease, LeaseId, Order, OrderId, OrderTerms, ResourceClass, Side,
};
use ting_core::state_map;
use ting_core::state_tree::bucket_of;
use ting_core::tx::TxKind;
use ting_core::{keys, Amount, Hash32, Keypair, Nonce, SignedTx, Timestamp};

use super::{account, dec_u64, flip, hash, hex32, hex_bytes, list, sha256, signature, vectors};

fn genesis_hash() -> Hash32 {
    hash(&list("genesis")[0]["genesis_hash_hex"])
}

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

fn short_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(u8::try_from(bytes.len()).expect("short"));
    out.extend_from_slice(bytes);
}

fn section(name: &str) -> &'static [Value] {
    vectors()["resources"][name]
        .as_array()
        .unwrap_or_else(|| panic!("resources.{name} is an array"))
}

const KINDS: [&str; 5] = [
    "class_register",
    "order_place",
    "order_cancel",
    "lease_settle",
    "lease_close",
];

/// Whether `kind` is one of the five resource kinds.
pub(super) fn is_resource_kind(kind: &str) -> bool {
    KINDS.contains(&kind)
}

// ---- Through the API ----

fn order_terms_from(f: &Value) -> OrderTerms {
    OrderTerms {
        class: text(&f["class"]).into(),
        side: Side::from_name(text(&f["side"])).expect("bid or ask"),
        price: Amount::new(dec_u64(&f["price"])),
        quantity: dec_u64(&f["quantity"]),
        expires_at: Timestamp(dec_u64(&f["expires_at"])),
    }
}

/// The resource kind named `kind` from a transaction vector's fields.
pub(super) fn resource_kind_from_fields(kind: &str, f: &Value) -> TxKind {
    let lease = || LeaseId(hash(&f["lease"]));
    match kind {
        "class_register" => TxKind::ClassRegister {
            name: text(&f["name"]).into(),
            unit: text(&f["unit"]).into(),
            lease_ms: dec_u64(&f["lease_ms"]),
        },
        "order_place" => TxKind::OrderPlace {
            terms: order_terms_from(f),
        },
        "order_cancel" => TxKind::OrderCancel {
            order: OrderId(hash(&f["order"])),
        },
        "lease_settle" => TxKind::LeaseSettle {
            lease: lease(),
            count: dec_u64(&f["count"]),
            signature: signature(&f["signature"]),
        },
        "lease_close" => TxKind::LeaseClose {
            lease: lease(),
            count: (!f["count"].is_null())
                .then(|| (dec_u64(&f["count"]), signature(&f["signature"]))),
        },
        other => panic!("not a resource kind: {other}"),
    }
}

// ---- By hand from docs/wire.md §18 ----

/// A class definition (§18.2): name, unit, lease_ms, delivery 1.
fn definition_by_hand(f: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    short_bytes(&mut b, text(&f["name"]).as_bytes());
    short_bytes(&mut b, text(&f["unit"]).as_bytes());
    b.extend_from_slice(&dec_u64(&f["lease_ms"]).to_le_bytes());
    b.push(1);
    b
}

/// Order terms (§18.3): class, side (0 bid, 1 ask), price, quantity, expires_at.
fn order_terms_by_hand(f: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    short_bytes(&mut b, text(&f["class"]).as_bytes());
    b.push(match text(&f["side"]) {
        "bid" => 0,
        "ask" => 1,
        other => panic!("side {other}"),
    });
    for field in ["price", "quantity", "expires_at"] {
        b.extend_from_slice(&dec_u64(&f[field]).to_le_bytes());
    }
    b
}

/// The kind tag and fields of a resource transaction, from the tables of
/// docs/wire.md §18.1; `None` for other kinds.
pub(super) fn resource_fields_by_hand(kind: &str, f: &Value) -> Option<Vec<u8>> {
    let tag = match kind {
        "class_register" => 0x50,
        "order_place" => 0x51,
        "order_cancel" => 0x52,
        "lease_settle" => 0x53,
        "lease_close" => 0x54,
        _ => return None,
    };
    let mut b = vec![tag];
    match kind {
        "class_register" => b.extend_from_slice(&definition_by_hand(f)),
        "order_place" => b.extend_from_slice(&order_terms_by_hand(f)),
        "order_cancel" => b.extend_from_slice(&hex32(&f["order"])),
        "lease_settle" => {
            b.extend_from_slice(&hex32(&f["lease"]));
            b.extend_from_slice(&dec_u64(&f["count"]).to_le_bytes());
            b.extend_from_slice(&hex_bytes(&f["signature"]));
        }
        _ => {
            b.extend_from_slice(&hex32(&f["lease"]));
            if f["count"].is_null() {
                b.push(0);
            } else {
                b.push(1);
                b.extend_from_slice(&dec_u64(&f["count"]).to_le_bytes());
                b.extend_from_slice(&hex_bytes(&f["signature"]));
            }
        }
    }
    Some(b)
}

// ---- Ids and counts ----

/// `"ting:lease-count:v1" || genesis || lease || count u64`, 91 bytes.
fn count_message_by_hand(genesis: &[u8; 32], lease: &[u8; 32], count: u64) -> Vec<u8> {
    let m = [
        b"ting:lease-count:v1".as_slice(),
        genesis,
        lease,
        &count.to_le_bytes(),
    ]
    .concat();
    assert_eq!(m.len(), 91);
    m
}

/// A buyer's count rebuilt, signed again with its seed and verified
/// through ting-core; refused for another lease, network, count or buyer.
fn check_count(name: &str, lease: &Value, count: u64, sig: &Value, by: &Value) {
    let g = genesis_hash();
    let key = Keypair::from_seed(hex32(&by["buyer_seed_hex"]));
    let message = count_message_by_hand(&g.0, &hex32(lease), count);
    assert_eq!(hex::encode(&message), by["message_hex"], "{name}: message");
    let sig = signature(sig);
    assert_eq!(key.sign(&message), sig, "{name}: deterministic signature");
    assert_eq!(keys::verify(&key.account(), &message, &sig), Ok(()));
    let c = DeliveryCount {
        lease: LeaseId(hash(lease)),
        count,
    };
    assert_eq!(&c.signing_message(&g)[..], &message[..], "{name}");
    assert_eq!(c.sign(&key, &g), sig, "{name}: sign");
    assert_eq!(c.verify(&g, &key.account(), &sig), Ok(()), "{name}");
    assert!(c.verify(&Hash32([0x55; 32]), &key.account(), &sig).is_err());
    let other = Keypair::from_seed([9; 32]).account();
    assert!(c.verify(&g, &other, &sig).is_err(), "{name}: another buyer");
    let more = DeliveryCount {
        count: count.wrapping_add(1),
        ..c
    };
    assert!(more.verify(&g, &key.account(), &sig).is_err(), "{name}");
    let elsewhere = DeliveryCount {
        lease: LeaseId(Hash32([7; 32])),
        ..c
    };
    assert!(elsewhere.verify(&g, &key.account(), &sig).is_err());
    let mut bad = sig;
    flip(&mut bad.0, 40);
    assert!(
        c.verify(&g, &key.account(), &bad).is_err(),
        "{name}: flipped"
    );
}

/// A resource transaction's order or lease: derived for a placement,
/// named otherwise; the definition and terms laid out by hand and
/// decoded; the count checked.
pub(super) fn check_resource_transaction(name: &str, v: &Value, tx: &SignedTx) {
    let f = &v["fields"];
    let kind = text(&v["kind"]);
    match kind {
        "class_register" => {
            let bytes = definition_by_hand(f);
            assert_eq!(hex::encode(&bytes), v["definition_hex"], "{name}");
            let mut r = Reader::new(&bytes);
            let (n, u, ms) = ResourceClass::decode_definition(&mut r).expect("decodes");
            assert_eq!(r.finish("definition"), Ok(()), "{name}: whole");
            assert_eq!(
                (n.as_str(), u.as_str()),
                (text(&f["name"]), text(&f["unit"]))
            );
            assert_eq!(ms, dec_u64(&f["lease_ms"]), "{name}");
            assert_eq!(tx.placed_order(), None, "{name}");
        }
        "order_place" => {
            let (genesis, sender, nonce) = (
                hex32(&f["genesis"]),
                hex32(&f["sender"]),
                dec_u64(&f["nonce"]),
            );
            let (id, _) = order_id_by_hand(&genesis, &sender, nonce);
            assert_eq!(hex::encode(id), v["order_id_hex"], "{name}: order id");
            assert_eq!(tx.placed_order(), Some(OrderId(Hash32(id))), "{name}");
            let terms = order_terms_by_hand(f);
            assert_eq!(hex::encode(&terms), v["terms_hex"], "{name}: terms");
            let mut r = Reader::new(&terms);
            let decoded = OrderTerms::decode(&mut r).expect("the terms decode");
            assert_eq!(r.finish("terms"), Ok(()), "{name}: whole terms");
            assert_eq!(decoded, order_terms_from(f), "{name}: decoded terms");
        }
        _ => assert_eq!(tx.placed_order(), None, "{name}"),
    }
    if matches!(kind, "lease_settle" | "lease_close") && !f["count"].is_null() {
        let count = dec_u64(&f["count"]);
        check_count(name, &f["lease"], count, &f["signature"], &v["count"]);
    }
}

/// `SHA-256("ting:order-id:v1" || genesis || sender || nonce u64)`, and its input.
fn order_id_by_hand(genesis: &[u8; 32], sender: &[u8; 32], nonce: u64) -> ([u8; 32], Vec<u8>) {
    let input = [
        b"ting:order-id:v1".as_slice(),
        genesis,
        sender,
        &nonce.to_le_bytes(),
    ]
    .concat();
    assert_eq!(input.len(), 88);
    (sha256(&[&input]), input)
}

// ---- Records ----

/// A record's bytes by §18.2 to §18.4, and the record decoded and
/// re-encoded through ting-core; with its state-map key and value.
fn record_by_hand(kind: &str, v: &Value) -> (Vec<u8>, Vec<u8>, Hash32, Hash32) {
    let r = &v["record"];
    let mut b = Vec::new();
    let u64_of = |b: &mut Vec<u8>, field: &str| {
        b.extend_from_slice(&dec_u64(&r[field]).to_le_bytes());
    };
    match kind {
        "class" => {
            assert_eq!(r["delivery"], "signed_count");
            b.extend_from_slice(&definition_by_hand(r));
            for field in ["orders_placed", "traded", "last_price", "last_trade_at"] {
                u64_of(&mut b, field);
            }
            let name = text(&r["name"]);
            let key = sha256(&[b"ting:state-key:class:v1", name.as_bytes()]);
            let value = sha256(&[b"ting:state-value:class:v1", &b]);
            let c = ResourceClass::from_record(&b).expect("the class decodes");
            assert_eq!(c.delivery, Delivery::SignedCount);
            assert_eq!(c.name, name);
            assert_eq!(state_map::class_key(name), Hash32(key));
            assert!(v["id"].is_null(), "a class is keyed by its name");
            (b, c.to_record(), Hash32(key), Hash32(value))
        }
        "order" => {
            b.extend_from_slice(&hex32(&r["owner"]));
            for field in ["seq", "placed_at", "remaining"] {
                u64_of(&mut b, field);
            }
            let fills = u16::try_from(r["fills"].as_u64().expect("a number")).expect("u16");
            b.extend_from_slice(&fills.to_le_bytes());
            u64_of(&mut b, "deposit");
            b.extend_from_slice(&order_terms_by_hand(&r["terms"]));
            let id = hex32(&v["id"]);
            let key = sha256(&[b"ting:state-key:order:v1", &id]);
            let value = sha256(&[b"ting:state-value:order:v1", &b]);
            let o = Order::from_record(&b).expect("the order decodes");
            assert_eq!(o.deposit, Amount::new(ORDER_DEPOSIT));
            assert_eq!(o.terms, order_terms_from(&r["terms"]));
            assert_eq!(o.owner, account(&r["owner"]));
            assert_eq!(state_map::order_key(&OrderId(Hash32(id))), Hash32(key));
            let locked = match o.terms.side {
                Side::Bid => o
                    .terms
                    .price
                    .checked_mul(o.remaining)
                    .and_then(|c| c.checked_add(o.deposit)),
                Side::Ask => Some(o.deposit),
            };
            assert_eq!(o.locked(), locked, "what the order locks");
            (b, o.to_record(), Hash32(key), Hash32(value))
        }
        _ => {
            b.extend_from_slice(&hex32(&r["buyer"]));
            b.extend_from_slice(&hex32(&r["provider"]));
            for field in ["price", "quantity", "delivered", "started_at", "ends_at"] {
                u64_of(&mut b, field);
            }
            short_bytes(&mut b, text(&r["class"]).as_bytes());
            let id = hex32(&v["id"]);
            let key = sha256(&[b"ting:state-key:lease:v1", &id]);
            let value = sha256(&[b"ting:state-value:lease:v1", &b]);
            let l = Lease::from_record(&b).expect("the lease decodes");
            assert_eq!(state_map::lease_key(&LeaseId(Hash32(id))), Hash32(key));
            let undelivered = dec_u64(&r["quantity"]) - dec_u64(&r["delivered"]);
            assert_eq!(
                l.locked(),
                Some(Amount::new(dec_u64(&r["price"]) * undelivered)),
                "what the lease locks"
            );
            (b, l.to_record(), Hash32(key), Hash32(value))
        }
    }
}

fn check_record(v: &Value) {
    let name = text(&v["name"]);
    let kind = text(&v["kind"]);
    let (bytes, again, key, value) = record_by_hand(kind, v);
    assert_eq!(hex::encode(&bytes), v["record_hex"], "{name}: record");
    assert_eq!(again, bytes, "{name}: re-encodes");
    assert_eq!(key.to_hex(), v["key_hex"], "{name}: key");
    assert_eq!(value.to_hex(), v["value_hash_hex"], "{name}: value");
    let bucket = u64::from(u16::from_be_bytes([key.0[0], key.0[1]]));
    assert_eq!(v["bucket"].as_u64(), Some(bucket), "{name}: bucket");
    assert_eq!(bucket_of(&key) as u64, bucket, "{name}");
    let hashed = match kind {
        "class" => state_map::class_value_hash(&bytes),
        "order" => state_map::order_value_hash(&bytes),
        _ => state_map::lease_value_hash(&bytes),
    };
    assert_eq!(hashed, value, "{name}: value hash through ting-core");
    let mut longer = bytes.clone();
    longer.push(0);
    let code = match kind {
        "class" => ResourceClass::from_record(&longer).map(|_| ()),
        "order" => Order::from_record(&longer).map(|_| ()),
        _ => Lease::from_record(&longer).map(|_| ()),
    };
    assert_eq!(code.map_err(|e| e.code()), Err("trailing_bytes"), "{name}");
}

// ---- The tests ----

#[test]
fn every_order_id_lease_id_count_and_record_vector_matches() {
    let g = genesis_hash();
    let ids = section("order_ids");
    assert!(ids
        .iter()
        .any(|v| dec_u64(&v["nonce"]) > u64::from(u32::MAX)));
    for v in ids {
        let name = &v["name"];
        assert_eq!(hash(&v["genesis"]), g, "{name}");
        let (sender, nonce) = (hex32(&v["sender"]), dec_u64(&v["nonce"]));
        let (id, input) = order_id_by_hand(&g.0, &sender, nonce);
        assert_eq!(input, hex_bytes(&v["hash_input_hex"]), "{name}: input");
        assert_eq!(hex::encode(id), v["id_hex"], "{name}: id");
        let derived = OrderId::derive(&g, &account(&v["sender"]), Nonce(nonce));
        assert_eq!(derived, OrderId(Hash32(id)), "{name}: derive");
    }
    for v in section("lease_ids") {
        let name = &v["name"];
        let (bid, ask) = (hex32(&v["bid"]), hex32(&v["ask"]));
        let input = [b"ting:lease-id:v1".as_slice(), &bid, &ask].concat();
        assert_eq!(input.len(), 80);
        assert_eq!(input, hex_bytes(&v["hash_input_hex"]), "{name}: input");
        let id = sha256(&[&input]);
        assert_eq!(hex::encode(id), v["id_hex"], "{name}: id");
        let derived = LeaseId::derive(&OrderId(Hash32(bid)), &OrderId(Hash32(ask)));
        assert_eq!(derived, LeaseId(Hash32(id)), "{name}: derive");
        let swapped = LeaseId::derive(&OrderId(Hash32(ask)), &OrderId(Hash32(bid)));
        assert_ne!(swapped, derived, "{name}: bid first");
    }
    let counts = section("counts");
    assert!(counts.iter().any(|v| dec_u64(&v["count"]) == u64::MAX));
    for v in counts {
        let name = text(&v["name"]);
        assert_eq!(hash(&v["genesis"]), g, "{name}");
        let key = Keypair::from_seed(hex32(&v["buyer_seed_hex"]));
        assert_eq!(key.account(), account(&v["buyer"]), "{name}: buyer");
        check_count(
            name,
            &v["lease"],
            dec_u64(&v["count"]),
            &v["signature_hex"],
            v,
        );
    }
    let records = section("records");
    for kind in ["class", "order", "lease"] {
        assert!(records.iter().any(|v| v["kind"] == kind), "a {kind} record");
    }
    for side in ["bid", "ask"] {
        assert!(records.iter().any(|v| v["record"]["terms"]["side"] == side));
    }
    records.iter().for_each(check_record);
}

#[test]
fn the_resource_vectors_cover_each_kind_and_variant() {
    let txs = list("transactions");
    let has = |kind: &str, test: &dyn Fn(&Value) -> bool| {
        txs.iter().any(|v| v["kind"] == kind && test(&v["fields"]))
    };
    for kind in KINDS {
        assert!(has(kind, &|_| true), "no vector of kind {kind}");
    }
    assert!(has("order_place", &|f| f["side"] == "bid"));
    assert!(has("order_place", &|f| f["side"] == "ask"));
    assert!(has("lease_close", &|f| f["count"].is_null()));
    assert!(has("lease_close", &|f| f["count"].is_string()));
    let invalid = list("invalid_transactions");
    for (kind, at_least) in [
        ("class_register_", 3),
        ("order_place_", 3),
        ("lease_close_", 1),
    ] {
        let n = invalid
            .iter()
            .filter(|v| text(&v["name"]).starts_with(kind))
            .count();
        assert!(n >= at_least, "invalid {kind} vectors");
    }
    for name in [
        "order_place_side_2",
        "order_place_quantity_0",
        "class_register_delivery_2",
        "lease_close_count_flag_2",
    ] {
        assert!(invalid.iter().any(|v| v["name"] == name), "{name}");
    }
}

/// The sizes docs/wire.md §18.1 gives for each resource kind.
#[test]
fn resource_transactions_have_their_documented_sizes() {
    let mut seen = 0;
    for v in list("transactions") {
        let f = &v["fields"];
        let expected = match text(&v["kind"]) {
            "class_register" => 157 + text(&f["name"]).len() + text(&f["unit"]).len(),
            "order_place" => 172 + text(&f["class"]).len(),
            "order_cancel" => 178,
            "lease_settle" => 250,
            "lease_close" if f["count"].is_null() => 179,
            "lease_close" => 251,
            _ => continue,
        };
        assert_eq!(
            hex_bytes(&v["encoded_hex"]).len(),
            expected,
            "{}: size",
            v["name"]
        );
        seen += 1;
    }
    assert!(seen >= 6, "a vector of each resource kind and variant");
    // The record sizes of §18.2 to §18.4.
    for v in section("records") {
        let r = &v["record"];
        let expected = match text(&v["kind"]) {
            "class" => 43 + text(&r["name"]).len() + text(&r["unit"]).len(),
            "order" => 92 + text(&r["terms"]["class"]).len(),
            _ => 105 + text(&r["class"]).len(),
        };
        assert_eq!(hex_bytes(&v["record_hex"]).len(), expected, "{}", v["name"]);
    }
    let mut w = Writer::with_capacity(8);
    ResourceClass::encode_definition(&mut w, "a", "b", 1);
    assert_eq!(w.into_bytes().len(), 13, "the shortest definition");
}

/// Cancellations, settlements and closes name orders and leases that the
/// placement vectors make, and the settlements' counts are the buyer's.
#[test]
fn resource_vectors_act_on_the_orders_and_leases_they_make() {
    let txs = list("transactions");
    let placed: Vec<&Value> = txs.iter().filter(|v| v["kind"] == "order_place").collect();
    let order = |id: &Value| {
        placed
            .iter()
            .find(|p| p["order_id_hex"] == *id)
            .unwrap_or_else(|| panic!("order {id} is placed by a vector"))
    };
    let leases = section("lease_ids");
    for v in txs {
        let (name, f) = (&v["name"], &v["fields"]);
        match text(&v["kind"]) {
            "order_cancel" => {
                let o = order(&f["order"]);
                assert_eq!(f["sender"], o["fields"]["sender"], "{name}: its owner");
            }
            "lease_settle" | "lease_close" => {
                let l = leases
                    .iter()
                    .find(|l| l["id_hex"] == f["lease"])
                    .unwrap_or_else(|| panic!("{name}: a lease of the vectors"));
                let (bid, ask) = (order(&l["bid"]), order(&l["ask"]));
                assert_eq!(bid["fields"]["side"], "bid", "{name}");
                assert_eq!(ask["fields"]["side"], "ask", "{name}");
                let bid_price = dec_u64(&bid["fields"]["price"]);
                assert!(
                    dec_u64(&ask["fields"]["price"]) <= bid_price,
                    "{name}: crossed"
                );
                if !f["count"].is_null() {
                    let seed = hex32(&v["count"]["buyer_seed_hex"]);
                    let buyer = Keypair::from_seed(seed).account().to_hex();
                    assert_eq!(bid["fields"]["sender"], buyer.as_str(), "{name}: buyer");
                }
            }
            _ => {}
        }
    }
    for v in section("records").iter().filter(|v| v["kind"] == "lease") {
        let l = leases
            .iter()
            .find(|l| l["id_hex"] == v["id"])
            .expect("a lease of the vectors");
        let (bid, ask) = (order(&l["bid"]), order(&l["ask"]));
        assert_eq!(v["record"]["buyer"], bid["fields"]["sender"]);
        assert_eq!(v["record"]["provider"], ask["fields"]["sender"]);
        assert_eq!(
            v["record"]["price"], ask["fields"]["price"],
            "the maker's price"
        );
    }
}
