//! Envelope vectors, checked by hand from docs/wire.md §14: the header and
//! signing message rebuilt byte by byte, the signature checked under the one
//! rule, node payloads laid out by hand, the receipt checked as a device
//! checks it, and the sealed payload opened with a secret derived here from
//! the recipient's seed.

use serde_json::Value;
use ting_core::envelope::{Envelope, HelloPayload, ReceiptPayload};
use ting_core::keys;
use ting_core::seal::{self, MessagingSecret};

use super::{
    account, dec_u64, flip, hash, hex32, hex_bytes, list, num_u32, proof_from, sha256, signature,
};

fn header_by_hand(f: &Value) -> Vec<u8> {
    let mut b = vec![2u8];
    b.extend_from_slice(&hex32(&f["genesis"]));
    b.extend_from_slice(&hex32(&f["sender"]));
    b.extend_from_slice(&hex32(&f["recipient"]));
    let kind = u16::try_from(f["type"].as_u64().expect("a type")).expect("a u16");
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&hex_bytes(&f["id_hex"]));
    b.extend_from_slice(&dec_u64(&f["timestamp"]).to_le_bytes());
    b.push(u8::from(f["encrypted"].as_bool().expect("a bool")));
    assert_eq!(b.len(), 124);
    b
}

fn check_envelope(v: &Value) {
    let name = &v["name"];
    let f = &v["fields"];
    let header = header_by_hand(f);
    assert_eq!(header, hex_bytes(&v["header_hex"]), "{name}: header");
    let payload = hex_bytes(&v["payload_hex"]);
    let mut unsigned = header.clone();
    let len = u32::try_from(payload.len()).expect("a short payload");
    unsigned.extend_from_slice(&len.to_le_bytes());
    unsigned.extend_from_slice(&payload);
    let message = [b"ting:envelope:v2".as_slice(), &unsigned].concat();
    assert_eq!(
        message,
        hex_bytes(&v["signing_message_hex"]),
        "{name}: message"
    );
    let sig = signature(&v["signature_hex"]);
    let encoded = [unsigned, sig.0.to_vec()].concat();
    assert_eq!(encoded, hex_bytes(&v["encoded_hex"]), "{name}: encoding");
    let sender = account(&f["sender"]);
    let signer = ting_core::Keypair::from_seed(hex32(&v["sender_seed_hex"]));
    assert_eq!(signer.account(), sender, "{name}: sender seed");
    assert_eq!(keys::verify(&sender, &message, &sig), Ok(()), "{name}");
    assert_eq!(
        signer.sign(&message),
        sig,
        "{name}: deterministic signature"
    );

    let env = Envelope::decode(&encoded).expect("a valid vector decodes");
    assert_eq!(env.encode(), encoded, "{name}: re-encoding");
    assert_eq!(env.header.kind.name(), f["type_name"], "{name}: type name");
    assert_eq!(env.verify(), Ok(()), "{name}");
    if f["type_name"] == "receipt" {
        check_receipt_payload(v, &payload);
    }
    if f["type_name"] == "hello" {
        // 41 bytes: the genesis hash, the height, the state; addressed to its sender.
        assert_eq!(payload.len(), 32 + 8 + 1, "{name}");
        assert_eq!(f["recipient"], f["sender"], "{name}");
        let p = HelloPayload::decode(&payload).expect("a hello payload");
        assert_eq!(payload[..32], p.genesis_hash.0, "{name}");
        assert_eq!(payload[32..40], p.height.0.to_le_bytes(), "{name}");
        assert_eq!(payload[40], u8::from(p.serving), "{name}");
    }
    if f["encrypted"] == true {
        check_sealed(v, &header, &payload);
    }
}

/// docs/wire.md §10.1 by hand: `tx_hash | header | index | count | sibling
/// count | siblings`, the header being the block vector's own bytes.
fn receipt_by_hand(r: &Value, header: &[u8]) -> Vec<u8> {
    let proof = &r["proof"];
    let siblings = proof["siblings_hex"].as_array().expect("siblings");
    let mut b = hex32(&r["tx_hash_hex"]).to_vec();
    b.extend_from_slice(header);
    b.extend_from_slice(&num_u32(&proof["index"]).to_le_bytes());
    b.extend_from_slice(&num_u32(&proof["count"]).to_le_bytes());
    b.push(u8::try_from(siblings.len()).expect("a short path"));
    for sibling in siblings {
        b.extend_from_slice(&hex32(sibling));
    }
    assert_eq!(b.len(), 32 + 253 + 4 + 4 + 1 + 32 * siblings.len());
    b
}

/// The receipt payload is a transaction of its block vector with that
/// block's header, laid out by hand; it verifies under the vector genesis
/// and sequencer as a device checks it, and no longer does with a bit of any
/// one byte flipped, whether in the hash, the header, the path or a sibling.
fn check_receipt_payload(v: &Value, payload: &[u8]) {
    let name = &v["name"];
    let r = &v["receipt"];
    let block = list("blocks")
        .iter()
        .find(|b| b["name"] == r["block"])
        .expect("the receipt's block is a block vector");
    let header = hex_bytes(&block["header_hex"]);
    assert_eq!(payload, receipt_by_hand(r, &header), "{name}: layout");
    let listed = block["receipts"]
        .as_array()
        .expect("receipts")
        .iter()
        .find(|b| b["tx_hash_hex"] == r["tx_hash_hex"])
        .expect("the receipt's transaction is in its block");
    assert_eq!(listed["proof"], r["proof"], "{name}: the block's path");
    let index = usize::try_from(num_u32(&r["proof"]["index"])).expect("small");
    assert_eq!(
        block["transactions"][index], r["transaction"],
        "{name}: the named transaction"
    );
    assert!(
        !proof_from(&r["proof"]).siblings.is_empty(),
        "{name}: a path with siblings"
    );

    let receipt = ReceiptPayload::decode(payload).expect("a receipt payload");
    assert_eq!(receipt.tx_hash, hash(&r["tx_hash_hex"]), "{name}");
    assert_eq!(receipt.proof, proof_from(&r["proof"]), "{name}");
    assert_eq!(receipt.encode(), payload, "{name}: re-encoding");
    let genesis = &list("genesis")[0];
    let genesis_hash = hash(&genesis["genesis_hash_hex"]);
    let sequencers: Vec<_> = genesis["fields"]["sequencers"]
        .as_array()
        .expect("sequencers")
        .iter()
        .map(account)
        .collect();
    assert_eq!(
        receipt.verify(&genesis_hash, &sequencers),
        Ok(()),
        "{name}: verifies"
    );
    assert!(
        ReceiptPayload::decode(&payload[..payload.len() - 1]).is_err(),
        "{name}: cut"
    );
    let code = |r: &ReceiptPayload| r.verify(&genesis_hash, &sequencers).map_err(|e| e.code());
    let mut bad = receipt.clone();
    flip(&mut bad.header.tx_root.0, 0);
    assert_eq!(code(&bad), Err("bad_header_signature"), "{name}: header");
    let mut bad = receipt.clone();
    let last = bad.proof.siblings.len() - 1;
    flip(&mut bad.proof.siblings[last].0, 31);
    assert_eq!(code(&bad), Err("bad_proof"), "{name}: sibling");
    for at in 0..payload.len() {
        let mut bad = payload.to_vec();
        flip(&mut bad, at);
        let refused = ReceiptPayload::decode(&bad)
            .map_or(true, |bad| bad.verify(&genesis_hash, &sequencers).is_err());
        assert!(refused, "{name}: byte {at} changed");
    }
}

/// The recipient's secret from its seed by docs/wire.md §14.3, then HPKE open.
fn check_sealed(v: &Value, header: &[u8], payload: &[u8]) {
    let seed = hex_bytes(&v["recipient_seed_hex"]);
    let mut secret = sha256(&[b"ting:x25519:v1", &seed]);
    secret[0] &= 248;
    secret[31] &= 127;
    secret[31] |= 64;
    assert_eq!(secret, hex32(&v["recipient_x25519_secret_hex"]));
    let secret = MessagingSecret::from_bytes(secret);
    assert_eq!(
        secret.public().0,
        hex32(&v["recipient_messaging_key_hex"]),
        "the messaging key is X25519(secret, 9)"
    );
    assert_eq!(hex_bytes(&v["hpke_info_hex"]), b"ting:hpke:v1");
    let opened = seal::open(&secret, header, payload).expect("the sealed vector opens");
    assert_eq!(opened, hex_bytes(&v["plaintext_hex"]));
    let env = Envelope::decode(&hex_bytes(&v["encoded_hex"])).expect("decodes");
    assert_eq!(env.open_payload(&secret).expect("opens"), opened);
    let mut moved = header.to_vec();
    moved[95] = 0;
    assert!(
        seal::open(&secret, &moved, payload).is_err(),
        "aad binds the header"
    );
}

fn check_invalid_envelope(v: &Value) {
    let bytes = hex_bytes(&v["encoded_hex"]);
    let err = Envelope::decode(&bytes).expect_err("an invalid vector must not decode");
    assert_eq!(err.code(), v["error"], "{}: {err}", v["name"]);
}

#[test]
fn every_envelope_vector_matches_the_code_and_the_document() {
    let envelopes = list("envelopes");
    envelopes.iter().for_each(check_envelope);
    for kind in ["receipt", "refusal", "error", "hello", "data"] {
        assert!(envelopes.iter().any(|v| v["fields"]["type_name"] == kind));
    }
    assert!(envelopes.iter().any(|v| v["fields"]["encrypted"] == true));
}

#[test]
fn every_invalid_envelope_vector_is_refused_with_its_code() {
    let invalid = list("invalid_envelopes");
    assert!(!invalid.is_empty());
    invalid.iter().for_each(check_invalid_envelope);
}
