//! Operability, in process with real listeners: the decision log line of each demo case parsed
//! field by field (and no secret in it), metrics scraped and parsed, readiness, dry-run,
//! graceful shutdown with its deadline, TLS certificate reload, and the Kubernetes ConfigMap
//! `..data` swap reloading a running gateway.

mod common;
use common::{copy_dir, sign_official, Payload};

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iamgate::config::Config;
use iamgate::proxy::{start, Running, Stopped};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Semaphore};

const ALICE: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);
const BOB: (&str, &str) = (
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
);
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLESESSIONTOKENVALUE0123456789";

/// A scratch folder with a copy of the demo store.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("iamgate-ops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(&common::demo_policies(), &dir.join("policies"));
        Scratch(dir)
    }

    fn log(&self) -> PathBuf {
        self.0.join("decisions.jsonl")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An upstream that answers `upstream saw <target>`. Every request is announced on `arrived`
/// and then waits for a permit of `gate` (none: it answers at once).
async fn upstream(
    arrived: Option<mpsc::UnboundedSender<String>>,
    gate: Option<Arc<Semaphore>>,
) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let arrived = arrived.clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let arrived = arrived.clone();
                        let gate = gate.clone();
                        async move {
                            let target = req.uri().to_string();
                            if let Some(a) = &arrived {
                                let _ = a.send(target.clone());
                            }
                            if let Some(gate) = &gate {
                                // One permit lets one request through, once.
                                if let Ok(permit) = gate.acquire().await {
                                    permit.forget();
                                }
                            }
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(
                                format!("upstream saw {target}"),
                            ))))
                        }
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

/// The demo S3 upstream (local store) plus a route-table upstream `orders` at `orders`.
fn config(scratch: &Scratch, orders: SocketAddr, s3_extra: &str, extra: &str) -> Config {
    let text = format!(
        r#"
        region = "us-east-1"
        policies = "policies"
        {extra}
        [listen]
        http = "127.0.0.1:0"
        admin = "127.0.0.1:0"
        [log]
        decisions = "decisions.jsonl"
        [upstreams.s3]
        kind = "s3"
        local = "data"
        owner = "111122223333"
        {s3_extra}
        [upstreams.orders]
        kind = "routes"
        url = "http://{orders}"
        hosts = ["orders.localhost"]
        service = "orders"
        [[upstreams.orders.actions]]
        name = "GetOrder"
        resource_types = ["order"]
        [[upstreams.orders.routes]]
        method = "GET"
        path = "/orders/{{id}}"
        action = "GetOrder"
        resource_type = "order"
        resource = "arn:aws:orders:{{region}}:{{account}}:order/{{id}}"
        "#
    );
    Config::parse(&text, &scratch.0.join("iamgate.toml"), &scratch.0).unwrap()
}

struct Req {
    method: &'static str,
    uri: String,
    headers: Vec<(String, String)>,
}

/// Signs a bodiless request with the official signer, in the header or (presigned) the query.
fn signed(
    method: &'static str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    token: Option<&str>,
    presigned: bool,
) -> Req {
    let payload = if service == "s3" {
        Payload::Unsigned
    } else {
        Payload::Bytes(b"")
    };
    let official = sign_official(method, uri, host, service, key, token, payload, presigned);
    Req {
        method,
        uri: official.uri,
        headers: official.headers,
    }
}

fn unsigned(method: &'static str, uri: &str, host: &str) -> Req {
    Req {
        method,
        uri: uri.to_owned(),
        headers: vec![("host".into(), host.into())],
    }
}

struct Answer {
    status: u16,
    request_id: String,
    body: String,
}

async fn send(to: SocketAddr, req: Req) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = hyper::Request::builder()
        .method(req.method)
        .uri(format!("http://{to}{}", req.uri));
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let response = client
        .request(builder.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-amz-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        request_id,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Every record of the decision log, by request id (after a flush).
async fn records(running: &Running, path: &Path) -> HashMap<String, Value> {
    running.gateway.decision_log().flush().await;
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            (v["requestID"].as_str().unwrap().to_owned(), v)
        })
        .collect()
}

/// Every secret access key of the demo store.
fn demo_secrets() -> Vec<String> {
    let mut secrets = Vec::new();
    for account in std::fs::read_dir(common::demo_policies()).unwrap() {
        let file = account.unwrap().path().join("credentials.json");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let keys: Vec<Value> = serde_json::from_str(&text).unwrap();
        for k in keys {
            secrets.push(k["SecretAccessKey"].as_str().unwrap().to_owned());
        }
    }
    assert!(secrets.len() >= 4, "{secrets:?}");
    secrets
}

/// The signature values a request carries (header or query).
fn signatures_of(req: &Req) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("authorization") {
            if let Some((_, sig)) = value.split_once("Signature=") {
                out.push(sig.to_owned());
            }
        }
    }
    if let Some((_, rest)) = req.uri.split_once("X-Amz-Signature=") {
        out.push(rest.split('&').next().unwrap().to_owned());
    }
    assert!(!out.is_empty());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_line_of_each_demo_case() {
    let scratch = Scratch::new("log");
    let orders = upstream(None, None).await;
    let running = start(config(&scratch, orders, "", "")).await.unwrap();
    let gw = running.http.unwrap();
    let host = "127.0.0.1";
    let mut signatures = Vec::new();
    let mut go = |req: Req| {
        if req.headers.iter().any(|(n, _)| n == "authorization") || req.uri.contains("X-Amz-") {
            signatures.extend(signatures_of(&req));
        }
        send(gw, req)
    };

    let alice = go(signed(
        "GET",
        "/reports/2026/q1.csv",
        host,
        "s3",
        ALICE,
        None,
        false,
    ))
    .await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    let bob = go(signed(
        "GET",
        "/reports/confidential/salaries.csv",
        host,
        "s3",
        BOB,
        None,
        false,
    ))
    .await;
    assert_eq!(bob.status, 403);
    let anonymous = go(unsigned("GET", "/public/index.html", host)).await;
    assert_eq!(anonymous.status, 200);
    let forged = go(signed(
        "GET",
        "/reports/2026/q1.csv",
        host,
        "s3",
        (ALICE.0, "not-the-secret"),
        None,
        false,
    ))
    .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("SignatureDoesNotMatch"));
    let presigned = go(signed(
        "GET",
        "/reports/2026/q1.csv?versionId=null",
        host,
        "s3",
        BOB,
        Some(TOKEN),
        true,
    ))
    .await;
    let order = go(signed(
        "GET",
        "/orders/42",
        "orders.localhost",
        "orders",
        ALICE,
        None,
        false,
    ))
    .await;
    assert_eq!(order.status, 200, "{}", order.body);

    // A malformed header that carries a signature where the parser does not look for one: the
    // error message quotes it to the client, the log must not.
    let quoted = "5c".repeat(32);
    let mut malformed = unsigned("GET", "/reports/2026/q1.csv", host);
    malformed.headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature {quoted}",
            BOB.0
        ),
    ));
    malformed
        .headers
        .push(("x-amz-date".into(), "20260101T000000Z".into()));
    malformed
        .headers
        .push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
    let malformed = send(gw, malformed).await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(malformed.body.contains(&quoted), "{}", malformed.body);
    signatures.push(quoted);

    let log = records(&running, &scratch.log()).await;
    assert_eq!(log.len(), 7, "one line per request: {log:#?}");
    let r = &log[&malformed.request_id];
    assert_eq!(r["errorCode"], "AuthorizationHeaderMalformed");
    assert!(r["errorMessage"]
        .as_str()
        .unwrap()
        .contains("'Signature [REDACTED]'"));

    // alice: allowed by her group's managed policy.
    let r = &log[&alice.request_id];
    assert_eq!(r["eventVersion"], "1.09");
    assert_eq!(r["eventType"], "AwsApiCall");
    assert_eq!(r["eventSource"], "s3.amazonaws.com");
    assert_eq!(r["eventName"], "GetObject");
    assert_eq!(r["awsRegion"], "us-east-1");
    assert_eq!(r["sourceIPAddress"], "127.0.0.1");
    assert_eq!(r["readOnly"], true);
    let time = r["eventTime"].as_str().unwrap();
    assert!(
        time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    assert_eq!(r["eventID"].as_str().unwrap().len(), 36);
    let who = &r["userIdentity"];
    assert_eq!(who["type"], "IAMUser");
    assert_eq!(who["principalId"], "AIDAALICEEXAMPLE00001");
    assert_eq!(who["arn"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(who["accountId"], "111122223333");
    assert_eq!(who["accessKeyId"], ALICE.0);
    assert_eq!(who["userName"], "alice");
    assert_eq!(r["requestParameters"]["bucketName"], "reports");
    assert_eq!(r["requestParameters"]["key"], "2026/q1.csv");
    assert_eq!(r["requestParameters"]["Host"], host);
    assert_eq!(
        r["resources"],
        serde_json::json!([{"accountId": "111122223333", "type": "AWS::S3::Object",
            "ARN": "arn:aws:s3:::reports/2026/q1.csv"}])
    );
    assert_eq!(r["recipientAccountId"], "111122223333");
    assert_eq!(r["additionalEventData"]["SignatureVersion"], "SigV4");
    assert_eq!(
        r["additionalEventData"]["AuthenticationMethod"],
        "AuthHeader"
    );
    assert!(r.get("errorCode").is_none());
    let g = &r["iamgate"];
    assert_eq!(g["decision"], "allowed");
    assert_eq!(g["enforcement"], "enforced");
    assert_eq!(g["dryRun"], false);
    assert_eq!(g["status"], 200);
    assert_eq!(g["upstream"], "s3");
    assert_eq!(g["generation"], 1);
    let check = &g["checks"][0];
    assert_eq!(check["action"], "s3:GetObject");
    assert_eq!(check["resource"], "arn:aws:s3:::reports/2026/q1.csv");
    assert_eq!(check["decision"], "allowed");
    assert_eq!(
        check["matchedStatements"][0]["policy"],
        "arn:aws:iam::111122223333:policy/AdminAll"
    );
    assert_eq!(check["matchedStatements"][0]["effect"], "Allow");
    assert_eq!(check["matchedStatements"][0]["source"], "IAM Policy");
    for stage in [
        "authenticate",
        "route",
        "inspect",
        "evaluate",
        "upstream",
        "total",
    ] {
        assert!(g["micros"][stage].is_u64(), "{stage}: {g}");
    }

    // bob on confidential: his own Deny statement, by policy name and Sid.
    let r = &log[&bob.request_id];
    assert_eq!(r["userIdentity"]["userName"], "bob");
    assert_eq!(r["errorCode"], "AccessDenied");
    assert_eq!(
        r["errorMessage"],
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on \
         resource: \"arn:aws:s3:::reports/confidential/salaries.csv\" with an explicit deny in an \
         identity-based policy"
    );
    assert_eq!(r["requestParameters"]["key"], "confidential/salaries.csv");
    let g = &r["iamgate"];
    assert_eq!(g["decision"], "explicitDeny");
    assert_eq!(g["status"], 403);
    let matched = &g["checks"][0]["matchedStatements"][0];
    assert_eq!(
        matched["policy"],
        "arn:aws:iam::111122223333:user/bob (inline ReadReports)"
    );
    assert_eq!(matched["sid"], "NoConfidential");
    assert_eq!(matched["effect"], "Deny");
    assert!(
        g["micros"]["upstream"].is_null(),
        "a refused request never reaches the upstream"
    );

    // Anonymous: CloudTrail's anonymous identity, allowed by the bucket policy.
    let r = &log[&anonymous.request_id];
    assert_eq!(
        r["userIdentity"],
        serde_json::json!({"type": "AWSAccount", "principalId": "", "accountId": "anonymous"})
    );
    assert!(r["additionalEventData"].as_object().unwrap().is_empty());
    let matched = &r["iamgate"]["checks"][0]["matchedStatements"][0];
    assert_eq!(r["iamgate"]["decision"], "allowed");
    assert_eq!(matched["sid"], "PublicRead");
    assert_eq!(matched["source"], "Resource Policy");

    // A bad signature: refused at authentication, before any decision; the claimed key is
    // logged (as CloudTrail does), the route still names the operation.
    let r = &log[&forged.request_id];
    assert_eq!(r["errorCode"], "SignatureDoesNotMatch");
    assert_eq!(r["eventName"], "GetObject");
    assert_eq!(r["userIdentity"]["type"], "Unknown");
    assert_eq!(r["userIdentity"]["accessKeyId"], ALICE.0);
    assert!(r["userIdentity"].get("arn").is_none());
    let g = &r["iamgate"];
    assert!(g["decision"].is_null());
    assert_eq!(g["refusedAt"], "authenticate");
    assert_eq!(g["checks"], serde_json::json!([]));
    assert!(g["micros"]["authenticate"].is_null());
    assert!(g["micros"]["total"].is_u64());

    // Presigned with a session token: the query's authentication parameters are left out.
    let r = &log[&presigned.request_id];
    assert_eq!(
        r["additionalEventData"]["AuthenticationMethod"],
        "QueryString"
    );
    assert_eq!(r["requestParameters"]["versionId"], "null");
    for name in r["requestParameters"].as_object().unwrap().keys() {
        assert!(!name.to_ascii_lowercase().starts_with("x-amz-"), "{name}");
    }

    // A route table: the service's event source, the action, the route's parameters.
    let r = &log[&order.request_id];
    assert_eq!(r["eventSource"], "orders.amazonaws.com");
    assert_eq!(r["eventName"], "GetOrder");
    assert_eq!(r["requestParameters"], serde_json::json!({"id": "42"}));
    assert_eq!(
        r["resources"][0]["ARN"],
        "arn:aws:orders:us-east-1:111122223333:order/42"
    );
    assert_eq!(r["resources"][0]["type"], "AWS::Orders::Order");
    assert_eq!(r["iamgate"]["upstream"], "orders");

    // No secret, signature or session token anywhere in the log.
    let text = std::fs::read_to_string(scratch.log()).unwrap();
    for secret in demo_secrets()
        .iter()
        .chain(&signatures)
        .chain(&[TOKEN.to_owned()])
    {
        assert!(!text.contains(secret.as_str()), "{secret} is in the log");
    }
    assert!(!text.to_ascii_lowercase().contains("x-amz-signature"));
    assert!(!text.to_ascii_lowercase().contains("x-amz-security-token"));

    // Both upstreams answer: ready.
    let admin = running.admin.unwrap();
    let ready = send(admin, unsigned("GET", "/readyz", host)).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    running.stop().await;
}

/// `name{labels}` -> value, for every sample of a scrape; panics on a malformed line.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(samples.insert(series.to_owned(), value).is_none(), "{line}");
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scraped_and_readiness_of_a_dead_upstream() {
    let scratch = Scratch::new("metrics");
    // Nothing listens on a port just freed.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let running = start(config(&scratch, dead, "", "")).await.unwrap();
    let gw = running.http.unwrap();
    let admin = running.admin.unwrap();
    let host = "127.0.0.1";
    let ok = signed("GET", "/reports/2026/q1.csv", host, "s3", BOB, None, false);
    assert_eq!(send(gw, ok).await.status, 200);
    let no = signed(
        "GET",
        "/reports/confidential/salaries.csv",
        host,
        "s3",
        BOB,
        None,
        false,
    );
    assert_eq!(send(gw, no).await.status, 403);
    let forged = signed(
        "GET",
        "/reports/2026/q1.csv",
        host,
        "s3",
        (BOB.0, "wrong"),
        None,
        false,
    );
    assert_eq!(send(gw, forged).await.status, 403);
    let order = signed(
        "GET",
        "/orders/1",
        "orders.localhost",
        "orders",
        ALICE,
        None,
        false,
    );
    assert_eq!(send(gw, order).await.status, 502);

    let scrape = send(admin, unsigned("GET", "/metrics", host)).await;
    assert_eq!(scrape.status, 200);
    let m = parse_metrics(&scrape.body);
    let get = |series: &str| {
        *m.get(series)
            .unwrap_or_else(|| panic!("{series} missing from\n{}", scrape.body))
    };
    assert_eq!(
        get(
            r#"iamgate_requests_total{decision="allowed",action="GetObject",upstream="s3",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"iamgate_requests_total{decision="explicitDeny",action="GetObject",upstream="s3",status="403"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"iamgate_requests_total{decision="rejected",action="GetObject",upstream="s3",status="403"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            r#"iamgate_requests_total{decision="allowed",action="orders:GetOrder",upstream="orders",status="502"}"#
        ),
        1.0
    );
    assert_eq!(
        get(r#"iamgate_upstream_errors_total{upstream="orders",kind="unavailable"}"#),
        1.0
    );
    for histogram in [
        "iamgate_authentication_duration_seconds",
        "iamgate_evaluation_duration_seconds",
        "iamgate_upstream_duration_seconds",
        "iamgate_request_duration_seconds",
    ] {
        let count = get(&format!("{histogram}_count"));
        assert_eq!(get(&format!("{histogram}_bucket{{le=\"+Inf\"}}")), count);
        assert!(get(&format!("{histogram}_bucket{{le=\"0.000001\"}}")) <= count);
        assert!(get(&format!("{histogram}_sum")) >= 0.0);
    }
    // Three requests were authenticated; all four were answered.
    assert_eq!(get("iamgate_authentication_duration_seconds_count"), 3.0);
    assert_eq!(get("iamgate_request_duration_seconds_count"), 4.0);
    assert_eq!(get("iamgate_policy_generation"), 1.0);
    assert_eq!(
        get(r#"iamgate_policy_reloads_total{outcome="success"}"#),
        0.0
    );
    assert!(get("iamgate_policy_load_seconds") > 0.0);
    assert!(get("iamgate_open_connections") >= 0.0);
    // The S3 upstream is the built-in store and the orders upstream refused: no connection is
    // open (the refused one gave its place back), nothing waited.
    assert_eq!(get("iamgate_upstream_connections"), 0.0);
    assert_eq!(get("iamgate_upstream_waiting_requests"), 0.0);
    assert_eq!(get("iamgate_upstream_waits_total"), 0.0);
    assert_eq!(get("iamgate_decision_log_dropped_total"), 0.0);

    let health = send(admin, unsigned("GET", "/healthz", host)).await;
    assert_eq!(health.status, 200);
    let ready = send(admin, unsigned("GET", "/readyz", host)).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(
        ready.body.contains("upstream orders does not answer"),
        "{}",
        ready.body
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_forwards_what_enforcement_refuses_and_says_so() {
    let scratch = Scratch::new("dryrun");
    let orders = upstream(None, None).await;
    let running = start(config(&scratch, orders, "dry_run = true", ""))
        .await
        .unwrap();
    let gw = running.http.unwrap();
    let host = "127.0.0.1";
    let secret = send(
        gw,
        signed(
            "GET",
            "/reports/confidential/salaries.csv",
            host,
            "s3",
            BOB,
            None,
            false,
        ),
    )
    .await;
    assert_eq!(secret.status, 200, "dry run forwards regardless");
    assert!(secret.body.starts_with("name,salary"), "{}", secret.body);
    let allowed = send(
        gw,
        signed("GET", "/reports/2026/q1.csv", host, "s3", BOB, None, false),
    )
    .await;
    assert_eq!(allowed.status, 200);

    let log = records(&running, &scratch.log()).await;
    let g = &log[&secret.request_id]["iamgate"];
    assert_eq!(g["dryRun"], true);
    assert_eq!(g["decision"], "explicitDeny");
    assert_eq!(g["enforcement"], "would deny");
    assert_eq!(g["status"], 200);
    assert!(log[&secret.request_id].get("errorCode").is_none());
    let g = &log[&allowed.request_id]["iamgate"];
    assert_eq!(g["enforcement"], "would allow");

    let scrape = send(running.admin.unwrap(), unsigned("GET", "/metrics", host)).await;
    let m = parse_metrics(&scrape.body);
    assert_eq!(
        m[r#"iamgate_dry_run_requests_total{upstream="s3",action="GetObject",enforcement="would_deny"}"#],
        1.0
    );
    assert_eq!(
        m[r#"iamgate_dry_run_requests_total{upstream="s3",action="GetObject",enforcement="would_allow"}"#],
        1.0
    );
    running.stop().await;
}

/// Whether a new TCP connection to `addr` is refused.
async fn refused(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_and_refuses_new_ones() {
    let scratch = Scratch::new("shutdown");
    let (arrived_tx, mut arrived) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let orders = upstream(Some(arrived_tx), Some(Arc::clone(&gate))).await;
    let order = || {
        signed(
            "GET",
            "/orders/7",
            "orders.localhost",
            "orders",
            ALICE,
            None,
            false,
        )
    };

    let running = start(config(&scratch, orders, "", "")).await.unwrap();
    let gw = running.http.unwrap();
    let slow = tokio::spawn(send(gw, order()));
    assert_eq!(arrived.recv().await.unwrap(), "/orders/7");
    let stopping = tokio::spawn(running.stop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused(gw).await {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !stopping.is_finished(),
        "stop waits for the request in flight"
    );
    gate.add_permits(1);
    let answer = slow.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "upstream saw /orders/7");
    assert_eq!(stopping.await.unwrap(), Stopped::Drained);
    // The request was recorded before the log was flushed at the end of stop.
    let text = std::fs::read_to_string(scratch.log()).unwrap();
    assert!(text.contains(&answer.request_id));

    // A request that does not finish within the grace period is abandoned.
    let running = start(config(&scratch, orders, "", "")).await.unwrap();
    let gw = running.http.unwrap();
    let stuck = tokio::spawn(send(gw, order()));
    assert_eq!(arrived.recv().await.unwrap(), "/orders/7");
    assert_eq!(
        running.stop_within(Duration::from_millis(200)).await,
        Stopped::DeadlinePassed { open: 1 }
    );
    assert!(refused(gw).await);
    gate.add_permits(1);
    stuck.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_decision_log_queue_drops_and_counts() {
    /// A sink that blocks until the test ends.
    struct Stuck(std::sync::mpsc::Receiver<()>);
    impl std::io::Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (release, blocked) = std::sync::mpsc::channel();
    let log = iamgate::audit::DecisionLog::with_writer(Box::new(Stuck(blocked)), 1).unwrap();
    for _ in 0..10 {
        log.submit(iamgate::audit::Record::default());
    }
    // At most one record is being written and one waits in the queue.
    assert!(log.dropped() >= 8, "{}", log.dropped());
    drop(release);
}

/// A client that accepts any certificate and reports which one the server presented.
#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &rustls::pki_types::CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn tls_connect(addr: SocketAddr) -> TlsStream {
    tls_connect_alpn(addr, &[]).await
}

/// A TLS connection offering `alpn` (none: no ALPN extension).
async fn tls_connect_alpn(addr: SocketAddr, alpn: &[&[u8]]) -> TlsStream {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AnyCert))
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

fn presented(stream: &TlsStream) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn pem_cert(path: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

/// One HTTP/1.1 GET of the public page on an open connection; its status line.
async fn get_public(stream: &mut TlsStream) -> String {
    stream
        .write_all(b"GET /public/index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(b"</html>\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    text.lines().next().unwrap_or("").to_owned()
}

/// A gateway with an HTTPS listener, its certificate and key the repository's development pair
/// copied to `tls/server.crt` and `tls/server.key` in `scratch`; its HTTPS address.
async fn tls_gateway(scratch: &Scratch) -> (Running, SocketAddr) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = scratch.0.join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(root.join("certs/dev.crt"), dir.join("server.crt")).unwrap();
    std::fs::copy(root.join("certs/dev.key"), dir.join("server.key")).unwrap();
    let orders = upstream(None, None).await;
    let tls = r#"
        [tls]
        cert = "tls/server.crt"
        key = "tls/server.key"
        "#;
    let mut config = config(scratch, orders, "", tls);
    config.https = Some("127.0.0.1:0".parse().unwrap());
    let running = start(config).await.unwrap();
    let https = running.https.unwrap();
    (running, https)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_certificate_reloads_and_open_connections_keep_going() {
    let scratch = Scratch::new("tls");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (running, https) = tls_gateway(&scratch).await;
    let dir = scratch.0.join("tls");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let reloads = running.gateway.tls.clone().unwrap();

    let first = pem_cert(&root.join("certs/dev.crt"));
    let rotated = pem_cert(&root.join("tests/data/tls/rotated.crt"));
    let mut open = tls_connect(https).await;
    assert_eq!(presented(&open), first);
    assert_eq!(get_public(&mut open).await, "HTTP/1.1 200 OK");

    // Rotate as cert-manager or an operator does: new files renamed over the old ones.
    for (from, to) in [("rotated.key", &key), ("rotated.crt", &cert)] {
        let tmp = dir.join(format!(".{from}.tmp"));
        std::fs::copy(root.join("tests/data/tls").join(from), &tmp).unwrap();
        std::fs::rename(&tmp, to).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while presented(&tls_connect(https).await) != rotated {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection made before the rotation keeps going, on its certificate.
    assert_eq!(presented(&open), first);
    assert_eq!(get_public(&mut open).await, "HTTP/1.1 200 OK");

    // A broken certificate keeps the one in force.
    let failed = || {
        reloads
            .stats
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let failed_before = failed();
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while failed() == failed_before {
        assert!(
            Instant::now() < deadline,
            "the broken certificate was not tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut after = tls_connect(https).await;
    assert_eq!(presented(&after), rotated);
    assert_eq!(get_public(&mut after).await, "HTTP/1.1 200 OK");
    let scrape = send(
        running.admin.unwrap(),
        unsigned("GET", "/metrics", "127.0.0.1"),
    )
    .await;
    let m = parse_metrics(&scrape.body);
    assert!(m[r#"iamgate_tls_reloads_total{outcome="failure"}"#] >= 1.0);
    assert!(m[r#"iamgate_tls_reloads_total{outcome="success"}"#] >= 1.0);
    drop(open);
    drop(after);
    running.stop().await;
}

/// Over TLS the gateway serves the protocol ALPN agreed on (and, without ALPN, either, told by
/// the first bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_the_protocol_alpn_agreed_on() {
    let scratch = Scratch::new("tls-alpn");
    let (running, https) = tls_gateway(&scratch).await;

    /// One HTTP/2 GET of the public page; its status.
    async fn h2_get(stream: TlsStream) -> u16 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let request = http::Request::get("https://127.0.0.1/public/index.html")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        sender
            .send_request(request)
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    let h2 = tls_connect_alpn(https, &[b"h2", b"http/1.1"]).await;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(h2_get(h2).await, 200);

    let mut h1 = tls_connect_alpn(https, &[b"http/1.1"]).await;
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(get_public(&mut h1).await, "HTTP/1.1 200 OK");
    assert_eq!(get_public(&mut h1).await, "HTTP/1.1 200 OK");

    // Without ALPN, both still work: the first bytes tell.
    assert_eq!(h2_get(tls_connect(https).await).await, 200);
    let mut plain_h1 = tls_connect(https).await;
    assert_eq!(get_public(&mut plain_h1).await, "HTTP/1.1 200 OK");
    running.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_configmap_swap_reloads_the_gateway() {
    use std::os::unix::fs::symlink;
    // The store as a projected volume mounts it: the files live in a timestamped folder,
    // `..data` points at it, and each account folder is a link through `..data`.
    let scratch = Scratch::new("configmap");
    let store = scratch.0.join("policies");
    std::fs::remove_dir_all(&store).unwrap();
    let first = store.join("..2026_11_28_02_00_00.000000001");
    copy_dir(&common::demo_policies(), &first);
    symlink("..2026_11_28_02_00_00.000000001", store.join("..data")).unwrap();
    for account in ["111122223333", "444455556666"] {
        symlink(format!("..data/{account}"), store.join(account)).unwrap();
    }
    let orders = upstream(None, None).await;
    let running = start(config(&scratch, orders, "", "")).await.unwrap();
    let gw = running.http.unwrap();
    let read = || {
        signed(
            "GET",
            "/reports/2026/q1.csv",
            "127.0.0.1",
            "s3",
            BOB,
            None,
            false,
        )
    };
    assert_eq!(send(gw, read()).await.status, 200);

    // What the kubelet does on a ConfigMap change: a new timestamped folder, a new link,
    // renamed over `..data`, the old folder removed.
    let second = store.join("..2026_11_28_02_05_00.000000002");
    copy_dir(&first, &second);
    let iam = second.join("111122223333/iam.json");
    let text = std::fs::read_to_string(&iam).unwrap();
    let denied = text.replace(
        "\"Resource\": \"arn:aws:s3:::reports/confidential/*\"",
        "\"Resource\": [\"arn:aws:s3:::reports/confidential/*\", \"arn:aws:s3:::reports/2026/*\"]",
    );
    assert_ne!(denied, text);
    std::fs::write(&iam, denied).unwrap();
    symlink("..2026_11_28_02_05_00.000000002", store.join("..data_tmp")).unwrap();
    std::fs::rename(store.join("..data_tmp"), store.join("..data")).unwrap();
    std::fs::remove_dir_all(&first).unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while send(gw, read()).await.status != 403 {
        assert!(Instant::now() < deadline, "the swap was not picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running.gateway.store().generation() >= 2);
    let scrape = send(
        running.admin.unwrap(),
        unsigned("GET", "/metrics", "127.0.0.1"),
    )
    .await;
    let m = parse_metrics(&scrape.body);
    assert!(m[r#"iamgate_policy_reloads_total{outcome="success"}"#] >= 1.0);
    assert!(m["iamgate_policy_generation"] >= 2.0);
    running.stop().await;
}
