//! The payee's unit tests: what it accepts and refuses, and how it plans claims.

use super::*;
use crate::channel::payer::{NewSegment, Payer};
use crate::channel::ChannelId;
use crate::keys::Keypair;
use crate::limits::{CHANNEL_GRACE_MS, CLAIM_HASHES_MAX};
use crate::types::NetworkId;

pub(super) const NOW: Timestamp = Timestamp(1_000);
pub(super) const EXPIRES: Timestamp = Timestamp(1_000_000);

pub(super) fn terms(deposit: u64) -> ChannelTerms {
    ChannelTerms {
        network: NetworkId(7),
        channel: ChannelId(Hash32::digest(&[b"payee tests"])),
        payer: Keypair::from_seed([1; 32]).account(),
        payee: Keypair::from_seed([2; 32]).account(),
        deposit: Amount::new(deposit),
        expires_at: EXPIRES,
    }
}

pub(super) fn new_segment(tag: u8, len: u32) -> NewSegment {
    NewSegment {
        seed: Hash32::digest(&[b"seed", &[tag]]),
        len,
    }
}

/// A payer and payee of a hash-chain channel of `len` ticks at `price`.
fn pair(len: u32, price: u64) -> (Payer, Payee) {
    let terms = terms(u64::from(len) * price);
    let (payer, mode) =
        Payer::open_hash_chain(terms, Amount::new(price), new_segment(0, len)).unwrap();
    (payer, Payee::new(terms, mode))
}

fn pay(payer: &mut Payer, units: u64) -> Payment {
    let prepared = payer.prepare_pay(units, NOW).unwrap();
    payer.commit(prepared)
}

fn refusal(payee: &mut Payee, payment: &Payment, now: Timestamp) -> &'static str {
    let before = payee.clone();
    let code = payee.accept(payment, now).unwrap_err().code();
    assert_eq!(*payee, before, "a refused payment changes nothing");
    code
}

#[test]
fn payments_are_worth_what_they_add() {
    let (mut payer, mut payee) = pair(100, 3);
    let accepted = payee.accept(&pay(&mut payer, 5), NOW).unwrap();
    assert_eq!(
        accepted,
        Accepted {
            newly_paid: Amount::new(15),
            total: Amount::new(15)
        }
    );
    let accepted = payee.accept(&pay(&mut payer, 2), NOW).unwrap();
    assert_eq!(
        accepted,
        Accepted {
            newly_paid: Amount::new(6),
            total: Amount::new(21)
        }
    );
    assert_eq!(payee.paid(), payer.paid());
    assert_eq!(payee.unclaimed(), Amount::new(21));
}

#[test]
fn the_payee_refuses_what_it_cannot_collect() {
    let (mut payer, mut payee) = pair(100, 1);
    let first = pay(&mut payer, 5);
    payee.accept(&first, NOW).unwrap();
    assert_eq!(refusal(&mut payee, &first, NOW), "replayed");
    let next = pay(&mut payer, 1);
    assert_eq!(refusal(&mut payee, &next, EXPIRES), "channel_expired");
    let mut other = next;
    other.network = NetworkId(8);
    assert_eq!(refusal(&mut payee, &other, NOW), "wrong_network");
    other = next;
    other.channel = ChannelId(Hash32::ZERO);
    assert_eq!(refusal(&mut payee, &other, NOW), "wrong_channel");
    other.channel = next.channel;
    other.proof = ChannelProof::Tick {
        index: 7,
        preimage: Hash32::ZERO,
    };
    assert_eq!(refusal(&mut payee, &other, NOW), "bad_preimage");
    other.proof = ChannelProof::Tick {
        index: 101,
        preimage: Hash32::ZERO,
    };
    assert_eq!(refusal(&mut payee, &other, NOW), "unknown_segment");
    let key = Keypair::from_seed([1; 32]);
    other.proof = crate::channel::sign_voucher(&key, other.network, &other.channel, Amount::new(9));
    assert_eq!(refusal(&mut payee, &other, NOW), "wrong_mode");
    assert_eq!(payee.accept(&next, NOW).unwrap().newly_paid, Amount::new(1));
}

#[test]
fn hashing_work_per_payment_is_bounded() {
    let len = u32::try_from(PAYMENT_HASHES_MAX + 1).unwrap();
    let terms = terms(u64::from(len));
    // The anchor is never hashed to: the work is refused before any step.
    let mode = ChannelMode::HashChain {
        chain: ChainSegment {
            anchor: Hash32::ZERO,
            len,
        },
        price: Amount::new(1),
    };
    let mut payee = Payee::new(terms, mode);
    // Tick len is the seed itself: the farthest tick from the anchor.
    let far = Payment {
        network: terms.network,
        channel: terms.channel,
        proof: ChannelProof::Tick {
            index: u64::from(len),
            preimage: Hash32::ZERO,
        },
    };
    assert_eq!(refusal(&mut payee, &far, NOW), "too_far");
}

#[test]
fn vouchers_are_checked_by_signature_and_deposit() {
    let key = Keypair::from_seed([1; 32]);
    let terms = terms(50);
    let mut payer = Payer::open_voucher(terms);
    let mut payee = Payee::new(terms, ChannelMode::Voucher);
    let prepared = payer
        .prepare_pay_amount(Amount::new(20), NOW, &key)
        .unwrap();
    let payment = payer.commit(prepared);
    assert_eq!(payee.accept(&payment, NOW).unwrap().total, Amount::new(20));
    assert_eq!(refusal(&mut payee, &payment, NOW), "replayed");
    let forged = crate::channel::sign_voucher(
        &Keypair::from_seed([9; 32]),
        terms.network,
        &terms.channel,
        Amount::new(30),
    );
    let mut bad = payment;
    bad.proof = forged;
    assert_eq!(refusal(&mut payee, &bad, NOW), "bad_signature");
    bad.proof = crate::channel::sign_voucher(&key, terms.network, &terms.channel, Amount::new(51));
    assert_eq!(refusal(&mut payee, &bad, NOW), "over_deposit");
    assert_eq!(
        payee.claim_plan(NOW, &ClaimPolicy::ALWAYS).unwrap(),
        vec![payment.proof]
    );
}

/// Every claim is at most `CLAIM_HASHES_MAX` steps from the one before (or
/// its segment's anchor), and the plan ends at the best proof.
fn check_plan(payee: &Payee, anchors: &[(u32, u64, Hash32)], claimed: u64) -> Vec<u64> {
    let plan = payee.claim_plan(NOW, &ClaimPolicy::ALWAYS).unwrap();
    let channel = payee.terms().channel;
    let (mut last, mut last_preimage) = (claimed, None);
    let mut indices = Vec::new();
    for proof in &plan {
        let ChannelProof::Tick { index, preimage } = *proof else {
            unreachable!("ticks")
        };
        let &(number, base, anchor) = anchors
            .iter()
            .rev()
            .find(|(_, base, _)| *base < index)
            .unwrap();
        let (steps, reference) = match last_preimage {
            Some(p) if last > base => (index - last, p),
            _ => (index - base, anchor),
        };
        assert!(
            steps <= CLAIM_HASHES_MAX,
            "claim of {index} takes {steps} steps"
        );
        assert!(ChainKey::new(&channel, number).links(&preimage, steps, &reference));
        (last, last_preimage) = (index, Some(preimage));
        indices.push(index);
    }
    assert_eq!(plan.last().copied(), payee.state().best);
    indices
}

#[test]
fn claims_are_split_to_the_ledger_limit_within_and_across_segments() {
    let (mut payer, mut payee) = pair(5_000, 1);
    let anchor0 = match payee.state().mode {
        PayeeMode::HashChain { ref segments, .. } => segments[0].chain.anchor,
        PayeeMode::Voucher { .. } => unreachable!("hash chain"),
    };
    payee.accept(&pay(&mut payer, 4_500), NOW).unwrap();
    let anchors = [(0, 0, anchor0)];
    assert_eq!(check_plan(&payee, &anchors, 0), vec![4_096, 4_500]);
    let ext = new_segment(1, 10_000);
    let prepared = payer
        .prepare_top_up(Amount::new(10_000), EXPIRES, Some(ext))
        .unwrap();
    payer.commit(prepared);
    let chain1 = crate::channel::payer::chain_segment(&payee.terms().channel, 1, ext).unwrap();
    payee
        .record_top_up(Amount::new(10_000), EXPIRES, Some((1, chain1)))
        .unwrap();
    payee.accept(&pay(&mut payer, 500), NOW).unwrap();
    payee.accept(&pay(&mut payer, 9_000), NOW).unwrap();
    let anchors = [(0, 0, anchor0), (1, 5_000, chain1.anchor)];
    assert_eq!(check_plan(&payee, &anchors, 0), vec![9_096, 13_192, 14_000]);
    payee
        .record_claim(&ChannelProof::Tick {
            index: 4_096,
            preimage: Hash32::ZERO,
        })
        .unwrap();
    assert_eq!(payee.unclaimed(), Amount::new(14_000 - 4_096));
}

#[test]
fn the_policy_waits_until_enough_is_at_risk_or_expiry_nears() {
    let (mut payer, mut payee) = pair(100, 2);
    payee.accept(&pay(&mut payer, 10), NOW).unwrap();
    let policy = ClaimPolicy {
        at_risk_min: Amount::new(21),
        expiry_margin_ms: 1_000,
    };
    assert!(payee.claim_plan(NOW, &policy).unwrap().is_empty());
    let near = Timestamp(EXPIRES.0 - 1_000);
    assert_eq!(payee.claim_plan(near, &policy).unwrap().len(), 1);
    payee.accept(&pay(&mut payer, 1), NOW).unwrap();
    assert_eq!(payee.claim_plan(NOW, &policy).unwrap().len(), 1);
    let closed = Timestamp(EXPIRES.0 + CHANNEL_GRACE_MS);
    let err = payee.claim_plan(closed, &policy).unwrap_err();
    assert_eq!(err.code(), "claim_window_closed");
    let last = payee.state().best.unwrap();
    payee.record_claim(&last).unwrap();
    assert!(payee
        .claim_plan(NOW, &ClaimPolicy::ALWAYS)
        .unwrap()
        .is_empty());
}
