//! `logins_per_s`: how many device logins the broker completes per second.
//!
//! A login is one MQTT CONNECT carrying a fresh login token (docs/mqtt.md
//! §9), answered by a CONNACK; the embedded broker checks the token's
//! signature, window and replay cache before it answers. Each login here is
//! a different device (a key of its own, so no login takes over another's
//! session), and each connection is closed with a DISCONNECT once accepted:
//! the cycle a fleet of devices coming back after an outage puts on a broker.
//!
//! The method: keys and tokens are made before the clock starts (they are the
//! devices' cost, as signing is elsewhere in this benchmark); then
//! `LOGIN_CLIENTS` clients at once each run connect → CONNACK → DISCONNECT
//! cycles, taking the next unused login, until `LOGIN_CYCLES` logins are
//! done; the first `LOGIN_WARM_UP_CYCLES` are not timed. The rate is the
//! timed logins accepted over the wall time they took. Concurrent clients,
//! rather than one after another, so that the figure is the broker's
//! throughput and not one client's round trip; a fixed number of logins
//! rather than a time window, because tokens expire a minute after they are
//! made, so they cannot be made for an open-ended window ahead of it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Outgoing, Packet};

use super::session::{login_options, set_traffic, Broker, Traffic, CONNECT_WAIT};
use super::workload;

/// Logins measured, after the warm-up.
pub(super) const LOGIN_CYCLES: usize = 5_000;
/// Logins before the clock starts.
const LOGIN_WARM_UP_CYCLES: usize = 500;
/// Clients logging in at once.
pub(super) const LOGIN_CLIENTS: usize = 16;
/// Key purpose of the login devices: keys of their own, not funded.
const LOGIN_KEY_PURPOSE: u8 = 0x10;
/// The client-id suffix of a login device.
const LOGIN_SUFFIX: &str = "login";
/// Requests a login client may queue: it sends only a DISCONNECT.
const LOGIN_CLIENT_REQUESTS_MAX: usize = 4;

/// What the login run measured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Logins {
    pub accepted: u64,
    pub refused: u64,
    pub seconds: f64,
}

impl Logins {
    pub fn per_s(self) -> f64 {
        self.accepted as f64 / self.seconds.max(1e-9)
    }
}

/// Runs the warm-up, then the measured logins.
pub(super) async fn login_rate(broker: &Broker) -> anyhow::Result<Logins> {
    let warm_up = make_logins(broker, 0, LOGIN_WARM_UP_CYCLES)?;
    run_cycles(broker, warm_up).await?;
    let measured = make_logins(broker, LOGIN_WARM_UP_CYCLES, LOGIN_CYCLES)?;
    run_cycles(broker, measured).await
}

/// `count` logged-in client options, one per fresh key from `first` on, made
/// on every core.
fn make_logins(broker: &Broker, first: usize, count: usize) -> anyhow::Result<Vec<MqttOptions>> {
    let bar = super::super::progress(count as u64, "making login tokens");
    let made = workload::par_map(count, &bar, |i| {
        let index = u64::try_from(first + i).expect("a small index");
        let key = workload::keypair(LOGIN_KEY_PURPOSE, index);
        let mut opts = login_options(broker, &key, LOGIN_SUFFIX)?;
        opts.set_clean_session(true);
        anyhow::Ok(opts)
    });
    bar.finish_and_clear();
    made.into_iter().collect()
}

/// Runs every login in `logins` on `LOGIN_CLIENTS` concurrent clients.
async fn run_cycles(broker: &Broker, logins: Vec<MqttOptions>) -> anyhow::Result<Logins> {
    let logins = Arc::new(logins);
    let next = Arc::new(AtomicUsize::new(0));
    let (accepted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let clients: Vec<_> = (0..LOGIN_CLIENTS)
        .map(|_| {
            let (logins, next) = (Arc::clone(&logins), Arc::clone(&next));
            let (accepted, refused) = (Arc::clone(&accepted), Arc::clone(&refused));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(opts) = logins.get(i) else {
                        return;
                    };
                    match login_once(opts.clone()).await {
                        Ok(()) => accepted.fetch_add(1, Ordering::Relaxed),
                        Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for c in clients {
        c.await.context("a login client panicked")?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let refused = refused.load(Ordering::Relaxed);
    if refused > 0 {
        eprintln!(
            "ting bench mqtt: {refused} logins to {}:{} were refused or failed",
            broker.host, broker.port
        );
    }
    Ok(Logins {
        accepted: accepted.load(Ordering::Relaxed),
        refused,
        seconds,
    })
}

/// One device: CONNECT with its token, wait for the CONNACK, DISCONNECT.
async fn login_once(opts: MqttOptions) -> Result<(), ConnectionError> {
    let (client, mut events) = AsyncClient::new(opts, LOGIN_CLIENT_REQUESTS_MAX);
    set_traffic(&mut events, Traffic::RequestReply);
    let connack = async {
        loop {
            if let Event::Incoming(Packet::ConnAck(_)) = events.poll().await? {
                return Ok::<(), ConnectionError>(());
            }
        }
    };
    match tokio::time::timeout(CONNECT_WAIT, connack).await {
        Ok(result) => result?,
        Err(_) => return Err(ConnectionError::NetworkTimeout),
    }
    // The login is done; a clean DISCONNECT lets the broker drop the session
    // at once. How it goes does not change the count.
    if client.try_disconnect().is_ok() {
        let bye = async {
            while let Ok(event) = events.poll().await {
                if let Event::Outgoing(Outgoing::Disconnect) = event {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(CONNECT_WAIT, bye).await;
    }
    Ok(())
}
