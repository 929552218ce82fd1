//! Tests of the summaries in each account's history (schema version 3): kind,
//! role, other party, amount, flow and time, against the blocks and a model of
//! balance changes; paging and flows since a time; and the move from version 2.

use proptest::prelude::*;
use ting_core::limits::ACCOUNT_FLOWS_MAX;
use ting_core::Signature;

use super::*;

/// The balance change `tx` names for `account`: what a transfer, mint or sweep
/// moves, what an open, top-up or hold locks away. The model of [`Flow`].
fn balance_change(tx: &SignedTx, account: &AccountId) -> i128 {
    let is = |a: &AccountId| i128::from(a == account);
    let sender = is(&tx.sender());
    let units = |a: &Amount| i128::from(a.base_units());
    match tx.kind() {
        TxKind::Transfer { to, amount, .. } => (is(to) - sender) * units(amount),
        TxKind::Mint { to, amount } => is(to) * units(amount),
        TxKind::Sweep { device, amount } => (sender - is(device)) * units(amount),
        TxKind::ChannelOpen { deposit, .. } => -sender * units(deposit),
        TxKind::ChannelTopUp { amount, .. } => -sender * units(amount),
        TxKind::HoldCreate { terms } => -sender * units(&terms.amount),
        _ => 0,
    }
}

/// What `account`'s history should say of `tx`, from the transaction alone.
fn model_entry(
    parties: &HashMap<ChannelId, ChannelParties>,
    tx: &SignedTx,
    at: TxLocation,
    timestamp: Timestamp,
    account: &AccountId,
) -> HistoryEntry {
    let channel = tx.kind().channel().and_then(|c| parties.get(&c)).copied();
    let other_side = |p: ChannelParties| {
        if p.payee == *account {
            p.payer
        } else {
            p.payee
        }
    };
    let (role, other) = if tx.sender() == *account {
        let other = tx.kind().counterparty().or(channel.map(other_side));
        (HistoryRole::Sender, other)
    } else if tx.kind().counterparty() == Some(*account) {
        (HistoryRole::Counterparty, Some(tx.sender()))
    } else {
        let p = channel.expect("the account is a channel party");
        (HistoryRole::ChannelParty, Some(other_side(p)))
    };
    let flow = match balance_change(tx, account) {
        0 => None,
        d if d > 0 => Some(Flow::In),
        _ => Some(Flow::Out),
    };
    HistoryEntry {
        at,
        tx_hash: tx.hash(),
        timestamp,
        kind_tag: tx.kind().tag(),
        role,
        other,
        amount: tx.kind().amount(),
        flow,
    }
}

/// `account`'s history with summaries, newest first, computed from the blocks.
fn model_summaries(chain: &Chain, account: &AccountId) -> Vec<HistoryEntry> {
    let parties = model_parties(chain);
    let mut found = Vec::new();
    for block in &chain.blocks {
        for (index, tx) in (0u32..).zip(&block.txs) {
            if involves(&parties, tx, account) {
                let at = TxLocation {
                    height: block.header.height,
                    index,
                };
                let ts = block.header.timestamp;
                found.push(model_entry(&parties, tx, at, ts, account));
            }
        }
    }
    found.reverse();
    found
}

/// Pages through an account's summarised history `page` at a time.
fn paged_summaries(index: &Index, account: &AccountId, page: usize) -> Vec<HistoryEntry> {
    let mut all = Vec::new();
    let mut before = None;
    for _ in 0..1000 {
        let got = index.account_history(account, before, page).expect("reads");
        assert!(got.len() <= page);
        let Some(last) = got.last() else { break };
        before = Some(last.at);
        all.extend(got);
    }
    all
}

/// Checks the index against the model for every account, paging both ways.
fn check_against_model(index: &Index, chain: &Chain, accounts: &[AccountId]) {
    for account in accounts {
        let want = model_summaries(chain, account);
        for page in [1, 2, 5, ACCOUNT_TXS_PAGE_MAX] {
            assert_eq!(paged_summaries(index, account, page), want, "page {page}");
        }
        let plain: Vec<_> = want.iter().map(|e| (e.at, e.tx_hash)).collect();
        assert_eq!(paged_history(index, account, 3), plain);
    }
}

fn sweep(owner: &Keypair, nonce: u64, device: &Keypair, amount: u64) -> SignedTx {
    let kind = TxKind::Sweep {
        device: device.account(),
        amount: Amount::new(amount),
    };
    signed(owner, nonce, kind)
}

fn send(from: &Keypair, nonce: u64, to: &AccountId, amount: u64) -> SignedTx {
    let kind = TxKind::Transfer {
        to: *to,
        amount: Amount::new(amount),
        memo: Vec::new(),
    };
    signed(from, nonce, kind)
}

fn mint(issuer: &Keypair, nonce: u64, to: &AccountId, amount: u64) -> SignedTx {
    let kind = TxKind::Mint {
        to: *to,
        amount: Amount::new(amount),
    };
    signed(issuer, nonce, kind)
}

/// One of each kind the history summarises differently. Heights 1 to 4:
/// 1: the issuer mints 1000 to alice and 5 to itself;
/// 2: alice sends bob 300, bob sends himself 7, alice registers her device and sweeps 20 from it;
/// 3: alice opens a channel to bob (deposit 100), carol claims on it, alice tops it up by 5;
/// 4: bob closes it.
fn summary_chain() -> Chain {
    let mut chain = Chain::new();
    let (alice, bob, carol, device) = (key(10), key(11), key(12), key(20));
    let issuer = Keypair::from_seed([1; 32]);
    let txs = vec![
        mint(&issuer, 0, &alice.account(), 1000),
        mint(&issuer, 1, &issuer.account(), 5),
    ];
    chain.push_txs(txs);
    let register = TxKind::RegisterDevice {
        device: device.account(),
        metadata: b"meter".to_vec(),
        device_signature: Signature([0; 64]),
    };
    chain.push_txs(vec![
        send(&alice, 0, &bob.account(), 300),
        send(&bob, 0, &bob.account(), 7),
        signed(&alice, 1, register),
        sweep(&alice, 2, &device, 20),
    ]);
    let (ab, open_ab) = open(&alice, 3, &bob);
    let top_up = TxKind::ChannelTopUp {
        channel: ab,
        amount: Amount::new(5),
        expires_at: Timestamp(1_900_000_000_000),
        extension: None,
    };
    chain.push_txs(vec![
        open_ab,
        claim(&carol, 0, ab),
        signed(&alice, 4, top_up),
    ]);
    let close = TxKind::ChannelClose {
        channel: ab,
        proof: None,
    };
    chain.push_txs(vec![signed(&bob, 1, close)]);
    chain
}

/// The block at `height` (from 1).
fn block_at(chain: &Chain, height: u64) -> &Block {
    let at = usize::try_from(height - 1).expect("a height of the chain");
    &chain.blocks[at]
}

/// One expected entry, as a row: height, index, kind, role, other, amount, flow.
type Row = (
    u64,
    u32,
    &'static str,
    &'static str,
    Option<u8>,
    Option<u64>,
    Option<Flow>,
);

/// Checks `seed`'s history in `index` against rows, newest first; `other` is a
/// key seed (1 is the issuer); every entry's hash, time and kind are the block's.
fn check(index: &Index, chain: &Chain, seed: u8, rows: &[Row]) {
    let got = index
        .account_history(&key(seed).account(), None, 100)
        .expect("reads");
    let got: Vec<_> = got
        .iter()
        .map(|e| {
            let block = block_at(chain, e.at.height.0);
            let tx = &block.txs[e.at.index as usize];
            assert_eq!(e.tx_hash, tx.hash());
            assert_eq!(e.timestamp, block.header.timestamp);
            assert_eq!(e.kind_tag, tx.kind().tag());
            let other = e.other.map(|o| {
                (1..=30)
                    .find(|s| key(*s).account() == o)
                    .expect("a known key")
            });
            let amount = e.amount.map(|a| a.base_units());
            let (h, i) = (e.at.height.0, e.at.index);
            (h, i, e.kind_name(), e.role.name(), other, amount, e.flow)
        })
        .collect();
    assert_eq!(got, rows, "history of key {seed}");
}

#[test]
fn each_party_sees_its_role_the_other_party_the_amount_and_which_way_it_moved() {
    use Flow::{In, Out};
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = summary_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks).expect("indexes");
    let alice: &[Row] = &[
        (4, 0, "channel_close", "channel_party", Some(11), None, None),
        (
            3,
            2,
            "channel_top_up",
            "sender",
            Some(11),
            Some(5),
            Some(Out),
        ),
        (3, 1, "channel_claim", "channel_party", Some(11), None, None),
        (
            3,
            0,
            "channel_open",
            "sender",
            Some(11),
            Some(100),
            Some(Out),
        ),
        (2, 3, "sweep", "sender", Some(20), Some(20), Some(In)),
        (2, 2, "register_device", "sender", Some(20), None, None),
        (2, 0, "transfer", "sender", Some(11), Some(300), Some(Out)),
        (1, 0, "mint", "counterparty", Some(1), Some(1000), Some(In)),
    ];
    check(&index, &chain, 10, alice);
    let bob: &[Row] = &[
        (4, 0, "channel_close", "sender", Some(10), None, None),
        (
            3,
            2,
            "channel_top_up",
            "channel_party",
            Some(10),
            Some(5),
            None,
        ),
        (3, 1, "channel_claim", "channel_party", Some(10), None, None),
        (
            3,
            0,
            "channel_open",
            "counterparty",
            Some(10),
            Some(100),
            None,
        ),
        (2, 1, "transfer", "sender", Some(11), Some(7), None),
        (
            2,
            0,
            "transfer",
            "counterparty",
            Some(10),
            Some(300),
            Some(In),
        ),
    ];
    check(&index, &chain, 11, bob);
    let carol: &[Row] = &[(3, 1, "channel_claim", "sender", Some(11), None, None)];
    check(&index, &chain, 12, carol);
    let device: &[Row] = &[
        (2, 3, "sweep", "counterparty", Some(10), Some(20), Some(Out)),
        (
            2,
            2,
            "register_device",
            "counterparty",
            Some(10),
            None,
            None,
        ),
    ];
    check(&index, &chain, 20, device);
    let issuer: &[Row] = &[
        (1, 1, "mint", "sender", Some(1), Some(5), Some(In)),
        (1, 0, "mint", "sender", Some(10), Some(1000), None),
    ];
    check(&index, &chain, 1, issuer);
}

#[test]
fn spent_and_earned_are_the_amount_on_the_side_it_moved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = summary_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks).expect("indexes");
    let alice = index
        .account_history(&key(10).account(), None, 100)
        .expect("reads");
    let spent: u64 = alice
        .iter()
        .filter_map(|e| e.spent())
        .map(|a| a.base_units())
        .sum();
    let earned: u64 = alice
        .iter()
        .filter_map(|e| e.earned())
        .map(|a| a.base_units())
        .sum();
    assert_eq!((spent, earned), (300 + 100 + 5, 1000 + 20));
}

#[test]
fn summaries_match_the_model_for_every_account_however_the_history_is_paged() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, chain) in [("sample", sample_chain()), ("summary", summary_chain())] {
        let index = Index::open(&dir.path().join(name)).expect("opens");
        index.index_blocks(&chain.blocks).expect("indexes");
        let mut all = accounts(&chain);
        all.push(key(20).account());
        check_against_model(&index, &chain, &all);
    }
}

#[test]
fn a_summary_page_over_the_limit_is_refused_as_the_plain_page_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    let alice = key(10).account();
    let page = index.account_history(&alice, None, ACCOUNT_TXS_PAGE_MAX + 1);
    assert_eq!(page.map_err(|e| e.code()).err(), Some("page_too_large"));
    let flows = index.account_flows(&alice, Timestamp(0), ACCOUNT_FLOWS_MAX + 1);
    assert_eq!(flows.map_err(|e| e.code()).err(), Some("page_too_large"));
    assert_eq!(
        index.account_history(&alice, None, 0).expect("reads"),
        vec![]
    );
}

#[test]
fn flows_since_a_time_stop_at_the_first_older_entry_and_say_when_the_limit_cut_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = summary_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks).expect("indexes");
    let alice = key(10).account();
    let all = model_summaries(&chain, &alice);
    let since_height = |h: u64| block_at(&chain, h).header.timestamp;
    for (since, limit, len, complete) in [
        (Timestamp(0), ACCOUNT_FLOWS_MAX, 8, true),
        (since_height(2), 100, 7, true),
        (since_height(3), 3, 3, false),
        (since_height(3), 4, 4, true),
        (since_height(4), 1, 1, true),
        (Timestamp(since_height(4).0 + 1), 10, 0, true),
        (Timestamp(0), 0, 0, false),
    ] {
        let got = index.account_flows(&alice, since, limit).expect("reads");
        let want = AccountFlows {
            entries: all[..len].to_vec(),
            complete,
        };
        assert_eq!(got, want, "since {since:?}, limit {limit}");
    }
}

/// The tables of schema version 2, to write a file as that version's code did.
const ACCOUNT_TXS_V2: TableDefinition<&[u8; ACCOUNT_KEY_BYTES], &[u8; 32]> =
    TableDefinition::new("account_txs");

#[test]
fn an_index_of_schema_version_2_is_emptied_on_open_and_rebuilt_with_summaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.redb");
    let chain = summary_chain();
    let alice = key(10).account();
    {
        let db = Database::create(&path).expect("creates");
        let txn = db.begin_write().expect("writes");
        {
            let mut meta = txn.open_table(META).expect("meta");
            meta.insert(SCHEMA_VERSION_KEY, 2).expect("inserts");
            meta.insert(INDEXED_HEIGHT, chain.tip().0 .0)
                .expect("inserts");
            let mut v2 = txn.open_table(ACCOUNT_TXS_V2).expect("v2 table");
            let first = TxLocation {
                height: BlockHeight(1),
                index: 0,
            };
            let hash = chain.blocks[0].txs[0].hash();
            v2.insert(&crate::index::history::account_key(&alice, first), &hash.0)
                .expect("inserts");
        }
        txn.commit().expect("commits");
    }
    let index = Index::open(&path).expect("opens a version 2 file");
    assert_eq!(index.indexed_height().expect("reads"), BlockHeight(0));
    assert_eq!(
        index.account_history(&alice, None, 10).expect("reads"),
        vec![]
    );
    index.index_blocks(&chain.blocks).expect("rebuilds");
    check_against_model(&index, &chain, &[alice, key(11).account()]);
    drop(index);
    let reopened = Index::open(&path).expect("reopens at version 3");
    assert_eq!(reopened.indexed_height().expect("reads"), chain.tip().0);
    assert_eq!(
        reopened.account_history(&alice, None, 100).expect("reads"),
        model_summaries(&chain, &alice)
    );
}

#[test]
fn a_damaged_summary_is_refused_as_index_corrupt_and_the_hash_still_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.redb");
    let chain = summary_chain();
    let alice = key(10).account();
    drop({
        let index = Index::open(&path).expect("opens");
        index.index_blocks(&chain.blocks).expect("indexes");
        index
    });
    let first = TxLocation {
        height: BlockHeight(1),
        index: 0,
    };
    let key = crate::index::history::account_key(&alice, first);
    let write = |at: Option<usize>| {
        let db = Database::open(&path).expect("opens");
        let txn = db.begin_write().expect("writes");
        let original = {
            let mut table = txn.open_table(ACCOUNT_TXS).expect("opens");
            let original = *table.get(&key).expect("reads").expect("held").value();
            let mut value = original;
            if let Some(at) = at {
                value[at] = 0xff;
            }
            table.insert(&key, &value).expect("writes");
            original
        };
        txn.commit().expect("commits");
        original
    };
    for (at, what) in [(41, "role"), (42, "flags"), (40, "kind")] {
        let original = write(Some(at));
        let index = Index::open(&path).expect("opens");
        let read = index.account_history(&alice, None, 100);
        assert_eq!(
            read.map_err(|e| e.code()).err(),
            Some("index_corrupt"),
            "{what}"
        );
        let plain = index.account_txs(&alice, None, 100).expect("reads");
        assert_eq!(plain.len(), 8, "{what}");
        drop(index);
        let db = Database::open(&path).expect("opens");
        let txn = db.begin_write().expect("writes");
        txn.open_table(ACCOUNT_TXS)
            .expect("opens")
            .insert(&key, &original)
            .expect("restores");
        txn.commit().expect("commits");
    }
    let index = Index::open(&path).expect("opens");
    assert_eq!(
        index.account_history(&alice, None, 100).expect("reads"),
        model_summaries(&chain, &alice)
    );
}

/// One transaction of a generated chain, by account numbers (0 to 3; 4 is the issuer).
#[derive(Debug, Clone)]
enum Op {
    Send(u8, u8, u64),
    Mint(u8, u64),
    Sweep(u8, u8, u64),
    Open(u8, u8),
    Claim(u8, usize),
    TopUp(usize, u64),
    Close(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0u8..4;
    let amount = 1u64..1_000;
    prop_oneof![
        4 => (who.clone(), who.clone(), amount.clone()).prop_map(|(a, b, n)| Op::Send(a, b, n)),
        1 => (who.clone(), amount.clone()).prop_map(|(a, n)| Op::Mint(a, n)),
        1 => (who.clone(), who.clone(), amount.clone()).prop_map(|(a, b, n)| Op::Sweep(a, b, n)),
        1 => (who.clone(), who.clone()).prop_map(|(a, b)| Op::Open(a, b)),
        2 => (who, any::<usize>()).prop_map(|(a, c)| Op::Claim(a, c)),
        1 => (any::<usize>(), amount).prop_map(|(c, n)| Op::TopUp(c, n)),
        1 => any::<usize>().prop_map(Op::Close),
    ]
}

/// Builds a chain from `blocks` of ops; ops on a channel pick one already opened.
fn generated_chain(blocks: &[Vec<Op>]) -> Chain {
    let mut chain = Chain::new();
    let keys: Vec<Keypair> = (30..34).map(key).collect();
    let issuer = Keypair::from_seed([1; 32]);
    let mut nonces = [0u64; 5];
    let mut opened: Vec<(ChannelId, u8, u8)> = Vec::new();
    let mut opened_now = None;
    for ops in blocks {
        let mut txs = Vec::new();
        for op in ops {
            let mut next = |who: u8| {
                nonces[who as usize] += 1;
                nonces[who as usize]
            };
            let channel = |c: usize| pick(&opened, c);
            let tx = match *op {
                Op::Send(a, b, n) => {
                    send(&keys[a as usize], next(a), &keys[b as usize].account(), n)
                }
                Op::Mint(a, n) => mint(&issuer, next(4), &keys[a as usize].account(), n),
                Op::Sweep(a, b, n) => sweep(&keys[a as usize], next(a), &keys[b as usize], n),
                Op::Open(a, b) => {
                    let (id, tx) = open(&keys[a as usize], next(a), &keys[b as usize]);
                    opened_now = Some((id, a, b));
                    tx
                }
                Op::Claim(by, c) => match channel(c) {
                    Some((id, ..)) => claim(&keys[by as usize], next(by), id),
                    None => continue,
                },
                Op::TopUp(c, n) => match channel(c) {
                    Some((id, payer, _)) => {
                        let kind = TxKind::ChannelTopUp {
                            channel: id,
                            amount: Amount::new(n),
                            expires_at: Timestamp(1_900_000_000_000),
                            extension: None,
                        };
                        signed(&keys[payer as usize], next(payer), kind)
                    }
                    None => continue,
                },
                Op::Close(c) => match channel(c) {
                    Some((id, _, payee)) => {
                        let kind = TxKind::ChannelClose {
                            channel: id,
                            proof: None,
                        };
                        signed(&keys[payee as usize], next(payee), kind)
                    }
                    None => continue,
                },
            };
            txs.push(tx);
            opened.extend(opened_now.take());
        }
        chain.push_txs(txs);
    }
    chain
}

/// The channel an op numbered `c` acts on, if any is open.
fn pick(opened: &[(ChannelId, u8, u8)], c: usize) -> Option<(ChannelId, u8, u8)> {
    (!opened.is_empty()).then(|| opened[c % opened.len()])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn generated_histories_match_the_model_in_pages_and_flows(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..6), 1..10),
        split in 0usize..10,
        since_height in 0u64..11,
        limit in 1usize..12,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let chain = generated_chain(&blocks);
        let index = Index::open(&dir.path().join("index.redb")).expect("opens");
        let split = split.min(chain.blocks.len());
        index.index_blocks(&chain.blocks[..split]).expect("indexes");
        index.index_blocks(&chain.blocks[split..]).expect("indexes");
        let mut all: Vec<AccountId> = (30..34).map(|s| key(s).account()).collect();
        all.push(Keypair::from_seed([1; 32]).account());
        check_against_model(&index, &chain, &all);
        let since = Timestamp(1_700_000_000_000 + since_height);
        for account in &all {
            let recent: Vec<_> = model_summaries(&chain, account)
                .into_iter()
                .filter(|e| e.timestamp >= since)
                .collect();
            let got = index.account_flows(account, since, limit).expect("reads");
            prop_assert_eq!(got.complete, recent.len() <= limit);
            prop_assert_eq!(&got.entries[..], &recent[..recent.len().min(limit)]);
        }
    }
}
