//! `ting market ...`: the service market from the command line
//! (docs/market.md; README "Buy a service in five minutes").
//!
//! A provider lists what it sells (`offer open`, `offer close`) and answers
//! calls for proposals (`provide`); a buyer finds offers and reputations
//! (`offers`, `reputation`), calls, chooses by its policy and pays into an
//! escrow hold (`buy`), then releases the hold with its sensor's evidence
//! (`confirm`) or its own word (`release`), disputes it (`dispute`) or
//! takes it back (`refund`); an arbiter decides a dispute (`decide`).
//! `holds`, `hold show`, `offer show` and `contracts` say where things
//! stand; the `show` commands, and a reputation in one category, are
//! checked against the ledger's signed state.
//!
//! `provide` and `buy` run a device over the node's broker, as `ting
//! stream sell` and `buy` do ([`device`]); `confirm`, `release` and
//! `dispute` open the buyer's device again from its state directory, where
//! `ting_agent::market` keeps one contract file per call. The CLI only
//! parses, drives the SDK's `Buyer` and `Provider`, and prints what
//! happened in words.

mod buy;
mod buy_run;
mod buy_words;
mod contracts;
mod device;
mod events;
mod find;
pub(crate) mod ledger;
mod parse;
mod provide;
mod serve;
mod settle;
mod words;

use clap::{Args, Subcommand};

use crate::kinds::KeyArg;
use crate::NodeArg;

#[derive(Debug, Subcommand)]
pub enum MarketCmd {
    /// A provider's listed offers: open, close, show one.
    #[command(subcommand)]
    Offer(OfferCmd),
    /// Find listed offers by category, place, score or provider, with each provider's reputation.
    Offers(find::OffersArgs),
    /// A provider's reputation: every category, or one (checked against the signed state).
    Reputation(find::ReputationArgs),
    /// Open escrow holds, by payer, payee or phase.
    Holds(find::HoldsArgs),
    /// One escrow hold.
    #[command(subcommand)]
    Hold(HoldCmd),
    /// Serve calls for proposals as a provider KEY, until Ctrl-C, --for or --jobs.
    Provide(provide::ProvideArgs),
    /// Buy a service as KEY: call, take the best proposal, pay it into a hold.
    Buy(buy::BuyArgs),
    /// The buyer's device saw the service done: sign evidence and release the hold with it.
    Confirm(settle::ConfirmArgs),
    /// Release the hold of a call on the payer's word.
    Release(settle::ReleaseArgs),
    /// Hand the hold of a call to its arbiter, with a reason.
    Dispute(settle::DisputeArgs),
    /// As the arbiter KEY, decide a disputed hold: what goes to the payee.
    Decide(ledger::DecideArgs),
    /// Take a hold's money back (the payer: unaccepted, or past its deadline and grace; the
    /// payee: any time).
    Refund(ledger::RefundArgs),
    /// The contract files a device keeps: each call it made or answered, and where it stands.
    Contracts(contracts::ContractsArgs),
}

#[derive(Debug, Subcommand)]
pub enum OfferCmd {
    /// List what the provider KEY sells (puts down a deposit of 1,000,000, back at close).
    Open(ledger::OfferOpenArgs),
    /// Close an offer (the provider's or its owner's KEY); the deposit comes back.
    Close(ledger::OfferCloseArgs),
    /// One offer, checked against the ledger's signed state, with its provider's reputation.
    Show(find::OfferShowArgs),
}

#[derive(Debug, Subcommand)]
pub enum HoldCmd {
    /// One hold, checked against the ledger's signed state.
    Show(find::HoldShowArgs),
}

/// The device a running command is, and where it keeps its state.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub state: device::StateArg,
    #[command(flatten)]
    pub node: NodeArg,
}

pub async fn run(cmd: MarketCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        MarketCmd::Offer(OfferCmd::Open(a)) => ledger::offer_open(a, json_out).await,
        MarketCmd::Offer(OfferCmd::Close(a)) => ledger::offer_close(a, json_out).await,
        MarketCmd::Offer(OfferCmd::Show(a)) => find::offer_show(a, json_out).await,
        MarketCmd::Offers(a) => find::offers(a, json_out).await,
        MarketCmd::Reputation(a) => find::reputation(a, json_out).await,
        MarketCmd::Holds(a) => find::holds(a, json_out).await,
        MarketCmd::Hold(HoldCmd::Show(a)) => find::hold_show(a, json_out).await,
        MarketCmd::Provide(a) => provide::run(a, json_out).await,
        MarketCmd::Buy(a) => buy_run::run(a, json_out).await,
        MarketCmd::Confirm(a) => settle::confirm(a, json_out).await,
        MarketCmd::Release(a) => settle::release(a, json_out).await,
        MarketCmd::Dispute(a) => settle::dispute(a, json_out).await,
        MarketCmd::Decide(a) => ledger::decide(a, json_out).await,
        MarketCmd::Refund(a) => ledger::refund(a, json_out).await,
        MarketCmd::Contracts(a) => contracts::run(a, json_out),
    }
}
