//! The leader keeps the query tables (`ting_transactions`) behind its
//! appends: a thread at background priority writes the rows of each new
//! block in transactions of its own (`ting_store::pg::RowWriter`), so that
//! acknowledgements never wait for the rows' indexes. At peak the rows fall
//! behind and catch up after; `ting_rows.height` says how far they are. A
//! clean shutdown lets them catch up first, for at most [`FINISH_WAIT`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_store::pg::RowWriter;

use crate::pipeline::Durable;

/// How long the thread sleeps when the rows have caught up.
const IDLE: Duration = Duration::from_millis(100);
/// How long it waits after a database error.
const RETRY: Duration = Duration::from_secs(1);
/// How long a clean shutdown lets the rows catch up.
const FINISH_WAIT: Duration = Duration::from_secs(20);

/// The running row writer.
pub(crate) struct Rows {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

pub(crate) fn spawn_rows(url: String, durable: Arc<Durable>) -> Rows {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("ting-pg-rows".into())
        .spawn(move || {
            crate::background::lower_priority("pg-rows");
            write(&url, &durable, &flag);
        })
        .expect("spawn the row thread");
    Rows { stop, thread }
}

impl Rows {
    /// Lets the rows catch up with what is durable, then stops the thread.
    pub(crate) fn finish(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

fn write(url: &str, durable: &Durable, stop: &AtomicBool) {
    let mut writer: Option<RowWriter> = None;
    let mut finishing: Option<Instant> = None;
    loop {
        if finishing.is_none() && stop.load(Ordering::Acquire) {
            finishing = Some(Instant::now());
        }
        if finishing.is_some_and(|at| at.elapsed() > FINISH_WAIT) {
            tracing::warn!("the transaction rows did not catch up before shutdown; the next leader writes the rest");
            return;
        }
        let w = match &writer {
            Some(w) => w,
            None => match RowWriter::connect(url) {
                Ok(w) => writer.insert(w),
                Err(e) => {
                    tracing::warn!(error = %e, "the row writer cannot connect; trying again");
                    std::thread::sleep(RETRY);
                    continue;
                }
            },
        };
        match w.step() {
            Ok(height) if height < durable.height() => {}
            Ok(_) if finishing.is_some() => return,
            Ok(_) => std::thread::sleep(IDLE),
            Err(e) => {
                tracing::warn!(error = %e, "could not write transaction rows; trying again");
                writer = None;
                if finishing.is_some() {
                    return;
                }
                std::thread::sleep(RETRY);
            }
        }
    }
}
