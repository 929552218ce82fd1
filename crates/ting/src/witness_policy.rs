//! `verify-receipt --witness ID --witness-url URL [--witnesses-needed K]`:
//! the receipt's header taken only once K of the trusted witnesses attested
//! it. Attestations are fetched from the URLs given, and each is checked
//! here: a URL is where to ask, never whom to trust.

use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};
use ting_agent::client::NodeClient;
use ting_core::witness::{Attestation, WitnessPolicy};
use ting_core::{AccountId, BlockHeader};

use crate::failure::{bad_input, NotValid};
use crate::kinds::parse_id;

/// How often the witnesses are asked again while `--witness-wait` lasts.
const ASK_AGAIN: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// A witness whose attestation counts (an account id; repeatable).
    #[arg(long = "witness", value_name = "ID", requires = "witness_urls")]
    pub witnesses: Vec<String>,
    /// A witness's HTTP API to ask for attestations (repeatable).
    #[arg(long = "witness-url", value_name = "URL", requires = "witnesses")]
    pub witness_urls: Vec<String>,
    /// How many of the named witnesses must attest the header [default: all].
    #[arg(long, value_name = "K", requires = "witnesses")]
    pub witnesses_needed: Option<usize>,
    /// How long to wait for the witnesses to attest it, e.g. 10s [default: 0].
    #[arg(long, value_name = "DURATION", requires = "witnesses")]
    pub witness_wait: Option<String>,
}

impl WitnessArgs {
    /// The policy named, or `None` when no witness is.
    fn policy(&self) -> anyhow::Result<Option<WitnessPolicy>> {
        if self.witnesses.is_empty() {
            return Ok(None);
        }
        let ids: Vec<AccountId> = self
            .witnesses
            .iter()
            .map(|w| parse_id("--witness", w))
            .collect::<Result<_, _>>()?;
        let needed = self.witnesses_needed.unwrap_or(ids.len());
        WitnessPolicy::new(ids, needed)
            .map(Some)
            .map_err(|e| bad_input(e.code(), format!("the witness policy: {e}")))
    }
}

/// Checks `header` against the policy `args` name; what it found, or
/// `None` when no witness is named.
///
/// # Errors
/// A bad policy or URL (exit 2), or too few attestations when the wait is
/// over (exit 5, `not_attested`).
pub fn check(header: &BlockHeader, args: &WitnessArgs) -> anyhow::Result<Option<Value>> {
    let Some(policy) = args.policy()? else {
        return Ok(None);
    };
    let wait = args
        .witness_wait
        .as_deref()
        .map(crate::channel_cmd::parse_duration_ms)
        .transpose()?
        .unwrap_or(0);
    let clients: Vec<NodeClient> = args
        .witness_urls
        .iter()
        .map(|u| NodeClient::new(u))
        .collect::<Result<_, _>>()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let deadline = std::time::Instant::now() + Duration::from_millis(wait);
    loop {
        let (attestations, unanswered) = runtime.block_on(ask(&clients, header.height.0));
        match policy.check(header, &attestations) {
            Ok(_) => {
                let by: Vec<String> = attestations
                    .iter()
                    .filter(|a| policy.trusts(&a.witness) && a.covers(header) && a.verify().is_ok())
                    .map(|a| a.witness.to_did())
                    .collect();
                return Ok(Some(
                    json!({ "needed": policy.needed(), "attested_by": by }),
                ));
            }
            Err(e) if std::time::Instant::now() >= deadline => {
                let mut message = e.to_string();
                if !unanswered.is_empty() {
                    message += &format!("; not answered: {}", unanswered.join("; "));
                }
                return Err(NotValid {
                    code: e.code(),
                    message,
                }
                .into());
            }
            Err(_) => std::thread::sleep(ASK_AGAIN),
        }
    }
}

/// Each witness's attestation at `height`, and what went wrong asking.
async fn ask(clients: &[NodeClient], height: u64) -> (Vec<Attestation>, Vec<String>) {
    let mut found = Vec::new();
    let mut unanswered = Vec::new();
    for c in clients {
        match c.get(&format!("/v1/attestations/{height}")).await {
            Ok(v) => match parse(&v) {
                Some(a) => found.push(a),
                None => unanswered.push(format!("{}: not an attestation", c.url())),
            },
            Err(e) => unanswered.push(format!("{}: {e}", c.url())),
        }
    }
    (found, unanswered)
}

fn parse(v: &Value) -> Option<Attestation> {
    let bytes = hex::decode(v["hex"].as_str()?).ok()?;
    Attestation::from_bytes(&bytes).ok()
}
