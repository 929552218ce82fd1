//! The seller device's task: readings pushed into `Seller::push` flat out
//! or paced, key requests answered as they come, and the device's timer
//! (`Seller::tick`) while paced or idle.
//!
//! Flat out, the seller pushes a chunk's worth of readings at a time and
//! yields, so that its device's link (on the same one-thread runtime, as on
//! a device) publishes the chunk. It keeps at most `window` points pushed
//! and not yet in a chunk the buyer verified: an end-to-end window, like a
//! device's unanswered publishes, so that the link's queue (which drops the
//! oldest chunk past `STREAM_CHUNKS_QUEUED_MAX`) and the buyer's app queue
//! (`APP_QUEUE_MAX`) never overflow. Paced, reading `k` is due at
//! `from + k / rate`; its value is that instant, so a seller that falls
//! behind shows in the latency rather than hiding it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use ting_agent::stream::{Seller, SellerStats};
use ting_agent::{Device, Message};
use ting_core::consent::filter::{Reading, Value};
use ting_core::Timestamp;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::super::now_ms;
use super::market::FIELD;
use super::{Mode, Shared};

/// The device's timer: closes aggregation windows and publishes the open
/// chunk, so that no point waits longer than this for its chunk to fill.
const TICK: Duration = Duration::from_millis(10);
/// How often a paced seller looks at the clock (tokio's timer resolution).
const PACE_STEP: Duration = Duration::from_millis(1);
/// Chunks' worth of readings a paced seller pushes before it yields.
const PACE_BURST_CHUNKS: usize = 4;

/// What the seller did, at the end of the run.
#[derive(Debug, Default)]
pub(super) struct SellerOut {
    pub stats: SellerStats,
    /// Chunks the device's link dropped (its queue was full): none should be.
    pub chunks_dropped: u64,
    /// Readings due in the timed half-load window.
    pub timed_readings: u64,
    /// Times the paced seller found the window full while readings were due.
    pub paced_held: u64,
    /// Time the flat-out seller waited for the buyer to catch up (the window full).
    pub flat_window_wait: Duration,
    /// Envelopes the device refused, by code, and messages it dropped
    /// because this task was slow (none should be).
    pub refused: BTreeMap<&'static str, u64>,
    pub app_dropped: u64,
    pub link: ting_agent::LinkStats,
    pub outbox_len: usize,
}

/// Runs the seller until `Mode::Stop`, then stops its device.
pub(super) async fn run(
    device: Device,
    seller: Seller,
    shared: Arc<Shared>,
    mode: watch::Receiver<Mode>,
    chunk_points: usize,
    window_points: u64,
) -> anyhow::Result<SellerOut> {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut task = Task {
        device,
        seller,
        shared,
        mode,
        tick,
        chunk_points,
        window_points,
        out: SellerOut::default(),
    };
    let (mut last, mut paced_sent) = (Mode::Idle, 0u64);
    loop {
        let now_mode = *task.mode.borrow_and_update();
        if now_mode != last {
            (last, paced_sent) = (now_mode, 0);
        }
        let go_on = match now_mode {
            Mode::Stop => false,
            Mode::Flat => task.flat().await?,
            Mode::Paced { per_s, from_us } => task.paced(per_s, from_us, &mut paced_sent).await?,
            Mode::Idle => task.idle().await?,
        };
        if !go_on {
            break;
        }
    }
    let Task {
        device,
        seller,
        mut out,
        ..
    } = task;
    out.stats = seller.stats().clone();
    out.chunks_dropped = device.chunks_dropped();
    out.refused = device.refused();
    out.app_dropped = device.stats().app_dropped;
    out.link = device.stats();
    out.outbox_len = device.outbox_len();
    device.shutdown().await;
    Ok(out)
}

/// The seller's task; each step answers whether to go on.
struct Task {
    device: Device,
    seller: Seller,
    shared: Arc<Shared>,
    mode: watch::Receiver<Mode>,
    tick: tokio::time::Interval,
    chunk_points: usize,
    window_points: u64,
    out: SellerOut,
}

impl Task {
    /// Whether the window has room for another point.
    fn room(&self) -> bool {
        let arrived = self.shared.arrived.load(Ordering::Relaxed);
        self.seller.next_seq().saturating_sub(arrived) < self.window_points
    }

    /// A chunk's worth of readings, if the window has room and no message waits.
    async fn flat(&mut self) -> anyhow::Result<bool> {
        if let Some(m) = try_recv(&mut self.device).await {
            on_message(&self.device, &mut self.seller, m).await?;
            return Ok(true);
        }
        if self.room() {
            for _ in 0..self.chunk_points {
                push(&self.device, &mut self.seller, self.shared.now_us())?;
            }
            let next = self.seller.next_seq();
            self.shared.pushed.store(next, Ordering::Relaxed);
            tokio::task::yield_now().await;
            return Ok(true);
        }
        let waiting = std::time::Instant::now();
        tokio::select! {
            m = self.device.recv() => on_message(&self.device, &mut self.seller, m).await?,
            _ = self.shared.progress.notified() => {}
            changed = self.mode.changed() => if changed.is_err() { return Ok(false) },
        }
        self.out.flat_window_wait += waiting.elapsed();
        Ok(true)
    }

    /// A waiting message, or the readings due by now (a few chunks' worth
    /// at most), then a wait for a message, the tick or the next step of
    /// the clock.
    async fn paced(&mut self, per_s: u64, from_us: u64, sent: &mut u64) -> anyhow::Result<bool> {
        // A seller behind its schedule still answers key requests first.
        if let Some(m) = try_recv(&mut self.device).await {
            on_message(&self.device, &mut self.seller, m).await?;
            return Ok(true);
        }
        let due = due_readings(self.shared.now_us(), from_us, per_s);
        let mut burst = 0;
        while *sent < due && burst < PACE_BURST_CHUNKS * self.chunk_points {
            if !self.room() {
                self.out.paced_held += 1;
                break;
            }
            let read_us = reading_time_us(from_us, per_s, *sent);
            if self.shared.timed(read_us) {
                self.out.timed_readings += 1;
            }
            push(&self.device, &mut self.seller, read_us)?;
            (*sent, burst) = (*sent + 1, burst + 1);
        }
        let next = self.seller.next_seq();
        self.shared.pushed.store(next, Ordering::Relaxed);
        if burst > 0 && *sent < due {
            tokio::task::yield_now().await;
            return Ok(true);
        }
        tokio::select! {
            m = self.device.recv() => on_message(&self.device, &mut self.seller, m).await?,
            _ = self.tick.tick() => { self.seller.tick(&self.device, Timestamp(now_ms()))?; }
            _ = tokio::time::sleep(PACE_STEP) => {}
            changed = self.mode.changed() => if changed.is_err() { return Ok(false) },
        }
        Ok(true)
    }

    /// Answers messages and ticks, so that the open chunk goes out.
    async fn idle(&mut self) -> anyhow::Result<bool> {
        tokio::select! {
            m = self.device.recv() => on_message(&self.device, &mut self.seller, m).await?,
            _ = self.tick.tick() => {
                self.seller.tick(&self.device, Timestamp(now_ms()))?;
                let next = self.seller.next_seq();
                self.shared.pushed.store(next, Ordering::Relaxed);
            }
            changed = self.mode.changed() => if changed.is_err() { return Ok(false) },
        }
        Ok(true)
    }
}

/// Readings due at `now_us` in a paced run of `per_s` readings a second
/// that began at `from_us`: those whose time (`reading_time_us`) is not
/// later, reading 0 at the start.
pub(super) fn due_readings(now_us: u64, from_us: u64, per_s: u64) -> u64 {
    let elapsed_us = u128::from(now_us.saturating_sub(from_us));
    let due = elapsed_us * u128::from(per_s) / 1_000_000;
    u64::try_from(due).unwrap_or(u64::MAX).saturating_add(1)
}

/// When reading `k` of that run is taken: the first microsecond at which
/// `due_readings` counts it.
pub(super) fn reading_time_us(from_us: u64, per_s: u64, k: u64) -> u64 {
    let offset = (u128::from(k) * 1_000_000).div_ceil(u128::from(per_s.max(1)));
    from_us.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX))
}

/// One reading whose value is when it was read, µs since the origin.
fn push(device: &Device, seller: &mut Seller, read_us: u64) -> anyhow::Result<()> {
    let reading = Reading {
        field: FIELD,
        value: Value::Number(i64::try_from(read_us)?),
        at: Timestamp(now_ms()),
    };
    seller.push(device, reading)?;
    Ok(())
}

/// The device's next message if one is waiting (`Some(None)`: it stopped).
async fn try_recv(device: &mut Device) -> Option<Option<Message>> {
    tokio::select! {
        biased;
        m = device.recv() => Some(m),
        () = std::future::ready(()) => None,
    }
}

async fn on_message(
    device: &Device,
    seller: &mut Seller,
    m: Option<Message>,
) -> anyhow::Result<()> {
    match m {
        None => bail!("the seller's device stopped"),
        Some(Message::KeyRequest { from, request }) => {
            seller.answer(device, from, &request).await?;
        }
        Some(Message::Delivery { from, note }) => seller.on_delivery(from, &note),
        Some(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_readings_fall_due_at_the_rate_and_carry_their_due_time() {
        assert_eq!(
            due_readings(1_000, 1_000, 20_000),
            1,
            "reading 0 at the start"
        );
        assert_eq!(due_readings(1_000 + 1_000_000, 1_000, 20_000), 20_001);
        assert_eq!(due_readings(1_000 + 499, 1_000, 2_000), 1);
        assert_eq!(due_readings(1_000 + 500, 1_000, 2_000), 2);
        assert_eq!(reading_time_us(1_000, 20_000, 0), 1_000);
        assert_eq!(reading_time_us(1_000, 20_000, 20_000), 1_001_000);
        for k in 1..3_000 {
            let at = reading_time_us(7, 3_001, k);
            assert_eq!(
                due_readings(at, 7, 3_001),
                k + 1,
                "reading {k} is due at its time"
            );
            assert_eq!(due_readings(at - 1, 7, 3_001), k, "and not before");
        }
    }
}
