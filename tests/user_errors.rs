//! Errors that tell the user what to do, through the gateway (real listeners, the demo store,
//! requests signed by the official `aws-sigv4` crate): the same mistake answered as each AWS
//! service answers it (S3, the built-in STS, a route-table service), clock errors that say
//! which clock is ahead, refusals that name the caller, the action, the resource and why, and
//! the decision log naming the STS operation of a call refused before authentication.

mod support;
use support::config::DECISIONS;
use support::keys::{BOB, CAROL};
use support::observe::records;
use support::sign::{Sign, SignedAt};
use support::xml::{element, unescape};
use support::{send, Answer, GatewayConfig, Request, Route, Scratch};

use std::time::{Duration, SystemTime};

use iamgate::proxy::Running;
use serde_json::Value;

/// The demo (local S3, the STS) and a route table `orders` whose upstream is never reached.
async fn gateway(scratch: &Scratch) -> Running {
    GatewayConfig::demo()
        .decisions_file()
        .orders("http://127.0.0.1:9", &[Route::GetOrder])
        .start(scratch)
        .await
}

/// Sends `method uri` to `host`, signed by `key` for `service` in `region` at `time`, with
/// `body` (an STS form when not empty).
#[allow(clippy::too_many_arguments)]
async fn call(
    running: &Running,
    method: &str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    at: SignedAt<'_>,
    body: &[u8],
) -> Answer {
    call_as(running, method, uri, host, service, (key, None), at, body).await
}

/// [`call`] with a session token.
#[allow(clippy::too_many_arguments)]
async fn call_as(
    running: &Running,
    method: &str,
    uri: &str,
    host: &str,
    service: &str,
    (key, token): ((&str, &str), Option<&str>),
    at: SignedAt<'_>,
    body: &[u8],
) -> Answer {
    let mut request = Sign::new(method, uri, host, service, key)
        .token(token)
        .body(body)
        .at(at)
        .request();
    if !body.is_empty() {
        request = request.header("content-type", "application/x-www-form-urlencoded");
    }
    let answer = send(running.http.unwrap(), request).await;
    assert!(answer.headers.contains_key("x-amz-request-id"));
    answer
}

fn now() -> SignedAt<'static> {
    SignedAt("us-east-1", SystemTime::now())
}

/// A client whose clock is 20 minutes ahead.
fn ahead() -> SignedAt<'static> {
    SignedAt(
        "us-east-1",
        SystemTime::now() + Duration::from_secs(20 * 60),
    )
}

/// A client configured for another region.
fn elsewhere() -> SignedAt<'static> {
    SignedAt("eu-west-1", SystemTime::now())
}

const GET_CALLER_IDENTITY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_ahead_is_not_called_expired_and_the_log_names_the_operation() {
    let scratch = Scratch::gateway("clock");
    let running = gateway(&scratch).await;

    // S3: RequestTimeTooSkewed, with both times and the skew allowed.
    let s3 = call(
        &running,
        "GET",
        "/reports/2026/q1.csv",
        "127.0.0.1",
        "s3",
        BOB,
        ahead(),
        b"",
    )
    .await;
    assert_eq!(s3.status, 403, "{}", s3.body);
    assert_eq!(element(&s3.body, "Code"), Some("RequestTimeTooSkewed"));
    let request_time = element(&s3.body, "RequestTime").unwrap();
    let server_time = element(&s3.body, "ServerTime").unwrap();
    assert!(
        request_time.len() == 16 && request_time.ends_with('Z'),
        "{}",
        s3.body
    );
    assert!(
        server_time.len() == 20 && server_time.ends_with('Z'),
        "{}",
        s3.body
    );
    assert!(request_time.replace(['-', ':'], "") > server_time.replace(['-', ':'], ""));
    assert_eq!(
        element(&s3.body, "MaxAllowedSkewMilliseconds"),
        Some("900000")
    );

    // STS: what STS answers a clock 20 minutes ahead.
    let sts = call(
        &running,
        "POST",
        "/",
        "127.0.0.1",
        "sts",
        BOB,
        ahead(),
        GET_CALLER_IDENTITY,
    )
    .await;
    assert_eq!(sts.status, 403, "{}", sts.body);
    assert_eq!(element(&sts.body, "Code"), Some("SignatureDoesNotMatch"));
    let message = element(&sts.body, "Message").unwrap();
    assert!(
        message.starts_with("Signature not yet current: "),
        "{message}"
    );
    assert!(message.ends_with(" + 15 min.)"), "{message}");
    assert!(!message.contains("xpired"), "{message}");

    // A route-table service answers as STS does, in JSON.
    let orders = call(
        &running,
        "GET",
        "/orders/42",
        "orders.localhost",
        "orders",
        BOB,
        ahead(),
        b"",
    )
    .await;
    assert_eq!(orders.status, 403, "{}", orders.body);
    let json: Value = serde_json::from_str(&orders.body).unwrap();
    assert_eq!(json["__type"], "SignatureDoesNotMatch");
    assert!(json["message"]
        .as_str()
        .unwrap()
        .starts_with("Signature not yet current: "));

    // The decision log names the STS operation, not `unknown`.
    let log = records(&running, &scratch.join(DECISIONS)).await;
    let r = &log[&sts.request_id];
    assert_eq!(r["eventSource"], "sts.amazonaws.com");
    assert_eq!(r["eventName"], "GetCallerIdentity", "{r}");
    assert_eq!(r["errorCode"], "SignatureDoesNotMatch");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_region_or_service_gets_each_services_own_answer() {
    let scratch = Scratch::gateway("region");
    let running = gateway(&scratch).await;

    // S3: AuthorizationHeaderMalformed, naming the region to use (SDKs redirect on <Region>).
    let s3 = call(
        &running,
        "GET",
        "/reports/2026/q1.csv",
        "127.0.0.1",
        "s3",
        BOB,
        elsewhere(),
        b"",
    )
    .await;
    assert_eq!(s3.status, 400, "{}", s3.body);
    assert_eq!(
        element(&s3.body, "Code"),
        Some("AuthorizationHeaderMalformed")
    );
    assert_eq!(
        element(&s3.body, "Message").map(unescape).as_deref(),
        Some("The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'")
    );
    assert_eq!(element(&s3.body, "Region"), Some("us-east-1"));

    // STS: SignatureDoesNotMatch, "Credential should be scoped to a valid region".
    let sts = call(
        &running,
        "POST",
        "/",
        "127.0.0.1",
        "sts",
        BOB,
        elsewhere(),
        GET_CALLER_IDENTITY,
    )
    .await;
    assert_eq!(sts.status, 403, "{}", sts.body);
    assert_eq!(element(&sts.body, "Code"), Some("SignatureDoesNotMatch"));
    assert_eq!(
        element(&sts.body, "Message").map(unescape).as_deref(),
        Some("Credential should be scoped to a valid region, not 'eu-west-1'.")
    );

    // A route-table service: the same as STS.
    let orders = call(
        &running,
        "GET",
        "/orders/42",
        "orders.localhost",
        "orders",
        BOB,
        elsewhere(),
        b"",
    )
    .await;
    assert_eq!(orders.status, 403, "{}", orders.body);
    let json: Value = serde_json::from_str(&orders.body).unwrap();
    assert_eq!(json["__type"], "SignatureDoesNotMatch");
    assert_eq!(
        json["message"],
        "Credential should be scoped to a valid region, not 'eu-west-1'."
    );

    // Signed for another service: the route table says which one it is.
    let wrong = call(
        &running,
        "GET",
        "/orders/42",
        "orders.localhost",
        "s3",
        BOB,
        now(),
        b"",
    )
    .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    let json: Value = serde_json::from_str(&wrong.body).unwrap();
    assert_eq!(json["__type"], "SignatureDoesNotMatch");
    assert_eq!(
        json["message"],
        "Credential should be scoped to correct service: 'orders'."
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_caller_the_action_the_resource_and_why() {
    let scratch = Scratch::gateway("denied");
    let running = gateway(&scratch).await;
    let s3_message = |answer: &Answer| {
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_eq!(
            element(&answer.body, "Code"),
            Some("AccessDenied"),
            "{}",
            answer.body
        );
        unescape(element(&answer.body, "Message").unwrap())
    };

    // A route-table service: nothing allows bob orders:GetOrder.
    let orders = call(
        &running,
        "GET",
        "/orders/42",
        "orders.localhost",
        "orders",
        BOB,
        now(),
        b"",
    )
    .await;
    assert_eq!(orders.status, 403, "{}", orders.body);
    let json: Value = serde_json::from_str(&orders.body).unwrap();
    assert_eq!(json["__type"], "AccessDeniedException");
    assert_eq!(
        json["message"],
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: orders:GetOrder on \
         resource: arn:aws:orders:us-east-1:111122223333:order/42 because no identity-based policy \
         allows the orders:GetOrder action"
    );

    // S3, the bucket's own account: why, with the resource quoted as S3 quotes it.
    let deny = call(
        &running,
        "GET",
        "/reports/confidential/salaries.csv",
        "127.0.0.1",
        "s3",
        BOB,
        now(),
        b"",
    )
    .await;
    assert_eq!(
        s3_message(&deny),
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on \
         resource: \"arn:aws:s3:::reports/confidential/salaries.csv\" with an explicit deny in an \
         identity-based policy"
    );
    let put = call(
        &running,
        "PUT",
        "/reports/bob.txt",
        "127.0.0.1",
        "s3",
        BOB,
        now(),
        b"",
    )
    .await;
    assert_eq!(
        s3_message(&put),
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:PutObject on \
         resource: \"arn:aws:s3:::reports/bob.txt\" because no identity-based policy allows the \
         s3:PutObject action"
    );
    // S3 tells callers of other accounts, and anonymous ones, no more than "Access Denied".
    let carol = call(
        &running,
        "GET",
        "/reports/2026/q1.csv",
        "127.0.0.1",
        "s3",
        CAROL,
        now(),
        b"",
    )
    .await;
    assert_eq!(s3_message(&carol), "Access Denied");
    let http = running.http.unwrap();
    let anonymous = send(
        http,
        Request::unsigned("GET", "/reports/2026/q1.csv", &http.to_string()),
    )
    .await;
    assert_eq!(anonymous.status, 403);
    assert_eq!(element(&anonymous.body, "Message"), Some("Access Denied"));

    // The decision log carries the same message.
    let log = records(&running, &scratch.join(DECISIONS)).await;
    let r = &log[&orders.request_id];
    assert_eq!(r["errorCode"], "AccessDeniedException");
    assert_eq!(r["errorMessage"], json["message"]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_policy_that_refuses_is_named() {
    let scratch = Scratch::gateway("session");
    let running = gateway(&scratch).await;
    // bob becomes the auditor (who reads all of `reports`) with a session policy that allows
    // listing only, and denies the confidential reports outright.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"},
        {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/confidential/*"}]}"#;
    let form = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleSessionName=capped\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fauditor&Policy={}",
        percent_encoding::utf8_percent_encode(policy, percent_encoding::NON_ALPHANUMERIC)
    );
    let assumed = call(
        &running,
        "POST",
        "/",
        "127.0.0.1",
        "sts",
        BOB,
        now(),
        form.as_bytes(),
    )
    .await;
    assert_eq!(assumed.status, 200, "{}", assumed.body);
    let key = element(&assumed.body, "AccessKeyId").unwrap().to_owned();
    let secret = element(&assumed.body, "SecretAccessKey")
        .unwrap()
        .to_owned();
    let token = element(&assumed.body, "SessionToken").unwrap().to_owned();
    let session = ((key.as_str(), secret.as_str()), Some(token.as_str()));
    let who = "User: arn:aws:sts::111122223333:assumed-role/auditor/capped is not authorized to perform: s3:GetObject on resource:";

    let q1 = call_as(
        &running,
        "GET",
        "/reports/2026/q1.csv",
        "127.0.0.1",
        "s3",
        session,
        now(),
        b"",
    )
    .await;
    assert_eq!(q1.status, 403, "{}", q1.body);
    assert_eq!(
        element(&q1.body, "Message").map(unescape),
        Some(format!(
            "{who} \"arn:aws:s3:::reports/2026/q1.csv\" because no session policy allows the s3:GetObject action"
        ))
    );
    let secret_report = call_as(
        &running,
        "GET",
        "/reports/confidential/salaries.csv",
        "127.0.0.1",
        "s3",
        session,
        now(),
        b"",
    )
    .await;
    assert_eq!(
        element(&secret_report.body, "Message").map(unescape),
        Some(format!(
            "{who} \"arn:aws:s3:::reports/confidential/salaries.csv\" with an explicit deny in a session policy"
        ))
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permissions_boundary_that_refuses_is_named() {
    let scratch = Scratch::gateway("boundary");
    // bob's boundary lets him list, nothing more: his own policy's reads are capped.
    let iam_path = scratch.join("policies/111122223333/iam.json");
    let mut iam: Value =
        serde_json::from_str(&std::fs::read_to_string(&iam_path).unwrap()).unwrap();
    let list_only = "arn:aws:iam::111122223333:policy/ListOnly";
    for user in iam["UserDetailList"].as_array_mut().unwrap() {
        if user["UserName"] == "bob" {
            user["PermissionsBoundary"] = serde_json::json!({
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": list_only,
            });
        }
    }
    iam["Policies"].as_array_mut().unwrap().push(serde_json::json!({
        "PolicyName": "ListOnly", "PolicyId": "ANPALISTONLYEXAMPLE1", "Arn": list_only, "Path": "/",
        "DefaultVersionId": "v1",
        "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true, "Document": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}}]
    }));
    std::fs::write(&iam_path, iam.to_string()).unwrap();
    let running = gateway(&scratch).await;
    let q1 = call(
        &running,
        "GET",
        "/reports/2026/q1.csv",
        "127.0.0.1",
        "s3",
        BOB,
        now(),
        b"",
    )
    .await;
    assert_eq!(q1.status, 403, "{}", q1.body);
    assert_eq!(
        element(&q1.body, "Message").map(unescape).as_deref(),
        Some(
            "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on \
             resource: \"arn:aws:s3:::reports/2026/q1.csv\" because no permissions boundary allows \
             the s3:GetObject action"
        )
    );
    running.stop().await;
}
