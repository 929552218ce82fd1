//! The node's HTTP auth hook for external brokers (EMQX and others): the same
//! logins and topic table as the embedded broker, answered over HTTP, and off
//! unless asked for.

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_core::login::{self, LoginToken};
use ting_core::topics::{inbox, BLOCKS_TOPIC, TX_SHARED_FILTER, TX_TOPIC};
use ting_core::{Keypair, Timestamp};

use common::*;

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    Timestamp(u64::try_from(ms).expect("fits"))
}

fn connect_body(key: &Keypair, genesis: &ting_core::Hash32, nonce: u8) -> Value {
    let id = login::client_id(&key.account(), None).expect("id");
    let token = LoginToken::issue(key, genesis, &id, now(), [nonce; 16]);
    json!({
        "username": login::username(&key.account()),
        "password": token.to_text(),
        "clientid": id,
    })
}

async fn ask(shared: &std::sync::Arc<ting_node::Shared>, path: &str, body: Value) -> Value {
    let (status, answer) = call(shared, post_json(path, &body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn acl(key: &Keypair, topic: &str, action: &str, retain: bool) -> Value {
    json!({
        "username": login::username(&key.account()),
        "clientid": login::client_id(&key.account(), None).expect("id"),
        "topic": topic,
        "action": action,
        "retain": retain.to_string(),
    })
}

#[tokio::test]
async fn a_broker_asks_and_the_node_answers_by_the_same_rules() {
    let node = TestNode::start_with(|c| c.mqtt_auth_hook = true);
    let shared = node.shared();
    let genesis = shared.genesis_hash;
    let (device, other) = (user(0), user(1));

    let body = connect_body(&device, &genesis, 1);
    let first = ask(&shared, "/v1/mqtt/auth", body.clone()).await;
    assert_eq!(first["result"], "allow");
    let again = ask(&shared, "/v1/mqtt/auth", body).await;
    assert_eq!(
        (again["result"].as_str(), again["code"].as_str()),
        (Some("deny"), Some("login_replayed"))
    );
    let mut forged = connect_body(&other, &genesis, 2);
    forged["username"] = json!(login::username(&device.account()));
    let forged = ask(&shared, "/v1/mqtt/auth", forged).await;
    assert_eq!(forged["result"], "deny");

    let cases = [
        (
            &device,
            inbox(&device.account()),
            "subscribe",
            false,
            "allow",
        ),
        (&device, inbox(&other.account()), "subscribe", false, "deny"),
        (
            &device,
            "ting/v1/inbox/#".to_string(),
            "subscribe",
            false,
            "deny",
        ),
        (
            &device,
            TX_SHARED_FILTER.to_string(),
            "subscribe",
            false,
            "deny",
        ),
        (&device, TX_TOPIC.to_string(), "publish", false, "allow"),
        (&device, BLOCKS_TOPIC.to_string(), "publish", true, "deny"),
        (&device, inbox(&other.account()), "publish", true, "deny"),
        (
            &sequencer(),
            TX_SHARED_FILTER.to_string(),
            "subscribe",
            false,
            "allow",
        ),
        (
            &sequencer(),
            BLOCKS_TOPIC.to_string(),
            "publish",
            true,
            "allow",
        ),
    ];
    for (key, topic, action, retain, want) in cases {
        let answer = ask(&shared, "/v1/mqtt/acl", acl(key, &topic, action, retain)).await;
        assert_eq!(
            answer["result"], want,
            "{action} {topic} retain={retain}: {answer}"
        );
    }
    let bad = json!({"username": "x", "topic": "t", "action": "delete"});
    let req = post_json("/v1/mqtt/acl", &bad);
    check_error(
        &shared,
        "unknown action",
        req,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;
}

#[tokio::test]
async fn the_hook_is_off_unless_asked_for() {
    let node = TestNode::start();
    let shared = node.shared();
    let body = connect_body(&user(0), &shared.genesis_hash, 3);
    let req = post_json("/v1/mqtt/auth", &body);
    check_error(
        &shared,
        "auth hook off",
        req,
        StatusCode::NOT_FOUND,
        "mqtt_auth_hook_off",
    )
    .await;
}
