//! The embedded MQTT broker: rmqtt, configured in code, on a runtime of its own.
//!
//! rmqtt serves MQTT 3.1.1 and 5 on one listener, calls [`guard::Guard`] to
//! authenticate every CONNECT and authorize every SUBSCRIBE and PUBLISH, keeps
//! retained messages in memory (the rmqtt-retainer plugin) and routes shared
//! subscriptions (the rmqtt-shared-subscription plugin). The broker runs on a
//! Tokio runtime of its own, so that stopping it is dropping that runtime:
//! every connection and the listener close, and nothing of it outlives
//! [`EmbeddedBroker::stop`]. The listener is bound before this returns, so a
//! taken port is a start-up error that names it.

pub mod guard;
pub mod login_gate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use tokio::sync::oneshot;

use super::limits::{
    MQTT_CLIENT_ID_BYTES_MAX, MQTT_CONNECT_TIMEOUT_MS, MQTT_INFLIGHT_MAX, MQTT_PAYLOAD_BYTES_MAX,
    MQTT_QUEUED_MAX, MQTT_RETAINED_BYTES_MAX, MQTT_RETAINED_MAX, MQTT_SESSIONS_MAX,
    MQTT_SESSION_EXPIRY, MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX,
};
use super::MqttStartError;
pub use guard::{Policy, Refusals};

/// Checks that `listen` is free and answers the address (port 0 resolved).
/// The port is free again when this returns: callers use it to choose a
/// port, and the broker's own bind decides. Like the broker's listener it
/// sets `SO_REUSEADDR`, so a node restarted after a crash takes its port
/// back at once: only another listener makes it taken, not the closed
/// connections of the run before, which linger for a minute.
pub fn claim(listen: SocketAddr) -> Result<SocketAddr, MqttStartError> {
    let bound = || -> std::io::Result<SocketAddr> {
        let socket = if listen.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(listen)?;
        socket.local_addr()
    };
    bound().map_err(|e| bind_error(listen, e))
}

fn bind_error(addr: SocketAddr, e: std::io::Error) -> MqttStartError {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        MqttStartError::ListenTaken { addr }
    } else {
        MqttStartError::Bind { addr, source: e }
    }
}

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addrs: Addrs,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    refusals: Arc<Refusals>,
}

/// How long stopping waits for the broker's tasks to end.
const STOP_WAIT: Duration = Duration::from_secs(2);
/// How long a stopping broker keeps delivering what it has already taken.
const DRAIN_WAIT: Duration = Duration::from_millis(300);

impl EmbeddedBroker {
    /// Where devices connect.
    pub fn addr(&self) -> SocketAddr {
        self.addrs.public
    }

    /// Where the node's own client connects (plain TCP on loopback).
    pub fn internal_addr(&self) -> SocketAddr {
        self.addrs.internal
    }

    /// Whether devices connect with TLS.
    pub fn tls(&self) -> bool {
        self.addrs.public != self.addrs.internal
    }

    /// What it has refused so far.
    pub fn refusals(&self) -> Arc<Refusals> {
        self.refusals.clone()
    }

    /// Closes the listener and every connection, and waits for the broker's
    /// runtime to end.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        // Messages the broker has taken (the node's leaving hello among them)
        // get a moment to reach their subscribers before every socket closes.
        std::thread::sleep(DRAIN_WAIT);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl EmbeddedBroker {
    /// Tells the broker to stop without waiting for it (it ends within
    /// `STOP_WAIT`); for callers that may not block.
    pub fn stop_soon(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take();
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The hooks hold one guard between them.
struct Hooks(Arc<guard::Guard>);

#[async_trait::async_trait]
impl Handler for Hooks {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        self.0.hook(param, acc).await
    }
}

const HOOKED: [Type; 5] = [
    Type::ClientAuthenticate,
    Type::ClientConnected,
    Type::ClientDisconnected,
    Type::ClientSubscribeCheckAcl,
    Type::MessagePublishCheckAcl,
];

fn retainer_config() -> String {
    format!(
        "storage.type = \"ram\"\nmax_retained_messages = {MQTT_RETAINED_MAX}\nmax_payload_size = \"{}B\"\nretained_message_ttl = \"0m\"\n",
        MQTT_RETAINED_BYTES_MAX
    )
}

fn listener_builder(listen: SocketAddr) -> Builder {
    let max_packet = u32::try_from(MQTT_PAYLOAD_BYTES_MAX).expect("the payload limit fits u32");
    Builder::new()
        .name("ting-mqtt")
        .laddr(listen)
        .reuseaddr(Some(true))
        .nodelay(true)
        .allow_anonymous(false)
        .max_packet_size(max_packet)
        .max_clientid_len(MQTT_CLIENT_ID_BYTES_MAX)
        .max_inflight(std::num::NonZeroU16::new(MQTT_INFLIGHT_MAX).expect("non-zero"))
        .max_mqueue_len(MQTT_QUEUED_MAX)
        .max_subscriptions(MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX)
        .handshake_timeout(Duration::from_millis(u64::from(MQTT_CONNECT_TIMEOUT_MS)))
        .session_expiry_interval(MQTT_SESSION_EXPIRY)
        .max_session_expiry_interval(MQTT_SESSION_EXPIRY)
}

/// Where the broker listens: devices on `public` (TLS when configured), the
/// node's own client on `internal` (the same address without TLS; with TLS, a
/// plain listener on a free loopback port).
#[derive(Debug, Clone, Copy)]
pub struct Addrs {
    pub public: SocketAddr,
    pub internal: SocketAddr,
}

/// The server context and its listeners, bound.
struct Built {
    scx: ServerContext,
    listeners: Vec<rmqtt::net::Listener>,
    addrs: Addrs,
}

async fn context(
    fail: impl Fn(rmqtt::Error) -> MqttStartError,
    guard: Arc<guard::Guard>,
) -> Result<ServerContext, MqttStartError> {
    let sessions = isize::try_from(MQTT_SESSIONS_MAX).expect("the session limit fits isize");
    let scx = ServerContext::new()
        .mqtt_max_sessions(sessions)
        .plugins_config_map_add("rmqtt-retainer", retainer_config())
        .plugins_config_map_add("rmqtt-shared-subscription", "strategy = \"round_robin\"\n")
        .build()
        .await;
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(&fail)?;
    rmqtt_shared_subscription::register(&scx, true, false)
        .await
        .map_err(&fail)?;
    let register = scx.extends.hook_mgr().register();
    for typ in HOOKED {
        register.add(typ, Box::new(Hooks(guard.clone()))).await;
    }
    register.start().await;
    Ok(scx)
}

fn bind(
    builder: Builder,
    tls: bool,
    listen: SocketAddr,
) -> Result<(rmqtt::net::Listener, SocketAddr), MqttStartError> {
    let bound = builder
        .bind()
        .and_then(|l| if tls { l.tls() } else { l.tcp() });
    let listener = bound.map_err(|e| match e.downcast_ref::<std::io::Error>() {
        Some(io) if io.kind() == std::io::ErrorKind::AddrInUse => {
            MqttStartError::ListenTaken { addr: listen }
        }
        _ => MqttStartError::Bind {
            addr: listen,
            source: std::io::Error::other(e.to_string()),
        },
    })?;
    let addr = listener.local_addr().map_err(|e| MqttStartError::Bind {
        addr: listen,
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok((listener, addr))
}

async fn build(
    listen: SocketAddr,
    tls: Option<&crate::tls::ServerTls>,
    guard: Arc<guard::Guard>,
) -> Result<Built, MqttStartError> {
    let fail = |e: rmqtt::Error| MqttStartError::Bind {
        addr: listen,
        source: std::io::Error::other(e.to_string()),
    };
    let scx = context(fail, guard).await?;
    let Some(tls) = tls else {
        let (listener, addr) = bind(listener_builder(listen), false, listen)?;
        let addrs = Addrs {
            public: addr,
            internal: addr,
        };
        return Ok(Built {
            scx,
            listeners: vec![listener],
            addrs,
        });
    };
    let public = listener_builder(listen)
        .tls_cert(Some(tls.cert_path.display().to_string()))
        .tls_key(Some(tls.key_path.display().to_string()));
    let (public, public_addr) = bind(public, true, listen)?;
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let (internal, internal_addr) = bind(listener_builder(loopback), false, loopback)?;
    let addrs = Addrs {
        public: public_addr,
        internal: internal_addr,
    };
    Ok(Built {
        scx,
        listeners: vec![public, internal],
        addrs,
    })
}

/// Starts the broker on `listen` (with TLS when `tls` is given) under
/// `policy`, on a thread and runtime of its own; answers once it listens, or
/// why it could not.
pub(crate) async fn start(
    listen: SocketAddr,
    tls: Option<crate::tls::ServerTls>,
    policy: Policy,
    refusals: Arc<Refusals>,
) -> Result<EmbeddedBroker, MqttStartError> {
    let io = |source| MqttStartError::Bind {
        addr: listen,
        source,
    };
    let guard = Arc::new(guard::Guard::new(policy, refusals.clone()));
    let (started, listening) = oneshot::channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("ting-mqtt-broker".into())
        .spawn(move || serve(listen, tls, guard, started, stopped))
        .map_err(io)?;
    let addrs = match listening.await {
        Ok(Ok(addrs)) => addrs,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(io(std::io::Error::other("the broker thread ended"))),
    };
    Ok(EmbeddedBroker {
        addrs,
        stop: Some(stop),
        thread: Some(thread),
        refusals,
    })
}

/// The broker thread: builds the runtime and the server, tells `started`
/// where it listens, and serves until `stopped`; then drops every task.
fn serve(
    listen: SocketAddr,
    tls: Option<crate::tls::ServerTls>,
    guard: Arc<guard::Guard>,
    started: oneshot::Sender<Result<Addrs, MqttStartError>>,
    stopped: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ting-mqtt-broker")
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(source) => {
            let _ = started.send(Err(MqttStartError::Bind {
                addr: listen,
                source,
            }));
            return;
        }
    };
    let built = match runtime.block_on(build(listen, tls.as_ref(), guard)) {
        Ok(b) => b,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let _ = started.send(Ok(built.addrs));
    let mut server = MqttServer::new(built.scx);
    for (id, listener) in (1..).zip(built.listeners) {
        server = server.listener_by_id(listener, id);
    }
    let server = server.build();
    runtime.block_on(async move {
        tokio::select! {
            r = server.run() => {
                if let Err(e) = r {
                    tracing::error!(error = %e, "the embedded MQTT broker stopped");
                }
            }
            _ = stopped => {}
        }
    });
    runtime.shutdown_timeout(STOP_WAIT);
}
