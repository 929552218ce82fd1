//! Evidence against a sequencer, made and checked with the ledger: an
//! equivocation (checked by `ting_core::witness::Evidence::verify`) or a
//! block whose state root does not follow ([`RootEvidence`]).
//!
//! A wrong root is checked by re-running the block on the part of the state
//! it touches. The keys a transaction touches are read off the transaction
//! (its sender, the account it pays, the device it governs, the channel it
//! names) and off the records they lead to (a channel's payer and payee);
//! the evidence must prove each of them against the previous header's
//! state root, with its record where it holds one. Those records make a
//! partial ledger; the block's transactions run on it as on the whole one,
//! and the proof's buckets, changed as they changed, give the root the
//! header should carry.
//!
//! That is sound only for transactions whose outcome depends on those
//! records alone. Registering a device counts its owner's devices, opening
//! a channel counts its payer's channels, minting adds to the supply, and
//! the market's kinds read books and counts: none of these is in the state
//! map, so a block holding one is [`EvidenceError::Unprovable`] (a witness
//! still refuses to attest it; only the proof is out of reach). A block at
//! height 1 starts from the genesis, which the checker must hold: it runs
//! on the whole genesis state instead.

use std::collections::BTreeMap;

use ting_core::state_map::AccountRecord;
use ting_core::state_tree::MultiProof;
use ting_core::witness::{Evidence, EvidenceError, Proven, ProvenFault, RootEvidence};
use ting_core::{AccountId, Block, Genesis, Hash32, NetworkId, SignedTx, TxKind};

use crate::channel::Channel;
use crate::commitment::{map_key, value_hash, StateKey};
use crate::state::State;

/// What a checker knows of the network the evidence is about.
#[derive(Clone, Copy, Debug)]
pub struct Network<'a> {
    pub id: NetworkId,
    pub genesis_hash: Hash32,
    /// The keys that may sign its blocks.
    pub sequencers: &'a [AccountId],
    /// The genesis itself, needed only for a block at height 1.
    pub genesis: Option<&'a Genesis>,
}

impl<'a> Network<'a> {
    /// The network of `genesis`, which it holds whole.
    pub fn of(genesis: &'a Genesis) -> Network<'a> {
        Network {
            id: genesis.network,
            genesis_hash: genesis.hash(),
            sequencers: &genesis.sequencers,
            genesis: Some(genesis),
        }
    }
}

/// Checks `evidence` against `network`: what it proves, or why it proves
/// nothing.
///
/// # Errors
/// The evidence is of another network or signer, malformed, incomplete, or
/// shows a block that is right after all ([`EvidenceError::RootFollows`]).
pub fn verify(evidence: &Evidence, network: &Network<'_>) -> Result<Proven, EvidenceError> {
    let proven = match evidence {
        Evidence::WrongStateRoot(root) => verify_root(root, network)?,
        other => other.verify()?,
    };
    if proven.genesis != network.genesis_hash {
        return Err(EvidenceError::OtherNetwork(proven.genesis));
    }
    known(network, &proven.sequencer)?;
    Ok(proven)
}

fn known(network: &Network<'_>, signer: &AccountId) -> Result<(), EvidenceError> {
    if network.sequencers.contains(signer) {
        Ok(())
    } else {
        Err(EvidenceError::UnknownSequencer(*signer))
    }
}

fn verify_root(root: &RootEvidence, network: &Network<'_>) -> Result<Proven, EvidenceError> {
    root.check_block()?;
    let header = &root.block.header;
    if header.genesis != network.genesis_hash {
        return Err(EvidenceError::OtherNetwork(header.genesis));
    }
    known(network, &header.sequencer)?;
    let proven = |fault| Proven {
        genesis: header.genesis,
        sequencer: header.sequencer,
        height: header.height,
        epoch: header.epoch,
        fault,
    };
    if let Some(tx) = root.forged_tx() {
        return Ok(proven(ProvenFault::ForgedTransaction { tx }));
    }
    root.check_prev()?;
    let computed = match &root.prev {
        Some(prev) => {
            known(network, &prev.sequencer)?;
            rerun_on_proofs(root, network)?
        }
        None => rerun_on_genesis(&root.block, network)?,
    };
    if computed == header.state_root {
        return Err(EvidenceError::RootFollows(computed));
    }
    Ok(proven(ProvenFault::WrongStateRoot {
        claimed: header.state_root,
        computed,
    }))
}

/// The root block 1 leads to from the genesis.
fn rerun_on_genesis(block: &Block, network: &Network<'_>) -> Result<Hash32, EvidenceError> {
    let genesis = network.genesis.ok_or(EvidenceError::NeedsGenesis)?;
    if genesis.hash() != network.genesis_hash {
        return Err(EvidenceError::OtherNetwork(genesis.hash()));
    }
    let mut state = State::from_genesis(genesis, 0);
    state
        .check_header(&block.header)
        .map_err(|_| EvidenceError::NotConsecutive(0, block.header.height.0))?;
    for tx in &block.txs {
        let _refused_or_not = state.apply_tx(tx, block.header.timestamp);
    }
    Ok(state.update_root())
}

/// The root the block leads to from the proven records.
fn rerun_on_proofs(root: &RootEvidence, network: &Network<'_>) -> Result<Hash32, EvidenceError> {
    let prev = root.prev.as_ref().expect("checked by the caller");
    if root.block.txs.is_empty() {
        // Nothing touched, nothing to prove: the state is the previous one.
        return Ok(prev.state_root);
    }
    let pre = root.proof.root().map_err(EvidenceError::BadProof)?;
    if pre != prev.state_root {
        return Err(EvidenceError::WrongPrestate);
    }
    let records = touched(&root.block.txs, |key| proven_record(root, key))?;
    let mut state = State::empty(network.id, network.genesis_hash, 0);
    if let Some(genesis) = network.genesis {
        state.issuers = genesis.issuers.clone();
    }
    state.height = prev.height;
    state.tip_hash = prev.hash();
    state.last_timestamp = prev.timestamp;
    state.tip_header = Some(prev.clone());
    for (key, record) in &records {
        load(&mut state, key, record.as_deref())?;
    }
    let block = &root.block;
    state
        .check_header(&block.header)
        .map_err(|_| EvidenceError::NotConsecutive(prev.height.0, block.header.height.0))?;
    for tx in &block.txs {
        let _refused_or_not = state.apply_tx(tx, block.header.timestamp);
    }
    // The kinds `touched` allows write only what they read; a key written
    // outside the proof would make the root a guess.
    if let Some(stray) = state.changed.keys().find(|k| !records.contains_key(k)) {
        debug_assert!(false, "{stray:?} written outside the keys touched");
        return Err(EvidenceError::NotCovered(map_key(stray)));
    }
    let changes: Vec<(Hash32, Option<Hash32>)> = records
        .keys()
        .map(|key| {
            let record = state.current_record(key);
            (map_key(key), record.map(|r| value_hash(key, &r)))
        })
        .collect();
    root.proof
        .root_with(&changes)
        .map_err(EvidenceError::BadProof)
}

/// What the evidence proves `key` held: its record, checked against the
/// proof's value hash, or `None` if the proof shows it empty.
fn proven_record(root: &RootEvidence, key: &StateKey) -> Result<Option<Vec<u8>>, EvidenceError> {
    let k = map_key(key);
    let held = root
        .proof
        .get(&k)
        .map_err(|_| EvidenceError::NotCovered(k))?;
    let Some(value) = held else { return Ok(None) };
    let record = root.record(&k).ok_or(EvidenceError::RecordMismatch(k))?;
    if value_hash(key, record) != value {
        return Err(EvidenceError::RecordMismatch(k));
    }
    Ok(Some(record.to_vec()))
}

/// The keys `txs` touch, each with its record as `lookup` answers it: the
/// keys named by the transactions first, then the payer and payee of each
/// channel found.
fn touched<F>(
    txs: &[SignedTx],
    lookup: F,
) -> Result<BTreeMap<StateKey, Option<Vec<u8>>>, EvidenceError>
where
    F: Fn(&StateKey) -> Result<Option<Vec<u8>>, EvidenceError>,
{
    let mut keys: BTreeMap<StateKey, Option<Vec<u8>>> = BTreeMap::new();
    let mut named = Vec::new();
    for tx in txs {
        named.clear();
        named_keys(tx, &mut named)?;
        for key in &named {
            if let std::collections::btree_map::Entry::Vacant(slot) = keys.entry(*key) {
                slot.insert(lookup(key)?);
            }
        }
    }
    let parties: Vec<StateKey> = keys
        .iter()
        .filter_map(|(key, record)| match (key, record) {
            (StateKey::Channel(_), Some(r)) => Some(r),
            _ => None,
        })
        .map(|r| decode_channel(r))
        .collect::<Result<Vec<Channel>, _>>()?
        .into_iter()
        .flat_map(|c| [StateKey::Account(c.payer), StateKey::Account(c.payee)])
        .collect();
    for key in parties {
        if let std::collections::btree_map::Entry::Vacant(slot) = keys.entry(key) {
            slot.insert(lookup(&key)?);
        }
    }
    Ok(keys)
}

/// The keys `tx` names itself; the kinds whose outcome reads state outside
/// the state map are refused.
fn named_keys(tx: &SignedTx, out: &mut Vec<StateKey>) -> Result<(), EvidenceError> {
    out.push(StateKey::Account(tx.sender()));
    match tx.kind() {
        TxKind::Transfer { to, .. } => out.push(StateKey::Account(*to)),
        TxKind::SetSpendLimit { device, .. }
        | TxKind::Freeze { device }
        | TxKind::Unfreeze { device }
        | TxKind::Sweep { device, .. } => out.push(StateKey::Account(*device)),
        TxKind::SetMessagingKey { .. } => {}
        TxKind::ChannelClaim { channel, .. }
        | TxKind::ChannelTopUp { channel, .. }
        | TxKind::ChannelClose { channel, .. }
        | TxKind::ChannelReclaim { channel } => out.push(StateKey::Channel(*channel)),
        _ => return Err(unprovable(tx)),
    }
    Ok(())
}

fn unprovable(tx: &SignedTx) -> EvidenceError {
    EvidenceError::Unprovable {
        tx: tx.hash(),
        kind: tx.kind().name(),
    }
}

fn decode_channel(record: &[u8]) -> Result<Channel, EvidenceError> {
    let mut r = ting_core::encoding::Reader::new(record);
    let channel = Channel::decode(&mut r).map_err(EvidenceError::Malformed)?;
    r.finish("channel record")
        .map_err(EvidenceError::Malformed)?;
    Ok(channel)
}

/// Puts `key`'s proven record into the partial state, as a snapshot would.
fn load(state: &mut State, key: &StateKey, record: Option<&[u8]>) -> Result<(), EvidenceError> {
    let Some(record) = record else { return Ok(()) };
    match key {
        StateKey::Account(id) => {
            let parts = AccountRecord::from_record(record).map_err(EvidenceError::Malformed)?;
            state.set_account(*id, parts.account);
            if let Some(device) = parts.device {
                state.devices.insert(*id, device);
            }
            if let Some(messaging_key) = parts.messaging_key {
                state.messaging_keys.insert(*id, messaging_key);
            }
        }
        StateKey::Channel(id) => {
            let channel = decode_channel(record)?;
            if channel.closed.is_none() {
                let open = state.open_channels.entry(channel.payer).or_default();
                *open = open.saturating_add(1);
            }
            state.set_channel(*id, channel);
        }
        _ => unreachable!("`named_keys` names accounts and channels only"),
    }
    Ok(())
}

/// The evidence that `block` does not lead to its state root from `state`,
/// the state it started from: a witness's, after `apply_block` refused the
/// block for its root (which leaves the state map as it was before it).
/// A block holding a transaction whose signature does not verify gives that
/// evidence instead.
///
/// # Errors
/// [`EvidenceError::Unprovable`]: the block holds a kind the proof cannot
/// cover.
pub fn build(state: &State, block: &Block) -> Result<Evidence, EvidenceError> {
    let prev = state.tip_header().cloned();
    let mut evidence = RootEvidence {
        prev,
        block: block.clone(),
        proof: MultiProof::default(),
        records: Vec::new(),
    };
    if evidence.forged_tx().is_some() || evidence.prev.is_none() || block.txs.is_empty() {
        return Ok(Evidence::WrongStateRoot(Box::new(evidence)));
    }
    let keys = touched(&block.txs, |key| Ok(state.committed_record(key)))?;
    evidence.proof = state.tree.prove_many(keys.keys().map(map_key));
    let mut records: Vec<(Hash32, Vec<u8>)> = keys
        .iter()
        .filter_map(|(key, record)| record.clone().map(|r| (map_key(key), r)))
        .collect();
    records.sort_by_key(|(k, _)| *k);
    evidence.records = records;
    Ok(Evidence::WrongStateRoot(Box::new(evidence)))
}
