//! The report of a demo run, tested as the demo will use it: a figures
//! struct in, Markdown, terminal text, SVG charts and files out.

mod report_support;

use std::path::PathBuf;

use report_support::{assert_no_nan, chart, check_svg, flow, sample, ODD_DISTRICT, START_MS};
use ting_sim::report::{
    charts, markdown, terminal, write, ActorKind, PricePoint, RunFigures, SERIES_POINTS_MAX,
    TERMINAL_COLUMNS_MAX,
};

#[test]
fn the_markdown_report_has_every_section_with_its_numbers() {
    let f = sample();
    let md = markdown(&f, &charts(&f));
    for heading in [
        "# Ting water city",
        "## Transactions by kind",
        "## Cartridges",
        "## Replacements by district",
        "## Service centres",
        "## The utility's map against the truth",
        "## Data sales to the utility",
        "## Uplink relay",
        "## Money flows",
        "## Top earners",
        "## Freezes",
        "## Notes",
    ] {
        assert!(md.contains(heading), "no {heading:?} in\n{md}");
    }
    for figure in [
        "120 households",
        "517 devices",
        "3 d 4 h",
        "12 min 30 s",
        "×97.2",
        "×100",
        "12,345 transactions",
        "| escrow open | 2,345 | 19.0 % |",
        "| centre-north | 500 | 12 | 2.4 % | 488/12 | 6,250,000 |",
        "| 1,234 |",
        "| hills | 60.0 | — | — |",
        "| harbour | 180.0 | 185.4 | +3.0 % |",
        "Coverage: 3 of 4 districts measured (75.0 %)",
        "| issuer | household | 1,000,000,000 |",
        "| 9,876 |",
        "| 43,210 |",
        "| 1 | centre-north | service centre | 6,250,000 |",
        "- household-0007 froze purifier-0007-0 at day 1 09:12 (over its daily limit)",
        "- stopped by Ctrl-C after 3 simulated days",
        "Money was conserved: the supply is 1,000,000,000 base units.",
        "2026-01-01 00:00 UTC",
    ] {
        assert!(md.contains(figure), "no {figure:?} in\n{md}");
    }
    assert_no_nan(&md);
}

#[test]
fn the_markdown_report_links_each_chart_by_its_file() {
    let f = sample();
    let charts = charts(&f);
    let md = markdown(&f, &charts);
    for file in ["prices.svg", "replacements.svg", "map.svg", "flows.svg"] {
        let c = chart(&charts, file);
        assert!(md.contains(&format!("![{}]({file})", c.title)), "{file}");
    }
}

#[test]
fn names_from_the_run_cannot_become_markdown_or_html() {
    let md = markdown(&sample(), &[]);
    assert!(md.contains("A \\& \\<B\\>"));
    assert!(!md.contains(ODD_DISTRICT));
}

#[test]
fn a_run_that_lost_money_says_so_first() {
    let f = RunFigures {
        money_conserved: false,
        ..sample()
    };
    let md = markdown(&f, &[]);
    assert!(
        md.lines()
            .nth(2)
            .is_some_and(|l| l.contains("not conserved")),
        "{md}"
    );
    assert!(terminal(&f).contains("MONEY NOT CONSERVED"));
}

#[test]
fn the_terminal_report_is_plain_aligned_and_at_most_a_hundred_columns() {
    let mut f = sample();
    f.centres[0].name = "a service centre with a name far too long to fit in any column".into();
    f.notes.push("word ".repeat(80));
    f.supply_base_units = u64::MAX;
    let text = terminal(&f);
    for line in text.lines() {
        assert!(
            line.chars().count() <= TERMINAL_COLUMNS_MAX,
            "too wide: {line}"
        );
        assert!(
            !line.starts_with('#') && !line.starts_with('|'),
            "markdown: {line}"
        );
    }
    for figure in [
        "12,345 transactions",
        "escrow open",
        "centre-south",
        "+3.0 %",
        "43,210",
    ] {
        assert!(text.contains(figure), "no {figure:?} in\n{text}");
    }
    let header = text
        .lines()
        .find(|l| l.contains("jobs"))
        .unwrap_or_default();
    let row = text
        .lines()
        .find(|l| l.contains("centre-south"))
        .unwrap_or_default();
    assert_eq!(
        header.chars().count(),
        row.chars().count(),
        "\n{header}\n{row}"
    );
}

#[test]
fn every_chart_is_well_formed_svg_without_nan_or_inf() {
    let f = sample();
    let charts = charts(&f);
    assert_eq!(charts.len(), 4);
    for c in &charts {
        check_svg(&c.svg).unwrap_or_else(|e| panic!("{}: {e}\n{}", c.file, c.svg));
        assert!(c
            .svg
            .contains(&format!("<title>{}", c.title.replace('\'', "&apos;"))));
    }
}

#[test]
fn charts_escape_a_district_named_with_markup() {
    let charts = charts(&sample());
    for file in ["replacements.svg", "map.svg"] {
        let svg = &chart(&charts, file).svg;
        assert!(svg.contains("A &amp; &lt;B&gt;"), "{file}");
        assert!(!svg.contains(ODD_DISTRICT), "{file}");
    }
}

#[test]
fn the_map_marks_a_district_without_measurements_as_no_data() {
    let svg = chart(&charts(&sample()), "map.svg").svg.clone();
    assert!(svg.contains("url(#hatch)"));
    assert!(svg.contains(">no data</text>"));
    assert!(svg.contains("3 of 4 districts measured"));
}

#[test]
fn empty_figures_render_everything_with_no_data_messages() {
    let f = RunFigures::default();
    let charts = charts(&f);
    for c in &charts {
        check_svg(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.file));
        assert!(c.svg.contains("no data yet"), "{}", c.file);
    }
    let md = markdown(&f, &charts);
    assert!(md.contains("No districts mapped yet."));
    assert!(md.contains("Coverage: 0 of 0 districts measured (—)"));
    assert_no_nan(&md);
    assert_no_nan(&terminal(&f));
}

#[test]
fn a_long_price_series_is_thinned_to_the_limit() {
    let mut f = sample();
    f.prices = (0..10_000u64)
        .map(|i| PricePoint {
            at_ms: START_MS + i * 60_000,
            centre: "centre-north".into(),
            price_base_units: 10_000 + i,
        })
        .collect();
    let svg = chart(&charts(&f), "prices.svg").svg.clone();
    check_svg(&svg).unwrap_or_else(|e| panic!("{e}"));
    let points = svg
        .lines()
        .find(|l| l.starts_with("<polyline"))
        .map_or(0, |l| l.matches(',').count());
    // Steps draw two corners per quote but the last.
    assert_eq!(points, 2 * SERIES_POINTS_MAX - 1);
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
}

#[test]
fn non_finite_and_huge_figures_never_reach_the_output() {
    let mut f = sample();
    f.speed_reached = f64::NAN;
    f.map[0].truth_hardness_mg_l = f64::INFINITY;
    f.map[1].measured_hardness_mg_l = Some(f64::NAN);
    f.map[2].truth_demand_litres = f64::MAX;
    f.map[3].truth_hardness_mg_l = 0.0;
    f.flows
        .push(flow(ActorKind::Issuer, ActorKind::Household, u64::MAX));
    f.prices[0].price_base_units = u64::MAX;
    for c in charts(&f) {
        check_svg(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.file));
    }
    assert_no_nan(&markdown(&f, &[]));
    assert_no_nan(&terminal(&f));
}

#[test]
fn write_puts_the_report_and_the_charts_in_a_new_directory() {
    let dir = unique_temp_dir("write");
    let f = sample();
    let paths = write(&dir.join("nested"), &f).expect("write the report");
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "report.md",
            "prices.svg",
            "replacements.svg",
            "map.svg",
            "flows.svg"
        ]
    );
    let charts = charts(&f);
    assert_eq!(
        std::fs::read_to_string(&paths[0]).ok(),
        Some(markdown(&f, &charts))
    );
    for (path, c) in paths[1..].iter().zip(&charts) {
        assert_eq!(std::fs::read_to_string(path).ok().as_ref(), Some(&c.svg));
    }
    let leftovers = std::fs::read_dir(dir.join("nested")).map_or(0, |d| d.count());
    assert_eq!(leftovers, 5, "temporary files left behind");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn write_reports_a_directory_it_cannot_create() {
    let dir = unique_temp_dir("blocked");
    std::fs::write(&dir, b"a file, not a directory").expect("make the obstacle");
    assert!(write(&dir.join("report"), &sample()).is_err());
    std::fs::remove_file(&dir).expect("clean up");
}

fn unique_temp_dir(what: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("ting-report-{what}-{}-{nanos}", std::process::id()))
}

#[test]
fn the_svg_check_itself_rejects_broken_documents() {
    let good = "<?xml version=\"1.0\"?>\n<svg a=\"1\"><g><rect/></g><text>A &amp; B</text></svg>\n";
    assert_eq!(check_svg(good), Ok(()));
    for bad in [
        "<svg><g></svg>",
        "<svg></svg><svg></svg>",
        "<svg><text>A & B</text></svg>",
        "<svg><text>x<</text></svg>",
        "<svg><text a=\"1>x</text></svg>",
        "<svg><rect x=\"NaN\"/></svg>",
        "<svg><rect x=\"inf\"/></svg>",
        "<g></g>",
    ] {
        assert!(check_svg(bad).is_err(), "accepted {bad}");
    }
}
