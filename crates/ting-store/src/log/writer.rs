//! Appending to the file log: blocks checked and framed into group commits, each written
//! and fsynced before readers see it, and the open segment sealed at a group boundary
//! once it has passed its size.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use ting_core::limits::BLOCK_BYTES_MAX;
use ting_core::{Block, BlockHeight, Hash32};

use super::disk::FileKind;
use super::format::{self, Grouping, RECORDS_START, RECORD_HEADER_BYTES};
use super::manifest::{self, SegmentInfo};
use super::reader::{OpenSegment, Sealed};
use super::segment::{self, SealedSegment, SparseIndex};
use super::{io_error, open_rw, FileLog, LogError};

/// The writer's side of the open segment.
#[derive(Debug)]
pub(super) struct OpenWriter {
    pub first: BlockHeight,
    pub path: PathBuf,
    pub file: File,
    /// The end of the last durable record.
    pub end: u64,
    /// The number of the last write group in the segment; 0 when it holds none.
    pub group: u64,
    /// CRC-32C of the segment's bytes up to `end`.
    pub crc: u32,
    /// Where the last record starts (meaningless while `blocks` is 0).
    pub last_offset: u64,
    pub blocks: u64,
}

/// Blocks encoded for one group commit, framed once the group is complete.
pub(super) struct Group {
    payloads: Vec<Vec<u8>>,
    /// The bytes of the group's records, framing included.
    bytes: usize,
    tip: (BlockHeight, Hash32),
}

impl FileLog {
    /// Checks every block against the chain and encodes them into group commits.
    pub(super) fn plan_groups(&self, blocks: &[Block]) -> Result<Vec<Group>, LogError> {
        let mut groups = Vec::new();
        let mut group = Group::new(self.tip);
        for block in blocks {
            self.rules.check_next(group.tip, block)?;
            let payload = block.encode();
            if payload.len() > BLOCK_BYTES_MAX {
                return Err(LogError::BlockTooLarge {
                    height: block.header.height,
                    bytes: payload.len(),
                    max: BLOCK_BYTES_MAX,
                });
            }
            let record_len = RECORD_HEADER_BYTES + payload.len();
            if !group.payloads.is_empty() && group.bytes + record_len > self.group_bytes_max {
                let tip = group.tip;
                groups.push(std::mem::replace(&mut group, Group::new(tip)));
            }
            group.payloads.push(payload);
            group.bytes += record_len;
            group.tip = (block.header.height, block.header.hash());
        }
        if !group.payloads.is_empty() {
            groups.push(group);
        }
        Ok(groups)
    }

    /// Seals the open segment if it has passed its size, then writes one group as the
    /// segment's next group number, fsyncs it, and only then shows it to readers.
    pub(super) fn commit_group(&mut self, group: &Group) -> Result<(), LogError> {
        if self.open.blocks > 0 && self.open.end >= self.segment_bytes {
            self.seal()?;
        }
        let number = self.open.group + 1;
        let (bytes, starts) = group.frame(number);
        let start = self.open.end;
        let at = (&self.open.file, self.open.path.as_path());
        self.disk
            .write_at(FileKind::Segment, at, &bytes, start, "append to")?;
        self.disk.sync(FileKind::Segment, at, start)?;
        let end = start + bytes.len() as u64;
        {
            let mut durable = self.shared.write();
            durable
                .open
                .offsets
                .extend(starts.iter().map(|s| start + s));
            durable.open.end = end;
        }
        let open = &mut self.open;
        open.end = end;
        open.group = number;
        open.crc = crc32c::crc32c_append(open.crc, &bytes);
        open.last_offset = start + starts.last().copied().unwrap_or(0);
        open.blocks += starts.len() as u64;
        self.tip = group.tip;
        self.stats.blocks_appended += starts.len() as u64;
        self.stats.bytes_appended += bytes.len() as u64;
        self.stats.groups_synced += 1;
        Ok(())
    }

    /// Seals the open segment: writes its index, creates the next segment whole, then
    /// rewrites the manifest with it (the commit point), and only then moves on.
    fn seal(&mut self) -> Result<(), LogError> {
        let info = SegmentInfo {
            first: self.open.first,
            last: self.tip.0,
            bytes: self.open.end,
            last_offset: self.open.last_offset,
            last_hash: self.tip.1,
            crc32c: self.open.crc,
        };
        assert_eq!(
            info.last.0 - info.first.0 + 1,
            self.open.blocks,
            "the open segment holds the blocks from its first to the tip"
        );
        let index = SparseIndex::from_offsets(info.first, &self.shared.read().open.offsets);
        segment::write_index(&self.disk, &self.dir, &index)?;
        let next = info.last.next().expect("heights are far from u64::MAX");
        let genesis_hash = self.rules.genesis_hash;
        let path = segment::create(&self.disk, &self.dir, &genesis_hash, next)?;
        let file = open_rw(&path)?;
        let for_readers = Arc::new(file.try_clone().map_err(io_error("open", &path))?);
        let mut listed: Vec<SegmentInfo> = self
            .shared
            .read()
            .sealed
            .iter()
            .map(|s| s.info.clone())
            .collect();
        listed.push(info.clone());
        manifest::write(&self.disk, &self.dir, &genesis_hash, &listed)?;
        // Sealed: the manifest vouches for it. Readers switch at once.
        {
            let mut durable = self.shared.write();
            durable.sealed.push(Sealed {
                info: info.clone(),
                archived: false,
            });
            durable.open = OpenSegment {
                first: next,
                path: path.clone(),
                file: for_readers,
                offsets: Vec::new(),
                end: RECORDS_START,
            };
        }
        let header = format::segment_header(&genesis_hash, next);
        let old = std::mem::replace(
            &mut self.open,
            OpenWriter {
                first: next,
                path,
                file,
                end: RECORDS_START,
                group: 0,
                crc: crc32c::crc32c(&header),
                last_offset: 0,
                blocks: 0,
            },
        );
        let sealed = SealedSegment::with_index(info, old.path, old.file, index);
        self.shared.remember(Arc::new(sealed));
        self.stats.segments_sealed += 1;
        tracing::debug!(segment = %self.dir.display(), first = next.0, "block log: sealed a segment");
        Ok(())
    }
}

impl Group {
    fn new(tip: (BlockHeight, Hash32)) -> Group {
        Group {
            payloads: Vec::new(),
            bytes: 0,
            tip,
        }
    }

    /// The group's records as write group `number`, and where each starts in them.
    fn frame(&self, number: u64) -> (Vec<u8>, Vec<u64>) {
        let mut bytes = Vec::with_capacity(self.bytes);
        let mut starts = Vec::with_capacity(self.payloads.len());
        for (i, payload) in self.payloads.iter().enumerate() {
            starts.push(bytes.len() as u64);
            let grouping = Grouping {
                group: number,
                last: i + 1 == self.payloads.len(),
            };
            format::push_record(&mut bytes, payload, grouping);
        }
        assert_eq!(
            bytes.len(),
            self.bytes,
            "a group frames to its planned size"
        );
        (bytes, starts)
    }
}
