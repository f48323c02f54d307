//! Verification of a request head: `Authorization` header or presigned query.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::{
    canonical_header_value, canonical_path, canonical_query, hex32, parse_query, push_hex32,
    unhex32, PathMode,
};
use super::error::{AuthError, ChecksumAlgorithm};
use super::key::{hmac_sha256, SecretKey, SigningKeyCache};
use super::parse::{
    parse_amz_date, parse_authorization_header, parse_credential, parse_credential_v4a,
    presigned_from_params, split_ascii, CredentialScope, RequestSignature, ALGORITHM,
    ALGORITHM_V4A, TERMINATOR,
};
use super::v4a::{region_set_matches, V4aKeyCache, V4aPublicKey};

/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A source of the current time (Unix seconds). Tests use [`FixedClock`].
pub trait Clock: Send + Sync {
    /// The current time, Unix seconds.
    fn now_unix(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock stopped at a given Unix time.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_unix(&self) -> i64 {
        self.0
    }
}

/// Whether an access key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Refused (AWS answers `InvalidAccessKeyId`).
    Inactive,
}

/// What the credential store knows of an access key.
#[derive(Debug, Clone)]
pub struct Credential<P> {
    /// The secret access key.
    pub secret: SecretKey,
    /// Active or inactive.
    pub status: KeyStatus,
    /// The caller's opaque principal handle, returned in [`Authenticated::principal`].
    pub principal: P,
}

/// The answer of [`CredentialStore::check_session_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// Accept the request.
    Valid,
    /// Refuse: `InvalidToken`.
    Invalid,
    /// Refuse: `ExpiredToken`.
    Expired,
}

/// Looks up credentials by access key id.
pub trait CredentialStore {
    /// The principal handle the store attaches to a key.
    type Principal: Clone;

    /// The credential of an access key id, if known.
    fn lookup(&self, access_key_id: &str) -> Option<Credential<Self::Principal>>;

    /// The credential of a temporary access key id, found through its session token. Called
    /// when [`lookup`](Self::lookup) does not know the key and the request carries a token. The
    /// default knows no temporary credentials.
    fn lookup_session(
        &self,
        access_key_id: &str,
        token: &str,
    ) -> Result<Credential<Self::Principal>, TokenCheck> {
        let _ = (access_key_id, token);
        Err(TokenCheck::Invalid)
    }

    /// Validates the session token (`X-Amz-Security-Token`) sent with a request signed by a key.
    /// Called after the signature checked out (or, in deferred mode, after the head checks).
    /// The default accepts no token and refuses any token (long-term keys have none).
    fn check_session_token(
        &self,
        access_key_id: &str,
        principal: &Self::Principal,
        token: Option<&str>,
    ) -> TokenCheck {
        let _ = (access_key_id, principal);
        if token.is_some() {
            TokenCheck::Invalid
        } else {
            TokenCheck::Valid
        }
    }
}

/// How one service is authenticated.
#[derive(Debug, Clone)]
pub struct ServiceRules {
    /// The service name in the credential scope (`s3`, `sts`, …).
    pub name: String,
    /// Path canonicalisation.
    pub path_mode: PathMode,
    /// S3 payload rules: header-signed requests must carry `x-amz-content-sha256`; presigned
    /// requests without it are `UNSIGNED-PAYLOAD`.
    pub s3_payload_rules: bool,
    /// The presigned `X-Amz-Security-Token` is appended after signing and so left out of the
    /// canonical query (AWS IoT does this; the suite's `omit_session_token` flag).
    pub omit_session_token_from_query: bool,
}

impl ServiceRules {
    /// S3's rules: path as sent, S3 payload rules.
    pub fn s3() -> Self {
        Self {
            name: "s3".into(),
            path_mode: PathMode::AsSent,
            s3_payload_rules: true,
            omit_session_token_from_query: false,
        }
    }

    /// The rules of any other service: normalised, double-encoded path, payload hash
    /// computed from the body unless `x-amz-content-sha256` is sent.
    pub fn other(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path_mode: PathMode::Normalized,
            s3_payload_rules: false,
            omit_session_token_from_query: false,
        }
    }
}

/// Verifier configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region requests must be signed for.
    pub region: String,
    /// Accepted services.
    pub services: Vec<ServiceRules>,
    /// Allowed clock skew, seconds (AWS: 900).
    pub max_skew_secs: i64,
    /// Access key ids kept in the signing key cache.
    pub key_cache_capacity: usize,
    /// Largest accepted `aws-chunked` chunk, bytes (a chunk is held until its signature checks).
    pub max_chunk_size: u64,
}

impl Config {
    /// A configuration for `region` accepting S3 and STS.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            services: vec![ServiceRules::s3(), ServiceRules::other("sts")],
            max_skew_secs: 900,
            key_cache_capacity: 10_000,
            max_chunk_size: 16 << 20,
        }
    }

    /// The rules of an accepted service.
    pub fn service(&self, name: &str) -> Option<&ServiceRules> {
        self.services.iter().find(|s| s.name == name)
    }
}

/// The parts of a request the verifier reads. Header values are raw bytes as received, in order;
/// repeated headers appear repeatedly.
#[derive(Debug, Clone)]
pub struct RequestHead<'a> {
    /// The method (`GET`, …).
    pub method: &'a str,
    /// The path as sent on the wire (not decoded).
    pub path: &'a [u8],
    /// The query string as sent, without `?` (empty when none).
    pub query: &'a [u8],
    /// `(name, value)` in received order; names in any case. `:authority` counts as `host`.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// True when the request is known to have no body. Set from the headers by the constructors
    /// (`content-length: 0`, or neither `content-length` nor `transfer-encoding`); a server
    /// should set it from its body (`size_hint().exact() == Some(0)`), as HTTP/2 bodies need no
    /// `content-length`. Only consulted in [`PayloadMode::Deferred`] situations; a wrong `true`
    /// is caught by the body verifier (the body then has to hash to the empty hash).
    pub body_empty: bool,
}

impl<'a> RequestHead<'a> {
    /// A head from its parts.
    pub fn new(
        method: &'a str,
        path: &'a [u8],
        query: &'a [u8],
        headers: Vec<(&'a str, &'a [u8])>,
    ) -> Self {
        let mut h = Self {
            method,
            path,
            query,
            headers,
            body_empty: false,
        };
        h.body_empty = match h.header("content-length") {
            Some(v) => v.trim_ascii() == b"0",
            None => h.header("transfer-encoding").is_none(),
        };
        h
    }

    /// A head from an `http` request (hyper). The URI's authority stands for `host` when the
    /// request has no `host` header (HTTP/2).
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        let mut headers: Vec<(&str, &[u8])> = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        if !parts.headers.contains_key(http::header::HOST) {
            if let Some(a) = parts.uri.authority() {
                headers.push(("host", a.as_str().as_bytes()));
            }
        }
        Self::new(
            parts.method.as_str(),
            parts.uri.path().as_bytes(),
            parts.uri.query().unwrap_or("").as_bytes(),
            headers,
        )
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        let host_alias = name == "host" && self.header("host").is_none();
        self.headers
            .iter()
            .filter(move |(n, _)| {
                n.eq_ignore_ascii_case(name) || (host_alias && *n == ":authority")
            })
            .map(|(_, v)| *v)
    }
}

/// How the request was signed (for the `s3:authType` condition key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// `Authorization` header.
    Header,
    /// Presigned URL.
    Query,
}

impl AuthType {
    /// The `s3:authType` value: `REST-HEADER` or `REST-QUERY-STRING`.
    pub fn s3_auth_type(self) -> &'static str {
        match self {
            Self::Header => "REST-HEADER",
            Self::Query => "REST-QUERY-STRING",
        }
    }
}

/// What `x-amz-content-sha256` (or its absence) says of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD` (and S3 presigned URLs without the header): not checked.
    Unsigned,
    /// A signed hex SHA-256 of the body: checked at the end of the body.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: as above, plus a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked without signatures, checksum trailer.
    StreamingUnsignedTrailer,
    /// No `x-amz-content-sha256` (non-S3 services): the payload hash is the body's, so the
    /// signature itself is checked by the body verifier at the end of the body.
    Deferred,
}

/// The credential scope of a verified request: date, region and service, kept in one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    text: String,
    date_end: usize,
    region_end: usize,
}

impl Scope {
    /// A scope from its parts.
    pub fn new(date: &str, region: &str, service: &str) -> Scope {
        let mut text = String::with_capacity(date.len() + region.len() + service.len());
        text.push_str(date);
        text.push_str(region);
        text.push_str(service);
        Scope {
            text,
            date_end: date.len(),
            region_end: date.len() + region.len(),
        }
    }

    /// `YYYYMMDD`.
    pub fn date(&self) -> &str {
        &self.text[..self.date_end]
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.text[self.date_end..self.region_end]
    }

    /// The service.
    pub fn service(&self) -> &str {
        &self.text[self.region_end..]
    }
}

/// Everything the body verifier needs (signing key included: never log it; `Debug` redacts it).
#[derive(Clone)]
pub struct BodySigning {
    pub(crate) key: [u8; 32],
    pub(crate) amz_date: String,
    pub(crate) scope: String,
    pub(crate) seed_signature: [u8; 32],
    /// Deferred mode: the canonical request up to (excluding) the payload hash.
    pub(crate) canonical_prefix: Vec<u8>,
    /// SigV4A: the public key and DER signature (then `key` and `seed_signature` are zero and
    /// signed streaming modes are refused).
    pub(crate) v4a: Option<(V4aPublicKey, Vec<u8>)>,
}

impl std::fmt::Debug for BodySigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySigning")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .field("seed_signature", &hex::encode(self.seed_signature))
            .finish_non_exhaustive()
    }
}

/// A request whose head checked out.
#[derive(Debug, Clone)]
pub struct Authenticated<P> {
    /// The access key id.
    pub access_key_id: String,
    /// The store's principal handle.
    pub principal: P,
    /// The signed header names, lower-case, `;`-separated as in `SignedHeaders`
    /// (see [`Authenticated::signed_header_names`]).
    pub signed_headers: String,
    /// Credential scope. SigV4A: `region` is the configured region, which the signed
    /// [`Authenticated::region_set`] matched.
    pub scope: Scope,
    /// SigV4A: the signed `X-Amz-Region-Set`, as sent.
    pub region_set: Option<String>,
    /// Payload mode.
    pub payload: PayloadMode,
    /// Header or presigned.
    pub auth_type: AuthType,
    /// `AWS4-HMAC-SHA256` or `AWS4-ECDSA-P256-SHA256` (SigV4A).
    pub signature_version: &'static str,
    /// Whether a session token came with the request (validated by the store).
    pub session_token_present: bool,
    /// Request time (`X-Amz-Date`), Unix seconds.
    pub request_time: i64,
    /// Clock time minus request time, seconds (negative when the request is from the future).
    pub signature_age_secs: i64,
    /// Presigned: `X-Amz-Expires`.
    pub expires_secs: Option<u32>,
    /// `false` only in [`PayloadMode::Deferred`]: the signature is checked at the end of the body.
    pub signature_verified: bool,
    /// `x-amz-decoded-content-length`.
    pub decoded_content_length: Option<u64>,
    /// Checksums announced in `x-amz-trailer`.
    pub trailer_checksums: Vec<ChecksumAlgorithm>,
    /// A checksum sent as a header (`x-amz-checksum-*`), base64 as sent.
    pub checksum_header: Option<(ChecksumAlgorithm, String)>,
    /// Signing material for the body verifier.
    pub body_signing: BodySigning,
}

impl<P> Authenticated<P> {
    /// The signed header names, lower-case.
    pub fn signed_header_names(&self) -> impl Iterator<Item = &str> {
        super::parse::split_ascii(&self.signed_headers, b';')
    }

    /// The request's signature (the seed of chunk signatures); zero for SigV4A.
    pub fn seed_signature(&self) -> [u8; 32] {
        self.body_signing.seed_signature
    }
}

/// The canonical request and string to sign the verifier computed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The canonical request.
    pub canonical_request: Option<String>,
    /// The string to sign.
    pub string_to_sign: Option<String>,
}

/// The result of [`Verifier::verify`].
#[derive(Debug, Clone)]
pub enum Outcome<P> {
    /// No `Authorization` header and no presigned parameters.
    Anonymous,
    /// The head checked out (see [`Authenticated::signature_verified`]).
    Authenticated(Box<Authenticated<P>>),
}

/// The SigV4 verifier: configuration, credential store, clock and signing key cache.
pub struct Verifier<S, C = SystemClock> {
    config: Config,
    store: S,
    clock: C,
    cache: SigningKeyCache,
    v4a_cache: V4aKeyCache,
}

impl<S: CredentialStore> Verifier<S, SystemClock> {
    /// A verifier on the system clock.
    pub fn new(config: Config, store: S) -> Self {
        Self::with_clock(config, store, SystemClock)
    }
}

struct Signed<'a> {
    credential: CredentialScope<'a>,
    signed_headers: &'a str,
    signature: RequestSignature,
    amz_date: &'a str,
    expires: Option<u32>,
    token: Option<String>,
}

impl<S: CredentialStore, C: Clock> Verifier<S, C> {
    /// A verifier on the given clock.
    pub fn with_clock(config: Config, store: S, clock: C) -> Self {
        let cache = SigningKeyCache::new(config.key_cache_capacity);
        let v4a_cache = V4aKeyCache::new(config.key_cache_capacity);
        Self {
            config,
            store,
            clock,
            cache,
            v4a_cache,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The credential store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The body verifier of an authenticated request (bounded by [`Config::max_chunk_size`]).
    pub fn body_verifier<P>(
        &self,
        auth: &Authenticated<P>,
    ) -> Result<super::payload::BodyVerifier, AuthError> {
        super::payload::BodyVerifier::new(auth, self.config.max_chunk_size)
    }

    /// Verifies a request head. A request with no `Authorization` header and no presigned
    /// parameter is [`Outcome::Anonymous`] (the caller decides whether the service allows it, and
    /// answers [`AuthError::MissingAuthenticationToken`] otherwise); anything else is either
    /// authenticated or an error.
    ///
    /// A presigned URL (the AWS SigV4 test suite's `get-vanilla` case, presigned for an hour):
    ///
    /// ```
    /// use iamgate_sigv4::{AuthError, AuthType, Config, Credential, CredentialStore, FixedClock,
    ///     KeyStatus, Outcome, RequestHead, SecretKey, ServiceRules, Verifier};
    ///
    /// struct Keys;
    /// impl CredentialStore for Keys {
    ///     type Principal = u32;
    ///     fn lookup(&self, access_key_id: &str) -> Option<Credential<u32>> {
    ///         (access_key_id == "AKIDEXAMPLE").then(|| Credential {
    ///             secret: SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    ///             status: KeyStatus::Active,
    ///             principal: 42,
    ///         })
    ///     }
    /// }
    ///
    /// let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
    ///     &X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request\
    ///     &X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600\
    ///     &X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d";
    /// let head = RequestHead::new("GET", b"/", query.as_bytes(),
    ///     vec![("host", b"example.amazonaws.com".as_slice())]);
    /// let verifier_at = |now: i64| {
    ///     let mut config = Config::new("us-east-1");
    ///     config.services.push(ServiceRules::other("service"));
    ///     Verifier::with_clock(config, Keys, FixedClock(now))
    /// };
    /// let signed_at = 1_440_938_160; // 2015-08-30T12:36:00Z
    ///
    /// // Ten minutes later the URL is valid.
    /// let Ok(Outcome::Authenticated(auth)) = verifier_at(signed_at + 600).verify(&head) else {
    ///     panic!("valid")
    /// };
    /// assert_eq!(auth.principal, 42);
    /// assert_eq!(auth.auth_type, AuthType::Query);
    /// assert_eq!(auth.expires_secs, Some(3600));
    /// assert_eq!(auth.signature_age_secs, 600);
    ///
    /// // After an hour it has expired.
    /// let err = verifier_at(signed_at + 3601).verify(&head).unwrap_err();
    /// assert_eq!(err, AuthError::RequestExpired);
    /// assert_eq!((err.status(), err.code(), err.message().as_str()),
    ///     (403, "AccessDenied", "Request has expired"));
    /// ```
    pub fn verify(&self, head: &RequestHead<'_>) -> Result<Outcome<S::Principal>, AuthError> {
        self.verify_inner(head, None)
    }

    /// [`Verifier::verify`], also returning the canonical request and string to sign the verifier
    /// computed (S3 puts them in its `SignatureDoesNotMatch` answer; handy for debugging clients).
    /// They are `None` when verification stopped before they were built, or (canonical request
    /// only) lack the payload line in [`PayloadMode::Deferred`].
    pub fn verify_explained(
        &self,
        head: &RequestHead<'_>,
    ) -> (Result<Outcome<S::Principal>, AuthError>, Explanation) {
        let mut e = Explanation::default();
        let r = self.verify_inner(head, Some(&mut e));
        (r, e)
    }

    fn verify_inner(
        &self,
        head: &RequestHead<'_>,
        explain: Option<&mut Explanation>,
    ) -> Result<Outcome<S::Principal>, AuthError> {
        let auth_header = head.header("authorization");
        let params = parse_query(head.query);
        let presigned = presigned_from_params(&params);
        let presigned_owned;
        let signed = match (auth_header, presigned) {
            (None, Ok(None)) => return Ok(Outcome::Anonymous),
            (Some(_), Ok(Some(_))) => return Err(AuthError::AmbiguousAuthentication),
            (None, Err(e)) => return Err(e),
            (Some(h), _) => {
                let h = std::str::from_utf8(h).map_err(|_| {
                    AuthError::AuthorizationHeaderMalformed("the header is not valid UTF-8.".into())
                })?;
                let p = parse_authorization_header(h)?;
                let amz_date = head
                    .header_str("x-amz-date")
                    .ok_or(AuthError::MissingDate)?;
                let token = head.header_str("x-amz-security-token").map(str::to_owned);
                Signed {
                    credential: p.credential,
                    signed_headers: p.signed_headers,
                    signature: p.signature,
                    amz_date,
                    expires: None,
                    token,
                }
            }
            (None, Ok(Some(q))) => {
                presigned_owned = q;
                let q = &presigned_owned;
                let credential = match q.signature {
                    RequestSignature::Hmac(_) => parse_credential(&q.credential).ok_or_else(|| {
                        AuthError::AuthorizationQueryParametersError(
                            "X-Amz-Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".into(),
                        )
                    })?,
                    RequestSignature::Ecdsa(_) => parse_credential_v4a(&q.credential).ok_or_else(|| {
                        AuthError::AuthorizationQueryParametersError(
                            "X-Amz-Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/SERVICE/aws4_request\".".into(),
                        )
                    })?,
                };
                Signed {
                    credential,
                    signed_headers: &q.signed_headers,
                    signature: q.signature.clone(),
                    amz_date: &q.date,
                    expires: Some(q.expires),
                    token: q.security_token.clone(),
                }
            }
        };
        self.verify_signed(head, &params, signed, explain)
    }

    fn verify_signed(
        &self,
        head: &RequestHead<'_>,
        params: &[super::canonical::QueryParam<'_>],
        s: Signed<'_>,
        explain: Option<&mut Explanation>,
    ) -> Result<Outcome<S::Principal>, AuthError> {
        let query_form = s.expires.is_some();
        let malformed = |d: String| {
            if query_form {
                AuthError::AuthorizationQueryParametersError(d)
            } else {
                AuthError::AuthorizationHeaderMalformed(d)
            }
        };
        let c = &s.credential;
        if c.terminator != TERMINATOR {
            return Err(malformed(format!(
                "incorrect terminal '{}'. This endpoint uses 'aws4_request'.",
                c.terminator
            )));
        }
        let rules = self.config.service(c.service).ok_or_else(|| {
            malformed(format!(
                "incorrect service '{}'. This endpoint does not serve it.",
                c.service
            ))
        })?;
        let v4a = matches!(s.signature, RequestSignature::Ecdsa(_));
        if !v4a && c.region != self.config.region {
            return Err(AuthError::WrongRegion {
                region: c.region.to_owned(),
                expected: self.config.region.clone(),
                query: query_form,
            });
        }
        let request_time = parse_amz_date(s.amz_date).ok_or_else(|| {
            if query_form {
                AuthError::AuthorizationQueryParametersError(
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".into(),
                )
            } else {
                AuthError::MissingDate
            }
        })?;
        if !s.amz_date.starts_with(c.date) || c.date.len() != 8 {
            return Err(malformed(
                "Invalid credential date. Date is not the same as X-Amz-Date.".into(),
            ));
        }
        let now = self.clock.now_unix();
        let age = now.saturating_sub(request_time);
        let times = super::RequestTimes {
            request: request_time,
            server: now,
            max_skew_secs: self.config.max_skew_secs,
        };
        match s.expires {
            None if age.abs() > self.config.max_skew_secs => {
                return Err(AuthError::RequestTimeTooSkewed(times))
            }
            Some(_) if -age > self.config.max_skew_secs => {
                return Err(AuthError::RequestNotYetValid(times))
            }
            Some(exp) if age > i64::from(exp) => return Err(AuthError::RequestExpired),
            _ => {}
        }
        let cred = match (self.store.lookup(c.access_key_id), s.token.as_deref()) {
            (Some(cred), _) => cred,
            (None, Some(token)) => match self.store.lookup_session(c.access_key_id, token) {
                Ok(cred) => cred,
                Err(TokenCheck::Expired) => return Err(AuthError::ExpiredToken),
                Err(_) => return Err(AuthError::InvalidToken),
            },
            (None, None) => return Err(AuthError::InvalidAccessKeyId),
        };
        if cred.status == KeyStatus::Inactive {
            return Err(AuthError::InactiveAccessKey);
        }

        // Signed headers: host must be among them.
        // Clients send the names lower-case; only copy when one did not.
        let signed: std::borrow::Cow<'_, str> =
            if s.signed_headers.bytes().any(|b| b.is_ascii_uppercase()) {
                std::borrow::Cow::Owned(s.signed_headers.to_ascii_lowercase())
            } else {
                std::borrow::Cow::Borrowed(s.signed_headers)
            };
        let mut has_host = false;
        for name in split_ascii(&signed, b';') {
            if name.is_empty() {
                return Err(malformed(
                    "SignedHeaders contains an empty header name.".into(),
                ));
            }
            has_host |= name == "host";
        }
        if !has_host {
            return Err(malformed("'Host' must be a signed header.".into()));
        }

        // SigV4A: the signed region set must contain the configured region.
        let region_set = if v4a {
            let set = if query_form {
                params
                    .iter()
                    .find(|(n, _)| &n[..] == b"X-Amz-Region-Set")
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            } else if signed.split(';').any(|h| h == "x-amz-region-set") {
                head.header_str("x-amz-region-set").map(str::to_owned)
            } else {
                return Err(malformed(
                    "'X-Amz-Region-Set' must be a signed header.".into(),
                ));
            };
            let set = set.ok_or_else(|| malformed("X-Amz-Region-Set is missing.".into()))?;
            if !region_set_matches(&set, &self.config.region) {
                return Err(malformed(format!(
                    "the region set '{set}' does not include '{}'.",
                    self.config.region
                )));
            }
            Some(set)
        } else {
            None
        };

        // Payload mode and the canonical request's payload line.
        let content_sha = head.header_str("x-amz-content-sha256");
        let (payload, payload_line): (PayloadMode, Option<&str>) = match content_sha {
            Some("UNSIGNED-PAYLOAD") => (PayloadMode::Unsigned, content_sha),
            Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD") => {
                (PayloadMode::StreamingSigned, content_sha)
            }
            Some("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER") => {
                (PayloadMode::StreamingSignedTrailer, content_sha)
            }
            Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER") => {
                (PayloadMode::StreamingUnsignedTrailer, content_sha)
            }
            Some(v) => {
                let h = unhex32(v.as_bytes()).ok_or(AuthError::InvalidContentSha256)?;
                (PayloadMode::Sha256(h), content_sha)
            }
            None if rules.s3_payload_rules && query_form => {
                (PayloadMode::Unsigned, Some("UNSIGNED-PAYLOAD"))
            }
            None if rules.s3_payload_rules => return Err(AuthError::MissingContentSha256),
            None if head.body_empty => (PayloadMode::Sha256(empty_sha256()), Some(EMPTY_SHA256)),
            None => (PayloadMode::Deferred, None),
        };
        // Signed chunks of SigV4A uploads (STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD…) are not
        // supported yet; they, and HMAC-signed chunks under an ECDSA seed, are refused.
        if (query_form || v4a)
            && matches!(
                payload,
                PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
            )
        {
            return Err(AuthError::InvalidContentSha256);
        }
        let BodyHeaders {
            decoded_content_length,
            trailer_checksums,
            checksum_header,
        } = body_headers(head)?;
        if decoded_content_length.is_none()
            && matches!(
                payload,
                PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
            )
        {
            return Err(AuthError::MissingDecodedContentLength);
        }

        // Every `x-amz-*` header present must be signed, as S3 requires: an unsigned one could
        // be added by whoever holds a presigned URL or a captured request and change what it
        // does (`x-amz-copy-source`, `x-amz-acl`, …). Presigned requests may carry
        // `x-amz-content-sha256` outside `X-Amz-SignedHeaders`: its value is the canonical
        // request's payload line, so only the value the signer used verifies. Other services
        // than S3 may also leave `x-amz-security-token` unsigned (some add it after signing;
        // the token is checked).
        let unsigned = unsigned_amz_headers(head, &signed, query_form, rules.s3_payload_rules);
        if !unsigned.is_empty() {
            return Err(AuthError::HeadersNotSigned(unsigned));
        }

        // Canonical request.
        let mut cr: Vec<u8> = Vec::with_capacity(512);
        cr.extend_from_slice(head.method.as_bytes());
        cr.push(b'\n');
        canonical_path(&mut cr, head.path, rules.path_mode);
        cr.push(b'\n');
        let omit_token = rules.omit_session_token_from_query;
        canonical_query(&mut cr, head.query, |n| {
            n == b"X-Amz-Signature" || (omit_token && query_form && n == b"X-Amz-Security-Token")
        });
        cr.push(b'\n');
        for name in split_ascii(&signed, b';') {
            cr.extend_from_slice(name.as_bytes());
            cr.push(b':');
            for (i, v) in head.values(name).enumerate() {
                if i > 0 {
                    cr.push(b',');
                }
                canonical_header_value(&mut cr, v);
            }
            cr.push(b'\n');
        }
        cr.push(b'\n');
        cr.extend_from_slice(s.signed_headers.as_bytes());
        cr.push(b'\n');

        // The scope text is needed by the body verifier (signed chunks, or a signature that can
        // only be checked at the body's end), by SigV4A and by explanations; the HMAC takes it
        // in pieces.
        let body_needs_context = payload_line.is_none()
            || matches!(
                payload,
                PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
            );
        let scope = if body_needs_context || v4a || explain.is_some() {
            c.scope_string()
        } else {
            String::new()
        };
        let (key, seed_signature, v4a_signing) = match &s.signature {
            RequestSignature::Hmac(sig) => {
                let (key, mac) = self.cache.get_keyed(
                    c.access_key_id,
                    &cred.secret,
                    c.date,
                    c.region,
                    c.service,
                );
                (key, *sig, Err(mac))
            }
            RequestSignature::Ecdsa(der) => {
                let pk = self
                    .v4a_cache
                    .get(c.access_key_id, &cred.secret)
                    .ok_or(AuthError::SignatureDoesNotMatch)?;
                ([0u8; 32], [0u8; 32], Ok((pk, der.clone())))
            }
        };
        let signature_verified = match payload_line {
            Some(line) => {
                cr.extend_from_slice(line.as_bytes());
                let ok = match &v4a_signing {
                    Err(mac) => {
                        // The string to sign goes into the MAC piece by piece, never built.
                        let mut mac = mac.clone();
                        let cr_hash = hex32(&Sha256::digest(&cr).into());
                        for piece in [
                            s.signature.algorithm().as_bytes(),
                            b"\n",
                            s.amz_date.as_bytes(),
                            b"\n",
                            c.date.as_bytes(),
                            b"/",
                            c.region.as_bytes(),
                            b"/",
                            c.service.as_bytes(),
                            b"/",
                            c.terminator.as_bytes(),
                            b"\n",
                            &cr_hash,
                        ] {
                            hmac::Mac::update(&mut mac, piece);
                        }
                        let sig: [u8; 32] = hmac::Mac::finalize(mac).into_bytes().into();
                        bool::from(sig.ct_eq(&seed_signature))
                    }
                    Ok((pk, der)) => {
                        let sts =
                            string_to_sign_with(s.signature.algorithm(), s.amz_date, &scope, &cr);
                        pk.verify(sts.as_bytes(), der)
                    }
                };
                if let Some(e) = explain {
                    e.canonical_request = Some(String::from_utf8_lossy(&cr).into_owned());
                    e.string_to_sign = Some(string_to_sign_with(
                        s.signature.algorithm(),
                        s.amz_date,
                        &scope,
                        &cr,
                    ));
                }
                if !ok {
                    return Err(AuthError::SignatureDoesNotMatch);
                }
                true
            }
            None => {
                if let Some(e) = explain {
                    e.canonical_request = Some(String::from_utf8_lossy(&cr).into_owned());
                }
                false
            }
        };
        match self
            .store
            .check_session_token(c.access_key_id, &cred.principal, s.token.as_deref())
        {
            TokenCheck::Valid => {}
            TokenCheck::Invalid => return Err(AuthError::InvalidToken),
            TokenCheck::Expired => return Err(AuthError::ExpiredToken),
        }
        Ok(Outcome::Authenticated(Box::new(Authenticated {
            access_key_id: c.access_key_id.to_owned(),
            principal: cred.principal,
            signed_headers: signed.into_owned(),
            scope: Scope::new(
                c.date,
                if v4a { &self.config.region } else { c.region },
                c.service,
            ),
            region_set,
            payload,
            auth_type: if query_form {
                AuthType::Query
            } else {
                AuthType::Header
            },
            signature_version: s.signature.algorithm(),
            session_token_present: s.token.is_some(),
            request_time,
            signature_age_secs: age,
            expires_secs: s.expires,
            signature_verified,
            decoded_content_length,
            trailer_checksums,
            checksum_header,
            body_signing: BodySigning {
                key,
                amz_date: if body_needs_context {
                    s.amz_date.to_owned()
                } else {
                    String::new()
                },
                scope,
                seed_signature,
                canonical_prefix: if signature_verified { Vec::new() } else { cr },
                v4a: v4a_signing.ok(),
            },
        })))
    }
}

/// The `x-amz-*` headers of `head` that the signature does not cover, lower-case, in the
/// order received, each once, joined with `, ` as S3's `HeadersNotSigned` lists them; empty when
/// every one is signed. `signed` is the lower-case `SignedHeaders` list.
fn unsigned_amz_headers(head: &RequestHead<'_>, signed: &str, presigned: bool, s3: bool) -> String {
    let mut out = String::new();
    for (name, _) in &head.headers {
        let is_amz = name.len() > 6 && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-");
        if !is_amz
            || (presigned && name.eq_ignore_ascii_case("x-amz-content-sha256"))
            || (!s3 && name.eq_ignore_ascii_case("x-amz-security-token"))
            || split_ascii(signed, b';').any(|s| s.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if !out.split(", ").any(|seen| seen == lower) {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&lower);
        }
    }
    out
}

/// What the body-related headers announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BodyHeaders {
    /// `x-amz-decoded-content-length`.
    pub(crate) decoded_content_length: Option<u64>,
    /// The checksums named by `x-amz-trailer`.
    pub(crate) trailer_checksums: Vec<ChecksumAlgorithm>,
    /// An `x-amz-checksum-*` header (algorithm, base64 value).
    pub(crate) checksum_header: Option<(ChecksumAlgorithm, String)>,
}

/// Reads `x-amz-decoded-content-length`, `x-amz-trailer` and `x-amz-checksum-*`.
pub(crate) fn body_headers(head: &RequestHead<'_>) -> Result<BodyHeaders, AuthError> {
    let decoded_content_length = match head.header_str("x-amz-decoded-content-length") {
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| AuthError::MissingDecodedContentLength)?,
        ),
        None => None,
    };
    let trailer_checksums = match head.header_str("x-amz-trailer") {
        Some(t) if !t.is_empty() => t
            .split(',')
            .map(|n| {
                ChecksumAlgorithm::from_header_name(n.trim_matches([' ', '\t']))
                    .ok_or(AuthError::UnsupportedTrailer)
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let mut checksum_header = None;
    for (n, v) in &head.headers {
        if let Some(a) = ChecksumAlgorithm::from_header_name(n) {
            if checksum_header.is_some() {
                return Err(AuthError::InvalidChecksum);
            }
            let v = std::str::from_utf8(v).map_err(|_| AuthError::InvalidChecksum)?;
            checksum_header = Some((a, v.trim_matches([' ', '\t']).to_owned()));
        }
    }
    Ok(BodyHeaders {
        decoded_content_length,
        trailer_checksums,
        checksum_header,
    })
}

fn empty_sha256() -> [u8; 32] {
    // EMPTY_SHA256 is a valid 64-digit hex constant.
    unhex32(EMPTY_SHA256.as_bytes()).unwrap_or_default()
}

/// The canonical request as bytes, hashed into the string to sign and signed with `key`.
pub fn compute_signature(
    key: &[u8; 32],
    amz_date: &str,
    scope: &str,
    canonical_request: &[u8],
) -> [u8; 32] {
    let sts = string_to_sign(amz_date, scope, canonical_request);
    hmac_sha256(key, sts.as_bytes())
}

/// The string to sign of a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    string_to_sign_with(ALGORITHM, amz_date, scope, canonical_request)
}

/// The SigV4A string to sign of a canonical request (`scope` is `date/service/aws4_request`).
pub fn string_to_sign_v4a(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    string_to_sign_with(ALGORITHM_V4A, amz_date, scope, canonical_request)
}

fn string_to_sign_with(
    algorithm: &str,
    amz_date: &str,
    scope: &str,
    canonical_request: &[u8],
) -> String {
    let h = Sha256::digest(canonical_request);
    let mut s = String::with_capacity(algorithm.len() + amz_date.len() + scope.len() + 68);
    s.push_str(algorithm);
    s.push('\n');
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    push_hex32(&mut s, &h.into());
    s
}
