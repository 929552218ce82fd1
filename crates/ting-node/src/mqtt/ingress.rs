//! Transactions arriving on `ting/v1/tx`: checked, submitted to the same
//! pipeline as HTTP, and answered in the sender's inbox.
//!
//! Nothing here waits: a payload is decoded and admitted (or dropped) at once,
//! and each admitted transaction's outcome is awaited by a task of its own,
//! bounded by `MQTT_OUTCOMES_MAX` permits. A bad signature is found by the
//! pipeline's batch verifier (no second check here); the gateway reports it as a
//! dropped payload, not as a ledger refusal.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ting_core::limits::TX_BYTES_MAX;
use ting_core::tx::TX_VERSION;
use ting_core::{AccountId, Hash32, NetworkId, SignedTx};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::notices::Notice;
use super::outbox::Outbox;
use crate::node::Shared;
use crate::pipeline::Outcome;

/// A payload the gateway will not submit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The `reason` label of `ting_mqtt_dropped_total`, also the error notice's code.
    pub reason: &'static str,
    /// Whose inbox hears of it, when a sender can be read.
    pub sender: Option<AccountId>,
    pub about: Hash32,
    pub message: String,
}

/// The sender field of a payload that looks like a transaction for `network`
/// (right version and network), though it did not decode. Anything else has no
/// readable sender: the node does not write to inboxes named by noise.
pub(crate) fn readable_sender(payload: &[u8], network: NetworkId) -> Option<AccountId> {
    let head = payload.get(..37)?;
    let net = u32::from_le_bytes(head[1..5].try_into().expect("4 bytes"));
    if head[0] != TX_VERSION || net != network.0 {
        return None;
    }
    Some(AccountId(head[5..37].try_into().expect("32 bytes")))
}

/// Decodes `payload` strictly and checks its network.
pub(crate) fn check(payload: &[u8], network: NetworkId) -> Result<SignedTx, Dropped> {
    let about = || Hash32::digest(&[payload]);
    if payload.len() > TX_BYTES_MAX {
        return Err(Dropped {
            reason: "oversized",
            sender: readable_sender(payload, network),
            about: about(),
            message: format!(
                "the payload is {} bytes; a transaction is at most {TX_BYTES_MAX}",
                payload.len()
            ),
        });
    }
    let tx = SignedTx::decode(payload).map_err(|e| Dropped {
        reason: "malformed",
        sender: readable_sender(payload, network),
        about: about(),
        message: format!("the payload is not a transaction: {e}"),
    })?;
    if tx.network() != network {
        return Err(Dropped {
            reason: "wrong_network",
            sender: Some(tx.sender()),
            about: tx.hash(),
            message: format!(
                "the transaction is for network {}, this node serves network {}",
                tx.network(),
                network
            ),
        });
    }
    Ok(tx)
}

/// Takes payloads from `ting/v1/tx`; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    pub shared: Arc<Shared>,
    pub outbox: Outbox,
    pub outcomes: Arc<Semaphore>,
}

impl Gate {
    /// Handles one payload without waiting.
    pub fn take(&self, payload: &[u8]) {
        let m = &self.shared.metrics.mqtt;
        m.received.fetch_add(1, Ordering::Relaxed);
        match check(payload, self.shared.genesis.network) {
            Ok(tx) => self.submit(tx),
            Err(d) => self.drop_payload(d),
        }
    }

    fn drop_payload(&self, d: Dropped) {
        self.shared.metrics.mqtt.dropped(d.reason);
        tracing::debug!(reason = d.reason, message = %d.message, "dropped an MQTT payload");
        if let Some(to) = d.sender {
            self.outbox.offer(Notice::Error {
                to,
                about: d.about,
                code: d.reason,
                message: d.message,
            });
        }
    }

    fn submit(&self, tx: SignedTx) {
        let (sender, hash) = (tx.sender(), tx.hash());
        let not_admitted = |reason, message| Dropped {
            reason,
            sender: Some(sender),
            about: hash,
            message,
        };
        let Ok(permit) = Arc::clone(&self.outcomes).try_acquire_owned() else {
            let msg = "too many transactions from MQTT are waiting for their blocks; retry shortly";
            return self.drop_payload(not_admitted("busy", msg.into()));
        };
        let (reply, rx) = oneshot::channel();
        if let Err(e) = self.shared.submit_with(vec![tx], vec![Some(reply)]) {
            return self.drop_payload(not_admitted(e.code(), e.to_string()));
        }
        self.shared
            .metrics
            .mqtt
            .outcomes_waiting
            .fetch_add(1, Ordering::Relaxed);
        let gate = self.clone();
        tokio::spawn(async move { gate.answer(rx, sender, hash, permit).await });
    }

    /// Waits for one transaction's outcome and queues its notice.
    async fn answer(
        self,
        rx: oneshot::Receiver<Outcome>,
        to: AccountId,
        hash: Hash32,
        permit: OwnedSemaphorePermit,
    ) {
        let outcome = rx.await;
        let m = &self.shared.metrics.mqtt;
        m.outcomes_waiting.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        match outcome {
            Ok(Outcome::Committed(committed)) => {
                self.outbox.offer(Notice::Receipt { to, committed });
            }
            Ok(Outcome::Refused(r)) if r.code == "bad_signature" => {
                self.drop_payload(Dropped {
                    reason: "bad_signature",
                    sender: Some(to),
                    about: hash,
                    message: r.message,
                });
            }
            Ok(Outcome::Refused(refusal)) => {
                self.outbox.offer(Notice::Refusal { to, refusal });
            }
            // The node stopped before the block was durable; nothing is known to tell.
            Err(_) => tracing::debug!(tx = %hash, "no outcome: the node is stopping"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NET: NetworkId = NetworkId(7);

    fn prefix(version: u8, net: u32, sender: [u8; 32]) -> Vec<u8> {
        let mut b = vec![version];
        b.extend_from_slice(&net.to_le_bytes());
        b.extend_from_slice(&sender);
        b
    }

    #[test]
    fn noise_has_no_readable_sender() {
        assert_eq!(readable_sender(b"hello", NET), None);
        assert_eq!(readable_sender(&prefix(9, 7, [3; 32]), NET), None);
        assert_eq!(readable_sender(&prefix(TX_VERSION, 8, [3; 32]), NET), None);
    }

    #[test]
    fn a_truncated_transaction_names_its_sender() {
        let p = prefix(TX_VERSION, 7, [3; 32]);
        assert_eq!(readable_sender(&p, NET), Some(AccountId([3; 32])));
        let d = check(&p, NET).expect_err("truncated");
        assert_eq!(d.reason, "malformed");
        assert_eq!(d.sender, Some(AccountId([3; 32])));
    }

    #[test]
    fn an_oversized_payload_is_dropped_before_decoding() {
        let mut p = prefix(TX_VERSION, 7, [4; 32]);
        p.resize(TX_BYTES_MAX + 1, 0);
        let d = check(&p, NET).expect_err("oversized");
        assert_eq!(d.reason, "oversized");
        assert_eq!(d.sender, Some(AccountId([4; 32])));
    }
}
