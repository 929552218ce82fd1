//! Operations endpoints: health, metrics, the OpenAPI document, the dev faucet.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use ting_core::limits::HTTP_REQUESTS_MAX;
use ting_core::Amount;

use super::body::{parse_json, RawBody};
use super::error::ApiError;
use crate::metrics::{rss_bytes, Gauges};
use crate::node::Shared;
use crate::pipeline::Outcome;
use ting_api::parse_account;

/// The OpenAPI 3 description of this API, served as is.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Health per component (docs/api.md §8.1; built by [`crate::health::report`]):
/// 200 while every component is ok, 503 while one is degraded or the ledger
/// clock has jumped (then no block is cut until it agrees again).
pub async fn healthz(State(s): State<Arc<Shared>>) -> Response {
    let report = crate::health::report(&s);
    let code = if report.ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report.body)).into_response()
}

pub async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let (height, accounts) = {
        let st = s.state.read().expect("state lock");
        (st.height().0, st.account_count() as u64)
    };
    let gauges = Gauges {
        height,
        durable_height: s.durable.height().0,
        indexed_height: s.index.indexed_height().map_or(0, |h| h.0),
        accounts,
        verify_queue: s.ingress.load().verifying.load(Relaxed) as u64,
        sequencer_queue: s.ingress.load().sequencing.load(Relaxed) as u64,
        parked: s.ingress.load().parked.load(Relaxed) as u64,
        rss_bytes: rss_bytes(),
    };
    let mut body = s.metrics.render(&gauges);
    edge_gauges(&s, &mut body);
    door_metrics(&s, &mut body);
    lead_metrics(&s, &mut body);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Leadership among nodes sharing a database (`crate::lead`): whether this
/// node leads, the epoch it leads or follows, and forwards that failed.
fn lead_metrics(s: &Shared, out: &mut String) {
    use crate::lead::Role;
    use std::fmt::Write as _;
    let (leading, epoch) = match s.roles.get() {
        Role::Single => (1, 0),
        Role::Leading { epoch } => (1, epoch),
        Role::Following { leader } => (0, leader.map_or(0, |l| l.epoch)),
    };
    let failed = s.forward.as_ref().map_or(0, crate::lead::Forwarder::failed);
    let _ = writeln!(
        out,
        "# HELP ting_leader 1 while this node seals blocks (it leads, or runs alone), 0 while it follows.\n\
         # TYPE ting_leader gauge\nting_leader {leading}\n\
         # HELP ting_lease_epoch The epoch this node leads in or follows; 0 with no leader known or on a node alone.\n\
         # TYPE ting_lease_epoch gauge\nting_lease_epoch {epoch}\n\
         # HELP ting_forward_failed_total Submissions a follower could not get answered by the leader.\n\
         # TYPE ting_forward_failed_total counter\nting_forward_failed_total {failed}"
    );
}

/// The door's counters (`crate::admission`): what it answered from memory,
/// and how many transactions it holds as pending.
fn door_metrics(s: &Shared, out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "# HELP ting_admission_from_memory_total Resubmissions answered from memory (already pending, or refused for good) without a signature check.\n\
         # TYPE ting_admission_from_memory_total counter\nting_admission_from_memory_total {}\n\
         # HELP ting_admission_pending Transactions admitted and not yet applied or refused.\n\
         # TYPE ting_admission_pending gauge\nting_admission_pending {}",
        s.admission.answered_from_memory(),
        s.admission.pending()
    );
}

/// The HTTP edge's gauges, after the node's: how far each of its limits is taken.
fn edge_gauges(s: &Shared, out: &mut String) {
    use std::fmt::Write as _;
    let (sources, connections, reading) = s.http_sources.gauges();
    let handling = HTTP_REQUESTS_MAX.saturating_sub(s.http_permits.available_permits());
    let gauges = [
        (
            "ting_http_sources",
            "Client sources (IPv4 addresses, IPv6 /64s) with a connection or request open.",
            sources,
        ),
        (
            "ting_http_connections",
            "Open HTTP connections.",
            connections,
        ),
        (
            "ting_http_bodies_reading",
            "HTTP request bodies being read.",
            reading,
        ),
        (
            "ting_http_requests_handling",
            "HTTP requests holding one of the handler permits.",
            handling,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

/// `GET /v1/genesis`: the genesis in its exact encoding, with its hash and
/// the keys it names, so a client that knows only the hash can check the
/// sequencer keys for itself (docs/api.md §3.1).
pub async fn genesis(State(s): State<Arc<Shared>>) -> Response {
    let doc = s.genesis_doc.get_or_init(|| {
        let g = &s.genesis;
        let dids =
            |keys: &[ting_core::AccountId]| keys.iter().map(|k| k.to_did()).collect::<Vec<_>>();
        let doc = json!({
            "hash": s.genesis_hash.to_hex(),
            "network": g.network.0,
            "name": g.name,
            "sequencers": dids(&g.sequencers),
            "issuers": dids(&g.issuers),
            "hex": hex::encode(g.encode()),
        });
        axum::body::Bytes::from(doc.to_string())
    });
    ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaucetRequest {
    to: String,
    amount: u64,
}

pub async fn faucet(State(s): State<Arc<Shared>>, body: RawBody) -> Result<Response, ApiError> {
    let Some(faucet) = &s.faucet else {
        return Err(ApiError::not_found(
            "faucet_disabled",
            "this node has no faucet; only a node started with --dev mints on request",
        ));
    };
    let req: FaucetRequest = parse_json(&body.bytes)?;
    let to = parse_account("to", &req.to)?;
    match faucet.grant(&s, to, Amount::new(req.amount)).await {
        Ok(Outcome::Committed(c)) => Ok(Json(json!({
            "status": "committed",
            "tx_hash": c.tx_hash.to_hex(),
            "height": c.height.0,
            "to": to.to_did(),
            "amount": req.amount,
        }))
        .into_response()),
        Ok(Outcome::Refused(r)) => Err(ApiError::refused(r)),
        Err(e) => Err(ApiError::new(
            if e.code() == "faucet_limit" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            e.code(),
            e.to_string(),
        )),
    }
}
