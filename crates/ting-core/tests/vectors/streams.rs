//! Data-stream vectors, checked by hand from docs/wire.md §16 and through
//! ting-core: consent records laid out byte by byte, signed, hashed and
//! decoded, every invalid one refused with its code; the consent filter's
//! outputs over the vector's readings; chunks rebuilt from their points and
//! links and verified from the position the one before left; epoch keys
//! derived with HKDF here, and their points and the key sealed to a buyer
//! opened.

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
use ting_core::keys;
use ting_core::seal::MessagingSecret;
use ting_core::stream::chunk::{Chunk, Position};
use ting_core::stream::epoch::{derive_epoch_key, EpochKey};
use ting_core::stream::StreamId;
use ting_core::{Amount, Hash32, Keypair, Timestamp};

use super::{account, dec_u64, flip, hash, hex32, hex_bytes, list, sha256, signature};

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
