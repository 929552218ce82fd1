//! A small durable record: one file, two fixed slots, written alternately.
//!
//! File layout: slot 0 at byte 0, slot 1 at byte `SLOT_BYTES`, nothing else.
//! A slot is `magic [4] = "TGR1" | seq u64 | len u32 | crc32c u32 | payload
//! [len] | zeros to SLOT_BYTES`, integers little-endian; the CRC-32C covers
//! the 16 header bytes before it and the payload. Record `seq` goes to slot
//! `seq % 2`, so a write never touches the newest valid record: a torn write
//! leaves a slot that fails its check, and opening falls back to the other,
//! which holds the previous record. A write is acknowledged only after
//! `fdatasync`, so a record that was acknowledged is never the torn one.
//!
//! A new file is written in full under a temporary name, synced, linked to
//! its final name (which fails if that exists) and the directory synced, so
//! the name never points at a half-written file. Files are created with mode
//! 0600: a payer's record holds chain seeds, which are money.
//!
//! After a failed write the file is poisoned: what reached the disk is
//! unknown until it is read again, so every further write is refused until
//! the caller reopens it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// Bytes in one slot: one disk sector, so a slot write is usually atomic too.
pub const SLOT_BYTES: usize = 512;
/// Header bytes before the payload: magic, seq, len, crc.
const HEADER_BYTES: usize = 20;
/// Longest payload a record may hold.
pub const RECORD_BYTES_MAX: usize = SLOT_BYTES - HEADER_BYTES;
const MAGIC: &[u8; 4] = b"TGR1";
const FILE_BYTES: u64 = 2 * SLOT_BYTES as u64;

/// An open record file and the sequence number of its newest record.
#[derive(Debug)]
pub struct RecordFile {
    file: File,
    path: PathBuf,
    seq: u64,
    poisoned: bool,
}

impl RecordFile {
    /// Creates `path` holding `payload` as record 1; fails if it exists.
    pub fn create(path: &Path, payload: &[u8]) -> Result<RecordFile, StoreError> {
        check_len(payload)?;
        let dir = path.parent().ok_or(StoreError::BadPath)?;
        create_dir_durably(dir)?;
        if path.exists() {
            return Err(StoreError::Exists);
        }
        let tmp = path.with_extension("tmp");
        remove_if_exists(&tmp)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create"))?;
        let mut image = vec![0u8; 2 * SLOT_BYTES];
        image[SLOT_BYTES..].copy_from_slice(&slot(1, payload));
        file.write_all_at(&image, 0).map_err(io_err("write"))?;
        file.sync_all().map_err(io_err("sync"))?;
        let linked = fs::hard_link(&tmp, path);
        remove_if_exists(&tmp)?;
        match linked {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(StoreError::Exists),
            other => other.map_err(io_err("link"))?,
        }
        sync_dir(dir)?;
        Ok(RecordFile {
            file,
            path: path.to_owned(),
            seq: 1,
            poisoned: false,
        })
    }

    /// Opens `path` and returns the newest valid record's payload.
    pub fn open(path: &Path) -> Result<(RecordFile, Vec<u8>), StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err("open"))?;
        let len = file.metadata().map_err(io_err("stat"))?.len();
        if len != FILE_BYTES {
            return Err(StoreError::BadSize { len });
        }
        let mut image = vec![0u8; 2 * SLOT_BYTES];
        file.read_exact_at(&mut image, 0).map_err(io_err("read"))?;
        let (seq, payload) = image
            .chunks_exact(SLOT_BYTES)
            .filter_map(parse_slot)
            .max_by_key(|(seq, _)| *seq)
            .ok_or(StoreError::NoValidSlot)?;
        let record = RecordFile {
            file,
            path: path.to_owned(),
            seq,
            poisoned: false,
        };
        Ok((record, payload.to_vec()))
    }

    /// Writes `payload` as the next record and waits until it is durable.
    pub fn write(&mut self, payload: &[u8]) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        check_len(payload)?;
        let seq = self.seq.checked_add(1).ok_or(StoreError::SeqExhausted)?;
        let offset = (seq % 2) * SLOT_BYTES as u64;
        let written = self
            .file
            .write_all_at(&slot(seq, payload), offset)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.poisoned = true;
            return Err(io_err("write")(e));
        }
        self.seq = seq;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sequence number of the newest record.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

fn check_len(payload: &[u8]) -> Result<(), StoreError> {
    if payload.len() > RECORD_BYTES_MAX {
        return Err(StoreError::TooLarge {
            len: payload.len(),
            max: RECORD_BYTES_MAX,
        });
    }
    Ok(())
}

/// One slot image holding `payload` as record `seq`.
fn slot(seq: u64, payload: &[u8]) -> [u8; SLOT_BYTES] {
    let mut out = [0u8; SLOT_BYTES];
    let len = u32::try_from(payload.len()).expect("checked against RECORD_BYTES_MAX");
    out[..4].copy_from_slice(MAGIC);
    out[4..12].copy_from_slice(&seq.to_le_bytes());
    out[12..16].copy_from_slice(&len.to_le_bytes());
    let end = HEADER_BYTES + payload.len();
    out[HEADER_BYTES..end].copy_from_slice(payload);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out[..16]), payload);
    out[16..20].copy_from_slice(&crc.to_le_bytes());
    out
}

/// The record in a slot, if the slot holds a whole one.
fn parse_slot(bytes: &[u8]) -> Option<(u64, &[u8])> {
    if &bytes[..4] != MAGIC {
        return None;
    }
    let seq = u64::from_le_bytes(bytes[4..12].try_into().ok()?);
    let len = usize::try_from(u32::from_le_bytes(bytes[12..16].try_into().ok()?)).ok()?;
    let crc = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
    if len > RECORD_BYTES_MAX {
        return None;
    }
    let payload = &bytes[HEADER_BYTES..HEADER_BYTES + len];
    let rest_zero = bytes[HEADER_BYTES + len..].iter().all(|b| *b == 0);
    let valid = crc32c::crc32c_append(crc32c::crc32c(&bytes[..16]), payload) == crc;
    (valid && rest_zero && seq > 0).then_some((seq, payload))
}

fn io_err(op: &'static str) -> impl Fn(io::Error) -> StoreError {
    move |source| StoreError::Io { op, source }
}

fn remove_if_exists(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(io_err("remove")(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory"))
}

/// Creates `dir` (and its parents) and syncs each parent whose entries changed.
fn create_dir_durably(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_durably(parent)?;
    }
    match fs::create_dir(dir) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists => {
            return Err(io_err("create directory")(e))
        }
        _ => {}
    }
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
