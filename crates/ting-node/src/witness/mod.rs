//! Witness mode (`ting node --witness --follow URL`): follow a sequencer's
//! log over HTTP, re-execute every block on a state of the witness's own,
//! and sign an attestation of each header whose block checked out
//! (`check.rs`). Attestations are recorded and synced before they are
//! served (`record.rs`), so a witness never attests two blocks at one
//! height, even across a crash; a restarted witness replays the log from
//! the start and compares it with what it attested.
//!
//! What the witness finds wrong stops it attesting that chain: a block that
//! does not check (a bad signature, a body that is not the header's, a
//! state root that does not follow) is reported on `GET /v1/status`.
//! Evidence (`ting_core::witness::Evidence`) is what proves the sequencer
//! wrong to anyone: a different block served or shown at a height already
//! attested, in the same epoch; a block whose state root does not follow,
//! with proofs of the state it touched (`ting_ledger::evidence`); a block
//! holding a forged transaction. It is written to the data directory as
//! `evidence-HEIGHT-ID.hex`, served at `GET /v1/evidence` and published.
//! Anyone may hand the witness a header they were shown (`POST
//! /v1/headers`) to have it compared.

mod check;
mod follow;
mod http;
mod publish;
mod record;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ting_core::witness::{Evidence, Proven, ProvenFault};
use ting_core::{AccountId, Genesis, Hash32, Keypair};
use ting_ledger::evidence::Network;

pub use check::{compare, verify, verify_all, Checker, Fault, Found};
pub use follow::FOLLOW_POLL;
pub use http::serve;
pub use publish::Publisher;
pub use record::{Record, RecordError, RECORD_BYTES};

/// What a witness needs.
#[derive(Debug)]
pub struct WitnessConfig {
    /// The sequencer's HTTP API (`http://HOST:PORT`).
    pub follow: String,
    pub key: Keypair,
    pub genesis: Genesis,
    pub data_dir: PathBuf,
    /// Where attestations and evidence are also published, if anywhere.
    pub publisher: Option<Publisher>,
}

/// What the follower found and the HTTP API serves.
#[derive(Debug, Default)]
pub struct Findings {
    /// The sequencer's durable height, as it last said.
    pub sequencer_height: u64,
    /// Why the witness stopped attesting, if it did.
    pub fault: Option<(String, String)>,
    /// Evidence found, oldest first, with what it proves.
    pub evidence: Vec<(Evidence, Proven)>,
    /// The last error reaching the sequencer, while it lasts.
    pub unreachable: Option<String>,
}

/// The witness's parts shared by its follower and its HTTP API.
#[derive(Debug)]
pub struct WitnessShared {
    pub witness: AccountId,
    /// The network followed: evidence is checked against it.
    pub genesis: Genesis,
    pub genesis_hash: Hash32,
    pub follow: String,
    pub data_dir: PathBuf,
    pub record: Mutex<Record>,
    pub findings: Mutex<Findings>,
    pub publisher: Option<Publisher>,
}

impl WitnessShared {
    /// Notes evidence if it proves something against the network followed;
    /// `false` if it does not, or was noted already.
    ///
    /// # Errors
    /// The file could not be written.
    pub fn add_evidence(&self, evidence: Evidence) -> std::io::Result<bool> {
        match self.check(&evidence) {
            Ok(proven) => self.add_proven(evidence, proven),
            Err(_) => Ok(false),
        }
    }

    /// Notes evidence that [`WitnessShared::check`] found proves `proven`:
    /// written (and synced) to the data directory first, then served and
    /// published; `false` if it was noted already.
    ///
    /// # Errors
    /// The file could not be written.
    pub fn add_proven(&self, evidence: Evidence, proven: Proven) -> std::io::Result<bool> {
        let mut findings = self.findings.lock().expect("findings lock");
        if findings.evidence.iter().any(|(e, _)| *e == evidence) {
            return Ok(false);
        }
        // Encoded once: a wrong root's evidence runs to megabytes.
        let bytes = evidence.to_bytes();
        let path = self.data_dir.join(format!(
            "evidence-{}-{}.hex",
            proven.height.0,
            evidence_id(&bytes)
        ));
        write_synced(&path, hex::encode(&bytes).as_bytes())?;
        tracing::error!(
            path = %path.display(),
            height = proven.height.0,
            epoch = proven.epoch,
            sequencer = %proven.sequencer.to_did(),
            fault = proven.fault.code(),
            "EVIDENCE: the sequencer {}",
            what_it_did(&proven)
        );
        if let Some(p) = &self.publisher {
            p.evidence(bytes);
        }
        findings.evidence.push((evidence, proven));
        Ok(true)
    }
}

impl WitnessShared {
    /// What `evidence` proves against the network followed.
    ///
    /// # Errors
    /// Why it proves nothing.
    pub fn check(&self, evidence: &Evidence) -> Result<Proven, ting_core::witness::EvidenceError> {
        ting_ledger::evidence::verify(evidence, &Network::of(&self.genesis))
    }
}

/// What proven evidence shows the sequencer did, for the log.
fn what_it_did(proven: &Proven) -> &'static str {
    match proven.fault {
        ProvenFault::Equivocation => "signed two different blocks at one height",
        ProvenFault::WrongStateRoot { .. } => {
            "signed a block whose state root does not follow from its transactions"
        }
        ProvenFault::ForgedTransaction { .. } => {
            "signed a block holding a transaction its sender did not sign"
        }
        _ => "broke the ledger's rules",
    }
}

/// A short name for one piece of evidence (its bytes), for its file.
fn evidence_id(bytes: &[u8]) -> String {
    let digest = Hash32::digest(&[bytes]);
    digest.to_hex()[..16].to_owned()
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Evidence kept in `dir` by an earlier run, that proves something against
/// the network of `genesis`.
fn load_evidence(dir: &Path, genesis: &Genesis) -> std::io::Result<Vec<(Evidence, Proven)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("evidence-") && name.ends_with(".hex")) {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let parsed = hex::decode(text.trim())
            .ok()
            .and_then(|b| Evidence::from_bytes(&b).ok())
            .and_then(|e| {
                let proven = ting_ledger::evidence::verify(&e, &Network::of(genesis)).ok()?;
                Some((e, proven))
            });
        match parsed {
            Some(found) => out.push(found),
            _ => tracing::warn!(path = %path.display(), "not evidence; left alone"),
        }
    }
    Ok(out)
}

/// A running witness: its follower thread and what it shares.
#[derive(Debug)]
pub struct Witness {
    pub shared: Arc<WitnessShared>,
    follower: follow::Follower,
}

/// Why a witness could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("--follow {0:?} is not an http:// URL of a node")]
    FollowUrl(String),
}

impl Witness {
    /// Opens the record in the data directory and starts following.
    ///
    /// # Errors
    /// The data directory or the record cannot be used, or the URL is not
    /// an `http://` one.
    pub fn start(cfg: WitnessConfig) -> Result<Witness, StartError> {
        let follow = cfg.follow.trim_end_matches('/').to_owned();
        if !follow.starts_with("http://") || follow.len() <= "http://".len() {
            return Err(StartError::FollowUrl(cfg.follow));
        }
        let dir_err = |source| StartError::DataDir {
            path: cfg.data_dir.clone(),
            source,
        };
        std::fs::create_dir_all(&cfg.data_dir).map_err(dir_err)?;
        let witness = cfg.key.account();
        let genesis_hash = cfg.genesis.hash();
        let record = Record::open(&cfg.data_dir, &witness, &genesis_hash)?;
        let evidence = load_evidence(&cfg.data_dir, &cfg.genesis).map_err(dir_err)?;
        let shared = Arc::new(WitnessShared {
            witness,
            genesis: cfg.genesis.clone(),
            genesis_hash,
            follow,
            data_dir: cfg.data_dir.clone(),
            record: Mutex::new(record),
            findings: Mutex::new(Findings {
                evidence,
                ..Findings::default()
            }),
            publisher: cfg.publisher,
        });
        let follower = follow::Follower::spawn(Arc::clone(&shared), &cfg.genesis, cfg.key);
        Ok(Witness { shared, follower })
    }

    /// Stops following (the HTTP API is the caller's to stop).
    pub fn stop(self) {
        self.follower.stop();
    }
}
