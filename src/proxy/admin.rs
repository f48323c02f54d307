//! The admin listener: `/healthz` (the process answers), `/readyz` (a snapshot is loaded and
//! the upstreams answer) and `/metrics` (Prometheus' text format).
//!
//! Readiness probes remote upstreams with a TCP connect, cached for [`PROBE_TTL`] so that a
//! load balancer polling `/readyz` does not open a connection per poll; the built-in object
//! store is always ready.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Destination, Gateway};

/// How long an upstream probe's answer is reused.
pub const PROBE_TTL: Duration = Duration::from_secs(5);

/// The longest a probe waits for a TCP connection.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Upstream probe answers, by upstream name: when probed, and the problem if any.
#[derive(Default)]
struct Probes(Mutex<HashMap<String, (Instant, Option<String>)>>);

impl Probes {
    fn cached(&self, name: &str) -> Option<Option<String>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name)
            .filter(|(at, _)| at.elapsed() < PROBE_TTL)
            .map(|(_, problem)| problem.clone())
    }

    fn store(&self, name: &str, problem: Option<String>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(name.to_owned(), (Instant::now(), problem));
    }
}

/// `host:port` of a remote upstream, the port from the scheme when the URL has none.
fn probe_address(uri: &http::Uri) -> Option<String> {
    let authority = uri.authority()?;
    let port = authority
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let host = authority.host();
    Some(format!("{host}:{port}"))
}

/// Why the gateway is not ready, or `None` when it is.
async fn not_ready(gateway: &Gateway, probes: &Probes) -> Option<String> {
    if gateway.store().generation() == 0 {
        return Some("no policy snapshot is loaded".into());
    }
    let timeout = PROBE_TIMEOUT.min(Duration::from_secs(
        gateway.config.limits.upstream_connect_timeout_secs.max(1),
    ));
    let mut problems = Vec::new();
    for upstream in &gateway.upstreams {
        let Destination::Remote(uri) = &upstream.destination else {
            continue;
        };
        let problem = match probes.cached(&upstream.name) {
            Some(cached) => cached,
            None => {
                let problem = match probe_address(uri) {
                    None => Some(format!("{uri} has no host")),
                    Some(addr) => {
                        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr))
                            .await
                        {
                            Ok(Ok(_)) => None,
                            Ok(Err(e)) => Some(format!("{addr}: {e}")),
                            Err(_) => Some(format!("{addr}: no connection within {timeout:?}")),
                        }
                    }
                };
                probes.store(&upstream.name, problem.clone());
                problem
            }
        };
        if let Some(problem) = problem {
            problems.push(format!(
                "upstream {} does not answer: {problem}",
                upstream.name
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

async fn answer(
    gateway: &Gateway,
    probes: &Probes,
    req: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let mut content_type = "text/plain; charset=utf-8";
    let (status, body) = match req.uri().path() {
        "/healthz" => (StatusCode::OK, "ok\n".to_owned()),
        "/readyz" => match not_ready(gateway, probes).await {
            None => {
                let summary = gateway.snapshot().summary();
                (
                    StatusCode::OK,
                    format!(
                        "ready: generation {}, {} accounts, {} principals\n",
                        gateway.store().generation(),
                        summary.accounts,
                        summary.principals
                    ),
                )
            }
            Some(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {reason}\n"),
            ),
        },
        "/metrics" => {
            content_type = "text/plain; version=0.0.4; charset=utf-8";
            (StatusCode::OK, gateway.render_metrics())
        }
        _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// Serves the admin endpoints until `shutdown` turns true.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let probes = Arc::new(Probes::default());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let gateway = Arc::clone(&gateway);
        let probes = Arc::clone(&probes);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let gateway = Arc::clone(&gateway);
                let probes = Arc::clone(&probes);
                async move { Ok::<_, Infallible>(answer(&gateway, &probes, &req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_addresses() {
        let uri: http::Uri = "http://127.0.0.1:9000/base".parse().unwrap();
        assert_eq!(probe_address(&uri).as_deref(), Some("127.0.0.1:9000"));
        let uri: http::Uri = "https://example.com".parse().unwrap();
        assert_eq!(probe_address(&uri).as_deref(), Some("example.com:443"));
        let uri: http::Uri = "http://[::1]/".parse().unwrap();
        assert_eq!(probe_address(&uri).as_deref(), Some("[::1]:80"));
    }
}
