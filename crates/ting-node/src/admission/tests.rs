//! The door against a real state: memory, cheap checks and budgets together.

use std::time::{Duration, Instant};

use ting_core::{Amount, Genesis, Hash32, Keypair, Nonce, SignedTx, Timestamp, TxBody, TxKind};
use ting_ledger::State;

use super::*;

const FAR: Timestamp = Timestamp(4_000_000_000_000);

struct World {
    genesis: Hash32,
    state: State,
    rich: Keypair,
}

fn world() -> World {
    let rich = Keypair::from_seed([1; 32]);
    let g = Genesis {
        name: "door".into(),
        network: ting_core::NetworkId(7),
        timestamp: Timestamp(1_700_000_000_000),
        issuers: vec![],
        sequencers: vec![Keypair::from_seed([2; 32]).account()],
        allocations: vec![(rich.account(), Amount::new(1_000_000))],
        clock: ting_core::LedgerClock::Real,
    };
    let state = State::from_genesis(&g, 1);
    World {
        genesis: g.hash(),
        state,
        rich,
    }
}

fn transfer(w: &World, from: &Keypair, nonce: u64, memo: u8) -> SignedTx {
    TxBody {
        genesis: w.genesis,
        sender: from.account(),
        nonce: Nonce(nonce),
        valid_until: FAR,
        kind: TxKind::Transfer {
            to: Keypair::from_seed([9; 32]).account(),
            amount: Amount::new(1),
            memo: vec![memo],
        },
    }
    .sign(from)
}

fn screen(
    a: &Admission,
    w: &World,
    source: Source,
    txs: &[SignedTx],
    now: Instant,
) -> Vec<Option<&'static str>> {
    let view = View {
        genesis: &w.genesis,
        state: &w.state,
    };
    a.screen(source, txs, &view, now)
        .into_iter()
        .map(|r| r.map(|r| r.code))
        .collect()
}

const PEER: Source = Source::Peer(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));
const OTHER: Source = Source::Peer(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)));

#[test]
fn the_same_bytes_twice_are_answered_pending_until_the_pipeline_is_done() {
    let w = world();
    let a = Admission::default();
    let now = Instant::now();
    let tx = transfer(&w, &w.rich, 0, 1);
    assert_eq!(
        screen(&a, &w, PEER, &[tx.clone(), tx.clone()], now),
        [None, Some("already_pending")]
    );
    assert_eq!(
        screen(&a, &w, PEER, std::slice::from_ref(&tx), now),
        [Some("already_pending")]
    );
    a.leave(&tx.hash());
    assert_eq!(screen(&a, &w, PEER, std::slice::from_ref(&tx), now), [None]);
}

#[test]
fn a_final_refusal_is_answered_from_memory_and_a_state_refusal_is_not() {
    let w = world();
    let a = Admission::default();
    let now = Instant::now();
    let bad = transfer(&w, &w.rich, 0, 2);
    assert_eq!(
        screen(&a, &w, PEER, std::slice::from_ref(&bad), now),
        [None]
    );
    a.refused(&Refusal {
        tx_hash: bad.hash(),
        code: "bad_signature",
        message: "the signature does not verify".into(),
    });
    assert_eq!(
        screen(&a, &w, OTHER, std::slice::from_ref(&bad), now),
        [Some("bad_signature")]
    );
    let poor = transfer(&w, &w.rich, 0, 3);
    assert_eq!(
        screen(&a, &w, PEER, std::slice::from_ref(&poor), now),
        [None]
    );
    a.refused(&Refusal {
        tx_hash: poor.hash(),
        code: "insufficient_funds",
        message: String::new(),
    });
    // It may apply once the account is funded: checked again.
    assert_eq!(
        screen(&a, &w, PEER, std::slice::from_ref(&poor), now),
        [None]
    );
}

#[test]
fn cheap_checks_refuse_strangers_far_nonces_and_other_networks() {
    let w = world();
    let a = Admission::default();
    let now = Instant::now();
    let stranger = Keypair::from_seed([5; 32]);
    let far = transfer(&w, &w.rich, ting_core::limits::NONCE_AHEAD_MAX + 1, 4);
    let other = World {
        genesis: Hash32([3; 32]),
        ..world()
    };
    let foreign = transfer(&other, &w.rich, 0, 5);
    let txs = [transfer(&w, &stranger, 0, 6), far, foreign];
    assert_eq!(
        screen(&a, &w, Source::Local, &txs, now),
        [
            Some("unknown_sender"),
            Some("bad_nonce"),
            Some("wrong_network")
        ]
    );
}

#[test]
fn a_sender_credited_earlier_in_the_same_submission_is_known() {
    let w = world();
    let a = Admission::default();
    let newcomer = Keypair::from_seed([9; 32]);
    let fund = transfer(&w, &w.rich, 0, 7);
    let spend = transfer(&w, &newcomer, 0, 8);
    assert_eq!(
        screen(&a, &w, PEER, &[fund, spend], Instant::now()),
        [None, None]
    );
}

#[test]
fn a_spent_source_budget_refuses_that_source_only_and_comes_back() {
    let w = world();
    let a = Admission::default();
    let now = Instant::now();
    let stranger = Keypair::from_seed([5; 32]);
    let burst = ting_core::limits::REFUSALS_PER_SOURCE_BURST;
    let txs: Vec<SignedTx> = (0..burst).map(|i| transfer(&w, &stranger, i, 0)).collect();
    assert!(screen(&a, &w, PEER, &txs, now)
        .iter()
        .all(|c| *c == Some("unknown_sender")));
    let good = transfer(&w, &w.rich, 0, 9);
    assert_eq!(
        screen(&a, &w, PEER, std::slice::from_ref(&good), now),
        [Some("refusal_budget")]
    );
    assert_eq!(
        screen(&a, &w, OTHER, std::slice::from_ref(&good), now),
        [None]
    );
    a.leave(&good.hash());
    // In-process callers have no source budget.
    assert_eq!(
        screen(&a, &w, Source::Local, std::slice::from_ref(&good), now),
        [None]
    );
    a.leave(&good.hash());
    let later = now + Duration::from_secs(1);
    assert_eq!(
        screen(&a, &w, PEER, std::slice::from_ref(&good), later),
        [None]
    );
}

#[test]
fn a_spent_sender_budget_refuses_that_sender_from_any_source() {
    let w = world();
    let a = Admission::default();
    let now = Instant::now();
    let sender = w.rich.account();
    for _ in 0..ting_core::limits::REFUSALS_PER_SENDER_BURST {
        a.charge(Source::Local, Some(&sender), now);
    }
    let tx = transfer(&w, &w.rich, 0, 10);
    assert_eq!(
        screen(&a, &w, OTHER, std::slice::from_ref(&tx), now),
        [Some("refusal_budget")]
    );
    assert!(a.sender_exhausted(&sender, now).is_some());
}

#[test]
fn ipv6_clients_share_a_budget_per_64() {
    let a = Admission::default();
    let now = Instant::now();
    let ip = |last: u16| {
        Source::Peer(std::net::IpAddr::V6(std::net::Ipv6Addr::new(
            0x2001, 0xdb8, 1, 2, 0, 0, 0, last,
        )))
    };
    for i in 0..ting_core::limits::REFUSALS_PER_SOURCE_BURST {
        a.charge(ip(u16::try_from(i % 60_000).expect("small")), None, now);
    }
    assert!(a.source_exhausted(ip(7), now).is_some());
    let elsewhere = Source::Peer(std::net::IpAddr::V6(std::net::Ipv6Addr::new(
        0x2001, 0xdb8, 1, 3, 0, 0, 0, 1,
    )));
    assert!(a.source_exhausted(elsewhere, now).is_none());
}
