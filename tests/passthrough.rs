//! `passthrough = true`: the proxy core alone, for the load harness's comparison. Everything is
//! forwarded, nothing authenticated or decided; the same gateway without it refuses.

mod common;

use std::path::Path;

use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iamgate::config::Config;

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, bytes::Bytes) {
    let client: Client<_, Empty<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_forwards_what_enforcement_refuses() {
    let dir = std::env::temp_dir().join(format!("iamgate-passthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    common::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &dir.join("policies"),
    );
    let config = |passthrough: bool| {
        let text = format!(
            r#"
            policies = "policies"
            [listen]
            http = "127.0.0.1:0"
            [upstreams.s3]
            kind = "s3"
            local = "data"
            owner = "111122223333"
            passthrough = {passthrough}
            "#
        );
        Config::parse(&text, &dir.join("iamgate.toml"), &dir).unwrap()
    };
    let secret = "/reports/confidential/salaries.csv";
    let enforcing = iamgate::proxy::start(config(false)).await.unwrap();
    assert_eq!(get(enforcing.http.unwrap(), secret).await.0, 403);
    enforcing.stop().await;
    let open = iamgate::proxy::start(config(true)).await.unwrap();
    let (status, body) = get(open.http.unwrap(), secret).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"name,salary"));
    open.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
