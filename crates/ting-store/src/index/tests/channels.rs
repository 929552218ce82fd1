//! Tests of the index's channel tables: parties, each account's channels, and
//! channel transactions in both parties' histories.

use super::*;

/// The sample chain's two channels: alice pays bob (`ab`), bob pays alice (`ba`),
/// both opened in the block at height 7.
fn sample_channels() -> (ChannelId, ChannelId) {
    let ab = ChannelId::derive(&genesis_hash(), &key(10).account(), Nonce(2));
    let ba = ChannelId::derive(&genesis_hash(), &key(11).account(), Nonce(1));
    (ab, ba)
}

fn at(height: u64, index: u32) -> TxLocation {
    TxLocation {
        height: BlockHeight(height),
        index,
    }
}

fn entry(opened: TxLocation, channel: ChannelId, role: ChannelRole) -> AccountChannel {
    AccountChannel {
        opened,
        channel,
        role,
    }
}

/// Pages through an account's channels `page` at a time and returns them all.
fn paged_channels(
    index: &Index,
    account: &AccountId,
    role: Option<ChannelRole>,
    page: usize,
) -> Vec<AccountChannel> {
    let mut all = Vec::new();
    let mut before = None;
    for _ in 0..1000 {
        let got = index
            .account_channels(account, role, before, page)
            .expect("reads");
        assert!(got.len() <= page);
        let Some(last) = got.last() else { break };
        before = Some(last.opened);
        all.extend(got);
    }
    all
}

fn indexed_sample(dir: &tempfile::TempDir) -> (Chain, Index) {
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks).expect("indexes");
    (chain, index)
}

#[test]
fn an_account_lists_its_channels_on_either_side_newest_first_and_pages_without_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, index) = indexed_sample(&dir);
    let (ab, ba) = sample_channels();
    let alice = key(10).account();
    let both = vec![
        entry(at(7, 2), ba, ChannelRole::Payee),
        entry(at(7, 0), ab, ChannelRole::Payer),
    ];
    for page in [1, 2, 3, ACCOUNT_CHANNELS_PAGE_MAX] {
        assert_eq!(
            paged_channels(&index, &alice, None, page),
            both,
            "page {page}"
        );
    }
    let payer = paged_channels(&index, &alice, Some(ChannelRole::Payer), 1);
    assert_eq!(payer, both[1..].to_vec());
    let payee = paged_channels(&index, &alice, Some(ChannelRole::Payee), 1);
    assert_eq!(payee, both[..1].to_vec());
    let bob = paged_channels(&index, &key(11).account(), None, 5);
    let bob_want = vec![
        entry(at(7, 2), ba, ChannelRole::Payer),
        entry(at(7, 0), ab, ChannelRole::Payee),
    ];
    assert_eq!(bob, bob_want);
    assert_eq!(paged_channels(&index, &key(12).account(), None, 5), vec![]);
}

#[test]
fn a_channel_transaction_is_in_both_parties_histories_and_its_senders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (chain, index) = indexed_sample(&dir);
    let claim = chain.blocks[6].txs[1].hash();
    let close = chain.blocks[7].txs[1].hash();
    let reclaim = chain.blocks[9].txs[0].hash();
    let history = |seed: u8| {
        let page = index.account_txs(&key(seed).account(), None, 100);
        let page = page.expect("reads");
        move |hash: Hash32| page.iter().filter(|(_, h)| *h == hash).count()
    };
    let (alice, bob, carol) = (history(10), history(11), history(12));
    assert_eq!((alice(claim), bob(claim), carol(claim)), (1, 1, 1));
    assert_eq!((alice(close), bob(close), carol(close)), (1, 1, 0));
    assert_eq!((alice(reclaim), bob(reclaim)), (1, 1));
}

#[test]
fn parties_are_found_when_the_open_was_indexed_in_an_earlier_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chain = sample_chain();
    let index = Index::open(&dir.path().join("index.redb")).expect("opens");
    index.index_blocks(&chain.blocks[..7]).expect("indexes");
    index.index_blocks(&chain.blocks[7..]).expect("indexes");
    let (ab, _) = sample_channels();
    let parties = index.channel_parties(&ab).expect("reads");
    let want = ChannelParties {
        payer: key(10).account(),
        payee: key(11).account(),
    };
    assert_eq!(parties, Some(want));
    let unknown = ChannelId(Hash32::digest(&[b"no such channel"]));
    assert_eq!(index.channel_parties(&unknown).expect("reads"), None);
    for account in accounts(&chain) {
        let got = index.account_txs(&account, None, 100).expect("reads");
        assert_eq!(got, model_history(&chain, &account));
    }
}

#[test]
fn a_channel_page_over_the_limit_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, index) = indexed_sample(&dir);
    let alice = key(10).account();
    let too_big = index.account_channels(&alice, None, None, ACCOUNT_CHANNELS_PAGE_MAX + 1);
    assert_eq!(too_big.map_err(|e| e.code()).err(), Some("page_too_large"));
}

#[test]
fn reset_empties_the_channel_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, index) = indexed_sample(&dir);
    index.reset().expect("resets");
    let (ab, _) = sample_channels();
    assert_eq!(index.channel_parties(&ab).expect("reads"), None);
    assert_eq!(paged_channels(&index, &key(10).account(), None, 5), vec![]);
}

#[test]
fn an_index_of_the_schema_before_channels_is_emptied_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.redb");
    drop(indexed_sample(&dir));
    {
        let db = Database::open(&path).expect("opens");
        let txn = db.begin_write().expect("writes");
        txn.open_table(META)
            .expect("meta")
            .insert(SCHEMA_VERSION_KEY, 1)
            .expect("inserts");
        txn.commit().expect("commits");
    }
    let index = Index::open(&path).expect("reopens");
    assert_eq!(index.indexed_height().expect("reads"), BlockHeight(0));
    let (ab, _) = sample_channels();
    assert_eq!(index.channel_parties(&ab).expect("reads"), None);
}
