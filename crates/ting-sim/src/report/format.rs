//! How the report writes numbers, money and time, shared by the terminal,
//! Markdown and SVG renderings so they agree to the character.
//!
//! Every function here is total: a value that cannot be shown honestly (a
//! share of nothing, a non-finite float) comes out as [`NONE`], never as
//! `NaN` or `inf`.

/// What the report shows where there is no value.
pub const NONE: &str = "—";

const SECOND_MS: u64 = 1_000;
const MINUTE_MS: u64 = 60 * SECOND_MS;
const HOUR_MS: u64 = 60 * MINUTE_MS;
/// One day in milliseconds.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Floats at or beyond this magnitude are written in scientific notation,
/// which stays short.
const PLAIN_FLOAT_MAX: f64 = 1e15;

/// An integer with thousands separators: `1234567` → `1,234,567`.
pub fn thousands(value: u64) -> String {
    thousands_u128(u128::from(value))
}

/// A sum with thousands separators; sums of `u64` amounts can pass `u64::MAX`.
pub fn thousands_u128(value: u128) -> String {
    group_digits(&value.to_string())
}

/// A run of ASCII digits with a comma every three from the right.
fn group_digits(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A simulated instant as `day D HH:MM`, counted from `start_ms`: day 1 is
/// the run's first 24 hours. An instant before the start shows as the start.
pub fn sim_time(start_ms: u64, at_ms: u64) -> String {
    elapsed(at_ms.saturating_sub(start_ms))
}

/// Simulated time since the start as `day D HH:MM` (day 1 is the first 24 hours).
pub fn elapsed(elapsed_ms: u64) -> String {
    let day = elapsed_ms / DAY_MS + 1;
    let hour = elapsed_ms % DAY_MS / HOUR_MS;
    let minute = elapsed_ms % HOUR_MS / MINUTE_MS;
    format!("day {day} {hour:02}:{minute:02}")
}

/// A duration for people: `850 ms`, `42 s`, `12 min 30 s`, `5 h 07 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    if ms < SECOND_MS {
        format!("{ms} ms")
    } else if ms < MINUTE_MS {
        format!("{} s", ms / SECOND_MS)
    } else if ms < HOUR_MS {
        let (m, s) = (ms / MINUTE_MS, ms % MINUTE_MS / SECOND_MS);
        if s == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {s} s")
        }
    } else if ms < DAY_MS {
        format!("{} h {:02} min", ms / HOUR_MS, ms % HOUR_MS / MINUTE_MS)
    } else {
        let (d, h) = (ms / DAY_MS, ms % DAY_MS / HOUR_MS);
        if h == 0 {
            format!("{d} d")
        } else {
            format!("{d} d {h} h")
        }
    }
}

/// A Unix instant in milliseconds as a UTC date and time: `2026-01-01 09:12 UTC`.
pub fn utc(unix_ms: u64) -> String {
    let (year, month, day) = ting_core::Timestamp(unix_ms).utc_date();
    let hour = unix_ms % DAY_MS / HOUR_MS;
    let minute = unix_ms % HOUR_MS / MINUTE_MS;
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// A float with `places` decimals and thousands separators (`1,854.5`);
/// [`NONE`] if it is not finite, scientific notation if it is huge.
pub fn decimal(value: f64, places: usize) -> String {
    if !value.is_finite() {
        return NONE.to_string();
    }
    if value.abs() >= PLAIN_FLOAT_MAX {
        return format!("{value:.3e}");
    }
    let plain = format!("{value:.places$}");
    let (sign, unsigned) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, format!(".{fraction}")),
        None => (unsigned, String::new()),
    };
    format!("{sign}{}{fraction}", group_digits(whole))
}

/// `part` as a share of `whole`: `12.5 %`, `< 0.1 %` for a sliver, or
/// [`NONE`] if `whole` is zero.
pub fn share(part: u64, whole: u64) -> String {
    share_u128(u128::from(part), u128::from(whole))
}

/// [`share`] of sums that may pass `u64::MAX`.
pub fn share_u128(part: u128, whole: u128) -> String {
    if whole == 0 {
        return NONE.to_string();
    }
    if part > 0 && part.saturating_mul(1_000) < whole {
        return "< 0.1 %".to_string();
    }
    let ratio = part as f64 / whole as f64;
    format!("{} %", decimal(ratio * 100.0, 1))
}

/// A signed percentage (`+3.2 %`, `-0.5 %`); [`NONE`] if not finite,
/// bounded at ±9,999 % so a wild estimate stays short.
pub fn signed_percent(value: f64) -> String {
    const SHOWN_MAX: f64 = 9_999.0;
    if !value.is_finite() {
        NONE.to_string()
    } else if value > SHOWN_MAX {
        "> +9,999 %".to_string()
    } else if value < -SHOWN_MAX {
        "< -9,999 %".to_string()
    } else {
        format!("{value:+.1} %")
    }
}

/// The relative error of an estimate in percent, if there is an estimate and
/// the truth is not zero.
pub fn error_percent(truth: f64, measured: Option<f64>) -> Option<f64> {
    let measured = measured?;
    let error = (measured - truth) / truth * 100.0;
    (truth != 0.0 && error.is_finite()).then_some(error)
}

/// A speed-up factor: `×97.3`.
pub fn speed(factor: f64) -> String {
    let places = if factor.fract() == 0.0 { 0 } else { 1 };
    format!("×{}", decimal(factor, places))
}

/// A number short enough for an axis tick: `950`, `12,500`, `1.25 M`, `3 G`.
pub fn compact(value: f64) -> String {
    // (from what magnitude, divided by what, which suffix): thousands stay
    // plain up to 9,999.
    const STEPS: [(f64, f64, &str); 4] = [
        (1e12, 1e12, "T"),
        (1e9, 1e9, "G"),
        (1e6, 1e6, "M"),
        (1e4, 1e3, "k"),
    ];
    if !value.is_finite() {
        return NONE.to_string();
    }
    if value.abs() >= PLAIN_FLOAT_MAX {
        return format!("{value:.1e}");
    }
    for (from, divisor, suffix) in STEPS {
        if value.abs() >= from {
            return format!(
                "{} {suffix}",
                trim_zeros(&format!("{:.2}", value / divisor))
            );
        }
    }
    let plain = trim_zeros(&format!("{value:.2}"));
    if plain == "-0" {
        return "0".to_string();
    }
    match plain.parse::<u64>() {
        Ok(whole) => thousands(whole),
        Err(_) => plain,
    }
}

/// `1.50` → `1.5`, `2.00` → `2`.
fn trim_zeros(text: &str) -> String {
    if !text.contains('.') {
        return text.to_string();
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `text` on one line: control characters (newlines included) become spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut to at most `chars_max` characters, ending in `…` if it was cut.
pub fn truncate(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_string();
    }
    let kept: String = text.chars().take(chars_max.saturating_sub(1)).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_puts_a_comma_every_three_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(
            thousands_u128(u128::from(u64::MAX) * 2),
            "36,893,488,147,419,103,230"
        );
    }

    #[test]
    fn simulated_time_counts_days_from_one() {
        assert_eq!(sim_time(1_000, 1_000), "day 1 00:00");
        assert_eq!(sim_time(0, 9 * HOUR_MS + 12 * MINUTE_MS), "day 1 09:12");
        assert_eq!(sim_time(0, DAY_MS + HOUR_MS), "day 2 01:00");
        assert_eq!(sim_time(5_000, 1_000), "day 1 00:00");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(42 * SECOND_MS), "42 s");
        assert_eq!(duration(12 * MINUTE_MS + 30 * SECOND_MS), "12 min 30 s");
        assert_eq!(duration(5 * HOUR_MS + 7 * MINUTE_MS), "5 h 07 min");
        assert_eq!(duration(3 * DAY_MS + 4 * HOUR_MS), "3 d 4 h");
        assert_eq!(duration(2 * DAY_MS), "2 d");
    }

    #[test]
    fn utc_dates_follow_the_gregorian_calendar() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_767_225_600_000 + 9 * HOUR_MS), "2026-01-01 09:00 UTC");
    }

    #[test]
    fn decimals_group_thousands_and_keep_their_sign() {
        assert_eq!(decimal(1_854.54, 1), "1,854.5");
        assert_eq!(decimal(-1_234_567.0, 0), "-1,234,567");
        assert_eq!(decimal(0.25, 2), "0.25");
        assert_eq!(speed(100.0), "×100");
        assert_eq!(speed(97.25), "×97.2");
    }

    #[test]
    fn values_that_cannot_be_shown_become_a_dash() {
        assert_eq!(decimal(f64::NAN, 1), NONE);
        assert_eq!(decimal(f64::INFINITY, 1), NONE);
        assert_eq!(share(1, 0), NONE);
        assert_eq!(signed_percent(f64::NEG_INFINITY), NONE);
        assert_eq!(compact(f64::NAN), NONE);
        assert_eq!(error_percent(0.0, Some(3.0)), None);
        assert_eq!(error_percent(100.0, None), None);
        assert!(!decimal(1e300, 1).contains("inf"));
    }

    #[test]
    fn percentages_are_signed_and_bounded() {
        assert_eq!(share(1, 8), "12.5 %");
        assert_eq!(share(1, 1_001), "< 0.1 %");
        assert_eq!(share(0, 5), "0.0 %");
        assert_eq!(signed_percent(3.21), "+3.2 %");
        assert_eq!(signed_percent(1e9), "> +9,999 %");
        assert_eq!(error_percent(200.0, Some(210.0)), Some(5.0));
    }

    #[test]
    fn compact_numbers_stay_short() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(9_500.0), "9,500");
        assert_eq!(compact(12_500.0), "12.5 k");
        assert_eq!(compact(1_250_000.0), "1.25 M");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(-0.001), "0");
        assert_eq!(compact(-25_000.0), "-25 k");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(one_line("a\nb\tc"), "a b c");
    }
}
