//! `Device`: a Ting device in a few calls — its identity, its wallet, its
//! messages and its channels, kept durably in one state directory.
//!
//! A device is a key (read with [`crate::files::read_key`]), a state
//! directory, the network id, the sequencer keys it trusts for the node's
//! envelopes, the node's HTTP URL and, optionally, an MQTT broker. With a
//! broker, transactions go to `ting/v1/tx` and their receipts come back on the
//! device's inbox (`ting/v1/inbox/{hex}`); without one they are POSTed to
//! `/v1/transactions?wait=true`. Messages always go through the broker.
//!
//! Over TLS (an `https://` node, an `mqtts://` broker) both connections check
//! the server's certificate against the one [`TlsTrust`] of the config: the
//! system's CAs, a CA file, or a pin.
//!
//! Everything outgoing is first appended to the durable [`crate::outbox`], then
//! sent by one background task (the link) that reconnects with jittered
//! exponential backoff ([`crate::backoff`]) and sends the whole outbox again on
//! every reconnect.
//!
//! ## When a transaction leaves the outbox
//!
//! On its receipt (from the node, signed by a trusted sequencer) or on a
//! definitive refusal. A `bad_nonce` refusal is *not* taken at its word,
//! because a resent copy of a transaction that already landed is refused
//! exactly so. The device then asks the node over HTTP, first the sender's
//! durable nonce `N`, then the transaction's hash (reading `N` first means a
//! block that used the nonce is durable, and so findable, before the lookup):
//!
//! - the hash is found: the transaction landed; its block is the confirmation;
//! - not found and `N` > its nonce: another transaction took the nonce: refused;
//! - not found and `N` = its nonce: a transaction with that nonce is applied but
//!   not yet durable (likely this one): kept, and resent after a backoff;
//! - not found and `N` < its nonce: kept while the outbox holds a transaction
//!   with a nonce from `N` up (the gap may fill), or while the device holds a
//!   receipt for a nonce from `N` up (the node asked is behind another that
//!   answered: on several nodes, the device's node need not be the one that
//!   took its transaction); refused otherwise;
//! - the node cannot be asked: kept, and asked again after a backoff.
//!
//! Nonces make every resend harmless: the ledger applies a nonce once.

pub mod channels;
pub mod error;
mod http_link;
pub mod inbox;
mod link;
pub mod market;
pub mod messaging;
mod pending;
pub mod presence;
pub mod streams;
mod witnessed;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ClientConfig;
use ting_core::envelope::{Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType};
use ting_core::{
    AccountId, Amount, ChannelId, Hash32, Keypair, NetworkId, Nonce, Timestamp, TxBody, TxKind,
};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use crate::client::{HttpError, NodeClient};
use crate::payer::DurablePayer;
use crate::tls::TlsTrust;
use crate::verify::Verifier;
pub use error::{
    ChannelError, InboxError, QueueError, SendError, StartError, SubmitError, TxError,
};
pub use inbox::{Inbox, Message, Received};
pub use messaging::Messaging;
pub use pending::{Confirmed, TxOutcome};
pub use presence::{ConnectError, NodeSeen, Presence};

/// Messages waiting for the app to `recv` them; past this they are dropped and counted.
pub const APP_QUEUE_MAX: usize = 256;
/// How long `wait_for_node` asks the node for its broker before it reports without it.
const ADVICE_WAIT: Duration = Duration::from_secs(3);

/// An MQTT broker's address (`mqtt://HOST:PORT`, or `mqtts://HOST:PORT` over TLS).
pub use ting_core::broker_url::BrokerUrl as Broker;

/// Everything a device needs to start.
#[derive(Debug)]
pub struct DeviceConfig {
    pub key: Keypair,
    /// Holds the outbox and the channel files; created if missing.
    pub state_dir: PathBuf,
    pub network: NetworkId,
    /// The only keys whose receipts, refusals, errors and announcements the device believes.
    pub sequencers: Vec<AccountId>,
    /// The network's genesis hash: the device logs in to the broker for this
    /// network only (docs/mqtt.md §9), and a node announcing another genesis
    /// is not the device's.
    pub genesis_hash: Hash32,
    /// The node's HTTP API, e.g. `http://127.0.0.1:8080` or `https://node.example:8443`.
    pub node_url: String,
    /// With a broker, transactions and messages go over MQTT.
    pub broker: Option<Broker>,
    /// The certificates trusted for an `https://` node and an `mqtts://`
    /// broker (both are one node's, so one trust serves both).
    pub tls: TlsTrust,
    /// Seeds the backoff jitter, so a run can be replayed.
    pub seed: u64,
    /// The network's time (its genesis's clock): what the device stamps
    /// envelopes, logins and expiries with.
    pub clock: crate::clock::NetworkClock,
    /// The witnesses whose attestations a receipt's header needs, and how
    /// many (docs/witnesses.md). The default needs none: a receipt is taken
    /// on the sequencer's signature and its path. Needs a broker, where
    /// witnesses publish.
    pub witnesses: ting_core::witness::WitnessPolicy,
}

impl DeviceConfig {
    /// A configuration that learns the network, the sequencer, the genesis
    /// hash and the MQTT broker from the node's `/v1/status`: trust on first
    /// use, for development. A deployed device is given its network's
    /// sequencer keys instead. Without a broker named by the node (one run
    /// with `--no-mqtt`), the device transacts over HTTP. Over TLS the
    /// node's certificate must come from a CA the system trusts; see
    /// [`DeviceConfig::discover_with`] for a CA file or a pin.
    pub async fn discover(
        key: Keypair,
        state_dir: PathBuf,
        node_url: &str,
    ) -> Result<DeviceConfig, HttpError> {
        DeviceConfig::discover_with(key, state_dir, node_url, TlsTrust::SystemRoots).await
    }

    /// [`DeviceConfig::discover`], trusting `tls` for the node (`https://`)
    /// and for the broker it names (`mqtts://`).
    pub async fn discover_with(
        key: Keypair,
        state_dir: PathBuf,
        node_url: &str,
        tls: TlsTrust,
    ) -> Result<DeviceConfig, HttpError> {
        let status = NodeClient::with_trust(node_url, &tls)?.status().await?;
        let broker = match &status.mqtt {
            None => None,
            Some(url) => Some(Broker::parse(url).ok_or_else(|| {
                HttpError::BadResponse(format!(
                    "/v1/status names the broker {url:?}, not mqtt://HOST:PORT or mqtts://HOST:PORT"
                ))
            })?),
        };
        Ok(DeviceConfig {
            key,
            state_dir,
            network: status.network,
            sequencers: status.sequencers.clone(),
            genesis_hash: status.genesis_hash,
            node_url: node_url.to_owned(),
            broker,
            tls,
            seed: rand::random(),
            clock: status.clock,
            witnesses: ting_core::witness::WitnessPolicy::default(),
        })
    }
}

/// What the device's link has done, for tests and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub connected: bool,
    /// Connections to the broker that reached CONNACK.
    pub connects: u64,
    /// Attempts that failed, and connections that dropped.
    pub failures: u64,
    /// Transactions and envelopes published (resends included).
    pub published: u64,
    /// Messages dropped because the app did not `recv` them in time.
    pub app_dropped: u64,
    /// Receipts and proofs from the node that did not check, so were not acted on.
    pub unproven: u64,
    /// Receipts that checked but wait for the witnesses of the device's
    /// policy to attest their header (`DeviceConfig::witnesses`).
    pub awaiting_witnesses: u64,
}

/// A queued transaction; `wait` for its outcome.
#[derive(Debug)]
pub struct Ticket {
    pub tx_hash: Hash32,
    pub nonce: Nonce,
    outcome: oneshot::Receiver<TxOutcome>,
}

impl Ticket {
    /// Waits for the receipt or a definitive refusal.
    pub async fn wait(self) -> TxOutcome {
        self.outcome
            .await
            .unwrap_or(Err(TxError::Stopped(self.tx_hash)))
    }

    /// Waits at most `limit` for the outcome; `None`, the ticket kept, when
    /// it has not come (a receipt waiting for witnesses, a node away).
    pub async fn wait_for(&mut self, limit: Duration) -> Option<TxOutcome> {
        let outcome = tokio::time::timeout(limit, &mut self.outcome).await.ok()?;
        Some(outcome.unwrap_or(Err(TxError::Stopped(self.tx_hash))))
    }
}

/// The parts the device's handle and its link share.
#[derive(Debug)]
pub(crate) struct Inner {
    key: Keypair,
    me: AccountId,
    network: NetworkId,
    state_dir: PathBuf,
    http: NodeClient,
    broker: Option<Broker>,
    /// What the broker's certificate is checked against, to say so when it fails.
    tls: TlsTrust,
    /// The broker's TLS configuration, made at start when the broker is `mqtts://`.
    mqtt_tls: Option<Arc<ClientConfig>>,
    seed: u64,
    clock: crate::clock::NetworkClock,
    pending: Mutex<pending::Pending>,
    inbox: Mutex<Inbox>,
    next_nonce: tokio::sync::Mutex<Option<Nonce>>,
    /// One more than the highest nonce of a transaction this device holds the
    /// receipt of; 0 before any.
    landed_below: AtomicU64,
    /// Channel opens the ledger refused that could still apply (their
    /// refusal depended on the state), by nonce: their payer files are kept
    /// until a commit uses the nonce.
    refused_opens: Mutex<HashMap<Nonce, ChannelId>>,
    /// Rung when the outbox gained an entry.
    wake: Notify,
    app: mpsc::Sender<Message>,
    envelope_ids: AtomicU64,
    id_prefix: [u8; 8],
    keys: messaging::KeyCache,
    payers: tokio::sync::Mutex<std::collections::HashMap<ChannelId, DurablePayer>>,
    stats: Mutex<LinkStats>,
    sequencers: Vec<AccountId>,
    genesis_hash: Hash32,
    presence: watch::Sender<Presence>,
    /// Streams followed and chunks to publish (see `streams`).
    streams: Mutex<streams::StreamLink>,
    /// The witness policy, the attestations heard and the receipts waiting for them.
    witnessed: Mutex<witnessed::Witnessed>,
}

/// A running device. Drop it, or better `shutdown`, to stop its link.
#[derive(Debug)]
pub struct Device {
    inner: Arc<Inner>,
    app: mpsc::Receiver<Message>,
    stop: watch::Sender<bool>,
    link: Option<JoinHandle<()>>,
}

impl Device {
    /// Opens the state directory and starts the link. Call inside a tokio runtime.
    pub fn start(config: DeviceConfig) -> Result<Device, StartError> {
        if config.sequencers.is_empty() {
            return Err(StartError::NoSequencer);
        }
        if config.witnesses.is_required() && config.broker.is_none() {
            return Err(StartError::WitnessesNeedBroker);
        }
        let me = config.key.account();
        let verifier = Arc::new(Verifier::new(
            config.genesis_hash,
            config.sequencers.clone(),
        ));
        let http = NodeClient::with_trust(&config.node_url, &config.tls)?.verifying(verifier);
        let mqtt_tls = match &config.broker {
            Some(broker) if broker.tls => Some(Arc::new(config.tls.client_config()?)),
            _ => None,
        };
        let pending = pending::Pending::open(&config.state_dir, &me)?;
        let messaging = Messaging::from_device_key(&config.key);
        let inbox = Inbox::new(
            me,
            config.genesis_hash,
            config.sequencers.clone(),
            messaging,
            config.state_dir.clone(),
        )
        .on_clock(config.clock.clock());
        let (app_send, app) = mpsc::channel(APP_QUEUE_MAX);
        let inner = Arc::new(Inner {
            me,
            network: config.network,
            state_dir: config.state_dir,
            http,
            broker: config.broker,
            tls: config.tls,
            mqtt_tls,
            seed: config.seed,
            clock: config.clock,
            pending: Mutex::new(pending),
            inbox: Mutex::new(inbox),
            next_nonce: tokio::sync::Mutex::new(None),
            landed_below: AtomicU64::new(0),
            refused_opens: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            app: app_send,
            envelope_ids: AtomicU64::new(0),
            id_prefix: rand::random(),
            keys: messaging::KeyCache::default(),
            payers: tokio::sync::Mutex::new(Default::default()),
            stats: Mutex::new(LinkStats::default()),
            sequencers: config.sequencers,
            genesis_hash: config.genesis_hash,
            presence: watch::channel(Presence::Connecting { last_error: None }).0,
            streams: Mutex::new(streams::StreamLink::default()),
            witnessed: Mutex::new(witnessed::Witnessed::new(config.witnesses)),
            key: config.key,
        });
        if inner.witnessed().required() {
            // State answers wait for the same witnesses as receipts do.
            let weak = Arc::downgrade(&inner);
            inner.verifier().require_attested(move |header| {
                weak.upgrade()
                    .is_some_and(|i| i.witnessed().header_attested(header))
            });
        }
        let (stop, stopped) = watch::channel(false);
        let link = match inner.broker.clone() {
            Some(broker) => tokio::spawn(link::run(Arc::clone(&inner), broker, stopped)),
            None => tokio::spawn(http_link::run(Arc::clone(&inner), stopped)),
        };
        Ok(Device {
            inner,
            app,
            stop,
            link: Some(link),
        })
    }

    pub fn account(&self) -> AccountId {
        self.inner.me
    }

    /// The network's clock, as the device reads it.
    pub fn clock(&self) -> crate::clock::NetworkClock {
        self.inner.clock
    }

    /// The network's time now: what deadlines and expiries are counted in.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The broker this device uses, if any.
    pub fn broker(&self) -> Option<&Broker> {
        self.inner.broker.as_ref()
    }

    /// What the link knows of the broker and the node behind it.
    pub fn presence(&self) -> Presence {
        self.inner.presence.borrow().clone()
    }

    /// Waits until a trusted node has announced itself on the device's
    /// broker, at most `timeout`. When none does, the error names the broker
    /// and says whether it could not be reached, or was reached but no node
    /// of this network is there (with the broker the node itself names, when
    /// the node can be asked). Nothing queued is lost either way: the outbox
    /// keeps it until the node answers.
    pub async fn wait_for_node(&self, timeout: Duration) -> Result<NodeSeen, ConnectError> {
        let Some(broker) = &self.inner.broker else {
            return Err(ConnectError::NoBroker);
        };
        // Asked at once, beside the wait, so the advice costs no extra time.
        let http = self.inner.http.clone();
        let advice = tokio::spawn(async move {
            let asked = tokio::time::timeout(timeout.min(ADVICE_WAIT), http.status()).await;
            asked.ok()?.ok()?.mqtt
        });
        let mut rx = self.inner.presence.subscribe();
        let waited =
            tokio::time::timeout(timeout, rx.wait_for(|p| matches!(p, Presence::Node { .. })))
                .await;
        // Its guard holds the channel's lock: let go before anything else waits.
        let stopped = matches!(waited, Ok(Err(_)));
        drop(waited);
        if stopped {
            advice.abort();
            return Err(ConnectError::Stopped);
        }
        let now = self.inner.presence.borrow().clone();
        let broker_text = broker.to_string();
        let error = match now {
            Presence::Node { node, height, .. } => {
                advice.abort();
                return Ok(NodeSeen {
                    node,
                    height,
                    broker: broker_text,
                });
            }
            Presence::Connecting { last_error } => ConnectError::Unreachable {
                broker: broker_text,
                waited: timeout,
                reason: last_error.unwrap_or_else(|| "no answer".into()),
            },
            Presence::Untrusted { reason } => ConnectError::BrokerUntrusted {
                broker: broker_text,
                reason,
            },
            Presence::Left { node } => ConnectError::NodeLeft {
                broker: broker_text,
                node,
            },
            Presence::Connected => ConnectError::NoNode {
                broker: broker_text,
                waited: timeout,
                network: self.inner.network,
                advertised: advice.await.ok().flatten(),
            },
        };
        Err(error)
    }

    pub fn key(&self) -> &Keypair {
        &self.inner.key
    }

    pub fn network(&self) -> NetworkId {
        self.inner.network
    }

    /// The node's HTTP client, for reads the device API does not wrap.
    pub fn http(&self) -> &NodeClient {
        &self.inner.http
    }

    /// The durable balance, from the node, proved against a signed header.
    pub async fn balance(&self) -> Result<Amount, HttpError> {
        self.inner.http.balance(&self.inner.me).await
    }

    /// The durable next nonce, from the node and proved (transactions still
    /// queued here come on top).
    pub async fn ledger_nonce(&self) -> Result<Nonce, HttpError> {
        self.inner.ledger_nonce().await
    }

    /// Signs `kind` with the next nonce and appends it to the outbox (synced)
    /// before it is sent. Returns at once; the ticket waits for the outcome.
    pub async fn queue(&self, kind: TxKind) -> Result<Ticket, QueueError> {
        self.inner.queue(kind).await
    }

    /// Queues `kind` and waits for its receipt or a definitive refusal.
    pub async fn submit(&self, kind: TxKind) -> Result<Confirmed, SubmitError> {
        Ok(self.queue(kind).await?.wait().await?)
    }

    /// Sends `payload` to `to` as a `DATA` envelope, encrypted to its messaging key if asked.
    pub async fn send(
        &self,
        to: AccountId,
        payload: Vec<u8>,
        encrypt: bool,
    ) -> Result<(), SendError> {
        self.inner
            .send_envelope(to, EnvelopeType::DATA, payload, encrypt)
            .await
    }

    /// The next message that passed every check, or `None` once the device stopped.
    pub async fn recv(&mut self) -> Option<Message> {
        self.app.recv().await
    }

    /// Puts this device's messaging key on the ledger (`set_messaging_key`).
    pub async fn publish_messaging_key(&self) -> Result<Confirmed, SubmitError> {
        let key = self.inner.inbox().messaging_key();
        self.submit(TxKind::SetMessagingKey { key }).await
    }

    /// Envelopes refused on the receive path, by code.
    pub fn refused(&self) -> BTreeMap<&'static str, u64> {
        self.inner.inbox().refused().clone()
    }

    pub fn stats(&self) -> LinkStats {
        self.inner.stats().clone()
    }

    /// The sequencers this device no longer believes: evidence from a
    /// witness it trusts showed each signed two blocks at one height.
    pub fn distrusted(&self) -> Vec<AccountId> {
        self.inner.verifier().distrusted()
    }

    /// Entries still waiting in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.inner.pending().outbox().len()
    }

    /// Stops the link; what is queued stays in the outbox for the next start.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(link) = self.link.take() {
            let _ = link.await;
        }
        self.inner.pending().stop_waiters();
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Inner {
    fn pending(&self) -> std::sync::MutexGuard<'_, pending::Pending> {
        self.pending
            .lock()
            .expect("the outbox lock is never poisoned")
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().expect("the inbox lock is never poisoned")
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, LinkStats> {
        self.stats.lock().expect("the stats lock is never poisoned")
    }

    fn witnessed(&self) -> std::sync::MutexGuard<'_, witnessed::Witnessed> {
        self.witnessed
            .lock()
            .expect("the witnesses lock is never poisoned")
    }

    async fn ledger_nonce(&self) -> Result<Nonce, HttpError> {
        self.http.nonce(&self.me).await
    }

    /// What the device checks the node's answers against.
    fn verifier(&self) -> &Verifier {
        self.http
            .verifier()
            .expect("a device's client is always verifying")
    }

    /// Counts an answer that did not prove itself, and says why on stderr.
    fn unproven(&self, e: &crate::verify::Unproven) {
        self.stats().unproven += 1;
        eprintln!("ting-agent: {e}");
    }

    async fn queue(&self, kind: TxKind) -> Result<Ticket, QueueError> {
        self.queue_with(|_| Ok::<_, QueueError>(kind)).await
    }

    /// Queues the transaction `build` makes for the next nonce; `build` runs
    /// under the nonce lock, so what it prepares (a channel file) matches.
    async fn queue_with<E: From<QueueError>>(
        &self,
        build: impl FnOnce(Nonce) -> Result<TxKind, E>,
    ) -> Result<Ticket, E> {
        let mut next = self.next_nonce.lock().await;
        let nonce = match *next {
            Some(n) => n,
            None => self.learn_nonce().await?,
        };
        let kind = build(nonce)?;
        let tx = TxBody {
            genesis: self.genesis_hash,
            sender: self.me,
            nonce,
            valid_until: crate::wallet::valid_by_default(&self.clock),
            kind,
        }
        .sign(&self.key);
        let outcome = self.pending().push_tx(&tx).map_err(QueueError::from)?;
        *next = Some(nonce.next().ok_or(QueueError::NonceExhausted)?);
        drop(next);
        self.wake.notify_one();
        Ok(Ticket {
            tx_hash: tx.hash(),
            nonce,
            outcome,
        })
    }

    /// The next nonce: past both the ledger's and every queued transaction's.
    async fn learn_nonce(&self) -> Result<Nonce, QueueError> {
        let queued = self.pending().max_nonce().and_then(Nonce::next);
        match (self.ledger_nonce().await, queued) {
            (Ok(ledger), queued) => Ok(queued.map_or(ledger, |q| q.max(ledger))),
            (Err(_), Some(queued)) => Ok(queued),
            (Err(e), None) => Err(QueueError::Nonce(e)),
        }
    }

    /// Whether this device holds the receipt of a transaction with a nonce
    /// from `nonce` up.
    pub(crate) fn landed_from(&self, nonce: Nonce) -> bool {
        self.landed_below.load(Ordering::Relaxed) > nonce.0
    }

    /// After a definitive refusal the local nonce may be past a gap: learn it again.
    async fn forget_nonce(&self) {
        *self.next_nonce.lock().await = None;
    }

    /// A transaction with `nonce` committed: a refused open with the same
    /// nonce can never apply now, so its payer file goes.
    fn nonce_used(&self, nonce: Nonce) {
        self.landed_below
            .fetch_max(nonce.0.saturating_add(1), Ordering::Relaxed);
        let refused = self
            .refused_opens
            .lock()
            .expect("refused opens lock")
            .remove(&nonce);
        if let Some(channel) = refused {
            let path = crate::channel_path(&self.state_dir, crate::Role::Payer, &channel);
            let _ = std::fs::remove_file(path);
        }
    }

    fn next_envelope_id(&self) -> EnvelopeId {
        let n = self.envelope_ids.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 16];
        // A random prefix per start keeps ids unique across restarts without a file.
        id[..8].copy_from_slice(&self.id_prefix);
        id[8..].copy_from_slice(&n.to_le_bytes());
        EnvelopeId(id)
    }

    async fn send_envelope(
        &self,
        to: AccountId,
        kind: EnvelopeType,
        payload: Vec<u8>,
        encrypt: bool,
    ) -> Result<(), SendError> {
        if self.broker.is_none() {
            return Err(SendError::NoBroker);
        }
        let header = EnvelopeHeader {
            genesis: self.genesis_hash,
            sender: self.me,
            recipient: to,
            kind,
            id: self.next_envelope_id(),
            timestamp: self.clock.now(),
            encrypted: encrypt,
        };
        let envelope = if encrypt {
            let their_key = self.keys.get(&self.http, &to).await?;
            messaging::seal_and_sign(header, &payload, &their_key, &self.key)?
        } else {
            Envelope::sign(header, payload, &self.key)?
        };
        self.pending().push_envelope(to, envelope.encode())?;
        self.wake.notify_one();
        Ok(())
    }
}
