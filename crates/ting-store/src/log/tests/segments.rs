//! Segments and the manifest: sealing at group boundaries, reads across segments through
//! sparse indexes, recovery that reads only what lies above the snapshot, damage below it
//! found when read, missing and mismatching segments refused, archived segments, and what
//! an interrupted seal leaves.

use ting_core::limits::LOG_SEALED_SEGMENTS_OPEN_MAX;

use super::*;

/// The smallest segments allowed: a block of one transaction is a few hundred bytes, so
/// a segment holds about ten.
const SMALL: u64 = ting_core::limits::LOG_SEGMENT_BYTES_MIN;

pub(super) fn small(segment_bytes: u64, group_bytes: usize) -> LogOptions {
    LogOptions {
        segment_bytes,
        group_bytes_max: group_bytes,
        ..LogOptions::default()
    }
}

/// Opens the log in `dir` above `acknowledged` with `options`, collecting visits.
pub(super) fn open_at(
    dir: &Path,
    genesis: &Genesis,
    acknowledged: u64,
    options: &LogOptions,
) -> Result<(FileLog, RecoveryReport, Vec<Block>), LogError> {
    let mut seen = Vec::new();
    let mut visit = |b: &Block| {
        seen.push(b.clone());
        Ok(())
    };
    let ack = BlockHeight(acknowledged);
    let (log, report) = FileLog::open_above_with(dir, genesis, ack, options, &mut visit)?;
    Ok((log, report, seen))
}

/// A log of `appends` appends of `per_append` one-transaction blocks each, in segments of
/// `SMALL` bytes, closed.
fn sealed_log(appends: usize, per_append: usize) -> (tempfile::TempDir, Chain) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) =
        open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect("creates");
    for _ in 0..appends {
        log.append(&chain.extend(per_append, 1)).expect("appends");
    }
    (dir, chain)
}

/// A copy of the log directory `from`, to spoil without writing the log again.
fn copy_of(from: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("tempdir");
    for entry in fs::read_dir(from).expect("lists") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copies");
    }
    copy
}

fn segments(dir: &Path) -> Vec<SegmentInfo> {
    manifest_segments(dir).expect("reads the manifest")
}

/// Asserts that `reader` reads back every block of `chain` (and every header), in order
/// and then backwards (each read from a fresh position in its segment).
fn assert_reads(reader: &LogReader, chain: &Chain) {
    for block in chain.blocks.iter().chain(chain.blocks.iter().rev()) {
        let h = block.header.height;
        assert_eq!(
            reader.block(h).expect("reads").as_ref(),
            Some(block),
            "block {h}"
        );
        let header = reader.header(h).expect("reads");
        assert_eq!(header.as_ref(), Some(&block.header), "header {h}");
    }
    let above = BlockHeight(chain.blocks.len() as u64 + 1);
    assert_eq!(reader.block(above).expect("reads"), None);
}

#[test]
fn segments_are_sealed_at_group_boundaries_and_listed_in_the_manifest_as_they_are() {
    let (dir, chain) = sealed_log(12, 5);
    let listed = segments(dir.path());
    assert!(listed.len() >= 4, "{} segments sealed", listed.len());
    let mut next = 1;
    for info in &listed {
        assert_eq!(info.first.0, next, "segments follow each other");
        let bytes = fs::read(dir.path().join(info.file_name())).expect("reads the segment");
        assert_eq!(bytes.len() as u64, info.bytes);
        assert!(info.bytes >= SMALL, "sealed only once past its size");
        assert_eq!(crc32c::crc32c(&bytes), info.crc32c, "{}", info.file_name());
        let last = &chain.blocks[usize::try_from(info.last.0 - 1).expect("small")];
        assert_eq!(info.last_hash, last.header.hash());
        assert_eq!(
            &bytes[..SEGMENT_HEADER_BYTES],
            segment_header(&chain.genesis.hash(), info.first)
        );
        let records = framing(&bytes);
        assert_eq!(records.len() as u64, info.last.0 - info.first.0 + 1);
        assert_eq!(
            records.last().map(|r| r.start as u64),
            Some(info.last_offset)
        );
        assert_eq!(
            records.first().map(|r| r.group),
            Some(1),
            "groups are numbered per segment"
        );
        assert!(
            records.last().is_some_and(|r| r.last),
            "sealed at a group boundary"
        );
        let index = dir.path().join(format!("{:020}.idx", info.first.0));
        assert!(index.exists(), "{} has its index", info.file_name());
        next = info.last.0 + 1;
    }
    let (log, report, seen) =
        open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect("reopens");
    assert_eq!(seen, chain.blocks);
    assert_eq!(report.segments_sealed, listed.len() as u64);
    assert_eq!(report.segments_read, listed.len() as u64 + 1);
    assert_eq!(log.tip(), chain.tip());
    assert_reads(&log.reader(), &chain);
}

#[test]
fn memory_holds_offsets_of_the_open_segment_only_and_a_bounded_number_of_sealed_ones() {
    let (dir, chain) = sealed_log(12, 5);
    let (mut log, _, _) =
        open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect("reopens");
    let open_blocks = |log: &FileLog| log.shared.read().open.offsets.len();
    assert!(open_blocks(&log) < 20, "{} offsets held", open_blocks(&log));
    let mut chain = chain;
    for _ in 0..10 {
        log.append(&chain.extend(5, 1)).expect("appends");
        assert!(open_blocks(&log) < 20, "{} offsets held", open_blocks(&log));
    }
    let sealed = log.sealed_segments().len();
    assert!(
        sealed > LOG_SEALED_SEGMENTS_OPEN_MAX,
        "{sealed} sealed segments"
    );
    assert_reads(&log.reader(), &chain);
    assert_eq!(log.shared.sealed_open(), LOG_SEALED_SEGMENTS_OPEN_MAX);
}

/// Overwrites every byte of the file at `path` from `from` to `to` with a pattern.
fn spoil(path: &Path, from: u64, to: u64) {
    let mut bytes = fs::read(path).expect("reads");
    for (i, b) in bytes[usize::try_from(from).expect("small")..usize::try_from(to).expect("small")]
        .iter_mut()
        .enumerate()
    {
        *b = u8::try_from(i % 251).expect("small") ^ 0x5a;
    }
    fs::write(path, bytes).expect("writes");
}

#[test]
fn recovery_above_a_snapshot_reads_no_sealed_segment_wholly_below_it() {
    let (dir, chain) = sealed_log(12, 5);
    let listed = segments(dir.path());
    let tip = chain.blocks.len() as u64;
    let k = 2;
    // In the middle of segment k, at its last block (read alone), at the tip, at 0.
    let mid = (listed[k].first.0 + listed[k].last.0) / 2;
    for acknowledged in [mid, listed[k].last.0, tip, 0] {
        let copy = copy_of(dir.path());
        // Every sealed segment wholly at or below the snapshot is spoiled (but for the
        // record of the block at its height): the manifest vouches for them.
        let below: Vec<&SegmentInfo> = listed.iter().filter(|s| s.last.0 <= acknowledged).collect();
        for info in &below {
            spoil(&copy.path().join(info.file_name()), 0, info.last_offset);
        }
        let (log, report, seen) = open_at(
            copy.path(),
            &chain.genesis,
            acknowledged,
            &small(SMALL, BIG),
        )
        .expect("opens");
        let from = usize::try_from(acknowledged.max(1) - 1).expect("small");
        assert_eq!(seen, chain.blocks[from..], "acknowledged {acknowledged}");
        assert_eq!(
            report.segments_read,
            (listed.len() - below.len()) as u64 + 1
        );
        assert_eq!(
            report.skipped_bytes,
            below.iter().map(|s| s.bytes).sum::<u64>()
        );
        assert_eq!(log.tip(), chain.tip());
        // Damage below the snapshot is found when a block there is read.
        let reader = log.reader();
        for info in &below {
            let err = reader.block(info.first).expect_err("spoiled");
            assert_eq!(err.code(), "log_corrupt_read", "{err}");
        }
        let above = usize::try_from(acknowledged).expect("small");
        for block in &chain.blocks[above..] {
            let h = block.header.height;
            assert_eq!(reader.block(h).expect("reads").as_ref(), Some(block));
        }
    }
}

#[test]
fn damage_in_a_sealed_segment_is_refused_at_open_above_the_snapshot_and_found_on_read_below() {
    let (dir, chain) = sealed_log(12, 5);
    let listed = segments(dir.path());
    let victim = &listed[1];
    let path = dir.path().join(victim.file_name());
    let mut bytes = fs::read(&path).expect("reads");
    let second = framing(&bytes)[1];
    bytes[second.start + RECORD_HEADER_BYTES + 100] ^= 0x01;
    fs::write(&path, &bytes).expect("damages");
    let damaged_height = BlockHeight(victim.first.0 + 1);
    // Above the damage: found only when the block is read, as a corrupt read.
    let above = listed[3].first.0;
    let (log, _, _) =
        open_at(dir.path(), &chain.genesis, above, &small(SMALL, BIG)).expect("opens");
    let err = log.reader().block(damaged_height).expect_err("refused");
    assert_eq!(err.code(), "log_corrupt_read", "{err}");
    assert!(err.to_string().contains(&victim.file_name()), "{err}");
    // The flipped byte lies in the block's header (252 bytes): reading the header alone
    // finds it too.
    let err = log.reader().header(damaged_height).expect_err("refused");
    assert_eq!(err.code(), "log_corrupt_read", "{err}");
    let next = log
        .reader()
        .block(BlockHeight(damaged_height.0 + 1))
        .expect("reads");
    assert_eq!(
        next.as_ref(),
        chain
            .blocks
            .get(usize::try_from(damaged_height.0).expect("small"))
    );
    drop(log);
    // Below it, or without a snapshot: the sealed segment is read, and refused whole.
    for acknowledged in [0, victim.first.0] {
        let err = open_at(dir.path(), &chain.genesis, acknowledged, &small(SMALL, BIG))
            .expect_err("refused");
        assert_eq!(err.code(), "log_damaged", "{err}");
        assert!(err.to_string().contains("sealed"), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("offset {}", second.start)),
            "{err}"
        );
    }
    assert_eq!(
        fs::read(&path).expect("reads"),
        bytes,
        "a refused segment is left alone"
    );
}

/// Rewrites the manifest of `dir` with `change` applied to its list.
fn rewrite_manifest(dir: &Path, genesis: &Genesis, change: impl FnOnce(&mut Vec<SegmentInfo>)) {
    let mut listed = segments(dir);
    change(&mut listed);
    let text = manifest::encode(&genesis.hash(), &listed);
    fs::write(dir.join(MANIFEST_FILE_NAME), text).expect("rewrites the manifest");
}

#[test]
fn a_missing_or_mismatching_segment_or_manifest_stops_the_open_with_a_clear_error() {
    let genesis = Chain::new().genesis;
    let (written, chain) = sealed_log(12, 5);
    let check =
        |spoil: &dyn Fn(&Path, &[SegmentInfo]), acknowledged: u64, code: &str, says: &str| {
            let dir = copy_of(written.path());
            let listed = segments(dir.path());
            spoil(dir.path(), &listed);
            let err = open_at(dir.path(), &chain.genesis, acknowledged, &small(SMALL, BIG))
                .expect_err("refused");
            assert_eq!(err.code(), code, "{err}");
            assert!(err.to_string().contains(says), "{err}");
        };
    let remove = |dir: &Path, name: String| fs::remove_file(dir.join(name)).expect("removes");
    check(
        &|d, l| remove(d, l[2].file_name()),
        0,
        "log_segment_missing",
        "00000000000000000",
    );
    check(
        &|d, l| remove(d, l[2].file_name()),
        5,
        "log_segment_missing",
        "restore",
    );
    let open_first = |l: &[SegmentInfo]| BlockHeight(l.last().expect("sealed").last.0 + 1);
    check(
        &|d, l| remove(d, segment_file_name(open_first(l))),
        0,
        "log_segment_missing",
        "open segment",
    );
    let truncate = |d: &Path, l: &[SegmentInfo]| {
        let file = fs::OpenOptions::new()
            .write(true)
            .open(d.join(l[0].file_name()))
            .expect("opens");
        file.set_len(l[0].bytes - 1).expect("truncates");
    };
    // A length that differs is refused even below the snapshot: a `stat` shows it.
    check(&truncate, 1000, "log_segment_mismatch", "bytes long");
    let other_hash = |d: &Path, _: &[SegmentInfo]| {
        rewrite_manifest(d, &genesis, |l| l[3].last_hash = Hash32([9; 32]));
    };
    check(&other_hash, 0, "log_segment_mismatch", "the manifest says");
    let other_crc =
        |d: &Path, _: &[SegmentInfo]| rewrite_manifest(d, &genesis, |l| l[3].crc32c ^= 1);
    check(&other_crc, 0, "log_segment_mismatch", "crc32c");
    let flip = |d: &Path, _: &[SegmentInfo]| {
        let path = d.join(MANIFEST_FILE_NAME);
        let mut text = fs::read(&path).expect("reads");
        let at = text.len() / 2;
        text[at] ^= 0x01;
        fs::write(&path, text).expect("writes");
    };
    check(&flip, 0, "log_manifest_damaged", "checksum");
    check(
        &|d, _| remove(d, MANIFEST_FILE_NAME.into()),
        0,
        "log_manifest_damaged",
        "missing",
    );
}

#[test]
fn sealed_segments_below_the_snapshot_moved_away_read_as_archived_and_come_back_when_restored() {
    let (dir, chain) = sealed_log(12, 5);
    let listed = segments(dir.path());
    let archive = tempfile::tempdir().expect("tempdir");
    let acknowledged = listed[3].first.0 + 1;
    for info in &listed[..3] {
        let name = info.file_name();
        fs::rename(dir.path().join(&name), archive.path().join(&name)).expect("moves");
    }
    let (log, report, seen) =
        open_at(dir.path(), &chain.genesis, acknowledged, &small(SMALL, BIG)).expect("opens");
    assert_eq!(report.segments_archived, 3);
    assert_eq!(
        seen.first().map(|b| b.header.height),
        Some(BlockHeight(acknowledged))
    );
    let reader = log.reader();
    for h in [1, listed[2].last.0] {
        let err = reader.block(BlockHeight(h)).expect_err("archived");
        assert_eq!(err.code(), "log_archived", "{err}");
        assert!(
            err.to_string().contains("restore it from the archive"),
            "{err}"
        );
        assert_eq!(
            reader.header(BlockHeight(h)).expect_err("archived").code(),
            "log_archived"
        );
    }
    let first_kept = usize::try_from(listed[3].first.0 - 1).expect("small");
    for block in &chain.blocks[first_kept..] {
        assert_eq!(
            reader.block(block.header.height).expect("reads").as_ref(),
            Some(block)
        );
    }
    drop(log);
    // Without a snapshot that covers them, they are needed: a clear start error.
    let err = open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect_err("refused");
    assert_eq!(err.code(), "log_segment_missing", "{err}");
    for info in &listed[..3] {
        let name = info.file_name();
        fs::rename(archive.path().join(&name), dir.path().join(&name)).expect("restores");
    }
    let (log, report, _) =
        open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect("opens");
    assert_eq!(report.segments_archived, 0);
    assert_reads(&log.reader(), &chain);
}

#[test]
fn a_lost_or_damaged_segment_index_is_rebuilt_from_the_segment() {
    let (dir, chain) = sealed_log(12, 5);
    let listed = segments(dir.path());
    for (i, info) in listed.iter().enumerate() {
        let index = dir.path().join(format!("{:020}.idx", info.first.0));
        match i % 3 {
            0 => fs::remove_file(&index).expect("removes"),
            1 => {
                let mut bytes = fs::read(&index).expect("reads");
                let last = bytes.len() - 5;
                bytes[last] ^= 0x01;
                fs::write(&index, bytes).expect("damages");
            }
            _ => fs::write(&index, b"").expect("empties"),
        }
    }
    let (log, _, _) = open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect("opens");
    assert_reads(&log.reader(), &chain);
}

#[test]
fn what_an_interrupted_seal_leaves_is_cleared_and_a_segment_of_blocks_past_the_manifest_refused() {
    let (dir, mut chain) = sealed_log(12, 5);
    let listed = segments(dir.path());
    let open_first = listed.last().expect("sealed").last.0 + 1;
    // An empty next segment (its manifest never written) and half-written files.
    let stray = dir
        .path()
        .join(segment_file_name(BlockHeight(open_first + 3)));
    fs::write(
        &stray,
        segment_header(&chain.genesis.hash(), BlockHeight(open_first + 3)),
    )
    .expect("writes");
    for name in [
        "MANIFEST.tmp",
        "00000000000000000099.log.tmp",
        "00000000000000000001.idx.tmp",
    ] {
        fs::write(dir.path().join(name), b"half").expect("writes");
    }
    let (mut log, _, _) =
        open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect("opens");
    assert!(!stray.exists(), "the empty stray segment is gone");
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("lists")
        .map(|e| e.expect("entry").file_name().into_string().expect("UTF-8"))
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    log.append(&chain.extend(20, 1)).expect("appends on");
    assert_reads(&log.reader(), &chain);
    drop(log);
    // A later segment holding blocks while the manifest lists none before it.
    let listed = segments(dir.path());
    let open_first = BlockHeight(listed.last().expect("sealed").last.0 + 1);
    rewrite_manifest(dir.path(), &chain.genesis, |l| {
        l.pop();
    });
    let err = open_at(dir.path(), &chain.genesis, 0, &small(SMALL, BIG)).expect_err("refused");
    assert_eq!(err.code(), "log_segment_mismatch", "{err}");
    assert!(
        err.to_string().contains(&segment_file_name(open_first)),
        "{err}"
    );
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    Append(usize),
    /// Reopen above this fraction (of 100) of the log's height.
    Reopen(u64),
}

fn op() -> impl Strategy<Value = Step> {
    prop_oneof![3 => (0usize..12).prop_map(Step::Append), 1 => (0u64..=100).prop_map(Step::Reopen)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn appends_seals_and_reopens_above_any_height_keep_the_log_equal_to_a_vec_of_blocks(
        ops in proptest::collection::vec(op(), 1..14),
        segment_bytes in SMALL..3 * SMALL,
        group_bytes in 300usize..3000,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut chain = Chain::new();
        let all = chain.extend(90, 1);
        let options = small(segment_bytes, group_bytes);
        let mut model: Vec<Block> = Vec::new();
        let (mut log, _, _) = open_at(dir.path(), &chain.genesis, 0, &options).expect("creates");
        for op in ops {
            match op {
                Step::Append(n) => {
                    let next = &all[model.len()..(model.len() + n).min(all.len())];
                    log.append(next).expect("appends");
                    model.extend_from_slice(next);
                }
                Step::Reopen(percent) => {
                    drop(log);
                    let acknowledged = model.len() as u64 * percent / 100;
                    let (reopened, report, seen) =
                        open_at(dir.path(), &chain.genesis, acknowledged, &options).expect("reopens");
                    let from = usize::try_from(acknowledged.max(1) - 1).expect("small");
                    prop_assert_eq!(&seen[..], &model[from.min(model.len())..]);
                    prop_assert_eq!(report.truncated_bytes, 0);
                    log = reopened;
                }
            }
            let reader = log.reader();
            prop_assert_eq!(reader.height().0, model.len() as u64);
            for b in model.iter().rev().step_by(7) {
                let got = reader.block(b.header.height).expect("reads");
                prop_assert_eq!(got.as_ref(), Some(b));
            }
        }
    }
}
