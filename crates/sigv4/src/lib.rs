//! Sans-IO verification of AWS Signature Version 4 requests: `AWS4-HMAC-SHA256` and SigV4A
//! (`AWS4-ECDSA-P256-SHA256`, [`v4a`]), in the `Authorization` header form and the presigned
//! query form, with streaming verifiers for every payload mode of `x-amz-content-sha256`
//! (signed hashes, `aws-chunked` with signed chunks and trailers, checksums). It verifies as
//! AWS does, so that the AWS CLI, the SDKs and `curl --aws-sigv4` work unchanged against a
//! service that uses it.
//!
//! Nothing here does I/O: the server hands in the request head ([`RequestHead`]) and then the
//! body bytes ([`BodyVerifier`]), and gets back who signed the request ([`Authenticated`]) or
//! an [`AuthError`] that carries AWS's status, code and message.
//!
//! # Verifying a request
//!
//! The caller keeps the credentials: a [`CredentialStore`] answers what it knows of an access
//! key id (its secret, whether it is active, and a principal handle of the caller's own type).
//! Here the store knows the key of the AWS SigV4 test suite, and the request is the suite's
//! `get-vanilla` case at the suite's time.
//!
//! ```
//! use iamgate_sigv4::{AuthError, CodeFamily, Config, Credential, CredentialStore, FixedClock,
//!     KeyStatus, Outcome, RequestHead, SecretKey, ServiceRules, Verifier};
//!
//! struct Keys;
//!
//! impl CredentialStore for Keys {
//!     type Principal = &'static str;
//!
//!     fn lookup(&self, access_key_id: &str) -> Option<Credential<&'static str>> {
//!         (access_key_id == "AKIDEXAMPLE").then(|| Credential {
//!             secret: SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
//!             status: KeyStatus::Active,
//!             principal: "example-user",
//!         })
//!     }
//! }
//!
//! # fn main() -> Result<(), AuthError> {
//! let mut config = Config::new("us-east-1"); // accepts `s3` and `sts` by default
//! config.services.push(ServiceRules::other("service"));
//! // `Verifier::new` reads the system clock; this one is stopped at 2015-08-30T12:36:00Z.
//! let verifier = Verifier::with_clock(config, Keys, FixedClock(1_440_938_160));
//!
//! let request = http::Request::get("/")
//!     .header("host", "example.amazonaws.com")
//!     .header("x-amz-date", "20150830T123600Z")
//!     .header("authorization", "AWS4-HMAC-SHA256 \
//!         Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
//!         SignedHeaders=host;x-amz-date, \
//!         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
//!     .body(())
//!     .unwrap();
//! let (parts, _body) = request.into_parts();
//!
//! match verifier.verify(&RequestHead::from_parts(&parts))? {
//!     Outcome::Authenticated(auth) => {
//!         assert_eq!(auth.principal, "example-user");
//!         assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
//!         assert_eq!(auth.scope.service(), "service");
//!         assert!(auth.signature_verified);
//!     }
//!     Outcome::Anonymous => unreachable!("the request is signed"),
//! }
//!
//! // Signed a second later: the signature no longer matches.
//! let mut parts = parts;
//! parts.headers.insert("x-amz-date", "20150830T123601Z".parse().unwrap());
//! let err = verifier.verify(&RequestHead::from_parts(&parts)).unwrap_err();
//! assert_eq!(err, AuthError::SignatureDoesNotMatch);
//! assert_eq!((err.status(), err.code()), (403, "SignatureDoesNotMatch"));
//! assert_eq!(err.code_for(CodeFamily::Common), "SignatureDoesNotMatch");
//! # Ok(())
//! # }
//! ```
//!
//! Then the body: [`Verifier::body_verifier`] gives the [`BodyVerifier`] of an authenticated
//! request (sans-IO, `push`/`finish`, see its example), and [`VerifiedBody`] wraps any
//! `http_body::Body<Data = Bytes>` with it, for a server that forwards the body as it streams:
//!
//! ```no_run
//! # use iamgate_sigv4::*;
//! # struct Keys;
//! # impl CredentialStore for Keys {
//! #     type Principal = String;
//! #     fn lookup(&self, _: &str) -> Option<Credential<String>> { None }
//! # }
//! # fn demo(parts: http::request::Parts, body: http_body_util::Full<bytes::Bytes>) -> Result<(), AuthError> {
//! let verifier = Verifier::new(Config::new("us-east-1"), Keys);
//! let mut head = RequestHead::from_parts(&parts);
//! head.body_empty = http_body::Body::size_hint(&body).exact() == Some(0);
//! match verifier.verify(&head)? {
//!     Outcome::Anonymous => {
//!         // Unsigned: the server decides whether the resource allows it; services other than
//!         // S3 answer `AuthError::MissingAuthenticationToken`.
//!     }
//!     Outcome::Authenticated(auth) => {
//!         // auth.principal, auth.scope, auth.auth_type.s3_auth_type(), ... feed the policy.
//!         let body = VerifiedBody::new(body, verifier.body_verifier(&auth)?);
//!         // Forward `body`: it yields only verified data and ends in an error otherwise.
//! #       let _ = body;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # What it checks
//!
//! * [`Verifier::verify`] checks a [`RequestHead`]: parses the signature ([`parse`]), checks
//!   the scope (region, service, date, `aws4_request`), the clock skew or the presigned
//!   expiry, the key (through the [`CredentialStore`]), that every `x-amz-*` header present is
//!   signed, canonicalises the request ([`canonical`]) and compares the signature in constant
//!   time. Signing keys come from a bounded [`SigningKeyCache`] keyed by access key id, secret
//!   fingerprint, date, region and service; SigV4A public keys from a [`V4aKeyCache`].
//! * [`BodyVerifier`] verifies and decodes the body for the request's [`PayloadMode`]:
//!   the signed SHA-256, `aws-chunked` chunk and trailer signatures ([`chunked`]),
//!   `x-amz-checksum-*` values ([`checksum`]), the declared decoded length.
//! * [`Claim`] reads what a request says about its own signature (where it is, which key, which
//!   service) without checking any of it: enough to pick the service that answers, and the
//!   protocol of its errors, before verifying.
//! * [`AuthError`] carries AWS's status, code and message, in S3's codes or the codes every
//!   other service uses ([`CodeFamily`]); the server renders them in its protocol (S3's XML,
//!   the query protocol's XML, JSON).
//!
//! The repository's `docs/SIGV4.md` lists every check, the error each failure gives and the
//! decisions taken where AWS is silent.
//!
//! # Decisions
//!
//! * **Path**: S3 ([`PathMode::AsSent`]) signs the path as sent, with only bytes outside the
//!   unreserved set (and `/`) encoded and `%XX` escapes kept; other services
//!   ([`PathMode::Normalized`]) remove dot segments, collapse slashes and encode again (double
//!   encoding), as the SDKs sign them. [`ServiceRules`] says which a service uses.
//! * **Query**: percent-decoded then re-encoded, sorted by name then value; `+` is a literal `+`.
//! * **Deferred signatures**: a non-S3 request without `x-amz-content-sha256` signs the body's
//!   hash. When the head says the body is empty the empty hash is used at once; otherwise the
//!   head is checked completely except for the signature ([`PayloadMode::Deferred`],
//!   [`Authenticated::signature_verified`] is `false`) and the [`BodyVerifier`] completes the
//!   canonical request with the computed hash and checks the signature at the end of the body.
//!   Until then nothing about the caller is proven: a server may evaluate policy, but must only
//!   commit the request when the body ends cleanly (the last piece of data is held back, so a
//!   consumer never receives a whole body whose signature failed). For small bodies
//!   (STS-style form posts) reading the body first is the simplest correct use.
//! * **Hold-back**: whenever a check happens at the end of the body (payload hash, deferred
//!   signature, checksums, trailer signature) the last released piece is held until it passes.
//!   Signed chunks are released only after their signature checked out.
//! * **Inactive keys** answer `InvalidAccessKeyId` as AWS does, but are a separate variant
//!   ([`AuthError::InactiveAccessKey`]) for an audit log.
//! * **Session tokens** are validated by [`CredentialStore::check_session_token`] after the
//!   signature; its default refuses any token (long-term keys have none). Temporary keys are
//!   found through [`CredentialStore::lookup_session`].
//! * **Not supported**: SigV4A's signed streaming uploads
//!   (`STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD`) are refused with `InvalidContentSha256`.
//!
//! # What it does not do
//!
//! It stores no credentials (the caller's [`CredentialStore`] does), decides no permissions
//! (an [`Authenticated`] says who signed, not what they may do), reads no sockets and renders
//! no responses. It depends on nothing of the iamgate gateway. The lower-level pieces
//! ([`canonical`], [`key`], [`parse`], [`chunked`], [`checksum`], [`timestamp`]) are public for
//! servers and tests that need them, for instance to sign a request with the same rules.

// The README's examples run as doc tests too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

pub mod body;
pub mod canonical;
pub mod checksum;
pub mod chunked;
pub mod claim;
pub mod error;
pub mod key;
pub mod parse;
pub mod payload;
pub mod timestamp;
pub mod v4a;
pub mod verify;

pub use body::VerifiedBody;
pub use canonical::PathMode;
pub use claim::Claim;
pub use error::{AuthError, ChecksumAlgorithm, CodeFamily, RequestTimes};
pub use key::{SecretKey, SigningKeyCache};
pub use payload::BodyVerifier;
pub use v4a::{V4aKeyCache, V4aPublicKey, ALGORITHM_V4A};
pub use verify::{
    AuthType, Authenticated, Clock, Config, Credential, CredentialStore, Explanation, FixedClock,
    KeyStatus, Outcome, PayloadMode, RequestHead, Scope, ServiceRules, SystemClock, TokenCheck,
    Verifier,
};
