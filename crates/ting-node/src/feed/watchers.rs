//! Account watchers: the streams of `GET /v1/events?account=ID&skip_empty=true`,
//! woken only by the blocks that touch their account.
//!
//! A watcher does not follow every block. The feed (`feed/mod.rs`) hands each
//! durable block to [`Watchers::dispatch`] once; it looks up which watched
//! accounts the block touches (one map per block, `pipeline/touched.rs`),
//! renders each such account's group of events once, and puts it in the inbox
//! of every watcher of that account. A block that touches no watched account
//! costs one map and no wake-up: with a thousand watchers the node does the
//! same work per block as with one, plus the groups it actually sends.
//!
//! The registry and the height dispatched last change together under one
//! lock, so a new watcher learns exactly where its live groups start: every
//! block above [`Watch::from`] reaches its inbox, none at or below it does
//! (those it replays from the log, if it resumes).
//!
//! An inbox holds at most `EVENTS_BUFFER_MAX` groups. A watcher that reads
//! too slowly loses the groups that do not fit; a marker in its inbox, where
//! they would have been, says how many, so it can tell its client in order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use ting_core::limits::EVENTS_BUFFER_MAX;
use ting_core::AccountId;
use ting_ledger::State;
use tokio::sync::Notify;

use crate::http::events::Group;
use crate::pipeline::CommittedBlock;

/// What a watcher reads next.
#[derive(Debug, Clone)]
pub enum Item {
    /// The events of a block that touches the account.
    Group(Arc<Group>),
    /// This many blocks that touched the account did not fit in the inbox.
    Lagged(u64),
}

/// One watcher's queue: filled by the feed, emptied by its stream.
#[derive(Debug, Default)]
struct Inbox {
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    /// Groups in `items` (markers are not counted against the bound).
    groups: usize,
}

impl Inbox {
    fn push(&self, group: &Arc<Group>) {
        {
            let mut q = self.queue.lock().expect("inbox lock");
            if q.groups < EVENTS_BUFFER_MAX {
                q.items.push_back(Item::Group(Arc::clone(group)));
                q.groups += 1;
            } else if let Some(Item::Lagged(n)) = q.items.back_mut() {
                *n += 1;
            } else {
                // A marker follows a group, so there are at most as many
                // markers as groups plus one: the queue stays bounded.
                q.items.push_back(Item::Lagged(1));
            }
        }
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Item> {
        let mut q = self.queue.lock().expect("inbox lock");
        let item = q.items.pop_front()?;
        if matches!(item, Item::Group(_)) {
            q.groups -= 1;
        }
        Some(item)
    }
}

struct Entry {
    id: u64,
    inbox: Arc<Inbox>,
}

/// One watched account: its `did:key` text, encoded once for its receipts,
/// and its watchers.
struct Watched {
    did: String,
    entries: Vec<Entry>,
}

#[derive(Default)]
struct Registry {
    /// The height of the last block dispatched.
    dispatched: u64,
    next_id: u64,
    by_account: HashMap<AccountId, Watched>,
}

/// Every open account watcher, by account.
pub struct Watchers {
    registry: Mutex<Registry>,
    /// How many watchers are registered, read without the lock.
    count: AtomicUsize,
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers")
            .field("count", &self.count.load(Ordering::Relaxed))
            .finish()
    }
}

/// A registered watcher: its inbox and where its live groups start.
#[derive(Debug)]
pub struct Watch {
    inbox: Arc<Inbox>,
    /// Blocks above this height come to the inbox; blocks up to it do not.
    pub from: u64,
    watchers: Arc<Watchers>,
    account: AccountId,
    id: u64,
}

impl Watch {
    /// The next item, waiting for one.
    pub async fn next(&self) -> Item {
        loop {
            if let Some(item) = self.inbox.pop() {
                return item;
            }
            // `notify_one` keeps a permit when nobody waits, so a push
            // between the look above and this wait is not lost.
            self.inbox.ready.notified().await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut reg = self.watchers.registry.lock().expect("watchers lock");
        if let Some(watched) = reg.by_account.get_mut(&self.account) {
            watched.entries.retain(|e| e.id != self.id);
            if watched.entries.is_empty() {
                reg.by_account.remove(&self.account);
            }
        }
        self.watchers.count.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Watchers {
    /// No watchers yet; blocks up to `dispatched` are already durable.
    pub fn new(dispatched: u64) -> Watchers {
        Watchers {
            registry: Mutex::new(Registry {
                dispatched,
                ..Registry::default()
            }),
            count: AtomicUsize::new(0),
        }
    }

    /// Registers a watcher of `account`.
    pub fn watch(self: &Arc<Self>, account: AccountId) -> Watch {
        let inbox = Arc::new(Inbox::default());
        let mut reg = self.registry.lock().expect("watchers lock");
        let id = reg.next_id;
        reg.next_id += 1;
        let entry = Entry {
            id,
            inbox: Arc::clone(&inbox),
        };
        reg.by_account
            .entry(account)
            .or_insert_with(|| Watched {
                did: account.to_did(),
                entries: Vec::new(),
            })
            .entries
            .push(entry);
        self.count.fetch_add(1, Ordering::Relaxed);
        Watch {
            inbox,
            from: reg.dispatched,
            watchers: Arc::clone(self),
            account,
            id,
        }
    }

    /// How many watchers are open.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The height of the last block dispatched.
    pub fn dispatched(&self) -> u64 {
        self.registry.lock().expect("watchers lock").dispatched
    }

    /// Hands the next durable block to the watchers of the accounts it touches.
    pub fn dispatch(&self, b: &CommittedBlock, state: &RwLock<State>) {
        // The map is built outside the lock when someone watches (it may read
        // the state); inside, it is only looked up.
        if self.count() > 0 {
            b.touched(state);
        }
        let height = b.block.header.height.0;
        let mut reg = self.registry.lock().expect("watchers lock");
        assert_eq!(
            height,
            reg.dispatched + 1,
            "blocks are dispatched in order, each once"
        );
        if !reg.by_account.is_empty() {
            deliver(&reg.by_account, b, b.touched(state));
        }
        reg.dispatched = height;
    }

    /// A block the feed could not read: every watcher is told it may have missed it.
    pub fn skip(&self, height: u64) {
        let mut reg = self.registry.lock().expect("watchers lock");
        assert_eq!(height, reg.dispatched + 1, "blocks are skipped in order");
        for entry in reg.by_account.values().flat_map(|w| &w.entries) {
            let mut q = entry.inbox.queue.lock().expect("inbox lock");
            match q.items.back_mut() {
                Some(Item::Lagged(n)) => *n += 1,
                _ => q.items.push_back(Item::Lagged(1)),
            }
            drop(q);
            entry.inbox.ready.notify_one();
        }
        reg.dispatched = height;
    }
}

/// Puts each watched account's group of `b` in its watchers' inboxes, walking
/// whichever is smaller: the accounts the block touches or the watched ones.
fn deliver(
    watched: &HashMap<AccountId, Watched>,
    b: &CommittedBlock,
    touched: &crate::pipeline::Touched,
) {
    let send = |account: &AccountId, w: &Watched, txs: &[u32]| {
        let known = Some((account, w.did.as_str()));
        let group = Arc::new(Group::with_known(b, txs.iter().copied(), known));
        for entry in &w.entries {
            entry.inbox.push(&group);
        }
    };
    if touched.len() <= watched.len() {
        for (account, txs) in touched.iter() {
            if let Some(w) = watched.get(account) {
                send(account, w, txs);
            }
        }
    } else {
        for (account, w) in watched {
            let txs = touched.get(account);
            if !txs.is_empty() {
                send(account, w, txs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(height: u64) -> Arc<Group> {
        Arc::new(Group::for_test(height))
    }

    fn drain(inbox: &Inbox) -> Vec<String> {
        std::iter::from_fn(|| inbox.pop())
            .map(|item| match item {
                Item::Group(g) => format!("g{}", g.height),
                Item::Lagged(n) => format!("lagged {n}"),
            })
            .collect()
    }

    #[test]
    fn a_full_inbox_marks_how_many_groups_it_dropped_where_they_would_have_been() {
        let inbox = Inbox::default();
        let max = EVENTS_BUFFER_MAX as u64;
        for h in 1..=max + 3 {
            inbox.push(&group(h));
        }
        // One read frees one place: the next group goes after the marker.
        assert!(matches!(inbox.pop(), Some(Item::Group(g)) if g.height == 1));
        inbox.push(&group(max + 4));
        inbox.push(&group(max + 5));
        let got = drain(&inbox);
        let mut want: Vec<String> = (2..=max).map(|h| format!("g{h}")).collect();
        want.extend([
            "lagged 3".into(),
            format!("g{}", max + 4),
            "lagged 1".into(),
        ]);
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_watch_leaves_the_registry_when_dropped() {
        let watchers = Arc::new(Watchers::new(7));
        let account = ting_core::Keypair::from_seed([1; 32]).account();
        let (a, b) = (watchers.watch(account), watchers.watch(account));
        assert_eq!((a.from, b.from, watchers.count()), (7, 7, 2));
        drop(a);
        assert_eq!(watchers.count(), 1);
        drop(b);
        assert_eq!(watchers.count(), 0);
        assert!(watchers.registry.lock().unwrap().by_account.is_empty());
        watchers.skip(8);
        assert_eq!(watchers.watch(account).from, 8);
    }
}
