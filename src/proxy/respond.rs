//! Rejections: the AWS error a client expects, S3's XML or the JSON of other services, with the
//! request id that the decision log line also carries.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};

use super::forward::{ProxyBody, UpstreamError};
use crate::sigv4::{AuthError, Dialect};

/// Why a request does not reach its upstream.
#[derive(Debug, thiserror::Error)]
pub enum Reject {
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The policies do not allow it.
    #[error("access denied")]
    AccessDenied,
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

impl Reject {
    /// The AWS error code (or the gateway's, for upstream failures).
    pub fn code(&self, dialect: Dialect) -> &'static str {
        match self {
            Reject::Auth(e) => e.code_for(dialect),
            Reject::AccessDenied if dialect == Dialect::Json => "AccessDeniedException",
            Reject::AccessDenied => "AccessDenied",
            Reject::Invalid { code, .. } => code,
            Reject::Upstream(UpstreamError::Timeout) => "GatewayTimeout",
            Reject::Upstream(UpstreamError::Unavailable(_)) => "BadGateway",
            Reject::Throttled if dialect == Dialect::Json => "ThrottlingException",
            Reject::Throttled => "SlowDown",
        }
    }

    /// The message sent to the client.
    pub fn message(&self, dialect: Dialect) -> String {
        match self {
            Reject::Auth(e) => e.message_for(dialect),
            Reject::AccessDenied if dialect == Dialect::Json => {
                "User is not authorized to perform this action".into()
            }
            Reject::AccessDenied => "Access Denied".into(),
            Reject::Invalid { message, .. } => message.clone(),
            Reject::Upstream(UpstreamError::Timeout) => {
                "The upstream service did not answer in time.".into()
            }
            // The detail (addresses, errors) goes to the log, not to the client.
            Reject::Upstream(UpstreamError::Unavailable(_)) => {
                "The upstream service is unavailable.".into()
            }
            Reject::Throttled if dialect == Dialect::Json => "Rate exceeded".into(),
            Reject::Throttled => "Please reduce your request rate.".into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self, dialect: Dialect) -> StatusCode {
        match self {
            Reject::Auth(e) => {
                StatusCode::from_u16(e.status_for(dialect)).unwrap_or(StatusCode::FORBIDDEN)
            }
            Reject::AccessDenied => StatusCode::FORBIDDEN,
            Reject::Invalid { status, .. } => *status,
            Reject::Upstream(e) => e.status(),
            Reject::Throttled if dialect == Dialect::Json => StatusCode::BAD_REQUEST,
            Reject::Throttled => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The response. A `HEAD` request gets the status and headers only, as S3 answers it.
    pub fn render(
        &self,
        dialect: Dialect,
        request_id: &str,
        head_only: bool,
    ) -> Response<ProxyBody> {
        let status = self.status(dialect);
        let code = self.code(dialect);
        let message = self.message(dialect);
        let (content_type, body) = match (self, dialect) {
            (Reject::Upstream(_), _) => (
                "application/json",
                serde_json::json!({"error": code, "message": message, "requestId": request_id})
                    .to_string(),
            ),
            (Reject::Auth(e), Dialect::S3Xml) => {
                let (_, content_type, body) = e.render(dialect, request_id);
                (content_type, body)
            }
            (_, Dialect::S3Xml) => ("application/xml", s3_error_xml(code, &message, request_id)),
            (_, Dialect::Json) => (
                "application/x-amz-json-1.1",
                serde_json::json!({"__type": code, "message": message}).to_string(),
            ),
        };
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
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(code),
        xml_escape(message),
        xml_escape(request_id)
    )
}

/// Escapes text for XML element content.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                out.push_str(&format!("&#{};", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

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

/// A bijective mixer, so that distinct counters give distinct ids.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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
}
