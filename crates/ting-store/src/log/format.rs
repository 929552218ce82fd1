//! The block log's bytes: segment names and headers, record framing, and reading one
//! record back.
//!
//! The layout is specified in the `log` module's documentation; this file is the only
//! code that knows the segment and record layout (the manifest's is in `manifest.rs`,
//! the sealed-segment index's in `segment.rs`). Reading a record checks its framing and
//! checksum and decodes the block (or only its header), and reports what is wrong as a
//! sentence, because recovery puts that sentence in its report and its warnings.

use std::io::{self, Read};

use ting_core::block::HEADER_BYTES;
use ting_core::limits::{BLOCK_BYTES_MAX, WRITE_GROUP_BYTES_MAX};
use ting_core::{Block, BlockHeader, BlockHeight, Hash32};

/// The single-file log of format versions 1 to 4, refused since segments came.
pub const LEGACY_FILE_NAME: &str = "blocks.log";
/// The manifest of sealed segments, in the log directory.
pub const MANIFEST_FILE_NAME: &str = "MANIFEST";
/// Segment files are named by their first height, in 20 digits, and this suffix.
pub const SEGMENT_SUFFIX: &str = ".log";
/// A sealed segment's index sits beside it: the same name with this suffix.
pub const INDEX_SUFFIX: &str = ".idx";
/// Files being written whole carry this suffix until they are renamed into place.
pub const TMP_SUFFIX: &str = ".tmp";
/// Every segment file's first eight bytes (the `1` is part of the name, not the version).
pub const FILE_MAGIC: [u8; 8] = *b"TINGLOG1";
/// The only format version this code reads and writes. Version 5 keeps the log in
/// segments with a manifest; version 4 was one file of the same records; versions 1 to 3
/// hold blocks of earlier wire formats (version 1 records carried no group number).
pub const FORMAT_VERSION: u32 = 5;
/// The last format version whose blocks are of an earlier wire format.
pub const FORMAT_VERSION_WIRE_1_MAX: u32 = 3;
/// `magic [8] | version u32 LE | genesis hash [32] | first height u64 LE`.
pub const SEGMENT_HEADER_BYTES: usize = 8 + 4 + 32 + 8;
/// Where a segment's first record starts.
pub const RECORDS_START: u64 = SEGMENT_HEADER_BYTES as u64;
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

/// The file name of the segment whose first block is at `first`.
pub fn segment_file_name(first: BlockHeight) -> String {
    format!("{:020}{SEGMENT_SUFFIX}", first.0)
}

/// The first height a segment file name stands for, if it is one.
pub fn parse_segment_file_name(name: &str) -> Option<BlockHeight> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(BlockHeight)
}

/// The header of the segment of the network of `genesis_hash` starting at `first`.
pub fn segment_header(genesis_hash: &Hash32, first: BlockHeight) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut out = [0u8; SEGMENT_HEADER_BYTES];
    out[..8].copy_from_slice(&FILE_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..44].copy_from_slice(&genesis_hash.0);
    out[44..].copy_from_slice(&first.0.to_le_bytes());
    out
}

/// What a file header says, or why it is not one of this version.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderCheck {
    Segment { genesis: Hash32, first: BlockHeight },
    NotALog,
    Version(u32),
}

/// Reads the magic and version of any Ting log file, then (for this version) the rest of
/// a segment header. `bytes` may be short: a file too short for its header is not a log.
pub fn parse_segment_header(bytes: &[u8]) -> HeaderCheck {
    if bytes.len() < 12 || bytes[..8] != FILE_MAGIC {
        return HeaderCheck::NotALog;
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return HeaderCheck::Version(version);
    }
    if bytes.len() < SEGMENT_HEADER_BYTES {
        return HeaderCheck::NotALog;
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[12..44]);
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes[44..52]);
    HeaderCheck::Segment {
        genesis: Hash32(hash),
        first: BlockHeight(u64::from_le_bytes(first)),
    }
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

/// What a good record holds: the whole block, or (when only its place in the chain is
/// checked) its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Block(Block),
    Header(BlockHeader),
}

impl Body {
    pub fn header(&self) -> &BlockHeader {
        match self {
            Body::Block(block) => &block.header,
            Body::Header(header) => header,
        }
    }
}

/// A good record: its block (or header) and its place among the write groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub body: Body,
    pub grouping: Grouping,
}

/// Checks the record's checksum and decodes the block's header only.
pub fn decode_header(header: &RecordHeader, payload: &[u8]) -> Result<BlockHeader, String> {
    check_crc(header, payload)?;
    let bytes = payload.get(..HEADER_BYTES).ok_or_else(|| {
        format!(
            "the payload of {} bytes cannot hold a block header",
            payload.len()
        )
    })?;
    BlockHeader::from_bytes(bytes).map_err(|e| format!("the payload is not a block: {e}"))
}

/// Reads the record at the reader's position; `remaining` is the bytes left in the file.
/// With `full`, the block is decoded whole, else only its header. Every byte read is
/// added to `crc` (the segment's running checksum). The outer error is I/O; the inner
/// one says why the bytes are not a good record.
pub fn read_record(
    reader: &mut impl Read,
    remaining: u64,
    payload: &mut Vec<u8>,
    full: bool,
    crc: &mut u32,
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
    *crc = crc32c::crc32c_append(crc32c::crc32c_append(*crc, &framing), payload);
    let body = if full {
        decode_payload(&header, payload).map(Body::Block)
    } else {
        decode_header(&header, payload).map(Body::Header)
    };
    Ok(body.map(|body| {
        let record = Record {
            body,
            grouping: header.grouping,
        };
        (record, header.record_len())
    }))
}

/// Positional reads of one file: `read(buf, offset)` fills `buf` from `offset`.
pub type ReadAt<'a> = &'a dyn Fn(&mut [u8], u64) -> io::Result<()>;

/// The record at `offset` if its framing and checksum hold, with its payload undecoded;
/// `None` if they do not. Recovery's search for records past damage uses it.
pub fn read_framed_at(
    read: ReadAt<'_>,
    offset: u64,
    file_len: u64,
) -> io::Result<Option<(RecordHeader, Vec<u8>)>> {
    let remaining = file_len.saturating_sub(offset);
    if remaining < RECORD_HEADER_BYTES as u64 {
        return Ok(None);
    }
    let mut framing = [0u8; RECORD_HEADER_BYTES];
    read(&mut framing, offset)?;
    let Ok(header) = parse_record_header(&framing, remaining) else {
        return Ok(None);
    };
    let mut payload = vec![0u8; header.payload_len];
    read(&mut payload, offset + RECORD_HEADER_BYTES as u64)?;
    Ok(check_crc(&header, &payload)
        .ok()
        .map(|()| (header, payload)))
}

/// The length of the record at `offset`, from its framing, in a file of `file_len`
/// bytes. Reads of sealed segments step from record to record with it.
pub fn read_record_len_at(
    read: ReadAt<'_>,
    offset: u64,
    file_len: u64,
) -> io::Result<Result<u64, String>> {
    let remaining = file_len.saturating_sub(offset);
    if remaining < RECORD_HEADER_BYTES as u64 {
        return Ok(Err(format!(
            "torn record header: only {remaining} bytes remain in the file"
        )));
    }
    let mut framing = [0u8; RECORD_HEADER_BYTES];
    read(&mut framing, offset)?;
    Ok(parse_record_header(&framing, remaining).map(|h| h.record_len()))
}

/// Reads and checks the whole record of `record_len` bytes at `offset`.
pub fn read_record_at(
    read: ReadAt<'_>,
    offset: u64,
    record_len: u64,
) -> io::Result<Result<Block, String>> {
    read_checked_at(read, offset, record_len, decode_payload)
}

/// Reads the whole record of `record_len` bytes at `offset` and checks its checksum, but
/// decodes only the block's header.
pub fn read_header_at(
    read: ReadAt<'_>,
    offset: u64,
    record_len: u64,
) -> io::Result<Result<BlockHeader, String>> {
    read_checked_at(read, offset, record_len, decode_header)
}

fn read_checked_at<T>(
    read: ReadAt<'_>,
    offset: u64,
    record_len: u64,
    decode: fn(&RecordHeader, &[u8]) -> Result<T, String>,
) -> io::Result<Result<T, String>> {
    let len = usize::try_from(record_len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record length over usize"))?;
    if !(RECORD_HEADER_BYTES..=RECORD_HEADER_BYTES + BLOCK_BYTES_MAX).contains(&len) {
        return Ok(Err(format!("{record_len} bytes cannot hold a record")));
    }
    let mut bytes = vec![0u8; len];
    read(&mut bytes, offset)?;
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
    Ok(decode(&header, &bytes[RECORD_HEADER_BYTES..]))
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
        let mut crc = 0;
        read_record(
            &mut &bytes[..],
            bytes.len() as u64,
            &mut payload,
            true,
            &mut crc,
        )
        .expect("in-memory read")
    }

    #[test]
    fn a_record_reads_back_as_the_block_and_grouping_it_frames() {
        let block = Chain::new().push(3);
        for (group, last) in [(1, false), (1, true), (7, true), (u64::MAX, false)] {
            let grouping = Grouping { group, last };
            let bytes = framed(&block, grouping);
            let record = Record {
                body: Body::Block(block.clone()),
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
    fn a_segment_header_round_trips_and_foreign_headers_are_named() {
        let hash = Hash32::digest(&[b"g"]);
        let header = segment_header(&hash, BlockHeight(77));
        let expected = HeaderCheck::Segment {
            genesis: hash,
            first: BlockHeight(77),
        };
        assert_eq!(parse_segment_header(&header), expected);
        let mut other = header;
        other[8] = 4;
        assert_eq!(parse_segment_header(&other), HeaderCheck::Version(4));
        assert_eq!(parse_segment_header(&other[..44]), HeaderCheck::Version(4));
        assert_eq!(parse_segment_header(&header[..40]), HeaderCheck::NotALog);
        other[0] = b'X';
        assert_eq!(parse_segment_header(&other), HeaderCheck::NotALog);
    }

    #[test]
    fn segment_file_names_carry_the_first_height_in_twenty_digits() {
        let name = segment_file_name(BlockHeight(1234));
        assert_eq!(name, "00000000000000001234.log");
        assert_eq!(parse_segment_file_name(&name), Some(BlockHeight(1234)));
        for other in [
            "1234.log",
            "0000000000000000123x.log",
            "00000000000000001234.idx",
        ] {
            assert_eq!(parse_segment_file_name(other), None, "{other}");
        }
    }
}
