//! Harness for tests that run the real `ting` binary: a node process on a free port,
//! a tiny blocking HTTP/1.1 client, a seeded random source, and signed transfers.
//!
//! The client is a few lines over `std::net::TcpStream` rather than hyper: the tests
//! need to see exactly which answers arrived whole before a `kill -9` (an answer cut
//! short is never counted as an acknowledgement), and a blocking call is easy to
//! drive from plain threads.
#![allow(dead_code)]

pub mod c;
pub mod cli;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use ting_core::{AccountId, Amount, Hash32, Keypair, Nonce, SignedTx, Timestamp, TxBody, TxKind};

/// The longest any wait on a condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// How often a wait re-checks its condition.
pub const POLL: Duration = Duration::from_millis(10);
/// The longest one HTTP exchange may take (a waiting submission answers within 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// The largest answer the client reads.
const RESPONSE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// SplitMix64: a small, seedable, well-mixed generator, so a failing run is replayed
/// exactly from its printed seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant at test sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        self.next_u64() % n
    }

    /// An index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).expect("below n fits in usize")
    }

    pub fn seed32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

/// A seed from the clock, for runs that do not fix one.
pub fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    Rng::new(u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or(1)).next_u64()
}

/// An address on 127.0.0.1 that was free a moment ago, for a process the
/// test starts later. It is below the kernel's ephemeral range, so no
/// `:0` bind in between (a node's MQTT listener on `127.0.0.1:0`, any
/// client's socket) can be given the same port: that race once made the
/// README tour's second node find its port taken.
pub fn free_addr() -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let below = ephemeral_low().max(FREE_PORT_LOW + 1_000);
    let span = below - FREE_PORT_LOW;
    // Each test process starts at its own place, then walks on.
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FREE_PORT_LOW + (start + n) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr().expect("local address");
        }
    }
    panic!("no free port between {FREE_PORT_LOW} and {below}")
}

/// The lowest port [`free_addr`] hands out.
const FREE_PORT_LOW: u32 = 10_000;

/// The first port of the kernel's ephemeral range (`:0` binds are given
/// ports from it); 32768 where it cannot be read.
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Polls `check` until it yields a value, failing the test after [`DEADLINE`].
pub fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// One HTTP answer: its status and its JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// One HTTP/1.1 exchange with `Connection: close`. An answer counts only if it arrived
/// whole (its `Content-Length` or final chunk seen) and parses as JSON.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> io::Result<Reply> {
    request_within(addr, method, path, body, REQUEST_TIMEOUT)
}

/// [`request`], giving up on a silent peer after `timeout` (a paused process
/// accepts connections and never answers).
pub fn request_within(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let payload = body.map_or_else(Vec::new, |b| b.to_string().into_bytes());
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&payload);
    stream.write_all(&out)?;
    let mut raw = Vec::new();
    stream.take(RESPONSE_BYTES_MAX).read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

fn parse_response(raw: &[u8]) -> io::Result<Reply> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("the answer ended inside its headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("headers not UTF-8"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| invalid("bad content-length"))?,
            );
        } else if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    let body = match (chunked, length) {
        (true, _) => dechunk(rest)?,
        (false, Some(n)) if rest.len() == n => rest.to_vec(),
        (false, Some(n)) => {
            return Err(invalid(format!(
                "the answer was cut short: {} of {n} body bytes",
                rest.len()
            )))
        }
        (false, None) => rest.to_vec(),
    };
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| invalid(format!("body is not JSON: {e}")))?
    };
    Ok(Reply { status, body })
}

fn dechunk(mut rest: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    // Bounded: every turn consumes a chunk header, or returns.
    loop {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("the answer was cut short inside a chunk header"))?;
        let size_text = std::str::from_utf8(&rest[..end]).map_err(|_| invalid("chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err(invalid("the answer was cut short inside a chunk"));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// The node's account id in the form the API takes.
pub fn did(key: &Keypair) -> String {
    key.account().to_did()
}

/// The genesis hash a node's `/v1/status` names.
pub fn genesis_of(status: &Value) -> Hash32 {
    let text = status["genesis_hash"].as_str().expect("a genesis hash");
    Hash32::from_hex(text).expect("64 hex digits")
}

/// A signed transfer in the canonical bytes the API takes as `{"hex": ...}`,
/// for the network of `genesis`.
pub fn transfer(
    genesis: &Hash32,
    from: &Keypair,
    nonce: u64,
    to: AccountId,
    amount_base_units: u64,
) -> SignedTx {
    TxBody {
        genesis: *genesis,
        sender: from.account(),
        nonce: Nonce(nonce),
        valid_until: Timestamp(u64::MAX),
        kind: TxKind::Transfer {
            to,
            amount: Amount::new(amount_base_units),
            memo: Vec::new(),
        },
    }
    .sign(from)
}

/// The body of `POST /v1/transactions/batch`.
pub fn batch_body(txs: &[SignedTx]) -> Value {
    let txs: Vec<Value> = txs
        .iter()
        .map(|t| json!({ "hex": hex::encode(t.bytes()) }))
        .collect();
    json!({ "txs": txs })
}

/// A `ting node --dev` process with its stderr in a file. Dropping it kills the process
/// (and, when the test is failing, prints the end of its log).
#[derive(Debug)]
pub struct NodeProc {
    child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
    exited: Option<ExitStatus>,
}

impl NodeProc {
    /// Starts `ting node --dev --data-dir DATA --http ADDR --mqtt-listen 127.0.0.1:0`,
    /// stderr to `log`, without waiting.
    pub fn spawn(data_dir: &Path, addr: SocketAddr, log: &Path) -> NodeProc {
        NodeProc::spawn_with_env(data_dir, addr, log, &[])
    }

    /// [`NodeProc::spawn`] with more environment variables (a test build's
    /// fault, say).
    pub fn spawn_with_env(
        data_dir: &Path,
        addr: SocketAddr,
        log: &Path,
        envs: &[(&str, &str)],
    ) -> NodeProc {
        let stderr = File::create(log).expect("create the node's log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ting"))
            .arg("node")
            .arg("--dev")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--http")
            .arg(addr.to_string())
            // Any free port: a system broker may hold MQTT's standard one.
            .arg("--mqtt-listen")
            .arg("127.0.0.1:0")
            .env("TING_LOG", "info")
            .env_remove("TING_NODE")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn the ting binary");
        NodeProc {
            child,
            addr,
            log: log.to_path_buf(),
            exited: None,
        }
    }

    /// Starts a node and waits until it answers `/healthz`.
    pub fn start(data_dir: &Path, addr: SocketAddr, log: &Path) -> NodeProc {
        NodeProc::start_with_env(data_dir, addr, log, &[])
    }

    /// [`NodeProc::start`] with more environment variables.
    pub fn start_with_env(
        data_dir: &Path,
        addr: SocketAddr,
        log: &Path,
        envs: &[(&str, &str)],
    ) -> NodeProc {
        match NodeProc::try_start_with_env(data_dir, addr, log, envs) {
            Ok(node) => node,
            Err((status, stderr)) => {
                panic!("the node exited ({status}) before serving; its log:\n{stderr}")
            }
        }
    }

    /// Starts a node and waits until it answers `/healthz`; if it exits first, returns
    /// its exit status and log.
    pub fn try_start(
        data_dir: &Path,
        addr: SocketAddr,
        log: &Path,
    ) -> Result<NodeProc, (ExitStatus, String)> {
        NodeProc::try_start_with_env(data_dir, addr, log, &[])
    }

    /// [`NodeProc::try_start`] with more environment variables.
    pub fn try_start_with_env(
        data_dir: &Path,
        addr: SocketAddr,
        log: &Path,
        envs: &[(&str, &str)],
    ) -> Result<NodeProc, (ExitStatus, String)> {
        let mut node = NodeProc::spawn_with_env(data_dir, addr, log, envs);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = node.child.try_wait().expect("try_wait") {
                node.exited = Some(status);
                return Err((status, node.stderr()));
            }
            if matches!(request(addr, "GET", "/healthz", None), Ok(r) if r.status == 200) {
                return Ok(node);
            }
            assert!(
                Instant::now() < deadline,
                "the node did not answer /healthz within {DEADLINE:?}; its log:\n{}",
                node.stderr()
            );
            std::thread::sleep(POLL);
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, then reaps the process.
    pub fn kill9(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("reap the node"));
        }
    }

    /// Sends SIGTERM and waits (with a deadline) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        // `kill(1)` rather than libc: the workspace forbids unsafe code, tests included.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {} failed", self.child.id());
        self.wait_exit()
    }

    /// Waits (with a deadline) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        let child = &mut self.child;
        let status = poll("the node process to exit", || {
            child.try_wait().expect("try_wait")
        });
        self.exited = Some(status);
        status
    }

    /// Everything the node wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path`, which must answer 200; retried while the node says 503 (busy, catching up).
    pub fn get(&self, path: &str) -> Value {
        poll(&format!("GET {path} to answer"), || {
            let reply =
                request(self.addr, "GET", path, None).unwrap_or_else(|e| panic!("GET {path}: {e}"));
            match reply.status {
                200 => Some(reply.body),
                503 => None,
                s => panic!("GET {path}: {s} {}", reply.body),
            }
        })
    }

    /// `POST path` with a JSON body, which must answer 200.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        let reply = request(self.addr, "POST", path, Some(body))
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        assert_eq!(reply.status, 200, "POST {path}: {}", reply.body);
        reply.body
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = self.stderr();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "--- last lines of the node's log {} ---\n{}",
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}
