//! The device a market command runs as: its state directory (by default
//! beside its key file), a lock so that one command at a time uses it, the
//! device itself started as `ting stream` starts one, and the SDK's market
//! errors turned into the CLI's kinds of failure.
//!
//! The lock matters because a device's outbox and contract files are
//! written by one process: a `ting market buy --wait released` still
//! running and a `ting market confirm` on the same state would otherwise
//! both sign with the same nonces.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use ting_agent::device::SubmitError;
use ting_agent::market::MarketError;
use ting_agent::{Device, TxError};

use crate::failure::{bad_input, Exit, Kinded};
use crate::kinds::KeyArg;
use crate::stream_cmd::start_device;
use crate::NodeArg;

/// How long a command waits for what it queued to reach the broker before it stops.
pub const DRAIN_WAIT: Duration = Duration::from_secs(15);
/// How often a wait looks again at the outbox.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Codes the ledger and the SDK answer that a market command may meet,
/// kept as they are in `--json` errors; any other becomes `market_error`
/// (its message still names it).
const CODES: &[&str] = &[
    "insufficient_funds",
    "frozen",
    "spend_limit_exceeded",
    "unknown_sender",
    "bad_nonce",
    "tx_expired",
    "invalid_hold",
    "bad_deadline",
    "too_many_holds",
    "unknown_hold",
    "not_hold_party",
    "wrong_hold_phase",
    "hold_past_deadline",
    "too_early_to_refund",
    "too_late_to_dispute",
    "no_arbiter",
    "no_evidence_rule",
    "bad_evidence_signature",
    "evidence_for_other_hold",
    "evidence_out_of_time",
    "evidence_mismatch",
    "decision_over_amount",
    "too_many_contracts",
    "damaged_contract",
    "hold_mismatch",
    "device_stopped",
    "io",
];

#[derive(Debug, Clone, Args)]
pub struct StateArg {
    /// Where the device keeps its outbox and contract files; by default
    /// beside its key file, named after it (purifier.key: purifier.market).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

impl StateArg {
    /// The state directory of the device whose key file is `key`.
    pub fn dir(&self, key: &KeyArg) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| key.key.with_extension("market"))
    }
}

pub use ting_agent::state_lock::StateLock;

/// Takes the lock of `dir`, or says who has it.
pub fn lock(dir: &Path) -> anyhow::Result<StateLock> {
    StateLock::take(dir).map_err(|e| {
        let message = match &e {
            ting_agent::state_lock::LockError::InUse(_) => {
                format!("{e}: stop it, or give another --state")
            }
            _ => e.to_string(),
        };
        bad_input(e.code(), message)
    })
}

/// Starts the device of `key` on its state directory, locked.
pub async fn open(
    key: &KeyArg,
    state: &StateArg,
    node: &NodeArg,
) -> anyhow::Result<(Device, StateLock)> {
    let dir = state.dir(key);
    let lock = lock(&dir)?;
    let device = start_device(key, &dir, node).await?;
    Ok((device, lock))
}

/// Waits, at most [`DRAIN_WAIT`], until everything the device queued has
/// left; answers whether it did. What is left stays in the outbox and goes
/// with the device's next run.
pub async fn drain(device: &Device) -> bool {
    let end = tokio::time::Instant::now() + DRAIN_WAIT;
    while device.outbox_len() > 0 {
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    true
}

fn known(code: &str) -> &'static str {
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("market_error")
}

/// An SDK market error as the CLI reports it: the node's own errors keep
/// their kind; a ledger refusal is a refusal with its code.
pub fn market_err(e: MarketError) -> anyhow::Error {
    let refusal = matches!(
        &e,
        MarketError::Refused(_) | MarketError::Submit(SubmitError::Tx(TxError::Refused { .. }))
    );
    match e {
        MarketError::Http(h) => anyhow::Error::new(h),
        MarketError::BadCall(why) => bad_input("bad_call", format!("the call is not valid: {why}")),
        other => Kinded {
            exit: if refusal {
                Exit::Refused
            } else {
                Exit::Failure
            },
            code: known(other.code()),
            message: other.to_string(),
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_directory_sits_beside_the_key_unless_given() {
        let key = KeyArg {
            key: PathBuf::from("keys/purifier.key"),
        };
        let default = StateArg { state: None };
        assert_eq!(default.dir(&key), PathBuf::from("keys/purifier.market"));
        let given = StateArg {
            state: Some(PathBuf::from("/var/lib/p")),
        };
        assert_eq!(given.dir(&key), PathBuf::from("/var/lib/p"));
    }

    #[test]
    fn one_command_at_a_time_holds_a_state_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = lock(tmp.path()).expect("the first takes it");
        let second = lock(tmp.path()).expect_err("the second is refused");
        assert_eq!(
            crate::failure::Failed::classify(&second).code,
            "state_in_use"
        );
        drop(first);
        lock(tmp.path()).expect("free again");
    }

    #[test]
    fn a_ledger_refusal_keeps_its_code_and_kind() {
        let refused = MarketError::Refused("too_early_to_refund".into());
        let f = crate::failure::Failed::classify(&market_err(refused));
        assert_eq!(
            (f.exit, f.code.as_str()),
            (Exit::Refused, "too_early_to_refund")
        );
        let odd = MarketError::Refused("something_new".into());
        let f = crate::failure::Failed::classify(&market_err(odd));
        assert_eq!((f.exit, f.code.as_str()), (Exit::Refused, "market_error"));
        assert!(f.message.contains("something_new"), "{}", f.message);
    }
}
