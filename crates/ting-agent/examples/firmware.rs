//! What a device's firmware does to pay over MQTT, run on a host: it logs in
//! to the broker with a login token, waits for its node's `hello`, signs a
//! transfer into a buffer on the stack, publishes it to `ting/v1/tx`, and
//! takes the `receipt` envelope from its inbox only after checking it itself.
//! docs/devices.md walks through the same steps.
//!
//! The device side uses only ting-core's firmware operations (the ones
//! `crates/ting-device-check` builds for a Cortex-M4F) and a plain MQTT
//! client (`rumqttc`): not ting-agent's `Device`, which is the SDK for
//! devices with an operating system, a file system and a heap to spare.
//!
//! ```sh
//! ting node --dev &                                          # HTTP on :8080; MQTT on 1883 or a free port
//! cargo run -p ting-agent --example firmware                 # a fresh device key each run
//! TING_SEED=<64 hex digits> cargo run -p ting-agent --example firmware
//! ```
//!
//! Setup is not firmware: the example learns the genesis hash, the sequencer
//! key and the broker from the node's `GET /v1/status` (`TING_NODE`, default
//! `http://127.0.0.1:8080`; `TING_MQTT=mqtt://HOST:PORT` names another
//! broker), funds the device from the dev node's faucet, and reads the
//! device's account with its proof over HTTP, through ting-agent's HTTP
//! client. A real device is given the genesis hash, the sequencer keys and
//! the broker's address when it is made, and keeps them in flash ([`Flash`]);
//! it trusts no node to tell it whom to trust. The example speaks plain MQTT
//! only (`mqtt://`).
//!
//! `crates/ting-agent/tests/firmware_example.rs` runs this example against a
//! node in CI, and shows a receipt forged by another key being refused.

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{
    Client, Connection, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS,
    RecvTimeoutError, SubscribeFilter, SubscribeReasonCode,
};
use ting_agent::NodeClient;
use ting_core::broker_url::BrokerUrl;
use ting_core::encoding::BufferTooSmall;
use ting_core::envelope::{
    check_hello, Envelope, EnvelopeType, ErrorPayload, RefusalPayload, ENVELOPE_BYTES_MAX,
};
use ting_core::limits::{ENVELOPE_WINDOW_MS, TX_VALID_FOR_DEFAULT_MS};
use ting_core::login::{LoginToken, LOGIN_TOKEN_BYTES};
use ting_core::receipt::{check_receipt_bytes, CheckedReceipt};
use ting_core::state_map::AccountRecord;
use ting_core::state_proof::{check_account_bytes, StateAnswerError, StateCheck};
use ting_core::topics::{INBOX_PREFIX, NODES_PREFIX, TX_TOPIC};
use ting_core::tx::{TxBody, TxKind};
use ting_core::{AccountId, Amount, BlockHeight, Hash32, Keypair, Nonce, Timestamp};

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The transaction buffer: a transfer with no memo is 187 bytes, with the
/// longest memo 251; `TX_BYTES_MAX` (1024) would hold any kind.
pub const TX_BUF_BYTES: usize = 256;
/// `ting/v1/inbox/` or `ting/v1/nodes/` and 64 hex digits.
const TOPIC_BYTES: usize = 14 + 64;
/// The largest MQTT packet taken or sent: an envelope at its limit plus framing.
const PACKET_BYTES_MAX: usize = ENVELOPE_BYTES_MAX + 4 * 1024;
/// How long the example waits, all told, for its node and its receipt.
pub const WAIT: Duration = Duration::from_secs(30);
/// What the faucet gives the device in setup, and what it pays.
const FUNDING: u64 = 100_000;
const PAYMENT: u64 = 1_500;

/// What a firmware keeps in flash, written once when the device is made.
#[derive(Clone, Debug)]
pub struct Flash {
    /// The device's 32-byte Ed25519 seed, its only secret: whoever reads it
    /// can spend the device's money. Better kept in a secure element (or at
    /// least read-protected flash) than in plain flash.
    pub seed: [u8; 32],
    /// The genesis hash of the device's network: every transaction, envelope
    /// and block header names it.
    pub genesis: Hash32,
    /// The genesis's sequencer keys: only they sign the headers of blocks,
    /// and the node envelopes (receipts, refusals, hellos), a device believes.
    pub sequencers: Vec<AccountId>,
    /// The broker the device logs in to.
    pub broker: BrokerUrl,
}

/// What a firmware keeps across reboots and writes as it goes (a flash page
/// with wear levelling, or FRAM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persisted {
    /// The nonce of the next transaction. It is advanced, and written, before
    /// the transaction is published: a device that reboots then publishes
    /// the same bytes again instead of signing a second transaction with the
    /// same nonce.
    pub next_nonce: Nonce,
    /// The highest block height seen in a header the device checked. A state
    /// answer from below it is stale (a node showing an old balance).
    pub height_seen: BlockHeight,
}

impl Persisted {
    /// A device that has never sent anything.
    pub fn first_boot() -> Persisted {
        Persisted {
            next_nonce: Nonce(0),
            height_seen: BlockHeight(0),
        }
    }
}

/// What the device pays, and to whom.
#[derive(Clone, Copy, Debug)]
pub struct Transfer {
    pub to: AccountId,
    pub amount: Amount,
}

/// An inbox message the device did not take, and why (the codes of
/// docs/mqtt.md §3, then the receipt's own, wire.md §10.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    /// Who signed it (or claims to have), if it decoded at all.
    pub sender: Option<AccountId>,
}

/// What [`run`] did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub account: AccountId,
    pub nonce: Nonce,
    /// SHA-256 of the bytes published, which the receipt names.
    pub tx_hash: Hash32,
    pub tx_len: usize,
    /// The block that holds the transaction, from the checked receipt.
    pub height: BlockHeight,
    pub block_time: Timestamp,
    pub sequencer: AccountId,
    /// What came to the inbox meanwhile and was not believed, in order.
    pub refused: Vec<Refused>,
}

/// The device's account as a checked state answer shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProvedAccount {
    pub balance: Amount,
    pub nonce: Nonce,
    /// The height of the header the answer was checked against.
    pub height: BlockHeight,
}

/// Why the flow stopped.
#[derive(Debug)]
pub enum FirmwareError {
    /// The broker could not be reached or dropped the connection.
    Broker(String),
    /// The broker refused the login (docs/mqtt.md §9).
    LoginRefused(String),
    /// No serving `hello` from a trusted sequencer came on this broker.
    NoNode { broker: String, waited: Duration },
    /// The transaction did not fit the buffer.
    Sign(BufferTooSmall),
    /// The ledger refused the transaction: final.
    TxRefused { code: String, message: String },
    /// The node could not take the payload (busy, shutting down, ...).
    NodeError { code: String, message: String },
    /// No receipt came in time. The transaction may still commit.
    NoReceipt { tx_hash: Hash32, waited: Duration },
}

impl fmt::Display for FirmwareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FirmwareError::Broker(e) => write!(f, "the broker: {e}"),
            FirmwareError::LoginRefused(e) => write!(
                f,
                "the broker refused the login ({e}): check the device's clock (a token is good \
                 from 10 s ahead of the broker's clock to 60 s behind it) and its genesis hash"
            ),
            FirmwareError::NoNode { broker, waited } => write!(
                f,
                "no node of this network announced itself on {broker} within {} s: \
                 wrong broker, or the node is down",
                waited.as_secs()
            ),
            FirmwareError::Sign(e) => write!(f, "signing: {e}"),
            FirmwareError::TxRefused { code, message } => {
                write!(f, "the ledger refused the transaction: {code}: {message}")
            }
            FirmwareError::NodeError { code, message } => {
                write!(
                    f,
                    "the node could not take the transaction: {code}: {message}"
                )
            }
            FirmwareError::NoReceipt { tx_hash, waited } => write!(
                f,
                "no receipt for {tx_hash} within {} s; it may still commit: publish the same \
                 bytes again, or ask GET /v1/transactions/{tx_hash}",
                waited.as_secs()
            ),
        }
    }
}

impl std::error::Error for FirmwareError {}

/// The device's clock, in milliseconds since the Unix epoch. A firmware
/// reads its real-time clock, set over SNTP or from its node's block times.
pub fn clock() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp(ms)
}

/// `bytes` in lowercase hex, written into `out` (twice as long): no heap.
fn hex_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let out = &mut out[..bytes.len() * 2];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
    }
    std::str::from_utf8(out).expect("hex digits are ASCII")
}

/// `prefix` then `account` in hex: an inbox or a node's topic, in a buffer.
fn topic_into<'a>(prefix: &str, account: &AccountId, out: &'a mut [u8; TOPIC_BYTES]) -> &'a str {
    out[..prefix.len()].copy_from_slice(prefix.as_bytes());
    hex_into(&account.0, &mut out[prefix.len()..]);
    std::str::from_utf8(&out[..]).expect("a topic is ASCII")
}

/// The device's connection to its broker, logged in and subscribed.
pub struct Link {
    client: Client,
    connection: Connection,
    me: AccountId,
    inbox: [u8; TOPIC_BYTES],
    broker: String,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({} on {})", self.me, self.broker)
    }
}

/// The next MQTT event from `broker`, or `None` once `deadline` has passed.
fn next_event(
    connection: &mut Connection,
    broker: &str,
    deadline: Instant,
) -> Result<Option<Event>, FirmwareError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(None);
    }
    match connection.recv_timeout(left) {
        Ok(Ok(event)) => Ok(Some(event)),
        Ok(Err(ConnectionError::ConnectionRefused(code))) => {
            Err(FirmwareError::LoginRefused(format!("{code:?}")))
        }
        Ok(Err(e)) => Err(FirmwareError::Broker(format!("{broker}: {e}"))),
        Err(RecvTimeoutError::Timeout) => Ok(None),
        Err(RecvTimeoutError::Disconnected) => Err(FirmwareError::Broker(format!(
            "{broker}: the MQTT client stopped"
        ))),
    }
}

/// Logs in, subscribes to the inbox and the trusted nodes' topics, and waits
/// for a serving `hello` from one of them, all before `deadline`.
///
/// The login (docs/mqtt.md §9): the username is the account in hex, the
/// client id the same (so the broker keeps one session per device and
/// queues its receipts while it is away), and the password a login token
/// signed for this network, this client id and this minute, with a fresh
/// random nonce. A token is good for one connection: a firmware makes a new
/// one for every connection attempt, so this link does not reconnect by
/// itself; on a lost connection the caller calls `connect` again.
pub fn connect(flash: &Flash, key: &Keypair, deadline: Instant) -> Result<Link, FirmwareError> {
    let me = key.account();
    let mut account_hex = [0u8; 64];
    let account_hex = hex_into(&me.0, &mut account_hex);
    // The nonce comes from the device's random source (its TRNG).
    let token = LoginToken::issue(key, &flash.genesis, account_hex, clock(), rand::random());
    let mut password = [0u8; LOGIN_TOKEN_BYTES * 2];
    let password = hex_into(&token.to_bytes(), &mut password);

    let mut options = MqttOptions::new(account_hex, flash.broker.host.clone(), flash.broker.port);
    options
        .set_credentials(account_hex, password)
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(false)
        .set_max_packet_size(PACKET_BYTES_MAX, PACKET_BYTES_MAX);
    let (client, mut connection) = Client::new(options, 16);
    let broker = flash.broker.to_string();

    loop {
        match next_event(&mut connection, &broker, deadline)? {
            Some(Event::Incoming(Packet::ConnAck(_))) => break,
            Some(_) => {}
            None => return Err(FirmwareError::Broker(format!("no CONNACK from {broker}"))),
        }
    }
    println!("device {me}: logged in to {broker}");

    let mut inbox = [0u8; TOPIC_BYTES];
    let inbox_topic = topic_into(INBOX_PREFIX, &me, &mut inbox).to_owned();
    let mut filters = vec![SubscribeFilter::new(inbox_topic, QoS::AtLeastOnce)];
    for sequencer in &flash.sequencers {
        let mut topic = [0u8; TOPIC_BYTES];
        let topic = topic_into(NODES_PREFIX, sequencer, &mut topic);
        filters.push(SubscribeFilter::new(topic.to_owned(), QoS::AtLeastOnce));
    }
    client
        .subscribe_many(filters)
        .map_err(|e| FirmwareError::Broker(e.to_string()))?;
    let mut link = Link {
        client,
        connection,
        me,
        inbox,
        broker,
    };
    link.wait_for_node(flash, deadline)?;
    Ok(link)
}

impl Link {
    fn inbox(&self) -> &str {
        std::str::from_utf8(&self.inbox).expect("ASCII")
    }

    /// Waits for the SUBACK (every filter granted) and a fresh serving `hello`
    /// signed by a trusted sequencer. The hello is retained, so a node that is
    /// there is heard at once; none means the device is on the wrong broker,
    /// or its node is down, and it says so rather than publish into the void.
    fn wait_for_node(&mut self, flash: &Flash, deadline: Instant) -> Result<(), FirmwareError> {
        let started = Instant::now();
        let (mut subscribed, mut node) = (false, None);
        while !(subscribed && node.is_some()) {
            let event = next_event(&mut self.connection, &self.broker, deadline)?;
            match event {
                None => {
                    return Err(FirmwareError::NoNode {
                        broker: self.broker.clone(),
                        waited: started.elapsed(),
                    })
                }
                Some(Event::Incoming(Packet::SubAck(ack))) => {
                    if ack.return_codes.contains(&SubscribeReasonCode::Failure) {
                        return Err(FirmwareError::Broker(
                            "the broker refused a subscription (its ACL, docs/mqtt.md §10)".into(),
                        ));
                    }
                    subscribed = true;
                }
                Some(Event::Incoming(Packet::Publish(p))) if p.topic.starts_with(NODES_PREFIX) => {
                    match check_hello(
                        &p.payload,
                        &flash.genesis,
                        &flash.sequencers,
                        clock(),
                        ENVELOPE_WINDOW_MS,
                    ) {
                        Ok(hello) if hello.payload.serving => node = Some(hello),
                        Ok(_) => println!("device: the node on {} has left", p.topic),
                        Err(e) => println!("device: a hello not believed: {}", e.code()),
                    }
                }
                // Older inbox messages queued in the session: no transaction
                // of this run is out yet, so none of them is about it.
                Some(Event::Incoming(Packet::Publish(_))) => {}
                Some(_) => {}
            }
        }
        let hello = node.expect("the loop ends with a hello");
        println!(
            "device: node {} serves this network on this broker (it announced itself at \
             durable height {})",
            hello.node, hello.payload.height
        );
        Ok(())
    }

    /// Publishes signed transaction bytes to `ting/v1/tx`, QoS 1. The
    /// broker's PUBACK is awaited in [`Link::wait_for_receipt`].
    pub fn publish_tx(&self, tx: &[u8]) -> Result<(), FirmwareError> {
        self.client
            .publish(TX_TOPIC, QoS::AtLeastOnce, false, tx)
            .map_err(|e| FirmwareError::Broker(e.to_string()))
    }

    /// Reads the inbox until a receipt for `tx_hash` passes every check, the
    /// ledger's refusal of it or the node's error comes, or `deadline`
    /// passes. Everything else that arrives is refused, noted in `refused`
    /// and waited past.
    pub fn wait_for_receipt(
        &mut self,
        flash: &Flash,
        tx_hash: &Hash32,
        deadline: Instant,
        refused: &mut Vec<Refused>,
    ) -> Result<CheckedReceipt, FirmwareError> {
        let started = Instant::now();
        loop {
            let event = next_event(&mut self.connection, &self.broker, deadline)?;
            let publish = match event {
                None => {
                    return Err(FirmwareError::NoReceipt {
                        tx_hash: *tx_hash,
                        waited: started.elapsed(),
                    })
                }
                Some(Event::Incoming(Packet::PubAck(_))) => {
                    println!("device: the broker took the transaction");
                    continue;
                }
                Some(Event::Incoming(Packet::Publish(p))) if p.topic == self.inbox() => p,
                Some(_) => continue,
            };
            match judge(&publish.payload, flash, &self.me, tx_hash, clock()) {
                Ok(Answer::Receipt(receipt)) => return Ok(receipt),
                Ok(Answer::Refusal { code, message }) => {
                    return Err(FirmwareError::TxRefused { code, message })
                }
                Ok(Answer::NodeError { code, message }) => {
                    return Err(FirmwareError::NodeError { code, message })
                }
                Err(r) => {
                    let from = r
                        .sender
                        .map_or("an unknown sender".into(), |s| s.to_string());
                    println!(
                        "device: refused an inbox message from {from}: {}; still waiting",
                        r.code
                    );
                    refused.push(r);
                }
            }
        }
    }

    /// Says goodbye to the broker (the session, and the inbox subscription,
    /// stay for the next connection).
    pub fn disconnect(mut self) {
        if self.client.disconnect().is_err() {
            return;
        }
        // Until the DISCONNECT is out; polling past it would reconnect with
        // the spent token.
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Ok(Some(event)) = next_event(&mut self.connection, &self.broker, deadline) {
            if matches!(event, Event::Outgoing(Outgoing::Disconnect)) {
                break;
            }
        }
    }
}

/// A node envelope about the device's transaction, checked.
// The receipt's header stays on the stack, unboxed: firmware keeps off the
// heap where it can.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A receipt whose header a trusted sequencer signed for this network,
    /// whose Merkle path leads to it, and whose hash is the transaction's.
    Receipt(CheckedReceipt),
    /// The ledger refused the transaction.
    Refusal { code: String, message: String },
    /// The node could not take a payload from `ting/v1/tx`.
    NodeError { code: String, message: String },
}

/// The receiving checks of docs/mqtt.md §3, in order: it decodes strictly,
/// is for this network and this device, its signature verifies, its
/// timestamp is within `ENVELOPE_WINDOW_MS` of the device's clock; then a
/// node's type (below `0x0100`) only from a trusted sequencer.
///
/// The replay cache of §3 is left out: this device takes one receipt, for
/// the transaction it is waiting on, and a copy of it changes nothing. A
/// device that acts on every message it gets keeps one
/// (`ting_core::ReplayGuard`).
pub fn check_envelope(
    bytes: &[u8],
    flash: &Flash,
    me: &AccountId,
    now: Timestamp,
) -> Result<Envelope, Refused> {
    let envelope = Envelope::decode(bytes).map_err(|_| Refused {
        code: "malformed",
        sender: None,
    })?;
    let h = &envelope.header;
    let refuse = |code| Refused {
        code,
        sender: Some(h.sender),
    };
    if h.genesis != flash.genesis {
        return Err(refuse("wrong_network"));
    }
    if h.recipient != *me {
        return Err(refuse("wrong_recipient"));
    }
    if envelope.verify().is_err() {
        return Err(refuse("bad_signature"));
    }
    if h.timestamp.0.abs_diff(now.0) > ENVELOPE_WINDOW_MS {
        return Err(refuse("stale"));
    }
    if h.kind.is_node_type() && !flash.sequencers.contains(&h.sender) {
        return Err(refuse("untrusted_sender"));
    }
    Ok(envelope)
}

/// Checks an inbox message as the answer about the transaction `tx_hash`:
/// the envelope ([`check_envelope`]), then its payload. A receipt counts only
/// once `check_receipt_bytes` passes (a genesis sequencer signed the header,
/// for this genesis, and the path leads from the hash to its `tx_root`) and
/// the hash it proves is the hash of the bytes this device published.
pub fn judge(
    bytes: &[u8],
    flash: &Flash,
    me: &AccountId,
    tx_hash: &Hash32,
    now: Timestamp,
) -> Result<Answer, Refused> {
    let envelope = check_envelope(bytes, flash, me, now)?;
    let refuse = |code| Refused {
        code,
        sender: Some(envelope.header.sender),
    };
    match envelope.header.kind {
        EnvelopeType::RECEIPT => {
            let checked = check_receipt_bytes(&envelope.payload, &flash.genesis, &flash.sequencers)
                .map_err(|e| refuse(e.code()))?;
            if checked.tx_hash != *tx_hash {
                return Err(refuse("other_transaction"));
            }
            Ok(Answer::Receipt(checked))
        }
        // Final for these bytes, except `bad_nonce`, which is also the answer
        // to a copy of a transaction that committed: a device that published
        // its bytes more than once looks it up before believing it.
        EnvelopeType::REFUSAL => {
            let p = RefusalPayload::decode(&envelope.payload).map_err(|_| refuse("bad_payload"))?;
            if p.tx_hash != *tx_hash {
                return Err(refuse("other_transaction"));
            }
            Ok(Answer::Refusal {
                code: p.code,
                message: p.message,
            })
        }
        EnvelopeType::ERROR => {
            let p = ErrorPayload::decode(&envelope.payload).map_err(|_| refuse("bad_payload"))?;
            Ok(Answer::NodeError {
                code: p.code,
                message: p.message,
            })
        }
        _ => Err(refuse("unexpected_type")),
    }
}

/// Signs a transfer into `buf` with no allocation, and advances the nonce in
/// `saved` (which a firmware writes to flash now, before it publishes).
/// Answers the bytes' length and their hash, which the receipt will name.
pub fn sign_transfer(
    key: &Keypair,
    flash: &Flash,
    saved: &mut Persisted,
    transfer: &Transfer,
    now: Timestamp,
    buf: &mut [u8; TX_BUF_BYTES],
) -> Result<(usize, Hash32), FirmwareError> {
    let body = TxBody {
        genesis: flash.genesis,
        sender: key.account(),
        nonce: saved.next_nonce,
        // The ledger refuses it for ever after this; an hour rides out an outage.
        valid_until: Timestamp(now.0.saturating_add(TX_VALID_FOR_DEFAULT_MS)),
        kind: TxKind::Transfer {
            to: transfer.to,
            amount: transfer.amount,
            memo: Vec::new(), // empty: no allocation
        },
    };
    let len = body.sign_into(key, buf).map_err(FirmwareError::Sign)?;
    let tx_hash = Hash32::digest(&[&buf[..len]]);
    saved.next_nonce = Nonce(saved.next_nonce.0 + 1);
    Ok((len, tx_hash))
}

/// Checks a state answer about the device's own account (the bytes of
/// `GET /v1/accounts/{id}?proof=true`'s `proof.hex`) in place: a trusted
/// sequencer signed its header for this genesis, the header is not below
/// `saved.height_seen`, and the proof leads from the record to the header's
/// state root. Then raises `height_seen`. An account with no record holds
/// nothing: balance 0, next nonce 0.
pub fn check_state(
    answer: &[u8],
    flash: &Flash,
    me: &AccountId,
    saved: &mut Persisted,
) -> Result<ProvedAccount, StateAnswerError> {
    let check = StateCheck {
        genesis: &flash.genesis,
        sequencers: &flash.sequencers,
        min_height: saved.height_seen,
    };
    let state = check_account_bytes(answer, me, &check)?;
    let (balance, nonce) = match state.record {
        Some(record) => {
            let r = AccountRecord::from_record(record).map_err(StateAnswerError::BadRecord)?;
            (r.account.balance, r.account.nonce)
        }
        None => (Amount::ZERO, Nonce(0)),
    };
    saved.height_seen = saved.height_seen.max(state.header.height);
    Ok(ProvedAccount {
        balance,
        nonce,
        height: state.header.height,
    })
}

/// The whole flow: log in, wait for the node, sign the transfer into a stack
/// buffer, publish it, and wait (until `wait` has passed) for a receipt
/// that passes every check.
pub fn run(
    flash: &Flash,
    saved: &mut Persisted,
    transfer: &Transfer,
    wait: Duration,
) -> Result<Outcome, FirmwareError> {
    let deadline = Instant::now() + wait;
    let key = Keypair::from_seed(flash.seed);
    let mut link = connect(flash, &key, deadline)?;

    let nonce = saved.next_nonce;
    let mut buf = [0u8; TX_BUF_BYTES];
    let (len, tx_hash) = sign_transfer(&key, flash, saved, transfer, clock(), &mut buf)?;
    println!(
        "device: signed a transfer of {} to {} with nonce {nonce}: {len} bytes, hash {tx_hash}",
        transfer.amount, transfer.to
    );
    link.publish_tx(&buf[..len])?;
    println!("device: published it to {TX_TOPIC}");

    let mut refused = Vec::new();
    let receipt = link.wait_for_receipt(flash, &tx_hash, deadline, &mut refused)?;
    let header = &receipt.header;
    saved.height_seen = saved.height_seen.max(header.height);
    println!(
        "device: receipt checked: block {} signed by sequencer {}, and the Merkle path leads \
         from the transaction to its root; the transfer is committed",
        header.height, header.sequencer
    );
    link.disconnect();
    Ok(Outcome {
        account: key.account(),
        nonce,
        tx_hash,
        tx_len: len,
        height: header.height,
        block_time: header.timestamp,
        sequencer: header.sequencer,
        refused,
    })
}

/// Setup, not firmware: what a device maker writes into [`Flash`] when the
/// device is made, taken here from the node's `/v1/status` (trusting that
/// node on first use). `broker` overrides the broker the node names.
pub async fn provision(
    node: &str,
    seed: [u8; 32],
    broker: Option<BrokerUrl>,
) -> Result<Flash, AnyError> {
    let status = NodeClient::new(node)?.status().await?;
    let broker = match broker {
        Some(b) => b,
        None => {
            let named = status
                .mqtt
                .ok_or("the node runs no MQTT broker (--no-mqtt)")?;
            BrokerUrl::parse(&named).ok_or("the node names a broker that is not mqtt://")?
        }
    };
    if broker.tls {
        return Err("this example speaks plain MQTT only: give TING_MQTT=mqtt://HOST:PORT".into());
    }
    Ok(Flash {
        seed,
        genesis: status.genesis_hash,
        sequencers: vec![status.sequencer],
        broker,
    })
}

/// Setup, not firmware: money from a dev node's faucet (it waits for the mint
/// to commit).
pub async fn fund(node: &str, account: &AccountId, amount: Amount) -> Result<(), AnyError> {
    NodeClient::new(node)?.faucet(account, amount).await?;
    Ok(())
}

/// The transport of a state answer, not its check: `GET
/// /v1/accounts/{id}?proof=true` and the bytes of its `proof.hex`. A firmware
/// makes the same request with its own HTTP client, into a fixed buffer;
/// [`check_state`] believes nothing the node says until it has checked them.
pub async fn account_answer(node: &str, account: &AccountId) -> Result<Vec<u8>, AnyError> {
    let path = format!("/v1/accounts/{}?proof=true", account.to_hex());
    let raw = NodeClient::new(node)?.get(&path).await?;
    let text = raw["proof"]["hex"]
        .as_str()
        .ok_or("the answer has no proof.hex")?;
    Ok(hex::decode(text)?)
}

/// Setup: the flash's contents, and money.
async fn setup(node: &str, seed: [u8; 32], broker: Option<BrokerUrl>) -> Result<Flash, AnyError> {
    let flash = provision(node, seed, broker).await?;
    let account = Keypair::from_seed(seed).account();
    fund(node, &account, Amount::new(FUNDING)).await?;
    println!("setup: the faucet gave {account} {FUNDING}");
    Ok(flash)
}

/// Setup, the device's flow, and a last, proved look at its account.
fn main_flow(
    runtime: &tokio::runtime::Runtime,
    node: &str,
    seed: [u8; 32],
    broker: Option<BrokerUrl>,
) -> Result<(), AnyError> {
    let flash = runtime.block_on(setup(node, seed, broker))?;
    let me = Keypair::from_seed(seed).account();
    let mut saved = Persisted::first_boot();
    // A device that has lost its nonce (or, as here, whose key may have been
    // used before) learns it from a state answer it checks itself.
    let answer = runtime.block_on(account_answer(node, &me))?;
    let before = check_state(&answer, &flash, &me, &mut saved)?;
    saved.next_nonce = before.nonce;
    println!(
        "device: proved at height {}: balance {}, next nonce {}",
        before.height, before.balance, before.nonce
    );
    let to = Keypair::from_seed(rand::random()).account();
    let transfer = Transfer {
        to,
        amount: Amount::new(PAYMENT),
    };
    let outcome = run(&flash, &mut saved, &transfer, WAIT)?;
    let answer = runtime.block_on(account_answer(node, &me))?;
    let after = check_state(&answer, &flash, &me, &mut saved)?;
    println!(
        "device {}: transaction {} ({} bytes, nonce {}) is in block {}, cut at {} ms by {}; \
         {} inbox messages refused meanwhile",
        outcome.account,
        outcome.tx_hash,
        outcome.tx_len,
        outcome.nonce,
        outcome.height,
        outcome.block_time,
        outcome.sequencer,
        outcome.refused.len()
    );
    println!(
        "device: proved at height {}: balance {}, next nonce {}",
        after.height, after.balance, after.nonce
    );
    Ok(())
}

#[allow(dead_code)] // a test includes this file as a module and calls `run`
fn main() -> ExitCode {
    let node = std::env::var("TING_NODE").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let seed = match std::env::var("TING_SEED") {
        Ok(text) => match Hash32::from_hex(text.trim()) {
            Some(h) => h.0,
            None => {
                eprintln!("error: TING_SEED must be 64 hex digits");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => rand::random(),
    };
    let broker = match std::env::var("TING_MQTT") {
        Ok(url) => match BrokerUrl::parse(&url) {
            Some(b) => Some(b),
            None => {
                eprintln!("error: TING_MQTT must look like mqtt://HOST:PORT");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => None,
    };
    // Setup speaks HTTP through ting-agent's async client; the device flow
    // itself is plain blocking code, as a firmware's main loop is.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match main_flow(&runtime, &node, seed, broker) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
