//! The refusal flood of `ting bench ledger`: what valid transfers keep of their
//! rate while someone offers as many refused transactions beside them.
//!
//! The flood comes from `FLOOD_SOURCES` addresses, in chunks like any client's.
//! Half of it resubmits the same refused transactions over and over (bad
//! signatures and bad channel claims); half is distinct refused transactions
//! of the costliest kinds: channel claims `CLAIM_HASHES_MAX` ticks ahead with
//! a wrong preimage (each one, checked, costs the executor that many hashes),
//! bad signatures from funded senders (each one, checked, costs a signature
//! check), and senders with no account. Everything is prepared before the
//! node starts; the valid transfers are the workload's, from in-process.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use ting_core::limits::{CLAIM_HASHES_MAX, VERIFY_BATCH_TXS_MAX};
use ting_core::{
    Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, Genesis, Hash32, Keypair, Nonce,
    Signature, SignedTx, Timestamp, TxBody, TxKind,
};
use ting_node::admission::Source;
use ting_node::pipeline::Outcome;
use ting_node::Shared;

use super::workload::keypair;

/// Addresses the flood comes from.
const FLOOD_SOURCES: u8 = 8;
/// Accounts that send the bad claims (anyone may send a claim).
const CLAIMANTS: u64 = 4;
/// Channels the claims are against.
const CHANNELS: u64 = 4;
/// Refused transactions resubmitted over and over.
const RESUBMITTED: usize = 512;
/// Ticks of each flood channel's chain (its anchor is no real chain's).
const CHAIN_TICKS: u32 = 1 << 20;
/// What the genesis gives each flood account.
const FLOOD_FUNDS: u64 = 1 << 40;
/// Nonces of the bad-signature transfers start far above the workload's own
/// (which stay below a few hundred) and within what the door lets through.
const BAD_SIGNATURE_NONCE_BASE: u64 = 100_000;

/// The flood's own accounts.
#[derive(Debug)]
pub struct FloodAccounts {
    payer: Keypair,
    claimants: Vec<Keypair>,
}

impl FloodAccounts {
    pub fn new() -> FloodAccounts {
        FloodAccounts {
            payer: keypair(0xf0, 0),
            claimants: (0..CLAIMANTS).map(|i| keypair(0xf1, i)).collect(),
        }
    }

    /// Funds the flood's accounts in `genesis`.
    pub fn fund(&self, genesis: &mut Genesis) {
        for key in std::iter::once(&self.payer).chain(&self.claimants) {
            genesis
                .allocations
                .push((key.account(), Amount::new(FLOOD_FUNDS)));
        }
    }

    /// The ids of the channels `open_channels` opens on the network of `genesis`.
    pub fn channel_ids(genesis: &Hash32) -> Vec<ChannelId> {
        let payer = keypair(0xf0, 0).account();
        (0..CHANNELS)
            .map(|i| ChannelId::derive(genesis, &payer, Nonce(i)))
            .collect()
    }

    /// Opens the channels the bad claims are against and waits for their block.
    pub fn open_channels(&self, shared: &Shared) -> anyhow::Result<Vec<ChannelId>> {
        let genesis = shared.genesis_hash;
        let opens: Vec<SignedTx> = (0..CHANNELS)
            .map(|i| {
                TxBody {
                    genesis,
                    sender: self.payer.account(),
                    nonce: Nonce(i),
                    valid_until: Timestamp(u64::MAX),
                    kind: TxKind::ChannelOpen {
                        payee: self.claimants[0].account(),
                        deposit: Amount::new(u64::from(CHAIN_TICKS)),
                        expires_at: Timestamp(shared.genesis.timestamp.0 + 300 * 86_400_000),
                        mode: ChannelMode::HashChain {
                            chain: ChainSegment {
                                anchor: Hash32::digest(&[b"flood anchor", &i.to_le_bytes()]),
                                len: CHAIN_TICKS,
                            },
                            price: Amount::new(1),
                        },
                    },
                }
                .sign(&self.payer)
            })
            .collect();
        let ids: Vec<ChannelId> = opens
            .iter()
            .map(|tx| tx.opened_channel().expect("a channel open"))
            .collect();
        for rx in shared.submit(opens).map_err(|e| anyhow!("{e}"))? {
            match rx.blocking_recv() {
                Ok(Outcome::Committed(_)) => {}
                other => bail!("a flood channel did not open: {other:?}"),
            }
        }
        Ok(ids)
    }

    /// `count` flood transactions in the order they are offered.
    pub fn prepare(
        &self,
        channels: &[ChannelId],
        senders: &[Keypair],
        genesis: &Hash32,
        count: usize,
    ) -> Vec<SignedTx> {
        let make = Maker {
            flood: self,
            channels,
            senders,
            genesis,
        };
        let pool: Vec<SignedTx> = (0..RESUBMITTED)
            .map(|i| make.distinct(2 * i as u64))
            .collect();
        (0..count)
            .map(|i| {
                let k = i / 2;
                if i % 2 == 0 {
                    pool[k % pool.len()].clone()
                } else {
                    make.distinct(3 * (RESUBMITTED + k) as u64 + (k % 3) as u64)
                }
            })
            .collect()
    }
}

struct Maker<'a> {
    flood: &'a FloodAccounts,
    channels: &'a [ChannelId],
    senders: &'a [Keypair],
    genesis: &'a Hash32,
}

impl Maker<'_> {
    /// Distinct refused transaction `i`: a bad claim, a bad signature or a
    /// stranger, by `i % 3`.
    fn distinct(&self, i: u64) -> SignedTx {
        match i % 3 {
            0 => self.bad_claim(i),
            1 => self.bad_signature(i),
            _ => self.stranger(i),
        }
    }

    fn bad_claim(&self, i: u64) -> SignedTx {
        let claimant = pick(&self.flood.claimants, i);
        let channel = *pick(self.channels, i / CLAIMANTS);
        TxBody {
            genesis: *self.genesis,
            sender: claimant.account(),
            nonce: Nonce(0),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::ChannelClaim {
                channel,
                proof: ChannelProof::Tick {
                    index: CLAIM_HASHES_MAX,
                    preimage: Hash32::digest(&[b"wrong preimage", &i.to_le_bytes()]),
                },
            },
        }
        .sign(claimant)
    }

    fn bad_signature(&self, i: u64) -> SignedTx {
        let from = pick(self.senders, i);
        let tx = TxBody {
            genesis: *self.genesis,
            sender: from.account(),
            nonce: Nonce(BAD_SIGNATURE_NONCE_BASE + i % 1000),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::Transfer {
                to: self.flood.payer.account(),
                amount: Amount::new(1),
                memo: i.to_le_bytes().to_vec(),
            },
        };
        SignedTx::from_parts(tx, Signature([0x5a; 64]))
    }

    fn stranger(&self, i: u64) -> SignedTx {
        let key = keypair(0xf2, i);
        TxBody {
            genesis: *self.genesis,
            sender: key.account(),
            nonce: Nonce(0),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::Transfer {
                to: self.flood.payer.account(),
                amount: Amount::new(1),
                memo: Vec::new(),
            },
        }
        .sign(&key)
    }
}

/// Item `i` of `items`, round-robin.
fn pick<T>(items: &[T], i: u64) -> &T {
    let n = items.len() as u64;
    &items[usize::try_from(i % n).expect("an index below the length")]
}

/// The flood, running on a thread of its own.
pub struct Flooder {
    stop: Arc<AtomicBool>,
    started: Instant,
    thread: JoinHandle<u64>,
}

impl Flooder {
    /// Offers `txs` in chunks at `rate` per second from the flood's addresses
    /// until stopped or out of transactions; the outcomes are not awaited.
    pub fn start(shared: Arc<Shared>, txs: Vec<SignedTx>, rate: f64) -> Flooder {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("bench-flood".into())
            .spawn(move || offer(&shared, txs, rate, &stopping))
            .expect("spawn the flood thread");
        Flooder {
            stop,
            started: Instant::now(),
            thread,
        }
    }

    /// Stops the flood; returns the transactions it offered per second.
    pub fn stop(self) -> f64 {
        self.stop.store(true, Ordering::Release);
        let seconds = self.started.elapsed().as_secs_f64();
        let offered = self.thread.join().unwrap_or(0);
        offered as f64 / seconds.max(1e-9)
    }
}

fn offer(shared: &Shared, txs: Vec<SignedTx>, rate: f64, stop: &AtomicBool) -> u64 {
    let chunk = VERIFY_BATCH_TXS_MAX;
    let interval = Duration::from_secs_f64(chunk as f64 / rate.max(1.0));
    let started = Instant::now();
    let mut offered = 0u64;
    for (k, part) in txs.chunks(chunk).enumerate() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let due = started + interval * u32::try_from(k).unwrap_or(u32::MAX);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let host = u8::try_from(k % usize::from(FLOOD_SOURCES)).expect("below FLOOD_SOURCES");
        let address = Ipv4Addr::new(10, 66, 0, 1 + host);
        // Outcomes are dropped unread; a busy node refusing the flood whole is fine.
        let _ = shared.submit_from(Source::Peer(IpAddr::V4(address)), part.to_vec());
        offered += part.len() as u64;
    }
    offered
}
