//! How a failed command ends: a message a person can act on (on stderr), or
//! with `--json` the API's error envelope on stdout, and an exit status that
//! tells scripts what kind of failure it was (README "Exit status").

use std::process::ExitCode;

use serde_json::{json, Value};
use ting_agent::client::HttpError;
use ting_agent::files::FileError;
use ting_node::mqtt::MqttStartError;

/// What kind of failure a command ended in; the exit status is its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Anything not below: an I/O error, a node answering what it should not.
    Failure = 1,
    /// The command line or a file it names is wrong (clap's own errors exit 2 too).
    BadInput = 2,
    /// The node or the ledger answered no: a refusal, an unknown id, a dev-only call.
    Refused = 3,
    /// The node could not be reached, or was busy, shutting down or slow.
    Unreachable = 4,
    /// A receipt or proof was checked and does not hold.
    NotValid = 5,
}

/// Marks an error as bad input, with a stable code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BadInput {
    pub code: &'static str,
    pub message: String,
}

/// A bad-input error for `anyhow`.
pub fn bad_input(code: &'static str, message: impl Into<String>) -> anyhow::Error {
    BadInput {
        code,
        message: message.into(),
    }
    .into()
}

/// The node or the ledger said no to something a person asked (a channel
/// that is not open): a refusal, with a stable code.
pub fn refused(code: &'static str, message: impl Into<String>) -> anyhow::Error {
    Kinded {
        exit: Exit::Refused,
        code,
        message: message.into(),
    }
    .into()
}

/// Not decided yet: ask again in a moment (exits as the node being busy).
pub fn not_yet(message: impl Into<String>) -> anyhow::Error {
    Kinded {
        exit: Exit::Unreachable,
        code: "pending",
        message: message.into(),
    }
    .into()
}

/// An error of a given kind, with a stable code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Kinded {
    pub exit: Exit,
    pub code: &'static str,
    pub message: String,
}

/// Marks an error as a failed check (a receipt that does not verify).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NotValid {
    pub code: &'static str,
    pub message: String,
}

/// A failed command, classified.
#[derive(Debug)]
pub struct Failed {
    pub exit: Exit,
    pub code: String,
    pub message: String,
    pub tx_hash: Option<String>,
}

impl Failed {
    /// Reads `e`'s chain for the first error that says what kind it is.
    pub fn classify(e: &anyhow::Error) -> Failed {
        let message = message(e);
        let (exit, code, tx_hash) =
            e.chain()
                .find_map(kind_of)
                .unwrap_or((Exit::Failure, "error".to_owned(), None));
        Failed {
            exit,
            code,
            message,
            tx_hash,
        }
    }

    /// Prints the failure (JSON on stdout with `--json`, else text on stderr)
    /// and answers the exit status.
    pub fn report(&self, json_out: bool) -> ExitCode {
        if json_out {
            let mut error = json!({ "code": self.code, "message": self.message });
            if let Some(h) = &self.tx_hash {
                error["tx_hash"] = Value::String(h.clone());
            }
            crate::output::emit(&json!({ "error": error }).to_string());
        } else {
            eprintln!("error: {}", self.message);
        }
        ExitCode::from(self.exit as u8)
    }
}

fn kind_of(e: &(dyn std::error::Error + 'static)) -> Option<(Exit, String, Option<String>)> {
    if let Some(h) = e.downcast_ref::<HttpError>() {
        let exit = match h {
            HttpError::Unreachable { .. } => Exit::Unreachable,
            // A request the node could not read: what the user gave was wrong.
            HttpError::Api { status, .. } if status.as_u16() == 400 => Exit::BadInput,
            // Too slow, too many at once (429), or still in the pipeline (409): ask again.
            HttpError::Api { status, .. } if [408, 409, 429].contains(&status.as_u16()) => {
                Exit::Unreachable
            }
            HttpError::Api { status, .. } if status.is_client_error() => Exit::Refused,
            HttpError::Api { status, .. } if status.as_u16() == 500 => Exit::Failure,
            HttpError::Api { .. } => Exit::Unreachable,
            HttpError::BadUrl(_) => Exit::BadInput,
            // The node's certificate is not the one trusted: a check that did not hold.
            HttpError::TlsUntrusted { .. } => Exit::NotValid,
            _ => Exit::Failure,
        };
        let tx_hash = match h {
            HttpError::Api { tx_hash, .. } => tx_hash.clone(),
            _ => None,
        };
        return Some((exit, h.code().to_owned(), tx_hash));
    }
    if let Some(f) = e.downcast_ref::<FileError>() {
        let exit = match f {
            FileError::Io { .. } => Exit::Failure,
            _ => Exit::BadInput,
        };
        return Some((exit, f.code().to_owned(), None));
    }
    if let Some(b) = e.downcast_ref::<BadInput>() {
        return Some((Exit::BadInput, b.code.to_owned(), None));
    }
    if let Some(k) = e.downcast_ref::<Kinded>() {
        return Some((k.exit, k.code.to_owned(), None));
    }
    if let Some(n) = e.downcast_ref::<NotValid>() {
        return Some((Exit::NotValid, n.code.to_owned(), None));
    }
    if let Some(f) = e.downcast_ref::<ting_agent::txtext::FormError>() {
        return Some((Exit::BadInput, f.code.to_owned(), None));
    }
    if let Some(s) = e.downcast_ref::<ting_agent::StoreError>() {
        return Some((Exit::Failure, s.code().to_owned(), None));
    }
    if let Some(m) = e.downcast_ref::<MqttStartError>() {
        let exit = match m {
            MqttStartError::BadBrokerUrl { .. } | MqttStartError::NoBrokerTrust { .. } => {
                Exit::BadInput
            }
            MqttStartError::Unreachable { .. } => Exit::Unreachable,
            _ => Exit::Failure,
        };
        return Some((exit, m.code().to_owned(), None));
    }
    None
}

/// The chain's messages joined with `: `, each said once: an error whose
/// text already contains its cause's (as many OS errors do) is not followed
/// by it again.
pub fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        let e = anyhow::Error::new(io)
            .context(format!("reading x: {text}"))
            .context("the receipt");
        assert_eq!(message(&e), format!("the receipt: reading x: {text}"));
    }

    #[test]
    fn a_refusal_and_an_unreachable_node_exit_differently() {
        let refused = anyhow::Error::new(HttpError::Api {
            status: hyper::StatusCode::UNPROCESSABLE_ENTITY,
            code: "insufficient_funds".into(),
            message: "m".into(),
            tx_hash: Some("ab".into()),
        })
        .context("transfer");
        let f = Failed::classify(&refused);
        assert_eq!(
            (f.exit, f.code.as_str()),
            (Exit::Refused, "insufficient_funds")
        );
        assert_eq!(f.tx_hash.as_deref(), Some("ab"));
        let away = anyhow::Error::new(HttpError::Unreachable {
            url: "u".into(),
            reason: "r".into(),
        });
        assert_eq!(Failed::classify(&away).exit, Exit::Unreachable);
        let bad = bad_input("bad_amount", "no");
        assert_eq!(Failed::classify(&bad).exit, Exit::BadInput);
        assert_eq!(Failed::classify(&anyhow::anyhow!("x")).exit, Exit::Failure);
    }

    #[test]
    fn an_untrusted_tls_certificate_is_a_check_that_did_not_hold() {
        let untrusted = anyhow::Error::new(HttpError::TlsUntrusted {
            url: "https://h".into(),
            reason: "r".into(),
        });
        let f = Failed::classify(&untrusted);
        assert_eq!((f.exit, f.code.as_str()), (Exit::NotValid, "tls_untrusted"));
    }
}
