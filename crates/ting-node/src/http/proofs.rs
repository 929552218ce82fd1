//! `?proof=true` on account, channel and stream reads: the value at the tip block,
//! with the state-map proof against that block's signed header.
//!
//! The proof is of the last cut block, never of a block still open: the
//! ledger keeps what each key held at the tip while the open block changes
//! it (`ting_ledger` `commitment`), so a proof can be answered at any time
//! from one read of the state. As with every read, the answer waits until
//! the tip is durable.

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use serde::Deserialize;
use ting_core::state_proof::StateAnswer;
use ting_core::state_tree::StateProof;
use ting_core::{AccountId, ChannelId};
use ting_ledger::State;

use super::error::ApiError;

/// The query of a read that may ask for a proof.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    proof: Option<bool>,
}

/// Whether the client asked for a proof; any other query is refused by name.
pub fn wants_proof(query: Result<Query<ProofQuery>, QueryRejection>) -> Result<bool, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("{}; the only query here is proof=true", e.body_text()),
        )
    })?;
    Ok(q.proof.unwrap_or(false))
}

/// A key's record at the tip block with its proof, under the tip's signed
/// header; `no_signed_state` before the first block.
pub(super) fn answer(
    st: &State,
    (record, proof): (Option<Vec<u8>>, StateProof),
) -> Result<StateAnswer, ApiError> {
    let header = st.tip_header().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_signed_state",
            "no block has been cut yet, so no signed header holds a state root; \
             the first transaction makes one",
        )
    })?;
    Ok(StateAnswer {
        header,
        record,
        proof,
    })
}

/// Account `id` at the tip block, proved. Read under the state's lock.
pub fn account_answer(st: &State, id: &AccountId) -> Result<StateAnswer, ApiError> {
    answer(st, st.prove_account(id))
}

/// Open stream `id` at the tip block (or its absence), proved. Read under the state's lock.
pub fn stream_answer(
    st: &State,
    id: &ting_core::stream::StreamId,
) -> Result<StateAnswer, ApiError> {
    answer(st, st.prove_stream(id))
}

/// Channel `id` at the tip block, proved. Read under the state's lock.
pub fn channel_answer(st: &State, id: &ChannelId) -> Result<StateAnswer, ApiError> {
    answer(st, st.prove_channel(id))
}
