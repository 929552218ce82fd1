//! The query index's file through the same fault seam as the block log
//! (`log/disk.rs`, `FileKind::Index`): a redb storage backend over the real
//! file that fails the operations a test armed, the way a disk fails.

use std::fs::File;
use std::io;
use std::ops::Bound;
use std::sync::Arc;

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

use crate::log::disk::injected;
use crate::log::{Fault, Faults, FileKind, Op};

/// The index file, with faults a test can arm.
#[derive(Debug)]
pub(crate) struct FaultyFile {
    inner: FileBackend,
    faults: Arc<Faults>,
}

impl FaultyFile {
    pub fn new(file: File, faults: Arc<Faults>) -> Result<FaultyFile, redb::DatabaseError> {
        Ok(FaultyFile {
            inner: FileBackend::new(file)?,
            faults,
        })
    }

    fn check(&self, op: Op) -> io::Result<()> {
        match self.faults.take(FileKind::Index, op) {
            None => Ok(()),
            Some(fault) => Err(injected(fault)),
        }
    }
}

impl StorageBackend for FaultyFile {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.check(Op::Read)?;
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check(Op::Truncate)?;
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.check(Op::Sync)?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        match self.faults.take(FileKind::Index, Op::Write) {
            None => self.inner.write(offset, data),
            Some(Fault::ShortWrite) => {
                self.inner.write(offset, &data[..data.len() / 2])?;
                Err(injected(Fault::NoSpace))
            }
            Some(fault) => Err(injected(fault)),
        }
    }

    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }
}
