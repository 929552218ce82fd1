//! The run's logs beside its report, for anyone checking the city's
//! claims (the scenario tests read them): `orders.json`, every step of
//! every purifier's cartridge orders, and `purchases.json`, which fields
//! of which household reached the utility and in what form.

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Value};
use ting_sim::city::{OrderStep, Tally};
use ting_sim::report::format::utc;

use super::agents::City;

/// The order log's file.
pub const ORDERS_FILE: &str = "orders.json";
/// The purchases log's file.
pub const PURCHASES_FILE: &str = "purchases.json";

/// Writes both logs into `dir`; the run's agents started at `started_ms`
/// (network time).
pub fn write(dir: &Path, city: &City, tally: &Tally, started_ms: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let put = |name: &str, value: Value| {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(&value).expect("JSON values serialize");
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    put(ORDERS_FILE, orders(city, tally, started_ms))?;
    put(PURCHASES_FILE, purchases(city, tally))
}

fn orders(city: &City, tally: &Tally, started_ms: u64) -> Value {
    let events: Vec<Value> = tally
        .orders()
        .iter()
        .map(|e| {
            let mut v = json!({
                "household": e.household,
                "at": utc(e.at_ms),
                "at_ms": e.at_ms,
                "step": e.step.name(),
            });
            if let OrderStep::Chose {
                centre,
                deadline_ms,
            } = &e.step
            {
                v["centre"] = json!(centre);
                v["deadline_ms"] = json!(deadline_ms);
            }
            v
        })
        .collect();
    json!({
        "seed": city.scenario.seed(),
        "households": city.scenario.households().len(),
        "started_ms": started_ms,
        "ended_ms": city.genesis.ledger_time(ting_agent::clock::now()).0,
        "events": events,
    })
}

fn purchases(city: &City, tally: &Tally) -> Value {
    let map = tally.map();
    let households: Vec<Value> = map
        .forms()
        .iter()
        .map(|(h, forms)| {
            let fields: Vec<Value> = forms
                .iter()
                .map(|(field, form)| json!({ "field": field, "form": form.label() }))
                .collect();
            let name = city
                .scenario
                .household(*h)
                .map_or_else(String::new, |x| x.name.clone());
            json!({ "household": h, "name": name, "fields": fields })
        })
        .collect();
    json!({
        "seed": city.scenario.seed(),
        "households": households,
    })
}
