//! `ting bench dashboard`: the dashboard's account page over a long history,
//! and the ledger's rate while many pages watch their accounts live (issue 17).
//!
//! One process holds a node whose block log gives one account, the hub,
//! `--history` transactions (1,000,000 by default): round-robin transfers
//! to it from `BLOCK_TXS_MAX` senders, written straight into the log with
//! zero signatures as `bench recovery` writes its log (replay does not check
//! them), faster than the node could take them signed. The node replays the
//! log at start and its indexer indexes it; the bench waits until the index
//! has caught up, then serves the HTTP API and the dashboard on a free port
//! from a runtime of the node's own (`ting-http`). Then, one after another:
//!
//! - **pages** (`pages`): over one keep-alive connection, requests in rounds,
//!   each round one of every kind: the hub's page (`GET /accounts/{hub}`);
//!   the page of an account with a single transaction in the same node (the
//!   ceiling: what a page costs without history); the hub's history as JSON
//!   (`/v1/accounts/{hub}/transactions?limit=50`); the next page down the
//!   `Older` link; and a page at a cursor spread over the whole history. Each
//!   answer is checked (status 200, 50 history rows with their links, the
//!   right first row), so a fast error page cannot pass.
//!   `history_cost_ratio` is the hub page's p95 over the small page's.
//! - **watchers** (`rounds`, `watchers`): in `--rounds` rounds, the node's
//!   pipeline kept busy in process (`driver`, as `bench orders` drives it)
//!   for a warm-up and a window with no watcher, and the same window with
//!   `--watchers` SSE streams open, `GET /v1/events?account=ID&skip_empty=true`,
//!   each on its own connection and watching its own account, one the
//!   window's transfers touch (every other round the other way round).
//!   `watchers_rate_ratio` is the median over the rounds of the rate with
//!   them over the rate without. Then two windows paced at the same rate,
//!   without and with the watchers, for the node's CPU per watcher. Each watcher counts its `receipt`
//!   events, and the run checks them against the receipts the window's
//!   transfers make for its account. The clients run on a runtime of their
//!   own (`bench-sse`), so their CPU is told apart from the node's.
//!
//! Everything shares this machine's cores, the clients included.

pub(super) mod client;
mod history;
mod pages;
mod report;
mod rounds;
mod watchers;

use std::time::Duration;

use anyhow::ensure;
use clap::Args;
use ting_core::limits::BLOCK_TXS_MAX;

use super::served::runtime;
use super::TempDir;

/// Issue 17's target for the account page over a million transactions.
const TARGET_PAGE_P95_MS: f64 = 200.0;
/// Issue 17's target: the rate with the watchers over the rate without.
const TARGET_WATCHERS_RATE_RATIO: f64 = 0.9;
/// Warm-up before each measured window.
const WARM_UP: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Transactions in the history of the account whose page is timed
    /// [default: 1,000,000; 100,000 with --quick].
    #[arg(long, value_name = "N")]
    pub history: Option<u64>,
    /// SSE streams open during the second window, each watching an account
    /// of its own [default: 1,000; 100 with --quick].
    #[arg(long, value_name = "N")]
    pub watchers: Option<usize>,
    /// Length of each measured window (without and with the watchers), after
    /// a one-second warm-up [default: 10; 3 with --quick].
    #[arg(long, value_name = "S")]
    pub seconds: Option<u64>,
    /// Rounds of the two windows, every other one in the other order; the
    /// ratio is the median of theirs [default: 4; 2 with --quick].
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,
    /// Timed requests of each kind of page [default: 200; 50 with --quick].
    #[arg(long, value_name = "N")]
    pub requests: Option<usize>,
    /// Funded senders of each window's transfers (the watched accounts are
    /// spread over the second window's).
    #[arg(long, default_value_t = 16_384)]
    pub senders: usize,
    /// Watch accounts that no window's transfers touch (senders of the
    /// hub's history): the streams stay open and silent, and the ratio is
    /// what watching alone costs, without the receipts to deliver.
    #[arg(long)]
    pub idle: bool,
    /// A run of about a minute to try it out: the defaults above become
    /// 100,000 transactions, 100 watchers, 2 rounds of 3 s windows and 50 requests.
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// The arguments with their defaults filled in.
#[derive(Debug, Clone, Copy)]
struct Plan {
    history: u64,
    watchers: usize,
    window: Duration,
    rounds: usize,
    requests: usize,
    senders: usize,
    idle: bool,
}

impl Plan {
    fn of(args: &DashboardArgs) -> anyhow::Result<Plan> {
        let q = args.quick;
        let plan = Plan {
            history: args.history.unwrap_or(if q { 100_000 } else { 1_000_000 }),
            watchers: args.watchers.unwrap_or(if q { 100 } else { 1_000 }),
            window: Duration::from_secs(args.seconds.unwrap_or(if q { 3 } else { 10 })),
            rounds: args.rounds.unwrap_or(if q { 2 } else { 4 }),
            requests: args.requests.unwrap_or(if q { 50 } else { 200 }),
            senders: args.senders,
            idle: args.idle,
        };
        let rows = pages::HISTORY_ROWS;
        ensure!(
            plan.history >= 4 * rows,
            "--history must be at least {}: the pages read {rows} rows at a time",
            4 * rows
        );
        ensure!(plan.watchers >= 1, "--watchers must be at least 1");
        ensure!(plan.senders >= 2, "--senders must be at least 2");
        ensure!(
            plan.watchers <= plan.senders,
            "--watchers must be at most --senders ({}): each watches a sender of its own",
            plan.senders
        );
        let history_senders = plan.history.min(BLOCK_TXS_MAX as u64);
        ensure!(
            !plan.idle || plan.watchers as u64 <= history_senders,
            "--idle watches the history's {history_senders} senders: --watchers must be at most that"
        );
        ensure!(!plan.window.is_zero(), "--seconds must be at least 1");
        ensure!(plan.rounds >= 1, "--rounds must be at least 1");
        ensure!(plan.requests >= 1, "--requests must be at least 1");
        Ok(plan)
    }
}

pub fn run(args: &DashboardArgs) -> anyhow::Result<()> {
    let plan = Plan::of(args)?;
    watchers::check_file_limit(plan.watchers)?;
    let keys = history::Keys::new(&plan);
    let genesis = keys.genesis();
    let sizing = rounds::Sizing::measure(&keys, &genesis);
    let dir = TempDir::new("dashboard")?;
    let built = history::build(dir.path(), &keys, genesis, &plan)?;
    let node_rt = runtime("ting-http", super::cores())?;
    let clients_rt = runtime("bench-sse", 1)?;
    let measured = measure(&built, &keys, &plan, sizing, (&node_rt, &clients_rt));
    let bar = super::spinner("stopping the node");
    drop(clients_rt);
    drop(node_rt);
    built.node.shutdown();
    bar.finish_and_clear();
    let (pages, watched) = measured?;
    let report = report::Report {
        plan,
        build: built.figures,
        pages,
        watched,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

/// Serves the node, times the pages, then runs the two windows.
fn measure(
    built: &history::Built,
    keys: &history::Keys,
    plan: &Plan,
    sizing: rounds::Sizing,
    (node_rt, clients_rt): (&tokio::runtime::Runtime, &tokio::runtime::Runtime),
) -> anyhow::Result<(pages::Figures, rounds::Figures)> {
    let shared = built.node.shared();
    let (addr, stop) = node_rt.block_on(history::serve(shared))?;
    let measured = pages::measure(clients_rt, addr, keys, plan).and_then(|pages| {
        let watched = rounds::measure(shared, (clients_rt, addr), keys, sizing, plan)?;
        Ok((pages, watched))
    });
    let _ = stop.send(());
    measured
}
