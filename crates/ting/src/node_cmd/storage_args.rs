//! `ting node --log-segment-bytes` and `--snapshot-every-blocks`: hidden options for
//! tests and experiments that move where the block log seals its segments and how often
//! the node snapshots its state (docs/operations.md, "Data directory"). Each can also be
//! given in the environment, which is how the crash test's harness passes them on.
//!
//! `--store` keeps the block log in PostgreSQL; with it, `--lease-ttl`,
//! `--advertise-http` and `--listen-url` say how the node takes part in
//! leadership among the nodes on that database (docs/operations.md, "Several nodes").

use clap::Args;
use ting_core::limits::LOG_SEGMENT_BYTES_MIN;
use ting_node::NodeConfig;

#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Seal the block log's open segment once it passes N bytes [default: 256 MiB].
    #[arg(long, value_name = "N", hide = true, env = "TING_LOG_SEGMENT_BYTES",
          value_parser = clap::value_parser!(u64).range(LOG_SEGMENT_BYTES_MIN..))]
    pub log_segment_bytes: Option<u64>,
    /// Snapshot the state every N blocks [default: 20,000, or a million transactions].
    #[arg(long, value_name = "N", hide = true, env = "TING_SNAPSHOT_EVERY_BLOCKS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub snapshot_every_blocks: Option<u64>,
    /// Keep the block log in PostgreSQL instead of DATA_DIR/blocks:
    /// postgres://USER@HOST:PORT/DATABASE, its schema made with `ting migrate`
    /// (docs/postgres.md). Several nodes may share one: one leads, the others
    /// follow and forward submissions to it.
    #[arg(long, value_name = "URL", env = "TING_STORE", value_parser = postgres_url)]
    pub store: Option<String>,
    /// With --store: how long the leader's lease runs unrenewed, e.g. 3s,
    /// 500ms; a killed leader is replaced about this long after it stopped [default: 3s].
    #[arg(long, value_name = "DURATION", env = "TING_LEASE_TTL", requires = "store",
          value_parser = lease_ttl)]
    pub lease_ttl: Option<std::time::Duration>,
    /// With --store: the http://HOST:PORT other nodes reach this one's HTTP
    /// API at, to forward submissions while it leads [default: http://the --http address].
    #[arg(long, value_name = "URL", env = "TING_ADVERTISE_HTTP", requires = "store",
          value_parser = http_url)]
    pub advertise_http: Option<String>,
    /// With --store through a pooler in transaction mode: a direct
    /// postgres:// URL to LISTEN for new blocks on (followers poll without it).
    #[arg(long, value_name = "URL", env = "TING_LISTEN_URL", requires = "store",
          value_parser = postgres_url)]
    pub listen_url: Option<String>,
}

/// A lease length of at least `LEASE_TTL_MIN`.
fn lease_ttl(text: &str) -> Result<std::time::Duration, String> {
    let ms = crate::channel_cmd::parse_duration_ms(text).map_err(|e| e.to_string())?;
    let ttl = std::time::Duration::from_millis(ms);
    if ttl < ting_node::lead::LEASE_TTL_MIN {
        return Err(format!(
            "at least {} ms: the leader renews it every third of it",
            ting_node::lead::LEASE_TTL_MIN.as_millis()
        ));
    }
    Ok(ttl)
}

/// An `http://HOST:PORT` address (nodes forward to each other without TLS,
/// on their own network: docs/operations.md).
fn http_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    match url.strip_prefix("http://") {
        Some(rest) if !rest.is_empty() && !rest.contains(['/', ' ', '@']) => Ok(url.to_owned()),
        _ => Err(format!(
            "an http://HOST:PORT address, such as http://10.0.0.5:8080, not {url:?}"
        )),
    }
}

/// Accepts a `postgres://` or `postgresql://` URL.
fn postgres_url(text: &str) -> Result<String, String> {
    let url = text.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "a postgres:// URL, such as postgres://ting@127.0.0.1:5432/ting, not {url:?}"
        ))
    }
}

impl StorageArgs {
    fn apply_lease(&self, cfg: &mut NodeConfig, http: std::net::SocketAddr) {
        if let Some(ttl) = self.lease_ttl {
            cfg.lease.ttl = ttl;
        }
        cfg.lease.listen_url.clone_from(&self.listen_url);
        cfg.lease.address = match &self.advertise_http {
            Some(url) => url.clone(),
            None if http.ip().is_unspecified() => {
                eprintln!("ting node: --http listens on every address; give --advertise-http http://HOST:PORT so that other nodes can forward to this one");
                format!("http://127.0.0.1:{}", http.port())
            }
            None => format!("http://{http}"),
        };
        eprintln!(
            "ting node: leads while it holds the lease ({} ms), follows otherwise; other nodes forward to {}",
            cfg.lease.ttl.as_millis(),
            cfg.lease.address
        );
    }

    /// Puts the options given into `cfg`, saying so; `http` is where this
    /// node's API listens.
    pub fn apply(&self, cfg: &mut NodeConfig, http: std::net::SocketAddr) {
        if let Some(bytes) = self.log_segment_bytes {
            cfg.log_segment_bytes = bytes;
            eprintln!(
                "ting node: block log segments are sealed past {bytes} bytes (--log-segment-bytes)"
            );
        }
        if let Some(url) = &self.store {
            cfg.store = Some(url.clone());
            eprintln!("ting node: the block log is kept in PostgreSQL (--store); snapshots and the index in the data directory");
            self.apply_lease(cfg, http);
        }
        if let Some(blocks) = self.snapshot_every_blocks {
            cfg.snapshot_every_blocks = blocks;
            eprintln!("ting node: a snapshot every {blocks} blocks (--snapshot-every-blocks)");
        }
    }
}
