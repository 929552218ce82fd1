//! The v1 MQTT topic names (docs/mqtt.md §1), in one place for the node's
//! gateway, the device SDK and the benchmarks.
//!
//! Topics are plain strings that name accounts in lowercase hex; nothing here
//! talks to a broker.

use crate::prelude::*;

use crate::account::AccountId;

/// Where devices publish signed transactions.
pub const TX_TOPIC: &str = "ting/v1/tx";

/// The nodes' subscription to [`TX_TOPIC`]: a shared subscription, so that of
/// several nodes on one broker exactly one takes each transaction.
pub const TX_SHARED_FILTER: &str = "$share/ting-nodes/ting/v1/tx";

/// Where the newest durable block header is kept (retained).
pub const BLOCKS_TOPIC: &str = "ting/v1/blocks";

/// The prefix of every inbox topic.
pub const INBOX_PREFIX: &str = "ting/v1/inbox/";

/// The prefix of the topics where nodes announce themselves (retained).
pub const NODES_PREFIX: &str = "ting/v1/nodes/";

/// Every node's announcement, for a subscriber that wants to find one.
pub const NODES_FILTER: &str = "ting/v1/nodes/+";

/// The prefix of every stream topic.
pub const STREAMS_PREFIX: &str = "ting/v1/streams/";

/// Where `seller` publishes the signed chunks of `stream`:
/// `ting/v1/streams/{seller hex}/{stream hex}`. Only the seller may publish
/// there (docs/mqtt.md §10); anyone logged in may subscribe.
pub fn stream_chunks(seller: &AccountId, stream: &crate::stream::StreamId) -> String {
    format!("{STREAMS_PREFIX}{}/{}", seller.to_hex(), stream.to_hex())
}

/// The prefix of every witness topic.
pub const WITNESS_PREFIX: &str = "ting/v1/witness/";

/// Every witness's topics, for a device that follows them all.
pub const WITNESS_FILTER: &str = "ting/v1/witness/+/#";

/// Where `witness` publishes the attestations it signs (docs/witnesses.md):
/// `ting/v1/witness/{witness hex}/attestations`, each message one or more
/// 177-byte attestations, the newest retained. Only the witness may publish
/// there (docs/mqtt.md §10).
pub fn witness_attestations(witness: &AccountId) -> String {
    format!("{WITNESS_PREFIX}{}/attestations", witness.to_hex())
}

/// Where `witness` publishes evidence it found, retained:
/// `ting/v1/witness/{witness hex}/evidence`.
pub fn witness_evidence(witness: &AccountId) -> String {
    format!("{WITNESS_PREFIX}{}/evidence", witness.to_hex())
}

/// The prefix of every call-for-proposals topic.
pub const CALLS_PREFIX: &str = "ting/v1/market/calls/";

/// Where `buyer` publishes its calls in `category`:
/// `ting/v1/market/calls/{buyer hex}/{category, one level per dotted part}`,
/// so that `water.cartridge.replace` is `.../water/cartridge/replace`. Only
/// the buyer may publish there (docs/mqtt.md §10).
pub fn calls(buyer: &AccountId, category: &str) -> String {
    format!(
        "{CALLS_PREFIX}{}/{}",
        buyer.to_hex(),
        category.replace('.', "/")
    )
}

/// The filter a provider subscribes to for every buyer's calls in
/// `category` and the categories under it:
/// `ting/v1/market/calls/+/{category levels}/#`.
pub fn calls_filter(category: &str) -> String {
    format!("{CALLS_PREFIX}+/{}/#", category.replace('.', "/"))
}

/// The prefix of every order-book topic.
pub const BOOKS_PREFIX: &str = "ting/v1/books/";

/// Every class's book topics, for a subscriber that follows them all.
pub const BOOKS_FILTER: &str = "ting/v1/books/#";

/// Where the node keeps class `class`'s depth (retained, JSON):
/// `ting/v1/books/{class, one level per dotted part}/depth`, so that
/// `bandwidth.uplink.msg` is `.../bandwidth/uplink/msg/depth`. Only nodes
/// publish there (docs/mqtt.md §10).
pub fn book_depth(class: &str) -> String {
    format!("{BOOKS_PREFIX}{}/depth", class.replace('.', "/"))
}

/// Where the node keeps class `class`'s last fills (retained, JSON):
/// `ting/v1/books/{class levels}/trades`.
pub fn book_trades(class: &str) -> String {
    format!("{BOOKS_PREFIX}{}/trades", class.replace('.', "/"))
}

/// Whether an MQTT topic name matches a filter (`+` one level, a final `#`
/// any levels below and the parent itself).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut want = filter.split('/');
    let mut have = topic.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("#"), _) => return want.next().is_none(),
            (Some("+"), Some(_)) => {}
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// The inbox of `account`: `ting/v1/inbox/{64 lowercase hex digits}`.
pub fn inbox(account: &AccountId) -> String {
    format!("{INBOX_PREFIX}{}", account.to_hex())
}

/// Where the node signing as `sequencer` announces itself:
/// `ting/v1/nodes/{64 lowercase hex digits}`.
pub fn node(sequencer: &AccountId) -> String {
    format!("{NODES_PREFIX}{}", sequencer.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_and_node_topics_name_the_account_in_lowercase_hex() {
        let id = AccountId([0xAB; 32]);
        assert_eq!(inbox(&id), format!("ting/v1/inbox/{}", "ab".repeat(32)));
        assert_eq!(node(&id), format!("ting/v1/nodes/{}", "ab".repeat(32)));
        assert!(TX_SHARED_FILTER.ends_with(TX_TOPIC));
    }

    #[test]
    fn a_book_topic_names_its_class_one_level_a_part() {
        assert_eq!(
            book_depth("bandwidth.uplink.msg"),
            "ting/v1/books/bandwidth/uplink/msg/depth"
        );
        assert_eq!(book_trades("compute"), "ting/v1/books/compute/trades");
        assert!(filter_matches(BOOKS_FILTER, &book_depth("a.b")));
        assert!(filter_matches(
            "ting/v1/books/a/+/depth",
            &book_depth("a.b")
        ));
        // A class named like a suffix still has topics of its own.
        assert_ne!(book_depth("a.trades"), book_trades("a"));
    }

    #[test]
    fn a_category_filter_takes_calls_in_it_and_under_it_only() {
        let buyer = AccountId([0xCD; 32]);
        let topic = calls(&buyer, "water.cartridge.replace");
        assert_eq!(
            topic,
            format!(
                "ting/v1/market/calls/{}/water/cartridge/replace",
                "cd".repeat(32)
            )
        );
        assert!(filter_matches(&calls_filter("water.cartridge"), &topic));
        assert!(filter_matches(
            &calls_filter("water.cartridge.replace"),
            &topic
        ));
        assert!(!filter_matches(&calls_filter("water.cartridges"), &topic));
        assert!(!filter_matches(&calls_filter("power"), &topic));
        assert!(!filter_matches("a/+", "a/b/c"));
        assert!(filter_matches("a/#", "a"));
    }
}
