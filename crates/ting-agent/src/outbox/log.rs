//! The outbox's bytes: one record's encoding and the checks that find a torn tail.
//!
//! A record is `len u32 | crc32c u32 | body [len]`, little-endian; the CRC-32C
//! covers the four `len` bytes and the body. A body is `op u8 | id u64`, and
//! for `OP_ADD` also `kind u8 | data`. `data` is a transaction's canonical
//! bytes (`KIND_TX`) or `recipient [32] | envelope bytes` (`KIND_ENVELOPE`).

use ting_core::AccountId;

use super::Item;

/// The first bytes of every outbox file; a later format changes the last two.
pub const FILE_MAGIC: &[u8; 8] = b"TGOBOX02";
/// The magic of outboxes written for wire version 1, whose transactions no
/// node of wire version 2 takes.
pub const FILE_MAGIC_WIRE_1: &[u8; 8] = b"TGOBOX01";
/// Bytes before a record's body.
pub const RECORD_HEADER_BYTES: usize = 8;
/// Longest data one item may carry: an envelope at its 64 KiB payload limit
/// with its header and signature, and room to spare.
pub const ITEM_BYTES_MAX: usize = 70 * 1024;
/// Longest record body: op, id, kind, recipient and the data.
pub const RECORD_BODY_BYTES_MAX: usize = 1 + 8 + 1 + 32 + ITEM_BYTES_MAX;

const OP_ADD: u8 = 1;
const OP_DONE: u8 = 2;
const KIND_TX: u8 = 1;
const KIND_ENVELOPE: u8 = 2;

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Add { id: u64, item: Item },
    Done { id: u64 },
}

/// The record's bytes, header included.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut body = Vec::new();
    match record {
        Record::Add { id, item } => {
            body.push(OP_ADD);
            body.extend_from_slice(&id.to_le_bytes());
            match item {
                Item::Tx(bytes) => {
                    body.push(KIND_TX);
                    body.extend_from_slice(bytes);
                }
                Item::Envelope { recipient, bytes } => {
                    body.push(KIND_ENVELOPE);
                    body.extend_from_slice(recipient.as_bytes());
                    body.extend_from_slice(bytes);
                }
            }
        }
        Record::Done { id } => {
            body.push(OP_DONE);
            body.extend_from_slice(&id.to_le_bytes());
        }
    }
    assert!(
        body.len() <= RECORD_BODY_BYTES_MAX,
        "items are checked before encoding"
    );
    let len = u32::try_from(body.len()).expect("bounded by RECORD_BODY_BYTES_MAX");
    let mut out = Vec::with_capacity(RECORD_HEADER_BYTES + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), &body);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// The whole records at the start of `bytes` and how many bytes they span.
/// Reading stops at the first record that is cut short, fails its CRC or does
/// not decode: appends are synced one by one, so only the last can be torn.
pub fn decode_all(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some((record, len)) = decode_one(&bytes[at..]) {
        records.push(record);
        at += len;
    }
    (records, at)
}

fn decode_one(bytes: &[u8]) -> Option<(Record, usize)> {
    let len_bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    if len > RECORD_BODY_BYTES_MAX {
        return None;
    }
    let body = bytes.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len)?;
    if crc32c::crc32c_append(crc32c::crc32c(&len_bytes), body) != crc {
        return None;
    }
    Some((decode_body(body)?, RECORD_HEADER_BYTES + len))
}

fn decode_body(body: &[u8]) -> Option<Record> {
    let (&op, rest) = body.split_first()?;
    let id = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let rest = &rest[8..];
    match op {
        OP_DONE if rest.is_empty() => Some(Record::Done { id }),
        OP_ADD => {
            let (&kind, data) = rest.split_first()?;
            let item = match kind {
                KIND_TX => Item::Tx(data.to_vec()),
                KIND_ENVELOPE => Item::Envelope {
                    recipient: AccountId(data.get(..32)?.try_into().ok()?),
                    bytes: data[32..].to_vec(),
                },
                _ => return None,
            };
            Some(Record::Add { id, item })
        }
        _ => None,
    }
}
