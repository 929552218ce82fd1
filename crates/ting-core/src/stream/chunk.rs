//! A chunk: consecutive points of one stream and epoch, signed once by the
//! seller.
//!
//! Bytes: `version u8 | stream [32] | epoch u64 | first_seq u64 |
//! prev_link [32] | count u16 | (len u16 | point) × count | signature [64]`.
//! The seller signs `CHUNK_DOMAIN || genesis || stream | epoch | first_seq |
//! prev_link | count | last_link`, where `last_link` is the link of the last
//! point (`prev_link` for an empty chunk), so the signature covers every
//! point through the links. Points are opaque here: what the consent filter
//! let out, sealed under the epoch's key.

use crate::prelude::*;

use thiserror::Error;

use super::{link, StreamId};
use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};

/// The only chunk version this code reads and writes.
pub const CHUNK_VERSION: u8 = 1;
/// Prefix of every chunk's signing message.
pub const CHUNK_DOMAIN: &[u8] = b"ting:stream-chunk:v1";
pub use crate::limits::{CHUNK_POINTS_MAX, POINT_BYTES_MAX};

/// A signed chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub stream: StreamId,
    pub epoch: u64,
    /// The sequence number of the first point; the rest follow one by one.
    pub first_seq: u64,
    /// The link of the point before the first (`Hash32::ZERO` at the
    /// stream's start).
    pub prev_link: Hash32,
    pub points: Vec<Vec<u8>>,
    pub signature: Signature,
}

/// Where a buyer stands in a stream: the link and sequence number it
/// expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub link: Hash32,
    pub next_seq: u64,
}

impl Position {
    /// The start of a stream.
    pub const START: Position = Position {
        link: Hash32::ZERO,
        next_seq: 0,
    };
}

/// Why a chunk is not taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChunkError {
    #[error("the chunk does not decode: {0}")]
    Malformed(DecodeError),
    #[error("the chunk holds {0} points; the limit is {CHUNK_POINTS_MAX} of {POINT_BYTES_MAX} bytes each")]
    TooLarge(usize),
    #[error("the chunk is not signed by the stream's seller: {0}")]
    BadSignature(SignatureError),
    #[error("the chunk starts at point {got}, not {want}: points are missing or repeated")]
    Gap { got: u64, want: u64 },
    #[error("the chunk does not continue the points already checked")]
    BrokenLink,
}

impl ChunkError {
    pub fn code(&self) -> &'static str {
        match self {
            ChunkError::Malformed(e) => e.code(),
            ChunkError::TooLarge(_) => "too_long",
            ChunkError::BadSignature(_) => "bad_signature",
            ChunkError::Gap { .. } => "stream_gap",
            ChunkError::BrokenLink => "broken_link",
        }
    }
}

/// The seller's side: points collected until the chunk is signed.
#[derive(Debug)]
pub struct ChunkBuilder {
    stream: StreamId,
    epoch: u64,
    start: Position,
    link: Hash32,
    points: Vec<Vec<u8>>,
}

impl ChunkBuilder {
    /// A chunk of `epoch` continuing from `start` (what the last chunk ended at).
    pub fn new(stream: StreamId, epoch: u64, start: Position) -> ChunkBuilder {
        ChunkBuilder {
            stream,
            epoch,
            start,
            link: start.link,
            points: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Adds a point; refused when the chunk is full or the point too long.
    pub fn push(&mut self, point: Vec<u8>) -> Result<(), ChunkError> {
        if self.points.len() >= CHUNK_POINTS_MAX || point.len() > POINT_BYTES_MAX {
            return Err(ChunkError::TooLarge(self.points.len().saturating_add(1)));
        }
        let seq = self.start.next_seq.saturating_add(self.points.len() as u64);
        self.link = link(&self.link, seq, &point);
        self.points.push(point);
        Ok(())
    }

    /// Signs the chunk as the seller, and answers it with the position the
    /// next chunk starts from.
    pub fn sign(self, key: &Keypair, genesis: &Hash32) -> (Chunk, Position) {
        let next = Position {
            link: self.link,
            next_seq: self.start.next_seq.saturating_add(self.points.len() as u64),
        };
        let header = header_bytes(
            &self.stream,
            self.epoch,
            &self.start,
            self.points.len(),
            &self.link,
        );
        let signature = key.sign_parts(&[CHUNK_DOMAIN, &genesis.0, &header]);
        let chunk = Chunk {
            stream: self.stream,
            epoch: self.epoch,
            first_seq: self.start.next_seq,
            prev_link: self.start.link,
            points: self.points,
            signature,
        };
        (chunk, next)
    }
}

/// `stream | epoch | first_seq | prev_link | count | last_link`.
fn header_bytes(
    stream: &StreamId,
    epoch: u64,
    start: &Position,
    count: usize,
    last: &Hash32,
) -> [u8; 32 + 8 + 8 + 32 + 2 + 32] {
    let mut out = [0u8; 32 + 8 + 8 + 32 + 2 + 32];
    let mut w = Writer::over(&mut out);
    w.hash(&stream.0)
        .u64(epoch)
        .u64(start.next_seq)
        .hash(&start.link)
        .count_u16(count)
        .hash(last);
    w.finish().expect("a chunk header has a fixed length");
    out
}

impl Chunk {
    pub fn encode(&self) -> Vec<u8> {
        let size = self
            .points
            .iter()
            .fold(160usize, |n, p| n.saturating_add(p.len()).saturating_add(2));
        let mut w = Writer::with_capacity(size);
        w.u8(CHUNK_VERSION)
            .hash(&self.stream.0)
            .u64(self.epoch)
            .u64(self.first_seq)
            .hash(&self.prev_link)
            .count_u16(self.points.len());
        for p in &self.points {
            w.bytes_u16(p);
        }
        w.signature(&self.signature);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Chunk, ChunkError> {
        let mut r = Reader::new(bytes);
        let malformed = ChunkError::Malformed;
        let version = r.u8("chunk version").map_err(malformed)?;
        if version != CHUNK_VERSION {
            return Err(malformed(DecodeError::UnsupportedVersion {
                what: "chunk",
                version,
            }));
        }
        let stream = StreamId(r.hash("stream").map_err(malformed)?);
        let epoch = r.u64("epoch").map_err(malformed)?;
        let first_seq = r.u64("first_seq").map_err(malformed)?;
        let prev_link = r.hash("prev_link").map_err(malformed)?;
        let count = usize::from(r.u16("point count").map_err(malformed)?);
        if count > CHUNK_POINTS_MAX {
            return Err(ChunkError::TooLarge(count));
        }
        let mut points = Vec::with_capacity(count);
        for _ in 0..count {
            let p = r.bytes_u16("point", POINT_BYTES_MAX).map_err(malformed)?;
            points.push(p.to_vec());
        }
        let signature = r.signature("signature").map_err(malformed)?;
        r.finish("chunk").map_err(malformed)?;
        Ok(Chunk {
            stream,
            epoch,
            first_seq,
            prev_link,
            points,
            signature,
        })
    }

    /// Checks the chunk as a buyer at `at` in the stream: it continues from
    /// there, and `seller` signed it on the network of `genesis`. Answers
    /// the position after it. Each point costs one hash; the chunk one
    /// signature check.
    pub fn verify(
        &self,
        genesis: &Hash32,
        seller: &AccountId,
        at: &Position,
    ) -> Result<Position, ChunkError> {
        if self.first_seq != at.next_seq {
            return Err(ChunkError::Gap {
                got: self.first_seq,
                want: at.next_seq,
            });
        }
        if self.prev_link != at.link {
            return Err(ChunkError::BrokenLink);
        }
        if self.points.len() > CHUNK_POINTS_MAX
            || self.points.iter().any(|p| p.len() > POINT_BYTES_MAX)
        {
            return Err(ChunkError::TooLarge(self.points.len()));
        }
        let mut last = self.prev_link;
        let mut seq = self.first_seq;
        for p in &self.points {
            last = link(&last, seq, p);
            seq = seq.saturating_add(1);
        }
        let header = header_bytes(&self.stream, self.epoch, at, self.points.len(), &last);
        keys::verify_parts(
            seller,
            &[CHUNK_DOMAIN, &genesis.0, &header],
            &self.signature,
        )
        .map_err(ChunkError::BadSignature)?;
        Ok(Position {
            link: last,
            next_seq: seq,
        })
    }
}
