//! The service market end to end, on a real node with a real broker: a
//! purifier calls for a cartridge, two service centres answer, the buyer's
//! policy takes the cheaper, the hold is made and accepted, and the
//! purifier's own signed evidence releases the money (on the node's
//! embedded broker and on Mosquitto). Then what goes wrong: a centre that
//! misses its deadline is refunded and marked late; a dispute goes to the
//! arbiter, who splits the money; forged, misdirected, unmet and replayed
//! evidence releases nothing; a provider paid by a device of its own owner
//! gains no reputation.
//!
//! Every party is a `Device` with its own state directory; one loop in the
//! test drives them all (`Market::pump`), waiting on conditions with a
//! deadline, never on fixed sleeps.

mod common;

use std::time::Duration;

use common::net::Net;
use common::*;
use ting_agent::clock::now;
use ting_agent::market::{
    Buyer, BuyerEvent, Need, Policy, Provider, ProviderConfig, ProviderEvent, Quote,
};
use ting_agent::Device;
use ting_core::market::cfp::{Call, Counter};
use ting_core::market::{
    Condition, Evidence, FieldRule, HoldId, ReleaseRule, SignedEvidence, Template, Value,
};
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, Hash32, Keypair, Timestamp, TxKind};

const CATEGORY: &str = "water.cartridge.replace";
/// Where the purifier is: a street in Oslo.
const AT: &str = "u4pruydq";

fn centre_a() -> Keypair {
    Keypair::from_seed([41; 32])
}
fn centre_b() -> Keypair {
    Keypair::from_seed([42; 32])
}
fn arbiter() -> Keypair {
    Keypair::from_seed([43; 32])
}
fn stranger() -> Keypair {
    Keypair::from_seed([44; 32])
}
fn owner() -> Keypair {
    Keypair::from_seed([45; 32])
}
fn own_centre() -> Keypair {
    Keypair::from_seed([46; 32])
}

fn template() -> Template {
    Template {
        rules: vec![
            FieldRule {
                name: "event".into(),
                condition: Condition::Equals(b"cartridge_installed".to_vec()),
            },
            FieldRule {
                name: "flow_ml_min".into(),
                condition: Condition::AtLeast(500),
            },
        ],
    }
}

/// What the purifier's sensor signs when it sees the new cartridge.
fn evidence(hold: HoldId, flow: u64, signer: &Keypair, genesis: &Hash32) -> SignedEvidence {
    Evidence {
        hold,
        observed_at: now(),
        fields: vec![
            ("event".into(), Value::Text(b"cartridge_installed".to_vec())),
            ("flow_ml_min".into(), Value::Number(flow)),
            ("serial".into(), Value::Text(b"X-2231".to_vec())),
        ],
    }
    .sign(signer, genesis)
}

fn need(arbiter: Option<AccountId>, deliver_within_ms: u64) -> Need {
    Need {
        category: CATEGORY.into(),
        area: AT.into(),
        spec: "one AquaPure-5 cartridge, fitted".into(),
        max_price: Amount::new(60_000),
        answer_within_ms: 1_500,
        deliver_within_ms,
        grace_ms: 0,
        rounds: 0,
        rule: ReleaseRule::Evidence {
            device: device_key().account(),
            template: template(),
        },
        arbiter,
    }
}

/// A pricing function that asks `price` and delivers in `deliver_in_ms`.
fn fixed(price: u64, deliver_in_ms: u64) -> ting_agent::market::provider::Pricing {
    Box::new(move |_: &Call, _: Option<&Counter>| {
        Some(Quote {
            price: Amount::new(price),
            deliver_in_ms,
            warranty_ms: 0,
            note: String::new(),
        })
    })
}

type Pricing = ting_agent::market::provider::Pricing;

struct BuyerSide {
    device: Device,
    buyer: Buyer,
    events: Vec<BuyerEvent>,
}

struct ProviderSide {
    device: Device,
    provider: Provider,
    events: Vec<ProviderEvent>,
}

/// Everyone in one test, and the directories they keep.
struct Market {
    net: Net,
    buyer: BuyerSide,
    providers: Vec<ProviderSide>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Market {
    /// A node, the purifier (`device_key()`) as the buyer, and one
    /// provider per `(key, pricing)`, all subscribed.
    async fn start(embedded: bool, buyer_key: Keypair, centres: Vec<(Keypair, Pricing)>) -> Market {
        let funded: Vec<(AccountId, u64)> = [
            centre_a(),
            centre_b(),
            arbiter(),
            stranger(),
            owner(),
            own_centre(),
        ]
        .iter()
        .map(|k| (k.account(), FUNDS))
        .collect();
        let net = Net::start(embedded, &funded).await;
        let mut dirs = vec![tempfile::tempdir().expect("tempdir")];
        let device = net.device(buyer_key, dirs[0].path()).await;
        let buyer = Buyer::open(&device, Policy::default()).expect("the buyer opens");
        let mut providers = Vec::new();
        for (key, pricing) in centres {
            dirs.push(tempfile::tempdir().expect("tempdir"));
            let device = net.device(key, dirs.last().expect("pushed").path()).await;
            let config = ProviderConfig {
                categories: vec!["water.cartridge".into()],
                area: "u4pr".into(),
                offer: None,
            };
            let provider = Provider::open(&device, config, pricing).expect("the provider opens");
            providers.push(ProviderSide {
                device,
                provider,
                events: Vec::new(),
            });
        }
        let mut market = Market {
            net,
            buyer: BuyerSide {
                device,
                buyer,
                events: Vec::new(),
            },
            providers,
            _dirs: dirs,
        };
        market
            .pump("every provider's call subscription", |m| {
                m.providers.iter().all(|p| p.device.streams_settled())
            })
            .await;
        market
    }

    /// Delivers messages and ticks everyone until `done` holds; fails the
    /// test after `DEADLINE`.
    async fn pump(&mut self, what: &str, done: impl Fn(&Market) -> bool) {
        let end = tokio::time::Instant::now() + DEADLINE;
        let slice = Duration::from_millis(5);
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting for {what}; buyer saw {:?}",
                self.buyer.events
            );
            let b = &mut self.buyer;
            while let Ok(Some(msg)) = tokio::time::timeout(slice, b.device.recv()).await {
                b.events
                    .extend(b.buyer.on_message(&msg).expect("the buyer takes it"));
            }
            b.events
                .extend(b.buyer.tick(&b.device).await.expect("the buyer ticks"));
            for p in &mut self.providers {
                while let Ok(Some(msg)) = tokio::time::timeout(slice, p.device.recv()).await {
                    let event = p.provider.on_message(&p.device, &msg).await;
                    p.events.extend(event.expect("the provider takes it"));
                }
                p.events.extend(
                    p.provider
                        .tick(&p.device)
                        .await
                        .expect("the provider ticks"),
                );
            }
        }
    }

    fn chosen(&self) -> Option<(Hash32, AccountId, HoldId)> {
        self.buyer.events.iter().find_map(|e| match e {
            BuyerEvent::Chose {
                call,
                provider,
                hold,
                ..
            } => Some((*call, *provider, *hold)),
            _ => None,
        })
    }

    fn has_job(&self, i: usize) -> bool {
        self.providers[i]
            .events
            .iter()
            .any(|e| matches!(e, ProviderEvent::Job { .. }))
    }

    async fn balance(&self, who: &AccountId) -> u64 {
        self.buyer
            .device
            .http()
            .balance(who)
            .await
            .expect("a balance")
            .base_units()
    }

    /// Calls, and pumps until the buyer chose and provider `winner` has its job.
    async fn contract(&mut self, need: Need, winner: usize) -> (Hash32, HoldId) {
        let call = self
            .buyer
            .buyer
            .call(&self.buyer.device, need)
            .await
            .expect("the call goes out");
        self.pump("a choice and an accepted job", |m| {
            m.chosen().is_some() && m.has_job(winner)
        })
        .await;
        let (chosen_call, provider, hold) = self.chosen().expect("chosen");
        assert_eq!(chosen_call, call);
        assert_eq!(provider, self.providers[winner].device.account());
        (call, hold)
    }

    fn genesis(&self) -> Hash32 {
        self.buyer.device.genesis_hash()
    }

    async fn hold_is_open(&self, hold: &HoldId) -> bool {
        let client = self.buyer.device.http();
        client.hold(hold).await.expect("a proved answer").is_some()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purifier_buys_a_cartridge_from_the_cheaper_of_two_centres_on_the_embedded_broker() {
    the_cheaper_centre_fits_the_cartridge_and_the_sensor_pays_it(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purifier_buys_a_cartridge_from_the_cheaper_of_two_centres_on_mosquitto() {
    the_cheaper_centre_fits_the_cartridge_and_the_sensor_pays_it(false).await;
}

async fn the_cheaper_centre_fits_the_cartridge_and_the_sensor_pays_it(embedded: bool) {
    let centres = vec![
        (centre_a(), fixed(40_000, 30_000)),
        (centre_b(), fixed(35_000, 40_000)),
    ];
    let mut m = Market::start(embedded, device_key(), centres).await;
    let (call, hold) = m.contract(need(None, 60_000), 1).await;
    assert!(m.hold_is_open(&hold).await);
    m.pump("centre A declined", |m| {
        m.providers[0]
            .events
            .iter()
            .any(|e| matches!(e, ProviderEvent::Declined { .. }))
    })
    .await;

    // The technician fits the cartridge; the purifier's sensor sees it.
    let signed = evidence(hold, 812, &device_key(), &m.genesis());
    let event = m
        .buyer
        .buyer
        .confirm(&m.buyer.device, &call, signed)
        .await
        .expect("confirmed");
    assert!(matches!(
        event,
        Some(BuyerEvent::Released { .. } | BuyerEvent::Ended { .. })
    ));
    m.pump("centre B sees the hold end", |m| {
        m.providers[1]
            .events
            .iter()
            .any(|e| matches!(e, ProviderEvent::Paid { .. } | ProviderEvent::Ended { .. }))
    })
    .await;
    assert!(!m.hold_is_open(&hold).await, "released once, and gone");
    assert_eq!(m.balance(&device_key().account()).await, FUNDS - 35_000);
    assert_eq!(m.balance(&centre_b().account()).await, FUNDS + 35_000);
    assert_eq!(m.balance(&centre_a().account()).await, FUNDS);
    let rep = m
        .buyer
        .device
        .http()
        .reputation(&centre_b().account(), CATEGORY)
        .await
        .expect("proved")
        .expect("a record");
    assert_eq!(
        (rep.released.count, rep.released.value),
        (1, Amount::new(35_000))
    );
    assert_eq!(rep.buyers, vec![device_key().account()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_lists_the_open_calls_it_hears_on_its_broker() {
    use tower::ServiceExt;
    let mut m = Market::start(true, device_key(), Vec::new()).await;
    let mut long = need(None, 1_200_000);
    long.answer_within_ms = 600_000;
    let call = m
        .buyer
        .buyer
        .call(&m.buyer.device, long)
        .await
        .expect("the call goes out");
    let shared = std::sync::Arc::clone(m.net.node.shared());
    m.pump("the node hears the call", |m| {
        let s = m.net.node.shared();
        s.open_calls
            .open(s.time.now(), None)
            .iter()
            .any(|c| c.hash() == call)
    })
    .await;
    let router = ting_node::http::router(std::sync::Arc::clone(&shared));
    let get = |uri: &str| {
        axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .expect("a request")
    };
    let answer = router
        .clone()
        .oneshot(get("/v1/calls?category=water.cartridge"))
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .expect("a body");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    let listed = &v["calls"][0];
    assert_eq!(listed["call"], call.to_hex());
    assert_eq!(listed["buyer"], device_key().account().to_did());
    assert_eq!(listed["category"], CATEGORY);
    assert_eq!(listed["max_price"], 60_000);
    let other = router
        .clone()
        .oneshot(get("/v1/calls?category=bandwidth"))
        .await
        .expect("an answer");
    let body = axum::body::to_bytes(other.into_body(), 1 << 20)
        .await
        .expect("a body");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["calls"], serde_json::json!([]), "another category");
    let page = router.oneshot(get("/market")).await.expect("an answer");
    let html = axum::body::to_bytes(page.into_body(), 1 << 22)
        .await
        .expect("a body");
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains(&call.to_hex()),
        "the market page lists the call"
    );
    m.net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_centre_that_misses_the_deadline_is_refunded_and_marked_late() {
    let mut m = Market::start(true, device_key(), vec![(centre_a(), fixed(30_000, 2_500))]).await;
    let (call, hold) = m.contract(need(None, 3_000), 0).await;
    m.pump("the refund after the deadline", |m| {
        m.buyer
            .events
            .iter()
            .any(|e| matches!(e, BuyerEvent::Refunded { .. }))
    })
    .await;
    assert!(!m.hold_is_open(&hold).await);
    assert_eq!(
        m.buyer.buyer.contract(&call).expect("kept").status,
        "refunded"
    );
    assert_eq!(m.balance(&device_key().account()).await, FUNDS);
    assert_eq!(m.balance(&centre_a().account()).await, FUNDS);
    let rep = m
        .buyer
        .device
        .http()
        .reputation(&centre_a().account(), CATEGORY)
        .await
        .expect("proved")
        .expect("a record");
    assert_eq!((rep.late.count, rep.late.value), (1, Amount::new(30_000)));
    assert_eq!(rep.score_ppm(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispute_goes_to_the_arbiter_who_splits_the_money() {
    let mut m = Market::start(
        true,
        device_key(),
        vec![(centre_a(), fixed(30_000, 30_000))],
    )
    .await;
    let (call, hold) = m.contract(need(Some(arbiter().account()), 60_000), 0).await;
    m.buyer
        .buyer
        .dispute(
            &m.buyer.device,
            &call,
            Hash32::digest(&[b"the cartridge leaks"]),
        )
        .await
        .expect("disputed");
    let dir = tempfile::tempdir().expect("tempdir");
    let arbiter_device = m.net.device(arbiter(), dir.path()).await;
    // Evidence no longer releases a disputed hold.
    let signed = evidence(hold, 812, &device_key(), &m.genesis());
    let refused = arbiter_device
        .submit(TxKind::HoldRelease {
            hold,
            evidence: Some(signed),
        })
        .await
        .expect_err("disputed");
    assert_eq!(refused.code(), "wrong_hold_phase");
    arbiter_device
        .submit(TxKind::HoldDecide {
            hold,
            to_payee: Amount::new(10_000),
        })
        .await
        .expect("decided");
    m.pump("the buyer sees the hold end", |m| {
        m.buyer
            .events
            .iter()
            .any(|e| matches!(e, BuyerEvent::Ended { .. }))
    })
    .await;
    assert_eq!(m.balance(&device_key().account()).await, FUNDS - 10_000);
    assert_eq!(m.balance(&centre_a().account()).await, FUNDS + 10_000);
    let rep = m
        .buyer
        .device
        .http()
        .reputation(&centre_a().account(), CATEGORY)
        .await
        .expect("proved")
        .expect("a record");
    assert_eq!(rep.lost.count, 1);
    assert_eq!(rep.released.count, 0);
    arbiter_device.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_misdirected_unmet_and_replayed_evidence_releases_nothing() {
    let mut m = Market::start(
        true,
        device_key(),
        vec![(centre_a(), fixed(30_000, 30_000))],
    )
    .await;
    let (call, hold) = m.contract(need(None, 60_000), 0).await;
    let genesis = m.genesis();
    let dir = tempfile::tempdir().expect("tempdir");
    // Anyone may present evidence; a stranger tries every wrong kind.
    let s = m.net.device(stranger(), dir.path()).await;
    let present = |e: SignedEvidence| TxKind::HoldRelease {
        hold,
        evidence: Some(e),
    };
    let cases = [
        (
            evidence(hold, 812, &stranger(), &genesis),
            "bad_evidence_signature",
        ),
        (
            evidence(HoldId(Hash32([7; 32])), 812, &device_key(), &genesis),
            "evidence_for_other_hold",
        ),
        (
            evidence(hold, 100, &device_key(), &genesis),
            "evidence_mismatch",
        ),
        (
            evidence(hold, 812, &device_key(), &Hash32([9; 32])),
            "bad_evidence_signature",
        ),
    ];
    for (e, code) in cases {
        let refused = s.submit(present(e)).await.expect_err("refused");
        assert_eq!(refused.code(), code);
        assert!(m.hold_is_open(&hold).await);
    }
    // The buyer's own forged confirmation goes back to waiting.
    let forged = evidence(hold, 812, &stranger(), &genesis);
    let refused = m
        .buyer
        .buyer
        .confirm(&m.buyer.device, &call, forged)
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), "bad_evidence_signature");
    assert_eq!(
        m.buyer.buyer.contract(&call).expect("kept").status,
        "accepted"
    );
    // The real evidence, presented by the stranger, pays the centre once.
    let real = evidence(hold, 812, &device_key(), &genesis);
    s.submit(present(real.clone())).await.expect("released");
    let replay = s.submit(present(real)).await.expect_err("replayed");
    assert_eq!(replay.code(), "unknown_hold");
    assert_eq!(m.balance(&centre_a().account()).await, FUNDS + 30_000);
    assert_eq!(m.balance(&device_key().account()).await, FUNDS - 30_000);
    m.pump("the buyer sees the hold end", |m| {
        m.buyer
            .events
            .iter()
            .any(|e| matches!(e, BuyerEvent::Ended { .. }))
    })
    .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_paid_by_a_device_of_its_own_owner_gains_no_reputation() {
    // The owner registers the buying device and the centre as its own.
    let start = Market::start(
        true,
        device_key(),
        vec![(own_centre(), fixed(20_000, 30_000))],
    );
    let mut m = start.await;
    let dir = tempfile::tempdir().expect("tempdir");
    let o = m.net.device(owner(), dir.path()).await;
    for device in [device_key(), own_centre()] {
        let message =
            device_consent_message(&m.genesis(), &owner().account(), &device.account(), b"");
        o.submit(TxKind::RegisterDevice {
            device: device.account(),
            metadata: Vec::new(),
            device_signature: device.sign(&message),
        })
        .await
        .expect("registered");
    }
    let (call, hold) = m.contract(need(None, 60_000), 0).await;
    let signed = evidence(hold, 900, &device_key(), &m.genesis());
    m.buyer
        .buyer
        .confirm(&m.buyer.device, &call, signed)
        .await
        .expect("confirmed");
    assert!(!m.hold_is_open(&hold).await);
    assert_eq!(m.balance(&own_centre().account()).await, FUNDS + 20_000);
    let rep = m
        .buyer
        .device
        .http()
        .reputation(&own_centre().account(), CATEGORY)
        .await
        .expect("a proved answer");
    assert_eq!(rep, None, "self-dealing leaves no record");
    o.shutdown().await;
    let _ = Timestamp(0);
}
