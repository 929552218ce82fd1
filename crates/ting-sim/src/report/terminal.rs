//! The report printed as the demo ends: plain text (no Markdown), aligned
//! columns, no line wider than [`TERMINAL_COLUMNS_MAX`] characters.

use super::format::{decimal, duration, one_line, share, speed, thousands};
use super::table::{to_u64, Table};
use super::{tables, RunFigures, TERMINAL_COLUMNS_MAX, TERMINAL_ROWS_MAX};

const INDENT: &str = "  ";

/// The report as plain text for the terminal.
pub fn terminal(f: &RunFigures) -> String {
    let mut out = String::new();
    out.push_str(&wrap(
        &format!("Ting water city: report of a demo run (seed {})", f.seed),
        "",
    ));
    out.push_str(&wrap(&run_line(f), INDENT));
    out.push_str(&wrap(&ledger_line(f), INDENT));
    section(&mut out, "Transactions by kind", &tables::transactions(f));
    out.push_str(&wrap(&cartridges_line(f), ""));
    section(&mut out, "Service centres", &tables::centres(f));
    out.push_str(&wrap(&coverage_line(f), ""));
    push_table(&mut out, &tables::map(f));
    out.push_str(&wrap(&data_line(f), ""));
    out.push_str(&wrap(&relay_line(f), ""));
    section(&mut out, "Money flows", &tables::flows(f));
    section(&mut out, "Top earners", &tables::earners(f));
    list(&mut out, "Freezes", &f.freezes);
    list(&mut out, "Notes", &f.notes);
    out
}

fn run_line(f: &RunFigures) -> String {
    format!(
        "{} households, {} devices; simulated {} in {} real: speed {} (asked {})",
        thousands(u64::from(f.households)),
        thousands(u64::from(f.devices)),
        duration(f.simulated_ms),
        duration(f.real_ms),
        speed(f.speed_reached),
        speed(f64::from(f.speed_asked)),
    )
}

fn ledger_line(f: &RunFigures) -> String {
    let conserved = if f.money_conserved {
        "money conserved"
    } else {
        "MONEY NOT CONSERVED"
    };
    format!(
        "{} transactions; {conserved}, supply {} base units",
        thousands(f.transactions),
        thousands(f.supply_base_units)
    )
}

fn cartridges_line(f: &RunFigures) -> String {
    let c = &f.cartridges;
    format!(
        "Cartridges: {} ordered, {} installed, {} refunded ({} of settled), {} in flight; \
         average price {} base units",
        thousands(c.ordered),
        thousands(c.installed),
        thousands(c.refunded),
        share(c.refunded, c.installed.saturating_add(c.refunded)),
        thousands(c.in_flight),
        thousands(c.avg_price_base_units),
    )
}

fn coverage_line(f: &RunFigures) -> String {
    let (measured, all, mean_error) = tables::coverage(f);
    let mut line = format!(
        "Utility map: {} of {} districts measured ({})",
        thousands(to_u64(measured)),
        thousands(to_u64(all)),
        share(to_u64(measured), to_u64(all)),
    );
    if let Some(error) = mean_error {
        line.push_str(&format!("; mean hardness error {} %", decimal(error, 1)));
    }
    line
}

fn data_line(f: &RunFigures) -> String {
    let d = &f.data;
    format!(
        "Data sales: {} readings and {} aggregates for {} base units; {} refused for want of consent",
        thousands(d.points_sold),
        thousands(d.aggregates_sold),
        thousands(d.paid_base_units),
        thousands(d.refused_by_consent),
    )
}

fn relay_line(f: &RunFigures) -> String {
    let r = &f.relay;
    format!(
        "Relay: {} messages on {} leases for {} base units",
        thousands(r.messages_relayed),
        thousands(r.leases),
        thousands(r.paid_base_units),
    )
}

/// A heading and its table, or nothing if the table is empty.
fn section(out: &mut String, title: &str, table: &Table) {
    if table.is_empty() {
        return;
    }
    out.push_str(&format!("{title}\n"));
    push_table(out, table);
}

fn push_table(out: &mut String, table: &Table) {
    if !table.is_empty() {
        out.push_str(&table.text(TERMINAL_ROWS_MAX, INDENT, TERMINAL_COLUMNS_MAX));
    }
}

/// A heading with a count and the items wrapped below it, or nothing.
fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    out.push_str(&format!("{title} ({})\n", thousands(to_u64(items.len()))));
    for item in items.iter().take(TERMINAL_ROWS_MAX) {
        out.push_str(&wrap(item, INDENT));
    }
    if let Some(more) = items
        .len()
        .checked_sub(TERMINAL_ROWS_MAX)
        .filter(|&m| m > 0)
    {
        out.push_str(&format!("{INDENT}… and {} more\n", thousands(to_u64(more))));
    }
}

/// `text` on one or more lines of at most [`TERMINAL_COLUMNS_MAX`]
/// characters, the first starting with `indent` and the rest indented two
/// more; a word too long for a line is cut across lines.
fn wrap(text: &str, indent: &str) -> String {
    let hanging = format!("{indent}{INDENT}");
    let room = TERMINAL_COLUMNS_MAX
        .saturating_sub(hanging.chars().count())
        .max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in one_line(text).split_whitespace() {
        for piece in pieces(word, room) {
            let fits = line.chars().count() + 1 + piece.chars().count() <= room;
            if !line.is_empty() && !fits {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&piece);
        }
    }
    lines.push(line);
    let indents = std::iter::once(indent).chain(std::iter::repeat(hanging.as_str()));
    lines
        .iter()
        .zip(indents)
        .map(|(l, indent)| format!("{}\n", format!("{indent}{l}").trim_end()))
        .collect()
}

/// `word` in pieces of at most `room` characters.
fn pieces(word: &str, room: usize) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    chars.chunks(room).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_lines_within_the_width_and_every_word() {
        let text = "word ".repeat(60) + &"x".repeat(250);
        let wrapped = wrap(&text, INDENT);
        assert!(wrapped
            .lines()
            .all(|l| l.chars().count() <= TERMINAL_COLUMNS_MAX));
        assert!(wrapped.lines().all(|l| l.starts_with(INDENT)));
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("    ")));
        let words: String = wrapped.split_whitespace().collect();
        assert_eq!(words, "word".repeat(60) + &"x".repeat(250));
    }

    #[test]
    fn wrapping_an_empty_text_gives_one_empty_line() {
        assert_eq!(wrap("", INDENT), "\n");
    }
}
