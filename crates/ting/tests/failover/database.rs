//! The database itself fails over: a primary with a synchronous standby
//! (made by the test with `pg_basebackup`), the nodes given both hosts
//! (`target_session_attrs=read-write`), the primary killed under load and
//! the standby promoted. Every acknowledged transaction must be on the
//! promoted database; nodes whose connection died stop (exit 75) and,
//! restarted, follow or lead on the new primary.

use std::time::{Duration, Instant};

use ting_store::pg::cluster::TempCluster;

use super::common::{poll, Rng};
use super::load::Load;
use super::nodes::Nodes;
use super::{
    check_acks, check_conserved, check_epochs, check_one_chain, seed, SeedGuard, ACKS_PER_ROUND,
};

/// The standby's name, which the primary waits for at each commit.
const STANDBY: &str = "standby1";

#[test]
fn the_database_fails_over_to_its_synchronous_standby_and_nothing_acknowledged_is_lost() {
    let seed = seed();
    let _guard = SeedGuard(seed);
    let mut rng = Rng::new(seed);
    let primary = TempCluster::start().expect("a PostgreSQL primary");
    let direct = primary.create_database("replicated").expect("a database");
    ting_store::pg::migrate(&direct).expect("migrated");
    let standby = TempCluster::standby_of(&primary, STANDBY).expect("a streaming standby");
    // Only now: until the standby runs, every commit would wait for it.
    make_synchronous(&direct);
    let url = format!(
        "postgres://ting@127.0.0.1:{},127.0.0.1:{}/replicated?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    eprintln!("database failover test: the nodes use {url}");
    let mut nodes = Nodes::start(&url, None);
    let mut load = Load::start(&nodes, rng.next_u64());
    load.wait_for_acks(ACKS_PER_ROUND * 2);

    let killed = Instant::now();
    primary.kill().expect("the primary stops at once");
    standby.promote().expect("the standby is promoted");
    eprintln!(
        "database failover test: promoted {:?} after the kill",
        killed.elapsed()
    );
    // Nodes whose connections died stop; a supervisor would restart them.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        nodes.restart_exited();
        if nodes.has_leader() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no node leads on the promoted database"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = load.acks_count();
    poll("the load to go on after the failover", || {
        nodes.restart_exited();
        (load.acks_count() >= before + ACKS_PER_ROUND).then_some(())
    });
    nodes.leader();
    let acks = load.stop();
    check_one_chain(&nodes);
    check_epochs(&nodes);
    check_acks(&nodes, &acks, &mut rng);
    check_conserved(&nodes, &load);
    super::check_rows(&url, nodes.height(nodes.leader().0));
    eprintln!(
        "database failover test: {} acknowledged transactions on the promoted database, {:?} from the kill",
        acks.len(),
        killed.elapsed()
    );
}

/// Makes each commit on the primary wait for the standby, and waits until
/// the primary reports it synchronous.
fn make_synchronous(url: &str) {
    let set = url.to_owned();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&set, postgres::NoTls).expect("connect");
        for sql in [
            format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY}'"),
            "ALTER SYSTEM SET synchronous_commit = 'on'".to_owned(),
            "SELECT pg_reload_conf()".to_owned(),
        ] {
            c.batch_execute(&sql).expect("synchronous replication on");
        }
    })
    .join()
    .expect("the settings changed");
    let url = url.to_owned();
    poll("the standby to be synchronous", || {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).ok()?;
            let row = c
                .query_opt(
                    "SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'",
                    &[],
                )
                .ok()?;
            row.map(|_| ())
        })
        .join()
        .ok()
        .flatten()
    });
}
