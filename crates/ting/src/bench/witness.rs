//! `ting bench witness`: can one witness keep up with the sequencer on equal
//! hardware? The in-process node makes blocks of `--txs` signed transfers as
//! fast as it can (its pipeline full, verification on every core). Then a
//! witness checks the same blocks, read from the node's log beforehand, the
//! way `ting node --witness` does (`ting_node::witness::Checker`): header
//! signature, body and every transaction's signature on every core, then
//! re-execution and the state root, block by block. `witness_ratio` is the
//! witness's blocks per second over the sequencer's; the target is at least
//! one. `attest_verify_us` is a device checking one attestation. The last
//! block is then shown to the witness again with a wrong state root, signed
//! by the node's key: `root_evidence_bytes` is the evidence the witness makes
//! of it, and `root_evidence_verify_ms` what checking it offline costs
//! (re-running the block on the records it proves).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use ting_core::limits::{QUEUE_TXS_MAX, VERIFY_BATCH_TXS_MAX, VERIFY_QUEUE_TXS_MAX};
use ting_core::witness::Attestation;
use ting_core::{Block, BlockHeight, Keypair};
use ting_node::witness::Checker;
use ting_node::{Node, NodeConfig};

use super::{driver, spinner, workload};

/// The target: a witness checks blocks at least as fast as the sequencer makes them.
const TARGET_WITNESS_RATIO: f64 = 1.0;
/// Attestations checked to time one.
const ATTESTATIONS_TIMED: usize = 2_000;
/// Blocks a witness takes at once (its fetch from the node).
const WITNESS_BATCH_BLOCKS: usize = 100;
/// Longer than any workload takes to go through the node.
const UNTIL_DONE: Duration = Duration::from_secs(3_600);

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Transfers the sequencer makes blocks of, and the witness checks.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1_000..=5_000_000))]
    pub txs: u64,
    /// Accounts sending them (round robin).
    #[arg(long, default_value_t = 1_024, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub senders: u32,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// What the run measured.
struct Figures {
    txs: u64,
    blocks: u64,
    sequencer_s: f64,
    /// The blocks the witness checked in `witness_s`: all but the last,
    /// which is kept for the evidence.
    witnessed_blocks: u64,
    witnessed_txs: u64,
    witness_s: f64,
    attest_verify_us: f64,
    evidence: EvidenceFigures,
}

/// The evidence of a wrong state root in a block of `txs` transfers.
struct EvidenceFigures {
    txs: usize,
    bytes: usize,
    verify_ms: f64,
}

impl Figures {
    fn ratio(&self) -> f64 {
        let witness = self.witnessed_blocks as f64 / self.witness_s.max(1e-9);
        let sequencer = self.blocks as f64 / self.sequencer_s.max(1e-9);
        witness / sequencer.max(1e-9)
    }
}

pub fn run(args: &WitnessArgs) -> anyhow::Result<()> {
    let accounts = workload::accounts(args.senders as usize);
    let genesis = accounts.genesis.clone();
    let chunks = usize::try_from(args.txs.div_ceil(VERIFY_BATCH_TXS_MAX as u64))?;
    let signed = workload::signed_chunks(
        &accounts.senders,
        &genesis.hash(),
        chunks,
        VERIFY_BATCH_TXS_MAX,
    );
    let txs = (chunks * VERIFY_BATCH_TXS_MAX) as u64;

    let dir = super::TempDir::new("witness")?;
    let key = Keypair::from_seed(accounts.node_key.seed());
    let node = Node::start(NodeConfig::new(
        dir.path().join("node"),
        genesis.clone(),
        Keypair::from_seed(key.seed()),
    ))?;
    let bar = spinner("the sequencer makes its blocks");
    let inflight = QUEUE_TXS_MAX.min(VERIFY_QUEUE_TXS_MAX);
    let started = Instant::now();
    driver::run(node.shared(), signed, inflight, Duration::ZERO, UNTIL_DONE)?;
    let sequencer_s = started.elapsed().as_secs_f64();
    bar.set_message("reading the blocks back from the log");
    let blocks = read_blocks(node.shared())?;
    bar.set_message("stopping the node");
    node.shutdown();

    bar.set_message("the witness checks the same blocks");
    let mut checker = Checker::new(&genesis, workload::keypair(0x77, 0));
    let (kept, checked) = blocks.split_last().context("the node made no block")?;
    anyhow::ensure!(
        !checked.is_empty(),
        "the node made one block: give more --txs"
    );
    let started = Instant::now();
    let mut last = None;
    // As `ting node --witness` takes them: a fetch's worth at a time, its
    // signatures checked on every core, then each block applied in turn.
    for batch in checked.chunks(WITNESS_BATCH_BLOCKS) {
        let (attested, fault) = checker.check_batch(batch, super::cores());
        if let Some(f) = fault {
            anyhow::bail!("the witness refused a block of the node's: {f}; this is a bug");
        }
        last = attested.last().cloned().or(last);
    }
    let witness_s = started.elapsed().as_secs_f64();
    bar.set_message("the witness proves a wrong state root");
    let evidence = root_evidence(&mut checker, kept, &key, &genesis)?;
    bar.finish_and_clear();
    let last = last.context("the node made no block")?;
    let figures = Figures {
        txs,
        blocks: blocks.len() as u64,
        sequencer_s,
        witnessed_blocks: checked.len() as u64,
        witnessed_txs: checked.iter().map(|b| b.txs.len() as u64).sum(),
        witness_s,
        attest_verify_us: attest_verify_us(&last),
        evidence,
    };
    report(args, &figures);
    Ok(())
}

fn read_blocks(shared: &Arc<ting_node::Shared>) -> anyhow::Result<Vec<Block>> {
    let height = shared.log.height().0;
    (1..=height)
        .map(|h| {
            shared
                .log
                .block(BlockHeight(h))?
                .with_context(|| format!("block {h} is not in the log"))
        })
        .collect()
}

/// `block` signed again by `key` with a wrong state root, refused by the
/// witness: the size of its evidence, and the time to check it offline.
fn root_evidence(
    checker: &mut Checker,
    block: &Block,
    key: &Keypair,
    genesis: &ting_core::Genesis,
) -> anyhow::Result<EvidenceFigures> {
    let mut wrong = block.clone();
    wrong.header.state_root = ting_core::Hash32([0xee; 32]);
    wrong.header.sign(key);
    let fault = checker
        .check(&wrong)
        .err()
        .context("the witness attested a wrong root")?;
    let evidence = checker
        .take_found()
        .with_context(|| format!("no evidence of {fault}"))?
        .map_err(|e| anyhow::anyhow!("no evidence of {fault}: {e}"))?;
    let bytes = evidence.to_bytes().len();
    let network = ting_ledger::evidence::Network::of(genesis);
    let started = Instant::now();
    let proven = ting_ledger::evidence::verify(&evidence, &network).map_err(|e| {
        anyhow::anyhow!("the witness's evidence does not check: {e}; this is a bug")
    })?;
    let verify_ms = started.elapsed().as_secs_f64() * 1e3;
    let right = block.header.state_root;
    anyhow::ensure!(
        proven.fault
            == ting_core::witness::ProvenFault::WrongStateRoot {
                claimed: wrong.header.state_root,
                computed: right,
            },
        "the evidence re-ran to another root than the node's; this is a bug"
    );
    Ok(EvidenceFigures {
        txs: block.txs.len(),
        bytes,
        verify_ms,
    })
}

/// Microseconds to check one attestation, on one core.
fn attest_verify_us(a: &Attestation) -> f64 {
    let started = Instant::now();
    for _ in 0..ATTESTATIONS_TIMED {
        std::hint::black_box(std::hint::black_box(a).verify()).expect("a good attestation");
    }
    started.elapsed().as_secs_f64() * 1e6 / ATTESTATIONS_TIMED as f64
}

fn report(args: &WitnessArgs, f: &Figures) {
    let per_s = |n: u64, s: f64| n as f64 / s.max(1e-9);
    if args.json {
        let v = json!({
            "witness_ratio": f.ratio(),
            "target_witness_ratio": TARGET_WITNESS_RATIO,
            "witness_blocks_per_s": per_s(f.witnessed_blocks, f.witness_s),
            "sequencer_blocks_per_s": per_s(f.blocks, f.sequencer_s),
            "witness_tx_per_s": per_s(f.witnessed_txs, f.witness_s),
            "sequencer_tx_per_s": per_s(f.txs, f.sequencer_s),
            "blocks": f.blocks,
            "txs": f.txs,
            "senders": args.senders,
            "attest_verify_us": f.attest_verify_us,
            "root_evidence_txs": f.evidence.txs,
            "root_evidence_bytes": f.evidence.bytes,
            "root_evidence_verify_ms": f.evidence.verify_ms,
            "cores": super::cores(),
        });
        println!("{v}");
        return;
    }
    println!(
        "ting bench witness: {} transfers in {} blocks\n  sequencer  {:>10.0} tx/s  {:>8.1} blocks/s  (pipeline full, verification on {} cores)\n  witness    {:>10.0} tx/s  {:>8.1} blocks/s  (the same blocks, checked and re-executed)\n  witness_ratio {:.2} (target >= {TARGET_WITNESS_RATIO})\n  attest_verify_us {:.1} (a device checking one attestation)\n  root_evidence_bytes {} and root_evidence_verify_ms {:.1} (a wrong state root in a block of {} transfers, proven and checked offline)",
        f.txs,
        f.blocks,
        per_s(f.txs, f.sequencer_s),
        per_s(f.blocks, f.sequencer_s),
        super::cores(),
        per_s(f.witnessed_txs, f.witness_s),
        per_s(f.witnessed_blocks, f.witness_s),
        f.ratio(),
        f.attest_verify_us,
        f.evidence.bytes,
        f.evidence.verify_ms,
        f.evidence.txs,
    );
}
