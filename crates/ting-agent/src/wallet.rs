//! Signing transactions for a key: with the network and next nonce read from
//! the node, or given (offline signing), and submitting them.
//!
//! The key never leaves this process; what goes to the node is the canonical
//! signed bytes.

use ting_core::limits::TX_VALID_FOR_DEFAULT_MS;
use ting_core::tx::device_consent_message;
use ting_core::{
    AccountId, Hash32, Keypair, NetworkId, Nonce, SignedTx, Timestamp, TxBody, TxKind,
};

use crate::client::{Committed, HttpError, NodeClient};

/// Where a transaction goes: its network (the id, and the genesis hash it
/// signs for), the nonce it carries and the last ledger time it may apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxSlot {
    pub network: NetworkId,
    pub genesis: Hash32,
    pub nonce: Nonce,
    pub valid_until: Timestamp,
}

impl TxSlot {
    /// The network the node serves and `sender`'s next durable nonce there,
    /// valid for the default time from now.
    pub async fn next(client: &NodeClient, sender: &AccountId) -> Result<TxSlot, HttpError> {
        let status = client.status().await?;
        let nonce = client.nonce(sender).await?;
        Ok(TxSlot {
            network: status.network,
            genesis: status.genesis_hash,
            nonce,
            valid_until: valid_by_default(&status.clock),
        })
    }
}

/// The network's time `ms` from now, by `clock` (the network's, from
/// `/v1/status` or the genesis).
pub fn valid_for(clock: &crate::clock::NetworkClock, ms: u64) -> Timestamp {
    Timestamp(clock.now().0.saturating_add(ms))
}

/// The default `valid_until`: `TX_VALID_FOR_DEFAULT_MS` of wall time from
/// now, in the network's time. A transaction's validity bounds how long it
/// may travel and wait in an outbox, which happens in wall time, so on an
/// accelerated network it is `speed` times longer in network time
/// (`LedgerClock::window_ms`).
pub fn valid_by_default(clock: &crate::clock::NetworkClock) -> Timestamp {
    valid_for(clock, clock.clock().window_ms(TX_VALID_FOR_DEFAULT_MS))
}

/// `kind` signed by `key` for `slot`.
pub fn sign(key: &Keypair, slot: TxSlot, kind: TxKind) -> SignedTx {
    TxBody {
        genesis: slot.genesis,
        sender: key.account(),
        nonce: slot.nonce,
        valid_until: slot.valid_until,
        kind,
    }
    .sign(key)
}

/// Signs `kind` with `key`'s next nonce, submits it and waits for its block
/// to be durable.
pub async fn sign_and_submit(
    client: &NodeClient,
    key: &Keypair,
    kind: TxKind,
) -> Result<Committed, HttpError> {
    let slot = TxSlot::next(client, &key.account()).await?;
    client.submit(&sign(key, slot, kind)).await
}

/// The registration of `device` under `owner`: the device co-signs its
/// consent (docs/wire.md §6), so the owner needs both keys at hand.
pub fn device_registration(
    genesis: &Hash32,
    owner: &AccountId,
    device: &Keypair,
    metadata: Vec<u8>,
) -> TxKind {
    let consent = device_consent_message(genesis, owner, &device.account(), &metadata);
    TxKind::RegisterDevice {
        device: device.account(),
        device_signature: device.sign(&consent),
        metadata,
    }
}
