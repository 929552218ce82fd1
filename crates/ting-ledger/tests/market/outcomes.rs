//! How holds end besides a release, and what their outcomes do to the
//! payee's reputation: refunds by either side and when, disputes and the
//! arbiter's decisions; outcomes counted per category, buyers by owner, and
//! never between accounts of one owner or for a hold never accepted.

use super::common::*;
use super::fixture::*;
use ting_core::limits::{DAY_MS, HOLD_ARBITER_MS, HOLD_DEPOSIT, HOLD_GRACE_MS_DEFAULT};
use ting_core::market::{HoldId, HoldPhase, HoldTerms};
use ting_core::Timestamp;
use ting_ledger::TxError;

// ---------------------------------------------------------------------------
// Refunds, disputes and decisions.

#[test]
fn the_payee_or_its_owner_refunds_at_any_time() {
    let mut f = Fixture::new();
    let payer = buyer();
    let open = f.create(&payer, f.terms(&provider()));
    let accepted = f.accepted(&payer, &shop(), f.terms(&shop()));
    let disputed = f.accepted(&payer, &provider(), f.arbiter_terms(&provider()));
    f.send(&payer, dispute(disputed)).expect("disputes");
    let before = f.balance(&payer);
    f.send(&provider(), refund(open))
        .expect("refunds an open hold");
    f.send(&owner(), refund(accepted))
        .expect("the shop's owner refunds");
    f.send(&provider(), refund(disputed))
        .expect("refunds a disputed hold");
    assert_eq!(f.balance(&payer), before + 3 * (AMOUNT + HOLD_DEPOSIT));
    assert_eq!(f.locked(), 0);
    assert_eq!(f.state.open_hold_count(&payer.account()), 0);
    // Given back after being taken on: withdrawn, for each payee.
    for who in [shop(), provider()] {
        let r = f.reputation(&who, CATEGORY).expect("counted");
        assert_eq!(tallies(&r), [(0, 0), (0, 0), (1, AMOUNT), (0, 0)]);
        assert!(r.buyers.is_empty(), "no buyer stands behind a withdrawal");
    }
}

#[test]
fn the_payer_refunds_an_open_hold_at_once_and_an_accepted_one_after_the_deadline_and_grace() {
    let mut f = Fixture::new();
    let (payer, payee) = (device(), provider());
    let open = f.create(&payer, f.terms(&payee));
    let accepted = f.accepted(&payer, &payee, f.terms(&payee));
    let by_owner = f.accepted(&payer, &payee, f.terms(&payee));
    for who in [stranger(), arbiter()] {
        assert_eq!(code(f.send(&who, refund(open))), Err("not_hold_party"));
    }
    let p = f.balance(&payer);
    f.send(&payer, refund(open))
        .expect("before the payee accepts");
    assert_eq!(f.balance(&payer), p + AMOUNT + HOLD_DEPOSIT);
    let deadline = f.state.hold(&accepted).expect("open").terms.deadline.0;
    let from = Timestamp(deadline + HOLD_GRACE_MS_DEFAULT);
    for at in [deadline, deadline + HOLD_GRACE_MS_DEFAULT] {
        f.wait_until(at);
        let refused = f.send(&payer, refund(accepted));
        assert!(
            matches!(refused, Err(TxError::TooEarlyToRefund { from: t, .. }) if t == from),
            "{refused:?}"
        );
    }
    f.wait_until(deadline + HOLD_GRACE_MS_DEFAULT + 1);
    let p = f.balance(&payer);
    f.send(&payer, refund(accepted)).expect("after the grace");
    f.send(&owner(), refund(by_owner))
        .expect("the payer's owner too");
    assert_eq!(f.balance(&payer), p + 2 * (AMOUNT + HOLD_DEPOSIT));
    let r = f.reputation(&payee, CATEGORY).expect("counted");
    assert_eq!(tallies(&r), [(0, 0), (2, 2 * AMOUNT), (0, 0), (0, 0)]);
    assert_eq!(r.last_at, Timestamp(f.at));
}

#[test]
fn a_disputed_hold_goes_back_to_the_payer_only_after_the_arbiter_s_window() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let id = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    f.send(&payee, dispute(id)).expect("the payee disputes");
    let deadline = f.state.hold(&id).expect("open").terms.deadline.0;
    for at in [
        deadline + HOLD_GRACE_MS_DEFAULT + 1,
        deadline + HOLD_ARBITER_MS,
    ] {
        f.wait_until(at);
        assert_eq!(code(f.send(&payer, refund(id))), Err("too_early_to_refund"));
    }
    f.wait_until(deadline + HOLD_ARBITER_MS + 1);
    let p = f.balance(&payer);
    f.send(&payer, refund(id))
        .expect("the arbiter never decided");
    assert_eq!(f.balance(&payer), p + AMOUNT + HOLD_DEPOSIT);
    // An arbiter who never decided is nobody's outcome.
    assert_eq!(f.reputation(&payee, CATEGORY), None);
}

#[test]
fn a_dispute_needs_a_party_an_arbiter_an_accepted_hold_and_time() {
    let mut f = Fixture::new();
    let (payer, payee) = (device(), provider());
    let no_arbiter = f.accepted(&payer, &payee, f.terms(&payee));
    assert_eq!(code(f.send(&payer, dispute(no_arbiter))), Err("no_arbiter"));
    let open = f.create(&payer, f.arbiter_terms(&payee));
    assert_eq!(code(f.send(&payer, dispute(open))), Err("wrong_hold_phase"));
    let ids: Vec<HoldId> = (0..3)
        .map(|_| f.accepted(&payer, &payee, f.arbiter_terms(&payee)))
        .collect();
    for who in [stranger(), arbiter()] {
        assert_eq!(code(f.send(&who, dispute(ids[0]))), Err("not_hold_party"));
    }
    f.send(&owner(), dispute(ids[0]))
        .expect("the payer's owner");
    assert_eq!(
        f.state.hold(&ids[0]).map(|h| h.phase),
        Some(HoldPhase::Disputed)
    );
    assert_eq!(
        code(f.send(&payee, dispute(ids[0]))),
        Err("wrong_hold_phase")
    );
    let deadline = f.state.hold(&ids[1]).expect("open").terms.deadline.0;
    f.wait_until(deadline + HOLD_GRACE_MS_DEFAULT);
    f.send(&payee, dispute(ids[1]))
        .expect("until the grace ends");
    f.wait_until(deadline + HOLD_GRACE_MS_DEFAULT + 1);
    let refused = f.send(&payer, dispute(ids[2]));
    let until = Timestamp(deadline + HOLD_GRACE_MS_DEFAULT);
    assert!(
        matches!(refused, Err(TxError::TooLateToDispute { until: u, .. }) if u == until),
        "{refused:?}"
    );
    // A dispute moves no money.
    assert_eq!(f.locked(), 5 * (AMOUNT + HOLD_DEPOSIT));
}

#[test]
fn only_the_arbiter_decides_a_disputed_hold_within_its_amount() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let accepted = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    assert_eq!(
        code(f.send(&arbiter(), decide(accepted, 1))),
        Err("wrong_hold_phase")
    );
    let split = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    let whole = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    let nothing = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    for id in [split, whole, nothing] {
        f.send(&payer, dispute(id)).expect("disputes");
    }
    for who in [buyer(), provider(), stranger()] {
        assert_eq!(code(f.send(&who, decide(split, 1))), Err("not_hold_party"));
    }
    let refused = f.send(&arbiter(), decide(split, AMOUNT + 1));
    assert_eq!(code(refused), Err("decision_over_amount"));
    let (p, q, a) = (f.balance(&payer), f.balance(&payee), f.balance(&arbiter()));
    f.send(&arbiter(), decide(split, 100_000)).expect("splits");
    assert_eq!(f.balance(&payee), q + 100_000);
    assert_eq!(f.balance(&payer), p + AMOUNT - 100_000 + HOLD_DEPOSIT);
    assert_eq!(f.balance(&arbiter()), a, "the arbiter is paid nothing here");
    assert_eq!(f.state.hold(&split), None);
    f.send(&arbiter(), decide(whole, AMOUNT))
        .expect("all to the payee");
    f.send(&arbiter(), decide(nothing, 0)).expect("all back");
    assert_eq!(f.balance(&payee), q + 100_000 + AMOUNT);
    assert_eq!(
        f.balance(&payer),
        p + AMOUNT - 100_000 + 2 * HOLD_DEPOSIT + AMOUNT + HOLD_DEPOSIT
    );
    assert_eq!(
        code(f.send(&arbiter(), decide(split, 1))),
        Err("unknown_hold")
    );
    // A dispute the payee won counts as released; one it lost in part or
    // whole counts as lost, for what the hold held.
    let r = f.reputation(&payee, CATEGORY).expect("counted");
    assert_eq!(tallies(&r), [(1, AMOUNT), (0, 0), (0, 0), (2, 2 * AMOUNT)]);
    assert_eq!(r.buyers, vec![payer.account()]);
    // The arbiter may decide after the window while the hold is still there.
    let late = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
    f.send(&payee, dispute(late)).expect("disputes");
    f.wait_until(f.at + DAY_MS + HOLD_ARBITER_MS + 1);
    f.send(&arbiter(), decide(late, AMOUNT))
        .expect("late, still its call");
}

// ---------------------------------------------------------------------------
// Reputation.

#[test]
fn outcomes_count_for_the_payee_in_the_hold_s_category_with_buyers_counted_by_owner() {
    let mut f = Fixture::new();
    let payee = provider();
    let other = "hvac.filter";
    // Owner's two payers, the owner itself, and an unrelated buyer.
    let second = key(12);
    let owner_key = owner();
    let nonce = f.state.next_nonce(&owner_key.account()).0;
    f.apply(register(&owner_key, nonce, &second))
        .expect("registers");
    f.fund(&second.account(), FUND);
    for payer in [device(), key(12), owner(), buyer()] {
        let id = f.accepted(&payer, &payee, f.terms(&payee));
        f.send(&payer, release(id)).expect("releases");
    }
    let elsewhere = HoldTerms {
        category: other.into(),
        ..f.terms(&payee)
    };
    let id = f.accepted(&buyer(), &payee, elsewhere);
    f.send(&payee, refund(id)).expect("withdraws");
    let r = f.reputation(&payee, CATEGORY).expect("counted");
    assert_eq!(tallies(&r), [(4, 4 * AMOUNT), (0, 0), (0, 0), (0, 0)]);
    let mut buyers = vec![owner().account(), buyer().account()];
    buyers.sort();
    assert_eq!(r.buyers, buyers, "a device counts as its owner");
    assert_eq!(r.success_ppm(), 1_000_000);
    assert_eq!(
        r.score_ppm(),
        500_000,
        "two buyers: half of a perfect score"
    );
    let r = f.reputation(&payee, other).expect("its own category");
    assert_eq!(tallies(&r), [(0, 0), (0, 0), (1, AMOUNT), (0, 0)]);
    assert_eq!(
        f.reputation(&payee, "water.cartridge"),
        None,
        "exact categories"
    );
    assert_eq!(f.state.reputations_of(&payee.account(), "").count(), 2);
    assert_eq!(f.state.reputations_of(&payee.account(), "water").count(), 1);
    assert_eq!(f.state.principal(&device().account()), owner().account());
    assert_eq!(f.state.principal(&buyer().account()), buyer().account());
}

#[test]
fn a_provider_cannot_build_its_own_reputation() {
    let mut f = Fixture::new();
    // The owner's device pays its other device; the owner pays its device;
    // the device pays its owner. Every hold accepted and released.
    for (payer, payee) in [(device(), shop()), (owner(), shop()), (device(), owner())] {
        let id = f.accepted(&payer, &payee, f.arbiter_terms(&payee));
        assert_eq!(f.state.hold(&id).map(|h| h.unrelated), Some(false));
        f.send(&arbiter(), release(id)).expect("releases");
    }
    // Late, withdrawn and decided outcomes do not count either.
    let late = f.accepted(&device(), &shop(), f.terms(&shop()));
    let withdrawn = f.accepted(&device(), &shop(), f.terms(&shop()));
    let decided = f.accepted(&owner(), &shop(), f.arbiter_terms(&shop()));
    f.send(&shop(), refund(withdrawn)).expect("withdraws");
    f.send(&owner(), dispute(decided)).expect("disputes");
    f.send(&arbiter(), decide(decided, 1)).expect("decides");
    f.wait_until(f.at + DAY_MS + HOLD_GRACE_MS_DEFAULT + 1);
    f.send(&device(), refund(late)).expect("refunds late");
    for who in [shop(), owner()] {
        assert_eq!(f.reputation(&who, CATEGORY), None);
        assert_eq!(f.state.reputations_of(&who.account(), "").count(), 0);
    }
    f.commit();
    assert_eq!(
        f.proved_reputation(&shop(), CATEGORY),
        None,
        "proved absent"
    );
}

#[test]
fn a_hold_that_was_never_accepted_moves_no_reputation() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let released = f.create(&payer, f.terms(&payee));
    let by_arbiter = f.create(&payer, f.arbiter_terms(&payee));
    let refunded = f.create(&payer, f.terms(&payee));
    let withdrawn = f.create(&payer, f.terms(&payee));
    let q = f.balance(&payee);
    f.send(&payer, release(released)).expect("releases");
    f.send(&arbiter(), release(by_arbiter)).expect("releases");
    f.send(&payer, refund(refunded)).expect("refunds");
    f.send(&payee, refund(withdrawn)).expect("gives back");
    assert_eq!(f.balance(&payee), q + 2 * AMOUNT);
    assert_eq!(f.reputation(&payee, CATEGORY), None);
}
