//! The report never panics, never writes `NaN` or `inf`, never breaks its
//! SVG and never prints a line too wide, whatever finite figures a run
//! hands it: random lengths, huge integers, tiny and negative floats,
//! names full of markup and control characters.

mod report_support;

use proptest::prelude::*;
use report_support::check_svg;
use ting_sim::report::{
    charts, markdown, terminal, ActorKind, Cartridges, CentreFigures, DataSales, DistrictCount,
    DistrictMap, Earner, Flow, PricePoint, RelayFigures, RunFigures, TERMINAL_COLUMNS_MAX,
};

/// Names from any alphabet but without `n`/`N` (so a random name cannot
/// spell `NaN` or `inf`), with markup and control characters in it.
const NAME: &str =
    "[a-mo-zA-MO-Z0-9 &<>\"'|*_#~\\\\\\[\\]\\-\\x00-\\x1f\u{e9}\u{4e2d}\u{1f4a7}]{0,24}";

fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64 as float;
    prop_oneof![
        0.0..2_000.0f64,
        float::POSITIVE | float::NEGATIVE | float::NORMAL | float::SUBNORMAL | float::ZERO,
    ]
}

fn kind() -> impl Strategy<Value = ActorKind> {
    prop::sample::select(ActorKind::ALL.to_vec())
}

fn prices() -> impl Strategy<Value = Vec<PricePoint>> {
    let centre = prop::sample::select(vec!["a".to_string(), "b & c".into(), "<d>".into()]);
    let point = (
        any::<u64>(),
        prop_oneof![centre, NAME.prop_map(String::from)],
        any::<u64>(),
    );
    prop::collection::vec(point, 0..60).prop_map(|points| {
        points
            .into_iter()
            .map(|(at_ms, centre, price_base_units)| PricePoint {
                at_ms,
                centre,
                price_base_units,
            })
            .collect()
    })
}

fn maps() -> impl Strategy<Value = Vec<DistrictMap>> {
    let one = (
        NAME,
        finite(),
        prop::option::of(finite()),
        finite(),
        prop::option::of(finite()),
        any::<u64>(),
    );
    prop::collection::vec(one, 0..30).prop_map(|maps| {
        maps.into_iter()
            .map(|(district, th, mh, td, md, readings)| DistrictMap {
                district,
                truth_hardness_mg_l: th,
                measured_hardness_mg_l: mh,
                truth_demand_litres: td,
                measured_demand_litres: md,
                readings,
            })
            .collect()
    })
}

fn lists() -> impl Strategy<
    Value = (
        Vec<DistrictCount>,
        Vec<Flow>,
        Vec<Earner>,
        Vec<CentreFigures>,
    ),
> {
    let count = (NAME, any::<u32>(), any::<u32>()).prop_map(|(district, installed, refunded)| {
        DistrictCount {
            district,
            installed,
            refunded,
        }
    });
    let flow = (kind(), kind(), any::<u64>()).prop_map(|(from, to, base_units)| Flow {
        from,
        to,
        base_units,
    });
    let earner = (NAME, kind(), any::<u64>()).prop_map(|(name, kind, earned_base_units)| Earner {
        name,
        kind,
        earned_base_units,
    });
    let centre = (NAME, any::<u64>(), any::<u64>(), NAME, any::<u64>()).prop_map(
        |(name, jobs, failures, reputation, earned_base_units)| CentreFigures {
            name,
            jobs,
            failures,
            reputation,
            earned_base_units,
        },
    );
    (
        prop::collection::vec(count, 0..80),
        prop::collection::vec(flow, 0..60),
        prop::collection::vec(earner, 0..20),
        prop::collection::vec(centre, 0..20),
    )
}

/// The run's scalars: who, how long, how fast, and the ledger's totals.
fn run() -> impl Strategy<Value = RunFigures> {
    let sizes = (
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        finite(),
    );
    let times = (any::<u64>(), any::<u64>(), any::<u64>());
    let ledger = (any::<u64>(), any::<bool>(), any::<u64>());
    (sizes, times, ledger).prop_map(
        |(
            (seed, households, devices, speed_asked, speed_reached),
            (simulated_ms, real_ms, start_ms),
            (transactions, money_conserved, supply_base_units),
        )| RunFigures {
            seed,
            households,
            devices,
            speed_asked,
            speed_reached,
            simulated_ms,
            real_ms,
            start_ms,
            transactions,
            money_conserved,
            supply_base_units,
            ..RunFigures::default()
        },
    )
}

/// The counters of cartridges, data sales and relay.
fn counters() -> impl Strategy<Value = (Cartridges, DataSales, RelayFigures)> {
    prop::array::uniform12(any::<u64>()).prop_map(|n| {
        let cartridges = Cartridges {
            ordered: n[0],
            installed: n[1],
            refunded: n[2],
            in_flight: n[3],
            avg_price_base_units: n[4],
        };
        let data = DataSales {
            points_sold: n[5],
            aggregates_sold: n[6],
            paid_base_units: n[7],
            refused_by_consent: n[8],
        };
        let relay = RelayFigures {
            messages_relayed: n[9],
            leases: n[10],
            paid_base_units: n[11],
        };
        (cartridges, data, relay)
    })
}

fn figures() -> impl Strategy<Value = RunFigures> {
    let texts = (
        prop::collection::vec((NAME, any::<u64>()), 0..10),
        prop::collection::vec(NAME, 0..20),
        prop::collection::vec(NAME, 0..5),
    );
    (run(), texts, counters(), prices(), maps(), lists()).prop_map(
        |(run, (tx_by_kind, freezes, notes), (cartridges, data, relay), prices, map, lists)| {
            let (replacements, flows, top_earners, centres) = lists;
            RunFigures {
                tx_by_kind,
                cartridges,
                prices,
                replacements,
                map,
                flows,
                data,
                relay,
                top_earners,
                centres,
                freezes,
                notes,
                ..run
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_finite_figures_render_without_panic_nan_or_broken_svg(f in figures()) {
        let charts = charts(&f);
        for c in &charts {
            prop_assert!(check_svg(&c.svg).is_ok(), "{}: {:?}", c.file, check_svg(&c.svg));
        }
        let md = markdown(&f, &charts);
        prop_assert!(!md.contains("NaN") && !md.contains("inf"));
        let text = terminal(&f);
        prop_assert!(!text.contains("NaN") && !text.contains("inf"));
        for line in text.lines() {
            prop_assert!(line.chars().count() <= TERMINAL_COLUMNS_MAX, "too wide: {}", line);
        }
    }
}
