//! What a running provider or buyer did, in words and as JSON: each SDK
//! event with what the contract file knows of its call (category, place,
//! what was asked, the hold, the release rule), and why a call was passed
//! over, so a new user sees what happened and what comes next.

use serde_json::{json, Value};
use ting_agent::market::contract::Contract;
use ting_agent::market::{Buyer, BuyerEvent, Provider, ProviderEvent, Skip};
use ting_api::market::hold_terms_json;
use ting_core::limits::HOLD_DEPOSIT;
use ting_core::market::cfp::Call;
use ting_core::market::HoldTerms;
use ting_core::{AccountId, Hash32};

use super::words::{release_words, span, when};

/// The release rule and arbiter of `call` as a hold's terms JSON shows them.
pub fn call_terms(call: &Call) -> Value {
    hold_terms_json(&HoldTerms {
        payee: call.buyer,
        amount: call.max_price,
        deadline: call.deliver_by,
        grace_ms: call.grace_ms,
        terms: Hash32([0; 32]),
        category: call.category.clone(),
        rule: call.rule.clone(),
        arbiter: call.arbiter,
    })
}

/// A call in a line: what, where, how much at most, by when, and the spec.
pub fn call_words(call: &Call) -> String {
    let at = if call.area.is_empty() {
        "anywhere".to_owned()
    } else {
        format!("at {}", call.area)
    };
    let spec = if call.spec.is_empty() {
        String::new()
    } else {
        format!(": \"{}\"", call.spec)
    };
    format!(
        "{} {at}, at most {}, delivered by {}{spec}",
        call.category,
        call.max_price,
        when(call.deliver_by.0)
    )
}

/// Why a provider passed over a call, by the SDK's refusal code.
pub fn refusal_words(code: &str) -> String {
    let why = match code {
        "not_served" => {
            "its category or place is not one this provider serves \
            (--category, --area)"
        }
        "cannot_meet_call" => {
            "its maximum price is below --price, or it wants delivery sooner \
            than --deliver-in allows"
        }
        "call_closed" => "it no longer takes proposals",
        "own_call" => "it is this device's own call",
        "call_known" => "it was answered already",
        "rate_limited" => "its buyer has called more than 10 times this minute",
        "too_many_contracts" => "256 contracts are open, the most one device keeps",
        "accept_mismatch" => "an accept named terms this provider did not propose",
        "counter_out_of_round" => "a counter-offer came out of its round",
        _ => "it is not a valid call for this network",
    };
    format!("{why} ({code})")
}

fn contract<'a>(
    mut all: impl Iterator<Item = &'a Contract>,
    call: &Hash32,
) -> Option<&'a Contract> {
    all.find(|c| c.id() == *call)
}

/// A provider's event in words and JSON.
pub fn provider_event(p: &Provider, me: &AccountId, e: &ProviderEvent) -> (Value, String) {
    match e {
        ProviderEvent::Proposed { call, buyer, price } => {
            let c = contract(p.contracts(), call);
            let (round, deliver_by) = c
                .and_then(|c| c.chosen.as_ref().map(|(_, pr)| (pr.round, pr.deliver_by.0)))
                .unwrap_or((0, 0));
            let what = c.map(|c| call_words(&c.call.call)).unwrap_or_default();
            let words = if round == 0 {
                format!(
                    "call {call} from {buyer}: {what}\n  proposed {price}, delivered \
                    by {}",
                    when(deliver_by)
                )
            } else {
                format!("call {call}: {buyer} countered; proposed {price} in round {round}")
            };
            let v = json!({
                "event": "proposed",
                "call": call.to_hex(),
                "buyer": buyer.to_did(),
                "price": price.base_units(),
                "round": round,
                "deliver_by_ms": deliver_by,
            });
            (v, words)
        }
        ProviderEvent::Job {
            call,
            buyer,
            hold,
            spec,
            deliver_by,
        } => {
            let rule = contract(p.contracts(), call)
                .map(|c| release_words(&call_terms(&c.call.call)))
                .unwrap_or_default();
            let words = format!(
                "job: hold {hold} from {buyer} is on the ledger and accepted: \
                    the money is locked for this provider\n  deliver \"{spec}\" by \
                    {}\n  {rule}",
                when(deliver_by.0)
            );
            let v = json!({
                "event": "job",
                "call": call.to_hex(),
                "buyer": buyer.to_did(),
                "hold": hold.to_hex(),
                "spec": spec,
                "deliver_by_ms": deliver_by.0,
            });
            (v, words)
        }
        ProviderEvent::Paid { call, amount } => {
            let hold = contract(p.contracts(), call)
                .and_then(|c| c.hold)
                .map(|h| h.to_hex())
                .unwrap_or_default();
            let words = format!(
                "paid {amount} for call {call}: the buyer's evidence released \
                hold {hold}"
            );
            (
                json!({
                    "event": "paid",
                    "call": call.to_hex(),
                    "hold": hold,
                    "amount": amount.base_units(),
                }),
                words,
            )
        }
        ProviderEvent::Ended { call } => {
            let c = contract(p.contracts(), call);
            let hold = c
                .and_then(|c| c.hold)
                .map(|h| h.to_hex())
                .unwrap_or_default();
            let category = c.map(|c| c.call.call.category.clone()).unwrap_or_default();
            let words = format!(
                "hold {hold} of call {call} ended before this provider presented \
                    evidence: the buyer released it, or it was refunded or decided \
                    (`ting market reputation {me} --category {category}` shows the \
                    outcome)"
            );
            (
                json!({ "event": "ended", "call": call.to_hex(), "hold": hold }),
                words,
            )
        }
        ProviderEvent::Declined { call } => (
            json!({ "event": "declined", "call": call.to_hex() }),
            format!(
                "call {call}: the buyer declined this provider's proposal (it \
                chose another, or the terms did not fit)"
            ),
        ),
    }
}

/// Why the buyer's policy did not take a proposal.
pub fn skip_words(s: Skip) -> String {
    match s {
        Skip::DoesNotFit(why) => why.to_owned(),
        Skip::Expired => "it expired before the choice".into(),
        Skip::OverBudget => "it asks more than --max-price".into(),
        Skip::LowScore => "its provider's score is below --min-score".into(),
        Skip::NewcomerOverLimit => {
            "its provider has no record yet and asks more than --newcomer-max".into()
        }
        Skip::Avoided => "the policy avoids its provider".into(),
    }
}

/// A buyer's event in words, with what its contract says of the call.
pub fn buyer_words(b: &Buyer, e: &BuyerEvent) -> String {
    match e {
        BuyerEvent::Called { call } => format!("call {call} published"),
        BuyerEvent::Proposed {
            call,
            provider,
            price,
        } => {
            let detail = b
                .contract(call)
                .and_then(|c| c.proposals.iter().find(|(who, _)| who == provider))
                .map(|(_, p)| {
                    let warranty = if p.warranty_ms > 0 {
                        format!(", warranty {}", span(p.warranty_ms))
                    } else {
                        String::new()
                    };
                    let round = if p.round > 0 {
                        format!(" (round {})", p.round)
                    } else {
                        String::new()
                    };
                    format!(", delivered by {}{warranty}{round}", when(p.deliver_by.0))
                })
                .unwrap_or_default();
            format!("proposal from {provider}: {price}{detail}")
        }
        BuyerEvent::Countered {
            call,
            round,
            providers,
        } => {
            let best = if *providers == 1 {
                "the best proposal".to_owned()
            } else {
                format!("the best {providers} proposals")
            };
            format!(
                "call {call}: countered {best} (round {round}); answers are \
                taken for one more window"
            )
        }
        BuyerEvent::Chose {
            call,
            provider,
            price,
            hold,
        } => format!(
            "chose {provider} at {price} for call {call}\n  hold {hold} is \
                on the ledger: {price} and the deposit of {HOLD_DEPOSIT} are locked; \
                the provider was told"
        ),
        BuyerEvent::NoProposal { call } => format!("call {call}: no proposal the policy takes"),
        BuyerEvent::HoldRefused {
            call,
            provider,
            code,
        } => format!(
            "call {call}: the ledger refused the hold for {provider}'s proposal ({code}); \
            choosing among the others"
        ),
        BuyerEvent::Released { call } => format!("call {call}: released, the provider is paid"),
        BuyerEvent::Refunded { call } => format!(
            "call {call}: refunded after the deadline and grace, the money \
            is back"
        ),
        BuyerEvent::Ended { call } => format!(
            "call {call}: its hold ended (the provider presented the \
            evidence, or it was refunded or decided)"
        ),
    }
}
