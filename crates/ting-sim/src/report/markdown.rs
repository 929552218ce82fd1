//! `report.md`: the run's report as Markdown, with a summary, a table per
//! subject and the charts linked where they belong.
//!
//! Names that come from the run (districts, centres, notes) are escaped, so
//! a district called `A & <B>` shows as written and never as markup.

use super::charts::{FLOWS_FILE, MAP_FILE, PRICES_FILE, REPLACEMENTS_FILE};
use super::format::{decimal, duration, share, sim_time, speed, thousands, utc};
use super::table::{md_escape, to_u64, Align, Table};
use super::{tables, Chart, RunFigures, TABLE_ROWS_MAX};

/// The report as Markdown, linking each of `charts` as an image by its file name.
pub fn markdown(f: &RunFigures, charts: &[Chart]) -> String {
    let linked = [PRICES_FILE, REPLACEMENTS_FILE, MAP_FILE, FLOWS_FILE];
    let image = |file: &str| images(charts, |c| c == file);
    let parts = [
        "# Ting water city: report of a demo run\n\n".to_string(),
        summary(f),
        section("Transactions by kind", &tables::transactions(f), ""),
        cartridges(f),
        image(PRICES_FILE),
        section(
            "Replacements by district",
            &tables::replacements(f),
            "No replacements yet.",
        ),
        image(REPLACEMENTS_FILE),
        section(
            "Service centres",
            &tables::centres(f),
            "No service centres.",
        ),
        map_heading(f),
        table_or(&tables::map(f), "No districts mapped yet."),
        image(MAP_FILE),
        data_and_relay(f),
        section("Money flows", &tables::flows(f), "No payments yet."),
        image(FLOWS_FILE),
        section("Top earners", &tables::earners(f), "No earnings yet."),
        list("Freezes", &f.freezes, "No device was frozen."),
        list("Notes", &f.notes, "None."),
        other_charts(&images(charts, |c| !linked.contains(&c))),
    ];
    parts.concat()
}

fn other_charts(images: &str) -> String {
    if images.is_empty() {
        String::new()
    } else {
        format!("## Other charts\n\n{images}")
    }
}

/// The summary paragraph: who, how long, how fast, how much, and whether
/// money was conserved.
fn summary(f: &RunFigures) -> String {
    let end_ms = f.start_ms.saturating_add(f.simulated_ms);
    let mut out = String::new();
    if !f.money_conserved {
        out.push_str(
            "**Warning: money was not conserved:** the balances do not add up to the supply.\n\n",
        );
    }
    out.push_str(&format!(
        "Seed {seed}: {households} households and {devices} devices in all played \
         {span} of simulated time, from {start} to {end} (day 1 00:00 to {end_day}), \
         in {real} of real time: a speed-up of {reached} against {asked} asked. \
         The ledger took {tx} transactions. {money}\n\n",
        seed = f.seed,
        households = thousands(u64::from(f.households)),
        devices = thousands(u64::from(f.devices)),
        span = duration(f.simulated_ms),
        start = utc(f.start_ms),
        end = utc(end_ms),
        end_day = sim_time(f.start_ms, end_ms),
        real = duration(f.real_ms),
        reached = speed(f.speed_reached),
        asked = speed(f64::from(f.speed_asked)),
        tx = thousands(f.transactions),
        money = money(f),
    ));
    out
}

fn money(f: &RunFigures) -> String {
    let supply = thousands(f.supply_base_units);
    if f.money_conserved {
        format!("Money was conserved: the supply is {supply} base units.")
    } else {
        format!("Money was NOT conserved: the ledger's supply reads {supply} base units.")
    }
}

/// A `## title` section holding `table`, or `empty` in its place if the
/// table has no rows (an empty `empty` keeps the table).
fn section(title: &str, table: &Table, empty: &str) -> String {
    let body = if empty.is_empty() {
        format!("{}\n", table.markdown(TABLE_ROWS_MAX))
    } else {
        table_or(table, empty)
    };
    format!("## {title}\n\n{body}")
}

fn table_or(table: &Table, empty: &str) -> String {
    if table.is_empty() {
        format!("{empty}\n\n")
    } else {
        format!("{}\n", table.markdown(TABLE_ROWS_MAX))
    }
}

fn cartridges(f: &RunFigures) -> String {
    let c = &f.cartridges;
    let mut out = String::from("## Cartridges\n\n");
    out.push_str(&key_values(&[
        ("ordered", thousands(c.ordered)),
        ("installed", thousands(c.installed)),
        ("refunded (deadline missed)", thousands(c.refunded)),
        ("in flight at the end", thousands(c.in_flight)),
        (
            "refunded share of settled orders",
            share(c.refunded, c.installed.saturating_add(c.refunded)),
        ),
        (
            "average price (base units)",
            thousands(c.avg_price_base_units),
        ),
    ]));
    out
}

fn map_heading(f: &RunFigures) -> String {
    let (measured, all, mean_error) = tables::coverage(f);
    let mut out = String::from("## The utility's map against the truth\n\n");
    out.push_str(&format!(
        "Coverage: {} of {} districts measured ({}).",
        thousands(to_u64(measured)),
        thousands(to_u64(all)),
        share(to_u64(measured), to_u64(all))
    ));
    if let Some(error) = mean_error {
        out.push_str(&format!(
            " Mean absolute error of the hardness estimates: {} %.",
            decimal(error, 1)
        ));
    }
    out.push_str(
        " Errors are the estimate's, relative to the truth; — where there is no estimate.\n\n",
    );
    out
}

fn data_and_relay(f: &RunFigures) -> String {
    let (d, r) = (&f.data, &f.relay);
    let mut out = String::from("## Data sales to the utility\n\n");
    out.push_str(&key_values(&[
        ("readings sold", thousands(d.points_sold)),
        ("aggregates sold", thousands(d.aggregates_sold)),
        ("paid (base units)", thousands(d.paid_base_units)),
        (
            "refused for want of consent",
            thousands(d.refused_by_consent),
        ),
    ]));
    out.push_str("## Uplink relay\n\n");
    out.push_str(&key_values(&[
        ("messages relayed", thousands(r.messages_relayed)),
        ("leases", thousands(r.leases)),
        ("paid (base units)", thousands(r.paid_base_units)),
    ]));
    out
}

/// A two-column table of figures.
fn key_values(rows: &[(&str, String)]) -> String {
    let mut table = Table::new(&[("", Align::Left), ("", Align::Right)]);
    for (key, value) in rows {
        table.row(vec![(*key).to_string(), value.clone()]);
    }
    format!("{}\n", table.markdown(TABLE_ROWS_MAX))
}

/// A `## title` bulleted list of at most [`TABLE_ROWS_MAX`] items, or
/// `empty` if there are none.
fn list(title: &str, items: &[String], empty: &str) -> String {
    let mut out = format!("## {title}\n\n");
    if items.is_empty() {
        out.push_str(&format!("{empty}\n\n"));
        return out;
    }
    for item in items.iter().take(TABLE_ROWS_MAX) {
        out.push_str(&format!("- {}\n", md_escape(item)));
    }
    if let Some(more) = items.len().checked_sub(TABLE_ROWS_MAX).filter(|&m| m > 0) {
        out.push_str(&format!("- … and {} more\n", thousands(to_u64(more))));
    }
    out.push('\n');
    out
}

/// Image links to the charts whose file names `pick` chooses.
fn images(charts: &[Chart], pick: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    for chart in charts.iter().filter(|c| pick(c.file)) {
        out.push_str(&format!(
            "![{}]({})\n\n",
            md_escape(&chart.title),
            chart.file
        ));
    }
    out
}
