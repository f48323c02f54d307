//! The built-in STS: temporary credentials for roles, users with MFA, and web identities.
//!
//! * [`token`]: session tokens, sealed with AES-256-GCM, carrying the whole session, so that
//!   replicas share nothing but the sealing keys;
//! * [`session`]: a token opened: its principal, session policies and condition keys;
//! * [`mfa`]: RFC 6238 codes of virtual MFA devices, each accepted once;
//! * [`oidc`]: OpenID Connect tokens for `AssumeRoleWithWebIdentity`;
//! * [`actions`]: the operations, decided against the snapshot, answered in STS's XML.

pub mod actions;
pub mod mfa;
pub mod oidc;
pub mod session;
pub mod token;

pub use actions::{Call, Params, Sts, StsError, StsResponse};
pub use session::Session;
pub use token::{SessionClaims, Subject, TokenError, TokenKeys};
