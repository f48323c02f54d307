//! The gateway: listeners, the request pipeline, forwarding and rejections.
//!
//! Every request goes through the phases of [`pipeline`], in order: authenticate, route, build
//! the context, evaluate, then forward or reject, then record.

pub mod admin;
mod delete_objects;
pub mod forward;
pub mod listener;
mod pipeline;
pub mod respond;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, Target, UpstreamKind};
use crate::route::s3::S3Model;
use crate::route::table::{RouteTable, RouteTableConfig};
use crate::sigv4;
use crate::store::{KeyOwner, LiveStore, Snapshot};
use crate::upstream::local::LocalStore;

pub use forward::{BoxError, ProxyBody};
pub use listener::{Connection, ConnectionCount};

/// The body of every response the gateway sends.
pub type ResponseBody = ProxyBody;

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The policy store does not load.
    #[error("the policy store does not load:\n{0}")]
    Store(#[from] crate::store::LoadErrors),
    /// TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// A route table is invalid.
    #[error("upstream {upstream}: {message}")]
    Routes {
        /// The upstream.
        upstream: String,
        /// What is wrong.
        message: String,
    },
    /// A listener or the store's folder cannot be used.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Whom a long-term access key belongs to, as the verifier hands it to the pipeline.
#[derive(Debug, Clone)]
pub struct KeyPrincipal {
    /// The key's account.
    pub account: String,
    /// The user or the root user.
    pub owner: KeyOwner,
}

/// The verifier's view of the store: keys of the snapshot in force.
pub struct StoreKeys(Arc<LiveStore>);

impl sigv4::CredentialStore for StoreKeys {
    type Principal = KeyPrincipal;

    fn lookup(&self, access_key_id: &str) -> Option<sigv4::Credential<KeyPrincipal>> {
        let snapshot = self.0.snapshot();
        let key = snapshot.key(access_key_id)?;
        Some(sigv4::Credential {
            secret: key.signing_secret().clone(),
            status: if key.active {
                sigv4::KeyStatus::Active
            } else {
                sigv4::KeyStatus::Inactive
            },
            principal: KeyPrincipal {
                account: key.account.clone(),
                owner: key.owner.clone(),
            },
        })
    }
}

/// Where an upstream's requests go.
pub(crate) enum Destination {
    /// The built-in object store, in process.
    Local(LocalStore),
    /// An HTTP(S) service.
    Remote(http::Uri),
}

/// How an upstream's requests are understood.
pub(crate) enum Model {
    S3(S3Model),
    Routes(RouteTable),
}

/// One configured upstream, ready to serve.
pub(crate) struct UpstreamRuntime {
    pub(crate) name: String,
    pub(crate) model: Model,
    pub(crate) destination: Destination,
    pub(crate) hosts: Vec<String>,
    pub(crate) owner: Option<String>,
    pub(crate) dry_run: bool,
    pub(crate) signer: Option<forward::UpstreamSigner>,
}

/// The gateway's shared state.
pub struct Gateway {
    /// The configuration it runs with.
    pub config: Config,
    pub(crate) store: Arc<LiveStore>,
    pub(crate) verifier: sigv4::Verifier<StoreKeys>,
    pub(crate) upstreams: Vec<UpstreamRuntime>,
    pub(crate) forwarder: forward::Forwarder,
    pub(crate) ids: respond::RequestIds,
    /// Open client connections.
    pub connections: ConnectionCount,
}

impl Gateway {
    /// Loads the store, opens the local object stores and compiles the route tables.
    pub async fn new(config: Config) -> Result<Arc<Gateway>, StartError> {
        let store = LiveStore::open(&config.policies)?;
        let mut upstreams = Vec::new();
        for u in &config.upstreams {
            let model = match &u.kind {
                UpstreamKind::S3 => Model::S3(S3Model::new(config.s3_domain.clone())),
                UpstreamKind::Routes {
                    service,
                    actions,
                    routes,
                } => {
                    let err = |message: String| StartError::Routes {
                        upstream: u.name.clone(),
                        message,
                    };
                    let table_config = RouteTableConfig {
                        service: service.clone(),
                        actions: actions
                            .iter()
                            .map(|a| a.clone().try_into())
                            .collect::<Result<_, _>>()
                            .map_err(|e: toml::de::Error| err(e.to_string()))?,
                        routes: routes
                            .iter()
                            .map(|r| r.clone().try_into())
                            .collect::<Result<_, _>>()
                            .map_err(|e: toml::de::Error| err(e.to_string()))?,
                    };
                    Model::Routes(
                        RouteTable::compile(&table_config).map_err(|e| err(e.to_string()))?,
                    )
                }
            };
            let destination = match &u.target {
                Target::Local(dir) => {
                    let local =
                        LocalStore::open(dir, &config.region).map_err(|source| StartError::Io {
                            what: format!("local object store {}", dir.display()),
                            source,
                        })?;
                    local.seed_demo().await.map_err(|source| StartError::Io {
                        what: format!("seeding {}", dir.display()),
                        source,
                    })?;
                    Destination::Local(local)
                }
                Target::Url(uri) => Destination::Remote(uri.clone()),
            };
            upstreams.push(UpstreamRuntime {
                name: u.name.clone(),
                model,
                destination,
                hosts: u.hosts.clone(),
                owner: u.owner.clone(),
                dry_run: u.dry_run,
                signer: u.signing.as_ref().map(forward::UpstreamSigner::new),
            });
        }
        // The default upstream (no host matched) is the first S3 one.
        upstreams.sort_by_key(|u| !matches!(u.model, Model::S3(_)));
        let mut sigv4_config = sigv4::Config::new(config.region.clone());
        sigv4_config.services = upstreams
            .iter()
            .map(|u| match &u.model {
                Model::S3(_) => sigv4::ServiceRules::s3(),
                Model::Routes(t) => sigv4::ServiceRules::other(t.service()),
            })
            .collect();
        let verifier = sigv4::Verifier::new(sigv4_config, StoreKeys(Arc::clone(&store)));
        let limits = &config.limits;
        let forwarder = forward::Forwarder::new(
            Duration::from_secs(limits.upstream_connect_timeout_secs),
            Duration::from_secs(limits.upstream_response_timeout_secs),
            Duration::from_secs(limits.upstream_pool_idle_secs),
        )
        .map_err(|source| StartError::Io {
            what: "the upstream client".into(),
            source,
        })?;
        Ok(Arc::new(Gateway {
            config,
            store,
            verifier,
            upstreams,
            forwarder,
            ids: respond::RequestIds::new(),
            connections: ConnectionCount::default(),
        }))
    }

    /// The snapshot in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.store.snapshot()
    }

    /// The live store (for reloads and metrics).
    pub fn store(&self) -> &Arc<LiveStore> {
        &self.store
    }
}

/// A running gateway: its bound addresses and the switch that stops it.
pub struct Running {
    /// The plain HTTP address, if listening.
    pub http: Option<SocketAddr>,
    /// The HTTPS address, if listening.
    pub https: Option<SocketAddr>,
    /// The admin address, if listening.
    pub admin: Option<SocketAddr>,
    /// The gateway.
    pub gateway: Arc<Gateway>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _watch: Option<crate::store::WatchGuard>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and waits for the listeners to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Binds the listeners and starts serving; returns once everything is accepting.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let tls = match &config.tls {
        Some((cert, key)) if config.https.is_some() => Some(tokio_rustls::TlsAcceptor::from(
            tls::server_config(cert, key)?,
        )),
        _ => None,
    };
    let http_addr = config.http;
    let https_addr = config.https;
    let admin_addr = config.admin;
    let gateway = Gateway::new(config).await?;
    let watch_guard = match gateway.store.watch() {
        Ok(guard) => Some(guard),
        Err(e) => {
            tracing::warn!("cannot watch the policy store, changes need a restart: {e}");
            None
        }
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Io {
                what: format!("cannot listen on {addr}"),
                source,
            })
    };
    let mut bound_http = None;
    if let Some(addr) = http_addr {
        let listener = bind(addr).await?;
        bound_http = listener.local_addr().ok();
        tasks.push(tokio::spawn(listener::accept_loop(
            Arc::clone(&gateway),
            listener,
            None,
            shutdown_rx.clone(),
        )));
    }
    let mut bound_https = None;
    if let (Some(addr), Some(acceptor)) = (https_addr, tls) {
        let listener = bind(addr).await?;
        bound_https = listener.local_addr().ok();
        tasks.push(tokio::spawn(listener::accept_loop(
            Arc::clone(&gateway),
            listener,
            Some(acceptor),
            shutdown_rx.clone(),
        )));
    }
    let mut bound_admin = None;
    if let Some(addr) = admin_addr {
        let listener = bind(addr).await?;
        bound_admin = listener.local_addr().ok();
        tasks.push(tokio::spawn(admin::serve(
            Arc::clone(&gateway),
            listener,
            shutdown_rx.clone(),
        )));
    }
    Ok(Running {
        http: bound_http,
        https: bound_https,
        admin: bound_admin,
        gateway,
        shutdown,
        tasks,
        _watch: watch_guard,
    })
}
