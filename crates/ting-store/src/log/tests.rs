//! Tests of the file log: round trips, readers, refused appends, and recovery from torn,
//! flipped and foreign bytes; plus a property test against a `Vec<Block>` model.

use std::path::Path;

use proptest::prelude::*;
use ting_core::Keypair;

use super::format::{file_header, push_record};
use super::*;
use crate::testkit::Chain;

const BIG: usize = WRITE_GROUP_BYTES_MAX;

/// Opens the log in `dir` with group size and torn window `window`, collecting visits.
fn open_in(
    dir: &Path,
    genesis: &Genesis,
    window: usize,
) -> Result<(FileLog, RecoveryReport, Vec<Block>), LogError> {
    let mut seen = Vec::new();
    let mut visit = |b: &Block| {
        seen.push(b.clone());
        Ok(())
    };
    let (log, report) = FileLog::open_with(dir, genesis, &mut visit, window, BlockHeight(0))?;
    Ok((log, report, seen))
}

/// Writes a log file holding exactly `blocks` (checked or not) and returns each record's offset.
fn write_raw(dir: &Path, genesis: &Genesis, blocks: &[Block]) -> Vec<usize> {
    let mut bytes = file_header(&genesis.hash()).to_vec();
    let mut offsets = Vec::new();
    for block in blocks {
        offsets.push(bytes.len());
        push_record(&mut bytes, &block.encode());
    }
    fs::write(dir.join(FILE_NAME), bytes).expect("writes the log");
    offsets
}

/// Where each block's record starts in a log holding `blocks`.
fn record_offsets(blocks: &[Block]) -> Vec<usize> {
    let mut at = FILE_HEADER_BYTES;
    blocks
        .iter()
        .map(|b| {
            let start = at;
            at += RECORD_HEADER_BYTES + b.encode().len();
            start
        })
        .collect()
}

fn file_len(dir: &Path) -> u64 {
    fs::metadata(dir.join(FILE_NAME)).expect("stat").len()
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

/// A log of `count` one-transaction blocks written through `FileLog`, with its file bytes.
fn written_log(count: usize) -> (tempfile::TempDir, Chain, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("creates");
    log.append(&chain.extend(count, 1)).expect("appends");
    let bytes = fs::read(dir.path().join(FILE_NAME)).expect("reads");
    (dir, chain, bytes)
}

// Two blocks only: every open re-verifies every signature, which is slow in debug builds.
#[test]
fn a_tail_torn_at_any_offset_of_the_last_record_is_cut_and_the_log_takes_appends_again() {
    let (_dir, chain, bytes) = written_log(2);
    let last_start = record_offsets(&chain.blocks)[1];
    for cut in last_start + 1..bytes.len() {
        for window in [BIG, 1] {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::write(dir.path().join(FILE_NAME), &bytes[..cut]).expect("writes");
            let (mut log, report, seen) =
                open_in(dir.path(), &chain.genesis, window).expect("recovers");
            assert_eq!(seen, chain.blocks[..1], "cut at {cut}");
            assert_eq!(report.last_height, BlockHeight(1));
            assert_eq!(report.truncated_bytes, (cut - last_start) as u64);
            let reason = report.truncated_reason.expect("a reason");
            assert!(reason.contains(&format!("offset {last_start}")), "{reason}");
            assert_eq!(file_len(dir.path()), last_start as u64);
            if window == BIG {
                log.append(&chain.blocks[1..]).expect("appends again");
                assert_eq!(log.tip(), chain.tip());
                assert_eq!(file_len(dir.path()), bytes.len() as u64);
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(FILE_NAME), &bytes[..bytes.len() - 1]).expect("writes");
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("recovers");
    log.append(&chain.blocks[1..]).expect("appends again");
    drop(log);
    assert_holds(dir.path(), &chain.genesis, &chain.blocks);
}

#[test]
fn a_flipped_byte_anywhere_in_the_last_record_is_cut_off() {
    let (_dir, chain, bytes) = written_log(2);
    let last_start = record_offsets(&chain.blocks)[1];
    for at in last_start..bytes.len() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        fs::write(dir.path().join(FILE_NAME), &damaged).expect("writes");
        let (_, report, seen) = open_in(dir.path(), &chain.genesis, 1).expect("recovers");
        assert_eq!(seen, chain.blocks[..1], "flip at {at}");
        assert_eq!(report.truncated_bytes, (bytes.len() - last_start) as u64);
        assert_eq!(file_len(dir.path()), last_start as u64);
    }
}

#[test]
fn a_damaged_block_that_a_snapshot_covers_is_refused_and_the_file_left_alone() {
    let (_dir, chain, bytes) = written_log(2);
    let last_start = record_offsets(&chain.blocks)[1];
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(FILE_NAME), &bytes[..bytes.len() - 3]).expect("writes");
    let mut visit = |_: &Block| Ok(());
    let refused = FileLog::open_above(dir.path(), &chain.genesis, BlockHeight(2), &mut visit);
    match refused {
        Err(e) => assert_eq!(e.code(), "log_damaged", "{e}"),
        Ok(_) => panic!("a log torn below the snapshot height must be refused"),
    }
    assert_eq!(
        file_len(dir.path()),
        (bytes.len() - 3) as u64,
        "nothing was cut"
    );
    let (_, report) = FileLog::open_above(dir.path(), &chain.genesis, BlockHeight(1), &mut visit)
        .expect("a tail above the snapshot is cut as usual");
    assert_eq!(report.last_height, BlockHeight(1));
    assert_eq!(file_len(dir.path()), last_start as u64);
}

/// Ten blocks, the second one damaged by `damage` (applied to the record's bytes or the
/// block), opened with torn window `window`: expects the log refused, or cut to one block.
fn check_damage_in_second_block(damage: Damaging, window: usize, refused: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let mut blocks = chain.extend(10, 1);
    if let Damaging::Block(spoil) = &damage {
        spoil(&mut blocks[1]);
    }
    let offsets = write_raw(dir.path(), &chain.genesis, &blocks);
    if let Damaging::Byte(at) = damage {
        let path = dir.path().join(FILE_NAME);
        let mut bytes = fs::read(&path).expect("reads");
        bytes[offsets[1] + at] ^= 0x01;
        fs::write(&path, bytes).expect("writes");
    }
    let len = file_len(dir.path());
    match open_in(dir.path(), &chain.genesis, window) {
        Err(e) if refused => {
            assert_eq!(e.code(), "log_damaged");
            let message = e.to_string();
            assert!(
                message.contains(&format!("offset {}", offsets[1])),
                "{message}"
            );
            assert!(message.contains("acknowledged") && message.contains("restore"));
            assert_eq!(file_len(dir.path()), len, "a refused log is left alone");
        }
        Ok((_, report, seen)) if !refused => {
            assert_eq!(seen, chain.blocks[..1]);
            assert_eq!(report.truncated_bytes, len - offsets[1] as u64);
        }
        Err(e) => panic!("expected a cut tail, got {e}"),
        Ok(_) => panic!("expected the damaged log to be refused"),
    }
}

enum Damaging {
    /// Flip a bit of the record at this offset from its start.
    Byte(usize),
    /// Change the block before writing a well-framed record of it.
    Block(fn(&mut Block)),
}

#[test]
fn damage_followed_by_more_than_a_group_of_valid_blocks_is_refused_not_cut() {
    let window = 600; // each record is about 370 bytes; eight follow the damaged one
    for at in [0, 5, 9, 12, 60, 300] {
        check_damage_in_second_block(Damaging::Byte(at), window, true);
        check_damage_in_second_block(Damaging::Byte(at), BIG, false);
    }
    let foreign: fn(&mut Block) = |b| b.header.sign(&Keypair::from_seed([66; 32]));
    let bad_signature: fn(&mut Block) = |b| b.header.signature.0[3] ^= 1;
    let wrong_root: fn(&mut Block) = |b| drop(b.txs.pop());
    for spoil in [foreign, bad_signature, wrong_root] {
        check_damage_in_second_block(Damaging::Block(spoil), window, true);
        check_damage_in_second_block(Damaging::Block(spoil), BIG, false);
    }
}

#[test]
fn a_record_damaged_after_open_is_reported_by_the_reader_not_returned() {
    let (dir, chain, bytes) = written_log(3);
    let (log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("opens");
    let second = record_offsets(&chain.blocks)[1];
    let mut damaged = bytes.clone();
    damaged[second + RECORD_HEADER_BYTES + 300] ^= 1;
    fs::write(dir.path().join(FILE_NAME), damaged).expect("damages in place");
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
    let (dir, chain, _) = written_log(2);
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
fn a_file_that_is_not_a_log_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = Chain::new().genesis;
    for bytes in [&b"short"[..], &[0u8; 100][..]] {
        fs::write(dir.path().join(FILE_NAME), bytes).expect("writes");
        let err = open_in(dir.path(), &genesis, BIG).expect_err("refused");
        assert_eq!(err.code(), "not_a_block_log");
    }
}

#[test]
fn a_visit_error_aborts_the_open_with_its_message() {
    let (dir, chain, _) = written_log(3);
    let mut visit = |b: &Block| match b.header.height.0 {
        2 => Err("state does not apply".to_string()),
        _ => Ok(()),
    };
    let err = FileLog::open(dir.path(), &chain.genesis, &mut visit).expect_err("aborts");
    assert_eq!(err.code(), "replay_failed");
    assert!(err.to_string().contains("state does not apply"));
}

#[test]
fn a_call_bigger_than_a_group_is_split_into_fsynced_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut chain = Chain::new();
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, 1000).expect("creates");
    log.append(&chain.extend(9, 1)).expect("appends");
    let stats = log.stats();
    assert_eq!(stats.blocks_appended, 9);
    assert!(stats.groups_synced >= 4, "{stats:?}");
    let group_max = stats.bytes_appended.div_ceil(stats.groups_synced);
    assert!(group_max <= 1000, "{stats:?}");
    drop(log);
    assert_holds(dir.path(), &chain.genesis, &chain.blocks);
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => (0usize..4).prop_map(Op::Append), 1 => Just(Op::Reopen)]
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
                Op::Append(n) => {
                    let next = &all[model.len()..(model.len() + n).min(all.len())];
                    log.append(next).expect("appends");
                    model.extend_from_slice(next);
                }
                Op::Reopen => {
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
