//! `ting.Node`: a node's HTTP API, with every answer that matters checked:
//! a commit against the sequencer's signed header, a balance or a nonce
//! against a state proof.

use std::sync::Arc;

use pyo3::prelude::*;
use ting_agent::verify::Verifier;
use ting_agent::wallet::{sign, TxSlot};
use ting_agent::NodeClient;
use ting_core::{Amount, Hash32, TxKind};

use crate::error::{bad, coded};
use crate::json::{commit_dict, from_py, to_py};
use crate::key::{account, Key};
use crate::rt::block_on;
use crate::tx::Tx;

/// A node's HTTP API. Without `sequencers` it trusts the keys the node's
/// `/v1/status` names (trust on first use, for development); a deployed
/// client names its network's sequencer keys, and then a node serving
/// another network or signing with another key is refused.
#[pyclass(module = "ting", frozen)]
#[derive(Debug)]
pub struct Node {
    client: NodeClient,
    genesis: String,
    network: u64,
}

fn committed(py: Python<'_>, c: &ting_agent::client::Committed) -> PyResult<Py<PyAny>> {
    commit_dict(py, &c.tx_hash, c.height, c.index)
}

#[pymethods]
impl Node {
    #[new]
    #[pyo3(signature = (url, *, sequencers = None))]
    fn new(py: Python<'_>, url: &str, sequencers: Option<Vec<String>>) -> PyResult<Node> {
        let plain = NodeClient::new(url).map_err(coded)?;
        let status = block_on(py, plain.status()).map_err(coded)?;
        let trusted = match sequencers {
            None => status.sequencers.clone(),
            Some(keys) => {
                let keys = keys
                    .iter()
                    .map(|k| account(k, "sequencers"))
                    .collect::<PyResult<Vec<_>>>()?;
                if !status.sequencers.iter().all(|s| keys.contains(s)) {
                    return Err(bad(
                        "untrusted_sequencer",
                        format!("{url} is sequenced by a key not among `sequencers`"),
                    ));
                }
                keys
            }
        };
        let verifier = Arc::new(Verifier::new(status.genesis_hash, trusted));
        Ok(Node {
            client: plain.verifying(verifier),
            genesis: status.genesis_hash.to_hex(),
            network: status.network.0.into(),
        })
    }

    /// The network's genesis hash, as hex: what transactions sign for.
    #[getter]
    fn genesis(&self) -> String {
        self.genesis.clone()
    }

    #[getter]
    fn network(&self) -> u64 {
        self.network
    }

    #[getter]
    fn url(&self) -> String {
        self.client.url().to_owned()
    }

    /// `GET /v1/status` as a dict.
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = block_on(py, self.client.get("/v1/status")).map_err(coded)?;
        to_py(py, &v)
    }

    /// Any documented read (`/v1/...`, docs/api.md §6) as a dict, as the
    /// node answered it: not checked. `balance`, `nonce` and `submit` are.
    fn get(&self, py: Python<'_>, path: &str) -> PyResult<Py<PyAny>> {
        if !path.starts_with("/v1/") {
            return Err(bad(
                "bad_path",
                format!("{path:?} is not an API path (/v1/...)"),
            ));
        }
        let v = block_on(py, self.client.get(path)).map_err(coded)?;
        to_py(py, &v)
    }

    /// The account's durable balance in base units, checked against a
    /// state proof under a signed header.
    fn balance(&self, py: Python<'_>, account_id: &str) -> PyResult<u64> {
        let id = account(account_id, "account")?;
        let a = block_on(py, self.client.balance(&id)).map_err(coded)?;
        Ok(a.base_units())
    }

    /// The account's next nonce, checked against a state proof.
    fn nonce(&self, py: Python<'_>, account_id: &str) -> PyResult<u64> {
        let id = account(account_id, "account")?;
        let n = block_on(py, self.client.nonce(&id)).map_err(coded)?;
        Ok(n.0)
    }

    /// Sends a signed transaction and waits until its block is durable.
    /// Answers `{tx_hash, height, index}` once the commit is checked
    /// against the sequencer's signature and the block's Merkle path;
    /// raises `TingError` with the ledger's code when it is refused.
    fn submit(&self, py: Python<'_>, tx: &Tx) -> PyResult<Py<PyAny>> {
        let c = block_on(py, self.client.submit(&tx.tx)).map_err(coded)?;
        committed(py, &c)
    }

    /// Signs `kind` with `fields` (docs/api.md §4) with `key`'s next nonce
    /// (read from the node, proved), valid for the default hour, and submits it.
    fn sign_and_submit(
        &self,
        py: Python<'_>,
        key: &Key,
        kind: &str,
        fields: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let fields = from_py(fields, "fields")?;
        let kind = ting_api::tx::kind_from_json(kind, &fields).map_err(coded)?;
        self.send_kind(py, key, kind)
    }

    /// Transfers `amount` base units from `key`'s account to `to`.
    fn transfer(&self, py: Python<'_>, key: &Key, to: &str, amount: u64) -> PyResult<Py<PyAny>> {
        let kind = TxKind::Transfer {
            to: account(to, "to")?,
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        self.send_kind(py, key, kind)
    }

    /// A committed transaction by its hash, with its receipt checked
    /// against the sequencer's signature and the block's Merkle path:
    /// `{tx, receipt}`, `tx` a `Tx` and `receipt` as docs/api.md §6.2
    /// shows it (its header signed, `height`, `timestamp`, ...).
    fn transaction(&self, py: Python<'_>, tx_hash: &str) -> PyResult<Py<PyAny>> {
        let hash = Hash32::from_hex(tx_hash)
            .ok_or_else(|| bad("bad_hash", "a transaction hash is 64 hex digits"))?;
        let record = block_on(py, self.client.transaction(&hash)).map_err(coded)?;
        let d = pyo3::types::PyDict::new(py);
        d.set_item("tx", Tx { tx: record.tx })?;
        d.set_item(
            "receipt",
            to_py(py, &ting_api::receipt_json(&record.receipt))?,
        )?;
        Ok(d.into_any().unbind())
    }

    /// A dev node's faucet: mints `amount` to `to` (refused by a node
    /// without `--dev`).
    fn faucet(&self, py: Python<'_>, to: &str, amount: u64) -> PyResult<Py<PyAny>> {
        let to = account(to, "to")?;
        let v = block_on(py, self.client.faucet(&to, Amount::new(amount))).map_err(coded)?;
        to_py(py, &v)
    }

    fn __repr__(&self) -> String {
        format!("Node({})", self.client.url())
    }
}

impl Node {
    fn send_kind(&self, py: Python<'_>, key: &Key, kind: TxKind) -> PyResult<Py<PyAny>> {
        let client = &self.client;
        let signer = &key.key;
        let c = block_on(py, async move {
            let slot = TxSlot::next(client, &signer.account()).await?;
            client.submit(&sign(signer, slot, kind)).await
        })
        .map_err(coded)?;
        committed(py, &c)
    }
}
