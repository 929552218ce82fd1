//! The service market from a client's side (docs/api.md §6.13–6.15):
//! finding offers, listing a provider's reputations, and reading an offer,
//! an escrow hold or one reputation proved against a signed header, as
//! [`NodeClient::stream`] reads a stream.
//!
//! A search or a listing is a hint: a node could leave an offer out or show
//! a score it does not hold. A buyer ranks by the hints, then reads what it
//! will act on with [`NodeClient::offer`], [`NodeClient::reputation`] and
//! [`NodeClient::hold`], which believe only what their proofs show.
//!
//! Values the caller gives go into the URL percent-encoded, never as they
//! are, so a category or an area cannot add a parameter or a path segment;
//! the node checks what they mean and refuses a bad one by name.

use serde_json::Value;
use ting_core::market::{Hold, HoldId, Offer, OfferId, Reputation};
use ting_core::AccountId;

use super::{HttpError, NodeClient};

/// The page size a client asks for: the most the node gives (docs/api.md §6.13).
const PAGE_MAX: usize = 200;
/// Most pages one search or listing follows: far above the offers the
/// per-provider cap and deposits make likely, and a bound on a node that
/// keeps answering `next`.
pub const FIND_PAGES_MAX: usize = 64;

/// What `GET /v1/offers` is asked: every filter is optional and they all apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferQuery {
    /// Offers whose category is this one or lies under it (`water` finds
    /// `water.cartridge.replace`).
    pub category: Option<String>,
    /// A place, as a geohash: offers whose area holds it (an offer for
    /// anywhere holds every place).
    pub area: Option<String>,
    /// Offers whose provider scores at least this in the offer's category,
    /// in parts per million.
    pub min_score_ppm: Option<u32>,
    pub provider: Option<AccountId>,
}

impl OfferQuery {
    /// The query string, each value percent-encoded.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::with_capacity(4);
        if let Some(c) = &self.category {
            parts.push(format!("category={}", escaped(c)));
        }
        if let Some(a) = &self.area {
            parts.push(format!("area={}", escaped(a)));
        }
        if let Some(m) = self.min_score_ppm {
            parts.push(format!("min_score_ppm={m}"));
        }
        if let Some(p) = &self.provider {
            parts.push(format!("provider={}", p.to_hex()));
        }
        parts.join("&")
    }
}

/// An offer a search found, as the node showed it: not proved.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferHint {
    pub id: OfferId,
    pub provider: AccountId,
    pub category: String,
    /// The provider's score in the offer's category as the node showed it
    /// (0 with no record); [`NodeClient::reputation`] proves it.
    pub score_ppm: u32,
    /// The node's JSON for the offer, for display.
    pub raw: Value,
}

/// One category of a provider's reputation, as the node showed it: not proved.
#[derive(Clone, Debug, PartialEq)]
pub struct ReputationHint {
    pub category: String,
    pub score_ppm: u32,
    /// The node's JSON for the record (tallies, distinct buyers, scores).
    pub raw: Value,
}

/// `text` as one query value or path segment: every byte but
/// `A-Z a-z 0-9 - . _ ~` as `%XX`.
pub(super) fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push_str(&hex::encode_upper([b]));
        }
    }
    out
}

fn bad(what: &str) -> HttpError {
    HttpError::BadResponse(what.to_owned())
}

fn score_of(reputation: &Value) -> Result<u32, HttpError> {
    match reputation {
        Value::Null => Ok(0),
        r => r["score_ppm"]
            .as_u64()
            .and_then(|s| u32::try_from(s).ok())
            .ok_or_else(|| bad("a reputation without a score_ppm")),
    }
}

fn offer_hint(v: &Value) -> Result<OfferHint, HttpError> {
    let id = v["offer"]
        .as_str()
        .and_then(OfferId::from_hex)
        .ok_or_else(|| bad("an offer without an id"))?;
    let provider = v["provider"]
        .as_str()
        .and_then(|p| AccountId::parse(p).ok())
        .ok_or_else(|| bad("an offer without a provider"))?;
    let category = v["terms"]["category"]
        .as_str()
        .ok_or_else(|| bad("an offer without a category"))?;
    Ok(OfferHint {
        id,
        provider,
        category: category.to_owned(),
        score_ppm: score_of(&v["reputation"])?,
        raw: v.clone(),
    })
}

fn reputation_hint(v: &Value) -> Result<ReputationHint, HttpError> {
    let category = v["category"]
        .as_str()
        .ok_or_else(|| bad("a reputation without a category"))?;
    Ok(ReputationHint {
        category: category.to_owned(),
        score_ppm: score_of(v)?,
        raw: v.clone(),
    })
}

impl NodeClient {
    /// Every page of `GET {path}?{query}`, each page's `key` list read
    /// with `read`. A `next` that does not move on, or more than
    /// [`FIND_PAGES_MAX`] pages, is refused.
    pub(super) async fn every_page<T>(
        &self,
        (path, query): (&str, &str),
        key: &str,
        read: fn(&Value) -> Result<T, HttpError>,
    ) -> Result<Vec<T>, HttpError> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..FIND_PAGES_MAX {
            let mut page_path = format!("{path}?limit={PAGE_MAX}");
            if !query.is_empty() {
                page_path.push('&');
                page_path.push_str(query);
            }
            if let Some(a) = &after {
                page_path.push_str(&format!("&after={}", escaped(a)));
            }
            let page = self.get(&page_path).await?;
            for item in page[key].as_array().into_iter().flatten() {
                found.push(read(item)?);
            }
            match page["next"].as_str() {
                None => return Ok(found),
                Some(n) if after.as_deref().is_some_and(|a| n <= a) => {
                    return Err(bad("a page's next does not move past the one before"));
                }
                Some(n) => after = Some(n.to_owned()),
            }
        }
        Err(HttpError::BadResponse(format!(
            "more than {FIND_PAGES_MAX} pages of {key}; narrow the search"
        )))
    }

    /// The listed offers `query` finds, every page of them, in id order. A
    /// search is a hint: read each offer and its provider's reputation
    /// with [`NodeClient::offer`] and [`NodeClient::reputation`], which
    /// check them against the signed state.
    pub async fn find_offers(&self, query: &OfferQuery) -> Result<Vec<OfferHint>, HttpError> {
        let query = query.to_query();
        self.every_page(("/v1/offers", &query), "offers", offer_hint)
            .await
    }

    /// `provider`'s reputation in each category where an outcome was
    /// recorded, in category order. A hint: [`NodeClient::reputation`]
    /// proves one.
    pub async fn reputations(
        &self,
        provider: &AccountId,
    ) -> Result<Vec<ReputationHint>, HttpError> {
        let path = format!("/v1/reputation/{}", provider.to_hex());
        self.every_page((&path, ""), "reputations", reputation_hint)
            .await
    }

    /// Listed offer `id` at the node's tip block, proved against a signed
    /// header; `None` is a proved absence (never listed, or closed).
    pub async fn offer(&self, id: &OfferId) -> Result<Option<Offer>, HttpError> {
        let what = format!("offer {id}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/offers/{}?proof=true", id.to_hex());
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.offer(id, &answer, floor)?)
    }

    /// Open hold `id` at the node's tip block, proved; `None` is a proved
    /// absence (never created, or ended: released, refunded or decided).
    pub async fn hold(&self, id: &HoldId) -> Result<Option<Hold>, HttpError> {
        let what = format!("hold {id}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/holds/{}?proof=true", id.to_hex());
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.hold(id, &answer, floor)?)
    }

    /// `provider`'s reputation in exactly `category` at the node's tip
    /// block, proved; `None` is a proved absence (no outcome recorded).
    pub async fn reputation(
        &self,
        provider: &AccountId,
        category: &str,
    ) -> Result<Option<Reputation>, HttpError> {
        let what = format!("the reputation of {provider} in {category}");
        let verifier = self.verifier_for(&what)?;
        let path = format!(
            "/v1/reputation/{}/{}?proof=true",
            provider.to_hex(),
            escaped(category)
        );
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.reputation(provider, category, &answer, floor)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::verify::Verifier;

    use ting_core::limits::DAY_MS;
    use ting_core::market::{HoldPhase, HoldTerms, OfferTerms, ReleaseRule};
    use ting_core::{
        Amount, Genesis, Hash32, Keypair, NetworkId, Nonce, Timestamp, TxBody, TxKind,
    };
    use ting_node::{Node, NodeConfig};

    const FUNDS: u64 = 10_000_000;

    fn sequencer() -> Keypair {
        Keypair::from_seed([7; 32])
    }

    /// A node whose genesis funds `funded`, its API on a free port: the node and its URL.
    async fn serve(dir: &std::path::Path, funded: &[&Keypair]) -> (Node, String) {
        let genesis = Genesis {
            name: "ting-agent-market".into(),
            network: NetworkId(4243),
            timestamp: Timestamp(1_700_000_000_000),
            issuers: vec![sequencer().account()],
            sequencers: vec![sequencer().account()],
            allocations: funded
                .iter()
                .map(|k| (k.account(), Amount::new(FUNDS)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        };
        let mut cfg = NodeConfig::new(dir.to_path_buf(), genesis, sequencer());
        cfg.verify_workers = 1;
        let node = Node::start(cfg).expect("the node starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let shared = Arc::clone(node.shared());
        tokio::spawn(ting_node::http::serve(
            listener,
            shared,
            std::future::pending(),
        ));
        (node, url)
    }

    /// Signs `kind` as `key`'s next transaction (counted in `nonce`) and submits it.
    async fn send(client: &NodeClient, key: &Keypair, nonce: &mut u64, kind: TxKind) -> Hash32 {
        let tx = TxBody {
            genesis: *client.verifier().expect("verifying").genesis(),
            sender: key.account(),
            nonce: Nonce(*nonce),
            valid_until: Timestamp(u64::MAX),
            kind,
        }
        .sign(key);
        *nonce += 1;
        client.submit(&tx).await.expect("the transaction commits");
        tx.hash()
    }

    fn offer_terms(category: &str) -> OfferTerms {
        OfferTerms {
            category: category.into(),
            area: "u0".into(),
            price: Amount::new(100),
            delivery_ms: 3_600_000,
            warranty_ms: 0,
            terms: Hash32::digest(&[b"the offer's text"]),
        }
    }

    fn hold_terms(payee: AccountId, category: &str) -> HoldTerms {
        HoldTerms {
            payee,
            amount: Amount::new(500),
            deadline: Timestamp(crate::clock::now().0 + 7 * DAY_MS),
            grace_ms: 3_600_000,
            terms: Hash32::digest(&[b"an accepted proposal"]),
            category: category.into(),
            rule: ReleaseRule::Payer,
            arbiter: None,
        }
    }

    #[tokio::test]
    async fn a_buyer_finds_an_offer_and_believes_the_offer_hold_and_reputation_it_proved() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (buyer, provider) = (Keypair::from_seed([40; 32]), Keypair::from_seed([41; 32]));
        let (node, url) = serve(dir.path(), &[&buyer, &provider]).await;
        let genesis = node.shared().genesis_hash;
        let verifier = Verifier::new(genesis, vec![sequencer().account()]);
        let client = NodeClient::new(&url)
            .expect("a URL")
            .verifying(Arc::new(verifier));
        let (mut buyer_nonce, mut provider_nonce) = (0, 0);

        let open = TxKind::OfferOpen {
            terms: offer_terms("water.filter"),
        };
        send(&client, &provider, &mut provider_nonce, open).await;
        let offer_id = OfferId::derive(&genesis, &provider.account(), Nonce(0));
        let query = OfferQuery {
            category: Some("water".into()),
            area: Some("u0mz".into()),
            ..OfferQuery::default()
        };
        let hints = client.find_offers(&query).await.expect("a search");
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert_eq!((hints[0].id, hints[0].score_ppm), (offer_id, 0));
        let offer = client
            .offer(&offer_id)
            .await
            .expect("proved")
            .expect("listed");
        assert_eq!(offer.provider, provider.account());

        // A hold the provider accepts, proved; released, proved gone.
        let create = TxKind::HoldCreate {
            terms: hold_terms(provider.account(), "water.filter"),
        };
        send(&client, &buyer, &mut buyer_nonce, create).await;
        let hold = HoldId::derive(&genesis, &buyer.account(), Nonce(0));
        send(
            &client,
            &provider,
            &mut provider_nonce,
            TxKind::HoldAccept { hold },
        )
        .await;
        let proved = client.hold(&hold).await.expect("proved").expect("open");
        assert_eq!(proved.phase, HoldPhase::Accepted);
        let none = client.reputation(&provider.account(), "water.filter").await;
        assert_eq!(
            none.expect("proved"),
            None,
            "no outcome before the hold ends"
        );
        let release = TxKind::HoldRelease {
            hold,
            evidence: None,
        };
        send(&client, &buyer, &mut buyer_nonce, release).await;
        assert_eq!(client.hold(&hold).await.expect("proved"), None);

        // The released hold is the provider's reputation in its category only.
        let rep = client
            .reputation(&provider.account(), "water.filter")
            .await
            .expect("proved")
            .expect("recorded");
        assert_eq!((rep.released.count, rep.score_ppm()), (1, 333_333));
        let other = client.reputation(&provider.account(), "water").await;
        assert_eq!(other.expect("proved"), None);
        let listed = client
            .reputations(&provider.account())
            .await
            .expect("a list");
        let listed: Vec<_> = listed
            .iter()
            .map(|r| (r.category.as_str(), r.score_ppm))
            .collect();
        assert_eq!(listed, [("water.filter", 333_333)]);
        let ranked = OfferQuery {
            min_score_ppm: Some(333_333),
            ..OfferQuery::default()
        };
        let hints = client.find_offers(&ranked).await.expect("a search");
        assert_eq!(
            hints.iter().map(|h| h.score_ppm).collect::<Vec<_>>(),
            [333_333]
        );

        // A value that would add a parameter is sent as one value, and refused by name.
        let sneaky = OfferQuery {
            category: Some(format!("water&provider={}", buyer.account().to_hex())),
            ..OfferQuery::default()
        };
        match client.find_offers(&sneaky).await {
            Err(HttpError::Api { code, .. }) => assert_eq!(code, "bad_category"),
            other => panic!("a bad category is refused, not {other:?}"),
        }
        // A client that checks nothing cannot take a proved read.
        let trusting = NodeClient::new(&url).expect("a URL");
        match trusting.offer(&offer_id).await {
            Err(HttpError::Unproven(e)) => assert_eq!(e.code, "no_proof"),
            other => panic!("a trusting client proves nothing, not {other:?}"),
        }
        tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .expect("the node stops");
    }

    #[test]
    fn values_are_escaped_so_they_cannot_add_parameters_or_segments() {
        assert_eq!(escaped("water.cartridge_2"), "water.cartridge_2");
        assert_eq!(escaped("a&provider=x"), "a%26provider%3Dx");
        assert_eq!(escaped("../x y"), "..%2Fx%20y");
        assert_eq!(escaped("é"), "%C3%A9");
    }

    #[test]
    fn a_query_names_only_the_filters_given() {
        assert_eq!(OfferQuery::default().to_query(), "");
        let q = OfferQuery {
            category: Some("water".into()),
            area: Some("u0m".into()),
            min_score_ppm: Some(250_000),
            provider: None,
        };
        assert_eq!(q.to_query(), "category=water&area=u0m&min_score_ppm=250000");
    }

    #[test]
    fn an_offer_hint_reads_the_score_or_zero_and_refuses_what_is_missing() {
        let id = "ab".repeat(32);
        let provider = ting_core::Keypair::from_seed([5; 32]).account();
        let mut v = serde_json::json!({
            "offer": id,
            "provider": provider.to_did(),
            "terms": { "category": "water" },
            "reputation": null,
        });
        let hint = offer_hint(&v).expect("a hint");
        assert_eq!((hint.provider, hint.score_ppm), (provider, 0));
        v["reputation"] = serde_json::json!({ "score_ppm": 333_333 });
        assert_eq!(offer_hint(&v).expect("a hint").score_ppm, 333_333);
        v["reputation"] = serde_json::json!({ "score_ppm": u64::MAX });
        assert!(offer_hint(&v).is_err(), "a score past u32 is refused");
        v["offer"] = serde_json::json!("zz");
        assert!(offer_hint(&v).is_err(), "an offer needs its id");
    }
}
