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
/// The file's first eight bytes.
pub const FILE_MAGIC: [u8; 8] = *b"TINGLOG1";
/// The only file format version this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// `magic [8] | version u32 LE | genesis hash [32]`.
pub const FILE_HEADER_BYTES: usize = 8 + 4 + 32;
/// Where the first record starts.
pub const RECORDS_START: u64 = FILE_HEADER_BYTES as u64;
/// The first four bytes of every record: `b"TBLK"` read as a little-endian u32.
pub const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"TBLK");
/// `magic u32 LE | payload length u32 LE | crc32c u32 LE`.
pub const RECORD_HEADER_BYTES: usize = 12;

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

/// Appends one record framing `payload` (an encoded block) to `out`.
pub fn push_record(out: &mut Vec<u8>, payload: &[u8]) {
    assert!(
        payload.len() <= BLOCK_BYTES_MAX,
        "record payload over BLOCK_BYTES_MAX"
    );
    let len = u32::try_from(payload.len()).expect("BLOCK_BYTES_MAX fits in a u32");
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The framing of one record, checked against the bytes left in the file.
#[derive(Debug, Clone, Copy)]
pub struct RecordHeader {
    pub payload_len: usize,
    pub crc: u32,
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
    let header = RecordHeader {
        payload_len,
        crc: word(8),
    };
    if header.record_len() > remaining {
        return Err(format!(
            "torn record: it claims {payload_len} payload bytes but only {} remain in the file",
            remaining.saturating_sub(RECORD_HEADER_BYTES as u64)
        ));
    }
    Ok(header)
}

/// Checks the payload's checksum and decodes the block.
pub fn decode_payload(header: &RecordHeader, payload: &[u8]) -> Result<Block, String> {
    let crc = crc32c::crc32c(payload);
    if crc != header.crc {
        return Err(format!(
            "checksum mismatch (stored {:#010x}, computed {crc:#010x})",
            header.crc
        ));
    }
    Block::decode(payload).map_err(|e| format!("the payload is not a block: {e}"))
}

/// Reads the record at the reader's position; `remaining` is the bytes left in the file.
/// The outer error is I/O; the inner one says why the bytes are not a good record.
pub fn read_record(
    reader: &mut impl Read,
    remaining: u64,
    payload: &mut Vec<u8>,
) -> io::Result<Result<(Block, u64), String>> {
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
    Ok(decode_payload(&header, payload).map(|block| (block, header.record_len())))
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

    #[test]
    fn a_record_reads_back_as_the_block_it_frames() {
        let block = Chain::new().push(3);
        let mut bytes = Vec::new();
        push_record(&mut bytes, &block.encode());
        let mut payload = Vec::new();
        let got =
            read_record(&mut &bytes[..], bytes.len() as u64, &mut payload).expect("in-memory read");
        assert_eq!(got, Ok((block, bytes.len() as u64)));
    }

    #[test]
    fn a_file_header_round_trips_and_foreign_headers_are_named() {
        let hash = Hash32::digest(&[b"g"]);
        let header = file_header(&hash);
        assert_eq!(parse_file_header(&header), HeaderCheck::Genesis(hash));
        let mut other = header;
        other[8] = 2;
        assert_eq!(parse_file_header(&other), HeaderCheck::Version(2));
        other[0] = b'X';
        assert_eq!(parse_file_header(&other), HeaderCheck::NotALog);
    }
}
