//! Every request is recorded once, from what the gateway learnt while serving it, whatever the
//! outcome: answered after the upstream's 404 with a refusal, timed out, abandoned by its
//! client; and a request signed for a service nobody here answers gets its error in that
//! service's protocol.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use iamgate::proxy::{start, Running};
use serde_json::Value;
use support::config::DECISIONS;
use support::hardened::{self, TESTER_ARN};
use support::raw::{raw, signed_get};
use support::upstream::recording_upstream;
use support::{GatewayConfig, Route, Scratch};
use tokio::io::AsyncWriteExt;

/// An S3 upstream that answers 404 under `missing/`, stalls under `slow/`, 200 otherwise.
async fn s3_upstream() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let path = req.uri().path().to_owned();
                        if path.contains("/slow/") {
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        let status = if path.contains("/missing/") { 404 } else { 200 };
                        let mut response =
                            hyper::Response::new(Full::new(Bytes::from_static(b"body")));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A gateway on the hardening store in front of [`s3_upstream`], with the decision log on
/// and `limits`.
async fn gateway_with(scratch: &Scratch, limits: &str) -> (Running, SocketAddr) {
    let s3 = s3_upstream().await;
    let (orders, _) = recording_upstream().await;
    let config = GatewayConfig::s3_at(s3)
        .limits(limits)
        .decisions_file()
        .orders_at(orders, &[Route::GetOrder, Route::GetFile])
        .parse(scratch);
    let running = start(config).await.unwrap();
    let addr = running.http.unwrap();
    (running, addr)
}

/// [`gateway_with`] a total request timeout of one second.
async fn gateway(scratch: &Scratch) -> (Running, SocketAddr) {
    gateway_with(
        scratch,
        "request_timeout_secs = 1\nupstream_response_timeout_secs = 120",
    )
    .await
}

/// The decision log's records, after a flush.
async fn records(running: &Running, scratch: &Scratch) -> Vec<Value> {
    running.gateway.decision_log().flush().await;
    std::fs::read_to_string(scratch.join(DECISIONS))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The one record with this request id.
async fn record_of(running: &Running, scratch: &Scratch, request_id: &str) -> Value {
    let all = records(running, scratch).await;
    let mut matching = all.iter().filter(|r| r["requestID"] == request_id);
    let record = matching
        .next()
        .unwrap_or_else(|| panic!("no record of {request_id} in {all:?}"))
        .clone();
    assert!(matching.next().is_none(), "{request_id} recorded twice");
    record
}

/// The value of one series of `iamgate_requests_total`.
fn requests_total(running: &Running, labels: &str) -> f64 {
    let text = running.gateway.render_metrics();
    let prefix = format!("iamgate_requests_total{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_answered_403_without_list_bucket_is_logged_as_denied() {
    let scratch = hardened::store("records-404");
    let (running, gw) = gateway(&scratch).await;
    // The tester may read bucket/allowed/* but not list the bucket.
    let r = raw(
        gw,
        &signed_get("/bucket/allowed/missing/x", "", &gw.to_string(), "s3", ""),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.body_text());
    let id = r.header("x-amz-request-id").unwrap();
    let record = record_of(&running, &scratch, &id).await;
    let details = &record["iamgate"];
    assert_eq!(details["status"], 403);
    assert_ne!(details["decision"], "allowed", "{record}");
    assert_eq!(record["errorCode"], "AccessDenied");
    let checks: Vec<(String, String)> = details["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        checks.contains(&("s3:GetObject".into(), "allowed".into())),
        "{checks:?}"
    );
    assert!(
        checks
            .iter()
            .any(|(action, decision)| action == "s3:ListBucket" && decision != "allowed"),
        "{checks:?}"
    );
    // An object that exists is still allowed, and logged so.
    let r = raw(
        gw,
        &signed_get("/bucket/allowed/here", "", &gw.to_string(), "s3", ""),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let id = r.header("x-amz-request-id").unwrap();
    assert_eq!(
        record_of(&running, &scratch, &id).await["iamgate"]["decision"],
        "allowed"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_request_keeps_its_id_and_is_recorded_and_counted() {
    let scratch = hardened::store("records-timeout");
    let (running, gw) = gateway(&scratch).await;
    let series = r#"decision="allowed",action="GetObject",upstream="s3",status="504""#;
    let before = requests_total(&running, series);
    let r = raw(
        gw,
        &signed_get("/bucket/allowed/slow/x", "", &gw.to_string(), "s3", ""),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 504, "{}", r.body_text());
    let id = r.header("x-amz-request-id").unwrap();
    assert!(r
        .body_text()
        .contains(&format!("<RequestId>{id}</RequestId>")));
    let record = record_of(&running, &scratch, &id).await;
    assert_eq!(record["errorCode"], "RequestTimeout", "{record}");
    assert_eq!(record["iamgate"]["status"], 504);
    assert_eq!(record["eventName"], "GetObject");
    assert_eq!(
        record["userIdentity"]["arn"], TESTER_ARN,
        "the caller was known before the timeout: {record}"
    );
    assert_eq!(requests_total(&running, series), before + 1.0);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_client_left_is_recorded_once() {
    let scratch = hardened::store("records-gone");
    // No total timeout: only the client's leaving ends the request.
    let (running, gw) = gateway_with(
        &scratch,
        "request_timeout_secs = 0\nupstream_response_timeout_secs = 120",
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(gw).await.unwrap();
    let request = signed_get("/bucket/allowed/slow/gone", "", &gw.to_string(), "s3", "");
    stream.write_all(&request).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(stream);
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let all = records(&running, &scratch).await;
            let gone: Vec<_> = all
                .into_iter()
                .filter(|r| r["requestParameters"]["key"] == "allowed/slow/gone")
                .collect();
            if !gone.is_empty() {
                return gone;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the abandoned request is recorded");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["iamgate"]["status"], 499);
    assert_eq!(found[0]["iamgate"]["decision"], "allowed");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_nobody_answers_gets_errors_in_its_own_protocol() {
    let scratch = hardened::store("records-foreign");
    let (running, gw) = gateway(&scratch).await;
    let host = gw.to_string();
    // IAM's SDKs parse the query protocol's <ErrorResponse>.
    let r = raw(gw, &signed_get("/", "Action=ListUsers", &host, "iam", ""))
        .await
        .unwrap();
    let body = r.body_text();
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/xml"),
        "{body}"
    );
    assert!(body.contains("<ErrorResponse>"), "{body}");
    assert!(body.contains("<Type>Sender</Type>"), "{body}");
    let id = r.header("x-amz-request-id").unwrap();
    assert!(
        body.contains(&format!("<RequestId>{id}</RequestId>")),
        "{body}"
    );
    // DynamoDB's parse JSON.
    let r = raw(gw, &signed_get("/", "", &host, "dynamodb", ""))
        .await
        .unwrap();
    let json: Value = serde_json::from_str(&r.body_text()).unwrap();
    assert!(json["__type"].is_string(), "{json}");
    // S3's are still S3's.
    let r = raw(gw, &signed_get("/bucket/secret/x", "", &host, "s3", ""))
        .await
        .unwrap();
    assert!(r.body_text().contains("<Error><Code>"), "{}", r.body_text());
    // Each refusal was recorded, once.
    assert!(records(&running, &scratch).await.len() >= 3);
    running.stop().await;
}
