//! The order workload: placements and cancellations on one class's book,
//! made against a copy of the state they will meet so that every one of
//! them applies (the node keeps submission order, so a refusal in a run is
//! a benchmark bug).
//!
//! Senders take turns in round-robin order, so a block seldom repeats one.
//! A sender with orders resting cancels one of them about one time in
//! four; otherwise it places a bid or an ask, each side drawn evenly. Bids
//! are priced from `MID - SPREAD` to `MID + CROSS` and asks from
//! `MID - CROSS` to `MID + SPREAD`, so about one placement in five crosses
//! the book and fills, partly or wholly, against what rests. A sender at
//! the cap of resting orders cancels; one at the cap of open leases asks
//! instead of bidding.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_core::limits::{LEASES_OPEN_PER_BUYER_MAX, ORDERS_OPEN_PER_ACCOUNT_MAX};
use ting_core::resource::{OrderId, OrderTerms, Side};
use ting_core::{Amount, Keypair, Signature, SignedTx, Timestamp, TxBody, TxKind};
use ting_ledger::State;

/// The class every order of the workload trades.
pub(super) const CLASS: &str = "bandwidth.uplink.msg";
/// Its unit and lease.
pub(super) const UNIT: &str = "msg";
pub(super) const LEASE_MS: u64 = 3_600_000;
/// Prices around this many base units per unit.
const MID: u64 = 100;
const SPREAD: u64 = 8;
const CROSS: u64 = 2;
/// Units per order, from 1 to this.
const QUANTITY_MAX: u64 = 20;
/// An order's life: far past any run.
const EXPIRY_MS: u64 = 86_400_000;

/// What a workload holds besides its transactions.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Mix {
    pub places: u64,
    pub cancels: u64,
    /// Fills the placements made (leases), and the units they filled.
    pub fills: u64,
    pub units: u64,
}

/// Transaction bodies of the workload, in order, and their mix.
pub(super) struct Flow {
    /// Each body with its sender's index.
    pub bodies: Vec<(usize, TxBody)>,
    pub mix: Mix,
}

impl Flow {
    /// The bodies with a zero signature, for the state machine alone,
    /// which does not check it.
    pub fn unsigned(&self) -> Vec<SignedTx> {
        self.bodies.iter().map(|(_, b)| unsigned(b)).collect()
    }
}

pub(super) fn unsigned(body: &TxBody) -> SignedTx {
    SignedTx::from_parts(body.clone(), Signature([0; 64]))
}

/// The class registration the workload needs, signed by `issuer`.
pub(super) fn register(issuer: &Keypair, state: &State) -> SignedTx {
    TxBody {
        genesis: state.genesis_hash(),
        sender: issuer.account(),
        nonce: state.next_nonce(&issuer.account()),
        valid_until: Timestamp(u64::MAX),
        kind: TxKind::ClassRegister {
            name: CLASS.into(),
            unit: UNIT.into(),
            lease_ms: LEASE_MS,
        },
    }
    .sign(issuer)
}

/// `n` operations by `senders` on `state` at `at`, applied to it as they
/// are made; `seed` draws them.
pub(super) fn make(
    state: &mut State,
    senders: &[Keypair],
    n: usize,
    at: Timestamp,
    seed: u64,
) -> Flow {
    let mut rng = StdRng::seed_from_u64(seed);
    // No lease ends in the workload, so the leases it adds are its fills.
    let leases_before = state.leases().count();
    let genesis = state.genesis_hash();
    let mut resting = resting_by_sender(state, senders);
    let mut flow = Flow {
        bodies: Vec::with_capacity(n),
        mix: Mix::default(),
    };
    for i in 0..n {
        let s = i % senders.len();
        let who = senders[s].account();
        resting[s].retain(|id| state.order(id).is_some());
        let nonce = state.next_nonce(&who);
        let cancel = !resting[s].is_empty()
            && (resting[s].len() >= ORDERS_OPEN_PER_ACCOUNT_MAX || rng.random_range(0..4) == 0);
        let kind = if cancel {
            let k = rng.random_range(0..resting[s].len());
            flow.mix.cancels += 1;
            TxKind::OrderCancel {
                order: resting[s].swap_remove(k),
            }
        } else {
            let may_bid = state.open_lease_count(&who) < LEASES_OPEN_PER_BUYER_MAX;
            let side = if may_bid && rng.random_range(0..2) == 0 {
                Side::Bid
            } else {
                Side::Ask
            };
            let price = match side {
                Side::Bid => rng.random_range(MID - SPREAD..=MID + CROSS),
                Side::Ask => rng.random_range(MID - CROSS..=MID + SPREAD),
            };
            flow.mix.places += 1;
            resting[s].push(OrderId::derive(&genesis, &who, nonce));
            TxKind::OrderPlace {
                terms: OrderTerms {
                    class: CLASS.into(),
                    side,
                    price: Amount::new(price),
                    quantity: rng.random_range(1..=QUANTITY_MAX),
                    expires_at: Timestamp(at.0 + EXPIRY_MS),
                },
            }
        };
        let body = TxBody {
            genesis,
            sender: who,
            nonce,
            valid_until: Timestamp(u64::MAX),
            kind,
        };
        let traded = state.class(CLASS).map_or(0, |c| c.traded);
        let applied = state.apply_tx(&unsigned(&body), at);
        if let Err(e) = applied {
            panic!(
                "workload operation {i} was refused ({}: {e}); this is a benchmark bug",
                e.code()
            );
        }
        let class = state.class(CLASS).expect("registered");
        flow.mix.units += class.traded - traded;
        flow.bodies.push((s, body));
    }
    flow.mix.fills = (state.leases().count() - leases_before) as u64;
    flow
}

/// What each sender has resting in `state` already, sorted by id (the
/// workload may start from a warmed book).
fn resting_by_sender(state: &State, senders: &[Keypair]) -> Vec<Vec<OrderId>> {
    let index: std::collections::HashMap<_, _> = senders
        .iter()
        .enumerate()
        .map(|(i, k)| (k.account(), i))
        .collect();
    let mut resting: Vec<Vec<OrderId>> = vec![Vec::new(); senders.len()];
    for (id, order) in state.orders() {
        if let Some(&s) = index.get(&order.owner) {
            resting[s].push(*id);
        }
    }
    for ids in &mut resting {
        ids.sort_unstable();
    }
    resting
}
