//! Shared fixtures for the node's integration tests.
//!
//! A real [`Node`] in a temporary directory (genesis with an issuer that is
//! also the dev faucet, the node key as the only sequencer, a few funded
//! users), deterministic keys, transaction builders in every wire form, the
//! router driven without a socket, a comparable view of the ledger, and one
//! `check_*` helper per feature so that tests read as tables of cases.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tempfile::TempDir;
use ting_api::TxJson;
use ting_core::tx::device_consent_message;
use ting_core::{
    AccountId, Amount, Genesis, Hash32, Keypair, NetworkId, Nonce, SignedTx, Timestamp, TxBody,
    TxKind,
};
use ting_node::{Node, NodeConfig, Shared, StartReport};
use tower::ServiceExt;

pub const NET: NetworkId = NetworkId(4242);
/// The genesis timestamp: in the past, so blocks carry the wall clock.
pub const T0: u64 = 1_700_000_000_000;
/// What each funded user starts with.
pub const FUNDS: u64 = 1_000_000;
/// Users `0..USERS` are funded in the genesis.
pub const USERS: u8 = 4;
/// How long any wait on a condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn issuer() -> Keypair {
    Keypair::from_seed([1; 32])
}

pub fn sequencer() -> Keypair {
    Keypair::from_seed([2; 32])
}

/// A funded user for `i < USERS`, an empty account above.
pub fn user(i: u8) -> Keypair {
    Keypair::from_seed([10u8.wrapping_add(i); 32])
}

/// The identity point: a small-order key that can never hold money.
pub fn small_order() -> AccountId {
    let mut b = [0u8; 32];
    b[0] = 1;
    AccountId(b)
}

pub fn genesis() -> Genesis {
    Genesis {
        name: "ting-node-tests".into(),
        network: NET,
        timestamp: Timestamp(T0),
        issuers: vec![issuer().account()],
        sequencers: vec![sequencer().account()],
        allocations: (0..USERS)
            .map(|i| (user(i).account(), Amount::new(FUNDS)))
            .collect(),
        clock: ting_core::LedgerClock::Real,
    }
}

/// The configuration every test node starts from: faucet on, two verifiers.
pub fn config(dir: &Path) -> NodeConfig {
    let mut cfg = NodeConfig::new(dir.to_path_buf(), genesis(), sequencer());
    cfg.faucet = Some(issuer());
    cfg.verify_workers = 2;
    cfg
}

fn keep(_: &mut NodeConfig) {}

/// A running node in its own temporary data directory; shut down on drop.
pub struct TestNode {
    dir: TempDir,
    node: Option<Node>,
    edit: fn(&mut NodeConfig),
}

impl std::fmt::Debug for TestNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNode")
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl TestNode {
    pub fn start() -> TestNode {
        TestNode::start_with(keep)
    }

    /// Starts with [`config`] changed by `edit` (kept for restarts).
    pub fn start_with(edit: fn(&mut NodeConfig)) -> TestNode {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut cfg = config(dir.path());
        edit(&mut cfg);
        let node = Node::start(cfg).expect("the node starts");
        TestNode {
            dir,
            node: Some(node),
            edit,
        }
    }

    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(self.node.as_ref().expect("the node is running").shared())
    }

    pub fn report(&self) -> &StartReport {
        self.node.as_ref().expect("the node is running").report()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration this node was started with, for starting another on the same dir.
    pub fn config(&self) -> NodeConfig {
        let mut cfg = config(self.dir.path());
        (self.edit)(&mut cfg);
        cfg
    }

    /// Drains and stops the node; every `Arc<Shared>` must be dropped before a restart.
    pub fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.shutdown();
        }
    }

    /// Stops, then starts again from the same directory.
    pub fn restart(&mut self) -> &StartReport {
        self.stop();
        self.node = Some(Node::start(self.config()).expect("the node restarts"));
        self.report()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---- Transactions ----

/// The hash of the test genesis: what test transactions are signed for.
pub fn genesis_hash() -> Hash32 {
    genesis().hash()
}

/// Another network's genesis hash (same network id, another name).
pub fn elsewhere() -> Hash32 {
    let mut g = genesis();
    g.name = "elsewhere".into();
    g.hash()
}

pub fn signed(key: &Keypair, nonce: u64, kind: TxKind) -> SignedTx {
    signed_on(genesis_hash(), key, nonce, kind)
}

/// Valid until far in the future.
pub fn signed_on(genesis: Hash32, key: &Keypair, nonce: u64, kind: TxKind) -> SignedTx {
    signed_until(genesis, Timestamp(u64::MAX), key, nonce, kind)
}

pub fn signed_until(
    genesis: Hash32,
    valid_until: Timestamp,
    key: &Keypair,
    nonce: u64,
    kind: TxKind,
) -> SignedTx {
    TxBody {
        genesis,
        sender: key.account(),
        nonce: Nonce(nonce),
        valid_until,
        kind,
    }
    .sign(key)
}

pub fn transfer_kind(to: AccountId, amount: u64) -> TxKind {
    TxKind::Transfer {
        to,
        amount: Amount::new(amount),
        memo: Vec::new(),
    }
}

pub fn transfer(from: &Keypair, nonce: u64, to: AccountId, amount: u64) -> SignedTx {
    signed(from, nonce, transfer_kind(to, amount))
}

/// `owner` registers `device`, which co-signs its consent.
pub fn register(owner: &Keypair, nonce: u64, device: &Keypair) -> SignedTx {
    let metadata = b"purifier".to_vec();
    let consent = device_consent_message(
        &genesis_hash(),
        &owner.account(),
        &device.account(),
        &metadata,
    );
    let kind = TxKind::RegisterDevice {
        device: device.account(),
        device_signature: device.sign(&consent),
        metadata,
    };
    signed(owner, nonce, kind)
}

/// Submits `txs` in-process and waits for every outcome, blocking the thread.
pub fn submit_and_wait(shared: &Shared, txs: Vec<SignedTx>) -> Vec<ting_node::pipeline::Outcome> {
    let receivers = shared.submit(txs).expect("admitted");
    receivers
        .into_iter()
        .map(|rx| rx.blocking_recv().expect("an outcome"))
        .collect()
}

/// The sender's next nonce, as the node's state has it.
pub fn next_nonce(shared: &Shared, key: &Keypair) -> u64 {
    shared
        .state
        .read()
        .expect("state lock")
        .next_nonce(&key.account())
        .0
}

/// The JSON form of a transaction (ids as did:key), as a value to tamper with.
pub fn tx_json(tx: &SignedTx) -> Value {
    serde_json::to_value(TxJson::from_tx(tx)).expect("a transaction serializes")
}

/// The submission body `{"json": ...}`.
pub fn json_body(tx: &SignedTx) -> Value {
    json!({ "json": tx_json(tx) })
}

pub fn hex_body(tx: &SignedTx) -> Value {
    json!({ "hex": hex::encode(tx.bytes()) })
}

pub fn base64_body(tx: &SignedTx) -> Value {
    json!({ "base64": base64::engine::general_purpose::STANDARD.encode(tx.bytes()) })
}

/// The same transaction with one bit of its signature flipped.
pub fn tampered(tx: &SignedTx) -> SignedTx {
    let mut bytes = tx.bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last - 40] ^= 1;
    SignedTx::decode(&bytes).expect("still well formed")
}

// ---- HTTP without a socket ----

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

pub fn post_json(path: &str, body: &Value) -> Request<Body> {
    post_raw(path, "application/json", body.to_string().into_bytes())
}

pub fn post_raw(path: &str, content_type: &str, bytes: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(Body::from(bytes))
        .expect("request")
}

/// Sends `req` through the router; answers the status, the headers and the body as text.
pub async fn call_full(
    shared: &Arc<Shared>,
    req: Request<Body>,
) -> (StatusCode, HeaderMap, String) {
    let response = ting_node::http::router(Arc::clone(shared))
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    let text = String::from_utf8(bytes.to_vec()).expect("the body is UTF-8");
    (parts.status, parts.headers, text)
}

/// Sends `req` through the router; answers the status and the body as text.
pub async fn call_text(shared: &Arc<Shared>, req: Request<Body>) -> (StatusCode, String) {
    let (status, _, text) = call_full(shared, req).await;
    (status, text)
}

/// Sends `req` through the router; every answer, error or not, must be JSON.
pub async fn call(shared: &Arc<Shared>, req: Request<Body>) -> (StatusCode, Value) {
    let (status, text) = call_text(shared, req).await;
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("a {status} answer is not JSON ({e}): {text:?}"));
    (status, body)
}

/// Submits `tx` as JSON and waits for its commit; answers the committed body.
pub async fn commit(shared: &Arc<Shared>, tx: &SignedTx) -> Value {
    let (status, body) = call(shared, post_json("/v1/transactions", &json_body(tx))).await;
    assert_eq!(status, StatusCode::OK, "the transaction commits: {body}");
    assert_eq!(body["status"], "committed", "{body}");
    assert_eq!(body["tx_hash"], tx.hash().to_hex(), "{body}");
    body
}

// ---- Waiting on conditions ----

/// A bound on how long a test polls for a condition.
#[derive(Debug)]
pub struct Deadline {
    until: Instant,
    what: String,
}

impl Deadline {
    pub fn new(what: impl Into<String>) -> Deadline {
        Deadline {
            until: Instant::now() + DEADLINE,
            what: what.into(),
        }
    }

    pub fn remaining(&self) -> Duration {
        let left = self.until.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {}", self.what);
        left
    }

    /// Yields briefly before the next look; fails the test past the deadline.
    pub async fn tick(&self) {
        self.remaining();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    pub fn tick_blocking(&self) {
        self.remaining();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until the query index has reached the durable height.
pub async fn index_caught_up(shared: &Shared) {
    let deadline = Deadline::new("the index to reach the durable height");
    loop {
        let indexed = shared.index.indexed_height().expect("index height");
        if indexed >= shared.durable.height() {
            return;
        }
        deadline.tick().await;
    }
}

// ---- The ledger, as a value to compare ----

/// Balances and nonces of the named accounts, the account count and the supply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerView {
    pub accounts: Vec<(String, u64, u64)>,
    pub account_count: usize,
    pub supply: u64,
    pub balance_sum: Option<u64>,
}

pub fn ledger(shared: &Shared, ids: &[AccountId]) -> LedgerView {
    let st = shared.state.read().expect("state lock");
    LedgerView {
        accounts: ids
            .iter()
            .map(|id| {
                let a = st.account(id).copied().unwrap_or_default();
                (id.to_did(), a.balance.base_units(), a.nonce.0)
            })
            .collect(),
        account_count: st.account_count(),
        supply: st.supply().base_units(),
        balance_sum: st.balance_sum().map(Amount::base_units),
    }
}

pub fn balance(shared: &Shared, id: &AccountId) -> u64 {
    let st = shared.state.read().expect("state lock");
    st.account(id).map_or(0, |a| a.balance.base_units())
}

// ---- One check per feature ----

/// A JSON answer: its status and the values at some JSON pointers.
#[derive(Debug)]
pub struct Expect {
    pub status: StatusCode,
    pub fields: Vec<(&'static str, Value)>,
}

/// An OK answer with these `(pointer, value)` fields.
pub fn ok(fields: Vec<(&'static str, Value)>) -> Expect {
    Expect {
        status: StatusCode::OK,
        fields,
    }
}

pub fn did(key: &Keypair) -> String {
    key.account().to_did()
}

/// Sends `req` and checks the status and each `(pointer, value)`; answers the body.
pub async fn check(shared: &Arc<Shared>, what: &str, req: Request<Body>, want: Expect) -> Value {
    let (status, body) = call(shared, req).await;
    assert_eq!(status, want.status, "{what}: status; body {body}");
    for (pointer, value) in &want.fields {
        assert_eq!(
            body.pointer(pointer),
            Some(value),
            "{what}: {pointer} in {body}"
        );
    }
    body
}

/// Checks an error answer: status and `error.code`; answers the body.
pub async fn check_error(
    shared: &Arc<Shared>,
    what: &str,
    req: Request<Body>,
    status: StatusCode,
    code: &str,
) -> Value {
    let (got, body) = call(shared, req).await;
    assert_eq!(got, status, "{what}: status; body {body}");
    assert_eq!(body["error"]["code"], code, "{what}: code; body {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: a message; body {body}"
    );
    body
}

/// A valid transfer between two funded users commits: the node still serves.
/// Answers the height of the block that holds it.
pub async fn check_still_serving(shared: &Arc<Shared>, what: &str) -> u64 {
    let (from, to) = (user(USERS - 1), user(0).account());
    let before = (balance(shared, &from.account()), balance(shared, &to));
    let tx = transfer(&from, next_nonce(shared, &from), to, 1);
    let (status, body) = call(shared, post_json("/v1/transactions", &json_body(&tx))).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "after {what}, a valid transfer commits: {body}"
    );
    let after = (balance(shared, &from.account()), balance(shared, &to));
    assert_eq!(
        after,
        (before.0 - 1, before.1 + 1),
        "after {what}, the transfer moved 1"
    );
    body["height"].as_u64().expect("a committed height")
}

/// A hostile request: refused with `status` and `code`, the ledger unchanged, the node serving.
pub async fn check_refused(
    shared: &Arc<Shared>,
    ids: &[AccountId],
    what: &str,
    req: Request<Body>,
    status: StatusCode,
    code: &str,
) -> Value {
    let before = ledger(shared, ids);
    let height_before = shared.state.read().expect("state lock").height().0;
    let body = check_error(shared, what, req, status, code).await;
    if status == StatusCode::UNPROCESSABLE_ENTITY {
        let hash = body["error"]["tx_hash"].as_str().unwrap_or_default();
        assert_eq!(
            hash.len(),
            64,
            "{what}: a refusal names the transaction; body {body}"
        );
    }
    assert_eq!(
        ledger(shared, ids),
        before,
        "{what}: the ledger is unchanged"
    );
    let height = check_still_serving(shared, what).await;
    assert_eq!(
        height,
        height_before + 1,
        "{what}: no block was cut for the refused input"
    );
    body
}
