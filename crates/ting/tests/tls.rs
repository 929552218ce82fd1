//! TLS end to end with the real binary: `ting node --dev --tls` makes a
//! self-signed certificate and prints its pin; the CLI reaches the node over
//! HTTPS with that pin, moves money, and reads the broker it names
//! (`mqtts://`); a wrong pin, or none, is refused before anything is sent.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::{free_addr, DEADLINE, POLL};

/// A `ting node --dev --tls` process; killed on drop.
struct TlsNode {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for TlsNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsNode {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts the node and waits for the pin it prints.
    fn start(dir: &Path, http: std::net::SocketAddr) -> (TlsNode, String) {
        let log = dir.join("node.log");
        let child = Command::new(env!("CARGO_BIN_EXE_ting"))
            .args(["node", "--dev", "--tls", "--mqtt-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--http")
            .arg(http.to_string())
            .env_remove("TING_NODE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).expect("log file")))
            .spawn()
            .expect("spawn ting node");
        let node = TlsNode { child, log };
        let deadline = Instant::now() + DEADLINE;
        loop {
            let text = node.log();
            if let Some(pin) = text
                .split("certificate sha256 ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
            {
                return (node, pin.to_owned());
            }
            assert!(
                Instant::now() < deadline,
                "no pin printed; the log:\n{text}"
            );
            std::thread::sleep(POLL);
        }
    }
}

/// Runs `ting --json ARGS` in `dir`; (exit code, stdout, stderr).
fn ting(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ting"))
        .arg("--json")
        .args(args)
        .env_remove("TING_NODE")
        .env_remove("TING_TLS_PIN")
        .env_remove("TING_TLS_CA")
        .env("TING_LOG", "warn")
        .current_dir(dir)
        .output()
        .expect("run ting");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_reaches_a_dev_node_over_tls_by_its_pin_and_a_wrong_pin_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let http = free_addr();
    let (node, pin) = TlsNode::start(dir.path(), http);
    let url = format!("https://{http}");
    let d = dir.path();

    // The status, read with the pin, waiting for the node to be up.
    let (code, out, err) = ting(
        d,
        &["status", "--wait", "30s", "--node", &url, "--tls-pin", &pin],
    );
    assert_eq!(code, 0, "{out}{err}\nnode log:\n{}", node.log());
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    let broker = status["mqtt"]["broker"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        broker.starts_with("mqtts://"),
        "devices are told to use TLS: {status}"
    );

    // Money moves over HTTPS.
    let (code, alice, err) = ting(d, &["keygen", "--out", "alice.key"]);
    assert_eq!(code, 0, "{err}");
    let alice: serde_json::Value = serde_json::from_str(&alice).expect("json");
    let alice = alice["account"].as_str().expect("account").to_owned();
    let (code, out, err) = ting(
        d,
        &[
            "faucet",
            "--to",
            &alice,
            "--amount",
            "500",
            "--node",
            &url,
            "--tls-pin",
            &pin,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");

    // A wrong pin, and no pin at all, are refused before any request.
    let wrong = "00".repeat(32);
    for extra in [vec!["--tls-pin", wrong.as_str()], vec![]] {
        let mut args = vec!["status", "--node", url.as_str()];
        args.extend(extra.iter().copied());
        let (code, out, err) = ting(d, &args);
        assert_eq!(
            code, 5,
            "not trusted, and retrying will not help: {out}{err}"
        );
        let text = format!("{out}{err}").to_lowercase();
        assert!(
            text.contains("tls") || text.contains("certificate"),
            "says why: {out}{err}"
        );
    }

    // Plain HTTP to the TLS port gets nothing it could mistake for an answer.
    let (code, _, _) = ting(d, &["status", "--node", &format!("http://{http}")]);
    assert_ne!(code, 0);
}

/// A Mosquitto whose one listener speaks TLS with the identity in `dir`
/// (anonymous: the node's login is not what this test is about); killed on
/// drop.
struct TlsMosquitto {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Drop for TlsMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsMosquitto {
    fn start(dir: &Path, cert: &Path, key: &Path) -> TlsMosquitto {
        const MOSQUITTO: &str = "/usr/sbin/mosquitto";
        assert!(
            Path::new(MOSQUITTO).exists(),
            "this test needs Mosquitto at {MOSQUITTO}: ./scripts/test installs it"
        );
        let addr = free_addr();
        let conf = dir.join("mosquitto.conf");
        let text = format!(
            "listener {} 127.0.0.1\ncertfile {}\nkeyfile {}\nallow_anonymous true\npersistence false\nuser root\n",
            addr.port(),
            cert.display(),
            key.display()
        );
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let broker = TlsMosquitto { child, addr };
        let deadline = Instant::now() + DEADLINE;
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {addr}"
            );
            std::thread::sleep(POLL);
        }
        broker
    }
}

#[test]
fn a_node_uses_an_mqtts_broker_it_trusts_and_refuses_one_it_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let identity = ting_node::tls::ServerTls::dev(&d.join("broker")).expect("an identity");
    let broker = TlsMosquitto::start(d, &identity.cert_path, &identity.key_path);
    let url = format!("mqtts://{}", broker.addr);

    // A wrong pin: refused at once, before anything is written, as a failed check.
    let wrong = "ab".repeat(32);
    let data = d.join("wrong");
    let data_arg = data.display().to_string();
    let (code, out, err) = ting(
        d,
        &[
            "node",
            "--dev",
            "--data-dir",
            &data_arg,
            "--http",
            "127.0.0.1:0",
            "--mqtt-broker",
            &url,
            "--mqtt-tls-pin",
            &wrong,
        ],
    );
    assert_eq!(code, 5, "{out}{err}");
    assert!(out.contains("mqtt_broker_untrusted"), "{out}{err}");
    let seen = ting_agent::tls::pin_text(&identity.fingerprint);
    assert!(out.contains(&seen), "names the certificate it saw: {out}");
    assert!(!data.exists(), "nothing was written");

    // A pin with a plain broker promises a check that would never happen.
    let plain = format!("mqtt://{}", broker.addr);
    let (code, out, err) = ting(
        d,
        &[
            "node",
            "--dev",
            "--data-dir",
            &data_arg,
            "--mqtt-broker",
            &plain,
            "--mqtt-tls-pin",
            &wrong,
        ],
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("tls_without_mqtts"), "{out}{err}");

    // The right pin: the node runs on the broker and tells devices to use TLS.
    let http = free_addr();
    let log = d.join("node.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ting"))
        .args(["node", "--dev", "--mqtt-broker", &url, "--mqtt-tls-pin"])
        .arg(identity.pin())
        .arg("--data-dir")
        .arg(d.join("right"))
        .arg("--http")
        .arg(http.to_string())
        .env_remove("TING_NODE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create(&log).expect("log file")))
        .spawn()
        .expect("spawn ting node");
    let node = TlsNode { child, log };
    let (code, out, err) = ting(
        d,
        &[
            "status",
            "--wait",
            "30s",
            "--node",
            &format!("http://{http}"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}\nnode log:\n{}", node.log());
    let status: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(status["mqtt"]["broker"], url.as_str(), "{status}");
}
