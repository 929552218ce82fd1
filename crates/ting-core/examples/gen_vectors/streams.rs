//! The data-stream vectors (docs/wire.md §16): signed consent records and
//! encodings a decoder must refuse, a consent filter run over a fixed
//! sequence of readings, two consecutive chunks of one stream, and epoch
//! keys with a sealed point; and streams on the ledger (§16.6): the four
//! stream transactions, stream ids, buyers' delivery acknowledgements and
//! stream records with their state-map keys. The epoch key sealed to a
//! buyer is HPKE, which needs randomness: its vector takes its ephemeral key
//! from a fixed input (`ephemeral_ikm_hex`), as the sealed envelope vector
//! does, and a real seller never does that.

use serde_json::{json, Value};
use ting_core::consent::filter::{
    ConsentFilter, Form, Reading, Released, Value as ReadingValue, Withheld,
};
use ting_core::consent::{
    AggregateOp, BuyerRule, ConsentRecord, FieldRule, FieldUse, SignedConsent, CONSENT_DOMAIN,
};
use ting_core::limits::STREAM_DEPOSIT;
use ting_core::seal::MessagingSecret;
use ting_core::state_map;
use ting_core::state_tree::bucket_of;
use ting_core::stream::chunk::{ChunkBuilder, Position, CHUNK_DOMAIN};
use ting_core::stream::epoch::{derive_epoch_key, EPOCH_KEY_AAD, POINT_AAD};
use ting_core::stream::record::{delivery_message, STREAM_ID_DOMAIN};
use ting_core::stream::{
    link, Delivery, DeliveryAck, EpochRule, FieldKind, FieldSpec, Stream, StreamId, StreamTerms,
};
use ting_core::tx::TxKind;
use ting_core::{Amount, Hash32, Nonce, Timestamp};

use super::envelopes::FixedRng;
use super::{genesis_hash, id, key, merge, seed, spec, with_extra, TxSpec, GENESIS_MS};

const DAY_MS: u64 = 86_400_000;

/// The stream of the chunk and epoch-key vectors.
pub fn stream_id() -> StreamId {
    StreamId(Hash32::digest(&[b"ting:test-vector:stream"]))
}

// ---- Consent records ----

fn use_json(use_: FieldUse) -> Value {
    match use_ {
        FieldUse::Refused => json!({ "kind": "refused" }),
        FieldUse::Raw { round_to } => json!({ "kind": "raw", "round_to": round_to.to_string() }),
        FieldUse::Aggregate {
            op,
            window_ms,
            round_to,
        } => json!({
            "kind": "aggregate",
            "op": match op { AggregateOp::Sum => "sum", AggregateOp::Mean => "mean" },
            "window_ms": window_ms.to_string(),
            "round_to": round_to.to_string(),
        }),
        FieldUse::Location { chars } => json!({ "kind": "location", "chars": chars }),
    }
}

fn buyer_json(buyer: &BuyerRule) -> Value {
    match buyer {
        BuyerRule::Account(a) => json!({ "kind": "account", "account": a.to_hex() }),
        BuyerRule::Category {
            category,
            certifiers,
        } => json!({
            "kind": "category",
            "category": category,
            "certifiers": certifiers.iter().map(|c| c.to_hex()).collect::<Vec<_>>(),
        }),
    }
}

fn record_json(r: &ConsentRecord) -> Value {
    json!({
        "genesis": r.genesis.to_hex(),
        "owner": r.owner.to_hex(),
        "device": r.device.to_hex(),
        "issued_at": r.issued_at.0.to_string(),
        "expires_at": r.expires_at.0.to_string(),
        "min_price_per_epoch": r.min_price_per_epoch.base_units().to_string(),
        "purpose": r.purpose,
        "fields": r.fields.iter().map(|f| json!({ "name": f.name, "use": use_json(f.use_) })).collect::<Vec<_>>(),
        "buyers": r.buyers.iter().map(buyer_json).collect::<Vec<_>>(),
    })
}

fn field(name: &str, use_: FieldUse) -> FieldRule {
    FieldRule {
        name: name.into(),
        use_,
    }
}

fn base_record(fields: Vec<FieldRule>, buyers: Vec<BuyerRule>, purpose: &str) -> ConsentRecord {
    ConsentRecord {
        genesis: genesis_hash(),
        owner: id("owner"),
        device: id("device"),
        issued_at: Timestamp(GENESIS_MS),
        expires_at: Timestamp(GENESIS_MS + 365 * DAY_MS),
        min_price_per_epoch: Amount::new(5_000),
        purpose: purpose.into(),
        fields,
        buyers,
    }
}

/// The water purifier of issue 13: hardness as read, the daily consumption
/// summed to tens, the place cut to 5 geohash characters, the raw flow refused.
pub fn purifier() -> ConsentRecord {
    base_record(
        vec![
            field("hardness", FieldUse::Raw { round_to: 1 }),
            field(
                "consumption",
                FieldUse::Aggregate {
                    op: AggregateOp::Sum,
                    window_ms: DAY_MS,
                    round_to: 10,
                },
            ),
            field("position", FieldUse::Location { chars: 5 }),
            field("raw_flow", FieldUse::Refused),
        ],
        vec![BuyerRule::Account(id("bob"))],
        "city water planning",
    )
}

/// Hourly mean temperatures to any buyer two certifiers vouch for as a utility.
fn category_record() -> ConsentRecord {
    let mut r = base_record(
        vec![field(
            "temperature",
            FieldUse::Aggregate {
                op: AggregateOp::Mean,
                window_ms: 3_600_000,
                round_to: 5,
            },
        )],
        vec![BuyerRule::Category {
            category: "utility.water".into(),
            certifiers: vec![id("certifier"), id("certifier2")],
        }],
        "network load forecasting",
    );
    r.expires_at = Timestamp(GENESIS_MS + 30 * DAY_MS);
    r.min_price_per_epoch = Amount::new(0);
    r
}

fn consent_vector(name: &str, record: ConsentRecord) -> Value {
    let owner = key("owner");
    let fields = record_json(&record);
    let signed = record.sign(&owner).expect("a valid record");
    let bytes = signed.encode();
    let unsigned = &bytes[..bytes.len() - 64];
    let message = [CONSENT_DOMAIN, &genesis_hash().0, unsigned].concat();
    assert_eq!(
        SignedConsent::decode(&bytes, &genesis_hash()),
        Ok(signed.clone())
    );
    json!({
        "name": name,
        "owner_seed_hex": hex::encode(owner.seed()),
        "owner_public_key_hex": owner.account().to_hex(),
        "fields": fields,
        "signing_message_hex": hex::encode(&message),
        "signature_hex": signed.signature.to_hex(),
        "encoded_hex": hex::encode(&bytes),
        "hash_hex": signed.hash().to_hex(),
    })
}

/// The purifier's record issued again 30 days after the genesis, for a
/// year: what stream A's `stream_consent` names.
fn purifier_renewed() -> ConsentRecord {
    let mut r = purifier();
    r.issued_at = Timestamp(GENESIS_MS + 30 * DAY_MS);
    r.expires_at = Timestamp(GENESIS_MS + 395 * DAY_MS);
    r
}

/// The hash of `record` signed by `owner`: what a stream names.
fn consent_hash(record: ConsentRecord) -> Hash32 {
    record.sign(&key("owner")).expect("a valid record").hash()
}

pub fn consent_vectors() -> Vec<Value> {
    vec![
        consent_vector("water_purifier", purifier()),
        consent_vector("category_buyer", category_record()),
        consent_vector("water_purifier_renewed", purifier_renewed()),
    ]
}

/// `unsigned` signed again by the owner, so that only the rule it breaks refuses it.
fn resign(unsigned: &[u8], genesis: &Hash32) -> Vec<u8> {
    let sig = key("owner").sign_parts(&[CONSENT_DOMAIN, &genesis.0, unsigned]);
    [unsigned, &sig.0].concat()
}

/// Replaces the one occurrence of `from` in `bytes` by `to`, of the same length.
fn patch(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at: Vec<usize> = (0..=bytes.len() - from.len())
        .filter(|&i| &bytes[i..i + from.len()] == from)
        .collect();
    assert_eq!(at.len(), 1, "one occurrence");
    let mut out = bytes.to_vec();
    out[at[0]..at[0] + to.len()].copy_from_slice(to);
    out
}

/// Consent encodings that `SignedConsent::decode` with the vectors' genesis
/// must refuse, each with ting-core's code.
pub fn invalid_consent_vectors() -> Vec<Value> {
    let g = genesis_hash();
    let good = purifier().sign(&key("owner")).expect("valid").encode();
    let unsigned = &good[..good.len() - 64];
    let with = |at: usize, b: u8| {
        let mut out = good.clone();
        out[at] = b;
        out
    };
    let mut trailing = good.clone();
    trailing.push(0);
    // issued_at at 97, expires_at at 105: expire at the issue time.
    let issued = &unsigned[97..105];
    let mut expired = unsigned.to_vec();
    expired[105..113].copy_from_slice(issued);
    // Two fields whose names differ in one byte, then made the same.
    let mut twice = purifier();
    twice.fields.truncate(1);
    twice
        .fields
        .push(field("hardnesz", FieldUse::Raw { round_to: 1 }));
    let twice = twice.sign(&key("owner")).expect("valid").encode();
    let twice = patch(&twice[..twice.len() - 64], b"\x08hardnesz", b"\x08hardness");
    // A location kept to 13 characters.
    let long = patch(unsigned, b"position\x03\x05", b"position\x03\x0d");
    // A raw field rounded to multiples of 0.
    let zero = patch(unsigned, b"hardness\x01\x01", b"hardness\x01\x00");
    let mut other_net = purifier();
    other_net.genesis = Hash32::digest(&[b"ting:test-vector:other-network"]);
    let other_net = other_net.sign(&key("owner")).expect("valid").encode();
    let field_use_4 = patch(unsigned, b"raw_flow\x00", b"raw_flow\x04");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("version_2", with(0, 2), "unsupported_version"),
        ("trailing_byte", trailing, "trailing_bytes"),
        (
            "signature_cut",
            good[..good.len() - 1].to_vec(),
            "truncated",
        ),
        (
            "bad_signature",
            with(good.len() - 1, good[good.len() - 1] ^ 1),
            "bad_consent_signature",
        ),
        (
            "changed_after_signing",
            with(200, good[200] ^ 1),
            "bad_consent_signature",
        ),
        ("expires_at_issue", resign(&expired, &g), "invalid_consent"),
        ("field_named_twice", resign(&twice, &g), "invalid_consent"),
        ("geohash_13_chars", resign(&long, &g), "invalid_consent"),
        ("round_to_0", resign(&zero, &g), "invalid_consent"),
        ("field_use_4", resign(&field_use_4, &g), "invalid_value"),
        ("other_network", other_net, "wrong_network"),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, error)| {
            let got = SignedConsent::decode(&bytes, &g).map_err(|e| e.code());
            assert_eq!(got.err(), Some(error), "{name}");
            json!({ "name": name, "encoded_hex": hex::encode(bytes), "error": error })
        })
        .collect()
}

// ---- The consent filter ----

/// A record whose rules show the arithmetic: a raw field to tens, a
/// per-minute mean and an hourly sum to tens, a place cut to 4 characters.
fn filter_record() -> ConsentRecord {
    base_record(
        vec![
            field("temperature", FieldUse::Raw { round_to: 10 }),
            field(
                "pressure",
                FieldUse::Aggregate {
                    op: AggregateOp::Mean,
                    window_ms: 60_000,
                    round_to: 1,
                },
            ),
            field(
                "consumption",
                FieldUse::Aggregate {
                    op: AggregateOp::Sum,
                    window_ms: 3_600_000,
                    round_to: 10,
                },
            ),
            field("position", FieldUse::Location { chars: 4 }),
            field("raw_flow", FieldUse::Refused),
        ],
        vec![BuyerRule::Account(id("bob"))],
        "weather station",
    )
}

fn released_json(filter: &ConsentFilter, r: &Released<'_>) -> Value {
    let name = filter.field_name(r.field).expect("a field of the record");
    match r.form {
        Form::Number { value, at } => json!({
            "field": r.field, "field_name": name, "form": "number",
            "value": value.to_string(), "at": at.0.to_string(),
        }),
        Form::Location { geohash, at } => json!({
            "field": r.field, "field_name": name, "form": "location",
            "geohash": geohash, "at": at.0.to_string(),
        }),
        Form::Aggregate {
            value,
            window_start,
            window_ms,
            count,
        } => json!({
            "field": r.field, "field_name": name, "form": "aggregate",
            "value": value.to_string(), "window_start": window_start.0.to_string(),
            "window_ms": window_ms.to_string(), "count": count.to_string(),
        }),
    }
}

fn withheld_name(w: Withheld) -> &'static str {
    match w {
        Withheld::Refused => "refused",
        Withheld::NotInForce => "not_in_force",
        Withheld::WrongKind => "wrong_kind",
        Withheld::Late => "late",
        Withheld::Aggregating => "aggregating",
    }
}

pub fn consent_filter_vector() -> Value {
    let record = filter_record();
    let fields = record_json(&record);
    let mut filter = ConsentFilter::new(record).expect("a valid record");
    let t = GENESIS_MS; // 20 s into a minute, 13 min 20 s into an hour
    let n = ReadingValue::Number;
    let readings: Vec<(&str, ReadingValue<'_>, u64)> = vec![
        ("temperature", n(-125), t + 1_000),
        ("temperature", n(214), t + 2_000),
        ("temperature", n(-124), t + 2_500),
        ("position", ReadingValue::Geohash("u4pruydqqvj"), t + 3_000),
        ("raw_flow", n(7), t + 4_000),
        ("humidity", n(40), t + 4_500),
        ("pressure", n(3), t + 5_000),
        ("pressure", n(4), t + 6_000),
        ("consumption", n(1_234), t + 7_000),
        ("pressure", n(-3), t + 45_000),
        ("pressure", n(1), t + 10_000),
        ("pressure", n(-4), t + 50_000),
        ("consumption", n(-9), t + 8_000),
        ("position", n(1), t + 9_000),
        ("pressure", ReadingValue::Geohash("u4pr"), t + 9_500),
        ("position", ReadingValue::Geohash("u4pa"), t + 9_600),
        ("temperature", n(5), t - 1),
        ("consumption", n(2_000), t + 400_000),
    ];
    let mut steps = Vec::new();
    for (field, value, at) in readings {
        let mut closed = Vec::new();
        let out = filter.push(
            Reading {
                field,
                value,
                at: Timestamp(at),
            },
            &mut |r| closed.push(r),
        );
        let value_json = match value {
            ReadingValue::Number(v) => json!({ "number": v.to_string() }),
            ReadingValue::Geohash(g) => json!({ "geohash": g }),
        };
        let (released, withheld) = match out {
            Ok(r) => (released_json(&filter, &r), Value::Null),
            Err(w) => (Value::Null, json!(withheld_name(w))),
        };
        steps.push(json!({
            "field": field,
            "value": value_json,
            "at": at.to_string(),
            "released": released,
            "withheld": withheld,
            "closed": closed.iter().map(|r| released_json(&filter, r)).collect::<Vec<_>>(),
        }));
    }
    let now = t + 3_600_000;
    let mut closed = Vec::new();
    filter.close_due(Timestamp(now), &mut |r| closed.push(r));
    json!({
        "name": "weather_station",
        "record": fields,
        "readings": steps,
        "close_due": {
            "now": now.to_string(),
            "closed": closed.iter().map(|r| released_json(&filter, r)).collect::<Vec<_>>(),
        },
    })
}

// ---- Chunks and epoch keys ----

const EPOCH: u64 = 3;

fn position_json(p: &Position) -> Value {
    json!({ "link": p.link.to_hex(), "next_seq": p.next_seq.to_string() })
}

/// The plain point `seq`: a reading as the consent filter let it out.
fn plain_point(seq: u64) -> Vec<u8> {
    format!("hardness={}", 120 + seq).into_bytes()
}

/// Two consecutive chunks of epoch 3, from the stream's start: three points
/// then two, each point sealed under the epoch's key.
pub fn chunk_vectors() -> Vec<Value> {
    let seller = key("seller");
    let stream = stream_id();
    let epoch_key = derive_epoch_key(&seller, &stream, EPOCH);
    let g = genesis_hash();
    let mut at = Position::START;
    let mut out = Vec::new();
    for (name, count) in [("chunk_0", 3u64), ("chunk_1", 2)] {
        let mut builder = ChunkBuilder::new(stream, EPOCH, at);
        let mut links = Vec::new();
        let mut prev = at.link;
        let mut plains = Vec::new();
        let mut points = Vec::new();
        for seq in at.next_seq..at.next_seq + count {
            let plain = plain_point(seq);
            let point = epoch_key.seal(&stream, EPOCH, seq, &plain);
            prev = link(&prev, seq, &point);
            links.push(prev.to_hex());
            plains.push(hex::encode(&plain));
            points.push(hex::encode(&point));
            builder.push(point).expect("a small point");
        }
        let (chunk, next) = builder.sign(&seller, &g);
        assert_eq!(chunk.verify(&g, &seller.account(), &at), Ok(next));
        let mut header = Vec::new();
        header.extend_from_slice(&stream.0 .0);
        header.extend_from_slice(&EPOCH.to_le_bytes());
        header.extend_from_slice(&at.next_seq.to_le_bytes());
        header.extend_from_slice(&at.link.0);
        header.extend_from_slice(&u16::try_from(count).expect("a short chunk").to_le_bytes());
        header.extend_from_slice(&next.link.0);
        let message = [CHUNK_DOMAIN, &g.0, &header].concat();
        out.push(json!({
            "name": name,
            "seller_seed_hex": hex::encode(seller.seed()),
            "seller_public_key_hex": seller.account().to_hex(),
            "stream": stream.0.to_hex(),
            "epoch": EPOCH.to_string(),
            "start": position_json(&at),
            "plain_points_hex": plains,
            "points_hex": points,
            "links_hex": links,
            "end": position_json(&next),
            "header_hex": hex::encode(&header),
            "signing_message_hex": hex::encode(&message),
            "signature_hex": chunk.signature.to_hex(),
            "encoded_hex": hex::encode(chunk.encode()),
        }));
        at = next;
    }
    out
}

fn epoch_key_vector(epoch: u64, seq: u64, sealed_to_buyer: bool) -> Value {
    let seller = key("seller");
    let stream = stream_id();
    let k = derive_epoch_key(&seller, &stream, epoch);
    let plain = plain_point(seq);
    let sealed = k.seal(&stream, epoch, seq, &plain);
    assert_eq!(
        k.open(&stream, epoch, seq, &sealed).as_deref(),
        Ok(&plain[..])
    );
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&seq.to_le_bytes());
    let aad = [
        POINT_AAD,
        &stream.0 .0,
        &epoch.to_le_bytes(),
        &seq.to_le_bytes(),
    ]
    .concat();
    let mut v = json!({
        "name": format!("epoch_{epoch}"),
        "seller_seed_hex": hex::encode(seller.seed()),
        "stream": stream.0.to_hex(),
        "epoch": epoch.to_string(),
        "key_hex": hex::encode(k.0),
        "point": {
            "seq": seq.to_string(),
            "plain_hex": hex::encode(&plain),
            "nonce_hex": hex::encode(nonce),
            "aad_hex": hex::encode(&aad),
            "sealed_hex": hex::encode(&sealed),
        },
        "sealed_to_buyer": null,
    });
    if sealed_to_buyer {
        let buyer_seed = seed("bob");
        let buyer = MessagingSecret::derive(&buyer_seed);
        let ikm = seed("epoch-key-ephemeral");
        let to_buyer = k
            .seal_to(&buyer.public(), &stream, epoch, &mut FixedRng(ikm.to_vec()))
            .expect("a valid key");
        let key_aad = [EPOCH_KEY_AAD, &stream.0 .0, &epoch.to_le_bytes()].concat();
        v["sealed_to_buyer"] = json!({
            "buyer_seed_hex": hex::encode(buyer_seed),
            "buyer_x25519_secret_hex": hex::encode(buyer.to_bytes()),
            "buyer_messaging_key_hex": buyer.public().to_hex(),
            "aad_hex": hex::encode(&key_aad),
            "ephemeral_ikm_hex": hex::encode(ikm),
            "sealed_hex": hex::encode(&to_buyer),
        });
    }
    v
}

/// The keys of epochs 3 and 4 of the stream, each with one sealed point;
/// epoch 3's also sealed to `bob`'s messaging key with a fixed ephemeral input.
pub fn epoch_key_vectors() -> Vec<Value> {
    vec![
        epoch_key_vector(EPOCH, 1, true),
        epoch_key_vector(EPOCH + 1, 5, false),
    ]
}

// ---- Streams on the ledger ----

/// Milliseconds in an hour: stream A's epoch.
const HOUR_MS: u64 = 3_600_000;
/// What an epoch of stream A costs: the purifier's consent asks at least 5,000.
const PRICE_A: u64 = 5_000;
/// When stream A was opened (the block time the records give).
const OPENED_A_MS: u64 = GENESIS_MS + 2_000;
/// When stream B was opened.
const OPENED_B_MS: u64 = GENESIS_MS + 40 * DAY_MS;

/// The id of the stream `seller` opens with its transaction of nonce `nonce`.
fn stream_of(seller: &str, nonce: u64) -> StreamId {
    StreamId::derive(&genesis_hash(), &id(seller), Nonce(nonce))
}

/// Stream A: `device` sells the purifier's hardness (tenths of mg/l), its
/// consumption and its place cut to five characters, an hour an epoch,
/// under the `water_purifier` consent. Opened with the device's nonce 0.
fn stream_a() -> StreamId {
    stream_of("device", 0)
}

/// Stream B: the same device's temperature (hundredths of a degree), 60
/// points an epoch, under the `category_buyer` consent. Opened with its nonce 3.
fn stream_b() -> StreamId {
    stream_of("device", 3)
}

fn number(name: &str, unit: &str, decimals: u8) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        unit: unit.into(),
        kind: FieldKind::Number { decimals },
    }
}

fn terms_a() -> StreamTerms {
    StreamTerms {
        fields: vec![
            number("hardness", "mg/l", 1),
            number("consumption", "l", 0),
            FieldSpec {
                name: "position".into(),
                unit: String::new(),
                kind: FieldKind::Location,
            },
        ],
        price_per_epoch: Amount::new(PRICE_A),
        epoch: EpochRule::Time(HOUR_MS),
        area: "u4pru".into(),
        consent: consent_hash(purifier()),
    }
}

fn terms_b() -> StreamTerms {
    StreamTerms {
        fields: vec![number("temperature", "degC", 2)],
        price_per_epoch: Amount::new(1),
        epoch: EpochRule::Points(60),
        area: "u4pr".into(),
        consent: consent_hash(category_record()),
    }
}

/// A field of a schema in the shape of the API's JSON form
/// (`ting_api::stream`): `{name, unit, kind, decimals}`, no `decimals` for a location.
fn field_spec_json(f: &FieldSpec) -> Value {
    match f.kind {
        FieldKind::Number { decimals } => json!({
            "name": f.name, "unit": f.unit, "kind": "number", "decimals": decimals,
        }),
        FieldKind::Location => json!({ "name": f.name, "unit": f.unit, "kind": "location" }),
    }
}

/// Terms in the shape of the API's JSON form, `epoch_points` (a number) or
/// `epoch_ms`, with `u64` values as decimal strings like the rest of the file.
fn terms_json(t: &StreamTerms) -> Value {
    let mut v = json!({
        "fields": t.fields.iter().map(field_spec_json).collect::<Vec<_>>(),
        "price_per_epoch": t.price_per_epoch.base_units().to_string(),
        "area": t.area,
        "consent": t.consent.to_hex(),
    });
    match t.epoch {
        EpochRule::Points(n) => v["epoch_points"] = json!(n),
        EpochRule::Time(ms) => v["epoch_ms"] = json!(ms.to_string()),
    }
    v
}

fn terms_bytes(t: &StreamTerms) -> Vec<u8> {
    let mut w = ting_core::encoding::Writer::with_capacity(128);
    t.encode(&mut w);
    w.into_bytes()
}

/// `buyer`'s acknowledgement of `epochs` epochs for `paid` on `stream`.
fn ack(buyer: &str, stream: &StreamId, epochs: u64, paid: u64) -> DeliveryAck {
    let ack = DeliveryAck::sign(
        &key(buyer),
        &genesis_hash(),
        stream,
        epochs,
        Amount::new(paid),
    );
    assert_eq!(ack.verify(&genesis_hash(), stream), Ok(()));
    ack
}

/// What a reader needs to check a buyer's signature: its seed and the message.
fn ack_extra(buyer: &str, stream: &StreamId, d: &Delivery) -> Value {
    json!({
        "buyer_seed_hex": hex::encode(seed(buyer)),
        "message_hex": hex::encode(delivery_message(&genesis_hash(), stream, d)),
    })
}

/// Stream A's transactions: the device opens it, its owner names the
/// renewed consent, the device records `bob`'s acknowledgement and closes it.
pub fn stream_specs() -> Vec<TxSpec> {
    let a = stream_a();
    let terms = terms_a();
    let opened = json!({
        "stream_id_hex": a.to_hex(),
        "terms_hex": hex::encode(terms_bytes(&terms)),
    });
    let renewed = consent_hash(purifier_renewed());
    let bob = ack("bob", &a, 24, 24 * PRICE_A);
    let delivery_fields = json!({
        "stream": a.to_hex(),
        "buyer": bob.delivery.buyer.to_hex(),
        "epochs": bob.delivery.epochs.to_string(),
        "paid": bob.delivery.paid.base_units().to_string(),
        "buyer_signature": bob.signature.to_hex(),
    });
    vec![
        with_extra(
            spec(
                "stream_open",
                "device",
                0,
                (
                    TxKind::StreamOpen {
                        terms: terms.clone(),
                    },
                    terms_json(&terms),
                ),
            ),
            opened,
        ),
        spec(
            "stream_consent",
            "owner",
            6,
            (
                TxKind::StreamConsent {
                    stream: a,
                    consent: renewed,
                },
                json!({ "stream": a.to_hex(), "consent": renewed.to_hex() }),
            ),
        ),
        with_extra(
            spec(
                "stream_delivery",
                "device",
                1,
                (
                    TxKind::StreamDelivery {
                        stream: a,
                        ack: bob,
                    },
                    delivery_fields,
                ),
            ),
            json!({ "delivery": ack_extra("bob", &a, &bob.delivery) }),
        ),
        spec(
            "stream_close",
            "device",
            2,
            (
                TxKind::StreamClose { stream: a },
                json!({ "stream": a.to_hex() }),
            ),
        ),
    ]
}

fn stream_id_vector(name: &str, seller: &str, nonce: u64) -> Value {
    let input = [
        STREAM_ID_DOMAIN,
        &genesis_hash().0,
        &id(seller).0,
        &nonce.to_le_bytes(),
    ]
    .concat();
    json!({
        "name": name,
        "genesis": genesis_hash().to_hex(),
        "seller": id(seller).to_hex(),
        "nonce": nonce.to_string(),
        "hash_input_hex": hex::encode(&input),
        "stream_id_hex": stream_of(seller, nonce).to_hex(),
    })
}

fn delivery_vector(name: &str, buyer: &str, stream: &StreamId, epochs: u64, paid: u64) -> Value {
    let signed = ack(buyer, stream, epochs, paid);
    let mut v = json!({
        "name": name,
        "genesis": genesis_hash().to_hex(),
        "stream": stream.to_hex(),
        "buyer": id(buyer).to_hex(),
        "epochs": epochs.to_string(),
        "paid": paid.to_string(),
        "signature_hex": signed.signature.to_hex(),
    });
    merge(&mut v, &ack_extra(buyer, stream, &signed.delivery));
    v
}

fn stream_record_json(s: &Stream) -> Value {
    json!({
        "seller": s.seller.to_hex(),
        "owner": s.owner.to_hex(),
        "deposit": s.deposit.base_units().to_string(),
        "opened_at": s.opened_at.0.to_string(),
        "terms": terms_json(&s.terms),
        "buyers": s.buyers.iter().map(|d| json!({
            "buyer": d.buyer.to_hex(),
            "epochs": d.epochs.to_string(),
            "paid": d.paid.base_units().to_string(),
        })).collect::<Vec<_>>(),
    })
}

/// A stream record as the state map holds it, in the form of the
/// `state_proofs` entries: its fields, bytes, key, value hash and bucket.
fn stream_record_vector(name: &str, id: &StreamId, s: &Stream) -> Value {
    let record = s.to_record();
    assert_eq!(Stream::from_record(&record).as_ref(), Ok(s), "{name}");
    let (key, value) = state_map::stream_entry(id, s);
    json!({
        "name": name,
        "kind": "stream",
        "id": id.to_hex(),
        "record": stream_record_json(s),
        "record_hex": hex::encode(&record),
        "key_hex": key.to_hex(),
        "value_hash_hex": value.to_hex(),
        "bucket": bucket_of(&key),
    })
}

/// Stream ids, delivery acknowledgements, and two stream records: A with
/// the renewed consent and the deliveries of `bob` and `carol`, and B as
/// just opened.
pub fn ledger_stream_vectors() -> Value {
    let (a, b) = (stream_a(), stream_b());
    let ids = vec![
        stream_id_vector("stream_a", "device", 0),
        stream_id_vector("stream_b", "device", 3),
        stream_id_vector("full_width_nonce", "alice", 0x0102_0304_0506_0708),
    ];
    let deliveries = vec![
        delivery_vector("stream_a_bob", "bob", &a, 24, 24 * PRICE_A),
        delivery_vector("stream_a_carol", "carol", &a, 3, 3 * PRICE_A),
        delivery_vector("full_width_values", "bob", &a, u64::MAX, u64::MAX),
    ];
    let mut buyers = vec![
        ack("bob", &a, 24, 24 * PRICE_A).delivery,
        ack("carol", &a, 3, 3 * PRICE_A).delivery,
    ];
    buyers.sort_by_key(|d| d.buyer);
    let with_deliveries = Stream {
        seller: id("device"),
        owner: id("owner"),
        deposit: Amount::new(STREAM_DEPOSIT),
        opened_at: Timestamp(OPENED_A_MS),
        terms: StreamTerms {
            consent: consent_hash(purifier_renewed()),
            ..terms_a()
        },
        buyers,
    };
    let just_opened = Stream {
        seller: id("device"),
        owner: id("owner"),
        deposit: Amount::new(STREAM_DEPOSIT),
        opened_at: Timestamp(OPENED_B_MS),
        terms: terms_b(),
        buyers: Vec::new(),
    };
    let records = vec![
        stream_record_vector("stream_a_with_deliveries", &a, &with_deliveries),
        stream_record_vector("stream_b_just_opened", &b, &just_opened),
    ];
    json!({ "ids": ids, "deliveries": deliveries, "records": records })
}
