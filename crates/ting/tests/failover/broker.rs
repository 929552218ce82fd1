//! A Mosquitto the test starts on a free port, with no persistence: the one
//! broker the nodes share (each subscribes through `$share/ting-nodes/...`).
//! Killed on drop.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::common::{free_addr, poll};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

pub struct Mosquitto {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    /// Starts Mosquitto and waits until it accepts connections. Fails (never
    /// skips) when it is not installed.
    pub fn start() -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "this test needs Mosquitto at {MOSQUITTO}: apt-get install mosquitto (./scripts/test does it as root)"
        );
        let addr = free_addr();
        let dir = tempfile::tempdir().expect("a directory");
        let conf = dir.path().join("mosquitto.conf");
        let text = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n",
            addr.port()
        );
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let mut m = Mosquitto {
            child,
            addr,
            _dir: dir,
        };
        poll(&format!("mosquitto to listen on {addr}"), || {
            if let Ok(Some(status)) = m.child.try_wait() {
                panic!("mosquitto exited at start-up ({status}); is port {addr} taken?");
            }
            TcpStream::connect(addr).ok()
        });
        m
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
