//! Segment files: creating one whole, and finding a block in a sealed one.
//!
//! Only the open segment keeps every record's offset in memory. A sealed segment is
//! found through its sparse index: the offset of every `LOG_INDEX_STRIDE_BLOCKS`-th
//! block, written beside it at seal time as `<segment>.idx`:
//!
//! ```text
//! magic "TINGIDX1" (8) | version u32 (= 1) | first height u64 | blocks u64 | stride u32
//!   | count u32 | offset u64 × count | crc32c u32 (of everything before it)
//! ```
//!
//! A read steps from the nearest indexed block over at most `stride - 1` record headers.
//! The index is derived data: it is not fsynced, and one that is missing or fails its
//! checks is rebuilt by stepping over every record header of the segment (with a
//! warning), so a segment restored from an archive without its index still reads.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use ting_core::limits::{LOG_INDEX_BYTES_MAX, LOG_INDEX_STRIDE_BLOCKS};
use ting_core::{BlockHeight, Hash32};

use super::disk::{Disk, FileKind};
use super::format::{self, segment_file_name, INDEX_SUFFIX, RECORDS_START, TMP_SUFFIX};
use super::manifest::SegmentInfo;
use super::{io_error, LogError};

const INDEX_MAGIC: [u8; 8] = *b"TINGIDX1";
const INDEX_VERSION: u32 = 1;
/// `magic | version | first | blocks | stride | count`.
const INDEX_HEADER_BYTES: usize = 8 + 4 + 8 + 8 + 4 + 4;

/// Creates the segment starting at `first` whole: header to a temporary file, fsync,
/// rename, fsync the directory. A crash leaves no segment or a whole, empty one.
pub(super) fn create(
    disk: &Disk,
    dir: &Path,
    genesis_hash: &Hash32,
    first: BlockHeight,
) -> Result<PathBuf, LogError> {
    let path = dir.join(segment_file_name(first));
    let tmp = dir.join(format!("{}{TMP_SUFFIX}", segment_file_name(first)));
    let header = format::segment_header(genesis_hash, first);
    disk.write_whole(FileKind::NewSegment, (&tmp, &path), &header, true)?;
    Ok(path)
}

/// The path of the index of the segment starting at `first`.
fn index_path(dir: &Path, first: BlockHeight) -> PathBuf {
    dir.join(format!("{:020}{INDEX_SUFFIX}", first.0))
}

/// Where every `stride`-th block of a sealed segment starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SparseIndex {
    first: BlockHeight,
    blocks: u64,
    stride: u64,
    /// `offsets[k]` is where block `first + k * stride` starts.
    offsets: Vec<u64>,
}

impl SparseIndex {
    /// The index of a segment starting at `first` whose records start at `offsets`.
    pub fn from_offsets(first: BlockHeight, offsets: &[u64]) -> SparseIndex {
        let stride = LOG_INDEX_STRIDE_BLOCKS;
        let step = usize::try_from(stride).expect("a small stride");
        SparseIndex {
            first,
            blocks: offsets.len() as u64,
            stride,
            offsets: offsets.iter().step_by(step).copied().collect(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INDEX_HEADER_BYTES + 8 * self.offsets.len() + 4);
        out.extend_from_slice(&INDEX_MAGIC);
        out.extend_from_slice(&INDEX_VERSION.to_le_bytes());
        out.extend_from_slice(&self.first.0.to_le_bytes());
        out.extend_from_slice(&self.blocks.to_le_bytes());
        let stride = u32::try_from(self.stride).expect("a small stride");
        out.extend_from_slice(&stride.to_le_bytes());
        let count = u32::try_from(self.offsets.len()).expect("bounded by the segment size");
        out.extend_from_slice(&count.to_le_bytes());
        for offset in &self.offsets {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses an index file and checks it against the segment the manifest describes.
    pub fn decode(bytes: &[u8], info: &SegmentInfo) -> Result<SparseIndex, String> {
        let body_len = bytes
            .len()
            .checked_sub(4)
            .filter(|n| *n >= INDEX_HEADER_BYTES)
            .ok_or("too short")?;
        let (body, crc) = bytes.split_at(body_len);
        let stored = u32::from_le_bytes(crc.try_into().map_err(|_| "too short")?);
        if crc32c::crc32c(body) != stored || body[..8] != INDEX_MAGIC {
            return Err("not an index, or damaged".into());
        }
        let u32_at = |i: usize| u32::from_le_bytes(body[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(body[i..i + 8].try_into().expect("8 bytes"));
        if u32_at(8) != INDEX_VERSION {
            return Err(format!("index version {}", u32_at(8)));
        }
        let index = SparseIndex {
            first: BlockHeight(u64_at(12)),
            blocks: u64_at(20),
            stride: u64::from(u32_at(28)),
            offsets: body[INDEX_HEADER_BYTES..]
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        };
        let count = u64::from(u32_at(32));
        index.check(info, count)?;
        Ok(index)
    }

    fn check(&self, info: &SegmentInfo, count: u64) -> Result<(), String> {
        let blocks = info.last.0 - info.first.0 + 1;
        let ascending = self.offsets.windows(2).all(|w| w[0] < w[1]);
        let sane = self.first == info.first
            && self.blocks == blocks
            && self.stride >= 1
            && self.offsets.len() as u64 == count
            && Some(count) == blocks.checked_add(self.stride - 1).map(|n| n / self.stride)
            && self.offsets.first() == Some(&RECORDS_START)
            && ascending
            && self.offsets.last().is_some_and(|o| *o <= info.last_offset);
        if !sane {
            return Err("it does not describe this segment".into());
        }
        Ok(())
    }

    /// The indexed block at or below `height`, and where it starts.
    fn checkpoint(&self, height: BlockHeight) -> (BlockHeight, u64) {
        let k = (height.0 - self.first.0) / self.stride;
        let index = usize::try_from(k).expect("within the index");
        (
            BlockHeight(self.first.0 + k * self.stride),
            self.offsets[index],
        )
    }
}

/// Writes the index of a segment being sealed: whole, through a temporary file, not
/// fsynced (it is derived data, checked when read).
pub(super) fn write_index(disk: &Disk, dir: &Path, index: &SparseIndex) -> Result<(), LogError> {
    let path = index_path(dir, index.first);
    let tmp = dir.join(format!("{:020}{INDEX_SUFFIX}{TMP_SUFFIX}", index.first.0));
    disk.write_whole(
        FileKind::SegmentIndex,
        (&tmp, &path),
        &index.encode(),
        false,
    )
}

/// A sealed segment open for reading: its file, its index, and where the last read
/// ended (reads in height order step from there).
#[derive(Debug)]
pub(super) struct SealedSegment {
    pub info: SegmentInfo,
    path: PathBuf,
    file: File,
    index: SparseIndex,
    /// The last block read and where its record ends.
    last_read: Mutex<Option<(BlockHeight, u64)>>,
}

impl SealedSegment {
    /// Opens the segment for a read of `height` (which names the errors). A file that
    /// is not in the directory answers [`LogError::Archived`].
    pub fn open(
        disk: &Disk,
        dir: &Path,
        info: &SegmentInfo,
        height: BlockHeight,
    ) -> Result<SealedSegment, LogError> {
        let path = dir.join(info.file_name());
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LogError::Archived { height, path });
            }
            Err(e) => return Err(io_error("open", &path)(e)),
        };
        let index = match read_index(disk, dir, info) {
            Ok(index) => index,
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "block log: rebuilding the index of a sealed segment by reading its record headers");
                rebuild_index(disk, &file, &path, info, height)?
            }
        };
        Ok(SealedSegment::with_index(info.clone(), path, file, index))
    }

    /// A segment just sealed by this process, with the index it was sealed with.
    pub fn with_index(
        info: SegmentInfo,
        path: PathBuf,
        file: File,
        index: SparseIndex,
    ) -> SealedSegment {
        SealedSegment {
            info,
            path,
            file,
            index,
            last_read: Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Where the record of block `height` (in this segment) starts, and its length.
    pub fn span(&self, disk: &Disk, height: BlockHeight) -> Result<(u64, u64), LogError> {
        assert!(
            self.info.first <= height && height <= self.info.last,
            "the block lies in this segment"
        );
        if height == self.info.last {
            return Ok((
                self.info.last_offset,
                self.info.bytes - self.info.last_offset,
            ));
        }
        let (mut at, mut offset) = self.index.checkpoint(height);
        let memo = *self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((read, end)) = memo.filter(|(read, _)| *read >= at && *read < height) {
            (at, offset) = (BlockHeight(read.0 + 1), end);
        }
        let read = |buf: &mut [u8], off: u64| disk.read_at(FileKind::Sealed, &self.file, buf, off);
        // Bounded: at most `stride` records, each at least a header long.
        loop {
            let len = format::read_record_len_at(&read, offset, self.info.bytes)
                .map_err(io_error("read a block from", &self.path))?
                .map_err(|reason| self.corrupt(height, offset, reason))?;
            if at == height {
                *self
                    .last_read
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some((height, offset + len));
                return Ok((offset, len));
            }
            at = BlockHeight(at.0 + 1);
            offset += len;
        }
    }

    fn corrupt(&self, height: BlockHeight, offset: u64, reason: String) -> LogError {
        LogError::CorruptRead {
            path: self.path.clone(),
            height,
            offset,
            reason,
        }
    }
}

fn read_index(disk: &Disk, dir: &Path, info: &SegmentInfo) -> Result<SparseIndex, String> {
    let path = index_path(dir, info.first);
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > LOG_INDEX_BYTES_MAX {
        return Err(format!("{} is {len} bytes long", path.display()));
    }
    let mut bytes = vec![0u8; usize::try_from(len).map_err(|e| e.to_string())?];
    disk.read_at(FileKind::SegmentIndex, &file, &mut bytes, 0)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    SparseIndex::decode(&bytes, info).map_err(|e| format!("{}: {e}", path.display()))
}

/// Builds a segment's index by stepping over every record header in it.
fn rebuild_index(
    disk: &Disk,
    file: &File,
    path: &Path,
    info: &SegmentInfo,
    height: BlockHeight,
) -> Result<SparseIndex, LogError> {
    let read = |buf: &mut [u8], off: u64| disk.read_at(FileKind::Sealed, file, buf, off);
    let blocks = info.last.0 - info.first.0 + 1;
    let stride = LOG_INDEX_STRIDE_BLOCKS;
    let mut sparse = Vec::new();
    let mut offset = RECORDS_START;
    let mut last = offset;
    let corrupt = |offset: u64, reason: String| LogError::CorruptRead {
        path: path.to_path_buf(),
        height,
        offset,
        reason: format!("while rebuilding the segment's index: {reason}"),
    };
    for i in 0..blocks {
        if i % stride == 0 {
            sparse.push(offset);
        }
        last = offset;
        offset += format::read_record_len_at(&read, offset, info.bytes)
            .map_err(io_error("read", path))?
            .map_err(|reason| corrupt(offset, reason))?;
    }
    if offset != info.bytes || last != info.last_offset {
        let reason = format!(
            "its records end at byte {offset}, the manifest says {}",
            info.bytes
        );
        return Err(corrupt(offset, reason));
    }
    Ok(SparseIndex {
        first: info.first,
        blocks,
        stride,
        offsets: sparse,
    })
}
