//! The guard's decisions as tables: logins through one `login` helper,
//! accesses through one `check` helper.

use super::*;
use ting_core::login::{LoginToken, LOGIN_SKEW_MS, LOGIN_WINDOW_MS};
use ting_core::topics::{inbox, node, BLOCKS_TOPIC, NODES_FILTER};
use ting_core::{Amount, Genesis, Keypair, NetworkId};

const NOW: Timestamp = Timestamp(1_800_000_000_000);
const HERE: &str = "192.0.2.1";

fn sequencer() -> Keypair {
    Keypair::from_seed([2; 32])
}

fn device(i: u8) -> Keypair {
    Keypair::from_seed([10 + i; 32])
}

fn config(per_source: usize) -> Config {
    let s = sequencer().account();
    Config {
        genesis: Genesis {
            name: "guard-tests".into(),
            network: NetworkId(5),
            timestamp: Timestamp(1),
            issuers: vec![s],
            sequencers: vec![s],
            allocations: vec![(s, Amount::new(1))],
            clock: ting_core::LedgerClock::Real,
        },
        connections_per_source: per_source,
    }
}

fn guard(per_source: usize) -> Guard {
    Guard::new(
        &config(per_source),
        Arc::new(Mutex::new(LoginReplay::default())),
    )
}

fn genesis_hash() -> Hash32 {
    config(1).genesis.hash()
}

/// A CONNECT's credentials: username, client id, password.
struct Creds {
    username: Option<String>,
    client_id: String,
    password: Option<String>,
}

/// What `key` sends to log in as itself with a token issued at `at`.
fn creds(key: &Keypair, at: Timestamp, nonce: u8) -> Creds {
    creds_for(key, key, &genesis_hash(), at, nonce)
}

/// `signer` signs a token for `claimed`'s username and client id.
fn creds_for(
    signer: &Keypair,
    claimed: &Keypair,
    genesis: &Hash32,
    at: Timestamp,
    nonce: u8,
) -> Creds {
    let id = login::client_id(&claimed.account(), None).expect("id");
    let token = LoginToken::issue(signer, genesis, &id, at, [nonce; 16]);
    Creds {
        username: Some(login::username(&claimed.account())),
        client_id: id,
        password: Some(token.to_text()),
    }
}

fn login(g: &Guard, client: usize, c: &Creds, now: Timestamp) -> Result<Granted, &'static str> {
    let connect = Connect {
        client: ClientKey(client),
        username: c.username.as_deref(),
        client_id: Some(&c.client_id),
        password: c.password.as_deref().map(str::as_bytes),
        address: Some(HERE),
    };
    g.login(&connect, now).map_err(|e| e.code())
}

#[test]
fn a_fresh_token_logs_a_device_in_as_a_device_and_a_sequencer_as_a_node() {
    let g = guard(10);
    let d = login(&g, 1, &creds(&device(0), NOW, 1), NOW).expect("device");
    assert_eq!((d.account, d.role), (device(0).account(), Role::Device));
    let n = login(&g, 2, &creds(&sequencer(), NOW, 2), NOW).expect("node");
    assert_eq!((n.account, n.role), (sequencer().account(), Role::Node));
}

#[test]
fn every_bad_login_is_refused_with_its_stable_code() {
    let (victim, attacker) = (device(0), device(1));
    let other_genesis = Hash32([9; 32]);
    let mut foreign_id = creds(&attacker, NOW, 3);
    foreign_id.client_id = login::client_id(&victim.account(), None).expect("id");
    let mut anonymous = creds(&victim, NOW, 4);
    anonymous.username = None;
    anonymous.password = None;
    let mut no_password = creds(&victim, NOW, 5);
    no_password.password = None;
    let cases = [
        ("no credentials", anonymous, "login_bad_username"),
        ("no password", no_password, "login_malformed_token"),
        (
            "another's key",
            creds_for(&attacker, &victim, &genesis_hash(), NOW, 6),
            "login_bad_signature",
        ),
        (
            "another genesis",
            creds_for(&victim, &victim, &other_genesis, NOW, 7),
            "login_bad_signature",
        ),
        ("another's client id", foreign_id, "login_foreign_client_id"),
        (
            "expired",
            creds(&victim, Timestamp(NOW.0 - LOGIN_WINDOW_MS - 1), 8),
            "login_expired",
        ),
        (
            "from the future",
            creds(&victim, Timestamp(NOW.0 + LOGIN_SKEW_MS + 1), 9),
            "login_from_future",
        ),
    ];
    let g = guard(10);
    for (i, (what, c, code)) in cases.iter().enumerate() {
        assert_eq!(login(&g, i, c, NOW).map(|_| ()), Err(*code), "{what}");
    }
}

#[test]
fn a_token_logs_in_once() {
    let g = guard(10);
    let c = creds(&device(0), NOW, 1);
    assert!(login(&g, 1, &c, NOW).is_ok());
    assert_eq!(login(&g, 2, &c, NOW).map(|_| ()), Err("login_replayed"));
}

#[test]
fn the_replay_cache_is_shared_by_guards_given_the_same_one() {
    let replay = Arc::new(Mutex::new(LoginReplay::default()));
    let (a, b) = (
        Guard::new(&config(10), Arc::clone(&replay)),
        Guard::new(&config(10), replay),
    );
    let c = creds(&device(0), NOW, 1);
    assert!(login(&a, 1, &c, NOW).is_ok());
    assert_eq!(login(&b, 1, &c, NOW).map(|_| ()), Err("login_replayed"));
}

#[test]
fn the_clock_reading_passed_in_decides_the_window() {
    let g = guard(10);
    let c = creds(&device(0), NOW, 1);
    let late = Timestamp(NOW.0 + LOGIN_WINDOW_MS + 1);
    assert_eq!(login(&g, 1, &c, late).map(|_| ()), Err("login_expired"));
    assert!(login(&g, 1, &c, NOW).is_ok());
}

#[test]
fn on_an_accelerated_network_tokens_are_stamped_in_network_time() {
    let mut cfg = config(10);
    // The network started two minutes ago (wall time) at a thousand times
    // real time: its time is 120,000 s past the epoch.
    let epoch = Timestamp(NOW.0 - 120_000);
    let clock = ting_core::LedgerClock::Accelerated { speed: 1_000 };
    cfg.genesis.clock = clock;
    cfg.genesis.timestamp = epoch;
    let replay = LoginReplay::default().on_clock(clock);
    let g = Guard::new(&cfg, Arc::new(Mutex::new(replay)));
    let hash = cfg.genesis.hash();
    let network_now = Timestamp(epoch.0 + 120_000_000);
    let on_time = creds_for(&device(0), &device(0), &hash, network_now, 1);
    assert!(login(&g, 1, &on_time, NOW).is_ok());
    // A token on the wall clock is two minutes (wall time) behind: stale.
    let on_the_wall = creds_for(&device(1), &device(1), &hash, NOW, 2);
    assert_eq!(
        login(&g, 2, &on_the_wall, NOW).map(|_| ()),
        Err("login_expired")
    );
}

#[test]
fn a_source_at_its_limit_is_refused_until_a_client_of_it_leaves() {
    let g = guard(1);
    assert!(login(&g, 1, &creds(&device(0), NOW, 1), NOW).is_ok());
    let second = creds(&device(1), NOW, 2);
    assert_eq!(
        login(&g, 2, &second, NOW).map(|_| ()),
        Err("login_source_full")
    );
    g.disconnected(ClientKey(1));
    assert!(login(&g, 2, &creds(&device(1), NOW, 3), NOW).is_ok());
}

#[test]
fn a_refused_login_takes_no_slot_of_its_source() {
    let g = guard(1);
    let bad = creds_for(&device(1), &device(0), &genesis_hash(), NOW, 1);
    assert!(login(&g, 1, &bad, NOW).is_err());
    assert!(login(&g, 2, &creds(&device(0), NOW, 2), NOW).is_ok());
}

/// Who asks, what, on which topic, and the answer: `Ok(())` or a refusal's code.
fn check(who: &Keypair, request: Request, topic: &str) -> Result<(), &'static str> {
    let name = login::username(&who.account());
    guard(1)
        .access(Some(&name), request, topic)
        .map_err(|e| e.code())
}

#[test]
fn accesses_follow_the_topic_table_for_each_role() {
    use Request::*;
    const DENIED: Result<(), &str> = Err("acl_denied");
    let (me, other, seq) = (device(0), device(1), sequencer());
    let (my_inbox, other_inbox) = (inbox(&me.account()), inbox(&other.account()));
    let my_node = node(&seq.account());
    let cases: Vec<(&Keypair, Request, &str, Result<(), &str>)> = vec![
        // A device: its inbox, the blocks, the nodes' announcements.
        (&me, Subscribe, &my_inbox, Ok(())),
        (&me, Subscribe, BLOCKS_TOPIC, Ok(())),
        (&me, Subscribe, NODES_FILTER, Ok(())),
        (&me, Write { retain: false }, TX_TOPIC, Ok(())),
        (&me, Write { retain: false }, &other_inbox, Ok(())),
        (&me, Subscribe, &other_inbox, DENIED),
        (&me, Subscribe, "ting/v1/inbox/#", DENIED),
        (&me, Subscribe, "ting/v1/inbox/+", DENIED),
        (&me, Subscribe, TX_SHARED_FILTER, DENIED),
        (&me, Subscribe, TX_TOPIC, DENIED),
        (&me, Subscribe, "#", DENIED),
        (&me, Subscribe, "$share/evil/ting/v1/inbox/+", DENIED),
        (&me, Write { retain: false }, BLOCKS_TOPIC, DENIED),
        (&me, Write { retain: true }, BLOCKS_TOPIC, DENIED),
        (&me, Write { retain: true }, &other_inbox, DENIED),
        (&me, Write { retain: true }, &my_node, DENIED),
        // A node: the shared transactions, the blocks, its own announcement.
        (&seq, Subscribe, TX_SHARED_FILTER, Ok(())),
        (&seq, Subscribe, TX_TOPIC, DENIED),
        (&seq, Subscribe, "$share/other/ting/v1/tx", DENIED),
        (&seq, Write { retain: true }, BLOCKS_TOPIC, Ok(())),
        (&seq, Write { retain: true }, &my_node, Ok(())),
        (&seq, Write { retain: false }, TX_TOPIC, DENIED),
        (&seq, Subscribe, &my_inbox, DENIED),
        // Unsubscribing gives nothing, so anyone may.
        (&me, Unsubscribe, "#", Ok(())),
    ];
    for (who, request, topic, want) in cases {
        assert_eq!(check(who, request, topic), want, "{request:?} {topic}");
    }
}

#[test]
fn a_delivery_is_allowed_where_the_client_may_subscribe_or_share_as_a_node() {
    let (me, other, seq) = (device(0), device(1), sequencer());
    let cases: Vec<(&Keypair, String, Result<(), &str>)> = vec![
        (&me, inbox(&me.account()), Ok(())),
        (&me, BLOCKS_TOPIC.into(), Ok(())),
        (&me, node(&seq.account()), Ok(())),
        (&me, inbox(&other.account()), Err("acl_denied")),
        // Transactions reach nodes through the shared group, never devices.
        (&seq, TX_TOPIC.into(), Ok(())),
        (&me, TX_TOPIC.into(), Err("acl_denied")),
        (&seq, BLOCKS_TOPIC.into(), Ok(())),
        (&seq, node(&seq.account()), Ok(())),
        (&seq, inbox(&me.account()), Err("acl_denied")),
        (&seq, "ting/v1/streams/x".into(), Err("acl_denied")),
    ];
    for (who, topic, want) in cases {
        assert_eq!(check(who, Request::Read, &topic), want, "read {topic}");
    }
}

#[test]
fn mosquitto_access_kinds_map_to_requests_and_unknown_ones_are_refused() {
    assert_eq!(
        Request::from_mosquitto(MOSQ_ACL_READ, true),
        Some(Request::Read)
    );
    assert_eq!(
        Request::from_mosquitto(MOSQ_ACL_WRITE, true),
        Some(Request::Write { retain: true })
    );
    assert_eq!(
        Request::from_mosquitto(MOSQ_ACL_SUBSCRIBE, false),
        Some(Request::Subscribe)
    );
    assert_eq!(
        Request::from_mosquitto(MOSQ_ACL_UNSUBSCRIBE, false),
        Some(Request::Unsubscribe)
    );
    let name = login::username(&device(0).account());
    let g = guard(1);
    for access in [0, 3, 0x10, -1] {
        let refused = g.acl_check(Some(&name), access, false, BLOCKS_TOPIC, 0);
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err("acl_unknown_access"),
            "{access}"
        );
    }
    assert_eq!(
        g.acl_check(Some(&name), MOSQ_ACL_SUBSCRIBE, false, BLOCKS_TOPIC, 0),
        Ok(())
    );
}

#[test]
fn a_client_without_an_account_username_may_do_nothing() {
    let g = guard(1);
    for username in [None, Some(""), Some("admin"), Some(&*"AB".repeat(32))] {
        let refused = g.access(username, Request::Subscribe, BLOCKS_TOPIC);
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err("acl_not_logged_in"),
            "{username:?}"
        );
    }
}

#[test]
fn log_lines_carry_the_code_and_quote_what_the_client_sent() {
    let hostile = format!("evil\nfake log line{}", "x".repeat(500));
    let connect = Connect {
        client: ClientKey(1),
        username: None,
        client_id: Some(&hostile),
        password: None,
        address: Some(HERE),
    };
    let line = LoginRefused::Login(LoginError::BadUsername).log_line(&connect);
    assert!(line.contains("(login_bad_username)"), "{line}");
    assert!(!line.contains('\n'), "{line}");
    assert!(line.len() < 400, "{line}");
    let name = login::username(&device(0).account());
    let refused = guard(1)
        .access(Some(&name), Request::Subscribe, "#")
        .expect_err("denied");
    let line = refused.log_line(Some("dev"));
    assert!(
        line.contains("(acl_denied)") && line.contains("\"#\""),
        "{line}"
    );
}

#[test]
fn the_nodes_share_prefix_is_the_shared_filter_without_its_topic() {
    assert_eq!(nodes_share_prefix(), "$share/ting-nodes/");
}

#[test]
fn a_client_holding_the_most_subscriptions_may_subscribe_to_nothing_more() {
    let g = guard(1);
    let me = login::username(&device(0).account());
    let seq = login::username(&sequencer().account());
    let sub = |who: &str, filter: &str, held| {
        g.acl_check(Some(who), MOSQ_ACL_SUBSCRIBE, false, filter, held)
            .map_err(|e| e.code())
    };
    let max = SUBSCRIPTIONS_PER_CLIENT_MAX;
    assert_eq!(sub(&me, BLOCKS_TOPIC, max - 1), Ok(()));
    assert_eq!(
        sub(&me, BLOCKS_TOPIC, max),
        Err("acl_too_many_subscriptions")
    );
    assert_eq!(
        sub(&me, "#", max),
        Err("acl_denied"),
        "the table is asked first"
    );
    assert_eq!(
        sub(&seq, TX_SHARED_FILTER, max),
        Ok(()),
        "shared ones are counted apart"
    );
    let publish = g.acl_check(Some(&me), MOSQ_ACL_WRITE, false, TX_TOPIC, max);
    assert_eq!(publish, Ok(()), "the cap is on subscribing only");
}
