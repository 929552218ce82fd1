//! What every chart shares: the page and its plot area, the title, the
//! value axis with its grid, and the legend.

use super::axis::Scale;
use crate::report::format::{compact, truncate};
use crate::report::svg::{num, Svg};

/// The colour of axis text.
pub(super) const INK: &str = "#333333";
/// About how wide one character of 11 px text is, for layout estimates.
pub(super) const CHAR_PX: f64 = 6.5;
/// The longest legend or axis label, in characters.
pub(super) const LABEL_CHARS_MAX: usize = 20;

/// A page and the plot area inside its margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Frame {
    pub(super) width: f64,
    pub(super) height: f64,
    pub(super) left: f64,
    pub(super) top: f64,
    pub(super) right: f64,
    pub(super) bottom: f64,
}

impl Frame {
    /// A page with room for a title, a subtitle and a legend row above the
    /// plot and value labels to its left.
    pub(super) fn new(width: f64, height: f64) -> Frame {
        Frame {
            width,
            height,
            left: 84.0,
            top: 100.0,
            right: 24.0,
            bottom: 56.0,
        }
    }

    /// The plot's left edge.
    pub(super) fn x0(&self) -> f64 {
        self.left
    }

    /// The plot's right edge.
    pub(super) fn x1(&self) -> f64 {
        self.width - self.right
    }

    /// The plot's bottom edge (SVG's y grows downwards).
    pub(super) fn y0(&self) -> f64 {
        self.height - self.bottom
    }

    /// The plot's top edge.
    pub(super) fn y1(&self) -> f64 {
        self.top
    }
}

/// The chart's title and, if not empty, a subtitle below it.
pub(super) fn header(svg: &mut Svg, title: &str, subtitle: &str) {
    svg.text(
        (16.0, 28.0),
        &format!("font-size=\"18\" font-weight=\"bold\" fill=\"{INK}\""),
        title,
    );
    if !subtitle.is_empty() {
        svg.text((16.0, 48.0), "font-size=\"12\" fill=\"#555555\"", subtitle);
    }
}

/// The value axis on the left: grid lines at `ticks`, their labels, and
/// the axis title written upwards.
pub(super) fn value_axis(svg: &mut Svg, frame: &Frame, scale: &Scale, ticks: &[f64], label: &str) {
    for &tick in ticks {
        let y = scale.map(tick);
        svg.line(
            (frame.x0(), y),
            (frame.x1(), y),
            "stroke=\"#e5e5e5\" stroke-width=\"1\"",
        );
        svg.text(
            (frame.x0() - 6.0, y + 4.0),
            &format!("text-anchor=\"end\" font-size=\"11\" fill=\"{INK}\""),
            &compact(tick),
        );
    }
    svg.line(
        (frame.x0(), frame.y1()),
        (frame.x0(), frame.y0()),
        "stroke=\"#666666\"",
    );
    let middle = (frame.y0() + frame.y1()) / 2.0;
    svg.text(
        (18.0, middle),
        &format!(
            "text-anchor=\"middle\" font-size=\"12\" fill=\"{INK}\" transform=\"rotate(-90 18 {})\"",
            num(middle)
        ),
        label,
    );
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Swatch {
    /// A line of a colour and dash pattern (series of a line chart).
    Line {
        colour: &'static str,
        dash: &'static str,
    },
    /// A square filled with the given attributes (bars).
    Fill(String),
}

/// Legend entries in a row from `at`, each a swatch and its label.
pub(super) fn legend_row(svg: &mut Svg, at: (f64, f64), entries: &[(Swatch, String)]) {
    let mut x = at.0;
    for (swatch, label) in entries {
        let label = truncate(label, LABEL_CHARS_MAX);
        legend_entry(svg, (x, at.1), swatch, &label);
        x += 40.0 + CHAR_PX * chars(&label);
    }
}

/// Legend entries in a column from `at`, one per line.
pub(super) fn legend_column(svg: &mut Svg, at: (f64, f64), entries: &[(Swatch, String)]) {
    let mut y = at.1;
    for (swatch, label) in entries {
        legend_entry(svg, (at.0, y), swatch, &truncate(label, LABEL_CHARS_MAX));
        y += 18.0;
    }
}

fn legend_entry(svg: &mut Svg, at: (f64, f64), swatch: &Swatch, label: &str) {
    let (x, y) = at;
    match swatch {
        Swatch::Line { colour, dash } => svg.line(
            (x, y - 4.0),
            (x + 18.0, y - 4.0),
            &line_style(colour, dash, 2.5),
        ),
        Swatch::Fill(style) => svg.rect(x + 3.0, y - 10.0, 12.0, 12.0, style),
    }
    svg.text(
        (x + 24.0, y),
        &format!("font-size=\"11\" fill=\"{INK}\""),
        label,
    );
}

/// Stroke attributes for a series line.
pub(super) fn line_style(colour: &str, dash: &str, width: f64) -> String {
    let mut style = format!("stroke=\"{colour}\" stroke-width=\"{}\"", num(width));
    if !dash.is_empty() {
        style.push_str(&format!(" stroke-dasharray=\"{dash}\""));
    }
    style
}

/// A character count as a float, for layout estimates.
pub(super) fn chars(text: &str) -> f64 {
    let count = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    f64::from(count)
}
