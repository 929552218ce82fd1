//! The payer's unit tests: what it reveals, what it refuses, and that nothing
//! changes until a prepared state is committed.

use super::*;
use crate::types::NetworkId;

const NOW: Timestamp = Timestamp(1_000);

fn terms(deposit: u64) -> ChannelTerms {
    ChannelTerms {
        network: NetworkId(7),
        channel: ChannelId(Hash32::digest(&[b"payer tests"])),
        payer: Keypair::from_seed([1; 32]).account(),
        payee: Keypair::from_seed([2; 32]).account(),
        deposit: Amount::new(deposit),
        expires_at: Timestamp(10_000),
    }
}

fn seg(tag: u8, len: u32) -> NewSegment {
    NewSegment {
        seed: Hash32::digest(&[&[tag]]),
        len,
    }
}

fn chain_payer(len: u32, price: u64, deposit: u64) -> (Payer, ChainSegment) {
    let (payer, mode) = Payer::open_hash_chain(terms(deposit), Amount::new(price), seg(0, len))
        .expect("valid channel");
    let ChannelMode::HashChain { chain, .. } = mode else {
        unreachable!("a hash-chain open gives a hash-chain mode")
    };
    (payer, chain)
}

fn pay(payer: &mut Payer, units: u64) -> Result<Payment, PayError> {
    let prepared = payer.prepare_pay(units, NOW)?;
    Ok(payer.commit(prepared))
}

fn tick(payment: &Payment) -> (u64, Hash32) {
    match payment.proof {
        ChannelProof::Tick { index, preimage } => (index, preimage),
        ChannelProof::Voucher { .. } => unreachable!("hash-chain payers pay ticks"),
    }
}

#[test]
fn ticks_link_back_to_the_anchor_and_to_each_other() {
    let (mut payer, chain) = chain_payer(10, 2, 20);
    let key = ChainKey::new(&payer.terms().channel, 0);
    let (i3, t3) = tick(&pay(&mut payer, 3).unwrap());
    assert_eq!(i3, 3);
    assert!(key.links(&t3, 3, &chain.anchor));
    let (i7, t7) = tick(&pay(&mut payer, 4).unwrap());
    assert_eq!(i7, 7);
    assert!(key.links(&t7, 4, &t3));
    assert_eq!(payer.paid(), Amount::new(14));
    assert_eq!(payer.last_payment().map(|p| tick(&p)), Some((7, t7)));
}

#[test]
fn nothing_changes_until_commit() {
    let (mut payer, _) = chain_payer(10, 1, 10);
    let before = payer.state().clone();
    let prepared = payer.prepare_pay(4, NOW).unwrap();
    assert_eq!(payer.state(), &before);
    assert!(matches!(
        prepared.state().mode,
        PayerMode::HashChain { paid_ticks: 4, .. }
    ));
    drop(prepared);
    let (index, _) = tick(&pay(&mut payer, 1).unwrap());
    assert_eq!(index, 1, "a dropped preparation reveals nothing");
}

#[test]
#[should_panic(expected = "after another change")]
fn a_stale_preparation_cannot_be_committed() {
    let (mut payer, _) = chain_payer(10, 1, 10);
    let first = payer.prepare_pay(1, NOW).unwrap();
    let second = payer.prepare_pay(2, NOW).unwrap();
    payer.commit(first);
    payer.commit(second);
}

#[test]
fn refusals_carry_codes() {
    let (mut payer, _) = chain_payer(10, 1, 10);
    let code = |r: Result<Prepared<Payment>, PayError>| r.map(|_| ()).unwrap_err().code();
    assert_eq!(code(payer.prepare_pay(0, NOW)), "nothing_to_pay");
    assert_eq!(
        code(payer.prepare_pay(1, Timestamp(10_000))),
        "channel_expired"
    );
    assert_eq!(code(payer.prepare_pay(11, NOW)), "chain_exhausted");
    assert_eq!(
        code(payer.prepare_pay(PAYMENT_HASHES_MAX + 1, NOW)),
        "payment_too_large"
    );
    let key = Keypair::from_seed([1; 32]);
    assert_eq!(
        code(payer.prepare_pay_amount(Amount::new(1), NOW, &key)),
        "wrong_mode"
    );
    let mut voucher = Payer::open_voucher(terms(10));
    assert_eq!(code(voucher.prepare_pay(1, NOW)), "wrong_mode");
    let other = Keypair::from_seed([3; 32]);
    assert_eq!(
        code(voucher.prepare_pay_amount(Amount::new(1), NOW, &other)),
        "wrong_key"
    );
    assert_eq!(
        code(voucher.prepare_pay_amount(Amount::new(11), NOW, &key)),
        "over_deposit"
    );
    assert_eq!(
        code(voucher.prepare_pay_amount(Amount::ZERO, NOW, &key)),
        "nothing_to_pay"
    );
    let open = |len, price, deposit| {
        Payer::open_hash_chain(terms(deposit), Amount::new(price), seg(0, len))
            .map(|_| ())
            .unwrap_err()
            .code()
    };
    assert_eq!(open(0, 1, 10), "bad_chain_length");
    assert_eq!(open(CHAIN_LEN_MAX + 1, 1, u64::MAX), "bad_chain_length");
    assert_eq!(open(10, 2, 19), "deposit_too_small");
    assert_eq!(open(10, 0, 19), "zero_price");
}

#[test]
fn vouchers_are_cumulative_and_verify() {
    let key = Keypair::from_seed([1; 32]);
    let mut payer = Payer::open_voucher(terms(100));
    for (amount, total) in [(5, 5), (10, 15), (85, 100)] {
        let prepared = payer
            .prepare_pay_amount(Amount::new(amount), NOW, &key)
            .unwrap();
        let payment = payer.commit(prepared);
        let ChannelProof::Voucher { amount, signature } = payment.proof else {
            unreachable!("voucher payers pay vouchers")
        };
        assert_eq!(amount, Amount::new(total));
        let t = payer.terms();
        assert!(
            super::super::verify_voucher(&t.payer, t.network, &t.channel, amount, &signature)
                .is_ok()
        );
    }
    let refused = payer.prepare_pay_amount(Amount::new(1), NOW, &key);
    assert_eq!(refused.map(|_| ()).unwrap_err().code(), "over_deposit");
}

#[test]
fn a_queued_segment_continues_the_global_index() {
    let (mut payer, _) = chain_payer(5, 1, 5);
    let refused = payer.prepare_top_up(Amount::ZERO, Timestamp(10_000), Some(seg(1, 4)));
    assert_eq!(refused.map(|_| ()).unwrap_err().code(), "deposit_too_small");
    let prepared = payer
        .prepare_top_up(Amount::new(4), Timestamp(20_000), Some(seg(1, 4)))
        .unwrap();
    payer.commit(prepared);
    let again = payer.prepare_top_up(Amount::new(4), Timestamp(20_000), Some(seg(2, 4)));
    assert_eq!(again.map(|_| ()).unwrap_err().code(), "segment_queued");
    let anchor1 = chain_segment(&payer.terms().channel, 1, seg(1, 4))
        .unwrap()
        .anchor;
    pay(&mut payer, 3).unwrap();
    let (index, preimage) = tick(&pay(&mut payer, 4).unwrap());
    assert_eq!(index, 7);
    assert!(ChainKey::new(&payer.terms().channel, 1).links(&preimage, 2, &anchor1));
    let PayerMode::HashChain { segments, .. } = &payer.state().mode else {
        unreachable!("still a hash-chain payer")
    };
    assert_eq!(segments.len(), 1, "the segment paid past is dropped");
    assert_eq!(pay(&mut payer, 3).unwrap_err().code(), "chain_exhausted");
    let restored = Payer::restore(payer.state().clone()).unwrap();
    assert_eq!(restored.state(), payer.state());
    let earlier = payer.prepare_top_up(Amount::ZERO, Timestamp(1), None);
    assert_eq!(earlier.map(|_| ()).unwrap_err().code(), "expiry_earlier");
}

#[test]
fn restore_refuses_states_that_do_not_hold_together() {
    let (mut payer, _) = chain_payer(10, 1, 10);
    pay(&mut payer, 4).unwrap();
    let good = payer.state().clone();
    let mut damaged = Vec::new();
    let mut s = good.clone();
    s.last_proof = None;
    damaged.push(s);
    let mut s = good.clone();
    s.terms.deposit = Amount::new(9);
    damaged.push(s);
    let mut s = good.clone();
    if let PayerMode::HashChain { paid_ticks, .. } = &mut s.mode {
        *paid_ticks = 11;
    }
    damaged.push(s);
    let mut s = good.clone();
    if let PayerMode::HashChain { segments, .. } = &mut s.mode {
        segments.push(PayerSegment {
            number: 2,
            base: 10,
            len: 1,
            seed: Hash32::ZERO,
        });
    }
    damaged.push(s);
    for state in damaged {
        assert_eq!(
            Payer::restore(state).map(|_| ()).unwrap_err().code(),
            "invalid_state"
        );
    }
    assert!(Payer::restore(good).is_ok());
}

proptest::proptest! {
    /// Paying in one step (`pay_ticks`, for firmware) reveals the same ticks,
    /// refuses the same payments and leaves the same state as preparing and
    /// committing, across a queued segment.
    #[test]
    fn paying_in_one_step_matches_prepare_and_commit(
        steps in proptest::collection::vec(0u64..5, 1..12),
    ) {
        let (mut two_step, _) = chain_payer(5, 1, 9);
        let top_up = two_step
            .prepare_top_up(Amount::new(4), Timestamp(20_000), Some(seg(1, 4)))
            .unwrap();
        two_step.commit(top_up);
        let mut one_step = Payer::restore(two_step.state().clone()).unwrap();
        for units in steps {
            let want = pay(&mut two_step, units);
            let got = one_step.pay_ticks(units, NOW);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(one_step.state(), two_step.state());
        }
        if let Ok(next) = pay(&mut two_step, 1) {
            proptest::prop_assert_eq!(one_step.pay_ticks(1, NOW), Ok(next));
        }
    }
}
