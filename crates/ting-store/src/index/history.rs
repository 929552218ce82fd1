//! Each account's history: which transactions it is in, and a summary of each
//! (when, what kind, its part, the other party, the amount) so that a page of
//! history or a chart of flows is read from the index alone, never from blocks.
//!
//! The summary is worked out from the transaction and its block when indexed,
//! with no reads beyond the channel lookup the history already needs. Its
//! byte layout is in the index's module doc (`# Tables`).

use std::ops::Bound;

use redb::ReadableDatabase;
use ting_core::limits::{ACCOUNT_FLOWS_MAX, ACCOUNT_TXS_PAGE_MAX};
use ting_core::{AccountId, Amount, BlockHeight, Hash32, SignedTx, Timestamp, TxKind};

use super::{ChannelParties, Index, IndexError, TxLocation, ACCOUNT_TXS};

pub(super) const ACCOUNT_KEY_BYTES: usize = 32 + 8 + 4;
pub(super) const HISTORY_VALUE_BYTES: usize = 32 + 8 + 1 + 1 + 1 + 32 + 8;

const FLAG_OTHER: u8 = 1;
const FLAG_AMOUNT: u8 = 1 << 1;
const FLAG_IN: u8 = 1 << 2;
const FLAG_OUT: u8 = 1 << 3;
const FLAGS_ALL: u8 = FLAG_OTHER | FLAG_AMOUNT | FLAG_IN | FLAG_OUT;

/// An account's part in a transaction of its history. The codes are stored in
/// the index: a code is never reused for another meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryRole {
    /// It sent the transaction.
    Sender,
    /// The transaction names it (`TxKind::counterparty`): the recipient of a
    /// transfer or mint, the device of a device transaction, the payee of a
    /// channel open or hold, the buyer of a stream delivery.
    Counterparty,
    /// It is the payer or payee of the channel the transaction acts on, and
    /// neither sent it nor is named in it.
    ChannelParty,
}

impl HistoryRole {
    /// The stable name, as used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            HistoryRole::Sender => "sender",
            HistoryRole::Counterparty => "counterparty",
            HistoryRole::ChannelParty => "channel_party",
        }
    }

    /// The stable code the index stores.
    pub fn code(self) -> u8 {
        match self {
            HistoryRole::Sender => 0,
            HistoryRole::Counterparty => 1,
            HistoryRole::ChannelParty => 2,
        }
    }

    pub fn from_code(code: u8) -> Option<HistoryRole> {
        match code {
            0 => Some(HistoryRole::Sender),
            1 => Some(HistoryRole::Counterparty),
            2 => Some(HistoryRole::ChannelParty),
            _ => None,
        }
    }
}

/// Which way the amount a transaction names moved for one account's balance:
/// what the explorer charts as earnings (`In`) and spending (`Out`).
///
/// `Out` for the sender of a transfer, of a channel open or top-up and of a
/// hold (their amount leaves the spendable balance, locked or paid), and for
/// the device a sweep takes from; `In` for the recipient of a transfer or mint
/// and for the owner that sweeps. A transfer or sweep to oneself moves nothing;
/// the issuer's mint to another moves nothing of its own. Every other entry has
/// none: claims, closes and settlements name no amount (the ledger works it
/// out), and a payee receives nothing when a channel or hold is opened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    In,
    Out,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::In => "in",
            Flow::Out => "out",
        }
    }
}

/// One transaction of an account's history, as the index summarises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: TxLocation,
    pub tx_hash: Hash32,
    /// The timestamp of the transaction's block.
    pub timestamp: Timestamp,
    /// The kind's wire tag; [`HistoryEntry::kind_name`] names it.
    pub kind_tag: u8,
    pub role: HistoryRole,
    /// The other party, if known: the counterparty for the sender (itself for
    /// a transfer to itself), the sender for the counterparty, the other
    /// channel party for a channel party. A third party's claim on a channel
    /// has the payee, whom claims pay.
    pub other: Option<AccountId>,
    /// The amount the transaction names (`TxKind::amount`).
    pub amount: Option<Amount>,
    /// Which way that amount moved for this account, if it did; `Some` only
    /// with an amount.
    pub flow: Option<Flow>,
}

impl HistoryEntry {
    /// The kind's stable name (`TxKind::name`).
    pub fn kind_name(&self) -> &'static str {
        TxKind::name_of_tag(self.kind_tag).expect("entries are read only with a known kind")
    }

    /// What this transaction took from the account's spendable balance.
    pub fn spent(&self) -> Option<Amount> {
        self.amount.filter(|_| self.flow == Some(Flow::Out))
    }

    /// What this transaction added to the account's balance.
    pub fn earned(&self) -> Option<Amount> {
        self.amount.filter(|_| self.flow == Some(Flow::In))
    }
}

/// An account's entries since a time, newest first: what [`Index::account_flows`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFlows {
    /// Each with a timestamp at or after the `since` asked for.
    pub entries: Vec<HistoryEntry>,
    /// Whether these are all of the account's entries since then; false when
    /// the limit cut them short (then they cover only from the oldest one's time).
    pub complete: bool,
}

/// The history entries a batch of blocks adds, gathered to be inserted in key
/// order. Keys are sorted with a position into `values`, so the sort moves 48
/// bytes an entry rather than the whole entry.
#[derive(Default)]
pub(super) struct HistoryBatch {
    keys: Vec<([u8; ACCOUNT_KEY_BYTES], u32)>,
    values: Vec<[u8; HISTORY_VALUE_BYTES]>,
}

impl HistoryBatch {
    /// Adds `tx` to the history of each account it involves, once each: its
    /// sender, its counterparty, and the parties of the channel it acts on.
    pub(super) fn push(
        &mut self,
        tx: &SignedTx,
        channel: Option<ChannelParties>,
        at: TxLocation,
        timestamp: Timestamp,
    ) {
        let kind = tx.kind();
        let sender = tx.sender();
        let named = kind.counterparty();
        let involved: [Option<(AccountId, HistoryRole, Option<AccountId>)>; 4] = [
            Some((
                sender,
                HistoryRole::Sender,
                named.or_else(|| channel.map(|p| other_party(p, &sender))),
            )),
            named.map(|n| (n, HistoryRole::Counterparty, Some(sender))),
            channel.map(|p| (p.payer, HistoryRole::ChannelParty, Some(p.payee))),
            channel.map(|p| (p.payee, HistoryRole::ChannelParty, Some(p.payer))),
        ];
        let hash = tx.hash();
        let amount = kind.amount();
        for (i, entry) in involved.iter().enumerate() {
            let Some((account, role, other)) = *entry else {
                continue;
            };
            if involved[..i]
                .iter()
                .any(|e| e.is_some_and(|e| e.0 == account))
            {
                continue;
            }
            let to_self = other == Some(account);
            let summary = HistoryEntry {
                at,
                tx_hash: hash,
                timestamp,
                kind_tag: kind.tag(),
                role,
                other,
                amount,
                flow: amount.and_then(|_| flow(kind, role, to_self)),
            };
            let slot = u32::try_from(self.values.len()).expect("a batch holds under 2^32 entries");
            self.values.push(encode(&summary));
            self.keys.push((account_key(&account, at), slot));
        }
    }

    /// The entries in key order.
    pub(super) fn sorted(
        &mut self,
    ) -> impl Iterator<Item = (&[u8; ACCOUNT_KEY_BYTES], &[u8; HISTORY_VALUE_BYTES])> {
        self.keys.sort_unstable_by_key(|e| e.0);
        let values = &self.values;
        self.keys
            .iter()
            .map(move |(key, slot)| (key, &values[*slot as usize]))
    }
}

/// The channel party other than `account`; the payee when `account` is neither.
fn other_party(p: ChannelParties, account: &AccountId) -> AccountId {
    if *account == p.payee {
        p.payer
    } else {
        p.payee
    }
}

/// Which way the named amount moved for an account of `role` (see [`Flow`]).
fn flow(kind: &TxKind, role: HistoryRole, to_self: bool) -> Option<Flow> {
    use HistoryRole::{Counterparty, Sender};
    match (kind, role) {
        (TxKind::Transfer { .. }, Sender) | (TxKind::Sweep { .. }, Counterparty) => {
            (!to_self).then_some(Flow::Out)
        }
        (TxKind::Transfer { .. } | TxKind::Mint { .. }, Counterparty) => Some(Flow::In),
        (TxKind::Mint { .. }, Sender) => to_self.then_some(Flow::In),
        (TxKind::Sweep { .. }, Sender) => (!to_self).then_some(Flow::In),
        (
            TxKind::ChannelOpen { .. } | TxKind::ChannelTopUp { .. } | TxKind::HoldCreate { .. },
            Sender,
        ) => Some(Flow::Out),
        _ => None,
    }
}

pub(super) fn account_key(account: &AccountId, at: TxLocation) -> [u8; ACCOUNT_KEY_BYTES] {
    let mut key = [0u8; ACCOUNT_KEY_BYTES];
    key[..32].copy_from_slice(&account.0);
    key[32..40].copy_from_slice(&at.height.0.to_be_bytes());
    key[40..].copy_from_slice(&at.index.to_be_bytes());
    key
}

fn location_of(key: &[u8; ACCOUNT_KEY_BYTES]) -> TxLocation {
    TxLocation {
        height: BlockHeight(u64::from_be_bytes(array(&key[32..40]))),
        index: u32::from_be_bytes(array(&key[40..])),
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().expect("a slice of the array's length")
}

fn encode(e: &HistoryEntry) -> [u8; HISTORY_VALUE_BYTES] {
    let mut flags = 0;
    let mut v = [0u8; HISTORY_VALUE_BYTES];
    v[..32].copy_from_slice(&e.tx_hash.0);
    v[32..40].copy_from_slice(&e.timestamp.0.to_be_bytes());
    v[40] = e.kind_tag;
    v[41] = e.role.code();
    if let Some(other) = e.other {
        flags |= FLAG_OTHER;
        v[43..75].copy_from_slice(&other.0);
    }
    if let Some(amount) = e.amount {
        flags |= FLAG_AMOUNT;
        v[75..].copy_from_slice(&amount.base_units().to_be_bytes());
    }
    match e.flow {
        None => {}
        Some(Flow::In) => flags |= FLAG_IN,
        Some(Flow::Out) => flags |= FLAG_OUT,
    }
    assert!(
        e.flow.is_none() || e.amount.is_some(),
        "a flow moves an amount"
    );
    v[42] = flags;
    v
}

/// Reads a stored entry; `Err` names what is damaged.
fn decode(at: TxLocation, v: &[u8; HISTORY_VALUE_BYTES]) -> Result<HistoryEntry, &'static str> {
    let flags = v[42];
    if flags & !FLAGS_ALL != 0 || flags & (FLAG_IN | FLAG_OUT) == FLAG_IN | FLAG_OUT {
        return Err("unknown flags");
    }
    let flow = match flags & (FLAG_IN | FLAG_OUT) {
        FLAG_IN => Some(Flow::In),
        FLAG_OUT => Some(Flow::Out),
        _ => None,
    };
    if flow.is_some() && flags & FLAG_AMOUNT == 0 {
        return Err("a flow without an amount");
    }
    if TxKind::name_of_tag(v[40]).is_none() {
        return Err("an unknown kind");
    }
    Ok(HistoryEntry {
        at,
        tx_hash: Hash32(array(&v[..32])),
        timestamp: Timestamp(u64::from_be_bytes(array(&v[32..40]))),
        kind_tag: v[40],
        role: HistoryRole::from_code(v[41]).ok_or("an unknown role")?,
        other: (flags & FLAG_OTHER != 0).then(|| AccountId(array(&v[43..75]))),
        amount: (flags & FLAG_AMOUNT != 0)
            .then(|| Amount::new(u64::from_be_bytes(array(&v[75..])))),
        flow,
    })
}

/// The transaction hash an entry's value starts with.
fn hash_of(v: &[u8; HISTORY_VALUE_BYTES]) -> Hash32 {
    Hash32(array(&v[..32]))
}

impl Index {
    /// An account's transactions, newest first; `before` is an exclusive cursor for
    /// paging; at most `limit`, which may not exceed `limits::ACCOUNT_TXS_PAGE_MAX`.
    pub fn account_txs(
        &self,
        account: &AccountId,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<(TxLocation, Hash32)>, IndexError> {
        page_fits(limit, ACCOUNT_TXS_PAGE_MAX)?;
        let mut page = Vec::with_capacity(limit.min(64));
        self.scan_history(account, before, limit, |at, value| {
            page.push((at, hash_of(value)));
            Ok(true)
        })?;
        Ok(page)
    }

    /// [`Index::account_txs`] with each transaction's summary: the same
    /// order, cursor and limit.
    pub fn account_history(
        &self,
        account: &AccountId,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<HistoryEntry>, IndexError> {
        page_fits(limit, ACCOUNT_TXS_PAGE_MAX)?;
        let mut page = Vec::with_capacity(limit.min(64));
        self.scan_history(account, before, limit, |at, value| {
            page.push(self.decode(at, value)?);
            Ok(true)
        })?;
        Ok(page)
    }

    /// An account's entries in blocks timestamped at or after `since`, newest
    /// first, at most `limit` (which may not exceed `limits::ACCOUNT_FLOWS_MAX`):
    /// what a chart of its spending and earnings over time buckets
    /// ([`HistoryEntry::spent`], [`HistoryEntry::earned`]). The scan stops at
    /// the first older entry, since block timestamps never decrease (a ledger rule).
    pub fn account_flows(
        &self,
        account: &AccountId,
        since: Timestamp,
        limit: usize,
    ) -> Result<AccountFlows, IndexError> {
        page_fits(limit, ACCOUNT_FLOWS_MAX)?;
        let mut entries = Vec::with_capacity(limit.min(1024));
        let mut complete = true;
        // One entry beyond the limit is read to learn whether any was left out.
        self.scan_history(account, None, limit.saturating_add(1), |at, value| {
            let entry = self.decode(at, value)?;
            if entry.timestamp < since {
                return Ok(false);
            }
            if entries.len() == limit {
                complete = false;
                return Ok(false);
            }
            entries.push(entry);
            Ok(true)
        })?;
        Ok(AccountFlows { entries, complete })
    }

    /// Visits up to `most` of an account's entries before `before`, newest
    /// first, while `visit` answers true.
    fn scan_history(
        &self,
        account: &AccountId,
        before: Option<TxLocation>,
        most: usize,
        mut visit: impl FnMut(TxLocation, &[u8; HISTORY_VALUE_BYTES]) -> Result<bool, IndexError>,
    ) -> Result<(), IndexError> {
        if most == 0 {
            return Ok(());
        }
        let first = account_key(
            account,
            TxLocation {
                height: BlockHeight(0),
                index: 0,
            },
        );
        let upper = match before {
            Some(at) => Bound::Excluded(account_key(account, at)),
            None => Bound::Included(account_key(
                account,
                TxLocation {
                    height: BlockHeight(u64::MAX),
                    index: u32::MAX,
                },
            )),
        };
        let db = self.db()?;
        let txn = db.begin_read().map_err(self.store("begin a read"))?;
        let table = txn
            .open_table(ACCOUNT_TXS)
            .map_err(self.store("open the accounts table"))?;
        let range = table
            .range::<&[u8; ACCOUNT_KEY_BYTES]>((Bound::Included(&first), upper.as_ref()))
            .map_err(self.store("scan an account"))?;
        for entry in range.rev().take(most) {
            let (key, value) = entry.map_err(self.store("scan an account"))?;
            if !visit(location_of(key.value()), value.value())? {
                break;
            }
        }
        Ok(())
    }

    fn decode(
        &self,
        at: TxLocation,
        value: &[u8; HISTORY_VALUE_BYTES],
    ) -> Result<HistoryEntry, IndexError> {
        decode(at, value).map_err(|what| IndexError::Corrupt {
            path: self.path.clone(),
            what,
        })
    }
}

fn page_fits(limit: usize, max: usize) -> Result<(), IndexError> {
    if limit > max {
        return Err(IndexError::PageTooLarge {
            requested: limit,
            max,
        });
    }
    Ok(())
}
