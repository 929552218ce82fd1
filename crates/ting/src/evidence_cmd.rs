//! `ting verify-evidence FILE`: checks evidence against a sequencer offline,
//! with no trust in whoever wrote the file. Two headers it signed at one
//! height in one epoch check on their own (with `--genesis`, also that the
//! culprit is one of that network's sequencers); a block whose state root
//! does not follow, or that holds a forged transaction, is checked by
//! re-running the block on the state it proves, which needs `--genesis`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use ting_agent::files::read_genesis;
use ting_core::witness::{Evidence, Proven, ProvenFault, EVIDENCE_BYTES_MAX};
use ting_ledger::evidence::Network;

use crate::failure::{bad_input, NotValid};
use crate::output::{print_value, read_input, text};

#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The evidence: its bytes in hex, as a witness writes it; `-` for stdin.
    pub evidence: PathBuf,
    /// The network's genesis file: the evidence must be of this network and
    /// against one of its sequencers. Needed for evidence of a wrong state
    /// root, which is checked by re-running the block.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
}

/// Reads, decodes and checks the evidence; exit 5 when it proves nothing.
pub fn verify_evidence(args: &VerifyEvidenceArgs, json_out: bool) -> anyhow::Result<()> {
    let source = args.evidence.to_string_lossy();
    let hex_max = u64::try_from(2 * EVIDENCE_BYTES_MAX + 2).unwrap_or(u64::MAX);
    let text_in = read_input(&source, hex_max, "the evidence")?;
    let bytes = hex::decode(text_in.trim()).map_err(|e| {
        bad_input(
            "invalid_hex",
            format!(
                "{source} is not evidence in hex ({e}); a witness writes it as one line of hex"
            ),
        )
    })?;
    let evidence = Evidence::from_bytes(&bytes).map_err(|e| not_valid(e.code(), e.to_string()))?;
    let genesis = args.genesis.as_deref().map(read_genesis).transpose()?;
    let proven = match (&genesis, &evidence) {
        (Some(g), _) => ting_ledger::evidence::verify(&evidence, &Network::of(g)),
        (None, Evidence::Equivocation { .. }) => evidence.verify(),
        (None, _) => {
            return Err(bad_input(
                "needs_genesis",
                "this evidence shows a block that does not follow from its transactions; \
                 checking it re-runs the block on the network's rules: give --genesis FILE",
            ))
        }
    }
    .map_err(|e| not_valid(e.code(), e.to_string()))?;
    let v = json!({
        "valid": true,
        "kind": proven.fault.code(),
        "sequencer": proven.sequencer.to_did(),
        "genesis": proven.genesis.to_hex(),
        "height": proven.height.0,
        "epoch": proven.epoch,
        "detail": detail(&proven),
        "network_checked": genesis.is_some(),
    });
    print_value(&v, json_out, |v| {
        let scope = if genesis.is_some() {
            "a sequencer of this network"
        } else {
            "the network is not checked: give --genesis FILE to check it is this network's sequencer"
        };
        format!(
            "valid: sequencer {} {} at height {} in epoch {} ({scope})",
            text(&v["sequencer"]),
            what(&proven),
            v["height"],
            v["epoch"]
        )
    });
    Ok(())
}

/// What the evidence shows the sequencer did, in words.
fn what(proven: &Proven) -> String {
    match &proven.fault {
        ProvenFault::WrongStateRoot { claimed, computed } => format!(
            "signed a block whose state root {} does not follow from its transactions (they lead to {})",
            claimed.to_hex(),
            computed.to_hex()
        ),
        ProvenFault::ForgedTransaction { tx } => format!(
            "signed a block holding transaction {}, whose signature does not verify",
            tx.to_hex()
        ),
        _ => "signed two different blocks".to_owned(),
    }
}

/// The fault's particulars, for `--json`.
fn detail(proven: &Proven) -> serde_json::Value {
    match &proven.fault {
        ProvenFault::WrongStateRoot { claimed, computed } => {
            json!({ "claimed_root": claimed.to_hex(), "computed_root": computed.to_hex() })
        }
        ProvenFault::ForgedTransaction { tx } => json!({ "tx": tx.to_hex() }),
        _ => json!({}),
    }
}

fn not_valid(code: &'static str, message: String) -> anyhow::Error {
    NotValid { code, message }.into()
}
