//! Submitting to a node: every way in passes the door (`crate::admission`)
//! and then the pipeline's ingress, whole or not at all; on a follower, the
//! leader's (`crate::lead`).

use std::sync::atomic::Ordering;
use std::time::Instant;

use ting_core::{Hash32, SignedTx};
use tokio::sync::oneshot;

use crate::admission::{Source, View};
use crate::node::Shared;
use crate::pipeline::{self, Outcome, SubmitError};

impl Shared {
    /// Admits `txs` in order from an in-process caller; each receiver yields
    /// its transaction's outcome.
    pub fn submit(
        &self,
        txs: Vec<SignedTx>,
    ) -> Result<Vec<oneshot::Receiver<Outcome>>, SubmitError> {
        self.submit_from(Source::Local, txs)
    }

    /// Admits `txs` in order from `source`; each receiver yields its
    /// transaction's outcome (at once for those refused at the door).
    pub fn submit_from(
        &self,
        source: Source,
        txs: Vec<SignedTx>,
    ) -> Result<Vec<oneshot::Receiver<Outcome>>, SubmitError> {
        let (replies, receivers): (Vec<_>, Vec<_>) = txs
            .iter()
            .map(|_| {
                let (tx, rx) = oneshot::channel();
                (Some(tx), rx)
            })
            .unzip();
        self.submit_with_from(source, txs, replies)?;
        Ok(receivers)
    }

    /// Admits `txs` with caller-made reply slots (`None` where nobody waits).
    pub fn submit_with(
        &self,
        txs: Vec<SignedTx>,
        replies: Vec<pipeline::Reply>,
    ) -> Result<(), SubmitError> {
        self.submit_with_from(Source::Local, txs, replies)
    }

    /// Screens `txs` at the door (`crate::admission`), answers those refused
    /// there, and admits the rest whole or not at all.
    pub fn submit_with_from(
        &self,
        source: Source,
        txs: Vec<SignedTx>,
        replies: Vec<pipeline::Reply>,
    ) -> Result<(), SubmitError> {
        for (refusal, reply) in self.submit_screened(source, txs, replies)? {
            if let Some(reply) = reply {
                let _ = reply.send(Outcome::Refused(refusal));
            }
        }
        Ok(())
    }

    /// Screens `txs` at the door and admits the rest whole or not at all;
    /// returns the door's refusals with their reply slots, unanswered, for
    /// callers that answer them their own way.
    pub fn submit_screened(
        &self,
        source: Source,
        txs: Vec<SignedTx>,
        replies: Vec<pipeline::Reply>,
    ) -> Result<Vec<(pipeline::Refusal, pipeline::Reply)>, SubmitError> {
        assert_eq!(txs.len(), replies.len(), "one reply slot per transaction");
        let answers = {
            let state = self.state.read().expect("state lock");
            let view = View {
                genesis: &self.genesis_hash,
                state: &state,
            };
            self.admission.screen(source, &txs, &view, Instant::now())
        };
        let mut admit = Vec::with_capacity(txs.len());
        let mut admit_replies = Vec::with_capacity(txs.len());
        let mut refused = Vec::new();
        for ((tx, reply), answer) in txs.into_iter().zip(replies).zip(answers) {
            match answer {
                None => {
                    admit.push(tx);
                    admit_replies.push(reply);
                }
                Some(refusal) => {
                    self.metrics.refused(refusal.code);
                    refused.push((refusal, reply));
                }
            }
        }
        if admit.is_empty() {
            return Ok(refused);
        }
        let n = admit.len() as u64;
        let hashes: Vec<Hash32> = admit.iter().map(SignedTx::hash).collect();
        let admitted = match &self.forward {
            Some(forward) if !self.roles.sequences() => {
                forward.forward(source, admit, admit_replies)
            }
            _ => self.ingress.submit(source, admit, admit_replies),
        };
        match admitted {
            Ok(()) => {
                self.metrics.txs_submitted.fetch_add(n, Ordering::Relaxed);
                Ok(refused)
            }
            Err(e) => {
                for hash in &hashes {
                    self.admission.leave(hash);
                }
                self.metrics.busy.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}
