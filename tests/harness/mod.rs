//! Shared by the hardening tests (`security.rs`, `limits.rs`, `upstream_failures.rs`): a scratch
//! policy store, an upstream that records exactly what it receives, a raw-TCP client that sends
//! bytes as they are (so that nothing normalises them), and a SigV4 signer over raw paths.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use iamgate::config::Config;
use iamgate::sigv4::canonical::{canonical_path, canonical_query, PathMode};
use iamgate::sigv4::key::{derive_signing_key, hmac_sha256};
use iamgate::sigv4::SecretKey;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The test user's key (account 111122223333, user `tester`).
pub const TESTER: (&str, &str) = (
    "AKIATESTER0000000001",
    "testerSecret/0123456789abcdefghijklmnopqr",
);
/// The test user's ARN.
pub const TESTER_ARN: &str = "arn:aws:iam::111122223333:user/tester";

/// A scratch folder holding a policy store made for these tests:
/// - bucket `bucket`: anyone may `s3:GetObject` under `allowed/` and `s3:PutObject` under
///   `uploads/`, nobody anything under
///   `secret/` (explicit deny); bucket `secret`: no policy (so nothing for anonymous callers);
/// - user `tester`: `s3:GetObject` on `bucket/allowed/*`; `orders:GetOrder` on order `allowed`;
///   `orders:GetFile` on `file/public/*`, explicitly not `file/secret/*`.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("iamgate-harden-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let account = dir.join("policies/111122223333");
        std::fs::create_dir_all(&account).unwrap();
        std::fs::write(
            account.join("iam.json"),
            r#"{"UserDetailList": [{"Path": "/", "UserName": "tester", "UserId": "AIDATESTER0000000001",
              "Arn": "arn:aws:iam::111122223333:user/tester", "CreateDate": "2026-01-01T00:00:00Z",
              "UserPolicyList": [{"PolicyName": "narrow", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/allowed/*"},
                {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "arn:aws:orders:us-east-1:111122223333:order/allowed"},
                {"Effect": "Allow", "Action": "orders:GetFile", "Resource": "arn:aws:orders:us-east-1:111122223333:file/public/*"},
                {"Effect": "Deny", "Action": "orders:*", "Resource": "arn:aws:orders:us-east-1:111122223333:file/secret/*"}
              ]}}],
              "GroupList": [], "AttachedManagedPolicies": [], "Tags": []}],
              "GroupDetailList": [], "RoleDetailList": [], "Policies": []}"#,
        )
        .unwrap();
        std::fs::write(
            account.join("credentials.json"),
            format!(
                r#"[{{"AccessKeyId": "{}", "SecretAccessKey": "{}", "UserName": "tester", "Status": "Active"}}]"#,
                TESTER.0, TESTER.1
            ),
        )
        .unwrap();
        std::fs::write(
            account.join("resources.json"),
            r#"{"arn:aws:s3:::bucket": {"Policy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/allowed/*"},
                {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/uploads/*"},
                {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bucket/secret/*"}
              ]}}}"#,
        )
        .unwrap();
        Scratch(dir)
    }

    /// A gateway configuration: the S3 model in front of `s3` and the `orders` route table
    /// (`GET /orders/{id}`, `GET /files/{path+}`) in front of `orders`; `limits` is the body
    /// of the `[limits]` table.
    pub fn config(&self, s3: SocketAddr, orders: SocketAddr, limits: &str) -> Config {
        self.config_with(s3, orders, limits, "")
    }

    /// [`Scratch::config`] with more keys for `[upstreams.s3]` (`s3_keys`, TOML lines).
    pub fn config_with(
        &self,
        s3: SocketAddr,
        orders: SocketAddr,
        limits: &str,
        s3_keys: &str,
    ) -> Config {
        let text = format!(
            r#"
            region = "us-east-1"
            policies = "policies"
            [listen]
            http = "127.0.0.1:0"
            [limits]
            {limits}
            [upstreams.s3]
            kind = "s3"
            url = "http://{s3}"
            owner = "111122223333"
            {s3_keys}
            [upstreams.orders]
            kind = "routes"
            url = "http://{orders}"
            hosts = ["orders.localhost"]
            service = "orders"
            [[upstreams.orders.actions]]
            name = "GetOrder"
            resource_types = ["order"]
            [[upstreams.orders.actions]]
            name = "GetFile"
            resource_types = ["file"]
            [[upstreams.orders.routes]]
            method = "GET"
            path = "/orders/{{id}}"
            action = "GetOrder"
            resource_type = "order"
            resource = "arn:aws:orders:{{region}}:{{account}}:order/{{id}}"
            [[upstreams.orders.routes]]
            method = "GET"
            path = "/files/{{path+}}"
            action = "GetFile"
            resource_type = "file"
            resource = "arn:aws:orders:{{region}}:{{account}}:file/{{path}}"
            "#
        );
        Config::parse(&text, &self.0.join("iamgate.toml"), &self.0).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One request as the recording upstream received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The request target exactly as it arrived.
    pub target: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    /// Whether the body arrived whole (its framing ended normally).
    pub complete: bool,
}

/// What a recording upstream saw.
pub type Log = Arc<Mutex<Vec<Received>>>;

/// Starts an upstream that records every request (head and whole body) and answers 200
/// `served`.
pub async fn recording_upstream() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task_log = Arc::clone(&log);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = Arc::clone(&task_log);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let log = Arc::clone(&log);
                        async move {
                            let (parts, body) = req.into_parts();
                            let (body, complete) = match body.collect().await {
                                Ok(b) => (b.to_bytes().to_vec(), true),
                                Err(_) => (Vec::new(), false),
                            };
                            log.lock().unwrap().push(Received {
                                method: parts.method.to_string(),
                                target: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                                complete,
                            });
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                Bytes::from_static(b"served"),
                            )))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, log)
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// The head, lower-cased names.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `bytes` as they are on a new connection and reads until the gateway closes it (the
/// requests should say `Connection: close`). `None` when the connection closed without a
/// response. Fails the test if nothing happens within 20 s.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and no close within 20 s");
    parse_response(&out)
}

/// Parses the first response in `bytes` (Content-Length bodies; otherwise the rest).
pub fn parse_response(bytes: &[u8]) -> Option<RawResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut body = bytes[end + 4..].to_vec();
    let response = RawResponse {
        status,
        head,
        body: Vec::new(),
    };
    if let Some(len) = response
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Some(RawResponse { body, ..response })
}

/// `Authorization` and `x-amz-date` (and for S3 `x-amz-content-sha256: UNSIGNED-PAYLOAD`)
/// signing `method raw_path?raw_query` with `host`, computed from the raw bytes the way AWS
/// defines it (S3: the path as sent; other services: normalised), so that paths no URL library
/// would accept can be signed.
pub fn sign_raw(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
) -> Vec<(String, String)> {
    sign_raw_with(method, raw_path, raw_query, host, service, key, &[])
}

/// [`sign_raw`], also signing the `extra` headers (lower-case names, values as sent); they are
/// not in the returned list: the caller sends them.
pub fn sign_raw_with(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let day = &date[..8];
    let s3 = service == "s3";
    let mut creq = Vec::new();
    creq.extend_from_slice(method.as_bytes());
    creq.push(b'\n');
    canonical_path(
        &mut creq,
        raw_path.as_bytes(),
        if s3 {
            PathMode::AsSent
        } else {
            PathMode::Normalized
        },
    );
    creq.push(b'\n');
    canonical_query(&mut creq, raw_query.as_bytes(), |_| false);
    creq.push(b'\n');
    let payload = if s3 {
        "UNSIGNED-PAYLOAD".to_owned()
    } else {
        hex::encode(Sha256::digest(b""))
    };
    let mut all: Vec<(&str, &str)> = vec![("host", host), ("x-amz-date", &date)];
    if s3 {
        all.push(("x-amz-content-sha256", &payload));
    }
    all.extend_from_slice(extra);
    all.sort();
    let headers: String = all.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed = all.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(";");
    let signed = signed.as_str();
    creq.extend_from_slice(headers.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(signed.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(payload.as_bytes());
    let scope = format!("{day}/us-east-1/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(&creq))
    );
    let signing_key = derive_signing_key(&SecretKey::new(key.1), day, "us-east-1", service);
    let signature = hex::encode(hmac_sha256(&signing_key, to_sign.as_bytes()));
    let mut out = vec![
        ("x-amz-date".to_owned(), date),
        (
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                key.0
            ),
        ),
    ];
    if s3 {
        out.push(("x-amz-content-sha256".to_owned(), payload));
    }
    out
}

/// Open file descriptors of this process (sockets included).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A `GET` of `target` with `Host: host`, the `extra` header lines, then `Connection: close`.
pub fn get(target: &str, host: &str, extra: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
        .into_bytes()
}

/// [`get`] signed by [`sign_raw`] as the test user for `service`.
pub fn signed_get(path: &str, query: &str, host: &str, service: &str, extra: &str) -> Vec<u8> {
    let mut head = String::new();
    for (k, v) in sign_raw("GET", path, query, host, service, TESTER) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    get(&target, host, &format!("{head}{extra}"))
}
