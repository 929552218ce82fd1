//! `ting migrate --store URL` against a real PostgreSQL cluster of its own:
//! it creates the schema, a second run changes nothing, and a bad URL or a
//! database that is not there is named, with its exit status.

use std::process::{Command, Output};

use ting_store::pg::cluster::TempCluster;

fn migrate(url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["migrate", "--json", "--store", url])
        .output()
        .expect("ting runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn migrate_creates_the_schema_once_and_names_what_is_wrong() {
    let pg = TempCluster::start().expect("a PostgreSQL cluster");
    let url = pg.create_database("migrated").expect("a database");
    let first = migrate(&url);
    assert!(first.status.success(), "{first:?}");
    let v = json(&first);
    assert_eq!(
        (v["schema_from"].as_u64(), v["schema_version"].as_u64()),
        (Some(0), Some(3))
    );
    let again = migrate(&url);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(json(&again)["schema_from"].as_u64(), Some(3));

    let bad = migrate("mysql://somewhere/db");
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert_eq!(json(&bad)["error"]["code"], "bad_store_url");

    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let gone = migrate(&format!("postgres://ting@127.0.0.1:{port}/nothing"));
    assert_eq!(gone.status.code(), Some(4), "{gone:?}");
    assert_eq!(json(&gone)["error"]["code"], "log_database");
}
