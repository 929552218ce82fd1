//! Running `ting market buy`: the buyer device calls, takes proposals as
//! they come, lets its policy choose, pays into the hold, and stops once
//! the provider has accepted it, proved on the ledger (or, with `--wait
//! released`, once the hold has ended).
//!
//! The story goes to stderr as it happens; stdout gets the call's id alone
//! (so `CALL=$(ting market buy ...)` works, as `ting keygen` prints its
//! account), or with `--json` one object naming the call, the hold and how
//! it stands. Contracts of earlier calls that this device left open are
//! carried on by the same `Buyer` and said too.

use std::time::Duration;

use serde_json::json;
use ting_agent::market::contract::Contract;
use ting_agent::market::{Buyer, BuyerEvent, Policy};
use ting_agent::{Device, Message};
use ting_core::limits::HOLD_DEPOSIT;
use ting_core::market::{HoldId, HoldPhase};
use ting_core::{AccountId, Amount, Hash32};

use super::buy::{plan, BuyArgs, Plan, Wait};
use super::buy_words::{next_steps, no_proposal};
use super::device::{drain, market_err, open};
use super::events::{buyer_words, call_terms, call_words};
use super::words::{release_words, span, when};
use crate::failure::not_yet;
use crate::output::emit;

/// How often the buyer's clock work runs, and the hold is looked at while the provider accepts it.
const TICK: Duration = Duration::from_millis(250);

/// Where our call stands.
#[derive(Clone, Copy, Debug)]
enum Stage {
    Calling,
    /// The hold is made; the provider has until the instant to accept it.
    Chosen {
        hold: HoldId,
        provider: AccountId,
        price: Amount,
        by: tokio::time::Instant,
    },
    Accepted {
        hold: HoldId,
        provider: AccountId,
        price: Amount,
    },
    Done {
        hold: HoldId,
        provider: AccountId,
        price: Amount,
        status: &'static str,
    },
}

enum Wake {
    Message(Option<Message>),
    Tick,
    Stop,
}

/// A hold locks the price and a deposit: says so before calling when the
/// balance cannot cover both (the ledger would refuse the hold, and the
/// buyer would only see no proposal taken).
async fn warn_if_short(device: &Device, max_price: Amount) -> anyhow::Result<()> {
    let balance = device.balance().await?;
    let needed = max_price.base_units().saturating_add(HOLD_DEPOSIT);
    if balance.base_units() < needed {
        eprintln!(
            "warning: the balance, {balance}, is less than --max-price and a hold's deposit \
            ({max_price} + {HOLD_DEPOSIT}): a proposal asking more than {} cannot be paid",
            balance.base_units().saturating_sub(HOLD_DEPOSIT)
        );
    }
    Ok(())
}

/// Says the call: what, where, until when proposals come, and how the hold is released.
fn announce(buyer: &Buyer, call: &Hash32, me: &AccountId, window_ms: u64) {
    let c = &buyer.contract(call).expect("the call was saved").call.call;
    let rounds = match c.rounds {
        0 => String::new(),
        1 => format!(", then 1 counter-offer round of {}", span(window_ms)),
        n => format!(
            ", then up to {n} counter-offer rounds of {} each",
            span(window_ms)
        ),
    };
    let rule = release_words(&call_terms(c)).replace(&me.to_did(), &format!("{me} (this device)"));
    eprintln!(
        "calling for proposals: {}\n  call {call}\n  proposals until \
            {}{rounds}\n  the hold will be {rule}",
        call_words(c),
        when(c.answer_by.0),
    );
}

/// What `follow` needs of the plan once the call is out.
struct Watch {
    policy: Policy,
    wait: Wait,
    accept_within_ms: u64,
}

fn interrupted(a: &BuyArgs, call: &Hash32) -> anyhow::Error {
    not_yet(format!(
        "stopped by Ctrl-C: call {call} is kept in the device's state \
            (`ting market contracts --key {}`); the next `ting market buy` \
            with this key carries it on",
        a.device.key.key.display()
    ))
}

fn not_accepted(a: &BuyArgs, hold: &HoldId) -> anyhow::Error {
    not_yet(format!(
        "the provider has not accepted hold {hold} within \
            --accept-within {}; it may still. To take the money back now: \
            ting market refund --key {} {hold}",
        a.accept_within,
        a.device.key.key.display()
    ))
}

/// Drives the buyer until our call is where `--wait` asks, or cannot get there.
async fn follow(
    a: &BuyArgs,
    call: &Hash32,
    w: &Watch,
    device: &mut Device,
    buyer: &mut Buyer,
) -> anyhow::Result<Stage> {
    let mut stage = Stage::Calling;
    let mut ticker = tokio::time::interval(TICK);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let wake = tokio::select! {
            m = device.recv() => Wake::Message(m),
            _ = ticker.tick() => Wake::Tick,
            _ = &mut ctrl_c => Wake::Stop,
        };
        let mut events = Vec::new();
        match wake {
            Wake::Stop => return Err(interrupted(a, call)),
            Wake::Message(None) => return Err(anyhow::anyhow!("the device stopped")),
            Wake::Message(Some(m)) => {
                if let Message::Decline { from, decline } = &m {
                    if decline.call == *call {
                        eprintln!("{from} declined: {} ({})", decline.message, decline.code);
                    }
                }
                events.extend(buyer.on_message(&m).map_err(market_err)?);
            }
            Wake::Tick => {}
        }
        events.extend(buyer.tick(device).await.map_err(market_err)?);
        for e in &events {
            eprintln!("{}", buyer_words(buyer, e));
            if matches!(e, BuyerEvent::NoProposal { call: c } if c == call) {
                let c = buyer.contract(call).expect("kept").clone();
                return Err(no_proposal(device, &w.policy, &c).await);
            }
            stage = advance(stage, e, call, w.accept_within_ms);
        }
        stage = look_at_hold(device, stage).await?;
        match stage {
            Stage::Accepted { .. } if w.wait == Wait::Accepted => return Ok(stage),
            Stage::Done { .. } => return Ok(stage),
            Stage::Chosen { hold, by, .. } if tokio::time::Instant::now() >= by => {
                return Err(not_accepted(a, &hold))
            }
            _ => {}
        }
    }
}

pub async fn run(a: BuyArgs, json_out: bool) -> anyhow::Result<()> {
    let me = a.device.key.read()?.account();
    let Plan {
        need,
        policy,
        wait,
        accept_within_ms,
    } = plan(&a, &me)?;
    let (mut device, _lock) = open(&a.device.key, &a.device.state, &a.device.node).await?;
    let mut buyer = Buyer::open(&device, policy.clone()).map_err(market_err)?;
    warn_if_short(&device, need.max_price).await?;
    let window_ms = need.answer_within_ms;
    let call = buyer.call(&device, need).await.map_err(market_err)?;
    announce(&buyer, &call, &me, window_ms);
    let w = Watch {
        policy,
        wait,
        accept_within_ms,
    };
    let stage = match follow(&a, &call, &w, &mut device, &mut buyer).await {
        Ok(stage) => stage,
        Err(e) => {
            device.shutdown().await;
            return Err(e);
        }
    };
    let drained = drain(&device).await;
    let c = buyer.contract(&call).expect("kept").clone();
    device.shutdown().await;
    finish(&a, &c, &call, stage, drained, json_out);
    Ok(())
}

/// Moves our call's stage on an event of the buyer.
fn advance(stage: Stage, e: &BuyerEvent, call: &Hash32, accept_within_ms: u64) -> Stage {
    match (stage, e) {
        (
            _,
            BuyerEvent::Chose {
                call: c,
                provider,
                price,
                hold,
            },
        ) if c == call => Stage::Chosen {
            hold: *hold,
            provider: *provider,
            price: *price,
            by: tokio::time::Instant::now() + Duration::from_millis(accept_within_ms),
        },
        (
            Stage::Chosen {
                hold,
                provider,
                price,
                ..
            }
            | Stage::Accepted {
                hold,
                provider,
                price,
            },
            e,
        ) => {
            let status = match e {
                BuyerEvent::Released { call: c } if c == call => "released",
                BuyerEvent::Refunded { call: c } if c == call => "refunded",
                BuyerEvent::Ended { call: c } if c == call => "ended",
                _ => return stage,
            };
            Stage::Done {
                hold,
                provider,
                price,
                status,
            }
        }
        _ => stage,
    }
}

/// While the provider has not yet accepted, reads the hold, proved.
async fn look_at_hold(device: &Device, stage: Stage) -> anyhow::Result<Stage> {
    let Stage::Chosen {
        hold,
        provider,
        price,
        ..
    } = stage
    else {
        return Ok(stage);
    };
    Ok(match device.http().hold(&hold).await? {
        Some(h) if h.phase != HoldPhase::Open => {
            eprintln!(
                "{provider} accepted hold {hold} on the ledger: the job is on, due by {}",
                when(h.terms.deadline.0)
            );
            Stage::Accepted {
                hold,
                provider,
                price,
            }
        }
        Some(_) => stage,
        None => Stage::Done {
            hold,
            provider,
            price,
            status: "ended",
        },
    })
}

fn finish(a: &BuyArgs, c: &Contract, call: &Hash32, stage: Stage, drained: bool, json_out: bool) {
    let (hold, provider, price, status) = match stage {
        Stage::Accepted {
            hold,
            provider,
            price,
        } => (hold, provider, price, "accepted"),
        Stage::Done {
            hold,
            provider,
            price,
            status,
        } => (hold, provider, price, status),
        _ => unreachable!("finish is called once the provider accepted or the hold ended"),
    };
    let deliver_by = c.chosen.as_ref().map_or(0, |(_, p)| p.deliver_by.0);
    let v = json!({
        "call": call.to_hex(),
        "hold": hold.to_hex(),
        "provider": provider.to_did(),
        "price": price.base_units(),
        "deliver_by_ms": deliver_by,
        "status": status,
        "category": c.call.call.category,
    });
    if json_out {
        emit(&v.to_string());
    } else {
        // The call alone on stdout, so `CALL=$(ting market buy ...)` works.
        emit(&call.to_hex());
    }
    match status {
        "accepted" => eprintln!("{}", next_steps(a, c, call)),
        "released" => eprintln!("released: {price} paid to {provider}; hold {hold} ended"),
        other => eprintln!(
            "hold {hold} {other}: `ting market reputation {provider} \
            --category {}` shows the outcome",
            c.call.call.category
        ),
    }
    if !drained {
        eprintln!(
            "(some messages are still queued in the device's outbox; they go with its next run)"
        );
    }
}
