//! `ting node --log-segment-bytes` and `--snapshot-every-blocks`: hidden options for
//! tests and experiments that move where the block log seals its segments and how often
//! the node snapshots its state (docs/operations.md, "Data directory"). Each can also be
//! given in the environment, which is how the crash test's harness passes them on.

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
    /// (docs/postgres.md). One node per database for now.
    #[arg(long, value_name = "URL", env = "TING_STORE", value_parser = postgres_url)]
    pub store: Option<String>,
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
    /// Puts the options given into `cfg`, saying so.
    pub fn apply(&self, cfg: &mut NodeConfig) {
        if let Some(bytes) = self.log_segment_bytes {
            cfg.log_segment_bytes = bytes;
            eprintln!(
                "ting node: block log segments are sealed past {bytes} bytes (--log-segment-bytes)"
            );
        }
        if let Some(url) = &self.store {
            cfg.store = Some(url.clone());
            eprintln!("ting node: the block log is kept in PostgreSQL (--store); snapshots and the index in the data directory");
        }
        if let Some(blocks) = self.snapshot_every_blocks {
            cfg.snapshot_every_blocks = blocks;
            eprintln!("ting node: a snapshot every {blocks} blocks (--snapshot-every-blocks)");
        }
    }
}
