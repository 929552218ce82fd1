//! Applying one transaction: every check first, then every write.
//!
//! Each kind's function computes all new values before it touches the state,
//! so a refusal at any step leaves the state exactly as it was.

use ting_core::limits::DEVICES_PER_OWNER_MAX;
use ting_core::tx::device_consent_message;
use ting_core::{keys, AccountId, Amount, Nonce, Signature, SignedTx, Timestamp, TxKind};

use crate::error::TxError;
use crate::state::{Account, Device, State};

/// What a successful spend does to a device's daily counter.
pub(crate) type SpendUpdate = Option<(u64, Amount)>;

/// Transactions that never take money from their sender, so a frozen device may send them.
fn allowed_when_frozen(kind: &TxKind) -> bool {
    matches!(
        kind,
        TxKind::ChannelClaim { .. }
            | TxKind::ChannelClose { .. }
            | TxKind::ChannelReclaim { .. }
            | TxKind::SetMessagingKey { .. }
            | TxKind::StreamConsent { .. }
            | TxKind::StreamDelivery { .. }
            | TxKind::StreamClose { .. }
            | TxKind::HoldAccept { .. }
            | TxKind::HoldRefund { .. }
            | TxKind::HoldDispute { .. }
            | TxKind::HoldDecide { .. }
            | TxKind::OfferUpdate { .. }
            | TxKind::OfferClose { .. }
            | TxKind::OrderCancel { .. }
            | TxKind::LeaseSettle { .. }
            | TxKind::LeaseClose { .. }
    )
}

/// What `account` holds after paying `amount`, or why it cannot.
pub(crate) fn debited(account: &Account, amount: Amount) -> Result<Amount, TxError> {
    account
        .balance
        .checked_sub(amount)
        .ok_or(TxError::InsufficientFunds {
            balance: account.balance,
            amount,
        })
}

fn nonzero(amount: Amount) -> Result<(), TxError> {
    if amount.is_zero() {
        Err(TxError::ZeroAmount)
    } else {
        Ok(())
    }
}

impl State {
    /// Applies `tx` in a block stamped `at`, or refuses it and changes nothing.
    pub fn apply_tx(&mut self, tx: &SignedTx, at: Timestamp) -> Result<(), TxError> {
        if tx.genesis() != self.genesis_hash {
            return Err(TxError::WrongNetwork {
                got: tx.genesis(),
                want: self.genesis_hash,
            });
        }
        if at > tx.valid_until() {
            return Err(TxError::Expired {
                valid_until: tx.valid_until(),
                at,
            });
        }
        let sender = tx.sender();
        // Only accounts that hold or held money may act: a stranger's key cannot grow
        // the state for free. Accounts are created by credits (and issuers at genesis).
        let account = *self.accounts.get(&sender).ok_or(TxError::UnknownSender)?;
        if account.nonce != tx.nonce() {
            return Err(TxError::BadNonce {
                expected: account.nonce,
                got: tx.nonce(),
            });
        }
        let next = account.nonce.next().ok_or(TxError::Overflow)?;
        // Freezing stops a device spending; claiming, closing and reclaiming a
        // channel only bring money back to it or to its payee, closing a stream
        // brings its deposit back, and a messaging key, a consent hash or a
        // delivery record moves none, so they stay open. A hold's accept,
        // dispute, refund and decision spend nothing of the sender's, and
        // neither do an offer's update and close.
        if !allowed_when_frozen(tx.kind()) && self.devices.get(&sender).is_some_and(|d| d.frozen) {
            return Err(TxError::Frozen);
        }
        let sender = (sender, account, next);
        match tx.kind() {
            TxKind::Transfer { to, amount, .. } => self.transfer(sender, *to, *amount, at),
            TxKind::Mint { to, amount } => self.mint(sender, *to, *amount),
            TxKind::RegisterDevice {
                device,
                metadata,
                device_signature,
            } => self.register(sender, *device, metadata, device_signature),
            TxKind::SetSpendLimit { device, per_day } => {
                self.owned(&sender.0, device)?;
                self.touch(sender);
                self.device_mut(device).per_day = *per_day;
                Ok(())
            }
            TxKind::Freeze { device } => self.set_frozen(sender, device, true),
            TxKind::Unfreeze { device } => self.set_frozen(sender, device, false),
            TxKind::Sweep { device, amount } => self.sweep(sender, *device, *amount),
            TxKind::SetMessagingKey { key } => self.set_messaging_key(sender, key),
            TxKind::ChannelOpen {
                payee,
                deposit,
                expires_at,
                mode,
            } => self.channel_open(
                sender,
                tx.nonce(),
                (*payee, *deposit, *expires_at, mode),
                at,
            ),
            TxKind::ChannelClaim { channel, proof } => {
                self.channel_claim(sender, channel, proof, at)
            }
            TxKind::ChannelTopUp {
                channel,
                amount,
                expires_at,
                extension,
            } => self.channel_top_up(sender, channel, (*amount, *expires_at, *extension), at),
            TxKind::ChannelClose { channel, proof } => {
                self.channel_close(sender, channel, proof.as_ref(), at)
            }
            TxKind::ChannelReclaim { channel } => self.channel_reclaim(sender, channel, at),
            TxKind::StreamOpen { terms } => self.stream_open(sender, tx.nonce(), terms, at),
            TxKind::StreamConsent { stream, consent } => {
                self.stream_consent(sender, stream, consent)
            }
            TxKind::StreamDelivery { stream, ack } => self.stream_delivery(sender, stream, ack),
            TxKind::StreamClose { stream } => self.stream_close(sender, stream),
            TxKind::HoldCreate { terms } => self.hold_create(sender, tx.nonce(), terms, at),
            TxKind::HoldAccept { hold } => self.hold_accept(sender, hold, at),
            TxKind::HoldRelease { hold, evidence } => {
                self.hold_release(sender, hold, evidence.as_ref(), at)
            }
            TxKind::HoldRefund { hold } => self.hold_refund(sender, hold, at),
            TxKind::HoldDispute { hold, .. } => self.hold_dispute(sender, hold, at),
            TxKind::HoldDecide { hold, to_payee } => self.hold_decide(sender, hold, *to_payee, at),
            TxKind::OfferOpen { terms } => self.offer_open(sender, tx.nonce(), terms, at),
            TxKind::OfferUpdate { offer, terms } => self.offer_update(sender, offer, terms),
            TxKind::OfferClose { offer } => self.offer_close(sender, offer),
            TxKind::ClassRegister {
                name,
                unit,
                lease_ms,
            } => self.class_register(sender, name, unit, *lease_ms),
            TxKind::OrderPlace { terms } => self.order_place(sender, tx.nonce(), terms, at),
            TxKind::OrderCancel { order } => self.order_cancel(sender, order, at),
            TxKind::LeaseSettle {
                lease,
                count,
                signature,
            } => self.lease_settle(sender, lease, *count, signature, at),
            TxKind::LeaseClose { lease, count } => {
                self.lease_close(sender, lease, count.as_ref(), at)
            }
        }
    }

    /// The account as it stands, or a fresh one if `id` is a valid new key.
    fn existing_or_new(&self, id: &AccountId) -> Result<Account, ting_core::AccountError> {
        match self.accounts.get(id) {
            Some(account) => Ok(*account),
            None => id.check_valid().map(|()| Account::default()),
        }
    }

    /// Writes the sender's account with its nonce advanced and nothing else changed.
    pub(crate) fn touch(&mut self, (id, account, next): (AccountId, Account, Nonce)) {
        self.put(id, account.balance, next);
    }

    /// What `to` would hold after receiving `amount`, and its nonce; a new
    /// account's key is checked first.
    pub(crate) fn credited(
        &self,
        to: &AccountId,
        amount: Amount,
    ) -> Result<(Amount, Nonce), TxError> {
        let recipient = self
            .existing_or_new(to)
            .map_err(TxError::InvalidRecipient)?;
        let balance = recipient
            .balance
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        Ok((balance, recipient.nonce))
    }

    /// Writes an account's balance and nonce.
    pub(crate) fn put(&mut self, id: AccountId, balance: Amount, nonce: Nonce) {
        self.note_account(&id);
        self.set_account(id, Account { balance, nonce });
    }

    fn device_mut(&mut self, id: &AccountId) -> &mut Device {
        self.note_account(id);
        self.devices.get_mut(id).expect("checked by owned()")
    }

    fn owned(&self, owner: &AccountId, device: &AccountId) -> Result<&Device, TxError> {
        let found = self
            .devices
            .get(device)
            .ok_or(TxError::UnknownDevice(*device))?;
        if found.owner != *owner {
            return Err(TxError::NotOwner(*device));
        }
        Ok(found)
    }

    pub(crate) fn spend_check(
        &self,
        id: &AccountId,
        amount: Amount,
        at: Timestamp,
    ) -> Result<SpendUpdate, TxError> {
        let Some(device) = self.devices.get(id) else {
            return Ok(None);
        };
        let spent = device.spent_on(at);
        let total = spent.checked_add(amount).ok_or(TxError::Overflow)?;
        if let Some(limit) = device.per_day {
            if total > limit {
                return Err(TxError::SpendLimitExceeded {
                    limit,
                    spent,
                    amount,
                });
            }
        }
        Ok(Some((at.utc_day(), total)))
    }

    fn transfer(
        &mut self,
        (id, account, next): (AccountId, Account, Nonce),
        to: AccountId,
        amount: Amount,
        at: Timestamp,
    ) -> Result<(), TxError> {
        nonzero(amount)?;
        if to == id {
            return Err(TxError::SelfTransfer);
        }
        let balance = debited(&account, amount)?;
        let spend = self.spend_check(&id, amount, at)?;
        let (credited, to_nonce) = self.credited(&to, amount)?;
        self.put(id, balance, next);
        self.put(to, credited, to_nonce);
        self.record_spend(&id, spend);
        Ok(())
    }

    /// Writes what `spend_check` computed for a device's daily counter.
    pub(crate) fn record_spend(&mut self, id: &AccountId, spend: SpendUpdate) {
        if let Some((day, spent)) = spend {
            self.note_account(id);
            let device = self.devices.get_mut(id).expect("spend_check found it");
            device.spent_day = day;
            device.spent = spent;
        }
    }

    fn mint(
        &mut self,
        (id, account, next): (AccountId, Account, Nonce),
        to: AccountId,
        amount: Amount,
    ) -> Result<(), TxError> {
        if !self.issuers.contains(&id) {
            return Err(TxError::UnknownIssuer);
        }
        nonzero(amount)?;
        let supply = self.supply.checked_add(amount).ok_or(TxError::Overflow)?;
        if to == id {
            let balance = account
                .balance
                .checked_add(amount)
                .ok_or(TxError::Overflow)?;
            self.put(id, balance, next);
        } else {
            let (credited, to_nonce) = self.credited(&to, amount)?;
            self.touch((id, account, next));
            self.put(to, credited, to_nonce);
        }
        self.supply = supply;
        Ok(())
    }

    fn register(
        &mut self,
        sender: (AccountId, Account, Nonce),
        device: AccountId,
        metadata: &[u8],
        consent: &Signature,
    ) -> Result<(), TxError> {
        let owner = sender.0;
        if device == owner {
            return Err(TxError::InvalidDevice(
                "a device cannot be its own owner".into(),
            ));
        }
        device
            .check_valid()
            .map_err(|e| TxError::InvalidDevice(e.to_string()))?;
        if let Some(existing) = self.devices.get(&device) {
            if existing.owner != owner {
                return Err(TxError::AlreadyRegistered {
                    device,
                    owner: existing.owner,
                });
            }
        }
        let is_new = !self.devices.contains_key(&device);
        let owned = self.owned_counts.get(&owner).copied().unwrap_or(0);
        if is_new && owned as usize >= DEVICES_PER_OWNER_MAX {
            return Err(TxError::TooManyDevices {
                owner,
                max: DEVICES_PER_OWNER_MAX,
            });
        }
        let message = device_consent_message(&self.genesis_hash, &owner, &device, metadata);
        keys::verify(&device, &message, consent).map_err(|_| TxError::BadDeviceSignature)?;
        self.touch(sender);
        self.note_account(&device);
        match self.devices.get_mut(&device) {
            Some(existing) => existing.metadata = metadata.to_vec(),
            None => {
                self.owned_counts.insert(owner, owned.saturating_add(1));
                self.devices.insert(
                    device,
                    Device {
                        owner,
                        metadata: metadata.to_vec(),
                        per_day: None,
                        frozen: false,
                        spent_day: 0,
                        spent: Amount::ZERO,
                    },
                );
            }
        }
        Ok(())
    }

    fn set_frozen(
        &mut self,
        sender: (AccountId, Account, Nonce),
        device: &AccountId,
        frozen: bool,
    ) -> Result<(), TxError> {
        self.owned(&sender.0, device)?;
        self.touch(sender);
        self.device_mut(device).frozen = frozen;
        Ok(())
    }

    fn sweep(
        &mut self,
        (id, account, next): (AccountId, Account, Nonce),
        device: AccountId,
        amount: Amount,
    ) -> Result<(), TxError> {
        self.owned(&id, &device)?;
        nonzero(amount)?;
        let held = self.accounts.get(&device).copied().unwrap_or_default();
        let left = debited(&held, amount)?;
        let balance = account
            .balance
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        self.put(id, balance, next);
        self.put(device, left, held.nonce);
        Ok(())
    }
}
