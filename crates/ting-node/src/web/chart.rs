//! SVG charts of an account's money over time: what it spent and what it
//! earned per period, drawn on the server (no chart library, no script).
//!
//! The flows come from the account's history in the query index, which
//! keeps with each entry the amount the transaction names and which way it
//! moved the account's balance (`Flow`): a transfer, a channel open or
//! top-up, a hold and a device's sweep spend; a transfer received, a mint, a
//! sweep to the owner and an arbiter's award earn. Claims and settlements on
//! channels, streams and leases move amounts the ledger works out from its
//! state, so they are not in the chart: the channel, stream and lease lists
//! show those totals.

use std::fmt::Write as _;

use super::html::{thousands, utc};

/// Bars in a chart.
const BUCKETS: usize = 24;
const WIDTH: u64 = 720;
const HEIGHT: u64 = 160;
const MARGIN: u64 = 28;

/// Which way an entry moved the account's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Spent,
    Earned,
}

/// Spent and earned per period over the entries' span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flows {
    pub start_ms: u64,
    pub bucket_ms: u64,
    pub spent: Vec<u64>,
    pub earned: Vec<u64>,
}

/// Buckets `moved` (time in ms, which way, amount) into [`BUCKETS`] periods
/// ending at the newest; `None` when nothing moved.
pub fn flows(moved: &[(u64, Flow, u64)]) -> Option<Flows> {
    let newest = moved.iter().map(|m| m.0).max()?;
    let oldest = moved.iter().map(|m| m.0).min()?;
    let span = newest.saturating_sub(oldest).saturating_add(1);
    let bucket_ms = nice_bucket(span.div_ceil(BUCKETS as u64));
    let start_ms =
        (newest / bucket_ms * bucket_ms).saturating_sub((BUCKETS as u64 - 1) * bucket_ms);
    let mut out = Flows {
        start_ms,
        bucket_ms,
        spent: vec![0; BUCKETS],
        earned: vec![0; BUCKETS],
    };
    for &(at, f, amount) in moved {
        let Some(i) = at
            .checked_sub(start_ms)
            .and_then(|d| usize::try_from(d / bucket_ms).ok())
        else {
            continue;
        };
        let slot = match f {
            Flow::Spent => &mut out.spent,
            Flow::Earned => &mut out.earned,
        };
        if let Some(v) = slot.get_mut(i) {
            *v = v.saturating_add(amount);
        }
    }
    Some(out)
}

/// The smallest of a minute, an hour, a day or a week (or whole weeks) that
/// is at least `ms`.
fn nice_bucket(ms: u64) -> u64 {
    const STEPS: [u64; 7] = [
        1_000,
        60_000,
        600_000,
        3_600_000,
        21_600_000,
        86_400_000,
        604_800_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| *s >= ms)
        .unwrap_or_else(|| ms.div_ceil(STEPS[6]) * STEPS[6])
}

/// The chart as an SVG element: spent bars below the axis, earned above.
pub fn svg(f: &Flows) -> String {
    let top = f
        .earned
        .iter()
        .chain(&f.spent)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let half = (HEIGHT - 2 * MARGIN) / 2;
    let mid = MARGIN + half;
    let bar = (WIDTH - 2 * MARGIN) / BUCKETS as u64;
    let scale =
        |v: u64| u64::try_from(u128::from(v) * u128::from(half) / u128::from(top)).unwrap_or(half);
    let mut out = format!(
        "<svg id=\"flow-chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
aria-label=\"Earned (up) and spent (down) per {} from {} UTC\">",
        period_name(f.bucket_ms),
        utc(f.start_ms)
    );
    let _ = write!(
        out,
        "<line x1=\"{MARGIN}\" y1=\"{mid}\" x2=\"{}\" y2=\"{mid}\" stroke=\"#888\"/>",
        WIDTH - MARGIN
    );
    for i in 0..BUCKETS {
        let x = MARGIN + i as u64 * bar;
        let at = f.start_ms + i as u64 * f.bucket_ms;
        for (value, earned) in [(f.earned[i], true), (f.spent[i], false)] {
            if value == 0 {
                continue;
            }
            let h = scale(value).max(1);
            let y = if earned { mid - h } else { mid };
            let _ = write!(
                out,
                "<rect class=\"{c}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\" \
data-at=\"{at}\" data-amount=\"{value}\"><title>{label} {amt} in the {p} from {t} UTC</title></rect>",
                c = if earned { "earned" } else { "spent" },
                w = bar.saturating_sub(2).max(1),
                fill = if earned { "#2a7" } else { "#c44" },
                label = if earned { "earned" } else { "spent" },
                amt = thousands(value),
                p = period_name(f.bucket_ms),
                t = utc(at),
            );
        }
    }
    let _ = write!(
        out,
        "<text x=\"{MARGIN}\" y=\"14\" font-size=\"11\">earned ↑ (max {})</text>\
<text x=\"{MARGIN}\" y=\"{}\" font-size=\"11\">spent ↓ · {} per bar from {} UTC</text></svg>",
        thousands(top),
        HEIGHT - 6,
        period_name(f.bucket_ms),
        utc(f.start_ms)
    );
    out
}

fn period_name(ms: u64) -> String {
    match ms {
        1_000 => "second".into(),
        60_000 => "minute".into(),
        600_000 => "10 minutes".into(),
        3_600_000 => "hour".into(),
        21_600_000 => "6 hours".into(),
        86_400_000 => "day".into(),
        w if w % 604_800_000 == 0 => format!("{} week(s)", w / 604_800_000),
        other => format!("{other} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_land_in_their_period_and_sum() {
        let day = 86_400_000;
        let t0 = 19_700 * day;
        let moved = vec![
            (t0 + 10 * day, Flow::Spent, 5),
            (t0 + 10 * day + 1, Flow::Spent, 7),
            (t0 + 20 * day, Flow::Earned, 100),
        ];
        let f = flows(&moved).expect("flows");
        assert_eq!(f.bucket_ms, day);
        assert_eq!(f.spent.iter().sum::<u64>(), 12);
        assert_eq!(f.earned.iter().sum::<u64>(), 100);
        assert_eq!(f.earned[BUCKETS - 1], 100, "the newest is in the last bar");
        let svg = svg(&f);
        assert_eq!(svg.matches("class=\"spent\"").count(), 1);
        assert_eq!(svg.matches("class=\"earned\"").count(), 1);
        assert!(flows(&[]).is_none());
    }

    #[test]
    fn bucket_sizes_are_round() {
        assert_eq!(nice_bucket(1), 1_000);
        assert_eq!(nice_bucket(59_000), 60_000);
        assert_eq!(nice_bucket(2 * 86_400_000), 604_800_000);
        assert_eq!(nice_bucket(604_800_001), 2 * 604_800_000);
    }
}
