//! The report of a demo run: the figures a run gathered in, text and
//! pictures out.
//!
//! The demo fills one [`RunFigures`] at the end of a run (or on Ctrl-C) and
//! asks for three renderings of it: [`terminal()`] for the lines printed as
//! the demo exits, [`markdown()`] for `report.md`, and [`charts()`] for the SVG
//! pictures the Markdown links to. All three are pure functions of the
//! figures, so they are tested without a run, a clock or a disk; [`write()`]
//! is the one function here that touches the filesystem.
//!
//! Architecture invariant: rendering never fails and never panics, whatever
//! the figures hold (empty lists, zero spans, huge or nonsensical numbers).
//! A chart with nothing to draw says "no data yet"; a number that cannot be
//! shown (a ratio over zero, a non-finite float) is shown as "—", and no
//! `NaN` or `inf` ever reaches an SVG attribute. Every list drawn or
//! tabulated is capped (see the `*_MAX` limits below), so a long run cannot
//! make a huge file.
//!
//! Money is shown in base units with thousands separators (`1,234,567`);
//! simulated instants as `day D HH:MM` counted from the run's start (day 1
//! is the first 24 hours), see [`mod@format`].

use std::collections::BTreeMap;

mod charts;
pub mod format;
mod markdown;
mod svg;
mod table;
mod tables;
mod terminal;
mod write;

pub use charts::charts;
pub use markdown::markdown;
pub use terminal::terminal;
pub use write::{write, REPORT_FILE};

/// The most points one series of a chart draws; a longer series is thinned
/// evenly (keeping its first and last points).
pub const SERIES_POINTS_MAX: usize = 2_000;
/// The most series (service centres) the price chart draws.
pub const SERIES_MAX: usize = 12;
/// The most districts a bar chart draws.
pub const DISTRICTS_MAX: usize = 60;
/// The most rows a table shows before it says how many it left out.
pub const TABLE_ROWS_MAX: usize = 100;
/// The most rows a table shows in the terminal.
pub const TERMINAL_ROWS_MAX: usize = 12;
/// The widest line [`terminal()`] prints, in characters.
pub const TERMINAL_COLUMNS_MAX: usize = 100;

/// Everything a demo run reports, gathered by the demo as it ends.
///
/// Money is in base units of the ledger; instants are Unix milliseconds of
/// simulated time (UTC).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunFigures {
    /// The seed the world was built from.
    pub seed: u64,
    /// Households in the city.
    pub households: u32,
    /// All agents: households, purifiers, centres, the utility, gateways,
    /// sensors and the issuer.
    pub devices: u32,
    /// The speed-up asked for (`--speed`).
    pub speed_asked: u32,
    /// Simulated time over real time actually achieved.
    pub speed_reached: f64,
    /// Simulated time the run covered.
    pub simulated_ms: u64,
    /// Real (wall-clock) time the run took.
    pub real_ms: u64,
    /// The simulated instant the run started at (Unix ms, UTC).
    pub start_ms: u64,
    /// Transactions the ledger accepted during the run.
    pub transactions: u64,
    /// Transactions by kind (e.g. `("escrow open", 120)`), in the order to show.
    pub tx_by_kind: Vec<(String, u64)>,
    /// Replacement cartridges ordered and what became of them.
    pub cartridges: Cartridges,
    /// Cartridge prices quoted by the service centres over time.
    pub prices: Vec<PricePoint>,
    /// Replacements per district.
    pub replacements: Vec<DistrictCount>,
    /// The utility's district map beside the truth.
    pub map: Vec<DistrictMap>,
    /// Money paid between kinds of actor.
    pub flows: Vec<Flow>,
    /// The utility's data purchases.
    pub data: DataSales,
    /// The gateways' uplink relay.
    pub relay: RelayFigures,
    /// The actors that earned most, in the order to show.
    pub top_earners: Vec<Earner>,
    /// The service centres.
    pub centres: Vec<CentreFigures>,
    /// Devices frozen by their owners, one sentence each.
    pub freezes: Vec<String>,
    /// Whether the ledger's money was conserved (the sum of balances, held
    /// escrows included, equals the supply).
    pub money_conserved: bool,
    /// The ledger's supply at the end of the run.
    pub supply_base_units: u64,
    /// Anything else the run wants said, one sentence each.
    pub notes: Vec<String>,
}

impl RunFigures {
    /// The money paid per (payer kind, payee kind), repeated pairs summed
    /// (in `u128`, so no sum overflows) and zero amounts left out.
    pub(crate) fn flow_pairs(&self) -> BTreeMap<(ActorKind, ActorKind), u128> {
        let mut pairs = BTreeMap::new();
        for flow in self.flows.iter().filter(|flow| flow.base_units > 0) {
            *pairs.entry((flow.from, flow.to)).or_insert(0u128) += u128::from(flow.base_units);
        }
        pairs
    }
}

/// Replacement cartridges over the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cartridges {
    /// Orders placed (escrow opened).
    pub ordered: u64,
    /// Cartridges installed (escrow released to the centre).
    pub installed: u64,
    /// Orders refunded because a centre missed its deadline.
    pub refunded: u64,
    /// Orders still open when the run ended.
    pub in_flight: u64,
    /// The average price paid per cartridge.
    pub avg_price_base_units: u64,
}

/// One centre's cartridge price at one simulated instant.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PricePoint {
    /// When the price was quoted (Unix ms, simulated).
    pub at_ms: u64,
    /// The service centre quoting it.
    pub centre: String,
    /// The price of one cartridge.
    pub price_base_units: u64,
}

/// Replacements in one district.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DistrictCount {
    /// The district's name.
    pub district: String,
    /// Cartridges installed there.
    pub installed: u32,
    /// Orders refunded there.
    pub refunded: u32,
}

/// One district of the utility's map beside the world's truth.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DistrictMap {
    /// The district's name.
    pub district: String,
    /// The true water hardness (mg/L CaCO₃).
    pub truth_hardness_mg_l: f64,
    /// The hardness the utility estimated, if it bought any data there.
    pub measured_hardness_mg_l: Option<f64>,
    /// The true daily demand (litres).
    pub truth_demand_litres: f64,
    /// The demand the utility estimated, if it bought any data there.
    pub measured_demand_litres: Option<f64>,
    /// Readings the utility bought there.
    pub readings: u64,
}

/// Money paid from one kind of actor to another over the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// The payers' kind.
    pub from: ActorKind,
    /// The payees' kind.
    pub to: ActorKind,
    /// The total paid.
    pub base_units: u64,
}

/// The utility's purchases of purifier data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSales {
    /// Single readings sold.
    pub points_sold: u64,
    /// Aggregates (a purifier's summary over a period) sold.
    pub aggregates_sold: u64,
    /// What the utility paid for them.
    pub paid_base_units: u64,
    /// Requests refused because the household had not consented.
    pub refused_by_consent: u64,
}

/// The gateways' uplink relay for battery sensors.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayFigures {
    /// Messages relayed.
    pub messages_relayed: u64,
    /// Relay leases taken.
    pub leases: u64,
    /// What the sensors paid for them.
    pub paid_base_units: u64,
}

/// One of the actors that earned most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Earner {
    /// The actor's name (e.g. `centre-2`).
    pub name: String,
    /// The actor's kind.
    pub kind: ActorKind,
    /// What it earned over the run.
    pub earned_base_units: u64,
}

/// One service centre over the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CentreFigures {
    /// The centre's name.
    pub name: String,
    /// Jobs (cartridge orders) it took.
    pub jobs: u64,
    /// Jobs it failed (deadline missed, refunded).
    pub failures: u64,
    /// Its reputation as the ledger shows it, e.g. `12/1`.
    pub reputation: String,
    /// What it earned.
    pub earned_base_units: u64,
}

/// The kinds of actor in the water city.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorKind {
    /// A household: owns purifiers, pays for cartridges.
    Household,
    /// A water purifier: orders cartridges, sells its readings.
    Purifier,
    /// A service centre: sells and installs cartridges.
    ServiceCentre,
    /// The water utility: buys readings, builds the district map.
    Utility,
    /// A gateway: sells uplink relay.
    Gateway,
    /// A battery sensor: buys uplink relay.
    Sensor,
    /// The issuer: mints the money the run starts with.
    Issuer,
}

impl ActorKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ActorKind; 7] = [
        ActorKind::Household,
        ActorKind::Purifier,
        ActorKind::ServiceCentre,
        ActorKind::Utility,
        ActorKind::Gateway,
        ActorKind::Sensor,
        ActorKind::Issuer,
    ];

    /// The kind's name for people, lower case (e.g. `service centre`).
    pub fn label(self) -> &'static str {
        match self {
            ActorKind::Household => "household",
            ActorKind::Purifier => "purifier",
            ActorKind::ServiceCentre => "service centre",
            ActorKind::Utility => "utility",
            ActorKind::Gateway => "gateway",
            ActorKind::Sensor => "sensor",
            ActorKind::Issuer => "issuer",
        }
    }
}

/// One SVG chart of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The file name the chart is written to and linked as (e.g. `prices.svg`).
    pub file: &'static str,
    /// The chart's title, also the Markdown image's alt text.
    pub title: String,
    /// The SVG 1.1 document.
    pub svg: String,
}
