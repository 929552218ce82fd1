//! What a gateway and a sensor keep of a lease across a crash: small text
//! files, one `key value` per line after a first line naming the kind,
//! written whole or not at all ([`crate::durable::write_synced`]: a
//! temporary file, synced, renamed over the old one, the directory synced)
//! before anything that depends on them goes out.
//!
//! - the gateway's, `<state>/relay/gateway/<lease hex>.lease`:
//!   `ting-relay-gateway 1`, `relayed N`, `last_seq N` (once one is
//!   relayed), one `missing A B` per range of seqs `A..B` (B excluded)
//!   skipped over and not yet relayed, `settled N`, `best N <signature
//!   hex>` (once a count is taken) and `done 0|1`;
//! - the sensor's, `<state>/relay/sensor/state`: `ting-relay-sensor 1`,
//!   `bid <order hex>`, `lease <lease hex>`, `next_seq N`, `receipted N`,
//!   `signed N <signature hex>` and one `sent <seq> <payload hex>` per
//!   message sent and not yet receipted.

use std::path::Path;

use ting_core::resource::{LeaseId, OrderId};
use ting_core::Signature;

use super::RelayError;

/// Bytes of a relay file read back: a full window of payloads and slack.
const FILE_BYTES_MAX: u64 = 1024 * 1024;

/// The gateway's record of one lease.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GatewayLease {
    pub relayed: u64,
    pub last_seq: Option<u64>,
    /// Seqs below `last_seq` not relayed (lost, or overtaken), as ranges.
    pub missing: Vec<(u64, u64)>,
    pub settled: u64,
    pub best: Option<(u64, Signature)>,
    pub done: bool,
}

/// The sensor's record of its bid and lease.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SensorState {
    pub bid: Option<OrderId>,
    pub lease: Option<LeaseId>,
    pub next_seq: u64,
    pub receipted: u64,
    pub signed: Option<(u64, Signature)>,
    pub sent: Vec<(u64, Vec<u8>)>,
}

const GATEWAY_HEAD: &str = "ting-relay-gateway 1";
const SENSOR_HEAD: &str = "ting-relay-sensor 1";

fn sig_hex(s: &Signature) -> String {
    hex::encode(s.0)
}

fn parse_sig(text: &str) -> Option<Signature> {
    let bytes = hex::decode(text).ok()?;
    Some(Signature(bytes.try_into().ok()?))
}

fn parse_count(text: &str) -> Option<(u64, Signature)> {
    let (n, sig) = text.split_once(' ')?;
    Some((n.parse().ok()?, parse_sig(sig)?))
}

impl GatewayLease {
    pub fn to_text(&self) -> String {
        let mut out = format!("{GATEWAY_HEAD}\nrelayed {}\n", self.relayed);
        if let Some(s) = self.last_seq {
            out.push_str(&format!("last_seq {s}\n"));
        }
        for (a, b) in &self.missing {
            out.push_str(&format!("missing {a} {b}\n"));
        }
        out.push_str(&format!("settled {}\n", self.settled));
        if let Some((c, sig)) = &self.best {
            out.push_str(&format!("best {c} {}\n", sig_hex(sig)));
        }
        out.push_str(&format!("done {}\n", u8::from(self.done)));
        out
    }

    pub fn from_text(text: &str) -> Option<GatewayLease> {
        let mut lines = text.lines();
        if lines.next()? != GATEWAY_HEAD {
            return None;
        }
        let mut g = GatewayLease::default();
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "relayed" => g.relayed = value.parse().ok()?,
                "last_seq" => g.last_seq = Some(value.parse().ok()?),
                "missing" => {
                    let (a, b) = value.split_once(' ')?;
                    g.missing.push((a.parse().ok()?, b.parse().ok()?));
                }
                "settled" => g.settled = value.parse().ok()?,
                "best" => g.best = Some(parse_count(value)?),
                "done" => g.done = value == "1",
                _ => return None,
            }
        }
        Some(g)
    }
}

impl SensorState {
    pub fn to_text(&self) -> String {
        let mut out = format!("{SENSOR_HEAD}\n");
        if let Some(b) = &self.bid {
            out.push_str(&format!("bid {}\n", b.to_hex()));
        }
        if let Some(l) = &self.lease {
            out.push_str(&format!("lease {}\n", l.to_hex()));
        }
        out.push_str(&format!("next_seq {}\n", self.next_seq));
        out.push_str(&format!("receipted {}\n", self.receipted));
        if let Some((c, sig)) = &self.signed {
            out.push_str(&format!("signed {c} {}\n", sig_hex(sig)));
        }
        for (seq, payload) in &self.sent {
            out.push_str(&format!("sent {seq} {}\n", hex::encode(payload)));
        }
        out
    }

    pub fn from_text(text: &str) -> Option<SensorState> {
        let mut lines = text.lines();
        if lines.next()? != SENSOR_HEAD {
            return None;
        }
        let mut s = SensorState::default();
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "bid" => s.bid = Some(OrderId::from_hex(value)?),
                "lease" => s.lease = Some(LeaseId::from_hex(value)?),
                "next_seq" => s.next_seq = value.parse().ok()?,
                "receipted" => s.receipted = value.parse().ok()?,
                "signed" => s.signed = Some(parse_count(value)?),
                "sent" => {
                    let (seq, payload) = value.split_once(' ')?;
                    let payload = if payload == "-" {
                        Vec::new()
                    } else {
                        hex::decode(payload).ok()?
                    };
                    s.sent.push((seq.parse().ok()?, payload));
                }
                _ => return None,
            }
        }
        Some(s)
    }
}

/// Writes `text` to `path` whole, synced, before returning.
pub(crate) fn save(path: &Path, text: &str) -> Result<(), RelayError> {
    crate::durable::write_synced(path, text.as_bytes()).map_err(|source| RelayError::Io {
        op: "save relay state",
        source,
    })
}

/// The text of `path`, `None` if there is no such file. A damaged or
/// oversized file is an error that names it: it may hold money's state.
pub(crate) fn load(path: &Path) -> Result<Option<String>, RelayError> {
    let io = |source| RelayError::Io {
        op: "read relay state",
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > FILE_BYTES_MAX => Err(RelayError::Damaged(path.display().to_string())),
        Ok(_) => std::fs::read_to_string(path).map(Some).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::Hash32;

    #[test]
    fn files_read_back_as_written() {
        let g = GatewayLease {
            relayed: 9,
            last_seq: Some(8),
            missing: vec![(2, 4), (6, 7)],
            settled: 5,
            best: Some((7, Signature([3; 64]))),
            done: true,
        };
        assert_eq!(GatewayLease::from_text(&g.to_text()), Some(g));
        assert_eq!(
            GatewayLease::from_text(&GatewayLease::default().to_text()),
            Some(GatewayLease::default())
        );
        let s = SensorState {
            bid: Some(OrderId(Hash32([1; 32]))),
            lease: Some(LeaseId(Hash32([2; 32]))),
            next_seq: 12,
            receipted: 10,
            signed: Some((10, Signature([4; 64]))),
            sent: vec![(10, b"a".to_vec()), (11, Vec::new())],
        };
        assert_eq!(SensorState::from_text(&s.to_text()), Some(s));
        assert_eq!(SensorState::from_text("ting-relay-sensor 2\n"), None);
        assert_eq!(GatewayLease::from_text("ting-relay-gateway 1\nx 1\n"), None);
    }
}
