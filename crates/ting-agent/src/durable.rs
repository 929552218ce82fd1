//! Small files written whole or not at all: a temporary file beside the
//! target, synced, renamed over it, and the directory synced. A crash
//! leaves the old file or the new one, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes`, durably.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = written_tmp(path, bytes)?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `bytes` in a new synced file beside `path`, named after it.
pub fn written_tmp(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".tmp-{:016x}", rand::random::<u64>()));
    let tmp = path.with_file_name(name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(tmp)
}
