//! The built-in S3 model: from an S3 REST request to the IAM checks AWS would make.
//!
//! [`S3Model::route`] reads the method, the Host (or HTTP/2 `:authority`), the raw path and query
//! and the headers, and answers with an [`S3Route`]: the bucket and the decoded key, the S3 API
//! operation, the [`Check`]s that must all be allowed, the request-derived condition keys, and
//! the canonical path-style path to forward upstream.
//!
//! Nothing is guessed: a request that is not one of the supported operations is an error
//! (`MethodNotAllowed` or `NotImplemented`), never a best-effort action.

use std::borrow::Cow;
use std::collections::HashSet;

use http::header::HOST;
use http::{HeaderMap, Method};

use super::{percent_decode, percent_encode, query_decode, Check, RouteError};

/// The longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The most objects one DeleteObjects request may name.
pub const MAX_DELETE_OBJECTS: usize = 1000;

/// The default domain for virtual-hosted-style requests.
pub const DEFAULT_DOMAIN: &str = "s3.localhost";

/// The S3 model's configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Model {
    /// The domain under which `<bucket>.<domain>` is a virtual-hosted-style request for
    /// `<bucket>` (default `s3.localhost`). Compared case-insensitively, without a port.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// How the upstream treats object keys in paths (default [`KeyMode::Strict`]).
    #[serde(default)]
    pub keys: KeyMode,
}

/// How the upstream behind an S3 model treats the object key in a request path.
///
/// The gateway authorises the key as S3 reads it: literally, `a/../b` being a key of its own.
/// A plain web server, a WebDAV store or another proxy in front of one decodes the path, merges
/// `//` and resolves `.` and `..` segments, and so would serve an object other than the one
/// authorised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// The upstream keeps keys literally (S3, MinIO, Ceph RGW, the built-in object store): every
    /// key is forwarded, with `.` and `..` segments percent-encoded.
    Literal,
    /// The upstream may normalise paths: a key it could read as another (see
    /// [`KeyMode::check`]), in any encoding, is refused before it is authorised, in the path,
    /// in `x-amz-copy-source` and in a DeleteObjects body.
    #[default]
    Strict,
}

impl KeyMode {
    /// `Ok` when this mode forwards `key` (decoded); the error to answer when it does not.
    ///
    /// Strict mode refuses what any common normaliser could read as another path: an empty
    /// segment (`a//b`, `/a`, and a trailing `a/`, which a file server answers with an index),
    /// a segment that is `.` or `..` once cut at `;` (Tomcat's path parameters) and stripped of
    /// trailing dots and spaces (as Windows does), a `\` (a separator on Windows), and control
    /// characters (`%00` ends a path in C).
    pub fn check(self, key: &str) -> Result<(), RouteError> {
        if self == KeyMode::Literal {
            return Ok(());
        }
        let refused = |what: &str| {
            Err(RouteError::InvalidPath(format!(
                "the object key has {what}, which this endpoint does not accept"
            )))
        };
        if key.contains('\\') {
            return refused("a '\\'");
        }
        if key.chars().any(char::is_control) {
            return refused("a control character");
        }
        for segment in key.split('/') {
            let core = segment.split(';').next().unwrap_or(segment);
            let core = core.trim_end_matches(['.', ' ']);
            if segment.is_empty() || core.is_empty() {
                return refused("an empty, '.' or '..' path segment");
            }
        }
        Ok(())
    }
}

fn default_domain() -> String {
    DEFAULT_DOMAIN.to_owned()
}

impl Default for S3Model {
    fn default() -> S3Model {
        S3Model {
            domain: default_domain(),
            keys: KeyMode::default(),
        }
    }
}

/// A request body the gateway must read and hand back ([`S3Route::add_body`]) before the route's
/// checks are complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyInspection {
    /// A DeleteObjects body: every key in it must be authorised (`s3:DeleteObject`, or
    /// `s3:DeleteObjectVersion` with a `VersionId`). See [`parse_delete_objects`].
    DeleteObjects,
}

/// One object of a DeleteObjects body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectId {
    /// The object key, entities decoded.
    pub key: String,
    /// The version to delete, when one is given.
    pub version_id: Option<String>,
}

/// A DeleteObjects request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteRequest {
    /// The objects to delete, in the order given (at least one, at most 1000).
    pub objects: Vec<ObjectId>,
    /// `<Quiet>true</Quiet>`: the answer lists the keys that could not be deleted only.
    pub quiet: bool,
}

/// What an S3 request asks for, in IAM terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Route {
    /// The bucket, when the request names one.
    pub bucket: Option<String>,
    /// The object key, percent-decoded once, when the request names an object.
    pub key: Option<String>,
    /// The S3 API operation: `GetObject`, `ListObjectsV2`, `CreateMultipartUpload`, ...
    pub operation: &'static str,
    /// Every check must be allowed for the request to go on. Empty only while
    /// [`S3Route::needs_body`] is set.
    pub checks: Vec<Check>,
    /// The condition keys the request itself provides (`s3:prefix`, `s3:x-amz-acl`, ...), in
    /// the order they were found. Authentication-derived keys are the gateway's to add.
    pub context: Vec<(String, Vec<String>)>,
    /// The path-style path to send upstream: `/bucket` or `/bucket/<key>` with the key
    /// re-encoded canonically (see [`encode_key`]); `/` for ListBuckets.
    pub forward_path: String,
    /// A body the gateway must inspect before the checks are complete (DeleteObjects). A route
    /// with `needs_body` set must not be forwarded until [`S3Route::add_body`] succeeded.
    pub needs_body: Option<BodyInspection>,
    /// The `x-amz-copy-source` to send upstream in place of the client's: rebuilt from the
    /// decoded bucket, key and version that were authorised, encoded as [`encode_key`] encodes
    /// a path, so that the upstream reads the same source object.
    pub copy_source: Option<String>,
}

impl S3Route {
    /// Completes a route that needs its body: parses the DeleteObjects body and adds one check
    /// per object. Clears [`S3Route::needs_body`].
    pub fn add_body(&mut self, body: &[u8]) -> Result<(), RouteError> {
        match (self.needs_body, &self.bucket) {
            (Some(BodyInspection::DeleteObjects), Some(bucket)) => {
                let objects = parse_delete_objects(body)?;
                self.checks = delete_objects_checks(bucket, &objects);
                self.needs_body = None;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The values of a context key, if the request provided it.
    pub fn context_value(&self, key: &str) -> Option<&[String]> {
        self.context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// The headers as S3 reads a request whose `x-amz-*` headers were hoisted into the query, as
/// the SDKs' presigners do (`?x-amz-acl=public-read&x-amz-copy-source=…`): every `x-amz-*`
/// query parameter but the presigning ones, decoded, counts as a header too, so that the
/// operation, its checks and its condition keys are what the upstream will act on. A parameter
/// that repeats a header is then a repeated header (`InvalidArgument`). Borrowed when the query
/// has none.
pub fn with_hoisted_headers<'h>(
    query: Option<&str>,
    headers: &'h HeaderMap,
) -> Result<Cow<'h, HeaderMap>, RouteError> {
    let Some(query) = query else {
        return Ok(Cow::Borrowed(headers));
    };
    let mut merged: Option<HeaderMap> = None;
    for (raw_name, raw_value) in crate::query::raw_pairs(query) {
        // S3 decodes a name before it reads it: `x%2Damz-acl` is `x-amz-acl` too.
        let encoded = memchr::memchr(b'%', raw_name.as_bytes()).is_some();
        if !encoded
            && (raw_name.len() < 6 || !raw_name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-"))
        {
            continue;
        }
        let name = query_decode(raw_name)?.to_ascii_lowercase();
        if !name.starts_with("x-amz-") {
            continue;
        }
        if crate::sigv4::parse::PRESIGN_PARAMS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        let bad = || RouteError::InvalidArgument(format!("invalid query parameter '{name}'"));
        let header_name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = http::HeaderValue::from_str(&query_decode(raw_value)?).map_err(|_| bad())?;
        merged
            .get_or_insert_with(|| headers.clone())
            .append(header_name, value);
    }
    Ok(merged.map_or(Cow::Borrowed(headers), Cow::Owned))
}

/// Parses a DeleteObjects body (`<Delete><Object><Key>…</Key><VersionId>…</VersionId></Object>…
/// <Quiet>true</Quiet></Delete>`). Entities are decoded. At most 1000 objects, at least one, each
/// with a key of 1 to 1024 bytes; `Quiet` is `true` or `false`; anything else is `MalformedXML`.
/// The caller bounds the body's size before calling.
pub fn parse_delete(body: &[u8]) -> Result<DeleteRequest, RouteError> {
    super::xml::parse_delete(body)
}

/// The objects of a DeleteObjects body: [`parse_delete`] without the `Quiet` flag.
pub fn parse_delete_objects(body: &[u8]) -> Result<Vec<ObjectId>, RouteError> {
    parse_delete(body).map(|request| request.objects)
}

/// The checks of a DeleteObjects request: `s3:DeleteObject` (or `s3:DeleteObjectVersion` when a
/// `VersionId` is given) on `arn:aws:s3:::bucket/key` for every object, duplicates once.
pub fn delete_objects_checks(bucket: &str, objects: &[ObjectId]) -> Vec<Check> {
    let mut seen = HashSet::new();
    let mut checks = Vec::with_capacity(objects.len());
    for object in objects {
        let action = if object.version_id.is_some() {
            "s3:DeleteObjectVersion"
        } else {
            "s3:DeleteObject"
        };
        let check = Check::new(action, object_arn(bucket, &object.key));
        if seen.insert(check.clone()) {
            checks.push(check);
        }
    }
    checks
}

/// The ARN of a bucket: `arn:aws:s3:::bucket`.
pub fn bucket_arn(bucket: &str) -> String {
    concat(&["arn:aws:s3:::", bucket])
}

/// The ARN of an object: `arn:aws:s3:::bucket/key` (the key as it is, not encoded).
pub fn object_arn(bucket: &str, key: &str) -> String {
    concat(&["arn:aws:s3:::", bucket, "/", key])
}

/// The pieces joined, allocated once (`format!` costs more on every request's path).
fn concat(pieces: &[&str]) -> String {
    let mut out = String::with_capacity(pieces.iter().map(|p| p.len()).sum());
    for piece in pieces {
        out.push_str(piece);
    }
    out
}

/// Encodes a decoded key for a path: every `/`-separated segment is percent-encoded with
/// [`percent_encode`] (unreserved characters stay, everything else `%XX`), and a segment that is
/// exactly `.` or `..` has its dots encoded (`%2E`) so that no path normaliser between the gateway
/// and the upstream can resolve it. `/` separators, empty segments included, stay as they are.
/// Decoding the result once gives the key back.
pub fn encode_key(key: &str) -> String {
    if !key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return percent_encode(key, true);
    }
    let mut out = String::with_capacity(key.len() + 8);
    for (i, segment) in key.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        match segment {
            "." => out.push_str("%2E"),
            ".." => out.push_str("%2E%2E"),
            other => out.push_str(&percent_encode(other, false)),
        }
    }
    out
}

/// Checks a bucket name against S3's rules for general purpose buckets: 3 to 63 characters;
/// lowercase letters, digits, dots and hyphens; a letter or digit first and last; no two dots
/// in a row; not formatted as an IPv4 address; not one of the reserved prefixes (`xn--`,
/// `sthree-`, `amzn-s3-demo-`) or suffixes (`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`,
/// `--table-s3`).
pub fn validate_bucket_name(name: &str) -> Result<(), RouteError> {
    let invalid = || RouteError::InvalidBucketName(name.to_owned());
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Err(invalid());
    }
    if !bytes
        .iter()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
    {
        return Err(invalid());
    }
    let alnum = |b: Option<&u8>| matches!(b, Some(b'a'..=b'z' | b'0'..=b'9'));
    if !alnum(bytes.first()) || !alnum(bytes.last()) || name.contains("..") {
        return Err(invalid());
    }
    if name.split('.').count() == 4 && name.bytes().all(|b| b == b'.' || b.is_ascii_digit()) {
        return Err(invalid());
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if PREFIXES.iter().any(|p| name.starts_with(p)) || SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Err(invalid());
    }
    Ok(())
}

/// Declares [`SUBRESOURCES`] and [`subresource_named`] from one list.
macro_rules! subresources {
    ($($name:literal,)*) => {
        /// The query parameters whose presence selects an S3 operation (subresources).
        /// Parameters not listed here (`prefix`, `versionId`, `partNumber`, `x-id`, `X-Amz-*`,
        /// `response-*`, ...) do not select one.
        #[cfg(test)]
        const SUBRESOURCES: &[&str] = &[$($name),*];

        /// The subresource a query parameter's name is, if any. A `match`: the compiler tells
        /// the names apart by length first, and every parameter of every request comes here.
        pub(crate) fn subresource_named(name: &str) -> Option<&'static str> {
            match name {
                $($name => Some($name),)*
                _ => None,
            }
        }
    };
}

subresources! {
    "abac",
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metadataConfiguration",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "renameObject",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "session",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versioning",
    "versions",
    "website",
}

/// Subresources the model maps on a bucket.
const BUCKET_SUBRESOURCES: &[&str] = &[
    "versions",
    "uploads",
    "location",
    "policy",
    "acl",
    "tagging",
    "cors",
    "versioning",
    "lifecycle",
    "encryption",
    "delete",
];

/// Subresources the model maps on an object.
const OBJECT_SUBRESOURCES: &[&str] = &[
    "acl",
    "tagging",
    "uploads",
    "uploadId",
    "restore",
    "attributes",
    "retention",
    "legal-hold",
    "select",
];

/// The `x-amz-grant-*` headers and their condition keys.
const GRANT_HEADERS: [&str; 5] = [
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
];

/// The decoded query string: names case-sensitive, each at most once.
struct Query<'a> {
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    fn parse(raw: Option<&'a str>) -> Result<Query<'a>, RouteError> {
        let raw = raw.unwrap_or("");
        let mut params = Vec::with_capacity(1 + memchr::memchr_iter(b'&', raw.as_bytes()).count());
        for pair in crate::query::strict_pairs(raw) {
            params.push(pair?);
        }
        // Pairwise for the usual handful of parameters; sorted when there are many, so that a
        // hostile query of thousands costs n log n, not n².
        let duplicate = if params.len() <= 16 {
            params
                .iter()
                .enumerate()
                .find(|(i, (name, _))| params[..*i].iter().any(|(n, _)| n == name))
                .map(|(_, (name, _))| name.to_string())
        } else {
            let mut names: Vec<&str> = params.iter().map(|(n, _)| n.as_ref()).collect();
            names.sort_unstable();
            names
                .windows(2)
                .find(|w| w[0] == w[1])
                .map(|w| w[0].to_owned())
        };
        if let Some(name) = duplicate {
            return Err(RouteError::InvalidArgument(format!(
                "the query parameter '{name}' is given more than once"
            )));
        }
        Ok(Query { params })
    }

    fn get(&self, name: &str) -> Option<&str> {
        crate::query::first(&self.params, name)
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The one subresource the request names, if any.
    fn subresource(&self) -> Result<Option<&'static str>, RouteError> {
        let mut found: Option<&'static str> = None;
        for (name, _) in &self.params {
            if let Some(sub) = subresource_named(name) {
                if let Some(first) = found {
                    return Err(RouteError::InvalidArgument(format!(
                        "conflicting subresources '{first}' and '{sub}'"
                    )));
                }
                found = Some(sub);
            }
        }
        Ok(found)
    }

    /// A parameter that must not be empty when present.
    fn non_empty(&self, name: &str) -> Result<Option<&str>, RouteError> {
        match self.get(name) {
            Some("") => Err(RouteError::InvalidArgument(format!(
                "the query parameter '{name}' must not be empty"
            ))),
            other => Ok(other),
        }
    }
}

/// One header's value: absent, or exactly one visible-ASCII value.
fn header<K>(headers: &HeaderMap, name: K) -> Result<Option<&str>, RouteError>
where
    K: http::header::AsHeaderName + AsRef<str> + Copy,
{
    let mut values = headers.get_all(name).iter();
    let name = name.as_ref();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(RouteError::InvalidArgument(format!(
            "the header '{name}' is given more than once"
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| RouteError::InvalidArgument(format!("the header '{name}' is not ASCII")))
}

/// What the request addresses.
enum Target {
    Service,
    Bucket(String),
    Object(String, String),
}

impl S3Model {
    /// A model with virtual-hosted-style requests under `domain`.
    pub fn new(domain: impl Into<String>) -> S3Model {
        S3Model {
            domain: domain.into(),
            keys: KeyMode::default(),
        }
    }

    /// The model with another [`KeyMode`].
    pub fn with_keys(mut self, keys: KeyMode) -> S3Model {
        self.keys = keys;
        self
    }

    /// The bucket a Host value names, virtual-hosted style: `Some("reports")` for
    /// `reports.s3.localhost:8080`; `None` for any other host (path-style). The Host must be one
    /// `host[:port]` value; the name is compared case-insensitively and a trailing dot is ignored.
    pub fn bucket_from_host(&self, host: &str) -> Result<Option<String>, RouteError> {
        let bad = || RouteError::InvalidArgument(format!("invalid Host '{host}'"));
        if host.is_empty() {
            return Err(bad());
        }
        if let Some(rest) = host.strip_prefix('[') {
            // An IPv6 literal: always path-style.
            let (address, after) = rest.split_once(']').ok_or_else(bad)?;
            let port_ok = after.is_empty()
                || after
                    .strip_prefix(':')
                    .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            if address.parse::<std::net::Ipv6Addr>().is_err() || !port_ok {
                return Err(bad());
            }
            return Ok(None);
        }
        let name = match host.split_once(':') {
            Some((name, port)) => {
                if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                name
            }
            None => host,
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
        {
            return Err(bad());
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let domain = self.domain.strip_suffix('.').unwrap_or(&self.domain);
        if domain.is_empty() || name.len() <= domain.len() {
            return Ok(None);
        }
        // Compared without allocating: nearly every request is path-style or for one domain.
        let (prefix, suffix) = name.split_at(name.len() - domain.len());
        if !suffix.eq_ignore_ascii_case(domain) {
            return Ok(None);
        }
        match prefix.strip_suffix('.') {
            Some(bucket) if !bucket.is_empty() => {
                let bucket = bucket.to_ascii_lowercase();
                validate_bucket_name(&bucket)?;
                Ok(Some(bucket))
            }
            _ => Ok(None),
        }
    }

    /// Routes a request from its head: the authority of the URI (HTTP/2 `:authority`, or an
    /// absolute-form request target) or else the Host header, the raw path and query of the URI,
    /// and the headers. See [`S3Model::route`].
    pub fn route_request(&self, parts: &http::request::Parts) -> Result<S3Route, RouteError> {
        self.route(
            &parts.method,
            parts.uri.authority().map(|a| a.as_str()),
            parts.uri.path(),
            parts.uri.query(),
            &parts.headers,
        )
    }

    /// Routes one S3 request.
    ///
    /// - `method`: the request method.
    /// - `host`: the Host header value or HTTP/2 `:authority`; `None` takes it from `headers`
    ///   (and a request without one is path-style). Several Host headers, or a `host` that
    ///   differs from the Host header, are refused.
    /// - `path`: the raw path as sent, still percent-encoded, starting with `/`.
    /// - `query`: the raw query string, without `?`.
    /// - `headers`: the request headers.
    pub fn route(
        &self,
        method: &Method,
        host: Option<&str>,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<S3Route, RouteError> {
        let host_header = header(headers, &HOST).map_err(|_| {
            RouteError::InvalidArgument("the Host header must be one ASCII value".to_owned())
        })?;
        let host = match (host, host_header) {
            (Some(given), Some(from_header)) if !given.eq_ignore_ascii_case(from_header) => {
                return Err(RouteError::InvalidArgument(format!(
                    "the authority '{given}' and the Host '{from_header}' differ"
                )))
            }
            (Some(given), _) => Some(given),
            (None, from_header) => from_header,
        };
        let virtual_bucket = match host {
            Some(host) => self.bucket_from_host(host)?,
            None => None,
        };
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| RouteError::InvalidUri(format!("the path '{path}' is not absolute")))?;
        let target = match virtual_bucket {
            Some(bucket) => {
                let key = percent_decode(rest)?;
                if key.is_empty() {
                    Target::Bucket(bucket)
                } else {
                    Target::Object(bucket, key)
                }
            }
            None => {
                if rest.is_empty() {
                    Target::Service
                } else {
                    let (raw_bucket, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
                    let bucket = percent_decode(raw_bucket)?;
                    validate_bucket_name(&bucket)?;
                    let key = percent_decode(raw_key)?;
                    if key.is_empty() {
                        Target::Bucket(bucket)
                    } else {
                        Target::Object(bucket, key)
                    }
                }
            }
        };
        let query = Query::parse(query)?;
        match target {
            Target::Service => service_route(method, &query),
            Target::Bucket(bucket) => bucket_route(method, &query, headers, bucket),
            Target::Object(bucket, key) => {
                if key.len() > MAX_KEY_BYTES {
                    return Err(RouteError::KeyTooLong);
                }
                self.keys.check(&key)?;
                object_route(method, &query, headers, bucket, key, self.keys)
            }
        }
    }
}

fn not_allowed(method: &Method, what: &str) -> RouteError {
    RouteError::MethodNotAllowed(format!("{method} on {what}"))
}

fn not_implemented(what: impl Into<String>) -> RouteError {
    RouteError::NotImplemented(what.into())
}

fn service_route(method: &Method, query: &Query) -> Result<S3Route, RouteError> {
    if let Some(sub) = query.subresource()? {
        return Err(not_implemented(format!("?{sub} on the service")));
    }
    if method != Method::GET {
        return Err(not_allowed(method, "the service"));
    }
    Ok(S3Route {
        bucket: None,
        key: None,
        operation: "ListBuckets",
        checks: vec![Check::new("s3:ListAllMyBuckets", "*")],
        context: Vec::new(),
        forward_path: "/".to_owned(),
        needs_body: None,
        copy_source: None,
    })
}

/// Collects the request's condition keys.
#[derive(Default)]
struct Context(Vec<(String, Vec<String>)>);

impl Context {
    fn add(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.push((key.into(), vec![value.into()]));
    }

    fn add_query(&mut self, query: &Query, names: &[&str]) {
        for name in names {
            if let Some(value) = query.get(name) {
                self.add(format!("s3:{name}"), value);
            }
        }
    }

    fn add_headers(
        &mut self,
        headers: &HeaderMap,
        pairs: &[(&str, &str)],
    ) -> Result<bool, RouteError> {
        let mut any = false;
        for (name, key) in pairs {
            if let Some(value) = header(headers, *name)? {
                self.add(*key, value);
                any = true;
            }
        }
        Ok(any)
    }

    /// `s3:x-amz-acl` and `s3:x-amz-grant-*`; true when any is present.
    fn acl(&mut self, headers: &HeaderMap) -> Result<bool, RouteError> {
        let mut any = self.add_headers(headers, &[("x-amz-acl", "s3:x-amz-acl")])?;
        for name in GRANT_HEADERS {
            if let Some(value) = header(headers, name)? {
                self.add(format!("s3:{name}"), value);
                any = true;
            }
        }
        Ok(any)
    }
}

fn bucket_route(
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    bucket: String,
) -> Result<S3Route, RouteError> {
    let sub = query.subresource()?;
    if query.has("versionId") {
        return Err(RouteError::InvalidArgument(
            "versionId is not accepted on a bucket".to_owned(),
        ));
    }
    let m = method.as_str();
    let (operation, action): (&'static str, &'static str) = match (sub, m) {
        (None, "GET") => match query.get("list-type") {
            None => ("ListObjects", "ListBucket"),
            Some("2") => ("ListObjectsV2", "ListBucket"),
            Some(other) => {
                return Err(RouteError::InvalidArgument(format!(
                    "list-type '{other}' is not 2"
                )))
            }
        },
        (None, "HEAD") => ("HeadBucket", "ListBucket"),
        (None, "PUT") => ("CreateBucket", "CreateBucket"),
        (None, "DELETE") => ("DeleteBucket", "DeleteBucket"),
        (None, "POST") => {
            return Err(not_implemented(
                "POST Object (browser-based uploads) is not supported",
            ))
        }
        (Some("versions"), "GET") => ("ListObjectVersions", "ListBucketVersions"),
        (Some("uploads"), "GET") => ("ListMultipartUploads", "ListBucketMultipartUploads"),
        (Some("location"), "GET") => ("GetBucketLocation", "GetBucketLocation"),
        (Some("policy"), "GET") => ("GetBucketPolicy", "GetBucketPolicy"),
        (Some("policy"), "PUT") => ("PutBucketPolicy", "PutBucketPolicy"),
        (Some("policy"), "DELETE") => ("DeleteBucketPolicy", "DeleteBucketPolicy"),
        (Some("acl"), "GET") => ("GetBucketAcl", "GetBucketAcl"),
        (Some("acl"), "PUT") => ("PutBucketAcl", "PutBucketAcl"),
        (Some("tagging"), "GET") => ("GetBucketTagging", "GetBucketTagging"),
        (Some("tagging"), "PUT") => ("PutBucketTagging", "PutBucketTagging"),
        (Some("tagging"), "DELETE") => ("DeleteBucketTagging", "PutBucketTagging"),
        (Some("cors"), "GET") => ("GetBucketCors", "GetBucketCORS"),
        (Some("cors"), "PUT") => ("PutBucketCors", "PutBucketCORS"),
        (Some("cors"), "DELETE") => ("DeleteBucketCors", "PutBucketCORS"),
        (Some("versioning"), "GET") => ("GetBucketVersioning", "GetBucketVersioning"),
        (Some("versioning"), "PUT") => ("PutBucketVersioning", "PutBucketVersioning"),
        (Some("lifecycle"), "GET") => (
            "GetBucketLifecycleConfiguration",
            "GetLifecycleConfiguration",
        ),
        (Some("lifecycle"), "PUT") => (
            "PutBucketLifecycleConfiguration",
            "PutLifecycleConfiguration",
        ),
        (Some("lifecycle"), "DELETE") => ("DeleteBucketLifecycle", "PutLifecycleConfiguration"),
        (Some("encryption"), "GET") => ("GetBucketEncryption", "GetEncryptionConfiguration"),
        (Some("encryption"), "PUT") => ("PutBucketEncryption", "PutEncryptionConfiguration"),
        (Some("encryption"), "DELETE") => ("DeleteBucketEncryption", "PutEncryptionConfiguration"),
        (Some("delete"), "POST") => ("DeleteObjects", "DeleteObject"),
        (Some(sub), _) if BUCKET_SUBRESOURCES.contains(&sub) => {
            return Err(not_allowed(method, &format!("?{sub} of a bucket")))
        }
        (Some(sub), _) => return Err(not_implemented(format!("?{sub} on a bucket"))),
        (None, _) => return Err(not_allowed(method, "a bucket")),
    };
    let resource = bucket_arn(&bucket);
    let forward_path = format!("/{bucket}");
    if operation == "DeleteObjects" {
        return Ok(S3Route {
            bucket: Some(bucket),
            key: None,
            operation,
            checks: Vec::new(),
            context: Vec::new(),
            forward_path,
            needs_body: Some(BodyInspection::DeleteObjects),
            copy_source: None,
        });
    }
    let mut checks = vec![Check::new(concat(&["s3:", action]), resource.clone())];
    let mut context = Context::default();
    match operation {
        "ListObjects" | "ListObjectsV2" | "HeadBucket" | "ListObjectVersions" => {
            context.add_query(query, &["prefix", "delimiter", "max-keys"]);
        }
        "CreateBucket" => {
            if context.acl(headers)? {
                checks.push(Check::new("s3:PutBucketAcl", resource.clone()));
            }
            if header(headers, "x-amz-bucket-object-lock-enabled")?
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                checks.push(Check::new(
                    "s3:PutBucketObjectLockConfiguration",
                    resource.clone(),
                ));
                checks.push(Check::new("s3:PutBucketVersioning", resource.clone()));
            }
            if header(headers, "x-amz-object-ownership")?.is_some() {
                checks.push(Check::new("s3:PutBucketOwnershipControls", resource));
            }
        }
        "PutBucketAcl" => {
            context.acl(headers)?;
        }
        _ => {}
    }
    Ok(S3Route {
        bucket: Some(bucket),
        key: None,
        operation,
        checks,
        context: context.0,
        forward_path,
        needs_body: None,
        copy_source: None,
    })
}

/// A parsed `x-amz-copy-source`.
struct CopySource {
    bucket: String,
    key: String,
    version_id: Option<String>,
    /// The whole header, percent-decoded once (the `s3:x-amz-copy-source` value).
    decoded: String,
}

impl CopySource {
    /// The header to forward: `/bucket/key` encoded as a path is, and the version.
    fn forwarded(&self) -> String {
        let mut out = concat(&["/", &self.bucket, "/", &encode_key(&self.key)]);
        if let Some(version) = &self.version_id {
            out.push_str("?versionId=");
            out.push_str(&percent_encode(version, false));
        }
        out
    }
}

/// Parses `x-amz-copy-source`: URL-encoded `bucket/key` or `/bucket/key`, optionally followed by
/// `?versionId=<id>` (the `?` itself not encoded).
fn parse_copy_source(raw: &str) -> Result<CopySource, RouteError> {
    let bad = |why: &str| RouteError::InvalidArgument(format!("x-amz-copy-source: {why}"));
    let decoded = percent_decode(raw)?;
    let (path, version) = match raw.split_once('?') {
        Some((path, q)) => {
            let value = q
                .strip_prefix("versionId=")
                .ok_or_else(|| bad("only ?versionId= may follow the key"))?;
            let value = percent_decode(value)?;
            if value.is_empty() || value.contains('&') {
                return Err(bad("invalid versionId"));
            }
            (path, Some(value))
        }
        None => (raw, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.starts_with("arn:") || path.starts_with("arn%3A") || path.starts_with("arn%3a") {
        return Err(not_implemented("access point copy sources"));
    }
    let (raw_bucket, raw_key) = path
        .split_once('/')
        .ok_or_else(|| bad("expected bucket/key"))?;
    let bucket = percent_decode(raw_bucket)?;
    validate_bucket_name(&bucket)?;
    let key = percent_decode(raw_key)?;
    if key.is_empty() {
        return Err(bad("the key is empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(RouteError::KeyTooLong);
    }
    Ok(CopySource {
        bucket,
        key,
        version_id: version,
        decoded,
    })
}

/// Parses `x-amz-tagging` (`k1=v1&k2=v2`, URL-encoded) into pairs; a key given twice is refused.
fn parse_tagging(raw: &str) -> Result<Vec<(String, String)>, RouteError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for pair in crate::query::strict_pairs(raw) {
        let (k, v) = pair?;
        let (k, v) = (k.into_owned(), v.into_owned());
        if k.is_empty() || !seen.insert(k.clone()) {
            return Err(RouteError::InvalidArgument(format!(
                "x-amz-tagging: invalid or repeated tag key '{k}'"
            )));
        }
        tags.push((k, v));
    }
    Ok(tags)
}

/// Operations on an object that accept `?versionId=`.
const VERSIONED_OPERATIONS: &[&str] = &[
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "GetObjectAcl",
    "PutObjectAcl",
    "GetObjectTagging",
    "PutObjectTagging",
    "DeleteObjectTagging",
    "GetObjectAttributes",
    "GetObjectRetention",
    "PutObjectRetention",
    "GetObjectLegalHold",
    "PutObjectLegalHold",
    "RestoreObject",
];

fn object_route(
    method: &Method,
    query: &Query,
    headers: &HeaderMap,
    bucket: String,
    key: String,
    keys: KeyMode,
) -> Result<S3Route, RouteError> {
    let sub = query.subresource()?;
    let version_id = query.non_empty("versionId")?.map(str::to_owned);
    let versioned = version_id.is_some();
    let pick = |plain: &'static str, with_version: &'static str| {
        if versioned {
            with_version
        } else {
            plain
        }
    };
    const X_AMZ_COPY_SOURCE: http::HeaderName = http::HeaderName::from_static("x-amz-copy-source");
    let copy_source = match header(headers, &X_AMZ_COPY_SOURCE)? {
        Some(raw) => {
            let source = parse_copy_source(raw)?;
            keys.check(&source.key)?;
            Some(source)
        }
        None => None,
    };
    let m = method.as_str();
    let (operation, action): (&'static str, &'static str) = match (sub, m) {
        (None, "GET") => ("GetObject", pick("GetObject", "GetObjectVersion")),
        (None, "HEAD") => ("HeadObject", pick("GetObject", "GetObjectVersion")),
        (None, "PUT") if copy_source.is_some() => ("CopyObject", "PutObject"),
        (None, "PUT") => ("PutObject", "PutObject"),
        (None, "DELETE") => ("DeleteObject", pick("DeleteObject", "DeleteObjectVersion")),
        (Some("acl"), "GET") => ("GetObjectAcl", pick("GetObjectAcl", "GetObjectVersionAcl")),
        (Some("acl"), "PUT") => ("PutObjectAcl", pick("PutObjectAcl", "PutObjectVersionAcl")),
        (Some("tagging"), "GET") => (
            "GetObjectTagging",
            pick("GetObjectTagging", "GetObjectVersionTagging"),
        ),
        (Some("tagging"), "PUT") => (
            "PutObjectTagging",
            pick("PutObjectTagging", "PutObjectVersionTagging"),
        ),
        (Some("tagging"), "DELETE") => (
            "DeleteObjectTagging",
            pick("DeleteObjectTagging", "DeleteObjectVersionTagging"),
        ),
        (Some("uploads"), "POST") => ("CreateMultipartUpload", "PutObject"),
        (Some("uploadId"), "PUT") => {
            let part = query.get("partNumber").ok_or_else(|| {
                RouteError::InvalidArgument("UploadPart needs partNumber".to_owned())
            })?;
            if !part.parse::<u16>().is_ok_and(|n| (1..=10_000).contains(&n)) {
                return Err(RouteError::InvalidArgument(format!(
                    "partNumber '{part}' is not between 1 and 10000"
                )));
            }
            if copy_source.is_some() {
                ("UploadPartCopy", "PutObject")
            } else {
                ("UploadPart", "PutObject")
            }
        }
        (Some("uploadId"), "POST") => ("CompleteMultipartUpload", "PutObject"),
        (Some("uploadId"), "DELETE") => ("AbortMultipartUpload", "AbortMultipartUpload"),
        (Some("uploadId"), "GET") => ("ListParts", "ListMultipartUploadParts"),
        (Some("restore"), "POST") => ("RestoreObject", "RestoreObject"),
        (Some("attributes"), "GET") => (
            "GetObjectAttributes",
            pick("GetObjectAttributes", "GetObjectVersionAttributes"),
        ),
        (Some("retention"), "GET") => ("GetObjectRetention", "GetObjectRetention"),
        (Some("retention"), "PUT") => ("PutObjectRetention", "PutObjectRetention"),
        (Some("legal-hold"), "GET") => ("GetObjectLegalHold", "GetObjectLegalHold"),
        (Some("legal-hold"), "PUT") => ("PutObjectLegalHold", "PutObjectLegalHold"),
        (Some("select"), "POST") => match query.get("select-type") {
            Some("2") => ("SelectObjectContent", "GetObject"),
            _ => {
                return Err(RouteError::InvalidArgument(
                    "SelectObjectContent needs select-type=2".to_owned(),
                ))
            }
        },
        (Some(sub), _) if OBJECT_SUBRESOURCES.contains(&sub) => {
            return Err(not_allowed(method, &format!("?{sub} of an object")))
        }
        (Some(sub), _) => return Err(not_implemented(format!("?{sub} on an object"))),
        (None, _) => return Err(not_allowed(method, "an object")),
    };
    if versioned && !VERSIONED_OPERATIONS.contains(&operation) {
        return Err(RouteError::InvalidArgument(format!(
            "{operation} does not take a versionId"
        )));
    }
    let takes_copy_source = matches!(operation, "CopyObject" | "UploadPartCopy");
    if copy_source.is_some() && !takes_copy_source {
        return Err(RouteError::InvalidArgument(format!(
            "{operation} does not take x-amz-copy-source"
        )));
    }
    if matches!(
        operation,
        "UploadPart"
            | "UploadPartCopy"
            | "CompleteMultipartUpload"
            | "AbortMultipartUpload"
            | "ListParts"
    ) {
        query.non_empty("uploadId")?;
    }

    let resource = object_arn(&bucket, &key);
    let mut checks = vec![Check::new(concat(&["s3:", action]), resource.clone())];
    let mut context = Context::default();
    if let Some(source) = &copy_source {
        let action = if source.version_id.is_some() {
            "s3:GetObjectVersion"
        } else {
            "s3:GetObject"
        };
        checks.push(Check::new(action, object_arn(&source.bucket, &source.key)));
    }
    let creates = matches!(
        operation,
        "PutObject" | "CopyObject" | "CreateMultipartUpload"
    );
    if creates {
        if context.acl(headers)? {
            checks.push(Check::new("s3:PutObjectAcl", resource.clone()));
        }
        context.add_headers(
            headers,
            &[
                (
                    "x-amz-server-side-encryption",
                    "s3:x-amz-server-side-encryption",
                ),
                (
                    "x-amz-server-side-encryption-aws-kms-key-id",
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                ),
                ("x-amz-storage-class", "s3:x-amz-storage-class"),
                (
                    "x-amz-website-redirect-location",
                    "s3:x-amz-website-redirect-location",
                ),
            ],
        )?;
        if operation == "CopyObject" {
            context.add_headers(
                headers,
                &[("x-amz-metadata-directive", "s3:x-amz-metadata-directive")],
            )?;
        }
        if context.add_headers(
            headers,
            &[
                ("x-amz-object-lock-mode", "s3:object-lock-mode"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "s3:object-lock-retain-until-date",
                ),
            ],
        )? {
            checks.push(Check::new("s3:PutObjectRetention", resource.clone()));
        }
        if context.add_headers(
            headers,
            &[("x-amz-object-lock-legal-hold", "s3:object-lock-legal-hold")],
        )? {
            checks.push(Check::new("s3:PutObjectLegalHold", resource.clone()));
        }
        if let Some(raw) = header(headers, "x-amz-tagging")? {
            let tags = parse_tagging(raw)?;
            if !tags.is_empty() {
                // S3 documents its own keys; the global ones are filled too, so that policies
                // written either way work.
                for (k, v) in &tags {
                    context.add(format!("s3:RequestObjectTag/{k}"), v.clone());
                    context.add(format!("aws:RequestTag/{k}"), v.clone());
                }
                let keys: Vec<String> = tags.into_iter().map(|(k, _)| k).collect();
                context.0.push(("aws:TagKeys".to_owned(), keys.clone()));
                context.0.push(("s3:RequestObjectTagKeys".to_owned(), keys));
                checks.push(Check::new("s3:PutObjectTagging", resource.clone()));
            }
        }
    }
    if operation == "PutObjectAcl" {
        context.acl(headers)?;
    }
    if let Some(source) = &copy_source {
        context.add("s3:x-amz-copy-source", source.decoded.clone());
    }
    if let Some(version_id) = version_id {
        context.add("s3:VersionId", version_id);
    }
    let forward_path = concat(&["/", &bucket, "/", &encode_key(&key)]);
    Ok(S3Route {
        bucket: Some(bucket),
        key: Some(key),
        operation,
        checks,
        context: context.0,
        forward_path,
        needs_body: None,
        copy_source: copy_source.as_ref().map(CopySource::forwarded),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_subresource_and_nothing_else_selects_one() {
        assert_eq!(SUBRESOURCES.len(), 37);
        for sub in SUBRESOURCES {
            assert_eq!(subresource_named(&sub.to_uppercase()), None);
            assert_eq!(
                Query::parse(Some(sub)).unwrap().subresource(),
                Ok(Some(*sub))
            );
        }
        assert_eq!(
            Query::parse(Some("x-id=GetObject")).unwrap().subresource(),
            Ok(None)
        );
    }

    #[test]
    fn bucket_names() {
        for ok in [
            "abc",
            "reports",
            "my.bucket",
            "a-b.c-d",
            "123",
            &"a".repeat(63),
        ] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "Reports",
            "my_bucket",
            "-abc",
            "abc-",
            ".abc",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "sthree-abc",
            "abc-s3alias",
            "abc--ol-s3",
            "abc.mrap",
            "a/b",
            "a%b",
        ] {
            assert!(
                matches!(
                    validate_bucket_name(bad),
                    Err(RouteError::InvalidBucketName(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn hosts() {
        let model = S3Model::default();
        let b = |h: &str| model.bucket_from_host(h);
        assert_eq!(
            b("reports.s3.localhost:8080").unwrap().as_deref(),
            Some("reports")
        );
        assert_eq!(
            b("my.bucket.s3.localhost").unwrap().as_deref(),
            Some("my.bucket")
        );
        assert_eq!(
            b("REPORTS.S3.LOCALHOST").unwrap().as_deref(),
            Some("reports")
        );
        assert_eq!(
            b("reports.s3.localhost.").unwrap().as_deref(),
            Some("reports")
        );
        assert_eq!(b("s3.localhost:8080").unwrap(), None);
        assert_eq!(b("localhost:8080").unwrap(), None);
        assert_eq!(b("127.0.0.1:8080").unwrap(), None);
        assert_eq!(b("[::1]:8080").unwrap(), None);
        assert_eq!(b("xs3.localhost").unwrap(), None);
        for bad in [
            "",
            "a,b",
            "a b",
            "host:",
            "host:x",
            "a:1:2",
            "[::1",
            "[zz]",
            "user@host",
        ] {
            assert!(b(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            b("ab.s3.localhost"),
            Err(RouteError::InvalidBucketName(_))
        ));
    }

    #[test]
    fn key_encoding() {
        assert_eq!(encode_key("a/../b/./c"), "a/%2E%2E/b/%2E/c");
        assert_eq!(encode_key("a//b"), "a//b");
        assert_eq!(encode_key("a b+c"), "a%20b%2Bc");
        assert_eq!(encode_key("..."), "...");
    }

    #[test]
    fn copy_source() {
        let s = parse_copy_source("/src/a%20b?versionId=v%2B1").unwrap();
        assert_eq!(
            (s.bucket.as_str(), s.key.as_str(), s.version_id.as_deref()),
            ("src", "a b", Some("v+1"))
        );
        assert_eq!(s.decoded, "/src/a b?versionId=v+1");
        assert!(parse_copy_source("src").is_err());
        assert!(parse_copy_source("src/").is_err());
        assert!(parse_copy_source("src/k?acl").is_err());
        assert!(parse_copy_source("src/k?versionId=").is_err());
        assert!(parse_copy_source("Bad_Bucket/k").is_err());
    }
}
