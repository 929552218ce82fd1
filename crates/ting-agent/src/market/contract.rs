//! A contract's small file: what the buyer or the provider must remember
//! of one call across a crash.
//!
//! Text, one `key value` per line, values in lowercase hex: a first line
//! `ting-market-buyer 1` or `ting-market-provider 1`, then `call` (the
//! signed call as published), `status` (a word), and as they become known
//! `hold` (the hold id), `chosen` (the provider and the proposal's bytes),
//! `evidence` (while it is being presented) and, on the buyer's side, one
//! `proposal` line per proposal received.
//! The file is written whole or not at all (a temporary file, synced,
//! renamed over it, the directory synced), at every change of status and
//! before anything that depends on it goes out.

use std::path::{Path, PathBuf};

use ting_core::market::cfp::{Proposal, SignedCall};
use ting_core::market::{HoldId, SignedEvidence};
use ting_core::{AccountId, Hash32};

use super::MarketError;

/// Bytes of a contract file read back: a call, 64 proposals and slack.
const CONTRACT_FILE_BYTES_MAX: u64 = 256 * 1024;

/// One side's record of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    pub call: SignedCall,
    pub status: String,
    pub hold: Option<HoldId>,
    /// The proposal taken (buyer) or made (provider), with its provider.
    pub chosen: Option<(AccountId, Proposal)>,
    /// Proposals received (buyer only), in arrival order.
    pub proposals: Vec<(AccountId, Proposal)>,
    /// Counter-offer rounds started (buyer) or answered (provider).
    pub round: u8,
    /// The evidence being presented, kept until the hold has ended.
    pub evidence: Option<SignedEvidence>,
}

impl Contract {
    pub fn new(call: SignedCall, status: &str) -> Contract {
        Contract {
            call,
            status: status.to_owned(),
            hold: None,
            chosen: None,
            proposals: Vec::new(),
            round: 0,
            evidence: None,
        }
    }

    /// The call's hash: the contract's name.
    pub fn id(&self) -> Hash32 {
        self.call.hash()
    }

    fn to_text(&self, role: &str) -> String {
        let mut out = format!("ting-market-{role} 1\n");
        out.push_str(&format!("call {}\n", hex::encode(self.call.to_bytes())));
        out.push_str(&format!("status {}\n", self.status));
        out.push_str(&format!("round {}\n", self.round));
        if let Some(h) = &self.hold {
            out.push_str(&format!("hold {}\n", h.to_hex()));
        }
        if let Some((who, p)) = &self.chosen {
            out.push_str(&format!(
                "chosen {} {}\n",
                who.to_hex(),
                hex::encode(p.encode())
            ));
        }
        if let Some(e) = &self.evidence {
            out.push_str(&format!("evidence {}\n", hex::encode(e.to_bytes())));
        }
        for (who, p) in &self.proposals {
            out.push_str(&format!(
                "proposal {} {}\n",
                who.to_hex(),
                hex::encode(p.encode())
            ));
        }
        out
    }

    fn from_text(text: &str, role: &str) -> Option<Contract> {
        let mut lines = text.lines();
        if lines.next()? != format!("ting-market-{role} 1") {
            return None;
        }
        let mut c: Option<Contract> = None;
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            if key == "call" {
                let call = SignedCall::from_bytes(&hex::decode(value).ok()?).ok()?;
                c = Some(Contract::new(call, ""));
                continue;
            }
            let c = c.as_mut()?;
            match key {
                "status" => c.status = value.to_owned(),
                "round" => c.round = value.parse().ok()?,
                "hold" => c.hold = Some(HoldId::from_hex(value)?),
                "chosen" => c.chosen = Some(party_proposal(value)?),
                "proposal" => c.proposals.push(party_proposal(value)?),
                "evidence" => {
                    c.evidence = Some(SignedEvidence::from_bytes(&hex::decode(value).ok()?).ok()?)
                }
                _ => return None,
            }
        }
        c.filter(|c| !c.status.is_empty())
    }
}

fn party_proposal(value: &str) -> Option<(AccountId, Proposal)> {
    let (who, bytes) = value.split_once(' ')?;
    let who = AccountId(hex::decode(who).ok()?.try_into().ok()?);
    Some((who, Proposal::decode(&hex::decode(bytes).ok()?).ok()?))
}

/// Where one role keeps its contracts: `<state>/market/<role>/<call hash>`.
#[derive(Clone, Debug)]
pub struct ContractDir {
    dir: PathBuf,
    role: &'static str,
}

impl ContractDir {
    /// Opens (creating it) the directory of `role` (`buyer` or `provider`).
    pub fn open(state_dir: &Path, role: &'static str) -> Result<ContractDir, MarketError> {
        let dir = state_dir.join("market").join(role);
        std::fs::create_dir_all(&dir).map_err(io("create the contract directory"))?;
        Ok(ContractDir { dir, role })
    }

    /// Every contract kept, by call hash. A damaged file is an error that
    /// names it: it is never skipped, since it may hold money's state.
    pub fn load(&self) -> Result<Vec<Contract>, MarketError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io("list the contracts"))? {
            let path = entry.map_err(io("list the contracts"))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.len() != 64 {
                // Temporary files of a write that did not finish.
                continue;
            }
            out.push(self.read(&path)?);
        }
        Ok(out)
    }

    fn read(&self, path: &Path) -> Result<Contract, MarketError> {
        let damaged = || MarketError::Damaged(path.display().to_string());
        let len = std::fs::metadata(path)
            .map_err(io("read a contract"))?
            .len();
        if len > CONTRACT_FILE_BYTES_MAX {
            return Err(damaged());
        }
        let text = std::fs::read_to_string(path).map_err(io("read a contract"))?;
        let c = Contract::from_text(&text, self.role).ok_or_else(damaged)?;
        if c.id().to_hex() != path.file_name().and_then(|n| n.to_str()).unwrap_or("") {
            return Err(damaged());
        }
        Ok(c)
    }

    /// Removes the file of the contract for call `id`, durably.
    pub fn remove(&self, id: &Hash32) -> Result<(), MarketError> {
        match std::fs::remove_file(self.dir.join(id.to_hex())) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("remove a contract")(e)),
        }
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync the contract directory"))
    }

    /// Writes `c` whole, synced, before returning.
    pub fn save(&self, c: &Contract) -> Result<(), MarketError> {
        crate::durable::write_synced(
            &self.dir.join(c.id().to_hex()),
            c.to_text(self.role).as_bytes(),
        )
        .map_err(io("write a contract"))
    }
}

fn io(op: &'static str) -> impl Fn(std::io::Error) -> MarketError {
    move |source| MarketError::Io { op, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::market::cfp::Call;
    use ting_core::market::ReleaseRule;
    use ting_core::{Amount, Keypair, Timestamp};

    fn contract() -> Contract {
        let buyer = Keypair::from_seed([1; 32]);
        let call = Call {
            genesis: Hash32([0; 32]),
            buyer: buyer.account(),
            id: 9,
            issued_at: Timestamp(1_000),
            answer_by: Timestamp(2_000),
            deliver_by: Timestamp(9_000),
            grace_ms: 60_000,
            category: "water.cartridge.replace".into(),
            area: "u4pr".into(),
            spec: "one cartridge".into(),
            max_price: Amount::new(500),
            rounds: 1,
            rule: ReleaseRule::Payer,
            arbiter: None,
        }
        .sign(&buyer);
        let proposal = Proposal {
            call: call.hash(),
            round: 0,
            price: Amount::new(400),
            deliver_by: Timestamp(8_000),
            warranty_ms: 0,
            valid_until: Timestamp(3_000),
            offer: None,
            note: "on time".into(),
        };
        let mut c = Contract::new(call, "accepted");
        c.hold = Some(HoldId(Hash32([4; 32])));
        c.chosen = Some((AccountId([5; 32]), proposal.clone()));
        c.proposals = vec![
            (AccountId([5; 32]), proposal.clone()),
            (AccountId([6; 32]), proposal),
        ];
        c.round = 1;
        c
    }

    #[test]
    fn a_contract_comes_back_as_it_was_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContractDir::open(dir.path(), "buyer").expect("opens");
        let c = contract();
        store.save(&c).expect("saved");
        std::fs::write(store.dir.join("half.tmp-1234"), "torn").expect("a leftover");
        assert_eq!(store.load().expect("loads"), vec![c.clone()]);
        store.remove(&c.id()).expect("removed");
        assert!(store.load().expect("loads").is_empty());
    }

    #[test]
    fn a_damaged_or_misnamed_contract_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ContractDir::open(dir.path(), "buyer").expect("opens");
        let c = contract();
        store.save(&c).expect("saved");
        let path = store.dir.join(c.id().to_hex());
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replace("status accepted", "status")).expect("damage");
        let err = store.load().expect_err("damaged");
        assert_eq!(err.code(), "damaged_contract");
        assert!(err.to_string().contains(&c.id().to_hex()));
        std::fs::remove_file(&path).expect("removed");
        std::fs::write(store.dir.join("ab".repeat(32)), text).expect("another name");
        assert_eq!(
            store.load().expect_err("misnamed").code(),
            "damaged_contract"
        );
        // A provider's directory does not read a buyer's file.
        let provider = ContractDir::open(dir.path(), "provider").expect("opens");
        std::fs::write(provider.dir.join(c.id().to_hex()), c.to_text("buyer")).expect("written");
        assert_eq!(
            provider.load().expect_err("wrong role").code(),
            "damaged_contract"
        );
    }
}
