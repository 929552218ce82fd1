//! Payment channels, case by case: the rules the property test reaches only
//! rarely (work bounds, queued chains, the exact edges of expiry and grace,
//! domain separation of ticks and vouchers, spending limits).

mod common;

use common::*;
use ting_core::channel::{sign_voucher, ChainKey, TickSource};
use ting_core::limits::{CHANNEL_GRACE_MS, CLAIM_HASHES_MAX};
use ting_core::{
    Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, Hash32, Keypair, NetworkId, Nonce,
    Timestamp, TxKind,
};
use ting_ledger::{ChannelTerms, CloseKind, State, TxError};

const START: u64 = 1_000_000;
const EXPIRES: u64 = T0 + 60_000;

struct Fixture {
    state: State,
}

fn payer() -> Keypair {
    key(1)
}

fn payee() -> Keypair {
    key(2)
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            state: State::from_genesis(&genesis(START), 1),
        }
    }

    fn send(&mut self, who: &Keypair, kind: TxKind, at: u64) -> Result<(), TxError> {
        let nonce = self.state.next_nonce(&who.account()).0;
        let t = tx(who, who.account(), nonce, kind);
        let result = self.state.apply_tx(&t, Timestamp(at));
        assert_eq!(self.state.held_sum(), Some(self.state.supply()));
        let running = (self.state.balance_sum(), self.state.locked_sum());
        assert_eq!(running, self.state.walked_sums(), "running sums");
        result
    }

    fn next_id(&self) -> ChannelId {
        let payer = payer().account();
        ChannelId::derive(&genesis_hash(), &payer, self.state.next_nonce(&payer))
    }

    /// Opens a hash-chain channel of `len` ticks at `price`; returns its id and ticks.
    fn open_chain(&mut self, len: u32, price: u64, deposit: u64) -> (ChannelId, TickSource) {
        let id = self.next_id();
        let mut ticks = TickSource::new(ChainKey::new(&id, 0), Hash32::digest(&[b"seed"]), len);
        let mode = ChannelMode::HashChain {
            chain: ChainSegment {
                anchor: ticks.anchor(),
                len,
            },
            price: Amount::new(price),
        };
        let payer = payer();
        self.send(&payer, open(&payee(), deposit, mode), T0)
            .expect("opens");
        (id, ticks)
    }

    fn claim(&mut self, id: ChannelId, proof: ChannelProof, at: u64) -> Result<(), TxError> {
        let anyone = key(3);
        self.send(&anyone, TxKind::ChannelClaim { channel: id, proof }, at)
    }

    fn balance(&self, who: &Keypair) -> u64 {
        self.state
            .account(&who.account())
            .map_or(0, |a| a.balance.base_units())
    }
}

fn open(payee: &Keypair, deposit: u64, mode: ChannelMode) -> TxKind {
    TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(deposit),
        expires_at: Timestamp(EXPIRES),
        mode,
    }
}

fn tick(ticks: &mut TickSource, index: u32) -> ChannelProof {
    ChannelProof::Tick {
        index: u64::from(index),
        preimage: ticks.tick(index),
    }
}

#[test]
fn claims_pay_the_increase_once_and_only_to_the_payee() {
    let mut f = Fixture::new();
    let (id, mut ticks) = f.open_chain(100, 3, 1_000);
    assert_eq!(f.balance(&payer()), START - 1_000);
    f.claim(id, tick(&mut ticks, 10), T0).expect("claims");
    assert_eq!(f.balance(&payee()), START + 30);
    let again = f.claim(id, tick(&mut ticks, 10), T0);
    assert_eq!(again.map_err(|e| e.code()), Err("stale_claim"));
    let lower = f.claim(id, tick(&mut ticks, 4), T0);
    assert_eq!(lower.map_err(|e| e.code()), Err("stale_claim"));
    f.claim(id, tick(&mut ticks, 25), T0).expect("claims");
    assert_eq!(f.balance(&payee()), START + 75);
    // The claimant (key 3) paid nothing and received nothing.
    assert_eq!(f.balance(&key(3)), START);
    let c = f.state.channel(&id).expect("exists");
    assert_eq!(c.claimed, Amount::new(75));
    assert_eq!(c.locked(), Amount::new(925));
}

#[test]
fn a_claim_may_advance_at_most_the_work_limit_and_a_lower_tick_is_derivable() {
    let mut f = Fixture::new();
    let len = u32::try_from(CLAIM_HASHES_MAX).expect("small") + 100;
    let (id, mut ticks) = f.open_chain(len, 1, u64::from(len));
    let far = u32::try_from(CLAIM_HASHES_MAX + 1).expect("small");
    let refused = f.claim(id, tick(&mut ticks, far), T0);
    assert_eq!(refused.map_err(|e| e.code()), Err("claim_too_far"));
    // The payee holding tick `far` hashes it once to get the tick before it.
    let held = ticks.tick(far);
    let derived = ChainKey::new(&id, 0).step(&held);
    let proof = ChannelProof::Tick {
        index: u64::from(far - 1),
        preimage: derived,
    };
    f.claim(id, proof, T0).expect("the largest allowed step");
    f.claim(id, tick(&mut ticks, far), T0)
        .expect("then one more");
    let past = ChannelProof::Tick {
        index: u64::from(len) + 1,
        preimage: Hash32::ZERO,
    };
    assert_eq!(
        f.claim(id, past, T0).map_err(|e| e.code()),
        Err("tick_past_chain")
    );
}

#[test]
fn a_tick_of_one_channel_is_worthless_in_another() {
    let mut f = Fixture::new();
    let (first, mut first_ticks) = f.open_chain(50, 1, 50);
    // The same seed and length, but bound to another channel id.
    let (second, _) = f.open_chain(50, 1, 50);
    assert_ne!(first, second);
    let stolen = tick(&mut first_ticks, 5);
    let refused = f.claim(second, stolen, T0);
    assert_eq!(refused.map_err(|e| e.code()), Err("bad_channel_proof"));
    f.claim(first, stolen, T0).expect("valid where it belongs");
}

#[test]
fn a_voucher_is_bound_to_its_channel_network_and_payer() {
    let mut f = Fixture::new();
    let id = f.next_id();
    let payer = payer();
    f.send(&payer, open(&payee(), 500, ChannelMode::Voucher), T0)
        .expect("opens");
    let other_net = sign_voucher(&payer, NetworkId(NET.0 + 1), &id, Amount::new(10));
    let code = |r: Result<(), TxError>| r.map_err(|e| e.code());
    assert_eq!(code(f.claim(id, other_net, T0)), Err("bad_channel_proof"));
    let other_channel = sign_voucher(&payer, NET, &ChannelId(Hash32::ZERO), Amount::new(10));
    assert_eq!(
        code(f.claim(id, other_channel, T0)),
        Err("bad_channel_proof")
    );
    let not_payer = sign_voucher(&payee(), NET, &id, Amount::new(10));
    assert_eq!(code(f.claim(id, not_payer, T0)), Err("bad_channel_proof"));
    let over = sign_voucher(&payer, NET, &id, Amount::new(501));
    assert_eq!(code(f.claim(id, over, T0)), Err("claim_over_deposit"));
    f.claim(id, sign_voucher(&payer, NET, &id, Amount::new(10)), T0)
        .expect("claims");
    f.claim(id, sign_voucher(&payer, NET, &id, Amount::new(500)), T0)
        .expect("claims the whole deposit");
    assert_eq!(f.balance(&payee()), START + 500);
    let tick = ChannelProof::Tick {
        index: 1,
        preimage: Hash32::ZERO,
    };
    assert_eq!(code(f.claim(id, tick, T0)), Err("wrong_proof_kind"));
}

#[test]
fn a_queued_chain_continues_the_ticks_and_keeps_old_ones_claimable() {
    let mut f = Fixture::new();
    let (id, mut first) = f.open_chain(10, 2, 20);
    let mut second = TickSource::new(ChainKey::new(&id, 1), Hash32::digest(&[b"s2"]), 5);
    let extension = Some(ChainSegment {
        anchor: second.anchor(),
        len: 5,
    });
    let top_up = |amount: u64, extension| TxKind::ChannelTopUp {
        channel: id,
        amount: Amount::new(amount),
        expires_at: Timestamp(EXPIRES),
        extension,
    };
    let payer = payer();
    let short = f.send(&payer, top_up(9, extension), T0);
    assert_eq!(short.map_err(|e| e.code()), Err("deposit_too_small"));
    f.send(&payer, top_up(10, extension), T0).expect("extends");
    let again = f.send(&payer, top_up(10, extension), T0);
    assert_eq!(again.map_err(|e| e.code()), Err("segment_pending"));
    f.claim(id, tick(&mut first, 4), T0)
        .expect("claims in the first chain");
    // Tick 13 overall is tick 3 of the second chain; it pays ticks 5..=13.
    let crossing = ChannelProof::Tick {
        index: 13,
        preimage: second.tick(3),
    };
    f.claim(id, crossing, T0)
        .expect("crosses into the queued chain");
    assert_eq!(f.balance(&payee()), START + 13 * 2);
    let Some(ChannelTerms::HashChain(h)) = f.state.channel(&id).map(|c| c.mode.clone()) else {
        panic!("a hash-chain channel")
    };
    assert_eq!(
        (h.segment, h.base, h.claimed_index, h.next),
        (1, 10, 13, None)
    );
    f.send(
        &payer,
        top_up(
            0,
            Some(ChainSegment {
                anchor: Hash32::ZERO,
                len: 1,
            }),
        ),
        T0,
    )
    .expect_err("the deposit must back every tick");
}

#[test]
fn expiry_and_grace_edges_decide_who_may_act() {
    let mut f = Fixture::new();
    let (id, mut ticks) = f.open_chain(100, 1, 100);
    let end = EXPIRES + CHANNEL_GRACE_MS;
    let payer = payer();
    let top_up = TxKind::ChannelTopUp {
        channel: id,
        amount: Amount::new(1),
        expires_at: Timestamp(EXPIRES),
        extension: None,
    };
    let code = |r: Result<(), TxError>| r.map_err(|e| e.code());
    assert_eq!(
        code(f.send(&payer, top_up, EXPIRES)),
        Err("channel_expired")
    );
    let reclaim = TxKind::ChannelReclaim { channel: id };
    assert_eq!(
        code(f.send(&payer, reclaim.clone(), end - 1)),
        Err("too_early_to_reclaim")
    );
    f.claim(id, tick(&mut ticks, 30), end - 1)
        .expect("the last instant of grace");
    assert_eq!(
        code(f.claim(id, tick(&mut ticks, 31), end)),
        Err("claim_window_closed")
    );
    let payee = payee();
    assert_eq!(code(f.send(&payee, reclaim.clone(), end)), Err("not_payer"));
    f.send(&payer, reclaim.clone(), end).expect("reclaims");
    assert_eq!(
        f.balance(&payer),
        START - 30,
        "only what was not claimed returns"
    );
    assert_eq!(f.balance(&payee), START + 30);
    let c = f.state.channel(&id).expect("kept");
    assert_eq!(
        c.closed.map(|c| (c.by, c.refunded)),
        Some((CloseKind::Reclaim, Amount::new(70)))
    );
    assert_eq!(code(f.send(&payer, reclaim, end)), Err("channel_closed"));
}

#[test]
fn the_payee_closes_with_a_last_claim_and_the_rest_returns() {
    let mut f = Fixture::new();
    let (id, mut ticks) = f.open_chain(100, 2, 300);
    let payer = payer();
    let payee = payee();
    let close = |proof| TxKind::ChannelClose { channel: id, proof };
    let code = |r: Result<(), TxError>| r.map_err(|e| e.code());
    assert_eq!(code(f.send(&payer, close(None), T0)), Err("not_payee"));
    f.send(&payee, close(Some(tick(&mut ticks, 40))), T0)
        .expect("closes");
    assert_eq!(f.balance(&payee), START + 80);
    assert_eq!(f.balance(&payer), START - 80);
    assert_eq!(
        code(f.claim(id, tick(&mut ticks, 41), T0)),
        Err("channel_closed")
    );
    assert_eq!(f.state.channel(&id).map(|c| c.locked()), Some(Amount::ZERO));
    assert_eq!(f.state.open_channel_count(&payer.account()), 0);
}

#[test]
fn a_device_payers_deposits_count_against_its_daily_limit() {
    let mut f = Fixture::new();
    let owner = key(0);
    let device = payer();
    f.send(&owner, register(&owner, 0, &device).body().kind.clone(), T0)
        .expect("registers");
    let limit = TxKind::SetSpendLimit {
        device: device.account(),
        per_day: Some(Amount::new(100)),
    };
    f.send(&owner, limit, T0).expect("limits");
    let refused = f.send(&device, open(&payee(), 101, ChannelMode::Voucher), T0);
    assert_eq!(refused.map_err(|e| e.code()), Err("spend_limit_exceeded"));
    f.send(&device, open(&payee(), 100, ChannelMode::Voucher), T0)
        .expect("within the limit");
}

#[test]
fn opens_refuse_bad_terms() {
    let mut f = Fixture::new();
    let payer = payer();
    let payee = payee();
    let code = |r: Result<(), TxError>| r.map_err(|e| e.code());
    let chain = |len, price| ChannelMode::HashChain {
        chain: ChainSegment {
            anchor: Hash32::ZERO,
            len,
        },
        price: Amount::new(price),
    };
    assert_eq!(
        code(f.send(&payer, open(&payee, 10, chain(11, 1)), T0)),
        Err("deposit_too_small")
    );
    assert_eq!(
        code(f.send(&payer, open(&payee, 10, chain(0, 1)), T0)),
        Err("bad_chain")
    );
    assert_eq!(
        code(f.send(&payer, open(&payee, 10, chain(5, 0)), T0)),
        Err("zero_amount")
    );
    assert_eq!(
        code(f.send(&payer, open(&payer, 10, ChannelMode::Voucher), T0)),
        Err("self_transfer")
    );
    let past = TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(10),
        expires_at: Timestamp(T0),
        mode: ChannelMode::Voucher,
    };
    assert_eq!(code(f.send(&payer, past, T0)), Err("bad_expiry"));
    let too_much = open(&payee, START + 1, ChannelMode::Voucher);
    assert_eq!(
        code(f.send(&payer, too_much, T0)),
        Err("insufficient_funds")
    );
    assert_eq!(
        f.state.next_nonce(&payer.account()),
        Nonce(0),
        "refusals change nothing"
    );
}

#[test]
fn a_frozen_device_may_settle_channels_but_not_fund_them() {
    let mut f = Fixture::new();
    let owner = key(0);
    let device = payer();
    f.send(&owner, register(&owner, 0, &device).body().kind.clone(), T0)
        .expect("registers");
    let (id, _) = f.open_chain(10, 1, 10);
    let freeze = TxKind::Freeze {
        device: device.account(),
    };
    f.send(&owner, freeze, T0).expect("freezes");
    let top_up = TxKind::ChannelTopUp {
        channel: id,
        amount: Amount::new(1),
        expires_at: Timestamp(EXPIRES),
        extension: None,
    };
    let refused = f.send(&device, top_up, T0);
    assert_eq!(refused.map_err(|e| e.code()), Err("frozen"));
    let reclaim = TxKind::ChannelReclaim { channel: id };
    f.send(&device, reclaim, EXPIRES + CHANNEL_GRACE_MS)
        .expect("the deposit comes back to a frozen device");
    assert_eq!(f.balance(&device), START);
}
