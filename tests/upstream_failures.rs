//! Upstreams that fail: one that refuses connections, one that resets before answering, one
//! that resets in the middle of its body, one that never answers, one that answers 5xx. Each
//! gives the right answer (502 or 504 with the gateway's body, the 5xx passed through, a cut
//! body cut), nothing hangs, and after a batch of each the process's open file descriptors,
//! the runtime's live tasks and the gateway's connection count return to where they were. A
//! client that leaves while the upstream thinks cancels the upstream request.

mod support;
use support::hardened;
use support::raw::{open_fds, raw};
use support::upstream::recording_upstream;
use support::Scratch;

use std::net::SocketAddr;
use std::time::Duration;

use iamgate::proxy::{start, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Nothing listens.
    Refuse,
    /// Reads the request, then resets the connection without a word.
    ResetBeforeHead,
    /// Answers 200 with `Content-Length: 1000`, sends 10 bytes, then resets.
    ResetMidBody,
    /// Reads the request and never answers (until the gateway goes away).
    Stall,
    /// Answers 503 with its own body, keep-alive.
    ServerError,
}

/// Reads one request head; false at EOF.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    true
}

/// Closes with a reset (RST) rather than a FIN.
#[allow(deprecated)]
fn reset(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn failing_upstream(kind: Failure) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if kind == Failure::Refuse {
        return addr; // dropped: the port refuses
    }
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                match kind {
                    Failure::Refuse => {}
                    Failure::ResetBeforeHead => {
                        if read_head(&mut stream).await {
                            reset(stream);
                        }
                    }
                    Failure::ResetMidBody => {
                        if read_head(&mut stream).await {
                            let _ = stream
                                .write_all(
                                    b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789",
                                )
                                .await;
                            let _ = stream.flush().await;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            reset(stream);
                        }
                    }
                    Failure::Stall => {
                        // Hold the connection until the gateway lets go of it.
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = stream.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                    Failure::ServerError => {
                        while read_head(&mut stream).await {
                            if stream
                                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nupstream busy")
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn gateway(name: &str, kind: Failure) -> (Scratch, Running, SocketAddr) {
    let s3 = failing_upstream(kind).await;
    gateway_before(
        name,
        s3,
        "upstream_connect_timeout_secs = 1\nupstream_response_timeout_secs = 1\nupstream_pool_idle_secs = 1",
    )
    .await
}

/// A gateway in front of `s3`, with `limits` as its `[limits]` table; its HTTP address.
async fn gateway_before(
    name: &str,
    s3: SocketAddr,
    limits: &str,
) -> (Scratch, Running, SocketAddr) {
    let scratch = hardened::store(name);
    let (orders, _) = recording_upstream().await;
    let running = start(hardened::config(&scratch, s3, orders, limits))
        .await
        .unwrap();
    let gw = running.http.unwrap();
    (scratch, running, gw)
}

/// One GET of an object anyone may read; checks the answer for `kind`.
async fn one(gw: SocketAddr, kind: Failure) {
    let request =
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {gw}\r\nConnection: close\r\n\r\n");
    let r = raw(gw, request.as_bytes()).await;
    match kind {
        Failure::Refuse | Failure::ResetBeforeHead => {
            let r = r.expect("an answer");
            assert_eq!(r.status, 502, "{kind:?}");
            assert!(
                r.body_text().contains("\"error\":\"BadGateway\""),
                "{kind:?}: {}",
                r.body_text()
            );
            assert!(r.header("x-amz-request-id").is_some());
        }
        Failure::Stall => {
            let r = r.expect("an answer");
            assert_eq!(r.status, 504, "{kind:?}");
            assert!(
                r.body_text().contains("\"error\":\"GatewayTimeout\""),
                "{}",
                r.body_text()
            );
        }
        Failure::ResetMidBody => {
            // The head was passed on before the reset: the client gets it, then a body cut
            // short and a closed connection (never a made-up end).
            let r = r.expect("the head");
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-length").as_deref(), Some("1000"));
            assert!(r.body.len() < 1000, "a cut body arrived whole");
        }
        Failure::ServerError => {
            let r = r.expect("an answer");
            assert_eq!(r.status, 503);
            assert_eq!(r.body_text(), "upstream busy");
        }
    }
}

/// Live tasks: the test's runtime (accept loops, clients of the test) and the gateway's
/// workers (connections, upstream connections).
fn tasks(running: &Running) -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
        + running.worker_tasks()
}

/// Waits (up to 10 s) for the process's descriptors and tasks and the gateway's connections to
/// come back to `baseline` (plus `slack` descriptors for pooled keep-alive connections).
async fn settles(
    running: &Running,
    baseline: (usize, usize),
    slack: usize,
) -> (usize, usize, usize) {
    let mut now = (0, 0, 0);
    for _ in 0..200 {
        now = (
            open_fds(),
            tasks(running),
            running.gateway.connections.get(),
        );
        if now.0 <= baseline.0 + slack && now.1 <= baseline.1 + slack && now.2 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_upstreams_answer_right_and_leak_nothing() {
    const BATCH: usize = 25;
    for (name, kind) in [
        ("refuse", Failure::Refuse),
        ("reset-head", Failure::ResetBeforeHead),
        ("reset-body", Failure::ResetMidBody),
        ("stall", Failure::Stall),
        ("5xx", Failure::ServerError),
    ] {
        let (_scratch, running, gw) = gateway(name, kind).await;
        // Warm up (the pool, the runtime's workers), then measure.
        one(gw, kind).await;
        let warm = settles(&running, (usize::MAX / 2, usize::MAX / 2), 0).await;
        let baseline = (warm.0, warm.1);
        // The batch: a few one after the other, the rest at once.
        for _ in 0..5 {
            one(gw, kind).await;
        }
        let at_once: Vec<_> = (0..BATCH - 5)
            .map(|_| tokio::spawn(one(gw, kind)))
            .collect();
        for task in at_once {
            task.await.unwrap();
        }
        // Pooled keep-alive connections to the upstream are let go after 1 s idle
        // (`upstream_pool_idle_secs`); what stays after that is a leak.
        let after = settles(&running, baseline, 4).await;
        assert!(
            after.0 <= baseline.0 + 4,
            "{kind:?}: {} open descriptors after {BATCH} requests, {} before",
            after.0,
            baseline.0
        );
        assert!(
            after.1 <= baseline.1 + 4,
            "{kind:?}: {} live tasks after {BATCH} requests, {} before",
            after.1,
            baseline.1
        );
        assert_eq!(after.2, 0, "{kind:?}: client connections still counted");
        running.stop().await;
    }
}

/// A client that leaves while its request waits on the upstream takes the upstream request
/// with it: the gateway notices the closed connection and drops its side, rather than holding
/// the upstream until it answers (nginx's `proxy_ignore_client_abort off`). On plain TCP the
/// gateway notices by the socket's readiness, not by reading (see `src/proxy/plain.rs`).
#[tokio::test]
async fn a_client_that_leaves_cancels_its_upstream_request() {
    client_leaves_while_the_upstream_thinks(|gw| {
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {gw}\r\n\r\n")
    })
    .await;
}

/// The same after a request body: once the body has been read and forwarded, the client's
/// leaving is still noticed while the upstream has not answered.
#[tokio::test]
async fn a_client_that_leaves_after_its_body_cancels_its_upstream_request() {
    client_leaves_while_the_upstream_thinks(|gw| {
        format!(
            "PUT /bucket/uploads/x HTTP/1.1\r\nHost: {gw}\r\nContent-Length: 11\r\n\r\nhello world"
        )
    })
    .await;
}

/// A client that leaves while its response body streams (the upstream sent the head and the
/// first bytes, then nothing) takes the upstream exchange with it too, without waiting for the
/// upstream's next bytes to fail to reach it.
#[tokio::test]
async fn a_client_that_leaves_mid_body_cancels_its_upstream_response() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nfirst bytes";
    let (s3, _, mut upstream_closed) = stalling_upstream(Some(head)).await;
    let (_scratch, running, gw) = gateway_before(
        "client-leaves-mid-body",
        s3,
        "upstream_response_timeout_secs = 60",
    )
    .await;

    let mut client = TcpStream::connect(gw).await.unwrap();
    client
        .write_all(format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {gw}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"first bytes") {
        let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf))
            .await
            .expect("the response starts")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 200 OK"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    drop(client);
    tokio::time::timeout(Duration::from_secs(5), upstream_closed.recv())
        .await
        .expect("the upstream connection is closed once the client has gone");
    running.stop().await;
}

async fn client_leaves_while_the_upstream_thinks(request: impl Fn(SocketAddr) -> String) {
    let (s3, mut request_seen, mut upstream_closed) = stalling_upstream(None).await;
    let (_scratch, running, gw) =
        gateway_before("client-leaves", s3, "upstream_response_timeout_secs = 60").await;

    let mut client = TcpStream::connect(gw).await.unwrap();
    client.write_all(request(gw).as_bytes()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), request_seen.recv())
        .await
        .expect("the request reaches the upstream");
    // Long enough for the body to be forwarded and the gateway to be waiting on the answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(client);
    tokio::time::timeout(Duration::from_secs(5), upstream_closed.recv())
        .await
        .expect("the upstream connection is closed once the client has gone, not at the timeout");
    running.stop().await;
}

/// An upstream that reads a request head, reports it, writes `answer` (or nothing) and never
/// more, reads whatever else comes (a body), and reports when the gateway closes its side.
async fn stalling_upstream(
    answer: Option<&'static str>,
) -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (got_request, request_seen) = tokio::sync::mpsc::unbounded_channel();
    let (let_go, upstream_closed) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (got_request, let_go) = (got_request.clone(), let_go.clone());
            tokio::spawn(async move {
                if !read_head(&mut stream).await {
                    return;
                }
                let _ = got_request.send(());
                if let Some(answer) = answer {
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                let _ = let_go.send(());
            });
        }
    });
    (addr, request_seen, upstream_closed)
}
