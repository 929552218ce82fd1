//! The block log's bytes: file header, record framing, and reading one record back.
//!
//! The layout is specified in the `log` module's documentation; this file is the only
//! code that knows it. Reading a record checks its framing and checksum and decodes the
//! block, and reports what is wrong as a sentence, because recovery puts that sentence in
//! its report and its warnings.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use ting_core::limits::{BLOCK_BYTES_MAX, WRITE_GROUP_BYTES_MAX};
use ting_core::{Block, Hash32};

/// The block log's file name inside the node's log directory.
pub const FILE_NAME: &str = "blocks.log";
/// The file's first eight bytes (the `1` is part of the name, not the version).
pub const FILE_MAGIC: [u8; 8] = *b"TINGLOG1";
/// The only file format version this code reads and writes. Version 1 records carried
/// no group number, so recovery could not tell the last write group from earlier ones.
/// Version 4 holds blocks of wire version 2 (docs/wire.md: headers with the genesis
/// hash and the state root); versions 1 to 3 hold blocks of earlier formats, which this
/// code cannot read.
pub const FORMAT_VERSION: u32 = 4;
/// The last format version whose blocks are of an earlier wire format.
pub const FORMAT_VERSION_WIRE_1_MAX: u32 = 3;
/// `magic [8] | version u32 LE | genesis hash [32]`.
pub const FILE_HEADER_BYTES: usize = 8 + 4 + 32;
/// Where the first record starts.
pub const RECORDS_START: u64 = FILE_HEADER_BYTES as u64;
/// The first four bytes of every record: `b"TBLK"` read as a little-endian u32.
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"TBLK");
/// `magic u32 LE | payload length u32 LE | group u64 LE | flags u8 | crc32c u32 LE`.
pub const RECORD_HEADER_BYTES: usize = 4 + 4 + 8 + 1 + 4;
/// Where the checksum lies in a record header; it covers every byte of the record
/// before it and the payload after it.
const CRC_AT: usize = RECORD_HEADER_BYTES - 4;
/// Flags bit 0: the record is the last of its write group (the group's fsync followed it).
pub const FLAG_LAST_OF_GROUP: u8 = 0x01;

// A single block must fit in one group commit, or a block could not be appended at all.
const _: () = assert!(BLOCK_BYTES_MAX + RECORD_HEADER_BYTES <= WRITE_GROUP_BYTES_MAX);
// Record lengths are stored in a u32.
const _: () = assert!(BLOCK_BYTES_MAX <= u32::MAX as usize);

/// The file header for a log of the network whose genesis hash is `genesis_hash`.
pub fn file_header(genesis_hash: &Hash32) -> [u8; FILE_HEADER_BYTES] {
    let mut out = [0u8; FILE_HEADER_BYTES];
    out[..8].copy_from_slice(&FILE_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..].copy_from_slice(&genesis_hash.0);
    out
}

/// What a file header says, or why it is not one.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderCheck {
    Genesis(Hash32),
    NotALog,
    Version(u32),
}

pub fn parse_file_header(bytes: &[u8; FILE_HEADER_BYTES]) -> HeaderCheck {
    if bytes[..8] != FILE_MAGIC {
        return HeaderCheck::NotALog;
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return HeaderCheck::Version(version);
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[12..]);
    HeaderCheck::Genesis(Hash32(hash))
}

/// Where a record stands among the write groups: each group ends with one fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    /// The group's number: 1 for the first group of the file, then one more per group.
    pub group: u64,
    /// Whether this is the group's last record.
    pub last: bool,
}

/// Appends one record framing `payload` (an encoded block) to `out`.
pub fn push_record(out: &mut Vec<u8>, payload: &[u8], grouping: Grouping) {
    assert!(
        payload.len() <= BLOCK_BYTES_MAX,
        "record payload over BLOCK_BYTES_MAX"
    );
    assert!(grouping.group >= 1, "group numbers start at 1");
    let len = u32::try_from(payload.len()).expect("BLOCK_BYTES_MAX fits in a u32");
    let flags = if grouping.last { FLAG_LAST_OF_GROUP } else { 0 };
    let start = out.len();
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&grouping.group.to_le_bytes());
    out.push(flags);
    let crc = record_crc(&out[start..], payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The checksum of a record: its header up to the checksum, then its payload. Covering
/// the group number and flags means a torn or flipped header cannot forge either.
fn record_crc(covered: &[u8], payload: &[u8]) -> u32 {
    debug_assert_eq!(covered.len(), CRC_AT);
    crc32c::crc32c_append(crc32c::crc32c(covered), payload)
}

/// The framing of one record, checked against the bytes left in the file.
#[derive(Debug, Clone, Copy)]
pub struct RecordHeader {
    pub payload_len: usize,
    pub grouping: Grouping,
    pub crc: u32,
    /// The header's bytes before the checksum, which the checksum covers.
    covered: [u8; CRC_AT],
}

impl RecordHeader {
    /// The whole record's length, framing included.
    pub fn record_len(&self) -> u64 {
        (RECORD_HEADER_BYTES + self.payload_len) as u64
    }
}

/// Checks the framing of a record with `remaining` bytes from its start to the end of file.
pub fn parse_record_header(
    bytes: &[u8; RECORD_HEADER_BYTES],
    remaining: u64,
) -> Result<RecordHeader, String> {
    let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let magic = word(0);
    if magic != RECORD_MAGIC {
        return Err(format!(
            "bad record magic {magic:#010x} (expected {RECORD_MAGIC:#010x})"
        ));
    }
    let payload_len = word(4) as usize;
    if payload_len > BLOCK_BYTES_MAX {
        return Err(format!(
            "record length {payload_len} is over the block limit {BLOCK_BYTES_MAX}"
        ));
    }
    let mut group = [0u8; 8];
    group.copy_from_slice(&bytes[8..16]);
    let flags = bytes[16];
    if flags & !FLAG_LAST_OF_GROUP != 0 {
        return Err(format!("unknown record flags {flags:#04x}"));
    }
    let mut covered = [0u8; CRC_AT];
    covered.copy_from_slice(&bytes[..CRC_AT]);
    let header = RecordHeader {
        payload_len,
        grouping: Grouping {
            group: u64::from_le_bytes(group),
            last: flags & FLAG_LAST_OF_GROUP != 0,
        },
        crc: word(CRC_AT),
        covered,
    };
    if header.record_len() > remaining {
        return Err(format!(
            "torn record: it claims {payload_len} payload bytes but only {} remain in the file",
            remaining.saturating_sub(RECORD_HEADER_BYTES as u64)
        ));
    }
    Ok(header)
}

/// Checks the record's checksum, over its header and `payload`.
pub fn check_crc(header: &RecordHeader, payload: &[u8]) -> Result<(), String> {
    let crc = record_crc(&header.covered, payload);
    if crc != header.crc {
        return Err(format!(
            "checksum mismatch (stored {:#010x}, computed {crc:#010x})",
            header.crc
        ));
    }
    Ok(())
}

/// Checks the record's checksum and decodes the block.
pub fn decode_payload(header: &RecordHeader, payload: &[u8]) -> Result<Block, String> {
    check_crc(header, payload)?;
    Block::decode(payload).map_err(|e| format!("the payload is not a block: {e}"))
}

/// A good record: its block and its place among the write groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub block: Block,
    pub grouping: Grouping,
}

/// Reads the record at the reader's position; `remaining` is the bytes left in the file.
/// The outer error is I/O; the inner one says why the bytes are not a good record.
pub fn read_record(
    reader: &mut impl Read,
    remaining: u64,
    payload: &mut Vec<u8>,
) -> io::Result<Result<(Record, u64), String>> {
    if remaining < RECORD_HEADER_BYTES as u64 {
        return Ok(Err(format!(
            "torn record header: only {remaining} bytes remain in the file"
        )));
    }
    let mut framing = [0u8; RECORD_HEADER_BYTES];
    reader.read_exact(&mut framing)?;
    let header = match parse_record_header(&framing, remaining) {
        Ok(header) => header,
        Err(reason) => return Ok(Err(reason)),
    };
    payload.resize(header.payload_len, 0);
    reader.read_exact(payload)?;
    Ok(decode_payload(&header, payload).map(|block| {
        let record = Record {
            block,
            grouping: header.grouping,
        };
        (record, header.record_len())
    }))
}

/// The record at `offset` if its framing and checksum hold, with its payload undecoded;
/// `None` if they do not. Recovery's search for records past damage uses it.
pub fn read_framed_at(
    file: &File,
    offset: u64,
    file_len: u64,
) -> io::Result<Option<(RecordHeader, Vec<u8>)>> {
    let remaining = file_len.saturating_sub(offset);
    if remaining < RECORD_HEADER_BYTES as u64 {
        return Ok(None);
    }
    let mut framing = [0u8; RECORD_HEADER_BYTES];
    file.read_exact_at(&mut framing, offset)?;
    let Ok(header) = parse_record_header(&framing, remaining) else {
        return Ok(None);
    };
    let mut payload = vec![0u8; header.payload_len];
    file.read_exact_at(&mut payload, offset + RECORD_HEADER_BYTES as u64)?;
    Ok(check_crc(&header, &payload)
        .ok()
        .map(|()| (header, payload)))
}

/// Reads and checks the whole record of `record_len` bytes at `offset`.
pub fn read_record_at(
    file: &File,
    offset: u64,
    record_len: u64,
) -> io::Result<Result<Block, String>> {
    let len = usize::try_from(record_len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record length over usize"))?;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, offset)?;
    if bytes.len() < RECORD_HEADER_BYTES {
        return Ok(Err(format!("{record_len} bytes cannot hold a record")));
    }
    let mut framing = [0u8; RECORD_HEADER_BYTES];
    framing.copy_from_slice(&bytes[..RECORD_HEADER_BYTES]);
    let header = match parse_record_header(&framing, record_len) {
        Ok(header) => header,
        Err(reason) => return Ok(Err(reason)),
    };
    if header.record_len() != record_len {
        return Ok(Err(format!(
            "record length {} differs from the {record_len} bytes indexed for it",
            header.record_len()
        )));
    }
    Ok(decode_payload(&header, &bytes[RECORD_HEADER_BYTES..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Chain;

    fn framed(block: &Block, grouping: Grouping) -> Vec<u8> {
        let mut bytes = Vec::new();
        push_record(&mut bytes, &block.encode(), grouping);
        bytes
    }

    fn read(bytes: &[u8]) -> Result<(Record, u64), String> {
        let mut payload = Vec::new();
        read_record(&mut &bytes[..], bytes.len() as u64, &mut payload).expect("in-memory read")
    }

    #[test]
    fn a_record_reads_back_as_the_block_and_grouping_it_frames() {
        let block = Chain::new().push(3);
        for (group, last) in [(1, false), (1, true), (7, true), (u64::MAX, false)] {
            let grouping = Grouping { group, last };
            let bytes = framed(&block, grouping);
            let record = Record {
                block: block.clone(),
                grouping,
            };
            assert_eq!(read(&bytes), Ok((record, bytes.len() as u64)));
        }
    }

    #[test]
    fn a_record_is_laid_out_as_documented() {
        let block = Chain::new().push(1);
        let payload = block.encode();
        let bytes = framed(
            &block,
            Grouping {
                group: 0x0102_0304_0506_0708,
                last: true,
            },
        );
        assert_eq!(&bytes[0..4], b"TBLK");
        let len = u32::try_from(payload.len()).expect("small");
        assert_eq!(bytes[4..8], len.to_le_bytes());
        assert_eq!(bytes[8..16], 0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(bytes[16], FLAG_LAST_OF_GROUP);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[..17]), &payload);
        assert_eq!(bytes[17..21], crc.to_le_bytes());
        assert_eq!(bytes[21..], payload[..]);
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_record_header_is_caught() {
        let block = Chain::new().push(1);
        let bytes = framed(
            &block,
            Grouping {
                group: 5,
                last: false,
            },
        );
        for at in 0..RECORD_HEADER_BYTES {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert!(read(&damaged).is_err(), "flip of bit {bit} of byte {at}");
            }
        }
    }

    #[test]
    fn a_file_header_round_trips_and_foreign_headers_are_named() {
        let hash = Hash32::digest(&[b"g"]);
        let header = file_header(&hash);
        assert_eq!(parse_file_header(&header), HeaderCheck::Genesis(hash));
        let mut other = header;
        other[8] = 1;
        assert_eq!(parse_file_header(&other), HeaderCheck::Version(1));
        other[0] = b'X';
        assert_eq!(parse_file_header(&other), HeaderCheck::NotALog);
    }
}
