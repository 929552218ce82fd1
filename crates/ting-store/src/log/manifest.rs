//! The manifest: the list of sealed segments, which vouches for them so that recovery
//! need not read them.
//!
//! A text file, so that an operator can read which heights each segment holds before
//! archiving or restoring one:
//!
//! ```text
//! ting block log manifest, format 5
//! genesis <genesis hash, 64 hex digits>
//! segment <file name> first <height> last <height> bytes <length> last_offset <offset> last_hash <64 hex> crc32c <8 hex>
//! ... one line per sealed segment, in height order ...
//! end segments <count> crc32c <8 hex>
//! ```
//!
//! The last line's crc32c covers every byte before it; a segment's covers the whole
//! segment file, and `last_offset` is where its last record starts (so the block at a
//! segment's end, which a snapshot may name, is read without an index). Segments follow
//! each other: the first starts at height 1 and each at the height after the last of the
//! one before. The manifest is rewritten whole at every seal (temporary file, fsync,
//! rename, fsync the directory), so a crash leaves the old list or the new one.

use std::fs::File;
use std::path::Path;

use ting_core::limits::LOG_MANIFEST_BYTES_MAX;
use ting_core::{BlockHeight, Hash32};

use super::disk::{Disk, FileKind};
use super::format::{
    segment_file_name, FORMAT_VERSION, MANIFEST_FILE_NAME, RECORDS_START, TMP_SUFFIX,
};
use super::{io_error, LogError};

/// What the manifest says of one sealed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Height of its first block.
    pub first: BlockHeight,
    /// Height of its last block.
    pub last: BlockHeight,
    /// Its length in bytes, header included.
    pub bytes: u64,
    /// Where its last record starts.
    pub last_offset: u64,
    /// The hash of its last block's header.
    pub last_hash: Hash32,
    /// CRC-32C (Castagnoli) of all its bytes, computed as it was written.
    pub crc32c: u32,
}

impl SegmentInfo {
    /// Its file name in the log directory.
    pub fn file_name(&self) -> String {
        segment_file_name(self.first)
    }
}

const TITLE: &str = "ting block log manifest, format";

/// The manifest's text for `segments` of the network of `genesis`.
pub fn encode(genesis: &Hash32, segments: &[SegmentInfo]) -> String {
    let mut text = format!("{TITLE} {FORMAT_VERSION}\ngenesis {}\n", genesis.to_hex());
    for s in segments {
        text.push_str(&format!(
            "segment {} first {} last {} bytes {} last_offset {} last_hash {} crc32c {:08x}\n",
            s.file_name(),
            s.first.0,
            s.last.0,
            s.bytes,
            s.last_offset,
            s.last_hash.to_hex(),
            s.crc32c
        ));
    }
    let crc = crc32c::crc32c(text.as_bytes());
    text.push_str(&format!(
        "end segments {} crc32c {crc:08x}\n",
        segments.len()
    ));
    text
}

/// Writes the manifest of `dir` atomically and durably.
pub fn write(
    disk: &Disk,
    dir: &Path,
    genesis: &Hash32,
    segments: &[SegmentInfo],
) -> Result<(), LogError> {
    let path = dir.join(MANIFEST_FILE_NAME);
    let tmp = dir.join(format!("{MANIFEST_FILE_NAME}{TMP_SUFFIX}"));
    let text = encode(genesis, segments);
    disk.write_whole(FileKind::Manifest, (&tmp, &path), text.as_bytes(), true)
}

/// The sealed segments the manifest of `dir` lists; `None` if it has no manifest.
pub fn read(
    disk: &Disk,
    dir: &Path,
    genesis: &Hash32,
) -> Result<Option<Vec<SegmentInfo>>, LogError> {
    let path = dir.join(MANIFEST_FILE_NAME);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("open", &path)(e)),
    };
    let len = file
        .metadata()
        .map_err(io_error("read the size of", &path))?
        .len();
    let damaged = |reason: String| LogError::ManifestDamaged {
        path: path.clone(),
        reason,
    };
    if len > LOG_MANIFEST_BYTES_MAX {
        return Err(damaged(format!(
            "it is {len} bytes long, over the limit of {LOG_MANIFEST_BYTES_MAX}"
        )));
    }
    let mut bytes = vec![0u8; usize::try_from(len).map_err(|_| damaged("too long".into()))?];
    disk.read_at(FileKind::Manifest, &file, &mut bytes, 0)
        .map_err(io_error("read", &path))?;
    let text = String::from_utf8(bytes).map_err(|_| damaged("it is not UTF-8 text".into()))?;
    match decode(&text) {
        Ok(Decoded::Manifest {
            genesis: found,
            segments,
        }) if found == *genesis => Ok(Some(segments)),
        Ok(Decoded::Manifest { genesis: found, .. }) => Err(LogError::WrongGenesis {
            path,
            found,
            expected: *genesis,
        }),
        Ok(Decoded::Version(found)) => Err(LogError::UnsupportedVersion {
            path,
            found,
            supported: FORMAT_VERSION,
        }),
        Err(reason) => Err(damaged(reason)),
    }
}

/// A manifest's content, or the format version it says it has if not this one.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Manifest {
        genesis: Hash32,
        segments: Vec<SegmentInfo>,
    },
    Version(u32),
}

/// Parses and checks a manifest's text, saying what is wrong as a sentence.
pub fn decode(text: &str) -> Result<Decoded, String> {
    if !text.ends_with('\n') {
        return Err("it does not end with a whole line: it may have been cut short".into());
    }
    let Some(body_len) = text.trim_end_matches('\n').rfind('\n').map(|i| i + 1) else {
        return Err("it has fewer than three lines".into());
    };
    let (body, end) = text.split_at(body_len);
    let mut lines = body.lines();
    let version = lines
        .next()
        .and_then(|l| l.strip_prefix(TITLE))
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or("its first line is not the manifest's title")?;
    if version != FORMAT_VERSION {
        return Ok(Decoded::Version(version));
    }
    let (count, crc) = parse_end(end)?;
    let computed = crc32c::crc32c(body.as_bytes());
    if computed != crc {
        return Err(format!(
            "checksum mismatch (stored {crc:08x}, computed {computed:08x})"
        ));
    }
    let genesis = lines
        .next()
        .and_then(|l| l.strip_prefix("genesis "))
        .and_then(Hash32::from_hex)
        .ok_or("its second line does not name the genesis hash")?;
    let segments = lines.map(parse_segment).collect::<Result<Vec<_>, _>>()?;
    if segments.len() as u64 != count {
        return Err(format!(
            "it lists {} segments but its last line says {count}",
            segments.len()
        ));
    }
    check_sequence(&segments)?;
    Ok(Decoded::Manifest { genesis, segments })
}

fn parse_end(line: &str) -> Result<(u64, u32), String> {
    let words: Vec<&str> = line.trim_end_matches('\n').split(' ').collect();
    match words.as_slice() {
        ["end", "segments", count, "crc32c", crc] => {
            let count = count.parse().map_err(|_| format!("bad segment count {count:?}"))?;
            let crc = u32::from_str_radix(crc, 16).map_err(|_| format!("bad checksum {crc:?}"))?;
            Ok((count, crc))
        }
        _ => Err("its last line is not `end segments <count> crc32c <checksum>`: it may have been cut short".into()),
    }
}

fn parse_segment(line: &str) -> Result<SegmentInfo, String> {
    let bad = || format!("bad segment line {line:?}");
    let words: Vec<&str> = line.split(' ').collect();
    let ["segment", name, "first", first, "last", last, "bytes", bytes, "last_offset", last_offset, "last_hash", hash, "crc32c", crc] =
        words.as_slice()
    else {
        return Err(bad());
    };
    let number = |w: &str| w.parse::<u64>().map_err(|_| bad());
    let info = SegmentInfo {
        first: BlockHeight(number(first)?),
        last: BlockHeight(number(last)?),
        bytes: number(bytes)?,
        last_offset: number(last_offset)?,
        last_hash: Hash32::from_hex(hash).ok_or_else(bad)?,
        crc32c: u32::from_str_radix(crc, 16).map_err(|_| bad())?,
    };
    let sane = *name == info.file_name()
        && info.first.0 >= 1
        && info.last >= info.first
        && info.last_offset >= RECORDS_START
        && info.last_offset < info.bytes;
    if !sane {
        return Err(bad());
    }
    Ok(info)
}

/// Segments must cover heights 1, 2, ... with no gap and no overlap.
fn check_sequence(segments: &[SegmentInfo]) -> Result<(), String> {
    let mut next = BlockHeight(1);
    for s in segments {
        if s.first != next {
            return Err(format!(
                "segment {} starts at height {} where height {next} must come next",
                s.file_name(),
                s.first
            ));
        }
        next = s
            .last
            .next()
            .ok_or("a segment ends at the last possible height")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(first: u64, last: u64) -> SegmentInfo {
        SegmentInfo {
            first: BlockHeight(first),
            last: BlockHeight(last),
            bytes: 10_000 + first,
            last_offset: 9_000,
            last_hash: Hash32::digest(&[&last.to_le_bytes()]),
            crc32c: 0xdead_beef,
        }
    }

    #[test]
    fn a_manifest_round_trips_and_reads_as_documented() {
        let genesis = Hash32::digest(&[b"g"]);
        let segments = vec![segment(1, 10), segment(11, 11), segment(12, 40)];
        let text = encode(&genesis, &segments);
        assert_eq!(
            decode(&text),
            Ok(Decoded::Manifest {
                genesis,
                segments: segments.clone()
            })
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ting block log manifest, format 5");
        assert!(lines[2].starts_with("segment 00000000000000000001.log first 1 last 10 bytes 10001 last_offset 9000 last_hash "));
        assert!(lines[2].ends_with(" crc32c deadbeef"));
        assert!(lines[5].starts_with("end segments 3 crc32c "));
        let empty = encode(&genesis, &[]);
        assert_eq!(
            decode(&empty),
            Ok(Decoded::Manifest {
                genesis,
                segments: vec![]
            })
        );
    }

    #[test]
    fn any_changed_byte_a_cut_or_a_gap_is_refused() {
        let genesis = Hash32::digest(&[b"g"]);
        let text = encode(&genesis, &[segment(1, 10), segment(11, 20)]);
        let title = TITLE.len() + 2;
        for at in title..text.len() {
            let mut bytes = text.clone().into_bytes();
            bytes[at] ^= 0x01;
            let changed = String::from_utf8(bytes).expect("ASCII");
            assert!(decode(&changed).is_err(), "flip at byte {at}: {changed}");
        }
        for cut in 0..text.len() {
            assert!(decode(&text[..cut]).is_err(), "cut at byte {cut}");
        }
        let gap = encode(&genesis, &[segment(1, 10), segment(12, 20)]);
        assert!(decode(&gap).expect_err("refused").contains("height 11"));
        let other = text.replacen("format 5", "format 6", 1);
        assert_eq!(decode(&other), Ok(Decoded::Version(6)));
    }
}
