//! No authorisation bypass, no smuggling: confusion requests sent over raw TCP to an
//! in-process gateway in front of upstreams that record exactly what they receive.
//!
//! Every case is either refused (nothing reaches the upstream) or authorised against exactly
//! the resource the upstream then serves: the test takes the request the upstream received
//! (found by the `x-iamgate-request-id` the gateway adds), reads its path the way the upstream
//! would (S3: bucket, then the key decoded once; the route-table service: a normalising web
//! server), and requires that the gateway's decision log line for that request id allowed that
//! very resource, and that the intended policy allows it.

mod support;
use support::client::h2_status;
use support::hardened::{self, TESTER, TESTER_ARN};
use support::raw::*;
use support::sign::{sign_raw, sign_raw_with};
use support::upstream::{recording_upstream, Received};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use iamgate::proxy::start;
use tracing_subscriber::layer::SubscriberExt;

/// Decision log lines by request id: the `checks` field, as logged.
fn decisions() -> &'static Mutex<HashMap<String, String>> {
    static D: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    D.get_or_init(Mutex::default)
}

/// Captures the gateway's decision log (target `iamgate::decision`).
struct DecisionLayer;

#[derive(Default)]
struct DecisionFields {
    request_id: Option<String>,
    checks: Option<String>,
}

impl tracing::field::Visit for DecisionFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "request_id" {
            self.request_id = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "checks" => self.checks = Some(format!("{value:?}")),
            "request_id" => {
                self.request_id = Some(format!("{value:?}").trim_matches('"').to_owned())
            }
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for DecisionLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "iamgate::decision" {
            return;
        }
        let mut fields = DecisionFields::default();
        event.record(&mut fields);
        if let (Some(id), Some(checks)) = (fields.request_id, fields.checks) {
            decisions().lock().unwrap().insert(id, checks);
        }
    }
}

fn capture_decisions() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(DecisionLayer);
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    });
}

type Setup = hardened::Gateway;

async fn setup(name: &str, limits: &str) -> Setup {
    capture_decisions();
    hardened::gateway(name, limits).await
}

/// Percent-decodes once, as S3 reads a path; `None` when S3 would refuse it.
fn decode_once(raw: &str) -> Option<String> {
    iamgate::route::percent_decode(raw).ok()
}

/// The object an S3 upstream serves for a path-style target: `arn:aws:s3:::bucket/key`.
fn s3_served(target: &str) -> Option<String> {
    let path = target.split('?').next()?.strip_prefix('/')?;
    let (bucket, key) = path.split_once('/')?;
    Some(format!(
        "arn:aws:s3:::{}/{}",
        decode_once(bucket)?,
        decode_once(key)?
    ))
}

/// The resource a normalising web server behind the route table serves: the path decoded once,
/// `\` taken for `/`, `;parameters` dropped, dot segments resolved, empty segments merged; then
/// the service's own routes (`/orders/{id}`, `/files/{path+}`).
fn orders_served(target: &str) -> Option<String> {
    let path = decode_once(target.split('?').next()?)?.replace('\\', "/");
    let mut segments: Vec<String> = Vec::new();
    for segment in path.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s.to_owned()),
        }
    }
    let head = "arn:aws:orders:us-east-1:111122223333";
    match segments.first().map(String::as_str) {
        Some("orders") if segments.len() == 2 => Some(format!("{head}:order/{}", segments[1])),
        Some("files") if segments.len() >= 2 => {
            Some(format!("{head}:file/{}", segments[1..].join("/")))
        }
        _ => None,
    }
}

/// What the intended policy allows (the oracle, independent of the gateway's evaluator).
fn intended(principal: &str, action: &str, resource: &str) -> bool {
    let signed = principal == TESTER_ARN;
    let orders = "arn:aws:orders:us-east-1:111122223333:";
    match action {
        "s3:PutObject" => resource.starts_with("arn:aws:s3:::bucket/uploads/"),
        "s3:GetObject" => {
            resource.starts_with("arn:aws:s3:::bucket/allowed/")
                && !resource.starts_with("arn:aws:s3:::bucket/secret/")
        }
        "orders:GetOrder" => signed && resource == format!("{orders}order/allowed"),
        "orders:GetFile" => {
            signed
                && resource.starts_with(&format!("{orders}file/public/"))
                && !resource.starts_with(&format!("{orders}file/secret/"))
        }
        _ => false,
    }
}

/// The outcome of one confusion case.
#[derive(Debug)]
enum Outcome {
    Refused(u16),
    Served { resource: String },
}

/// Sends one raw request and checks the invariant; returns what happened.
async fn case(setup: &Setup, label: &str, request: &[u8]) -> Outcome {
    let before = (
        setup.s3.lock().unwrap().len(),
        setup.orders.lock().unwrap().len(),
    );
    let response = raw(setup.gw, request).await;
    let s3_new: Vec<Received> = setup.s3.lock().unwrap()[before.0..].to_vec();
    let orders_new: Vec<Received> = setup.orders.lock().unwrap()[before.1..].to_vec();
    let status = response.as_ref().map_or(0, |r| r.status);
    if s3_new.is_empty() && orders_new.is_empty() {
        assert!(
            status == 0 || status >= 400,
            "{label}: {status} without reaching an upstream"
        );
        return Outcome::Refused(status);
    }
    assert_eq!(
        s3_new.len() + orders_new.len(),
        1,
        "{label}: several requests forwarded"
    );
    let (received, is_s3) = match s3_new.first() {
        Some(r) => (r.clone(), true),
        None => (orders_new[0].clone(), false),
    };
    let id = received.headers["x-iamgate-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let principal = received.headers["x-iamgate-principal-arn"]
        .to_str()
        .unwrap()
        .to_owned();
    let action = received.headers["x-iamgate-action"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        received
            .headers
            .get_all("x-iamgate-principal-arn")
            .iter()
            .count(),
        1,
        "{label}: identity header repeated"
    );
    for name in received.headers.keys() {
        assert!(
            !name.as_str().replace('_', "-").starts_with("x-iamgate-")
                || name.as_str().starts_with("x-iamgate-"),
            "{label}: a client identity header reached the upstream: {name}"
        );
    }
    let resource = if is_s3 {
        s3_served(&received.target)
    } else {
        orders_served(&received.target)
    }
    .unwrap_or_else(|| panic!("{label}: the upstream cannot serve {:?}", received.target));
    let checks = decisions()
        .lock()
        .unwrap()
        .get(&id)
        .cloned()
        .unwrap_or_else(|| panic!("{label}: no decision logged for {id}"));
    let allowed_check = format!("{:?}", format!("{action} {resource} allowed"));
    assert!(
        checks.contains(&allowed_check),
        "{label}: the upstream served {resource} (target {:?}) but the gateway decided {checks}",
        received.target
    );
    assert!(
        intended(&principal, &action, &resource),
        "{label}: {principal} got {action} on {resource}, which the policy does not intend"
    );
    assert_eq!(status, 200, "{label}");
    Outcome::Served { resource }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_confusion_baseline_the_narrow_grant_works_and_nothing_else() {
    let setup = setup("s3-baseline", "").await;
    let host = setup.gw.to_string();
    let h = host.as_str();
    let allowed = "arn:aws:s3:::bucket/allowed/x";

    // The baseline: the narrow grant works, and nothing else.
    assert!(
        matches!(case(&setup, "allowed", &get("/bucket/allowed/x", h, "")).await,
        Outcome::Served { resource } if resource == allowed)
    );
    assert!(matches!(
        case(&setup, "secret", &get("/bucket/secret/x", h, "")).await,
        Outcome::Refused(403)
    ));
    setup.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_path_confusion_is_refused_or_authorised_as_served() {
    let setup = setup("s3-paths", "").await;
    let host = setup.gw.to_string();
    let h = host.as_str();
    let mut served = Vec::new();

    // Path confusion, path-style: refused, or served as exactly the key S3 reads.
    let paths = [
        "/bucket/allowed/../secret/x",
        "/bucket/allowed/./x",
        "/bucket/allowed/%2e%2e/secret/x",
        "/bucket/allowed/%2E%2e/secret/x",
        "/bucket/allowed/.%2E/secret/x",
        "/bucket/allowed%2F..%2Fsecret/x",
        "/bucket/allowed/..%2Fsecret%2Fx",
        "/bucket/allowed/%252e%252e/secret/x",
        "/bucket/allowed/%252F../secret/x",
        "/bucket%2Fallowed/x",
        "/bucket%2fsecret/x",
        "/bucket//allowed/x",
        "/bucket/allowed//../secret/x",
        "//bucket/allowed/x",
        "/bucket/allowed/..\\secret\\x",
        "/bucket/allowed/%5C..%5Csecret/x",
        "/bucket\\secret/x",
        "/bucket/allowed;/../secret/x",
        "/bucket/secret;x=1/y",
        "/bucket;/secret/x",
        "/bucket/allowed/x%00/../../secret/y",
        "/bucket/secret/x%00/allowed/",
        "/bucket/allowed/%0d%0aX-Injected:%201",
        "/bucket/allowed/%C0%AF..%C0%AFsecret",
        "/bucket/allowed/%C0%AE%C0%AE/secret/x",
        "/bucket/allowed/%FF",
        "/bucket/allowed/%E2%80%AE",
        "/bucket/ALLOWED/x",
        "/BUCKET/allowed/x",
        "/bucket/allowed/%3F/../secret",
        "/bucket/allowed/x?/../../secret/y",
        "/bucket/secret/x?x=/allowed/",
        "/bucket/allowed/x?versionId=1&versionId=2",
        "/bucket/allowed/%",
        "/bucket/allowed/%2",
        "/bucket/allowed/%zz",
        "/192.168.1.1/allowed/x",
        "/127.0.0.1/allowed/x",
        "/bucket/allowed/x#/../../secret/y",
        "*",
        "bucket/allowed/x",
    ];
    for path in paths {
        if let Outcome::Served { resource } = case(&setup, path, &get(path, h, "")).await {
            served.push((path, resource));
        }
    }
    // Raw bytes no URL library would produce.
    for (label, target) in [
        ("NUL", &b"/bucket/allowed/x\x00/../../secret/y"[..]),
        ("control byte", b"/bucket/allowed/\x01x"),
        ("tab", b"/bucket/allowed/\tx"),
        ("space", b"/bucket/allowed/ x"),
        ("DEL", b"/bucket/allowed/\x7fx"),
        ("raw UTF-8", "/bucket/allowed/é".as_bytes()),
        ("raw overlong", b"/bucket/allowed/\xc0\xaf"),
    ] {
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(
            format!(" HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        case(&setup, label, &request).await;
    }

    // What was served is only ever under bucket/allowed/ (the invariant above checked each).
    assert!(
        served
            .iter()
            .all(|(_, r)| r.starts_with("arn:aws:s3:::bucket/allowed/")),
        "{served:#?}"
    );
    setup.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_host_confusion_is_refused_or_authorised_as_served() {
    let setup = setup("s3-hosts", "").await;
    let host = setup.gw.to_string();
    let h = host.as_str();
    let mut served = Vec::new();

    // Host confusion: absolute-form targets, duplicate Hosts, virtual-hosted against path-style.
    let port = setup.gw.port();
    let host_cases: Vec<(String, Vec<u8>)> = vec![
        (
            "absolute, same host".into(),
            get(&format!("http://{h}/bucket/secret/x"), h, ""),
        ),
        (
            "absolute, other host".into(),
            get("http://other/bucket/allowed/x", h, ""),
        ),
        (
            "absolute, virtual-hosted secret".into(),
            get("http://secret.s3.localhost/allowed/x", h, ""),
        ),
        (
            "absolute virtual, Host agrees".into(),
            get(
                "http://secret.s3.localhost/allowed/x",
                "secret.s3.localhost",
                "",
            ),
        ),
        (
            "absolute path-style under a virtual Host".into(),
            get(
                &format!("http://{h}/bucket/allowed/x"),
                "secret.s3.localhost",
                "",
            ),
        ),
        (
            "virtual-hosted secret".into(),
            get("/allowed/x", "secret.s3.localhost", ""),
        ),
        (
            "virtual-hosted with port".into(),
            get("/allowed/x", &format!("bucket.s3.localhost:{port}"), ""),
        ),
        (
            "virtual-hosted upper case, trailing dot".into(),
            get("/allowed/x", "BUCKET.S3.LOCALHOST.", ""),
        ),
        (
            "virtual-hosted path names another bucket".into(),
            get("/secret/allowed/x", "bucket.s3.localhost", ""),
        ),
        (
            "virtual-hosted, dot segments".into(),
            get("/allowed/../../secret/x", "bucket.s3.localhost", ""),
        ),
        (
            "duplicate Host".into(),
            get(
                "/allowed/x",
                "bucket.s3.localhost",
                "Host: secret.s3.localhost\r\n",
            ),
        ),
        (
            "duplicate Host, path-style".into(),
            get("/bucket/allowed/x", h, "Host: secret.s3.localhost\r\n"),
        ),
        (
            "Host with two ports".into(),
            get("/allowed/x", "bucket.s3.localhost:1:2", ""),
        ),
        (
            "Host with userinfo".into(),
            get("/allowed/x", "x@secret.s3.localhost", ""),
        ),
        (
            "Host with a path".into(),
            get("/allowed/x", "secret.s3.localhost/bucket", ""),
        ),
        ("empty Host".into(), get("/bucket/allowed/x", "", "")),
        (
            "IP-like virtual bucket".into(),
            get("/allowed/x", "192.168.1.1.s3.localhost", ""),
        ),
        ("IPv6 Host".into(), get("/bucket/allowed/x", "[::1]", "")),
        (
            "Host of the route table, S3 path".into(),
            get("/bucket/allowed/x", "orders.localhost", ""),
        ),
        (
            "no Host, HTTP/1.0".into(),
            b"GET /bucket/allowed/x HTTP/1.0\r\n\r\n".to_vec(),
        ),
        (
            "no Host, HTTP/1.1".into(),
            b"GET /bucket/allowed/x HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
        ),
    ];
    for (label, request) in &host_cases {
        if let Outcome::Served { resource } = case(&setup, label, request).await {
            served.push((label.as_str(), resource));
        }
    }

    // What was served is only ever under bucket/allowed/ (the invariant above checked each).
    assert!(
        served
            .iter()
            .all(|(_, r)| r.starts_with("arn:aws:s3:::bucket/allowed/")),
        "{served:#?}"
    );
    setup.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_header_injected_identities_never_reach_the_upstream() {
    let setup = setup("s3-spoof", "").await;
    let host = setup.gw.to_string();
    let h = host.as_str();
    let allowed = "arn:aws:s3:::bucket/allowed/x";

    // Header-injected identities never reach the upstream and change nothing.
    for spoof in [
        "x-iamgate-principal-arn: arn:aws:iam::111122223333:root\r\n",
        "X-IAMGATE-ACCOUNT: 111122223333\r\nx-iamgate-action: s3:*\r\n",
        "x_iamgate_principal_arn: arn:aws:iam::111122223333:root\r\n",
        "x-iamgate-request-id: forged\r\n",
        "Connection: x-iamgate-principal-arn\r\n",
    ] {
        let out = case(&setup, spoof, &get("/bucket/allowed/x", h, spoof)).await;
        assert!(
            matches!(out, Outcome::Served { ref resource } if resource == allowed),
            "{spoof}: {out:?}"
        );
        let last = setup.s3.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            last.headers["x-iamgate-principal-arn"], "anonymous",
            "{spoof}"
        );
        assert!(
            last.headers.get("x_iamgate_principal_arn").is_none(),
            "{spoof}"
        );
        assert_ne!(last.headers["x-iamgate-request-id"], "forged");
    }
    let spoofed = case(
        &setup,
        "spoofed root on secret",
        &get(
            "/bucket/secret/x",
            h,
            "x-iamgate-principal-arn: arn:aws:iam::111122223333:root\r\n",
        ),
    )
    .await;
    assert!(matches!(spoofed, Outcome::Refused(403)));
    setup.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_signed_path_confusion_is_refused_or_authorised_as_served() {
    let setup = setup("s3-signed", "").await;
    let host = setup.gw.to_string();
    let h = host.as_str();

    // Signed: the same confusions with a valid signature over the raw path.
    for path in [
        "/bucket/allowed/x",
        "/bucket/allowed/../secret/x",
        "/bucket/allowed/%2e%2e/secret/x",
        "/bucket/allowed%2F..%2Fsecret/x",
        "/bucket/secret/x",
        "/bucket//allowed/x",
    ] {
        case(
            &setup,
            &format!("signed {path}"),
            &signed_get(path, "", h, "s3", ""),
        )
        .await;
    }
    let signed_virtual = signed_get("/allowed/x", "", "secret.s3.localhost", "s3", "");
    assert!(matches!(
        case(&setup, "signed virtual secret", &signed_virtual).await,
        Outcome::Refused(_)
    ));
    setup.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_table_confusion_corpus_is_refused_or_authorised_as_served() {
    let setup = setup("routes", "").await;
    let h = "orders.localhost";
    let allowed = "arn:aws:orders:us-east-1:111122223333:order/allowed";
    assert!(
        matches!(case(&setup, "order allowed", &signed_get("/orders/allowed", "", h, "orders", "")).await,
        Outcome::Served { resource } if resource == allowed)
    );
    assert!(matches!(
        case(
            &setup,
            "order secret",
            &signed_get("/orders/secret", "", h, "orders", "")
        )
        .await,
        Outcome::Refused(403)
    ));
    assert!(matches!(
        case(&setup, "unsigned", &get("/orders/allowed", h, "")).await,
        Outcome::Refused(_)
    ));

    let paths = [
        "/orders/allowed/../secret",
        "/orders/secret/../allowed",
        "/orders/%2e%2e/orders/allowed",
        "/orders/allowed%2F..%2Fsecret",
        "/orders/allowed;/../secret",
        "/orders/allowed;x",
        "/orders/allowed%00",
        "/orders/allowed%0a",
        "/orders//allowed",
        "/orders/allowed/",
        "/Orders/allowed",
        "/orders/%61llowed",
        "/files/public/x",
        "/files/public/../secret/x",
        "/files/public/..%2Fsecret/x",
        "/files/public/..%2fsecret%2fx",
        "/files/public%2F..%2Fsecret/x",
        "/files/public/..%5Csecret/x",
        "/files/public/..\\secret/x",
        "/files/public/..;/secret/x",
        "/files/public/..;x=1/secret/x",
        "/files/public/%2e%2e/secret/x",
        "/files/public/%2E./secret/x",
        "/files/public/%252e%252e/secret/x",
        "/files/public/x%00/../../secret/y",
        "/files/public//x",
        "/files/public/%C0%AE%C0%AE/secret/x",
        "/files/public/%FF",
        "/files/secret/x",
        "/files/Public/x",
    ];
    let mut served = Vec::new();
    for path in paths {
        let request = signed_get(path, "", h, "orders", "");
        if let Outcome::Served { resource } = case(&setup, path, &request).await {
            served.push((path, resource));
        }
    }
    let absolute = {
        let mut head = String::new();
        for (k, v) in sign_raw("GET", "/orders/allowed", "", h, "orders", TESTER) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head
    };
    for (label, request) in [
        ("absolute, same host", get("http://orders.localhost/orders/allowed", h, &absolute)),
        ("absolute, S3 host", get("http://orders.localhost/orders/allowed", &setup.gw.to_string(), &absolute)),
        ("duplicate Host", get("/orders/allowed", h, &format!("{absolute}Host: other\r\n"))),
        ("method override", get("/orders/allowed", h, &format!("{absolute}X-HTTP-Method-Override: DELETE\r\nX-HTTP-Method: DELETE\r\nX-Method-Override: DELETE\r\n"))),
        ("spoofed identity", get("/orders/allowed", h, &format!("{absolute}x-iamgate-principal-arn: arn:aws:iam::111122223333:root\r\nx_iamgate_account: 1\r\n"))),
    ] {
        if let Outcome::Served { resource } = case(&setup, label, &request).await {
            served.push((label, resource));
        }
    }
    for received in setup.orders.lock().unwrap().iter() {
        for name in [
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
        ] {
            assert!(
                received.headers.get(name).is_none(),
                "{name} reached the upstream"
            );
        }
    }
    let last = setup.orders.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.headers["x-iamgate-principal-arn"], TESTER_ARN);
    assert_eq!(last.headers.get_all("x-iamgate-account").iter().count(), 1);
    assert_eq!(last.headers["x-iamgate-account"], "111122223333");
    let orders = "arn:aws:orders:us-east-1:111122223333:";
    assert!(
        served
            .iter()
            .all(|(_, r)| r == &format!("{orders}order/allowed")
                || r.starts_with(&format!("{orders}file/public/"))),
        "{served:#?}"
    );
    setup.running.stop().await;
}

/// What a smuggling case may lead to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// 400, nothing forwarded.
    Refused,
    /// Forwarded once, whole, with exactly this body and one framing; the connection is closed
    /// after the response, so nothing behind it is read.
    Forwarded(&'static [u8]),
    /// The head went on, the body broke: the upstream saw an aborted request, the client a 400.
    Aborted,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_attempts_are_refused_never_forwarded_ambiguously() {
    use Expect::*;
    let setup = setup("smuggle", "").await;
    let h = setup.gw.to_string();
    // Anyone may PUT under bucket/uploads/: nothing but framing can refuse these.
    let put = format!("PUT /bucket/uploads/x HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n");
    let hidden =
        format!("PUT /bucket/uploads/hidden HTTP/1.1\r\nHost: {h}\r\nContent-Length: 0\r\n\r\n");
    let cases: Vec<(&str, String, Expect)> = vec![
        // hyper lets Transfer-Encoding win over Content-Length, drops the length and closes the
        // connection after the response (RFC 9112, 6.3): one framing, and what hides behind it
        // is never read.
        ("CL then TE", format!("{put}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}"), Forwarded(b"")),
        ("TE then CL", format!("{put}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n3\r\nabc\r\n0\r\n\r\n{hidden}"), Forwarded(b"abc")),
        ("two different CL", format!("{put}Content-Length: 0\r\nContent-Length: 45\r\n\r\n{hidden}"), Refused),
        ("two equal CL", format!("{put}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc{hidden}"), Forwarded(b"abc")),
        ("CL list", format!("{put}Content-Length: 3, 3\r\n\r\nabc"), Refused),
        ("CL with sign", format!("{put}Content-Length: +3\r\n\r\nabc"), Refused),
        ("CL not a number", format!("{put}Content-Length: 3x\r\n\r\nabc"), Refused),
        ("CL empty", format!("{put}Content-Length: \r\n\r\nabc"), Refused),
        ("TE chunked, identity", format!("{put}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"), Refused),
        ("TE identity, chunked", format!("{put}Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n"), Refused),
        ("TE identity", format!("{put}Transfer-Encoding: identity\r\n\r\n"), Refused),
        ("TE twice", format!("{put}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), Refused),
        ("TE xchunked", format!("{put}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"), Refused),
        ("TE with space before colon", format!("{put}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"), Refused),
        ("TE obs-fold", format!("{put}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"), Refused),
        ("obs-fold", format!("{put}X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n"), Refused),
        ("invalid chunk size", format!("{put}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"), Aborted),
        ("chunk size overflow", format!("{put}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n"), Aborted),
        ("negative chunk size", format!("{put}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n"), Aborted),
        ("chunk longer than its size", format!("{put}Transfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"), Aborted),
        ("chunked body cut short", format!("{put}Transfer-Encoding: chunked\r\n\r\n5\r\nab"), Aborted),
        ("CL body cut short", format!("{put}Content-Length: 10\r\n\r\nab"), Aborted),
        ("bare CR in a header", format!("{put}X: a\rb\r\nContent-Length: 0\r\n\r\n"), Refused),
        ("header without name", format!("{put}: x\r\nContent-Length: 0\r\n\r\n"), Refused),
        ("HTTP/1.0 with TE", format!("PUT /bucket/uploads/x HTTP/1.0\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), Refused),
    ];
    for (label, request, expect) in &cases {
        let before = setup.s3.lock().unwrap().len();
        let mut stream = tokio::net::TcpStream::connect(setup.gw).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(request.as_bytes()).await.unwrap();
        if matches!(label, &"chunked body cut short" | &"CL body cut short") {
            // The client goes away in the middle of its body.
            stream.shutdown().await.unwrap();
        }
        let mut out = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut out),
        )
        .await;
        assert!(read.is_ok(), "{label}: no answer and no close");
        let response = parse_response(&out);
        let status = response.as_ref().map_or(0, |r| r.status);
        // The upstream's record of an aborted body comes when it notices the abort.
        // (A refused or aborted request may never reach it: wait a little, not for ever.)
        let wait = match expect {
            Forwarded(_) => 10_000,
            Aborted => 500,
            Refused => 0,
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(wait), async {
            while setup.s3.lock().unwrap().len() == before {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
        let seen = setup.s3.lock().unwrap()[before..].to_vec();
        assert!(
            seen.len() <= 1,
            "{label}: more than one request forwarded: {seen:#?}"
        );
        for r in &seen {
            assert_eq!(r.target, "/bucket/uploads/x", "{label}");
            assert!(
                r.headers.get_all("content-length").iter().count() <= 1,
                "{label}"
            );
            assert!(
                r.headers.get("content-length").is_none()
                    || r.headers.get("transfer-encoding").is_none(),
                "{label}: forwarded with both framings"
            );
        }
        match expect {
            Refused => {
                assert!(seen.is_empty(), "{label}: forwarded: {seen:#?}");
                assert!(status == 400 || status == 0, "{label}: {status}");
            }
            Forwarded(body) => {
                assert_eq!(status, 200, "{label}");
                assert_eq!(seen.len(), 1, "{label}");
                assert!(seen[0].complete, "{label}");
                assert_eq!(&seen[0].body[..], *body, "{label}");
            }
            Aborted => {
                assert!(
                    seen.iter().all(|r| !r.complete),
                    "{label}: the upstream took a broken body as whole: {seen:#?}"
                );
                assert!(status == 400 || status == 0, "{label}: {status}");
            }
        }
    }
    setup.running.stop().await;
}

/// Sends one HTTP/2 request (prior knowledge) with `authority` in the URI and `host` headers.
async fn h2(gw: SocketAddr, authority: &str, path: &str, hosts: &[&str]) -> u16 {
    let stream = tokio::net::TcpStream::connect(gw).await.unwrap();
    let mut request = hyper::Request::builder().uri(format!("http://{authority}{path}"));
    for host in hosts {
        request = request.header("host", *host);
    }
    let request = request
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    h2_status(stream, request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_authority_against_host() {
    let setup = setup("h2", "").await;
    let h = setup.gw.to_string();
    // :authority alone decides, path-style and virtual-hosted.
    assert_eq!(h2(setup.gw, &h, "/bucket/allowed/x", &[]).await, 200);
    assert_eq!(
        h2(setup.gw, "bucket.s3.localhost", "/allowed/x", &[]).await,
        200
    );
    assert_eq!(
        h2(setup.gw, "secret.s3.localhost", "/allowed/x", &[]).await,
        403
    );
    // A Host that disagrees with :authority, or two Hosts, are refused.
    let before = setup.s3.lock().unwrap().len();
    assert_eq!(
        h2(
            setup.gw,
            "secret.s3.localhost",
            "/allowed/x",
            &["bucket.s3.localhost"]
        )
        .await,
        400
    );
    assert_eq!(
        h2(
            setup.gw,
            "bucket.s3.localhost",
            "/allowed/x",
            &["secret.s3.localhost"]
        )
        .await,
        400
    );
    assert_eq!(
        h2(setup.gw, &h, "/orders/allowed", &["orders.localhost"]).await,
        400
    );
    assert_eq!(
        h2(
            setup.gw,
            &h,
            "/bucket/allowed/x",
            &[&h, "secret.s3.localhost"]
        )
        .await,
        400
    );
    assert_eq!(setup.s3.lock().unwrap().len(), before);
    assert!(setup.orders.lock().unwrap().is_empty());
    // The one that agrees goes through.
    assert_eq!(
        h2(
            setup.gw,
            "bucket.s3.localhost",
            "/allowed/x",
            &["bucket.s3.localhost"]
        )
        .await,
        200
    );
    let last = setup.s3.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.target, "/bucket/allowed/x");
    setup.running.stop().await;
}

/// A raw HTTP/1.1 request signed as the test user (S3), `signed` headers covered by the
/// signature, `unsigned` header lines added after signing.
fn signed_s3(
    method: &str,
    target: &str,
    host: &str,
    signed: &[(&str, &str)],
    unsigned: &str,
    body: &str,
) -> Vec<u8> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in sign_raw_with(method, path, query, host, "s3", TESTER, signed) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in signed {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(unsigned);
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    head.into_bytes()
}

/// `x-amz-*` headers the signature does not cover are refused with S3's answer, before
/// anything reaches the upstream; signed, the same request goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_amz_headers_never_reach_the_upstream() {
    let setup = setup("unsigned", "").await;
    let h = setup.gw.to_string();
    for (name, value) in [
        ("x-amz-copy-source", "bucket/allowed/x"),
        ("x-amz-acl", "public-read"),
        ("x-amz-tagging", "a=b"),
        ("x-amz-storage-class", "GLACIER"),
    ] {
        let request = signed_s3(
            "PUT",
            "/bucket/uploads/u",
            &h,
            &[],
            &format!("{name}: {value}\r\n"),
            "",
        );
        let r = raw(setup.gw, &request).await.expect("an answer");
        assert_eq!(r.status, 403, "{name}: {}", r.body_text());
        assert!(
            r.body_text().contains("<Code>AccessDenied</Code><Message>There were headers present in the request which were not signed</Message>")
                && r.body_text().contains(&format!("<HeadersNotSigned>{name}</HeadersNotSigned>")),
            "{}",
            r.body_text()
        );
    }
    assert!(setup.s3.lock().unwrap().is_empty(), "nothing was forwarded");
    let signed = signed_s3(
        "PUT",
        "/bucket/uploads/u",
        &h,
        &[("x-amz-storage-class", "STANDARD")],
        "",
        "",
    );
    assert_eq!(raw(setup.gw, &signed).await.unwrap().status, 200);
    assert_eq!(setup.s3.lock().unwrap().len(), 1);
    setup.running.stop().await;
}

/// The copy source is sent upstream as the gateway decoded and authorised it, never as the
/// client's bytes; with an upstream that may normalise paths, a source key with dot segments is
/// refused like such a path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_source_is_rebuilt_from_what_was_authorised() {
    let setup = setup("copy-source", "").await;
    let h = setup.gw.to_string();
    for (sent, forwarded) in [
        ("bucket/allowed/%61%20b", "/bucket/allowed/a%20b"),
        ("/bucket/allowed/a%2Bb", "/bucket/allowed/a%2Bb"),
        ("bucket/allowed/x~y%7E", "/bucket/allowed/x~y~"),
    ] {
        let before = setup.s3.lock().unwrap().len();
        let request = signed_s3(
            "PUT",
            "/bucket/uploads/c",
            &h,
            &[("x-amz-copy-source", sent)],
            "",
            "",
        );
        let r = raw(setup.gw, &request).await.unwrap();
        assert_eq!(r.status, 200, "{sent}: {}", r.body_text());
        let log = setup.s3.lock().unwrap();
        assert_eq!(log.len(), before + 1);
        assert_eq!(
            log[before].headers["x-amz-copy-source"], forwarded,
            "{sent}"
        );
    }
    for source in [
        "bucket/allowed/../secret/x",
        "bucket/allowed/%2E%2E/secret/x",
        "bucket/allowed//x",
        "bucket/allowed/./x",
    ] {
        let request = signed_s3(
            "PUT",
            "/bucket/uploads/c",
            &h,
            &[("x-amz-copy-source", source)],
            "",
            "",
        );
        let r = raw(setup.gw, &request).await.unwrap();
        assert_eq!(r.status, 400, "{source}");
        assert!(
            r.body_text().contains("<Code>InvalidRequest</Code>"),
            "{source}"
        );
    }
    setup.running.stop().await;
}

/// `keys = "literal"`: an upstream that keeps keys literally gets every key, its dot segments
/// encoded so that nothing on the way resolves them; the default refuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_modes_literal_and_strict() {
    capture_decisions();
    let scratch = hardened::store("key-modes");
    let (s3_addr, s3) = recording_upstream().await;
    let (orders_addr, _orders) = recording_upstream().await;
    let running = start(hardened::config_with(
        &scratch,
        s3_addr,
        orders_addr,
        "",
        "keys = \"literal\"",
    ))
    .await
    .unwrap();
    let gw = running.http.unwrap();
    let h = gw.to_string();
    for (path, forwarded) in [
        ("/bucket/allowed/../x", "/bucket/allowed/%2E%2E/x"),
        ("/bucket/allowed/%2e/x", "/bucket/allowed/%2E/x"),
        ("/bucket/allowed//x", "/bucket/allowed//x"),
        ("/bucket/allowed/x/", "/bucket/allowed/x/"),
    ] {
        let r = raw(gw, &get(path, &h, "")).await.unwrap();
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(s3.lock().unwrap().last().unwrap().target, forwarded);
    }
    running.stop().await;

    let setup = setup("key-modes-strict", "").await;
    let h = setup.gw.to_string();
    for path in [
        "/bucket/allowed/../x",
        "/bucket/allowed/%2e/x",
        "/bucket/allowed//x",
        "/bucket//allowed/x",
        "/bucket/allowed/x/",
        "/bucket/allowed/x%5C..%5C..%5Csecret%5Cx",
        "/bucket/allowed/..;/secret/x",
        "/bucket/allowed/.../secret/x",
        "/bucket/allowed/x%00/../../secret/y",
    ] {
        let r = raw(setup.gw, &get(path, &h, "")).await.unwrap();
        assert_eq!(r.status, 400, "{path}");
        assert!(r.body_text().contains("<Code>InvalidRequest</Code>"));
    }
    let r = raw(setup.gw, &get("/bucket/allowed/x", &h, ""))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        setup.s3.lock().unwrap().len(),
        1,
        "only the plain key was forwarded"
    );
    setup.running.stop().await;
}

/// Reads one response head (up to the blank line) within 10 s.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !out.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte).await {
                Ok(1) => out.push(byte[0]),
                _ => break,
            }
        }
    })
    .await
    .expect("a response head within 10 s");
    String::from_utf8_lossy(&out).into_owned()
}

/// `Expect: 100-continue`: a request that will be refused gets its refusal without `100
/// Continue`, so the client never uploads; an allowed one is told to go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_is_granted_only_to_requests_that_will_be_forwarded() {
    use tokio::io::AsyncWriteExt;
    let setup = setup("expect", "").await;
    let h = setup.gw.to_string();
    let mut stream = tokio::net::TcpStream::connect(setup.gw).await.unwrap();
    stream
        .write_all(
            format!(
                "PUT /bucket/secret/x HTTP/1.1\r\nHost: {h}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");

    let mut stream = tokio::net::TcpStream::connect(setup.gw).await.unwrap();
    stream
        .write_all(
            format!(
                "PUT /bucket/uploads/e HTTP/1.1\r\nHost: {h}\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");
    stream.write_all(b"hello").await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let log = setup.s3.lock().unwrap().clone();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].body, b"hello");

    setup.running.stop().await;
}

/// `;` in the query never reaches an upstream unencoded, and the client's `Forwarded` and
/// `X-Real-IP` are replaced by the address the gateway saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semicolons_and_forwarding_headers_are_not_passed_through() {
    let setup = setup("forwarded", "").await;
    let h = setup.gw.to_string();
    let r = raw(
        setup.gw,
        &get(
            "/bucket/allowed/x?x=1;acl",
            &h,
            "Forwarded: for=10.9.9.9;proto=https\r\nX-Real-IP: 10.9.9.9\r\n",
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    let log = setup.s3.lock().unwrap().clone();
    let received = &log[0];
    assert_eq!(received.target, "/bucket/allowed/x?x=1%3Bacl");
    assert_eq!(received.headers["forwarded"], "for=127.0.0.1;proto=http");
    assert_eq!(received.headers.get_all("forwarded").iter().count(), 1);
    assert_eq!(received.headers["x-real-ip"], "127.0.0.1");

    setup.running.stop().await;
}

/// The headers `Connection` names are gone before the request is authenticated: a signed one
/// then fails the signature (the upstream would never have seen it), so a header a policy
/// condition read cannot be dropped on the way, nor an authorised copy turned into a plain PUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_named_by_connection_are_dropped_before_the_decision() {
    let setup = setup("connection-named", "").await;
    let h = setup.gw.to_string();
    for (name, value) in [
        ("x-amz-storage-class", "STANDARD"),
        ("x-amz-copy-source", "bucket/allowed/x"),
    ] {
        let request = signed_s3(
            "PUT",
            "/bucket/uploads/u",
            &h,
            &[(name, value)],
            &format!("Connection: keep-alive, {name}\r\n"),
            "",
        );
        let r = raw(setup.gw, &request).await.unwrap();
        assert_eq!(r.status, 403, "{name}: {}", r.body_text());
        assert!(
            r.body_text().contains("<Code>SignatureDoesNotMatch</Code>"),
            "{}",
            r.body_text()
        );
    }
    assert!(setup.s3.lock().unwrap().is_empty());
    // An unsigned header named there is simply not forwarded.
    let r = raw(
        setup.gw,
        &get(
            "/bucket/allowed/x",
            &h,
            "X-Custom: 1\r\nConnection: keep-alive, x-custom\r\n",
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(!setup.s3.lock().unwrap()[0].headers.contains_key("x-custom"));
    setup.running.stop().await;
}

/// Header names with `_` (which CGI, WSGI, Rack and PHP upstreams read as the `-` name) and
/// path overrides never reach the upstream; `X-Forwarded-Host` is the gateway's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn underscore_names_and_path_overrides_are_not_forwarded() {
    let setup = setup("underscores", "").await;
    let h = setup.gw.to_string();
    let r = raw(
        setup.gw,
        &format!(
            "PUT /bucket/uploads/u HTTP/1.1\r\nHost: {h}\r\nx_amz_copy_source: /bucket/secret/x\r\n\
             X_HTTP_METHOD_OVERRIDE: DELETE\r\nx_real_ip: 10.0.0.1\r\nX-Original-URL: /bucket/secret/x\r\n\
             X-Rewrite-URL: /bucket/secret/x\r\nX-Forwarded-Host: evil.example\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        )
        .into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body_text());
    let log = setup.s3.lock().unwrap().clone();
    let received = &log[0];
    for name in received.headers.keys() {
        assert!(!name.as_str().contains('_'), "{name} was forwarded");
    }
    assert!(!received.headers.contains_key("x-original-url"));
    assert!(!received.headers.contains_key("x-rewrite-url"));
    assert_eq!(received.headers["x-forwarded-host"], h.as_str());
    assert_eq!(
        received.headers.get_all("x-forwarded-host").iter().count(),
        1
    );

    setup.running.stop().await;
}

/// A DeleteObjects body names keys too: with an upstream that may normalise paths, a key it
/// would resolve is refused like such a path, and nothing is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_keys_follow_the_key_rule() {
    let setup = setup("delete-keys", "").await;
    let h = setup.gw.to_string();
    let body = "<Delete><Object><Key>uploads/../secret/x</Key></Object></Delete>";
    let request = signed_s3(
        "POST",
        "/bucket?delete",
        &h,
        &[],
        "Content-MD5: ignored\r\n",
        body,
    );
    let r = raw(setup.gw, &request).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body_text());
    assert!(
        r.body_text().contains("<Code>InvalidRequest</Code>")
            && r.body_text().contains("path segment"),
        "{}",
        r.body_text()
    );
    assert!(setup.s3.lock().unwrap().is_empty());
    setup.running.stop().await;
}
