//! The built-in local object store: a folder-backed subset of S3, served in-process.
//!
//! The gateway calls [`LocalStore::handle`] after it has authenticated and authorised a request, so
//! this module does no authentication or authorisation at all: it trusts every request it gets.
//! It answers path-style requests (`/bucket/key?query`; the `Host` header is not used) with what
//! `aws s3 cp/ls/rm/sync` and boto3 need: buckets, objects (Range, copy, batch delete, user
//! metadata), listings (V1 and V2) and multipart uploads. See `docs/LOCAL_STORE.md`.
//!
//! On disk (`root/`):
//!
//! ```text
//! buckets/<bucket>/<object file>   one file per object: content + JSON metadata trailer
//! bucket-info/<bucket>.json        creation date
//! uploads/<upload-id>/             upload.json + part-00001 ... (removed on complete/abort)
//! tmp/                             every write lands here first, then is renamed into place
//! ```
//!
//! Object file names come from an injective encoding of the key that can never leave the bucket
//! folder (see `keys.rs`). Request and response bodies are streamed, never buffered whole.

mod error;
mod fsio;
mod keys;
mod list;
mod multipart;
mod xml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use md5::Digest;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use error::{Result, StoreError};
use fsio::{now_ms, random_hex, read_meta, FileBody, ObjectMeta, TempFile};
use keys::{key_to_file_name, valid_bucket_name, MAX_KEY_LEN};
use multipart::Part;
use xml::XmlWriter;

/// The response body type of the store: streamed from disk, or a small XML document.
pub type LocalBody = BoxBody<Bytes, std::io::Error>;

/// A request body the store reads: any body of [`Bytes`] whose errors can be shown.
pub trait RequestBody:
    http_body::Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static
{
}

impl<B> RequestBody for B where
    B: http_body::Body<Data = Bytes, Error: std::fmt::Display> + Send + 'static
{
}

/// Largest single PUT / part S3 accepts (5 GiB).
const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest size of every part of a multipart upload but the last.
const MIN_PART: u64 = 5 * 1024 * 1024;
/// Largest XML request body read (DeleteObjects, CompleteMultipartUpload, CreateBucket).
const MAX_XML_BODY: usize = 4 * 1024 * 1024;
/// Largest total size of user metadata (names and values), as S3.
const MAX_USER_META: usize = 2048;
/// Owner id shown in listings.
const OWNER_ID: &str = "iamgate-local-store";

/// Representation headers stored with an object and returned on GET/HEAD.
const STORED_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// The sub-resources the store implements; every other one S3 defines is `NotImplemented`.
const SUPPORTED_SUBRESOURCES: [&str; 4] = ["delete", "location", "uploadId", "uploads"];

/// Characters percent-encoded in `encoding-type=url` listings: all but unreserved and `/`.
const URL_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A folder-backed S3 subset. Cheap to clone: clones share the same store.
#[derive(Clone, Debug)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    region: String,
    fresh: bool,
}

/// Creation date of a bucket (`bucket-info/<bucket>.json`).
#[derive(Debug, Serialize, Deserialize)]
struct BucketInfo {
    created_ms: i64,
}

/// The parsed request target.
struct Target {
    bucket: Option<String>,
    key: Option<String>,
    query: Vec<(String, String)>,
}

impl Target {
    fn q(&self, name: &str) -> Option<&str> {
        crate::query::first(&self.query, name)
    }

    fn has(&self, name: &str) -> bool {
        self.q(name).is_some()
    }
}

fn decode_component(s: &str) -> Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| StoreError::invalid_uri())
}

fn parse_target(uri: &http::Uri) -> Result<Target> {
    let path = uri.path();
    let path = path.strip_prefix('/').ok_or_else(StoreError::invalid_uri)?;
    let (bucket_raw, key_raw) = match path.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (path, None),
    };
    let bucket = decode_component(bucket_raw)?;
    let key = match key_raw {
        Some(k) if !k.is_empty() => Some(decode_component(k)?),
        _ => None,
    };
    let query = crate::query::strict_pairs(uri.query().unwrap_or(""))
        .map(|pair| pair.map(|(k, v)| (k.into_owned(), v.into_owned())))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| StoreError::invalid_uri())?;
    Ok(Target {
        bucket: if bucket.is_empty() {
            None
        } else {
            Some(bucket)
        },
        key,
        query,
    })
}

fn full_body(data: impl Into<Bytes>) -> LocalBody {
    Full::new(data.into())
        .map_err(|never| match never {})
        .boxed()
}

fn empty_body() -> LocalBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn empty(status: StatusCode) -> Response<LocalBody> {
    let mut resp = Response::new(empty_body());
    *resp.status_mut() = status;
    resp
}

/// The answer to a copy (CopyObject, UploadPartCopy): the new ETag and modification time.
fn copy_result(root: &str, meta: &ObjectMeta) -> Response<LocalBody> {
    let mut w = XmlWriter::new(root);
    w.elem("LastModified", &iso_date(meta.last_modified_ms))
        .elem("ETag", &meta.etag);
    xml_response(StatusCode::OK, w.finish(root))
}

fn xml_response(status: StatusCode, doc: String) -> Response<LocalBody> {
    let mut resp = Response::new(full_body(doc));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

fn set_header(resp: &mut Response<LocalBody>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().insert(n, v);
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn ms_to_datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// RFC 7231 IMF-fixdate, as in `Last-Modified`.
fn http_date(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    ms_to_datetime(ms).format(&fmt).unwrap_or_default()
}

/// ISO 8601 with milliseconds, as in XML `LastModified`.
fn iso_date(ms: i64) -> String {
    let seconds = crate::context::iso8601(ms.div_euclid(1000));
    let seconds = seconds.strip_suffix('Z').unwrap_or(&seconds);
    format!("{seconds}.{:03}Z", ms.rem_euclid(1000))
}

fn url_encode_if(s: &str, url: bool) -> String {
    if url {
        utf8_percent_encode(s, URL_ENCODE).to_string()
    } else {
        s.to_string()
    }
}

fn strip_quotes(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// A byte range request resolved against an object size.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// No (usable) Range header: the whole object.
    Whole,
    /// Inclusive first and last byte.
    Part(u64, u64),
    /// Cannot be satisfied: 416.
    Unsatisfiable,
}

fn parse_range(header: Option<&str>, size: u64) -> RangeSpec {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeSpec::Whole;
    };
    if spec.contains(',') {
        return RangeSpec::Whole; // multiple ranges: not supported, answer the whole object
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return RangeSpec::Whole;
        };
        if n == 0 || size == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Part(size.saturating_sub(n), size - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Whole;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return RangeSpec::Whole,
        }
    };
    if start >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end.min(size - 1))
}

/// Content-Type, stored representation headers and user metadata from a request.
type RequestMeta = (
    Option<String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
);

fn collect_meta(headers: &HeaderMap) -> Result<RequestMeta> {
    let content_type = header_str(headers, "content-type").map(str::to_string);
    let mut stored = BTreeMap::new();
    for name in STORED_HEADERS {
        if let Some(v) = header_str(headers, name) {
            let v = if name == "content-encoding" {
                v.split(',')
                    .map(str::trim)
                    .filter(|t| !t.eq_ignore_ascii_case("aws-chunked") && !t.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                v.to_string()
            };
            if !v.is_empty() {
                stored.insert(name.to_string(), v);
            }
        }
    }
    let mut user = BTreeMap::new();
    let mut total = 0;
    for (name, value) in headers {
        if let Some(m) = name.as_str().strip_prefix("x-amz-meta-") {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            total += m.len() + v.len();
            user.insert(m.to_string(), v);
        }
    }
    if total > MAX_USER_META {
        return Err(StoreError::metadata_too_large());
    }
    Ok((content_type, stored, user))
}

/// Refuses bodies in AWS's chunked upload encoding: the gateway's SigV4 layer decodes those before
/// the store sees them; storing one raw would corrupt the object.
fn refuse_aws_chunked(headers: &HeaderMap) -> Result<()> {
    let chunked_encoding = header_str(headers, "content-encoding")
        .map(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("aws-chunked"))
        })
        .unwrap_or(false);
    let streaming_sha = header_str(headers, "x-amz-content-sha256")
        .map(|v| v.starts_with("STREAMING-"))
        .unwrap_or(false);
    if chunked_encoding || streaming_sha {
        return Err(StoreError::not_implemented(
            "aws-chunked request bodies are not supported by the local store; send the payload unencoded",
        ));
    }
    Ok(())
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>> {
    match header_str(headers, "content-length") {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| StoreError::invalid_argument("invalid Content-Length")),
    }
}

fn content_md5(headers: &HeaderMap) -> Result<Option<Vec<u8>>> {
    use base64::Engine;
    match headers.get("content-md5") {
        None => Ok(None),
        Some(v) => {
            let d = base64::engine::general_purpose::STANDARD
                .decode(v.as_bytes())
                .map_err(|_| StoreError::invalid_digest())?;
            if d.len() != 16 {
                return Err(StoreError::invalid_digest());
            }
            Ok(Some(d))
        }
    }
}

/// Reads a small request body, refusing more than `limit` bytes.
async fn read_limited<B: RequestBody>(body: B, limit: usize) -> Result<Vec<u8>> {
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| StoreError::body_error(format!("request body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(StoreError::malformed_xml());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

fn not_found_is<T>(r: std::io::Result<T>, err: impl FnOnce() -> StoreError) -> Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(err()),
        Err(e) => Err(e.into()),
    }
}

impl LocalStore {
    /// Opens (creating if needed) a store rooted at `root`, answering `region` for bucket
    /// locations. Leftover temporary files from an earlier crash are removed.
    pub fn open(root: impl Into<PathBuf>, region: &str) -> std::io::Result<LocalStore> {
        let root = root.into();
        let fresh = LocalStore::is_fresh(&root)?;
        for dir in ["buckets", "bucket-info", "uploads", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(LocalStore {
            inner: Arc::new(Inner {
                root,
                region: region.to_string(),
                fresh,
            }),
        })
    }

    /// Whether a store at `root` would be new (the folder absent or empty): [`LocalStore::seed_demo`]
    /// then seeds it.
    pub fn is_fresh(root: &Path) -> std::io::Result<bool> {
        match std::fs::read_dir(root) {
            Ok(mut entries) => Ok(entries.next().is_none()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The folder the store lives in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The region answered by GetBucketLocation and `x-amz-bucket-region`.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Seeds the demo buckets and objects when the store folder was absent or empty at
    /// [`LocalStore::open`]; does nothing otherwise. Says whether it seeded.
    pub async fn seed_demo(&self) -> std::io::Result<bool> {
        if !self.inner.fresh {
            return Ok(false);
        }
        let seed: [(&str, &str, &str, &str); 4] = [
            (
                "public",
                "index.html",
                "text/html",
                "<!doctype html>\n<html><head><title>iamgate demo</title></head>\n<body><h1>Hello from the public bucket</h1>\n<p>Anyone may read this page, signed or not.</p></body></html>\n",
            ),
            (
                "reports",
                "2026/q1.csv",
                "text/csv",
                "month,revenue,costs\n2026-01,120000,80000\n2026-02,135000,82000\n2026-03,150000,90000\n",
            ),
            (
                "reports",
                "confidential/salaries.csv",
                "text/csv",
                "name,salary\nalice,185000\nbob,142000\ncarol,151000\n",
            ),
            (
                "reports",
                "shared/summary.txt",
                "text/plain",
                "Q1 2026 summary: revenue up 25% over the quarter; costs under control.\n",
            ),
        ];
        for bucket in ["public", "reports"] {
            match self.create_bucket_dir(bucket).await {
                Ok(()) => {}
                Err(StoreError::Io(e)) => return Err(e),
                Err(_) => {} // already there
            }
        }
        for (bucket, key, content_type, body) in seed {
            self.put_bytes(bucket, key, content_type, body.as_bytes())
                .await
                .map_err(|e| match e {
                    StoreError::Io(e) => e,
                    other => std::io::Error::other(other.to_string()),
                })?;
        }
        tracing::info!(root = %self.inner.root.display(), "seeded the demo buckets");
        Ok(true)
    }

    /// Serves one path-style S3 request (`/bucket/key?query`; the Host header is NOT used for
    /// addressing). Never fails: errors become S3 XML error responses.
    pub async fn handle<B: RequestBody>(&self, req: Request<B>) -> Response<LocalBody> {
        let request_id = random_hex()[..16].to_ascii_uppercase();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let mut resp = match self.dispatch(req).await {
            Ok(resp) => resp,
            Err(e) => {
                if let StoreError::Io(io) = &e {
                    tracing::warn!(%method, %path, error = %io, "local store i/o error");
                }
                error_response(&e, &path, &request_id, method == Method::HEAD)
            }
        };
        tracing::debug!(%method, %path, status = resp.status().as_u16(), "local store");
        set_header(&mut resp, "x-amz-request-id", &request_id);
        set_header(&mut resp, "x-amz-id-2", &request_id);
        resp
    }

    async fn dispatch<B: RequestBody>(&self, req: Request<B>) -> Result<Response<LocalBody>> {
        let target = parse_target(req.uri())?;
        let (parts, body) = req.into_parts();
        let method = parts.method;
        let headers = parts.headers;
        let Some(bucket) = target.bucket.clone() else {
            return match method {
                Method::GET => self.list_buckets().await,
                _ => Err(StoreError::method_not_allowed()),
            };
        };
        if !valid_bucket_name(&bucket) {
            return Err(StoreError::invalid_bucket_name(&bucket));
        }
        let unsupported = target.query.iter().find_map(|(name, _)| {
            crate::route::s3::subresource_named(name)
                .filter(|sub| !SUPPORTED_SUBRESOURCES.contains(sub))
        });
        if let Some(sub) = unsupported {
            return Err(StoreError::not_implemented(format!(
                "the ?{sub} sub-resource is not implemented by the local store"
            )));
        }
        let Some(key) = target.key.clone() else {
            return match method {
                Method::GET if target.has("location") => self.bucket_location(&bucket).await,
                Method::GET if target.has("uploads") => self.list_uploads(&bucket, &target).await,
                Method::GET if target.q("list-type") == Some("2") => {
                    self.list_objects(&bucket, &target, true).await
                }
                Method::GET => self.list_objects(&bucket, &target, false).await,
                Method::HEAD => self.head_bucket(&bucket).await,
                Method::PUT => self.create_bucket(&bucket, body).await,
                Method::DELETE => self.delete_bucket(&bucket).await,
                Method::POST if target.has("delete") => {
                    self.delete_objects(&bucket, &headers, body).await
                }
                _ => Err(StoreError::method_not_allowed()),
            };
        };
        if key.len() > MAX_KEY_LEN {
            return Err(StoreError::key_too_long());
        }
        let upload_id = target.q("uploadId").map(str::to_string);
        match method {
            Method::GET if upload_id.is_some() => {
                self.list_parts(&bucket, &key, upload_id.as_deref().unwrap_or(""), &target)
                    .await
            }
            Method::GET => {
                self.get_object(&bucket, &key, &headers, &target, false)
                    .await
            }
            Method::HEAD => {
                self.get_object(&bucket, &key, &headers, &target, true)
                    .await
            }
            Method::PUT if upload_id.is_some() => {
                let id = upload_id.unwrap_or_default();
                let number = target
                    .q("partNumber")
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|n| (1..=10000).contains(n))
                    .ok_or_else(|| {
                        StoreError::invalid_argument(
                            "Part number must be an integer between 1 and 10000, inclusive",
                        )
                    })?;
                let part = Part {
                    bucket: &bucket,
                    key: &key,
                    upload_id: &id,
                    number,
                };
                if headers.contains_key("x-amz-copy-source") {
                    self.upload_part_copy(&part, &headers).await
                } else {
                    self.upload_part(&part, &headers, body).await
                }
            }
            Method::PUT if headers.contains_key("x-amz-copy-source") => {
                self.copy_object(&bucket, &key, &headers).await
            }
            Method::PUT => self.put_object(&bucket, &key, &headers, body).await,
            Method::DELETE if upload_id.is_some() => {
                self.abort_upload(&bucket, &key, upload_id.as_deref().unwrap_or(""))
                    .await
            }
            Method::DELETE => self.delete_object(&bucket, &key).await,
            Method::POST if target.has("uploads") => {
                self.create_upload(&bucket, &key, &headers).await
            }
            Method::POST if upload_id.is_some() => {
                self.complete_upload(&bucket, &key, upload_id.as_deref().unwrap_or(""), body)
                    .await
            }
            Method::POST => Err(StoreError::not_implemented(
                "this POST operation is not implemented by the local store",
            )),
            _ => Err(StoreError::method_not_allowed()),
        }
    }

    // ----- paths -----

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.inner.root.join("buckets").join(bucket)
    }

    fn bucket_info_path(&self, bucket: &str) -> PathBuf {
        self.inner
            .root
            .join("bucket-info")
            .join(format!("{bucket}.json"))
    }

    fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.bucket_dir(bucket).join(key_to_file_name(key))
    }

    fn tmp_dir(&self) -> PathBuf {
        self.inner.root.join("tmp")
    }

    fn upload_dir(&self, id: &str) -> PathBuf {
        self.inner.root.join("uploads").join(id)
    }

    async fn ensure_bucket(&self, bucket: &str) -> Result<()> {
        match tokio::fs::metadata(self.bucket_dir(bucket)).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::no_such_bucket(bucket)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::no_such_bucket(bucket))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a small file atomically (temp file, fsync, rename).
    async fn write_small(&self, dest: &Path, data: &[u8]) -> Result<()> {
        let path = self.tmp_dir().join(format!("{}.tmp", random_hex()));
        let result = async {
            let mut f = tokio::fs::File::create(&path).await?;
            tokio::io::AsyncWriteExt::write_all(&mut f, data).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&path, dest).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&path).await;
        }
        Ok(result?)
    }

    /// Reads an object's metadata and open file, checking that a hashed name holds this key.
    async fn open_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(ObjectMeta, tokio::fs::File)>> {
        Ok(read_meta(&self.object_path(bucket, key))
            .await?
            .filter(|(meta, _)| meta.key == key))
    }

    // ----- buckets -----

    async fn create_bucket_dir(&self, bucket: &str) -> Result<()> {
        match tokio::fs::create_dir(self.bucket_dir(bucket)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::bucket_already_owned(bucket))
            }
            Err(e) => return Err(e.into()),
        }
        let info = serde_json::to_vec(&BucketInfo {
            created_ms: now_ms(),
        })
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        self.write_small(&self.bucket_info_path(bucket), &info)
            .await
    }

    async fn list_buckets(&self) -> Result<Response<LocalBody>> {
        let mut names = Vec::new();
        let mut dir = tokio::fs::read_dir(self.inner.root.join("buckets")).await?;
        while let Some(entry) = dir.next_entry().await? {
            if let Some(name) = entry.file_name().to_str() {
                if valid_bucket_name(name) && entry.file_type().await?.is_dir() {
                    names.push(name.to_string());
                }
            }
        }
        names.sort();
        let mut w = XmlWriter::new("ListAllMyBucketsResult");
        w.open("Owner")
            .elem("ID", OWNER_ID)
            .elem("DisplayName", OWNER_ID)
            .close("Owner")
            .open("Buckets");
        for name in names {
            let created = match tokio::fs::read(self.bucket_info_path(&name)).await {
                Ok(data) => serde_json::from_slice::<BucketInfo>(&data)
                    .map(|i| i.created_ms)
                    .unwrap_or(0),
                Err(_) => 0,
            };
            w.open("Bucket")
                .elem("Name", &name)
                .elem("CreationDate", &iso_date(created))
                .close("Bucket");
        }
        w.close("Buckets");
        Ok(xml_response(
            StatusCode::OK,
            w.finish("ListAllMyBucketsResult"),
        ))
    }

    async fn create_bucket<B: RequestBody>(
        &self,
        bucket: &str,
        body: B,
    ) -> Result<Response<LocalBody>> {
        // The CreateBucketConfiguration (location constraint) is read and ignored.
        read_limited(body, MAX_XML_BODY).await?;
        self.create_bucket_dir(bucket).await?;
        let mut resp = empty(StatusCode::OK);
        set_header(&mut resp, "location", &format!("/{bucket}"));
        Ok(resp)
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<Response<LocalBody>> {
        match tokio::fs::remove_dir(self.bucket_dir(bucket)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::no_such_bucket(bucket))
            }
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                return Err(StoreError::bucket_not_empty(bucket))
            }
            Err(e) => {
                // Some platforms report a non-empty folder differently: check by hand.
                if self.bucket_has_entries(bucket).await.unwrap_or(false) {
                    return Err(StoreError::bucket_not_empty(bucket));
                }
                return Err(e.into());
            }
        }
        let _ = tokio::fs::remove_file(self.bucket_info_path(bucket)).await;
        // Uploads in progress into the deleted bucket go with it.
        for (id, info) in self.uploads().await? {
            if info.bucket == bucket {
                let _ = tokio::fs::remove_dir_all(self.upload_dir(&id)).await;
            }
        }
        Ok(empty(StatusCode::NO_CONTENT))
    }

    async fn bucket_has_entries(&self, bucket: &str) -> Result<bool> {
        let mut dir = tokio::fs::read_dir(self.bucket_dir(bucket)).await?;
        Ok(dir.next_entry().await?.is_some())
    }

    async fn head_bucket(&self, bucket: &str) -> Result<Response<LocalBody>> {
        self.ensure_bucket(bucket).await?;
        let mut resp = empty(StatusCode::OK);
        set_header(&mut resp, "x-amz-bucket-region", &self.inner.region);
        Ok(resp)
    }

    async fn bucket_location(&self, bucket: &str) -> Result<Response<LocalBody>> {
        self.ensure_bucket(bucket).await?;
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
            xml::S3_NS,
            crate::xml::escape(&self.inner.region)
        );
        Ok(xml_response(StatusCode::OK, doc))
    }

    // ----- objects -----

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        headers: &HeaderMap,
        target: &Target,
        head: bool,
    ) -> Result<Response<LocalBody>> {
        self.ensure_bucket(bucket).await?;
        let (meta, file) = self
            .open_object(bucket, key)
            .await?
            .ok_or_else(|| StoreError::no_such_key(key))?;
        if let Some(m) = header_str(headers, "if-match") {
            if !etag_matches(m, &meta.etag) {
                return Err(StoreError::precondition_failed());
            }
        }
        if let Some(m) = header_str(headers, "if-none-match") {
            if etag_matches(m, &meta.etag) {
                let mut resp = empty(StatusCode::NOT_MODIFIED);
                set_header(&mut resp, "etag", &meta.etag);
                set_header(
                    &mut resp,
                    "last-modified",
                    &http_date(meta.last_modified_ms),
                );
                return Ok(resp);
            }
        }
        let range = parse_range(header_str(headers, "range"), meta.size);
        let (status, offset, len) = match range {
            RangeSpec::Whole => (StatusCode::OK, 0, meta.size),
            RangeSpec::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
            RangeSpec::Unsatisfiable => {
                if head {
                    let mut resp = empty(StatusCode::RANGE_NOT_SATISFIABLE);
                    set_header(
                        &mut resp,
                        "content-range",
                        &format!("bytes */{}", meta.size),
                    );
                    return Ok(resp);
                }
                return Err(StoreError::invalid_range(meta.size));
            }
        };
        let body = if head || len == 0 {
            empty_body()
        } else {
            FileBody::new(file, offset, len).await?.boxed()
        };
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        set_header(&mut resp, "content-length", &len.to_string());
        set_header(
            &mut resp,
            "content-type",
            meta.content_type
                .as_deref()
                .unwrap_or("binary/octet-stream"),
        );
        set_header(&mut resp, "etag", &meta.etag);
        set_header(
            &mut resp,
            "last-modified",
            &http_date(meta.last_modified_ms),
        );
        set_header(&mut resp, "accept-ranges", "bytes");
        if status == StatusCode::PARTIAL_CONTENT {
            set_header(
                &mut resp,
                "content-range",
                &format!("bytes {}-{}/{}", offset, offset + len - 1, meta.size),
            );
        }
        for (name, value) in &meta.headers {
            set_header(&mut resp, name, value);
        }
        for (name, value) in &meta.user_meta {
            set_header(&mut resp, &format!("x-amz-meta-{name}"), value);
        }
        if let Some(n) = meta.parts {
            set_header(&mut resp, "x-amz-mp-parts-count", &n.to_string());
        }
        for (param, name) in [
            ("response-content-type", "content-type"),
            ("response-content-language", "content-language"),
            ("response-expires", "expires"),
            ("response-cache-control", "cache-control"),
            ("response-content-disposition", "content-disposition"),
            ("response-content-encoding", "content-encoding"),
        ] {
            if let Some(v) = target.q(param) {
                set_header(&mut resp, name, v);
            }
        }
        Ok(resp)
    }

    async fn put_object<B: RequestBody>(
        &self,
        bucket: &str,
        key: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Response<LocalBody>> {
        refuse_aws_chunked(headers)?;
        let representation = collect_meta(headers)?;
        let declared = content_length(headers)?;
        if declared.is_some_and(|n| n > MAX_OBJECT) {
            return Err(StoreError::entity_too_large());
        }
        let md5 = content_md5(headers)?;
        self.ensure_bucket(bucket).await?;
        let mut tmp = TempFile::create(&self.tmp_dir()).await?;
        tmp.write_body(body, MAX_OBJECT).await?;
        check_received(&tmp, declared, md5.as_deref())?;
        let meta = self.commit_object(tmp, bucket, key, representation).await?;
        Ok(etag_response(&meta.etag))
    }

    /// Commits what `tmp` holds as the object `key`, with the representation headers and user
    /// metadata given; a bucket removed meanwhile is `NoSuchBucket`.
    async fn commit_object(
        &self,
        tmp: TempFile,
        bucket: &str,
        key: &str,
        (content_type, headers, user_meta): RequestMeta,
    ) -> Result<ObjectMeta> {
        let meta = ObjectMeta {
            key: key.to_string(),
            content_type,
            headers,
            user_meta,
            ..tmp.written_meta()
        };
        commit(tmp, &meta, &self.object_path(bucket, key), || {
            StoreError::no_such_bucket(bucket)
        })
        .await?;
        Ok(meta)
    }

    /// Stores a small object from memory (demo seeding).
    async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<()> {
        let mut tmp = TempFile::create(&self.tmp_dir()).await?;
        tmp.write(data).await?;
        let meta = ObjectMeta {
            key: key.to_string(),
            content_type: Some(content_type.to_string()),
            ..tmp.written_meta()
        };
        tmp.commit(&meta, &self.object_path(bucket, key)).await
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<Response<LocalBody>> {
        self.ensure_bucket(bucket).await?;
        self.remove_key(bucket, key).await?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    async fn remove_key(&self, bucket: &str, key: &str) -> Result<()> {
        let path = self.object_path(bucket, key);
        if key_to_file_name(key).starts_with('h') {
            // A hashed name: only remove it if it holds this very key.
            if self.open_object(bucket, key).await?.is_none() {
                return Ok(());
            }
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_objects<B: RequestBody>(
        &self,
        bucket: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Response<LocalBody>> {
        refuse_aws_chunked(headers)?;
        self.ensure_bucket(bucket).await?;
        let data = read_limited(body, MAX_XML_BODY).await?;
        // The parser the gateway authorises the keys with: 1 to 1000 keys of 1 to 1024 bytes.
        // Version ids are ignored (the store keeps one version).
        let request =
            crate::route::s3::parse_delete(&data).map_err(|_| StoreError::malformed_xml())?;
        let quiet = request.quiet;
        let root = "DeleteResult";
        let mut w = XmlWriter::new(root);
        for entry in request.objects {
            match self.remove_key(bucket, &entry.key).await {
                Ok(()) => {
                    if !quiet {
                        w.open("Deleted").elem("Key", &entry.key).close("Deleted");
                    }
                }
                Err(e) => {
                    let (_, code, message, _) = e.parts();
                    w.open("Error")
                        .elem("Key", &entry.key)
                        .elem("Code", code)
                        .elem("Message", &message)
                        .close("Error");
                }
            }
        }
        Ok(xml_response(StatusCode::OK, w.finish(root)))
    }

    /// Resolves `x-amz-copy-source` to an open source object.
    async fn copy_source(
        &self,
        headers: &HeaderMap,
    ) -> Result<(String, String, ObjectMeta, tokio::fs::File)> {
        let raw = header_str(headers, "x-amz-copy-source").ok_or_else(|| {
            StoreError::invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            )
        })?;
        // An optional `?versionId=...` is accepted and ignored (the store keeps one version).
        let raw = raw.split_once('?').map(|(p, _)| p).unwrap_or(raw);
        let decoded = decode_component(raw)?;
        let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (src_bucket, src_key) = decoded
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| {
                StoreError::invalid_argument(
                    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                )
            })?;
        if !valid_bucket_name(src_bucket) {
            return Err(StoreError::invalid_bucket_name(src_bucket));
        }
        if src_key.len() > MAX_KEY_LEN {
            return Err(StoreError::key_too_long());
        }
        self.ensure_bucket(src_bucket).await?;
        let (meta, file) = self
            .open_object(src_bucket, src_key)
            .await?
            .ok_or_else(|| StoreError::no_such_key(src_key))?;
        Ok((src_bucket.to_string(), src_key.to_string(), meta, file))
    }

    async fn copy_object(
        &self,
        bucket: &str,
        key: &str,
        headers: &HeaderMap,
    ) -> Result<Response<LocalBody>> {
        let replace = match header_str(headers, "x-amz-metadata-directive") {
            None => false,
            Some(d) if d.eq_ignore_ascii_case("COPY") => false,
            Some(d) if d.eq_ignore_ascii_case("REPLACE") => true,
            Some(_) => return Err(StoreError::invalid_argument("Unknown metadata directive.")),
        };
        let (src_bucket, src_key, src_meta, mut file) = self.copy_source(headers).await?;
        if src_bucket == bucket && src_key == key && !replace {
            return Err(StoreError::invalid_request(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        self.ensure_bucket(bucket).await?;
        let representation = if replace {
            collect_meta(headers)?
        } else {
            (
                src_meta.content_type.clone(),
                src_meta.headers.clone(),
                src_meta.user_meta.clone(),
            )
        };
        let mut tmp = TempFile::create(&self.tmp_dir()).await?;
        tmp.copy_from(&mut file, 0, src_meta.size).await?;
        drop(file);
        let meta = self.commit_object(tmp, bucket, key, representation).await?;
        Ok(copy_result("CopyObjectResult", &meta))
    }
}

/// Commits `tmp` to `dest`; a folder removed meanwhile (the bucket's, the upload's) is `missing`.
async fn commit(
    tmp: TempFile,
    meta: &ObjectMeta,
    dest: &Path,
    missing: impl FnOnce() -> StoreError,
) -> Result<()> {
    not_found_is(tmp.commit(meta, dest).await.map_err(into_io), missing)
}

/// `200 OK` with the ETag of what was stored (PutObject, UploadPart).
fn etag_response(etag: &str) -> Response<LocalBody> {
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "etag", etag);
    resp
}

/// Keeps an I/O error's kind visible to [`not_found_is`].
fn into_io(e: StoreError) -> std::io::Error {
    match e {
        StoreError::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    }
}

fn check_received(tmp: &TempFile, declared: Option<u64>, md5: Option<&[u8]>) -> Result<()> {
    if declared.is_some_and(|n| n != tmp.written) {
        return Err(StoreError::incomplete_body());
    }
    if let Some(expected) = md5 {
        if tmp.md5.clone().finalize().as_slice() != expected {
            return Err(StoreError::bad_digest());
        }
    }
    Ok(())
}

fn etag_matches(condition: &str, etag: &str) -> bool {
    condition
        .split(',')
        .any(|c| c.trim() == "*" || strip_quotes(c) == strip_quotes(etag))
}

fn error_response(e: &StoreError, path: &str, request_id: &str, head: bool) -> Response<LocalBody> {
    let (status, code, message, extra) = e.parts();
    if head {
        return empty(status);
    }
    let mut w = XmlWriter::plain("Error");
    w.elem("Code", code).elem("Message", &message);
    if let Some((tag, value)) = &extra {
        w.elem(tag, value);
    }
    w.elem("Resource", path).elem("RequestId", request_id);
    let mut resp = xml_response(status, w.finish("Error"));
    if let StoreError::S3 {
        code: "InvalidRange",
        extra: Some((_, size)),
        ..
    } = e
    {
        set_header(&mut resp, "content-range", &format!("bytes */{size}"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), RangeSpec::Whole);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), RangeSpec::Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), RangeSpec::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), RangeSpec::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), RangeSpec::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), RangeSpec::Part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), RangeSpec::Whole);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), RangeSpec::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), RangeSpec::Whole);
    }

    #[tokio::test]
    async fn every_subresource_s3_defines_but_four_is_not_implemented() {
        let dir = std::env::temp_dir().join(format!("iamgate-subresources-{}", random_hex()));
        let store = LocalStore::open(&dir, "us-east-1").unwrap();
        let send = |method: Method, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Empty::<Bytes>::new())
                .unwrap();
            store.handle(request)
        };
        assert_eq!(send(Method::PUT, "/bkt").await.status(), StatusCode::OK);
        for sub in [
            "acl",
            "versions",
            "website",
            "session",
            "abac",
            "renameObject",
        ] {
            let resp = send(Method::GET, &format!("/bkt?{sub}")).await;
            assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED, "?{sub}");
        }
        for uri in ["/bkt?location", "/bkt?uploads", "/bkt?list-type=2&prefix=a"] {
            assert_eq!(
                send(Method::GET, uri).await.status(),
                StatusCode::OK,
                "{uri}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn reads_queries_and_delete_bodies_as_the_gateway_does() {
        let dir = std::env::temp_dir().join(format!("iamgate-strict-{}", random_hex()));
        let store = LocalStore::open(&dir, "us-east-1").unwrap();
        let send = |method: Method, uri: &str, body: &'static str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap();
            store.handle(request)
        };
        assert_eq!(send(Method::PUT, "/bkt", "").await.status(), StatusCode::OK);
        // An escape that is not one is refused, as the S3 model refuses it.
        let resp = send(Method::GET, "/bkt?list-type=2&prefix=%zz", "").await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let resp = send(Method::GET, "/bkt?list-type=2&prefix=a+b%2B", "").await;
        assert_eq!(resp.status(), StatusCode::OK);
        // DeleteObjects bodies the gateway refuses.
        for body in [
            "<Delete><Object><Key>a</Key><Other/></Object></Delete>",
            "<Delete><Object><Key></Key></Object></Delete>",
            "<Delete><Quiet>TRUE</Quiet><Object><Key>a</Key></Object></Delete>",
        ] {
            let resp = send(Method::POST, "/bkt?delete", body).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        }
        let resp = send(
            Method::POST,
            "/bkt?delete",
            "<Delete><Quiet> true </Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object></Delete>",
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("<Deleted>"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(iso_date(1_234), "1970-01-01T00:00:01.234Z");
        assert_eq!(iso_date(1_795_780_800_007), "2026-11-27T12:00:00.007Z");
        assert_eq!(iso_date(-1), "1969-12-31T23:59:59.999Z");
    }
}
