//! The AWS IAM policy language, with AWS's semantics: parse, validate, compile and evaluate
//! identity, resource and trust policies, and explain each decision. No I/O and no async
//! runtime: documents come in as text, decisions go out as values.
//!
//! A policy is compiled once, when it loads ([`Policy::parse`]): actions are lower-cased,
//! wildcard patterns prepared, condition values parsed to their types, and a document AWS
//! would refuse is refused with a [`PolicyError`] that names the statement and element. Policies
//! that apply together are gathered in a [`PolicySet`], which indexes their statements by
//! action. A decision ([`evaluate`]) then only reads: it allocates nothing unless it has
//! something to report (a matched statement, a missing condition key).
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
//!
//! # Conditions, variables and the explanation
//!
//! The caller supplies the request's condition keys in a [`Context`], including those that
//! describe the principal (`aws:username`, `aws:PrincipalTag/...`) and the environment
//! (`aws:SecureTransport`, `aws:SourceIp`, `aws:CurrentTime`): the evaluator derives nothing
//! itself. Every [`Decision`] says which statements decided it and which condition keys a
//! statement wanted but the request lacked.
//!
//! ```
//! use iamgate_policy::{evaluate, Action, Context, Effect, Outcome, Policies, Policy, PolicyKind,
//!     PolicySet, Principal, Request, Source};
//!
//! let policy = Policy::parse("Home", PolicyKind::Identity, r#"{
//!     "Version": "2012-10-17",
//!     "Statement": [
//!         {"Sid": "OwnFolder", "Effect": "Allow", "Action": "s3:GetObject",
//!          "Resource": "arn:aws:s3:::home/${aws:username}/*"},
//!         {"Sid": "TlsOnly", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
//!          "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
//!     ]
//! }"#).unwrap();
//! let identity = PolicySet::single(policy);
//! let policies = Policies { identity: Some(&identity), ..Policies::default() };
//! let bob = Principal::from_arn("arn:aws:iam::111122223333:user/bob").unwrap();
//! let action = Action::new("s3:GetObject");
//! let decide = |resource: &str, context: &Context| {
//!     evaluate(&policies, &Request { principal: &bob, action: &action, resource, context })
//! };
//!
//! let mut context = Context::new();
//! context.insert("aws:username", "bob");
//! context.insert("aws:SecureTransport", "true");
//! let decision = decide("arn:aws:s3:::home/bob/notes.txt", &context);
//! assert!(decision.is_allowed());
//! assert_eq!(decision.matched[0].sid.as_deref(), Some("OwnFolder"));
//! assert_eq!(decision.matched[0].source, Source::Identity);
//!
//! // Another user's folder: nothing allows it.
//! assert_eq!(decide("arn:aws:s3:::home/alice/notes.txt", &context).outcome, Outcome::ImplicitDeny);
//!
//! // Over plain HTTP the deny applies, and is what the decision names.
//! context.insert("aws:SecureTransport", "false");
//! let decision = decide("arn:aws:s3:::home/bob/notes.txt", &context);
//! assert_eq!(decision.outcome, Outcome::ExplicitDeny);
//! assert_eq!(decision.matched[0].sid.as_deref(), Some("TlsOnly"));
//! assert_eq!(decision.matched[0].effect, Effect::Deny);
//! ```
//!
//! # Validation
//!
//! [`Policy::parse`] refuses what AWS refuses. What loads may still not do what was meant (a
//! misspelt action grants nothing): [`analyzer::validate_policy`] reports it as IAM Access
//! Analyzer's `ValidatePolicy` does, with its finding types and issue codes.
//!
//! # What it reproduces
//!
//! The grammar and AWS's refusals; action, resource and principal matching (wildcards, policy
//! variables, `NotAction`/`NotResource`/`NotPrincipal`); every condition operator with
//! `IfExists` and the `ForAllValues:`/`ForAnyValue:` qualifiers; AWS's evaluation logic across
//! identity policies, permissions boundaries, session policies and resource policies (an
//! explicit deny wins; within an account a resource policy naming the caller allows by itself;
//! across accounts both sides must allow; a role's trust policy and a KMS key policy must
//! allow). The repository's `docs/POLICY.md` and `docs/VALIDATION.md` describe each rule and
//! where AWS leaves a choice, what this crate chose.
//!
//! # What it does not do
//!
//! It reads no files, fetches no policies and resolves no principals: the caller finds the
//! policies that apply to a request (the caller's, its boundary, the resource's) and builds its
//! context. It depends on nothing of the iamgate gateway.

// The README's examples run as doc tests too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

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
