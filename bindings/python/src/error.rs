//! Errors as Python sees them: every failure is a `ting.TingError` with a
//! stable `code` (the same codes the CLI and the HTTP API use) and a message
//! that names what was wrong. The class is defined in Python
//! (`python/ting/errors.py`), so it has real attributes on every CPython
//! the stable ABI serves; this module raises it.

use std::fmt::Display;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// A `ting.TingError(code, message)`.
pub fn fail(code: &str, message: impl Display) -> PyErr {
    let message = message.to_string();
    Python::attach(|py| {
        let class = py
            .import("ting.errors")
            .and_then(|m| m.getattr("TingError"));
        match class.and_then(|c| c.call1((code, message.as_str()))) {
            Ok(e) => PyErr::from_value(e),
            // Only when the package around the module is missing.
            Err(_) => PyRuntimeError::new_err(format!("{code}: {message}")),
        }
    })
}

/// Anything with a stable code, raised as a `TingError`.
pub trait Coded: Display {
    fn code_str(&self) -> &str;
}

macro_rules! coded {
    ($($t:ty),* $(,)?) => {$(
        impl Coded for $t {
            fn code_str(&self) -> &str {
                self.code()
            }
        }
    )*};
}

coded!(
    ting_agent::HttpError,
    ting_agent::device::StartError,
    ting_agent::device::SubmitError,
    ting_agent::device::QueueError,
    ting_agent::device::SendError,
    ting_agent::device::ChannelError,
    ting_agent::device::InboxError,
    ting_agent::stream::BuyerError,
    ting_agent::market::MarketError,
    ting_agent::files::FileError,
    ting_agent::state_lock::LockError,
    ting_core::AccountError,
);

impl Coded for ting_api::FormError {
    fn code_str(&self) -> &str {
        self.code
    }
}

/// `e` as a `TingError` with its own code.
pub fn coded<E: Coded>(e: E) -> PyErr {
    fail(e.code_str(), &e)
}

/// A bad argument: `code` names the rule, `message` the argument.
pub fn bad(code: &str, message: impl Display) -> PyErr {
    fail(code, message)
}
