//! `ting bench devices`: how many devices one node holds, how fast they come
//! back after a restart, and what a transaction over MQTT costs the node
//! beside one over HTTP.
//!
//! One `ting node` process with its embedded broker serves; this process
//! plays the devices. Most are light sessions ([`light`]): they log in and
//! subscribe as a device does and then only keep their session alive. A few
//! dozen are full SDK devices ([`traffic`]) that carry the transactions,
//! check every receipt and keep their outboxes. In order:
//!
//! 1. **logins**: every light session connects at once, as after an outage;
//!    `logins_per_s` is sessions ÷ the time until all are up (the node
//!    admits logins at `--logins-per-s`).
//! 2. **hold**: all sessions stay up for `--hold-seconds`;
//!    `connected_devices` is the fewest seen up in that time, and
//!    `rss_kib_per_device` the node's memory growth over its memory with the
//!    SDK devices alone, per light session.
//! 3. **traffic**, with every session still held: the SDK devices saturate
//!    the node over MQTT (`mqtt_tx_per_s`), then the same node takes signed
//!    HTTP batches (`http_tx_per_s`); `mqtt_cpu_ratio` is the node's CPU per
//!    transaction over HTTP ÷ over MQTT. Then the SDK devices send at half
//!    the MQTT rate and `device_p99_ms` is their submit-to-checked-receipt
//!    latency.
//! 4. **storm**: the node is restarted (SIGTERM, start again); while it is
//!    down each SDK device queues transfers. `reconnect_storm_s` is from the
//!    restarted node serving until every session is back; then every queued
//!    transfer must be confirmed, and the sink's balance and the devices'
//!    nonces must equal the transfers confirmed (each applied exactly once).

mod http_load;
mod light;
mod node;
mod report;
mod traffic;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use ting_agent::Broker;
use ting_core::Keypair;
use tokio::sync::watch;

use super::stats::{Latency, ThreadCpu};
use super::workload::{keypair, par_map};
use light::{Light, Tally, Target};
use node::NodeProc;
use report::Report;
use rumqttc::tokio_rustls::TlsConnector;

/// Key purposes of the benchmark's accounts.
const LIGHT_KEYS: u8 = 0x73;
const SDK_KEYS: u8 = 0x74;
const HTTP_KEYS: u8 = 0x75;
/// Accounts the HTTP batches are sent from.
const HTTP_SENDERS: usize = 1_024;
/// Transfers each SDK device queues while the node is down.
const STORM_TXS_PER_DEVICE: usize = 4;
/// How long the devices have to settle what they queued during the storm.
const SETTLE_DEADLINE: Duration = Duration::from_secs(180);
/// The SDK devices' warm-up before a measured window.
const WARM_UP: Duration = Duration::from_millis(500);
/// How often the hold phase looks at the sessions.
const LOOK: Duration = Duration::from_millis(250);
/// The HTTP window's transfers are signed for this rate at most.
const HTTP_RATE_CEILING: f64 = 90_000.0;

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Light device sessions to hold.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub devices: u32,
    /// Full SDK devices carrying the transactions, beside the light sessions.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4_096))]
    pub sdk_devices: u32,
    /// Loopback source addresses the sessions come from (127.0.0.2 up).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=250))]
    pub sources: u8,
    /// How long every session is held.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub hold_seconds: u64,
    /// Each traffic window.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// The node's admission rate of logins (`ting node --mqtt-logins-per-s`).
    #[arg(long, default_value_t = ting_node::mqtt::limits::MQTT_LOGINS_PER_S, value_parser = clap::value_parser!(u32).range(1..))]
    pub logins_per_s: u32,
    /// The embedded broker over TLS (a self-signed certificate the sessions
    /// pin): logins and memory per session only, no SDK devices.
    #[arg(long)]
    pub tls: bool,
    /// Seeds the devices' backoff jitter.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DevicesArgs) -> anyhow::Result<()> {
    let report = measure(args)?;
    if args.json {
        println!("{}", report.json());
    } else {
        println!("{}", report.human());
    }
    if !report.problems.is_empty() {
        bail!("the run found problems: {}", report.problems.join("; "));
    }
    Ok(())
}

fn say(args: &DevicesArgs, what: impl AsRef<str>) {
    if !args.json {
        eprintln!("bench devices: {}", what.as_ref());
    }
}

fn measure(args: &DevicesArgs) -> anyhow::Result<Report> {
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3_600.0) {
        return Err(crate::failure::bad_input(
            "bad_seconds",
            format!(
                "--seconds {} is not a window of 0 to 3600 seconds",
                args.seconds
            ),
        ));
    }
    let files = ting_node::open_files::raise();
    let devices = args.devices as usize;
    let needed =
        (devices + args.sdk_devices as usize) as u64 + ting_node::open_files::OPEN_FILES_RESERVED;
    if files.now < needed {
        let fit = files
            .connections()
            .saturating_sub(u64::from(args.sdk_devices));
        return Err(crate::failure::bad_input(
            "too_many_open_files",
            format!(
                "this process may open {} files and {devices} devices need about {needed}: \
                 raise the limit (ulimit -n {needed}, LimitNOFILE=, or a container's \
                 --ulimit nofile; docs/operations.md), or run --devices {fit} or fewer",
                files.now
            ),
        ));
    }
    let mut report = Report::new(args);
    report.bench_files = files.now;
    say(args, format!("deriving {devices} device keys"));
    let bar = super::progress(devices as u64, "deriving device keys");
    let light_keys = par_map(devices, &bar, |i| keypair(LIGHT_KEYS, i as u64));
    bar.finish_and_clear();
    let sdk_keys: Vec<Keypair> = (0..args.sdk_devices)
        .map(|i| keypair(SDK_KEYS, u64::from(i)))
        .collect();
    let http_keys: Vec<Keypair> = (0..HTTP_SENDERS)
        .map(|i| keypair(HTTP_KEYS, i as u64))
        .collect();
    let funded: Vec<Keypair> = sdk_keys
        .iter()
        .chain(&http_keys)
        .map(|k| Keypair::from_seed(k.seed()))
        .collect();
    let net = node::network(&funded);
    let per_source =
        u32::try_from(devices.div_ceil(usize::from(args.sources)) + args.sdk_devices as usize + 16)
            .unwrap_or(u32::MAX);
    let tls_dir = super::TempDir::new("devices-tls")?;
    let server_tls = if args.tls {
        Some(
            ting_node::tls::ServerTls::dev(tls_dir.path())
                .context("the benchmark's certificate")?,
        )
    } else {
        None
    };
    let mut node = NodeProc::start(&net, args.logins_per_s, per_source, server_tls.as_ref())?;
    report.node_files = node.files_line();
    say(
        args,
        format!(
            "node serving, HTTP {} MQTT {}; {}",
            node.http, node.mqtt, report.node_files
        ),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-devices")
        .enable_all()
        .build()?;
    let node_url = format!("http://{}", node.http);
    let broker = Broker {
        host: node.mqtt.ip().to_string(),
        port: node.mqtt.port(),
        tls: false,
    };
    // Over TLS only the sessions are measured: the node's HTTP is HTTPS then,
    // and the transfers' figures are the plain run's.
    let fleet = if args.tls {
        None
    } else {
        Some(traffic::Fleet::start(
            &rt,
            &sdk_keys,
            &node_url,
            broker,
            &traffic::state_root(),
            args.seed,
        )?)
    };
    let sdk_connected = || fleet.as_ref().map_or(0, traffic::Fleet::connected);
    std::thread::sleep(Duration::from_secs(1));
    report.rss_base_kib = node.rss_kib()?;

    // 1. Logins.
    let target = Arc::new(Target {
        broker: node.mqtt,
        genesis: net.genesis_hash,
        sequencer: net.node_key.account(),
        clock: ting_agent::clock::NetworkClock::of(&net.genesis),
        tls: match &server_tls {
            Some(t) => Some(TlsConnector::from(Arc::new(
                ting_agent::TlsTrust::Pin(t.fingerprint).client_config()?,
            ))),
            None => None,
        },
    });
    let tally = Arc::new(Tally::default());
    let (stop, stopped) = watch::channel(false);
    say(
        args,
        format!(
            "{devices} light sessions logging in from {} source addresses",
            args.sources
        ),
    );
    let started = Instant::now();
    for (i, key) in light_keys.into_iter().enumerate() {
        let source = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            2 + u8::try_from(i % usize::from(args.sources)).expect("sources is a u8"),
        ));
        let light = Light {
            key,
            source,
            seed: args.seed.wrapping_mul(1_000_003).wrapping_add(i as u64),
        };
        rt.spawn(light::run(
            light,
            Arc::clone(&target),
            Arc::clone(&tally),
            stopped.clone(),
        ));
    }
    let login_deadline = Duration::from_secs(120) + Duration::from_secs_f64(devices as f64 / 500.0);
    report.logins_s = wait_all(&tally, devices, started, login_deadline).context("logging in")?;
    report.logins_per_s = devices as f64 / report.logins_s.max(1e-9);
    report.login_refusals = tally.refused.load(Ordering::Relaxed);
    say(args, format!("all {devices} logged in within {:.1} s ({:.0} /s; {} refusals over the admission rate)", report.logins_s, report.logins_per_s, report.login_refusals));

    // 2. Hold.
    say(
        args,
        format!("holding every session for {} s", args.hold_seconds),
    );
    let hold_end = Instant::now() + Duration::from_secs(args.hold_seconds);
    let mut fewest = usize::MAX;
    while Instant::now() < hold_end {
        fewest = fewest.min(tally.connected.load(Ordering::Relaxed) + sdk_connected());
        std::thread::sleep(LOOK);
    }
    fewest = fewest.min(tally.connected.load(Ordering::Relaxed) + sdk_connected());
    report.connected_devices = fewest;
    report.rss_hold_kib = node.rss_kib()?;
    report.dropped_in_hold = tally.dropped.load(Ordering::Relaxed);
    let Some(fleet) = fleet else {
        let _ = stop.send(true);
        drop(rt);
        node.stop()?;
        return Ok(report);
    };

    // 3. Traffic.
    say(
        args,
        format!(
            "{} SDK devices saturating the node over MQTT for {} s",
            fleet.len(),
            args.seconds
        ),
    );
    let (window, cpu) = with_cpu(
        &node,
        || fleet.saturate(&rt, WARM_UP, args.seconds),
        WARM_UP,
    );
    report.mqtt = window_figures(&window, &cpu);
    say(args, "signing the HTTP batches");
    // A rate times a window of seconds: a small positive count.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let expected = (HTTP_RATE_CEILING * args.seconds.max(0.0)) as usize;
    let mut batches = http_load::prepare(&http_keys, &net.genesis_hash, expected);
    // The first batches go at the MQTT window's rate, the rest as fast as
    // the node takes them.
    let equal_rate = report.mqtt.tx_per_s.max(1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let paced_len = ((equal_rate * args.seconds) as usize)
        .div_ceil(http_load::HTTP_BATCH)
        .min(batches.len() / 2);
    let rest = batches.split_off(paced_len);
    say(
        args,
        format!(
            "HTTP batches at the MQTT rate ({equal_rate:.0} /s) for {} s",
            args.seconds
        ),
    );
    let (paced, cpu) = with_cpu(
        &node,
        || http_load::paced(node.http, &batches, equal_rate, args.seconds),
        Duration::ZERO,
    );
    report.http_paced_tx_per_s = paced.committed as f64 / paced.seconds;
    report.http_paced_cpu_us_per_tx = cpu.total_us() / paced.committed.max(1) as f64;
    let batches = rest;
    say(args, format!("HTTP batches for {} s", args.seconds));
    let (http, cpu) = with_cpu(
        &node,
        || http_load::run(node.http, batches, args.seconds),
        Duration::ZERO,
    );
    report.http_tx_per_s = http.committed as f64 / http.seconds;
    report.http_cpu_us_per_tx = cpu.total_us() / http.committed.max(1) as f64;
    report.http_ran_dry = http.ran_dry;
    report.http_threads = cpu.threads;
    let half = (report.mqtt.tx_per_s / 2.0).max(1.0);
    say(
        args,
        format!(
            "SDK devices at half load ({half:.0} /s) for {} s",
            args.seconds
        ),
    );
    let paced = fleet.paced(&rt, half, args.seconds);
    report.half = Latency::of(paced.latencies_us.clone());
    report.half_rate = paced.rate();

    // 4. Storm.
    say(args, "restarting the node");
    let restart = Instant::now();
    node.stop()?;
    let tickets = fleet.queue_all(&rt, STORM_TXS_PER_DEVICE)?;
    node.spawn()?;
    let serving = Instant::now();
    report.restart_s = serving.duration_since(restart).as_secs_f64();
    let everyone = devices + fleet.len();
    let storm_deadline = login_deadline;
    let all_back = wait_until(storm_deadline, || {
        tally.connected.load(Ordering::Relaxed) + fleet.connected() >= everyone
    });
    report.reconnect_storm_s = serving.elapsed().as_secs_f64();
    if !all_back {
        report.problems.push(format!(
            "{} of {everyone} sessions back {:.0} s after the restart",
            tally.connected.load(Ordering::Relaxed) + fleet.connected(),
            report.reconnect_storm_s
        ));
    }
    say(
        args,
        format!(
            "all sessions back {:.1} s after the node served again",
            report.reconnect_storm_s
        ),
    );
    let queued = tickets.len() as u64;
    let (settled, failures) = traffic::settle(&rt, &fleet.totals, tickets, SETTLE_DEADLINE);
    report.storm_queued = queued;
    report.storm_confirmed = settled;
    report.problems.extend(failures.into_iter().take(8));
    std::thread::sleep(Duration::from_millis(500));
    check_exactly_once(&node, &fleet, &mut report)?;
    report.node_rss_after_kib = node.rss_kib().unwrap_or(0);

    let _ = stop.send(true);
    fleet.shutdown(&rt);
    drop(rt);
    node.stop()?;
    Ok(report)
}

/// Waits until every light session is up; answers the seconds it took.
fn wait_all(tally: &Tally, n: usize, since: Instant, deadline: Duration) -> anyhow::Result<f64> {
    if !wait_until(deadline, || tally.connected.load(Ordering::Relaxed) >= n) {
        bail!(
            "{} of {n} sessions up after {deadline:?} ({} refused, {} failed attempts)",
            tally.connected.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed)
        );
    }
    Ok(since.elapsed().as_secs_f64())
}

fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    while !done() {
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The node's CPU over a window.
pub struct WindowCpu {
    pub seconds: f64,
    pub ns: u64,
    pub threads: String,
}

impl WindowCpu {
    fn total_us(&self) -> f64 {
        self.ns as f64 / 1_000.0
    }
}

/// Runs `f`, reading the node's CPU `skip` after it starts and when it ends.
fn with_cpu<T>(node: &NodeProc, f: impl FnOnce() -> T, skip: Duration) -> (T, WindowCpu) {
    let pid = node.pid().unwrap_or(0);
    let (tx, rx) = std::sync::mpsc::channel();
    let probe = std::thread::spawn(move || {
        std::thread::sleep(skip);
        let first = (Instant::now(), ThreadCpu::read_pid(pid));
        let _ = tx.send(first);
    });
    let out = f();
    let last = (Instant::now(), ThreadCpu::read_pid(pid));
    let _ = probe.join();
    let first = rx
        .recv()
        .unwrap_or_else(|_| (Instant::now(), ThreadCpu::read_pid(pid)));
    let seconds = last.0.duration_since(first.0).as_secs_f64();
    let threads = super::stats::format_cores(&first.1.cores_since(&last.1, seconds));
    let cpu = WindowCpu {
        seconds,
        ns: last.1.total_ns().saturating_sub(first.1.total_ns()),
        threads,
    };
    (out, cpu)
}

/// The MQTT window's figures.
#[derive(Debug, Default, Clone)]
pub struct MqttFigures {
    pub tx_per_s: f64,
    pub cpu_us_per_tx: f64,
    pub failed: u64,
    pub threads: String,
}

fn window_figures(w: &traffic::Window, cpu: &WindowCpu) -> MqttFigures {
    MqttFigures {
        tx_per_s: w.rate(),
        // The CPU window is the measured window (after the warm-up) plus the
        // tail of transfers still answering; count them by the CPU's seconds.
        cpu_us_per_tx: cpu.total_us() / (w.rate() * cpu.seconds).max(1.0),
        failed: w.failed,
        threads: cpu.threads.clone(),
    }
}

/// Every transfer confirmed to a device was applied once: the sink holds one
/// unit per confirmation and the devices' nonces add up to the same.
fn check_exactly_once(
    node: &NodeProc,
    fleet: &traffic::Fleet,
    report: &mut Report,
) -> anyhow::Result<()> {
    use super::ledger_pg::procs::get;
    let confirmed = fleet.totals.confirmed.load(Ordering::Relaxed);
    let failed = fleet.totals.failed.load(Ordering::Relaxed);
    let sink = get(node.http, &format!("/v1/accounts/{}", fleet.sink))?;
    let balance = sink["balance"].as_u64().unwrap_or(0);
    let mut nonces = 0u64;
    for account in fleet.accounts() {
        let a = get(node.http, &format!("/v1/accounts/{account}"))?;
        nonces += a["nonce"].as_u64().context("an account's nonce")?;
    }
    report.applied = balance;
    report.confirmed_total = confirmed;
    if balance != confirmed || nonces != confirmed || failed != 0 {
        report.problems.push(format!(
            "{confirmed} transfers confirmed to devices ({failed} failed), {balance} units at the sink, {nonces} nonces used"
        ));
    }
    Ok(())
}
