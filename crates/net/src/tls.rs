//! TLS for `wss://`, through rustls with the ring provider: the server's certificate and key
//! ([`TlsConfig`]) and the clients' trust roots ([`load_pem_certs`] for `ClientConfig::tls_roots`).
//!
//! The provider is passed explicitly rather than taken from rustls' process-wide default, so
//! this crate works whichever other providers a binary happens to link.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// ALPN protocol both sides offer: the server speaks HTTP/1.1 only, which is what a WebSocket
/// upgrade needs.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Where the server's certificate chain and private key are, as PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf certificate first.
    pub cert_chain: PathBuf,
    /// PEM file with the private key of the leaf certificate (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

/// Why TLS could not be set up or established.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or held no valid item of the kind wanted.
    #[error("cannot read {what} from {}: {source}", path.display())]
    Pem {
        /// What was being read ("certificate chain", "private key", "trust roots").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: pem::Error,
    },
    /// rustls refused the configuration, for example a key that does not match the certificate
    /// or a certificate it cannot parse as a trust root.
    #[error("invalid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// A `wss://` URL was given but the client config names no trust roots to verify the server.
    #[error("wss:// needs trust roots: set ClientConfig::tls_roots")]
    NoTrustRoots,
    /// The host of a `wss://` URL is not a valid DNS name or IP address for verification.
    #[error("invalid server name {0:?}")]
    InvalidServerName(String),
    /// The TLS handshake with the peer failed (bad certificate, protocol error, socket error).
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
}

impl TlsConfig {
    /// A config naming these two PEM files; nothing is read until [`server_config`](Self::server_config).
    pub fn new(cert_chain: impl Into<PathBuf>, private_key: impl Into<PathBuf>) -> Self {
        Self {
            cert_chain: cert_chain.into(),
            private_key: private_key.into(),
        }
    }

    /// Reads both files and builds the rustls server configuration.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        Self::load(&self.cert_chain, &self.private_key)
    }

    /// Reads a PEM certificate chain and PEM private key and builds a rustls server
    /// configuration: TLS 1.2 and 1.3, no client certificates, ALPN `http/1.1`.
    pub fn load(
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let certs = load_certs(cert_chain.as_ref(), "certificate chain")?;
        let key_path = private_key.as_ref();
        let key = PrivateKeyDer::from_pem_file(key_path).map_err(|source| TlsError::Pem {
            what: "private key",
            path: key_path.to_owned(),
            source,
        })?;
        server_config_from_der(certs, key)
    }
}

/// Builds a rustls server configuration from DER certificates (leaf first) and a key, for
/// callers that hold them in memory (tests, secrets managers).
pub fn server_config_from_der(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

/// Reads every certificate of a PEM file, for [`ClientConfig::tls_roots`](crate::ClientConfig::tls_roots).
pub fn load_pem_certs(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    load_certs(path.as_ref(), "trust roots")
}

fn load_certs(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem_error = |source| TlsError::Pem {
        what,
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(pem_error(pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// A rustls client configuration trusting exactly `roots` (a CA, or a self-signed server
/// certificate itself); no system roots are consulted.
pub(crate) fn client_config(
    roots: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, TlsError> {
    if roots.is_empty() {
        return Err(TlsError::NoTrustRoots);
    }
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone())?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(Arc::new(config))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
