//! The contracts' ceiling in the same run: each buyer runs bare contracts
//! back to back on the first device of its pool, each one proposal window
//! of waiting and then three plain transfers through the node over MQTT,
//! one after the other, each to its durable receipt (`Device::submit`):
//! the window and the three transactions a contract has on its path
//! (`hold_create`, `hold_accept`, `hold_release`), with nothing of the
//! market around them. The contracts' rate over this rate says what the
//! market's protocol costs beyond the ledger and the window.

use std::time::{Duration, Instant};

use anyhow::Context;
use ting_agent::Device;
use ting_core::{AccountId, Amount, TxKind};
use tokio::runtime::Handle;
use tokio::sync::watch;

use super::super::stats::Latency;
use super::contracts::{micros, Done, Parties};
use super::WARM_UP;

/// Transactions on a contract's path.
pub(super) const CONTRACT_TXS: usize = 3;

/// What the ceiling run measured.
#[derive(Debug)]
pub(super) struct Ceiling {
    pub count: u64,
    pub seconds: f64,
    /// From the start of the wait to the third receipt.
    pub latency: Latency,
    /// One transfer, queued to its receipt.
    pub round_trip: Latency,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Ceiling {
    pub fn per_s(&self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }
}

/// What one buyer's bare contracts did.
#[derive(Debug, Default)]
struct BareOut {
    done: Vec<Done>,
    round_trips: Vec<(Instant, u32)>,
    errors: u64,
    first_error: Option<String>,
}

/// Bare contracts by every buyer for a warm-up and the window.
pub(super) async fn run(mut parties: Parties, rt: &Handle) -> anyhow::Result<(Parties, Ceiling)> {
    let window = parties.setup.window;
    let payees: Vec<AccountId> = parties
        .providers
        .iter()
        .map(|p| p.device.account())
        .collect();
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for (i, slot) in parties.slots.drain(..).enumerate() {
        let to = payees[i % payees.len()];
        let stopped = stopped.clone();
        tasks.push(rt.spawn(async move {
            let device = &slot.pool[0].device;
            let out = bare_contracts(device, to, window, stopped).await;
            (slot, out)
        }));
    }
    tokio::time::sleep(WARM_UP).await;
    let w0 = Instant::now();
    tokio::time::sleep(parties.setup.seconds).await;
    let w1 = Instant::now();
    stop.send_replace(true);
    let mut outs = Vec::new();
    for t in tasks {
        let (slot, out) = t.await.context("a buyer's task panicked")?;
        parties.slots.push(slot);
        outs.push(out);
    }
    let inside = |at: Instant| at >= w0 && at < w1;
    let done: Vec<Done> = outs
        .iter()
        .flat_map(|o| o.done.iter().copied())
        .filter(|d| inside(d.ended))
        .collect();
    let round_trips = outs
        .iter()
        .flat_map(|o| o.round_trips.iter().copied())
        .filter(|(at, _)| inside(*at))
        .map(|(_, us)| us)
        .collect();
    let ceiling = Ceiling {
        count: done.len() as u64,
        seconds: (w1 - w0).as_secs_f64(),
        latency: Latency::of(done.iter().map(|d| micros(d.ended - d.started)).collect()),
        round_trip: Latency::of(round_trips),
        errors: outs.iter().map(|o| o.errors).sum(),
        first_error: outs.iter().find_map(|o| o.first_error.clone()),
    };
    Ok((parties, ceiling))
}

/// Bare contracts back to back until `stop`; the one under way finishes.
async fn bare_contracts(
    device: &Device,
    to: AccountId,
    window: Duration,
    stop: watch::Receiver<bool>,
) -> BareOut {
    let mut out = BareOut::default();
    'contracts: while !*stop.borrow() {
        let started = Instant::now();
        tokio::time::sleep(window).await;
        for _ in 0..CONTRACT_TXS {
            let sent = Instant::now();
            let transfer = TxKind::Transfer {
                to,
                amount: Amount::new(1),
                memo: Vec::new(),
            };
            if let Err(e) = device.submit(transfer).await {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| format!("{}: {e}", e.code()));
                continue 'contracts;
            }
            let at = Instant::now();
            out.round_trips.push((at, micros(at - sent)));
        }
        out.done.push(Done {
            started,
            ended: Instant::now(),
            seen_later: false,
        });
    }
    out
}
