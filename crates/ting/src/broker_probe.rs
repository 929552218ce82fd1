//! Before a node starts on an external broker: whom it trusts when the broker
//! speaks TLS (`--mqtt-tls-ca`, `--mqtt-tls-pin`), and a quick look that the
//! broker is there and, over TLS, shows a certificate that trust accepts. A
//! start that would fail says so at once, before anything is written, with
//! the reason the SDK gives a device (`ting_agent::tls::tls_failure`).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use ting_agent::tls::{tls_failure, TlsTrust};
use ting_node::mqtt::MqttStartError;

use crate::failure::{bad_input, Exit, Kinded};

/// How long a start waits to reach an external broker before it gives up.
const BROKER_PROBE_WAIT: Duration = Duration::from_secs(5);

/// The TLS client configuration for an `mqtts://` broker, with the trust it
/// was made from; `None` for a plain `mqtt://` one. A CA file or a pin with a
/// plain broker is refused, as it would promise a check that never happens.
pub fn trust(
    url: &str,
    tls: bool,
    ca: Option<&Path>,
    pin: Option<&str>,
) -> anyhow::Result<Option<(Arc<rustls::ClientConfig>, TlsTrust)>> {
    if !tls {
        if ca.is_some() || pin.is_some() {
            return Err(bad_input(
                "tls_without_mqtts",
                format!(
                    "--mqtt-tls-ca and --mqtt-tls-pin are for an mqtts:// broker, and --mqtt-broker is {url}"
                ),
            ));
        }
        return Ok(None);
    }
    let trust = TlsTrust::from_options(ca, pin)
        .map_err(|e| bad_input(e.code(), format!("--mqtt-tls-ca/--mqtt-tls-pin: {e}")))?;
    let config = trust
        .client_config()
        .map_err(|e| bad_input(e.code(), e.to_string()))?;
    Ok(Some((Arc::new(config), trust)))
}

/// Checks that the broker takes TCP connections and, with `tls`, completes a
/// TLS handshake trusting what was given (the gateway then connects for real,
/// and says more if MQTT fails).
pub fn probe(
    url: &str,
    host: &str,
    port: u16,
    tls: Option<&(Arc<rustls::ClientConfig>, TlsTrust)>,
) -> anyhow::Result<()> {
    let unreachable = |reason: String| MqttStartError::Unreachable {
        broker: url.to_owned(),
        secs: BROKER_PROBE_WAIT.as_secs(),
        reason,
    };
    let stream = connect(host, port).map_err(unreachable)?;
    let Some((config, trust)) = tls else {
        return Ok(());
    };
    match handshake(stream, host, config) {
        Ok(()) => Ok(()),
        Err(e) => match tls_failure(&e, trust) {
            Some(f) if f.untrusted => Err(Kinded {
                exit: Exit::NotValid,
                code: "mqtt_broker_untrusted",
                message: format!(
                    "the MQTT broker at {url} is not trusted: {}; give the broker's CA with --mqtt-tls-ca FILE or its certificate's SHA-256 with --mqtt-tls-pin",
                    f.reason
                ),
            }
            .into()),
            Some(f) => Err(unreachable(f.reason).into()),
            None => Err(unreachable(e.to_string()).into()),
        },
    }
}

/// A TCP connection to the first of `host`'s addresses that answers.
fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, BROKER_PROBE_WAIT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// A TLS handshake over `stream` as a client of `host`, then closed.
fn handshake(
    mut stream: TcpStream,
    host: &str,
    config: &Arc<rustls::ClientConfig>,
) -> io::Result<()> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut conn = rustls::ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    stream.set_read_timeout(Some(BROKER_PROBE_WAIT))?;
    stream.set_write_timeout(Some(BROKER_PROBE_WAIT))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut stream)?;
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut stream);
    Ok(())
}
