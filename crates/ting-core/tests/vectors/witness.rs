//! Witness vectors, checked by hand from docs/wire.md §19: each
//! attestation's bytes and signing message rebuilt from its fields and its
//! header, its signature checked under the one rule with the key derived
//! from its seed; the evidence laid out by hand and what it proves read
//! back; each invalid evidence refused with its code.

use serde_json::Value;
use ting_core::witness::{Attestation, Evidence};
use ting_core::{keys, BlockHeader, Keypair};

use super::{dec_u64, hex32, hex_bytes, sha256, signature, vectors};

fn witness(name: &str) -> &'static [Value] {
    vectors()["witness"][name]
        .as_array()
        .unwrap_or_else(|| panic!("witness.{name} is an array"))
}

#[test]
fn every_attestation_vector_is_rebuilt_by_hand_and_verifies() {
    let all = witness("attestations");
    assert!(all.len() >= 2);
    for v in all {
        let name = &v["name"];
        let f = &v["fields"];
        let header = hex_bytes(&v["header_hex"]);
        // The header's hash: SHA-256 of the block domain and the header
        // without its signature (§7.2).
        let hash = sha256(&[b"ting:block:v2", &header[..header.len() - 64]]);
        assert_eq!(hash, hex32(&f["header_hash"]), "{name}: header hash");

        let mut unsigned = vec![1u8];
        unsigned.extend_from_slice(&hex32(&f["genesis"]));
        unsigned.extend_from_slice(&dec_u64(&f["height"]).to_le_bytes());
        unsigned.extend_from_slice(&dec_u64(&f["epoch"]).to_le_bytes());
        unsigned.extend_from_slice(&hash);
        unsigned.extend_from_slice(&hex32(&f["witness"]));
        assert_eq!(
            unsigned.len(),
            113,
            "{name}: 113 bytes before the signature"
        );
        let message = [b"ting:witness:v1".as_slice(), &unsigned].concat();
        assert_eq!(
            message,
            hex_bytes(&v["signing_message_hex"]),
            "{name}: message"
        );
        let sig = signature(&v["signature_hex"]);
        let bytes = [unsigned.as_slice(), &sig.0].concat();
        assert_eq!(bytes, hex_bytes(&v["attestation_hex"]), "{name}: bytes");

        let key = Keypair::from_seed(hex32(&v["witness_seed_hex"]));
        assert_eq!(
            key.account().0,
            hex32(&f["witness"]),
            "{name}: the witness's key"
        );
        assert_eq!(
            keys::verify(&key.account(), &message, &sig),
            Ok(()),
            "{name}: signature"
        );
        let a = Attestation::from_bytes(&bytes).expect("decodes");
        assert_eq!(a.verify(), Ok(()), "{name}");
        assert!(
            a.covers(&BlockHeader::from_bytes(&header).expect("a header")),
            "{name}"
        );
    }
}

#[test]
fn the_evidence_vector_is_laid_out_by_hand_and_proves_what_it_says() {
    for v in witness("evidence") {
        let bytes = hex_bytes(&v["evidence_hex"]);
        assert_eq!(&bytes[..2], &[1, 1], "version 1, kind 1 (equivocation)");
        let (first, second) = bytes[2..].split_at((bytes.len() - 2) / 2);
        let (a, b) = (
            BlockHeader::from_bytes(first).expect("the first header"),
            BlockHeader::from_bytes(second).expect("the second header"),
        );
        assert!(a.hash() < b.hash(), "ordered by hash");
        let proven = Evidence::from_bytes(&bytes)
            .expect("decodes")
            .verify()
            .expect("proves");
        let p = &v["proves"];
        assert_eq!(proven.sequencer.0, hex32(&p["sequencer"]));
        assert_eq!(proven.genesis.0, hex32(&p["genesis"]));
        assert_eq!(proven.height.0, dec_u64(&p["height"]));
        assert_eq!(proven.epoch, dec_u64(&p["epoch"]));
    }
}

#[test]
fn every_invalid_evidence_vector_is_refused_with_its_code() {
    let invalid = witness("invalid_evidence");
    assert!(invalid.len() >= 6);
    for v in invalid {
        let bytes = hex_bytes(&v["evidence_hex"]);
        let got = Evidence::from_bytes(&bytes).and_then(|e| e.verify().map(|_| ()));
        assert_eq!(
            got.map_err(|e| e.code()),
            Err(v["code"].as_str().expect("a code")),
            "{}",
            v["name"]
        );
    }
}
