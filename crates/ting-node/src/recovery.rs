//! Recovery at start: the newest good snapshot (or the genesis), then the
//! block log above it replayed, from the node's files or from PostgreSQL.

use ting_core::Block;
use ting_ledger::State;
use ting_store::{BlockLog, FileLog, LogOptions, PgLog, RecoveryReport, SnapshotStore};

use crate::node::{NodeConfig, StartError};

/// The block log recovery opened.
pub(crate) enum OpenedLog {
    /// The node's own files: it sequences alone.
    Files(Box<dyn BlockLog>),
    /// PostgreSQL: the node follows, and leads when it holds the lease (`crate::lead`).
    Postgres(PgLog),
}

/// What recovery hands the launch: the state, the open log, the snapshot's
/// height, what opening the log found, and the blocks replayed.
pub(crate) type Recovered = (State, OpenedLog, u64, RecoveryReport, u64);

/// Loads the newest snapshot (or the genesis) and replays the log above it. The log
/// reads only the segments from the one holding the block above the snapshot, and
/// hands over the snapshot's own block first, which must be the one the snapshot names.
pub(crate) fn recover(
    cfg: &NodeConfig,
    snapshots: &SnapshotStore,
    hash_seed: u64,
) -> Result<Recovered, StartError> {
    let mut state = match snapshots.latest()? {
        Some(s) => State::decode(&s.state, hash_seed).map_err(|e| match e {
            ting_ledger::SnapshotDecodeError::OldVersion { .. } => {
                StartError::OldData(format!("{}: {e}", cfg.data_dir.display()))
            }
            e => StartError::BadSnapshot {
                height: s.height.0,
                reason: e.to_string(),
            },
        })?,
        None => State::from_genesis(&cfg.genesis, hash_seed),
    };
    if state.network() != cfg.genesis.network {
        return Err(StartError::BadSnapshot {
            height: state.height().0,
            reason: "it is for another network".into(),
        });
    }
    let (snap_height, snap_hash) = (state.height(), state.tip_hash());
    // The state map is built once, after the last block, not per block.
    state.begin_replay();
    let mut replayed = 0u64;
    let mut anchored = snap_height.0 == 0;
    let mut visit = |block: &Block| -> Result<(), String> {
        let h = block.header.height;
        if h <= snap_height {
            if h == snap_height {
                if block.header.hash() != snap_hash {
                    return Err(format!(
                        "the snapshot at height {h} does not match the log's block there"
                    ));
                }
                // The state map was rebuilt from the snapshot: its root must be the block's.
                state.adopt_tip_header(&block.header).map_err(|e| {
                    format!("the snapshot at height {h} does not match its block: {e}")
                })?;
                anchored = true;
            }
            return Ok(());
        }
        if !anchored {
            return Err(format!(
                "block {h} came before the log's block at the snapshot height {snap_height}"
            ));
        }
        let receipts = state.apply_block(block).map_err(|e| e.to_string())?;
        if let Some((i, Err(e))) = receipts.iter().enumerate().find(|(_, r)| r.is_err()) {
            return Err(format!(
                "block {h}, transaction {i} was refused on replay: {e}"
            ));
        }
        replayed += 1;
        Ok(())
    };
    let (log, report): (OpenedLog, RecoveryReport) = match &cfg.store {
        None => {
            let blocks_dir = cfg.data_dir.join("blocks");
            let mut options = LogOptions::default();
            options.segment_bytes = cfg.log_segment_bytes;
            options.faults = cfg.faults.clone();
            let (log, report) = FileLog::open_above_with(
                &blocks_dir,
                &cfg.genesis,
                snap_height,
                &options,
                &mut visit,
            )?;
            (OpenedLog::Files(Box::new(log)), report)
        }
        Some(url) => {
            let (log, report) = crate::pg_store::open(url, &cfg.genesis, snap_height, &mut visit)?;
            (OpenedLog::Postgres(log), report)
        }
    };
    if let Some(reason) = &report.truncated_reason {
        tracing::warn!(bytes = report.truncated_bytes, %reason, "cut a torn tail off the block log");
    }
    if report.last_height < snap_height {
        return Err(StartError::SnapshotAhead {
            snapshot: snap_height.0,
            log: report.last_height.0,
        });
    }
    // The log hands over the snapshot's block whenever it holds it.
    assert!(
        anchored,
        "the block log did not show its block at the snapshot height"
    );
    assert_eq!(
        state.height(),
        report.last_height,
        "replay reached the log's tip"
    );
    state
        .end_replay()
        .map_err(|e| StartError::StateMismatch(e.to_string()))?;
    Ok((state, log, snap_height.0, report, replayed))
}
