//! The durable outbox: what the device has signed but the network has not yet taken.
//!
//! Every signed transaction and every outgoing envelope is appended here, and
//! synced, *before* it is sent. While the broker or the node is unreachable it
//! stays; the device's link sends it again on every reconnect. An envelope
//! leaves once the broker acknowledged it (MQTT QoS 1 `PUBACK`); a
//! transaction leaves only when its receipt or a definitive refusal arrived
//! (the rule is in [`crate::device`]'s docs). Resending is harmless: the ledger
//! applies a nonce once and receivers drop a repeated envelope id.
//!
//! ## File format
//!
//! One append-only file, `<state>/outbox.log`: the 8-byte magic `TGOBOX02`
//! (`TGOBOX01` files, of wire version 1, are refused), then records `len u32 | crc32c u32 | body` (see [`log`]). An `ADD` record
//! holds an entry id and the item; a `DONE` record names an id that left.
//! Each append is one `write` and one `fdatasync`, so an entry acknowledged to
//! the caller survives a crash. Opening replays the records, keeps the ADDs
//! without a DONE, and cuts the file after the last whole record (a torn
//! append is the only thing that can follow it).
//!
//! When the dead records outweigh the live ones (and at least
//! [`COMPACT_DEAD_BYTES_MIN`]), the live entries are written to
//! `outbox.tmp`, synced, renamed over the log and the directory synced: a
//! crash leaves either the old file or the new one, never a mix. So the file
//! stays below about twice [`OUTBOX_BYTES_MAX`].
//!
//! ## Limits
//!
//! At most [`OUTBOX_ENTRIES_MAX`] entries and [`OUTBOX_BYTES_MAX`] bytes of
//! items: a push past either is refused with [`OutboxError::Full`], never
//! queued in memory instead.

pub mod log;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use ting_core::AccountId;

use log::{Record, FILE_MAGIC, FILE_MAGIC_WIRE_1, ITEM_BYTES_MAX};

/// Most entries the outbox holds.
pub const OUTBOX_ENTRIES_MAX: usize = 1024;
/// Most bytes of items (transactions and envelopes) the outbox holds.
pub const OUTBOX_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Dead bytes below which the log is not compacted (compaction costs a rewrite).
pub const COMPACT_DEAD_BYTES_MIN: u64 = 64 * 1024;
/// Largest outbox file opened: twice the items, record headers, and slack.
const OUTBOX_FILE_BYTES_MAX: u64 = 3 * OUTBOX_BYTES_MAX as u64 + 16 * 1024 * 1024;

const LOG_NAME: &str = "outbox.log";
const TMP_NAME: &str = "outbox.tmp";

/// What waits to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A signed transaction's canonical bytes, for `ting/v1/tx`.
    Tx(Vec<u8>),
    /// An envelope's bytes, for `ting/v1/inbox/{recipient}`.
    Envelope {
        recipient: AccountId,
        bytes: Vec<u8>,
    },
}

impl Item {
    fn data_len(&self) -> usize {
        match self {
            Item::Tx(b) => b.len(),
            Item::Envelope { bytes, .. } => 32 + bytes.len(),
        }
    }
}

/// Why the outbox could not be opened or changed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OutboxError {
    #[error("the outbox is full ({entries} entries, {bytes} bytes; limits {OUTBOX_ENTRIES_MAX} and {OUTBOX_BYTES_MAX}): wait until the network takes what is queued")]
    Full { entries: usize, bytes: usize },
    #[error("the item is {len} bytes; an outbox item holds at most {ITEM_BYTES_MAX}")]
    ItemTooLarge { len: usize },
    #[error("{path} is not an outbox file: {reason}")]
    NotAnOutbox { path: String, reason: String },
    #[error("{path} holds transactions of wire version 1, which no node of this version takes: the device belongs to a network that must start afresh (a new genesis); move the state directory aside (no migration is offered before 1.0)")]
    WireVersion1 { path: String },
    #[error("outbox {op} failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("an earlier outbox write failed; reopen the device to learn what is on disk")]
    Poisoned,
}

impl OutboxError {
    pub fn code(&self) -> &'static str {
        match self {
            OutboxError::Full { .. } => "outbox_full",
            OutboxError::ItemTooLarge { .. } => "outbox_item_too_large",
            OutboxError::NotAnOutbox { .. } => "not_an_outbox",
            OutboxError::WireVersion1 { .. } => "wire_version_1_data",
            OutboxError::Io { .. } => "io",
            OutboxError::Poisoned => "outbox_poisoned",
        }
    }
}

fn io_err(op: &'static str) -> impl Fn(io::Error) -> OutboxError {
    move |source| OutboxError::Io { op, source }
}

/// The open outbox: its file and the live entries, by id (the order they were pushed).
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    file: File,
    entries: BTreeMap<u64, Item>,
    next_id: u64,
    item_bytes: usize,
    live_file_bytes: u64,
    file_bytes: u64,
    poisoned: bool,
}

impl Outbox {
    /// Opens (or creates) `<dir>/outbox.log` and replays it.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        fs::create_dir_all(dir).map_err(io_err("create directory"))?;
        let path = dir.join(LOG_NAME);
        if !path.exists() {
            write_image(dir, &FILE_MAGIC[..])?;
        }
        let mut file = open_rw(&path)?;
        let bytes = read_bounded(&mut file, &path)?;
        if bytes.get(..FILE_MAGIC.len()) == Some(&FILE_MAGIC_WIRE_1[..]) {
            return Err(OutboxError::WireVersion1 {
                path: path.display().to_string(),
            });
        }
        if bytes.get(..FILE_MAGIC.len()) != Some(&FILE_MAGIC[..]) {
            return Err(OutboxError::NotAnOutbox {
                path: path.display().to_string(),
                reason: "it does not start with TGOBOX02".into(),
            });
        }
        let (records, whole) = log::decode_all(&bytes[FILE_MAGIC.len()..]);
        let end = u64::try_from(FILE_MAGIC.len() + whole).expect("bounded by the file size");
        if end != u64::try_from(bytes.len()).expect("bounded by the file size") {
            // A torn last append: cut it, so new records follow whole ones.
            file.set_len(end).map_err(io_err("truncate"))?;
            file.sync_all().map_err(io_err("sync"))?;
        }
        file.seek(SeekFrom::End(0)).map_err(io_err("seek"))?;
        let mut outbox = Outbox {
            dir: dir.to_owned(),
            file,
            entries: BTreeMap::new(),
            next_id: 1,
            item_bytes: 0,
            live_file_bytes: 0,
            file_bytes: end,
            poisoned: false,
        };
        for record in records {
            outbox.apply(record);
        }
        Ok(outbox)
    }

    /// Appends `item` durably and returns its entry id.
    pub fn push(&mut self, item: Item) -> Result<u64, OutboxError> {
        let len = item.data_len();
        if len > ITEM_BYTES_MAX {
            return Err(OutboxError::ItemTooLarge { len });
        }
        if self.entries.len() >= OUTBOX_ENTRIES_MAX || self.item_bytes + len > OUTBOX_BYTES_MAX {
            return Err(OutboxError::Full {
                entries: self.entries.len(),
                bytes: self.item_bytes,
            });
        }
        let id = self.next_id;
        let record = Record::Add { id, item };
        self.append(&log::encode(&record))?;
        self.apply(record);
        Ok(id)
    }

    /// Removes entry `id` durably; `false` if it was not there.
    pub fn remove(&mut self, id: u64) -> Result<bool, OutboxError> {
        if !self.entries.contains_key(&id) {
            return Ok(false);
        }
        let record = Record::Done { id };
        self.append(&log::encode(&record))?;
        self.apply(record);
        self.compact_if_worth_it()?;
        Ok(true)
    }

    pub fn get(&self, id: u64) -> Option<&Item> {
        self.entries.get(&id)
    }

    /// The live entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &Item)> {
        self.entries.iter().map(|(id, item)| (*id, item))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of items held.
    pub fn item_bytes(&self) -> usize {
        self.item_bytes
    }

    /// Bytes of the log file, live and dead records together.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    fn apply(&mut self, record: Record) {
        match record {
            Record::Add { id, item } => {
                self.next_id = self.next_id.max(id + 1);
                self.item_bytes += item.data_len();
                self.live_file_bytes += add_record_len(&item);
                self.entries.insert(id, item);
            }
            Record::Done { id } => {
                if let Some(item) = self.entries.remove(&id) {
                    self.item_bytes -= item.data_len();
                    self.live_file_bytes -= add_record_len(&item);
                }
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), OutboxError> {
        if self.poisoned {
            return Err(OutboxError::Poisoned);
        }
        let written = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // What reached the disk is unknown until the file is read again.
            self.poisoned = true;
            return Err(io_err("append")(e));
        }
        self.file_bytes += u64::try_from(bytes.len()).expect("a record is small");
        Ok(())
    }

    fn compact_if_worth_it(&mut self) -> Result<(), OutboxError> {
        let header = u64::try_from(FILE_MAGIC.len()).expect("8");
        let dead = self.file_bytes - self.live_file_bytes - header;
        if dead < COMPACT_DEAD_BYTES_MIN || dead < self.live_file_bytes {
            return Ok(());
        }
        self.compact()
    }

    /// Rewrites the log with only the live entries.
    pub fn compact(&mut self) -> Result<(), OutboxError> {
        if self.poisoned {
            return Err(OutboxError::Poisoned);
        }
        let mut image = FILE_MAGIC.to_vec();
        for (id, item) in &self.entries {
            image.extend_from_slice(&log::encode(&Record::Add {
                id: *id,
                item: item.clone(),
            }));
        }
        let reopened = write_image(&self.dir, &image).and_then(|()| {
            let mut file = open_rw(&self.dir.join(LOG_NAME))?;
            file.seek(SeekFrom::End(0)).map_err(io_err("seek"))?;
            Ok(file)
        });
        // Failing after the rename leaves the old handle on an unlinked file.
        self.poisoned = reopened.is_err();
        self.file = reopened?;
        self.file_bytes = u64::try_from(image.len()).expect("bounded by the limits");
        Ok(())
    }
}

/// Bytes of the `ADD` record holding `item`: header, op, id, kind, data.
fn add_record_len(item: &Item) -> u64 {
    u64::try_from(log::RECORD_HEADER_BYTES + 1 + 8 + 1 + item.data_len()).expect("bounded")
}

fn open_rw(path: &Path) -> Result<File, OutboxError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("open"))
}

fn read_bounded(file: &mut File, path: &Path) -> Result<Vec<u8>, OutboxError> {
    let len = file.metadata().map_err(io_err("stat"))?.len();
    if len > OUTBOX_FILE_BYTES_MAX {
        return Err(OutboxError::NotAnOutbox {
            path: path.display().to_string(),
            reason: format!("{len} bytes is over {OUTBOX_FILE_BYTES_MAX}"),
        });
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err("read"))?;
    Ok(bytes)
}

/// Replaces `<dir>/outbox.log` with `image` atomically: temporary file, sync, rename, sync dir.
fn write_image(dir: &Path, image: &[u8]) -> Result<(), OutboxError> {
    let tmp = dir.join(TMP_NAME);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("create"))?;
    file.write_all(image).map_err(io_err("write"))?;
    file.sync_all().map_err(io_err("sync"))?;
    fs::rename(&tmp, dir.join(LOG_NAME)).map_err(io_err("rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync directory"))
}

#[cfg(test)]
mod tests;
