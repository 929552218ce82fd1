//! `ting demo`: the water city, a living machine economy on a seeded,
//! accelerated clock (`--seed`, `--speed`, `--households`, `--fresh`).
//!
//! The demo makes a city network whose genesis declares an accelerated
//! clock (wire.md §8) and funds every actor, starts its node with the
//! embedded broker, and runs the city's actors as real `ting-agent`
//! devices over MQTT (`ting_sim::city`): owners register their purifiers
//! with daily limits; purifiers treat water, wear out cartridges and buy
//! new ones from competing service centres through escrow, releasing it on
//! their own sensor's evidence; the utility buys their readings under
//! each owner's consent and maps the districts; gateways sell uplink relay
//! to battery sensors on the order book; owners freeze compromised
//! purifiers. It prints where everything is and a
//! `keys/` folder to join in with, a live screen (or `--json` lines), and a
//! report (terminal, Markdown and SVG) at the end or on Ctrl-C.

mod agents;
mod files;
mod logs;
mod owners;
mod screen;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use ting_sim::world::Scenario;

use crate::failure::bad_input;
use crate::node_cmd::{mqtt_line, shutdown_signal, MqttArgs, Started};
use files::CityFile;

/// The slowest and fastest clocks the demo runs.
const SPEED_MIN: u32 = 2;
/// Households the demo takes.
const HOUSEHOLDS_MAX: u32 = 5_000;
/// Open files one household costs the demo's process: its purifier's MQTT
/// and HTTP connections, at both ends since the node is in the same
/// process, and its logs (measured: 6.4 a household at 2,000 households).
const FILES_PER_HOUSEHOLD: u64 = 7;
/// Open files the node and the other actors take besides.
const FILES_BASE: u64 = 1_024;

/// The most simulated days `--days` asks for: a year, as long as the
/// owners' consent records last.
const DAYS_MAX: u32 = 365;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Households in the city (each with an owner and a purifier).
    #[arg(long, default_value_t = 20)]
    pub households: u32,
    /// How many times faster than real time the city's clock runs (1440: a
    /// simulated day a minute).
    #[arg(long, default_value_t = 1440)]
    pub speed: u32,
    /// Seed of every random choice: the same seed gives the same city.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Remove the city in --data-dir and start a new one.
    #[arg(long)]
    pub fresh: bool,
    /// Print one JSON line of figures per second instead of the screen.
    #[arg(long)]
    pub json: bool,
    /// Address of the HTTP API [default: 127.0.0.1:8080, or a free port when that one is taken].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Where the city keeps its data, keys and report.
    #[arg(long, value_name = "DIR", default_value = "ting-demo-city")]
    pub data_dir: PathBuf,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Stop once the city's clock has run this many simulated days (1 to 365).
    #[arg(long)]
    pub days: Option<u32>,
    #[command(flatten)]
    pub mqtt: MqttArgs,
}

fn check(args: &DemoArgs) -> anyhow::Result<()> {
    if args.mqtt.no_mqtt || args.mqtt.mqtt_broker.is_some() {
        return Err(bad_input(
            "no_broker",
            "the city's devices talk through the demo's embedded MQTT broker: leave out --no-mqtt and --mqtt-broker (--mqtt-listen picks its address)",
        ));
    }
    if !(1..=HOUSEHOLDS_MAX).contains(&args.households) {
        return Err(bad_input(
            "bad_households",
            format!(
                "--households must be 1 to {HOUSEHOLDS_MAX}, not {}",
                args.households
            ),
        ));
    }
    if let Some(days) = args.days.filter(|d| !(1..=DAYS_MAX).contains(d)) {
        return Err(bad_input(
            "bad_days",
            format!("--days must be 1 to {DAYS_MAX}, not {days}"),
        ));
    }
    // The city's devices and node share this process: take every file the
    // system allows before judging whether the city fits.
    ting_node::open_files::raise();
    open_files_for(args.households, open_files_allowed())?;
    let max = ting_core::limits::CLOCK_SPEED_MAX;
    if !(SPEED_MIN..=max).contains(&args.speed) {
        return Err(bad_input(
            "bad_speed",
            format!("--speed must be {SPEED_MIN} to {max}, not {}", args.speed),
        ));
    }
    Ok(())
}

/// The soft limit on this process's open files, from `/proc/self/limits`
/// (`None` where there is no such file, or it says `unlimited`).
fn open_files_allowed() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Refuses a city bigger than the open files this process may have.
fn open_files_for(households: u32, allowed: Option<u64>) -> anyhow::Result<()> {
    let Some(allowed) = allowed else {
        return Ok(());
    };
    let need = FILES_BASE + u64::from(households) * FILES_PER_HOUSEHOLD;
    if need <= allowed {
        return Ok(());
    }
    let most = allowed.saturating_sub(FILES_BASE) / FILES_PER_HOUSEHOLD;
    Err(bad_input(
        "too_many_open_files",
        format!(
            "{households} households need about {need} open files (each household's devices \
             and connections take {FILES_PER_HOUSEHOLD}), and this process may open {allowed} \
             (ulimit -n): raise that limit, or run --households {most} or fewer"
        ),
    ))
}

/// Binds the API: the address asked for, or 8080 and else a free port.
fn http_addr(runtime: &tokio::runtime::Runtime, asked: Option<SocketAddr>) -> SocketAddr {
    if let Some(addr) = asked {
        return addr;
    }
    let default = SocketAddr::from(([127, 0, 0, 1], 8080));
    match runtime.block_on(tokio::net::TcpListener::bind(default)) {
        Ok(_) => default,
        Err(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
    }
}

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    check(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.fresh {
        files::remove_city(&args.data_dir)?;
    }
    let want = CityFile {
        seed: args.seed,
        households: args.households,
        speed: args.speed,
    };
    // The cast (names and keys) does not depend on when the city starts,
    // which the genesis decides: any start gives the same one.
    let cast = Arc::new(ting_sim::city::Cast::of(&Scenario::new(
        args.seed,
        args.households,
        ting_agent::clock::now().0,
    )?));
    let mut mqtt = args.mqtt.clone();
    // Every device of the city connects from this machine.
    mqtt.mqtt_per_source = mqtt
        .mqtt_per_source
        .max(args.households.saturating_mul(3) + 64);
    let http = http_addr(&runtime, args.http);
    let mut fresh_city = false;
    let mut genesis_copy = None;
    let (running, listener) = Started::start(&runtime, http, &mqtt, true, |_| {
        let (net, fresh) = files::open_city(&args.data_dir, want, &cast)?;
        fresh_city = fresh;
        genesis_copy = Some(net.genesis.clone());
        let mut cfg =
            ting_node::NodeConfig::new(args.data_dir.join("node"), net.genesis, net.node_key);
        // Every device of the city reaches the API from this machine.
        cfg.http_per_source = ting_node::http::sources::PerSource {
            connections: usize::try_from(args.households)
                .unwrap_or(usize::MAX)
                .saturating_mul(3)
                .saturating_add(256),
            requests: ting_core::limits::HTTP_REQUESTS_MAX,
        };
        Ok((cfg, None))
    })?;
    let genesis = genesis_copy.ok_or_else(|| anyhow::anyhow!("the city's genesis"))?;
    let scenario = Arc::new(Scenario::new(
        args.seed,
        args.households,
        genesis.timestamp.0,
    )?);
    let shared = Arc::clone(running.node.shared());
    let api = listener.local_addr()?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(ting_node::http::serve(
        listener,
        Arc::clone(&shared),
        async {
            let _ = http_stopped.await;
        },
    ));
    let node_url = format!("http://{api}");
    let keys = files::write_keys(&args.data_dir, &cast, &node_url)?;
    print_start(
        args,
        &running,
        &scenario,
        api,
        &keys,
        fresh_city,
        http != api && args.http.is_none(),
    );
    let broker = running
        .gateway
        .as_ref()
        .and_then(|g| g.listen_addr())
        .ok_or_else(|| anyhow::anyhow!("the demo's embedded broker has no address"))?;
    let city = agents::City {
        scenario: Arc::clone(&scenario),
        cast,
        genesis,
        node_url,
        broker,
        dir: args.data_dir.join("devices"),
    };
    let started = Instant::now();
    let outcome = runtime.block_on(live(&city, &shared, args));
    let _ = stop_http.send(());
    let _ = runtime.block_on(server);
    let report_dir = args.data_dir.join("report");
    let written = outcome.and_then(|(figures, tally)| {
        logs::write(&report_dir, &city, &tally, figures.start_ms)?;
        screen::finish(&figures, &report_dir, started.elapsed())
    });
    drop(shared);
    running.stop(&runtime);
    let written = written?;
    println!(
        "ting demo: stopped cleanly; the city is kept in {} (run again to continue it, or add --fresh); report: {}",
        args.data_dir.display(),
        written.display()
    );
    Ok(())
}

/// Runs the city until Ctrl-C, `--seconds` or `--days`, printing the screen.
async fn live(
    city: &agents::City,
    shared: &Arc<ting_node::Shared>,
    args: &DemoArgs,
) -> anyhow::Result<(ting_sim::report::RunFigures, Arc<ting_sim::city::Tally>)> {
    let running = agents::start(city, shared).await?;
    let until_ms = args.days.map(|d| {
        let day = ting_sim::world::DAY_MS;
        shared
            .time
            .now()
            .0
            .saturating_add(u64::from(d).saturating_mul(day))
    });
    let mut watch = screen::Watch::new(shared, &running.tally, args.speed, args.json);
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let ctrl_c = shutdown_signal();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            _ = tick.tick() => {
                watch.print(shared, city);
                if deadline.is_some_and(|d| Instant::now() >= d) { break; }
                if until_ms.is_some_and(|u| shared.time.now().0 >= u) { break; }
            }
        }
    }
    let tally = Arc::clone(&running.tally);
    running.stop().await;
    Ok((watch.figures(shared, city, &tally), tally))
}

/// What the demo serves and where, with what to try.
fn print_start(
    args: &DemoArgs,
    running: &Started,
    scenario: &Scenario,
    api: SocketAddr,
    keys: &std::path::Path,
    fresh: bool,
    moved: bool,
) {
    println!(
        "ting demo: the water city, seed {}, {} households, {} times real time ({} in {})",
        args.seed,
        args.households,
        args.speed,
        if fresh { "a new city" } else { "continued" },
        args.data_dir.display()
    );
    for line in scenario.summary().lines() {
        println!("  {line}");
    }
    let note = if moved {
        "  (8080 was taken: a free port instead)"
    } else {
        ""
    };
    println!("  API   http://{api}{note}");
    println!(
        "  WEB   http://{api}/  watch the city in a browser: devices, blocks, market, streams"
    );
    println!(
        "  MQTT  {}",
        mqtt_line(running.gateway.as_ref(), running.moved_from)
    );
    println!(
        "  keys  {}: the utility's, one household's and its purifier's keys;",
        keys.display()
    );
    println!(
        "        {}/README.txt has their ids and three commands to try as that household",
        keys.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_city_too_big_for_the_open_file_limit_is_refused_with_what_fits() {
        assert!(open_files_for(1_000, Some(20_000)).is_ok());
        assert!(open_files_for(5_000, None).is_ok());
        let e = open_files_for(4_000, Some(20_000)).expect_err("too big");
        let text = format!("{e:#}");
        assert!(text.contains("ulimit -n"), "{text}");
        assert!(text.contains("--households 2710 or fewer"), "{text}");
    }
}
