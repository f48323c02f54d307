//! STS, served by the gateway itself: `GetCallerIdentity`, `GetSessionToken`, `AssumeRole`
//! and `AssumeRoleWithWebIdentity` in AWS's query protocol.
//!
//! A request is an STS call when it is signed for the `sts` service, when its host is one of
//! `[sts] hosts` or its path `[sts] path`, or when it is an unsigned form POST to `/` of an S3
//! upstream (where S3 has no operation), which is how clients send
//! `AssumeRoleWithWebIdentity`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{request, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{json, Map, Value};

use super::exchange::{Exchange, RouteSeen, ServedRecord};
use super::forward::ProxyBody;
use super::front::request_host;
use super::respond::{set_request_id, Dialect, Reject};
use super::service::{Arriving, Front, Noting, Service, Serving};
use super::{now_epoch, Gateway};
use crate::audit::{self, Redactor, ResourceRef};
use crate::caller::Caller;
use crate::policy::Context;
use crate::sigv4::AuthError;
use crate::store::{JwksSource, OidcProvider};
use crate::sts::{Call, Params, Sts, StsError, StsResponse};

/// The largest JWKS document read from a provider.
const JWKS_MAX_BYTES: usize = 1 << 20;

/// The operations the gateway answers; a refused request's record names one of these or none.
const OPERATIONS: [&str; 4] = [
    "AssumeRole",
    "AssumeRoleWithWebIdentity",
    "GetCallerIdentity",
    "GetSessionToken",
];

/// The parameters of an STS call that CloudTrail records; never `TokenCode` nor
/// `WebIdentityToken`, which are credentials.
const LOGGED_PARAMS: [(&str, &str); 7] = [
    ("RoleArn", "roleArn"),
    ("RoleSessionName", "roleSessionName"),
    ("DurationSeconds", "durationSeconds"),
    ("SerialNumber", "serialNumber"),
    ("ExternalId", "externalId"),
    ("SourceIdentity", "sourceIdentity"),
    ("ProviderId", "providerId"),
];

/// The STS service; `sts` is `None` when `[sts] enabled = false`, and then every call signed
/// for STS is answered `RegionDisabledException`.
pub(crate) struct StsService {
    pub(crate) sts: Option<Arc<Sts>>,
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

fn xml_response(xml: String, request_id: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(xml))
            .map_err(|never| match never {})
            .boxed(),
    );
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    set_request_id(response.headers_mut(), request_id);
    response
}

impl From<StsError> for Reject {
    fn from(e: StsError) -> Reject {
        Reject::Invalid {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            code: e.code,
            message: e.message,
        }
    }
}

/// The action a request names, if it is one of the operations (for the record).
fn operation(params: &Params) -> Option<&str> {
    params.get("Action").filter(|a| OPERATIONS.contains(a))
}

impl Service for StsService {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn dialect(&self) -> Dialect {
        Dialect::QueryXml
    }

    fn allows_anonymous(&self) -> bool {
        true
    }

    fn claims(&self, request: &Arriving<'_>) -> bool {
        let parts = request.parts;
        if let Some(claim) = request.claim {
            return claim.scoped_to("sts");
        }
        if self.sts.is_none() {
            return false;
        }
        let config = &request.gateway.config.sts;
        if let Some(path) = &config.path {
            let requested = parts.uri.path();
            if requested == path || requested.strip_suffix('/') == Some(path.as_str()) {
                return true;
            }
        }
        if request_host(parts).is_some_and(|host| config.hosts.contains(&host)) {
            return true;
        }
        request.upstream.model.service() == "s3"
            && parts.uri.path() == "/"
            && ((parts.method == Method::POST && is_form(parts))
                || parts.uri.query().is_some_and(|q| {
                    crate::query::raw_pairs(q).any(|p| p == ("Action", "AssumeRoleWithWebIdentity"))
                }))
    }

    fn serve<'a>(
        &'a self,
        gateway: &'a Gateway,
        x: &'a mut Exchange<'_>,
        parts: request::Parts,
        body: Incoming,
        front: Front,
    ) -> Serving<'a> {
        Box::pin(async move {
            let Some(sts) = self.sts.as_deref() else {
                return Err(Reject::Invalid {
                    status: StatusCode::FORBIDDEN,
                    code: "RegionDisabledException",
                    message: format!(
                        "STS is not activated in region {} of this gateway ([sts] enabled = false).",
                        gateway.config.region
                    ),
                });
            };
            // The parameters: the query's, then a form body's (read whole, bounded, verified).
            let mut params = Params::parse(parts.uri.query().unwrap_or("").as_bytes());
            if parts.method == Method::POST {
                let bytes = gateway.read_small_body(body, front.auth.as_deref()).await?;
                if is_form(&parts) {
                    params.extend(&bytes);
                }
            }
            x.route = Some(RouteSeen {
                operation: operation(&params).unwrap_or("unknown").to_owned(),
                ..RouteSeen::default()
            });
            let result = call(gateway, sts, x, &parts, &params, &front.caller).await;
            if x.logging() {
                x.served = Some(served_record(&parts, &params, result.as_ref().ok()));
            }
            let response = result?;
            Ok(xml_response(response.to_xml(&x.request_id), &x.request_id))
        })
    }

    fn note_refused<'a>(
        &'a self,
        gateway: &'a Gateway,
        x: &'a mut Exchange<'_>,
        parts: &'a request::Parts,
        body: Incoming,
    ) -> Noting<'a> {
        Box::pin(async move {
            let mut params = Params::parse(parts.uri.query().unwrap_or("").as_bytes());
            if params.get("Action").is_none() && parts.method == Method::POST && is_form(parts) {
                if let Ok(bytes) = gateway.read_small_body(body, None).await {
                    params.extend(&bytes);
                }
            }
            if let Some(action) = operation(&params) {
                x.route = Some(RouteSeen {
                    operation: action.to_owned(),
                    ..RouteSeen::default()
                });
            }
        })
    }
}

/// Runs one call for an authenticated (or anonymous) caller.
async fn call(
    gateway: &Gateway,
    sts: &Sts,
    x: &Exchange<'_>,
    parts: &request::Parts,
    params: &Params,
    caller: &Caller,
) -> Result<StsResponse, Reject> {
    if let Some(version) = params.get("Version") {
        if version != crate::sts::actions::VERSION {
            return Err(Reject::Invalid {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidAction",
                message: format!(
                    "Could not find operation {} for version {version}",
                    params.get("Action").unwrap_or("")
                ),
            });
        }
    }
    let now = now_epoch();
    // The environment's keys alone: each call adds the context of whoever it evaluates for.
    let mut environment = Context::new();
    gateway.add_environment(&mut environment, parts, x.conn, now);
    let call = Call {
        snapshot: &x.snapshot,
        environment: &environment,
        now,
        caller,
        params,
    };
    let action = params.get("Action").unwrap_or("");
    if matches!(caller, Caller::Anonymous) && action != "AssumeRoleWithWebIdentity" {
        return Err(Reject::Auth(AuthError::MissingAuthenticationToken));
    }
    let response = match action {
        "GetCallerIdentity" => sts.get_caller_identity(caller),
        "GetSessionToken" => sts.get_session_token(&call),
        "AssumeRole" => sts.assume_role(&call),
        "AssumeRoleWithWebIdentity" => {
            let (provider, head) = sts.web_identity_provider(&x.snapshot, params)?;
            let keys = provider_keys(
                gateway,
                sts,
                provider,
                head.key_id.as_deref(),
                x.conn.worker,
            )
            .await?;
            sts.assume_role_with_web_identity(&call, provider, &keys)
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
    Ok(response?)
}

/// What CloudTrail records of an STS call: its parameters (never a credential), the
/// credentials' key id and expiry and the assumed role, the role as resource.
fn served_record(
    parts: &request::Parts,
    params: &Params,
    response: Option<&StsResponse>,
) -> ServedRecord {
    let redactor = Redactor::of(&parts.headers, parts.uri.query());
    let mut request_parameters = Map::new();
    for (name, key) in LOGGED_PARAMS {
        if let Some(v) = params.get(name) {
            let value = match v.parse::<i64>() {
                Ok(n) if name == "DurationSeconds" => json!(n),
                _ => Value::String(redactor.scrub_free_text(&audit::truncate(v, 2048))),
            };
            request_parameters.insert(key.to_owned(), value);
        }
    }
    let credentials = |c: &crate::sts::actions::Credentials| {
        json!({
            "accessKeyId": c.access_key_id,
            "expiration": crate::context::iso8601(c.expiration),
        })
    };
    let response_elements = match response {
        Some(StsResponse::AssumeRole(s)) | Some(StsResponse::AssumeRoleWithWebIdentity(s, _)) => {
            let mut m = Map::new();
            m.insert("credentials".into(), credentials(&s.credentials));
            m.insert(
                "assumedRoleUser".into(),
                json!({"assumedRoleId": s.assumed_role_id, "arn": s.arn}),
            );
            if let Some(size) = s.packed_policy_size {
                m.insert("packedPolicySize".into(), json!(size));
            }
            Some(m)
        }
        Some(StsResponse::GetSessionToken(c)) => {
            let mut m = Map::new();
            m.insert("credentials".into(), credentials(c));
            Some(m)
        }
        Some(StsResponse::GetCallerIdentity { .. }) | None => None,
    };
    ServedRecord {
        request_parameters,
        response_elements,
        resources: params
            .get("RoleArn")
            .filter(|arn| arn.starts_with("arn:"))
            .map(|arn| {
                vec![ResourceRef {
                    account_id: arn.split(':').nth(4).map(str::to_owned),
                    kind: "AWS::IAM::Role".into(),
                    arn: redactor.scrub(arn),
                }]
            })
            .unwrap_or_default(),
        read_only: params.get("Action") == Some("GetCallerIdentity"),
    }
}

/// A provider's signing keys: from the store, or fetched from its URL (cached, refreshed).
async fn provider_keys(
    gateway: &Gateway,
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
    match fetch_jwks(gateway, url, worker).await {
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

async fn fetch_jwks(gateway: &Gateway, url: &str, worker: usize) -> Result<JwkSet, String> {
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
    let response = gateway
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
