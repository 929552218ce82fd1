//! Whatever bytes a caller hands in, every function answers a status and
//! never panics (a panic cannot cross the C boundary: it would abort the
//! firmware). Random bodies, transactions and receipts, of every length up
//! to past their limits, against each function that reads them.

use proptest::prelude::*;
use ting::{
    ting_key_from_seed, ting_receipt_check, ting_sign_body, ting_sign_transfer, ting_tx_hash,
    TingKey, TingStatus,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_get_a_status_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1_200)) {
        let seed = [1u8; 32];
        let mut key = TingKey { bytes: [0; 96] };
        prop_assert_eq!(ting_key_from_seed(seed.as_ptr(), &mut key), TingStatus::Ok);
        let mut out = [0u8; 1024];
        let mut len = 0usize;
        let signed = ting_sign_body(&key, bytes.as_ptr(), bytes.len(), out.as_mut_ptr(), out.len(), &mut len);
        prop_assert_ne!(signed, TingStatus::Ok, "random bytes are not this key's body");

        let mut hash = [0u8; 32];
        let hashed = ting_tx_hash(bytes.as_ptr(), bytes.len(), hash.as_mut_ptr());
        prop_assert!(matches!(hashed, TingStatus::Ok | TingStatus::InvalidInput));

        let genesis = [2u8; 32];
        let sequencer = [3u8; 32];
        let checked = ting_receipt_check(
            bytes.as_ptr(),
            bytes.len(),
            genesis.as_ptr(),
            sequencer.as_ptr(),
            1,
            hash.as_mut_ptr(),
            std::ptr::null_mut(),
        );
        prop_assert_ne!(checked, TingStatus::Ok);
    }
}

#[test]
fn a_damaged_key_signs_nothing() {
    let mut key = TingKey { bytes: [0; 96] };
    assert_eq!(
        ting_key_from_seed([1u8; 32].as_ptr(), &mut key),
        TingStatus::Ok
    );
    key.bytes[40] ^= 1; // the account, as a fault or a bad copy would leave it
    let (genesis, to) = ([9u8; 32], [0u8; 32]);
    let mut out = [0u8; 1024];
    let status = ting_sign_transfer(
        &key,
        genesis.as_ptr(),
        0,
        u64::MAX,
        to.as_ptr(),
        1,
        std::ptr::null(),
        0,
        out.as_mut_ptr(),
        out.len(),
        std::ptr::null_mut(),
    );
    assert_eq!(
        status,
        TingStatus::InvalidInput,
        "refused for its key alone"
    );
}

#[test]
fn null_pointers_and_absurd_counts_are_statuses() {
    let genesis = [2u8; 32];
    let receipt = [0u8; 8];
    let status = ting_receipt_check(
        receipt.as_ptr(),
        receipt.len(),
        genesis.as_ptr(),
        std::ptr::null(),
        1,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    assert_eq!(status, TingStatus::NullPointer);
    let keys = [0u8; 32];
    let status = ting_receipt_check(
        receipt.as_ptr(),
        receipt.len(),
        genesis.as_ptr(),
        keys.as_ptr(),
        1_000,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
    );
    assert_eq!(status, TingStatus::InvalidInput);
    assert_eq!(
        ting_tx_hash(std::ptr::null(), 10, std::ptr::null_mut()),
        TingStatus::NullPointer
    );
}
