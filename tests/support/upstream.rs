//! Upstreams for the gateway to forward to: one that records every request it receives
//! ([`Upstream`]), one that never answers ([`stalling_upstream`]), an address where nothing
//! listens ([`dead_address`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::{mpsc, Semaphore};

/// One request as the recording upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The request target exactly as it arrived.
    pub target: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// Whether the body arrived whole (its framing ended normally).
    pub complete: bool,
}

/// What a recording upstream saw.
pub type Log = Arc<Mutex<Vec<Received>>>;

/// An upstream that records every request (head and whole body) and answers 200 `served`,
/// unless the builder's calls say otherwise.
#[derive(Default)]
pub struct Upstream {
    echo: bool,
    delay: Duration,
    arrived: Option<mpsc::UnboundedSender<String>>,
    gate: Option<Arc<Semaphore>>,
}

impl Upstream {
    pub fn new() -> Upstream {
        Upstream::default()
    }

    /// Answers `upstream saw <target>` instead.
    pub fn echo(mut self) -> Upstream {
        self.echo = true;
        self
    }

    /// Holds each answer back for `delay`.
    pub fn delay(mut self, delay: Duration) -> Upstream {
        self.delay = delay;
        self
    }

    /// Announces each request's target on `arrived` once it is recorded.
    pub fn announce(mut self, arrived: mpsc::UnboundedSender<String>) -> Upstream {
        self.arrived = Some(arrived);
        self
    }

    /// Holds each answer until it takes a permit of `gate` (one permit lets one request
    /// through, once).
    pub fn gate(mut self, gate: Arc<Semaphore>) -> Upstream {
        self.gate = Some(gate);
        self
    }

    /// Listens on a free port of 127.0.0.1; its address and what it records.
    pub async fn start(self) -> (SocketAddr, Log) {
        let log: Log = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task_log = Arc::clone(&log);
        let this = Arc::new(self);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&task_log);
                let this = Arc::clone(&this);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let log = Arc::clone(&log);
                            let this = Arc::clone(&this);
                            async move { Ok::<_, Infallible>(this.answer(req, &log).await) }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (addr, log)
    }

    async fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
        log: &Log,
    ) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let (body, complete) = match body.collect().await {
            Ok(b) => (b.to_bytes().to_vec(), true),
            Err(_) => (Vec::new(), false),
        };
        let target = parts.uri.to_string();
        log.lock().unwrap().push(Received {
            method: parts.method.to_string(),
            target: target.clone(),
            headers: parts.headers,
            body,
            complete,
        });
        if let Some(arrived) = &self.arrived {
            let _ = arrived.send(target.clone());
        }
        if let Some(gate) = &self.gate {
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let body = if self.echo {
            Bytes::from(format!("upstream saw {target}"))
        } else {
            Bytes::from_static(b"served")
        };
        hyper::Response::new(Full::new(body))
    }
}

/// [`Upstream`] as it comes: records everything, answers 200 `served` at once.
pub async fn recording_upstream() -> (SocketAddr, Log) {
    Upstream::new().start().await
}

/// An upstream that accepts and reads but never answers.
pub async fn stalling_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// An address where nothing listens: a port just freed.
pub fn dead_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
