//! The MQTT link: one task that owns the broker connection.
//!
//! Each session is a fresh rumqttc client (so nothing of a dead session is
//! resent behind the outbox's back) on the device's persistent MQTT session:
//! connect, subscribe to the device's inbox,
//! publish every outbox entry, then serve. Entries go out in outbox order,
//! which is nonce order, at most [`LINK_INFLIGHT_MAX`] unacknowledged at once.
//! An envelope leaves the outbox on its `PUBACK`; a transaction stays until
//! its answer, and is sent again when none came within a jittered, growing
//! wait. A lost connection is retried with jittered exponential backoff.
//! An `mqtts://` broker is spoken to over TLS, its certificate checked
//! against the device's trust; one that fails the check is
//! [`Presence::Untrusted`], with the reason.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS, SubscribeFilter,
    TlsConfiguration, Transport,
};
use rustls::ClientConfig;
use ting_core::envelope::{check_hello, ENVELOPE_BYTES_MAX};
use ting_core::limits::ENVELOPE_WINDOW_MS;
use ting_core::{topics, SignedTx};
use tokio::sync::watch;
use tokio::time::Instant;

use super::error::TxError;
use super::http_link::{judge_bad_nonce, settle, Verdict};
use super::inbox::Received;
use super::pending::Confirmed;
use super::presence::Presence;
use super::{Broker, Inner};
use crate::backoff::Backoff;
use crate::mqtt_login::mqtt_login;
use crate::outbox::Item;
use crate::tls::{tls_failure, TlsTrust};

/// Publishes the link has handed the client and the broker has not acknowledged.
pub const LINK_INFLIGHT_MAX: usize = 32;
/// Requests queued for the client's event loop: the in-flight publishes and a few more.
const REQUESTS_MAX: usize = LINK_INFLIGHT_MAX + 8;
/// Keep-alive: a dead broker is noticed within about one and a half of these.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How long a connection attempt may take up to CONNACK.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest MQTT packet taken or sent: an envelope at its limit plus MQTT framing.
const PACKET_BYTES_MAX: usize = ENVELOPE_BYTES_MAX + 4 * 1024;
/// First and longest wait for a transaction's answer before it is sent again.
const ANSWER_WAIT_BASE_MS: u64 = 2_000;
const ANSWER_WAIT_MAX_MS: u64 = 30_000;
/// A sent transaction is only sent again in a round; this stands for "not alone".
const NEVER_ALONE: Duration = Duration::from_secs(365 * 24 * 3600);
/// When nothing is due, the loop still wakes this often to look again.
const IDLE_WAKE: Duration = Duration::from_secs(1);

/// When each outbox entry is next sent.
#[derive(Debug)]
struct Slot {
    is_tx: bool,
    due: Instant,
    in_flight: bool,
}

/// Transactions are first sent one by one as they are queued; unanswered
/// ones are then resent together, in nonce order, in rounds: one resent alone
/// past an unanswered predecessor would only meet a nonce gap. A round is due
/// a jittered, growing wait after the last acknowledged send; the wait starts
/// over whenever a transaction is answered.
#[derive(Debug)]
struct Schedule {
    slots: BTreeMap<u64, Slot>,
    answer: Backoff,
    round_due: Option<Instant>,
    round_attempts: u32,
}

impl Schedule {
    /// Takes in new outbox entries (due now) and forgets those that left.
    fn sync(&mut self, ids: &[(u64, bool)], now: Instant) {
        let mut answered = false;
        self.slots.retain(|id, slot| {
            let kept = ids.binary_search_by_key(id, |(i, _)| *i).is_ok();
            answered |= !kept && slot.is_tx;
            kept
        });
        if answered {
            self.round_attempts = 0;
        }
        for (id, is_tx) in ids {
            self.slots.entry(*id).or_insert(Slot {
                is_tx: *is_tx,
                due: now,
                in_flight: false,
            });
        }
    }

    /// A new session: everything is due again.
    fn reset(&mut self, now: Instant) {
        for slot in self.slots.values_mut() {
            slot.in_flight = false;
            slot.due = now;
        }
        self.round_due = None;
    }

    /// If a round of resends is due, makes every idle transaction due now.
    fn start_round_if_due(&mut self, now: Instant) {
        if self.round_due.is_none_or(|due| due > now) {
            return;
        }
        self.round_due = None;
        self.round_attempts = self.round_attempts.saturating_add(1);
        for slot in self.slots.values_mut().filter(|s| s.is_tx && !s.in_flight) {
            slot.due = now;
        }
    }

    /// A transaction's send was acknowledged: its answer is awaited until the next round.
    fn tx_acknowledged(&mut self, id: u64, now: Instant) {
        if let Some(slot) = self.slots.get_mut(&id) {
            slot.in_flight = false;
            slot.due = now + NEVER_ALONE;
        }
        if self.round_due.is_none() {
            self.round_due = Some(now + self.answer.delay(self.round_attempts));
        }
    }

    fn next_due(&self) -> Option<Instant> {
        let slots = self.slots.values().filter(|s| !s.in_flight).map(|s| s.due);
        slots.chain(self.round_due).min()
    }
}

/// One session's publishes waiting for their packet id, then for their ack.
#[derive(Debug, Default)]
struct Session {
    /// Outbox ids of handed-over publishes in order; `None` for a stream chunk.
    unnumbered: VecDeque<Option<u64>>,
    by_pkid: HashMap<u16, Option<u64>>,
}

enum Ended {
    Stopped,
    Failed { connected: bool },
}

pub(crate) async fn run(inner: Arc<Inner>, broker: Broker, mut stop: watch::Receiver<bool>) {
    let mut reconnect = Backoff::new(inner.seed);
    let mut schedule = Schedule {
        slots: BTreeMap::new(),
        answer: Backoff::with_limits(
            inner.seed.rotate_left(17),
            ANSWER_WAIT_BASE_MS,
            ANSWER_WAIT_MAX_MS,
        ),
        round_due: None,
        round_attempts: 0,
    };
    let mut attempt = 0u32;
    while !*stop.borrow() {
        match session(&inner, &broker, &mut schedule, &mut stop).await {
            Ended::Stopped => break,
            Ended::Failed { connected } => {
                inner.streams().disconnected();
                {
                    let mut stats = inner.stats();
                    stats.connected = false;
                    stats.failures += 1;
                }
                if connected {
                    attempt = 0;
                    inner.presence.send_replace(Presence::Connecting {
                        last_error: Some("the connection to the broker dropped".into()),
                    });
                }
                let delay = reconnect.delay(attempt);
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }
    inner.stats().connected = false;
}

fn options(inner: &Inner, broker: &Broker) -> MqttOptions {
    // One stable client id and a persistent session per device: the broker
    // keeps the inbox subscription, and queues receipts and messages (QoS 1)
    // while the device is away. Two devices with one key would evict each other.
    // The client id is the account id, and every session logs in with a fresh
    // token (docs/mqtt.md §9).
    let login = mqtt_login(&inner.key, &inner.genesis_hash, None, &inner.clock)
        .expect("no suffix is always valid");
    let mut options = MqttOptions::new(login.client_id, broker.host.clone(), broker.port);
    options
        .set_credentials(login.username, login.password)
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(false)
        .set_max_packet_size(PACKET_BYTES_MAX, PACKET_BYTES_MAX)
        .set_inflight(u16::try_from(LINK_INFLIGHT_MAX * 2).expect("small"))
        .set_transport(transport(broker, inner.mqtt_tls.as_ref()));
    options
}

/// `TCP_NODELAY`: what the link sends is mostly small and waits on an
/// answer (a transaction and its receipt, a key request and its grant), and
/// with Nagle's algorithm a small write waits for the ACK of the one before,
/// which the other end may delay by tens of milliseconds (`ting bench
/// stream`: a key bought in 15 ms with Nagle, 4 ms without).
fn network_options() -> rumqttc::NetworkOptions {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network.set_connection_timeout(CONNECT_TIMEOUT.as_secs());
    network
}

/// TCP for `mqtt://`; TLS with the configuration made at start for `mqtts://`.
fn transport(broker: &Broker, tls: Option<&Arc<ClientConfig>>) -> Transport {
    if !broker.tls {
        return Transport::tcp();
    }
    let config = tls.expect("a TLS broker's configuration is made when the device starts");
    Transport::tls_with_config(TlsConfiguration::Rustls(Arc::clone(config)))
}

/// What a failed connection attempt makes of the device's presence.
fn attempt_failed(trust: &TlsTrust, e: &ConnectionError) -> Presence {
    match tls_failure(e, trust) {
        Some(f) if f.untrusted => Presence::Untrusted { reason: f.reason },
        Some(f) => Presence::Connecting {
            last_error: Some(f.reason),
        },
        None => Presence::Connecting {
            last_error: Some(e.to_string()),
        },
    }
}

async fn session(
    inner: &Arc<Inner>,
    broker: &Broker,
    schedule: &mut Schedule,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let (client, mut events) = AsyncClient::new(options(inner, broker), REQUESTS_MAX);
    events.set_network_options(network_options());
    let connack = tokio::time::timeout(CONNECT_TIMEOUT, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    });
    let failed = match connack.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(attempt_failed(&inner.tls, &e)),
        Err(_) => Some(Presence::Connecting {
            last_error: Some(format!("no CONNACK within {} s", CONNECT_TIMEOUT.as_secs())),
        }),
    };
    if let Some(next) = failed {
        // Only while not connected: a node's leaving is not overwritten.
        inner.presence.send_if_modified(|p| {
            let waiting = matches!(p, Presence::Connecting { .. } | Presence::Untrusted { .. });
            if waiting {
                *p = next;
            }
            waiting
        });
        return Ended::Failed { connected: false };
    }
    // The inbox, and where the trusted nodes announce themselves (retained,
    // so a node already there is heard at once), in one SUBSCRIBE; the
    // trusted witnesses' attestations (the newest retained), and every
    // stream this device follows.
    let followed: Vec<String> = inner.streams().resubscribe();
    let witnesses = inner.witnessed().topics();
    let filters = std::iter::once(topics::inbox(&inner.me))
        .chain(inner.sequencers.iter().map(topics::node))
        .chain(witnesses)
        .chain(followed)
        .map(|t| SubscribeFilter::new(t, QoS::AtLeastOnce));
    let subscribed = client.try_subscribe_many(filters);
    if subscribed.is_err() {
        return Ended::Failed { connected: true };
    }
    inner.presence.send_replace(Presence::Connected);
    {
        let mut stats = inner.stats();
        stats.connected = true;
        stats.connects += 1;
    }
    schedule.reset(Instant::now());
    let mut session = Session::default();
    loop {
        if !subscribe_fresh(inner, &client) {
            return Ended::Failed { connected: true };
        }
        publish_due(inner, &client, schedule, &mut session);
        publish_chunks(inner, &client, &mut session);
        let wake_at = schedule
            .next_due()
            .unwrap_or_else(|| Instant::now() + IDLE_WAKE)
            .min(Instant::now() + IDLE_WAKE);
        tokio::select! {
            event = events.poll() => match event {
                Ok(event) => on_event(inner, schedule, &mut session, event),
                Err(_) => return Ended::Failed { connected: true },
            },
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
            _ = stop.changed() => {
                let _ = client.try_disconnect();
                let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
                return Ended::Stopped;
            }
        }
    }
}

/// Subscribes to the streams followed since the session began; false if
/// the client's queue is gone.
fn subscribe_fresh(inner: &Inner, client: &AsyncClient) -> bool {
    let fresh = inner.streams().take_fresh();
    for topic in fresh {
        if client
            .try_subscribe(topic.clone(), QoS::AtLeastOnce)
            .is_err()
        {
            inner.streams().refresh(topic);
            return false;
        }
        inner.streams().subscribing();
    }
    true
}

/// Hands the client the stream chunks waiting, within the in-flight limit.
/// A chunk is the seller's to keep (its stream log); the link sends it once.
fn publish_chunks(inner: &Inner, client: &AsyncClient, session: &mut Session) {
    while session.unnumbered.len() + session.by_pkid.len() < LINK_INFLIGHT_MAX {
        let Some((topic, bytes)) = inner.streams().next_chunk() else {
            return;
        };
        if client
            .try_publish(topic.clone(), QoS::AtLeastOnce, false, bytes.clone())
            .is_err()
        {
            inner.streams().requeue_chunk(topic, bytes);
            return;
        }
        session.unnumbered.push_back(None);
        inner.stats().published += 1;
    }
}

/// Hands the client every entry that is due, oldest first, within the in-flight limit.
fn publish_due(
    inner: &Inner,
    client: &AsyncClient,
    schedule: &mut Schedule,
    session: &mut Session,
) {
    let now = Instant::now();
    let pending = inner.pending();
    let ids: Vec<(u64, bool)> = pending
        .outbox()
        .entries()
        .map(|(id, item)| (id, matches!(item, Item::Tx(_))))
        .collect();
    schedule.sync(&ids, now);
    schedule.start_round_if_due(now);
    for (id, slot) in schedule.slots.iter_mut() {
        if session.unnumbered.len() + session.by_pkid.len() >= LINK_INFLIGHT_MAX {
            break;
        }
        if slot.in_flight || slot.due > now {
            continue;
        }
        let (topic, bytes) = match pending.outbox().get(*id) {
            Some(Item::Tx(bytes)) => (topics::TX_TOPIC.to_owned(), bytes.clone()),
            Some(Item::Envelope { recipient, bytes }) => (topics::inbox(recipient), bytes.clone()),
            None => continue,
        };
        if client
            .try_publish(topic, QoS::AtLeastOnce, false, bytes)
            .is_err()
        {
            break;
        }
        slot.in_flight = true;
        session.unnumbered.push_back(Some(*id));
        inner.stats().published += 1;
    }
}

fn on_event(inner: &Arc<Inner>, schedule: &mut Schedule, session: &mut Session, event: Event) {
    match event {
        Event::Outgoing(Outgoing::Publish(pkid)) => {
            // The client numbers publishes in the order they were handed over.
            if let Some(id) = session.unnumbered.pop_front() {
                session.by_pkid.insert(pkid, id);
            }
        }
        Event::Incoming(Packet::SubAck(ack)) => {
            let refused = ack
                .return_codes
                .iter()
                .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure));
            inner.streams().subscribed(refused);
        }
        Event::Incoming(Packet::PubAck(ack)) => {
            if let Some(Some(id)) = session.by_pkid.remove(&ack.pkid) {
                acknowledged(inner, schedule, id);
            }
        }
        Event::Incoming(Packet::Publish(publish)) if publish.topic == topics::inbox(&inner.me) => {
            let received = inner.inbox().handle(&publish.payload, inner.clock.now());
            if let Ok(received) = received {
                dispatch(inner, received);
            }
        }
        Event::Incoming(Packet::Publish(publish))
            if publish.topic.starts_with(topics::NODES_PREFIX) =>
        {
            on_announcement(inner, &publish.topic, &publish.payload);
        }
        Event::Incoming(Packet::Publish(publish))
            if publish.topic.starts_with(topics::WITNESS_PREFIX)
                && inner.witnessed().follows(&publish.topic) =>
        {
            if publish.topic.ends_with("/evidence") {
                on_evidence(inner, &publish.payload);
                return;
            }
            let ready = inner.witnessed().on_published(&publish.payload);
            for receipt in &ready {
                confirm(inner, receipt);
            }
        }
        Event::Incoming(Packet::Publish(publish))
            if publish.topic.starts_with(topics::CALLS_PREFIX)
                && inner.streams().follows_call(&publish.topic) =>
        {
            let message = super::Message::Call {
                topic: publish.topic,
                bytes: publish.payload.to_vec(),
            };
            dispatch(inner, Received::Message(message));
        }
        Event::Incoming(Packet::Publish(publish))
            if publish.topic.starts_with(topics::STREAMS_PREFIX)
                && inner.streams().follows(&publish.topic) =>
        {
            let message = super::Message::Chunk {
                topic: publish.topic,
                bytes: publish.payload.to_vec(),
            };
            dispatch(inner, Received::Message(message));
        }
        _ => {}
    }
}

/// A node's announcement: a serving hello from a trusted sequencer of this
/// network (and genesis, when the device knows it), fresh, on that node's own
/// topic; or that run's leaving hello. Anything else changes nothing, an
/// empty retained message (which anyone may publish) included.
fn on_announcement(inner: &Inner, topic: &str, payload: &[u8]) {
    let checked = check_hello(
        payload,
        &inner.genesis_hash,
        &inner.sequencers,
        inner.clock.now(),
        inner.clock.clock().window_ms(ENVELOPE_WINDOW_MS),
    );
    let Ok(hello) = checked else {
        return;
    };
    if topic != topics::node(&hello.node) {
        return;
    }
    inner.presence.send_if_modified(|p| {
        let same_run = matches!(p, Presence::Node { node, run, .. } if *node == hello.node && *run == hello.id);
        let next = match (hello.payload.serving, same_run) {
            (true, _) => Presence::Node {
                node: hello.node,
                height: hello.payload.height,
                run: hello.id,
            },
            (false, true) => Presence::Left { node: hello.node },
            (false, false) => return false,
        };
        *p = next;
        true
    });
}

/// The broker took entry `id`: an envelope is done, a transaction awaits its answer.
fn acknowledged(inner: &Inner, schedule: &mut Schedule, id: u64) {
    let is_envelope = {
        let mut pending = inner.pending();
        let is_envelope = matches!(pending.outbox().get(id), Some(Item::Envelope { .. }));
        if is_envelope {
            if let Err(e) = pending.delivered(id) {
                eprintln!("ting-agent: the outbox could not record a delivery: {e}");
            }
        }
        is_envelope
    };
    if is_envelope {
        schedule.slots.remove(&id);
    } else {
        schedule.tx_acknowledged(id, Instant::now());
    }
}

/// Acts on an envelope that passed every check.
fn dispatch(inner: &Arc<Inner>, received: Received) {
    match received {
        Received::Message(message) => {
            if inner.app.try_send(message).is_err() {
                inner.stats().app_dropped += 1;
            }
        }
        Received::Receipt(r) => {
            // Signed by the node is not enough: the header must be a
            // sequencer's and the path must lead to its root. A receipt that
            // fails leaves the transaction pending, to be asked about again.
            if let Err(e) = inner.verifier().receipt(&r.tx_hash, &r) {
                inner.unproven(&e);
                return;
            }
            // And, under a witness policy, attested by enough witnesses:
            // until then it waits, and the transaction stays pending.
            let admitted = inner.witnessed().admit(r);
            match admitted {
                Some(r) => confirm(inner, &r),
                None => inner.stats().awaiting_witnesses += 1,
            }
        }
        Received::Refusal(r) => {
            let Some(tx) = inner.pending().tx_bytes(&r.tx_hash) else {
                return;
            };
            let inner = Arc::clone(inner);
            tokio::spawn(async move { on_refusal(&inner, tx, r.code, r.message).await });
        }
        Received::NodeError(_) => {
            // Not tied to a transaction: the unanswered one is sent again in time.
        }
    }
}

/// Evidence from a trusted witness: a sequencer this device trusted signed
/// two blocks at one height, or a block its transactions do not lead to,
/// and none of its headers is believed again.
fn on_evidence(inner: &Inner, payload: &[u8]) {
    let network = ting_ledger::evidence::Network {
        id: inner.network,
        genesis_hash: inner.genesis_hash,
        sequencers: &inner.sequencers,
        genesis: None,
    };
    let Some(proven) = super::witnessed::Witnessed::evidence_against(payload, &network) else {
        return;
    };
    let sequencer = proven.sequencer;
    if inner.verifier().distrust(sequencer) {
        eprintln!(
            "ting-agent: evidence ({}) shows sequencer {sequencer} broke the ledger's rules at height {}; its headers are no longer believed",
            proven.fault.code(),
            proven.height.0
        );
    }
}

/// Settles the transaction of a receipt that passed every check.
fn confirm(inner: &Arc<Inner>, r: &ting_core::Receipt) {
    let hash = r.tx_hash;
    let confirmed = Confirmed {
        tx_hash: hash,
        height: r.header.height,
        index: r.proof.index,
    };
    let inner = Arc::clone(inner);
    tokio::spawn(async move { settle(&inner, &hash, Ok(confirmed)).await });
}

async fn on_refusal(inner: &Inner, tx: SignedTx, code: String, message: String) {
    let hash = tx.hash();
    let outcome = if code == "bad_nonce" {
        match judge_bad_nonce(inner, &tx, &message).await {
            Verdict::Final(outcome) => outcome,
            Verdict::Undecided => return,
        }
    } else {
        Err(TxError::refused(&tx, code, message))
    };
    settle(inner, &hash, outcome).await;
}

#[cfg(test)]
mod tests {
    use ting_core::{Hash32, Keypair, NetworkId};

    use super::*;
    use crate::device::{Device, DeviceConfig};

    fn device(dir: &std::path::Path, broker: &str, tls: TlsTrust) -> Device {
        let config = DeviceConfig {
            key: Keypair::from_seed([5; 32]),
            state_dir: dir.to_path_buf(),
            network: NetworkId(1),
            sequencers: vec![Keypair::from_seed([6; 32]).account()],
            genesis_hash: Hash32::ZERO,
            node_url: "http://127.0.0.1:1".into(),
            broker: Some(Broker::parse(broker).expect("a broker URL")),
            tls,
            seed: 1,
            clock: crate::clock::NetworkClock::REAL,
            witnesses: ting_core::witness::WitnessPolicy::default(),
        };
        Device::start(config).expect("the device starts")
    }

    #[tokio::test]
    async fn a_witness_policy_without_a_broker_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let witness = Keypair::from_seed([8; 32]).account();
        let config = DeviceConfig {
            key: Keypair::from_seed([5; 32]),
            state_dir: dir.path().to_path_buf(),
            network: NetworkId(1),
            sequencers: vec![Keypair::from_seed([6; 32]).account()],
            genesis_hash: Hash32::ZERO,
            node_url: "http://127.0.0.1:1".into(),
            broker: None,
            tls: TlsTrust::SystemRoots,
            seed: 1,
            clock: crate::clock::NetworkClock::REAL,
            witnesses: ting_core::witness::WitnessPolicy::new(vec![witness], 1).expect("a policy"),
        };
        let refused = Device::start(config)
            .map(|_| ())
            .map_err(|e| e.code().to_owned());
        assert_eq!(refused, Err("witnesses_need_broker".to_owned()));
    }

    #[tokio::test]
    async fn an_mqtts_broker_makes_options_with_a_tls_transport() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = device(dir.path(), "mqtts://127.0.0.1:1", TlsTrust::Pin([7; 32]));
        let broker = d.broker().expect("a broker").clone();
        let made = d.inner.mqtt_tls.clone().expect("a TLS configuration");
        let transport = options(&d.inner, &broker).transport();
        assert!(
            matches!(transport, Transport::Tls(TlsConfiguration::Rustls(ref c)) if Arc::ptr_eq(c, &made)),
            "the broker's transport is TLS with the device's configuration"
        );
        d.shutdown().await;
    }

    #[tokio::test]
    async fn an_mqtt_broker_makes_options_with_plain_tcp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = device(dir.path(), "mqtt://127.0.0.1:1", TlsTrust::Pin([7; 32]));
        let broker = d.broker().expect("a broker").clone();
        assert!(d.inner.mqtt_tls.is_none());
        let transport = options(&d.inner, &broker).transport();
        assert!(matches!(transport, Transport::Tcp));
        d.shutdown().await;
    }
}
