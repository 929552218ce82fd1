//! `ting.MarketBuyer`: the market's buyer side on a `Device` (docs/market.md
//! §5). The app calls for proposals and then steps the buyer: each step
//! hands it what the device received and lets its clock work run (choosing
//! by policy, paying into the hold, counter-offers, refunds after a missed
//! deadline); the events say what happened. Contracts are files under the
//! device's state directory, so a restarted buyer carries on.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use ting_agent::device::Message;
use ting_agent::market::{Buyer, BuyerEvent, Need, Policy};
use ting_core::limits::{
    CALL_ROUNDS_MAX, CALL_SPEC_BYTES_MAX, HOLD_GRACE_MS_DEFAULT, SERVICE_CATEGORY_BYTES_MAX,
};
use ting_core::market::ReleaseRule;
use ting_core::{Amount, Hash32};
use tokio::sync::Mutex;

use crate::device::{closed, wait, Device, Held, Shared};
use crate::error::{bad, coded};
use crate::json::to_py;
use crate::key::account;
use crate::rt::block_on;

/// A buyer on one device; its contracts live in the device's state directory.
#[pyclass(module = "ting", frozen)]
#[derive(Debug)]
pub struct MarketBuyer {
    device: Shared,
    buyer: Arc<Mutex<Buyer>>,
}

fn ms(seconds: f64, what: &str) -> PyResult<u64> {
    Ok(u64::try_from(wait(seconds, what)?.as_millis()).unwrap_or(u64::MAX))
}

fn call_id(text: &str) -> PyResult<Hash32> {
    Hash32::from_hex(text).ok_or_else(|| bad("bad_call", "a call id is 64 hex digits"))
}

/// Whether `m` is the buyer's to take: proposals and declines of its calls.
fn is_buyers(m: &Message) -> bool {
    matches!(m, Message::Proposal { .. } | Message::Decline { .. })
}

fn event_dict<'py>(py: Python<'py>, e: &BuyerEvent) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let (kind, call) = match e {
        BuyerEvent::Called { call } => ("called", call),
        BuyerEvent::Proposed {
            call,
            provider,
            price,
        } => {
            d.set_item("provider", provider.to_did())?;
            d.set_item("price", price.base_units())?;
            ("proposed", call)
        }
        BuyerEvent::Countered {
            call,
            round,
            providers,
        } => {
            d.set_item("round", *round)?;
            d.set_item("providers", *providers)?;
            ("countered", call)
        }
        BuyerEvent::Chose {
            call,
            provider,
            price,
            hold,
        } => {
            d.set_item("provider", provider.to_did())?;
            d.set_item("price", price.base_units())?;
            d.set_item("hold", hold.to_hex())?;
            ("chose", call)
        }
        BuyerEvent::NoProposal { call } => ("no_proposal", call),
        BuyerEvent::HoldRefused {
            call,
            provider,
            code,
        } => {
            d.set_item("provider", provider.to_did())?;
            d.set_item("code", code)?;
            ("hold_refused", call)
        }
        BuyerEvent::Released { call } => ("released", call),
        BuyerEvent::Refunded { call } => ("refunded", call),
        BuyerEvent::Ended { call } => ("ended", call),
    };
    d.set_item("type", kind)?;
    d.set_item("call", call.to_hex())?;
    Ok(d)
}

fn events<'py>(py: Python<'py>, list: &[BuyerEvent]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for e in list {
        out.append(event_dict(py, e)?)?;
    }
    Ok(out)
}

impl MarketBuyer {
    pub fn open(
        dev: &Device,
        py: Python<'_>,
        max_price: u64,
        min_score_ppm: u32,
        newcomer_max: Option<u64>,
    ) -> PyResult<MarketBuyer> {
        let policy = Policy {
            max_price: Amount::new(max_price),
            min_score_ppm,
            newcomer_max: newcomer_max.map_or(Amount::MAX, Amount::new),
            ..Policy::default()
        };
        let shared = dev.shared.clone();
        let buyer = block_on(py, async move {
            let guard = shared.lock().await;
            let held = guard.as_ref().ok_or_else(closed)?;
            Buyer::open(&held.device, policy).map_err(coded)
        })?;
        Ok(MarketBuyer {
            device: dev.shared.clone(),
            buyer: Arc::new(Mutex::new(buyer)),
        })
    }
}

/// Runs `$body` with the device as `$d` and the buyer as `$b`, GIL released.
macro_rules! on_buyer {
    ($s:expr, $py:expr, |$d:ident, $b:ident| $body:expr) => {{
        let device = $s.device.clone();
        let buyer = $s.buyer.clone();
        block_on($py, async move {
            let mut guard = device.lock().await;
            let Some(held) = guard.as_mut() else {
                return Err(closed());
            };
            let $d = &mut held.device;
            let mut held = buyer.lock().await;
            let $b = &mut *held;
            let out: PyResult<_> = async { $body }.await;
            out
        })
    }};
}

#[pymethods]
impl MarketBuyer {
    /// Publishes a call for proposals: `category` and `spec` (what is
    /// needed), at most `max_price`, proposals taken for `answer_within`
    /// seconds, the service due within `deliver_within` seconds. The hold
    /// is released on the buyer's word (`release`), or by `arbiter` when
    /// one is named. Answers the call's id.
    #[pyo3(signature = (category, spec, max_price, *, area = String::new(), answer_within = 10.0,
        deliver_within = 3600.0, grace = None, rounds = 0, arbiter = None))]
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        py: Python<'_>,
        category: String,
        spec: String,
        max_price: u64,
        area: String,
        answer_within: f64,
        deliver_within: f64,
        grace: Option<f64>,
        rounds: u8,
        arbiter: Option<String>,
    ) -> PyResult<String> {
        if category.is_empty() || category.len() > SERVICE_CATEGORY_BYTES_MAX {
            return Err(bad(
                "bad_call",
                format!("a category is 1 to {SERVICE_CATEGORY_BYTES_MAX} bytes"),
            ));
        }
        if spec.len() > CALL_SPEC_BYTES_MAX {
            return Err(bad(
                "bad_call",
                format!("a spec is at most {CALL_SPEC_BYTES_MAX} bytes"),
            ));
        }
        if rounds > CALL_ROUNDS_MAX {
            return Err(bad(
                "bad_call",
                format!("rounds is at most {CALL_ROUNDS_MAX}"),
            ));
        }
        let arbiter = arbiter.map(|a| account(&a, "arbiter")).transpose()?;
        let need = Need {
            category,
            area,
            spec,
            max_price: Amount::new(max_price),
            answer_within_ms: ms(answer_within, "answer_within")?,
            deliver_within_ms: ms(deliver_within, "deliver_within")?,
            grace_ms: match grace {
                Some(g) => ms(g, "grace")?,
                None => HOLD_GRACE_MS_DEFAULT,
            },
            rounds,
            rule: if arbiter.is_some() {
                ReleaseRule::Arbiter
            } else {
                ReleaseRule::Payer
            },
            arbiter,
        };
        let call = on_buyer!(self, py, |d, b| b.call(d, need).await.map_err(coded))?;
        Ok(call.to_hex())
    }

    /// Waits up to `timeout` seconds for one message, hands it to the
    /// buyer, then runs its clock work. Answers what happened, as dicts
    /// (`type`: called, proposed, countered, chose, no_proposal,
    /// hold_refused, released, refunded, ended; `call`; ...).
    #[pyo3(signature = (timeout = 1.0))]
    fn step<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyList>> {
        let limit = wait(timeout, "timeout")?;
        let device = self.device.clone();
        let buyer = self.buyer.clone();
        let happened = block_on(py, async move {
            let mut guard = device.lock().await;
            let Some(Held { device, aside, .. }) = guard.as_mut() else {
                return Err(closed());
            };
            let mut b = buyer.lock().await;
            let mut out = Vec::new();
            if let Ok(Some(m)) = tokio::time::timeout(limit, device.recv()).await {
                if is_buyers(&m) {
                    out.extend(b.on_message(&m).map_err(coded)?);
                } else {
                    Held::set_aside(aside, m);
                }
            }
            out.extend(b.tick(device).await.map_err(coded)?);
            Ok(out)
        })?;
        events(py, &happened)
    }

    /// The buyer's record of `call`: `status` (calling, holding, accepted,
    /// releasing, released, refunded, ended, no_proposal), the proposals,
    /// the chosen provider and price, the hold, and the hold's phase on the
    /// ledger (proved; absent once it ended).
    fn contract(&self, py: Python<'_>, call: &str) -> PyResult<Option<Py<PyAny>>> {
        let call = call_id(call)?;
        let v = on_buyer!(self, py, |d, b| {
            let Some(c) = b.contract(&call).cloned() else {
                return Ok(None);
            };
            let phase = match c.hold {
                Some(h) => d
                    .http()
                    .hold(&h)
                    .await
                    .map_err(coded)?
                    .map(|h| h.phase.name()),
                None => None,
            };
            let proposals: Vec<_> = c
                .proposals
                .iter()
                .map(|(who, p)| serde_json::json!({"provider": who.to_did(), "price": p.price.base_units(), "deliver_by_ms": p.deliver_by.0}))
                .collect();
            Ok(Some(serde_json::json!({
                "call": call.to_hex(),
                "status": c.status,
                "category": c.call.call.category,
                "proposals": proposals,
                "provider": c.chosen.as_ref().map(|(who, _)| who.to_did()),
                "price": c.chosen.as_ref().map(|(_, p)| p.price.base_units()),
                "hold": c.hold.map(|h| h.to_hex()),
                "hold_phase": phase,
            })))
        })?;
        v.map(|v| to_py(py, &v)).transpose()
    }

    /// Releases the accepted hold of `call` to the provider, on the
    /// buyer's word. Answers the events (`released` once the ledger took it).
    fn release<'py>(&self, py: Python<'py>, call: &str) -> PyResult<Bound<'py, PyList>> {
        let call = call_id(call)?;
        let happened = on_buyer!(self, py, |d, b| b.release(d, &call).await.map_err(coded))?;
        events(py, happened.as_slice())
    }
}
