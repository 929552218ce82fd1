//! Building the dashboard's HTML: escaping, the page frame, how figures are
//! written, and tables that render both as HTML and as CSV.
//!
//! Everything that comes from the ledger or the request goes through [`esc`]
//! (or [`Cell`], which escapes), so no text a client chose can become markup.

use std::fmt::Write as _;

use serde_json::Value;
use ting_core::Timestamp;

/// Characters of an id shown before it is cut short (the whole id is in the
/// link, the `title` and the CSV).
const SHORT_ID_CHARS: usize = 14;

/// Text made safe to put between tags and inside double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe for a URL's path segment or query value.
pub fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An integer with thousands separators: `1234567` → `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An instant as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn utc(ms: u64) -> String {
    let (y, mo, d) = Timestamp(ms).utc_date();
    let in_day = ms % 86_400_000 / 1000;
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// An id cut short for a table: its start and an ellipsis.
pub fn short(id: &str) -> String {
    match id.char_indices().nth(SHORT_ID_CHARS) {
        Some((at, _)) => format!("{}…", &id[..at]),
        None => id.to_owned(),
    }
}

/// One value in a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A count or amount: separated thousands on the page, plain digits in CSV.
    Number(u64),
    /// Milliseconds since the epoch, shown as a UTC time.
    Time(u64),
    /// An account (`did:key:…`), linked to its page.
    Account(String),
    /// A transaction hash, linked to its page.
    Tx(String),
    /// A block height, linked to its page.
    Block(u64),
    /// A long id shown short, whole in its title and in CSV.
    Id(String),
    /// A link to one of the dashboard's own pages.
    Link {
        href: String,
        text: String,
    },
}

impl Cell {
    /// A cell from a JSON value, read as `kind` says.
    pub fn from_json(value: Option<&Value>, kind: Kind) -> Cell {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Cell::Empty;
        };
        let text = || match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match (kind, value) {
            (Kind::Number, Value::Number(n)) => {
                n.as_u64().map_or_else(|| Cell::Text(text()), Cell::Number)
            }
            (Kind::Time, Value::Number(n)) => {
                n.as_u64().map_or_else(|| Cell::Text(text()), Cell::Time)
            }
            (Kind::Block, Value::Number(n)) => {
                n.as_u64().map_or_else(|| Cell::Text(text()), Cell::Block)
            }
            (Kind::Account, Value::String(s)) => Cell::Account(s.clone()),
            (Kind::Tx, Value::String(s)) => Cell::Tx(s.clone()),
            (Kind::Id, Value::String(s)) => Cell::Id(s.clone()),
            _ => Cell::Text(text()),
        }
    }

    fn html(&self) -> String {
        match self {
            Cell::Empty => String::from("<span class=\"none\">—</span>"),
            Cell::Text(t) => esc(t),
            Cell::Number(n) => format!("<span class=\"num\">{}</span>", thousands(*n)),
            Cell::Time(ms) => format!("<time data-ms=\"{ms}\">{}</time>", utc(*ms)),
            Cell::Account(did) => format!(
                "<a class=\"id\" href=\"/accounts/{}\" title=\"{}\">{}</a>",
                url_part(did),
                esc(did),
                esc(&short(did.strip_prefix("did:key:").unwrap_or(did)))
            ),
            Cell::Tx(hash) => format!(
                "<a class=\"id\" href=\"/tx/{}\" title=\"{}\">{}</a>",
                url_part(hash),
                esc(hash),
                esc(&short(hash))
            ),
            Cell::Block(h) => format!("<a href=\"/blocks/{h}\">{}</a>", thousands(*h)),
            Cell::Id(id) => format!(
                "<span class=\"id\" title=\"{}\">{}</span>",
                esc(id),
                esc(&short(id))
            ),
            Cell::Link { href, text } => format!("<a href=\"{}\">{}</a>", esc(href), esc(text)),
        }
    }

    /// The cell with ids shown whole (a field list has the room).
    fn html_whole(&self) -> String {
        match self {
            Cell::Account(did) => format!(
                "<a class=\"id\" href=\"/accounts/{}\" title=\"{d}\">{d}</a>",
                url_part(did),
                d = esc(did)
            ),
            Cell::Tx(hash) => format!(
                "<a class=\"id\" href=\"/tx/{}\" title=\"{h}\">{h}</a>",
                url_part(hash),
                h = esc(hash)
            ),
            Cell::Id(id) => format!("<span class=\"id\" title=\"{i}\">{i}</span>", i = esc(id)),
            other => other.html(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(t) | Cell::Account(t) | Cell::Tx(t) | Cell::Id(t) => t.clone(),
            Cell::Link { text, .. } => text.clone(),
            Cell::Number(n) | Cell::Block(n) => n.to_string(),
            Cell::Time(ms) => utc(*ms),
        }
    }
}

/// How a JSON value in a column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Number,
    Time,
    Account,
    Tx,
    Block,
    Id,
}

/// A list the page shows, which also downloads as CSV (`?csv=NAME`).
#[derive(Debug, Clone)]
pub struct Table {
    /// Stable name: the table's `data-list` and the CSV's `csv=` value.
    pub name: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(name: &'static str, columns: &[&'static str]) -> Table {
        Table {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A table of JSON records: each column names its header, a JSON
    /// pointer into the record (`/terms/price`) and how to read it.
    pub fn from_json(
        name: &'static str,
        columns: &[(&'static str, &str, Kind)],
        records: &[Value],
    ) -> Table {
        let mut table = Table::new(name, &columns.iter().map(|c| c.0).collect::<Vec<_>>());
        for r in records {
            let row = columns
                .iter()
                .map(|(_, pointer, kind)| Cell::from_json(r.pointer(pointer), *kind))
                .collect();
            table.rows.push(row);
        }
        table
    }

    /// The table in HTML, with a CSV link to `csv_href` (the page's own URL
    /// with `csv=NAME`), or a note when it has no rows.
    pub fn html(&self, csv_href: &str, empty: &str) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<div class=\"list\"><a class=\"csv\" data-csv=\"{n}\" href=\"{h}\" download>CSV</a>",
            n = self.name,
            h = esc(csv_href)
        );
        if self.rows.is_empty() {
            let _ = write!(out, "<p class=\"empty\">{}</p>", esc(empty));
        }
        let _ = write!(
            out,
            "<table data-list=\"{}\" data-rows=\"{}\"><thead><tr>",
            self.name,
            self.rows.len()
        );
        for c in &self.columns {
            let _ = write!(out, "<th>{}</th>", esc(c));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", cell.html());
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
        out
    }

    /// The table as CSV (RFC 4180: CRLF line ends, fields quoted when they
    /// hold a comma, a quote or a line break).
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, fields: Vec<String>| {
            let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&quoted.join(","));
            out.push_str("\r\n");
        };
        line(
            &mut out,
            self.columns.iter().map(|c| (*c).to_owned()).collect(),
        );
        for row in &self.rows {
            line(&mut out, row.iter().map(Cell::csv).collect());
        }
        out
    }
}

/// One CSV field, quoted when it must be. A field that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@` first) is kept as text with a
/// leading apostrophe, unless it is a plain number.
fn csv_field(field: &str) -> String {
    let formula = field.starts_with(['=', '+', '@', '\t', '\r'])
        || (field.starts_with('-') && field.parse::<i128>().is_err());
    let field = if formula {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// A definition list of label → cell, each `<dd>` named by `data-field`.
pub fn fields(id: &str, rows: &[(&str, &str, Cell)]) -> String {
    let mut out = format!("<dl id=\"{}\" class=\"fields\">", esc(id));
    for (label, key, cell) in rows {
        let _ = write!(
            out,
            "<dt>{}</dt><dd data-field=\"{}\">{}</dd>",
            esc(label),
            esc(key),
            cell.html_whole()
        );
    }
    out.push_str("</dl>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_outside_cannot_become_markup() {
        assert_eq!(
            esc("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
        let cell = Cell::Account("\"><img src=x onerror=alert(1)>".into());
        assert!(!cell.html().contains("<img"), "{}", cell.html());
        assert_eq!(url_part("a b/?#\"<"), "a%20b%2F%3F%23%22%3C");
    }

    #[test]
    fn csv_quotes_what_it_must_and_defuses_formulas() {
        let mut t = Table::new("t", &["a", "b"]);
        t.rows.push(vec![
            Cell::Text("x,y".into()),
            Cell::Text("say \"hi\"".into()),
        ]);
        t.rows
            .push(vec![Cell::Text("=SUM(A1)".into()), Cell::Number(1_234)]);
        t.rows.push(vec![Cell::Text("-12".into()), Cell::Time(0)]);
        assert_eq!(
            t.csv(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n'=SUM(A1),1234\r\n-12,1970-01-01 00:00:00\r\n"
        );
    }

    #[test]
    fn figures_are_written_for_people() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(short("0123456789abcdefXYZ"), "0123456789abcd…");
        assert_eq!(short("abc"), "abc");
    }

    #[test]
    fn json_records_become_rows_by_pointer() {
        let records = vec![
            serde_json::json!({ "a": 5, "t": { "p": "did:key:z6Mk" } }),
            serde_json::json!({}),
        ];
        let t = Table::from_json(
            "r",
            &[("A", "/a", Kind::Number), ("P", "/t/p", Kind::Account)],
            &records,
        );
        assert_eq!(
            t.rows[0],
            vec![Cell::Number(5), Cell::Account("did:key:z6Mk".into())]
        );
        assert_eq!(t.rows[1], vec![Cell::Empty, Cell::Empty]);
        assert!(t.html("/x?csv=r", "none").contains("data-list=\"r\""));
    }
}
