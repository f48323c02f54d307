//! Forwarding: a pooled HTTP/HTTPS client to the upstreams, with the headers cleaned on the way
//! out and on the way back. Bodies stream both ways and are never buffered.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;

use super::pool::{self, Checkout, Handoff, Pool, PoolLoad, PooledBody};

/// The error type of every body that goes through the gateway.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a body of the gateway's yields when polled.
type PolledFrame = Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>>;

/// A body the gateway forwards or answers with.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// Boxes an error. A named function with a `'static` bound, rather than `BoxError::from`,
/// so that futures holding it stay `Send` for every lifetime the server asks about.
pub fn box_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> BoxError {
    Box::new(e)
}

/// A request body larger than the upstream accepts through the gateway.
#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the {limit} bytes allowed")]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

/// What happened to a request body on its way upstream.
#[derive(Debug, Default)]
pub struct BodyWatch {
    /// It went past the limit.
    pub too_large: std::sync::atomic::AtomicBool,
    /// It failed (a malformed chunk, a client gone, a failed verification, or too large).
    pub failed: std::sync::atomic::AtomicBool,
}

/// A body that counts its bytes as they pass and fails past `limit`, and that notes any failure
/// in its [`BodyWatch`]: the upstream then sees an aborted request, never the excess, and
/// nothing is buffered.
pub struct LimitedBody {
    inner: ProxyBody,
    seen: u64,
    limit: u64,
    watch: std::sync::Arc<BodyWatch>,
}

impl LimitedBody {
    /// Wraps `inner`, allowing `limit` bytes.
    pub fn new(inner: ProxyBody, limit: u64, watch: std::sync::Arc<BodyWatch>) -> LimitedBody {
        LimitedBody {
            inner,
            seen: 0,
            limit,
            watch,
        }
    }
}

impl http_body::Body for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> PolledFrame {
        use std::sync::atomic::Ordering::Relaxed;
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.seen = self.seen.saturating_add(data.len() as u64);
                    if self.seen > self.limit {
                        self.watch.too_large.store(true, Relaxed);
                        self.watch.failed.store(true, Relaxed);
                        return Poll::Ready(Some(Err(box_error(BodyTooLarge {
                            limit: self.limit,
                        }))));
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => self.watch.failed.store(true, Relaxed),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body cut at a deadline (the total request timeout).
pub struct DeadlineBody {
    inner: ProxyBody,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    /// Wraps `inner`, which fails once `deadline` has passed.
    pub fn new(inner: ProxyBody, deadline: tokio::time::Instant) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

/// The total request timeout passed while the response was streaming.
#[derive(Debug, thiserror::Error)]
#[error("the request took longer than the total request timeout")]
pub struct RequestTimedOut;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> PolledFrame {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(box_error(RequestTimedOut))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why an upstream did not answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connection refused, reset, TLS failure...: 502.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// No answer in time: 504.
    #[error("upstream timed out")]
    Timeout,
}

impl UpstreamError {
    /// 502 or 504.
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::Unavailable(_) => StatusCode::BAD_GATEWAY,
            UpstreamError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// The upstream client of one worker: a connector (TCP, and TLS checked against the system's
/// roots for `https` upstreams) and a pool of kept-alive connections.
pub struct Forwarder {
    connector: hyper_rustls::HttpsConnector<HttpConnector>,
    pool: Arc<Pool>,
    evictor: std::sync::Once,
    response_timeout: Duration,
}

impl Forwarder {
    /// A client with the given timeouts (connecting, the response head, an idle pooled
    /// connection) that opens at most `max_per_origin` connections to one origin (0: no
    /// limit); HTTPS upstreams are checked against the system's roots.
    pub fn new(
        connect_timeout: Duration,
        response_timeout: Duration,
        pool_idle: Duration,
        max_per_origin: usize,
    ) -> std::io::Result<Forwarder> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(
                hyper_rustls::ConfigBuilderExt::with_native_roots(tls)?.with_no_client_auth(),
            )
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(Forwarder {
            connector,
            pool: Pool::new(pool_idle, max_per_origin),
            evictor: std::sync::Once::new(),
            response_timeout,
        })
    }

    /// The upstream connections this forwarder has open and the requests waiting for one.
    pub fn load(&self) -> PoolLoad {
        self.pool.load()
    }

    /// Sends `request` (its URI absolute: the upstream's) and returns the upstream's response
    /// head with its streaming body.
    pub async fn send(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, UpstreamError> {
        match tokio::time::timeout(self.response_timeout, self.exchange(request)).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Err(e)) => Err(e),
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Ok(Response::from_parts(parts, body.boxed()))
            }
        }
    }

    /// One request on a pooled connection, or on a new one when none is free and the origin
    /// has room for it, or else on the first connection to come free. A pooled connection the
    /// upstream closed before the request could be written is passed over and the request
    /// tried on the next; once written, a request is never sent twice.
    async fn exchange(
        &self,
        mut request: Request<ProxyBody>,
    ) -> Result<Response<PooledBody>, UpstreamError> {
        let uri = request.uri().clone();
        pool::origin_form(&mut request);
        loop {
            let checkout = self.pool.checkout(&uri).ok_or_else(|| {
                UpstreamError::Unavailable(format!("no origin in the upstream URL {uri}"))
            })?;
            let handoff = match checkout {
                Checkout::Reuse(sender) => Handoff::Reuse(sender),
                Checkout::Open(slot) => Handoff::Open(slot),
                // The sender is only dropped unsent if the pool is: ask again.
                Checkout::Wait(waiting) => match waiting.await {
                    Ok(handoff) => handoff,
                    Err(_) => continue,
                },
            };
            let mut sender = match handoff {
                Handoff::Reuse(sender) => sender,
                Handoff::Failed(reason) => {
                    return Err(UpstreamError::Unavailable(reason.to_string()))
                }
                // Boxed: connecting and the handshake are most of this future's size, and every
                // request that reuses a connection would carry that space.
                Handoff::Open(slot) => return Box::pin(self.open(request, uri, slot)).await,
            };
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(PooledBody::wrap(response, sender, &self.pool, uri)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(unavailable(e.error())),
                },
            }
        }
    }

    /// Opens a connection to `uri`'s origin in `slot`'s place and sends `request` on it.
    async fn open(
        &self,
        request: Request<ProxyBody>,
        uri: Uri,
        mut slot: pool::Slot,
    ) -> Result<Response<PooledBody>, UpstreamError> {
        let connected =
            match tower_service::Service::call(&mut self.connector.clone(), uri.clone()).await {
                Ok(io) => hyper::client::conn::http1::Builder::new()
                    .handshake(io)
                    .await
                    .map_err(|e| error_chain(&e)),
                Err(e) => Err(error_chain(e.as_ref())),
            };
        let (mut sender, connection) = match connected {
            Ok(up) => up,
            Err(reason) => {
                self.pool.unreachable(&uri, &reason);
                return Err(UpstreamError::Unavailable(reason));
            }
        };
        slot.connected();
        tokio::spawn(async move {
            // The place in the origin's count is held for as long as the connection is open.
            let _slot = slot;
            if let Err(e) = connection.await {
                tracing::debug!("upstream connection ended: {e}");
            }
        });
        self.evictor.call_once(|| pool::spawn_evictor(&self.pool));
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(PooledBody::wrap(response, sender, &self.pool, uri))
    }
}

fn unavailable(e: &hyper::Error) -> UpstreamError {
    UpstreamError::Unavailable(error_chain(e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1), and
/// `Transfer-Encoding`, which hyper sets again for the next hop.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::UPGRADE
        || name == header::PROXY_AUTHENTICATE
        || name == header::PROXY_AUTHORIZATION
        || name == header::TRANSFER_ENCODING
        || matches!(name.as_str(), "keep-alive" | "proxy-connection")
}

/// Removes every header `drop` picks, and those the `Connection` header names. One pass over
/// the map: nearly always nothing is dropped, and a removal by name hashes the name again.
fn remove_headers(headers: &mut HeaderMap, drop: impl Fn(&HeaderName) -> bool) {
    let mut doomed: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if drop(name) {
            doomed.push(name.clone());
        }
    }
    if !doomed.is_empty() {
        for value in headers.get_all(header::CONNECTION) {
            let Ok(value) = value.to_str() else { continue };
            for named in value.split(',') {
                if let Ok(name) = HeaderName::from_bytes(named.trim().as_bytes()) {
                    doomed.push(name);
                }
            }
        }
    }
    for name in doomed {
        headers.remove(name);
    }
}

/// Removes the headers that the `Connection` header names (but not `Connection` itself).
pub fn strip_connection_named(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONNECTION) {
        return;
    }
    let mut doomed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for named in value.split(',') {
            if let Ok(name) = HeaderName::from_bytes(named.trim().as_bytes()) {
                if name != header::CONNECTION {
                    doomed.push(name);
                }
            }
        }
    }
    for name in doomed {
        headers.remove(name);
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    remove_headers(headers, is_hop_by_hop);
}

/// The prefix of the headers that carry the gateway's decision to the upstream.
pub const IDENTITY_HEADER_PREFIX: &str = "x-iamgate-";

/// Whether a client's header could pass for one of the gateway's identity headers: the prefix
/// in any case, with `_` for `-` (CGI, WSGI and Rack upstreams read `x_iamgate_principal_arn` as
/// `HTTP_X_IAMGATE_PRINCIPAL_ARN`, the same variable as the real header).
fn claims_identity(name: &str) -> bool {
    name.len() >= IDENTITY_HEADER_PREFIX.len()
        && name
            .bytes()
            .zip(IDENTITY_HEADER_PREFIX.bytes())
            .all(|(a, b)| a.to_ascii_lowercase() == b || (a == b'_' && b == b'-'))
}

/// Headers some web frameworks read as the request's real method.
fn is_method_override(name: &str) -> bool {
    matches!(
        name,
        "x-http-method-override" | "x-http-method" | "x-method-override"
    )
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const X_IAMGATE_PRINCIPAL_ARN: HeaderName = HeaderName::from_static("x-iamgate-principal-arn");
const X_IAMGATE_ACCOUNT: HeaderName = HeaderName::from_static("x-iamgate-account");
const X_IAMGATE_ACTION: HeaderName = HeaderName::from_static("x-iamgate-action");
const X_IAMGATE_REQUEST_ID: HeaderName = HeaderName::from_static("x-iamgate-request-id");

/// What the gateway tells the upstream about the request.
#[derive(Debug, Clone, Default)]
pub struct IdentityHeaders<'a> {
    /// The caller's ARN (`anonymous` for an unsigned request).
    pub principal_arn: &'a str,
    /// The caller's account.
    pub account: Option<&'a str>,
    /// The authorised action.
    pub action: &'a str,
    /// The request id.
    pub request_id: &'a str,
}

/// Rewrites the client's request head for the upstream: the target, `Host`, hop-by-hop headers,
/// `X-Forwarded-*`, and the identity headers (any the client sent are dropped first, so that no
/// client can claim an identity).
pub fn prepare_head(
    headers: &mut HeaderMap,
    upstream_authority: Option<&str>,
    client_ip: std::net::IpAddr,
    secure: bool,
    identity: &IdentityHeaders<'_>,
) {
    let original_host = headers.get(header::HOST).cloned();
    remove_headers(headers, |name| {
        is_hop_by_hop(name)
            // Credentials were for the gateway; the upstream gets the decision instead.
            || name == header::AUTHORIZATION
            || name.as_str() == "x-amz-security-token"
            || claims_identity(name.as_str())
            // The method was authorised as sent: frameworks that let these headers replace it
            // (Express's method-override, Rails, ASP.NET, ...) would run a DELETE authorised as
            // a GET.
            || is_method_override(name.as_str())
            // CGI, WSGI, Rack and PHP upstreams read `x_amz_copy_source` as the same variable
            // as `x-amz-copy-source`, which the gateway never authorised; nginx drops such
            // names by default too.
            || name.as_str().contains('_')
            // Path overrides of IIS, Symfony and some Java filters.
            || matches!(name.as_str(), "x-original-url" | "x-rewrite-url")
            // Set below from what the gateway saw, never passed on from the client.
            || name == X_FORWARDED_HOST
    });
    if let Some(authority) = upstream_authority {
        if let Ok(v) = HeaderValue::from_str(authority) {
            headers.insert(header::HOST, v);
        }
    }
    let xff = match headers.get(X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {client_ip}"),
        None => crate::context::ip_text(client_ip),
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto(secure)));
    if let Some(host) = original_host {
        headers.insert(X_FORWARDED_HOST, host);
    }
    // RFC 7239 and nginx's convention name the client too; a client's own values are replaced,
    // never passed on, so an upstream that reads them sees the address the gateway saw.
    let client = crate::context::ip_text(client_ip);
    let forwarded = match client_ip {
        std::net::IpAddr::V4(_) => format!("for={client};proto={}", proto(secure)),
        std::net::IpAddr::V6(_) => format!("for=\"[{client}]\";proto={}", proto(secure)),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert(FORWARDED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&client) {
        headers.insert(X_REAL_IP, v);
    }
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(X_IAMGATE_PRINCIPAL_ARN, identity.principal_arn);
    if let Some(account) = identity.account {
        set(X_IAMGATE_ACCOUNT, account);
    }
    set(X_IAMGATE_ACTION, identity.action);
    set(X_IAMGATE_REQUEST_ID, identity.request_id);
}

fn proto(secure: bool) -> &'static str {
    if secure {
        "https"
    } else {
        "http"
    }
}

/// Signs forwarded requests with an upstream's own credentials, for S3-compatible backends
/// (and other services) that check signatures. The body streams, so it is signed as
/// `UNSIGNED-PAYLOAD`; S3 accepts that over any transport.
pub struct UpstreamSigner {
    credentials: aws_credential_types::Credentials,
    region: String,
    service: String,
}

impl UpstreamSigner {
    /// A signer for `signing`.
    pub fn new(signing: &crate::config::UpstreamSigning) -> UpstreamSigner {
        let credentials = aws_credential_types::Credentials::new(
            signing.access_key_id.clone(),
            signing.secret_access_key.clone(),
            None,
            None,
            "iamgate-upstream",
        );
        UpstreamSigner {
            credentials,
            region: signing.region.clone(),
            service: signing.service.clone(),
        }
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` and `Authorization` to `request`.
    pub fn sign(&self, request: &mut Request<ProxyBody>) -> Result<(), String> {
        use aws_sigv4::http_request::{
            sign, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
            UriPathNormalizationMode,
        };
        let s3 = self.service == "s3";
        let mut settings = SigningSettings::default();
        if s3 {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        request.headers_mut().remove("x-amz-date");
        request.headers_mut().insert(
            "x-amz-content-sha256",
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        let identity = self.credentials.clone().into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(std::time::SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let uri = request.uri().to_string();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            &uri,
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let add: Vec<(HeaderName, HeaderValue)> = instructions
            .headers()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        for (k, v) in add {
            request.headers_mut().insert(k, v);
        }
        Ok(())
    }
}

/// Joins an upstream base URL with a path and query.
pub fn upstream_uri(base: &Uri, path: &str, query: Option<&str>) -> Option<Uri> {
    let prefix = base.path().trim_end_matches('/');
    let query = query.filter(|q| !q.is_empty());
    let mut path_and_query =
        String::with_capacity(prefix.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    path_and_query.push_str(prefix);
    path_and_query.push_str(path);
    if let Some(q) = query {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    Uri::builder()
        .scheme(base.scheme()?.clone())
        .authority(base.authority()?.clone())
        .path_and_query(path_and_query)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_is_cleaned_and_identity_set() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            "x-iamgate-principal-arn",
            HeaderValue::from_static("arn:aws:iam::1:root"),
        );
        h.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 ..."),
        );
        h.insert(
            "host",
            HeaderValue::from_static("reports.s3.localhost:8080"),
        );
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.1"));
        h.insert(
            "x_iamgate_principal_arn",
            HeaderValue::from_static("arn:aws:iam::1:root"),
        );
        h.insert("x-iamgate_account", HeaderValue::from_static("1"));
        h.insert("x-http-method-override", HeaderValue::from_static("DELETE"));
        h.insert("x-http-method", HeaderValue::from_static("DELETE"));
        h.insert("x-method-override", HeaderValue::from_static("DELETE"));
        prepare_head(
            &mut h,
            Some("127.0.0.1:9000"),
            "10.0.0.1".parse().unwrap(),
            true,
            &IdentityHeaders {
                principal_arn: "arn:aws:iam::111122223333:user/bob",
                account: Some("111122223333"),
                action: "s3:GetObject",
                request_id: "R1",
            },
        );
        assert!(h.get("x-secret").is_none());
        assert!(h.get("keep-alive").is_none());
        assert!(h.get("connection").is_none());
        assert!(h.get("authorization").is_none());
        assert!(h.get("x_iamgate_principal_arn").is_none());
        assert!(h.get("x-iamgate_account").is_none());
        assert!(h.get("x-http-method-override").is_none());
        assert!(h.get("x-http-method").is_none());
        assert!(h.get("x-method-override").is_none());
        assert_eq!(h["x-iamgate-account"], "111122223333");
        assert_eq!(
            h["x-iamgate-principal-arn"],
            "arn:aws:iam::111122223333:user/bob"
        );
        assert_eq!(h["host"], "127.0.0.1:9000");
        assert_eq!(h["x-forwarded-host"], "reports.s3.localhost:8080");
        assert_eq!(h["x-forwarded-for"], "203.0.113.1, 10.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "https");
    }

    #[test]
    fn uris_join() {
        let base: Uri = "http://127.0.0.1:9000/api/".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, "/orders/1", Some("a=b"))
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9000/api/orders/1?a=b"
        );
    }
}
