//! The index's channel tables: who the parties of each channel are, and each
//! account's channels newest first.
//!
//! A channel transaction after the open names only the channel, yet it belongs
//! in both parties' histories. The index sees only blocks, so it remembers the
//! parties when it indexes the open (which always precedes every other
//! transaction on the channel, in an earlier block or earlier in the same one)
//! and looks them up for the rest.
//!
//! ```text
//! channels:         channel id [32] -> payer [32] | payee [32]
//! account_channels: account [32] | role u8 | height u64 BE | index u32 BE (45 bytes)
//!                   -> channel id [32]
//! ```
//!
//! The role sits before the location so that one role's channels are one range;
//! both roles are read as two reverse ranges merged by location.

use std::collections::HashMap;
use std::ops::Bound;

use redb::{ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use ting_core::{AccountId, BlockHeight, ChannelId, SignedTx, TxKind};

use super::{Index, IndexError, TxLocation};

pub(super) const CHANNELS: TableDefinition<&[u8; 32], &[u8; 64]> = TableDefinition::new("channels");
pub(super) const ACCOUNT_CHANNELS: TableDefinition<&[u8; CHANNEL_KEY_BYTES], &[u8; 32]> =
    TableDefinition::new("account_channels");
const CHANNEL_KEY_BYTES: usize = 32 + 1 + 8 + 4;

/// Most channels one page of [`Index::account_channels`] holds.
pub const ACCOUNT_CHANNELS_PAGE_MAX: usize = 200;

/// Which side of a channel an account is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelRole {
    Payer,
    Payee,
}

impl ChannelRole {
    pub fn name(self) -> &'static str {
        match self {
            ChannelRole::Payer => "payer",
            ChannelRole::Payee => "payee",
        }
    }

    fn byte(self) -> u8 {
        match self {
            ChannelRole::Payer => 0,
            ChannelRole::Payee => 1,
        }
    }
}

/// One of an account's channels: where it was opened and the account's side of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountChannel {
    pub opened: TxLocation,
    pub channel: ChannelId,
    pub role: ChannelRole,
}

/// A channel's payer and payee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelParties {
    pub payer: AccountId,
    pub payee: AccountId,
}

fn channel_key(account: &AccountId, role: ChannelRole, at: TxLocation) -> [u8; CHANNEL_KEY_BYTES] {
    let mut key = [0u8; CHANNEL_KEY_BYTES];
    key[..32].copy_from_slice(&account.0);
    key[32] = role.byte();
    key[33..41].copy_from_slice(&at.height.0.to_be_bytes());
    key[41..].copy_from_slice(&at.index.to_be_bytes());
    key
}

fn channel_location(key: &[u8; CHANNEL_KEY_BYTES]) -> TxLocation {
    let mut height = [0u8; 8];
    height.copy_from_slice(&key[33..41]);
    let mut index = [0u8; 4];
    index.copy_from_slice(&key[41..]);
    TxLocation {
        height: BlockHeight(u64::from_be_bytes(height)),
        index: u32::from_be_bytes(index),
    }
}

fn parties_bytes(p: ChannelParties) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&p.payer.0);
    out[32..].copy_from_slice(&p.payee.0);
    out
}

fn parties_of(bytes: &[u8; 64]) -> ChannelParties {
    let mut payer = [0u8; 32];
    payer.copy_from_slice(&bytes[..32]);
    let mut payee = [0u8; 32];
    payee.copy_from_slice(&bytes[32..]);
    ChannelParties {
        payer: AccountId(payer),
        payee: AccountId(payee),
    }
}

/// What one batch of blocks adds to the channel tables, gathered before writing
/// (like the other tables, so inserts go in key order).
#[derive(Default)]
pub(super) struct ChannelBatch {
    /// Channels opened in this batch, which the table does not hold yet.
    opened: HashMap<ChannelId, ChannelParties>,
    pub(super) account_channels: Vec<([u8; CHANNEL_KEY_BYTES], [u8; 32])>,
}

impl ChannelBatch {
    /// The accounts a channel transaction involves besides its sender: both
    /// parties (the open's payee is its counterparty and already indexed, so it
    /// adds none). Records an open. Other kinds involve none here.
    pub(super) fn parties(
        &mut self,
        index: &Index,
        table: &Table<&[u8; 32], &[u8; 64]>,
        tx: &SignedTx,
        at: TxLocation,
    ) -> Result<Option<ChannelParties>, IndexError> {
        if let TxKind::ChannelOpen { payee, .. } = tx.kind() {
            let channel = tx.opened_channel().expect("an open opens a channel");
            let parties = ChannelParties {
                payer: tx.sender(),
                payee: *payee,
            };
            self.opened.insert(channel, parties);
            for (account, role) in [
                (parties.payer, ChannelRole::Payer),
                (*payee, ChannelRole::Payee),
            ] {
                self.account_channels
                    .push((channel_key(&account, role, at), channel.0 .0));
            }
            return Ok(None);
        }
        let Some(channel) = tx.kind().channel() else {
            return Ok(None);
        };
        if let Some(p) = self.opened.get(&channel) {
            return Ok(Some(*p));
        }
        let found = table
            .get(&channel.0 .0)
            .map_err(index.store("read a channel"))?;
        // Blocks hold only applied transactions, and the ledger applies none on
        // an unknown channel, so a miss means an index built by older code.
        Ok(found.map(|v| parties_of(v.value())))
    }

    /// Writes what was gathered, in key order.
    pub(super) fn write(
        mut self,
        index: &Index,
        txn: &WriteTransaction,
        channels: &mut Table<&[u8; 32], &[u8; 64]>,
    ) -> Result<(), IndexError> {
        let write = index.store("write an entry");
        let mut opened: Vec<_> = self.opened.into_iter().collect();
        opened.sort_unstable_by_key(|e| e.0);
        for (id, parties) in &opened {
            channels
                .insert(&id.0 .0, &parties_bytes(*parties))
                .map_err(write)?;
        }
        let mut table = txn
            .open_table(ACCOUNT_CHANNELS)
            .map_err(index.store("open the account channels table"))?;
        self.account_channels.sort_unstable_by_key(|e| e.0);
        for (key, id) in &self.account_channels {
            table.insert(key, id).map_err(write)?;
        }
        Ok(())
    }
}

type Entry = (TxLocation, ChannelId);

impl Index {
    /// A channel's payer and payee, if its open has been indexed.
    pub fn channel_parties(
        &self,
        channel: &ChannelId,
    ) -> Result<Option<ChannelParties>, IndexError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(self.store("begin a read"))?;
        let table = txn
            .open_table(CHANNELS)
            .map_err(self.store("open the channels table"))?;
        let found = table
            .get(&channel.0 .0)
            .map_err(self.store("read a channel"))?;
        Ok(found.map(|v| parties_of(v.value())))
    }

    /// An account's channels (of `role`, or both when `None`), newest open first;
    /// `before` is an exclusive cursor for paging; at most `limit`, which may not
    /// exceed [`ACCOUNT_CHANNELS_PAGE_MAX`].
    pub fn account_channels(
        &self,
        account: &AccountId,
        role: Option<ChannelRole>,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<AccountChannel>, IndexError> {
        if limit > ACCOUNT_CHANNELS_PAGE_MAX {
            return Err(IndexError::PageTooLarge {
                requested: limit,
                max: ACCOUNT_CHANNELS_PAGE_MAX,
            });
        }
        let payer = match role {
            None | Some(ChannelRole::Payer) => {
                self.role_page(account, ChannelRole::Payer, before, limit)?
            }
            Some(ChannelRole::Payee) => Vec::new(),
        };
        let payee = match role {
            None | Some(ChannelRole::Payee) => {
                self.role_page(account, ChannelRole::Payee, before, limit)?
            }
            Some(ChannelRole::Payer) => Vec::new(),
        };
        Ok(merge_newest_first(payer, payee, limit))
    }

    /// One role's newest `limit` channels before the cursor.
    fn role_page(
        &self,
        account: &AccountId,
        role: ChannelRole,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<Entry>, IndexError> {
        let first = channel_key(
            account,
            role,
            TxLocation {
                height: BlockHeight(0),
                index: 0,
            },
        );
        let last = TxLocation {
            height: BlockHeight(u64::MAX),
            index: u32::MAX,
        };
        let upper = match before {
            Some(at) => Bound::Excluded(channel_key(account, role, at)),
            None => Bound::Included(channel_key(account, role, last)),
        };
        let db = self.db()?;
        let txn = db.begin_read().map_err(self.store("begin a read"))?;
        let table = txn
            .open_table(ACCOUNT_CHANNELS)
            .map_err(self.store("open the account channels table"))?;
        let range = table
            .range::<&[u8; CHANNEL_KEY_BYTES]>((Bound::Included(&first), upper.as_ref()))
            .map_err(self.store("scan an account's channels"))?;
        let mut page = Vec::with_capacity(limit.min(64));
        for entry in range.rev().take(limit) {
            let (key, value) = entry.map_err(self.store("scan an account's channels"))?;
            page.push((
                channel_location(key.value()),
                ChannelId(ting_core::Hash32(*value.value())),
            ));
        }
        Ok(page)
    }
}

/// The newest `limit` of two newest-first lists. An account is never both sides
/// of one channel, so no location is in both.
fn merge_newest_first(payer: Vec<Entry>, payee: Vec<Entry>, limit: usize) -> Vec<AccountChannel> {
    let mut payer = payer.into_iter().peekable();
    let mut payee = payee.into_iter().peekable();
    let mut out = Vec::with_capacity(limit.min(64));
    while out.len() < limit {
        let take_payer = match (payer.peek(), payee.peek()) {
            (Some(a), Some(b)) => a.0 > b.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let (role, next) = if take_payer {
            (ChannelRole::Payer, payer.next())
        } else {
            (ChannelRole::Payee, payee.next())
        };
        let (opened, channel) = next.expect("peeked");
        out.push(AccountChannel {
            opened,
            channel,
            role,
        });
    }
    out
}
