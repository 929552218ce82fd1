//! `ting bench ledger --accounts N`: resident memory of a node whose genesis funds N accounts.
//!
//! Account ids must be valid keys (canonical curve points, not of small
//! order), so they are derived from seeds like any key, on every core: the
//! public key of a clamped secret scalar is always a valid, prime-order
//! point. The run reads VmRSS before making the ids, after building the
//! genesis that holds them, and once `Node::start` has built the state, and
//! reports the whole process, which is what the target bounds.

use serde_json::json;
use ting_core::limits::GENESIS_ALLOCATIONS_MAX;
use ting_core::{Amount, Genesis, Keypair, Timestamp};
use ting_node::{Node, NodeConfig};

use super::workload::{keypair, par_map, BENCH_NETWORK};
use super::{now_ms, progress, rss_mib, spinner, TempDir};

/// The target (DESIGN.md §8): one million funded accounts under this many MiB resident.
const TARGET_MIB: f64 = 300.0;
const TARGET_ACCOUNTS: usize = 1_000_000;

/// Resident memory at the three points of the run, in MiB.
#[derive(Debug, Clone, Copy)]
struct Rss {
    before: f64,
    genesis: f64,
    node: f64,
}

pub fn run(n: usize, json: bool) -> anyhow::Result<()> {
    if n == 0 || n > GENESIS_ALLOCATIONS_MAX {
        anyhow::bail!(
            "--accounts must be 1 to {GENESIS_ALLOCATIONS_MAX} (the most a genesis may fund)"
        );
    }
    let before = rss_mib();
    let bar = progress(n as u64, "deriving account keys");
    let ids = par_map(n, &bar, |i| keypair(0xac, i as u64).account());
    bar.finish_and_clear();
    let node_key = keypair(0x0d, 0);
    let genesis = Genesis {
        name: "ting-bench-accounts".into(),
        network: BENCH_NETWORK,
        timestamp: Timestamp(now_ms()),
        issuers: Vec::new(),
        sequencers: vec![node_key.account()],
        allocations: ids.into_iter().map(|id| (id, Amount::new(1_000))).collect(),
        clock: ting_core::LedgerClock::Real,
    };
    let genesis_mib = rss_mib();
    let dir = TempDir::new("accounts")?;
    let bar = spinner("starting a node over the genesis");
    let key = Keypair::from_seed(node_key.seed());
    let node = Node::start(NodeConfig::new(dir.path().join("node"), genesis, key))?;
    bar.finish_and_clear();
    let rss = Rss {
        before,
        genesis: genesis_mib,
        node: rss_mib(),
    };
    let accounts = node
        .shared()
        .state
        .read()
        .expect("state lock")
        .account_count();
    anyhow::ensure!(accounts == n, "the node holds {accounts} accounts, not {n}");
    node.shutdown();
    if json {
        println!("{}", serde_json::to_string_pretty(&report_json(n, rss))?);
    } else {
        print_human(n, rss);
    }
    Ok(())
}

fn per_account(n: usize, mib: f64) -> f64 {
    (mib * 1024.0 * 1024.0 / n as f64).round()
}

fn report_json(n: usize, rss: Rss) -> serde_json::Value {
    json!({
        "accounts": n,
        "rss_mib": round1(rss.node),
        "rss_mib_before": round1(rss.before),
        "rss_mib_genesis": round1(rss.genesis),
        "bytes_per_account": per_account(n, rss.node - rss.before),
        "state_bytes_per_account": per_account(n, rss.node - rss.genesis),
        "target_mib": TARGET_MIB,
        "target_accounts": TARGET_ACCOUNTS,
    })
}

fn print_human(n: usize, rss: Rss) {
    let verdict = match (n == TARGET_ACCOUNTS, rss.node < TARGET_MIB) {
        (false, _) => "n/a, the target is for 1000000 accounts",
        (true, true) => "met",
        (true, false) => "MISSED",
    };
    println!("ting bench ledger --accounts {n}");
    println!("  resident before the ids      {:>8.1} MiB", rss.before);
    println!(
        "  with the genesis built       {:>8.1} MiB   (the allocation list, 40 B per account, which the node keeps)",
        rss.genesis
    );
    println!(
        "  with the node started        {:>8.1} MiB   target < {TARGET_MIB:.0} MiB: {verdict}",
        rss.node
    );
    println!(
        "  per account                  {:>8.0} B      ({:.0} B of it in the state built by Node::start)",
        per_account(n, rss.node - rss.before),
        per_account(n, rss.node - rss.genesis)
    );
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
