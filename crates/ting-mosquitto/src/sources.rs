//! Connections per source address, as the embedded broker counts them: a
//! login that passes every check is refused when its address already holds
//! the limit, so one host cannot take every connection slot of the broker.
//!
//! Mosquitto tells the plugin about a client twice: at `MOSQ_EVT_BASIC_AUTH`
//! (where [`Sources::admit`] counts it) and at `MOSQ_EVT_DISCONNECT` (where
//! [`Sources::release`] uncounts it). Disconnect events also arrive for
//! clients whose login was refused, and Mosquitto reuses the memory of a
//! freed client for a new one, so the count is kept per client handle: a
//! release only uncounts a client that was admitted, and admitting a handle
//! that is still counted replaces its old entry.
//!
//! The maps hold one entry per connected client, which Mosquitto's own
//! `max_connections` bounds.

use std::collections::HashMap;

/// The broker's handle of one client connection (the address of its
/// `struct mosquitto`), used only as a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(pub usize);

/// Connected clients by source address.
#[derive(Debug)]
pub struct Sources {
    limit: usize,
    by_client: HashMap<ClientKey, String>,
    per_source: HashMap<String, usize>,
}

impl Sources {
    /// A counter that admits at most `limit` clients per source address.
    pub fn new(limit: usize) -> Sources {
        Sources {
            limit,
            by_client: HashMap::new(),
            per_source: HashMap::new(),
        }
    }

    /// The most clients one source may have connected.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Clients from `source` now counted.
    pub fn count(&self, source: &str) -> usize {
        self.per_source.get(source).copied().unwrap_or(0)
    }

    /// Counts `client` from `source`, or refuses it when `source` already
    /// has [`Sources::limit`] clients.
    pub fn admit(&mut self, client: ClientKey, source: &str) -> Result<(), SourceFull> {
        self.release(client);
        if self.count(source) >= self.limit {
            return Err(SourceFull { limit: self.limit });
        }
        *self.per_source.entry(source.to_owned()).or_insert(0) += 1;
        self.by_client.insert(client, source.to_owned());
        Ok(())
    }

    /// Uncounts `client` if it was admitted; otherwise does nothing.
    pub fn release(&mut self, client: ClientKey) {
        let Some(source) = self.by_client.remove(&client) else {
            return;
        };
        if let Some(n) = self.per_source.get_mut(&source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_source.remove(&source);
            }
        }
    }
}

/// A source already has as many clients as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceFull {
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "192.0.2.1";
    const B: &str = "192.0.2.2";

    #[test]
    fn a_source_at_its_limit_is_refused_and_others_are_not() {
        let mut s = Sources::new(2);
        assert_eq!(s.admit(ClientKey(1), A), Ok(()));
        assert_eq!(s.admit(ClientKey(2), A), Ok(()));
        assert_eq!(s.admit(ClientKey(3), A), Err(SourceFull { limit: 2 }));
        assert_eq!(s.admit(ClientKey(3), B), Ok(()));
        assert_eq!((s.count(A), s.count(B)), (2, 1));
    }

    #[test]
    fn a_release_frees_a_slot_for_the_next_client_of_that_source() {
        let mut s = Sources::new(1);
        s.admit(ClientKey(1), A).expect("first");
        s.release(ClientKey(1));
        assert_eq!(s.count(A), 0);
        assert_eq!(s.admit(ClientKey(2), A), Ok(()));
    }

    #[test]
    fn releasing_a_client_that_was_never_admitted_changes_nothing() {
        let mut s = Sources::new(1);
        s.admit(ClientKey(1), A).expect("first");
        s.release(ClientKey(7));
        s.release(ClientKey(7));
        assert_eq!(s.count(A), 1);
        assert_eq!(s.admit(ClientKey(2), A), Err(SourceFull { limit: 1 }));
    }

    #[test]
    fn a_reused_handle_is_counted_once() {
        let mut s = Sources::new(2);
        s.admit(ClientKey(1), A).expect("first");
        s.admit(ClientKey(1), B)
            .expect("the same handle, now another client");
        assert_eq!((s.count(A), s.count(B)), (0, 1));
        s.release(ClientKey(1));
        assert_eq!(s.count(B), 0);
    }
}
