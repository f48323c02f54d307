//! Authentication errors, with the status, code, message and extra elements AWS gives; the
//! server renders them in its protocol.

use crate::timestamp::{amz_date, iso8601};

/// Which family of AWS error codes and messages an error is told in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeFamily {
    /// Amazon S3's own codes and messages (`InvalidAccessKeyId`, `AuthorizationHeaderMalformed`).
    S3,
    /// The codes every other service answers with, whatever its protocol (`InvalidClientTokenId`,
    /// `IncompleteSignature`): STS, IAM and the JSON services alike.
    Common,
}

/// A checksum algorithm of the `x-amz-checksum-*` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (IEEE), `x-amz-checksum-crc32`.
    Crc32,
    /// CRC-32C (Castagnoli), `x-amz-checksum-crc32c`.
    Crc32c,
    /// CRC-64/NVME, `x-amz-checksum-crc64nvme`.
    Crc64Nvme,
    /// SHA-1, `x-amz-checksum-sha1`.
    Sha1,
    /// SHA-256, `x-amz-checksum-sha256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// The name S3 uses in messages (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`).
    pub fn upper_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The header (or trailer) name carrying this checksum, lower case.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm for a header name (case-insensitive), if it is one of the family.
    pub fn from_header_name(name: &str) -> Option<Self> {
        [
            Self::Crc32,
            Self::Crc32c,
            Self::Crc64Nvme,
            Self::Sha1,
            Self::Sha256,
        ]
        .into_iter()
        .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }
}

/// The times of a request refused for its date, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimes {
    /// When the request says it was signed (`x-amz-date`, `X-Amz-Date`).
    pub request: i64,
    /// The verifier's clock when it looked.
    pub server: i64,
    /// The difference allowed either way, seconds (AWS: 900).
    pub max_skew_secs: i64,
}

impl RequestTimes {
    /// Whether the request is dated after the verifier's clock.
    pub fn in_the_future(&self) -> bool {
        self.request > self.server
    }

    /// What AWS's services other than S3 say (STS: `SignatureDoesNotMatch`): `Signature
    /// expired: 20261203T120000Z is now earlier than 20261203T142500Z (20261203T144000Z - 15
    /// min.)`, or `Signature not yet current: … is still later than … (… + 15 min.)`.
    fn signature_message(&self) -> String {
        let minutes = self.max_skew_secs / 60;
        if self.in_the_future() {
            format!(
                "Signature not yet current: {} is still later than {} ({} + {minutes} min.)",
                amz_date(self.request),
                amz_date(self.server.saturating_add(self.max_skew_secs)),
                amz_date(self.server),
            )
        } else {
            format!(
                "Signature expired: {} is now earlier than {} ({} - {minutes} min.)",
                amz_date(self.request),
                amz_date(self.server.saturating_sub(self.max_skew_secs)),
                amz_date(self.server),
            )
        }
    }
}

/// Why a request was not authenticated. Every variant maps to AWS's status, code and message
/// through [`AuthError::status`], [`AuthError::code`] and [`AuthError::message`] (S3's codes) or
/// the `*_for` variants (either [`CodeFamily`]). Details never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The signature (request, chunk or trailer) does not match.
    #[error("signature does not match")]
    SignatureDoesNotMatch,
    /// The access key id is unknown.
    #[error("unknown access key id")]
    InvalidAccessKeyId,
    /// The access key id is known but inactive (AWS answers as for an unknown key).
    #[error("inactive access key id")]
    InactiveAccessKey,
    /// A presigned URL has expired.
    #[error("presigned request has expired")]
    RequestExpired,
    /// A presigned URL's `X-Amz-Date` is further in the future than the allowed skew.
    #[error("presigned request is not valid yet")]
    RequestNotYetValid(RequestTimes),
    /// The request time is more than the allowed skew away from the clock.
    #[error("request time too skewed")]
    RequestTimeTooSkewed(RequestTimes),
    /// The credential scope names another region than the configured one.
    #[error("credential scoped to region '{region}', expecting '{expected}'")]
    WrongRegion {
        /// The scope's region.
        region: String,
        /// The configured region ([`Config::region`](crate::Config::region)).
        expected: String,
        /// Presigned (`X-Amz-Credential`) rather than the `Authorization` header.
        query: bool,
    },
    /// The credential scope names another service than the one the request went to.
    #[error("credential scoped to service '{service}', expecting '{expected}'")]
    WrongService {
        /// The scope's service.
        service: String,
        /// The endpoint's.
        expected: String,
        /// Presigned (`X-Amz-Credential`) rather than the `Authorization` header.
        query: bool,
    },
    /// The `Authorization` header cannot be understood (detail in the message).
    #[error("authorization header malformed: {0}")]
    AuthorizationHeaderMalformed(String),
    /// The presigned query parameters cannot be understood (detail in the message).
    #[error("authorization query parameters error: {0}")]
    AuthorizationQueryParametersError(String),
    /// The signature is incomplete (a non-S3 service's answer to a malformed `Authorization`).
    #[error("incomplete signature: {0}")]
    IncompleteSignature(String),
    /// An unsigned request to a service that does not allow anonymous access.
    #[error("missing authentication token")]
    MissingAuthenticationToken,
    /// No `x-amz-date` (or `Date`) header in a header-signed request.
    #[error("missing date")]
    MissingDate,
    /// The signing algorithm is not `AWS4-HMAC-SHA256`.
    #[error("unsupported authorization mechanism")]
    UnsupportedAlgorithm,
    /// Both an `Authorization` header and presigned query parameters.
    #[error("more than one authentication mechanism")]
    AmbiguousAuthentication,
    /// The body does not hash to the signed `x-amz-content-sha256`.
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch,
    /// An S3 header-signed request without `x-amz-content-sha256`.
    #[error("missing x-amz-content-sha256")]
    MissingContentSha256,
    /// An `x-amz-content-sha256` value that is neither a hash nor a known mode.
    #[error("invalid x-amz-content-sha256")]
    InvalidContentSha256,
    /// `x-amz-*` headers present that the signature does not cover (their names, lower-case,
    /// `, `-separated: S3's `HeadersNotSigned` element).
    #[error("headers present in the request were not signed: {0}")]
    HeadersNotSigned(String),
    /// The session token is invalid.
    #[error("invalid session token")]
    InvalidToken,
    /// The session token has expired.
    #[error("expired session token")]
    ExpiredToken,
    /// An `x-amz-checksum-*` value (header or trailer) does not match the body.
    #[error("{} checksum does not match", .0.upper_name())]
    BadDigest(ChecksumAlgorithm),
    /// An `x-amz-checksum-*` value that is not valid base64 of the right length.
    #[error("invalid checksum value")]
    InvalidChecksum,
    /// The body is shorter or longer than declared (`x-amz-decoded-content-length`).
    #[error("body length differs from the declared length")]
    IncompleteBody,
    /// The `aws-chunked` body is malformed (detail in the message).
    #[error("malformed aws-chunked body: {0}")]
    MalformedChunkedBody(&'static str),
    /// A streaming upload without `x-amz-decoded-content-length` (or with an invalid one).
    #[error("missing or invalid x-amz-decoded-content-length")]
    MissingDecodedContentLength,
    /// `x-amz-trailer` names something other than an `x-amz-checksum-*` header.
    #[error("unsupported x-amz-trailer")]
    UnsupportedTrailer,
    /// The upstream body (the client connection) failed; the text is its display form.
    #[error("body read failed: {0}")]
    BodyRead(String),
}

impl AuthError {
    /// The HTTP status in S3's codes.
    pub fn status(&self) -> u16 {
        self.status_for(CodeFamily::S3)
    }

    /// The AWS error code in S3's codes.
    pub fn code(&self) -> &'static str {
        self.code_for(CodeFamily::S3)
    }

    /// The message in S3's codes.
    pub fn message(&self) -> String {
        self.message_for(CodeFamily::S3)
    }

    /// The HTTP status in the given family.
    pub fn status_for(&self, codes: CodeFamily) -> u16 {
        use AuthError::*;
        match (self, codes) {
            (RequestExpired, CodeFamily::Common) => 400,
            (
                RequestNotYetValid(_)
                | RequestTimeTooSkewed(_)
                | WrongRegion { .. }
                | WrongService { .. },
                CodeFamily::Common,
            ) => 403,
            (ExpiredToken | InvalidToken, CodeFamily::Common) => 403,
            (
                SignatureDoesNotMatch
                | InvalidAccessKeyId
                | InactiveAccessKey
                | RequestExpired
                | RequestNotYetValid(_)
                | RequestTimeTooSkewed(_)
                | MissingAuthenticationToken
                | MissingDate
                | HeadersNotSigned(_),
                _,
            ) => 403,
            (MissingDecodedContentLength, _) => 411,
            _ => 400,
        }
    }

    /// The AWS error code in the given family.
    pub fn code_for(&self, codes: CodeFamily) -> &'static str {
        use AuthError::*;
        let s3 = codes == CodeFamily::S3;
        match self {
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            InvalidAccessKeyId | InactiveAccessKey if s3 => "InvalidAccessKeyId",
            InvalidAccessKeyId | InactiveAccessKey => "InvalidClientTokenId",
            RequestExpired | RequestNotYetValid(_) if s3 => "AccessDenied",
            RequestExpired => "RequestExpired",
            // STS (and the other services) call a clock problem a signature that does not match.
            RequestNotYetValid(_) | RequestTimeTooSkewed(_) if !s3 => "SignatureDoesNotMatch",
            RequestTimeTooSkewed(_) => "RequestTimeTooSkewed",
            WrongRegion { query: false, .. } | WrongService { query: false, .. } if s3 => {
                "AuthorizationHeaderMalformed"
            }
            WrongRegion { .. } | WrongService { .. } if s3 => "AuthorizationQueryParametersError",
            WrongRegion { .. } | WrongService { .. } => "SignatureDoesNotMatch",
            AuthorizationHeaderMalformed(_) if s3 => "AuthorizationHeaderMalformed",
            AuthorizationHeaderMalformed(_) | IncompleteSignature(_) => "IncompleteSignature",
            AuthorizationQueryParametersError(_) => "AuthorizationQueryParametersError",
            MissingAuthenticationToken => "MissingAuthenticationToken",
            MissingDate if s3 => "AccessDenied",
            MissingDate => "IncompleteSignature",
            UnsupportedAlgorithm if s3 => "InvalidRequest",
            UnsupportedAlgorithm => "IncompleteSignature",
            AmbiguousAuthentication => "InvalidArgument",
            ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            MissingContentSha256 => "InvalidRequest",
            InvalidContentSha256 => "InvalidArgument",
            InvalidToken if s3 => "InvalidToken",
            InvalidToken => "InvalidClientTokenId",
            ExpiredToken => "ExpiredToken",
            HeadersNotSigned(_) if s3 => "AccessDenied",
            HeadersNotSigned(_) => "AccessDeniedException",
            BadDigest(_) => "BadDigest",
            InvalidChecksum => "InvalidRequest",
            IncompleteBody => "IncompleteBody",
            MalformedChunkedBody(_) => "InvalidRequest",
            BodyRead(_) => "IncompleteBody",
            MissingDecodedContentLength => "MissingContentLength",
            UnsupportedTrailer => "InvalidRequest",
            // unreachable combinations of the guards above
            _ => "AccessDenied",
        }
    }

    /// The message in the given family (AWS's wording where AWS documents one).
    pub fn message_for(&self, codes: CodeFamily) -> String {
        use AuthError::*;
        let s3 = codes == CodeFamily::S3;
        match self {
            SignatureDoesNotMatch if s3 => "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into(),
            SignatureDoesNotMatch => "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
            InvalidAccessKeyId | InactiveAccessKey if s3 => "The AWS Access Key Id you provided does not exist in our records.".into(),
            InvalidAccessKeyId | InactiveAccessKey => "The security token included in the request is invalid.".into(),
            RequestExpired if s3 => "Request has expired".into(),
            RequestNotYetValid(_) if s3 => "Request is not valid yet".into(),
            RequestExpired => "Request has expired.".into(),
            RequestNotYetValid(t) | RequestTimeTooSkewed(t) if !s3 => t.signature_message(),
            RequestTimeTooSkewed(_) => "The difference between the request time and the current time is too large.".into(),
            WrongRegion { region, expected, query: false } if s3 => format!("The authorization header is malformed; the region '{region}' is wrong; expecting '{expected}'"),
            WrongRegion { region, expected, .. } if s3 => format!("Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{expected}'"),
            WrongRegion { region, .. } => format!("Credential should be scoped to a valid region, not '{region}'."),
            WrongService { service, expected, query: false } if s3 => format!("The authorization header is malformed; incorrect service \"{service}\". This endpoint belongs to \"{expected}\"."),
            WrongService { service, expected, .. } if s3 => format!("Error parsing the X-Amz-Credential parameter; incorrect service \"{service}\". This endpoint belongs to \"{expected}\"."),
            WrongService { expected, .. } => format!("Credential should be scoped to correct service: '{expected}'."),
            AuthorizationHeaderMalformed(d) if s3 => format!("The authorization header is malformed; {d}"),
            AuthorizationHeaderMalformed(d) | IncompleteSignature(d) => d.clone(),
            AuthorizationQueryParametersError(d) => d.clone(),
            MissingAuthenticationToken => "Missing Authentication Token".into(),
            MissingDate => "AWS authentication requires a valid Date or x-amz-date header".into(),
            UnsupportedAlgorithm => "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into(),
            AmbiguousAuthentication => "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".into(),
            ContentSha256Mismatch => "The provided 'x-amz-content-sha256' header does not match what was computed.".into(),
            MissingContentSha256 => "Missing required header for this request: x-amz-content-sha256".into(),
            InvalidContentSha256 => "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.".into(),
            InvalidToken if s3 => "The provided token is malformed or otherwise invalid.".into(),
            InvalidToken => "The security token included in the request is invalid.".into(),
            ExpiredToken if s3 => "The provided token has expired.".into(),
            ExpiredToken => "The security token included in the request is expired".into(),
            HeadersNotSigned(_) => "There were headers present in the request which were not signed".into(),
            BadDigest(a) => format!("The {} you specified did not match the calculated checksum.", a.upper_name()),
            InvalidChecksum => "Value for x-amz-checksum header is invalid.".into(),
            IncompleteBody => "You did not provide the number of bytes specified by the Content-Length HTTP header.".into(),
            MalformedChunkedBody(d) => format!("Invalid aws-chunked body: {d}."),
            BodyRead(_) => "The request body could not be read.".into(),
            MissingDecodedContentLength => "You must provide the Content-Length HTTP header.".into(),
            UnsupportedTrailer => "The value specified in the x-amz-trailer header is not supported".into(),
            _ => "Access Denied".into(),
        }
    }

    /// The elements S3 adds after the message of this error: `RequestTime`, `ServerTime` and
    /// `MaxAllowedSkewMilliseconds` of `RequestTimeTooSkewed`, the `Region` to use of a
    /// wrong-region error (SDKs read it to redirect), the `HeadersNotSigned` of unsigned
    /// `x-amz-*` headers. None for the other services.
    pub fn details(&self, codes: CodeFamily) -> Vec<(&'static str, String)> {
        match (self, codes) {
            (AuthError::RequestTimeTooSkewed(t), CodeFamily::S3) => vec![
                ("RequestTime", amz_date(t.request)),
                ("ServerTime", iso8601(t.server)),
                (
                    "MaxAllowedSkewMilliseconds",
                    (t.max_skew_secs * 1000).to_string(),
                ),
            ],
            (AuthError::WrongRegion { expected, .. }, CodeFamily::S3) => {
                vec![("Region", expected.clone())]
            }
            (AuthError::HeadersNotSigned(names), CodeFamily::S3) => {
                vec![("HeadersNotSigned", names.clone())]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_and_the_other_services_name_errors_differently() {
        let e = AuthError::InvalidAccessKeyId;
        assert_eq!(e.code_for(CodeFamily::S3), "InvalidAccessKeyId");
        assert_eq!(e.code_for(CodeFamily::Common), "InvalidClientTokenId");
        assert_eq!(e.status_for(CodeFamily::Common), 403);
    }
}
