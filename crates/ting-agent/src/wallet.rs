//! Signing transactions for a key: with the network and next nonce read from
//! the node, or given (offline signing), and submitting them.
//!
//! The key never leaves this process; what goes to the node is the canonical
//! signed bytes.

use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Keypair, NetworkId, Nonce, SignedTx, TxBody, TxKind};

use crate::client::{Committed, HttpError, NodeClient};

/// Where a transaction goes: its network and the nonce it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxSlot {
    pub network: NetworkId,
    pub nonce: Nonce,
}

impl TxSlot {
    /// The network the node serves and `sender`'s next durable nonce there.
    pub async fn next(client: &NodeClient, sender: &AccountId) -> Result<TxSlot, HttpError> {
        let network = client.network().await?;
        let nonce = client.nonce(sender).await?;
        Ok(TxSlot { network, nonce })
    }
}

/// `kind` signed by `key` for `slot`.
pub fn sign(key: &Keypair, slot: TxSlot, kind: TxKind) -> SignedTx {
    TxBody {
        network: slot.network,
        sender: key.account(),
        nonce: slot.nonce,
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
    network: NetworkId,
    owner: &AccountId,
    device: &Keypair,
    metadata: Vec<u8>,
) -> TxKind {
    let consent = device_consent_message(network, owner, &device.account(), &metadata);
    TxKind::RegisterDevice {
        device: device.account(),
        device_signature: device.sign(&consent),
        metadata,
    }
}
