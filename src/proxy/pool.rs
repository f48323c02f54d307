//! The upstream connection pool of one worker: HTTP/1.1 connections kept open between requests.
//!
//! Built on hyper's connection API rather than `hyper_util`'s pooled client, which spawns a task
//! per request to learn when a connection is free again and hashes the origin on every request.
//! Here a connection goes back to the pool when its response body ends (the body carries it),
//! and the origins of a worker are a short list compared by scheme and authority.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::Frame;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use tokio::sync::oneshot;

use super::forward::{box_error, BoxError, ProxyBody};

/// One idle (or nearly idle) connection.
struct Idle {
    sender: http1::SendRequest<ProxyBody>,
    since: Instant,
}

/// The connections to one origin.
struct Origin {
    scheme: String,
    authority: String,
    idle: Vec<Idle>,
    /// Connections open, idle or in use: one per live [`Slot`].
    open: usize,
    /// Of those, the connections that are up (the others are still connecting).
    connected: usize,
    /// Requests waiting for a connection, oldest first.
    waiting: VecDeque<oneshot::Sender<Handoff>>,
}

impl Origin {
    fn is(&self, scheme: &str, authority: &str) -> bool {
        self.authority == authority && self.scheme == scheme
    }

    fn is_unused(&self) -> bool {
        self.idle.is_empty() && self.open == 0 && self.waiting.is_empty()
    }
}

/// The connections of one worker by origin; shared with the response bodies that bring
/// connections back and with the connection tasks whose end frees a place.
pub(crate) struct Pool {
    origins: Mutex<Vec<Origin>>,
    idle_timeout: Duration,
    /// The most connections open to one origin at once.
    max_per_origin: usize,
    /// Requests that have had to wait for a connection, since the start.
    waits: AtomicU64,
}

/// What a pool holds now, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolLoad {
    /// Connections open to the upstreams, idle or in use.
    pub open: usize,
    /// Requests waiting for a connection now.
    pub waiting: usize,
    /// Requests that have had to wait for a connection, since the start.
    pub waits: u64,
}

/// The most idle connections kept per origin: beyond, a returning connection is closed.
const MAX_IDLE_PER_ORIGIN: usize = 4096;

/// What [`Pool::checkout`] gives a request.
pub(crate) enum Checkout {
    /// A kept-alive connection: ready, or about to be once its last response is read.
    Reuse(http1::SendRequest<ProxyBody>),
    /// Room for one more connection: open it, and keep the slot for as long as it lives.
    Open(Slot),
    /// Every connection the origin may have is in use: one comes through here when free.
    Wait(oneshot::Receiver<Handoff>),
}

/// What a waiting request receives.
pub(crate) enum Handoff {
    /// A connection whose response has ended.
    Reuse(http1::SendRequest<ProxyBody>),
    /// The place of a connection that closed.
    Open(Slot),
    /// The origin cannot be reached now, and no connection to it is up: why.
    Failed(Arc<str>),
}

impl Pool {
    /// A pool that keeps idle connections for `idle_timeout` and opens at most
    /// `max_per_origin` connections to one origin (0: no limit).
    pub(crate) fn new(idle_timeout: Duration, max_per_origin: usize) -> Arc<Pool> {
        Arc::new(Pool {
            origins: Mutex::new(Vec::new()),
            idle_timeout,
            max_per_origin: match max_per_origin {
                0 => usize::MAX,
                n => n,
            },
            waits: AtomicU64::new(0),
        })
    }

    /// A connection to `uri`'s origin for a request: an idle one, the most recently used
    /// first; else the right to open one; else, at the limit, a place in the queue.
    pub(crate) fn checkout(self: &Arc<Self>, uri: &Uri) -> Option<Checkout> {
        self.with_origin(uri, Make::Yes, |origin| self.checkout_from(origin, uri))
    }

    fn checkout_from(self: &Arc<Self>, origin: &mut Origin, uri: &Uri) -> Checkout {
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
        let checkout = match found {
            Some(sender) => Checkout::Reuse(sender),
            None if origin.open < self.max_per_origin => {
                origin.open += 1;
                Checkout::Open(Slot::new(self, uri))
            }
            // At the limit, a connection about to be free is better than a queue.
            None => match busy.pop() {
                Some(idle) => Checkout::Reuse(idle.sender),
                None => {
                    let (tx, rx) = oneshot::channel();
                    origin.waiting.push_back(tx);
                    self.waits.fetch_add(1, Ordering::Relaxed);
                    Checkout::Wait(rx)
                }
            },
        };
        origin.idle.extend(busy.into_iter().rev());
        checkout
    }

    /// Puts a connection to `uri`'s origin back once its response has ended: to the request
    /// that has waited longest, or among the idle. Those idle too long are closed by
    /// [`Pool::evict`], and never handed out by [`Pool::checkout`].
    fn checkin(&self, uri: &Uri, sender: http1::SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        self.with_origin(uri, Make::Yes, |origin| {
            if let Some(Handoff::Reuse(sender)) =
                hand_over(&mut origin.waiting, Handoff::Reuse(sender))
            {
                if origin.idle.len() < MAX_IDLE_PER_ORIGIN {
                    origin.idle.push(Idle {
                        sender,
                        since: Instant::now(),
                    });
                }
            }
        });
    }

    /// A connection to `uri`'s origin has closed (`was_up`: after its handshake): its place
    /// goes to the request that has waited longest, or is freed.
    fn release(self: &Arc<Self>, uri: &Uri, was_up: bool) {
        self.with_origin(uri, Make::No, |origin| {
            if was_up {
                origin.connected = origin.connected.saturating_sub(1);
            }
            if let Some(Handoff::Open(mut slot)) =
                hand_over(&mut origin.waiting, Handoff::Open(Slot::new(self, uri)))
            {
                // Nobody took it: not dropped armed, which would take this lock again.
                slot.disarm();
                origin.open = origin.open.saturating_sub(1);
            }
        });
    }

    /// A connection to `uri`'s origin is up.
    fn connected(&self, uri: &Uri) {
        self.with_origin(uri, Make::Yes, |origin| origin.connected += 1);
    }

    /// Connecting to `uri`'s origin failed. If no connection to it is up, none is about to
    /// come free: the requests waiting fail now, with `reason`, rather than each wait for a
    /// connection attempt of its own (as Envoy fails its pending requests). With connections
    /// up, they go on waiting for those.
    pub(crate) fn unreachable(&self, uri: &Uri, reason: &str) {
        self.with_origin(uri, Make::No, |origin| {
            if origin.connected > 0 {
                return;
            }
            let reason: Arc<str> = Arc::from(reason);
            for waiter in origin.waiting.drain(..) {
                // A waiter gone needs no answer.
                let _ = waiter.send(Handoff::Failed(Arc::clone(&reason)));
            }
        });
    }

    /// Runs `f` on `uri`'s origin under the lock; `make`: the entry is made on first use.
    fn with_origin<R>(&self, uri: &Uri, make: Make, f: impl FnOnce(&mut Origin) -> R) -> Option<R> {
        let (scheme, authority) = origin_of(uri)?;
        let mut origins = self.origins.lock().ok()?;
        let index = match (origins.iter().position(|o| o.is(scheme, authority)), make) {
            (Some(i), _) => i,
            (None, Make::No) => return None,
            (None, Make::Yes) => {
                origins.push(Origin {
                    scheme: scheme.to_owned(),
                    authority: authority.to_owned(),
                    idle: Vec::new(),
                    open: 0,
                    connected: 0,
                    waiting: VecDeque::new(),
                });
                origins.len() - 1
            }
        };
        Some(f(&mut origins[index]))
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
            origin.waiting.retain(|w| !w.is_closed());
        }
        origins.retain(|o| !o.is_unused());
    }

    /// The connections open and the requests waiting, over every origin.
    pub(crate) fn load(&self) -> PoolLoad {
        let mut load = PoolLoad {
            waits: self.waits.load(Ordering::Relaxed),
            ..PoolLoad::default()
        };
        if let Ok(origins) = self.origins.lock() {
            for origin in origins.iter() {
                load.open += origin.open;
                load.waiting += origin.waiting.iter().filter(|w| !w.is_closed()).count();
            }
        }
        load
    }

    /// How many idle connections the pool holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.origins
            .lock()
            .map(|o| o.iter().map(|o| o.idle.len()).sum())
            .unwrap_or(0)
    }

    /// How many connections are open to `uri`'s origin, and how many requests wait for one.
    #[cfg(test)]
    pub(crate) fn counts(&self, uri: &Uri) -> (usize, usize) {
        self.with_origin(uri, Make::No, |o| (o.open, o.waiting.len()))
            .unwrap_or_default()
    }
}

/// Whether [`Pool::with_origin`] makes the entry of an origin it has not seen.
#[derive(Clone, Copy)]
enum Make {
    Yes,
    No,
}

/// Gives `handoff` to the request that has waited longest and is still waiting (one whose
/// client left, or whose time ran out, is passed over); back when there is none.
fn hand_over(
    waiting: &mut VecDeque<oneshot::Sender<Handoff>>,
    mut handoff: Handoff,
) -> Option<Handoff> {
    while let Some(waiter) = waiting.pop_front() {
        match waiter.send(handoff) {
            Ok(()) => return None,
            Err(back) => handoff = back,
        }
    }
    Some(handoff)
}

/// The place of one open connection in its origin's count. It lives in the connection's
/// task: when the connection closes, for whatever reason, the place is freed.
pub(crate) struct Slot {
    pool: Weak<Pool>,
    uri: Uri,
    armed: bool,
    /// Its connection is up.
    up: bool,
}

impl Slot {
    fn new(pool: &Arc<Pool>, uri: &Uri) -> Slot {
        Slot {
            pool: Arc::downgrade(pool),
            uri: uri.clone(),
            armed: true,
            up: false,
        }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }

    /// The connection in this place is up: until it closes, requests wait for it rather than
    /// fail when another connection attempt does.
    pub(crate) fn connected(&mut self) {
        if let (Some(pool), false) = (self.pool.upgrade(), self.up) {
            pool.connected(&self.uri);
            self.up = true;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pool) = self.pool.upgrade() {
            pool.release(&self.uri, self.up);
        }
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

    fn reused(checkout: Option<Checkout>) -> Option<http1::SendRequest<ProxyBody>> {
        match checkout {
            Some(Checkout::Reuse(sender)) => Some(sender),
            _ => None,
        }
    }

    #[tokio::test]
    async fn idle_connections_expire_and_origins_are_kept_apart() {
        let uri: Uri = "http://upstream.example:8080/x".parse().unwrap();
        let other: Uri = "https://upstream.example:8080/x".parse().unwrap();
        let pool = Pool::new(Duration::from_secs(60), 0);
        pool.checkin(&uri, connection().await);
        assert_eq!(pool.len(), 1);
        assert!(
            matches!(pool.checkout(&other), Some(Checkout::Open(_))),
            "another scheme is another origin"
        );
        let sender = reused(pool.checkout(&uri)).expect("the idle connection");
        assert_eq!(pool.len(), 0);
        pool.checkin(&uri, sender);
        pool.evict();
        assert_eq!(pool.len(), 1, "not idle for long");

        let pool = Pool::new(Duration::ZERO, 0);
        pool.checkin(&uri, connection().await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        pool.evict();
        assert_eq!(pool.len(), 0, "idle past the timeout");
        pool.checkin(&uri, connection().await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            reused(pool.checkout(&uri)).is_none(),
            "expired, not handed out"
        );
    }

    #[tokio::test]
    async fn places_are_counted_handed_on_and_freed() {
        let uri: Uri = "http://upstream.example/x".parse().unwrap();
        let pool = Pool::new(Duration::from_secs(60), 2);
        let Some(Checkout::Open(one)) = pool.checkout(&uri) else {
            panic!("room for a first connection")
        };
        let Some(Checkout::Open(two)) = pool.checkout(&uri) else {
            panic!("room for a second")
        };
        let Some(Checkout::Wait(first_waiter)) = pool.checkout(&uri) else {
            panic!("at the limit")
        };
        let Some(Checkout::Wait(second_waiter)) = pool.checkout(&uri) else {
            panic!("still at the limit")
        };
        assert_eq!(pool.counts(&uri), (2, 2));

        // A waiter that gave up is passed over: the place goes to the next.
        drop(first_waiter);
        drop(one);
        let Ok(Handoff::Open(three)) = second_waiter.await else {
            panic!("the freed place")
        };
        assert_eq!(pool.counts(&uri), (2, 0));

        // A connection put back goes to a waiter before the idle list.
        let Some(Checkout::Wait(waiter)) = pool.checkout(&uri) else {
            panic!("at the limit")
        };
        pool.checkin(&uri, connection().await);
        assert!(matches!(waiter.await, Ok(Handoff::Reuse(_))));
        assert_eq!(pool.len(), 0);

        // Connecting fails while requests wait: with a connection up they go on waiting, with
        // none they fail.
        let Some(Checkout::Wait(waiter)) = pool.checkout(&uri) else {
            panic!("at the limit")
        };
        let mut two = two;
        two.connected();
        pool.unreachable(&uri, "refused");
        assert_eq!(pool.counts(&uri), (2, 1), "one is up: still waiting");
        drop(two);
        let Ok(Handoff::Open(mut two)) = waiter.await else {
            panic!("the place of the one that closed")
        };
        let Some(Checkout::Wait(waiter)) = pool.checkout(&uri) else {
            panic!("at the limit")
        };
        pool.unreachable(&uri, "refused");
        assert!(matches!(waiter.await, Ok(Handoff::Failed(r)) if &*r == "refused"));
        two.connected();
        two.connected();
        assert_eq!(pool.origins.lock().unwrap()[0].connected, 1, "counted once");

        drop((two, three));
        assert_eq!(pool.counts(&uri), (0, 0));
        assert_eq!(pool.origins.lock().unwrap()[0].connected, 0);
        pool.evict();
        assert!(
            pool.origins.lock().unwrap().is_empty(),
            "an unused origin is forgotten"
        );
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
