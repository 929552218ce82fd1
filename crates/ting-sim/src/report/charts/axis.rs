//! Scales and tick marks: where a value lands on the page, and which round
//! values an axis labels.
//!
//! Every function is total: an empty or zero-width domain is widened, a
//! non-finite input is replaced, and tick loops have a fixed bound.

use crate::report::format::{elapsed, DAY_MS};

/// Values drawn are clamped to this magnitude, so that a range of them
/// (`hi - lo`) and its ticks stay finite.
pub(super) const VALUE_MAX: f64 = 1e15;
/// The most ticks an axis draws.
const TICKS_MAX: u32 = 12;
/// About how many intervals an axis is cut into.
const TICKS_AIM: f64 = 5.0;

/// A finite value within ±[`VALUE_MAX`] (a non-finite one becomes 0).
pub(super) fn drawable(value: f64) -> f64 {
    if value.is_finite() {
        value.clamp(-VALUE_MAX, VALUE_MAX)
    } else {
        0.0
    }
}

/// A linear map from a domain of values onto a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    pub(super) fn new(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { domain, range }
    }

    /// Where `value` lands; the middle of the range if the domain is empty.
    pub(super) fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        let t = (drawable(value) - d0) / (d1 - d0);
        if t.is_finite() {
            r0 + t * (r1 - r0)
        } else {
            (r0 + r1) / 2.0
        }
    }
}

/// Round tick values covering `lo..=hi` (a step of 1, 2 or 5 times a power
/// of ten; at least 1 if `integer`). The first tick is ≤ `lo`, the last ≥ `hi`.
pub(super) fn nice_ticks(lo: f64, hi: f64, integer: bool) -> Vec<f64> {
    let (lo, mut hi) = (drawable(lo), drawable(hi));
    if hi <= lo {
        hi = lo + 1.0;
    }
    let step = nice_step((hi - lo) / TICKS_AIM, integer);
    let first = (lo / step).floor() * step;
    let mut ticks = Vec::new();
    for i in 0..=TICKS_MAX {
        let tick = first + f64::from(i) * step;
        ticks.push(tick);
        if tick >= hi - step * 1e-9 {
            break;
        }
    }
    ticks
}

/// The first and last of `ticks`, the domain they cover.
pub(super) fn domain(ticks: &[f64]) -> (f64, f64) {
    let first = ticks.first().copied().unwrap_or(0.0);
    let last = ticks.last().copied().unwrap_or(first + 1.0);
    (first, last)
}

/// 1, 2 or 5 times a power of ten, near `raw`.
fn nice_step(raw: f64, integer: bool) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let normal = raw / magnitude;
    let step = if normal <= 1.0 {
        magnitude
    } else if normal <= 2.0 {
        2.0 * magnitude
    } else if normal <= 5.0 {
        5.0 * magnitude
    } else {
        10.0 * magnitude
    };
    let step = if step.is_finite() && step > 0.0 {
        step
    } else {
        1.0
    };
    if integer {
        step.max(1.0)
    } else {
        step
    }
}

/// The steps a time axis may use, shortest first.
const TIME_STEPS_MS: [u64; 16] = [
    60_000,
    5 * 60_000,
    15 * 60_000,
    30 * 60_000,
    3_600_000,
    2 * 3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    DAY_MS,
    2 * DAY_MS,
    7 * DAY_MS,
    14 * DAY_MS,
    30 * DAY_MS,
    90 * DAY_MS,
    365 * DAY_MS,
];

/// Ticks for a time axis over `0..=span_ms` of simulated time since the
/// start, each with its label (`day 2 06:00`, or `day 3` on day steps).
pub(super) fn time_ticks(span_ms: u64) -> Vec<(u64, String)> {
    let aim = span_ms / 7;
    let step = TIME_STEPS_MS
        .iter()
        .copied()
        .find(|&step| step >= aim)
        .unwrap_or_else(|| aim.div_ceil(DAY_MS).max(1) * DAY_MS);
    let whole_days = step.is_multiple_of(DAY_MS);
    (0..=u64::from(TICKS_MAX))
        .map_while(|i| i.checked_mul(step).filter(|&at| at <= span_ms))
        .map(|at| {
            let label = if whole_days {
                format!("day {}", at / DAY_MS + 1)
            } else {
                elapsed(at)
            };
            (at, label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_domain() {
        assert_eq!(
            nice_ticks(0.0, 10.0, false),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        let ticks = nice_ticks(0.0, 12_345.0, true);
        assert_eq!(ticks.first(), Some(&0.0));
        assert!(*ticks.last().unwrap_or(&0.0) >= 12_345.0);
    }

    #[test]
    fn integer_axes_never_step_by_a_fraction() {
        assert_eq!(nice_ticks(0.0, 1.0, true), vec![0.0, 1.0]);
        assert_eq!(nice_ticks(0.0, 0.0, true), vec![0.0, 1.0]);
    }

    #[test]
    fn degenerate_domains_give_finite_ticks() {
        for (lo, hi) in [(f64::NAN, 1.0), (5.0, 5.0), (-1e300, 1e300), (0.0, 1e-300)] {
            let ticks = nice_ticks(lo, hi, false);
            assert!(!ticks.is_empty() && ticks.len() <= 13);
            assert!(ticks.iter().all(|t| t.is_finite()), "{lo} {hi}: {ticks:?}");
        }
    }

    #[test]
    fn an_empty_scale_maps_to_the_middle() {
        let scale = Scale::new((3.0, 3.0), (0.0, 100.0));
        assert_eq!(scale.map(3.0), 50.0);
        assert_eq!(Scale::new((0.0, 10.0), (0.0, 100.0)).map(5.0), 50.0);
    }

    #[test]
    fn time_ticks_use_round_steps() {
        let ticks = time_ticks(3 * DAY_MS);
        assert_eq!(ticks[0], (0, "day 1 00:00".to_string()));
        assert_eq!(ticks[1], (12 * 3_600_000, "day 1 12:00".to_string()));
        assert_eq!(time_ticks(6 * DAY_MS)[1].1, "day 2");
        assert_eq!(time_ticks(0).len(), 1);
        assert!(time_ticks(u64::MAX).len() <= 13);
    }
}
