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
