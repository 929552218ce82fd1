//! The benchmark workload: sender keys, a genesis that funds them, and transfers in order.
//!
//! Transfer `i` of a workload over `S` senders is sent by sender `i % S` with
//! nonce `i / S` to sender `(i + 1) % S`, for one base unit: a round-robin
//! order in which every prefix is valid (each sender's nonces come in
//! sequence) and every recipient already exists, so the executor does no
//! point decompression for new accounts. Everything CPU-heavy (key
//! derivation, signing) runs on every core before the node starts.

use indicatif::ProgressBar;
use ting_core::{
    Amount, Genesis, Hash32, Keypair, NetworkId, Nonce, Signature, SignedTx, Timestamp, TxBody,
    TxKind,
};

use super::{cores, now_ms};

/// The network id of benchmark networks (never a real one).
pub const BENCH_NETWORK: NetworkId = NetworkId(0xbe4c);
/// What the genesis gives each sender: far more than any run spends.
const SENDER_FUNDS_BASE_UNITS: u64 = 1 << 40;

/// The keys of a workload and the genesis that funds them.
#[derive(Debug)]
pub struct Accounts {
    pub senders: Vec<Keypair>,
    pub node_key: Keypair,
    pub genesis: Genesis,
}

/// A key from a small index: distinct seeds for distinct indices and purposes.
pub fn keypair(purpose: u8, index: u64) -> Keypair {
    let mut seed = [purpose; 32];
    seed[..8].copy_from_slice(&index.to_le_bytes());
    Keypair::from_seed(seed)
}

/// `n` funded senders and a node key named as the sequencer, derived on every core.
pub fn accounts(n: usize) -> Accounts {
    let bar = super::progress(n as u64, "deriving sender keys");
    let senders = par_map(n, &bar, |i| keypair(0x5e, i as u64));
    bar.finish_and_clear();
    let node_key = keypair(0x0d, 0);
    let genesis = Genesis {
        name: "ting-bench".into(),
        network: BENCH_NETWORK,
        timestamp: Timestamp(now_ms()),
        issuers: Vec::new(),
        sequencers: vec![node_key.account()],
        allocations: senders
            .iter()
            .map(|k| (k.account(), Amount::new(SENDER_FUNDS_BASE_UNITS)))
            .collect(),
        clock: ting_core::LedgerClock::Real,
    };
    Accounts {
        senders,
        node_key,
        genesis,
    }
}

/// Transfer number `i` of the round-robin order on the network of `genesis`,
/// signed or with a zero signature.
pub fn transfer(senders: &[Keypair], genesis: &Hash32, i: u64, sign: bool) -> SignedTx {
    let n = senders.len() as u64;
    let from = &senders[usize::try_from(i % n).expect("index fits")];
    let to = &senders[usize::try_from((i + 1) % n).expect("index fits")];
    let body = TxBody {
        genesis: *genesis,
        sender: from.account(),
        nonce: Nonce(i / n),
        valid_until: Timestamp(u64::MAX),
        kind: TxKind::Transfer {
            to: to.account(),
            amount: Amount::new(1),
            memo: Vec::new(),
        },
    };
    if sign {
        body.sign(from)
    } else {
        SignedTx::from_parts(body, Signature([0; 64]))
    }
}

/// Transfers `[start, start + len)` of the round-robin order.
pub fn transfers(
    senders: &[Keypair],
    genesis: &Hash32,
    start: u64,
    len: usize,
    sign: bool,
) -> Vec<SignedTx> {
    (start..start + len as u64)
        .map(|i| transfer(senders, genesis, i, sign))
        .collect()
}

/// `chunks` runs of `chunk` signed transfers, in order, made on every core.
pub fn signed_chunks(
    senders: &[Keypair],
    genesis: &Hash32,
    chunks: usize,
    chunk: usize,
) -> Vec<Vec<SignedTx>> {
    let bar = super::progress((chunks * chunk) as u64, "signing transfers");
    let out = par_map(chunks, &bar, |c| {
        let txs = transfers(senders, genesis, (c * chunk) as u64, chunk, true);
        bar.inc(chunk as u64 - 1);
        txs
    });
    bar.finish_and_clear();
    out
}

/// `f(0..n)` on one thread per core, in order, ticking `bar` once per item.
pub fn par_map<T: Send>(n: usize, bar: &ProgressBar, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = cores().min(n.max(1));
    let per = n.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                scope.spawn(move || {
                    (t * per..((t + 1) * per).min(n))
                        .map(|i| {
                            let v = f(i);
                            bar.inc(1);
                            v
                        })
                        .collect::<Vec<T>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a workload thread panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_ledger::State;

    fn small_accounts(n: u64) -> (Vec<Keypair>, Genesis) {
        let senders: Vec<Keypair> = (0..n).map(|i| keypair(0x5e, i)).collect();
        let node_key = keypair(0x0d, 0);
        let genesis = Genesis {
            name: "t".into(),
            network: BENCH_NETWORK,
            timestamp: Timestamp(1),
            issuers: Vec::new(),
            sequencers: vec![node_key.account()],
            allocations: senders
                .iter()
                .map(|k| (k.account(), Amount::new(SENDER_FUNDS_BASE_UNITS)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        };
        (senders, genesis)
    }

    #[test]
    fn every_prefix_of_the_round_robin_order_applies_in_order() {
        let (senders, genesis) = small_accounts(5);
        assert_eq!(genesis.validate(), Ok(()));
        let mut state = State::from_genesis(&genesis, 7);
        for tx in transfers(&senders, &genesis.hash(), 0, 23, false) {
            assert_eq!(state.apply_tx(&tx, Timestamp(2)), Ok(()), "transfer {tx:?}");
        }
        assert_eq!(state.held_sum(), Some(state.supply()));
        assert_eq!(state.next_nonce(&senders[0].account()).0, 5);
        assert_eq!(state.next_nonce(&senders[3].account()).0, 4);
    }

    #[test]
    fn signed_chunks_verify_and_continue_each_other() {
        let (senders, _) = small_accounts(4);
        let chunks = signed_chunks(&senders, &Hash32([1; 32]), 3, 4);
        let flat: Vec<SignedTx> = chunks.into_iter().flatten().collect();
        assert_eq!(flat, transfers(&senders, &Hash32([1; 32]), 0, 12, true));
        assert!(flat.into_iter().all(|tx| tx.verify().is_ok()));
    }
}
