//! Channels on a `Device`: the payer opens and pays, the payee takes the
//! channel up, counts what it was paid and claims it (docs/channels.md).
//! Every step is ting-agent's, durable before it returns.

use pyo3::prelude::*;
use ting_agent::ChannelOffer;
use ting_core::channel::payee::ClaimPolicy;
use ting_core::limits::CHAIN_LEN_MAX;
use ting_core::{Amount, ChannelId, Timestamp};

use crate::device::{span, Device};
use crate::error::{bad, coded};
use crate::json::to_py;
use crate::key::account;
use crate::on_device;

/// How long a channel may be opened for from here: a year and a day.
const CHANNEL_OPEN_S_MAX: f64 = 366.0 * 86_400.0;

pub fn channel_id(text: &str) -> PyResult<ChannelId> {
    ChannelId::from_hex(text).ok_or_else(|| bad("bad_channel", "a channel id is 64 hex digits"))
}

/// The ticks a deposit pays for at `price`, within one chain's bound.
fn ticks_for(deposit: u64, price: u64) -> u32 {
    u32::try_from(deposit / price)
        .unwrap_or(u32::MAX)
        .min(CHAIN_LEN_MAX)
}

pub fn open(
    dev: &Device,
    py: Python<'_>,
    payee: &str,
    deposit: u64,
    price: u64,
    ticks: Option<u32>,
    valid_for: f64,
) -> PyResult<String> {
    if deposit == 0 || price == 0 {
        return Err(bad(
            "bad_amount",
            "a channel needs a deposit and a price above 0",
        ));
    }
    let payee = account(payee, "payee")?;
    let ticks = ticks.unwrap_or_else(|| ticks_for(deposit, price));
    let valid = span(valid_for, "valid_for", CHANNEL_OPEN_S_MAX)?;
    let valid_ms = u64::try_from(valid.as_millis()).unwrap_or(u64::MAX);
    let id = on_device!(dev, py, |d| {
        let offer = ChannelOffer {
            payee,
            deposit: Amount::new(deposit),
            price: Amount::new(price),
            ticks,
            expires_at: Timestamp(d.now().0.saturating_add(valid_ms)),
        };
        d.open_channel(offer).await.map_err(coded)
    })?;
    Ok(id.to_hex())
}

pub fn pay(dev: &Device, py: Python<'_>, channel: &str, units: u64) -> PyResult<Py<PyAny>> {
    let channel = channel_id(channel)?;
    if units == 0 {
        return Err(bad("bad_amount", "pay at least 1 unit"));
    }
    let paid = on_device!(dev, py, |d| {
        d.pay(&channel, units).await.map_err(coded)?;
        d.paid_into(&channel).await.map_err(coded)
    })?;
    let v = serde_json::json!({ "channel": channel.to_hex(), "paid": paid.base_units() });
    to_py(py, &v)
}

pub fn accept(dev: &Device, py: Python<'_>, channel: &str) -> PyResult<()> {
    let channel = channel_id(channel)?;
    on_device!(dev, py, |d| d.accept_channel(&channel).await.map_err(coded))
}

pub fn paid_by(dev: &Device, py: Python<'_>, payer: &str, channel: &str) -> PyResult<u64> {
    let payer = account(payer, "payer")?;
    let channel = channel_id(channel)?;
    let paid = on_device!(dev, py, |d| d.paid_by(&payer, &channel).map_err(coded))?;
    Ok(paid.base_units())
}

pub fn claim(dev: &Device, py: Python<'_>, channel: &str) -> PyResult<u64> {
    let channel = channel_id(channel)?;
    let claimed = on_device!(dev, py, |d| d
        .claim(&channel, &ClaimPolicy::ALWAYS)
        .await
        .map_err(coded))?;
    Ok(claimed.base_units())
}
