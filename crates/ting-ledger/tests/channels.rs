//! Property tests of payment channels against a plain model.
//!
//! Random sequences of channel transactions (open in both modes, claims with
//! real, forged, stale and too-far proofs, top-ups with and without a queued
//! chain, closes, reclaims) by random senders, and clock jumps onto the exact
//! edges of expiry and of the grace period, go through both the state machine
//! and a model kept as plain as possible. For every transaction the outcome
//! code must agree; after every one, balances plus what open channels hold
//! must equal the supply, and a refusal must leave the state byte-identical.
//! At the end: every channel paid its payee exactly what it recorded as
//! claimed, never more than its deposit, a settled channel holds nothing, and
//! replaying the blocks and round-tripping a snapshot give the same state.

#![allow(clippy::cast_possible_truncation)] // small test indices

mod common;

use common::*;
use proptest::prelude::*;
use ting_core::channel::{sign_voucher, ChainKey};
use ting_core::limits::{CHANNEL_GRACE_MS, CHANNEL_LIFETIME_MAX_MS, CLAIM_HASHES_MAX};
use ting_core::{
    Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, Hash32, Nonce, Signature, SignedTx,
    Timestamp, TxKind,
};
use ting_ledger::State;

const KEYS: usize = 4;
const START: u64 = 1_000_000;

#[derive(Clone, Debug)]
enum Op {
    Open {
        payer: usize,
        payee: usize,
        deposit: u64,
        expires_in: u64,
        /// `None` for a voucher channel; else (length, price).
        chain: Option<(u32, u64)>,
    },
    Claim {
        sender: usize,
        channel: usize,
        advance: u64,
        forge: bool,
        voucher: bool,
    },
    TopUp {
        sender: usize,
        channel: usize,
        amount: u64,
        extend_by: u64,
        extension: Option<u32>,
    },
    Close {
        sender: usize,
        channel: usize,
        proof: Option<(u64, bool)>,
    },
    Reclaim {
        sender: usize,
        channel: usize,
    },
}

#[derive(Clone, Debug)]
enum Step {
    Tx(Op),
    /// Cut the block, then move the clock forward by this many milliseconds.
    Wait(u64),
    /// Cut the block, then move the clock onto an edge of a channel's life:
    /// (channel, 0 = one before expiry, 1 = expiry, 2 = one before the end of
    /// grace, 3 = the end of grace), if that is not in the past.
    Edge(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let idx = 0..KEYS;
    prop_oneof![
        3 => (idx.clone(), idx.clone(), prop_oneof![4 => 0u64..300, 4 => 1u64..5000, 1 => Just(100_000u64)], prop_oneof![
                8 => 1u64..50_000, 1 => Just(0u64), 1 => Just(CHANNEL_LIFETIME_MAX_MS), 1 => Just(CHANNEL_LIFETIME_MAX_MS + 1)
            ], prop::option::of(prop_oneof![8 => (0u32..40, 0u64..8), 1 => (4000u32..6000, 1u64..3)]))
            .prop_map(|(payer, payee, deposit, expires_in, chain)| Op::Open { payer, payee, deposit, expires_in, chain }),
        5 => (idx.clone(), channel(), prop_oneof![8 => 0u64..12, 4 => 0u64..100, 1 => 4090u64..4100], prop::bool::weighted(0.1), prop::bool::weighted(0.05))
            .prop_map(|(sender, channel, advance, forge, voucher)| Op::Claim { sender, channel, advance, forge, voucher }),
        2 => (idx.clone(), channel(), prop_oneof![0u64..200, 200u64..2000], prop_oneof![Just(0u64), 0u64..10_000], prop::option::of(prop_oneof![1 => Just(0u32), 6 => 1u32..30]))
            .prop_map(|(sender, channel, amount, extend_by, extension)| Op::TopUp { sender, channel, amount, extend_by, extension }),
        1 => (idx.clone(), channel(), prop::option::of((0u64..40, prop::bool::weighted(0.1))))
            .prop_map(|(sender, channel, proof)| Op::Close { sender, channel, proof }),
        1 => (idx, channel()).prop_map(|(sender, channel)| Op::Reclaim { sender, channel }),
    ]
}

/// A channel by the order it was opened in; mostly one that exists.
fn channel() -> impl Strategy<Value = usize> {
    prop_oneof![8 => 0usize..3, 1 => 0usize..8]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            12 => op().prop_map(Step::Tx),
            1 => prop_oneof![0u64..2000, Just(CHANNEL_GRACE_MS)].prop_map(Step::Wait),
            2 => (channel(), 0u8..4).prop_map(|(c, e)| Step::Edge(c, e)),
        ],
        1..100,
    )
}

/// The model of one channel.
#[derive(Clone, Debug)]
struct MChannel {
    id: ChannelId,
    payer: usize,
    payee: usize,
    deposit: u64,
    claimed: u64,
    expires: u64,
    closed: bool,
    /// Hash chain: price, chain lengths in order (the last may be queued),
    /// which of them is current, and the highest claimed tick.
    chain: Option<MChain>,
    /// What this channel has paid its payee, counted by the test.
    paid_out: u64,
}

#[derive(Clone, Debug)]
struct MChain {
    price: u64,
    seeds: Vec<(Hash32, u32)>,
    current: usize,
    claimed_index: u64,
}

impl MChain {
    fn base(&self, segment: usize) -> u64 {
        self.seeds[..segment].iter().map(|s| u64::from(s.1)).sum()
    }
    fn total(&self) -> u64 {
        self.seeds.iter().map(|s| u64::from(s.1)).sum()
    }
    fn queued(&self) -> bool {
        self.seeds.len() > self.current + 1
    }
    /// The real tick at global index `g`, from the segment that holds it.
    fn tick(&self, id: &ChannelId, g: u64) -> Hash32 {
        let mut base = 0;
        for (s, (seed, len)) in self.seeds.iter().enumerate() {
            let len = u64::from(*len);
            if g <= base + len {
                let key = ChainKey::new(id, s as u32);
                return key.walk(seed, len - (g - base));
            }
            base += len;
        }
        Hash32::digest(&[b"past the chain"])
    }
}

#[derive(Debug)]
struct Model {
    balances: Vec<u64>,
    channels: Vec<MChannel>,
    supply: u64,
}

fn seed_for(channel: usize, segment: usize) -> Hash32 {
    Hash32::digest(&[
        &(channel as u64).to_le_bytes(),
        &(segment as u64).to_le_bytes(),
    ])
}

impl Model {
    fn reclaimable(c: &MChannel) -> u64 {
        c.expires + CHANNEL_GRACE_MS
    }

    fn open(&mut self, op: &Op, id: ChannelId, now: u64) -> Result<MChannel, &'static str> {
        let Op::Open {
            payer,
            payee,
            deposit,
            expires_in,
            chain,
        } = *op
        else {
            unreachable!()
        };
        if payer == payee {
            return Err("self_transfer");
        }
        if deposit == 0 {
            return Err("zero_amount");
        }
        if expires_in == 0 || expires_in > CHANNEL_LIFETIME_MAX_MS {
            return Err("bad_expiry");
        }
        let chain = match chain {
            None => None,
            Some((len, price)) => {
                if len == 0 {
                    return Err("bad_chain");
                }
                if price == 0 {
                    return Err("zero_amount");
                }
                if u64::from(len) * price > deposit {
                    return Err("deposit_too_small");
                }
                Some(MChain {
                    price,
                    seeds: vec![(seed_for(self.channels.len(), 0), len)],
                    current: 0,
                    claimed_index: 0,
                })
            }
        };
        if self.balances[payer] < deposit {
            return Err("insufficient_funds");
        }
        self.balances[payer] -= deposit;
        Ok(MChannel {
            id,
            payer,
            payee,
            deposit,
            claimed: 0,
            expires: now + expires_in,
            closed: false,
            chain,
            paid_out: 0,
        })
    }

    /// Checks a claim of `advance` past the last claim; returns the new claim
    /// state (claimed total, claimed index, current segment) and the payout.
    fn claim_check(
        c: &MChannel,
        advance: u64,
        forge: bool,
        voucher: bool,
    ) -> Result<(u64, u64, usize, u64), &'static str> {
        match (&c.chain, voucher) {
            (Some(ch), false) => {
                let g = ch.claimed_index + advance;
                if g <= ch.claimed_index {
                    return Err("stale_claim");
                }
                let current_end = ch.base(ch.current) + u64::from(ch.seeds[ch.current].1);
                let (segment, work) = if g <= current_end {
                    (ch.current, g - ch.claimed_index)
                } else {
                    if !ch.queued() || g > current_end + u64::from(ch.seeds[ch.current + 1].1) {
                        return Err("tick_past_chain");
                    }
                    (ch.current + 1, g - current_end)
                };
                if work > CLAIM_HASHES_MAX {
                    return Err("claim_too_far");
                }
                if forge {
                    return Err("bad_channel_proof");
                }
                let payout = (g - ch.claimed_index) * ch.price;
                Ok((c.claimed + payout, g, segment, payout))
            }
            (None, true) => {
                let amount = c.claimed + advance;
                if amount <= c.claimed {
                    return Err("stale_claim");
                }
                if amount > c.deposit {
                    return Err("claim_over_deposit");
                }
                if forge {
                    return Err("bad_channel_proof");
                }
                Ok((amount, 0, 0, advance))
            }
            _ => Err("wrong_proof_kind"),
        }
    }

    fn usable(&self, channel: usize) -> Result<(), &'static str> {
        match self.channels.get(channel) {
            None => Err("unknown_channel"),
            Some(c) if c.closed => Err("channel_closed"),
            Some(_) => Ok(()),
        }
    }

    fn pay(&mut self, channel: usize, (claimed, index, segment, payout): (u64, u64, usize, u64)) {
        let c = &mut self.channels[channel];
        c.claimed = claimed;
        c.paid_out += payout;
        if let Some(ch) = &mut c.chain {
            ch.claimed_index = index;
            ch.current = segment;
        }
        let payee = c.payee;
        self.balances[payee] += payout;
    }

    fn apply(&mut self, op: &Op, now: u64) -> Result<(), &'static str> {
        match *op {
            Op::Open { .. } => unreachable!("handled by the runner, which knows the id"),
            Op::Claim {
                channel,
                advance,
                forge,
                voucher,
                ..
            } => {
                self.usable(channel)?;
                let c = &self.channels[channel];
                if now >= Self::reclaimable(c) {
                    return Err("claim_window_closed");
                }
                // A voucher channel is always sent a voucher; a chain channel
                // a tick unless the op asks for the wrong kind.
                let voucher = voucher || c.chain.is_none();
                let update = Self::claim_check(c, advance, forge, voucher)?;
                self.pay(channel, update);
            }
            Op::TopUp {
                sender,
                channel,
                amount,
                extend_by,
                extension,
            } => {
                self.usable(channel)?;
                let c = &self.channels[channel];
                if c.payer != sender {
                    return Err("not_payer");
                }
                if now >= c.expires {
                    return Err("channel_expired");
                }
                let expires = c.expires + extend_by;
                if expires - now > CHANNEL_LIFETIME_MAX_MS {
                    return Err("bad_expiry");
                }
                if amount == 0 && extend_by == 0 && extension.is_none() {
                    return Err("zero_amount");
                }
                let deposit = c.deposit + amount;
                if let Some(len) = extension {
                    let Some(ch) = &c.chain else {
                        return Err("wrong_proof_kind");
                    };
                    if ch.queued() {
                        return Err("segment_pending");
                    }
                    if len == 0 {
                        return Err("bad_chain");
                    }
                    if (ch.total() + u64::from(len)) * ch.price > deposit {
                        return Err("deposit_too_small");
                    }
                }
                if self.balances[sender] < amount {
                    return Err("insufficient_funds");
                }
                self.balances[sender] -= amount;
                let c = &mut self.channels[channel];
                c.deposit = deposit;
                c.expires = expires;
                if let (Some(len), Some(ch)) = (extension, &mut c.chain) {
                    let segment = ch.seeds.len();
                    ch.seeds.push((seed_for(channel, segment), len));
                }
            }
            Op::Close {
                sender,
                channel,
                proof,
            } => {
                self.usable(channel)?;
                let c = &self.channels[channel];
                if c.payee != sender {
                    return Err("not_payee");
                }
                if let Some((advance, forge)) = proof {
                    if now >= Self::reclaimable(c) {
                        return Err("claim_window_closed");
                    }
                    let voucher = c.chain.is_none();
                    let update = Self::claim_check(c, advance, forge, voucher)?;
                    self.pay(channel, update);
                }
                let c = &mut self.channels[channel];
                let refund = c.deposit - c.claimed;
                c.closed = true;
                let payer = c.payer;
                self.balances[payer] += refund;
            }
            Op::Reclaim { sender, channel } => {
                self.usable(channel)?;
                let c = &self.channels[channel];
                if c.payer != sender {
                    return Err("not_payer");
                }
                if now < Self::reclaimable(c) {
                    return Err("too_early_to_reclaim");
                }
                let refund = c.deposit - c.claimed;
                let c = &mut self.channels[channel];
                c.closed = true;
                let payer = c.payer;
                self.balances[payer] += refund;
            }
        }
        Ok(())
    }
}

/// Builds the transaction for `op` as the real ledger sees it.
fn build(model: &Model, op: &Op, sender_nonce: u64, unknown: ChannelId) -> (usize, TxKind) {
    let channel_id = |i: usize| model.channels.get(i).map_or(unknown, |c| c.id);
    let proof = |i: usize, advance: u64, forge: bool, voucher: bool| -> ChannelProof {
        let Some(c) = model.channels.get(i) else {
            return ChannelProof::Tick {
                index: advance,
                preimage: Hash32::ZERO,
            };
        };
        match (&c.chain, voucher) {
            (Some(ch), false) => {
                let index = ch.claimed_index + advance;
                let mut preimage = ch.tick(&c.id, index);
                if forge {
                    preimage.0[0] ^= 1;
                }
                ChannelProof::Tick { index, preimage }
            }
            _ => {
                let amount = Amount::new(c.claimed + advance);
                let mut proof = sign_voucher(&key(c.payer as u8), NET, &c.id, amount);
                if forge {
                    proof = ChannelProof::Voucher {
                        amount,
                        signature: Signature([9; 64]),
                    };
                }
                proof
            }
        }
    };
    let _ = sender_nonce;
    match *op {
        Op::Open {
            payer,
            payee,
            deposit,
            chain,
            ..
        } => {
            let mode = match chain {
                None => ChannelMode::Voucher,
                Some((len, price)) => {
                    let seed = seed_for(model.channels.len(), 0);
                    let id = ChannelId::derive(
                        &genesis_hash(),
                        &key(payer as u8).account(),
                        Nonce(sender_nonce),
                    );
                    let anchor = ChainKey::new(&id, 0).walk(&seed, u64::from(len));
                    ChannelMode::HashChain {
                        chain: ChainSegment { anchor, len },
                        price: Amount::new(price),
                    }
                }
            };
            (
                payer,
                TxKind::ChannelOpen {
                    payee: key(payee as u8).account(),
                    deposit: Amount::new(deposit),
                    expires_at: Timestamp(0), // set by the runner
                    mode,
                },
            )
        }
        Op::Claim {
            sender,
            channel,
            advance,
            forge,
            voucher,
        } => (
            sender,
            TxKind::ChannelClaim {
                channel: channel_id(channel),
                proof: proof(channel, advance, forge, voucher),
            },
        ),
        Op::TopUp {
            sender,
            channel,
            amount,
            extend_by,
            extension,
        } => {
            let c = model.channels.get(channel);
            let extension = extension.map(|len| {
                let anchor = c.and_then(|c| {
                    c.chain.as_ref().map(|ch| {
                        let segment = ch.seeds.len();
                        let seed = seed_for(channel, segment);
                        ChainKey::new(&c.id, segment as u32).walk(&seed, u64::from(len))
                    })
                });
                ChainSegment {
                    anchor: anchor.unwrap_or(Hash32::ZERO),
                    len,
                }
            });
            (
                sender,
                TxKind::ChannelTopUp {
                    channel: channel_id(channel),
                    amount: Amount::new(amount),
                    expires_at: Timestamp(c.map_or(0, |c| c.expires) + extend_by),
                    extension,
                },
            )
        }
        Op::Close {
            sender,
            channel,
            proof: p,
        } => {
            let voucher = model
                .channels
                .get(channel)
                .is_some_and(|c| c.chain.is_none());
            (
                sender,
                TxKind::ChannelClose {
                    channel: channel_id(channel),
                    proof: p.map(|(advance, forge)| proof(channel, advance, forge, voucher)),
                },
            )
        }
        Op::Reclaim { sender, channel } => (
            sender,
            TxKind::ChannelReclaim {
                channel: channel_id(channel),
            },
        ),
    }
}

fn edge_time(model: &Model, channel: usize, edge: u8) -> Option<u64> {
    let c = model.channels.get(channel)?;
    Some(match edge {
        0 => c.expires - 1,
        1 => c.expires,
        2 => c.expires + CHANNEL_GRACE_MS - 1,
        _ => c.expires + CHANNEL_GRACE_MS,
    })
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let genesis = genesis(START);
    let mut state = State::from_genesis(&genesis, 42);
    let mut model = Model {
        balances: vec![START; KEYS],
        channels: Vec::new(),
        supply: START * KEYS as u64,
    };
    let unknown = ChannelId(Hash32::digest(&[b"no such channel"]));
    let mut blocks = Vec::new();
    let mut pending: Vec<SignedTx> = Vec::new();
    let mut now = T0;
    for step in steps.iter().chain(std::iter::once(&Step::Wait(1))) {
        let next_time = match step {
            Step::Tx(op) => {
                let (sender, mut kind) = build(&model, op, 0, unknown);
                let sender_id = key(sender as u8).account();
                let nonce = state.next_nonce(&sender_id).0;
                if let Op::Open { .. } = op {
                    (_, kind) = build(&model, op, nonce, unknown);
                    if let (TxKind::ChannelOpen { expires_at, .. }, Op::Open { expires_in, .. }) =
                        (&mut kind, op)
                    {
                        *expires_at = Timestamp(now + expires_in);
                    }
                }
                let tx = tx(&key(0), sender_id, nonce, kind);
                let before = state.digest();
                let got = state.apply_tx(&tx, Timestamp(now));
                let want = match op {
                    Op::Open { .. } => {
                        let id = ChannelId::derive(&genesis_hash(), &sender_id, Nonce(nonce));
                        model.open(op, id, now).map(|c| model.channels.push(c))
                    }
                    _ => model.apply(op, now),
                };
                prop_assert_eq!(
                    got.as_ref().map(|_| ()).map_err(|e| e.code()),
                    want,
                    "op {:?}",
                    op
                );
                match got {
                    Ok(()) => pending.push(tx),
                    Err(_) => prop_assert_eq!(state.digest(), before, "refusal changed state"),
                }
                prop_assert_eq!(
                    state.held_sum(),
                    Some(state.supply()),
                    "supply not conserved"
                );
                sums_walked(&state)?;
                continue;
            }
            Step::Wait(ms) => Some(now + ms),
            Step::Edge(c, e) => edge_time(&model, *c, *e).filter(|&t| t >= now),
        };
        let b = block(&mut state, now, std::mem::take(&mut pending));
        state.commit_block(&b.header).expect("block follows");
        blocks.push(b);
        if let Some(t) = next_time {
            now = t;
        }
    }
    check_end(&state, &model, &genesis, &blocks)
}

fn check_end(
    state: &State,
    model: &Model,
    genesis: &ting_core::Genesis,
    blocks: &[ting_core::Block],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(state.supply().base_units(), model.supply);
    for (i, want) in model.balances.iter().enumerate() {
        let real = state
            .account(&key(i as u8).account())
            .map_or(0, |a| a.balance.base_units());
        prop_assert_eq!(real, *want, "balance of key {}", i);
    }
    for m in &model.channels {
        let c = state
            .channel(&m.id)
            .expect("every opened channel stays in the state");
        prop_assert_eq!(
            c.claimed.base_units(),
            m.paid_out,
            "paid exactly what was claimed"
        );
        prop_assert!(c.claimed <= c.deposit, "claimed more than the deposit");
        prop_assert_eq!(c.deposit.base_units(), m.deposit);
        prop_assert_eq!(c.closed.is_some(), m.closed);
        if let Some(closed) = c.closed {
            prop_assert_eq!(closed.refunded.base_units(), m.deposit - m.claimed);
            prop_assert_eq!(c.locked(), Amount::ZERO);
        }
    }
    replays_exactly(genesis, blocks, state)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn channels_agree_with_the_model(steps in steps()) {
        run(&steps)?;
    }
}
