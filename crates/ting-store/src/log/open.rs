//! Opening the block log: check the directory's layout, read the manifest, check that
//! the sealed segments are there, and read and check only what lies above the snapshot.
//!
//! The time an open takes depends on the bytes from the segment holding the block above
//! the snapshot to the tip (at most about one segment when snapshots are more frequent
//! than seals), not on the length of history: the sealed segments below are only
//! `stat`ed, and the manifest holds one line per segment.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ting_core::limits::{LOG_SEGMENT_BYTES_MIN, WRITE_GROUP_BYTES_MAX};
use ting_core::{Block, BlockHeight, Genesis, Hash32};

use super::disk::{Disk, FileKind};
use super::format::{
    self, HeaderCheck, FORMAT_VERSION, FORMAT_VERSION_WIRE_1_MAX, LEGACY_FILE_NAME, RECORDS_START,
    SEGMENT_HEADER_BYTES, TMP_SUFFIX,
};
use super::manifest::{self, SegmentInfo};
use super::reader::{Durable, OpenSegment, Sealed, Shared};
use super::recover::{self, Scanned, Segment};
use super::writer::OpenWriter;
use super::{io_error, open_rw, FileLog, LogError, LogOptions, LogStats, RecoveryReport};
use crate::chain::ChainRules;

type Visit<'a> = &'a mut dyn FnMut(&Block) -> Result<(), String>;

/// What the open has read and handed on so far.
#[derive(Debug, Default)]
struct Tally {
    visited: u64,
    visit: Duration,
    scanned_bytes: u64,
    segments_read: u64,
}

pub(super) fn open(
    dir: &Path,
    genesis: &Genesis,
    acknowledged: BlockHeight,
    options: &LogOptions,
    visit: Visit<'_>,
) -> Result<(FileLog, RecoveryReport), LogError> {
    // Recovery refuses a group over the limit, so the writer must never write one.
    assert!(
        options.group_bytes_max <= WRITE_GROUP_BYTES_MAX,
        "group size over WRITE_GROUP_BYTES_MAX"
    );
    assert!(
        options.segment_bytes >= LOG_SEGMENT_BYTES_MIN,
        "segment size under LOG_SEGMENT_BYTES_MIN"
    );
    let started = Instant::now();
    let rules = ChainRules::from_genesis(genesis);
    let disk = Disk::new(options.faults.clone());
    fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
    refuse_single_file(dir)?;
    let files = Listing::read(dir)?;
    let listed = match manifest::read(&disk, dir, &rules.genesis_hash)? {
        Some(listed) => listed,
        None => create(&disk, dir, &rules.genesis_hash, &files)?,
    };
    let open_first = listed
        .last()
        .map_or(Some(BlockHeight(1)), |s| s.last.next())
        .expect("heights are far from u64::MAX");
    remove_strays(dir, &files, open_first)?;
    let sealed = check_sealed(dir, listed, acknowledged)?;
    let mut tally = Tally::default();
    // The first sealed segment holding a block above `acknowledged`; the open one if none.
    let start = sealed.partition_point(|s| s.info.last <= acknowledged);
    let mut tip = rules.empty_tip();
    if let Some(before) = start.checked_sub(1).map(|i| &sealed[i]) {
        tip = (before.info.last, before.info.last_hash);
        if before.info.last == acknowledged {
            visit_anchor(&disk, dir, &before.info, acknowledged, &mut tally, visit)?;
        }
    }
    for s in &sealed[start..] {
        tip = verify_sealed(
            &disk,
            dir,
            &s.info,
            (tip, acknowledged),
            &rules,
            &mut tally,
            visit,
        )?;
    }
    let opened = open_segment(&disk, dir, (open_first, tip, acknowledged), &rules, visit)?;
    tally.visited += opened.scanned.visited;
    tally.visit += opened.scanned.visit;
    tally.scanned_bytes += opened.scanned.end - RECORDS_START;
    tally.segments_read += 1;
    let report = RecoveryReport {
        blocks: tally.visited,
        last_height: opened.scanned.tip.0,
        file_bytes: sealed.iter().map(|s| s.info.bytes).sum::<u64>() + opened.scanned.file_len,
        scanned_bytes: tally.scanned_bytes,
        truncated_bytes: opened.truncated.0,
        truncated_reason: opened.truncated.1.clone(),
        scan_ms: recover::elapsed_ms(started),
        visit_ms: u64::try_from(tally.visit.as_millis()).unwrap_or(u64::MAX),
        segments_sealed: sealed.len() as u64,
        segments_read: tally.segments_read,
        segments_archived: sealed.iter().filter(|s| s.archived).count() as u64,
        skipped_bytes: sealed[..start].iter().map(|s| s.info.bytes).sum(),
    };
    Ok((assemble(dir, disk, rules, sealed, opened, options)?, report))
}

/// Refuses the single-file log of earlier formats, naming what it holds.
fn refuse_single_file(dir: &Path) -> Result<(), LogError> {
    let path = dir.join(LEGACY_FILE_NAME);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error("open", &path)(e)),
    };
    // Its header is all that is needed: magic and version.
    let mut bytes = Vec::with_capacity(SEGMENT_HEADER_BYTES);
    file.take(SEGMENT_HEADER_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", &path))?;
    Err(match format::parse_segment_header(&bytes) {
        HeaderCheck::NotALog => LogError::NotALog { path },
        HeaderCheck::Version(found) if found <= FORMAT_VERSION_WIRE_1_MAX => {
            LogError::WireVersion1 { path, found }
        }
        HeaderCheck::Version(found) => LogError::SingleFileLayout {
            path,
            found,
            supported: FORMAT_VERSION,
        },
        HeaderCheck::Segment { .. } => LogError::SingleFileLayout {
            path,
            found: FORMAT_VERSION,
            supported: FORMAT_VERSION,
        },
    })
}

/// The segment files and leftover temporary files in the log directory.
#[derive(Debug, Default)]
struct Listing {
    segments: Vec<BlockHeight>,
}

impl Listing {
    /// Lists the directory, deleting the temporary files a crash mid-write left.
    fn read(dir: &Path) -> Result<Listing, LogError> {
        let mut listing = Listing::default();
        let entries = fs::read_dir(dir).map_err(io_error("list", dir))?;
        for entry in entries {
            let entry = entry.map_err(io_error("list", dir))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.ends_with(TMP_SUFFIX) {
                let path = entry.path();
                tracing::warn!(path = %path.display(), "block log: deleting a file a crash left half-written");
                fs::remove_file(&path).map_err(io_error("delete", &path))?;
            } else if let Some(first) = format::parse_segment_file_name(&name) {
                listing.segments.push(first);
            }
        }
        listing.segments.sort();
        Ok(listing)
    }
}

/// A directory without a manifest: a new log (segment 1, then the empty manifest), or
/// one whose creation a crash interrupted between the two. Segments holding blocks
/// without a manifest are refused.
fn create(
    disk: &Disk,
    dir: &Path,
    genesis_hash: &Hash32,
    files: &Listing,
) -> Result<Vec<SegmentInfo>, LogError> {
    let first = BlockHeight(1);
    let path = dir.join(format::segment_file_name(first));
    let fresh = match files.segments.as_slice() {
        [] => true,
        [only] if *only == first => {
            let len = fs::metadata(&path)
                .map_err(io_error("read the size of", &path))?
                .len();
            len == SEGMENT_HEADER_BYTES as u64
        }
        _ => false,
    };
    if !fresh {
        return Err(LogError::ManifestDamaged {
            path: dir.join(super::MANIFEST_FILE_NAME),
            reason: "it is missing, but the directory holds segments with blocks".into(),
        });
    }
    if files.segments.is_empty() {
        super::segment::create(disk, dir, genesis_hash, first)?;
    }
    manifest::write(disk, dir, genesis_hash, &[])?;
    Ok(Vec::new())
}

/// Deletes the empty segments a seal interrupted before its manifest was written left
/// after the open segment; refuses any that holds blocks (the manifest would be older
/// than the segments).
fn remove_strays(dir: &Path, files: &Listing, open_first: BlockHeight) -> Result<(), LogError> {
    for first in files.segments.iter().filter(|f| **f > open_first) {
        let path = dir.join(format::segment_file_name(*first));
        let len = fs::metadata(&path)
            .map_err(io_error("read the size of", &path))?
            .len();
        if len > SEGMENT_HEADER_BYTES as u64 {
            return Err(LogError::SegmentMismatch {
                path,
                reason: format!(
                    "it holds blocks, but the manifest lists no segment before it ending at height {}",
                    first.0 - 1
                ),
            });
        }
        tracing::warn!(path = %path.display(), "block log: deleting an empty segment a seal interrupted by a crash left");
        fs::remove_file(&path).map_err(io_error("delete", &path))?;
    }
    Ok(())
}

/// Checks that every sealed segment is there with the length the manifest says; one
/// wholly below `acknowledged` that is gone is archived.
fn check_sealed(
    dir: &Path,
    listed: Vec<SegmentInfo>,
    acknowledged: BlockHeight,
) -> Result<Vec<Sealed>, LogError> {
    let mut sealed = Vec::with_capacity(listed.len());
    for info in listed {
        let path = dir.join(info.file_name());
        let archived = match fs::metadata(&path) {
            Ok(meta) if meta.len() == info.bytes => false,
            Ok(meta) => {
                return Err(LogError::SegmentMismatch {
                    path,
                    reason: format!(
                        "it is {} bytes long; the manifest says {}",
                        meta.len(),
                        info.bytes
                    ),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && info.last < acknowledged => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LogError::SegmentMissing {
                    path,
                    heights: format!("blocks {} to {}", info.first, info.last),
                })
            }
            Err(e) => return Err(io_error("read the size of", &path)(e)),
        };
        sealed.push(Sealed { info, archived });
    }
    if let Some(last) = sealed.iter().rev().find(|s| s.archived) {
        let count = sealed.iter().filter(|s| s.archived).count();
        tracing::warn!(
            count,
            below = last.info.last.0 + 1,
            "block log: {count} sealed segments below the snapshot are not in {} (archived); reads of blocks in them answer `log_archived`",
            dir.display()
        );
    }
    Ok(sealed)
}

/// Reads and checks a segment file's header: this format, this network, this first height.
fn check_header(
    disk: &Disk,
    kind: FileKind,
    (file, path): (&File, &Path),
    genesis_hash: &Hash32,
    first: BlockHeight,
) -> Result<u32, LogError> {
    let mut bytes = [0u8; SEGMENT_HEADER_BYTES];
    if let Err(e) = disk.read_at(kind, file, &mut bytes, 0) {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return Err(LogError::NotALog {
                path: path.to_path_buf(),
            });
        }
        return Err(io_error("read the header of", path)(e));
    }
    let path = path.to_path_buf();
    match format::parse_segment_header(&bytes) {
        HeaderCheck::Segment { genesis, .. } if genesis != *genesis_hash => {
            Err(LogError::WrongGenesis {
                path,
                found: genesis,
                expected: *genesis_hash,
            })
        }
        HeaderCheck::Segment { first: found, .. } if found != first => {
            Err(LogError::SegmentMismatch {
                path,
                reason: format!(
                    "its header says it starts at height {found}, its name says {first}"
                ),
            })
        }
        HeaderCheck::Segment { .. } => Ok(crc32c::crc32c(&bytes)),
        HeaderCheck::NotALog => Err(LogError::NotALog { path }),
        HeaderCheck::Version(found) if found <= FORMAT_VERSION_WIRE_1_MAX => {
            Err(LogError::WireVersion1 { path, found })
        }
        HeaderCheck::Version(found) => Err(LogError::UnsupportedVersion {
            path,
            found,
            supported: FORMAT_VERSION,
        }),
    }
}

/// Reads the last block of a sealed segment, which ends at the acknowledged height,
/// checks it against the manifest and hands it to `visit`.
fn visit_anchor(
    disk: &Disk,
    dir: &Path,
    info: &SegmentInfo,
    acknowledged: BlockHeight,
    tally: &mut Tally,
    visit: Visit<'_>,
) -> Result<(), LogError> {
    let path = dir.join(info.file_name());
    let file = File::open(&path).map_err(io_error("open", &path))?;
    let read = |buf: &mut [u8], off: u64| disk.read_at(FileKind::Sealed, &file, buf, off);
    let checked = format::read_record_at(&read, info.last_offset, info.bytes - info.last_offset)
        .map_err(io_error("read a block from", &path))?
        .and_then(|block| {
            let (height, hash) = (block.header.height, block.header.hash());
            if (height, hash) == (info.last, info.last_hash) {
                Ok(block)
            } else {
                Err(format!(
                    "it holds block {height} of hash {hash}, the manifest says block {} of hash {}",
                    info.last, info.last_hash
                ))
            }
        });
    let block = checked.map_err(|reason| LogError::DamagedBelowSnapshot {
        path,
        offset: info.last_offset,
        reason,
        acknowledged,
    })?;
    let started = Instant::now();
    visit(&block).map_err(|message| LogError::Replay {
        height: block.header.height,
        message,
    })?;
    tally.visit += started.elapsed();
    tally.visited += 1;
    Ok(())
}

/// Reads and checks a whole sealed segment; it must end as the manifest says.
fn verify_sealed(
    disk: &Disk,
    dir: &Path,
    info: &SegmentInfo,
    (tip, acknowledged): ((BlockHeight, Hash32), BlockHeight),
    rules: &ChainRules,
    tally: &mut Tally,
    visit: Visit<'_>,
) -> Result<(BlockHeight, Hash32), LogError> {
    let path = dir.join(info.file_name());
    let file = File::open(&path).map_err(io_error("open", &path))?;
    let header_crc = check_header(
        disk,
        FileKind::Sealed,
        (&file, &path),
        &rules.genesis_hash,
        info.first,
    )?;
    let segment = Segment {
        file: &file,
        path: &path,
        disk,
        kind: FileKind::Sealed,
        tip,
        acknowledged,
        header_crc,
        keep_offsets: false,
    };
    let scanned = recover::scan(&segment, rules, visit)?;
    if let Some(damage) = scanned.damage {
        return Err(LogError::DamagedSealed {
            path,
            offset: damage.offset,
            reason: damage.reason,
        });
    }
    let found = (scanned.tip, scanned.end, scanned.last_offset, scanned.crc);
    let expected = (
        (info.last, info.last_hash),
        info.bytes,
        info.last_offset,
        info.crc32c,
    );
    if found != expected {
        let reason = format!(
            "it ends with block {} at byte {} (crc32c {:08x}); the manifest says block {} at byte {} (crc32c {:08x})",
            scanned.tip.0, scanned.end, scanned.crc, info.last, info.bytes, info.crc32c
        );
        return Err(LogError::SegmentMismatch { path, reason });
    }
    tally.visited += scanned.visited;
    tally.visit += scanned.visit;
    tally.scanned_bytes += scanned.end - RECORDS_START;
    tally.segments_read += 1;
    Ok(scanned.tip)
}

/// The open segment as recovered.
struct Opened {
    file: File,
    path: std::path::PathBuf,
    first: BlockHeight,
    scanned: Scanned,
    /// Bytes cut off its end, and why.
    truncated: (u64, Option<String>),
}

/// Reads and checks the open segment, cutting a torn last group off it.
fn open_segment(
    disk: &Disk,
    dir: &Path,
    (first, tip, acknowledged): (BlockHeight, (BlockHeight, Hash32), BlockHeight),
    rules: &ChainRules,
    visit: Visit<'_>,
) -> Result<Opened, LogError> {
    let path = dir.join(format::segment_file_name(first));
    if !path.exists() {
        return Err(LogError::SegmentMissing {
            path,
            heights: format!("the blocks from {first} on (the open segment)"),
        });
    }
    let file = open_rw(&path)?;
    let header_crc = check_header(
        disk,
        FileKind::Segment,
        (&file, &path),
        &rules.genesis_hash,
        first,
    )?;
    let segment = Segment {
        file: &file,
        path: &path,
        disk,
        kind: FileKind::Segment,
        tip,
        acknowledged,
        header_crc,
        keep_offsets: true,
    };
    let scanned = recover::scan(&segment, rules, visit)?;
    let mut truncated = (0, None);
    if let Some(damage) = &scanned.damage {
        // A cut keeps the complete groups only, up to `scanned.tip`.
        if scanned.tip.0 < acknowledged {
            return Err(LogError::DamagedBelowSnapshot {
                path,
                offset: damage.offset,
                reason: damage.reason.clone(),
                acknowledged,
            });
        }
        let dropped = recover::cut_or_refuse(&segment, rules, &scanned, damage)?;
        let reason = format!("at byte offset {}: {}", damage.offset, damage.reason);
        truncated = (dropped, Some(reason));
    }
    Ok(Opened {
        file,
        path,
        first,
        scanned,
        truncated,
    })
}

/// The log, its writer on the open segment and its readers' shared view.
fn assemble(
    dir: &Path,
    disk: Disk,
    rules: ChainRules,
    sealed: Vec<Sealed>,
    opened: Opened,
    options: &LogOptions,
) -> Result<FileLog, LogError> {
    let scanned = opened.scanned;
    let blocks = scanned.blocks;
    let for_readers = opened
        .file
        .try_clone()
        .map_err(io_error("open", &opened.path))?;
    let durable = Durable {
        sealed,
        open: OpenSegment {
            first: opened.first,
            path: opened.path.clone(),
            file: Arc::new(for_readers),
            offsets: scanned.offsets,
            end: scanned.end,
        },
    };
    let shared = Arc::new(Shared::new(dir.to_path_buf(), disk.clone(), durable));
    let crc = scanned.crc;
    Ok(FileLog {
        dir: dir.to_path_buf(),
        disk,
        shared,
        rules,
        tip: scanned.tip,
        open: OpenWriter {
            first: opened.first,
            path: opened.path,
            file: opened.file,
            end: scanned.end,
            group: scanned.group,
            crc,
            last_offset: scanned.last_offset,
            blocks,
        },
        segment_bytes: options.segment_bytes,
        group_bytes_max: options.group_bytes_max,
        failed: None,
        stats: LogStats::default(),
    })
}
