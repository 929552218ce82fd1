//! The device's messaging key, and its peers' keys fetched from the node.
//!
//! The device's X25519 secret is derived from its signing seed
//! (`MessagingSecret::from_keypair`, see `ting_core::seal`), so there is no
//! second secret file to lose. A peer's public key is read from its account
//! with a state proof the device checks (`NodeClient::messaging_key`), so a
//! node cannot swap in a key of its own; it is cached: the cache holds at
//! most [`KEY_CACHE_MAX`] keys and entries older than [`KEY_CACHE_TTL`] are
//! read again, so a key the peer changed is picked up within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ting_core::envelope::{Envelope, EnvelopeHeader, ReceiveError};
use ting_core::seal::{MessagingKey, MessagingSecret};
use ting_core::{AccountId, Keypair};

use super::error::SendError;
use crate::client::NodeClient;

/// Peers' messaging keys kept in memory.
pub const KEY_CACHE_MAX: usize = 1024;
/// How long a fetched key is used before it is read again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(600);

/// This device's messaging secret.
#[derive(Debug)]
pub struct Messaging {
    secret: MessagingSecret,
}

impl Messaging {
    pub fn from_device_key(key: &Keypair) -> Messaging {
        Messaging {
            secret: MessagingSecret::from_keypair(key),
        }
    }

    /// The public key to publish with `set_messaging_key`.
    pub fn public(&self) -> MessagingKey {
        self.secret.public()
    }

    /// The secret itself, to open what a peer sealed to this device.
    pub(crate) fn secret(&self) -> &MessagingSecret {
        &self.secret
    }

    /// The payload's plaintext (opened if encrypted); `bad_ciphertext` if it does not open.
    pub fn open(&self, envelope: &Envelope) -> Result<Vec<u8>, ReceiveError> {
        envelope.open_payload(&self.secret)
    }
}

/// Peers' messaging keys, as the ledger holds them.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    keys: Mutex<HashMap<AccountId, (MessagingKey, Instant)>>,
}

impl KeyCache {
    /// `to`'s messaging key, from the cache or the node.
    pub async fn get(&self, http: &NodeClient, to: &AccountId) -> Result<MessagingKey, SendError> {
        if let Some((key, at)) = self.lock().get(to) {
            if at.elapsed() < KEY_CACHE_TTL {
                return Ok(*key);
            }
        }
        let key = http
            .messaging_key(to)
            .await
            .map_err(SendError::KeyLookup)?
            .ok_or_else(|| SendError::NoMessagingKey(to.to_did()))?;
        key.check_valid().map_err(|_| SendError::BadMessagingKey)?;
        let mut keys = self.lock();
        if keys.len() >= KEY_CACHE_MAX {
            keys.clear();
        }
        keys.insert(*to, (key, Instant::now()));
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, (MessagingKey, Instant)>> {
        self.keys
            .lock()
            .expect("the key cache lock is never poisoned")
    }
}

/// Seals `payload` to `to` and signs the envelope.
pub(crate) fn seal_and_sign(
    header: EnvelopeHeader,
    payload: &[u8],
    to: &MessagingKey,
    key: &Keypair,
) -> Result<Envelope, SendError> {
    Ok(Envelope::seal_and_sign(
        header,
        payload,
        to,
        key,
        &mut rand::rng(),
    )?)
}
