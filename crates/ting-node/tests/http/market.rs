//! The service market over the API: providers list offers (one checked
//! against the documented JSON shape) and buyers find them by category, area, provider and
//! reputation score, a page at a time; holds are listed by payer, payee
//! and phase; a released hold between unrelated accounts builds the
//! payee's reputation in its category, one between a device and its owner
//! builds none; proved reads check against the signed header as a device
//! checks them, absences included (a closed offer, an ended hold, a
//! category with no outcome). Then hostile reads, each refused by name.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_api::state::state_answer_from_json;
use ting_core::limits::{DAY_MS, HOLD_DEPOSIT, OFFER_DEPOSIT};
use ting_core::market::{HoldId, HoldPhase, HoldTerms, OfferId, OfferTerms, ReleaseRule};
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::{AccountId, Amount, BlockHeight, Hash32, Keypair, SignedTx, Timestamp, TxKind};
use ting_node::Shared;

use crate::common::*;

/// What each market participant is given on top of its genesis funds.
const MARKET_FUNDS: u64 = 10 * OFFER_DEPOSIT;

fn offer_terms(category: &str, area: &str, price: u64) -> OfferTerms {
    OfferTerms {
        category: category.to_owned(),
        area: area.to_owned(),
        price: Amount::new(price),
        delivery_ms: 3_600_000,
        warranty_ms: 0,
        terms: Hash32::digest(&[b"the offer's text"]),
    }
}

/// A week from now: block times follow the wall clock.
fn deadline() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    Timestamp(u64::try_from(now).expect("a 64-bit time") + 7 * DAY_MS)
}

fn hold_terms(payee: AccountId, amount: u64, category: &str) -> HoldTerms {
    HoldTerms {
        payee,
        amount: Amount::new(amount),
        deadline: deadline(),
        grace_ms: 3_600_000,
        terms: Hash32::digest(&[b"an accepted proposal"]),
        category: category.to_owned(),
        rule: ReleaseRule::Payer,
        arbiter: None,
    }
}

async fn send(s: &Arc<Shared>, key: &Keypair, kind: TxKind) -> SignedTx {
    let tx = signed(key, next_nonce(s, key), kind);
    commit(s, &tx).await;
    tx
}

async fn fund(s: &Arc<Shared>, to: &Keypair) {
    let mint = TxKind::Mint {
        to: to.account(),
        amount: Amount::new(MARKET_FUNDS),
    };
    send(s, &issuer(), mint).await;
}

async fn open_offer(s: &Arc<Shared>, provider: &Keypair, terms: OfferTerms) -> OfferId {
    let tx = send(s, provider, TxKind::OfferOpen { terms }).await;
    tx.opened_offer().expect("an offer_open")
}

async fn create_hold(s: &Arc<Shared>, payer: &Keypair, terms: HoldTerms) -> HoldId {
    let tx = send(s, payer, TxKind::HoldCreate { terms }).await;
    tx.opened_hold().expect("a hold_create")
}

/// `payer` pays `payee` through a hold the payee accepts and the payer releases.
async fn paid_through_hold(
    s: &Arc<Shared>,
    payer: &Keypair,
    payee: &Keypair,
    amount: u64,
    category: &str,
) -> HoldId {
    let hold = create_hold(s, payer, hold_terms(payee.account(), amount, category)).await;
    send(s, payee, TxKind::HoldAccept { hold }).await;
    let release = TxKind::HoldRelease {
        hold,
        evidence: None,
    };
    send(s, payer, release).await;
    hold
}

/// The `id_field` of every item of `list` that `GET base?query` finds,
/// following `next` to the end.
async fn found(
    s: &Arc<Shared>,
    base: &str,
    (list, id_field): (&str, &str),
    query: &str,
) -> Vec<String> {
    let mut all = Vec::new();
    let mut path = format!("{base}?{query}");
    for _ in 0..10 {
        let body = check(s, &path, get(&path), ok(vec![])).await;
        for item in body[list].as_array().expect("a list") {
            all.push(item[id_field].as_str().expect("an id").to_owned());
        }
        let Some(next) = body["next"].as_str() else {
            return all;
        };
        path = format!("{base}?{query}&after={next}");
    }
    panic!("the listing did not end");
}

/// The offers a search finds: all at once, then one a page, both in id order.
async fn check_offers(s: &Arc<Shared>, query: &str, want: &[&OfferId]) {
    let mut want: Vec<String> = want.iter().map(|id| id.to_hex()).collect();
    want.sort();
    let all = found(s, "/v1/offers", ("offers", "offer"), query).await;
    assert_eq!(all, want, "offers for {query:?}");
    let paged = found(
        s,
        "/v1/offers",
        ("offers", "offer"),
        &format!("{query}&limit=1"),
    )
    .await;
    assert_eq!(paged, want, "offers for {query:?}, a page at a time");
}

async fn check_holds(s: &Arc<Shared>, query: &str, want: &[&HoldId]) {
    let mut want: Vec<String> = want.iter().map(|id| id.to_hex()).collect();
    want.sort();
    let all = found(s, "/v1/holds", ("holds", "hold"), query).await;
    assert_eq!(all, want, "holds for {query:?}");
    let paged = found(
        s,
        "/v1/holds",
        ("holds", "hold"),
        &format!("{query}&limit=1"),
    )
    .await;
    assert_eq!(paged, want, "holds for {query:?}, a page at a time");
}

/// A proved read: its fields as `record` expects, its height the proof's;
/// answers the state answer (not yet checked) and the body.
async fn proved(s: &Arc<Shared>, path: &str, record: Expect) -> (StateAnswer, Value) {
    let body = check(s, path, get(path), record).await;
    let answer = state_answer_from_json(&body["proof"]).expect("the proof decodes");
    assert_eq!(body["height"], json!(answer.header.height.0), "{path}");
    (answer, body)
}

fn trust_check<'a>(genesis: &'a Hash32, sequencers: &'a [AccountId]) -> StateCheck<'a> {
    StateCheck {
        genesis,
        sequencers,
        min_height: BlockHeight(0),
    }
}

async fn conserved(s: &Arc<Shared>) {
    check(
        s,
        "supply",
        get("/v1/supply"),
        ok(vec![("/conserved", json!(true))]),
    )
    .await;
}

#[tokio::test]
async fn offers_are_found_by_category_area_provider_and_score_and_prove_their_close() {
    let node = TestNode::start();
    let s = node.shared();
    let (buyer, p1, p2) = (user(0), user(1), user(2));
    for k in [&buyer, &p1, &p2] {
        fund(&s, k).await;
    }

    // The documented shape of offer_open's fields (docs/api.md §4).
    let fields = json!({
        "category": "water.cartridge.replace",
        "area": "u0",
        "price": 100,
        "delivery_ms": 3_600_000,
        "warranty_ms": 0,
        "terms": Hash32::digest(&[b"the offer's text"]).to_hex(),
    });
    let terms = offer_terms("water.cartridge.replace", "u0", 100);
    let tx = signed(&p1, next_nonce(&s, &p1), TxKind::OfferOpen { terms });
    assert_eq!(tx_json(&tx)["fields"], fields, "the documented shape");
    commit(&s, &tx).await;
    let replace = tx.opened_offer().expect("an offer");
    let anywhere = open_offer(&s, &p1, offer_terms("water.cartridge", "", 50)).await;
    let plural = open_offer(&s, &p2, offer_terms("water.cartridges", "u0m", 70)).await;
    let electric = open_offer(&s, &p2, offer_terms("electric.repair", "gc", 900)).await;

    check(
        &s,
        "one offer",
        get(&format!("/v1/offers/{replace}")),
        ok(vec![
            ("/offer", json!(replace.to_hex())),
            ("/provider", json!(did(&p1))),
            ("/deposit", json!(OFFER_DEPOSIT)),
            ("/terms", fields),
            ("/reputation", Value::Null),
        ]),
    )
    .await;

    let p2_query = format!("provider={}", did(&p2));
    let searches: [(&str, Vec<&OfferId>); 9] = [
        ("", vec![&replace, &anywhere, &plural, &electric]),
        ("category=water", vec![&replace, &anywhere, &plural]),
        // Under a category, not beside it: `water.cartridges` is not under `water.cartridge`.
        ("category=water.cartridge", vec![&replace, &anywhere]),
        ("category=water.cartridge.replace", vec![&replace]),
        // An offer serves a place its area is a prefix of; empty serves everywhere.
        ("area=u0mzz", vec![&replace, &anywhere, &plural]),
        ("area=u0", vec![&replace, &anywhere]),
        ("area=gcpv&category=electric", vec![&electric]),
        (&p2_query, vec![&plural, &electric]),
        ("min_score_ppm=1", vec![]),
    ];
    for (query, want) in searches {
        check_offers(&s, query, &want).await;
    }

    // A released hold from an unrelated buyer: p1 scores a third of a perfect
    // record in the category, and only there.
    paid_through_hold(&s, &buyer, &p1, 500, "water.cartridge.replace").await;
    check_offers(&s, "min_score_ppm=333333", &[&replace]).await;
    check_offers(&s, "min_score_ppm=333334", &[]).await;
    check_offers(
        &s,
        "min_score_ppm=0&category=water.cartridge",
        &[&replace, &anywhere],
    )
    .await;
    check(
        &s,
        "the offer shows its provider's score",
        get(&format!("/v1/offers/{replace}")),
        ok(vec![
            ("/reputation/score_ppm", json!(333_333)),
            ("/reputation/released/value", json!(500)),
        ]),
    )
    .await;

    // Proved as a device proves it: the offer, and its absence once closed.
    let (genesis, sequencers) = (genesis_hash(), vec![sequencer().account()]);
    let trust = trust_check(&genesis, &sequencers);
    let path = format!("/v1/offers/{anywhere}?proof=true");
    let (answer, body) = proved(&s, &path, ok(vec![("/offer", json!(anywhere.to_hex()))])).await;
    let offer = answer
        .verify_offer(&anywhere, &trust)
        .expect("the proof holds")
        .expect("listed");
    assert_eq!(
        (offer.provider, offer.terms.price),
        (p1.account(), Amount::new(50))
    );
    assert_eq!(
        body["record"]["terms"]["category"],
        json!("water.cartridge")
    );
    assert!(
        body["record"].get("reputation").is_none(),
        "a proof covers the offer only: {body}"
    );

    let before = balance(&s, &p1.account());
    send(&s, &p1, TxKind::OfferClose { offer: anywhere }).await;
    assert_eq!(balance(&s, &p1.account()), before + OFFER_DEPOSIT);
    let (answer, _) = proved(&s, &path, ok(vec![("/record", Value::Null)])).await;
    assert_eq!(
        answer
            .verify_offer(&anywhere, &trust)
            .expect("the proof holds"),
        None
    );
    let closed = get(&format!("/v1/offers/{anywhere}"));
    check_error(&s, "closed", closed, StatusCode::NOT_FOUND, "unknown_offer").await;
    check_offers(&s, "category=water.cartridge", &[&replace]).await;
    conserved(&s).await;
}

#[tokio::test]
async fn holds_are_listed_by_payer_payee_and_phase_and_an_ended_one_is_proved_absent() {
    let node = TestNode::start();
    let s = node.shared();
    let (a, b, c) = (user(0), user(1), user(2));
    for k in [&a, &b, &c] {
        fund(&s, k).await;
    }
    let terms = hold_terms(b.account(), 300, "water.cartridge");
    let due = terms.deadline.0;
    let tx = signed(&a, next_nonce(&s, &a), TxKind::HoldCreate { terms });
    let fields = json!({
        "payee": did(&b),
        "amount": 300,
        "deadline": due,
        "grace_ms": 3_600_000,
        "terms": Hash32::digest(&[b"an accepted proposal"]).to_hex(),
        "category": "water.cartridge",
        "rule": { "kind": "payer" },
    });
    assert_eq!(tx_json(&tx)["fields"], fields, "the documented shape");
    commit(&s, &tx).await;
    let a_to_b = tx.opened_hold().expect("a hold");
    let a_to_c = create_hold(&s, &a, hold_terms(c.account(), 200, "electric.repair")).await;
    send(&s, &c, TxKind::HoldAccept { hold: a_to_c }).await;
    let c_to_b = create_hold(&s, &c, hold_terms(b.account(), 100, "water")).await;

    check(
        &s,
        "one hold",
        get(&format!("/v1/holds/{a_to_c}")),
        ok(vec![
            ("/hold", json!(a_to_c.to_hex())),
            ("/payer", json!(did(&a))),
            ("/deposit", json!(HOLD_DEPOSIT)),
            ("/phase", json!("accepted")),
            ("/counts_for_reputation", json!(true)),
            ("/terms/payee", json!(did(&c))),
            ("/terms/amount", json!(200)),
        ]),
    )
    .await;

    let (by_a, to_b) = (format!("payer={}", did(&a)), format!("payee={}", did(&b)));
    let a_open = format!("{by_a}&phase=open");
    let searches: [(&str, Vec<&HoldId>); 6] = [
        ("", vec![&a_to_b, &a_to_c, &c_to_b]),
        (&by_a, vec![&a_to_b, &a_to_c]),
        (&to_b, vec![&a_to_b, &c_to_b]),
        ("phase=accepted", vec![&a_to_c]),
        (&a_open, vec![&a_to_b]),
        ("phase=disputed", vec![]),
    ];
    for (query, want) in searches {
        check_holds(&s, query, &want).await;
    }

    // Proved while accepted, then proved absent once released.
    let (genesis, sequencers) = (genesis_hash(), vec![sequencer().account()]);
    let trust = trust_check(&genesis, &sequencers);
    let path = format!("/v1/holds/{a_to_c}?proof=true");
    let (answer, body) = proved(&s, &path, ok(vec![("/hold", json!(a_to_c.to_hex()))])).await;
    let hold = answer
        .verify_hold(&a_to_c, &trust)
        .expect("the proof holds")
        .expect("open");
    assert_eq!((hold.payer, hold.phase), (a.account(), HoldPhase::Accepted));
    assert_eq!(body["record"]["phase"], json!("accepted"));

    let release = TxKind::HoldRelease {
        hold: a_to_c,
        evidence: None,
    };
    let released = commit(&s, &signed(&a, next_nonce(&s, &a), release)).await;
    let (answer, _) = proved(&s, &path, ok(vec![("/record", Value::Null)])).await;
    assert!(
        answer.header.height.0 >= released["height"].as_u64().expect("a height"),
        "the absence is proved at or after the release"
    );
    assert_eq!(
        answer
            .verify_hold(&a_to_c, &trust)
            .expect("the proof holds"),
        None
    );
    let ended = get(&format!("/v1/holds/{a_to_c}"));
    check_error(&s, "ended", ended, StatusCode::NOT_FOUND, "unknown_hold").await;
    check_holds(&s, "phase=accepted", &[]).await;
    conserved(&s).await;
}

#[tokio::test]
async fn reputation_grows_from_holds_between_unrelated_accounts_and_not_from_self_dealing() {
    let node = TestNode::start();
    let s = node.shared();
    let (buyer, provider, owner) = (user(0), user(1), user(2));
    let device = Keypair::from_seed([81; 32]);
    send_register(&s, &owner, &device).await;
    for k in [&buyer, &provider, &owner, &device] {
        fund(&s, k).await;
    }

    // Unrelated accounts: each released hold counts in its own category.
    paid_through_hold(&s, &buyer, &provider, 500, "water.filter").await;
    paid_through_hold(&s, &buyer, &provider, 200, "water.cartridge.replace").await;
    let listing = ("reputations", "category");
    let base = format!("/v1/reputation/{}", did(&provider));
    let both = vec![
        "water.cartridge.replace".to_owned(),
        "water.filter".to_owned(),
    ];
    assert_eq!(
        found(&s, &base, listing, "").await,
        both,
        "sorted by category"
    );
    assert_eq!(
        found(&s, &base, listing, "limit=1").await,
        both,
        "a page at a time"
    );
    assert_eq!(
        found(&s, &base, listing, "category=water.filter").await,
        both[1..]
    );
    assert_eq!(
        found(&s, &base, listing, "category=electric").await,
        Vec::<String>::new()
    );
    check(
        &s,
        "one category",
        get(&format!("{base}/water.filter")),
        ok(vec![
            ("/provider", json!(did(&provider))),
            ("/category", json!("water.filter")),
            ("/released/count", json!(1)),
            ("/released/value", json!(500)),
            ("/late/count", json!(0)),
            ("/distinct_buyers", json!(1)),
            ("/success_ppm", json!(1_000_000)),
            ("/score_ppm", json!(333_333)),
        ]),
    )
    .await;
    let (genesis, sequencers) = (genesis_hash(), vec![sequencer().account()]);
    let trust = trust_check(&genesis, &sequencers);
    let path = format!("{base}/water.filter?proof=true");
    let (answer, _) = proved(&s, &path, ok(vec![("/category", json!("water.filter"))])).await;
    let rep = answer
        .verify_reputation(&provider.account(), "water.filter", &trust)
        .expect("the proof holds")
        .expect("an outcome was recorded");
    assert_eq!(
        (rep.released.count, rep.buyers.clone()),
        (1, vec![buyer.account()])
    );
    // The same proof read for another category proves nothing.
    assert!(answer
        .verify_reputation(&provider.account(), "water", &trust)
        .is_err());

    // A device pays its own owner: the hold ends, and no reputation is made.
    let hold = create_hold(
        &s,
        &device,
        hold_terms(owner.account(), 400, "water.filter"),
    )
    .await;
    let path = format!("/v1/holds/{hold}");
    check(
        &s,
        "self-dealing",
        get(&path),
        ok(vec![("/counts_for_reputation", json!(false))]),
    )
    .await;
    send(&s, &owner, TxKind::HoldAccept { hold }).await;
    let release = TxKind::HoldRelease {
        hold,
        evidence: None,
    };
    send(&s, &device, release).await;
    let base = format!("/v1/reputation/{}", did(&owner));
    assert_eq!(found(&s, &base, listing, "").await, Vec::<String>::new());
    let none = get(&format!("{base}/water.filter"));
    check_error(
        &s,
        "no record",
        none,
        StatusCode::NOT_FOUND,
        "unknown_reputation",
    )
    .await;
    let path = format!("{base}/water.filter?proof=true");
    let (answer, _) = proved(&s, &path, ok(vec![("/record", Value::Null)])).await;
    let absent = answer.verify_reputation(&owner.account(), "water.filter", &trust);
    assert_eq!(absent.expect("the proof holds"), None);
    conserved(&s).await;
}

async fn send_register(s: &Arc<Shared>, owner: &Keypair, device: &Keypair) {
    commit(s, &register(owner, next_nonce(s, owner), device)).await;
}

#[tokio::test]
async fn hostile_market_reads_are_refused_naming_the_parameter() {
    let node = TestNode::start();
    let s = node.shared();
    let zeros = "00".repeat(32);
    // Before any block there is no signed state to prove against.
    let early = get(&format!("/v1/holds/{zeros}?proof=true"));
    check_error(
        &s,
        "no block yet",
        early,
        StatusCode::SERVICE_UNAVAILABLE,
        "no_signed_state",
    )
    .await;

    // `{p}` is a provider, `{zeros}` an id nothing has.
    let bad_reads = [
        ("/v1/offers?category=Water", "bad_category", "category"),
        ("/v1/offers?category=", "bad_category", "category"),
        ("/v1/offers?category=water..x", "bad_category", "category"),
        ("/v1/offers?area=a", "invalid_query", "area"),
        ("/v1/offers?area=", "invalid_query", "area"),
        ("/v1/offers?area=u0u0u0u0u0u0u", "invalid_query", "area"),
        (
            "/v1/offers?min_score_ppm=1000001",
            "invalid_query",
            "min_score_ppm",
        ),
        (
            "/v1/offers?min_score_ppm=-1",
            "invalid_query",
            "min_score_ppm",
        ),
        ("/v1/offers?provider=nobody", "bad_account_id", "provider"),
        ("/v1/offers?after=zz", "bad_offer_id", "after"),
        ("/v1/offers?limit=0", "page_too_large", "limit"),
        ("/v1/offers?colour=red", "invalid_query", "colour"),
        ("/v1/offers/xyz", "bad_offer_id", "id"),
        ("/v1/offers/{zeros}?proof=maybe", "invalid_query", "proof"),
        ("/v1/holds?phase=ended", "invalid_query", "phase"),
        ("/v1/holds?payer=x", "bad_account_id", "payer"),
        ("/v1/holds?payee=x", "bad_account_id", "payee"),
        ("/v1/holds?after=00", "bad_hold_id", "after"),
        ("/v1/holds?limit=201", "page_too_large", "limit"),
        ("/v1/holds/xyz?proof=true", "bad_hold_id", "id"),
        ("/v1/reputation/nobody", "bad_account_id", "provider"),
        ("/v1/reputation/{p}?category=Up", "bad_category", "category"),
        ("/v1/reputation/{p}?after=a..b", "bad_category", "after"),
        ("/v1/reputation/{p}?proof=true", "invalid_query", "proof"),
        ("/v1/reputation/{p}/water.%20x", "bad_category", "category"),
        (
            "/v1/reputation/{p}/water?proof=yes",
            "invalid_query",
            "proof",
        ),
        ("/v1/reputation/nobody/water", "bad_account_id", "provider"),
    ];
    let filled = |path: &str| {
        path.replace("{p}", &did(&user(1)))
            .replace("{zeros}", &zeros)
    };
    for (path, code, field) in bad_reads {
        let path = filled(path);
        let (status, body) = call(&s, get(&path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], json!(code), "{path}: {body}");
        let message = body["error"]["message"].as_str().expect("a message");
        assert!(message.contains(field), "{path}: names {field}: {body}");
    }
    let misses = [
        ("/v1/offers/{zeros}", "unknown_offer"),
        ("/v1/holds/{zeros}", "unknown_hold"),
        ("/v1/reputation/{p}/water", "unknown_reputation"),
    ];
    for (path, code) in misses {
        let path = filled(path);
        check_error(&s, &path, get(&path), StatusCode::NOT_FOUND, code).await;
    }
    check_still_serving(&s, "after hostile market reads").await;
}
