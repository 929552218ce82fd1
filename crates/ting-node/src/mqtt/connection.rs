//! The task that owns the node's MQTT connection: it polls the event loop,
//! (re)subscribes after every connect, hands transactions to the gate and
//! keeps the connection gauge.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use super::client::{Client, Events, Incoming, Qos};
use super::ingress::Gate;
use super::limits::MQTT_RECONNECT_DELAY;
use super::notices::{self, Announcer};
use crate::node::Shared;
use ting_core::topics::{CALLS_PREFIX, TX_SHARED_FILTER, TX_TOPIC};

/// Every buyer's calls for proposals in every category.
const CALLS_FILTER: &str = "ting/v1/market/calls/+/#";

/// How far the connection has come, for start-up to wait on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    Connecting { last_error: Option<String> },
    Subscribed,
    Refused,
}

/// What the connection task holds.
pub(crate) struct Connection {
    pub events: Events,
    pub client: Client,
    pub gate: Gate,
    pub progress: watch::Sender<Progress>,
    pub stopping: Arc<AtomicBool>,
    /// Transactions this gateway received (the node-wide count is in the metrics).
    pub received: Arc<AtomicU64>,
    /// Signs the node's announcement once its subscription is granted.
    pub announcer: Arc<Announcer>,
    /// The calls subscription was sent after the transactions' was granted,
    /// so the next acknowledgement is its own (acknowledgements come in order).
    pub calls_pending: bool,
}

impl Connection {
    /// Runs until the client disconnects on shutdown.
    pub async fn run(mut self) {
        let mut was_up = false;
        loop {
            match self.events.poll().await {
                Ok(incoming) => {
                    was_up = true;
                    self.on_incoming(incoming);
                }
                Err(e) => {
                    self.set_connected(false);
                    if self.stopping.load(Ordering::Acquire) {
                        return;
                    }
                    if was_up {
                        tracing::warn!(error = %e, "lost the MQTT broker; reconnecting");
                    }
                    was_up = false;
                    self.progress.send_if_modified(|p| match p {
                        Progress::Connecting { last_error } => {
                            *last_error = Some(e);
                            true
                        }
                        _ => false,
                    });
                    tokio::time::sleep(MQTT_RECONNECT_DELAY).await;
                }
            }
        }
    }

    fn set_connected(&self, up: bool) {
        let m = &self.gate.shared.metrics.mqtt;
        m.connected.store(u64::from(up), Ordering::Relaxed);
    }

    fn on_incoming(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Connected => {
                self.set_connected(true);
                let m = &self.gate.shared.metrics.mqtt;
                m.connects.fetch_add(1, Ordering::Relaxed);
                // A clean session forgets subscriptions. Subscribing waits on the
                // request queue, which this task drains, so it runs on its own.
                let client = self.client.clone();
                tokio::spawn(async move {
                    if let Err(e) = client.subscribe(TX_SHARED_FILTER, Qos::AtLeastOnce).await {
                        tracing::warn!(error = %e, "could not subscribe to {TX_SHARED_FILTER}");
                    }
                });
                self.calls_pending = false;
            }
            Incoming::Subscribed { granted } if self.calls_pending => {
                // The calls only feed the dashboard's open calls: a broker
                // that refuses them costs the node nothing else.
                self.calls_pending = false;
                if !granted {
                    tracing::warn!(
                        "the broker refused {CALLS_FILTER}: the node will list no open calls"
                    );
                }
            }
            Incoming::Subscribed { granted } => {
                if granted {
                    // Calls for proposals, for the open calls the dashboard shows.
                    self.calls_pending = true;
                    let client = self.client.clone();
                    tokio::spawn(async move {
                        if let Err(e) = client.subscribe(CALLS_FILTER, Qos::AtMostOnce).await {
                            tracing::warn!(error = %e, "could not subscribe to {CALLS_FILTER}");
                        }
                    });
                }
                let p = if granted {
                    // Only a node that can take transactions says it serves.
                    if !self.stopping.load(Ordering::Acquire) {
                        announce(&self.client, &self.announcer, &self.gate.shared, true);
                    }
                    Progress::Subscribed
                } else {
                    Progress::Refused
                };
                self.progress.send_replace(p);
            }
            Incoming::Publish { topic, payload } if topic == TX_TOPIC => {
                self.received.fetch_add(1, Ordering::Relaxed);
                self.gate.take(&payload);
            }
            Incoming::Publish { topic, payload } if topic.starts_with(CALLS_PREFIX) => {
                let s = &self.gate.shared;
                if let Err(e) = s
                    .open_calls
                    .offer(&topic, &payload, &s.genesis_hash, s.time.now())
                {
                    tracing::debug!(%topic, reason = e.code(), "a call was not kept");
                }
            }
            Incoming::Publish { topic, .. } => {
                tracing::debug!(%topic, "ignored a publish on a topic the node does not serve");
            }
            Incoming::Other => {}
        }
    }
}

/// Publishes the node's hello (serving or leaving), retained, so a device
/// that connects later finds it at once. Runs on its own task: publishing
/// waits on the request queue, which the connection task drains.
pub(crate) fn announce(client: &Client, a: &Announcer, shared: &Shared, serving: bool) {
    let hello = notices::hello(a, shared.genesis_hash, shared.durable.height(), serving);
    let (client, topic) = (client.clone(), a.topic.clone());
    tokio::spawn(async move {
        if let Err(e) = client.publish(topic, Qos::AtLeastOnce, true, hello).await {
            tracing::warn!(error = %e, "could not announce the node on its broker");
        }
    });
}
