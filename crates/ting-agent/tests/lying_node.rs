//! The SDK against a node that lies: an HTTP endpoint in front of a real
//! node rewrites its answers (a forged receipt, forged channel terms, a
//! swapped messaging key, a stale but genuinely signed state), and a
//! verifying client refuses each with a clear error and its code, where a
//! trusting one would have acted on it. A device counts no forged commit.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use tempfile::TempDir;
use ting_agent::client::HttpError;
use ting_agent::{Device, DeviceConfig, NodeClient, Verifier};
use ting_core::state_proof::StateAnswer;
use ting_core::{
    Amount, BlockHeader, ChannelId, ChannelMode, Hash32, Keypair, Nonce, SignedTx, Timestamp,
    TxBody, TxKind,
};
use ting_node::{Node, Shared};
use tower::ServiceExt;

use common::*;

/// How the endpoint rewrites an answer: given the request's path and query.
type Lie = Box<dyn Fn(&str, Value) -> Value + Send>;

/// The node behind an endpoint that tells the lie set in it, if any.
struct LyingNode {
    _dir: TempDir,
    node: Node,
    url: String,
    lie: Arc<Mutex<Option<Lie>>>,
}

impl LyingNode {
    async fn start() -> LyingNode {
        let dir = TempDir::new().expect("a temp dir");
        let node = node(dir.path(), &[]);
        let lie: Arc<Mutex<Option<Lie>>> = Arc::default();
        let url = serve_lying(Arc::clone(node.shared()), Arc::clone(&lie)).await;
        LyingNode {
            _dir: dir,
            node,
            url,
            lie,
        }
    }

    fn shared(&self) -> Arc<Shared> {
        Arc::clone(self.node.shared())
    }

    fn lie(&self, lie: impl Fn(&str, Value) -> Value + Send + 'static) {
        *self.lie.lock().expect("lock") = Some(Box::new(lie));
    }

    fn honest(&self) {
        *self.lie.lock().expect("lock") = None;
    }

    /// A client that checks everything against the network's genesis.
    fn client(&self) -> NodeClient {
        let verifier = Verifier::new(self.shared().genesis_hash, vec![sequencer().account()]);
        NodeClient::new(&self.url)
            .expect("a URL")
            .verifying(Arc::new(verifier))
    }

    fn tx(&self, key: &Keypair, nonce: u64, kind: TxKind) -> SignedTx {
        TxBody {
            genesis: self.shared().genesis_hash,
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(u64::MAX),
            kind,
        }
        .sign(key)
    }
}

async fn serve_lying(shared: Arc<Shared>, lie: Arc<Mutex<Option<Lie>>>) -> String {
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let (shared, lie) = (Arc::clone(&shared), Arc::clone(&lie));
        async move {
            let path = req.uri().path_and_query().map(ToString::to_string);
            let answer = ting_node::http::router(shared)
                .oneshot(req)
                .await
                .expect("the router answers");
            let status = answer.status();
            let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .expect("a body");
            let mut value: Value = serde_json::from_slice(&bytes).expect("JSON");
            if let Some(lie) = &*lie.lock().expect("lock") {
                value = lie(&path.unwrap_or_default(), value);
            }
            (status, axum::Json(value))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Rewrites the canonical bytes of a state proof in an answer.
fn rewrite_proof(mut v: Value, edit: impl Fn(&mut StateAnswer)) -> Value {
    let text = v["proof"]["hex"].as_str().expect("a proof").to_owned();
    let mut answer = StateAnswer::from_bytes(&hex::decode(text).expect("hex")).expect("decodes");
    edit(&mut answer);
    v["proof"]["hex"] = Value::String(hex::encode(answer.to_bytes()));
    v
}

fn unproven_code(result: Result<impl std::fmt::Debug, HttpError>) -> String {
    match result {
        Err(HttpError::Unproven(e)) => {
            assert!(
                e.to_string().contains("does not prove itself"),
                "a clear message: {e}"
            );
            e.code.to_owned()
        }
        other => panic!("expected an unproven answer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_receipt_is_no_commit() {
    let n = LyingNode::start().await;
    let client = n.client();
    let key = device_key();
    n.lie(forge_receipt);
    let first = n.tx(&key, 0, transfer(5));
    assert_eq!(
        unproven_code(client.submit(&first).await),
        "unknown_sequencer"
    );
    // An answer that says "committed" and carries no receipt at all.
    n.lie(|path, mut v| {
        if path.starts_with("/v1/transactions") {
            v.as_object_mut().expect("an object").remove("receipt");
        }
        v
    });
    let second = n.tx(&key, 1, transfer(6));
    assert_eq!(unproven_code(client.submit(&second).await), "no_proof");
    n.honest();
    let third = n.tx(&key, 2, transfer(7));
    let committed = client
        .submit(&third)
        .await
        .expect("an honest commit checks");
    assert!(committed.height.0 >= 3);
}

/// Re-signs every receipt's header with the endpoint's own key: a header no
/// sequencer signed, over the real transaction and Merkle path.
fn forge_receipt(path: &str, mut v: Value) -> Value {
    if !path.starts_with("/v1/transactions") {
        return v;
    }
    let Some(text) = v["receipt"]["header"]["hex"].as_str() else {
        return v;
    };
    let mut header = BlockHeader::from_bytes(&hex::decode(text).expect("hex")).expect("a header");
    header.sign(&Keypair::from_seed([99; 32]));
    v["receipt"]["header"]["hex"] = Value::String(hex::encode(header.to_bytes()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_counts_no_forged_commit_and_takes_the_proved_one() {
    let n = LyingNode::start().await;
    n.lie(forge_receipt);
    let state = TempDir::new().expect("a temp dir");
    let config = DeviceConfig::discover(device_key(), state.path().to_path_buf(), &n.url)
        .await
        .expect("the node's status");
    assert!(config.broker.is_none(), "over HTTP");
    assert_eq!(config.sequencers, vec![sequencer().account()]);
    let device = Device::start(config).expect("the device starts");
    let ticket = device.queue(transfer(5)).await.expect("queued");
    wait_until("the forged receipt is refused", || {
        device.stats().unproven >= 1
    })
    .await;
    n.honest();
    let confirmed = ticket.wait().await.expect("the real commit, proved");
    assert!(confirmed.height.0 >= 1);
    device.shutdown().await;
}

fn transfer(amount: u64) -> TxKind {
    TxKind::Transfer {
        to: recipient(),
        amount: Amount::new(amount),
        memo: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_channel_terms_are_refused() {
    let n = LyingNode::start().await;
    let client = n.client();
    let key = device_key();
    let open = n.tx(
        &key,
        0,
        TxKind::ChannelOpen {
            payee: recipient(),
            deposit: Amount::new(500),
            expires_at: Timestamp(ting_agent::clock::now().0 + 3_600_000),
            mode: ChannelMode::Voucher,
        },
    );
    let id: ChannelId = open.opened_channel().expect("an open");
    client.submit(&open).await.expect("opens");
    let honest = client.channel(&id).await.expect("proved terms");
    assert_eq!(honest.terms.deposit, Amount::new(500));
    // The endpoint says the deposit is ten times what it is.
    n.lie(|path, v| {
        if path.starts_with("/v1/channels/") {
            return rewrite_proof(v, |a| {
                let record = a.record.as_mut().expect("a record");
                record[64..72].copy_from_slice(&5_000u64.to_le_bytes());
            });
        }
        v
    });
    assert_eq!(
        unproven_code(client.channel(&id).await),
        "proof_record_mismatch"
    );
    // Or that the channel was never opened, with a proof of another key's bucket.
    let never = ChannelId(Hash32([0xee; 32]));
    n.honest();
    let absent = client
        .get(&format!("/v1/channels/{}?proof=true", never.to_hex()))
        .await;
    let absent = absent.expect("an absence")["proof"].clone();
    n.lie(move |path, mut v| {
        if path.starts_with("/v1/channels/") {
            v["proof"] = absent.clone();
        }
        v
    });
    let code = unproven_code(client.channel(&id).await);
    assert!(
        ["proof_wrong_bucket", "proof_record_mismatch"].contains(&code.as_str()),
        "{code}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swapped_messaging_key_is_refused() {
    let n = LyingNode::start().await;
    let client = n.client();
    let key = device_key();
    let real = ting_core::seal::MessagingSecret::from_keypair(&key).public();
    let set = n.tx(&key, 0, TxKind::SetMessagingKey { key: real });
    client.submit(&set).await.expect("publishes its key");
    assert_eq!(
        client.messaging_key(&key.account()).await.expect("proved"),
        Some(real)
    );
    let attacker =
        ting_core::seal::MessagingSecret::from_keypair(&Keypair::from_seed([98; 32])).public();
    n.lie(move |path, v| {
        if path.starts_with("/v1/accounts/") {
            return rewrite_proof(v, |a| {
                let record = a.record.as_mut().expect("a record");
                let at = record.len() - 32;
                record[at..].copy_from_slice(&attacker.0);
            });
        }
        v
    });
    assert_eq!(
        unproven_code(client.messaging_key(&key.account()).await),
        "proof_record_mismatch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_state_is_refused_once_a_later_one_was_seen() {
    let n = LyingNode::start().await;
    let client = n.client();
    let key = device_key();
    client
        .submit(&n.tx(&key, 0, transfer(10)))
        .await
        .expect("commits");
    let old = client
        .get(&format!(
            "/v1/accounts/{}?proof=true",
            key.account().to_hex()
        ))
        .await
        .expect("an answer");
    assert_eq!(
        client.balance(&key.account()).await.expect("proved"),
        Amount::new(FUNDS - 10)
    );
    client
        .submit(&n.tx(&key, 1, transfer(20)))
        .await
        .expect("commits");
    assert_eq!(
        client.balance(&key.account()).await.expect("proved"),
        Amount::new(FUNDS - 30)
    );
    // The endpoint answers with the older state: signed, true then, hiding the payment.
    n.lie(move |path, v| {
        if path.starts_with("/v1/accounts/") {
            return old.clone();
        }
        v
    });
    assert_eq!(
        unproven_code(client.balance(&key.account()).await),
        "stale_state"
    );
    // A client that checks nothing would have believed it.
    let trusting = NodeClient::new(&n.url).expect("a URL");
    assert_eq!(
        trusting.balance(&key.account()).await.expect("believed"),
        Amount::new(FUNDS - 10)
    );
}

/// Two questions asked at once may be answered in either order: the one
/// answered from the lower height is no stale state for having arrived
/// second, since the client had seen neither height when it asked. Asked
/// after the higher one was seen, it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_to_questions_asked_at_once_are_believed_in_either_order() {
    let n = LyingNode::start().await;
    let client = n.client();
    let key = device_key();
    let proof = || async {
        let raw = client
            .get(&format!(
                "/v1/accounts/{}?proof=true",
                key.account().to_hex()
            ))
            .await
            .expect("an answer");
        ting_api::state::state_answer_from_json(&raw["proof"]).expect("a proof")
    };
    client
        .submit(&n.tx(&key, 0, transfer(10)))
        .await
        .expect("commits");
    let lower = proof().await;
    client
        .submit(&n.tx(&key, 1, transfer(20)))
        .await
        .expect("commits");
    let higher = proof().await;
    assert!(lower.header.height < higher.header.height);

    let verifier = Verifier::new(n.shared().genesis_hash, vec![sequencer().account()]);
    let asked = verifier.seen();
    let first = verifier
        .account(&key.account(), &higher, asked)
        .expect("the higher answer, first");
    let second = verifier
        .account(&key.account(), &lower, asked)
        .expect("the lower answer, second, to a question asked as early");
    assert_eq!(first.record.account.balance, Amount::new(FUNDS - 30));
    assert_eq!(second.record.account.balance, Amount::new(FUNDS - 10));
    assert_eq!(verifier.seen(), higher.header.height, "the highest is kept");
    let late = verifier
        .account(&key.account(), &lower, verifier.seen())
        .expect_err("asked after the higher one was seen");
    assert_eq!(late.code, "stale_state");
}
