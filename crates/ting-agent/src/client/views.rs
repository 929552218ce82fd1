//! The node's answers a client acts on, read into `ting-core` types. Each
//! keeps the JSON it came from (`raw`) for printing.

use serde_json::Value;
use ting_core::{AccountId, BlockHeight, Hash32, NetworkId, Receipt, SignedTx};

use super::HttpError;

fn missing(what: &str, field: &str) -> HttpError {
    HttpError::BadResponse(format!("{what} has no valid `{field}`"))
}

pub(crate) fn number(v: &Value, field: &str, what: &str) -> Result<u64, HttpError> {
    v[field].as_u64().ok_or_else(|| missing(what, field))
}

pub(crate) fn hash(v: &Value, field: &str, what: &str) -> Result<Hash32, HttpError> {
    v[field]
        .as_str()
        .and_then(Hash32::from_hex)
        .ok_or_else(|| missing(what, field))
}

pub(crate) fn account(v: &Value, field: &str, what: &str) -> Result<AccountId, HttpError> {
    v[field]
        .as_str()
        .and_then(|s| AccountId::parse(s).ok())
        .ok_or_else(|| missing(what, field))
}

/// `GET /v1/status`: the network a node serves and how far it is.
#[derive(Clone, Debug)]
pub struct NodeStatus {
    pub network: NetworkId,
    pub name: String,
    pub genesis_hash: Hash32,
    /// The key that signs this node's blocks and envelopes.
    pub sequencer: AccountId,
    /// Every key the genesis lets sign blocks: on nodes sharing a database,
    /// each leader signs with its own (docs/operations.md, "Several nodes").
    pub sequencers: Vec<AccountId>,
    pub height: BlockHeight,
    pub durable_height: BlockHeight,
    /// The MQTT broker devices should use (`mqtt://HOST:PORT`), if the node has one.
    pub mqtt: Option<String>,
    /// The faucet's issuer, on a dev node.
    pub faucet: Option<AccountId>,
    /// The network's clock: real, or accelerated (a simulation's).
    pub clock: crate::clock::NetworkClock,
    pub raw: Value,
}

impl NodeStatus {
    pub(crate) fn from_json(raw: Value) -> Result<NodeStatus, HttpError> {
        let what = "/v1/status";
        let network = number(&raw, "network", what)?;
        Ok(NodeStatus {
            network: NetworkId(u32::try_from(network).map_err(|_| missing(what, "network"))?),
            name: raw["name"].as_str().unwrap_or_default().to_owned(),
            genesis_hash: hash(&raw, "genesis_hash", what)?,
            sequencer: account(&raw, "sequencer", what)?,
            sequencers: sequencers(&raw, what)?,
            height: BlockHeight(number(&raw, "height", what)?),
            durable_height: BlockHeight(number(&raw, "durable_height", what)?),
            mqtt: raw["mqtt"]["broker"].as_str().map(str::to_owned),
            faucet: raw["faucet"]
                .as_str()
                .and_then(|s| AccountId::parse(s).ok()),
            clock: network_clock(&raw["clock"], what)?,
            raw,
        })
    }
}

/// `sequencers`, or the one `sequencer` from a node that names no list.
fn sequencers(raw: &Value, what: &str) -> Result<Vec<AccountId>, HttpError> {
    let Some(list) = raw["sequencers"].as_array() else {
        return Ok(vec![account(raw, "sequencer", what)?]);
    };
    list.iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| AccountId::parse(s).ok())
                .ok_or_else(|| missing(what, "sequencers"))
        })
        .collect()
}

/// The clock `/v1/status` names: absent or `real` is the wall clock; an
/// accelerated one must give a speed the genesis could declare and its epoch.
fn network_clock(raw: &Value, what: &str) -> Result<crate::clock::NetworkClock, HttpError> {
    use ting_core::LedgerClock;
    match raw["kind"].as_str() {
        None | Some("real") => Ok(crate::clock::NetworkClock::REAL),
        Some("accelerated") => {
            let speed = u32::try_from(number(raw, "speed", what)?)
                .map_err(|_| missing(what, "clock.speed"))?;
            let clock = LedgerClock::Accelerated { speed };
            if !clock.is_valid() {
                return Err(missing(what, "clock.speed"));
            }
            let epoch = ting_core::Timestamp(number(raw, "epoch_ms", what)?);
            Ok(crate::clock::NetworkClock::new(clock, epoch))
        }
        Some(_) => Err(missing(what, "clock.kind")),
    }
}

/// A transaction the node says is in a durable block.
#[derive(Clone, Debug)]
pub struct Committed {
    pub tx_hash: Hash32,
    pub height: BlockHeight,
    pub index: u32,
    pub raw: Value,
}

impl Committed {
    pub(crate) fn from_json(raw: Value) -> Result<Committed, HttpError> {
        let what = "the commit";
        if raw["status"] != "committed" {
            return Err(missing(what, "status"));
        }
        let index = number(&raw, "index", what)?;
        Ok(Committed {
            tx_hash: hash(&raw, "tx_hash", what)?,
            height: BlockHeight(number(&raw, "height", what)?),
            index: u32::try_from(index).map_err(|_| missing(what, "index"))?,
            raw,
        })
    }
}

/// `GET /v1/transactions/{hash}`: a committed transaction, decoded from its
/// canonical bytes, with its receipt (not yet verified).
#[derive(Clone, Debug)]
pub struct TxRecord {
    pub tx: SignedTx,
    pub receipt: Receipt,
    pub raw: Value,
}

impl TxRecord {
    pub(crate) fn from_json(raw: Value) -> Result<TxRecord, HttpError> {
        let what = "the transaction";
        let bytes = raw["hex"]
            .as_str()
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| missing(what, "hex"))?;
        let tx =
            SignedTx::decode(&bytes).map_err(|e| HttpError::BadResponse(format!("{what}: {e}")))?;
        let receipt = ting_api::receipt_from_json(&raw["receipt"])
            .map_err(|e| HttpError::BadResponse(e.to_string()))?;
        if receipt.tx_hash != tx.hash() {
            return Err(HttpError::BadResponse(
                "the receipt is for another transaction than the bytes shown".into(),
            ));
        }
        Ok(TxRecord { tx, receipt, raw })
    }
}
