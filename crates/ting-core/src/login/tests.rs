//! Login tokens: the byte format, every refusal, and the replay cache.

use super::*;

const NOW: Timestamp = Timestamp(1_800_000_000_000);

fn key() -> Keypair {
    Keypair::from_seed([7; 32])
}

fn genesis() -> Hash32 {
    Hash32([0x42; 32])
}

fn token_for(client: &str, at: Timestamp, nonce: u8) -> String {
    LoginToken::issue(&key(), &genesis(), client, at, [nonce; 16]).to_text()
}

fn login(
    user: &str,
    client: &str,
    password: &str,
    replay: &mut LoginReplay,
) -> Result<Login, LoginError> {
    verify(&genesis(), user, client, password.as_bytes(), NOW, replay)
}

#[test]
fn a_fresh_token_logs_in_once() {
    let me = key().account();
    let client = client_id(&me, Some("dev")).unwrap();
    let pw = token_for(&client, NOW, 1);
    let mut replay = LoginReplay::default();
    assert_eq!(
        login(&username(&me), &client, &pw, &mut replay),
        Ok(Login { account: me })
    );
    assert_eq!(
        login(&username(&me), &client, &pw, &mut replay),
        Err(LoginError::Replayed)
    );
    assert_eq!(replay.len(), 1);
}

#[test]
fn the_token_is_bound_to_client_id_genesis_and_account() {
    let me = key().account();
    let client = client_id(&me, None).unwrap();
    let other_client = client_id(&me, Some("b")).unwrap();
    let pw = token_for(&client, NOW, 2);
    let mut replay = LoginReplay::default();
    assert_eq!(
        login(&username(&me), &other_client, &pw, &mut replay),
        Err(LoginError::BadSignature)
    );
    let wrong_genesis = verify(
        &Hash32([1; 32]),
        &username(&me),
        &client,
        pw.as_bytes(),
        NOW,
        &mut replay,
    );
    assert_eq!(wrong_genesis, Err(LoginError::BadSignature));
    // Another account, with its own client id, presenting this key's token.
    let victim = Keypair::from_seed([9; 32]).account();
    let victim_client = client_id(&victim, None).unwrap();
    assert_eq!(
        login(&username(&victim), &victim_client, &pw, &mut replay),
        Err(LoginError::BadSignature)
    );
    assert!(replay.is_empty(), "nothing unverified is remembered");
}

#[test]
fn usernames_and_client_ids_are_strict() {
    let me = key().account();
    let hex = me.to_hex();
    let mut replay = LoginReplay::default();
    let pw = token_for(&hex, NOW, 3);
    assert_eq!(
        login(&hex.to_uppercase(), &hex, &pw, &mut replay),
        Err(LoginError::BadUsername)
    );
    assert_eq!(
        login("", &hex, &pw, &mut replay),
        Err(LoginError::BadUsername)
    );
    let other = Keypair::from_seed([8; 32]).account().to_hex();
    for client in [
        other.as_str(),
        "ting-dev-1",
        &format!("{hex}-"),
        &format!("{hex}x"),
        &format!("{hex}-UP"),
        &format!("{hex}-{}", "a".repeat(17)),
    ] {
        assert_eq!(
            login(&hex, client, &pw, &mut replay),
            Err(LoginError::ForeignClientId),
            "{client}"
        );
    }
    assert_eq!(client_id(&me, Some("")), None);
    assert_eq!(client_id(&me, Some("a/b")), None);
    assert_eq!(
        client_id(&me, Some(&"a".repeat(16))).map(|c| c.len()),
        Some(64 + 1 + 16)
    );
}

#[test]
fn malformed_passwords_are_named() {
    let me = key().account();
    let hex = me.to_hex();
    let mut replay = LoginReplay::default();
    let good = token_for(&hex, NOW, 4);
    let mut wrong_version = good.clone();
    wrong_version.replace_range(0..2, "02");
    for pw in [
        "",
        "secret",
        &good[..good.len() - 2],
        &good.to_uppercase().replace('A', "g"),
        &wrong_version,
    ] {
        assert_eq!(
            login(&hex, &hex, pw, &mut replay),
            Err(LoginError::MalformedToken),
            "{pw}"
        );
    }
}

#[test]
fn the_window_refuses_old_and_future_tokens() {
    let me = key().account();
    let hex = me.to_hex();
    let mut replay = LoginReplay::default();
    let old = token_for(&hex, Timestamp(NOW.0 - LOGIN_WINDOW_MS - 1), 5);
    assert_eq!(
        login(&hex, &hex, &old, &mut replay),
        Err(LoginError::Expired)
    );
    let edge = token_for(&hex, Timestamp(NOW.0 - LOGIN_WINDOW_MS), 6);
    assert!(login(&hex, &hex, &edge, &mut replay).is_ok());
    let ahead = token_for(&hex, Timestamp(NOW.0 + LOGIN_SKEW_MS + 1), 7);
    assert_eq!(
        login(&hex, &hex, &ahead, &mut replay),
        Err(LoginError::FromFuture)
    );
    let slightly_ahead = token_for(&hex, Timestamp(NOW.0 + LOGIN_SKEW_MS), 8);
    assert!(login(&hex, &hex, &slightly_ahead, &mut replay).is_ok());
}

#[test]
fn the_cache_forgets_only_what_has_expired_and_a_clock_step_back_revives_nothing() {
    let me = key().account();
    let hex = me.to_hex();
    let mut replay = LoginReplay::new(2);
    let first = token_for(&hex, NOW, 10);
    assert!(verify(&genesis(), &hex, &hex, first.as_bytes(), NOW, &mut replay).is_ok());
    let second = token_for(&hex, NOW, 11);
    assert!(verify(&genesis(), &hex, &hex, second.as_bytes(), NOW, &mut replay).is_ok());
    let third = token_for(&hex, NOW, 12);
    assert_eq!(
        verify(&genesis(), &hex, &hex, third.as_bytes(), NOW, &mut replay),
        Err(LoginError::Busy)
    );
    // A minute later the first two have expired and make room.
    let later = Timestamp(NOW.0 + LOGIN_WINDOW_MS + 1);
    let fourth = token_for(&hex, later, 13);
    assert!(verify(
        &genesis(),
        &hex,
        &hex,
        fourth.as_bytes(),
        later,
        &mut replay
    )
    .is_ok());
    assert_eq!(replay.len(), 1);
    // The clock steps back: the forgotten first token is still refused.
    assert_eq!(
        verify(&genesis(), &hex, &hex, first.as_bytes(), NOW, &mut replay),
        Err(LoginError::Expired)
    );
}

/// The vector printed in docs/mqtt.md §9: seed 07…07, genesis hash 42…42,
/// client id `{account}-doc`, issued at 1 800 000 000 000 ms, nonce 01…01.
#[test]
fn the_documented_vector_holds() {
    let me = key().account();
    let client = client_id(&me, Some("doc")).unwrap();
    let token = LoginToken::issue(&key(), &genesis(), &client, NOW, [1; 16]);
    let text = token.to_text();
    assert_eq!(LoginToken::parse(text.as_bytes()), Ok(token));
    let docs = include_str!("../../../../docs/mqtt.md");
    assert!(
        docs.contains(&me.to_hex()),
        "docs/mqtt.md §9 names the vector's account"
    );
    assert!(
        docs.contains(&text),
        "docs/mqtt.md §9 shows the vector's token:\n{text}"
    );
    let msg = signing_message(&genesis(), &me, &client, NOW, &[1; 16]);
    assert!(
        docs.contains(&hex::encode(&msg)),
        "docs/mqtt.md §9 shows the signed bytes:\n{}",
        hex::encode(&msg)
    );
}
