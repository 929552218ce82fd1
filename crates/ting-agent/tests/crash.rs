//! Kills a paying and accepting process at random points and checks that no
//! money is lost or paid twice.
//!
//! The test re-runs its own binary as a child (marked by `CHILD_ENV`). The
//! child opens a hash-chain and a voucher channel, as payer and as payee, and
//! loops: pay, append `sent` to a log, accept, append `delivered`. The parent
//! SIGKILLs it once it has made a random amount of progress plus a random
//! delay, reopens the files and checks that the payer's persisted position
//! is at least everything ever sent, the payee's best proof at least
//! everything delivered and at most what the payer persisted, and that no
//! tick or amount was ever sent twice, across all rounds. The seed is printed
//! and can be set with `TING_CRASH_SEED`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_agent::{DurablePayee, DurablePayer};
use ting_core::channel::payee::Payee;
use ting_core::channel::payer::{ChannelTerms, NewSegment, Payer};
use ting_core::{Amount, ChannelId, ChannelProof, Hash32, Keypair, NetworkId, Timestamp};

const CHILD_ENV: &str = "TING_AGENT_CRASH_DIR";
const TEST_NAME: &str = "killed_at_random_points_the_channels_lose_and_repeat_nothing";
const ROUNDS: usize = 30;
const NOW: Timestamp = Timestamp(1_000);
/// Most iterations a child makes, so an orphan stops on its own.
const CHILD_ITERATIONS_MAX: u64 = 20_000;
/// Longest the parent waits for a child's progress.
const PROGRESS_DEADLINE: Duration = Duration::from_secs(20);

fn payer_key() -> Keypair {
    Keypair::from_seed([1; 32])
}

fn terms(tag: &[u8], deposit: u64) -> ChannelTerms {
    ChannelTerms {
        network: NetworkId(5),
        channel: ChannelId(Hash32::digest(&[b"crash", tag])),
        payer: payer_key().account(),
        payee: Keypair::from_seed([2; 32]).account(),
        deposit: Amount::new(deposit),
        expires_at: Timestamp(1_000_000),
    }
}

fn chain_channel() -> ChannelId {
    terms(b"chain", 0).channel
}

fn voucher_channel() -> ChannelId {
    terms(b"voucher", 0).channel
}

fn setup(dir: &Path) {
    let seg = NewSegment {
        seed: Hash32::digest(&[b"crash seed"]),
        len: 1 << 14,
    };
    let (payer, mode) =
        Payer::open_hash_chain(terms(b"chain", 1 << 14), Amount::new(1), seg).unwrap();
    DurablePayee::create(dir, Payee::new(*payer.terms(), mode)).unwrap();
    DurablePayer::create(dir, payer).unwrap();
    let voucher = Payer::open_voucher(terms(b"voucher", u64::MAX));
    DurablePayee::create(
        dir,
        Payee::new(*voucher.terms(), ting_core::ChannelMode::Voucher),
    )
    .unwrap();
    DurablePayer::create(dir, voucher).unwrap();
}

fn append(path: &Path, line: &str) {
    // One write(2) of a whole line on an O_APPEND file: a kill leaves it whole or absent.
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(line.as_bytes()).unwrap();
}

fn value(proof: &ChannelProof) -> u64 {
    match proof {
        ChannelProof::Tick { index, .. } => *index,
        ChannelProof::Voucher { amount, .. } => amount.base_units(),
    }
}

/// The child: resend what may not have arrived, then pay and accept until killed.
fn child(dir: &Path) {
    let key = payer_key();
    let mut chain = DurablePayer::open(dir, &chain_channel()).unwrap();
    let mut chain_payee = DurablePayee::open(dir, &chain_channel()).unwrap();
    let mut voucher = DurablePayer::open(dir, &voucher_channel()).unwrap();
    let mut voucher_payee = DurablePayee::open(dir, &voucher_channel()).unwrap();
    for (payer, payee) in [(&chain, &mut chain_payee), (&voucher, &mut voucher_payee)] {
        if let Some(last) = payer.last_payment() {
            // Either it arrived before the crash (a replay) or it is paid now.
            if let Err(e) = payee.accept(&last.encode(), NOW) {
                assert_eq!(e.code(), "replayed");
            }
        }
    }
    let (sent, delivered) = (dir.join("sent.log"), dir.join("delivered.log"));
    for i in 0..CHILD_ITERATIONS_MAX {
        let units = 1 + i % 3;
        let payment = chain.pay(units, NOW).unwrap();
        append(&sent, &format!("c {}\n", value(&payment.proof)));
        chain_payee.accept(&payment.encode(), NOW).unwrap();
        append(&delivered, &format!("c {}\n", value(&payment.proof)));
        let payment = voucher.pay_amount(Amount::new(units), NOW, &key).unwrap();
        append(&sent, &format!("v {}\n", value(&payment.proof)));
        voucher_payee.accept(&payment.encode(), NOW).unwrap();
        append(&delivered, &format!("v {}\n", value(&payment.proof)));
    }
}

/// Whole lines of a log, as (kind, value).
fn read_log(path: &Path) -> Vec<(char, u64)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    whole
        .lines()
        .map(|l| {
            let (kind, v) = l.split_once(' ').expect("a log line is `kind value`");
            (kind.chars().next().unwrap(), v.parse().unwrap())
        })
        .collect()
}

fn spawn_child(dir: &Path) -> Child {
    let err = fs::File::create(dir.join("child.err")).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

/// Waits until the sent log has `lines` whole lines, or the child exits.
fn wait_for_progress(dir: &Path, child: &mut Child, lines: usize) {
    let deadline = Instant::now() + PROGRESS_DEADLINE;
    while read_log(&dir.join("sent.log")).len() < lines {
        if let Some(status) = child.try_wait().unwrap() {
            let err = fs::read_to_string(dir.join("child.err")).unwrap_or_default();
            panic!("the child exited by itself ({status}):\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "no progress to {lines} lines in time"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Checks the files against the logs after a kill.
fn check(dir: &Path) -> (u64, u64) {
    let chain = DurablePayer::open(dir, &chain_channel()).unwrap();
    let chain_payee = DurablePayee::open(dir, &chain_channel()).unwrap();
    let voucher = DurablePayer::open(dir, &voucher_channel()).unwrap();
    let voucher_payee = DurablePayee::open(dir, &voucher_channel()).unwrap();
    let sent = read_log(&dir.join("sent.log"));
    let delivered = read_log(&dir.join("delivered.log"));
    for (kind, payer, payee) in [
        ('c', chain.payer(), chain_payee.payee()),
        ('v', voucher.payer(), voucher_payee.payee()),
    ] {
        let sent: Vec<u64> = sent
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .collect();
        assert!(
            sent.windows(2).all(|w| w[0] < w[1]),
            "{kind}: something was sent twice"
        );
        let max_delivered = delivered
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .max();
        let persisted = payer.paid().base_units();
        assert!(
            sent.last().is_none_or(|s| *s <= persisted),
            "{kind}: sent past the persisted {persisted}"
        );
        let best = payee.paid().base_units();
        assert!(
            max_delivered.is_none_or(|d| d <= best),
            "{kind}: delivered past the payee's {best}"
        );
        assert!(
            best <= persisted,
            "{kind}: the payee holds more than the payer revealed"
        );
    }
    (
        chain.payer().paid().base_units(),
        voucher.payer().paid().base_units(),
    )
}

#[test]
fn killed_at_random_points_the_channels_lose_and_repeat_nothing() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(&PathBuf::from(dir));
        return;
    }
    let seed: u64 = std::env::var("TING_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15);
    println!("crash test seed {seed} (rerun with TING_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let started = Instant::now();
    for round in 0..ROUNDS {
        let before = read_log(&dir.path().join("sent.log")).len();
        let mut child = spawn_child(dir.path());
        wait_for_progress(dir.path(), &mut child, before + rng.random_range(1..40));
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3_000)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the child finished instead of being killed"
        );
        check(dir.path());
    }
    let (ticks, amount) = check(dir.path());
    let sends = read_log(&dir.path().join("sent.log")).len();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{ROUNDS} kills in {secs:.1} s; {sends} payments sent (2 fdatasyncs each); \
         chain at tick {ticks}, vouchers at {amount}"
    );
}
