//! The decision: AWS's policy evaluation logic over compiled policy sets.
//!
//! 1. An explicit deny in any policy that applies wins.
//! 2. Within one account, a resource policy that names the caller (or everyone) allows by
//!    itself; one that names the caller's account delegates to the identity side. A role's trust
//!    policy and a KMS key policy must allow: the identity side alone is not enough for them.
//! 3. The identity side allows when an identity policy allows and every cap (permissions
//!    boundary, session policies) allows too. Caps grant nothing themselves.
//! 4. Across accounts, both the identity side and the resource policy must allow.
//! 5. Otherwise: denied by default.

use std::collections::HashMap;
use std::sync::Arc;

use super::arn::split_arn;
use super::context::Context;
use super::document::{Action, Effect, Policy, PolicyKind, Statement};
use super::principal::{Grant, Principal, PrincipalKind};
use super::wildcard::Glob;

/// Where a statement points: (policy, statement) indexes in a [`PolicySet`].
type StatementRef = (u32, u32);

/// Policies compiled together, with their statements indexed by action so that a decision only
/// looks at statements that can concern its action.
///
/// Build one per role the policies play in a decision (the caller's identity policies, its
/// permissions boundary, the resource's policy) and keep it for as long as the policies do:
/// indexing costs about as much as parsing, deciding reads it only.
///
/// ```
/// use std::sync::Arc;
/// use iamgate_policy::{evaluate, Action, Context, Outcome, Policies, Policy, PolicyKind,
///     PolicySet, Principal, Request};
///
/// let doc = |action: &str| format!(r#"{{"Version": "2012-10-17", "Statement":
///     {{"Effect": "Allow", "Action": "{action}", "Resource": "*"}}}}"#);
/// let parse = |name: &str, action: &str| {
///     Arc::new(Policy::parse(name, PolicyKind::Identity, &doc(action)).unwrap())
/// };
/// // Two identity policies, and a permissions boundary that caps them to reading.
/// let identity = PolicySet::new(vec![parse("S3Full", "s3:*"), parse("Queues", "sqs:*")]);
/// let boundary = PolicySet::new(vec![parse("ReadOnly", "s3:Get*")]);
/// let policies = Policies { identity: Some(&identity), boundary: Some(&boundary),
///     ..Policies::default() };
///
/// let carol = Principal::from_arn("arn:aws:iam::111122223333:user/carol").unwrap();
/// let decide = |action: &str| evaluate(&policies, &Request {
///     principal: &carol,
///     action: &Action::new(action),
///     resource: "arn:aws:s3:::reports/q1.csv",
///     context: &Context::new(),
/// }).outcome;
/// assert_eq!(decide("s3:GetObject"), Outcome::Allowed);
/// assert_eq!(decide("s3:PutObject"), Outcome::ImplicitDeny); // the boundary does not allow it
/// assert_eq!(decide("sqs:SendMessage"), Outcome::ImplicitDeny);
/// assert_eq!(identity.policies().len(), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<Arc<Policy>>,
    /// Statements whose patterns for an action's service are all exact, by full action: these
    /// match the action without another look.
    exact: HashMap<String, Vec<StatementRef>>,
    /// Statements with wildcard patterns for a service, by the service and the first letter of
    /// the action name (`s3:g` for `s3:Get*`).
    by_initial: HashMap<String, Vec<StatementRef>>,
    /// Statements with a pattern whose action name starts with a wildcard (`s3:*Object`), by service.
    by_service: HashMap<String, Vec<StatementRef>>,
    /// Statements that may match any service: `*`, `NotAction`, wildcards in the prefix.
    any_service: Vec<StatementRef>,
}

impl PolicySet {
    /// Indexes the statements of `policies`.
    pub fn new(policies: Vec<Arc<Policy>>) -> PolicySet {
        let mut set = PolicySet {
            policies,
            ..PolicySet::default()
        };
        for (p, policy) in set.policies.iter().enumerate() {
            for (s, statement) in policy.statements.iter().enumerate() {
                let at = (p as u32, s as u32);
                let clause = &statement.action;
                let services: Option<Vec<&str>> = if clause.not {
                    None
                } else {
                    clause.patterns.iter().map(service_of).collect()
                };
                let Some(mut services) = services else {
                    set.any_service.push(at);
                    continue;
                };
                services.sort_unstable();
                services.dedup();
                for service in services {
                    let patterns: Vec<&Glob> = clause
                        .patterns
                        .iter()
                        .filter(|g| service_of(g) == Some(service))
                        .collect();
                    let exact: Option<Vec<&str>> = patterns.iter().map(|g| g.exact()).collect();
                    if let Some(mut names) = exact {
                        names.sort_unstable();
                        names.dedup();
                        for name in names {
                            set.exact.entry(name.to_owned()).or_default().push(at);
                        }
                        continue;
                    }
                    // The first letter of each pattern's action name; none when one starts
                    // with a wildcard, and the statement then waits in the service's bucket.
                    let initials: Option<Vec<&str>> = patterns
                        .iter()
                        .map(|g| initial_key(g.literal_head()))
                        .collect();
                    match initials {
                        Some(mut keys) => {
                            keys.sort_unstable();
                            keys.dedup();
                            for key in keys {
                                set.by_initial.entry(key.to_owned()).or_default().push(at);
                            }
                        }
                        None => set
                            .by_service
                            .entry(service.to_owned())
                            .or_default()
                            .push(at),
                    }
                }
            }
        }
        set
    }

    /// A set of one policy.
    pub fn single(policy: Policy) -> PolicySet {
        PolicySet::new(vec![Arc::new(policy)])
    }

    /// The policies of the set.
    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    /// Whether the set holds no policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The statements that may concern `action`, each once, and whether their action patterns
    /// still need a look (those found by exact name do not).
    fn candidates<'a>(
        &'a self,
        action: &Action,
    ) -> impl Iterator<Item = (&'a Arc<Policy>, &'a Statement, bool)> + 'a {
        let lookup = |map: &'a HashMap<String, Vec<StatementRef>>, key: Option<&str>| match key {
            Some(key) if !map.is_empty() => map.get(key).map_or(&[][..], Vec::as_slice),
            _ => &[][..],
        };
        let exact = lookup(&self.exact, Some(action.lower()));
        let initial = lookup(&self.by_initial, initial_key(action.lower()));
        let service = lookup(&self.by_service, Some(action.service()));
        let resolve = move |&(p, s): &StatementRef, check: bool| {
            let policy = &self.policies[p as usize];
            (policy, &policy.statements[s as usize], check)
        };
        exact.iter().map(move |r| resolve(r, false)).chain(
            initial
                .iter()
                .chain(service)
                .chain(&self.any_service)
                .map(move |r| resolve(r, true)),
        )
    }
}

/// Whether only the resource's own policy can let the caller in: a role's trust policy (for
/// `sts:` actions on a role) and a KMS key's key policy. AWS: they "must explicitly allow access
/// for principals"; naming the account there delegates to the identity side, as anywhere.
fn resource_must_allow(
    policies: &Policies<'_>,
    request: &Request<'_>,
    segments: &Option<[&str; 6]>,
) -> bool {
    let trust = policies
        .resource
        .is_some_and(|set| set.policies().iter().any(|p| p.kind == PolicyKind::Trust));
    trust
        || match segments {
            Some([_, _, "iam", _, _, resource]) => {
                resource.starts_with("role/") && request.action.service() == "sts"
            }
            Some([_, _, "kms", _, _, resource]) => resource.starts_with("key/"),
            _ => false,
        }
}

/// `service:x` for an action (or a pattern's literal head) whose name starts with `x`; `None`
/// when the name is empty (the pattern's name starts with a wildcard).
fn initial_key(lower: &str) -> Option<&str> {
    let colon = lower.find(':')?;
    let first = lower[colon + 1..].chars().next()?;
    Some(&lower[..colon + 1 + first.len_utf8()])
}

/// The service prefix a pattern is bound to; `None` when it may match any service.
fn service_of(glob: &super::wildcard::Glob) -> Option<&str> {
    glob.literal_head()
        .split_once(':')
        .map(|(service, _)| service)
}

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// What it asks to do.
    pub action: &'a Action,
    /// The resource's ARN (or `*`).
    pub resource: &'a str,
    /// The request's condition keys.
    pub context: &'a Context,
}

/// The policies that bear on a request. Leave out (`None`) the kinds that do not apply: no
/// boundary means the identity side is not capped, no resource policy means only the identity
/// side decides (within the caller's account).
#[derive(Debug, Clone, Copy, Default)]
pub struct Policies<'a> {
    /// The caller's identity-based policies.
    pub identity: Option<&'a PolicySet>,
    /// The caller's permissions boundary: caps the identity side.
    pub boundary: Option<&'a PolicySet>,
    /// Session policies of a role session: cap the identity side.
    pub session: Option<&'a PolicySet>,
    /// The resource's resource-based policy: for a role, its trust policy; for a KMS key, its
    /// key policy.
    pub resource: Option<&'a PolicySet>,
    /// The account that owns the resource; by default the caller's.
    pub resource_owner: Option<&'a str>,
}

/// The outcome of a decision, as `aws iam simulate-*` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An allow applied and no deny.
    Allowed,
    /// A deny statement applied.
    ExplicitDeny,
    /// Nothing allowed it.
    ImplicitDeny,
}

impl Outcome {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::ExplicitDeny => "explicitDeny",
            Outcome::ImplicitDeny => "implicitDeny",
        }
    }
}

/// Which kind of policy a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// An identity-based policy.
    Identity,
    /// A permissions boundary.
    Boundary,
    /// A session policy.
    Session,
    /// A resource-based policy.
    Resource,
}

impl Source {
    /// A readable name, like the simulator's `SourcePolicyType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Identity => "IAM Policy",
            Source::Boundary => "PermissionsBoundaryPolicy",
            Source::Session => "SessionPolicy",
            Source::Resource => "Resource Policy",
        }
    }
}

/// A statement that applied to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The policy's name.
    pub policy: Arc<str>,
    /// Which kind of policy.
    pub source: Source,
    /// The statement's `Sid`.
    pub sid: Option<Arc<str>>,
    /// The statement's position in its policy, from 0.
    pub index: usize,
    /// Its effect.
    pub effect: Effect,
}

/// A decision and why: the outcome, the statements that decided it and the condition keys a
/// statement asked for that the request did not have (useful to tell "denied" from "denied
/// because the request lacked `aws:MultiFactorAuthPresent`").
///
/// ```
/// use iamgate_policy::{evaluate, Action, Context, Outcome, Policies, Policy, PolicyKind,
///     PolicySet, Principal, Request};
///
/// let policy = Policy::parse("Mfa", PolicyKind::Identity, r#"{"Version": "2012-10-17",
///     "Statement": {"Sid": "WithMfa", "Effect": "Allow", "Action": "s3:DeleteObject",
///         "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}}"#)
///     .unwrap();
/// let identity = PolicySet::single(policy);
/// let dave = Principal::from_arn("arn:aws:iam::111122223333:user/dave").unwrap();
/// let decision = evaluate(
///     &Policies { identity: Some(&identity), ..Policies::default() },
///     &Request {
///         principal: &dave,
///         action: &Action::new("s3:DeleteObject"),
///         resource: "arn:aws:s3:::reports/q1.csv",
///         context: &Context::new(),
///     },
/// );
/// assert_eq!(decision.outcome, Outcome::ImplicitDeny);
/// assert!(decision.matched.is_empty());
/// assert_eq!(decision.missing_context, ["aws:MultiFactorAuthPresent"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, or denied and how.
    pub outcome: Outcome,
    /// The statements that decided it: the denies for an explicit deny, the allows otherwise.
    pub matched: Vec<MatchedStatement>,
    /// Condition keys a statement wanted but the request lacked, sorted.
    pub missing_context: Vec<String>,
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }
}

/// What one policy set said.
#[derive(Default)]
struct Verdict {
    allow: bool,
    deny: bool,
    /// For resource policies: the strongest way an allow named the caller.
    grant: Option<Grant>,
}

struct Walk<'r> {
    request: &'r Request<'r>,
    /// The caller has a permissions boundary (a `Deny` with `NotPrincipal` then applies to it).
    has_boundary: bool,
    segments: Option<[&'r str; 6]>,
    matched: Vec<MatchedStatement>,
    missing: Vec<String>,
}

impl<'r> Walk<'r> {
    fn run(&mut self, set: Option<&PolicySet>, source: Source) -> Verdict {
        let mut verdict = Verdict::default();
        let Some(set) = set else { return verdict };
        let request = self.request;
        for (policy, statement, check_action) in set.candidates(request.action) {
            if check_action && !statement.action.matches(request.action) {
                continue;
            }
            let Some(grant) = statement.principal_grant(request.principal, self.has_boundary)
            else {
                continue;
            };
            if !statement.resource_matches(
                request.resource,
                self.segments.as_ref(),
                request.context,
            ) {
                continue;
            }
            let missing = &mut self.missing;
            let mut note = |key: &str| {
                if !missing.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    missing.push(key.to_owned());
                }
            };
            if !statement.conditions_hold(request.context, &mut note) {
                continue;
            }
            match statement.effect {
                Effect::Deny => verdict.deny = true,
                Effect::Allow => {
                    verdict.allow = true;
                    verdict.grant = verdict.grant.max(Some(grant));
                }
            }
            self.matched.push(MatchedStatement {
                policy: policy.name.clone(),
                source,
                sid: statement.sid.clone(),
                index: statement.index,
                effect: statement.effect,
            });
        }
        verdict
    }
}

/// Decides `request` under `policies`.
pub fn evaluate(policies: &Policies<'_>, request: &Request<'_>) -> Decision {
    let mut walk = Walk {
        request,
        has_boundary: policies.boundary.is_some(),
        segments: split_arn(request.resource),
        matched: Vec::new(),
        missing: Vec::new(),
    };
    let identity = walk.run(policies.identity, Source::Identity);
    let boundary = walk.run(policies.boundary, Source::Boundary);
    let session = walk.run(policies.session, Source::Session);
    let resource = walk.run(policies.resource, Source::Resource);

    let principal = request.principal;
    let outcome = if identity.deny || boundary.deny || session.deny || resource.deny {
        Outcome::ExplicitDeny
    } else {
        let capped = |allowed: bool| {
            allowed
                && (policies.boundary.is_none() || boundary.allow)
                && (policies.session.is_none() || session.allow)
        };
        // An account's root user is not bound by identity policies in its own account.
        let identity_side = match principal.kind() {
            PrincipalKind::Account => true,
            PrincipalKind::Anonymous => false,
            _ => capped(identity.allow),
        };
        let same_account = match (principal.account(), policies.resource_owner) {
            (Some(caller), Some(owner)) => caller == owner,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let allowed = if same_account {
            match resource.grant {
                Some(Grant::Direct) => true,
                Some(Grant::Role) => capped(true),
                Some(Grant::Account) => identity_side,
                None => identity_side && !resource_must_allow(policies, request, &walk.segments),
            }
        } else if principal.account().is_none() {
            // Anonymous callers and service principals: only the resource policy can grant.
            resource.grant == Some(Grant::Direct)
        } else {
            identity_side && resource.allow
        };
        if allowed {
            Outcome::Allowed
        } else {
            Outcome::ImplicitDeny
        }
    };
    let keep = match outcome {
        Outcome::ExplicitDeny => Effect::Deny,
        Outcome::Allowed | Outcome::ImplicitDeny => Effect::Allow,
    };
    walk.matched.retain(|m| m.effect == keep);
    walk.missing.sort_unstable();
    Decision {
        outcome,
        matched: walk.matched,
        missing_context: walk.missing,
    }
}
