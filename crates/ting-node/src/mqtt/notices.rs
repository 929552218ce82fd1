//! What the gateway tells a device in its inbox, and how it is signed.
//!
//! A notice is queued unsigned (small, cheap to drop) and signed by the
//! publisher with the node's sequencer key just before it is published.
//! Its envelope id is derived from what it is about, so a notice published
//! twice (a transaction sent twice, a node restarted) carries the same id and
//! the device's replay cache drops the copy.

use ting_core::{AccountId, BlockHeight, Hash32, Keypair, Timestamp};

use crate::pipeline::{Committed, Refusal};
use ting_core::envelope::{
    Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, ErrorPayload, HelloPayload, RefusalPayload,
};

/// Domain of the notice ids, so they cannot collide with other uses of SHA-256.
const NOTICE_ID_DOMAIN: &[u8] = b"ting:mqtt:notice-id:v1";

/// One message for a device's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    Receipt {
        to: AccountId,
        committed: Committed,
    },
    Refusal {
        to: AccountId,
        refusal: Refusal,
    },
    /// A payload the node could not take; `about` is the transaction's hash, or
    /// the payload's when it is not a transaction.
    Error {
        to: AccountId,
        about: Hash32,
        code: &'static str,
        message: String,
    },
}

impl Notice {
    pub fn recipient(&self) -> AccountId {
        match self {
            Notice::Receipt { to, .. } | Notice::Refusal { to, .. } | Notice::Error { to, .. } => {
                *to
            }
        }
    }

    /// The metrics label of this notice's kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Notice::Receipt { .. } => "receipt",
            Notice::Refusal { .. } => "refusal",
            Notice::Error { .. } => "error",
        }
    }

    fn kind_about_payload(&self) -> (EnvelopeType, Hash32, Vec<u8>) {
        match self {
            Notice::Receipt { committed: c, .. } => {
                (EnvelopeType::RECEIPT, c.tx_hash, c.receipt().encode())
            }
            Notice::Refusal { refusal: r, .. } => {
                let p = RefusalPayload {
                    tx_hash: r.tx_hash,
                    code: r.code.to_string(),
                    message: r.message.clone(),
                };
                (EnvelopeType::REFUSAL, r.tx_hash, p.encode())
            }
            Notice::Error {
                about,
                code,
                message,
                ..
            } => {
                let p = ErrorPayload {
                    code: (*code).to_string(),
                    message: message.clone(),
                };
                (EnvelopeType::ERROR, *about, p.encode())
            }
        }
    }
}

/// The id of the notice of `kind` about `about`: the first 16 bytes of
/// SHA-256(domain ‖ type ‖ about).
pub fn notice_id(kind: EnvelopeType, about: &Hash32) -> EnvelopeId {
    let digest = Hash32::digest(&[NOTICE_ID_DOMAIN, &kind.0.to_le_bytes(), &about.0]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest.0[..16]);
    EnvelopeId(id)
}

/// Signs notices as the node.
#[derive(Debug)]
pub(crate) struct Signer {
    pub key: Keypair,
    /// The genesis hash every notice names.
    pub genesis: Hash32,
    /// What stamps the notices.
    pub time: crate::clock::NetworkTime,
}

impl Signer {
    /// The envelope bytes of `notice`, stamped `now`. `None` only if the payload
    /// were over the envelope limit, which a message cut to size cannot be.
    pub fn seal(&self, notice: &Notice, now: Timestamp) -> Option<Vec<u8>> {
        let (kind, about, payload) = notice.kind_about_payload();
        let header = EnvelopeHeader {
            genesis: self.genesis,
            sender: self.key.account(),
            recipient: notice.recipient(),
            kind,
            id: notice_id(kind, &about),
            timestamp: now,
            encrypted: false,
        };
        match Envelope::sign(header, payload, &self.key) {
            Ok(e) => Some(e.encode()),
            Err(e) => {
                tracing::error!(error = %e, "a notice could not be sealed");
                None
            }
        }
    }
}

/// The node's announcement on its broker (docs/mqtt.md §1): a self-addressed
/// `hello` naming the genesis and the durable height, serving or leaving,
/// with the gateway run's id.
pub(crate) fn hello(
    a: &Announcer,
    genesis_hash: Hash32,
    height: BlockHeight,
    serving: bool,
) -> Vec<u8> {
    let header = EnvelopeHeader {
        genesis: genesis_hash,
        sender: a.key.account(),
        recipient: a.key.account(),
        kind: EnvelopeType::HELLO,
        id: a.run,
        timestamp: a.time.now(),
        encrypted: false,
    };
    let payload = HelloPayload {
        genesis_hash,
        height,
        serving,
    };
    Envelope::sign(header, payload.encode(), &a.key)
        .expect("a hello is far below the envelope limit and signed by its sender")
        .encode()
}

/// What the node announces itself with on its broker.
#[derive(Debug)]
pub(crate) struct Announcer {
    pub key: Keypair,
    /// `ting/v1/nodes/{sequencer}`.
    pub topic: String,
    /// One id for a gateway run: its serving hellos and its leaving one.
    pub run: EnvelopeId,
    /// What stamps the hellos.
    pub time: crate::clock::NetworkTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_id_depends_on_its_type_and_subject_only() {
        let a = Hash32([1; 32]);
        let b = Hash32([2; 32]);
        assert_eq!(
            notice_id(EnvelopeType::RECEIPT, &a),
            notice_id(EnvelopeType::RECEIPT, &a)
        );
        assert_ne!(
            notice_id(EnvelopeType::RECEIPT, &a),
            notice_id(EnvelopeType::REFUSAL, &a)
        );
        assert_ne!(
            notice_id(EnvelopeType::RECEIPT, &a),
            notice_id(EnvelopeType::RECEIPT, &b)
        );
    }
}
