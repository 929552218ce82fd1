//! Sending transactions over HTTP (a device without a broker), and the
//! `bad_nonce` rule both links share (see the module docs of `device`).

use std::sync::Arc;

use ting_core::{Hash32, SignedTx};
use tokio::sync::watch;

use super::error::TxError;
use super::pending::{Confirmed, TxOutcome};
use super::Inner;
use crate::backoff::Backoff;
use crate::client::HttpError;
use crate::outbox::Item;

/// What the node said about a transaction whose nonce it called used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Final(TxOutcome),
    /// Not decided yet: keep it and ask again later.
    Undecided,
}

/// Applies the `bad_nonce` rule to `tx`.
pub(crate) async fn judge_bad_nonce(inner: &Inner, tx: &SignedTx, message: &str) -> Verdict {
    let hash = tx.hash();
    let check = match inner.http.nonce_check(tx).await {
        Ok(check) => check,
        Err(HttpError::Unproven(e)) => {
            inner.unproven(&e);
            return Verdict::Undecided;
        }
        Err(_) => return Verdict::Undecided,
    };
    if let Some(record) = check.found {
        return Verdict::Final(Ok(Confirmed {
            tx_hash: hash,
            height: record.receipt.header.height,
            index: record.receipt.proof.index,
        }));
    }
    let durable = check.durable_nonce;
    // A gap before it: one of this device's transactions may still fill it,
    // or the node asked is behind the one whose receipt the device holds.
    let gap_may_fill =
        inner.pending().holds_nonce_between(durable, tx.nonce()) || inner.landed_from(durable);
    if durable == tx.nonce() || (durable < tx.nonce() && gap_may_fill) {
        return Verdict::Undecided;
    }
    // Its nonce is used (or passed): it can never apply.
    Verdict::Final(Err(TxError::Refused {
        tx_hash: hash,
        code: "bad_nonce".into(),
        message: message.to_owned(),
        until: None,
    }))
}

/// Records a final outcome. A refusal makes the device learn its nonce again
/// (so its next transaction reuses the refused one's nonce); a commit uses
/// its nonce for good, so a channel open refused with that nonce can never
/// apply and its payer file goes. The waiter hears last, once the device's
/// state agrees with the outcome: a caller that queues again at once gets
/// the right nonce.
pub(crate) async fn settle(inner: &Inner, hash: &Hash32, outcome: TxOutcome) {
    let taken = match inner.pending().take(hash) {
        Ok(Some(taken)) => taken,
        Ok(None) => return,
        Err(e) => {
            // The outbox could not record it; the entry stays and is answered again.
            eprintln!("ting-agent: the outbox could not record an outcome: {e}");
            return;
        }
    };
    if outcome.is_err() {
        inner.forget_nonce().await;
    } else {
        inner.nonce_used(taken.nonce);
    }
    if let Some(waiter) = taken.waiter {
        // The caller may have stopped waiting; the outcome is still final.
        let _ = waiter.send(outcome);
    }
}

/// The oldest queued transaction, if any.
fn oldest_tx(inner: &Inner) -> Option<SignedTx> {
    let pending = inner.pending();
    let oldest = pending.outbox().entries().find_map(|(_, item)| match item {
        Item::Tx(bytes) => SignedTx::decode(bytes).ok(),
        Item::Envelope { .. } => None,
    });
    oldest
}

/// Posts queued transactions one at a time, oldest (lowest nonce) first.
pub(crate) async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new(inner.seed);
    let mut attempt = 0u32;
    while !*stop.borrow() {
        let Some(tx) = oldest_tx(&inner) else {
            tokio::select! {
                _ = inner.wake.notified() => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        let decided = post_once(&inner, &tx).await;
        if decided {
            attempt = 0;
            continue;
        }
        let delay = backoff.delay(attempt);
        attempt = attempt.saturating_add(1);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Posts `tx` and settles it if the answer is final; `false` to retry later.
async fn post_once(inner: &Inner, tx: &SignedTx) -> bool {
    let hash = tx.hash();
    inner.stats().published += 1;
    // The device's client is verifying: a commit comes back only with a
    // receipt that checks against the genesis sequencers.
    let outcome = match inner.http.submit(tx).await {
        Ok(c) => Ok(Confirmed {
            tx_hash: hash,
            height: c.height,
            index: c.index,
        }),
        Err(HttpError::Unproven(e)) => {
            // No commit: the transaction stays queued and is asked about again.
            inner.unproven(&e);
            return false;
        }
        Err(HttpError::Api {
            code,
            message,
            status,
            ..
        }) if status.as_u16() == 422 => {
            if code == "bad_nonce" {
                match judge_bad_nonce(inner, tx, &message).await {
                    Verdict::Final(outcome) => outcome,
                    Verdict::Undecided => return false,
                }
            } else {
                Err(TxError::refused(tx, code, message))
            }
        }
        Err(_) => {
            inner.stats().failures += 1;
            return false;
        }
    };
    settle(inner, &hash, outcome).await;
    true
}
