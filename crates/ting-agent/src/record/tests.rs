//! The record file's tests: fallback from torn or corrupt slots, strict
//! sizes, no clobbering, private files.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn damage(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= 0x40;
    fs::write(path, bytes).unwrap();
}

/// Writes records 1..=n holding their own number.
fn written(n: u8) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/r.chan");
    let mut record = RecordFile::create(&path, &[1]).unwrap();
    for i in 2..=n {
        record.write(&[i; 40]).unwrap();
    }
    (dir, path)
}

#[test]
fn the_newest_whole_record_wins() {
    let (_dir, path) = written(5);
    let (record, payload) = RecordFile::open(&path).unwrap();
    assert_eq!((record.seq(), payload), (5, vec![5; 40]));
}

#[test]
fn a_torn_or_corrupt_newest_slot_falls_back_to_the_previous_record() {
    // Record 5 is in slot 1; damage its payload, then its header.
    for offset in [
        SLOT_BYTES + HEADER_BYTES + 3,
        SLOT_BYTES + 5,
        SLOT_BYTES + 17,
    ] {
        let (_dir, path) = written(5);
        damage(&path, offset);
        let (mut record, payload) = RecordFile::open(&path).unwrap();
        assert_eq!((record.seq(), payload), (4, vec![4; 40]), "offset {offset}");
        // The next write reuses the damaged slot, never the good one.
        record.write(&[9]).unwrap();
        let (record, payload) = RecordFile::open(&path).unwrap();
        assert_eq!((record.seq(), payload), (5, vec![9]));
    }
}

#[test]
fn a_write_torn_halfway_leaves_the_old_record() {
    let (_dir, path) = written(4);
    // Record 5 would go to slot 1: write only its first half.
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    let image = slot(5, &[7; 300]);
    file.write_all_at(&image[..SLOT_BYTES / 2], SLOT_BYTES as u64)
        .unwrap();
    let (_, payload) = RecordFile::open(&path).unwrap();
    assert_eq!(payload, vec![4; 40]);
}

#[test]
fn damage_to_both_slots_or_the_size_is_refused() {
    let (_dir, path) = written(3);
    damage(&path, HEADER_BYTES);
    damage(&path, SLOT_BYTES + HEADER_BYTES);
    assert_eq!(RecordFile::open(&path).unwrap_err().code(), "no_valid_slot");
    let mut bytes = fs::read(&path).unwrap();
    bytes.push(0);
    fs::write(&path, bytes).unwrap();
    assert_eq!(RecordFile::open(&path).unwrap_err().code(), "bad_file_size");
}

#[test]
fn create_never_clobbers_and_files_are_private() {
    let (_dir, path) = written(2);
    assert_eq!(
        RecordFile::create(&path, &[0]).unwrap_err().code(),
        "channel_file_exists"
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(!path.with_extension("tmp").exists());
    let (mut record, _) = RecordFile::open(&path).unwrap();
    let too_big = vec![0; RECORD_BYTES_MAX + 1];
    assert_eq!(
        record.write(&too_big).unwrap_err().code(),
        "record_too_large"
    );
    record.write(&[0; RECORD_BYTES_MAX]).unwrap();
}
