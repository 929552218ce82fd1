//! The demo's live screen (or `--json` lines) and the figures of its
//! report, read from the node's committed blocks and the agents' tally.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use ting_node::pipeline::CommittedBlock;
use ting_sim::city::Tally;
use ting_sim::report::{
    self, ActorKind, Cartridges, CentreFigures, DataSales, DistrictCount, DistrictMap, Earner,
    PricePoint, RelayFigures, RunFigures,
};
use ting_sim::world::Scenario;
use tokio::sync::broadcast;

use super::agents::City;

/// What the screen has seen so far.
pub struct Watch {
    blocks: broadcast::Receiver<Arc<CommittedBlock>>,
    by_kind: BTreeMap<&'static str, u64>,
    last_second: BTreeMap<&'static str, u64>,
    tally: Arc<Tally>,
    started: Instant,
    start_ms: u64,
    speed: u32,
    json: bool,
    redraw: bool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("by_kind", &self.by_kind)
            .finish_non_exhaustive()
    }
}

fn network_now(shared: &ting_node::Shared) -> u64 {
    shared.time.now().0
}

impl Watch {
    pub fn new(shared: &ting_node::Shared, tally: &Arc<Tally>, speed: u32, json: bool) -> Watch {
        Watch {
            blocks: shared.events.subscribe(),
            by_kind: BTreeMap::new(),
            last_second: BTreeMap::new(),
            tally: Arc::clone(tally),
            started: Instant::now(),
            start_ms: network_now(shared),
            speed,
            json,
            redraw: !json && std::io::stdout().is_terminal(),
        }
    }

    fn drain(&mut self) {
        let mut second = BTreeMap::new();
        loop {
            match self.blocks.try_recv() {
                Ok(b) => {
                    for tx in &b.block.txs {
                        *second.entry(tx.kind().name()).or_insert(0) += 1;
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        for (k, n) in &second {
            *self.by_kind.entry(k).or_insert(0) += n;
        }
        self.last_second = second;
    }

    /// Simulated ms since the screen started, and the speed-up reached.
    fn progress(&self, now: u64) -> (u64, f64) {
        let sim_ms = now.saturating_sub(self.start_ms);
        let real_ms = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        (sim_ms, sim_ms as f64 / real_ms as f64)
    }

    /// One refresh of the screen, or one JSON line.
    pub fn print(&mut self, shared: &ting_node::Shared, city: &City) {
        self.drain();
        let now = network_now(shared);
        let (earners, relay_paid) = {
            let state = shared.state.read().expect("state lock");
            (earners(&state, city), relay_paid(&state, city))
        };
        if self.json {
            let mut line = self.json_line(now, &earners);
            line["relay_paid"] = json!(relay_paid);
            println!("{line}");
        } else {
            let screen = self.screen(now, &city.scenario, &earners, relay_paid);
            if self.redraw {
                println!("\x1b[2J\x1b[H{screen}  (Ctrl-C stops the city and writes its report)");
            } else {
                print!("{screen}");
            }
        }
    }

    fn json_line(&self, now: u64, earners: &[Earner]) -> serde_json::Value {
        let t = &self.tally;
        let chosen = Tally::get(&t.chosen);
        let top: BTreeMap<&str, u64> = earners
            .iter()
            .map(|e| (e.name.as_str(), e.earned_base_units))
            .collect();
        json!({
            "simulated": report::format::utc(now),
            "speed_asked": self.speed,
            "speed_reached": (self.progress(now).1 * 10.0).round() / 10.0,
            "tx_per_s": self.last_second.values().sum::<u64>(),
            "tx_per_s_by_kind": self.last_second,
            "calls": Tally::get(&t.calls), "ordered": chosen,
            "installed": Tally::get(&t.installed), "refunded": Tally::get(&t.refunded),
            "avg_price": Tally::get(&t.price_sum).checked_div(chosen).unwrap_or(0),
            "centre_failures": Tally::get(&t.failures),
            "litres_treated": Tally::get(&t.litres),
            "cleanings": Tally::get(&t.cleanings),
            "step_gap_p99_ms": t.steps.quantile_ms(990),
            "data_points": Tally::get(&t.data_points),
            "data_daily_sums": Tally::get(&t.data_aggregates),
            "data_paid": Tally::get(&t.data_paid),
            "map_districts": t.map().covered(),
            "freezes": Tally::get(&t.freezes),
            "drained": Tally::get(&t.drained),
            "agent_errors": Tally::get(&t.agent_errors),
            "earned": top,
            "relay_messages": Tally::get(&t.relay_messages),
            "relay_leases": Tally::get(&t.relay_leases),
        })
    }

    /// The uplink relay's line of the screen.
    fn relay_line(&self, paid: u64) -> String {
        let t = &self.tally;
        format!(
            "  uplink relay    {} messages on {} leases, {} paid to gateways\n",
            report::format::thousands(Tally::get(&t.relay_messages)),
            Tally::get(&t.relay_leases),
            report::format::thousands(paid),
        )
    }

    fn screen(&self, now: u64, scenario: &Scenario, earners: &[Earner], relay_paid: u64) -> String {
        let t = &self.tally;
        let chosen = Tally::get(&t.chosen);
        let avg = Tally::get(&t.price_sum).checked_div(chosen).unwrap_or(0);
        let per_s: u64 = self.last_second.values().sum();
        let kinds: Vec<String> = self
            .last_second
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let kinds = if kinds.is_empty() {
            "(none this second)".to_owned()
        } else {
            kinds.join(", ")
        };
        let top: Vec<String> = earners
            .iter()
            .take(3)
            .map(|e| {
                format!(
                    "{} {}",
                    e.name,
                    report::format::thousands(e.earned_base_units)
                )
            })
            .collect();
        format!(
            "── water city ─ day {} {} ─ {:.0}× real time (asked {}×) ──\n\
             \x20 transactions/s  {per_s:<6} {kinds}\n\
             \x20 cartridges      called {}  ordered {chosen}  fitted {}  refunded {}  (avg price {})\n\
             \x20 centres         jobs missed {}   water treated {} L   cleanings {}   agent errors {}\n\
             \x20 utility data    readings {}  daily sums {}  paid {}  map {}/{} districts\n\
             \x20 owners          froze {} purifiers   sent to strangers first {}   refused over limits {}\n\
             {}\
             \x20 top earners     {}\n",
            scenario.day_of(now),
            report::format::utc(now).get(11..16).unwrap_or(""),
            self.progress(now).1,
            self.speed,
            Tally::get(&t.calls),
            Tally::get(&t.installed),
            Tally::get(&t.refunded),
            report::format::thousands(avg),
            Tally::get(&t.failures),
            report::format::thousands(Tally::get(&t.litres)),
            Tally::get(&t.cleanings),
            Tally::get(&t.agent_errors),
            report::format::thousands(Tally::get(&t.data_points)),
            report::format::thousands(Tally::get(&t.data_aggregates)),
            report::format::thousands(Tally::get(&t.data_paid)),
            t.map().covered(),
            scenario.districts().len(),
            Tally::get(&t.freezes),
            report::format::thousands(Tally::get(&t.drained)),
            Tally::get(&t.refused_over_limit),
            self.relay_line(relay_paid),
            top.join(" · "),
        )
    }

    /// The report's figures at the end of the run.
    pub fn figures(
        &mut self,
        shared: &ting_node::Shared,
        city: &City,
        tally: &Tally,
    ) -> RunFigures {
        self.drain();
        let view = tally.view();
        let now = network_now(shared);
        let (sim_ms, reached) = self.progress(now);
        let state = shared.state.read().expect("state lock");
        let chosen = Tally::get(&tally.chosen);
        let earners = earners(&state, city);
        let paid: u64 = earners.iter().map(|e| e.earned_base_units).sum();
        let relay_paid = relay_paid(&state, city);
        let supply = state.supply().base_units();
        RunFigures {
            seed: city.scenario.seed(),
            households: u32::try_from(city.scenario.households().len()).unwrap_or(u32::MAX),
            devices: u32::try_from(
                city.cast.purifiers.len() + city.cast.centres.len() + 1 + relay_devices(city),
            )
            .unwrap_or(u32::MAX),
            speed_asked: self.speed,
            speed_reached: reached,
            simulated_ms: sim_ms,
            real_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            start_ms: self.start_ms,
            transactions: self.by_kind.values().sum(),
            tx_by_kind: self
                .by_kind
                .iter()
                .map(|(k, n)| ((*k).to_owned(), *n))
                .collect(),
            cartridges: Cartridges {
                ordered: chosen,
                installed: Tally::get(&tally.installed),
                refunded: Tally::get(&tally.refunded),
                in_flight: chosen
                    .saturating_sub(Tally::get(&tally.installed) + Tally::get(&tally.refunded)),
                avg_price_base_units: Tally::get(&tally.price_sum)
                    .checked_div(chosen)
                    .unwrap_or(0),
            },
            prices: view
                .prices
                .iter()
                .map(|(at, c, p)| PricePoint {
                    at_ms: *at,
                    centre: c.clone(),
                    price_base_units: *p,
                })
                .collect(),
            replacements: view
                .districts
                .iter()
                .map(|(d, (i, r))| DistrictCount {
                    district: d.clone(),
                    installed: *i,
                    refunded: *r,
                })
                .collect(),
            flows: vec![
                report::Flow {
                    from: ActorKind::Purifier,
                    to: ActorKind::ServiceCentre,
                    base_units: paid,
                },
                report::Flow {
                    from: ActorKind::Utility,
                    to: ActorKind::Purifier,
                    base_units: Tally::get(&tally.data_paid),
                },
                report::Flow {
                    from: ActorKind::Sensor,
                    to: ActorKind::Gateway,
                    base_units: relay_paid,
                },
            ],
            map: district_map(&city.scenario, tally, self.start_ms, now),
            data: DataSales {
                points_sold: Tally::get(&tally.data_points),
                aggregates_sold: Tally::get(&tally.data_aggregates),
                paid_base_units: Tally::get(&tally.data_paid),
                refused_by_consent: Tally::get(&tally.data_withheld),
            },
            relay: RelayFigures {
                messages_relayed: Tally::get(&tally.relay_messages),
                leases: Tally::get(&tally.relay_leases),
                paid_base_units: relay_paid,
            },
            top_earners: earners,
            centres: centre_figures(&state, city, &view),
            freezes: view.freezes,
            money_conserved: conserved(&state, &shared.genesis),
            supply_base_units: supply,
            notes: view
                .first_error
                .iter()
                .map(|e| format!("first agent error: {e}"))
                .chain(mains_note(&view.mains))
                .chain(keeping_up(tally))
                .chain(std::iter::once(format!(
                    "the purifiers ran {} cleaning cycles, each in its household's quietest hour: \
                     daily where the water was hard that day, every second day where medium, \
                     every third where soft",
                    report::format::thousands(Tally::get(&tally.cleanings))
                )))
                .collect(),
        }
    }
}

/// Whether the agents kept up with the clock: the purifiers' step gaps.
fn keeping_up(tally: &Tally) -> Option<String> {
    let (p50, p99) = (tally.steps.quantile_ms(500)?, tally.steps.quantile_ms(990)?);
    let bound = |ms: u64| {
        if ms == u64::MAX {
            "over 5 s".to_owned()
        } else {
            format!("at most {ms} ms")
        }
    };
    let planned = ting_sim::city::purifier::STEP.as_millis();
    Some(format!(
        "keeping up: the purifiers stepped every {planned} ms as planned when the machine kept \
         up; half of their {} steps came {} apart, 99% {}",
        report::format::thousands(tally.steps.total()),
        bound(p50),
        bound(p99)
    ))
}

/// The utility's map of each district beside the truth over
/// `[from_ms, to_ms)`: mean hardness and daily demand.
fn district_map(scenario: &Scenario, tally: &Tally, from_ms: u64, to_ms: u64) -> Vec<DistrictMap> {
    let map = tally.map();
    let days = (to_ms.saturating_sub(from_ms) as f64 / ting_sim::world::DAY_MS as f64).max(1e-9);
    scenario
        .districts()
        .iter()
        .map(|d| {
            let connections = scenario
                .households()
                .iter()
                .filter(|h| h.district == d.id)
                .count();
            let connections = u32::try_from(connections).unwrap_or(u32::MAX);
            let truth = scenario.district_truth(d.id, from_ms, to_ms).ok();
            DistrictMap {
                district: d.name.to_owned(),
                truth_hardness_mg_l: truth.map_or(0.0, |t| t.mean_hardness_mg_l),
                measured_hardness_mg_l: map.hardness_mg_l(d.id),
                truth_demand_litres: truth.map_or(0.0, |t| t.demand_litres / days),
                measured_demand_litres: map.demand_litres_per_day(d.id, connections),
                readings: map.readings(d.id),
            }
        })
        .collect()
}

/// The service centres by what they earned (balance over what they
/// started with), most first.
fn earners(state: &ting_ledger::State, city: &City) -> Vec<Earner> {
    let mut earners: Vec<Earner> = city
        .cast
        .centres
        .iter()
        .map(|a| Earner {
            name: a.name.clone(),
            kind: ActorKind::ServiceCentre,
            earned_base_units: state
                .account(&a.account())
                .map_or(0, |r| r.balance.base_units())
                .saturating_sub(ting_sim::city::CENTRE_FUNDS),
        })
        .collect();
    earners.sort_by_key(|e| std::cmp::Reverse(e.earned_base_units));
    earners
}

// ---- The uplink relay ----

/// The relay's devices: gateways, sensors and the mains monitor.
fn relay_devices(city: &City) -> usize {
    city.cast.gateways.len() + city.cast.sensors.len() + 1
}

/// What the gateways earned: their balances and the deposits of their
/// resting asks (an ask locks nothing else) over what they started with.
/// Like the centres' earnings, over the city's life (the tally's counts are
/// of this run).
fn relay_paid(state: &ting_ledger::State, city: &City) -> u64 {
    let gateways: std::collections::BTreeSet<_> =
        city.cast.gateways.iter().map(|a| a.account()).collect();
    let deposits: u64 = state
        .orders()
        .filter(|(_, o)| gateways.contains(&o.owner))
        .map(|(_, o)| o.deposit.base_units())
        .fold(0, u64::saturating_add);
    let balances: u64 = gateways
        .iter()
        .map(|g| state.account(g).map_or(0, |r| r.balance.base_units()))
        .fold(0, u64::saturating_add);
    let started = ting_sim::city::GATEWAY_FUNDS.saturating_mul(gateways.len() as u64);
    balances.saturating_add(deposits).saturating_sub(started)
}

/// The mains monitor's reports by district, as one sentence.
fn mains_note(mains: &BTreeMap<String, ting_sim::city::MainsHardness>) -> Option<String> {
    let parts: Vec<String> = mains
        .iter()
        .filter_map(|(d, h)| {
            Some(format!(
                "{d} {:.1} mg/l ({} reports)",
                h.mean_mg_l()?,
                h.count
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "the utility's mains monitor received the battery sensors' reports through the gateways: {}",
            parts.join(", ")
        )
    })
}

/// Each centre's jobs and missed ones (as the agents counted them), what
/// it earned (its balance over what it started with) and its record on the
/// ledger in the cartridge category.
fn centre_figures(
    state: &ting_ledger::State,
    city: &City,
    view: &ting_sim::city::TallyView,
) -> Vec<CentreFigures> {
    city.cast
        .centres
        .iter()
        .map(|a| {
            let (jobs, failures) = view.centres.get(&a.name).copied().unwrap_or_default();
            let balance = state
                .account(&a.account())
                .map_or(0, |r| r.balance.base_units());
            let record = state.reputation(&a.account(), ting_sim::city::CARTRIDGE_CATEGORY);
            let reputation = record.map_or_else(
                || "no record".to_owned(),
                |r| {
                    format!(
                        "{} released, {} late; score {}‰",
                        r.released.count,
                        r.late.count,
                        r.score_ppm() / 1_000
                    )
                },
            );
            CentreFigures {
                name: a.name.clone(),
                jobs,
                failures,
                reputation,
                earned_base_units: balance.saturating_sub(ting_sim::city::CENTRE_FUNDS),
            }
        })
        .collect()
}

/// Whether the city's money is all there: nothing was minted since the
/// genesis (the demo mints nothing), and every balance and everything
/// locked (holds, deposits, channels), counted one by one, adds up to it.
fn conserved(state: &ting_ledger::State, genesis: &ting_core::Genesis) -> bool {
    let (balances, locked) = state.walked_sums();
    let held = balances.zip(locked).and_then(|(b, l)| b.checked_add(l));
    genesis.initial_supply() == Some(state.supply()) && held == Some(state.supply())
}

/// Prints the report and writes it to `dir`; answers the Markdown file.
pub fn finish(figures: &RunFigures, dir: &Path, _took: Duration) -> anyhow::Result<PathBuf> {
    println!("{}", report::terminal(figures));
    let written = report::write(dir, figures)?;
    Ok(written
        .into_iter()
        .next()
        .unwrap_or_else(|| dir.join("report.md")))
}
