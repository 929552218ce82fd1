//! Logging in to a Ting broker (docs/mqtt.md §9): the credentials a device,
//! the CLI or any MQTT tool presents, made from a key and the network's
//! genesis hash.
//!
//! A token is good for one connection within `LOGIN_WINDOW_MS` of when it
//! was made; make a new one for every connection attempt.

use ting_core::login::{self, LoginToken, LOGIN_WINDOW_MS};
use ting_core::{Hash32, Keypair, Timestamp};

/// What to put in an MQTT CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttLogin {
    pub username: String,
    pub client_id: String,
    /// The login token, in hex.
    pub password: String,
    /// After this the broker refuses the token.
    pub expires_at: Timestamp,
}

/// Why no login could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{suffix:?} is not a client-id suffix: use 1 to 16 of a-z 0-9 -")]
pub struct BadSuffix {
    pub suffix: String,
}

impl BadSuffix {
    pub fn code(&self) -> &'static str {
        "bad_client_id_suffix"
    }
}

/// Fresh credentials for `key` on the network of `genesis`, with the client
/// id `{account}` or `{account}-{suffix}`.
pub fn mqtt_login(
    key: &Keypair,
    genesis: &Hash32,
    suffix: Option<&str>,
    clock: &crate::clock::NetworkClock,
) -> Result<MqttLogin, BadSuffix> {
    let issued_at = clock.now();
    let account = key.account();
    let client_id = login::client_id(&account, suffix).ok_or_else(|| BadSuffix {
        suffix: suffix.unwrap_or("").to_owned(),
    })?;
    let token = LoginToken::issue(key, genesis, &client_id, issued_at, rand::random());
    Ok(MqttLogin {
        username: login::username(&account),
        client_id,
        password: token.to_text(),
        expires_at: Timestamp(
            issued_at
                .0
                .saturating_add(clock.clock().window_ms(LOGIN_WINDOW_MS)),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{now, NetworkClock};

    #[test]
    fn credentials_pass_the_brokers_check_once() {
        let key = Keypair::from_seed([3; 32]);
        let genesis = Hash32([4; 32]);
        let l =
            mqtt_login(&key, &genesis, Some("cli"), &NetworkClock::REAL).expect("a valid suffix");
        assert!(l.client_id.ends_with("-cli"));
        let mut replay = login::LoginReplay::default();
        let check = |replay: &mut login::LoginReplay| {
            login::verify(
                &genesis,
                &l.username,
                &l.client_id,
                l.password.as_bytes(),
                now(),
                replay,
            )
        };
        assert_eq!(check(&mut replay).map(|x| x.account), Ok(key.account()));
        assert_eq!(check(&mut replay), Err(login::LoginError::Replayed));
        assert!(mqtt_login(&key, &genesis, Some("Bad Suffix"), &NetworkClock::REAL).is_err());
    }
}
