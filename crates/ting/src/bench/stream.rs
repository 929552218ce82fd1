//! `ting bench stream`: a data stream sold end to end through the node's
//! embedded broker (issue 13), beside that broker's raw rate in the same run.
//!
//! One process holds a node with its embedded broker and HTTP API on free
//! ports, and two real devices (`ting_agent::Device`), each on a one-thread
//! runtime of its own as on a device: a seller whose owner registered it and
//! signed a consent record naming the buyer, and a buyer with a channel to
//! it (`market`). The seller pushes readings through `Seller::push` (the
//! consent filter, a point sealed under its epoch's key and logged, a chunk
//! signed and its log synced every `--chunk-points` points); the buyer hands
//! every chunk and key grant to `Buyer` (the seller's signature checked once
//! per chunk, a hash per point, each epoch's key bought through the channel
//! when its first chunk arrives, every point opened and logged, the log
//! synced once per chunk). One after another:
//!
//! - **raw** (`raw`): the broker alone, one device-like client publishing
//!   QoS 1 payloads of one sealed point's size to another's inbox.
//! - **peak**: the seller pushes readings as fast as it can, at most a window
//!   of points ahead of the buyer; the rate is points the buyer opened.
//! - **half load**: readings paced at half the peak rate; each point's value
//!   is when it was read, so the buyer times it from the reading to its
//!   opened, verified, paid point.
//!
//! Everything shares this machine's cores, so the ratio to the raw rate,
//! not the absolute rate, is the figure to compare between machines.

use super::served::{on, runtime};

mod buyer;
mod market;
mod raw;
mod report;
mod seller;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use clap::Args;
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};

use super::mqtt::session::Broker;
use super::stats::{MachineCpu, ThreadCpu};
use super::TempDir;
use market::{Keys, Net};
use report::{Figures, Report, Sizes};

/// Warm-up before each measured window.
const WARM_UP: Duration = Duration::from_secs(1);
/// Chunks' worth of points the seller keeps ahead of the buyer: enough to
/// keep the link's 32 publishes in flight, well within the buyer's app
/// queue (256 messages) and the link's chunk queue (4,096).
const WINDOW_CHUNKS: u64 = 64;
/// How long the pipeline may take to empty between runs.
const DRAIN_WAIT: Duration = Duration::from_secs(10);
/// Issue 13's targets: points at least half the broker's raw rate at one
/// point's size, and a half-load p99 from reading to opened point under 50 ms.
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_MS: f64 = 50.0;

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Length of the measured peak window (and of the raw broker run), after a one-second warm-up.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Length of the measured window of the paced run at half the peak rate.
    #[arg(long, default_value_t = 5)]
    pub half_seconds: u64,
    /// Points per chunk, 1 to 256: one signature, one log sync on each side
    /// and one MQTT publish per chunk.
    #[arg(long, default_value_t = 64)]
    pub chunk_points: usize,
    /// Points per epoch: the buyer buys one key per epoch. A buyer can buy
    /// at most 128 epochs from one seller in five minutes (see BENCHMARKS.md).
    #[arg(long, default_value_t = 100_000)]
    pub epoch_points: u32,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// What the seller does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Only answers key requests and ticks, so the open chunk goes out.
    Idle,
    /// Pushes readings as fast as it can.
    Flat,
    /// Pushes `per_s` readings a second from `from_us` (µs since the origin).
    Paced {
        per_s: u64,
        from_us: u64,
    },
    Stop,
}

/// What the seller, the buyer and the benchmark share.
#[derive(Debug)]
pub(super) struct Shared {
    /// Readings carry the microseconds since this instant as their value.
    origin: Instant,
    /// The seller's next point number: every point before it was pushed.
    pushed: AtomicU64,
    /// The buyer's next expected point number: every point before it is in a
    /// chunk it verified.
    arrived: AtomicU64,
    /// Rung when `arrived` moves.
    progress: Notify,
    /// Points the buyer opened, in all.
    opened: AtomicU64,
    /// Points opened while `counting`.
    counting: AtomicBool,
    counted: AtomicU64,
    /// The timed readings: read in `[timed_from_us, timed_to_us)`.
    timed_from_us: AtomicU64,
    timed_to_us: AtomicU64,
}

/// Points counted over a measured window.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rate {
    pub count: u64,
    pub seconds: f64,
}

impl Rate {
    pub fn per_s(self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }
}

impl Shared {
    fn new() -> Shared {
        Shared {
            origin: Instant::now(),
            pushed: AtomicU64::new(0),
            arrived: AtomicU64::new(0),
            progress: Notify::new(),
            opened: AtomicU64::new(0),
            counting: AtomicBool::new(false),
            counted: AtomicU64::new(0),
            timed_from_us: AtomicU64::new(u64::MAX),
            timed_to_us: AtomicU64::new(0),
        }
    }

    /// Microseconds since the origin.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether a point read at `read_us` is timed.
    pub fn timed(&self, read_us: u64) -> bool {
        let from = self.timed_from_us.load(Ordering::Relaxed);
        read_us >= from && read_us < self.timed_to_us.load(Ordering::Relaxed)
    }

    /// Counts the points opened over `window`.
    async fn count(&self, window: Duration) -> Rate {
        self.counted.store(0, Ordering::Relaxed);
        self.counting.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(window).await;
        self.counting.store(false, Ordering::Relaxed);
        Rate {
            count: self.counted.load(Ordering::Relaxed),
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Lets the seller idle (its tick sends the open chunk) and waits until
    /// the buyer opened every point pushed; false if it did not in time.
    async fn drain(&self, mode: &watch::Sender<Mode>) -> bool {
        mode.send_replace(Mode::Idle);
        let deadline = Instant::now() + DRAIN_WAIT;
        // Two of the seller's ticks: the open chunk is out and `pushed` final.
        tokio::time::sleep(Duration::from_millis(30)).await;
        while self.opened.load(Ordering::Relaxed) < self.pushed.load(Ordering::Relaxed) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Points pushed that the buyer has not opened.
    fn unopened(&self) -> u64 {
        let pushed = self.pushed.load(Ordering::Relaxed);
        pushed.saturating_sub(self.opened.load(Ordering::Relaxed))
    }
}

pub fn run(args: &StreamArgs) -> anyhow::Result<()> {
    ensure!(args.seconds >= 1, "--seconds must be at least 1");
    ensure!(args.half_seconds >= 1, "--half-seconds must be at least 1");
    ensure!(
        (1..=ting_core::limits::CHUNK_POINTS_MAX).contains(&args.chunk_points),
        "--chunk-points must be 1 to {}",
        ting_core::limits::CHUNK_POINTS_MAX
    );
    ensure!(
        (1..=ting_core::limits::EPOCH_POINTS_MAX).contains(&args.epoch_points),
        "--epoch-points must be 1 to {}",
        ting_core::limits::EPOCH_POINTS_MAX
    );
    // The node's gateway and HTTP API on two workers, as `bench mqtt` runs
    // them (the embedded broker runs on threads of its own); each device on
    // one thread of its own.
    let main_rt = runtime("stream-gateway", 2)?;
    let seller_rt = runtime("stream-seller", 1)?;
    let buyer_rt = runtime("stream-buyer", 1)?;
    let dir = TempDir::new("stream")?;
    let keys = Keys::new();
    let node = market::node(&dir.path().join("node"), &keys)?;
    let net = match main_rt.block_on(market::serve(&node, &keys)) {
        Ok(net) => net,
        Err(e) => {
            node.shutdown();
            return Err(e);
        }
    };
    let handles = (seller_rt.handle(), buyer_rt.handle());
    let result = main_rt.block_on(measure(args, &keys, &net, dir.path(), handles));
    let Net {
        gateway, http_stop, ..
    } = net;
    let _ = http_stop.send(());
    main_rt.block_on(gateway.shutdown());
    node.shutdown();
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

/// Sets up the market, runs the three windows, and stops the devices.
async fn measure(
    args: &StreamArgs,
    keys: &Keys,
    net: &Net,
    dir: &std::path::Path,
    (seller_rt, buyer_rt): (&Handle, &Handle),
) -> anyhow::Result<Report> {
    let owner_cfg = market::device_config(net, &keys.owner, dir.join("owner"));
    let owner = market::start_device(owner_cfg).await?;
    market::register(&owner, keys, &net.genesis_hash).await?;
    owner.shutdown().await;
    let consent = market::consent(keys, &net.genesis_hash)?;
    let terms = market::terms(&consent, args.epoch_points);
    let cfg = market::device_config(net, &keys.seller, dir.join("seller"));
    let open = market::open_seller(cfg, terms, consent, args.chunk_points);
    let (seller_dev, seller) = on(seller_rt, open).await?;
    let stream = *seller.stream();
    let cfg = market::device_config(net, &keys.buyer, dir.join("buyer"));
    let open = market::open_channel(cfg, keys.seller.account());
    let (buyer_dev, channel) = on(buyer_rt, open).await?;
    let seller_dev = on(seller_rt, market::accept(seller_dev, channel)).await?;
    let open = market::open_buyer(buyer_dev, stream, channel);
    let (buyer_dev, buyer) = on(buyer_rt, open).await?;

    let sizes = Sizes::of(args.chunk_points);
    let broker_url = format!("mqtt://127.0.0.1:{}", net.broker_port);
    eprintln!(
        "ting bench stream: broker {broker_url} (embedded rmqtt), chunks of {} points, epochs of {}, {} s windows",
        args.chunk_points, args.epoch_points, args.seconds
    );
    let shared = Arc::new(Shared::new());
    let (mode, mode_rx) = watch::channel(Mode::Idle);
    let (stop, stop_rx) = watch::channel(false);
    let window_points = WINDOW_CHUNKS * args.chunk_points as u64;
    let seller_task = seller_rt.spawn(seller::run(
        seller_dev,
        seller,
        Arc::clone(&shared),
        mode_rx,
        args.chunk_points,
        window_points,
    ));
    let buyer_task = buyer_rt.spawn(buyer::run(buyer_dev, buyer, Arc::clone(&shared), stop_rx));
    let broker = Broker {
        host: "127.0.0.1".into(),
        port: net.broker_port,
        genesis_hash: net.genesis_hash,
        tls: None,
    };
    let devices = (seller_rt, buyer_rt);
    let figures = windows(args, &broker, &shared, &mode, devices, sizes.sealed_point).await;
    let unopened = shared.unopened();
    mode.send_replace(Mode::Stop);
    stop.send_replace(true);
    let seller_out = seller_task.await.context("the seller's task panicked")??;
    let buyer_out = buyer_task.await.context("the buyer's task panicked")??;
    Ok(Report {
        broker: broker_url,
        chunk_points: args.chunk_points,
        epoch_points: args.epoch_points,
        window_points,
        sizes,
        figures: figures?,
        unopened,
        seller: seller_out,
        buyer: buyer_out,
    })
}

/// The raw run, the peak and the half-load run, one after another.
async fn windows(
    args: &StreamArgs,
    broker: &Broker,
    shared: &Shared,
    mode: &watch::Sender<Mode>,
    (seller_rt, buyer_rt): (&Handle, &Handle),
    sealed_point: usize,
) -> anyhow::Result<Figures> {
    let window = Duration::from_secs(args.seconds);
    let raw_per_s = raw::raw_rate(broker, seller_rt, buyer_rt, sealed_point, window).await?;

    mode.send_replace(Mode::Flat);
    tokio::time::sleep(WARM_UP).await;
    let (threads, machine) = (ThreadCpu::read(), MachineCpu::read());
    let peak = shared.count(window).await;
    let peak_cores = threads.cores_since(&ThreadCpu::read(), peak.seconds);
    let (_, other_cores, _) = machine.split_since(&MachineCpu::read());
    let peak_drained = shared.drain(mode).await;
    ensure!(
        peak.count > 0,
        "the buyer opened no point in the peak window"
    );

    // Half the peak, at least one a second: far within u64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let per_s = (peak.per_s() / 2.0).round().max(1.0) as u64;
    let from_us = shared.now_us();
    let timed_from = from_us.saturating_add(micros(WARM_UP));
    let timed_to = timed_from.saturating_add(args.half_seconds.saturating_mul(1_000_000));
    shared.timed_from_us.store(timed_from, Ordering::Relaxed);
    shared.timed_to_us.store(timed_to, Ordering::Relaxed);
    mode.send_replace(Mode::Paced { per_s, from_us });
    tokio::time::sleep(WARM_UP).await;
    let half = shared.count(Duration::from_secs(args.half_seconds)).await;
    let half_drained = shared.drain(mode).await;
    Ok(Figures {
        raw_per_s,
        peak,
        peak_cores,
        other_cores,
        half_per_s_target: per_s,
        half,
        drained: peak_drained && half_drained,
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
