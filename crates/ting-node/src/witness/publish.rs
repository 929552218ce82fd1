//! The witness's publisher: its attestations and evidence on the broker
//! (docs/mqtt.md §1), under the witness's own account:
//! `ting/v1/witness/{witness}/attestations` (each message one fetch's
//! attestations, 177 bytes each, the newest retained) and
//! `…/evidence` (retained). Its last will, retained on `…/status`, says
//! it is gone.
//!
//! Publishing is a courtesy to devices that follow witnesses on the broker;
//! the record and `GET /v1/attestations/{height}` are what the witness
//! stands by. A full queue drops a batch (counted), never holds up the
//! follower.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ting_core::broker_url::BrokerUrl;
use ting_core::topics;
use ting_core::witness::Attestation;
use ting_core::{Genesis, Keypair};
use tokio::sync::mpsc;

use crate::clock::NetworkTime;
use crate::mqtt::client::{self, Endpoint, Incoming, Login, Protocol, Qos};
use crate::mqtt::limits::MQTT_PAYLOAD_BYTES_MAX;

/// Batches waiting to be published.
const QUEUE_BATCHES: usize = 64;
/// What the last will says on the status topic.
const GONE: &[u8] = b"gone";
/// What the status topic says while the witness is connected.
const UP: &[u8] = b"up";

enum Message {
    Attested(Vec<Attestation>),
    /// Evidence's bytes.
    Evidence(Vec<u8>),
}

/// Hands what the witness signs to its MQTT connection.
#[derive(Debug, Clone)]
pub struct Publisher {
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Message")
    }
}

impl Publisher {
    /// Connects (and reconnects) to `broker` as `key`'s account, on
    /// `runtime`; over TLS trusting `tls` when the broker is `mqtts://`.
    pub fn start(
        runtime: &tokio::runtime::Handle,
        broker: &BrokerUrl,
        tls: Option<Arc<rustls::ClientConfig>>,
        key: &Keypair,
        genesis: &Genesis,
    ) -> Publisher {
        let (queue, rx) = mpsc::channel(QUEUE_BATCHES);
        let dropped = Arc::new(AtomicU64::new(0));
        let witness = key.account();
        let login = Login {
            key: Keypair::from_seed(key.seed()),
            genesis_hash: genesis.hash(),
            client_id: ting_core::login::client_id(&witness, Some("witness"))
                .expect("a valid client-id suffix"),
            time: NetworkTime::of(genesis),
        };
        let status = format!("{}{}/status", topics::WITNESS_PREFIX, witness.to_hex());
        let (host, port) = (broker.host.clone(), broker.port);
        runtime.spawn(async move {
            let endpoint = Endpoint {
                host: &host,
                port,
                tls: tls.as_ref(),
            };
            let (client, events) =
                client::connect(login, endpoint, Protocol::V311, (&status, GONE.to_vec()));
            run(client, events, rx, witness, status).await;
        });
        Publisher { queue, dropped }
    }

    /// Queues a fetch's attestations; dropped (and counted) when the queue is full.
    pub fn attested(&self, batch: Vec<Attestation>) {
        if !batch.is_empty() && self.queue.try_send(Message::Attested(batch)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues evidence's bytes, unless they are over the broker's packet limit (a wrong
    /// state root in a large block): then the log says where it is.
    pub fn evidence(&self, bytes: Vec<u8>) {
        if bytes.len() > MQTT_PAYLOAD_BYTES_MAX {
            tracing::warn!(
                bytes = bytes.len(),
                limit = MQTT_PAYLOAD_BYTES_MAX,
                "evidence over the broker's packet limit is not published; it is at GET /v1/evidence and in the data directory"
            );
            return;
        }
        if self.queue.try_send(Message::Evidence(bytes)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Batches dropped because the connection was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn run(
    client: client::Client,
    mut events: client::Events,
    mut rx: mpsc::Receiver<Message>,
    witness: ting_core::AccountId,
    status: String,
) {
    let attestations = topics::witness_attestations(&witness);
    let evidence = topics::witness_evidence(&witness);
    let mut warned = false;
    loop {
        tokio::select! {
            event = events.poll() => match event {
                Ok(Incoming::Connected) => {
                    warned = false;
                    tracing::info!("the witness is on the broker");
                    let _ = client.publish(status.clone(), Qos::AtLeastOnce, true, UP.to_vec()).await;
                }
                Ok(_) => {}
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "the witness cannot reach its broker; trying again");
                        warned = true;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            },
            message = rx.recv() => {
                let Some(message) = message else { break };
                let (topic, payload) = match message {
                    Message::Attested(batch) => (attestations.clone(), batch.iter().flat_map(Attestation::to_bytes).collect()),
                    Message::Evidence(bytes) => (evidence.clone(), bytes),
                };
                if let Err(e) = client.publish(topic, Qos::AtLeastOnce, true, payload).await {
                    tracing::warn!(error = %e, "the witness could not queue a publish");
                }
            }
        }
    }
    let _ = client.disconnect().await;
}
