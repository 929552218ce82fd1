//! What the gateway knows of each lease it serves, and how it is kept on
//! disk: one file per lease, written whole before anything depends on it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ting_core::resource::{Lease, LeaseId};
use ting_core::Signature;

use super::super::store::{self, GatewayLease};
use super::super::RelayError;
use super::{Gateway, MISSING_RANGES_MAX};

/// One lease being served.
#[derive(Debug)]
pub(super) struct Served {
    pub(super) lease: Lease,
    pub(super) relayed: u64,
    pub(super) best: Option<(u64, Signature)>,
    /// The count the ledger has paid (the lease's `delivered` when found).
    pub(super) settled: u64,
    pub(super) last_seq: Option<u64>,
    /// Seqs below `last_seq` not relayed, as ranges `a..b`.
    pub(super) missing: Vec<(u64, u64)>,
    pub(super) done: bool,
}

impl Served {
    pub(super) fn signed(&self) -> u64 {
        self.best.map_or(self.settled, |(c, _)| c.max(self.settled))
    }

    /// Whether `seq` was relayed already: at or below the last seq and not
    /// skipped over.
    pub(super) fn relayed_already(&self, seq: u64) -> bool {
        self.last_seq.is_some_and(|last| seq <= last)
            && !self.missing.iter().any(|(a, b)| (*a..*b).contains(&seq))
    }

    /// Relaying `seq` would skip a new range while the most are remembered.
    pub(super) fn too_many_gaps(&self, seq: u64) -> bool {
        let next = self.last_seq.map_or(self.lease.delivered, |l| l + 1);
        seq > next && self.missing.len() >= MISSING_RANGES_MAX
    }

    /// Notes `seq` relayed: past the last, the seqs skipped are missing;
    /// below it, one missing seq fewer.
    pub(super) fn note_relayed(&mut self, seq: u64) {
        match self.last_seq {
            Some(last) if seq <= last => {
                let mut kept = Vec::with_capacity(self.missing.len() + 1);
                for (a, b) in self.missing.drain(..) {
                    if (a..b).contains(&seq) {
                        kept.extend([(a, seq), (seq + 1, b)].into_iter().filter(|(x, y)| x < y));
                    } else {
                        kept.push((a, b));
                    }
                }
                self.missing = kept;
            }
            _ => {
                let next = self.last_seq.map_or(self.lease.delivered, |l| l + 1);
                if seq > next {
                    self.missing.push((next, seq));
                }
                self.last_seq = Some(seq);
            }
        }
    }

    pub(super) fn record(&self) -> GatewayLease {
        GatewayLease {
            relayed: self.relayed,
            last_seq: self.last_seq,
            missing: self.missing.clone(),
            settled: self.settled,
            best: self.best,
            done: self.done,
        }
    }
}

pub(super) fn lease_path(dir: &Path, lease: &LeaseId) -> PathBuf {
    dir.join(format!("{}.lease", lease.to_hex()))
}

impl Gateway {
    /// Writes what is known of `lease` durably, whole or not at all.
    pub(super) fn save(&self, lease: &LeaseId) -> Result<(), RelayError> {
        let Some(s) = self.served.get(lease) else {
            return Ok(());
        };
        store::save(&lease_path(&self.dir, lease), &s.record().to_text())
    }
}

/// Every lease file under `dir`, by lease; temporary files of a write that
/// did not finish are skipped, a damaged file is an error.
pub(super) fn load_leases(dir: &Path) -> Result<BTreeMap<LeaseId, GatewayLease>, RelayError> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|source| RelayError::Io {
        op: "list the gateway's leases",
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| RelayError::Io {
                op: "list the gateway's leases",
                source,
            })?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(id) = name.strip_suffix(".lease").and_then(LeaseId::from_hex) else {
            continue;
        };
        let Some(text) = store::load(&path)? else {
            continue;
        };
        let record = GatewayLease::from_text(&text)
            .ok_or_else(|| RelayError::Damaged(path.display().to_string()))?;
        out.insert(id, record);
    }
    Ok(out)
}
