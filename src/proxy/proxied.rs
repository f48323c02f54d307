//! A proxied upstream's phases, after the front door: **route** (the model's actions and
//! resources), **inspect** a body the model must read, add the route's **context**,
//! **evaluate** every check against the request's snapshot, then **forward**, streaming both
//! ways, or **refuse**. Whatever the model (S3, a route table), these phases are the same:
//! what differs is behind [`Model`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::{request, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::exchange::{Exchange, RouteSeen};
use super::forward::{self, IdentityHeaders, ProxyBody};
use super::front::too_large;
use super::listener::Connection;
use super::model::{Merge, Routed, Split};
use super::respond::{set_request_id, Denial, DenyReason, Reject};
use super::service::Front;
use super::{Destination, Gateway, KeyPrincipal, UpstreamRuntime};
use crate::caller::Caller;
use crate::context;
use crate::policy::{self, Action, Context, Decision, Outcome, Policies, Request as PolicyRequest};
use crate::route::Check;
use crate::sigv4::{self, AuthError, Authenticated, PayloadMode};
use crate::store::Snapshot;

/// Where a forwarded request's body reports how it went: a failed verification, and its size
/// against the limit.
struct BodyReports {
    error: Arc<Mutex<Option<AuthError>>>,
    watch: Arc<forward::BodyWatch>,
    limit: u64,
}

/// A decided request: everything forwarding needs.
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
    /// Serves a request to a proxied upstream, from routing to the upstream's answer.
    pub(super) async fn proxy<'g>(
        &'g self,
        x: &mut Exchange<'g>,
        upstream: &'g UpstreamRuntime,
        parts: request::Parts,
        body: Incoming,
        front: Front,
    ) -> Response<ProxyBody> {
        let mut body = Some(body);
        let decided = match self.decide(x, upstream, &parts, &mut body, front).await {
            Ok(decided) => decided,
            Err(reject) => {
                let response = self.refuse(x, reject);
                Box::pin(self.drain(body, expects_continue(&parts))).await;
                return response;
            }
        };
        let outcome = overall(&decided.decisions);
        x.outcome = Some(outcome);
        if x.logging() {
            x.decisions = decided.decisions.clone();
        }
        self.respond(
            x,
            upstream,
            parts,
            decided,
            body,
            outcome != Outcome::Allowed,
        )
        .await
    }

    /// Routing, inspection, context and evaluation.
    async fn decide(
        &self,
        x: &mut Exchange<'_>,
        upstream: &UpstreamRuntime,
        parts: &request::Parts,
        body: &mut Option<Incoming>,
        front: Front,
    ) -> Result<Decided, Reject> {
        let Front {
            auth,
            caller,
            mut context,
        } = front;
        let model = upstream.model.as_ref();

        // route
        let principal = caller.principal();
        let account = principal.account().or(upstream.owner.as_deref());
        let mut routed = model.route(parts, &self.config.region, account.unwrap_or(""))?;
        x.marks.routed = Some(Instant::now());
        x.route = Some(self.route_seen(x, &routed));

        // inspect a body the model must read before it can say what is asked, or whose
        // signature can only be checked at its end (services that send no payload hash):
        // nothing reaches the upstream before the caller is proven.
        let deferred = auth.as_ref().is_some_and(|a| !a.signature_verified);
        let mut inspected = None;
        if deferred || routed.inspect_body {
            let incoming = body.take().ok_or(Reject::AccessDenied)?;
            let bytes = Box::pin(self.read_small_body(incoming, auth.as_deref())).await?;
            if routed.inspect_body {
                model.inspect(&mut routed, &bytes)?;
            }
            inspected = Some(bytes);
        }
        x.marks.inspected = Some(Instant::now());

        // contextualise: the route's keys, then the model's from the signature
        for (key, values) in &routed.context {
            context.insert_values(key, values.clone());
        }
        if let Some(auth) = &auth {
            model.signed_context(&mut context, auth, &parts.headers);
        }

        // evaluate every check
        let caller_policies = caller.policies(&x.snapshot);
        // The checks move into the decisions: the record reads them from there.
        let decisions: Vec<(Check, Decision)> = std::mem::take(&mut routed.checks)
            .into_iter()
            .map(|check| {
                let decision = decide_check(
                    &x.snapshot,
                    upstream,
                    &principal,
                    &caller_policies,
                    &context,
                    &check,
                );
                (check, decision)
            })
            .collect();
        x.marks.evaluated = Some(Instant::now());
        Ok(Decided {
            caller,
            auth,
            routed,
            inspected,
            decisions,
            context,
        })
    }

    /// What the record keeps of a route: the operation always, the rest when the log is on.
    fn route_seen(&self, x: &Exchange<'_>, routed: &Routed) -> RouteSeen {
        let mut seen = RouteSeen {
            operation: routed.operation.clone(),
            ..RouteSeen::default()
        };
        if x.logging() {
            seen.bucket = routed.bucket.clone();
            seen.key = routed.key.clone();
            seen.context = routed.context.clone();
        }
        seen
    }

    /// For a request refused before routing: its route, for the record, as the model reads
    /// it with the caller's account (or the upstream owner's).
    pub(super) fn note_route(
        &self,
        x: &mut Exchange<'_>,
        upstream: &UpstreamRuntime,
        parts: &request::Parts,
    ) {
        let account = x
            .principal
            .as_ref()
            .and_then(|p| p.account().map(str::to_owned))
            .or_else(|| upstream.owner.clone());
        if let Ok(routed) =
            upstream
                .model
                .route(parts, &self.config.region, account.as_deref().unwrap_or(""))
        {
            let mut seen = self.route_seen(x, &routed);
            seen.checks = routed.checks;
            x.route = Some(seen);
        }
    }

    /// Forward a decided request (dry run included), or refuse it.
    async fn respond(
        &self,
        x: &mut Exchange<'_>,
        upstream: &UpstreamRuntime,
        parts: request::Parts,
        mut decided: Decided,
        body: Option<Incoming>,
        denied: bool,
    ) -> Response<ProxyBody> {
        // A body decided part by part is answered part by part, not refused whole. Boxed, as
        // every rare path is: the handler's future is as large as its largest state.
        if let (Some(plan), false) = (decided.routed.plan.take(), upstream.dry_run) {
            return Box::pin(self.respond_in_parts(x, upstream, parts, decided, plan)).await;
        }
        if denied && !upstream.dry_run {
            Box::pin(self.drain(body, expects_continue(&parts))).await;
            let reject = denial(&x.snapshot, upstream, &decided);
            return self.refuse(x, reject);
        }
        let method = parts.method.clone();
        let sent = Instant::now();
        let response = self
            .forward(upstream, parts, x.conn, &mut decided, body, &x.request_id)
            .await;
        x.marks.upstream = Some(sent.elapsed());
        match response {
            Ok(response) if response.status() == StatusCode::NOT_FOUND => {
                let refused = upstream
                    .model
                    .when_not_found(&decided.routed, &method)
                    .is_some_and(|check| {
                        let decision = decide_check(
                            &x.snapshot,
                            upstream,
                            &decided.caller.principal(),
                            &decided.caller.policies(&x.snapshot),
                            &decided.context,
                            &check,
                        );
                        let allowed = decision.is_allowed();
                        // The record shows the decision the answer rests on.
                        if x.logging() {
                            x.decisions.push((check, decision));
                        }
                        if !allowed && x.outcome == Some(Outcome::Allowed) {
                            x.outcome = Some(Outcome::ImplicitDeny);
                        }
                        !allowed
                    });
                if refused {
                    self.refuse(x, Reject::AccessDenied)
                } else {
                    let mut response = response;
                    set_request_id(response.headers_mut(), &x.request_id);
                    response
                }
            }
            Ok(mut response) => {
                set_request_id(response.headers_mut(), &x.request_id);
                response
            }
            Err(reject) => {
                tracing::warn!(request_id = %x.request_id, upstream = %upstream.name, "{reject}");
                self.refuse(x, reject)
            }
        }
    }

    /// A request whose body was decided part by part ([`super::model::BodyPlan`]): the
    /// allowed parts go upstream, the answer is completed with the refused ones.
    async fn respond_in_parts(
        &self,
        x: &mut Exchange<'_>,
        upstream: &UpstreamRuntime,
        mut parts: request::Parts,
        mut decided: Decided,
        plan: Box<dyn super::model::BodyPlan>,
    ) -> Response<ProxyBody> {
        let merge = match plan.split(&decided.decisions, &mut parts.headers) {
            Split::Answer(answer) => return xml_response(StatusCode::OK, answer, &x.request_id),
            Split::Forward { body, merge } => {
                decided.inspected = Some(body);
                merge
            }
        };
        let sent = Instant::now();
        let forwarded = self
            .forward(upstream, parts, x.conn, &mut decided, None, &x.request_id)
            .await;
        x.marks.upstream = Some(sent.elapsed());
        match (forwarded, merge) {
            (Ok(response), Some(merge)) if response.status() == StatusCode::OK => {
                match merged(response, merge, &x.request_id).await {
                    Ok(response) => response,
                    Err(reject) => self.refuse(x, reject),
                }
            }
            (Ok(response), _) => response,
            (Err(reject), _) => self.refuse(x, reject),
        }
    }

    /// The proxy core alone: route and forward, no authentication, no decision (see
    /// `passthrough` in the configuration: for measuring what checking costs).
    pub(super) async fn pass_through<'g>(
        &'g self,
        x: &mut Exchange<'g>,
        upstream: &'g UpstreamRuntime,
        parts: request::Parts,
        body: Incoming,
    ) -> Response<ProxyBody> {
        let account = upstream.owner.clone().unwrap_or_default();
        let routed = match upstream.model.route(&parts, &self.config.region, &account) {
            Ok(routed) => routed,
            Err(reject) => return self.refuse(x, reject),
        };
        let mut decided = Decided {
            caller: Caller::Anonymous,
            auth: None,
            routed,
            inspected: None,
            decisions: Vec::new(),
            context: Context::default(),
        };
        let forwarded = self
            .forward(
                upstream,
                parts,
                x.conn,
                &mut decided,
                Some(body),
                &x.request_id,
            )
            .await;
        match forwarded {
            Ok(mut response) => {
                set_request_id(response.headers_mut(), &x.request_id);
                response
            }
            Err(reject) => self.refuse(x, reject),
        }
    }

    /// Reads and discards the body of a refused request (up to a limit), so that a client still
    /// sending it reads the refusal instead of a reset connection. A client that sent
    /// `Expect: 100-continue` is waiting for permission to send its body: reading the body would
    /// make hyper grant it, so the body is dropped unread instead (hyper then answers without
    /// `100 Continue` and closes the connection rather than read a body it never asked for).
    pub(super) async fn drain(&self, body: Option<Incoming>, expects_continue: bool) {
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
        for (name, value) in &routed.replace_headers {
            let value = HeaderValue::from_str(value).map_err(|_| Reject::Invalid {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidArgument",
                message: format!("{name} could not be forwarded."),
            })?;
            headers.insert(name.clone(), value);
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
pub(super) fn expects_continue(parts: &request::Parts) -> bool {
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

/// The overall outcome of a request's checks: an explicit deny anywhere wins, then an
/// implicit one.
pub(crate) fn overall(decisions: &[(Check, Decision)]) -> Outcome {
    let mut outcome = Outcome::Allowed;
    for (_, d) in decisions {
        match d.outcome {
            Outcome::ExplicitDeny => return Outcome::ExplicitDeny,
            Outcome::ImplicitDeny => outcome = Outcome::ImplicitDeny,
            Outcome::Allowed => {}
        }
    }
    outcome
}

/// A 200 XML answer of the gateway's own.
fn xml_response(status: StatusCode, body: Bytes, request_id: &str) -> Response<ProxyBody> {
    let mut response = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    set_request_id(response.headers_mut(), request_id);
    response
}

/// The upstream's answer completed by `merge` (read whole: it is small, a list of keys).
async fn merged(
    response: Response<ProxyBody>,
    merge: Merge,
    request_id: &str,
) -> Result<Response<ProxyBody>, Reject> {
    let (head, body) = response.into_parts();
    let collected = collect_limited(body, 16 * 1024 * 1024)
        .await
        .map_err(|e| Reject::Upstream(forward::UpstreamError::Unavailable(e)))?;
    let merged = merge(&collected).unwrap_or(collected);
    let mut response = xml_response(head.status, merged, request_id);
    for (name, value) in head.headers.iter() {
        if name != CONTENT_LENGTH && name != http::header::CONTENT_TYPE {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    set_request_id(response.headers_mut(), request_id);
    Ok(response)
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
