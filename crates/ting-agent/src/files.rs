//! Key files and genesis files on disk: bounded reads, private writes that
//! never overwrite, and errors that name the file.
//!
//! The text formats are `ting-core`'s (`ting_core::files`, docs/files.md);
//! this module is only the I/O around them. A key file is written with mode
//! 0600 and synced; a genesis file with mode 0644. Neither is ever replaced:
//! a second `keygen --out` onto the same path is refused rather than
//! destroying a key that may hold money.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use thiserror::Error;
use ting_core::files::{
    genesis_file_text, key_file_text, parse_genesis_file, parse_key_file, FileFormatError,
    GENESIS_FILE_BYTES_MAX, KEY_FILE_BYTES_MAX,
};
use ting_core::{Genesis, Keypair};

/// Why a key or genesis file could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FileError {
    /// The OS error is this error's source; its message is not repeated here.
    #[error("cannot {op} {path}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} does not exist")]
    NotFound { path: String },
    #[error("{path} is not a valid {what}: {source}")]
    Format {
        path: String,
        what: &'static str,
        source: FileFormatError,
    },
    #[error("{path} already exists; refusing to overwrite it")]
    Exists { path: String },
}

impl FileError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Io { .. } => "io",
            FileError::NotFound { .. } => "file_not_found",
            FileError::Format { source, .. } => source.code(),
            FileError::Exists { .. } => "file_exists",
        }
    }

    /// The file it is about.
    pub fn path(&self) -> &str {
        match self {
            FileError::Io { path, .. }
            | FileError::NotFound { path }
            | FileError::Format { path, .. }
            | FileError::Exists { path } => path,
        }
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Reads at most `max + 1` bytes, so an endless or huge file costs no more.
fn read_bounded(path: &Path, max: usize) -> Result<Vec<u8>, FileError> {
    let file = fs::File::open(path).map_err(|source| match source.kind() {
        ErrorKind::NotFound => FileError::NotFound { path: shown(path) },
        _ => FileError::Io {
            op: "open",
            path: shown(path),
            source,
        },
    })?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            op: "read",
            path: shown(path),
            source,
        })?;
    Ok(bytes)
}

fn format_error(path: &Path, what: &'static str) -> impl FnOnce(FileFormatError) -> FileError {
    let path = shown(path);
    move |source| FileError::Format { path, what, source }
}

/// Reads the key at `path` and checks that its account matches its seed.
pub fn read_key(path: &Path) -> Result<Keypair, FileError> {
    let bytes = read_bounded(path, KEY_FILE_BYTES_MAX)?;
    parse_key_file(&bytes).map_err(format_error(path, "key file"))
}

/// Writes `key` to a new file readable only by its owner (mode 0600).
pub fn write_key(path: &Path, key: &Keypair) -> Result<(), FileError> {
    write_new(path, &key_file_text(key), 0o600)
}

/// Reads the key at `path`, or makes one there with `seed` if there is no file.
pub fn read_or_create_key(
    path: &Path,
    seed: impl FnOnce() -> [u8; 32],
) -> Result<Keypair, FileError> {
    match read_key(path) {
        Err(FileError::NotFound { .. }) => {
            let key = Keypair::from_seed(seed());
            write_key(path, &key)?;
            Ok(key)
        }
        other => other,
    }
}

/// Reads and validates the genesis file at `path`.
pub fn read_genesis(path: &Path) -> Result<Genesis, FileError> {
    let bytes = read_bounded(path, GENESIS_FILE_BYTES_MAX)?;
    parse_genesis_file(&bytes).map_err(format_error(path, "genesis file"))
}

/// Writes a genesis file; refuses to overwrite an existing one.
pub fn write_genesis(path: &Path, genesis: &Genesis) -> Result<(), FileError> {
    write_new(path, &genesis_file_text(genesis), 0o644)
}

/// Creates `path` with `mode`, writes `text` and syncs it; never overwrites.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), FileError> {
    let io = |op: &'static str| {
        move |source| FileError::Io {
            op,
            path: shown(path),
            source,
        }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => FileError::Exists { path: shown(path) },
            _ => io("create")(e),
        })?;
    file.write_all(text.as_bytes()).map_err(io("write"))?;
    file.sync_all().map_err(io("sync"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use ting_core::{Amount, NetworkId, Timestamp};

    #[test]
    fn a_key_file_is_private_round_trips_and_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        let key = Keypair::from_seed([4; 32]);
        write_key(&path, &key).expect("writes");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_key(&path).expect("reads").account(), key.account());
        let err = write_key(&path, &Keypair::from_seed([5; 32])).expect_err("exists");
        assert_eq!(err.code(), "file_exists");
        assert_eq!(read_key(&path).expect("reads").account(), key.account());
    }

    #[test]
    fn a_missing_file_says_so_once_and_an_oversized_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.key");
        let err = read_key(&missing).expect_err("missing");
        assert_eq!(err.code(), "file_not_found");
        assert_eq!(
            err.to_string(),
            format!("{} does not exist", missing.display())
        );
        let big = dir.path().join("big.key");
        fs::write(&big, vec![b' '; KEY_FILE_BYTES_MAX + 10]).expect("write");
        assert_eq!(read_key(&big).expect_err("big").code(), "file_too_large");
    }

    #[test]
    fn read_or_create_makes_a_key_once_and_reads_it_after() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node.key");
        let first = read_or_create_key(&path, || [9; 32]).expect("made");
        let again = read_or_create_key(&path, || [1; 32]).expect("read");
        assert_eq!(first.account(), again.account());
    }

    #[test]
    fn a_genesis_file_round_trips_through_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("genesis.json");
        let a = Keypair::from_seed([1; 32]).account();
        let g = Genesis {
            name: "dev".into(),
            network: NetworkId(3),
            timestamp: Timestamp(9),
            issuers: vec![a],
            sequencers: vec![a],
            allocations: vec![(a, Amount::new(5))],
            clock: ting_core::LedgerClock::Real,
        };
        write_genesis(&path, &g).expect("writes");
        assert_eq!(read_genesis(&path).expect("reads"), g);
        assert_eq!(
            write_genesis(&path, &g).expect_err("exists").code(),
            "file_exists"
        );
    }
}
