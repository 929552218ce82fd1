//! The three relay messages, carried as the payload of `DATA` envelopes
//! between a sensor (the lease's buyer) and a gateway (its provider).
//!
//! Each starts with its own two bytes, a magic byte and a version, so none
//! can be taken for another or for other `DATA`; all numbers are
//! little-endian and every message must be read to its last byte:
//!
//! - `Relay`: `0xD7 0x01 | lease [32] | seq u64 | len u16 | payload [len ≤ 1024]`
//!   (sensor → gateway: please publish this);
//! - `Relayed`: `0xD8 0x01 | lease [32] | seq u64` (gateway → sensor: done);
//! - `Count`: `0xD9 0x01 | lease [32] | count u64 | signature [64]`
//!   (sensor → gateway: the buyer-signed cumulative count).

use thiserror::Error;
use ting_core::resource::LeaseId;
use ting_core::{Hash32, Signature};

/// The most payload bytes one `Relay` carries.
pub const RELAY_PAYLOAD_MAX: usize = 1024;
/// Magic and version of a `Relay`.
pub const RELAY_MAGIC: [u8; 2] = [0xD7, 0x01];
/// Magic and version of a `Relayed`.
pub const RELAYED_MAGIC: [u8; 2] = [0xD8, 0x01];
/// Magic and version of a `Count`.
pub const COUNT_MAGIC: [u8; 2] = [0xD9, 0x01];

/// One relay message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    Relay {
        lease: LeaseId,
        seq: u64,
        payload: Vec<u8>,
    },
    Relayed {
        lease: LeaseId,
        seq: u64,
    },
    Count {
        lease: LeaseId,
        count: u64,
        signature: Signature,
    },
}

/// Why bytes are not a relay message.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("not a relay message (unknown magic or version)")]
    NotRelay,
    #[error("the {0} ends early")]
    Short(&'static str),
    #[error("the {0} has bytes past its end")]
    Trailing(&'static str),
    #[error("a relay payload of {0} bytes is over {RELAY_PAYLOAD_MAX}")]
    TooLong(usize),
}

/// Reads fixed fields off the front of a message.
struct Cursor<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Short(self.what));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn lease(&mut self) -> Result<LeaseId, WireError> {
        Ok(LeaseId(Hash32(self.array()?)))
    }

    fn finish(self) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.what))
        }
    }
}

impl Wire {
    /// The message's bytes. Panics on a `Relay` payload over
    /// [`RELAY_PAYLOAD_MAX`]: the sensor checks it before.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        match self {
            Wire::Relay {
                lease,
                seq,
                payload,
            } => {
                let len = u16::try_from(payload.len())
                    .ok()
                    .filter(|l| usize::from(*l) <= RELAY_PAYLOAD_MAX)
                    .expect("relay payload over limit");
                out.extend_from_slice(&RELAY_MAGIC);
                out.extend_from_slice(&lease.0 .0);
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(payload);
            }
            Wire::Relayed { lease, seq } => {
                out.extend_from_slice(&RELAYED_MAGIC);
                out.extend_from_slice(&lease.0 .0);
                out.extend_from_slice(&seq.to_le_bytes());
            }
            Wire::Count {
                lease,
                count,
                signature,
            } => {
                out.extend_from_slice(&COUNT_MAGIC);
                out.extend_from_slice(&lease.0 .0);
                out.extend_from_slice(&count.to_le_bytes());
                out.extend_from_slice(&signature.0);
            }
        }
        out
    }

    /// Reads one whole message.
    pub fn decode(bytes: &[u8]) -> Result<Wire, WireError> {
        let magic: [u8; 2] = bytes
            .get(..2)
            .and_then(|m| m.try_into().ok())
            .ok_or(WireError::NotRelay)?;
        let what = match magic {
            RELAY_MAGIC => "relay",
            RELAYED_MAGIC => "relayed",
            COUNT_MAGIC => "count",
            _ => return Err(WireError::NotRelay),
        };
        let mut c = Cursor {
            rest: &bytes[2..],
            what,
        };
        let lease = c.lease()?;
        let number = c.u64()?;
        let wire = match magic {
            RELAY_MAGIC => {
                let len = usize::from(u16::from_le_bytes(c.array()?));
                if len > RELAY_PAYLOAD_MAX {
                    return Err(WireError::TooLong(len));
                }
                let payload = c.take(len)?.to_vec();
                Wire::Relay {
                    lease,
                    seq: number,
                    payload,
                }
            }
            RELAYED_MAGIC => Wire::Relayed { lease, seq: number },
            _ => Wire::Count {
                lease,
                count: number,
                signature: Signature(c.array()?),
            },
        };
        c.finish()?;
        Ok(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease() -> LeaseId {
        LeaseId(Hash32([9; 32]))
    }

    #[test]
    fn each_message_reads_back_as_itself() {
        let all = [
            Wire::Relay {
                lease: lease(),
                seq: 7,
                payload: vec![1; RELAY_PAYLOAD_MAX],
            },
            Wire::Relayed {
                lease: lease(),
                seq: u64::MAX,
            },
            Wire::Count {
                lease: lease(),
                count: 3,
                signature: Signature([4; 64]),
            },
        ];
        for w in all {
            assert_eq!(Wire::decode(&w.encode()), Ok(w));
        }
    }

    #[test]
    fn bad_bytes_are_refused_by_name() {
        let relay = Wire::Relay {
            lease: lease(),
            seq: 1,
            payload: vec![5; 10],
        }
        .encode();
        assert_eq!(Wire::decode(b"hello"), Err(WireError::NotRelay));
        assert_eq!(Wire::decode(&[0xD7, 0x02]), Err(WireError::NotRelay));
        assert_eq!(Wire::decode(&[]), Err(WireError::NotRelay));
        assert_eq!(
            Wire::decode(&relay[..relay.len() - 1]),
            Err(WireError::Short("relay"))
        );
        let mut long = relay.clone();
        long.push(0);
        assert_eq!(Wire::decode(&long), Err(WireError::Trailing("relay")));
        let mut big = relay[..42].to_vec();
        big.extend_from_slice(&1025u16.to_le_bytes());
        assert_eq!(Wire::decode(&big), Err(WireError::TooLong(1025)));
    }
}
