//! What the report's tests share: a sample run's figures and the
//! hand-written well-formedness check every SVG goes through.
//!
//! [`check_svg`] asks that tags balance under one `<svg>` root, that every
//! `&` starts an entity, and that no `NaN`, `inf`, script or link appears.
//!
//! Each test file that includes this module uses only part of it, and
//! Cargo also builds it alone as a test target with no tests, so unused
//! items are expected here.
#![allow(dead_code)]

use ting_sim::report::{
    ActorKind, Cartridges, CentreFigures, Chart, DataSales, DistrictCount, DistrictMap, Earner,
    Flow, PricePoint, RelayFigures, RunFigures,
};

pub const DAY_MS: u64 = 86_400_000;
pub const START_MS: u64 = 1_767_225_600_000; // 2026-01-01 00:00 UTC
pub const ODD_DISTRICT: &str = "A & <B>";

/// A small but complete run: three centres, four districts (one unmeasured,
/// one with a name full of markup), flows between every kind that pays.
pub fn sample() -> RunFigures {
    let centres = ["centre-north", "centre-south", "centre-east"];
    let prices = (0..36u64)
        .map(|i| PricePoint {
            at_ms: START_MS + i * 2 * 3_600_000,
            centre: centres[usize::try_from(i % 3).unwrap_or(0)].to_string(),
            price_base_units: 12_000 + (i % 5) * 350,
        })
        .collect();
    RunFigures {
        seed: 42,
        households: 120,
        devices: 517,
        speed_asked: 100,
        speed_reached: 97.25,
        simulated_ms: 3 * DAY_MS + 4 * 3_600_000,
        real_ms: 750_000,
        start_ms: START_MS,
        transactions: 12_345,
        tx_by_kind: vec![
            ("transfer".to_string(), 8_000),
            ("escrow open".to_string(), 2_345),
            ("escrow release".to_string(), 2_000),
        ],
        cartridges: Cartridges {
            ordered: 1_234,
            installed: 1_100,
            refunded: 34,
            in_flight: 100,
            avg_price_base_units: 12_500,
        },
        prices,
        replacements: vec![
            district_count("harbour", 400, 10),
            district_count("old town", 350, 20),
            district_count("hills", 250, 4),
            district_count(ODD_DISTRICT, 100, 0),
        ],
        map: vec![
            district_map("harbour", 180.0, Some(185.4), 120),
            district_map("old town", 320.0, Some(300.8), 80),
            district_map("hills", 60.0, None, 0),
            district_map(ODD_DISTRICT, 240.0, Some(240.0), 12),
        ],
        flows: vec![
            flow(ActorKind::Issuer, ActorKind::Household, 1_000_000_000),
            flow(ActorKind::Household, ActorKind::Purifier, 40_000_000),
            flow(ActorKind::Purifier, ActorKind::ServiceCentre, 13_750_000),
            flow(ActorKind::Utility, ActorKind::Purifier, 987_654),
            flow(ActorKind::Sensor, ActorKind::Gateway, 55_555),
        ],
        data: DataSales {
            points_sold: 9_876,
            aggregates_sold: 321,
            paid_base_units: 987_654,
            refused_by_consent: 77,
        },
        relay: RelayFigures {
            messages_relayed: 43_210,
            leases: 64,
            paid_base_units: 55_555,
        },
        top_earners: vec![
            earner("centre-north", ActorKind::ServiceCentre, 6_250_000),
            earner("gateway-3", ActorKind::Gateway, 20_001),
        ],
        centres: vec![
            centre("centre-north", 500, 12, "488/12", 6_250_000),
            centre("centre-south", 420, 20, "400/20", 5_000_000),
            centre("centre-east", 180, 2, "178/2", 2_500_000),
        ],
        freezes: vec![
            "household-0007 froze purifier-0007-0 at day 1 09:12 (over its daily limit)".into(),
        ],
        money_conserved: true,
        supply_base_units: 1_000_000_000,
        notes: vec!["stopped by Ctrl-C after 3 simulated days".into()],
    }
}

pub fn district_count(district: &str, installed: u32, refunded: u32) -> DistrictCount {
    DistrictCount {
        district: district.to_string(),
        installed,
        refunded,
    }
}

pub fn district_map(
    district: &str,
    truth: f64,
    measured: Option<f64>,
    readings: u64,
) -> DistrictMap {
    DistrictMap {
        district: district.to_string(),
        truth_hardness_mg_l: truth,
        measured_hardness_mg_l: measured,
        truth_demand_litres: truth * 10.0,
        measured_demand_litres: measured.map(|m| m * 10.0),
        readings,
    }
}

pub fn flow(from: ActorKind, to: ActorKind, base_units: u64) -> Flow {
    Flow {
        from,
        to,
        base_units,
    }
}

pub fn earner(name: &str, kind: ActorKind, earned_base_units: u64) -> Earner {
    Earner {
        name: name.to_string(),
        kind,
        earned_base_units,
    }
}

pub fn centre(
    name: &str,
    jobs: u64,
    failures: u64,
    reputation: &str,
    earned: u64,
) -> CentreFigures {
    CentreFigures {
        name: name.to_string(),
        jobs,
        failures,
        reputation: reputation.to_string(),
        earned_base_units: earned,
    }
}

/// Checks that `doc` is a well-formed SVG document of one `<svg>` root,
/// holding no `NaN` and no `inf`.
pub fn check_svg(doc: &str) -> Result<(), String> {
    for bad in ["NaN", "inf", "<script", "href"] {
        if doc.contains(bad) {
            return Err(format!("the document holds {bad:?}"));
        }
    }
    let mut open: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut rest = doc;
    while let Some(start) = rest.find('<') {
        check_entities(&rest[..start])?;
        let end = start + rest[start..].find('>').ok_or("a tag is never closed")?;
        let tag = &rest[start + 1..end];
        if tag.contains('<') {
            return Err(format!("'<' inside a tag: {tag}"));
        }
        check_tag(tag, &mut open, &mut roots)?;
        rest = &rest[end + 1..];
    }
    check_entities(rest)?;
    match (open.as_slice(), roots) {
        ([], 1) => Ok(()),
        (unclosed, roots) => Err(format!("unclosed {unclosed:?}, {roots} roots")),
    }
}

pub fn check_tag<'a>(tag: &'a str, open: &mut Vec<&'a str>, roots: &mut u32) -> Result<(), String> {
    if tag.starts_with('?') {
        return if tag.ends_with('?') {
            Ok(())
        } else {
            Err(format!("bad declaration {tag}"))
        };
    }
    if let Some(name) = tag.strip_prefix('/') {
        return match open.pop() {
            Some(top) if top == name.trim() => Ok(()),
            top => Err(format!("</{name}> closes {top:?}")),
        };
    }
    if !tag.matches('"').count().is_multiple_of(2) {
        return Err(format!("unbalanced quotes in <{tag}>"));
    }
    check_entities(tag)?;
    let name = tag
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or("");
    if name.is_empty() {
        return Err(format!("a tag without a name: <{tag}>"));
    }
    if open.is_empty() {
        *roots += 1;
        if name != "svg" {
            return Err(format!("the root is <{name}>"));
        }
    }
    if !tag.ends_with('/') {
        open.push(name);
    }
    Ok(())
}

/// Every `&` must start one of XML's entities.
pub fn check_entities(text: &str) -> Result<(), String> {
    for (at, _) in text.match_indices('&') {
        let entity = &text[at..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
            .iter()
            .any(|e| entity.starts_with(e))
        {
            return Err(format!("a bare '&' in {text:?}"));
        }
    }
    Ok(())
}

pub fn chart<'a>(charts: &'a [Chart], file: &str) -> &'a Chart {
    charts
        .iter()
        .find(|c| c.file == file)
        .unwrap_or_else(|| panic!("no {file}"))
}

pub fn assert_no_nan(text: &str) {
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
}
