//! Printing: a human text by default, the JSON itself with `--json`; dates
//! and durations as a person reads them.

use serde_json::Value;
use ting_core::Timestamp;

/// Writes `text` and a newline to stdout. When the reader has gone (`ting
/// ... | head -1`), the command ends quietly with success: whatever it did
/// is already done and durable, and only the rest of its report is unread.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints `v` as one line of JSON, or what `human` makes of it.
pub fn print_value(v: &Value, json_out: bool, human: impl FnOnce(&Value) -> String) {
    if json_out {
        emit(&v.to_string());
    } else {
        emit(&human(v));
    }
}

/// Reads what `source` names (`-` for stdin, else a file), at most `max`
/// bytes; `what` names it in errors. A file that is not there, or not
/// readable, is bad input; a longer one is refused rather than cut.
pub fn read_input(source: &str, max: u64, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let reader: Box<dyn Read> = if source == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(source).map_err(|e| {
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => "file_not_found",
                std::io::ErrorKind::PermissionDenied => "permission_denied",
                _ => "io",
            };
            crate::failure::bad_input(code, format!("cannot open {what} {source}: {e}"))
        })?;
        Box::new(file)
    };
    let mut text = String::new();
    reader
        .take(max.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(|e| crate::failure::bad_input("io", format!("cannot read {what}: {e}")))?;
    if text.len() as u64 > max {
        return Err(crate::failure::bad_input(
            "too_long",
            format!("{what} is over {max} bytes"),
        ));
    }
    Ok(text)
}

/// A JSON value as plain text: strings without their quotes, `null` as `-`.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `2026-12-02 16:08:42 UTC` for a ledger timestamp (milliseconds since the epoch).
pub fn utc(t: Timestamp) -> String {
    let rest = t.0 / 1000 % 86_400;
    let (y, m, d) = t.utc_date();
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A timestamp field of the node's JSON (`..._ms`) as a date, or `-`.
pub fn utc_field(v: &Value) -> String {
    v.as_u64()
        .map_or_else(|| "-".to_owned(), |ms| utc(Timestamp(ms)))
}

/// How far `then` is from `now`, as `in 2h 5m` or `3m 10s ago`.
pub fn relative(then: Timestamp, now: Timestamp) -> String {
    let (ms, future) = if then >= now {
        (then.0 - now.0, true)
    } else {
        (now.0 - then.0, false)
    };
    let span = span(ms / 1000);
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn span(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_as_a_calendar_does() {
        assert_eq!(utc(Timestamp(0)), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(Timestamp(951_782_400_000)), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(Timestamp(1_795_500_697_176)), "2026-11-24 06:11:37 UTC");
        assert_eq!(utc(Timestamp(4_107_542_399_000)), "2100-02-28 23:59:59 UTC");
    }

    #[test]
    fn spans_read_in_their_largest_units() {
        let now = Timestamp(1_000_000_000);
        assert_eq!(relative(Timestamp(now.0 + 90_000), now), "in 1m 30s");
        assert_eq!(relative(Timestamp(now.0 - 7_500_000), now), "2h 5m ago");
        assert_eq!(relative(Timestamp(now.0 + 3 * 86_400_000), now), "in 3d 0h");
        assert_eq!(relative(now, now), "in 0s");
    }
}
