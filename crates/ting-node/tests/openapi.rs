//! The OpenAPI document served at `GET /v1/openapi.json` describes exactly the
//! routes the router serves.
//!
//! axum cannot list a router's routes, so `ROUTES` below repeats what
//! `src/http/mod.rs` registers. Two checks tie it down from both sides: the
//! document's (method, path) pairs must equal `ROUTES`, and every entry of
//! `ROUTES` must be answered by a real handler on a running node (not by the
//! router's fallback `unknown_endpoint`, nor by a 405 for the wrong method).
//! A route added to the router but not to `ROUTES` is caught by review of
//! this list; one added to `ROUTES` but not the document fails the first check.
//!
//! The transaction schema `TxJson` is tied to the code the same way: every
//! kind the transaction decoder knows has a schema in its discriminator
//! mapping (and a row in docs/api.md §4), and each kind's `fields` example
//! parses as that kind and is what the node prints for it.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use ting_core::limits::EVENTS_BUFFER_MAX;
use ting_core::market::{
    Evidence, HoldId, HoldTerms, OfferId, OfferTerms, ReleaseRule, SignedEvidence,
    Value as Observed,
};
use ting_core::resource::{LeaseId, OrderId, OrderTerms, Side};
use ting_core::stream::{
    Delivery, DeliveryAck, EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms,
};
use ting_core::{
    Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, DecodeError, Genesis, Hash32,
    Keypair, MessagingKey, NetworkId, Nonce, Signature, SignedTx, Timestamp, TxBody, TxKind,
};
use ting_node::http::{router, OPENAPI_JSON};
use ting_node::{Node, NodeConfig};
use tower::ServiceExt;

/// Every route `ting_node::http::router` registers, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/status"),
    ("get", "/v1/supply"),
    ("get", "/v1/genesis"),
    ("get", "/v1/calls"),
    ("post", "/v1/transactions"),
    ("post", "/v1/transactions/batch"),
    ("get", "/v1/transactions/{hash}"),
    ("get", "/v1/receipts/{hash}"),
    ("get", "/v1/accounts/{id}"),
    ("get", "/v1/accounts/{id}/transactions"),
    ("post", "/v1/mqtt/auth"),
    ("post", "/v1/mqtt/acl"),
    ("get", "/v1/accounts/{id}/channels"),
    ("get", "/v1/channels/{id}"),
    ("get", "/v1/streams"),
    ("get", "/v1/streams/{id}"),
    ("get", "/v1/offers"),
    ("get", "/v1/offers/{id}"),
    ("get", "/v1/holds"),
    ("get", "/v1/holds/{id}"),
    ("get", "/v1/reputation/{provider}"),
    ("get", "/v1/reputation/{provider}/{category}"),
    ("get", "/v1/classes"),
    ("get", "/v1/classes/{name}"),
    ("get", "/v1/books/{class}"),
    ("get", "/v1/orders"),
    ("get", "/v1/orders/{id}"),
    ("get", "/v1/leases"),
    ("get", "/v1/leases/{id}"),
    ("get", "/v1/blocks"),
    ("get", "/v1/raw/blocks"),
    ("get", "/v1/blocks/{height}"),
    ("get", "/v1/events"),
    ("get", "/v1/overview"),
    ("get", "/v1/overview/events"),
    ("post", "/v1/faucet"),
];

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON")
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("the document has `paths`");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in item.keys().filter(|k| HTTP_METHODS.contains(&k.as_str())) {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

fn listed_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

/// Every `$ref` in `v`, for checking that each points at something.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_with_info_and_paths() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "not OpenAPI 3: {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(!documented_routes(&doc).is_empty());
}

#[test]
fn the_document_describes_exactly_the_routes_the_router_serves() {
    let documented = documented_routes(&document());
    let listed = listed_routes();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.json: {undocumented:?}"
    );
    assert!(
        not_served.is_empty(),
        "in openapi.json but not served: {not_served:?}"
    );
}

#[test]
fn every_operation_has_responses_and_every_ref_resolves() {
    let doc = document();
    for (method, path) in documented_routes(&doc) {
        let responses = &doc["paths"][&path][&method]["responses"];
        assert!(
            responses.as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no response"
        );
    }
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {target}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "$ref {target} points at nothing"
        );
    }
}

fn api_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md"))
        .expect("docs/api.md")
}

/// Each number `N` in "more than N blocks" in `text`.
fn lag_thresholds(text: &str) -> Vec<u64> {
    text.match_indices("more than ")
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = &rest[digits.len()..];
            after
                .starts_with(" blocks")
                .then(|| digits.parse().ok())
                .flatten()
        })
        .collect()
}

#[test]
fn both_documents_give_the_event_buffer_as_the_lagged_threshold_and_replay_bound() {
    let doc = document();
    let events = doc["paths"]["/v1/events"]["get"]["description"]
        .as_str()
        .expect("/v1/events has a description");
    let lagged = doc["components"]["schemas"]["LaggedEvent"].to_string();
    let api_md = api_md();
    let section = |from: &str, to: &str| {
        let start = api_md
            .find(from)
            .unwrap_or_else(|| panic!("{from} in api.md"));
        let end = start
            + api_md[start..]
                .find(to)
                .unwrap_or_else(|| panic!("{to} in api.md"));
        api_md[start..end].to_owned()
    };
    let api_events = section("\n## 7. Events", "\n## 8. ");
    let want = EVENTS_BUFFER_MAX as u64;
    for (name, text, bounds_replay) in [
        ("openapi /v1/events", events, true),
        ("openapi LaggedEvent", lagged.as_str(), false),
        ("api.md §7", api_events.as_str(), true),
    ] {
        let found = lag_thresholds(text);
        assert!(!found.is_empty(), "{name} gives no lagged threshold");
        assert!(
            found.iter().all(|n| *n == want),
            "{name} says a subscriber lags past {found:?} blocks; the buffer is {want}"
        );
        let bound = [format!("{want} of them"), format!("most {want} blocks")];
        assert!(
            !bounds_replay || bound.iter().any(|b| text.contains(b.as_str())),
            "{name} bounds the replay by the buffer, {want} blocks"
        );
    }
    let limits = section("\n## 9. Limits", "\nThe encoded-transaction");
    for row in [
        format!("| events buffered per subscriber | {want} blocks |"),
        format!("| blocks replayed when resuming with `Last-Event-ID` | {want} |"),
    ] {
        assert!(limits.contains(&row), "api.md §9 has {row}");
    }
}

/// A node on a fresh temporary data directory, its key the only sequencer.
fn start_node(dir: &std::path::Path) -> Node {
    let seed = [7u8; 32];
    let genesis = Genesis {
        name: "openapi-test".into(),
        network: NetworkId(1),
        timestamp: Timestamp(0),
        issuers: vec![],
        sequencers: vec![Keypair::from_seed(seed).account()],
        allocations: vec![],
        clock: ting_core::LedgerClock::Real,
    };
    Node::start(NodeConfig::new(
        dir.to_path_buf(),
        genesis,
        Keypair::from_seed(seed),
    ))
    .expect("node starts")
}

/// `path` with its parameters filled: a real account, a zero hash, height
/// 1, a category, a class name.
fn concrete(path: &str) -> String {
    let account = Keypair::from_seed([9; 32]).account().to_did();
    let filled = path
        .replace("{id}", &account)
        .replace("{provider}", &account)
        .replace("{category}", "water.filter")
        .replace("{name}", "bandwidth.uplink.msg")
        .replace("{class}", "bandwidth.uplink.msg")
        .replace("{hash}", &"00".repeat(32))
        .replace("{height}", "1");
    assert!(
        !filled.contains('{'),
        "{path} has a parameter this test does not fill"
    );
    filled
}

/// What the router answers to `method path`: its status, and the error code if it sent one.
async fn answer(app: axum::Router, method: &str, path: &str) -> (StatusCode, Option<String>) {
    let request = Request::builder()
        .method(method.to_uppercase().as_str())
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(if method == "post" { "{}" } else { "" }))
        .expect("request builds");
    let response = app.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !is_json {
        // Plain text, metrics, or the event stream, whose body never ends.
        return (status, None);
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("a JSON answer parses");
    (status, body["error"]["code"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn every_listed_route_is_answered_by_its_handler_not_the_fallback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start_node(dir.path());
    let app = router(node.shared().clone());

    let (status, code) = answer(app.clone(), "get", "/v1/no-such-endpoint").await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::NOT_FOUND, Some("unknown_endpoint"))
    );

    for (method, path) in ROUTES {
        let uri = concrete(path);
        let (status, code) = answer(app.clone(), method, &uri).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: the path is served, not this method"
        );
        assert_ne!(
            code.as_deref(),
            Some("unknown_endpoint"),
            "{method} {uri} fell through to the fallback"
        );
    }

    let request = Request::get("/v1/openapi.json")
        .body(Body::empty())
        .expect("request builds");
    let served = app.oneshot(request).await.expect("the router answers");
    assert_eq!(served.status(), StatusCode::OK);
    let bytes = served.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(
        &bytes[..],
        OPENAPI_JSON.as_bytes(),
        "the served document is openapi.json as is"
    );

    node.shutdown();
}

// ---- The transaction schema and the transaction kinds ----

/// One transaction of each kind, with made-up values (only the kind matters).
/// `every_kind_is_in_the_list` keeps it complete: a kind added to `TxKind`
/// fails that test until it is added here.
fn one_of_each_kind() -> Vec<TxKind> {
    let account = Keypair::from_seed([5; 32]).account();
    let hash = Hash32([6; 32]);
    let signature = Signature([7; 64]);
    let amount = Amount::new(1);
    let hold = HoldId(hash);
    let offer = OfferId(hash);
    let stream = StreamId(hash);
    let channel = ChannelId(hash);
    let hold_terms = HoldTerms {
        payee: account,
        amount,
        deadline: Timestamp(1),
        grace_ms: 0,
        terms: hash,
        category: "water".into(),
        rule: ReleaseRule::Payer,
        arbiter: None,
    };
    let offer_terms = OfferTerms {
        category: "water".into(),
        area: String::new(),
        price: amount,
        delivery_ms: 1,
        warranty_ms: 0,
        terms: hash,
    };
    let stream_terms = StreamTerms {
        fields: vec![FieldSpec {
            name: "where".into(),
            unit: String::new(),
            kind: FieldKind::Location,
        }],
        price_per_epoch: amount,
        epoch: EpochRule::Points(1),
        area: "u0".into(),
        consent: hash,
    };
    let evidence = SignedEvidence {
        evidence: Evidence {
            hold,
            observed_at: Timestamp(1),
            fields: vec![("event".into(), Observed::Number(1))],
        },
        signature,
    };
    let proof = ChannelProof::Voucher { amount, signature };
    vec![
        TxKind::Transfer {
            to: account,
            amount,
            memo: Vec::new(),
        },
        TxKind::Mint {
            to: account,
            amount,
        },
        TxKind::RegisterDevice {
            device: account,
            metadata: Vec::new(),
            device_signature: signature,
        },
        TxKind::SetSpendLimit {
            device: account,
            per_day: None,
        },
        TxKind::Freeze { device: account },
        TxKind::Unfreeze { device: account },
        TxKind::Sweep {
            device: account,
            amount,
        },
        TxKind::SetMessagingKey {
            key: MessagingKey([9; 32]),
        },
        TxKind::ChannelOpen {
            payee: account,
            deposit: amount,
            expires_at: Timestamp(1),
            mode: ChannelMode::Voucher,
        },
        TxKind::ChannelClaim { channel, proof },
        TxKind::ChannelTopUp {
            channel,
            amount,
            expires_at: Timestamp(1),
            extension: Some(ChainSegment {
                anchor: hash,
                len: 1,
            }),
        },
        TxKind::ChannelClose {
            channel,
            proof: None,
        },
        TxKind::ChannelReclaim { channel },
        TxKind::StreamOpen {
            terms: stream_terms,
        },
        TxKind::StreamConsent {
            stream,
            consent: hash,
        },
        TxKind::StreamDelivery {
            stream,
            ack: DeliveryAck {
                delivery: Delivery {
                    buyer: account,
                    epochs: 1,
                    paid: amount,
                },
                signature,
            },
        },
        TxKind::StreamClose { stream },
        TxKind::HoldCreate { terms: hold_terms },
        TxKind::HoldAccept { hold },
        TxKind::HoldRelease {
            hold,
            evidence: Some(evidence),
        },
        TxKind::HoldRefund { hold },
        TxKind::HoldDispute { hold, reason: hash },
        TxKind::HoldDecide {
            hold,
            to_payee: amount,
        },
        TxKind::OfferOpen {
            terms: offer_terms.clone(),
        },
        TxKind::OfferUpdate {
            offer,
            terms: offer_terms,
        },
        TxKind::OfferClose { offer },
        TxKind::ClassRegister {
            name: "water".into(),
            unit: "l".into(),
            lease_ms: 1,
        },
        TxKind::OrderPlace {
            terms: OrderTerms {
                class: "water".into(),
                side: Side::Bid,
                price: amount,
                quantity: 1,
                expires_at: Timestamp(1),
            },
        },
        TxKind::OrderCancel {
            order: OrderId(hash),
        },
        TxKind::LeaseSettle {
            lease: LeaseId(hash),
            count: 1,
            signature,
        },
        TxKind::LeaseClose {
            lease: LeaseId(hash),
            count: None,
        },
    ]
}

/// Offset of the kind tag in a transaction's canonical bytes (docs/wire.md §5.1).
const KIND_TAG_AT: usize = 81;

fn signed(kind: TxKind) -> SignedTx {
    let key = Keypair::from_seed([4; 32]);
    TxBody {
        genesis: Hash32([1; 32]),
        sender: key.account(),
        nonce: Nonce(0),
        valid_until: Timestamp(1),
        kind,
    }
    .sign(&key)
}

/// Every kind tag the transaction decoder reads: cut right after the tag, a
/// transaction of a known kind is truncated, one of an unknown kind is not.
fn decoded_tags() -> BTreeSet<u8> {
    let freeze = signed(TxKind::Freeze {
        device: Keypair::from_seed([5; 32]).account(),
    });
    let common = &freeze.bytes()[..KIND_TAG_AT];
    (0..=u8::MAX)
        .filter(|tag| {
            let mut bytes = common.to_vec();
            bytes.push(*tag);
            !matches!(SignedTx::decode(&bytes), Err(DecodeError::UnknownKind(_)))
        })
        .collect()
}

#[test]
fn every_kind_is_in_the_list() {
    let kinds = one_of_each_kind();
    let tags: BTreeSet<u8> = kinds
        .iter()
        .map(|kind| signed(kind.clone()).bytes()[KIND_TAG_AT])
        .collect();
    assert_eq!(
        tags.len(),
        kinds.len(),
        "two values of one kind in the list"
    );
    let known = decoded_tags();
    let missing: Vec<_> = known.difference(&tags).collect();
    assert!(
        missing.is_empty(),
        "one_of_each_kind has no transaction of the kinds tagged {missing:02x?}"
    );
    assert_eq!(tags, known);
}

#[test]
fn each_kind_s_tag_is_its_wire_byte_and_only_kinds_tags_have_names() {
    let known = decoded_tags();
    for kind in one_of_each_kind() {
        let tag = signed(kind.clone()).bytes()[KIND_TAG_AT];
        assert_eq!(kind.tag(), tag, "{}", kind.name());
        assert_eq!(TxKind::name_of_tag(tag), Some(kind.name()));
    }
    for tag in (0..=u8::MAX).filter(|t| !known.contains(t)) {
        assert_eq!(TxKind::name_of_tag(tag), None, "tag {tag:#04x}");
    }
}

/// The kinds named in the table of docs/api.md §4.
fn api_md_kinds() -> BTreeSet<String> {
    let api_md = api_md();
    let intro = api_md
        .find("The `fields` of each kind")
        .expect("api.md §4 has the kinds table");
    let table = intro + api_md[intro..].find("\n|").expect("the table follows");
    let end = table + api_md[table..].find("\n\n").expect("the table ends");
    api_md[table..end]
        .lines()
        .filter_map(|row| row.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(kind, _)| kind.to_owned())
        .collect()
}

#[test]
fn every_transaction_kind_has_a_schema_in_the_discriminator_mapping() {
    let doc = document();
    let tx_json = &doc["components"]["schemas"]["TxJson"];
    let mapping = tx_json["discriminator"]["mapping"]
        .as_object()
        .expect("TxJson has a discriminator mapping");
    let names: BTreeSet<String> = one_of_each_kind()
        .iter()
        .map(|kind| kind.name().to_owned())
        .collect();
    let mapped: BTreeSet<String> = mapping.keys().cloned().collect();
    let unmapped: Vec<_> = names.difference(&mapped).collect();
    let unknown: Vec<_> = mapped.difference(&names).collect();
    assert!(
        unmapped.is_empty(),
        "kinds without a schema in TxJson's discriminator mapping: {unmapped:?}"
    );
    assert!(
        unknown.is_empty(),
        "TxJson maps kinds TxKind does not have: {unknown:?}"
    );

    let one_of: BTreeSet<&str> = tx_json["oneOf"]
        .as_array()
        .expect("TxJson is a oneOf")
        .iter()
        .map(|s| s["$ref"].as_str().expect("oneOf lists $refs"))
        .collect();
    let targets: BTreeSet<&str> = mapping
        .values()
        .map(|t| t.as_str().expect("a mapping value is a $ref"))
        .collect();
    assert_eq!(one_of, targets, "TxJson's oneOf lists the mapped schemas");
    for (kind, target) in mapping {
        let target = target.as_str().expect("a $ref");
        let schema = doc
            .pointer(target.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{kind}: {target} points at nothing"));
        let kinds = schema["properties"]["kind"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{target} has a `kind` enum"));
        assert!(
            kinds.iter().any(|k| k == kind.as_str()),
            "{target} does not take kind {kind}"
        );
        assert!(
            schema["properties"]["fields"]["$ref"].is_string(),
            "{target} names its fields schema"
        );
    }

    assert_eq!(
        api_md_kinds(),
        names,
        "the kinds table of docs/api.md §4 names every kind"
    );
}

/// Kinds whose `fields` schema has no example of its own (their properties
/// have examples). A new kind comes with one: this list only shrinks.
const KINDS_WITHOUT_FIELDS_EXAMPLE: &[&str] = &[
    "transfer",
    "mint",
    "register_device",
    "set_spend_limit",
    "freeze",
    "unfreeze",
    "sweep",
    "set_messaging_key",
    "channel_open",
    "channel_claim",
    "channel_top_up",
    "channel_close",
    "channel_reclaim",
];

/// `tx` as the node parses it, and as the node prints that back.
fn parse_and_print(tx: &Value) -> Result<(SignedTx, Value), String> {
    let form: ting_api::TxJson = serde_json::from_value(tx.clone()).map_err(|e| e.to_string())?;
    let parsed = form.to_tx().map_err(|e| e.to_string())?;
    let printed = serde_json::to_value(ting_api::TxJson::from_tx(&parsed)).expect("prints");
    Ok((parsed, printed))
}

#[test]
fn every_fields_example_parses_as_its_kind_and_is_what_the_node_prints() {
    let doc = document();
    let tx_json = &doc["components"]["schemas"]["TxJson"];
    let example = &tx_json["example"];
    let (_, printed) =
        parse_and_print(example).unwrap_or_else(|e| panic!("TxJson's example does not parse: {e}"));
    assert_eq!(
        &printed, example,
        "TxJson's example is what the node prints"
    );

    let mapping = tx_json["discriminator"]["mapping"]
        .as_object()
        .expect("TxJson has a discriminator mapping");
    for (kind, target) in mapping {
        let schema = doc
            .pointer(target.as_str().expect("a $ref").trim_start_matches('#'))
            .expect("the mapping's $refs resolve");
        let fields_ref = schema["properties"]["fields"]["$ref"]
            .as_str()
            .expect("a transaction schema names its fields schema");
        let fields = &doc
            .pointer(fields_ref.trim_start_matches('#'))
            .expect("the fields schema exists")["example"];
        if KINDS_WITHOUT_FIELDS_EXAMPLE.contains(&kind.as_str()) {
            assert!(
                fields.is_null(),
                "{kind} has a fields example now: take it off KINDS_WITHOUT_FIELDS_EXAMPLE"
            );
            continue;
        }
        assert!(!fields.is_null(), "{fields_ref} has no example");
        let mut tx = example.clone();
        tx["kind"] = Value::from(kind.as_str());
        tx["fields"] = fields.clone();
        let (parsed, printed) = parse_and_print(&tx).unwrap_or_else(|e| {
            panic!("the example of {fields_ref} does not parse as {kind}: {e}")
        });
        assert_eq!(parsed.kind().name(), kind, "{fields_ref}'s example");
        assert_eq!(
            &printed["fields"], fields,
            "the example of {fields_ref} is not what the node prints for it"
        );
    }
}
