//! Scratch databases on a server a URL names: `ting bench ledger --store
//! URL` makes its own databases there (never touching the one the URL
//! names) and drops them when done.

use super::worker::{database, describe, Worker};
use crate::LogError;

/// Creates database `name` (letters, digits and `_`) on the server `url`
/// reaches, and answers its URL.
///
/// # Errors
/// A bad name, the server cannot be reached, or the role may not create databases.
pub fn create_scratch(url: &str, name: &str) -> Result<String, LogError> {
    let name = checked_name(name)?;
    let sql = format!("CREATE DATABASE {name}");
    Worker::connect(url, "ting-pg-scratch")?.run(move |c| {
        c.batch_execute(&sql)
            .map_err(|e| database("create a scratch database", &describe(&e)))
    })??;
    Ok(with_database(url, &name))
}

/// Drops database `name` on the server `url` reaches, ending its sessions.
///
/// # Errors
/// A bad name, or the server refused.
pub fn drop_scratch(url: &str, name: &str) -> Result<(), LogError> {
    let name = checked_name(name)?;
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    Worker::connect(url, "ting-pg-scratch")?.run(move |c| {
        c.batch_execute(&sql)
            .map_err(|e| database("drop a scratch database", &describe(&e)))
    })?
}

fn checked_name(name: &str) -> Result<String, LogError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(database(
            "name a scratch database",
            &format!("{name:?}: lower-case letters, digits and _ only, at most 63"),
        ))
    }
}

/// `url` with its database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.split_once('?').map(|(_, q)| q);
    match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://ting@127.0.0.1:5432/ting", "b"),
            "postgres://ting@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "b"),
            "postgresql://u:p@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "b"), "postgres://h:1/b");
    }
}
