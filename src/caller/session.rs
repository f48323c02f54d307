//! An opened session: its principal, its session policies compiled, and the condition keys it
//! brings to every request it signs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::token::{SessionClaims, Subject, TokenError, TokenKeys};
use crate::context::iso8601;
use crate::policy::{Context, Policy, PolicyKind, PolicySet, Principal};
use crate::store::{Identity, Snapshot};

/// A session token, opened.
#[derive(Debug)]
pub struct Session {
    /// What the token carries.
    pub claims: SessionClaims,
    /// The session's principal: the role session, the user, or the account root.
    pub principal: Principal,
    /// The inline session policy alone, compiled once; `None` when the session has none.
    inline: Option<Arc<Policy>>,
    /// The session policy set, prebuilt when it needs nothing from the store.
    prebuilt: Option<PolicySet>,
}

impl Session {
    /// A session from opened claims.
    pub fn from_claims(claims: SessionClaims) -> Result<Session, TokenError> {
        let principal = match &claims.subject {
            Subject::Role { arn, session, .. } => Principal::assumed_role(arn, session),
            Subject::User { arn, .. } => Principal::from_arn(arn),
            Subject::Root => Principal::from_arn(&format!("arn:aws:iam::{}:root", claims.account)),
        }
        .map_err(|_| TokenError::Invalid)?;
        let inline = match &claims.policy {
            Some(text) => Some(Arc::new(
                Policy::parse("session policy", PolicyKind::Identity, text)
                    .map_err(|_| TokenError::Invalid)?,
            )),
            None => None,
        };
        let prebuilt = match (&inline, claims.policy_arns.is_empty()) {
            (Some(p), true) => Some(PolicySet::new(vec![Arc::clone(p)])),
            _ => None,
        };
        Ok(Session {
            claims,
            principal,
            inline,
            prebuilt,
        })
    }

    /// The ARN of the store identity whose policies the session carries: the role, or the user.
    pub fn identity_arn(&self) -> Option<&str> {
        match &self.claims.subject {
            Subject::Role { arn, .. } | Subject::User { arn, .. } => Some(arn),
            Subject::Root => None,
        }
    }

    /// Whether this is a role session.
    pub fn is_role(&self) -> bool {
        matches!(self.claims.subject, Subject::Role { .. })
    }

    /// `aws:userid`: `ROLEID:SESSION` for a role session, the user's id, or the account.
    pub fn user_id(&self) -> String {
        match &self.claims.subject {
            Subject::Role { id, session, .. } => format!("{id}:{session}"),
            Subject::User { id, .. } => id.clone(),
            Subject::Root => self.claims.account.clone(),
        }
    }

    /// The session policies, which cap the identity's: `None` when the session has none. Managed
    /// session policies are read from `snapshot`, so they change with the store as AWS's do; one
    /// that is gone leaves the cap in place, allowing less, never more.
    pub fn policies(&self, snapshot: &Snapshot) -> Option<std::borrow::Cow<'_, PolicySet>> {
        if let Some(set) = &self.prebuilt {
            return Some(std::borrow::Cow::Borrowed(set));
        }
        if self.inline.is_none() && self.claims.policy_arns.is_empty() {
            return None;
        }
        let mut policies: Vec<Arc<Policy>> = self.inline.iter().cloned().collect();
        for arn in &self.claims.policy_arns {
            if let Some(p) = snapshot.managed_policy(arn) {
                policies.push(Arc::clone(p));
            }
        }
        Some(std::borrow::Cow::Owned(PolicySet::new(policies)))
    }

    /// The condition keys of a request this session signs. `identity` is the role or user the
    /// session belongs to, as the store has it now.
    pub fn context(&self, identity: Option<&Identity>, now: i64) -> Context {
        let c = &self.claims;
        let mut context = match (&c.subject, identity) {
            (Subject::User { .. }, Some(user)) => user.context(),
            (subject, _) => {
                let (arn, kind) = match subject {
                    // For a role session, aws:PrincipalArn is the role's ARN, not the session's.
                    Subject::Role { arn, .. } => (arn.as_str(), "AssumedRole"),
                    Subject::User { arn, .. } => (arn.as_str(), "User"),
                    Subject::Root => (self.principal.arn(), "Account"),
                };
                let mut context = Context::new();
                context.insert("aws:PrincipalArn", arn);
                context.insert("aws:PrincipalAccount", c.account.as_str());
                context.insert("aws:PrincipalType", kind);
                context.insert("aws:userid", self.user_id());
                if let (Subject::Role { .. }, Some(role)) = (subject, identity) {
                    for (k, v) in &role.tags {
                        context.insert(&format!("aws:PrincipalTag/{k}"), v.as_str());
                    }
                }
                context
            }
        };
        // Session tags win over the identity's tags of the same key.
        for (k, v) in &c.tags {
            context.insert(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
        context.insert("aws:TokenIssueTime", iso8601(c.issued));
        match c.mfa_time {
            Some(at) => {
                context.insert("aws:MultiFactorAuthPresent", "true");
                context.insert("aws:MultiFactorAuthAge", (now - at).max(0).to_string());
            }
            None => context.insert("aws:MultiFactorAuthPresent", "false"),
        }
        if let Some(s) = &c.source_identity {
            context.insert("aws:SourceIdentity", s.as_str());
        }
        if let Some(p) = &c.federated_provider {
            context.insert("aws:FederatedProvider", p.as_str());
        }
        context
    }
}

/// Opened sessions by token, so that a token's policy is compiled once, not per request.
/// Bounded: when full it starts again empty (sessions are cheap to reopen).
#[derive(Debug)]
pub struct SessionCache {
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    capacity: usize,
}

impl SessionCache {
    /// A cache of at most `capacity` sessions.
    pub fn new(capacity: usize) -> SessionCache {
        SessionCache {
            sessions: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The session of `token` at `now`, opened with `keys` unless cached.
    pub fn open(
        &self,
        keys: &TokenKeys,
        token: &str,
        now: i64,
    ) -> Result<Arc<Session>, TokenError> {
        let cached = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned();
        if let Some(session) = cached {
            if now >= session.claims.expires {
                return Err(TokenError::Expired);
            }
            return Ok(session);
        }
        let session = Arc::new(Session::from_claims(keys.open(token, now)?)?);
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= self.capacity {
            sessions.retain(|_, s| now < s.claims.expires);
            if sessions.len() >= self.capacity {
                sessions.clear();
            }
        }
        sessions.insert(Arc::from(token), Arc::clone(&session));
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(policy: Option<&str>) -> SessionClaims {
        SessionClaims {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            account: "111122223333".into(),
            subject: Subject::Role {
                arn: "arn:aws:iam::111122223333:role/ops/auditor".into(),
                id: "AROAEXAMPLE".into(),
                session: "bob".into(),
            },
            issued: 1_000,
            expires: 2_000,
            policy: policy.map(str::to_owned),
            policy_arns: vec![],
            tags: vec![("team".into(), "blue".into())],
            transitive_tag_keys: vec![],
            mfa_time: Some(900),
            source_identity: Some("bob".into()),
            federated_provider: None,
            chained: false,
        }
    }

    #[test]
    fn a_role_session_is_its_assumed_role_principal_with_aws_context_keys() {
        let s = Session::from_claims(claims(None)).unwrap();
        assert_eq!(
            s.principal.arn(),
            "arn:aws:sts::111122223333:assumed-role/auditor/bob"
        );
        assert_eq!(
            s.principal.role_arn(),
            Some("arn:aws:iam::111122223333:role/ops/auditor")
        );
        let c = s.context(None, 1_500);
        assert_eq!(
            c.single("aws:principalarn"),
            Some("arn:aws:iam::111122223333:role/ops/auditor")
        );
        assert_eq!(c.single("aws:principaltype"), Some("AssumedRole"));
        assert_eq!(c.single("aws:userid"), Some("AROAEXAMPLE:bob"));
        assert_eq!(c.single("aws:principaltag/team"), Some("blue"));
        assert_eq!(c.single("aws:multifactorauthpresent"), Some("true"));
        assert_eq!(c.single("aws:multifactorauthage"), Some("600"));
        assert_eq!(c.single("aws:tokenissuetime"), Some("1970-01-01T00:16:40Z"));
        assert_eq!(c.single("aws:sourceidentity"), Some("bob"));
        assert!(s.policies(&Snapshot::default()).is_none());
    }

    #[test]
    fn an_inline_session_policy_is_compiled_once() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let s = Session::from_claims(claims(Some(policy))).unwrap();
        let snapshot = Snapshot::default();
        let a = s.policies(&snapshot).unwrap();
        assert!(matches!(a, std::borrow::Cow::Borrowed(_)));
        assert_eq!(a.policies().len(), 1);
    }

    #[test]
    fn the_cache_returns_the_same_session_and_still_expires_it() {
        let keys = TokenKeys::generate().unwrap();
        let token = keys.seal(&claims(None)).unwrap();
        let cache = SessionCache::new(2);
        let a = cache.open(&keys, &token, 1_500).unwrap();
        let b = cache.open(&keys, &token, 1_600).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            cache.open(&keys, &token, 2_000).unwrap_err(),
            TokenError::Expired
        );
        // A tampered token is never served from the cache.
        let mut bad = token.clone();
        bad.push('A');
        assert_eq!(
            cache.open(&keys, &bad, 1_500).unwrap_err(),
            TokenError::Invalid
        );
        // Capacity is kept.
        for _ in 0..5 {
            let t = keys.seal(&claims(None)).unwrap();
            cache.open(&keys, &t, 1_500).unwrap();
        }
        assert!(cache.sessions.lock().unwrap().len() <= 2);
    }
}
