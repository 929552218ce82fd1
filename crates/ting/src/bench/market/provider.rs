//! One provider of `ting bench market`: a device with the SDK's `Provider`,
//! its messages handed to `Provider::on_message` and `Provider::tick`
//! every `TICK`, until told to stop.
//!
//! Every provider answers every call. Its pricing function (`pricing`)
//! asks a price that turns with the call, so that each call has one
//! cheapest provider and every provider wins about a share of the calls:
//! with one price for all, the buyer's policy would send every contract to
//! the provider with the lowest account id (its tie-break), and the run
//! would measure one provider's queue. When a job is on
//! (`ProviderEvent::Job`), the service is done at once: the provider
//! tells the call's buyer (`Service`), whose sensor then signs the
//! evidence.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ting_agent::market::provider::Pricing;
use ting_agent::market::{Provider, ProviderEvent, Quote};
use ting_agent::{Device, Message};
use ting_core::market::cfp::{Call, Counter};
use ting_core::{AccountId, Amount, Hash32};
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::contracts::{DELIVER_IN_MS, PRICE_BASE, PRICE_STEP};

/// How often the app ticks its provider (forgets proposals never taken,
/// looks up accepted holds).
const TICK: Duration = Duration::from_millis(10);

/// Where each buyer device hears that its provider took the job on.
pub(super) type Routes = Arc<BTreeMap<AccountId, mpsc::UnboundedSender<Hash32>>>;

/// A provider's device and its SDK state.
pub(super) struct ProviderSide {
    pub device: Device,
    pub provider: Provider,
}

/// What a provider did over a run.
#[derive(Debug, Default, Clone)]
pub(super) struct ProviderOut {
    pub proposed: u64,
    pub jobs: u64,
    /// Its own copy of the buyer's evidence released the hold.
    pub paid: u64,
    /// The hold ended before its copy landed (the buyer's came first).
    pub ended: u64,
    pub declined: u64,
    /// Accepts for a call this provider no longer keeps: its proposal
    /// expired (`Provider::tick` forgot it) before the buyer's accept was
    /// taken, so the SDK drops the accept and the buyer's hold stays open.
    pub accepts_forgotten: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Calls and messages the SDK refused, by code.
    pub refused: BTreeMap<&'static str, u64>,
}

/// Provider `index` of `providers`: a price of `PRICE_BASE` plus
/// `PRICE_STEP` times its turn for the call, the turn being the call's
/// hash plus `index`, modulo `providers`.
pub(super) fn pricing(index: usize, providers: usize) -> Pricing {
    let (index, providers) = (index as u64, providers.max(1) as u64);
    Box::new(move |call: &Call, _: Option<&Counter>| {
        let h = Hash32::digest(&[&call.buyer.0, &call.id.to_le_bytes()]);
        let spin = u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"));
        let turn = spin.wrapping_add(index) % providers;
        Some(Quote {
            price: Amount::new(PRICE_BASE + turn * PRICE_STEP),
            deliver_in_ms: DELIVER_IN_MS,
            warranty_ms: 0,
            note: String::new(),
        })
    })
}

impl ProviderSide {
    /// Answers messages and ticks until `stop`.
    pub async fn run(&mut self, routes: Routes, mut stop: watch::Receiver<bool>) -> ProviderOut {
        let mut out = ProviderOut::default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let events = tokio::select! {
                m = self.device.recv() => {
                    let Some(m) = m else { break };
                    if let Message::Accept { accept, .. } = &m {
                        if !self.provider.contracts().any(|c| c.id() == accept.call) {
                            out.accepts_forgotten += 1;
                        }
                    }
                    self.provider.on_message(&self.device, &m).await.map(|e| e.into_iter().collect())
                }
                _ = tick.tick() => self.provider.tick(&self.device).await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                    continue;
                }
            };
            match events {
                Ok(events) => {
                    for e in events {
                        out.take(e, &routes);
                    }
                }
                Err(e) => {
                    out.errors += 1;
                    out.first_error
                        .get_or_insert_with(|| format!("{}: {e}", e.code()));
                }
            }
        }
        out.refused = self.provider.refused().clone();
        out
    }
}

impl ProviderOut {
    fn take(&mut self, event: ProviderEvent, routes: &Routes) {
        match event {
            ProviderEvent::Proposed { .. } => self.proposed += 1,
            ProviderEvent::Job { call, buyer, .. } => {
                self.jobs += 1;
                // The service is done at once; the buyer's sensor sees it.
                if let Some(to) = routes.get(&buyer) {
                    let _ = to.send(call);
                }
            }
            ProviderEvent::Paid { .. } => self.paid += 1,
            ProviderEvent::Ended { .. } => self.ended += 1,
            ProviderEvent::Declined { .. } => self.declined += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::market::ReleaseRule;
    use ting_core::Timestamp;

    fn call(id: u64) -> Call {
        Call {
            genesis: Hash32([0; 32]),
            buyer: AccountId([7; 32]),
            id,
            issued_at: Timestamp(0),
            answer_by: Timestamp(200),
            deliver_by: Timestamp(10_000),
            grace_ms: 0,
            category: "bench.service".into(),
            area: String::new(),
            spec: String::new(),
            max_price: Amount::new(PRICE_BASE * 2),
            rounds: 0,
            rule: ReleaseRule::Payer,
            arbiter: None,
        }
    }

    #[test]
    fn each_call_has_one_cheapest_provider_and_each_provider_is_cheapest_for_some() {
        let providers = 4;
        let mut pricing: Vec<Pricing> = (0..providers).map(|i| pricing(i, providers)).collect();
        let mut wins = vec![0u32; providers];
        for id in 0..400 {
            let c = call(id);
            let prices: Vec<Amount> = pricing
                .iter_mut()
                .map(|p| p(&c, None).expect("a quote").price)
                .collect();
            let cheapest = *prices.iter().min().expect("four prices");
            let at: Vec<usize> = (0..providers).filter(|&i| prices[i] == cheapest).collect();
            assert_eq!(
                at.len(),
                1,
                "one cheapest provider for call {id}: {prices:?}"
            );
            wins[at[0]] += 1;
        }
        assert!(
            wins.iter().all(|&w| w >= 50),
            "every provider wins a share: {wins:?}"
        );
    }
}
