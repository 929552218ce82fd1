//! `ting migrate --store postgres://...`: creates or upgrades the block
//! log's schema in a PostgreSQL database (docs/postgres.md).

use clap::Args;
use serde_json::json;
use ting_store::pg::{self, SCHEMA_VERSION};
use ting_store::LogError;

use crate::failure::{bad_input, Exit, Kinded};
use crate::output::print_value;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The database: postgres://USER[:PASSWORD]@HOST:PORT/DATABASE (PGPASSWORD
    /// and the other PG* variables are not read; no TLS to the database yet).
    #[arg(long, value_name = "URL")]
    pub store: String,
}

pub fn run(args: &MigrateArgs, json_out: bool) -> anyhow::Result<()> {
    let url = args.store.trim();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(bad_input(
            "bad_store_url",
            format!(
                "--store must be a postgres:// URL, such as postgres://ting@127.0.0.1:5432/ting, not {url:?}"
            ),
        ));
    }
    let migrated = pg::migrate(url).map_err(kinded)?;
    let v = json!({
        "schema_from": migrated.from,
        "schema_version": migrated.to,
    });
    print_value(&v, json_out, |_| {
        if migrated.from == migrated.to {
            format!("the schema is at version {SCHEMA_VERSION} already; nothing to do")
        } else {
            format!(
                "migrated the schema from version {} to {}",
                migrated.from, migrated.to
            )
        }
    });
    Ok(())
}

/// The exit kind of a migration failure: an unreachable or refusing
/// database is "unreachable" (4), a schema newer than this build a failure.
fn kinded(e: LogError) -> anyhow::Error {
    let exit = match e {
        LogError::Database { .. } => Exit::Unreachable,
        _ => Exit::Failure,
    };
    Kinded {
        exit,
        code: e.code(),
        message: e.to_string(),
    }
    .into()
}
