//! A throwaway PgBouncer in transaction mode in front of a [`TempCluster`]:
//! the failover test runs its nodes through it, as docs/operations.md says
//! they may run. Its binary is `TING_PGBOUNCER`, else `/usr/sbin/pgbouncer`
//! (Debian's `pgbouncer` package). Under root it runs as `postgres`, which
//! PgBouncer requires.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::cluster::{TempCluster, CLUSTER_USER};

/// How long the bouncer may take to listen.
const START_WAIT: Duration = Duration::from_secs(30);

static BOUNCERS: AtomicU64 = AtomicU64::new(0);

/// A running PgBouncer, stopped and its directory removed on drop.
#[derive(Debug)]
pub struct TempBouncer {
    dir: PathBuf,
    child: Child,
    port: u16,
}

impl TempBouncer {
    /// Starts a bouncer in transaction mode for every database of `cluster`.
    ///
    /// # Errors
    /// No `pgbouncer` binary, or it did not start listening.
    pub fn start(cluster: &TempCluster) -> io::Result<TempBouncer> {
        let bin = std::env::var_os("TING_PGBOUNCER")
            .map_or_else(|| PathBuf::from("/usr/sbin/pgbouncer"), PathBuf::from);
        if !bin.exists() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no PgBouncer at {}: install it (apt-get install pgbouncer) or name it in TING_PGBOUNCER",
                    bin.display()
                ),
            ));
        }
        let n = BOUNCERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ting-pgbouncer-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let ini = format!(
            "[databases]\n* = host=127.0.0.1 port={}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {dir}/users.txt\npool_mode = transaction\n\
             max_client_conn = 500\ndefault_pool_size = 40\n\
             logfile = {dir}/pgbouncer.log\n",
            cluster.port(),
            dir = dir.display()
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini)?;
        std::fs::write(dir.join("users.txt"), format!("\"{CLUSTER_USER}\" \"\"\n"))?;
        let as_root = std::fs::metadata("/proc/self")?.uid() == 0;
        let mut cmd = Command::new(&bin);
        if as_root {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()?;
            if !chown.success() {
                return Err(io::Error::other("chown of the bouncer's directory failed"));
            }
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut bouncer = TempBouncer { dir, child, port };
        bouncer.wait_listening()?;
        Ok(bouncer)
    }

    fn wait_listening(&mut self) -> io::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let log =
                    std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "pgbouncer exited ({status}):\n{log}"
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if started.elapsed() > START_WAIT {
                return Err(io::Error::other("pgbouncer did not listen in time"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `postgres://` URL of database `db` through the bouncer.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{CLUSTER_USER}@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for TempBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
