//! Market data on MQTT (docs/mqtt.md §5.3): after each durable block that
//! changed a book, the class's depth and last fills, retained, on
//! `ting/v1/books/{class levels}/depth` and `.../trades`.
//!
//! The publisher is a task of its own with its own receiver of the durable
//! blocks, so it never slows block production nor the inbox notices: the
//! block channel is bounded and drops its oldest blocks for a receiver that
//! falls behind. A lag is counted
//! (`ting_mqtt_publish_dropped_total{reason="books_lagged"}`) and answered
//! by looking at every book, since the blocks it missed may have changed
//! any of them. A placement names its class; a cancel does not (its order
//! has left the state), so a block with a cancel looks at every book too.
//! Each class's last published payloads are remembered by hash, and only
//! what changed is published again.
//!
//! On several nodes, only the one that sequences publishes (docs/mqtt.md
//! §5.3): followers hold the same books, a little later.
//!
//! What is published reflects durable state only: the state may already
//! hold a block that is not yet durable, so the publisher waits for it
//! first, as an HTTP read does.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ting_core::topics::{book_depth, book_trades};
use ting_core::{BlockHeight, Hash32, TxKind};
use tokio::sync::broadcast::{self, error::RecvError};

use super::client::{Client, Qos};
use super::limits::{MQTT_BOOK_LEVELS, MQTT_BOOK_TRADES, MQTT_RETAINED_BYTES_MAX};
use crate::books::{book_json, visible_height};
use crate::node::Shared;
use crate::pipeline::CommittedBlock;

/// Longest the publisher waits for the state it read to become durable.
const DURABLE_WAIT: Duration = Duration::from_secs(5);

/// Which books a block may have changed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Touched {
    classes: BTreeSet<String>,
    /// Every book: a cancel's class is not in the block, or blocks were missed.
    all: bool,
}

impl Touched {
    fn add(&mut self, block: &CommittedBlock) {
        for tx in &block.block.txs {
            match tx.kind() {
                TxKind::OrderPlace { terms } => {
                    self.classes.insert(terms.class.clone());
                }
                TxKind::OrderCancel { .. } => self.all = true,
                _ => {}
            }
        }
    }

    fn is_empty(&self) -> bool {
        !self.all && self.classes.is_empty()
    }
}

/// One class's payloads: its name, its depth and its trades.
type BookPayloads = (String, Vec<u8>, Vec<u8>);

/// The two payloads of one class's book, split from the API's shape.
fn payloads(mut book: Value) -> (Vec<u8>, Vec<u8>) {
    let trades = serde_json::json!({
        "class": book["class"],
        "at_ms": book["at_ms"],
        "height": book["height"],
        "last_trades": book["last_trades"].take(),
    });
    if let Some(fields) = book.as_object_mut() {
        fields.remove("last_trades");
    }
    (
        book.to_string().into_bytes(),
        trades.to_string().into_bytes(),
    )
}

/// What to publish for `touched`, read under the state's lock, and the
/// height that must be durable first.
fn read_books(shared: &Shared, touched: &Touched) -> (Vec<BookPayloads>, BlockHeight) {
    let st = shared.state.read().expect("state lock");
    let names: Vec<String> = if touched.all {
        st.classes()
            .filter(|c| st.book(&c.name).is_some())
            .map(|c| c.name.clone())
            .collect()
    } else {
        touched.classes.iter().cloned().collect()
    };
    let books = names
        .into_iter()
        .filter_map(|name| {
            let book = book_json(&st, &name, MQTT_BOOK_LEVELS, MQTT_BOOK_TRADES)?;
            let (depth, trades) = payloads(book);
            Some((name, depth, trades))
        })
        .collect();
    (books, visible_height(shared, &st))
}

/// Publishes the books of classes whose blocks change them until the block
/// channel closes.
pub(crate) async fn publish(
    client: Client,
    shared: Arc<Shared>,
    mut blocks: broadcast::Receiver<Arc<CommittedBlock>>,
) {
    // The hashes of each class's last published depth and trades.
    let mut sent: HashMap<String, (Hash32, Hash32)> = HashMap::new();
    let mut sequenced = false;
    loop {
        let mut touched = Touched::default();
        match blocks.recv().await {
            Ok(b) => touched.add(&b),
            Err(RecvError::Lagged(_)) => {
                shared.metrics.mqtt.publish_dropped("books_lagged");
                touched.all = true;
            }
            Err(RecvError::Closed) => return,
        }
        // Take every block already waiting, so a burst reads each book once.
        loop {
            match blocks.try_recv() {
                Ok(b) => touched.add(&b),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    shared.metrics.mqtt.publish_dropped("books_lagged");
                    touched.all = true;
                }
                Err(_) => break,
            }
        }
        // Only the node that sequences publishes; one that starts to looks at
        // every book once, since its predecessor may have died before
        // publishing the last changes.
        if !shared.roles.sequences() {
            sequenced = false;
            continue;
        }
        if !sequenced {
            sequenced = true;
            touched.all = true;
            sent.clear();
        }
        if touched.is_empty() {
            continue;
        }
        let (books, height) = read_books(&shared, &touched);
        let durable = tokio::time::timeout(DURABLE_WAIT, shared.durable.reached(height)).await;
        if durable.is_err() {
            // Not shown before it is durable; the next block's look covers it.
            shared.metrics.mqtt.publish_dropped("books_not_durable");
            continue;
        }
        for (name, depth, trades) in books {
            let last = sent.get(&name).copied();
            let hashes = (Hash32::digest(&[&depth]), Hash32::digest(&[&trades]));
            let depth_sent = last.is_some_and(|l| l.0 == hashes.0)
                || send(&client, &shared, book_depth(&name), depth, "book_depth").await;
            let trades_sent = last.is_some_and(|l| l.1 == hashes.1)
                || send(&client, &shared, book_trades(&name), trades, "book_trades").await;
            // What failed is sent again when it next differs from what was sent.
            let keep = |sent: bool, new: Hash32, old: Option<Hash32>| {
                if sent {
                    new
                } else {
                    old.unwrap_or_default()
                }
            };
            let entry = (
                keep(depth_sent, hashes.0, last.map(|l| l.0)),
                keep(trades_sent, hashes.1, last.map(|l| l.1)),
            );
            sent.insert(name, entry);
        }
    }
}

/// Publishes one retained payload; whether it was handed to the client.
async fn send(
    client: &Client,
    shared: &Shared,
    topic: String,
    payload: Vec<u8>,
    kind: &'static str,
) -> bool {
    if payload.len() > MQTT_RETAINED_BYTES_MAX {
        shared.metrics.mqtt.publish_dropped("too_large");
        return false;
    }
    match client.publish(topic, Qos::AtMostOnce, true, payload).await {
        Ok(()) => {
            shared.metrics.mqtt.published(kind);
            true
        }
        Err(_) => {
            shared.metrics.mqtt.publish_dropped("client_closed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The longest a level, a fill and a book's header can print.
    fn worst_book() -> Value {
        let level = json!({ "price": u64::MAX, "units": u64::MAX, "orders": u32::MAX });
        let trade = json!({
            "at_ms": u64::MAX,
            "price": u64::MAX,
            "units": u64::MAX,
            "taker": "bid",
            "lease": "f".repeat(64),
        });
        json!({
            "class": "a".repeat(ting_core::limits::SERVICE_CATEGORY_BYTES_MAX),
            "at_ms": u64::MAX,
            "height": u64::MAX,
            "bids": vec![level.clone(); MQTT_BOOK_LEVELS],
            "asks": vec![level; MQTT_BOOK_LEVELS],
            "last_trades": vec![trade; MQTT_BOOK_TRADES],
        })
    }

    #[test]
    fn the_longest_depth_and_trades_fit_a_retained_message() {
        let (depth, trades) = payloads(worst_book());
        assert!(depth.len() <= MQTT_RETAINED_BYTES_MAX, "{}", depth.len());
        assert!(trades.len() <= MQTT_RETAINED_BYTES_MAX, "{}", trades.len());
    }

    #[test]
    fn the_payloads_split_the_api_book_into_depth_and_trades() {
        let (depth, trades) = payloads(worst_book());
        let depth: Value = serde_json::from_slice(&depth).expect("JSON");
        let trades: Value = serde_json::from_slice(&trades).expect("JSON");
        assert!(depth.get("last_trades").is_none());
        assert_eq!(
            depth["bids"].as_array().map(Vec::len),
            Some(MQTT_BOOK_LEVELS)
        );
        assert_eq!(trades["class"], depth["class"]);
        assert!(trades.get("bids").is_none());
        assert_eq!(
            trades["last_trades"].as_array().map(Vec::len),
            Some(MQTT_BOOK_TRADES)
        );
    }
}
