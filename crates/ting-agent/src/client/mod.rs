//! [`NodeClient`]: the one client of a node's HTTP API, used by devices, the
//! CLI, the demo and the benchmarks.
//!
//! A node is `http://HOST:PORT` or, over TLS, `https://HOST:PORT`, whose
//! certificate is checked against a [`TlsTrust`]: the system's CAs unless the
//! client is made [`NodeClient::with_trust`] a CA file or a pin.
//!
//! Every answer is bounded in size and time ([`transport`]). The typed calls
//! read what a client acts on (the network, a nonce, a receipt, a channel's
//! terms) into `ting-core` types, from the canonical bytes wherever the API
//! gives them (`hex`, `header.hex`), and keep the node's JSON beside them for
//! display. A client made [`NodeClient::verifying`] believes nothing it has
//! not checked ([`crate::verify`]): commits need a receipt that verifies,
//! and balances, nonces, channel terms and messaging keys come from state
//! proofs ([`proved`]). Without one, a receipt read here is not yet
//! believed: check it with [`Receipt::verify`] against the network's
//! sequencer keys.

mod channel;
pub mod market;
pub mod proved;
pub mod resource;
mod transport;
mod views;

use std::sync::Arc;

use hyper::Method;
use serde_json::{json, Value};
use ting_core::{
    AccountId, Amount, BlockHeight, ChannelId, Hash32, NetworkId, Nonce, Receipt, SignedTx,
};
use tokio::sync::OnceCell;

pub use channel::LedgerChannel;
pub use transport::{HttpError, CONNECT_TIMEOUT, REQUEST_TIMEOUT, RESPONSE_BYTES_MAX};
pub use views::{Committed, NodeStatus, TxRecord};

use crate::tls::TlsTrust;
use crate::verify::Verifier;
use transport::Transport;

/// The longest an index read waits for the index to catch up.
pub const INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// How often it asks again meanwhile.
const INDEX_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// A client for one node.
#[derive(Clone, Debug)]
pub struct NodeClient {
    transport: Transport,
    /// The network the node serves, once read: a node never changes it, so
    /// signing and channel reads ask `/v1/status` once per client.
    network: Arc<OnceCell<(NetworkId, Hash32, crate::clock::NetworkClock)>>,
    /// What the client checks answers against; `None` believes the node.
    verifier: Option<Arc<Verifier>>,
}

/// The sender's durable nonce, and the transaction if it is committed.
#[derive(Clone, Debug)]
pub struct NonceCheck {
    pub durable_nonce: Nonce,
    pub found: Option<TxRecord>,
}

impl NonceCheck {
    /// Whether a transaction with `tx`'s nonce, perhaps `tx` itself, is
    /// applied but not yet durable: the durable nonce is exactly `tx`'s. (Below
    /// it, `tx` came too early; above it, another transaction took its nonce.)
    pub fn undecided(&self, tx: &SignedTx) -> bool {
        self.found.is_none() && self.durable_nonce == tx.nonce()
    }
}

/// Which side of its channels an account is listed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelRole {
    Payer,
    Payee,
    Any,
}

impl ChannelRole {
    pub fn name(self) -> &'static str {
        match self {
            ChannelRole::Payer => "payer",
            ChannelRole::Payee => "payee",
            ChannelRole::Any => "any",
        }
    }
}

impl NodeClient {
    /// A client for the node at `url` (`http://HOST:PORT`, or
    /// `https://HOST:PORT` with a certificate from a CA the system trusts);
    /// nothing is sent yet.
    pub fn new(url: &str) -> Result<NodeClient, HttpError> {
        NodeClient::with_trust(url, &TlsTrust::SystemRoots)
    }

    /// A client for the node at `url` that, over `https://`, accepts only the
    /// certificates `trust` names (it does not apply to `http://`).
    pub fn with_trust(url: &str, trust: &TlsTrust) -> Result<NodeClient, HttpError> {
        Ok(NodeClient {
            transport: Transport::new(url, trust)?,
            network: Arc::default(),
            verifier: None,
        })
    }

    /// The same client, believing only what checks against `verifier`: see
    /// the module docs.
    #[must_use]
    pub fn verifying(mut self, verifier: Arc<Verifier>) -> NodeClient {
        self.verifier = Some(verifier);
        self
    }

    /// What this client checks answers against, if anything.
    pub fn verifier(&self) -> Option<&Arc<Verifier>> {
        self.verifier.as_ref()
    }

    /// The same client, reading answers of up to `max` bytes (block ranges).
    #[must_use]
    pub fn with_response_bytes_max(mut self, max: usize) -> NodeClient {
        self.transport.set_response_bytes_max(max);
        self
    }

    /// The node's base URL, as given.
    pub fn url(&self) -> &str {
        self.transport.base()
    }

    /// `GET path`, as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, HttpError> {
        self.transport.send(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        self.post_bytes(path, bytes, "application/json").await
    }

    /// `POST path` with a body already encoded (a benchmark builds its batches up front).
    pub async fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Value, HttpError> {
        self.transport
            .send(Method::POST, path, Some((body, content_type)))
            .await
    }

    /// What network the node serves and how far it is.
    pub async fn status(&self) -> Result<NodeStatus, HttpError> {
        let status = NodeStatus::from_json(self.get("/v1/status").await?)?;
        let _ = self
            .network
            .set((status.network, status.genesis_hash, status.clock));
        Ok(status)
    }

    /// The network the node serves (read from `/v1/status` once).
    pub async fn network(&self) -> Result<NetworkId, HttpError> {
        if let Some((n, _, _)) = self.network.get() {
            return Ok(*n);
        }
        Ok(self.status().await?.network)
    }

    /// The genesis hash of the network the node serves (read from
    /// `/v1/status` once): what every transaction signed for it names.
    pub async fn genesis_hash(&self) -> Result<Hash32, HttpError> {
        if let Some((_, g, _)) = self.network.get() {
            return Ok(*g);
        }
        Ok(self.status().await?.genesis_hash)
    }

    /// The network's clock (read from `/v1/status` once): what expiries and
    /// stamps for this network are counted in.
    pub async fn clock(&self) -> Result<crate::clock::NetworkClock, HttpError> {
        if let Some((_, _, c)) = self.network.get() {
            return Ok(*c);
        }
        Ok(self.status().await?.clock)
    }

    /// An account as the node shows it (balance, nonce, device controls).
    pub async fn account(&self, id: &AccountId) -> Result<Value, HttpError> {
        self.get(&format!("/v1/accounts/{}", id.to_hex())).await
    }

    /// The nonce `id`'s next transaction must carry (durable state; proved
    /// when the client is verifying).
    pub async fn nonce(&self, id: &AccountId) -> Result<Nonce, HttpError> {
        if let Some(verifier) = &self.verifier {
            return match self.proved_account(id).await {
                Ok(proved) => Ok(proved.record.account.nonce),
                // No block yet, so no transaction has applied: every nonce is 0.
                // Were the node lying, the cost is a `bad_nonce` refusal, never a
                // wrong payment, so this one read needs no proof.
                Err(HttpError::Api { code, .. })
                    if code == "no_signed_state" && verifier.seen() == BlockHeight(0) =>
                {
                    Ok(Nonce(0))
                }
                Err(e) => Err(e),
            };
        }
        let account = self.account(id).await?;
        views::number(&account, "nonce", "the account").map(Nonce)
    }

    /// The durable balance of `id` (proved when the client is verifying).
    pub async fn balance(&self, id: &AccountId) -> Result<Amount, HttpError> {
        if self.verifier.is_some() {
            return Ok(self.proved_account(id).await?.record.account.balance);
        }
        let account = self.account(id).await?;
        views::number(&account, "balance", "the account").map(Amount::new)
    }

    /// Submits `tx` and waits until its block is durable or it is refused.
    pub async fn submit(&self, tx: &SignedTx) -> Result<Committed, HttpError> {
        let body = json!({ "hex": hex::encode(tx.bytes()) });
        let answer = self.post("/v1/transactions?wait=true", &body).await?;
        let committed = Committed::from_json(answer)?;
        if committed.tx_hash != tx.hash() {
            return Err(HttpError::BadResponse(format!(
                "the node answered for transaction {}, not {}",
                committed.tx_hash,
                tx.hash()
            )));
        }
        if let Some(verifier) = &self.verifier {
            proved::check_commit(verifier, &committed)?;
        }
        Ok(committed)
    }

    /// What the ledger holds for `tx`'s nonce, after a `bad_nonce` refusal:
    /// a resent copy of a transaction that already landed is refused exactly
    /// so. The sender's durable nonce is read first, so a block that used the
    /// nonce is durable, and findable, before `tx` is looked up by its hash.
    pub async fn nonce_check(&self, tx: &SignedTx) -> Result<NonceCheck, HttpError> {
        let durable_nonce = self.nonce(&tx.sender()).await?;
        let found = match self.transaction(&tx.hash()).await {
            Ok(record) => Some(record),
            Err(e) if e.is_refusal() => None,
            Err(e) => return Err(e),
        };
        Ok(NonceCheck {
            durable_nonce,
            found,
        })
    }

    /// Submits `tx` without waiting for its outcome; answers its hash.
    pub async fn submit_nowait(&self, tx: &SignedTx) -> Result<Hash32, HttpError> {
        let body = json!({ "hex": hex::encode(tx.bytes()) });
        let answer = self.post("/v1/transactions?wait=false", &body).await?;
        views::hash(&answer, "tx_hash", "the answer")
    }

    /// A committed transaction: its bytes, decoded, and its receipt.
    pub async fn transaction(&self, hash: &Hash32) -> Result<TxRecord, HttpError> {
        let record = TxRecord::from_json(
            self.get(&format!("/v1/transactions/{}", hash.to_hex()))
                .await?,
        )?;
        if let Some(verifier) = &self.verifier {
            verifier.receipt(hash, &record.receipt)?;
        }
        Ok(record)
    }

    /// A transaction's receipt as the node sent it, and read into a
    /// [`Receipt`] (not yet verified).
    pub async fn receipt(&self, hash: &Hash32) -> Result<(Receipt, Value), HttpError> {
        let raw = self.get(&format!("/v1/receipts/{}", hash.to_hex())).await?;
        let receipt =
            ting_api::receipt_from_json(&raw).map_err(|e| HttpError::BadResponse(e.to_string()))?;
        Ok((receipt, raw))
    }

    /// A page of `id`'s history, newest first; `before` is the cursor the
    /// page before gave (`next` in its answer). It includes every block that
    /// was durable when asked (see [`NodeClient::indexed`]).
    pub async fn history(
        &self,
        id: &AccountId,
        limit: u32,
        before: Option<&str>,
    ) -> Result<Value, HttpError> {
        let mut path = format!("/v1/accounts/{}/transactions?limit={limit}", id.to_hex());
        if let Some(cursor) = before {
            path += &format!("&before={}", query_value(cursor)?);
        }
        self.indexed(&path).await
    }

    /// `GET path` of a read served from the node's query index, which follows
    /// the durable log a little behind: asked again (every `INDEX_POLL`, for
    /// at most `INDEX_WAIT`) until the answer's `indexed_height` reaches the
    /// durable height of the moment it was asked, so a client reads what it
    /// has just done. Past the wait it answers what the index holds.
    pub async fn indexed(&self, path: &str) -> Result<Value, HttpError> {
        let durable = self.status().await?.durable_height.0;
        let deadline = tokio::time::Instant::now() + INDEX_WAIT;
        loop {
            let answer = self.get(path).await?;
            let indexed = answer["indexed_height"].as_u64().unwrap_or(u64::MAX);
            if indexed >= durable || tokio::time::Instant::now() >= deadline {
                return Ok(answer);
            }
            tokio::time::sleep(INDEX_POLL).await;
        }
    }

    /// A channel as the ledger holds it, read into its terms (from a state
    /// proof when the client is verifying).
    pub async fn channel(&self, id: &ChannelId) -> Result<LedgerChannel, HttpError> {
        if self.verifier.is_some() {
            return self.proved_channel(id).await;
        }
        let network = self.network().await?;
        let raw = self.get(&format!("/v1/channels/{}", id.to_hex())).await?;
        LedgerChannel::from_json(network, id, raw)
    }

    /// The channels `id` pays or is paid through, newest first (read from
    /// the index, as [`NodeClient::indexed`] does).
    pub async fn channels(&self, id: &AccountId, role: ChannelRole) -> Result<Value, HttpError> {
        self.indexed(&format!(
            "/v1/accounts/{}/channels?role={}",
            id.to_hex(),
            role.name()
        ))
        .await
    }

    /// Mints `amount` to `to` from a dev node's faucet.
    pub async fn faucet(&self, to: &AccountId, amount: Amount) -> Result<Value, HttpError> {
        let body = json!({ "to": to.to_did(), "amount": amount.base_units() });
        self.post("/v1/faucet", &body).await
    }
}

/// A cursor is digits and a colon; anything else would change the query.
fn query_value(text: &str) -> Result<&str, HttpError> {
    if text.chars().all(|c| c.is_ascii_digit() || c == ':') && !text.is_empty() {
        Ok(text)
    } else {
        Err(HttpError::BadUrl(format!(
            "the cursor {text:?} is not HEIGHT:INDEX"
        )))
    }
}
