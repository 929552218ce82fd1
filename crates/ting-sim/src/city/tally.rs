//! What the city's agents have done, counted as they go: the demo's live
//! screen and its report read it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::map::CityMap;

/// Counters shared by every agent (relaxed atomics: figures, not money).
#[derive(Debug, Default)]
pub struct Tally {
    pub calls: AtomicU64,
    pub chosen: AtomicU64,
    pub installed: AtomicU64,
    pub refunded: AtomicU64,
    pub no_proposal: AtomicU64,
    /// Sum of the prices of chosen proposals, for the average.
    pub price_sum: AtomicU64,
    pub failures: AtomicU64,
    pub litres: AtomicU64,
    pub freezes: AtomicU64,
    pub refused_over_limit: AtomicU64,
    pub agent_errors: AtomicU64,
    /// The utility's data: single readings and aggregates it opened,
    /// what its channels paid, days' keys the purifiers sold, and readings
    /// the owners' records kept in.
    pub data_points: AtomicU64,
    pub data_aggregates: AtomicU64,
    pub data_paid: AtomicU64,
    pub data_days_sold: AtomicU64,
    pub data_withheld: AtomicU64,
    /// Cleaning cycles the purifiers ran.
    pub cleanings: AtomicU64,
    /// What compromised purifiers sent away before their owners froze them.
    pub drained: AtomicU64,
    map: Mutex<CityMap>,
    /// How late the purifiers' steps came: whether the city kept up.
    pub steps: StepGaps,
    /// The uplink relay: messages the gateways relayed, leases the sensors
    /// bought, and relayed messages the mains monitor refused.
    pub relay_messages: AtomicU64,
    pub relay_leases: AtomicU64,
    pub mains_refused: AtomicU64,
    detail: Mutex<Detail>,
}

/// The parts that are lists.
#[derive(Debug, Default, Clone)]
struct Detail {
    /// (simulated ms, centre name, price) of each chosen proposal.
    prices: Vec<(u64, String, u64)>,
    /// By district name: (installed, refunded).
    districts: BTreeMap<String, (u32, u32)>,
    /// By centre name: (jobs, failures).
    centres: BTreeMap<String, (u64, u64)>,
    freezes: Vec<String>,
    first_error: Option<String>,
    mains: BTreeMap<String, MainsHardness>,
    orders: Vec<OrderEvent>,
}

/// One step of a purifier's cartridge order, for the run's order log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub household: u32,
    /// Simulated ms: when it happened (for `Installed`, when the sensor saw
    /// the cartridge fitted).
    pub at_ms: u64,
    pub step: OrderStep,
}

/// What happened to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStep {
    /// The purifier's agent started: its cartridge wears from here.
    Started,
    /// The cartridge ran low and the purifier called for proposals.
    Called,
    /// It chose a centre, paid into escrow, with the hold's deadline.
    Chose { centre: String, deadline_ms: u64 },
    /// Nobody proposed in time; it calls again later.
    NoProposal,
    /// Its sensor saw the cartridge fitted; the escrow is released.
    Installed,
    /// The centre missed its deadline; the escrow came back.
    Refunded,
}

impl OrderStep {
    /// The step's name in the order log.
    pub const fn name(&self) -> &'static str {
        match self {
            OrderStep::Started => "started",
            OrderStep::Called => "called",
            OrderStep::Chose { .. } => "chose",
            OrderStep::NoProposal => "no_proposal",
            OrderStep::Installed => "installed",
            OrderStep::Refunded => "refunded",
        }
    }
}

/// Order steps kept for the log; later ones are not kept.
pub const ORDER_EVENTS_MAX: usize = 200_000;

/// What the mains monitor received of one district: reports, and the sum
/// of their hardness in tenths of a mg/l.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MainsHardness {
    pub count: u64,
    pub sum_dmg_l: u64,
}

impl MainsHardness {
    /// The mean hardness in mg/l, if any report came.
    pub fn mean_mg_l(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum_dmg_l as f64 / self.count as f64 / 10.0)
    }
}

/// A copy of the tally's lists.
#[derive(Debug, Default, Clone)]
pub struct TallyView {
    pub prices: Vec<(u64, String, u64)>,
    pub districts: BTreeMap<String, (u32, u32)>,
    /// By centre name: (jobs taken, jobs it will miss).
    pub centres: BTreeMap<String, (u64, u64)>,
    pub freezes: Vec<String>,
    pub first_error: Option<String>,
    /// By district name: the mains monitor's reports.
    pub mains: BTreeMap<String, MainsHardness>,
}

/// Prices kept for the report; later ones are counted, not kept.
const PRICES_KEPT_MAX: usize = 20_000;

impl Tally {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn detail(&self) -> MutexGuard<'_, Detail> {
        self.detail.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn chose(&self, at_ms: u64, centre: &str, price: u64) {
        Tally::add(&self.chosen, 1);
        Tally::add(&self.price_sum, price);
        let mut d = self.detail();
        if d.prices.len() < PRICES_KEPT_MAX {
            d.prices.push((at_ms, centre.to_owned(), price));
        }
    }

    pub fn district_event(&self, district: &str, installed: bool) {
        let mut d = self.detail();
        let entry = d.districts.entry(district.to_owned()).or_default();
        if installed {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }

    /// A centre took a job; `failed` if it will miss it.
    pub fn job(&self, centre: &str, failed: bool) {
        let mut d = self.detail();
        let entry = d.centres.entry(centre.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += u64::from(failed);
    }

    pub fn freeze(&self, line: String) {
        Tally::add(&self.freezes, 1);
        self.detail().freezes.push(line);
    }

    pub fn error(&self, what: String) {
        Tally::add(&self.agent_errors, 1);
        self.detail().first_error.get_or_insert(what);
    }

    /// The utility's map, to add to or read.
    pub fn map(&self) -> MutexGuard<'_, CityMap> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The mains monitor took a report of `district`'s hardness.
    pub fn mains_reading(&self, district: &str, hardness_dmg_l: u32) {
        let mut d = self.detail();
        let entry = d.mains.entry(district.to_owned()).or_default();
        entry.count = entry.count.saturating_add(1);
        entry.sum_dmg_l = entry.sum_dmg_l.saturating_add(u64::from(hardness_dmg_l));
    }

    /// Logs a step of `household`'s order.
    pub fn order(&self, household: u32, at_ms: u64, step: OrderStep) {
        let mut d = self.detail();
        if d.orders.len() < ORDER_EVENTS_MAX {
            d.orders.push(OrderEvent {
                household,
                at_ms,
                step,
            });
        }
    }

    /// The order log so far.
    pub fn orders(&self) -> Vec<OrderEvent> {
        self.detail().orders.clone()
    }

    pub fn view(&self) -> TallyView {
        let d = self.detail().clone();
        TallyView {
            prices: d.prices,
            districts: d.districts,
            centres: d.centres,
            freezes: d.freezes,
            first_error: d.first_error,
            mains: d.mains,
        }
    }
}

/// Upper bounds (wall ms) of the step-gap buckets; the last takes the rest.
pub const STEP_GAP_BOUNDS_MS: [u64; 7] = [300, 400, 500, 1_000, 2_000, 5_000, u64::MAX];

/// A histogram of the wall time between an agent's steps: with steps
/// planned every 250 ms, gaps near that mean the agents kept up with the
/// clock; long ones mean the machine could not run them as often as
/// planned, and each step then covered more simulated time.
#[derive(Debug, Default)]
pub struct StepGaps {
    counts: [AtomicU64; STEP_GAP_BOUNDS_MS.len()],
}

impl StepGaps {
    /// Counts one gap of `ms`.
    pub fn add(&self, ms: u64) {
        let i = STEP_GAP_BOUNDS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(STEP_GAP_BOUNDS_MS.len() - 1);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Gaps counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The bucket bound at or under which `permille` of the gaps fell
    /// (`None` before any gap, `u64::MAX` past the last bound).
    pub fn quantile_ms(&self, permille: u64) -> Option<u64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let want = total.saturating_mul(permille.min(1_000)).div_ceil(1_000);
        let mut seen = 0u64;
        for (count, bound) in self.counts.iter().zip(STEP_GAP_BOUNDS_MS) {
            seen = seen.saturating_add(count.load(Ordering::Relaxed));
            if seen >= want {
                return Some(bound);
            }
        }
        Some(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_gaps_answer_the_bound_of_the_quantiles_bucket() {
        let g = StepGaps::default();
        assert_eq!(g.quantile_ms(500), None);
        for _ in 0..98 {
            g.add(251);
        }
        g.add(450);
        g.add(7_000);
        assert_eq!(g.total(), 100);
        assert_eq!(g.quantile_ms(500), Some(300));
        assert_eq!(g.quantile_ms(990), Some(500));
        assert_eq!(g.quantile_ms(1_000), Some(u64::MAX));
    }
}
