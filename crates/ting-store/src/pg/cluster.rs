//! A throwaway PostgreSQL cluster: `initdb` and `pg_ctl` into a directory
//! of its own, on a free loopback port, stopped and removed when dropped.
//! The tests and `ting bench ledger --store` start one; nothing else does.
//!
//! The server binaries are found in `TING_PG_BIN`, else in the newest
//! `/usr/lib/postgresql/*/bin` (Debian's place for them). PostgreSQL
//! refuses to run as root, so under root every command runs as the
//! `postgres` user (`runuser`), which owns the directory.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// The role the cluster trusts, with no password, on loopback only.
pub const CLUSTER_USER: &str = "ting";
/// Attempts at a free port (another process may take the one picked).
const PORT_ATTEMPTS: u32 = 5;

static CLUSTERS: AtomicU64 = AtomicU64::new(0);

/// A running cluster, stopped and removed on drop.
#[derive(Debug)]
pub struct TempCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    /// Server settings given at each start (`-c name=value`).
    settings: Vec<String>,
}

impl TempCluster {
    /// Creates and starts a cluster.
    ///
    /// # Errors
    /// No PostgreSQL server binaries, or `initdb` or `pg_ctl` failed (the
    /// error carries their output).
    pub fn start() -> io::Result<TempCluster> {
        TempCluster::start_with(&[])
    }

    /// Creates and starts a cluster with server `settings` (`name=value`).
    ///
    /// # Errors
    /// As [`TempCluster::start`].
    pub fn start_with(settings: &[&str]) -> io::Result<TempCluster> {
        let cluster = TempCluster::empty(settings)?;
        let data = cluster.data();
        let user = format!("--username={CLUSTER_USER}");
        cluster.run_tool(
            "initdb",
            &[
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
                &user,
                "-D",
                &data,
            ],
        )?;
        cluster.start_on_a_free_port()
    }

    /// A cluster that is not made yet: its directory, owned by `postgres` under root.
    fn empty(settings: &[&str]) -> io::Result<TempCluster> {
        let bin = server_bin()?;
        let as_postgres = std::fs::metadata("/proc/self")?.uid() == 0;
        let n = CLUSTERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ting-pg-{}-{n}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let cluster = TempCluster {
            dir,
            bin,
            port: 0,
            as_postgres,
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        if as_postgres {
            cluster.checked(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&cluster.dir),
                "chown",
            )?;
        }
        Ok(cluster)
    }

    /// A streaming standby of `primary` (`pg_basebackup -R`), started, named
    /// `name` (its `cluster_name`, which the primary's
    /// `synchronous_standby_names` may list).
    ///
    /// # Errors
    /// `pg_basebackup` or the start failed.
    pub fn standby_of(primary: &TempCluster, name: &str) -> io::Result<TempCluster> {
        let cluster_name = format!("cluster_name={name}");
        let standby = TempCluster::empty(&[&cluster_name])?;
        let data = standby.data();
        let port = primary.port.to_string();
        standby.run_tool(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                CLUSTER_USER,
                "-D",
                &data,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
            ],
        )?;
        standby.start_on_a_free_port()
    }

    /// Makes a standby the primary (`pg_ctl promote`), waiting until it is.
    ///
    /// # Errors
    /// `pg_ctl` failed.
    pub fn promote(&self) -> io::Result<()> {
        let data = self.data();
        self.run_tool("pg_ctl", &["promote", "-w", "-t", "60", "-D", &data])
            .map(|_| ())
    }

    fn start_on_a_free_port(self) -> io::Result<TempCluster> {
        let mut cluster = self;
        let mut last = None;
        for _ in 0..PORT_ATTEMPTS {
            cluster.port = free_port()?;
            match cluster.pg_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no port was tried")))
    }

    /// The port the server listens on (loopback).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://` URL of database `db` in this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{CLUSTER_USER}@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` (letters, digits and `_` only).
    ///
    /// # Errors
    /// A name with other characters, or `createdb` failed.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("database name {name:?}"),
            ));
        }
        let port = self.port.to_string();
        self.run_tool(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", CLUSTER_USER, name],
        )?;
        Ok(self.url(name))
    }

    /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`).
    ///
    /// # Errors
    /// `pg_ctl` failed.
    pub fn kill(&self) -> io::Result<()> {
        let data = self.data();
        self.run_tool("pg_ctl", &["stop", "-m", "immediate", "-D", &data])
            .map(|_| ())
    }

    /// Starts the server again on the same port, after [`TempCluster::kill`].
    ///
    /// # Errors
    /// `pg_ctl` failed.
    pub fn restart(&self) -> io::Result<()> {
        self.pg_start()
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn pg_start(&self) -> io::Result<()> {
        let mut options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.display()
        );
        for setting in &self.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        let data = self.data();
        self.run_tool(
            "pg_ctl",
            &[
                "start", "-w", "-t", "60", "-D", &data, "-l", &log, "-o", &options,
            ],
        )
        .map(|_| ())
    }

    fn run_tool(&self, tool: &str, args: &[&str]) -> io::Result<Output> {
        let path = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args).current_dir(&self.dir);
        self.checked(&mut cmd, tool)
    }

    fn checked(&self, cmd: &mut Command, what: &str) -> io::Result<Output> {
        let out = cmd
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("running {what}: {e}")))?;
        if out.status.success() {
            return Ok(out);
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(io::Error::other(format!(
            "{what} failed ({}): {}{}\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of the server binaries.
fn server_bin() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TING_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            Path::new(&bin.join("initdb"))
                .exists()
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: install them \
             (apt-get install postgresql) or name their directory in TING_PG_BIN",
        )
    })
}

fn free_port() -> io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
