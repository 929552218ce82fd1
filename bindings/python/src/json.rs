//! Structured answers cross into Python as plain dicts and lists, through
//! the standard `json` module: the node's JSON already is the documented
//! shape (docs/api.md), and integers of any size stay exact.

use pyo3::prelude::*;
use serde_json::Value;

use crate::error::bad;

/// `v` as Python objects (dict, list, int, str, bool, None).
pub fn to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    let loads = py.import("json")?.getattr("loads")?;
    Ok(loads.call1((v.to_string(),))?.unbind())
}

/// A Python dict (or any JSON-able object) as JSON; `what` names it in the error.
pub fn from_py(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    let py = obj.py();
    let text: String = py
        .import("json")?
        .getattr("dumps")?
        .call1((obj,))
        .and_then(|t| t.extract())
        .map_err(|e| bad("bad_input", format!("{what} is not JSON-able: {e}")))?;
    serde_json::from_str(&text).map_err(|e| bad("bad_input", format!("{what}: {e}")))
}

/// A checked commit as Python sees it: `{tx_hash, height, index}`.
pub fn commit_dict(
    py: Python<'_>,
    tx_hash: &ting_core::Hash32,
    height: ting_core::BlockHeight,
    index: u32,
) -> PyResult<Py<PyAny>> {
    let v = serde_json::json!({ "tx_hash": tx_hash.to_hex(), "height": height.0, "index": index });
    to_py(py, &v)
}
