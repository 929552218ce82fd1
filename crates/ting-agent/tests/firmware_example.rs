//! The firmware example (examples/firmware.rs) against a real node, as
//! `ting node --dev` runs it (its embedded broker on a free port, never
//! 1883): the device logs in, pays, and takes its receipt only after
//! checking it; a receipt another logged-in account forges for the very
//! transaction, and gets into the device's inbox first, is refused, and the
//! device goes on to take the real one. The checks themselves are also run
//! on forged and misaddressed envelopes directly, without a broker.

#[path = "../examples/firmware.rs"]
#[allow(dead_code)]
mod firmware;

mod common;

use std::time::Instant;

use common::{dev_node::DevNode, sequencer, DEADLINE};
use firmware::{Answer, Flash, Persisted, Refused, Transfer, TX_BUF_BYTES};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use ting_agent::{mqtt_login, NodeClient};
use ting_core::block::BlockHeader;
use ting_core::broker_url::BrokerUrl;
use ting_core::envelope::{Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, RefusalPayload};
use ting_core::merkle::{self, MerkleTree};
use ting_core::receipt::Receipt;
use ting_core::{
    topics, AccountId, Amount, BlockHeight, Hash32, Keypair, Nonce, Signature, Timestamp,
};

/// What the faucet gives the device, and what it pays.
const FUNDING: u64 = 100_000;
const PAYMENT: u64 = 1_500;

fn attacker() -> Keypair {
    Keypair::from_seed([66; 32])
}

fn payee() -> AccountId {
    Keypair::from_seed([41; 32]).account()
}

/// The setup the example does before the device's flow: the flash from the
/// node's status, money from the faucet, and the nonce from a checked state
/// answer. Answers the flash, the state saved so far and that answer's bytes.
async fn provisioned(dev: &DevNode, seed: [u8; 32]) -> (Flash, Persisted, Vec<u8>) {
    let flash = firmware::provision(&dev.url, seed, None)
        .await
        .expect("the node's status");
    assert_ne!(
        flash.broker.port, 1883,
        "the test's broker is on a port of its own"
    );
    assert_eq!(flash.sequencers, vec![sequencer().account()]);
    let me = Keypair::from_seed(seed).account();
    firmware::fund(&dev.url, &me, Amount::new(FUNDING))
        .await
        .expect("the faucet");
    let answer = firmware::account_answer(&dev.url, &me)
        .await
        .expect("a state answer");
    let mut saved = Persisted::first_boot();
    let before = firmware::check_state(&answer, &flash, &me, &mut saved).expect("it checks");
    assert_eq!(before.balance, Amount::new(FUNDING));
    assert_eq!(before.nonce, Nonce(0));
    assert_eq!(saved.height_seen, before.height);
    saved.next_nonce = before.nonce;
    (flash, saved, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_firmware_flow_pays_and_takes_its_receipt_only_once_checked() {
    let dev = DevNode::start().await;
    let seed: [u8; 32] = rand::random();
    let me = Keypair::from_seed(seed).account();
    let (flash, saved, answer_before) = provisioned(&dev, seed).await;
    let funded_at = saved.height_seen;
    let transfer = Transfer {
        to: payee(),
        amount: Amount::new(PAYMENT),
    };

    // The device's flow blocks, as firmware does: off the async runtime.
    let device_flash = flash.clone();
    let (outcome, mut saved) = tokio::task::spawn_blocking(move || {
        let mut saved = saved;
        let outcome = firmware::run(&device_flash, &mut saved, &transfer, DEADLINE);
        (outcome, saved)
    })
    .await
    .expect("the device's thread");
    let outcome = outcome.unwrap_or_else(|e| panic!("the firmware flow failed: {e}"));

    assert_eq!(outcome.account, me);
    assert_eq!(outcome.nonce, Nonce(0));
    assert_eq!(outcome.sequencer, sequencer().account());
    assert!(outcome.height > funded_at, "{outcome:?}");
    assert_eq!(outcome.refused, Vec::new(), "nothing forged came");
    assert_eq!(
        saved.next_nonce,
        Nonce(1),
        "the nonce moved on with the signing"
    );
    assert_eq!(saved.height_seen, outcome.height);

    // The node holds exactly those bytes in that block.
    let client = NodeClient::new(&dev.url).expect("a client");
    let record = client
        .transaction(&outcome.tx_hash)
        .await
        .expect("the transaction is committed");
    assert_eq!(record.tx.hash(), outcome.tx_hash);
    assert_eq!(record.tx.bytes().len(), outcome.tx_len);
    assert_eq!(record.tx.sender(), me);
    assert_eq!(record.receipt.header.height, outcome.height);
    assert_eq!(record.receipt.header.timestamp, outcome.block_time);

    // The proved account shows the payment; the answer from before is stale now.
    let answer = firmware::account_answer(&dev.url, &me)
        .await
        .expect("a state answer");
    let after = firmware::check_state(&answer, &flash, &me, &mut saved).expect("it checks");
    assert_eq!(after.balance, Amount::new(FUNDING - PAYMENT));
    assert_eq!(after.nonce, Nonce(1));
    assert!(after.height >= outcome.height);
    let stale = firmware::check_state(&answer_before, &flash, &me, &mut saved)
        .expect_err("an answer from before the payment");
    assert_eq!(stale.code(), "stale_state");

    // A device provisioned for another network cannot even log in, and says why.
    let elsewhere = Flash {
        genesis: Hash32([3; 32]),
        ..flash
    };
    let refused = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + DEADLINE;
        firmware::connect(&elsewhere, &Keypair::from_seed(seed), deadline).map(|_| ())
    })
    .await
    .expect("the device's thread")
    .expect_err("a login for another genesis");
    assert!(
        matches!(refused, firmware::FirmwareError::LoginRefused(_)),
        "{refused}"
    );
    dev.stop().await;
}

/// A receipt for `tx_hash` in a block `signer` signs itself, at height 999.
fn forged_receipt(signer: &Keypair, genesis: Hash32, tx_hash: Hash32) -> Vec<u8> {
    let mut header = BlockHeader {
        genesis,
        height: BlockHeight(999),
        epoch: 0,
        prev_hash: Hash32([9; 32]),
        timestamp: firmware::clock(),
        tx_root: merkle::root(&[tx_hash]),
        tx_count: 1,
        state_root: Hash32([8; 32]),
        sequencer: signer.account(),
        signature: Signature([0; 64]),
    };
    header.sign(signer);
    Receipt {
        tx_hash,
        proof: MerkleTree::new(&[tx_hash]).proof(0).expect("one leaf"),
        header,
    }
    .encode()
}

/// An envelope to `to` of `kind` around `payload`, signed by `key`, then
/// claiming `claimed` as its sender (the signature stays `key`'s).
fn envelope(
    key: &Keypair,
    claimed: AccountId,
    genesis: Hash32,
    to: AccountId,
    kind: EnvelopeType,
    payload: Vec<u8>,
    timestamp: Timestamp,
) -> Vec<u8> {
    let header = EnvelopeHeader {
        genesis,
        sender: key.account(),
        recipient: to,
        kind,
        id: EnvelopeId(rand::random()),
        timestamp,
        encrypted: false,
    };
    let mut e = Envelope::sign(header, payload, key).expect("an envelope");
    e.header.sender = claimed;
    e.encode()
}

/// Logs `key` in to the broker as a device of its own and publishes each of
/// `messages` to `topic` at QoS 1, returning once the broker acknowledged all.
fn publish_as(key: &Keypair, flash: &Flash, topic: &str, messages: &[Vec<u8>]) {
    let deadline = Instant::now() + DEADLINE;
    let login = mqtt_login(
        key,
        &flash.genesis,
        Some("forger"),
        &ting_agent::clock::NetworkClock::REAL,
    )
    .expect("a login");
    let mut options = MqttOptions::new(
        login.client_id,
        flash.broker.host.clone(),
        flash.broker.port,
    );
    options.set_credentials(login.username, login.password);
    let (client, mut connection) = Client::new(options, 16);
    for m in messages {
        client
            .publish(topic, QoS::AtLeastOnce, false, m.clone())
            .expect("queued");
    }
    let mut acked = 0;
    while acked < messages.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the broker did not take the forged envelopes"
        );
        match connection.recv_timeout(left) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => panic!("the forger's connection: {e}"),
        }
    }
    client.disconnect().expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_forged_by_another_key_is_refused_and_the_real_one_taken() {
    let dev = DevNode::start().await;
    let seed: [u8; 32] = rand::random();
    let (flash, saved, _) = provisioned(&dev, seed).await;
    let transfer = Transfer {
        to: payee(),
        amount: Amount::new(PAYMENT),
    };

    let (receipt, refused, tx_hash) = tokio::task::spawn_blocking(move || {
        let mut saved = saved;
        let deadline = Instant::now() + DEADLINE;
        let key = Keypair::from_seed(seed);
        let me = key.account();
        let mut link = firmware::connect(&flash, &key, deadline).expect("the device connects");
        let mut buf = [0u8; TX_BUF_BYTES];
        let (len, tx_hash) = firmware::sign_transfer(
            &key,
            &flash,
            &mut saved,
            &transfer,
            firmware::clock(),
            &mut buf,
        )
        .expect("it signs");

        // Another account, logged in as itself, sends the device a receipt for
        // this very transaction in a block it signed, before the device even
        // publishes it: once in its own name, once claiming the sequencer's.
        // The broker lets any logged-in account publish to any inbox
        // (docs/mqtt.md §10); only the device's checks stand in the way.
        let forger = attacker();
        let fake = forged_receipt(&forger, flash.genesis, tx_hash);
        let now = firmware::clock();
        let receipt = EnvelopeType::RECEIPT;
        let forged = [
            envelope(
                &forger,
                forger.account(),
                flash.genesis,
                me,
                receipt,
                fake.clone(),
                now,
            ),
            envelope(
                &forger,
                sequencer().account(),
                flash.genesis,
                me,
                receipt,
                fake,
                now,
            ),
        ];
        publish_as(&forger, &flash, &topics::inbox(&me), &forged);

        link.publish_tx(&buf[..len]).expect("published");
        let mut refused = Vec::new();
        let receipt = link
            .wait_for_receipt(&flash, &tx_hash, deadline, &mut refused)
            .unwrap_or_else(|e| panic!("no real receipt was taken: {e}"));
        link.disconnect();
        (receipt, refused, tx_hash)
    })
    .await
    .expect("the device's thread");

    assert_eq!(
        refused,
        vec![
            Refused {
                code: "untrusted_sender",
                sender: Some(attacker().account())
            },
            Refused {
                code: "bad_signature",
                sender: Some(sequencer().account())
            },
        ],
        "both forgeries came first, and were refused"
    );
    assert_eq!(receipt.tx_hash, tx_hash);
    assert_eq!(receipt.header.sequencer, sequencer().account());
    assert_ne!(
        receipt.header.height,
        BlockHeight(999),
        "not the forged block"
    );
    let record = NodeClient::new(&dev.url)
        .expect("a client")
        .transaction(&tx_hash)
        .await
        .expect("the transaction is committed");
    assert_eq!(record.receipt.header, receipt.header);
    dev.stop().await;
}

#[test]
fn each_forged_or_misaddressed_envelope_is_refused_with_its_code() {
    let genesis = Hash32([5; 32]);
    let me = Keypair::from_seed([40; 32]).account();
    let flash = Flash {
        seed: [40; 32],
        genesis,
        sequencers: vec![sequencer().account()],
        broker: BrokerUrl::parse("mqtt://127.0.0.1:1").expect("an address"),
    };
    let seq = sequencer();
    let forger = attacker();
    let tx_hash = Hash32([7; 32]);
    let now = Timestamp(1_800_000_000_000);
    let real = forged_receipt(&seq, genesis, tx_hash);
    let from_seq =
        |kind, payload: Vec<u8>| envelope(&seq, seq.account(), genesis, me, kind, payload, now);
    let judge = |bytes: &[u8]| firmware::judge(bytes, &flash, &me, &tx_hash, now);
    let code = |bytes: &[u8]| judge(bytes).map(|_| ()).map_err(|r| r.code);

    // The real thing passes.
    match judge(&from_seq(EnvelopeType::RECEIPT, real.clone())) {
        Ok(Answer::Receipt(r)) => {
            assert_eq!((r.tx_hash, r.header.height), (tx_hash, BlockHeight(999)))
        }
        other => panic!("the sequencer's receipt: {other:?}"),
    }
    let refusal = RefusalPayload {
        tx_hash,
        code: "insufficient_funds".into(),
        message: "the sender has 3".into(),
    };
    assert_eq!(
        judge(&from_seq(EnvelopeType::REFUSAL, refusal.encode())),
        Ok(Answer::Refusal {
            code: "insufficient_funds".into(),
            message: "the sender has 3".into()
        })
    );

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed", b"not an envelope".to_vec()),
        (
            "wrong_network",
            envelope(
                &seq,
                seq.account(),
                Hash32([6; 32]),
                me,
                EnvelopeType::RECEIPT,
                real.clone(),
                now,
            ),
        ),
        (
            "wrong_recipient",
            envelope(
                &seq,
                seq.account(),
                genesis,
                forger.account(),
                EnvelopeType::RECEIPT,
                real.clone(),
                now,
            ),
        ),
        (
            "bad_signature",
            envelope(
                &forger,
                seq.account(),
                genesis,
                me,
                EnvelopeType::RECEIPT,
                real.clone(),
                now,
            ),
        ),
        (
            "stale",
            envelope(
                &seq,
                seq.account(),
                genesis,
                me,
                EnvelopeType::RECEIPT,
                real.clone(),
                Timestamp(now.0 - 300_001),
            ),
        ),
        (
            "untrusted_sender",
            envelope(
                &forger,
                forger.account(),
                genesis,
                me,
                EnvelopeType::RECEIPT,
                real.clone(),
                now,
            ),
        ),
        // The node's envelope around a block no sequencer signed.
        (
            "unknown_sequencer",
            from_seq(
                EnvelopeType::RECEIPT,
                forged_receipt(&forger, genesis, tx_hash),
            ),
        ),
        // A good receipt, for another transaction.
        (
            "other_transaction",
            from_seq(
                EnvelopeType::RECEIPT,
                forged_receipt(&seq, genesis, Hash32([8; 32])),
            ),
        ),
        (
            "unexpected_type",
            from_seq(EnvelopeType::DATA, b"hi".to_vec()),
        ),
    ];
    for (want, bytes) in &cases {
        assert_eq!(code(bytes), Err(*want), "{want}");
    }
}
