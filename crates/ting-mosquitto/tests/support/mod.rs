//! Fixtures for the plugin tests: a real Mosquitto that loads the plugin,
//! started by the test on a free port in a temporary directory, and MQTT
//! clients (3.1.1 for devices, 5 for the node, as in production) that log in
//! as Ting accounts.
//!
//! Every wait has a deadline ([`DEADLINE`]) and waits on a condition: a
//! CONNACK, a SUBACK, a PUBACK, a message, a line in the broker's log. Nothing
//! sleeps to synchronise.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5 as mqtt5;
use rumqttc::{ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS};
use tempfile::TempDir;
use ting_core::login::{self, LoginToken};
use ting_core::{Amount, Genesis, Hash32, Keypair, NetworkId, Timestamp};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Where the tests look for Mosquitto, and how to get it.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
pub const MOSQUITTO_INSTALL: &str = "sudo apt-get install -y mosquitto";
/// How long any wait on a condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub struct Deadline {
    until: Instant,
    what: String,
}

impl Deadline {
    pub fn new(what: impl Into<String>) -> Deadline {
        Deadline {
            until: Instant::now() + DEADLINE,
            what: what.into(),
        }
    }

    fn check(&self) {
        assert!(
            Instant::now() < self.until,
            "timed out waiting for {}",
            self.what
        );
    }

    /// Pauses briefly before the next look; fails the test past the deadline.
    pub fn tick(&self) {
        self.check();
        std::thread::sleep(Duration::from_millis(5));
    }

    /// [`Deadline::tick`] for async tests.
    pub async fn tick_async(&self) {
        self.check();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---- Keys and the genesis ----

/// The network's only sequencer: it logs in as a node.
pub fn sequencer() -> Keypair {
    Keypair::from_seed([2; 32])
}

/// A device: any account that is not a sequencer.
pub fn user(i: u8) -> Keypair {
    Keypair::from_seed([10u8.wrapping_add(i); 32])
}

pub fn genesis() -> Genesis {
    Genesis {
        name: "ting-mosquitto-tests".into(),
        network: NetworkId(4343),
        timestamp: Timestamp(1_700_000_000_000),
        issuers: vec![sequencer().account()],
        sequencers: vec![sequencer().account()],
        allocations: vec![(user(0).account(), Amount::new(1_000))],
        clock: ting_core::LedgerClock::Real,
    }
}

/// The wall clock, for issuing tokens (the broker reads the same clock).
pub fn now() -> Timestamp {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    Timestamp(u64::try_from(since.as_millis()).expect("milliseconds fit in u64"))
}

// ---- The broker ----

/// The plugin `cargo test` built for this test binary. Cargo builds the
/// crate's cdylib into the binary's own directory, target/<profile>/deps, and
/// copies it up to target/<profile> only on `cargo build`; so the copy up
/// there may be stale, and the tests use the one beside them.
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let so = deps.join("libting_mosquitto.so");
    assert!(
        so.exists(),
        "the plugin is not at {}: `cargo test -p ting-mosquitto` builds it there",
        so.display()
    );
    so
}

/// A free port on the loopback interface (free when asked; the broker binds it next).
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address")
}

/// A Mosquitto the test started with the plugin; killed on drop.
pub struct Broker {
    child: Child,
    pub addr: SocketAddr,
    pub genesis: Hash32,
    dir: TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory holding the genesis file.
fn dir_with_genesis() -> (TempDir, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, ting_core::files::genesis_file_text(&genesis())).expect("write genesis");
    (dir, path.display().to_string())
}

/// A test broker's configuration: the listener, the plugin, and these
/// `plugin_opt_` options.
fn test_conf(addr: SocketAddr, options: &[(&str, &str)]) -> String {
    let mut text = format!(
        "listener {} 127.0.0.1\nallow_anonymous false\npersistence false\nplugin {}\n",
        addr.port(),
        plugin_path().display(),
    );
    for (key, value) in options {
        text.push_str(&format!("plugin_opt_{key} {value}\n"));
    }
    text
}

/// The mosquitto.conf of docs/operations.md, with its listener, plugin and
/// genesis lines pointed at this test's port and files.
fn documented_conf(addr: SocketAddr, genesis_path: &str) -> String {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    let doc = std::fs::read_to_string(&doc).expect("read docs/operations.md");
    let after = doc
        .split_once("### mosquitto.conf")
        .and_then(|(_, rest)| rest.split_once("```text\n"))
        .expect("docs/operations.md shows mosquitto.conf in a ```text block")
        .1;
    let block = after.split_once("```").expect("the block ends").0;
    let replaced = [
        ("listener ", format!("listener {} 127.0.0.1", addr.port())),
        ("plugin ", format!("plugin {}", plugin_path().display())),
        (
            "plugin_opt_genesis ",
            format!("plugin_opt_genesis {genesis_path}"),
        ),
    ];
    let mut lines: Vec<String> = block.lines().map(str::to_owned).collect();
    for (start, with) in replaced {
        let line = lines.iter_mut().find(|l| l.starts_with(start));
        *line.unwrap_or_else(|| panic!("the documented configuration has a `{start}` line")) = with;
    }
    lines.join("\n") + "\n"
}

/// Starts Mosquitto on `conf` plus the lines every test broker needs.
fn spawn(dir: &Path, conf: &str) -> Child {
    assert!(
        Path::new(MOSQUITTO).exists(),
        "these tests need Mosquitto at {MOSQUITTO}; install it with `{MOSQUITTO_INSTALL}`"
    );
    let text = format!(
        "{conf}\n\
         # Run as root, Mosquitto would switch to the user `mosquitto`, who cannot\n\
         # enter this test's private directory; as any other user this is ignored.\n\
         user root\n\
         log_dest file {log}\n\
         log_type all\n",
        log = dir.join("mosquitto.log").display(),
    );
    let path = dir.join("mosquitto.conf");
    std::fs::write(&path, text).expect("write mosquitto.conf");
    Command::new(MOSQUITTO)
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto")
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default()
}

impl Broker {
    /// A broker with the plugin and the test genesis.
    pub fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// A broker with the test genesis and these further plugin options.
    pub fn start_with(options: &[(&str, &str)]) -> Broker {
        let (dir, genesis_path) = dir_with_genesis();
        let addr = free_port();
        let mut all = vec![("genesis", genesis_path.as_str())];
        all.extend_from_slice(options);
        let conf = test_conf(addr, &all);
        Broker::launch(dir, addr, &conf)
    }

    /// A broker with the plugin and the test genesis whose one listener
    /// speaks TLS only, with the certificate and key in these PEM files.
    pub fn start_tls(cert: &Path, key: &Path) -> Broker {
        let (dir, genesis_path) = dir_with_genesis();
        let addr = free_port();
        let conf = test_conf(addr, &[("genesis", genesis_path.as_str())]).replacen(
            "\n",
            &format!("\ncertfile {}\nkeyfile {}\n", cert.display(), key.display()),
            1,
        );
        Broker::launch(dir, addr, &conf)
    }

    /// A broker configured as docs/operations.md shows.
    pub fn start_documented() -> Broker {
        let (dir, genesis_path) = dir_with_genesis();
        let addr = free_port();
        let conf = documented_conf(addr, &genesis_path);
        Broker::launch(dir, addr, &conf)
    }

    /// Starts the broker and waits until it accepts connections.
    fn launch(dir: TempDir, addr: SocketAddr, conf: &str) -> Broker {
        let child = spawn(dir.path(), conf);
        let mut broker = Broker {
            child,
            addr,
            genesis: genesis().hash(),
            dir,
        };
        let deadline = Deadline::new(format!("mosquitto to listen on {addr}"));
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!(
                    "mosquitto exited at start-up ({status}); its log:\n{}",
                    broker.log()
                );
            }
            deadline.tick();
        }
        broker
    }

    /// Asks the broker to stop, as systemd does (SIGTERM to its process id),
    /// and waits for it: its exit status and log.
    pub fn terminate(&mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.expect("run kill").success(), "kill -TERM {pid}");
        let deadline = Deadline::new("mosquitto to stop");
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for mosquitto") {
                return (status, self.log());
            }
            deadline.tick();
        }
    }

    /// Everything the broker has logged so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }

    /// How many lines of the log contain `needle`.
    pub fn log_lines(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until at least `n` lines of the log contain `needle`.
    pub fn wait_for_log(&self, needle: &str, n: usize) {
        let deadline = Deadline::new(format!("{n} log line(s) with {needle:?}"));
        while self.log_lines(needle) < n {
            deadline.tick();
        }
    }
}

/// Starts a broker with exactly these plugin options, expecting it to refuse
/// to start: its exit status and its log.
pub fn start_refused(options: &[(&str, &str)]) -> (ExitStatus, String) {
    let (dir, _) = dir_with_genesis();
    let mut child = spawn(dir.path(), &test_conf(free_port(), options));
    let deadline = Deadline::new("mosquitto to refuse to start");
    loop {
        if let Some(status) = child.try_wait().expect("wait for mosquitto") {
            return (status, read_log(dir.path()));
        }
        deadline.tick();
    }
}

// ---- Logins ----

/// A CONNECT's identity: client id, and optionally username and password.
pub fn options(
    broker: SocketAddr,
    client_id: &str,
    creds: Option<(String, String)>,
) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, broker.ip().to_string(), broker.port());
    if let Some((user, pass)) = creds {
        o.set_credentials(user, pass);
    }
    o
}

/// The credentials `signer` makes to log in as `claimed`, with client id
/// `client_id`, on the network of `genesis`, issued at `at`.
pub fn token_for(
    signer: &Keypair,
    claimed: &Keypair,
    genesis: &Hash32,
    client_id: &str,
    at: Timestamp,
) -> (String, String) {
    let token = LoginToken::issue(signer, genesis, client_id, at, rand::random());
    (login::username(&claimed.account()), token.to_text())
}

/// MQTT 3.1.1 options that log in as `key` with a fresh token.
pub fn login_options(broker: SocketAddr, genesis: &Hash32, key: &Keypair) -> MqttOptions {
    let id = login::client_id(&key.account(), None).expect("a client id");
    options(broker, &id, Some(token_for(key, key, genesis, &id, now())))
}

/// MQTT 5 options that log in as `key` with client id suffix `suffix`, as the
/// node does on an external broker.
pub fn login_options_v5(
    broker: SocketAddr,
    genesis: &Hash32,
    key: &Keypair,
    suffix: &str,
) -> rumqttc::v5::MqttOptions {
    let id = login::client_id(&key.account(), Some(suffix)).expect("a client id");
    let (user, pass) = token_for(key, key, genesis, &id, now());
    let mut o = rumqttc::v5::MqttOptions::new(id, broker.ip().to_string(), broker.port());
    o.set_credentials(user, pass);
    o
}

/// The broker's answer to an MQTT 3.1.1 CONNECT with these options.
pub async fn connack(options: MqttOptions) -> Result<(), ConnectReturnCode> {
    let (_client, mut events) = rumqttc::AsyncClient::new(options, 8);
    let answer = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("expected a CONNACK, got {e}"),
            }
        }
    });
    answer
        .await
        .expect("a CONNACK within the deadline, not a hang")
}

/// The broker's answer to an MQTT 5 CONNECT with these options.
pub async fn connack_v5(options: rumqttc::v5::MqttOptions) -> Result<(), mqtt5::ConnectReturnCode> {
    let (_client, mut events) = rumqttc::v5::AsyncClient::new(options, 8);
    let answer = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.poll().await {
                Ok(rumqttc::v5::Event::Incoming(mqtt5::Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(rumqttc::v5::ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("expected a CONNACK, got {e}"),
            }
        }
    });
    answer
        .await
        .expect("a CONNACK within the deadline, not a hang")
}

// ---- Logged-in clients ----

/// What a client's event loop reports to the test.
struct Reports {
    connected: UnboundedSender<Result<(), String>>,
    /// Per SUBACK, whether each filter was granted.
    subacks: UnboundedSender<Vec<bool>>,
    pubacks: UnboundedSender<()>,
    messages: UnboundedSender<(String, Vec<u8>)>,
}

enum Handle {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// A logged-in MQTT client: 3.1.1 ([`Client::start`]) or 5 ([`Client::start_v5`]).
pub struct Client {
    handle: Handle,
    heard: Heard,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run_v4(mut events: rumqttc::EventLoop, r: Reports) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = r.connected.send(Ok(()));
            }
            Ok(Event::Incoming(Packet::SubAck(a))) => {
                let granted = a.return_codes.iter();
                let granted =
                    granted.map(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_)));
                let _ = r.subacks.send(granted.collect());
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                let _ = r.pubacks.send(());
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let _ = r.messages.send((p.topic, p.payload.to_vec()));
            }
            Ok(_) => {}
            Err(e) => {
                let _ = r.connected.send(Err(e.to_string()));
                return;
            }
        }
    }
}

async fn run_v5(mut events: rumqttc::v5::EventLoop, r: Reports) {
    use rumqttc::v5::Event as E;
    loop {
        match events.poll().await {
            Ok(E::Incoming(mqtt5::Packet::ConnAck(_))) => {
                let _ = r.connected.send(Ok(()));
            }
            Ok(E::Incoming(mqtt5::Packet::SubAck(a))) => {
                let granted = a.return_codes.iter();
                let granted = granted.map(|c| matches!(c, mqtt5::SubscribeReasonCode::Success(_)));
                let _ = r.subacks.send(granted.collect());
            }
            Ok(E::Incoming(mqtt5::Packet::PubAck(_))) => {
                let _ = r.pubacks.send(());
            }
            Ok(E::Incoming(mqtt5::Packet::Publish(p))) => {
                let topic = String::from_utf8(p.topic.to_vec()).expect("a UTF-8 topic");
                {
                    let _ = r.messages.send((topic, p.payload.to_vec()));
                };
            }
            Ok(_) => {}
            Err(e) => {
                let _ = r.connected.send(Err(e.to_string()));
                return;
            }
        }
    }
}

/// The test's ends of a client's report channels.
struct Heard {
    connected: UnboundedReceiver<Result<(), String>>,
    subacks: UnboundedReceiver<Vec<bool>>,
    pubacks: UnboundedReceiver<()>,
    messages: UnboundedReceiver<(String, Vec<u8>)>,
}

fn reports() -> (Reports, Heard) {
    let (connected, c) = unbounded_channel();
    let (subacks, s) = unbounded_channel();
    let (pubacks, p) = unbounded_channel();
    let (messages, m) = unbounded_channel();
    let reports = Reports {
        connected,
        subacks,
        pubacks,
        messages,
    };
    let heard = Heard {
        connected: c,
        subacks: s,
        pubacks: p,
        messages: m,
    };
    (reports, heard)
}

async fn recv<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("{what} within the deadline"))
        .unwrap_or_else(|| panic!("the client was still connected while waiting for {what}"))
}

impl Client {
    /// Connects over MQTT 3.1.1 and waits for the broker to accept the login.
    pub async fn start(options: MqttOptions) -> Client {
        let (client, events) = rumqttc::AsyncClient::new(options, 64);
        let (reports, heard) = reports();
        let task = tokio::spawn(run_v4(events, reports));
        Client::accepted(Handle::V4(client), task, heard).await
    }

    /// Connects over MQTT 5 and waits for the broker to accept the login.
    pub async fn start_v5(options: rumqttc::v5::MqttOptions) -> Client {
        let (client, events) = rumqttc::v5::AsyncClient::new(options, 64);
        let (reports, heard) = reports();
        let task = tokio::spawn(run_v5(events, reports));
        Client::accepted(Handle::V5(client), task, heard).await
    }

    async fn accepted(
        handle: Handle,
        task: tokio::task::JoinHandle<()>,
        mut heard: Heard,
    ) -> Client {
        let answer = recv(&mut heard.connected, "a CONNACK").await;
        answer.unwrap_or_else(|e| panic!("the broker refused a valid login: {e}"));
        Client {
            handle,
            heard,
            task,
        }
    }

    /// Subscribes to `filter` and reports whether the broker granted it.
    pub async fn granted(&mut self, filter: &str) -> bool {
        match &self.handle {
            Handle::V4(c) => c
                .subscribe(filter, QoS::AtLeastOnce)
                .await
                .expect("subscribe"),
            Handle::V5(c) => c
                .subscribe(filter, rumqttc::v5::mqttbytes::QoS::AtLeastOnce)
                .await
                .expect("subscribe"),
        }
        let granted = recv(&mut self.heard.subacks, "a SUBACK").await;
        assert_eq!(granted.len(), 1, "one answer for one filter");
        granted[0]
    }

    /// Subscribes to `filters` in one SUBSCRIBE (MQTT 3.1.1) and reports
    /// whether each was granted.
    pub async fn granted_each(&mut self, filters: &[String]) -> Vec<bool> {
        let Handle::V4(c) = &self.handle else {
            panic!("granted_each speaks MQTT 3.1.1");
        };
        let each = filters
            .iter()
            .map(|f| rumqttc::SubscribeFilter::new(f.clone(), QoS::AtLeastOnce));
        c.subscribe_many(each).await.expect("subscribe");
        recv(&mut self.heard.subacks, "a SUBACK").await
    }

    /// Publishes at QoS 1 and waits for the PUBACK: the broker has then
    /// decided on the message, whether it let it through or dropped it.
    pub async fn publish(&mut self, topic: &str, retain: bool, payload: &[u8]) {
        match &self.handle {
            Handle::V4(c) => c
                .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
                .await
                .expect("publish"),
            Handle::V5(c) => c
                .publish(
                    topic,
                    rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                    retain,
                    payload.to_vec(),
                )
                .await
                .expect("publish"),
        }
        recv(&mut self.heard.pubacks, "a PUBACK").await
    }

    /// The next message delivered to this client.
    pub async fn next(&mut self) -> (String, Vec<u8>) {
        recv(&mut self.heard.messages, "a message").await
    }

    /// A message already delivered, without waiting.
    pub fn try_next(&mut self) -> Option<(String, Vec<u8>)> {
        self.heard.messages.try_recv().ok()
    }

    /// Whether the broker still holds this client's connection.
    pub fn is_connected(&self) -> bool {
        !self.task.is_finished()
    }

    /// Drops the connection without a DISCONNECT, as a crashed device would,
    /// so the broker publishes the client's last will.
    pub fn cut(self) {
        self.task.abort();
    }
}
