//! Accepting connections: plain TCP or TLS, HTTP/1.1 or HTTP/2 (ALPN or prior knowledge), with
//! a cap on open connections and a deadline for the request head.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Gateway, ResponseBody};

/// What the pipeline knows of the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The client's address (the peer; a proxy's, when there is one).
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub secure: bool,
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

struct Slot(Arc<Gateway>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts connections on `listener` until `shutdown` turns true. With `tls`, every connection
/// is a TLS handshake first.
pub async fn accept_loop(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
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
        let gateway = Arc::clone(&gateway);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => {
                    serve(
                        gateway,
                        TokioIo::new(stream),
                        Connection {
                            peer,
                            secure: false,
                        },
                        shutdown,
                    )
                    .await
                }
                Some(acceptor) => {
                    let timeout = gateway.config.limits.header_read_timeout();
                    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            let conn = Connection { peer, secure: true };
                            serve(gateway, TokioIo::new(tls_stream), conn, shutdown).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

async fn serve<I>(
    gateway: Arc<Gateway>,
    io: I,
    conn: Connection,
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
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32);
    let service_gateway = Arc::clone(&gateway);
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let gateway = Arc::clone(&service_gateway);
        let response: std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<hyper::Response<Body>, Infallible>> + Send>,
        > = Box::pin(async move { Ok(gateway.handle(req, conn).await) });
        response
    });
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(peer = %conn.peer, "connection ended: {e}");
            }
        }
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// The response body type of every response.
pub type Body = ResponseBody;
