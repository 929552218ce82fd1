//! A few human lines about a scenario, for the demo's opening and its
//! report.

use std::fmt::Write as _;

use super::centre::FAILURE_RATE_MAX;
use super::time::{hour_of_day, HOUR_MS, MINUTES_PER_HOUR, MINUTE_MS};
use super::Scenario;

/// Misbehaving households named one by one before "and N more".
const MISBEHAVING_NAMED_MAX: usize = 5;

impl Scenario {
    /// A few lines: the city's size, its incident, its softest and
    /// hardest districts, its unreliable centre and its misbehaving
    /// purifiers.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} districts, {} households, {} service centres, {} gateways, {} sensors (seed {})\n",
            self.districts.len(),
            self.households.len(),
            self.centres.len(),
            self.gateways.len(),
            self.sensors.len(),
            self.seed,
        );
        out.push_str(&self.incident_line());
        out.push_str(&self.hardness_line());
        for centre in self
            .centres
            .iter()
            .filter(|c| c.failure_rate > FAILURE_RATE_MAX)
        {
            let percent = centre.failure_rate * 100.0;
            let _ = writeln!(
                out,
                "unreliable centre: {} ({percent:.0}% of installations fail)",
                centre.name
            );
        }
        out.push_str(&self.misbehaving_line());
        out
    }

    fn when(&self, t_ms: u64) -> String {
        let minute = (t_ms / MINUTE_MS) % MINUTES_PER_HOUR;
        format!(
            "day {} at {:02}:{minute:02}",
            self.day_of(t_ms),
            hour_of_day(t_ms)
        )
    }

    fn incident_line(&self) -> String {
        let incident = &self.incident;
        let name = self.district(incident.district).map_or("?", |d| d.name);
        format!(
            "hardness incident in {name} on {} for {} h (+{:.0} mg/L)\n",
            self.when(incident.start_ms),
            incident.duration_ms / HOUR_MS,
            incident.extra_mg_l,
        )
    }

    fn hardness_line(&self) -> String {
        let by_base = |a: &&super::District, b: &&super::District| {
            a.base_hardness_mg_l.total_cmp(&b.base_hardness_mg_l)
        };
        let softest = self.districts.iter().min_by(by_base);
        let hardest = self.districts.iter().max_by(by_base);
        match (softest, hardest) {
            (Some(soft), Some(hard)) => format!(
                "softest water in {} ({:.0} mg/L), hardest in {} ({:.0} mg/L)\n",
                soft.name, soft.base_hardness_mg_l, hard.name, hard.base_hardness_mg_l
            ),
            _ => String::new(),
        }
    }

    fn misbehaving_line(&self) -> String {
        let bad: Vec<String> = self
            .households
            .iter()
            .filter_map(|h| {
                h.misbehaves_at_ms
                    .map(|at_ms| format!("{} ({})", h.name, self.when(at_ms)))
            })
            .collect();
        if bad.is_empty() {
            return "no misbehaving purifier\n".to_owned();
        }
        let named = bad
            .iter()
            .take(MISBEHAVING_NAMED_MAX)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = bad.len().saturating_sub(MISBEHAVING_NAMED_MAX);
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        format!("misbehaving purifiers: {named}{tail}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::DAY_MS;

    #[test]
    fn the_summary_names_the_size_the_incident_and_the_misbehaving_purifiers() {
        let world = Scenario::new(1, 50, 20_000 * DAY_MS + 5 * HOUR_MS).expect("a valid scenario");
        let summary = world.summary();
        assert!(
            summary.starts_with("5 districts, 50 households, 3 service centres"),
            "{summary}"
        );
        assert!(summary.contains("hardness incident in "), "{summary}");
        assert!(
            summary.contains("misbehaving purifiers: household-"),
            "{summary}"
        );
        assert!(summary.contains("unreliable centre: "), "{summary}");
    }
}
