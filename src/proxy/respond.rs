//! Rejections: the AWS error a client expects, S3's XML or the JSON of other services, with the
//! request id that the decision log line also carries.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};

use super::forward::{ProxyBody, UpstreamError};
use crate::ids::splitmix;
use crate::policy::Source;
use crate::sigv4::{AuthError, CodeFamily};

/// The protocol an error is answered in: the one the client's SDK parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Amazon S3 (`rest-xml`): `<Error><Code/><Message/><RequestId/></Error>`.
    S3Xml,
    /// The JSON protocols (`json`, `rest-json`): `{"__type": "...", "message": "..."}`.
    Json,
    /// The query protocol (IAM, STS, SNS, ...): `<ErrorResponse><Error><Type/><Code/>
    /// <Message/></Error><RequestId/></ErrorResponse>`.
    QueryXml,
    /// EC2's: `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
    Ec2Xml,
}

impl Dialect {
    /// Which family of AWS error codes the protocol's services answer with.
    pub fn codes(self) -> CodeFamily {
        match self {
            Dialect::S3Xml => CodeFamily::S3,
            Dialect::Json | Dialect::QueryXml | Dialect::Ec2Xml => CodeFamily::Common,
        }
    }
}

/// Why a request does not reach its upstream.
#[derive(Debug, thiserror::Error)]
pub enum Reject {
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The policies do not allow it (the gateway's own refusals, with S3's "Access Denied").
    #[error("access denied")]
    AccessDenied,
    /// The policies do not allow it, and why: the message names the caller, the action and the
    /// resource, as AWS's do.
    #[error("access denied: {0}")]
    Denied(Box<Denial>),
    /// The request is not one the upstream's model knows: status, code, message.
    #[error("{code}: {message}")]
    Invalid {
        /// HTTP status.
        status: StatusCode,
        /// AWS error code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// The upstream failed (the gateway's own body).
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The caller is over its request rate (`[limits] principal_rate`).
    #[error("request rate exceeded")]
    Throttled,
}

impl From<crate::route::RouteError> for Reject {
    fn from(e: crate::route::RouteError) -> Reject {
        Reject::Invalid {
            status: e.status(),
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl Reject {
    /// The answer to a request that went past the total request timeout (504).
    pub fn timed_out() -> Reject {
        Reject::Invalid {
            status: StatusCode::GATEWAY_TIMEOUT,
            code: "RequestTimeout",
            message: "The request took longer than the gateway allows for one request.".into(),
        }
    }
}

/// How AWS's access-denied messages name a kind of policy: with its article, and bare.
fn policy_names(source: Source) -> (&'static str, &'static str) {
    match source {
        Source::Identity => ("an identity-based policy", "identity-based policy"),
        Source::Boundary => ("a permissions boundary", "permissions boundary"),
        Source::Session => ("a session policy", "session policy"),
        Source::Resource => ("a resource-based policy", "resource-based policy"),
    }
}

/// Why a refused check was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No policy of this kind allows the action (the first one missing on the way to an allow).
    NoAllow(Source),
    /// A deny statement in a policy of this kind applies.
    ExplicitDeny(Source),
}

/// A refused check, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The caller's ARN.
    pub caller: String,
    /// The action refused (`orders:GetOrder`).
    pub action: String,
    /// The resource's ARN, or `*`.
    pub resource: String,
    /// Why.
    pub reason: DenyReason,
    /// Whether the caller belongs to the resource's account: S3 explains its refusals to those
    /// callers only, and answers "Access Denied" to the others.
    pub same_account: bool,
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write(f, false)
    }
}

impl Denial {
    /// `User: ARN is not authorized to perform: ACTION on resource: ARN because no
    /// identity-based policy allows the ACTION action` (S3 quotes the resource).
    fn write(&self, out: &mut impl std::fmt::Write, quote_resource: bool) -> std::fmt::Result {
        write!(
            out,
            "User: {} is not authorized to perform: {}",
            self.caller, self.action
        )?;
        if self.resource != "*" {
            if quote_resource {
                write!(out, " on resource: \"{}\"", self.resource)?;
            } else {
                write!(out, " on resource: {}", self.resource)?;
            }
        }
        match self.reason {
            DenyReason::NoAllow(kind) => write!(
                out,
                " because no {} allows the {} action",
                policy_names(kind).1,
                self.action
            ),
            DenyReason::ExplicitDeny(kind) => {
                write!(out, " with an explicit deny in {}", policy_names(kind).0)
            }
        }
    }

    /// The message in a dialect.
    pub fn message(&self, dialect: Dialect) -> String {
        let mut out = String::with_capacity(200);
        let _ = self.write(&mut out, dialect == Dialect::S3Xml);
        out
    }
}

impl Reject {
    /// The AWS error code (or the gateway's, for upstream failures).
    pub fn code(&self, dialect: Dialect) -> &'static str {
        match self {
            Reject::Auth(e) => e.code_for(dialect.codes()),
            Reject::AccessDenied | Reject::Denied(_) if dialect == Dialect::Json => {
                "AccessDeniedException"
            }
            Reject::AccessDenied | Reject::Denied(_) => "AccessDenied",
            Reject::Invalid { code, .. } => code,
            Reject::Upstream(UpstreamError::Timeout) => "GatewayTimeout",
            Reject::Upstream(UpstreamError::Unavailable(_)) => "BadGateway",
            Reject::Throttled if dialect == Dialect::Json => "ThrottlingException",
            Reject::Throttled if dialect == Dialect::S3Xml => "SlowDown",
            Reject::Throttled => "Throttling",
        }
    }

    /// The message sent to the client.
    pub fn message(&self, dialect: Dialect) -> String {
        match self {
            Reject::Auth(e) => e.message_for(dialect.codes()),
            Reject::AccessDenied if dialect != Dialect::S3Xml => {
                "User is not authorized to perform this action".into()
            }
            Reject::AccessDenied => "Access Denied".into(),
            Reject::Denied(d) if dialect != Dialect::S3Xml || d.same_account => d.message(dialect),
            Reject::Denied(_) => "Access Denied".into(),
            Reject::Invalid { message, .. } => message.clone(),
            Reject::Upstream(UpstreamError::Timeout) => {
                "The upstream service did not answer in time.".into()
            }
            // The detail (addresses, errors) goes to the log, not to the client.
            Reject::Upstream(UpstreamError::Unavailable(_)) => {
                "The upstream service is unavailable.".into()
            }
            Reject::Throttled if dialect == Dialect::S3Xml => {
                "Please reduce your request rate.".into()
            }
            Reject::Throttled => "Rate exceeded".into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self, dialect: Dialect) -> StatusCode {
        match self {
            Reject::Auth(e) => {
                StatusCode::from_u16(e.status_for(dialect.codes())).unwrap_or(StatusCode::FORBIDDEN)
            }
            Reject::AccessDenied | Reject::Denied(_) => StatusCode::FORBIDDEN,
            Reject::Invalid { status, .. } => *status,
            Reject::Upstream(e) => e.status(),
            Reject::Throttled if dialect == Dialect::S3Xml => StatusCode::SERVICE_UNAVAILABLE,
            Reject::Throttled => StatusCode::BAD_REQUEST,
        }
    }

    /// The error as the protocol writes it: status, content type and body.
    pub fn to_body(
        &self,
        dialect: Dialect,
        request_id: &str,
    ) -> (StatusCode, &'static str, String) {
        let status = self.status(dialect);
        let code = self.code(dialect);
        let message = self.message(dialect);
        let (content_type, body) = match (self, dialect) {
            (Reject::Upstream(_), _) => (
                "application/json",
                serde_json::json!({"error": code, "message": message, "requestId": request_id})
                    .to_string(),
            ),
            (Reject::Auth(e), Dialect::S3Xml) => (
                "application/xml",
                s3_error_xml_with(code, &message, &e.details(dialect.codes()), request_id),
            ),
            (_, Dialect::S3Xml) => ("application/xml", s3_error_xml(code, &message, request_id)),
            (_, Dialect::Json) => (
                "application/x-amz-json-1.1",
                serde_json::json!({"__type": code, "message": message}).to_string(),
            ),
            (_, Dialect::QueryXml) => {
                let kind = if status.is_server_error() {
                    "Receiver"
                } else {
                    "Sender"
                };
                (
                    "text/xml",
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                        xml_escape(code),
                        xml_escape(&message),
                        xml_escape(request_id)
                    ),
                )
            }
            (_, Dialect::Ec2Xml) => (
                "text/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>",
                    xml_escape(code),
                    xml_escape(&message),
                    xml_escape(request_id)
                ),
            ),
        };
        (status, content_type, body)
    }

    /// The response. A `HEAD` request gets the status and headers only, as S3 answers it.
    pub fn render(
        &self,
        dialect: Dialect,
        request_id: &str,
        head_only: bool,
    ) -> Response<ProxyBody> {
        let (status, content_type, body) = self.to_body(dialect, request_id);
        let body = if head_only {
            Empty::new().map_err(|never| match never {}).boxed()
        } else {
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed()
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        set_request_id(headers, request_id);
        response
    }
}

/// `<Error><Code/><Message/><RequestId/></Error>`.
pub fn s3_error_xml(code: &str, message: &str, request_id: &str) -> String {
    s3_error_xml_with(code, message, &[], request_id)
}

/// [`s3_error_xml`] with elements after the message (`<RequestTime>…`); names are plain XML
/// names, values are escaped.
pub fn s3_error_xml_with(
    code: &str,
    message: &str,
    details: &[(&str, String)],
    request_id: &str,
) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
        xml_escape(code),
        xml_escape(message),
    );
    for (name, value) in details {
        xml.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    xml.push_str(&format!(
        "<RequestId>{}</RequestId></Error>",
        xml_escape(request_id)
    ));
    xml
}

/// Escapes text for XML element content.
pub use crate::xml::escape as xml_escape;

/// Sets the request id headers AWS clients read and log.
pub fn set_request_id(headers: &mut http::HeaderMap, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amz-request-id", v.clone());
        headers.insert("x-amzn-requestid", v);
    }
}

/// Request ids: 16 upper-case hex digits, unique within a process and unlikely to repeat
/// across restarts and replicas (a per-process random start, then a mixing counter).
pub struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

impl RequestIds {
    /// A generator seeded from the clock and the process id.
    pub fn new() -> RequestIds {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        RequestIds {
            seed: splitmix(nanos ^ (u64::from(std::process::id()) << 32)),
            counter: AtomicU64::new(0),
        }
    }

    /// The next id.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{:016X}", splitmix(self.seed.wrapping_add(n)))
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_hex() {
        let ids = RequestIds::new();
        let a = ids.next();
        let b = ids.next();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn s3_and_json_errors() {
        let r = Reject::AccessDenied.render(Dialect::S3Xml, "ABC", false);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.headers()["x-amz-request-id"], "ABC");
        assert_eq!(
            s3_error_xml("AccessDenied", "a<b", "ABC"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>a&lt;b</Message><RequestId>ABC</RequestId></Error>"
        );
        assert_eq!(
            Reject::AccessDenied.code(Dialect::Json),
            "AccessDeniedException"
        );
        let r = Reject::Auth(AuthError::SignatureDoesNotMatch).render(Dialect::Json, "X", false);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn denials_say_who_what_on_what_and_why() {
        let denial = |resource: &str, reason, same_account| {
            Reject::Denied(Box::new(Denial {
                caller: "arn:aws:sts::111122223333:assumed-role/auditor/audit".into(),
                action: "orders:GetOrder".into(),
                resource: resource.into(),
                reason,
                same_account,
            }))
        };
        let who =
            "User: arn:aws:sts::111122223333:assumed-role/auditor/audit is not authorized to \
                   perform: orders:GetOrder";
        let order = "arn:aws:orders:us-east-1:111122223333:order/42";
        for (reason, why) in [
            (
                DenyReason::NoAllow(Source::Identity),
                "because no identity-based policy allows the orders:GetOrder action",
            ),
            (
                DenyReason::NoAllow(Source::Boundary),
                "because no permissions boundary allows the orders:GetOrder action",
            ),
            (
                DenyReason::NoAllow(Source::Session),
                "because no session policy allows the orders:GetOrder action",
            ),
            (
                DenyReason::NoAllow(Source::Resource),
                "because no resource-based policy allows the orders:GetOrder action",
            ),
            (
                DenyReason::ExplicitDeny(Source::Identity),
                "with an explicit deny in an identity-based policy",
            ),
            (
                DenyReason::ExplicitDeny(Source::Boundary),
                "with an explicit deny in a permissions boundary",
            ),
            (
                DenyReason::ExplicitDeny(Source::Session),
                "with an explicit deny in a session policy",
            ),
            (
                DenyReason::ExplicitDeny(Source::Resource),
                "with an explicit deny in a resource-based policy",
            ),
        ] {
            let d = denial(order, reason, true);
            assert_eq!(
                d.message(Dialect::Json),
                format!("{who} on resource: {order} {why}")
            );
            // S3 quotes the resource.
            assert_eq!(
                d.message(Dialect::S3Xml),
                format!("{who} on resource: \"{order}\" {why}")
            );
            assert_eq!(d.code(Dialect::Json), "AccessDeniedException");
            assert_eq!(d.code(Dialect::S3Xml), "AccessDenied");
            assert_eq!(d.status(Dialect::S3Xml), StatusCode::FORBIDDEN);
        }
        // No resource to name for `*`.
        assert_eq!(
            denial("*", DenyReason::NoAllow(Source::Identity), true).message(Dialect::Json),
            format!("{who} because no identity-based policy allows the orders:GetOrder action")
        );
        // S3 explains to callers of the resource's account only.
        let other = denial(order, DenyReason::NoAllow(Source::Resource), false);
        assert_eq!(other.message(Dialect::S3Xml), "Access Denied");
        assert!(other.message(Dialect::Json).starts_with(who));
    }

    #[test]
    fn s3_errors_carry_the_details_of_authentication_errors() {
        let skewed = Reject::Auth(AuthError::RequestTimeTooSkewed(
            crate::sigv4::RequestTimes {
                request: 1_369_353_600,
                server: 1_369_354_501,
                max_skew_secs: 900,
            },
        ));
        let body = body_of(skewed.render(Dialect::S3Xml, "R1", false));
        assert!(
            body.ends_with(
                "<Message>The difference between the request time and the current time is too large.</Message>\
                 <RequestTime>20130524T000000Z</RequestTime><ServerTime>2013-05-24T00:15:01Z</ServerTime>\
                 <MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds><RequestId>R1</RequestId></Error>"
            ),
            "{body}"
        );
        // A HEAD gets no body at all.
        assert!(body_of(skewed.render(Dialect::S3Xml, "R1", true)).is_empty());
    }

    fn body_of(response: Response<ProxyBody>) -> String {
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(response.into_body().collect())
            .unwrap();
        String::from_utf8(collected.to_bytes().to_vec()).unwrap()
    }
}
