//! The plugin's configuration: the `plugin_opt_*` lines of mosquitto.conf,
//! and the genesis file one of them names.
//!
//! ```text
//! plugin /usr/local/lib/libting_mosquitto.so
//! plugin_opt_genesis /etc/ting/genesis.json
//! plugin_opt_connections_per_source 20000
//! ```
//!
//! An option the plugin does not know is an error, not ignored, so that a
//! misspelt limit cannot silently leave the default in force; the broker then
//! refuses to start.

use std::io::Read;
use std::path::Path;

use thiserror::Error;
use ting_core::files::{self, FileFormatError, GENESIS_FILE_BYTES_MAX};
use ting_core::Genesis;

/// `plugin_opt_genesis`: the path of the network's genesis file (docs/files.md).
pub const OPT_GENESIS: &str = "genesis";
/// `plugin_opt_connections_per_source`: the most connections one IP address
/// may hold at once.
pub const OPT_CONNECTIONS_PER_SOURCE: &str = "connections_per_source";
/// The per-source limit when the option is absent: the node's default for its
/// embedded broker (`MQTT_CONNECTIONS_PER_SOURCE_MAX` in
/// `crates/ting-node/src/mqtt/limits.rs`, which this crate does not depend on).
pub const CONNECTIONS_PER_SOURCE_DEFAULT: usize = 20_000;

/// What the plugin was configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub genesis: Genesis,
    pub connections_per_source: usize,
}

/// Why the plugin cannot start; the broker logs it and exits.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("plugin_opt_{OPT_GENESIS} is missing: name the network's genesis file")]
    MissingGenesis,
    #[error("plugin_opt_{0} is not an option of this plugin (it knows {OPT_GENESIS} and {OPT_CONNECTIONS_PER_SOURCE})")]
    UnknownOption(String),
    #[error("plugin_opt_{0} is given twice")]
    Duplicate(String),
    #[error("plugin_opt_{OPT_CONNECTIONS_PER_SOURCE} must be a whole number from 1 up, not {0:?}")]
    BadConnectionsPerSource(String),
    #[error("cannot read the genesis file {path}: {source}")]
    ReadGenesis {
        path: String,
        source: std::io::Error,
    },
    #[error("the genesis file {path} is not usable: {source}")]
    BadGenesis {
        path: String,
        source: FileFormatError,
    },
}

impl ConfigError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::MissingGenesis => "config_missing_genesis",
            ConfigError::UnknownOption(_) => "config_unknown_option",
            ConfigError::Duplicate(_) => "config_duplicate_option",
            ConfigError::BadConnectionsPerSource(_) => "config_bad_connections_per_source",
            ConfigError::ReadGenesis { .. } => "config_genesis_unreadable",
            ConfigError::BadGenesis { .. } => "config_genesis_invalid",
        }
    }
}

impl Config {
    /// Reads the options (key without `plugin_opt_`, value) and the genesis
    /// file they name.
    pub fn from_options<'a>(
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Config, ConfigError> {
        let mut genesis = None;
        let mut per_source = None;
        for (key, value) in options {
            let slot = match key {
                OPT_GENESIS => &mut genesis,
                OPT_CONNECTIONS_PER_SOURCE => &mut per_source,
                _ => return Err(ConfigError::UnknownOption(key.to_owned())),
            };
            if slot.replace(value).is_some() {
                return Err(ConfigError::Duplicate(key.to_owned()));
            }
        }
        let path = genesis.ok_or(ConfigError::MissingGenesis)?;
        let connections_per_source = match per_source {
            None => CONNECTIONS_PER_SOURCE_DEFAULT,
            Some(text) => parse_limit(text)?,
        };
        Ok(Config {
            genesis: read_genesis(Path::new(path))?,
            connections_per_source,
        })
    }
}

fn parse_limit(text: &str) -> Result<usize, ConfigError> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::BadConnectionsPerSource(text.to_owned())),
    }
}

/// Reads and checks a genesis file, reading at most one byte past the size
/// limit so a huge file costs no more (as `ting_agent::files` does; this crate
/// does not depend on the SDK, which would bring its HTTP and MQTT clients
/// into the broker's process).
pub fn read_genesis(path: &Path) -> Result<Genesis, ConfigError> {
    let shown = || path.display().to_string();
    let read = |source| ConfigError::ReadGenesis {
        path: shown(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let limit = u64::try_from(GENESIS_FILE_BYTES_MAX)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes).map_err(read)?;
    files::parse_genesis_file(&bytes).map_err(|source| ConfigError::BadGenesis {
        path: shown(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{Amount, Keypair, NetworkId, Timestamp};

    fn genesis_file(dir: &Path) -> String {
        let a = Keypair::from_seed([1; 32]).account();
        let g = Genesis {
            name: "options".into(),
            network: NetworkId(7),
            timestamp: Timestamp(1),
            issuers: vec![a],
            sequencers: vec![a],
            allocations: vec![(a, Amount::new(1))],
            clock: ting_core::LedgerClock::Real,
        };
        let path = dir.join("genesis.json");
        std::fs::write(&path, files::genesis_file_text(&g)).expect("write genesis");
        path.display().to_string()
    }

    fn check(options: &[(&str, &str)]) -> Result<Config, &'static str> {
        Config::from_options(options.iter().copied()).map_err(|e| e.code())
    }

    #[test]
    fn the_genesis_option_alone_gives_the_embedded_brokers_default_limit() {
        let dir = tempfile::tempdir().expect("dir");
        let path = genesis_file(dir.path());
        let cfg = check(&[(OPT_GENESIS, &path)]).expect("valid");
        assert_eq!(cfg.connections_per_source, CONNECTIONS_PER_SOURCE_DEFAULT);
        assert_eq!(cfg.genesis.name, "options");
    }

    #[test]
    fn options_are_read_strictly() {
        let dir = tempfile::tempdir().expect("dir");
        let path = genesis_file(dir.path());
        let g = (OPT_GENESIS, path.as_str());
        let per = |v| (OPT_CONNECTIONS_PER_SOURCE, v);
        assert_eq!(
            check(&[g, per("3")]).map(|c| c.connections_per_source),
            Ok(3)
        );
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "config_missing_genesis"),
            (&[per("3")], "config_missing_genesis"),
            (
                &[g, ("conections_per_source", "3")],
                "config_unknown_option",
            ),
            (&[g, g], "config_duplicate_option"),
            (&[g, per("0")], "config_bad_connections_per_source"),
            (&[g, per("-1")], "config_bad_connections_per_source"),
            (&[g, per("many")], "config_bad_connections_per_source"),
            (
                &[(OPT_GENESIS, "/nonexistent/genesis.json")],
                "config_genesis_unreadable",
            ),
        ];
        for (options, code) in cases {
            assert_eq!(check(options).map(|_| ()), Err(*code), "{options:?}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_genesis_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("genesis.json");
        std::fs::write(&path, b"{\"name\": 1}").expect("write");
        let err = read_genesis(&path).expect_err("not a genesis");
        assert_eq!(err.code(), "config_genesis_invalid");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}
