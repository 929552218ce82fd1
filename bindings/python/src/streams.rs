//! `ting.StreamBuyer`: buying a data stream within a budget on a `Device`.
//! Opening it pays nothing yet: it publishes the device's messaging key if
//! the ledger has none, opens (or reuses) the channel to the seller and
//! subscribes. `collect` then hands ting-agent's buyer everything that
//! arrives (it checks every chunk and buys each epoch's key once, within
//! the budget) and answers the rows bought since the last call.

use std::sync::Arc;

use pyo3::prelude::*;
use ting_agent::stream::follow::{self, Until};
use ting_agent::stream::{export, Bought, Buyer, BuyerSetup};
use ting_core::stream::StreamId;
use ting_core::Amount;
use tokio::sync::Mutex;

use crate::device::{closed, wait, Device, Held, Shared};
use crate::error::{bad, coded};
use crate::json::to_py;
use crate::rt::block_on;

/// How long opening waits for the broker to take the subscription.
const SETTLE_S: f64 = 10.0;

/// One stream's buyer on one device. Points bought in earlier runs with
/// the same state directory come back on the first `collect` and are never
/// paid again.
#[pyclass(module = "ting", frozen)]
#[derive(Debug)]
pub struct StreamBuyer {
    device: Shared,
    buyer: Arc<Mutex<(Buyer, Vec<Bought>)>>,
    channel: String,
    stream: String,
}

impl StreamBuyer {
    pub fn open(
        dev: &Device,
        py: Python<'_>,
        stream: &str,
        budget: u64,
        deposit: u64,
    ) -> PyResult<StreamBuyer> {
        let id = StreamId::from_hex(stream)
            .ok_or_else(|| bad("bad_stream", "a stream id is 64 hex digits"))?;
        if deposit == 0 || budget == 0 {
            return Err(bad(
                "bad_amount",
                "a purchase needs a budget and a deposit above 0",
            ));
        }
        let settle_by = tokio::time::Instant::now() + wait(SETTLE_S, "settle")?;
        let shared = dev.shared.clone();
        let (buyer, held, channel) =
            block_on(py, async move {
                let mut guard = shared.lock().await;
                let Some(held) = guard.as_mut() else {
                    return Err(closed());
                };
                let d = &mut held.device;
                let me = d.account();
                if d.http().messaging_key(&me).await.map_err(coded)?.is_none() {
                    d.publish_messaging_key().await.map_err(coded)?;
                }
                let on_ledger =
                    d.http().stream(&id).await.map_err(coded)?.ok_or_else(|| {
                        bad("unknown_stream", format!("no open stream has id {id}"))
                    })?;
                let channel = follow::channel_for(d, &id, on_ledger.seller, Amount::new(deposit))
                    .await
                    .map_err(coded)?;
                let setup = BuyerSetup {
                    stream: id,
                    channel,
                    budget: Amount::new(budget),
                    attestation: None,
                };
                let (buyer, held) = Buyer::open(d, setup).await.map_err(coded)?;
                if !follow::settle(d, settle_by).await {
                    return Err(bad(
                        "unreachable",
                        "the broker did not take the stream's subscription",
                    ));
                }
                Ok((buyer, held, channel))
            })?;
        Ok(StreamBuyer {
            device: dev.shared.clone(),
            buyer: Arc::new(Mutex::new((buyer, held))),
            channel: channel.to_hex(),
            stream: stream.to_owned(),
        })
    }
}

#[pymethods]
impl StreamBuyer {
    /// Follows the stream for up to `timeout` seconds, or until `points`
    /// new points are held, and answers the rows bought meanwhile (and,
    /// the first time, those of earlier runs): dicts with `seq, epoch,
    /// field, unit, form, value, at_ms` (and `window_ms, count` for
    /// aggregates), ready for `pandas.DataFrame(rows)`. `value` is a
    /// decimal string in the field's unit, exact.
    #[pyo3(signature = (*, points = None, timeout = 30.0))]
    fn collect(&self, py: Python<'_>, points: Option<usize>, timeout: f64) -> PyResult<Py<PyAny>> {
        let deadline = tokio::time::Instant::now() + wait(timeout, "timeout")?;
        let device = self.device.clone();
        let buyer = self.buyer.clone();
        let rows = block_on(py, async move {
            let mut guard = device.lock().await;
            let Some(Held { device, aside, .. }) = guard.as_mut() else {
                return Err(closed());
            };
            let mut kept = buyer.lock().await;
            let (buyer, earlier) = &mut *kept;
            let mut bought = std::mem::take(earlier);
            let until = Until {
                deadline,
                points: points.map(|n| n.saturating_add(bought.len())),
            };
            let other = |m| Held::set_aside(aside, m);
            follow::follow(device, buyer, &mut bought, until, |_| {}, other)
                .await
                .map_err(coded)?;
            Ok(export::json(buyer.terms(), &bought))
        })?;
        to_py(py, &rows)
    }

    /// Base units paid for the stream's keys, over every run.
    #[getter]
    fn spent(&self, py: Python<'_>) -> u64 {
        let buyer = self.buyer.clone();
        block_on(py, async move { buyer.lock().await.0.spent().base_units() })
    }

    /// Epochs whose key this buyer holds.
    #[getter]
    fn epochs(&self, py: Python<'_>) -> Vec<u64> {
        let buyer = self.buyer.clone();
        block_on(py, async move { buyer.lock().await.0.epochs().collect() })
    }

    /// The channel the stream is paid through (hex).
    #[getter]
    fn channel(&self) -> String {
        self.channel.clone()
    }

    #[getter]
    fn stream(&self) -> String {
        self.stream.clone()
    }

    /// Stops following: no more keys are asked for.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let device = self.device.clone();
        let buyer = self.buyer.clone();
        block_on(py, async move {
            let guard = device.lock().await;
            let held = guard.as_ref().ok_or_else(closed)?;
            buyer.lock().await.0.stop(&held.device);
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        format!("StreamBuyer({})", self.stream)
    }
}
