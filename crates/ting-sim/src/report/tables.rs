//! The report's tables, built once from the figures and rendered by both
//! the Markdown and the terminal report, so the two never disagree.

use super::format::{
    decimal, error_percent, share, share_u128, signed_percent, thousands, thousands_u128, NONE,
};
use super::table::{Align, Table};
use super::RunFigures;

use Align::{Left, Right};

/// Transactions by kind with each kind's share, and the total.
pub(crate) fn transactions(f: &RunFigures) -> Table {
    let mut table = Table::new(&[("kind", Left), ("transactions", Right), ("share", Right)]);
    for (kind, count) in &f.tx_by_kind {
        table.row(vec![
            kind.clone(),
            thousands(*count),
            share(*count, f.transactions),
        ]);
    }
    table.row(vec![
        "all".to_string(),
        thousands(f.transactions),
        share(f.transactions, f.transactions),
    ]);
    table
}

/// Replacements per district with the share of orders refunded.
pub(crate) fn replacements(f: &RunFigures) -> Table {
    let mut table = Table::new(&[
        ("district", Left),
        ("installed", Right),
        ("refunded", Right),
        ("refunded share", Right),
    ]);
    for d in &f.replacements {
        let (installed, refunded) = (u64::from(d.installed), u64::from(d.refunded));
        table.row(vec![
            d.district.clone(),
            thousands(installed),
            thousands(refunded),
            share(refunded, installed + refunded),
        ]);
    }
    table
}

/// The service centres: jobs, failures, reputation and earnings.
pub(crate) fn centres(f: &RunFigures) -> Table {
    let mut table = Table::new(&[
        ("centre", Left),
        ("jobs", Right),
        ("failures", Right),
        ("failed", Right),
        ("reputation", Right),
        ("earned (base units)", Right),
    ]);
    for c in &f.centres {
        table.row(vec![
            c.name.clone(),
            thousands(c.jobs),
            thousands(c.failures),
            share(c.failures, c.jobs),
            c.reputation.clone(),
            thousands(c.earned_base_units),
        ]);
    }
    table
}

/// The utility's map beside the truth per district, with each estimate's error.
pub(crate) fn map(f: &RunFigures) -> Table {
    let mut table = Table::new(&[
        ("district", Left),
        ("hardness mg/L", Right),
        ("estimated", Right),
        ("error", Right),
        ("demand L", Right),
        ("estimated", Right),
        ("error", Right),
        ("readings", Right),
    ]);
    for d in &f.map {
        let (hardness, demand) = (d.measured_hardness_mg_l, d.measured_demand_litres);
        table.row(vec![
            d.district.clone(),
            decimal(d.truth_hardness_mg_l, 1),
            hardness.map_or(NONE.to_string(), |v| decimal(v, 1)),
            error_cell(d.truth_hardness_mg_l, hardness),
            decimal(d.truth_demand_litres, 0),
            demand.map_or(NONE.to_string(), |v| decimal(v, 0)),
            error_cell(d.truth_demand_litres, demand),
            thousands(d.readings),
        ]);
    }
    table
}

fn error_cell(truth: f64, measured: Option<f64>) -> String {
    error_percent(truth, measured).map_or(NONE.to_string(), signed_percent)
}

/// Money flows between kinds of actor, largest first, with each one's share.
pub(crate) fn flows(f: &RunFigures) -> Table {
    let mut table = Table::new(&[
        ("from", Left),
        ("to", Left),
        ("base units", Right),
        ("share", Right),
    ]);
    let pairs = f.flow_pairs();
    let total: u128 = pairs.values().sum();
    let mut rows: Vec<_> = pairs.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((from, to), amount) in rows {
        table.row(vec![
            from.label().to_string(),
            to.label().to_string(),
            thousands_u128(amount),
            share_u128(amount, total),
        ]);
    }
    table
}

/// The actors that earned most, in the order the run gave them.
pub(crate) fn earners(f: &RunFigures) -> Table {
    let mut table = Table::new(&[
        ("#", Right),
        ("name", Left),
        ("kind", Left),
        ("earned (base units)", Right),
    ]);
    for (rank, e) in (1u64..).zip(&f.top_earners) {
        table.row(vec![
            thousands(rank),
            e.name.clone(),
            e.kind.label().to_string(),
            thousands(e.earned_base_units),
        ]);
    }
    table
}

/// The districts the utility measured, of all, and the mean absolute error
/// of its hardness estimates (if any could be worked out).
pub(crate) fn coverage(f: &RunFigures) -> (usize, usize, Option<f64>) {
    let measured = f
        .map
        .iter()
        .filter(|d| d.measured_hardness_mg_l.is_some() || d.measured_demand_litres.is_some())
        .count();
    let errors: Vec<f64> = f
        .map
        .iter()
        .filter_map(|d| error_percent(d.truth_hardness_mg_l, d.measured_hardness_mg_l))
        .map(f64::abs)
        .collect();
    let mean = (!errors.is_empty()).then(|| errors.iter().sum::<f64>() / errors.len() as f64);
    (measured, f.map.len(), mean.filter(|m| m.is_finite()))
}
