//! Principals: who makes a request, and the `Principal` / `NotPrincipal` element that names them.

use std::fmt;

use serde_json::Value;

use super::arn::split_arn;
use super::condition::kind_of;

/// The kind of a principal, as `aws:PrincipalType` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An unsigned request.
    Anonymous,
    /// An account's root user.
    Account,
    /// An IAM user.
    User,
    /// An IAM role given as a caller (the simulators accept one): evaluated as one of the
    /// role's sessions, so that its boundary caps what names the role.
    Role,
    /// A role session: `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole,
    /// A federated user session: `arn:aws:sts::ACCOUNT:federated-user/NAME`.
    FederatedUser,
    /// An AWS service principal such as `s3.amazonaws.com`.
    Service,
    /// A web identity (OIDC) or SAML federated principal, before it assumes a role.
    WebIdentity,
}

impl PrincipalKind {
    /// The value of `aws:PrincipalType`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Anonymous => "Anonymous",
            PrincipalKind::Account => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::Role => "Role",
            PrincipalKind::AssumedRole => "AssumedRole",
            PrincipalKind::FederatedUser => "FederatedUser",
            PrincipalKind::Service => "Service",
            PrincipalKind::WebIdentity => "WebIdentity",
        }
    }
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    kind: PrincipalKind,
    arn: String,
    account: Option<String>,
    role_arn: Option<String>,
    name: Option<String>,
}

/// A caller ARN that [`Principal::from_arn`] does not understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a principal ARN (a user, role, assumed-role session, federated user or account root ARN, or 'anonymous')")]
pub struct PrincipalArnError(pub String);

impl Principal {
    /// The anonymous caller.
    pub fn anonymous() -> Principal {
        Principal {
            kind: PrincipalKind::Anonymous,
            arn: "anonymous".into(),
            account: None,
            role_arn: None,
            name: None,
        }
    }

    /// An AWS service principal, such as `cloudtrail.amazonaws.com`.
    pub fn service(name: &str) -> Principal {
        Principal {
            kind: PrincipalKind::Service,
            arn: name.into(),
            account: None,
            role_arn: None,
            name: Some(name.into()),
        }
    }

    /// A federated identity from `provider` (an OIDC or SAML provider ARN, or a well-known
    /// provider such as `cognito-identity.amazonaws.com`).
    pub fn web_identity(provider: &str) -> Principal {
        Principal {
            kind: PrincipalKind::WebIdentity,
            arn: provider.into(),
            account: None,
            role_arn: None,
            name: Some(provider.into()),
        }
    }

    /// Reads a caller ARN: a user, role, assumed-role session, federated user, account root,
    /// a bare account id, or `anonymous`.
    pub fn from_arn(arn: &str) -> Result<Principal, PrincipalArnError> {
        let err = || PrincipalArnError(arn.to_owned());
        if arn == "anonymous" || arn == "*" {
            return Ok(Principal::anonymous());
        }
        if is_account_id(arn) {
            return Ok(Principal::account_root("aws", arn));
        }
        let [_, partition, service, _, account, resource] = split_arn(arn).ok_or_else(err)?;
        if !is_account_id(account) {
            return Err(err());
        }
        let account = account.to_owned();
        let (kind, role_arn, name) = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => {
                return Ok(Principal::account_root(partition, &account))
            }
            ("iam", Some(("user", path))) => (PrincipalKind::User, None, last(path)),
            ("iam", Some(("role", path))) => (PrincipalKind::Role, None, last(path)),
            ("sts", Some(("assumed-role", rest))) => {
                let (role, session) = rest.rsplit_once('/').ok_or_else(err)?;
                if role.is_empty() || session.is_empty() {
                    return Err(err());
                }
                let role_arn = format!("arn:{partition}:iam::{account}:role/{role}");
                (
                    PrincipalKind::AssumedRole,
                    Some(role_arn),
                    session.to_owned(),
                )
            }
            ("sts", Some(("federated-user", name))) => {
                (PrincipalKind::FederatedUser, None, name.to_owned())
            }
            _ => return Err(err()),
        };
        if name.is_empty() {
            return Err(err());
        }
        Ok(Principal {
            kind,
            arn: arn.to_owned(),
            account: Some(account),
            role_arn,
            name: Some(name),
        })
    }

    /// An assumed-role session whose role ARN carries a path (`role/path/name`): policies
    /// naming the role match the full role ARN.
    pub fn assumed_role(role_arn: &str, session: &str) -> Result<Principal, PrincipalArnError> {
        let err = || PrincipalArnError(role_arn.to_owned());
        let [_, partition, _, _, account, resource] = split_arn(role_arn).ok_or_else(err)?;
        let path = resource.strip_prefix("role/").ok_or_else(err)?;
        let role = last(path);
        let arn = format!("arn:{partition}:sts::{account}:assumed-role/{role}/{session}");
        Ok(Principal {
            kind: PrincipalKind::AssumedRole,
            arn,
            account: Some(account.to_owned()),
            role_arn: Some(role_arn.to_owned()),
            name: Some(session.to_owned()),
        })
    }

    fn account_root(partition: &str, account: &str) -> Principal {
        Principal {
            kind: PrincipalKind::Account,
            arn: format!("arn:{partition}:iam::{account}:root"),
            account: Some(account.to_owned()),
            role_arn: None,
            name: None,
        }
    }

    /// The principal's kind.
    pub fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// The principal's ARN (`anonymous` for the anonymous caller, the name for a service).
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The account the principal belongs to.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// For a role session, the ARN of the role.
    pub fn role_arn(&self) -> Option<&str> {
        self.role_arn.as_deref()
    }

    /// The user name, role session name, federated user name or service name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The identities a request of this caller is evaluated as, for matching `Principal` and
    /// `NotPrincipal`. A role ARN as a caller stands for one of the role's sessions (a role only
    /// ever acts through one): a policy naming the role names the role behind the session, as
    /// for any session, never the caller itself.
    fn chain(&self) -> Chain<'_> {
        let (own, role) = match self.kind {
            PrincipalKind::Role => (None, Some(self.arn.as_str())),
            _ => (Some(self.arn.as_str()), self.role_arn.as_deref()),
        };
        let partition = split_arn(&self.arn).map_or("aws", |s| s[1]);
        Chain {
            own,
            role,
            account: self.account.as_deref().map(|a| (partition, a)),
        }
    }
}

/// The identities one caller is evaluated as, from the most specific.
struct Chain<'a> {
    /// The caller itself: the user, the session, the account root (none for a role ARN).
    own: Option<&'a str>,
    /// The role behind a session.
    role: Option<&'a str>,
    /// The caller's partition and account, whose root ARN names the account.
    account: Option<(&'a str, &'a str)>,
}

impl Chain<'_> {
    /// Whether `arn` is the root ARN of the caller's account (compared without building it).
    fn is_root(&self, arn: &str) -> bool {
        self.account.is_some_and(|(partition, account)| {
            arn.strip_prefix("arn:")
                .and_then(|r| r.strip_prefix(partition))
                .and_then(|r| r.strip_prefix(":iam::"))
                .and_then(|r| r.strip_prefix(account))
                == Some(":root")
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

fn last(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_owned()
}

/// Whether `s` is a 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// How a resource policy's principal covers the caller: it decides whether the grant stands
/// alone (same account) or needs the identity side too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    /// The caller's account is named: the account delegates to its identity policies.
    Account,
    /// The role behind the caller's session is named: capped by the session's boundary.
    Role,
    /// The caller itself, or everyone, is named.
    Direct,
}

/// A compiled `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PrincipalSet {
    everyone: bool,
    /// Account root ARNs and principal ARNs, as written (a bare account id becomes its root ARN).
    arns: Vec<String>,
    services: Vec<String>,
    federated: Vec<String>,
    canonical: Vec<String>,
}

impl PrincipalSet {
    /// Compiles the element's JSON value, or says what is wrong with it.
    pub(crate) fn parse(value: &Value) -> Result<PrincipalSet, String> {
        let mut set = PrincipalSet::default();
        match value {
            Value::String(s) if s == "*" => set.everyone = true,
            Value::Object(map) if !map.is_empty() => {
                for (kind, entries) in map {
                    let entries = string_list(entries)
                        .map_err(|e| format!("principal type '{kind}': {e}"))?;
                    for entry in entries {
                        match kind.as_str() {
                            "AWS" => set.add_aws(&entry)?,
                            "Service" => set.services.push(entry),
                            "Federated" => set.federated.push(entry),
                            "CanonicalUser" => set.canonical.push(entry),
                            other => {
                                return Err(format!(
                                    "unknown principal type '{other}' (expected AWS, Service, Federated or CanonicalUser)"
                                ))
                            }
                        }
                    }
                }
            }
            other => {
                return Err(format!(
                    "must be \"*\" or an object such as {{\"AWS\": ...}}, not {}",
                    kind_of(other)
                ))
            }
        }
        Ok(set)
    }

    fn add_aws(&mut self, entry: &str) -> Result<(), String> {
        if entry == "*" {
            self.everyone = true;
        } else if is_account_id(entry) {
            self.arns.push(format!("arn:aws:iam::{entry}:root"));
        } else if is_principal_arn(entry) || is_unique_id(entry) {
            self.arns.push(entry.to_owned());
        } else {
            return Err(format!("invalid principal '{entry}'"));
        }
        Ok(())
    }

    /// How this set names `caller`, if it does.
    pub(crate) fn grant_for(&self, caller: &Principal) -> Option<Grant> {
        if self.everyone {
            return Some(Grant::Direct);
        }
        match caller.kind {
            PrincipalKind::Anonymous => None,
            PrincipalKind::Service => self.names_service(caller).then_some(Grant::Direct),
            PrincipalKind::WebIdentity => self.names_federated(caller).then_some(Grant::Direct),
            _ => {
                let named = |arn: &str| self.arns.iter().any(|a| a == arn);
                let chain = caller.chain();
                if chain.own.is_some_and(named) {
                    Some(Grant::Direct)
                } else if chain.role.is_some_and(named) {
                    Some(Grant::Role)
                } else if self.arns.iter().any(|a| chain.is_root(a)) {
                    Some(Grant::Account)
                } else {
                    None
                }
            }
        }
    }

    /// For `Deny` with `NotPrincipal`: whether the caller is spared. As AWS defines it, every
    /// identity the request is evaluated as (the session, its role, its account) must be listed;
    /// a role ARN stands for a session whose name is unknown, so it is never spared.
    pub(crate) fn excludes(&self, caller: &Principal) -> bool {
        self.listing(caller, |own, role, account| {
            own == Some(true) && role.unwrap_or(true) && account.unwrap_or(true)
        })
    }

    /// For `Allow` with `NotPrincipal` ("everyone except"): whether any identity the request is
    /// evaluated as (the caller, the role behind it, its account) is listed. A caller the
    /// element names in any of these ways is never granted through it.
    pub(crate) fn names_any(&self, caller: &Principal) -> bool {
        self.listing(caller, |own, role, account| {
            [own, role, account].contains(&Some(true))
        })
    }

    /// Whether the set lists `caller`, by `rule` over whether it lists each identity in the
    /// caller's chain (the caller itself, the role behind it, its account; `None` where the
    /// caller has no such identity). Everyone is listed by `*`; anonymous callers by nothing
    /// else; service and web-identity callers by name.
    fn listing(
        &self,
        caller: &Principal,
        rule: impl Fn(Option<bool>, Option<bool>, Option<bool>) -> bool,
    ) -> bool {
        if self.everyone {
            return true;
        }
        match caller.kind {
            PrincipalKind::Anonymous => false,
            PrincipalKind::Service => self.names_service(caller),
            PrincipalKind::WebIdentity => self.names_federated(caller),
            _ => {
                let named = |arn: &str| self.arns.iter().any(|a| a == arn);
                let chain = caller.chain();
                rule(
                    chain.own.map(named),
                    chain.role.map(named),
                    chain
                        .account
                        .map(|_| self.arns.iter().any(|a| chain.is_root(a))),
                )
            }
        }
    }

    fn names_service(&self, caller: &Principal) -> bool {
        caller
            .name()
            .is_some_and(|n| self.services.iter().any(|s| s == n))
    }

    fn names_federated(&self, caller: &Principal) -> bool {
        caller
            .name()
            .is_some_and(|n| self.federated.iter().any(|s| s == n))
    }
}

fn is_principal_arn(s: &str) -> bool {
    match split_arn(s) {
        Some([_, _, service, _, account, resource]) => {
            matches!(service, "iam" | "sts")
                && is_account_id(account)
                && !resource.is_empty()
                && !s.contains(['*', '?'])
        }
        None => false,
    }
}

/// A principal's unique id (`AIDA...`, `AROA...`), which AWS shows in place of a deleted principal.
fn is_unique_id(s: &str) -> bool {
    s.len() >= 16
        && s.starts_with('A')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A JSON string or a non-empty list of strings.
pub(crate) fn string_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if items.is_empty() => Err("the list is empty".into()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("expected a string, found {}", kind_of(other))),
            })
            .collect(),
        other => Err(format!(
            "expected a string or a list of strings, found {}",
            kind_of(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caller_arns() {
        let u = Principal::from_arn("arn:aws:iam::111122223333:user/dev/alice").unwrap();
        assert_eq!(u.kind(), PrincipalKind::User);
        assert_eq!(u.name(), Some("alice"));
        assert_eq!(u.account(), Some("111122223333"));
        let s = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/auditor/s1").unwrap();
        assert_eq!(s.role_arn(), Some("arn:aws:iam::111122223333:role/auditor"));
        assert_eq!(
            Principal::from_arn("111122223333").unwrap().arn(),
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(
            Principal::from_arn("anonymous").unwrap().kind(),
            PrincipalKind::Anonymous
        );
        assert!(Principal::from_arn("arn:aws:s3:::bucket").is_err());
        assert!(Principal::from_arn("arn:aws:iam::12:user/x").is_err());
        assert!(Principal::from_arn("arn:aws:sts::111122223333:assumed-role/x").is_err());
    }

    #[test]
    fn grants() {
        let set = PrincipalSet::parse(&json!({"AWS": [
            "arn:aws:iam::111122223333:user/alice",
            "444455556666",
            "arn:aws:iam::111122223333:role/auditor"
        ]}))
        .unwrap();
        let alice = Principal::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
        let bob = Principal::from_arn("arn:aws:iam::111122223333:user/bob").unwrap();
        let carol = Principal::from_arn("arn:aws:iam::444455556666:user/carol").unwrap();
        let session =
            Principal::from_arn("arn:aws:sts::111122223333:assumed-role/auditor/s").unwrap();
        assert_eq!(set.grant_for(&alice), Some(Grant::Direct));
        assert_eq!(set.grant_for(&bob), None);
        assert_eq!(set.grant_for(&carol), Some(Grant::Account));
        assert_eq!(set.grant_for(&session), Some(Grant::Role));
        assert_eq!(set.grant_for(&Principal::anonymous()), None);
        let all = PrincipalSet::parse(&json!("*")).unwrap();
        assert_eq!(all.grant_for(&Principal::anonymous()), Some(Grant::Direct));
        let svc = PrincipalSet::parse(&json!({"Service": "s3.amazonaws.com"})).unwrap();
        assert_eq!(
            svc.grant_for(&Principal::service("s3.amazonaws.com")),
            Some(Grant::Direct)
        );
        assert_eq!(svc.grant_for(&alice), None);
    }

    #[test]
    fn not_principal_needs_every_identity() {
        let only_user =
            PrincipalSet::parse(&json!({"AWS": "arn:aws:iam::111122223333:user/alice"})).unwrap();
        let alice = Principal::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
        assert!(!only_user.excludes(&alice));
        let both = PrincipalSet::parse(&json!({"AWS": [
            "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:root"]}))
        .unwrap();
        assert!(both.excludes(&alice));
        assert!(!both.excludes(&Principal::anonymous()));
        // For an Allow, being listed in any one way is enough to be left out.
        assert!(only_user.names_any(&alice));
        let only_account = PrincipalSet::parse(&json!({"AWS": "111122223333"})).unwrap();
        assert!(only_account.names_any(&alice));
        assert!(!only_account.names_any(&Principal::anonymous()));
    }

    #[test]
    fn a_role_caller_is_one_of_its_sessions() {
        let role = Principal::from_arn("arn:aws:iam::111122223333:role/r").unwrap();
        let set = PrincipalSet::parse(&json!({"AWS": [
            "arn:aws:iam::111122223333:role/r", "arn:aws:iam::111122223333:root"]}))
        .unwrap();
        assert_eq!(set.grant_for(&role), Some(Grant::Role));
        assert!(set.names_any(&role));
        assert!(!set.excludes(&role), "its session is not listed");
    }

    #[test]
    fn invalid_principals() {
        assert!(PrincipalSet::parse(&json!("alice")).is_err());
        assert!(PrincipalSet::parse(&json!({})).is_err());
        assert!(PrincipalSet::parse(&json!({"Users": "x"})).is_err());
        assert!(PrincipalSet::parse(&json!({"AWS": "arn:aws:iam::*:user/x"})).is_err());
        assert!(PrincipalSet::parse(&json!({"AWS": "alice"})).is_err());
        assert!(PrincipalSet::parse(&json!({"AWS": []})).is_err());
        assert!(PrincipalSet::parse(&json!({"AWS": "AIDAJQABLZS4A3QDU576Q"})).is_ok());
    }
}
