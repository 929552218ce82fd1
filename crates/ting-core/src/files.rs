//! The text formats of the two files every party to a network handles: key
//! files and genesis files (docs/files.md).
//!
//! Only the formats live here, as pure conversions between bytes and values;
//! reading and writing the files (size bounds, file modes, syncing) is
//! `ting-agent`'s `files` module. Both formats are JSON so that a person can
//! read them and a client in any language can write them; what is signed or
//! hashed is always the canonical binary encoding (docs/wire.md), never this
//! text.
//!
//! Parsing is strict: unknown fields are refused (a misspelt field must not
//! be silently dropped from a genesis), every id must be a `did:key` or 64 hex
//! digits, and a key file's account must be the one its seed makes.

use crate::prelude::*;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::genesis::{Genesis, GenesisError};
use crate::keys::Keypair;
use crate::types::{NetworkId, Timestamp};

/// The `type` of a key file holding an Ed25519 seed.
pub const KEY_FILE_TYPE: &str = "ting-ed25519-seed";
/// Key files larger than this are refused before they are parsed.
pub const KEY_FILE_BYTES_MAX: usize = 64 * 1024;
/// Genesis files larger than this are refused before they are parsed: room for
/// `GENESIS_ALLOCATIONS_MAX` allocations of about 100 bytes of JSON each.
pub const GENESIS_FILE_BYTES_MAX: usize = 128 * 1024 * 1024;

/// Why the text of a key or genesis file is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FileFormatError {
    #[error("it is {len} bytes; the limit is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("it is not the expected JSON: {0}")]
    Json(String),
    #[error("its type is {found:?}, not {KEY_FILE_TYPE:?}")]
    WrongType { found: String },
    #[error("its seed must be 64 hex digits")]
    BadSeed,
    #[error("{field} {text:?} is not an account id (a did:key or 64 hex digits)")]
    BadAccount { field: &'static str, text: String },
    #[error("its account {found} is not the one its seed makes ({expected})")]
    AccountMismatch {
        found: AccountId,
        expected: AccountId,
    },
    #[error("the genesis is not valid: {0}")]
    Genesis(#[from] GenesisError),
}

impl FileFormatError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FileFormatError::TooLarge { .. } => "file_too_large",
            FileFormatError::Json(_) => "bad_json",
            FileFormatError::WrongType { .. } => "not_a_key_file",
            FileFormatError::BadSeed => "bad_seed",
            FileFormatError::BadAccount { .. } => "bad_account_id",
            FileFormatError::AccountMismatch { .. } => "key_account_mismatch",
            FileFormatError::Genesis(_) => "invalid_genesis",
        }
    }
}

fn bounded(bytes: &[u8], max: usize) -> Result<(), FileFormatError> {
    if bytes.len() > max {
        return Err(FileFormatError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    Ok(())
}

fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, FileFormatError> {
    serde_json::from_slice(bytes).map_err(|e| FileFormatError::Json(e.to_string()))
}

/// Refuses a file whose top level (or, in `lists`, whose list items) is not
/// a JSON object: serde reads a struct from an array too, which would let a
/// positional form nobody documented through.
fn objects_only(bytes: &[u8], lists: &[&str]) -> Result<(), FileFormatError> {
    let value: serde_json::Value = parse_json(bytes)?;
    let not_object = |what: &str| FileFormatError::Json(format!("{what} must be a JSON object"));
    let Some(fields) = value.as_object() else {
        return Err(not_object("the file"));
    };
    for list in lists {
        let items = fields.get(*list).and_then(|v| v.as_array());
        if items.is_some_and(|items| items.iter().any(|i| !i.is_object())) {
            return Err(not_object(&format!("each item of {list}")));
        }
    }
    Ok(())
}

fn account(field: &'static str, text: &str) -> Result<AccountId, FileFormatError> {
    AccountId::parse(text.trim()).map_err(|_| FileFormatError::BadAccount {
        field,
        text: text.to_owned(),
    })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    seed: String,
    account: String,
}

/// The text of a key file holding `key`: its seed in hex and, for reading by
/// eye, the account it makes. Anyone holding this text can spend.
pub fn key_file_text(key: &Keypair) -> String {
    let file = KeyFile {
        kind: KEY_FILE_TYPE.into(),
        seed: hex::encode(key.seed()),
        account: key.account().to_did(),
    };
    let mut text = serde_json::to_string_pretty(&file).expect("a key file serializes");
    text.push('\n');
    text
}

/// The key a key file holds, once its account is checked against its seed.
pub fn parse_key_file(bytes: &[u8]) -> Result<Keypair, FileFormatError> {
    bounded(bytes, KEY_FILE_BYTES_MAX)?;
    objects_only(bytes, &[])?;
    let file: KeyFile = parse_json(bytes)?;
    if file.kind != KEY_FILE_TYPE {
        return Err(FileFormatError::WrongType { found: file.kind });
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(file.seed.trim(), &mut seed).map_err(|_| FileFormatError::BadSeed)?;
    let key = Keypair::from_seed(seed);
    let found = account("account", &file.account)?;
    if found != key.account() {
        return Err(FileFormatError::AccountMismatch {
            found,
            expected: key.account(),
        });
    }
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
    allocations: Vec<AllocationFile>,
    /// An accelerated ledger clock's speed; absent on the real clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clock_speed: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllocationFile {
    account: String,
    amount: u64,
}

/// The text of a genesis file: ids as `did:key`, amounts in base units.
pub fn genesis_file_text(g: &Genesis) -> String {
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
            .map(|(id, a)| AllocationFile {
                account: id.to_did(),
                amount: a.base_units(),
            })
            .collect(),
        clock_speed: match g.clock {
            crate::LedgerClock::Real => None,
            crate::LedgerClock::Accelerated { speed } => Some(speed),
        },
    };
    let mut text = serde_json::to_string_pretty(&file).expect("a genesis serializes");
    text.push('\n');
    text
}

/// The genesis a genesis file describes, once it is checked to be one a
/// network can start from ([`Genesis::validate`]).
pub fn parse_genesis_file(bytes: &[u8]) -> Result<Genesis, FileFormatError> {
    bounded(bytes, GENESIS_FILE_BYTES_MAX)?;
    objects_only(bytes, &["allocations"])?;
    let file: GenesisFile = parse_json(bytes)?;
    let accounts = |field: &'static str, texts: &[String]| {
        texts
            .iter()
            .map(|t| account(field, t))
            .collect::<Result<Vec<_>, _>>()
    };
    let genesis = Genesis {
        name: file.name,
        network: NetworkId(file.network_id),
        timestamp: Timestamp(file.timestamp_ms),
        issuers: accounts("issuer", &file.issuers)?,
        sequencers: accounts("sequencer", &file.sequencers)?,
        allocations: file
            .allocations
            .iter()
            .map(|a| Ok((account("allocation", &a.account)?, Amount::new(a.amount))))
            .collect::<Result<_, FileFormatError>>()?,
        clock: file.clock_speed.map_or(crate::LedgerClock::Real, |speed| {
            crate::LedgerClock::Accelerated { speed }
        }),
    };
    genesis.validate()?;
    Ok(genesis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis() -> Genesis {
        let a = Keypair::from_seed([1; 32]).account();
        let b = Keypair::from_seed([2; 32]).account();
        Genesis {
            name: "dev".into(),
            network: NetworkId(3),
            timestamp: Timestamp(9),
            issuers: vec![a],
            sequencers: vec![b],
            allocations: vec![(a, Amount::new(5))],
            clock: crate::LedgerClock::Real,
        }
    }

    #[test]
    fn a_key_file_round_trips_and_names_its_account() {
        let key = Keypair::from_seed([4; 32]);
        let text = key_file_text(&key);
        assert!(text.contains(&key.account().to_did()));
        let read = parse_key_file(text.as_bytes()).expect("parses");
        assert_eq!(read.account(), key.account());
    }

    #[test]
    fn a_key_file_whose_account_is_not_its_seeds_is_refused() {
        let text = key_file_text(&Keypair::from_seed([4; 32])).replace(
            &Keypair::from_seed([4; 32]).account().to_did(),
            &Keypair::from_seed([5; 32]).account().to_did(),
        );
        let err = parse_key_file(text.as_bytes()).expect_err("refused");
        assert_eq!(err.code(), "key_account_mismatch");
    }

    #[test]
    fn broken_key_files_are_refused_with_their_own_codes() {
        let good = key_file_text(&Keypair::from_seed([4; 32]));
        let cases = [
            ("not json", "bad_json".to_owned()),
            (&good.replace(KEY_FILE_TYPE, "rsa"), "not_a_key_file".into()),
            (
                &good.replace("\"seed\": \"04", "\"seed\": \"zz"),
                "bad_seed".into(),
            ),
            (
                &good.replace("\"type\"", "\"extra\": 1, \"type\""),
                "bad_json".into(),
            ),
            (&"x".repeat(KEY_FILE_BYTES_MAX + 1), "file_too_large".into()),
            (
                &format!(
                    "[\"{KEY_FILE_TYPE}\", \"{}\", \"{}\"]",
                    hex::encode([4u8; 32]),
                    Keypair::from_seed([4; 32]).account().to_did()
                ),
                "bad_json".into(),
            ),
        ];
        for (text, code) in cases {
            let err = parse_key_file(text.as_bytes()).expect_err(text);
            assert_eq!(err.code(), code, "{text}");
        }
    }

    #[test]
    fn a_genesis_file_round_trips_and_a_misspelt_field_is_refused() {
        let g = genesis();
        let text = genesis_file_text(&g);
        assert_eq!(parse_genesis_file(text.as_bytes()).expect("parses"), g);
        let bad = text.replace("\"name\"", "\"nmae\"");
        let err = parse_genesis_file(bad.as_bytes()).expect_err("misspelt");
        assert_eq!(err.code(), "bad_json");
        let a = g.allocations[0].0.to_did();
        let positional = text.replace(
            &format!("{{\n      \"account\": \"{a}\",\n      \"amount\": 5\n    }}"),
            &format!("[\"{a}\", 5]"),
        );
        assert_ne!(positional, text, "the allocation was rewritten as an array");
        let err = parse_genesis_file(positional.as_bytes()).expect_err("an array item");
        assert_eq!(err.code(), "bad_json");
    }

    #[test]
    fn an_accelerated_clock_round_trips_through_a_genesis_file() {
        let mut g = genesis();
        g.clock = crate::LedgerClock::Accelerated { speed: 60 };
        let text = genesis_file_text(&g);
        assert!(text.contains("\"clock_speed\": 60"), "{text}");
        assert_eq!(parse_genesis_file(text.as_bytes()).expect("parses"), g);
        assert!(!genesis_file_text(&genesis()).contains("clock_speed"));
        let slow = text.replace("\"clock_speed\": 60", "\"clock_speed\": 1");
        let err = parse_genesis_file(slow.as_bytes()).expect_err("speed 1");
        assert_eq!(err.code(), "invalid_genesis");
    }

    #[test]
    fn a_genesis_file_that_cannot_start_a_network_is_refused() {
        let mut g = genesis();
        g.sequencers.clear();
        let err = parse_genesis_file(genesis_file_text(&g).as_bytes()).expect_err("no sequencer");
        assert_eq!(err.code(), "invalid_genesis");
        let text = genesis_file_text(&genesis()).replace("did:key:z6Mk", "did:key:zQ3s");
        let err = parse_genesis_file(text.as_bytes()).expect_err("bad ids");
        assert_eq!(err.code(), "bad_account_id");
    }
}
