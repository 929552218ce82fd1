//! Nothing outside the owner's consent record leaves a selling device.
//!
//! `ting-core`'s property test checks the consent filter against a model
//! (`consent/tests.rs`); this one checks the seller around it: random
//! records and readings go into a real `Seller` on a real `Device`, and
//! what the seller sealed into its stream log (opened again with the
//! epoch keys) must be exactly what the filter releases for the same
//! readings, field by field and value by value, numbered without a gap:
//! the seller adds nothing, drops nothing and changes nothing.

use proptest::prelude::*;
use ting_agent::stream::log::AppendLog;
use ting_agent::stream::{Seller, SellerSetup};
use ting_agent::{Device, DeviceConfig, TlsTrust};
use ting_core::consent::filter::{ConsentFilter, Form, Reading, Value};
use ting_core::consent::{AggregateOp, BuyerRule, ConsentRecord, FieldRule, FieldUse};
use ting_core::encoding::Reader;
use ting_core::stream::epoch::derive_epoch_key;
use ting_core::stream::point::{Point, PointValue};
use ting_core::stream::{EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::{Amount, Hash32, Keypair, NetworkId, Nonce, Timestamp};

const FIELDS: usize = 5;

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

fn name(i: usize) -> String {
    format!("f{i}")
}

/// A point as `(schema field, value, time or window start, readings in it)`.
type Out = (u8, i128, u64, u64);

fn of_form(field: usize, form: &Form<'_>) -> Out {
    let field = u8::try_from(field).expect("a few fields");
    match *form {
        Form::Number { value, at } => (field, i128::from(value), at.0, 0),
        Form::Aggregate {
            value,
            window_start,
            count,
            ..
        } => (field, value, window_start.0, count),
        Form::Location { .. } => (u8::MAX, 0, 0, 0),
    }
}

fn of_point(p: &Point) -> Out {
    match p.value {
        PointValue::Number { value, at } => (p.field, i128::from(value), at.0, 0),
        PointValue::Aggregate {
            value,
            window_start,
            count,
            ..
        } => (p.field, value, window_start.0, count),
        PointValue::Location { .. } => (u8::MAX, 0, 0, 0),
    }
}

/// What the seller sealed, in order, opened with the epoch keys.
fn sealed_points(device: &Device, key: &Keypair, stream: &StreamId) -> Vec<(u64, Point)> {
    let path = device.stream_dir(stream).join("points.log");
    let (_, records) = AppendLog::open(&path, b"TGSPTS01").expect("the stream log");
    let mut out = Vec::new();
    for body in records.iter().filter(|b| b.first() == Some(&b'P')) {
        let mut r = Reader::new(&body[1..]);
        let epoch = r.u64("epoch").expect("epoch");
        let seq = r.u64("seq").expect("seq");
        let sealed = r.take(r.remaining(), "point").expect("point");
        let plain = derive_epoch_key(key, stream, epoch)
            .open(stream, epoch, seq, sealed)
            .expect("the epoch key opens its points");
        out.push((seq, Point::decode(&plain).expect("a point")));
    }
    out
}

fn run_case(
    uses: &[FieldUse],
    readings: &[(usize, i64, u64)],
    chunk: usize,
) -> (Vec<Out>, Vec<Out>, Vec<u64>) {
    let dir = tempfile::tempdir().expect("dir");
    let key = Keypair::from_seed([40; 32]);
    let genesis = Hash32::digest(&[b"prop genesis"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = DeviceConfig {
            key: Keypair::from_seed(key.seed()),
            state_dir: dir.path().to_owned(),
            network: NetworkId(9),
            sequencers: vec![Keypair::from_seed([41; 32]).account()],
            genesis_hash: genesis,
            // No node is needed: nothing here goes on the ledger.
            node_url: "http://127.0.0.1:9".into(),
            broker: None,
            tls: TlsTrust::SystemRoots,
            seed: 1,
            clock: ting_agent::clock::NetworkClock::REAL,
            witnesses: ting_core::witness::WitnessPolicy::default(),
        };
        let device = Device::start(config).expect("the device starts");
        let record = ConsentRecord {
            genesis,
            owner: Keypair::from_seed([42; 32]).account(),
            device: key.account(),
            issued_at: Timestamp(0),
            expires_at: Timestamp(u64::MAX),
            min_price_per_epoch: Amount::new(1),
            purpose: "test".into(),
            fields: uses
                .iter()
                .enumerate()
                .map(|(i, u)| FieldRule {
                    name: name(i),
                    use_: *u,
                })
                .collect(),
            buyers: vec![BuyerRule::Account(Keypair::from_seed([43; 32]).account())],
        };
        let consent = record
            .clone()
            .sign(&Keypair::from_seed([42; 32]))
            .expect("signed");
        let terms = StreamTerms {
            fields: (0..FIELDS)
                .map(|i| FieldSpec {
                    name: name(i),
                    unit: String::new(),
                    kind: FieldKind::Number { decimals: 0 },
                })
                .collect(),
            price_per_epoch: Amount::new(1),
            epoch: EpochRule::Points(7),
            area: "u0".into(),
            consent: consent.hash(),
        };
        let stream = StreamId::derive(&genesis, &key.account(), Nonce(0));
        let setup = SellerSetup {
            stream,
            terms,
            consent,
            chunk_points: chunk,
        };
        let mut seller = Seller::open(&device, setup).expect("the seller opens");
        let mut filter = ConsentFilter::new(record.clone()).expect("valid");
        let mut released: Vec<Out> = Vec::new();
        let names: Vec<String> = (0..FIELDS).map(name).collect();
        for &(f, value, at) in readings {
            let reading = || Reading {
                field: &names[f],
                value: Value::Number(value),
                at: Timestamp(at),
            };
            let mut closed = Vec::new();
            let now = filter.push(reading(), &mut |r| closed.push(r));
            released.extend(closed.iter().map(|r| of_form(r.field, &r.form)));
            if let Ok(r) = now {
                released.push(of_form(r.field, &r.form));
            }
            seller.push(&device, reading()).expect("pushed");
        }
        filter.close_due(Timestamp(u64::MAX), &mut |r| {
            released.push(of_form(r.field, &r.form))
        });
        seller.tick(&device, Timestamp(u64::MAX)).expect("ticked");
        let sealed = sealed_points(&device, &key, &stream);
        let seqs = sealed.iter().map(|(s, _)| *s).collect();
        let got = sealed.iter().map(|(_, p)| of_point(p)).collect();
        device.shutdown().await;
        (released, got, seqs)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The consent record's field `i` is the schema's field `i`, so the
    /// filter's indices and the points' must agree exactly.
    #[test]
    fn a_seller_seals_exactly_what_the_consent_filter_releases(
        uses in proptest::collection::vec(field_use(), 0..=FIELDS),
        steps in proptest::collection::vec((0usize..FIELDS, -10_000i64..10_000, 0u64..2_500), 0..60),
        chunk in 1usize..8,
    ) {
        let mut at = 0u64;
        let readings: Vec<(usize, i64, u64)> = steps
            .iter()
            .map(|&(f, v, dt)| {
                at += dt;
                (f, v, at)
            })
            .collect();
        let (released, sealed, seqs) = run_case(&uses, &readings, chunk);
        prop_assert_eq!(&sealed, &released);
        prop_assert_eq!(seqs, (0..sealed.len() as u64).collect::<Vec<_>>());
        for (field, ..) in &sealed {
            let allowed = uses
                .get(usize::from(*field))
                .is_some_and(|u| !matches!(u, FieldUse::Refused));
            prop_assert!(allowed, "field {} left without the record allowing it", field);
        }
    }
}
