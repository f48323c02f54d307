//! The built-in STS: temporary credentials for roles, users with MFA, and web identities. The
//! sessions it issues, and the tokens that carry them, are callers' ([`crate::caller::session`],
//! [`crate::caller::token`]): a request signed with a session's keys is authenticated without STS.
//!
//! * [`mfa`]: RFC 6238 codes of virtual MFA devices, each accepted once;
//! * [`oidc`]: OpenID Connect tokens for `AssumeRoleWithWebIdentity`;
//! * [`actions`]: the operations, decided against the snapshot, answered in STS's XML.

pub mod actions;
pub mod mfa;
pub mod oidc;

pub use crate::caller::session::Session;
pub use crate::caller::token::{SessionClaims, Subject, TokenError, TokenKeys};
pub use actions::{Call, Params, Sts, StsError, StsResponse};
