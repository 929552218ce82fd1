//! The node's MQTT client: rumqttc, speaking 3.1.1 to the embedded broker and
//! 5 to an external one, behind one small interface.
//!
//! Why two versions: the embedded broker is reached with 3.1.1 (it routes
//! `$share/...` for 3.1.1 clients too); an external broker gets MQTT 5, whose
//! shared subscriptions are standard there. Before every connection attempt
//! the client logs in afresh, as the node's sequencer account. The rest of the
//! gateway sees only [`Client`], [`Events`] and [`Incoming`].
//!
//! The socket has Nagle's algorithm off (`TCP_NODELAY`). The node's traffic is
//! small packets that someone waits for: a notice a device's window waits on, a
//! PUBACK the broker's window waits on. With Nagle, each small write waits for
//! the previous segment's ACK, which the peer may delay by tens of
//! milliseconds; measured on `ting bench mqtt` with Mosquitto, that alone held
//! the gateway to about 3 400 transactions/s, a third of what it does without.

use std::sync::Arc;

use rumqttc::v5::mqttbytes::v5::{Packet as Packet5, SubscribeReasonCode as SubCode5};
use rumqttc::v5::mqttbytes::QoS as QoS5;
use rumqttc::{Packet as Packet4, QoS as QoS4, SubscribeReasonCode as SubCode4};

use ting_core::login::{self, LoginToken};
use ting_core::{Hash32, Keypair};

use super::limits::{
    MQTT_CLIENT_INFLIGHT_MAX, MQTT_CLIENT_REQUESTS_MAX, MQTT_KEEP_ALIVE, MQTT_PAYLOAD_BYTES_MAX,
};

/// Which MQTT version the node speaks to its broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// MQTT 3.1.1, to the embedded broker.
    V311,
    /// MQTT 5, to an external broker.
    V5,
}

/// A handle that queues requests for the event loop; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) enum Client {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// The connection's event loop; polling it drives the socket. Before every
/// connection attempt it logs in afresh (docs/mqtt.md §9): a token is good
/// for one connection only.
pub(crate) struct Events {
    event_loop: EventLoop,
    login: Login,
    relogin: bool,
}

enum EventLoop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}

/// How the node's client logs in: as its sequencer account.
pub(crate) struct Login {
    pub key: Keypair,
    pub genesis_hash: Hash32,
    pub client_id: String,
    /// What stamps the login token.
    pub time: crate::clock::NetworkTime,
}

impl Login {
    fn credentials(&self) -> (String, String) {
        let token = LoginToken::issue(
            &self.key,
            &self.genesis_hash,
            &self.client_id,
            self.time.now(),
            rand::random(),
        );
        (login::username(&self.key.account()), token.to_text())
    }
}

/// What the event loop yielded, reduced to what the gateway acts on.
#[derive(Debug)]
pub(crate) enum Incoming {
    Connected,
    /// The broker answered a subscription: granted or not.
    Subscribed {
        granted: bool,
    },
    Publish {
        topic: String,
        payload: Vec<u8>,
    },
    Other,
}

/// The two QoS levels Ting uses (docs/mqtt.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Qos {
    AtMostOnce,
    AtLeastOnce,
}

fn qos4(q: Qos) -> QoS4 {
    match q {
        Qos::AtMostOnce => QoS4::AtMostOnce,
        Qos::AtLeastOnce => QoS4::AtLeastOnce,
    }
}

fn qos5(q: Qos) -> QoS5 {
    match q {
        Qos::AtMostOnce => QoS5::AtMostOnce,
        Qos::AtLeastOnce => QoS5::AtLeastOnce,
    }
}

/// A client with a clean session: a reconnect starts afresh, so a payload that
/// broke the connection is not delivered again, and the gateway resubscribes.
/// Its last will is `will` (topic, payload), retained: the node's leaving
/// hello, so a node that dies says so.
pub(crate) fn connect(
    login: Login,
    broker: Endpoint<'_>,
    protocol: Protocol,
    will: (&str, Vec<u8>),
) -> (Client, Events) {
    let id = login.client_id.clone();
    let (client, event_loop) = connect_loop(&id, broker, protocol, will);
    let events = Events {
        event_loop,
        login,
        relogin: true,
    };
    (client, events)
}

/// Where the node's client connects: a host and port, over TLS trusting
/// `tls` when it is given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: Option<&'a Arc<rustls::ClientConfig>>,
}

impl Endpoint<'_> {
    fn transport(&self) -> rumqttc::Transport {
        match self.tls {
            None => rumqttc::Transport::tcp(),
            Some(config) => rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(
                Arc::clone(config),
            )),
        }
    }
}

fn connect_loop(
    id: &str,
    broker: Endpoint<'_>,
    protocol: Protocol,
    will: (&str, Vec<u8>),
) -> (Client, EventLoop) {
    let (host, port) = (broker.host, broker.port);
    let (will_topic, will_payload) = will;
    let inflight = MQTT_CLIENT_INFLIGHT_MAX;
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    match protocol {
        Protocol::V311 => {
            let mut o = rumqttc::MqttOptions::new(id, host, port);
            o.set_transport(broker.transport());
            o.set_keep_alive(MQTT_KEEP_ALIVE)
                .set_last_will(rumqttc::LastWill::new(
                    will_topic,
                    will_payload.clone(),
                    QoS4::AtLeastOnce,
                    true,
                ))
                .set_clean_session(true)
                .set_inflight(inflight)
                .set_request_channel_capacity(MQTT_CLIENT_REQUESTS_MAX)
                .set_max_packet_size(MQTT_PAYLOAD_BYTES_MAX, MQTT_PAYLOAD_BYTES_MAX);
            let (c, mut e) = rumqttc::AsyncClient::new(o, MQTT_CLIENT_REQUESTS_MAX);
            e.set_network_options(network);
            (Client::V4(c), EventLoop::V4(Box::new(e)))
        }
        Protocol::V5 => {
            let mut o = rumqttc::v5::MqttOptions::new(id, host, port);
            o.set_transport(broker.transport());
            let max = u32::try_from(MQTT_PAYLOAD_BYTES_MAX).expect("the payload limit fits u32");
            o.set_keep_alive(MQTT_KEEP_ALIVE)
                .set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                    will_topic,
                    will_payload,
                    QoS5::AtLeastOnce,
                    true,
                    None,
                ))
                .set_clean_start(true)
                .set_request_channel_capacity(MQTT_CLIENT_REQUESTS_MAX)
                .set_max_packet_size(Some(max));
            o.set_outgoing_inflight_upper_limit(inflight);
            o.set_network_options(network);
            let (c, e) = rumqttc::v5::AsyncClient::new(o, MQTT_CLIENT_REQUESTS_MAX);
            (Client::V5(c), EventLoop::V5(Box::new(e)))
        }
    }
}

impl Client {
    /// Queues a publish; waits only while the request queue is full.
    pub async fn publish(
        &self,
        topic: String,
        qos: Qos,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .publish(topic, qos4(qos), retain, payload)
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .publish(topic, qos5(qos), retain, payload)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    pub async fn subscribe(&self, filter: &str, qos: Qos) -> Result<(), String> {
        match self {
            Client::V4(c) => c
                .subscribe(filter, qos4(qos))
                .await
                .map_err(|e| e.to_string()),
            Client::V5(c) => c
                .subscribe(filter, qos5(qos))
                .await
                .map_err(|e| e.to_string()),
        }
    }

    pub async fn disconnect(&self) -> Result<(), String> {
        match self {
            Client::V4(c) => c.disconnect().await.map_err(|e| e.to_string()),
            Client::V5(c) => c.disconnect().await.map_err(|e| e.to_string()),
        }
    }
}

fn incoming4(p: Packet4) -> Incoming {
    match p {
        Packet4::ConnAck(_) => Incoming::Connected,
        Packet4::SubAck(s) => Incoming::Subscribed {
            granted: s
                .return_codes
                .iter()
                .all(|c| matches!(c, SubCode4::Success(_))),
        },
        Packet4::Publish(p) => Incoming::Publish {
            topic: p.topic,
            payload: p.payload.to_vec(),
        },
        _ => Incoming::Other,
    }
}

fn incoming5(p: Packet5) -> Incoming {
    match p {
        Packet5::ConnAck(_) => Incoming::Connected,
        Packet5::SubAck(s) => Incoming::Subscribed {
            granted: s
                .return_codes
                .iter()
                .all(|c| matches!(c, SubCode5::Success(_))),
        },
        Packet5::Publish(p) => Incoming::Publish {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload.to_vec(),
        },
        _ => Incoming::Other,
    }
}

impl Events {
    /// The next event; an error means the connection is down (the next poll reconnects).
    pub async fn poll(&mut self) -> Result<Incoming, String> {
        if self.relogin {
            let (user, password) = self.login.credentials();
            match &mut self.event_loop {
                EventLoop::V4(e) => {
                    e.mqtt_options.set_credentials(user, password);
                }
                EventLoop::V5(e) => {
                    e.options.set_credentials(user, password);
                }
            }
            self.relogin = false;
        }
        let polled = self.poll_once().await;
        self.relogin = polled.is_err();
        polled
    }

    async fn poll_once(&mut self) -> Result<Incoming, String> {
        match &mut self.event_loop {
            EventLoop::V4(e) => match e.poll().await {
                Ok(rumqttc::Event::Incoming(p)) => Ok(incoming4(p)),
                Ok(rumqttc::Event::Outgoing(_)) => Ok(Incoming::Other),
                Err(e) => Err(e.to_string()),
            },
            EventLoop::V5(e) => match e.poll().await {
                Ok(rumqttc::v5::Event::Incoming(p)) => Ok(incoming5(p)),
                Ok(rumqttc::v5::Event::Outgoing(_)) => Ok(Incoming::Other),
                Err(e) => Err(e.to_string()),
            },
        }
    }
}
