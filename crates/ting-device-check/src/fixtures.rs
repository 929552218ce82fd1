//! What the operations work on, made before any is measured: keys, a
//! transaction body, an open hash-chain channel on both sides, a sealed
//! message, and a receipt and a state answer signed by a sequencer. A device
//! would hold the keys and channel state and receive the rest over MQTT.

use alloc::vec::Vec;

use ting_core::block::{Block, BlockDraft};
use ting_core::channel::payee::Payee;
use ting_core::channel::payer::{ChannelTerms, NewSegment, Payer};
use ting_core::channel::{sign_voucher, ChannelId, ChannelProof, Payment};
use ting_core::envelope::{Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType};
use ting_core::merkle::MerkleTree;
use ting_core::receipt::Receipt;
use ting_core::seal::{self, MessagingKey, MessagingSecret};
use ting_core::state_map::{self, Account};
use ting_core::state_proof::StateAnswer;
use ting_core::state_tree::StateTree;
use ting_core::tx::{TxBody, TxKind};
use ting_core::{AccountId, Amount, BlockHeight, Hash32, Keypair, NetworkId, Nonce, Timestamp};

use crate::rng::CheckRng;

/// Transactions in the block a receipt comes from.
const BLOCK_TXS: usize = 64;
/// Accounts in the state the state answer proves one of.
const STATE_ACCOUNTS: usize = 256;
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
    pub rng: CheckRng,
}

impl Fixtures {
    /// Makes every fixture; `payments` is how many tick payments to make ahead.
    pub fn new(payments: usize) -> Fixtures {
        let device = Keypair::from_seed([1; 32]);
        let peer = Keypair::from_seed([2; 32]);
        let sequencer = Keypair::from_seed([3; 32]);
        let genesis = Hash32::digest(&[b"ting-device-check genesis"]);
        let network = NetworkId(7);
        let mut rng = CheckRng::new([4; 32]);
        let channel = ChannelId::derive(&genesis, &device.account(), Nonce(0));
        let (payer, payee, payments) = channel_pair(&device, &peer, network, channel, payments);
        let envelope_header = EnvelopeHeader {
            genesis,
            sender: device.account(),
            recipient: peer.account(),
            kind: EnvelopeType::DATA,
            id: EnvelopeId::from_counter(1),
            timestamp: Timestamp(1_764_800_000_000),
            encrypted: false,
        };
        let envelope_bytes = Envelope::sign(envelope_header, READING.to_vec(), &device)
            .expect("the check's envelope is well formed")
            .encode();
        let peer_secret = MessagingSecret::from_keypair(&peer);
        let peer_messaging = peer_secret.public();
        let sealed = seal::seal(&peer_messaging, b"aad", READING, &mut rng)
            .expect("the check's reading seals");
        Fixtures {
            body: transfer(&device, &peer, genesis),
            tx_buf: [0; 512],
            voucher: sign_voucher(&device, network, &channel, Amount::new(10)),
            receipt: receipt(&device, &sequencer, genesis),
            state_answer: state_answer(&device, &sequencer, genesis),
            sequencers: [sequencer.account()],
            device,
            genesis,
            network,
            payer,
            payee,
            payments,
            channel,
            envelope_header,
            envelope_bytes,
            peer_messaging,
            peer_secret,
            sealed,
            rng,
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

/// A hash-chain channel from the device to the peer, open on both sides.
fn channel_pair(
    device: &Keypair,
    peer: &Keypair,
    network: NetworkId,
    channel: ChannelId,
    payments: usize,
) -> (Payer, Payee, Vec<Payment>) {
    let terms = ChannelTerms {
        network,
        channel,
        payer: device.account(),
        payee: peer.account(),
        deposit: Amount::new(1_000_000),
        expires_at: Timestamp(u64::MAX / 2),
    };
    let segment = NewSegment {
        seed: Hash32::digest(&[b"chain seed"]),
        len: CHAIN_TICKS,
    };
    let (mut ahead, mode) =
        Payer::open_hash_chain(terms, Amount::new(1), segment).expect("the check's channel opens");
    let payee = Payee::new(terms, mode);
    let made = (0..payments)
        .map(|_| {
            let prepared = ahead
                .prepare_pay(1, Timestamp(1))
                .expect("the chain is long enough");
            ahead.commit(prepared)
        })
        .collect();
    let (payer, _) =
        Payer::open_hash_chain(terms, Amount::new(1), segment).expect("the check's channel opens");
    (payer, payee, made)
}

/// A receipt for the device's transaction at index 17 of a block of 64.
fn receipt(device: &Keypair, sequencer: &Keypair, genesis: Hash32) -> Vec<u8> {
    let txs: Vec<_> = (0..BLOCK_TXS as u64)
        .map(|n| {
            let mut body = transfer(device, sequencer, genesis);
            body.nonce = Nonce(n);
            body.sign(device)
        })
        .collect();
    let hashes: Vec<Hash32> = txs.iter().map(|t| t.hash()).collect();
    let block = Block::seal(draft(genesis, Hash32::ZERO), txs, sequencer);
    Receipt {
        tx_hash: hashes[17],
        proof: MerkleTree::new(&hashes).proof(17).expect("index in range"),
        header: block.header,
    }
    .encode()
}

/// A state answer proving the device's account among 256.
fn state_answer(device: &Keypair, sequencer: &Keypair, genesis: Hash32) -> Vec<u8> {
    let record = |n: u64| {
        state_map::account_record(
            &Account {
                balance: Amount::new(1_000 + n),
                nonce: Nonce(n),
            },
            None,
            None,
        )
    };
    let mut entries: Vec<(Hash32, Hash32)> = (0..STATE_ACCOUNTS as u64)
        .map(|n| {
            let id = Keypair::from_seed(Hash32::digest(&[&n.to_le_bytes()]).0).account();
            let r = record(n);
            (
                state_map::account_key(&id),
                state_map::account_value_hash(&r),
            )
        })
        .collect();
    let mine = record(9_999);
    let key = state_map::account_key(&device.account());
    entries.push((key, state_map::account_value_hash(&mine)));
    let tree = StateTree::from_entries(entries);
    let block = Block::seal(draft(genesis, tree.root()), Vec::new(), sequencer);
    StateAnswer {
        header: block.header,
        record: Some(mine),
        proof: tree.prove(&key),
    }
    .to_bytes()
}

fn draft(genesis: Hash32, state_root: Hash32) -> BlockDraft {
    BlockDraft {
        genesis,
        height: BlockHeight(42),
        epoch: 0,
        prev_hash: Hash32::digest(&[b"block 41"]),
        timestamp: Timestamp(1_764_800_000_000),
        state_root,
    }
}
