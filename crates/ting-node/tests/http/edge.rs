//! The HTTP edge under floods, over real sockets: a node served on a free
//! loopback port, clients speaking raw HTTP/1.1 from chosen loopback
//! addresses (Linux routes all of 127.0.0.0/8 to `lo`), so that each address
//! is a source of its own. Slow bodies from one source, or from many, never
//! lock out a client elsewhere; a source past its limits is refused with 429
//! `source_busy`, or has its new connections closed; and `/v1/supply`, now
//! read from the ledger's running sums, keeps its numbers.
//!
//! The flood's stalled bodies would be cut at `BODY_READ_TIMEOUT`; a flooding
//! client then sends again, so what a test waits for holds however slowly it
//! runs. Nothing is timed: each test waits on the node's own gauges
//! (`/metrics`), with a deadline.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::{json, Value};
use ting_core::limits::{
    HTTP_CONNECTIONS_PER_SOURCE_MAX, HTTP_REQUESTS_MAX, HTTP_REQUESTS_PER_SOURCE_MAX,
};
use ting_core::{Amount, ChannelMode, Timestamp, TxKind};
use ting_node::Shared;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::common::*;

/// The source probes and scrapes come from: never one that floods.
const PROBE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The API served on a free loopback port until dropped.
struct Served {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(shared: &Arc<Shared>) -> Served {
    let listener = ting_node::http::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("its address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ting_node::http::serve(
        listener,
        Arc::clone(shared),
        async {
            let _ = stopped.await;
        },
    ));
    Served { addr, _stop: stop }
}

/// A connection to the node from `from`.
async fn connect(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback source");
    socket.connect(to).await.expect("connect")
}

/// One HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("a {} answer is not JSON ({e}): {}", self.status, self.body))
    }

    fn code(&self) -> Option<String> {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one answer with a `Content-Length` body; `None` if the node closed
/// the connection before answering.
async fn read_answer(stream: &mut TcpStream) -> Option<Answer> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().expect("a length"));
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8(buf[head_end..head_end + length].to_vec()).expect("UTF-8");
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Sends one request from `from` and reads its answer.
async fn request(
    from: Ipv4Addr,
    node: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Answer {
    let mut stream = connect(from, node).await;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: ting\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .expect("send a request");
    read_answer(&mut stream)
        .await
        .unwrap_or_else(|| panic!("{method} {path} from {from}: closed without an answer"))
}

/// A gauge from `/metrics`, scraped from the probe source.
async fn gauge(node: SocketAddr, name: &str) -> u64 {
    let answer = request(PROBE, node, "GET", "/metrics", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer
        .body
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no gauge {name}"))
        .parse()
        .expect("a number")
}

/// Waits until the gauge `name` satisfies `holds`.
async fn wait_gauge(node: SocketAddr, name: &str, holds: impl Fn(u64) -> bool) {
    let deadline = Deadline::new(format!("the gauge {name}"));
    while !holds(gauge(node, name).await) {
        deadline.tick().await;
    }
}

/// A client that sends a request's headers and the first byte of a body it
/// promised 1000 bytes of, then stalls; when the node gives up on it
/// (`408 body_timeout`) it does the same again. It ends with the first other
/// outcome: an answer, or `None` when the node closed the connection first.
async fn stall(from: Ipv4Addr, node: SocketAddr) -> Option<Answer> {
    loop {
        let mut stream = connect(from, node).await;
        let head = "POST /v1/transactions HTTP/1.1\r\nHost: ting\r\n\
                    Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return None;
        }
        match read_answer(&mut stream).await {
            Some(a) if a.status == 408 => continue,
            outcome => return outcome,
        }
    }
}

/// Starts `per_source` stalling clients from each of `sources`.
fn flood(node: SocketAddr, sources: &[Ipv4Addr], per_source: usize) -> JoinSet<Option<Answer>> {
    let mut flood = JoinSet::new();
    for &from in sources {
        for _ in 0..per_source {
            flood.spawn(stall(from, node));
        }
    }
    flood
}

/// From the probe source, health, status and a submitted transfer are all
/// answered at once.
async fn probe_is_served(s: &Arc<Shared>, node: SocketAddr) {
    let health = request(PROBE, node, "GET", "/healthz", None).await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, json!("ok"))
    );
    let status = request(PROBE, node, "GET", "/v1/status", None).await;
    assert_eq!(status.status, 200, "{}", status.body);
    let u0 = user(0);
    let tx = transfer(&u0, next_nonce(s, &u0), user(1).account(), 1);
    let body = json_body(&tx);
    let sent = request(PROBE, node, "POST", "/v1/transactions", Some(&body)).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(sent.json()["status"], "committed", "{}", sent.body);
}

/// Asks `GET /v1/status` from `from` until it is refused `source_busy` (a
/// stalled client being sent again may leave a moment's room).
async fn refused_source_busy(from: Ipv4Addr, node: SocketAddr) -> Answer {
    let deadline = Deadline::new(format!("{from} to be refused source_busy"));
    loop {
        let answer = request(from, node, "GET", "/v1/status", None).await;
        if answer.status == 429 {
            assert_eq!(
                answer.code().as_deref(),
                Some("source_busy"),
                "{}",
                answer.body
            );
            return answer;
        }
        assert_eq!(answer.status, 200, "{}", answer.body);
        deadline.tick().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_slow_bodies_from_one_source_leave_every_other_source_served() {
    let node = TestNode::start();
    let s = node.shared();
    let served = serve(&s).await;
    let flooder = Ipv4Addr::new(127, 0, 0, 1);
    let clients = 300;
    let mut flood = flood(served.addr, &[flooder], clients);
    // The source reads as many bodies as it may have requests in flight; every
    // other client of it is refused, with 429 or, past its connections, a close.
    let held = HTTP_REQUESTS_PER_SOURCE_MAX;
    let deadline = Deadline::new("the flood's clients past the source's limit to be refused");
    for _ in 0..clients - held {
        let done = tokio::time::timeout(deadline.remaining(), flood.join_next()).await;
        let outcome = done
            .expect("refused in time")
            .expect("a client is left")
            .expect("the client ran");
        if let Some(answer) = outcome {
            assert_eq!(answer.status, 429, "{}", answer.body);
            assert_eq!(answer.code().as_deref(), Some("source_busy"));
        }
    }
    wait_gauge(served.addr, "ting_http_bodies_reading", |n| {
        n == held as u64
    })
    .await;
    probe_is_served(&s, served.addr).await;
    let busy = refused_source_busy(flooder, served.addr).await;
    assert!(busy.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&held.to_string())));
    assert_eq!(busy.header("retry-after"), Some("1"));
    let health = request(flooder, served.addr, "GET", "/healthz", None).await;
    assert_eq!(
        health.status, 200,
        "health is not counted against the source"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_slow_bodies_than_request_permits_from_many_sources_hold_no_permit() {
    let node = TestNode::start();
    let s = node.shared();
    let served = serve(&s).await;
    // Each source within its limits; together more bodies than permits.
    let sources: Vec<Ipv4Addr> = (1..=10).map(|i| Ipv4Addr::new(127, 0, 1, i)).collect();
    let per_source = 30;
    let _flood = flood(served.addr, &sources, per_source);
    let over = |n: u64| n > HTTP_REQUESTS_MAX as u64;
    let deadline = Deadline::new("the probe to be served while the flood's bodies are read");
    loop {
        wait_gauge(served.addr, "ting_http_bodies_reading", over).await;
        probe_is_served(&s, served.addr).await;
        // Served *while* more bodies were being read than there are permits.
        if over(gauge(served.addr, "ting_http_bodies_reading").await) {
            break;
        }
        deadline.tick().await;
    }
    assert_eq!(gauge(served.addr, "ting_http_requests_handling").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_past_its_requests_is_refused_source_busy_until_they_are_answered() {
    let node = TestNode::start();
    let s = node.shared();
    let served = serve(&s).await;
    let busy = Ipv4Addr::new(127, 0, 0, 3);
    let other = Ipv4Addr::new(127, 0, 0, 4);
    let mut flood = flood(served.addr, &[busy], HTTP_REQUESTS_PER_SOURCE_MAX);
    let full = |n: u64| n == HTTP_REQUESTS_PER_SOURCE_MAX as u64;
    wait_gauge(served.addr, "ting_http_bodies_reading", full).await;
    let refused = refused_source_busy(busy, served.addr).await;
    assert_eq!(refused.header("retry-after"), Some("1"));
    let fine = request(other, served.addr, "GET", "/v1/status", None).await;
    assert_eq!(fine.status, 200, "another source is served: {}", fine.body);
    let health = request(busy, served.addr, "GET", "/healthz", None).await;
    assert_eq!(
        health.status, 200,
        "health is not counted against the source"
    );

    // The stalled clients hang up: their places come back, and the table forgets the source.
    flood.shutdown().await;
    let deadline = Deadline::new("the source to be served again");
    while request(busy, served.addr, "GET", "/v1/status", None)
        .await
        .status
        != 200
    {
        deadline.tick().await;
    }
    // Only the scrape's own source and connection are left.
    wait_gauge(served.addr, "ting_http_sources", |n| n == 1).await;
    wait_gauge(served.addr, "ting_http_connections", |n| n == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_past_its_connections_has_new_ones_closed_while_others_connect() {
    let node = TestNode::start();
    let s = node.shared();
    let served = serve(&s).await;
    let crowded = Ipv4Addr::new(127, 0, 0, 5);
    // Each connection is answered once, and so counted, and kept open.
    let mut open = Vec::new();
    for _ in 0..HTTP_CONNECTIONS_PER_SOURCE_MAX {
        let mut stream = connect(crowded, served.addr).await;
        let asked = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: ting\r\n\r\n");
        asked.await.expect("send");
        let answer = read_answer(&mut stream).await.expect("answered");
        assert_eq!(answer.status, 200, "{}", answer.body);
        open.push(stream);
    }
    let mut extra = connect(crowded, served.addr).await;
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(DEADLINE, extra.read(&mut byte))
        .await
        .expect("the node closes the connection");
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "closed, not answered: {closed:?}"
    );
    let fine = request(
        Ipv4Addr::new(127, 0, 0, 6),
        served.addr,
        "GET",
        "/v1/status",
        None,
    )
    .await;
    assert_eq!(fine.status, 200, "{}", fine.body);
    drop(open);
    wait_gauge(served.addr, "ting_http_connections", |n| n == 1).await;
    let back = request(crowded, served.addr, "GET", "/v1/status", None).await;
    assert_eq!(back.status, 200, "{}", back.body);
}

#[tokio::test]
async fn supply_from_running_sums_is_conserved_after_transfers_mints_and_channels() {
    let node = TestNode::start();
    let s = node.shared();
    let (u0, u1, u2) = (user(0), user(1), user(2));
    commit(&s, &transfer(&u0, 0, u1.account(), 700)).await;
    commit(&s, &transfer(&u1, 0, user(9).account(), 300)).await;
    let mint = TxKind::Mint {
        to: user(8).account(),
        amount: Amount::new(5_000),
    };
    commit(&s, &signed(&issuer(), 0, mint)).await;
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let open = TxKind::ChannelOpen {
        payee: u0.account(),
        deposit: Amount::new(1_234),
        expires_at: Timestamp(u64::try_from(expires).expect("fits") + 3_600_000),
        mode: ChannelMode::Voucher,
    };
    commit(&s, &signed(&u2, 0, open)).await;
    let minted = u64::from(USERS) * FUNDS + 5_000;
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![
            ("/minted", json!(minted)),
            ("/balances", json!(minted - 1_234)),
            ("/locked", json!(1_234)),
            ("/conserved", json!(true)),
        ]),
    )
    .await;
}

/// The door over real sockets: the refusal budget follows the client's own
/// address. A flood of transactions from keys that never received money spends
/// the budget of 127.0.0.3, whose next valid transaction is refused unchecked
/// (`429 refusal_budget`), while the same kind of request from 127.0.0.4 commits.
#[tokio::test]
async fn a_refusal_flood_spends_only_its_own_addresss_budget() {
    let node = TestNode::start();
    let s = node.shared();
    let served = serve(&s).await;
    let attacker = Ipv4Addr::new(127, 0, 0, 3);
    let honest = Ipv4Addr::new(127, 0, 0, 4);
    let strangers: Vec<Value> = (0..2 * ting_core::limits::REFUSALS_PER_SOURCE_BURST)
        .map(|i| {
            let key = ting_core::Keypair::from_seed([0xb3; 32]);
            let tx = ting_core::SignedTx::from_parts(
                ting_core::TxBody {
                    genesis: genesis_hash(),
                    sender: key.account(),
                    nonce: ting_core::Nonce(i),
                    valid_until: Timestamp(u64::MAX),
                    kind: transfer_kind(user(0).account(), 1),
                },
                ting_core::Signature([2; 64]),
            );
            json_body(&tx)
        })
        .collect();
    let flood = json!({ "txs": strangers });
    // Repeated until seen, so that no speed of this machine lets the budget
    // refill between the flood and the next request.
    let deadline = Deadline::new("the flooding address to be refused unchecked");
    for nonce in 0.. {
        let answer = request(
            attacker,
            served.addr,
            "POST",
            "/v1/transactions/batch",
            Some(&flood),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let good = json_body(&transfer(&user(0), nonce, user(1).account(), 1));
        let path = "/v1/transactions?wait=false";
        let answer = request(attacker, served.addr, "POST", path, Some(&good)).await;
        if answer.status == 429 {
            assert_eq!(
                answer.code().as_deref(),
                Some("refusal_budget"),
                "{}",
                answer.body
            );
            break;
        }
        assert_eq!(answer.status, 202, "{}", answer.body);
        deadline.tick().await;
    }
    let good = json_body(&transfer(&user(2), 0, user(1).account(), 1));
    let answer = request(honest, served.addr, "POST", "/v1/transactions", Some(&good)).await;
    assert_eq!(
        answer.status, 200,
        "another address is served: {}",
        answer.body
    );
    assert_eq!(answer.json()["status"], "committed", "{}", answer.body);
}
