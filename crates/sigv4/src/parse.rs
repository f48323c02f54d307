//! Parsers for the `Authorization` header, the presigned query parameters, the credential scope
//! and the SigV4 timestamp. All are pure functions over `&str`/`&[u8]` (fuzz targets).

use super::canonical::{parse_query, QueryParam};
use super::error::AuthError;

/// The SigV4 algorithm.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub use super::v4a::ALGORITHM_V4A;

/// A request's signature, decoded from hex: its type says the algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestSignature {
    /// `AWS4-HMAC-SHA256`: 32 bytes of HMAC-SHA256.
    Hmac([u8; 32]),
    /// `AWS4-ECDSA-P256-SHA256` (SigV4A): an ASN.1 DER ECDSA signature (at most 72 bytes).
    Ecdsa(Vec<u8>),
}

impl RequestSignature {
    /// The algorithm name.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Self::Hmac(_) => ALGORITHM,
            Self::Ecdsa(_) => ALGORITHM_V4A,
        }
    }
}

/// Decodes a SigV4A signature: an even number of hex digits, 8 to 144 of them.
pub(crate) fn decode_ecdsa_signature(s: &str) -> Option<Vec<u8>> {
    if !(8..=144).contains(&s.len()) {
        return None;
    }
    hex::decode(s).ok()
}
/// The credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// The presigned query parameter names (case-sensitive, as AWS treats them).
pub const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// `AKID/YYYYMMDD/region/service/aws4_request`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The scope date `YYYYMMDD`.
    pub date: &'a str,
    /// The region; empty in a SigV4A credential (`AKID/date/service/aws4_request`), whose
    /// regions come in `X-Amz-Region-Set`.
    pub region: &'a str,
    /// The service.
    pub service: &'a str,
    /// The terminator (must be `aws4_request`; checked by the verifier, not the parser).
    pub terminator: &'a str,
}

impl CredentialScope<'_> {
    /// `date/region/service/terminator`, as it appears in the string to sign
    /// (`date/service/terminator` for SigV4A, whose region is empty).
    pub fn scope_string(&self) -> String {
        let mut scope = String::with_capacity(
            self.date.len() + self.region.len() + self.service.len() + self.terminator.len() + 3,
        );
        for part in [self.date, self.region, self.service, self.terminator] {
            if part.is_empty() {
                continue;
            }
            if !scope.is_empty() {
                scope.push('/');
            }
            scope.push_str(part);
        }
        scope
    }
}

/// Splits a credential `AKID/date/region/service/terminator`; `None` unless exactly five
/// non-empty parts.
pub fn parse_credential(s: &str) -> Option<CredentialScope<'_>> {
    let mut it = split_ascii(s, b'/');
    let c = CredentialScope {
        access_key_id: it.next()?,
        date: it.next()?,
        region: it.next()?,
        service: it.next()?,
        terminator: it.next()?,
    };
    if it.next().is_some()
        || [c.access_key_id, c.date, c.region, c.service, c.terminator]
            .iter()
            .any(|p| p.is_empty())
    {
        return None;
    }
    Some(c)
}

/// Splits `s` at every `sep`, an ASCII byte (so every piece is valid UTF-8). The pieces of a
/// signature are short: a plain scan beats the char-pattern searcher's memchr call per piece.
pub(crate) fn split_ascii(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `s.split_once(sep)` for an ASCII byte.
pub(crate) fn split_once_ascii(s: &str, sep: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

/// Splits a SigV4A credential `AKID/date/service/terminator` (region left empty); `None` unless
/// exactly four non-empty parts.
pub fn parse_credential_v4a(s: &str) -> Option<CredentialScope<'_>> {
    let mut it = split_ascii(s, b'/');
    let c = CredentialScope {
        access_key_id: it.next()?,
        date: it.next()?,
        region: "",
        service: it.next()?,
        terminator: it.next()?,
    };
    if it.next().is_some()
        || [c.access_key_id, c.date, c.service, c.terminator]
            .iter()
            .any(|p| p.is_empty())
    {
        return None;
    }
    Some(c)
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header
/// (or `AWS4-ECDSA-P256-SHA256 …`, SigV4A).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    /// The credential scope.
    pub credential: CredentialScope<'a>,
    /// The `SignedHeaders` value as sent (`;`-separated, lower case expected).
    pub signed_headers: &'a str,
    /// The signature, decoded from hex.
    pub signature: RequestSignature,
}

const CREDENTIAL_HINT_V4A: &str =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/SERVICE/aws4_request\".";

const CREDENTIAL_HINT: &str =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";

/// The signature of a SigV4A (`v4a`) or SigV4 request, decoded.
fn decode_request_signature(sig: &str, v4a: bool) -> Option<RequestSignature> {
    if v4a {
        decode_ecdsa_signature(sig).map(RequestSignature::Ecdsa)
    } else {
        decode_signature(sig).map(RequestSignature::Hmac)
    }
}

/// What [`decode_request_signature`] accepts, for error messages.
fn signature_form(v4a: bool) -> &'static str {
    if v4a {
        "a hex DER ECDSA signature"
    } else {
        "64 hexadecimal digits"
    }
}

fn malformed(detail: &str) -> AuthError {
    AuthError::AuthorizationHeaderMalformed(detail.to_owned())
}

/// Decodes a 64-character hex signature (either case).
pub fn decode_signature(s: &str) -> Option<[u8; 32]> {
    super::canonical::unhex32(s.as_bytes())
}

/// Parses an `Authorization` header value. Components may come in any order, separated by `,`
/// with optional spaces; each must appear exactly once.
pub fn parse_authorization_header(value: &str) -> Result<AuthorizationHeader<'_>, AuthError> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (alg, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    let v4a = match alg {
        ALGORITHM => false,
        ALGORITHM_V4A => true,
        _ => return Err(AuthError::UnsupportedAlgorithm),
    };
    let (mut cred, mut sh, mut sig) = (None, None, None);
    for part in split_ascii(rest, b',') {
        let part = part.trim_matches(|c| c == ' ' || c == '\t');
        if part.is_empty() {
            continue;
        }
        let (k, v) = split_once_ascii(part, b'=').ok_or_else(|| {
            malformed(&format!(
                "the authorization component '{part}' is malformed."
            ))
        })?;
        let slot = match k {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut sh,
            "Signature" => &mut sig,
            _ => {
                return Err(malformed(&format!(
                    "the authorization component '{k}' is unknown."
                )))
            }
        };
        if slot.replace(v).is_some() {
            return Err(malformed(&format!(
                "the authorization component '{k}' is repeated."
            )));
        }
    }
    let cred = cred.ok_or_else(|| malformed("missing Credential."))?;
    let credential = if v4a {
        parse_credential_v4a(cred).ok_or_else(|| malformed(CREDENTIAL_HINT_V4A))?
    } else {
        parse_credential(cred).ok_or_else(|| malformed(CREDENTIAL_HINT))?
    };
    let signed_headers = sh.ok_or_else(|| malformed("missing SignedHeaders."))?;
    if signed_headers.is_empty() {
        return Err(malformed("SignedHeaders is empty."));
    }
    let sig = sig.ok_or_else(|| malformed("missing Signature."))?;
    let signature = decode_request_signature(sig, v4a)
        .ok_or_else(|| malformed(&format!("the Signature is not {}.", signature_form(v4a))))?;
    Ok(AuthorizationHeader {
        credential,
        signed_headers,
        signature,
    })
}

/// The presigned-URL parameters, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedQuery {
    /// `X-Amz-Credential`, decoded (split it with [`parse_credential`]).
    pub credential: String,
    /// `X-Amz-Date`.
    pub date: String,
    /// `X-Amz-Expires`, seconds, 1..=604800.
    pub expires: u32,
    /// `X-Amz-SignedHeaders`.
    pub signed_headers: String,
    /// `X-Amz-Signature`, decoded from hex (its type follows `X-Amz-Algorithm`).
    pub signature: RequestSignature,
    /// `X-Amz-Security-Token`, if present.
    pub security_token: Option<String>,
}

fn qerr(detail: &str) -> AuthError {
    AuthError::AuthorizationQueryParametersError(detail.to_owned())
}

/// Parses the presigned parameters of a raw query string: `Ok(None)` when none of them is present.
pub fn parse_presigned_query(raw_query: &[u8]) -> Result<Option<PresignedQuery>, AuthError> {
    presigned_from_params(&parse_query(raw_query))
}

/// [`parse_presigned_query`] over already split parameters.
pub(crate) fn presigned_from_params(
    params: &[QueryParam<'_>],
) -> Result<Option<PresignedQuery>, AuthError> {
    let mut found: [Option<&[u8]>; 7] = [None; 7];
    let mut any = false;
    for (name, value) in params {
        if let Some(i) = PRESIGN_PARAMS
            .iter()
            .position(|p| p.as_bytes() == &name[..])
        {
            any = true;
            if found[i].replace(value).is_some() {
                return Err(qerr(&format!("{} must be given once.", PRESIGN_PARAMS[i])));
            }
        }
    }
    if !any {
        // A SigV2 presigned URL is an attempt to authenticate, never an anonymous request.
        let has = |n: &str| params.iter().any(|(name, _)| &name[..] == n.as_bytes());
        if has("AWSAccessKeyId") && has("Signature") {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        return Ok(None);
    }
    // Borrowed: only what the result keeps is copied.
    let text = |i: usize| -> Result<Option<&str>, AuthError> {
        found[i]
            .map(|v| {
                std::str::from_utf8(v)
                    .map_err(|_| qerr(&format!("{} is not valid UTF-8.", PRESIGN_PARAMS[i])))
            })
            .transpose()
    };
    let required = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
    let (Some(alg), Some(credential), Some(date), Some(expires), Some(signed_headers), Some(sig)) =
        (text(0)?, text(1)?, text(2)?, text(3)?, text(4)?, text(5)?)
    else {
        return Err(qerr(required));
    };
    let v4a =
        match alg {
            ALGORITHM => false,
            ALGORITHM_V4A => true,
            _ => return Err(qerr(
                "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\" and \"AWS4-ECDSA-P256-SHA256\"",
            )),
        };
    // Digits only, as S3 wants: Rust's integer parser would also take a leading `+`.
    if let Some(digits) = expires.strip_prefix('-') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(qerr("X-Amz-Expires must be non-negative"));
        }
    }
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(qerr("X-Amz-Expires should be a number"));
    }
    // Past i64 it is still a number, and more than a week.
    let expires: i64 = expires.parse().unwrap_or(i64::MAX);
    if expires == 0 || expires > 604_800 {
        return Err(qerr(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        ));
    }
    if signed_headers.is_empty() {
        return Err(qerr(required));
    }
    let signature = decode_request_signature(sig, v4a)
        .ok_or_else(|| qerr(&format!("X-Amz-Signature must be {}.", signature_form(v4a))))?;
    Ok(Some(PresignedQuery {
        credential: credential.to_owned(),
        date: date.to_owned(),
        expires: expires as u32,
        signed_headers: signed_headers.to_owned(),
        signature,
        security_token: text(6)?.map(str::to_owned),
    }))
}

/// Parses a SigV4 timestamp `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?;
    let day = u8::try_from(num(6..8)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(t).assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let p = parse_authorization_header(h).unwrap();
        assert_eq!(p.credential.service, "iam");
        assert_eq!(p.signed_headers, "host;x-amz-date");
        assert!(matches!(
            parse_authorization_header("AWS4-HMAC-SHA256 Credential=a/b/c/d/e"),
            Err(AuthError::AuthorizationHeaderMalformed(_))
        ));
        assert_eq!(
            parse_authorization_header("AWS AKID:sig"),
            Err(AuthError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn dates() {
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("20150830T123600"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
    }

    #[test]
    fn presigned() {
        assert_eq!(parse_presigned_query(b"a=b").unwrap(), None);
        assert!(parse_presigned_query(b"X-Amz-Algorithm=AWS4-HMAC-SHA256").is_err());
    }
}
