//! The world model's contract, from outside the crate: determinism,
//! independence from the order of questions, additivity over any split of
//! an interval, and the city's shape (coverage, one incident, consent,
//! replacements early in the run, refused sizes).

use proptest::prelude::*;
use ting_sim::world::{
    treat, Cartridge, Consent, Reading, Scenario, DAY_MS, HOUR_MS, HOUSEHOLDS_MAX, MINUTE_MS,
};

/// 2024-06-01T09:30:00Z: a start in the middle of a day.
const START_MS: u64 = 1_717_234_200_000;
/// Cases per property: enough to find a broken split, few enough for CI.
const CASES: u32 = 64;

fn city(seed: u64, households: u32) -> Scenario {
    Scenario::new(seed, households, START_MS).expect("a valid scenario")
}

/// Everything an agent might ask about one household at one instant.
fn answers(world: &Scenario, household: u32, t_ms: u64) -> (f64, f64, Option<u8>, f64) {
    let district = world.household(household).expect("known").district;
    let hardness = world.hardness_mg_l(district, t_ms).expect("known");
    let demand = world
        .demand_litres(household, t_ms, t_ms + 3 * HOUR_MS)
        .expect("ok");
    let cleaning = world
        .cleaning_plan(household, world.day_of(t_ms))
        .expect("ok");
    let mut cartridge = world.initial_cartridge(household).expect("known");
    let reading = treat(world, household, &mut cartridge, t_ms, t_ms + DAY_MS).expect("ok");
    (hardness, demand, cleaning, reading.removed_hardness_litres)
}

fn questions() -> Vec<(u32, u64)> {
    (0..50_u32)
        .flat_map(|h| {
            (0..4_u64).map(move |k| (h, START_MS + k * 7 * HOUR_MS + u64::from(h) * MINUTE_MS))
        })
        .collect()
}

#[test]
fn the_same_seed_builds_the_same_city_and_gives_the_same_values() {
    let (a, b) = (city(42, 50), city(42, 50));
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    assert_eq!(a.summary(), b.summary());
    for (household, t_ms) in questions() {
        assert_eq!(answers(&a, household, t_ms), answers(&b, household, t_ms));
    }
}

#[test]
fn different_seeds_build_different_cities() {
    let (a, b) = (city(42, 50), city(43, 50));
    assert_ne!(a, b);
    let hardness = |w: &Scenario| w.hardness_mg_l(0, START_MS).expect("known");
    assert_ne!(hardness(&a), hardness(&b));
}

#[test]
fn answers_do_not_depend_on_the_order_or_number_of_questions() {
    let world = city(7, 50);
    let forward: Vec<_> = questions()
        .into_iter()
        .map(|(h, t)| answers(&world, h, t))
        .collect();
    let fresh = city(7, 50);
    let mut backward: Vec<_> = questions()
        .into_iter()
        .rev()
        .map(|(h, t)| {
            // Extra questions in between must change nothing.
            let _ = fresh.price(0, h);
            let _ = fresh.fails(1, h, 3);
            answers(&fresh, h, t)
        })
        .collect();
    backward.reverse();
    assert_eq!(forward, backward);
}

#[test]
fn every_district_is_covered_by_at_least_two_centres() {
    for households in [1_u32, 20, 50, 70, 75, 100, 160, 1_000, HOUSEHOLDS_MAX] {
        let world = city(3, households);
        for district in world.districts() {
            let covering = world
                .centres()
                .iter()
                .filter(|c| c.covers.contains(&district.id))
                .count();
            assert!(
                covering >= 2,
                "{households} households: district {} has {covering}",
                district.id
            );
        }
        for centre in world.centres() {
            assert!((2..=4).contains(&centre.covers.len()), "{centre:?}");
        }
    }
}

#[test]
fn exactly_one_district_has_an_incident() {
    for seed in 0..20 {
        let world = city(seed, 50);
        let incident = world.incident();
        let mid_ms = incident.start_ms + incident.duration_ms / 2;
        let hit: Vec<u16> = world
            .districts()
            .iter()
            .filter(|d| world.incident().covers(d.id, mid_ms))
            .map(|d| d.id)
            .collect();
        assert_eq!(hit, vec![incident.district]);
        assert!((1..=2).contains(&world.day_of(incident.start_ms)));
    }
}

#[test]
fn consent_is_roughly_sixty_twenty_five_fifteen_percent() {
    let world = city(99, 1_000);
    let share = |consent: Consent| {
        world
            .households()
            .iter()
            .filter(|h| h.policy.consent == consent)
            .count()
    };
    assert!((540..=660).contains(&share(Consent::Full)));
    assert!((190..=310).contains(&share(Consent::DailySums)));
    assert!((100..=200).contains(&share(Consent::Refuses)));
}

#[test]
fn price_rises_with_open_jobs_and_never_overflows() {
    let world = city(5, 50);
    for centre in world.centres() {
        let idle = world.price(centre.id, 0).expect("known");
        assert_eq!(idle, centre.base_price_base_units);
        assert!(
            world
                .price(centre.id, 4 * centre.technicians)
                .expect("known")
                > idle
        );
        assert!(world.price(centre.id, u32::MAX).expect("known") >= idle);
    }
}

#[test]
fn hardness_is_never_negative() {
    for seed in 0..5 {
        let world = city(seed, 80);
        for district in world.districts() {
            for hour in 0..(10 * 24) {
                let mg_l = world
                    .hardness_mg_l(district.id, START_MS + hour * HOUR_MS)
                    .expect("known");
                assert!(mg_l >= 0.0);
            }
        }
    }
}

#[test]
fn several_purifiers_run_low_within_the_first_three_days_at_fifty_households() {
    for seed in 1..=5 {
        let world = city(seed, 50);
        let low = world
            .households()
            .iter()
            .filter(|household| {
                let mut cartridge = world.initial_cartridge(household.id).expect("known");
                treat(
                    &world,
                    household.id,
                    &mut cartridge,
                    START_MS,
                    START_MS + 3 * DAY_MS,
                )
                .expect("ok");
                cartridge.is_low()
            })
            .count();
        assert!(low >= 3, "seed {seed}: only {low} purifiers ran low");
    }
}

#[test]
fn the_constructor_refuses_no_households_and_too_many() {
    let none = Scenario::new(1, 0, START_MS).expect_err("zero households");
    assert_eq!(none.code(), "households_zero");
    let many = Scenario::new(1, HOUSEHOLDS_MAX + 1, START_MS).expect_err("too many");
    assert_eq!(many.code(), "households_over_max");
    assert!(Scenario::new(1, HOUSEHOLDS_MAX, START_MS).is_ok());
    let late = Scenario::new(1, 10, u64::MAX).expect_err("too late");
    assert_eq!(late.code(), "start_too_late");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Sums readings the way a meter would: litres, hardness-litres in and out.
fn totals(readings: &[Reading]) -> (f64, f64, f64, f64) {
    readings
        .iter()
        .fold((0.0, 0.0, 0.0, 0.0), |(l, i, o, r), reading| {
            (
                l + reading.litres,
                i + reading.litres * reading.hardness_in_mg_l,
                o + reading.litres * reading.hardness_out_mg_l,
                r + reading.removed_hardness_litres,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn demand_is_additive_over_any_split(
        seed in any::<u64>(),
        household in 0..50_u32,
        offset_ms in 0..(3 * DAY_MS),
        first_ms in 0..(2 * DAY_MS),
        second_ms in 0..(2 * DAY_MS),
    ) {
        let world = city(seed, 50);
        let a = START_MS + offset_ms;
        let (b, c) = (a + first_ms, a + first_ms + second_ms);
        let parts = world.demand_litres(household, a, b).unwrap() + world.demand_litres(household, b, c).unwrap();
        let whole = world.demand_litres(household, a, c).unwrap();
        prop_assert!(close(parts, whole), "{parts} != {whole}");
    }

    #[test]
    fn treating_is_additive_over_any_split(
        seed in any::<u64>(),
        household in 0..50_u32,
        fill in 0.0..=1.0_f64,
        cuts in proptest::collection::vec(0..(4 * DAY_MS), 0..8),
    ) {
        let world = city(seed, 50);
        let end_ms = START_MS + 4 * DAY_MS;
        let mut bounds: Vec<u64> = cuts.iter().map(|cut| START_MS + cut).collect();
        bounds.push(START_MS);
        bounds.push(end_ms);
        bounds.sort_unstable();
        let mut split_cartridge = Cartridge::with_fraction(fill);
        let readings: Vec<Reading> = bounds
            .windows(2)
            .map(|w| treat(&world, household, &mut split_cartridge, w[0], w[1]).unwrap())
            .collect();
        let mut whole_cartridge = Cartridge::with_fraction(fill);
        let whole = treat(&world, household, &mut whole_cartridge, START_MS, end_ms).unwrap();
        let (litres, hardness_in, hardness_out, removed) = totals(&readings);
        let (w_litres, w_in, w_out, w_removed) = totals(&[whole]);
        prop_assert!(close(litres, w_litres));
        prop_assert!(close(hardness_in, w_in));
        prop_assert!(close(hardness_out, w_out));
        prop_assert!(close(removed, w_removed));
        let left = split_cartridge.remaining_hardness_litres() - whole_cartridge.remaining_hardness_litres();
        // A millionth of a hardness-litre on a capacity of a million.
        prop_assert!(left.abs() < 1e-6, "cartridges differ by {left}");
    }
}
