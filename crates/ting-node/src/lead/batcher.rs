//! What a follower forwards, grouped into batches.
//!
//! Each submission used to be one request to the leader, and a device's
//! MQTT transaction is a submission of one: under load that is thousands of
//! requests a second, each held open until its block commits, and the
//! leader's limit on requests in flight from one address (64) caps what a
//! follower can forward. So transactions that passed this node's door and
//! its signature check wait here, in the order they came, and go out as
//! batches of up to [`FORWARD_BATCH_TXS_MAX`], with at most
//! [`FORWARDS_IN_FLIGHT_MAX`] batches in flight: what arrives while they are
//! out makes the next batch, as blocks are grouped into one commit. Nothing
//! waits for a batch to fill; a transaction alone goes at once.
//!
//! Bounded: [`FORWARD_QUEUE_TXS_MAX`] transactions between the door and an
//! answer's request; past it a submission is refused `busy`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ting_core::SignedTx;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::admission::Source;
use crate::pipeline::{Reply, SubmitError};

/// Most transactions in one forwarded batch.
pub const FORWARD_BATCH_TXS_MAX: usize = 1024;
/// Most forwarded batches waiting for the leader's answer at once.
pub const FORWARDS_IN_FLIGHT_MAX: usize = 16;
/// Most transactions waiting to be forwarded (verified or not yet).
pub const FORWARD_QUEUE_TXS_MAX: usize = 65_536;

/// One transaction to forward, where it came from, and who waits.
#[derive(Debug)]
pub(crate) struct Parcel {
    pub source: Source,
    pub tx: SignedTx,
    pub reply: Reply,
}

#[derive(Debug, Default)]
struct Queue {
    parcels: VecDeque<Parcel>,
    /// A task is taking batches out; pushing needs no other.
    dispatching: bool,
}

/// The queue of transactions to forward.
#[derive(Debug)]
pub(crate) struct Batcher {
    queue: Mutex<Queue>,
    in_flight: Arc<Semaphore>,
    /// Transactions reserved and not yet taken into a batch.
    queued: AtomicUsize,
}

impl Default for Batcher {
    fn default() -> Batcher {
        Batcher {
            queue: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(FORWARDS_IN_FLIGHT_MAX)),
            queued: AtomicUsize::new(0),
        }
    }
}

impl Batcher {
    /// Makes room for `n` transactions.
    ///
    /// # Errors
    /// `busy` when the queue has no room for all of them.
    pub fn reserve(&self, n: usize) -> Result<(), SubmitError> {
        let reserved = self.queued.fetch_add(n, Ordering::AcqRel);
        if reserved.saturating_add(n) > FORWARD_QUEUE_TXS_MAX {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(SubmitError::Busy {
                queued: reserved,
                max: FORWARD_QUEUE_TXS_MAX,
            });
        }
        Ok(())
    }

    /// Gives back room for `n` reserved transactions that will not be pushed.
    pub fn release(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
    }

    /// Queues `parcels` (reserved before); true when the caller must start a
    /// task that takes batches out ([`Batcher::next`]).
    #[must_use]
    pub fn push(&self, parcels: Vec<Parcel>) -> bool {
        let mut q = self.queue.lock().expect("forward queue lock");
        q.parcels.extend(parcels);
        let start = !q.dispatching && !q.parcels.is_empty();
        q.dispatching |= start;
        start
    }

    /// The next batch and its place among those in flight, once one is free;
    /// `None` when the queue is empty (the task taking batches then ends).
    pub async fn next(&self) -> Option<(Vec<Parcel>, OwnedSemaphorePermit)> {
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let mut q = self.queue.lock().expect("forward queue lock");
        if q.parcels.is_empty() {
            q.dispatching = false;
            return None;
        }
        let n = q.parcels.len().min(FORWARD_BATCH_TXS_MAX);
        let batch: Vec<Parcel> = q.parcels.drain(..n).collect();
        self.queued.fetch_sub(n, Ordering::AcqRel);
        Some((batch, permit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{Amount, Hash32, Keypair, Nonce, Timestamp, TxBody, TxKind};

    fn parcels(n: usize) -> Vec<Parcel> {
        let key = Keypair::from_seed([3; 32]);
        (0..n)
            .map(|i| Parcel {
                source: Source::Local,
                tx: TxBody {
                    genesis: Hash32([1; 32]),
                    valid_until: Timestamp(u64::MAX),
                    sender: key.account(),
                    nonce: Nonce(i as u64),
                    kind: TxKind::Transfer {
                        to: Keypair::from_seed([4; 32]).account(),
                        amount: Amount::new(1),
                        memo: Vec::new(),
                    },
                }
                .sign(&key),
                reply: None,
            })
            .collect()
    }

    #[tokio::test]
    async fn batches_keep_arrival_order_and_one_task_takes_them_until_empty() {
        let b = Batcher::default();
        let total = FORWARD_BATCH_TXS_MAX + 5;
        b.reserve(total).expect("room");
        assert!(b.push(parcels(total)), "the first push starts a task");
        assert!(!b.push(Vec::new()), "one task at a time");
        let (first, _p1) = b.next().await.expect("a batch");
        let (second, _p2) = b.next().await.expect("the rest");
        assert_eq!(first.len(), FORWARD_BATCH_TXS_MAX);
        assert_eq!(second.len(), 5);
        let nonces: Vec<u64> = first
            .iter()
            .chain(&second)
            .map(|p| p.tx.nonce().0)
            .collect();
        assert!(nonces.windows(2).all(|w| w[0] < w[1]), "arrival order");
        assert!(b.next().await.is_none(), "empty: the task ends");
        assert!(b.push(parcels(1)), "and the next push starts another");
    }

    #[test]
    fn a_full_queue_refuses_busy_and_room_comes_back() {
        let b = Batcher::default();
        b.reserve(FORWARD_QUEUE_TXS_MAX)
            .expect("room for the limit");
        let e = b.reserve(1).expect_err("full");
        assert_eq!(e.code(), "busy");
        b.release(1);
        b.reserve(1).expect("room again");
    }
}
