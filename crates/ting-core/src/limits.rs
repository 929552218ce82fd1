//! Every maximum size and count in Ting, in one place.
//!
//! The edges refuse input over these limits with a typed error; the inside
//! asserts them. Protocol limits (those that change what a valid transaction
//! or block is) are part of the wire format: changing one is a protocol change.
//! Operational limits bound the node's queues and memory.

// ---- Protocol limits (docs/wire.md) ----

/// Longest transfer memo, in bytes.
pub const MEMO_BYTES_MAX: usize = 64;
/// Longest device metadata blob attached to a registration, in bytes.
pub const METADATA_BYTES_MAX: usize = 256;
/// Longest encoded signed transaction, in bytes.
pub const TX_BYTES_MAX: usize = 1024;
/// Most transactions in one block.
pub const BLOCK_TXS_MAX: usize = 4096;
/// Longest encoded block: header, count and every length-prefixed transaction.
pub const BLOCK_BYTES_MAX: usize = crate::block::HEADER_BYTES + BLOCK_TXS_MAX * (2 + TX_BYTES_MAX);
/// Deepest Merkle proof: enough for 2^32 leaves, far beyond `BLOCK_TXS_MAX`.
pub const MERKLE_PROOF_DEPTH_MAX: usize = 32;
/// Most issuer keys a genesis may name.
pub const GENESIS_ISSUERS_MAX: usize = 64;
/// Most sequencer keys a genesis may name.
pub const GENESIS_SEQUENCERS_MAX: usize = 64;
/// Most initial allocations a genesis may hold.
pub const GENESIS_ALLOCATIONS_MAX: usize = 1_000_000;
/// Longest network name in a genesis, in bytes.
pub const GENESIS_NAME_BYTES_MAX: usize = 64;
/// Fastest accelerated ledger clock a genesis may declare: a simulated day
/// in under nine seconds of wall time.
pub const CLOCK_SPEED_MAX: u32 = 10_000;
/// Most devices one owner may register; bounds the state an owner can add.
pub const DEVICES_PER_OWNER_MAX: usize = 10_000;
/// Longest hash chain one channel segment may commit to, in ticks.
pub const CHAIN_LEN_MAX: u32 = 1 << 24;
/// Most chain steps one claim may make the ledger hash. Within the current
/// chain a claim may advance at most this many ticks past the last claimed
/// one; a claim into a queued chain hashes from that chain's anchor, so its
/// index within that chain may be at most this (it also pays whatever of the
/// current chain was still unclaimed). A payee holding a tick further ahead
/// derives the intermediate ticks from it and claims in steps.
/// At about 20 M steps/s per core this bounds a claim to about 0.2 ms, some
/// eight signature checks.
pub const CLAIM_HASHES_MAX: u64 = 4096;
/// After a channel's expiry, how long the payee may still claim or close, in
/// milliseconds; only after it may the payer reclaim.
pub const CHANNEL_GRACE_MS: u64 = 3_600_000;
/// Furthest a channel's expiry may lie beyond the block that opens or tops it up.
pub const CHANNEL_LIFETIME_MAX_MS: u64 = 366 * DAY_MS;
/// Most open channels one payer may have at once; bounds the deposits and
/// state one account can tie up.
pub const CHANNELS_OPEN_PER_PAYER_MAX: usize = 10_000;
/// Length of a spending-limit day, in milliseconds (UTC days of the block timestamp).
pub const DAY_MS: u64 = 86_400_000;
/// How long after it is signed a client's transaction may still apply, unless
/// the client says otherwise (`valid_until`, docs/wire.md §5.1): long enough
/// for an outbox to ride out a broker outage, short enough that a refused
/// transaction is final soon.
pub const TX_VALID_FOR_DEFAULT_MS: u64 = 60 * 60 * 1000;

/// Longest envelope payload (docs/mqtt.md §2), in bytes; an encrypted payload
/// counts its HPKE `enc` and tag.
pub const ENVELOPE_PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// How far an envelope's timestamp may lie from the receiver's clock, either
/// side, in milliseconds; also how long its id is remembered.
pub const ENVELOPE_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Longest code in a refusal or error envelope payload, in bytes (ASCII).
pub const ENVELOPE_CODE_BYTES_MAX: usize = 64;
/// Longest message in a refusal or error envelope payload, in bytes (UTF-8).
pub const ENVELOPE_MESSAGE_BYTES_MAX: usize = 1024;

// ---- Operational limits of a node ----

/// Transactions waiting for signature verification; past it ingress answers `busy`.
pub const VERIFY_QUEUE_TXS_MAX: usize = 65_536;
/// Verified transactions waiting for the executor; past it ingress answers `busy`.
pub const QUEUE_TXS_MAX: usize = 65_536;
/// Transactions handed to one verification worker at once.
pub const VERIFY_BATCH_TXS_MAX: usize = 64;
/// Executed blocks waiting to be made durable; past it the executor waits.
pub const DURABLE_QUEUE_BLOCKS_MAX: usize = 8;
/// Most bytes written to the block log between two fsyncs (one group commit);
/// recovery refuses a group larger than this.
pub const WRITE_GROUP_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Longest a block stays open after its first transaction, in milliseconds.
pub const BLOCK_CUT_MS: u64 = 2;
/// Largest HTTP request body, in bytes.
pub const HTTP_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Longest a client may take to send a request body.
pub const BODY_READ_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(10);
/// Most HTTP requests handled at once; past it the node answers `busy`. A
/// request takes its place only once its body has been read whole (bodies are
/// read outside, see `HTTP_BODIES_READING_MAX`), so a slow sender cannot hold
/// one. `/healthz` and `/metrics` take none, so they answer while the node is
/// saturated. Each may hold a body of up to `HTTP_BODY_BYTES_MAX`.
pub const HTTP_REQUESTS_MAX: usize = 256;
/// Most HTTP request bodies being read at once, from every source; past it the
/// node answers `busy`. Larger than `HTTP_REQUESTS_MAX` because a body being
/// read costs only what has arrived so far; with it, bodies in memory are at
/// most `(HTTP_REQUESTS_MAX + HTTP_BODIES_READING_MAX) * HTTP_BODY_BYTES_MAX`.
pub const HTTP_BODIES_READING_MAX: usize = 512;
/// Most open HTTP connections from one source (an IPv4 address or an IPv6
/// /64); past it new connections from that source are closed at once.
pub const HTTP_CONNECTIONS_PER_SOURCE_MAX: usize = 128;
/// Most HTTP requests in flight from one source, from their headers to their
/// answer (reading the body included): one source can take at most a quarter
/// of `HTTP_REQUESTS_MAX`. Past it that source is answered 429 `source_busy`.
/// Clients behind one NAT or proxy share it.
pub const HTTP_REQUESTS_PER_SOURCE_MAX: usize = 64;
/// Most sources the HTTP edge keeps counts for at once (only those with an
/// open connection or a request in flight); past it new sources are refused.
pub const HTTP_SOURCES_MAX: usize = 65_536;
/// Longest a graceful shutdown waits for open HTTP requests before it stops anyway.
pub const HTTP_SHUTDOWN_GRACE: core::time::Duration = core::time::Duration::from_secs(10);
/// Most transactions in one batch submission.
pub const SUBMIT_BATCH_TXS_MAX: usize = 4096;
/// Most blocks returned by one range query.
pub const BLOCK_RANGE_MAX: u64 = 100;
/// Most transactions returned by one account-history query.
pub const ACCOUNT_TXS_PAGE_MAX: usize = 500;
/// Most history entries one read of an account's flows returns (the query
/// index's `account_flows`, which the explorer buckets into spending and
/// earnings charts). Each is 127 bytes of index; reading the most takes a few
/// milliseconds, well inside the account page's 200 ms. An account busier than
/// that over the charted span is charted over its latest `ACCOUNT_FLOWS_MAX`.
pub const ACCOUNT_FLOWS_MAX: usize = 10_000;
/// Refusals one source address may cause at once before its transactions are
/// refused unchecked (`refusal_budget`); the budget refills at
/// `REFUSALS_PER_SOURCE_PER_S`.
pub const REFUSALS_PER_SOURCE_BURST: u64 = 1024;
/// Refusals per second a source address's budget regains.
pub const REFUSALS_PER_SOURCE_PER_S: u64 = 256;
/// Refusals of one sender's signed transactions (decided on the state, other
/// than `bad_nonce`) before its transactions are refused unchecked.
pub const REFUSALS_PER_SENDER_BURST: u64 = 64;
/// Refusals per second a sender's budget regains.
pub const REFUSALS_PER_SENDER_PER_S: u64 = 16;
/// Sources and senders whose refusal budgets are tracked at once; past it the
/// ones with a full budget are forgotten first.
pub const REFUSAL_BUDGETS_MAX: usize = 65_536;
/// Final refusals (a bad signature, an expired or malformed transaction)
/// remembered by hash, so that resubmitting the same bytes is answered from
/// memory without a signature check.
pub const FINAL_REFUSALS_KEPT_MAX: usize = 65_536;
/// How far above the sender's next nonce a transaction's nonce may be at
/// admission: every nonce between must be applied first, and no more than the
/// pipeline's queues can be waiting.
pub const NONCE_AHEAD_MAX: u64 = (VERIFY_QUEUE_TXS_MAX + QUEUE_TXS_MAX) as u64;
/// Recent refusals kept in memory so that a receipt query can report them.
pub const REFUSALS_KEPT_MAX: usize = 65_536;
/// Durable blocks buffered for event subscribers; a subscriber further behind is told
/// it lagged. Each entry can be a full block, so this bounds memory to about
/// `EVENTS_BUFFER_MAX * BLOCK_BYTES_MAX` in the worst case.
pub const EVENTS_BUFFER_MAX: usize = 64;
/// Most event streams open at once (`GET /v1/events`, `/v1/overview/events`)
/// by default (`NodeConfig::event_streams_max`); past it they answer `busy`.
/// Raised from 256 so that a dashboard's thousand account pages fit, each an
/// account watcher. A stream costs its connection, about 18 KiB of the node's
/// memory while idle (measured: RSS with 1,000 open streams, any kind, less
/// RSS without; the kernel's socket buffers come on top), so 4,096 idle
/// streams take about 72 MiB. A client that stops reading holds more: up to
/// `EVENTS_BUFFER_MAX` groups in an account watcher's inbox (the ring of
/// recent blocks is one for all streams), plus what its socket and the HTTP
/// server's write buffer hold. CPU goes with what is sent: an account
/// watcher is woken only by its account's blocks, other streams by every block.
pub const EVENT_SUBSCRIBERS_MAX: usize = 4096;
/// Most `(sender, id)` entries a receiver's envelope replay cache holds; while
/// it is full of live entries new envelopes are refused (`replay_cache_full`).
pub const REPLAY_CACHE_MAX: usize = 65_536;
/// Blocks between two state snapshots.
pub const SNAPSHOT_INTERVAL_BLOCKS: u64 = 20_000;
/// Transactions between two state snapshots, whichever of the two comes first.
pub const SNAPSHOT_INTERVAL_TXS: u64 = 1_000_000;
/// Snapshots kept on disk; older ones are deleted.
pub const SNAPSHOTS_KEPT: usize = 2;
/// Largest faucet grant in dev mode, in base units.
pub const FAUCET_AMOUNT_MAX: u64 = 1_000_000_000_000;

// ---- Health and supervision of a node's workers (GET /healthz) ----

/// How long the pipeline may make no progress (no block made durable, no
/// transaction refused) while transactions wait before `/healthz` says it is
/// `stalled`.
pub const PIPELINE_STALL_AFTER: core::time::Duration = core::time::Duration::from_secs(30);
/// Free space on the block log's filesystem below which `/healthz` warns
/// `disk_low`: the smaller of this and `DISK_FREE_MIN_PERCENT` of the
/// filesystem. A full block log stops the node (nothing acknowledged is lost).
pub const DISK_FREE_MIN_BYTES: u64 = 256 * 1024 * 1024;
/// See `DISK_FREE_MIN_BYTES`: a percentage of the filesystem's size.
pub const DISK_FREE_MIN_PERCENT: u64 = 5;
/// How long the indexer waits after a failure before it reopens the index and
/// starts again; doubled after each failure without progress, up to
/// `INDEXER_RETRY_MAX`.
pub const INDEXER_RETRY_FIRST: core::time::Duration = core::time::Duration::from_millis(100);
/// The longest wait between two attempts of a failing indexer.
pub const INDEXER_RETRY_MAX: core::time::Duration = core::time::Duration::from_secs(10);
/// How long the snapshotter waits after a failed write before it asks for the
/// next snapshot, instead of a whole interval; doubled after each failure in a
/// row, up to `SNAPSHOT_RETRY_MAX` (each attempt copies the whole state).
pub const SNAPSHOT_RETRY_FIRST: core::time::Duration = core::time::Duration::from_secs(1);
/// The longest wait between two attempts of a failing snapshotter.
pub const SNAPSHOT_RETRY_MAX: core::time::Duration = core::time::Duration::from_secs(60);
/// How often the node samples what `/healthz` and `/metrics` report of the
/// pipeline's progress, the disk's free space and the MQTT link.
pub const HEALTH_SAMPLE_EVERY: core::time::Duration = core::time::Duration::from_secs(1);

// ---- The block log's segments (ting-store, `log.rs`) ----

/// Size past which the block log's open segment is sealed (at the next group
/// boundary) and a new one started. Recovery reads at most the segment holding
/// the block above the newest snapshot and those after it, so this bounds the
/// bytes a restart reads. `NodeConfig::log_segment_bytes` overrides it.
pub const LOG_SEGMENT_BYTES: u64 = 256 * 1024 * 1024;
/// Smallest segment size a log may be configured with (tests and the crash
/// loop use small segments to cross many boundaries).
pub const LOG_SEGMENT_BYTES_MIN: u64 = 4096;
/// A sealed segment's index keeps the offset of every this-many-th block; a
/// read steps over at most this many less one record headers from there.
pub const LOG_INDEX_STRIDE_BLOCKS: u64 = 32;
/// Sealed segments whose file and index the log's readers keep open at once
/// (least recently used first out), so reads of old blocks cost one index load
/// per segment while memory stays bounded as history grows.
pub const LOG_SEALED_SEGMENTS_OPEN_MAX: usize = 8;
/// Largest segment manifest read, in bytes: about 200 bytes per sealed segment,
/// so room for some 300,000 segments (75 TB at the default segment size).
pub const LOG_MANIFEST_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// Largest sealed-segment index file read, in bytes.
pub const LOG_INDEX_BYTES_MAX: u64 = 64 * 1024 * 1024;

// ---- Data streams (`consent.rs`, `stream/chunk.rs`) ----

/// Fields one consent record may name.
pub const CONSENT_FIELDS_MAX: usize = 32;
/// Bytes of a field's name.
pub const FIELD_NAME_BYTES_MAX: usize = 32;
/// Buyer rules one record may hold.
pub const CONSENT_BUYERS_MAX: usize = 32;
/// Bytes of the purpose, in words.
pub const PURPOSE_BYTES_MAX: usize = 128;
/// Bytes of a buyer category (dotted, such as `utility.water`).
pub const CATEGORY_BYTES_MAX: usize = 48;
/// Certifiers one category rule may name.
pub const CERTIFIERS_MAX: usize = 8;
/// Characters of a geohash: 12 locate a point to a few centimetres.
pub const GEOHASH_CHARS_MAX: u8 = 12;
/// The shortest aggregation window: a second.
pub const WINDOW_MS_MIN: u64 = 1_000;
/// The longest aggregation window: 366 days.
pub const WINDOW_MS_MAX: u64 = 366 * DAY_MS;
/// Points one chunk may carry.
pub const CHUNK_POINTS_MAX: usize = 256;
/// Bytes of one point.
pub const POINT_BYTES_MAX: usize = 512;
/// Fields one stream's schema may name: few enough that the registration
/// fits in one transaction.
pub const STREAM_FIELDS_MAX: usize = 8;
/// Bytes of a field's unit.
pub const UNIT_BYTES_MAX: usize = 16;
/// Decimal places of a fixed-point field: 10^18 still fits in an `i64`.
pub const FIELD_DECIMALS_MAX: u8 = 18;
/// Points one epoch of points may hold.
pub const EPOCH_POINTS_MAX: u32 = 1_000_000;
/// What a seller puts down to open a stream, in base units; it comes back
/// when the stream closes. It is what keeps a funded account from growing
/// the state with streams for free.
pub const STREAM_DEPOSIT: u64 = 1_000_000;
/// Most open streams one seller may have at once.
pub const STREAMS_OPEN_PER_SELLER_MAX: usize = 64;
/// Buyers whose delivery one stream's record holds: the deposit pays for
/// the record at its longest.
pub const STREAM_BUYERS_MAX: usize = 64;

// ---- The service market (`market`) ----

/// Bytes of a service category (dotted, such as `water.cartridge.replace`).
pub const SERVICE_CATEGORY_BYTES_MAX: usize = 48;
/// Dot-separated parts of a service category.
pub const SERVICE_CATEGORY_PARTS_MAX: usize = 8;
/// Rules one evidence template may hold.
pub const TEMPLATE_RULES_MAX: usize = 8;
/// Fields one piece of evidence may carry: few enough that a release with
/// its evidence fits in one transaction.
pub const EVIDENCE_FIELDS_MAX: usize = 8;
/// Bytes of one text value in evidence or a template.
pub const EVIDENCE_VALUE_BYTES_MAX: usize = 32;
/// What a payer puts down beside the held amount, in base units; it comes
/// back to the payer when the hold ends, however it ends. It pays for the
/// hold's record in the state.
pub const HOLD_DEPOSIT: u64 = 1_000_000;
/// Most holds one payer may have open at once.
pub const HOLDS_OPEN_PER_PAYER_MAX: usize = 64;
/// The furthest a hold's deadline may lie past its creation: a year.
pub const HOLD_DEADLINE_MAX_MS: u64 = 366 * DAY_MS;
/// The longest grace a hold may give after its deadline: a week. During
/// the grace, evidence observed in time may still land before the payer
/// can take the money back, and disputes may still be raised.
pub const HOLD_GRACE_MS_MAX: u64 = 7 * DAY_MS;
/// The grace the SDK and the command line give when none is asked: an hour.
pub const HOLD_GRACE_MS_DEFAULT: u64 = 3_600_000;
/// After a disputed hold's deadline, how long its arbiter has to decide
/// before the payer may take the money back.
pub const HOLD_ARBITER_MS: u64 = 30 * DAY_MS;
/// How far past the block's time evidence may say it was observed: a
/// device's clock runs a little ahead of the ledger's (a block's time is
/// when it opened), and evidence refused for a few milliseconds would
/// stall a release until someone presents it again.
pub const EVIDENCE_CLOCK_SKEW_MS: u64 = 60_000;
/// What a provider puts down to list an offer; it comes back when the offer
/// closes.
pub const OFFER_DEPOSIT: u64 = 1_000_000;
/// Most open offers one provider may have at once.
pub const OFFERS_OPEN_PER_PROVIDER_MAX: usize = 64;
/// The longest time to deliver an offer may state: a year.
pub const OFFER_DELIVERY_MS_MAX: u64 = 366 * DAY_MS;
/// The longest warranty an offer may state: five years.
pub const OFFER_WARRANTY_MS_MAX: u64 = 5 * 366 * DAY_MS;
/// Distinct buyers a reputation record names: enough for the confidence
/// they lend to level off, few enough that the record stays small.
pub const REPUTATION_BUYERS_MAX: usize = 32;
/// How many distinct buyers count as much as a perfect record's doubt: a
/// provider's score is its success rate times `b / (b + this)`.
pub const REPUTATION_PRIOR_BUYERS: u64 = 2;
// ---- Resources on order books (`resource`) ----

/// Bytes of a resource class's unit name (such as `msg` or `cpu_s`).
pub const RESOURCE_UNIT_BYTES_MAX: usize = 16;
/// The longest lease a resource class may give a fill: 30 days.
pub const LEASE_MS_MAX: u64 = 30 * DAY_MS;
/// How long after a lease ends delivery counts may still land and only
/// its provider may close it; after that anyone may, and what was not
/// delivered goes back to the buyer.
pub const LEASE_GRACE_MS: u64 = 3_600_000;
/// What every resting order puts down besides what a bid pays; it comes
/// back when the order ends, however it ends. It pays for the record.
pub const ORDER_DEPOSIT: u64 = 100_000;
/// Most orders one account may have resting at once.
pub const ORDERS_OPEN_PER_ACCOUNT_MAX: usize = 32;
/// Most fills one order takes in its life; at the last the order ends and
/// what is left of it goes back. With the cap on resting orders it bounds
/// the leases one account's orders can make.
pub const ORDER_FILLS_MAX: u16 = 16;
/// Most resting orders one placement walks (fills, expired orders taken
/// out, the placer's own orders cancelled): what is left of an order that
/// would still cross after them goes back, so that no placement costs more
/// than a bounded walk and the book is never crossed.
pub const ORDER_MATCH_STEPS_MAX: usize = 32;
/// The furthest an order's expiry may lie past its placement: 30 days.
pub const ORDER_EXPIRY_MAX_MS: u64 = 30 * DAY_MS;
/// A buyer with this many leases open may place no further bid.
pub const LEASES_OPEN_PER_BUYER_MAX: usize = 64;
/// Trades the node keeps per book for market data (not in the state).
pub const BOOK_TRADES_KEPT: usize = 64;

/// Bytes of a call's spec, in words.
pub const CALL_SPEC_BYTES_MAX: usize = 512;
/// The longest a call may wait for proposals: a day.
pub const CALL_WINDOW_MS_MAX: u64 = DAY_MS;
/// Counter-offer rounds one call may allow after the first proposals.
pub const CALL_ROUNDS_MAX: u8 = 4;
/// Bytes of a proposal's note, in words.
pub const PROPOSAL_NOTE_BYTES_MAX: usize = 128;
