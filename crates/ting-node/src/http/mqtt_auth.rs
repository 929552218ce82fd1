//! The HTTP auth hook for external brokers that call one (EMQX, VerneMQ and
//! others; docs/operations.md): the node answers whether a CONNECT logs in
//! and whether a client may subscribe or publish, by the same rules as its
//! embedded broker (`ting_core::login`, `ting_core::acl`).
//!
//! Off unless the node runs with `--mqtt-auth-hook`. Answers are
//! `{"result": "allow"}` or `{"result": "deny", "code": ...}` with status 200,
//! the shape EMQX reads; a body that does not parse is a 400 like any other.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::acl::{self, Access, Role};
use ting_core::login;

use super::body::{parse_json, RawBody};
use super::error::ApiError;
use crate::node::Shared;

/// What the broker sends for a CONNECT.
#[derive(Debug, Deserialize)]
pub struct AuthRequest {
    username: String,
    password: String,
    clientid: String,
}

/// What the broker sends for a SUBSCRIBE filter or a PUBLISH.
#[derive(Debug, Deserialize)]
pub struct AclRequest {
    username: String,
    topic: String,
    /// `subscribe` or `publish`.
    action: String,
    /// Whether a publish is retained (`true`/`false`, or EMQX's `"true"`/`"false"`).
    #[serde(default)]
    retain: Option<Value>,
}

fn verdict(result: Result<(), &'static str>) -> Json<Value> {
    Json(match result {
        Ok(()) => json!({ "result": "allow", "is_superuser": false }),
        Err(code) => json!({ "result": "deny", "code": code }),
    })
}

fn hook_off() -> ApiError {
    ApiError::not_found(
        "mqtt_auth_hook_off",
        "this node does not answer broker auth calls; start it with --mqtt-auth-hook",
    )
}

/// `POST /v1/mqtt/auth`: does this CONNECT log in?
pub async fn auth(State(s): State<Arc<Shared>>, body: RawBody) -> Result<Json<Value>, ApiError> {
    let Some(logins) = &s.mqtt_logins else {
        return Err(hook_off());
    };
    let req: AuthRequest = parse_json(&body.bytes)?;
    let checked = {
        let mut replay = logins.lock().unwrap_or_else(|e| e.into_inner());
        login::verify(
            &s.genesis_hash,
            &req.username,
            &req.clientid,
            req.password.as_bytes(),
            s.time.now(),
            &mut replay,
        )
    };
    if let Err(e) = &checked {
        tracing::info!(code = e.code(), "MQTT auth hook: login refused: {e}");
    }
    Ok(verdict(checked.map(|_| ()).map_err(|e| e.code())))
}

/// `POST /v1/mqtt/acl`: may this client subscribe to or publish on this topic?
pub async fn acl_check(
    State(s): State<Arc<Shared>>,
    body: RawBody,
) -> Result<Json<Value>, ApiError> {
    if s.mqtt_logins.is_none() {
        return Err(hook_off());
    }
    let req: AclRequest = parse_json(&body.bytes)?;
    let access = match (req.action.as_str(), retained(req.retain.as_ref())) {
        ("subscribe", _) => Access::Subscribe,
        ("publish", false) => Access::Publish,
        ("publish", true) => Access::PublishRetained,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "action must be \"subscribe\" or \"publish\"",
            ))
        }
    };
    let Ok(account) = login::parse_username(&req.username) else {
        return Ok(verdict(Err("login_bad_username")));
    };
    let role = if s.genesis.sequencers.contains(&account) {
        Role::Node
    } else {
        Role::Device
    };
    Ok(verdict(
        acl::check(role, &account, access, &req.topic).map_err(|d| d.code()),
    ))
}

fn retained(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}
