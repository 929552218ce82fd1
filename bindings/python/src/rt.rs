//! The one tokio runtime every `Node` and `Device` of the process runs on.
//! Python calls block on it with the GIL released, so other Python threads
//! run meanwhile; a device's own tasks (its MQTT link, its outbox) run on it
//! between calls.

use std::future::Future;
use std::sync::OnceLock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// Worker threads: a gateway process runs a few devices at most, and the
/// work is I/O and signatures.
const WORKERS: usize = 2;

pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("ting")
            .enable_all()
            .build()
            .expect("a tokio runtime (threads and an epoll instance)")
    })
}

/// Runs `fut` to its end with the GIL released.
pub fn block_on<F>(py: Python<'_>, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| runtime().block_on(fut))
}
