//! Property tests: the ledger against a simple model.
//!
//! Random sequences of transactions (valid and not: wrong nonces, overdrafts,
//! strangers acting as owners, mints by non-issuers, small-order keys, day
//! changes) go through both the real state machine and a model written as
//! plainly as possible with `u128` balances and `BTreeMap`s. For every
//! transaction the outcome code must agree; after every block the supply must
//! be conserved; every refusal must leave the state byte-identical; the
//! applied nonces of each sender must run 0, 1, 2 ...; and replaying the same
//! blocks on a fresh state must give the same state digest.

#![allow(clippy::cast_possible_truncation)] // small test indices

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use ting_core::limits::DAY_MS;
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, Keypair, Signature, SignedTx, Timestamp, TxKind};
use ting_ledger::State;

const KEYS: usize = 4;
const SMALL: usize = KEYS; // index of the small-order key
const START: u64 = 1_000;

#[derive(Clone, Debug)]
struct Op {
    sender: usize,
    kind: u8,
    target: usize,
    amount: u64,
    nonce_skew: i8,
    limit: Option<u64>,
    forge: bool,
}

#[derive(Clone, Debug)]
enum Step {
    Tx(Op),
    /// Cut the block and advance the clock by this many milliseconds.
    Cut(u64),
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..=KEYS,
        0u8..7,
        0..=KEYS,
        prop_oneof![6 => 0u64..12, 3 => 0u64..600, 1 => Just(u64::MAX)],
        prop_oneof![8 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        prop::option::of(prop_oneof![0u64..24, 0u64..600]),
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(sender, kind, target, amount, nonce_skew, limit, forge)| Op {
                sender,
                kind,
                target,
                amount,
                nonce_skew,
                limit,
                forge,
            },
        )
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            9 => op().prop_map(Step::Tx),
            1 => prop_oneof![0u64..1000, Just(DAY_MS / 2)].prop_map(Step::Cut),
        ],
        1..120,
    )
}

#[derive(Clone, Default, Debug)]
struct MDevice {
    owner: usize,
    limit: Option<u64>,
    frozen: bool,
    day: u64,
    spent: u64,
}

#[derive(Default, Debug)]
struct Model {
    balances: BTreeMap<usize, u128>,
    nonces: BTreeMap<usize, u64>,
    devices: BTreeMap<usize, MDevice>,
    supply: u128,
}

impl Model {
    fn new() -> Model {
        let mut m = Model::default();
        for i in 0..4 {
            m.balances.insert(i, u128::from(START));
            m.supply += u128::from(START);
        }
        m
    }

    fn bal(&self, i: usize) -> u128 {
        self.balances.get(&i).copied().unwrap_or(0)
    }

    fn owned(&self, owner: usize, dev: usize) -> Result<(), &'static str> {
        match self.devices.get(&dev) {
            None => Err("unknown_device"),
            Some(d) if d.owner != owner => Err("not_owner"),
            Some(_) => Ok(()),
        }
    }

    /// The model's outcome for `op` with nonce `nonce` at time `at`.
    fn apply(&mut self, op: &Op, nonce: u64, at: u64) -> Result<(), &'static str> {
        let (s, t, amt) = (op.sender, op.target, u128::from(op.amount));
        if !self.balances.contains_key(&s) {
            return Err("unknown_sender");
        }
        let expected = self.nonces.get(&s).copied().unwrap_or(0);
        if nonce != expected {
            return Err("bad_nonce");
        }
        if self.devices.get(&s).is_some_and(|d| d.frozen) {
            return Err("frozen");
        }
        match op.kind {
            0 => self.transfer(s, t, amt, at)?,
            1 => {
                if s != 0 {
                    return Err("unknown_issuer");
                }
                if amt == 0 {
                    return Err("zero_amount");
                }
                if self.supply + amt > u128::from(u64::MAX) {
                    return Err("overflow");
                }
                if t == SMALL && t != s {
                    return Err("invalid_recipient");
                }
                *self.balances.entry(t).or_default() += amt;
                self.supply += amt;
            }
            2 => {
                if t == s || t == SMALL {
                    return Err("invalid_device");
                }
                if let Some(d) = self.devices.get(&t) {
                    if d.owner != s {
                        return Err("already_registered");
                    }
                }
                if op.forge {
                    return Err("bad_device_signature");
                }
                self.devices.entry(t).or_insert(MDevice {
                    owner: s,
                    ..MDevice::default()
                });
            }
            3 => {
                self.owned(s, t)?;
                self.devices.get_mut(&t).expect("owned").limit = op.limit;
            }
            4 | 5 => {
                self.owned(s, t)?;
                self.devices.get_mut(&t).expect("owned").frozen = op.kind == 4;
            }
            _ => {
                self.owned(s, t)?;
                if amt == 0 {
                    return Err("zero_amount");
                }
                if self.bal(t) < amt {
                    return Err("insufficient_funds");
                }
                *self.balances.entry(t).or_default() -= amt;
                *self.balances.entry(s).or_default() += amt;
            }
        }
        self.balances.entry(s).or_default();
        self.nonces.insert(s, expected + 1);
        Ok(())
    }

    fn transfer(&mut self, s: usize, t: usize, amt: u128, at: u64) -> Result<(), &'static str> {
        if amt == 0 {
            return Err("zero_amount");
        }
        if s == t {
            return Err("self_transfer");
        }
        if self.bal(s) < amt {
            return Err("insufficient_funds");
        }
        let day = at / DAY_MS;
        let spend = match self.devices.get(&s) {
            None => None,
            Some(d) => {
                let spent = if d.day == day { u128::from(d.spent) } else { 0 };
                if d.limit.is_some_and(|l| spent + amt > u128::from(l)) {
                    return Err("spend_limit_exceeded");
                }
                Some(spent + amt)
            }
        };
        if t == SMALL {
            return Err("invalid_recipient");
        }
        *self.balances.entry(s).or_default() -= amt;
        *self.balances.entry(t).or_default() += amt;
        if let Some(spent) = spend {
            let d = self.devices.get_mut(&s).expect("device");
            d.day = day;
            d.spent = u64::try_from(spent).expect("bounded by supply");
        }
        Ok(())
    }
}

struct World {
    keys: Vec<Keypair>,
    ids: Vec<AccountId>,
}

impl World {
    fn new() -> World {
        let keys: Vec<Keypair> = (0..KEYS as u8).map(key).collect();
        let mut ids: Vec<AccountId> = keys.iter().map(Keypair::account).collect();
        ids.push(small_order());
        World { keys, ids }
    }

    fn build(&self, op: &Op, nonce: u64) -> SignedTx {
        let target = self.ids[op.target];
        let amount = Amount::new(op.amount);
        let kind = match op.kind {
            0 => TxKind::Transfer {
                to: target,
                amount,
                memo: vec![],
            },
            1 => TxKind::Mint { to: target, amount },
            2 => {
                let metadata = vec![op.target as u8];
                let msg = device_consent_message(
                    &genesis_hash(),
                    &self.ids[op.sender],
                    &target,
                    &metadata,
                );
                let device_signature = match self.keys.get(op.target) {
                    Some(k) if !op.forge => k.sign(&msg),
                    _ => Signature([7; 64]),
                };
                TxKind::RegisterDevice {
                    device: target,
                    metadata,
                    device_signature,
                }
            }
            3 => TxKind::SetSpendLimit {
                device: target,
                per_day: op.limit.map(Amount::new),
            },
            4 => TxKind::Freeze { device: target },
            5 => TxKind::Unfreeze { device: target },
            _ => TxKind::Sweep {
                device: target,
                amount,
            },
        };
        // The ledger does not check the sender's signature; any key signs.
        tx(&self.keys[0], self.ids[op.sender], nonce, kind)
    }
}

fn nonce_for(state: &State, world: &World, op: &Op) -> u64 {
    let next = state.next_nonce(&world.ids[op.sender]).0;
    next.saturating_add_signed(i64::from(op.nonce_skew))
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let world = World::new();
    let genesis = genesis(START);
    let mut state = State::from_genesis(&genesis, 42);
    let mut model = Model::new();
    let mut blocks = Vec::new();
    let mut pending: Vec<SignedTx> = Vec::new();
    let mut now = T0;
    let mut applied_nonces: BTreeMap<AccountId, Vec<u64>> = BTreeMap::new();
    for step in steps.iter().chain(std::iter::once(&Step::Cut(1))) {
        match step {
            Step::Tx(op) => {
                let nonce = nonce_for(&state, &world, op);
                let tx = world.build(op, nonce);
                let before = state.digest();
                let got = state.apply_tx(&tx, Timestamp(now));
                let want = model.apply(op, nonce, now);
                prop_assert_eq!(
                    got.as_ref().map(|_| ()).map_err(|e| e.code()),
                    want,
                    "op {:?}",
                    op
                );
                match got {
                    Ok(()) => {
                        applied_nonces.entry(tx.sender()).or_default().push(nonce);
                        pending.push(tx);
                    }
                    Err(_) => prop_assert_eq!(state.digest(), before, "refusal changed state"),
                }
                prop_assert_eq!(state.held_sum(), Some(state.supply()));
                sums_walked(&state)?;
                prop_assert_eq!(u128::from(state.supply().base_units()), model.supply);
            }
            Step::Cut(advance) => {
                let b = block(&mut state, now, std::mem::take(&mut pending));
                state.commit_block(&b.header).expect("block follows");
                blocks.push(b);
                now += advance;
            }
        }
    }
    for (i, id) in world.ids.iter().enumerate() {
        let real = state.account(id).map_or(0, |a| a.balance.base_units());
        prop_assert_eq!(u128::from(real), model.bal(i), "balance of key {}", i);
    }
    for nonces in applied_nonces.values() {
        let want: Vec<u64> = (0..nonces.len() as u64).collect();
        prop_assert_eq!(nonces, &want, "nonces must run 0, 1, 2 ...");
    }
    replays_exactly(&genesis, &blocks, &state)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn the_ledger_agrees_with_the_model(steps in steps()) {
        run(&steps)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    /// Fuzzes the snapshot decoder: mutated snapshots are refused or decode to
    /// a state whose own encoding is exactly the input; nothing panics.
    #[test]
    fn snapshot_decoding_never_panics(edits in prop::collection::vec((any::<u16>(), any::<u8>()), 1..5)) {
        let mut state = State::from_genesis(&genesis(START), 1);
        let a = key(1);
        let t = transfer(&a, 0, key(2).account(), 5);
        state.apply_tx(&t, Timestamp(T0)).expect("applies");
        let mut bytes = state.encode();
        for (at, value) in edits {
            let i = usize::from(at) % bytes.len();
            bytes[i] ^= value | 1;
        }
        if let Ok(decoded) = State::decode(&bytes, 3) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }
}
