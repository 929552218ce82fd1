//! What a hold costs the node beside a transfer: the node's pipeline kept
//! busy in process (`driver`), one workload after another on the same
//! node, each on senders of its own:
//!
//! - **transfers**: the round-robin transfers of `bench ledger`;
//! - **holds** (`hold_tx_ratio`): the market's mix, as every contract of
//!   the contracts run ends: `hold_create` by a payer, `hold_accept` by its
//!   payee, `hold_release` by the payer with evidence its own key signed,
//!   each counted as one transaction. The release checks the evidence's
//!   signature in the executor, beside the transaction's own in the
//!   verification workers;
//! - **holds released by the payer**: the same without evidence, which
//!   says what the evidence costs.
//!
//! Evidence must be observed after its hold was created and before the
//! release lands, so it cannot be signed before the run like the rest. A
//! holds run therefore starts with a warm set: its holds are created and
//! accepted (unmeasured), then their evidence and releases are signed, and
//! the measured stream creates and accepts new holds while it releases the
//! warm ones, round by round, in the same proportions. Both hold runs are
//! made so, so that both keep as many holds open (one per payer and
//! round, as a market keeps its holds open while the services are
//! delivered) and differ only in the evidence. Every prefix of each
//! workload applies in order (the node keeps submission order), so a
//! refusal is a benchmark bug and stops the run.

use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use ting_core::limits::{
    HOLDS_OPEN_PER_PAYER_MAX, HOLD_GRACE_MS_DEFAULT, QUEUE_TXS_MAX, VERIFY_BATCH_TXS_MAX,
    VERIFY_QUEUE_TXS_MAX,
};
use ting_core::market::{
    Condition, Evidence, FieldRule, HoldId, HoldTerms, ReleaseRule, SignedEvidence, Template, Value,
};
use ting_core::{Amount, Hash32, Keypair, Nonce, SignedTx, Timestamp, TxBody, TxKind};
use ting_node::Shared;

use super::super::capacity::{self, Capacity};
use super::super::drive::{settle, Phase};
use super::super::driver;
use super::super::workload::{self, par_map};
use super::super::{cores, now_ms, progress, spinner};
use super::net::Keys;
use super::{MarketArgs, WARM_UP};

/// How long the capacity run measures: it only sizes the workloads.
const CAPACITY_SECONDS: f64 = 1.0;
const CAPACITY_SAMPLE_BATCHES: usize = 8;
/// Workload prepared beyond what the capacity could consume.
const HEADROOM: f64 = 1.3;
/// Transactions kept unanswered: this long of the verification capacity
/// (the node at peak answers a transaction in about this time, mostly
/// queueing, so it never waits for work), within the node's admission
/// queue and at least four verification batches.
const INFLIGHT_SECONDS: f64 = 0.25;
const INFLIGHT_MIN: usize = 4 * VERIFY_BATCH_TXS_MAX;
/// Transactions in one hold: create, accept, release.
const HOLD_TXS: usize = 3;
/// Rounds of holds at most (each payer keeps one open per warm round).
const ROUNDS_MAX: usize = HOLDS_OPEN_PER_PAYER_MAX - 4;
/// The category, template and evidence of the workload's holds.
const CATEGORY: &str = "bench.service.fit";
const EVENT_FIELD: &str = "event";
const EVENT_DONE: &[u8] = b"service_done";
/// A hold's deadline, from when the workload is made.
const DEADLINE_MS: u64 = 86_400_000;

/// What the transaction runs measured.
#[derive(Debug)]
pub(super) struct TxFigures {
    pub capacity: Capacity,
    pub senders: usize,
    pub transfers: Phase,
    pub holds: Phase,
    pub holds_payer: Phase,
    /// Rounds of each hold workload (a round: one hold per payer).
    pub rounds: usize,
    /// Transactions the driver kept unanswered.
    pub inflight: usize,
}

impl TxFigures {
    pub fn hold_tx_ratio(&self) -> f64 {
        self.holds.window.rate() / self.transfers.window.rate().max(1e-9)
    }

    pub fn hold_tx_ratio_payer_release(&self) -> f64 {
        self.holds_payer.window.rate() / self.transfers.window.rate().max(1e-9)
    }
}

/// The machine's verification capacity, with nothing else running: it
/// sizes the workloads, and is reported beside them.
pub(super) fn capacity(keys: &Keys, genesis: &Hash32) -> Capacity {
    let sample: Vec<SignedTx> = workload::signed_chunks(
        &keys.tx_senders[0],
        genesis,
        CAPACITY_SAMPLE_BATCHES,
        VERIFY_BATCH_TXS_MAX,
    )
    .into_iter()
    .flatten()
    .collect();
    let bar = spinner("measuring verification capacity");
    let capacity = capacity::measure(&sample, cores(), CAPACITY_SECONDS);
    bar.finish_and_clear();
    capacity
}

/// Transfers, then holds, then holds released by the payer, through `shared`.
pub(super) fn measure(
    shared: &Arc<Shared>,
    keys: &Keys,
    args: &MarketArgs,
    capacity: Capacity,
) -> anyhow::Result<TxFigures> {
    let window = Duration::from_secs(args.tx_seconds);
    let inflight = whole(capacity.per_s * INFLIGHT_SECONDS)
        .clamp(INFLIGHT_MIN, QUEUE_TXS_MAX.min(VERIFY_QUEUE_TXS_MAX));
    let run = Run {
        shared,
        inflight,
        window,
    };
    let genesis = shared.state.read().expect("state lock").genesis_hash();
    let needed = run.needed(capacity.per_s);
    let chunks = whole(needed / VERIFY_BATCH_TXS_MAX as f64);
    let transfers =
        workload::signed_chunks(&keys.tx_senders[0], &genesis, chunks, VERIFY_BATCH_TXS_MAX);
    let transfers = run.peak(transfers, "transfers")?;

    // A hold's transactions each cost the node at least a transfer's, so
    // the transfers' rate bounds theirs: the workloads are sized by it
    // (a debug build's node takes a fraction of what its crypto could).
    let needed = run.needed(capacity.per_s.min(transfers.window.rate()));
    let senders = args.tx_senders;
    let rounds = whole(needed / (HOLD_TXS * senders) as f64).max(1);
    ensure!(
        rounds <= ROUNDS_MAX,
        "{rounds} rounds of holds would be needed for {needed:.0} transactions; \
         at most {ROUNDS_MAX} are (open holds per payer): raise --tx-senders"
    );
    let holds = Holds::new(&keys.tx_senders[1], genesis, true);
    let with_evidence = run.holds(&holds, rounds, "holds released by evidence")?;
    let payer = Holds::new(&keys.tx_senders[2], genesis, false);
    let holds_payer = run.holds(&payer, rounds, "holds released by the payer")?;
    Ok(TxFigures {
        capacity,
        senders,
        transfers,
        holds: with_evidence,
        holds_payer,
        rounds,
        inflight,
    })
}

/// The node and how the driver keeps it busy.
struct Run<'a> {
    shared: &'a Arc<Shared>,
    inflight: usize,
    window: Duration,
}

impl Run<'_> {
    /// Transactions to prepare for a warm-up and the window at `per_s`,
    /// with headroom, beyond those kept unanswered.
    fn needed(&self, per_s: f64) -> f64 {
        per_s * (WARM_UP + self.window).as_secs_f64() * HEADROOM + self.inflight as f64
    }

    /// Keeps the pipeline busy with `chunks` for a warm-up and the window,
    /// the query index caught up first.
    fn peak(&self, chunks: Vec<Vec<SignedTx>>, what: &str) -> anyhow::Result<Phase> {
        let bar = spinner("waiting for the indexer to catch up");
        settle(self.shared);
        bar.set_message(format!("{what}: keeping the pipeline busy"));
        let phase =
            driver::run_full_window(self.shared, chunks, self.inflight, WARM_UP, self.window);
        bar.finish_and_clear();
        phase
    }

    /// A holds run: the warm set, then the measured stream.
    fn holds(&self, holds: &Holds<'_>, rounds: usize, what: &str) -> anyhow::Result<Phase> {
        let warm = holds.sign(&holds.warm(rounds), "signing the warm holds");
        self.all(warm, "creating and accepting the warm holds")?;
        // Every warm hold is durable, so it was created before now.
        let observed = Timestamp(now_ms());
        let stream = holds.sign(&holds.stream(rounds, observed), "signing the holds");
        self.peak(stream, what)
    }

    /// Submits every chunk as fast as the pipeline takes them and waits
    /// for every reply.
    fn all(&self, chunks: Vec<Vec<SignedTx>>, what: &str) -> anyhow::Result<()> {
        /// Longer than any set of warm holds takes.
        const UNTIL_DONE: Duration = Duration::from_secs(3_600);
        let bar = spinner(what);
        let done = driver::run(
            self.shared,
            chunks,
            self.inflight,
            Duration::ZERO,
            UNTIL_DONE,
        );
        bar.finish_and_clear();
        done.map(|_| ())
    }
}

/// `v` rounded up to a count; `v` is a non-negative count far below `usize::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: f64) -> usize {
    v.max(0.0).ceil() as usize
}

/// One transaction of a hold workload, before it is signed. Payer `s`
/// pays payee `s + 1` (modulo the senders); a hold is named by its
/// payer's nonce at creation.
#[derive(Clone, Copy, Debug)]
enum Step {
    Create {
        payer: usize,
        nonce: u64,
    },
    Accept {
        payer: usize,
        hold_nonce: u64,
        nonce: u64,
    },
    Release {
        payer: usize,
        hold_nonce: u64,
        nonce: u64,
        observed: Option<Timestamp>,
    },
}

/// Hold workloads over one list of senders, released by the payer's
/// evidence or on its word.
struct Holds<'a> {
    senders: &'a [Keypair],
    genesis: Hash32,
    deadline: Timestamp,
    evidence: bool,
}

impl<'a> Holds<'a> {
    fn new(senders: &'a [Keypair], genesis: Hash32, evidence: bool) -> Holds<'a> {
        Holds {
            senders,
            genesis,
            deadline: Timestamp(now_ms().saturating_add(DEADLINE_MS)),
            evidence,
        }
    }

    fn n(&self) -> usize {
        self.senders.len()
    }

    /// Round `r` of the warm set: every payer creates a hold (nonce `2r`),
    /// then every payee accepts one (nonce `2r + 1`).
    fn warm(&self, rounds: usize) -> Vec<Step> {
        let mut out = Vec::with_capacity(2 * rounds * self.n());
        for r in 0..rounds as u64 {
            self.creates(&mut out, 2 * r);
            self.accepts(&mut out, 2 * r, 2 * r + 1);
        }
        out
    }

    /// The measured stream after `rounds` warm rounds: round `r` creates
    /// and accepts a new hold per payer and releases warm hold `r` (with
    /// evidence observed at `observed`, when the holds ask for it).
    fn stream(&self, rounds: usize, observed: Timestamp) -> Vec<Step> {
        let base = 2 * rounds as u64;
        let observed = self.evidence.then_some(observed);
        let mut out = Vec::with_capacity(HOLD_TXS * rounds * self.n());
        for r in 0..rounds as u64 {
            let at = base + 3 * r;
            self.creates(&mut out, at);
            self.accepts(&mut out, at, at + 1);
            self.releases(&mut out, 2 * r, at + 2, observed);
        }
        out
    }

    fn creates(&self, out: &mut Vec<Step>, nonce: u64) {
        out.extend((0..self.n()).map(|payer| Step::Create { payer, nonce }));
    }

    fn accepts(&self, out: &mut Vec<Step>, hold_nonce: u64, nonce: u64) {
        out.extend((0..self.n()).map(|payer| Step::Accept {
            payer,
            hold_nonce,
            nonce,
        }));
    }

    fn releases(
        &self,
        out: &mut Vec<Step>,
        hold_nonce: u64,
        nonce: u64,
        observed: Option<Timestamp>,
    ) {
        out.extend((0..self.n()).map(|payer| Step::Release {
            payer,
            hold_nonce,
            nonce,
            observed,
        }));
    }

    /// Signs `steps` on every core, in chunks of the node's verification batch.
    fn sign(&self, steps: &[Step], what: &str) -> Vec<Vec<SignedTx>> {
        let bar = progress(steps.len() as u64, what);
        let chunks = steps.len().div_ceil(VERIFY_BATCH_TXS_MAX);
        let out = par_map(chunks, &bar, |c| {
            let from = c * VERIFY_BATCH_TXS_MAX;
            let to = (from + VERIFY_BATCH_TXS_MAX).min(steps.len());
            bar.inc((to - from) as u64 - 1);
            steps[from..to].iter().map(|s| self.tx(*s)).collect()
        });
        bar.finish_and_clear();
        out
    }

    fn hold(&self, payer: usize, nonce: u64) -> HoldId {
        HoldId::derive(&self.genesis, &self.senders[payer].account(), Nonce(nonce))
    }

    fn tx(&self, step: Step) -> SignedTx {
        let n = self.n();
        let (sender, nonce, kind) = match step {
            Step::Create { payer, nonce } => (
                payer,
                nonce,
                TxKind::HoldCreate {
                    terms: self.terms(payer, nonce),
                },
            ),
            Step::Accept {
                payer,
                hold_nonce,
                nonce,
            } => (
                (payer + 1) % n,
                nonce,
                TxKind::HoldAccept {
                    hold: self.hold(payer, hold_nonce),
                },
            ),
            Step::Release {
                payer,
                hold_nonce,
                nonce,
                observed,
            } => {
                let hold = self.hold(payer, hold_nonce);
                let evidence = observed.map(|at| self.evidence(payer, hold, at));
                (payer, nonce, TxKind::HoldRelease { hold, evidence })
            }
        };
        let key = &self.senders[sender];
        TxBody {
            genesis: self.genesis,
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(u64::MAX),
            kind,
        }
        .sign(key)
    }

    /// What payer `s` holds for payee `s + 1`: one base unit, due in a day,
    /// released by the payer's own evidence (or on its word).
    fn terms(&self, payer: usize, nonce: u64) -> HoldTerms {
        let rule = if self.evidence {
            ReleaseRule::Evidence {
                device: self.senders[payer].account(),
                template: Template {
                    rules: vec![FieldRule {
                        name: EVENT_FIELD.into(),
                        condition: Condition::Equals(EVENT_DONE.to_vec()),
                    }],
                },
            }
        } else {
            ReleaseRule::Payer
        };
        HoldTerms {
            payee: self.senders[(payer + 1) % self.n()].account(),
            amount: Amount::new(1),
            deadline: self.deadline,
            grace_ms: HOLD_GRACE_MS_DEFAULT,
            terms: Hash32::digest(&[&self.senders[payer].account().0, &nonce.to_le_bytes()]),
            category: CATEGORY.into(),
            rule,
            arbiter: None,
        }
    }

    fn evidence(&self, payer: usize, hold: HoldId, observed_at: Timestamp) -> SignedEvidence {
        Evidence {
            hold,
            observed_at,
            fields: vec![(EVENT_FIELD.into(), Value::Text(EVENT_DONE.to_vec()))],
        }
        .sign(&self.senders[payer], &self.genesis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::Genesis;
    use ting_ledger::State;

    /// Two lists of `n` senders (`Holds` starts at nonce 0), funded.
    fn senders(n: u64) -> ([Vec<Keypair>; 2], Genesis) {
        let list = |purpose: u8| -> Vec<Keypair> {
            (0..n).map(|i| workload::keypair(purpose, i)).collect()
        };
        let senders = [list(0x61), list(0x62)];
        let genesis = Genesis {
            name: "t".into(),
            network: workload::BENCH_NETWORK,
            timestamp: Timestamp(1),
            issuers: Vec::new(),
            sequencers: vec![workload::keypair(0x0d, 0).account()],
            allocations: senders
                .iter()
                .flatten()
                .map(|k| (k.account(), Amount::new(1 << 40)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        };
        (senders, genesis)
    }

    fn apply(state: &mut State, txs: &[SignedTx], at: Timestamp) {
        for tx in txs {
            assert_eq!(state.apply_tx(tx, at), Ok(()), "{tx:?}");
        }
    }

    fn flat(chunks: Vec<Vec<SignedTx>>) -> Vec<SignedTx> {
        chunks.into_iter().flatten().collect()
    }

    #[test]
    fn every_hold_workload_applies_in_order_and_ends_what_it_opens() {
        let ([keys, others], genesis) = senders(5);
        let mut state = State::from_genesis(&genesis, 7);
        let holds = Holds::new(&keys, genesis.hash(), true);
        let at = Timestamp(now_ms());
        apply(&mut state, &flat(holds.sign(&holds.warm(3), "warm")), at);
        assert_eq!(state.holds().count(), 15);
        let later = Timestamp(at.0 + 10);
        let stream = flat(holds.sign(&holds.stream(3, later), "stream"));
        assert_eq!(stream.len(), 3 * 3 * 5);
        apply(&mut state, &stream, later);
        assert_eq!(state.holds().count(), 15, "as many created as released");
        let payer = Holds::new(&others, genesis.hash(), false);
        apply(&mut state, &flat(payer.sign(&payer.warm(2), "warm")), later);
        let no_evidence = flat(payer.sign(&payer.stream(2, Timestamp(0)), "payer"));
        assert!(no_evidence.iter().all(|tx| !matches!(
            &tx.body().kind,
            TxKind::HoldRelease {
                evidence: Some(_),
                ..
            }
        )));
        apply(&mut state, &no_evidence, later);
        assert_eq!(state.holds().count(), 15 + 10);
        assert_eq!(state.held_sum(), Some(state.supply()));
        assert_eq!(state.next_nonce(&keys[0].account()).0, 2 * 3 + 3 * 3);
        assert_eq!(state.next_nonce(&others[4].account()).0, 2 * 2 + 3 * 2);
    }

    #[test]
    fn evidence_observed_before_its_hold_existed_is_refused_so_the_warm_set_comes_first() {
        let ([keys, _], genesis) = senders(2);
        let mut state = State::from_genesis(&genesis, 7);
        let holds = Holds::new(&keys, genesis.hash(), true);
        let at = Timestamp(now_ms());
        apply(&mut state, &flat(holds.sign(&holds.warm(1), "warm")), at);
        let early = flat(holds.sign(&holds.stream(1, Timestamp(at.0 - 1)), "stream"));
        let (before, releases) = early.split_at(2 * 2);
        apply(&mut state, before, at);
        let refused = state
            .apply_tx(&releases[0], at)
            .expect_err("observed too early");
        assert_eq!(refused.code(), "evidence_out_of_time");
    }
}
