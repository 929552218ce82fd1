//! What the benchmarks count: latency percentiles, node counters, and CPU time per thread.
//!
//! Thread CPU time comes from `/proc/self/task/*/schedstat` (nanoseconds on
//! the CPU), grouped by thread name, so a report can say where the cores went
//! during a measured window: verification, the executor, the writer, the
//! indexer, or the benchmark's own threads.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ting_node::Shared;

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub samples: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of samples in microseconds.
    pub fn of(mut us: Vec<u32>) -> Latency {
        if us.is_empty() {
            return Latency::default();
        }
        us.sort_unstable();
        // The nearest-rank percentile: the smallest sample with at least q of all at or below it.
        let at = |per_mille: usize| {
            let rank = (per_mille * us.len()).div_ceil(1000).clamp(1, us.len());
            f64::from(us[rank - 1]) / 1000.0
        };
        Latency {
            samples: us.len(),
            p50_ms: at(500),
            p95_ms: at(950),
            p99_ms: at(990),
            max_ms: at(1000),
        }
    }
}

/// The node's counters at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub at: Instant,
    pub committed: u64,
    pub blocks: u64,
    pub fsyncs: u64,
    pub fsync_micros: u64,
    pub state_root_nanos: u64,
    pub durable_height: u64,
    pub indexed_height: u64,
}

impl Counters {
    pub fn read(shared: &Shared) -> Counters {
        let m = &shared.metrics;
        Counters {
            at: Instant::now(),
            committed: m.txs_committed.load(Ordering::Relaxed),
            blocks: m.blocks_committed.load(Ordering::Relaxed),
            fsyncs: m.fsyncs.load(Ordering::Relaxed),
            fsync_micros: m.fsync_micros.load(Ordering::Relaxed),
            state_root_nanos: m.state_root_nanos.load(Ordering::Relaxed),
            durable_height: shared.durable.height().0,
            indexed_height: shared.index.indexed_height().map_or(0, |h| h.0),
        }
    }
}

/// What happened between two readings of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub seconds: f64,
    pub committed: u64,
    pub blocks: u64,
    pub fsyncs: u64,
    /// Mean time of one group commit (write and fdatasync).
    pub fsync_ms_mean: f64,
    /// Executor time spent on the state root, per committed transaction.
    pub state_root_us_per_tx: f64,
    /// Durable blocks not yet in the query index at the end of the window.
    pub index_lag_blocks: u64,
}

impl Window {
    pub fn between(a: &Counters, b: &Counters) -> Window {
        let fsyncs = b.fsyncs - a.fsyncs;
        Window {
            seconds: (b.at - a.at).as_secs_f64(),
            committed: b.committed - a.committed,
            blocks: b.blocks - a.blocks,
            fsyncs,
            fsync_ms_mean: (b.fsync_micros - a.fsync_micros) as f64 / 1000.0 / fsyncs.max(1) as f64,
            state_root_us_per_tx: (b.state_root_nanos - a.state_root_nanos) as f64
                / 1000.0
                / (b.committed - a.committed).max(1) as f64,
            index_lag_blocks: b.durable_height.saturating_sub(b.indexed_height),
        }
    }

    pub fn rate(&self) -> f64 {
        self.committed as f64 / self.seconds.max(1e-9)
    }
}

/// CPU use of one thread group over a window, in cores (1.0 = one core the whole time).
#[derive(Debug, Clone)]
pub struct ThreadUse {
    pub name: String,
    /// Time on a CPU.
    pub cores: f64,
    /// Time runnable but waiting for a CPU (the run queue), summed over the group's threads.
    pub waiting: f64,
}

/// (on-CPU, run-queue wait) nanoseconds per thread group ("ting-verify-*", "ting-executor", ...).
#[derive(Debug, Clone, Default)]
pub struct ThreadCpu(BTreeMap<String, (u64, u64)>);

impl ThreadCpu {
    /// Reads every thread of this process; threads that cannot be read are skipped.
    pub fn read() -> ThreadCpu {
        ThreadCpu::read_pid(std::process::id())
    }

    /// Reads every thread of process `pid` (another process too, such as a
    /// node the benchmark started).
    pub fn read_pid(pid: u32) -> ThreadCpu {
        let mut groups = BTreeMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return ThreadCpu(groups);
        };
        let pid = pid.to_string();
        for task in tasks.flatten() {
            let dir = task.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let sched = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
            let mut fields = sched.split_whitespace().map(|v| v.parse::<u64>().ok());
            let (Some(Some(run)), Some(Some(wait))) = (fields.next(), fields.next()) else {
                continue;
            };
            // The main thread carries the binary's name; it is the benchmark's submitter.
            let main = task.file_name().to_str() == Some(pid.as_str());
            let name = if main {
                "main".to_owned()
            } else {
                group_name(comm.trim())
            };
            let entry = groups.entry(name).or_insert((0, 0));
            entry.0 += run;
            entry.1 += wait;
        }
        ThreadCpu(groups)
    }

    /// On-CPU nanoseconds of every group together.
    pub fn total_ns(&self) -> u64 {
        self.0.values().map(|(run, _)| run).sum()
    }

    /// Use per group between `self` and `later`, `seconds` apart, busiest first.
    pub fn cores_since(&self, later: &ThreadCpu, seconds: f64) -> Vec<ThreadUse> {
        let per_s = |ns: u64| ns as f64 / 1e9 / seconds.max(1e-9);
        let mut out: Vec<ThreadUse> = later
            .0
            .iter()
            .map(|(name, (run, wait))| {
                let (run0, wait0) = self.0.get(name).copied().unwrap_or((0, 0));
                ThreadUse {
                    name: name.clone(),
                    cores: per_s(run.saturating_sub(run0)),
                    waiting: per_s(wait.saturating_sub(wait0)),
                }
            })
            .filter(|u| u.cores >= 0.005)
            .collect();
        out.sort_by(|a, b| b.cores.total_cmp(&a.cores));
        out
    }
}

/// Cumulative CPU time of the whole machine and of this process, in clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    busy: u64,
    idle: u64,
    ours: u64,
}

impl MachineCpu {
    /// Reads `/proc/stat` (all CPUs) and `/proc/self/stat` (this process); zeros where unreadable.
    pub fn read() -> MachineCpu {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        let busy = fields.iter().take(8).sum::<u64>().saturating_sub(idle);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // After the parenthesised name come state (field 3) ... utime (14) and stime (15).
        let after = own.rsplit_once(')').map_or("", |(_, rest)| rest);
        let field = |i: usize| {
            after
                .split_whitespace()
                .nth(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let ours = field(11) + field(12);
        MachineCpu { busy, idle, ours }
    }

    /// (cores busy in this process, cores busy in other processes, cores idle) since `self`.
    pub fn split_since(&self, later: &MachineCpu) -> (f64, f64, f64) {
        let total = (later.busy + later.idle).saturating_sub(self.busy + self.idle) as f64;
        if total == 0.0 {
            return (0.0, 0.0, 0.0);
        }
        let cores = super::cores() as f64;
        let share = |ticks: u64| ticks as f64 / total * cores;
        let ours = later.ours.saturating_sub(self.ours);
        let busy = later.busy.saturating_sub(self.busy);
        (
            share(ours),
            share(busy.saturating_sub(ours)),
            share(later.idle.saturating_sub(self.idle)),
        )
    }
}

/// Threads numbered per worker share one group: "ting-verify-1" -> "ting-verify-*".
fn group_name(comm: &str) -> String {
    match comm.rsplit_once('-') {
        Some((stem, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{stem}-*")
        }
        _ => comm.to_owned(),
    }
}

/// "ting-verify-* 1.52 (wait 0.20), ting-executor 0.21 (wait 0.01), ..." for the human report.
pub fn format_cores(list: &[ThreadUse]) -> String {
    list.iter()
        .map(|u| format!("{} {:.2} (wait {:.2})", u.name, u.cores, u.waiting))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `v` rounded to `digits` decimals, for the benches' JSON.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// How a report says whether a target was met.
pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::of((1..=1000).rev().map(|v| v * 1000).collect());
        assert_eq!(
            (l.samples, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms),
            (1000, 500.0, 950.0, 990.0, 1000.0)
        );
        let one = Latency::of(vec![2500]);
        assert_eq!((one.p50_ms, one.p99_ms), (2.5, 2.5));
        assert_eq!(Latency::of(Vec::new()).samples, 0);
    }

    #[test]
    fn numbered_worker_threads_share_a_group() {
        assert_eq!(group_name("ting-verify-12"), "ting-verify-*");
        assert_eq!(group_name("ting-executor"), "ting-executor");
        assert_eq!(group_name("bench-"), "bench-");
    }
}
