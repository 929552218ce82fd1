//! `ting verify-evidence FILE`: checks evidence against a sequencer offline
//! (two headers it signed at one height in one epoch), with no trust in
//! whoever wrote the file; with `--genesis`, also that the culprit is one of
//! that network's sequencers.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use ting_agent::files::read_genesis;
use ting_core::witness::{Evidence, EVIDENCE_BYTES_MAX};

use crate::failure::{bad_input, NotValid};
use crate::output::{print_value, read_input, text};

#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The evidence: its bytes in hex, as a witness writes it; `-` for stdin.
    pub evidence: PathBuf,
    /// The network's genesis file: the evidence must be of this network and
    /// against one of its sequencers.
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
    let proven = evidence
        .verify()
        .map_err(|e| not_valid(e.code(), e.to_string()))?;
    if let Some(path) = &args.genesis {
        let genesis = read_genesis(path)?;
        if proven.genesis != genesis.hash() {
            return Err(not_valid(
                "wrong_network",
                format!(
                    "the evidence is of the network of genesis {}, not of {}",
                    proven.genesis.to_hex(),
                    path.display()
                ),
            ));
        }
        if !genesis.sequencers.contains(&proven.sequencer) {
            return Err(not_valid(
                "unknown_sequencer",
                format!(
                    "{} signed both headers, but is not a sequencer of {}",
                    proven.sequencer.to_did(),
                    path.display()
                ),
            ));
        }
    }
    let v = json!({
        "valid": true,
        "kind": "equivocation",
        "sequencer": proven.sequencer.to_did(),
        "genesis": proven.genesis.to_hex(),
        "height": proven.height.0,
        "epoch": proven.epoch,
        "network_checked": args.genesis.is_some(),
    });
    print_value(&v, json_out, |v| {
        let scope = if args.genesis.is_some() {
            "a sequencer of this network"
        } else {
            "the network is not checked: give --genesis FILE to check it is this network's sequencer"
        };
        format!(
            "valid: sequencer {} signed two different blocks at height {} in epoch {} ({scope})",
            text(&v["sequencer"]),
            v["height"],
            v["epoch"]
        )
    });
    Ok(())
}

fn not_valid(code: &'static str, message: String) -> anyhow::Error {
    NotValid { code, message }.into()
}
