//! Resources on order books from a client's side (docs/api.md §6.16–6.18):
//! a class, an order and a lease read with their state proofs and checked
//! against a signed header, as [`NodeClient::hold`] reads a hold; and a
//! book's depth, which is market data and proves nothing.
//!
//! A buyer or a provider acts only on what it proved: that its order rests
//! (or has ended), that a lease exists with the price and quantity it
//! expects, and how many units were already paid for. The depth and the
//! last fills help it choose a price; a node could show them wrong.
//!
//! A class name goes into the URL percent-encoded (as a category does in
//! `market`), so it cannot add a parameter or a path segment; the node
//! refuses a bad one by name (`bad_class`).

use serde_json::Value;
use ting_core::resource::{Lease, LeaseId, Order, OrderId, ResourceClass};
use ting_core::AccountId;

use super::market::escaped;
use super::{HttpError, NodeClient};

/// One price level of a book as the node showed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookLevel {
    /// Per unit, in base units.
    pub price: u64,
    /// Units resting at this price.
    pub units: u64,
    pub orders: u32,
}

/// A class's book as the node showed it: not proved.
#[derive(Clone, Debug, PartialEq)]
pub struct BookDepth {
    pub class: String,
    /// The block time the depth was counted at: orders expired by then are
    /// left out.
    pub at_ms: u64,
    /// Best (highest) bid first.
    pub bids: Vec<BookLevel>,
    /// Best (lowest) ask first.
    pub asks: Vec<BookLevel>,
    /// The node's JSON, with the last fills (`last_trades`), for display.
    pub raw: Value,
}

fn bad(what: &str) -> HttpError {
    HttpError::BadResponse(what.to_owned())
}

fn level(v: &Value) -> Result<BookLevel, HttpError> {
    let n = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| bad("a book level without a number"))
    };
    Ok(BookLevel {
        price: n("price")?,
        units: n("units")?,
        orders: u32::try_from(n("orders")?).map_err(|_| bad("a level's orders past u32"))?,
    })
}

fn levels(v: &Value, side: &str) -> Result<Vec<BookLevel>, HttpError> {
    v[side]
        .as_array()
        .ok_or_else(|| bad("a book without its sides"))?
        .iter()
        .map(level)
        .collect()
}

/// The id named `key` of one listed order or lease.
fn listed_id<T>(v: &Value, key: &str, parse: fn(&str) -> Option<T>) -> Result<T, HttpError> {
    v[key]
        .as_str()
        .and_then(parse)
        .ok_or_else(|| bad("a listed order or lease without its id"))
}

fn lease_id_of(v: &Value) -> Result<LeaseId, HttpError> {
    listed_id(v, "lease", LeaseId::from_hex)
}

fn order_id_of(v: &Value) -> Result<OrderId, HttpError> {
    listed_id(v, "order", OrderId::from_hex)
}

fn book_depth(v: Value) -> Result<BookDepth, HttpError> {
    Ok(BookDepth {
        class: v["class"]
            .as_str()
            .ok_or_else(|| bad("a book without its class"))?
            .to_owned(),
        at_ms: v["at_ms"]
            .as_u64()
            .ok_or_else(|| bad("a book without at_ms"))?,
        bids: levels(&v, "bids")?,
        asks: levels(&v, "asks")?,
        raw: v,
    })
}

impl NodeClient {
    /// Resource class `name` at the node's tip block, proved against a
    /// signed header; `None` is a proved absence (never registered).
    pub async fn class(&self, name: &str) -> Result<Option<ResourceClass>, HttpError> {
        let what = format!("class {name}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/classes/{}?proof=true", escaped(name));
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.class(name, &answer, floor)?)
    }

    /// Resting order `id` at the node's tip block, proved; `None` is a
    /// proved absence (never placed, or ended: used up, cancelled, or
    /// expired and taken off its book).
    pub async fn order(&self, id: &OrderId) -> Result<Option<Order>, HttpError> {
        let what = format!("order {id}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/orders/{}?proof=true", id.to_hex());
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.order(id, &answer, floor)?)
    }

    /// Open lease `id` at the node's tip block, proved; `None` is a proved
    /// absence (never made, or ended: every unit paid, or closed).
    pub async fn lease(&self, id: &LeaseId) -> Result<Option<Lease>, HttpError> {
        let what = format!("lease {id}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/leases/{}?proof=true", id.to_hex());
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.lease(id, &answer, floor)?)
    }

    /// The ids of the open leases of `buyer` and/or `provider` (either
    /// filter may be left out), every page of them. NOT proved: a node
    /// could leave one out or list one that is not there; read each with
    /// [`NodeClient::lease`] before acting on it.
    pub async fn lease_ids(
        &self,
        buyer: Option<&AccountId>,
        provider: Option<&AccountId>,
    ) -> Result<Vec<LeaseId>, HttpError> {
        let filters: Vec<String> = [("buyer", buyer), ("provider", provider)]
            .into_iter()
            .filter_map(|(k, a)| a.map(|a| format!("{k}={}", a.to_hex())))
            .collect();
        self.every_page(("/v1/leases", &filters.join("&")), "leases", lease_id_of)
            .await
    }

    /// The ids of `owner`'s orders resting in class `class`, every page of
    /// them. NOT proved: read each with [`NodeClient::order`] before acting
    /// on it.
    pub async fn order_ids(
        &self,
        owner: &AccountId,
        class: &str,
    ) -> Result<Vec<OrderId>, HttpError> {
        let query = format!("owner={}&class={}", owner.to_hex(), escaped(class));
        self.every_page(("/v1/orders", &query), "orders", order_id_of)
            .await
    }

    /// Class `name`'s book: up to `levels` price levels a side (1 to 50)
    /// and the last fills. Market data, NOT proved: the book is an index
    /// the node keeps beside the state, so nothing signed covers it. Use it
    /// to choose a price; believe an order or a lease only from
    /// [`NodeClient::order`] and [`NodeClient::lease`].
    pub async fn book_depth(&self, name: &str, levels: u32) -> Result<BookDepth, HttpError> {
        let raw = self
            .get(&format!("/v1/books/{}?levels={levels}", escaped(name)))
            .await?;
        let depth = book_depth(raw)?;
        if depth.class != name {
            return Err(bad("the node answered with another class's book"));
        }
        Ok(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use serde_json::json;
    use ting_core::resource::{OrderTerms, Side};
    use ting_core::{
        Amount, Genesis, Hash32, Keypair, NetworkId, Nonce, Timestamp, TxBody, TxKind,
    };
    use ting_node::{Node, NodeConfig};

    use crate::verify::Verifier;

    const CLASS: &str = "compute.cpu.s";

    fn sequencer() -> Keypair {
        Keypair::from_seed([7; 32])
    }

    /// A node whose genesis funds `funded` and names the sequencer an
    /// issuer, its API on a free port: the node and its URL.
    async fn serve(dir: &std::path::Path, funded: &[&Keypair]) -> (Node, String) {
        let genesis = Genesis {
            name: "ting-agent-resources".into(),
            network: NetworkId(4244),
            timestamp: Timestamp(1_700_000_000_000),
            issuers: vec![sequencer().account()],
            sequencers: vec![sequencer().account()],
            allocations: funded
                .iter()
                .map(|k| (k.account(), Amount::new(10_000_000)))
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

    /// Signs `kind` as `key`'s transaction of nonce `nonce` and submits it.
    async fn send(client: &NodeClient, key: &Keypair, nonce: u64, kind: TxKind) -> Hash32 {
        let tx = TxBody {
            genesis: *client.verifier().expect("verifying").genesis(),
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(u64::MAX),
            kind,
        }
        .sign(key);
        client.submit(&tx).await.expect("the transaction commits");
        tx.hash()
    }

    fn order(side: Side, price: u64, quantity: u64) -> TxKind {
        TxKind::OrderPlace {
            terms: OrderTerms {
                class: CLASS.into(),
                side,
                price: Amount::new(price),
                quantity,
                expires_at: Timestamp(crate::clock::now().0 + ting_core::limits::DAY_MS),
            },
        }
    }

    #[tokio::test]
    async fn a_buyer_believes_the_class_order_and_lease_it_proved_and_reads_the_depth() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (buyer, provider) = (Keypair::from_seed([50; 32]), Keypair::from_seed([51; 32]));
        let (node, url) = serve(dir.path(), &[&buyer, &provider]).await;
        let genesis = node.shared().genesis_hash;
        let verifier = Verifier::new(genesis, vec![sequencer().account()]);
        let client = NodeClient::new(&url)
            .expect("a URL")
            .verifying(Arc::new(verifier));

        let register = TxKind::ClassRegister {
            name: CLASS.into(),
            unit: "cpu_s".into(),
            lease_ms: 60_000,
        };
        send(&client, &sequencer(), 0, register).await;
        let class = client
            .class(CLASS)
            .await
            .expect("proved")
            .expect("registered");
        assert_eq!((class.unit.as_str(), class.lease_ms), ("cpu_s", 60_000));
        assert_eq!(client.class("compute.gpu").await.expect("proved"), None);

        send(&client, &provider, 0, order(Side::Ask, 5, 100)).await;
        send(&client, &provider, 1, order(Side::Ask, 7, 10)).await;
        send(&client, &buyer, 0, order(Side::Bid, 6, 40)).await;
        let (ask, bid) = (
            OrderId::derive(&genesis, &provider.account(), Nonce(0)),
            OrderId::derive(&genesis, &buyer.account(), Nonce(0)),
        );
        let resting = client.order(&ask).await.expect("proved").expect("rests");
        assert_eq!((resting.remaining, resting.fills), (60, 1));
        assert_eq!(client.order(&bid).await.expect("proved"), None, "filled");
        let lease_id = LeaseId::derive(&bid, &ask);
        let lease = client
            .lease(&lease_id)
            .await
            .expect("proved")
            .expect("open");
        assert_eq!(
            (lease.buyer, lease.provider, lease.price, lease.quantity),
            (buyer.account(), provider.account(), Amount::new(5), 40)
        );

        // The depth is market data: read, not proved.
        let depth = client.book_depth(CLASS, 1).await.expect("the book");
        let best = BookLevel {
            price: 5,
            units: 60,
            orders: 1,
        };
        assert_eq!((depth.asks, depth.bids), (vec![best], vec![]));
        assert_eq!(depth.raw["last_trades"][0]["units"], json!(40));
        match client.book_depth("compute.cpu.s&levels=50", 1).await {
            Err(HttpError::Api { code, .. }) => assert_eq!(code, "bad_class"),
            other => panic!("a name that would add a parameter is refused, not {other:?}"),
        }
        // A client that checks nothing cannot take a proved read.
        let trusting = NodeClient::new(&url).expect("a URL");
        match trusting.lease(&lease_id).await {
            Err(HttpError::Unproven(e)) => assert_eq!(e.code, "no_proof"),
            other => panic!("a trusting client proves nothing, not {other:?}"),
        }
        tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .expect("the node stops");
    }

    #[test]
    fn a_book_reads_its_levels_and_refuses_what_is_missing() {
        let mut v = json!({
            "class": "bandwidth.uplink.msg",
            "at_ms": 5,
            "bids": [{ "price": 9, "units": 30, "orders": 2 }],
            "asks": [],
            "last_trades": [],
        });
        let depth = book_depth(v.clone()).expect("a book");
        assert_eq!(
            depth.bids,
            [BookLevel {
                price: 9,
                units: 30,
                orders: 2
            }]
        );
        assert!(depth.asks.is_empty());
        v["bids"][0]["orders"] = json!(u64::MAX);
        assert!(book_depth(v.clone()).is_err(), "orders past u32");
        v["bids"] = json!(null);
        assert!(book_depth(v).is_err(), "a side is a list");
    }
}
