//! Proofs of current state in JSON (docs/api.md, `?proof=true`): the signed
//! header, the record and the state-map proof, shown as fields and carried
//! whole as the canonical bytes (`hex`, docs/wire.md §15). A client reads
//! only `hex` and checks it with `StateAnswer::verify_account` or
//! `verify_channel`; the fields beside it are for people.

use serde_json::{json, Value};
use ting_core::state_proof::StateAnswer;
use ting_core::Hash32;

use crate::receipt::header_json;
use crate::FormError;

/// Longest `hex` a client reads: a header, a record and a full proof, doubled.
const STATE_ANSWER_HEX_MAX: usize =
    2 * (512 + ting_core::state_proof::STATE_RECORD_BYTES_MAX + 8 + 64 * 4096 + 1 + 32 * 32);

/// A state answer in JSON.
pub fn state_answer_json(a: &StateAnswer) -> Value {
    let entries: Vec<Value> = a
        .proof
        .entries
        .iter()
        .map(|(k, v)| json!({ "key": k.to_hex(), "value_hash": v.to_hex() }))
        .collect();
    json!({
        "height": a.header.height.0,
        "state_root": a.header.state_root.to_hex(),
        "header": header_json(&a.header),
        "record_hex": a.record.as_ref().map(hex::encode),
        "bucket": a.proof.bucket,
        "entries": entries,
        "siblings": a.proof.siblings.iter().map(Hash32::to_hex).collect::<Vec<_>>(),
        "hex": hex::encode(a.to_bytes()),
    })
}

/// Reads a state answer back from its `hex`. Nothing here says it is true:
/// check it against the genesis hash and sequencer keys.
pub fn state_answer_from_json(v: &Value) -> Result<StateAnswer, FormError> {
    let bad = |why: String| FormError::new("bad_proof", why);
    let text = v
        .get("hex")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("the proof has no string field `hex`".into()))?;
    if text.len() > STATE_ANSWER_HEX_MAX {
        return Err(bad(format!(
            "the proof is {} hex digits, more than any proof takes ({STATE_ANSWER_HEX_MAX})",
            text.len()
        )));
    }
    let bytes = hex::decode(text).map_err(|_| bad("proof.hex is not hex".into()))?;
    StateAnswer::from_bytes(&bytes).map_err(|e| bad(format!("proof.hex: {e}")))
}
