//! Light device sessions: each logs in and subscribes exactly as a device
//! does, then only keeps its session alive, so that one process can hold a
//! city's worth of them.
//!
//! A light session is a plain TCP connection speaking the MQTT 3.1.1 packets
//! of rumqttc (the SDK's client library): CONNECT with a fresh login token
//! from the SDK's [`ting_agent::mqtt_login`], a persistent session
//! (clean-session 0) and a realistic keep-alive, a SUBSCRIBE to its inbox
//! and its sequencer's announcements, PINGREQ on time, PUBACK for whatever
//! arrives. A lost or refused connection is retried with the SDK's jittered
//! exponential [`Backoff`], as a device's link does. Each connection comes
//! from one of several loopback source addresses (127.0.0.x), so that
//! ephemeral ports (about 28,000 per source address) do not run out.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::tokio_rustls::TlsConnector;
use rumqttc::{ConnectReturnCode, Packet, PingReq, PubAck, QoS, Subscribe, SubscribeFilter};
use ting_agent::backoff::Backoff;
use ting_agent::clock::NetworkClock;
use ting_agent::mqtt_login;
use ting_core::{topics, AccountId, Hash32, Keypair};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

/// Keep-alive of a light session: a minute, as IoT devices commonly use.
pub const LIGHT_KEEP_ALIVE: Duration = Duration::from_secs(60);
/// How long a connection attempt may take up to its SUBACK.
const LIGHT_CONNECT_WAIT: Duration = Duration::from_secs(10);
/// The largest packet a light session takes (a notice to its inbox).
const LIGHT_PACKET_BYTES_MAX: usize = 64 * 1024;
/// First read buffer of a session; it grows only for a larger packet.
const LIGHT_READ_BUFFER: usize = 256;

/// What every light session reports to.
#[derive(Debug, Default)]
pub struct Tally {
    /// Sessions logged in and subscribed right now.
    pub connected: AtomicUsize,
    /// Logins answered with CONNACK accepted.
    pub logins: AtomicU64,
    /// Logins refused with a CONNACK code (the broker busy, or a bad token).
    pub refused: AtomicU64,
    /// Attempts that failed before any CONNACK (connect error, timeout).
    pub failed: AtomicU64,
    /// Established sessions that ended (the broker went away).
    pub dropped: AtomicU64,
}

/// One light device.
#[derive(Debug)]
pub struct Light {
    pub key: Keypair,
    pub source: IpAddr,
    pub seed: u64,
}

/// Where and as what the sessions log in.
#[derive(Clone)]
pub struct Target {
    pub broker: SocketAddr,
    pub genesis: Hash32,
    pub sequencer: AccountId,
    pub clock: NetworkClock,
    /// With TLS: the client set up to trust the broker's certificate.
    pub tls: Option<TlsConnector>,
}

/// A light session's connection: its socket, or TLS over it.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Runs `light` until `stop` turns true: connect, serve, and on any failure
/// wait the backoff and connect again.
pub async fn run(
    light: Light,
    target: Arc<Target>,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(light.seed);
    let mut attempt = 0u32;
    while !*stop.borrow() {
        let ended = tokio::select! {
            r = session(&light, &target, &tally) => r,
            _ = stop.changed() => return,
        };
        attempt = match ended {
            Ended::Established => 0,
            Ended::NotEstablished => attempt.saturating_add(1),
        };
        let wait = backoff.delay(attempt);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

enum Ended {
    /// The session was up and then dropped: start the backoff over.
    Established,
    NotEstablished,
}

async fn session(light: &Light, target: &Target, tally: &Tally) -> Ended {
    let mut buf = BytesMut::with_capacity(LIGHT_READ_BUFFER);
    let stream =
        tokio::time::timeout(LIGHT_CONNECT_WAIT, log_in(light, target, tally, &mut buf)).await;
    let mut stream = match stream {
        Ok(Some(s)) => s,
        Ok(None) => return Ended::NotEstablished,
        Err(_) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            return Ended::NotEstablished;
        }
    };
    tally.connected.fetch_add(1, Ordering::Relaxed);
    serve(&mut stream, &mut buf).await;
    tally.connected.fetch_sub(1, Ordering::Relaxed);
    tally.dropped.fetch_add(1, Ordering::Relaxed);
    Ended::Established
}

/// Connects, logs in and subscribes; `None` (counted) if any step failed.
async fn log_in(
    light: &Light,
    target: &Target,
    tally: &Tally,
    buf: &mut BytesMut,
) -> Option<Box<dyn Conn>> {
    let Ok(tcp) = connect(light.source, target.broker).await else {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let mut stream: Box<dyn Conn> = match &target.tls {
        None => Box::new(tcp),
        Some(tls) => {
            let name = rustls::pki_types::ServerName::IpAddress(target.broker.ip().into());
            match tls.connect(name, tcp).await {
                Ok(s) => Box::new(s),
                Err(_) => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
    };
    let login = mqtt_login(&light.key, &target.genesis, None, &target.clock)
        .expect("no suffix is always valid");
    let mut connect = rumqttc::Connect::new(login.client_id);
    connect.keep_alive = u16::try_from(LIGHT_KEEP_ALIVE.as_secs()).expect("small");
    connect.clean_session = false;
    connect.set_login(login.username, login.password);
    let mut out = BytesMut::new();
    connect.write(&mut out).ok()?;
    let me = light.key.account();
    let subscribe = Subscribe::new_many([
        SubscribeFilter::new(topics::inbox(&me), QoS::AtLeastOnce),
        SubscribeFilter::new(topics::node(&target.sequencer), QoS::AtLeastOnce),
    ]);
    if stream.write_all(&out).await.is_err() {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    match read(&mut stream, buf).await {
        Some(Packet::ConnAck(ack)) if ack.code == ConnectReturnCode::Success => {
            tally.logins.fetch_add(1, Ordering::Relaxed);
        }
        Some(Packet::ConnAck(_)) => {
            tally.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        _ => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
    }
    out.clear();
    let mut subscribe = subscribe;
    subscribe.pkid = 1;
    subscribe.write(&mut out).ok()?;
    if stream.write_all(&out).await.is_err() {
        tally.failed.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    loop {
        match read(&mut stream, buf).await {
            Some(Packet::SubAck(_)) => return Some(stream),
            Some(Packet::Publish(p)) => {
                // A retained announcement may come before the SUBACK.
                if p.qos == QoS::AtLeastOnce && !ack(&mut stream, p.pkid).await {
                    break;
                }
            }
            _ => break,
        }
    }
    tally.failed.fetch_add(1, Ordering::Relaxed);
    None
}

/// A TCP connection to `broker` from `source` (port chosen by the system).
async fn connect(source: IpAddr, broker: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if source.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(broker).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Keeps the session alive until the broker goes away.
async fn serve(stream: &mut Box<dyn Conn>, buf: &mut BytesMut) {
    // A ping at three quarters of the keep-alive, as clients do, so that
    // the broker's one-and-a-half keep-alive never runs out.
    let mut ping = tokio::time::interval(LIGHT_KEEP_ALIVE * 3 / 4);
    ping.tick().await;
    let mut out = BytesMut::new();
    loop {
        tokio::select! {
            packet = read(stream, buf) => match packet {
                Some(Packet::Publish(p)) if p.qos == QoS::AtLeastOnce => {
                    if !ack(stream, p.pkid).await {
                        return;
                    }
                }
                Some(_) => {}
                None => return,
            },
            _ = ping.tick() => {
                out.clear();
                if PingReq.write(&mut out).is_err() || stream.write_all(&out).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn ack(stream: &mut Box<dyn Conn>, pkid: u16) -> bool {
    let mut out = BytesMut::new();
    PubAck::new(pkid).write(&mut out).is_ok() && stream.write_all(&out).await.is_ok()
}

/// The next packet, or `None` when the connection ended or sent garbage.
async fn read(stream: &mut Box<dyn Conn>, buf: &mut BytesMut) -> Option<Packet> {
    loop {
        match Packet::read(buf, LIGHT_PACKET_BYTES_MAX) {
            Ok(packet) => {
                if buf.is_empty() && buf.capacity() > LIGHT_READ_BUFFER * 4 {
                    // Give a large packet's buffer back: 100,000 idle
                    // sessions must stay small.
                    *buf = BytesMut::with_capacity(LIGHT_READ_BUFFER);
                }
                return Some(packet);
            }
            Err(rumqttc::Error::InsufficientBytes(n)) => {
                buf.reserve(n.max(LIGHT_READ_BUFFER));
                match stream.read_buf(buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
            Err(_) => return None,
        }
    }
}
