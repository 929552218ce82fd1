//! What the state machine does on one core: the order workload (`flow`)
//! and as many transfers (`Pairing`), each applied to its own copy of one
//! state, with the state map brought up to date every `BLOCK_TXS`
//! transactions as a block commit does. The state both start from is
//! warmed by as many order operations first: a book with orders resting
//! and leases open, so that the two measure the same state map (its size
//! sets what re-hashing a changed key costs), not an empty one against
//! one the orders grow. Signatures are not checked here
//! (the node's verification pool checks them before the state machine),
//! so both sides measure the state machine alone. Each side runs
//! `rounds` times, alternating, and keeps its fastest run: what the
//! machine can do, with the noise of a shared machine taken out.

use std::time::{Duration, Instant};

use ting_core::{Amount, Genesis, Keypair, Nonce, SignedTx, Timestamp, TxBody, TxKind};
use ting_ledger::State;

use super::super::workload::{self, BENCH_NETWORK};
use super::flow::{self, Mix};
use super::OrdersArgs;

/// Transactions between two updates of the state map: about a block.
const BLOCK_TXS: usize = 1_024;
/// Key purposes (`workload::keypair`): distinct from every other benchmark's.
const ISSUER_PURPOSE: u8 = 0x71;
const SENDER_PURPOSE: u8 = 0x72;
/// The time of the one-core runs' genesis and blocks (the state machine
/// reads no clock).
const CORE_TIME: Timestamp = Timestamp(1_800_000_000_000);
/// The hash-map seed of the states.
const HASH_SEED: u64 = 7;

#[derive(Debug)]
pub(super) struct CoreFigures {
    pub ops: usize,
    pub senders: usize,
    pub rounds: usize,
    /// Fastest run of each, per operation.
    pub order_ns: f64,
    /// Transfers between parties apart (`Pairing::Apart`), the baseline of
    /// `order_apply_ratio`, and round-robin ones (`Pairing::Next`).
    pub transfer_ns: f64,
    pub transfer_next_ns: f64,
    pub mix: Mix,
    /// The orders resting after the warm-up.
    pub warm_resting: usize,
    /// Orders resting on the book when the workload ends.
    pub resting: usize,
    /// Orders and leases in the state both runs start from.
    pub records: usize,
}

impl CoreFigures {
    pub fn ops_per_s(&self) -> f64 {
        1e9 / self.order_ns.max(1e-9)
    }

    pub fn apply_ratio(&self) -> f64 {
        self.order_ns / self.transfer_ns.max(1e-9)
    }

    /// The ratio against round-robin transfers, which re-hash about half
    /// as many state-map keys.
    pub fn apply_ratio_next(&self) -> f64 {
        self.order_ns / self.transfer_next_ns.max(1e-9)
    }
}

pub(super) fn measure(args: &OrdersArgs) -> anyhow::Result<CoreFigures> {
    let issuer = workload::keypair(ISSUER_PURPOSE, 0);
    let senders: Vec<Keypair> = (0..args.senders as u64)
        .map(|i| workload::keypair(SENDER_PURPOSE, i))
        .collect();
    // A fixed time: the genesis hash, and so every order id and the
    // workload drawn from them, is the same in every run of one seed.
    let at = CORE_TIME;
    let genesis = Genesis {
        name: "ting-bench-orders".into(),
        network: BENCH_NETWORK,
        timestamp: at,
        issuers: vec![issuer.account()],
        sequencers: vec![workload::keypair(ISSUER_PURPOSE, 1).account()],
        allocations: senders
            .iter()
            .map(|k| (k.account(), Amount::new(1 << 40)))
            .collect(),
        clock: ting_core::LedgerClock::Real,
    };
    let mut base = State::from_genesis(&genesis, HASH_SEED);
    let register = flow::register(&issuer, &base);
    base.apply_tx(&register, at)
        .map_err(|e| anyhow::anyhow!("the class registration was refused: {e}"))?;
    base.update_root();
    let bar = super::super::spinner("warming the book and making the order workload");
    flow::make(&mut base, &senders, args.ops, at, args.seed);
    base.update_root();
    let warm_resting = base.orders().count();
    let mut dry = base.clone();
    let flow = flow::make(&mut dry, &senders, args.ops, at, args.seed.wrapping_add(1));
    bar.finish_and_clear();
    let resting = dry.orders().count();
    drop(dry);
    let apart = transfers_from(&senders, &base, args.ops, Pairing::Apart);
    let next = transfers_from(&senders, &base, args.ops, Pairing::Next);
    let orders = flow.unsigned();
    let mut best = [Duration::MAX; 3];
    let bar = super::super::spinner("applying orders and transfers on one core");
    for _ in 0..args.rounds {
        for (i, txs) in [&apart, &next, &orders].into_iter().enumerate() {
            best[i] = best[i].min(timed(&base, txs, at)?);
        }
    }
    let [best_transfers, best_next, best_orders] = best;
    bar.finish_and_clear();
    let per_op = |d: Duration| d.as_nanos() as f64 / args.ops as f64;
    Ok(CoreFigures {
        ops: args.ops,
        senders: args.senders,
        rounds: args.rounds,
        order_ns: per_op(best_orders),
        transfer_ns: per_op(best_transfers),
        transfer_next_ns: per_op(best_next),
        mix: flow.mix,
        warm_resting,
        resting,
        records: base.orders().count() + base.leases().count(),
    })
}

/// How long `txs` take to apply to a copy of `base`, commits included.
fn timed(base: &State, txs: &[SignedTx], at: Timestamp) -> anyhow::Result<Duration> {
    let mut state = base.clone();
    let start = Instant::now();
    for (i, tx) in txs.iter().enumerate() {
        state
            .apply_tx(tx, at)
            .map_err(|e| anyhow::anyhow!("transaction {i} was refused ({e}): a benchmark bug"))?;
        if i % BLOCK_TXS == BLOCK_TXS - 1 {
            state.update_root();
        }
    }
    state.update_root();
    let took = start.elapsed();
    drop(state);
    Ok(took)
}

/// How a transfer workload picks each sender's recipient.
#[derive(Clone, Copy, Debug)]
enum Pairing {
    /// Sender `s` pays `s + 1`, the next sender: a block touches each
    /// account twice and re-hashes about one state-map key per transfer
    /// (`bench ledger`'s workload).
    Next,
    /// Sender `s` pays `s + senders / 2`, which sends nothing else in the
    /// block: two keys per transfer, as transfers between parties that
    /// trade with nobody else in the block are.
    Apart,
}

/// `n` transfers of one base unit from `state`, sender by sender in turn,
/// each sender's nonces following on from its next one, unsigned.
fn transfers_from(senders: &[Keypair], state: &State, n: usize, pairing: Pairing) -> Vec<SignedTx> {
    let next: Vec<u64> = senders
        .iter()
        .map(|k| state.next_nonce(&k.account()).0)
        .collect();
    let step = match pairing {
        Pairing::Next => 1,
        Pairing::Apart => (senders.len() / 2).max(1),
    };
    (0..n)
        .map(|i| {
            let s = i % senders.len();
            let body = TxBody {
                genesis: state.genesis_hash(),
                sender: senders[s].account(),
                nonce: Nonce(next[s] + (i / senders.len()) as u64),
                valid_until: Timestamp(u64::MAX),
                kind: TxKind::Transfer {
                    to: senders[(s + step) % senders.len()].account(),
                    amount: Amount::new(1),
                    memo: Vec::new(),
                },
            };
            flow::unsigned(&body)
        })
        .collect()
}
