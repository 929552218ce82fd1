//! `ting demo`: one command, a whole small machine economy, live.
//!
//! Starts a dev node with embedded defaults (data in `--data-dir`, kept
//! between runs), funds a few dozen generated purifier devices from the dev
//! faucet key, registers them under their households with daily limits, and
//! drives a steady load of real signed payments through the node's pipeline,
//! printing a live summary every second. The HTTP API stays up throughout so
//! the CLI and curl can look around; Ctrl-C (or `--seconds`) stops it cleanly.

mod economy;
mod market;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::node_cmd::{dev_config, mqtt_line, shutdown_signal, MqttArgs, Started};
use economy::{submit_and_wait, Economy};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the HTTP API while the demo runs.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Where the demo's node keeps its data (kept between runs).
    #[arg(long, value_name = "DIR", default_value = "ting-demo-data")]
    pub data_dir: PathBuf,
    /// How many purifier devices take part.
    #[arg(long, default_value_t = 40)]
    pub devices: usize,
    /// Payments per second to aim for.
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// Seed of every random choice (printed at start).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long)]
    pub seconds: Option<u64>,
    #[command(flatten)]
    pub mqtt: MqttArgs,
}

/// What the load thread has done so far.
#[derive(Debug, Default)]
struct Tally {
    committed: AtomicU64,
    /// Readings the utility bought off the ledger, and base units claimed for them.
    readings: AtomicU64,
    claimed: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
}

fn setup(
    shared: &ting_node::Shared,
    economy: &mut Economy,
    issuer: &ting_core::Keypair,
) -> anyhow::Result<()> {
    let bar = ProgressBar::new(3);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:20}] {pos}/{len}").expect("valid template"),
    );
    let mut refused = BTreeMap::new();
    bar.set_message("funding devices from the faucet");
    submit_and_wait(shared, economy.funding(shared, issuer), &mut refused)?;
    bar.inc(1);
    bar.set_message("registering devices under their households");
    submit_and_wait(shared, economy.registrations(shared), &mut refused)?;
    bar.inc(1);
    bar.set_message("the water utility opens a payment channel to each purifier");
    submit_and_wait(shared, economy.open_market(), &mut refused)?;
    bar.inc(1);
    bar.finish_and_clear();
    if !refused.is_empty() {
        anyhow::bail!("demo setup was refused: {refused:?}");
    }
    Ok(())
}

fn load(
    shared: Arc<ting_node::Shared>,
    mut economy: Economy,
    rate: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let per_round = usize::try_from((rate / 20).max(1)).unwrap_or(1);
    let round_time = Duration::from_millis(50);
    while !stop.load(Ordering::Acquire) {
        let started = Instant::now();
        let txs = economy.round(per_round);
        if let Some(market) = &economy.market {
            tally.readings.store(market.readings, Ordering::Relaxed);
            tally.claimed.store(market.claimed, Ordering::Relaxed);
        }
        let mut refused = BTreeMap::new();
        match submit_and_wait(&shared, txs, &mut refused) {
            Ok(n) => {
                tally.committed.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                eprintln!("demo load stopped: {e:#}");
                return;
            }
        }
        if !refused.is_empty() {
            economy.resync(&shared);
            let mut all = tally.refused.lock().expect("tally lock");
            for (code, n) in refused {
                *all.entry(code).or_default() += n;
            }
        }
        std::thread::sleep(round_time.saturating_sub(started.elapsed()));
    }
}

fn summary(
    shared: &ting_node::Shared,
    tally: &Tally,
    elapsed: Duration,
    last: &mut (u64, u64),
) -> String {
    let (height, accounts, supply) = {
        let s = shared.state.read().expect("state lock");
        (s.height().0, s.account_count(), s.supply().base_units())
    };
    let committed = tally.committed.load(Ordering::Relaxed);
    let rate = committed - last.0;
    let blocks = height - last.1;
    *last = (committed, height);
    let refused = tally.refused.lock().expect("tally lock");
    let refused: Vec<String> = refused.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let readings = tally.readings.load(Ordering::Relaxed);
    let claimed = tally.claimed.load(Ordering::Relaxed);
    format!(
        "{:>4}s  height {height:>6}  txs {committed:>8} ({rate:>5}/s)  blocks {blocks:>4}/s  accounts {accounts}  supply {supply}  readings paid off-ledger {readings} (claimed {claimed})  refused [{}]",
        elapsed.as_secs(),
        refused.join(", ")
    )
}

/// What the demo serves and where, with what to try.
fn print_start(args: &DemoArgs, running: &Started, seed: u64) {
    println!(
        "ting demo: {} devices, seed {seed}, data in {}",
        args.devices,
        args.data_dir.display()
    );
    println!(
        "  API: http://{0}  (try: curl http://{0}/v1/status, or `ting status --node http://{0}`)",
        args.http
    );
    println!(
        "  MQTT: {}",
        mqtt_line(running.gateway.as_ref(), running.moved_from)
    );
    if let Some(addr) = running.gateway.as_ref().and_then(|g| g.listen_addr()) {
        println!(
            "        (try: mosquitto_sub -h {} -p {} -t ting/v1/blocks -F '%t %x')",
            addr.ip(),
            addr.port()
        );
    }
}

/// Drives the economy's load and prints a summary each second until Ctrl-C
/// or `--seconds`; answers the payments committed.
fn live(
    runtime: &tokio::runtime::Runtime,
    shared: &Arc<ting_node::Shared>,
    economy: Economy,
    args: &DemoArgs,
) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let loader = {
        let (shared, stop, tally) = (Arc::clone(shared), Arc::clone(&stop), Arc::clone(&tally));
        let rate = args.rate;
        std::thread::spawn(move || load(shared, economy, rate, stop, tally))
    };
    let started = Instant::now();
    let mut last = (0, shared.state.read().expect("state lock").height().0);
    runtime.block_on(async {
        let deadline = args.seconds.map(|s| started + Duration::from_secs(s));
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let ctrl_c = shutdown_signal();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = tick.tick() => {
                    println!("{}", summary(shared, &tally, started.elapsed(), &mut last));
                    if deadline.is_some_and(|d| Instant::now() >= d) { break; }
                }
            }
        }
    });
    stop.store(true, Ordering::Release);
    let _ = loader.join();
    tally.committed.load(Ordering::Relaxed)
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    if args.devices < 2 {
        anyhow::bail!("--devices must be at least 2");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The dev issuer funds the devices; its key is the faucet's.
    let mut issuer = None;
    let (running, listener) = Started::start(&runtime, args.http, &args.mqtt, true, || {
        let cfg = dev_config(&args.data_dir)?;
        issuer = cfg
            .faucet
            .as_ref()
            .map(|k| ting_core::Keypair::from_seed(k.seed()));
        Ok((cfg, None))
    })?;
    let issuer = issuer.ok_or_else(|| anyhow::anyhow!("a dev network has an issuer"))?;
    let shared = Arc::clone(running.node.shared());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(ting_node::http::serve(
        listener,
        Arc::clone(&shared),
        async {
            let _ = http_stopped.await;
        },
    ));
    print_start(args, &running, seed);
    let mut economy = Economy::new(&shared, seed, args.devices);
    setup(&shared, &mut economy, &issuer)?;
    if let Some(first) = economy.accounts().first() {
        println!(
            "  a device: ting account show {first} --node http://{}",
            args.http
        );
    }
    let total = live(&runtime, &shared, economy, args);
    let _ = stop_http.send(());
    let _ = runtime.block_on(server);
    drop(shared);
    running.stop(&runtime);
    println!(
        "ting demo: stopped cleanly after {total} committed payments; data kept in {}",
        args.data_dir.display()
    );
    Ok(())
}
