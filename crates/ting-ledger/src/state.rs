//! The ledger state: accounts, devices, channels, messaging keys, supply and
//! the chain tip.
//!
//! Accounts live in a hash map keyed by public key. The map's hasher is
//! keyed by a seed the caller passes in (the node draws it at random), so
//! account ids chosen by an attacker cannot be ground into colliding buckets,
//! while the state machine itself stays free of any random source. Nothing
//! here depends on iteration order: snapshots sort their keys.

use std::collections::HashMap;

use crate::channel::Channel;
use crate::commitment::Changed;
use ting_core::market::{Hold, HoldId, Offer, OfferId, Reputation};
use ting_core::resource::{Book, Lease, LeaseId, Order, OrderId, ResourceClass};
pub use ting_core::state_map::{Account, Device};
use ting_core::state_tree::StateTree;
use ting_core::stream::{Stream, StreamId};

use foldhash::fast::FixedState;
use ting_core::{
    AccountId, Amount, Block, BlockHeader, BlockHeight, ChannelId, Genesis, Hash32, MessagingKey,
    NetworkId, Nonce, Timestamp,
};

use crate::error::{BlockError, TxError};

pub(crate) type Map<V> = HashMap<AccountId, V, FixedState>;
pub(crate) type ChannelMap = HashMap<ChannelId, Channel, FixedState>;
pub(crate) type StreamMap = HashMap<StreamId, Stream, FixedState>;
pub(crate) type HoldMap = HashMap<HoldId, Hold, FixedState>;
pub(crate) type OfferMap = HashMap<OfferId, Offer, FixedState>;
/// Reputations by their state-map key (provider and category).
pub(crate) type ReputationMap = HashMap<Hash32, Reputation, FixedState>;
/// Resource classes, their books and their last trades, by the class's
/// state-map key.
pub(crate) type ClassMap = HashMap<Hash32, ResourceClass, FixedState>;
pub(crate) type BookMap = HashMap<Hash32, Book, FixedState>;
pub(crate) type TradeMap =
    HashMap<Hash32, std::collections::VecDeque<crate::orders::Trade>, FixedState>;
pub(crate) type OrderMap = HashMap<OrderId, Order, FixedState>;
pub(crate) type LeaseMap = HashMap<LeaseId, Lease, FixedState>;

/// The whole ledger state after some block.
#[derive(Clone, Debug)]
pub struct State {
    pub(crate) network: NetworkId,
    /// The hash of the genesis: every transaction applied names it.
    pub(crate) genesis_hash: Hash32,
    pub(crate) issuers: Vec<AccountId>,
    pub(crate) accounts: Map<Account>,
    pub(crate) devices: Map<Device>,
    /// How many devices each owner has registered (derived from `devices`).
    pub(crate) owned_counts: Map<u32>,
    /// Payment channels, open and settled, by id.
    pub(crate) channels: ChannelMap,
    /// How many open channels each payer has (derived from `channels`).
    pub(crate) open_channels: Map<u32>,
    /// Open data streams, by id (see `stream`).
    pub(crate) streams: StreamMap,
    /// How many open streams each seller has (derived from `streams`).
    pub(crate) open_streams: Map<u32>,
    /// Open escrow holds, by id (see `hold`).
    pub(crate) holds: HoldMap,
    /// How many open holds each payer has (derived from `holds`).
    pub(crate) open_holds: Map<u32>,
    /// Listed service offers, by id (see `offer`).
    pub(crate) offers: OfferMap,
    /// How many offers each provider has listed (derived from `offers`).
    pub(crate) open_offers: Map<u32>,
    /// Providers' reputations per category (see `reputation`).
    pub(crate) reputations: ReputationMap,
    /// Registered resource classes (see `orders`).
    pub(crate) classes: ClassMap,
    /// Each class's book (derived from `orders`).
    pub(crate) books: BookMap,
    /// Each class's last fills, for market data (not in the state map).
    pub(crate) trades: TradeMap,
    /// Resting orders, by id (see `orders`).
    pub(crate) orders: OrderMap,
    /// How many orders each account has resting (derived from `orders`).
    pub(crate) open_orders: Map<u32>,
    /// Open leases, by id (see `lease`).
    pub(crate) leases: LeaseMap,
    /// How many leases each buyer has open (derived from `leases`).
    pub(crate) open_leases: Map<u32>,
    /// Each account's published X25519 messaging key (see `messaging`).
    pub(crate) messaging_keys: Map<MessagingKey>,
    pub(crate) supply: Amount,
    /// Sums of the balances and of what open channels hold (see `totals`).
    pub(crate) totals: crate::totals::Totals,
    /// The state map as of the last committed block (see `commitment`).
    pub(crate) tree: StateTree,
    /// Keys changed since then, with what each held at it.
    pub(crate) changed: Changed,
    /// Keys [`State::update_root`] hashed into the tree for a block not yet
    /// committed, with what each held at the last committed block: a block
    /// refused for its state root is taken out of the tree with them.
    pub(crate) hashed: Changed,
    /// The last committed block's header, once seen.
    pub(crate) tip_header: Option<BlockHeader>,
    /// Set while replaying a log of signed blocks: the state map is left
    /// alone and built once at the end (`State::end_replay`).
    pub(crate) replaying: bool,
    pub(crate) height: BlockHeight,
    pub(crate) tip_hash: Hash32,
    pub(crate) last_timestamp: Timestamp,
}

impl State {
    /// The state at height 0. The genesis must have passed `Genesis::validate`.
    pub fn from_genesis(genesis: &Genesis, hash_seed: u64) -> State {
        let mut state = State::empty(genesis.network, genesis.hash(), hash_seed);
        state.issuers = genesis.issuers.clone();
        state.tip_hash = genesis.hash();
        state.last_timestamp = genesis.timestamp;
        state.accounts.reserve(
            genesis
                .allocations
                .len()
                .saturating_add(genesis.issuers.len()),
        );
        // Issuers exist from the start so that they can mint without an allocation.
        for issuer in &genesis.issuers {
            state.set_account(*issuer, Account::default());
        }
        for (id, amount) in &genesis.allocations {
            let account = Account {
                balance: *amount,
                ..state.accounts.get(id).copied().unwrap_or_default()
            };
            state.set_account(*id, account);
            state.supply = state
                .supply
                .checked_add(*amount)
                .expect("validated genesis supply fits in u64");
        }
        state.rebuild_tree();
        state
    }

    pub(crate) fn empty(network: NetworkId, genesis_hash: Hash32, hash_seed: u64) -> State {
        State {
            network,
            genesis_hash,
            issuers: Vec::new(),
            accounts: Map::with_hasher(FixedState::with_seed(hash_seed)),
            devices: Map::with_hasher(FixedState::with_seed(hash_seed ^ 0x9e37_79b9_7f4a_7c15)),
            owned_counts: Map::with_hasher(FixedState::with_seed(
                hash_seed ^ 0x6a09_e667_f3bc_c909,
            )),
            channels: ChannelMap::with_hasher(FixedState::with_seed(
                hash_seed ^ 0xbb67_ae85_84ca_a73b,
            )),
            open_channels: Map::with_hasher(FixedState::with_seed(
                hash_seed ^ 0x3c6e_f372_fe94_f82b,
            )),
            streams: StreamMap::with_hasher(FixedState::with_seed(
                hash_seed ^ 0x9b05_688c_2b3e_6c1f,
            )),
            open_streams: Map::with_hasher(FixedState::with_seed(
                hash_seed ^ 0x1f83_d9ab_fb41_bd6b,
            )),
            holds: HoldMap::with_hasher(FixedState::with_seed(hash_seed ^ 0x5be0_cd19_137e_2179)),
            open_holds: Map::with_hasher(FixedState::with_seed(hash_seed ^ 0x9b05_688c_1f83_d9ab)),
            offers: OfferMap::with_hasher(FixedState::with_seed(hash_seed ^ 0xcbbb_9d5d_c105_9ed8)),
            open_offers: Map::with_hasher(FixedState::with_seed(hash_seed ^ 0x629a_292a_367c_d507)),
            reputations: ReputationMap::with_hasher(FixedState::with_seed(
                hash_seed ^ 0x9159_015a_3070_dd17,
            )),
            classes: ClassMap::with_hasher(FixedState::with_seed(
                hash_seed ^ 0x1f83_d9ab_5be0_cd19,
            )),
            books: BookMap::with_hasher(FixedState::with_seed(hash_seed ^ 0x243f_6a88_85a3_08d3)),
            trades: TradeMap::with_hasher(FixedState::with_seed(hash_seed ^ 0x1319_8a2e_0370_7344)),
            orders: OrderMap::with_hasher(FixedState::with_seed(hash_seed ^ 0xa409_3822_299f_31d0)),
            open_orders: Map::with_hasher(FixedState::with_seed(hash_seed ^ 0x082e_fa98_ec4e_6c89)),
            leases: LeaseMap::with_hasher(FixedState::with_seed(hash_seed ^ 0x4528_21e6_38d0_1377)),
            open_leases: Map::with_hasher(FixedState::with_seed(hash_seed ^ 0xbe54_66cf_34e9_0c6c)),
            messaging_keys: Map::with_hasher(FixedState::with_seed(
                hash_seed ^ 0xa54f_f53a_5f1d_36f1,
            )),
            supply: Amount::ZERO,
            totals: crate::totals::Totals::default(),
            tree: StateTree::default(),
            changed: Changed::with_hasher(FixedState::with_seed(hash_seed ^ 0x510e_527f_ade6_82d1)),
            hashed: Changed::with_hasher(FixedState::with_seed(hash_seed ^ 0x9b05_688c_2b3e_6c1e)),
            tip_header: None,
            replaying: false,
            height: BlockHeight(0),
            tip_hash: Hash32::ZERO,
            last_timestamp: Timestamp(0),
        }
    }

    pub fn network(&self) -> NetworkId {
        self.network
    }
    /// The hash of the genesis this state grew from.
    pub fn genesis_hash(&self) -> Hash32 {
        self.genesis_hash
    }
    pub fn height(&self) -> BlockHeight {
        self.height
    }
    pub fn tip_hash(&self) -> Hash32 {
        self.tip_hash
    }
    pub fn last_timestamp(&self) -> Timestamp {
        self.last_timestamp
    }
    /// Everything ever minted, genesis allocations included.
    pub fn supply(&self) -> Amount {
        self.supply
    }
    pub fn issuers(&self) -> &[AccountId] {
        &self.issuers
    }
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }
    pub fn device(&self, id: &AccountId) -> Option<&Device> {
        self.devices.get(id)
    }
    pub fn channel(&self, id: &ChannelId) -> Option<&Channel> {
        self.channels.get(id)
    }
    /// Every channel, open or settled, in no particular order.
    pub fn channels(&self) -> impl Iterator<Item = (&ChannelId, &Channel)> {
        self.channels.iter()
    }
    /// How many channels `payer` has open.
    pub fn open_channel_count(&self, payer: &AccountId) -> usize {
        self.open_channels.get(payer).map_or(0, |&n| n as usize)
    }
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }
    /// How many accounts are devices with an owner.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }
    /// How many channels are open, over every payer (a walk of the payers
    /// that have one open, not of every channel).
    pub fn open_channel_total(&self) -> usize {
        self.open_channels.values().map(|&n| n as usize).sum()
    }
    /// The nonce `id`'s next transaction must carry.
    pub fn next_nonce(&self, id: &AccountId) -> Nonce {
        self.accounts.get(id).map_or(Nonce(0), |a| a.nonce)
    }

    /// Checks that `header` may follow the current tip.
    pub fn check_header(&self, header: &BlockHeader) -> Result<(), BlockError> {
        let tip = self.height;
        if tip.next() != Some(header.height) {
            return Err(BlockError::WrongHeight {
                got: header.height,
                tip,
            });
        }
        if header.prev_hash != self.tip_hash {
            return Err(BlockError::WrongPrevHash {
                got: header.prev_hash,
                want: self.tip_hash,
            });
        }
        if header.genesis != self.genesis_hash {
            return Err(BlockError::WrongNetwork {
                got: header.genesis,
                want: self.genesis_hash,
            });
        }
        if header.timestamp < self.last_timestamp {
            return Err(BlockError::TimestampBackwards {
                got: header.timestamp,
                last: self.last_timestamp,
            });
        }
        Ok(())
    }

    /// Moves the tip to `header`, whose transactions have been applied with
    /// [`State::apply_tx`] at `header.timestamp`: its state root must be the
    /// one they lead to ([`State::update_root`]).
    pub fn commit_block(&mut self, header: &BlockHeader) -> Result<(), BlockError> {
        self.check_header(header)?;
        let root = if self.replaying {
            header.state_root
        } else {
            self.update_root()
        };
        if header.state_root != root {
            if !self.replaying {
                self.unhash();
            }
            return Err(BlockError::StateRootMismatch {
                height: header.height,
                header: header.state_root,
                computed: root,
            });
        }
        self.hashed.clear();
        self.height = header.height;
        self.tip_hash = header.hash();
        self.last_timestamp = header.timestamp;
        self.tip_header = Some(header.clone());
        Ok(())
    }

    /// Applies a whole block: one receipt per transaction, in order.
    ///
    /// The header must follow the tip; nothing changes if it does not. If the
    /// transactions do not lead to the header's state root, the block is
    /// refused (`state_root_mismatch`) with them applied: the state is then
    /// unusable, and the caller stops. Its state map is put back to the last
    /// committed block first, so its proofs (and [`crate::evidence::build`])
    /// still answer for the state the block started from.
    pub fn apply_block(&mut self, block: &Block) -> Result<Vec<Result<(), TxError>>, BlockError> {
        self.check_header(&block.header)?;
        let at = block.header.timestamp;
        let receipts = block.txs.iter().map(|tx| self.apply_tx(tx, at)).collect();
        self.commit_block(&block.header)?;
        Ok(receipts)
    }
}
