//! `ting.Key`: a device's or an owner's signing key, and signing any
//! transaction kind with it, offline.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ting_core::{AccountId, Amount, Hash32, Keypair, Nonce, Timestamp, TxBody, TxKind};

use crate::error::{bad, coded};
use crate::json::from_py;
use crate::tx::Tx;

/// An Ed25519 signing key. The seed stays inside; `save` writes it to a
/// file only its owner can read (the CLI's key file format).
#[pyclass(module = "ting", frozen)]
#[derive(Debug)]
pub struct Key {
    pub(crate) key: Keypair,
}

/// Where a transaction goes: the network's genesis hash, the nonce and the
/// last ledger time it may apply.
#[derive(Debug)]
pub struct Slot {
    pub genesis: Hash32,
    pub nonce: Nonce,
    pub valid_until: Timestamp,
}

impl Slot {
    pub fn new(genesis: &str, nonce: u64, valid_until: u64) -> PyResult<Slot> {
        let genesis = Hash32::from_hex(genesis)
            .ok_or_else(|| bad("bad_genesis", "genesis must be 64 hex digits"))?;
        Ok(Slot {
            genesis,
            nonce: Nonce(nonce),
            valid_until: Timestamp(valid_until),
        })
    }
}

pub fn account(text: &str, what: &str) -> PyResult<AccountId> {
    AccountId::parse(text).map_err(|e| bad("bad_account", format!("{what}: {e}")))
}

impl Key {
    pub fn sign_kind(&self, slot: Slot, kind: TxKind) -> Tx {
        let tx = TxBody {
            genesis: slot.genesis,
            sender: self.key.account(),
            nonce: slot.nonce,
            valid_until: slot.valid_until,
            kind,
        }
        .sign(&self.key);
        Tx { tx }
    }
}

#[pymethods]
impl Key {
    /// A new key from the operating system's randomness.
    #[staticmethod]
    fn generate() -> Key {
        Key {
            key: Keypair::generate(&mut rand::rng()),
        }
    }

    /// The key of a 32-byte seed (the same seed always gives the same key).
    #[staticmethod]
    fn from_seed(seed: &[u8]) -> PyResult<Key> {
        let seed: [u8; 32] = seed.try_into().map_err(|_| {
            bad(
                "bad_seed",
                format!("a seed is 32 bytes, not {}", seed.len()),
            )
        })?;
        Ok(Key {
            key: Keypair::from_seed(seed),
        })
    }

    /// Reads a key file (`ting keygen` writes them).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Key> {
        let key = ting_agent::files::read_key(&path).map_err(coded)?;
        Ok(Key { key })
    }

    /// Writes the key to a new file, mode 0600; refuses to overwrite one.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        ting_agent::files::write_key(&path, &self.key).map_err(coded)
    }

    /// The account, as a `did:key`.
    #[getter]
    fn account(&self) -> String {
        self.key.account().to_did()
    }

    /// The account's 32 bytes as hex (the public key).
    #[getter]
    fn account_hex(&self) -> String {
        self.key.account().to_hex()
    }

    /// Signs a transaction of any kind: `kind` and `fields` as in the API's
    /// JSON form (docs/api.md §4), for the network whose genesis hash is
    /// `genesis`, with `nonce`, applying until `valid_until` (ms).
    #[pyo3(signature = (kind, fields, *, genesis, nonce, valid_until))]
    fn sign(
        &self,
        kind: &str,
        fields: &Bound<'_, PyAny>,
        genesis: &str,
        nonce: u64,
        valid_until: u64,
    ) -> PyResult<Tx> {
        let fields = from_py(fields, "fields")?;
        let kind = ting_api::tx::kind_from_json(kind, &fields).map_err(coded)?;
        Ok(self.sign_kind(Slot::new(genesis, nonce, valid_until)?, kind))
    }

    /// Signs a transfer of `amount` base units to `to` (a `did:key` or hex).
    #[pyo3(signature = (to, amount, *, genesis, nonce, valid_until))]
    fn sign_transfer(
        &self,
        to: &str,
        amount: u64,
        genesis: &str,
        nonce: u64,
        valid_until: u64,
    ) -> PyResult<Tx> {
        let kind = TxKind::Transfer {
            to: account(to, "to")?,
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        Ok(self.sign_kind(Slot::new(genesis, nonce, valid_until)?, kind))
    }

    /// Signs arbitrary bytes (an Ed25519 signature, 64 bytes).
    fn sign_bytes<'py>(&self, py: Python<'py>, message: &[u8]) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.key.sign(message).0)
    }

    fn __repr__(&self) -> String {
        format!("Key({})", self.key.account().to_did())
    }
}
