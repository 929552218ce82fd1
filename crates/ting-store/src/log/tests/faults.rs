//! Injected I/O faults, one per kind of file and operation, including those of a seal
//! (the segment's index, the next segment, the manifest). For each: the append that meets
//! it returns an error naming what failed, the log takes no more appends, and reopening
//! loses nothing acknowledged, cuts what a short write or a lost fsync tore, and appends
//! and seals on.

use std::sync::Arc;

use super::segments::{open_at, small};
use super::*;

const SMALL: u64 = ting_core::limits::LOG_SEGMENT_BYTES_MIN;

/// Most appends made while waiting for an armed fault to fire (a seal comes every few).
const APPENDS_TO_FIRE_MAX: usize = 40;

/// One fault and what its error must name.
struct Case {
    file: FileKind,
    op: Op,
    fault: Fault,
    /// Words the append's error must hold.
    says: &'static [&'static str],
    /// Whether reopening must cut a torn tail.
    torn: bool,
}

fn options(faults: &Arc<Faults>) -> LogOptions {
    LogOptions {
        faults: Some(Arc::clone(faults)),
        ..small(SMALL, 2000)
    }
}

/// Writes a log across a few seals, arms the case's fault, appends until it fires, and
/// checks the error, the refusal after it, and recovery without the fault.
fn check(case: &Case) {
    let what = format!("{:?} {:?} {:?}", case.file, case.op, case.fault);
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Arc::new(Faults::new());
    let mut chain = Chain::new();
    let (mut log, _, _) =
        open_at(dir.path(), &chain.genesis, 0, &options(&faults)).expect("creates");
    let mut acked = Vec::new();
    for _ in 0..6 {
        let blocks = chain.extend(8, 1);
        log.append(&blocks).expect("appends");
        acked.extend(blocks);
    }
    assert!(
        log.stats().segments_sealed >= 2,
        "{what}: seals before the fault"
    );
    faults.arm(case.file, case.op, case.fault);
    let mut failed = None;
    for _ in 0..APPENDS_TO_FIRE_MAX {
        let blocks = chain.extend(3, 1);
        match log.append(&blocks) {
            Ok(()) => acked.extend(blocks),
            Err(e) => {
                failed = Some((e, blocks));
                break;
            }
        }
    }
    let (err, unacked) = failed.unwrap_or_else(|| panic!("{what}: the fault never fired"));
    assert_eq!(faults.fired(), 1, "{what}");
    assert_eq!(err.code(), "log_io", "{what}: {err}");
    for word in case.says {
        assert!(
            err.to_string().contains(word),
            "{what}: {err} does not say {word:?}"
        );
    }
    let next = chain.extend(1, 1);
    let refused = log
        .append(&next)
        .expect_err("the log takes no more appends");
    assert_eq!(refused.code(), "log_failed", "{what}: {refused}");
    assert!(
        refused.to_string().contains(&err.to_string()),
        "{what}: {refused}"
    );
    drop(log);
    recover(dir.path(), &chain, (&acked, &unacked), case.torn, &what);
}

/// Reopens without faults: every acknowledged block is there (and at most the failed
/// append's after them), a torn tail was cut, and the log appends and seals on.
fn recover(
    dir: &Path,
    chain: &Chain,
    (acked, unacked): (&[Block], &[Block]),
    torn: bool,
    what: &str,
) {
    let (mut log, report, seen) = open_at(dir, &chain.genesis, 0, &small(SMALL, 2000))
        .unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    assert!(
        seen.len() >= acked.len(),
        "{what}: {} of {} acknowledged blocks",
        seen.len(),
        acked.len()
    );
    assert_eq!(seen[..acked.len()], *acked, "{what}");
    assert!(seen.len() <= acked.len() + unacked.len(), "{what}");
    assert_eq!(
        seen[acked.len()..],
        unacked[..seen.len() - acked.len()],
        "{what}"
    );
    if torn {
        assert!(
            report.truncated_bytes > 0,
            "{what}: a torn tail was cut: {report:?}"
        );
    }
    // Fresh blocks on the tip of what survived.
    let mut all = Chain::new();
    all.blocks = seen;
    let rest = all.extend(20, 1);
    log.append(&rest)
        .unwrap_or_else(|e| panic!("{what}: appends after recovery: {e}"));
    let sealed = log.stats().segments_sealed;
    assert!(sealed >= 1, "{what}: seals after recovery");
    drop(log);
    let (log, _, seen) = open_at(dir, &chain.genesis, 0, &small(SMALL, 2000)).expect("reopens");
    assert_eq!(seen, all.blocks, "{what}");
    assert_eq!(log.tip(), all.tip(), "{what}");
}

#[test]
fn each_fault_of_an_append_is_named_stops_the_log_and_loses_nothing_acknowledged() {
    let cases = [
        Case {
            file: FileKind::Segment,
            op: Op::Write,
            fault: Fault::NoSpace,
            says: &["append to", ".log", "No space left"],
            torn: false,
        },
        Case {
            file: FileKind::Segment,
            op: Op::Write,
            fault: Fault::Io,
            says: &["append to", "Input/output error"],
            torn: false,
        },
        Case {
            file: FileKind::Segment,
            op: Op::Write,
            fault: Fault::ShortWrite,
            says: &["append to", "No space left"],
            torn: true,
        },
        Case {
            file: FileKind::Segment,
            op: Op::Sync,
            fault: Fault::LostSync,
            says: &["fsync", ".log"],
            torn: true,
        },
        Case {
            file: FileKind::Segment,
            op: Op::Sync,
            fault: Fault::Io,
            says: &["fsync", "Input/output error"],
            torn: false,
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn each_fault_of_a_seal_is_named_stops_the_log_and_loses_nothing_acknowledged() {
    let cases = [
        Case {
            file: FileKind::SegmentIndex,
            op: Op::Write,
            fault: Fault::NoSpace,
            says: &["write", ".idx.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::SegmentIndex,
            op: Op::Rename,
            fault: Fault::Io,
            says: &["rename", ".idx.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::NewSegment,
            op: Op::Write,
            fault: Fault::ShortWrite,
            says: &["write", ".log.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::NewSegment,
            op: Op::Sync,
            fault: Fault::LostSync,
            says: &["fsync", ".log.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::NewSegment,
            op: Op::Rename,
            fault: Fault::Io,
            says: &["rename", ".log.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::NewSegment,
            op: Op::SyncDir,
            fault: Fault::Io,
            says: &["fsync the directory"],
            torn: false,
        },
        Case {
            file: FileKind::Manifest,
            op: Op::Write,
            fault: Fault::NoSpace,
            says: &["write", "MANIFEST.tmp", "No space left"],
            torn: false,
        },
        Case {
            file: FileKind::Manifest,
            op: Op::Sync,
            fault: Fault::LostSync,
            says: &["fsync", "MANIFEST.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::Manifest,
            op: Op::Rename,
            fault: Fault::Io,
            says: &["rename", "MANIFEST.tmp"],
            torn: false,
        },
        Case {
            file: FileKind::Manifest,
            op: Op::SyncDir,
            fault: Fault::Io,
            says: &["fsync the directory"],
            torn: false,
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn a_failed_cut_at_recovery_stops_the_open_and_the_next_open_cuts() {
    let (dir, chain, bytes) = written_log(&[2, 3]);
    let bounds = record_bounds(&chain.blocks);
    let torn = &bytes[..bounds[4] + 10];
    write_raw(dir.path(), &chain.genesis, torn);
    let faults = Arc::new(Faults::new());
    faults.arm(FileKind::Segment, Op::Truncate, Fault::Io);
    let err = open_at(dir.path(), &chain.genesis, 0, &options(&faults)).expect_err("refused");
    assert_eq!(err.code(), "log_io", "{err}");
    assert!(err.to_string().contains("truncate"), "{err}");
    let (_, report, seen) =
        open_at(dir.path(), &chain.genesis, 0, &small(SMALL, 2000)).expect("opens");
    assert_eq!(seen, chain.blocks[..2]);
    assert!(report.truncated_bytes > 0);
}

#[test]
fn a_failed_read_is_an_error_naming_the_file_never_a_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let faults = Arc::new(Faults::new());
    let mut chain = Chain::new();
    let (mut log, _, _) =
        open_at(dir.path(), &chain.genesis, 0, &options(&faults)).expect("creates");
    log.append(&chain.extend(30, 1)).expect("appends");
    assert!(log.stats().segments_sealed >= 1);
    let reader = log.reader();
    for (kind, height) in [(FileKind::Sealed, 2), (FileKind::Segment, 30)] {
        faults.arm(kind, Op::Read, Fault::Io);
        let err = reader.block(BlockHeight(height)).expect_err("fails");
        assert_eq!(err.code(), "log_io", "{err}");
        assert!(err.to_string().contains(".log"), "{err}");
        let block = reader
            .block(BlockHeight(height))
            .expect("reads once the fault is spent");
        assert_eq!(
            block.as_ref(),
            chain
                .blocks
                .get(usize::try_from(height - 1).expect("small"))
        );
    }
    // At open: the scan's reads go through the same door.
    drop(log);
    faults.arm(FileKind::Segment, Op::Read, Fault::Io);
    let err = open_at(dir.path(), &chain.genesis, 0, &options(&faults)).expect_err("fails");
    assert_eq!(err.code(), "log_io", "{err}");
}
