//! What ting-core says about a stream on the ledger: its registered terms
//! and its record.
//!
//! - `StreamTerms::check` refuses each broken rule with its own message, and
//!   decoding refuses such terms too; every edge that is allowed passes;
//! - terms and `Stream` records round-trip through their bytes, and a record
//!   with buyers out of order, duplicated or too many, cut short or with
//!   trailing bytes is refused by `Stream::from_record`;
//! - the longest record is `STREAM_RECORD_BYTES_MAX` bytes and a state answer
//!   carries it; the longest `StreamOpen` (8 fields, 32-byte names, 16-byte
//!   units) fits in `TX_BYTES_MAX` and every stream kind round-trips as a
//!   signed transaction;
//! - `DeliveryAck` signs the documented message and verifies only for its
//!   stream, network, buyer and totals;
//! - `StreamId::derive` is bound to the network, the seller and the nonce;
//! - `EpochRule::epoch_of` numbers epochs as its documentation says.

#![allow(clippy::cast_possible_truncation)] // small test indices

use ting_core::block::BlockDraft;
use ting_core::channel::ChannelId;
use ting_core::encoding::{Reader, Writer};
use ting_core::keys;
use ting_core::limits::{
    EPOCH_POINTS_MAX, FIELD_DECIMALS_MAX, FIELD_NAME_BYTES_MAX, GEOHASH_CHARS_MAX,
    STREAM_BUYERS_MAX, STREAM_FIELDS_MAX, TX_BYTES_MAX, UNIT_BYTES_MAX, WINDOW_MS_MAX,
    WINDOW_MS_MIN,
};
use ting_core::state_map;
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::state_tree::StateTree;
use ting_core::stream::record::{
    delivery_message, DELIVERY_DOMAIN, STREAM_ID_DOMAIN, STREAM_RECORD_BYTES_MAX,
};
use ting_core::stream::terms::InvalidTerms;
use ting_core::stream::{
    Delivery, DeliveryAck, EpochRule, FieldKind, FieldSpec, Stream, StreamId, StreamTerms,
};
use ting_core::{
    AccountId, Amount, Block, BlockHeight, DecodeError, Hash32, Keypair, Nonce, SignedTx,
    Timestamp, TxBody, TxKind,
};

fn keypair(i: u8) -> Keypair {
    Keypair::from_seed([i; 32])
}

fn genesis() -> Hash32 {
    Hash32::digest(&[b"a test network"])
}

fn number(name: &str, unit: &str, decimals: u8) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        unit: unit.into(),
        kind: FieldKind::Number { decimals },
    }
}

fn terms() -> StreamTerms {
    StreamTerms {
        fields: vec![
            number("turbidity", "ntu", 2),
            FieldSpec {
                name: "where".into(),
                unit: String::new(),
                kind: FieldKind::Location,
            },
        ],
        price_per_epoch: Amount::new(50),
        epoch: EpochRule::Time(60_000),
        area: "u33d".into(),
        consent: Hash32::digest(&[b"consent"]),
    }
}

/// The longest terms: every field a number with the longest name and unit,
/// an epoch of time, the longest area.
fn longest_terms() -> StreamTerms {
    let fields = (0..STREAM_FIELDS_MAX)
        .map(|i| {
            let mut name = "n".repeat(FIELD_NAME_BYTES_MAX - 1);
            name.push(char::from(b'0' + i as u8));
            number(&name, &"u".repeat(UNIT_BYTES_MAX), FIELD_DECIMALS_MAX)
        })
        .collect();
    StreamTerms {
        fields,
        price_per_epoch: Amount::MAX,
        epoch: EpochRule::Time(WINDOW_MS_MAX),
        area: "0".repeat(usize::from(GEOHASH_CHARS_MAX)),
        consent: Hash32([0xff; 32]),
    }
}

fn encode_terms(t: &StreamTerms) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    t.encode(&mut w);
    w.into_bytes()
}

fn decode_terms(bytes: &[u8]) -> Result<StreamTerms, DecodeError> {
    let mut r = Reader::new(bytes);
    let t = StreamTerms::decode(&mut r)?;
    r.finish("terms")?;
    Ok(t)
}

fn delivery(i: u8, epochs: u64, paid: u64) -> Delivery {
    Delivery {
        buyer: keypair(100 + i).account(),
        epochs,
        paid: Amount::new(paid),
    }
}

/// `n` deliveries of distinct buyers, sorted by buyer.
fn sorted_deliveries(n: usize) -> Vec<Delivery> {
    let mut d: Vec<Delivery> = (0..n)
        .map(|i| delivery(i as u8, i as u64 + 1, 50 * (i as u64 + 1)))
        .collect();
    d.sort_by_key(|d| d.buyer);
    d
}

fn stream(terms: StreamTerms, buyers: Vec<Delivery>) -> Stream {
    Stream {
        seller: keypair(1).account(),
        owner: keypair(2).account(),
        deposit: Amount::new(1_000_000),
        opened_at: Timestamp(1_700_000_000_000),
        terms,
        buyers,
    }
}

/// The record bytes of `s` as written, whatever its own rules say.
fn record_of(s: &Stream) -> Vec<u8> {
    let mut w = Writer::with_capacity(256);
    s.encode(&mut w);
    w.into_bytes()
}

#[test]
fn terms_at_every_allowed_edge_pass_the_check() {
    let mut edges = vec![terms(), longest_terms()];
    let all_fields = StreamTerms {
        fields: (0..STREAM_FIELDS_MAX)
            .map(|i| number(&format!("f_{i}"), "", 0))
            .collect(),
        ..terms()
    };
    edges.push(all_fields);
    for epoch in [
        EpochRule::Points(1),
        EpochRule::Points(EPOCH_POINTS_MAX),
        EpochRule::Time(WINDOW_MS_MIN),
        EpochRule::Time(WINDOW_MS_MAX),
    ] {
        edges.push(StreamTerms { epoch, ..terms() });
    }
    for area in ["0123456789", "bcdefghjkm", "npqrstuvwxyz", "z"] {
        edges.push(StreamTerms {
            area: area.into(),
            ..terms()
        });
    }
    edges.push(StreamTerms {
        fields: vec![number("a_0", "mg/l", 0), number("z9", "~!#", 18)],
        price_per_epoch: Amount::new(1),
        ..terms()
    });
    for t in edges {
        assert_eq!(t.check(), Ok(()), "{t:?}");
        assert_eq!(decode_terms(&encode_terms(&t)), Ok(t));
    }
}

#[test]
fn the_check_refuses_each_broken_rule() {
    const FIELDS: &str = "a stream has 1 to 8 fields";
    const NAME: &str = "a field name is 1 to 32 of a-z, 0-9 and _";
    const TWICE: &str = "a field is named twice";
    const UNIT: &str = "a unit is at most 16 printable ASCII characters";
    const DECIMALS: &str = "a number field has at most 18 decimals";
    const PRICE: &str = "the price per epoch must be above zero";
    const POINTS: &str = "an epoch of points holds 1 to 1,000,000 points";
    const TIME: &str = "an epoch of time lasts 1 s to 366 days";
    const AREA: &str = "the area is a geohash prefix of 1 to 12 characters";
    let with_fields = |fields: Vec<FieldSpec>| StreamTerms { fields, ..terms() };
    let with_name = |name: &str| with_fields(vec![number(name, "", 0)]);
    let with_unit = |unit: &str| with_fields(vec![number("t", unit, 0)]);
    let with_epoch = |epoch| StreamTerms { epoch, ..terms() };
    let with_area = |area: &str| StreamTerms {
        area: area.into(),
        ..terms()
    };
    let nine = (0..=STREAM_FIELDS_MAX)
        .map(|i| number(&format!("f{i}"), "", 0))
        .collect();
    let cases: Vec<(StreamTerms, &str)> = vec![
        (with_fields(Vec::new()), FIELDS),
        (with_fields(nine), FIELDS),
        (with_name(""), NAME),
        (with_name("Temp"), NAME),
        (with_name("a-b"), NAME),
        (with_name("a b"), NAME),
        (with_name("température"), NAME),
        (with_name(&"n".repeat(FIELD_NAME_BYTES_MAX + 1)), NAME),
        (
            with_fields(vec![number("t", "", 0), number("t", "c", 1)]),
            TWICE,
        ),
        (with_unit(&"u".repeat(UNIT_BYTES_MAX + 1)), UNIT),
        (with_unit("\t"), UNIT),
        (with_unit("a\u{7f}"), UNIT),
        (with_unit("\0"), UNIT),
        (with_unit("°C"), UNIT),
        (
            with_fields(vec![number("t", "", FIELD_DECIMALS_MAX + 1)]),
            DECIMALS,
        ),
        (
            StreamTerms {
                price_per_epoch: Amount::ZERO,
                ..terms()
            },
            PRICE,
        ),
        (with_epoch(EpochRule::Points(0)), POINTS),
        (with_epoch(EpochRule::Points(EPOCH_POINTS_MAX + 1)), POINTS),
        (with_epoch(EpochRule::Time(WINDOW_MS_MIN - 1)), TIME),
        (with_epoch(EpochRule::Time(WINDOW_MS_MAX + 1)), TIME),
        (with_epoch(EpochRule::Time(0)), TIME),
        (with_area("a"), AREA),
        (with_area("i"), AREA),
        (with_area("l"), AREA),
        (with_area("o"), AREA),
        (with_area("u3a"), AREA),
        (with_area("U33D"), AREA),
        (with_area(""), AREA),
        (
            with_area(&"0".repeat(usize::from(GEOHASH_CHARS_MAX) + 1)),
            AREA,
        ),
    ];
    for (t, rule) in cases {
        assert_eq!(t.check(), Err(InvalidTerms(rule)), "{t:?}");
        // Nor does any such registration decode. Terms the encoding can
        // carry are refused by the same rule; the rest by a length limit.
        let refused = decode_terms(&encode_terms(&t)).expect_err("refused");
        assert!(
            refused == DecodeError::InvalidValue { what: rule }
                || matches!(refused, DecodeError::TooLong { .. }),
            "{t:?}: {refused:?}"
        );
    }
}

#[test]
fn the_first_broken_rule_is_named() {
    let t = StreamTerms {
        fields: Vec::new(),
        price_per_epoch: Amount::ZERO,
        area: String::new(),
        ..terms()
    };
    assert_eq!(t.check(), Err(InvalidTerms("a stream has 1 to 8 fields")));
    assert_eq!(
        t.check().map_err(|e| e.to_string()),
        Err("a stream has 1 to 8 fields".to_string())
    );
}

#[test]
fn terms_round_trip_through_their_bytes() {
    for t in [terms(), longest_terms()] {
        let bytes = encode_terms(&t);
        let back = decode_terms(&bytes).expect("decodes");
        assert_eq!(back, t);
        assert_eq!(encode_terms(&back), bytes);
        assert_eq!(
            t.field("where").map(|(i, f)| (i, f.kind)),
            (t == terms()).then_some((1, FieldKind::Location))
        );
        for cut in 0..bytes.len() {
            assert!(decode_terms(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            decode_terms(&long).map_err(|e| e.code()),
            Err("trailing_bytes")
        );
    }
    // Unknown field kinds and epoch rules are refused.
    let mut bytes = encode_terms(&StreamTerms {
        fields: vec![number("t", "", 0)],
        ..terms()
    });
    // count, name (len 1, "t"), unit (len 0): the kind is byte 4.
    assert_eq!(bytes[4], 1);
    bytes[4] = 3;
    assert_eq!(
        decode_terms(&bytes),
        Err(DecodeError::InvalidValue { what: "field kind" })
    );
    bytes[4] = 1;
    // Then decimals (5), price (6..14): the epoch rule is byte 14.
    assert_eq!(bytes[14], 2);
    bytes[14] = 0;
    assert_eq!(
        decode_terms(&bytes),
        Err(DecodeError::InvalidValue { what: "epoch rule" })
    );
}

#[test]
fn stream_records_round_trip() {
    let cases = [
        stream(terms(), Vec::new()),
        stream(terms(), sorted_deliveries(3)),
        stream(longest_terms(), sorted_deliveries(STREAM_BUYERS_MAX)),
    ];
    for s in cases {
        let record = s.to_record();
        assert_eq!(record, record_of(&s));
        assert_eq!(Stream::from_record(&record).as_ref(), Ok(&s));
        let mut r = Reader::new(&record);
        assert_eq!(Stream::decode(&mut r).as_ref(), Ok(&s));
        assert!(r.finish("record").is_ok());
        // The value the state map commits to is over these bytes.
        let id = StreamId(Hash32::digest(&[b"id"]));
        assert_eq!(
            state_map::stream_entry(&id, &s),
            (
                state_map::stream_key(&id),
                state_map::stream_value_hash(&record)
            )
        );
    }
}

#[test]
fn a_record_with_buyers_out_of_order_duplicated_or_too_many_is_refused() {
    let sorted = sorted_deliveries(3);
    let out_of_order = DecodeError::InvalidValue {
        what: "buyers out of order",
    };
    let mut reversed = sorted.clone();
    reversed.reverse();
    let mut swapped = sorted.clone();
    swapped.swap(1, 2);
    let mut duplicated = sorted.clone();
    duplicated[2] = Delivery {
        epochs: 9,
        ..duplicated[1]
    };
    for buyers in [reversed, swapped, duplicated] {
        let record = record_of(&stream(terms(), buyers));
        assert_eq!(Stream::from_record(&record), Err(out_of_order.clone()));
    }
    let too_many = record_of(&stream(terms(), sorted_deliveries(STREAM_BUYERS_MAX + 1)));
    assert_eq!(
        Stream::from_record(&too_many),
        Err(DecodeError::TooLong {
            what: "buyers",
            len: STREAM_BUYERS_MAX + 1,
            max: STREAM_BUYERS_MAX,
        })
    );
    // Terms that break a rule make the record invalid too.
    let free = StreamTerms {
        price_per_epoch: Amount::ZERO,
        ..terms()
    };
    assert_eq!(
        Stream::from_record(&record_of(&stream(free, Vec::new()))),
        Err(DecodeError::InvalidValue {
            what: "the price per epoch must be above zero"
        })
    );
}

#[test]
fn a_record_cut_short_or_with_trailing_bytes_is_refused() {
    let record = stream(terms(), sorted_deliveries(2)).to_record();
    for cut in 0..record.len() {
        assert!(Stream::from_record(&record[..cut]).is_err(), "cut at {cut}");
    }
    for extra in [&[0u8][..], &[1, 2, 3]] {
        let mut long = record.clone();
        long.extend_from_slice(extra);
        assert_eq!(
            Stream::from_record(&long),
            Err(DecodeError::TrailingBytes {
                what: "stream record",
                count: extra.len(),
            })
        );
    }
}

#[test]
fn the_longest_record_has_its_documented_length_and_a_state_answer_carries_it() {
    let longest = stream(longest_terms(), sorted_deliveries(STREAM_BUYERS_MAX));
    let record = longest.to_record();
    assert_eq!(record.len(), STREAM_RECORD_BYTES_MAX);
    assert_eq!(STREAM_RECORD_BYTES_MAX, 3_632);
    // A client reads it from a state answer's bytes (at most
    // `STATE_RECORD_BYTES_MAX` of record), checked.
    let id = StreamId(Hash32::digest(&[b"the longest"]));
    let (key, value) = state_map::stream_entry(&id, &longest);
    let tree = StateTree::from_entries([(key, value)]);
    let sequencer = keypair(200);
    let draft = BlockDraft {
        genesis: genesis(),
        height: BlockHeight(7),
        epoch: 0,
        prev_hash: Hash32::ZERO,
        timestamp: Timestamp(1_700_000_000_000),
        state_root: tree.root(),
    };
    let header = Block::seal(draft, Vec::new(), &sequencer).header;
    let answer = StateAnswer {
        header,
        record: Some(record),
        proof: tree.prove(&key),
    };
    let answer = StateAnswer::from_bytes(&answer.to_bytes()).expect("decodes");
    let sequencers = [sequencer.account()];
    let check = StateCheck {
        genesis: &genesis(),
        sequencers: &sequencers,
        min_height: BlockHeight(7),
    };
    assert_eq!(answer.verify_stream(&id, &check), Ok(Some(longest)));
    // The same proof says nothing of another stream but its absence.
    let other = StreamId(Hash32::digest(&[b"another"]));
    let absent = StateAnswer {
        record: None,
        proof: tree.prove(&state_map::stream_key(&other)),
        ..answer
    };
    assert_eq!(absent.verify_stream(&other, &check), Ok(None));
}

#[test]
fn the_longest_stream_open_fits_in_a_transaction_and_every_stream_kind_round_trips() {
    let seller = keypair(1);
    let buyer = keypair(3);
    let id = StreamId::derive(&genesis(), &seller.account(), Nonce(9));
    let kinds = [
        TxKind::StreamOpen {
            terms: longest_terms(),
        },
        TxKind::StreamOpen { terms: terms() },
        TxKind::StreamConsent {
            stream: id,
            consent: Hash32([7; 32]),
        },
        TxKind::StreamDelivery {
            stream: id,
            ack: DeliveryAck::sign(&buyer, &genesis(), &id, u64::MAX, Amount::MAX),
        },
        TxKind::StreamClose { stream: id },
    ];
    for kind in kinds {
        let body = TxBody {
            genesis: genesis(),
            sender: seller.account(),
            nonce: Nonce(u64::MAX),
            valid_until: Timestamp(u64::MAX),
            kind,
        };
        let signed = body.clone().sign(&seller);
        assert!(signed.bytes().len() <= TX_BYTES_MAX);
        let back = SignedTx::decode(signed.bytes()).expect("decodes");
        assert_eq!(back, signed);
        assert!(back.clone().verify().is_ok());
        let opens = matches!(body.kind, TxKind::StreamOpen { .. });
        assert_eq!(
            back.opened_stream(),
            opens.then(|| StreamId::derive(&genesis(), &seller.account(), Nonce(u64::MAX)))
        );
        assert_eq!(back.kind().stream(), (!opens).then_some(id));
        assert_eq!(back.opened_channel(), None);
    }
    // The longest with its overhead: version, genesis, sender, nonce,
    // valid_until, tag, terms, signature.
    let longest = TxBody {
        genesis: genesis(),
        sender: seller.account(),
        nonce: Nonce(0),
        valid_until: Timestamp(0),
        kind: TxKind::StreamOpen {
            terms: longest_terms(),
        },
    }
    .sign(&seller);
    assert_eq!(
        longest.bytes().len(),
        1 + 32 + 32 + 8 + 8 + 1 + encode_terms(&longest_terms()).len() + 64
    );
    // Broken terms cannot be signed (encoding asserts the rules), and
    // bytes carrying them do not decode: here a zero price, patched in.
    let fine = TxBody {
        genesis: genesis(),
        sender: seller.account(),
        nonce: Nonce(0),
        valid_until: Timestamp(0),
        kind: TxKind::StreamOpen { terms: terms() },
    }
    .sign(&seller);
    let mut bytes = fine.bytes().to_vec();
    // version, genesis, sender, nonce, valid_until, tag, field count, then
    // "turbidity" (1 + 9, 1 + 3, kind and decimals) and "where" (1 + 5, 1, kind).
    let price_at = 1 + 32 + 32 + 8 + 8 + 1 + 1 + 16 + 8;
    assert_eq!(bytes[price_at..price_at + 8], 50u64.to_le_bytes());
    bytes[price_at..price_at + 8].copy_from_slice(&0u64.to_le_bytes());
    assert_eq!(
        SignedTx::decode(&bytes).map_err(|e| e.code()),
        Err("invalid_value")
    );
    let unsignable = std::panic::catch_unwind(|| {
        TxBody {
            genesis: genesis(),
            sender: seller.account(),
            nonce: Nonce(0),
            valid_until: Timestamp(0),
            kind: TxKind::StreamOpen {
                terms: StreamTerms {
                    price_per_epoch: Amount::ZERO,
                    ..terms()
                },
            },
        }
        .sign(&seller)
    });
    assert!(unsignable.is_err(), "broken terms are never signed");
}

#[test]
fn a_delivery_ack_verifies_only_for_its_stream_network_buyer_and_totals() {
    let buyer = keypair(3);
    let stream = StreamId::derive(&genesis(), &keypair(1).account(), Nonce(0));
    let other_stream = StreamId::derive(&genesis(), &keypair(1).account(), Nonce(1));
    let other_network = Hash32::digest(&[b"another network"]);
    let ack = DeliveryAck::sign(&buyer, &genesis(), &stream, 4, Amount::new(200));
    assert_eq!(
        ack.delivery,
        Delivery {
            buyer: buyer.account(),
            epochs: 4,
            paid: Amount::new(200),
        }
    );
    assert!(ack.verify(&genesis(), &stream).is_ok());
    assert!(ack.verify(&genesis(), &other_stream).is_err());
    assert!(ack.verify(&other_network, &stream).is_err());
    let changed = [
        Delivery {
            epochs: 5,
            ..ack.delivery
        },
        Delivery {
            paid: Amount::new(201),
            ..ack.delivery
        },
        Delivery {
            buyer: keypair(4).account(),
            ..ack.delivery
        },
    ];
    for delivery in changed {
        let forged = DeliveryAck { delivery, ..ack };
        assert!(forged.verify(&genesis(), &stream).is_err(), "{delivery:?}");
    }
    // Signed by another key over the same message.
    let message = delivery_message(&genesis(), &stream, &ack.delivery);
    let by_another = DeliveryAck {
        signature: keypair(4).sign(&message),
        ..ack
    };
    assert!(by_another.verify(&genesis(), &stream).is_err());
}

#[test]
fn the_delivery_message_is_the_documented_bytes() {
    let buyer = keypair(3);
    let stream = StreamId(Hash32([5; 32]));
    let d = Delivery {
        buyer: buyer.account(),
        epochs: 0x0102_0304_0506_0708,
        paid: Amount::new(0x1112_1314_1516_1718),
    };
    let message = delivery_message(&genesis(), &stream, &d);
    let mut want = Vec::new();
    want.extend_from_slice(DELIVERY_DOMAIN);
    want.extend_from_slice(&genesis().0);
    want.extend_from_slice(&stream.0 .0);
    want.extend_from_slice(buyer.account().as_bytes());
    want.extend_from_slice(&d.epochs.to_le_bytes());
    want.extend_from_slice(&d.paid.base_units().to_le_bytes());
    assert_eq!(DELIVERY_DOMAIN, b"ting:stream-delivery:v1");
    assert_eq!(want.len(), 135);
    assert_eq!(message.as_slice(), want.as_slice());
    // The signature is over exactly these bytes.
    let ack = DeliveryAck::sign(&buyer, &genesis(), &stream, d.epochs, d.paid);
    assert!(keys::verify(&buyer.account(), &want, &ack.signature).is_ok());
}

#[test]
fn stream_ids_are_bound_to_network_seller_and_nonce() {
    let (a, b) = (keypair(1).account(), keypair(2).account());
    let other = Hash32::digest(&[b"another network"]);
    let id = StreamId::derive(&genesis(), &a, Nonce(3));
    assert_eq!(id, StreamId::derive(&genesis(), &a, Nonce(3)));
    assert_ne!(id, StreamId::derive(&genesis(), &a, Nonce(4)));
    assert_ne!(id, StreamId::derive(&genesis(), &b, Nonce(3)));
    assert_ne!(id, StreamId::derive(&other, &a, Nonce(3)));
    assert_eq!(
        id.0,
        Hash32::digest(&[
            STREAM_ID_DOMAIN,
            &genesis().0,
            a.as_bytes(),
            &3u64.to_le_bytes()
        ])
    );
    assert_eq!(STREAM_ID_DOMAIN, b"ting:stream-id:v1");
    // Never the id of the channel the same transaction would open.
    assert_ne!(id.0, ChannelId::derive(&genesis(), &a, Nonce(3)).0);
    assert_eq!(StreamId::from_hex(&id.to_hex()), Some(id));
    assert_eq!(id.to_string(), id.to_hex());
    assert_eq!(StreamId::from_hex("not hex"), None);
    // Nor is a stream's state-map key any account's.
    let as_account = AccountId(id.0 .0);
    assert_ne!(
        state_map::stream_key(&id),
        state_map::account_key(&as_account)
    );
}

#[test]
fn epochs_are_numbered_as_documented() {
    // Points: epoch e holds points e × count to (e + 1) × count − 1; the time
    // a point was read does not matter.
    for count in [1u32, 3, 10] {
        let rule = EpochRule::Points(count);
        let n = u64::from(count);
        for e in 0..5u64 {
            for seq in e * n..(e + 1) * n {
                assert_eq!(rule.epoch_of(seq, 0), e, "point {seq} of {count}");
                assert_eq!(rule.epoch_of(seq, u64::MAX), e);
            }
        }
    }
    let most = EpochRule::Points(EPOCH_POINTS_MAX);
    assert_eq!(most.epoch_of(999_999, 0), 0);
    assert_eq!(most.epoch_of(1_000_000, 0), 1);
    assert_eq!(
        most.epoch_of(u64::MAX, 0),
        u64::MAX / u64::from(EPOCH_POINTS_MAX)
    );
    // Time: epoch e holds readings from e × ms to before (e + 1) × ms since
    // the Unix epoch; the point's number does not matter.
    let minute = EpochRule::Time(60_000);
    for (at, e) in [
        (0, 0),
        (59_999, 0),
        (60_000, 1),
        (119_999, 1),
        (120_000, 2),
        (1_700_000_000_000, 28_333_333),
        (1_700_000_040_000, 28_333_334),
    ] {
        assert_eq!(minute.epoch_of(0, at), e, "at {at}");
        assert_eq!(minute.epoch_of(u64::MAX, at), e);
    }
    let second = EpochRule::Time(WINDOW_MS_MIN);
    assert_eq!(second.epoch_of(0, 1_999), 1);
    let year = EpochRule::Time(WINDOW_MS_MAX);
    assert_eq!(year.epoch_of(0, WINDOW_MS_MAX - 1), 0);
    assert_eq!(year.epoch_of(0, WINDOW_MS_MAX), 1);
    assert_eq!(year.epoch_of(0, u64::MAX), u64::MAX / WINDOW_MS_MAX);
    // Rules the check refuses still number without a panic.
    assert_eq!(EpochRule::Points(0).epoch_of(7, 9), 7);
    assert_eq!(EpochRule::Time(0).epoch_of(7, 9), 9);
}
