//! The demo's small economy: households with water purifiers, and service centres.
//!
//! Each household (an owner) registers its purifiers as devices, caps what
//! each may spend per day, and now and then sweeps their earnings. Purifiers
//! pay service centres and each other (data, cartridges, relay) in small
//! amounts. The city's water utility buys their hardness readings through
//! payment channels (`market.rs`). Every transaction is signed here and goes
//! through the node's real pipeline; the seed makes a run repeatable.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_core::limits::TX_VALID_FOR_DEFAULT_MS;
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, Hash32, Keypair, NetworkId, Nonce, SignedTx, TxBody, TxKind};
use ting_node::pipeline::Outcome;
use ting_node::Shared;

use super::market::{self, Market};

/// Devices per household.
const DEVICES_PER_OWNER: usize = 4;
/// Base units each device starts with.
pub const DEVICE_FUNDING: u64 = 1_000_000;
/// Base units each household starts with.
const OWNER_FUNDING: u64 = 100_000;
/// Each device's daily spending cap.
const DAILY_LIMIT: u64 = 600_000;

/// A participant: its key and the nonce of its next transaction.
#[derive(Debug)]
pub struct Actor {
    pub key: Keypair,
    pub nonce: Nonce,
}

/// All participants of the demo.
#[derive(Debug)]
pub struct Economy {
    pub network: NetworkId,
    /// The genesis hash every transaction is signed for.
    pub genesis: Hash32,
    pub owners: Vec<Actor>,
    pub devices: Vec<Actor>,
    pub centres: Vec<Actor>,
    /// The water utility, which buys readings through channels.
    pub utility: Actor,
    /// The utility's channels, once opened.
    pub market: Option<Market>,
    pub rng: StdRng,
}

pub(crate) fn key_for(seed: u64, role: &str, i: usize) -> Keypair {
    let digest = Hash32::digest(&[
        b"ting-demo",
        &seed.to_le_bytes(),
        role.as_bytes(),
        &i.to_le_bytes(),
    ]);
    Keypair::from_seed(digest.0)
}

impl Economy {
    pub fn new(shared: &Shared, seed: u64, devices: usize) -> Economy {
        let state = shared.state.read().expect("state lock");
        let actor = |role: &str, i: usize| {
            let key = key_for(seed, role, i);
            let nonce = state.next_nonce(&key.account());
            Actor { key, nonce }
        };
        let owners = devices.div_ceil(DEVICES_PER_OWNER);
        Economy {
            network: shared.genesis.network,
            genesis: shared.genesis_hash,
            owners: (0..owners).map(|i| actor("owner", i)).collect(),
            devices: (0..devices).map(|i| actor("device", i)).collect(),
            centres: (0..3).map(|i| actor("centre", i)).collect(),
            utility: actor("utility", 0),
            market: None,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn sign(genesis: Hash32, actor: &mut Actor, kind: TxKind) -> SignedTx {
        let tx = TxBody {
            genesis,
            sender: actor.key.account(),
            nonce: actor.nonce,
            // The demo submits at once, and its node's time is the wall clock.
            valid_until: ting_agent::wallet::valid_for(
                &ting_agent::clock::NetworkClock::REAL,
                TX_VALID_FOR_DEFAULT_MS,
            ),
            kind,
        }
        .sign(&actor.key);
        actor.nonce = actor.nonce.next().expect("nonce below u64::MAX");
        tx
    }

    /// Mints to every owner and device that needs funding, from the dev issuer.
    pub fn funding(&mut self, shared: &Shared, issuer: &Keypair) -> Vec<SignedTx> {
        let state = shared.state.read().expect("state lock");
        let mut issuer = Actor {
            key: Keypair::from_seed(issuer.seed()),
            nonce: state.next_nonce(&issuer.account()),
        };
        let mut txs = Vec::new();
        // Owners need an account (only accounts that received money may act) to
        // register their devices; devices need money to pay.
        let owners = self.owners.iter().map(|o| (o, OWNER_FUNDING));
        let devices = self.devices.iter().map(|d| (d, DEVICE_FUNDING));
        let utility = std::iter::once((&self.utility, market::utility_funding(self.devices.len())));
        for (actor, amount) in owners.chain(devices).chain(utility) {
            let balance = state
                .account(&actor.key.account())
                .map_or(0, |a| a.balance.base_units());
            if balance < amount / 2 {
                let kind = TxKind::Mint {
                    to: actor.key.account(),
                    amount: Amount::new(amount),
                };
                txs.push(Economy::sign(self.genesis, &mut issuer, kind));
            }
        }
        txs
    }

    /// Registers each unregistered device under its household, with a daily cap.
    pub fn registrations(&mut self, shared: &Shared) -> Vec<SignedTx> {
        let registered: Vec<bool> = {
            let state = shared.state.read().expect("state lock");
            self.devices
                .iter()
                .map(|d| state.device(&d.key.account()).is_some())
                .collect()
        };
        let mut txs = Vec::new();
        for (i, done) in registered.into_iter().enumerate() {
            if done {
                continue;
            }
            let device = self.devices[i].key.account();
            let owner = &mut self.owners[i / DEVICES_PER_OWNER];
            let metadata = format!("water purifier #{i}").into_bytes();
            let consent =
                device_consent_message(&self.genesis, &owner.key.account(), &device, &metadata);
            let device_signature = self.devices[i].key.sign(&consent);
            let register = TxKind::RegisterDevice {
                device,
                metadata,
                device_signature,
            };
            txs.push(Economy::sign(self.genesis, owner, register));
            let limit = TxKind::SetSpendLimit {
                device,
                per_day: Some(Amount::new(DAILY_LIMIT)),
            };
            txs.push(Economy::sign(self.genesis, owner, limit));
        }
        txs
    }

    /// The utility's channel to each purifier; the market starts paying once they commit.
    pub fn open_market(&mut self) -> Vec<SignedTx> {
        let mut utility = Actor {
            key: Keypair::from_seed(self.utility.key.seed()),
            nonce: self.utility.nonce,
        };
        let (market, txs) = Market::open(self, &mut utility);
        self.utility.nonce = utility.nonce;
        self.market = Some(market);
        txs
    }

    /// The household that owns device `d`.
    pub fn owner_of(&mut self, d: usize) -> &mut Actor {
        &mut self.owners[d / DEVICES_PER_OWNER]
    }

    /// One round of activity: `n` payments, `n` readings bought through
    /// channels (with the claims they make due), and now and then an owner's sweep.
    pub fn round(&mut self, n: usize) -> Vec<SignedTx> {
        let mut txs = Vec::with_capacity(n + 1);
        if let Some(mut market) = self.market.take() {
            txs.extend(market.round(self, n));
            self.market = Some(market);
        }
        for _ in 0..n {
            let from = self.rng.random_range(0..self.devices.len());
            let to = if self.rng.random_range(0..4) == 0 {
                self.centres[self.rng.random_range(0..self.centres.len())]
                    .key
                    .account()
            } else {
                let other = (from + 1 + self.rng.random_range(0..self.devices.len() - 1))
                    % self.devices.len();
                self.devices[other].key.account()
            };
            let amount = Amount::new(self.rng.random_range(1..=50));
            let memo = b"hardness reading".to_vec();
            let kind = TxKind::Transfer { to, amount, memo };
            txs.push(Economy::sign(self.genesis, &mut self.devices[from], kind));
        }
        if self.rng.random_range(0..20) == 0 {
            let d = self.rng.random_range(0..self.devices.len());
            let device = self.devices[d].key.account();
            let kind = TxKind::Sweep {
                device,
                amount: Amount::new(10),
            };
            txs.push(Economy::sign(
                self.genesis,
                &mut self.owners[d / DEVICES_PER_OWNER],
                kind,
            ));
        }
        txs
    }

    /// After refusals, re-reads every sender's next nonce from the node.
    pub fn resync(&mut self, shared: &Shared) {
        let state = shared.state.read().expect("state lock");
        for a in self
            .owners
            .iter_mut()
            .chain(&mut self.devices)
            .chain(&mut self.centres)
            .chain(std::iter::once(&mut self.utility))
        {
            a.nonce = state.next_nonce(&a.key.account());
        }
    }

    pub fn accounts(&self) -> Vec<AccountId> {
        self.devices.iter().map(|d| d.key.account()).collect()
    }
}

/// Submits `txs` in order and waits for every outcome; counts refusals by code.
pub fn submit_and_wait(
    shared: &Shared,
    txs: Vec<SignedTx>,
    refused: &mut BTreeMap<&'static str, u64>,
) -> anyhow::Result<u64> {
    let receivers = loop {
        match shared.submit(txs.clone()) {
            Ok(r) => break r,
            Err(e) if e.code() == "busy" => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) => return Err(e.into()),
        }
    };
    let mut committed = 0;
    for rx in receivers {
        match rx.blocking_recv() {
            Ok(Outcome::Committed(_)) => committed += 1,
            Ok(Outcome::Refused(r)) => *refused.entry(r.code).or_default() += 1,
            Err(_) => anyhow::bail!("the node stopped"),
        }
    }
    Ok(committed)
}
