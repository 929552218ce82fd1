//! The durable wrappers end to end: reopening, listing, refusals that write
//! nothing, and what one durable payment costs next to an in-memory one.

use std::path::Path;
use std::time::Instant;

use ting_agent::record::RecordFile;
use ting_agent::{channel_path, list_channels, DurablePayee, DurablePayer, Role};
use ting_core::channel::payee::{ClaimPolicy, Payee};
use ting_core::channel::payer::{ChannelTerms, NewSegment, Payer};
use ting_core::{Amount, ChannelId, ChannelMode, Hash32, Keypair, NetworkId, Timestamp};

const NOW: Timestamp = Timestamp(1_000);

fn terms(tag: &[u8], deposit: u64) -> ChannelTerms {
    ChannelTerms {
        network: NetworkId(5),
        channel: ChannelId(Hash32::digest(&[b"durable", tag])),
        payer: Keypair::from_seed([1; 32]).account(),
        payee: Keypair::from_seed([2; 32]).account(),
        deposit: Amount::new(deposit),
        expires_at: Timestamp(1_000_000),
    }
}

fn chain_pair(dir: &Path, tag: &[u8], len: u32) -> (DurablePayer, DurablePayee) {
    let seg = NewSegment {
        seed: Hash32::digest(&[tag]),
        len,
    };
    let (payer, mode) =
        Payer::open_hash_chain(terms(tag, u64::from(len)), Amount::new(1), seg).unwrap();
    let payee = DurablePayee::create(dir, Payee::new(*payer.terms(), mode)).unwrap();
    (DurablePayer::create(dir, payer).unwrap(), payee)
}

fn record_seq(dir: &Path, role: Role, channel: &ChannelId) -> u64 {
    RecordFile::open(&channel_path(dir, role, channel))
        .unwrap()
        .0
        .seq()
}

#[test]
fn a_reopened_channel_carries_on_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (mut payer, mut payee) = chain_pair(dir.path(), b"a", 100);
    let channel = payer.payer().terms().channel;
    for _ in 0..3 {
        let payment = payer.pay(2, NOW).unwrap();
        payee.accept(&payment.encode(), NOW).unwrap();
    }
    drop((payer, payee));
    let mut payer = DurablePayer::open(dir.path(), &channel).unwrap();
    let mut payee = DurablePayee::open(dir.path(), &channel).unwrap();
    assert_eq!(payer.payer().paid(), Amount::new(6));
    assert_eq!(payee.payee().paid(), Amount::new(6));
    let last = payer.last_payment().unwrap();
    assert_eq!(
        payee.accept(&last.encode(), NOW).unwrap_err().code(),
        "replayed"
    );
    let accepted = payee
        .accept(&payer.pay(1, NOW).unwrap().encode(), NOW)
        .unwrap();
    assert_eq!(accepted.newly_paid, Amount::new(1));
    let plan = payee.claim_plan(NOW, &ClaimPolicy::ALWAYS).unwrap();
    payee.record_claim(plan.last().unwrap()).unwrap();
    let payee = DurablePayee::open(dir.path(), &channel).unwrap();
    assert_eq!(payee.payee().unclaimed(), Amount::ZERO);
}

#[test]
fn refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut payer, mut payee) = chain_pair(dir.path(), b"b", 10);
    let channel = payer.payer().terms().channel;
    let payment = payer.pay(3, NOW).unwrap();
    payee.accept(&payment.encode(), NOW).unwrap();
    let (payer_seq, payee_seq) = (
        record_seq(dir.path(), Role::Payer, &channel),
        record_seq(dir.path(), Role::Payee, &channel),
    );
    assert_eq!(payer.pay(8, NOW).unwrap_err().code(), "chain_exhausted");
    assert_eq!(
        payee.accept(&payment.encode(), NOW).unwrap_err().code(),
        "replayed"
    );
    assert_eq!(
        payee.accept(&[1, 2, 3], NOW).unwrap_err().code(),
        "truncated"
    );
    assert_eq!(record_seq(dir.path(), Role::Payer, &channel), payer_seq);
    assert_eq!(record_seq(dir.path(), Role::Payee, &channel), payee_seq);
    let missing = ChannelId(Hash32::ZERO);
    assert_eq!(
        DurablePayer::open(dir.path(), &missing).unwrap_err().code(),
        "io"
    );
}

#[test]
fn channels_are_listed_per_role() {
    let dir = tempfile::tempdir().unwrap();
    assert!(list_channels(dir.path(), Role::Payer).unwrap().is_empty());
    let (a, _) = chain_pair(dir.path(), b"c", 5);
    let voucher = Payer::open_voucher(terms(b"d", 50));
    let b = DurablePayer::create(dir.path(), voucher).unwrap();
    let mut expected = vec![a.payer().terms().channel, b.payer().terms().channel];
    expected.sort();
    assert_eq!(list_channels(dir.path(), Role::Payer).unwrap(), expected);
    assert_eq!(
        list_channels(dir.path(), Role::Payee).unwrap(),
        vec![a.payer().terms().channel]
    );
    let again = Payer::open_voucher(terms(b"d", 50));
    let err = DurablePayer::create(dir.path(), again).unwrap_err();
    assert_eq!(err.code(), "channel_file_exists");
    let payee = Payee::new(terms(b"d", 50), ChannelMode::Voucher);
    DurablePayee::create(dir.path(), payee).unwrap();
}

/// Each durable payment is exactly one record write on each side; the
/// printed ratio is the price of that write's fdatasync.
#[test]
fn each_durable_payment_is_one_synced_write_per_side() {
    const PAYS: u32 = 200;
    let dir = tempfile::tempdir().unwrap();
    let (mut payer, mut payee) = chain_pair(dir.path(), b"e", 1 << 12);
    let channel = payer.payer().terms().channel;
    let started = Instant::now();
    for _ in 0..PAYS {
        let payment = payer.pay(1, NOW).unwrap();
        payee.accept_payment(&payment, NOW).unwrap();
    }
    let durable = started.elapsed();
    assert_eq!(
        record_seq(dir.path(), Role::Payer, &channel),
        1 + u64::from(PAYS)
    );
    assert_eq!(
        record_seq(dir.path(), Role::Payee, &channel),
        1 + u64::from(PAYS)
    );

    let seg = NewSegment {
        seed: Hash32::digest(&[b"e"]),
        len: 1 << 12,
    };
    let (mut memory, mode) =
        Payer::open_hash_chain(terms(b"e", 1 << 12), Amount::new(1), seg).unwrap();
    let mut memory_payee = Payee::new(*memory.terms(), mode);
    let started = Instant::now();
    for _ in 0..PAYS {
        let prepared = memory.prepare_pay(1, NOW).unwrap();
        let payment = memory.commit(prepared);
        memory_payee.accept(&payment, NOW).unwrap();
    }
    let in_memory = started.elapsed();
    println!(
        "{PAYS} pay+accept: durable {:.1} µs each, in memory {:.1} µs each, ratio {:.0}x",
        durable.as_secs_f64() * 1e6 / f64::from(PAYS),
        in_memory.as_secs_f64() * 1e6 / f64::from(PAYS),
        durable.as_secs_f64() / in_memory.as_secs_f64().max(1e-9),
    );
}
