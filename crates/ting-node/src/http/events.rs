//! `GET /v1/events`: a server-sent event stream of durable blocks and receipts.
//!
//! Each durable block yields one group of events: a `block` event, then one
//! `receipt` event per transaction (only those touching `?account=ID` when
//! given: sent by it, naming it, or acting on a channel it is a party to).
//! The group's *last* event carries the block height as its SSE `id`, so the
//! `Last-Event-ID` a client reconnects with names the last block it saw whole:
//! a connection cut in the middle of a block's receipts resumes that whole
//! block, and never skips part of it.
//!
//! A request with `Last-Event-ID: H` first replays the durable blocks above
//! `H` from the block log, at most `EVENTS_BUFFER_MAX` of them (a client
//! further behind first gets a `lagged` event saying how many older blocks it
//! will not see, then the newest ones), and then goes on live. The stream
//! subscribes to live blocks *before* it reads the durable height it replays
//! up to, so no block falls between the two; live blocks at or below that
//! height are skipped, so none is sent twice. A live subscriber that falls
//! more than `EVENTS_BUFFER_MAX` blocks behind gets a `lagged` event saying
//! how many it missed, and the stream goes on.
//!
//! Which accounts a block's transactions touch is worked out once per block
//! and shared (`CommittedBlock::touched`), as is its `block` event's data: a
//! filtered stream does one lookup per block, not a pass over its
//! transactions.
//!
//! **Account watchers.** With `?account=ID&skip_empty=true` a block that
//! carries no receipt for the account is not sent at all; keep-alive comments
//! go on between the blocks that are. Such a stream does not follow every
//! block: it is an account watcher (`watch.rs`), woken by the feed only for
//! the blocks that touch its account, which is what lets a node serve
//! thousands of pages that each watch one account. Its `id`s are the heights
//! of the blocks it sent. Resuming with `Last-Event-ID: H` replays the blocks
//! after `H` that carry a receipt for the account, found in the query index
//! (and by reading the few blocks the index has not reached) rather than by
//! reading every block, so a client that saw nothing for hours resumes
//! exactly: at most `EVENTS_BUFFER_MAX` of them, the newest, after a `lagged`
//! event if there were more (`missed_blocks` then counts the blocks before the
//! first replayed one that were not looked at: any of them may have held a
//! receipt). The replay reaches exactly up to where the watcher's live blocks
//! begin, so none is missed or sent twice.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use ting_api::parse_account;
use ting_core::limits::EVENTS_BUFFER_MAX;
use ting_core::{AccountId, BlockHeight, ChannelId, SignedTx};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::{watch, OwnedSemaphorePermit};

use super::error::ApiError;
use crate::node::Shared;
use crate::pipeline::CommittedBlock;

/// How often an idle stream sends a comment line to keep its connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The header a reconnecting SSE client sends with the last `id` it saw.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// The most blocks a resuming stream replays from the log: as far as a live
/// subscriber may fall behind before it is told it lagged.
pub(super) const REPLAY_BLOCKS_MAX: u64 = EVENTS_BUFFER_MAX as u64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    account: Option<String>,
    /// With `account`: send only the blocks that carry a receipt for it.
    skip_empty: Option<bool>,
}

/// The channel a transaction opens or acts on.
fn channel_of(tx: &SignedTx) -> Option<ChannelId> {
    tx.opened_channel().or_else(|| tx.kind().channel())
}

/// A known account's `did:key` text, to use instead of encoding it again
/// (base58 costs about 2 µs a key, most of a receipt's rendering).
pub type KnownDid<'a> = Option<(&'a AccountId, &'a str)>;

fn push_did(out: &mut String, account: &AccountId, known: KnownDid<'_>) {
    out.push('"');
    match known {
        Some((a, did)) if a == account => out.push_str(did),
        _ => out.push_str(&account.to_did()),
    }
    out.push('"');
}

/// A `receipt` event's data: the JSON object of `json!` with its keys in
/// order, written directly (every value is a number, `null`, or ASCII that
/// needs no escaping: hex, `did:key` text, a kind's name).
fn receipt_json(tx: &SignedTx, height: BlockHeight, index: u32, known: KnownDid<'_>) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(320);
    out.push_str("{\"channel\":");
    match channel_of(tx) {
        Some(c) => {
            let _ = write!(out, "\"{}\"", c.to_hex());
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"counterparty\":");
    match tx.kind().counterparty() {
        Some(c) => push_did(&mut out, &c, known),
        None => out.push_str("null"),
    }
    let _ = write!(
        out,
        ",\"height\":{},\"index\":{},\"kind\":\"{}\",\"sender\":",
        height.0,
        index,
        tx.kind().name()
    );
    push_did(&mut out, &tx.sender(), known);
    let _ = write!(out, ",\"tx_hash\":\"{}\"}}", tx.hash().to_hex());
    out
}

fn block_json(b: &CommittedBlock) -> String {
    let h = &b.block.header;
    json!({
        "height": h.height.0,
        "hash": b.block_hash.to_hex(),
        "timestamp_ms": h.timestamp.0,
        "tx_count": h.tx_count,
    })
    .to_string()
}

pub(super) fn lagged_event(missed_blocks: u64) -> Event {
    Event::default()
        .event("lagged")
        .data(json!({ "missed_blocks": missed_blocks }).to_string())
}

/// One block's events as one stream sends them: its `block` event, then the
/// receipts the stream shows, the last of them carrying the block height as
/// the group's `id`. Rendered once and shared by the streams that send the
/// same group (the `block` data by every stream, `CommittedBlock::block_event`).
#[derive(Debug)]
pub struct Group {
    pub height: u64,
    block: Arc<str>,
    receipts: Vec<String>,
}

impl Group {
    /// The group of `b` with the receipts of its transactions at `txs`.
    pub fn of(b: &CommittedBlock, txs: impl IntoIterator<Item = u32>) -> Group {
        Group::with_known(b, txs, None)
    }

    /// [`Group::of`], with one account's `did:key` text already known.
    pub fn with_known(
        b: &CommittedBlock,
        txs: impl IntoIterator<Item = u32>,
        known: KnownDid<'_>,
    ) -> Group {
        let height = b.block.header.height;
        let receipts = txs
            .into_iter()
            .map(|i| receipt_json(&b.block.txs[i as usize], height, i, known))
            .collect();
        Group {
            height: height.0,
            block: b.block_event(block_json),
            receipts,
        }
    }

    /// The group of `b` as a stream filtered by `account` (or not) sends it.
    fn filtered(s: &Shared, b: &CommittedBlock, account: Option<&AccountId>) -> Group {
        match account {
            None => Group::of(b, 0..b.block.header.tx_count),
            Some(a) => Group::of(b, b.touched(&s.state).get(a).iter().copied()),
        }
    }

    #[cfg(test)]
    pub fn for_test(height: u64) -> Group {
        Group {
            height,
            block: Arc::from("{}"),
            receipts: Vec::new(),
        }
    }

    pub fn has_receipts(&self) -> bool {
        !self.receipts.is_empty()
    }

    pub fn events(&self) -> Vec<Event> {
        let mut out = Vec::with_capacity(1 + self.receipts.len());
        out.push(Event::default().event("block").data(&*self.block));
        for r in &self.receipts {
            out.push(Event::default().event("receipt").data(r));
        }
        // The id goes on the group's last event: a client cut off inside the
        // group still names the block before, and so gets this one again whole.
        let last = out.pop().expect("a group starts with its block event");
        out.push(last.id(self.height.to_string()));
        out
    }
}

/// The height in a request's `Last-Event-ID`: the last block the client saw whole.
pub(super) fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let mut values = headers.get_all(LAST_EVENT_ID).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let height = first
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok());
    match (height, values.next()) {
        (Some(height), None) => Ok(Some(height)),
        _ => Err(ApiError::bad_request(
            "invalid_last_event_id",
            "Last-Event-ID must be one block height, a whole number, as sent in an event's `id`",
        )),
    }
}

/// The blocks a resuming stream reads from the log before it goes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replay {
    /// Older blocks the client asked for that are not replayed (told in a `lagged` event).
    skipped: u64,
    /// The height replayed last: the next block to replay is the one after it.
    after: u64,
    /// How many blocks are still to replay.
    left: u64,
}

impl Replay {
    /// The blocks after `resume_after` up to `durable`, at most
    /// `REPLAY_BLOCKS_MAX` of them (the newest); none without a resume point
    /// or when it is at or past `durable`.
    fn plan(resume_after: Option<u64>, durable: u64) -> Replay {
        let behind = resume_after.map_or(0, |after| durable.saturating_sub(after));
        let replayed = behind.min(REPLAY_BLOCKS_MAX);
        Replay {
            skipped: behind - replayed,
            after: durable - replayed,
            left: replayed,
        }
    }

    /// The next height to replay, if any is left.
    fn next(&mut self) -> Option<BlockHeight> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.after += 1;
        Some(BlockHeight(self.after))
    }
}

/// One open event stream's state.
struct Subscriber {
    s: Arc<Shared>,
    account: Option<AccountId>,
    live: broadcast::Receiver<Arc<CommittedBlock>>,
    closing: watch::Receiver<bool>,
    replay: Replay,
    /// Live blocks at or below this height were durable when the stream began:
    /// replayed from the log already, or older than what the client asked for
    /// (everything, without `Last-Event-ID`). They are not sent again.
    durable_at_start: u64,
    /// The height of the last live block sent (0 before the first).
    last_sent: u64,
    /// Held for as long as the stream lives (`NodeConfig::event_streams_max`).
    _permit: OwnedSemaphorePermit,
}

impl Subscriber {
    /// The next group of events to send; `None` ends the stream.
    async fn next_group(&mut self) -> Option<Vec<Event>> {
        if *self.closing.borrow() {
            return None;
        }
        if self.replay.skipped > 0 {
            return Some(vec![lagged_event(std::mem::take(&mut self.replay.skipped))]);
        }
        if let Some(height) = self.replay.next() {
            return self.replayed(height).await;
        }
        self.next_live().await
    }

    /// A durable block's events, read from the log on a blocking thread. A
    /// block the log cannot give ends the stream: the client resumes later.
    async fn replayed(&self, height: BlockHeight) -> Option<Vec<Event>> {
        let log = self.s.log.clone();
        let read = tokio::task::spawn_blocking(move || log.block(height)).await;
        let error = match read {
            Ok(Ok(Some(block))) => {
                let hash = block.header.hash();
                let b = CommittedBlock::new(block, hash);
                return Some(Group::filtered(&self.s, &b, self.account.as_ref()).events());
            }
            Ok(Ok(None)) => "the block log does not hold it".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::error!(%height, %error, "an event stream could not replay a durable block; ending it");
        None
    }

    /// The next live block's events, or a `lagged` event.
    async fn next_live(&mut self) -> Option<Vec<Event>> {
        loop {
            let received = tokio::select! {
                r = self.live.recv() => r,
                _ = self.closing.wait_for(|c| *c) => return None,
            };
            match received {
                Ok(b) if b.block.header.height.0 <= self.durable_at_start => {}
                Ok(b) => {
                    // Blocks are consecutive: a gap before this one is what
                    // the subscriber missed, counted exactly, never blocks it
                    // had (a replay can overlap a lag).
                    let height = b.block.header.height.0;
                    let seen = self.last_sent.max(self.durable_at_start);
                    let missed = height.saturating_sub(seen).saturating_sub(1);
                    self.last_sent = height;
                    let mut group = Group::filtered(&self.s, &b, self.account.as_ref()).events();
                    if missed > 0 {
                        group.insert(0, lagged_event(missed));
                    }
                    return Some(group);
                }
                // Told with the next block, once it is known how many are gone.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        stream::unfold(self, |mut sub| async move {
            let group = sub.next_group().await?;
            Some((stream::iter(group.into_iter().map(Ok)), sub))
        })
        .flatten()
    }
}

/// One of the node's `NodeConfig::event_streams_max` places for an open
/// event stream, or `503 busy` when every place is taken.
pub(super) fn stream_permit(s: &Shared) -> Result<OwnedSemaphorePermit, ApiError> {
    Arc::clone(&s.event_permits)
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!(
                    "{} event streams are open already; retry later",
                    s.event_streams_max
                ),
            )
        })
}

/// An event stream with the node's keep-alive comments.
pub(super) fn sse<S>(stream: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

pub async fn events(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let account = q
        .account
        .as_deref()
        .map(|a| parse_account("account", a))
        .transpose()?;
    let skip_empty = q.skip_empty.unwrap_or(false);
    if skip_empty && account.is_none() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "skip_empty=true needs account=ID: it skips the blocks that carry no receipt for that account",
        ));
    }
    let resume_after = last_event_id(&headers)?;
    let permit = stream_permit(&s)?;
    if let (Some(account), true) = (account, skip_empty) {
        return Ok(sse(super::watch::stream(s, account, resume_after, permit)));
    }
    // Subscribe first, then read the durable height: a block made durable in
    // between is in the log and also on its way live, where it is skipped.
    let live = s.events.subscribe();
    let durable = s.durable.height().0;
    let subscriber = Subscriber {
        account,
        live,
        closing: s.closing.subscribe(),
        replay: Replay::plan(resume_after, durable),
        durable_at_start: durable,
        last_sent: 0,
        _permit: permit,
        s,
    };
    Ok(sse(subscriber.into_stream()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(resume_after: Option<u64>, durable: u64) -> (u64, Vec<u64>) {
        let mut r = Replay::plan(resume_after, durable);
        let skipped = r.skipped;
        (
            skipped,
            std::iter::from_fn(|| r.next().map(|h| h.0)).collect(),
        )
    }

    #[test]
    fn a_replay_covers_the_blocks_after_the_resume_point_up_to_the_durable_height() {
        assert_eq!(plan(None, 7), (0, vec![]), "no resume point: live only");
        assert_eq!(plan(Some(7), 7), (0, vec![]), "up to date");
        assert_eq!(
            plan(Some(9), 7),
            (0, vec![]),
            "ahead of the node: live only"
        );
        assert_eq!(plan(Some(4), 7), (0, vec![5, 6, 7]));
        assert_eq!(plan(Some(0), 3), (0, vec![1, 2, 3]), "from the genesis");
        assert_eq!(plan(Some(0), 0), (0, vec![]), "nothing durable yet");
        assert_eq!(plan(None, u64::MAX), (0, vec![]), "no overflow at the top");
    }

    #[test]
    fn a_replay_far_behind_skips_the_oldest_and_keeps_the_newest_buffer_of_blocks() {
        let durable = REPLAY_BLOCKS_MAX + 10;
        let (skipped, heights) = plan(Some(3), durable);
        assert_eq!(skipped, 7);
        assert_eq!(heights.len() as u64, REPLAY_BLOCKS_MAX);
        assert_eq!(heights.first(), Some(&11));
        assert_eq!(heights.last(), Some(&durable));
        assert_eq!(plan(Some(0), u64::MAX).0, u64::MAX - REPLAY_BLOCKS_MAX);
    }

    /// The receipt as `serde_json` writes it, keys in order.
    fn receipt_by_serde(tx: &SignedTx, height: u64, index: u32) -> String {
        json!({
            "tx_hash": tx.hash().to_hex(),
            "height": height,
            "index": index,
            "kind": tx.kind().name(),
            "sender": tx.sender().to_did(),
            "counterparty": tx.kind().counterparty().map(|c| c.to_did()),
            "channel": channel_of(tx).map(|c| c.to_hex()),
        })
        .to_string()
    }

    #[test]
    fn a_receipt_written_by_hand_is_what_serde_json_writes() {
        use ting_core::{Amount, ChannelMode, Hash32, Keypair, Nonce, Timestamp, TxBody, TxKind};
        let (me, you) = (Keypair::from_seed([1; 32]), Keypair::from_seed([2; 32]));
        let kinds = [
            TxKind::Transfer {
                to: you.account(),
                amount: Amount::new(5),
                memo: b"hi".to_vec(),
            },
            TxKind::ChannelOpen {
                payee: you.account(),
                deposit: Amount::new(9),
                expires_at: Timestamp(7),
                mode: ChannelMode::Voucher,
            },
            TxKind::ChannelReclaim {
                channel: ChannelId(Hash32([3; 32])),
            },
            TxKind::Freeze {
                device: you.account(),
            },
        ];
        for kind in kinds {
            let body = TxBody {
                genesis: Hash32([0; 32]),
                sender: me.account(),
                nonce: Nonce(4),
                valid_until: Timestamp(u64::MAX),
                kind,
            };
            let tx = body.sign(&me);
            let want = receipt_by_serde(&tx, 12, 3);
            assert_eq!(receipt_json(&tx, BlockHeight(12), 3, None), want);
            for known in [me.account(), you.account()] {
                let did = known.to_did();
                let got = receipt_json(&tx, BlockHeight(12), 3, Some((&known, &did)));
                assert_eq!(got, want, "with {did} known");
            }
            if tx.kind().counterparty() == Some(you.account()) {
                let got = receipt_json(&tx, BlockHeight(12), 3, Some((&you.account(), "x")));
                assert!(
                    got.contains(r#""counterparty":"x""#),
                    "used as given: {got}"
                );
            }
        }
    }

    #[test]
    fn last_event_id_is_one_whole_number_or_a_clear_error() {
        let id = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(LAST_EVENT_ID, v.parse().expect("a header value"));
            }
            last_event_id(&h).map_err(|e| e.code)
        };
        assert_eq!(id(&[]), Ok(None));
        assert_eq!(id(&["12"]), Ok(Some(12)));
        assert_eq!(id(&["0"]), Ok(Some(0)));
        assert_eq!(id(&[&u64::MAX.to_string()]), Ok(Some(u64::MAX)));
        let bad = [
            "",
            "abc",
            "-1",
            "+1",
            "1.5",
            "0x10",
            "1 2",
            "18446744073709551616",
        ];
        for v in bad {
            assert_eq!(id(&[v]), Err("invalid_last_event_id"), "{v:?}");
        }
        assert_eq!(id(&["1", "2"]), Err("invalid_last_event_id"), "two ids");
    }
}
