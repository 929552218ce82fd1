//! `GET /v1/events`: the server-sent stream of durable blocks and receipts, read
//! from the response body with a deadline; and its resumption with
//! `Last-Event-ID`, which replays the durable blocks a client missed.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use ting_core::limits::EVENTS_BUFFER_MAX;
use ting_core::{Keypair, SignedTx};
use ting_node::Shared;

use crate::common::*;

/// One server-sent event: its name, the `id` it carries if any, and its data.
#[derive(Debug, Clone)]
pub struct Sent {
    pub name: String,
    pub id: Option<u64>,
    pub data: Value,
}

/// Reads the event stream until `done` holds for the events so far.
pub async fn read_sent(body: &mut Body, done: impl Fn(&[Sent]) -> bool) -> Vec<Sent> {
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

/// Reads the event stream until `done` holds for the events so far, as (name, data).
pub async fn read_events(
    body: &mut Body,
    done: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let pairs = |sent: &[Sent]| -> Vec<(String, Value)> {
        sent.iter()
            .map(|e| (e.name.clone(), e.data.clone()))
            .collect()
    };
    pairs(&read_sent(body, |sent| done(&pairs(sent))).await)
}

/// The complete events in `text`.
fn parse_events(text: &str) -> Vec<Sent> {
    let complete = text.rfind("\n\n").map_or("", |end| &text[..end]);
    complete
        .split("\n\n")
        .filter_map(|event| {
            let (mut name, mut id, mut data) = (None, None, None);
            for line in event.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse().expect("an event id is a height"));
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).expect("event data is JSON"));
                }
            }
            Some(Sent {
                name: name?,
                id,
                data: data?,
            })
        })
        .collect()
}

/// Opens the stream `req` asks for; it must start.
pub async fn open_stream(s: &Arc<Shared>, req: Request<Body>) -> Body {
    let response = tower::ServiceExt::oneshot(ting_node::http::router(Arc::clone(s)), req)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    response.into_body()
}

pub async fn subscribe(s: &Arc<Shared>, path: &str) -> Body {
    open_stream(s, get(path)).await
}

/// `GET path` with the header a reconnecting client sends.
pub fn with_last_event_id(path: &str, id: &str) -> Request<Body> {
    Request::get(path)
        .header("last-event-id", id)
        .body(Body::empty())
        .expect("request")
}

/// Reconnects to `path` as a client whose last event had `id`.
pub async fn resume(s: &Arc<Shared>, path: &str, id: &str) -> Body {
    open_stream(s, with_last_event_id(path, id)).await
}

pub fn has_receipt(events: &[(String, Value)], hash: &str) -> bool {
    events
        .iter()
        .any(|(name, data)| name == "receipt" && data["tx_hash"] == hash)
}

pub fn has_sent_receipt(events: &[Sent], hash: &str) -> bool {
    events
        .iter()
        .any(|e| e.name == "receipt" && e.data["tx_hash"] == hash)
}

/// An event as the resumption tests compare it: name, height, id, transaction hash.
pub type Seen = (String, Option<u64>, Option<u64>, Option<String>);

pub fn seen(events: &[Sent]) -> Vec<Seen> {
    events
        .iter()
        .map(|e| {
            let hash = e.data["tx_hash"].as_str().map(str::to_owned);
            (e.name.clone(), e.data["height"].as_u64(), e.id, hash)
        })
        .collect()
}

/// The group a block at `height` sends for `receipts`: the block event, then
/// each receipt, and the height as the id of the group's last event.
pub fn group(height: u64, receipts: &[&SignedTx]) -> Vec<Seen> {
    let mut out = vec![("block".to_owned(), Some(height), None, None)];
    for tx in receipts {
        out.push((
            "receipt".to_owned(),
            Some(height),
            None,
            Some(tx.hash().to_hex()),
        ));
    }
    out.last_mut().expect("a block event").2 = Some(height);
    out
}

/// Commits a transfer of 1 from `from` to `to`, alone in its block; answers it and its height.
pub async fn commit_transfer(s: &Arc<Shared>, from: &Keypair, to: &Keypair) -> (SignedTx, u64) {
    let tx = transfer(from, next_nonce(s, from), to.account(), 1);
    let height = commit(s, &tx).await["height"]
        .as_u64()
        .expect("a committed height");
    (tx, height)
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

#[tokio::test]
async fn resuming_after_an_id_replays_exactly_the_missing_blocks_then_goes_on_live() {
    let node = TestNode::start();
    let s = node.shared();
    let mut before = Vec::new();
    for _ in 0..4 {
        before.push(commit_transfer(&s, &user(0), &user(1)).await);
    }
    let heights: Vec<u64> = before.iter().map(|(_, h)| *h).collect();
    assert_eq!(heights, [1, 2, 3, 4], "one block per commit");

    let mut stream = resume(&s, "/v1/events", "1").await;
    let (live, live_height) = commit_transfer(&s, &user(2), &user(1)).await;
    let live_hash = live.hash().to_hex();
    let events = read_sent(&mut stream, |e| has_sent_receipt(e, &live_hash)).await;

    let mut want = Vec::new();
    for (tx, height) in &before[1..] {
        want.extend(group(*height, &[tx]));
    }
    want.extend(group(live_height, &[&live]));
    assert_eq!(
        seen(&events),
        want,
        "blocks 2 to 4 from the log, each once and whole, then block 5 live"
    );
}

#[tokio::test]
async fn resuming_with_an_account_filter_replays_every_block_but_only_that_accounts_receipts() {
    let node = TestNode::start();
    let s = node.shared();
    let watched = user(2);
    let (other, h1) = commit_transfer(&s, &user(0), &user(1)).await;
    let (mine, h2) = commit_transfer(&s, &user(0), &watched).await;
    let (_, h3) = commit_transfer(&s, &user(3), &user(1)).await;
    assert_eq!([h1, h2, h3], [1, 2, 3]);

    let path = format!("/v1/events?account={}", did(&watched));
    let mut stream = resume(&s, &path, "0").await;
    let (sent, h4) = commit_transfer(&s, &watched, &user(1)).await;
    let sent_hash = sent.hash().to_hex();
    let events = read_sent(&mut stream, |e| has_sent_receipt(e, &sent_hash)).await;

    let want: Vec<Seen> = [
        group(h1, &[]),
        group(h2, &[&mine]),
        group(h3, &[]),
        group(h4, &[&sent]),
    ]
    .concat();
    assert_eq!(
        seen(&events),
        want,
        "a block with no receipt for the account carries the id itself"
    );
    assert!(!has_sent_receipt(&events, &other.hash().to_hex()));
}

#[tokio::test]
async fn a_last_event_id_that_is_not_a_height_is_refused_before_the_stream_starts() {
    let node = TestNode::start();
    let s = node.shared();
    let bad = ["abc", "-1", "1.5", "", "18446744073709551616"];
    for id in bad {
        check_error(
            &s,
            &format!("Last-Event-ID {id:?}"),
            with_last_event_id("/v1/events", id),
            StatusCode::BAD_REQUEST,
            "invalid_last_event_id",
        )
        .await;
    }
}

#[tokio::test]
async fn resuming_far_behind_sends_lagged_then_replays_the_newest_buffer_of_blocks() {
    let node = TestNode::start();
    let s = node.shared();
    let skipped: usize = 3;
    let mut committed = Vec::new();
    for _ in 0..EVENTS_BUFFER_MAX + skipped {
        committed.push(commit_transfer(&s, &user(0), &user(1)).await);
    }
    let (last_tx, durable) = committed.last().expect("blocks").clone();
    assert_eq!(durable, committed.len() as u64, "one block per commit");
    let newest: Vec<Seen> = committed[skipped..]
        .iter()
        .flat_map(|(tx, h)| group(*h, &[tx]))
        .collect();
    let last_hash = last_tx.hash().to_hex();

    let mut far = resume(&s, "/v1/events", "0").await;
    let events = read_sent(&mut far, |e| has_sent_receipt(e, &last_hash)).await;
    let lagged = ("lagged".to_owned(), None, None, None);
    assert_eq!(events[0].data["missed_blocks"], skipped, "{:?}", events[0]);
    assert_eq!(seen(&events), [vec![lagged], newest.clone()].concat());

    // Exactly a buffer behind is not lagging.
    let mut edge = resume(&s, "/v1/events", &skipped.to_string()).await;
    let events = read_sent(&mut edge, |e| has_sent_receipt(e, &last_hash)).await;
    assert_eq!(seen(&events), newest);
}

#[tokio::test]
async fn a_resume_point_past_the_durable_height_is_simply_live() {
    let node = TestNode::start();
    let s = node.shared();
    commit_transfer(&s, &user(0), &user(1)).await;
    let mut stream = resume(&s, "/v1/events", "1000").await;
    let (live, height) = commit_transfer(&s, &user(0), &user(1)).await;
    let hash = live.hash().to_hex();
    let events = read_sent(&mut stream, |e| has_sent_receipt(e, &hash)).await;
    assert_eq!(seen(&events), group(height, &[&live]));
}
