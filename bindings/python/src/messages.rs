//! What a device receives, as the dicts `Device.recv` answers: every
//! message has `type` and `from`; application data brings its `payload`
//! (bytes) and whether it came `encrypted`, a channel payment what it paid.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use ting_agent::device::Message;

/// `m` as a dict.
pub fn message_dict<'py>(py: Python<'py>, m: &Message) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match m {
        Message::Data {
            from,
            payload,
            encrypted,
        } => {
            d.set_item("type", "data")?;
            d.set_item("from", from.to_did())?;
            d.set_item("payload", PyBytes::new(py, payload))?;
            d.set_item("encrypted", *encrypted)?;
        }
        Message::Payment {
            from,
            channel,
            accepted,
        } => {
            d.set_item("type", "payment")?;
            d.set_item("from", from.to_did())?;
            d.set_item("channel", channel.to_hex())?;
            d.set_item("paid", accepted.newly_paid.base_units())?;
            d.set_item("total", accepted.total.base_units())?;
        }
        other => {
            let (kind, from) = kind_of(other);
            d.set_item("type", kind)?;
            d.set_item("from", from)?;
        }
    }
    Ok(d)
}

/// The other kinds' names (docs/mqtt.md) and senders, where they have one.
fn kind_of(m: &Message) -> (&'static str, Option<String>) {
    match m {
        Message::Data { from, .. } => ("data", Some(from.to_did())),
        Message::Payment { from, .. } => ("payment", Some(from.to_did())),
        Message::KeyRequest { from, .. } => ("key_request", Some(from.to_did())),
        Message::KeyGrant { from, .. } => ("key_grant", Some(from.to_did())),
        Message::KeyRefusal { from, .. } => ("key_refusal", Some(from.to_did())),
        Message::Delivery { from, .. } => ("delivery", Some(from.to_did())),
        Message::Chunk { .. } => ("chunk", None),
        Message::Call { .. } => ("call", None),
        Message::Proposal { from, .. } => ("proposal", Some(from.to_did())),
        Message::Counter { from, .. } => ("counter", Some(from.to_did())),
        Message::Accept { from, .. } => ("accept", Some(from.to_did())),
        Message::Decline { from, .. } => ("decline", Some(from.to_did())),
        Message::Evidence { from, .. } => ("evidence", Some(from.to_did())),
        _ => ("other", None),
    }
}
