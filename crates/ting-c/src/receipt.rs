//! Receipts checked in place: that a transaction is in a block a trusted
//! sequencer signed, with no allocation.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::receipt::{check_receipt_bytes, ReceiptError};
use ting_core::{AccountId, Hash32};

use crate::ffi::{array, attempt, bytes, ok, put, set};
use crate::TingStatus;

/// The most sequencer keys a check takes.
pub const TING_SEQUENCERS_MAX: usize = 64;

/// Checks the `len` bytes of a receipt at `receipt` (docs/wire.md §10, as
/// a `receipt` envelope carries it) against the 32-byte `genesis` hash and
/// the `sequencer_count` 32-byte keys at `sequencers` (at most
/// `TING_SEQUENCERS_MAX`): the header is of that network and signed by one
/// of them, and the Merkle path leads from the transaction to its root. On
/// success the transaction's 32-byte hash goes to `tx_hash_out` and the
/// block's height to `height_out` (either may be NULL); compare the hash
/// with the one of the transaction you sent (`ting_tx_hash`).
#[no_mangle]
pub extern "C" fn ting_receipt_check(
    receipt: *const u8,
    len: usize,
    genesis: *const u8,
    sequencers: *const u8,
    sequencer_count: usize,
    tx_hash_out: *mut u8,
    height_out: *mut u64,
) -> TingStatus {
    let raw = attempt!(bytes(receipt, len));
    let genesis = Hash32(attempt!(array::<32>(genesis)));
    let (trusted, count) = attempt!(trusted_keys(sequencers, sequencer_count));
    match check_receipt_bytes(raw, &genesis, &trusted[..count]) {
        Ok(checked) => {
            if !tx_hash_out.is_null() {
                attempt!(ok(put(&checked.tx_hash.0, false, tx_hash_out, 32)));
            }
            set(height_out, checked.header.height.0);
            TingStatus::Ok
        }
        Err(e) => match e {
            ReceiptError::WrongNetwork { .. } => TingStatus::WrongNetwork,
            ReceiptError::UnknownSequencer(_) => TingStatus::UnknownSequencer,
            ReceiptError::BadHeaderSignature => TingStatus::BadHeaderSignature,
            ReceiptError::Malformed(_) => TingStatus::InvalidInput,
            _ => TingStatus::BadProof,
        },
    }
}

/// The `count` 32-byte keys at `ptr`, from 1 to [`TING_SEQUENCERS_MAX`], on the stack.
pub(crate) fn trusted_keys(
    ptr: *const u8,
    count: usize,
) -> Result<([AccountId; TING_SEQUENCERS_MAX], usize), TingStatus> {
    if count == 0 || count > TING_SEQUENCERS_MAX {
        return Err(TingStatus::InvalidInput);
    }
    let keys = bytes(ptr, count * 32)?;
    let mut trusted = [AccountId([0; 32]); TING_SEQUENCERS_MAX];
    for (slot, key) in trusted.iter_mut().zip(keys.chunks_exact(32)) {
        slot.0.copy_from_slice(key);
    }
    Ok((trusted, count))
}
