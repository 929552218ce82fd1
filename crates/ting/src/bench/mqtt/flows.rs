//! The broker's raw rate and the transactions run, and what the runs share:
//! signing ahead of a window, and measuring then stopping the publishers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::QoS;
use ting_core::envelope::{receive, EnvelopeType, ReplayGuard};
use ting_core::{AccountId, Hash32, Keypair, SignedTx, Timestamp};

use super::now_ms;
use super::session::{connect, Broker, Counter, Rate, Session, Sink, Traffic};
use super::workload::{self, Accounts};

/// Transfers each device keeps published but unanswered.
const TX_WINDOW: usize = 64;
/// A generous guess of the transfers per second this machine can confirm,
/// to sign enough that no device runs dry.
const TX_PER_S_GUESS: usize = 40_000;
/// Key purpose of the raw-rate clients: keys of their own, not funded.
const RAW_KEY_PURPOSE: u8 = 0x7a;

/// The broker alone: `pairs` QoS 1 publishers, each sending `size`-byte
/// opaque payloads (not envelopes: the broker does not look) to one
/// subscriber, as the messages run does with envelopes, so that the two
/// rates are of the same traffic. All log in as devices; each publisher sends
/// to its subscriber's own inbox, the one topic the ACL lets a device both be
/// sent to and read.
pub(super) async fn raw_rate(
    broker: &Broker,
    pairs: usize,
    size: usize,
    window: Duration,
) -> anyhow::Result<Rate> {
    let counter = Arc::new(Counter::default());
    let stop = Arc::new(AtomicBool::new(false));
    // The client-id suffix keeps one size's clients from taking over the
    // sessions of another's, should the broker still hold them.
    let suffix = format!("raw-{size}");
    let mut sessions = Vec::new();
    let mut pumps = Vec::new();
    for p in 0..pairs {
        let index = u64::try_from(p).expect("a small index");
        let sub_key = workload::keypair(RAW_KEY_PURPOSE, 2 * index);
        let pub_key = workload::keypair(RAW_KEY_PURPOSE, 2 * index + 1);
        let topic = ting_core::topics::inbox(&sub_key.account());
        let seen = Arc::clone(&counter);
        let on_publish = Sink::Call(Box::new(move |_: &[u8]| seen.hit()));
        let inbox = Some(topic.clone());
        sessions.push(
            connect(
                broker,
                &sub_key,
                &suffix,
                Traffic::Stream,
                inbox,
                on_publish,
            )
            .await?,
        );
        let publisher = connect(
            broker,
            &pub_key,
            &suffix,
            Traffic::Stream,
            None,
            Sink::Ignore,
        )
        .await?;
        pumps.push(pump(&publisher, topic, size, &stop));
        sessions.push(publisher);
    }
    let rate = counter.measure(window).await;
    stop.store(true, Ordering::Relaxed);
    for p in pumps {
        let _ = p.await;
    }
    Ok(rate)
}

/// Publishes `size`-byte payloads to `topic` until `stop`.
fn pump(
    session: &Session,
    topic: String,
    size: usize,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (client, stop) = (session.client.clone(), Arc::clone(stop));
    let payload = vec![0xa5u8; size];
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            if client
                .publish(&topic, QoS::AtLeastOnce, false, payload.clone())
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

/// Signed transfers through `ting/v1/tx`, counted as verified receipts in the inboxes.
pub(super) async fn tx_rate(
    broker: &Broker,
    accounts: &Accounts,
    node: AccountId,
    devices: usize,
    window: Duration,
) -> anyhow::Result<Measured> {
    let per_device = seconds_with_slack(window).saturating_mul(TX_PER_S_GUESS) / devices;
    let senders = &accounts.senders[..devices];
    let genesis = accounts.genesis.hash();
    let signed = presign(devices, per_device, "signing transfers", |d, n| {
        own_transfer(senders, &genesis, d, n)
    });
    let counter = Arc::new(Counter::default());
    let mut tasks = Vec::new();
    let mut sessions = Vec::new();
    for (d, txs) in signed.into_iter().enumerate() {
        let window_slots = Arc::new(tokio::sync::Semaphore::new(TX_WINDOW));
        let on_receipt = receipt_sink(&senders[d], node, genesis, &counter, &window_slots);
        let inbox = ting_core::topics::inbox(&senders[d].account());
        let session = connect(
            broker,
            &senders[d],
            "tx",
            Traffic::RequestReply,
            Some(inbox),
            on_receipt,
        )
        .await?;
        let client = session.client.clone();
        tasks.push(tokio::spawn(async move {
            for tx in txs {
                let Ok(permit) = window_slots.acquire().await else {
                    return;
                };
                permit.forget();
                let topic = ting_core::topics::TX_TOPIC;
                if client
                    .publish(topic, QoS::AtLeastOnce, false, tx.bytes().to_vec())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }));
        sessions.push(session);
    }
    Ok(measure_then_stop(&counter, window, tasks, sessions).await)
}

/// A device's inbox: each envelope checked alone with `envelope::receive`;
/// a receipt from the node counts and frees a slot of the device's window.
fn receipt_sink(
    device: &Keypair,
    node: AccountId,
    genesis: Hash32,
    counter: &Arc<Counter>,
    slots: &Arc<tokio::sync::Semaphore>,
) -> Sink {
    let (seen, slots) = (Arc::clone(counter), Arc::clone(slots));
    let me = device.account();
    // Receipts all come from the node, one sender: reserved, so that they are
    // not held to an unreserved sender's 1/64 of the cache. A device signs
    // fewer transfers than the cache holds, so it never fills.
    let mut guard = ReplayGuard::new(ting_core::limits::REPLAY_CACHE_MAX).reserve_for([node]);
    Sink::Call(Box::new(move |bytes: &[u8]| {
        let now = Timestamp(now_ms());
        match receive(bytes, &me, &genesis, &mut guard, now) {
            Ok(env) if env.header.sender == node && env.header.kind == EnvelopeType::RECEIPT => {
                seen.hit();
                slots.add_permits(1);
            }
            Ok(_) => {}
            Err(_) => seen.refuse(1),
        }
    }))
}

/// Seconds of pre-signed traffic a window needs: the window and its warm-up,
/// rounded up, and a second of slack.
pub(super) fn seconds_with_slack(window: Duration) -> usize {
    let seconds = (window + super::WARM_UP).as_secs().saturating_add(2);
    usize::try_from(seconds).unwrap_or(usize::MAX)
}

/// `groups` lists of `per_group` items made by `make(group, n)`, on every core,
/// before a window: signing is the device's cost, not what is measured.
pub(super) fn presign<T: Send>(
    groups: usize,
    per_group: usize,
    what: &str,
    make: impl Fn(usize, u64) -> T + Sync,
) -> Vec<Vec<T>> {
    let bar = super::super::progress((per_group * groups) as u64, what);
    let out = workload::par_map(groups, &bar, |g| {
        (0..per_group as u64)
            .map(|n| {
                bar.inc(1);
                make(g, n)
            })
            .collect()
    });
    bar.finish_and_clear();
    out
}

/// A rate, and what went wrong on the way.
#[derive(Debug, Clone, Copy)]
pub(super) struct Measured {
    pub rate: Rate,
    /// Envelopes the receivers refused (none should be).
    pub refused: u64,
    /// Publishers that stopped before the window ended: ran out of
    /// pre-signed items, or lost their connection. Then the rate is a floor.
    pub stopped_early: usize,
}

/// Measures `counter` over `window`, then stops the publishing tasks and the clients.
pub(super) async fn measure_then_stop(
    counter: &Counter,
    window: Duration,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    sessions: Vec<Session>,
) -> Measured {
    let rate = counter.measure(window).await;
    let stopped_early = tasks.iter().filter(|t| t.is_finished()).count();
    if stopped_early > 0 {
        eprintln!(
            "ting bench mqtt: {stopped_early} publishers stopped before the window ended; the rate is a floor"
        );
    }
    for t in &tasks {
        t.abort();
    }
    drop(sessions);
    Measured {
        rate,
        refused: counter.refused(),
        stopped_early,
    }
}

/// Transfer `n` of device `d`, to the next device, with nonce `n`.
fn own_transfer(senders: &[Keypair], genesis: &Hash32, d: usize, n: u64) -> SignedTx {
    let from = &senders[d];
    let to = senders[(d + 1) % senders.len()].account();
    ting_core::TxBody {
        genesis: *genesis,
        sender: from.account(),
        nonce: ting_core::Nonce(n),
        valid_until: ting_core::Timestamp(u64::MAX),
        kind: ting_core::TxKind::Transfer {
            to,
            amount: ting_core::Amount::new(1),
            memo: Vec::new(),
        },
    }
    .sign(from)
}
