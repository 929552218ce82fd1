//! Per-source limits at the HTTP edge: open connections and requests in flight.
//!
//! A source is where a connection comes from: an IPv4 address, or an IPv6 /64
//! (what one host is usually given, so a host cannot dodge its limit by
//! rotating through its own prefix). One bounded table (`HTTP_SOURCES_MAX`)
//! keeps each source's counts; an entry exists only while its source has a
//! connection open or a request in flight, and goes as soon as both counts are
//! zero. Counts are held by RAII [`Slot`]s, so every way out (an answer, a
//! client hanging up, a panic) gives them back.
//!
//! [`SourceListener`] counts connections (`HTTP_CONNECTIONS_PER_SOURCE_MAX`):
//! past the limit it closes a new connection before HTTP sees it. The
//! router's edge middleware counts requests (`HTTP_REQUESTS_PER_SOURCE_MAX`).
//! It learns the source from the [`Peer`] the server attaches to each
//! request; a request without one (the router driven in-process, as tests do
//! with `oneshot`) counts toward one shared "unknown" source.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::http::Extensions;
use axum::serve::{IncomingStream, Listener};
use ting_core::limits::{
    HTTP_BODIES_READING_MAX, HTTP_CONNECTIONS_PER_SOURCE_MAX, HTTP_REQUESTS_PER_SOURCE_MAX,
    HTTP_SOURCES_MAX,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;

/// The address a request's connection came from, or `None` when the request
/// did not come over a socket (the router driven in-process). IPv4 clients of
/// a dual-stack listener are given as IPv4, not as `::ffff:a.b.c.d`.
pub(crate) fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    let addr = match extensions.get::<ConnectInfo<Peer>>() {
        Some(ConnectInfo(Peer(addr))) => *addr,
        // What a test or an embedding server may attach instead.
        None => extensions.get::<ConnectInfo<SocketAddr>>()?.0,
    };
    Some(addr.ip().to_canonical())
}

/// The connection's remote address, attached to every request by the server
/// (`into_make_service_with_connect_info::<Peer>`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub SocketAddr);

impl<L> Connected<IncomingStream<'_, SourceListener<L>>> for Peer
where
    L: Listener<Addr = SocketAddr>,
{
    fn connect_info(stream: IncomingStream<'_, SourceListener<L>>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// What a limit is counted over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Source {
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
    Unknown,
}

impl Source {
    fn of(ip: Option<IpAddr>) -> Source {
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V4(v4)) => Source::V4(v4),
            Some(IpAddr::V6(v6)) => {
                let [prefix, _] = halves(v6.octets());
                Source::V6(u64::from_be_bytes(prefix))
            }
            None => Source::Unknown,
        }
    }
}

/// An IPv6 address's two 64-bit halves.
fn halves(octets: [u8; 16]) -> [[u8; 8]; 2] {
    let (high, low) = octets.split_at(8);
    [
        high.try_into().expect("8 bytes"),
        low.try_into().expect("8 bytes"),
    ]
}

/// What a [`Slot`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Connection,
    Request,
}

/// How much one source may hold open at once. The defaults are the
/// `HTTP_*_PER_SOURCE_MAX` limits; an operator whose clients share an
/// address (a gateway, a NAT, the demo's city on one machine) raises them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerSource {
    /// Open connections.
    pub connections: usize,
    /// Requests in flight; at most `HTTP_REQUESTS_MAX` counts, since the
    /// node handles no more than that at once.
    pub requests: usize,
}

impl Default for PerSource {
    fn default() -> PerSource {
        PerSource {
            connections: HTTP_CONNECTIONS_PER_SOURCE_MAX,
            requests: HTTP_REQUESTS_PER_SOURCE_MAX,
        }
    }
}

impl PerSource {
    fn max(&self, kind: Kind) -> usize {
        match kind {
            Kind::Connection => self.connections,
            Kind::Request => self.requests,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    connections: usize,
    requests: usize,
}

impl Counts {
    fn of(&mut self, kind: Kind) -> &mut usize {
        match kind {
            Kind::Connection => &mut self.connections,
            Kind::Request => &mut self.requests,
        }
    }
}

/// Why a slot was not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The source has as many of `Kind` as one source may (the limit).
    SourceBusy(Kind, usize),
    /// The table holds `HTTP_SOURCES_MAX` sources already.
    TableFull,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::SourceBusy(Kind::Request, max) => write!(
                f,
                "this address has {max} requests in flight, as many as one source may \
                 (HTTP_REQUESTS_PER_SOURCE_MAX by default); retry when some have been answered"
            ),
            Refusal::SourceBusy(Kind::Connection, max) => write!(
                f,
                "this address has {max} connections open, as many as one source may \
                 (HTTP_CONNECTIONS_PER_SOURCE_MAX by default)"
            ),
            Refusal::TableFull => write!(
                f,
                "the node is serving {HTTP_SOURCES_MAX} client addresses, as many as it keeps \
                 count of (HTTP_SOURCES_MAX); retry shortly"
            ),
        }
    }
}

/// The edge's counts: per source, and the bodies being read from all of them.
#[derive(Debug)]
pub(crate) struct Sources {
    table: Mutex<HashMap<Source, Counts>>,
    /// One permit per request body being read (`HTTP_BODIES_READING_MAX`).
    pub(crate) bodies_reading: Arc<Semaphore>,
    limits: PerSource,
}

impl Default for Sources {
    fn default() -> Sources {
        Sources::new(PerSource::default())
    }
}

impl Sources {
    /// The edge's counts, each source held to `limits`.
    pub(crate) fn new(limits: PerSource) -> Sources {
        Sources {
            table: Mutex::new(HashMap::new()),
            bodies_reading: Arc::new(Semaphore::new(HTTP_BODIES_READING_MAX)),
            limits,
        }
    }

    /// Counts one more `kind` for the source of `ip`, unless it is at its limit.
    pub(crate) fn take(self: &Arc<Self>, ip: Option<IpAddr>, kind: Kind) -> Result<Slot, Refusal> {
        let source = Source::of(ip);
        let mut table = self.table.lock().expect("sources lock");
        if !table.contains_key(&source) && table.len() >= HTTP_SOURCES_MAX {
            return Err(Refusal::TableFull);
        }
        let count = table.entry(source).or_default().of(kind);
        let max = self.limits.max(kind);
        if *count >= max {
            return Err(Refusal::SourceBusy(kind, max));
        }
        *count = count.saturating_add(1);
        Ok(Slot {
            sources: Arc::clone(self),
            source,
            kind,
        })
    }

    fn give_back(&self, source: Source, kind: Kind) {
        let mut table = self.table.lock().expect("sources lock");
        let Some(counts) = table.get_mut(&source) else {
            debug_assert!(false, "a slot's source is in the table");
            return;
        };
        let count = counts.of(kind);
        *count = count.saturating_sub(1);
        if counts.connections == 0 && counts.requests == 0 {
            table.remove(&source);
        }
    }

    /// Sources with something open, open connections, and request bodies
    /// being read, for `/metrics`.
    pub(crate) fn gauges(&self) -> (usize, usize, usize) {
        let table = self.table.lock().expect("sources lock");
        let connections = table.values().map(|c| c.connections).sum();
        let reading =
            HTTP_BODIES_READING_MAX.saturating_sub(self.bodies_reading.available_permits());
        (table.len(), connections, reading)
    }
}

/// One connection or request counted for its source, until dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    sources: Arc<Sources>,
    source: Source,
    kind: Kind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.sources.give_back(self.source, self.kind);
    }
}

/// A listener that counts each connection for its source and closes those
/// over `HTTP_CONNECTIONS_PER_SOURCE_MAX` at once.
#[derive(Debug)]
pub(crate) struct SourceListener<L> {
    inner: L,
    sources: Arc<Sources>,
}

impl<L> SourceListener<L> {
    pub(crate) fn new(inner: L, sources: Arc<Sources>) -> SourceListener<L> {
        SourceListener { inner, sources }
    }
}

impl<L> Listener for SourceListener<L>
where
    L: Listener<Addr = SocketAddr>,
{
    type Io = Counted<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            match self.sources.take(Some(addr.ip()), Kind::Connection) {
                Ok(slot) => return (Counted { io, _slot: slot }, addr),
                // Dropping the stream closes it; HTTP never sees it.
                Err(refusal) => tracing::debug!(%addr, "connection closed: {refusal}"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection's stream, holding its source's count while it is open.
#[derive(Debug)]
pub(crate) struct Counted<Io> {
    io: Io,
    _slot: Slot,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Counted<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Counted<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn a_source_is_refused_past_its_limit_and_its_entry_goes_when_its_slots_do() {
        let sources = Arc::new(Sources::default());
        let held: Vec<Slot> = (0..HTTP_REQUESTS_PER_SOURCE_MAX)
            .map(|_| {
                sources
                    .take(ip("192.0.2.1"), Kind::Request)
                    .expect("under the limit")
            })
            .collect();
        assert_eq!(
            sources.take(ip("192.0.2.1"), Kind::Request).err(),
            Some(Refusal::SourceBusy(
                Kind::Request,
                HTTP_REQUESTS_PER_SOURCE_MAX
            ))
        );
        let other = sources.take(ip("192.0.2.2"), Kind::Request);
        assert!(other.is_ok(), "another source is not held back");
        let conn = sources.take(ip("192.0.2.1"), Kind::Connection);
        assert!(conn.is_ok(), "connections are counted apart from requests");
        drop((held, other));
        assert_eq!(
            sources.gauges().0,
            1,
            "only the source with a connection is kept"
        );
        drop(conn);
        assert_eq!(sources.gauges(), (0, 0, 0), "the table empties");
    }

    #[test]
    fn one_ipv6_64_is_one_source_and_a_mapped_ipv4_is_its_ipv4() {
        assert_eq!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            Source::of(ip("2001:db8:1:2::1")),
            Source::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            Source::of(ip("::ffff:192.0.2.7")),
            Source::of(ip("192.0.2.7"))
        );
        assert_eq!(Source::of(None), Source::Unknown);
    }
}
