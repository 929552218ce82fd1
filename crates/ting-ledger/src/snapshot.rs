//! The canonical encoding of a whole state, for snapshots and for comparing states.
//!
//! Layout (little-endian): version u8 (8), network u32, genesis hash, height
//! u64, tip hash, last timestamp u64, supply u64, issuers (u16 count, keys),
//! accounts (u64 count, then id, balance u64, nonce u64 sorted by id),
//! devices (u64 count, then id, owner, metadata (u16 length), limit flag u8
//! and limit u64 if set, frozen u8, spent day u64, spent u64, sorted by id),
//! then channels (see `snapshot_channels`), then messaging keys (see
//! `messaging`), then open streams (see `snapshot_streams`; version 5 is
//! read as a state with none), then holds, offers and reputations (see
//! `snapshot_market`; versions 5 and 6 are read as a state with none), then
//! resource classes, resting orders and leases (see `snapshot_resources`;
//! versions 5 to 7 are read as a state with none). Versions 1 to 4 were written for networks whose block
//! headers carry no state root and are refused ([`SnapshotDecodeError::OldVersion`]).
//! Sorting makes the bytes independent of hash-map order, so two states are
//! equal exactly when their encodings are.

use ting_core::encoding::{Reader, Writer};
use ting_core::limits::GENESIS_ISSUERS_MAX;
use ting_core::{AccountId, BlockHeight, DecodeError, Hash32, NetworkId, Nonce, Timestamp};

use crate::error::SnapshotDecodeError;
use crate::state::{Account, Device, State};

/// Version 5 is the first of wire version 2 as released: its blocks carry the
/// state root, which loading rebuilds and compares (version 4 added the
/// genesis hash). Version 6 adds the open streams, version 7 the market,
/// version 8 the order books.
const SNAPSHOT_VERSION: u8 = 8;
/// The first version with holds, offers and reputations.
const SNAPSHOT_VERSION_MARKET: u8 = 7;
/// The first version with open streams.
const SNAPSHOT_VERSION_STREAMS: u8 = 6;
/// The oldest version read: it has no stream section.
const SNAPSHOT_VERSION_NO_STREAMS: u8 = 5;
const ACCOUNT_BYTES: usize = 32 + 8 + 8;

impl State {
    /// The canonical bytes of this state.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(
            self.accounts
                .len()
                .saturating_mul(ACCOUNT_BYTES)
                .saturating_add(128),
        );
        w.u8(SNAPSHOT_VERSION)
            .u32(self.network.0)
            .hash(&self.genesis_hash)
            .u64(self.height.0)
            .hash(&self.tip_hash)
            .u64(self.last_timestamp.0)
            .amount(self.supply);
        w.count_u16(self.issuers.len());
        for id in &self.issuers {
            w.account(id);
        }
        let mut accounts: Vec<(&AccountId, &Account)> = self.accounts.iter().collect();
        accounts.sort_unstable_by_key(|(id, _)| **id);
        w.u64(accounts.len() as u64);
        for (id, a) in accounts {
            w.account(id).amount(a.balance).u64(a.nonce.0);
        }
        let mut devices: Vec<(&AccountId, &Device)> = self.devices.iter().collect();
        devices.sort_unstable_by_key(|(id, _)| **id);
        w.u64(devices.len() as u64);
        for (id, d) in devices {
            w.account(id);
            d.encode(&mut w);
        }
        crate::snapshot_channels::encode(self, &mut w);
        crate::messaging::encode(self, &mut w);
        crate::snapshot_streams::encode(self, &mut w);
        crate::snapshot_market::encode(self, &mut w);
        crate::snapshot_resources::encode(self, &mut w);
        w.into_bytes()
    }

    /// SHA-256 of [`State::encode`]: equal digests mean equal states.
    pub fn digest(&self) -> Hash32 {
        Hash32::digest(&[&self.encode()])
    }

    /// Rebuilds a state from [`State::encode`] bytes, checking order and
    /// supply. It is left replaying: call [`State::end_replay`] (after
    /// applying any later blocks) to build its state map and check it. The hasher seed is the caller's, as in [`State::from_genesis`];
    /// it is not part of the state.
    pub fn decode(bytes: &[u8], hash_seed: u64) -> Result<State, SnapshotDecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("snapshot version")?;
        if (1..SNAPSHOT_VERSION_NO_STREAMS).contains(&version) {
            return Err(SnapshotDecodeError::OldVersion { version });
        }
        if version > SNAPSHOT_VERSION || version == 0 {
            return Err(DecodeError::UnsupportedVersion {
                what: "snapshot",
                version,
            }
            .into());
        }
        let network = NetworkId(r.u32("network")?);
        let genesis_hash = r.hash("genesis hash")?;
        let height = BlockHeight(r.u64("height")?);
        let tip_hash = r.hash("tip hash")?;
        let last_timestamp = Timestamp(r.u64("last timestamp")?);
        let supply = r.amount("supply")?;
        let mut state = State::empty(network, genesis_hash, hash_seed);
        state.height = height;
        state.tip_hash = tip_hash;
        state.last_timestamp = last_timestamp;
        state.supply = supply;
        let issuers = usize::from(r.u16("issuer count")?);
        if issuers > GENESIS_ISSUERS_MAX {
            return Err(DecodeError::InvalidValue {
                what: "issuer count",
            }
            .into());
        }
        for _ in 0..issuers {
            state.issuers.push(r.account("issuer")?);
        }
        decode_accounts(&mut r, &mut state)?;
        decode_devices(&mut r, &mut state)?;
        crate::snapshot_channels::decode(&mut r, &mut state)?;
        crate::messaging::decode(&mut r, &mut state)?;
        if version >= SNAPSHOT_VERSION_STREAMS {
            crate::snapshot_streams::decode(&mut r, &mut state)?;
        }
        if version >= SNAPSHOT_VERSION_MARKET {
            crate::snapshot_market::decode(&mut r, &mut state)?;
        }
        if version >= SNAPSHOT_VERSION {
            crate::snapshot_resources::decode(&mut r, &mut state)?;
        }
        r.finish("snapshot")?;
        let sum = state.held_sum();
        if sum != Some(supply) {
            return Err(SnapshotDecodeError::SupplyMismatch { sum, supply });
        }
        // The tree is not stored. A decoded state starts a replay: the log's
        // blocks above it apply, and `State::end_replay` builds the tree once
        // and compares its root with the tip block's.
        state.begin_replay();
        Ok(state)
    }
}

fn count(r: &mut Reader<'_>, what: &'static str, each: usize) -> Result<usize, DecodeError> {
    let n = r.u64(what)?;
    // A count that could not fit in the remaining bytes is refused before allocating.
    match usize::try_from(n) {
        Ok(n) if n.checked_mul(each).is_some_and(|b| b <= r.remaining()) => Ok(n),
        _ => Err(DecodeError::InvalidValue { what }),
    }
}

fn decode_accounts(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let n = count(r, "account count", ACCOUNT_BYTES)?;
    state.accounts.reserve(n);
    let mut last: Option<AccountId> = None;
    for _ in 0..n {
        let id = r.account("account")?;
        if last.is_some_and(|prev| prev >= id) {
            return Err(SnapshotDecodeError::Unsorted);
        }
        last = Some(id);
        let account = Account {
            balance: r.amount("balance")?,
            nonce: Nonce(r.u64("nonce")?),
        };
        state.set_account(id, account);
    }
    Ok(())
}

fn decode_devices(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let n = count(r, "device count", 32 + 32 + 2 + 1 + 1 + 16)?;
    let mut last: Option<AccountId> = None;
    for _ in 0..n {
        let id = r.account("device")?;
        if last.is_some_and(|prev| prev >= id) {
            return Err(SnapshotDecodeError::Unsorted);
        }
        last = Some(id);
        let device = Device::decode(r)?;
        let owned = state.owned_counts.entry(device.owner).or_default();
        *owned = owned.saturating_add(1);
        state.devices.insert(id, device);
    }
    Ok(())
}
