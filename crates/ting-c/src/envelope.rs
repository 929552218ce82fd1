//! Envelopes, the signed messages devices exchange over MQTT (docs/mqtt.md
//! §2): signed by their sender, checked by their receiver, and, for a
//! private payload, sealed to the recipient's messaging key (HPKE) and
//! opened with one's own. The receiver's replay window and cache are the
//! firmware's to keep (docs/devices.md).
// `#[no_mangle]` is the C ABI, which the lint counts as unsafe code; this
// module holds no unsafe block (the only ones are in `ffi.rs` and, without std, `bare.rs`).
#![allow(unsafe_code)]

use ting_core::envelope::{Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType};
use ting_core::hash_rng::HashRng;
use ting_core::seal::{self, MessagingKey, MessagingSecret};
use ting_core::{AccountId, Hash32, Timestamp};

use crate::ffi::{array, attempt, bytes, put, set};
use crate::TingStatus;

/// The longest envelope: header, payload length, the longest payload, signature.
pub const TING_ENVELOPE_BYTES_MAX: usize = 65_728;
/// The longest payload.
pub const TING_ENVELOPE_PAYLOAD_BYTES_MAX: usize = 65_536;
/// What sealing adds to a payload: the ephemeral key and the tag.
pub const TING_SEAL_OVERHEAD_BYTES: usize = 48;

const _: () = assert!(TING_ENVELOPE_BYTES_MAX == ting_core::envelope::ENVELOPE_BYTES_MAX);
const _: () =
    assert!(TING_ENVELOPE_PAYLOAD_BYTES_MAX == ting_core::limits::ENVELOPE_PAYLOAD_BYTES_MAX);
const _: () = assert!(TING_SEAL_OVERHEAD_BYTES == seal::SEAL_OVERHEAD_BYTES);

/// An envelope's header, but its sender (the signing key's account).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TingEnvelopeHeader {
    /// The network's genesis hash.
    pub genesis: [u8; 32],
    /// The sender's account: filled in by `ting_envelope_sign` and
    /// `ting_envelope_check`.
    pub sender: [u8; 32],
    pub recipient: [u8; 32],
    /// What the payload is (docs/mqtt.md §2.1).
    pub kind: u16,
    /// Unique per sender: a counter does.
    pub id: [u8; 16],
    /// The sender's clock, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// 1 when the payload is sealed to the recipient (`ting_seal`), else 0.
    /// (A byte, not a `bool`: any other value is `invalid_input`.)
    pub encrypted: u8,
}

impl TingEnvelopeHeader {
    fn to_core(self, sender: AccountId) -> Option<EnvelopeHeader> {
        let encrypted = match self.encrypted {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(EnvelopeHeader {
            genesis: Hash32(self.genesis),
            sender,
            recipient: AccountId(self.recipient),
            kind: EnvelopeType(self.kind),
            id: EnvelopeId(self.id),
            timestamp: Timestamp(self.timestamp_ms),
            encrypted,
        })
    }

    fn of(h: &EnvelopeHeader) -> TingEnvelopeHeader {
        TingEnvelopeHeader {
            genesis: h.genesis.0,
            sender: h.sender.0,
            recipient: h.recipient.0,
            kind: h.kind.0,
            id: h.id.0,
            timestamp_ms: h.timestamp.0,
            encrypted: u8::from(h.encrypted),
        }
    }
}

/// Signs the `payload_len` bytes at `payload` under `header` with the key
/// of 32-byte `seed`, which becomes the header's sender; the envelope's
/// bytes (what is published) go into the `cap` bytes at `out`, its length
/// through `len_out`. A payload over `TING_ENVELOPE_PAYLOAD_BYTES_MAX` is
/// `invalid_input`.
#[no_mangle]
pub extern "C" fn ting_envelope_sign(
    key: *const crate::TingKey,
    header: *const TingEnvelopeHeader,
    payload: *const u8,
    payload_len: usize,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let Some(header) = attempt!(crate::ffi::read(header.cast_mut())).to_core(key.account()) else {
        return TingStatus::InvalidInput;
    };
    let payload = attempt!(bytes(payload, payload_len));
    let Ok(envelope) = Envelope::sign(header, payload.to_vec(), &key) else {
        return TingStatus::InvalidInput;
    };
    let encoded = envelope.encode();
    set(len_out, encoded.len());
    put(&encoded, false, out, cap)
}

/// Checks the envelope in the `len` bytes at `envelope`: it decodes
/// strictly and its sender signed it. Its header goes to `header_out`, and
/// where its payload lies in the same bytes through `payload_offset_out`
/// and `payload_len_out` (any may be NULL). Whether it is fresh, for you,
/// of your network and not seen before is yours to check (docs/devices.md).
#[no_mangle]
pub extern "C" fn ting_envelope_check(
    envelope: *const u8,
    len: usize,
    header_out: *mut TingEnvelopeHeader,
    payload_offset_out: *mut usize,
    payload_len_out: *mut usize,
) -> TingStatus {
    let raw = attempt!(bytes(envelope, len));
    let Ok(decoded) = Envelope::decode(raw) else {
        return TingStatus::InvalidInput;
    };
    if decoded.verify().is_err() {
        return TingStatus::BadSignature;
    }
    crate::ffi::write(header_out, TingEnvelopeHeader::of(&decoded.header));
    let header_and_length = ting_core::envelope::HEADER_BYTES + 4;
    set(payload_offset_out, header_and_length);
    set(payload_len_out, decoded.payload.len());
    TingStatus::Ok
}

/// The 32-byte X25519 messaging key of the account of `key`, into
/// `messaging_out`: what it publishes (`set_messaging_key`) for others to
/// seal to.
#[no_mangle]
pub extern "C" fn ting_messaging_key(
    key: *const crate::TingKey,
    messaging_out: *mut u8,
) -> TingStatus {
    let key = attempt!(crate::keys::key_of(key));
    let public = MessagingSecret::from_keypair(&key).public();
    put(&public.0, false, messaging_out, 32)
}

/// Seals the `len` bytes at `plaintext` to the 32-byte messaging key
/// `recipient`, bound to the `aad_len` bytes at `aad` (an envelope's
/// header bytes), with 32 fresh random bytes at `entropy` from the device's
/// random source. The sealed bytes (`len` + `TING_SEAL_OVERHEAD_BYTES`) go
/// into the `cap` bytes at `out`, their length through `len_out`. A key
/// that is not a valid X25519 point is `invalid_input`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_seal(
    recipient: *const u8,
    aad: *const u8,
    aad_len: usize,
    plaintext: *const u8,
    len: usize,
    entropy: *const u8,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let recipient = MessagingKey(attempt!(array::<32>(recipient)));
    if recipient.check_valid().is_err() {
        return TingStatus::InvalidInput;
    }
    let aad = attempt!(bytes(aad, aad_len));
    let plaintext = attempt!(bytes(plaintext, len));
    let mut rng = HashRng::new(ENTROPY_DOMAIN, attempt!(array::<32>(entropy)));
    let Ok(sealed) = seal::seal(&recipient, aad, plaintext, &mut rng) else {
        return TingStatus::InvalidInput;
    };
    set(len_out, sealed.len());
    put(&sealed, false, out, cap)
}

/// Opens the `len` sealed bytes at `sealed` with the messaging secret of
/// the account of `key`, bound to the `aad_len` bytes at `aad`;
/// the plaintext goes into the `cap` bytes at `out`, its length through
/// `len_out`. Bytes not sealed to this key, or bound to other data, are
/// `bad_signature`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn ting_unseal(
    key: *const crate::TingKey,
    aad: *const u8,
    aad_len: usize,
    sealed: *const u8,
    len: usize,
    out: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> TingStatus {
    let secret = MessagingSecret::from_keypair(&attempt!(crate::keys::key_of(key)));
    let aad = attempt!(bytes(aad, aad_len));
    let sealed = attempt!(bytes(sealed, len));
    let Ok(plain) = seal::open(&secret, aad, sealed) else {
        return TingStatus::BadSignature;
    };
    set(len_out, plain.len());
    put(&plain, false, out, cap)
}

/// What the caller's 32 random bytes are stretched under for a sealing.
const ENTROPY_DOMAIN: &[u8] = b"ting-c:entropy";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_key;
    use ting_core::Keypair;

    fn header() -> TingEnvelopeHeader {
        TingEnvelopeHeader {
            genesis: [9; 32],
            sender: [0; 32],
            recipient: Keypair::from_seed([6; 32]).account().0,
            kind: 0x0100,
            id: [1; 16],
            timestamp_ms: 1_700_000_000_000,
            encrypted: 0,
        }
    }

    #[test]
    fn an_envelope_signed_here_checks_and_a_changed_one_does_not() {
        let seed = [5u8; 32];
        let payload = b"hardness 7.2";
        let mut out = vec![0u8; 512];
        let mut len = 0usize;
        let h = header();
        let status = ting_envelope_sign(
            &test_key(seed),
            &h,
            payload.as_ptr(),
            payload.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        let envelope = Envelope::decode(&out[..len]).expect("decodes");
        assert_eq!(envelope.header.sender, Keypair::from_seed(seed).account());
        assert!(envelope.verify().is_ok());

        let mut checked = header();
        let (mut offset, mut plen) = (0usize, 0usize);
        assert_eq!(
            ting_envelope_check(out.as_ptr(), len, &mut checked, &mut offset, &mut plen),
            TingStatus::Ok
        );
        assert_eq!(&out[offset..offset + plen], payload);
        assert_eq!(checked.sender, Keypair::from_seed(seed).account().0);
        let mut odd = header();
        odd.encrypted = 2;
        let status = ting_envelope_sign(
            &test_key(seed),
            &odd,
            payload.as_ptr(),
            payload.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        );
        assert_eq!(
            status,
            TingStatus::InvalidInput,
            "a flag byte other than 0 or 1"
        );
        out[offset] ^= 1;
        assert_eq!(
            ting_envelope_check(out.as_ptr(), len, &mut checked, &mut offset, &mut plen),
            TingStatus::BadSignature
        );
    }

    #[test]
    fn what_is_sealed_to_a_key_opens_with_its_seed_only() {
        let recipient_seed = [6u8; 32];
        let mut key = [0u8; 32];
        assert_eq!(
            ting_messaging_key(&test_key(recipient_seed), key.as_mut_ptr()),
            TingStatus::Ok
        );
        let aad = b"header";
        let plain = b"a private reading";
        let entropy = [42u8; 32];
        let mut sealed = vec![0u8; plain.len() + TING_SEAL_OVERHEAD_BYTES];
        let mut len = 0usize;
        let status = ting_seal(
            key.as_ptr(),
            aad.as_ptr(),
            aad.len(),
            plain.as_ptr(),
            plain.len(),
            entropy.as_ptr(),
            sealed.as_mut_ptr(),
            sealed.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        let mut opened = vec![0u8; plain.len()];
        let status = ting_unseal(
            &test_key(recipient_seed),
            aad.as_ptr(),
            aad.len(),
            sealed.as_ptr(),
            len,
            opened.as_mut_ptr(),
            opened.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::Ok);
        assert_eq!(&opened[..len], plain);
        let stranger = [7u8; 32];
        let status = ting_unseal(
            &test_key(stranger),
            aad.as_ptr(),
            aad.len(),
            sealed.as_ptr(),
            sealed.len(),
            opened.as_mut_ptr(),
            opened.len(),
            &mut len,
        );
        assert_eq!(status, TingStatus::BadSignature);
    }
}
