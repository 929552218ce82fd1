//! An uplink relay sold by the message on an order book (docs/market.md
//! §10): a [`Gateway`] with a backhaul keeps an ask resting in a class
//! such as `bandwidth.uplink.msg`; a [`Sensor`] bids for so many messages,
//! and the fill makes a lease. The sensor then sends each reading to the
//! gateway (`Relay`), the gateway forwards it and answers (`Relayed`), and
//! after every batch of receipts the sensor signs the cumulative count
//! (`Count`). The gateway settles those counts on the ledger and closes
//! the lease after it ends: it is paid exactly the units the buyer signed,
//! and the buyer gets the rest back.
//!
//! Neither side trusts the other further than one interval: the gateway
//! relays at most `credit` messages past the last signed count, and the
//! sensor never signs more than it saw relayed. Neither acts on the node's
//! word: every lease is read with its state proof before it is used.

pub mod gateway;
pub mod sensor;
mod store;
pub mod wire;

use thiserror::Error;

pub use gateway::{Gateway, GatewayConfig, GatewayEvent, PricePolicy};
pub use sensor::{Sensor, SensorConfig, SensorEvent};
pub use wire::{Wire, WireError};

use crate::device::{QueueError, SendError, SubmitError};
use crate::HttpError;

/// Leases one gateway serves at once; more are not taken on.
pub const LEASES_SERVED_MAX: usize = 256;

/// Why a relay step did not happen.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RelayError {
    #[error("could not {op}: {source}")]
    Io {
        op: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("the node could not be asked: {0}")]
    Http(#[from] HttpError),
    #[error("the relay file {0} is damaged")]
    Damaged(String),
    #[error("refused here: {0}")]
    Refused(&'static str),
}
