//! `GET /v1/overview` and `GET /v1/overview/events`: the dashboard's overview
//! (devices, transactions per second, blocks, volume, open channels, escrow).
//!
//! Neither computes anything: the feed (`feed/mod.rs`) works the figures out
//! once a second and publishes them, encoded once, on a watch channel. The
//! JSON endpoint answers the latest copy; each event stream sends it at once,
//! then again whenever the feed publishes a change (at most once a second),
//! with keep-alive comments between. A stream takes one of the node's
//! event-stream places, like `/v1/events`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::error::ApiError;
use super::events::{sse, stream_permit};
use crate::feed::Published;
use crate::node::Shared;

pub async fn overview(State(s): State<Arc<Shared>>) -> Response {
    let json = s.overview.borrow().json.clone();
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

fn overview_event(p: &Published) -> Event {
    let json = std::str::from_utf8(&p.json).expect("JSON is UTF-8");
    Event::default().event("overview").data(json)
}

/// One open overview stream's state.
struct Viewer {
    overview: watch::Receiver<Arc<Published>>,
    closing: watch::Receiver<bool>,
    /// Whether the overview at connection was sent.
    started: bool,
    /// Held for as long as the stream lives (`NodeConfig::event_streams_max`).
    _permit: OwnedSemaphorePermit,
}

impl Viewer {
    /// The next overview to send; `None` ends the stream (the node is
    /// stopping, or its feed has stopped).
    async fn next(&mut self) -> Option<Event> {
        if *self.closing.borrow() {
            return None;
        }
        if self.started {
            tokio::select! {
                changed = self.overview.changed() => changed.ok()?,
                _ = self.closing.wait_for(|c| *c) => return None,
            }
        }
        self.started = true;
        let latest = Arc::clone(&self.overview.borrow_and_update());
        Some(overview_event(&latest))
    }
}

fn viewer_stream(viewer: Viewer) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    stream::unfold(viewer, |mut v| async move {
        let event = v.next().await?;
        Some((Ok(event), v))
    })
}

pub async fn overview_events(State(s): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let permit = stream_permit(&s)?;
    let viewer = Viewer {
        overview: s.overview.clone(),
        closing: s.closing.subscribe(),
        started: false,
        _permit: permit,
    };
    Ok(sse(viewer_stream(viewer)))
}
