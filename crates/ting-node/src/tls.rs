//! TLS for the node's listeners (rustls): the certificate and key an operator
//! gives (`--tls-cert`, `--tls-key`), or for a dev network a self-signed one
//! the node makes once and keeps in its data directory.
//!
//! Clients trust a dev certificate by pinning its SHA-256 fingerprint, which
//! the node prints at start-up (docs/security.md). The HTTP listener wraps
//! each accepted connection in a handshake of its own task, bounded in number
//! and time, so that a slow or silent client cannot stall the accept loop.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Largest certificate or key file read, in bytes.
pub const TLS_FILE_BYTES_MAX: u64 = 1 << 20;
/// TLS handshakes in progress at once on one listener.
pub const TLS_HANDSHAKES_MAX: usize = 1024;
/// How long a client has to finish its handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Where a dev node keeps its self-signed certificate and key, in its data directory.
pub const DEV_CERT_FILE: &str = "tls/dev-cert.pem";
pub const DEV_KEY_FILE: &str = "tls/dev-key.pem";

/// Why TLS could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is over {TLS_FILE_BYTES_MAX} bytes; it is not a certificate or key file")]
    TooLarge { path: PathBuf },
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("the certificate and key do not make a TLS server: {0}")]
    Config(String),
    #[error("cannot write the dev certificate to {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot make a dev certificate: {0}")]
    Generate(String),
}

impl TlsError {
    pub fn code(&self) -> &'static str {
        match self {
            TlsError::Read { .. } => "tls_file_unreadable",
            TlsError::TooLarge { .. } => "tls_file_too_large",
            TlsError::NoCertificate { .. } => "tls_no_certificate",
            TlsError::NoKey { .. } => "tls_no_key",
            TlsError::Config(_) => "tls_bad_config",
            TlsError::Write { .. } => "tls_write",
            TlsError::Generate(_) => "tls_generate",
        }
    }
}

/// A server identity: the rustls configuration, and the files it came from
/// (the embedded broker reads them itself).
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// SHA-256 of the leaf certificate's DER bytes: what clients pin.
    pub fingerprint: [u8; 32],
}

impl ServerTls {
    /// Reads a PEM certificate chain (leaf first) and its private key.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<ServerTls, TlsError> {
        let cert_pem = read_bounded(cert_path)?;
        let key_pem = read_bounded(key_path)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .filter_map(Result::ok)
            .collect();
        let leaf = chain.first().ok_or_else(|| TlsError::NoCertificate {
            path: cert_path.to_path_buf(),
        })?;
        let fingerprint: [u8; 32] = Sha256::digest(leaf.as_ref()).into();
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey {
            path: key_path.to_path_buf(),
        })?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(ServerTls {
            config: Arc::new(config),
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            fingerprint,
        })
    }

    /// The dev network's self-signed identity in `data_dir`, made on first use
    /// (for `localhost`, `127.0.0.1` and `::1`) and kept, so that a pin stays
    /// good across restarts.
    pub fn dev(data_dir: &Path) -> Result<ServerTls, TlsError> {
        let cert_path = data_dir.join(DEV_CERT_FILE);
        let key_path = data_dir.join(DEV_KEY_FILE);
        if !cert_path.exists() || !key_path.exists() {
            write_dev_identity(&cert_path, &key_path)?;
        }
        ServerTls::load(&cert_path, &key_path)
    }

    /// The fingerprint as clients give it to `--tls-pin`: 64 lowercase hex digits.
    pub fn pin(&self) -> String {
        hex::encode(self.fingerprint)
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    let read = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > TLS_FILE_BYTES_MAX {
        return Err(TlsError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    std::fs::read(path).map_err(read)
}

fn write_dev_identity(cert_path: &Path, key_path: &Path) -> Result<(), TlsError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), TlsError> {
        let fail = |source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(path)
            .map_err(fail)?;
        f.write_all(text.as_bytes()).map_err(fail)?;
        f.sync_all().map_err(fail)
    };
    write(key_path, &made.signing_key.serialize_pem(), 0o600)?;
    write(cert_path, &made.cert.pem(), 0o644)
}

/// A TCP listener whose connections come out TLS-wrapped: each handshake runs
/// on a task of its own (at most `TLS_HANDSHAKES_MAX` at once, each within
/// `TLS_HANDSHAKE_TIMEOUT`); failed handshakes are dropped.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    _acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, tls: &ServerTls) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (done, ready) = mpsc::channel(TLS_HANDSHAKES_MAX);
        let acceptor = TlsAcceptor::from(Arc::clone(&tls.config));
        let task = tokio::spawn(accept_loop(listener, acceptor, done));
        Ok(TlsListener {
            local,
            ready,
            _acceptor: task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self._acceptor.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    done: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(TLS_HANDSHAKES_MAX));
    loop {
        let Ok(permit) = Arc::clone(&handshakes).acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "TLS listener: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let shaken = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
            drop(permit);
            match shaken {
                Ok(Ok(stream)) => {
                    let _ = done.send((stream, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept loop ended: no connection will come again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_identity_is_made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ServerTls::dev(dir.path()).expect("made");
        let again = ServerTls::dev(dir.path()).expect("read back");
        assert_eq!(
            first.fingerprint, again.fingerprint,
            "the pin survives a restart"
        );
        assert_eq!(first.pin().len(), 64);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&first.key_path)
                .expect("key")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }

    #[test]
    fn files_that_are_not_pem_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").expect("write");
        let err = ServerTls::load(&junk, &junk).expect_err("not a certificate");
        assert_eq!(err.code(), "tls_no_certificate");
        assert!(err.to_string().contains("junk.pem"));
        let missing = ServerTls::load(&dir.path().join("nope"), &junk).expect_err("missing");
        assert_eq!(missing.code(), "tls_file_unreadable");
        let dev = ServerTls::dev(dir.path()).expect("dev identity");
        let wrong_key = ServerTls::load(&dev.cert_path, &junk).expect_err("no key");
        assert_eq!(wrong_key.code(), "tls_no_key");
    }
}
