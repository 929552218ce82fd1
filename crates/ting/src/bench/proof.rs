//! `ting bench proof`: what checking a state proof costs a device, against
//! the Ed25519 verification it already pays per receipt (the ceiling,
//! measured in the same run on the same thread).
//!
//! A state map of `--accounts` accounts (1,000,000 by default; ids derived
//! from their index, records of varied balances and nonces) is built, a
//! header over its root is signed, and `SAMPLE_ACCOUNTS` accounts, spread
//! over the map, are proved. Then, each for `--seconds`: one Ed25519
//! verification of a distinct signature; one proof checked as a device
//! checks it with the header already trusted (rebuild the bucket hash, walk
//! 16 siblings to the root, hash the record); and the whole answer checked
//! as it arrives (header signature, proof and record). Every check must
//! succeed: one that fails is a bug and stops the run.

use super::stats::round;
use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use ting_core::encoding::Writer;
use ting_core::state_map::{account_key, account_value_hash, Account, AccountRecord};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::state_tree::StateTree;
use ting_core::{
    keys, AccountId, Amount, Block, BlockDraft, BlockHeight, Hash32, Keypair, Nonce, Timestamp,
};

use super::{spinner, ProofArgs};

/// Accounts proved and cycled through in the timed loops.
const SAMPLE_ACCOUNTS: usize = 1024;
/// Distinct signatures cycled through in the Ed25519 loop.
const SIGNATURES: usize = 256;

/// The account of index `i`: 32 bytes that differ per index (the map takes
/// any 32 bytes; only the ledger asks for a curve point).
fn account(i: u64) -> AccountId {
    AccountId(Hash32::digest(&[b"bench proof account", &i.to_le_bytes()]).0)
}

fn record(i: u64) -> AccountRecord {
    AccountRecord {
        account: Account {
            balance: Amount::new(i.wrapping_mul(7_919) % 1_000_000_007),
            nonce: Nonce(i % 1_000),
        },
        ..AccountRecord::default()
    }
}

/// Runs `f` over and over for `seconds`; answers the mean time of one call in µs.
fn time_each(seconds: f64, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    let budget = Duration::from_secs_f64(seconds);
    let mut n = 0usize;
    while start.elapsed() < budget {
        for _ in 0..64 {
            f(n);
            n += 1;
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

struct Fixture {
    answers: Vec<(AccountId, StateAnswer)>,
    sequencer: AccountId,
    genesis: Hash32,
    build_s: f64,
}

fn fixture(accounts: u64) -> Fixture {
    let started = Instant::now();
    let tree = StateTree::from_entries((0..accounts).map(|i| {
        (
            account_key(&account(i)),
            account_value_hash(&record(i).to_record()),
        )
    }));
    let build_s = started.elapsed().as_secs_f64();
    let key = Keypair::from_seed([0x5e; 32]);
    let genesis = Hash32::digest(&[b"bench proof genesis"]);
    let draft = BlockDraft {
        genesis,
        height: BlockHeight(1),
        epoch: 0,
        prev_hash: genesis,
        timestamp: Timestamp(1_800_000_000_000),
        state_root: tree.root(),
    };
    let header = Block::seal(draft, Vec::new(), &key).header;
    let step = (accounts / SAMPLE_ACCOUNTS as u64).max(1);
    let answers = (0..SAMPLE_ACCOUNTS as u64)
        .map(|k| (k * step) % accounts)
        .map(|i| {
            let id = account(i);
            let answer = StateAnswer {
                header: header.clone(),
                record: Some(record(i).to_record()),
                proof: tree.prove(&account_key(&id)),
            };
            (id, answer)
        })
        .collect();
    Fixture {
        answers,
        sequencer: key.account(),
        genesis,
        build_s,
    }
}

fn mean_bytes(f: &Fixture) -> (f64, f64) {
    let n = f.answers.len() as f64;
    let proof: usize = f
        .answers
        .iter()
        .map(|(_, a)| {
            let mut w = Writer::default();
            a.proof.encode(&mut w);
            w.len()
        })
        .sum();
    let answer: usize = f.answers.iter().map(|(_, a)| a.to_bytes().len()).sum();
    (proof as f64 / n, answer as f64 / n)
}

pub fn run(args: &ProofArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.accounts > 0, "--accounts must be at least 1");
    let seconds = args.seconds.max(0.2);
    let bar = spinner("building the state map");
    let f = fixture(args.accounts);
    let sequencers = [f.sequencer];
    let check = StateCheck {
        genesis: &f.genesis,
        sequencers: &sequencers,
        min_height: BlockHeight(0),
    };
    // Every sampled answer must check before anything is timed.
    for (id, answer) in &f.answers {
        anyhow::ensure!(
            answer.verify_account(id, &check)?.is_some(),
            "a sampled account proved absent"
        );
    }
    bar.set_message("timing Ed25519 verification");
    let signer = Keypair::from_seed([0x51; 32]);
    let signed: Vec<(Vec<u8>, ting_core::Signature)> = (0..SIGNATURES as u64)
        .map(|i| {
            let message = i.to_le_bytes().to_vec();
            let signature = signer.sign(&message);
            (message, signature)
        })
        .collect();
    let signer_id = signer.account();
    let ed25519_us = time_each(seconds, |n| {
        let (message, signature) = &signed[n % SIGNATURES];
        assert!(keys::verify(&signer_id, message, signature).is_ok());
    });
    bar.set_message("timing proof checks");
    let proof_us = time_each(seconds, |n| {
        let (id, answer) = &f.answers[n % f.answers.len()];
        let key = account_key(id);
        let held = answer
            .proof
            .verify(&key, &answer.header.state_root)
            .expect("a sampled proof holds")
            .expect("present");
        let record = answer.record.as_deref().expect("a record");
        assert_eq!(account_value_hash(record), held);
        black_box(AccountRecord::from_record(record).expect("decodes"));
    });
    let answer_us = time_each(seconds, |n| {
        let (id, answer) = &f.answers[n % f.answers.len()];
        black_box(answer.verify_account(id, &check).expect("checks"));
    });
    let ed25519_after_us = time_each(seconds, |n| {
        let (message, signature) = &signed[n % SIGNATURES];
        assert!(keys::verify(&signer_id, message, signature).is_ok());
    });
    bar.finish_and_clear();
    let (proof_bytes, answer_bytes) = mean_bytes(&f);
    let ratio = proof_us / ed25519_us;
    let v = json!({
        "accounts": args.accounts,
        "proof_verify_us": round(proof_us, 3),
        "ed25519_verify_us": round(ed25519_us, 3),
        "proof_verify_ratio": round(ratio, 4),
        "answer_verify_us": round(answer_us, 3),
        "proof_bytes": round(proof_bytes, 1),
        "answer_bytes": round(answer_bytes, 1),
        "map_build_s": round(f.build_s, 3),
        "ed25519_verify_us_after": round(ed25519_after_us, 3),
        "seconds_each": seconds,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "ting bench proof: one account's state proof in a map of {} accounts (built in {:.2} s)",
        args.accounts, f.build_s
    );
    println!("  Ed25519 verification   {ed25519_us:>9.2} µs   the ceiling: a device checks one per receipt ({ed25519_after_us:.2} µs again at the end)");
    println!("  state proof check      {proof_us:>9.2} µs   {ratio:.3} × one Ed25519 verification (bucket, 16 siblings, record)");
    println!("  whole answer check     {answer_us:>9.2} µs   header signature, proof and record, as an answer arrives");
    println!("  proof size             {proof_bytes:>9.0} B    mean; {answer_bytes:.0} B with the signed header and the record");
    Ok(())
}
