//! The AWS IAM policy language: parse, validate, compile, match and evaluate, with AWS's
//! semantics. No I/O: documents come in as text, decisions go out as values.
//!
//! A policy is compiled once, when it loads ([`Policy::parse`]): actions are lower-cased,
//! wildcard patterns prepared, condition values parsed to their types. Policies that apply
//! together are gathered in a [`PolicySet`], which indexes their statements by action. A
//! decision ([`evaluate`]) then only reads: it allocates nothing unless it has something to
//! report (a matched statement, a missing condition key).
//!
//! ```
//! use iamgate_policy::{evaluate, Action, Context, Policies, Policy, PolicyKind, PolicySet,
//!     Principal, Request, Outcome};
//!
//! let policy = Policy::parse("ReadReports", PolicyKind::Identity, r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::reports/*"}]
//! }"#).unwrap();
//! let identity = PolicySet::single(policy);
//! let bob = Principal::from_arn("arn:aws:iam::111122223333:user/bob").unwrap();
//! let decision = evaluate(
//!     &Policies { identity: Some(&identity), ..Policies::default() },
//!     &Request {
//!         principal: &bob,
//!         action: &Action::new("s3:GetObject"),
//!         resource: "arn:aws:s3:::reports/2026/q1.csv",
//!         context: &Context::new(),
//!     },
//! );
//! assert_eq!(decision.outcome, Outcome::Allowed);
//! ```

pub mod analyzer;
mod arn;
mod condition;
mod context;
mod document;
pub(crate) use document::{STATEMENT_ELEMENTS, TOP_LEVEL};
mod error;
mod evaluate;
mod principal;
mod wildcard;

pub use context::Context;
pub use document::{Action, Effect, Policy, PolicyKind};
pub use error::PolicyError;
pub use evaluate::{
    evaluate, Decision, MatchedStatement, Outcome, Policies, PolicySet, Request, Source,
};
pub use principal::{is_account_id, Principal, PrincipalArnError, PrincipalKind};
/// The engine's wildcard matcher, for the policy validator.
pub(crate) use wildcard::Glob;

#[doc(hidden)]
pub mod testing {
    //! Internals exposed for property tests and fuzzing; not a stable API.

    /// Whether `text` matches the wildcard `pattern` (`*` and `?`), as the engine matches.
    pub fn wildcard_matches(pattern: &str, text: &str) -> bool {
        super::wildcard::Glob::parse(pattern).matches(text)
    }
}
