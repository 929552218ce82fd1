//! What every function answers: a status code with a stable name.
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use core::ffi::c_char;

/// The outcome of a call. Zero is success; every other value names what
/// was wrong, and `ting_status_name` gives that name as text.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TingStatus {
    /// Done.
    Ok = 0,
    /// A pointer the call needs was NULL.
    NullPointer = 1,
    /// An output buffer is too short; the length needed is in the length
    /// out-parameter when there is one.
    BufferTooSmall = 2,
    /// Input bytes that do not decode, or a value out of its range.
    InvalidInput = 3,
    /// A transaction body to sign names another sender than the key's account.
    WrongSigner = 4,
    /// A signature does not verify.
    BadSignature = 5,
    /// A header is of another network than the genesis given.
    WrongNetwork = 6,
    /// A header is signed by a key that is not one of the sequencers given.
    UnknownSequencer = 7,
    /// A header's signature does not verify.
    BadHeaderSignature = 8,
    /// A Merkle path does not lead to the header's transaction root.
    BadProof = 9,
    /// The channel has expired.
    ChannelExpired = 10,
    /// A payment is not more than one already taken.
    Replayed = 11,
    /// A payment would take the channel past its deposit.
    OverDeposit = 12,
    /// The hash chain has too few ticks left for the payment.
    ChainExhausted = 13,
    /// A tick's preimage does not hash to the channel's chain.
    BadPreimage = 14,
    /// A payment is for another channel, or of the other kind (tick or voucher).
    WrongChannel = 15,
    /// Nothing to pay: zero ticks.
    NothingToPay = 16,
    /// A state answer from below a height already seen: an old state.
    StaleState = 17,
}

impl TingStatus {
    /// The status's stable name.
    pub fn name(self) -> &'static str {
        NAMES[self as usize].trim_end_matches('\0')
    }

    fn from_code(code: i32) -> Option<TingStatus> {
        const ALL: [TingStatus; STATUSES] = [
            TingStatus::Ok,
            TingStatus::NullPointer,
            TingStatus::BufferTooSmall,
            TingStatus::InvalidInput,
            TingStatus::WrongSigner,
            TingStatus::BadSignature,
            TingStatus::WrongNetwork,
            TingStatus::UnknownSequencer,
            TingStatus::BadHeaderSignature,
            TingStatus::BadProof,
            TingStatus::ChannelExpired,
            TingStatus::Replayed,
            TingStatus::OverDeposit,
            TingStatus::ChainExhausted,
            TingStatus::BadPreimage,
            TingStatus::WrongChannel,
            TingStatus::NothingToPay,
            TingStatus::StaleState,
        ];
        ALL.into_iter().find(|s| *s as i32 == code)
    }
}

/// How many statuses there are.
const STATUSES: usize = 18;

/// Each status's name as NUL-terminated text, in the order of the codes:
/// the one list of them, for C and Rust alike.
const NAMES: [&str; STATUSES] = [
    "ok\0",
    "null_pointer\0",
    "buffer_too_small\0",
    "invalid_input\0",
    "wrong_signer\0",
    "bad_signature\0",
    "wrong_network\0",
    "unknown_sequencer\0",
    "bad_header_signature\0",
    "bad_proof\0",
    "channel_expired\0",
    "replayed\0",
    "over_deposit\0",
    "chain_exhausted\0",
    "bad_preimage\0",
    "wrong_channel\0",
    "nothing_to_pay\0",
    "stale_state\0",
];

/// The name of status `code` (`"buffer_too_small"`, ...), as static
/// NUL-terminated text; `"unknown_status"` for a code no status has.
#[no_mangle]
pub extern "C" fn ting_status_name(code: i32) -> *const c_char {
    let name = TingStatus::from_code(code).map_or("unknown_status\0", |s| NAMES[s as usize]);
    name.as_ptr().cast()
}

/// This library's version, as static NUL-terminated text (`"0.1.0"`).
#[no_mangle]
pub extern "C" fn ting_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_name_as_text_and_a_stranger_has_none() {
        let count = i32::try_from(STATUSES).expect("few");
        for code in 0..count {
            let status = TingStatus::from_code(code).expect("a status");
            assert_eq!(status as i32, code);
            assert!(!status.name().is_empty() && !status.name().contains('\0'));
            assert_eq!(ting_status_name(code), NAMES[code as usize].as_ptr().cast());
        }
        assert!(TingStatus::from_code(count).is_none());
        assert!(TingStatus::from_code(-1).is_none());
    }
}
