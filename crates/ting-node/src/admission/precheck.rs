//! Checks that cost less than a signature check, on the state as it is.
//!
//! Each refusal here would also come from the ledger, later and dearer; none
//! needs a signature, so none is charged to a sender. `wrong_network` and
//! `tx_expired` are final (block time never goes back); `unknown_sender` and
//! a nonce far ahead are not: the account may be funded, the nonces between
//! may arrive.

use std::collections::HashSet;

use ting_core::limits::NONCE_AHEAD_MAX;
use ting_core::{AccountId, Hash32, Nonce, SignedTx, Timestamp, TxKind};
use ting_ledger::State;

use crate::pipeline::Refusal;

/// What the checks read: the node's network and its state, read once per submission.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub genesis: &'a Hash32,
    pub state: &'a State,
}

impl View<'_> {
    fn last_block_time(&self) -> Timestamp {
        self.state.last_timestamp()
    }

    fn next_nonce(&self, id: &AccountId) -> Option<Nonce> {
        self.state.account(id).map(|a| a.nonce)
    }
}

/// The account a transaction would create or credit, so that a later
/// transaction in the same submission may come from it.
pub fn credits(tx: &SignedTx) -> Option<AccountId> {
    match tx.kind() {
        TxKind::Transfer { to, .. } | TxKind::Mint { to, .. } => Some(*to),
        _ => None,
    }
}

/// Refuses what can be refused without a signature check.
pub fn precheck(
    tx: &SignedTx,
    view: &View<'_>,
    credited: &HashSet<AccountId>,
) -> Result<(), Refusal> {
    let refuse = |code, message: String| Refusal::new(tx.hash(), code, message);
    if tx.genesis() != *view.genesis {
        return Err(refuse(
            "wrong_network",
            format!(
                "the transaction is for the network of genesis {}, this node serves genesis {}",
                tx.genesis(),
                view.genesis
            ),
        ));
    }
    let last = view.last_block_time();
    if tx.valid_until() < last {
        return Err(refuse(
            "tx_expired",
            format!(
                "the transaction was valid until {}, and the last block is at {last}: it can never apply; sign it again with a later valid_until",
                tx.valid_until()
            ),
        ));
    }
    let Some(next) = view.next_nonce(&tx.sender()) else {
        if credited.contains(&tx.sender()) {
            return Ok(());
        }
        return Err(refuse(
            "unknown_sender",
            "the sender has no account; an account exists once it has received funds".into(),
        ));
    };
    if tx.nonce().0.saturating_sub(next.0) > NONCE_AHEAD_MAX {
        return Err(refuse(
            "bad_nonce",
            format!(
                "nonce {} is more than {NONCE_AHEAD_MAX} above the sender's next nonce {next}: the nonces between could not all be waiting",
                tx.nonce()
            ),
        ));
    }
    Ok(())
}
