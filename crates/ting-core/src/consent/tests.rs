//! Consent records: their bytes, signature and rules; and the filter against
//! a model, so that nothing the record does not allow ever leaves.

use proptest::prelude::*;

use super::filter::{ConsentFilter, Form, Reading, Released, Value, Withheld};
use super::*;
use crate::keys::Keypair;

fn owner() -> Keypair {
    Keypair::from_seed([21; 32])
}

fn record(fields: Vec<FieldRule>) -> ConsentRecord {
    ConsentRecord {
        genesis: Hash32([7; 32]),
        owner: owner().account(),
        device: Keypair::from_seed([22; 32]).account(),
        issued_at: Timestamp(1_000),
        expires_at: Timestamp(1_000_000_000),
        min_price_per_epoch: Amount::new(5),
        purpose: "city water planning".into(),
        fields,
        buyers: vec![
            BuyerRule::Account(Keypair::from_seed([23; 32]).account()),
            BuyerRule::Category {
                category: "utility.water".into(),
                certifiers: vec![Keypair::from_seed([24; 32]).account()],
            },
        ],
    }
}

fn purifier() -> ConsentRecord {
    record(vec![
        FieldRule {
            name: "hardness".into(),
            use_: FieldUse::Raw { round_to: 1 },
        },
        FieldRule {
            name: "consumption".into(),
            use_: FieldUse::Aggregate {
                op: AggregateOp::Sum,
                window_ms: 86_400_000,
                round_to: 10,
            },
        },
        FieldRule {
            name: "position".into(),
            use_: FieldUse::Location { chars: 5 },
        },
        FieldRule {
            name: "raw_flow".into(),
            use_: FieldUse::Refused,
        },
    ])
}

#[test]
fn a_signed_record_round_trips_and_only_its_owner_and_network_take_it() {
    let signed = purifier().sign(&owner()).expect("a valid record");
    let bytes = signed.encode();
    let genesis = Hash32([7; 32]);
    assert_eq!(SignedConsent::decode(&bytes, &genesis), Ok(signed.clone()));
    assert_eq!(signed.hash(), Hash32::digest(&[&bytes]));
    let other = SignedConsent::decode(&bytes, &Hash32([8; 32]));
    assert_eq!(other.map_err(|e| e.code()), Err("wrong_network"));
    for i in [0, 40, 100, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[i] ^= 1;
        assert!(SignedConsent::decode(&bad, &genesis).is_err(), "byte {i}");
    }
    let stranger = purifier().sign(&Keypair::from_seed([99; 32]));
    assert_eq!(stranger.map_err(|e| e.code()), Err("bad_consent_signature"));
    assert!(SignedConsent::decode(&bytes[..bytes.len() - 1], &genesis).is_err());
}

#[test]
fn records_that_break_a_rule_are_refused_with_what_is_wrong() {
    let mut late = purifier();
    late.expires_at = late.issued_at;
    let mut twice = purifier();
    twice.fields.push(twice.fields[0].clone());
    let mut short = purifier();
    short.fields[1].use_ = FieldUse::Aggregate {
        op: AggregateOp::Mean,
        window_ms: 10,
        round_to: 1,
    };
    let mut uncertified = purifier();
    uncertified.buyers.push(BuyerRule::Category {
        category: "anyone".into(),
        certifiers: Vec::new(),
    });
    for (record, what) in [
        (late, "expires_at"),
        (twice, "named twice"),
        (short, "window"),
        (uncertified, "certifier"),
    ] {
        match record.check() {
            Err(ConsentError::Invalid(why)) => assert!(why.contains(what), "{why}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn the_purifier_sells_hardness_a_daily_sum_and_a_coarse_place_only() {
    let mut filter = ConsentFilter::new(purifier()).expect("valid");
    let mut closed = Vec::new();
    let day = 86_400_000;
    let mut push = |f: &mut ConsentFilter, field, value, at| {
        f.push(
            Reading {
                field,
                value,
                at: Timestamp(at),
            },
            &mut |r| closed.push(r),
        )
    };
    let got = push(&mut filter, "hardness", Value::Number(142), day + 5);
    assert_eq!(
        got.map(|r| r.form),
        Ok(Form::Number {
            value: 142,
            at: Timestamp(day + 5)
        })
    );
    let flow = push(&mut filter, "raw_flow", Value::Number(3), day + 6);
    assert_eq!(flow, Err(Withheld::Refused));
    let secret = push(&mut filter, "door_open", Value::Number(1), day + 7);
    assert_eq!(secret, Err(Withheld::Refused));
    for (v, at) in [(12, day + 10), (23, day + 20), (7, 2 * day + 1)] {
        assert_eq!(
            push(&mut filter, "consumption", Value::Number(v), at),
            Err(Withheld::Aggregating)
        );
    }
    let place = push(
        &mut filter,
        "position",
        Value::Geohash("u33dc0cpp1"),
        day + 30,
    );
    assert_eq!(
        place.map(|r| r.form),
        Ok(Form::Location {
            geohash: "u33dc",
            at: Timestamp(day + 30)
        })
    );
    let bad_place = push(&mut filter, "position", Value::Geohash("u33a"), day + 31);
    assert_eq!(bad_place, Err(Withheld::WrongKind));
    assert_eq!(
        closed,
        vec![Released {
            field: 1,
            form: Form::Aggregate {
                value: 40,
                window_start: Timestamp(day),
                window_ms: day,
                count: 2
            }
        }]
    );
    let mut due = Vec::new();
    filter.close_due(Timestamp(3 * day), &mut |r| due.push(r));
    assert_eq!(due.len(), 1);
    assert_eq!(filter.field_name(due[0].field), Some("consumption"));
    let expired = filter.push(
        Reading {
            field: "hardness",
            value: Value::Number(1),
            at: Timestamp(1_000_000_000),
        },
        &mut |_| {},
    );
    assert_eq!(expired, Err(Withheld::NotInForce));
}

/// Nearest multiple of `step` of `x / div`, halves away from zero, written
/// apart from `filter::round_div`.
fn model_round(x: i128, div: u64, step: u64) -> i128 {
    let d = i128::from(div) * i128::from(step);
    let n = if x >= 0 {
        (2 * x + d) / (2 * d)
    } else {
        -((-2 * x + d) / (2 * d))
    };
    n * i128::from(step)
}

/// What the model says leaves, in order, for readings in time order, with
/// every window closed at the end.
fn model(
    record: &ConsentRecord,
    readings: &[(usize, i64, u64)],
    names: &[String],
) -> Vec<(usize, i128, u64, u64)> {
    let mut out = Vec::new();
    let mut open: Vec<Option<(u64, i128, u64)>> = vec![None; record.fields.len()];
    for &(name, value, at) in readings {
        if !record.in_force(Timestamp(at)) {
            continue;
        }
        let Some(index) = record.fields.iter().position(|f| f.name == names[name]) else {
            continue;
        };
        match record.fields[index].use_ {
            FieldUse::Raw { round_to } => {
                out.push((index, model_round(value.into(), 1, round_to), at, 0))
            }
            FieldUse::Aggregate {
                op,
                window_ms,
                round_to,
            } => {
                let start = at / window_ms * window_ms;
                if let Some((s, sum, n)) = open[index] {
                    if s != start {
                        let div = if op == AggregateOp::Sum { 1 } else { n };
                        out.push((index, model_round(sum, div, round_to), s, n));
                        open[index] = None;
                    }
                }
                let w = open[index].get_or_insert((start, 0, 0));
                w.1 += i128::from(value);
                w.2 += 1;
            }
            _ => {}
        }
    }
    for (index, w) in open.iter().enumerate() {
        if let (Some((s, sum, n)), FieldUse::Aggregate { op, round_to, .. }) =
            (w, record.fields[index].use_)
        {
            let div = if op == AggregateOp::Sum { 1 } else { *n };
            out.push((index, model_round(*sum, div, round_to), *s, *n));
        }
    }
    out
}

fn field_use() -> impl Strategy<Value = FieldUse> {
    prop_oneof![
        Just(FieldUse::Refused),
        (1u64..50).prop_map(|round_to| FieldUse::Raw { round_to }),
        (any::<bool>(), 1u64..5, 1u64..20).prop_map(|(mean, w, round_to)| FieldUse::Aggregate {
            op: if mean {
                AggregateOp::Mean
            } else {
                AggregateOp::Sum
            },
            window_ms: w * 1_000,
            round_to,
        }),
    ]
}

proptest! {
    /// Random records and readings: exactly what the model allows leaves, in
    /// the model's form; a refused or unnamed field never does.
    #[test]
    fn only_what_the_record_allows_leaves_and_aggregates_match_the_model(
        uses in proptest::collection::vec(field_use(), 0..4),
        steps in proptest::collection::vec((0usize..5, -10_000i64..10_000, 0u64..2_500), 0..80),
        issued in 0u64..3_000,
        span in 1u64..40_000,
    ) {
        let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
        let mut rec = record(
            uses.iter().enumerate().map(|(i, u)| FieldRule { name: names[i].clone(), use_: *u }).collect(),
        );
        rec.issued_at = Timestamp(issued);
        rec.expires_at = Timestamp(issued + span);
        let mut at = 0u64;
        let readings: Vec<(usize, i64, u64)> = steps
            .iter()
            .map(|&(f, v, dt)| {
                at += dt;
                (f, v, at)
            })
            .collect();
        let mut filter = ConsentFilter::new(rec.clone()).expect("valid");
        let mut got = Vec::new();
        for &(name, value, at) in &readings {
            let mut closed = Vec::new();
            let now = filter.push(
                Reading { field: &names[name], value: Value::Number(value), at: Timestamp(at) },
                &mut |r| closed.push(r),
            );
            got.extend(closed);
            if let Ok(r) = now {
                got.push(r);
            }
        }
        filter.close_due(Timestamp(u64::MAX), &mut |r| got.push(r));
        let got: Vec<(usize, i128, u64, u64)> = got
            .iter()
            .map(|r| match r.form {
                Form::Number { value, at } => (r.field, i128::from(value), at.0, 0),
                Form::Aggregate { value, window_start, count, .. } => (r.field, value, window_start.0, count),
                Form::Location { .. } => (usize::MAX, 0, 0, 0),
            })
            .collect();
        prop_assert_eq!(got, model(&rec, &readings, &names));
    }
}

#[test]
fn a_released_window_never_leaves_twice() {
    let mut filter = ConsentFilter::new(purifier()).expect("valid");
    let day = 86_400_000;
    let reading = |at| Reading {
        field: "consumption",
        value: Value::Number(5),
        at: Timestamp(at),
    };
    assert_eq!(
        filter.push(reading(day + 1), &mut |_| {}),
        Err(Withheld::Aggregating)
    );
    let mut out = Vec::new();
    filter.close_due(Timestamp(2 * day), &mut |r| out.push(r));
    assert_eq!(out.len(), 1);
    assert_eq!(
        filter.push(reading(day + 2), &mut |_| {}),
        Err(Withheld::Late)
    );
    assert_eq!(
        filter.push(reading(2 * day), &mut |_| {}),
        Err(Withheld::Aggregating)
    );
}

#[test]
fn only_the_owner_revokes_and_the_filter_stops_from_then_on() {
    use super::revocation::{Revocation, SignedRevocation};
    let consent = purifier().sign(&owner()).expect("valid");
    let revocation = Revocation::of(&consent, Timestamp(500_000))
        .sign(&owner())
        .expect("the owner signs");
    assert!(revocation.revokes(&consent));
    let genesis = Hash32([7; 32]);
    let bytes = revocation.encode();
    assert_eq!(SignedRevocation::decode(&bytes, &genesis), Ok(revocation));
    let elsewhere = SignedRevocation::decode(&bytes, &Hash32([8; 32]));
    assert_eq!(elsewhere.map_err(|e| e.code()), Err("wrong_network"));
    let mut bad = bytes;
    bad[40] ^= 1;
    let forged = SignedRevocation::decode(&bad, &genesis);
    assert_eq!(forged.map_err(|e| e.code()), Err("bad_consent_signature"));
    let stranger = Revocation::of(&consent, Timestamp(500_000)).sign(&Keypair::from_seed([98; 32]));
    assert!(stranger.is_err());
    let mut other = purifier();
    other.purpose = "another purpose".into();
    let other = other.sign(&owner()).expect("valid");
    assert!(!revocation.revokes(&other));

    let mut filter = ConsentFilter::new(consent.record.clone()).expect("valid");
    let reading = |at| Reading {
        field: "hardness",
        value: Value::Number(140),
        at: Timestamp(at),
    };
    assert!(filter.push(reading(499_999), &mut |_| {}).is_ok());
    filter.revoke(revocation.revocation.revoked_at);
    filter.revoke(Timestamp(900_000));
    assert_eq!(
        filter.push(reading(499_999), &mut |_| {}).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        filter.push(reading(500_000), &mut |_| {}),
        Err(Withheld::NotInForce)
    );
}
