//! A test build that corrupts one balance (the `fault-injection` feature,
//! compiled in only with debug assertions too, so no release build has it).
//!
//! When `TING_FAULT_CORRUPT_BALANCE_AT` names a block height, the executor
//! adds one base unit to the balance of that block's first transaction's
//! sender just before it computes the block's state root: the node signs a
//! block whose state root its transactions do not lead to, as a node with a
//! bug in its state machine would, and keeps serving. The witness tests
//! (`crates/ting/tests/witness/corrupt.rs`) run such a node and see a
//! witness that replays its blocks refuse that one. The variable is read
//! once, when the executor starts; a value that is not a height stops the
//! node from starting, so a test never passes on a fault that was not armed.

use std::ffi::OsStr;

use ting_core::{BlockHeight, SignedTx};
use ting_ledger::State;

/// The environment variable that arms the fault: a block height, from 1.
pub(crate) const CORRUPT_BALANCE_AT: &str = "TING_FAULT_CORRUPT_BALANCE_AT";

/// The executor's armed fault, if any: it fires once, then is spent.
#[derive(Debug, Default)]
pub(crate) struct Fault {
    corrupt_at: Option<BlockHeight>,
}

impl Fault {
    /// Reads [`CORRUPT_BALANCE_AT`] for an executor whose state is at `tip`.
    ///
    /// # Panics
    /// When the variable is set to anything but a block height: the node
    /// must not start as if the fault were armed.
    pub(crate) fn from_env(tip: BlockHeight) -> Fault {
        let Some(raw) = std::env::var_os(CORRUPT_BALANCE_AT) else {
            return Fault::default();
        };
        let at = parse(&raw).unwrap_or_else(|why| {
            tracing::error!("{why}");
            panic!("{why}")
        });
        if at <= tip {
            tracing::warn!(
                "FAULT INJECTION: {CORRUPT_BALANCE_AT}={} is at or below this node's tip {}; nothing will be corrupted",
                at.0,
                tip.0
            );
            return Fault::default();
        }
        tracing::warn!(
            "FAULT INJECTION ARMED: this test build will corrupt one balance in block {} ({CORRUPT_BALANCE_AT}); its state root will be wrong. Never run this build for real",
            at.0
        );
        Fault {
            corrupt_at: Some(at),
        }
    }

    /// Called as block `height` with `txs` is cut, before its state root is
    /// computed: at the armed height (or the first block past it with a
    /// transaction) corrupts the first sender's balance, once.
    pub(crate) fn before_root(&mut self, state: &mut State, height: BlockHeight, txs: &[SignedTx]) {
        let Some(at) = self.corrupt_at else { return };
        let Some(first) = txs.first() else { return };
        if height < at {
            return;
        }
        self.corrupt_at = None;
        let sender = first.sender();
        match state.corrupt_balance_for_tests(&sender) {
            Some(balance) => tracing::warn!(
                "FAULT INJECTED: block {} applied wrongly, {} now holds {} base units, one more than its transactions leave it",
                height.0,
                sender.to_did(),
                balance.base_units()
            ),
            None => tracing::error!(
                "FAULT INJECTION: could not corrupt {}'s balance in block {}: no account, or no room above its balance",
                sender.to_did(),
                height.0
            ),
        }
    }
}

/// A block height from 1, as the variable must give it.
fn parse(raw: &OsStr) -> Result<BlockHeight, String> {
    let bad = || {
        format!(
            "{CORRUPT_BALANCE_AT}={} is not a block height (a whole number from 1); unset it or give the height of the block to corrupt",
            raw.to_string_lossy()
        )
    };
    let text = raw.to_str().ok_or_else(bad)?;
    match text.trim().parse::<u64>() {
        Ok(h) if h >= 1 => Ok(BlockHeight(h)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fault_height_is_a_whole_number_from_one() {
        assert_eq!(parse(OsStr::new("3")), Ok(BlockHeight(3)));
        assert_eq!(parse(OsStr::new(" 12 ")), Ok(BlockHeight(12)));
        for bad in ["", "0", "-1", "x", "1.5", "18446744073709551616"] {
            let why = parse(OsStr::new(bad)).expect_err(bad);
            assert!(why.contains(CORRUPT_BALANCE_AT), "{why}");
        }
    }
}
