//! The HTTPS listener's TLS configuration: rustls, with ALPN for HTTP/2 and HTTP/1.1, and a
//! certificate that reloads when its files change.
//!
//! The server configuration never changes; its certificate resolver hands every new handshake
//! the certificate in force ([`ArcSwap`]). A watcher on the certificate's and key's folders
//! (which sees editors' writes, `mv` over, and Kubernetes' `..data` swaps of a Secret) loads the
//! pair again after each burst of changes. Open connections keep the certificate they were
//! made with. A pair that does not load (unreadable, not PEM, a key that is not the
//! certificate's) keeps the previous certificate, and the log says why.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use notify::RecursiveMode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file that cannot be read or holds nothing usable.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair.
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads a certificate chain and its private key from PEM files, checking that they belong
/// together.
pub fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let pem_err = |path: &Path, message: String| TlsError::Pem {
        path: path.display().to_string(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem_err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_err(cert, "no certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e.to_string()))?;
    let pair = CertifiedKey::from_der(certs, key, &provider())?;
    Ok(pair)
}

/// Hands every handshake the certificate in force.
#[derive(Debug)]
pub struct CertResolver {
    current: ArcSwap<CertifiedKey>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Outcome counters of certificate reloads.
#[derive(Debug, Default)]
pub struct TlsReloadStats {
    /// Reloads that put a new certificate in force.
    pub succeeded: AtomicU64,
    /// Reloads that failed and kept the certificate in force.
    pub failed: AtomicU64,
}

/// A TLS server configuration whose certificate reloads from its files.
#[derive(Debug)]
pub struct ReloadingTls {
    config: Arc<rustls::ServerConfig>,
    resolver: Arc<CertResolver>,
    cert: PathBuf,
    key: PathBuf,
    /// Reload counters.
    pub stats: TlsReloadStats,
}

impl ReloadingTls {
    /// Loads the pair; fails when it does not load.
    pub fn new(cert: &Path, key: &Path) -> Result<Arc<ReloadingTls>, TlsError> {
        let resolver = Arc::new(CertResolver {
            current: ArcSwap::from_pointee(load_pair(cert, key)?),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(ReloadingTls {
            config: Arc::new(config),
            resolver,
            cert: cert.to_owned(),
            key: key.to_owned(),
            stats: TlsReloadStats::default(),
        }))
    }

    /// The server configuration (it stays the same across reloads).
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.config)
    }

    /// The certificate chain in force.
    pub fn certificate(&self) -> Vec<CertificateDer<'static>> {
        self.resolver.current.load().cert.clone()
    }

    /// Loads the files again; on success the new pair serves new handshakes, otherwise the
    /// pair in force stays and the error says why.
    pub fn reload(&self) -> Result<(), TlsError> {
        match load_pair(&self.cert, &self.key) {
            Ok(pair) => {
                let changed = pair.cert != self.resolver.current.load().cert;
                self.resolver.current.store(Arc::new(pair));
                self.stats.succeeded.fetch_add(1, Ordering::Relaxed);
                if changed {
                    tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                }
                Ok(())
            }
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    cert = %self.cert.display(),
                    key = %self.key.display(),
                    "TLS certificate change not loaded, keeping the certificate in force: {e}"
                );
                Err(e)
            }
        }
    }

    /// Watches the folders of the certificate and the key and reloads after each burst of
    /// changes. The watcher stops when the returned guard is dropped.
    pub fn watch(self: &Arc<Self>) -> notify::Result<TlsWatchGuard> {
        let mut folders: Vec<PathBuf> = [&self.cert, &self.key]
            .iter()
            .map(|p| match p.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
                _ => PathBuf::from("."),
            })
            .collect();
        folders.dedup();
        let folders: Vec<(PathBuf, RecursiveMode)> = folders
            .into_iter()
            .map(|f| (f, RecursiveMode::NonRecursive))
            .collect();
        let tls = Arc::clone(self);
        crate::store::watch_debounced("iamgate-tls-reload", &folders, move || {
            let _ = tls.reload();
        })
    }
}

/// Keeps a certificate watcher running.
pub type TlsWatchGuard = crate::store::WatchGuard;

/// Builds a server configuration from PEM files (a fixed certificate).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    Ok(ReloadingTls::new(cert, key)?.config())
}
