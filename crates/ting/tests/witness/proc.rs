//! A `ting node --witness` process for a test: started on a free port with
//! its stderr in a file, asked over HTTP, killed when dropped (its log
//! printed if the test failed).

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};
use ting_core::witness::Attestation;
use ting_core::BlockHeader;

use super::common::{free_addr, poll, request};

pub struct WitnessProc {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    done: bool,
}

impl WitnessProc {
    /// Starts a witness of `follow` (`HOST:PORT` or a URL) and waits until it answers.
    pub fn start(follow: &str, genesis: &Path, key: &Path, data: &Path) -> WitnessProc {
        WitnessProc::start_with(follow, genesis, key, data, &[])
    }

    /// A witness of the dev node at `addr` (its data directory `node_data`),
    /// keyed by `dir/witness.key`, keeping its data in `dir/witness` and
    /// publishing on `broker`.
    pub fn publishing(
        addr: std::net::SocketAddr,
        node_data: &Path,
        dir: &Path,
        broker: &str,
    ) -> WitnessProc {
        WitnessProc::start_with(
            &addr.to_string(),
            &node_data.join("genesis.json"),
            &dir.join("witness.key"),
            &dir.join("witness"),
            &["--mqtt-broker", broker],
        )
    }

    /// [`WitnessProc::start`] with more arguments.
    pub fn start_with(
        follow: &str,
        genesis: &Path,
        key: &Path,
        data: &Path,
        extra: &[&str],
    ) -> WitnessProc {
        let addr = free_addr();
        let follow = if follow.starts_with("http://") {
            follow.to_owned()
        } else {
            format!("http://{follow}")
        };
        std::fs::create_dir_all(data).expect("the data directory");
        let log = data.with_extension(format!("{}.log", addr.port()));
        let child = Command::new(env!("CARGO_BIN_EXE_ting"))
            .args(["node", "--witness", "--follow", &follow])
            .arg("--genesis")
            .arg(genesis)
            .arg("--key")
            .arg(key)
            .arg("--data-dir")
            .arg(data)
            .arg("--http")
            .arg(addr.to_string())
            .args(extra)
            .env("TING_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).expect("the log file")))
            .spawn()
            .expect("spawn the ting binary");
        let mut w = WitnessProc {
            child,
            addr,
            log,
            done: false,
        };
        poll("the witness to answer", || {
            if let Some(status) = w.child.try_wait().expect("try_wait") {
                panic!("the witness exited ({status}):\n{}", w.stderr());
            }
            let r = request(addr, "GET", "/v1/status", None).ok()?;
            (r.status == 200).then_some(())
        });
        w.done = false;
        w
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> Value {
        let r = request(self.addr, "GET", path, None).expect("the witness answers");
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    pub fn status(&self) -> Value {
        self.get("/v1/status")
    }

    /// Waits until the witness attested `height`; its status then.
    pub fn wait_attested(&self, height: u64) -> Value {
        poll(&format!("the witness to attest height {height}"), || {
            let s = self.status();
            assert!(s["fault"].is_null(), "the witness stopped: {s}");
            (s["attested_height"].as_u64()? >= height).then_some(s)
        })
    }

    pub fn attestation(&self, height: u64) -> Attestation {
        let v = self.get(&format!("/v1/attestations/{height}"));
        let hex = v["hex"].as_str().expect("hex");
        Attestation::from_bytes(&hex::decode(hex).expect("hex")).expect("an attestation")
    }

    /// Hands the witness a header someone was shown; its answer.
    pub fn post_header(&self, header: &BlockHeader) -> Value {
        let body = json!({ "hex": hex::encode(header.to_bytes()) });
        let r = request(self.addr, "POST", "/v1/headers", Some(&body)).expect("answers");
        assert_eq!(r.status, 200, "POST /v1/headers: {}", r.body);
        r.body
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
    }

    /// SIGTERM; the witness must stop cleanly.
    pub fn terminate(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        let child = &mut self.child;
        let status = poll("the witness to exit", || {
            child.try_wait().expect("try_wait")
        });
        self.done = true;
        assert!(
            status.success(),
            "the witness exited {status}:\n{}",
            self.stderr()
        );
    }
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- witness log ---\n{}", self.stderr());
        }
    }
}
