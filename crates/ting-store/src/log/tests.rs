//! Tests of the file log: round trips, readers, refused appends, foreign files, group
//! splitting and numbering, and property tests against a `Vec<Block>` model. Recovery
//! from torn, flipped and forged bytes, case by case, is in `tests/recovery.rs`;
//! segments, the manifest and recovery above a snapshot in `tests/segments.rs`; injected
//! I/O faults in `tests/faults.rs`, and a real full disk in `tests/full_disk.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use ting_core::limits::WRITE_GROUP_BYTES_MAX;
use ting_core::{Block, BlockHeight, Genesis, Hash32, Keypair};

use super::format::{parse_record_header, push_record, segment_header, Grouping};
use super::*;
use crate::testkit::Chain;

mod faults;
mod full_disk;
mod recovery;
mod segments;

const BIG: usize = WRITE_GROUP_BYTES_MAX;

/// Opens the log in `dir`, grouping appends by at most `group_bytes`, collecting visits.
fn open_in(
    dir: &Path,
    genesis: &Genesis,
    group_bytes: usize,
) -> Result<(FileLog, RecoveryReport, Vec<Block>), LogError> {
    let mut seen = Vec::new();
    let mut visit = |b: &Block| {
        seen.push(b.clone());
        Ok(())
    };
    let (log, report) = FileLog::open_with(dir, genesis, &mut visit, group_bytes, BlockHeight(0))?;
    Ok((log, report, seen))
}

/// One record of a log file, as its framing says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Framed {
    start: usize,
    end: usize,
    group: u64,
    last: bool,
}

/// The framing of every record of a log file whose records are all whole.
fn framing(bytes: &[u8]) -> Vec<Framed> {
    let mut records = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while at < bytes.len() {
        let mut header = [0u8; RECORD_HEADER_BYTES];
        header.copy_from_slice(&bytes[at..at + RECORD_HEADER_BYTES]);
        let remaining = (bytes.len() - at) as u64;
        let parsed = parse_record_header(&header, remaining).expect("a whole record");
        let end = at + usize::try_from(parsed.record_len()).expect("small");
        let Grouping { group, last } = parsed.grouping;
        records.push(Framed {
            start: at,
            end,
            group,
            last,
        });
        at = end;
    }
    records
}

/// The group numbers of a log file's records, and the records that end their group.
fn groups_of(bytes: &[u8]) -> Vec<(u64, bool)> {
    framing(bytes).iter().map(|r| (r.group, r.last)).collect()
}

/// The bytes of a log file holding `blocks` (checked or not), framed as the writer
/// frames them into write groups of `sizes` blocks each.
fn raw_log(genesis: &Genesis, blocks: &[Block], sizes: &[usize]) -> Vec<u8> {
    assert_eq!(
        sizes.iter().sum::<usize>(),
        blocks.len(),
        "sizes cover the blocks"
    );
    let mut bytes = segment_header(&genesis.hash(), BlockHeight(1)).to_vec();
    let mut blocks = blocks.iter();
    for (number, &size) in (1u64..).zip(sizes) {
        for i in 0..size {
            let block = blocks.next().expect("sized");
            let grouping = Grouping {
                group: number,
                last: i + 1 == size,
            };
            push_record(&mut bytes, &block.encode(), grouping);
        }
    }
    bytes
}

/// Where each block's record starts in a log holding `blocks`, and where the last ends.
fn record_bounds(blocks: &[Block]) -> Vec<usize> {
    let mut at = SEGMENT_HEADER_BYTES;
    let mut bounds = vec![at];
    for block in blocks {
        at += RECORD_HEADER_BYTES + block.encode().len();
        bounds.push(at);
    }
    bounds
}

/// The first segment of the log in `dir`: the whole log while nothing is sealed.
fn first_segment(dir: &Path) -> PathBuf {
    dir.join(segment_file_name(BlockHeight(1)))
}

fn file_len(dir: &Path) -> u64 {
    fs::metadata(first_segment(dir)).expect("stat").len()
}

fn read_log(dir: &Path) -> Vec<u8> {
    fs::read(first_segment(dir)).expect("reads the log")
}

/// Makes `dir` a log of one open segment holding `bytes` (a segment file's bytes).
fn write_raw(dir: &Path, genesis: &Genesis, bytes: &[u8]) {
    fs::write(first_segment(dir), bytes).expect("writes the segment");
    let text = manifest::encode(&genesis.hash(), &[]);
    fs::write(dir.join(MANIFEST_FILE_NAME), text).expect("writes the manifest");
}

/// Asserts that the log in `dir` opens cleanly and holds exactly `blocks`.
fn assert_holds(dir: &Path, genesis: &Genesis, blocks: &[Block]) {
    let (log, report, seen) = open_in(dir, genesis, BIG).expect("opens");
    assert_eq!(seen, blocks);
    assert_eq!(report.truncated_bytes, 0);
    let reader = log.reader();
    assert_eq!(reader.height().0, blocks.len() as u64);
    for block in blocks {
        let h = block.header.height;
        assert_eq!(reader.block(h).expect("reads").as_ref(), Some(block));
        assert_eq!(
            reader.header(h).expect("reads").as_ref(),
            Some(&block.header)
        );
    }
    let tip = blocks.last().map(|b| (b.header.height, b.header.hash()));
    assert_eq!(log.tip(), tip.unwrap_or((BlockHeight(0), genesis.hash())));
}

/// A log of `chain` blocks of one transaction each, written through `FileLog` by one
/// `append` per entry of `sizes`, so one write group per entry; with the file's bytes.
fn written_log(sizes: &[usize]) -> (tempfile::TempDir, Chain, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("creates");
    for &size in sizes {
        log.append(&chain.extend(size, 1)).expect("appends");
    }
    let bytes = read_log(dir.path());
    (dir, chain, bytes)
}

#[test]
fn appended_blocks_read_back_after_reopen_with_the_same_tip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, report, seen) = open_in(dir.path(), &chain.genesis, BIG).expect("creates");
    assert_eq!((report.blocks, seen.len()), (0, 0));
    assert_eq!(log.tip(), (BlockHeight(0), chain.genesis.hash()));
    log.append(&chain.extend(1, 3)).expect("appends one");
    log.append(&chain.extend(4, 2)).expect("appends four");
    log.append(&[]).expect("appends nothing");
    assert_eq!(log.tip(), chain.tip());
    assert_eq!(log.stats().groups_synced, 2);
    drop(log);
    assert_holds(dir.path(), &chain.genesis, &chain.blocks);
}

#[test]
fn a_reader_sees_durable_blocks_only_and_all_of_them_while_appends_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("creates");
    let reader = log.reader();
    assert_eq!(reader.height(), BlockHeight(0));
    assert_eq!(reader.block(BlockHeight(1)).expect("reads"), None);
    let blocks = chain.extend(20, 1);
    let watcher = {
        let reader = reader.clone();
        let blocks = blocks.clone();
        std::thread::spawn(move || {
            for _ in 0..10_000 {
                let height = reader.height();
                if height.0 > 0 {
                    let got = reader.block(height).expect("reads");
                    assert_eq!(
                        got.as_ref(),
                        blocks.get(usize::try_from(height.0 - 1).expect("small"))
                    );
                }
                if height.0 == 20 {
                    return;
                }
            }
        })
    };
    for block in &blocks {
        log.append(std::slice::from_ref(block)).expect("appends");
    }
    watcher.join().expect("the watcher saw consistent blocks");
    let stray = chain.next_signed_by(1, &Keypair::from_seed([66; 32]));
    assert!(log.append(&[stray]).is_err());
    assert_eq!(reader.height(), BlockHeight(20));
    assert_eq!(reader.block(BlockHeight(21)).expect("reads"), None);
}

/// Appends the chain's first two blocks, then `spoil`-ed third ones; expects `code` and
/// nothing written.
fn check_refused(spoil: impl FnOnce(&mut Chain) -> Vec<Block>, code: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("creates");
    log.append(&chain.extend(2, 1)).expect("appends");
    let (len, tip) = (file_len(dir.path()), log.tip());
    let bad = spoil(&mut chain);
    let got = log.append(&bad).map_err(|e| e.code());
    assert_eq!(got, Err(code));
    assert_eq!(
        (file_len(dir.path()), log.tip()),
        (len, tip),
        "nothing written"
    );
    log.append(&chain.extend(1, 1)[..])
        .expect("a good block still appends");
}

#[test]
fn append_refuses_a_height_gap_a_wrong_prev_hash_and_a_foreign_sequencer() {
    check_refused(|c| vec![c.blocks[1].clone()], "height_gap");
    check_refused(
        |c| {
            let mut b = c.next_signed_by(1, &Keypair::from_seed([2; 32]));
            b.header.prev_hash = Hash32::ZERO;
            b.header.sign(&Keypair::from_seed([2; 32]));
            vec![b]
        },
        "prev_hash_mismatch",
    );
    check_refused(
        |c| vec![c.next_signed_by(1, &Keypair::from_seed([66; 32]))],
        "unknown_sequencer",
    );
    check_refused(
        |c| {
            let good = c.next_signed_by(1, &Keypair::from_seed([2; 32]));
            let mut gap = good.clone();
            gap.header.height = BlockHeight(5);
            vec![good, gap]
        },
        "height_gap",
    );
}

#[test]
fn a_record_damaged_after_open_is_reported_by_the_reader_not_returned() {
    let (dir, chain, bytes) = written_log(&[3]);
    let (log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("opens");
    let second = record_bounds(&chain.blocks)[1];
    let mut damaged = bytes.clone();
    damaged[second + RECORD_HEADER_BYTES + 300] ^= 1;
    fs::write(first_segment(dir.path()), damaged).expect("damages in place");
    let reader = log.reader();
    let err = reader.block(BlockHeight(2)).expect_err("refused");
    assert_eq!(err.code(), "log_corrupt_read");
    assert!(
        err.to_string().contains(&format!("offset {second}")),
        "{err}"
    );
    let third = reader.block(BlockHeight(3)).expect("reads");
    assert_eq!(third.as_ref(), chain.blocks.get(2));
}

#[test]
fn a_log_of_another_genesis_is_refused_naming_both_hashes() {
    let (dir, chain, _) = written_log(&[2]);
    let other = Chain::with_name("another network").genesis;
    let err = open_in(dir.path(), &other, BIG).expect_err("refused");
    assert_eq!(err.code(), "wrong_genesis");
    let message = err.to_string();
    assert!(
        message.contains(&chain.genesis.hash().to_hex()),
        "{message}"
    );
    assert!(message.contains(&other.hash().to_hex()), "{message}");
}

#[test]
fn a_single_file_log_of_an_earlier_format_is_refused_and_left_alone() {
    let genesis = Chain::new().genesis;
    let with_version = |v: u32| {
        let mut header = segment_header(&genesis.hash(), BlockHeight(1))[..44].to_vec();
        header[8..12].copy_from_slice(&v.to_le_bytes());
        header
    };
    // Formats 1 to 3 hold blocks of earlier wire formats; format 4 is the single file of
    // wire version 2: refused whole, never scanned, with what to do.
    let versions = [1, 2, 3, 4].map(with_version);
    let cases: [(&[u8], &str, &str); 6] = [
        (b"short", "not_a_block_log", "TINGLOG1"),
        (&[0u8; 100], "not_a_block_log", "TINGLOG1"),
        (&versions[0], "wire_version_1_data", "new genesis"),
        (&versions[1], "wire_version_1_data", "new genesis"),
        (&versions[2], "wire_version_1_data", "new genesis"),
        (
            &versions[3],
            "unsupported_log_version",
            "no migration before 1.0",
        ),
    ];
    for (bytes, code, says) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let legacy = dir.path().join(LEGACY_FILE_NAME);
        fs::write(&legacy, bytes).expect("writes");
        let err = open_in(dir.path(), &genesis, BIG).expect_err("refused");
        assert_eq!(err.code(), code, "{err}");
        assert!(err.to_string().contains(says), "says what to do: {err}");
        assert_eq!(
            fs::read(&legacy).expect("reads"),
            bytes,
            "a refused file is left alone"
        );
        let names: Vec<_> = fs::read_dir(dir.path()).expect("lists").collect();
        assert_eq!(names.len(), 1, "nothing was created beside it");
    }
}

#[test]
fn a_segment_that_is_not_one_or_of_another_format_version_is_refused() {
    let genesis = Chain::new().genesis;
    let with_version = |v: u32| {
        let mut header = segment_header(&genesis.hash(), BlockHeight(1));
        header[8..12].copy_from_slice(&v.to_le_bytes());
        header.to_vec()
    };
    let versions = [3, 6].map(with_version);
    let mut late = segment_header(&genesis.hash(), BlockHeight(2)).to_vec();
    late.extend_from_slice(&[0; 10]);
    let cases: [(&[u8], &str); 5] = [
        (b"short", "not_a_block_log"),
        (&[0u8; 100], "not_a_block_log"),
        (&versions[0], "wire_version_1_data"),
        (&versions[1], "unsupported_log_version"),
        (&late, "log_segment_mismatch"),
    ];
    for (bytes, code) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_raw(dir.path(), &genesis, bytes);
        let err = open_in(dir.path(), &genesis, BIG).expect_err("refused");
        assert_eq!(err.code(), code, "{err}");
        assert_eq!(read_log(dir.path()), bytes, "a refused file is left alone");
    }
}

#[test]
fn a_visit_error_aborts_the_open_with_its_message() {
    let (dir, chain, _) = written_log(&[3]);
    let mut visit = |b: &Block| match b.header.height.0 {
        2 => Err("state does not apply".to_string()),
        _ => Ok(()),
    };
    let err = FileLog::open(dir.path(), &chain.genesis, &mut visit).expect_err("aborts");
    assert_eq!(err.code(), "replay_failed");
    assert!(err.to_string().contains("state does not apply"));
}

#[test]
fn a_call_bigger_than_a_group_is_split_into_fsynced_groups_numbered_on_from_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("creates");
    log.append(&chain.extend(1, 1)).expect("appends one group");
    drop(log);
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, 1000).expect("reopens");
    log.append(&chain.extend(9, 1)).expect("appends");
    let stats = log.stats();
    assert_eq!(stats.blocks_appended, 9);
    assert!(stats.groups_synced >= 4, "{stats:?}");
    drop(log);
    let records = framing(&read_log(dir.path()));
    let mut expected_group = 1;
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.group, expected_group, "record {i}");
        if record.last {
            expected_group += 1;
        }
    }
    assert!(
        records.last().is_some_and(|r| r.last),
        "the last group is closed"
    );
    assert_eq!(expected_group - 1, 1 + stats.groups_synced);
    let group_start = |g: u64| records.iter().find(|r| r.group == g).map(|r| r.start);
    for g in 2..expected_group {
        let end = group_start(g + 1).unwrap_or(records.last().expect("records").end);
        let start = group_start(g).expect("a record");
        assert!(end - start <= 1000, "group {g} spans {} bytes", end - start);
    }
    assert_holds(dir.path(), &chain.genesis, &chain.blocks);
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Step {
    Append(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Step> {
    prop_oneof![3 => (0usize..4).prop_map(Step::Append), 1 => Just(Step::Reopen)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn appends_and_reopens_keep_the_log_equal_to_a_vec_of_blocks(
        ops in proptest::collection::vec(op(), 1..12),
        group_bytes in 300usize..3000,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut chain = Chain::new();
        let all = chain.extend(40, 1);
        let mut model: Vec<Block> = Vec::new();
        let (mut log, _, _) = open_in(dir.path(), &chain.genesis, group_bytes).expect("creates");
        for op in ops {
            match op {
                Step::Append(n) => {
                    let next = &all[model.len()..(model.len() + n).min(all.len())];
                    log.append(next).expect("appends");
                    model.extend_from_slice(next);
                }
                Step::Reopen => {
                    drop(log);
                    let (reopened, report, seen) =
                        open_in(dir.path(), &chain.genesis, group_bytes).expect("reopens");
                    prop_assert_eq!(&seen, &model);
                    prop_assert_eq!(report.truncated_bytes, 0);
                    log = reopened;
                }
            }
            let reader = log.reader();
            prop_assert_eq!(reader.height().0, model.len() as u64);
            let last = model.last().map(|b| (b.header.height, b.header.hash()));
            prop_assert_eq!(log.tip(), last.unwrap_or((BlockHeight(0), chain.genesis.hash())));
            if let Some(b) = model.last() {
                let got = reader.block(b.header.height).expect("reads");
                prop_assert_eq!(got.as_ref(), Some(b));
            }
        }
    }
}
