//! Operability, in process with real listeners: the decision log line of each demo case parsed
//! field by field (and no secret in it), metrics scraped and parsed, readiness, dry-run, a full
//! decision-log queue, and the Kubernetes ConfigMap `..data` swap reloading a running gateway.

mod support;
use support::config::DECISIONS;
use support::keys::{ALICE, BOB, TOKEN};
use support::observe::{metrics, parse_metrics, records};
use support::scratch::{copy_dir, demo_policies};
use support::sign::Sign;
use support::upstream::{dead_address, Upstream};
use support::{send, Answer, GatewayConfig, Request, Route, Scratch};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use iamgate::proxy::{start, Running};
use serde_json::Value;

const HOST: &str = "127.0.0.1";

/// Signs a bodiless request with the official signer, in the header or (presigned) the query.
fn signed(
    method: &str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    token: Option<&str>,
    presigned: bool,
) -> Request {
    Sign::new(method, uri, host, service, key)
        .token(token)
        .presigned(presigned)
        .request()
}

/// The demo S3 upstream (local store) plus a route-table upstream `orders` at `orders`, an
/// admin listener, the decision log in [`DECISIONS`].
fn config(orders: SocketAddr) -> GatewayConfig {
    GatewayConfig::demo()
        .admin()
        .decisions_file()
        .orders_at(orders, &[Route::GetOrder])
}

/// A gateway on a scratch copy of the demo store, in front of an `orders` upstream that answers
/// `upstream saw <target>`.
struct Ops {
    scratch: Scratch,
    running: Running,
    gw: SocketAddr,
}

async fn gateway(name: &str, config: impl FnOnce(SocketAddr) -> GatewayConfig) -> Ops {
    let scratch = Scratch::gateway(name);
    let (orders, _) = Upstream::new().echo().start().await;
    let running = config(orders).start(&scratch).await;
    let gw = running.http.unwrap();
    Ops {
        scratch,
        running,
        gw,
    }
}

/// Every secret access key of the demo store.
fn demo_secrets() -> Vec<String> {
    let mut secrets = Vec::new();
    for account in std::fs::read_dir(demo_policies()).unwrap() {
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
fn signatures_of(req: &Request) -> Vec<String> {
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

// The demo cases of the decision log, one request each.

/// alice reads a report.
fn alice_reads() -> Request {
    signed(
        "GET",
        "/reports/2026/q1.csv",
        HOST,
        "s3",
        ALICE,
        None,
        false,
    )
}

/// bob reads a confidential report.
fn bob_reads_confidential() -> Request {
    signed(
        "GET",
        "/reports/confidential/salaries.csv",
        HOST,
        "s3",
        BOB,
        None,
        false,
    )
}

/// An anonymous caller reads the public page.
fn anonymous_reads_public() -> Request {
    Request::unsigned("GET", "/public/index.html", HOST)
}

/// alice's key with a wrong secret.
fn forged() -> Request {
    signed(
        "GET",
        "/reports/2026/q1.csv",
        HOST,
        "s3",
        (ALICE.0, "not-the-secret"),
        None,
        false,
    )
}

/// bob, presigned, with a session token.
fn presigned() -> Request {
    signed(
        "GET",
        "/reports/2026/q1.csv?versionId=null",
        HOST,
        "s3",
        BOB,
        Some(TOKEN),
        true,
    )
}

/// alice reads an order through the route table.
fn order() -> Request {
    signed(
        "GET",
        "/orders/42",
        "orders.localhost",
        "orders",
        ALICE,
        None,
        false,
    )
}

/// A malformed header that carries a signature where the parser does not look for one: the
/// error message quotes it to the client, the log must not. The request, and the signature.
fn malformed() -> (Request, String) {
    let quoted = "5c".repeat(32);
    let malformed = Request::unsigned("GET", "/reports/2026/q1.csv", HOST)
        .header(
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature {quoted}",
                BOB.0
            ),
        )
        .header("x-amz-date", "20260101T000000Z")
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    (malformed, quoted)
}

/// Sends `req` to a gateway of its own; the answer and the decision log's one record of it.
async fn logged(name: &str, req: Request) -> (Answer, Value) {
    let ops = gateway(name, config).await;
    let answer = send(ops.gw, req).await;
    let mut log = records(&ops.running, &ops.scratch.join(DECISIONS)).await;
    assert_eq!(log.len(), 1, "one line per request: {log:#?}");
    let record = log
        .remove(&answer.request_id)
        .unwrap_or_else(|| panic!("no record of {}: {log:#?}", answer.request_id));
    ops.running.stop().await;
    (answer, record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_an_allowed_request() {
    let (alice, record) = logged("log-alice", alice_reads()).await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    let r = &record;
    // alice: allowed by her group's managed policy.
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
    assert_eq!(r["requestParameters"]["Host"], HOST);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_an_explicit_deny() {
    let (bob, record) = logged("log-bob", bob_reads_confidential()).await;
    assert_eq!(bob.status, 403);
    let r = &record;
    // bob on confidential: his own Deny statement, by policy name and Sid.
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_an_anonymous_request() {
    let (anonymous, record) = logged("log-anonymous", anonymous_reads_public()).await;
    assert_eq!(anonymous.status, 200);
    let r = &record;
    // Anonymous: CloudTrail's anonymous identity, allowed by the bucket policy.
    assert_eq!(
        r["userIdentity"],
        serde_json::json!({"type": "AWSAccount", "principalId": "", "accountId": "anonymous"})
    );
    assert!(r["additionalEventData"].as_object().unwrap().is_empty());
    let matched = &r["iamgate"]["checks"][0]["matchedStatements"][0];
    assert_eq!(r["iamgate"]["decision"], "allowed");
    assert_eq!(matched["sid"], "PublicRead");
    assert_eq!(matched["source"], "Resource Policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_a_bad_signature() {
    let (forged, record) = logged("log-forged", forged()).await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("SignatureDoesNotMatch"));
    let r = &record;
    // A bad signature: refused at authentication, before any decision; the claimed key is
    // logged (as CloudTrail does), the route still names the operation.
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_a_presigned_request_with_a_session_token() {
    let (_presigned, record) = logged("log-presigned", presigned()).await;
    let r = &record;
    // Presigned with a session token: the query's authentication parameters are left out.
    assert_eq!(
        r["additionalEventData"]["AuthenticationMethod"],
        "QueryString"
    );
    assert_eq!(r["requestParameters"]["versionId"], "null");
    for name in r["requestParameters"].as_object().unwrap().keys() {
        assert!(!name.to_ascii_lowercase().starts_with("x-amz-"), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_a_route_table_request() {
    let (order, record) = logged("log-order", order()).await;
    assert_eq!(order.status, 200, "{}", order.body);
    let r = &record;
    // A route table: the service's event source, the action, the route's parameters.
    assert_eq!(r["eventSource"], "orders.amazonaws.com");
    assert_eq!(r["eventName"], "GetOrder");
    assert_eq!(r["requestParameters"], serde_json::json!({"id": "42"}));
    assert_eq!(
        r["resources"][0]["ARN"],
        "arn:aws:orders:us-east-1:111122223333:order/42"
    );
    assert_eq!(r["resources"][0]["type"], "AWS::Orders::Order");
    assert_eq!(r["iamgate"]["upstream"], "orders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_of_a_malformed_authorization_header_redacts_its_signature() {
    let (request, quoted) = malformed();
    let (malformed, record) = logged("log-malformed", request).await;
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert!(malformed.body.contains(&quoted), "{}", malformed.body);
    let r = &record;
    assert_eq!(r["errorCode"], "AuthorizationHeaderMalformed");
    assert!(r["errorMessage"]
        .as_str()
        .unwrap()
        .contains("'Signature [REDACTED]'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decision_log_has_one_line_per_request_and_no_secret() {
    let ops = gateway("log-secrets", config).await;
    let (malformed, quoted) = malformed();
    let mut signatures = vec![quoted];
    for req in [
        alice_reads(),
        bob_reads_confidential(),
        anonymous_reads_public(),
        forged(),
        presigned(),
        order(),
    ] {
        if req.headers.iter().any(|(n, _)| n == "authorization") || req.uri.contains("X-Amz-") {
            signatures.extend(signatures_of(&req));
        }
        send(ops.gw, req).await;
    }
    send(ops.gw, malformed).await;
    let log = records(&ops.running, &ops.scratch.join(DECISIONS)).await;
    assert_eq!(log.len(), 7, "one line per request: {log:#?}");

    // No secret, signature or session token anywhere in the log.
    let text = std::fs::read_to_string(ops.scratch.join(DECISIONS)).unwrap();
    for secret in demo_secrets()
        .iter()
        .chain(&signatures)
        .chain(&[TOKEN.to_owned()])
    {
        assert!(!text.contains(secret.as_str()), "{secret} is in the log");
    }
    assert!(!text.to_ascii_lowercase().contains("x-amz-signature"));
    assert!(!text.to_ascii_lowercase().contains("x-amz-security-token"));
    ops.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_when_both_upstreams_answer() {
    let ops = gateway("ready", config).await;
    // Both upstreams answer: ready.
    let admin = ops.running.admin.unwrap();
    let ready = send(admin, Request::unsigned("GET", "/readyz", HOST)).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    ops.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_scraped_and_parsed() {
    let scratch = Scratch::gateway("metrics");
    let running = config(dead_address()).start(&scratch).await;
    let gw = running.http.unwrap();
    let admin = running.admin.unwrap();
    let host = HOST;
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

    let scrape = send(admin, Request::unsigned("GET", "/metrics", host)).await;
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

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_of_a_dead_upstream() {
    let scratch = Scratch::gateway("dead-upstream");
    let running = config(dead_address()).start(&scratch).await;
    let admin = running.admin.unwrap();
    let host = HOST;
    let health = send(admin, Request::unsigned("GET", "/healthz", host)).await;
    assert_eq!(health.status, 200);
    let ready = send(admin, Request::unsigned("GET", "/readyz", host)).await;
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
    let ops = gateway("dryrun", |orders| config(orders).s3("dry_run = true")).await;
    let (running, gw) = (ops.running, ops.gw);
    let host = HOST;
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

    let log = records(&running, &ops.scratch.join(DECISIONS)).await;
    let g = &log[&secret.request_id]["iamgate"];
    assert_eq!(g["dryRun"], true);
    assert_eq!(g["decision"], "explicitDeny");
    assert_eq!(g["enforcement"], "would deny");
    assert_eq!(g["status"], 200);
    assert!(log[&secret.request_id].get("errorCode").is_none());
    let g = &log[&allowed.request_id]["iamgate"];
    assert_eq!(g["enforcement"], "would allow");

    let m = metrics(&running).await;
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

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_configmap_swap_reloads_the_gateway() {
    use std::os::unix::fs::symlink;
    // The store as a projected volume mounts it: the files live in a timestamped folder,
    // `..data` points at it, and each account folder is a link through `..data`.
    let scratch = Scratch::gateway("configmap");
    let store = scratch.join("policies");
    std::fs::remove_dir_all(&store).unwrap();
    let first = store.join("..2026_11_28_02_00_00.000000001");
    copy_dir(&demo_policies(), &first);
    symlink("..2026_11_28_02_00_00.000000001", store.join("..data")).unwrap();
    for account in ["111122223333", "444455556666"] {
        symlink(format!("..data/{account}"), store.join(account)).unwrap();
    }
    let (orders, _) = Upstream::new().echo().start().await;
    let running = start(config(orders).parse(&scratch)).await.unwrap();
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
    let m = metrics(&running).await;
    assert!(m[r#"iamgate_policy_reloads_total{outcome="success"}"#] >= 1.0);
    assert!(m["iamgate_policy_generation"] >= 2.0);
    running.stop().await;
}
