//! Key files and genesis files: the node's and the CLI's on-disk text formats.
//!
//! A key file is JSON `{"type": "ting-ed25519-seed", "seed": hex, "account": did}`
//! written with mode 0600; the account is checked against the seed on read.
//! A genesis file is JSON with the genesis fields and ids in `did:key` form;
//! the canonical binary encoding (docs/wire.md) is what gets hashed.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use ting_core::genesis::GenesisError;
use ting_core::{AccountId, Amount, Genesis, Keypair, NetworkId, Timestamp};

const KEY_TYPE: &str = "ting-ed25519-seed";
/// Key and genesis files larger than this are refused before parsing.
const FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Why a key or genesis file could not be read or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid {what}: {reason}")]
    Invalid {
        path: String,
        what: &'static str,
        reason: String,
    },
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists { path: String },
    #[error("genesis in {path} is not valid: {source}")]
    Genesis { path: String, source: GenesisError },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn invalid(path: &Path, what: &'static str, reason: impl ToString) -> FileError {
    FileError::Invalid {
        path: path.display().to_string(),
        what,
        reason: reason.to_string(),
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, FileError> {
    let len = fs::metadata(path).map_err(io(path))?.len();
    if len > FILE_BYTES_MAX {
        return Err(invalid(
            path,
            "file",
            format!("{len} bytes is over {FILE_BYTES_MAX}"),
        ));
    }
    fs::read(path).map_err(io(path))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    seed: String,
    account: String,
}

/// Writes `key` to a new file readable only by its owner (mode 0600).
pub fn write_key(path: &Path, key: &Keypair) -> Result<(), FileError> {
    let body = KeyFile {
        kind: KEY_TYPE.into(),
        seed: hex::encode(key.seed()),
        account: key.account().to_did(),
    };
    let text = serde_json::to_string_pretty(&body).expect("key file serializes") + "\n";
    write_new(path, &text, 0o600)
}

/// Reads a key file and checks that its account matches its seed.
pub fn read_key(path: &Path) -> Result<Keypair, FileError> {
    let bytes = read_bounded(path)?;
    let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| invalid(path, "key file", e))?;
    if file.kind != KEY_TYPE {
        return Err(invalid(
            path,
            "key file",
            format!("type is {:?}, expected {KEY_TYPE:?}", file.kind),
        ));
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(file.seed.trim(), &mut seed)
        .map_err(|_| invalid(path, "key file", "seed must be 64 hex digits"))?;
    let key = Keypair::from_seed(seed);
    let account = AccountId::parse(&file.account).map_err(|e| invalid(path, "key file", e))?;
    if account != key.account() {
        return Err(invalid(path, "key file", "account does not match the seed"));
    }
    Ok(key)
}

/// Reads the key at `path`, or makes a new one there if the file does not exist.
pub fn read_or_create_key(
    path: &Path,
    seed: impl FnOnce() -> [u8; 32],
) -> Result<Keypair, FileError> {
    if path.exists() {
        return read_key(path);
    }
    let key = Keypair::from_seed(seed());
    write_key(path, &key)?;
    Ok(key)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisFile {
    name: String,
    network_id: u32,
    timestamp_ms: u64,
    issuers: Vec<String>,
    sequencers: Vec<String>,
    allocations: Vec<AllocationJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocationJson {
    account: String,
    amount: u64,
}

/// The JSON text of a genesis file.
pub fn genesis_to_json(g: &Genesis) -> String {
    let ids = |v: &[AccountId]| v.iter().map(AccountId::to_did).collect();
    let file = GenesisFile {
        name: g.name.clone(),
        network_id: g.network.0,
        timestamp_ms: g.timestamp.0,
        issuers: ids(&g.issuers),
        sequencers: ids(&g.sequencers),
        allocations: g
            .allocations
            .iter()
            .map(|(id, a)| AllocationJson {
                account: id.to_did(),
                amount: a.base_units(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file).expect("genesis serializes") + "\n"
}

/// Parses and validates a genesis from its JSON text.
pub fn genesis_from_json(path: &Path, bytes: &[u8]) -> Result<Genesis, FileError> {
    let file: GenesisFile =
        serde_json::from_slice(bytes).map_err(|e| invalid(path, "genesis file", e))?;
    let parse = |s: &String| {
        AccountId::parse(s).map_err(|e| invalid(path, "genesis file", format!("{s}: {e}")))
    };
    let genesis = Genesis {
        name: file.name,
        network: NetworkId(file.network_id),
        timestamp: Timestamp(file.timestamp_ms),
        issuers: file.issuers.iter().map(parse).collect::<Result<_, _>>()?,
        sequencers: file
            .sequencers
            .iter()
            .map(parse)
            .collect::<Result<_, _>>()?,
        allocations: file
            .allocations
            .iter()
            .map(|a| Ok((parse(&a.account)?, Amount::new(a.amount))))
            .collect::<Result<_, FileError>>()?,
    };
    genesis.validate().map_err(|source| FileError::Genesis {
        path: path.display().to_string(),
        source,
    })?;
    Ok(genesis)
}

pub fn read_genesis(path: &Path) -> Result<Genesis, FileError> {
    genesis_from_json(path, &read_bounded(path)?)
}

/// Writes a genesis file; refuses to overwrite an existing one.
pub fn write_genesis(path: &Path, g: &Genesis) -> Result<(), FileError> {
    write_new(path, &genesis_to_json(g), 0o644)
}

/// Creates `path` with `mode`, writes `text` and syncs it; never overwrites.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), FileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => FileError::Exists {
                path: path.display().to_string(),
            },
            _ => io(path)(e),
        })?;
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_file_is_private_round_trips_and_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let key = Keypair::from_seed([4; 32]);
        write_key(&path, &key).expect("writes");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_key(&path).expect("reads").account(), key.account());
        assert!(matches!(
            write_key(&path, &key),
            Err(FileError::Exists { .. })
        ));
    }

    #[test]
    fn a_key_file_whose_account_does_not_match_its_seed_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.json");
        let other = Keypair::from_seed([5; 32]).account().to_did();
        let text = format!(
            r#"{{"type":"{KEY_TYPE}","seed":"{}","account":"{other}"}}"#,
            hex::encode([4u8; 32])
        );
        fs::write(&path, text).expect("write");
        assert!(matches!(read_key(&path), Err(FileError::Invalid { .. })));
    }

    #[test]
    fn a_genesis_file_round_trips_through_json() {
        let a = Keypair::from_seed([1; 32]).account();
        let g = Genesis {
            name: "dev".into(),
            network: NetworkId(3),
            timestamp: Timestamp(9),
            issuers: vec![a],
            sequencers: vec![a],
            allocations: vec![(a, Amount::new(5))],
        };
        let text = genesis_to_json(&g);
        assert_eq!(
            genesis_from_json(Path::new("g"), text.as_bytes()).expect("parses"),
            g
        );
        let bad = text.replace("\"name\"", "\"nmae\"");
        assert!(genesis_from_json(Path::new("g"), bad.as_bytes()).is_err());
    }
}
