//! Shared test fixtures: deterministic keys, a genesis and transaction builders.
#![allow(dead_code)]

use std::cell::Cell;
use ting_core::tx::device_consent_message;

use ting_core::{
    AccountId, Amount, Block, BlockDraft, BlockHeight, Genesis, Hash32, Keypair, NetworkId, Nonce,
    SignedTx, Timestamp, TxBody, TxKind,
};
use ting_ledger::State;

pub const NET: NetworkId = NetworkId(77);
pub const T0: u64 = 1_700_000_000_000;

pub fn key(i: u8) -> Keypair {
    Keypair::from_seed([i.wrapping_add(1); 32])
}

/// The identity point: a small-order key that can never be an account.
pub fn small_order() -> AccountId {
    let mut b = [0u8; 32];
    b[0] = 1;
    AccountId(b)
}

pub fn sequencer() -> Keypair {
    Keypair::from_seed([200; 32])
}

thread_local! {
    /// The hash of the genesis this test thread made last: the network the
    /// builders below sign for (a test makes its genesis before its
    /// transactions, and tests run one per thread).
    static GENESIS_HASH: Cell<Hash32> = const { Cell::new(Hash32::ZERO) };
}

/// The genesis hash the builders sign for: that of the last [`genesis`].
pub fn genesis_hash() -> Hash32 {
    GENESIS_HASH.with(Cell::get)
}

/// Transactions from the builders are valid until this ledger time.
pub const VALID_UNTIL: Timestamp = Timestamp(u64::MAX);

/// Key 0 is the issuer; keys 0..=3 start with `each` base units.
pub fn genesis(each: u64) -> Genesis {
    let g = genesis_unrecorded(each);
    GENESIS_HASH.with(|h| h.set(g.hash()));
    g
}

fn genesis_unrecorded(each: u64) -> Genesis {
    Genesis {
        name: "test".into(),
        network: NET,
        timestamp: Timestamp(T0),
        issuers: vec![key(0).account()],
        sequencers: vec![sequencer().account()],
        allocations: (0..4)
            .map(|i| (key(i).account(), Amount::new(each)))
            .collect(),
        clock: ting_core::LedgerClock::Real,
    }
}

pub fn tx(signer: &Keypair, sender: AccountId, nonce: u64, kind: TxKind) -> SignedTx {
    TxBody {
        genesis: genesis_hash(),
        sender,
        nonce: Nonce(nonce),
        valid_until: VALID_UNTIL,
        kind,
    }
    .sign(signer)
}

pub fn transfer(from: &Keypair, nonce: u64, to: AccountId, amount: u64) -> SignedTx {
    let kind = TxKind::Transfer {
        to,
        amount: Amount::new(amount),
        memo: Vec::new(),
    };
    tx(from, from.account(), nonce, kind)
}

pub fn register(owner: &Keypair, nonce: u64, device: &Keypair) -> SignedTx {
    let metadata = b"purifier".to_vec();
    let consent = device_consent_message(
        &genesis_hash(),
        &owner.account(),
        &device.account(),
        &metadata,
    );
    let kind = TxKind::RegisterDevice {
        device: device.account(),
        device_signature: device.sign(&consent),
        metadata,
    };
    tx(owner, owner.account(), nonce, kind)
}

/// Seals `txs`, already applied to `state`, as its next block at `at` (the
/// ledger does not check block signatures).
pub fn block(state: &mut State, at: u64, txs: Vec<SignedTx>) -> Block {
    let draft = BlockDraft {
        genesis: state.genesis_hash(),
        height: BlockHeight(state.height().0 + 1),
        epoch: 0,
        prev_hash: state.tip_hash(),
        timestamp: Timestamp(at),
        state_root: state.update_root(),
    };
    Block::seal(draft, txs, &sequencer())
}

/// Seals `txs`, not yet applied, as the next block of `state` at `at`, with
/// the state root they lead to.
pub fn next_block(state: &State, at: u64, txs: Vec<SignedTx>) -> Block {
    let mut after = state.clone();
    for tx in &txs {
        let _ = after.apply_tx(tx, Timestamp(at));
    }
    block(&mut after, at, txs)
}

/// Replaying `blocks` on a fresh state from `genesis` applies every
/// transaction and reaches `state` byte for byte, and `state` survives a
/// snapshot round trip (a different hasher seed each time).
pub fn replays_exactly(
    genesis: &Genesis,
    blocks: &[Block],
    state: &State,
) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::{prop_assert, prop_assert_eq};
    let mut replay = State::from_genesis(genesis, 9_999);
    for b in blocks {
        let receipts = replay.apply_block(b).expect("replayed block follows");
        prop_assert!(
            receipts.iter().all(Result::is_ok),
            "replay refused a transaction"
        );
    }
    prop_assert_eq!(replay.digest(), state.digest(), "replay diverged");
    sums_walked(state)?;
    sums_walked(&replay)?;
    let mut committed = state.clone();
    let root = committed.update_root();
    prop_assert_eq!(root, state.recomputed_root(), "incremental state root");
    prop_assert_eq!(replay.committed_root(), root, "replayed state root");
    let mut restored = State::decode(&state.encode(), 5).expect("snapshot decodes");
    if let Some(last) = blocks.last() {
        restored
            .adopt_tip_header(&last.header)
            .expect("the snapshot is at the last block");
    }
    restored
        .end_replay()
        .expect("the rebuilt map has the last block's root");
    prop_assert_eq!(restored.digest(), state.digest(), "snapshot round trip");
    prop_assert_eq!(restored.committed_root(), root, "snapshot state root");
    sums_walked(&restored)?;
    Ok(())
}

/// The running sums of balances and of what channels hold equal a walk over
/// every account and channel.
pub fn sums_walked(state: &State) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prop_assert_eq;
    let (balances, locked) = state.walked_sums();
    prop_assert_eq!(state.balance_sum(), balances, "running balance total");
    prop_assert_eq!(state.locked_sum(), locked, "running locked total");
    Ok(())
}
