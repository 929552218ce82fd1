//! The report's SVG charts: cartridge prices over time, replacements per
//! district, the utility's map against the truth, and money flows.
//!
//! Each chart is a function of the figures alone. With nothing to draw it
//! is still a valid SVG that says so ("no data yet"); lists longer than a
//! chart can show are thinned or cut to the limits in [`crate::report`], and
//! the chart says what it left out.

mod axis;
mod bars;
mod flows;
mod frame;
mod prices;

use super::{Chart, RunFigures};
use frame::{header, Frame};
use svg::Svg;

use super::svg;

/// The file names of the charts, in the order [`charts`] returns them.
pub(crate) const PRICES_FILE: &str = "prices.svg";
pub(crate) const REPLACEMENTS_FILE: &str = "replacements.svg";
pub(crate) const MAP_FILE: &str = "map.svg";
pub(crate) const FLOWS_FILE: &str = "flows.svg";

/// Series colours that stay apart on white and for colour-blind readers
/// (Okabe and Ito's palette, without its yellow).
const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000",
];

/// Dash patterns that tell series apart once the palette repeats.
const DASHES: [&str; 3] = ["", "6 3", "2 2"];

/// The report's charts: `prices.svg`, `replacements.svg`, `map.svg`, `flows.svg`.
pub fn charts(f: &RunFigures) -> Vec<Chart> {
    vec![
        prices::chart(f),
        bars::replacements(f),
        bars::map(f),
        flows::chart(f),
    ]
}

/// The colour and dash pattern of the `index`th series.
fn series_style(index: usize) -> (&'static str, &'static str) {
    let colour = PALETTE[index % PALETTE.len()];
    let dash = DASHES[(index / PALETTE.len()) % DASHES.len()];
    (colour, dash)
}

/// At most `max` of `items`, picked evenly and keeping the first and the
/// last, so a long series keeps its shape in a bounded file.
fn thin<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max {
        return items.to_vec();
    }
    if max < 2 {
        return items.iter().take(max).cloned().collect();
    }
    let (last, picks) = (items.len() - 1, max - 1);
    (0..max)
        .filter_map(|i| {
            // i * last / picks <= last, so the index fits; u128 keeps the
            // product from overflowing.
            let at = u128::try_from(i).ok()? * u128::try_from(last).ok()?
                / u128::try_from(picks).ok()?;
            items.get(usize::try_from(at).ok()?).cloned()
        })
        .collect()
}

/// A chart with a title and a message where the drawing would be.
fn empty(file: &'static str, title: &str, message: &str) -> Chart {
    let frame = Frame::new(800.0, 240.0);
    let mut svg = Svg::new(frame.width, frame.height, title);
    header(&mut svg, title, "");
    svg.text(
        (frame.width / 2.0, frame.height / 2.0 + 10.0),
        "text-anchor=\"middle\" font-size=\"16\" fill=\"#666666\"",
        message,
    );
    Chart {
        file,
        title: title.to_string(),
        svg: svg.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends_and_the_limit() {
        let items: Vec<u32> = (0..10_000).collect();
        let thinned = thin(&items, 2_000);
        assert_eq!(thinned.len(), 2_000);
        assert_eq!(thinned.first(), Some(&0));
        assert_eq!(thinned.last(), Some(&9_999));
        assert!(thinned.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(thin(&items[..3], 2_000), vec![0, 1, 2]);
    }

    #[test]
    fn series_styles_differ_once_the_palette_repeats() {
        assert_ne!(series_style(0), series_style(PALETTE.len()));
    }
}
