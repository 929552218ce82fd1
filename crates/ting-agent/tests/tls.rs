//! TLS on the client side, against real rustls servers on free ports with a
//! self-signed certificate made for the test: an `https://` node is reached
//! with the right pin or a CA file that holds its certificate, and refused,
//! with an error that names TLS and the trust, for a wrong pin, a name the
//! certificate does not hold, or no trust given (the system's CAs do not know
//! a self-signed certificate). A device reaches its node through an
//! `mqtts://` broker (a TLS front for the node's embedded broker) with the
//! right pin, and says the broker is untrusted with a wrong one.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{node, sequencer, wait_until, NET};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use ting_agent::device::{ConnectError, Presence};
use ting_agent::tls::{cert_pin, pin_text, TlsTrust};
use ting_agent::{Broker, Device, DeviceConfig, HttpError, NodeClient};
use ting_core::{Hash32, Keypair};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Largest request the test server reads (a GET's head).
const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;

/// A self-signed certificate and its key, as a dev node would make.
struct TestCert {
    der: CertificateDer<'static>,
    pem: String,
    key: Vec<u8>,
    key_pem: String,
}

impl TestCert {
    fn new(names: &[&str]) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let made = rcgen::generate_simple_self_signed(names).expect("a certificate");
        TestCert {
            der: made.cert.der().clone(),
            pem: made.cert.pem(),
            key: made.signing_key.serialize_der(),
            key_pem: made.signing_key.serialize_pem(),
        }
    }

    fn pin(&self) -> [u8; 32] {
        cert_pin(&self.der)
    }

    fn acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let config = ServerConfig::builder_with_provider(ting_agent::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], key)
            .expect("a server configuration");
        TlsAcceptor::from(Arc::new(config))
    }

    /// The certificate as a CA file, in `dir`.
    fn ca_file(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.pem).expect("write ca.pem");
        path
    }
}

/// What a node's `/v1/status` says, naming `broker` as its MQTT broker.
fn status_body(broker: &str) -> String {
    serde_json::json!({
        "network": NET.0,
        "name": "tls-test",
        "genesis_hash": Hash32([9; 32]).to_hex(),
        "sequencer": sequencer().account().to_did(),
        "height": 3,
        "durable_height": 3,
        "mqtt": { "broker": broker },
    })
    .to_string()
}

/// Answers one HTTP/1.1 request on `stream` with `body` (JSON), then closes;
/// what does not start as HTTP (a TLS hello) gets a 400 at once, as from hyper.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    body: &str,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < REQUEST_HEAD_BYTES_MAX {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if !head[0].is_ascii_uppercase() {
            let refusal =
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = stream.write_all(refusal).await;
            let _ = stream.shutdown().await;
            return;
        }
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A server on a free port answering every request with `body`, over TLS
/// with `cert` when given; its address.
async fn status_server(cert: Option<&TestCert>, body: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = cert.map(TestCert::acceptor);
    let body: Arc<str> = body.into();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, body) = (acceptor.clone(), Arc::clone(&body));
            tokio::spawn(async move {
                match acceptor {
                    None => answer(tcp, &body).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            answer(tls, &body).await;
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn status_with(
    url: &str,
    trust: &TlsTrust,
) -> Result<ting_agent::client::NodeStatus, HttpError> {
    NodeClient::with_trust(url, trust)?.status().await
}

#[tokio::test]
async fn the_right_pin_reaches_a_node_with_a_self_signed_certificate() {
    let cert = TestCert::new(&["localhost", "127.0.0.1"]);
    let addr = status_server(Some(&cert), status_body("mqtts://127.0.0.1:8883")).await;
    let pin = TlsTrust::pin(&pin_text(&cert.pin())).expect("the pin reads");
    let status = status_with(&format!("https://{addr}"), &pin)
        .await
        .expect("the pinned node answers");
    assert_eq!(status.network, NET);
    assert_eq!(status.mqtt.as_deref(), Some("mqtts://127.0.0.1:8883"));
}

#[tokio::test]
async fn a_wrong_pin_is_refused_with_an_error_that_names_tls_and_both_pins() {
    let cert = TestCert::new(&["localhost", "127.0.0.1"]);
    let addr = status_server(Some(&cert), status_body("mqtt://127.0.0.1:1883")).await;
    let wrong = [0xab; 32];
    let err = status_with(&format!("https://{addr}"), &TlsTrust::Pin(wrong))
        .await
        .expect_err("another certificate than the pinned one");
    assert_eq!(err.code(), "tls_untrusted", "{err}");
    assert!(matches!(err, HttpError::TlsUntrusted { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("TLS"), "{text}");
    assert!(text.contains(&pin_text(&wrong)), "names the pin: {text}");
    assert!(
        text.contains(&pin_text(&cert.pin())),
        "names the certificate's: {text}"
    );
    assert!(!err.is_transient(), "asking again will not help");
}

#[tokio::test]
async fn a_ca_file_holding_the_nodes_certificate_lets_the_client_in_by_name_and_by_address() {
    let cert = TestCert::new(&["localhost", "127.0.0.1"]);
    let addr = status_server(Some(&cert), status_body("mqtt://127.0.0.1:1883")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TlsTrust::ca_file(&cert.ca_file(dir.path())).expect("the CA file reads");
    for url in [
        format!("https://{addr}"),
        format!("https://localhost:{}", addr.port()),
    ] {
        let status = status_with(&url, &ca)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(status.sequencer, sequencer().account());
    }
}

#[tokio::test]
async fn a_ca_file_does_not_let_in_a_certificate_for_another_name() {
    let cert = TestCert::new(&["node.example"]);
    let addr = status_server(Some(&cert), status_body("mqtt://127.0.0.1:1883")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = TlsTrust::ca_file(&cert.ca_file(dir.path())).expect("the CA file reads");
    let err = status_with(&format!("https://{addr}"), &ca)
        .await
        .expect_err("the certificate names node.example, not 127.0.0.1");
    assert_eq!(err.code(), "tls_untrusted", "{err}");
    assert!(
        err.to_string().contains("ca.pem"),
        "names the CA file: {err}"
    );
}

#[tokio::test]
async fn without_a_pin_or_a_ca_file_a_self_signed_node_is_refused() {
    let cert = TestCert::new(&["localhost", "127.0.0.1"]);
    let addr = status_server(Some(&cert), status_body("mqtt://127.0.0.1:1883")).await;
    // `NodeClient::new` trusts the system's CAs, which know no self-signed certificate.
    let url = format!("https://{addr}");
    let err = match NodeClient::new(&url) {
        Ok(client) => client.status().await.expect_err("a self-signed node"),
        Err(e) => e,
    };
    match err.code() {
        "tls_untrusted" => assert!(err.to_string().contains("system"), "{err}"),
        // A machine without a CA bundle refuses before it connects.
        "tls_no_system_roots" => {}
        other => panic!("{other}: {err}"),
    }
}

#[tokio::test]
async fn an_https_url_for_a_plain_http_server_fails_the_handshake_with_its_own_code() {
    let addr = status_server(None, status_body("mqtt://127.0.0.1:1883")).await;
    let err = status_with(&format!("https://{addr}"), &TlsTrust::Pin([1; 32]))
        .await
        .expect_err("no TLS there");
    assert_eq!(err.code(), "tls_handshake", "{err}");
    let plain = status_with(&format!("http://{addr}"), &TlsTrust::Pin([1; 32]))
        .await
        .expect("plain HTTP still works beside a trust that applies to https only");
    assert_eq!(plain.network, NET);
}

#[tokio::test]
async fn discovery_over_https_takes_the_mqtts_broker_the_node_names_and_the_trust() {
    let cert = TestCert::new(&["localhost", "127.0.0.1"]);
    let addr = status_server(Some(&cert), status_body("mqtts://127.0.0.1:8883")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = DeviceConfig::discover_with(
        Keypair::from_seed([50; 32]),
        dir.path().to_path_buf(),
        &format!("https://{addr}"),
        TlsTrust::Pin(cert.pin()),
    )
    .await
    .expect("discovers over TLS");
    let broker = config.broker.as_ref().expect("the node names a broker");
    assert!(broker.tls && broker.port == 8883, "{broker}");
    assert!(matches!(config.tls, TlsTrust::Pin(p) if p == cert.pin()));
}

/// A node whose embedded broker serves devices over TLS with `cert`, as
/// `ting node --tls` runs it.
struct TlsBrokerNode {
    _dir: tempfile::TempDir,
    node: ting_node::Node,
    gateway: Gateway,
    genesis_hash: Hash32,
    front: SocketAddr,
}

impl TlsBrokerNode {
    async fn start(cert: &TestCert) -> TlsBrokerNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = node(dir.path(), &[]);
        let shared = Arc::clone(node.shared());
        let genesis_hash = shared.genesis_hash;
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, &cert.pem).expect("write cert.pem");
        std::fs::write(&key_path, &cert.key_pem).expect("write key.pem");
        let tls =
            ting_node::tls::ServerTls::load(&cert_path, &key_path).expect("the identity loads");
        assert_eq!(
            tls.fingerprint,
            cert.pin(),
            "the node and the client agree on the pin"
        );
        let cfg = GatewayConfig {
            mode: MqttMode::Embedded {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            },
            key: sequencer(),
            client_id: None,
            connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
            logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
            tls: Some(tls),
            broker_tls: None,
        };
        let gateway = Gateway::start(shared, cfg)
            .await
            .expect("the gateway starts");
        assert!(
            gateway.broker().starts_with("mqtts://"),
            "{}",
            gateway.broker()
        );
        let front = gateway.listen_addr().expect("an embedded broker");
        TlsBrokerNode {
            _dir: dir,
            node,
            gateway,
            genesis_hash,
            front,
        }
    }

    fn device(&self, state: &std::path::Path, seed: u8, tls: TlsTrust) -> Device {
        let config = DeviceConfig {
            key: Keypair::from_seed([seed; 32]),
            state_dir: state.to_path_buf(),
            network: NET,
            sequencers: vec![sequencer().account()],
            genesis_hash: self.genesis_hash,
            node_url: "http://127.0.0.1:1".into(),
            broker: Some(Broker {
                host: "127.0.0.1".into(),
                port: self.front.port(),
                tls: true,
            }),
            tls,
            seed: u64::from(seed),
            clock: ting_agent::clock::NetworkClock::REAL,
            witnesses: ting_core::witness::WitnessPolicy::default(),
        };
        Device::start(config).expect("the device starts")
    }

    async fn stop(self) {
        self.gateway.shutdown().await;
        let node = self.node;
        tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .expect("the node stops");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_finds_its_node_over_mqtts_with_the_right_pin_and_not_with_a_wrong_one() {
    let cert = TestCert::new(&["localhost", "127.0.0.1"]);
    let node = TlsBrokerNode::start(&cert).await;

    let state = tempfile::tempdir().expect("tempdir");
    let device = node.device(state.path(), 51, TlsTrust::Pin(cert.pin()));
    let seen = device
        .wait_for_node(common::DEADLINE)
        .await
        .expect("the node is found through the TLS broker");
    assert_eq!(seen.node, sequencer().account());
    assert!(seen.broker.starts_with("mqtts://"), "{}", seen.broker);
    device.shutdown().await;

    let state = tempfile::tempdir().expect("tempdir");
    let wrong = [0xcd; 32];
    let device = node.device(state.path(), 52, TlsTrust::Pin(wrong));
    wait_until("the broker to be found untrusted", || {
        matches!(device.presence(), Presence::Untrusted { .. })
    })
    .await;
    let err = device
        .wait_for_node(Duration::from_millis(100))
        .await
        .expect_err("a broker with another certificate is not trusted");
    assert_eq!(err.code(), "broker_tls_untrusted", "{err}");
    assert!(
        matches!(err, ConnectError::BrokerUntrusted { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("TLS") && text.contains(&pin_text(&wrong)),
        "{text}"
    );
    device.shutdown().await;

    node.stop().await;
}
