//! Data-stream vectors, checked by hand from docs/wire.md §16 and through
//! ting-core: consent records laid out byte by byte, signed, hashed and
//! decoded, every invalid one refused with its code; the consent filter's
//! outputs over the vector's readings; chunks rebuilt from their points and
//! links and verified from the position the one before left; epoch keys
//! derived with HKDF here, and their points and the key sealed to a buyer
//! opened; and streams on the ledger (§16.6): the four stream transactions'
//! fields and terms laid out by hand, stream ids and buyers' delivery
//! acknowledgements rebuilt and verified, and stream records with their
//! state-map keys and value hashes (§15).

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use serde_json::Value;
use sha2::Sha256;
use ting_core::consent::filter::{
    ConsentFilter, Form, Reading, Released, Value as ReadingValue, Withheld,
};
use ting_core::consent::{
    AggregateOp, BuyerRule, ConsentRecord, FieldRule, FieldUse, SignedConsent,
};
use ting_core::encoding::Reader;
use ting_core::keys;
use ting_core::limits::STREAM_DEPOSIT;
use ting_core::seal::MessagingSecret;
use ting_core::state_map;
use ting_core::state_tree::bucket_of;
use ting_core::stream::chunk::{Chunk, Position};
use ting_core::stream::epoch::{derive_epoch_key, EpochKey};
use ting_core::stream::record::delivery_message;
use ting_core::stream::{
    Delivery, DeliveryAck, EpochRule, FieldKind, FieldSpec, Stream, StreamId, StreamTerms,
};
use ting_core::tx::TxKind;
use ting_core::{Amount, Hash32, Keypair, SignedTx, Timestamp};

use super::{
    account, dec_u64, flip, hash, hex32, hex_bytes, list, num_u32, sha256, signature, vectors,
};

fn genesis_hash() -> Hash32 {
    hash(&list("genesis")[0]["genesis_hash_hex"])
}

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

fn num_u8(v: &Value) -> u8 {
    u8::try_from(v.as_u64().expect("a number")).expect("a u8")
}

// ---- Consent records ----

fn use_from(v: &Value) -> FieldUse {
    match text(&v["kind"]) {
        "refused" => FieldUse::Refused,
        "raw" => FieldUse::Raw {
            round_to: dec_u64(&v["round_to"]),
        },
        "aggregate" => FieldUse::Aggregate {
            op: match text(&v["op"]) {
                "sum" => AggregateOp::Sum,
                "mean" => AggregateOp::Mean,
                other => panic!("op {other}"),
            },
            window_ms: dec_u64(&v["window_ms"]),
            round_to: dec_u64(&v["round_to"]),
        },
        "location" => FieldUse::Location {
            chars: num_u8(&v["chars"]),
        },
        other => panic!("field use {other}"),
    }
}

fn record_from(f: &Value) -> ConsentRecord {
    let fields = f["fields"].as_array().expect("fields");
    let buyers = f["buyers"].as_array().expect("buyers");
    ConsentRecord {
        genesis: hash(&f["genesis"]),
        owner: account(&f["owner"]),
        device: account(&f["device"]),
        issued_at: Timestamp(dec_u64(&f["issued_at"])),
        expires_at: Timestamp(dec_u64(&f["expires_at"])),
        min_price_per_epoch: Amount::new(dec_u64(&f["min_price_per_epoch"])),
        purpose: text(&f["purpose"]).into(),
        fields: fields
            .iter()
            .map(|x| FieldRule {
                name: text(&x["name"]).into(),
                use_: use_from(&x["use"]),
            })
            .collect(),
        buyers: buyers
            .iter()
            .map(|b| match text(&b["kind"]) {
                "account" => BuyerRule::Account(account(&b["account"])),
                "category" => BuyerRule::Category {
                    category: text(&b["category"]).into(),
                    certifiers: b["certifiers"]
                        .as_array()
                        .expect("certifiers")
                        .iter()
                        .map(account)
                        .collect(),
                },
                other => panic!("buyer kind {other}"),
            })
            .collect(),
    }
}

fn short_bytes(out: &mut Vec<u8>, s: &str) {
    out.push(u8::try_from(s.len()).expect("a short string"));
    out.extend_from_slice(s.as_bytes());
}

/// The unsigned record, from the table of docs/wire.md §16.1.
fn record_by_hand(f: &Value) -> Vec<u8> {
    let mut b = vec![1u8];
    for k in ["genesis", "owner", "device"] {
        b.extend_from_slice(&hex32(&f[k]));
    }
    for k in ["issued_at", "expires_at", "min_price_per_epoch"] {
        b.extend_from_slice(&dec_u64(&f[k]).to_le_bytes());
    }
    short_bytes(&mut b, text(&f["purpose"]));
    let fields = f["fields"].as_array().expect("fields");
    b.push(u8::try_from(fields.len()).expect("few fields"));
    for x in fields {
        short_bytes(&mut b, text(&x["name"]));
        let u = &x["use"];
        match text(&u["kind"]) {
            "refused" => b.push(0),
            "raw" => {
                b.push(1);
                b.extend_from_slice(&dec_u64(&u["round_to"]).to_le_bytes());
            }
            "aggregate" => {
                b.push(2);
                b.push(u8::from(text(&u["op"]) == "mean"));
                b.extend_from_slice(&dec_u64(&u["window_ms"]).to_le_bytes());
                b.extend_from_slice(&dec_u64(&u["round_to"]).to_le_bytes());
            }
            "location" => b.extend_from_slice(&[3, num_u8(&u["chars"])]),
            other => panic!("field use {other}"),
        }
    }
    let buyers = f["buyers"].as_array().expect("buyers");
    b.push(u8::try_from(buyers.len()).expect("few buyers"));
    for buyer in buyers {
        if text(&buyer["kind"]) == "account" {
            b.push(0);
            b.extend_from_slice(&hex32(&buyer["account"]));
        } else {
            b.push(1);
            short_bytes(&mut b, text(&buyer["category"]));
            let certifiers = buyer["certifiers"].as_array().expect("certifiers");
            b.push(u8::try_from(certifiers.len()).expect("few certifiers"));
            for c in certifiers {
                b.extend_from_slice(&hex32(c));
            }
        }
    }
    b
}

fn check_consent(v: &Value) {
    let name = &v["name"];
    let f = &v["fields"];
    let g = genesis_hash();
    assert_eq!(
        hash(&f["genesis"]),
        g,
        "{name}: bound to the vectors' genesis"
    );
    let owner = Keypair::from_seed(hex32(&v["owner_seed_hex"]));
    assert_eq!(
        owner.account(),
        account(&v["owner_public_key_hex"]),
        "{name}"
    );
    assert_eq!(owner.account(), account(&f["owner"]), "{name}: owner");

    let unsigned = record_by_hand(f);
    let message = [b"ting:consent:v1".as_slice(), &g.0, &unsigned].concat();
    assert_eq!(
        message,
        hex_bytes(&v["signing_message_hex"]),
        "{name}: message"
    );
    let sig = signature(&v["signature_hex"]);
    assert_eq!(
        keys::verify(&owner.account(), &message, &sig),
        Ok(()),
        "{name}"
    );
    assert_eq!(owner.sign(&message), sig, "{name}: deterministic signature");
    let encoded = [unsigned, sig.0.to_vec()].concat();
    assert_eq!(encoded, hex_bytes(&v["encoded_hex"]), "{name}: encoding");
    assert_eq!(
        sha256(&[&encoded[..]]),
        hex32(&v["hash_hex"]),
        "{name}: hash"
    );

    let record = record_from(f);
    let signed = record.clone().sign(&owner).expect("a valid record");
    assert_eq!(signed.encode(), encoded, "{name}: the API's encoding");
    assert_eq!(
        signed.hash(),
        hash(&v["hash_hex"]),
        "{name}: the API's hash"
    );
    let decoded = SignedConsent::decode(&encoded, &g).expect("a valid vector decodes");
    assert_eq!(decoded.record, record, "{name}: decoded fields");
    assert_eq!(decoded.signature, sig, "{name}");
    assert_eq!(decoded.verify(), Ok(()), "{name}");
    let other = SignedConsent::decode(&encoded, &Hash32([0x55; 32])).map_err(|e| e.code());
    assert_eq!(other, Err("wrong_network"), "{name}");
    for at in [0, 1, 40, 97, 120, encoded.len() - 65, encoded.len() - 1] {
        let mut bad = encoded.clone();
        flip(&mut bad, at);
        assert!(
            SignedConsent::decode(&bad, &g).is_err(),
            "{name}: byte {at}"
        );
    }
}

#[test]
fn every_consent_record_vector_matches_the_code_and_the_document() {
    let records = list("consent_records");
    assert!(records.len() >= 2);
    records.iter().for_each(check_consent);
    let uses: Vec<&str> = records
        .iter()
        .flat_map(|v| v["fields"]["fields"].as_array().expect("fields"))
        .map(|x| text(&x["use"]["kind"]))
        .collect();
    for kind in ["refused", "raw", "aggregate", "location"] {
        assert!(uses.contains(&kind), "a field used as {kind}");
    }
    for kind in ["account", "category"] {
        assert!(
            records
                .iter()
                .flat_map(|v| v["fields"]["buyers"].as_array().expect("buyers"))
                .any(|b| b["kind"] == kind),
            "a buyer by {kind}"
        );
    }
}

#[test]
fn every_invalid_consent_record_vector_is_refused_with_its_code() {
    let invalid = list("invalid_consent_records");
    let g = genesis_hash();
    for v in invalid {
        let err = SignedConsent::decode(&hex_bytes(&v["encoded_hex"]), &g)
            .expect_err("an invalid vector is refused");
        assert_eq!(err.code(), v["error"], "{}: {err}", v["name"]);
    }
    for code in [
        "unsupported_version",
        "trailing_bytes",
        "bad_consent_signature",
        "invalid_consent",
        "wrong_network",
    ] {
        assert!(invalid.iter().any(|v| v["error"] == code), "{code}");
    }
    let named_twice = invalid
        .iter()
        .find(|v| v["name"] == "field_named_twice")
        .expect("a field named twice");
    assert_eq!(named_twice["error"], "invalid_consent");
}

// ---- The consent filter ----

fn released_from(filter: &ConsentFilter, v: &Value) -> Released<'static> {
    let field = usize::try_from(v["field"].as_u64().expect("an index")).expect("small");
    assert_eq!(filter.field_name(field), Some(text(&v["field_name"])));
    let form = match text(&v["form"]) {
        "number" => Form::Number {
            value: text(&v["value"]).parse().expect("an i64"),
            at: Timestamp(dec_u64(&v["at"])),
        },
        "location" => Form::Location {
            geohash: String::from(text(&v["geohash"])).leak(),
            at: Timestamp(dec_u64(&v["at"])),
        },
        "aggregate" => Form::Aggregate {
            value: text(&v["value"]).parse().expect("an i128"),
            window_start: Timestamp(dec_u64(&v["window_start"])),
            window_ms: dec_u64(&v["window_ms"]),
            count: dec_u64(&v["count"]),
        },
        other => panic!("form {other}"),
    };
    Released { field, form }
}

fn withheld_from(v: &str) -> Withheld {
    match v {
        "refused" => Withheld::Refused,
        "not_in_force" => Withheld::NotInForce,
        "wrong_kind" => Withheld::WrongKind,
        "late" => Withheld::Late,
        "aggregating" => Withheld::Aggregating,
        other => panic!("withheld {other}"),
    }
}

/// `v / d` to the nearest multiple of `step`, halves away from zero, as
/// docs/wire.md §16.2 states it.
fn round_by_hand(v: i128, d: i128, step: i128) -> i128 {
    let n = d * step;
    let (q, r) = (v / n, v % n); // truncated towards zero
    let q = if 2 * r.abs() >= n { q + v.signum() } else { q };
    q * step
}

fn released_list(filter: &ConsentFilter, v: &Value) -> Vec<Released<'static>> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|r| released_from(filter, r))
        .collect()
}

#[test]
fn the_consent_filter_vector_releases_exactly_its_outputs() {
    let vectors = list("consent_filter");
    assert!(!vectors.is_empty());
    let mut seen_half_mean = false;
    let mut seen_negative = false;
    for v in vectors {
        let name = &v["name"];
        let record = record_from(&v["record"]);
        let windows: Vec<Option<(u64, u64)>> = record
            .fields
            .iter()
            .map(|f| match f.use_ {
                FieldUse::Aggregate {
                    window_ms,
                    round_to,
                    ..
                } => Some((window_ms, round_to)),
                _ => None,
            })
            .collect();
        let mut filter = ConsentFilter::new(record).expect("a valid record");
        let readings = v["readings"].as_array().expect("readings");
        let mut sums: Vec<Vec<i64>> = vec![Vec::new(); windows.len()];
        for (i, r) in readings.iter().enumerate() {
            let value = if r["value"]["number"].is_string() {
                ReadingValue::Number(text(&r["value"]["number"]).parse().expect("an i64"))
            } else {
                ReadingValue::Geohash(String::from(text(&r["value"]["geohash"])).leak())
            };
            let reading = Reading {
                field: String::from(text(&r["field"])).leak(),
                value,
                at: Timestamp(dec_u64(&r["at"])),
            };
            let mut closed = Vec::new();
            let out = filter.push(reading, &mut |x| closed.push(x));
            let want = if r["released"].is_null() {
                Err(withheld_from(text(&r["withheld"])))
            } else {
                Ok(released_from(&filter, &r["released"]))
            };
            assert_eq!(out, want, "{name}: reading {i}");
            assert_eq!(
                closed,
                released_list(&filter, &r["closed"]),
                "{name}: reading {i}"
            );
            if let Ok(Released {
                form: Form::Number { value, .. },
                ..
            }) = out
            {
                seen_negative |= value < 0;
            }
            if let ReadingValue::Number(x) = value {
                if out == Err(Withheld::Aggregating) {
                    let field = filter
                        .record()
                        .fields
                        .iter()
                        .position(|f| f.name == text(&r["field"]))
                        .expect("a named field");
                    sums[field].push(x);
                }
            }
        }
        let mut closed = Vec::new();
        filter.close_due(Timestamp(dec_u64(&v["close_due"]["now"])), &mut |x| {
            closed.push(x)
        });
        assert_eq!(
            closed,
            released_list(&filter, &v["close_due"]["closed"]),
            "{name}: close_due"
        );
        // Every aggregate, by hand: its window is aligned, and its value is
        // the rounded sum or mean of the readings it took.
        let all: Vec<Released<'static>> = readings
            .iter()
            .flat_map(|r| released_list(&filter, &r["closed"]))
            .chain(closed)
            .collect();
        let mut taken: Vec<usize> = vec![0; windows.len()];
        for out in all {
            let Form::Aggregate {
                value,
                window_start,
                window_ms,
                count,
            } = out.form
            else {
                continue;
            };
            let (w, step) = windows[out.field].expect("an aggregate field");
            assert_eq!(window_ms, w);
            assert_eq!(window_start.0 % w, 0, "{name}: window aligned");
            let n = usize::try_from(count).expect("small");
            let xs = &sums[out.field][taken[out.field]..taken[out.field] + n];
            taken[out.field] += n;
            let sum: i128 = xs.iter().map(|&x| i128::from(x)).sum();
            let mean = matches!(
                filter.record().fields[out.field].use_,
                FieldUse::Aggregate {
                    op: AggregateOp::Mean,
                    ..
                }
            );
            let d = if mean { i128::from(count) } else { 1 };
            let step = i128::from(step);
            assert_eq!(value, round_by_hand(sum, d, step), "{name}: aggregate");
            seen_half_mean |= mean && 2 * (sum.abs() % (d * step)) == d * step;
            seen_negative |= value < 0;
        }
    }
    assert!(seen_half_mean, "a mean that lies halfway between two steps");
    assert!(seen_negative, "a negative output");
}

// ---- Chunks ----

fn position_from(v: &Value) -> Position {
    Position {
        link: hash(&v["link"]),
        next_seq: dec_u64(&v["next_seq"]),
    }
}

fn check_chunk(v: &Value, at: &Position) -> (Chunk, Position) {
    let name = &v["name"];
    let g = genesis_hash();
    let seller = Keypair::from_seed(hex32(&v["seller_seed_hex"]));
    assert_eq!(seller.account(), account(&v["seller_public_key_hex"]));
    let start = position_from(&v["start"]);
    assert_eq!(start, *at, "{name}: starts where the chunk before ended");
    let stream = hex32(&v["stream"]);
    let epoch = dec_u64(&v["epoch"]);
    let points: Vec<Vec<u8>> = v["points_hex"]
        .as_array()
        .expect("points")
        .iter()
        .map(hex_bytes)
        .collect();
    let links = v["links_hex"].as_array().expect("links");
    assert_eq!(links.len(), points.len());
    let mut last = start.link.0;
    let mut seq = start.next_seq;
    for (p, l) in points.iter().zip(links) {
        let len = u16::try_from(p.len()).expect("a short point").to_le_bytes();
        last = sha256(&[b"ting:stream-link:v1", &last, &seq.to_le_bytes(), &len, p]);
        assert_eq!(last, hex32(l), "{name}: link of point {seq}");
        seq += 1;
    }
    let end = position_from(&v["end"]);
    assert_eq!(
        end,
        Position {
            link: Hash32(last),
            next_seq: seq
        },
        "{name}: end"
    );

    let count = u16::try_from(points.len())
        .expect("a short chunk")
        .to_le_bytes();
    let header = [
        stream.as_slice(),
        &epoch.to_le_bytes(),
        &start.next_seq.to_le_bytes(),
        &start.link.0,
        &count,
        &last,
    ]
    .concat();
    assert_eq!(header, hex_bytes(&v["header_hex"]), "{name}: header");
    let message = [b"ting:stream-chunk:v1".as_slice(), &g.0, &header].concat();
    assert_eq!(
        message,
        hex_bytes(&v["signing_message_hex"]),
        "{name}: message"
    );
    let sig = signature(&v["signature_hex"]);
    assert_eq!(
        keys::verify(&seller.account(), &message, &sig),
        Ok(()),
        "{name}"
    );
    assert_eq!(
        seller.sign(&message),
        sig,
        "{name}: deterministic signature"
    );
    let mut encoded = vec![1u8];
    encoded.extend_from_slice(&stream);
    encoded.extend_from_slice(&epoch.to_le_bytes());
    encoded.extend_from_slice(&start.next_seq.to_le_bytes());
    encoded.extend_from_slice(&start.link.0);
    encoded.extend_from_slice(&count);
    for p in &points {
        encoded.extend_from_slice(&u16::try_from(p.len()).expect("short").to_le_bytes());
        encoded.extend_from_slice(p);
    }
    encoded.extend_from_slice(&sig.0);
    assert_eq!(encoded, hex_bytes(&v["encoded_hex"]), "{name}: encoding");

    let chunk = Chunk::decode(&encoded).expect("a valid vector decodes");
    assert_eq!(chunk.encode(), encoded, "{name}: re-encoding");
    assert_eq!(chunk.stream, StreamId(Hash32(stream)));
    assert_eq!(chunk.points, points);
    assert_eq!(chunk.verify(&g, &seller.account(), at), Ok(end), "{name}");

    let code = |c: &Chunk, at: &Position| c.verify(&g, &seller.account(), at).map_err(|e| e.code());
    let mut changed = chunk.clone();
    flip(&mut changed.points[0], 0);
    assert_eq!(
        code(&changed, at),
        Err("bad_signature"),
        "{name}: changed point"
    );
    let mut epoch_moved = chunk.clone();
    epoch_moved.epoch += 1;
    assert_eq!(
        code(&epoch_moved, at),
        Err("bad_signature"),
        "{name}: epoch"
    );
    let stranger = Keypair::from_seed([0x42; 32]).account();
    let other = chunk.verify(&g, &stranger, at).map_err(|e| e.code());
    assert_eq!(other, Err("bad_signature"), "{name}: another seller");
    let other_net = chunk.verify(&Hash32([0x55; 32]), &seller.account(), at);
    assert_eq!(
        other_net.map_err(|e| e.code()),
        Err("bad_signature"),
        "{name}"
    );
    // Checked again from where it ends, it is a repeat.
    assert_eq!(code(&chunk, &end), Err("stream_gap"), "{name}: repeated");
    let elsewhere = Position {
        link: Hash32([0x11; 32]),
        next_seq: at.next_seq,
    };
    assert_eq!(code(&chunk, &elsewhere), Err("broken_link"), "{name}");
    (chunk, end)
}

#[test]
fn the_chunk_vectors_verify_one_after_the_other() {
    let chunks = list("chunks");
    assert!(chunks.len() >= 2);
    let mut at = Position::START;
    let mut verified = Vec::new();
    for v in chunks {
        let (chunk, end) = check_chunk(v, &at);
        verified.push(chunk);
        at = end;
    }
    let g = genesis_hash();
    let seller = account(&chunks[0]["seller_public_key_hex"]);
    // The second chunk taken at the stream's start: the first is missing.
    let skipped = verified[1].verify(&g, &seller, &Position::START);
    assert_eq!(skipped.map_err(|e| e.code()), Err("stream_gap"));
}

// ---- Epoch keys ----

fn key_by_hand(seed: &[u8; 32], stream: &[u8; 32], epoch: u64) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(Some(b"ting:stream-epoch-key:v1"), seed);
    let mut okm = [0u8; 32];
    hk.expand(
        &[stream.as_slice(), &epoch.to_le_bytes()].concat(),
        &mut okm,
    )
    .expect("32 bytes");
    okm
}

fn check_epoch_key(v: &Value) -> EpochKey {
    let name = &v["name"];
    let seed = hex32(&v["seller_seed_hex"]);
    let stream = hex32(&v["stream"]);
    let epoch = dec_u64(&v["epoch"]);
    let key = hex32(&v["key_hex"]);
    assert_eq!(key_by_hand(&seed, &stream, epoch), key, "{name}: HKDF");
    let sid = StreamId(Hash32(stream));
    let derived = derive_epoch_key(&Keypair::from_seed(seed), &sid, epoch);
    assert_eq!(derived.0, key, "{name}: derive_epoch_key");

    let p = &v["point"];
    let seq = dec_u64(&p["seq"]);
    let plain = hex_bytes(&p["plain_hex"]);
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&seq.to_le_bytes());
    assert_eq!(nonce.to_vec(), hex_bytes(&p["nonce_hex"]), "{name}: nonce");
    let aad = [
        b"ting:stream-point:v1".as_slice(),
        &stream,
        &epoch.to_le_bytes(),
        &seq.to_le_bytes(),
    ]
    .concat();
    assert_eq!(aad, hex_bytes(&p["aad_hex"]), "{name}: aad");
    let mut body = plain.clone();
    let tag = ChaCha20Poly1305::new(&Key::from(key))
        .encrypt_inout_detached(&Nonce::from(nonce), &aad, body.as_mut_slice().into())
        .expect("a short point");
    body.extend_from_slice(&tag);
    let sealed = hex_bytes(&p["sealed_hex"]);
    assert_eq!(body, sealed, "{name}: ChaCha20-Poly1305");
    assert_eq!(
        derived.seal(&sid, epoch, seq, &plain),
        sealed,
        "{name}: seal"
    );
    assert_eq!(derived.open(&sid, epoch, seq, &sealed), Ok(plain.clone()));
    let code = |e: u64, s: u64, b: &[u8]| derived.open(&sid, e, s, b).map_err(|e| e.code());
    assert_eq!(
        code(epoch, seq + 1, &sealed),
        Err("bad_point"),
        "{name}: seq"
    );
    assert_eq!(
        code(epoch + 1, seq, &sealed),
        Err("bad_point"),
        "{name}: epoch"
    );
    assert_eq!(code(epoch, seq, &sealed[..15]), Err("truncated"), "{name}");
    let mut changed = sealed.clone();
    flip(&mut changed, 0);
    assert_eq!(
        code(epoch, seq, &changed),
        Err("bad_point"),
        "{name}: changed"
    );

    let b = &v["sealed_to_buyer"];
    if !b.is_null() {
        let secret = MessagingSecret::derive(&hex32(&b["buyer_seed_hex"]));
        assert_eq!(secret.to_bytes(), hex32(&b["buyer_x25519_secret_hex"]));
        assert_eq!(
            secret.public().to_hex(),
            text(&b["buyer_messaging_key_hex"])
        );
        let key_aad = [
            b"ting:stream-epoch-key-sealed:v1".as_slice(),
            &stream,
            &epoch.to_le_bytes(),
        ]
        .concat();
        assert_eq!(key_aad, hex_bytes(&b["aad_hex"]), "{name}: key aad");
        let to_buyer = hex_bytes(&b["sealed_hex"]);
        assert_eq!(to_buyer.len(), 32 + 32 + 16, "{name}: enc, key and tag");
        let opened = EpochKey::open_from(&secret, &sid, epoch, &to_buyer).expect("it opens");
        assert_eq!(opened.0, key, "{name}: the buyer's key");
        let elsewhere = EpochKey::open_from(&secret, &sid, epoch + 1, &to_buyer);
        assert_eq!(elsewhere.map_err(|e| e.code()), Err("bad_ciphertext"));
        let mut rng = super::TestRng(7);
        let again = derived
            .seal_to(&secret.public(), &sid, epoch, &mut rng)
            .expect("a valid key");
        let opened = EpochKey::open_from(&secret, &sid, epoch, &again).expect("it opens");
        assert_eq!(opened.0, key, "{name}: sealed afresh");
    }
    derived
}

#[test]
fn every_epoch_key_vector_derives_its_key_and_opens_its_points() {
    let vectors = list("epoch_keys");
    assert!(!vectors.is_empty());
    let keys: Vec<(u64, EpochKey)> = vectors
        .iter()
        .map(|v| (dec_u64(&v["epoch"]), check_epoch_key(v)))
        .collect();
    assert!(vectors.iter().any(|v| !v["sealed_to_buyer"].is_null()));
    // The chunks' points are sealed under their epoch's key.
    for c in list("chunks") {
        let epoch = dec_u64(&c["epoch"]);
        let (_, key) = keys
            .iter()
            .find(|(e, _)| *e == epoch)
            .expect("its epoch key");
        let sid = StreamId(hash(&c["stream"]));
        let first = dec_u64(&c["start"]["next_seq"]);
        let points = c["points_hex"].as_array().expect("points");
        let plains = c["plain_points_hex"].as_array().expect("plain points");
        for (i, (p, plain)) in points.iter().zip(plains).enumerate() {
            let seq = first + u64::try_from(i).expect("small");
            let opened = key.open(&sid, epoch, seq, &hex_bytes(p));
            assert_eq!(opened, Ok(hex_bytes(plain)), "{}: point {seq}", c["name"]);
        }
    }
}

// ---- Streams on the ledger ----

fn stream_id(v: &Value) -> StreamId {
    StreamId(hash(v))
}

/// A schema field in the API's shape: `{name, unit, kind, decimals}`.
fn field_spec_from(v: &Value) -> FieldSpec {
    let kind = match text(&v["kind"]) {
        "number" => FieldKind::Number {
            decimals: num_u8(&v["decimals"]),
        },
        "location" => {
            assert!(v.get("decimals").is_none(), "a location has no decimals");
            FieldKind::Location
        }
        other => panic!("field kind {other}"),
    };
    FieldSpec {
        name: text(&v["name"]).into(),
        unit: text(&v["unit"]).into(),
        kind,
    }
}

/// Terms from `stream_open`'s fields (or a record's `terms`): exactly one
/// of `epoch_points` and `epoch_ms`.
fn terms_from(f: &Value) -> StreamTerms {
    let epoch = match (f.get("epoch_points"), f.get("epoch_ms")) {
        (Some(n), None) => EpochRule::Points(num_u32(n)),
        (None, Some(ms)) => EpochRule::Time(dec_u64(ms)),
        _ => panic!("one of epoch_points and epoch_ms"),
    };
    StreamTerms {
        fields: f["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(field_spec_from)
            .collect(),
        price_per_epoch: Amount::new(dec_u64(&f["price_per_epoch"])),
        epoch,
        area: text(&f["area"]).into(),
        consent: hash(&f["consent"]),
    }
}

/// The terms' bytes, from the table of docs/wire.md §16.6.
fn terms_by_hand(f: &Value) -> Vec<u8> {
    let fields = f["fields"].as_array().expect("fields");
    let mut b = vec![u8::try_from(fields.len()).expect("few fields")];
    for x in fields {
        short_bytes(&mut b, text(&x["name"]));
        short_bytes(&mut b, text(&x["unit"]));
        match text(&x["kind"]) {
            "number" => b.extend_from_slice(&[1, num_u8(&x["decimals"])]),
            _ => b.push(2),
        }
    }
    b.extend_from_slice(&dec_u64(&f["price_per_epoch"]).to_le_bytes());
    if let Some(n) = f.get("epoch_points") {
        b.push(1);
        b.extend_from_slice(&num_u32(n).to_le_bytes());
    } else {
        b.push(2);
        b.extend_from_slice(&dec_u64(&f["epoch_ms"]).to_le_bytes());
    }
    short_bytes(&mut b, text(&f["area"]));
    b.extend_from_slice(&hex32(&f["consent"]));
    b
}

/// The stream kind named `kind` from a transaction vector's fields.
pub(super) fn stream_kind_from_fields(kind: &str, f: &Value) -> TxKind {
    match kind {
        "stream_open" => TxKind::StreamOpen {
            terms: terms_from(f),
        },
        "stream_consent" => TxKind::StreamConsent {
            stream: stream_id(&f["stream"]),
            consent: hash(&f["consent"]),
        },
        "stream_delivery" => TxKind::StreamDelivery {
            stream: stream_id(&f["stream"]),
            ack: DeliveryAck {
                delivery: Delivery {
                    buyer: account(&f["buyer"]),
                    epochs: dec_u64(&f["epochs"]),
                    paid: Amount::new(dec_u64(&f["paid"])),
                },
                signature: signature(&f["buyer_signature"]),
            },
        },
        "stream_close" => TxKind::StreamClose {
            stream: stream_id(&f["stream"]),
        },
        other => panic!("not a stream kind: {other}"),
    }
}

/// The kind tag and fields of a stream transaction, from the tables of
/// docs/wire.md §5.3; `None` for other kinds.
pub(super) fn stream_fields_by_hand(kind: &str, f: &Value) -> Option<Vec<u8>> {
    let mut b = Vec::new();
    match kind {
        "stream_open" => {
            b.push(0x30);
            b.extend_from_slice(&terms_by_hand(f));
        }
        "stream_consent" => {
            b.push(0x31);
            b.extend_from_slice(&hex32(&f["stream"]));
            b.extend_from_slice(&hex32(&f["consent"]));
        }
        "stream_delivery" => {
            b.push(0x32);
            b.extend_from_slice(&hex32(&f["stream"]));
            b.extend_from_slice(&hex32(&f["buyer"]));
            b.extend_from_slice(&dec_u64(&f["epochs"]).to_le_bytes());
            b.extend_from_slice(&dec_u64(&f["paid"]).to_le_bytes());
            b.extend_from_slice(&hex_bytes(&f["buyer_signature"]));
        }
        "stream_close" => {
            b.push(0x33);
            b.extend_from_slice(&hex32(&f["stream"]));
        }
        _ => return None,
    }
    Some(b)
}

/// `SHA-256("ting:stream-id:v1" || genesis || seller || nonce u64)`, and its 89-byte input.
fn stream_id_by_hand(genesis: &[u8; 32], seller: &[u8; 32], nonce: u64) -> ([u8; 32], Vec<u8>) {
    let input = [
        b"ting:stream-id:v1".as_slice(),
        genesis,
        seller,
        &nonce.to_le_bytes(),
    ]
    .concat();
    assert_eq!(input.len(), 89);
    (sha256(&[&input]), input)
}

/// One acknowledgement as a buyer signs it, its parts named.
struct Ack<'a> {
    name: &'a str,
    stream: StreamId,
    buyer: &'a Value,
    epochs: u64,
    paid: u64,
    signature: &'a Value,
    /// `{buyer_seed_hex, message_hex}`.
    by: &'a Value,
}

/// The message rebuilt from docs/wire.md §16.6, signed again with the
/// buyer's seed, and checked through ting-core, refused for any other
/// stream, network or total.
fn check_ack(a: &Ack<'_>) {
    let name = a.name;
    let g = genesis_hash();
    let buyer = Keypair::from_seed(hex32(&a.by["buyer_seed_hex"]));
    assert_eq!(buyer.account(), account(a.buyer), "{name}: buyer key");
    let message = [
        b"ting:stream-delivery:v1".as_slice(),
        &g.0,
        &a.stream.0 .0,
        &buyer.account().0,
        &a.epochs.to_le_bytes(),
        &a.paid.to_le_bytes(),
    ]
    .concat();
    assert_eq!(message.len(), 135, "{name}: message length");
    assert_eq!(message, hex_bytes(&a.by["message_hex"]), "{name}: message");
    let sig = signature(a.signature);
    assert_eq!(buyer.sign(&message), sig, "{name}: deterministic signature");
    assert_eq!(keys::verify(&buyer.account(), &message, &sig), Ok(()));

    let delivery = Delivery {
        buyer: buyer.account(),
        epochs: a.epochs,
        paid: Amount::new(a.paid),
    };
    assert_eq!(
        delivery_message(&g, &a.stream, &delivery).to_vec(),
        message,
        "{name}: delivery_message"
    );
    let ack = DeliveryAck {
        delivery,
        signature: sig,
    };
    assert_eq!(ack.verify(&g, &a.stream), Ok(()), "{name}: verify");
    let signed = DeliveryAck::sign(&buyer, &g, &a.stream, a.epochs, Amount::new(a.paid));
    assert_eq!(signed, ack, "{name}: DeliveryAck::sign");
    assert!(
        ack.verify(&Hash32([0x55; 32]), &a.stream).is_err(),
        "{name}"
    );
    let other = StreamId(Hash32([0x11; 32]));
    assert!(ack.verify(&g, &other).is_err(), "{name}: another stream");
    let mut more = ack;
    more.delivery.epochs ^= 1;
    assert!(more.verify(&g, &a.stream).is_err(), "{name}: other epochs");
    let mut more = ack;
    more.delivery.paid = Amount::new(a.paid ^ 1);
    assert!(more.verify(&g, &a.stream).is_err(), "{name}: another sum");
    let mut bad = ack;
    flip(&mut bad.signature.0, 40);
    assert!(bad.verify(&g, &a.stream).is_err(), "{name}: flipped");
}

/// A stream transaction's stream: derived for an open, named otherwise;
/// an open's terms laid out by hand; a delivery's acknowledgement checked.
pub(super) fn check_stream_transaction(name: &str, v: &Value, tx: &SignedTx) {
    let f = &v["fields"];
    let kind = text(&v["kind"]);
    let consents: Vec<&Value> = list("consent_records")
        .iter()
        .map(|c| &c["hash_hex"])
        .collect();
    if kind == "stream_open" {
        let (id, _) = stream_id_by_hand(
            &hex32(&f["genesis"]),
            &hex32(&f["sender"]),
            dec_u64(&f["nonce"]),
        );
        assert_eq!(hex::encode(id), v["stream_id_hex"], "{name}: stream id");
        let id = StreamId(Hash32(id));
        assert_eq!(tx.opened_stream(), Some(id), "{name}: opened_stream");
        assert_eq!(tx.kind().stream(), None, "{name}");
        let terms = terms_by_hand(f);
        assert_eq!(hex::encode(&terms), v["terms_hex"], "{name}: terms");
        let mut r = Reader::new(&terms);
        let decoded = StreamTerms::decode(&mut r).expect("the terms decode");
        assert_eq!(r.finish("terms"), Ok(()), "{name}: whole terms");
        assert_eq!(decoded, terms_from(f), "{name}: decoded terms");
        assert_eq!(decoded.check(), Ok(()), "{name}: the terms' rules");
    } else {
        assert_eq!(tx.opened_stream(), None, "{name}");
        let stream = stream_id(&f["stream"]);
        assert_eq!(tx.kind().stream(), Some(stream), "{name}: stream");
    }
    if matches!(kind, "stream_open" | "stream_consent") {
        assert!(
            consents.contains(&&f["consent"]),
            "{name}: names a consent record vector"
        );
    }
    if kind == "stream_delivery" {
        check_ack(&Ack {
            name,
            stream: stream_id(&f["stream"]),
            buyer: &f["buyer"],
            epochs: dec_u64(&f["epochs"]),
            paid: dec_u64(&f["paid"]),
            signature: &f["buyer_signature"],
            by: &v["delivery"],
        });
        assert_eq!(
            tx.kind().counterparty(),
            Some(account(&f["buyer"])),
            "{name}: names the buyer"
        );
    }
}

/// Seller, owner, deposit, opened_at, terms, buyer count and each buyer's
/// totals, from docs/wire.md §15.2.
fn stream_record_by_hand(r: &Value, buyers: &[Value]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&hex32(&r["seller"]));
    b.extend_from_slice(&hex32(&r["owner"]));
    b.extend_from_slice(&dec_u64(&r["deposit"]).to_le_bytes());
    b.extend_from_slice(&dec_u64(&r["opened_at"]).to_le_bytes());
    b.extend_from_slice(&terms_by_hand(&r["terms"]));
    b.push(u8::try_from(buyers.len()).expect("few buyers"));
    for d in buyers {
        b.extend_from_slice(&hex32(&d["buyer"]));
        b.extend_from_slice(&dec_u64(&d["epochs"]).to_le_bytes());
        b.extend_from_slice(&dec_u64(&d["paid"]).to_le_bytes());
    }
    b
}

fn check_stream_record(v: &Value, ids: &[Value], deliveries: &[Value]) {
    let name = text(&v["name"]);
    assert_eq!(v["kind"], "stream", "{name}");
    let id = hex32(&v["id"]);
    assert!(
        ids.iter().any(|i| i["stream_id_hex"] == v["id"]),
        "{name}: an id vector derives it"
    );
    let r = &v["record"];
    let buyers = r["buyers"].as_array().expect("buyers");
    let record = stream_record_by_hand(r, buyers);
    assert_eq!(hex::encode(&record), v["record_hex"], "{name}: record");
    let key = sha256(&[b"ting:state-key:stream:v1", &id]);
    assert_eq!(hex::encode(key), v["key_hex"], "{name}: key");
    let value = sha256(&[b"ting:state-value:stream:v1", &record]);
    assert_eq!(hex::encode(value), v["value_hash_hex"], "{name}: value");
    let bucket = u64::from(u16::from_be_bytes([key[0], key[1]]));
    assert_eq!(v["bucket"].as_u64(), Some(bucket), "{name}: bucket");
    assert_eq!(bucket_of(&Hash32(key)) as u64, bucket, "{name}");

    let s = Stream::from_record(&record).expect("the record decodes");
    assert_eq!(s.to_record(), record, "{name}: re-encodes");
    assert_eq!(s.seller, account(&r["seller"]), "{name}");
    assert_eq!(s.owner, account(&r["owner"]), "{name}");
    assert_eq!(s.deposit, Amount::new(STREAM_DEPOSIT), "{name}: deposit");
    assert_eq!(s.opened_at, Timestamp(dec_u64(&r["opened_at"])), "{name}");
    assert_eq!(s.terms, terms_from(&r["terms"]), "{name}: terms");
    let sid = StreamId(Hash32(id));
    assert_eq!(
        state_map::stream_entry(&sid, &s),
        (Hash32(key), Hash32(value)),
        "{name}: stream_entry"
    );
    assert_eq!(state_map::stream_key(&sid), Hash32(key), "{name}");
    assert_eq!(state_map::stream_value_hash(&record), Hash32(value));

    // Buyers sorted by account, each the totals a buyer signed for.
    for pair in s.buyers.windows(2) {
        assert!(pair[0].buyer < pair[1].buyer, "{name}: buyers sorted");
    }
    for d in buyers {
        let signed = deliveries.iter().any(|x| {
            x["stream"] == v["id"]
                && x["buyer"] == d["buyer"]
                && x["epochs"] == d["epochs"]
                && x["paid"] == d["paid"]
        });
        assert!(signed, "{name}: {} acknowledged it", d["buyer"]);
    }
    if buyers.len() >= 2 {
        let mut swapped = buyers.to_vec();
        swapped.swap(0, 1);
        let bytes = stream_record_by_hand(r, &swapped);
        let got = Stream::from_record(&bytes).map_err(|e| e.code());
        assert_eq!(got.err(), Some("invalid_value"), "{name}: buyers unsorted");
    }
    let mut longer = record.clone();
    longer.push(0);
    let got = Stream::from_record(&longer).map_err(|e| e.code());
    assert_eq!(got.err(), Some("trailing_bytes"), "{name}: one byte more");
}

fn streams_section(name: &str) -> &'static [Value] {
    vectors()["streams"][name]
        .as_array()
        .unwrap_or_else(|| panic!("streams.{name} is an array"))
}

#[test]
fn every_stream_id_delivery_and_record_vector_matches() {
    let ids = streams_section("ids");
    assert!(!ids.is_empty());
    let g = genesis_hash();
    for v in ids {
        let name = &v["name"];
        assert_eq!(hash(&v["genesis"]), g, "{name}");
        let (seller, nonce) = (hex32(&v["seller"]), dec_u64(&v["nonce"]));
        let (id, input) = stream_id_by_hand(&g.0, &seller, nonce);
        assert_eq!(input, hex_bytes(&v["hash_input_hex"]), "{name}: input");
        assert_eq!(hex::encode(id), v["stream_id_hex"], "{name}: id");
        let derived = StreamId::derive(&g, &account(&v["seller"]), ting_core::Nonce(nonce));
        assert_eq!(derived, StreamId(Hash32(id)), "{name}: StreamId::derive");
    }
    assert!(ids
        .iter()
        .any(|v| dec_u64(&v["nonce"]) > u64::from(u32::MAX)));

    let deliveries = streams_section("deliveries");
    assert!(!deliveries.is_empty());
    for v in deliveries {
        assert_eq!(hash(&v["genesis"]), g, "{}", v["name"]);
        check_ack(&Ack {
            name: text(&v["name"]),
            stream: stream_id(&v["stream"]),
            buyer: &v["buyer"],
            epochs: dec_u64(&v["epochs"]),
            paid: dec_u64(&v["paid"]),
            signature: &v["signature_hex"],
            by: v,
        });
    }
    assert!(deliveries.iter().any(|v| dec_u64(&v["paid"]) == u64::MAX));

    let records = streams_section("records");
    assert!(!records.is_empty());
    for v in records {
        check_stream_record(v, ids, deliveries);
    }
}

#[test]
fn the_stream_records_cover_each_kind_of_part() {
    let records = streams_section("records");
    let has = |test: &dyn Fn(&Value) -> bool| records.iter().any(|v| test(&v["record"]));
    assert!(
        has(&|r| r["terms"]["epoch_ms"].is_string()),
        "an epoch of time"
    );
    assert!(
        has(&|r| r["terms"]["epoch_points"].is_u64()),
        "an epoch of points"
    );
    let fields_of = |r: &Value, kind: &str| {
        r["terms"]["fields"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["kind"] == kind))
    };
    assert!(has(&|r| fields_of(r, "number") && fields_of(r, "location")));
    let buyers = |r: &Value| r["buyers"].as_array().map_or(0, Vec::len);
    assert!(has(&|r| buyers(r) == 0), "a record with no buyer yet");
    assert!(has(&|r| buyers(r) >= 2), "a record with buyers to sort");
}

/// The sizes the tables of docs/wire.md §5.3 give for each stream kind:
/// an open is 146 bytes and its terms.
#[test]
fn stream_transactions_have_their_documented_sizes() {
    let mut seen = 0;
    for v in list("transactions") {
        let expected = match v["kind"].as_str().expect("a kind") {
            "stream_open" => 146 + hex_bytes(&v["terms_hex"]).len(),
            "stream_consent" => 210,
            "stream_delivery" => 290,
            "stream_close" => 178,
            _ => continue,
        };
        let got = hex_bytes(&v["encoded_hex"]).len();
        assert_eq!(got, expected, "{}: size", v["name"]);
        seen += 1;
    }
    assert!(seen >= 4, "a vector of each stream kind");
    // Terms: field count, each field (name, unit, kind, decimals of a
    // number), price, epoch rule, area, consent.
    let open = list("transactions")
        .iter()
        .find(|v| v["kind"] == "stream_open")
        .expect("an open");
    let f = &open["fields"];
    let fields: usize = f["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|x| {
            let number = usize::from(x["kind"] == "number");
            1 + text(&x["name"]).len() + 1 + text(&x["unit"]).len() + 1 + number
        })
        .sum();
    let epoch = if f.get("epoch_points").is_some() {
        5
    } else {
        9
    };
    let terms = 1 + fields + 8 + epoch + 1 + text(&f["area"]).len() + 32;
    assert_eq!(hex_bytes(&open["terms_hex"]).len(), terms, "terms size");
}

/// Consents, deliveries and closes name the stream the open vector opens;
/// the seller sends the delivery, and the seller or its owner (as a
/// `register_device` vector binds them) the consent and the close.
#[test]
fn stream_vectors_act_on_the_stream_they_open() {
    let txs = list("transactions");
    let open = txs
        .iter()
        .find(|v| v["kind"] == "stream_open")
        .expect("an open");
    let seller = &open["fields"]["sender"];
    let owner = &txs
        .iter()
        .find(|v| v["kind"] == "register_device" && v["fields"]["device"] == *seller)
        .expect("the seller is a registered device")["fields"]["sender"];
    for v in txs.iter().filter(|v| {
        let kind = v["kind"].as_str().unwrap_or("");
        kind.starts_with("stream_") && kind != "stream_open"
    }) {
        let (name, f) = (&v["name"], &v["fields"]);
        assert_eq!(
            f["stream"], open["stream_id_hex"],
            "{name}: the opened stream"
        );
        if v["kind"] == "stream_delivery" {
            assert_eq!(f["sender"], *seller, "{name}: sent by the seller");
            let listed = streams_section("deliveries")
                .iter()
                .any(|d| d["signature_hex"] == f["buyer_signature"]);
            assert!(listed, "{name}: its acknowledgement is a delivery vector");
        } else {
            assert!(
                f["sender"] == *seller || f["sender"] == *owner,
                "{name}: sent by the seller or its owner"
            );
        }
    }
    assert!(
        txs.iter()
            .any(|v| v["kind"] == "stream_consent" && v["fields"]["sender"] == *owner),
        "the owner acts on its device's stream"
    );
}
