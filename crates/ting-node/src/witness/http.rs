//! The witness's HTTP API: its status, its attestations by height, the
//! evidence it found, and `POST /v1/headers` for anyone to hand it a header
//! they were shown. Errors are JSON `{"error": {"code", "message"}}` as the
//! node's are. At most `REQUESTS_MAX` requests are served at once.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use ting_core::block::HEADER_BYTES;
use ting_core::witness::Attestation;
use ting_core::BlockHeader;

use super::check::compare;
use super::WitnessShared;

/// Largest body `POST /v1/headers` reads: one header in hex, in JSON.
const HEADER_BODY_BYTES_MAX: usize = 2 * HEADER_BYTES + 256;

type Answer = Result<Json<Value>, Response>;

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

/// Requests the witness's API serves at once; more are answered 503 `busy`
/// at once, so a flood of headers to compare costs a bounded share of it.
const REQUESTS_MAX: usize = 64;

/// Admits a request if one of the permits is free.
async fn admit(
    State(permits): State<Arc<tokio::sync::Semaphore>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("the witness is answering {REQUESTS_MAX} requests; try again shortly"),
        ),
    }
}

/// The witness's routes.
pub fn router(shared: Arc<WitnessShared>) -> Router {
    router_with(shared, REQUESTS_MAX)
}

/// [`router`] serving at most `requests_max` requests at once.
fn router_with(shared: Arc<WitnessShared>, requests_max: usize) -> Router {
    let permits = Arc::new(tokio::sync::Semaphore::new(requests_max));
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/attestations/{height}", get(attestation))
        .route("/v1/evidence", get(evidence))
        .route(
            "/v1/headers",
            post(header).layer(DefaultBodyLimit::max(HEADER_BODY_BYTES_MAX)),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint on a witness",
            )
        })
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(permits, admit))
}

/// Serves the witness's API on `listener` until `shutdown` completes.
///
/// # Errors
/// The server failed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<WitnessShared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn status(State(s): State<Arc<WitnessShared>>) -> Answer {
    let height = s.record.lock().expect("record lock").height();
    let f = s.findings.lock().expect("findings lock");
    Ok(Json(json!({
        "role": "witness",
        "witness": s.witness.to_did(),
        "genesis": s.genesis_hash.to_hex(),
        "following": s.follow,
        "attested_height": height,
        "sequencer_height": f.sequencer_height,
        "attesting": f.fault.is_none(),
        "fault": f.fault.as_ref().map(|(code, message)| json!({ "code": code, "message": message })),
        "evidence": f.evidence.len(),
        "unreachable": f.unreachable,
        "mqtt": s.publisher.as_ref().map(|p| json!({ "dropped_batches": p.dropped() })),
    })))
}

async fn attestation(
    State(s): State<Arc<WitnessShared>>,
    height: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> Answer {
    let Path(height) = height.map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            "height: must be a block height, a whole number",
        )
    })?;
    let (header, a) = attested(&s, height).map_err(|r| *r)?;
    Ok(Json(json!({
        "height": height,
        "epoch": header.epoch,
        "block_hash": header.hash().to_hex(),
        "witness": a.witness.to_did(),
        "hex": hex::encode(a.to_bytes()),
    })))
}

/// The header attested at `height` and its attestation; 404 `not_attested`
/// when there is none yet.
fn attested(s: &WitnessShared, height: u64) -> Result<(BlockHeader, Attestation), Box<Response>> {
    let found = s
        .record
        .lock()
        .expect("record lock")
        .get(height)
        .map_err(|e| {
            Box::new(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "record_failed",
                e.to_string(),
            ))
        })?;
    found.ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "not_attested",
            format!(
                "this witness has not attested a block at height {height} yet; ask again later"
            ),
        ))
    })
}

async fn evidence(State(s): State<Arc<WitnessShared>>) -> Answer {
    let f = s.findings.lock().expect("findings lock");
    let list: Vec<Value> = f
        .evidence
        .iter()
        .map(|(e, proven)| {
            json!({
                "kind": proven.fault.code(),
                "height": proven.height.0,
                "epoch": proven.epoch,
                "sequencer": proven.sequencer.to_did(),
                "hex": hex::encode(e.to_bytes()),
            })
        })
        .collect();
    Ok(Json(json!({ "evidence": list })))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderBody {
    hex: String,
}

/// Compares a header someone was shown with the one attested at its height.
async fn header(
    State(s): State<Arc<WitnessShared>>,
    body: Result<Json<HeaderBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let Json(body) =
        body.map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_body", e.body_text()))?;
    let bytes = hex::decode(body.hex.trim())
        .map_err(|e| error(StatusCode::BAD_REQUEST, "invalid_hex", format!("hex: {e}")))?;
    let seen = BlockHeader::from_bytes(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            e.code(),
            format!("hex: not a block header: {e}"),
        )
    })?;
    if seen.genesis != s.genesis_hash {
        return Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_network",
            "the header is of another network",
        ));
    }
    let height = seen.height.0;
    let (attested, _) = attested(&s, height).map_err(|r| *r)?;
    if attested.hash() == seen.hash() {
        return Ok(Json(json!({ "height": height, "consistent": true })));
    }
    let Some(evidence) = compare(&attested, &seen) else {
        return Ok(Json(json!({
            "height": height,
            "consistent": false,
            "evidence": null,
            "message": "another block at this height, but not signed by the same sequencer in the same epoch: not evidence",
        })));
    };
    let hex = hex::encode(evidence.to_bytes());
    s.add_evidence(evidence).map_err(|e| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "evidence_not_written",
            e.to_string(),
        )
    })?;
    s.findings
        .lock()
        .expect("findings lock")
        .fault
        .get_or_insert((
            "equivocation".to_owned(),
            format!(
            "the sequencer signed another block at height {height}, which this witness attested"
        ),
        ));
    Ok(Json(
        json!({ "height": height, "consistent": false, "evidence": hex }),
    ))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::witness::{Findings, Record};

    fn shared(dir: &std::path::Path) -> Arc<WitnessShared> {
        let key = ting_core::Keypair::from_seed([9; 32]);
        let network = ting_core::Genesis {
            name: "served".into(),
            network: ting_core::NetworkId(7),
            timestamp: ting_core::Timestamp(1_700_000_000_000),
            issuers: vec![key.account()],
            sequencers: vec![ting_core::Keypair::from_seed([1; 32]).account()],
            allocations: Vec::new(),
            clock: ting_core::LedgerClock::Real,
        };
        let genesis = network.hash();
        Arc::new(WitnessShared {
            witness: key.account(),
            genesis: network,
            genesis_hash: genesis,
            follow: "http://127.0.0.1:1".into(),
            data_dir: dir.to_path_buf(),
            record: std::sync::Mutex::new(
                Record::open(dir, &key.account(), &genesis).expect("a record"),
            ),
            findings: std::sync::Mutex::new(Findings::default()),
            publisher: None,
        })
    }

    async fn answer(router: Router, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("a request");
        let response = router.oneshot(request).await.expect("an answer");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (status, serde_json::from_slice(&bytes).expect("JSON"))
    }

    #[tokio::test]
    async fn bad_requests_are_refused_by_name_and_a_full_witness_says_it_is_busy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = shared(dir.path());
        let code = |v: &Value| v["error"]["code"].as_str().unwrap_or("").to_owned();
        let (status, v) = answer(router(Arc::clone(&s)), "GET", "/v1/attestations/x", "").await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_field".into())
        );
        let (status, v) = answer(router(Arc::clone(&s)), "GET", "/v1/attestations/1", "").await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::NOT_FOUND, "not_attested".into())
        );
        let (status, v) = answer(
            router(Arc::clone(&s)),
            "POST",
            "/v1/headers",
            r#"{"hex":"zz"}"#,
        )
        .await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_hex".into())
        );
        let (status, v) = answer(
            router(Arc::clone(&s)),
            "POST",
            "/v1/headers",
            r#"{"hex":"00"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        let (status, _) = answer(
            router(Arc::clone(&s)),
            "POST",
            "/v1/headers",
            r#"{"hex":"00","x":1}"#,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "unknown fields are refused"
        );
        let huge = format!(r#"{{"hex":"{}"}}"#, "0".repeat(HEADER_BODY_BYTES_MAX));
        let (status, v) = answer(router(Arc::clone(&s)), "POST", "/v1/headers", &huge).await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::BAD_REQUEST, "invalid_body".into())
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("limit"),
            "{v}"
        );
        let (status, v) = answer(router_with(Arc::clone(&s), 0), "GET", "/v1/status", "").await;
        assert_eq!(
            (status, code(&v)),
            (StatusCode::SERVICE_UNAVAILABLE, "busy".into())
        );
        let (status, v) = answer(router(s), "GET", "/v1/status", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["attested_height"], 0);
        assert_eq!(v["attesting"], true);
    }
}
