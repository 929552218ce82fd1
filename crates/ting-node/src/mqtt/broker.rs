//! The embedded MQTT broker: rumqttd, configured in code with bounded memory.
//!
//! rumqttd binds its listener on a thread of its own and only logs a bind
//! failure, so the address is bound here first: a taken port becomes a start-up
//! error that names it. The listener serves MQTT 3.1.1 (rumqttd serves one
//! protocol version per listener, and 3.1.1 is what every device library
//! speaks). rumqttd has no shutdown: its threads live until the process ends.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, SegmentConfig, ServerSettings};

use super::limits::{
    MQTT_CONNECTIONS_MAX, MQTT_CONNECT_TIMEOUT_MS, MQTT_INFLIGHT_MAX, MQTT_OUTGOING_PACKETS_MAX,
    MQTT_PAYLOAD_BYTES_MAX, MQTT_SEGMENTS_MAX, MQTT_SEGMENT_BYTES, MQTT_TX_SEGMENTS_MAX,
    MQTT_TX_SEGMENT_BYTES,
};
use super::MqttStartError;
use ting_core::topics::TX_TOPIC;

/// Checks that `listen` is free and answers the address to give the broker
/// (port 0 is resolved to the port the system picked). The port is free again
/// when this returns; the broker binds it moments later.
pub fn claim(listen: SocketAddr) -> Result<SocketAddr, MqttStartError> {
    match TcpListener::bind(listen) {
        Ok(l) => l.local_addr().map_err(|source| MqttStartError::Bind {
            addr: listen,
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(MqttStartError::ListenTaken { addr: listen })
        }
        Err(source) => Err(MqttStartError::Bind {
            addr: listen,
            source,
        }),
    }
}

fn router_config() -> RouterConfig {
    let tx_segment = SegmentConfig {
        max_segment_size: MQTT_TX_SEGMENT_BYTES,
        max_segment_count: MQTT_TX_SEGMENTS_MAX,
    };
    RouterConfig {
        max_connections: MQTT_CONNECTIONS_MAX,
        max_outgoing_packet_count: MQTT_OUTGOING_PACKETS_MAX,
        max_segment_size: MQTT_SEGMENT_BYTES,
        max_segment_count: MQTT_SEGMENTS_MAX,
        custom_segment: Some(HashMap::from([(TX_TOPIC.to_string(), tx_segment)])),
        ..RouterConfig::default()
    }
}

fn server_settings(addr: SocketAddr) -> ServerSettings {
    ServerSettings {
        name: "ting-mqtt".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: MQTT_CONNECT_TIMEOUT_MS,
            max_payload_size: MQTT_PAYLOAD_BYTES_MAX,
            max_inflight_count: usize::from(MQTT_INFLIGHT_MAX),
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    }
}

/// The broker's whole configuration: one MQTT 3.1.1 listener, no console, no metrics server.
fn config(addr: SocketAddr) -> Config {
    Config {
        id: 0,
        router: router_config(),
        v4: Some(HashMap::from([("1".to_string(), server_settings(addr))])),
        ..Config::default()
    }
}

/// Starts the broker on `listen`; answers the address it listens on.
pub(crate) fn start(listen: SocketAddr) -> Result<SocketAddr, MqttStartError> {
    let addr = claim(listen)?;
    let mut broker = Broker::new(config(addr));
    std::thread::Builder::new()
        .name("ting-mqtt-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the embedded MQTT broker stopped");
            }
        })
        .map_err(|source| MqttStartError::Bind { addr, source })?;
    Ok(addr)
}
