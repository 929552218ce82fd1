//! Messaging keys: the X25519 key each account publishes so that others can
//! seal envelope payloads to it (docs/mqtt.md §4), and their snapshot section.
//!
//! One key per account, replaced by the next `set_messaging_key`; only an
//! account that exists may send one, so the map is bounded by the accounts.
//! A key that is non-canonical or of small order is refused
//! (`invalid_messaging_key`, see `ting_core::seal`): anything sealed to it
//! could be read by anyone.
//!
//! Snapshot section (version 3 and later), after the channels: u64 count, then
//! per key sorted by account: account [32], key [32]. Decoding re-checks each
//! key and that its account exists.

use ting_core::encoding::{Reader, Writer};
use ting_core::{AccountId, DecodeError, MessagingKey, Nonce};

use crate::error::{SnapshotDecodeError, TxError};
use crate::state::{Account, State};

const RECORD_BYTES: usize = 32 + 32;

impl State {
    /// The X25519 key `id` published for encrypted envelopes, if any.
    pub fn messaging_key(&self, id: &AccountId) -> Option<MessagingKey> {
        self.messaging_keys.get(id).copied()
    }

    /// How many accounts have published a messaging key.
    pub fn messaging_key_count(&self) -> usize {
        self.messaging_keys.len()
    }

    pub(crate) fn set_messaging_key(
        &mut self,
        sender: (AccountId, Account, Nonce),
        key: &MessagingKey,
    ) -> Result<(), TxError> {
        key.check_valid()
            .map_err(|_| TxError::InvalidMessagingKey)?;
        let id = sender.0;
        self.touch(sender);
        self.note_account(&id);
        self.messaging_keys.insert(id, *key);
        Ok(())
    }
}

pub(crate) fn encode(state: &State, w: &mut Writer) {
    let mut keys: Vec<(&AccountId, &MessagingKey)> = state.messaging_keys.iter().collect();
    keys.sort_unstable_by_key(|(id, _)| **id);
    w.u64(u64::try_from(keys.len()).expect("a map's length fits in u64"));
    for (id, key) in keys {
        w.account(id).bytes(&key.0);
    }
}

pub(crate) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let what = "messaging key count";
    let n = r.u64(what)?;
    let n = usize::try_from(n)
        .ok()
        .filter(|n| {
            n.checked_mul(RECORD_BYTES)
                .is_some_and(|b| b <= r.remaining())
        })
        .ok_or(DecodeError::InvalidValue { what })?;
    state.messaging_keys.reserve(n);
    let mut last: Option<AccountId> = None;
    for _ in 0..n {
        let id = r.account("messaging key account")?;
        if last.is_some_and(|prev| prev >= id) {
            return Err(SnapshotDecodeError::Unsorted);
        }
        last = Some(id);
        let key = MessagingKey(r.hash("messaging key")?.0);
        let invalid = DecodeError::InvalidValue {
            what: "messaging key",
        };
        if key.check_valid().is_err() || !state.accounts.contains_key(&id) {
            return Err(invalid.into());
        }
        state.messaging_keys.insert(id, key);
    }
    Ok(())
}
