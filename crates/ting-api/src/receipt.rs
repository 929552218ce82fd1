//! Block headers and receipts in JSON (docs/api.md §6.2): what the node
//! answers, and how a client reads a receipt back to check it offline. The
//! header is always read from its exact bytes (`header.hex`), never from the
//! fields shown beside them.

use serde_json::{json, Value};
use ting_core::encoding::Reader;
use ting_core::merkle::MerkleProof;
use ting_core::{BlockHeader, Hash32, Receipt};

use crate::FormError;

/// A block header in JSON, with its exact bytes for offline checks.
pub fn header_json(h: &BlockHeader) -> Value {
    json!({
        "genesis": h.genesis.to_hex(),
        "height": h.height.0,
        "epoch": h.epoch,
        "prev_hash": h.prev_hash.to_hex(),
        "timestamp_ms": h.timestamp.0,
        "tx_root": h.tx_root.to_hex(),
        "tx_count": h.tx_count,
        "state_root": h.state_root.to_hex(),
        "sequencer": h.sequencer.to_did(),
        "signature": h.signature.to_hex(),
        "hash": h.hash().to_hex(),
        "hex": hex::encode(h.to_bytes()),
    })
}

/// A receipt in JSON: where the transaction is and the proof of it.
pub fn receipt_json(r: &Receipt) -> Value {
    json!({
        "tx_hash": r.tx_hash.to_hex(),
        "status": "committed",
        "height": r.header.height.0,
        "index": r.proof.index,
        "block_hash": r.header.hash().to_hex(),
        "proof": {
            "index": r.proof.index,
            "count": r.proof.count,
            "siblings": r.proof.siblings.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
        },
        "header": header_json(&r.header),
    })
}

/// Reads a receipt back from its JSON form; the header comes from its exact
/// bytes. Nothing here says the receipt is true: check it with
/// [`Receipt::verify`] against the network's sequencer keys.
pub fn receipt_from_json(v: &Value) -> Result<Receipt, FormError> {
    let bad = |why: String| FormError::new("bad_receipt", why);
    let text = |v: &Value, name: &str| -> Result<String, FormError> {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("the receipt has no string field `{name}`")))
    };
    let number = |v: &Value, name: &str| -> Result<u32, FormError> {
        v.get(name)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad(format!("the receipt has no 32-bit number `{name}`")))
    };
    let hash = |s: &str| {
        Hash32::from_hex(s).ok_or_else(|| bad(format!("{s:?} is not a 32-byte hex hash")))
    };
    let header = v
        .get("header")
        .ok_or_else(|| bad("the receipt has no `header`".into()))?;
    let header_bytes =
        hex::decode(text(header, "hex")?).map_err(|_| bad("header.hex is not hex".into()))?;
    let mut r = Reader::new(&header_bytes);
    let decoded = BlockHeader::decode(&mut r).map_err(|e| bad(format!("header.hex: {e}")))?;
    r.finish("block header")
        .map_err(|e| bad(format!("header.hex: {e}")))?;
    let proof = v
        .get("proof")
        .ok_or_else(|| bad("the receipt has no `proof`".into()))?;
    let siblings = proof
        .get("siblings")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the proof has no `siblings` list".into()))?
        .iter()
        .map(|s| {
            s.as_str()
                .ok_or_else(|| bad("a sibling is not a string".into()))
                .and_then(hash)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Receipt {
        tx_hash: hash(&text(v, "tx_hash")?)?,
        proof: MerkleProof {
            index: number(proof, "index")?,
            count: number(proof, "count")?,
            siblings,
        },
        header: decoded,
    })
}
