//! `ting.Tx`: a signed transaction, its canonical bytes and its hash.

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ting_core::SignedTx;

use crate::error::{bad, coded};
use crate::json::to_py;

/// A signed transaction. `bytes` is what goes to a node (HTTP or MQTT);
/// `Tx.decode` reads such bytes back, and `verify` checks the signature.
#[pyclass(module = "ting", frozen)]
#[derive(Debug, Clone)]
pub struct Tx {
    pub(crate) tx: SignedTx,
}

#[pymethods]
impl Tx {
    /// Reads a transaction's canonical bytes (at most one transaction's
    /// bound); the signature is not checked until `verify`.
    #[staticmethod]
    fn decode(data: &[u8]) -> PyResult<Tx> {
        let tx = ting_api::decode_tx(data).map_err(coded)?;
        Ok(Tx { tx })
    }

    /// Checks the signature against the sender's key; raises
    /// `TingError("bad_signature")` when it does not hold.
    fn verify(&self) -> PyResult<()> {
        self.tx
            .clone()
            .verify()
            .map(|_| ())
            .map_err(|e| bad("bad_signature", e))
    }

    /// The canonical bytes (docs/wire.md).
    #[getter]
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.tx.bytes())
    }

    /// The transaction's hash, as 64 hex digits: its id on the ledger.
    #[getter]
    fn hash(&self) -> String {
        self.tx.hash().to_hex()
    }

    #[getter]
    fn sender(&self) -> String {
        self.tx.sender().to_did()
    }

    #[getter]
    fn nonce(&self) -> u64 {
        self.tx.nonce().0
    }

    /// The kind's name: `transfer`, `channel_open`, ...
    #[getter]
    fn kind(&self) -> &'static str {
        self.tx.kind().name()
    }

    /// The API's JSON form (docs/api.md §4) as a dict.
    fn to_json(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = serde_json::to_value(ting_api::TxJson::from_tx(&self.tx))
            .map_err(|e| bad("internal", e))?;
        to_py(py, &v)
    }

    fn __repr__(&self) -> String {
        format!("Tx({} {})", self.tx.kind().name(), self.tx.hash().to_hex())
    }
}
