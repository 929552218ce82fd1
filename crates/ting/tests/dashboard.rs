//! The dashboard end to end in a real headless Chromium (issue 17): a real
//! `ting node --dev` on free ports, a real workload (faucet mints, transfers
//! through the CLI, a device registered under an owner with a daily limit, a
//! payment channel, a batch whose transactions share a block, and signed
//! transfers kept running in the background while the pages first load),
//! then `tests/browser/dashboard.mjs`, which drives Debian's Chromium through
//! playwright-core: every page checked against the JSON API, live updates,
//! receipt and state-proof checks in the page (valid and tampered), CSV
//! exports parsed strictly, error pages and search. What it checks is listed
//! at the top of `dashboard.mjs`; it prints one summary line per page.
//!
//! The browser, Node.js and the npm packages come from `./scripts/test`,
//! which installs Debian's `chromium` and `nodejs` when missing and runs
//! `npm ci` in `crates/ting/tests/browser/`. Without them this test fails
//! and says so: it never skips.
//!
//! ```text
//! ./scripts/test -p ting --test dashboard                  # installs what it needs, then runs it
//! cargo nextest run -p ting --test dashboard --no-capture   # once installed; streams the browser's log
//! TING_DASHBOARD_SEED=<seed> cargo nextest run -p ting --test dashboard --no-capture
//! ```
//!
//! Screenshots (`NAME.png`, one per page and state) go to
//! `<target dir>/browser-screenshots/` (`target/browser-screenshots/` by
//! default; `TING_SCREENSHOTS=DIR` puts them elsewhere); the path is printed.
//! `TING_CHROMIUM` names another Chromium than `/usr/bin/chromium`.
//!
//! Waits are on conditions with deadlines; the workload pauses (a handshake
//! over the script's stdin and stdout) before figures are compared, so no
//! check depends on timing. The seed of every random choice is printed, and
//! on failure again.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::cli::Cli;
use common::{did, free_addr, genesis_of, poll, request, transfer, NodeProc, Rng};
use serde_json::json;
use ting_core::{AccountId, Hash32, Keypair};

/// Where the browser script and its npm packages live.
const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
const CHROMIUM_DEFAULT: &str = "/usr/bin/chromium";
/// The longest the browser script may run (it usually takes a few tens of seconds).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(180);
/// The line by which the script asks for the workload to pause, and the answer.
const PAUSE_ASK: &str = "@@pause-workload";
const PAUSE_DONE: &str = "paused";
/// Transactions the background workload sends at most (it is stopped long before).
const BACKGROUND_TXS_MAX: u64 = 100_000;
/// Keys that send the batch (one transaction each, in one block) and then the background transfers.
const BATCH_SENDERS: usize = 4;
const HOW_TO_INSTALL: &str = "run ./scripts/test (it installs Debian's chromium and nodejs when \
     missing and runs `npm ci` in crates/ting/tests/browser), then this test again";

/// Prints the seed if the test fails, so the run can be replayed.
struct SeedGuard(u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "dashboard test FAILED with seed {0}; replay with TING_DASHBOARD_SEED={0}",
                self.0
            );
        }
    }
}

#[test]
fn every_dashboard_page_shows_what_the_api_says_in_a_real_browser() {
    let chromium = browser_tools();
    let seed = std::env::var("TING_DASHBOARD_SEED")
        .map(|s| s.parse().expect("TING_DASHBOARD_SEED is a number"))
        .unwrap_or_else(|_| common::clock_seed());
    let _guard = SeedGuard(seed);
    println!("dashboard test: seed {seed} (TING_DASHBOARD_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);

    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("temporary directory");
    let addr = free_addr();
    let node = NodeProc::start(&tmp.path().join("node"), addr, &tmp.path().join("node.log"));
    let cli = Cli {
        node: format!("http://{addr}"),
        dir: tmp.path().to_path_buf(),
    };
    let genesis = genesis_of(&node.get("/v1/status"));
    let mut made = workload(&node, &cli, &mut rng, &genesis);
    wait_caught_up(&node);
    println!(
        "dashboard test: node http://{addr}, workload made in {:?}: account {}, device {}, block {} with several transactions",
        started.elapsed(),
        made.account,
        made.device,
        made.block
    );
    let senders = std::mem::take(&mut made.senders);
    let background = Background::start(addr, genesis, senders, made.payees.clone(), rng.next_u64());

    let shots = screenshots_dir();
    println!("dashboard test: screenshots go to {}", shots.display());
    let mut script = Command::new("node");
    script
        .arg(Path::new(BROWSER_DIR).join("dashboard.mjs"))
        .current_dir(BROWSER_DIR)
        .env("TING_URL", format!("http://{addr}"))
        .env("TING_SCREENSHOTS", &shots)
        .env("TING_CHROMIUM", &chromium)
        .env("TING_SEED", (seed % (1 << 32)).to_string())
        .env("TING_ACCOUNT", &made.account)
        .env("TING_DEVICE", &made.device)
        .env("TING_OTHER", &made.other)
        .env("TING_TX", &made.tx)
        .env("TING_TX_BATCH", &made.tx_batch)
        .env("TING_BLOCK", made.block.to_string())
        .env("TING_EXPECT_DEVICES", "1")
        .env("TING_EXPECT_OPEN_CHANNELS", "1")
        .env("TING_HANDSHAKE", "stdio");
    let ran = run_script(script, &node, background);
    println!(
        "dashboard test: {:?} in all; screenshots in {}",
        started.elapsed(),
        shots.display()
    );
    assert!(
        ran.success(),
        "the browser test failed ({ran}); its log is above, screenshots in {}",
        shots.display()
    );
}

/// Chromium's path, once Node.js, Chromium and the npm packages are known to be there.
fn browser_tools() -> PathBuf {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the dashboard test needs Node.js (`node` on PATH, {node:?}): {HOW_TO_INSTALL}"
    );
    let chromium = std::env::var_os("TING_CHROMIUM")
        .map_or_else(|| PathBuf::from(CHROMIUM_DEFAULT), PathBuf::from);
    assert!(
        chromium.is_file(),
        "the dashboard test needs Chromium at {}: {HOW_TO_INSTALL}",
        chromium.display()
    );
    let package = Path::new(BROWSER_DIR).join("node_modules/playwright-core/package.json");
    assert!(
        package.is_file(),
        "the dashboard test needs its npm packages ({} is missing): {HOW_TO_INSTALL}",
        package.display()
    );
    chromium
}

/// `<target dir>/browser-screenshots`, emptied of earlier screenshots.
fn screenshots_dir() -> PathBuf {
    let dir = std::env::var_os("TING_SCREENSHOTS").map_or_else(
        || {
            // The `ting` binary sits in `<target dir>/<profile>/`.
            let bin = Path::new(env!("CARGO_BIN_EXE_ting"));
            let target = bin
                .parent()
                .and_then(Path::parent)
                .expect("the binary is in <target>/<profile>/");
            target.join("browser-screenshots")
        },
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create the screenshots directory");
    for entry in std::fs::read_dir(&dir).expect("read the screenshots directory") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "png") {
            std::fs::remove_file(&path).expect("remove an old screenshot");
        }
    }
    dir
}

/// What the workload made, for the pages to show.
struct Made {
    /// An owner: sender, receiver, channel payer, owner of the device.
    account: String,
    device: String,
    /// Another account with a history, which receives the overview's live mint.
    other: String,
    /// A transfer sent through the CLI.
    tx: String,
    /// A transfer in a block with others, so its receipt's proof has siblings.
    tx_batch: String,
    /// That block.
    block: u64,
    /// Keys the test holds itself (they sent the batch), with their next nonces.
    senders: Vec<(Keypair, u64)>,
    /// Everyone the background workload pays.
    payees: Vec<String>,
}

/// Mints, transfers, a device with a daily limit that spends, a channel,
/// and a batch that lands in one block.
fn workload(node: &NodeProc, cli: &Cli, rng: &mut Rng, genesis: &Hash32) -> Made {
    let names = ["alice", "bob", "carol"];
    let ids: Vec<String> = names.iter().map(|n| cli.key(n)).collect();
    for id in &ids {
        let amount = (1_000_000 + rng.below(1_000)).to_string();
        cli.run(&["faucet", "--to", id, "--amount", &amount]);
    }
    let (alice, bob) = (&ids[0], &ids[1]);
    let send = |from: &str, to: &str, amount: u64| -> String {
        let key = format!("{from}.key");
        let amount = amount.to_string();
        let sent = cli.run(&["transfer", "--key", &key, "--to", to, "--amount", &amount]);
        sent["tx_hash"].as_str().expect("a tx hash").to_owned()
    };
    let tx = send("alice", bob, 1 + rng.below(500));
    for _ in 0..5 {
        let from = rng.index(names.len());
        let to = (from + 1 + rng.index(names.len() - 1)) % names.len();
        send(names[from], &ids[to], 1 + rng.below(500));
    }

    let device = cli.key("pump");
    cli.run(&[
        "device",
        "register",
        "--key",
        "alice.key",
        "--device-key",
        "pump.key",
        "--metadata",
        "pump 1, north tank",
    ]);
    let per_day = (5_000 + rng.below(1_000)).to_string();
    cli.run(&[
        "device",
        "limit",
        "--key",
        "alice.key",
        "--device",
        &device,
        "--per-day",
        &per_day,
    ]);
    cli.run(&["faucet", "--to", &device, "--amount", "3000"]);
    send("pump", bob, 100 + rng.below(100));

    let state = cli.dir.join("channels");
    let deposit = (2_000 + rng.below(1_000)).to_string();
    cli.run(&[
        "channel",
        "open",
        "--key",
        "alice.key",
        "--payee",
        bob,
        "--deposit",
        &deposit,
        "--expires-in",
        "1h",
        "--state",
        state.to_str().expect("utf-8"),
    ]);

    let (tx_batch, block, senders) = batch(node, rng, genesis, alice);
    let mut payees = ids.clone();
    payees.push(device.clone());
    Made {
        account: alice.clone(),
        device,
        other: bob.clone(),
        tx,
        tx_batch,
        block,
        senders,
        payees,
    }
}

/// Funds fresh keys and sends one transfer from each in a single batch,
/// which the node admits whole; answers a transaction whose receipt's proof
/// has siblings, its block, and the keys with their next nonces.
fn batch(
    node: &NodeProc,
    rng: &mut Rng,
    genesis: &Hash32,
    to: &str,
) -> (String, u64, Vec<(Keypair, u64)>) {
    let keys: Vec<Keypair> = (0..BATCH_SENDERS)
        .map(|_| Keypair::from_seed(rng.seed32()))
        .collect();
    for k in &keys {
        node.post("/v1/faucet", &json!({ "to": did(k), "amount": 1_000_000 }));
    }
    let to = AccountId::parse(to).expect("an account id");
    let txs: Vec<_> = keys
        .iter()
        .map(|k| transfer(genesis, k, 0, to, 1 + rng.below(100)))
        .collect();
    let answer = node.post("/v1/transactions/batch", &common::batch_body(&txs));
    let mut found = None;
    for result in answer["results"].as_array().expect("batch results") {
        assert_eq!(result["status"], "committed", "batch: {result}");
        let hash = result["tx_hash"].as_str().expect("a tx hash");
        let receipt = node.get(&format!("/v1/receipts/{hash}"));
        let siblings = receipt["proof"]["siblings"].as_array().map_or(0, Vec::len);
        if siblings > 0 && found.is_none() {
            found = Some((
                hash.to_owned(),
                receipt["height"].as_u64().expect("a height"),
            ));
        }
    }
    let (hash, height) = found.unwrap_or_else(|| {
        panic!("no transaction of the batch shares its block with another: {answer}")
    });
    (hash, height, keys.into_iter().map(|k| (k, 1)).collect())
}

/// Waits until the node's index has caught up with its durable log, so every
/// history and count the pages read is complete.
fn wait_caught_up(node: &NodeProc) {
    poll("the index to catch up with the durable log", || {
        let s = node.get("/v1/status");
        let height = s["height"].as_u64()?;
        let done =
            s["durable_height"].as_u64()? >= height && s["indexed_height"].as_u64()? >= height;
        done.then_some(())
    });
}

/// Mints and signed transfers sent one after another, each waited for until
/// committed, until stopped.
struct Background {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<u64, String>>,
}

impl Background {
    fn start(
        addr: std::net::SocketAddr,
        genesis: Hash32,
        mut senders: Vec<(Keypair, u64)>,
        payees: Vec<String>,
        seed: u64,
    ) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut rng = Rng::new(seed);
            for sent in 0..BACKGROUND_TXS_MAX {
                if stopped.load(Ordering::SeqCst) {
                    return Ok(sent);
                }
                let payee = &payees[rng.index(payees.len())];
                let (path, body) = if rng.below(2) == 0 {
                    let amount = 1 + rng.below(1_000);
                    ("/v1/faucet", json!({ "to": payee, "amount": amount }))
                } else {
                    let (key, nonce) = &mut senders[rng.index(BATCH_SENDERS)];
                    let to = AccountId::parse(payee).map_err(|e| format!("{payee}: {e:?}"))?;
                    let tx = transfer(&genesis, key, *nonce, to, 1 + rng.below(50));
                    *nonce += 1;
                    let hex = hex::encode(tx.bytes());
                    ("/v1/transactions", json!({ "hex": hex }))
                };
                let reply = request(addr, "POST", path, Some(&body))
                    .map_err(|e| format!("POST {path}: {e}"))?;
                if reply.status != 200 || reply.body["status"] != "committed" {
                    return Err(format!("POST {path}: {} {}", reply.status, reply.body));
                }
            }
            Ok(BACKGROUND_TXS_MAX)
        });
        Background { stop, thread }
    }

    /// Stops the workload after its transaction in flight; answers how many it sent.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.join() {
            Ok(Ok(sent)) => sent,
            Ok(Err(e)) => panic!("the background workload failed: {e}"),
            Err(_) => panic!("the background workload panicked"),
        }
    }
}

/// Kills the script if the test ends early.
struct ScriptProc(Child);

impl Drop for ScriptProc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs the browser script with its output streamed to this test's, pausing
/// the workload when it asks; answers its exit status.
fn run_script(
    mut script: Command,
    node: &NodeProc,
    background: Background,
) -> std::process::ExitStatus {
    let child = script
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start node {BROWSER_DIR}/dashboard.mjs: {e}"));
    let mut proc = ScriptProc(child);
    let stdout = proc.0.stdout.take().expect("the script's stdout");
    let mut stdin = proc.0.stdin.take().expect("the script's stdin");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + SCRIPT_DEADLINE;
    let mut background = Some(background);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(Ok(line)) if line == PAUSE_ASK => {
                let sent = background
                    .take()
                    .expect("the script asks to pause once")
                    .stop();
                wait_caught_up(node);
                println!("dashboard test: workload paused after {sent} background transactions");
                writeln!(stdin, "{PAUSE_DONE}").expect("answer the script");
                stdin.flush().expect("answer the script");
            }
            Ok(Ok(line)) => println!("{line}"),
            Ok(Err(e)) => panic!("reading the script's output: {e}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the browser script ran past {SCRIPT_DEADLINE:?}")
            }
        }
    }
    if let Some(b) = background {
        b.stop();
    }
    let child = &mut proc.0;
    poll("the browser script to exit", || {
        child.try_wait().expect("try_wait")
    })
}
