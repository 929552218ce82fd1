//! Households, their purifiers' owners and the rules the owners set.
//!
//! Every trait of a household (size, thirst, rhythm, its first cartridge's
//! fill, its owner's policy) is drawn from the seed and the household's id
//! alone. Which households misbehave is the one city-wide choice: a fixed
//! share of them, the ones whose draw is lowest, so the count is exact.

use super::noise::{Noise, Stream};
use super::time::{DAY_MS, HOUR_MS, MINUTES_PER_HOUR, MINUTE_MS};

/// The fewest people in a household.
pub const PEOPLE_MIN: u8 = 1;
/// The most people in a household.
pub const PEOPLE_MAX: u8 = 5;
/// The least water a person uses in a day.
pub const PERSON_DAY_MIN_LITRES: f64 = 100.0;
/// The most water a person uses in a day.
pub const PERSON_DAY_MAX_LITRES: f64 = 150.0;
/// The lowest initial fill of a household's first cartridge: some start
/// nearly spent so the demo sees replacements in its first days.
pub const INITIAL_FILL_MIN: f64 = 0.10;
/// The highest initial fill of a household's first cartridge.
pub const INITIAL_FILL_MAX: f64 = 1.0;
/// Cleaning cycles are phased over this many days (a multiple of every
/// cleaning interval) so households do not all clean on the same day.
pub const CLEANING_PHASE_DAYS: u8 = 6;

/// The softest water an owner aims for.
pub const TARGET_HARDNESS_MIN_MG_L: f64 = 40.0;
/// The hardest water an owner accepts.
pub const TARGET_HARDNESS_MAX_MG_L: f64 = 80.0;
/// The smallest budget for one cartridge.
pub const CARTRIDGE_BUDGET_MIN_BASE_UNITS: u64 = 55_000;
/// The largest budget for one cartridge.
pub const CARTRIDGE_BUDGET_MAX_BASE_UNITS: u64 = 140_000;
/// What one escrowed order puts down beside its price (the ledger's
/// `HOLD_DEPOSIT`): it comes back when the hold ends, but the ledger counts
/// it against the day's limit while it is locked, so an owner's limit
/// leaves room for it.
pub const ORDER_DEPOSIT_BASE_UNITS: u64 = ting_core::limits::HOLD_DEPOSIT;
/// The least an owner allows per day beyond two orders (a cartridge's
/// budget and its deposit each: room to order again the same day after a
/// centre missed its deadline, since a refunded order still counts on the
/// day it was made) for data fees.
pub const DAILY_EXTRA_MIN_BASE_UNITS: u64 = 10_000;
/// The most an owner allows per day beyond one cartridge.
pub const DAILY_EXTRA_MAX_BASE_UNITS: u64 = 60_000;

/// Share of owners who consent to raw data.
pub const CONSENT_FULL_SHARE: f64 = 0.60;
/// Share of owners who consent to daily sums only.
pub const CONSENT_DAILY_SUMS_SHARE: f64 = 0.25;
/// Share of owners who prefer the cheapest offer.
pub const PREFERS_CHEAPEST_SHARE: f64 = 0.45;
/// Share of owners who prefer the fastest installation.
pub const PREFERS_FASTEST_SHARE: f64 = 0.25;

/// One household in this many misbehaves (2%).
pub const HOUSEHOLDS_PER_MISBEHAVING: u32 = 50;
/// From this many households on, at least one misbehaves.
pub const MISBEHAVING_FROM_HOUSEHOLDS: u32 = 20;
/// A misbehaving purifier turns bad on day 1 or the day after.
pub const MISBEHAVING_DAY_FIRST: u64 = 1;
/// How many days the misbehaviour's day is drawn from.
pub const MISBEHAVING_DAYS: u64 = 2;
/// The earliest hour of day the misbehaviour starts.
pub const MISBEHAVING_HOUR_MIN: u64 = 8;
/// How many hours the misbehaviour's start hour is drawn from.
pub const MISBEHAVING_HOURS: u64 = 12;

/// What an owner lets their purifier share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consent {
    /// Raw hardness and consumption readings.
    Full,
    /// Daily consumption sums only, no hardness.
    DailySums,
    /// Nothing.
    Refuses,
}

/// What an owner weighs most when choosing a service centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preference {
    /// The lowest price.
    Cheapest,
    /// The earliest installation.
    Fastest,
    /// The lowest failure rate.
    MostReliable,
}

/// The rules an owner sets for their purifier.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnerPolicy {
    /// The hardness the purifier keeps the water at.
    pub target_hardness_mg_l: f64,
    /// The most the owner pays for one cartridge, installed.
    pub cartridge_budget_base_units: u64,
    /// The most the purifier may spend in one day: two orders (each a
    /// cartridge's budget and its deposit) and a margin.
    pub daily_limit_base_units: u64,
    /// What the purifier may share.
    pub consent: Consent,
    /// How the purifier chooses among centres.
    pub prefers: Preference,
}

/// One household and its purifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    /// Index into the scenario's households.
    pub id: u32,
    /// The district it lives in.
    pub district: u16,
    /// A display name, `household-0007`.
    pub name: String,
    /// How many people live there.
    pub people: u8,
    /// How much water each of them uses in a day.
    pub person_day_litres: f64,
    /// Hours the household's daily rhythm runs late (-1, 0 or 1).
    pub rhythm_shift_hours: i8,
    /// The fill (0..=1) of the purifier's first cartridge at the start.
    pub initial_fill: f64,
    /// Which day of the cleaning cycle the household starts on.
    pub cleaning_phase_days: u8,
    /// The owner's rules.
    pub policy: OwnerPolicy,
    /// When the purifier starts trying to overspend, if it ever does (its
    /// owner freezes it then; the agents act on this).
    pub misbehaves_at_ms: Option<u64>,
}

impl Household {
    /// Whether the purifier ever misbehaves.
    #[must_use]
    pub const fn misbehaving(&self) -> bool {
        self.misbehaves_at_ms.is_some()
    }
}

/// The households of a city of `count`, spread round the districts.
pub(super) fn build_households(
    noise: Noise,
    count: u32,
    districts: u16,
    day0_start_ms: u64,
) -> Vec<Household> {
    let bad = misbehaving_flags(noise, count);
    (0..count)
        .zip(bad)
        .map(|(id, bad)| {
            let at_ms = bad.then(|| misbehaves_at_ms(noise, id, day0_start_ms));
            build_household(noise, id, districts, at_ms)
        })
        .collect()
}

fn build_household(noise: Noise, id: u32, districts: u16, at_ms: Option<u64>) -> Household {
    let ids = [u64::from(id)];
    // Three rhythms: an hour early, on time, an hour late.
    let shift = match noise.below(Stream::HouseholdShift, &ids, 3) {
        0 => -1,
        1 => 0,
        _ => 1,
    };
    Household {
        id,
        // The remainder is below `districts`, a u16, so it fits.
        district: u16::try_from(id % u32::from(districts)).unwrap_or(0),
        name: format!("household-{id:04}"),
        people: PEOPLE_MIN + noise.below_u8(Stream::HouseholdPeople, &ids, PEOPLE_MAX),
        person_day_litres: noise.between(
            Stream::HouseholdLitres,
            &ids,
            PERSON_DAY_MIN_LITRES,
            PERSON_DAY_MAX_LITRES,
        ),
        rhythm_shift_hours: shift,
        initial_fill: noise.between(
            Stream::HouseholdFill,
            &ids,
            INITIAL_FILL_MIN,
            INITIAL_FILL_MAX,
        ),
        cleaning_phase_days: noise.below_u8(
            Stream::HouseholdCleaningPhase,
            &ids,
            CLEANING_PHASE_DAYS,
        ),
        policy: build_policy(noise, id),
        misbehaves_at_ms: at_ms,
    }
}

fn build_policy(noise: Noise, id: u32) -> OwnerPolicy {
    let ids = [u64::from(id)];
    let budget_span = CARTRIDGE_BUDGET_MAX_BASE_UNITS - CARTRIDGE_BUDGET_MIN_BASE_UNITS + 1;
    let budget =
        CARTRIDGE_BUDGET_MIN_BASE_UNITS + noise.below(Stream::PolicyBudget, &ids, budget_span);
    let extra_span = DAILY_EXTRA_MAX_BASE_UNITS - DAILY_EXTRA_MIN_BASE_UNITS + 1;
    let extra =
        DAILY_EXTRA_MIN_BASE_UNITS + noise.below(Stream::PolicyDailyExtra, &ids, extra_span);
    OwnerPolicy {
        target_hardness_mg_l: noise.between(
            Stream::PolicyTarget,
            &ids,
            TARGET_HARDNESS_MIN_MG_L,
            TARGET_HARDNESS_MAX_MG_L,
        ),
        cartridge_budget_base_units: budget,
        daily_limit_base_units: 2 * (budget + ORDER_DEPOSIT_BASE_UNITS) + extra,
        consent: consent_for(noise.unit(Stream::PolicyConsent, &ids)),
        prefers: preference_for(noise.unit(Stream::PolicyPreference, &ids)),
    }
}

fn consent_for(draw: f64) -> Consent {
    if draw < CONSENT_FULL_SHARE {
        Consent::Full
    } else if draw < CONSENT_FULL_SHARE + CONSENT_DAILY_SUMS_SHARE {
        Consent::DailySums
    } else {
        Consent::Refuses
    }
}

fn preference_for(draw: f64) -> Preference {
    if draw < PREFERS_CHEAPEST_SHARE {
        Preference::Cheapest
    } else if draw < PREFERS_CHEAPEST_SHARE + PREFERS_FASTEST_SHARE {
        Preference::Fastest
    } else {
        Preference::MostReliable
    }
}

/// How many of `count` households misbehave: 2%, and at least one from
/// [`MISBEHAVING_FROM_HOUSEHOLDS`] on.
#[must_use]
pub fn misbehaving_for(count: u32) -> u32 {
    let share = count / HOUSEHOLDS_PER_MISBEHAVING;
    if count >= MISBEHAVING_FROM_HOUSEHOLDS {
        share.max(1)
    } else {
        share
    }
}

/// One flag per household: the [`misbehaving_for`] households with the
/// lowest draws misbehave.
fn misbehaving_flags(noise: Noise, count: u32) -> Vec<bool> {
    let mut ids: Vec<u32> = (0..count).collect();
    ids.sort_by_key(|&id| noise.bits(Stream::Misbehaviour, &[u64::from(id)]));
    let mut flags = vec![false; ids.len()];
    let bad = misbehaving_for(count);
    for &id in ids.iter().take(usize::try_from(bad).unwrap_or(usize::MAX)) {
        if let Some(flag) = usize::try_from(id).ok().and_then(|i| flags.get_mut(i)) {
            *flag = true;
        }
    }
    flags
}

fn misbehaves_at_ms(noise: Noise, id: u32, day0_start_ms: u64) -> u64 {
    let draw = |what: u64, n: u64| noise.below(Stream::Misbehaviour, &[u64::from(id), what], n);
    let day = MISBEHAVING_DAY_FIRST + draw(1, MISBEHAVING_DAYS);
    let hour = MISBEHAVING_HOUR_MIN + draw(2, MISBEHAVING_HOURS);
    let minute = draw(3, MINUTES_PER_HOUR);
    day0_start_ms + day * DAY_MS + hour * HOUR_MS + minute * MINUTE_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_consent(households: &[Household], consent: Consent) -> usize {
        households
            .iter()
            .filter(|h| h.policy.consent == consent)
            .count()
    }

    #[test]
    fn consent_is_about_sixty_twenty_five_fifteen_percent_over_a_thousand_households() {
        let households = build_households(Noise::new(11), 1_000, 8, 0);
        let full = count_consent(&households, Consent::Full);
        let sums = count_consent(&households, Consent::DailySums);
        let refuses = count_consent(&households, Consent::Refuses);
        assert!((550..=650).contains(&full), "full {full}");
        assert!((200..=300).contains(&sums), "daily sums {sums}");
        assert!((100..=200).contains(&refuses), "refuses {refuses}");
    }

    #[test]
    fn two_percent_misbehave_and_at_least_one_from_twenty_households() {
        assert_eq!(misbehaving_for(19), 0);
        assert_eq!(misbehaving_for(20), 1);
        assert_eq!(misbehaving_for(50), 1);
        assert_eq!(misbehaving_for(1_000), 20);
        for count in [20_u32, 50, 120, 1_000] {
            let households = build_households(Noise::new(5), count, 8, 0);
            let bad = households.iter().filter(|h| h.misbehaving()).count();
            assert_eq!(bad, usize::try_from(misbehaving_for(count)).unwrap());
        }
    }

    #[test]
    fn misbehaviour_starts_on_day_one_or_two() {
        let day0_ms = 20_000 * DAY_MS;
        let households = build_households(Noise::new(9), 500, 8, day0_ms);
        for at_ms in households.iter().filter_map(|h| h.misbehaves_at_ms) {
            assert!((day0_ms + DAY_MS..day0_ms + 3 * DAY_MS).contains(&at_ms));
        }
    }

    #[test]
    fn policies_stay_in_their_ranges_and_the_daily_limit_covers_a_cartridge() {
        for household in build_households(Noise::new(4), 300, 6, 0) {
            let policy = &household.policy;
            assert!((1..=5).contains(&household.people));
            assert!((0.1..=1.0).contains(&household.initial_fill));
            let order = policy.cartridge_budget_base_units + ORDER_DEPOSIT_BASE_UNITS;
            assert!(policy.daily_limit_base_units > 2 * order);
            assert!(policy.cartridge_budget_base_units >= CARTRIDGE_BUDGET_MIN_BASE_UNITS);
            assert!(policy.cartridge_budget_base_units <= CARTRIDGE_BUDGET_MAX_BASE_UNITS);
            assert!(household.district < 6);
        }
    }
}
