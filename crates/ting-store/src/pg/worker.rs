//! A PostgreSQL connection on a thread of its own, given work as closures.
//!
//! The synchronous `postgres` client drives its connection on a runtime it
//! owns, which panics when started inside another runtime: the node calls
//! the log from async handlers and from plain threads alike. A [`Worker`]
//! keeps the client on its own thread and runs each closure there; the
//! caller blocks until the answer comes, as it would on a file read.

use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use postgres::{Client, NoTls};

use crate::LogError;

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// The client and where it connects, to connect again.
struct Conn {
    client: Client,
    url: String,
}

impl Conn {
    /// Connects again after the server closed the connection; false if it cannot.
    fn reconnect(&mut self) -> bool {
        match Client::connect(&self.url, NoTls) {
            Ok(client) => {
                self.client = client;
                true
            }
            Err(_) => false,
        }
    }
}

/// A connection on its own thread.
#[derive(Debug)]
pub(crate) struct Worker {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Connects to `url` on a new thread named `name`.
    pub fn connect(url: &str, name: &str) -> Result<Worker, LogError> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel::<Result<(), String>>();
        let url = url.to_owned();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut conn = match Client::connect(&url, NoTls) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        Conn { client, url }
                    }
                    Err(e) => {
                        let _ = ready.send(Err(describe(&e)));
                        return;
                    }
                };
                while let Ok(job) = inbox.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| database("start a database thread", &e.to_string()))?;
        match connected.recv() {
            Ok(Ok(())) => Ok(Worker {
                jobs: Mutex::new(Some(jobs)),
                thread: Some(thread),
            }),
            Ok(Err(reason)) => Err(database("connect to PostgreSQL", &reason)),
            Err(_) => Err(database("connect to PostgreSQL", "the thread ended")),
        }
    }

    /// Runs `job` on the connection's thread and answers what it answered.
    pub fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R, LogError> {
        self.send(move |conn| job(&mut conn.client))
    }

    /// Runs `read`, which changes nothing, and runs it once more on a new
    /// connection if the server had closed the one it met (a restart, a
    /// failover). Writes never go through here: whether an interrupted
    /// write happened is for the caller to find out.
    pub fn read<T: Send + 'static>(
        &self,
        read: impl Fn(&mut Client) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        self.send(move |conn| {
            let first = read(&mut conn.client);
            if first.is_err() && conn.client.is_closed() && conn.reconnect() {
                return read(&mut conn.client);
            }
            first
        })?
    }

    fn send<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> R + Send + 'static,
    ) -> Result<R, LogError> {
        let (answer, answered) = mpsc::channel();
        let sent = {
            let jobs = self
                .jobs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            jobs.as_ref().map(|jobs| {
                jobs.send(Box::new(move |conn: &mut Conn| {
                    let _ = answer.send(job(conn));
                }))
            })
        };
        match sent {
            Some(Ok(())) => answered
                .recv()
                .map_err(|_| database("use the database connection", "its thread ended")),
            _ => Err(database("use the database connection", "it is closed")),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop, and the client with it.
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A database error, with the server's message and code when it sent one.
pub(crate) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    // The client's own message ("error connecting to server") hides why: say it.
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

pub(crate) fn database(action: &'static str, reason: &str) -> LogError {
    LogError::Database {
        action,
        reason: reason.to_owned(),
    }
}
