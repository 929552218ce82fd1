//! The CLI's log output: `TING_LOG` (an `EnvFilter`, default `info`) on stderr.
//!
//! The embedded broker (rmqtt) logs through the `log` crate, which is not
//! forwarded here: what the broker refuses is logged by the node's own guard
//! (`ting_node::mqtt`), with the refusal's code, and counted.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The default filter.
const DEFAULT_FILTER: &str = "info";

/// Installs the subscriber: stderr, ANSI colours only on a terminal.
pub fn init() {
    use std::io::IsTerminal;
    let filter =
        EnvFilter::try_from_env("TING_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_filter(filter);
    tracing_subscriber::registry().with(fmt).init();
}
