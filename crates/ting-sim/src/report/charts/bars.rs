//! Grouped bar charts per district: `replacements.svg` (installed against
//! refunded) and `map.svg` (the utility's hardness map beside the truth,
//! with a hatched "no data" column where it measured nothing).

use super::axis::{domain, drawable, nice_ticks, Scale};
use super::frame::{
    chars, header, legend_row, value_axis, Frame, Swatch, CHAR_PX, INK, LABEL_CHARS_MAX,
};
use super::{empty, MAP_FILE, REPLACEMENTS_FILE};
use crate::report::format::{compact, error_percent, signed_percent, thousands, truncate};
use crate::report::svg::{num, Svg, HATCH};
use crate::report::table::to_u64;
use crate::report::tables::coverage;
use crate::report::{Chart, RunFigures, DISTRICTS_MAX};

/// The plot is at least this wide; groups share it.
const PLOT_PX_MIN: f64 = 640.0;
/// The widest a bar is drawn.
const BAR_PX_MAX: f64 = 48.0;
/// Groups narrower than this leave out their notes (they would overlap).
const NOTE_GROUP_PX_MIN: f64 = 52.0;
/// Groups up to this many show each bar's value above it.
const VALUE_LABELS_GROUPS_MAX: usize = 24;

/// One bar: a value, or nothing measured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bar {
    Value(f64),
    Missing,
}

/// A district's bars, one per series, and an optional note above them.
#[derive(Debug, Clone, PartialEq)]
struct Group {
    label: String,
    bars: Vec<Bar>,
    note: Option<String>,
}

/// What to draw: the series (name and fill attributes) and the groups.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    file: &'static str,
    title: &'static str,
    subtitle: String,
    y_label: &'static str,
    series: Vec<(&'static str, String)>,
    groups: Vec<Group>,
    integer: bool,
    value_labels: bool,
}

/// `replacements.svg`: installed against refunded orders per district.
pub(super) fn replacements(f: &RunFigures) -> Chart {
    const TITLE: &str = "Cartridge replacements by district";
    if f.replacements.is_empty() {
        return empty(REPLACEMENTS_FILE, TITLE, "no data yet: no replacements");
    }
    let groups = f
        .replacements
        .iter()
        .take(DISTRICTS_MAX)
        .map(|d| Group {
            label: d.district.clone(),
            bars: vec![
                Bar::Value(f64::from(d.installed)),
                Bar::Value(f64::from(d.refunded)),
            ],
            note: None,
        })
        .collect();
    draw(&Spec {
        file: REPLACEMENTS_FILE,
        title: TITLE,
        subtitle: format!(
            "installed cartridges and refunded orders (deadline missed) per district{}",
            left_out(f.replacements.len())
        ),
        y_label: "cartridges",
        series: vec![
            ("installed", "fill=\"#009E73\"".to_string()),
            ("refunded", "fill=\"#D55E00\"".to_string()),
        ],
        groups,
        integer: true,
        value_labels: true,
    })
}

/// `map.svg`: true hardness beside the utility's estimate per district,
/// with the estimate's error above each pair.
pub(super) fn map(f: &RunFigures) -> Chart {
    const TITLE: &str = "The utility's hardness map against the truth";
    if f.map.is_empty() {
        return empty(MAP_FILE, TITLE, "no data yet: no districts mapped");
    }
    let groups: Vec<Group> = f
        .map
        .iter()
        .take(DISTRICTS_MAX)
        .map(|d| {
            let measured = d.measured_hardness_mg_l;
            Group {
                label: d.district.clone(),
                bars: vec![
                    Bar::Value(d.truth_hardness_mg_l),
                    measured.map_or(Bar::Missing, Bar::Value),
                ],
                note: error_percent(d.truth_hardness_mg_l, measured).map(signed_percent),
            }
        })
        .collect();
    let (measured, all, _) = coverage(f);
    let notes = if group_px(groups.len(), 2) >= NOTE_GROUP_PX_MIN {
        "; the estimate's error above each pair"
    } else {
        ""
    };
    draw(&Spec {
        file: MAP_FILE,
        title: TITLE,
        subtitle: format!(
            "{} of {} districts measured{notes}{}",
            thousands(to_u64(measured)),
            thousands(to_u64(all)),
            left_out(f.map.len())
        ),
        y_label: "hardness (mg/L)",
        series: vec![
            ("truth", "fill=\"#8c8c8c\"".to_string()),
            ("utility's estimate", "fill=\"#0072B2\"".to_string()),
        ],
        groups,
        integer: false,
        value_labels: false,
    })
}

/// "; N more districts not drawn" if there are more than [`DISTRICTS_MAX`].
fn left_out(districts: usize) -> String {
    match districts.checked_sub(DISTRICTS_MAX) {
        Some(more) if more > 0 => format!("; {} more not drawn", thousands(to_u64(more))),
        _ => String::new(),
    }
}

/// How wide each of `groups` groups of `bars` bars is drawn.
fn group_px(groups: usize, bars: usize) -> f64 {
    let (groups, bars) = (groups.max(1) as f64, bars.max(1) as f64);
    (PLOT_PX_MIN / groups).max(bars * 14.0 + 12.0)
}

/// The page for `groups` groups of `bars` bars: (frame, group width, rotate labels).
fn layout(spec: &Spec) -> (Frame, f64, bool) {
    let group_px = group_px(spec.groups.len(), spec.series.len());
    let n = spec.groups.len().max(1) as f64;
    let rotate = spec
        .groups
        .iter()
        .any(|g| chars(&truncate(&g.label, LABEL_CHARS_MAX)) * CHAR_PX > group_px - 6.0);
    let mut frame = Frame::new(0.0, if rotate { 500.0 } else { 440.0 });
    frame.width = frame.left + group_px * n + frame.right;
    frame.bottom = if rotate { 116.0 } else { 56.0 };
    (frame, group_px, rotate)
}

fn draw(spec: &Spec) -> Chart {
    let (frame, group_px, rotate) = layout(spec);
    let mut svg = Svg::new(frame.width, frame.height, spec.title);
    header(&mut svg, spec.title, &spec.subtitle);
    let ticks = value_ticks(spec);
    let y = Scale::new(domain(&ticks), (frame.y0(), frame.y1()));
    value_axis(&mut svg, &frame, &y, &ticks, spec.y_label);
    let zero = y.map(0.0);
    svg.line((frame.x0(), zero), (frame.x1(), zero), "stroke=\"#666666\"");
    for (index, group) in spec.groups.iter().enumerate() {
        let left = frame.x0() + index as f64 * group_px;
        draw_group(&mut svg, spec, group, (left, group_px), (&frame, &y));
        group_label(
            &mut svg,
            &frame,
            left + group_px / 2.0,
            &group.label,
            rotate,
        );
        if let Some(note) = group
            .note
            .as_ref()
            .filter(|_| group_px >= NOTE_GROUP_PX_MIN)
        {
            svg.text(
                (left + group_px / 2.0, frame.y1() - 8.0),
                &format!("text-anchor=\"middle\" font-size=\"10\" fill=\"{INK}\""),
                note,
            );
        }
    }
    legend_row(&mut svg, (frame.x0(), 70.0), &legend(spec));
    Chart {
        file: spec.file,
        title: spec.title.to_string(),
        svg: svg.finish(),
    }
}

/// Ticks covering every value and zero.
fn value_ticks(spec: &Spec) -> Vec<f64> {
    let values = spec
        .groups
        .iter()
        .flat_map(|g| &g.bars)
        .filter_map(|bar| match bar {
            Bar::Value(v) => Some(drawable(*v)),
            Bar::Missing => None,
        });
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    nice_ticks(lo, hi, spec.integer)
}

/// One group's bars, centred in its slot of `slot.1` pixels from `slot.0`.
fn draw_group(svg: &mut Svg, spec: &Spec, group: &Group, slot: (f64, f64), page: (&Frame, &Scale)) {
    let (frame, y) = page;
    let count = group.bars.len().max(1) as f64;
    let bar_px = ((slot.1 - 12.0) / count).min(BAR_PX_MAX);
    let mut x = slot.0 + (slot.1 - bar_px * count) / 2.0;
    let value_labels = spec.value_labels && spec.groups.len() <= VALUE_LABELS_GROUPS_MAX;
    for (bar, (_, fill)) in group.bars.iter().zip(&spec.series) {
        match *bar {
            Bar::Value(value) => {
                let (top, bottom) = (y.map(value), y.map(0.0));
                svg.rect(x, top.min(bottom), bar_px, (bottom - top).abs(), fill);
                if value_labels {
                    let at = (x + bar_px / 2.0, top.min(bottom) - 4.0);
                    let attrs = format!("text-anchor=\"middle\" font-size=\"10\" fill=\"{INK}\"");
                    svg.text(at, &attrs, &compact(drawable(value)));
                }
            }
            Bar::Missing => no_data(svg, frame, x, bar_px),
        }
        x += bar_px;
    }
}

/// A hatched column over the whole plot height, labelled "no data", where a
/// value is missing: plainly not a value, and plainly there.
fn no_data(svg: &mut Svg, frame: &Frame, x: f64, bar_px: f64) {
    let style = format!("fill=\"{HATCH}\" stroke=\"#999999\" stroke-dasharray=\"3 2\"");
    svg.rect(x, frame.y1(), bar_px, frame.y0() - frame.y1(), &style);
    let (cx, cy) = (x + bar_px / 2.0, (frame.y0() + frame.y1()) / 2.0);
    let turn = format!("transform=\"rotate(-90 {} {})\"", num(cx), num(cy));
    svg.rect(
        cx - 26.0,
        cy - 8.0,
        52.0,
        14.0,
        &format!("fill=\"#ffffff\" {turn}"),
    );
    svg.text(
        (cx, cy + 3.0),
        &format!("text-anchor=\"middle\" font-size=\"11\" fill=\"#555555\" {turn}"),
        "no data",
    );
}

/// A group's label below the plot, turned if the labels are too wide.
fn group_label(svg: &mut Svg, frame: &Frame, centre: f64, label: &str, rotate: bool) {
    let label = truncate(label, LABEL_CHARS_MAX);
    let y = frame.y0() + 16.0;
    let attrs = if rotate {
        format!(
            "text-anchor=\"end\" font-size=\"11\" fill=\"{INK}\" transform=\"rotate(-40 {} {})\"",
            num(centre),
            num(y)
        )
    } else {
        format!("text-anchor=\"middle\" font-size=\"11\" fill=\"{INK}\"")
    };
    svg.text((centre, y), &attrs, &label);
}

/// The series, and "no data" if any value is missing.
fn legend(spec: &Spec) -> Vec<(Swatch, String)> {
    let mut entries: Vec<(Swatch, String)> = spec
        .series
        .iter()
        .map(|(name, fill)| (Swatch::Fill(fill.clone()), (*name).to_string()))
        .collect();
    if spec
        .groups
        .iter()
        .flat_map(|g| &g.bars)
        .any(|b| *b == Bar::Missing)
    {
        let hatch = format!("fill=\"{HATCH}\" stroke=\"#999999\"");
        entries.push((Swatch::Fill(hatch), "no data".to_string()));
    }
    entries
}
