//! The HTTP API: JSON over axum, one error type, no internals leaked.
//!
//! [`router`] builds the whole API over a node's shared parts, so tests can
//! drive it without a socket (`router(shared).oneshot(request)`); [`serve`]
//! binds it to an address and shuts down gracefully. docs/api.md describes
//! every endpoint; `GET /v1/openapi.json` serves the OpenAPI document.
//!
//! The edge holds under floods: connections and requests are counted per
//! source (`sources`), request bodies are read whole before a request takes
//! one of the node's `HTTP_REQUESTS_MAX` permits (`body::buffered`), and
//! `/healthz` and `/metrics` take no permit at all.

mod body;
pub(crate) mod calls;
pub(crate) mod channels;
mod error;
pub(crate) mod events;
pub(crate) mod market;
mod overview;
pub(crate) mod resources;
pub(crate) mod streams;
mod watch;

mod mqtt_auth;
mod ops;
mod proofs;
pub(crate) mod query;
mod raw;
pub mod sources;
mod submit;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ting_core::limits::HTTP_SHUTDOWN_GRACE;

pub use error::ApiError;
pub use ops::OPENAPI_JSON;

use crate::node::Shared;

/// Counts every answer in the metrics, health and metrics included.
async fn count(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    s.metrics.http_requests.fetch_add(1, Ordering::Relaxed);
    if response.status().is_client_error() {
        s.metrics.http_client_errors.fetch_add(1, Ordering::Relaxed);
        s.metrics.malformed.fetch_add(
            u64::from(response.status() == 400 || response.status() == 413),
            Ordering::Relaxed,
        );
    }
    response
}

/// The answer to a source over its limit (429, or 503 when the node counts as
/// many sources as it can), in the API's JSON form.
fn source_refused(refusal: sources::Refusal) -> Response {
    let message = refusal.to_string();
    if refusal == sources::Refusal::TableFull {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message).into_response();
    }
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "source_busy", message).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Admits a request to an endpoint that does work: a place among its source's
/// requests, then its body read whole (outside the permits, under its own
/// deadline), and only then one of the `HTTP_REQUESTS_MAX` permits. Every
/// place is given back when the answer is ready (a stream's body goes on
/// without them).
async fn admit(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let peer = sources::peer_ip(req.extensions());
    let _slot = match s.http_sources.take(peer, sources::Kind::Request) {
        Ok(slot) => slot,
        Err(refusal) => return source_refused(refusal),
    };
    let req = match body::buffered(&s, req).await {
        Ok(req) => req,
        Err(e) => return e.into_response(),
    };
    let Ok(_permit) = Arc::clone(&s.http_permits).try_acquire_owned() else {
        s.metrics.busy.fetch_add(1, Ordering::Relaxed);
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the node is handling as many requests as it allows; retry shortly",
        )
        .into_response();
    };
    next.run(req).await
}

async fn fallback() -> ApiError {
    ApiError::not_found("unknown_endpoint", "no such endpoint; see /v1/openapi.json")
}

/// Axum's own 405 has an empty body; the API answers every error in JSON.
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see the Allow header and /v1/openapi.json",
    )
}

/// The whole API. Health and metrics take no permit and no place of their
/// source, so they answer while the node or that source is saturated (each
/// is a quick read of counters; connections per source bound how many run);
/// every other endpoint goes through [`admit`].
pub fn router(shared: Arc<Shared>) -> Router {
    let open = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics));
    let admitted = Router::new()
        .route("/v1/openapi.json", get(ops::openapi))
        .route("/v1/status", get(query::status))
        .route("/v1/genesis", get(ops::genesis))
        .route("/v1/supply", get(query::supply))
        .route("/v1/transactions", post(submit::submit_one))
        .route("/v1/transactions/batch", post(submit::submit_batch))
        .route("/v1/transactions/{hash}", get(query::transaction))
        .route("/v1/receipts/{hash}", get(query::receipt))
        .route("/v1/accounts/{id}", get(query::account))
        .route("/v1/accounts/{id}/transactions", get(query::account_txs))
        .route(
            "/v1/accounts/{id}/channels",
            get(channels::account_channels),
        )
        .route("/v1/channels/{id}", get(channels::channel))
        .route("/v1/streams", get(streams::streams))
        .route("/v1/streams/{id}", get(streams::stream))
        .route("/v1/offers", get(market::offers))
        .route("/v1/offers/{id}", get(market::offer))
        .route("/v1/holds", get(market::holds))
        .route("/v1/holds/{id}", get(market::hold))
        .route("/v1/calls", get(calls::calls))
        .route("/v1/reputation/{provider}", get(market::reputations))
        .route(
            "/v1/reputation/{provider}/{category}",
            get(market::reputation),
        )
        .route("/v1/classes", get(resources::classes))
        .route("/v1/classes/{name}", get(resources::class))
        .route("/v1/books/{class}", get(resources::book))
        .route("/v1/orders", get(resources::orders))
        .route("/v1/orders/{id}", get(resources::order))
        .route("/v1/leases", get(resources::leases))
        .route("/v1/leases/{id}", get(resources::lease))
        .route("/v1/blocks", get(query::blocks))
        .route("/v1/blocks/{height}", get(query::block))
        .route("/v1/raw/blocks", get(raw::raw_blocks))
        .route("/v1/events", get(events::events))
        .route("/v1/overview", get(overview::overview))
        .route("/v1/overview/events", get(overview::overview_events))
        .route("/v1/faucet", post(ops::faucet))
        .route("/v1/mqtt/auth", post(mqtt_auth::auth))
        .route("/v1/mqtt/acl", post(mqtt_auth::acl_check))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&shared), admit));
    let pages = crate::web::routes()
        .route_layer(middleware::from_fn_with_state(Arc::clone(&shared), admit));
    open.merge(admitted)
        .merge(pages)
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), count))
        .with_state(shared)
}

/// Why the API could not listen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("{addr} is already in use; stop whatever listens there or choose another address with --http")]
    AddrInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Binds `addr`, saying clearly when the port is taken.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServeError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => ServeError::AddrInUse { addr },
            _ => ServeError::Bind { addr, source },
        })
}

/// Serves the API on `listener` until `shutdown` resolves, then lets open
/// requests finish for at most `HTTP_SHUTDOWN_GRACE` (a stalled client must not
/// keep the node from stopping). Transactions those requests submitted still go
/// through the pipeline, which the caller drains next. With `tls`, every
/// connection is HTTPS.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_on(listener, None, shared, shutdown).await
}

/// [`serve`], over TLS when `tls` is given.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    tls: Option<&crate::tls::ServerTls>,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stopped.await;
    };
    let mut server = match tls {
        None => tokio::spawn(serve_gracefully(listener, shared, stopped)),
        Some(tls) => {
            let listener =
                crate::tls::TlsListener::new(listener, tls).map_err(ServeError::Serve)?;
            tokio::spawn(serve_gracefully(listener, shared, stopped))
        }
    };
    tokio::select! {
        finished = &mut server => return finished.map_err(|e| ServeError::Serve(std::io::Error::other(e)))?,
        () = shutdown => {}
    }
    let _ = stop.send(());
    match tokio::time::timeout(HTTP_SHUTDOWN_GRACE, &mut server).await {
        Ok(finished) => finished.map_err(|e| ServeError::Serve(std::io::Error::other(e)))?,
        Err(_) => {
            tracing::warn!(
                "open HTTP requests did not finish within {} s; stopping anyway",
                HTTP_SHUTDOWN_GRACE.as_secs()
            );
            server.abort();
            Ok(())
        }
    }
}

/// Serves until `shutdown` resolves, then waits for every open request. Each
/// connection is counted for its source ([`sources::SourceListener`]) and
/// each request carries its peer's address ([`sources::Peer`]).
async fn serve_gracefully<L>(
    listener: L,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let listener = sources::SourceListener::new(listener, Arc::clone(&shared.http_sources));
    let closing = shared.closing.clone();
    let shutdown = async move {
        shutdown.await;
        // Event streams never end on their own; tell them to, or shutdown would wait forever.
        closing.send_replace(true);
    };
    let app = router(shared).into_make_service_with_connect_info::<sources::Peer>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Serve)
}
