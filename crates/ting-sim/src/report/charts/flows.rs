//! `flows.svg`: money between kinds of actor as a left-to-right flow
//! diagram, payers on the left, payees on the right, one band per pair.
//!
//! A band is [`BAND_PX_MIN`] thick plus its share of [`SHARE_PX`], so the
//! smallest payment still has room for its amount while thickness above
//! that floor stays proportional to the amount. Payers and payees are
//! stacked largest first, and each node's bands are ordered by the other
//! side's order, so bands leave and arrive without crossing inside a node.

use std::collections::BTreeMap;

use super::frame::{header, INK};
use super::{empty, FLOWS_FILE, PALETTE};
use crate::report::format::thousands_u128;
use crate::report::svg::{num, Svg};
use crate::report::{ActorKind, Chart, RunFigures};

const TITLE: &str = "Money flows between kinds of actor";
/// The thinnest band: room for one line of 11 px text.
const BAND_PX_MIN: f64 = 15.0;
/// The height shared out among bands in proportion to their amounts.
const SHARE_PX: f64 = 300.0;
/// The space between two nodes of a column.
const NODE_GAP_PX: f64 = 14.0;
const NODE_PX: f64 = 14.0;
const TOP_PX: f64 = 90.0;
const WIDTH_PX: f64 = 860.0;
/// The room left of the payers and right of the payees for their names.
const SIDE_PX: f64 = 170.0;

/// One band: who pays whom, how much, and where it sits on each side.
#[derive(Debug, Clone, PartialEq)]
struct Band {
    from: ActorKind,
    to: ActorKind,
    base_units: u128,
    thickness: f64,
    y_from: f64,
    y_to: f64,
}

/// The flow diagram, or a "no data yet" chart before any payment.
pub(super) fn chart(f: &RunFigures) -> Chart {
    let pairs = f.flow_pairs();
    let total: u128 = pairs.values().sum();
    if total == 0 {
        return empty(FLOWS_FILE, TITLE, "no data yet: no payments");
    }
    let payers = ranked(&pairs, |&(from, _)| from);
    let payees = ranked(&pairs, |&(_, to)| to);
    let mut bands = place_bands(&pairs, &payers, &payees, total);
    let left = stack(&payers, &mut bands, |b| b.from, |b, y| b.y_from = y);
    let right = stack(&payees, &mut bands, |b| b.to, |b, y| b.y_to = y);
    let height = TOP_PX + left.1.max(right.1) + 30.0;
    let mut svg = Svg::new(WIDTH_PX, height, TITLE);
    let subtitle = "base units paid over the run; a band is 15 px plus its share of the total";
    header(&mut svg, TITLE, subtitle);
    let columns = (SIDE_PX, WIDTH_PX - SIDE_PX - NODE_PX);
    for band in &bands {
        draw_band(&mut svg, band, columns);
    }
    draw_nodes(&mut svg, &left.0, columns.0, Side::Payers);
    draw_nodes(&mut svg, &right.0, columns.1, Side::Payees);
    Chart {
        file: FLOWS_FILE,
        title: TITLE.to_string(),
        svg: svg.finish(),
    }
}

/// One side's kinds with their totals, largest first.
fn ranked(
    pairs: &BTreeMap<(ActorKind, ActorKind), u128>,
    side: impl Fn(&(ActorKind, ActorKind)) -> ActorKind,
) -> Vec<(ActorKind, u128)> {
    let mut totals: BTreeMap<ActorKind, u128> = BTreeMap::new();
    for (pair, amount) in pairs {
        *totals.entry(side(pair)).or_insert(0) += amount;
    }
    let mut ranked: Vec<(ActorKind, u128)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// The bands in payer order, then payee order, with their thicknesses.
fn place_bands(
    pairs: &BTreeMap<(ActorKind, ActorKind), u128>,
    payers: &[(ActorKind, u128)],
    payees: &[(ActorKind, u128)],
    total: u128,
) -> Vec<Band> {
    let mut bands = Vec::with_capacity(pairs.len());
    for &(from, _) in payers {
        for &(to, _) in payees {
            if let Some(&base_units) = pairs.get(&(from, to)) {
                let share = base_units as f64 / total as f64;
                bands.push(Band {
                    from,
                    to,
                    base_units,
                    thickness: BAND_PX_MIN + share * SHARE_PX,
                    y_from: 0.0,
                    y_to: 0.0,
                });
            }
        }
    }
    bands
}

/// A node of one column: its kind, total, top and height.
type Node = (ActorKind, u128, f64, f64);

/// Stacks one column's nodes from the top, sets where each band meets its
/// node, and returns the nodes with the column's height. [`place_bands`]
/// put the bands in payer order then payee order, so within a node they
/// already come in the other side's order.
fn stack(
    column: &[(ActorKind, u128)],
    bands: &mut [Band],
    kind: impl Fn(&Band) -> ActorKind,
    set: impl Fn(&mut Band, f64),
) -> (Vec<Node>, f64) {
    let mut nodes = Vec::with_capacity(column.len());
    let mut y = TOP_PX;
    for &(node_kind, amount) in column {
        let top = y;
        for band in bands.iter_mut() {
            if kind(band) == node_kind {
                set(band, y);
                y += band.thickness;
            }
        }
        nodes.push((node_kind, amount, top, y - top));
        y += NODE_GAP_PX;
    }
    (nodes, y - TOP_PX - NODE_GAP_PX)
}

fn kind_colour(kind: ActorKind) -> &'static str {
    let index = ActorKind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
    PALETTE[index % PALETTE.len()]
}

/// A band from its payer's node to its payee's node, its amount written at
/// the payer's end.
fn draw_band(svg: &mut Svg, band: &Band, columns: (f64, f64)) {
    let (x0, x1) = (columns.0 + NODE_PX, columns.1);
    let xm = (x0 + x1) / 2.0;
    let (a, b, t) = (band.y_from, band.y_to, band.thickness);
    let d = format!(
        "M {x0} {a} C {xm} {a} {xm} {b} {x1} {b} L {x1} {bt} C {xm} {bt} {xm} {at} {x0} {at} Z",
        x0 = num(x0),
        x1 = num(x1),
        xm = num(xm),
        a = num(a),
        b = num(b),
        at = num(a + t),
        bt = num(b + t),
    );
    let colour = kind_colour(band.from);
    svg.path(
        &d,
        &format!(
            "fill=\"{colour}\" fill-opacity=\"0.3\" stroke=\"{colour}\" stroke-opacity=\"0.5\""
        ),
    );
    let label = format!("{} to {}", thousands_u128(band.base_units), band.to.label());
    svg.text(
        (x0 + 6.0, a + t / 2.0 + 4.0),
        &format!("font-size=\"11\" fill=\"{INK}\""),
        &label,
    );
}

/// Which column a node stands in, and so which side its name goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Payers,
    Payees,
}

fn draw_nodes(svg: &mut Svg, nodes: &[Node], x: f64, side: Side) {
    let (label_x, anchor, heading) = match side {
        Side::Payers => (x - 8.0, "end", "payers"),
        Side::Payees => (x + NODE_PX + 8.0, "start", "payees"),
    };
    let attrs = format!("text-anchor=\"{anchor}\" font-size=\"12\" fill=\"{INK}\"");
    svg.text(
        (label_x, TOP_PX - 12.0),
        &format!("{attrs} font-style=\"italic\""),
        heading,
    );
    for &(kind, amount, top, height) in nodes {
        svg.rect(
            x,
            top,
            NODE_PX,
            height,
            &format!("fill=\"{}\"", kind_colour(kind)),
        );
        let middle = top + height / 2.0;
        svg.text(
            (label_x, middle + 4.0),
            &format!("{attrs} font-weight=\"bold\""),
            kind.label(),
        );
        if height >= 2.0 * BAND_PX_MIN {
            svg.text((label_x, middle + 18.0), &attrs, &thousands_u128(amount));
        }
    }
}
