//! Tests of the snapshot store: round trip, fallback past damage, pruning, leftovers.

use super::*;

fn hash(n: u64) -> Hash32 {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    Hash32(bytes)
}

fn state(height: u64) -> Vec<u8> {
    format!("state at {height}").into_bytes()
}

/// Writes snapshots at heights 10 and 20, damages the newest file with `damage`, and
/// expects `latest` to give the snapshot at `expected` (or none).
fn check_damaged_newest(damage: impl FnOnce(&mut Vec<u8>), expected: Option<u64>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("opens");
    for height in [10, 20] {
        let h = BlockHeight(height);
        store
            .write(h, hash(height), &state(height))
            .expect("writes");
    }
    let newest = dir.path().join(file_name(BlockHeight(20)));
    let mut bytes = fs::read(&newest).expect("reads");
    damage(&mut bytes);
    fs::write(&newest, bytes).expect("writes damage");
    let got = store.latest().expect("lists");
    let want = expected.map(|height| Snapshot {
        height: BlockHeight(height),
        block_hash: hash(height),
        state: state(height),
    });
    assert_eq!(got, want);
}

#[test]
fn a_written_snapshot_is_the_latest_and_reads_back_whole() {
    check_damaged_newest(|_| {}, Some(20));
}

#[test]
fn a_damaged_newest_snapshot_falls_back_to_the_older_one() {
    check_damaged_newest(|b| *b.last_mut().expect("bytes") ^= 1, Some(10)); // payload
    check_damaged_newest(|b| b[20] ^= 1, Some(10)); // block hash
    check_damaged_newest(|b| b[8] ^= 1, Some(10)); // height
    check_damaged_newest(|b| b[0] = b'X', Some(10)); // magic
    check_damaged_newest(|b| b.truncate(b.len() - 1), Some(10));
    check_damaged_newest(|b| b.truncate(30), Some(10));
    check_damaged_newest(|b| b.push(0), Some(10));
}

#[test]
fn an_empty_directory_has_no_latest_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("opens");
    assert_eq!(store.latest().expect("lists"), None);
}

#[test]
fn only_the_newest_snapshots_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("opens");
    for height in 1..=5u64 {
        store
            .write(BlockHeight(height), hash(1), &state(height))
            .expect("writes");
    }
    let heights: Vec<u64> = store
        .list()
        .expect("lists")
        .into_iter()
        .map(|(h, _)| h.0)
        .collect();
    let want: Vec<u64> = (6 - SNAPSHOTS_KEPT as u64..=5).collect();
    assert_eq!(heights, want);
}

#[test]
fn a_temporary_file_left_by_a_crash_is_ignored_and_deleted_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("opens");
    store
        .write(BlockHeight(3), hash(3), &state(3))
        .expect("writes");
    let leftover = dir
        .path()
        .join(format!("{}{TMP_SUFFIX}", file_name(BlockHeight(9))));
    fs::write(&leftover, b"half a snapshot").expect("writes leftover");
    assert_eq!(
        store.latest().expect("lists").map(|s| s.height),
        Some(BlockHeight(3))
    );
    let store = SnapshotStore::open(dir.path()).expect("reopens");
    assert!(!leftover.exists(), "the leftover is deleted");
    assert_eq!(
        store.latest().expect("lists").map(|s| s.height),
        Some(BlockHeight(3))
    );
}
