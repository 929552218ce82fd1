//! The provider's loop: messages and the clock drive `Provider` until
//! Ctrl-C, `--for` or `--jobs`; each event and each call passed over is
//! said as it happens, in words or as one JSON object a line; a step that
//! fails is said once and the provider goes on, unless its files are at
//! stake.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use ting_agent::market::{MarketError, Provider, ProviderEvent};
use ting_agent::{Device, Message};

use super::device::market_err;
use super::events::{provider_event, refusal_words};
use super::words::count;
use crate::output::emit;

/// How often the provider's clock work runs (expiries, accepts to resume, holds that ended).
const TICK: Duration = Duration::from_millis(250);

/// Prints an event: its words, or its JSON with `--json`.
fn say(json_out: bool, v: &Value, words: &str) {
    if json_out {
        emit(&v.to_string());
    } else {
        emit(words);
    }
}

/// What the run did, for its last line.
#[derive(Debug, Default)]
pub struct Tally {
    proposed: u64,
    jobs: u64,
    paid: u64,
    earned: u64,
    ended: u64,
    declined: u64,
}

impl Tally {
    fn count(&mut self, e: &ProviderEvent) {
        match e {
            ProviderEvent::Proposed { .. } => self.proposed += 1,
            ProviderEvent::Job { .. } => self.jobs += 1,
            ProviderEvent::Paid { amount, .. } => {
                self.paid += 1;
                self.earned = self.earned.saturating_add(amount.base_units());
            }
            ProviderEvent::Ended { .. } => self.ended += 1,
            ProviderEvent::Declined { .. } => self.declined += 1,
        }
    }

    fn finished(&self) -> u64 {
        self.paid + self.ended
    }
}

enum Wake {
    Message(Option<Message>),
    Tick,
    Stop(&'static str),
}

/// Says each refusal code whose count grew since `before`.
fn passed_over(
    json_out: bool,
    before: &BTreeMap<&'static str, u64>,
    now: &BTreeMap<&'static str, u64>,
) {
    for (code, n) in now {
        let grew = n.saturating_sub(before.get(code).copied().unwrap_or(0));
        for _ in 0..grew.min(4) {
            let v = json!({ "event": "passed_over", "code": code });
            say(
                json_out,
                &v,
                &format!("passed over a call: {}", refusal_words(code)),
            );
        }
    }
}

/// A step's error: fatal ones end the run; others are said once and the provider goes on.
fn handle(json_out: bool, e: MarketError, last: &mut String) -> anyhow::Result<()> {
    match e {
        MarketError::Io { .. } | MarketError::Damaged(_) => Err(market_err(e)),
        MarketError::HoldMismatch { hold, why } => {
            let v = json!({ "event": "hold_refused", "hold": hold, "why": why });
            say(
                json_out,
                &v,
                &format!("declined hold {hold}: it is not what was agreed ({why})"),
            );
            Ok(())
        }
        other => {
            let text = other.to_string();
            if *last != text {
                eprintln!(
                    "warning: {text} (the provider goes on; the contract file keeps \
                    where the call stands)"
                );
                *last = text;
            }
            Ok(())
        }
    }
}

/// Runs the provider until it is told to stop; answers why, and what it did.
pub async fn serve(
    device: &mut Device,
    provider: &mut Provider,
    until: Option<tokio::time::Instant>,
    jobs: Option<u32>,
    json_out: bool,
) -> anyhow::Result<(&'static str, Tally)> {
    let me = device.account();
    let mut ticker = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut tally = Tally::default();
    let mut last_warning = String::new();
    loop {
        if jobs.is_some_and(|j| tally.finished() >= u64::from(j)) {
            return Ok(("its jobs are done", tally));
        }
        let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
        let time_up = tokio::time::sleep_until(until.unwrap_or(far));
        let wake = tokio::select! {
            m = device.recv() => Wake::Message(m),
            _ = ticker.tick() => Wake::Tick,
            _ = &mut ctrl_c => Wake::Stop("Ctrl-C"),
            _ = time_up, if until.is_some() => Wake::Stop("its time is up"),
        };
        let before = provider.refused().clone();
        let stepped = match wake {
            Wake::Stop(why) => return Ok((why, tally)),
            Wake::Message(None) => return Ok(("the device stopped", tally)),
            Wake::Message(Some(m)) => provider.on_message(device, &m).await.map(Vec::from_iter),
            Wake::Tick => provider.tick(device).await,
        };
        let events = match stepped {
            Ok(events) => events,
            Err(e) => {
                handle(json_out, e, &mut last_warning)?;
                Vec::new()
            }
        };
        passed_over(json_out, &before, provider.refused());
        for e in &events {
            tally.count(e);
            let (v, words) = provider_event(provider, &me, e);
            say(json_out, &v, &words);
        }
    }
}

/// The last line: why it stopped and what it did.
pub fn summary(
    json_out: bool,
    why: &str,
    tally: &Tally,
    provider: &Provider,
    drained: bool,
    dir: &Path,
) {
    let v = json!({
        "event": "stopped",
        "why": why,
        "proposed": tally.proposed,
        "jobs": tally.jobs,
        "paid": tally.paid,
        "earned": tally.earned,
        "ended": tally.ended,
        "declined": tally.declined,
        "refused": provider.refused(),
        "outbox_drained": drained,
        "state": dir.display().to_string(),
    });
    let queued = match drained {
        true => "",
        false => "; some messages are still queued and go with the next run",
    };
    let words = format!(
        "stopped ({why}): {}, {}, {} paid (earned {}), {} ended \
            otherwise, {} declined by their buyers{queued}",
        count(tally.proposed, "proposal"),
        count(tally.jobs, "job"),
        tally.paid,
        tally.earned,
        tally.ended,
        tally.declined,
    );
    say(json_out, &v, &words);
}
