//! SigV4 request authentication (issue 3).

pub mod body;
pub mod canonical;
pub mod checksum;
pub mod chunked;
pub mod error;
pub mod key;
pub mod parse;
pub mod payload;
pub mod verify;

pub use body::VerifiedBody;
pub use canonical::PathMode;
pub use error::{AuthError, ChecksumAlgorithm, Dialect};
pub use key::{SecretKey, SigningKeyCache};
pub use payload::BodyVerifier;
pub use verify::{
    AuthType, Authenticated, Clock, Config, Credential, CredentialStore, Explanation, FixedClock,
    KeyStatus, Outcome, PayloadMode, RequestHead, Scope, ServiceRules, SystemClock, TokenCheck,
    Verifier,
};
