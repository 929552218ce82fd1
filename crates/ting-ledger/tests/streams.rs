//! Data streams on the ledger: the four stream transactions (open, consent,
//! delivery, close) case by case, and against a plain model.
//!
//! The cases pin each rule and its error code: only a registered device
//! opens a stream, putting down `STREAM_DEPOSIT` (within its funds, its daily
//! spending limit and `STREAMS_OPEN_PER_SELLER_MAX`, and not while frozen);
//! the seller or its owner names the consent and closes; only the seller
//! records deliveries, each a buyer's signature over growing totals for this
//! stream on this network, buyers sorted and at most `STREAM_BUYERS_MAX`;
//! closing returns the deposit to the seller and takes the record out of the
//! state map, which a proof of absence then shows. A refusal changes nothing;
//! the incremental state root equals one rebuilt from scratch after every
//! block; snapshots with open streams round-trip.
//!
//! The property test applies random sequences of the four kinds and of
//! transfers among three devices (two owners) and three buyers, and checks
//! after every transaction that money is conserved, the running sums equal
//! a walk, and outcome codes, balances, open streams per seller and every
//! record agree with the model; after every block, that the incremental
//! root equals the rebuilt one; at the end, that replaying the blocks and a
//! snapshot round trip give the same state.

#![allow(clippy::cast_possible_truncation)] // small test indices

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use ting_core::limits::{DAY_MS, STREAMS_OPEN_PER_SELLER_MAX, STREAM_BUYERS_MAX, STREAM_DEPOSIT};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::stream::record::delivery_message;
use ting_core::stream::{
    Delivery, DeliveryAck, EpochRule, FieldKind, FieldSpec, Stream, StreamId, StreamTerms,
};
use ting_core::{
    AccountId, Amount, Block, Genesis, Hash32, Keypair, Signature, SignedTx, Timestamp, TxKind,
};
use ting_ledger::{State, TxError};

/// What each genesis key (0 to 3) starts with: a thousand deposits.
const START: u64 = 1_000 * STREAM_DEPOSIT;
/// What the fixture's device is given: two deposits and some change.
const FUND: u64 = 2 * STREAM_DEPOSIT + 500;

fn owner() -> Keypair {
    key(1)
}

fn stranger() -> Keypair {
    key(2)
}

fn buyer() -> Keypair {
    key(3)
}

fn device() -> Keypair {
    key(10)
}

/// A key that never holds money, so never an account.
fn nobody() -> Keypair {
    key(40)
}

/// The `i`th of many extra buyers, apart from every `key(_)`.
fn extra_buyer(i: u8) -> Keypair {
    let mut seed = [0xb0; 32];
    seed[0] = i;
    Keypair::from_seed(seed)
}

fn terms() -> StreamTerms {
    StreamTerms {
        fields: vec![
            FieldSpec {
                name: "turbidity".into(),
                unit: "ntu".into(),
                kind: FieldKind::Number { decimals: 2 },
            },
            FieldSpec {
                name: "where".into(),
                unit: String::new(),
                kind: FieldKind::Location,
            },
        ],
        price_per_epoch: Amount::new(50),
        epoch: EpochRule::Time(60_000),
        area: "u33d".into(),
        consent: Hash32::digest(&[b"consent v1"]),
    }
}

/// The shortest terms there are: one location field named in one letter,
/// no unit, an epoch of one point, an area of one character.
fn smallest_terms() -> StreamTerms {
    StreamTerms {
        fields: vec![FieldSpec {
            name: "p".into(),
            unit: String::new(),
            kind: FieldKind::Location,
        }],
        price_per_epoch: Amount::new(1),
        epoch: EpochRule::Points(1),
        area: "u".into(),
        consent: Hash32::ZERO,
    }
}

fn open_kind(terms: StreamTerms) -> TxKind {
    TxKind::StreamOpen { terms }
}

fn consent(stream: StreamId, consent: Hash32) -> TxKind {
    TxKind::StreamConsent { stream, consent }
}

fn close(stream: StreamId) -> TxKind {
    TxKind::StreamClose { stream }
}

fn deliver(stream: StreamId, ack: DeliveryAck) -> TxKind {
    TxKind::StreamDelivery { stream, ack }
}

/// `buyer`'s acknowledgement of `epochs` and `paid` on `stream`, for this network.
fn ack(buyer: &Keypair, stream: StreamId, epochs: u64, paid: u64) -> DeliveryAck {
    DeliveryAck::sign(buyer, &genesis_hash(), &stream, epochs, Amount::new(paid))
}

fn code(r: Result<(), TxError>) -> Result<(), &'static str> {
    r.map_err(|e| e.code())
}

/// A ledger with `owner()`'s device `device()` registered and funded with
/// [`FUND`], blocks cut on demand, and every send checked.
struct Fixture {
    genesis: Genesis,
    state: State,
    at: u64,
    pending: Vec<SignedTx>,
    blocks: Vec<Block>,
}

impl Fixture {
    fn new() -> Fixture {
        let genesis = genesis(START);
        let state = State::from_genesis(&genesis, 1);
        let mut f = Fixture {
            genesis,
            state,
            at: T0,
            pending: Vec::new(),
            blocks: Vec::new(),
        };
        let owner = owner();
        f.send(&owner, register(&owner, 0, &device()).body().kind.clone())
            .expect("registers");
        f.fund(&device().account(), FUND);
        f.commit();
        f
    }

    /// Applies `t` at the fixture's time: a refusal must leave the state
    /// byte for byte, money must be conserved and the running sums must
    /// equal a walk.
    fn apply(&mut self, t: SignedTx) -> Result<(), TxError> {
        let before = self.state.digest();
        let result = self.state.apply_tx(&t, Timestamp(self.at));
        match result {
            Ok(()) => self.pending.push(t),
            Err(_) => assert_eq!(self.state.digest(), before, "a refusal changed the state"),
        }
        assert_eq!(self.state.held_sum(), Some(self.state.supply()), "supply");
        let running = (self.state.balance_sum(), self.state.locked_sum());
        assert_eq!(running, self.state.walked_sums(), "running sums");
        result
    }

    /// The transaction `who` sends next with `kind`.
    fn tx_of(&self, who: &Keypair, kind: TxKind) -> SignedTx {
        let nonce = self.state.next_nonce(&who.account()).0;
        tx(who, who.account(), nonce, kind)
    }

    fn send(&mut self, who: &Keypair, kind: TxKind) -> Result<(), TxError> {
        let t = self.tx_of(who, kind);
        self.apply(t)
    }

    /// The issuer (key 0) sends `amount` to `to`.
    fn fund(&mut self, to: &AccountId, amount: u64) {
        let kind = TxKind::Transfer {
            to: *to,
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        self.send(&key(0), kind).expect("funds");
    }

    /// `seller` opens a stream with `terms`; returns its id.
    fn open_with(&mut self, seller: &Keypair, terms: StreamTerms) -> StreamId {
        let t = self.tx_of(seller, open_kind(terms));
        let id = t.opened_stream().expect("a stream open names its stream");
        self.apply(t).expect("opens");
        id
    }

    fn open(&mut self) -> StreamId {
        self.open_with(&device(), terms())
    }

    /// Seals the applied transactions as the next block and commits it; the
    /// incremental root must be the one rebuilt from scratch.
    fn commit(&mut self) {
        let b = block(&mut self.state, self.at, std::mem::take(&mut self.pending));
        self.state.commit_block(&b.header).expect("block follows");
        assert_eq!(
            self.state.committed_root(),
            self.state.recomputed_root(),
            "incremental state root at height {}",
            self.state.height().0
        );
        self.blocks.push(b);
    }

    fn balance(&self, who: &Keypair) -> u64 {
        self.state
            .account(&who.account())
            .map_or(0, |a| a.balance.base_units())
    }

    fn locked(&self) -> u64 {
        self.state.locked_sum().expect("fits").base_units()
    }

    /// What the last committed block's state root says stream `id` is,
    /// through a state answer's bytes checked as a client checks them.
    fn proved(&self, id: &StreamId) -> Option<Stream> {
        let (record, proof) = self.state.prove_stream(id);
        let header = self.state.tip_header().expect("a block committed").clone();
        let answer = StateAnswer {
            header,
            record,
            proof,
        };
        let answer = StateAnswer::from_bytes(&answer.to_bytes()).expect("the answer decodes");
        let genesis = genesis_hash();
        let sequencers = [sequencer().account()];
        let check = StateCheck {
            genesis: &genesis,
            sequencers: &sequencers,
            min_height: self.state.height(),
        };
        answer
            .verify_stream(id, &check)
            .expect("the answer verifies")
    }
}

#[test]
fn a_registered_device_opens_a_stream_with_its_deposit() {
    let mut f = Fixture::new();
    let seller = device();
    let t = f.tx_of(&seller, open_kind(terms()));
    let id = t.opened_stream().expect("names its stream");
    assert_eq!(
        id,
        StreamId::derive(&genesis_hash(), &seller.account(), t.nonce())
    );
    let (balance, locked) = (f.balance(&seller), f.locked());
    f.apply(t).expect("opens");
    assert_eq!(f.balance(&seller), balance - STREAM_DEPOSIT);
    assert_eq!(f.locked(), locked + STREAM_DEPOSIT);
    assert_eq!(f.state.held_sum(), Some(f.state.supply()));
    assert_eq!(f.state.open_stream_count(&seller.account()), 1);
    let s = f.state.stream(&id).expect("the record is in the state");
    assert_eq!(
        (s.seller, s.owner, s.deposit, s.opened_at),
        (
            seller.account(),
            owner().account(),
            Amount::new(STREAM_DEPOSIT),
            Timestamp(f.at)
        )
    );
    assert_eq!(s.terms, terms());
    assert!(s.buyers.is_empty());
    assert_eq!(f.state.streams().count(), 1);
    // The next open has the next nonce, so another id.
    let second = f.open();
    assert_ne!(second, id);
    assert_eq!(f.state.open_stream_count(&seller.account()), 2);
    assert_eq!(f.locked(), locked + 2 * STREAM_DEPOSIT);
}

#[test]
fn only_a_registered_device_opens_a_stream() {
    let mut f = Fixture::new();
    for who in [owner(), buyer(), key(0)] {
        let refused = f.send(&who, open_kind(terms()));
        assert_eq!(code(refused), Err("not_a_device"));
        assert_eq!(f.state.open_stream_count(&who.account()), 0);
    }
    assert_eq!(f.locked(), 0);
}

#[test]
fn a_device_without_the_deposit_cannot_open() {
    let mut f = Fixture::new();
    let poor = key(11);
    let owner = owner();
    f.send(&owner, register(&owner, 0, &poor).body().kind.clone())
        .expect("registers");
    f.fund(&poor.account(), STREAM_DEPOSIT - 1);
    let refused = f.send(&poor, open_kind(terms()));
    assert_eq!(code(refused), Err("insufficient_funds"));
    f.fund(&poor.account(), 1);
    f.send(&poor, open_kind(terms()))
        .expect("exactly the deposit is enough");
    assert_eq!(f.balance(&poor), 0);
}

#[test]
fn a_frozen_device_cannot_open_but_may_set_consent_deliver_and_close() {
    let mut f = Fixture::new();
    let seller = device();
    let id = f.open();
    let freeze = TxKind::Freeze {
        device: seller.account(),
    };
    f.send(&owner(), freeze).expect("freezes");
    assert_eq!(code(f.send(&seller, open_kind(terms()))), Err("frozen"));
    let h = Hash32::digest(&[b"consent v2"]);
    f.send(&seller, consent(id, h)).expect("names the consent");
    f.send(&seller, deliver(id, ack(&buyer(), id, 1, 50)))
        .expect("records a delivery");
    let before = f.balance(&seller);
    f.send(&seller, close(id)).expect("closes");
    assert_eq!(f.balance(&seller), before + STREAM_DEPOSIT);
    assert!(f.state.stream(&id).is_none());
    assert_eq!(f.locked(), 0);
}

#[test]
fn opening_counts_against_the_daily_spend_limit() {
    let mut f = Fixture::new();
    let seller = device();
    let limit = TxKind::SetSpendLimit {
        device: seller.account(),
        per_day: Some(Amount::new(2 * STREAM_DEPOSIT - 1)),
    };
    f.send(&owner(), limit).expect("limits");
    f.open();
    let refused = f.send(&seller, open_kind(terms()));
    assert_eq!(code(refused), Err("spend_limit_exceeded"));
    assert_eq!(f.state.open_stream_count(&seller.account()), 1);
    f.commit();
    f.at += DAY_MS;
    f.open();
    assert_eq!(f.state.open_stream_count(&seller.account()), 2);
}

#[test]
fn a_seller_has_at_most_the_most_open_streams_and_may_open_again_after_a_close() {
    let mut f = Fixture::new();
    let seller = device();
    f.fund(
        &seller.account(),
        STREAMS_OPEN_PER_SELLER_MAX as u64 * STREAM_DEPOSIT,
    );
    let ids: Vec<StreamId> = (0..STREAMS_OPEN_PER_SELLER_MAX).map(|_| f.open()).collect();
    assert_eq!(
        f.state.open_stream_count(&seller.account()),
        STREAMS_OPEN_PER_SELLER_MAX
    );
    let refused = f.send(&seller, open_kind(terms()));
    assert_eq!(code(refused), Err("too_many_streams"));
    // Another device of the same owner is not held back.
    let other = key(11);
    let owner = owner();
    f.send(&owner, register(&owner, 0, &other).body().kind.clone())
        .expect("registers");
    f.fund(&other.account(), STREAM_DEPOSIT);
    f.open_with(&other, terms());
    f.send(&seller, close(ids[7])).expect("closes one");
    assert_eq!(
        f.state.open_stream_count(&seller.account()),
        STREAMS_OPEN_PER_SELLER_MAX - 1
    );
    f.open();
    assert_eq!(
        code(f.send(&seller, open_kind(terms()))),
        Err("too_many_streams")
    );
    assert_eq!(
        f.locked(),
        (STREAMS_OPEN_PER_SELLER_MAX as u64 + 1) * STREAM_DEPOSIT
    );
    f.commit();
}

#[test]
fn the_seller_and_its_owner_name_the_consent_and_no_one_else() {
    let mut f = Fixture::new();
    let id = f.open();
    let (h1, h2) = (Hash32::digest(&[b"one"]), Hash32::digest(&[b"two"]));
    f.send(&device(), consent(id, h1)).expect("the seller");
    assert_eq!(f.state.stream(&id).map(|s| s.terms.consent), Some(h1));
    f.send(&owner(), consent(id, h2)).expect("the owner");
    let s = f.state.stream(&id).expect("open");
    assert_eq!(
        s.terms,
        StreamTerms {
            consent: h2,
            ..terms()
        },
        "only the consent changed"
    );
    for who in [stranger(), buyer()] {
        let refused = f.send(&who, consent(id, h1));
        assert_eq!(code(refused), Err("not_seller"));
    }
    let unknown = StreamId(Hash32::digest(&[b"no such stream"]));
    assert_eq!(
        code(f.send(&device(), consent(unknown, h1))),
        Err("unknown_stream")
    );
    assert_eq!(f.state.stream(&id).map(|s| s.terms.consent), Some(h2));
}

#[test]
fn only_the_seller_records_deliveries() {
    let mut f = Fixture::new();
    let id = f.open();
    let a = ack(&buyer(), id, 1, 50);
    for who in [owner(), stranger(), buyer()] {
        assert_eq!(code(f.send(&who, deliver(id, a))), Err("not_seller"));
    }
    let unknown = StreamId(Hash32::digest(&[b"no such stream"]));
    let elsewhere = ack(&buyer(), unknown, 1, 50);
    assert_eq!(
        code(f.send(&device(), deliver(unknown, elsewhere))),
        Err("unknown_stream")
    );
    f.send(&device(), deliver(id, a)).expect("the seller");
    let s = f.state.stream(&id).expect("open");
    assert_eq!(s.buyers, vec![a.delivery]);
    assert_eq!(s.delivered(), (1, Amount::new(50)));
}

#[test]
fn the_buyer_is_an_account_and_not_the_seller() {
    let mut f = Fixture::new();
    let id = f.open();
    let seller = device();
    let unknown = ack(&nobody(), id, 1, 50);
    assert_eq!(
        code(f.send(&seller, deliver(id, unknown))),
        Err("unknown_buyer")
    );
    let itself = ack(&seller, id, 1, 50);
    assert_eq!(
        code(f.send(&seller, deliver(id, itself))),
        Err("unknown_buyer")
    );
    // Once it holds money, the same key may buy.
    f.fund(&nobody().account(), 1);
    f.send(&seller, deliver(id, unknown))
        .expect("now an account");
}

#[test]
fn a_delivery_is_signed_by_its_buyer_for_this_stream_and_network() {
    let mut f = Fixture::new();
    let id = f.open();
    let other = f.open();
    let seller = device();
    let buyer = buyer();
    let d = Delivery {
        buyer: buyer.account(),
        epochs: 2,
        paid: Amount::new(100),
    };
    let by_another = DeliveryAck {
        delivery: d,
        signature: stranger().sign(&delivery_message(&genesis_hash(), &id, &d)),
    };
    let garbage = DeliveryAck {
        delivery: d,
        signature: Signature([9; 64]),
    };
    let other_stream = ack(&buyer, other, 2, 100);
    let other_network = DeliveryAck::sign(
        &buyer,
        &Hash32::digest(&[b"another network"]),
        &id,
        2,
        Amount::new(100),
    );
    let mut altered = ack(&buyer, id, 2, 100);
    altered.delivery.paid = Amount::new(101);
    for bad in [by_another, garbage, other_stream, other_network, altered] {
        let refused = f.send(&seller, deliver(id, bad));
        assert_eq!(code(refused), Err("bad_delivery_signature"), "{bad:?}");
    }
    assert!(f.state.stream(&id).is_some_and(|s| s.buyers.is_empty()));
    f.send(&seller, deliver(id, ack(&buyer, id, 2, 100)))
        .expect("the buyer's own");
    // The other stream's acknowledgement is good where it belongs.
    f.send(&seller, deliver(other, other_stream))
        .expect("on its stream");
}

#[test]
fn delivery_totals_only_grow() {
    let mut f = Fixture::new();
    let id = f.open();
    let seller = device();
    let buyer = buyer();
    // A first acknowledgement of nothing would only take a buyer's slot.
    let refused = f.send(&seller, deliver(id, ack(&buyer, id, 0, 0)));
    assert_eq!(code(refused), Err("stale_delivery"));
    assert!(f.state.stream(&id).is_some_and(|s| s.buyers.is_empty()));
    f.send(&seller, deliver(id, ack(&buyer, id, 3, 150)))
        .expect("first");
    for (epochs, paid) in [(3, 150), (2, 150), (3, 100), (2, 200), (4, 149), (0, 0)] {
        let refused = f.send(&seller, deliver(id, ack(&buyer, id, epochs, paid)));
        assert_eq!(code(refused), Err("stale_delivery"), "({epochs}, {paid})");
    }
    f.send(&seller, deliver(id, ack(&buyer, id, 4, 150)))
        .expect("more epochs, same money");
    f.send(&seller, deliver(id, ack(&buyer, id, 4, 151)))
        .expect("same epochs, more money");
    f.send(&seller, deliver(id, ack(&buyer, id, 9, 450)))
        .expect("both");
    let s = f.state.stream(&id).expect("open");
    assert_eq!(
        s.buyers,
        vec![Delivery {
            buyer: buyer.account(),
            epochs: 9,
            paid: Amount::new(450),
        }]
    );
}

#[test]
fn buyers_are_kept_sorted() {
    let mut f = Fixture::new();
    let id = f.open();
    let mut buyers: Vec<Keypair> = (0..5).map(extra_buyer).collect();
    for b in &buyers {
        f.fund(&b.account(), 1);
    }
    // Applied in an order that is not theirs.
    buyers.sort_by_key(|b| std::cmp::Reverse(b.account().as_bytes()[7]));
    for (i, b) in buyers.iter().enumerate() {
        let i = i as u64;
        f.send(&device(), deliver(id, ack(b, id, i + 1, 10 * (i + 1))))
            .expect("records");
        let s = f.state.stream(&id).expect("open");
        assert!(
            s.buyers.windows(2).all(|w| w[0].buyer < w[1].buyer),
            "sorted after {} buyers",
            i + 1
        );
    }
    let s = f.state.stream(&id).expect("open");
    let mut want: Vec<AccountId> = buyers.iter().map(Keypair::account).collect();
    want.sort();
    let got: Vec<AccountId> = s.buyers.iter().map(|d| d.buyer).collect();
    assert_eq!(got, want);
    assert_eq!(Stream::from_record(&s.to_record()).as_ref(), Ok(s));
    assert_eq!(s.delivered(), (15, Amount::new(150)));
}

#[test]
fn a_record_holds_at_most_the_most_buyers_and_is_proved_full() {
    let mut f = Fixture::new();
    let id = f.open();
    let buyers: Vec<Keypair> = (0..=STREAM_BUYERS_MAX as u8).map(extra_buyer).collect();
    for b in &buyers {
        f.fund(&b.account(), 1);
    }
    for b in &buyers[..STREAM_BUYERS_MAX] {
        f.send(&device(), deliver(id, ack(b, id, 1, 50)))
            .expect("records");
    }
    let last = &buyers[STREAM_BUYERS_MAX];
    let refused = f.send(&device(), deliver(id, ack(last, id, 1, 50)));
    assert_eq!(code(refused), Err("too_many_buyers"));
    // A buyer already recorded still moves on.
    f.send(&device(), deliver(id, ack(&buyers[0], id, 2, 100)))
        .expect("updates");
    let s = f.state.stream(&id).expect("open").clone();
    assert_eq!(s.buyers.len(), STREAM_BUYERS_MAX);
    assert!(s.buyers.iter().all(|d| d.buyer != last.account()));
    // The record at its longest is still proved to a client.
    f.commit();
    assert_eq!(f.proved(&id), Some(s));
}

#[test]
fn the_seller_closes_and_gets_its_deposit_back_and_the_record_is_proved_gone() {
    let mut f = Fixture::new();
    let seller = device();
    let id = f.open();
    f.send(&seller, deliver(id, ack(&buyer(), id, 1, 50)))
        .expect("records");
    f.commit();
    let open = f.state.stream(&id).cloned();
    assert!(open.is_some());
    assert_eq!(f.proved(&id), open, "proved open");
    let before = f.balance(&seller);
    f.send(&seller, close(id)).expect("closes");
    assert_eq!(f.balance(&seller), before + STREAM_DEPOSIT);
    assert!(f.state.stream(&id).is_none());
    assert_eq!(f.state.open_stream_count(&seller.account()), 0);
    assert_eq!(f.locked(), 0);
    // Until the block commits, proofs still answer the last committed block.
    assert_eq!(f.proved(&id), open, "proved at the last committed block");
    f.commit();
    assert_eq!(f.proved(&id), None, "proved absent");
    assert_eq!(code(f.send(&seller, close(id))), Err("unknown_stream"));
    assert_eq!(
        code(f.send(&seller, consent(id, Hash32::ZERO))),
        Err("unknown_stream")
    );
    assert_eq!(
        code(f.send(&seller, deliver(id, ack(&buyer(), id, 2, 100)))),
        Err("unknown_stream")
    );
    // A stream never opened is proved absent too.
    assert_eq!(
        f.proved(&StreamId(Hash32::digest(&[b"never opened"]))),
        None
    );
    replays_exactly(&f.genesis, &f.blocks, &f.state).expect("replays");
}

#[test]
fn the_owner_closes_and_the_deposit_goes_to_the_seller() {
    let mut f = Fixture::new();
    let (seller, owner) = (device(), owner());
    let id = f.open();
    f.commit();
    for who in [stranger(), buyer()] {
        assert_eq!(code(f.send(&who, close(id))), Err("not_seller"));
    }
    let (seller_before, owner_before) = (f.balance(&seller), f.balance(&owner));
    let owner_nonce = f.state.next_nonce(&owner.account());
    let seller_nonce = f.state.next_nonce(&seller.account());
    f.send(&owner, close(id)).expect("the owner closes");
    assert_eq!(f.balance(&seller), seller_before + STREAM_DEPOSIT);
    assert_eq!(f.balance(&owner), owner_before);
    assert_eq!(f.state.next_nonce(&owner.account()).0, owner_nonce.0 + 1);
    assert_eq!(f.state.next_nonce(&seller.account()), seller_nonce);
    assert!(f.state.stream(&id).is_none());
    assert_eq!(f.state.open_stream_count(&seller.account()), 0);
    f.commit();
    assert_eq!(f.proved(&id), None);
    assert_eq!(code(f.send(&owner, close(id))), Err("unknown_stream"));
}

#[test]
fn a_refused_stream_transaction_changes_nothing() {
    let mut f = Fixture::new();
    let id = f.open();
    f.send(&device(), deliver(id, ack(&buyer(), id, 2, 100)))
        .expect("records");
    f.commit();
    let unknown = StreamId(Hash32::digest(&[b"no such stream"]));
    let refusals: Vec<(Keypair, TxKind, &str)> = vec![
        (owner(), open_kind(terms()), "not_a_device"),
        (stranger(), consent(id, Hash32::ZERO), "not_seller"),
        (device(), consent(unknown, Hash32::ZERO), "unknown_stream"),
        (
            owner(),
            deliver(id, ack(&buyer(), id, 3, 150)),
            "not_seller",
        ),
        (
            device(),
            deliver(id, ack(&nobody(), id, 1, 1)),
            "unknown_buyer",
        ),
        (
            device(),
            deliver(id, ack(&buyer(), unknown, 3, 150)),
            "bad_delivery_signature",
        ),
        (
            device(),
            deliver(id, ack(&buyer(), id, 2, 100)),
            "stale_delivery",
        ),
        (stranger(), close(id), "not_seller"),
        (device(), close(unknown), "unknown_stream"),
    ];
    let digest = f.state.digest();
    let record = f.state.stream(&id).cloned();
    for (who, kind, want) in refusals {
        let nonce = f.state.next_nonce(&who.account());
        let got = f
            .state
            .apply_tx(&tx(&who, who.account(), nonce.0, kind), Timestamp(f.at));
        assert_eq!(code(got), Err(want));
        assert_eq!(f.state.digest(), digest, "{want} changed the state");
        assert_eq!(f.state.next_nonce(&who.account()), nonce, "{want}");
    }
    assert_eq!(f.state.stream(&id).cloned(), record);
    // Nor the state root the next block carries.
    let mut after = f.state.clone();
    assert_eq!(after.update_root(), f.state.committed_root());
}

#[test]
fn the_incremental_root_equals_a_rebuilt_one_after_every_block() {
    let mut f = Fixture::new();
    let seller = device();
    let other = key(11);
    let owner = owner();
    f.send(&owner, register(&owner, 0, &other).body().kind.clone())
        .expect("registers");
    f.fund(&other.account(), 3 * STREAM_DEPOSIT);
    f.fund(&key(20).account(), 10);
    // 1: two streams open, one named a new consent.
    let a = f.open();
    let b = f.open_with(&other, smallest_terms());
    f.send(&seller, consent(a, Hash32::digest(&[b"v2"])))
        .expect("consent");
    f.commit();
    // 2: deliveries on both, one changed twice in the block.
    f.send(&seller, deliver(a, ack(&buyer(), a, 1, 50)))
        .expect("delivers");
    f.send(&seller, deliver(a, ack(&key(20), a, 1, 50)))
        .expect("delivers");
    f.send(&seller, deliver(a, ack(&buyer(), a, 2, 100)))
        .expect("delivers");
    f.send(&other, deliver(b, ack(&buyer(), b, 5, 5)))
        .expect("delivers");
    f.commit();
    // 3: only a consent changes.
    f.send(&owner, consent(b, Hash32::digest(&[b"v3"])))
        .expect("consent");
    f.commit();
    assert_eq!(
        f.proved(&b).map(|s| s.terms.consent),
        Some(Hash32::digest(&[b"v3"]))
    );
    // 4: a stream opened and closed within one block leaves no entry.
    let c = f.open();
    f.send(&seller, close(c)).expect("closes");
    f.commit();
    assert_eq!(f.proved(&c), None);
    // 5: the owner closes one, the seller the other, with transfers between.
    f.send(&owner, close(a)).expect("closes");
    f.send(
        &seller,
        TxKind::Transfer {
            to: other.account(),
            amount: Amount::new(7),
            memo: Vec::new(),
        },
    )
    .expect("transfers");
    f.send(&other, close(b)).expect("closes");
    f.commit();
    // 6: an empty block, then one that opens again.
    f.commit();
    let d = f.open_with(&other, terms());
    f.commit();
    assert!(f.proved(&d).is_some());
    assert_eq!(f.state.streams().count(), 1);
    replays_exactly(&f.genesis, &f.blocks, &f.state).expect("replays");
}

/// A snapshot of `f`'s state decodes (with another hasher seed), takes the
/// tip's header, and is the same state with the same root.
fn snapshot_round_trip(f: &Fixture) -> State {
    let mut restored = State::decode(&f.state.encode(), 77).expect("the snapshot decodes");
    let tip = f.state.tip_header().expect("a block committed");
    restored.adopt_tip_header(tip).expect("at the tip");
    restored
        .end_replay()
        .expect("the rebuilt map has the tip's root");
    assert_eq!(restored.digest(), f.state.digest());
    assert_eq!(restored.committed_root(), f.state.committed_root());
    assert_eq!(
        (restored.balance_sum(), restored.locked_sum()),
        (f.state.balance_sum(), f.state.locked_sum())
    );
    for (id, s) in f.state.streams() {
        assert_eq!(restored.stream(id), Some(s));
        assert_eq!(
            restored.open_stream_count(&s.seller),
            f.state.open_stream_count(&s.seller)
        );
    }
    restored
}

#[test]
fn a_snapshot_with_open_streams_round_trips() {
    let mut f = Fixture::new();
    let seller = device();
    let a = f.open();
    let b = f.open();
    f.send(&seller, deliver(a, ack(&buyer(), a, 3, 150)))
        .expect("delivers");
    f.send(&seller, deliver(a, ack(&stranger(), a, 1, 50)))
        .expect("delivers");
    f.send(&owner(), consent(b, Hash32::digest(&[b"v2"])))
        .expect("consent");
    f.commit();
    let mut restored = snapshot_round_trip(&f);
    assert_eq!(restored.open_stream_count(&seller.account()), 2);
    // The restored state goes on as the original does.
    let t = f.tx_of(&seller, close(a));
    f.apply(t.clone()).expect("closes");
    restored.apply_tx(&t, Timestamp(f.at)).expect("closes");
    assert_eq!(restored.digest(), f.state.digest());
    assert_eq!(restored.update_root(), f.state.clone().update_root());
}

#[test]
fn a_snapshot_whose_only_stream_is_the_smallest_record_round_trips() {
    let mut f = Fixture::new();
    let id = f.open_with(&device(), smallest_terms());
    f.commit();
    let restored = snapshot_round_trip(&f);
    assert_eq!(
        restored.stream(&id).map(|s| &s.terms),
        Some(&smallest_terms())
    );
}

#[test]
fn a_version_5_snapshot_is_read_as_a_state_without_streams() {
    let f = Fixture::new();
    let mut bytes = f.state.encode();
    assert_eq!(bytes[0], 8, "the current version");
    // Version 5 is the same without the stream section, the three market
    // sections and the three resource sections (zero u64 counts here).
    let tail = bytes.split_off(bytes.len() - 56);
    assert_eq!(tail, [0; 56]);
    bytes[0] = 5;
    let mut old = State::decode(&bytes, 3).expect("version 5 decodes");
    old.adopt_tip_header(f.state.tip_header().expect("committed"))
        .expect("at the tip");
    old.end_replay().expect("the same root");
    assert_eq!(old.digest(), f.state.digest());
    assert_eq!(old.streams().count(), 0);
}

// ---------------------------------------------------------------------------
// The property test.

/// Three devices (keys 10 and 11 of owner key 1, key 12 of owner key 2),
/// the two owners and three buyers (keys 3, 20 and 21).
const ACTORS: usize = 8;
const DEVICES: usize = 3;
/// Each device's owner, as an actor index.
const OWNER_OF: [usize; DEVICES] = [3, 3, 4];
const BUYERS: [usize; 3] = [5, 6, 7];
/// What each device starts with: two deposits and a half.
const DEVICE_FUND: u64 = 2 * STREAM_DEPOSIT + STREAM_DEPOSIT / 2;
/// What buyers 20 and 21 start with.
const BUYER_FUND: u64 = 1_000;

fn actor(i: usize) -> Keypair {
    match i {
        0..=2 => key(10 + i as u8),
        3 => key(1),
        4 => key(2),
        5 => key(3),
        6 => key(20),
        _ => key(21),
    }
}

/// Which stream a transaction names.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// One of the open streams (any stream if none is open).
    Open(Index),
    /// Any stream opened so far, closed ones too.
    Any(Index),
    /// A stream never opened.
    Unknown,
}

/// Who sends a consent, delivery or close: the stream's seller, its owner,
/// or any actor.
#[derive(Clone, Copy, Debug)]
enum Who {
    Seller,
    Owner,
    Actor(usize),
}

/// How a delivery's acknowledgement is signed.
#[derive(Clone, Copy, Debug)]
enum Sig {
    Good,
    /// By another key than the buyer's.
    Forged,
    /// By the buyer, for another stream.
    OtherStream,
    /// By the buyer, for another network.
    OtherNetwork,
}

#[derive(Clone, Debug)]
enum Op {
    Open {
        sender: usize,
    },
    Consent {
        who: Who,
        stream: Pick,
        consent: u8,
    },
    Delivery {
        who: Who,
        stream: Pick,
        /// 0 to 2: a buyer; 3: a key that is no account; 4: the seller.
        buyer: usize,
        /// Added to what the buyer last acknowledged on the stream (zero
        /// for a new buyer), each floored at zero; `paid` in steps of 50.
        epochs: i64,
        paid: i64,
        sig: Sig,
    },
    Close {
        who: Who,
        stream: Pick,
    },
    Transfer {
        from: usize,
        to: usize,
        amount: u64,
    },
}

#[derive(Clone, Debug)]
enum Step {
    Tx(Op),
    /// Cut the block.
    EndBlock,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        6 => Just(Who::Seller),
        2 => Just(Who::Owner),
        2 => (0..ACTORS).prop_map(Who::Actor),
    ]
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        12 => any::<Index>().prop_map(Pick::Open),
        2 => any::<Index>().prop_map(Pick::Any),
        1 => Just(Pick::Unknown),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let sig = prop_oneof![
        12 => Just(Sig::Good),
        1 => Just(Sig::Forged),
        1 => Just(Sig::OtherStream),
        1 => Just(Sig::OtherNetwork),
    ];
    let buyer = prop_oneof![12 => 0usize..3, 1 => Just(3usize), 1 => Just(4usize)];
    let amount = prop_oneof![
        4 => 0u64..1_000,
        2 => Just(STREAM_DEPOSIT / 2),
        2 => Just(STREAM_DEPOSIT),
        1 => Just(3 * STREAM_DEPOSIT),
    ];
    prop_oneof![
        3 => prop_oneof![6 => 0..DEVICES, 1 => 0..ACTORS].prop_map(|sender| Op::Open { sender }),
        2 => (who(), pick(), 0u8..4)
            .prop_map(|(who, stream, consent)| Op::Consent { who, stream, consent }),
        6 => (who(), pick(), buyer, -1i64..3, -1i64..3, sig).prop_map(
            |(who, stream, buyer, epochs, paid, sig)| Op::Delivery {
                who,
                stream,
                buyer,
                epochs,
                paid,
                sig,
            }
        ),
        2 => (who(), pick()).prop_map(|(who, stream)| Op::Close { who, stream }),
        3 => (0..ACTORS, 0..ACTORS, amount)
            .prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![16 => op().prop_map(Step::Tx), 1 => Just(Step::EndBlock)],
        1..64,
    )
}

/// The model of one stream, open or closed.
#[derive(Clone, Debug)]
struct MStream {
    id: StreamId,
    /// The seller, as a device index.
    seller: usize,
    open: bool,
    consent: Hash32,
    /// Each buyer's acknowledged (epochs, paid), by account: in the order the
    /// record keeps them.
    buyers: BTreeMap<AccountId, (u64, u64)>,
}

#[derive(Debug)]
struct Model {
    balances: [u64; ACTORS],
    streams: Vec<MStream>,
}

fn consent_hash(i: u8) -> Hash32 {
    Hash32::digest(&[b"consent", &[i]])
}

/// A model transaction: the op with its sender and stream resolved.
struct MTx {
    sender: usize,
    /// The model index of the stream named; `None` for one never opened.
    stream: Option<usize>,
    /// For a delivery, the buyer (an actor index) and its new totals.
    delivery: Option<(usize, u64, u64)>,
}

impl Model {
    fn open_count(&self, device: usize) -> usize {
        self.streams
            .iter()
            .filter(|s| s.open && s.seller == device)
            .count()
    }

    fn resolve(&self, pick: Pick) -> Option<usize> {
        let open: Vec<usize> = (0..self.streams.len())
            .filter(|&i| self.streams[i].open)
            .collect();
        match pick {
            Pick::Open(i) if !open.is_empty() => Some(open[i.index(open.len())]),
            Pick::Open(i) | Pick::Any(i) if !self.streams.is_empty() => {
                Some(i.index(self.streams.len()))
            }
            _ => None,
        }
    }

    /// The stream at `i` if it is open.
    fn open_stream(&self, i: Option<usize>) -> Result<&MStream, &'static str> {
        i.and_then(|i| self.streams.get(i))
            .filter(|s| s.open)
            .ok_or("unknown_stream")
    }

    fn apply(&mut self, op: &Op, m: &MTx, id: StreamId) -> Result<(), &'static str> {
        let sender = m.sender;
        match *op {
            Op::Open { .. } => {
                if sender >= DEVICES {
                    return Err("not_a_device");
                }
                if self.open_count(sender) >= STREAMS_OPEN_PER_SELLER_MAX {
                    return Err("too_many_streams");
                }
                if self.balances[sender] < STREAM_DEPOSIT {
                    return Err("insufficient_funds");
                }
                self.balances[sender] -= STREAM_DEPOSIT;
                self.streams.push(MStream {
                    id,
                    seller: sender,
                    open: true,
                    consent: terms().consent,
                    buyers: BTreeMap::new(),
                });
            }
            Op::Consent { consent, .. } => {
                let s = self.open_stream(m.stream)?;
                if sender != s.seller && sender != OWNER_OF[s.seller] {
                    return Err("not_seller");
                }
                self.streams[m.stream.expect("open")].consent = consent_hash(consent);
            }
            Op::Delivery { buyer, sig, .. } => {
                let s = self.open_stream(m.stream)?;
                if sender != s.seller {
                    return Err("not_seller");
                }
                if buyer >= BUYERS.len() {
                    return Err("unknown_buyer");
                }
                if !matches!(sig, Sig::Good) {
                    return Err("bad_delivery_signature");
                }
                let (_, epochs, paid) = m.delivery.expect("a delivery");
                let account = actor(BUYERS[buyer]).account();
                match s.buyers.get(&account) {
                    Some(&(e, p)) if epochs < e || paid < p || (epochs, paid) == (e, p) => {
                        return Err("stale_delivery")
                    }
                    None if epochs == 0 => return Err("stale_delivery"),
                    None if s.buyers.len() >= STREAM_BUYERS_MAX => return Err("too_many_buyers"),
                    _ => {}
                }
                self.streams[m.stream.expect("open")]
                    .buyers
                    .insert(account, (epochs, paid));
            }
            Op::Close { .. } => {
                let s = self.open_stream(m.stream)?;
                if sender != s.seller && sender != OWNER_OF[s.seller] {
                    return Err("not_seller");
                }
                let seller = s.seller;
                self.streams[m.stream.expect("open")].open = false;
                self.balances[seller] += STREAM_DEPOSIT;
            }
            Op::Transfer { to, amount, .. } => {
                if amount == 0 {
                    return Err("zero_amount");
                }
                if sender == to {
                    return Err("self_transfer");
                }
                if self.balances[sender] < amount {
                    return Err("insufficient_funds");
                }
                self.balances[sender] -= amount;
                self.balances[to] += amount;
            }
        }
        Ok(())
    }
}

/// Resolves `op` against the model and builds its transaction kind.
fn build(model: &Model, op: &Op, unknown: StreamId) -> (MTx, TxKind) {
    let id_of = |i: Option<usize>| i.map_or(unknown, |i| model.streams[i].id);
    // A stream never opened has device 0 for "seller".
    let seller_of = |i: Option<usize>| i.map_or(0, |i| model.streams[i].seller);
    let sender = |who: Who, stream: Option<usize>| match who {
        Who::Seller => seller_of(stream),
        Who::Owner => OWNER_OF[seller_of(stream)],
        Who::Actor(a) => a,
    };
    let plain = |sender, stream| MTx {
        sender,
        stream,
        delivery: None,
    };
    match *op {
        Op::Open { sender } => (plain(sender, None), open_kind(terms())),
        Op::Consent {
            who,
            stream,
            consent: c,
        } => {
            let i = model.resolve(stream);
            (plain(sender(who, i), i), consent(id_of(i), consent_hash(c)))
        }
        Op::Delivery {
            who,
            stream,
            buyer,
            epochs,
            paid,
            sig,
        } => {
            let i = model.resolve(stream);
            let id = id_of(i);
            let signer = match buyer {
                0..=2 => actor(BUYERS[buyer]),
                3 => nobody(),
                _ => actor(seller_of(i)),
            };
            let (e, p) = i
                .and_then(|i| model.streams[i].buyers.get(&signer.account()).copied())
                .unwrap_or((0, 0));
            let epochs = e.saturating_add_signed(epochs);
            let paid = p.saturating_add_signed(paid * 50);
            let ack = match sig {
                Sig::Good => ack(&signer, id, epochs, paid),
                Sig::Forged => {
                    let d = Delivery {
                        buyer: signer.account(),
                        epochs,
                        paid: Amount::new(paid),
                    };
                    DeliveryAck {
                        delivery: d,
                        signature: stranger().sign(&delivery_message(&genesis_hash(), &id, &d)),
                    }
                }
                Sig::OtherStream => ack(&signer, unknown, epochs, paid),
                Sig::OtherNetwork => DeliveryAck::sign(
                    &signer,
                    &Hash32::digest(&[b"another network"]),
                    &id,
                    epochs,
                    Amount::new(paid),
                ),
            };
            let m = MTx {
                sender: sender(who, i),
                stream: i,
                delivery: Some((buyer, epochs, paid)),
            };
            (m, deliver(id, ack))
        }
        Op::Close { who, stream } => {
            let i = model.resolve(stream);
            (plain(sender(who, i), i), close(id_of(i)))
        }
        Op::Transfer { from, to, amount } => (
            plain(from, None),
            TxKind::Transfer {
                to: actor(to).account(),
                amount: Amount::new(amount),
                memo: Vec::new(),
            },
        ),
    }
}

/// The state agrees with the model: balances, open streams per seller, what
/// they lock, and every stream's record (or its absence once closed).
fn agrees(state: &State, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        state.held_sum(),
        Some(state.supply()),
        "supply not conserved"
    );
    sums_walked(state)?;
    for (i, want) in model.balances.iter().enumerate() {
        let real = state
            .account(&actor(i).account())
            .map_or(0, |a| a.balance.base_units());
        prop_assert_eq!(real, *want, "balance of actor {}", i);
    }
    let mut open = 0;
    for d in 0..DEVICES {
        let n = model.open_count(d);
        prop_assert_eq!(
            state.open_stream_count(&actor(d).account()),
            n,
            "device {}",
            d
        );
        open += n;
    }
    prop_assert_eq!(state.streams().count(), open);
    prop_assert_eq!(
        state.locked_sum(),
        Some(Amount::new(open as u64 * STREAM_DEPOSIT)),
        "deposits locked"
    );
    for m in &model.streams {
        let real = state.stream(&m.id);
        prop_assert_eq!(real.is_some(), m.open, "stream {} open", m.id);
        if let Some(s) = real {
            prop_assert_eq!(s.seller, actor(m.seller).account());
            prop_assert_eq!(s.owner, actor(OWNER_OF[m.seller]).account());
            prop_assert_eq!(s.deposit, Amount::new(STREAM_DEPOSIT));
            prop_assert_eq!(s.terms.consent, m.consent);
            let buyers: Vec<(AccountId, (u64, u64))> = s
                .buyers
                .iter()
                .map(|d| (d.buyer, (d.epochs, d.paid.base_units())))
                .collect();
            let want: Vec<(AccountId, (u64, u64))> =
                m.buyers.iter().map(|(a, v)| (*a, *v)).collect();
            prop_assert_eq!(buyers, want, "buyers of {}", m.id);
        }
    }
    Ok(())
}

/// Seals the pending transactions as the next block and commits it; the
/// incremental root must equal the rebuilt one.
fn end_block(
    state: &mut State,
    now: &mut u64,
    pending: &mut Vec<SignedTx>,
    blocks: &mut Vec<Block>,
) -> Result<(), TestCaseError> {
    let b = block(state, *now, std::mem::take(pending));
    state.commit_block(&b.header).expect("block follows");
    prop_assert_eq!(
        state.committed_root(),
        state.recomputed_root(),
        "incremental root at height {}",
        state.height().0
    );
    blocks.push(b);
    *now += 1_000;
    Ok(())
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let genesis = genesis(START);
    let mut state = State::from_genesis(&genesis, 42);
    let mut now = T0;
    let mut pending: Vec<SignedTx> = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    // Block 1: the devices registered and funded, buyers 20 and 21 funded.
    let mut setup = Vec::new();
    for (d, &o) in OWNER_OF.iter().enumerate() {
        let owner = actor(o);
        let nonce = setup
            .iter()
            .filter(|t: &&SignedTx| t.sender() == owner.account())
            .count() as u64;
        setup.push(register(&owner, nonce, &actor(d)));
    }
    let funds = (0..DEVICES)
        .map(|d| (d, DEVICE_FUND))
        .chain([(BUYERS[1], BUYER_FUND), (BUYERS[2], BUYER_FUND)]);
    for (n, (to, amount)) in funds.enumerate() {
        setup.push(transfer(&key(0), n as u64, actor(to).account(), amount));
    }
    for t in setup {
        state.apply_tx(&t, Timestamp(now)).expect("setup applies");
        pending.push(t);
    }
    end_block(&mut state, &mut now, &mut pending, &mut blocks)?;
    let mut model = Model {
        balances: [
            DEVICE_FUND,
            DEVICE_FUND,
            DEVICE_FUND,
            START,
            START,
            START,
            BUYER_FUND,
            BUYER_FUND,
        ],
        streams: Vec::new(),
    };
    agrees(&state, &model)?;
    let unknown = StreamId(Hash32::digest(&[b"no such stream"]));
    for step in steps {
        let op = match step {
            Step::Tx(op) => op,
            Step::EndBlock => {
                end_block(&mut state, &mut now, &mut pending, &mut blocks)?;
                continue;
            }
        };
        let (m, kind) = build(&model, op, unknown);
        let sender_key = actor(m.sender);
        let nonce = state.next_nonce(&sender_key.account());
        let t = tx(&sender_key, sender_key.account(), nonce.0, kind);
        let opened = t.opened_stream().unwrap_or(unknown);
        let before = state.digest();
        let got = state.apply_tx(&t, Timestamp(now));
        let want = model.apply(op, &m, opened);
        prop_assert_eq!(code(got), want, "op {:?} from actor {}", op, m.sender);
        if want.is_ok() {
            pending.push(t);
            prop_assert_eq!(state.next_nonce(&sender_key.account()).0, nonce.0 + 1);
        } else {
            prop_assert_eq!(state.digest(), before, "refusal changed state");
        }
        agrees(&state, &model)?;
    }
    end_block(&mut state, &mut now, &mut pending, &mut blocks)?;
    replays_exactly(&genesis, &blocks, &state)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn streams_agree_with_the_model(steps in steps()) {
        run(&steps)?;
    }
}
