//! MQTT login: a device proves to the broker that it holds its account's key
//! (docs/mqtt.md §9).
//!
//! The MQTT username is the account id in lowercase hex; the client id is the
//! same, optionally followed by `-` and a short suffix; the password is a login
//! token. The token signs the network's genesis hash, the account, the client
//! id, the time it was issued and a random nonce, so it is good for one network,
//! one client id and a short window, and a verifier that remembers the nonces
//! it has accepted refuses it a second time.
//!
//! Everything here is pure: the caller passes in the clock reading and the
//! nonce.

use crate::prelude::*;

use alloc::collections::BTreeSet;

use thiserror::Error;

use crate::account::AccountId;
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature};
use crate::types::Timestamp;

/// What a login signature is over, before the fields; no other signature in
/// Ting starts with these bytes.
pub const LOGIN_DOMAIN: &[u8] = b"ting:mqtt-login:v1";
/// The token's format version, its first byte.
pub const LOGIN_VERSION: u8 = 1;
/// Bytes of a token: version, issued-at (u64 BE), nonce, signature.
pub const LOGIN_TOKEN_BYTES: usize = 1 + 8 + 16 + 64;
/// How long after it was issued a token is accepted, in milliseconds.
pub const LOGIN_WINDOW_MS: u64 = 60_000;
/// How far ahead of the verifier's clock a token may claim to be issued, in
/// milliseconds (clocks of devices drift).
pub const LOGIN_SKEW_MS: u64 = 10_000;
/// Longest client-id suffix after `{account}-`, in characters.
pub const CLIENT_ID_SUFFIX_MAX: usize = 16;
/// Most accepted logins remembered at once (a replay cache entry each); a
/// verifier refuses logins rather than forget one inside its window.
pub const LOGIN_REPLAY_MAX: usize = 1 << 18;

/// A login token: proof of the key, bound to genesis, client id and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginToken {
    pub issued_at: Timestamp,
    pub nonce: [u8; 16],
    pub signature: Signature,
}

/// Why a login was refused. Codes are stable (docs/mqtt.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LoginError {
    #[error("the username must be an account id in 64 lowercase hex digits")]
    BadUsername,
    #[error(
        "the client id must be the account id, or the account id, '-' and at most 16 of a-z 0-9 -"
    )]
    ForeignClientId,
    #[error(
        "the password is not a login token ({LOGIN_TOKEN_BYTES} bytes in lowercase hex, version 1)"
    )]
    MalformedToken,
    #[error("the login token was issued more than {} s ago", LOGIN_WINDOW_MS / 1000)]
    Expired,
    #[error("the login token was issued more than {} s ahead of the broker's clock", LOGIN_SKEW_MS / 1000)]
    FromFuture,
    #[error("the login token's signature does not verify for this account, network and client id")]
    BadSignature,
    #[error("this login token was already used")]
    Replayed,
    #[error("too many logins in the last minute; try again shortly")]
    Busy,
}

impl LoginError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LoginError::BadUsername => "login_bad_username",
            LoginError::ForeignClientId => "login_foreign_client_id",
            LoginError::MalformedToken => "login_malformed_token",
            LoginError::Expired => "login_expired",
            LoginError::FromFuture => "login_from_future",
            LoginError::BadSignature => "login_bad_signature",
            LoginError::Replayed => "login_replayed",
            LoginError::Busy => "login_busy",
        }
    }
}

/// The MQTT username of `account`: its id in lowercase hex.
pub fn username(account: &AccountId) -> String {
    account.to_hex()
}

/// The client id `{account}` or `{account}-{suffix}`. `None` when the suffix
/// is empty, too long or holds a character other than `a-z 0-9 -`.
pub fn client_id(account: &AccountId, suffix: Option<&str>) -> Option<String> {
    match suffix {
        None => Some(account.to_hex()),
        Some(s) if suffix_ok(s) => Some(format!("{}-{s}", account.to_hex())),
        Some(_) => None,
    }
}

fn suffix_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= CLIENT_ID_SUFFIX_MAX
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses a username: exactly 64 lowercase hex digits naming a key.
pub fn parse_username(name: &str) -> Result<AccountId, LoginError> {
    let lower = name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lower {
        return Err(LoginError::BadUsername);
    }
    let mut id = [0u8; 32];
    hex::decode_to_slice(name, &mut id).map_err(|_| LoginError::BadUsername)?;
    Ok(AccountId(id))
}

/// Whether `client_id` belongs to `account` (see [`client_id`]).
pub fn check_client_id(account: &AccountId, client_id: &str) -> Result<(), LoginError> {
    let hex = account.to_hex();
    match client_id.strip_prefix(hex.as_str()) {
        Some("") => Ok(()),
        Some(rest) => match rest.strip_prefix('-') {
            Some(s) if suffix_ok(s) => Ok(()),
            _ => Err(LoginError::ForeignClientId),
        },
        None => Err(LoginError::ForeignClientId),
    }
}

/// The bytes a login signs: `LOGIN_DOMAIN ‖ genesis ‖ account ‖ u16 LE
/// length ‖ client id ‖ issued_at u64 LE ‖ nonce` (the token itself carries
/// `issued_at` big-endian; docs/mqtt.md §9).
pub fn signing_message(
    genesis: &Hash32,
    account: &AccountId,
    client_id: &str,
    issued_at: Timestamp,
    nonce: &[u8; 16],
) -> Vec<u8> {
    with_message(genesis, account, client_id, issued_at, nonce, |m| {
        m.concat()
    })
}

/// Hands the signing message to `f` in pieces, so that signing and checking
/// need not join them (no allocation, for firmware).
fn with_message<R>(
    genesis: &Hash32,
    account: &AccountId,
    client_id: &str,
    issued_at: Timestamp,
    nonce: &[u8; 16],
    f: impl FnOnce(&[&[u8]]) -> R,
) -> R {
    let id = client_id.as_bytes();
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX).to_le_bytes();
    let at = issued_at.0.to_le_bytes();
    f(&[LOGIN_DOMAIN, &genesis.0, &account.0, &len, id, &at, nonce])
}

impl LoginToken {
    /// Signs a token for `key` logging in as `client_id` on the network of `genesis`.
    pub fn issue(
        key: &Keypair,
        genesis: &Hash32,
        client_id: &str,
        issued_at: Timestamp,
        nonce: [u8; 16],
    ) -> LoginToken {
        let signature = with_message(genesis, &key.account(), client_id, issued_at, &nonce, |m| {
            key.sign_parts(m)
        });
        LoginToken {
            issued_at,
            nonce,
            signature,
        }
    }

    /// The token's bytes: version ‖ issued_at u64 BE ‖ nonce ‖ signature.
    pub fn to_bytes(&self) -> [u8; LOGIN_TOKEN_BYTES] {
        let mut out = [0u8; LOGIN_TOKEN_BYTES];
        out[0] = LOGIN_VERSION;
        out[1..9].copy_from_slice(&self.issued_at.0.to_be_bytes());
        out[9..25].copy_from_slice(&self.nonce);
        out[25..].copy_from_slice(&self.signature.0);
        out
    }

    /// The MQTT password: the bytes in lowercase hex.
    pub fn to_text(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Reads a password: the token's bytes in hex.
    pub fn parse(password: &[u8]) -> Result<LoginToken, LoginError> {
        let mut raw = [0u8; LOGIN_TOKEN_BYTES];
        if password.len() != LOGIN_TOKEN_BYTES * 2 {
            return Err(LoginError::MalformedToken);
        }
        hex::decode_to_slice(password, &mut raw).map_err(|_| LoginError::MalformedToken)?;
        if raw[0] != LOGIN_VERSION {
            return Err(LoginError::MalformedToken);
        }
        let mut at = [0u8; 8];
        at.copy_from_slice(&raw[1..9]);
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(&raw[9..25]);
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&raw[25..]);
        Ok(LoginToken {
            issued_at: Timestamp(u64::from_be_bytes(at)),
            nonce,
            signature: Signature(sig),
        })
    }
}

/// A login that passed every check: who logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Login {
    pub account: AccountId,
}

/// Checks a CONNECT's username, client id and password against `genesis` and
/// the clock, in the order of docs/mqtt.md §9; a login that passes is recorded
/// in `replay`, so the same token is refused next time.
pub fn verify(
    genesis: &Hash32,
    username: &str,
    client_id: &str,
    password: &[u8],
    now: Timestamp,
    replay: &mut LoginReplay,
) -> Result<Login, LoginError> {
    let account = parse_username(username)?;
    check_client_id(&account, client_id)?;
    let token = LoginToken::parse(password)?;
    check_window(token.issued_at, now, replay.scale)?;
    with_message(
        genesis,
        &account,
        client_id,
        token.issued_at,
        &token.nonce,
        |m| keys::verify_parts(&account, m, &token.signature),
    )
    .map_err(|_| LoginError::BadSignature)?;
    replay.record(&account, &token, now)?;
    Ok(Login { account })
}

/// `LOGIN_WINDOW_MS` and `LOGIN_SKEW_MS` are wall time: on an accelerated
/// network (`scale` its speed) they are that many times longer in its time.
fn check_window(issued_at: Timestamp, now: Timestamp, scale: u32) -> Result<(), LoginError> {
    let skew = LOGIN_SKEW_MS.saturating_mul(u64::from(scale));
    if issued_at.0 > now.0.saturating_add(skew) {
        return Err(LoginError::FromFuture);
    }
    if now.0.saturating_sub(issued_at.0) > LOGIN_WINDOW_MS.saturating_mul(u64::from(scale)) {
        return Err(LoginError::Expired);
    }
    Ok(())
}

/// Remembers accepted logins until they would be refused as expired anyway.
#[derive(Debug)]
pub struct LoginReplay {
    capacity: usize,
    /// The network's clock speed: the windows are this many times longer
    /// in its time (1 on the real clock).
    scale: u32,
    now_max: Timestamp,
    seen: BTreeSet<(AccountId, [u8; 16])>,
    by_time: BTreeSet<(Timestamp, AccountId, [u8; 16])>,
}

impl LoginReplay {
    /// A cache holding at most `capacity` logins, itself at most [`LOGIN_REPLAY_MAX`].
    pub fn new(capacity: usize) -> LoginReplay {
        LoginReplay {
            capacity: capacity.min(LOGIN_REPLAY_MAX),
            scale: 1,
            now_max: Timestamp(0),
            seen: BTreeSet::new(),
            by_time: BTreeSet::new(),
        }
    }

    /// The same cache for a network on `clock`: tokens are stamped in its
    /// time, and its windows last the same wall time as on the real clock.
    pub fn on_clock(mut self, clock: crate::LedgerClock) -> LoginReplay {
        self.scale = clock.speed().max(1);
        self
    }

    /// Logins now remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn record(
        &mut self,
        account: &AccountId,
        token: &LoginToken,
        now: Timestamp,
    ) -> Result<(), LoginError> {
        // A token issued before the horizon is refused as expired, so its
        // entry can go. The horizon follows the latest clock reading seen, so
        // a clock stepping back cannot revive a token already forgotten.
        self.now_max = self.now_max.max(now);
        let window = LOGIN_WINDOW_MS.saturating_mul(u64::from(self.scale));
        let horizon = Timestamp(self.now_max.0.saturating_sub(window));
        if token.issued_at < horizon {
            return Err(LoginError::Expired);
        }
        while let Some(&(at, acc, nonce)) = self.by_time.first() {
            if at >= horizon {
                break;
            }
            self.by_time.pop_first();
            self.seen.remove(&(acc, nonce));
        }
        let key = (*account, token.nonce);
        if self.seen.contains(&key) {
            return Err(LoginError::Replayed);
        }
        if self.seen.len() >= self.capacity {
            return Err(LoginError::Busy);
        }
        self.seen.insert(key);
        self.by_time
            .insert((token.issued_at, *account, token.nonce));
        Ok(())
    }
}

impl Default for LoginReplay {
    fn default() -> Self {
        LoginReplay::new(LOGIN_REPLAY_MAX)
    }
}

#[cfg(test)]
mod tests;
