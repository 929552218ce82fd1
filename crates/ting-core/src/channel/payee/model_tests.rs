//! Property tests of payer and payee together against a model of the ledger.
//!
//! Random sequences of payments (some lost, some replayed), top-ups that
//! queue segments, and claims checked by a model ledger that applies the
//! ledger's rules: the payee's total always equals what the payer revealed
//! in the last delivered payment, no replay is ever accepted, every planned
//! claim passes the ledger's checks, and the claims pay exactly what was
//! unclaimed.

use proptest::prelude::*;

use super::tests::{new_segment, terms, EXPIRES, NOW};
use super::*;
use crate::channel::payer::{chain_segment, Payer};
use crate::keys::Keypair;
use crate::limits::CLAIM_HASHES_MAX;

#[derive(Clone, Copy, Debug)]
enum Op {
    Pay(u64),
    PayLost(u64),
    Replay(usize),
    TopUp(u32),
    Claim,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u64..40).prop_map(Op::Pay),
        1 => (1u64..40).prop_map(Op::PayLost),
        1 => any::<usize>().prop_map(Op::Replay),
        2 => (1u32..60).prop_map(Op::TopUp),
        1 => Just(Op::Claim),
    ]
}

/// The ledger's view of a hash-chain channel, reduced to what claims need.
struct LedgerModel {
    price: u64,
    /// (number, base, len, anchor) of every segment ever announced.
    segments: Vec<(u32, u64, u64, Hash32)>,
    last: u64,
    last_preimage: Option<Hash32>,
    paid_out: u64,
}

impl LedgerModel {
    fn current(&self) -> usize {
        let found = self
            .segments
            .iter()
            .position(|&(_, base, len, _)| base < self.last && self.last <= base + len);
        found.unwrap_or(0)
    }

    fn may_queue(&self) -> bool {
        self.segments.len() == self.current() + 1
    }

    /// Applies a claim as the ledger would, or says why it refuses.
    fn claim(
        &mut self,
        channel: &crate::channel::ChannelId,
        proof: &ChannelProof,
    ) -> Result<(), String> {
        let ChannelProof::Tick { index, preimage } = *proof else {
            return Err("kind".into());
        };
        let s = self
            .segments
            .iter()
            .position(|&(_, base, len, _)| base < index && index <= base + len)
            .ok_or("no segment")?;
        let (number, base, _, anchor) = self.segments[s];
        let cs = self.current();
        let (steps, reference) = if s == cs && self.last > base {
            (
                index.checked_sub(self.last).ok_or("not increasing")?,
                self.last_preimage.unwrap(),
            )
        } else if s == cs || s == cs + 1 {
            (index - base, anchor)
        } else {
            return Err(format!("segment {s} is not current ({cs}) or queued"));
        };
        if index <= self.last || steps > CLAIM_HASHES_MAX {
            return Err(format!(
                "claim {index} after {} takes {steps} steps",
                self.last
            ));
        }
        if !ChainKey::new(channel, number).links(&preimage, steps, &reference) {
            return Err("bad preimage".into());
        }
        self.paid_out += (index - self.last) * self.price;
        self.last = index;
        self.last_preimage = Some(preimage);
        Ok(())
    }
}

fn run_hash_chain(price: u64, len: u32, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut terms = terms(price * u64::from(len));
    let (mut payer, mode) =
        Payer::open_hash_chain(terms, Amount::new(price), new_segment(0, len)).unwrap();
    let mut payee = Payee::new(terms, mode);
    let ChannelMode::HashChain { chain, .. } = mode else {
        unreachable!("hash chain")
    };
    let mut ledger = LedgerModel {
        price,
        segments: vec![(0, 0, u64::from(len), chain.anchor)],
        last: 0,
        last_preimage: None,
        paid_out: 0,
    };
    let mut history: Vec<Payment> = Vec::new();
    let mut delivered = Amount::ZERO;
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Pay(units) | Op::PayLost(units) => {
                let Ok(prepared) = payer.prepare_pay(units, NOW) else {
                    continue;
                };
                let payment = payer.commit(prepared);
                history.push(payment);
                if matches!(op, Op::Pay(_)) {
                    let accepted = payee.accept(&payment, NOW);
                    let accepted =
                        accepted.map_err(|e| TestCaseError::fail(format!("{e} at {step}")))?;
                    prop_assert_eq!(accepted.total, payer.paid());
                    prop_assert_eq!(
                        accepted.newly_paid.base_units(),
                        payer.paid().base_units() - delivered.base_units()
                    );
                    delivered = payer.paid();
                }
            }
            Op::Replay(k) if !history.is_empty() => {
                let old = history[k % history.len()];
                if payee.state().best == Some(old.proof)
                    || delivered >= Amount::new(ticks_of(&old) * price)
                {
                    let refused = payee.accept(&old, NOW).map(|_| ()).unwrap_err();
                    prop_assert_eq!(refused.code(), "replayed");
                }
            }
            Op::Replay(_) => {}
            Op::TopUp(ext_len) => {
                let seg = new_segment(u8::try_from(step % 256).unwrap(), ext_len);
                let amount = Amount::new(price * u64::from(ext_len));
                let Ok(prepared) = payer.prepare_top_up(amount, EXPIRES, Some(seg)) else {
                    continue;
                };
                if !ledger.may_queue() {
                    continue;
                }
                let number = payer.next_segment_number().unwrap();
                payer.commit(prepared);
                let chain = chain_segment(&terms.channel, number, seg).unwrap();
                let &(_, base, l, _) = ledger.segments.last().unwrap();
                ledger
                    .segments
                    .push((number, base + l, u64::from(ext_len), chain.anchor));
                terms.deposit = terms.deposit.checked_add(amount).unwrap();
                payee
                    .record_top_up(amount, EXPIRES, Some((number, chain)))
                    .unwrap();
            }
            Op::Claim => {
                let unclaimed = payee.unclaimed();
                let before = ledger.paid_out;
                for proof in payee.claim_plan(NOW, &ClaimPolicy::ALWAYS).unwrap() {
                    ledger
                        .claim(&terms.channel, &proof)
                        .map_err(TestCaseError::fail)?;
                    payee.record_claim(&proof).unwrap();
                }
                prop_assert_eq!(ledger.paid_out - before, unclaimed.base_units());
                prop_assert_eq!(payee.claimed().base_units(), ledger.paid_out);
            }
        }
        prop_assert_eq!(payee.paid(), delivered);
        prop_assert!(payee.paid() <= payer.paid());
        prop_assert_eq!(Payee::restore(payee.state().clone()), Ok(payee.clone()));
        // Restoring rebuilds the tick sources: cheap only for short chains.
        if len <= 100 || step + 1 == ops.len() {
            let restored = Payer::restore(payer.state().clone()).unwrap();
            prop_assert_eq!(restored.state(), payer.state());
        }
    }
    Ok(())
}

fn ticks_of(payment: &Payment) -> u64 {
    match payment.proof {
        ChannelProof::Tick { index, .. } => index,
        ChannelProof::Voucher { amount, .. } => amount.base_units(),
    }
}

fn run_voucher(ops: &[Op]) -> Result<(), TestCaseError> {
    let key = Keypair::from_seed([1; 32]);
    let terms = terms(2_000);
    let mut payer = Payer::open_voucher(terms);
    let mut payee = Payee::new(terms, ChannelMode::Voucher);
    let mut history: Vec<Payment> = Vec::new();
    let (mut delivered, mut paid_out) = (Amount::ZERO, Amount::ZERO);
    for op in ops {
        match *op {
            Op::Pay(units) | Op::PayLost(units) => {
                let Ok(prepared) = payer.prepare_pay_amount(Amount::new(units), NOW, &key) else {
                    continue;
                };
                let payment = payer.commit(prepared);
                history.push(payment);
                if matches!(op, Op::Pay(_)) {
                    prop_assert_eq!(payee.accept(&payment, NOW).unwrap().total, payer.paid());
                    delivered = payer.paid();
                }
            }
            Op::Replay(k) if !history.is_empty() => {
                let old = history[k % history.len()];
                if Amount::new(ticks_of(&old)) <= delivered {
                    prop_assert_eq!(payee.accept(&old, NOW).unwrap_err().code(), "replayed");
                }
            }
            Op::Replay(_) | Op::TopUp(_) => {}
            Op::Claim => {
                let unclaimed = payee.unclaimed();
                for proof in payee.claim_plan(NOW, &ClaimPolicy::ALWAYS).unwrap() {
                    let ChannelProof::Voucher { amount, signature } = proof else {
                        unreachable!("vouchers")
                    };
                    prop_assert!(crate::channel::verify_voucher(
                        &terms.payer,
                        terms.network,
                        &terms.channel,
                        amount,
                        &signature
                    )
                    .is_ok());
                    prop_assert_eq!(amount.checked_sub(paid_out), Some(unclaimed));
                    paid_out = amount;
                    payee.record_claim(&proof).unwrap();
                }
            }
        }
        prop_assert_eq!(payee.paid(), delivered);
        prop_assert_eq!(Payee::restore(payee.state().clone()), Ok(payee.clone()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn hash_chain_payer_payee_and_ledger_agree(
        price in 1u64..5,
        len in 1u32..80,
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        run_hash_chain(price, len, &ops)?;
    }

}

proptest! {
    // Debug-build signatures cost milliseconds: fewer, shorter cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn voucher_payer_payee_and_ledger_agree(ops in proptest::collection::vec(op(), 1..30)) {
        run_voucher(&ops)?;
    }
}

#[test]
fn long_chains_need_several_claims_and_the_model_accepts_them() {
    let ops = [Op::Pay(30); 290]
        .iter()
        .cloned()
        .chain([Op::Claim])
        .collect::<Vec<_>>();
    run_hash_chain(1, 9_000, &ops).unwrap();
    let crossing: Vec<Op> = [
        Op::Pay(30),
        Op::TopUp(50),
        Op::Pay(39),
        Op::Claim,
        Op::TopUp(9),
        Op::Pay(39),
        Op::Pay(39),
        Op::Claim,
    ]
    .to_vec();
    run_hash_chain(3, 31, &crossing).unwrap();
}
