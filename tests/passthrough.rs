//! `passthrough = true`: the proxy core alone, for the load harness's comparison. Everything is
//! forwarded, nothing authenticated or decided; the same gateway without it refuses.

mod support;
use support::{send, GatewayConfig, Request, Scratch};

/// An anonymous GET of `path`; the status and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let answer = send(addr, Request::unsigned("GET", path, &addr.to_string())).await;
    (answer.status, answer.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_forwards_what_enforcement_refuses() {
    let scratch = Scratch::gateway("passthrough");
    let config = |passthrough: bool| {
        GatewayConfig::demo()
            .s3(&format!("passthrough = {passthrough}"))
            .parse(&scratch)
    };
    let secret = "/reports/confidential/salaries.csv";
    let enforcing = iamgate::proxy::start(config(false)).await.unwrap();
    assert_eq!(get(enforcing.http.unwrap(), secret).await.0, 403);
    enforcing.stop().await;
    let open = iamgate::proxy::start(config(true)).await.unwrap();
    let (status, body) = get(open.http.unwrap(), secret).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("name,salary"));
    open.stop().await;
}
