//! The CLI's log output: `TING_LOG` (an `EnvFilter`), and the one filter
//! that drops the embedded broker's routine noise.
//!
//! rumqttd logs at ERROR level what is routine for a broker: every
//! connection that ends ("disconnected", "router-drop", "connection-stop"
//! from its per-connection task) and a connection that ended before the
//! router heard of it ("no-connection id N is already gone", as at every
//! node shutdown). Those lines are dropped by target and message, whatever
//! `TING_LOG` says, so that the same modules' real errors ("no space for new
//! connection", "Unable to accept socket") still show.

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The default filter: info, and the broker (chatty at info) at warn.
const DEFAULT_FILTER: &str = "info,rumqttd=warn";

/// rumqttd's routine messages: (target, how the message reads).
const ROUTINE_BROKER_MESSAGES: [(&str, Said); 5] = [
    ("rumqttd::server::broker", Said::Exactly("disconnected")),
    ("rumqttd::server::broker", Said::Exactly("router-drop")),
    ("rumqttd::server::broker", Said::Exactly("connection-stop")),
    (
        "rumqttd::router::routing",
        Said::Containing("is already gone"),
    ),
    (
        "rumqttd::router::routing",
        Said::Exactly("Connection is already disconnected"),
    ),
];

/// How a routine message is recognised.
#[derive(Clone, Copy)]
enum Said {
    Exactly(&'static str),
    Containing(&'static str),
}

/// Installs the subscriber: stderr, ANSI colours only on a terminal.
pub fn init() {
    use std::io::IsTerminal;
    let filter =
        EnvFilter::try_from_env("TING_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_filter(filter)
        .with_filter(RoutineBrokerNoise);
    tracing_subscriber::registry().with(fmt).init();
}

/// Drops rumqttd's routine "errors" (see the module docs).
struct RoutineBrokerNoise;

impl<S> Filter<S> for RoutineBrokerNoise {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        let target = event.metadata().target();
        if !target.starts_with("rumqttd::") {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let m = message.0.as_str();
        !ROUTINE_BROKER_MESSAGES.iter().any(|(t, said)| {
            *t == target
                && match said {
                    Said::Exactly(text) => m == *text,
                    Said::Containing(text) => m.contains(text),
                }
        })
    }
}

/// An event's `message` field as text.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Everything written, for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_routers_routine_errors_are_dropped_and_its_real_ones_kept() {
        let out = Captured::default();
        let writer = out.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(EnvFilter::new(DEFAULT_FILTER))
            .with_filter(RoutineBrokerNoise);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "rumqttd::router::routing", "no-connection id {} is already gone", 0);
            tracing::error!(target: "rumqttd::router::routing", "no space for new connection");
            tracing::error!(target: "ting::other", "is already gone, but not the broker's");
            tracing::error!(target: "rumqttd::server::broker", error = "Recv(Disconnected)", "router-drop");
            tracing::error!(target: "rumqttd::server::broker", "Unable to accept socket.");
        });
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(!text.contains("no-connection id 0"), "{text}");
        assert!(text.contains("no space for new connection"), "{text}");
        assert!(text.contains("not the broker's"), "{text}");
        assert!(!text.contains("router-drop"), "{text}");
        assert!(text.contains("Unable to accept socket"), "{text}");
    }
}
