//! The leader keeps its lease: a renewal every third of its length, on a
//! thread of its own so that a busy pipeline never delays one.
//!
//! A renewal the database refuses (another node took the lease) or that
//! cannot get through before the lease would run out stops the node
//! ([`super::step_down`]): from then on another node may lead, and this
//! one's state is ahead of what it may append. On a clean shutdown the
//! lease is released, so a follower takes over at once instead of waiting
//! for it to expire.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_store::Leases;

use super::step_down;

/// The longest the keeper sleeps before looking at its stop flag.
const TICK: Duration = Duration::from_millis(20);

/// A running keeper; [`Keeper::release`] stops it and gives the lease up.
pub(crate) struct Keeper {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// What the keeper renews: `holder`'s lease in `epoch`, `ttl` long, taken at `taken`.
pub(crate) struct Held {
    pub leases: Leases,
    pub holder: String,
    pub epoch: u64,
    pub ttl: Duration,
    pub taken: Instant,
}

pub(crate) fn spawn_keeper(held: Held) -> Keeper {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("ting-lease".into())
        .spawn(move || keep(&held, &flag))
        .expect("spawn lease thread");
    Keeper { stop, thread }
}

impl Keeper {
    /// Stops renewing and releases the lease (a clean shutdown).
    pub(crate) fn release(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

fn keep(held: &Held, stop: &AtomicBool) {
    let every = held.ttl / 3;
    // The lease runs until at least this, by this node's monotonic clock:
    // each renewal counts from when it was sent, not when it was answered.
    let mut valid_until = held.taken + held.ttl;
    let mut next = held.taken + every;
    loop {
        while Instant::now() < next {
            if stop.load(Ordering::Acquire) {
                release(held);
                return;
            }
            std::thread::sleep(TICK.min(next.saturating_duration_since(Instant::now())));
        }
        let sent = Instant::now();
        match held.leases.renew(&held.holder, held.epoch, held.ttl) {
            Ok(true) => {
                valid_until = sent + held.ttl;
                next = sent + every;
            }
            Ok(false) => step_down(&format!(
                "the lease of epoch {} was taken over by another node",
                held.epoch
            )),
            Err(e) => {
                // Try again soon; give up before the lease could have run out.
                if Instant::now() + TICK * 5 >= valid_until {
                    step_down(&format!(
                        "the lease of epoch {} could not be renewed before it ran out: {e}",
                        held.epoch
                    ));
                }
                tracing::warn!(error = %e, epoch = held.epoch, "could not renew the lease; trying again");
                next = Instant::now() + TICK * 5;
            }
        }
    }
}

fn release(held: &Held) {
    match held.leases.release(&held.holder, held.epoch) {
        Ok(true) => tracing::info!(epoch = held.epoch, "released the lease"),
        Ok(false) => tracing::warn!(epoch = held.epoch, "the lease was no longer this node's"),
        Err(e) => tracing::warn!(error = %e, "could not release the lease; it runs out by itself"),
    }
}
