//! What `ting market buy` says at its two ends that are not plain events:
//! why no proposal was taken (each one with its policy's reason), and,
//! once the provider has the job, the command that comes next in the
//! words of the hold's release rule.

use ting_agent::market::contract::Contract;
use ting_agent::market::{Candidate, Policy};
use ting_agent::Device;
use ting_core::limits::HOLD_DEPOSIT;
use ting_core::market::{Condition, ReleaseRule};
use ting_core::Hash32;

use super::buy::BuyArgs;
use super::events::skip_words;
use crate::failure::refused;

/// Why no proposal was taken: each one with the policy's reason.
pub async fn no_proposal(device: &Device, policy: &Policy, c: &Contract) -> anyhow::Error {
    let call = c.id();
    if c.proposals.is_empty() {
        return refused(
            "no_proposal",
            format!(
                "no provider answered call {call} in time: none serves {} there, \
                or none was following calls (is `ting market provide` running, \
                and ready, before the buyer calls?)",
                c.call.call.category
            ),
        );
    }
    let mut lines = Vec::new();
    for (provider, proposal) in &c.proposals {
        let reputation = device
            .http()
            .reputation(provider, &c.call.call.category)
            .await
            .ok()
            .flatten();
        let candidate = Candidate {
            provider: *provider,
            proposal: proposal.clone(),
            reputation,
        };
        let why = match policy.eligible(&c.call, &candidate, device.now()) {
            Ok(()) => format!(
                "eligible, yet not taken (the hold could not be made: is the \
                balance enough for the price and the deposit of {HOLD_DEPOSIT}?)"
            ),
            Err(skip) => skip_words(skip),
        };
        lines.push(format!("  {provider} at {}: {why}", proposal.price));
    }
    refused(
        "no_proposal",
        format!(
            "no proposal for call {call} is one the policy takes:\n{}",
            lines.join("\n")
        ),
    )
}

/// What to do once the provider has the job, in the words of the release rule.
pub fn next_steps(a: &BuyArgs, c: &Contract, call: &Hash32) -> String {
    let state = a
        .device
        .state
        .state
        .as_ref()
        .map(|s| format!(" --state {}", s.display()))
        .unwrap_or_default();
    let key = a.device.key.key.display();
    let mut out = match &c.call.call.rule {
        ReleaseRule::Evidence { device, template } => {
            let fields: Vec<String> = template
                .rules
                .iter()
                .map(|r| match &r.condition {
                    Condition::Equals(t) => {
                        let t = String::from_utf8_lossy(t);
                        // A text that reads as a number is given in quotes (`parse::field`).
                        match t.bytes().all(|b| b.is_ascii_digit()) {
                            true => format!("--field '{}=\"{t}\"'", r.name),
                            false => format!("--field {}={t}", r.name),
                        }
                    }
                    Condition::AtLeast(n) | Condition::AtMost(n) => {
                        format!("--field {}={n}", r.name)
                    }
                })
                .collect();
            let sensor = if *device == c.call.call.buyer {
                String::new()
            } else {
                " --sensor-key SENSOR.key".to_owned()
            };
            format!(
                "next: once the service is done, the evidence device signs what \
                    it saw and the money is released (give the values it \
                    measured):\n  ting market confirm --key {key}{state} \
                    {call}{sensor} {}",
                fields.join(" ")
            )
        }
        ReleaseRule::Payer => format!(
            "next: once the service is done, release the money:\n  ting \
            market release --key {key}{state} {call}"
        ),
        ReleaseRule::Arbiter => format!(
            "next: the arbiter releases the money when it sees fit:\n  ting \
            market release --key ARBITER.key --hold {}",
            c.hold.map(|h| h.to_hex()).unwrap_or_default()
        ),
    };
    if c.call.call.arbiter.is_some() {
        out.push_str(&format!(
            "\nif it goes wrong: ting market dispute --key {key}{state} {call} --reason TEXT"
        ));
    }
    out
}
