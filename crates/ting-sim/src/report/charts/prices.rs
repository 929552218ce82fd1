//! `prices.svg`: each service centre's cartridge price over simulated time,
//! one line per centre.
//!
//! A centre's price holds until it quotes the next one, so each line is
//! drawn as steps rather than slopes between quotes.

use std::collections::{HashMap, HashSet};

use super::axis::{domain, nice_ticks, time_ticks, Scale};
use super::frame::{header, legend_column, line_style, value_axis, Frame, Swatch, INK};
use super::{empty, series_style, thin, PRICES_FILE};
use crate::report::format::thousands;
use crate::report::svg::Svg;
use crate::report::table::to_u64;
use crate::report::{Chart, RunFigures, SERIES_MAX, SERIES_POINTS_MAX};

const TITLE: &str = "Cartridge price over time";
/// A series with at most this many points shows a marker at each.
const MARKERS_POINTS_MAX: usize = 40;
/// The span drawn when every quote falls at the same instant.
const SPAN_MS_MIN: u64 = 3_600_000;

/// One centre's quotes: (ms since the start, price in base units), in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Series {
    centre: String,
    points: Vec<(u64, u64)>,
}

/// The price chart, or a "no data yet" one before any quote.
pub(super) fn chart(f: &RunFigures) -> Chart {
    let (series, centres_left_out) = gather(f);
    if series.is_empty() {
        return empty(
            PRICES_FILE,
            TITLE,
            "no data yet: no centre has quoted a price",
        );
    }
    let span_ms = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(f.simulated_ms, u64::max)
        .max(SPAN_MS_MIN);
    let price_max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .max()
        .unwrap_or(0);
    let mut frame = Frame::new(880.0, 440.0);
    frame.right = 190.0;
    frame.top = 70.0;
    let mut svg = Svg::new(frame.width, frame.height, TITLE);
    header(&mut svg, TITLE, &subtitle(f, centres_left_out));
    let y_ticks = nice_ticks(0.0, price_max as f64, true);
    let y = Scale::new(domain(&y_ticks), (frame.y0(), frame.y1()));
    value_axis(&mut svg, &frame, &y, &y_ticks, "price (base units)");
    let x = Scale::new((0.0, span_ms as f64), (frame.x0(), frame.x1()));
    time_axis(&mut svg, &frame, &x, span_ms);
    let mut legend = Vec::with_capacity(series.len());
    for (index, one) in series.iter().enumerate() {
        let (colour, dash) = series_style(index);
        draw_series(&mut svg, one, (&x, &y), (colour, dash));
        legend.push((Swatch::Line { colour, dash }, one.centre.clone()));
    }
    legend_column(&mut svg, (frame.x1() + 16.0, frame.y1() + 8.0), &legend);
    Chart {
        file: PRICES_FILE,
        title: TITLE.to_string(),
        svg: svg.finish(),
    }
}

/// The quotes grouped by centre in order of first appearance, at most
/// [`SERIES_MAX`] centres of at most [`SERIES_POINTS_MAX`] points each, and
/// how many centres were left out.
fn gather(f: &RunFigures) -> (Vec<Series>, usize) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    let mut left_out: HashSet<&str> = HashSet::new();
    for point in &f.prices {
        let at_ms = point.at_ms.saturating_sub(f.start_ms);
        let slot = match index.get(point.centre.as_str()) {
            Some(&slot) => slot,
            None if series.len() < SERIES_MAX => {
                index.insert(&point.centre, series.len());
                series.push(Series {
                    centre: point.centre.clone(),
                    points: Vec::new(),
                });
                series.len() - 1
            }
            None => {
                left_out.insert(&point.centre);
                continue;
            }
        };
        series[slot].points.push((at_ms, point.price_base_units));
    }
    for one in &mut series {
        one.points.sort_by_key(|p| p.0);
        one.points = thin(&one.points, SERIES_POINTS_MAX);
    }
    (series, left_out.len())
}

fn subtitle(f: &RunFigures, centres_left_out: usize) -> String {
    let mut text = format!(
        "{} quotes; a price holds until the centre's next quote",
        thousands(to_u64(f.prices.len()))
    );
    if centres_left_out > 0 {
        text.push_str(&format!(
            "; {} more centres not drawn",
            thousands(to_u64(centres_left_out))
        ));
    }
    text
}

/// The time axis along the bottom: baseline, ticks, labels and title.
fn time_axis(svg: &mut Svg, frame: &Frame, x: &Scale, span_ms: u64) {
    svg.line(
        (frame.x0(), frame.y0()),
        (frame.x1(), frame.y0()),
        "stroke=\"#666666\"",
    );
    let text = format!("text-anchor=\"middle\" font-size=\"11\" fill=\"{INK}\"");
    for (at_ms, label) in time_ticks(span_ms) {
        let tick = x.map(at_ms as f64);
        svg.line(
            (tick, frame.y0()),
            (tick, frame.y0() + 5.0),
            "stroke=\"#666666\"",
        );
        svg.text((tick, frame.y0() + 18.0), &text, &label);
    }
    svg.text(
        ((frame.x0() + frame.x1()) / 2.0, frame.height - 12.0),
        &format!("text-anchor=\"middle\" font-size=\"12\" fill=\"{INK}\""),
        "simulated time since the start",
    );
}

/// One centre's steps, with a marker at each quote if there are few.
fn draw_series(svg: &mut Svg, one: &Series, scales: (&Scale, &Scale), style: (&str, &str)) {
    let (x, y) = scales;
    let at = |&(t, p): &(u64, u64)| (x.map(t as f64), y.map(p as f64));
    let mut steps = Vec::with_capacity(one.points.len() * 2);
    for pair in one.points.windows(2) {
        let (from, to) = (at(&pair[0]), at(&pair[1]));
        steps.push(from);
        steps.push((to.0, from.1));
    }
    steps.extend(one.points.last().map(at));
    svg.polyline(&steps, &line_style(style.0, style.1, 2.0));
    if one.points.len() <= MARKERS_POINTS_MAX {
        for point in &one.points {
            svg.circle(at(point), 3.0, &format!("fill=\"{}\"", style.0));
        }
    }
}
