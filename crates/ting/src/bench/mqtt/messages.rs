//! The messages run: device-to-device data envelopes through the broker,
//! counted once the receiver has checked them.
//!
//! Each of `--devices` senders publishes pre-signed data envelopes to one
//! receiver's inbox. A receiver's client hands what arrives to a bounded
//! queue; a checker on a thread of its own drains whatever has queued, up to
//! `MSG_BATCH_MAX` envelopes, and checks them together with
//! `envelope::receive_batch` (the rules of `receive`, one batch signature
//! check). An envelope counts once accepted.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{Publish, QoS};
use ting_core::envelope::{
    receive_batch, Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, ReplayGuard,
};
use ting_core::limits::REPLAY_CACHE_MAX;
use ting_core::{AccountId, Hash32, Keypair, Timestamp};
use tokio::sync::mpsc;

use super::flows::{measure_then_stop, presign, seconds_with_slack, Measured};
use super::session::{connect, Broker, Counter, Session, Sink, Traffic};
use super::workload::Accounts;
use super::{now_ms, MSG_BATCH_MAX};

/// Payload bytes of each benchmark data envelope (a reading with some context).
const MSG_PAYLOAD_BYTES: usize = 100;
/// Received envelopes a receiver's queue holds before its client stops reading.
const RX_QUEUE_MAX: usize = 4 * MSG_BATCH_MAX;

/// A data envelope from `from` to `to` on the network of `genesis`, numbered `n`.
pub(super) fn data_envelope(from: &Keypair, to: AccountId, n: u64, genesis: &Hash32) -> Envelope {
    let header = EnvelopeHeader {
        genesis: *genesis,
        sender: from.account(),
        recipient: to,
        kind: EnvelopeType::DATA,
        id: EnvelopeId::from_counter(n),
        timestamp: Timestamp(now_ms()),
        encrypted: false,
    };
    Envelope::sign(header, vec![0x42; MSG_PAYLOAD_BYTES], from).expect("a small payload")
}

/// Envelopes each sender signs ahead: enough for the machine's whole
/// verification capacity over the window (no receiver can go faster), at
/// most what a receiver's replay cache holds, since every envelope of the
/// run stays live in it (the window is far shorter than
/// `ENVELOPE_WINDOW_MS`). With a long window and few pairs the cache is the
/// lower bound (8 pairs: about 95 000 envelopes/s over 5 s, 25 000/s over
/// 20 s); the senders then run dry, and the run says its rate is a floor.
fn per_pair(verify_capacity_per_s: f64, pairs: usize, window: Duration) -> usize {
    let seconds = seconds_with_slack(window) as f64;
    let wanted = verify_capacity_per_s.max(1.0) * seconds / pairs as f64;
    // Bounded by REPLAY_CACHE_MAX just below: no truncation.
    #[allow(clippy::cast_possible_truncation)]
    let wanted = wanted.ceil().min(REPLAY_CACHE_MAX as f64) as usize;
    wanted.max(MSG_BATCH_MAX)
}

/// What the messages run measured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Messages {
    pub measured: Measured,
    /// `receive_batch` calls of all receivers over the whole run.
    pub batches: u64,
    /// Envelopes those calls checked.
    pub checked: u64,
}

impl Messages {
    /// Envelopes per `receive_batch` call, on average.
    pub fn batch_mean(&self) -> f64 {
        self.checked as f64 / (self.batches as f64).max(1.0)
    }
}

/// Signed device-to-device envelopes, counted once each receiver accepted them.
pub(super) async fn msg_rate(
    broker: &Broker,
    accounts: &Accounts,
    pairs: usize,
    window: Duration,
    verify_capacity_per_s: f64,
) -> anyhow::Result<Messages> {
    let per_pair = per_pair(verify_capacity_per_s, pairs, window);
    let senders = &accounts.senders[..pairs];
    let receivers = &accounts.senders[pairs..2 * pairs];
    let genesis = broker.genesis_hash;
    let signed = presign(pairs, per_pair, "signing envelopes", |p, n| {
        data_envelope(&senders[p], receivers[p].account(), n, &genesis).encode()
    });
    let counter = Arc::new(Counter::default());
    let mut sessions = Vec::new();
    let mut checkers = Vec::new();
    for (p, receiver) in receivers.iter().enumerate() {
        let (queue, arrived) = mpsc::channel(RX_QUEUE_MAX);
        let me = receiver.account();
        // Each receiver hears from one sender, reserved so that it is not held
        // to an unreserved sender's 1/64 of the cache; `per_pair` keeps the
        // run within the cache, so none is refused.
        let guard = ReplayGuard::new(REPLAY_CACHE_MAX).reserve_for([senders[p].account()]);
        let seen = Arc::clone(&counter);
        checkers.push(tokio::task::spawn_blocking(move || {
            check_inbox(arrived, me, genesis, guard, &seen)
        }));
        let inbox = ting_core::topics::inbox(&me);
        let sink = Sink::Queue(queue);
        sessions.push(connect(broker, receiver, "msg", Traffic::Stream, Some(inbox), sink).await?);
    }
    let mut tasks = Vec::new();
    for (p, envelopes) in signed.into_iter().enumerate() {
        let session = connect(
            broker,
            &senders[p],
            "msg",
            Traffic::Stream,
            None,
            Sink::Ignore,
        )
        .await?;
        tasks.push(publish_all(&session, receivers[p].account(), envelopes));
        sessions.push(session);
    }
    let measured = measure_then_stop(&counter, window, tasks, sessions).await;
    let (mut batches, mut checked) = (0, 0);
    for c in checkers {
        // Each ends once its client, and with it the queue's sender, is gone.
        let (b, n) = c.await?;
        batches += b;
        checked += n;
    }
    Ok(Messages {
        measured,
        batches,
        checked,
    })
}

/// Publishes `envelopes` to `to`'s inbox, each once, as fast as the broker takes them.
fn publish_all(
    session: &Session,
    to: AccountId,
    envelopes: Vec<Vec<u8>>,
) -> tokio::task::JoinHandle<()> {
    let client = session.client.clone();
    let topic = ting_core::topics::inbox(&to);
    tokio::spawn(async move {
        for bytes in envelopes {
            if client
                .publish(&topic, QoS::AtLeastOnce, false, bytes)
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

/// A receiver's checker: waits for an envelope, takes whatever else has
/// queued behind it (up to `MSG_BATCH_MAX` in all), checks them in one
/// `receive_batch`, and counts the accepted ones, until the queue closes.
/// Returns how many batches and envelopes it checked.
fn check_inbox(
    mut arrived: mpsc::Receiver<Publish>,
    me: AccountId,
    genesis: Hash32,
    mut guard: ReplayGuard,
    counter: &Counter,
) -> (u64, u64) {
    let (mut batches, mut checked) = (0u64, 0u64);
    let mut rng = rand::rng();
    let mut batch: Vec<Publish> = Vec::with_capacity(MSG_BATCH_MAX);
    while let Some(first) = arrived.blocking_recv() {
        batch.push(first);
        while batch.len() < MSG_BATCH_MAX {
            match arrived.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let items: Vec<&[u8]> = batch.iter().map(|p| &p.payload[..]).collect();
        let now = Timestamp(now_ms());
        let results = receive_batch(&items, &me, &genesis, &mut guard, now, &mut rng);
        let accepted = results.iter().filter(|r| r.is_ok()).count();
        counter.add(accepted as u64);
        counter.refuse((results.len() - accepted) as u64);
        batches += 1;
        checked += results.len() as u64;
        batch.clear();
    }
    (batches, checked)
}
