//! Tests of the query index against a brute-force model computed from the blocks.

use std::collections::HashMap;

use super::*;
use crate::testkit::{genesis_hash, Chain};
use ting_core::limits::ACCOUNT_TXS_PAGE_MAX;
use ting_core::{
    AccountId, Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, Keypair, Nonce,
    SignedTx, Timestamp, TxBody, TxKind,
};

mod channels;
mod history;

fn key(seed: u8) -> Keypair {
    Keypair::from_seed([seed; 32])
}

fn signed(by: &Keypair, nonce: u64, kind: TxKind) -> SignedTx {
    TxBody {
        genesis: genesis_hash(),
        sender: by.account(),
        nonce: Nonce(nonce),
        valid_until: ting_core::Timestamp(u64::MAX),
        kind,
    }
    .sign(by)
}

fn open(payer: &Keypair, nonce: u64, payee: &Keypair) -> (ChannelId, SignedTx) {
    let kind = TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(100),
        expires_at: Timestamp(1_800_000_000_000),
        mode: ChannelMode::HashChain {
            chain: ChainSegment {
                anchor: Hash32::digest(&[b"anchor"]),
                len: 10,
            },
            price: Amount::new(1),
        },
    };
    let tx = signed(payer, nonce, kind);
    (tx.opened_channel().expect("an open"), tx)
}

fn claim(by: &Keypair, nonce: u64, channel: ChannelId) -> SignedTx {
    let proof = ChannelProof::Tick {
        index: nonce + 1,
        preimage: Hash32::digest(&[b"tick"]),
    };
    signed(by, nonce, TxKind::ChannelClaim { channel, proof })
}

/// A chain whose blocks hold mints (issuer to five recipients), transfers between
/// recipients, a mint from the issuer to itself, and channels: alice pays bob
/// through one opened and claimed (by carol) in one block, topped up and closed
/// later; bob pays alice through another, reclaimed.
fn sample_chain() -> Chain {
    let mut chain = Chain::new();
    chain.extend(3, 4);
    let (alice, bob, carol) = (key(10), key(11), key(12));
    let txs = vec![
        chain.transfer(&alice, &bob, 0),
        chain.transfer(&bob, &alice, 0),
        chain.transfer(&alice, &alice, 1),
    ];
    chain.push_txs(txs);
    chain.extend(2, 3);
    let (ab, open_ab) = open(&alice, 2, &bob);
    let (ba, open_ba) = open(&bob, 1, &alice);
    chain.push_txs(vec![open_ab, claim(&carol, 0, ab), open_ba]);
    let top_up = TxKind::ChannelTopUp {
        channel: ab,
        amount: Amount::new(5),
        expires_at: Timestamp(1_900_000_000_000),
        extension: None,
    };
    let close = TxKind::ChannelClose {
        channel: ab,
        proof: None,
    };
    let txs = vec![signed(&alice, 3, top_up), signed(&bob, 2, close)];
    chain.push_txs(txs);
    chain.extend(1, 2);
    let reclaim = TxKind::ChannelReclaim { channel: ba };
    chain.push_txs(vec![signed(&bob, 3, reclaim)]);
    chain
}

/// The parties of every channel opened in the chain.
fn model_parties(chain: &Chain) -> HashMap<ChannelId, ChannelParties> {
    let mut parties = HashMap::new();
    for tx in chain.blocks.iter().flat_map(|b| &b.txs) {
        if let TxKind::ChannelOpen { payee, .. } = tx.kind() {
            let p = ChannelParties {
                payer: tx.sender(),
                payee: *payee,
            };
            parties.insert(tx.opened_channel().expect("an open"), p);
        }
    }
    parties
}

/// Whether `tx` belongs in `account`'s history.
fn involves(
    parties: &HashMap<ChannelId, ChannelParties>,
    tx: &SignedTx,
    account: &AccountId,
) -> bool {
    let on_channel = tx
        .kind()
        .channel()
        .and_then(|c| parties.get(&c))
        .is_some_and(|p| p.payer == *account || p.payee == *account);
    tx.sender() == *account || tx.kind().counterparty() == Some(*account) || on_channel
}

/// Every account's history, newest first, computed from the blocks.
fn model_history(chain: &Chain, account: &AccountId) -> Vec<(TxLocation, Hash32)> {
    let parties = model_parties(chain);
    let mut found = Vec::new();
    for block in &chain.blocks {
        for (index, tx) in (0u32..).zip(&block.txs) {
            if involves(&parties, tx, account) {
                let at = TxLocation {
                    height: block.header.height,
                    index,
                };
                found.push((at, tx.hash()));
            }
        }
    }
    found.reverse();
    found
}

/// Pages through an account's history `page` at a time and returns it all.
fn paged_history(index: &Index, account: &AccountId, page: usize) -> Vec<(TxLocation, Hash32)> {
    let mut all = Vec::new();
    let mut before = None;
    for _ in 0..1000 {
        let got = index.account_txs(account, before, page).expect("reads");
        assert!(got.len() <= page);
        let Some(last) = got.last() else { break };
        before = Some(last.0);
        all.extend(got);
    }
    all
}

fn accounts(chain: &Chain) -> Vec<AccountId> {
    let mut all: Vec<AccountId> = (10..16)
        .map(|s| Keypair::from_seed([s; 32]).account())
        .collect();
    all.push(chain.issuer.account());
    all
}

#[test]
fn every_transaction_is_found_at_its_height_and_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks[..2]).expect("indexes");
    index.index_blocks(&chain.blocks[2..]).expect("indexes");
    assert_eq!(index.indexed_height().expect("reads"), chain.tip().0);
    for block in &chain.blocks {
        for (i, tx) in (0u32..).zip(&block.txs) {
            let want = TxLocation {
                height: block.header.height,
                index: i,
            };
            assert_eq!(index.tx_location(&tx.hash()).expect("reads"), Some(want));
        }
    }
    assert_eq!(index.tx_location(&Hash32::ZERO).expect("reads"), None);
}

#[test]
fn account_history_is_newest_first_holds_both_sides_once_and_pages_without_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks).expect("indexes");
    for account in accounts(&chain) {
        let want = model_history(&chain, &account);
        for page in [1, 2, 3, 7, ACCOUNT_TXS_PAGE_MAX] {
            assert_eq!(
                paged_history(&index, &account, page),
                want,
                "page size {page}"
            );
        }
    }
    let alice = Keypair::from_seed([10; 32]).account();
    let history = model_history(&chain, &alice);
    let sides = |want: bool| {
        let mut txs = chain.blocks.iter().flat_map(|b| &b.txs);
        txs.any(|tx| (tx.sender() == alice) == want && history.iter().any(|(_, h)| *h == tx.hash()))
    };
    assert!(sides(true) && sides(false), "alice both sent and received");
    let to_self = index
        .account_txs(&alice, None, ACCOUNT_TXS_PAGE_MAX)
        .expect("reads");
    let self_transfer = chain.blocks[3].txs[2].hash();
    assert_eq!(
        to_self.iter().filter(|(_, h)| *h == self_transfer).count(),
        1
    );
}

#[test]
fn a_page_over_the_limit_and_a_height_gap_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    let too_big = index.account_txs(&chain.issuer.account(), None, ACCOUNT_TXS_PAGE_MAX + 1);
    assert_eq!(too_big.map_err(|e| e.code()).err(), Some("page_too_large"));
    let gap = index.index_blocks(&chain.blocks[1..]);
    assert_eq!(gap.map_err(|e| e.code()).err(), Some("index_height_gap"));
    assert_eq!(index.indexed_height().expect("reads"), BlockHeight(0));
    assert_eq!(
        index
            .tx_location(&chain.blocks[1].txs[0].hash())
            .expect("reads"),
        None
    );
}

#[test]
fn reset_empties_the_index_and_it_can_be_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks).expect("indexes");
    index.reset().expect("resets");
    assert_eq!(index.indexed_height().expect("reads"), BlockHeight(0));
    let first = chain.blocks[0].txs[0].hash();
    assert_eq!(index.tx_location(&first).expect("reads"), None);
    for account in accounts(&chain) {
        assert_eq!(paged_history(&index, &account, 5), vec![]);
    }
    index.index_blocks(&chain.blocks).expect("indexes again");
    let issuer = chain.issuer.account();
    assert_eq!(
        paged_history(&index, &issuer, 5),
        model_history(&chain, &issuer)
    );
}

#[test]
fn a_reopened_index_keeps_what_was_flushed_or_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.redb");
    let chain = sample_chain();
    {
        let index = Index::open(&path).expect("opens");
        index.index_blocks(&chain.blocks[..3]).expect("indexes");
        index.flush().expect("flushes");
        index.index_blocks(&chain.blocks[3..]).expect("indexes");
    }
    let index = Index::open(&path).expect("reopens");
    assert_eq!(index.indexed_height().expect("reads"), chain.tip().0);
    let issuer = chain.issuer.account();
    assert_eq!(
        paged_history(&index, &issuer, 4),
        model_history(&chain, &issuer)
    );
}

#[test]
fn an_index_reopened_in_place_keeps_what_it_held_and_goes_on_indexing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks[..3]).expect("indexes");
    index.reopen().expect("reopens");
    // A clean close keeps even the commits that were not yet durable.
    assert_eq!(index.indexed_height().expect("reads"), BlockHeight(3));
    index
        .index_blocks(&chain.blocks[3..])
        .expect("indexes the rest");
    assert_eq!(index.indexed_height().expect("reads"), chain.tip().0);
    for account in accounts(&chain) {
        assert_eq!(
            paged_history(&index, &account, 3),
            model_history(&chain, &account)
        );
    }
}
