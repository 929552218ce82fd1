//! One table, two renderings: a Markdown pipe table for `report.md` and
//! aligned plain-text columns for the terminal, so both show the same cells.

use super::format::{one_line, thousands, truncate};

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table's header and rows; cells are plain text, escaped as each
/// rendering needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

/// The narrowest a plain-text column is squeezed to.
const COLUMN_CHARS_MIN: usize = 3;
/// Spaces between plain-text columns.
const GAP: &str = "  ";

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub(crate) fn row(&mut self, mut cells: Vec<String>) {
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells.iter().map(|c| one_line(c)).collect());
    }

    /// Whether the table has no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// A GitHub-flavoured Markdown table of at most `rows_max` rows.
    pub(crate) fn markdown(&self, rows_max: usize) -> String {
        let header: Vec<String> = self.columns.iter().map(|(h, _)| md_escape(h)).collect();
        let rule: Vec<&str> = self
            .columns
            .iter()
            .map(|(_, align)| match align {
                Align::Left => "---",
                Align::Right => "---:",
            })
            .collect();
        let mut out = format!("| {} |\n|{}|\n", header.join(" | "), rule.join("|"));
        for row in self.rows.iter().take(rows_max) {
            let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out.push_str(&left_out(self.rows.len(), rows_max, ""));
        out
    }

    /// Aligned plain-text columns, each line indented by `indent` and at
    /// most `width_max` characters; cells too wide are cut with `…`.
    pub(crate) fn text(&self, rows_max: usize, indent: &str, width_max: usize) -> String {
        let shown = &self.rows[..self.rows.len().min(rows_max)];
        let room = width_max.saturating_sub(indent.chars().count());
        let widths = self.fit_widths(shown, room);
        let header: Vec<String> = self.columns.iter().map(|(h, _)| h.to_string()).collect();
        let mut out = self.text_line(&header, &widths, indent);
        for row in shown {
            out.push_str(&self.text_line(row, &widths, indent));
        }
        out.push_str(&left_out(self.rows.len(), rows_max, indent));
        out
    }

    fn text_line(&self, cells: &[String], widths: &[usize], indent: &str) -> String {
        let mut parts = Vec::with_capacity(cells.len());
        for ((cell, width), (_, align)) in cells.iter().zip(widths).zip(&self.columns) {
            let cell = truncate(cell, *width);
            parts.push(match align {
                Align::Left => format!("{cell:<width$}"),
                Align::Right => format!("{cell:>width$}"),
            });
        }
        format!("{indent}{}\n", parts.join(GAP).trim_end())
    }

    /// Column widths that fit `room` characters: the widest column gives a
    /// character at a time until the line fits or every column is narrow.
    fn fit_widths(&self, rows: &[Vec<String>], room: usize) -> Vec<usize> {
        let mut widths: Vec<usize> = self
            .columns
            .iter()
            .map(|(h, _)| h.chars().count())
            .collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let gaps = GAP.len() * widths.len().saturating_sub(1);
        while widths.iter().sum::<usize>() + gaps > room {
            let Some(widest) = widths.iter_mut().max() else {
                break;
            };
            if *widest <= COLUMN_CHARS_MIN {
                break;
            }
            *widest -= 1;
        }
        widths
    }
}

/// The line saying how many rows a table left out, if any.
fn left_out(rows: usize, rows_max: usize, indent: &str) -> String {
    if rows <= rows_max {
        return String::new();
    }
    format!(
        "{indent}… and {} more\n",
        thousands(to_u64(rows - rows_max))
    )
}

/// A `usize` count as `u64` (lossless on every platform Rust supports).
pub(crate) fn to_u64(count: usize) -> u64 {
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// `text` with the characters Markdown would read as markup backslash-escaped,
/// so names like `A & <B>` or `a|b` show as written and never as HTML.
pub(crate) fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut table = Table::new(&[("name", Align::Left), ("count", Align::Right)]);
        table.row(vec!["a|b".into(), "1,000".into()]);
        table.row(vec!["long name here".into(), "5".into()]);
        table
    }

    #[test]
    fn markdown_tables_escape_pipes_and_right_align_numbers() {
        let md = sample().markdown(10);
        assert!(md.starts_with("| name | count |\n|---|---:|\n"));
        assert!(md.contains("| a\\|b | 1,000 |"));
    }

    #[test]
    fn text_tables_align_columns_and_fit_the_width() {
        let text = sample().text(10, "  ", 100);
        assert_eq!(text.lines().next(), Some("  name            count"));
        assert!(text.contains("  long name here      5"));
        let narrow = sample().text(10, "", 12);
        assert!(narrow.lines().all(|l| l.chars().count() <= 12), "{narrow}");
    }

    #[test]
    fn rows_over_the_limit_are_counted_not_shown() {
        let text = sample().text(1, "", 100);
        assert!(!text.contains("long name"));
        assert!(text.ends_with("… and 1 more\n"));
    }
}
