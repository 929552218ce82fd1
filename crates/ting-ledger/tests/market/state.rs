//! The market in the ledger's state: a refusal changes nothing (nor the
//! root), the incremental root equals a rebuilt one through a market's
//! life, snapshots keep holds, offers and reputations, and state answers
//! prove them and their absence.

use super::common::*;
use super::fixture::*;
use ting_core::market::{HoldId, HoldTerms, OfferId, OfferTerms};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::{Amount, Hash32, Keypair, Timestamp, TxKind};
use ting_ledger::State;

// ---------------------------------------------------------------------------
// The state: refusals, roots, snapshots and proofs.

#[test]
fn a_refused_market_transaction_changes_nothing() {
    let mut f = Fixture::new();
    let (payer, payee) = (buyer(), provider());
    let accepted = f.accepted(&payer, &payee, f.evidence_terms(&payee));
    let open = f.create(&payer, f.terms(&payee));
    let offer = f.open_offer(&payee, offer_terms(5));
    f.commit();
    let unknown = HoldId(Hash32::digest(&[b"no such hold"]));
    let at = f.at;
    let refusals: Vec<(Keypair, TxKind, &str)> = vec![
        (
            buyer(),
            TxKind::HoldCreate {
                terms: f.terms(&payer),
            },
            "invalid_hold",
        ),
        (provider(), accept(accepted), "wrong_hold_phase"),
        (stranger(), accept(open), "not_hold_party"),
        (stranger(), release(accepted), "not_hold_party"),
        (
            stranger(),
            release_with(open, signed(evidence(open, at, 812))),
            "no_evidence_rule",
        ),
        (
            stranger(),
            release_with(accepted, signed(evidence(accepted, at, 1))),
            "evidence_mismatch",
        ),
        (stranger(), release(unknown), "unknown_hold"),
        (buyer(), refund(accepted), "too_early_to_refund"),
        (buyer(), dispute(open), "no_arbiter"),
        (buyer(), decide(accepted, 1), "not_hold_party"),
        (stranger(), TxKind::OfferClose { offer }, "not_provider"),
        (
            owner(),
            TxKind::OfferUpdate {
                offer,
                terms: offer_terms(6),
            },
            "not_provider",
        ),
    ];
    let digest = f.state.digest();
    for (who, kind, want) in refusals {
        let nonce = f.state.next_nonce(&who.account());
        let got = f
            .state
            .apply_tx(&tx(&who, who.account(), nonce.0, kind), Timestamp(f.at));
        assert_eq!(code(got), Err(want));
        assert_eq!(f.state.digest(), digest, "{want} changed the state");
        assert_eq!(f.state.next_nonce(&who.account()), nonce, "{want}");
    }
    let mut after = f.state.clone();
    assert_eq!(after.update_root(), f.state.committed_root());
}

/// A market with every kind of record: holds open, accepted and disputed,
/// two offers, and reputations in two categories.
fn busy_market(f: &mut Fixture) -> (Vec<HoldId>, Vec<OfferId>) {
    let (payer, payee) = (buyer(), provider());
    let open = f.create(&payer, f.evidence_terms(&payee));
    let accepted = f.accepted(&device(), &payee, f.terms(&payee));
    let disputed = f.accepted(&payer, &shop(), f.arbiter_terms(&shop()));
    f.send(&shop(), dispute(disputed)).expect("disputes");
    let done = f.accepted(&payer, &payee, f.terms(&payee));
    f.send(&payer, release(done)).expect("releases");
    let other = HoldTerms {
        category: "hvac.filter".into(),
        ..f.terms(&payee)
    };
    let withdrawn = f.accepted(&device(), &payee, other);
    f.send(&payee, refund(withdrawn)).expect("withdraws");
    let offers = vec![
        f.open_offer(&payee, offer_terms(250_000)),
        f.open_offer(
            &shop(),
            OfferTerms {
                area: String::new(),
                warranty_ms: 0,
                ..offer_terms(9)
            },
        ),
    ];
    (vec![open, accepted, disputed], offers)
}

#[test]
fn the_incremental_root_equals_a_rebuilt_one_through_a_market_s_life() {
    let mut f = Fixture::new();
    // 1: every kind of record appears.
    let (holds, offers) = busy_market(&mut f);
    f.commit();
    // 2: a hold created and ended within one block leaves no entry.
    let brief = f.create(&buyer(), f.terms(&provider()));
    f.send(&provider(), refund(brief)).expect("refunds");
    f.commit();
    assert_eq!(f.proved_hold(&brief), None);
    // 3: a reputation changed twice in one block, an offer updated.
    for _ in 0..2 {
        let id = f.accepted(&stranger(), &provider(), f.terms(&provider()));
        f.send(&stranger(), release(id)).expect("releases");
    }
    let update = TxKind::OfferUpdate {
        offer: offers[0],
        terms: offer_terms(1),
    };
    f.send(&provider(), update).expect("updates");
    f.commit();
    let r = f.proved_reputation(&provider(), CATEGORY).expect("proved");
    assert_eq!(tallies(&r)[0], (3, 3 * AMOUNT));
    assert_eq!(
        f.proved_offer(&offers[0]).map(|o| o.terms.price),
        Some(Amount::new(1))
    );
    // 4: everything ends.
    f.send(
        &stranger(),
        release_with(holds[0], signed(evidence(holds[0], f.at, 900))),
    )
    .expect("evidence");
    f.send(&device(), release(holds[1])).expect("releases");
    f.send(&arbiter(), decide(holds[2], AMOUNT / 2))
        .expect("decides");
    f.send(&provider(), TxKind::OfferClose { offer: offers[0] })
        .expect("closes");
    f.send(&owner(), TxKind::OfferClose { offer: offers[1] })
        .expect("closes");
    f.commit();
    assert_eq!(f.locked(), 0);
    assert_eq!(f.state.holds().count(), 0);
    assert_eq!(f.state.offers().count(), 0);
    // 5: an empty block.
    f.commit();
    replays_exactly(&f.genesis, &f.blocks, &f.state).expect("replays");
}

#[test]
fn a_snapshot_keeps_holds_offers_and_reputations() {
    let mut f = Fixture::new();
    let (holds, offers) = busy_market(&mut f);
    f.commit();
    let mut restored = State::decode(&f.state.encode(), 77).expect("the snapshot decodes");
    restored
        .adopt_tip_header(f.state.tip_header().expect("committed"))
        .expect("at the tip");
    restored
        .end_replay()
        .expect("the rebuilt map has the tip's root");
    assert_eq!(restored.digest(), f.state.digest());
    assert_eq!(restored.committed_root(), f.state.committed_root());
    assert_eq!(
        (restored.balance_sum(), restored.locked_sum()),
        (f.state.balance_sum(), f.state.locked_sum())
    );
    for id in &holds {
        let h = f.state.hold(id).expect("open");
        assert_eq!(restored.hold(id), Some(h));
        assert_eq!(
            restored.open_hold_count(&h.payer),
            f.state.open_hold_count(&h.payer)
        );
    }
    for id in &offers {
        let o = f.state.offer(id).expect("listed");
        assert_eq!(restored.offer(id), Some(o));
        assert_eq!(
            restored.open_offer_count(&o.provider),
            f.state.open_offer_count(&o.provider)
        );
    }
    for (who, category) in [(provider(), CATEGORY), (provider(), "hvac.filter")] {
        let r = f.reputation(&who, category).expect("counted");
        assert_eq!(restored.reputation(&who.account(), category), Some(&r));
    }
    // The restored state goes on as the original does.
    let t = f.tx_of(&arbiter(), decide(holds[2], AMOUNT));
    f.apply(t.clone()).expect("decides");
    restored.apply_tx(&t, Timestamp(f.at)).expect("decides");
    assert_eq!(restored.digest(), f.state.digest());
    assert_eq!(restored.update_root(), f.state.clone().update_root());
    // A snapshot cut short in the market sections is refused.
    let bytes = f.state.encode();
    assert!(State::decode(&bytes[..bytes.len() - 1], 3).is_err());
}

#[test]
fn state_answers_prove_holds_offers_and_reputations_and_their_absence() {
    let mut f = Fixture::new();
    let (holds, offers) = busy_market(&mut f);
    f.commit();
    for id in &holds {
        assert_eq!(f.proved_hold(id).as_ref(), f.state.hold(id));
    }
    for id in &offers {
        assert_eq!(f.proved_offer(id).as_ref(), f.state.offer(id));
    }
    let r = f.proved_reputation(&provider(), CATEGORY);
    assert_eq!(r, f.reputation(&provider(), CATEGORY));
    assert!(r.is_some());
    assert_eq!(f.proved_reputation(&provider(), "water"), None);
    assert_eq!(f.proved_reputation(&stranger(), CATEGORY), None);
    assert_eq!(f.proved_hold(&HoldId(Hash32::digest(&[b"never"]))), None);
    assert_eq!(f.proved_offer(&OfferId(Hash32::digest(&[b"never"]))), None);
    // Until the block commits, proofs answer the last committed block.
    let before = f.state.hold(&holds[1]).cloned();
    f.send(&device(), release(holds[1])).expect("releases");
    assert_eq!(f.proved_hold(&holds[1]), before);
    f.commit();
    assert_eq!(f.proved_hold(&holds[1]), None);
    // A record for one key does not pass for another's.
    let (record, proof) = f.state.prove_hold(&holds[0]);
    let header = f.state.tip_header().expect("committed").clone();
    let answer = StateAnswer {
        header,
        record,
        proof,
    };
    let genesis = genesis_hash();
    let sequencers = [sequencer().account()];
    let check = StateCheck {
        genesis: &genesis,
        sequencers: &sequencers,
        min_height: f.state.height(),
    };
    assert!(answer.verify_hold(&holds[2], &check).is_err());
}
