//! The market in words: offers, holds, reputations, release rules, scores
//! and spans of time as a person reads them, made from the API's JSON forms
//! (`ting_api::market`), so that a proved record and a search hint read
//! the same.

use serde_json::Value;
use ting_core::Timestamp;

use crate::output::{relative, text, utc};

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// `2h`, `90d`, `1h 30m`, `250ms`: a span in its units, largest first.
pub fn span(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    let mut rest = ms;
    for (unit, name) in [
        (DAY_MS, "d"),
        (HOUR_MS, "h"),
        (MINUTE_MS, "m"),
        (SECOND_MS, "s"),
    ] {
        if rest >= unit {
            parts.push(format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    if rest > 0 {
        parts.push(format!("{rest}ms"));
    }
    parts.join(" ")
}

/// `1 job`, `2 jobs`.
pub fn count(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `33.3%` for parts per million.
pub fn score(ppm: u64) -> String {
    let tenths = (ppm + 500) / 1_000;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// A date, and how far it is from now: `2026-12-02 16:08:42 UTC (in 2h 0m)`.
pub fn when(ms: u64) -> String {
    format!(
        "{} ({})",
        utc(Timestamp(ms)),
        relative(Timestamp(ms), ting_agent::clock::now())
    )
}

/// One template rule: `event = cartridge_installed`, `flow_ml_min >= 500`.
fn rule_words(r: &Value) -> String {
    let field = text(&r["field"]);
    if let Some(n) = r["at_least"].as_u64() {
        format!("{field} >= {n}")
    } else if let Some(n) = r["at_most"].as_u64() {
        format!("{field} <= {n}")
    } else if let Some(hex) = r["equals"]["hex"].as_str() {
        format!("{field} = 0x{hex}")
    } else {
        format!("{field} = {}", text(&r["equals"]))
    }
}

/// How a hold's money is released, from its terms' JSON (`rule`, `arbiter`).
pub fn release_words(terms: &Value) -> String {
    let rule = &terms["rule"];
    let arbiter = terms["arbiter"].as_str();
    let how = match rule["kind"].as_str().unwrap_or("") {
        "evidence" => {
            let rules: Vec<String> = rule["template"]
                .as_array()
                .into_iter()
                .flatten()
                .map(rule_words)
                .collect();
            format!(
                "released by evidence signed by {} showing {}",
                text(&rule["device"]),
                rules.join(" and ")
            )
        }
        "arbiter" => format!("released by the arbiter {}", arbiter.unwrap_or("-")),
        _ => "released by the payer's word".to_owned(),
    };
    match arbiter {
        Some(a) => format!("{how}; disputes go to {a}"),
        None => format!("{how}; no arbiter, so no dispute"),
    }
}

/// A reputation record's JSON in two lines, or a newcomer's line for `null`.
pub fn reputation_lines(r: &Value) -> String {
    if r.is_null() {
        return "no record yet: a newcomer (no accepted hold of its has ended)".into();
    }
    let tally = |t: &Value| match t["count"].as_u64() {
        Some(0) | None => "0".to_owned(),
        Some(n) => format!("{n} ({})", t["value"]),
    };
    let buyers = r["distinct_buyers"].as_u64().unwrap_or(0);
    format!(
        "score {} in {}: {} of the value released, {buyers} distinct \
            buyer{}\n    released {}, late {}, withdrawn {}, lost {}; last \
            outcome {}",
        score(r["score_ppm"].as_u64().unwrap_or(0)),
        text(&r["category"]),
        score(r["success_ppm"].as_u64().unwrap_or(0)),
        if buyers == 1 { "" } else { "s" },
        tally(&r["released"]),
        tally(&r["late"]),
        tally(&r["withdrawn"]),
        tally(&r["lost"]),
        crate::output::utc_field(&r["last_at_ms"]),
    )
}

/// An offer's JSON (as `ting_api::market::offer_json` makes it) in words.
pub fn offer_lines(o: &Value) -> String {
    let t = &o["terms"];
    let area = match t["area"].as_str() {
        Some("") | None => "anywhere".to_owned(),
        Some(a) => format!("in {a}"),
    };
    let warranty = match t["warranty_ms"].as_u64() {
        Some(0) | None => "no warranty".to_owned(),
        Some(ms) => format!("warranty {}", span(ms)),
    };
    format!(
        "offer {}\n  {} sells {} {area}: usually {}, delivered in {}, \
            {warranty}\n  terms {}; deposit {}; listed {}\n  {}",
        text(&o["offer"]),
        text(&o["provider"]),
        text(&t["category"]),
        t["price"],
        span(t["delivery_ms"].as_u64().unwrap_or(0)),
        text(&t["terms"]),
        o["deposit"],
        crate::output::utc_field(&o["opened_at_ms"]),
        reputation_lines(&o["reputation"]),
    )
}

/// A hold's JSON (as `ting_api::market::hold_json` makes it) in words.
pub fn hold_lines(h: &Value) -> String {
    let t = &h["terms"];
    let counts = if h["counts_for_reputation"].as_bool() == Some(false) {
        "payer and payee answer to one owner: its outcome does not count for reputation"
    } else {
        "its outcome counts for the payee's reputation"
    };
    format!(
        "hold {}: {}\n  {} from {} to {} for {}; the payer's deposit \
            {}\n  due {}, then {} of grace\n  {}\n  terms {}; {counts}",
        text(&h["hold"]),
        text(&h["phase"]),
        t["amount"],
        text(&h["payer"]),
        text(&t["payee"]),
        text(&t["category"]),
        h["deposit"],
        when(t["deadline"].as_u64().unwrap_or(0)),
        span(t["grace_ms"].as_u64().unwrap_or(0)),
        release_words(t),
        text(&t["terms"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_and_scores_read_as_a_person_writes_them() {
        assert_eq!(span(2 * HOUR_MS), "2h");
        assert_eq!(span(90 * DAY_MS), "90d");
        assert_eq!(span(HOUR_MS + 30 * MINUTE_MS), "1h 30m");
        assert_eq!(span(250), "250ms");
        assert_eq!(score(333_333), "33.3%");
        assert_eq!(score(1_000_000), "100.0%");
        assert_eq!(score(0), "0.0%");
    }

    #[test]
    fn an_evidence_rule_names_its_device_and_every_condition() {
        let terms = json!({
            "rule": { "kind": "evidence", "device": "did:key:zP", "template": [
                { "field": "event", "equals": "cartridge_installed" },
                { "field": "flow_ml_min", "at_least": 500 },
            ]},
        });
        assert_eq!(
            release_words(&terms),
            "released by evidence signed by did:key:zP showing event = \
                cartridge_installed and flow_ml_min >= 500; no arbiter, so no \
                dispute"
        );
        let payer = json!({ "rule": { "kind": "payer" }, "arbiter": "did:key:zA" });
        assert_eq!(
            release_words(&payer),
            "released by the payer's word; disputes go to did:key:zA"
        );
    }
}
