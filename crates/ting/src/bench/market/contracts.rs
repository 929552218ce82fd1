//! The market's parties and the contracts run: every device started and
//! opened as a buyer or a provider, the buyers running contracts back to
//! back for a warm-up and a measured window while the providers answer,
//! and then the devices stopped.
//!
//! A contract counts in the window when its release's receipt came in it;
//! its latency is from its call to that receipt.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use ting_agent::market::provider::CALLS_PER_BUYER_PER_MIN;
use ting_agent::market::{Buyer, Policy, Provider, ProviderConfig};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};

use super::super::stats::{Latency, MachineCpu, ThreadCpu, ThreadUse};
use super::buyer::{PoolDevice, Slot, SlotOut};
use super::ceiling::{self, Ceiling};
use super::net::{self, DeviceKeys, Reach};
use super::provider::{pricing, ProviderOut, ProviderSide, Routes};
use super::{MarketArgs, WARM_UP};

/// The service every call asks for, and every provider serves.
pub(super) const CATEGORY: &str = "bench.service.fit";
/// What a call may cost at most, and what the providers ask: a base price
/// and a step per turn (`provider::pricing`).
pub(super) const PRICE_MAX: u64 = 1_000_000;
pub(super) const PRICE_BASE: u64 = 10_000;
pub(super) const PRICE_STEP: u64 = 100;
/// When the service is due: a call gives an hour, a provider promises half.
pub(super) const DELIVER_WITHIN_MS: u64 = 3_600_000;
pub(super) const DELIVER_IN_MS: u64 = 1_800_000;
/// How long the providers go on after the buyers stopped, so that the
/// evidence the last contracts passed on reaches them.
const PROVIDER_DRAIN: Duration = Duration::from_millis(500);
/// How long a provider's call subscription may take to be acknowledged.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(10);

/// What the devices' side of the run needs to know.
#[derive(Debug, Clone, Copy)]
pub(super) struct Setup {
    pub providers: usize,
    pub window: Duration,
    pub seconds: Duration,
}

/// A contract done: when its call went out and when its release's receipt came.
#[derive(Debug, Clone, Copy)]
pub(super) struct Done {
    pub started: Instant,
    pub ended: Instant,
    /// The ledger refused the buyer's own release, so the buyer saw the
    /// hold end only on its next look at it.
    pub seen_later: bool,
}

/// Devices per buyer: enough that none makes more than
/// `CALLS_PER_BUYER_PER_MIN` calls a minute, for a buyer that calls as
/// often as the window allows over the warm-up, the window and a last contract.
pub(super) fn pool_size(args: &MarketArgs) -> usize {
    let run_ms = (WARM_UP.as_secs() + args.seconds.max(1)).saturating_mul(1_000);
    // A device's count resets after a minute, so a run longer than one
    // uses each device again.
    let span_ms = run_ms.min(61_000);
    let calls = span_ms / args.window_ms.max(1) + 2;
    let per_device = u64::from(CALLS_PER_BUYER_PER_MIN);
    usize::try_from(calls.div_ceil(per_device)).unwrap_or(usize::MAX)
}

/// Every party of the market, between runs.
pub(super) struct Parties {
    pub setup: Setup,
    pub slots: Vec<Slot>,
    pub providers: Vec<ProviderSide>,
    pub routes: Routes,
    _dir: std::path::PathBuf,
}

impl Parties {
    pub fn buyer_devices(&self) -> usize {
        self.slots.iter().map(|s| s.pool.len()).sum()
    }

    /// Stops every device; what is queued stays in its outbox.
    pub async fn shutdown(self) {
        for slot in self.slots {
            for pd in slot.pool {
                pd.device.shutdown().await;
            }
        }
        for p in self.providers {
            p.device.shutdown().await;
        }
    }
}

/// Starts every device on the current runtime, opens the providers (and
/// waits until the broker acknowledged their call subscriptions) and the buyers.
pub(super) async fn start(
    setup: Setup,
    keys: DeviceKeys,
    reach: Reach,
    dir: std::path::PathBuf,
) -> anyhow::Result<Parties> {
    let mut providers = Vec::new();
    for (i, key) in keys.providers.into_iter().enumerate() {
        let device = net::start_device(&reach, key, dir.join(format!("provider-{i}"))).await?;
        let config = ProviderConfig {
            categories: vec![CATEGORY.into()],
            area: String::new(),
            offer: None,
        };
        let provider = Provider::open(&device, config, pricing(i, setup.providers))?;
        providers.push(ProviderSide { device, provider });
    }
    let mut slots = Vec::new();
    let mut routes = BTreeMap::new();
    for (b, pool_keys) in keys.buyers.into_iter().enumerate() {
        let (to_slot, service) = mpsc::unbounded_channel();
        let mut pool = Vec::new();
        for (d, key) in pool_keys.into_iter().enumerate() {
            let state = dir.join(format!("buyer-{b}-{d}"));
            let device = net::start_device(&reach, key, state).await?;
            let buyer = Buyer::open(&device, Policy::default())?;
            routes.insert(device.account(), to_slot.clone());
            pool.push(PoolDevice::new(device, buyer));
        }
        slots.push(Slot::new(pool, service));
    }
    let deadline = Instant::now() + SUBSCRIBE_WAIT;
    while !providers.iter().all(|p| p.device.streams_settled()) {
        ensure!(
            Instant::now() < deadline,
            "the providers' call subscriptions were not acknowledged in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(Parties {
        setup,
        slots,
        providers,
        routes: Arc::new(routes),
        _dir: dir,
    })
}

/// What the contracts run measured.
#[derive(Debug)]
pub(super) struct Contracts {
    pub count: u64,
    pub seconds: f64,
    pub latency: Latency,
    /// Over the contracts whose buyer's own release landed (or found the
    /// provider's already there).
    pub latency_released_at_once: Latency,
    pub buyers: Vec<SlotOut>,
    pub providers: Vec<ProviderOut>,
    /// Envelopes the buyers' devices refused, by code, and messages they dropped.
    pub buyer_refused: BTreeMap<&'static str, u64>,
    pub buyer_app_dropped: u64,
    pub provider_app_dropped: u64,
    /// Transactions the node refused from the start of the run to its end, by code.
    pub node_refused: BTreeMap<String, u64>,
    pub cores: Vec<ThreadUse>,
    pub other_cores: f64,
}

impl Contracts {
    pub fn per_s(&self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }
}

/// Both runs of the devices.
#[derive(Debug)]
pub(super) struct Measured {
    pub ceiling: Ceiling,
    pub contracts: Contracts,
    pub buyer_devices: usize,
}

/// The ceiling, then the contracts.
pub(super) async fn measure(
    parties: Parties,
    rt: &Handle,
    node: &ting_node::Shared,
) -> anyhow::Result<(Parties, Measured)> {
    let buyer_devices = parties.buyer_devices();
    let (parties, ceiling) = ceiling::run(parties, rt).await?;
    let (parties, contracts) = run(parties, rt, node).await?;
    Ok((
        parties,
        Measured {
            ceiling,
            contracts,
            buyer_devices,
        },
    ))
}

type SlotTask = tokio::task::JoinHandle<(Slot, SlotOut)>;
type ProviderTask = tokio::task::JoinHandle<(ProviderSide, ProviderOut)>;

/// The measured window: its ends, and where the cores went in it.
struct Window {
    from: Instant,
    to: Instant,
    cores: Vec<ThreadUse>,
    other_cores: f64,
}

/// The contracts run: providers first, then every buyer, a warm-up and the window.
async fn run(
    parties: Parties,
    rt: &Handle,
    node: &ting_node::Shared,
) -> anyhow::Result<(Parties, Contracts)> {
    let refused_before = node_refusals(node);
    let Parties {
        setup,
        slots,
        providers,
        routes,
        _dir,
    } = parties;
    let (stop_providers, providers_stopped) = watch::channel(false);
    let provider_tasks: Vec<ProviderTask> = providers
        .into_iter()
        .map(|mut p| {
            let (routes, stop) = (Arc::clone(&routes), providers_stopped.clone());
            rt.spawn(async move {
                let out = p.run(routes, stop).await;
                (p, out)
            })
        })
        .collect();
    let (stop_buyers, buyers_stopped) = watch::channel(false);
    let slot_tasks: Vec<SlotTask> = slots
        .into_iter()
        .map(|mut s| {
            let stop = buyers_stopped.clone();
            rt.spawn(async move {
                let out = s.run(setup.window, stop).await;
                (s, out)
            })
        })
        .collect();
    let window = window(setup.seconds).await;
    stop_buyers.send_replace(true);
    let (slots, buyers) = join(slot_tasks, "a buyer's").await?;
    tokio::time::sleep(PROVIDER_DRAIN).await;
    stop_providers.send_replace(true);
    let (providers, provider_outs) = join(provider_tasks, "a provider's").await?;
    let mut node_refused = node_refusals(node);
    for (code, n) in &mut node_refused {
        *n -= refused_before.get(code).copied().unwrap_or(0);
    }
    node_refused.retain(|_, n| *n > 0);
    let contracts = summary(
        window,
        &slots,
        buyers,
        &providers,
        provider_outs,
        node_refused,
    );
    let parties = Parties {
        setup,
        slots,
        providers,
        routes,
        _dir,
    };
    Ok((parties, contracts))
}

/// Waits out the warm-up, then measures a window of `seconds`.
async fn window(seconds: Duration) -> Window {
    tokio::time::sleep(WARM_UP).await;
    let (from, threads, machine) = (Instant::now(), ThreadCpu::read(), MachineCpu::read());
    tokio::time::sleep(seconds).await;
    let to = Instant::now();
    let cores = threads.cores_since(&ThreadCpu::read(), (to - from).as_secs_f64());
    let (_, other_cores, _) = machine.split_since(&MachineCpu::read());
    Window {
        from,
        to,
        cores,
        other_cores,
    }
}

/// The parties and what they did, back from their tasks.
async fn join<P, O>(
    tasks: Vec<tokio::task::JoinHandle<(P, O)>>,
    whose: &str,
) -> anyhow::Result<(Vec<P>, Vec<O>)> {
    let mut parties = Vec::with_capacity(tasks.len());
    let mut outs = Vec::with_capacity(tasks.len());
    for t in tasks {
        let (p, out) = t.await.with_context(|| format!("{whose} task panicked"))?;
        parties.push(p);
        outs.push(out);
    }
    Ok((parties, outs))
}

/// The contracts whose release came in the window, and what went wrong.
fn summary(
    w: Window,
    slots: &[Slot],
    buyers: Vec<SlotOut>,
    providers: &[ProviderSide],
    provider_outs: Vec<ProviderOut>,
    node_refused: BTreeMap<String, u64>,
) -> Contracts {
    let in_window: Vec<Done> = buyers
        .iter()
        .flat_map(|b| b.contracts.iter().copied())
        .filter(|d| d.ended >= w.from && d.ended < w.to)
        .collect();
    let latency_of = |at_once_only: bool| {
        let samples = in_window
            .iter()
            .filter(|d| !(at_once_only && d.seen_later))
            .map(|d| micros(d.ended - d.started));
        Latency::of(samples.collect())
    };
    let (buyer_refused, buyer_app_dropped) = troubles(slots);
    Contracts {
        count: in_window.len() as u64,
        seconds: (w.to - w.from).as_secs_f64(),
        latency: latency_of(false),
        latency_released_at_once: latency_of(true),
        buyers,
        providers: provider_outs,
        buyer_refused,
        buyer_app_dropped,
        provider_app_dropped: providers.iter().map(|p| p.device.stats().app_dropped).sum(),
        node_refused,
        cores: w.cores,
        other_cores: w.other_cores,
    }
}

/// Transactions the node refused so far, by code, from its metrics.
fn node_refusals(node: &ting_node::Shared) -> BTreeMap<String, u64> {
    let text = node.metrics.render(&ting_node::metrics::Gauges::default());
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("ting_txs_refused_total{code=\"")?;
            let (code, n) = rest.split_once("\"} ")?;
            Some((code.to_owned(), n.trim().parse().ok()?))
        })
        .collect()
}

fn troubles(slots: &[Slot]) -> (BTreeMap<&'static str, u64>, u64) {
    let mut refused = BTreeMap::new();
    let mut dropped = 0;
    for slot in slots {
        let (r, d) = super::buyer::device_troubles(&slot.pool);
        for (code, n) in r {
            *refused.entry(code).or_insert(0) += n;
        }
        dropped += d;
    }
    (refused, dropped)
}

/// A duration in µs, for `Latency`.
pub(super) fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
