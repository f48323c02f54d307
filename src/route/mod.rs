//! Routing: from an HTTP request to the actions and resources to authorise.
//!
//! The gateway calls the routing functions after authentication and before policy evaluation.
//! Everything here is pure: no I/O, no async, nothing the client sends can make it panic.
//!
//! - [`s3`]: the built-in S3 model, virtual-hosted and path-style addressing, every supported
//!   S3 operation mapped to the IAM actions AWS documents for it.
//! - [`table`]: route tables for other HTTP services, declared in the configuration.
//!
//! See `docs/ROUTING.md` for the mapping as implemented and the choices made where AWS is silent.

pub mod s3;
pub mod table;
mod xml;

use http::StatusCode;

pub use s3::{BodyInspection, ObjectId, S3Model, S3Route};
pub use table::{RouteTable, TableError, TableRoute};

/// One authorisation question: may the caller do `action` on `resource`?
///
/// A request goes on only when every check of its route is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    /// The IAM action, with its service prefix: `s3:GetObject`.
    pub action: String,
    /// The resource ARN (`arn:aws:s3:::bucket/key`, `arn:aws:s3:::bucket`) or `*`.
    pub resource: String,
}

impl Check {
    /// A check of `action` on `resource`.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Check {
        Check {
            action: action.into(),
            resource: resource.into(),
        }
    }
}

/// Why a request could not be routed. Each variant knows the AWS error code and HTTP status the
/// gateway answers with ([`RouteError::code`], [`RouteError::status`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The path or query is not valid percent-encoding, or does not decode to UTF-8 (S3
    /// `InvalidURI`, 400).
    #[error("Couldn't parse the specified URI: {0}")]
    InvalidUri(String),
    /// The bucket name does not follow S3's bucket naming rules (S3 `InvalidBucketName`, 400).
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    /// The object key is longer than 1024 bytes (S3 `KeyTooLongError`, 400).
    #[error("Your key is too long")]
    KeyTooLong,
    /// The request is ambiguous or carries an invalid argument: several Host values, a repeated
    /// query parameter or header, conflicting subresources, a malformed `x-amz-copy-source`
    /// (S3 `InvalidArgument`, 400).
    #[error("{0}")]
    InvalidArgument(String),
    /// The method is not allowed on this resource (S3 `MethodNotAllowed`, 405).
    #[error("The specified method is not allowed against this resource: {0}")]
    MethodNotAllowed(String),
    /// The operation is not one the gateway knows how to authorise (S3 `NotImplemented`, 501).
    #[error("A header or query you provided implies functionality that is not implemented: {0}")]
    NotImplemented(String),
    /// A request body that had to be inspected (DeleteObjects) is not what S3 accepts (S3
    /// `MalformedXML`, 400).
    #[error("The XML you provided was not well-formed or did not validate: {0}")]
    MalformedXml(String),
    /// No route of the service's route table matches the request (404); the gateway refuses it.
    #[error("no route matches {method} {path}")]
    NoRoute {
        /// The request method.
        method: String,
        /// The raw request path.
        path: String,
    },
    /// The path has a `.` or `..` segment (encoded or not), or a parameter that would smuggle a
    /// `/` or `:` where it may not go (400).
    #[error("invalid request path: {0}")]
    InvalidPath(String),
}

impl RouteError {
    /// The AWS error code: `InvalidURI`, `InvalidBucketName`, `MethodNotAllowed`, ...
    pub fn code(&self) -> &'static str {
        match self {
            RouteError::InvalidUri(_) => "InvalidURI",
            RouteError::InvalidBucketName(_) => "InvalidBucketName",
            RouteError::KeyTooLong => "KeyTooLongError",
            RouteError::InvalidArgument(_) => "InvalidArgument",
            RouteError::MethodNotAllowed(_) => "MethodNotAllowed",
            RouteError::NotImplemented(_) => "NotImplemented",
            RouteError::MalformedXml(_) => "MalformedXML",
            RouteError::NoRoute { .. } => "UnknownOperationException",
            RouteError::InvalidPath(_) => "InvalidRequest",
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            RouteError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            RouteError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            RouteError::NoRoute { .. } => StatusCode::NOT_FOUND,
            RouteError::InvalidUri(_)
            | RouteError::InvalidBucketName(_)
            | RouteError::KeyTooLong
            | RouteError::InvalidArgument(_)
            | RouteError::MalformedXml(_)
            | RouteError::InvalidPath(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Percent-decodes `raw` exactly once. `+` stays `+`. Invalid escapes (`%`, `%4`, `%zz`) and
/// bytes that do not form UTF-8 after decoding are refused.
pub fn percent_decode(raw: &str) -> Result<String, RouteError> {
    decode(raw, false)
}

/// Percent-decodes a query-string component once, where `+` means a space (as S3 reads its
/// query strings).
pub(crate) fn query_decode(raw: &str) -> Result<String, RouteError> {
    decode(raw, true)
}

fn decode(raw: &str, plus_is_space: bool) -> Result<String, RouteError> {
    crate::query::strict_decode(raw, plus_is_space)
        .map(std::borrow::Cow::into_owned)
        .map_err(RouteError::from)
}

impl From<crate::query::BadEncoding> for RouteError {
    fn from(e: crate::query::BadEncoding) -> RouteError {
        RouteError::InvalidUri(e.to_string())
    }
}

/// Percent-encodes `text` canonically: the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// stay, `/` stays when `keep_slash`, every other byte of the UTF-8 text becomes `%XX` (upper-case
/// hex). [`percent_decode`] gives `text` back.
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xF)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_once() {
        assert_eq!(percent_decode("a%252Fb").unwrap(), "a%2Fb");
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
        assert_eq!(query_decode("a+b%2B").unwrap(), "a b+");
        assert_eq!(percent_decode("%E2%82%AC").unwrap(), "€");
    }

    #[test]
    fn refuses_bad_escapes_and_utf8() {
        for bad in ["%", "%4", "%zz", "a%g0", "%FF", "%C3"] {
            assert!(
                matches!(percent_decode(bad), Err(RouteError::InvalidUri(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn encodes_canonically() {
        assert_eq!(percent_encode("a b/c+€", true), "a%20b/c%2B%E2%82%AC");
        assert_eq!(percent_encode("a/b", false), "a%2Fb");
        assert_eq!(
            percent_decode(&percent_encode("x%2F y", true)).unwrap(),
            "x%2F y"
        );
    }
}
