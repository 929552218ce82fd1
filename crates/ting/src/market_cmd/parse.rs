//! What the market commands take from the command line, checked before any
//! of it reaches a device or the node: ids, amounts, durations within the
//! market's limits, scores, categories, places, the `--require` rules of an
//! evidence template and the `--field` values of evidence. Each error names
//! the flag, what was wrong and what to write instead.

use ting_core::limits::{EVIDENCE_FIELDS_MAX, EVIDENCE_VALUE_BYTES_MAX, TEMPLATE_RULES_MAX};
use ting_core::market::evidence::is_field_name;
use ting_core::market::offer::is_service_area;
use ting_core::market::{is_category, Condition, FieldRule, HoldId, OfferId, Template, Value};
use ting_core::{Amount, Hash32};

use crate::channel_cmd::parse_duration_ms;
use crate::failure::bad_input;

/// Parts per million in a whole score.
const PPM_MAX: u32 = 1_000_000;

pub fn hold(text: &str) -> anyhow::Result<HoldId> {
    HoldId::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_hold_id",
            format!(
                "{text:?} is not a hold id: 64 hex digits, as `ting market buy` \
                or `ting market holds` print them"
            ),
        )
    })
}

pub fn offer(text: &str) -> anyhow::Result<OfferId> {
    OfferId::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_offer_id",
            format!(
                "{text:?} is not an offer id: 64 hex digits, as `ting market \
                offer open` or `ting market offers` print them"
            ),
        )
    })
}

/// A call, named by its hash.
pub fn call(text: &str) -> anyhow::Result<Hash32> {
    Hash32::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_call_id",
            format!(
                "{text:?} is not a call id: 64 hex digits, as `ting market buy` \
                prints it (`ting market contracts` lists them)"
            ),
        )
    })
}

/// An amount in base units that must be above zero.
pub fn amount(flag: &str, n: u64) -> anyhow::Result<Amount> {
    if n == 0 {
        return Err(bad_input(
            "bad_amount",
            format!("{flag} must be above zero (base units)"),
        ));
    }
    Ok(Amount::new(n))
}

/// A duration such as `2h`, from `min_ms` to `max_ms`; `limit` says the
/// maximum in words.
pub fn duration(
    flag: &str,
    text: &str,
    min_ms: u64,
    max_ms: u64,
    limit: &str,
) -> anyhow::Result<u64> {
    let ms =
        parse_duration_ms(text).map_err(|e| bad_input("bad_duration", format!("{flag}: {e}")))?;
    if ms < min_ms || ms > max_ms {
        return Err(bad_input(
            "bad_duration",
            format!("{flag} {text} is out of range: {limit}"),
        ));
    }
    Ok(ms)
}

/// A score: a percentage (`50%`, `33.3%`) or parts per million (`500000`).
pub fn score(flag: &str, text: &str) -> anyhow::Result<u32> {
    let bad = || {
        bad_input(
            "bad_score",
            format!(
                "{flag} {text:?}: write a percentage such as 50% or parts per \
                million such as 500000 (at most 100% = 1000000)"
            ),
        )
    };
    let text = text.trim();
    let ppm = match text.strip_suffix('%') {
        Some(percent) => {
            let (whole, frac) = percent.split_once('.').unwrap_or((percent, ""));
            if frac.len() > 4 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let whole: u32 = whole.parse().map_err(|_| bad())?;
            let frac: u32 = format!("{frac:0<4}").parse().map_err(|_| bad())?;
            whole.checked_mul(10_000).and_then(|w| w.checked_add(frac))
        }
        None => text.parse::<u32>().ok(),
    };
    ppm.filter(|p| *p <= PPM_MAX).ok_or_else(bad)
}

pub fn category(flag: &str, text: &str) -> anyhow::Result<String> {
    if !is_category(text) {
        return Err(bad_input(
            "bad_category",
            format!(
                "{flag} {text:?}: a category is 1 to 8 dotted parts of a-z, 0-9 \
                and _, at most 48 bytes, such as water.cartridge.replace"
            ),
        ));
    }
    Ok(text.to_owned())
}

/// A place or an area: a geohash of at most 12 characters (empty for anywhere).
pub fn area(flag: &str, text: &str) -> anyhow::Result<String> {
    if !is_service_area(text) {
        return Err(bad_input(
            "bad_area",
            format!(
                "{flag} {text:?}: write a geohash of at most 12 characters (0-9 \
                and b-z but a, i, l, o), such as u4pruydq; empty for anywhere"
            ),
        ));
    }
    Ok(text.to_owned())
}

/// A value written `"text"` (quoted) or as a whole number; anything else is text.
fn value(text: &str) -> Value {
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Value::Text(inner.as_bytes().to_vec());
    }
    match text.parse::<u64>() {
        Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => Value::Number(n),
        _ => Value::Text(text.as_bytes().to_vec()),
    }
}

fn field_name(flag: &str, whole: &str, name: &str) -> anyhow::Result<String> {
    if !is_field_name(name) {
        return Err(bad_input(
            "bad_field",
            format!("{flag} {whole:?}: the name {name:?} is not 1 to 32 of a-z, 0-9, _ and ."),
        ));
    }
    Ok(name.to_owned())
}

/// One `--require`: `NAME=TEXT`, `NAME>=N` or `NAME<=N`.
pub fn require(text: &str) -> anyhow::Result<FieldRule> {
    let usage = "write NAME=TEXT, NAME>=N or NAME<=N, such as \
        event=cartridge_installed or flow_ml_min>=500";
    let bad = |why: &str| bad_input("bad_require", format!("--require {text:?}: {why}"));
    let at = text.find(['=', '<', '>']).ok_or_else(|| bad(usage))?;
    let name = field_name("--require", text, text[..at].trim())?;
    let rest = &text[at..];
    let number = |n: &str| {
        n.trim()
            .parse::<u64>()
            .map_err(|_| bad(&format!("{:?} is not a whole number", n.trim())))
    };
    let condition = if let Some(n) = rest.strip_prefix(">=") {
        Condition::AtLeast(number(n)?)
    } else if let Some(n) = rest.strip_prefix("<=") {
        Condition::AtMost(number(n)?)
    } else if let Some(t) = rest.strip_prefix('=') {
        match value(t) {
            Value::Text(bytes) if bytes.is_empty() => return Err(bad("give the text after =")),
            Value::Text(bytes) if bytes.len() <= EVIDENCE_VALUE_BYTES_MAX => {
                Condition::Equals(bytes)
            }
            Value::Text(_) => return Err(bad("the text is at most 32 bytes")),
            Value::Number(n) => {
                return Err(bad(&format!(
                    "`=` compares text, and {n} is a number: write {name}>={n} and \
                        {name}<={n}, or \"{n}\" in quotes for text"
                )))
            }
        }
    } else {
        return Err(bad(usage));
    };
    Ok(FieldRule { name, condition })
}

/// The template of every `--require`, each field named once.
pub fn template(requires: &[String]) -> anyhow::Result<Template> {
    if requires.len() > TEMPLATE_RULES_MAX {
        return Err(bad_input(
            "bad_require",
            format!(
                "{} --require rules; a template has at most {TEMPLATE_RULES_MAX}",
                requires.len()
            ),
        ));
    }
    let rules: Vec<FieldRule> = requires
        .iter()
        .map(|r| require(r))
        .collect::<anyhow::Result<_>>()?;
    let template = Template { rules };
    template
        .check()
        .map_err(|e| bad_input("bad_require", format!("--require: {e}")))?;
    Ok(template)
}

/// One `--field NAME=VALUE` of evidence: a whole number, or text (in
/// quotes if it looks like a number).
pub fn field(text: &str) -> anyhow::Result<(String, Value)> {
    let (name, v) = text.split_once('=').ok_or_else(|| {
        bad_input(
            "bad_field",
            format!(
                "--field {text:?}: write NAME=VALUE, such as \
                event=cartridge_installed or flow_ml_min=812"
            ),
        )
    })?;
    let name = field_name("--field", text, name.trim())?;
    let value = value(v.trim());
    if matches!(&value, Value::Text(t) if t.len() > EVIDENCE_VALUE_BYTES_MAX) {
        return Err(bad_input(
            "bad_field",
            format!("--field {text:?}: a text value is at most {EVIDENCE_VALUE_BYTES_MAX} bytes"),
        ));
    }
    Ok((name, value))
}

/// The evidence fields of every `--field`, sorted by name, each once.
pub fn fields(texts: &[String]) -> anyhow::Result<Vec<(String, Value)>> {
    if texts.is_empty() || texts.len() > EVIDENCE_FIELDS_MAX {
        return Err(bad_input(
            "bad_field",
            format!(
                "evidence has 1 to {EVIDENCE_FIELDS_MAX} --field values; {} given",
                texts.len()
            ),
        ));
    }
    let mut out: Vec<(String, Value)> = texts
        .iter()
        .map(|t| field(t))
        .collect::<anyhow::Result<_>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(bad_input(
            "bad_field",
            format!("--field {} is given twice; each field once", w[0].0),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: anyhow::Error) -> String {
        crate::failure::Failed::classify(&e).code
    }

    #[test]
    fn requires_read_text_and_bounds_and_refuse_the_rest_by_name() {
        let r = require("event=cartridge_installed").expect("text");
        assert_eq!(
            r.condition,
            Condition::Equals(b"cartridge_installed".to_vec())
        );
        assert_eq!(
            require("flow_ml_min>=500").expect("at least").condition,
            Condition::AtLeast(500)
        );
        assert_eq!(
            require("tds_ppm<=50").expect("at most").condition,
            Condition::AtMost(50)
        );
        assert_eq!(
            require("serial=\"2231\"").expect("quoted").condition,
            Condition::Equals(b"2231".to_vec())
        );
        for bad in [
            "flow",
            "flow>5",
            "flow>=abc",
            "Flow>=5",
            "=x",
            "count=5",
            "x=",
        ] {
            let e = require(bad).expect_err(bad);
            let c = code(e);
            assert!(c == "bad_require" || c == "bad_field", "{bad}: {c}");
        }
        let nine: Vec<String> = (0..9).map(|i| format!("f{i}>=1")).collect();
        assert_eq!(
            code(template(&nine).expect_err("nine rules")),
            "bad_require"
        );
    }

    #[test]
    fn evidence_fields_are_numbers_or_text_sorted_and_each_once() {
        let f =
            fields(&["flow_ml_min=812".into(), "event=cartridge_installed".into()]).expect("two");
        assert_eq!(
            f[0],
            ("event".into(), Value::Text(b"cartridge_installed".to_vec()))
        );
        assert_eq!(f[1], ("flow_ml_min".into(), Value::Number(812)));
        assert_eq!(
            code(fields(&["a=1".into(), "a=2".into()]).expect_err("twice")),
            "bad_field"
        );
        assert_eq!(code(fields(&[]).expect_err("none")), "bad_field");
        assert_eq!(code(field("novalue").expect_err("no =")), "bad_field");
    }

    #[test]
    fn scores_are_percentages_or_parts_per_million() {
        assert_eq!(score("--min-score", "50%").ok(), Some(500_000));
        assert_eq!(score("--min-score", "33.3333%").ok(), Some(333_333));
        assert_eq!(score("--min-score", "250000").ok(), Some(250_000));
        for bad in ["101%", "1000001", "half", "5.55555%", "-1"] {
            assert!(score("--min-score", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_are_bounded_and_the_flag_is_named() {
        assert_eq!(
            duration("--grace", "1h", 0, 7 * 86_400_000, "at most 7d").ok(),
            Some(3_600_000)
        );
        let e = duration("--grace", "8d", 0, 7 * 86_400_000, "at most 7d").expect_err("too long");
        assert!(e.to_string().contains("--grace"), "{e}");
        let e = duration("--grace", "soon", 0, 1, "x").expect_err("not a duration");
        assert!(e.to_string().contains("--grace"), "{e}");
    }
}
