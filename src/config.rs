//! The configuration file (TOML). Relative paths resolve against the file's own folder.
//!
//! ```toml
//! region = "us-east-1"
//! policies = "policies"
//!
//! [listen]
//! http = "127.0.0.1:8080"
//! https = "127.0.0.1:8443"
//! admin = "127.0.0.1:8081"
//!
//! [tls]
//! cert = "certs/dev.crt"
//! key = "certs/dev.key"
//!
//! [upstreams.s3]
//! kind = "s3"
//! local = "data"          # the built-in object store, or: url = "http://127.0.0.1:9000"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::route::table::{RouteTable, RouteTableConfig};

/// A configuration that cannot be used: which key, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or does not fit the schema (toml names the key and position).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message, with the key, line and column.
        message: String,
    },
    /// A value that parses but cannot be used.
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_region")]
    region: String,
    #[serde(default = "default_policies")]
    policies: PathBuf,
    #[serde(default)]
    listen: RawListen,
    #[serde(default)]
    log: RawLog,
    tls: Option<RawTls>,
    #[serde(default)]
    s3: RawS3,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    sts: RawSts,
    #[serde(default)]
    upstreams: BTreeMap<String, RawUpstream>,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_policies() -> PathBuf {
    "policies".into()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListen {
    http: Option<String>,
    https: Option<String>,
    admin: Option<String>,
    workers: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    #[serde(default = "default_domain")]
    domain: String,
}

impl Default for RawS3 {
    fn default() -> Self {
        RawS3 {
            domain: default_domain(),
        }
    }
}

fn default_domain() -> String {
    "s3.localhost".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSts {
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    token_keys: Vec<String>,
}

impl Default for RawSts {
    fn default() -> Self {
        RawSts {
            enabled: true,
            hosts: Vec::new(),
            path: None,
            token_keys: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// The built-in STS (`[sts]`).
#[derive(Clone, PartialEq, Eq)]
pub struct StsConfig {
    /// Whether the gateway answers STS calls at all.
    pub enabled: bool,
    /// Host names whose every request goes to the STS (besides requests signed for `sts`).
    pub hosts: Vec<String>,
    /// A path whose every request goes to the STS, on any host (`/sts`): clients then use
    /// `--endpoint-url http://gateway/sts`.
    pub path: Option<String>,
    /// Keys that seal session tokens (base64 of 32 bytes each; the first seals, all open).
    /// `IAMGATE_STS_TOKEN_KEYS` (comma-separated) replaces them when set.
    pub token_keys: Vec<String>,
}

impl std::fmt::Debug for StsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a key.
        f.debug_struct("StsConfig")
            .field("enabled", &self.enabled)
            .field("hosts", &self.hosts)
            .field("path", &self.path)
            .field("token_keys", &self.token_keys.len())
            .finish()
    }
}

/// Limits that protect the gateway; each has a safe default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request head (request line and headers), in bytes.
    pub max_header_bytes: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Longest request target, in bytes.
    pub max_uri_bytes: usize,
    /// Seconds a client has to send its request head.
    pub header_read_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle.
    pub idle_timeout_secs: u64,
    /// Most client connections open at once.
    pub max_connections: usize,
    /// Largest body the gateway reads before forwarding, to authorise it: DeleteObjects' key
    /// list, and bodies of services that sign without a payload hash. In bytes.
    pub inspect_body_max_bytes: usize,
    /// Most bytes of a refused request's body read and discarded, so that the client sees the
    /// refusal rather than a reset connection.
    pub drain_max_bytes: usize,
    /// Seconds to connect to an upstream.
    pub upstream_connect_timeout_secs: u64,
    /// Seconds for an upstream to start answering.
    pub upstream_response_timeout_secs: u64,
    /// Seconds that requests in flight get to finish after SIGTERM/SIGINT, before the process
    /// exits regardless.
    pub shutdown_grace_secs: u64,
    /// Seconds an idle pooled connection to an upstream is kept for reuse.
    pub upstream_pool_idle_secs: u64,
    /// Most connections each worker opens to one upstream origin, idle or in use (0: no
    /// limit). A request beyond waits for the first to come free, within
    /// `upstream_response_timeout_secs`.
    pub upstream_connections_per_worker: usize,
    /// Seconds one request may take in all, from its head to the last byte of the response
    /// (0: no limit). Past it, a request still waiting for its response head is answered 504;
    /// a response still streaming is cut.
    pub request_timeout_secs: u64,
    /// Largest request body forwarded to an upstream, in bytes (counted as it streams; a
    /// larger `Content-Length` is refused before anything is forwarded): 413, S3's
    /// `EntityTooLarge`. The default is S3's limit for one PUT, 5 GiB.
    pub max_body_bytes: u64,
    /// `max_body_bytes` for single upstreams, by name: `{ orders = 1048576 }`.
    pub upstream_max_body_bytes: std::collections::HashMap<String, u64>,
    /// Requests a second each caller may make (by principal ARN; anonymous callers by source
    /// address); 0: no limit. Past it: S3's 503 `SlowDown`, or 400 `ThrottlingException`.
    pub principal_rate: f64,
    /// The burst a caller may make at once (0: `principal_rate`, at least 1).
    pub principal_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_uri_bytes: 16 * 1024,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 10_000,
            inspect_body_max_bytes: 1024 * 1024,
            drain_max_bytes: 64 * 1024 * 1024,
            upstream_connect_timeout_secs: 5,
            upstream_response_timeout_secs: 60,
            shutdown_grace_secs: 30,
            upstream_pool_idle_secs: 90,
            upstream_connections_per_worker: 64,
            request_timeout_secs: 3600,
            max_body_bytes: 5 * 1024 * 1024 * 1024,
            upstream_max_body_bytes: std::collections::HashMap::new(),
            principal_rate: 0.0,
            principal_burst: 0.0,
        }
    }
}

impl Limits {
    /// The header read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }

    /// How long requests in flight may take to finish at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
    /// The idle timeout of a keep-alive connection.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// The total request timeout, if there is one.
    pub fn request_timeout(&self) -> Option<Duration> {
        (self.request_timeout_secs > 0).then(|| Duration::from_secs(self.request_timeout_secs))
    }

    /// The largest request body the upstream `name` accepts through the gateway.
    pub fn max_body_bytes_for(&self, name: &str) -> u64 {
        self.upstream_max_body_bytes
            .get(name)
            .copied()
            .unwrap_or(self.max_body_bytes)
    }
}

/// `[log]`: where the decision log goes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    /// `"stdout"`, `"off"`, or a file path.
    #[serde(default = "default_decisions")]
    decisions: String,
    /// Records waiting for the sink; beyond that, records are dropped and counted.
    #[serde(default = "default_log_queue")]
    queue: usize,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            decisions: default_decisions(),
            queue: default_log_queue(),
        }
    }
}

fn default_decisions() -> String {
    "stdout".into()
}

fn default_log_queue() -> usize {
    8192
}

/// Where decision log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionSink {
    /// Nowhere: no decision log.
    Off,
    /// The process's standard output.
    Stdout,
    /// A file, appended to (created if missing).
    File(PathBuf),
}

/// The decision log's configuration (`[log]`).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Where lines go.
    pub decisions: DecisionSink,
    /// Most records waiting for the sink; more are dropped and counted.
    pub queue: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            decisions: DecisionSink::Stdout,
            queue: default_log_queue(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    /// `s3` (the built-in S3 model) or `routes` (a route table).
    kind: String,
    /// A folder: the built-in local object store (S3 only).
    local: Option<PathBuf>,
    /// An HTTP or HTTPS base URL.
    url: Option<String>,
    /// Host names that select this upstream (besides being the default).
    #[serde(default)]
    hosts: Vec<String>,
    /// The account that owns resources without an entry in the store (default: the first account).
    owner: Option<String>,
    /// The signing service name and action prefix (routes).
    service: Option<String>,
    /// Evaluate and log, but forward regardless.
    #[serde(default)]
    dry_run: bool,
    /// No authentication, no evaluation: the proxy core alone (for measuring what checking costs).
    #[serde(default)]
    passthrough: bool,
    /// Credentials to sign forwarded requests with, for upstreams that check signatures.
    sign: Option<RawSigning>,
    /// How the upstream treats object keys (s3): `literal` or `strict`.
    keys: Option<crate::route::s3::KeyMode>,
    /// The route table (routes): read entry by entry, so that an error names the entry.
    actions: Option<Vec<toml::Value>>,
    routes: Option<Vec<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    access_key_id: Option<String>,
    access_key_id_env: Option<String>,
    secret_access_key: Option<String>,
    secret_access_key_env: Option<String>,
    region: Option<String>,
    service: Option<String>,
}

/// The credentials the gateway signs forwarded requests with (the upstream's own, never a
/// client's).
#[derive(Clone)]
pub struct UpstreamSigning {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The region to sign for.
    pub region: String,
    /// The service to sign for.
    pub service: String,
}

impl std::fmt::Debug for UpstreamSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSigning")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// Where an upstream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The built-in object store in this folder.
    Local(PathBuf),
    /// An HTTP(S) service at this base URL.
    Url(http::Uri),
}

/// How requests to an upstream are understood.
#[derive(Debug, Clone, PartialEq)]
pub enum UpstreamKind {
    /// The built-in S3 model.
    S3 {
        /// How the upstream treats object keys: `literal` for S3 itself, MinIO, Ceph and the
        /// built-in store (the default for `local`), `strict` for anything that may normalise
        /// paths (the default for `url`).
        keys: crate::route::s3::KeyMode,
    },
    /// A route table, compiled (and so checked) when the configuration is read.
    Routes(RouteTable),
}

/// One upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Its name in the configuration.
    pub name: String,
    /// How requests are understood.
    pub kind: UpstreamKind,
    /// Where they go.
    pub target: Target,
    /// Host names that select it.
    pub hosts: Vec<String>,
    /// The account owning resources the store says nothing about.
    pub owner: Option<String>,
    /// Decide and log, but forward regardless.
    pub dry_run: bool,
    /// Forward without authenticating or deciding anything: the proxy core alone, to measure
    /// what checking costs. Never for real traffic; `serve` warns when it is on.
    pub passthrough: bool,
    /// Re-sign forwarded requests with these credentials.
    pub signing: Option<UpstreamSigning>,
}

/// The configuration, checked and with paths resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (for messages).
    pub source: PathBuf,
    /// The gateway's region.
    pub region: String,
    /// The policy store folder.
    pub policies: PathBuf,
    /// Plain HTTP listener.
    pub http: Option<SocketAddr>,
    /// HTTPS listener.
    pub https: Option<SocketAddr>,
    /// Admin listener (metrics, health).
    pub admin: Option<SocketAddr>,
    /// Threads serving client connections, each with a runtime of its own.
    pub workers: usize,
    /// The decision log.
    pub log: LogConfig,
    /// Certificate and key files for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The domain of virtual-hosted-style S3 requests.
    pub s3_domain: String,
    /// Limits.
    pub limits: Limits,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The built-in STS.
    pub sts: StsConfig,
    /// Upstreams, in name order; the first S3 one is the default.
    pub upstreams: Vec<Upstream>,
}

impl Config {
    /// What the policy validator knows: AWS's reference and the actions of this
    /// configuration's route tables.
    pub fn catalog(&self) -> crate::analyzer::Catalog {
        let mut catalog = crate::analyzer::Catalog::aws();
        for upstream in &self.upstreams {
            if let UpstreamKind::Routes(table) = &upstream.kind {
                catalog.add_service(table.service(), table.actions().map(str::to_owned));
            }
        }
        catalog
    }

    /// Reads and checks the configuration at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, path, base)
    }

    /// Parses configuration text; relative paths resolve against `base`.
    pub fn parse(text: &str, source: &Path, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: source.to_owned(),
            message: e.to_string(),
        })?;
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: source.to_owned(),
            key: key.to_owned(),
            message,
        };
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_owned()
            } else {
                base.join(p)
            }
        };
        let addr = |key: &str, value: &Option<String>| -> Result<Option<SocketAddr>, ConfigError> {
            value
                .as_deref()
                .map(|v| {
                    v.parse::<SocketAddr>().map_err(|_| {
                        invalid(
                            key,
                            format!("'{v}' is not an address such as 127.0.0.1:8080"),
                        )
                    })
                })
                .transpose()
        };
        let http = addr("listen.http", &raw.listen.http)?;
        let https = addr("listen.https", &raw.listen.https)?;
        let admin = addr("listen.admin", &raw.listen.admin)?;
        let workers = match raw.listen.workers {
            Some(0) => return Err(invalid("listen.workers", "must be at least 1".into())),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if http.is_none() && https.is_none() {
            return Err(invalid(
                "listen",
                "set listen.http, listen.https or both".into(),
            ));
        }
        let tls = raw
            .tls
            .as_ref()
            .map(|t| (resolve(&t.cert), resolve(&t.key)));
        if https.is_some() && tls.is_none() {
            return Err(invalid(
                "tls",
                "listen.https needs [tls] cert and key".into(),
            ));
        }
        if raw.region.is_empty() {
            return Err(invalid("region", "must not be empty".into()));
        }
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "trusted_proxies",
                            format!("'{p}' is not an IP address or CIDR range"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut upstreams = Vec::new();
        for (name, mut u) in raw.upstreams {
            let key = |k: &str| format!("upstreams.{name}.{k}");
            let target = match (&u.local, &u.url) {
                (Some(dir), None) => Target::Local(resolve(dir)),
                (None, Some(url)) => {
                    let uri: http::Uri = url
                        .parse()
                        .map_err(|_| invalid(&key("url"), format!("'{url}' is not a URL")))?;
                    if !matches!(uri.scheme_str(), Some("http") | Some("https"))
                        || uri.authority().is_none()
                    {
                        return Err(invalid(
                            &key("url"),
                            format!("'{url}' must be an http:// or https:// URL with a host"),
                        ));
                    }
                    Target::Url(uri)
                }
                _ => {
                    return Err(invalid(
                        &format!("upstreams.{name}"),
                        "set exactly one of `local` (a folder) and `url`".into(),
                    ))
                }
            };
            let kind = match u.kind.as_str() {
                "s3" => {
                    for (table, given) in [("actions", &u.actions), ("routes", &u.routes)] {
                        if given.is_some() {
                            return Err(invalid(
                                &key(table),
                                "only a routes upstream has a route table".into(),
                            ));
                        }
                    }
                    UpstreamKind::S3 {
                        keys: u.keys.unwrap_or(match target {
                            Target::Local(_) => crate::route::s3::KeyMode::Literal,
                            Target::Url(_) => crate::route::s3::KeyMode::Strict,
                        }),
                    }
                }
                "routes" => {
                    if u.keys.is_some() {
                        return Err(invalid(
                            &key("keys"),
                            "only an s3 upstream has object keys".into(),
                        ));
                    }
                    if matches!(target, Target::Local(_)) {
                        return Err(invalid(
                            &key("local"),
                            "only an s3 upstream can be local".into(),
                        ));
                    }
                    let service = u.service.clone().ok_or_else(|| {
                        invalid(
                            &key("service"),
                            "a routes upstream needs its service name".into(),
                        )
                    })?;
                    let table = RouteTableConfig {
                        service,
                        actions: entries(u.actions.take().unwrap_or_default(), "actions")
                            .map_err(|(k, m)| invalid(&key(&k), m))?,
                        routes: entries(u.routes.take().unwrap_or_default(), "routes")
                            .map_err(|(k, m)| invalid(&key(&k), m))?,
                    };
                    let table = RouteTable::compile(&table).map_err(|e| {
                        let message = match e.route() {
                            Some(route) => format!("{route}: {}", e.problem()),
                            None => e.problem(),
                        };
                        invalid(&key(&e.key()), message)
                    })?;
                    UpstreamKind::Routes(table)
                }
                other => {
                    return Err(invalid(
                        &key("kind"),
                        format!("'{other}' is not a kind (expected \"s3\" or \"routes\")"),
                    ))
                }
            };
            if let Some(owner) = &u.owner {
                if !crate::policy::is_account_id(owner) {
                    return Err(invalid(
                        &key("owner"),
                        format!("'{owner}' is not a 12-digit account id"),
                    ));
                }
            }
            let signing = match &u.sign {
                None => None,
                Some(sign) => {
                    if matches!(target, Target::Local(_)) {
                        return Err(invalid(
                            &key("sign"),
                            "a local upstream takes no signing credentials".into(),
                        ));
                    }
                    let value = |plain: &Option<String>, env: &Option<String>, name: &str| match (
                        plain, env,
                    ) {
                        (Some(v), None) => Ok(v.clone()),
                        (None, Some(var)) => std::env::var(var).map_err(|_| {
                            invalid(
                                &key(&format!("sign.{name}_env")),
                                format!("the environment variable {var} is not set"),
                            )
                        }),
                        _ => Err(invalid(
                            &key(&format!("sign.{name}")),
                            format!("set exactly one of `{name}` and `{name}_env`"),
                        )),
                    };
                    let default_service = match &kind {
                        UpstreamKind::S3 { .. } => "s3".to_owned(),
                        UpstreamKind::Routes(table) => table.service().to_owned(),
                    };
                    Some(UpstreamSigning {
                        access_key_id: value(
                            &sign.access_key_id,
                            &sign.access_key_id_env,
                            "access_key_id",
                        )?,
                        secret_access_key: value(
                            &sign.secret_access_key,
                            &sign.secret_access_key_env,
                            "secret_access_key",
                        )?,
                        region: sign.region.clone().unwrap_or_else(|| raw.region.clone()),
                        service: sign.service.clone().unwrap_or(default_service),
                    })
                }
            };
            upstreams.push(Upstream {
                signing,
                name,
                kind,
                target,
                hosts: u.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
                owner: u.owner,
                dry_run: u.dry_run,
                passthrough: u.passthrough,
            });
        }
        let decisions = match raw.log.decisions.as_str() {
            "off" => DecisionSink::Off,
            "stdout" => DecisionSink::Stdout,
            "" => {
                return Err(invalid(
                    "log.decisions",
                    "expected \"stdout\", \"off\" or a file path".into(),
                ))
            }
            path => DecisionSink::File(resolve(Path::new(path))),
        };
        if raw.log.queue == 0 {
            return Err(invalid("log.queue", "must be at least 1".into()));
        }
        let log = LogConfig {
            decisions,
            queue: raw.log.queue,
        };
        if upstreams.is_empty() {
            return Err(invalid(
                "upstreams",
                "configure at least one upstream".into(),
            ));
        }
        Ok(Config {
            source: source.to_owned(),
            region: raw.region,
            policies: resolve(&raw.policies),
            http,
            https,
            admin,
            workers,
            log,
            tls,
            s3_domain: raw.s3.domain.to_ascii_lowercase(),
            limits: raw.limits,
            trusted_proxies,
            sts: StsConfig {
                enabled: raw.sts.enabled,
                hosts: raw
                    .sts
                    .hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                path: raw.sts.path.filter(|p| p != "/"),
                token_keys: raw.sts.token_keys,
            },
            upstreams,
        })
    }
}

/// Reads the entries of a list of tables (`routes`), each into a `T`; an error says which
/// entry (`routes[3]`) and, in toml's words, which of its keys and what is wrong.
fn entries<T: serde::de::DeserializeOwned>(
    values: Vec<toml::Value>,
    list: &str,
) -> Result<Vec<T>, (String, String)> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            value.try_into().map_err(|e: toml::de::Error| {
                // toml puts the key of a wrongly typed value on a line of its own.
                let message = e.to_string().trim_end().replace('\n', " ");
                (format!("{list}[{i}]"), message)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(
            text,
            Path::new("/etc/iamgate/iamgate.toml"),
            Path::new("/etc/iamgate"),
        )
    }

    const MINIMAL: &str = r#"
        [listen]
        http = "127.0.0.1:8080"
        [upstreams.s3]
        kind = "s3"
        local = "data"
    "#;

    #[test]
    fn defaults_and_relative_paths() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.region, "us-east-1");
        assert_eq!(c.policies, PathBuf::from("/etc/iamgate/policies"));
        assert_eq!(
            c.upstreams[0].target,
            Target::Local("/etc/iamgate/data".into())
        );
        assert_eq!(c.s3_domain, "s3.localhost");
        assert_eq!(
            c.workers,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }

    #[test]
    fn workers() {
        let with =
            |n: &str| MINIMAL.replace("[upstreams.s3]", &format!("workers = {n}\n[upstreams.s3]"));
        assert_eq!(parse(&with("3")).unwrap().workers, 3);
        let e = parse(&with("0")).unwrap_err();
        assert!(e.to_string().contains("listen.workers"), "{e}");
        assert!(parse(&with("-1")).is_err());
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(&MINIMAL.replace("127.0.0.1:8080", "localhost")).unwrap_err();
        assert!(e.to_string().contains("key `listen.http`"), "{e}");
        let e = parse(&format!("{MINIMAL}\nbogus = 1")).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse(&MINIMAL.replace("kind = \"s3\"", "kind = \"ftp\"")).unwrap_err();
        assert!(e.to_string().contains("upstreams.s3.kind"), "{e}");
        let e = parse(&MINIMAL.replace("local = \"data\"", "url = \"ftp://x\"")).unwrap_err();
        assert!(e.to_string().contains("upstreams.s3.url"), "{e}");
        let e = parse(&format!("{MINIMAL}\n[listen2]\n")).unwrap_err();
        assert!(e.to_string().contains("listen2"), "{e}");
        let e = parse(&MINIMAL.replace("http = ", "https = ")).unwrap_err();
        assert!(e.to_string().contains("key `tls`"), "{e}");
        let e = parse(&format!("trusted_proxies = [\"10.0.0.0/99\"]\n{MINIMAL}")).unwrap_err();
        assert!(e.to_string().contains("trusted_proxies"), "{e}");
        let e = parse(&format!("{MINIMAL}\n[log]\ndecisions = \"\"\n")).unwrap_err();
        assert!(e.to_string().contains("log.decisions"), "{e}");
    }

    #[test]
    fn decision_log_and_shutdown_grace() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.log.decisions, DecisionSink::Stdout);
        assert_eq!(c.limits.shutdown_grace_secs, 30);
        let c = parse(&format!(
            "{MINIMAL}\n[log]\ndecisions = \"log/decisions.jsonl\"\nqueue = 10\n"
        ))
        .unwrap();
        assert_eq!(
            c.log.decisions,
            DecisionSink::File("/etc/iamgate/log/decisions.jsonl".into())
        );
        assert_eq!(c.log.queue, 10);
        let c = parse(&format!("{MINIMAL}\n[log]\ndecisions = \"off\"\n")).unwrap();
        assert_eq!(c.log.decisions, DecisionSink::Off);
    }

    /// MINIMAL and a route table `orders` of two actions and two routes (`routes[0]`,
    /// `routes[1]`), then `more`.
    fn orders(more: &str) -> String {
        format!(
            r#"{MINIMAL}
            [upstreams.orders]
            kind = "routes"
            url = "http://127.0.0.1:9000"
            service = "orders"
            [[upstreams.orders.actions]]
            name = "GetOrder"
            resource_types = ["order"]
            [[upstreams.orders.actions]]
            name = "ListOrders"
            resource_types = ["store"]
            [[upstreams.orders.routes]]
            method = "GET"
            path = "/orders/{{id}}"
            action = "GetOrder"
            resource_type = "order"
            resource = "arn:aws:orders:{{region}}:{{account}}:order/{{id}}"
            [[upstreams.orders.routes]]
            method = "GET"
            path = "/orders"
            action = "ListOrders"
            resource_type = "store"
            resource = "*"
            {more}
            "#
        )
    }

    /// `routes[2]` of `orders`: a route with these values (TOML), to be made wrong.
    fn third_route(method: &str, path: &str, action: &str, more: &str) -> String {
        orders(&format!(
            "[[upstreams.orders.routes]]\nmethod = \"{method}\"\npath = \"{path}\"\n\
             action = \"{action}\"\nresource_type = \"order\"\nresource = \"*\"\n{more}"
        ))
    }

    /// The error of `text`, which must be an `Invalid` one with this key.
    fn invalid_at(text: &str, key: &str) -> String {
        match parse(text) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let ConfigError::Invalid { key: got, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(got, key, "{e}");
                e.to_string()
            }
            other => panic!("expected an error at {key}, got {other:?}"),
        }
    }

    #[test]
    fn a_route_table_is_compiled_when_the_configuration_is_read() {
        let c = parse(&orders("")).unwrap();
        let orders = c.upstreams.iter().find(|u| u.name == "orders").unwrap();
        let UpstreamKind::Routes(table) = &orders.kind else {
            panic!("{:?}", orders.kind)
        };
        assert_eq!(table.service(), "orders");
        assert_eq!(
            table.actions().collect::<Vec<_>>(),
            ["GetOrder", "ListOrders"]
        );
        let routed = table
            .route(
                &http::Method::GET,
                "/orders/42",
                "us-east-1",
                "111122223333",
            )
            .unwrap();
        assert_eq!(routed.action, "orders:GetOrder");
        assert_eq!(
            routed.resource,
            "arn:aws:orders:us-east-1:111122223333:order/42"
        );
        // The policy validator knows the table's actions, used by a route or not.
        let catalog = c.catalog();
        assert!(catalog.has_action("orders", "listorders"));
        assert!(!catalog.has_action("orders", "deleteorder"));
    }

    #[test]
    fn a_bad_route_table_is_a_configuration_error_naming_upstream_entry_and_key() {
        // A key a route does not have.
        let e = invalid_at(
            &third_route("PUT", "/orders/{id}", "GetOrder", "weight = 3"),
            "upstreams.orders.routes[2]",
        );
        assert!(e.contains("unknown field `weight`"), "{e}");

        // A value of the wrong type: toml names the key.
        let e = invalid_at(
            &orders("[[upstreams.orders.routes]]\nmethod = \"PUT\"\npath = 3\n"),
            "upstreams.orders.routes[2]",
        );
        assert!(e.contains("expected a string in `path`"), "{e}");
        // A key missing.
        let e = invalid_at(
            &orders("[[upstreams.orders.routes]]\nmethod = \"PUT\"\npath = \"/x\"\n"),
            "upstreams.orders.routes[2]",
        );
        assert!(e.contains("missing field `action`"), "{e}");
        // An entry that is not a table.
        let e = invalid_at(
            &format!(
                "{MINIMAL}\n[upstreams.orders]\nkind = \"routes\"\nurl = \"http://127.0.0.1:9000\"\n\
                 service = \"orders\"\nactions = [\"GetOrder\"]\n"
            ),
            "upstreams.orders.actions[0]",
        );
        assert!(e.contains("invalid type: string"), "{e}");

        // An action the table does not declare.
        assert_eq!(
            invalid_at(
                &third_route("PUT", "/orders/{id}", "PutOrder", ""),
                "upstreams.orders.routes[2].action"
            ),
            "/etc/iamgate/iamgate.toml: key `upstreams.orders.routes[2].action`: \
             PUT /orders/{id}: the action 'PutOrder' is not declared in `actions`"
        );
        // A path template that does not parse.
        let e = invalid_at(
            &third_route("PUT", "/orders/x{id}", "GetOrder", ""),
            "upstreams.orders.routes[2].path",
        );
        assert!(
            e.ends_with("PUT /orders/x{id}: invalid path template: 'x{id}': a segment is either a literal or one whole {param}"),
            "{e}"
        );
        // The same method and path shape as an earlier route.
        let e = invalid_at(
            &third_route("GET", "/orders/{oid}", "GetOrder", ""),
            "upstreams.orders.routes[2].path",
        );
        assert!(
            e.ends_with("GET /orders/{oid}: duplicates routes[0] (GET /orders/{id})"),
            "{e}"
        );
        // The other checks of the compiler, each at its key.
        let e = invalid_at(
            &third_route("get", "/orders/{id}", "GetOrder", ""),
            "upstreams.orders.routes[2].method",
        );
        assert!(e.ends_with("get /orders/{id}: invalid method 'get'"), "{e}");
        let e = invalid_at(
            &third_route("PUT", "/orders/{id}", "ListOrders", ""),
            "upstreams.orders.routes[2].resource_type",
        );
        assert!(
            e.contains("'ListOrders' does not apply to resource type 'order'"),
            "{e}"
        );
        let e = invalid_at(
            &orders(
                "[[upstreams.orders.routes]]\nmethod = \"PUT\"\npath = \"/orders/{id}\"\n\
                 action = \"GetOrder\"\nresource_type = \"order\"\n\
                 resource = \"arn:aws:orders:::order/{oid}\"\n",
            ),
            "upstreams.orders.routes[2].resource",
        );
        assert!(e.contains("unknown parameter '{oid}'"), "{e}");
        let e = invalid_at(
            &orders("[[upstreams.orders.actions]]\nname = \"GetOrder\"\nresource_types = []\n"),
            "upstreams.orders.actions[2].name",
        );
        assert!(e.ends_with("action 'GetOrder': declared twice"), "{e}");
        let e = invalid_at(
            &orders("").replace("service = \"orders\"", "service = \"Orders\""),
            "upstreams.orders.service",
        );
        assert!(e.contains("invalid service name 'Orders'"), "{e}");

        // No service at all.
        let e = invalid_at(
            &orders("").replace("service = \"orders\"", ""),
            "upstreams.orders.service",
        );
        assert!(e.contains("needs its service name"), "{e}");

        // A table on an upstream that has none.
        let e = invalid_at(
            &MINIMAL.replace(
                "local = \"data\"",
                "local = \"data\"\n[[upstreams.s3.routes]]\nmethod = \"GET\"",
            ),
            "upstreams.s3.routes",
        );
        assert!(
            e.contains("only a routes upstream has a route table"),
            "{e}"
        );
    }
}
