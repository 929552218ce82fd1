//! The fields of each transaction kind as command-line arguments, and the
//! kind they build. Shared by the commands that sign and send at once
//! (`ting transfer`, `ting device ...`) and by `ting sign`, which only signs.

use std::path::PathBuf;

use clap::Args;
use ting_agent::files::read_key;
use ting_agent::wallet::device_registration;
use ting_core::limits::{MEMO_BYTES_MAX, METADATA_BYTES_MAX};
use ting_core::seal::MessagingSecret;
use ting_core::{AccountId, Amount, Hash32, Keypair, TxKind};

use crate::failure::bad_input;

/// Parses an account id given as `what`, as a bad-input error if it is not one.
pub fn parse_id(what: &str, text: &str) -> anyhow::Result<AccountId> {
    AccountId::parse(text.trim()).map_err(|e| {
        bad_input(
            "bad_account_id",
            format!(
                "{what} {text:?} is not an account id (a did:key:z6Mk... or 64 hex digits): {e}"
            ),
        )
    })
}

/// A key file argument.
#[derive(Debug, Clone, Args)]
pub struct KeyArg {
    /// The signing key file (as `ting keygen --out` writes it).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

impl KeyArg {
    pub fn read(&self) -> anyhow::Result<Keypair> {
        Ok(read_key(&self.key)?)
    }
}

#[derive(Debug, Args)]
pub struct TransferFields {
    /// The recipient (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub to: String,
    /// Base units to send.
    #[arg(long)]
    pub amount: u64,
    /// A note of up to 64 bytes.
    #[arg(long)]
    pub memo: Option<String>,
}

impl TransferFields {
    pub fn kind(&self) -> anyhow::Result<TxKind> {
        let memo = self.memo.clone().unwrap_or_default().into_bytes();
        if memo.len() > MEMO_BYTES_MAX {
            return Err(bad_input(
                "too_long",
                format!(
                    "--memo is {} bytes; the limit is {MEMO_BYTES_MAX}",
                    memo.len()
                ),
            ));
        }
        Ok(TxKind::Transfer {
            to: parse_id("--to", &self.to)?,
            amount: Amount::new(self.amount),
            memo,
        })
    }
}

#[derive(Debug, Args)]
pub struct MintFields {
    /// Who receives the new money (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub to: String,
    /// Base units to create.
    #[arg(long)]
    pub amount: u64,
}

impl MintFields {
    pub fn kind(&self) -> anyhow::Result<TxKind> {
        Ok(TxKind::Mint {
            to: parse_id("--to", &self.to)?,
            amount: Amount::new(self.amount),
        })
    }
}

#[derive(Debug, Args)]
pub struct RegisterFields {
    /// The device's key file: the device co-signs its registration.
    #[arg(long, value_name = "FILE")]
    pub device_key: PathBuf,
    /// Free text describing the device (up to 256 bytes).
    #[arg(long, default_value = "")]
    pub metadata: String,
}

impl RegisterFields {
    pub fn kind(&self, genesis: &Hash32, owner: &AccountId) -> anyhow::Result<TxKind> {
        let device = read_key(&self.device_key)?;
        let metadata = self.metadata.clone().into_bytes();
        if metadata.len() > METADATA_BYTES_MAX {
            return Err(bad_input(
                "too_long",
                format!(
                    "--metadata is {} bytes; the limit is {METADATA_BYTES_MAX}",
                    metadata.len()
                ),
            ));
        }
        Ok(device_registration(genesis, owner, &device, metadata))
    }
}

#[derive(Debug, Args)]
pub struct LimitFields {
    /// The device (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub device: String,
    /// The most it may send per UTC day, or `none` for no cap.
    #[arg(long, value_name = "AMOUNT|none")]
    pub per_day: String,
}

impl LimitFields {
    pub fn kind(&self) -> anyhow::Result<TxKind> {
        let per_day = match self.per_day.trim() {
            "none" => None,
            n => Some(Amount::new(n.parse().map_err(|_| {
                bad_input(
                    "bad_amount",
                    format!("--per-day takes an amount in base units or `none`, not {n:?}"),
                )
            })?)),
        };
        Ok(TxKind::SetSpendLimit {
            device: parse_id("--device", &self.device)?,
            per_day,
        })
    }
}

#[derive(Debug, Args)]
pub struct DeviceFields {
    /// The device (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub device: String,
}

impl DeviceFields {
    pub fn freeze(&self) -> anyhow::Result<TxKind> {
        Ok(TxKind::Freeze {
            device: parse_id("--device", &self.device)?,
        })
    }

    pub fn unfreeze(&self) -> anyhow::Result<TxKind> {
        Ok(TxKind::Unfreeze {
            device: parse_id("--device", &self.device)?,
        })
    }
}

#[derive(Debug, Args)]
pub struct SweepFields {
    /// The device (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub device: String,
    /// Base units to move to the owner.
    #[arg(long)]
    pub amount: u64,
}

impl SweepFields {
    pub fn kind(&self) -> anyhow::Result<TxKind> {
        Ok(TxKind::Sweep {
            device: parse_id("--device", &self.device)?,
            amount: Amount::new(self.amount),
        })
    }
}

/// `set_messaging_key` for the X25519 key derived from `key`'s seed, the one
/// `ting-agent` devices decrypt with.
pub fn messaging_key_kind(key: &Keypair) -> TxKind {
    TxKind::SetMessagingKey {
        key: MessagingSecret::from_keypair(key).public(),
    }
}
