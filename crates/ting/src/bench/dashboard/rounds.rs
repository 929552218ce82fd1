//! The ledger's rate with the watchers over the rate without them, in
//! rounds: each a window without watchers and the same window with them
//! (opened before it, closed after it), every other round in the other order.
//!
//! The node's pipeline is kept busy in process (`driver`, as `bench orders`
//! and `bench market` drive it) with signed round-robin transfers, as in
//! `bench ledger`. Windows without and with watchers have senders of their
//! own; each window's transfers are signed just before it, from where the
//! last window of its kind stopped (the committed count: a window that ends
//! before its transfers do leaves no gap in the nonces), sized by the
//! verification capacity or the fastest window so far, whichever is more.
//! Watcher `j` of `W` watches sender `j * S / W` of the watched windows' `S`.
//!
//! On a machine shared with other work one window can fall on a busy moment;
//! the ratio is the median of the rounds' ratios, and each round says how
//! many cores other processes took during its windows.
//!
//! At peak the watchers' cost shows as a lower rate, not as more CPU (the
//! cores are all busy either way), so what they cost the node is measured
//! apart (`Cost`): two windows paced at the same rate, a quarter of the
//! fastest window without watchers, without and then with them; the node's threads'
//! CPU in the second beyond the first is the watchers'.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ting_core::limits::{QUEUE_TXS_MAX, VERIFY_BATCH_TXS_MAX, VERIFY_QUEUE_TXS_MAX};
use ting_core::{AccountId, Genesis, Hash32, Keypair, SignedTx};
use ting_node::Shared;
use tokio::runtime::Runtime;

use super::super::capacity::{self, Capacity};
use super::super::drive::{settle, Direct, Phase};
use super::super::workload::{self, par_map, transfers};
use super::super::{cores, driver, progress, spinner};
use super::client::EventCounts;
use super::history::Keys;
use super::watchers::{self, Watched};
use super::{Plan, WARM_UP};

const CAPACITY_SECONDS: f64 = 1.0;
const CAPACITY_SAMPLE_BATCHES: usize = 8;
/// Transfers signed for a window beyond what the verification capacity
/// could take in it (every transfer is verified, so the rate stays below the
/// capacity, unless that was measured while other work ran).
const CAPACITY_HEADROOM: f64 = 1.6;
/// Transfers signed for a window beyond what the fastest window so far took.
const RATE_HEADROOM: f64 = 1.3;
/// Transfers kept unanswered: a quarter second of the verification
/// capacity, within the node's queues and at least four batches (as `bench orders`).
const INFLIGHT_SECONDS: f64 = 0.25;
const INFLIGHT_MIN: usize = 4 * VERIFY_BATCH_TXS_MAX;
/// The load of the windows that measure what the watchers cost the node:
/// this share of the fastest window without watchers, so that neither
/// window is short of a core (on two cores, other work beside) and the
/// node's other work is the same in both.
const COST_LOAD: f64 = 0.25;
/// Transfers signed for a paced window beyond what its rate takes.
const PACED_HEADROOM: f64 = 1.1;

/// The verification capacity, which sizes the windows' transfers.
#[derive(Debug, Clone, Copy)]
pub struct Sizing {
    capacity: Capacity,
    inflight: usize,
}

impl Sizing {
    /// Measures the capacity over a sample of transfers (none of them is sent).
    pub fn measure(keys: &Keys, genesis: &Genesis) -> Sizing {
        let sample: Vec<SignedTx> = workload::signed_chunks(
            &keys.quiet,
            &genesis.hash(),
            CAPACITY_SAMPLE_BATCHES,
            VERIFY_BATCH_TXS_MAX,
        )
        .into_iter()
        .flatten()
        .collect();
        let bar = spinner("measuring verification capacity");
        let capacity = capacity::measure(&sample, cores(), CAPACITY_SECONDS);
        bar.finish_and_clear();
        let inflight = whole(capacity.per_s * INFLIGHT_SECONDS)
            .clamp(INFLIGHT_MIN, QUEUE_TXS_MAX.min(VERIFY_QUEUE_TXS_MAX));
        Sizing { capacity, inflight }
    }
}

/// `v` rounded up to a count; `v` is a non-negative count far below `usize::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: f64) -> usize {
    v.max(0.0).ceil() as usize
}

/// One kind of window's senders and where their round-robin order stands.
struct Senders<'a> {
    keys: &'a [Keypair],
    /// The next transfer of the order.
    next: u64,
}

impl Senders<'_> {
    /// Enough transfers for a warm-up and a window at `per_s`, plus what is kept in flight.
    fn sign(
        &self,
        genesis: &Hash32,
        per_s: f64,
        inflight: usize,
        plan: &Plan,
    ) -> Vec<Vec<SignedTx>> {
        let needed = per_s * (WARM_UP + plan.window).as_secs_f64() + inflight as f64;
        let (chunks, chunk) = (
            whole(needed / VERIFY_BATCH_TXS_MAX as f64),
            VERIFY_BATCH_TXS_MAX,
        );
        let bar = progress((chunks * chunk) as u64, "signing transfers");
        let out = par_map(chunks, &bar, |c| {
            bar.inc(chunk as u64 - 1);
            transfers(
                self.keys,
                genesis,
                self.next + (c * chunk) as u64,
                chunk,
                true,
            )
        });
        bar.finish_and_clear();
        out
    }
}

/// One round: a window without watchers, then one with them.
#[derive(Debug, Clone)]
pub struct Round {
    pub without: Phase,
    pub with: Phase,
    pub watched: Watched,
    /// Whether the window with the watchers ran first.
    pub with_first: bool,
}

impl Round {
    pub fn ratio(&self) -> f64 {
        self.with.window.rate() / self.without.window.rate().max(1e-9)
    }
}

/// The same paced rate without and with the watchers: what they cost the node.
#[derive(Debug, Clone)]
pub struct Cost {
    /// Transfers per second asked for: `COST_LOAD` of the fastest window without watchers.
    pub rate: f64,
    pub without: Phase,
    pub with: Phase,
    pub watched: Watched,
}

/// What the rounds measured.
#[derive(Debug, Clone)]
pub struct Figures {
    pub capacity: Capacity,
    pub inflight: usize,
    pub rounds: Vec<Round>,
    pub cost: Cost,
}

impl Figures {
    /// The median of the rounds' ratios.
    pub fn ratio(&self) -> f64 {
        let mut ratios: Vec<f64> = self.rounds.iter().map(Round::ratio).collect();
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => ratios[n / 2],
            _ => (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0,
        }
    }

    fn phases(&self, with: bool) -> impl Iterator<Item = &Phase> {
        self.rounds
            .iter()
            .map(move |r| if with { &r.with } else { &r.without })
    }

    /// Committed transfers per second over the rounds' windows of a kind.
    pub fn rate(&self, with: bool) -> f64 {
        let (txs, s) = self.phases(with).fold((0, 0.0), |(t, s), p| {
            (t + p.window.committed, s + p.window.seconds)
        });
        txs as f64 / f64::max(s, 1e-9)
    }

    /// Cores per thread group over the rounds' windows of a kind (weighted by their lengths).
    pub fn cores_by_group(&self, with: bool) -> BTreeMap<String, f64> {
        let total: f64 = self.phases(with).map(|p| p.window.seconds).sum();
        let mut out = BTreeMap::new();
        for p in self.phases(with) {
            for u in &p.cpu {
                *out.entry(u.name.clone()).or_insert(0.0) +=
                    u.cores * p.window.seconds / total.max(1e-9);
            }
        }
        out
    }

    /// Every window's streams.
    fn watched(&self) -> impl Iterator<Item = &Watched> {
        self.rounds
            .iter()
            .map(|r| &r.watched)
            .chain([&self.cost.watched])
    }

    fn counts(&self) -> impl Iterator<Item = (&EventCounts, u64)> {
        self.watched()
            .flat_map(|w| w.counts.iter().zip(w.expected.iter().copied()))
    }

    pub fn receipts_total(&self) -> u64 {
        self.counts().map(|(c, _)| c.receipts).sum()
    }

    /// The fewest receipts one watcher got in one window.
    pub fn receipts_min(&self) -> u64 {
        self.counts().map(|(c, _)| c.receipts).min().unwrap_or(0)
    }

    pub fn receipts_expected(&self) -> u64 {
        self.counts().map(|(_, e)| e).sum()
    }

    /// Expected receipts that never came (a stream that lagged loses some).
    pub fn receipts_missing(&self) -> u64 {
        self.counts()
            .map(|(c, e)| e.saturating_sub(c.receipts))
            .sum()
    }

    pub fn lagged(&self) -> u64 {
        self.counts().map(|(c, _)| c.lagged).sum()
    }

    pub fn block_events(&self) -> u64 {
        self.counts().map(|(c, _)| c.blocks).sum()
    }
}

/// What every window of a run shares.
struct Run<'a> {
    shared: &'a Arc<Shared>,
    net: (&'a Runtime, SocketAddr),
    accounts: Vec<(Option<usize>, AccountId)>,
    sizing: Sizing,
    plan: &'a Plan,
}

pub fn measure(
    shared: &Arc<Shared>,
    net: (&Runtime, SocketAddr),
    keys: &Keys,
    sizing: Sizing,
    plan: &Plan,
) -> anyhow::Result<Figures> {
    let run = Run {
        shared,
        net,
        accounts: watched_accounts(keys, plan),
        sizing,
        plan,
    };
    let mut quiet = Senders {
        keys: &keys.quiet,
        next: 0,
    };
    let mut watched = Senders {
        keys: &keys.watched,
        next: 0,
    };
    let mut fastest = sizing.capacity.per_s * CAPACITY_HEADROOM;
    let mut rounds = Vec::with_capacity(plan.rounds);
    let mut fastest_without: f64 = 0.0;
    for r in 0..plan.rounds {
        let what = format!("round {} of {}", r + 1, plan.rounds);
        // Every other round runs its windows the other way round, so that a
        // drift across the run, or what the first window leaves the second,
        // falls on both kinds alike.
        let with_first = r % 2 == 1;
        let (mut without, mut with) = (None, None);
        for watching in [with_first, !with_first] {
            if watching {
                let chunks = watched.sign(&shared.genesis_hash, fastest, sizing.inflight, plan);
                let what = format!("{what}: {} watchers", plan.watchers);
                let (phase, streams) = watchers::around(net, &run.accounts, plan.senders, || {
                    let from = watched.next;
                    let phase = run.peak(chunks, &mut watched, &what)?;
                    Ok((phase, (from, watched.next)))
                })?;
                fastest = fastest.max(phase.window.rate() * RATE_HEADROOM);
                with = Some((phase, streams));
            } else {
                let chunks = quiet.sign(&shared.genesis_hash, fastest, sizing.inflight, plan);
                let phase = run.peak(chunks, &mut quiet, &format!("{what}: no watcher"))?;
                fastest = fastest.max(phase.window.rate() * RATE_HEADROOM);
                fastest_without = fastest_without.max(phase.window.rate());
                without = Some(phase);
            }
        }
        let (without, (with, watched_streams)) = without.zip(with).expect("both windows ran");
        rounds.push(Round {
            without,
            with,
            watched: watched_streams,
            with_first,
        });
    }
    let cost = run.cost(fastest_without * COST_LOAD, (&mut quiet, &mut watched))?;
    Ok(Figures {
        capacity: sizing.capacity,
        inflight: sizing.inflight,
        rounds,
        cost,
    })
}

/// The accounts the watchers watch: senders of the window with them, spread
/// over its senders; or, with `--idle`, senders of the hub's history, which
/// no window touches.
fn watched_accounts(keys: &Keys, plan: &Plan) -> Vec<(Option<usize>, AccountId)> {
    (0..plan.watchers)
        .map(|j| {
            if plan.idle {
                (None, keys.history[j].account())
            } else {
                let k = j * plan.senders / plan.watchers;
                (Some(k), keys.watched[k].account())
            }
        })
        .collect()
}

impl Run<'_> {
    /// A window at the node's peak, after the index caught up; moves
    /// `senders` past the transfers it committed (all it submitted: the
    /// driver waits for every answer and fails on a refusal).
    fn peak(
        &self,
        chunks: Vec<Vec<SignedTx>>,
        senders: &mut Senders<'_>,
        what: &str,
    ) -> anyhow::Result<Phase> {
        let bar = spinner("waiting for the indexer to catch up");
        settle(self.shared);
        bar.set_message(what.to_owned());
        let before = self.committed();
        let phase = driver::run(
            self.shared,
            chunks,
            self.sizing.inflight,
            WARM_UP,
            self.plan.window,
        );
        senders.next += self.committed() - before;
        bar.finish_and_clear();
        phase
    }

    /// A window paced at `rate`, after the index caught up; moves `senders`
    /// past the transfers it committed.
    fn paced(&self, rate: f64, senders: &mut Senders<'_>, what: &str) -> anyhow::Result<Phase> {
        let chunks = senders.sign(
            &self.shared.genesis_hash,
            rate * PACED_HEADROOM,
            0,
            self.plan,
        );
        let bar = spinner("waiting for the indexer to catch up");
        settle(self.shared);
        bar.set_message(what.to_owned());
        let before = self.committed();
        let mut driver = Direct::new(Arc::clone(self.shared), chunks);
        let phase = driver.paced(rate, VERIFY_BATCH_TXS_MAX, WARM_UP, self.plan.window);
        driver.finish();
        senders.next += self.committed() - before;
        bar.finish_and_clear();
        phase
    }

    /// The same paced rate without and with the watchers.
    fn cost(
        &self,
        rate: f64,
        (quiet, watched): (&mut Senders<'_>, &mut Senders<'_>),
    ) -> anyhow::Result<Cost> {
        let what = format!("{rate:.0} /s, no watcher");
        let without = self.paced(rate, quiet, &what)?;
        let what = format!("{rate:.0} /s, {} watchers", self.plan.watchers);
        let (with, streams) =
            watchers::around(self.net, &self.accounts, self.plan.senders, || {
                let from = watched.next;
                let phase = self.paced(rate, watched, &what)?;
                Ok((phase, (from, watched.next)))
            })?;
        Ok(Cost {
            rate,
            without,
            with,
            watched: streams,
        })
    }

    fn committed(&self) -> u64 {
        self.shared.metrics.txs_committed.load(Ordering::Relaxed)
    }
}
