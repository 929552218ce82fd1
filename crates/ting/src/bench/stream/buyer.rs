//! The buyer device's task: every chunk, key grant and refusal from the
//! device handed to `Buyer`, and every point it opens counted and timed.
//!
//! A point counts once `Buyer` opened it: its chunk carried the seller's
//! signature and continued the points already checked, and the key that
//! opened it was paid for through the channel. Opened from a chunk, the
//! point found its epoch's key already bought; opened from a grant, it
//! waited for the key (the buyer asks when it sees an epoch's first chunk).
//! A point's value is when it was read (µs since the benchmark's origin),
//! so its latency is the time from that to now, taken as `Buyer` answers it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::bail;
use ting_agent::stream::{Bought, Buyer, BuyerStats};
use ting_agent::{Device, Message};
use ting_core::stream::point::PointValue;
use tokio::sync::watch;

use super::Shared;

/// What the buyer saw, at the end of the run.
#[derive(Debug, Default)]
pub(super) struct BuyerOut {
    pub stats: BuyerStats,
    /// Latencies (µs) of the timed points opened as their chunk arrived.
    pub on_arrival_us: Vec<u32>,
    /// Latencies (µs) of the timed points that waited for their epoch's key.
    pub key_waited_us: Vec<u32>,
    /// Points opened only once their key came, over the whole run.
    pub key_waited: u64,
    /// Points whose value was not a reading time (none should be).
    pub foreign: u64,
    /// Messages the device dropped because this task was slow, and
    /// envelopes it refused, by code (none should be).
    pub app_dropped: u64,
    pub refused: BTreeMap<&'static str, u64>,
    pub link: ting_agent::LinkStats,
    pub outbox_len: usize,
    /// From a verified chunk held for want of its epoch's key to the next
    /// grant that opened points, µs: about one per key bought.
    pub key_waits_us: Vec<u32>,
}

impl BuyerOut {
    fn take(&mut self, shared: &Shared, opened: &[Bought], waited: bool) {
        let now_us = shared.now_us();
        let n = opened.len() as u64;
        shared.opened.fetch_add(n, Ordering::Relaxed);
        if shared.counting.load(Ordering::Relaxed) {
            shared.counted.fetch_add(n, Ordering::Relaxed);
        }
        if waited {
            self.key_waited += n;
        }
        for b in opened {
            let PointValue::Number { value, .. } = b.point.value else {
                self.foreign += 1;
                continue;
            };
            let Ok(read_us) = u64::try_from(value) else {
                self.foreign += 1;
                continue;
            };
            if !shared.timed(read_us) {
                continue;
            }
            let us = u32::try_from(now_us.saturating_sub(read_us)).unwrap_or(u32::MAX);
            if waited {
                self.key_waited_us.push(us);
            } else {
                self.on_arrival_us.push(us);
            }
        }
    }
}

/// Runs the buyer until `stop`, then stops its device.
pub(super) async fn run(
    mut device: Device,
    mut buyer: Buyer,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<BuyerOut> {
    let mut out = BuyerOut::default();
    // Since when a verified chunk waits for its epoch's key.
    let mut held_since: Option<u64> = None;
    loop {
        let m = tokio::select! {
            m = device.recv() => m,
            _ = stop.changed() => break,
        };
        let chunks_before = buyer.stats().chunks;
        let (opened, waited) = match m {
            None => bail!("the buyer's device stopped"),
            Some(Message::Chunk { bytes, .. }) => (buyer.on_chunk(&device, &bytes).await?, false),
            Some(Message::KeyGrant { from, grant }) => {
                (buyer.on_grant(&device, from, &grant).await?, true)
            }
            Some(Message::KeyRefusal { from, refusal }) => {
                buyer.on_refusal(&device, from, &refusal).await?;
                continue;
            }
            Some(_) => continue,
        };
        out.take(&shared, &opened, waited);
        let verified = buyer.stats().chunks > chunks_before;
        match (waited, opened.is_empty(), held_since) {
            (false, true, None) if verified => held_since = Some(shared.now_us()),
            (true, false, Some(since)) => {
                let us = shared.now_us().saturating_sub(since);
                out.key_waits_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                held_since = None;
            }
            _ => {}
        }
        if let Some(at) = buyer.position() {
            shared.arrived.store(at.next_seq, Ordering::Relaxed);
            shared.progress.notify_one();
        }
    }
    out.stats = buyer.stats().clone();
    out.app_dropped = device.stats().app_dropped;
    out.refused = device.refused();
    out.link = device.stats();
    out.outbox_len = device.outbox_len();
    device.shutdown().await;
    Ok(out)
}
