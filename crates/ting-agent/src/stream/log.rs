//! An append-only file of CRC-checked records: what a seller's stream log,
//! its sales and a buyer's purchases are kept in.
//!
//! Layout: an 8-byte magic naming what the file holds, then records `len
//! u32 | crc32c u32 | body [len]` (little-endian; the CRC-32C covers the
//! four `len` bytes and the body). Opening reads every whole record and
//! cuts a torn tail, so new records follow whole ones. [`AppendLog::append`]
//! writes without syncing (the bytes survive a killed process, in the page
//! cache); [`AppendLog::sync`] makes everything appended so far durable,
//! and [`AppendLog::append_synced`] does both. Files are mode 0600. A file
//! that fails its checks more than one record before its end is damaged,
//! not torn, and is refused rather than cut.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// Longest record body.
pub const LOG_RECORD_BYTES_MAX: usize = 16 * 1024;
/// Largest log file read at open: past it the caller starts a new file.
pub const LOG_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
const HEADER_BYTES: usize = 8;

fn io(op: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |source| StoreError::Io { op, source }
}

/// An open log.
#[derive(Debug)]
pub struct AppendLog {
    file: File,
    path: PathBuf,
    bytes: u64,
    unsynced: bool,
}

impl AppendLog {
    /// Opens or creates the log at `path` for files starting with `magic`,
    /// and answers every whole record's body in order.
    pub fn open(path: &Path, magic: &[u8; 8]) -> Result<(AppendLog, Vec<Vec<u8>>), StoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io("open a log"))?;
        let len = file.metadata().map_err(io("read a log's size"))?.len();
        if len > LOG_FILE_BYTES_MAX {
            return Err(StoreError::TooLarge {
                len: usize::try_from(len).unwrap_or(usize::MAX),
                max: usize::try_from(LOG_FILE_BYTES_MAX).unwrap_or(usize::MAX),
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(io("read a log"))?;
        if bytes.is_empty() {
            file.write_all(magic).map_err(io("write a log's magic"))?;
            file.sync_all().map_err(io("sync a log"))?;
            if let Some(dir) = path.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io("sync a log's directory"))?;
            }
            bytes.extend_from_slice(magic);
        }
        if bytes.get(..magic.len()) != Some(&magic[..]) {
            return Err(StoreError::Io {
                op: "read a log",
                source: std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "{} does not start with {}",
                        path.display(),
                        String::from_utf8_lossy(magic)
                    ),
                ),
            });
        }
        let (records, whole) = decode_all(&bytes[magic.len()..]);
        let tail = bytes
            .len()
            .saturating_sub(magic.len().saturating_add(whole));
        if tail > HEADER_BYTES.saturating_add(LOG_RECORD_BYTES_MAX) {
            // More than one append's worth does not decode: not a torn last
            // record but damage in the middle, and cutting there would drop
            // records that were synced (a seller would then number points
            // again that it already sealed). Nothing is written; an operator
            // looks at the file.
            return Err(StoreError::Io {
                op: "read a log",
                source: std::io::Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "{} is damaged {} bytes before its end, past what a torn write leaves",
                        path.display(),
                        tail
                    ),
                ),
            });
        }
        let end = u64::try_from(magic.len().saturating_add(whole)).unwrap_or(u64::MAX);
        if end != bytes.len() as u64 {
            file.set_len(end).map_err(io("cut a log's torn tail"))?;
            file.sync_all().map_err(io("sync a log"))?;
        }
        file.seek(SeekFrom::Start(end)).map_err(io("seek a log"))?;
        let log = AppendLog {
            file,
            path: path.to_owned(),
            bytes: end,
            unsynced: false,
        };
        Ok((log, records))
    }

    /// Appends one record; durable only after [`AppendLog::sync`].
    pub fn append(&mut self, body: &[u8]) -> Result<(), StoreError> {
        if body.len() > LOG_RECORD_BYTES_MAX {
            return Err(StoreError::TooLarge {
                len: body.len(),
                max: LOG_RECORD_BYTES_MAX,
            });
        }
        let len = u32::try_from(body.len()).expect("bounded above");
        let crc = crc32c::crc32c_append(crc32c::crc32c(&len.to_le_bytes()), body);
        let mut record = Vec::with_capacity(HEADER_BYTES.saturating_add(body.len()));
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&crc.to_le_bytes());
        record.extend_from_slice(body);
        self.file
            .write_all(&record)
            .map_err(io("append to a log"))?;
        self.bytes = self.bytes.saturating_add(record.len() as u64);
        self.unsynced = true;
        Ok(())
    }

    /// Makes every record appended so far durable.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        if self.unsynced {
            self.file.sync_data().map_err(io("sync a log"))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Appends one record and makes it durable.
    pub fn append_synced(&mut self, body: &[u8]) -> Result<(), StoreError> {
        self.append(body)?;
        self.sync()
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The whole records at the start of `bytes` and how many bytes they span.
fn decode_all(bytes: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while let Some((body, len)) = decode_one(&bytes[at..]) {
        records.push(body.to_vec());
        at = at.saturating_add(len);
    }
    (records, at)
}

fn decode_one(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let len_bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    if len > LOG_RECORD_BYTES_MAX {
        return None;
    }
    let body = bytes.get(HEADER_BYTES..HEADER_BYTES.checked_add(len)?)?;
    if crc32c::crc32c_append(crc32c::crc32c(&len_bytes), body) != crc {
        return None;
    }
    Some((body, HEADER_BYTES.saturating_add(len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"TGTEST01";

    #[test]
    fn records_come_back_in_order_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("a.log");
        let (mut log, none) = AppendLog::open(&path, MAGIC).expect("created");
        assert!(none.is_empty());
        log.append(b"one").expect("appended");
        log.append_synced(b"two").expect("appended");
        let whole = log.len();
        drop(log);
        // A torn third record: its header promises more than is there.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&[9, 0, 0, 0, 1, 2, 3, 4, b'x']).expect("write");
        drop(f);
        let (mut log, records) = AppendLog::open(&path, MAGIC).expect("reopened");
        assert_eq!(records, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(log.len(), whole, "the torn tail is cut");
        log.append_synced(b"three").expect("appended");
        let (_, records) = AppendLog::open(&path, MAGIC).expect("reopened");
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn damage_before_the_last_record_is_refused_not_cut() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("a.log");
        let (mut log, _) = AppendLog::open(&path, MAGIC).expect("created");
        let big = vec![7u8; LOG_RECORD_BYTES_MAX];
        for _ in 0..3 {
            log.append(&big).expect("appended");
        }
        log.sync().expect("synced");
        drop(log);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[MAGIC.len() + HEADER_BYTES + 5] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(AppendLog::open(&path, MAGIC).is_err());
        assert_eq!(
            std::fs::read(&path).expect("read"),
            bytes,
            "nothing was cut"
        );
    }

    #[test]
    fn a_flipped_byte_ends_the_log_there_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("a.log");
        let (mut log, _) = AppendLog::open(&path, MAGIC).expect("created");
        for body in [b"aaaa", b"bbbb", b"cccc"] {
            log.append(body).expect("appended");
        }
        log.sync().expect("synced");
        drop(log);
        let mut bytes = std::fs::read(&path).expect("read");
        let second = MAGIC.len() + HEADER_BYTES + 4 + HEADER_BYTES;
        bytes[second] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let (_, records) = AppendLog::open(&path, MAGIC).expect("reopened");
        assert_eq!(records, vec![b"aaaa".to_vec()]);
        let other = dir.path().join("b.log");
        std::fs::write(&other, b"NOTALOG!rest").expect("write");
        assert!(AppendLog::open(&other, MAGIC).is_err());
    }
}
