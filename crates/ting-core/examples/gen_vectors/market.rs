//! The service-market vectors (docs/wire.md §17): the nine market
//! transactions (holds with each release rule, accept, release by the
//! payer and with evidence, refund, dispute, decide, and an offer's open,
//! update and close), encodings of them a decoder must refuse, hold and
//! offer ids, a device's signed evidence, and a hold, an offer and a
//! reputation record with their state-map keys and value hashes.
//!
//! The story: `buyer` creates four holds for `provider` with its nonces 0
//! to 3: A released by `sensor`'s evidence with `arbiter` to settle
//! disputes, B by the payer alone, C by `arbiter`, D by the payer with an
//! arbiter. `provider` accepts A and releases it with the sensor's
//! evidence; `buyer` releases B; `buyer` disputes C and `arbiter` decides
//! it; `provider` refunds D; `provider` lists an offer, updates it and
//! closes it. The vectors pin encodings, ids and records; they are not a
//! block log to replay.

use serde_json::{json, Value};
use ting_core::encoding::Writer;
use ting_core::limits::{HOLD_DEPOSIT, OFFER_DEPOSIT};
use ting_core::market::reputation::{Reputation, Tally};
use ting_core::market::{
    Condition, Evidence, FieldRule, Hold, HoldId, HoldPhase, HoldTerms, Offer, OfferId, OfferTerms,
    ReleaseRule, SignedEvidence, Template, Value as Observed,
};
use ting_core::state_map;
use ting_core::state_tree::bucket_of;
use ting_core::tx::TxKind;
use ting_core::{Amount, Hash32, Nonce, SignedTx, Timestamp};

use super::{genesis_hash, id, key, merge, seed, spec, with_extra, TxSpec, GENESIS_MS};

const DAY_MS: u64 = 86_400_000;
/// When the holds were created: an hour after the genesis.
const CREATED_MS: u64 = GENESIS_MS + 3_600_000;
/// When A, C and D are due: a week after the genesis.
const DEADLINE_MS: u64 = GENESIS_MS + 7 * DAY_MS;
/// What A holds.
const AMOUNT_A: u64 = 250_000;
/// What C holds, and what the arbiter gives its payee.
const AMOUNT_C: u64 = 300_000;
const DECIDED_C: u64 = 100_000;
const CATEGORY: &str = "water.cartridge.replace";

fn hold_of(payer: &str, nonce: u64) -> HoldId {
    HoldId::derive(&genesis_hash(), &id(payer), Nonce(nonce))
}

fn offer_of(provider: &str, nonce: u64) -> OfferId {
    OfferId::derive(&genesis_hash(), &id(provider), Nonce(nonce))
}

/// What the sensor's evidence must show: the cartridge installed, a flow
/// of at least 500 ml a minute, a pressure of at most 600 kPa.
fn template() -> Template {
    Template {
        rules: vec![
            FieldRule {
                name: "event".into(),
                condition: Condition::Equals(b"cartridge_installed".to_vec()),
            },
            FieldRule {
                name: "flow_ml_min".into(),
                condition: Condition::AtLeast(500),
            },
            FieldRule {
                name: "pressure_kpa".into(),
                condition: Condition::AtMost(600),
            },
        ],
    }
}

fn proposal() -> Hash32 {
    Hash32::digest(&[b"ting:test-vector:proposal"])
}

fn terms_a() -> HoldTerms {
    HoldTerms {
        payee: id("provider"),
        amount: Amount::new(AMOUNT_A),
        deadline: Timestamp(DEADLINE_MS),
        grace_ms: 3_600_000,
        terms: proposal(),
        category: CATEGORY.into(),
        rule: ReleaseRule::Evidence {
            device: id("sensor"),
            template: template(),
        },
        arbiter: Some(id("arbiter")),
    }
}

/// The shortest terms there are: a one-letter category, the payer's rule,
/// no arbiter, one base unit.
fn terms_b() -> HoldTerms {
    HoldTerms {
        payee: id("provider"),
        amount: Amount::new(1),
        deadline: Timestamp(GENESIS_MS + DAY_MS),
        grace_ms: 0,
        terms: Hash32::ZERO,
        category: "w".into(),
        rule: ReleaseRule::Payer,
        arbiter: None,
    }
}

fn terms_c() -> HoldTerms {
    HoldTerms {
        amount: Amount::new(AMOUNT_C),
        category: "hvac.filter".into(),
        rule: ReleaseRule::Arbiter,
        ..terms_a()
    }
}

fn terms_d() -> HoldTerms {
    HoldTerms {
        amount: Amount::new(5_000),
        rule: ReleaseRule::Payer,
        ..terms_a()
    }
}

fn offer_terms() -> OfferTerms {
    OfferTerms {
        category: "water.cartridge".into(),
        area: "u4pr".into(),
        price: Amount::new(AMOUNT_A),
        delivery_ms: 2 * DAY_MS,
        warranty_ms: 180 * DAY_MS,
        terms: Hash32::digest(&[b"ting:test-vector:offer"]),
    }
}

/// The offer after its update: anywhere, cheaper, no warranty.
fn offer_terms_updated() -> OfferTerms {
    OfferTerms {
        area: String::new(),
        price: Amount::new(240_000),
        warranty_ms: 0,
        ..offer_terms()
    }
}

/// What the sensor observed on A: the cartridge installed, with `flow`.
fn evidence_a(flow: u64) -> Evidence {
    Evidence {
        hold: hold_of("buyer", 0),
        observed_at: Timestamp(GENESIS_MS + 2 * DAY_MS),
        fields: vec![
            (
                "event".into(),
                Observed::Text(b"cartridge_installed".to_vec()),
            ),
            ("flow_ml_min".into(), Observed::Number(flow)),
            ("pressure_kpa".into(), Observed::Number(410)),
            ("serial".into(), Observed::Text(b"X-2231".to_vec())),
        ],
    }
}

fn signed_a(flow: u64) -> SignedEvidence {
    let signed = evidence_a(flow).sign(&key("sensor"), &genesis_hash());
    assert_eq!(signed.verify(&genesis_hash(), &id("sensor")), Ok(()));
    signed
}

// ---- JSON forms ----

fn rule_json(rule: &FieldRule) -> Value {
    match &rule.condition {
        Condition::Equals(v) => json!({
            "field": rule.name,
            "equals": std::str::from_utf8(v).expect("the vectors' values are UTF-8"),
        }),
        Condition::AtLeast(n) => json!({ "field": rule.name, "at_least": n.to_string() }),
        Condition::AtMost(n) => json!({ "field": rule.name, "at_most": n.to_string() }),
    }
}

fn release_rule_json(rule: &ReleaseRule) -> Value {
    match rule {
        ReleaseRule::Payer => json!({ "kind": "payer" }),
        ReleaseRule::Evidence { device, template } => json!({
            "kind": "evidence",
            "device": device.to_hex(),
            "template": template.rules.iter().map(rule_json).collect::<Vec<_>>(),
        }),
        ReleaseRule::Arbiter => json!({ "kind": "arbiter" }),
    }
}

/// Hold terms in the shape of the API's JSON form (`ting_api::market`),
/// `u64` values as decimal strings like the rest of the file.
fn hold_terms_json(t: &HoldTerms) -> Value {
    json!({
        "payee": t.payee.to_hex(),
        "amount": t.amount.base_units().to_string(),
        "deadline": t.deadline.0.to_string(),
        "grace_ms": t.grace_ms.to_string(),
        "terms": t.terms.to_hex(),
        "category": t.category,
        "rule": release_rule_json(&t.rule),
        "arbiter": t.arbiter.map(|a| a.to_hex()),
    })
}

/// Evidence: its fields as a list of `{name, text}` or `{name, number}`.
fn evidence_json(e: &Evidence) -> Value {
    let fields: Vec<Value> = e
        .fields
        .iter()
        .map(|(name, v)| match v {
            Observed::Text(t) => json!({
                "name": name,
                "text": std::str::from_utf8(t).expect("the vectors' values are UTF-8"),
            }),
            Observed::Number(n) => json!({ "name": name, "number": n.to_string() }),
        })
        .collect();
    json!({
        "hold": e.hold.to_hex(),
        "observed_at": e.observed_at.0.to_string(),
        "fields": fields,
    })
}

fn signed_evidence_json(s: &SignedEvidence) -> Value {
    let mut v = evidence_json(&s.evidence);
    v["signature"] = json!(s.signature.to_hex());
    v
}

fn offer_terms_json(t: &OfferTerms) -> Value {
    json!({
        "category": t.category,
        "area": t.area,
        "price": t.price.base_units().to_string(),
        "delivery_ms": t.delivery_ms.to_string(),
        "warranty_ms": t.warranty_ms.to_string(),
        "terms": t.terms.to_hex(),
    })
}

fn bytes_of(encode: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::with_capacity(256);
    encode(&mut w);
    w.into_bytes()
}

fn hold_terms_hex(t: &HoldTerms) -> String {
    hex::encode(bytes_of(|w| t.encode(w)))
}

fn offer_terms_hex(t: &OfferTerms) -> String {
    hex::encode(bytes_of(|w| t.encode(w)))
}

// ---- Transactions ----

fn create(name: &'static str, nonce: u64, terms: HoldTerms) -> TxSpec {
    let extra = json!({
        "hold_id_hex": hold_of("buyer", nonce).to_hex(),
        "terms_hex": hold_terms_hex(&terms),
    });
    let fields = hold_terms_json(&terms);
    with_extra(
        spec(name, "buyer", nonce, (TxKind::HoldCreate { terms }, fields)),
        extra,
    )
}

fn on_hold(name: &'static str, signer: &'static str, nonce: u64, kind: TxKind) -> TxSpec {
    let hold = kind.hold().expect("a hold transaction");
    let mut fields = json!({ "hold": hold.to_hex() });
    match &kind {
        TxKind::HoldRelease { evidence, .. } => {
            fields["evidence"] = evidence.as_ref().map_or(Value::Null, signed_evidence_json);
        }
        TxKind::HoldDispute { reason, .. } => fields["reason"] = json!(reason.to_hex()),
        TxKind::HoldDecide { to_payee, .. } => {
            fields["to_payee"] = json!(to_payee.base_units().to_string());
        }
        _ => {}
    }
    spec(name, signer, nonce, (kind, fields))
}

/// What a reader needs to check the sensor's signature.
fn evidence_extra(s: &SignedEvidence) -> Value {
    json!({
        "device_seed_hex": hex::encode(seed("sensor")),
        "evidence_hex": hex::encode(bytes_of(|w| s.evidence.encode(w))),
        "message_hex": hex::encode(s.evidence.signing_message(&genesis_hash())),
    })
}

fn offer(name: &'static str, nonce: u64, kind: TxKind) -> TxSpec {
    let (fields, extra) = match &kind {
        TxKind::OfferOpen { terms } => (
            offer_terms_json(terms),
            json!({
                "offer_id_hex": offer_of("provider", nonce).to_hex(),
                "terms_hex": offer_terms_hex(terms),
            }),
        ),
        TxKind::OfferUpdate { offer, terms } => {
            let mut f = json!({ "offer": offer.to_hex() });
            merge(&mut f, &offer_terms_json(terms));
            (f, json!({ "terms_hex": offer_terms_hex(terms) }))
        }
        TxKind::OfferClose { offer } => (json!({ "offer": offer.to_hex() }), json!({})),
        _ => unreachable!("an offer kind"),
    };
    with_extra(spec(name, "provider", nonce, (kind, fields)), extra)
}

/// The market's transactions, as the module's header tells them.
pub fn market_specs() -> Vec<TxSpec> {
    let (a, b, c, d) = (
        hold_of("buyer", 0),
        hold_of("buyer", 1),
        hold_of("buyer", 2),
        hold_of("buyer", 3),
    );
    let evidence = signed_a(812);
    let o = offer_of("provider", 3);
    vec![
        create("hold_create_evidence_rule", 0, terms_a()),
        create("hold_create_payer_rule", 1, terms_b()),
        create("hold_create_arbiter_rule", 2, terms_c()),
        create("hold_create_payer_rule_with_arbiter", 3, terms_d()),
        on_hold("hold_accept", "provider", 0, TxKind::HoldAccept { hold: a }),
        with_extra(
            on_hold(
                "hold_release_with_evidence",
                "provider",
                1,
                TxKind::HoldRelease {
                    hold: a,
                    evidence: Some(evidence.clone()),
                },
            ),
            json!({ "evidence": evidence_extra(&evidence) }),
        ),
        on_hold(
            "hold_release_by_payer",
            "buyer",
            4,
            TxKind::HoldRelease {
                hold: b,
                evidence: None,
            },
        ),
        on_hold(
            "hold_dispute",
            "buyer",
            5,
            TxKind::HoldDispute {
                hold: c,
                reason: Hash32::digest(&[b"ting:test-vector:dispute"]),
            },
        ),
        on_hold(
            "hold_decide",
            "arbiter",
            0,
            TxKind::HoldDecide {
                hold: c,
                to_payee: Amount::new(DECIDED_C),
            },
        ),
        on_hold("hold_refund", "provider", 2, TxKind::HoldRefund { hold: d }),
        offer(
            "offer_open",
            3,
            TxKind::OfferOpen {
                terms: offer_terms(),
            },
        ),
        offer(
            "offer_update",
            4,
            TxKind::OfferUpdate {
                offer: o,
                terms: offer_terms_updated(),
            },
        ),
        offer("offer_close", 5, TxKind::OfferClose { offer: o }),
    ]
}

/// Encodings of the market vectors that every decoder must refuse, each
/// with the code ting-core gives. Offsets count from the kind tag `k`.
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
    // Terms from k + 1: payee [32], amount at k + 33, deadline, grace,
    // terms hash, category length at k + 89 and its bytes, then the rule
    // byte. A's category is 23 bytes, so its rule is at k + 113, its device
    // at k + 114 and its template's rule count at k + 146; B's category is
    // one byte, so its rule is at k + 91 and its arbiter flag at k + 92.
    let a = by_name("hold_create_evidence_rule");
    assert_eq!(
        [a[k + 89], a[k + 113], a[k + 146]],
        [23, 1, 3],
        "hold A's terms where the offsets say"
    );
    let b = by_name("hold_create_payer_rule");
    assert_eq!([b[k + 89], b[k + 91], b[k + 92]], [1, 0, 0]);
    let mut zero = b.clone();
    zero[k + 33..k + 41].fill(0);
    // The release's evidence flag at k + 33; the evidence's field count at
    // k + 74, its first name's length at k + 75.
    let r = by_name("hold_release_with_evidence");
    assert_eq!([r[k + 33], r[k + 74], r[k + 75]], [1, 4, 5]);
    let mut unsorted = r.clone();
    unsorted[k + 76] = b'z'; // "event" becomes "zvent", after "flow_ml_min"
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "hold_create_release_rule_3",
            with("hold_create_payer_rule", k + 91, 3),
            "invalid_value",
        ),
        (
            "hold_create_arbiter_flag_2",
            with("hold_create_payer_rule", k + 92, 2),
            "invalid_value",
        ),
        ("hold_create_amount_0", zero, "invalid_value"),
        (
            "hold_create_category_uppercase",
            with("hold_create_payer_rule", k + 90, b'W'),
            "invalid_value",
        ),
        (
            "hold_create_category_of_49_bytes",
            with("hold_create_payer_rule", k + 89, 49),
            "too_long",
        ),
        (
            "hold_create_template_of_9_rules",
            with("hold_create_evidence_rule", k + 146, 9),
            "too_long",
        ),
        (
            "hold_create_template_of_0_rules",
            with("hold_create_evidence_rule", k + 146, 0),
            "invalid_value",
        ),
        (
            "hold_release_evidence_flag_2",
            with("hold_release_with_evidence", k + 33, 2),
            "invalid_value",
        ),
        (
            "hold_release_evidence_of_9_fields",
            with("hold_release_with_evidence", k + 74, 9),
            "too_long",
        ),
        (
            "hold_release_evidence_fields_unsorted",
            unsorted,
            "invalid_value",
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

// ---- Ids, evidence and records ----

fn id_vector(name: &str, domain: &[u8], sender: &str, nonce: u64, id_hex: String) -> Value {
    let input = [
        domain,
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
        "id_hex": id_hex,
    })
}

fn evidence_vector(name: &str, flow: u64) -> Value {
    let s = signed_a(flow);
    let met = match template().matches(&s.evidence) {
        Ok(()) => Value::Null,
        Err(field) => json!(field),
    };
    let mut v = json!({
        "name": name,
        "genesis": genesis_hash().to_hex(),
        "device": id("sensor").to_hex(),
        "evidence": evidence_json(&s.evidence),
        "signature_hex": s.signature.to_hex(),
        "signed_hex": hex::encode(s.to_bytes()),
        "template": template().rules.iter().map(rule_json).collect::<Vec<_>>(),
        "template_hex": hex::encode(bytes_of(|w| template().encode(w))),
        "missed_rule": met,
    });
    merge(&mut v, &evidence_extra(&s));
    v
}

fn tally_json(t: Tally) -> Value {
    json!({ "count": t.count.to_string(), "value": t.value.base_units().to_string() })
}

fn hold_json(h: &Hold) -> Value {
    json!({
        "payer": h.payer.to_hex(),
        "deposit": h.deposit.base_units().to_string(),
        "created_at": h.created_at.0.to_string(),
        "phase": h.phase.name(),
        "unrelated": h.unrelated,
        "terms": hold_terms_json(&h.terms),
    })
}

fn offer_json(o: &Offer) -> Value {
    json!({
        "provider": o.provider.to_hex(),
        "deposit": o.deposit.base_units().to_string(),
        "opened_at": o.opened_at.0.to_string(),
        "terms": offer_terms_json(&o.terms),
    })
}

fn reputation_json(r: &Reputation) -> Value {
    json!({
        "provider": r.provider.to_hex(),
        "category": r.category,
        "released": tally_json(r.released),
        "late": tally_json(r.late),
        "withdrawn": tally_json(r.withdrawn),
        "lost": tally_json(r.lost),
        "last_at": r.last_at.0.to_string(),
        "buyers": r.buyers.iter().map(|b| b.to_hex()).collect::<Vec<_>>(),
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

fn hold_record(name: &str, id: HoldId, h: &Hold) -> Value {
    let bytes = h.to_record();
    assert_eq!(Hold::from_record(&bytes).as_ref(), Ok(h), "{name}");
    let (key, value) = (state_map::hold_key(&id), state_map::hold_value_hash(&bytes));
    record_vector(
        name,
        "hold",
        json!(id.to_hex()),
        hold_json(h),
        &bytes,
        key,
        value,
    )
}

/// Hold and offer ids, the sensor's evidence on A (one meeting the
/// template, one missing it), and four records: A accepted, B as just
/// created, the offer as updated, and `provider`'s reputation.
pub fn market_vectors() -> Value {
    let hold_ids = vec![
        id_vector(
            "hold_a",
            b"ting:hold-id:v1",
            "buyer",
            0,
            hold_of("buyer", 0).to_hex(),
        ),
        id_vector(
            "hold_d",
            b"ting:hold-id:v1",
            "buyer",
            3,
            hold_of("buyer", 3).to_hex(),
        ),
        id_vector(
            "hold_full_width_nonce",
            b"ting:hold-id:v1",
            "alice",
            0x0102_0304_0506_0708,
            hold_of("alice", 0x0102_0304_0506_0708).to_hex(),
        ),
    ];
    let offer_ids = vec![
        id_vector(
            "offer",
            b"ting:offer-id:v1",
            "provider",
            3,
            offer_of("provider", 3).to_hex(),
        ),
        id_vector(
            "offer_full_width_nonce",
            b"ting:offer-id:v1",
            "alice",
            0x0102_0304_0506_0708,
            offer_of("alice", 0x0102_0304_0506_0708).to_hex(),
        ),
    ];
    let evidence = vec![
        evidence_vector("hold_a_cartridge_installed", 812),
        evidence_vector("hold_a_flow_too_low", 499),
    ];
    let accepted = Hold {
        payer: id("buyer"),
        deposit: Amount::new(HOLD_DEPOSIT),
        created_at: Timestamp(CREATED_MS),
        phase: HoldPhase::Accepted,
        unrelated: true,
        terms: terms_a(),
    };
    let just_created = Hold {
        phase: HoldPhase::Open,
        terms: terms_b(),
        ..accepted.clone()
    };
    let o = offer_of("provider", 3);
    let listed = Offer {
        provider: id("provider"),
        deposit: Amount::new(OFFER_DEPOSIT),
        opened_at: Timestamp(CREATED_MS),
        terms: offer_terms_updated(),
    };
    let offer_bytes = listed.to_record();
    assert_eq!(Offer::from_record(&offer_bytes).as_ref(), Ok(&listed));
    let rep = reputation();
    let rep_bytes = rep.to_record();
    assert_eq!(Reputation::from_record(&rep_bytes).as_ref(), Ok(&rep));
    let mut rep_fields = reputation_json(&rep);
    rep_fields["success_ppm"] = json!(rep.success_ppm());
    rep_fields["score_ppm"] = json!(rep.score_ppm());
    let records = vec![
        hold_record("hold_a_accepted", hold_of("buyer", 0), &accepted),
        hold_record("hold_b_just_created", hold_of("buyer", 1), &just_created),
        record_vector(
            "offer_updated",
            "offer",
            json!(o.to_hex()),
            offer_json(&listed),
            &offer_bytes,
            state_map::offer_key(&o),
            state_map::offer_value_hash(&offer_bytes),
        ),
        record_vector(
            "provider_water_cartridge_replace",
            "reputation",
            Value::Null,
            rep_fields,
            &rep_bytes,
            state_map::reputation_key(&rep.provider, &rep.category),
            state_map::reputation_value_hash(&rep_bytes),
        ),
    ];
    json!({
        "hold_ids": hold_ids,
        "offer_ids": offer_ids,
        "evidence": evidence,
        "records": records,
    })
}

/// `provider`'s record in A's category: A and one other hold released
/// (from `buyer` and `carol`), one withdrawn, one lost.
fn reputation() -> Reputation {
    let mut r = Reputation::new(id("provider"), CATEGORY.into());
    let at = |days: u64| Timestamp(GENESIS_MS + days * DAY_MS);
    use ting_core::market::reputation::Outcome;
    r.record(Outcome::Released, Amount::new(AMOUNT_A), id("buyer"), at(2));
    r.record(Outcome::Released, Amount::new(150_000), id("carol"), at(3));
    r.record(Outcome::Withdrawn, Amount::new(50_000), id("carol"), at(4));
    r.record(Outcome::Lost, Amount::new(AMOUNT_C), id("buyer"), at(5));
    assert_eq!(r.buyers.len(), 2);
    r
}
