//! Transactions: a transfer signed from its fields, any kind signed from its
//! unsigned body's bytes (docs/wire.md §5), and a signed transaction's hash.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::tx::{TxBody, TxKind};
use ting_core::{AccountId, Amount, Hash32, Keypair, Nonce, SignedTx, Timestamp};

use crate::ffi::{array, attempt, bytes, bytes_mut, put, set};
use crate::TingStatus;

/// Signs a transfer of `amount` base units to the 32-byte account `to`,
/// from `key`, on the network of 32-byte `genesis`
/// (its genesis hash), as the sender's transaction number `nonce`, valid
/// until `valid_until_ms` (ledger time, milliseconds), with the `memo_len`
/// bytes at `memo` (NULL when 0, at most 64). The signed transaction goes
/// into the `cap` bytes at `out` (`TING_TX_BYTES_MAX` always do; a transfer
/// with no memo is 187), its length through `len_out` (may be NULL).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_sign_transfer(
    key: *const crate::TingKey,
    genesis: *const u8,
    nonce: u64,
    valid_until_ms: u64,
    to: *const u8,
    amount: u64,
    memo: *const u8,
    memo_len: usize,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let memo = attempt!(bytes(memo, memo_len));
    if memo.len() > ting_core::limits::MEMO_BYTES_MAX {
        return TingStatus::InvalidInput;
    }
    let body = TxBody {
        genesis: Hash32(attempt!(array::<32>(genesis))),
        sender: key.account(),
        nonce: Nonce(nonce),
        valid_until: Timestamp(valid_until_ms),
        kind: TxKind::Transfer {
            to: AccountId(attempt!(array::<32>(to))),
            amount: Amount::new(amount),
            memo: memo.to_vec(),
        },
    };
    sign(&body, &key, out, cap, len_out)
}

/// Signs a transaction of any kind: `body` is its unsigned bytes (the
/// signed layout of docs/wire.md §5 without the signature), whose sender
/// must be the account of `key` (`wrong_signer`
/// otherwise). A body that does not decode is `invalid_input`. The signed
/// transaction goes into the `cap` bytes at `out`, its length through
/// `len_out` (may be NULL).
#[no_mangle]
pub extern "C" fn ting_sign_body(
    key: *const crate::TingKey,
    body: *const u8,
    body_len: usize,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let unsigned = attempt!(bytes(body, body_len));
    if unsigned.len() > ting_core::limits::TX_BYTES_MAX - 64 {
        return TingStatus::InvalidInput;
    }
    // The signed layout is the body then 64 signature bytes: decoding it
    // with a blank signature checks every field of the body.
    let mut blank = unsigned.to_vec();
    blank.extend_from_slice(&[0; 64]);
    let Ok(decoded) = SignedTx::decode(&blank) else {
        return TingStatus::InvalidInput;
    };
    if decoded.sender() != key.account() {
        return TingStatus::WrongSigner;
    }
    sign(decoded.body(), &key, out, cap, len_out)
}

/// Signs `body` into the caller's buffer; the length through `len_out`, set to
/// the length needed when the buffer is too short.
pub(crate) fn sign(
    body: &TxBody,
    key: &Keypair,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let buf = attempt!(bytes_mut(out, cap));
    match body.sign_into(key, buf) {
        Ok(len) => {
            set(len_out, len);
            TingStatus::Ok
        }
        Err(_) => {
            let mut whole = [0u8; ting_core::limits::TX_BYTES_MAX];
            if let Ok(len) = body.sign_into(key, &mut whole) {
                set(len_out, len);
            }
            TingStatus::BufferTooSmall
        }
    }
}

/// The hash of the signed transaction in the `len` bytes at `tx` (what
/// receipts and the node's API name it by), into the 32 bytes at
/// `hash_out`. Bytes that are not a signed transaction are `invalid_input`.
#[no_mangle]
pub extern "C" fn ting_tx_hash(tx: *const u8, len: usize, hash_out: *mut u8) -> TingStatus {
    let raw = attempt!(bytes(tx, len));
    let Ok(tx) = SignedTx::decode(raw) else {
        return TingStatus::InvalidInput;
    };
    put(&tx.hash().0, false, hash_out, 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_key;
    use ting_core::Keypair;

    fn transfer(cap: usize) -> (TingStatus, Vec<u8>, usize) {
        let seed = [3u8; 32];
        let genesis = [9u8; 32];
        let to = Keypair::from_seed([4; 32]).account().0;
        let memo = b"cartridge";
        let mut out = vec![0u8; cap];
        let mut len = 0usize;
        let status = ting_sign_transfer(
            &test_key(seed),
            genesis.as_ptr(),
            5,
            1_800_000_000_000,
            to.as_ptr(),
            250,
            memo.as_ptr(),
            memo.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        );
        (status, out, len)
    }

    #[test]
    fn a_transfer_signed_in_c_is_the_one_signed_in_rust() {
        let (status, out, len) = transfer(crate::TING_TX_BYTES_MAX);
        assert_eq!(status, TingStatus::Ok);
        let key = Keypair::from_seed([3; 32]);
        let rust = TxBody {
            genesis: Hash32([9; 32]),
            sender: key.account(),
            nonce: Nonce(5),
            valid_until: Timestamp(1_800_000_000_000),
            kind: TxKind::Transfer {
                to: Keypair::from_seed([4; 32]).account(),
                amount: Amount::new(250),
                memo: b"cartridge".to_vec(),
            },
        }
        .sign(&key);
        assert_eq!(&out[..len], rust.bytes());
        let signed = SignedTx::decode(&out[..len]).expect("decodes");
        assert!(signed.verify().is_ok());

        let mut hash = [0u8; 32];
        assert_eq!(
            ting_tx_hash(out.as_ptr(), len, hash.as_mut_ptr()),
            TingStatus::Ok
        );
        assert_eq!(hash, rust.hash().0);

        let (status, _, needed) = transfer(20);
        assert_eq!(status, TingStatus::BufferTooSmall);
        assert_eq!(needed, len, "the length needed");
    }

    #[test]
    fn any_kind_is_signed_from_its_body_by_its_own_sender_only() {
        let (_, out, len) = transfer(crate::TING_TX_BYTES_MAX);
        let body = &out[..len - 64];
        let mut signed = [0u8; crate::TING_TX_BYTES_MAX];
        let mut signed_len = 0usize;
        let seed = [3u8; 32];
        let status = ting_sign_body(
            &test_key(seed),
            body.as_ptr(),
            body.len(),
            signed.as_mut_ptr(),
            signed.len(),
            &mut signed_len,
        );
        assert_eq!(status, TingStatus::Ok);
        assert_eq!(&signed[..signed_len], &out[..len]);

        let other = [8u8; 32];
        let status = ting_sign_body(
            &test_key(other),
            body.as_ptr(),
            body.len(),
            signed.as_mut_ptr(),
            signed.len(),
            &mut signed_len,
        );
        assert_eq!(status, TingStatus::WrongSigner);
        let status = ting_sign_body(
            &test_key(seed),
            body.as_ptr(),
            body.len() - 1,
            signed.as_mut_ptr(),
            signed.len(),
            &mut signed_len,
        );
        assert_eq!(status, TingStatus::InvalidInput);
    }
}
