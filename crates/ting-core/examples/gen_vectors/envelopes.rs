//! The envelope vectors (docs/wire.md §14): signed envelopes of each kind of
//! payload, one HPKE-sealed with everything a reader needs to open it, and
//! encodings every decoder must refuse. The receipt envelope carries a real
//! receipt (docs/wire.md §10.1) of a transaction of block 1 of the block
//! vectors, so that a reader can check it as a device does.

use serde_json::{json, Value};
use ting_core::envelope::{
    Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, ErrorPayload, HelloPayload, ReceiptPayload,
    RefusalPayload,
};
use ting_core::seal::{MessagingSecret, HPKE_INFO};
use ting_core::{merkle, Block, BlockHeight, Hash32, Keypair, Timestamp};

use super::{genesis_hash, key, seed, GENESIS_MS};

/// The block vector the receipt envelope's receipt comes from, and which of its transactions.
const RECEIPT_BLOCK: &str = "block_1_four_transactions";
/// `transfer_without_memo`, third of four: its path has two siblings.
const RECEIPT_TX_INDEX: usize = 2;

/// Hands out `ikm` then zeros: the HPKE ephemeral key is `DeriveKeyPair(ikm)`.
pub struct FixedRng(pub Vec<u8>);

impl rand_core::TryRng for FixedRng {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst.iter_mut() {
            *byte = if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            };
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for FixedRng {}

fn header(sender: &Keypair, recipient: &str, kind: EnvelopeType, n: u64) -> EnvelopeHeader {
    EnvelopeHeader {
        genesis: genesis_hash(),
        sender: sender.account(),
        recipient: key(recipient).account(),
        kind,
        id: EnvelopeId::from_counter(n),
        timestamp: Timestamp(GENESIS_MS + n),
        encrypted: false,
    }
}

fn vector(name: &str, signer: &str, env: &Envelope) -> Value {
    let h = &env.header;
    json!({
        "name": name,
        "sender_seed_hex": hex::encode(key(signer).seed()),
        "fields": {
            "genesis": h.genesis.to_hex(),
            "sender": h.sender.to_hex(),
            "recipient": h.recipient.to_hex(),
            "type": h.kind.0,
            "type_name": h.kind.name(),
            "id_hex": h.id.to_hex(),
            "timestamp": h.timestamp.0.to_string(),
            "encrypted": h.encrypted,
        },
        "header_hex": hex::encode(env.header_bytes()),
        "payload_hex": hex::encode(&env.payload),
        "signing_message_hex": hex::encode(env.signing_message()),
        "signature_hex": env.signature.to_hex(),
        "encoded_hex": hex::encode(env.encode()),
    })
}

/// A node's announcement: addressed to itself, naming a genesis and a height.
fn hello_vector(seq: &Keypair) -> Value {
    let hello = HelloPayload {
        genesis_hash: genesis_hash(),
        height: BlockHeight(7),
        serving: true,
    };
    let env = Envelope::sign(
        header(seq, "sequencer", EnvelopeType::HELLO, 6),
        hello.encode(),
        seq,
    )
    .expect("small payload");
    vector("hello", "sequencer", &env)
}

/// The receipt of one transaction of [`RECEIPT_BLOCK`], rebuilt from that
/// block vector as the node builds it: the signed header and the Merkle path.
/// The second value names where it comes from, for the vector's readers.
fn block_receipt() -> (ReceiptPayload, Value) {
    let txs: Vec<_> = super::tx_specs().iter().map(super::tx_vector).collect();
    let g = super::genesis();
    let blocks = super::block_vectors(&g, &txs);
    let v = blocks
        .iter()
        .find(|b| b["name"] == RECEIPT_BLOCK)
        .expect("the receipt's block is a block vector");
    let encoded = hex::decode(v["encoded_hex"].as_str().expect("hex")).expect("valid hex");
    let block = Block::decode(&encoded).expect("a block vector decodes");
    let hashes = block.tx_hashes();
    let receipt = ReceiptPayload {
        tx_hash: hashes[RECEIPT_TX_INDEX],
        proof: merkle::prove(&hashes, RECEIPT_TX_INDEX).expect("index in range"),
        header: block.header,
    };
    assert_eq!(
        receipt.verify(&g.hash(), &g.sequencers),
        Ok(()),
        "the vector receipt proves its transaction"
    );
    let about = json!({
        "receipt": {
            "block": RECEIPT_BLOCK,
            "transaction": v["transactions"][RECEIPT_TX_INDEX],
            "tx_hash_hex": receipt.tx_hash.to_hex(),
            "proof": super::proof_json(&receipt.proof),
        }
    });
    (receipt, about)
}

pub fn envelope_vectors() -> Vec<Value> {
    let seq = key("sequencer");
    let alice = key("alice");
    let (receipt, receipt_about) = block_receipt();
    // A transaction the ledger refused is in no block: a hash of its own.
    let refusal = RefusalPayload {
        tx_hash: Hash32::digest(&[b"ting:test-vector:envelope-tx"]),
        code: "insufficient_funds".into(),
        message: "balance 5 is less than 9".into(),
    };
    let error = ErrorPayload {
        code: "bad_signature".into(),
        message: "the signature does not verify under the sender's key".into(),
    };
    let sign = |kind, n, payload: Vec<u8>, signer: &Keypair| {
        Envelope::sign(header(signer, "alice", kind, n), payload, signer).expect("small payload")
    };
    let mut receipt_vector = vector(
        "receipt",
        "sequencer",
        &sign(EnvelopeType::RECEIPT, 1, receipt.encode(), &seq),
    );
    super::merge(&mut receipt_vector, &receipt_about);
    let mut out = vec![
        receipt_vector,
        vector(
            "refusal",
            "sequencer",
            &sign(EnvelopeType::REFUSAL, 2, refusal.encode(), &seq),
        ),
        vector(
            "error",
            "sequencer",
            &sign(EnvelopeType::ERROR, 3, error.encode(), &seq),
        ),
        hello_vector(&seq),
    ];
    let data = Envelope::sign(
        header(&alice, "bob", EnvelopeType::DATA, 4),
        b"flow=12.5L/min".to_vec(),
        &alice,
    )
    .expect("small payload");
    out.push(vector("data_plain", "alice", &data));
    out.push(sealed_vector(&alice));
    out
}

fn sealed_vector(alice: &Keypair) -> Value {
    let bob_seed = seed("bob");
    let bob_secret = MessagingSecret::derive(&bob_seed);
    let ikm = seed("envelope-ephemeral");
    let plaintext = b"meter 0417: 1234.5 m3";
    let env = Envelope::seal_and_sign(
        header(alice, "bob", EnvelopeType::DATA, 5),
        plaintext,
        &bob_secret.public(),
        alice,
        &mut FixedRng(ikm.to_vec()),
    )
    .expect("a valid key");
    let mut v = vector("data_sealed", "alice", &env);
    let extra = json!({
        "recipient_seed_hex": hex::encode(bob_seed),
        "recipient_x25519_secret_hex": hex::encode(bob_secret.to_bytes()),
        "recipient_messaging_key_hex": bob_secret.public().to_hex(),
        "hpke_info_hex": hex::encode(HPKE_INFO),
        "ephemeral_ikm_hex": hex::encode(ikm),
        "plaintext_hex": hex::encode(plaintext),
    });
    super::merge(&mut v, &extra);
    v
}

/// Encodings every envelope decoder must refuse, with ting-core's error code.
pub fn invalid_envelope_vectors() -> Vec<Value> {
    let alice = key("alice");
    let good = Envelope::sign(
        header(&alice, "bob", EnvelopeType::DATA, 9),
        b"x".to_vec(),
        &alice,
    )
    .expect("small payload")
    .encode();
    let flags_at = ting_core::envelope::HEADER_BYTES - 1;
    let len_at = ting_core::envelope::HEADER_BYTES;
    let with = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    let mut trailing = good.clone();
    trailing.push(0);
    let over = u32::try_from(ting_core::limits::ENVELOPE_PAYLOAD_BYTES_MAX + 1).expect("fits");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("version_1", with(0, &[1]), "unsupported_version"),
        ("flags_bit_1", with(flags_at, &[0x02]), "invalid_value"),
        (
            "flags_encrypted_and_bit_1",
            with(flags_at, &[0x03]),
            "invalid_value",
        ),
        (
            "payload_length_over_limit",
            with(len_at, &over.to_le_bytes()),
            "too_long",
        ),
        (
            "payload_length_past_end",
            with(len_at, &2u32.to_le_bytes()),
            "truncated",
        ),
        (
            "signature_cut",
            good[..good.len() - 1].to_vec(),
            "truncated",
        ),
        ("trailing_byte", trailing, "trailing_bytes"),
        ("empty", Vec::new(), "truncated"),
    ];
    cases
        .into_iter()
        .map(|(name, bytes, error)| {
            json!({ "name": name, "encoded_hex": hex::encode(bytes), "error": error })
        })
        .collect()
}
