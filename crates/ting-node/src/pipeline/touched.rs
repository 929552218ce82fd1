//! Which accounts each transaction of a durable block touches, worked out
//! once per block and shared by everyone who filters by account.
//!
//! The rule is the one `GET /v1/events?account=ID` has always had: a
//! transaction touches its sender, the account it names
//! (`TxKind::counterparty`), and both parties of the channel it acts on.
//! Channel transactions after the open name only the channel, so its payer
//! and payee come from the ledger's state, which keeps settled channels and
//! is at or past every durable block: each channel is found.
//!
//! A block's map is built lazily ([`super::CommittedBlock::touched`]): by the
//! first account filter or watcher that needs it, never on the pipeline's
//! path, and never at all when nobody filters. Every filtered subscriber of
//! that block then does one lookup instead of a pass over its transactions.

use std::collections::HashMap;
use std::sync::RwLock;

use ting_core::{AccountId, Block, ChannelId};
use ting_ledger::State;

/// Payer and payee of channels, by channel id.
pub type ChannelParties = HashMap<ChannelId, [AccountId; 2]>;

/// For each account a block touches, the indexes of the transactions that
/// touch it, in block order, each once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    by_account: HashMap<AccountId, Vec<u32>>,
}

impl Touched {
    /// The map of `block`, with the parties of the channels it acts on.
    pub fn of(block: &Block, parties: &ChannelParties) -> Touched {
        let mut by_account: HashMap<AccountId, Vec<u32>> =
            HashMap::with_capacity(block.txs.len() * 2);
        let mut add = |account: AccountId, index: u32| {
            let txs = by_account.entry(account).or_default();
            // One transaction can name an account twice (a payer paying its
            // own channel's payee is both sender and party): once is enough.
            if txs.last() != Some(&index) {
                txs.push(index);
            }
        };
        for (index, tx) in (0u32..).zip(&block.txs) {
            add(tx.sender(), index);
            if let Some(other) = tx.kind().counterparty() {
                add(other, index);
            }
            let channel = tx.kind().channel().and_then(|c| parties.get(&c));
            for party in channel.into_iter().flatten() {
                add(*party, index);
            }
        }
        Touched { by_account }
    }

    /// The indexes of the transactions that touch `account`, in block order.
    pub fn get(&self, account: &AccountId) -> &[u32] {
        self.by_account.get(account).map_or(&[], Vec::as_slice)
    }

    /// How many accounts the block touches.
    pub fn len(&self) -> usize {
        self.by_account.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_account.is_empty()
    }

    /// Each touched account with its transactions.
    pub fn iter(&self) -> impl Iterator<Item = (&AccountId, &[u32])> {
        self.by_account.iter().map(|(a, t)| (a, t.as_slice()))
    }
}

/// Payer and payee of each channel `block`'s transactions act on, read under
/// one short state lock, and only when the block has channel transactions.
pub fn channel_parties(block: &Block, state: &RwLock<State>) -> ChannelParties {
    let mut ids = block
        .txs
        .iter()
        .filter_map(|tx| tx.kind().channel())
        .peekable();
    if ids.peek().is_none() {
        return HashMap::new();
    }
    let st = state.read().expect("state lock");
    ids.filter_map(|id| st.channel(&id).map(|c| (id, [c.payer, c.payee])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{
        Amount, BlockHeader, BlockHeight, ChannelProof, Hash32, Keypair, Nonce, Signature,
        SignedTx, Timestamp, TxBody, TxKind,
    };

    /// The rule, transaction by transaction: the model the map must agree with.
    fn touches(tx: &SignedTx, account: &AccountId, parties: &ChannelParties) -> bool {
        let on_channel = || {
            tx.kind()
                .channel()
                .and_then(|c| parties.get(&c))
                .is_some_and(|p| p.contains(account))
        };
        *account == tx.sender() || tx.kind().counterparty() == Some(*account) || on_channel()
    }

    fn key(i: u8) -> Keypair {
        Keypair::from_seed([i; 32])
    }

    fn tx(from: u8, kind: TxKind) -> SignedTx {
        TxBody {
            genesis: Hash32([0; 32]),
            sender: key(from).account(),
            nonce: Nonce(0),
            valid_until: Timestamp(u64::MAX),
            kind,
        }
        .sign(&key(from))
    }

    fn transfer(from: u8, to: u8) -> SignedTx {
        let kind = TxKind::Transfer {
            to: key(to).account(),
            amount: Amount::new(1),
            memo: Vec::new(),
        };
        tx(from, kind)
    }

    fn claim(from: u8, channel: ChannelId) -> SignedTx {
        let proof = ChannelProof::Voucher {
            amount: Amount::new(1),
            signature: Signature([0; 64]),
        };
        tx(from, TxKind::ChannelClaim { channel, proof })
    }

    fn block(txs: Vec<SignedTx>) -> Block {
        let header = BlockHeader {
            genesis: Hash32([0; 32]),
            height: BlockHeight(1),
            epoch: 0,
            prev_hash: Hash32([0; 32]),
            timestamp: Timestamp(0),
            tx_root: Hash32([0; 32]),
            tx_count: u32::try_from(txs.len()).expect("a small block"),
            state_root: Hash32([0; 32]),
            sequencer: key(0).account(),
            signature: Signature([0; 64]),
        };
        Block { header, txs }
    }

    /// The map of `txs` gives each account exactly the transactions `touches` picks.
    fn check(txs: Vec<SignedTx>, parties: &ChannelParties) {
        let b = block(txs);
        let map = Touched::of(&b, parties);
        let mut everyone: Vec<AccountId> = (0..12).map(|i| key(i).account()).collect();
        everyone.extend(map.iter().map(|(a, _)| *a));
        for account in &everyone {
            let want: Vec<u32> = (0u32..)
                .zip(&b.txs)
                .filter(|(_, tx)| touches(tx, account, parties))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(map.get(account), want.as_slice(), "{account}");
        }
        let touched = everyone.iter().filter(|a| !map.get(a).is_empty());
        assert_eq!(
            touched.collect::<std::collections::HashSet<_>>().len(),
            map.len(),
            "every touched account is among those checked"
        );
    }

    #[test]
    fn the_map_picks_exactly_what_touches_picks_for_senders_and_counterparties() {
        check(vec![], &HashMap::new());
        check(
            vec![
                transfer(1, 2),
                transfer(2, 3),
                transfer(1, 1),
                transfer(4, 1),
            ],
            &HashMap::new(),
        );
    }

    #[test]
    fn the_map_adds_both_parties_of_the_channel_a_transaction_acts_on() {
        let (known, unknown) = (ChannelId(Hash32([7; 32])), ChannelId(Hash32([8; 32])));
        let parties = HashMap::from([(known, [key(5).account(), key(6).account()])]);
        check(
            vec![
                claim(6, known),
                transfer(5, 6),
                claim(9, known),
                claim(6, unknown),
                transfer(3, 4),
            ],
            &parties,
        );
        let b = block(vec![claim(9, known)]);
        let map = Touched::of(&b, &parties);
        assert_eq!(map.get(&key(5).account()), [0], "the payer, by the state");
        assert_eq!(map.get(&key(6).account()), [0], "the payee, by the state");
        assert_eq!(map.get(&key(9).account()), [0], "the sender");
    }

    #[test]
    fn an_account_named_twice_by_one_transaction_lists_it_once() {
        let channel = ChannelId(Hash32([7; 32]));
        let parties = HashMap::from([(channel, [key(5).account(), key(6).account()])]);
        let b = block(vec![claim(5, channel), transfer(5, 5), claim(6, channel)]);
        let map = Touched::of(&b, &parties);
        assert_eq!(map.get(&key(5).account()), [0, 1, 2]);
        assert_eq!(map.get(&key(6).account()), [0, 2]);
        assert!(map.get(&key(1).account()).is_empty());
    }
}
