//! The upstream connection pool of one worker: HTTP/1.1 connections kept open between requests.
//!
//! Built on hyper's connection API rather than `hyper_util`'s pooled client, which spawns a task
//! per request to learn when a connection is free again and hashes the origin on every request.
//! Here a connection goes back to the pool when its response body ends (the body carries it),
//! and the origins of a worker are a short list compared by scheme and authority.

use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::Frame;
use hyper::body::Incoming;
use hyper::client::conn::http1;

use super::forward::{box_error, BoxError, ProxyBody};

/// One idle (or nearly idle) connection.
struct Idle {
    sender: http1::SendRequest<ProxyBody>,
    since: Instant,
}

/// The idle connections to one origin.
struct Origin {
    scheme: String,
    authority: String,
    idle: Vec<Idle>,
}

impl Origin {
    fn is(&self, scheme: &str, authority: &str) -> bool {
        self.authority == authority && self.scheme == scheme
    }
}

/// Idle connections by origin; shared with the response bodies that bring connections back.
pub(crate) struct Pool {
    origins: Mutex<Vec<Origin>>,
    idle_timeout: Duration,
}

/// The most idle connections kept per origin: beyond, a returning connection is closed.
const MAX_IDLE_PER_ORIGIN: usize = 4096;

impl Pool {
    pub(crate) fn new(idle_timeout: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            origins: Mutex::new(Vec::new()),
            idle_timeout,
        })
    }

    /// A connection to `uri`'s origin that can take a request now, the most recently used first.
    pub(crate) fn checkout(&self, uri: &Uri) -> Option<http1::SendRequest<ProxyBody>> {
        let (scheme, authority) = origin_of(uri)?;
        let mut origins = self.origins.lock().ok()?;
        let origin = origins.iter_mut().find(|o| o.is(scheme, authority))?;
        let now = Instant::now();
        let mut busy = Vec::new();
        let mut found = None;
        while let Some(idle) = origin.idle.pop() {
            if idle.sender.is_closed() || now.duration_since(idle.since) > self.idle_timeout {
                continue;
            }
            if idle.sender.is_ready() {
                found = Some(idle.sender);
                break;
            }
            // Still finishing its last response: kept for a later request.
            busy.push(idle);
        }
        origin.idle.extend(busy.into_iter().rev());
        found
    }

    /// Puts a connection to `uri`'s origin back once its response has ended. Those idle too
    /// long are closed by [`Pool::evict`], and never handed out by [`Pool::checkout`].
    fn checkin(&self, uri: &Uri, sender: http1::SendRequest<ProxyBody>) {
        let (Some((scheme, authority)), false) = (origin_of(uri), sender.is_closed()) else {
            return;
        };
        let Ok(mut origins) = self.origins.lock() else {
            return;
        };
        let origin = match origins.iter().position(|o| o.is(scheme, authority)) {
            Some(i) => &mut origins[i],
            None => {
                origins.push(Origin {
                    scheme: scheme.to_owned(),
                    authority: authority.to_owned(),
                    idle: Vec::new(),
                });
                let last = origins.len() - 1;
                &mut origins[last]
            }
        };
        if origin.idle.len() < MAX_IDLE_PER_ORIGIN {
            origin.idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Closes every connection idle for longer than the timeout.
    pub(crate) fn evict(&self) {
        let Ok(mut origins) = self.origins.lock() else {
            return;
        };
        let now = Instant::now();
        for origin in origins.iter_mut() {
            origin.idle.retain(|i| {
                !i.sender.is_closed() && now.duration_since(i.since) <= self.idle_timeout
            });
        }
        origins.retain(|o| !o.idle.is_empty());
    }

    /// How many connections the pool holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.origins
            .lock()
            .map(|o| o.iter().map(|o| o.idle.len()).sum())
            .unwrap_or(0)
    }
}

/// Evicts idle connections every half idle timeout, on the worker that owns the pool, until
/// the pool is gone: without it, a connection to an upstream nobody calls any more would stay
/// open for as long as that upstream lets it.
pub(crate) fn spawn_evictor(pool: &Arc<Pool>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<Pool> = Arc::downgrade(pool);
    let every = (pool.idle_timeout / 2).max(Duration::from_millis(100));
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match weak.upgrade() {
                Some(pool) => pool.evict(),
                None => return,
            }
        }
    });
}

/// The scheme and authority of an absolute URI.
fn origin_of(uri: &Uri) -> Option<(&str, &str)> {
    Some((uri.scheme_str()?, uri.authority()?.as_str()))
}

/// A response body that returns its connection to the pool when it ends. Dropped before its
/// end (the client went away), it takes the connection with it: hyper closes a connection
/// whose response was not read to its end.
pub(crate) struct PooledBody {
    inner: Incoming,
    back: Option<Back>,
}

struct Back {
    sender: http1::SendRequest<ProxyBody>,
    pool: Arc<Pool>,
    uri: Uri,
}

impl PooledBody {
    /// Wraps `response`'s body; `sender` returns to `pool` for `uri`'s origin at its end.
    pub(crate) fn wrap(
        response: Response<Incoming>,
        sender: http1::SendRequest<ProxyBody>,
        pool: &Arc<Pool>,
        uri: Uri,
    ) -> Response<PooledBody> {
        let (parts, inner) = response.into_parts();
        let back = Some(Back {
            sender,
            pool: Arc::clone(pool),
            uri,
        });
        let mut body = PooledBody { inner, back };
        // No body at all (HEAD, 204, 304, an empty length): free at once.
        if hyper::body::Body::is_end_stream(&body.inner) {
            body.give_back();
        }
        Response::from_parts(parts, body)
    }

    fn give_back(&mut self) {
        if let Some(back) = self.back.take() {
            back.pool.checkin(&back.uri, back.sender);
        }
    }
}

impl hyper::body::Body for PooledBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            None => this.give_back(),
            Some(Ok(_)) if hyper::body::Body::is_end_stream(&this.inner) => this.give_back(),
            Some(Err(_)) => this.back = None,
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame.map(|f| f.map_err(box_error)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Turns an absolute request for the upstream into what goes on its connection: the request
/// target in origin form, and a `Host` header when the request has none.
pub(crate) fn origin_form(request: &mut Request<ProxyBody>) {
    if !request.headers().contains_key(http::header::HOST) {
        if let Some(host) = host_value(request.uri()) {
            request.headers_mut().insert(http::header::HOST, host);
        }
    }
    let target = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::from(target);
}

/// The authority as a `Host` value, without a port that is the scheme's default.
fn host_value(uri: &Uri) -> Option<http::HeaderValue> {
    let authority = uri.authority()?;
    let default_port = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let text = match authority.port_u16() {
        Some(port) if Some(port) == default_port => authority.host(),
        _ => authority.as_str(),
    };
    http::HeaderValue::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection to a listener that accepts and holds, never answering.
    async fn connection() -> http1::SendRequest<ProxyBody> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut sender = sender;
        sender.ready().await.unwrap();
        sender
    }

    #[tokio::test]
    async fn idle_connections_expire_and_origins_are_kept_apart() {
        let uri: Uri = "http://upstream.example:8080/x".parse().unwrap();
        let other: Uri = "https://upstream.example:8080/x".parse().unwrap();
        let pool = Pool::new(Duration::from_secs(60));
        pool.checkin(&uri, connection().await);
        assert_eq!(pool.len(), 1);
        assert!(
            pool.checkout(&other).is_none(),
            "another scheme is another origin"
        );
        let sender = pool.checkout(&uri).expect("the idle connection");
        assert_eq!(pool.len(), 0);
        pool.checkin(&uri, sender);
        pool.evict();
        assert_eq!(pool.len(), 1, "not idle for long");

        let pool = Pool::new(Duration::ZERO);
        pool.checkin(&uri, connection().await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        pool.evict();
        assert_eq!(pool.len(), 0, "idle past the timeout");
        pool.checkin(&uri, connection().await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(pool.checkout(&uri).is_none(), "expired, not handed out");
    }

    #[test]
    fn requests_go_out_in_origin_form_with_a_host() {
        use http_body_util::{BodyExt, Empty};
        let body = || Empty::<Bytes>::new().map_err(box_error).boxed();
        for (uri, host) in [
            ("http://a.example/p?q=1", "a.example"),
            ("http://a.example:80/p?q=1", "a.example"),
            ("http://a.example:8080/p?q=1", "a.example:8080"),
            ("https://a.example:443/p?q=1", "a.example"),
        ] {
            let mut request = Request::new(body());
            *request.uri_mut() = uri.parse().unwrap();
            origin_form(&mut request);
            assert_eq!(request.uri(), "/p?q=1");
            assert_eq!(request.headers()[http::header::HOST], host, "{uri}");
        }
        let mut request = Request::new(body());
        *request.uri_mut() = "http://a.example:8080".parse().unwrap();
        request
            .headers_mut()
            .insert(http::header::HOST, "given".parse().unwrap());
        origin_form(&mut request);
        assert_eq!(request.uri(), "/");
        assert_eq!(request.headers()[http::header::HOST], "given");
    }
}
