//! Witness vectors (docs/wire.md §19): attestations of two headers by the
//! `witness` key, an equivocation by the `sequencer` key, and evidence that
//! proves nothing, each with the code a reader gives it.

use serde_json::{json, Value};
use ting_core::block::{BlockDraft, BlockHeader};
use ting_core::witness::{Attestation, Evidence, WITNESS_DOMAIN};
use ting_core::{Block, BlockHeight, Hash32, Timestamp};

use super::{genesis_hash, key, seed, GENESIS_MS};

/// An empty block at `height` in `epoch`, `offset` ms after the height's
/// usual time, signed by the `signer` key.
fn header(height: u64, epoch: u64, offset: u64, signer: &str) -> BlockHeader {
    let g = genesis_hash();
    Block::seal(
        BlockDraft {
            genesis: g,
            height: BlockHeight(height),
            epoch,
            prev_hash: Hash32::digest(&[b"vector previous block", &height.to_le_bytes()]),
            timestamp: Timestamp(GENESIS_MS + height * 1_000 + offset),
            state_root: Hash32::digest(&[b"vector state root"]),
        },
        Vec::new(),
        &key(signer),
    )
    .header
}

fn attestation_vector(name: &str, h: &BlockHeader) -> Value {
    let a = Attestation::sign(h, &key("witness"));
    let bytes = a.to_bytes();
    let unsigned = &bytes[..bytes.len() - 64];
    json!({
        "name": name,
        "header_hex": hex::encode(h.to_bytes()),
        "witness_seed_hex": hex::encode(seed("witness")),
        "fields": {
            "genesis": a.genesis.to_hex(),
            "height": a.height.0.to_string(),
            "epoch": a.epoch.to_string(),
            "header_hash": a.header.to_hex(),
            "witness": hex::encode(a.witness.0),
        },
        "signing_message_hex": hex::encode([WITNESS_DOMAIN, unsigned].concat()),
        "signature_hex": a.signature.to_hex(),
        "attestation_hex": hex::encode(bytes),
    })
}

pub fn witness_vectors() -> Value {
    let first = header(2, 0, 0, "sequencer");
    let second = header(2, 0, 7, "sequencer");
    let evidence = Evidence::equivocation(first.clone(), second.clone());
    let proven = evidence.verify().expect("the vector evidence proves");
    json!({
        "attestations": [
            attestation_vector("block_1", &header(1, 0, 0, "sequencer")),
            attestation_vector("block_2_epoch_3", &header(2, 3, 0, "sequencer")),
        ],
        "evidence": [{
            "name": "equivocation",
            "evidence_hex": hex::encode(evidence.to_bytes()),
            "proves": {
                "sequencer": hex::encode(proven.sequencer.0),
                "genesis": proven.genesis.to_hex(),
                "height": proven.height.0.to_string(),
                "epoch": proven.epoch.to_string(),
            },
        }],
        "invalid_evidence": invalid_evidence(&first, &second),
    })
}

fn invalid(name: &str, bytes: Vec<u8>, code: &str) -> Value {
    json!({ "name": name, "evidence_hex": hex::encode(bytes), "code": code })
}

/// Raw evidence bytes of two headers in the order given.
fn raw(a: &BlockHeader, b: &BlockHeader) -> Vec<u8> {
    [&[1u8, 1][..], &a.to_bytes(), &b.to_bytes()].concat()
}

fn ordered(a: BlockHeader, b: BlockHeader) -> Vec<u8> {
    Evidence::equivocation(a, b).to_bytes()
}

fn invalid_evidence(first: &BlockHeader, second: &BlockHeader) -> Vec<Value> {
    let good = Evidence::equivocation(first.clone(), second.clone()).to_bytes();
    let Evidence::Equivocation {
        first: lo,
        second: hi,
    } = Evidence::equivocation(first.clone(), second.clone())
    else {
        unreachable!("one kind")
    };
    let mut forged = second.clone();
    forged.signature.0[0] ^= 1;
    let mut version = good.clone();
    version[0] = 2;
    vec![
        invalid(
            "same_block",
            ordered(first.clone(), first.clone()),
            "same_block",
        ),
        invalid(
            "failover_two_epochs",
            ordered(first.clone(), header(2, 1, 7, "sequencer")),
            "two_epochs",
        ),
        invalid(
            "two_heights",
            ordered(first.clone(), header(3, 0, 7, "sequencer")),
            "two_heights",
        ),
        invalid(
            "two_signers",
            ordered(first.clone(), header(2, 0, 7, "alice")),
            "two_signers",
        ),
        invalid(
            "forged_signature",
            ordered(first.clone(), forged),
            "bad_signature",
        ),
        invalid("headers_out_of_order", raw(&hi, &lo), "invalid_value"),
        invalid("unknown_version", version, "unsupported_version"),
        invalid("truncated", good[..good.len() - 1].to_vec(), "truncated"),
    ]
}
