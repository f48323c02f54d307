//! What a request says about its own signature, read without checking anything: where the
//! signature is, which algorithm, which access key and which service it is scoped to. A server
//! uses it to pick the service that answers (and so the protocol of its errors) before
//! verifying, and to name the key a refused request claimed; the [`Verifier`](crate::Verifier)
//! alone decides whether any of it is true.
//!
//! ```
//! use iamgate_sigv4::claim::{Claim, Location};
//!
//! let headers = [(
//!     "authorization",
//!     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20150830/us-east-1/iam/aws4_request, \
//!      SignedHeaders=host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
//! )];
//! let claim = Claim::read(headers.iter().map(|(n, v)| (*n, v.as_bytes())), None).unwrap();
//! assert_eq!(claim.location, Location::Header);
//! assert_eq!(claim.version, Some("SigV4"));
//! assert_eq!(claim.access_key_id().as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
//! assert_eq!(claim.service().as_deref(), Some("iam"));
//! assert!(claim.scoped_to("iam"));
//! ```

use std::borrow::Cow;

use crate::parse::TERMINATOR;
use crate::v4a::ALGORITHM_V4A;

/// Where a request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The `Authorization` header (CloudTrail's `AuthHeader`).
    Header,
    /// A presigned URL's query (CloudTrail's `QueryString`).
    Query,
}

impl Location {
    /// CloudTrail's name for it (`additionalEventData.AuthenticationMethod`).
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Header => "AuthHeader",
            Location::Query => "QueryString",
        }
    }
}

/// What a request claims about its signature (nothing here is verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    /// Where the signature is.
    pub location: Location,
    /// `SigV4` or `SigV4A` (CloudTrail's `SignatureVersion`), when the algorithm is one of them.
    pub version: Option<&'static str>,
    /// The credential as sent (still percent-encoded in a query).
    raw_credential: Option<&'a str>,
}

impl<'a> Claim<'a> {
    /// Reads the claim of a request from its headers (names in any case) and raw query: the
    /// `Authorization` header if there is one, else the presigning parameters. `None` for a
    /// request that carries neither (an anonymous one).
    pub fn read<'h: 'a>(
        headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
        query: Option<&'a str>,
    ) -> Option<Claim<'a>> {
        let authorization = headers
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value);
        Claim::from_parts(authorization, query)
    }

    /// Reads the claim of an `http` request head.
    pub fn of(parts: &'a http::request::Parts) -> Option<Claim<'a>> {
        let authorization = parts.headers.get(http::header::AUTHORIZATION);
        Claim::from_parts(authorization.map(|v| v.as_bytes()), parts.uri.query())
    }

    fn from_parts(authorization: Option<&'a [u8]>, query: Option<&'a str>) -> Option<Claim<'a>> {
        if let Some(value) = authorization {
            let value = std::str::from_utf8(value).unwrap_or("");
            return Some(Claim {
                location: Location::Header,
                version: version_of(value),
                raw_credential: header_credential(value),
            });
        }
        let mut claim: Option<Claim<'a>> = None;
        for pair in query.unwrap_or("").split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Every presigning parameter starts `X-Amz-`: most other names end the test there.
            if name.len() < 6 || !name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-") {
                continue;
            }
            let entry = || Claim {
                location: Location::Query,
                version: None,
                raw_credential: None,
            };
            if name.eq_ignore_ascii_case("x-amz-algorithm") {
                claim.get_or_insert_with(entry).version = version_of(value);
            } else if name.eq_ignore_ascii_case("x-amz-credential") {
                claim.get_or_insert_with(entry).raw_credential = Some(value);
            } else if name.eq_ignore_ascii_case("x-amz-signature") {
                claim.get_or_insert_with(entry);
            }
            // The SDKs put the algorithm and the credential first: the rest need not be read.
            if claim
                .as_ref()
                .is_some_and(|c| c.version.is_some() && c.raw_credential.is_some())
            {
                break;
            }
        }
        claim
    }

    /// The credential, `AKID/date/region/service/aws4_request` (percent-decoded from a query).
    pub fn credential(&self) -> Option<Cow<'a, str>> {
        let raw = self.raw_credential?;
        Some(match self.location {
            Location::Header => Cow::Borrowed(raw),
            Location::Query => percent_encoding::percent_decode_str(raw).decode_utf8_lossy(),
        })
    }

    /// The access key id the credential names, if it looks like one (16 to 128 letters and
    /// digits): safe to log.
    pub fn access_key_id(&self) -> Option<String> {
        let credential = self.credential()?;
        let key = credential.split('/').next()?;
        ((16..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| key.to_owned())
    }

    /// The service the credential is scoped to: the component before `aws4_request`, in a
    /// SigV4 or SigV4A credential.
    pub fn service(&self) -> Option<String> {
        let credential = self.credential()?;
        let mut parts = credential.rsplit('/');
        if parts.next()? != TERMINATOR {
            return None;
        }
        parts.next().filter(|s| !s.is_empty()).map(str::to_owned)
    }

    /// Whether the credential is scoped to `service`: [`Claim::service`] without allocating or
    /// decoding, for a server that asks it of every request.
    pub fn scoped_to(&self, service: &str) -> bool {
        let Some(raw) = self.raw_credential else {
            return false;
        };
        // The terminator and the service, split at `/` (or `%2F` in a query) from the end;
        // a service or terminator that is itself escaped is read the slow way.
        let Some((rest, terminator)) = split_last(raw) else {
            return false;
        };
        let found = match split_last(rest) {
            Some((_, found)) => found,
            None => rest,
        };
        if terminator.contains('%') || found.contains('%') {
            return self.service().as_deref() == Some(service);
        }
        terminator == TERMINATOR && !service.is_empty() && found == service
    }
}

/// `s` split at its last `/`, or `%2F` (either case), which a query's credential may use.
fn split_last(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        if bytes[i] == b'/' {
            return Some((&s[..i], &s[i + 1..]));
        }
        if bytes[i] == b'%'
            && bytes.get(i + 1) == Some(&b'2')
            && bytes.get(i + 2).is_some_and(|b| b | 0x20 == b'f')
        {
            return Some((&s[..i], &s[i + 3..]));
        }
    }
    None
}

fn version_of(algorithm: &str) -> Option<&'static str> {
    if algorithm.starts_with(ALGORITHM_V4A) {
        Some("SigV4A")
    } else if algorithm.starts_with(crate::parse::ALGORITHM) {
        Some("SigV4")
    } else {
        None
    }
}

/// The `Credential=` value of an `Authorization` header, up to `,` or white space.
fn header_credential(value: &str) -> Option<&str> {
    let start = value.find("Credential=")? + "Credential=".len();
    let rest = &value[start..];
    let end = rest
        .find(|c: char| c == ',' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_query(query: &str) -> Option<Claim<'_>> {
        Claim::read(std::iter::empty(), Some(query))
    }

    fn from_header(value: &str) -> Option<Claim<'_>> {
        Claim::read([("Authorization", value.as_bytes())], None)
    }

    #[test]
    fn the_header_wins_and_names_key_and_service() {
        let c = from_header("AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE0000000/20261128/s3/aws4_request, SignedHeaders=host, Signature=00").unwrap();
        assert_eq!((c.location, c.version), (Location::Header, Some("SigV4A")));
        assert_eq!(c.access_key_id().as_deref(), Some("AKIDEXAMPLE0000000"));
        assert_eq!(c.service().as_deref(), Some("s3"));
        assert!(c.scoped_to("s3") && !c.scoped_to("3") && !c.scoped_to("sts"));
        let c = from_header("Bearer abc").unwrap();
        assert_eq!(
            (c.version, c.access_key_id(), c.service()),
            (None, None, None)
        );
        assert!(!c.scoped_to("s3"));
    }

    #[test]
    fn a_query_claims_with_any_presigning_parameter() {
        for (query, key, service) in [
            (
                "X-Amz-Credential=AKIDEXAMPLE0000000%2F20261128%2Fus-east-1%2Fsts%2Faws4_request",
                Some("AKIDEXAMPLE0000000"),
                Some("sts"),
            ),
            (
                "a=b&x-amz-credential=AKIDEXAMPLE0000000/20261128/us-east-1/sts/aws4_request",
                Some("AKIDEXAMPLE0000000"),
                Some("sts"),
            ),
            ("X-Amz-Credential=sts%2Faws4_request", None, Some("sts")),
            ("X-Amz-Credential=%2Fsts%2Faws4_requesT", None, None),
            ("X-Amz-Credential=a%2Fsts%2Faws4_request%2F", None, None),
            ("X-Amz-Credential=", None, None),
            (
                "X-Amz-Credential=AKIDEXAMPLE0000000%2f20261128%2fus-east-1%2f%73ts%2Faws4_request",
                Some("AKIDEXAMPLE0000000"),
                Some("sts"),
            ),
            // An escaped `%2F` is a literal `%2F` once decoded, not a separator.
            (
                "X-Amz-Credential=a%252Fsts%2Faws4_request",
                None,
                Some("a%2Fsts"),
            ),
            ("X-Amz-Credential=sts%252Faws4_request", None, None),
            ("X-Amz-Signature=00", None, None),
        ] {
            let c = from_query(query).unwrap();
            assert_eq!(c.location, Location::Query);
            assert_eq!(c.access_key_id().as_deref(), key, "{query}");
            assert_eq!(c.service().as_deref(), service, "{query}");
            // The allocation-free test agrees with the decoded service, for every service.
            for asked in ["sts", "s3", "ts", ""] {
                assert_eq!(
                    c.scoped_to(asked),
                    service == Some(asked),
                    "{query} {asked}"
                );
            }
        }
        let c = from_query("X-Amz-Algorithm=AWS4-HMAC-SHA256").unwrap();
        assert_eq!(c.version, Some("SigV4"));
        assert!(from_query("Action=GetCallerIdentity").is_none());
        assert!(from_query("").is_none());
    }

    #[test]
    fn keys_that_cannot_be_keys_are_not_named() {
        for key in ["short", "AKID/../x", &"A".repeat(129)] {
            let header =
                format!("AWS4-HMAC-SHA256 Credential={key}/20261128/us-east-1/s3/aws4_request");
            let c = from_header(&header).unwrap();
            assert_eq!(c.access_key_id(), None, "{key}");
        }
    }
}
