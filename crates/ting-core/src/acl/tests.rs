//! The ACL table: what each role may and may not do, and the docs that show it.

use super::*;

fn me() -> AccountId {
    AccountId([0xA1; 32])
}

fn other() -> AccountId {
    AccountId([0xB2; 32])
}

fn ok(role: Role, access: Access, topic: &str) -> bool {
    check(role, &me(), access, topic).is_ok()
}

#[test]
fn a_device_reads_only_its_own_inbox() {
    let mine = crate::topics::inbox(&me());
    let theirs = crate::topics::inbox(&other());
    assert!(ok(Role::Device, Access::Subscribe, &mine));
    for filter in [
        theirs.as_str(),
        "ting/v1/inbox/#",
        "ting/v1/inbox/+",
        "ting/v1/#",
        "#",
        "+/v1/inbox/+",
        "$share/g/ting/v1/inbox/+",
    ] {
        assert!(!ok(Role::Device, Access::Subscribe, filter), "{filter}");
    }
    assert!(ok(Role::Device, Access::Publish, &theirs));
    assert!(!ok(Role::Device, Access::PublishRetained, &theirs));
    assert!(!ok(Role::Node, Access::Subscribe, &theirs));
}

#[test]
fn only_nodes_take_transactions_and_publish_node_topics() {
    assert!(ok(Role::Device, Access::Publish, "ting/v1/tx"));
    assert!(!ok(Role::Device, Access::Subscribe, "ting/v1/tx"));
    assert!(!ok(
        Role::Device,
        Access::Subscribe,
        crate::topics::TX_SHARED_FILTER
    ));
    assert!(!ok(Role::Node, Access::Subscribe, "ting/v1/tx"));
    assert!(ok(
        Role::Node,
        Access::Subscribe,
        crate::topics::TX_SHARED_FILTER
    ));
    assert!(!ok(Role::Device, Access::Publish, "ting/v1/blocks"));
    assert!(!ok(Role::Device, Access::PublishRetained, "ting/v1/blocks"));
    assert!(ok(Role::Device, Access::Subscribe, "ting/v1/blocks"));
    assert!(ok(Role::Node, Access::PublishRetained, "ting/v1/blocks"));
    let mine = crate::topics::node(&me());
    let theirs = crate::topics::node(&other());
    assert!(ok(Role::Node, Access::PublishRetained, &mine));
    assert!(!ok(Role::Node, Access::PublishRetained, &theirs));
    assert!(!ok(Role::Device, Access::PublishRetained, &mine));
    assert!(ok(Role::Device, Access::Subscribe, &theirs));
    assert!(ok(
        Role::Device,
        Access::Subscribe,
        crate::topics::NODES_FILTER
    ));
}

#[test]
fn a_buyer_publishes_only_its_own_calls_and_anyone_may_listen_by_category_the_node_too() {
    let mine = crate::topics::calls(&me(), "water.cartridge.replace");
    let theirs = crate::topics::calls(&AccountId([9; 32]), "water.cartridge.replace");
    assert!(ok(Role::Device, Access::Publish, &mine));
    assert!(!ok(Role::Device, Access::PublishRetained, &mine));
    assert!(!ok(Role::Device, Access::Publish, &theirs));
    assert!(ok(Role::Device, Access::Subscribe, &theirs));
    let filter = crate::topics::calls_filter("water.cartridge");
    assert!(ok(Role::Device, Access::Subscribe, &filter));
    // The node listens to every call, to list the open ones; it never publishes one.
    assert!(ok(
        Role::Node,
        Access::Subscribe,
        "ting/v1/market/calls/+/#"
    ));
    assert!(!ok(Role::Node, Access::Publish, &theirs));
    assert!(!ok(
        Role::Device,
        Access::Publish,
        "ting/v1/market/calls/+/water"
    ));
}

#[test]
fn only_nodes_keep_the_books_and_anyone_logged_in_reads_them() {
    let depth = crate::topics::book_depth("bandwidth.uplink.msg");
    let trades = crate::topics::book_trades("bandwidth.uplink.msg");
    for topic in [depth.as_str(), trades.as_str()] {
        assert!(ok(Role::Node, Access::PublishRetained, topic), "{topic}");
        assert!(ok(Role::Node, Access::Publish, topic), "{topic}");
        assert!(!ok(Role::Device, Access::Publish, topic), "{topic}");
        assert!(!ok(Role::Device, Access::PublishRetained, topic), "{topic}");
        assert!(ok(Role::Device, Access::Subscribe, topic), "{topic}");
    }
    for filter in [
        crate::topics::BOOKS_FILTER,
        "ting/v1/books/+/+/+/depth",
        "ting/v1/books/bandwidth/#",
    ] {
        assert!(ok(Role::Device, Access::Subscribe, filter), "{filter}");
    }
    assert!(!ok(Role::Device, Access::Subscribe, "ting/v1/book/x"));
}

#[test]
fn a_witness_publishes_only_its_own_attestations_and_anyone_follows_them() {
    let mine = crate::topics::witness_attestations(&me());
    let evidence = crate::topics::witness_evidence(&me());
    for topic in [mine.as_str(), evidence.as_str()] {
        assert!(ok(Role::Device, Access::PublishRetained, topic), "{topic}");
        assert!(
            !ok(Role::Node, Access::Publish, topic),
            "a node is no witness: {topic}"
        );
    }
    let theirs = crate::topics::witness_attestations(&other());
    assert!(
        !ok(Role::Device, Access::Publish, &theirs),
        "another's witness topic"
    );
    assert!(ok(Role::Device, Access::Subscribe, &theirs));
    assert!(ok(Role::Node, Access::Subscribe, &theirs));
    assert!(ok(
        Role::Device,
        Access::Subscribe,
        crate::topics::WITNESS_FILTER
    ));
    assert!(
        !ok(Role::Device, Access::Subscribe, "ting/v1/witness/#"),
        "a filter naming no witness"
    );
    assert!(!ok(
        Role::Device,
        Access::Publish,
        "ting/v1/witness/x/attestations"
    ));
}

#[test]
fn reserved_and_unknown_topics_are_refused_to_everyone() {
    for topic in [
        "ting/v1/streams/x",
        "ting/v1/market/offers/1",
        "ting/v2/tx",
        "other",
        "ting/v1/tx/x",
        "",
        "$SYS/broker/load",
        "ting/v1/inbox/short",
    ] {
        for role in [Role::Device, Role::Node] {
            for access in [Access::Subscribe, Access::Publish, Access::PublishRetained] {
                assert!(!ok(role, access, topic), "{role:?} {access:?} {topic}");
            }
        }
    }
    let denied = check(Role::Device, &me(), Access::Subscribe, "ting/v1/inbox/#").unwrap_err();
    assert_eq!(denied.code(), "acl_denied");
    assert!(denied.to_string().contains("ting/v1/inbox/#"));
}

#[test]
fn docs_show_the_table_as_the_code_has_it() {
    let docs = include_str!("../../../../docs/mqtt.md");
    let table = table_markdown();
    assert!(
        docs.contains(&table),
        "docs/mqtt.md §10 must hold exactly:\n{table}"
    );
}
