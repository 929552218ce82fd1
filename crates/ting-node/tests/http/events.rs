//! `GET /v1/events`: the server-sent stream of durable blocks and receipts, read
//! from the response body with a deadline.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use ting_node::Shared;

use crate::common::*;

/// Reads the event stream until `done` holds for the events so far.
pub async fn read_events(
    body: &mut Body,
    done: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let deadline = Deadline::new("server-sent events");
    let mut text = String::new();
    loop {
        let events = parse_events(&text);
        if done(&events) {
            return events;
        }
        let frame = tokio::time::timeout(deadline.remaining(), body.frame())
            .await
            .expect("an event before the deadline")
            .expect("the stream stays open")
            .expect("a frame");
        if let Some(data) = frame.data_ref() {
            text.push_str(std::str::from_utf8(data).expect("UTF-8"));
        }
    }
}

/// The complete events in `text` as (name, data).
fn parse_events(text: &str) -> Vec<(String, Value)> {
    let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
    complete
        .split("\n\n")
        .filter_map(|event| {
            let mut name = None;
            let mut data = None;
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).expect("event data is JSON"));
                }
            }
            Some((name?, data?))
        })
        .collect()
}

pub async fn subscribe(s: &Arc<Shared>, path: &str) -> Body {
    let response = tower::ServiceExt::oneshot(ting_node::http::router(Arc::clone(s)), get(path))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    response.into_body()
}

pub fn has_receipt(events: &[(String, Value)], hash: &str) -> bool {
    events
        .iter()
        .any(|(name, data)| name == "receipt" && data["tx_hash"] == hash)
}

#[tokio::test]
async fn events_stream_each_durable_block_and_its_receipts() {
    let node = TestNode::start();
    let s = node.shared();
    let mut all = subscribe(&s, "/v1/events").await;
    let watched = user(2);
    let mut filtered = subscribe(&s, &format!("/v1/events?account={}", did(&watched))).await;

    let other = transfer(&user(0), 0, user(1).account(), 1);
    let mine = transfer(&user(0), 1, watched.account(), 2);
    let h1 = commit(&s, &other).await["height"].clone();
    let h2 = commit(&s, &mine).await["height"].clone();

    let (other_hash, mine_hash) = (other.hash().to_hex(), mine.hash().to_hex());
    let events = read_events(&mut all, |e| {
        has_receipt(e, &other_hash) && has_receipt(e, &mine_hash)
    })
    .await;
    let block = events
        .iter()
        .find(|(n, d)| n == "block" && d["height"] == h1)
        .expect("a block event");
    assert_eq!(block.1["tx_count"], 1);
    assert_eq!(block.1["hash"].as_str().map(str::len), Some(64));
    let receipt = events
        .iter()
        .find(|(_, d)| d["tx_hash"] == mine_hash)
        .expect("a receipt");
    assert_eq!(receipt.1["height"], h2);
    assert_eq!(receipt.1["index"], 0);
    assert_eq!(receipt.1["kind"], "transfer");
    assert_eq!(receipt.1["sender"], did(&user(0)));
    assert_eq!(receipt.1["counterparty"], did(&watched));
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["block", "receipt", "block", "receipt"]);

    let events = read_events(&mut filtered, |e| has_receipt(e, &mine_hash)).await;
    assert!(
        !has_receipt(&events, &other_hash),
        "a filtered stream skips other accounts' receipts"
    );
    let blocks = events.iter().filter(|(n, _)| n == "block").count();
    assert_eq!(blocks, 2, "but still sees every block");
}
