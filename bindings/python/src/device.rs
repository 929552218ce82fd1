//! `ting.Device`: a device on the network, as ting-agent runs one: it logs
//! in to the node's broker with its key, sends transactions and messages
//! over MQTT through a durable outbox, believes only receipts signed by its
//! sequencers, and keeps its channels in files under its state directory.
//!
//! The methods here are thin: each blocks on the runtime with the GIL
//! released. Channels, streams and the market's buyer side are in their
//! own modules.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use ting_agent::device::{Confirmed, DeviceConfig, Message};
use ting_agent::state_lock::StateLock;
use ting_core::{Amount, Keypair, TxKind};
use tokio::sync::Mutex;

use crate::error::{bad, coded};
use crate::json::{commit_dict, from_py};
use crate::key::{account, Key};
use crate::messages::message_dict;
use crate::rt::{block_on, runtime};
use crate::{channels, market, streams};

/// The device, shared with its stream and market buyers; `None` once closed.
pub type Shared = Arc<Mutex<Option<Held>>>;

/// Messages a buyer's loop received that were not its own, kept for
/// `recv`; past this the oldest go (as the device's own app queue does).
const SET_ASIDE_MAX: usize = ting_agent::device::APP_QUEUE_MAX;

/// A running device, what its buyers set aside for the app, and the lock
/// on its state directory (let go when the device closes).
#[derive(Debug)]
pub struct Held {
    pub device: ting_agent::Device,
    pub aside: VecDeque<Message>,
    _lock: StateLock,
}

impl Held {
    /// Keeps `m` for the app's next `recv`.
    pub fn set_aside(aside: &mut VecDeque<Message>, m: Message) {
        if aside.len() >= SET_ASIDE_MAX {
            aside.pop_front();
        }
        aside.push_back(m);
    }
}

/// How long a wait in seconds may be: a day.
const WAIT_S_MAX: f64 = 86_400.0;

/// `seconds` as a duration, refused unless finite, positive and at most a day.
pub fn wait(seconds: f64, what: &str) -> PyResult<Duration> {
    span(seconds, what, WAIT_S_MAX)
}

/// `seconds` as a duration, refused unless finite, positive and at most `max_s`.
pub fn span(seconds: f64, what: &str, max_s: f64) -> PyResult<Duration> {
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= max_s) {
        return Err(bad(
            "bad_duration",
            format!("{what} is {seconds} s: give more than 0 and at most {max_s} s"),
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub fn closed() -> PyErr {
    bad("closed", "the device is closed")
}

pub fn confirmed(py: Python<'_>, c: &Confirmed) -> PyResult<Py<PyAny>> {
    commit_dict(py, &c.tx_hash, c.height, c.index)
}

/// A device: its key, its state directory and the node it works through.
/// It learns the network, the sequencer and the broker from the node's
/// `/v1/status` (trust on first use, for development). It holds its state
/// directory until it closes: another `Device` or `ting market` command on
/// the same directory is refused (`state_in_use`). Use it from one thread at
/// a time.
#[pyclass(module = "ting", frozen)]
#[derive(Debug)]
pub struct Device {
    pub(crate) shared: Shared,
    account: String,
}

/// Runs `$body` (which may `.await`) on the device as `$d`, with the GIL
/// released; a closed device raises `TingError("closed")`.
#[macro_export]
macro_rules! on_device {
    ($dev:expr, $py:expr, |$d:ident| $body:expr) => {{
        let shared = $dev.shared.clone();
        $crate::rt::block_on($py, async move {
            let mut guard = shared.lock().await;
            let Some(held) = guard.as_mut() else {
                return Err($crate::device::closed());
            };
            let $d = &mut held.device;
            let out: pyo3::PyResult<_> = async { $body }.await;
            out
        })
    }};
}

#[pymethods]
impl Device {
    /// Starts the device and waits (up to `connect_timeout` seconds) until
    /// it is connected to the node's broker and logged in.
    #[new]
    #[pyo3(signature = (key, state_dir, node, *, connect_timeout = 15.0))]
    fn new(
        py: Python<'_>,
        key: &Key,
        state_dir: PathBuf,
        node: &str,
        connect_timeout: f64,
    ) -> PyResult<Device> {
        let connect = wait(connect_timeout, "connect_timeout")?;
        let keypair = Keypair::from_seed(key.key.seed());
        let node = node.to_owned();
        let lock = StateLock::take(&state_dir).map_err(coded)?;
        let device = block_on(py, async move {
            let config = DeviceConfig::discover(keypair, state_dir, &node)
                .await
                .map_err(coded)?;
            if config.broker.is_none() {
                return Err(bad(
                    "no_broker",
                    format!("{node} runs without MQTT; a device needs its broker (start the node with --dev)"),
                ));
            }
            let device = ting_agent::Device::start(config).map_err(coded)?;
            device
                .wait_for_node(connect)
                .await
                .map_err(|e| bad("unreachable", e))?;
            Ok(device)
        })?;
        Ok(Device {
            account: device.account().to_did(),
            shared: Arc::new(Mutex::new(Some(Held {
                device,
                aside: VecDeque::new(),
                _lock: lock,
            }))),
        })
    }

    /// The device's account, as a `did:key`.
    #[getter]
    fn account(&self) -> String {
        self.account.clone()
    }

    /// The durable balance in base units, checked against a state proof.
    fn balance(&self, py: Python<'_>) -> PyResult<u64> {
        on_device!(self, py, |d| d.balance().await.map_err(coded)).map(|a| a.base_units())
    }

    /// Transfers `amount` base units to `to`, over MQTT through the outbox,
    /// and waits for the checked receipt: `{tx_hash, height, index}`.
    fn transfer(&self, py: Python<'_>, to: &str, amount: u64) -> PyResult<Py<PyAny>> {
        let kind = TxKind::Transfer {
            to: account(to, "to")?,
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        self.submit_kind(py, kind)
    }

    /// Signs and submits any kind, `fields` as in docs/api.md §4, with the
    /// device's next nonce; waits for the checked receipt.
    fn submit(&self, py: Python<'_>, kind: &str, fields: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let fields = from_py(fields, "fields")?;
        let kind = ting_api::tx::kind_from_json(kind, &fields).map_err(coded)?;
        self.submit_kind(py, kind)
    }

    /// Puts the device's messaging key on the ledger, so others can send it
    /// private messages and sell it stream keys.
    fn publish_messaging_key(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let c = on_device!(self, py, |d| d.publish_messaging_key().await.map_err(coded))?;
        confirmed(py, &c)
    }

    /// Sends `data` to `to`, signed; with `private=True` sealed to its
    /// messaging key (read from the ledger, proved).
    #[pyo3(signature = (to, data, *, private = false))]
    fn send(&self, py: Python<'_>, to: &str, data: Vec<u8>, private: bool) -> PyResult<()> {
        let to = account(to, "to")?;
        on_device!(self, py, |d| d.send(to, data, private).await.map_err(coded))
    }

    /// The next message that passed every check, as a dict (`type`,
    /// `from`, ...), or None after `timeout` seconds.
    #[pyo3(signature = (timeout = 5.0))]
    fn recv<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Option<Bound<'py, PyDict>>> {
        let limit = wait(timeout, "timeout")?;
        let shared = self.shared.clone();
        let m = block_on(py, async move {
            let mut guard = shared.lock().await;
            let held = guard.as_mut().ok_or_else(closed)?;
            if let Some(m) = held.aside.pop_front() {
                return PyResult::Ok(Some(m));
            }
            Ok(tokio::time::timeout(limit, held.device.recv())
                .await
                .ok()
                .flatten())
        })?;
        m.map(|m| message_dict(py, &m)).transpose()
    }

    /// Transactions and messages still waiting in the outbox.
    fn outbox_len(&self, py: Python<'_>) -> PyResult<usize> {
        on_device!(self, py, |d| Ok(d.outbox_len()))
    }

    /// Opens a hash-chain channel to `payee` holding `deposit`, paying
    /// `price` per tick, and waits until the ledger holds it. Answers the
    /// channel's id (hex).
    #[pyo3(signature = (payee, deposit, *, price = 1, ticks = None, valid_for = 604_800.0))]
    fn open_channel(
        &self,
        py: Python<'_>,
        payee: &str,
        deposit: u64,
        price: u64,
        ticks: Option<u32>,
        valid_for: f64,
    ) -> PyResult<String> {
        channels::open(self, py, payee, deposit, price, ticks, valid_for)
    }

    /// Pays `units` ticks on `channel` (durably first) and sends the
    /// payment to the payee. Answers `{channel, paid}`: all paid so far.
    #[pyo3(signature = (channel, units = 1))]
    fn pay(&self, py: Python<'_>, channel: &str, units: u64) -> PyResult<Py<PyAny>> {
        channels::pay(self, py, channel, units)
    }

    /// As the payee, takes up a channel the ledger opened to this device
    /// (its terms proved), so its payments are accepted.
    fn accept_channel(&self, py: Python<'_>, channel: &str) -> PyResult<()> {
        channels::accept(self, py, channel)
    }

    /// As the payee: what `payer` has paid on `channel`, by the payments
    /// this device accepted.
    fn paid_by(&self, py: Python<'_>, payer: &str, channel: &str) -> PyResult<u64> {
        channels::paid_by(self, py, payer, channel)
    }

    /// As the payee, claims on the ledger what the channel paid and is not
    /// yet claimed. Answers the channel's claimed total.
    fn claim(&self, py: Python<'_>, channel: &str) -> PyResult<u64> {
        channels::claim(self, py, channel)
    }

    /// Starts buying a data stream within `budget` base units: opens (or
    /// reuses) a channel to the seller holding `deposit` (default: the
    /// budget) and subscribes. `StreamBuyer.collect` gets the points.
    #[pyo3(signature = (stream, *, budget, deposit = None))]
    fn buy_stream(
        &self,
        py: Python<'_>,
        stream: &str,
        budget: u64,
        deposit: Option<u64>,
    ) -> PyResult<streams::StreamBuyer> {
        streams::StreamBuyer::open(self, py, stream, budget, deposit.unwrap_or(budget))
    }

    /// The market's buyer side for this device (docs/market.md §5).
    #[pyo3(signature = (*, max_price, min_score_ppm = 0, newcomer_max = None))]
    fn market_buyer(
        &self,
        py: Python<'_>,
        max_price: u64,
        min_score_ppm: u32,
        newcomer_max: Option<u64>,
    ) -> PyResult<market::MarketBuyer> {
        market::MarketBuyer::open(self, py, max_price, min_score_ppm, newcomer_max)
    }

    /// Stops the device: its link closes; what is still in the outbox goes
    /// with its next start. Further calls raise `TingError("closed")`.
    fn close(&self, py: Python<'_>) {
        let shared = self.shared.clone();
        block_on(py, async move {
            if let Some(held) = shared.lock().await.take() {
                held.device.shutdown().await;
            }
        });
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) {
        self.close(py);
    }

    fn __repr__(&self) -> String {
        format!("Device({})", self.account)
    }
}

impl Device {
    fn submit_kind(&self, py: Python<'_>, kind: TxKind) -> PyResult<Py<PyAny>> {
        let c = on_device!(self, py, |d| d.submit(kind).await.map_err(coded))?;
        confirmed(py, &c)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // A device dropped without `close` stops its link on the runtime.
        let shared = self.shared.clone();
        runtime().spawn(async move {
            if let Some(held) = shared.lock().await.take() {
                held.device.shutdown().await;
            }
        });
    }
}
