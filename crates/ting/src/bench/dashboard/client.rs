//! A bare HTTP/1.1 client for the dashboard bench: one connection, requests
//! one after another, answers read whole (HTML pages, which the agent's
//! JSON client does not read); and an event stream read frame by frame.

use std::net::SocketAddr;

use anyhow::{anyhow, Context};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One keep-alive connection to the node.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Empty<Bytes>>,
}

impl Conn {
    /// Connects to `addr`; the connection is driven on the current runtime.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to the node at {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the connection closes; an error then is the bench's to see on its next request.
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends `GET path` and answers with the response's head and body to read.
    pub async fn start(&mut self, path: &str, accept: &str) -> anyhow::Result<Response<Incoming>> {
        self.sender.ready().await?;
        let req = Request::get(path)
            .header(header::HOST, "127.0.0.1")
            .header(header::ACCEPT, accept)
            .body(Empty::new())?;
        self.sender
            .send_request(req)
            .await
            .with_context(|| format!("GET {path}"))
    }

    /// `GET path`, read whole: the status and the body.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let response = self.start(path, "*/*").await?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow!("reading the answer to GET {path}: {e}"))?
            .to_bytes();
        Ok((status, body))
    }
}

/// What an event stream carried, by event name.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    pub receipts: u64,
    pub blocks: u64,
    pub lagged: u64,
}

/// Splits an event stream's bytes into lines and counts the `event:` fields.
#[derive(Debug, Default)]
pub struct EventParser {
    partial: Vec<u8>,
}

impl EventParser {
    /// Feeds a frame of the stream; lines may be cut anywhere between frames.
    pub fn feed(&mut self, bytes: &[u8], counts: &mut EventCounts) {
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let (line, after) = rest.split_at(at);
            if self.partial.is_empty() {
                count_line(line, counts);
            } else {
                self.partial.extend_from_slice(line);
                count_line(&std::mem::take(&mut self.partial), counts);
            }
            rest = &after[1..];
        }
        self.partial.extend_from_slice(rest);
    }
}

fn count_line(line: &[u8], counts: &mut EventCounts) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(name) = line.strip_prefix(b"event:") else {
        return;
    };
    match name.strip_prefix(b" ").unwrap_or(name) {
        b"receipt" => counts.receipts += 1,
        b"block" => counts.blocks += 1,
        b"lagged" => counts.lagged += 1,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_however_the_stream_is_cut() {
        let stream = b"event: block\ndata: {}\n\nevent: receipt\ndata: {\"a\":1}\nid: 3\n\n:keep-alive\n\nevent:receipt\r\ndata: x\n\nevent: lagged\ndata: {}\n\n";
        let whole = {
            let mut counts = EventCounts::default();
            EventParser::default().feed(stream, &mut counts);
            counts
        };
        assert_eq!(
            whole,
            EventCounts {
                receipts: 2,
                blocks: 1,
                lagged: 1
            }
        );
        for cut in 1..stream.len() {
            let mut counts = EventCounts::default();
            let mut parser = EventParser::default();
            parser.feed(&stream[..cut], &mut counts);
            parser.feed(&stream[cut..], &mut counts);
            assert_eq!(counts, whole, "cut at {cut}");
        }
    }
}
