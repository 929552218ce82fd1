//! Payment channels in the ledger state: what each holds, and the five
//! transactions that act on them (open, claim, top-up, close, reclaim).
//!
//! Money conservation: an open channel holds `deposit - claimed`; a claim
//! moves value from the channel to the payee, a close or reclaim moves the
//! rest back to the payer and leaves the channel holding nothing. Settled
//! channels stay in the state (so their ids and outcomes remain queryable and
//! no proof can ever be claimed twice), at the cost of one record each.

use ting_core::channel::{verify_voucher, ChainKey};
pub use ting_core::channel::{Channel, ChannelTerms, CloseKind, Closed, HashChainState};
use ting_core::limits::{
    CHAIN_LEN_MAX, CHANNELS_OPEN_PER_PAYER_MAX, CHANNEL_LIFETIME_MAX_MS, CLAIM_HASHES_MAX,
};
use ting_core::{
    AccountId, Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, Hash32, Nonce, Timestamp,
};

use crate::apply::debited;
use crate::error::TxError;
use crate::state::{Account, State};

/// The sender of the transaction being applied: id, account, and its next nonce.
pub(crate) type Sender = (AccountId, Account, Nonce);

impl State {
    pub(crate) fn channel_open(
        &mut self,
        (id, account, next): Sender,
        nonce: Nonce,
        fields: (AccountId, Amount, Timestamp, &ChannelMode),
        at: Timestamp,
    ) -> Result<(), TxError> {
        let (payee, deposit, expires_at, mode) = fields;
        if payee == id {
            return Err(TxError::SelfTransfer);
        }
        payee.check_valid().map_err(TxError::InvalidRecipient)?;
        if deposit.is_zero() {
            return Err(TxError::ZeroAmount);
        }
        check_expiry(expires_at, at)?;
        let terms = match mode {
            ChannelMode::HashChain { chain, price } => {
                check_chain(chain)?;
                if price.is_zero() {
                    return Err(TxError::ZeroAmount);
                }
                let state = HashChainState {
                    price: *price,
                    segment: 0,
                    base: 0,
                    current: *chain,
                    next: None,
                    claimed_index: 0,
                    claimed_tick: chain.anchor,
                };
                check_backed(&state, deposit)?;
                ChannelTerms::HashChain(state)
            }
            ChannelMode::Voucher => ChannelTerms::Voucher,
        };
        let open = self.open_channels.get(&id).copied().unwrap_or(0);
        if open as usize >= CHANNELS_OPEN_PER_PAYER_MAX {
            return Err(TxError::TooManyChannels {
                payer: id,
                max: CHANNELS_OPEN_PER_PAYER_MAX,
            });
        }
        let channel_id = ChannelId::derive(&self.genesis_hash, &id, nonce);
        if self.channels.contains_key(&channel_id) {
            return Err(TxError::ChannelExists(channel_id));
        }
        let balance = debited(&account, deposit)?;
        let spend = self.spend_check(&id, deposit, at)?;
        self.put(id, balance, next);
        self.record_spend(&id, spend);
        self.open_channels.insert(id, open.saturating_add(1));
        self.note_channel(&channel_id);
        self.set_channel(
            channel_id,
            Channel {
                payer: id,
                payee,
                deposit,
                claimed: Amount::ZERO,
                opened_at: at,
                expires_at,
                mode: terms,
                closed: None,
            },
        );
        Ok(())
    }

    pub(crate) fn channel_claim(
        &mut self,
        sender: Sender,
        channel_id: &ChannelId,
        proof: &ChannelProof,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let channel = self.open_channel(channel_id)?;
        check_claim_window(channel, at)?;
        let (updated, payout) = self.claimed(channel_id, channel, proof)?;
        let payee = updated.payee;
        let (credited, payee_nonce) = self.payee_credit(sender, &payee, payout)?;
        self.touch(sender);
        self.put(payee, credited, payee_nonce);
        self.note_channel(channel_id);
        self.set_channel(*channel_id, updated);
        Ok(())
    }

    pub(crate) fn channel_top_up(
        &mut self,
        (id, account, next): Sender,
        channel_id: &ChannelId,
        fields: (Amount, Timestamp, Option<ChainSegment>),
        at: Timestamp,
    ) -> Result<(), TxError> {
        let (amount, expires_at, extension) = fields;
        let channel = self.open_channel(channel_id)?;
        if channel.payer != id {
            return Err(TxError::NotPayer(*channel_id));
        }
        if at >= channel.expires_at {
            return Err(TxError::ChannelExpired {
                channel: *channel_id,
                expired_at: channel.expires_at,
            });
        }
        if expires_at < channel.expires_at {
            return Err(TxError::BadExpiry(format!(
                "a top-up cannot move the expiry earlier than {}",
                channel.expires_at
            )));
        }
        check_expiry(expires_at, at)?;
        if amount.is_zero() && expires_at == channel.expires_at && extension.is_none() {
            return Err(TxError::ZeroAmount);
        }
        let mut updated = channel.clone();
        updated.deposit = updated
            .deposit
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        updated.expires_at = expires_at;
        extend(&mut updated, channel_id, extension)?;
        if let ChannelTerms::HashChain(state) = &updated.mode {
            check_backed(state, updated.deposit)?;
        }
        let balance = debited(&account, amount)?;
        let spend = self.spend_check(&id, amount, at)?;
        self.put(id, balance, next);
        self.record_spend(&id, spend);
        self.note_channel(channel_id);
        self.set_channel(*channel_id, updated);
        Ok(())
    }

    pub(crate) fn channel_close(
        &mut self,
        sender: Sender,
        channel_id: &ChannelId,
        proof: Option<&ChannelProof>,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let channel = self.open_channel(channel_id)?;
        if channel.payee != sender.0 {
            return Err(TxError::NotPayee(*channel_id));
        }
        let (mut updated, payout) = match proof {
            None => (channel.clone(), Amount::ZERO),
            Some(proof) => {
                check_claim_window(channel, at)?;
                self.claimed(channel_id, channel, proof)?
            }
        };
        let refund = updated.locked();
        let payer = updated.payer;
        // The payee is the sender: its payout and nonce go into one write.
        let (payee_balance, _) = self.payee_credit(sender, &sender.0, payout)?;
        let (payer_balance, payer_nonce) = self.credited(&payer, refund)?;
        updated.closed = Some(Closed {
            at,
            refunded: refund,
            by: CloseKind::Payee,
        });
        self.put(sender.0, payee_balance, sender.2);
        self.put(payer, payer_balance, payer_nonce);
        self.settle(*channel_id, updated);
        Ok(())
    }

    pub(crate) fn channel_reclaim(
        &mut self,
        (id, account, next): Sender,
        channel_id: &ChannelId,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let channel = self.open_channel(channel_id)?;
        if channel.payer != id {
            return Err(TxError::NotPayer(*channel_id));
        }
        let from = channel.reclaimable_at();
        if at < from {
            return Err(TxError::TooEarlyToReclaim {
                channel: *channel_id,
                from,
            });
        }
        let refund = channel.locked();
        let balance = account
            .balance
            .checked_add(refund)
            .ok_or(TxError::Overflow)?;
        let mut updated = channel.clone();
        updated.closed = Some(Closed {
            at,
            refunded: refund,
            by: CloseKind::Reclaim,
        });
        self.put(id, balance, next);
        self.settle(*channel_id, updated);
        Ok(())
    }

    /// The channel, if it exists and is not settled.
    fn open_channel(&self, id: &ChannelId) -> Result<&Channel, TxError> {
        let channel = self.channels.get(id).ok_or(TxError::UnknownChannel(*id))?;
        if channel.closed.is_some() {
            return Err(TxError::ChannelClosed(*id));
        }
        Ok(channel)
    }

    /// The channel after `proof` is claimed, and what the claim pays.
    fn claimed(
        &self,
        id: &ChannelId,
        channel: &Channel,
        proof: &ChannelProof,
    ) -> Result<(Channel, Amount), TxError> {
        let mut updated = channel.clone();
        let payout = match (&mut updated.mode, proof) {
            (ChannelTerms::HashChain(state), ChannelProof::Tick { index, preimage }) => {
                claim_tick(state, id, *index, preimage)?
            }
            (ChannelTerms::Voucher, ChannelProof::Voucher { amount, signature }) => {
                if *amount <= channel.claimed {
                    return Err(TxError::StaleClaim(*id));
                }
                if *amount > channel.deposit {
                    return Err(TxError::ClaimOverDeposit {
                        channel: *id,
                        deposit: channel.deposit,
                    });
                }
                verify_voucher(&channel.payer, self.network, id, *amount, signature)
                    .map_err(|_| TxError::BadChannelProof(*id))?;
                amount
                    .checked_sub(channel.claimed)
                    .expect("checked greater above")
            }
            _ => return Err(TxError::WrongProofKind(*id)),
        };
        updated.claimed = channel
            .claimed
            .checked_add(payout)
            .ok_or(TxError::Overflow)?;
        if updated.claimed > updated.deposit {
            return Err(TxError::ClaimOverDeposit {
                channel: *id,
                deposit: updated.deposit,
            });
        }
        Ok((updated, payout))
    }

    /// What the payee would hold after `payout`; the sender's own account when it is the payee.
    fn payee_credit(
        &self,
        sender: Sender,
        payee: &AccountId,
        payout: Amount,
    ) -> Result<(Amount, Nonce), TxError> {
        if *payee == sender.0 {
            let balance = sender
                .1
                .balance
                .checked_add(payout)
                .ok_or(TxError::Overflow)?;
            return Ok((balance, sender.2));
        }
        self.credited(payee, payout)
    }

    fn settle(&mut self, id: ChannelId, channel: Channel) {
        let payer = channel.payer;
        self.note_channel(&id);
        self.set_channel(id, channel);
        let open = self
            .open_channels
            .get_mut(&payer)
            .expect("an open channel is counted");
        *open = open.checked_sub(1).expect("an open channel is counted");
        if *open == 0 {
            self.open_channels.remove(&payer);
        }
    }
}

/// Checks and applies a tick claim; returns what it pays.
fn claim_tick(
    state: &mut HashChainState,
    id: &ChannelId,
    index: u64,
    preimage: &Hash32,
) -> Result<Amount, TxError> {
    if index <= state.claimed_index {
        return Err(TxError::StaleClaim(*id));
    }
    let current_end = state.base.saturating_add(u64::from(state.current.len));
    // Above the claimed index (checked just before).
    let ticks = index.saturating_sub(state.claimed_index);
    if index <= current_end {
        check_work(ticks)?;
        let key = ChainKey::new(id, state.segment);
        if !key.links(preimage, ticks, &state.claimed_tick) {
            return Err(TxError::BadChannelProof(*id));
        }
    } else {
        let next = state.next.ok_or(TxError::TickPastChain {
            channel: *id,
            last: current_end,
        })?;
        let local = index.saturating_sub(current_end);
        if local > u64::from(next.len) {
            return Err(TxError::TickPastChain {
                channel: *id,
                last: current_end.saturating_add(u64::from(next.len)),
            });
        }
        check_work(local)?;
        let segment = state.segment.checked_add(1).ok_or(TxError::Overflow)?;
        if !ChainKey::new(id, segment).links(preimage, local, &next.anchor) {
            return Err(TxError::BadChannelProof(*id));
        }
        state.segment = segment;
        state.base = current_end;
        state.current = next;
        state.next = None;
    }
    state.claimed_index = index;
    state.claimed_tick = *preimage;
    let paid = state
        .price
        .base_units()
        .checked_mul(ticks)
        .ok_or(TxError::Overflow)?;
    Ok(Amount::new(paid))
}

fn extend(
    channel: &mut Channel,
    id: &ChannelId,
    extension: Option<ChainSegment>,
) -> Result<(), TxError> {
    let Some(segment) = extension else {
        return Ok(());
    };
    let ChannelTerms::HashChain(state) = &mut channel.mode else {
        return Err(TxError::WrongProofKind(*id));
    };
    if state.next.is_some() {
        return Err(TxError::SegmentPending(*id));
    }
    check_chain(&segment)?;
    state.next = Some(segment);
    Ok(())
}

fn check_work(ticks: u64) -> Result<(), TxError> {
    if ticks > CLAIM_HASHES_MAX {
        return Err(TxError::ClaimTooFar {
            ticks,
            max: CLAIM_HASHES_MAX,
        });
    }
    Ok(())
}

fn check_chain(chain: &ChainSegment) -> Result<(), TxError> {
    if chain.len == 0 || chain.len > CHAIN_LEN_MAX {
        return Err(TxError::BadChain(format!(
            "a chain's length must be between 1 and {CHAIN_LEN_MAX}, not {}",
            chain.len
        )));
    }
    Ok(())
}

/// Every tick of every chain must be paid for by the deposit.
fn check_backed(state: &HashChainState, deposit: Amount) -> Result<(), TxError> {
    let needed = state
        .total_ticks()
        .and_then(|t| t.checked_mul(state.price.base_units()))
        .ok_or(TxError::Overflow)?;
    if needed > deposit.base_units() {
        return Err(TxError::DepositTooSmall {
            needed: Amount::new(needed),
            deposit,
        });
    }
    Ok(())
}

fn check_expiry(expires_at: Timestamp, at: Timestamp) -> Result<(), TxError> {
    if expires_at <= at {
        return Err(TxError::BadExpiry(format!(
            "the expiry {expires_at} is not after the block's time {at}"
        )));
    }
    if expires_at.0.saturating_sub(at.0) > CHANNEL_LIFETIME_MAX_MS {
        return Err(TxError::BadExpiry(format!(
            "the expiry {expires_at} is more than {CHANNEL_LIFETIME_MAX_MS} ms after the block's time {at}"
        )));
    }
    Ok(())
}

fn check_claim_window(channel: &Channel, at: Timestamp) -> Result<(), TxError> {
    let until = channel.reclaimable_at();
    if at >= until {
        return Err(TxError::ClaimWindowClosed { until });
    }
    Ok(())
}
