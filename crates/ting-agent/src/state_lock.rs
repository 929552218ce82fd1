//! One process at a time on a device's state directory: its outbox, channel
//! files and contracts assume a single writer. The lock is an advisory lock
//! on a file in the directory, held while the [`StateLock`] lives and let go
//! by the operating system when the process ends, however it ends. The CLI's
//! market commands and the Python package's `Device` take it.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file in a state directory.
pub const LOCK_NAME: &str = "device.lock";

/// A state directory held by this process.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Why the directory could not be held.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{} is in use by another process (a device or a `ting market` command still running?)", .0.display())]
    InUse(PathBuf),
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LockError {
    pub fn code(&self) -> &'static str {
        match self {
            LockError::InUse(_) => "state_in_use",
            LockError::Io { .. } => "io",
        }
    }
}

impl StateLock {
    /// Takes the lock of `dir` (creating the directory), or says who has it.
    pub fn take(dir: &Path) -> Result<StateLock, LockError> {
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { op, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let path = dir.join(LOCK_NAME);
        let file = File::create(&path).map_err(io("open", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::InUse(dir.to_path_buf())),
            Err(TryLockError::Error(e)) => Err(io("lock", &path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_held_once_and_free_again_when_let_go() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let state = dir.path().join("state");
        let held = StateLock::take(&state).expect("the first takes it");
        let again = StateLock::take(&state).expect_err("the second is refused");
        assert_eq!(again.code(), "state_in_use");
        assert!(again.to_string().contains("in use"), "{again}");
        drop(held);
        StateLock::take(&state).expect("free once let go");
    }
}
