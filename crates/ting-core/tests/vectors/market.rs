//! Service-market vectors, checked by hand from docs/wire.md §17 and
//! through ting-core: the nine market transactions' fields, hold terms,
//! templates, evidence and offer terms laid out byte by byte; hold and
//! offer ids derived; the device's evidence rebuilt, its message signed
//! again and verified (and refused for another device, network or value),
//! and matched against the hold's template; and hold, offer and reputation
//! records with their state-map keys and value hashes (§17.5).

use serde_json::Value;
use ting_core::encoding::{Reader, Writer};
use ting_core::keys;
use ting_core::limits::{HOLD_DEPOSIT, OFFER_DEPOSIT};
use ting_core::market::reputation::{Reputation, Tally};
use ting_core::market::{
    Condition, Evidence, FieldRule, Hold, HoldId, HoldTerms, Offer, OfferId, OfferTerms,
    ReleaseRule, SignedEvidence, Template, Value as Observed,
};
use ting_core::state_map;
use ting_core::state_tree::bucket_of;
use ting_core::tx::TxKind;
use ting_core::{Amount, Hash32, Keypair, SignedTx, Timestamp};

use super::{account, dec_u64, flip, hash, hex32, hex_bytes, list, sha256, signature, vectors};

fn genesis_hash() -> Hash32 {
    hash(&list("genesis")[0]["genesis_hash_hex"])
}

fn text(v: &Value) -> &str {
    v.as_str().expect("a string")
}

fn items(v: &Value) -> &[Value] {
    v.as_array().expect("a list")
}

fn short_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(u8::try_from(bytes.len()).expect("short"));
    out.extend_from_slice(bytes);
}

fn market_section(name: &str) -> &'static [Value] {
    vectors()["market"][name]
        .as_array()
        .unwrap_or_else(|| panic!("market.{name} is an array"))
}

// ---- Terms, templates and evidence: through the API ----

fn rule_from(v: &Value) -> FieldRule {
    let condition = match (v.get("equals"), v.get("at_least"), v.get("at_most")) {
        (Some(e), None, None) => Condition::Equals(text(e).as_bytes().to_vec()),
        (None, Some(n), None) => Condition::AtLeast(dec_u64(n)),
        (None, None, Some(n)) => Condition::AtMost(dec_u64(n)),
        _ => panic!("exactly one of equals, at_least and at_most"),
    };
    FieldRule {
        name: text(&v["field"]).into(),
        condition,
    }
}

fn template_from(v: &Value) -> Template {
    Template {
        rules: items(v).iter().map(rule_from).collect(),
    }
}

/// Hold terms from `hold_create`'s fields (or a hold record's `terms`).
fn hold_terms_from(f: &Value) -> HoldTerms {
    let rule = match text(&f["rule"]["kind"]) {
        "payer" => ReleaseRule::Payer,
        "evidence" => ReleaseRule::Evidence {
            device: account(&f["rule"]["device"]),
            template: template_from(&f["rule"]["template"]),
        },
        "arbiter" => ReleaseRule::Arbiter,
        other => panic!("release rule {other}"),
    };
    HoldTerms {
        payee: account(&f["payee"]),
        amount: Amount::new(dec_u64(&f["amount"])),
        deadline: Timestamp(dec_u64(&f["deadline"])),
        grace_ms: dec_u64(&f["grace_ms"]),
        terms: hash(&f["terms"]),
        category: text(&f["category"]).into(),
        rule,
        arbiter: (!f["arbiter"].is_null()).then(|| account(&f["arbiter"])),
    }
}

fn evidence_from(v: &Value) -> Evidence {
    let fields = items(&v["fields"])
        .iter()
        .map(|x| {
            let value = match (x.get("text"), x.get("number")) {
                (Some(t), None) => Observed::Text(text(t).as_bytes().to_vec()),
                (None, Some(n)) => Observed::Number(dec_u64(n)),
                _ => panic!("a field is text or a number"),
            };
            (text(&x["name"]).to_owned(), value)
        })
        .collect();
    Evidence {
        hold: HoldId(hash(&v["hold"])),
        observed_at: Timestamp(dec_u64(&v["observed_at"])),
        fields,
    }
}

fn offer_terms_from(f: &Value) -> OfferTerms {
    OfferTerms {
        category: text(&f["category"]).into(),
        area: text(&f["area"]).into(),
        price: Amount::new(dec_u64(&f["price"])),
        delivery_ms: dec_u64(&f["delivery_ms"]),
        warranty_ms: dec_u64(&f["warranty_ms"]),
        terms: hash(&f["terms"]),
    }
}

// ---- The same, by hand from docs/wire.md §17 ----

/// A template: rule count, then each rule's name and condition (1 equals
/// a text; 2 at least, 3 at most a `u64`).
fn template_by_hand(v: &Value) -> Vec<u8> {
    let rules = items(v);
    let mut b = vec![u8::try_from(rules.len()).expect("few rules")];
    for r in rules {
        short_bytes(&mut b, text(&r["field"]).as_bytes());
        if let Some(e) = r.get("equals") {
            b.push(1);
            short_bytes(&mut b, text(e).as_bytes());
        } else if let Some(n) = r.get("at_least") {
            b.push(2);
            b.extend_from_slice(&dec_u64(n).to_le_bytes());
        } else {
            b.push(3);
            b.extend_from_slice(&dec_u64(&r["at_most"]).to_le_bytes());
        }
    }
    b
}

/// Hold terms (§17.2): payee, amount, deadline, grace, terms hash, category, the
/// release rule with its device and template, the arbiter flag and arbiter.
fn hold_terms_by_hand(f: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&hex32(&f["payee"]));
    b.extend_from_slice(&dec_u64(&f["amount"]).to_le_bytes());
    b.extend_from_slice(&dec_u64(&f["deadline"]).to_le_bytes());
    b.extend_from_slice(&dec_u64(&f["grace_ms"]).to_le_bytes());
    b.extend_from_slice(&hex32(&f["terms"]));
    short_bytes(&mut b, text(&f["category"]).as_bytes());
    let rule = &f["rule"];
    match text(&rule["kind"]) {
        "payer" => b.push(0),
        "evidence" => {
            b.push(1);
            b.extend_from_slice(&hex32(&rule["device"]));
            b.extend_from_slice(&template_by_hand(&rule["template"]));
        }
        _ => b.push(2),
    }
    if f["arbiter"].is_null() {
        b.push(0);
    } else {
        b.push(1);
        b.extend_from_slice(&hex32(&f["arbiter"]));
    }
    b
}

/// Evidence (§17.3): hold, observed_at, field count, then each field's
/// name and value (1 text, 2 number).
fn evidence_by_hand(v: &Value) -> Vec<u8> {
    let mut b = hex32(&v["hold"]).to_vec();
    b.extend_from_slice(&dec_u64(&v["observed_at"]).to_le_bytes());
    let fields = items(&v["fields"]);
    b.push(u8::try_from(fields.len()).expect("few fields"));
    for x in fields {
        short_bytes(&mut b, text(&x["name"]).as_bytes());
        if let Some(t) = x.get("text") {
            b.push(1);
            short_bytes(&mut b, text(t).as_bytes());
        } else {
            b.push(2);
            b.extend_from_slice(&dec_u64(&x["number"]).to_le_bytes());
        }
    }
    b
}

/// Offer terms (§17.4): category, area, price, delivery_ms, warranty_ms, terms hash.
fn offer_terms_by_hand(f: &Value) -> Vec<u8> {
    let mut b = Vec::new();
    short_bytes(&mut b, text(&f["category"]).as_bytes());
    short_bytes(&mut b, text(&f["area"]).as_bytes());
    for field in ["price", "delivery_ms", "warranty_ms"] {
        b.extend_from_slice(&dec_u64(&f[field]).to_le_bytes());
    }
    b.extend_from_slice(&hex32(&f["terms"]));
    b
}

/// The market kind named `kind` from a transaction vector's fields.
pub(super) fn market_kind_from_fields(kind: &str, f: &Value) -> TxKind {
    let hold = || HoldId(hash(&f["hold"]));
    let offer = || OfferId(hash(&f["offer"]));
    match kind {
        "hold_create" => TxKind::HoldCreate {
            terms: hold_terms_from(f),
        },
        "hold_accept" => TxKind::HoldAccept { hold: hold() },
        "hold_release" => TxKind::HoldRelease {
            hold: hold(),
            evidence: (!f["evidence"].is_null()).then(|| SignedEvidence {
                evidence: evidence_from(&f["evidence"]),
                signature: signature(&f["evidence"]["signature"]),
            }),
        },
        "hold_refund" => TxKind::HoldRefund { hold: hold() },
        "hold_dispute" => TxKind::HoldDispute {
            hold: hold(),
            reason: hash(&f["reason"]),
        },
        "hold_decide" => TxKind::HoldDecide {
            hold: hold(),
            to_payee: Amount::new(dec_u64(&f["to_payee"])),
        },
        "offer_open" => TxKind::OfferOpen {
            terms: offer_terms_from(f),
        },
        "offer_update" => TxKind::OfferUpdate {
            offer: offer(),
            terms: offer_terms_from(f),
        },
        "offer_close" => TxKind::OfferClose { offer: offer() },
        other => panic!("not a market kind: {other}"),
    }
}

/// The kind tag and fields of a market transaction, from the tables of
/// docs/wire.md §17.1; `None` for other kinds.
pub(super) fn market_fields_by_hand(kind: &str, f: &Value) -> Option<Vec<u8>> {
    let tag = match kind {
        "hold_create" => 0x40,
        "hold_accept" => 0x41,
        "hold_release" => 0x42,
        "hold_refund" => 0x43,
        "hold_dispute" => 0x44,
        "hold_decide" => 0x45,
        "offer_open" => 0x48,
        "offer_update" => 0x49,
        "offer_close" => 0x4a,
        _ => return None,
    };
    let mut b = vec![tag];
    if kind.starts_with("hold_") && kind != "hold_create" {
        b.extend_from_slice(&hex32(&f["hold"]));
    }
    if matches!(kind, "offer_update" | "offer_close") {
        b.extend_from_slice(&hex32(&f["offer"]));
    }
    match kind {
        "hold_create" => b.extend_from_slice(&hold_terms_by_hand(f)),
        "hold_release" if f["evidence"].is_null() => b.push(0),
        "hold_release" => {
            b.push(1);
            b.extend_from_slice(&evidence_by_hand(&f["evidence"]));
            b.extend_from_slice(&hex_bytes(&f["evidence"]["signature"]));
        }
        "hold_dispute" => b.extend_from_slice(&hex32(&f["reason"])),
        "hold_decide" => b.extend_from_slice(&dec_u64(&f["to_payee"]).to_le_bytes()),
        "offer_open" | "offer_update" => b.extend_from_slice(&offer_terms_by_hand(f)),
        _ => {}
    }
    Some(b)
}

// ---- Ids and evidence ----

/// `SHA-256(domain || genesis || sender || nonce u64)`, and its input.
fn id_by_hand(
    domain: &[u8],
    genesis: &[u8; 32],
    sender: &[u8; 32],
    nonce: u64,
) -> ([u8; 32], Vec<u8>) {
    let input = [domain, genesis, sender, &nonce.to_le_bytes()].concat();
    assert_eq!(input.len(), domain.len() + 72);
    (sha256(&[&input]), input)
}

/// The device's message rebuilt (`ting:hold-evidence:v1 || genesis ||
/// evidence`), signed again with its seed and verified through ting-core;
/// refused for another device, network or value.
fn check_evidence(name: &str, e: &Value, sig: &Value, by: &Value, device: &[u8; 32]) {
    let g = genesis_hash();
    let key = Keypair::from_seed(hex32(&by["device_seed_hex"]));
    assert_eq!(key.account().0, *device, "{name}: device key");
    let bytes = evidence_by_hand(e);
    assert_eq!(hex::encode(&bytes), by["evidence_hex"], "{name}: evidence");
    let message = [b"ting:hold-evidence:v1".as_slice(), &g.0, &bytes].concat();
    assert_eq!(hex::encode(&message), by["message_hex"], "{name}: message");
    let sig = signature(sig);
    assert_eq!(key.sign(&message), sig, "{name}: deterministic signature");
    assert_eq!(keys::verify(&key.account(), &message, &sig), Ok(()));

    let evidence = evidence_from(e);
    assert_eq!(evidence.check(), Ok(()), "{name}: the evidence's rules");
    let mut r = Reader::new(&bytes);
    assert_eq!(Evidence::decode(&mut r).as_ref(), Ok(&evidence), "{name}");
    assert_eq!(
        evidence.signing_message(&g),
        message,
        "{name}: signing_message"
    );
    let signed = SignedEvidence {
        evidence: evidence.clone(),
        signature: sig,
    };
    assert_eq!(evidence.clone().sign(&key, &g), signed, "{name}: sign");
    assert_eq!(signed.verify(&g, &key.account()), Ok(()), "{name}: verify");
    assert!(signed.verify(&Hash32([0x55; 32]), &key.account()).is_err());
    let other = Keypair::from_seed([9; 32]).account();
    assert!(signed.verify(&g, &other).is_err(), "{name}: another device");
    let mut later = signed.clone();
    later.evidence.observed_at = Timestamp(later.evidence.observed_at.0 + 1);
    assert!(later.verify(&g, &key.account()).is_err(), "{name}: altered");
    let mut bad = signed.clone();
    flip(&mut bad.signature.0, 40);
    assert!(bad.verify(&g, &key.account()).is_err(), "{name}: flipped");
    let whole = [bytes.as_slice(), &sig.0].concat();
    assert_eq!(
        SignedEvidence::from_bytes(&whole),
        Ok(signed),
        "{name}: signed bytes"
    );
}

/// A market transaction's hold or offer: derived for a create or an open,
/// named otherwise; terms laid out by hand and decoded; evidence checked.
pub(super) fn check_market_transaction(name: &str, v: &Value, tx: &SignedTx) {
    let f = &v["fields"];
    let kind = text(&v["kind"]);
    let (genesis, sender, nonce) = (
        hex32(&f["genesis"]),
        hex32(&f["sender"]),
        dec_u64(&f["nonce"]),
    );
    match kind {
        "hold_create" => {
            let (id, _) = id_by_hand(b"ting:hold-id:v1", &genesis, &sender, nonce);
            assert_eq!(hex::encode(id), v["hold_id_hex"], "{name}: hold id");
            assert_eq!(tx.opened_hold(), Some(HoldId(Hash32(id))), "{name}");
            assert_eq!(tx.kind().hold(), None, "{name}");
            let terms = hold_terms_by_hand(f);
            assert_eq!(hex::encode(&terms), v["terms_hex"], "{name}: terms");
            let mut r = Reader::new(&terms);
            let decoded = HoldTerms::decode(&mut r).expect("the terms decode");
            assert_eq!(r.finish("terms"), Ok(()), "{name}: whole terms");
            assert_eq!(decoded, hold_terms_from(f), "{name}: decoded terms");
            assert_eq!(
                tx.kind().counterparty(),
                Some(account(&f["payee"])),
                "{name}"
            );
        }
        "offer_open" => {
            let (id, _) = id_by_hand(b"ting:offer-id:v1", &genesis, &sender, nonce);
            assert_eq!(hex::encode(id), v["offer_id_hex"], "{name}: offer id");
            assert_eq!(tx.opened_offer(), Some(OfferId(Hash32(id))), "{name}");
        }
        _ if kind.starts_with("hold_") => {
            assert_eq!(tx.opened_hold(), None, "{name}");
            assert_eq!(tx.kind().hold(), Some(HoldId(hash(&f["hold"]))), "{name}");
        }
        _ => {
            assert_eq!(tx.opened_offer(), None, "{name}");
            assert_eq!(
                tx.kind().offer(),
                Some(OfferId(hash(&f["offer"]))),
                "{name}"
            );
        }
    }
    if kind.starts_with("offer_") && kind != "offer_close" {
        let terms = offer_terms_by_hand(f);
        assert_eq!(hex::encode(&terms), v["terms_hex"], "{name}: terms");
        let mut r = Reader::new(&terms);
        let decoded = OfferTerms::decode(&mut r).expect("the terms decode");
        assert_eq!(r.finish("terms"), Ok(()), "{name}: whole terms");
        assert_eq!(decoded, offer_terms_from(f), "{name}: decoded terms");
    }
    if kind == "hold_release" && !f["evidence"].is_null() {
        let device = hex32(&v["evidence"]["device_seed_hex"]);
        let device = Keypair::from_seed(device).account().0;
        let e = &f["evidence"];
        check_evidence(name, e, &e["signature"], &v["evidence"], &device);
    }
}

// ---- Records ----

fn tally_by_hand(b: &mut Vec<u8>, t: &Value) {
    b.extend_from_slice(&dec_u64(&t["count"]).to_le_bytes());
    b.extend_from_slice(&dec_u64(&t["value"]).to_le_bytes());
}

/// A record's bytes by §17.5, and the record decoded and re-encoded
/// through ting-core; with its state-map key and value.
fn record_by_hand(kind: &str, v: &Value) -> (Vec<u8>, Vec<u8>, Hash32, Hash32) {
    let r = &v["record"];
    let mut b = Vec::new();
    match kind {
        "hold" => {
            b.extend_from_slice(&hex32(&r["payer"]));
            b.extend_from_slice(&dec_u64(&r["deposit"]).to_le_bytes());
            b.extend_from_slice(&dec_u64(&r["created_at"]).to_le_bytes());
            let phase = ["open", "accepted", "disputed"]
                .iter()
                .position(|p| r["phase"] == *p)
                .expect("a phase");
            b.push(u8::try_from(phase).expect("small"));
            b.push(u8::from(r["unrelated"].as_bool().expect("a flag")));
            b.extend_from_slice(&hold_terms_by_hand(&r["terms"]));
            let id = hex32(&v["id"]);
            let key = sha256(&[b"ting:state-key:hold:v1", &id]);
            let value = sha256(&[b"ting:state-value:hold:v1", &b]);
            let h = Hold::from_record(&b).expect("the hold decodes");
            assert_eq!(h.deposit, Amount::new(HOLD_DEPOSIT));
            assert_eq!(h.terms, hold_terms_from(&r["terms"]));
            assert_eq!(h.phase.name(), r["phase"]);
            assert_eq!(state_map::hold_key(&HoldId(Hash32(id))), Hash32(key));
            (b, h.to_record(), Hash32(key), Hash32(value))
        }
        "offer" => {
            b.extend_from_slice(&hex32(&r["provider"]));
            b.extend_from_slice(&dec_u64(&r["deposit"]).to_le_bytes());
            b.extend_from_slice(&dec_u64(&r["opened_at"]).to_le_bytes());
            b.extend_from_slice(&offer_terms_by_hand(&r["terms"]));
            let id = hex32(&v["id"]);
            let key = sha256(&[b"ting:state-key:offer:v1", &id]);
            let value = sha256(&[b"ting:state-value:offer:v1", &b]);
            let o = Offer::from_record(&b).expect("the offer decodes");
            assert_eq!(o.deposit, Amount::new(OFFER_DEPOSIT));
            assert_eq!(o.terms, offer_terms_from(&r["terms"]));
            assert_eq!(state_map::offer_key(&OfferId(Hash32(id))), Hash32(key));
            (b, o.to_record(), Hash32(key), Hash32(value))
        }
        _ => {
            b.extend_from_slice(&hex32(&r["provider"]));
            short_bytes(&mut b, text(&r["category"]).as_bytes());
            for t in ["released", "late", "withdrawn", "lost"] {
                tally_by_hand(&mut b, &r[t]);
            }
            b.extend_from_slice(&dec_u64(&r["last_at"]).to_le_bytes());
            let buyers = items(&r["buyers"]);
            b.push(u8::try_from(buyers.len()).expect("few buyers"));
            for buyer in buyers {
                b.extend_from_slice(&hex32(buyer));
            }
            let key = sha256(&[
                b"ting:state-key:reputation:v1",
                &hex32(&r["provider"]),
                text(&r["category"]).as_bytes(),
            ]);
            let value = sha256(&[b"ting:state-value:reputation:v1", &b]);
            let rep = Reputation::from_record(&b).expect("the reputation decodes");
            let provider = account(&r["provider"]);
            assert_eq!(
                state_map::reputation_key(&provider, &rep.category),
                Hash32(key)
            );
            let tally = |t: &Value| Tally {
                count: dec_u64(&t["count"]),
                value: Amount::new(dec_u64(&t["value"])),
            };
            assert_eq!(rep.released, tally(&r["released"]));
            assert_eq!(rep.lost, tally(&r["lost"]));
            assert_eq!(
                u64::from(rep.success_ppm()),
                r["success_ppm"].as_u64().expect("ppm")
            );
            assert_eq!(
                u64::from(rep.score_ppm()),
                r["score_ppm"].as_u64().expect("ppm")
            );
            for pair in rep.buyers.windows(2) {
                assert!(pair[0] < pair[1], "buyers sorted");
            }
            (b, rep.to_record(), Hash32(key), Hash32(value))
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
        "hold" => state_map::hold_value_hash(&bytes),
        "offer" => state_map::offer_value_hash(&bytes),
        _ => state_map::reputation_value_hash(&bytes),
    };
    assert_eq!(hashed, value, "{name}: value hash through ting-core");
    let mut longer = bytes.clone();
    longer.push(0);
    let code = match kind {
        "hold" => Hold::from_record(&longer).map(|_| ()),
        "offer" => Offer::from_record(&longer).map(|_| ()),
        _ => Reputation::from_record(&longer).map(|_| ()),
    };
    assert_eq!(code.map_err(|e| e.code()), Err("trailing_bytes"), "{name}");
}

// ---- The tests ----

#[test]
fn every_hold_and_offer_id_evidence_and_record_vector_matches() {
    let g = genesis_hash();
    for (section, domain) in [
        ("hold_ids", "ting:hold-id:v1"),
        ("offer_ids", "ting:offer-id:v1"),
    ] {
        let ids = market_section(section);
        assert!(ids
            .iter()
            .any(|v| dec_u64(&v["nonce"]) > u64::from(u32::MAX)));
        for v in ids {
            let name = &v["name"];
            assert_eq!(hash(&v["genesis"]), g, "{name}");
            let (sender, nonce) = (hex32(&v["sender"]), dec_u64(&v["nonce"]));
            let (id, input) = id_by_hand(domain.as_bytes(), &g.0, &sender, nonce);
            assert_eq!(input, hex_bytes(&v["hash_input_hex"]), "{name}: input");
            assert_eq!(hex::encode(id), v["id_hex"], "{name}: id");
            let who = account(&v["sender"]);
            let derived = match section {
                "hold_ids" => HoldId::derive(&g, &who, ting_core::Nonce(nonce)).0,
                _ => OfferId::derive(&g, &who, ting_core::Nonce(nonce)).0,
            };
            assert_eq!(derived, Hash32(id), "{name}: derive");
        }
    }
    let evidence = market_section("evidence");
    assert!(evidence.iter().any(|v| v["missed_rule"].is_null()));
    assert!(evidence.iter().any(|v| v["missed_rule"].is_string()));
    for v in evidence {
        let name = text(&v["name"]);
        assert_eq!(hash(&v["genesis"]), g, "{name}");
        check_evidence(
            name,
            &v["evidence"],
            &v["signature_hex"],
            v,
            &hex32(&v["device"]),
        );
        let signed = [
            hex_bytes(&v["evidence_hex"]),
            hex_bytes(&v["signature_hex"]),
        ]
        .concat();
        assert_eq!(hex_bytes(&v["signed_hex"]), signed, "{name}: signed bytes");
        let template = template_from(&v["template"]);
        let bytes = template_by_hand(&v["template"]);
        assert_eq!(hex::encode(&bytes), v["template_hex"], "{name}: template");
        let mut w = Writer::with_capacity(64);
        template.encode(&mut w);
        assert_eq!(w.into_bytes(), bytes, "{name}: Template::encode");
        let missed = template.matches(&evidence_from(&v["evidence"])).err();
        assert_eq!(
            missed,
            v["missed_rule"].as_str(),
            "{name}: the template's verdict"
        );
    }
    let records = market_section("records");
    for kind in ["hold", "offer", "reputation"] {
        assert!(records.iter().any(|v| v["kind"] == kind), "a {kind} record");
    }
    records.iter().for_each(check_record);
}

#[test]
fn the_market_vectors_cover_each_kind_rule_and_part() {
    let txs = list("transactions");
    let has = |kind: &str, test: &dyn Fn(&Value) -> bool| {
        txs.iter().any(|v| v["kind"] == kind && test(&v["fields"]))
    };
    for kind in [
        "hold_create",
        "hold_accept",
        "hold_release",
        "hold_refund",
        "hold_dispute",
        "hold_decide",
        "offer_open",
        "offer_update",
        "offer_close",
    ] {
        assert!(has(kind, &|_| true), "no vector of kind {kind}");
    }
    for rule in ["payer", "evidence", "arbiter"] {
        assert!(
            has("hold_create", &|f| f["rule"]["kind"] == rule),
            "{rule} rule"
        );
    }
    assert!(has("hold_create", &|f| f["arbiter"].is_null()));
    assert!(has("hold_create", &|f| f["rule"]["kind"] == "payer"
        && f["arbiter"].is_string()));
    for condition in ["equals", "at_least", "at_most"] {
        let in_template = |f: &Value| {
            f["rule"]["template"]
                .as_array()
                .is_some_and(|t| t.iter().any(|r| r.get(condition).is_some()))
        };
        assert!(has("hold_create", &in_template), "a rule {condition}");
    }
    assert!(has("hold_release", &|f| f["evidence"].is_null()));
    assert!(has("hold_release", &|f| f["evidence"].is_object()));
    assert!(
        has("offer_update", &|f| f["area"] == ""),
        "an offer anywhere"
    );
    assert!(
        has("offer_open", &|f| f["area"] != ""),
        "an offer in an area"
    );
    let records = market_section("records");
    let phases: Vec<&Value> = records.iter().map(|v| &v["record"]["phase"]).collect();
    assert!(phases.contains(&&Value::from("open")) && phases.contains(&&Value::from("accepted")));
    let invalid = list("invalid_transactions");
    for kind in ["hold_create_", "hold_release_"] {
        let n = invalid
            .iter()
            .filter(|v| text(&v["name"]).starts_with(kind))
            .count();
        assert!(n >= 3, "invalid {kind} vectors");
    }
}

/// The sizes docs/wire.md §17.1 gives for each market kind.
#[test]
fn market_transactions_have_their_documented_sizes() {
    let mut seen = 0;
    for v in list("transactions") {
        let terms = || hex_bytes(&v["terms_hex"]).len();
        let expected = match text(&v["kind"]) {
            "hold_create" => 146 + terms(),
            "hold_accept" | "hold_refund" | "offer_close" => 178,
            "hold_release" if v["fields"]["evidence"].is_null() => 179,
            "hold_release" => 179 + hex_bytes(&v["evidence"]["evidence_hex"]).len() + 64,
            "hold_dispute" => 210,
            "hold_decide" => 186,
            "offer_open" => 146 + terms(),
            "offer_update" => 178 + terms(),
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
    assert!(seen >= 9, "a vector of each market kind");
    // Terms: 92 bytes for a payer rule without arbiter and a one-byte
    // category; each part adds its own.
    for v in list("transactions")
        .iter()
        .filter(|v| v["kind"] == "hold_create")
    {
        let f = &v["fields"];
        let mut size = 92 + text(&f["category"]).len() - 1;
        if f["rule"]["kind"] == "evidence" {
            size += 32 + template_by_hand(&f["rule"]["template"]).len();
        }
        if f["arbiter"].is_string() {
            size += 32;
        }
        assert_eq!(
            hex_bytes(&v["terms_hex"]).len(),
            size,
            "{}: terms size",
            v["name"]
        );
    }
}

/// Accepts, releases, refunds, disputes and decisions name holds the
/// create vectors make, sent by a party the rules allow; the offer's
/// update and close name the offer its open lists, sent by its provider.
#[test]
fn market_vectors_act_on_the_holds_and_offer_they_make() {
    let txs = list("transactions");
    let creates: Vec<&Value> = txs.iter().filter(|v| v["kind"] == "hold_create").collect();
    let hold = |id: &Value| {
        creates
            .iter()
            .find(|c| c["hold_id_hex"] == *id)
            .unwrap_or_else(|| panic!("hold {id} is created by a vector"))
    };
    for v in txs.iter().filter(|v| {
        let kind = text(&v["kind"]);
        kind.starts_with("hold_") && kind != "hold_create"
    }) {
        let (name, f) = (&v["name"], &v["fields"]);
        let c = &hold(&f["hold"])["fields"];
        let (payer, payee, arbiter) = (&c["sender"], &c["payee"], &c["arbiter"]);
        match text(&v["kind"]) {
            "hold_accept" => assert_eq!(f["sender"], *payee, "{name}"),
            "hold_release" if f["evidence"].is_object() => {
                assert_eq!(c["rule"]["kind"], "evidence", "{name}");
                assert_eq!(f["evidence"]["hold"], f["hold"], "{name}: evidence for it");
                let seed = hex32(&v["evidence"]["device_seed_hex"]);
                let device = Keypair::from_seed(seed).account().to_hex();
                assert_eq!(c["rule"]["device"], device.as_str(), "{name}: its device");
            }
            "hold_release" => assert_eq!(f["sender"], *payer, "{name}"),
            "hold_refund" => assert!(f["sender"] == *payee || f["sender"] == *payer),
            "hold_dispute" => {
                assert!(arbiter.is_string(), "{name}: a hold with an arbiter");
                assert!(f["sender"] == *payee || f["sender"] == *payer);
            }
            _ => {
                assert_eq!(f["sender"], *arbiter, "{name}: the arbiter decides");
                assert!(dec_u64(&f["to_payee"]) <= dec_u64(&c["amount"]), "{name}");
            }
        }
    }
    let open = txs
        .iter()
        .find(|v| v["kind"] == "offer_open")
        .expect("an open");
    for v in txs
        .iter()
        .filter(|v| matches!(text(&v["kind"]), "offer_update" | "offer_close"))
    {
        assert_eq!(v["fields"]["offer"], open["offer_id_hex"], "{}", v["name"]);
        assert_eq!(
            v["fields"]["sender"], open["fields"]["sender"],
            "{}",
            v["name"]
        );
    }
}
