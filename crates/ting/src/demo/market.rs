//! The demo's data market: the city's water utility buys hardness readings
//! from every purifier through a hash-chain payment channel.
//!
//! At setup the utility opens one channel to each purifier (a deposit that
//! pays `CHANNEL_TICKS` readings at `PRICE_PER_READING` each). Each round it
//! buys a few readings: the payer reveals the next tick, the purifier's payee
//! checks it with one hash and keeps it. Nothing touches the ledger until a
//! purifier holds `CLAIM_AT` or more unclaimed; then its household submits the
//! claim (anyone may; the money goes to the purifier). The payer and payee
//! are the pure state machines of `ting_core::channel`, in memory: the demo
//! shows the flow and the ledger side, while `ting channel` and `ting-agent`
//! show the durable device side.

use rand::RngExt;
use ting_core::channel::payee::{ClaimPolicy, Payee};
use ting_core::channel::payer::{derive_chain_seed, ChannelTerms, NewSegment, Payer};
use ting_core::{Amount, ChannelId, TxKind};

use super::economy::{Actor, Economy};

/// Readings each channel can pay for.
const CHANNEL_TICKS: u32 = 100_000;
/// Base units the utility pays per reading.
const PRICE_PER_READING: u64 = 1;
/// A purifier's household claims once this much is held unclaimed.
const CLAIM_AT: u64 = 25;
/// How long the channels run.
const CHANNEL_LIFETIME_MS: u64 = 24 * 3_600_000;

/// Base units the utility needs: every channel's deposit.
pub fn utility_funding(devices: usize) -> u64 {
    let per_channel = u64::from(CHANNEL_TICKS) * PRICE_PER_READING;
    per_channel * u64::try_from(devices).unwrap_or(u64::MAX)
}

/// One purifier's channel: the utility's payer and the purifier's payee.
#[derive(Debug)]
struct Link {
    payer: Payer,
    payee: Payee,
}

/// The market's state and what it has done so far.
#[derive(Debug, Default)]
pub struct Market {
    links: Vec<Link>,
    pub readings: u64,
    pub claimed: u64,
}

impl Market {
    /// The utility's `ChannelOpen` to each purifier, and the market that pays through them.
    pub fn open(economy: &mut Economy, utility: &mut Actor) -> (Market, Vec<ting_core::SignedTx>) {
        let mut market = Market::default();
        let mut txs = Vec::new();
        let expires_at = ting_core::Timestamp(ting_agent::clock::now().0 + CHANNEL_LIFETIME_MS);
        for d in 0..economy.devices.len() {
            let channel =
                ChannelId::derive(&economy.genesis, &utility.key.account(), utility.nonce);
            let terms = ChannelTerms {
                network: economy.network,
                channel,
                payer: utility.key.account(),
                payee: economy.devices[d].key.account(),
                deposit: Amount::new(u64::from(CHANNEL_TICKS) * PRICE_PER_READING),
                expires_at,
            };
            let seed = derive_chain_seed(&utility.key, &channel, 0);
            let segment = NewSegment {
                seed,
                len: CHANNEL_TICKS,
            };
            let (payer, mode) =
                Payer::open_hash_chain(terms, Amount::new(PRICE_PER_READING), segment)
                    .expect("the demo's chain fits its deposit");
            let kind = TxKind::ChannelOpen {
                payee: terms.payee,
                deposit: terms.deposit,
                expires_at,
                mode,
            };
            txs.push(Economy::sign(economy.genesis, utility, kind));
            market.links.push(Link {
                payer,
                payee: Payee::new(terms, mode),
            });
        }
        (market, txs)
    }

    /// Buys `n` readings from random purifiers (off the ledger), and returns
    /// the claims their households submit now.
    pub fn round(&mut self, economy: &mut Economy, n: usize) -> Vec<ting_core::SignedTx> {
        let now = ting_agent::clock::now();
        for _ in 0..n {
            let d = economy.rng.random_range(0..self.links.len());
            let link = &mut self.links[d];
            let Ok(prepared) = link.payer.prepare_pay(1, now) else {
                continue; // this channel is spent or expired
            };
            let payment = link.payer.commit(prepared);
            if link.payee.accept(&payment, now).is_ok() {
                self.readings += 1;
            }
        }
        self.claims(economy, now)
    }

    fn claims(
        &mut self,
        economy: &mut Economy,
        now: ting_core::Timestamp,
    ) -> Vec<ting_core::SignedTx> {
        let policy = ClaimPolicy {
            at_risk_min: Amount::new(CLAIM_AT),
            expiry_margin_ms: 3_600_000,
        };
        let mut txs = Vec::new();
        for (d, link) in self.links.iter_mut().enumerate() {
            let Ok(plan) = link.payee.claim_plan(now, &policy) else {
                continue;
            };
            for proof in plan {
                let before = link.payee.claimed();
                if link.payee.record_claim(&proof).is_err() {
                    break;
                }
                let gained = link
                    .payee
                    .claimed()
                    .checked_sub(before)
                    .unwrap_or(Amount::ZERO);
                self.claimed += gained.base_units();
                let channel = link.payee.terms().channel;
                let genesis = economy.genesis;
                let kind = TxKind::ChannelClaim { channel, proof };
                txs.push(Economy::sign(genesis, economy.owner_of(d), kind));
            }
        }
        txs
    }
}
