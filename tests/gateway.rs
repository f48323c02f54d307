//! The gateway in process, end to end: real listeners, the built-in object store, an in-process
//! HTTP upstream behind a route table, requests signed by the official `aws-sigv4` crate.

mod support;
use support::keys::{ALICE, BOB};
use support::sign::Sign;
use support::upstream::{dead_address, Log, Upstream};
use support::{send, Answer, GatewayConfig, Request, Route, Scratch};

use std::net::SocketAddr;
use std::time::Duration;

use iamgate::proxy::Running;
use sha2::{Digest, Sha256};

/// Signs with the official signer, as the SDKs do (S3: with the body's hash, or
/// `claimed_sha256`).
fn signed(
    method: &str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    body: &[u8],
    claimed_sha256: Option<&str>,
) -> Request {
    let sign = Sign::new(method, uri, host, service, key).body(body);
    match claimed_sha256 {
        Some(hash) => sign.claimed(hash),
        None => sign.hashed(),
    }
    .request()
}

/// An `orders` upstream that answers `upstream saw <target>`, after `delay`.
async fn upstream(delay: Duration) -> (SocketAddr, Log) {
    Upstream::new().echo().delay(delay).start().await
}

/// The demo (the built-in S3 store) and the `orders` route table in front of `orders`, with an
/// admin listener and a one-second upstream response timeout; its HTTP address.
async fn gateway(scratch: &Scratch, orders: SocketAddr) -> (Running, SocketAddr) {
    let running = GatewayConfig::demo()
        .admin()
        .decisions("off")
        .limits("upstream_response_timeout_secs = 1")
        .orders_at(orders, &[Route::UpdateOrder, Route::GetOrder])
        .start(scratch)
        .await;
    let addr = running.http.unwrap();
    (running, addr)
}

/// A [`gateway`] on a scratch copy of the demo store, with what its upstream received.
struct Demo {
    _scratch: Scratch,
    running: Running,
    gw: SocketAddr,
    seen: Log,
}

async fn demo(name: &str) -> Demo {
    let scratch = Scratch::gateway(name);
    let (orders, seen) = upstream(Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    Demo {
        _scratch: scratch,
        running,
        gw,
        seen,
    }
}

const HOST: &str = "127.0.0.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_anonymous_reads_what_the_bucket_policy_allows_and_nothing_else() {
    let d = demo("s3-anonymous").await;
    let (gw, host) = (d.gw, HOST);

    let public = send(gw, Request::unsigned("GET", "/public/index.html", host)).await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("public bucket"));

    let denied = send(gw, Request::unsigned("GET", "/reports/2026/q1.csv", host)).await;
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
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_signed_reads_are_allowed_and_denied_by_policy() {
    let d = demo("s3-read").await;
    let (gw, host) = (d.gw, HOST);

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
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_wrong_secret_or_an_unknown_key_is_refused() {
    let d = demo("s3-authn").await;
    let (gw, host) = (d.gw, HOST);

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
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_virtual_hosted_style_names_the_bucket_in_the_host() {
    let d = demo("s3-vhost").await;
    let vhost = send(
        d.gw,
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
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_body_that_does_not_match_its_signed_hash_never_lands() {
    let d = demo("s3-hash").await;
    let (gw, host) = (d.gw, HOST);
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
    d.running.stop().await;
}

/// alice's PUT of `/reports/new.txt`.
async fn alice_puts_new_txt(gw: SocketAddr) -> Answer {
    send(
        gw,
        signed(
            "PUT",
            "/reports/new.txt",
            HOST,
            "s3",
            ALICE,
            b"payload",
            None,
        ),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_writes_are_allowed_and_denied_by_policy() {
    let d = demo("s3-write").await;
    let ok = alice_puts_new_txt(d.gw).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let bob_put = send(
        d.gw,
        signed("PUT", "/reports/bob.txt", HOST, "s3", BOB, b"x", None),
    )
    .await;
    assert_eq!(bob_put.status, 403);
    d.running.stop().await;
}

/// DeleteObjects: every key is authorised; bob may delete none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_delete_objects_authorises_every_key() {
    let d = demo("s3-delete").await;
    let (gw, host) = (d.gw, HOST);
    let ok = alice_puts_new_txt(gw).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

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
    d.running.stop().await;
}

const ORDERS: &str = "orders.localhost";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_table_refusals_never_reach_the_upstream() {
    let d = demo("routes-refused").await;
    let (gw, host, seen) = (d.gw, ORDERS, &d.seen);

    let bob = signed("GET", "/orders/42", host, "orders", BOB, b"", None);
    let denied = send(gw, bob).await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.body.contains("AccessDeniedException"),
        "{}",
        denied.body
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "a denied request never reaches the upstream"
    );

    let anonymous = send(gw, Request::unsigned("GET", "/orders/42", host)).await;
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
        seen.lock().unwrap().is_empty(),
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
    d.running.stop().await;
}

/// alice's `GET /orders/42`, claiming to be the account's root in the gateway's identity header;
/// what the upstream answers.
async fn alice_gets_order_42(gw: SocketAddr) -> Answer {
    let alice = signed("GET", "/orders/42", ORDERS, "orders", ALICE, b"", None)
        .header("x-iamgate-principal-arn", "arn:aws:iam::111122223333:root");
    send(gw, alice).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_table_upstream_sees_the_authenticated_caller_not_the_claimed_one() {
    let d = demo("routes-allowed").await;
    let allowed = alice_gets_order_42(d.gw).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.body, "upstream saw /orders/42");
    {
        let seen = d.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let headers = &seen[0].headers;
        let claimed: Vec<_> = headers.get_all("x-iamgate-principal-arn").iter().collect();
        assert_eq!(
            claimed,
            vec!["arn:aws:iam::111122223333:user/alice"],
            "the client's claim is replaced"
        );
        assert_eq!(headers["x-iamgate-action"], "orders:GetOrder");
        assert!(headers.get("authorization").is_none());
    }
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_table_no_route_and_a_wrong_service_are_refused() {
    let d = demo("routes-no-route").await;
    let (gw, host) = (d.gw, ORDERS);
    let allowed = alice_gets_order_42(gw).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);

    let no_route = send(
        gw,
        signed("DELETE", "/orders/42", host, "orders", ALICE, b"", None),
    )
    .await;
    assert_eq!(no_route.status, 404, "{}", no_route.body);
    // Signed for another service: refused before anything else, as AWS's services refuse it.
    let bob = signed("GET", "/orders/42", host, "s3", ALICE, b"", None);
    let wrong_service = send(gw, bob).await;
    assert_eq!(wrong_service.status, 403, "{}", wrong_service.body);
    assert!(
        wrong_service
            .body
            .contains("Credential should be scoped to correct service: 'orders'."),
        "{}",
        wrong_service.body
    );
    assert_eq!(d.seen.lock().unwrap().len(), 1);
    d.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_refuses_connections_is_502() {
    let scratch = Scratch::gateway("failures-502");
    let (running, gw) = gateway(&scratch, dead_address()).await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_slower_than_the_response_timeout_is_504() {
    let scratch = Scratch::gateway("failures-504");
    let (slow, _) = upstream(Duration::from_secs(3)).await;
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
    let scratch = Scratch::gateway("reload");
    let (orders, _) = upstream(Duration::ZERO).await;
    let (running, gw) = gateway(&scratch, orders).await;
    let host = "127.0.0.1";
    let read = || signed("GET", "/reports/2026/q1.csv", host, "s3", BOB, b"", None);
    assert_eq!(send(gw, read()).await.status, 200);
    let generation = running.gateway.store().generation();
    let admin = running.admin.unwrap();
    let health = send(admin, Request::unsigned("GET", "/healthz", "127.0.0.1")).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let ready = send(admin, Request::unsigned("GET", "/readyz", "127.0.0.1")).await;
    assert!(
        ready.body.contains(&format!("generation {generation}")),
        "{}",
        ready.body
    );

    // A broken change: the last good snapshot stays.
    let iam = scratch.join("policies/111122223333/iam.json");
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
    let tmp = scratch.join("policies/111122223333/.iam.json.tmp");
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
    let account = scratch.join("policies/111122223333");
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
    let scratch = Scratch::gateway(name);
    not_principal_store(&scratch);
    let (orders, _) = upstream(Duration::ZERO).await;
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
    let anonymous = send(
        gw,
        Request::unsigned("GET", "/reports/2026/q1.csv", "127.0.0.1"),
    )
    .await;
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
    let d = demo("trust").await;
    let (running, gw) = (d.running, d.gw);
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
