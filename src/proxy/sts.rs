//! The STS endpoint on the gateway's listeners: which requests are STS calls, and serving them.
//!
//! A request is an STS call when its host is one of `[sts] hosts`, its path `[sts] path`, when it
//! is signed for the
//! `sts` service, or when it is an unsigned form POST to `/` (where S3 has no operation), which
//! is how clients send `AssumeRoleWithWebIdentity`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{request, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use jsonwebtoken::jwk::JwkSet;

use super::forward::ProxyBody;
use super::listener::Connection;
use super::pipeline::request_host;
use super::record::StsSeen;
use super::respond::{set_request_id, Dialect};
use super::{now_epoch, Gateway, Model, UpstreamRuntime};
use crate::caller::Caller;
use crate::context::{self, Environment};
use crate::policy::{Context, Principal};
use crate::sigv4::{self, AuthError, RequestHead};
use crate::store::{JwksSource, OidcProvider, Snapshot};
use crate::sts::{Call, Params, Sts, StsError, StsResponse};

/// The largest JWKS document read from a provider.
const JWKS_MAX_BYTES: usize = 1 << 20;

/// Whether a request's credential is scoped to `sts` (read, not verified: the verifier does that).
fn signed_for_sts(parts: &request::Parts) -> bool {
    const SCOPE_END: &[u8] = b"/sts/aws4_request";
    if let Some(auth) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let Some(start) = auth.find("Credential=") else {
            return false;
        };
        let rest = &auth[start + "Credential=".len()..];
        let end = rest
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        return rest.as_bytes()[..end].ends_with(SCOPE_END);
    }
    let Some(raw) = parts.uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Credential="))
    }) else {
        return false;
    };
    // The decoded credential's last bytes, in a ring, without allocating.
    let mut ring = [0u8; SCOPE_END.len()];
    let mut seen = 0usize;
    for byte in percent_encoding::percent_decode_str(raw) {
        ring[seen % SCOPE_END.len()] = byte;
        seen += 1;
    }
    if seen < SCOPE_END.len() {
        return false;
    }
    // The oldest byte sits where the next one would go.
    ring.rotate_left(seen % SCOPE_END.len());
    ring == SCOPE_END
}

fn is_signed(parts: &request::Parts) -> bool {
    parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p.starts_with("X-Amz-Signature=") || p.starts_with("X-Amz-Credential="))
        })
}

fn is_form(parts: &request::Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn xml_response(status: u16, xml: String, request_id: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(xml))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    set_request_id(response.headers_mut(), request_id);
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

/// An authentication error in STS's terms.
fn auth_error(e: &AuthError) -> StsError {
    StsError {
        code: e.code_for(sigv4::CodeFamily::Common),
        status: e.status_for(sigv4::CodeFamily::Common),
        message: e.message_for(sigv4::CodeFamily::Common),
    }
}

impl Gateway {
    /// Whether the request is an STS call (see the module's documentation).
    pub(super) fn is_sts_request(
        &self,
        parts: &request::Parts,
        upstream: &UpstreamRuntime,
    ) -> bool {
        if self.sts.is_none() {
            // Answered with RegionDisabledException rather than sent to an upstream.
            return is_signed(parts) && signed_for_sts(parts);
        }
        if let Some(path) = &self.config.sts.path {
            let requested = parts.uri.path();
            if requested == path || requested.strip_suffix('/') == Some(path.as_str()) {
                return true;
            }
        }
        if !self.config.sts.hosts.is_empty() {
            if let Some(host) = request_host(parts) {
                if self.config.sts.hosts.contains(&host) {
                    return true;
                }
            }
        }
        if is_signed(parts) {
            return signed_for_sts(parts);
        }
        matches!(upstream.model, Model::S3(_))
            && parts.uri.path() == "/"
            && ((parts.method == Method::POST && is_form(parts))
                || parts.uri.query().is_some_and(|q| {
                    q.split('&')
                        .any(|p| p == "Action=AssumeRoleWithWebIdentity")
                }))
    }

    /// Serves one STS call.
    pub(super) async fn serve_sts(
        &self,
        snapshot: &Arc<Snapshot>,
        parts: request::Parts,
        body: Incoming,
        conn: Connection,
        request_id: &str,
        started: Instant,
    ) -> Response<ProxyBody> {
        let Some(sts) = self.sts.as_deref() else {
            let error = StsError {
                code: "RegionDisabledException",
                status: 403,
                message: format!(
                    "STS is not activated in region {} of this gateway ([sts] enabled = false).",
                    self.config.region
                ),
            };
            tracing::info!(target: "iamgate::decision", request_id, error = error.code, "sts rejected");
            return xml_response(error.status, error.to_xml(request_id), request_id);
        };
        let mut who = None;
        let mut params = None;
        let result = self
            .sts_call(sts, snapshot, &parts, body, conn, &mut who, &mut params)
            .await;
        tracing::debug!(
            target: "iamgate::decision",
            request_id,
            principal = who.as_ref().map_or("-", |p: &Principal| p.arn()),
            upstream = "sts",
            operation = result.as_ref().map_or("-", StsResponse::operation),
            error = result.as_ref().err().map_or("-", |e| e.code),
            micros = started.elapsed().as_micros() as u64,
            "sts"
        );
        self.record_sts(
            &StsSeen {
                request_id,
                parts: &parts,
                conn,
                snapshot,
                generation: self.store.generation(),
                principal: who.as_ref(),
                params: params.as_ref(),
                result: result.as_ref(),
            },
            started,
        );
        match result {
            Ok(response) => xml_response(200, response.to_xml(request_id), request_id),
            Err(e) => xml_response(e.status, e.to_xml(request_id), request_id),
        }
    }

    /// Authenticates, reads the parameters and runs the call; says who called (`who`) and what
    /// was asked (`seen_params`) as soon as it knows, for the record.
    #[allow(clippy::too_many_arguments)]
    async fn sts_call(
        &self,
        sts: &Sts,
        snapshot: &Snapshot,
        parts: &request::Parts,
        body: Incoming,
        conn: Connection,
        who: &mut Option<Principal>,
        seen_params: &mut Option<Params>,
    ) -> Result<StsResponse, StsError> {
        let mut head = RequestHead::from_parts(parts);
        if http_body::Body::is_end_stream(&body) {
            head.body_empty = true;
        }
        let auth = match self.verifier.verify(&head) {
            Ok(sigv4::Outcome::Anonymous) => None,
            Ok(sigv4::Outcome::Authenticated(auth)) => Some(auth),
            Err(e) => {
                *seen_params = self.operation_of_refused(parts, body).await;
                return Err(auth_error(&e));
            }
        };
        if let Some(auth) = &auth {
            if auth.scope.service() != "sts" {
                return Err(StsError {
                    code: "SignatureDoesNotMatch",
                    status: 403,
                    message: format!(
                        "Credential should be scoped to correct service: 'sts'. (it is scoped to '{}')",
                        auth.scope.service()
                    ),
                });
            }
        }
        let caller = match &auth {
            None => Caller::Anonymous,
            Some(auth) => {
                let key = &auth.principal;
                Caller::resolve(snapshot, &key.account, &key.owner, key.session.as_ref())
                    .ok_or_else(|| auth_error(&AuthError::InvalidAccessKeyId))?
            }
        };
        *who = Some(caller.principal().into_owned());

        // The parameters: the query's, then a form body's (read whole, bounded, verified).
        let mut params = Params::parse(parts.uri.query().unwrap_or("").as_bytes());
        if parts.method == Method::POST {
            let bytes = self
                .read_small_body(body, auth.as_deref())
                .await
                .map_err(|reject| StsError {
                    code: reject.code(Dialect::Json),
                    status: reject.status(Dialect::Json).as_u16(),
                    message: reject.message(Dialect::Json),
                })?;
            if is_form(parts) {
                params.extend(&bytes);
            }
        }
        *seen_params = Some(params.clone());
        if let Some(version) = params.get("Version") {
            if version != crate::sts::actions::VERSION {
                return Err(StsError {
                    code: "InvalidAction",
                    status: 400,
                    message: format!(
                        "Could not find operation {} for version {version}",
                        params.get("Action").unwrap_or("")
                    ),
                });
            }
        }

        let now = now_epoch();
        let mut environment = Context::new();
        let source_ip =
            context::source_ip(conn.peer.ip(), &parts.headers, &self.config.trusted_proxies);
        context::add_environment(
            &mut environment,
            &Environment {
                source_ip,
                secure: conn.secure,
                now,
                region: &self.config.region,
            },
            &parts.headers,
        );
        let call = Call {
            snapshot,
            environment: &environment,
            now,
        };
        let action = params.get("Action").unwrap_or("").to_owned();
        if matches!(caller, Caller::Anonymous) && action != "AssumeRoleWithWebIdentity" {
            return Err(StsError {
                code: "MissingAuthenticationToken",
                status: 403,
                message: "Request is missing Authentication Token".into(),
            });
        }
        let response = match action.as_str() {
            "GetCallerIdentity" => sts.get_caller_identity(&caller),
            "GetSessionToken" => sts.get_session_token(&call, &caller, &params),
            "AssumeRole" => sts.assume_role(&call, &caller, &params),
            "AssumeRoleWithWebIdentity" => {
                let (provider, head) = sts.web_identity_provider(snapshot, &params)?;
                let keys = self
                    .provider_keys(sts, provider, head.key_id.as_deref(), conn.worker)
                    .await?;
                sts.assume_role_with_web_identity(&call, &params, provider, &keys)
            }
            "" => Err(StsError {
                code: "MissingAction",
                status: 400,
                message: "Missing Action".into(),
            }),
            other => Err(StsError {
                code: "InvalidAction",
                status: 400,
                message: format!(
                    "Could not find operation {other} for version {}",
                    crate::sts::actions::VERSION
                ),
            }),
        };
        response
    }

    /// The operation a request refused before authentication asks for, so that its record names
    /// it: `Action` from the query, or from a form body (read up to the inspection limit, and
    /// not trusted beyond naming one of the operations the gateway answers).
    async fn operation_of_refused(&self, parts: &request::Parts, body: Incoming) -> Option<Params> {
        const OPERATIONS: [&str; 4] = [
            "AssumeRole",
            "AssumeRoleWithWebIdentity",
            "GetCallerIdentity",
            "GetSessionToken",
        ];
        let mut params = Params::parse(parts.uri.query().unwrap_or("").as_bytes());
        if params.get("Action").is_none() && parts.method == Method::POST && is_form(parts) {
            if let Ok(bytes) = self.read_small_body(body, None).await {
                params.extend(&bytes);
            }
        }
        let action = params.get("Action").filter(|a| OPERATIONS.contains(a))?;
        Some(Params::parse(format!("Action={action}").as_bytes()))
    }

    /// A provider's signing keys: from the store, or fetched from its URL (cached, refreshed).
    async fn provider_keys(
        &self,
        sts: &Sts,
        provider: &OidcProvider,
        kid: Option<&str>,
        worker: usize,
    ) -> Result<Arc<JwkSet>, StsError> {
        let url = match &provider.keys {
            JwksSource::Static(set) => return Ok(Arc::clone(set)),
            JwksSource::Url(url) => url,
        };
        let cache = sts.jwks_cache();
        if let Some(set) = cache.fresh(url, kid) {
            return Ok(set);
        }
        match self.fetch_jwks(url, worker).await {
            Ok(set) => Ok(cache.store(url, set)),
            Err(why) => {
                tracing::warn!(provider = %provider.arn, url = %url, "cannot fetch the provider's keys: {why}");
                cache.stale(url).ok_or_else(|| StsError {
                    code: "IDPCommunicationError",
                    status: 400,
                    message: format!(
                        "Couldn't retrieve verification key from your identity provider: {why}"
                    ),
                })
            }
        }
    }

    async fn fetch_jwks(&self, url: &str, worker: usize) -> Result<JwkSet, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
        let mut request = Request::new(
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed(),
        );
        *request.uri_mut() = uri;
        request.headers_mut().insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let response = self
            .forwarder(worker)
            .send(request)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > JWKS_MAX_BYTES {
                    return Err("the key set is larger than 1 MiB".into());
                }
                bytes.extend_from_slice(&data);
            }
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("not a JSON Web Key Set: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, authorization: Option<&str>) -> request::Parts {
        let mut builder = http::Request::builder().uri(uri);
        if let Some(a) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, a);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn credential_scoped_to_sts() {
        let header = |service: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00")
        };
        assert!(signed_for_sts(&parts("/", Some(&header("sts")))));
        assert!(!signed_for_sts(&parts("/", Some(&header("s3")))));
        assert!(!signed_for_sts(&parts("/", Some(&header("xsts")))));
        for (query, sts) in [
            (
                "X-Amz-Credential=AKID%2F20261128%2Fus-east-1%2Fsts%2Faws4_request",
                true,
            ),
            (
                "a=b&X-Amz-Credential=AKID%2f20261128%2fus-east-1%2fsts%2faws4_request",
                true,
            ),
            (
                "X-Amz-Credential=AKID/20261128/us-east-1/sts/aws4_request",
                true,
            ),
            (
                "X-Amz-Credential=AKID%2F20261128%2Fus-east-1%2Fs3%2Faws4_request",
                false,
            ),
            ("X-Amz-Credential=sts%2Faws4_request", false),
            ("X-Amz-Credential=%2Fsts%2Faws4_request", true),
            ("X-Amz-Credential=%2Fsts%2Faws4_requesT", false),
            ("X-Amz-Credential=a%2Fsts%2Faws4_request%2F", false),
            ("X-Amz-Credential=", false),
            ("Action=GetCallerIdentity", false),
        ] {
            assert_eq!(
                signed_for_sts(&parts(&format!("/?{query}"), None)),
                sts,
                "{query}"
            );
        }
    }
}
