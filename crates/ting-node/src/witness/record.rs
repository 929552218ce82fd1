//! The witness's record of what it attested: one file, `attested.log`, of
//! fixed-size records, record `i` for height `i + 1`: the header's bytes
//! and the witness's attestation signature. Appended and synced before an
//! attestation is served or published, so a witness never attests two
//! blocks at one height, even across a crash; read back whole at start (a
//! torn last record, from a crash mid-write, is cut off).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ting_core::block::HEADER_BYTES;
use ting_core::encoding::Reader;
use ting_core::witness::Attestation;
use ting_core::{AccountId, BlockHeader, BlockHeight, Hash32, Signature};

/// Bytes of one record: a header and a signature.
pub const RECORD_BYTES: usize = HEADER_BYTES + 64;
const FILE_NAME: &str = "attested.log";

/// Why the record cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: record {index} is not this witness's attestation of the block after the one \
         before it ({why}); this data directory belongs to another witness or network, or was damaged"
    )]
    Foreign {
        path: PathBuf,
        index: u64,
        why: &'static str,
    },
}

/// The attestation record, open for appending.
#[derive(Debug)]
pub struct Record {
    file: File,
    path: PathBuf,
    witness: AccountId,
    /// Records in the file: the height of the last attested block.
    height: u64,
    /// The last attested header's hash (the genesis hash before any).
    tip: Hash32,
}

impl Record {
    /// Opens (or creates) the record in `dir` for `witness` on the network
    /// of `genesis`. It is read through once: every record must follow the
    /// one before it (height and previous hash), and the first and the last
    /// must carry this witness's signature (a record of another witness or
    /// network is refused; one signature in between is not checked, since
    /// the chain of hashes already ties each record to the last).
    ///
    /// # Errors
    /// The file cannot be read or written, or a record is not this
    /// witness's attestation of the next block of one chain.
    pub fn open(dir: &Path, witness: &AccountId, genesis: &Hash32) -> Result<Record, RecordError> {
        let path = dir.join(FILE_NAME);
        let io = |source| RecordError::Io {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let whole = len - len % RECORD_BYTES as u64;
        if whole != len {
            tracing::warn!(path = %path.display(), "cutting off a torn last record");
            file.set_len(whole).map_err(io)?;
            file.seek(SeekFrom::End(0)).map_err(io)?;
        }
        let records = whole / RECORD_BYTES as u64;
        let mut reader = std::io::BufReader::with_capacity(RECORD_BYTES * 1024, &file);
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut chunk = [0u8; RECORD_BYTES];
        let mut tip = *genesis;
        for index in 0..records {
            reader.read_exact(&mut chunk).map_err(io)?;
            let foreign = |why| RecordError::Foreign {
                path: path.clone(),
                index,
                why,
            };
            let (header, attestation) =
                decode(&chunk, witness).ok_or_else(|| foreign("it does not decode"))?;
            if header.height.0 != index + 1 || header.prev_hash != tip {
                return Err(foreign("it does not follow"));
            }
            let ends = index == 0 || index + 1 == records;
            if ends && attestation.verify().is_err() {
                return Err(foreign("the signature is not this witness's"));
            }
            tip = header.hash();
        }
        drop(reader);
        Ok(Record {
            file,
            path,
            witness: *witness,
            height: records,
            tip,
        })
    }

    /// The height of the last attested block (0: none).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Appends the attestations of the next blocks and syncs the file.
    ///
    /// # Errors
    /// The write or the sync failed; nothing is to be served then.
    pub fn append(&mut self, attested: &[(BlockHeader, Attestation)]) -> Result<(), RecordError> {
        let mut out = Vec::with_capacity(attested.len() * RECORD_BYTES);
        for (header, a) in attested {
            debug_assert_eq!(
                header.height.0,
                self.height + 1 + (out.len() / RECORD_BYTES) as u64
            );
            out.extend_from_slice(&header.to_bytes());
            out.extend_from_slice(&a.signature.0);
        }
        let io = |source| RecordError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&out).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        if let Some((last, _)) = attested.last() {
            self.height = last.height.0;
            self.tip = last.hash();
        }
        Ok(())
    }

    /// The header attested at `height` and its attestation.
    ///
    /// # Errors
    /// The read failed.
    pub fn get(&self, height: u64) -> Result<Option<(BlockHeader, Attestation)>, RecordError> {
        if height == 0 || height > self.height {
            return Ok(None);
        }
        let mut chunk = [0u8; RECORD_BYTES];
        self.file
            .read_exact_at(&mut chunk, (height - 1) * RECORD_BYTES as u64)
            .map_err(|source| RecordError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(decode(&chunk, &self.witness))
    }
}

/// A record's header and the attestation it stands for.
fn decode(chunk: &[u8], witness: &AccountId) -> Option<(BlockHeader, Attestation)> {
    let mut r = Reader::new(chunk);
    let header = BlockHeader::decode(&mut r).ok()?;
    let signature = Signature(r.take(64, "signature").ok()?.try_into().ok()?);
    r.finish("record").ok()?;
    let attestation = Attestation {
        genesis: header.genesis,
        height: BlockHeight(header.height.0),
        epoch: header.epoch,
        header: header.hash(),
        witness: *witness,
        signature,
    };
    Some((header, attestation))
}

#[cfg(test)]
mod tests {
    use ting_core::{Keypair, Timestamp};

    use super::*;

    fn key(n: u8) -> Keypair {
        Keypair::from_seed([n; 32])
    }

    /// `n` headers chained from `genesis`, each with this witness's attestation.
    fn attested(genesis: &Hash32, n: u64, witness: &Keypair) -> Vec<(BlockHeader, Attestation)> {
        let mut prev = *genesis;
        (1..=n)
            .map(|h| {
                let mut header = BlockHeader {
                    genesis: *genesis,
                    height: BlockHeight(h),
                    epoch: 0,
                    prev_hash: prev,
                    timestamp: Timestamp(1_700_000_000_000 + h),
                    tx_root: Hash32([0; 32]),
                    tx_count: 0,
                    state_root: Hash32([3; 32]),
                    sequencer: key(1).account(),
                    signature: Signature([0; 64]),
                };
                header.sign(&key(1));
                prev = header.hash();
                let a = Attestation::sign(&header, witness);
                (header, a)
            })
            .collect()
    }

    #[test]
    fn a_record_reads_back_cuts_a_torn_tail_and_refuses_another_witness() {
        let dir = tempfile::tempdir().expect("tempdir");
        let genesis = Hash32([7; 32]);
        let me = key(9);
        let all = attested(&genesis, 5, &me);
        let mut record = Record::open(dir.path(), &me.account(), &genesis).expect("opens");
        assert_eq!(record.height(), 0);
        record.append(&all[..3]).expect("appended");
        record.append(&all[3..]).expect("appended");
        assert_eq!(record.get(4).expect("read"), Some(all[3].clone()));
        assert_eq!(record.get(6).expect("read"), None);
        drop(record);

        // A crash mid-write leaves part of a record: it is cut off.
        let path = dir.path().join(FILE_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&[1, 2, 3]).expect("torn bytes");
        drop(f);
        let record = Record::open(dir.path(), &me.account(), &genesis).expect("reopens");
        assert_eq!(record.height(), 5);
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            5 * RECORD_BYTES as u64
        );
        drop(record);

        // Another witness's key, or another network: refused, by name.
        let theirs = Record::open(dir.path(), &key(8).account(), &genesis).expect_err("foreign");
        assert!(
            matches!(theirs, RecordError::Foreign { index: 0, .. }),
            "{theirs}"
        );
        let elsewhere =
            Record::open(dir.path(), &me.account(), &Hash32([6; 32])).expect_err("foreign");
        assert!(
            matches!(elsewhere, RecordError::Foreign { index: 0, .. }),
            "{elsewhere}"
        );
    }
}
