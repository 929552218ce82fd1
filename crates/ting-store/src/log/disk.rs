//! The block log's one door to the disk, and the faults tests can open in it.
//!
//! Every write, fsync, rename, truncation and read of the log's files goes through
//! [`Disk`], so a test can make any of them fail the way a disk fails: no space left
//! (ENOSPC), an I/O error (EIO), a write cut short, or an fsync that fails after the
//! kernel dropped the dirty pages. Faults are armed on a shared [`Faults`] handle, named
//! by the kind of file and the operation; a log opened without one (`None`, the
//! default) pays one branch per operation and nothing more.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{io_error, LogError};

/// Linux's `ENOSPC` and `EIO`: injected errors look exactly like the real ones.
const ENOSPC: i32 = 28;
const EIO: i32 = 5;

/// How an armed operation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// ENOSPC before anything is written.
    NoSpace,
    /// EIO before anything is done.
    Io,
    /// A write: the first half of the bytes reach the file, then ENOSPC. Elsewhere: EIO.
    ShortWrite,
    /// An fsync: the file is cut back to the middle of the bytes written since the last
    /// good fsync (the kernel dropped the rest of the dirty pages), then EIO.
    /// Elsewhere: EIO.
    LostSync,
}

/// The kinds of file of a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The open segment, while groups are appended to it (and cut at recovery).
    Segment,
    /// A new segment being created: its temporary file, rename and directory fsync.
    NewSegment,
    /// A sealed segment's index (`.idx`), written at seal time.
    SegmentIndex,
    /// The manifest of sealed segments.
    Manifest,
    /// A sealed segment, read.
    Sealed,
    /// A state snapshot being written (`snapshot.rs`, which shares these faults).
    Snapshot,
    /// The query index's file (`index/backend.rs`), every read and write redb makes.
    Index,
}

/// The operations that can be made to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Write,
    Sync,
    Rename,
    SyncDir,
    Truncate,
    Read,
}

#[derive(Debug)]
struct Armed {
    file: FileKind,
    op: Op,
    fault: Fault,
    /// Matching operations let through before this one fails.
    skip: u32,
}

/// Faults armed for a log's file operations, shared with the test that arms them.
/// Each armed fault fails one matching operation, then is spent.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<Armed>>,
    /// Whether anything is armed: the common path takes no lock.
    any: AtomicBool,
    fired: AtomicU64,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Fails the next `op` on a file of kind `file` with `fault`.
    pub fn arm(&self, file: FileKind, op: Op, fault: Fault) {
        self.arm_after(file, op, fault, 0);
    }

    /// Lets `skip` matching operations through, then fails the next one with `fault`.
    pub fn arm_after(&self, file: FileKind, op: Op, fault: Fault, skip: u32) {
        let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        armed.push(Armed {
            file,
            op,
            fault,
            skip,
        });
        self.any.store(true, Ordering::Release);
    }

    /// Disarms every fault not yet fired.
    pub fn clear(&self) {
        self.armed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.any.store(false, Ordering::Release);
    }

    /// How many faults have fired.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Acquire)
    }

    /// The fault this operation must suffer, if one is armed for it.
    pub(crate) fn take(&self, file: FileKind, op: Op) -> Option<Fault> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let mut armed = self.armed.lock().unwrap_or_else(PoisonError::into_inner);
        let at = armed.iter().position(|a| a.file == file && a.op == op)?;
        if armed[at].skip > 0 {
            armed[at].skip -= 1;
            return None;
        }
        let fault = armed.remove(at).fault;
        self.any.store(!armed.is_empty(), Ordering::Release);
        self.fired.fetch_add(1, Ordering::AcqRel);
        Some(fault)
    }
}

pub(crate) fn injected(fault: Fault) -> io::Error {
    match fault {
        Fault::NoSpace => io::Error::from_raw_os_error(ENOSPC),
        Fault::Io | Fault::ShortWrite | Fault::LostSync => io::Error::from_raw_os_error(EIO),
    }
}

/// The log's file operations, with the faults of a test if it armed any.
#[derive(Debug, Clone, Default)]
pub(crate) struct Disk {
    faults: Option<Arc<Faults>>,
}

impl Disk {
    pub fn new(faults: Option<Arc<Faults>>) -> Disk {
        Disk { faults }
    }

    fn fault(&self, file: FileKind, op: Op) -> Option<Fault> {
        self.faults.as_ref().and_then(|f| f.take(file, op))
    }

    /// Writes all of `bytes` at `offset`; `action` names the write in the error.
    pub fn write_at(
        &self,
        kind: FileKind,
        (file, path): (&File, &Path),
        bytes: &[u8],
        offset: u64,
        action: &'static str,
    ) -> Result<(), LogError> {
        let result = match self.fault(kind, Op::Write) {
            None => file.write_all_at(bytes, offset),
            Some(Fault::ShortWrite) => file
                .write_all_at(&bytes[..bytes.len() / 2], offset)
                .and(Err(io::Error::from_raw_os_error(ENOSPC))),
            Some(fault) => Err(injected(fault)),
        };
        result.map_err(io_error(action, path))
    }

    /// `fdatasync`s the file; `unsynced_from` is where the bytes written since its last
    /// good fsync begin (what a lost sync loses part of).
    pub fn sync(
        &self,
        kind: FileKind,
        (file, path): (&File, &Path),
        unsynced_from: u64,
    ) -> Result<(), LogError> {
        let result = match self.fault(kind, Op::Sync) {
            None => file.sync_data(),
            Some(Fault::LostSync) => lose_dirty_pages(file, unsynced_from),
            Some(fault) => Err(injected(fault)),
        };
        result.map_err(io_error("fsync", path))
    }

    pub fn rename(&self, kind: FileKind, from: &Path, to: &Path) -> Result<(), LogError> {
        let result = match self.fault(kind, Op::Rename) {
            None => fs::rename(from, to),
            Some(fault) => Err(injected(fault)),
        };
        result.map_err(io_error("rename into place", from))
    }

    /// Makes the directory's entries (a rename, a new file) durable.
    pub fn sync_dir(&self, kind: FileKind, dir: &Path) -> Result<(), LogError> {
        let result = match self.fault(kind, Op::SyncDir) {
            None => File::open(dir).and_then(|d| d.sync_all()),
            Some(fault) => Err(injected(fault)),
        };
        result.map_err(io_error("fsync the directory", dir))
    }

    /// Cuts the file to `len` bytes and fsyncs it.
    pub fn truncate(
        &self,
        kind: FileKind,
        (file, path): (&File, &Path),
        len: u64,
    ) -> Result<(), LogError> {
        let result = match self.fault(kind, Op::Truncate) {
            None => file.set_len(len).and_then(|()| file.sync_all()),
            Some(fault) => Err(injected(fault)),
        };
        result.map_err(io_error("truncate", path))
    }

    /// Fills `buf` from `offset`; the caller names the failure.
    pub fn read_at(
        &self,
        kind: FileKind,
        file: &File,
        buf: &mut [u8],
        offset: u64,
    ) -> io::Result<()> {
        match self.fault(kind, Op::Read) {
            None => file.read_exact_at(buf, offset),
            Some(fault) => Err(injected(fault)),
        }
    }

    /// A sequential reader over `file` whose reads go through this door.
    pub fn reader(&self, kind: FileKind, file: File) -> SeqReader {
        SeqReader {
            disk: self.clone(),
            kind,
            file,
        }
    }

    /// Writes a whole file atomically: `bytes` to `tmp`, then (when `durable`) fsync,
    /// rename to `path`, and (when `durable`) fsync the directory. A crash leaves the
    /// old file or the new one, and maybe `tmp`, which the next open deletes.
    pub fn write_whole(
        &self,
        kind: FileKind,
        (tmp, path): (&Path, &Path),
        bytes: &[u8],
        durable: bool,
    ) -> Result<(), LogError> {
        let file = File::create(tmp).map_err(io_error("create", tmp))?;
        self.write_at(kind, (&file, tmp), bytes, 0, "write")?;
        if durable {
            self.sync(kind, (&file, tmp), 0)?;
        }
        drop(file);
        self.rename(kind, tmp, path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        if durable {
            self.sync_dir(kind, dir)?;
        }
        Ok(())
    }
}

/// What a failed fsync may leave: the dirty pages written since the last good fsync
/// are partly gone. Keeps the first half of them, then fails with EIO.
fn lose_dirty_pages(file: &File, unsynced_from: u64) -> io::Result<()> {
    let len = file.metadata()?.len();
    let kept = unsynced_from + len.saturating_sub(unsynced_from) / 2;
    file.set_len(kept)?;
    Err(io::Error::from_raw_os_error(EIO))
}

/// Sequential reads of a file (recovery's scan) through the [`Disk`].
#[derive(Debug)]
pub(crate) struct SeqReader {
    disk: Disk,
    kind: FileKind,
    file: File,
}

impl Read for SeqReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.disk.fault(self.kind, Op::Read) {
            None => self.file.read(buf),
            Some(fault) => Err(injected(fault)),
        }
    }
}
