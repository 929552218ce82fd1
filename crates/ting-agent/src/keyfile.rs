//! Reading a device's key file, the format `ting keys` and `ting node` write.
//!
//! JSON `{"type": "ting-ed25519-seed", "seed": hex, "account": did}`; the
//! account must match the seed. The node owns writing this format
//! (`ting-node`'s `files.rs`); this crate must not depend on the node, so it
//! reads the same few fields itself.

use std::path::Path;

use thiserror::Error;
use ting_core::{AccountId, Keypair};

const KEY_TYPE: &str = "ting-ed25519-seed";
/// Key files larger than this are refused before parsing.
const KEY_FILE_BYTES_MAX: u64 = 64 * 1024;

/// Why a key file could not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a Ting key file: {reason}")]
    Invalid { path: String, reason: String },
}

impl KeyFileError {
    pub fn code(&self) -> &'static str {
        match self {
            KeyFileError::Io { .. } => "io",
            KeyFileError::Invalid { .. } => "bad_key_file",
        }
    }
}

/// Reads the key at `path` and checks that its account matches its seed.
pub fn read_key(path: &Path) -> Result<Keypair, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let invalid = |reason: &str| KeyFileError::Invalid {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > KEY_FILE_BYTES_MAX {
        return Err(invalid("the file is too large"));
    }
    let text = std::fs::read(path).map_err(io)?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|_| invalid("it is not JSON"))?;
    let field = |name: &str| json[name].as_str().map(str::trim);
    if field("type") != Some(KEY_TYPE) {
        return Err(invalid("its type is not ting-ed25519-seed"));
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(field("seed").unwrap_or(""), &mut seed)
        .map_err(|_| invalid("the seed must be 64 hex digits"))?;
    let key = Keypair::from_seed(seed);
    let account = field("account")
        .and_then(|a| AccountId::parse(a).ok())
        .ok_or_else(|| invalid("the account is not a did:key"))?;
    if account != key.account() {
        return Err(invalid("the account does not match the seed"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("key.json");
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn a_key_file_in_the_nodes_format_reads_back_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = Keypair::from_seed([7; 32]);
        let text = format!(
            "{{\n  \"type\": \"{KEY_TYPE}\",\n  \"seed\": \"{}\",\n  \"account\": \"{}\"\n}}\n",
            hex::encode(key.seed()),
            key.account().to_did()
        );
        let read = read_key(&write(dir.path(), &text)).expect("reads");
        assert_eq!(read.account(), key.account());
    }

    #[test]
    fn a_key_file_whose_account_is_not_its_seeds_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let other = Keypair::from_seed([8; 32]).account().to_did();
        let text = format!(
            "{{\"type\":\"{KEY_TYPE}\",\"seed\":\"{}\",\"account\":\"{other}\"}}",
            hex::encode([7u8; 32])
        );
        let err = read_key(&write(dir.path(), &text)).expect_err("refused");
        assert_eq!(err.code(), "bad_key_file");
    }
}
