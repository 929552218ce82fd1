//! The C example (`examples/offline.c`) compiled with the system's C
//! compiler against `libting.a`, run, and each line it prints compared with
//! what the Rust library computes: the same account, `did:key`, signed
//! transfer byte for byte, hash, voucher, a hash-chain channel's open
//! transaction and three ticks taken once, an envelope and a sealed
//! reading, the login password, a receipt checked (and refused once its
//! header is changed), and the device's account read from a state proof.

mod common;

use std::process::Command;

use common::c;

use ting_core::login::LoginToken;
use ting_core::merkle::MerkleTree;
use ting_core::tx::{TxBody, TxKind};
use ting_core::{
    Amount, Block, BlockDraft, BlockHeight, ChannelId, Hash32, Keypair, NetworkId, Nonce, Receipt,
    Timestamp,
};

/// A receipt of transaction `tx` in a block of three, signed by `sequencer`.
fn receipt(genesis: Hash32, sequencer: &Keypair, tx: Hash32) -> Vec<u8> {
    let hashes = [Hash32([1; 32]), tx, Hash32([2; 32])];
    let draft = BlockDraft {
        genesis,
        height: BlockHeight(12),
        epoch: 0,
        prev_hash: Hash32([3; 32]),
        timestamp: Timestamp(1_700_000_000_000),
        state_root: Hash32([4; 32]),
    };
    let mut header = Block::seal(draft, Vec::new(), sequencer).header;
    header.tx_root = ting_core::merkle::root(&hashes);
    header.tx_count = 3;
    header.sign(sequencer);
    Receipt {
        tx_hash: tx,
        proof: MerkleTree::new(&hashes).proof(1).expect("in range"),
        header,
    }
    .encode()
}

/// The state answer for `who` holding 97 with next nonce 4, at height 12.
fn account_answer(genesis: Hash32, sequencer: &Keypair, who: &Keypair) -> Vec<u8> {
    use ting_core::state_map::{account_key, account_value_hash, Account, AccountRecord};
    let record = AccountRecord {
        account: Account {
            balance: Amount::new(97),
            nonce: Nonce(4),
        },
        device: None,
        messaging_key: None,
    }
    .to_record();
    let key = account_key(&who.account());
    let tree = ting_core::state_tree::StateTree::from_entries([(key, account_value_hash(&record))]);
    let draft = BlockDraft {
        genesis,
        height: BlockHeight(12),
        epoch: 0,
        prev_hash: Hash32([3; 32]),
        timestamp: Timestamp(1_700_000_000_000),
        state_root: tree.root(),
    };
    ting_core::state_proof::StateAnswer {
        header: Block::seal(draft, Vec::new(), sequencer).header,
        record: Some(record),
        proof: tree.prove(&key),
    }
    .to_bytes()
}

#[test]
fn the_c_example_computes_what_the_rust_library_does() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let exe = c::compile("offline", tmp.path());

    let key = Keypair::from_seed([3; 32]);
    let genesis = Hash32([9; 32]);
    let sequencer = Keypair::from_seed([11; 32]);
    let transfer = TxBody {
        genesis,
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
    let receipt_bytes = receipt(genesis, &sequencer, transfer.hash());

    let out = Command::new(&exe)
        .arg(hex::encode(&receipt_bytes))
        .arg(genesis.to_hex())
        .arg(sequencer.account().to_hex())
        .arg(hex::encode(account_answer(genesis, &sequencer, &key)))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |name: &str| c::line(&stdout, name);

    assert_eq!(line("account"), key.account().to_hex());
    assert_eq!(line("did"), key.account().to_did());
    assert_eq!(line("transfer"), hex::encode(transfer.bytes()));
    assert_eq!(line("tx_hash"), transfer.hash().to_hex());
    assert_eq!(
        line("short"),
        format!("buffer_too_small {}", transfer.bytes().len())
    );
    let ting_core::ChannelProof::Voucher { signature, .. } = ting_core::channel::sign_voucher(
        &key,
        NetworkId(7),
        &ChannelId(Hash32([6; 32])),
        Amount::new(40),
    ) else {
        panic!("a voucher")
    };
    assert_eq!(line("voucher"), hex::encode(signature.0));
    assert_eq!(line("voucher_check"), "ok");
    assert_eq!(line("voucher_other_amount"), "bad_signature");
    let channel = ChannelId::derive(&genesis, &key.account(), Nonce(6));
    assert_eq!(line("channel"), channel.0.to_hex());
    let open = ting_core::SignedTx::decode(&hex::decode(line("channel_open")).expect("hex"))
        .expect("a transaction");
    assert_eq!(open.opened_channel(), Some(channel));
    assert!(open.clone().verify().is_ok(), "signed by the payer");
    assert_eq!(line("ticks_paid"), "30 30");
    assert_eq!(line("ticks_replayed"), "replayed");
    assert_eq!(line("envelope_sender"), key.account().to_hex());
    assert_eq!(line("envelope_payload"), "hardness 7.2");
    assert_eq!(line("envelope_changed"), "bad_signature");
    assert_eq!(line("unsealed"), "a private reading");
    assert_eq!(line("unsealed_by_another"), "bad_signature");
    let token = LoginToken::issue(
        &key,
        &genesis,
        &key.account().to_hex(),
        Timestamp(1_700_000_000_000),
        [1; 16],
    );
    assert_eq!(line("password"), token.to_text());
    assert_eq!(line("receipt_tx"), transfer.hash().to_hex());
    assert_eq!(line("receipt_height"), "12");
    assert_eq!(line("receipt_tampered"), "bad_header_signature");
    assert_eq!(line("account_state"), "97 4 12");
    assert_eq!(line("account_stale"), "stale_state");
    assert_eq!(line("version"), env!("CARGO_PKG_VERSION"));
}
