//! The upstream connection pool, against a raw TCP upstream that counts its connections and
//! sees the bytes the gateway writes: connections are reused once a response has been read to
//! its end, never while one is still streaming, never after the client gave up on a body, and
//! a connection the upstream closed is passed over without failing the request; at the limit of
//! connections to an origin, requests wait for one to come free.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty};
use iamgate::proxy::forward::{box_error, Forwarder, ProxyBody};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the upstream treats a connection after each response.
#[derive(Clone, Copy)]
enum After {
    KeepOpen,
    Close,
}

struct Upstream {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

/// Answers every request with `body` (`HEAD` without it).
async fn upstream(body: &'static str, after: After) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (count, seen) = (Arc::clone(&connections), Arc::clone(&heads));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let is_head = head.starts_with("HEAD ");
                        seen.lock().unwrap().push(head);
                        let answer = if is_head {
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                        } else {
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        };
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if let After::Close = after {
                            let _ = stream.shutdown().await;
                            return;
                        }
                    }
                }
            });
        }
    });
    Upstream {
        addr,
        connections,
        heads,
    }
}

fn request(method: Method, addr: std::net::SocketAddr, path: &str) -> Request<ProxyBody> {
    let mut request = Request::new(Empty::<Bytes>::new().map_err(box_error).boxed());
    *request.method_mut() = method;
    *request.uri_mut() = format!("http://{addr}{path}").parse().unwrap();
    request
}

fn forwarder() -> Forwarder {
    capped(0, Duration::from_secs(5))
}

/// A forwarder that opens at most `max` connections to an origin and waits `timeout` for a
/// response head.
fn capped(max: usize, timeout: Duration) -> Forwarder {
    Forwarder::new(
        Duration::from_secs(5),
        timeout,
        Duration::from_secs(60),
        max,
    )
    .unwrap()
}

async fn read_all(forwarder: &Forwarder, req: Request<ProxyBody>) -> String {
    let response = forwarder.send(req).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn a_connection_is_reused_once_its_response_is_read() {
    let up = upstream("hello", After::KeepOpen).await;
    let f = forwarder();
    for i in 0..5 {
        let got = read_all(&f, request(Method::GET, up.addr, &format!("/o/{i}?a=1"))).await;
        assert_eq!(got, "hello");
    }
    // A response without a body frees its connection at once.
    let head = f
        .send(request(Method::HEAD, up.addr, "/o/h"))
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    drop(head);
    read_all(&f, request(Method::GET, up.addr, "/o/after-head")).await;
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);

    // What went on the wire: the request target in origin form, and a Host header.
    let heads = up.heads.lock().unwrap().clone();
    assert!(
        heads[0].starts_with("GET /o/0?a=1 HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: {}", up.addr)),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn a_connection_still_streaming_or_abandoned_is_not_reused() {
    let up = upstream("a body that is read later", After::KeepOpen).await;
    let f = forwarder();
    // Two responses held at once need two connections.
    let first = f.send(request(Method::GET, up.addr, "/1")).await.unwrap();
    let second = f.send(request(Method::GET, up.addr, "/2")).await.unwrap();
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    // The first is abandoned before its end: its connection is not given to anyone.
    drop(first);
    let body = second.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"a body that is read later");
    // The second, read to its end, serves the next request.
    read_all(&f, request(Method::GET, up.addr, "/3")).await;
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_passed_over() {
    let up = upstream("bye", After::Close).await;
    let f = forwarder();
    for i in 0..4 {
        let got = read_all(&f, request(Method::GET, up.addr, &format!("/{i}"))).await;
        assert_eq!(got, "bye");
        // Let the upstream's close reach the pooled connection, as between real requests.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(up.connections.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let f = forwarder();
    let err = f
        .send(request(Method::GET, addr, "/"))
        .await
        .expect_err("nothing listens there");
    assert_eq!(err.status(), 502, "{err}");
}

#[tokio::test]
async fn at_the_limit_a_request_waits_for_a_connection_to_come_free() {
    let up = upstream("shared", After::KeepOpen).await;
    let f = Arc::new(capped(2, Duration::from_secs(5)));
    let first = f.send(request(Method::GET, up.addr, "/1")).await.unwrap();
    let second = f.send(request(Method::GET, up.addr, "/2")).await.unwrap();
    let third = tokio::spawn({
        let f = Arc::clone(&f);
        async move { read_all(&f, request(Method::GET, up.addr, "/3")).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !third.is_finished(),
        "both connections are busy: the third request waits"
    );
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
    let load = f.load();
    assert_eq!((load.open, load.waiting, load.waits), (2, 1, 1));

    // The first response read to its end hands its connection to the waiting request.
    let body = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"shared");
    assert_eq!(third.await.unwrap(), "shared");
    drop(second);
    assert_eq!(
        up.connections.load(Ordering::SeqCst),
        2,
        "no third connection"
    );
    assert_eq!(up.heads.lock().unwrap().len(), 3);
    let load = f.load();
    assert_eq!((load.waiting, load.waits), (0, 1));
}

#[tokio::test]
async fn a_connection_that_closes_frees_its_place_for_a_waiting_request() {
    let up = upstream("again", After::KeepOpen).await;
    let f = Arc::new(capped(1, Duration::from_secs(5)));
    let first = f.send(request(Method::GET, up.addr, "/1")).await.unwrap();
    let second = tokio::spawn({
        let f = Arc::clone(&f);
        async move { read_all(&f, request(Method::GET, up.addr, "/2")).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!second.is_finished());
    // Abandoned before its end, the first connection closes; its place goes to the waiter.
    drop(first);
    assert_eq!(second.await.unwrap(), "again");
    assert_eq!(up.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_waits_no_longer_than_the_response_timeout() {
    let up = upstream("late", After::KeepOpen).await;
    let f = capped(1, Duration::from_millis(200));
    let first = f.send(request(Method::GET, up.addr, "/1")).await.unwrap();
    let err = f
        .send(request(Method::GET, up.addr, "/2"))
        .await
        .expect_err("the only connection is busy past the timeout");
    assert_eq!(err.status(), 504, "{err}");
    // The request that gave up is passed over: the connection goes to the next one.
    let body = first.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"late");
    assert_eq!(
        read_all(&f, request(Method::GET, up.addr, "/3")).await,
        "late"
    );
    assert_eq!(up.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn requests_waiting_on_an_origin_that_cannot_be_reached_fail_at_once() {
    // Accepts and hangs up after a moment: every TLS handshake fails.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(stream);
            });
        }
    });
    let https = |path: &str| {
        let mut request = request(Method::GET, addr, path);
        *request.uri_mut() = format!("https://{addr}{path}").parse().unwrap();
        request
    };
    let f = Arc::new(capped(1, Duration::from_secs(10)));
    let first = tokio::spawn({
        let (f, request) = (Arc::clone(&f), https("/1"));
        async move { f.send(request).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = tokio::spawn({
        let (f, request) = (Arc::clone(&f), https("/2"));
        async move { f.send(request).await }
    });
    for task in [first, second] {
        let err = task.await.unwrap().expect_err("no TLS there");
        assert_eq!(err.status(), 502, "{err}");
    }
    // The waiting request failed with the first attempt: it did not make one of its own.
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert_eq!(f.load().open, 0, "every place given back");
}
