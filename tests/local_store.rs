//! The built-in local object store, driven in-process through `LocalStore::handle` with real
//! request bodies: every operation, errors, ranges, ETags, atomicity, hostile keys and listings.

mod support;
use support::xml::unescape;
use support::Scratch;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use iamgate::upstream::local::LocalStore;
use md5::{Digest, Md5};

// ---------- helpers ----------

fn store(name: &str) -> (LocalStore, Scratch) {
    let base = Scratch::new(name);
    let root = base.join("store");
    (LocalStore::open(&root, "us-east-1").unwrap(), base)
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    frames: usize,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn code(&self) -> String {
        tags(&self.text(), "Code")
            .into_iter()
            .next()
            .unwrap_or_default()
    }
}

async fn send_body<B>(
    store: &LocalStore,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: B,
) -> Resp
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = store.handle(req.body(body).unwrap()).await;
    let (parts, mut body) = resp.into_parts();
    let mut data = Vec::new();
    let mut frames = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            frames += 1;
            data.extend_from_slice(&d);
        }
    }
    Resp {
        status: parts.status,
        headers: parts.headers,
        body: Bytes::from(data),
        frames,
    }
}

async fn send(
    store: &LocalStore,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Resp {
    send_body(store, method, uri, headers, Full::new(body.into())).await
}

async fn get(store: &LocalStore, uri: &str) -> Resp {
    send(store, Method::GET, uri, &[], Bytes::new()).await
}

async fn put(store: &LocalStore, uri: &str, body: impl Into<Bytes>) -> Resp {
    send(store, Method::PUT, uri, &[], body).await
}

/// The texts of every `<tag>..</tag>` in a document (no nesting of the same tag), unescaped.
fn tags(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn enc(key: &str) -> String {
    // Percent-encode everything but unreserved characters and '/', as SDKs do for paths.
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// A body that yields some chunks, then fails like a client that disconnected.
struct FailingBody {
    chunks: VecDeque<Bytes>,
}

impl Body for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.chunks.pop_front() {
            Some(c) => Poll::Ready(Some(Ok(Frame::data(c)))),
            None => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "client went away",
            )))),
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let ft = entry.file_type().unwrap();
            assert!(!ft.is_symlink(), "symlink {:?}", entry.path());
            if ft.is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

fn tmp_is_empty(base: &Path) -> bool {
    std::fs::read_dir(base.join("store/tmp"))
        .unwrap()
        .next()
        .is_none()
}

async fn list_all_v2(
    store: &LocalStore,
    bucket: &str,
    extra: &str,
    page: usize,
) -> (Vec<String>, Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut uri = format!("/{bucket}?list-type=2&max-keys={page}&encoding-type=url{extra}");
        if let Some(t) = &token {
            uri.push_str(&format!("&continuation-token={t}"));
        }
        let r = get(store, &uri).await;
        assert_eq!(r.status, 200, "{}", r.text());
        pages += 1;
        let text = r.text();
        let (contents, cps) = split_listing(&text);
        keys.extend(contents.iter().map(|k| url_decode(k)));
        prefixes.extend(cps.iter().map(|k| url_decode(k)));
        if tags(&text, "IsTruncated")[0] == "true" {
            token = Some(tags(&text, "NextContinuationToken")[0].clone());
        } else {
            break;
        }
        assert!(pages < 10_000);
    }
    (keys, prefixes, pages)
}

/// (Contents keys, CommonPrefixes prefixes) of a listing.
fn split_listing(text: &str) -> (Vec<String>, Vec<String>) {
    let contents = raw_tags(text, "Contents")
        .iter()
        .flat_map(|c| tags(c, "Key"))
        .collect();
    let cps = raw_tags(text, "CommonPrefixes")
        .iter()
        .flat_map(|c| tags(c, "Prefix"))
        .collect();
    (contents, cps)
}

/// Like [`tags`], without unescaping (for nested extraction).
fn raw_tags(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(after[..j].to_string());
        rest = &after[j + close.len()..];
    }
    out
}

// ---------- buckets ----------

#[tokio::test]
async fn bucket_lifecycle_and_errors() {
    let (s, _base) = store("buckets");
    let r = put(&s, "/alpha", "").await;
    assert_eq!(r.status, 200);
    let r = put(&s, "/alpha", "").await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "BucketAlreadyOwnedByYou");
    assert!(r.header("x-amz-request-id").is_some());
    assert!(tags(&r.text(), "RequestId").len() == 1);

    let r = put(&s, "/beta", "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>").await;
    assert_eq!(r.status, 200);

    let r = get(&s, "/").await;
    assert_eq!(r.status, 200);
    assert_eq!(tags(&r.text(), "Name"), vec!["alpha", "beta"]);
    let created = &tags(&r.text(), "CreationDate")[0];
    assert_eq!(created.len(), 24, "{created}");
    assert!(created.ends_with('Z'));

    let r = send(&s, Method::HEAD, "/alpha", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-amz-bucket-region"), Some("us-east-1"));
    let r = send(&s, Method::HEAD, "/missing", &[], "").await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());

    let r = get(&s, "/alpha?location").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        tags(
            &r.text()
                .replace(" xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"", ""),
            "LocationConstraint"
        ),
        vec!["us-east-1"]
    );

    for bad in ["/AB", "/a_b", "/ab", "/192.168.0.1", "/..", "/-abc"] {
        let r = put(&s, bad, "").await;
        assert_eq!(r.status, 400, "{bad}");
        assert_eq!(r.code(), "InvalidBucketName", "{bad}");
    }

    assert_eq!(put(&s, "/alpha/obj", "x").await.status, 200);
    let r = send(&s, Method::DELETE, "/alpha", &[], "").await;
    assert_eq!(r.status, 409);
    assert_eq!(r.code(), "BucketNotEmpty");
    assert_eq!(
        send(&s, Method::DELETE, "/alpha/obj", &[], "").await.status,
        204
    );
    assert_eq!(
        send(&s, Method::DELETE, "/alpha", &[], "").await.status,
        204
    );
    let r = send(&s, Method::DELETE, "/alpha", &[], "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "NoSuchBucket");
    assert_eq!(tags(&r.text(), "BucketName"), vec!["alpha"]);
    let r = get(&s, "/").await;
    assert_eq!(tags(&r.text(), "Name"), vec!["beta"]);
}

#[tokio::test]
async fn unsupported_operations() {
    let (s, _base) = store("unsupported");
    put(&s, "/b1b", "").await;
    let r = get(&s, "/b1b?acl").await;
    assert_eq!(r.status, 501);
    assert_eq!(r.code(), "NotImplemented");
    let r = put(&s, "/b1b/k?tagging", "<Tagging/>").await;
    assert_eq!(r.code(), "NotImplemented");
    let r = send(&s, Method::POST, "/", &[], "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "MethodNotAllowed");
    let r = send(&s, Method::PATCH, "/b1b/k", &[], "").await;
    assert_eq!(r.code(), "MethodNotAllowed");
    let r = send(&s, Method::POST, "/b1b/k", &[], "").await;
    assert_eq!(r.code(), "NotImplemented");
}

// ---------- objects ----------

/// A store with bucket `bkt` and `dir/hello.txt` (`hello`, text/plain, two metadata entries,
/// cache-control); the PUT's answer.
async fn store_with_hello(name: &str) -> (LocalStore, Scratch, Resp) {
    let (s, base) = store(name);
    put(&s, "/bkt", "").await;
    let data = b"hello".to_vec();
    let r = send(
        &s,
        Method::PUT,
        "/bkt/dir/hello.txt",
        &[
            ("content-type", "text/plain"),
            ("x-amz-meta-Color", "blue"),
            ("x-amz-meta-owner", "alice"),
            ("cache-control", "max-age=60"),
            ("content-length", "5"),
            ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
        ],
        data,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    (s, base, r)
}

#[tokio::test]
async fn put_get_head_with_metadata_and_etag() {
    let (s, _base, r) = store_with_hello("objects").await;
    let data = b"hello".to_vec();
    assert_eq!(r.status, 200, "{}", r.text());
    // Independently known: MD5("hello").
    assert_eq!(
        r.header("etag"),
        Some("\"5d41402abc4b2a76b9719d911017c592\"")
    );
    assert_eq!(md5_hex(&data), "5d41402abc4b2a76b9719d911017c592");

    let r = get(&s, "/bkt/dir/hello.txt").await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"hello");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(r.header("x-amz-meta-color"), Some("blue"));
    assert_eq!(r.header("x-amz-meta-owner"), Some("alice"));
    assert_eq!(r.header("cache-control"), Some("max-age=60"));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let lm = r.header("last-modified").unwrap();
    assert!(
        time::OffsetDateTime::parse(lm, &time::format_description::well_known::Rfc2822).is_ok(),
        "{lm}"
    );
    assert!(lm.ends_with(" GMT"));

    let r = send(&s, Method::HEAD, "/bkt/dir/hello.txt", &[], "").await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("5"));
    assert_eq!(
        r.header("etag"),
        Some("\"5d41402abc4b2a76b9719d911017c592\"")
    );
}

#[tokio::test]
async fn conditional_requests_and_response_overrides() {
    let (s, _base, _) = store_with_hello("conditional").await;

    // Conditional requests.
    let r = send(
        &s,
        Method::GET,
        "/bkt/dir/hello.txt",
        &[("if-none-match", "\"5d41402abc4b2a76b9719d911017c592\"")],
        "",
    )
    .await;
    assert_eq!(r.status, 304);
    let r = send(
        &s,
        Method::GET,
        "/bkt/dir/hello.txt",
        &[("if-match", "\"nope\"")],
        "",
    )
    .await;
    assert_eq!(r.status, 412);

    // Response overrides.
    let r = get(
        &s,
        "/bkt/dir/hello.txt?response-content-type=application%2Fjson",
    )
    .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn default_content_type_and_an_empty_object() {
    let (s, _base) = store("empty");
    put(&s, "/bkt", "").await;

    // Default content type, empty object.
    put(&s, "/bkt/empty", "").await;
    let r = get(&s, "/bkt/empty").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("binary/octet-stream"));
    assert_eq!(
        r.header("etag"),
        Some("\"d41d8cd98f00b204e9800998ecf8427e\"")
    );
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn an_overwrite_replaces_body_and_metadata() {
    let (s, _base, _) = store_with_hello("overwrite").await;

    // Overwrite.
    put(&s, "/bkt/dir/hello.txt", "bye").await;
    let r = get(&s, "/bkt/dir/hello.txt").await;
    assert_eq!(&r.body[..], b"bye");
    assert_eq!(r.header("x-amz-meta-color"), None);
}

#[tokio::test]
async fn object_errors() {
    let (s, _base) = store("object-errors");
    put(&s, "/bkt", "").await;

    // Errors.
    let r = get(&s, "/bkt/missing/key").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "NoSuchKey");
    assert_eq!(tags(&r.text(), "Key"), vec!["missing/key"]);
    assert!(tags(&r.text(), "RequestId")[0].len() >= 16);
    let r = send(&s, Method::HEAD, "/bkt/missing", &[], "").await;
    assert_eq!(r.status, 404);
    let r = get(&s, "/nobucket/key").await;
    assert_eq!(r.code(), "NoSuchBucket");
    let r = put(&s, "/nobucket/key", "x").await;
    assert_eq!(r.code(), "NoSuchBucket");
    let long = "k".repeat(1025);
    let r = put(&s, &format!("/bkt/{long}"), "x").await;
    assert_eq!(r.code(), "KeyTooLongError");
    let r = send(
        &s,
        Method::PUT,
        "/bkt/bad-md5",
        &[("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")],
        "data",
    )
    .await;
    assert_eq!(r.code(), "BadDigest");
    let r = send(
        &s,
        Method::PUT,
        "/bkt/bad-md5",
        &[("content-md5", "zz")],
        "data",
    )
    .await;
    assert_eq!(r.code(), "InvalidDigest");
    assert_eq!(get(&s, "/bkt/bad-md5").await.status, 404);
    let big_meta = "v".repeat(3000);
    let r = send(
        &s,
        Method::PUT,
        "/bkt/meta",
        &[("x-amz-meta-big", &big_meta)],
        "data",
    )
    .await;
    assert_eq!(r.code(), "MetadataTooLarge");
}

#[tokio::test]
async fn delete_is_idempotent() {
    let (s, _base, _) = store_with_hello("delete").await;

    // Delete is idempotent.
    assert_eq!(
        send(&s, Method::DELETE, "/bkt/dir/hello.txt", &[], "")
            .await
            .status,
        204
    );
    assert_eq!(
        send(&s, Method::DELETE, "/bkt/dir/hello.txt", &[], "")
            .await
            .status,
        204
    );
    assert_eq!(get(&s, "/bkt/dir/hello.txt").await.status, 404);
}

#[tokio::test]
async fn refuses_aws_chunked_bodies() {
    let (s, base) = store("chunked");
    put(&s, "/bkt", "").await;
    let raw = "5;chunk-signature=abc\r\nhello\r\n0;chunk-signature=def\r\n\r\n";
    let r = send(
        &s,
        Method::PUT,
        "/bkt/k",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "5"),
        ],
        raw,
    )
    .await;
    assert_eq!(r.status, 501);
    assert_eq!(r.code(), "NotImplemented");
    let r = send(
        &s,
        Method::PUT,
        "/bkt/k",
        &[("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")],
        raw,
    )
    .await;
    assert_eq!(r.code(), "NotImplemented");
    assert_eq!(get(&s, "/bkt/k").await.status, 404);
    assert!(tmp_is_empty(&base));
}

#[tokio::test]
async fn ranges() {
    let (s, _base) = store("ranges");
    put(&s, "/bkt", "").await;
    let data: Vec<u8> = (0..100u8).collect();
    put(&s, "/bkt/r", data.clone()).await;
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=50-500", 50, 99),
        ("bytes=-500", 0, 99),
        ("bytes=7-7", 7, 7),
    ] {
        let r = send(&s, Method::GET, "/bkt/r", &[("range", range)], "").await;
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(&r.body[..], &data[start..=end], "{range}");
        assert_eq!(
            r.header("content-range").unwrap(),
            format!("bytes {start}-{end}/100")
        );
        assert_eq!(
            r.header("content-length").unwrap(),
            (end - start + 1).to_string()
        );
    }
    for range in ["bytes=100-", "bytes=200-300", "bytes=-0"] {
        let r = send(&s, Method::GET, "/bkt/r", &[("range", range)], "").await;
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.code(), "InvalidRange");
        assert_eq!(r.header("content-range"), Some("bytes */100"));
    }
    // Not a usable single range: the whole object.
    for range in ["bytes=5-2", "bytes=0-1,5-6", "lines=1-2"] {
        let r = send(&s, Method::GET, "/bkt/r", &[("range", range)], "").await;
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body.len(), 100);
    }
    let r = send(&s, Method::HEAD, "/bkt/r", &[("range", "bytes=10-19")], "").await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some("10"));
}

#[tokio::test]
async fn large_bodies_stream_in_frames() {
    let (s, _base) = store("streaming");
    put(&s, "/bkt", "").await;
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    // Upload as many small frames.
    let chunks: Vec<Bytes> = data.chunks(64 * 1024).map(Bytes::copy_from_slice).collect();
    let body = ChunkBody(chunks.into());
    let r = send_body(&s, Method::PUT, "/bkt/big", &[], body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag").unwrap(), format!("\"{}\"", md5_hex(&data)));
    let r = get(&s, "/bkt/big").await;
    assert_eq!(r.body.len(), data.len());
    assert!(r.body[..] == data[..]);
    assert!(
        r.frames > 1,
        "response should be streamed, got {} frame(s)",
        r.frames
    );
}

/// A body made of many frames.
struct ChunkBody(VecDeque<Bytes>);

impl Body for ChunkBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
    }
}

// ---------- atomicity ----------

#[tokio::test]
async fn failed_upload_leaves_nothing_behind() {
    let (s, base) = store("atomic");
    put(&s, "/bkt", "").await;
    let chunks = vec![
        Bytes::from(vec![1u8; 100_000]),
        Bytes::from(vec![2u8; 100_000]),
    ];
    let r = send_body(
        &s,
        Method::PUT,
        "/bkt/new",
        &[],
        FailingBody {
            chunks: chunks.clone().into(),
        },
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(get(&s, "/bkt/new").await.status, 404);
    assert!(tmp_is_empty(&base));

    // An existing object survives a failed overwrite untouched.
    put(&s, "/bkt/old", "original").await;
    let r = send_body(
        &s,
        Method::PUT,
        "/bkt/old",
        &[],
        FailingBody {
            chunks: chunks.clone().into(),
        },
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(&get(&s, "/bkt/old").await.body[..], b"original");
    assert!(tmp_is_empty(&base));

    // A short body (Content-Length says more) is refused too.
    let r = send(
        &s,
        Method::PUT,
        "/bkt/short",
        &[("content-length", "10")],
        "12345",
    )
    .await;
    assert_eq!(r.code(), "IncompleteBody");
    assert_eq!(get(&s, "/bkt/short").await.status, 404);

    // A failing part leaves no part.
    let r = send(&s, Method::POST, "/bkt/mp?uploads", &[], "").await;
    let id = tags(&r.text(), "UploadId")[0].clone();
    let r = send_body(
        &s,
        Method::PUT,
        &format!("/bkt/mp?partNumber=1&uploadId={id}"),
        &[],
        FailingBody {
            chunks: chunks.into(),
        },
    )
    .await;
    assert_eq!(r.status, 400);
    let r = get(&s, &format!("/bkt/mp?uploadId={id}")).await;
    assert!(tags(&r.text(), "PartNumber").is_empty());
    assert!(tmp_is_empty(&base));

    // A request future dropped midway (client disconnect while the handler runs) cleans up too.
    let pending = PendingBody { sent: false };
    let fut = send_body(&s, Method::PUT, "/bkt/dropped", &[], pending);
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), fut).await;
    assert_eq!(get(&s, "/bkt/dropped").await.status, 404);
    assert!(tmp_is_empty(&base));
}

/// Sends one chunk, then never finishes.
struct PendingBody {
    sent: bool,
}

impl Body for PendingBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.sent {
            Poll::Pending
        } else {
            self.sent = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"partial")))))
        }
    }
}

// ---------- hostile keys ----------

#[tokio::test]
async fn hostile_keys_round_trip_and_stay_inside() {
    let (s, base) = store("hostile");
    put(&s, "/bkt", "").await;
    put(&s, "/other", "").await;
    let long_component = "a".repeat(300);
    let very_long = "ü/".repeat(300); // 900 bytes, hashed file name
    let keys: Vec<String> = vec![
        "..".into(),
        ".".into(),
        "../escape".into(),
        "../../../../etc/passwd".into(),
        "a/../../b".into(),
        "/leading".into(),
        "//double//slash//".into(),
        "trailing/".into(),
        "back\\slash\\..\\..\\x".into(),
        "nul\0byte".into(),
        "%2F..%2F..%2Fencoded".into(),
        "%".into(),
        "%%41".into(),
        "space and+plus".into(),
        "quote\"'<tag>&amp;".into(),
        "ctrl\x01\x1f\t\r\n".into(),
        "ünïcödé/日本語/🎉".into(),
        "UPPER".into(),
        "upper".into(),
        "kUPPER".into(),
        "h0000000000000000000000000000000000000000000000000000000000000000".into(),
        "tmp/x.tmp".into(),
        "upload.json".into(),
        "part-00001".into(),
        long_component.clone(),
        format!("{long_component}/{long_component}"),
        very_long.clone(),
        "?query=like&x".into(),
        "#hash".into(),
        "~tilde".into(),
        "con".into(),
        "aux.txt".into(),
    ];
    for (i, key) in keys.iter().enumerate() {
        let body = format!("body #{i} for {key:?}");
        let r = put(&s, &format!("/bkt/{}", enc(key)), body.clone()).await;
        assert_eq!(r.status, 200, "{key:?}: {}", r.text());
        let r = get(&s, &format!("/bkt/{}", enc(key))).await;
        assert_eq!(r.status, 200, "{key:?}");
        assert_eq!(r.text(), body, "{key:?}");
    }
    // Each key is listed exactly once, in UTF-8 byte order.
    let (listed, _, _) = list_all_v2(&s, "bkt", "", 7).await;
    let mut expected = keys.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(listed, expected);
    // Nothing leaked into the other bucket.
    let (other, _, _) = list_all_v2(&s, "other", "", 1000).await;
    assert!(other.is_empty());

    // Nothing exists outside the store root, and every object file is a flat child of its bucket.
    let outside: Vec<_> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("store")]);
    let root = base.join("store");
    for file in files_under(&root) {
        let rel = file.strip_prefix(&root).unwrap();
        let comps: Vec<_> = rel.components().collect();
        let top = comps[0].as_os_str().to_str().unwrap();
        match top {
            "buckets" => {
                assert_eq!(comps.len(), 3, "{rel:?}");
                let bucket = comps[1].as_os_str().to_str().unwrap();
                assert_eq!(bucket, "bkt", "{rel:?}");
                assert!(comps[2].as_os_str().len() <= 255);
            }
            "bucket-info" => assert_eq!(comps.len(), 2),
            other => panic!("unexpected file {rel:?} under {other}"),
        }
    }
    let object_files = std::fs::read_dir(root.join("buckets/bkt")).unwrap().count();
    assert_eq!(object_files, expected.len());

    // Deleting every key (batch) empties the bucket.
    let mut doc = String::from("<Delete>");
    for k in &keys {
        if k.chars()
            .any(|c| (c as u32) < 0x20 && c != '\t' && c != '\n')
        {
            continue; // not expressible in XML 1.0: deleted one by one below
        }
        let escaped = k
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        doc.push_str(&format!("<Object><Key>{escaped}</Key></Object>"));
    }
    doc.push_str("</Delete>");
    let r = send(&s, Method::POST, "/bkt?delete", &[], doc).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(tags(&r.text(), "Error").is_empty(), "{}", r.text());
    for k in &keys {
        send(&s, Method::DELETE, &format!("/bkt/{}", enc(k)), &[], "").await;
    }
    assert_eq!(send(&s, Method::DELETE, "/bkt", &[], "").await.status, 204);
}

#[tokio::test]
async fn foreign_files_are_ignored() {
    let (s, base) = store("foreign");
    put(&s, "/bkt", "").await;
    put(&s, "/bkt/real", "x").await;
    std::fs::write(base.join("store/buckets/bkt/stray.txt"), "junk").unwrap();
    std::fs::write(base.join("store/buckets/bkt/k%2e%2e"), "junk").unwrap();
    let (keys, _, _) = list_all_v2(&s, "bkt", "", 1000).await;
    assert_eq!(keys, vec!["real"]);
}

// ---------- listings ----------

async fn fill(s: &LocalStore, bucket: &str, keys: &[&str]) {
    put(s, &format!("/{bucket}"), "").await;
    for k in keys {
        assert_eq!(
            put(s, &format!("/{bucket}/{}", enc(k)), format!("data of {k}"))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn list_v2_prefix_delimiter_pagination() {
    let (s, _base) = store("list_v2");
    let keys = [
        "a.txt", "b/1", "b/2", "b/c/3", "c", "d/e/f", "d/x", "z", "é", "Z", "b0",
    ];
    fill(&s, "lst", &keys).await;
    let mut sorted: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    sorted.sort();

    // Full listing, byte order ("Z" < "a.txt" < ... < "z" < "é").
    let r = get(&s, "/lst?list-type=2").await;
    let text = r.text();
    assert_eq!(split_listing(&text).0, sorted);
    assert_eq!(tags(&text, "KeyCount"), vec![keys.len().to_string()]);
    assert_eq!(tags(&text, "IsTruncated"), vec!["false"]);
    // Entries carry size, ETag and ISO-8601 LastModified with milliseconds.
    let sizes = tags(&text, "Size");
    assert_eq!(sizes[0], "data of Z".len().to_string());
    let etag = &tags(&text, "ETag")[0];
    assert_eq!(etag, &format!("\"{}\"", md5_hex(b"data of Z")));
    let lm = &tags(&text, "LastModified")[0];
    assert!(
        time::OffsetDateTime::parse(lm, &time::format_description::well_known::Rfc3339).is_ok()
    );
    assert_eq!(lm.len(), 24);

    // Delimiter at the top level.
    let r = get(&s, "/lst?list-type=2&delimiter=/").await;
    let (contents, cps) = split_listing(&r.text());
    assert_eq!(contents, vec!["Z", "a.txt", "b0", "c", "z", "é"]);
    assert_eq!(cps, vec!["b/", "d/"]);
    // Prefix + delimiter.
    let r = get(&s, "/lst?list-type=2&prefix=b/&delimiter=/").await;
    let (contents, cps) = split_listing(&r.text());
    assert_eq!(contents, vec!["b/1", "b/2"]);
    assert_eq!(cps, vec!["b/c/"]);
    assert_eq!(tags(&r.text(), "Prefix")[0], "b/");
    // Prefix without delimiter.
    let r = get(&s, "/lst?list-type=2&prefix=d").await;
    assert_eq!(split_listing(&r.text()).0, vec!["d/e/f", "d/x"]);

    // Pagination: every page size gives the same entries, common prefixes counted once.
    for page in 1..=4 {
        let (k, p, pages) = list_all_v2(&s, "lst", "", page).await;
        assert_eq!(k, sorted, "page size {page}");
        assert!(p.is_empty());
        assert_eq!(pages, sorted.len().div_ceil(page).max(1));
        let (k, p, _) = list_all_v2(&s, "lst", "&delimiter=/", page).await;
        assert_eq!(
            k,
            vec!["Z", "a.txt", "b0", "c", "z", "é"],
            "page size {page}"
        );
        assert_eq!(p, vec!["b/", "d/"], "page size {page}");
    }

    // start-after.
    let r = get(&s, "/lst?list-type=2&start-after=c").await;
    assert_eq!(split_listing(&r.text()).0, vec!["d/e/f", "d/x", "z", "é"]);
    assert_eq!(tags(&r.text(), "StartAfter"), vec!["c"]);
    // max-keys=0, bad values.
    let r = get(&s, "/lst?list-type=2&max-keys=0").await;
    assert!(split_listing(&r.text()).0.is_empty());
    assert_eq!(
        get(&s, "/lst?list-type=2&max-keys=x").await.code(),
        "InvalidArgument"
    );
    assert_eq!(
        get(&s, "/lst?list-type=2&continuation-token=zz")
            .await
            .code(),
        "InvalidArgument"
    );
    assert_eq!(
        get(&s, "/lst?list-type=2&encoding-type=base64")
            .await
            .code(),
        "InvalidArgument"
    );
    assert_eq!(get(&s, "/nope?list-type=2").await.code(), "NoSuchBucket");

    // encoding-type=url encodes keys and prefixes.
    let r = get(&s, "/lst?list-type=2&encoding-type=url&prefix=%C3%A9").await;
    assert_eq!(split_listing(&r.text()).0, vec!["%C3%A9"]);
    assert_eq!(tags(&r.text(), "EncodingType"), vec!["url"]);
}

#[tokio::test]
async fn list_v1_marker() {
    let (s, _base) = store("list_v1");
    fill(&s, "lst", &["a", "b", "c/1", "c/2", "d"]).await;
    let r = get(&s, "/lst").await;
    assert_eq!(
        split_listing(&r.text()).0,
        vec!["a", "b", "c/1", "c/2", "d"]
    );
    assert_eq!(tags(&r.text(), "Marker"), vec![""]);
    let r = get(&s, "/lst?max-keys=2").await;
    assert_eq!(split_listing(&r.text()).0, vec!["a", "b"]);
    assert_eq!(tags(&r.text(), "IsTruncated"), vec!["true"]);
    assert_eq!(tags(&r.text(), "NextMarker"), vec!["b"]);
    let r = get(&s, "/lst?marker=b&delimiter=/").await;
    let (contents, cps) = split_listing(&r.text());
    assert_eq!(contents, vec!["d"]);
    assert_eq!(cps, vec!["c/"]);
    let r = get(&s, "/lst?marker=c/&delimiter=/&max-keys=1").await;
    assert_eq!(split_listing(&r.text()).0, vec!["d"]);
}

// ---------- batch delete and copy ----------

#[tokio::test]
async fn delete_objects_quiet_and_verbose() {
    let (s, _base) = store("delete_objects");
    fill(&s, "bkt", &["a", "b", "c & d", "e"]).await;
    let doc = r#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>c &amp; d</Key></Object><Object><Key>never-existed</Key></Object></Delete>"#;
    let r = send(&s, Method::POST, "/bkt?delete", &[], doc).await;
    assert_eq!(r.status, 200);
    assert_eq!(tags(&r.text(), "Key"), vec!["a", "c & d", "never-existed"]);
    let doc = "<Delete><Quiet>true</Quiet><Object><Key>b</Key></Object></Delete>";
    let r = send(&s, Method::POST, "/bkt?delete", &[], doc).await;
    assert_eq!(r.status, 200);
    assert!(tags(&r.text(), "Deleted").is_empty());
    let (keys, _, _) = list_all_v2(&s, "bkt", "", 1000).await;
    assert_eq!(keys, vec!["e"]);
    let r = send(&s, Method::POST, "/bkt?delete", &[], "<Delete><Object>").await;
    assert_eq!(r.code(), "MalformedXML");
    let r = send(&s, Method::POST, "/bkt?delete", &[], "<Delete></Delete>").await;
    assert_eq!(r.code(), "MalformedXML");
    let huge = format!(
        "<Delete>{}</Delete>",
        "<Object><Key>x</Key></Object>".repeat(200_000)
    );
    let r = send(&s, Method::POST, "/bkt?delete", &[], huge).await;
    assert_eq!(r.code(), "MalformedXML");
    let too_many = format!(
        "<Delete>{}</Delete>",
        "<Object><Key>x</Key></Object>".repeat(1001)
    );
    let r = send(&s, Method::POST, "/bkt?delete", &[], too_many).await;
    assert_eq!(r.code(), "MalformedXML");
}

#[tokio::test]
async fn copy_object_directives() {
    let (s, _base) = store("copy");
    put(&s, "/src", "").await;
    put(&s, "/dst", "").await;
    let r = send(
        &s,
        Method::PUT,
        "/src/dir/a%20b%2Bc.txt",
        &[("content-type", "text/plain"), ("x-amz-meta-k", "v")],
        "copy me",
    )
    .await;
    assert_eq!(r.status, 200);

    // COPY (default): metadata follows; the source is URL-encoded, versionId ignored.
    let r = send(
        &s,
        Method::PUT,
        "/dst/copy1",
        &[
            ("x-amz-copy-source", "/src/dir/a%20b%2Bc.txt?versionId=null"),
            ("x-amz-meta-ignored", "x"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = format!("\"{}\"", md5_hex(b"copy me"));
    assert_eq!(tags(&r.text(), "ETag"), vec![etag.clone()]);
    assert_eq!(tags(&r.text(), "LastModified")[0].len(), 24);
    let r = get(&s, "/dst/copy1").await;
    assert_eq!(&r.body[..], b"copy me");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-amz-meta-k"), Some("v"));
    assert_eq!(r.header("x-amz-meta-ignored"), None);

    // REPLACE: metadata from the request.
    let r = send(
        &s,
        Method::PUT,
        "/dst/copy2",
        &[
            ("x-amz-copy-source", "src/dir/a%20b%2Bc.txt"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("content-type", "text/csv"),
            ("x-amz-meta-new", "1"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let r = get(&s, "/dst/copy2").await;
    assert_eq!(r.header("content-type"), Some("text/csv"));
    assert_eq!(r.header("x-amz-meta-new"), Some("1"));
    assert_eq!(r.header("x-amz-meta-k"), None);

    // Copy onto itself needs REPLACE.
    let r = send(
        &s,
        Method::PUT,
        "/src/dir/a%20b%2Bc.txt",
        &[("x-amz-copy-source", "src/dir/a%20b%2Bc.txt")],
        "",
    )
    .await;
    assert_eq!(r.code(), "InvalidRequest");
    let r = send(
        &s,
        Method::PUT,
        "/src/dir/a%20b%2Bc.txt",
        &[
            ("x-amz-copy-source", "src/dir/a%20b%2Bc.txt"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-meta-z", "2"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200);

    // Missing source / bucket, bad directive.
    let r = send(
        &s,
        Method::PUT,
        "/dst/x",
        &[("x-amz-copy-source", "src/nope")],
        "",
    )
    .await;
    assert_eq!(r.code(), "NoSuchKey");
    let r = send(
        &s,
        Method::PUT,
        "/dst/x",
        &[("x-amz-copy-source", "nobucket/k")],
        "",
    )
    .await;
    assert_eq!(r.code(), "NoSuchBucket");
    let r = send(
        &s,
        Method::PUT,
        "/dst/x",
        &[
            ("x-amz-copy-source", "src/dir/a%20b%2Bc.txt"),
            ("x-amz-metadata-directive", "MOVE"),
        ],
        "",
    )
    .await;
    assert_eq!(r.code(), "InvalidArgument");
    let r = send(
        &s,
        Method::PUT,
        "/dst/x",
        &[("x-amz-copy-source", "justbucket")],
        "",
    )
    .await;
    assert_eq!(r.code(), "InvalidArgument");
}

// ---------- multipart ----------

const MIB: usize = 1024 * 1024;

fn part_data(n: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + n * 17) % 256) as u8).collect()
}

async fn start_upload(s: &LocalStore, uri: &str, headers: &[(&str, &str)]) -> String {
    let r = send(s, Method::POST, &format!("{uri}?uploads"), headers, "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    tags(&r.text(), "UploadId")[0].clone()
}

async fn upload_part(s: &LocalStore, uri: &str, id: &str, n: u32, data: &[u8]) -> String {
    let r = send(
        s,
        Method::PUT,
        &format!("{uri}?partNumber={n}&uploadId={id}"),
        &[],
        data.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.header("etag").unwrap().to_string()
}

fn complete_doc(parts: &[(u32, &str)]) -> String {
    let mut doc =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (n, etag) in parts {
        doc.push_str(&format!(
            "<Part><ETag>{}</ETag><PartNumber>{n}</PartNumber></Part>",
            etag.replace('"', "&quot;")
        ));
    }
    doc.push_str("</CompleteMultipartUpload>");
    doc
}

/// A store with bucket `bkt` and a multipart upload of `big/file.bin` (its content type and a
/// metadata entry) whose three parts (5 MiB, 5 MiB, 1234 bytes) are uploaded.
struct Upload {
    s: LocalStore,
    base: Scratch,
    uri: &'static str,
    id: String,
    parts: [Vec<u8>; 3],
    etags: [String; 3],
}

async fn three_part_upload(name: &str) -> Upload {
    let (s, base) = store(name);
    put(&s, "/bkt", "").await;
    let uri = "/bkt/big/file.bin";
    let id = start_upload(
        &s,
        uri,
        &[
            ("content-type", "application/x-test"),
            ("x-amz-meta-origin", "mp"),
        ],
    )
    .await;
    let parts = [
        part_data(1, 5 * MIB),
        part_data(2, 5 * MIB),
        part_data(3, 1234),
    ];
    let mut etags = Vec::new();
    for (n, part) in (1..).zip(&parts) {
        etags.push(upload_part(&s, uri, &id, n, part).await);
    }
    Upload {
        s,
        base,
        uri,
        id,
        parts,
        etags: etags.try_into().unwrap(),
    }
}

#[tokio::test]
async fn multipart_upload_parts_and_listings() {
    let Upload {
        s,
        base: _base,
        uri,
        id,
        parts: [p1, _, p3],
        etags: [e1, _, e3],
    } = three_part_upload("multipart").await;
    assert_eq!(id.len(), 32);
    assert_eq!(e1, format!("\"{}\"", md5_hex(&p1)));
    // Re-uploading a part replaces it.
    let e3b = upload_part(&s, uri, &id, 3, &p3).await;
    assert_eq!(e3, e3b);

    // ListParts and ListMultipartUploads.
    let r = get(&s, &format!("{uri}?uploadId={id}")).await;
    assert_eq!(tags(&r.text(), "PartNumber"), vec!["1", "2", "3"]);
    assert_eq!(
        tags(&r.text(), "Size"),
        vec![
            (5 * MIB).to_string(),
            (5 * MIB).to_string(),
            "1234".to_string()
        ]
    );
    let r = get(&s, &format!("{uri}?uploadId={id}&max-parts=2")).await;
    assert_eq!(tags(&r.text(), "PartNumber"), vec!["1", "2"]);
    assert_eq!(tags(&r.text(), "IsTruncated"), vec!["true"]);
    let r = get(&s, &format!("{uri}?uploadId={id}&part-number-marker=2")).await;
    assert_eq!(tags(&r.text(), "PartNumber"), vec!["3"]);
    let r = get(&s, "/bkt?uploads").await;
    assert_eq!(tags(&r.text(), "UploadId"), vec![id.clone()]);
    assert_eq!(tags(&r.text(), "Key"), vec!["big/file.bin"]);
}

#[tokio::test]
async fn multipart_completion_errors() {
    let Upload {
        s,
        base: _base,
        uri,
        id,
        etags: [e1, e2, e3],
        ..
    } = three_part_upload("multipart-errors-at-completion").await;

    // Errors at completion.
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(2, &e2), (1, &e1)]),
    )
    .await;
    assert_eq!(r.code(), "InvalidPartOrder");
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (1, &e1)]),
    )
    .await;
    assert_eq!(r.code(), "InvalidPartOrder");
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e2), (2, &e2)]),
    )
    .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (4, &e2)]),
    )
    .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (3, &e3), (4, &e2)]),
    )
    .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        "<CompleteMultipartUpload>",
    )
    .await;
    assert_eq!(r.code(), "MalformedXML");
    let r = send(
        &s,
        Method::POST,
        "/bkt/other-key?uploadId=".to_string().as_str(),
        &[],
        complete_doc(&[(1, &e1)]),
    )
    .await;
    assert_eq!(r.code(), "NoSuchUpload");
    let r = send(
        &s,
        Method::POST,
        &format!("/bkt/other-key?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1)]),
    )
    .await;
    assert_eq!(r.code(), "NoSuchUpload");
    assert_eq!(get(&s, uri).await.status, 404);
}

#[tokio::test]
async fn multipart_completion_and_after() {
    let Upload {
        s,
        base,
        uri,
        id,
        parts: [p1, p2, p3],
        etags: [e1, e2, e3],
    } = three_part_upload("multipart-completion").await;

    // Completion: ETag = MD5 of the concatenated binary part MD5s, "-" part count.
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (2, &e2), (3, &e3)]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut cat = Vec::new();
    for p in [&p1, &p2, &p3] {
        cat.extend_from_slice(&Md5::digest(p));
    }
    let expected = format!("\"{}-3\"", md5_hex(&cat));
    assert_eq!(tags(&r.text(), "ETag"), vec![expected.clone()]);
    assert_eq!(tags(&r.text(), "Key"), vec!["big/file.bin"]);

    let r = get(&s, uri).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(expected.as_str()));
    assert_eq!(r.header("content-type"), Some("application/x-test"));
    assert_eq!(r.header("x-amz-meta-origin"), Some("mp"));
    assert_eq!(r.header("x-amz-mp-parts-count"), Some("3"));
    let mut all = p1.clone();
    all.extend_from_slice(&p2);
    all.extend_from_slice(&p3);
    assert_eq!(r.body.len(), all.len());
    assert!(r.body[..] == all[..]);
    let r = send(
        &s,
        Method::GET,
        uri,
        &[("range", "bytes=5242870-5242889")],
        "",
    )
    .await;
    assert_eq!(&r.body[..], &all[5242870..=5242889]);

    // The upload is gone: its folder removed, further use answers NoSuchUpload.
    assert!(std::fs::read_dir(base.join("store/uploads"))
        .unwrap()
        .next()
        .is_none());
    let r = send(
        &s,
        Method::PUT,
        &format!("{uri}?partNumber=1&uploadId={id}"),
        &[],
        "x",
    )
    .await;
    assert_eq!(r.code(), "NoSuchUpload");
    assert!(tmp_is_empty(&base));
}

#[tokio::test]
async fn multipart_small_parts_abort_and_bad_ids() {
    let (s, base) = store("multipart_errors");
    put(&s, "/bkt", "").await;
    let uri = "/bkt/k";
    let id = start_upload(&s, uri, &[]).await;
    let e1 = upload_part(&s, uri, &id, 1, b"small one").await;
    let e2 = upload_part(&s, uri, &id, 2, b"small two").await;
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (2, &e2)]),
    )
    .await;
    assert_eq!(r.code(), "EntityTooSmall");
    // A single small part is fine (the last part may be small).
    let r = send(
        &s,
        Method::POST,
        &format!("{uri}?uploadId={id}"),
        &[],
        complete_doc(&[(2, &e2)]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut cat = Vec::new();
    cat.extend_from_slice(&Md5::digest(b"small two"));
    assert_eq!(
        tags(&r.text(), "ETag"),
        vec![format!("\"{}-1\"", md5_hex(&cat))]
    );
    assert_eq!(&get(&s, uri).await.body[..], b"small two");

    // Abort.
    let id = start_upload(&s, uri, &[]).await;
    upload_part(&s, uri, &id, 1, b"data").await;
    let r = send(&s, Method::DELETE, &format!("{uri}?uploadId={id}"), &[], "").await;
    assert_eq!(r.status, 204);
    let r = send(&s, Method::DELETE, &format!("{uri}?uploadId={id}"), &[], "").await;
    assert_eq!(r.code(), "NoSuchUpload");
    let r = get(&s, &format!("{uri}?uploadId={id}")).await;
    assert_eq!(r.code(), "NoSuchUpload");
    assert!(std::fs::read_dir(base.join("store/uploads"))
        .unwrap()
        .next()
        .is_none());

    // Hostile or malformed upload ids and part numbers.
    for bad in [
        "..%2F..%2Fbuckets",
        "..",
        "ABCDEF",
        "0123456789abcdef0123456789ABCDEF",
        "",
    ] {
        let r = send(
            &s,
            Method::PUT,
            &format!("{uri}?partNumber=1&uploadId={bad}"),
            &[],
            "x",
        )
        .await;
        assert_eq!(r.code(), "NoSuchUpload", "{bad}");
    }
    let id = start_upload(&s, uri, &[]).await;
    for n in ["0", "10001", "-1", "x"] {
        let r = send(
            &s,
            Method::PUT,
            &format!("{uri}?partNumber={n}&uploadId={id}"),
            &[],
            "x",
        )
        .await;
        assert_eq!(r.code(), "InvalidArgument", "{n}");
    }
    // UploadPartCopy with a range.
    put(&s, "/bkt/source", (0..100u8).collect::<Vec<u8>>()).await;
    let r = send(
        &s,
        Method::PUT,
        &format!("{uri}?partNumber=1&uploadId={id}"),
        &[
            ("x-amz-copy-source", "bkt/source"),
            ("x-amz-copy-source-range", "bytes=10-19"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let expected: Vec<u8> = (10..20u8).collect();
    assert_eq!(
        tags(&r.text(), "ETag"),
        vec![format!("\"{}\"", md5_hex(&expected))]
    );
    let r = send(
        &s,
        Method::PUT,
        &format!("{uri}?partNumber=2&uploadId={id}"),
        &[
            ("x-amz-copy-source", "bkt/source"),
            ("x-amz-copy-source-range", "bytes=10-100"),
        ],
        "",
    )
    .await;
    assert_eq!(r.code(), "InvalidRange");
    // Deleting the bucket's objects and the bucket drops its pending uploads.
    send(&s, Method::DELETE, "/bkt/k", &[], "").await;
    send(&s, Method::DELETE, "/bkt/source", &[], "").await;
    assert_eq!(send(&s, Method::DELETE, "/bkt", &[], "").await.status, 204);
    assert!(std::fs::read_dir(base.join("store/uploads"))
        .unwrap()
        .next()
        .is_none());
}

// ---------- seeding ----------

#[tokio::test]
async fn seed_demo_only_on_first_start() {
    let base = Scratch::new("seed");
    let root = base.join("store");
    let s = LocalStore::open(&root, "eu-west-1").unwrap();
    assert!(s.seed_demo().await.unwrap(), "a fresh store is seeded");
    let r = get(&s, "/").await;
    assert_eq!(tags(&r.text(), "Name"), vec!["public", "reports"]);
    let (keys, _, _) = list_all_v2(&s, "reports", "", 1000).await;
    assert_eq!(
        keys,
        vec![
            "2026/q1.csv",
            "confidential/salaries.csv",
            "shared/summary.txt"
        ]
    );
    let r = get(&s, "/public/index.html").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.text().contains("<html"));
    let r = get(&s, "/reports?location").await;
    assert!(r.text().contains("eu-west-1"));

    // A second start keeps what the user did.
    assert_eq!(
        send(&s, Method::DELETE, "/public/index.html", &[], "")
            .await
            .status,
        204
    );
    let s2 = LocalStore::open(&root, "eu-west-1").unwrap();
    assert!(!s2.seed_demo().await.unwrap(), "a used store is not");
    assert_eq!(get(&s2, "/public/index.html").await.status, 404);
}

// ---------- concurrency ----------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_to_one_key_leave_one_whole_version() {
    let (s, base) = store("concurrent");
    put(&s, "/bkt", "").await;
    let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 256 * 1024 + i as usize]).collect();
    let mut tasks = Vec::new();
    for body in bodies.clone() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            put(&s, "/bkt/same", body).await.status
        }));
    }
    // Readers meanwhile always see a whole version whose ETag matches its content.
    for _ in 0..20 {
        let r = get(&s, "/bkt/same").await;
        if r.status == 200 {
            assert_eq!(
                r.header("etag").unwrap(),
                format!("\"{}\"", md5_hex(&r.body))
            );
            assert!(bodies.iter().any(|b| b[..] == r.body[..]));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let r = get(&s, "/bkt/same").await;
    assert!(bodies.iter().any(|b| b[..] == r.body[..]));
    assert!(tmp_is_empty(&base));
    let (keys, _, _) = list_all_v2(&s, "bkt", "", 1000).await;
    assert_eq!(keys, vec!["same"]);
}
