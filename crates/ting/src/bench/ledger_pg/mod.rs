//! `ting bench ledger --store URL|temp`: the ledger on PostgreSQL, beside
//! the embedded log's run.
//!
//! 1. **Throughput.** The same signed workload through an in-process node
//!    whose block log is in PostgreSQL, pipeline kept full: `pg_transfers_per_s`,
//!    and `pg_ratio` over the embedded log's `transfers_per_s` of the same run.
//! 2. **Several nodes.** Three `ting node` processes on a second database,
//!    with a light load of transfers sent to any of them:
//!    first transactions submitted one per request by 64 senders, each
//!    waiting for its commit, straight to the leader and then to a follower
//!    (`forwarded_per_s`, and `forward_ratio` over the leader's rate), then
//!    `follower_reads_per_s` (account reads from one follower), then the
//!    leader killed with `kill -9` again and again: the time from each kill
//!    to the first block of the new leader (`failover_s_median`,
//!    `failover_s_max`, beside the lease `lease_s`).
//!
//! `temp` starts a throwaway cluster (`initdb` into a temporary directory);
//! a URL names a server on which the benchmark creates its own two
//! databases, and drops them at the end (the role needs `CREATEDB`).

mod forwards;
pub(crate) mod procs;
mod reads;

use std::time::Duration;

use ting_core::SignedTx;
use ting_store::pg::cluster::TempCluster;
use ting_store::pg::scratch::{create_scratch, drop_scratch};

use super::drive::{Direct, Phase};
use super::spinner;
use super::workload::Accounts;
use super::TempDir;

/// What the PostgreSQL phases measured.
#[derive(Debug)]
pub struct PgReport {
    pub peak: Phase,
    pub lease: Duration,
    /// Kill to the new leader's first block, one per kill.
    pub failovers: Vec<Duration>,
    pub follower_reads_per_s: f64,
    /// Single submissions through a follower, and straight to the leader.
    pub forwards: forwards::Forwards,
    /// Where: `temp` or the server's host.
    pub server: String,
}

/// The databases the phases run on, and what to drop or stop afterwards.
struct Databases {
    throughput: String,
    nodes: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Cluster(#[allow(dead_code)] TempCluster),
    Scratch { url: String, names: [String; 2] },
}

impl Drop for Databases {
    fn drop(&mut self) {
        if let Cleanup::Scratch { url, names } = &self.cleanup {
            for name in names {
                if let Err(e) = drop_scratch(url, name) {
                    eprintln!("ting bench: could not drop the scratch database {name}: {e}");
                }
            }
        }
    }
}

fn databases(store: &str) -> anyhow::Result<Databases> {
    if store == "temp" {
        let cluster = TempCluster::start()?;
        return Ok(Databases {
            throughput: cluster.create_database("bench_throughput")?,
            nodes: cluster.create_database("bench_nodes")?,
            cleanup: Cleanup::Cluster(cluster),
        });
    }
    let stamp = std::process::id();
    let names = [
        format!("ting_bench_{stamp}_throughput"),
        format!("ting_bench_{stamp}_nodes"),
    ];
    let throughput = create_scratch(store, &names[0])?;
    let nodes = match create_scratch(store, &names[1]) {
        Ok(url) => url,
        Err(e) => {
            let _ = drop_scratch(store, &names[0]);
            return Err(e.into());
        }
    };
    Ok(Databases {
        throughput,
        nodes,
        cleanup: Cleanup::Scratch {
            url: store.to_owned(),
            names,
        },
    })
}

/// Where the run was, for the report: `temp` or the URL's host, never its password.
fn server_of(store: &str) -> String {
    if store == "temp" {
        return "temp".into();
    }
    let rest = store.split_once("://").map_or(store, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    authority.rsplit('@').next().unwrap_or("").to_owned()
}

/// Runs the PostgreSQL phases: `chunks` (signed for `accounts`' genesis)
/// drive the throughput window of `warmup` then `peak`; `kills` leader kills follow.
pub fn run(
    store: &str,
    accounts: &Accounts,
    chunks: Vec<Vec<SignedTx>>,
    (warmup, peak): (Duration, Duration),
    kills: u32,
) -> anyhow::Result<PgReport> {
    let bar = spinner("PostgreSQL: preparing the databases");
    let dbs = databases(store)?;
    ting_store::pg::migrate(&dbs.throughput)?;
    ting_store::pg::migrate(&dbs.nodes)?;
    bar.set_message("PostgreSQL: keeping a node's pipeline full");
    let dir = TempDir::new("ledger-pg")?;
    let key = ting_core::Keypair::from_seed(accounts.node_key.seed());
    let mut cfg =
        ting_node::NodeConfig::new(dir.path().join("node"), accounts.genesis.clone(), key);
    cfg.store = Some(dbs.throughput.clone());
    let node = ting_node::Node::start(cfg)?;
    let mut driver = Direct::new(std::sync::Arc::clone(node.shared()), chunks);
    let phase = driver.peak(warmup, peak)?;
    driver.finish();
    bar.set_message("PostgreSQL: stopping the node");
    node.shutdown();
    bar.set_message("PostgreSQL: three node processes, reads and leader kills");
    let mut nodes = procs::Nodes::start(&dbs.nodes)?;
    let forwards = forwards::measure(&nodes)?;
    let load = procs::Load::start(&nodes);
    let reads = reads::measure(&nodes)?;
    let failovers = nodes.failovers(kills, &load)?;
    load.stop();
    bar.finish_and_clear();
    Ok(PgReport {
        peak: phase,
        lease: ting_node::lead::LEASE_TTL_DEFAULT,
        failovers,
        follower_reads_per_s: reads,
        forwards,
        server: server_of(store),
    })
}

impl PgReport {
    pub fn failover_median(&self) -> Option<f64> {
        let mut s: Vec<f64> = self.failovers.iter().map(Duration::as_secs_f64).collect();
        s.sort_by(f64::total_cmp);
        s.get(s.len() / 2).copied()
    }

    pub fn failover_max(&self) -> Option<f64> {
        self.failovers
            .iter()
            .map(Duration::as_secs_f64)
            .max_by(f64::total_cmp)
    }
}

#[cfg(test)]
mod tests {
    use super::server_of;

    #[test]
    fn the_report_names_the_host_and_never_the_password() {
        assert_eq!(server_of("temp"), "temp");
        assert_eq!(
            server_of("postgres://u:secret@db.example:5432/x"),
            "db.example:5432"
        );
        assert_eq!(server_of("postgres://db:5432/x"), "db:5432");
    }
}
