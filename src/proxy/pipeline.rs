//! The request pipeline. Each phase takes what the one before produced and hands its own result
//! on; nothing flows backwards:
//!
//! 1. **select** the upstream (by host; the default is the first S3 upstream);
//! 2. **authenticate** the head (SigV4 header, presigned query, or anonymous);
//! 3. **route**: the actions and resources to authorise, and the path to forward;
//! 4. **inspect** a small body where the route needs one (DeleteObjects' key list);
//! 5. **contextualise**: the condition keys of principal, environment, route and resource;
//! 6. **evaluate** every check against the snapshot the request started with;
//! 7. **forward**, streaming both ways, or **reject** with the AWS error;
//! 8. **record** the decision.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::{request, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::forward::{self, IdentityHeaders, ProxyBody};
use super::listener::Connection;
use super::record::{self, RouteSeen, Seen};
use super::respond::{set_request_id, Denial, DenyReason, Dialect, Reject};
use super::{now_epoch, Destination, Gateway, KeyPrincipal, Model, UpstreamRuntime};
use crate::audit::Marks;
use crate::caller::Caller;
use crate::context::{self, Environment};
use crate::policy::{self, Action, Context, Decision, Outcome, Policies, Request as PolicyRequest};
use crate::route::{self, Check};
use crate::sigv4::{self, AuthError, Authenticated, PayloadMode, RequestHead};
use crate::store::Snapshot;

/// What the route phase produced.
struct Routed {
    checks: Vec<Check>,
    context: Vec<(String, Vec<String>)>,
    forward_path: String,
    /// The operation or action, for the log.
    operation: String,
    /// A DeleteObjects body to read and authorise key by key.
    inspect_body: bool,
    /// The S3 bucket the request addresses.
    bucket: Option<String>,
    /// The S3 object key the request addresses.
    key: Option<String>,
    /// The `x-amz-copy-source` to forward: the authorised source, rebuilt (S3 model).
    copy_source: Option<String>,
}

/// Where a forwarded request's body reports how it went: a failed verification, and its size
/// against the limit.
struct BodyReports {
    error: Arc<Mutex<Option<AuthError>>>,
    watch: Arc<forward::BodyWatch>,
    limit: u64,
}

/// The outcome of the decision phases: everything forwarding needs.
struct Decided {
    caller: Caller,
    auth: Option<Box<Authenticated<KeyPrincipal>>>,
    routed: Routed,
    /// A body already read (and verified) by the inspect phase.
    inspected: Option<Bytes>,
    decisions: Vec<(Check, Decision)>,
    /// The request context the checks were decided in.
    context: Context,
}

impl Gateway {
    /// Serves one request through every phase.
    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        conn: Connection,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let mut marks = Marks::new(started);
        let request_id = self.ids.next();
        let snapshot = self.store.snapshot();
        let generation = self.store.generation();
        let (mut parts, body) = req.into_parts();
        // The headers `Connection` names are dropped before anything reads the request, not
        // only when it is forwarded: the decision is made on exactly what the upstream gets
        // (a signed header named there then fails the signature, as it would upstream).
        forward::strip_connection_named(&mut parts.headers);
        let head_only = parts.method == Method::HEAD;
        let selected = self.select_upstream(&parts);
        let dialect = match selected.as_ref().map_or(&self.upstreams[0], |u| u).model {
            Model::S3(_) => Dialect::S3Xml,
            Model::Routes(_) => Dialect::Json,
        };
        let upstream = match selected.and_then(|u| self.check_head(u, &parts).map(|()| u)) {
            Ok(upstream) => upstream,
            Err(reject) => {
                // The head is ambiguous or over a limit: answer, and close the connection rather
                // than guess where this request's body ends.
                let mut response = reject.render(dialect, &request_id, head_only);
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                let seen = Seen {
                    request_id: &request_id,
                    parts: &parts,
                    conn,
                    upstream: &self.upstreams[0],
                    snapshot: &snapshot,
                    generation,
                    principal: None,
                    route: None,
                    decisions: &[],
                };
                record_rejection(self, seen, "unauthenticated", &reject, &marks, &response);
                return response;
            }
        };
        if self.is_sts_request(&parts, upstream) {
            // Boxed, as every rare path is: the handler's future is as large as its largest
            // state, and it is allocated and moved once per request.
            return Box::pin(self.serve_sts(&snapshot, parts, body, conn, &request_id, started))
                .await;
        }
        if upstream.passthrough {
            return self
                .pass_through(upstream, parts, conn, body, &request_id)
                .await
                .unwrap_or_else(|reject| reject.render(dialect, &request_id, head_only));
        }
        let mut body = Some(body);
        let decided = match self
            .decide(&snapshot, upstream, &parts, conn, &mut body, &mut marks)
            .await
        {
            Ok(decided) => decided,
            Err((caller_arn, reject)) => {
                let response = reject.render(dialect, &request_id, head_only);
                let seen = Seen {
                    request_id: &request_id,
                    parts: &parts,
                    conn,
                    upstream,
                    snapshot: &snapshot,
                    generation,
                    principal: None,
                    route: None,
                    decisions: &[],
                };
                record_rejection(self, seen, &caller_arn, &reject, &marks, &response);
                Box::pin(self.drain(body, expects_continue(&parts))).await;
                return response;
            }
        };
        let outcome = record::overall(&decided.decisions);
        let denied = outcome != Outcome::Allowed;
        // What the record needs of the decision (the details only when the decision log is
        // on); `decided` itself goes on to forwarding.
        let logged = self.decisions.enabled();
        let principal = decided.caller.principal().into_owned();
        let operation = decided.routed.operation.clone();
        let details = logged.then(|| {
            (
                decided.routed.bucket.clone(),
                decided.routed.key.clone(),
                decided.routed.context.clone(),
                decided
                    .decisions
                    .iter()
                    .map(|(check, _)| check.clone())
                    .collect::<Vec<_>>(),
                decided.decisions.clone(),
            )
        });
        let head = if logged {
            parts.clone()
        } else {
            let mut head = Request::new(());
            *head.method_mut() = parts.method.clone();
            *head.uri_mut() = parts.uri.clone();
            head.into_parts().0
        };

        let (response, refused) = self
            .respond(
                &snapshot,
                upstream,
                parts,
                conn,
                decided,
                body,
                &request_id,
                (dialect, head_only, denied),
                &mut marks,
            )
            .await;
        let (bucket, key, route_context, checks, decisions) = details.unwrap_or_default();
        let seen = Seen {
            request_id: &request_id,
            parts: &head,
            conn,
            upstream,
            snapshot: &snapshot,
            generation,
            principal: Some(&principal),
            route: Some(RouteSeen {
                operation: &operation,
                bucket: bucket.as_deref(),
                key: key.as_deref(),
                context: &route_context,
                checks: &checks,
            }),
            decisions: &decisions,
        };
        self.record(
            &seen,
            &marks,
            response.status().as_u16(),
            refused.as_ref(),
            Some(outcome),
        );
        response
    }

    /// Phase 7 for a decided request: forward it (dry run included), or refuse it. Returns the
    /// response and, when the gateway answered with an error of its own, that error.
    #[allow(clippy::too_many_arguments)]
    async fn respond(
        &self,
        snapshot: &Snapshot,
        upstream: &UpstreamRuntime,
        parts: request::Parts,
        conn: Connection,
        mut decided: Decided,
        body: Option<Incoming>,
        request_id: &str,
        (dialect, head_only, denied): (Dialect, bool, bool),
        marks: &mut Marks,
    ) -> (Response<ProxyBody>, Option<Reject>) {
        if decided.routed.operation == "DeleteObjects" && !upstream.dry_run {
            let sent = Instant::now();
            let result =
                Box::pin(self.delete_objects(upstream, parts, conn, decided, request_id)).await;
            marks.upstream = Some(sent.elapsed());
            return match result {
                Ok(response) => (response, None),
                Err(reject) => (reject.render(dialect, request_id, head_only), Some(reject)),
            };
        }
        if denied && !upstream.dry_run {
            Box::pin(self.drain(body, expects_continue(&parts))).await;
            let reject = denial(snapshot, upstream, &decided);
            return (reject.render(dialect, request_id, head_only), Some(reject));
        }
        // S3 answers a missing key with AccessDenied to a caller who may not list the bucket,
        // so that nobody learns which keys exist without that right: `s3:ListBucket` on the
        // bucket, for a read of an object, decided only if the upstream answers 404.
        let reads_object = matches!(upstream.model, Model::S3(_))
            && decided.routed.key.is_some()
            && matches!(parts.method, Method::GET | Method::HEAD);
        let sent = Instant::now();
        let response = self
            .forward(upstream, parts, conn, &mut decided, body, request_id)
            .await;
        marks.upstream = Some(sent.elapsed());
        let may_list = |decided: &Decided| match &decided.routed.bucket {
            Some(bucket) if reads_object => decide_check(
                snapshot,
                upstream,
                &decided.caller.principal(),
                &decided.caller.policies(snapshot),
                &decided.context,
                &Check::new("s3:ListBucket", route::s3::bucket_arn(bucket)),
            )
            .is_allowed(),
            _ => true,
        };
        match response {
            Ok(response) if response.status() == StatusCode::NOT_FOUND && !may_list(&decided) => {
                let reject = Reject::AccessDenied;
                (reject.render(dialect, request_id, head_only), Some(reject))
            }
            Ok(mut response) => {
                set_request_id(response.headers_mut(), request_id);
                (response, None)
            }
            Err(reject) => {
                tracing::warn!(request_id = %request_id, upstream = %upstream.name, "{reject}");
                (reject.render(dialect, request_id, head_only), Some(reject))
            }
        }
    }

    /// The proxy core alone: route and forward, no authentication, no decision (see
    /// `passthrough` in the configuration: for measuring what checking costs).
    async fn pass_through(
        &self,
        upstream: &UpstreamRuntime,
        parts: request::Parts,
        conn: Connection,
        body: Incoming,
        request_id: &str,
    ) -> Result<Response<ProxyBody>, Reject> {
        let account = upstream.owner.clone().unwrap_or_default();
        let routed = route(upstream, &parts, &self.config.region, &account)?;
        let mut decided = Decided {
            caller: Caller::Anonymous,
            auth: None,
            routed,
            inspected: None,
            decisions: Vec::new(),
            context: Context::default(),
        };
        let mut response = self
            .forward(upstream, parts, conn, &mut decided, Some(body), request_id)
            .await?;
        set_request_id(response.headers_mut(), request_id);
        Ok(response)
    }

    /// DeleteObjects: the allowed keys go upstream, the refused ones are answered per key.
    async fn delete_objects(
        &self,
        upstream: &UpstreamRuntime,
        mut parts: request::Parts,
        conn: Connection,
        mut decided: Decided,
        request_id: &str,
    ) -> Result<Response<ProxyBody>, Reject> {
        use super::delete_objects as del;
        let (Some(original), Some(bucket)) =
            (decided.inspected.take(), decided.routed.bucket.clone())
        else {
            return Err(Reject::AccessDenied);
        };
        let objects = route::s3::parse_delete_objects(&original).map_err(route_reject)?;
        let split = del::split(&bucket, objects, &decided.decisions);
        let xml_response = |status: StatusCode, body: Bytes| {
            let mut response =
                Response::new(Full::new(body).map_err(|never| match never {}).boxed());
            *response.status_mut() = status;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            set_request_id(response.headers_mut(), request_id);
            response
        };
        if split.allowed.is_empty() {
            return Ok(xml_response(
                StatusCode::OK,
                del::result_only_refused(&split.refused),
            ));
        }
        let quiet = original
            .windows(b"<Quiet>true</Quiet>".len())
            .any(|w| w == b"<Quiet>true</Quiet>");
        let body = del::request_body(&split.allowed, quiet);
        let checksums: Vec<_> = parts
            .headers
            .keys()
            .filter(|k| {
                k.as_str().starts_with("x-amz-checksum-")
                    || k.as_str() == "x-amz-sdk-checksum-algorithm"
            })
            .cloned()
            .collect();
        for name in checksums {
            parts.headers.remove(name);
        }
        if let Ok(v) = HeaderValue::from_str(&del::content_md5(&body)) {
            parts.headers.insert("content-md5", v);
        }
        decided.inspected = Some(body);
        let response = self
            .forward(upstream, parts, conn, &mut decided, None, request_id)
            .await?;
        if response.status() != StatusCode::OK || split.refused.is_empty() {
            return Ok(response);
        }
        let (head, body) = response.into_parts();
        let collected = collect_limited(body, 16 * 1024 * 1024)
            .await
            .map_err(|e| Reject::Upstream(forward::UpstreamError::Unavailable(e)))?;
        let merged = del::merge(&collected, &split.refused).unwrap_or(collected);
        let mut response = xml_response(head.status, merged);
        for (name, value) in head.headers.iter() {
            if name != CONTENT_LENGTH && name != http::header::CONTENT_TYPE {
                response.headers_mut().append(name.clone(), value.clone());
            }
        }
        set_request_id(response.headers_mut(), request_id);
        Ok(response)
    }

    /// Reads and discards the body of a refused request (up to a limit), so that a client still
    /// sending it reads the refusal instead of a reset connection. A client that sent
    /// `Expect: 100-continue` is waiting for permission to send its body: reading the body would
    /// make hyper grant it, so the body is dropped unread instead (hyper then answers without
    /// `100 Continue` and closes the connection rather than read a body it never asked for).
    async fn drain(&self, body: Option<Incoming>, expects_continue: bool) {
        let Some(mut body) = body else { return };
        if expects_continue {
            return;
        }
        let limit = self.config.limits.drain_max_bytes;
        let mut read = 0usize;
        let deadline = tokio::time::sleep(self.config.limits.header_read_timeout());
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                frame = body.frame() => match frame {
                    Some(Ok(frame)) => {
                        read += frame.data_ref().map_or(0, Bytes::len);
                        if read > limit {
                            return;
                        }
                    }
                    _ => return,
                },
                _ = &mut deadline => return,
            }
        }
    }

    /// Phase 1: the upstream whose host the request names; otherwise the default. A request
    /// that names its host ambiguously is refused (400): several `Host` headers, a `Host` that
    /// is not ASCII, or an authority (absolute-form target, HTTP/2 `:authority`) that differs
    /// from the `Host` header.
    fn select_upstream(&self, parts: &request::Parts) -> Result<&UpstreamRuntime, Reject> {
        let bad = |message: String| Reject::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidArgument",
            message,
        };
        let mut hosts = parts.headers.get_all(HOST).iter();
        let header = match (hosts.next(), hosts.next()) {
            (Some(_), Some(_)) => {
                return Err(bad("The Host header is given more than once.".into()))
            }
            (Some(h), None) => Some(
                h.to_str()
                    .map_err(|_| bad("The Host header is not ASCII.".into()))?,
            ),
            (None, _) => None,
        };
        let authority = parts.uri.authority().map(|a| a.as_str());
        if let (Some(authority), Some(header)) = (authority, header) {
            if !authority.eq_ignore_ascii_case(header) {
                return Err(bad(format!(
                    "The request target names '{authority}' but the Host header '{header}'."
                )));
            }
        }
        // Checked above: the authority and the one Host header agree; either names the host.
        let host = request_host(parts);
        Ok(host
            .and_then(|h| self.upstreams.iter().find(|u| u.hosts.contains(&h)))
            .unwrap_or(&self.upstreams[0]))
    }

    /// Phase 1, continued: the head's framing and size. A request target longer than
    /// `max_uri_bytes` is 414; a body framed twice (`Transfer-Encoding` with `Content-Length`),
    /// or framed by a transfer coding other than `chunked` alone, is 400 (request smuggling);
    /// a `Content-Length` over the upstream's body limit is 413, before anything is forwarded.
    fn check_head(&self, upstream: &UpstreamRuntime, parts: &request::Parts) -> Result<(), Reject> {
        let limits = &self.config.limits;
        let uri_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len())
            + parts.uri.authority().map_or(0, |a| a.as_str().len());
        if uri_len > limits.max_uri_bytes {
            return Err(Reject::Invalid {
                status: StatusCode::URI_TOO_LONG,
                code: "RequestURITooLong",
                message: format!(
                    "The request target is longer than the {} bytes allowed.",
                    limits.max_uri_bytes
                ),
            });
        }
        let smuggling = |message: &str| Reject::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidRequest",
            message: message.to_owned(),
        };
        let codings: Vec<&HeaderValue> = parts
            .headers
            .get_all(http::header::TRANSFER_ENCODING)
            .iter()
            .collect();
        if !codings.is_empty() {
            if parts.headers.contains_key(CONTENT_LENGTH) {
                return Err(smuggling(
                    "Transfer-Encoding and Content-Length together are refused.",
                ));
            }
            let chunked_only = codings.len() == 1
                && codings[0]
                    .to_str()
                    .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            if !chunked_only {
                return Err(smuggling(
                    "The only Transfer-Encoding accepted is 'chunked', once.",
                ));
            }
        }
        let mut lengths = parts.headers.get_all(CONTENT_LENGTH).iter();
        if let Some(first) = lengths.next() {
            let length = first
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| smuggling("The Content-Length is not one decimal number."))?;
            if lengths.next().is_some() {
                return Err(smuggling(
                    "The Content-Length header is given more than once.",
                ));
            }
            let limit = limits.max_body_bytes_for(&upstream.name);
            if length > limit {
                return Err(too_large(limit));
            }
        }
        Ok(())
    }

    /// Phases 2 to 6. On a rejection, also says who the caller was (for the log).
    async fn decide(
        &self,
        snapshot: &Snapshot,
        upstream: &UpstreamRuntime,
        parts: &request::Parts,
        conn: Connection,
        body: &mut Option<Incoming>,
        marks: &mut Marks,
    ) -> Result<Decided, (String, Reject)> {
        // 2. authenticate
        let mut head = RequestHead::from_parts(parts);
        if body.as_ref().is_none_or(http_body::Body::is_end_stream) {
            head.body_empty = true;
        }
        let auth = match self.verifier.verify(&head) {
            Ok(sigv4::Outcome::Anonymous) => None,
            Ok(sigv4::Outcome::Authenticated(auth)) => Some(auth),
            Err(e) => return Err(("unauthenticated".into(), Reject::Auth(e))),
        };
        let service = match &upstream.model {
            Model::S3(_) => "s3",
            Model::Routes(table) => table.service(),
        };
        let caller = match &auth {
            None if matches!(upstream.model, Model::Routes(_)) => {
                return Err((
                    "anonymous".into(),
                    Reject::Auth(AuthError::MissingAuthenticationToken),
                ))
            }
            None => Caller::Anonymous,
            Some(auth) => {
                if auth.scope.service() != service {
                    let error = AuthError::WrongService {
                        service: auth.scope.service().to_owned(),
                        expected: service.to_owned(),
                        query: auth.auth_type == sigv4::AuthType::Query,
                    };
                    return Err((auth.access_key_id.clone(), Reject::Auth(error)));
                }
                let key = &auth.principal;
                Caller::resolve(snapshot, &key.account, &key.owner, key.session.as_ref())
                    .ok_or_else(|| {
                        (
                            auth.access_key_id.clone(),
                            Reject::Auth(AuthError::InvalidAccessKeyId),
                        )
                    })?
            }
        };
        marks.authenticated = Some(Instant::now());
        // The caller's ARN is copied only for a rejection's record.
        let fail = |r: Reject| (caller.principal().arn().to_owned(), r);
        if let Some(rates) = &self.rates {
            let allowed = match &caller {
                Caller::Anonymous => {
                    let ip = context::source_ip(
                        conn.peer.ip(),
                        &parts.headers,
                        &self.config.trusted_proxies,
                    );
                    rates.allow(&format!("anonymous@{ip}"), std::time::Instant::now())
                }
                _ => rates.allow(caller.principal().arn(), std::time::Instant::now()),
            };
            if !allowed {
                marks.throttled = true;
                return Err(fail(Reject::Throttled));
            }
        }

        // 3. route
        let principal = caller.principal();
        let account = principal.account().or(upstream.owner.as_deref());
        let routed =
            route(upstream, parts, &self.config.region, account.unwrap_or("")).map_err(fail)?;
        marks.routed = Some(Instant::now());

        // 4. inspect a body the route must read before it can say what is asked, or whose
        //    signature can only be checked at its end (services that send no payload hash):
        //    nothing reaches the upstream before the caller is proven.
        let mut routed = routed;
        let mut inspected = None;
        let deferred = auth.as_ref().is_some_and(|a| !a.signature_verified);
        if deferred && !routed.inspect_body {
            let incoming = body.take().ok_or_else(|| fail(Reject::AccessDenied))?;
            inspected = Some(
                Box::pin(self.read_small_body(incoming, auth.as_deref()))
                    .await
                    .map_err(fail)?,
            );
        }
        if routed.inspect_body {
            let incoming = body.take().ok_or_else(|| fail(Reject::AccessDenied))?;
            let bytes = Box::pin(self.read_small_body(incoming, auth.as_deref()))
                .await
                .map_err(fail)?;
            if let (Model::S3(model), Some(bucket)) = (&upstream.model, routed.bucket.clone()) {
                let objects =
                    route::s3::parse_delete_objects(&bytes).map_err(|e| fail(route_reject(e)))?;
                // Each key goes upstream in the body: the upstream's key rule holds for it too.
                for object in &objects {
                    model
                        .keys
                        .check(&object.key)
                        .map_err(|e| fail(route_reject(e)))?;
                }
                routed
                    .checks
                    .extend(route::s3::delete_objects_checks(&bucket, &objects));
            }
            inspected = Some(bytes);
        }
        marks.inspected = Some(Instant::now());

        // 5. contextualise
        let now = now_epoch();
        let mut context = caller.context(now);
        let source_ip =
            context::source_ip(conn.peer.ip(), &parts.headers, &self.config.trusted_proxies);
        context::add_environment(
            &mut context,
            &Environment {
                source_ip,
                secure: conn.secure,
                now,
                region: &self.config.region,
            },
            &parts.headers,
        );
        for (key, values) in &routed.context {
            context.insert_values(key, values.clone());
        }
        if let (Some(auth), Model::S3(_)) = (&auth, &upstream.model) {
            context.insert_known("s3:authtype", auth.auth_type.s3_auth_type());
            context.insert_known("s3:signatureversion", auth.signature_version);
            context.insert_known(
                "s3:signatureage",
                (auth.signature_age_secs.max(0) * 1000).to_string(),
            );
            if let Some(v) = parts
                .headers
                .get("x-amz-content-sha256")
                .and_then(|v| v.to_str().ok())
            {
                context.insert_known("s3:x-amz-content-sha256", v);
            }
        }

        // 6. evaluate every check
        let caller_policies = caller.policies(snapshot);
        // The checks move into the decisions: the record reads them from there.
        let decisions: Vec<(Check, Decision)> = std::mem::take(&mut routed.checks)
            .into_iter()
            .map(|check| {
                let decision = decide_check(
                    snapshot,
                    upstream,
                    &principal,
                    &caller_policies,
                    &context,
                    &check,
                );
                (check, decision)
            })
            .collect();

        marks.evaluated = Some(Instant::now());
        Ok(Decided {
            caller,
            auth,
            routed,
            inspected,
            decisions,
            context,
        })
    }

    /// Reads a body that the route must see, verifying it as it comes, up to the configured limit.
    pub(super) async fn read_small_body(
        &self,
        body: Incoming,
        auth: Option<&Authenticated<KeyPrincipal>>,
    ) -> Result<Bytes, Reject> {
        let limit = self.config.limits.inspect_body_max_bytes;
        let verified: ProxyBody = match auth {
            Some(auth) => {
                let verifier =
                    sigv4::BodyVerifier::new(auth, self.verifier.config().max_chunk_size)?;
                sigv4::VerifiedBody::new(body, verifier)
                    .map_err(forward::box_error)
                    .boxed()
            }
            None => body.map_err(forward::box_error).boxed(),
        };
        let mut verified = verified;
        let mut collected = bytes::BytesMut::new();
        while let Some(frame) = verified.frame().await {
            let frame = frame.map_err(|e| match e.downcast::<AuthError>() {
                Ok(auth_error) => Reject::Auth(*auth_error),
                Err(other) => Reject::Invalid {
                    status: StatusCode::BAD_REQUEST,
                    code: "IncompleteBody",
                    message: format!("The request body could not be read: {other}"),
                },
            })?;
            if let Ok(data) = frame.into_data() {
                if collected.len() + data.len() > limit {
                    return Err(Reject::Invalid {
                        status: StatusCode::BAD_REQUEST,
                        code: "EntityTooLarge",
                        message: format!(
                            "The request body is larger than the {limit} bytes the gateway reads to authorise it."
                        ),
                    });
                }
                collected.extend_from_slice(&data);
            }
        }
        Ok(collected.freeze())
    }

    /// Phase 7: sends the request on, streaming its body through the verifier.
    async fn forward(
        &self,
        upstream: &UpstreamRuntime,
        parts: request::Parts,
        conn: Connection,
        decided: &mut Decided,
        body: Option<Incoming>,
        request_id: &str,
    ) -> Result<Response<ProxyBody>, Reject> {
        let reports = BodyReports {
            error: Arc::default(),
            watch: Arc::default(),
            limit: self.config.limits.max_body_bytes_for(&upstream.name),
        };
        // Built apart, so that of all it takes only the request waits on the upstream with it.
        let client = Request::from_parts(parts, body);
        let request =
            self.upstream_request(upstream, client, conn, decided, request_id, &reports)?;
        let result = match &upstream.destination {
            Destination::Local(store) => {
                let response = Box::pin(store.handle(request)).await;
                let (parts, body) = response.into_parts();
                Ok(Response::from_parts(
                    parts,
                    body.map_err(forward::box_error).boxed(),
                ))
            }
            Destination::Remote(_) => self
                .forwarder(conn.worker)
                .send(request)
                .await
                .map_err(Reject::Upstream),
        };
        // A body that failed verification answers for itself, whatever the upstream said.
        if let Some(e) = reports.error.lock().ok().and_then(|mut s| s.take()) {
            return Err(Reject::Auth(e));
        }
        if reports
            .watch
            .too_large
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(too_large(reports.limit));
        }
        // The client's body broke (a malformed chunk, a connection gone): the upstream saw an
        // aborted request; the client is told it was its body, not the upstream, that failed.
        if reports
            .watch
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Reject::Invalid {
                status: StatusCode::BAD_REQUEST,
                code: "IncompleteBody",
                message: "The request body could not be read to its end.".into(),
            });
        }
        result
    }

    /// The request for the upstream: its target, its headers cleaned and the caller's identity
    /// added, its body streaming through the verifier and the size limit (which report into
    /// `reports`), signed for the upstream if it wants that.
    fn upstream_request(
        &self,
        upstream: &UpstreamRuntime,
        client: Request<Option<Incoming>>,
        conn: Connection,
        decided: &mut Decided,
        request_id: &str,
        reports: &BodyReports,
    ) -> Result<Request<ProxyBody>, Reject> {
        let (parts, body) = client.into_parts();
        let inspected = decided.inspected.take();
        let Decided {
            caller,
            auth,
            routed,
            decisions,
            ..
        } = &*decided;
        let mut headers = parts.headers;
        let body: ProxyBody = match (inspected, body) {
            (Some(bytes), _) => {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                decoded_payload_headers(&mut headers, None);
                Full::new(bytes).map_err(|never| match never {}).boxed()
            }
            (None, Some(incoming)) => match &auth {
                Some(auth) => {
                    let verifier =
                        sigv4::BodyVerifier::new(auth, self.verifier.config().max_chunk_size)?;
                    if is_streaming(auth.payload) {
                        decoded_payload_headers(&mut headers, auth.decoded_content_length);
                    }
                    let slot = Arc::clone(&reports.error);
                    sigv4::VerifiedBody::new(incoming, verifier)
                        .map_err(move |e: AuthError| {
                            if let Ok(mut s) = slot.lock() {
                                *s = Some(e.clone());
                            }
                            forward::box_error(e)
                        })
                        .boxed()
                }
                None => incoming.map_err(forward::box_error).boxed(),
            },
            (None, None) => Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed(),
        };
        let body: ProxyBody =
            forward::LimitedBody::new(body, reports.limit, Arc::clone(&reports.watch)).boxed();
        let principal = caller.principal();
        let action = decisions
            .first()
            .map(|(c, _)| c.action.as_str())
            .unwrap_or(routed.operation.as_str());
        let query = strip_presign_params(parts.uri.query());
        let upstream_authority = match &upstream.destination {
            Destination::Remote(base) => base.authority().map(|a| a.as_str()),
            Destination::Local(_) => None,
        };
        // The upstream copies from the source that was authorised, as the gateway read it,
        // never from the client's bytes (which a normalising upstream could read otherwise).
        if let Some(source) = &routed.copy_source {
            let value = HeaderValue::from_str(source).map_err(|_| Reject::Invalid {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidArgument",
                message: "x-amz-copy-source could not be forwarded.".into(),
            })?;
            headers.insert(http::HeaderName::from_static("x-amz-copy-source"), value);
        }
        // HTTP/2 names the host in `:authority`: it is what `X-Forwarded-Host` reports.
        if !headers.contains_key(HOST) {
            if let Some(v) = parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                headers.insert(HOST, v);
            }
        }
        forward::prepare_head(
            &mut headers,
            upstream_authority,
            conn.peer.ip(),
            conn.secure,
            &IdentityHeaders {
                principal_arn: principal.arn(),
                account: principal.account(),
                action,
                request_id,
            },
        );
        let invalid_uri = || Reject::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidURI",
            message: "Couldn't parse the specified URI.".into(),
        };
        let uri = match &upstream.destination {
            Destination::Local(_) => match &query {
                Some(q) if !q.is_empty() => format!("{}?{q}", routed.forward_path),
                _ => routed.forward_path.clone(),
            }
            .parse()
            .map_err(|_| invalid_uri())?,
            Destination::Remote(base) => {
                forward::upstream_uri(base, &routed.forward_path, query.as_deref())
                    .ok_or_else(invalid_uri)?
            }
        };
        let mut request = Request::new(body);
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        if let (Destination::Remote(_), Some(signer)) = (&upstream.destination, &upstream.signer) {
            signer.sign(&mut request).map_err(|e| {
                Reject::Upstream(forward::UpstreamError::Unavailable(format!(
                    "signing for the upstream failed: {e}"
                )))
            })?;
        }
        Ok(request)
    }
}

/// Phase 6 for one check: the caller's policies and the resource's own policy, owner and tags.
fn decide_check(
    snapshot: &Snapshot,
    upstream: &UpstreamRuntime,
    principal: &crate::policy::Principal,
    caller_policies: &crate::caller::CallerPolicies<'_>,
    context: &Context,
    check: &Check,
) -> Decision {
    let entry = snapshot.resource(&check.resource);
    let tagged;
    let context = match entry {
        Some(r) if !r.tags.is_empty() => {
            let mut c = context.clone();
            context::add_resource_tags(&mut c, &r.tags);
            tagged = c;
            &tagged
        }
        _ => context,
    };
    let owner = resource_owner(snapshot, upstream, check, entry);
    policy::evaluate(
        &Policies {
            identity: caller_policies.identity,
            boundary: caller_policies.boundary,
            session: caller_policies.session.as_deref(),
            resource: entry.and_then(|r| r.policy.as_ref()),
            resource_owner: owner,
        },
        &PolicyRequest {
            principal,
            action: &Action::new(&check.action),
            resource: &check.resource,
            context,
        },
    )
}

/// The account owning a check's resource: the store's entry, else the upstream's owner (or the
/// store's first account); none for `*`.
fn resource_owner<'s>(
    snapshot: &'s Snapshot,
    upstream: &'s UpstreamRuntime,
    check: &Check,
    entry: Option<&'s crate::store::Resource>,
) -> Option<&'s str> {
    match entry {
        Some(r) => Some(r.owner.as_str()),
        None if check.resource == "*" => None,
        None => upstream
            .owner
            .as_deref()
            .or_else(|| snapshot.accounts().first().map(String::as_str)),
    }
}

/// The refusal of a decided request: its first refused check, and which kind of policy refused
/// it, as AWS's messages say (an explicit deny names where the deny is; otherwise the first
/// kind of policy that did not allow on the way to an allow).
fn denial(snapshot: &Snapshot, upstream: &UpstreamRuntime, decided: &Decided) -> Reject {
    use crate::policy::{PrincipalKind, Source};
    let Some((check, decision)) = decided.decisions.iter().find(|(_, d)| !d.is_allowed()) else {
        return Reject::AccessDenied;
    };
    let principal = decided.caller.principal();
    let Some(account) = principal.account() else {
        // Anonymous callers are told nothing more, as S3 tells them.
        return Reject::AccessDenied;
    };
    let allowed_by = |source: Source| decision.matched.iter().any(|m| m.source == source);
    let reason = match decision.outcome {
        Outcome::ExplicitDeny => DenyReason::ExplicitDeny(
            decision
                .matched
                .first()
                .map_or(Source::Identity, |m| m.source),
        ),
        _ => {
            let policies = decided.caller.policies(snapshot);
            let identity =
                principal.kind() == PrincipalKind::Account || allowed_by(Source::Identity);
            let missing = if !identity && !allowed_by(Source::Resource) {
                Source::Identity
            } else if identity && policies.boundary.is_some() && !allowed_by(Source::Boundary) {
                Source::Boundary
            } else if identity && policies.session.is_some() && !allowed_by(Source::Session) {
                Source::Session
            } else {
                Source::Resource
            };
            DenyReason::NoAllow(missing)
        }
    };
    let entry = snapshot.resource(&check.resource);
    let owner = resource_owner(snapshot, upstream, check, entry);
    Reject::Denied(Box::new(Denial {
        caller: principal.arn().to_owned(),
        action: check.action.clone(),
        resource: check.resource.clone(),
        reason,
        same_account: owner.is_none_or(|owner| owner == account),
    }))
}

/// Whether the client waits for `100 Continue` before sending its body (HTTP/1.1). Any
/// `Expect` value counts, however many there are: the gateway must not read a body that hyper
/// would take as permission to send.
fn expects_continue(parts: &request::Parts) -> bool {
    parts.version == http::Version::HTTP_11
        && parts
            .headers
            .get_all(http::header::EXPECT)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads a small body whole, refusing one over `limit` bytes.
async fn collect_limited(mut body: ProxyBody, limit: usize) -> Result<Bytes, String> {
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Ok(data) = frame.into_data() {
            if collected.len() + data.len() > limit {
                return Err(format!("the answer is larger than {limit} bytes"));
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// The host a request names (the URI's authority, else `Host`), lower-case, without a port.
pub(super) fn request_host(parts: &request::Parts) -> Option<String> {
    parts
        .uri
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| {
                    h.rsplit_once(':')
                        .map_or(h, |(name, port)| {
                            if port.bytes().all(|b| b.is_ascii_digit()) {
                                name
                            } else {
                                h
                            }
                        })
                        .to_owned()
                })
        })
        .map(|h| h.to_ascii_lowercase())
}

/// Phase 3 for either model.
fn route(
    upstream: &UpstreamRuntime,
    parts: &request::Parts,
    region: &str,
    account: &str,
) -> Result<Routed, Reject> {
    let path = parts.uri.path();
    match &upstream.model {
        Model::S3(model) => {
            let authority = parts.uri.authority().map(|a| a.as_str());
            let headers = route::s3::with_hoisted_headers(parts.uri.query(), &parts.headers)
                .map_err(route_reject)?;
            let r = model
                .route(&parts.method, authority, path, parts.uri.query(), &headers)
                .map_err(route_reject)?;
            Ok(Routed {
                inspect_body: r.needs_body.is_some(),
                bucket: r.bucket,
                key: r.key,
                operation: r.operation.to_owned(),
                checks: r.checks,
                context: r.context,
                forward_path: r.forward_path,
                copy_source: r.copy_source,
            })
        }
        Model::Routes(table) => {
            let r = table
                .route(&parts.method, path, region, account)
                .map_err(route_reject)?;
            let mut context = Vec::new();
            for (name, value) in &r.params {
                context.push((format!("{}:{name}", table.service()), vec![value.clone()]));
            }
            Ok(Routed {
                checks: vec![Check::new(r.action.clone(), r.resource.clone())],
                operation: r.action,
                context,
                forward_path: path.to_owned(),
                inspect_body: false,
                bucket: None,
                key: None,
                copy_source: None,
            })
        }
    }
}

/// 413, S3's `EntityTooLarge` (the JSON dialect keeps the code).
fn too_large(limit: u64) -> Reject {
    Reject::Invalid {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "EntityTooLarge",
        message: format!("Your proposed upload exceeds the maximum allowed size of {limit} bytes."),
    }
}

fn route_reject(e: route::RouteError) -> Reject {
    Reject::Invalid {
        status: e.status(),
        code: e.code(),
        message: e.to_string(),
    }
}

fn is_streaming(mode: PayloadMode) -> bool {
    matches!(
        mode,
        PayloadMode::StreamingSigned
            | PayloadMode::StreamingSignedTrailer
            | PayloadMode::StreamingUnsignedTrailer
    )
}

/// After the verifier decoded an `aws-chunked` body, the upstream receives a plain one: its
/// length, no chunk encoding, no trailer, and a payload hash that no longer claims a signature.
fn decoded_payload_headers(headers: &mut http::HeaderMap, decoded_length: Option<u64>) {
    if let Some(len) = decoded_length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    let remaining: Option<String> = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        });
    match remaining {
        Some(r) if !r.is_empty() => {
            if let Ok(v) = HeaderValue::from_str(&r) {
                headers.insert(http::header::CONTENT_ENCODING, v);
            }
        }
        _ => {
            headers.remove(http::header::CONTENT_ENCODING);
        }
    }
    headers.remove("x-amz-decoded-content-length");
    headers.remove("x-amz-trailer");
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
}

/// The query without the presigned-URL authentication parameters, which were for the gateway,
/// and with `;` percent-encoded: the gateway split the query on `&` alone, and an upstream that
/// also splits on `;` (as some frameworks do) would read a parameter (`?x=1;acl`) that was never
/// authorised.
fn strip_presign_params(query: Option<&str>) -> Option<String> {
    let query = query?;
    let mut kept = String::with_capacity(query.len());
    let mut first = true;
    // By byte offsets (`&` and `=` are ASCII): run on every signed request's query.
    let mut start = 0;
    while start <= query.len() {
        let end =
            memchr::memchr(b'&', &query.as_bytes()[start..]).map_or(query.len(), |i| start + i);
        let pair = &query[start..end];
        start = end + 1;
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        // Every presigning parameter starts `X-Amz-`: most other names end the test there.
        let presigning = name.len() > 6
            && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-")
            && sigv4::parse::PRESIGN_PARAMS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name));
        if presigning {
            continue;
        }
        if !first {
            kept.push('&');
        }
        if memchr::memchr(b';', pair.as_bytes()).is_some() {
            kept.push_str(&pair.replace(';', "%3B"));
        } else {
            kept.push_str(pair);
        }
        first = false;
    }
    Some(kept)
}

/// Phase 8, for requests refused before a decision: who the caller was (as `decide` names
/// it: an ARN once authenticated), and what the route would have been, for the record.
fn record_rejection(
    gateway: &Gateway,
    seen: Seen<'_>,
    caller: &str,
    reject: &Reject,
    marks: &Marks,
    response: &Response<ProxyBody>,
) {
    let principal = if caller == "anonymous" {
        Some(crate::policy::Principal::anonymous())
    } else if caller.starts_with("arn:") {
        crate::policy::Principal::from_arn(caller).ok()
    } else {
        None
    };
    let account = principal
        .as_ref()
        .and_then(|p| p.account().map(str::to_owned))
        .or_else(|| seen.upstream.owner.clone());
    let routed = route(
        seen.upstream,
        seen.parts,
        &gateway.config.region,
        account.as_deref().unwrap_or(""),
    )
    .ok();
    let seen = Seen {
        principal: principal.as_ref(),
        route: routed.as_ref().map(|r| RouteSeen {
            operation: &r.operation,
            bucket: r.bucket.as_deref(),
            key: r.key.as_deref(),
            context: &r.context,
            checks: &r.checks,
        }),
        ..seen
    };
    gateway.record(&seen, marks, response.status().as_u16(), Some(reject), None);
}

#[cfg(test)]
mod tests {
    use super::strip_presign_params;

    #[test]
    fn presigning_parameters_are_stripped_and_the_rest_kept_in_order() {
        let cases = [
            ("", ""),
            ("a=1&", "a=1&"),
            ("&&b", "&&b"),
            (
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&prefix=a%2Fb&X-Amz-Credential=AK%2F1&x-id=GetObject\
                 &X-Amz-Date=20261128T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host\
                 &X-Amz-Signature=ab12&X-Amz-Security-Token=t",
                "prefix=a%2Fb&x-id=GetObject",
            ),
            // Names compared whatever their case; other `X-Amz-` names kept.
            ("x-amz-signature=1&X-AMZ-DATE=2&X-Amz-Meta-a=3&X-Amz-=4", "X-Amz-Meta-a=3&X-Amz-=4"),
            ("X-Amz-Signature", ""),
            ("uploads&X-Amz-Date=1", "uploads"),
            // `;` never reaches an upstream that would split on it.
            ("x=1;acl", "x=1%3Bacl"),
            (";acl&X-Amz-Date=1&a=;;", "%3Bacl&a=%3B%3B"),
        ];
        for (query, kept) in cases {
            assert_eq!(
                strip_presign_params(Some(query)).as_deref(),
                Some(kept),
                "{query}"
            );
        }
        assert_eq!(strip_presign_params(None), None);
    }
}
