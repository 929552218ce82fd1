//! What the operations work on, made before any is measured: keys, a
//! transaction body, an open hash-chain channel on both sides, and what a
//! device would receive over MQTT (`made.rs`: a signed envelope, a sealed
//! message, tick payments, and a receipt and a state answer signed by a
//! sequencer; a bare-metal image leaves those empty).

use alloc::vec::Vec;

use ting_core::channel::payee::Payee;
use ting_core::channel::payer::{ChannelTerms, NewSegment, Payer};
use ting_core::channel::{ChannelId, ChannelProof, Payment};
use ting_core::envelope::{EnvelopeHeader, EnvelopeId, EnvelopeType};
use ting_core::seal::{MessagingKey, MessagingSecret};
use ting_core::tx::{TxBody, TxKind};
use ting_core::{AccountId, Amount, Hash32, Keypair, NetworkId, Nonce, Timestamp};

use ting_core::hash_rng::HashRng;

#[cfg(not(target_os = "none"))]
mod made;

/// Ticks in the hash chain the channel pays with.
pub const CHAIN_TICKS: u32 = 4096;
/// The payload a device signs or seals: a reading of about this size.
pub const READING: &[u8] = b"{\"hardness_mg_l\":142,\"at\":1764800000}";

/// Everything the operations need.
pub struct Fixtures {
    pub device: Keypair,
    pub genesis: Hash32,
    pub network: NetworkId,
    pub sequencers: [AccountId; 1],
    pub body: TxBody,
    pub tx_buf: [u8; 512],
    pub payer: Payer,
    pub payee: Payee,
    /// Payments made ahead, one per tick, for the payee to accept in turn.
    pub payments: Vec<Payment>,
    pub channel: ChannelId,
    pub voucher: ChannelProof,
    pub envelope_header: EnvelopeHeader,
    pub envelope_bytes: Vec<u8>,
    pub peer_messaging: MessagingKey,
    pub peer_secret: MessagingSecret,
    pub sealed: Vec<u8>,
    pub receipt: Vec<u8>,
    pub state_answer: Vec<u8>,
    pub rng: HashRng,
}

impl Fixtures {
    /// Makes every fixture; `payments` is how many tick payments to make ahead.
    pub fn new(payments: usize) -> Fixtures {
        let device = Keypair::from_seed([1; 32]);
        let peer = Keypair::from_seed([2; 32]);
        let sequencer = Keypair::from_seed([3; 32]);
        let genesis = Hash32::digest(&[b"ting-device-check genesis"]);
        let network = NetworkId(7);
        let rng = HashRng::new(b"ting-device-check", [4; 32]);
        let channel = ChannelId::derive(&genesis, &device.account(), Nonce(0));
        let (payer, payee) = channel_pair(&device, &peer, network, channel);
        let envelope_header = EnvelopeHeader {
            genesis,
            sender: device.account(),
            recipient: peer.account(),
            kind: EnvelopeType::DATA,
            id: EnvelopeId::from_counter(1),
            timestamp: Timestamp(1_764_800_000_000),
            encrypted: false,
        };
        let received = Received::new(
            &device,
            &peer,
            &sequencer,
            (network, channel, envelope_header),
            payments,
        );
        let peer_secret = MessagingSecret::from_keypair(&peer);
        Fixtures {
            body: transfer(&device, &peer, genesis),
            tx_buf: [0; 512],
            voucher: received.voucher,
            receipt: received.receipt,
            state_answer: received.state_answer,
            sequencers: [sequencer.account()],
            device,
            genesis,
            network,
            payer,
            payee,
            payments: received.payments,
            channel,
            envelope_header,
            envelope_bytes: received.envelope_bytes,
            peer_messaging: peer_secret.public(),
            peer_secret,
            sealed: received.sealed,
            rng,
        }
    }
}

/// What a device would receive from others: signed, sealed, proved.
struct Received {
    voucher: ChannelProof,
    receipt: Vec<u8>,
    state_answer: Vec<u8>,
    envelope_bytes: Vec<u8>,
    sealed: Vec<u8>,
    payments: Vec<Payment>,
}

impl Received {
    /// On bare metal the image only has to link, for its code size: what
    /// would arrive over the air is left empty, so that making it (signing,
    /// sealing, building a block and a state tree) adds no code that an
    /// operation alone would not have.
    #[cfg(target_os = "none")]
    fn new(
        _: &Keypair,
        _: &Keypair,
        _: &Keypair,
        _: (NetworkId, ChannelId, EnvelopeHeader),
        _: usize,
    ) -> Received {
        Received {
            voucher: ChannelProof::Voucher {
                amount: Amount::new(10),
                signature: ting_core::Signature([0; 64]),
            },
            receipt: Vec::new(),
            state_answer: Vec::new(),
            envelope_bytes: Vec::new(),
            sealed: Vec::new(),
            payments: Vec::new(),
        }
    }
}

fn transfer(device: &Keypair, peer: &Keypair, genesis: Hash32) -> TxBody {
    TxBody {
        genesis,
        sender: device.account(),
        nonce: Nonce(5),
        valid_until: Timestamp(1_764_900_000_000),
        kind: TxKind::Transfer {
            to: peer.account(),
            amount: Amount::new(1_500),
            memo: Vec::new(),
        },
    }
}

fn terms(device: &Keypair, peer: &Keypair, network: NetworkId, channel: ChannelId) -> ChannelTerms {
    ChannelTerms {
        network,
        channel,
        payer: device.account(),
        payee: peer.account(),
        deposit: Amount::new(1_000_000),
        expires_at: Timestamp(u64::MAX / 2),
    }
}

fn segment() -> NewSegment {
    NewSegment {
        seed: Hash32::digest(&[b"chain seed"]),
        len: CHAIN_TICKS,
    }
}

/// A hash-chain channel from the device to the peer, open on both sides.
fn channel_pair(
    device: &Keypair,
    peer: &Keypair,
    network: NetworkId,
    channel: ChannelId,
) -> (Payer, Payee) {
    let terms = terms(device, peer, network, channel);
    let (payer, mode) = Payer::open_hash_chain(terms, Amount::new(1), segment())
        .expect("the check's channel opens");
    (payer, Payee::new(terms, mode))
}
