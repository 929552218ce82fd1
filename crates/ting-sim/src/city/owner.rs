//! A household's owner: registers its purifier under its account (the
//! device signs its consent) and sets its daily spending limit, through the
//! owner's own `ting-agent` device.

use ting_agent::device::SubmitError;
use ting_agent::Device;
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, Keypair, TxKind};

/// Registers `purifier` under the owner's device.
pub async fn register(owner: &Device, purifier: &Keypair, name: &str) -> Result<(), SubmitError> {
    let metadata = format!("water purifier {name}").into_bytes();
    let consent = device_consent_message(
        &owner.genesis_hash(),
        &owner.account(),
        &purifier.account(),
        &metadata,
    );
    let register = TxKind::RegisterDevice {
        device: purifier.account(),
        metadata,
        device_signature: purifier.sign(&consent),
    };
    owner.submit(register).await?;
    Ok(())
}

/// Sets `purifier`'s daily spending limit. The owner sets it once the
/// purifier has opened its data stream, whose deposit the ledger would
/// count against the day's limit.
pub async fn limit(owner: &Device, purifier: &AccountId, per_day: u64) -> Result<(), SubmitError> {
    let limit = TxKind::SetSpendLimit {
        device: *purifier,
        per_day: Some(Amount::new(per_day)),
    };
    owner.submit(limit).await?;
    Ok(())
}
