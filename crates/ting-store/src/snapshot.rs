//! State snapshots: the ledger's state at a height, so recovery replays only what follows.
//!
//! The state's bytes are opaque here (`ting-ledger` encodes them). A snapshot is written
//! atomically (temporary file, fsynced in 1 MiB steps, rename, fsync the directory), so a crash leaves
//! either the old set of snapshots or the new one, plus at most a temporary file that
//! the next open deletes. Reading checks a checksum; a snapshot that fails it is skipped
//! with a warning in favour of an older one, and with none left the node replays the
//! log from genesis, which is always correct, only slower.
//!
//! # File format (version 1)
//!
//! One file per snapshot, `snapshot-{height:020}.bin`; integers little-endian:
//!
//! ```text
//! magic "TINGSNP1" (8) | height u64 | block hash (32) | payload length u64 | crc32c u32 | payload
//! ```
//!
//! The crc32c (Castagnoli) covers the height, block hash and payload length (bytes 8..56)
//! followed by the payload, so a damaged header is caught as surely as a damaged state.
//! The block hash is that of the block at `height`; the node checks it against its log.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use thiserror::Error;
use ting_core::limits::SNAPSHOTS_KEPT;
use ting_core::{BlockHeight, Hash32};

use crate::log::disk::injected;
use crate::log::{Fault, Faults, FileKind, Op};

const MAGIC: [u8; 8] = *b"TINGSNP1";
/// A large snapshot is written in steps of this many bytes, each made durable
/// before the next: the disk then never holds tens of megabytes of the
/// snapshot's dirty pages at once, which the block log's next fsync would
/// otherwise wait behind (BENCHMARKS.md, "Snapshots beside the pipeline").
const WRITE_STEP_BYTES: usize = 1 << 20;
/// `magic | height | block hash | payload length | crc`.
const HEADER_BYTES: usize = 8 + 8 + 32 + 8 + 4;
const PREFIX: &str = "snapshot-";
const SUFFIX: &str = ".bin";
const TMP_SUFFIX: &str = ".tmp";
/// Most files looked at in a snapshot directory; past it the directory is not ours.
const DIR_ENTRIES_MAX: usize = 10_000;

/// The ledger state at the end of the block at `height`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub height: BlockHeight,
    pub block_hash: Hash32,
    pub state: Vec<u8>,
}

/// Why a snapshot could not be written or listed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SnapshotError {
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} holds more than {max} entries; point the snapshot directory at a directory of its own")]
    TooManyFiles { path: PathBuf, max: usize },
}

impl SnapshotError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SnapshotError::Io { .. } => "snapshot_io",
            SnapshotError::TooManyFiles { .. } => "snapshot_dir_too_full",
        }
    }
}

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The directory of snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    /// Faults a test armed for snapshot writes (`FileKind::Snapshot`); `None` in use.
    faults: Option<Arc<Faults>>,
}

impl SnapshotStore {
    /// Opens (creating if missing) the snapshot directory and deletes leftover temporary files.
    pub fn open(dir: &Path) -> Result<SnapshotStore, SnapshotError> {
        SnapshotStore::open_with(dir, None)
    }

    /// [`SnapshotStore::open`] with faults a test can arm for its writes: the
    /// same handle as the block log's, with `FileKind::Snapshot`.
    pub fn open_with(
        dir: &Path,
        faults: Option<Arc<Faults>>,
    ) -> Result<SnapshotStore, SnapshotError> {
        fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
        let store = SnapshotStore {
            dir: dir.to_path_buf(),
            faults,
        };
        for name in store.file_names()? {
            if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
                let path = dir.join(&name);
                tracing::warn!(path = %path.display(), "deleting an unfinished snapshot left by a crash");
                fs::remove_file(&path).map_err(io_error("delete", &path))?;
            }
        }
        Ok(store)
    }

    /// Writes atomically: temporary file, fsync, rename, fsync the directory; then
    /// deletes all but the newest `limits::SNAPSHOTS_KEPT`.
    pub fn write(
        &self,
        height: BlockHeight,
        block_hash: Hash32,
        state: &[u8],
    ) -> Result<(), SnapshotError> {
        let path = self.dir.join(file_name(height));
        let tmp = self.dir.join(format!("{}{TMP_SUFFIX}", file_name(height)));
        if let Err(e) = self.write_tmp(&tmp, height, &block_hash, state) {
            // A failed write leaves no partial file behind (the next open would
            // delete it too); the error is what matters.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.fault(Op::Rename)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(io_error("rename into place", &tmp))
            .inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })?;
        self.sync_dir()?;
        self.prune()
    }

    /// Writes the snapshot file's bytes to `tmp` and fsyncs it.
    fn write_tmp(
        &self,
        tmp: &Path,
        height: BlockHeight,
        block_hash: &Hash32,
        state: &[u8],
    ) -> Result<(), SnapshotError> {
        let mut file = File::create(tmp).map_err(io_error("create", tmp))?;
        file.write_all(&encode_header(height, block_hash, state))
            .map_err(io_error("write", tmp))?;
        self.write_paced(&mut file, state)
            .map_err(io_error("write", tmp))?;
        self.fault(Op::Sync)
            .and_then(|()| file.sync_all())
            .map_err(io_error("fsync", tmp))
    }

    /// The newest snapshot whose checksum verifies, falling back to older ones with a
    /// warning; `None` when there is none.
    pub fn latest(&self) -> Result<Option<Snapshot>, SnapshotError> {
        for (height, path) in self.list()?.into_iter().rev() {
            match read_snapshot(&path) {
                Ok(Ok(snapshot)) if snapshot.height == height => return Ok(Some(snapshot)),
                Ok(Ok(snapshot)) => tracing::warn!(
                    path = %path.display(),
                    "skipping snapshot: its name says height {height} but it holds height {}",
                    snapshot.height
                ),
                Ok(Err(reason)) => tracing::warn!(
                    path = %path.display(),
                    "skipping damaged snapshot, falling back to an older one: {reason}"
                ),
                Err(e) => return Err(io_error("read", &path)(e)),
            }
        }
        Ok(None)
    }

    /// The heights and paths of the snapshot files, oldest first (checksums unchecked).
    pub fn list(&self) -> Result<Vec<(BlockHeight, PathBuf)>, SnapshotError> {
        let mut found: Vec<(BlockHeight, PathBuf)> = self
            .file_names()?
            .into_iter()
            .filter_map(|name| {
                let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
                let height = digits.parse::<u64>().ok()?;
                Some((BlockHeight(height), self.dir.join(name)))
            })
            .collect();
        found.sort();
        Ok(found)
    }

    fn prune(&self) -> Result<(), SnapshotError> {
        let found = self.list()?;
        let excess = found.len().saturating_sub(SNAPSHOTS_KEPT);
        for (_, path) in &found[..excess] {
            fs::remove_file(path).map_err(io_error("delete the old snapshot", path))?;
        }
        if excess > 0 {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn sync_dir(&self) -> Result<(), SnapshotError> {
        self.fault(Op::SyncDir)
            .and_then(|()| File::open(&self.dir))
            .and_then(|d| d.sync_all())
            .map_err(io_error("fsync the directory", &self.dir))
    }

    fn file_names(&self) -> Result<Vec<String>, SnapshotError> {
        let entries = fs::read_dir(&self.dir).map_err(io_error("list", &self.dir))?;
        let mut names = Vec::new();
        for entry in entries {
            if names.len() == DIR_ENTRIES_MAX {
                return Err(SnapshotError::TooManyFiles {
                    path: self.dir.clone(),
                    max: DIR_ENTRIES_MAX,
                });
            }
            let entry = entry.map_err(io_error("list", &self.dir))?;
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
}

fn file_name(height: BlockHeight) -> String {
    format!("{PREFIX}{:020}{SUFFIX}", height.0)
}

fn encode_header(height: BlockHeight, block_hash: &Hash32, state: &[u8]) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_BYTES);
    header.extend_from_slice(&MAGIC);
    header.extend_from_slice(&height.0.to_le_bytes());
    header.extend_from_slice(&block_hash.0);
    header.extend_from_slice(&(state.len() as u64).to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[8..]), state);
    header.extend_from_slice(&crc.to_le_bytes());
    header
}

/// Reads one snapshot file; the inner error says why its bytes are not a good snapshot.
fn read_snapshot(path: &Path) -> io::Result<Result<Snapshot, String>> {
    let mut file = File::open(path)?;
    let file_len = file.metadata()?.len();
    if file_len < HEADER_BYTES as u64 {
        return Ok(Err(format!("{file_len} bytes is too short for a snapshot")));
    }
    let mut header = [0u8; HEADER_BYTES];
    file.read_exact(&mut header)?;
    if header[..8] != MAGIC {
        return Ok(Err("it does not start with `TINGSNP1`".into()));
    }
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let payload_len = u64_at(48);
    if payload_len != file_len - HEADER_BYTES as u64 {
        return Ok(Err(format!(
            "it claims {payload_len} payload bytes but holds {}",
            file_len - HEADER_BYTES as u64
        )));
    }
    let mut state = Vec::new();
    file.read_to_end(&mut state)?;
    let stored = u32::from_le_bytes([header[56], header[57], header[58], header[59]]);
    let computed = crc32c::crc32c_append(crc32c::crc32c(&header[8..56]), &state);
    if stored != computed {
        return Ok(Err(format!(
            "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
        )));
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&header[16..48]);
    Ok(Ok(Snapshot {
        height: BlockHeight(u64_at(8)),
        block_hash: Hash32(hash),
        state,
    }))
}

impl SnapshotStore {
    /// The fault armed for this operation of a snapshot write, as the error a
    /// disk would give (a short write is left to `write_paced`).
    fn fault(&self, op: Op) -> io::Result<()> {
        match self
            .faults
            .as_ref()
            .and_then(|f| f.take(FileKind::Snapshot, op))
        {
            None => Ok(()),
            Some(fault) => Err(injected(fault)),
        }
    }

    /// Writes `bytes` to `file` in steps of `WRITE_STEP_BYTES`, each flushed
    /// to the disk before the next is written.
    fn write_paced(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        for step in bytes.chunks(WRITE_STEP_BYTES) {
            match self
                .faults
                .as_ref()
                .and_then(|f| f.take(FileKind::Snapshot, Op::Write))
            {
                None => file.write_all(step)?,
                Some(Fault::ShortWrite) => {
                    file.write_all(&step[..step.len() / 2])?;
                    return Err(injected(Fault::NoSpace));
                }
                Some(fault) => return Err(injected(fault)),
            }
            self.fault(Op::Sync).and_then(|()| file.sync_data())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
