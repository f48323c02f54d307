//! The gateway: listeners, the request pipeline, forwarding and rejections.
//!
//! Every request goes through the phases of [`pipeline`], in order: authenticate, route, build
//! the context, evaluate, then forward or reject, then record.

pub mod admin;
mod delete_objects;
mod exchange;
pub mod forward;
mod front;
pub mod listener;
mod model;
mod pipeline;
mod plain;
mod pool;
pub use pool::PoolLoad;
mod proxied;
pub mod ratelimit;
mod record;
pub mod respond;
mod s3;
mod service;
mod sts;
pub mod tls;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{Config, Target, UpstreamKind};
use crate::route::s3::S3Model;
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
    /// The STS cannot start (its token keys are unusable).
    #[error("sts: {0}")]
    Sts(String),
    /// A listener or the store's folder cannot be used.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: String,
        /// Why.
        source: std::io::Error,
    },
    /// The decision log cannot be opened.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// Whom an access key belongs to, as the verifier hands it to the pipeline.
#[derive(Debug, Clone)]
pub struct KeyPrincipal {
    /// The key's account.
    pub account: String,
    /// The user or the root user (for a session: whoever the session is).
    pub owner: KeyOwner,
    /// For temporary credentials: the session their token carries.
    pub session: Option<Arc<crate::sts::Session>>,
}

/// The verifier's view of the store: long-term keys of the snapshot in force, and temporary
/// keys through their session tokens.
pub struct StoreKeys {
    store: Arc<LiveStore>,
    sts: Option<Arc<crate::sts::Sts>>,
}

impl sigv4::CredentialStore for StoreKeys {
    type Principal = KeyPrincipal;

    fn lookup_session(
        &self,
        access_key_id: &str,
        token: &str,
    ) -> Result<sigv4::Credential<KeyPrincipal>, sigv4::TokenCheck> {
        let sts = self.sts.as_ref().ok_or(sigv4::TokenCheck::Invalid)?;
        let session = sts.open_session(token, now_epoch()).map_err(|e| match e {
            crate::sts::TokenError::Expired => sigv4::TokenCheck::Expired,
            crate::sts::TokenError::Invalid => sigv4::TokenCheck::Invalid,
        })?;
        // A token is good only with the key it was issued with.
        if session.claims.access_key_id != access_key_id {
            return Err(sigv4::TokenCheck::Invalid);
        }
        let owner = match session.identity_arn() {
            Some(arn) => KeyOwner::User(Arc::from(arn)),
            None => KeyOwner::Root,
        };
        Ok(sigv4::Credential {
            secret: sigv4::SecretKey::new(session.claims.secret_access_key.as_bytes()),
            status: sigv4::KeyStatus::Active,
            principal: KeyPrincipal {
                account: session.claims.account.clone(),
                owner,
                session: Some(session),
            },
        })
    }

    fn check_session_token(
        &self,
        _access_key_id: &str,
        principal: &KeyPrincipal,
        token: Option<&str>,
    ) -> sigv4::TokenCheck {
        // Temporary keys were found through their token; long-term keys carry none.
        match (&principal.session, token) {
            (Some(_), Some(_)) | (None, None) => sigv4::TokenCheck::Valid,
            _ => sigv4::TokenCheck::Invalid,
        }
    }

    fn lookup(&self, access_key_id: &str) -> Option<sigv4::Credential<KeyPrincipal>> {
        let snapshot = self.store.snapshot();
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
                session: None,
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

/// One configured upstream, ready to serve.
pub(crate) struct UpstreamRuntime {
    pub(crate) name: String,
    pub(crate) model: Box<dyn model::Model>,
    pub(crate) destination: Destination,
    pub(crate) hosts: Vec<String>,
    pub(crate) owner: Option<String>,
    pub(crate) dry_run: bool,
    pub(crate) passthrough: bool,
    pub(crate) signer: Option<forward::UpstreamSigner>,
}

/// The gateway's shared state.
pub struct Gateway {
    /// The configuration it runs with.
    pub config: Config,
    pub(crate) store: Arc<LiveStore>,
    pub(crate) verifier: sigv4::Verifier<StoreKeys>,
    pub(crate) upstreams: Vec<UpstreamRuntime>,
    /// The services the gateway answers itself, asked in order whether a request is theirs.
    pub(crate) services: Vec<Box<dyn service::Service>>,
    /// One upstream client per worker thread, so that a request's upstream connection lives on
    /// the thread that serves it.
    pub(crate) forwarders: Vec<forward::Forwarder>,
    pub(crate) ids: respond::RequestIds,
    /// Request rates per caller, when `[limits] principal_rate` is set.
    pub(crate) rates: Option<ratelimit::RateLimiter>,
    /// Open client connections.
    pub connections: ConnectionCount,
    /// Request counters and latency histograms.
    pub metrics: crate::metrics::Metrics,
    pub(crate) decisions: crate::audit::DecisionLog,
    /// The HTTPS listener's certificate, when there is one.
    pub tls: Option<Arc<tls::ReloadingTls>>,
}

impl Gateway {
    /// Loads the store and opens the local object stores.
    pub async fn new(config: Config) -> Result<Arc<Gateway>, StartError> {
        let tls = match &config.tls {
            Some((cert, key)) if config.https.is_some() => Some(tls::ReloadingTls::new(cert, key)?),
            _ => None,
        };
        let store = LiveStore::open_validated(&config.policies, config.catalog())?;
        let mut upstreams = Vec::new();
        for u in &config.upstreams {
            let model = match &u.kind {
                UpstreamKind::S3 { keys } => {
                    Box::new(S3Model::new(config.s3_domain.clone()).with_keys(*keys))
                        as Box<dyn model::Model>
                }
                UpstreamKind::Routes(table) => Box::new(table.clone()),
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
            if u.passthrough {
                tracing::warn!(
                    upstream = %u.name,
                    "passthrough: requests to this upstream are neither authenticated nor authorised \
                     (a measuring mode, never for real traffic)"
                );
            }
            upstreams.push(UpstreamRuntime {
                name: u.name.clone(),
                model,
                destination,
                hosts: u.hosts.clone(),
                owner: u.owner.clone(),
                dry_run: u.dry_run,
                passthrough: u.passthrough,
                signer: u.signing.as_ref().map(forward::UpstreamSigner::new),
            });
        }
        // The default upstream (no host matched) is the first S3 one.
        upstreams.sort_by_key(|u| u.model.service() != "s3");
        let mut sigv4_config = sigv4::Config::new(config.region.clone());
        sigv4_config.services = upstreams.iter().map(|u| u.model.signing_rules()).collect();
        let sts = if config.sts.enabled {
            Some(Arc::new(crate::sts::Sts::new(token_keys(&config)?)))
        } else {
            None
        };
        // Every service of the gateway's is signed for under its own name: a request to a
        // disabled one is still authenticated, then told the service is off.
        let services: Vec<Box<dyn service::Service>> =
            vec![Box::new(sts::StsService { sts: sts.clone() })];
        for service in &services {
            sigv4_config
                .services
                .push(sigv4::ServiceRules::other(service.name()));
        }
        let verifier = sigv4::Verifier::new(
            sigv4_config,
            StoreKeys {
                store: Arc::clone(&store),
                sts: sts.clone(),
            },
        );
        let limits = &config.limits;
        let forwarders = (0..config.workers.max(1))
            .map(|_| {
                forward::Forwarder::new(
                    Duration::from_secs(limits.upstream_connect_timeout_secs),
                    Duration::from_secs(limits.upstream_response_timeout_secs),
                    Duration::from_secs(limits.upstream_pool_idle_secs),
                    limits.upstream_connections_per_worker,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| StartError::Io {
                what: "the upstream client".into(),
                source,
            })?;
        let decisions = crate::audit::DecisionLog::open(&config.log)?;
        let rates = ratelimit::RateLimiter::new(
            limits.principal_rate,
            match limits.principal_burst {
                b if b > 0.0 => b,
                _ => limits.principal_rate,
            },
        );
        Ok(Arc::new(Gateway {
            config,
            store,
            verifier,
            upstreams,
            services,
            forwarders,
            ids: respond::RequestIds::new(),
            rates,
            connections: ConnectionCount::default(),
            metrics: crate::metrics::Metrics::new(),
            decisions,
            tls,
        }))
    }

    /// The upstream client of worker `worker`.
    pub(crate) fn forwarder(&self, worker: usize) -> &forward::Forwarder {
        &self.forwarders[worker % self.forwarders.len()]
    }

    /// The snapshot in force.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.store.snapshot()
    }

    /// The live store (for reloads and metrics).
    pub fn store(&self) -> &Arc<LiveStore> {
        &self.store
    }

    /// The decision log.
    pub fn decision_log(&self) -> &crate::audit::DecisionLog {
        &self.decisions
    }

    /// The metrics in Prometheus' text format.
    pub fn render_metrics(&self) -> String {
        use std::sync::atomic::Ordering;
        let stats = &self.store.stats;
        let upstream =
            self.forwarders
                .iter()
                .map(|f| f.load())
                .fold(PoolLoad::default(), |sum, l| PoolLoad {
                    open: sum.open + l.open,
                    waiting: sum.waiting + l.waiting,
                    waits: sum.waits + l.waits,
                });
        self.metrics.render(&crate::metrics::Gauges {
            reloads_succeeded: stats.succeeded.load(Ordering::Relaxed),
            reloads_failed: stats.failed.load(Ordering::Relaxed),
            generation: self.store.generation(),
            load_micros: stats.last_load_micros.load(Ordering::Relaxed),
            open_connections: self.connections.get(),
            upstream_connections: upstream.open,
            upstream_waiting: upstream.waiting,
            upstream_waits: upstream.waits,
            log_written: self.decisions.written(),
            log_dropped: self.decisions.dropped(),
            tls_reloads: self.tls.as_ref().map(|t| {
                (
                    t.stats.succeeded.load(Ordering::Relaxed),
                    t.stats.failed.load(Ordering::Relaxed),
                )
            }),
        })
    }
}

/// The session token keys: `IAMGATE_STS_TOKEN_KEYS` (comma-separated) when set, else the
/// configuration's, else one random key for this process alone.
fn token_keys(config: &Config) -> Result<crate::sts::TokenKeys, StartError> {
    let from_env: Vec<String> = std::env::var("IAMGATE_STS_TOKEN_KEYS")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let (keys, source) = if !from_env.is_empty() {
        (from_env, "IAMGATE_STS_TOKEN_KEYS")
    } else {
        (config.sts.token_keys.clone(), "sts.token_keys")
    };
    if keys.is_empty() {
        tracing::warn!(
            "no session token keys configured (sts.token_keys or IAMGATE_STS_TOKEN_KEYS): using a random key; \
             session tokens end with this process and other replicas refuse them"
        );
        return crate::sts::TokenKeys::generate().map_err(|e| StartError::Sts(e.to_string()));
    }
    crate::sts::TokenKeys::from_base64(&keys).map_err(|e| StartError::Sts(format!("{source}: {e}")))
}

/// Now, Unix seconds.
pub(crate) fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
    /// The worker threads; dropped with the rest, which stops them.
    workers: Arc<workers::Workers>,
    _watch: Option<crate::store::WatchGuard>,
    _tls_watch: Option<tls::TlsWatchGuard>,
}

/// How a [`Running::stop`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished within the grace period.
    Drained,
    /// The grace period ran out with this many connections still open.
    DeadlinePassed {
        /// Connections still open.
        open: usize,
    },
}

impl Running {
    /// Tasks alive on the worker threads: one per client connection and one per upstream
    /// connection (and whatever those spawn); for measuring leaks.
    pub fn worker_tasks(&self) -> usize {
        self.workers.alive_tasks()
    }

    /// Stops accepting (the listeners close at once, so new connections are refused), lets
    /// requests in flight finish for up to `[limits] shutdown_grace_secs`, and flushes the
    /// decision log. Idle keep-alive connections close; busy ones close after their request.
    /// What is still open when the grace period ends is abandoned (the process exits).
    pub async fn stop(self) -> Stopped {
        let grace = self.gateway.config.limits.shutdown_grace();
        self.stop_within(grace).await
    }

    /// [`Running::stop`] with an explicit grace period.
    pub async fn stop_within(self, grace: Duration) -> Stopped {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let deadline = tokio::time::Instant::now() + grace;
        let mut outcome = Stopped::Drained;
        loop {
            let open = self.gateway.connections.get();
            if open == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    open,
                    grace_secs = grace.as_secs_f64(),
                    "shutdown grace period over: abandoning the connections still open"
                );
                outcome = Stopped::DeadlinePassed { open };
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A sink that does not drain (a full pipe nobody reads) must not hold the exit up.
        if tokio::time::timeout(Duration::from_secs(5), self.gateway.decisions.flush())
            .await
            .is_err()
        {
            tracing::warn!("the decision log could not be flushed within 5 s");
        }
        outcome
    }
}

/// Binds the listeners and starts serving; returns once everything is accepting.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let http_addr = config.http;
    let https_addr = config.https;
    let admin_addr = config.admin;
    let gateway = Gateway::new(config).await?;
    let tls = gateway
        .tls
        .as_ref()
        .map(|t| tokio_rustls::TlsAcceptor::from(t.config()));
    let tls_watch = match &gateway.tls {
        None => None,
        Some(t) => match t.watch() {
            Ok(guard) => Some(guard),
            Err(e) => {
                tracing::warn!("cannot watch the TLS certificate, changes need a restart: {e}");
                None
            }
        },
    };
    let watch_guard = match gateway.store.watch() {
        Ok(guard) => Some(guard),
        Err(e) => {
            tracing::warn!("cannot watch the policy store, changes need a restart: {e}");
            None
        }
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let workers = Arc::new(
        workers::Workers::start(gateway.config.workers).map_err(|source| StartError::Io {
            what: "cannot start the worker threads".into(),
            source,
        })?,
    );
    let mut tasks = Vec::new();
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Io {
                what: format!("cannot listen on {addr}"),
                source,
            })
    };
    // The plain and the TLS listener: the same loop, with or without an acceptor.
    let mut bound = [None, None];
    let listeners = [
        http_addr.map(|addr| (addr, None)),
        https_addr
            .zip(tls)
            .map(|(addr, acceptor)| (addr, Some(acceptor))),
    ];
    for (slot, listener) in bound.iter_mut().zip(listeners) {
        let Some((addr, acceptor)) = listener else {
            continue;
        };
        let listener = bind(addr).await?;
        *slot = listener.local_addr().ok();
        tasks.push(tokio::spawn(listener::accept_loop(
            Arc::clone(&gateway),
            listener,
            acceptor,
            Arc::clone(&workers),
            shutdown_rx.clone(),
        )));
    }
    let [bound_http, bound_https] = bound;
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
        workers,
        _watch: watch_guard,
        _tls_watch: tls_watch,
    })
}
