//! A household's owner: registers its purifier under its account with a
//! daily spending limit (the device signs its consent), through the owner's
//! own `ting-agent` device.

use ting_agent::device::SubmitError;
use ting_agent::Device;
use ting_core::tx::device_consent_message;
use ting_core::{Amount, Keypair, TxKind};

/// Registers `purifier` under the owner's device and sets its daily limit.
pub async fn register(
    owner: &Device,
    purifier: &Keypair,
    name: &str,
    per_day: u64,
) -> Result<(), SubmitError> {
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
    let limit = TxKind::SetSpendLimit {
        device: purifier.account(),
        per_day: Some(Amount::new(per_day)),
    };
    owner.submit(limit).await?;
    Ok(())
}
