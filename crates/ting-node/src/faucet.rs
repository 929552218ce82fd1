//! The dev-mode faucet: mints with the dev issuer key so new users can fund accounts.
//!
//! Only a node started with `--dev` has one. Requests are served one at a
//! time: each mint waits for its commit before the next nonce is taken, so
//! concurrent requests never race for the issuer's nonce.

use ting_core::limits::FAUCET_AMOUNT_MAX;

/// Longest a faucet request waits for its mint's block.
const FAUCET_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
use ting_core::limits::TX_VALID_FOR_DEFAULT_MS;
use ting_core::{AccountId, Amount, Keypair, Timestamp, TxBody, TxKind};

use crate::node::Shared;
use crate::pipeline::{Outcome, SubmitError};

/// The dev issuer key and the lock that serializes its use.
#[derive(Debug)]
pub struct Faucet {
    key: Keypair,
    lock: tokio::sync::Mutex<()>,
}

/// Why the faucet did not pay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaucetError {
    #[error("the faucet grants at most {FAUCET_AMOUNT_MAX} base units per request")]
    TooMuch,
    #[error("{0}")]
    Submit(#[from] SubmitError),
    #[error("the node stopped before the mint was committed")]
    Gone,
    #[error("the mint was not committed within {} s; the disk may be stalled", FAUCET_WAIT.as_secs())]
    Timeout,
}

impl FaucetError {
    pub fn code(&self) -> &'static str {
        match self {
            FaucetError::TooMuch => "faucet_limit",
            FaucetError::Submit(e) => e.code(),
            FaucetError::Gone => "shutting_down",
            FaucetError::Timeout => "timeout",
        }
    }
}

impl Faucet {
    pub fn new(key: Keypair) -> Faucet {
        Faucet {
            key,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn issuer(&self) -> AccountId {
        self.key.account()
    }

    /// Mints `amount` to `to` and waits for the outcome.
    pub async fn grant(
        &self,
        shared: &Shared,
        to: AccountId,
        amount: Amount,
    ) -> Result<Outcome, FaucetError> {
        if amount.base_units() > FAUCET_AMOUNT_MAX {
            return Err(FaucetError::TooMuch);
        }
        let _turn = self.lock.lock().await;
        let (nonce, last) = {
            let state = shared.state.read().expect("state lock");
            (
                state.next_nonce(&self.key.account()),
                state.last_timestamp(),
            )
        };
        // Ledger time, by the node's own clock (a simulation's may run fast).
        let from = last.max(shared.clock.read().wall);
        let tx = TxBody {
            genesis: shared.genesis_hash,
            sender: self.key.account(),
            nonce,
            valid_until: Timestamp(from.0.saturating_add(TX_VALID_FOR_DEFAULT_MS)),
            kind: TxKind::Mint { to, amount },
        }
        .sign(&self.key);
        let mut receivers = shared.submit(vec![tx])?;
        let rx = receivers.pop().expect("one receiver per transaction");
        match tokio::time::timeout(FAUCET_WAIT, rx).await {
            Ok(outcome) => outcome.map_err(|_| FaucetError::Gone),
            Err(_) => Err(FaucetError::Timeout),
        }
    }
}
