//! Who a request is from, resolved against the snapshot it started with: the anonymous
//! principal, an account's root user, a user, or a session of temporary credentials.

pub mod session;
pub mod token;

pub use session::Session;

use std::borrow::Cow;
use std::sync::Arc;

use crate::policy::{Context, PolicySet, Principal};
use crate::store::{Identity, KeyOwner, Snapshot};

/// The caller of a request.
#[derive(Debug)]
pub enum Caller {
    /// An unsigned request.
    Anonymous,
    /// An account's root user, with a long-term key.
    Root(Principal),
    /// A user, with a long-term key.
    Known(Arc<Identity>),
    /// Temporary credentials.
    Session(SessionCaller),
}

/// A caller signing with temporary credentials.
#[derive(Debug)]
pub struct SessionCaller {
    /// The opened session.
    pub session: Arc<Session>,
    /// The role or user the session belongs to, as the store has it now; `None` for a root
    /// session, or when the store no longer has the identity (which then allows nothing).
    pub identity: Option<Arc<Identity>>,
}

/// The policies a caller brings to a decision.
#[derive(Debug, Default)]
pub struct CallerPolicies<'a> {
    /// Identity-based policies.
    pub identity: Option<&'a PolicySet>,
    /// The permissions boundary.
    pub boundary: Option<&'a PolicySet>,
    /// Session policies.
    pub session: Option<Cow<'a, PolicySet>>,
}

impl Caller {
    /// Resolves the owner of a verified key: `None` when the store no longer knows it.
    pub fn resolve(
        snapshot: &Snapshot,
        account: &str,
        owner: &KeyOwner,
        session: Option<&Arc<Session>>,
    ) -> Option<Caller> {
        if let Some(session) = session {
            return Some(Caller::Session(SessionCaller {
                session: Arc::clone(session),
                identity: session
                    .identity_arn()
                    .and_then(|arn| snapshot.identity(arn))
                    .cloned(),
            }));
        }
        match owner {
            KeyOwner::Root => Principal::from_arn(&format!("arn:aws:iam::{account}:root"))
                .ok()
                .map(Caller::Root),
            KeyOwner::User(arn) => snapshot.identity(arn).cloned().map(Caller::Known),
        }
    }

    /// The principal policies see.
    pub fn principal(&self) -> Cow<'_, Principal> {
        match self {
            Caller::Anonymous => Cow::Owned(Principal::anonymous()),
            Caller::Root(p) => Cow::Borrowed(p),
            Caller::Known(identity) => Cow::Borrowed(&identity.principal),
            Caller::Session(s) => Cow::Borrowed(&s.session.principal),
        }
    }

    /// The session, for temporary credentials.
    pub fn session(&self) -> Option<&Arc<Session>> {
        match self {
            Caller::Session(s) => Some(&s.session),
            _ => None,
        }
    }

    /// The store identity behind the caller (a user, or a session's role or user).
    pub fn identity(&self) -> Option<&Arc<Identity>> {
        match self {
            Caller::Known(identity) => Some(identity),
            Caller::Session(s) => s.identity.as_ref(),
            _ => None,
        }
    }

    /// The policies the caller brings.
    pub fn policies<'a>(&'a self, snapshot: &'a Snapshot) -> CallerPolicies<'a> {
        match self {
            Caller::Known(identity) => CallerPolicies {
                identity: Some(&identity.policies),
                boundary: identity.boundary.as_ref(),
                session: None,
            },
            Caller::Session(s) => CallerPolicies {
                identity: s.identity.as_ref().map(|i| &i.policies),
                boundary: s.identity.as_ref().and_then(|i| i.boundary.as_ref()),
                session: s.session.policies(snapshot),
            },
            Caller::Anonymous | Caller::Root(_) => CallerPolicies::default(),
        }
    }

    /// The condition keys that describe the caller, at `now` (Unix seconds).
    pub fn context(&self, now: i64) -> Context {
        match self {
            Caller::Anonymous => {
                let mut c = Context::new();
                c.insert_known("aws:principaltype", "Anonymous");
                c.insert_known("aws:userid", "anonymous");
                c
            }
            Caller::Root(p) => {
                let mut c = Context::new();
                c.insert("aws:PrincipalArn", p.arn());
                if let Some(account) = p.account() {
                    c.insert("aws:PrincipalAccount", account);
                    c.insert("aws:userid", account);
                }
                c.insert("aws:PrincipalType", "Account");
                c
            }
            Caller::Known(identity) => identity.context(),
            Caller::Session(s) => s.session.context(s.identity.as_deref(), now),
        }
    }
}
