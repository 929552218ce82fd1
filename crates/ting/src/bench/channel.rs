//! `ting bench channel`: what a payment costs to check and to make, on one core.
//!
//! The payee's side, each measured for `--seconds` on this thread alone:
//! the bare SHA-256 rate of 32-byte inputs (the ceiling, measured in the same
//! run, again at the end to see whether the machine moved); a hash-chain tick
//! checked against the one before it (`ChainKey::links(x, 1, prev)`, what a
//! payee does per payment); a ledger-style claim jumping `JUMP_TICKS` ticks at
//! once; and one Ed25519 (ZIP-215) voucher check. Every tick comes from a real
//! chain and every voucher is a distinct valid signature, so every check must
//! succeed: one that fails is a bug, and the run stops on it.
//!
//! The payer's side, for a chain of `--chain-len` ticks made from a seed
//! without holding all of them: the time to build the checkpoints and the
//! anchor, then the cost per tick of paying forward tick by tick with the
//! checkpoints and a window (`TickSource::tick`), with a walk from the nearest
//! checkpoint per tick (`TickSource::tick_uncached`), and with recomputation
//! from the seed per tick. The first pays the whole chain; the other two are
//! too slow for that and are sampled, then extrapolated (the report says so).

use super::stats::{round, verdict};
use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use ting_core::channel::{sign_voucher, verify_voucher, TickSource};
use ting_core::limits::CHAIN_LEN_MAX;
use ting_core::{AccountId, Signature};
use ting_core::{Amount, ChainKey, ChannelId, ChannelProof, Hash32, Keypair, NetworkId, Nonce};

use super::{spinner, ChannelArgs};

/// Ticks a ledger claim jumps in the second hash-chain measurement.
const JUMP_TICKS: u32 = 4096;
/// Consecutive ticks held for the per-payment check (2 MiB), cycled through.
const CONSECUTIVE_POOL: u32 = 1 << 16;
/// Distinct vouchers signed before the voucher measurement, cycled through.
const VOUCHER_POOL: usize = 1024;
/// Consecutive ticks the checkpoint walk pays before its cost is extrapolated.
/// At 2^20 ticks that is 16 whole checkpoint intervals, so every distance
/// from a checkpoint is walked equally often and the mean is exact.
const UNCACHED_TICKS: u32 = 16_384;
const TARGET_TICKS_PER_S: f64 = 5_000_000.0;
const TARGET_RATIO: f64 = 200.0;
const NETWORK: NetworkId = NetworkId(1);
/// The genesis hash the benchmark's channel ids are derived from.
const BENCH_GENESIS: Hash32 = Hash32([1; 32]);

/// Operations done in a measured window.
#[derive(Debug, Clone, Copy)]
struct Rate {
    ops: u64,
    seconds: f64,
}

impl Rate {
    fn per_s(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }
}

/// What the payee's side measured, each on this one thread.
#[derive(Debug)]
struct Payee {
    sha256: Rate,
    /// Checks of one tick against the one before it: one tick each.
    consecutive: Rate,
    /// Checks of a `JUMP_TICKS`-tick jump: that many ticks each.
    jumps: Rate,
    vouchers: Rate,
    /// The SHA-256 rate again, once everything else has run.
    sha256_after: Rate,
}

/// What the payer's side measured for one chain.
#[derive(Debug)]
struct Payer {
    len: u32,
    build: Duration,
    /// Paying ticks 1..=len in order with `TickSource::tick`.
    window: Duration,
    window_bytes: usize,
    /// Paying ticks 1..=`uncached_ticks` in order with `TickSource::tick_uncached`.
    uncached: Duration,
    uncached_ticks: u32,
    /// Recomputing `recompute_ticks` ticks spread evenly over the chain from the seed.
    recompute: Duration,
    recompute_ticks: u32,
}

impl Payer {
    fn window_ns(&self) -> f64 {
        ns_per(self.window, self.len)
    }

    fn uncached_ns(&self) -> f64 {
        ns_per(self.uncached, self.uncached_ticks)
    }

    fn recompute_ns(&self) -> f64 {
        ns_per(self.recompute, self.recompute_ticks)
    }

    fn hold_all_bytes(&self) -> u64 {
        32 * (u64::from(self.len) + 1)
    }

    /// The cheapest strategy per tick, by name.
    fn winner(&self) -> &'static str {
        let (w, u, r) = (self.window_ns(), self.uncached_ns(), self.recompute_ns());
        if w <= u && w <= r {
            "checkpoints_window"
        } else if u <= r {
            "checkpoint_walk"
        } else {
            "recompute"
        }
    }
}

fn ns_per(d: Duration, n: u32) -> f64 {
    d.as_secs_f64() * 1e9 / f64::from(n.max(1))
}

pub fn run(args: &ChannelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.seconds > 0.0, "--seconds must be positive");
    anyhow::ensure!(
        (2 * JUMP_TICKS..=CHAIN_LEN_MAX).contains(&args.chain_len),
        "--chain-len must be between {} and {CHAIN_LEN_MAX}",
        2 * JUMP_TICKS
    );
    anyhow::ensure!(
        (1..=args.chain_len).contains(&args.recompute_samples),
        "--recompute-samples must be between 1 and the chain length"
    );
    let length = Duration::from_secs_f64(args.seconds);
    let bar = spinner("measuring the payee's checks");
    let payee = measure_payee(args.chain_len, length);
    bar.set_message("measuring the payer's chain");
    let payer = measure_payer(args.chain_len, args.recompute_samples);
    bar.finish_and_clear();
    if args.json {
        let report = report_json(args, &payee, &payer);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_payee(args, &payee);
        print_payer(&payer);
    }
    Ok(())
}

/// The chain every measurement uses: the key of segment 0 of a real channel, and a seed.
fn chain_key() -> (ChainKey, Hash32) {
    let payer = Keypair::from_seed([7; 32]).account();
    let channel = ChannelId::derive(&BENCH_GENESIS, &payer, Nonce(0));
    (
        ChainKey::new(&channel, 0),
        Hash32::digest(&[b"ting bench channel seed"]),
    )
}

fn measure_payee(len: u32, length: Duration) -> Payee {
    let (key, seed) = chain_key();
    let mut source = TickSource::new(key, seed, len);
    let pool_len = CONSECUTIVE_POOL.min(len);
    let consecutive: Vec<Hash32> = (0..=pool_len).map(|i| source.tick(i)).collect();
    let jumps: Vec<Hash32> = (0..=len / JUMP_TICKS)
        .map(|k| source.tick(k * JUMP_TICKS))
        .collect();
    let vouchers = Vouchers::sign(VOUCHER_POOL);
    Payee {
        sha256: sha256_rate(length),
        consecutive: consecutive_rate(&key, &consecutive, length),
        jumps: jump_rate(&key, &jumps, length),
        vouchers: vouchers.rate(length),
        sha256_after: sha256_rate(length),
    }
}

/// Calls `op(i)` for i = 0, 1, ... in chunks of `chunk`, after one untimed chunk,
/// until `length` has passed; returns the calls made in the measured part.
fn measure(length: Duration, chunk: u64, mut op: impl FnMut(u64)) -> Rate {
    for i in 0..chunk {
        op(i);
    }
    let started = Instant::now();
    let mut ops = 0u64;
    loop {
        for _ in 0..chunk {
            op(ops);
            ops += 1;
        }
        let elapsed = started.elapsed();
        if elapsed >= length {
            let seconds = elapsed.as_secs_f64();
            return Rate { ops, seconds };
        }
    }
}

/// `Sha256::digest` of a 32-byte input, each output the next input so no call can be skipped.
fn sha256_rate(length: Duration) -> Rate {
    let mut x = [0u8; 32];
    let rate = measure(length, 4096, |_| {
        x = Sha256::digest(black_box(x)).into();
    });
    black_box(x);
    rate
}

/// One tick checked against the one before it, walking consecutive ticks of the chain.
fn consecutive_rate(key: &ChainKey, ticks: &[Hash32], length: Duration) -> Rate {
    let pairs = (ticks.len() - 1) as u64;
    measure(length, 4096, |i| {
        let j = usize::try_from(i % pairs).expect("an index into the pool") + 1;
        let ok = key.links(black_box(&ticks[j]), 1, black_box(&ticks[j - 1]));
        assert!(
            ok,
            "tick {j} of a real chain failed to link to tick {}",
            j - 1
        );
    })
}

/// A claim jumping `JUMP_TICKS` ticks; the rate returned counts ticks, not claims.
fn jump_rate(key: &ChainKey, ticks: &[Hash32], length: Duration) -> Rate {
    let pairs = (ticks.len() - 1) as u64;
    let steps = u64::from(JUMP_TICKS);
    let claims = measure(length, 16, |i| {
        let j = usize::try_from(i % pairs).expect("an index into the pool") + 1;
        let ok = key.links(black_box(&ticks[j]), steps, black_box(&ticks[j - 1]));
        assert!(ok, "jump {j} of a real chain failed to link");
    });
    Rate {
        ops: claims.ops * steps,
        seconds: claims.seconds,
    }
}

/// Distinct valid vouchers of one payer on one channel, for increasing amounts.
#[derive(Debug)]
struct Vouchers {
    payer: AccountId,
    channel: ChannelId,
    signed: Vec<(Amount, Signature)>,
}

impl Vouchers {
    fn sign(n: usize) -> Vouchers {
        let key = Keypair::from_seed([7; 32]);
        let channel = ChannelId::derive(&BENCH_GENESIS, &key.account(), Nonce(1));
        let signed = (1..=n as u64)
            .map(|amount| {
                let proof = sign_voucher(&key, NETWORK, &channel, Amount::new(amount));
                let ChannelProof::Voucher { amount, signature } = proof else {
                    unreachable!("sign_voucher makes vouchers")
                };
                (amount, signature)
            })
            .collect();
        Vouchers {
            payer: key.account(),
            channel,
            signed,
        }
    }

    fn rate(&self, length: Duration) -> Rate {
        let n = self.signed.len() as u64;
        measure(length, 64, |i| {
            let (amount, sig) = &self.signed[usize::try_from(i % n).expect("an index")];
            let checked = verify_voucher(
                black_box(&self.payer),
                NETWORK,
                &self.channel,
                *amount,
                black_box(sig),
            );
            assert!(checked.is_ok(), "a valid voucher for {amount:?} failed");
        })
    }
}

fn measure_payer(len: u32, recompute_samples: u32) -> Payer {
    let (key, seed) = chain_key();
    let started = Instant::now();
    let mut source = TickSource::new(key, seed, len);
    let anchor = source.anchor();
    let build = started.elapsed();
    assert_eq!(anchor, key.walk(&seed, u64::from(len)), "the anchor");
    let (window, last) = timed(|| pay_forward(len, |i| source.tick(i)));
    assert_eq!(last, seed, "the last tick of a chain is its seed");
    let uncached_ticks = UNCACHED_TICKS.min(len);
    let (uncached, last) = timed(|| pay_forward(uncached_ticks, |i| source.tick_uncached(i)));
    assert_eq!(last, source.tick(uncached_ticks), "walk and window agree");
    let (recompute, _) = timed(|| recompute_spread(&key, &seed, len, recompute_samples));
    Payer {
        len,
        build,
        window,
        window_bytes: source.memory_bytes(),
        uncached,
        uncached_ticks,
        recompute,
        recompute_ticks: recompute_samples,
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let out = f();
    (started.elapsed(), out)
}

/// Pays ticks 1..=n in order (every one is handed to `black_box`, as if sent); returns tick n.
fn pay_forward(n: u32, mut tick: impl FnMut(u32) -> Hash32) -> Hash32 {
    let mut last = Hash32::default();
    for i in 1..=n {
        last = black_box(tick(i));
    }
    last
}

/// Recomputes `samples` ticks spread evenly over 1..=len from the seed: tick i costs
/// `len - i` steps, so their mean is the mean cost per tick of paying the whole chain.
fn recompute_spread(key: &ChainKey, seed: &Hash32, len: u32, samples: u32) -> Hash32 {
    let mut last = Hash32::default();
    for j in 0..u64::from(samples) {
        let at = (2 * j + 1) * u64::from(len) / (2 * u64::from(samples));
        let i = at.max(1);
        last = black_box(key.walk(black_box(seed), u64::from(len) - i));
    }
    last
}

fn ratio(p: &Payee) -> f64 {
    p.consecutive.per_s() / p.vouchers.per_s()
}

fn report_json(args: &ChannelArgs, p: &Payee, q: &Payer) -> serde_json::Value {
    let ticks = p.consecutive.per_s();
    json!({
        "hashchain_ticks_per_s_core": round(ticks, 0),
        "voucher_ticks_per_s_core": round(p.vouchers.per_s(), 0),
        "ratio": round(ratio(p), 1),
        "sha256_per_s_core": round(p.sha256.per_s(), 0),
        "sha256_per_s_core_after": round(p.sha256_after.per_s(), 0),
        "tick_to_sha256_ratio": round(ticks / p.sha256.per_s(), 3),
        "hashchain_jump_ticks_per_s_core": round(p.jumps.per_s(), 0),
        "jump_ticks": JUMP_TICKS,
        "target_ticks_met": ticks >= TARGET_TICKS_PER_S,
        "target_ratio_met": ratio(p) >= TARGET_RATIO,
        "seconds_per_measurement": args.seconds,
        "payer": payer_json(q),
    })
}

fn payer_json(q: &Payer) -> serde_json::Value {
    json!({
        "chain_len": q.len,
        "build_anchor_ms": round(q.build.as_secs_f64() * 1e3, 3),
        "window_ns_per_tick": round(q.window_ns(), 2),
        "window_memory_bytes": q.window_bytes,
        "uncached_ns_per_tick": round(q.uncached_ns(), 2),
        "uncached_sampled_ticks": q.uncached_ticks,
        "recompute_ns_per_tick": round(q.recompute_ns(), 1),
        "recompute_sampled_ticks": q.recompute_ticks,
        "recompute_memory_bytes": 32,
        "hold_all_memory_bytes": q.hold_all_bytes(),
        "chosen": q.winner(),
    })
}

fn print_payee(args: &ChannelArgs, p: &Payee) {
    let (sha, ticks, r) = (p.sha256.per_s(), p.consecutive.per_s(), ratio(p));
    println!(
        "ting bench channel: one thread, {:.1} s per measurement",
        args.seconds
    );
    println!(
        "  SHA-256 of 32 bytes        {sha:>12.0} /s/core   the ceiling ({:.0} /s again at the end)",
        p.sha256_after.per_s()
    );
    println!(
        "  hash-chain tick vs. prev   {ticks:>12.0} /s/core   {:.2} x a bare SHA-256   target >= 5000000: {}",
        ticks / sha,
        verdict(ticks >= TARGET_TICKS_PER_S)
    );
    println!(
        "  claim of {JUMP_TICKS}-tick jumps     {:>12.0} ticks/s/core   {:.2} x a bare SHA-256",
        p.jumps.per_s(),
        p.jumps.per_s() / sha
    );
    println!(
        "  voucher (Ed25519 ZIP-215)  {:>12.0} /s/core",
        p.vouchers.per_s()
    );
    println!(
        "  ratio ticks / vouchers     {r:>12.1}            target >= 200: {}",
        verdict(r >= TARGET_RATIO)
    );
    if (p.sha256_after.per_s() / sha - 1.0).abs() > 0.1 {
        println!("  warning: the SHA-256 rate moved by more than 10% during the run; other work shares this machine");
    }
}

fn print_payer(q: &Payer) {
    let n = f64::from(q.len);
    println!(
        "payer: a chain of {} ticks from a seed (holding every tick would take {} KiB)",
        q.len,
        q.hold_all_bytes() / 1024
    );
    println!(
        "  build checkpoints + anchor {:>10.1} ms",
        q.build.as_secs_f64() * 1e3
    );
    println!(
        "  (1) checkpoints + window   {:>10.1} ns/tick   whole chain paid in {:.1} ms; {} KiB",
        q.window_ns(),
        q.window.as_secs_f64() * 1e3,
        q.window_bytes / 1024
    );
    println!(
        "  (2) checkpoint walk        {:>10.1} ns/tick   {} consecutive ticks, extrapolated: {:.1} s for the chain; same allocation as (1), uses the checkpoint half",
        q.uncached_ns(), q.uncached_ticks, q.uncached_ns() * n / 1e9
    );
    println!(
        "  (3) recompute from seed    {:>10.0} ns/tick   {} ticks spread over the chain, extrapolated: {:.0} s for the chain; 32 B",
        q.recompute_ns(), q.recompute_ticks, q.recompute_ns() * n / 1e9
    );
    println!("  chosen: {}", q.winner());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_measures_every_figure_and_agrees_on_the_chain() {
        let len = 2 * JUMP_TICKS;
        let payee = measure_payee(len, Duration::from_millis(5));
        for rate in [payee.sha256, payee.consecutive, payee.jumps, payee.vouchers] {
            assert!(rate.ops > 0 && rate.per_s() > 0.0, "{rate:?}");
        }
        let payer = measure_payer(len, 4);
        assert!(payer.window_ns() > 0.0 && payer.recompute_ns() > 0.0);
        assert!(payer.window_bytes < usize::try_from(payer.hold_all_bytes()).unwrap());
    }

    #[test]
    fn recomputation_samples_spread_over_the_chain() {
        let (key, seed) = chain_key();
        let mut source = TickSource::new(key, seed, 100);
        // One sample lands in the middle: tick 50.
        assert_eq!(recompute_spread(&key, &seed, 100, 1), source.tick(50));
        // Four land at 12, 37, 62 and 87; the last one is returned.
        assert_eq!(recompute_spread(&key, &seed, 100, 4), source.tick(87));
    }
}
