//! Sans-IO verification of AWS Signature Version 4 requests.
//!
//! A sans-IO verifier of AWS Signature Version 4 (`AWS4-HMAC-SHA256`) and SigV4A
//! (`AWS4-ECDSA-P256-SHA256`, [`v4a`]) requests, in the `Authorization` header form and the
//! presigned query form, plus streaming verifiers for every
//! payload mode of `x-amz-content-sha256`. Nothing here does IO: the proxy hands in the request
//! head and the body bytes. See `docs/SIGV4.md` for what is verified and why.
//!
//! # Use
//!
//! ```no_run
//! # use iamgate_sigv4::*;
//! # struct Keys;
//! # impl CredentialStore for Keys {
//! #     type Principal = String;
//! #     fn lookup(&self, _: &str) -> Option<Credential<String>> { None }
//! # }
//! # fn demo(parts: http::request::Parts, body: http_body_util::Empty<bytes::Bytes>) -> Result<(), AuthError> {
//! let verifier = Verifier::new(Config::new("us-east-1"), Keys);
//! let mut head = RequestHead::from_parts(&parts);
//! head.body_empty = false; // from the server's own knowledge of the body
//! match verifier.verify(&head)? {
//!     Outcome::Anonymous => { /* policy decides; non-S3: AuthError::MissingAuthenticationToken */ }
//!     Outcome::Authenticated(auth) => {
//!         // auth.principal, auth.scope, auth.auth_type.s3_auth_type(), ... feed the policy.
//!         let checked = BodyVerifier::new(&auth, verifier.config().max_chunk_size)?;
//!         let _body = VerifiedBody::new(body, checked); // forward this upstream
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Pieces
//!
//! * [`Verifier::verify`] checks a [`RequestHead`]: parses ([`parse`]), checks scope (region,
//!   service, date, `aws4_request`), clock skew or presigned expiry, the key (through the
//!   [`CredentialStore`]), canonicalises ([`canonical`]) and compares the signature in constant
//!   time. Signing keys come from a bounded [`SigningKeyCache`] keyed by access key id, secret
//!   fingerprint, date, region and service.
//! * [`BodyVerifier`] (sans-IO, `push`/`finish`) verifies and decodes the body for the request's
//!   [`PayloadMode`]; [`VerifiedBody`] wraps any `http_body::Body<Data = Bytes>` with it.
//! * [`AuthError`] carries AWS's status, code and message, in S3's codes or the codes every
//!   other service uses ([`CodeFamily`]); the server renders them in its protocol.
//!
//! # Decisions
//!
//! * **Path**: S3 ([`PathMode::AsSent`]) signs the path as sent, with only bytes outside the
//!   unreserved set (and `/`) encoded and `%XX` escapes kept; other services
//!   ([`PathMode::Normalized`]) remove dot segments, collapse slashes and encode again (double
//!   encoding), as the SDKs sign them.
//! * **Query**: percent-decoded then re-encoded, sorted by name then value; `+` is a literal `+`.
//! * **Deferred signatures**: a non-S3 request without `x-amz-content-sha256` signs the body's
//!   hash. When the head says the body is empty the empty hash is used at once; otherwise the
//!   head is checked completely except for the signature ([`PayloadMode::Deferred`],
//!   [`Authenticated::signature_verified`] is `false`) and the [`BodyVerifier`] completes the
//!   canonical request with the computed hash and checks the signature at the end of the body.
//!   Until then nothing about the caller is proven: the proxy may evaluate policy, but must only
//!   commit the upstream request when the body ends cleanly (the last piece of data is held back,
//!   so an upstream never receives a whole body whose signature failed). For small bodies
//!   (STS-style form posts) buffering the body first is the simplest correct use.
//! * **Hold-back**: whenever a check happens at the end of the body (payload hash, deferred
//!   signature, checksums, trailer signature) the last released piece is held until it passes.
//!   Signed chunks are released only after their signature checked out.
//! * **Inactive keys** answer `InvalidAccessKeyId` as AWS does, but are a separate variant
//!   ([`AuthError::InactiveAccessKey`]) for the decision log.
//! * **Session tokens** are validated by [`CredentialStore::check_session_token`] after the
//!   signature; its default refuses any token (long-term keys have none).

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
