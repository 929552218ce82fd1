//! Service offers: listed with a deposit, updated by their provider alone,
//! closed by the provider or its owner with the deposit back, and at most
//! `OFFERS_OPEN_PER_PROVIDER_MAX` for one provider.

use super::common::*;
use super::fixture::*;
use ting_core::limits::{OFFERS_OPEN_PER_PROVIDER_MAX, OFFER_DEPOSIT};
use ting_core::market::{Offer, OfferId};
use ting_core::{Amount, Hash32, Timestamp, TxKind};

// ---------------------------------------------------------------------------
// Offers.

#[test]
fn a_provider_lists_an_offer_with_its_deposit_and_closes_it_to_get_it_back() {
    let mut f = Fixture::new();
    let seller = provider();
    let t = f.tx_of(
        &seller,
        TxKind::OfferOpen {
            terms: offer_terms(250_000),
        },
    );
    let id = t.opened_offer().expect("names its offer");
    assert_eq!(
        id,
        OfferId::derive(&genesis_hash(), &seller.account(), t.nonce())
    );
    let before = f.balance(&seller);
    f.apply(t).expect("lists");
    assert_eq!(f.balance(&seller), before - OFFER_DEPOSIT);
    assert_eq!(f.locked(), OFFER_DEPOSIT);
    assert_eq!(f.state.open_offer_count(&seller.account()), 1);
    let want = Offer {
        provider: seller.account(),
        deposit: Amount::new(OFFER_DEPOSIT),
        opened_at: Timestamp(f.at),
        terms: offer_terms(250_000),
    };
    assert_eq!(f.state.offer(&id), Some(&want));
    f.commit();
    assert_eq!(f.proved_offer(&id), Some(want));
    for who in [stranger(), owner()] {
        assert_eq!(
            code(f.send(&who, TxKind::OfferClose { offer: id })),
            Err("not_provider")
        );
    }
    f.send(&seller, TxKind::OfferClose { offer: id })
        .expect("closes");
    assert_eq!(f.balance(&seller), before);
    assert_eq!(f.locked(), 0);
    assert_eq!(f.state.open_offer_count(&seller.account()), 0);
    let again = f.send(&seller, TxKind::OfferClose { offer: id });
    assert_eq!(code(again), Err("unknown_offer"));
    f.commit();
    assert_eq!(f.proved_offer(&id), None, "proved gone");
}

#[test]
fn only_the_provider_updates_an_offer_and_its_owner_may_close_it() {
    let mut f = Fixture::new();
    let id = f.open_offer(&shop(), offer_terms(250_000));
    let update = |price| TxKind::OfferUpdate {
        offer: id,
        terms: offer_terms(price),
    };
    for who in [owner(), stranger(), provider()] {
        assert_eq!(code(f.send(&who, update(1))), Err("not_provider"));
    }
    f.send(&shop(), update(300_000)).expect("updates");
    let o = f.state.offer(&id).expect("listed");
    assert_eq!(o.terms, offer_terms(300_000));
    assert_eq!(o.deposit, Amount::new(OFFER_DEPOSIT), "the deposit stays");
    let unknown = OfferId(Hash32::digest(&[b"no such offer"]));
    let refused = f.send(
        &shop(),
        TxKind::OfferUpdate {
            offer: unknown,
            terms: offer_terms(1),
        },
    );
    assert_eq!(code(refused), Err("unknown_offer"));
    let (s, o) = (f.balance(&shop()), f.balance(&owner()));
    f.send(&owner(), TxKind::OfferClose { offer: id })
        .expect("the owner closes");
    assert_eq!(
        f.balance(&shop()),
        s + OFFER_DEPOSIT,
        "the deposit goes to the shop"
    );
    assert_eq!(f.balance(&owner()), o);
    assert_eq!(code(f.send(&shop(), update(1))), Err("unknown_offer"));
}

#[test]
fn a_provider_has_at_most_the_most_offers_and_needs_the_deposit_for_each() {
    let mut f = Fixture::new();
    let seller = key(12);
    f.fund(
        &seller.account(),
        OFFERS_OPEN_PER_PROVIDER_MAX as u64 * OFFER_DEPOSIT - 1,
    );
    let ids: Vec<OfferId> = (0..OFFERS_OPEN_PER_PROVIDER_MAX - 1)
        .map(|_| f.open_offer(&seller, offer_terms(1)))
        .collect();
    let refused = f.send(
        &seller,
        TxKind::OfferOpen {
            terms: offer_terms(1),
        },
    );
    assert_eq!(code(refused), Err("insufficient_funds"));
    f.fund(&seller.account(), 1 + OFFER_DEPOSIT);
    f.open_offer(&seller, offer_terms(1));
    let refused = f.send(
        &seller,
        TxKind::OfferOpen {
            terms: offer_terms(1),
        },
    );
    assert_eq!(code(refused), Err("too_many_offers"));
    f.send(&seller, TxKind::OfferClose { offer: ids[3] })
        .expect("closes one");
    f.open_offer(&seller, offer_terms(1));
    assert_eq!(
        f.state.open_offer_count(&seller.account()),
        OFFERS_OPEN_PER_PROVIDER_MAX
    );
    f.commit();
}
