//! The gateway in process, end to end: real listeners, the built-in object store, an in-process
//! HTTP upstream behind a route table, requests signed by the official `aws-sigv4` crate.

mod common;
use common::{copy_dir, sign_official, Payload};

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iamgate::config::Config;
use iamgate::proxy::{start, Running};
use sha2::{Digest, Sha256};

const BOB: (&str, &str) = (
    "AKIAI44QH8DHBEXAMPLE",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
);
const ALICE: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);

/// What the in-process upstream saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, http::HeaderMap)>,
}

/// A scratch folder with a copy of the demo store.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("iamgate-gw-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
            &dir.join("policies"),
        );
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts an upstream that records requests; `delay` holds each answer back.
async fn upstream(seen: Arc<Mutex<Seen>>, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = Arc::clone(&seen);
                        async move {
                            tokio::time::sleep(delay).await;
                            let target = req.uri().to_string();
                            seen.lock()
                                .unwrap()
                                .requests
                                .push((target.clone(), req.headers().clone()));
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

fn config(scratch: &Scratch, orders: SocketAddr, extra: &str) -> Config {
    let text = format!(
        r#"
        region = "us-east-1"
        policies = "policies"
        [listen]
        http = "127.0.0.1:0"
        admin = "127.0.0.1:0"
        [log]
        decisions = "off"
        [limits]
        upstream_response_timeout_secs = 1
        {extra}
        [upstreams.s3]
        kind = "s3"
        local = "data"
        owner = "111122223333"
        [upstreams.orders]
        kind = "routes"
        url = "http://{orders}"
        hosts = ["orders.localhost"]
        service = "orders"
        [[upstreams.orders.actions]]
        name = "GetOrder"
        resource_types = ["order"]
        [[upstreams.orders.actions]]
        name = "UpdateOrder"
        resource_types = ["order"]
        [[upstreams.orders.routes]]
        method = "POST"
        path = "/orders/{{id}}"
        action = "UpdateOrder"
        resource_type = "order"
        resource = "arn:aws:orders:{{region}}:{{account}}:order/{{id}}"
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

struct Signed {
    method: &'static str,
    uri: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// Signs with the official signer, as the SDKs do.
fn signed(
    method: &'static str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    body: &[u8],
    claimed_sha256: Option<&str>,
) -> Signed {
    let payload = if service == "s3" {
        let hash = hex::encode(Sha256::digest(body));
        Payload::Claimed(claimed_sha256.map_or(hash, str::to_owned))
    } else {
        Payload::Bytes(body)
    };
    let official = sign_official(method, uri, host, service, key, None, payload, false);
    Signed {
        method,
        uri: official.uri,
        headers: official.headers,
        body: Bytes::copy_from_slice(body),
    }
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

async fn send(gateway: SocketAddr, req: Signed) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut builder = hyper::Request::builder()
        .method(req.method)
        .uri(format!("http://{gateway}{}", req.uri));
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let response = client
        .request(builder.body(Full::new(req.body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn unsigned(method: &'static str, uri: &str, host: &str) -> Signed {
    Signed {
        method,
        uri: uri.to_owned(),
        headers: vec![("host".into(), host.into())],
        body: Bytes::new(),
    }
}

async fn gateway(scratch: &Scratch, orders: SocketAddr) -> (Running, SocketAddr) {
    let running = start(config(scratch, orders, "")).await.unwrap();
    let addr = running.http.unwrap();
    (running, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_allowed_denied_and_authentication_errors() {
    let scratch = Scratch::new("s3");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let orders = upstream(Arc::clone(&seen), Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    let host = "127.0.0.1";

    let public = send(gw, unsigned("GET", "/public/index.html", host)).await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("public bucket"));

    let denied = send(gw, unsigned("GET", "/reports/2026/q1.csv", host)).await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.body.contains("<Code>AccessDenied</Code>"),
        "{}",
        denied.body
    );
    let id = denied.headers["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(denied
        .body
        .contains(&format!("<RequestId>{id}</RequestId>")));

    let read = send(
        gw,
        signed("GET", "/reports/2026/q1.csv", host, "s3", BOB, b"", None),
    )
    .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.starts_with("month,revenue"));

    let secret = send(
        gw,
        signed(
            "GET",
            "/reports/confidential/salaries.csv",
            host,
            "s3",
            BOB,
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(secret.status, 403);
    assert!(secret.body.contains("AccessDenied"));

    let wrong = send(
        gw,
        signed(
            "GET",
            "/reports/2026/q1.csv",
            host,
            "s3",
            (BOB.0, "not-the-secret"),
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(wrong.status, 403);
    assert!(
        wrong.body.contains("SignatureDoesNotMatch"),
        "{}",
        wrong.body
    );

    let unknown = send(
        gw,
        signed(
            "GET",
            "/reports/2026/q1.csv",
            host,
            "s3",
            ("AKIAUNKNOWN000000000", "x"),
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(unknown.status, 403);
    assert!(unknown.body.contains("InvalidAccessKeyId"));

    // Virtual-hosted style names the bucket in the host.
    let vhost = send(
        gw,
        signed(
            "GET",
            "/2026/q1.csv",
            "reports.s3.localhost",
            "s3",
            BOB,
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(vhost.status, 200, "{}", vhost.body);

    // A body that does not match its signed hash never lands.
    let lie = hex::encode(Sha256::digest(b"something else"));
    let put = send(
        gw,
        signed(
            "PUT",
            "/reports/new.txt",
            host,
            "s3",
            ALICE,
            b"payload",
            Some(&lie),
        ),
    )
    .await;
    assert_eq!(put.status, 400, "{}", put.body);
    assert!(
        put.body.contains("XAmzContentSHA256Mismatch"),
        "{}",
        put.body
    );
    let after = send(
        gw,
        signed("GET", "/reports/new.txt", host, "s3", ALICE, b"", None),
    )
    .await;
    assert_eq!(after.status, 404, "{}", after.body);

    let ok = send(
        gw,
        signed(
            "PUT",
            "/reports/new.txt",
            host,
            "s3",
            ALICE,
            b"payload",
            None,
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let bob_put = send(
        gw,
        signed("PUT", "/reports/bob.txt", host, "s3", BOB, b"x", None),
    )
    .await;
    assert_eq!(bob_put.status, 403);

    // DeleteObjects: every key is authorised; bob may delete none of them.
    let xml = b"<Delete><Object><Key>new.txt</Key></Object><Object><Key>2026/q1.csv</Key></Object></Delete>";
    let bob_delete = send(
        gw,
        signed("POST", "/reports?delete", host, "s3", BOB, xml, None),
    )
    .await;
    assert_eq!(
        bob_delete.status, 200,
        "S3 refuses key by key: {}",
        bob_delete.body
    );
    assert!(
        bob_delete
            .body
            .contains("<Error><Key>new.txt</Key><Code>AccessDenied</Code>"),
        "{}",
        bob_delete.body
    );
    assert!(
        !bob_delete.body.contains("<Deleted>"),
        "{}",
        bob_delete.body
    );
    let still = send(
        gw,
        signed("GET", "/reports/new.txt", host, "s3", ALICE, b"", None),
    )
    .await;
    assert_eq!(still.status, 200);
    let alice_delete = send(
        gw,
        signed("POST", "/reports?delete", host, "s3", ALICE, xml, None),
    )
    .await;
    assert_eq!(alice_delete.status, 200, "{}", alice_delete.body);
    assert!(
        alice_delete.body.contains("<Deleted>"),
        "{}",
        alice_delete.body
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_table_upstream_sees_only_what_was_allowed() {
    let scratch = Scratch::new("routes");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let orders = upstream(Arc::clone(&seen), Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    let host = "orders.localhost";

    let mut bob = signed("GET", "/orders/42", host, "orders", BOB, b"", None);
    let denied = send(gw, bob).await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.body.contains("AccessDeniedException"),
        "{}",
        denied.body
    );
    assert!(
        seen.lock().unwrap().requests.is_empty(),
        "a denied request never reaches the upstream"
    );

    let anonymous = send(gw, unsigned("GET", "/orders/42", host)).await;
    assert_eq!(anonymous.status, 403);
    assert!(
        anonymous.body.contains("MissingAuthenticationToken"),
        "{}",
        anonymous.body
    );

    let forged = send(
        gw,
        signed(
            "GET",
            "/orders/42",
            host,
            "orders",
            (ALICE.0, "wrong"),
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(
        forged.body.contains("SignatureDoesNotMatch"),
        "{}",
        forged.body
    );
    let forged_body = send(
        gw,
        signed(
            "POST",
            "/orders/42",
            host,
            "orders",
            (ALICE.0, "wrong"),
            b"{}",
            None,
        ),
    )
    .await;
    assert_eq!(forged_body.status, 403, "{}", forged_body.body);
    assert!(
        forged_body.body.contains("SignatureDoesNotMatch"),
        "{}",
        forged_body.body
    );
    assert!(
        seen.lock().unwrap().requests.is_empty(),
        "a forged request never reaches the upstream"
    );
    let posted = send(
        gw,
        signed(
            "POST",
            "/orders/42",
            host,
            "orders",
            ALICE,
            b"{\"qty\": 2}",
            None,
        ),
    )
    .await;
    assert_eq!(posted.status, 200, "{}", posted.body);
    seen.lock().unwrap().requests.clear();

    let mut alice = signed("GET", "/orders/42", host, "orders", ALICE, b"", None);
    alice.headers.push((
        "x-iamgate-principal-arn".into(),
        "arn:aws:iam::111122223333:root".into(),
    ));
    let allowed = send(gw, alice).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.body, "upstream saw /orders/42");
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.requests.len(), 1);
        let headers = &seen.requests[0].1;
        let claimed: Vec<_> = headers.get_all("x-iamgate-principal-arn").iter().collect();
        assert_eq!(
            claimed,
            vec!["arn:aws:iam::111122223333:user/alice"],
            "the client's claim is replaced"
        );
        assert_eq!(headers["x-iamgate-action"], "orders:GetOrder");
        assert!(headers.get("authorization").is_none());
    }

    let no_route = send(
        gw,
        signed("DELETE", "/orders/42", host, "orders", ALICE, b"", None),
    )
    .await;
    assert_eq!(no_route.status, 404, "{}", no_route.body);
    // Signed for another service: refused before anything else, as AWS's services refuse it.
    bob = signed("GET", "/orders/42", host, "s3", ALICE, b"", None);
    let wrong_service = send(gw, bob).await;
    assert_eq!(wrong_service.status, 403, "{}", wrong_service.body);
    assert!(
        wrong_service
            .body
            .contains("Credential should be scoped to correct service: 'orders'."),
        "{}",
        wrong_service.body
    );
    assert_eq!(seen.lock().unwrap().requests.len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_are_502_and_504() {
    let scratch = Scratch::new("failures");
    // Nothing listens on a port just freed.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (running, gw) = gateway(&scratch, dead).await;
    let bad = send(
        gw,
        signed(
            "GET",
            "/orders/1",
            "orders.localhost",
            "orders",
            ALICE,
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(bad.status, 502, "{}", bad.body);
    assert!(bad.body.contains("BadGateway"));
    running.stop().await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let slow = upstream(seen, Duration::from_secs(3)).await;
    let (running, gw) = gateway(&scratch, slow).await;
    let late = send(
        gw,
        signed(
            "GET",
            "/orders/1",
            "orders.localhost",
            "orders",
            ALICE,
            b"",
            None,
        ),
    )
    .await;
    assert_eq!(late.status, 504, "{}", late.body);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reload_applies_changes_and_keeps_the_last_good_snapshot() {
    let scratch = Scratch::new("reload");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let orders = upstream(seen, Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    let host = "127.0.0.1";
    let read = || signed("GET", "/reports/2026/q1.csv", host, "s3", BOB, b"", None);
    assert_eq!(send(gw, read()).await.status, 200);
    let generation = running.gateway.store().generation();
    let admin = running.admin.unwrap();
    let health = send(admin, unsigned("GET", "/healthz", "127.0.0.1")).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = send(admin, unsigned("GET", "/readyz", "127.0.0.1")).await;
    assert!(
        ready.body.contains(&format!("generation {generation}")),
        "{}",
        ready.body
    );

    // A broken change: the last good snapshot stays.
    let iam = scratch.0.join("policies/111122223333/iam.json");
    let good = std::fs::read_to_string(&iam).unwrap();
    std::fs::write(&iam, "{ this is not json").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(running.gateway.store().generation(), generation);
    assert_eq!(send(gw, read()).await.status, 200);

    // A good change (write to a temporary file, rename over): live within a second.
    let denied = good.replace(
        "\"Resource\": \"arn:aws:s3:::reports/confidential/*\"",
        "\"Resource\": [\"arn:aws:s3:::reports/confidential/*\", \"arn:aws:s3:::reports/2026/*\"]",
    );
    assert_ne!(denied, good);
    let tmp = scratch.0.join("policies/111122223333/.iam.json.tmp");
    std::fs::write(&tmp, &denied).unwrap();
    std::fs::rename(&tmp, &iam).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let status = send(gw, read()).await.status;
        if status == 403 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the change was not live within a second"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running.gateway.store().generation() > generation);
    running.stop().await;
}

const DORA: (&str, &str) = (
    "AKIADORAEXAMPLE00001",
    "doraSecretKeyEXAMPLE/0000000000000000000",
);
const ERIN: (&str, &str) = (
    "AKIAERINEXAMPLE00001",
    "erinSecretKeyEXAMPLE/0000000000000000000",
);

/// The demo store with two more users and a `reports` bucket policy that uses `NotPrincipal`:
/// dora has no policy; erin may read any object but has a permissions boundary (allowing
/// everything). `reports/2026/*` is for everyone except dora; `reports/shared/*` is denied to
/// everyone but erin, bob and the account.
fn not_principal_store(scratch: &Scratch) {
    let account = scratch.0.join("policies/111122223333");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(account.join(name)).unwrap()).unwrap()
    };
    let write = |name: &str, value: serde_json::Value| {
        std::fs::write(account.join(name), value.to_string()).unwrap();
    };
    let arn = |name: &str| format!("arn:aws:iam::111122223333:user/{name}");
    let boundary = "arn:aws:iam::111122223333:policy/BoundaryAll";
    let mut iam = read("iam.json");
    let users = iam["UserDetailList"].as_array_mut().unwrap();
    users.push(
        serde_json::json!({"UserName": "dora", "UserId": "AIDADORAEXAMPLE00001",
        "Arn": arn("dora")}),
    );
    users.push(
        serde_json::json!({"UserName": "erin", "UserId": "AIDAERINEXAMPLE00001",
        "Arn": arn("erin"),
        "UserPolicyList": [{"PolicyName": "ReadAll", "PolicyDocument": {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}],
        "PermissionsBoundary": {"PermissionsBoundaryArn": boundary}}),
    );
    iam["Policies"].as_array_mut().unwrap().push(serde_json::json!({
        "PolicyName": "BoundaryAll", "Arn": boundary, "DefaultVersionId": "v1",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document":
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}));
    write("iam.json", iam);
    let mut keys = read("credentials.json");
    for (user, (id, secret)) in [("dora", DORA), ("erin", ERIN)] {
        keys.as_array_mut().unwrap().push(serde_json::json!({
            "AccessKeyId": id, "SecretAccessKey": secret, "UserName": user}));
    }
    write("credentials.json", keys);
    let mut resources = read("resources.json");
    resources["arn:aws:s3:::reports"]["Policy"] = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EveryoneButDora", "Effect": "Allow",
             "NotPrincipal": {"AWS": arn("dora")},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/2026/*"},
            {"Sid": "OnlyListed", "Effect": "Deny",
             "NotPrincipal": {"AWS": [arn("erin"), arn("bob"), "arn:aws:iam::111122223333:root"]},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/shared/*"}
        ]
    });
    write("resources.json", resources);
}

/// The gateway on [`not_principal_store`].
async fn not_principal_gateway(name: &str) -> (Scratch, Running, SocketAddr) {
    let scratch = Scratch::new(name);
    not_principal_store(&scratch);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let orders = upstream(seen, Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    (scratch, running, gw)
}

async fn s3_get(gw: SocketAddr, path: &str, key: (&str, &str)) -> Answer {
    send(gw, signed("GET", path, "127.0.0.1", "s3", key, b"", None)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_with_not_principal_through_the_gateway() {
    let (_scratch, running, gw) = not_principal_gateway("np-allow").await;
    // Never the listed user, whom nothing else allows.
    let dora = s3_get(gw, "/reports/2026/q1.csv", DORA).await;
    assert_eq!(dora.status, 403, "{}", dora.body);
    assert!(
        dora.body.contains("<Code>AccessDenied</Code>"),
        "{}",
        dora.body
    );
    // Everyone else, anonymous callers included.
    let anonymous = send(gw, unsigned("GET", "/reports/2026/q1.csv", "127.0.0.1")).await;
    assert_eq!(anonymous.status, 200, "{}", anonymous.body);
    assert!(anonymous.body.starts_with("month,revenue"));
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_with_not_principal_and_a_boundary_through_the_gateway() {
    let (_scratch, running, gw) = not_principal_gateway("np-deny").await;
    // erin is listed but has a boundary, so she is denied.
    let erin = s3_get(gw, "/reports/shared/summary.txt", ERIN).await;
    assert_eq!(erin.status, 403, "{}", erin.body);
    assert!(
        erin.body.contains("<Code>AccessDenied</Code>"),
        "{}",
        erin.body
    );
    // bob, listed with his account and without a boundary, is spared; alice is not listed.
    let bob = s3_get(gw, "/reports/shared/summary.txt", BOB).await;
    assert_eq!(bob.status, 200, "{}", bob.body);
    assert!(bob.body.starts_with("Q1 2026 summary"));
    let alice = s3_get(gw, "/reports/shared/summary.txt", ALICE).await;
    assert_eq!(alice.status, 403, "{}", alice.body);
    // Elsewhere in the bucket erin's policies apply as usual.
    let elsewhere = s3_get(gw, "/reports/2026/q1.csv", ERIN).await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
    drop(running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assume_role_needs_the_trust_policy_through_the_gateway() {
    let scratch = Scratch::new("trust");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let orders = upstream(Arc::clone(&seen), Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    let uri = "/?Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fauditor&RoleSessionName=s1";
    // alice's policies allow everything, but the trust policy names only bob.
    let alice = send(gw, signed("GET", uri, "127.0.0.1", "sts", ALICE, b"", None)).await;
    assert_eq!(alice.status, 403, "{}", alice.body);
    assert!(
        alice.body.contains("<Code>AccessDenied</Code>"),
        "{}",
        alice.body
    );
    let bob = send(gw, signed("GET", uri, "127.0.0.1", "sts", BOB, b"", None)).await;
    assert_eq!(bob.status, 200, "{}", bob.body);
    assert!(bob.body.contains("assumed-role/auditor/s1"), "{}", bob.body);
    // GetCallerIdentity needs no permission (bob's policies are about S3 only).
    let who = "/?Action=GetCallerIdentity&Version=2011-06-15";
    let me = send(gw, signed("GET", who, "127.0.0.1", "sts", BOB, b"", None)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("user/bob"), "{}", me.body);
    drop(running);
}
