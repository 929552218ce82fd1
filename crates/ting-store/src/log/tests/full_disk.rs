//! A real full disk: the log on a 2 MiB tmpfs filled up by another file, appended to
//! until the disk refuses, then recovered, first on the full disk and then with room.
//!
//! Mounting needs root (the test machine runs tests as root); if `mount` fails the test
//! fails saying so, it never skips.

use std::io::Write;
use std::process::Command;

use super::segments::{open_at, small};
use super::*;

/// The tmpfs's size.
const DISK: &str = "size=2m";
/// Room left on the disk once the filler is cut back: several segments' worth.
const ROOM_BYTES: u64 = 192 * 1024;
/// Segments sealed every this many bytes, so seals meet the full disk too.
const SEGMENT_BYTES: u64 = 32 * 1024;
/// Transactions per block: one signed mint repeated (the log checks the Merkle root, not
/// the ledger), so blocks are a few kilobytes without signing each.
const TXS_PER_BLOCK: usize = 24;
/// Most appends before the disk must have refused one.
const APPENDS_MAX: usize = 400;

/// A tmpfs mounted on a temporary directory, unmounted on drop.
struct Mounted {
    dir: tempfile::TempDir,
}

impl Mounted {
    fn new() -> Mounted {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", DISK, "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a {DISK} tmpfs to fill it, which needs root (as on the test machine); `mount` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Mounted { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let out = Command::new("umount").arg(self.dir.path()).output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            eprintln!("could not unmount {}: {out:?}", self.dir.path().display());
        }
    }
}

/// Fills the disk with one file, then cuts it back to leave `ROOM_BYTES` free.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = fs::File::create(&path).expect("creates the filler");
    let chunk = vec![0xa5u8; 64 * 1024];
    // Bounded: the disk holds 2 MiB.
    while file.write_all(&chunk).is_ok() {}
    let len = file.metadata().expect("stat").len();
    file.set_len(len.saturating_sub(ROOM_BYTES))
        .expect("cuts the filler back");
    path
}

/// The next block of `chain`, holding `TXS_PER_BLOCK` copies of one signed mint.
fn big_block(chain: &mut Chain) -> Block {
    let tx = chain.mints(1).remove(0);
    chain.push_txs(vec![tx; TXS_PER_BLOCK])
}

#[test]
fn a_full_disk_fails_the_append_that_meets_it_and_recovery_loses_nothing_acknowledged() {
    let disk = Mounted::new();
    let dir = disk.path().join("blocks");
    let options = small(SEGMENT_BYTES, 16 * 1024);
    let mut chain = Chain::new();
    let (mut log, _, _) = open_at(&dir, &chain.genesis, 0, &options).expect("creates");
    let filler = fill(disk.path());
    let mut acked = Vec::new();
    let mut failed = None;
    for _ in 0..APPENDS_MAX {
        let blocks = vec![big_block(&mut chain), big_block(&mut chain)];
        match log.append(&blocks) {
            Ok(()) => acked.extend(blocks),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = failed.expect("the disk filled up");
    println!("after {} blocks the disk refused: {err}", acked.len());
    assert_eq!(err.code(), "log_io", "{err}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(
        log.stats().segments_sealed >= 2,
        "seals happened before the disk filled: {:?}",
        log.stats()
    );
    let refused = log
        .append(&[big_block(&mut chain)])
        .expect_err("no more appends");
    assert_eq!(refused.code(), "log_failed", "{refused}");
    drop(log);

    // On the still-full disk: recovery only reads, deletes and cuts.
    let (log, _, seen) =
        open_at(&dir, &chain.genesis, 0, &options).expect("recovers on a full disk");
    assert!(
        seen.len() >= acked.len(),
        "{} of {} acknowledged blocks",
        seen.len(),
        acked.len()
    );
    assert_eq!(seen[..acked.len()], acked[..]);
    drop(log);

    // With room again, it appends and seals on.
    fs::remove_file(&filler).expect("frees the disk");
    let (mut log, _, seen) = open_at(&dir, &chain.genesis, 0, &options).expect("reopens");
    let mut on = Chain::new();
    on.blocks = seen;
    let more: Vec<Block> = (0..20).map(|_| big_block(&mut on)).collect();
    log.append(&more).expect("appends with room");
    drop(log);
    let (_, _, seen) = open_at(&dir, &chain.genesis, 0, &options).expect("reopens");
    assert_eq!(seen, on.blocks);
}
