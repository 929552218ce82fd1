//! An MQTT broker's address as people and `/v1/status` write it:
//! `mqtt://HOST:PORT` (the port defaults to 1883; an IPv6 host in brackets).
//! One parser and one printer for the node's flags, the SDK and the benches.

use std::fmt;

/// The standard MQTT port, when an address names none.
pub const MQTT_PORT_DEFAULT: u16 = 1883;

/// A broker's host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    /// A name or an IP address (an IPv6 address without its brackets).
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// Reads `mqtt://HOST[:PORT][/]`; `None` for anything else (another
    /// scheme, a user, a path, an empty host, a port that is not a number).
    pub fn parse(url: &str) -> Option<BrokerUrl> {
        let rest = url.trim().strip_prefix("mqtt://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => MQTT_PORT_DEFAULT,
                None => return None,
            };
            (host, port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, p.parse().ok()?),
                None => (rest, MQTT_PORT_DEFAULT),
            }
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ', '[', ']']) {
            return None;
        }
        Some(BrokerUrl {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "mqtt://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "mqtt://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broker_url_reads_back_as_it_prints() {
        let ok = |u: &str, h: &str, p: u16| {
            let b = BrokerUrl::parse(u).unwrap_or_else(|| panic!("{u}"));
            assert_eq!((b.host.as_str(), b.port), (h, p), "{u}");
            assert_eq!(BrokerUrl::parse(&b.to_string()), Some(b));
        };
        ok("mqtt://127.0.0.1:1884", "127.0.0.1", 1884);
        ok("mqtt://broker.local", "broker.local", 1883);
        ok("mqtt://broker.local/", "broker.local", 1883);
        ok("mqtt://[::1]:1885", "::1", 1885);
        ok("mqtt://[::]", "::", 1883);
        for bad in [
            "tcp://h:1",
            "mqtt://",
            "mqtt://h:port",
            "mqtt://u@h:1",
            "h:1883",
            "mqtt://::1:1883",
            "mqtt://[::1]x",
            "mqtt://h:1/x",
            "mqtt://h:99999",
        ] {
            assert_eq!(BrokerUrl::parse(bad), None, "{bad}");
        }
    }
}
