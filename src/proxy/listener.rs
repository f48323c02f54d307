//! Accepting connections: plain TCP or TLS, HTTP/1.1 or HTTP/2 (ALPN or prior knowledge), with
//! a cap on open connections, a deadline for the request head, an idle timeout for keep-alive
//! connections and a total timeout per request.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::plain::{client_left, sniff, ClientLeft, Protocol, SharedStream};
use super::workers::Workers;
use super::{Gateway, ResponseBody};

/// What the pipeline knows of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The client's address (the peer; a proxy's, when there is one).
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub secure: bool,
    /// The worker thread serving it (whose upstream pool its requests use).
    pub worker: usize,
}

/// Open client connections, for the cap and for metrics.
#[derive(Debug, Default)]
pub struct ConnectionCount(AtomicUsize);

impl ConnectionCount {
    /// Connections open now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// When a connection last moved a byte, and how many of its requests are in flight: what the
/// idle timeout looks at.
#[derive(Debug)]
struct Activity {
    started: tokio::time::Instant,
    /// Milliseconds since `started` of the last byte read or written.
    last: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: tokio::time::Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }

    /// How long the connection has been idle: zero while a request is in flight.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// Counts a request in flight until dropped (the response body's end, or the request's).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        InFlight(Arc::clone(activity))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that records its activity.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that keeps its request counted in flight until it ends, and on a plain
/// HTTP/1.1 connection ends with an error when the client leaves while it waits for bytes
/// (hyper, not reading mid-message, would notice only at its next write).
struct CountedBody {
    inner: Body,
    _in_flight: InFlight,
    /// The socket to watch (see [`super::plain`]); none once bytes wait unread on it, which
    /// hide a close behind them (hyper then notices at its next write).
    watch: Option<SharedStream>,
}

impl http_body::Body for CountedBody {
    type Data = bytes::Bytes;
    type Error = super::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, super::BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.watch.as_ref().map(|stream| stream.poll_closed(cx)) {
            Some(Poll::Ready(true)) => Poll::Ready(Some(Err(Box::new(ClientLeft)))),
            Some(Poll::Ready(false)) => {
                this.watch = None;
                Poll::Pending
            }
            _ => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

struct Slot(Arc<Gateway>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections on `listener` until `shutdown` turns true, and hands each to a worker.
/// With `tls`, every connection is a TLS handshake first (on the worker).
pub async fn accept_loop(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    workers: Arc<Workers>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let open = gateway.connections.0.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = Slot(Arc::clone(&gateway));
        if open > gateway.config.limits.max_connections {
            drop(stream);
            drop(slot);
            continue;
        }
        let _ = stream.set_nodelay(true);
        // Out of this runtime's reactor, into the worker's.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(%peer, "cannot hand the connection to a worker: {e}");
                continue;
            }
        };
        let gateway = Arc::clone(&gateway);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        workers.spawn(move |worker| async move {
            let _slot = slot;
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(%peer, "cannot register the connection: {e}");
                    return;
                }
            };
            let activity = Arc::new(Activity::new());
            let conn = Connection {
                peer,
                secure: tls.is_some(),
                worker,
            };
            match tls {
                None => {
                    let stream = SharedStream::new(stream);
                    // A connection that sends nothing goes as it would once served: at the
                    // header read timeout, or the idle timeout if that is shorter.
                    let limits = &gateway.config.limits;
                    let idle = limits.idle_timeout();
                    let timeout = match limits.header_read_timeout() {
                        head if idle.is_zero() => head,
                        head => head.min(idle),
                    };
                    let mut stopping = shutdown.clone();
                    let protocol = tokio::select! {
                        sniffed = tokio::time::timeout(timeout, sniff(&stream)) => match sniffed {
                            Ok(Ok(protocol)) => protocol,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, "connection failed before its first request: {e}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "no byte within the header read (or idle) timeout");
                                return;
                            }
                        },
                        _ = stopping.changed() => return,
                    };
                    let io = Tracked {
                        inner: stream.clone(),
                        activity: Arc::clone(&activity),
                    };
                    let known = Known {
                        protocol: Some(protocol),
                        watch: Some(stream),
                    };
                    serve(gateway, TokioIo::new(io), conn, activity, known, shutdown).await
                }
                // Boxed: a TLS session is kilobytes, and every plain connection's task would
                // otherwise be sized for it.
                Some(acceptor) => {
                    Box::pin(async move {
                        let timeout = gateway.config.limits.header_read_timeout();
                        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls_stream)) => {
                                let io = Tracked {
                                    inner: tls_stream,
                                    activity: Arc::clone(&activity),
                                };
                                // Through TLS a close is a record like any other: hyper
                                // reads to notice a client leaving.
                                let known = Known {
                                    protocol: alpn_protocol(io.inner.get_ref().1),
                                    watch: None,
                                };
                                serve(gateway, TokioIo::new(io), conn, activity, known, shutdown)
                                    .await
                            }
                            Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    })
                    .await
                }
            }
        });
    }
}

/// hyper's limit on the number of request headers when none is set.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// What is known of a connection before hyper serves it.
struct Known {
    /// Its protocol, when already told (plain TCP: by its first bytes; TLS: by ALPN).
    /// Otherwise hyper-util tells it by reading the first bytes itself, which costs the
    /// connection 8 KiB more buffer for its life (see [`super::plain`]).
    protocol: Option<Protocol>,
    /// The socket, for requests to watch for the client leaving (plain TCP); hyper then does not
    /// read while a request is in flight. Otherwise (TLS) hyper reads to notice.
    watch: Option<SharedStream>,
}

/// The protocol ALPN agreed on, if it agreed on one.
fn alpn_protocol(tls: &rustls::ServerConnection) -> Option<Protocol> {
    match tls.alpn_protocol()? {
        b"h2" => Some(Protocol::Http2),
        b"http/1.1" => Some(Protocol::Http1),
        _ => None,
    }
}

/// Serves the requests of one connection.
async fn serve<I>(
    gateway: Arc<Gateway>,
    io: I,
    conn: Connection,
    activity: Arc<Activity>,
    known: Known,
    mut shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let limits = &gateway.config.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .half_close(known.watch.is_some())
        .max_buf_size(limits.max_header_bytes.max(8192));
    // hyper's own limit is the same 100; setting it anyway makes hyper build its header arrays
    // element by element on every request instead of as one uninitialised block.
    if limits.max_headers != HYPER_DEFAULT_MAX_HEADERS {
        builder.http1().max_headers(limits.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32);
    let builder = match known.protocol {
        Some(Protocol::Http1) => builder.http1_only(),
        Some(Protocol::Http2) => builder.http2_only(),
        None => builder,
    };
    let watch = known.watch;
    let service_gateway = Arc::clone(&gateway);
    let service_activity = Arc::clone(&activity);
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let gateway = Arc::clone(&service_gateway);
        let in_flight = InFlight::new(&service_activity);
        // HTTP/2 reads its connection all along (and cancels a stream on its own).
        let watch = watch
            .as_ref()
            .filter(|_| req.version() <= hyper::Version::HTTP_11)
            .cloned();
        let response: std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<hyper::Response<Body>, ClientLeft>> + Send>,
        > = Box::pin(async move {
            let response = gateway.handle(req, conn);
            let response = match &watch {
                None => response.await,
                // A client that leaves drops the request, and with it its upstream exchange; the
                // error closes the connection without an answer.
                Some(stream) => tokio::select! {
                    biased;
                    response = response => response,
                    () = client_left(stream) => {
                        tracing::debug!(peer = %conn.peer, "the client left before the response");
                        return Err(ClientLeft);
                    }
                },
            };
            Ok(response.map(|inner| {
                CountedBody {
                    inner,
                    _in_flight: in_flight,
                    watch,
                }
                .boxed()
            }))
        });
        response
    });
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let idle = limits.idle_timeout();
    // How often the idle timeout is checked: a tenth of it, at least 50 ms.
    let tick = (idle / 10).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(peer = %conn.peer, "connection ended: {e}");
                }
                return;
            }
            _ = tokio::time::sleep(tick), if !idle.is_zero() => {
                if activity.idle_for() >= idle {
                    tracing::debug!(peer = %conn.peer, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    // A client that does not let go is cut at the next check.
                    let _ = tokio::time::timeout(tick, connection.as_mut()).await;
                    return;
                }
            }
            _ = shutdown.changed() => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
                return;
            }
        }
    }
}

/// The response body type of every response.
pub type Body = ResponseBody;
