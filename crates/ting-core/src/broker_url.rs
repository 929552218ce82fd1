//! An MQTT broker's address as people and `/v1/status` write it:
//! `mqtt://HOST:PORT` (the port defaults to 1883) or, over TLS,
//! `mqtts://HOST:PORT` (the port defaults to 8883); an IPv6 host in brackets.
//! One parser and one printer for the node's flags, the SDK and the benches.

use crate::prelude::*;

use core::fmt;

/// The standard MQTT port, when a plain address names none.
pub const MQTT_PORT_DEFAULT: u16 = 1883;
/// The standard MQTT-over-TLS port, when an `mqtts://` address names none.
pub const MQTTS_PORT_DEFAULT: u16 = 8883;

/// A broker's host and port, and whether it is spoken to over TLS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrokerUrl {
    /// A name or an IP address (an IPv6 address without its brackets).
    pub host: String,
    pub port: u16,
    /// `mqtts://`: the connection is TLS (which certificate is trusted is the
    /// client's to say, not the address's).
    pub tls: bool,
}

impl BrokerUrl {
    /// Reads `mqtt://HOST[:PORT][/]` or `mqtts://HOST[:PORT][/]`; `None` for
    /// anything else (another scheme, a user, a path, an empty host, a port
    /// that is not a number).
    pub fn parse(url: &str) -> Option<BrokerUrl> {
        let url = url.trim();
        let (rest, tls) = match url.strip_prefix("mqtts://") {
            Some(rest) => (rest, true),
            None => (url.strip_prefix("mqtt://")?, false),
        };
        let port_default = if tls {
            MQTTS_PORT_DEFAULT
        } else {
            MQTT_PORT_DEFAULT
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None if after.is_empty() => port_default,
                None => return None,
            };
            (host, port)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, p.parse().ok()?),
                None => (rest, port_default),
            }
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ', '[', ']']) {
            return None;
        }
        Some(BrokerUrl {
            host: host.to_owned(),
            port,
            tls,
        })
    }

    /// `mqtts` over TLS, `mqtt` otherwise.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "mqtts"
        } else {
            "mqtt"
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme();
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `url` reads as `(host, port, tls)` and prints as something that reads back the same.
    fn check(url: &str, want: (&str, u16, bool)) {
        let b = BrokerUrl::parse(url).unwrap_or_else(|| panic!("{url}"));
        assert_eq!((b.host.as_str(), b.port, b.tls), want, "{url}");
        assert_eq!(BrokerUrl::parse(&b.to_string()), Some(b), "{url}");
    }

    #[test]
    fn a_broker_url_reads_back_as_it_prints() {
        check("mqtt://127.0.0.1:1884", ("127.0.0.1", 1884, false));
        check("mqtt://broker.local", ("broker.local", 1883, false));
        check("mqtt://broker.local/", ("broker.local", 1883, false));
        check("mqtt://[::1]:1885", ("::1", 1885, false));
        check("mqtt://[::]", ("::", 1883, false));
    }

    #[test]
    fn an_mqtts_url_is_tls_and_defaults_to_port_8883() {
        check("mqtts://broker.local", ("broker.local", 8883, true));
        check("mqtts://broker.local/", ("broker.local", 8883, true));
        check("mqtts://127.0.0.1:1884", ("127.0.0.1", 1884, true));
        check("mqtts://[::1]", ("::1", 8883, true));
        check("mqtts://[::1]:8884", ("::1", 8884, true));
        let b = BrokerUrl::parse("mqtts://h").expect("parses");
        assert_eq!(b.to_string(), "mqtts://h:8883");
        let plain = BrokerUrl { tls: false, ..b };
        assert_eq!(plain.to_string(), "mqtt://h:8883");
    }

    #[test]
    fn anything_but_a_bare_mqtt_or_mqtts_address_is_refused() {
        for bad in [
            "tcp://h:1",
            "ssl://h:8883",
            "mqtt://",
            "mqtts://",
            "mqtt://h:port",
            "mqtts://h:port",
            "mqtt://u@h:1",
            "mqtts://u@h:1",
            "h:1883",
            "mqtt://::1:1883",
            "mqtt://[::1]x",
            "mqtt://h:1/x",
            "mqtts://h:1/x",
            "mqtt://h:99999",
            "MQTTS://h",
            "mqtts//h",
        ] {
            assert_eq!(BrokerUrl::parse(bad), None, "{bad}");
        }
    }
}
