//! Where channel files live: `<dir>/payer/<channel hex>.chan` and
//! `<dir>/payee/<channel hex>.chan`, and listing them.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ting_core::ChannelId;

use crate::error::StoreError;

/// Extension of a channel file.
pub const CHANNEL_FILE_EXT: &str = "chan";

/// Which side of a channel a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Payer,
    Payee,
}

impl Role {
    pub fn dir_name(self) -> &'static str {
        match self {
            Role::Payer => "payer",
            Role::Payee => "payee",
        }
    }
}

/// The file holding `role`'s side of `channel` under `dir`.
pub fn channel_path(dir: &Path, role: Role, channel: &ChannelId) -> PathBuf {
    dir.join(role.dir_name())
        .join(format!("{}.{CHANNEL_FILE_EXT}", channel.to_hex()))
}

/// The channels `dir` holds a `role` file for, in order; none if the
/// directory does not exist. Other files (such as a `.tmp` left by a crash
/// during creation) are ignored.
pub fn list_channels(dir: &Path, role: Role) -> Result<Vec<ChannelId>, StoreError> {
    let entries = match fs::read_dir(dir.join(role.dir_name())) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        other => other.map_err(|source| StoreError::Io { op: "list", source })?,
    };
    let mut channels = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| StoreError::Io { op: "list", source })?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some(CHANNEL_FILE_EXT) {
            continue;
        }
        if let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(ChannelId::from_hex)
        {
            channels.push(id);
        }
    }
    channels.sort();
    Ok(channels)
}
