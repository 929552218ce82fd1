//! Prints `docs/test-vectors/transactions.json`, the wire format's test vectors.
//!
//! Run from the workspace root:
//!
//! ```text
//! cargo run -p ting-core --example gen_vectors > docs/test-vectors/transactions.json
//! ```
//!
//! Everything is deterministic: every key is made from a seed derived from a
//! label (`SHA-256("ting:test-vector:seed:" || label)`), Ed25519 signing is
//! deterministic, and no clock or random source is read. The output only
//! changes when the encoding changes. `tests/vectors.rs` checks the file
//! against the code without using this program, and docs/wire.md describes
//! its layout.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use serde_json::{json, Value};
use ting_core::block::Block;
use ting_core::merkle;
use ting_core::tx::{device_consent_message, TxBody, TxKind};
use ting_core::{
    AccountId, Amount, BlockHeight, Genesis, Hash32, Keypair, NetworkId, Nonce, SignedTx, Timestamp,
};

/// The network id of every vector: its little-endian bytes `78 56 34 12` show the byte order.
const NETWORK: NetworkId = NetworkId(0x1234_5678);
/// Genesis and first-block time: 2023-11-14T22:13:20Z, in milliseconds.
const GENESIS_MS: u64 = 1_700_000_000_000;
/// Sizes of the Merkle trees in the vectors.
const MERKLE_SIZES: [u32; 7] = [0, 1, 2, 3, 5, 8, 13];

fn seed(label: &str) -> [u8; 32] {
    Hash32::digest(&[b"ting:test-vector:seed:", label.as_bytes()]).0
}

fn key(label: &str) -> Keypair {
    Keypair::from_seed(seed(label))
}

fn id(label: &str) -> AccountId {
    key(label).account()
}

fn hex_list(hashes: &[Hash32]) -> Vec<String> {
    hashes.iter().map(Hash32::to_hex).collect()
}

// ---- Transactions ----

/// One transaction to sign: who signs, with which nonce, and the kind with its JSON fields.
struct TxSpec {
    name: &'static str,
    signer: &'static str,
    nonce: u64,
    kind: TxKind,
    fields: Value,
    /// Extra top-level members (the device's seed and consent message).
    extra: Value,
}

fn transfer(to: &str, amount: u64, memo: &[u8]) -> (TxKind, Value) {
    let kind = TxKind::Transfer {
        to: id(to),
        amount: Amount::new(amount),
        memo: memo.to_vec(),
    };
    let fields = json!({
        "to": id(to).to_hex(),
        "amount": amount.to_string(),
        "memo_hex": hex::encode(memo),
    });
    (kind, fields)
}

fn mint(to: &str, amount: u64) -> (TxKind, Value) {
    let kind = TxKind::Mint {
        to: id(to),
        amount: Amount::new(amount),
    };
    let fields = json!({ "to": id(to).to_hex(), "amount": amount.to_string() });
    (kind, fields)
}

/// A registration of `device` under `owner`, with the device's consent signature.
fn register_device(owner: &str, device: &str, metadata: &[u8]) -> (TxKind, Value, Value) {
    let device_key = key(device);
    let consent = device_consent_message(NETWORK, &id(owner), &id(device), metadata);
    let device_signature = device_key.sign(&consent);
    let kind = TxKind::RegisterDevice {
        device: id(device),
        metadata: metadata.to_vec(),
        device_signature,
    };
    let fields = json!({
        "device": id(device).to_hex(),
        "metadata_hex": hex::encode(metadata),
        "device_signature_hex": device_signature.to_hex(),
    });
    let extra = json!({
        "device_seed_hex": hex::encode(device_key.seed()),
        "device_consent_message_hex": hex::encode(&consent),
    });
    (kind, fields, extra)
}

fn set_spend_limit(device: &str, per_day: Option<u64>) -> (TxKind, Value) {
    let kind = TxKind::SetSpendLimit {
        device: id(device),
        per_day: per_day.map(Amount::new),
    };
    let fields = json!({
        "device": id(device).to_hex(),
        "per_day": per_day.map(|v| v.to_string()),
    });
    (kind, fields)
}

fn device_only(device: &str, freeze: bool) -> (TxKind, Value) {
    let kind = if freeze {
        TxKind::Freeze { device: id(device) }
    } else {
        TxKind::Unfreeze { device: id(device) }
    };
    (kind, json!({ "device": id(device).to_hex() }))
}

fn sweep(device: &str, amount: u64) -> (TxKind, Value) {
    let kind = TxKind::Sweep {
        device: id(device),
        amount: Amount::new(amount),
    };
    let fields = json!({ "device": id(device).to_hex(), "amount": amount.to_string() });
    (kind, fields)
}

fn spec(
    name: &'static str,
    signer: &'static str,
    nonce: u64,
    (kind, fields): (TxKind, Value),
) -> TxSpec {
    TxSpec {
        name,
        signer,
        nonce,
        kind,
        fields,
        extra: json!({}),
    }
}

fn tx_specs() -> Vec<TxSpec> {
    let memo_max = [0xa5u8; ting_core::limits::MEMO_BYTES_MAX];
    let (reg_kind, reg_fields, reg_extra) =
        register_device("owner", "device", b"model=aqua-p2;serial=000417");
    let (reg2_kind, reg2_fields, reg2_extra) = register_device("owner2", "device2", b"");
    vec![
        spec("mint", "issuer", 0, mint("alice", 1_000_000)),
        spec(
            "transfer_with_memo",
            "alice",
            0,
            transfer("bob", 250_000, b"cartridge #4417"),
        ),
        spec("transfer_without_memo", "alice", 1, transfer("bob", 1, b"")),
        spec(
            "transfer_full_width_values",
            "bob",
            0x0102_0304_0506_0708,
            transfer("alice", u64::MAX, &memo_max),
        ),
        TxSpec {
            name: "register_device",
            signer: "owner",
            nonce: 0,
            kind: reg_kind,
            fields: reg_fields,
            extra: reg_extra,
        },
        TxSpec {
            name: "register_device_without_metadata",
            signer: "owner2",
            nonce: 0,
            kind: reg2_kind,
            fields: reg2_fields,
            extra: reg2_extra,
        },
        spec(
            "set_spend_limit",
            "owner",
            1,
            set_spend_limit("device", Some(5_000)),
        ),
        spec(
            "set_spend_limit_none",
            "owner",
            2,
            set_spend_limit("device", None),
        ),
        spec("freeze", "owner", 3, device_only("device", true)),
        spec("unfreeze", "owner", 4, device_only("device", false)),
        spec("sweep", "owner", 5, sweep("device", 1_234)),
    ]
}

fn tx_vector(spec: &TxSpec) -> (Value, SignedTx) {
    let signer = key(spec.signer);
    let body = TxBody {
        network: NETWORK,
        sender: signer.account(),
        nonce: Nonce(spec.nonce),
        kind: spec.kind.clone(),
    };
    let signing_message = body.signing_message();
    let tx = body.sign(&signer);
    let mut fields = json!({
        "network": NETWORK.0,
        "sender": signer.account().to_hex(),
        "nonce": spec.nonce.to_string(),
    });
    merge(&mut fields, &spec.fields);
    let mut vector = json!({
        "name": spec.name,
        "kind": spec.kind.name(),
        "kind_tag": tx.bytes()[45],
        "seed_hex": hex::encode(signer.seed()),
        "public_key_hex": signer.account().to_hex(),
        "public_key_did": signer.account().to_did(),
        "fields": fields,
        "signing_message_hex": hex::encode(&signing_message),
        "signature_hex": tx.signature().to_hex(),
        "encoded_hex": hex::encode(tx.bytes()),
        "tx_hash_hex": tx.hash().to_hex(),
    });
    merge(&mut vector, &spec.extra);
    (vector, tx)
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Encodings that every decoder must refuse, each with the error code ting-core gives.
fn invalid_vectors(txs: &[(Value, SignedTx)]) -> Vec<Value> {
    let by_name = |name: &str| {
        txs.iter()
            .find(|(v, _)| v["name"] == name)
            .map(|(_, tx)| tx.bytes().to_vec())
            .expect("named vector exists")
    };
    let transfer = by_name("transfer_with_memo");
    let limit = by_name("set_spend_limit_none");
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push(("empty_input", Vec::new(), "truncated"));
    cases.push((
        "missing_last_signature_byte",
        transfer[..transfer.len() - 1].to_vec(),
        "truncated",
    ));
    let mut longer = transfer.clone();
    longer.push(0);
    cases.push(("one_trailing_byte", longer, "trailing_bytes"));
    let mut version = transfer.clone();
    version[0] = 2;
    cases.push(("version_2", version, "unsupported_version"));
    let mut unknown = transfer.clone();
    unknown[45] = 0x03;
    cases.push(("unknown_kind_0x03", unknown, "unknown_kind"));
    let mut memo = transfer[..86].to_vec();
    memo.push(65);
    memo.extend_from_slice(&[0x61; 65]);
    memo.extend_from_slice(&[0; 64]);
    cases.push(("memo_of_65_bytes", memo, "too_long"));
    let mut metadata = by_name("register_device")[..78].to_vec();
    metadata.extend_from_slice(&257u16.to_le_bytes());
    metadata.extend_from_slice(&[0; 257 + 64 + 64]);
    cases.push(("metadata_of_257_bytes", metadata, "too_long"));
    let mut flag = limit.clone();
    flag[78] = 2;
    cases.push(("spend_limit_flag_2", flag, "invalid_value"));
    let oversized = vec![1u8; ting_core::limits::TX_BYTES_MAX + 1];
    cases.push(("over_tx_bytes_max", oversized, "too_long"));
    cases
        .into_iter()
        .map(|(name, bytes, error)| {
            let got = SignedTx::decode(&bytes).map(|_| ()).map_err(|e| e.code());
            assert_eq!(got, Err(error), "{name}");
            json!({ "name": name, "encoded_hex": hex::encode(&bytes), "error": error })
        })
        .collect()
}

// ---- Merkle trees ----

fn merkle_leaf(i: u32) -> Hash32 {
    Hash32::digest(&[b"ting:test-vector:leaf:", &i.to_le_bytes()])
}

fn merkle_vector(count: u32) -> Value {
    let leaves: Vec<Hash32> = (0..count).map(merkle_leaf).collect();
    let leaf_hashes: Vec<Hash32> = leaves.iter().map(merkle::leaf_hash).collect();
    let proofs: Vec<Value> = (0..leaves.len())
        .map(|i| proof_json(&merkle::prove(&leaves, i).expect("index in range")))
        .collect();
    json!({
        "count": count,
        "tx_hashes_hex": hex_list(&leaves),
        "leaf_hashes_hex": hex_list(&leaf_hashes),
        "root_hex": merkle::root(&leaves).to_hex(),
        "proofs": proofs,
    })
}

fn proof_json(proof: &merkle::MerkleProof) -> Value {
    json!({
        "index": proof.index,
        "count": proof.count,
        "siblings_hex": hex_list(&proof.siblings),
    })
}

// ---- Genesis and blocks ----

fn genesis() -> Genesis {
    Genesis {
        name: "ting-test-vectors".into(),
        network: NETWORK,
        timestamp: Timestamp(GENESIS_MS),
        issuers: vec![id("issuer")],
        sequencers: vec![id("sequencer")],
        allocations: vec![
            (id("owner"), Amount::new(500)),
            (id("owner2"), Amount::new(70)),
        ],
    }
}

fn genesis_vector(g: &Genesis) -> Value {
    g.validate().expect("the vector genesis is valid");
    let allocations: Vec<Value> = g
        .allocations
        .iter()
        .map(|(who, amount)| json!({ "account": who.to_hex(), "amount": amount.to_string() }))
        .collect();
    json!({
        "name": "genesis",
        "fields": {
            "name": g.name,
            "network": g.network.0,
            "timestamp": g.timestamp.0.to_string(),
            "issuers": g.issuers.iter().map(AccountId::to_hex).collect::<Vec<_>>(),
            "sequencers": g.sequencers.iter().map(AccountId::to_hex).collect::<Vec<_>>(),
            "allocations": allocations,
        },
        "encoded_hex": hex::encode(g.encode()),
        "genesis_hash_hex": g.hash().to_hex(),
    })
}

fn block_vector(name: &str, block: &Block, tx_names: &[&str]) -> Value {
    let h = &block.header;
    let hashes = block.tx_hashes();
    let receipts: Vec<Value> = (0..hashes.len())
        .map(|i| {
            let proof = merkle::prove(&hashes, i).expect("index in range");
            json!({ "tx_hash_hex": hashes[i].to_hex(), "proof": proof_json(&proof) })
        })
        .collect();
    json!({
        "name": name,
        "sequencer_seed_hex": hex::encode(seed("sequencer")),
        "sequencer_public_key_hex": h.sequencer.to_hex(),
        "fields": {
            "network": h.network.0,
            "height": h.height.0.to_string(),
            "prev_hash": h.prev_hash.to_hex(),
            "timestamp": h.timestamp.0.to_string(),
            "tx_root": h.tx_root.to_hex(),
            "tx_count": h.tx_count,
            "sequencer": h.sequencer.to_hex(),
        },
        "transactions": tx_names,
        "transactions_hex": block.txs.iter().map(|t| hex::encode(t.bytes())).collect::<Vec<_>>(),
        "signing_message_hex": hex::encode(h.signing_message()),
        "signature_hex": h.signature.to_hex(),
        "header_hex": hex::encode(h.to_bytes()),
        "encoded_hex": hex::encode(block.encode()),
        "block_hash_hex": h.hash().to_hex(),
        "receipts": receipts,
    })
}

fn block_vectors(g: &Genesis, txs: &[(Value, SignedTx)]) -> Vec<Value> {
    let names = [
        "mint",
        "transfer_with_memo",
        "transfer_without_memo",
        "register_device",
    ];
    let chosen: Vec<SignedTx> = names
        .iter()
        .map(|n| {
            txs.iter()
                .find(|(v, _)| v["name"] == *n)
                .map(|(_, tx)| tx.clone())
                .expect("named vector exists")
        })
        .collect();
    let sequencer = key("sequencer");
    let first = Block::seal(
        NETWORK,
        BlockHeight(1),
        g.hash(),
        Timestamp(GENESIS_MS + 2),
        chosen,
        &sequencer,
    );
    let second = Block::seal(
        NETWORK,
        BlockHeight(2),
        first.header.hash(),
        Timestamp(GENESIS_MS + 1_000),
        Vec::new(),
        &sequencer,
    );
    vec![
        block_vector("block_1_four_transactions", &first, &names),
        block_vector("block_2_empty", &second, &[]),
    ]
}

// ---- Account ids ----

/// The eight points of small order: multiples of a point of order 8.
fn torsion() -> Vec<EdwardsPoint> {
    let mut order_8 = [0u8; 32];
    hex::decode_to_slice(
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        &mut order_8,
    )
    .expect("hex");
    let t = CompressedEdwardsY(order_8).decompress().expect("a point");
    let mut points = vec![EdwardsPoint::default()];
    for _ in 1..8 {
        let last = *points.last().expect("non-empty");
        points.push(last + t);
    }
    points
}

fn account_vectors() -> Vec<Value> {
    let mut cases: Vec<(String, [u8; 32])> = vec![
        ("derived_key_alice".into(), id("alice").0),
        (
            "w3c_did_key_example".into(),
            AccountId::parse("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")
                .expect("parses")
                .0,
        ),
    ];
    for (i, point) in torsion().iter().enumerate() {
        cases.push((format!("small_order_point_{i}"), point.compress().0));
    }
    // y = p + 0 and y = p + 1 (both sign bits), and the sign bit set on x = 0.
    let p_plus = |k: u8, sign: u8| {
        let mut b = [0xffu8; 32];
        b[0] = 0xed + k;
        b[31] = 0x7f | (sign << 7);
        b
    };
    cases.push(("non_canonical_y_p_sign_0".into(), p_plus(0, 0)));
    cases.push(("non_canonical_y_p_sign_1".into(), p_plus(0, 1)));
    cases.push(("non_canonical_y_p_plus_1_sign_0".into(), p_plus(1, 0)));
    cases.push(("non_canonical_y_p_plus_1_sign_1".into(), p_plus(1, 1)));
    // y = p + 3 encodes a point of large order non-canonically.
    cases.push(("non_canonical_y_p_plus_3".into(), p_plus(3, 0)));
    let mut identity_negative_zero = [0u8; 32];
    identity_negative_zero[0] = 1;
    identity_negative_zero[31] = 0x80;
    cases.push(("identity_with_sign_bit".into(), identity_negative_zero));
    let mut order_2_negative_zero = [0xffu8; 32];
    order_2_negative_zero[0] = 0xec;
    cases.push(("order_2_with_sign_bit".into(), order_2_negative_zero));
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2; // y = 2 is not the y-coordinate of a curve point
    cases.push(("y_2_not_on_the_curve".into(), not_a_point));
    cases
        .into_iter()
        .map(|(name, bytes)| {
            let account = AccountId(bytes);
            let check = match account.check_valid() {
                Ok(()) => "ok",
                Err(e) => e.code(),
            };
            json!({
                "name": name,
                "hex": account.to_hex(),
                "did": account.to_did(),
                "check": check,
            })
        })
        .collect()
}

fn main() {
    let txs: Vec<(Value, SignedTx)> = tx_specs().iter().map(tx_vector).collect();
    let g = genesis();
    let doc = json!({
        "description": "Test vectors for Ting's canonical encoding; docs/wire.md gives the layout of this file.",
        "generator": "cargo run -p ting-core --example gen_vectors > docs/test-vectors/transactions.json",
        "transactions": txs.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
        "invalid_transactions": invalid_vectors(&txs),
        "merkle": MERKLE_SIZES.iter().map(|&n| merkle_vector(n)).collect::<Vec<_>>(),
        "genesis": [genesis_vector(&g)],
        "blocks": block_vectors(&g, &txs),
        "accounts": account_vectors(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).expect("JSON values always serialize")
    );
}
