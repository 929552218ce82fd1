//! The seller's side of a stream: readings in, the owner's consent applied,
//! points sealed under their epoch's key and signed a chunk at a time, and
//! keys sold to buyers who paid.
//!
//! What is kept, in the stream's directory (`Device::stream_dir`):
//!
//! - `points.log`: every sealed point (`P`) as it is made, and a mark (`B`)
//!   where each chunk ends, with the link and the next point number after
//!   it. A point is written before it is sealed into a chunk, so a point
//!   number is never used twice: the same key and nonce twice would expose
//!   both points (`ting_core::stream::epoch`). The log is synced at every
//!   chunk, before the chunk is published; points since the last chunk
//!   survive a killed process (they are in the page cache) and go out in
//!   the first chunk after a restart. The newest chunks
//!   ([`CHUNKS_REPUBLISHED`]) are published again on open: a killed process
//!   may not have handed them to the broker yet.
//! - `sales.log`: every key sold, synced before the key is sent, so a
//!   restarted seller neither sells an epoch twice to one buyer nor forgets
//!   one it was paid for ([`ting_core::stream::sales`]).
//!
//! Payments ride in key requests and land in the channel's payee file
//! (durable) before the seller decides; a payment short of the price stays
//! as the buyer's credit.

use std::collections::BTreeMap;

use ting_core::consent::filter::{ConsentFilter, Reading, Released, Withheld};
use ting_core::consent::revocation::SignedRevocation;
use ting_core::consent::SignedConsent;
use ting_core::encoding::{Reader, Writer};
use ting_core::stream::chunk::{ChunkBuilder, Position};
use ting_core::stream::epoch::{derive_epoch_key, EpochKey};
use ting_core::stream::point::Point;
use ting_core::stream::record::Delivery;
use ting_core::stream::sales::{Sale, SalesBook};
use ting_core::stream::{DeliveryAck, StreamId, StreamTerms};
use ting_core::{AccountId, Amount, Hash32, Keypair, Timestamp};

use super::log::AppendLog;
use super::SellerError;
use crate::device::Device;

const POINTS_MAGIC: &[u8; 8] = b"TGSPTS01";
const SALES_MAGIC: &[u8; 8] = b"TGSALE01";
const REC_POINT: u8 = b'P';
const REC_CHUNK: u8 = b'B';
/// The owner's revocation, once given: `EPOCH REVOCATION_HEX`, the first
/// epoch no key is sold for and the signed revocation.
const REVOCATION_FILE: &str = "revocation";

mod guard;
mod sell;
mod store;

use guard::RefusalBudget;
pub use guard::REFUSALS_PER_MINUTE_MAX;
use store::{read_revocation, write_synced};

/// Chunks [`Seller::open`] publishes again, the newest in the log: a killed
/// process may have signed them and not yet handed them to the broker (its
/// link keeps up to 32 unacknowledged; while the broker is away more wait,
/// and those past these are lost). A buyer takes a copy it has as a repeat.
pub const CHUNKS_REPUBLISHED: usize = 32;

/// What a stream sells: its id and terms on the ledger, the consent record
/// in force (whose hash the terms name), and how many points a chunk holds.
#[derive(Clone, Debug)]
pub struct SellerSetup {
    pub stream: StreamId,
    pub terms: StreamTerms,
    pub consent: SignedConsent,
    /// Points per chunk, 1 to `CHUNK_POINTS_MAX`: more means fewer signatures.
    pub chunk_points: usize,
}

/// Counters of what the seller did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SellerStats {
    pub readings: u64,
    pub points: u64,
    pub withheld: BTreeMap<&'static str, u64>,
    pub chunks: u64,
    pub keys_sold: u64,
    pub keys_again: u64,
    pub refused: BTreeMap<String, u64>,
}

/// What [`Seller::answer`] did with a key request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    Sold { epoch: u64, price: Amount },
    Again { epoch: u64 },
    Refused { code: &'static str },
}

/// The points since the last chunk, not yet signed.
#[derive(Debug)]
struct OpenChunk {
    epoch: u64,
    builder: ChunkBuilder,
}

/// One stream's seller.
#[derive(Debug)]
pub struct Seller {
    /// The network's time, read through the device's clock.
    clock: crate::clock::NetworkClock,
    stream: StreamId,
    terms: StreamTerms,
    consent: SignedConsent,
    filter: ConsentFilter,
    key: Keypair,
    me: AccountId,
    genesis: Hash32,
    chunk_points: usize,
    /// The schema index of each consent record field (`u8::MAX`: not in the schema).
    field_map: Vec<u8>,
    points: AppendLog,
    /// Where the last signed chunk ended.
    position: Position,
    open: Option<OpenChunk>,
    epoch_key: Option<(u64, EpochKey)>,
    sales: SalesBook,
    sales_log: AppendLog,
    /// The newest acknowledgement each buyer sent, and what the ledger holds.
    acks: BTreeMap<AccountId, DeliveryAck>,
    recorded: BTreeMap<AccountId, Delivery>,
    /// The epoch from which the owner's revocation withholds everything.
    revoked_from_epoch: Option<u64>,
    refusals: RefusalBudget,
    /// Channels bound to this stream (see [`Seller::channel_is_ours`]).
    channels: std::collections::BTreeSet<ting_core::ChannelId>,
    stats: SellerStats,
}

impl Seller {
    /// Opens the seller of `setup.stream` on `device`, replaying its logs:
    /// points not yet in a chunk are signed and published now.
    pub fn open(device: &Device, setup: SellerSetup) -> Result<Seller, SellerError> {
        if setup.consent.hash() != setup.terms.consent {
            return Err(SellerError::ConsentMismatch);
        }
        if setup.consent.record.device != device.account() {
            return Err(SellerError::NotOurConsent);
        }
        if setup.terms.price_per_epoch < setup.consent.record.min_price_per_epoch {
            return Err(SellerError::Consent(format!(
                "the stream asks {} per epoch; the owner's record asks at least {}",
                setup.terms.price_per_epoch, setup.consent.record.min_price_per_epoch
            )));
        }
        if setup.chunk_points == 0 || setup.chunk_points > ting_core::limits::CHUNK_POINTS_MAX {
            return Err(SellerError::ChunkSize(setup.chunk_points));
        }
        let dir = device.stream_dir(&setup.stream);
        std::fs::create_dir_all(&dir).map_err(|source| SellerError::Io {
            op: "create the stream directory",
            source,
        })?;
        let (points, records) = AppendLog::open(&dir.join("points.log"), POINTS_MAGIC)?;
        let (sales_log, sales) = AppendLog::open(&dir.join("sales.log"), SALES_MAGIC)?;
        let sales = sales
            .iter()
            .map(|b| Sale::decode(b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SellerError::Damaged)?;
        let filter = ConsentFilter::new(setup.consent.record.clone())
            .map_err(|e| SellerError::Consent(e.to_string()))?;
        let field_map = setup
            .consent
            .record
            .fields
            .iter()
            .map(|f| {
                setup
                    .terms
                    .field(&f.name)
                    .and_then(|(i, _)| u8::try_from(i).ok())
                    .unwrap_or(u8::MAX)
            })
            .collect();
        let mut seller = Seller {
            clock: device.clock(),
            stream: setup.stream,
            terms: setup.terms,
            consent: setup.consent,
            filter,
            key: Keypair::from_seed(device.key().seed()),
            me: device.account(),
            genesis: device.genesis_hash(),
            chunk_points: setup.chunk_points,
            field_map,
            points,
            position: Position::START,
            open: None,
            epoch_key: None,
            sales: SalesBook::from_sales(sales),
            sales_log,
            acks: BTreeMap::new(),
            recorded: BTreeMap::new(),
            revoked_from_epoch: None,
            refusals: RefusalBudget::default(),
            channels: std::collections::BTreeSet::new(),
            stats: SellerStats::default(),
        };
        let newest = seller.replay(&records)?;
        for chunk in newest {
            // It may not have reached the broker before the restart; a
            // buyer that has it takes the copy as a repeat.
            device.publish_chunk(&seller.stream, chunk);
        }
        seller.flush(device)?;
        let revoked = read_revocation(&dir.join(REVOCATION_FILE), &seller.genesis)?;
        // A revocation of an earlier record does not stop sales under the
        // record now in force (the owner named a new one).
        let current = revoked.filter(|(_, r)| r.revocation.consent == seller.terms.consent);
        if let Some((_, revocation)) = current {
            seller.revoke(device, &revocation)?;
        }
        Ok(seller)
    }

    /// Rebuilds the position and the open chunk from the log; answers the
    /// newest [`CHUNKS_REPUBLISHED`] whole chunks' bytes, oldest first,
    /// signed again (Ed25519 is deterministic).
    fn replay(
        &mut self,
        records: &[Vec<u8>],
    ) -> Result<std::collections::VecDeque<Vec<u8>>, SellerError> {
        let mut newest = std::collections::VecDeque::with_capacity(CHUNKS_REPUBLISHED);
        for body in records {
            let mut r = Reader::new(body);
            let damaged = SellerError::Damaged;
            match r.u8("record").map_err(damaged)? {
                REC_POINT => {
                    let epoch = r.u64("epoch").map_err(damaged)?;
                    let seq = r.u64("seq").map_err(damaged)?;
                    let sealed = r.take(r.remaining(), "point").map_err(damaged)?;
                    self.add_to_open(epoch, seq, sealed.to_vec())?;
                }
                REC_CHUNK => {
                    let next_seq = r.u64("next seq").map_err(damaged)?;
                    let link = r.hash("link").map_err(damaged)?;
                    let open = self.open.take().ok_or(SellerError::LogOrder)?;
                    let (chunk, position) = open.builder.sign(&self.key, &self.genesis);
                    if position.next_seq != next_seq || position.link != link {
                        return Err(SellerError::LogOrder);
                    }
                    self.position = position;
                    if newest.len() == CHUNKS_REPUBLISHED {
                        newest.pop_front();
                    }
                    newest.push_back(chunk.encode());
                }
                _ => return Err(SellerError::LogOrder),
            }
        }
        Ok(newest)
    }

    fn add_to_open(&mut self, epoch: u64, seq: u64, sealed: Vec<u8>) -> Result<(), SellerError> {
        let open = self.open.get_or_insert_with(|| OpenChunk {
            epoch,
            builder: ChunkBuilder::new(self.stream, epoch, self.position),
        });
        let want = self
            .position
            .next_seq
            .saturating_add(open.builder.len() as u64);
        if open.epoch != epoch || seq != want {
            return Err(SellerError::LogOrder);
        }
        open.builder
            .push(sealed)
            .map_err(|e| SellerError::Chunk(e.to_string()))
    }

    pub fn stream(&self) -> &StreamId {
        &self.stream
    }

    pub fn terms(&self) -> &StreamTerms {
        &self.terms
    }

    pub fn stats(&self) -> &SellerStats {
        &self.stats
    }

    /// The number the next point gets.
    pub fn next_seq(&self) -> u64 {
        let open = self.open.as_ref().map_or(0, |o| o.builder.len() as u64);
        self.position.next_seq.saturating_add(open)
    }

    /// The epoch the next point falls in, at `at`.
    pub fn current_epoch(&self, at: Timestamp) -> u64 {
        self.terms.epoch.epoch_of(self.next_seq(), at.0)
    }

    /// Takes one reading: what the consent record lets leave is sealed and
    /// logged, and a full chunk (or one whose epoch ended) is signed and
    /// published. Answers how many points left.
    pub fn push(&mut self, device: &Device, reading: Reading<'_>) -> Result<usize, SellerError> {
        self.stats.readings = self.stats.readings.saturating_add(1);
        let mut released: Vec<Point> = Vec::with_capacity(2);
        let map = &self.field_map;
        let mut closed = |r: Released<'_>| released.push(point_of(map, &r));
        let outcome = self.filter.push(reading, &mut closed);
        let mut points: Vec<Point> = released;
        match outcome {
            Ok(r) => points.push(point_of(&self.field_map, &r)),
            Err(w) => self.count_withheld(w),
        }
        self.emit(device, points)
    }

    /// Closes the aggregation windows due at `at` and publishes the open
    /// chunk, so nothing waits longer than the caller's tick.
    pub fn tick(&mut self, device: &Device, at: Timestamp) -> Result<usize, SellerError> {
        let mut released: Vec<Point> = Vec::new();
        let map = &self.field_map;
        let mut closed = |r: Released<'static>| released.push(point_of(map, &r));
        self.filter.close_due(at, &mut closed);
        let n = self.emit(device, released)?;
        self.flush(device)?;
        Ok(n)
    }

    fn count_withheld(&mut self, w: Withheld) {
        let code = match w {
            Withheld::Refused => "refused",
            Withheld::NotInForce => "not_in_force",
            Withheld::WrongKind => "wrong_kind",
            Withheld::Late => "late",
            Withheld::Aggregating => "aggregating",
        };
        *self.stats.withheld.entry(code).or_default() += 1;
    }

    fn emit(&mut self, device: &Device, points: Vec<Point>) -> Result<usize, SellerError> {
        let mut sent = 0;
        for point in points {
            if usize::from(point.field) >= self.terms.fields.len() {
                *self.stats.withheld.entry("not_in_schema").or_default() += 1;
                continue;
            }
            let seq = self.next_seq();
            let epoch = self.terms.epoch.epoch_of(seq, point.at().0);
            if self.revoked_from_epoch.is_some_and(|from| epoch >= from) {
                *self.stats.withheld.entry("revoked").or_default() += 1;
                continue;
            }
            let starts_new = self
                .open
                .as_ref()
                .is_some_and(|o| o.epoch != epoch || o.builder.len() >= self.chunk_points);
            if starts_new {
                self.flush(device)?;
            }
            let seq = self.next_seq();
            let stream = self.stream;
            let sealed = self
                .key_of(epoch)
                .seal(&stream, epoch, seq, &point.encode());
            let mut w = Writer::with_capacity(sealed.len().saturating_add(17));
            w.u8(REC_POINT).u64(epoch).u64(seq).bytes(&sealed);
            self.points.append(w.as_slice())?;
            self.add_to_open(epoch, seq, sealed)?;
            self.stats.points = self.stats.points.saturating_add(1);
            sent += 1;
            if self
                .open
                .as_ref()
                .is_some_and(|o| o.builder.len() >= self.chunk_points)
            {
                self.flush(device)?;
            }
        }
        Ok(sent)
    }

    fn key_of(&mut self, epoch: u64) -> &EpochKey {
        if self.epoch_key.as_ref().is_none_or(|(e, _)| *e != epoch) {
            self.epoch_key = Some((epoch, derive_epoch_key(&self.key, &self.stream, epoch)));
        }
        &self.epoch_key.as_ref().expect("set above").1
    }

    /// Signs the open chunk, syncs the log with its mark, then publishes it.
    pub fn flush(&mut self, device: &Device) -> Result<(), SellerError> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let (chunk, position) = open.builder.sign(&self.key, &self.genesis);
        let mut w = Writer::with_capacity(41);
        w.u8(REC_CHUNK).u64(position.next_seq).hash(&position.link);
        self.points.append_synced(w.as_slice())?;
        self.position = position;
        self.stats.chunks = self.stats.chunks.saturating_add(1);
        device.publish_chunk(&self.stream, chunk.encode());
        Ok(())
    }

    /// The owner withdrew the consent: nothing from the first epoch that
    /// starts at or after the revocation leaves any more (the open chunk is
    /// published first). The revocation must be the owner's, of this
    /// stream's consent record.
    pub fn revoke(
        &mut self,
        device: &Device,
        revocation: &SignedRevocation,
    ) -> Result<u64, SellerError> {
        let r = &revocation.revocation;
        if r.consent != self.terms.consent || r.owner != self.consent.record.owner {
            return Err(SellerError::NotOurConsent);
        }
        revocation
            .verify()
            .map_err(|e| SellerError::Consent(e.to_string()))?;
        self.flush(device)?;
        let path = device.stream_dir(&self.stream).join(REVOCATION_FILE);
        let stored = read_revocation(&path, &self.genesis)?
            .filter(|(_, kept)| kept.revocation.consent == r.consent);
        let from = match stored {
            // Already in force (a restart, or the same one given again).
            Some((from, _)) => from,
            None => {
                let from = self
                    .terms
                    .epoch
                    .epoch_of(self.next_seq(), r.revoked_at.0)
                    .max(self.current_epoch(self.clock.now()))
                    .saturating_add(1);
                write_synced(
                    &path,
                    &format!("{from} {}\n", hex::encode(revocation.encode())),
                )?;
                from
            }
        };
        self.revoked_from_epoch = Some(from);
        self.filter.revoke(r.revoked_at);
        Ok(from)
    }

    /// This device's account.
    pub fn seller(&self) -> AccountId {
        self.me
    }
}

/// The point of what the filter released, named by its schema index
/// (`map`: the schema index of each consent field; `u8::MAX` for a field
/// the schema lacks, which [`Seller::push`] withholds).
fn point_of(map: &[u8], r: &Released<'_>) -> Point {
    let index = map.get(r.field).copied().unwrap_or(u8::MAX);
    Point::from_form(index, &r.form)
}
