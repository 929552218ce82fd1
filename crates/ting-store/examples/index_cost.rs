//! What the query index costs per 100,000 transfers: the indexer's time and
//! the bytes it stores, and what reading one busy account's history costs.
//!
//! A micro-measurement of the index alone (no node, no ledger), to compare index
//! schemas; `ting bench` gives the figures that count (BENCHMARKS.md). Run it in
//! release: `cargo run --release -p ting-store --example index_cost`.
//!
//! The workload: 500,000 signed transfers between 10,000 accounts in blocks of
//! 500, indexed 20 blocks (10,000 transfers) per commit as the node's indexer
//! batches them; every fourth transfer goes to one busy account. The last
//! 100,000 are timed, into an index that already holds the rest (an index's
//! cost per entry grows with its size). It runs three times; each line gives a
//! run, with its CPU time set beside a fixed in-memory reference (the same
//! transfers' schema-2 entries put into `BTreeMap`s) as a ratio.

use std::time::{Duration, Instant};

use ting_core::limits::ACCOUNT_FLOWS_MAX;
use ting_core::{
    Amount, Block, BlockDraft, BlockHeight, Hash32, Keypair, Nonce, SignedTx, Timestamp, TxBody,
    TxKind,
};
use ting_store::Index;

const TXS: usize = 500_000;
/// The last transfers, whose indexing is timed: the index already holds the rest.
const TIMED_TXS: usize = 100_000;
const ACCOUNTS: usize = 10_000;
const BLOCK_TXS: usize = 500;
const BATCH_BLOCKS: usize = 20;
const RUNS: usize = 3;
const PAGE: usize = 50;

fn main() {
    let (blocks, busy) = workload();
    println!("{TXS} transfers in {} blocks of {BLOCK_TXS}", blocks.len());
    for run in 0..RUNS {
        measure(run, &blocks, &busy);
    }
}

/// The blocks to index and the busy account.
fn workload() -> (Vec<Block>, Keypair) {
    let keys: Vec<Keypair> = (0..ACCOUNTS)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            seed[8] = 0xa5;
            Keypair::from_seed(seed)
        })
        .collect();
    let busy = Keypair::from_seed([0xbb; 32]);
    let sequencer = Keypair::from_seed([2; 32]);
    let genesis = Hash32::digest(&[b"index_cost genesis"]);
    let mut nonces = vec![0u64; ACCOUNTS];
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*: a fixed, dependency-free stream of account numbers.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        let n = rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % ACCOUNTS as u64;
        usize::try_from(n).expect("under ACCOUNTS")
    };
    let mut txs: Vec<SignedTx> = Vec::with_capacity(TXS);
    for i in 0..TXS {
        let from = next();
        let to = if i % 4 == 0 {
            busy.account()
        } else {
            keys[next()].account()
        };
        let body = TxBody {
            genesis,
            sender: keys[from].account(),
            nonce: Nonce(nonces[from]),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::Transfer {
                to,
                amount: Amount::new(1 + i as u64 % 1000),
                memo: Vec::new(),
            },
        };
        nonces[from] += 1;
        txs.push(body.sign(&keys[from]));
    }
    let mut blocks = Vec::with_capacity(TXS / BLOCK_TXS);
    let mut prev = genesis;
    let mut rest = txs.into_iter();
    for height in 1..=(TXS / BLOCK_TXS) as u64 {
        let draft = BlockDraft {
            genesis,
            height: BlockHeight(height),
            epoch: 0,
            prev_hash: prev,
            timestamp: Timestamp(1_700_000_000_000 + height * 250),
            state_root: Hash32::digest(&[&height.to_le_bytes()]),
        };
        let block = Block::seal(draft, rest.by_ref().take(BLOCK_TXS).collect(), &sequencer);
        prev = block.header.hash();
        blocks.push(block);
    }
    (blocks, busy)
}

fn measure(run: usize, blocks: &[Block], busy: &Keypair) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("index.redb");
    let index = Index::open(&path).expect("opens");
    let (untimed, timed) = blocks.split_at((TXS - TIMED_TXS) / BLOCK_TXS);
    for batch in untimed.chunks(BATCH_BLOCKS) {
        index.index_blocks(batch).expect("indexes");
    }
    let start = Instant::now();
    let cpu_start = thread_cpu();
    for batch in timed.chunks(BATCH_BLOCKS) {
        index.index_blocks(batch).expect("indexes");
    }
    let cpu = thread_cpu().zip(cpu_start).map(|(end, start)| end - start);
    let indexing = start.elapsed();
    index.flush().expect("flushes");
    let ceiling = in_memory(timed);
    let indexing_cpu = cpu.unwrap_or(indexing);
    let start = Instant::now();
    let page = index
        .account_txs(&busy.account(), None, PAGE)
        .expect("reads");
    let page_time = start.elapsed();
    assert_eq!(page.len(), PAGE);
    let extra = read_more(&index, busy);
    drop(index);
    let (stored, allocated) = sizes(&path);
    println!(
        "run {run}: indexing {:.0} ms ({} ms of CPU) per 100k transfers (in-memory reference {:.0} ms, ratio {:.2}); \
         {:.0} bytes stored, {:.0} in pages, per transfer; newest {PAGE} of the busy account {:.3} ms{extra}",
        indexing.as_secs_f64() * 1e3 * 100_000.0 / TIMED_TXS as f64,
        cpu.map_or("?".into(), |c| format!("{:.0}", c.as_secs_f64() * 1e3 * 100_000.0 / TIMED_TXS as f64)),
        ceiling.as_secs_f64() * 1e3 * 100_000.0 / TIMED_TXS as f64,
        indexing_cpu.as_secs_f64() / ceiling.as_secs_f64(),
        stored as f64 / TXS as f64,
        allocated as f64 / TXS as f64,
        page_time.as_secs_f64() * 1e3,
    );
}

/// The bytes of keys and values the index file holds, and of the pages in use.
fn sizes(path: &std::path::Path) -> (u64, u64) {
    let db = redb::Database::open(path).expect("opens");
    let txn = db.begin_write().expect("writes");
    let stats = txn.stats().expect("stats");
    let allocated = stats.allocated_pages() * stats.page_size() as u64;
    (stats.stored_bytes(), allocated)
}

/// This thread's CPU time so far, where Linux tells it: the indexing time
/// counts waits for the CPU too, and other work shares the machine.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// The reference the indexing CPU time (wall time where it is not known) is set beside: the same transactions'
/// schema-2 entries (hash to place, sender and recipient to hash) inserted into
/// two in-memory `BTreeMap`s. It is fixed, so ratios compare across schemas.
fn in_memory(blocks: &[Block]) -> Duration {
    let start = Instant::now();
    let cpu_start = thread_cpu();
    let mut located = std::collections::BTreeMap::new();
    let mut histories = std::collections::BTreeMap::new();
    for block in blocks {
        for (index, tx) in (0u32..).zip(&block.txs) {
            let hash = tx.hash().0;
            located.insert(hash, (block.header.height.0, index));
            let to = tx
                .kind()
                .counterparty()
                .expect("a transfer names its recipient");
            for account in [tx.sender(), to] {
                let mut key = [0u8; 44];
                key[..32].copy_from_slice(&account.0);
                key[32..40].copy_from_slice(&block.header.height.0.to_be_bytes());
                key[40..].copy_from_slice(&index.to_be_bytes());
                histories.insert(key, hash);
            }
        }
    }
    assert_eq!(located.len(), TIMED_TXS);
    assert!(histories.len() <= 2 * TIMED_TXS);
    let wall = start.elapsed();
    thread_cpu()
        .zip(cpu_start)
        .map_or(wall, |(end, start)| end - start)
}

/// The summarised reads: the busy account's newest page with summaries, and
/// its flows over the whole run (at most `ACCOUNT_FLOWS_MAX` entries).
fn read_more(index: &Index, busy: &Keypair) -> String {
    let start = Instant::now();
    let page = index
        .account_history(&busy.account(), None, PAGE)
        .expect("reads");
    let page_time = start.elapsed();
    assert_eq!(page.len(), PAGE);
    let start = Instant::now();
    let flows = index
        .account_flows(&busy.account(), Timestamp(0), ACCOUNT_FLOWS_MAX)
        .expect("reads");
    let flows_time = start.elapsed();
    let earned: u64 = flows
        .entries
        .iter()
        .filter_map(|e| e.earned())
        .map(|a| a.base_units())
        .sum();
    assert!(earned > 0);
    format!(
        ", with summaries {:.3} ms; flows of its latest {} entries {:.2} ms",
        page_time.as_secs_f64() * 1e3,
        flows.entries.len(),
        flows_time.as_secs_f64() * 1e3,
    )
}
