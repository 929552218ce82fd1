//! The bounded queue of inbox notices, and the task that publishes them and
//! the durable block headers.
//!
//! Producers never wait: when `MQTT_OUTBOX_MAX` notices are queued, a new one
//! is dropped and counted (`ting_mqtt_publish_dropped_total{reason="outbox_full"}`).
//! The pipeline is never slowed by MQTT, and a device that missed its receipt
//! reads it over HTTP. Block headers skip the queue: only the newest matters
//! (it is retained), so a publisher that falls behind jumps to it.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::client::{Client, Qos};
use super::limits::{
    MQTT_ERROR_NOTICES_PER_RECIPIENT_PER_S, MQTT_ERROR_NOTICE_RECIPIENTS_MAX, MQTT_OUTBOX_MAX,
};
use super::notice_rate::NoticeRate;
use super::notices::{Notice, Signer};
use crate::lead::Roles;
use crate::metrics::Metrics;
use crate::pipeline::CommittedBlock;
use ting_core::topics::{inbox, BLOCKS_TOPIC};

/// The sending side of the queue; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Notice>,
    metrics: Arc<Metrics>,
    error_rate: Arc<Mutex<NoticeRate>>,
}

/// A request to publish everything queued, answered when it is handed to the client.
pub(crate) type Flush = oneshot::Sender<()>;

impl Outbox {
    pub fn new(metrics: Arc<Metrics>) -> (Outbox, mpsc::Receiver<Notice>) {
        let (tx, rx) = mpsc::channel(MQTT_OUTBOX_MAX);
        let error_rate = NoticeRate::new(
            MQTT_ERROR_NOTICES_PER_RECIPIENT_PER_S,
            MQTT_ERROR_NOTICE_RECIPIENTS_MAX,
        );
        let error_rate = Arc::new(Mutex::new(error_rate));
        (
            Outbox {
                tx,
                metrics,
                error_rate,
            },
            rx,
        )
    }

    /// Queues `notice`, or drops and counts it when the queue is full or, for
    /// an error notice, when its recipient has had its share this second.
    pub fn offer(&self, notice: Notice) {
        if let Notice::Error { to, .. } = &notice {
            let now = crate::clock::now().0;
            let mut rate = self.error_rate.lock().unwrap_or_else(|e| e.into_inner());
            if !rate.allow(to, now) {
                self.metrics.mqtt.publish_dropped("rate_limited");
                return;
            }
        }
        if self.tx.try_send(notice).is_err() {
            self.metrics.mqtt.publish_dropped("outbox_full");
        }
    }
}

/// What the publisher reads from.
pub(crate) struct Sources {
    pub notices: mpsc::Receiver<Notice>,
    pub blocks: broadcast::Receiver<Arc<CommittedBlock>>,
    pub flush: mpsc::Receiver<Flush>,
    /// The node's role: only the node that sequences publishes block headers.
    pub roles: Arc<Roles>,
}

/// Publishes notices and block headers through `client` until the client is gone.
pub(crate) async fn publish(client: Client, signer: Signer, metrics: Arc<Metrics>, mut s: Sources) {
    let mut blocks_open = true;
    loop {
        tokio::select! {
            notice = s.notices.recv() => match notice {
                Some(n) => send_notice(&client, &signer, &metrics, n).await,
                None => return,
            },
            block = s.blocks.recv(), if blocks_open => match block {
                // Followers hold the same blocks, later: a header one of them
                // retained after the leader's newer one would set devices back.
                Ok(b) if s.roles.sequences() => send_block(&client, &metrics, &b).await,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => blocks_open = false,
            },
            flush = s.flush.recv() => {
                let Some(done) = flush else { return };
                while let Ok(n) = s.notices.try_recv() {
                    send_notice(&client, &signer, &metrics, n).await;
                }
                let _ = done.send(());
            }
        }
    }
}

async fn send_notice(client: &Client, signer: &Signer, metrics: &Metrics, n: Notice) {
    let Some(bytes) = signer.seal(&n, signer.time.now()) else {
        return metrics.mqtt.publish_dropped("unsealable");
    };
    let topic = inbox(&n.recipient());
    match client.publish(topic, Qos::AtLeastOnce, false, bytes).await {
        Ok(()) => metrics.mqtt.published(n.kind_name()),
        Err(e) => {
            tracing::debug!(error = %e, "an inbox notice was not published");
            metrics.mqtt.publish_dropped("client_closed");
        }
    }
}

async fn send_block(client: &Client, metrics: &Metrics, b: &CommittedBlock) {
    let header = b.block.header.to_bytes();
    match client
        .publish(BLOCKS_TOPIC.to_string(), Qos::AtMostOnce, true, header)
        .await
    {
        Ok(()) => metrics.mqtt.published("block"),
        Err(_) => metrics.mqtt.publish_dropped("client_closed"),
    }
}
