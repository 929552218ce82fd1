//! The uplink relay end to end, on a real node with its embedded broker: a
//! gateway sells messages on the `bandwidth.uplink.msg` book, a sensor
//! buys some, and the messages go through with signed counts. Then what
//! goes wrong: a gateway that stops relaying is paid only what was signed,
//! and a sensor that stops signing gets no more than `credit` messages
//! relayed unsigned; a stranger's relays and counts, and counts the buyer
//! did not sign or that claim more than was relayed, are refused. Each lease ends by itself (short lease classes) and
//! the gateway closes it: the ledger pays exactly the signed units and
//! gives the rest back, and the supply is conserved.
//!
//! One loop (`Relay::pump`) drives every device, waiting on conditions
//! with a deadline, never on fixed sleeps.

mod common;

use std::time::Duration;

use common::net::Net;
use common::*;
use ting_agent::relay::{
    Gateway, GatewayConfig, GatewayEvent, PricePolicy, Sensor, SensorConfig, SensorEvent, Wire,
};
use ting_agent::{Device, Message, NodeClient, Verifier};
use ting_core::limits::ORDER_DEPOSIT;
use ting_core::resource::LeaseId;
use ting_core::{Amount, Keypair, Nonce, Timestamp, TxBody, TxKind};

const CLASS: &str = "bandwidth.uplink.msg";
const PRICE: u64 = 3;

fn gateway_key() -> Keypair {
    Keypair::from_seed([61; 32])
}
fn sensor_key() -> Keypair {
    Keypair::from_seed([62; 32])
}
fn sink_key() -> Keypair {
    Keypair::from_seed([63; 32])
}

struct Relay {
    net: Net,
    gateway_device: Device,
    gateway: Gateway,
    gateway_events: Vec<GatewayEvent>,
    sensor_device: Device,
    sensor: Sensor,
    sensor_events: Vec<SensorEvent>,
    sink: Device,
    sunk: Vec<Vec<u8>>,
    _dirs: Vec<tempfile::TempDir>,
}

fn gateway_config(credit: u64, settle_every: u64) -> GatewayConfig {
    GatewayConfig {
        class: CLASS.into(),
        price: PricePolicy {
            base: Amount::new(PRICE),
            per_lease_step: Amount::new(1),
        },
        units_per_ask: 100,
        ask_lifetime_ms: 600_000,
        credit,
        settle_every,
        destination: sink_key().account(),
        poll_ms: 100,
    }
}

fn sensor_config(units: u64, window: u64) -> SensorConfig {
    SensorConfig {
        class: CLASS.into(),
        max_price: Amount::new(5),
        units,
        budget: Amount::new(1_000),
        batch: 5,
        window,
        bid_lifetime_ms: 600_000,
        poll_ms: 100,
        resend_ms: 1_000,
    }
}

/// The genesis issuer (the sequencer) registers the class.
async fn register(url: &str, genesis: ting_core::Hash32, lease_ms: u64) {
    let verifier = Verifier::new(genesis, vec![sequencer().account()]);
    let client = NodeClient::new(url)
        .expect("a URL")
        .verifying(std::sync::Arc::new(verifier));
    let tx = TxBody {
        genesis,
        sender: sequencer().account(),
        nonce: Nonce(0),
        valid_until: Timestamp(u64::MAX),
        kind: TxKind::ClassRegister {
            name: CLASS.into(),
            unit: "msg".into(),
            lease_ms,
        },
    }
    .sign(&sequencer());
    client.submit(&tx).await.expect("the class is registered");
}

impl Relay {
    async fn start(lease_ms: u64, gateway: GatewayConfig, sensor: SensorConfig) -> Relay {
        let funded: Vec<_> = [gateway_key(), sensor_key(), sink_key()]
            .iter()
            .map(|k| (k.account(), FUNDS))
            .collect();
        let net = Net::start(true, &funded).await;
        let dirs: Vec<_> = (0..3)
            .map(|_| tempfile::tempdir().expect("tempdir"))
            .collect();
        let gateway_device = net.device(gateway_key(), dirs[0].path()).await;
        let sensor_device = net.device(sensor_key(), dirs[1].path()).await;
        let sink = net.device(sink_key(), dirs[2].path()).await;
        register(&net.url, gateway_device.genesis_hash(), lease_ms).await;
        let gateway = Gateway::open(&gateway_device, gateway).expect("the gateway opens");
        let sensor = Sensor::open(&sensor_device, sensor).expect("the sensor opens");
        let mut r = Relay {
            net,
            gateway_device,
            gateway,
            gateway_events: Vec::new(),
            sensor_device,
            sensor,
            sensor_events: Vec::new(),
            sink,
            sunk: Vec::new(),
            _dirs: dirs,
        };
        r.pump("the gateway's ask", |r| {
            r.gateway_events
                .iter()
                .any(|e| matches!(e, GatewayEvent::AskPlaced { .. }))
        })
        .await;
        r
    }

    /// Delivers messages and ticks everyone until `done` holds.
    async fn pump(&mut self, what: &str, done: impl Fn(&Relay) -> bool) {
        let end = tokio::time::Instant::now() + DEADLINE;
        let slice = Duration::from_millis(5);
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting for {what}; gateway saw {:?}; sensor saw {:?}",
                self.gateway_events,
                self.sensor_events
            );
            while let Ok(Some(msg)) = tokio::time::timeout(slice, self.gateway_device.recv()).await
            {
                let events = self.gateway.on_message(&self.gateway_device, &msg).await;
                self.gateway_events
                    .extend(events.expect("the gateway takes it"));
            }
            let events = self.gateway.tick(&self.gateway_device).await;
            self.gateway_events
                .extend(events.expect("the gateway ticks"));
            while let Ok(Some(msg)) = tokio::time::timeout(slice, self.sensor_device.recv()).await {
                let events = self.sensor.on_message(&self.sensor_device, &msg).await;
                self.sensor_events
                    .extend(events.expect("the sensor takes it"));
            }
            let events = self.sensor.tick(&self.sensor_device).await;
            self.sensor_events.extend(events.expect("the sensor ticks"));
            while let Ok(Some(msg)) = tokio::time::timeout(slice, self.sink.recv()).await {
                if let Message::Data { from, payload, .. } = msg {
                    if from == gateway_key().account() {
                        self.sunk.push(payload);
                    }
                }
            }
        }
    }

    /// Bids and pumps until the sensor has its lease.
    async fn lease(&mut self) -> LeaseId {
        self.sensor
            .bid(&self.sensor_device, Amount::new(5))
            .await
            .expect("the bid lands");
        self.pump("the sensor's lease", |r| r.sensor.lease().is_some())
            .await;
        let (id, lease) = self.sensor.lease().expect("found").clone();
        assert_eq!(lease.provider, gateway_key().account());
        assert_eq!(lease.price, Amount::new(PRICE), "the resting ask's price");
        id
    }

    async fn closed(&mut self) -> u64 {
        self.pump("the gateway closes the lease", |r| {
            r.closed_count().is_some()
        })
        .await;
        self.closed_count().expect("closed")
    }

    fn closed_count(&self) -> Option<u64> {
        self.gateway_events.iter().find_map(|e| match e {
            GatewayEvent::Closed { count, .. } => Some(*count),
            _ => None,
        })
    }

    fn relayed(&self) -> usize {
        let relayed = |e: &&GatewayEvent| matches!(e, GatewayEvent::Relayed { .. });
        self.gateway_events.iter().filter(relayed).count()
    }

    fn withheld(&self, reason: &str) -> usize {
        let w =
            |e: &&GatewayEvent| matches!(e, GatewayEvent::Withheld { why, .. } if *why == reason);
        self.gateway_events.iter().filter(w).count()
    }

    async fn balance(&self, who: &Keypair) -> u64 {
        let client = self.sensor_device.http();
        let b = client.balance(&who.account()).await.expect("a balance");
        b.base_units()
    }

    /// The provider was paid `paid` units, the buyer got the rest back,
    /// the lease is gone and the supply is conserved.
    async fn ledger_shows(&self, lease: &LeaseId, paid: u64) {
        let client = self.sensor_device.http();
        assert_eq!(client.lease(lease).await.expect("proved"), None, "ended");
        let ask_deposit = ORDER_DEPOSIT;
        assert_eq!(
            self.balance(&gateway_key()).await,
            FUNDS - ask_deposit + paid * PRICE
        );
        assert_eq!(self.balance(&sensor_key()).await, FUNDS - paid * PRICE);
        let supply = client.get("/v1/supply").await.expect("the supply");
        assert_eq!(supply["conserved"], true, "{supply}");
    }

    async fn stop(self) {
        self.gateway_device.shutdown().await;
        self.sensor_device.shutdown().await;
        self.sink.shutdown().await;
        self.net.stop().await;
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("reading {i}: 21.{i} C").into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_messages_go_through_the_gateway_is_paid_exactly_for_them_and_a_renewed_sensor_buys_again(
) {
    let mut r = Relay::start(8_000, gateway_config(10, 20), sensor_config(60, 10)).await;
    let lease = r.lease().await;
    for i in 0..50 {
        r.sensor.push(payload(i)).expect("a small payload");
    }
    r.pump("fifty signed messages", |r| {
        r.sensor.counts() == (50, 50) && r.gateway.best_count(&lease) == Some(50)
    })
    .await;
    assert_eq!(r.closed().await, 50);
    let settled: Vec<u64> = r
        .gateway_events
        .iter()
        .filter_map(|e| match e {
            GatewayEvent::Settled { count, .. } => Some(*count),
            _ => None,
        })
        .collect();
    assert_eq!(settled, [20, 40], "settled every 20 signed units");
    r.pump("the sink has every payload", |r| r.sunk.len() >= 50)
        .await;
    assert_eq!(r.sunk, (0..50).map(payload).collect::<Vec<_>>());
    r.ledger_shows(&lease, 50).await;
    // The lease is over on the ledger: the sensor starts over, bids again
    // and relays on its next lease, numbered from the start.
    r.sensor.renew().expect("renewed");
    assert_eq!(r.sensor.bid_placed(), None);
    assert_eq!(r.sensor.counts(), (0, 0));
    let next = r.lease().await;
    assert_ne!(next, lease, "a new lease");
    r.sensor.push(payload(50)).expect("a small payload");
    r.pump("the next lease's first message", |r| r.sunk.len() > 50)
        .await;
    assert_eq!(r.sunk.last(), Some(&payload(50)));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_stops_relaying_is_paid_only_for_the_signed_count() {
    let mut r = Relay::start(3_000, gateway_config(10, 10), sensor_config(40, 10)).await;
    r.gateway.stop_after(20);
    let lease = r.lease().await;
    for i in 0..40 {
        r.sensor.push(payload(i)).expect("a small payload");
    }
    assert_eq!(r.closed().await, 20);
    assert_eq!(r.sensor.counts(), (20, 20), "signed what it saw relayed");
    assert_eq!(r.relayed(), 20);
    assert!(r.withheld("stopped") > 0);
    r.ledger_shows(&lease, 20).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sensor_that_stops_signing_gets_only_credit_more_messages() {
    let mut r = Relay::start(3_000, gateway_config(10, 100), sensor_config(40, 10)).await;
    let lease = r.lease().await;
    for i in 0..5 {
        r.sensor.push(payload(i)).expect("a small payload");
    }
    r.pump("five signed messages", |r| {
        r.gateway.best_count(&lease) == Some(5)
    })
    .await;
    // From here the sensor sends without ever signing.
    let gateway = gateway_key().account();
    for seq in 100..120 {
        let msg = Wire::Relay {
            lease,
            seq,
            payload: payload(seq),
        };
        r.sensor_device
            .send(gateway, msg.encode(), false)
            .await
            .expect("queued");
    }
    r.pump("the unsigned relays answered", |r| {
        r.relayed() + r.withheld("credit_used_up") + r.withheld("lease_ended") >= 25
    })
    .await;
    assert_eq!(r.relayed(), 15, "five signed, then ten on credit");
    assert_eq!(r.closed().await, 5);
    r.ledger_shows(&lease, 5).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_forged_counts_get_nothing_relayed_and_nothing_paid() {
    let mut r = Relay::start(3_000, gateway_config(10, 100), sensor_config(20, 5)).await;
    let lease = r.lease().await;
    for i in 0..5 {
        r.sensor.push(payload(i)).expect("a small payload");
    }
    r.pump("five signed messages", |r| {
        r.gateway.best_count(&lease) == Some(5)
    })
    .await;
    // Three more relayed on credit, sent by the buyer's device itself, so
    // that a count between what was signed and what was relayed could land.
    let gateway = gateway_key().account();
    for seq in 100..103 {
        let msg = Wire::Relay {
            lease,
            seq,
            payload: payload(seq),
        };
        r.sensor_device
            .send(gateway, msg.encode(), false)
            .await
            .expect("queued");
    }
    r.pump("eight relayed", |r| r.relayed() == 8).await;
    let genesis = r.sensor_device.genesis_hash();
    let count = |n: u64, key: &Keypair| Wire::Count {
        lease,
        count: n,
        signature: ting_core::resource::DeliveryCount { lease, count: n }.sign(key, &genesis),
    };
    // A stranger (the sink's key) relays on the sensor's lease and on
    // leases that do not exist, and presents a count it signed itself.
    let mut forged = vec![Wire::Relay {
        lease,
        seq: 1_000,
        payload: b"forged".to_vec(),
    }];
    forged.extend((0..20u8).map(|i| Wire::Relay {
        lease: LeaseId(ting_core::Hash32([i; 32])),
        seq: 0,
        payload: b"forged".to_vec(),
    }));
    forged.push(count(7, &sink_key()));
    for msg in forged {
        r.sink
            .send(gateway, msg.encode(), false)
            .await
            .expect("queued");
    }
    // From the buyer's own device: a count the buyer did not sign, and one
    // the buyer signed for more than was relayed.
    for msg in [count(7, &sink_key()), count(9, &sensor_key())] {
        r.sensor_device
            .send(gateway, msg.encode(), false)
            .await
            .expect("queued");
    }
    let refused = |r: &Relay, why: &str| {
        r.gateway_events
            .iter()
            .filter(|e| matches!(e, GatewayEvent::CountRefused { why: w, .. } if *w == why))
            .count()
    };
    r.pump("every forgery answered", |r| {
        r.withheld("not_the_buyer") >= 1
            && r.withheld("unknown_lease") >= 20
            && refused(r, "not_the_buyer") >= 1
            && refused(r, "bad_signature") >= 1
            && refused(r, "more_than_relayed") >= 1
    })
    .await;
    assert_eq!(r.relayed(), 8, "nothing forged was relayed");
    assert_eq!(
        r.gateway.best_count(&lease),
        Some(5),
        "no forged count taken"
    );
    assert!(
        !r.gateway_events
            .iter()
            .any(|e| matches!(e, GatewayEvent::Leased { lease: l, .. } if *l != lease)),
        "a made-up lease is never served"
    );
    assert_eq!(r.closed().await, 5);
    r.pump("the sink has every relayed payload", |r| r.sunk.len() >= 8)
        .await;
    let mut sent: Vec<Vec<u8>> = (0..5).chain(100..103).map(payload).collect();
    let mut sunk = r.sunk.clone();
    sent.sort();
    sunk.sort();
    assert_eq!(
        sunk, sent,
        "only the buyer's payloads reached the destination"
    );
    r.ledger_shows(&lease, 5).await;
    r.stop().await;
}
