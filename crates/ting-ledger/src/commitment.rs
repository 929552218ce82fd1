//! The state map inside the ledger: which keys a block changed, the root
//! they lead to, and proofs of what a key held at the last committed block.
//!
//! Every write to an account, a device, a messaging key, a channel, a
//! stream, a hold, an offer or a reputation first notes its key ([`State::note_account`],
//! [`State::note_channel`], [`State::note_stream`]) with the
//! record it held at the last committed block. Committing a block re-hashes
//! only the noted keys ([`State::update_root`]), so the root costs in
//! proportion to what the block changed, not to the size of the state. While
//! a block is open the noted records also answer proofs: what a key held at
//! the tip header, even though the open block has changed it since.
//!
//! A replay at start (from a snapshot or the genesis) leaves the map alone
//! ([`State::begin_replay`]) and builds it once at the end from the accounts
//! and channels ([`State::end_replay`]): its root must be the one the last
//! block carries. Snapshots do not store the tree.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use ting_core::channel::Channel;
use ting_core::encoding::Writer;
use ting_core::market::{Hold, HoldId, Offer, OfferId, Reputation};
use ting_core::resource::{Lease, LeaseId, Order, OrderId, ResourceClass};
use ting_core::state_map::{self, encode_account_record};
use ting_core::state_tree::{StateEntry, StateProof, StateTree};
use ting_core::stream::{Stream, StreamId};
use ting_core::{AccountId, BlockHeader, BlockHeight, ChannelId, Hash32, MessagingKey};

use crate::state::{Account, Device, State};

/// A key of the state map, by what it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum StateKey {
    Account(AccountId),
    Channel(ChannelId),
    Stream(StreamId),
    Hold(HoldId),
    Offer(OfferId),
    /// A reputation, by its state-map key (provider and category).
    Reputation(Hash32),
    /// A resource class, by its state-map key (its name).
    Class(Hash32),
    Order(OrderId),
    Lease(LeaseId),
}

/// What a key held at the last committed block, kept as values (copied, not
/// encoded: most keys a block changes are never asked for).
#[derive(Clone, Debug)]
pub(crate) enum Prior {
    /// An account's parts; `None` if it did not exist.
    Account(Option<(Account, Option<Device>, Option<MessagingKey>)>),
    Channel(Option<Channel>),
    Stream(Option<Stream>),
    Hold(Option<Hold>),
    Offer(Option<Offer>),
    Reputation(Option<Reputation>),
    Class(Option<ResourceClass>),
    Order(Option<Order>),
    Lease(Option<Lease>),
}

/// Keys changed since the last committed block, with what each held then.
pub(crate) type Changed = HashMap<StateKey, Prior, FixedState>;

/// The state-map key `key` names.
pub(crate) fn map_key(key: &StateKey) -> Hash32 {
    match key {
        StateKey::Account(id) => state_map::account_key(id),
        StateKey::Channel(id) => state_map::channel_key(id),
        StateKey::Stream(id) => state_map::stream_key(id),
        StateKey::Hold(id) => state_map::hold_key(id),
        StateKey::Offer(id) => state_map::offer_key(id),
        StateKey::Reputation(key) | StateKey::Class(key) => *key,
        StateKey::Order(id) => state_map::order_key(id),
        StateKey::Lease(id) => state_map::lease_key(id),
    }
}

/// The value hash of `record` under `key`'s kind.
pub(crate) fn value_hash(key: &StateKey, record: &[u8]) -> Hash32 {
    match key {
        StateKey::Account(_) => state_map::account_value_hash(record),
        StateKey::Channel(_) => state_map::channel_value_hash(record),
        StateKey::Stream(_) => state_map::stream_value_hash(record),
        StateKey::Hold(_) => state_map::hold_value_hash(record),
        StateKey::Offer(_) => state_map::offer_value_hash(record),
        StateKey::Reputation(_) => state_map::reputation_value_hash(record),
        StateKey::Class(_) => state_map::class_value_hash(record),
        StateKey::Order(_) => state_map::order_value_hash(record),
        StateKey::Lease(_) => state_map::lease_value_hash(record),
    }
}

/// The state-map entry for `key` holding `record` (`None`: nothing).
pub(crate) fn entry(key: &StateKey, record: Option<&[u8]>) -> (Hash32, Option<Hash32>) {
    (map_key(key), record.map(|r| value_hash(key, r)))
}

impl Prior {
    fn record(&self) -> Option<Vec<u8>> {
        let mut w = Writer::with_capacity(64);
        match self {
            Prior::Account(None)
            | Prior::Channel(None)
            | Prior::Stream(None)
            | Prior::Hold(None)
            | Prior::Offer(None)
            | Prior::Reputation(None)
            | Prior::Class(None)
            | Prior::Order(None)
            | Prior::Lease(None) => return None,
            Prior::Account(Some((account, device, key))) => {
                encode_account_record(&mut w, account, device.as_ref(), key.as_ref());
            }
            Prior::Channel(Some(channel)) => channel.encode(&mut w),
            Prior::Stream(Some(stream)) => stream.encode(&mut w),
            Prior::Hold(Some(hold)) => hold.encode(&mut w),
            Prior::Offer(Some(offer)) => offer.encode(&mut w),
            Prior::Reputation(Some(rep)) => rep.encode(&mut w),
            Prior::Class(Some(class)) => class.encode(&mut w),
            Prior::Order(Some(order)) => order.encode(&mut w),
            Prior::Lease(Some(lease)) => lease.encode(&mut w),
        }
        Some(w.into_bytes())
    }
}

impl State {
    /// An account's parts as they stand, or `None` if it was never created.
    fn account_parts(
        &self,
        id: &AccountId,
    ) -> Option<(Account, Option<&Device>, Option<&MessagingKey>)> {
        let account = self.accounts.get(id);
        let device = self.devices.get(id);
        if account.is_none() && device.is_none() {
            return None;
        }
        Some((
            account.copied().unwrap_or_default(),
            device,
            self.messaging_keys.get(id),
        ))
    }

    /// Appends what the state map holds for `key` now to `w`; false if it holds nothing.
    fn encode_current(&self, key: &StateKey, w: &mut Writer) -> bool {
        match key {
            StateKey::Account(id) => match self.account_parts(id) {
                Some((account, device, messaging_key)) => {
                    encode_account_record(w, &account, device, messaging_key);
                    true
                }
                None => false,
            },
            StateKey::Channel(id) => match self.channels.get(id) {
                Some(channel) => {
                    channel.encode(w);
                    true
                }
                None => false,
            },
            StateKey::Stream(id) => match self.streams.get(id) {
                Some(stream) => {
                    stream.encode(w);
                    true
                }
                None => false,
            },
            StateKey::Hold(id) => self.holds.get(id).map(|h| h.encode(w)).is_some(),
            StateKey::Offer(id) => self.offers.get(id).map(|o| o.encode(w)).is_some(),
            StateKey::Reputation(key) => self.reputations.get(key).map(|r| r.encode(w)).is_some(),
            StateKey::Class(key) => self.classes.get(key).map(|c| c.encode(w)).is_some(),
            StateKey::Order(id) => self.orders.get(id).map(|o| o.encode(w)).is_some(),
            StateKey::Lease(id) => self.leases.get(id).map(|l| l.encode(w)).is_some(),
        }
    }

    /// The record the state map holds for `id` now: balance and nonce, device
    /// terms, messaging key; `None` for an account that was never created.
    pub fn account_record(&self, id: &AccountId) -> Option<Vec<u8>> {
        self.current_record(&StateKey::Account(*id))
    }

    pub(crate) fn current_record(&self, key: &StateKey) -> Option<Vec<u8>> {
        let mut w = Writer::with_capacity(64);
        self.encode_current(key, &mut w).then(|| w.into_bytes())
    }

    fn prior_of(&self, key: &StateKey) -> Prior {
        match key {
            StateKey::Account(id) => Prior::Account(
                self.account_parts(id)
                    .map(|(a, d, k)| (a, d.cloned(), k.copied())),
            ),
            StateKey::Channel(id) => Prior::Channel(self.channels.get(id).cloned()),
            StateKey::Stream(id) => Prior::Stream(self.streams.get(id).cloned()),
            StateKey::Hold(id) => Prior::Hold(self.holds.get(id).cloned()),
            StateKey::Offer(id) => Prior::Offer(self.offers.get(id).cloned()),
            StateKey::Reputation(key) => Prior::Reputation(self.reputations.get(key).cloned()),
            StateKey::Class(key) => Prior::Class(self.classes.get(key).cloned()),
            StateKey::Order(id) => Prior::Order(self.orders.get(id).cloned()),
            StateKey::Lease(id) => Prior::Lease(self.leases.get(id).cloned()),
        }
    }

    fn note(&mut self, key: StateKey) {
        if self.replaying || self.changed.contains_key(&key) {
            return;
        }
        let prior = self.prior_of(&key);
        self.changed.insert(key, prior);
    }

    /// Records that `id`'s account, device or messaging key is about to change.
    pub(crate) fn note_account(&mut self, id: &AccountId) {
        self.note(StateKey::Account(*id));
    }

    /// Records that channel `id` is about to change.
    pub(crate) fn note_channel(&mut self, id: &ChannelId) {
        self.note(StateKey::Channel(*id));
    }

    /// Records that stream `id` is about to change, open or close.
    pub(crate) fn note_stream(&mut self, id: &StreamId) {
        self.note(StateKey::Stream(*id));
    }

    /// Records that hold `id` is about to change, open or end.
    pub(crate) fn note_hold(&mut self, id: &HoldId) {
        self.note(StateKey::Hold(*id));
    }

    /// Records that offer `id` is about to change, open or close.
    pub(crate) fn note_offer(&mut self, id: &OfferId) {
        self.note(StateKey::Offer(*id));
    }

    /// Records that the reputation under state-map key `key` is about to change.
    pub(crate) fn note_reputation(&mut self, key: &Hash32) {
        self.note(StateKey::Reputation(*key));
    }

    /// Records that the class under state-map key `key` is about to change.
    pub(crate) fn note_class(&mut self, key: &Hash32) {
        self.note(StateKey::Class(*key));
    }

    /// Records that order `id` is about to change, rest or end.
    pub(crate) fn note_order(&mut self, id: &OrderId) {
        self.note(StateKey::Order(*id));
    }

    /// Records that lease `id` is about to change, open or end.
    pub(crate) fn note_lease(&mut self, id: &LeaseId) {
        self.note(StateKey::Lease(*id));
    }

    /// Brings the state map up to the state: re-hashes the changed keys and
    /// answers the root a header over this state must carry.
    pub fn update_root(&mut self) -> Hash32 {
        if self.changed.is_empty() {
            return self.tree.root();
        }
        // Taken out while the state is read, and put back empty: its
        // capacity serves the next block, which would otherwise grow it
        // again from nothing.
        let changed = std::mem::take(&mut self.changed);
        let mut w = Writer::with_capacity(256);
        let updates: Vec<(Hash32, Option<Hash32>)> = changed
            .keys()
            .map(|key| {
                w.clear();
                let held = self.encode_current(key, &mut w);
                entry(key, held.then(|| w.as_slice()))
            })
            .collect();
        self.keep_priors(changed);
        self.tree.apply(updates);
        self.tree.root()
    }

    /// Keeps the priors of keys just hashed into the tree until their block
    /// commits, and leaves `changed` empty (its capacity kept for the next
    /// block).
    fn keep_priors(&mut self, mut changed: Changed) {
        if self.hashed.is_empty() {
            std::mem::swap(&mut self.hashed, &mut changed);
        } else {
            // Hashed twice before a commit: the first prior is the committed one.
            for (key, prior) in changed.drain() {
                self.hashed.entry(key).or_insert(prior);
            }
        }
        changed.clear();
        self.changed = changed;
    }

    /// Takes a refused block's changes out of the tree: it is the last
    /// committed block's again, and `changed` holds what each key held then.
    pub(crate) fn unhash(&mut self) {
        let hashed = std::mem::take(&mut self.hashed);
        let undo: Vec<(Hash32, Option<Hash32>)> = hashed
            .iter()
            .map(|(key, prior)| entry(key, prior.record().as_deref()))
            .collect();
        self.tree.apply(undo);
        self.changed.extend(hashed);
    }

    /// What `key` held at the last committed block, even while a block is open.
    pub(crate) fn committed_record(&self, key: &StateKey) -> Option<Vec<u8>> {
        match self.changed.get(key) {
            Some(before) => before.record(),
            None => self.current_record(key),
        }
    }

    /// The state root at the last committed block (or at genesis).
    pub fn committed_root(&self) -> Hash32 {
        self.tree.root()
    }

    /// The header of the last committed block, when this state has seen it.
    pub fn tip_header(&self) -> Option<&BlockHeader> {
        self.tip_header.as_ref()
    }

    /// What account `id` held at the last committed block, and the proof of
    /// it (or of its absence) against that block's state root.
    pub fn prove_account(&self, id: &AccountId) -> (Option<Vec<u8>>, StateProof) {
        let key = StateKey::Account(*id);
        let record = match self.changed.get(&key) {
            Some(before) => before.record(),
            None => self.current_record(&key),
        };
        (record, self.tree.prove(&state_map::account_key(id)))
    }

    /// What channel `id` was at the last committed block, with its proof.
    pub fn prove_channel(&self, id: &ChannelId) -> (Option<Vec<u8>>, StateProof) {
        let key = StateKey::Channel(*id);
        let record = match self.changed.get(&key) {
            Some(before) => before.record(),
            None => self.current_record(&key),
        };
        (record, self.tree.prove(&state_map::channel_key(id)))
    }

    /// What open stream `id` was at the last committed block, with its proof
    /// (of absence, once closed).
    pub fn prove_stream(&self, id: &StreamId) -> (Option<Vec<u8>>, StateProof) {
        let key = StateKey::Stream(*id);
        let record = match self.changed.get(&key) {
            Some(before) => before.record(),
            None => self.current_record(&key),
        };
        (record, self.tree.prove(&state_map::stream_key(id)))
    }

    /// What open hold `id` was at the last committed block, with its proof
    /// (of absence, once ended).
    pub fn prove_hold(&self, id: &HoldId) -> (Option<Vec<u8>>, StateProof) {
        self.prove_key(StateKey::Hold(*id), state_map::hold_key(id))
    }

    /// What listed offer `id` was at the last committed block, with its proof.
    pub fn prove_offer(&self, id: &OfferId) -> (Option<Vec<u8>>, StateProof) {
        self.prove_key(StateKey::Offer(*id), state_map::offer_key(id))
    }

    /// `provider`'s reputation in `category` at the last committed block,
    /// with its proof (of absence, if no outcome was recorded).
    pub fn prove_reputation(
        &self,
        provider: &AccountId,
        category: &str,
    ) -> (Option<Vec<u8>>, StateProof) {
        let key = state_map::reputation_key(provider, category);
        self.prove_key(StateKey::Reputation(key), key)
    }

    /// Class `name` at the last committed block, with its proof (of
    /// absence, if it was not registered).
    pub fn prove_class(&self, name: &str) -> (Option<Vec<u8>>, StateProof) {
        let key = state_map::class_key(name);
        self.prove_key(StateKey::Class(key), key)
    }

    /// What resting order `id` was at the last committed block, with its proof.
    pub fn prove_order(&self, id: &OrderId) -> (Option<Vec<u8>>, StateProof) {
        self.prove_key(StateKey::Order(*id), state_map::order_key(id))
    }

    /// What open lease `id` was at the last committed block, with its proof.
    pub fn prove_lease(&self, id: &LeaseId) -> (Option<Vec<u8>>, StateProof) {
        self.prove_key(StateKey::Lease(*id), state_map::lease_key(id))
    }

    fn prove_key(&self, key: StateKey, map_key: Hash32) -> (Option<Vec<u8>>, StateProof) {
        (self.committed_record(&key), self.tree.prove(&map_key))
    }

    /// Every entry of the state map, computed from the state alone.
    fn entries(&self) -> Vec<StateEntry> {
        let mut ids: Vec<&AccountId> = self.accounts.keys().collect();
        ids.extend(
            self.devices
                .keys()
                .filter(|d| !self.accounts.contains_key(*d)),
        );
        let accounts = ids.into_iter().map(|id| {
            let record = self.account_record(id).expect("the id holds something");
            (
                state_map::account_key(id),
                state_map::account_value_hash(&record),
            )
        });
        let channels = self
            .channels
            .iter()
            .map(|(id, c)| state_map::channel_entry(id, c));
        let streams = self
            .streams
            .iter()
            .map(|(id, s)| state_map::stream_entry(id, s));
        let holds = self.holds.iter().map(|(id, h)| {
            (
                state_map::hold_key(id),
                state_map::hold_value_hash(&h.to_record()),
            )
        });
        let offers = self.offers.iter().map(|(id, o)| {
            (
                state_map::offer_key(id),
                state_map::offer_value_hash(&o.to_record()),
            )
        });
        let reputations = self
            .reputations
            .iter()
            .map(|(key, r)| (*key, state_map::reputation_value_hash(&r.to_record())));
        let classes = self
            .classes
            .iter()
            .map(|(key, c)| (*key, state_map::class_value_hash(&c.to_record())));
        let orders = self.orders.iter().map(|(id, o)| {
            (
                state_map::order_key(id),
                state_map::order_value_hash(&o.to_record()),
            )
        });
        let leases = self.leases.iter().map(|(id, l)| {
            (
                state_map::lease_key(id),
                state_map::lease_value_hash(&l.to_record()),
            )
        });
        accounts
            .chain(channels)
            .chain(streams)
            .chain(holds)
            .chain(offers)
            .chain(reputations)
            .chain(classes)
            .chain(orders)
            .chain(leases)
            .collect()
    }

    /// Builds the state map again from the whole state (after a snapshot is
    /// loaded, or to check the incremental one) and answers its root.
    pub fn rebuild_tree(&mut self) -> Hash32 {
        self.changed.clear();
        self.tree = StateTree::from_entries(self.entries());
        self.tree.root()
    }

    /// The root a state map built from scratch would have; the incremental
    /// one must always agree (tests compare them).
    pub fn recomputed_root(&self) -> Hash32 {
        StateTree::from_entries(self.entries()).root()
    }

    /// Starts replaying a log of blocks the node itself signed: blocks apply
    /// without touching the state map, which [`State::end_replay`] builds once
    /// and checks against the last block's root. One build costs far less than
    /// an update per block, and the root of every block but the last is
    /// covered by the sequencer's signatures and the last one's root.
    pub fn begin_replay(&mut self) {
        self.replaying = true;
        self.changed.clear();
    }

    /// This state without its state map, replaying for good: a copy that
    /// follows the log block by block (the snapshotter's), whose snapshots
    /// need no map (a loaded snapshot rebuilds it and checks its root).
    pub fn into_replica(mut self) -> State {
        self.tree = StateTree::default();
        self.begin_replay();
        self
    }

    /// Ends a replay: builds the state map and checks its root against the
    /// tip block's, which must be known ([`State::adopt_tip_header`] or a
    /// replayed block); at height 0 there is nothing to check.
    pub fn end_replay(&mut self) -> Result<(), crate::BlockError> {
        if !self.replaying {
            return Ok(());
        }
        self.replaying = false;
        let root = self.rebuild_tree();
        match &self.tip_header {
            Some(h) if h.state_root != root => Err(crate::BlockError::StateRootMismatch {
                height: h.height,
                header: h.state_root,
                computed: root,
            }),
            Some(_) => Ok(()),
            None if self.height == BlockHeight(0) => Ok(()),
            // A state above the genesis whose block was never seen: nothing
            // checked the map, so it is not taken.
            None => Err(crate::BlockError::NoTipHeader {
                height: self.height,
            }),
        }
    }

    /// Takes `header` as the tip's own, once its hash is the tip hash and its
    /// state root the state's: what a loaded snapshot does with its block.
    /// During a replay the root is checked at its end instead.
    pub fn adopt_tip_header(&mut self, header: &BlockHeader) -> Result<(), crate::BlockError> {
        if header.hash() != self.tip_hash {
            return Err(crate::BlockError::WrongPrevHash {
                got: header.hash(),
                want: self.tip_hash,
            });
        }
        if self.replaying {
            self.tip_header = Some(header.clone());
            return Ok(());
        }
        let root = self.update_root();
        if header.state_root != root {
            return Err(crate::BlockError::StateRootMismatch {
                height: header.height,
                header: header.state_root,
                computed: root,
            });
        }
        self.tip_header = Some(header.clone());
        Ok(())
    }
}
