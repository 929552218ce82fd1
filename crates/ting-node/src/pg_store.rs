//! Recovery over the block log in PostgreSQL (`NodeConfig::store`): the
//! blocks above the snapshot read back from the database a range per
//! query (`PgReader::range`), each checked
//! against the chain as the file log checks what it reads, and handed to
//! the replay.

use std::time::Instant;

use ting_core::{Block, BlockHeight, Genesis};
use ting_store::{BlockLog, ChainRules, LogError, PgLog, RecoveryReport};

/// Opens the log at `url` and hands `visit` the block at `acknowledged`
/// (the snapshot's, unless 0) and every block above it, in order.
///
/// # Errors
/// The database cannot be reached or is not migrated, holds another
/// network, or a stored block does not chain or is refused by `visit`.
pub(crate) fn open(
    url: &str,
    genesis: &Genesis,
    acknowledged: BlockHeight,
    visit: &mut dyn FnMut(&Block) -> Result<(), String>,
) -> Result<(PgLog, RecoveryReport), LogError> {
    let started = Instant::now();
    // It appends nothing until it takes the lease (`PgLog::lead`).
    let log = PgLog::open(url, genesis, 0)?;
    let rules = ChainRules::from_genesis(genesis);
    let reader = log.pg_reader();
    let last = log.tip().0;
    let (mut blocks, mut visit_ms, mut scanned) = (0u64, 0u64, 0u64);
    let mut prev: Option<(BlockHeight, ting_core::Hash32)> =
        (acknowledged.0 == 0).then(|| rules.empty_tip());
    let mut next = acknowledged.0.max(1);
    while next <= last.0 {
        let read = reader.range(BlockHeight(next), last)?;
        if read.is_empty() {
            return Err(LogError::Replay {
                height: BlockHeight(next),
                message: "the database holds no block at this height, below its tip".into(),
            });
        }
        for (block, bytes) in read {
            let height = block.header.height;
            match prev {
                Some(tip) => rules.check_next(tip, &block)?,
                // The snapshot's own block: the replay checks it is the one the snapshot names.
                None => rules.check_sealed(&block)?,
            }
            prev = Some((height, block.header.hash()));
            scanned += bytes as u64;
            let at = Instant::now();
            visit(&block).map_err(|message| LogError::Replay { height, message })?;
            visit_ms += millis(at);
            blocks += 1;
            next = height.0 + 1;
        }
    }
    let report = RecoveryReport {
        blocks,
        last_height: last,
        file_bytes: 0,
        scanned_bytes: scanned,
        truncated_bytes: 0,
        truncated_reason: None,
        scan_ms: millis(started),
        visit_ms,
        segments_sealed: 0,
        segments_read: 0,
        segments_archived: 0,
        skipped_bytes: 0,
    };
    Ok((log, report))
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
