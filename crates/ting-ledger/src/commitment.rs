//! The state map inside the ledger: which keys a block changed, the root
//! they lead to, and proofs of what a key held at the last committed block.
//!
//! Every write to an account, a device, a messaging key or a channel first
//! notes its key ([`State::note_account`], [`State::note_channel`]) with the
//! record it held at the last committed block. Committing a block re-hashes
//! only the noted keys ([`State::update_root`]), so the root costs in
//! proportion to what the block changed, not to the size of the state. While
//! a block is open the noted records also answer proofs: what a key held at
//! the tip header, even though the open block has changed it since.
//!
//! A snapshot does not store the tree; [`State::rebuild_tree`] makes it again
//! from the accounts and channels, and the root it reaches must be the one the
//! snapshot's block carries.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use foldhash::fast::FixedState;
use ting_core::state_map::{self, account_record};
use ting_core::state_tree::{StateEntry, StateProof, StateTree};
use ting_core::{AccountId, BlockHeader, ChannelId, Hash32, MessagingKey};

use crate::state::{Account, Device, Map, State};

/// A key of the state map, by what it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StateKey {
    Account(AccountId),
    Channel(ChannelId),
}

/// Keys changed since the last committed block, with the record each held then.
pub(crate) type Changed = HashMap<StateKey, Option<Vec<u8>>, FixedState>;

/// The maps an account's record is made from, borrowed apart from the rest
/// of the state.
struct Parts<'a> {
    accounts: &'a Map<Account>,
    devices: &'a Map<Device>,
    messaging_keys: &'a Map<MessagingKey>,
}

/// The record the state map holds for `id`: balance and nonce, device terms,
/// messaging key; `None` for an account that was never created.
fn record_of_account(p: &Parts<'_>, id: &AccountId) -> Option<Vec<u8>> {
    let account = p.accounts.get(id);
    let device = p.devices.get(id);
    if account.is_none() && device.is_none() {
        return None;
    }
    Some(account_record(
        &account.copied().unwrap_or_default(),
        device,
        p.messaging_keys.get(id),
    ))
}

impl State {
    /// The record the state map holds for `id` now: balance and nonce, device
    /// terms, messaging key; `None` for an account that was never created.
    pub fn account_record(&self, id: &AccountId) -> Option<Vec<u8>> {
        let parts = Parts {
            accounts: &self.accounts,
            devices: &self.devices,
            messaging_keys: &self.messaging_keys,
        };
        record_of_account(&parts, id)
    }

    fn record_of(&self, key: &StateKey) -> Option<Vec<u8>> {
        match key {
            StateKey::Account(id) => self.account_record(id),
            StateKey::Channel(id) => self.channels.get(id).map(|c| c.to_record()),
        }
    }

    fn note(&mut self, key: StateKey) {
        if self.replaying {
            return;
        }
        // One lookup of the key; the record is encoded only on its first change.
        if let Entry::Vacant(slot) = self.changed.entry(key) {
            let before = match key {
                StateKey::Account(id) => record_of_account(
                    &Parts {
                        accounts: &self.accounts,
                        devices: &self.devices,
                        messaging_keys: &self.messaging_keys,
                    },
                    &id,
                ),
                StateKey::Channel(id) => self.channels.get(&id).map(|c| c.to_record()),
            };
            slot.insert(before);
        }
    }

    /// Records that `id`'s account, device or messaging key is about to change.
    pub(crate) fn note_account(&mut self, id: &AccountId) {
        self.note(StateKey::Account(*id));
    }

    /// Records that channel `id` is about to change.
    pub(crate) fn note_channel(&mut self, id: &ChannelId) {
        self.note(StateKey::Channel(*id));
    }

    /// Brings the state map up to the state: re-hashes the changed keys and
    /// answers the root a header over this state must carry.
    pub fn update_root(&mut self) -> Hash32 {
        if self.changed.is_empty() {
            return self.tree.root();
        }
        let changed = std::mem::take(&mut self.changed);
        let updates: Vec<(Hash32, Option<Hash32>)> = changed
            .into_keys()
            .map(|key| {
                let value = self.record_of(&key);
                match key {
                    StateKey::Account(id) => (
                        state_map::account_key(&id),
                        value.map(|r| state_map::account_value_hash(&r)),
                    ),
                    StateKey::Channel(id) => (
                        state_map::channel_key(&id),
                        value.map(|r| state_map::channel_value_hash(&r)),
                    ),
                }
            })
            .collect();
        self.tree.apply(updates);
        self.tree.root()
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
            Some(before) => before.clone(),
            None => self.record_of(&key),
        };
        (record, self.tree.prove(&state_map::account_key(id)))
    }

    /// What channel `id` was at the last committed block, with its proof.
    pub fn prove_channel(&self, id: &ChannelId) -> (Option<Vec<u8>>, StateProof) {
        let key = StateKey::Channel(*id);
        let record = match self.changed.get(&key) {
            Some(before) => before.clone(),
            None => self.record_of(&key),
        };
        (record, self.tree.prove(&state_map::channel_key(id)))
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
        accounts.chain(channels).collect()
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

    /// Ends a replay: builds the state map and checks its root against the
    /// tip block's, which must be known ([`State::adopt_tip_header`] or a
    /// replayed block). At height 0 there is nothing to check.
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
            _ => Ok(()),
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
