//! Selling a data stream end to end, on the node's embedded broker and on
//! Mosquitto: a purifier (the seller) sells its readings under its owner's
//! consent record to three buyers over a real node and broker.
//!
//! - Buyer A is named in the record and buys every epoch.
//! - Buyer B is admitted by a certifier's attestation and has a budget of
//!   two epochs: it gets nothing after its last paid epoch.
//! - Buyer C shows an attestation for another category: it is refused.
//!
//! Checked: only what the record allows leaves (the raw flow never does,
//! consumption only as a sum); every point a buyer opens is one the seller
//! made, in an epoch it paid for; a tampered chunk is refused; a key asked
//! for without payment is refused; after the owner's revocation nothing
//! leaves and no later epoch is sold; the buyers' acknowledgements land on
//! the ledger as the seller's delivery record.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::net::Net;
use common::*;
use ting_agent::clock::now;
use ting_agent::stream::{Bought, Buyer, BuyerSetup, BuyerStats, Seller, SellerSetup, SellerStats};
use ting_agent::{ChannelOffer, Device, Message};
use ting_core::consent::attestation::Attestation;
use ting_core::consent::filter::{Reading, Value};
use ting_core::consent::revocation::{Revocation, SignedRevocation};
use ting_core::consent::{
    AggregateOp, BuyerRule, ConsentRecord, FieldRule, FieldUse, SignedConsent,
};
use ting_core::stream::chunk::{Chunk, Position};
use ting_core::stream::keyx::KeyRequest;
use ting_core::stream::point::PointValue;
use ting_core::stream::{EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, Hash32, Keypair, Timestamp, TxKind};
use tokio::sync::{mpsc, oneshot};

const PRICE: u64 = 20;
const EPOCH_POINTS: u32 = 10;
/// Readings before the owner revokes, and after.
const READINGS: u64 = 40;
const AFTER_REVOCATION: u64 = 15;

fn owner() -> Keypair {
    Keypair::from_seed([30; 32])
}
fn buyer_a() -> Keypair {
    Keypair::from_seed([31; 32])
}
fn buyer_b() -> Keypair {
    Keypair::from_seed([32; 32])
}
fn buyer_c() -> Keypair {
    Keypair::from_seed([33; 32])
}
fn certifier() -> Keypair {
    Keypair::from_seed([34; 32])
}

async fn start(embedded: bool) -> Net {
    let funded: Vec<(AccountId, u64)> = [owner(), buyer_a(), buyer_b(), buyer_c()]
        .iter()
        .map(|k| (k.account(), FUNDS))
        .collect();
    Net::start(embedded, &funded).await
}

/// Aligned to a whole second, ten minutes ago: readings carry times from
/// here, so that aggregation windows of a second hold ten readings each.
fn t0() -> u64 {
    (now().0 - 600_000) / 1000 * 1000
}

fn consent(t0: u64) -> SignedConsent {
    let device = device_key().account();
    ConsentRecord {
        genesis: Hash32::ZERO,
        owner: owner().account(),
        device,
        issued_at: Timestamp(t0 - 1000),
        expires_at: Timestamp(now().0 + 3_600_000),
        min_price_per_epoch: Amount::new(PRICE),
        purpose: "city water planning".into(),
        fields: vec![
            FieldRule {
                name: "hardness".into(),
                use_: FieldUse::Raw { round_to: 1 },
            },
            FieldRule {
                name: "consumption".into(),
                use_: FieldUse::Aggregate {
                    op: AggregateOp::Sum,
                    window_ms: 1000,
                    round_to: 1,
                },
            },
        ],
        buyers: vec![
            BuyerRule::Account(buyer_a().account()),
            BuyerRule::Category {
                category: "utility.water".into(),
                certifiers: vec![certifier().account()],
            },
        ],
    }
    .sign(&owner())
    .expect("signed")
}

fn terms(consent: &SignedConsent) -> StreamTerms {
    let number = |name: &str, unit: &str, decimals| FieldSpec {
        name: name.into(),
        unit: unit.into(),
        kind: FieldKind::Number { decimals },
    };
    StreamTerms {
        fields: vec![number("hardness", "mg/l", 1), number("consumption", "l", 0)],
        price_per_epoch: Amount::new(PRICE),
        epoch: EpochRule::Points(EPOCH_POINTS),
        area: "u0m".into(),
        consent: consent.hash(),
    }
}

/// Hardness of reading `i`: distinct, so every point names its reading.
fn hardness(i: u64) -> i64 {
    i64::try_from(1_000 + i).expect("small")
}

enum SellerCmd {
    Push {
        from: u64,
        to: u64,
        t0: u64,
        done: oneshot::Sender<()>,
    },
    Revoke(Box<SignedRevocation>, oneshot::Sender<u64>),
    Record(oneshot::Sender<usize>),
    Stats(oneshot::Sender<(SellerStats, Vec<(AccountId, u64)>)>),
}

async fn seller_task(mut device: Device, mut seller: Seller, mut cmds: mpsc::Receiver<SellerCmd>) {
    loop {
        tokio::select! {
            m = device.recv() => {
                match m {
                    Some(Message::KeyRequest { from, request }) => {
                        seller.answer(&device, from, &request).await.expect("answered");
                    }
                    Some(Message::Delivery { from, note }) => seller.on_delivery(from, &note),
                    _ => {}
                }
            }
            c = cmds.recv() => match c {
                Some(SellerCmd::Push { from, to, t0, done }) => {
                    for i in from..to {
                        let at = Timestamp(t0 + i * 100);
                        for (field, value) in [("hardness", hardness(i)), ("consumption", 5), ("flow_raw", 77)] {
                            let reading = Reading { field, value: Value::Number(value), at };
                            seller.push(&device, reading).expect("pushed");
                        }
                    }
                    seller.flush(&device).expect("flushed");
                    let _ = done.send(());
                }
                Some(SellerCmd::Revoke(r, done)) => {
                    let _ = done.send(seller.revoke(&device, &r).expect("revoked"));
                }
                Some(SellerCmd::Record(done)) => {
                    let _ = done.send(seller.record_deliveries(&device).await.expect("recorded"));
                }
                Some(SellerCmd::Stats(done)) => {
                    let earned = seller.earned().into_iter().map(|(b, (e, _))| (b, e)).collect();
                    let _ = done.send((seller.stats().clone(), earned));
                }
                None => break,
            }
        }
    }
    device.shutdown().await;
}

/// What a buyer's task shares with the test.
#[derive(Default)]
struct Seen {
    points: Vec<Bought>,
    stats: BuyerStats,
    spent: u64,
    epochs: BTreeSet<u64>,
    first_chunk: Option<Vec<u8>>,
    position: Option<Position>,
}

enum BuyerCmd {
    Send(Box<KeyRequest>),
    Feed(Vec<u8>),
}

async fn buyer_task(
    mut device: Device,
    mut buyer: Buyer,
    seen: Arc<Mutex<Seen>>,
    mut cmds: mpsc::Receiver<BuyerCmd>,
) {
    loop {
        let opened = tokio::select! {
            m = device.recv() => match m {
                Some(Message::Chunk { bytes, .. }) => {
                    seen.lock().unwrap().first_chunk.get_or_insert_with(|| bytes.clone());
                    buyer.on_chunk(&device, &bytes).await.expect("a chunk")
                }
                Some(Message::KeyGrant { from, grant }) => {
                    buyer.on_grant(&device, from, &grant).await.expect("a grant")
                }
                Some(Message::KeyRefusal { from, refusal }) => {
                    buyer.on_refusal(&device, from, &refusal).await.expect("a refusal");
                    Vec::new()
                }
                Some(_) => Vec::new(),
                None => break,
            },
            c = cmds.recv() => match c {
                Some(BuyerCmd::Send(r)) => {
                    device.send_key_request(buyer.seller(), &r).await.expect("sent");
                    Vec::new()
                }
                Some(BuyerCmd::Feed(bytes)) => buyer.on_chunk(&device, &bytes).await.expect("fed"),
                None => break,
            },
        };
        let mut s = seen.lock().unwrap();
        s.points.extend(opened);
        s.stats = buyer.stats().clone();
        s.spent = buyer.spent().base_units();
        s.epochs = buyer.epochs().collect();
        s.position = buyer.position();
    }
    device.shutdown().await;
}

struct BuyerHandle {
    seen: Arc<Mutex<Seen>>,
    cmds: mpsc::Sender<BuyerCmd>,
    account: AccountId,
}

/// A buyer device: its messaging key on the ledger, a channel to the seller
/// taken up by the seller, and its `Buyer` following the stream.
async fn buyer(
    net: &Net,
    key: Keypair,
    dir: &std::path::Path,
    seller: &Device,
    stream: StreamId,
    budget: u64,
    attestation: Option<ting_core::consent::attestation::SignedAttestation>,
) -> BuyerHandle {
    let device = net.device(key, dir).await;
    device.publish_messaging_key().await.expect("messaging key");
    let offer = ChannelOffer {
        payee: seller.account(),
        deposit: Amount::new(1_000),
        price: Amount::new(1),
        ticks: 1_000,
        expires_at: Timestamp(now().0 + 3_600_000),
    };
    let channel = device.open_channel(offer).await.expect("a channel");
    seller.accept_channel(&channel).await.expect("taken up");
    let setup = BuyerSetup {
        stream,
        channel,
        budget: Amount::new(budget),
        attestation,
    };
    let (b, earlier) = Buyer::open(&device, setup).await.expect("the buyer opens");
    assert!(earlier.is_empty());
    wait_until("the stream is subscribed", || device.streams_settled()).await;
    let account = device.account();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(buyer_task(device, b, Arc::clone(&seen), rx));
    BuyerHandle {
        seen,
        cmds: tx,
        account,
    }
}

fn attestation(category: &str) -> ting_core::consent::attestation::SignedAttestation {
    Attestation {
        genesis: Hash32::ZERO,
        certifier: certifier().account(),
        buyer: buyer_b().account(),
        category: category.into(),
        expires_at: Timestamp(now().0 + 3_600_000),
    }
    .sign(&certifier())
    .expect("signed")
}

async fn ask<T>(
    cmds: &mpsc::Sender<SellerCmd>,
    make: impl FnOnce(oneshot::Sender<T>) -> SellerCmd,
) -> T {
    let (tx, rx) = oneshot::channel();
    assert!(cmds.send(make(tx)).await.is_ok(), "the seller runs");
    tokio::time::timeout(DEADLINE, rx)
        .await
        .expect("in time")
        .expect("answered")
}

async fn market(embedded: bool) {
    let net = start(embedded).await;
    let mosquitto_port = (!embedded).then_some(net.port);
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().expect("dir")).collect();
    let genesis = net.node.shared().state.read().unwrap().genesis_hash();
    let t0 = t0();
    let mut consent = consent(t0);
    consent.record.genesis = genesis;
    let consent = consent.record.sign(&owner()).expect("signed");

    // The owner registers the purifier; the purifier registers its stream.
    let owner_device = net.device(owner(), dirs[0].path()).await;
    let device = device_key();
    let metadata = b"purifier".to_vec();
    let message =
        device_consent_message(&genesis, &owner().account(), &device.account(), &metadata);
    let register = TxKind::RegisterDevice {
        device: device.account(),
        device_signature: device.sign(&message),
        metadata,
    };
    owner_device.submit(register).await.expect("registered");
    let seller_device = net.device(device_key(), dirs[1].path()).await;
    let terms = terms(&consent);
    let stream = seller_device
        .open_stream(terms.clone())
        .await
        .expect("the stream opens");
    let setup = SellerSetup {
        stream,
        terms,
        consent: consent.clone(),
        chunk_points: 5,
    };
    let seller = Seller::open(&seller_device, setup).expect("the seller opens");
    // A buyer finds it by field and area, and reads it from the signed state.
    let found = owner_device
        .http()
        .find_streams("field=hardness&area=u0&max_price=20")
        .await
        .expect("a search");
    assert_eq!(found, vec![stream]);
    let none = owner_device
        .http()
        .find_streams("field=hardness&max_price=19")
        .await
        .expect("a search");
    assert!(none.is_empty());

    let with_genesis = |category: &str| {
        let mut a = attestation(category);
        a.attestation.genesis = genesis;
        a.attestation.sign(&certifier()).expect("signed")
    };
    let a = buyer(
        &net,
        buyer_a(),
        dirs[2].path(),
        &seller_device,
        stream,
        1_000,
        None,
    )
    .await;
    let b_att = with_genesis("utility.water");
    let b = buyer(
        &net,
        buyer_b(),
        dirs[3].path(),
        &seller_device,
        stream,
        2 * PRICE,
        Some(b_att.clone()),
    )
    .await;
    let mut c_att = with_genesis("retail.marketing");
    c_att.attestation.buyer = buyer_c().account();
    let c_att = c_att.attestation.sign(&certifier()).expect("signed");
    let c = buyer(
        &net,
        buyer_c(),
        dirs[4].path(),
        &seller_device,
        stream,
        1_000,
        Some(c_att),
    )
    .await;

    let (seller_cmds, rx) = mpsc::channel(16);
    tokio::spawn(seller_task(seller_device, seller, rx));
    ask(&seller_cmds, |done| SellerCmd::Push {
        from: 0,
        to: READINGS,
        t0,
        done,
    })
    .await;

    // Buyer A gets every hardness reading, each exactly once.
    let want: BTreeSet<i64> = (0..READINGS).map(hardness).collect();
    let hardness_of = |s: &Seen| -> Vec<i64> {
        s.points
            .iter()
            .filter(|p| p.point.field == 0)
            .map(|p| match p.point.value {
                PointValue::Number { value, .. } => value,
                ref other => panic!("hardness leaves raw, not {other:?}"),
            })
            .collect()
    };
    let ok = waited(|| hardness_of(&a.seen.lock().unwrap()).len() == want.len()).await;
    if !ok {
        let (stats, earned) = ask(&seller_cmds, SellerCmd::Stats).await;
        let s = a.seen.lock().unwrap();
        panic!(
            "buyer A has {} of {} readings; A: {:?} epochs {:?}; seller: {stats:?} {earned:?}",
            hardness_of(&s).len(),
            want.len(),
            s.stats,
            s.epochs
        );
    }
    {
        let s = a.seen.lock().unwrap();
        let got = hardness_of(&s);
        assert_eq!(
            got.iter().copied().collect::<BTreeSet<_>>(),
            want,
            "every reading, once"
        );
        for p in s.points.iter().filter(|p| p.point.field == 1) {
            let PointValue::Aggregate {
                value,
                count,
                window_ms,
                ..
            } = p.point.value
            else {
                panic!("consumption leaves only as a sum, not {:?}", p.point.value)
            };
            assert_eq!(
                (value, count, window_ms),
                (50, 10, 1000),
                "a whole second's sum"
            );
        }
        assert!(
            s.points.iter().all(|p| p.point.field <= 1),
            "the raw flow never leaves"
        );
        assert_eq!(
            s.spent,
            s.epochs.len() as u64 * PRICE,
            "A paid for each epoch once"
        );
        assert!(s.stats.refused_chunks.is_empty(), "{:?}", s.stats);
    }

    // Buyer B bought two epochs, and holds nothing of any other.
    wait_until("buyer B spent its budget", || {
        b.seen.lock().unwrap().epochs.len() == 2
    })
    .await;
    let b_epochs = b.seen.lock().unwrap().epochs.clone();
    wait_until("buyer B opened its epochs", || {
        let s = b.seen.lock().unwrap();
        let a_seen = a.seen.lock().unwrap();
        let want = a_seen
            .points
            .iter()
            .filter(|p| b_epochs.contains(&p.epoch))
            .count();
        s.points.len() == want
    })
    .await;
    {
        let s = b.seen.lock().unwrap();
        assert_eq!(s.spent, 2 * PRICE);
        assert!(
            s.points.iter().all(|p| b_epochs.contains(&p.epoch)),
            "only paid epochs open"
        );
        assert!(s.stats.budget_stops >= 1, "{:?}", s.stats);
    }

    // Buyer C's category is not the record's: refused, nothing opened.
    wait_until("buyer C is refused", || {
        c.seen
            .lock()
            .unwrap()
            .stats
            .refusals
            .contains_key("buyer_not_allowed")
    })
    .await;
    assert!(c.seen.lock().unwrap().points.is_empty());

    // A forged chunk: the first chunk's points put where the stream now
    // stands. It does not verify, and nothing opens from it.
    let at = b.seen.lock().unwrap().position.expect("B has a position");
    let first = a
        .seen
        .lock()
        .unwrap()
        .first_chunk
        .clone()
        .expect("a chunk was seen");
    let mut forged = Chunk::decode(&first).expect("a chunk");
    forged.first_seq = at.next_seq;
    forged.prev_link = at.link;
    let forged = forged.encode();
    let counts = |h: &BuyerHandle| {
        let s = h.seen.lock().unwrap();
        (
            s.stats.chunks,
            s.points.len(),
            s.stats
                .refused_chunks
                .get("bad_signature")
                .copied()
                .unwrap_or(0),
        )
    };
    let before: Vec<_> = [&a, &b, &c].iter().map(|h| counts(h)).collect();
    if let Some(port) = mosquitto_port {
        // Through the broker, as a hostile client would: every buyer sees it.
        publish_raw(
            port,
            &ting_core::topics::stream_chunks(&device_key().account(), &stream),
            forged,
        )
        .await;
        for (h, was) in [&a, &b, &c].iter().zip(&before) {
            wait_until("the forged chunk is refused", || counts(h).2 == was.2 + 1).await;
        }
    } else {
        b.cmds.send(BuyerCmd::Feed(forged)).await.expect("fed");
        wait_until("the forged chunk is refused", || {
            counts(&b).2 == before[1].2 + 1
        })
        .await;
    }
    for (h, was) in [&a, &b, &c].iter().zip(&before) {
        let now = counts(h);
        assert_eq!(
            (now.0, now.1),
            (was.0, was.1),
            "nothing counted or opened from it"
        );
    }

    // A key asked for without payment, for an epoch B did not buy.
    let unpaid = (0..).find(|e| !b_epochs.contains(e)).expect("an epoch");
    let request = KeyRequest {
        stream,
        epoch: unpaid,
        payment: None,
        ack: None,
        attestation: Some(b_att),
    };
    b.cmds
        .send(BuyerCmd::Send(Box::new(request)))
        .await
        .expect("sent");
    wait_until("the unpaid request is refused", || {
        b.seen
            .lock()
            .unwrap()
            .stats
            .refusals
            .contains_key("payment_required")
    })
    .await;
    assert!(!b.seen.lock().unwrap().epochs.contains(&unpaid));

    // The owner revokes: nothing more leaves, and no later epoch is sold.
    let revocation = Revocation::of(&consent, Timestamp(t0 + READINGS * 100))
        .sign(&owner())
        .expect("signed");
    let from = ask(&seller_cmds, |done| {
        SellerCmd::Revoke(Box::new(revocation), done)
    })
    .await;
    let points_before = a.seen.lock().unwrap().points.len();
    ask(&seller_cmds, |done| SellerCmd::Push {
        from: READINGS,
        to: READINGS + AFTER_REVOCATION,
        t0,
        done,
    })
    .await;
    let (stats, _) = ask(&seller_cmds, SellerCmd::Stats).await;
    assert!(stats.withheld.get("not_in_force").copied().unwrap_or(0) >= AFTER_REVOCATION);
    let request = KeyRequest {
        stream,
        epoch: from,
        payment: None,
        ack: None,
        attestation: None,
    };
    a.cmds
        .send(BuyerCmd::Send(Box::new(request)))
        .await
        .expect("sent");
    wait_until("the revoked epoch is refused", || {
        a.seen
            .lock()
            .unwrap()
            .stats
            .refusals
            .contains_key("consent_revoked")
    })
    .await;
    assert_eq!(
        a.seen.lock().unwrap().points.len(),
        points_before,
        "nothing after revocation"
    );

    // The seller's delivery record on the ledger, from the buyers' acknowledgements.
    let recorded = ask(&seller_cmds, SellerCmd::Record).await;
    assert!(recorded >= 1, "at least buyer A acknowledged");
    let on_ledger = owner_device
        .http()
        .stream(&stream)
        .await
        .expect("read")
        .expect("open");
    let a_epochs = a.seen.lock().unwrap().epochs.len() as u64;
    let a_record = on_ledger
        .buyers
        .iter()
        .find(|d| d.buyer == a.account)
        .expect("A is in the record");
    assert!(
        a_record.epochs >= 1 && a_record.epochs <= a_epochs,
        "{a_record:?}"
    );
    assert_eq!(a_record.paid, Amount::new(a_record.epochs * PRICE));
    let (stats, earned) = ask(&seller_cmds, SellerCmd::Stats).await;
    assert_eq!(stats.keys_sold, a_epochs + 2, "{stats:?}");
    assert!(earned.contains(&(b.account, 2)), "{earned:?}");
    assert!(!earned.iter().any(|(who, _)| *who == c.account));

    drop(seller_cmds);
    drop((a, b, c));
    owner_device.shutdown().await;
    net.stop().await;
}

/// Whether `cond` came to hold before the deadline.
async fn waited(mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + DEADLINE;
    while !cond() {
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    true
}

/// Publishes `bytes` on `topic` as an anonymous client of the Mosquitto on
/// `port` (which, run without Ting's plugin, lets anyone publish anywhere).
async fn publish_raw(port: u16, topic: &str, bytes: Vec<u8>) {
    let mut options = rumqttc::MqttOptions::new("hostile", "127.0.0.1", port);
    options.set_max_packet_size(64 * 1024, 64 * 1024);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 8);
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, bytes)
        .await
        .expect("queued");
    let acked = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => return,
                Ok(_) => {}
                Err(e) => panic!("the hostile client failed: {e}"),
            }
        }
    });
    acked.await.expect("the broker took it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_sold_under_consent_on_the_embedded_broker() {
    market(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_sold_under_consent_on_mosquitto() {
    market(false).await;
}
