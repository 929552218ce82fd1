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

/// Why an owner freezes its purifier on seeing it send `kind`, or `None`
/// when that is what a purifier does: it pays only into escrow for a
/// cartridge and into channels, never by a plain transfer.
pub fn unexpected(kind: &TxKind) -> Option<String> {
    match kind {
        TxKind::Transfer { to, amount, .. } => Some(format!(
            "it sent {} base units to {to}, which no order of its named",
            crate::report::format::thousands(amount.base_units())
        )),
        _ => None,
    }
}

/// Freezes `purifier`: the ledger refuses all it signs from now on.
pub async fn freeze(owner: &Device, purifier: &AccountId) -> Result<(), SubmitError> {
    owner
        .submit(TxKind::Freeze { device: *purifier })
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_transfer_is_unexpected_and_a_freeze_or_limit_is_not() {
        let to = Keypair::from_seed([9; 32]).account();
        let transfer = TxKind::Transfer {
            to,
            amount: Amount::new(200_000),
            memo: Vec::new(),
        };
        let why = unexpected(&transfer).expect("a transfer is unexpected");
        assert!(why.contains("200,000"), "{why}");
        assert!(unexpected(&TxKind::Freeze { device: to }).is_none());
        let limit = TxKind::SetSpendLimit {
            device: to,
            per_day: None,
        };
        assert!(unexpected(&limit).is_none());
    }
}
