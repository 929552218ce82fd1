//! The receive path against hostile input: every envelope that must not reach
//! the app is refused with its code and counted, and nothing of it is handed
//! on. Driven without a broker: bytes in, `Received` or a refusal out.

use ting_agent::device::inbox::{Inbox, Received};
use ting_agent::device::{Message, Messaging};
use ting_agent::DurablePayee;
use ting_core::channel::payee::Payee;
use ting_core::channel::payer::{ChannelTerms, NewSegment, Payer};
use ting_core::envelope::{
    Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, ReceiptPayload, HEADER_BYTES,
};
use ting_core::limits::ENVELOPE_PAYLOAD_BYTES_MAX;
use ting_core::seal::MessagingSecret;
use ting_core::{
    AccountId, Amount, BlockHeight, ChannelId, Hash32, Keypair, NetworkId, Nonce, Timestamp,
};

const NET: NetworkId = NetworkId(77);
/// The genesis hash of the device's network.
const GENESIS: Hash32 = Hash32([4; 32]);
const NOW: Timestamp = Timestamp(1_800_000_000_000);

fn device() -> Keypair {
    Keypair::from_seed([1; 32])
}
fn peer() -> Keypair {
    Keypair::from_seed([2; 32])
}
fn sequencer() -> Keypair {
    Keypair::from_seed([3; 32])
}

struct Fixture {
    inbox: Inbox,
    _dir: tempfile::TempDir,
    channel: ChannelId,
    payer: Payer,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let channel = ChannelId::derive(&GENESIS, &peer().account(), Nonce(0));
    let terms = ChannelTerms {
        network: NET,
        channel,
        payer: peer().account(),
        payee: device().account(),
        deposit: Amount::new(1_000),
        expires_at: Timestamp(NOW.0 + 3_600_000),
    };
    let segment = NewSegment {
        seed: Hash32([9; 32]),
        len: 100,
    };
    let (payer, mode) = Payer::open_hash_chain(terms, Amount::new(10), segment).expect("opens");
    DurablePayee::create(dir.path(), Payee::new(terms, mode)).expect("payee file");
    let inbox = Inbox::new(
        device().account(),
        GENESIS,
        vec![sequencer().account()],
        Messaging::from_device_key(&device()),
        dir.path().to_path_buf(),
    );
    Fixture {
        inbox,
        _dir: dir,
        channel,
        payer,
    }
}

fn header(from: &Keypair, kind: EnvelopeType, id: u64) -> EnvelopeHeader {
    EnvelopeHeader {
        genesis: GENESIS,
        sender: from.account(),
        recipient: device().account(),
        kind,
        id: EnvelopeId::from_counter(id),
        timestamp: NOW,
        encrypted: false,
    }
}

fn signed(from: &Keypair, kind: EnvelopeType, id: u64, payload: &[u8]) -> Vec<u8> {
    Envelope::sign(header(from, kind, id), payload.to_vec(), from)
        .expect("signs")
        .encode()
}

fn sealed(from: &Keypair, id: u64, plaintext: &[u8]) -> Envelope {
    let to = MessagingSecret::from_keypair(&device()).public();
    Envelope::seal_and_sign(
        header(from, EnvelopeType::DATA, id),
        plaintext,
        &to,
        from,
        &mut rand::rng(),
    )
    .expect("seals")
}

/// `bytes` must be refused with `code`, counted once more under it, and yield nothing.
/// A receipt of one transaction in block 1, signed by the sequencer.
fn sample_receipt() -> ReceiptPayload {
    let tx_hash = Hash32([5; 32]);
    let draft = ting_core::BlockDraft {
        genesis: GENESIS,
        height: BlockHeight(1),
        epoch: 0,
        prev_hash: GENESIS,
        timestamp: NOW,
        state_root: Hash32([6; 32]),
    };
    let mut header = ting_core::Block::seal(draft, Vec::new(), &sequencer()).header;
    header.tx_root = ting_core::merkle::root(&[tx_hash]);
    header.tx_count = 1;
    header.sign(&sequencer());
    ReceiptPayload {
        tx_hash,
        proof: ting_core::merkle::prove(&[tx_hash], 0).expect("one leaf"),
        header,
    }
}

fn check_refused(f: &mut Fixture, bytes: &[u8], code: &str) {
    let before = f.inbox.refused().get(code).copied().unwrap_or(0);
    let err = f.inbox.handle(bytes, NOW).expect_err(code);
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(f.inbox.refused().get(code).copied(), Some(before + 1));
}

#[test]
fn a_signed_data_envelope_and_an_encrypted_one_reach_the_app() {
    let mut f = fixture();
    let got = f
        .inbox
        .handle(&signed(&peer(), EnvelopeType::DATA, 1, b"hi"), NOW);
    assert_eq!(
        got.expect("passes"),
        Received::Message(Message::Data {
            from: peer().account(),
            payload: b"hi".to_vec(),
            encrypted: false
        })
    );
    let got = f.inbox.handle(&sealed(&peer(), 2, b"secret").encode(), NOW);
    assert_eq!(
        got.expect("opens"),
        Received::Message(Message::Data {
            from: peer().account(),
            payload: b"secret".to_vec(),
            encrypted: true
        })
    );
    assert!(f.inbox.refused().is_empty());
}

#[test]
fn a_forged_envelope_is_refused_as_bad_signature() {
    let mut f = fixture();
    // Claims to come from the peer, signed by someone else.
    let mut forged = Envelope::sign(
        header(&peer(), EnvelopeType::DATA, 1),
        b"pay me".to_vec(),
        &peer(),
    )
    .expect("signs");
    forged.signature = Keypair::from_seed([66; 32]).sign(&forged.signing_message());
    check_refused(&mut f, &forged.encode(), "bad_signature");
    // A node receipt forged the same way.
    let receipt = sample_receipt();
    let mut forged = Envelope::sign(
        header(&sequencer(), EnvelopeType::RECEIPT, 2),
        receipt.encode(),
        &sequencer(),
    )
    .expect("signs");
    forged.signature = peer().sign(&forged.signing_message());
    check_refused(&mut f, &forged.encode(), "bad_signature");
}

#[test]
fn a_replayed_envelope_is_refused_the_second_time() {
    let mut f = fixture();
    let bytes = signed(&peer(), EnvelopeType::DATA, 7, b"once");
    assert!(f.inbox.handle(&bytes, NOW).is_ok());
    check_refused(&mut f, &bytes, "replayed");
}

#[test]
fn an_envelope_for_another_recipient_is_refused() {
    let mut f = fixture();
    let mut h = header(&peer(), EnvelopeType::DATA, 1);
    h.recipient = AccountId([4; 32]);
    let bytes = Envelope::sign(h, b"x".to_vec(), &peer())
        .expect("signs")
        .encode();
    check_refused(&mut f, &bytes, "wrong_recipient");
}

#[test]
fn a_tampered_ciphertext_is_refused_even_when_re_signed() {
    let mut f = fixture();
    let mut envelope = sealed(&peer(), 1, b"reading: 7.1 pH");
    let last = envelope.payload.len() - 1;
    envelope.payload[last] ^= 1;
    // Re-signed by the sender, so only decryption can catch it.
    let bytes = Envelope::sign(envelope.header, envelope.payload, &peer())
        .expect("signs")
        .encode();
    check_refused(&mut f, &bytes, "bad_ciphertext");
}

#[test]
fn an_oversized_payload_is_refused_before_anything_else() {
    let mut f = fixture();
    let mut bytes = header(&peer(), EnvelopeType::DATA, 1).to_bytes().to_vec();
    assert_eq!(bytes.len(), HEADER_BYTES);
    let len = ENVELOPE_PAYLOAD_BYTES_MAX + 1;
    bytes.extend_from_slice(&u32::try_from(len).expect("small").to_le_bytes());
    bytes.extend_from_slice(&vec![0u8; len]);
    bytes.extend_from_slice(&[0u8; 64]);
    check_refused(&mut f, &bytes, "malformed");
}

#[test]
fn a_payload_that_is_not_what_its_type_says_is_refused() {
    let mut f = fixture();
    check_refused(
        &mut f,
        &signed(&sequencer(), EnvelopeType::RECEIPT, 1, b"not a receipt"),
        "bad_payload",
    );
    check_refused(
        &mut f,
        &signed(&peer(), EnvelopeType::PAYMENT, 2, b"not a payment"),
        "bad_payload",
    );
    check_refused(
        &mut f,
        &signed(&peer(), EnvelopeType(0x0777), 3, b"?"),
        "unknown_type",
    );
}

#[test]
fn node_envelopes_from_an_untrusted_key_are_refused() {
    let mut f = fixture();
    let receipt = sample_receipt();
    check_refused(
        &mut f,
        &signed(&peer(), EnvelopeType::RECEIPT, 1, &receipt.encode()),
        "untrusted_sender",
    );
    let got = f.inbox.handle(
        &signed(&sequencer(), EnvelopeType::RECEIPT, 2, &receipt.encode()),
        NOW,
    );
    assert_eq!(got.expect("trusted"), Received::Receipt(Box::new(receipt)));
}

#[test]
fn a_payment_is_accepted_durably_once_and_a_stale_one_is_refused() {
    let mut f = fixture();
    let payment = f.payer.prepare_pay(3, NOW).expect("pays");
    let payment = f.payer.commit(payment);
    let bytes = signed(&peer(), EnvelopeType::PAYMENT, 1, &payment.encode());
    match f.inbox.handle(&bytes, NOW).expect("accepted") {
        Received::Message(Message::Payment {
            channel, accepted, ..
        }) => {
            assert_eq!(channel, f.channel);
            assert_eq!(accepted.total, Amount::new(30));
        }
        other => panic!("expected a payment, got {other:?}"),
    }
    // The same payment in a new envelope: the payee refuses it as replayed.
    let again = signed(&peer(), EnvelopeType::PAYMENT, 2, &payment.encode());
    check_refused(&mut f, &again, "replayed");
    // A payment sent by someone other than the payer.
    let stranger = Keypair::from_seed([9; 32]);
    let next = f.payer.prepare_pay(1, NOW).expect("pays");
    let next = f.payer.commit(next);
    check_refused(
        &mut f,
        &signed(&stranger, EnvelopeType::PAYMENT, 3, &next.encode()),
        "not_payer",
    );
}

#[test]
fn wrong_network_and_stale_envelopes_are_refused() {
    let mut f = fixture();
    let mut h = header(&peer(), EnvelopeType::DATA, 1);
    h.genesis = Hash32([5; 32]);
    let bytes = Envelope::sign(h, b"x".to_vec(), &peer())
        .expect("signs")
        .encode();
    check_refused(&mut f, &bytes, "wrong_network");
    let mut h = header(&peer(), EnvelopeType::DATA, 2);
    h.timestamp = Timestamp(NOW.0 - 6 * 60 * 1000);
    let bytes = Envelope::sign(h, b"x".to_vec(), &peer())
        .expect("signs")
        .encode();
    check_refused(&mut f, &bytes, "stale");
}
