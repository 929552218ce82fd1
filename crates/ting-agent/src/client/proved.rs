//! Reads that prove themselves: an account or a channel with its state
//! proof (`?proof=true`, docs/api.md), and a commit with its receipt, each
//! checked by the client's [`Verifier`] before anything is read out of it.
//! Under a device's witness policy, a state answer first waits for its
//! header to be attested by enough trusted witnesses
//! ([`Verifier::wait_attested`]).

use hyper::StatusCode;
use serde_json::Value;
use ting_api::state::state_answer_from_json;
use ting_core::state_proof::StateAnswer;
use ting_core::{AccountId, BlockHeight, ChannelId, MessagingKey};

use super::channel::LedgerChannel;
use super::views::Committed;
use super::{HttpError, NodeClient};
use crate::verify::{no_proof, ProvedAccount, Verifier};

impl NodeClient {
    pub(super) fn verifier_for(&self, what: &str) -> Result<&Verifier, HttpError> {
        self.verifier().map(|v| &**v).ok_or_else(|| {
            no_proof(
                what.to_owned(),
                "this client checks nothing: make it with NodeClient::verifying",
            )
            .into()
        })
    }

    /// The state answer at `path`, its JSON, and the floor to check it
    /// against: the height the verifier had seen when the question was
    /// asked, read before the request (see the module docs of `verify`).
    pub(super) async fn state_answer(
        &self,
        path: &str,
        what: &str,
    ) -> Result<(StateAnswer, Value, BlockHeight), HttpError> {
        let floor = self.verifier().map_or(BlockHeight(0), |v| v.seen());
        let raw = self.get(path).await?;
        let answer = state_answer_from_json(&raw["proof"])
            .map_err(|e| no_proof(what.to_owned(), e.message))?;
        // Under a witness policy, the answer waits for its header's
        // attestations; the proof stays good for the state at that header.
        if let Some(v) = self.verifier() {
            v.wait_attested(&answer.header).await;
        }
        Ok((answer, raw, floor))
    }

    /// Account `id` at the node's tip block, proved against a header a
    /// sequencer of the trusted network signed.
    pub async fn proved_account(&self, id: &AccountId) -> Result<ProvedAccount, HttpError> {
        let what = format!("account {id}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/accounts/{}?proof=true", id.to_hex());
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.account(id, &answer, floor)?)
    }

    /// The X25519 key `id` published for sealed envelopes, if any (proved
    /// when the client is verifying).
    pub async fn messaging_key(&self, id: &AccountId) -> Result<Option<MessagingKey>, HttpError> {
        if self.verifier().is_some() {
            return Ok(self.proved_account(id).await?.record.messaging_key);
        }
        let account = self.account(id).await?;
        match &account["messaging_key"] {
            Value::Null => Ok(None),
            Value::String(text) => MessagingKey::from_hex(text).map(Some).ok_or_else(|| {
                HttpError::BadResponse("the account's messaging_key is not 64 hex digits".into())
            }),
            _ => Err(HttpError::BadResponse(
                "the account's messaging_key is not a string".into(),
            )),
        }
    }

    /// Open stream `id` at the node's tip block, proved against a signed
    /// header; `None` is a proved absence (never opened, or closed).
    pub async fn stream(
        &self,
        id: &ting_core::stream::StreamId,
    ) -> Result<Option<ting_core::stream::Stream>, HttpError> {
        let what = format!("stream {id}");
        let verifier = self.verifier_for(&what)?;
        let path = format!("/v1/streams/{}?proof=true", id.to_hex());
        let (answer, _, floor) = self.state_answer(&path, &what).await?;
        Ok(verifier.stream(id, &answer, floor)?)
    }

    /// The ids of the open streams a search finds (`query` as for `GET
    /// /v1/streams`, such as `field=hardness&area=u0&max_price=50`), every
    /// page of them. A search is a hint: read each with
    /// [`NodeClient::stream`], which checks it against the signed state.
    pub async fn find_streams(
        &self,
        query: &str,
    ) -> Result<Vec<ting_core::stream::StreamId>, HttpError> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/v1/streams?limit=200&{query}");
            if let Some(a) = &after {
                path.push_str(&format!("&after={a}"));
            }
            let page = self.get(&path).await?;
            for s in page["streams"].as_array().into_iter().flatten() {
                let id = s["stream"]
                    .as_str()
                    .and_then(ting_core::stream::StreamId::from_hex)
                    .ok_or_else(|| HttpError::BadResponse("a stream without an id".into()))?;
                ids.push(id);
            }
            match page["next"].as_str() {
                Some(n) => after = Some(n.to_owned()),
                None => return Ok(ids),
            }
        }
    }

    /// Channel `id` at the node's tip block, proved; a proved absence is
    /// `unknown_channel`, as the node would answer it.
    pub(super) async fn proved_channel(&self, id: &ChannelId) -> Result<LedgerChannel, HttpError> {
        let what = format!("channel {id}");
        let verifier = self.verifier_for(&what)?;
        let network = self.network().await?;
        let path = format!("/v1/channels/{}?proof=true", id.to_hex());
        let (answer, raw, floor) = self.state_answer(&path, &what).await?;
        match verifier.channel(id, &answer, floor)? {
            Some(channel) => Ok(LedgerChannel::from_channel(network, id, &channel, raw)),
            None => Err(HttpError::Api {
                status: StatusCode::NOT_FOUND,
                code: "unknown_channel".into(),
                message: format!(
                    "no channel has id {id} (proved at height {})",
                    answer.header.height
                ),
                tx_hash: None,
            }),
        }
    }
}

/// Checks that a commit's answer carries the receipt of what it claims.
pub(super) fn check_commit(verifier: &Verifier, c: &Committed) -> Result<(), HttpError> {
    let what = || format!("the receipt of {}", c.tx_hash);
    let receipt =
        ting_api::receipt_from_json(&c.raw["receipt"]).map_err(|e| no_proof(what(), e.message))?;
    verifier.receipt(&c.tx_hash, &receipt)?;
    if receipt.header.height != c.height || receipt.proof.index != c.index {
        return Err(no_proof(
            what(),
            format!(
                "the answer says block {} index {}, its receipt block {} index {}",
                c.height, c.index, receipt.header.height, receipt.proof.index
            ),
        )
        .into());
    }
    Ok(())
}
