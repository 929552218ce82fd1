//! A device that follows every witness on the node's broker: logged in with
//! the SDK's credentials, subscribed to `ting/v1/witness/+/#`, reading the
//! attestations as they are published.

use std::sync::mpsc;
use std::time::Duration;

use ting_agent::clock::NetworkClock;
use ting_agent::mqtt_login::mqtt_login;
use ting_core::witness::{Attestation, ATTESTATION_BYTES};
use ting_core::{BlockHeader, Hash32, Keypair};

use super::common::{self, poll};
use ting_agent::device::{Device, DeviceConfig, Ticket};
use ting_core::witness::WitnessPolicy;
use ting_core::{Amount, TxKind};

pub struct Follower {
    published: mpsc::Receiver<(String, Vec<u8>)>,
}

impl Follower {
    /// Logs in to `broker` (`mqtt://HOST:PORT`) as a new device and follows every witness.
    pub fn connect(broker: &str, genesis: &Hash32) -> Follower {
        let hostport = broker.strip_prefix("mqtt://").expect("an mqtt:// broker");
        let (host, port) = hostport.rsplit_once(':').expect("HOST:PORT");
        let key = Keypair::from_seed([77; 32]);
        let login = mqtt_login(&key, genesis, None, &NetworkClock::REAL).expect("a login");
        let mut options =
            rumqttc::MqttOptions::new(login.client_id, host, port.parse().expect("a port"));
        options.set_credentials(login.username, login.password);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = rumqttc::Client::new(options, 16);
        client
            .subscribe(ting_core::topics::WITNESS_FILTER, rumqttc::QoS::AtLeastOnce)
            .expect("subscribed");
        let (tx, published) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        if tx.send((p.topic, p.payload.to_vec())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the device lost the broker: {e}"),
                }
            }
        });
        Follower { published }
    }

    /// Waits for an attestation of `header` on some witness's attestations topic.
    pub fn wait_for_attestation_of(&self, header: &BlockHeader) -> Attestation {
        poll("an attestation of the header on the broker", || {
            let (topic, payload) = self
                .published
                .recv_timeout(Duration::from_millis(100))
                .ok()?;
            if !topic.ends_with("/attestations") {
                return None;
            }
            assert_eq!(payload.len() % ATTESTATION_BYTES, 0, "whole attestations");
            payload
                .chunks(ATTESTATION_BYTES)
                .map(|c| Attestation::from_bytes(c).expect("an attestation"))
                .find(|a| a.covers(header))
        })
    }
}

/// The broker the node at `node` announces (`mqtt://HOST:PORT`).
pub fn broker_of(node: &common::NodeProc) -> String {
    node.get("/v1/status")["mqtt"]["broker"]
        .as_str()
        .expect("the node's broker")
        .to_owned()
}

/// A policy that trusts the one witness `did` and needs its attestation.
pub fn trusting(did: &str) -> WitnessPolicy {
    let witness = ting_core::AccountId::parse(did).expect("a witness id");
    WitnessPolicy::new(vec![witness], 1).expect("a policy")
}

/// An SDK device discovering the node at `node`, with `witnesses` as its policy.
pub async fn device(dir: &std::path::Path, node: &str, witnesses: WitnessPolicy) -> Device {
    let key = Keypair::generate(&mut rand::rng());
    let mut config = DeviceConfig::discover(key, dir.to_path_buf(), node)
        .await
        .expect("the node's status");
    config.witnesses = witnesses;
    let d = Device::start(config).expect("the device starts");
    d.wait_for_node(common::DEADLINE)
        .await
        .expect("the node on the broker");
    d
}

/// Queues a transfer of 1 from `d` to `to`.
pub async fn transfer(d: &Device, to: ting_core::AccountId) -> Ticket {
    d.queue(TxKind::Transfer {
        to,
        amount: Amount::new(1),
        memo: Vec::new(),
    })
    .await
    .expect("queued")
}
