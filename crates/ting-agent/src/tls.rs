//! Whom a client trusts over TLS (`https://` nodes, `mqtts://` brokers), and
//! the rustls configuration that says so.
//!
//! [`TlsTrust`] is one of three answers: the operating system's roots (the
//! default, for a node with a certificate from a public or company CA), the
//! CA certificates of a PEM file (a private CA), or a pin: the SHA-256 of the
//! server's own certificate, for a dev node's self-signed one. A pin ignores
//! names and dates, since a pinned certificate is the one expected byte for
//! byte, but the handshake's signatures are still checked against it, so only
//! the holder of its private key passes.
//!
//! Every configuration uses the aws-lc-rs provider explicitly: the workspace
//! also builds ring (through rmqtt), and rustls picks no process default when
//! both are compiled in.
//!
//! [`tls_failure`] reads a failed connection's error chain for the TLS reason
//! and says it in terms of the trust, so a wrong pin reads as one rather than
//! as "connection failed".

use std::error::Error as StdError;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use thiserror::Error;
use ting_core::Hash32;

/// Largest CA file read, in bytes (a system bundle of ~150 roots is ~220 KB).
pub const TLS_CA_FILE_BYTES_MAX: u64 = 1 << 20;
/// Most certificates taken from one CA file.
pub const TLS_CA_CERTS_MAX: usize = 1024;
/// How many links of an error chain are searched for the TLS reason.
const ERROR_CHAIN_MAX: usize = 16;

/// The certificates a client accepts from a server.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum TlsTrust {
    /// The operating system's trusted CAs (read once per process).
    #[default]
    SystemRoots,
    /// Only the CA certificates read from `origin` (a PEM file); the server's
    /// certificate must be issued by one of them, name the host and be in date.
    Ca {
        origin: String,
        roots: Arc<RootCertStore>,
    },
    /// Only the certificate whose DER bytes have this SHA-256.
    Pin([u8; 32]),
}

/// Why a trust could not be read from what a person gave.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsTrustError {
    #[error("the TLS pin: {reason}; a pin is the SHA-256 of the server's certificate, 64 hex digits, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints it")]
    BadPin { reason: String },
    #[error("the CA file {origin}: {reason}")]
    BadCa { origin: String, reason: String },
    #[error("give a CA file or a pin, not both: a pin already names the one certificate trusted")]
    Conflict,
}

impl TlsTrustError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TlsTrustError::BadPin { .. } => "bad_tls_pin",
            TlsTrustError::BadCa { .. } => "bad_tls_ca",
            TlsTrustError::Conflict => "tls_trust_conflict",
        }
    }
}

/// Why a TLS client configuration could not be made.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    #[error("no trusted CA certificates found on this system ({reason}); install the system's CA bundle (e.g. `apt-get install ca-certificates`), or give a CA file or a pin")]
    NoSystemRoots { reason: String },
    #[error("cannot configure TLS: {0}")]
    Config(String),
}

impl TlsSetupError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TlsSetupError::NoSystemRoots { .. } => "tls_no_system_roots",
            TlsSetupError::Config(_) => "tls_config",
        }
    }
}

impl TlsTrust {
    /// A pin from its text (see [`parse_pin`]).
    pub fn pin(text: &str) -> Result<TlsTrust, TlsTrustError> {
        parse_pin(text).map(TlsTrust::Pin)
    }

    /// The CA certificates of the PEM file at `path`.
    pub fn ca_file(path: &Path) -> Result<TlsTrust, TlsTrustError> {
        let origin = path.display().to_string();
        let bad = |reason: String| TlsTrustError::BadCa {
            origin: origin.clone(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open it: {e}")))?;
        let mut pem = Vec::new();
        file.take(TLS_CA_FILE_BYTES_MAX + 1)
            .read_to_end(&mut pem)
            .map_err(|e| bad(format!("cannot read it: {e}")))?;
        if pem.len() as u64 > TLS_CA_FILE_BYTES_MAX {
            return Err(bad(format!(
                "it is over {TLS_CA_FILE_BYTES_MAX} bytes; it is not a CA file"
            )));
        }
        TlsTrust::ca_pem(&origin, &pem)
    }

    /// The CA certificates in `pem` (PEM text); `origin` names it in errors.
    pub fn ca_pem(origin: &str, pem: &[u8]) -> Result<TlsTrust, TlsTrustError> {
        let bad = |reason: String| TlsTrustError::BadCa {
            origin: origin.to_owned(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
            if i >= TLS_CA_CERTS_MAX {
                return Err(bad(format!(
                    "it holds over {TLS_CA_CERTS_MAX} certificates"
                )));
            }
            let cert = cert.map_err(|e| bad(format!("certificate {} is not PEM: {e}", i + 1)))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("certificate {} cannot be a CA: {e}", i + 1)))?;
        }
        if roots.is_empty() {
            return Err(bad(
                "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
            ));
        }
        Ok(TlsTrust::Ca {
            origin: origin.to_owned(),
            roots: Arc::new(roots),
        })
    }

    /// The trust a person chose: a CA file, a pin, or neither (the system's
    /// roots). Both at once is refused.
    pub fn from_options(ca: Option<&Path>, pin: Option<&str>) -> Result<TlsTrust, TlsTrustError> {
        match (ca, pin) {
            (Some(_), Some(_)) => Err(TlsTrustError::Conflict),
            (Some(path), None) => TlsTrust::ca_file(path),
            (None, Some(text)) => TlsTrust::pin(text),
            (None, None) => Ok(TlsTrust::SystemRoots),
        }
    }

    /// A rustls client configuration that trusts exactly this, with no ALPN
    /// protocol set (hyper-rustls sets its own; MQTT needs none).
    pub fn client_config(&self) -> Result<ClientConfig, TlsSetupError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        let config = match self {
            TlsTrust::SystemRoots => builder.with_root_certificates(system_roots()?),
            TlsTrust::Ca { roots, .. } => builder.with_root_certificates(Arc::clone(roots)),
            TlsTrust::Pin(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinVerifier {
                    pin: *pin,
                    provider: provider(),
                })),
        };
        Ok(config.with_no_client_auth())
    }
}

impl fmt::Display for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsTrust::SystemRoots => f.write_str("the system's trusted CAs"),
            TlsTrust::Ca { origin, .. } => write!(f, "the CA certificates in {origin}"),
            TlsTrust::Pin(pin) => write!(f, "the pin {}", pin_text(pin)),
        }
    }
}

/// The crypto provider every Ting TLS configuration uses: aws-lc-rs.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider())))
}

/// The system's roots, read once: a client made per command must not read
/// the whole bundle each time.
fn system_roots() -> Result<Arc<RootCertStore>, TlsSetupError> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, TlsSetupError>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let reason = match found.errors.first() {
                    Some(e) => e.to_string(),
                    None => "none were found".into(),
                };
                return Err(TlsSetupError::NoSystemRoots { reason });
            }
            Ok(Arc::new(roots))
        })
        .clone()
}

/// Reads a pin: 64 hex digits in either case, colons allowed anywhere, and
/// the `sha256 Fingerprint=` that openssl prints before them allowed too.
pub fn parse_pin(text: &str) -> Result<[u8; 32], TlsTrustError> {
    let text = text.trim();
    let text = match text.split_once('=') {
        Some((label, rest)) if label.trim().eq_ignore_ascii_case("sha256 fingerprint") => rest,
        _ => text,
    };
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let bad = |reason: String| TlsTrustError::BadPin { reason };
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(bad(format!("{c:?} is not a hex digit")));
    }
    if digits.len() != 64 {
        return Err(bad(format!("{} hex digits, not 64", digits.len())));
    }
    let mut pin = [0u8; 32];
    hex::decode_to_slice(&digits, &mut pin).map_err(|e| bad(e.to_string()))?;
    Ok(pin)
}

/// The pin of a certificate: the SHA-256 of its DER bytes.
pub fn cert_pin(der: &[u8]) -> [u8; 32] {
    Hash32::digest(&[der]).0
}

/// A pin as openssl prints it: 32 upper-case hex pairs joined by colons.
pub fn pin_text(pin: &[u8; 32]) -> String {
    let pairs: Vec<String> = pin.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// Accepts exactly the pinned certificate, whatever names or dates it holds,
/// and checks the handshake signatures with its key.
#[derive(Debug)]
struct PinVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

/// The server showed another certificate than the pinned one.
#[derive(Debug, Error)]
#[error("the server's certificate has SHA-256 {}, not the pinned {}", pin_text(.got), pin_text(.pinned))]
pub struct PinMismatch {
    pub pinned: [u8; 32],
    pub got: [u8; 32],
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = cert_pin(end_entity);
        if got == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        let mismatch = PinMismatch {
            pinned: self.pin,
            got,
        };
        Err(CertificateError::Other(rustls::OtherError(Arc::new(mismatch))).into())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What went wrong in a TLS handshake, said for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFailure {
    /// The server's certificate was not the trusted one (as opposed to a
    /// handshake that failed for another reason, such as a server that does
    /// not speak TLS on that port).
    pub untrusted: bool,
    pub reason: String,
}

/// The TLS reason in `error`'s chain, if a TLS error is there. It looks
/// inside `io::Error`s too, whose `source` skips the error they wrap.
pub fn tls_failure(error: &(dyn StdError + 'static), trust: &TlsTrust) -> Option<TlsFailure> {
    let rustls_error = find_rustls_error(error)?;
    let failure = match rustls_error {
        rustls::Error::InvalidCertificate(cert) => TlsFailure {
            untrusted: true,
            reason: certificate_reason(cert, trust),
        },
        rustls::Error::NoCertificatesPresented => TlsFailure {
            untrusted: true,
            reason: "the server presented no certificate".into(),
        },
        other => TlsFailure {
            untrusted: false,
            reason: format!(
                "the TLS handshake failed ({other}); does the server speak TLS on this port?"
            ),
        },
    };
    Some(failure)
}

fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    for _ in 0..ERROR_CHAIN_MAX {
        let e = next?;
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

fn certificate_reason(cert: &CertificateError, trust: &TlsTrust) -> String {
    if let CertificateError::Other(other) = cert {
        if let Some(mismatch) = other.0.downcast_ref::<PinMismatch>() {
            return format!(
                "its certificate's SHA-256 is {}, not {trust}",
                pin_text(&mismatch.got)
            );
        }
    }
    match (cert, trust) {
        (CertificateError::UnknownIssuer, TlsTrust::SystemRoots) => format!(
            "its certificate is not issued by {trust} (a self-signed or private-CA certificate needs a CA file or a pin)"
        ),
        (CertificateError::UnknownIssuer, _) => {
            format!("its certificate is not issued by {trust}")
        }
        (CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }, _) => {
            format!("its certificate is for another host ({cert}), checked against {trust}")
        }
        _ => format!("its certificate does not pass a check against {trust}: {cert}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN_HEX: &str = "5f3a0c9b7d1e2f4a6b8c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";

    #[test]
    fn a_pin_reads_in_either_case_with_or_without_colons_or_the_openssl_label() {
        let want = {
            let mut p = [0u8; 32];
            hex::decode_to_slice(PIN_HEX, &mut p).expect("hex");
            p
        };
        let colons = pin_text(&want);
        for text in [
            PIN_HEX.to_owned(),
            PIN_HEX.to_uppercase(),
            colons.clone(),
            colons.to_lowercase(),
            format!("sha256 Fingerprint={colons}"),
            format!("SHA256 Fingerprint={colons}\n"),
            format!("  {PIN_HEX}  "),
        ] {
            assert_eq!(parse_pin(&text).expect(&text), want, "{text}");
        }
    }

    #[test]
    fn a_pin_that_is_not_64_hex_digits_is_refused_with_its_code() {
        for bad in [
            "",
            &PIN_HEX[..62],
            &format!("{PIN_HEX}00"),
            &PIN_HEX.replace('5', "g"),
            "sha1 Fingerprint=AB:CD",
            &format!("sha512 Fingerprint={PIN_HEX}"),
        ] {
            let err = parse_pin(bad).expect_err(bad);
            assert_eq!(err.code(), "bad_tls_pin", "{bad}");
            assert!(err.to_string().contains("openssl"), "{err}");
        }
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused_with_its_code() {
        let err = TlsTrust::ca_pem("ca.pem", b"not a certificate").expect_err("no PEM");
        assert_eq!(err.code(), "bad_tls_ca");
        assert!(err.to_string().contains("ca.pem"), "{err}");
        let garbled = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = TlsTrust::ca_pem("ca.pem", garbled).expect_err("not a certificate");
        assert_eq!(err.code(), "bad_tls_ca");
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err = TlsTrust::ca_file(&missing).expect_err("no file");
        assert_eq!(err.code(), "bad_tls_ca");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn a_ca_file_and_a_pin_together_are_refused() {
        let err =
            TlsTrust::from_options(Some(Path::new("ca.pem")), Some(PIN_HEX)).expect_err("both");
        assert_eq!(err.code(), "tls_trust_conflict");
        assert!(matches!(
            TlsTrust::from_options(None, None),
            Ok(TlsTrust::SystemRoots)
        ));
        assert!(matches!(
            TlsTrust::from_options(None, Some(PIN_HEX)),
            Ok(TlsTrust::Pin(_))
        ));
    }

    #[test]
    fn a_configuration_sets_no_alpn_protocol_for_hyper_rustls_to_refuse() {
        let config = TlsTrust::pin(PIN_HEX)
            .expect("pin")
            .client_config()
            .expect("config");
        assert!(config.alpn_protocols.is_empty());
    }

    #[test]
    fn a_pin_mismatch_deep_in_an_io_error_is_found_and_names_both_pins() {
        let mismatch = PinMismatch {
            pinned: [1; 32],
            got: [2; 32],
        };
        let rustls_error: rustls::Error =
            CertificateError::Other(rustls::OtherError(Arc::new(mismatch))).into();
        let wrapped = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls_error,
        ));
        let failure = tls_failure(&wrapped, &TlsTrust::Pin([1; 32])).expect("found");
        assert!(failure.untrusted);
        assert!(failure.reason.contains(&pin_text(&[2; 32])), "{failure:?}");
        assert!(failure.reason.contains(&pin_text(&[1; 32])), "{failure:?}");
        let plain = std::io::Error::other("connection refused");
        assert_eq!(tls_failure(&plain, &TlsTrust::SystemRoots), None);
    }
}
