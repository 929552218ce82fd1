//! The `ting._native` extension module: ting-core's keys and transactions
//! and ting-agent's node client and device, for Python. The package around
//! it (`python/ting`) re-exports these classes with its error type; its
//! typed interface is `python/ting/_native.pyi`.
//!
//! Every call that waits (the network, a file sync) releases the GIL and
//! blocks on one shared tokio runtime ([`rt`]); every failure is a
//! `ting.TingError` with a stable code ([`error`]).

mod channels;
mod device;
mod error;
mod json;
mod key;
mod market;
mod messages;
mod node;
mod rt;
mod streams;
mod tx;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<key::Key>()?;
    m.add_class::<tx::Tx>()?;
    m.add_class::<node::Node>()?;
    m.add_class::<device::Device>()?;
    m.add_class::<market::MarketBuyer>()?;
    m.add_class::<streams::StreamBuyer>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
