//! Round trips and rules of the market's records.

use super::*;
use crate::amount::Amount;
use crate::encoding::Reader;
use crate::keys::Keypair;
use crate::limits::{REPUTATION_BUYERS_MAX, TEMPLATE_RULES_MAX};
use crate::types::Timestamp;

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
        ],
    }
}

fn evidence(hold: HoldId, flow: u64) -> Evidence {
    Evidence {
        hold,
        observed_at: Timestamp(1_000),
        fields: vec![
            ("event".into(), Value::Text(b"cartridge_installed".to_vec())),
            ("flow_ml_min".into(), Value::Number(flow)),
            ("serial".into(), Value::Text(b"X-2231".to_vec())),
        ],
    }
}

#[test]
fn categories_are_dotted_lowercase_parts_and_cover_what_lies_under_them() {
    assert!(is_category("water.cartridge.replace"));
    for bad in [
        "",
        "Water",
        "water..x",
        ".water",
        "water.",
        "a.b.c.d.e.f.g.h.i",
        "wa ter",
    ] {
        assert!(!is_category(bad), "{bad}");
    }
    assert!(!is_category(&"a".repeat(49)));
    assert!(category_covers(
        "water.cartridge",
        "water.cartridge.replace"
    ));
    assert!(category_covers("water.cartridge", "water.cartridge"));
    assert!(!category_covers("water.cartridge", "water.cartridges"));
    assert!(category_covers("", "anything"));
    assert!(area_serves("u4pr", "u4pruydqqv"));
    assert!(area_serves("", "u4"));
    assert!(!area_serves("u4px", "u4pruydqqv"));
}

#[test]
fn a_template_is_met_only_by_evidence_that_shows_every_rule() {
    let t = template();
    let hold = HoldId(crate::hash::Hash32([3; 32]));
    assert_eq!(t.matches(&evidence(hold, 812)), Ok(()));
    assert_eq!(t.matches(&evidence(hold, 499)), Err("flow_ml_min"));
    let mut wrong_type = evidence(hold, 812);
    wrong_type.fields[1].1 = Value::Text(b"812".to_vec());
    assert_eq!(t.matches(&wrong_type), Err("flow_ml_min"));
    let mut missing = evidence(hold, 812);
    missing.fields.remove(0);
    assert_eq!(t.matches(&missing), Err("event"));
}

#[test]
fn signed_evidence_round_trips_and_verifies_only_for_its_device_and_network() {
    let device = Keypair::from_seed([7; 32]);
    let genesis = crate::hash::Hash32([1; 32]);
    let signed = evidence(HoldId(crate::hash::Hash32([3; 32])), 812).sign(&device, &genesis);
    let bytes = signed.to_bytes();
    assert_eq!(SignedEvidence::from_bytes(&bytes), Ok(signed.clone()));
    assert!(signed.verify(&genesis, &device.account()).is_ok());
    let other = Keypair::from_seed([8; 32]);
    assert!(signed.verify(&genesis, &other.account()).is_err());
    assert!(signed
        .verify(&crate::hash::Hash32([2; 32]), &device.account())
        .is_err());
}

#[test]
fn evidence_with_unsorted_or_repeated_fields_is_refused() {
    let mut e = evidence(HoldId::default(), 1);
    e.fields.swap(0, 1);
    assert!(e.check().is_err());
    let mut e = evidence(HoldId::default(), 1);
    e.fields[1].0 = "event".into();
    assert!(e.check().is_err());
    let mut w = crate::encoding::Writer::with_capacity(64);
    evidence(HoldId::default(), 1).encode(&mut w);
    let mut bytes = w.into_bytes();
    // Swap the first two names' first letters: "event" -> "fvent" sorts after "flow...".
    bytes[32 + 8 + 1 + 1] = b'g';
    assert!(Evidence::decode(&mut Reader::new(&bytes)).is_err());
}

fn hold_terms() -> HoldTerms {
    HoldTerms {
        payee: crate::account::AccountId([2; 32]),
        amount: Amount::new(5_000),
        deadline: Timestamp(90_000),
        grace_ms: 60_000,
        terms: crate::hash::Hash32([9; 32]),
        category: "water.cartridge.replace".into(),
        rule: ReleaseRule::Evidence {
            device: crate::account::AccountId([4; 32]),
            template: template(),
        },
        arbiter: Some(crate::account::AccountId([5; 32])),
    }
}

#[test]
fn hold_records_round_trip_and_their_rules_hold() {
    let hold = Hold {
        payer: crate::account::AccountId([1; 32]),
        deposit: Amount::new(crate::limits::HOLD_DEPOSIT),
        created_at: Timestamp(10),
        phase: HoldPhase::Disputed,
        unrelated: true,
        terms: hold_terms(),
    };
    assert_eq!(Hold::from_record(&hold.to_record()), Ok(hold.clone()));
    let mut t = hold_terms();
    t.amount = Amount::ZERO;
    assert!(t.check().is_err());
    let mut t = hold_terms();
    t.arbiter = Some(t.payee);
    assert!(t.check().is_err());
    let mut t = hold_terms();
    t.rule = ReleaseRule::Arbiter;
    t.arbiter = None;
    assert!(t.check().is_err());
    let mut t = hold_terms();
    t.rule = ReleaseRule::Evidence {
        device: t.payee,
        template: template(),
    };
    assert!(t.check().is_err());
}

#[test]
fn the_longest_hold_record_is_the_stated_maximum() {
    let rules = (0..TEMPLATE_RULES_MAX)
        .map(|i| FieldRule {
            name: format!("{i}").repeat(32)[..32].to_owned(),
            condition: Condition::Equals(vec![b'v'; 32]),
        })
        .collect();
    let mut terms = hold_terms();
    terms.category = format!("{}.{}", "a".repeat(23), "b".repeat(24));
    terms.rule = ReleaseRule::Evidence {
        device: crate::account::AccountId([4; 32]),
        template: Template { rules },
    };
    let hold = Hold {
        payer: crate::account::AccountId([1; 32]),
        deposit: Amount::new(1),
        created_at: Timestamp(10),
        phase: HoldPhase::Open,
        unrelated: false,
        terms,
    };
    assert_eq!(hold.to_record().len(), hold::HOLD_RECORD_BYTES_MAX);
}

#[test]
fn offer_records_round_trip_and_their_rules_hold() {
    let offer = Offer {
        provider: crate::account::AccountId([1; 32]),
        deposit: Amount::new(crate::limits::OFFER_DEPOSIT),
        opened_at: Timestamp(7),
        terms: OfferTerms {
            category: "water.cartridge.replace".into(),
            area: "u4pr".into(),
            price: Amount::new(40_000),
            delivery_ms: 3_600_000,
            warranty_ms: 0,
            terms: crate::hash::Hash32([6; 32]),
        },
    };
    assert_eq!(Offer::from_record(&offer.to_record()), Ok(offer.clone()));
    let mut t = offer.terms.clone();
    t.area = "u4pa".into(); // 'a' is not a geohash character
    assert!(t.check().is_err());
    let mut t = offer.terms.clone();
    t.area = String::new();
    assert!(t.check().is_ok());
    let mut t = offer.terms.clone();
    t.delivery_ms = 0;
    assert!(t.check().is_err());
}

#[test]
fn reputation_scores_value_released_weighted_by_distinct_buyers() {
    let mut rep = Reputation::new(crate::account::AccountId([1; 32]), "water".into());
    assert_eq!(rep.score_ppm(), 0);
    let buyer = crate::account::AccountId([2; 32]);
    rep.record(
        reputation::Outcome::Released,
        Amount::new(300),
        buyer,
        Timestamp(5),
    );
    // One buyer: a perfect record counts a third.
    assert_eq!(rep.success_ppm(), 1_000_000);
    assert_eq!(rep.score_ppm(), 333_333);
    rep.record(
        reputation::Outcome::Released,
        Amount::new(300),
        buyer,
        Timestamp(6),
    );
    assert_eq!(rep.buyers.len(), 1, "the same buyer counts once");
    rep.record(
        reputation::Outcome::Late,
        Amount::new(600),
        crate::account::AccountId([3; 32]),
        Timestamp(7),
    );
    assert_eq!(rep.success_ppm(), 500_000);
    assert_eq!(rep.ended(), 3);
    for i in 0..40u8 {
        rep.record(
            reputation::Outcome::Released,
            Amount::new(1),
            crate::account::AccountId([i.wrapping_add(10); 32]),
            Timestamp(8),
        );
    }
    assert_eq!(rep.buyers.len(), REPUTATION_BUYERS_MAX);
    let bytes = rep.to_record();
    assert_eq!(bytes.len(), 32 + 1 + 5 + 64 + 8 + 1 + 32 * 32);
    assert_eq!(Reputation::from_record(&bytes), Ok(rep));
}

fn call(buyer: &Keypair) -> cfp::Call {
    cfp::Call {
        genesis: crate::hash::Hash32([1; 32]),
        buyer: buyer.account(),
        id: 7,
        issued_at: Timestamp(1_000),
        answer_by: Timestamp(31_000),
        deliver_by: Timestamp(3_600_000),
        grace_ms: 60_000,
        category: "water.cartridge.replace".into(),
        area: "u4pruyd".into(),
        spec: "cartridge AquaPure-5, one unit".into(),
        max_price: Amount::new(50_000),
        rounds: 2,
        rule: ReleaseRule::Evidence {
            device: buyer.account(),
            template: template(),
        },
        arbiter: Some(crate::account::AccountId([5; 32])),
    }
}

#[test]
fn a_signed_call_round_trips_and_verifies_only_unchanged() {
    let buyer = Keypair::from_seed([3; 32]);
    let signed = call(&buyer).sign(&buyer);
    let bytes = signed.to_bytes();
    let back = cfp::SignedCall::from_bytes(&bytes).expect("decodes");
    assert_eq!(back, signed);
    assert!(back.verify().is_ok());
    let mut forged = back.clone();
    forged.call.max_price = Amount::new(1);
    assert!(forged.verify().is_err());
    assert_ne!(forged.hash(), signed.hash());
}

#[test]
fn calls_that_break_a_rule_are_refused() {
    let buyer = Keypair::from_seed([3; 32]);
    type Breaker = fn(&mut cfp::Call);
    let cases: [(&str, Breaker); 6] = [
        ("window", |c| c.answer_by = c.issued_at),
        ("long window", |c| {
            c.answer_by = Timestamp(c.issued_at.0 + crate::limits::CALL_WINDOW_MS_MAX + 1)
        }),
        ("delivery", |c| c.deliver_by = c.answer_by),
        ("rounds", |c| c.rounds = crate::limits::CALL_ROUNDS_MAX + 1),
        ("price", |c| c.max_price = Amount::ZERO),
        ("arbiter", |c| c.arbiter = Some(c.buyer)),
    ];
    for (what, break_it) in cases {
        let mut c = call(&buyer);
        break_it(&mut c);
        assert!(c.check().is_err(), "{what}");
    }
}

#[test]
fn a_proposal_fits_its_call_only_within_price_rounds_and_time() {
    let buyer = Keypair::from_seed([3; 32]);
    let signed = call(&buyer).sign(&buyer);
    let p = cfp::Proposal {
        call: signed.hash(),
        round: 0,
        price: Amount::new(40_000),
        deliver_by: Timestamp(1_800_000),
        warranty_ms: 0,
        valid_until: Timestamp(60_000),
        offer: Some(OfferId(crate::hash::Hash32([8; 32]))),
        note: "technician on site within the hour".into(),
    };
    assert_eq!(cfp::Proposal::decode(&p.encode()), Ok(p.clone()));
    assert_eq!(p.fits(&signed), Ok(()));
    let mut dear = p.clone();
    dear.price = Amount::new(50_001);
    assert!(dear.fits(&signed).is_err());
    let mut late = p.clone();
    late.deliver_by = Timestamp(3_600_001);
    assert!(late.fits(&signed).is_err());
    let mut round = p.clone();
    round.round = 3;
    assert!(round.fits(&signed).is_err());
    let a = crate::account::AccountId([1; 32]);
    let b = crate::account::AccountId([2; 32]);
    assert_ne!(
        p.terms_hash(&a),
        p.terms_hash(&b),
        "the provider is bound in"
    );
}

#[test]
fn counters_accepts_declines_and_evidence_notes_round_trip() {
    let c = cfp::Counter {
        call: crate::hash::Hash32([1; 32]),
        round: 1,
        price: Amount::new(30_000),
        deliver_by: Timestamp(9),
        warranty_ms: 86_400_000,
        valid_until: Timestamp(10),
    };
    assert_eq!(cfp::Counter::decode(&c.encode()), Ok(c));
    let a = cfp::Accept {
        call: crate::hash::Hash32([1; 32]),
        proposal: crate::hash::Hash32([2; 32]),
        hold: HoldId(crate::hash::Hash32([3; 32])),
    };
    assert_eq!(cfp::Accept::decode(&a.encode()), Ok(a));
    let d = cfp::Decline {
        call: crate::hash::Hash32([1; 32]),
        round: 0,
        code: "chose_another".into(),
        message: "another proposal was cheaper".into(),
    };
    assert_eq!(cfp::Decline::decode(&d.encode()), Ok(d.clone()));
    let device = Keypair::from_seed([7; 32]);
    let note = cfp::EvidenceNote {
        evidence: evidence(HoldId::default(), 900).sign(&device, &crate::hash::Hash32([1; 32])),
    };
    assert_eq!(cfp::EvidenceNote::decode(&note.encode()), Ok(note));
    let mut bytes = d.encode();
    bytes[0] = 2;
    assert!(matches!(
        cfp::Decline::decode(&bytes),
        Err(crate::encoding::DecodeError::UnsupportedVersion { .. })
    ));
}
