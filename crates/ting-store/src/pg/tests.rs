//! The PostgreSQL block log against a real server (a [`TempCluster`] of
//! its own): what it stores reads back, a reopened log finds its tip, and
//! the database, not the node, fences a leader whose lease moved on.

use super::cluster::TempCluster;
use super::*;
use crate::testkit::Chain;
use crate::{BlockLog, LogError};

fn cluster() -> TempCluster {
    TempCluster::start().expect("a PostgreSQL cluster (see pg/cluster.rs for what it needs)")
}

fn set_epoch(url: &str, epoch: i64) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        c.execute("UPDATE ting_lease SET epoch = $1", &[&epoch])
            .expect("the lease moves");
    })
    .join()
    .expect("the update ran");
}

#[test]
fn blocks_appended_read_back_and_a_reopened_log_finds_its_tip() {
    let pg = cluster();
    let url = pg.create_database("appends").expect("a database");
    assert_eq!(
        PgLog::open(&url, &Chain::new().genesis, 0)
            .expect_err("not migrated")
            .code(),
        "log_schema"
    );
    assert_eq!(
        migrate(&url).expect("migrated"),
        Migrated {
            from: 0,
            to: SCHEMA_VERSION
        }
    );
    assert_eq!(
        migrate(&url).expect("again"),
        Migrated {
            from: SCHEMA_VERSION,
            to: SCHEMA_VERSION
        },
        "migrating twice changes nothing"
    );
    let mut chain = Chain::new();
    let mut log = PgLog::open(&url, &chain.genesis, 0).expect("opens");
    assert_eq!(log.tip(), chain.tip());
    let first = chain.extend(3, 2);
    log.append(&first).expect("appended");
    log.append(&chain.extend(2, 5)).expect("appended");
    let reader = log.reader();
    assert_eq!(reader.height().0, 5);
    for b in &chain.blocks {
        assert_eq!(
            reader.block(b.header.height).expect("read"),
            Some(b.clone())
        );
        assert_eq!(
            reader.header(b.header.height).expect("read"),
            Some(b.header.clone())
        );
    }
    assert_eq!(reader.block(ting_core::BlockHeight(6)).expect("read"), None);
    let range = log
        .pg_reader()
        .range(ting_core::BlockHeight(2), ting_core::BlockHeight(9))
        .expect("a range");
    let blocks: Vec<_> = range.iter().map(|(b, _)| b.clone()).collect();
    assert_eq!(
        blocks,
        chain.blocks[1..].to_vec(),
        "clipped to the durable height"
    );
    assert!(range.iter().all(|(b, n)| *n == b.encode().len()));
    drop(log);

    let reopened = PgLog::open(&url, &chain.genesis, 0).expect("reopens");
    assert_eq!(reopened.tip(), chain.tip());
    let other = Chain::with_name("another network");
    assert_eq!(
        PgLog::open(&url, &other.genesis, 0)
            .expect_err("another genesis")
            .code(),
        "wrong_genesis"
    );
}

#[test]
fn a_block_that_does_not_chain_is_refused_and_nothing_is_stored() {
    let pg = cluster();
    let url = pg.create_database("chain").expect("a database");
    migrate(&url).expect("migrated");
    let mut chain = Chain::new();
    let mut log = PgLog::open(&url, &chain.genesis, 0).expect("opens");
    log.append(&chain.extend(2, 1)).expect("appended");
    let mut skipped = chain.extend(2, 1);
    let gap = skipped.split_off(1);
    let err = log.append(&gap).expect_err("a gap");
    assert_eq!(err.code(), "height_gap", "{err}");
    assert_eq!(log.reader().height().0, 2);
}

#[test]
fn a_leader_whose_lease_moved_on_is_fenced_by_the_database() {
    let pg = cluster();
    let url = pg.create_database("fencing").expect("a database");
    migrate(&url).expect("migrated");
    let mut chain = Chain::new();
    let mut old = PgLog::open(&url, &chain.genesis, 0).expect("opens");
    old.append(&chain.extend(2, 1))
        .expect("the leader of epoch 0 appends");

    // Another node takes the lease (epoch 1) and appends from the same tip.
    set_epoch(&url, 1);
    let at_tip = chain.blocks.len();
    chain.epoch = 1;
    let mut new = PgLog::open(&url, &chain.genesis, 1).expect("opens");
    new.append(&chain.extend(1, 1))
        .expect("the leader of epoch 1 appends");

    // The old leader, still believing in its tip and epoch, is refused.
    let mut stale = Chain::new();
    stale.blocks = chain.blocks[..at_tip].to_vec();
    let err = old.append(&stale.extend(1, 1)).expect_err("fenced");
    assert!(
        matches!(
            err,
            LogError::Fenced {
                epoch: 0,
                current: 1
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "log_fenced");

    // A leader of the current epoch with a stale tip is refused too: the
    // database checks the tip, whatever the node believes.
    let mut behind = PgLog::open(&url, &chain.genesis, 1).expect("opens");
    new.append(&chain.extend(1, 1)).expect("appended");
    let mut fork = Chain::new();
    fork.epoch = 1;
    fork.blocks = chain.blocks[..chain.blocks.len() - 1].to_vec();
    let err = behind
        .append(&fork.extend(1, 2))
        .expect_err("the tip moved");
    assert_eq!(err.code(), "log_tip_moved", "{err}");
    let reader = new.reader();
    assert_eq!(reader.height().0, 4);
    assert_eq!(
        reader.block(ting_core::BlockHeight(4)).expect("read"),
        chain.blocks.last().cloned()
    );
}

/// Polls `f` until it answers `Some`, for at most `deadline`.
fn within<T>(deadline: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let started = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if started.elapsed() > deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn the_lease_passes_on_expiry_or_release_and_each_taking_raises_the_epoch() {
    use std::time::Duration;
    let pg = cluster();
    let url = pg.create_database("leases").expect("a database");
    migrate(&url).expect("migrated");
    let leases = Leases::connect(&url).expect("connects");
    let long = Duration::from_secs(600);

    let a = leases
        .take("node-a", "http://a", long)
        .expect("asked")
        .expect("free: a takes it");
    assert_eq!(a, 1);
    assert_eq!(
        leases.take("node-b", "http://b", long).expect("asked"),
        None,
        "a's lease runs"
    );
    assert!(
        leases.renew("node-a", a, long).expect("asked"),
        "a renews its own"
    );
    assert!(
        !leases.renew("node-b", a, long).expect("asked"),
        "b holds nothing"
    );

    // a's last renewal is short, and then a stops (paused, or gone): b
    // takes the lease once it lapses.
    let short = Duration::from_millis(1);
    assert!(leases.renew("node-a", a, short).expect("asked"));
    let b = within(Duration::from_secs(30), || {
        leases.take("node-b", "http://b", long).expect("asked")
    })
    .expect("b takes the lease after a's lapsed");
    assert_eq!(b, 2);
    assert!(
        !leases.renew("node-a", a, short).expect("asked"),
        "a lost it"
    );
    let state = leases.state().expect("read");
    assert_eq!(
        (
            state.epoch,
            state.holder.as_deref(),
            state.address.as_deref()
        ),
        (2, Some("node-b"), Some("http://b"))
    );
    assert!(state.expires_in_ms.is_some_and(|ms| ms > 0));

    // a, awake again, is fenced by the database when it appends.
    let chain = Chain::new();
    let mut old = PgLog::open(&url, &chain.genesis, a).expect("opens");
    let mut blocks = Chain::new();
    blocks.epoch = a;
    let err = old.append(&blocks.extend(1, 1)).expect_err("fenced");
    assert_eq!(err.code(), "log_fenced", "{err}");

    // A clean release hands the lease over at once; taking it again,
    // even by its last holder, raises the epoch.
    assert!(leases.release("node-b", b).expect("asked"));
    assert_eq!(
        leases.take("node-a", "http://a", long).expect("asked"),
        Some(3)
    );
    assert_eq!(
        leases.take("node-a", "http://a", long).expect("asked"),
        Some(4)
    );
    assert_eq!(
        leases
            .take("", "http://x", long)
            .expect_err("no name")
            .code(),
        "log_database"
    );
}

/// A taking that waited for the row (a paused leader's append holds it)
/// writes a lease that runs its whole length from when it got the row, not
/// from when its transaction began: else the lease could be over before
/// the new leader's first block, and the next node would take it.
#[test]
fn a_lease_taken_after_waiting_for_the_row_runs_its_length_from_then() {
    use std::time::Duration;
    let pg = cluster();
    let url = pg.create_database("waited").expect("a database");
    migrate(&url).expect("migrated");
    let ttl = Duration::from_secs(600);

    // An append in flight holds the lease row, as PgLog's does.
    let mut append = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut held = append.transaction().expect("begins");
    held.query_one("SELECT epoch FROM ting_lease FOR SHARE", &[])
        .expect("holds the row");

    let taker_url = url.clone();
    let taker = std::thread::spawn(move || {
        let leases = Leases::connect(&taker_url).expect("connects");
        leases.take("node-b", "http://b", ttl).expect("asked")
    });
    let mut watch = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let waiting = within(Duration::from_secs(30), || {
        let n: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND query LIKE '%ting_lease%'",
                &[],
            )
            .expect("activity")
            .get(0);
        (n == 1).then_some(())
    });
    assert!(waiting.is_some(), "the taking waits for the row");

    let released: f64 = held
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])
        .expect("the clock")
        .get(0);
    held.commit().expect("the append ends");
    let epoch = taker.join().expect("the taker ran");
    assert_eq!(epoch, Some(1), "the lease was free: b takes it");

    let expires: f64 = watch
        .query_one(
            "SELECT extract(epoch FROM expires_at)::float8 FROM ting_lease",
            &[],
        )
        .expect("the lease")
        .get(0);
    assert!(
        expires >= released + ttl.as_secs_f64(),
        "the lease runs {} s past the row's release, not the {} s asked for",
        expires - released,
        ttl.as_secs()
    );
}

#[test]
fn after_the_server_restarts_reads_go_on_and_the_writer_must_be_reopened() {
    let pg = cluster();
    let url = pg.create_database("restarts").expect("a database");
    migrate(&url).expect("migrated");
    let mut chain = Chain::new();
    let mut log = PgLog::open(&url, &chain.genesis, 0).expect("opens");
    log.append(&chain.extend(2, 1)).expect("appended");
    let reader = log.reader();

    pg.kill().expect("the server stops at once");
    pg.restart().expect("the server starts again");

    // The reader's connection is made again: what was durable still reads.
    assert_eq!(
        reader
            .block(ting_core::BlockHeight(2))
            .expect("read after the restart"),
        chain.blocks.last().cloned()
    );
    // The writer meets its closed connection and, not knowing what an
    // interrupted append would have done, takes no more until reopened.
    let next = chain.extend(1, 1);
    let err = log.append(&next).expect_err("the connection was closed");
    assert_eq!(err.code(), "log_database", "{err}");
    let err = log.append(&next).expect_err("refused until reopened");
    assert!(err.to_string().contains("reopen the log"), "{err}");
    let mut reopened = PgLog::open(&url, &chain.genesis, 0).expect("reopens");
    assert_eq!(reopened.tip().0 .0, 2);
    reopened.append(&next).expect("appended after reopening");
}
