//! Readers of the file log: positional reads of durable records, shared with the writer.
//!
//! The writer and every reader share one [`Durable`] view behind a lock: the sealed
//! segments (as the manifest lists them) and the open segment with the offset of each of
//! its records. The writer extends it only after a group's fsync returns, and swaps in a
//! new open segment only once the manifest lists the old one, so a reader can never be
//! handed a block that is not durable. Memory stays flat as history grows: full offsets
//! are kept for the open segment only; a sealed segment is read through its sparse index
//! (`segment.rs`), and at most `LOG_SEALED_SEGMENTS_OPEN_MAX` of them are kept open.
//!
//! Reads use positional reads, which leave file positions alone, so readers neither
//! disturb the writer nor each other. A record is checked again when read (framing,
//! checksum, decoding, height), because the disk under it may have gone bad since it was
//! written; damage in a sealed segment below a snapshot, which recovery does not read,
//! is found here.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ting_core::block::HEADER_BYTES;
use ting_core::limits::LOG_SEALED_SEGMENTS_OPEN_MAX;
use ting_core::{Block, BlockHeader, BlockHeight};

use super::disk::{Disk, FileKind};
use super::format::{self, RECORD_HEADER_BYTES};
use super::manifest::SegmentInfo;
use super::segment::SealedSegment;
use super::{io_error, LogError};
use crate::BlockSource;

/// A sealed segment as the log knows it.
#[derive(Debug, Clone)]
pub(super) struct Sealed {
    pub info: SegmentInfo,
    /// Not in the log directory at open (moved to an archive): reads of its blocks
    /// answer [`LogError::Archived`].
    pub archived: bool,
}

/// The segment being appended to.
#[derive(Debug)]
pub(super) struct OpenSegment {
    pub first: BlockHeight,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// `offsets[i]` is where the record of block `first + i` starts.
    pub offsets: Vec<u64>,
    /// The end of the last durable record.
    pub end: u64,
}

/// Where every durable record lies.
#[derive(Debug)]
pub(super) struct Durable {
    /// In height order, each starting at the height after the last of the one before.
    pub sealed: Vec<Sealed>,
    pub open: OpenSegment,
}

impl Durable {
    fn height(&self) -> BlockHeight {
        BlockHeight(self.open.first.0 - 1 + self.open.offsets.len() as u64)
    }

    fn locate(&self, height: BlockHeight) -> Option<Located> {
        if height.0 == 0 || height > self.height() {
            return None;
        }
        if height >= self.open.first {
            let index = usize::try_from(height.0 - self.open.first.0).ok()?;
            let start = self.open.offsets[index];
            let end = self
                .open
                .offsets
                .get(index + 1)
                .copied()
                .unwrap_or(self.open.end);
            return Some(Located::Open {
                file: Arc::clone(&self.open.file),
                path: self.open.path.clone(),
                offset: start,
                len: end - start,
            });
        }
        let at = self.sealed.partition_point(|s| s.info.last < height);
        self.sealed.get(at).cloned().map(Located::Sealed)
    }
}

enum Located {
    Open {
        file: Arc<File>,
        path: PathBuf,
        offset: u64,
        len: u64,
    },
    Sealed(Sealed),
}

/// The state a [`FileLog`](super::FileLog) shares with its readers.
#[derive(Debug)]
pub(super) struct Shared {
    pub dir: PathBuf,
    pub disk: Disk,
    pub durable: RwLock<Durable>,
    /// Sealed segments open for reading, most recently used first.
    cache: Mutex<Vec<Arc<SealedSegment>>>,
}

impl Shared {
    pub fn new(dir: PathBuf, disk: Disk, durable: Durable) -> Shared {
        Shared {
            dir,
            disk,
            durable: RwLock::new(durable),
            cache: Mutex::new(Vec::new()),
        }
    }

    // The view is only changed whole (a group's offsets, or a seal) under the lock, so a
    // panic while holding it cannot leave it half-updated in a way that matters.
    pub fn read(&self) -> RwLockReadGuard<'_, Durable> {
        self.durable.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Durable> {
        self.durable.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `segment` open for reads, dropping the least recently used past the limit.
    pub fn remember(&self, segment: Arc<SealedSegment>) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.retain(|s| s.info.first != segment.info.first);
        cache.insert(0, segment);
        cache.truncate(LOG_SEALED_SEGMENTS_OPEN_MAX);
    }

    /// How many sealed segments are open for reading.
    #[cfg(test)]
    pub fn sealed_open(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The sealed segment holding `height`, opened (and its index loaded) if need be.
    fn sealed(&self, sealed: &Sealed, height: BlockHeight) -> Result<Arc<SealedSegment>, LogError> {
        let path = || self.dir.join(sealed.info.file_name());
        if sealed.archived {
            return Err(LogError::Archived {
                height,
                path: path(),
            });
        }
        let found = {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            cache
                .iter()
                .find(|s| s.info.first == sealed.info.first)
                .cloned()
        };
        // Opened outside the lock: two readers may both open it, and one copy is kept.
        let segment = match found {
            Some(segment) => segment,
            None => Arc::new(SealedSegment::open(
                &self.disk,
                &self.dir,
                &sealed.info,
                height,
            )?),
        };
        self.remember(Arc::clone(&segment));
        Ok(segment)
    }

    /// Where the record of block `height` lies, if it is durable.
    fn find(&self, height: BlockHeight) -> Result<Option<Found>, LogError> {
        let Some(located) = self.read().locate(height) else {
            return Ok(None);
        };
        let found = match located {
            Located::Open {
                file,
                path,
                offset,
                len,
            } => Found {
                source: Source::Open(file, path),
                offset,
                len,
            },
            Located::Sealed(sealed) => {
                let segment = self.sealed(&sealed, height)?;
                let (offset, len) = segment.span(&self.disk, height)?;
                Found {
                    source: Source::Sealed(segment),
                    offset,
                    len,
                }
            }
        };
        Ok(Some(found))
    }
}

/// A durable record: the file it lies in, its offset and its length.
struct Found {
    source: Source,
    offset: u64,
    len: u64,
}

enum Source {
    Open(Arc<File>, PathBuf),
    Sealed(Arc<SealedSegment>),
}

impl Found {
    fn path(&self) -> &Path {
        match &self.source {
            Source::Open(_, path) => path,
            Source::Sealed(segment) => segment.path(),
        }
    }

    fn read_at(&self, disk: &Disk, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        match &self.source {
            Source::Open(file, _) => disk.read_at(FileKind::Segment, file, buf, offset),
            Source::Sealed(segment) => disk.read_at(FileKind::Sealed, segment.file(), buf, offset),
        }
    }

    fn corrupt(&self, height: BlockHeight, reason: String) -> LogError {
        LogError::CorruptRead {
            path: self.path().to_path_buf(),
            height,
            offset: self.offset,
            reason,
        }
    }
}

impl BlockSource for Shared {
    fn block(&self, height: BlockHeight) -> Result<Option<Block>, LogError> {
        let Some(found) = self.find(height)? else {
            return Ok(None);
        };
        let read = |buf: &mut [u8], off: u64| found.read_at(&self.disk, buf, off);
        let block = format::read_record_at(&read, found.offset, found.len)
            .map_err(io_error("read a block from", found.path()))?
            .map_err(|reason| found.corrupt(height, reason))?;
        if block.header.height != height {
            let reason = format!("the record holds block {}", block.header.height);
            return Err(found.corrupt(height, reason));
        }
        Ok(Some(block))
    }

    /// In the open segment, reads only the header's bytes: cheap, but not covered by the
    /// record checksum, which spans the whole block; the checksum was checked when the
    /// record was written or scanned at open. In a sealed segment, which recovery may not
    /// have read, reads the whole record and checks its checksum first.
    fn header(&self, height: BlockHeight) -> Result<Option<BlockHeader>, LogError> {
        let Some(found) = self.find(height)? else {
            return Ok(None);
        };
        let header = match &found.source {
            Source::Sealed(_) => {
                let read = |buf: &mut [u8], off: u64| found.read_at(&self.disk, buf, off);
                format::read_header_at(&read, found.offset, found.len)
                    .map_err(io_error("read a block header from", found.path()))?
                    .map_err(|reason| found.corrupt(height, reason))?
            }
            Source::Open(..) => {
                let mut bytes = [0u8; HEADER_BYTES];
                found
                    .read_at(
                        &self.disk,
                        &mut bytes,
                        found.offset + RECORD_HEADER_BYTES as u64,
                    )
                    .map_err(io_error("read a block header from", found.path()))?;
                BlockHeader::from_bytes(&bytes)
                    .map_err(|e| found.corrupt(height, format!("bad header: {e}")))?
            }
        };
        if header.height != height {
            let reason = format!("the record holds block {}", header.height);
            return Err(found.corrupt(height, reason));
        }
        Ok(Some(header))
    }

    fn height(&self) -> BlockHeight {
        self.read().height()
    }
}
