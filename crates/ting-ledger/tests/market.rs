//! The service market on the ledger: escrow holds, offers and reputation,
//! case by case, and against a plain model. This file holds the cases of
//! creating, accepting and releasing a hold; `market/outcomes.rs` those of
//! refunds, disputes, decisions and reputation, `market/offers.rs` offers,
//! `market/state.rs` the state (refusals, roots, snapshots, proofs), and
//! `market/model.rs` (with `market/steps.rs`) the property test;
//! `market/fixture.rs` is what they share.
//!
//! The cases pin each rule of `crates/ting-ledger/src/hold.rs` and
//! `offer.rs` and its refusal code: a hold locks its amount and
//! `HOLD_DEPOSIT` (within the payer's funds, its daily spending limit and
//! `HOLDS_OPEN_PER_PAYER_MAX`), with a deadline after the block and within
//! `HOLD_DEADLINE_MAX_MS`; only its payee accepts it, while open and not
//! past the deadline; the payer's side releases it, the arbiter too under an
//! arbiter rule, and anyone with evidence the named device signed for this
//! hold, in the hold's life, that meets the template; the payee's side
//! refunds at any time and the payer's side before acceptance, after the
//! deadline and grace once accepted, or after the arbiter's window once
//! disputed; either side disputes an accepted hold that names an arbiter,
//! until the deadline and grace end; the arbiter decides a disputed hold
//! within its amount. Outcomes of accepted holds count in the payee's
//! reputation in the hold's category only between parties that answer to
//! different owners. Offers hold `OFFER_DEPOSIT` until their provider (or
//! its owner) closes them.
//!
//! After every transaction the fixture checks that a refusal changed
//! nothing and that money is conserved with running sums equal to a walk;
//! after every block, that the incremental state root equals one rebuilt
//! from scratch. Snapshots keep holds, offers and reputations, and state
//! answers prove them (and their absence) to a client.

#![allow(clippy::cast_possible_truncation)] // small test indices

mod common;
#[path = "market/fixture.rs"]
mod fixture;
#[path = "market/model.rs"]
mod model;
#[path = "market/offers.rs"]
mod offers;
#[path = "market/outcomes.rs"]
mod outcomes;
#[path = "market/state.rs"]
mod state;
#[path = "market/steps.rs"]
mod steps;

use common::*;
use fixture::*;
use ting_core::limits::{
    DAY_MS, EVIDENCE_CLOCK_SKEW_MS, HOLDS_OPEN_PER_PAYER_MAX, HOLD_DEADLINE_MAX_MS, HOLD_DEPOSIT,
    HOLD_GRACE_MS_DEFAULT,
};
use ting_core::market::{Hold, HoldId, HoldPhase, HoldTerms, SignedEvidence, Value};
use ting_core::{Amount, Hash32, Timestamp, TxKind};
use ting_ledger::TxError;

// ---------------------------------------------------------------------------
// Creating a hold.

#[test]
fn a_payer_locks_the_amount_and_the_deposit_in_a_hold_with_a_derived_id() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let terms = f.evidence_terms(&payee);
    let t = f.tx_of(
        &payer,
        TxKind::HoldCreate {
            terms: terms.clone(),
        },
    );
    let id = t.opened_hold().expect("names its hold");
    assert_eq!(
        id,
        HoldId::derive(&genesis_hash(), &payer.account(), t.nonce())
    );
    assert_eq!(t.kind().counterparty(), Some(payee.account()));
    let (before, locked) = (f.balance(&payer), f.locked());
    f.apply(t).expect("creates");
    assert_eq!(f.balance(&payer), before - AMOUNT - HOLD_DEPOSIT);
    assert_eq!(f.locked(), locked + AMOUNT + HOLD_DEPOSIT);
    assert_eq!(f.state.open_hold_count(&payer.account()), 1);
    let want = Hold {
        payer: payer.account(),
        deposit: Amount::new(HOLD_DEPOSIT),
        created_at: Timestamp(f.at),
        phase: HoldPhase::Open,
        unrelated: true,
        terms,
    };
    assert_eq!(f.state.hold(&id), Some(&want));
    assert_eq!(f.state.holds().count(), 1);
    // Nothing reaches the payee yet, and no reputation is written.
    assert_eq!(f.balance(&payee), FUND);
    assert_eq!(f.reputation(&payee, CATEGORY), None);
    f.commit();
    assert_eq!(f.proved_hold(&id), Some(want));
    // The next create has the next nonce, so another id.
    let second = f.create(&payer, f.terms(&payee));
    assert_ne!(second, id);
    assert_eq!(f.state.open_hold_count(&payer.account()), 2);
}

#[test]
fn a_deadline_lies_after_the_block_and_at_most_a_year_ahead() {
    let mut f = Fixture::new();
    let payer = buyer();
    let with = |f: &Fixture, deadline: u64| HoldTerms {
        deadline: Timestamp(deadline),
        ..f.terms(&provider())
    };
    for deadline in [f.at - 1, f.at, f.at + HOLD_DEADLINE_MAX_MS + 1, u64::MAX] {
        let refused = f.send(
            &payer,
            TxKind::HoldCreate {
                terms: with(&f, deadline),
            },
        );
        assert_eq!(code(refused), Err("bad_deadline"), "deadline {deadline}");
    }
    for deadline in [f.at + 1, f.at + HOLD_DEADLINE_MAX_MS] {
        f.create(&payer, with(&f, deadline));
    }
    assert_eq!(f.state.open_hold_count(&payer.account()), 2);
}

#[test]
fn the_payer_is_neither_the_payee_nor_the_arbiter() {
    let mut f = Fixture::new();
    let payer = buyer();
    let to_itself = f.terms(&payer);
    let judged_by_itself = HoldTerms {
        arbiter: Some(payer.account()),
        ..f.terms(&provider())
    };
    let not_a_key = HoldTerms {
        payee: small_order(),
        ..f.terms(&provider())
    };
    for terms in [to_itself, judged_by_itself, not_a_key] {
        let refused = f.send(&payer, TxKind::HoldCreate { terms });
        assert_eq!(code(refused), Err("invalid_hold"));
    }
    // Accounts of one owner may hold for each other (no reputation moves).
    f.create(&device(), f.terms(&shop()));
    f.create(&owner(), f.terms(&shop()));
}

#[test]
fn a_payer_has_at_most_the_most_open_holds_and_may_create_again_after_one_ends() {
    let mut f = Fixture::new();
    let payer = buyer();
    let ids: Vec<HoldId> = (0..HOLDS_OPEN_PER_PAYER_MAX)
        .map(|_| f.create(&payer, f.terms(&provider())))
        .collect();
    let refused = f.send(
        &payer,
        TxKind::HoldCreate {
            terms: f.terms(&provider()),
        },
    );
    assert_eq!(code(refused), Err("too_many_holds"));
    // Another payer is not held back.
    f.create(&stranger(), f.terms(&provider()));
    f.send(&payer, release(ids[5])).expect("one ends");
    assert_eq!(
        f.state.open_hold_count(&payer.account()),
        HOLDS_OPEN_PER_PAYER_MAX - 1
    );
    f.create(&payer, f.terms(&provider()));
    let refused = f.send(
        &payer,
        TxKind::HoldCreate {
            terms: f.terms(&provider()),
        },
    );
    assert_eq!(code(refused), Err("too_many_holds"));
    f.commit();
}

#[test]
fn a_hold_needs_funds_for_its_amount_and_its_deposit() {
    let mut f = Fixture::new();
    let poor = key(12);
    f.fund(&poor.account(), AMOUNT + HOLD_DEPOSIT - 1);
    let refused = f.send(
        &poor,
        TxKind::HoldCreate {
            terms: f.terms(&provider()),
        },
    );
    assert_eq!(code(refused), Err("insufficient_funds"));
    f.fund(&poor.account(), 1);
    f.create(&poor, f.terms(&provider()));
    assert_eq!(f.balance(&poor), 0);
}

#[test]
fn a_hold_counts_against_the_daily_spend_limit_and_a_frozen_device_creates_none() {
    let mut f = Fixture::new();
    let payer = device();
    let limit = TxKind::SetSpendLimit {
        device: payer.account(),
        per_day: Some(Amount::new(2 * (AMOUNT + HOLD_DEPOSIT) - 1)),
    };
    f.send(&owner(), limit).expect("limits");
    let id = f.create(&payer, f.terms(&provider()));
    let refused = f.send(
        &payer,
        TxKind::HoldCreate {
            terms: f.terms(&provider()),
        },
    );
    assert_eq!(code(refused), Err("spend_limit_exceeded"));
    // Getting the money back does not lower what the device spent today.
    f.send(&payer, refund(id)).expect("refunds an open hold");
    let refused = f.send(
        &payer,
        TxKind::HoldCreate {
            terms: f.terms(&provider()),
        },
    );
    assert_eq!(code(refused), Err("spend_limit_exceeded"));
    f.wait_until(f.at + DAY_MS);
    let id = f.create(&payer, f.terms(&provider()));
    f.send(
        &owner(),
        TxKind::Freeze {
            device: payer.account(),
        },
    )
    .expect("freezes");
    let refused = f.send(
        &payer,
        TxKind::HoldCreate {
            terms: f.terms(&provider()),
        },
    );
    assert_eq!(code(refused), Err("frozen"));
    // Releasing pays out of the device's hold: a frozen device may not.
    assert_eq!(code(f.send(&payer, release(id))), Err("frozen"));
    // Taking its money back, it may.
    f.send(&payer, refund(id)).expect("refunds");
}

// ---------------------------------------------------------------------------
// Accepting.

#[test]
fn only_the_payee_accepts_an_open_hold_up_to_its_deadline() {
    let mut f = Fixture::new();
    let (payer, payee) = (device(), provider());
    let id = f.create(&payer, f.terms(&payee));
    for who in [device(), owner(), stranger(), arbiter()] {
        assert_eq!(code(f.send(&who, accept(id))), Err("not_hold_party"));
    }
    // Not even the payee's owner: the one who does the job takes it on.
    let for_shop = f.create(&payer, f.terms(&shop()));
    assert_eq!(
        code(f.send(&owner(), accept(for_shop))),
        Err("not_hold_party")
    );
    f.send(&payee, accept(id)).expect("accepts");
    assert_eq!(
        f.state.hold(&id).map(|h| h.phase),
        Some(HoldPhase::Accepted)
    );
    assert_eq!(code(f.send(&payee, accept(id))), Err("wrong_hold_phase"));
    let unknown = HoldId(Hash32::digest(&[b"no such hold"]));
    assert_eq!(code(f.send(&payee, accept(unknown))), Err("unknown_hold"));
    // At the deadline it may still be accepted; after it, not.
    let late = f.create(&payer, f.terms(&payee));
    let deadline = f.state.hold(&late).expect("open").terms.deadline.0;
    let on_time = f.create(&payer, f.terms(&payee));
    f.wait_until(deadline);
    f.send(&payee, accept(on_time)).expect("at the deadline");
    f.wait_until(deadline + 1);
    assert_eq!(
        code(f.send(&payee, accept(late))),
        Err("hold_past_deadline")
    );
    assert_eq!(f.state.hold(&late).map(|h| h.phase), Some(HoldPhase::Open));
}

// ---------------------------------------------------------------------------
// Releasing.

#[test]
fn the_payer_or_its_owner_releases_the_amount_to_the_payee_and_the_deposit_back() {
    for by_owner in [false, true] {
        let mut f = Fixture::new();
        let (payer, payee) = (device(), provider());
        let id = f.accepted(&payer, &payee, f.terms(&payee));
        for who in [stranger(), provider(), arbiter()] {
            assert_eq!(code(f.send(&who, release(id))), Err("not_hold_party"));
        }
        let (p, q, o) = (f.balance(&payer), f.balance(&payee), f.balance(&owner()));
        let sender = if by_owner { owner() } else { device() };
        f.send(&sender, release(id)).expect("releases");
        assert_eq!(f.balance(&payee), q + AMOUNT);
        assert_eq!(f.balance(&payer), p + HOLD_DEPOSIT);
        assert_eq!(f.balance(&owner()), o, "the owner only sends");
        assert_eq!(f.state.hold(&id), None);
        assert_eq!(f.state.open_hold_count(&payer.account()), 0);
        assert_eq!(f.locked(), 0);
    }
}

#[test]
fn the_arbiter_releases_under_an_arbiter_rule_and_not_under_the_others() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let by_arbiter = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    let by_evidence = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    let by_payer = HoldTerms {
        arbiter: Some(arbiter().account()),
        ..f.terms(&payee)
    };
    let by_payer = f.accepted(&payer, &payee, by_payer);
    for id in [by_evidence, by_payer] {
        assert_eq!(code(f.send(&arbiter(), release(id))), Err("not_hold_party"));
    }
    let q = f.balance(&payee);
    f.send(&arbiter(), release(by_arbiter))
        .expect("the arbiter releases");
    assert_eq!(f.balance(&payee), q + AMOUNT);
    // Under an arbiter rule the payer still may.
    let again = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    f.send(&payer, release(again)).expect("the payer releases");
    f.commit();
}

#[test]
fn anyone_with_matching_evidence_releases_an_evidence_hold() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let id = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    f.wait_until(f.at + 3_600_000);
    let e = signed(evidence(id, f.at - 1_000, 812));
    let (p, q, s) = (f.balance(&payer), f.balance(&payee), f.balance(&stranger()));
    f.send(&stranger(), release_with(id, e.clone()))
        .expect("a stranger carries the evidence");
    assert_eq!(f.balance(&payee), q + AMOUNT);
    assert_eq!(f.balance(&payer), p + HOLD_DEPOSIT);
    assert_eq!(f.balance(&stranger()), s);
    assert_eq!(f.state.hold(&id), None);
    // The evidence is spent with the hold: sent again, it finds none.
    for who in [stranger(), provider()] {
        assert_eq!(
            code(f.send(&who, release_with(id, e.clone()))),
            Err("unknown_hold")
        );
    }
    f.commit();
    assert_eq!(f.proved_hold(&id), None, "proved gone");
    // The evidence rule adds to the payer's: it may release without any.
    let other = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    f.send(&payer, release(other)).expect("the payer releases");
}

#[test]
fn evidence_signed_by_another_key_or_for_another_hold_or_network_is_refused() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let id = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    let other = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    let at = f.at;
    let good = evidence(id, at, 812);
    let by_another = SignedEvidence {
        signature: stranger().sign(&good.signing_message(&genesis_hash())),
        evidence: good.clone(),
    };
    let by_the_payee = good.clone().sign(&payee, &genesis_hash());
    let other_network = good
        .clone()
        .sign(&sensor(), &Hash32::digest(&[b"another network"]));
    let mut altered = signed(good.clone());
    altered.evidence.fields[1].1 = Value::Number(813);
    for bad in [by_another, by_the_payee, other_network, altered] {
        let refused = f.send(&stranger(), release_with(id, bad));
        assert_eq!(code(refused), Err("bad_evidence_signature"));
    }
    // Good evidence for one hold releases no other.
    let for_other = signed(evidence(other, at, 812));
    let refused = f.send(&stranger(), release_with(id, for_other.clone()));
    assert_eq!(code(refused), Err("evidence_for_other_hold"));
    // A hold without an evidence rule takes none, even from its payer.
    let plain = f.accepted(&payer, &payee, f.terms(&payee));
    let refused = f.send(
        &payer,
        release_with(plain, signed(evidence(plain, at, 812))),
    );
    assert_eq!(code(refused), Err("no_evidence_rule"));
    assert!(f.state.hold(&id).is_some() && f.state.hold(&plain).is_some());
    f.send(&stranger(), release_with(other, for_other))
        .expect("on its own hold");
    f.send(&stranger(), release_with(id, signed(good)))
        .expect("the sensor's own");
}

#[test]
fn evidence_must_be_observed_between_the_creation_and_the_deadline_and_not_after_the_block() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let created = f.at;
    let ids: Vec<HoldId> = (0..3)
        .map(|_| f.accepted(&payer, &payee, f.evidence_terms(&payee)))
        .collect();
    let deadline = created + DAY_MS;
    f.wait_until(created + 1_000);
    let now = f.at;
    for observed in [created - 1, now + EVIDENCE_CLOCK_SKEW_MS + 1, deadline + 1] {
        let refused = f.send(
            &stranger(),
            release_with(ids[0], signed(evidence(ids[0], observed, 812))),
        );
        assert_eq!(
            code(refused),
            Err("evidence_out_of_time"),
            "observed at {observed}"
        );
    }
    f.send(
        &stranger(),
        release_with(ids[0], signed(evidence(ids[0], created, 812))),
    )
    .expect("observed at the creation");
    f.send(
        &stranger(),
        release_with(
            ids[1],
            signed(evidence(ids[1], now + EVIDENCE_CLOCK_SKEW_MS, 812)),
        ),
    )
    .expect("observed by a clock a little ahead of the block's");
    // After the deadline, evidence observed in time still lands until the
    // payer takes the money back; evidence observed late never does.
    f.wait_until(deadline + HOLD_GRACE_MS_DEFAULT + 5);
    let late = signed(evidence(ids[2], deadline + 1, 812));
    assert_eq!(
        code(f.send(&stranger(), release_with(ids[2], late))),
        Err("evidence_out_of_time")
    );
    f.send(
        &stranger(),
        release_with(ids[2], signed(evidence(ids[2], deadline, 812))),
    )
    .expect("observed at the deadline");
}

#[test]
fn evidence_that_misses_the_template_names_the_rule_it_misses() {
    let mut f = Fixture::new();
    let id = f.accepted(&buyer(), &provider(), f.evidence_terms(&provider()));
    let at = f.at;
    let weak = signed(evidence(id, at, 499));
    let refused = f.send(&stranger(), release_with(id, weak));
    assert!(
        matches!(&refused, Err(TxError::EvidenceMismatch { field, .. }) if field == "flow_ml_min"),
        "{refused:?}"
    );
    assert_eq!(code(refused), Err("evidence_mismatch"));
    let mut no_event = evidence(id, at, 812);
    no_event.fields.remove(0);
    let refused = f.send(&stranger(), release_with(id, signed(no_event)));
    assert!(
        matches!(&refused, Err(TxError::EvidenceMismatch { field, .. }) if field == "event"),
        "{refused:?}"
    );
    let mut as_text = evidence(id, at, 812);
    as_text.fields[1].1 = Value::Text(b"812".to_vec());
    let refused = f.send(&stranger(), release_with(id, signed(as_text)));
    assert!(
        matches!(&refused, Err(TxError::EvidenceMismatch { field, .. }) if field == "flow_ml_min"),
        "{refused:?}"
    );
    f.send(&stranger(), release_with(id, signed(evidence(id, at, 500))))
        .expect("the least flow the template allows");
}

#[test]
fn evidence_releases_an_open_hold_but_not_a_disputed_one() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let open = f.create(&payer, f.evidence_terms(&payee));
    let disputed = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    f.send(&payer, dispute(disputed)).expect("disputes");
    let at = f.at;
    let refused = f.send(
        &stranger(),
        release_with(disputed, signed(evidence(disputed, at, 812))),
    );
    assert_eq!(code(refused), Err("wrong_hold_phase"));
    f.send(
        &stranger(),
        release_with(open, signed(evidence(open, at, 812))),
    )
    .expect("an open hold");
    // Nobody took it on, so no reputation moves.
    assert_eq!(f.reputation(&payee, CATEGORY), None);
}
