//! `follower_reads_per_s`: account reads answered by one follower while the
//! leader takes the load, over keep-alive connections.

use std::time::{Duration, Instant};

use anyhow::bail;

use super::procs::Nodes;
use crate::bench::dashboard::client::Conn;

/// Connections reading at once.
const CONNECTIONS: usize = 8;
/// How long the reads are counted.
const READ_WINDOW: Duration = Duration::from_secs(3);

/// Reads `/v1/accounts/{id}` from a follower for [`READ_WINDOW`]; answers reads per second.
pub fn measure(nodes: &Nodes) -> anyhow::Result<f64> {
    let (leader, _, _) = nodes.leader()?;
    let follower = (0..super::procs::NODES)
        .find(|i| *i != leader)
        .expect("three nodes");
    let addr = nodes.addr(follower);
    let paths: Vec<String> = nodes
        .users
        .iter()
        .map(|u| format!("/v1/accounts/{}", u.account().to_did()))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let counts = runtime.block_on(async {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..CONNECTIONS {
            let paths = paths.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn = Conn::open(addr).await?;
                let mut n = 0u64;
                let mut at = c;
                while started.elapsed() < READ_WINDOW {
                    at = (at + 1) % paths.len();
                    let path = &paths[at];
                    let (status, _) = conn.get(path).await?;
                    if !status.is_success() {
                        bail!("GET {path} on a follower answered {status}");
                    }
                    n += 1;
                }
                Ok::<u64, anyhow::Error>(n)
            }));
        }
        let mut total = 0u64;
        for t in tasks {
            total += t.await??;
        }
        Ok::<(u64, f64), anyhow::Error>((total, started.elapsed().as_secs_f64()))
    })?;
    let (reads, seconds) = counts;
    #[allow(clippy::cast_precision_loss)]
    Ok(reads as f64 / seconds)
}
