//! `ting channel ...`: payment channels from the command line.
//!
//! The payer's and the payee's channel state is kept durably in a local
//! directory (`--state`, default `ting-channels`) by `ting-agent`, exactly as a
//! device keeps it: `open` writes the payer's file before the open
//! transaction leaves, `pay` advances it before it prints the payment, and
//! `accept` stores the payee's best proof before it reports the payment as
//! good. `claim`, `close`, `top-up` and `reclaim` sign and submit ledger
//! transactions; `show` and `list` read the node. Every command takes `--json`;
//! those that talk to a node take `--node`.

mod ledger;
pub(crate) mod payee;
pub(crate) mod payer;

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ting_core::ChannelId;

use crate::failure::bad_input;
use crate::kinds::KeyArg;
use crate::NodeArg;

/// Where the CLI keeps channel state unless `--state` says otherwise.
const DEFAULT_STATE_DIR: &str = "ting-channels";

#[derive(Debug, Subcommand)]
pub enum ChannelCmd {
    /// Lock a deposit in a new channel to a payee (payer side).
    Open(OpenArgs),
    /// Pay through a channel off the ledger: prints a payment for the payee (payer side).
    Pay(PayArgs),
    /// Check a payment and keep it; prints what it newly paid (payee side).
    Accept(AcceptArgs),
    /// Claim on the ledger what the payee's best payment shows (payee side, or anyone with --payment).
    Claim(ClaimArgs),
    /// Settle as the payee: a last claim, and the rest back to the payer.
    Close(CloseArgs),
    /// Add to the deposit, move the expiry later, or queue more ticks (payer side).
    /// With nothing to add, it only brings the payer's file up to the ledger.
    TopUp(TopUpArgs),
    /// Take back what was not claimed, after expiry and the grace period (payer side).
    Reclaim(ReclaimArgs),
    /// A channel as the ledger holds it, with this machine's payer or payee state.
    Show(ShowArgs),
    /// The channels an account pays or is paid through.
    List(ListArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// PayWord: each payment reveals the next preimages of a SHA-256 chain.
    HashChain,
    /// Each payment is a signed cumulative amount.
    Voucher,
}

#[derive(Debug, Args)]
pub struct StateDir {
    /// Directory of this machine's channel files.
    #[arg(long, value_name = "DIR", env = "TING_CHANNELS", default_value = DEFAULT_STATE_DIR)]
    pub state: PathBuf,
}

/// A new channel's terms.
#[derive(Debug, Args)]
pub struct OpenFields {
    /// Who is paid (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub payee: String,
    /// Base units locked in the channel.
    #[arg(long)]
    pub deposit: u64,
    /// How long the channel runs: `90s`, `30m`, `12h`, `7d`.
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub expires_in: String,
    #[arg(long, value_enum, default_value = "hash-chain")]
    pub mode: Mode,
    /// Hash chain: base units one tick is worth [default: 1].
    #[arg(long)]
    pub price: Option<u64>,
    /// Hash chain: ticks in the chain [default: as many as the deposit pays for].
    #[arg(long)]
    pub ticks: Option<u32>,
    #[command(flatten)]
    pub dir: StateDir,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub fields: OpenFields,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct PayArgs {
    #[arg(long, value_name = "ID")]
    pub channel: String,
    /// Hash chain: ticks to pay.
    #[arg(long, conflicts_with = "amount")]
    pub units: Option<u64>,
    /// Voucher: base units to pay (on top of what was paid before).
    #[arg(long, requires = "key")]
    pub amount: Option<u64>,
    /// Voucher: the payer's key file, which signs the voucher.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub dir: StateDir,
}

#[derive(Debug, Args)]
pub struct AcceptArgs {
    /// The payment, in hex (as `ting channel pay` prints it).
    pub payment: String,
    #[command(flatten)]
    pub dir: StateDir,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ClaimArgs {
    #[arg(long, value_name = "ID")]
    pub channel: String,
    #[command(flatten)]
    pub key: KeyArg,
    /// A payment to accept first (hex); without it the payee's kept best proof is claimed.
    #[arg(long, value_name = "HEX")]
    pub payment: Option<String>,
    #[command(flatten)]
    pub dir: StateDir,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    #[arg(long, value_name = "ID")]
    pub channel: String,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub dir: StateDir,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct TopUpArgs {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub fields: TopUpFields,
    #[command(flatten)]
    pub node: NodeArg,
}

/// What a top-up adds.
#[derive(Debug, Args)]
pub struct TopUpFields {
    #[arg(long, value_name = "ID")]
    pub channel: String,
    /// Base units to add to the deposit.
    #[arg(long, default_value_t = 0)]
    pub amount: u64,
    /// Move the expiry to this long from now (never earlier than it is).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// Hash chain: queue a further chain of this many ticks.
    #[arg(long)]
    pub extend_ticks: Option<u32>,
    #[command(flatten)]
    pub dir: StateDir,
}

#[derive(Debug, Args)]
pub struct ReclaimArgs {
    #[arg(long, value_name = "ID")]
    pub channel: String,
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub dir: StateDir,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub channel: String,
    #[command(flatten)]
    pub dir: StateDir,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The account (did:key or hex).
    pub account: String,
    /// Only the channels it pays (`payer`) or is paid through (`payee`).
    #[arg(long, value_enum, default_value = "any")]
    pub role: RoleArg,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Payer,
    Payee,
    Any,
}

pub async fn run(cmd: ChannelCmd, json: bool) -> anyhow::Result<()> {
    match cmd {
        ChannelCmd::Open(args) => payer::open(&args, json).await,
        ChannelCmd::Pay(args) => payer::pay(&args, json),
        ChannelCmd::TopUp(args) => payer::top_up(&args, json).await,
        ChannelCmd::Reclaim(args) => payer::reclaim(&args, json).await,
        ChannelCmd::Accept(args) => payee::accept(&args, json).await,
        ChannelCmd::Claim(args) => payee::claim(&args, json).await,
        ChannelCmd::Close(args) => payee::close(&args, json).await,
        ChannelCmd::Show(args) => ledger::show(&args, json).await,
        ChannelCmd::List(args) => ledger::list(&args, json).await,
    }
}

pub(crate) fn parse_channel(text: &str) -> anyhow::Result<ChannelId> {
    ChannelId::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_channel_id",
            format!("{text:?} is not a channel id (64 hex digits)"),
        )
    })
}

/// Whether opening a channel file failed because there is none.
pub(crate) fn is_missing(e: &ting_agent::StoreError) -> bool {
    matches!(e, ting_agent::StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// The error for a channel file that is not in `dir`, with what to try.
pub(crate) fn no_channel_file(role: &str, id: &ChannelId, dir: &std::path::Path) -> anyhow::Error {
    bad_input(
        "no_channel_file",
        format!(
            "this machine keeps no {role} state for channel {id} in {}; \
             give --state DIR (or TING_CHANNELS) where it was opened or accepted",
            dir.display()
        ),
    )
}

/// Parses `500ms`, `90s`, `30m`, `12h` or `7d` into milliseconds; a number needs its unit.
pub(crate) fn parse_duration_ms(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        bad_input(
            "bad_duration",
            format!("{text:?} is not a duration such as 90s, 30m, 12h or 7d"),
        )
    })?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(bad_input(
                "bad_duration",
                format!("{text:?}: the unit must be ms, s, m, h or d"),
            ))
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| bad_input("bad_duration", format!("{text:?} is too long")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units_and_refuse_the_rest() {
        assert_eq!(parse_duration_ms("90s").ok(), Some(90_000));
        assert_eq!(parse_duration_ms("2h").ok(), Some(7_200_000));
        assert_eq!(parse_duration_ms("7d").ok(), Some(604_800_000));
        assert_eq!(parse_duration_ms("250ms").ok(), Some(250));
        assert!(parse_duration_ms("5").is_err());
        assert!(parse_duration_ms("h").is_err());
        assert!(parse_duration_ms("3w").is_err());
        assert!(parse_duration_ms("99999999999999999999d").is_err());
    }
}
