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
    self, ActorKind, Cartridges, CentreFigures, DistrictCount, Earner, PricePoint, RunFigures,
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
    supply: u64,
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
        let supply = shared
            .state
            .read()
            .map(|s| s.supply().base_units())
            .unwrap_or(0);
        Watch {
            blocks: shared.events.subscribe(),
            by_kind: BTreeMap::new(),
            last_second: BTreeMap::new(),
            tally: Arc::clone(tally),
            started: Instant::now(),
            start_ms: network_now(shared),
            supply,
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

    /// One refresh of the screen, or one JSON line.
    pub fn print(&mut self, shared: &ting_node::Shared, scenario: &Scenario) {
        self.drain();
        let t = &self.tally;
        let now = network_now(shared);
        let sim_ms = now.saturating_sub(self.start_ms);
        let real_ms = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let reached = sim_ms as f64 / real_ms as f64;
        let chosen = Tally::get(&t.chosen);
        let avg = Tally::get(&t.price_sum).checked_div(chosen).unwrap_or(0);
        let per_s: u64 = self.last_second.values().sum();
        if self.json {
            let line = json!({
                "simulated": report::format::utc(now),
                "speed_asked": self.speed, "speed_reached": (reached * 10.0).round() / 10.0,
                "tx_per_s": per_s, "tx_per_s_by_kind": self.last_second,
                "calls": Tally::get(&t.calls), "ordered": chosen,
                "installed": Tally::get(&t.installed), "refunded": Tally::get(&t.refunded),
                "avg_price": avg, "centre_failures": Tally::get(&t.failures),
                "litres_treated": Tally::get(&t.litres), "agent_errors": Tally::get(&t.agent_errors),
            });
            println!("{line}");
            return;
        }
        let day = scenario.day_of(now);
        let kinds: Vec<String> = self
            .last_second
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let screen = format!(
            "── water city ─ day {day} {} ─ {:.0}× real time (asked {}×) ──\n  transactions/s  {per_s:<6} {}\n  cartridges      called {}  ordered {chosen}  fitted {}  refunded {}  (avg price {})\n  centres         jobs missed {}   water treated {} L   agent errors {}\n",
            report::format::utc(now).get(11..16).unwrap_or(""),
            reached,
            self.speed,
            if kinds.is_empty() { "(none this second)".to_owned() } else { kinds.join(", ") },
            Tally::get(&t.calls),
            Tally::get(&t.installed),
            Tally::get(&t.refunded),
            report::format::thousands(avg),
            Tally::get(&t.failures),
            report::format::thousands(Tally::get(&t.litres)),
            Tally::get(&t.agent_errors),
        );
        if self.redraw {
            println!("\x1b[2J\x1b[H{screen}  (Ctrl-C stops the city and writes its report)");
        } else {
            print!("{screen}");
        }
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
        let real_ms = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let sim_ms = now.saturating_sub(self.start_ms);
        let state = shared.state.read().expect("state lock");
        let balance =
            |a: &ting_core::AccountId| state.account(a).map_or(0, |r| r.balance.base_units());
        let chosen = Tally::get(&tally.chosen);
        let mut earners: Vec<Earner> = city
            .cast
            .centres
            .iter()
            .map(|a| Earner {
                name: a.name.clone(),
                kind: ActorKind::ServiceCentre,
                earned_base_units: balance(&a.account())
                    .saturating_sub(ting_sim::city::CENTRE_FUNDS),
            })
            .collect();
        earners.sort_by_key(|e| std::cmp::Reverse(e.earned_base_units));
        let paid: u64 = earners.iter().map(|e| e.earned_base_units).sum();
        let supply = state.supply().base_units();
        RunFigures {
            seed: city.scenario.seed(),
            households: u32::try_from(city.scenario.households().len()).unwrap_or(u32::MAX),
            devices: u32::try_from(city.cast.purifiers.len() + city.cast.centres.len())
                .unwrap_or(u32::MAX),
            speed_asked: self.speed,
            speed_reached: sim_ms as f64 / real_ms as f64,
            simulated_ms: sim_ms,
            real_ms,
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
            flows: vec![report::Flow {
                from: ActorKind::Purifier,
                to: ActorKind::ServiceCentre,
                base_units: paid,
            }],
            top_earners: earners,
            centres: view
                .centres
                .iter()
                .map(|(n, (jobs, failed, earned))| CentreFigures {
                    name: n.clone(),
                    jobs: *jobs,
                    failures: *failed,
                    reputation: String::new(),
                    earned_base_units: *earned,
                })
                .collect(),
            freezes: view.freezes,
            money_conserved: supply == self.supply,
            supply_base_units: supply,
            notes: view
                .first_error
                .map(|e| vec![format!("first agent error: {e}")])
                .unwrap_or_default(),
            ..RunFigures::default()
        }
    }
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
