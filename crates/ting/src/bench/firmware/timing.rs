//! Time per device operation on this machine, in this process with the std
//! ting-core: signing a transfer into a buffer, checking a receipt's bytes,
//! paying one hash-chain tick, sealing a reading; and the ceiling, a bare
//! Ed25519 signature by `ed25519-zebra` over a message as long as the
//! transfer's signing message. The figures are measured in rounds, each
//! taking every figure for a short window (the signing pair back to back,
//! in alternating order), and the medians reported, so that a burst of other
//! work on the machine moves one round and not the result.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ting_core::channel::payer::{ChannelTerms, NewSegment, Payer};
use ting_core::merkle::MerkleTree;
use ting_core::receipt::{check_receipt_bytes, Receipt};
use ting_core::seal::{self, MessagingKey, MessagingSecret};
use ting_core::{
    AccountId, Amount, Block, BlockDraft, BlockHeight, ChannelId, Hash32, Keypair, NetworkId,
    Nonce, Timestamp, TxBody, TxKind,
};

/// Transactions in the block the receipt comes from (as in the check crate).
const BLOCK_TXS: u64 = 64;
/// Ticks in the channel's hash chain (as in the check crate).
pub const CHAIN_TICKS: u32 = 4096;
/// A reading of about 40 bytes, as a device seals it.
pub const READING: &[u8] = b"{\"hardness_mg_l\":142,\"at\":1764800000}";

/// Medians over the rounds.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub sign_tx_us: f64,
    pub bare_sign_us: f64,
    /// The median of each round's `sign_tx / bare_sign`.
    pub sign_overhead_ratio: f64,
    pub verify_receipt_us: f64,
    pub tick_pay_ns: f64,
    pub seal_us: f64,
    /// Bytes Ed25519 signs for the transfer (`TX_DOMAIN || body`).
    pub message_bytes: usize,
}

struct Fixture {
    device: Keypair,
    body: TxBody,
    bare_key: ed25519_zebra::SigningKey,
    message: Vec<u8>,
    genesis: Hash32,
    sequencers: [AccountId; 1],
    receipt: Vec<u8>,
    terms: ChannelTerms,
    peer_messaging: MessagingKey,
}

impl Fixture {
    fn new() -> Fixture {
        let device = Keypair::from_seed([1; 32]);
        let peer = Keypair::from_seed([2; 32]);
        let sequencer = Keypair::from_seed([3; 32]);
        let genesis = Hash32::digest(&[b"ting bench firmware genesis"]);
        let body = transfer(&device, &peer, genesis, Nonce(5));
        let channel = ChannelId::derive(&genesis, &device.account(), Nonce(0));
        Fixture {
            message: body.signing_message(),
            bare_key: ed25519_zebra::SigningKey::from([1; 32]),
            receipt: receipt(&device, &sequencer, genesis),
            sequencers: [sequencer.account()],
            terms: ChannelTerms {
                network: NetworkId(7),
                channel,
                payer: device.account(),
                payee: peer.account(),
                deposit: Amount::new(1_000_000),
                expires_at: Timestamp(u64::MAX / 2),
            },
            peer_messaging: MessagingSecret::from_keypair(&peer).public(),
            device,
            body,
            genesis,
        }
    }

    fn open_channel(&self) -> Payer {
        let segment = NewSegment {
            seed: Hash32::digest(&[b"chain seed"]),
            len: CHAIN_TICKS,
        };
        Payer::open_hash_chain(self.terms, Amount::new(1), segment)
            .expect("the bench's channel opens")
            .0
    }
}

fn transfer(device: &Keypair, peer: &Keypair, genesis: Hash32, nonce: Nonce) -> TxBody {
    TxBody {
        genesis,
        sender: device.account(),
        nonce,
        valid_until: Timestamp(1_764_900_000_000),
        kind: TxKind::Transfer {
            to: peer.account(),
            amount: Amount::new(1_500),
            memo: Vec::new(),
        },
    }
}

/// The encoded receipt of the device's transfer at index 17 of a block of 64.
fn receipt(device: &Keypair, sequencer: &Keypair, genesis: Hash32) -> Vec<u8> {
    let txs: Vec<_> = (0..BLOCK_TXS)
        .map(|n| transfer(device, sequencer, genesis, Nonce(n)).sign(device))
        .collect();
    let hashes: Vec<Hash32> = txs.iter().map(|t| t.hash()).collect();
    let draft = BlockDraft {
        genesis,
        height: BlockHeight(42),
        epoch: 0,
        prev_hash: Hash32::digest(&[b"block 41"]),
        timestamp: Timestamp(1_764_800_000_000),
        state_root: Hash32::ZERO,
    };
    let block = Block::seal(draft, txs, sequencer);
    Receipt {
        tx_hash: hashes[17],
        proof: MerkleTree::new(&hashes).proof(17).expect("index in range"),
        header: block.header,
    }
    .encode()
}

/// Seconds per call of `op`, called in chunks after one untimed chunk until `window` has passed.
fn per_call(window: Duration, chunk: u32, mut op: impl FnMut()) -> f64 {
    for _ in 0..chunk {
        op();
    }
    let started = Instant::now();
    let mut calls = 0u64;
    loop {
        for _ in 0..chunk {
            op();
        }
        calls += u64::from(chunk);
        let elapsed = started.elapsed();
        if elapsed >= window {
            return elapsed.as_secs_f64() / calls as f64;
        }
    }
}

/// Seconds per `pay_ticks(1, now)`, re-opening the channel (untimed) when its chain runs out.
fn per_tick(f: &Fixture, window: Duration) -> f64 {
    let mut timed = Duration::ZERO;
    let mut ticks = 0u64;
    while timed < window {
        let mut payer = f.open_channel();
        let started = Instant::now();
        for _ in 0..CHAIN_TICKS {
            black_box(payer.pay_ticks(1, Timestamp(1)).expect("a tick is left"));
        }
        timed += started.elapsed();
        ticks += u64::from(CHAIN_TICKS);
    }
    timed.as_secs_f64() / ticks as f64
}

/// Takes every figure `rounds` times, each for `window`, and answers the medians.
pub fn measure(rounds: usize, window: Duration) -> anyhow::Result<Timing> {
    let f = Fixture::new();
    let mut buf = [0u8; 512];
    let written = f.body.sign_into(&f.device, &mut buf)?;
    anyhow::ensure!(
        written > f.message.len(),
        "a signed transfer holds its body"
    );
    check_receipt_bytes(&f.receipt, &f.genesis, &f.sequencers)?;
    let mut rng = rand::rng();
    let mut sign_tx = || {
        black_box(
            f.body
                .sign_into(&f.device, &mut buf)
                .expect("512 bytes hold a transfer"),
        );
    };
    let bare_sign = || {
        black_box(f.bare_key.sign(black_box(&f.message)));
    };
    let mut rows: Vec<[f64; 5]> = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (sign, bare) = if round % 2 == 0 {
            let s = per_call(window, 16, &mut sign_tx);
            (s, per_call(window, 16, bare_sign))
        } else {
            let b = per_call(window, 16, bare_sign);
            (per_call(window, 16, &mut sign_tx), b)
        };
        let receipt = per_call(window, 16, || {
            let checked = check_receipt_bytes(black_box(&f.receipt), &f.genesis, &f.sequencers);
            assert!(checked.is_ok(), "the bench's receipt checks");
        });
        let tick = per_tick(&f, window);
        let seal = per_call(window, 16, || {
            black_box(seal::seal(&f.peer_messaging, b"aad", READING, &mut rng).expect("seals"));
        });
        rows.push([sign, bare, receipt, tick, seal]);
    }
    let column = |i: usize| median(rows.iter().map(|r| r[i]).collect());
    Ok(Timing {
        sign_tx_us: column(0) * 1e6,
        bare_sign_us: column(1) * 1e6,
        sign_overhead_ratio: median(rows.iter().map(|r| r[0] / r[1]).collect()),
        verify_receipt_us: column(2) * 1e6,
        tick_pay_ns: column(3) * 1e9,
        seal_us: column(4) * 1e6,
        message_bytes: f.message.len(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_timing_takes_every_figure() {
        let t = measure(1, Duration::from_millis(1)).unwrap();
        for v in [
            t.sign_tx_us,
            t.bare_sign_us,
            t.sign_overhead_ratio,
            t.verify_receipt_us,
            t.tick_pay_ns,
            t.seal_us,
        ] {
            assert!(v.is_finite() && v > 0.0, "{t:?}");
        }
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
