//! `ting market contracts`: the contract files a device keeps
//! (`<state>/market/buyer/` and `provider/`, docs/market.md §5–6), each
//! call with where it stands, read without the network and without taking
//! the state's lock (the SDK writes each file whole, by rename).

use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};
use ting_agent::market::contract::{Contract, ContractDir};

use super::device::market_err;
use super::events::call_words;
use super::words::when;
use crate::failure::bad_input;
use crate::output::print_value;

#[derive(Debug, Args)]
pub struct ContractsArgs {
    /// The device's key file: its state directory is beside it (purifier.key: purifier.market).
    #[arg(long, value_name = "FILE", required_unless_present = "state")]
    pub key: Option<PathBuf>,
    /// The device's state directory, as given to `provide` or `buy`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

/// Where a contract stands, in words, by its role and status.
fn status_words(role: &str, c: &Contract) -> String {
    let hold = c.hold.map(|h| h.to_hex()).unwrap_or_default();
    match (role, c.status.as_str()) {
        (_, "calling") => format!("calling: proposals until {}", when(c.call.call.answer_by.0)),
        (_, "holding") => format!("paying into hold {hold} (the transaction is queued or waiting)"),
        ("buyer", "accepted") => {
            format!("hold {hold} made: waiting for the service (confirm, release or dispute)")
        }
        ("provider", "accepted") => {
            format!("job on: hold {hold} accepted, deliver by the deadline")
        }
        (_, "releasing") => format!("releasing hold {hold}"),
        (_, "presenting") => format!("presenting the buyer's evidence for hold {hold}"),
        (_, "accepting") => format!("checking hold {hold} before accepting it"),
        (_, "proposed") => "proposed: waiting for the buyer's choice".to_owned(),
        (_, "released") => format!("released: hold {hold} paid the provider"),
        (_, "paid") => format!("paid: hold {hold} released to this provider"),
        (_, "refunded") => format!("refunded: hold {hold} came back after its deadline"),
        (_, "ended") => format!("ended: hold {hold} ended (released, refunded or decided)"),
        (_, "no_proposal") => "ended with no proposal the policy took".to_owned(),
        (_, other) => other.to_owned(),
    }
}

fn contract_json(role: &str, c: &Contract) -> Value {
    let call = &c.call.call;
    let chosen = c.chosen.as_ref();
    json!({
        "role": role,
        "call": c.id().to_hex(),
        "status": c.status,
        "buyer": call.buyer.to_did(),
        "category": call.category,
        "area": call.area,
        "spec": call.spec,
        "max_price": call.max_price.base_units(),
        "issued_at_ms": call.issued_at.0,
        "round": c.round,
        "proposals": c.proposals.len(),
        "provider": chosen.map(|(p, _)| p.to_did()),
        "price": chosen.map(|(_, p)| p.price.base_units()),
        "deliver_by_ms": chosen.map(|(_, p)| p.deliver_by.0),
        "hold": c.hold.map(|h| h.to_hex()),
    })
}

fn contract_lines(role: &str, c: &Contract) -> String {
    let mut out = format!(
        "call {} (as {role}): {}\n  {}",
        c.id(),
        status_words(role, c),
        call_words(&c.call.call)
    );
    if let Some((provider, p)) = &c.chosen {
        let who = if role == "buyer" {
            format!("to {provider}")
        } else {
            format!("from {}", c.call.call.buyer)
        };
        out.push_str(&format!(
            "\n  {} {who}, due by {}",
            p.price,
            when(p.deliver_by.0)
        ));
    }
    out
}

pub fn run(a: ContractsArgs, json_out: bool) -> anyhow::Result<()> {
    let dir = match (&a.state, &a.key) {
        (Some(s), _) => s.clone(),
        (None, Some(k)) => k.with_extension("market"),
        (None, None) => unreachable!("clap asks for --key or --state"),
    };
    if !dir.is_dir() {
        return Err(bad_input(
            "no_state",
            format!(
                "{} is not a directory: give the --state the device ran with",
                dir.display()
            ),
        ));
    }
    let mut all: Vec<(&'static str, Contract)> = Vec::new();
    for role in ["buyer", "provider"] {
        if !dir.join("market").join(role).is_dir() {
            continue;
        }
        let mut kept = ContractDir::open(&dir, role)
            .and_then(|d| d.load())
            .map_err(market_err)?;
        kept.sort_by_key(|c| c.call.call.issued_at);
        all.extend(kept.into_iter().map(|c| (role, c)));
    }
    let v = json!({
        "state": dir.display().to_string(),
        "contracts": all.iter().map(|(r, c)| contract_json(r, c)).collect::<Vec<_>>(),
    });
    print_value(&v, json_out, |_| {
        if all.is_empty() {
            return format!("{} keeps no contract yet", dir.display());
        }
        all.iter()
            .map(|(r, c)| contract_lines(r, c))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
