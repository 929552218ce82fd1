//! Recovery of the file log from torn, flipped and forged bytes. The rule under test:
//! damage in the last write group (the only one a crash can leave unsynced) is cut back to
//! the end of the group before it; damage in any earlier group, which was acknowledged,
//! is refused and the file left alone.

use super::*;

/// What opening a damaged log must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Refuse with `log_damaged`, naming the offset of the first bad record, and leave
    /// the file alone.
    Refused { offset: usize },
    /// Visit the first `blocks` blocks only and cut the file back to their end.
    Cut { blocks: usize },
}

/// Opens a log file of `bytes`, written from `chain`'s blocks, and checks that recovery
/// does what `expect` says. After a cut, returns the opened log and its directory.
fn check(chain: &Chain, bytes: &[u8], expect: Expect) -> Option<(tempfile::TempDir, FileLog)> {
    let dir = tempfile::tempdir().expect("tempdir");
    write_raw(dir.path(), &chain.genesis, bytes);
    match (expect, open_in(dir.path(), &chain.genesis, BIG)) {
        (Expect::Refused { offset }, Err(e)) => {
            assert_eq!(e.code(), "log_damaged", "{e}");
            let message = e.to_string();
            assert!(message.contains(&format!("offset {offset} ")), "{message}");
            assert!(message.contains("acknowledged") && message.contains("restore"));
            assert_eq!(read_log(dir.path()), bytes, "a refused log is left alone");
            None
        }
        (Expect::Cut { blocks }, Ok((log, report, seen))) => {
            assert_eq!(seen, chain.blocks[..blocks]);
            assert_eq!(report.last_height, BlockHeight(blocks as u64));
            assert_eq!(log.reader().height(), BlockHeight(blocks as u64));
            let cut = record_bounds(&chain.blocks)[blocks];
            assert_eq!(
                read_log(dir.path()),
                bytes[..cut],
                "cut after block {blocks}"
            );
            assert_eq!(report.truncated_bytes, (bytes.len() - cut) as u64);
            if bytes.len() > cut {
                let reason = report.truncated_reason.expect("a reason");
                assert!(reason.starts_with("at byte offset "), "{reason}");
            }
            Some((dir, log))
        }
        (Expect::Refused { .. }, Ok(_)) => panic!("expected the damaged log to be refused"),
        (Expect::Cut { .. }, Err(e)) => panic!("expected a cut, got {e}"),
    }
}

/// Damage done to one record.
#[derive(Clone, Copy)]
enum Damaging {
    /// Flip bit 0 of the byte this far into the record.
    Flip(usize),
    /// Frame a changed block in place of the real one: a well-framed record whose block
    /// breaks the chain.
    Spoil(fn(&mut Block)),
}

/// One byte in each field of a record header (magic, length, group, flags, crc32c) and
/// two in the payload.
const FLIPS: [usize; 7] = [0, 4, 8, 16, 17, 21, 300];

fn damagings() -> Vec<Damaging> {
    let foreign: fn(&mut Block) = |b| b.header.sign(&Keypair::from_seed([66; 32]));
    let bad_signature: fn(&mut Block) = |b| b.header.signature.0[3] ^= 1;
    let wrong_root: fn(&mut Block) = |b| drop(b.txs.pop());
    let flips = FLIPS.iter().map(|&at| Damaging::Flip(at));
    let spoils = [foreign, bad_signature, wrong_root].map(Damaging::Spoil);
    flips.chain(spoils).collect()
}

/// `chain`'s blocks framed into write groups of `sizes` blocks, with the record of
/// block index `victim` damaged.
fn damaged_log(chain: &Chain, sizes: &[usize], victim: usize, damage: Damaging) -> Vec<u8> {
    let mut blocks = chain.blocks.clone();
    if let Damaging::Spoil(spoil) = damage {
        spoil(&mut blocks[victim]);
    }
    let mut bytes = raw_log(&chain.genesis, &blocks, sizes);
    if let Damaging::Flip(at) = damage {
        bytes[record_bounds(&blocks)[victim] + at] ^= 0x01;
    }
    bytes
}

#[test]
fn a_flipped_bit_in_an_early_block_of_single_block_groups_is_refused_and_the_file_left_alone() {
    // The reviewer's case: one `append`, so one fsynced group, per block.
    let (_dir, chain, bytes) = written_log(&[1; 100]);
    let victim = record_bounds(&chain.blocks)[49];
    for at in FLIPS {
        let mut damaged = bytes.clone();
        damaged[victim + at] ^= 0x01;
        check(&chain, &damaged, Expect::Refused { offset: victim });
    }
}

#[test]
fn damage_in_any_record_is_cut_in_the_last_group_and_refused_in_any_group_before_it() {
    let mut chain = Chain::new();
    chain.extend(6, 1);
    let at = |victim: usize| record_bounds(&chain.blocks)[victim];
    // (groups, damaged block index, expectation)
    let cases: [(&[usize], usize, Expect); 9] = [
        (&[1, 1, 1], 1, Expect::Refused { offset: at(1) }),
        (&[2, 1], 0, Expect::Refused { offset: at(0) }),
        (&[1, 3, 2], 1, Expect::Refused { offset: at(1) }),
        // The last record of a group followed by a complete later group.
        (&[1, 3, 2], 3, Expect::Refused { offset: at(3) }),
        (&[3], 0, Expect::Cut { blocks: 0 }),
        // The final group: its first record with its last intact (pages persisted out
        // of order), a middle one, its last one.
        (&[1, 3], 1, Expect::Cut { blocks: 1 }),
        (&[1, 3], 2, Expect::Cut { blocks: 1 }),
        (&[1, 3], 3, Expect::Cut { blocks: 1 }),
        (&[1, 1, 1], 2, Expect::Cut { blocks: 2 }),
    ];
    for (sizes, victim, expect) in cases {
        let blocks: usize = sizes.iter().sum();
        let mut short = Chain::new();
        short.blocks = chain.blocks[..blocks].to_vec();
        for damage in damagings() {
            let bytes = damaged_log(&short, sizes, victim, damage);
            check(&short, &bytes, expect);
        }
    }
}

#[test]
fn a_final_group_torn_at_any_offset_of_its_last_record_is_cut_back_to_the_group_before() {
    let mut chain = Chain::new();
    chain.extend(3, 0); // empty blocks: short records, fewer offsets to tear at
    let bytes = raw_log(&chain.genesis, &chain.blocks, &[1, 2]);
    let bounds = record_bounds(&chain.blocks);
    // From the file ending right after block 2, inside its group, to one byte short.
    for end in bounds[2]..bounds[3] {
        check(&chain, &bytes[..end], Expect::Cut { blocks: 1 });
    }
    let torn = &bytes[..bounds[3] - 1];
    let (dir, mut log) = check(&chain, torn, Expect::Cut { blocks: 1 }).expect("cut");
    log.append(&chain.blocks[1..]).expect("appends again");
    drop(log);
    let groups = groups_of(&read_log(dir.path()));
    assert_eq!(groups, [(1, true), (2, false), (2, true)]);
    assert_holds(dir.path(), &chain.genesis, &chain.blocks);
}

#[test]
fn a_log_cut_back_numbers_its_next_group_on_and_a_crash_in_that_group_is_cut_again() {
    let (_dir, mut chain, bytes) = written_log(&[1, 1, 3]);
    assert_eq!(
        groups_of(&bytes),
        [(1, true), (2, true), (3, false), (3, false), (3, true)]
    );
    let bounds = record_bounds(&chain.blocks);
    // Torn in block 4: block 3, whole but in the torn group, goes too.
    let torn = &bytes[..bounds[3] + 30];
    let (dir, mut log) = check(&chain, torn, Expect::Cut { blocks: 2 }).expect("cut");
    log.append(&chain.blocks[2..])
        .expect("appends the lost blocks again");
    log.append(&chain.extend(1, 1)).expect("appends a new one");
    drop(log);
    let bytes = read_log(dir.path());
    let groups = groups_of(&bytes);
    assert_eq!(groups[2..], [(3, false), (3, false), (3, true), (4, true)]);
    assert_holds(dir.path(), &chain.genesis, &chain.blocks);
    // A crash while writing a group of two after that: its first page lost, its last
    // record whole. Only the torn group goes.
    let (mut log, _, _) = open_in(dir.path(), &chain.genesis, BIG).expect("opens");
    log.append(&chain.extend(2, 1)).expect("appends");
    drop(log);
    let mut bytes = read_log(dir.path());
    bytes[record_bounds(&chain.blocks)[6] + 100] ^= 0x40;
    check(&chain, &bytes, Expect::Cut { blocks: 6 });
}

#[test]
fn bytes_after_the_last_complete_group_are_cut_unless_a_later_group_of_real_blocks_follows() {
    let mut chain = Chain::new();
    chain.extend(3, 1);
    let foreign = chain.next_signed_by(1, &Keypair::from_seed([66; 32]));
    chain.extend(2, 1);
    let clean = raw_log(&chain.genesis, &chain.blocks[..3], &[1, 2]);
    let framed = |payload: &[u8], group: u64, last: bool| {
        let mut out = Vec::new();
        push_record(&mut out, payload, Grouping { group, last });
        out
    };
    let junk_then = |bytes: Vec<u8>| [b"junk".to_vec(), bytes].concat();
    let block = |i: usize| chain.blocks[i].encode();
    let mut bad_crc = framed(&block(3), 3, true);
    bad_crc[17] ^= 0x01;
    let random: Vec<u8> = (0u32..500)
        .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[2])
        .collect();
    let kept = Expect::Cut { blocks: 3 };
    let refused = Expect::Refused {
        offset: clean.len(),
    };
    let tails: [(&str, Vec<u8>, Expect); 11] = [
        ("zeros, as a crash leaves a grown file", vec![0; 500], kept),
        ("random bytes", random.clone(), kept),
        ("a record magic with a bad checksum", bad_crc, kept),
        (
            "block 4 torn",
            framed(&block(3), 3, true)[..200].to_vec(),
            kept,
        ),
        (
            "block 4 whole, its group not",
            framed(&block(3), 3, false),
            kept,
        ),
        (
            "block 4 in group 2, complete",
            framed(&block(3), 2, true),
            kept,
        ),
        (
            "not a block, in a later group",
            junk_then(framed(b"", 9, true)),
            kept,
        ),
        (
            "copy of block 1, later group",
            junk_then(framed(&block(0), 9, true)),
            kept,
        ),
        (
            "foreign block 4, later group",
            junk_then(framed(&foreign.encode(), 9, true)),
            kept,
        ),
        (
            "block 4 in group 5, a gap",
            framed(&block(3), 5, true),
            refused,
        ),
        (
            "junk, block 5 in group 4",
            [random, framed(&block(4), 4, true)].concat(),
            refused,
        ),
    ];
    for (name, tail, expect) in tails {
        println!("tail: {name}");
        check(&chain, &[&clean[..], &tail].concat(), expect);
    }
}

#[test]
fn damage_at_or_below_a_snapshot_height_is_refused_and_the_file_left_alone() {
    let mut chain = Chain::new();
    chain.extend(3, 1);
    let bytes = raw_log(&chain.genesis, &chain.blocks, &[1, 2]);
    let torn = &bytes[..bytes.len() - 3];
    // Block 2 is whole, but its group is torn: a snapshot at 2 shows that group was
    // acknowledged, so it cannot be the torn one.
    for (acknowledged, refused) in [(3, true), (2, true), (1, false), (0, false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_raw(dir.path(), &chain.genesis, torn);
        let mut visit = |_: &Block| Ok(());
        let got = FileLog::open_above(
            dir.path(),
            &chain.genesis,
            BlockHeight(acknowledged),
            &mut visit,
        );
        match got {
            Err(e) if refused => {
                assert_eq!(e.code(), "log_damaged", "{e}");
                assert!(e.to_string().contains("snapshot"), "{e}");
                assert_eq!(read_log(dir.path()), torn, "nothing was cut");
            }
            Ok((_, report)) if !refused => {
                assert_eq!(report.last_height, BlockHeight(1));
                assert_eq!(file_len(dir.path()), record_bounds(&chain.blocks)[1] as u64);
            }
            Err(e) => panic!("acknowledged {acknowledged}: expected a cut, got {e}"),
            Ok(_) => panic!("acknowledged {acknowledged}: expected a refusal"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Writes groups through `FileLog`, then tears the file at any byte (a crash while
    /// writing the group there, which makes it the last) or flips any bit (rot).
    #[test]
    fn only_the_last_group_is_ever_cut_and_damage_before_it_is_always_refused(
        sizes in proptest::collection::vec(1usize..4, 1..5),
        at in any::<proptest::sample::Index>(),
        tear in any::<bool>(),
        bit in 0u8..8,
    ) {
        let (_dir, chain, bytes) = written_log(&sizes);
        let records = framing(&bytes);
        let byte = SEGMENT_HEADER_BYTES + at.index(bytes.len() - SEGMENT_HEADER_BYTES);
        let hit = records.iter().find(|r| r.start <= byte && byte < r.end).expect("a record");
        let before = records.iter().take_while(|r| r.group < hit.group).count();
        let last_group = records.last().expect("a record").group;
        let mut damaged = bytes.clone();
        if tear {
            damaged.truncate(byte);
        } else {
            damaged[byte] ^= 1 << bit;
        }
        let expect = if tear || hit.group == last_group {
            Expect::Cut { blocks: before }
        } else {
            Expect::Refused { offset: hit.start }
        };
        check(&chain, &damaged, expect);
    }
}
