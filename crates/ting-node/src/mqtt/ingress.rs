//! Transactions arriving on `ting/v1/tx`: checked, submitted to the same
//! pipeline as HTTP, and answered in the sender's inbox.
//!
//! Nothing here waits: a payload is decoded and admitted (or dropped) at once,
//! and each admitted transaction's outcome is awaited by a task of its own,
//! bounded by `MQTT_OUTCOMES_MAX` permits. A bad signature is found by the
//! pipeline's batch verifier (no second check here); the gateway reports it as a
//! dropped payload, not as a ledger refusal.
//!
//! The node writes to an inbox only for a sender whose signature verified
//! (docs/mqtt.md §5): a payload that does not decode, or whose signature
//! fails, names no one the node can believe, so it is counted and dropped in
//! silence. A decoded transaction that is not admitted (`wrong_network`,
//! `busy`, `shutting_down`) has its signature checked here before the sender
//! hears why.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ting_core::limits::TX_BYTES_MAX;
use ting_core::{AccountId, Hash32, SignedTx};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::notices::Notice;
use super::outbox::Outbox;
use crate::admission::Source;
use crate::landed::answer_resent;
use crate::node::Shared;
use crate::pipeline::Outcome;

/// A payload the gateway will not submit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// The `reason` label of `ting_mqtt_dropped_total`, also the error notice's code.
    pub reason: &'static str,
    /// The transaction, when the payload decoded: its sender hears of the
    /// drop if its signature verifies.
    pub tx: Option<Box<SignedTx>>,
    pub about: Hash32,
    pub message: String,
}

/// Decodes `payload` strictly and checks its network (its genesis hash).
pub(crate) fn check(payload: &[u8], genesis: &Hash32) -> Result<SignedTx, Dropped> {
    let about = || Hash32::digest(&[payload]);
    if payload.len() > TX_BYTES_MAX {
        return Err(Dropped {
            reason: "oversized",
            tx: None,
            about: about(),
            message: format!(
                "the payload is {} bytes; a transaction is at most {TX_BYTES_MAX}",
                payload.len()
            ),
        });
    }
    let tx = SignedTx::decode(payload).map_err(|e| Dropped {
        reason: "malformed",
        tx: None,
        about: about(),
        message: format!("the payload is not a transaction: {e}"),
    })?;
    if tx.genesis() != *genesis {
        return Err(Dropped {
            reason: "wrong_network",
            about: tx.hash(),
            message: format!(
                "the transaction is for the network of genesis {}, this node serves genesis {}",
                tx.genesis(),
                genesis
            ),
            tx: Some(Box::new(tx)),
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
        match check(payload, &self.shared.genesis_hash) {
            Ok(tx) => self.submit(tx),
            Err(d) => self.drop_payload(d),
        }
    }

    /// Counts a dropped payload, and tells its sender when its signature verifies.
    fn drop_payload(&self, d: Dropped) {
        self.shared.metrics.mqtt.dropped(d.reason);
        tracing::debug!(reason = d.reason, message = %d.message, "dropped an MQTT payload");
        let Some(tx) = d.tx else { return };
        let Ok(verified) = (*tx).verify() else { return };
        self.outbox.offer(Notice::Error {
            to: verified.sender(),
            about: d.about,
            code: d.reason,
            message: d.message,
        });
    }

    fn submit(&self, tx: SignedTx) {
        let (sender, hash) = (tx.sender(), tx.hash());
        let kept = tx.clone();
        let not_admitted = |reason, message| Dropped {
            reason,
            tx: Some(Box::new(kept)),
            about: hash,
            message,
        };
        let Ok(permit) = Arc::clone(&self.outcomes).try_acquire_owned() else {
            let msg = "too many transactions from MQTT are waiting for their blocks; retry shortly";
            return self.drop_payload(not_admitted("busy", msg.into()));
        };
        let (reply, rx) = oneshot::channel();
        let screened = self
            .shared
            .submit_screened(Source::Mqtt, vec![tx], vec![Some(reply)]);
        match screened {
            Err(e) => return self.drop_payload(not_admitted(e.code(), e.to_string())),
            Ok(refused) => {
                if let Some((refusal, _)) = refused.into_iter().next() {
                    return self.refused_at_door(refusal, not_admitted);
                }
            }
        }
        self.shared
            .metrics
            .mqtt
            .outcomes_waiting
            .fetch_add(1, Ordering::Relaxed);
        let gate = self.clone();
        tokio::spawn(async move { gate.answer(rx, sender, hash, permit).await });
    }

    /// A transaction the door refused before any signature check. Telling its
    /// sender would take that check, so it is done only for refusals the
    /// sender can act on (the network, the expiry, a nonce far ahead), never
    /// for a spent budget, a duplicate, an unknown sender or a remembered bad
    /// signature: those are counted and dropped.
    fn refused_at_door(
        &self,
        refusal: crate::pipeline::Refusal,
        not_admitted: impl FnOnce(&'static str, String) -> Dropped,
    ) {
        match refusal.code {
            "wrong_network" | "tx_expired" | "bad_nonce" => {
                self.drop_payload(not_admitted(refusal.code, refusal.message));
            }
            code => {
                self.shared.metrics.mqtt.dropped(code);
                tracing::debug!(code, tx = %refusal.tx_hash, "refused an MQTT transaction at the door");
            }
        }
    }

    /// Waits for one transaction's outcome and queues its notice.
    async fn answer(
        self,
        rx: oneshot::Receiver<Outcome>,
        to: AccountId,
        hash: Hash32,
        permit: OwnedSemaphorePermit,
    ) {
        let outcome = match rx.await {
            Ok(o) => Ok(answer_resent(&self.shared, o).await),
            Err(e) => Err(e),
        };
        let m = &self.shared.metrics.mqtt;
        m.outcomes_waiting.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        match outcome {
            Ok(Outcome::Committed(committed)) => {
                self.outbox.offer(Notice::Receipt { to, committed });
            }
            // The sender is not who it claims: counted, and no one is told.
            Ok(Outcome::Refused(r)) if r.code == "bad_signature" => {
                self.drop_payload(Dropped {
                    reason: "bad_signature",
                    tx: None,
                    about: hash,
                    message: r.message,
                });
            }
            // On a follower, the leader's "not now" (`already_pending`, `busy`,
            // `no_leader`, ...): dropped as the door drops its own, since the
            // device sends the transaction again when no answer comes.
            Ok(Outcome::Refused(r)) if r.is_transient() => {
                m.dropped(r.code);
                tracing::debug!(code = r.code, tx = %hash, "a forwarded MQTT transaction was not taken now");
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
    use ting_core::tx::TX_VERSION;

    const NET: Hash32 = Hash32([7; 32]);

    fn prefix(version: u8, genesis: [u8; 32], sender: [u8; 32]) -> Vec<u8> {
        let mut b = vec![version];
        b.extend_from_slice(&genesis);
        b.extend_from_slice(&sender);
        b
    }

    #[test]
    fn a_truncated_transaction_names_no_one() {
        let p = prefix(TX_VERSION, NET.0, [3; 32]);
        let d = check(&p, &NET).expect_err("truncated");
        assert_eq!(d.reason, "malformed");
        assert!(d.tx.is_none());
    }

    #[test]
    fn an_oversized_payload_is_dropped_before_decoding() {
        let mut p = prefix(TX_VERSION, NET.0, [4; 32]);
        p.resize(TX_BYTES_MAX + 1, 0);
        let d = check(&p, &NET).expect_err("oversized");
        assert_eq!(d.reason, "oversized");
        assert!(d.tx.is_none());
    }
}
