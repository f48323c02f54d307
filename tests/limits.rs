//! The `[limits]`: head size and header count (431), request-target length (414), body size per
//! upstream (413, counted as it streams), the header read timeout, the idle keep-alive timeout,
//! the total request timeout and the connection cap. Each limit is set small here, and each test
//! asserts what the client and the upstream see, never how long something took.

mod support;
use support::hardened::{self, Gateway};
use support::raw::{get, parse_response, raw, signed_get, RawResponse};
use support::upstream::{recording_upstream, stalling_upstream, Log};
use support::Scratch;

use std::net::SocketAddr;
use std::time::Duration;

use iamgate::proxy::{start, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn gateway(name: &str, limits: &str) -> (Scratch, Running, SocketAddr, Log, Log) {
    let Gateway {
        scratch,
        running,
        gw,
        s3,
        orders,
    } = hardened::gateway(name, limits).await;
    (scratch, running, gw, s3, orders)
}

/// Reads until the peer closes; true when it closed (EOF or reset) within 15 s.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_header_count_limit_is_100() {
    let (_scratch, running, gw, s3, _orders) = gateway("header-count", "").await;
    let h = gw.to_string();
    let request = |extra: usize| {
        let headers: String = (0..extra).map(|i| format!("X-H{i}: v\r\n")).collect();
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\n{headers}Connection: close\r\n\r\n")
    };
    // Host and Connection count: 99 more are 101 headers, refused before anything else.
    assert_eq!(
        raw(gw, request(99).as_bytes()).await.map(|r| r.status),
        Some(431)
    );
    assert!(s3.lock().unwrap().is_empty());
    // 90 more go through (the gateway adds its own forwarding headers on the way).
    assert_eq!(
        raw(gw, request(90).as_bytes()).await.map(|r| r.status),
        Some(200)
    );
    assert_eq!(s3.lock().unwrap().len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_uri_and_body_limits() {
    let (_scratch, running, gw, s3, orders) = gateway(
        "sizes",
        "max_header_bytes = 8192\nmax_headers = 20\nmax_uri_bytes = 200\nmax_body_bytes = 10\nupstream_max_body_bytes = { orders = 4 }",
    )
    .await;
    let h = gw.to_string();

    // 431: one header too large, and too many headers.
    let big = format!(
        "GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(raw(gw, big.as_bytes()).await.map(|r| r.status), Some(431));
    let many: String = (0..30).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many =
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\n{many}Connection: close\r\n\r\n");
    assert_eq!(raw(gw, many.as_bytes()).await.map(|r| r.status), Some(431));
    // Within the limits, the same request goes through.
    let fine: String = (0..10).map(|i| format!("X-H{i}: v\r\n")).collect();
    let fine =
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\n{fine}Connection: close\r\n\r\n");
    assert_eq!(raw(gw, fine.as_bytes()).await.map(|r| r.status), Some(200));

    // 414: a request target over max_uri_bytes, before anything else.
    let long = format!(
        "GET /bucket/allowed/{} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n",
        "k".repeat(300)
    );
    let r = raw(gw, long.as_bytes()).await.unwrap();
    assert_eq!(r.status, 414);
    assert!(
        r.body_text().contains("<Code>RequestURITooLong</Code>"),
        "{}",
        r.body_text()
    );
    let s3_before = s3.lock().unwrap().len();

    // 413: a declared length over the limit is refused before anything is forwarded (S3 XML).
    let put = |len: usize, body: &str| {
        format!("PUT /bucket/uploads/x HTTP/1.1\r\nHost: {h}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}")
    };
    let r = raw(gw, put(11, "01234567890").as_bytes()).await.unwrap();
    assert_eq!(r.status, 413);
    assert!(
        r.body_text().contains("<Code>EntityTooLarge</Code>"),
        "{}",
        r.body_text()
    );
    assert_eq!(s3.lock().unwrap().len(), s3_before);
    // Exactly the limit goes through whole.
    let r = raw(gw, put(10, "0123456789").as_bytes()).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(s3.lock().unwrap().last().unwrap().body, b"0123456789");
    // A chunked body is counted as it streams: past the limit the upstream's request is
    // aborted (it never sees a whole body) and the client gets 413.
    let before = s3.lock().unwrap().len();
    let chunked = format!(
        "PUT /bucket/uploads/x HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n6\r\n012345\r\n6\r\n678901\r\n0\r\n\r\n"
    );
    let r = raw(gw, chunked.as_bytes()).await.unwrap();
    assert_eq!(r.status, 413, "{}", r.body_text());
    assert!(r.body_text().contains("EntityTooLarge"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(s3.lock().unwrap()[before..].iter().all(|r| !r.complete));

    // Per upstream: the route table's limit is 4 bytes, and its errors are JSON.
    let r = raw(
        gw,
        b"GET /orders/allowed HTTP/1.1\r\nHost: orders.localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\n12345",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 413);
    assert!(
        r.body_text().contains("\"EntityTooLarge\""),
        "{}",
        r.body_text()
    );
    assert!(orders.lock().unwrap().is_empty());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_idle_connections_are_cut() {
    // The header timeout is 1 s, the idle timeout 1 s.
    let (_scratch, running, gw, _s3, _orders) = gateway(
        "slow",
        "header_read_timeout_secs = 1\nidle_timeout_secs = 1",
    )
    .await;
    let h = gw.to_string();

    // A client that never finishes its head is cut.
    let mut slow = TcpStream::connect(gw).await.unwrap();
    slow.write_all(format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\n").as_bytes())
        .await
        .unwrap();
    assert!(
        closed_by_peer(&mut slow).await,
        "a half-sent head kept the connection"
    );

    // A keep-alive connection that goes idle after a request is closed.
    let mut idle = TcpStream::connect(gw).await.unwrap();
    idle.write_all(format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(6).any(|w| w == b"served") {
        let n = idle.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(parse_response(&got).is_some_and(|r| r.status == 200));
    assert!(
        closed_by_peer(&mut idle).await,
        "an idle keep-alive connection stayed open"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_closes_only_idle_connections() {
    // Long header timeout, short idle timeout: the idle timeout is what closes.
    let (_scratch, running, gw, _s3, _orders) = gateway(
        "idle",
        "header_read_timeout_secs = 60\nidle_timeout_secs = 1",
    )
    .await;
    let h = gw.to_string();
    let mut idle = TcpStream::connect(gw).await.unwrap();
    // Requests keep the connection busy; each is answered on it.
    for _ in 0..3 {
        idle.write_all(format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {h}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.windows(6).any(|w| w == b"served") {
            let n = idle.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed while in use");
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(closed_by_peer(&mut idle).await, "idle connection kept open");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_sends_a_byte_goes_at_the_idle_timeout() {
    // Before its first byte the gateway does not yet know the protocol; it still applies the
    // shorter of the two timeouts.
    let (_scratch, running, gw, _s3, _orders) = gateway(
        "silent",
        "header_read_timeout_secs = 60\nidle_timeout_secs = 1",
    )
    .await;
    let mut silent = TcpStream::connect(gw).await.unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_by_peer(&mut silent).await,
        "silent connection kept open"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed after {:?}, not at the idle timeout",
        started.elapsed()
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_request_timeout_answers_504() {
    let scratch = hardened::store("total");
    let stall = stalling_upstream().await;
    let (orders_addr, _orders) = recording_upstream().await;
    let running = start(hardened::config(
        &scratch,
        stall,
        orders_addr,
        "request_timeout_secs = 1\nupstream_response_timeout_secs = 60",
    ))
    .await
    .unwrap();
    let gw = running.http.unwrap();
    let request =
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {gw}\r\nConnection: close\r\n\r\n");
    let r = raw(gw, request.as_bytes()).await.unwrap();
    assert_eq!(r.status, 504);
    assert!(
        r.body_text().contains("<Code>RequestTimeout</Code>"),
        "{}",
        r.body_text()
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_refuses_the_connection_over_it() {
    let (_scratch, running, gw, _s3, _orders) = gateway(
        "cap",
        "max_connections = 2\nheader_read_timeout_secs = 60\nidle_timeout_secs = 60",
    )
    .await;
    let a = TcpStream::connect(gw).await.unwrap();
    let b = TcpStream::connect(gw).await.unwrap();
    // Both are counted once accepted.
    let counted = tokio::time::timeout(Duration::from_secs(10), async {
        while running.gateway.connections.get() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(counted.is_ok());
    // The third is closed at once, unanswered.
    let mut c = TcpStream::connect(gw).await.unwrap();
    let _ = c
        .write_all(format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {gw}\r\n\r\n").as_bytes())
        .await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), c.read_to_end(&mut got)).await;
    assert!(got.is_empty(), "served over the cap");
    assert_eq!(running.gateway.connections.get(), 2);
    // Once one closes, a new connection is served.
    drop(a);
    let freed = tokio::time::timeout(Duration::from_secs(10), async {
        while running.gateway.connections.get() > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(freed.is_ok());
    let request =
        format!("GET /bucket/allowed/x HTTP/1.1\r\nHost: {gw}\r\nConnection: close\r\n\r\n");
    assert_eq!(
        raw(gw, request.as_bytes()).await.map(|r| r.status),
        Some(200)
    );
    drop(b);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rate_per_principal() {
    // A burst of two and a refill too slow to matter within the test.
    let (_scratch, running, gw, s3, orders) =
        gateway("rates", "principal_rate = 0.001\nprincipal_burst = 2").await;
    let h = gw.to_string();
    let status = |r: Option<RawResponse>| r.map(|r| (r.status, r.body_text()));

    // The signed user: two requests, then S3's throttling error.
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(status(
            raw(gw, &signed_get("/bucket/allowed/x", "", &h, "s3", "")).await,
        ));
    }
    assert_eq!(seen[0].as_ref().map(|s| s.0), Some(200));
    assert_eq!(seen[1].as_ref().map(|s| s.0), Some(200));
    let (code, body) = seen[2].clone().unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("<Code>SlowDown</Code>"), "{body}");

    // Anonymous callers are counted by address, apart from the user: two more, then refused.
    let anonymous = get("/bucket/allowed/x", &h, "");
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(raw(gw, &anonymous).await.map_or(0, |r| r.status));
        }
        v
    };
    assert_eq!(statuses, vec![200, 200, 503]);
    // A forged X-Forwarded-For (no trusted proxies) does not buy a new bucket.
    let forged = get("/bucket/allowed/x", &h, "X-Forwarded-For: 198.51.100.9\r\n");
    assert_eq!(raw(gw, &forged).await.map(|r| r.status), Some(503));

    // The same user's bucket is shared across upstreams; JSON services get ThrottlingException.
    let r = raw(
        gw,
        &signed_get("/orders/allowed", "", "orders.localhost", "orders", ""),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert!(
        r.body_text().contains("ThrottlingException"),
        "{}",
        r.body_text()
    );

    // The gateway's own services count too: STS refuses in its own protocol.
    let query = "Action=GetCallerIdentity&Version=2011-06-15";
    let r = raw(gw, &signed_get("/", query, &h, "sts", ""))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert!(
        r.body_text().contains("<ErrorResponse>")
            && r.body_text().contains("<Code>Throttling</Code>"),
        "{}",
        r.body_text()
    );

    // Refused requests never reached an upstream.
    assert_eq!(s3.lock().unwrap().len(), 4);
    assert_eq!(orders.lock().unwrap().len(), 0);
    drop(running);
}
