//! What `ting bench market` prints: contracts per second and their latency
//! beside the ceiling of bare contracts, the hold transactions' rate beside
//! the transfers' (against issue 14's target), and what every party did;
//! as lines for people or one JSON object.

use std::collections::BTreeMap;

use serde_json::json;

use super::super::drive::Phase;
use super::super::stats::{format_cores, ThreadUse};
use super::ceiling::CONTRACT_TXS;
use super::contracts::Measured;
use super::holds::TxFigures;
use super::TARGET_HOLD_TX_RATIO;

/// The mix `hold_tx_ratio` is of, in words.
const HOLD_MIX: &str = "hold_create (payer), hold_accept (payee), hold_release with the payer's \
     signed evidence (payer): one each per hold, each counted as a transaction, as every contract ends";

#[derive(Debug)]
pub(super) struct Report {
    pub window_ms: u64,
    pub seconds: u64,
    pub tx_seconds: u64,
    pub buyers: usize,
    pub providers: usize,
    pub pool: usize,
    pub market: Measured,
    pub txs: TxFigures,
}

/// The sums over the buyers and the providers.
#[derive(Debug, Default)]
struct Totals {
    released_by_buyer: u64,
    released_by_provider_first: u64,
    buyer_release_refused: u64,
    no_proposal: u64,
    timed_out: u64,
    timed_out_waiting: BTreeMap<String, u64>,
    errors: u64,
    pool_waits: u64,
    devices_used: usize,
    proposed: u64,
    jobs: Vec<u64>,
    provider_paid: u64,
    provider_ended: u64,
    declined: u64,
    accepts_forgotten: u64,
    refused: BTreeMap<&'static str, u64>,
    first_error: Option<String>,
}

impl Report {
    fn ratio(&self) -> f64 {
        let c = &self.market;
        c.contracts.per_s() / c.ceiling.per_s().max(1e-9)
    }

    fn totals(&self) -> Totals {
        let c = &self.market.contracts;
        let mut t = Totals::default();
        for b in &c.buyers {
            t.released_by_buyer += b.released;
            t.released_by_provider_first += b.ended;
            t.buyer_release_refused += b.ended_later;
            t.no_proposal += b.no_proposal;
            t.timed_out += b.timed_out;
            for (why, n) in &b.timed_out_waiting {
                *t.timed_out_waiting.entry(why.clone()).or_insert(0) += n;
            }
            t.errors += b.errors;
            t.pool_waits += b.pool_waits;
            t.devices_used += b.devices_used;
            t.first_error = t.first_error.or_else(|| b.first_error.clone());
        }
        for p in &c.providers {
            t.proposed += p.proposed;
            t.jobs.push(p.jobs);
            t.provider_paid += p.paid;
            t.provider_ended += p.ended;
            t.declined += p.declined;
            t.accepts_forgotten += p.accepts_forgotten;
            t.errors += p.errors;
            t.first_error = t.first_error.or_else(|| p.first_error.clone());
            for (code, n) in &p.refused {
                *t.refused.entry(code).or_insert(0) += n;
            }
        }
        t
    }

    pub fn json(&self) -> serde_json::Value {
        let (m, x) = (&self.market, &self.txs);
        let (c, ceiling) = (&m.contracts, &m.ceiling);
        let mut out = json!({
            "broker_kind": "embedded rmqtt",
            "contracts_per_s": c.per_s(),
            "contract_p50_ms": c.latency.p50_ms,
            "contract_p99_ms": c.latency.p99_ms,
            "contract_max_ms": c.latency.max_ms,
            "contract_p99_ms_released_at_once": c.latency_released_at_once.p99_ms,
            "contracts": c.count,
            "window_ms": self.window_ms,
            "seconds": self.seconds,
            "buyers": self.buyers,
            "buyer_devices": m.buyer_devices,
            "buyer_pool": self.pool,
            "providers": self.providers,
            "ceiling_contracts_per_s": ceiling.per_s(),
            "ceiling_p50_ms": ceiling.latency.p50_ms,
            "ceiling_p99_ms": ceiling.latency.p99_ms,
            "ceiling_txs_per_contract": CONTRACT_TXS,
            "ratio": self.ratio(),
            "transfer_round_trip_p50_ms": ceiling.round_trip.p50_ms,
            "transfer_round_trip_p99_ms": ceiling.round_trip.p99_ms,
            "hold_tx_ratio": x.hold_tx_ratio(),
            "target_hold_tx_ratio": TARGET_HOLD_TX_RATIO,
            "hold_mix": HOLD_MIX,
            "transfers_per_s": x.transfers.window.rate(),
            "hold_txs_per_s": x.holds.window.rate(),
            "hold_txs_per_s_payer_release": x.holds_payer.window.rate(),
            "hold_tx_ratio_payer_release": x.hold_tx_ratio_payer_release(),
            "verify_capacity_per_s": x.capacity.per_s,
            "tx_seconds": self.tx_seconds,
            "tx_senders": x.senders,
            "hold_rounds": x.rounds,
            "tx_inflight": x.inflight,
        });
        let more = self.json_more();
        if let (Some(out), serde_json::Value::Object(more)) = (out.as_object_mut(), more) {
            out.extend(more);
        }
        out
    }

    /// What every party did, and where the cores went.
    fn json_more(&self) -> serde_json::Value {
        let (m, x) = (&self.market, &self.txs);
        let c = &m.contracts;
        let t = self.totals();
        json!({
            "released_by_buyer": t.released_by_buyer,
            "released_by_provider_first": t.released_by_provider_first,
            "buyer_release_refused": t.buyer_release_refused,
            "node_refused_contracts": c.node_refused,
            "provider_paid": t.provider_paid,
            "provider_ended": t.provider_ended,
            "proposals": t.proposed,
            "jobs_per_provider": t.jobs,
            "declined": t.declined,
            "accepts_after_proposal_expired": t.accepts_forgotten,
            "no_proposal": t.no_proposal,
            "timed_out": t.timed_out,
            "timed_out_waiting": t.timed_out_waiting,
            "errors": t.errors,
            "first_error": t.first_error,
            "pool_waits": t.pool_waits,
            "buyer_devices_used": t.devices_used,
            "refused_by_providers": t.refused,
            // A copy of a receipt (the node answering a transaction the buyer
            // sent again) is dropped by its id: counted apart from refusals.
            "envelopes_refused_by_buyers": c.buyer_refused.iter().filter(|(code, _)| **code != "replayed").collect::<BTreeMap<_, _>>(),
            "envelopes_replayed_to_buyers": c.buyer_refused.get("replayed").copied().unwrap_or(0),
            "app_dropped": c.buyer_app_dropped + c.provider_app_dropped,
            "ceiling_errors": m.ceiling.errors,
            "ceiling_first_error": m.ceiling.first_error,
            "cores_contracts": cores_map(&c.cores),
            "other_cores_contracts": c.other_cores,
            "cores_transfers": cores_map(&x.transfers.cpu),
            "cores_holds": cores_map(&x.holds.cpu),
            "cores_holds_payer_release": cores_map(&x.holds_payer.cpu),
            "other_cores_txs": [other(&x.transfers), other(&x.holds), other(&x.holds_payer)],
        })
    }

    pub fn print(&self) {
        let (m, x) = (&self.market, &self.txs);
        let (c, ceiling) = (&m.contracts, &m.ceiling);
        let t = self.totals();
        let verdict = |met: bool| if met { "MET" } else { "MISSED" };
        println!(
            "ting bench market: {} buyers ({} devices, pools of {}), {} providers, embedded rmqtt; proposal window {} ms",
            self.buyers, m.buyer_devices, self.pool, self.providers, self.window_ms
        );
        println!(
            "  contracts, call to release receipt        {:>8.1} /s   {} in {:.1} s; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            c.per_s(), c.count, c.seconds, c.latency.p50_ms, c.latency.p99_ms, c.latency.max_ms
        );
        println!(
            "    p99 {:.1} ms over those whose buyer's own release landed (not refused and seen to end later)",
            c.latency_released_at_once.p99_ms
        );
        println!(
            "  ceiling: window + {CONTRACT_TXS} transfer round trips   {:>8.1} /s   p50 {:.1} ms, p99 {:.1} ms (one round trip: p50 {:.2} ms, p99 {:.2} ms)",
            ceiling.per_s(), ceiling.latency.p50_ms, ceiling.latency.p99_ms,
            ceiling.round_trip.p50_ms, ceiling.round_trip.p99_ms
        );
        println!("  ratio: contracts / ceiling = {:.3}", self.ratio());
        println!(
            "  buyers: {} released, {} released first by the provider, {} refused and released by the provider's copy later; \
             {} without proposal, {} given up, {} errors, {} waits for a free device",
            t.released_by_buyer, t.released_by_provider_first, t.buyer_release_refused,
            t.no_proposal, t.timed_out, t.errors, t.pool_waits
        );
        println!(
            "  transactions the node refused over the contracts run, by code: {:?}",
            c.node_refused
        );
        println!(
            "  providers: {} proposals, jobs {:?}, {} paid by their own copy of the evidence, {} found the hold ended, {} declined; \
             {} accepts came after the proposal expired; refused {:?}",
            t.proposed, t.jobs, t.provider_paid, t.provider_ended, t.declined, t.accepts_forgotten, t.refused
        );
        if let Some(e) = &t.first_error {
            println!("  first error: {e}");
        }
        if !t.timed_out_waiting.is_empty() {
            println!("  given up, waiting for: {:?}", t.timed_out_waiting);
        }
        println!(
            "  cores over the contracts' window: {}; other processes {:.2}{}",
            format_cores(&c.cores),
            c.other_cores,
            disturbed(c.other_cores)
        );
        self.print_txs(x, verdict);
    }

    fn print_txs(&self, x: &TxFigures, verdict: impl Fn(bool) -> &'static str) {
        println!(
            "  through the node in process, {} transactions kept unanswered, {} senders each (verification capacity {:.0} /s):",
            x.inflight, x.senders, x.capacity.per_s
        );
        println!(
            "    transfers                              {:>9.0} tx/s",
            x.transfers.window.rate()
        );
        println!(
            "    holds, released by evidence            {:>9.0} tx/s   hold_tx_ratio {:.3} (target >= {TARGET_HOLD_TX_RATIO}: {})",
            x.holds.window.rate(),
            x.hold_tx_ratio(),
            verdict(x.hold_tx_ratio() >= TARGET_HOLD_TX_RATIO)
        );
        println!(
            "    holds, released by the payer           {:>9.0} tx/s   ratio {:.3}",
            x.holds_payer.window.rate(),
            x.hold_tx_ratio_payer_release()
        );
        println!("    a hold: {HOLD_MIX}");
        for (name, p) in [
            ("transfers", &x.transfers),
            ("holds", &x.holds),
            ("holds released by the payer", &x.holds_payer),
        ] {
            println!(
                "    cores, {name}: {}; other processes {:.2}{}",
                format_cores(&p.cpu),
                other(p),
                disturbed(other(p))
            );
        }
    }
}

fn cores_map(list: &[ThreadUse]) -> serde_json::Map<String, serde_json::Value> {
    list.iter()
        .map(|u| (u.name.clone(), json!(u.cores)))
        .collect()
}

/// A warning when other processes took more than a tenth of a core.
fn disturbed(other_cores: f64) -> &'static str {
    if other_cores > 0.1 {
        " (DISTURBED: other processes shared the cores)"
    } else {
        ""
    }
}

/// Cores other processes used over a phase's window.
fn other(p: &Phase) -> f64 {
    p.machine.1
}
