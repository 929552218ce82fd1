//! Readers of the file log: positional reads of durable records, shared with the writer.
//!
//! The writer and every reader share one [`Durable`] table of record offsets behind a
//! lock. The writer extends it only after a group's fsync returns, so a reader can never
//! be handed a block that is not durable. Reads use `read_exact_at`, which leaves the
//! file position alone, so readers neither disturb the writer nor each other. A record
//! is checked again when read (framing, checksum, decoding), because the disk under it
//! may have gone bad since it was written.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ting_core::block::HEADER_BYTES;
use ting_core::{Block, BlockHeader, BlockHeight};

use super::format::{self, RECORD_HEADER_BYTES};
use super::{io_error, LogError};
use crate::BlockSource;

/// Where each durable record lies.
#[derive(Debug, Default)]
pub(super) struct Durable {
    /// `offsets[h - 1]` is the offset of block `h`'s record.
    pub offsets: Vec<u64>,
    /// The end of the last durable record.
    pub end: u64,
}

impl Durable {
    /// The offset and length of block `height`'s record, if it is durable.
    fn span(&self, height: BlockHeight) -> Option<(u64, u64)> {
        let index = usize::try_from(height.0.checked_sub(1)?).ok()?;
        let start = *self.offsets.get(index)?;
        let end = self.offsets.get(index + 1).copied().unwrap_or(self.end);
        Some((start, end - start))
    }
}

/// The state a [`FileLog`](super::FileLog) shares with its readers.
#[derive(Debug)]
pub(super) struct Shared {
    pub path: PathBuf,
    pub file: File,
    pub durable: RwLock<Durable>,
}

impl Shared {
    // The table is only ever extended by whole groups after their fsync, so a panic while
    // holding the lock cannot leave it half-updated in a way that matters: take it anyway.
    pub fn read(&self) -> RwLockReadGuard<'_, Durable> {
        self.durable.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Durable> {
        self.durable.write().unwrap_or_else(PoisonError::into_inner)
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

impl BlockSource for Shared {
    fn block(&self, height: BlockHeight) -> Result<Option<Block>, LogError> {
        let Some((offset, len)) = self.read().span(height) else {
            return Ok(None);
        };
        let block = format::read_record_at(&self.file, offset, len)
            .map_err(io_error("read a block from", &self.path))?
            .map_err(|reason| self.corrupt(height, offset, reason))?;
        if block.header.height != height {
            let reason = format!("the record holds block {}", block.header.height);
            return Err(self.corrupt(height, offset, reason));
        }
        Ok(Some(block))
    }

    /// Reads only the header's bytes: cheap, but not covered by the record checksum,
    /// which spans the whole block. The full check ran when the record was written or
    /// scanned at open.
    fn header(&self, height: BlockHeight) -> Result<Option<BlockHeader>, LogError> {
        let Some((offset, _)) = self.read().span(height) else {
            return Ok(None);
        };
        let mut bytes = [0u8; HEADER_BYTES];
        self.file
            .read_exact_at(&mut bytes, offset + RECORD_HEADER_BYTES as u64)
            .map_err(io_error("read a block header from", &self.path))?;
        let header = BlockHeader::from_bytes(&bytes)
            .map_err(|e| self.corrupt(height, offset, format!("bad header: {e}")))?;
        if header.height != height {
            let reason = format!("the record holds block {}", header.height);
            return Err(self.corrupt(height, offset, reason));
        }
        Ok(Some(header))
    }

    fn height(&self) -> BlockHeight {
        BlockHeight(self.read().offsets.len() as u64)
    }
}
