//! A channel as the ledger holds it, and its canonical record: the bytes a
//! snapshot stores and the state map commits to, so a device that holds a
//! proof can read a channel's deposit, chains, price and progress itself.
//!
//! Record layout (little-endian): payer [32], payee [32], deposit u64,
//! claimed u64, opened_at u64, expires_at u64, mode u8 (1 hash chain: price
//! u64, segment u32, base u64, current anchor [32] and length u32, next flag
//! u8 and next anchor [32] and length u32 if set, claimed index u64, claimed
//! tick [32]; 2 voucher), closed flag u8 (and if set: at u64, refunded u64,
//! by u8: 1 payee, 2 reclaim). The channel id is not in the record: it is the
//! key. Decoding checks the record's own invariants, so damaged bytes cannot
//! make a claim pay more than a deposit.

use crate::prelude::*;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::channel::ChainSegment;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::limits::CHANNEL_GRACE_MS;
use crate::types::Timestamp;

const MODE_HASH_CHAIN: u8 = 1;
const MODE_VOUCHER: u8 = 2;
const BY_PAYEE: u8 = 1;
const BY_RECLAIM: u8 = 2;
/// The fewest bytes one record takes (a voucher channel, open).
pub const CHANNEL_RECORD_BYTES_MIN: usize = 32 * 2 + 8 * 4 + 1 + 1;

/// One channel as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub payer: AccountId,
    pub payee: AccountId,
    /// Everything the payer has put in: the opening deposit and every top-up.
    pub deposit: Amount,
    /// Everything paid out to the payee so far.
    pub claimed: Amount,
    pub opened_at: Timestamp,
    pub expires_at: Timestamp,
    pub mode: ChannelTerms,
    /// Set once the channel is settled; it then holds nothing.
    pub closed: Option<Closed>,
}

/// How a channel is paid, with its claim progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelTerms {
    HashChain(HashChainState),
    Voucher,
}

/// A hash-chain channel's chains and how far they have been claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashChainState {
    pub price: Amount,
    /// The number of the segment being claimed (0 for the chain given at open).
    pub segment: u32,
    /// The global index of the current segment's tick 0 (its anchor).
    pub base: u64,
    pub current: ChainSegment,
    /// A further chain queued by a top-up; its ticks follow the current ones.
    pub next: Option<ChainSegment>,
    /// The highest global tick claimed.
    pub claimed_index: u64,
    /// The value of that tick (the current anchor while nothing of it is claimed).
    pub claimed_tick: Hash32,
}

impl HashChainState {
    /// Ticks the channel's chains hold in all: claimed, current and queued.
    pub fn total_ticks(&self) -> Option<u64> {
        let queued = self.next.map_or(0, |s| u64::from(s.len));
        self.base
            .checked_add(u64::from(self.current.len))?
            .checked_add(queued)
    }
}

/// How and when a channel was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed {
    pub at: Timestamp,
    /// What went back to the payer.
    pub refunded: Amount,
    pub by: CloseKind,
}

/// Who settled a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    /// The payee closed it (`ChannelClose`).
    Payee,
    /// The payer took back the rest after expiry and grace (`ChannelReclaim`).
    Reclaim,
}

impl CloseKind {
    pub fn name(self) -> &'static str {
        match self {
            CloseKind::Payee => "closed_by_payee",
            CloseKind::Reclaim => "reclaimed_by_payer",
        }
    }
}

impl Channel {
    /// What the channel holds now: `deposit - claimed` while open, zero once settled.
    pub fn locked(&self) -> Amount {
        if self.closed.is_some() {
            return Amount::ZERO;
        }
        self.deposit
            .checked_sub(self.claimed)
            .expect("claims never exceed the deposit")
    }

    /// The first instant at which the payee may no longer claim and the payer may reclaim.
    pub fn reclaimable_at(&self) -> Timestamp {
        Timestamp(self.expires_at.0.saturating_add(CHANNEL_GRACE_MS))
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            ChannelTerms::HashChain(_) => "hash_chain",
            ChannelTerms::Voucher => "voucher",
        }
    }

    /// Appends the canonical record.
    pub fn encode(&self, w: &mut Writer) {
        w.account(&self.payer).account(&self.payee);
        w.amount(self.deposit)
            .amount(self.claimed)
            .u64(self.opened_at.0)
            .u64(self.expires_at.0);
        match &self.mode {
            ChannelTerms::HashChain(h) => {
                w.u8(MODE_HASH_CHAIN)
                    .amount(h.price)
                    .u32(h.segment)
                    .u64(h.base);
                h.current.encode(w);
                if let Some(next) = &h.next {
                    w.u8(1);
                    next.encode(w);
                } else {
                    w.u8(0);
                }
                w.u64(h.claimed_index).hash(&h.claimed_tick);
            }
            ChannelTerms::Voucher => {
                w.u8(MODE_VOUCHER);
            }
        }
        if let Some(closed) = self.closed {
            let by = match closed.by {
                CloseKind::Payee => BY_PAYEE,
                CloseKind::Reclaim => BY_RECLAIM,
            };
            w.u8(1).u64(closed.at.0).amount(closed.refunded).u8(by);
        } else {
            w.u8(0);
        }
    }

    /// The canonical record alone.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Reads one record, checking that claims stay within the deposit and the chains.
    pub fn decode(r: &mut Reader<'_>) -> Result<Channel, DecodeError> {
        let payer = r.account("payer")?;
        let payee = r.account("payee")?;
        let deposit = r.amount("deposit")?;
        let claimed = r.amount("claimed")?;
        if claimed > deposit {
            return Err(invalid("claimed above deposit"));
        }
        let opened_at = Timestamp(r.u64("opened_at")?);
        let expires_at = Timestamp(r.u64("expires_at")?);
        let mode = match r.u8("channel mode")? {
            MODE_HASH_CHAIN => ChannelTerms::HashChain(decode_chain_state(r)?),
            MODE_VOUCHER => ChannelTerms::Voucher,
            _ => return Err(invalid("channel mode")),
        };
        let closed = match r.u8("closed flag")? {
            0 => None,
            1 => Some(Closed {
                at: Timestamp(r.u64("closed at")?),
                refunded: r.amount("refunded")?,
                by: match r.u8("closed by")? {
                    BY_PAYEE => CloseKind::Payee,
                    BY_RECLAIM => CloseKind::Reclaim,
                    _ => return Err(invalid("closed by")),
                },
            }),
            _ => return Err(invalid("closed flag")),
        };
        Ok(Channel {
            payer,
            payee,
            deposit,
            claimed,
            opened_at,
            expires_at,
            mode,
            closed,
        })
    }

    /// Reads a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Channel, DecodeError> {
        let mut r = Reader::new(bytes);
        let channel = Channel::decode(&mut r)?;
        r.finish("channel record")?;
        Ok(channel)
    }
}

fn decode_chain_state(r: &mut Reader<'_>) -> Result<HashChainState, DecodeError> {
    let price = r.amount("price")?;
    let segment = r.u32("segment")?;
    let base = r.u64("base")?;
    let current = ChainSegment::decode(r)?;
    let next = match r.u8("next flag")? {
        0 => None,
        1 => Some(ChainSegment::decode(r)?),
        _ => return Err(invalid("next flag")),
    };
    let state = HashChainState {
        price,
        segment,
        base,
        current,
        next,
        claimed_index: r.u64("claimed index")?,
        claimed_tick: r.hash("claimed tick")?,
    };
    let end = state.total_ticks().ok_or_else(|| invalid("chain length"))?;
    if state.claimed_index < base || state.claimed_index > end {
        return Err(invalid("claimed index"));
    }
    Ok(state)
}

fn invalid(what: &'static str) -> DecodeError {
    DecodeError::InvalidValue { what }
}
