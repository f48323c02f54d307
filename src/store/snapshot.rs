//! The snapshot: every identity, key, policy and resource of the store, compiled and immutable.
//! A request reads the snapshot it started with from beginning to end.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::policy::{Context, Policy, PolicySet, Principal, PrincipalKind};

/// A user or a role of the store, with its policies compiled together.
#[derive(Debug)]
pub struct Identity {
    /// The principal: the user, or the role itself.
    pub principal: Principal,
    /// The unique id (`AIDA...`, `AROA...`).
    pub id: String,
    /// Every identity-based policy that applies: inline, attached, and the groups'.
    pub policies: PolicySet,
    /// The permissions boundary.
    pub boundary: Option<PolicySet>,
    /// Tags, which requests see as `aws:PrincipalTag/*`.
    pub tags: Vec<(String, String)>,
    /// For a role: its trust policy.
    pub trust: Option<PolicySet>,
    /// For a role: the longest session, in seconds.
    pub max_session_duration: Option<u32>,
    /// The principal's condition keys, built once (see [`Identity::context`]).
    pub(crate) keys: Arc<Context>,
}

impl Identity {
    /// A user or role with the policies that apply to it; a role's trust policy and session
    /// limit are added by the caller.
    pub(crate) fn new(
        principal: Principal,
        id: String,
        policies: Vec<Arc<Policy>>,
        boundary: Option<PolicySet>,
        tags: Vec<(String, String)>,
    ) -> Identity {
        let mut identity = Identity {
            principal,
            id,
            policies: PolicySet::new(policies),
            boundary,
            tags,
            trust: None,
            max_session_duration: None,
            keys: Arc::default(),
        };
        identity.keys = Arc::new(identity.build_keys());
        identity
    }

    /// The condition keys that describe this principal: `aws:username`, `aws:userid`,
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType` and `aws:PrincipalTag/*`.
    pub fn context(&self) -> Context {
        Context::on(Arc::clone(&self.keys))
    }

    /// Builds what [`Identity::context`] shares; once, when the snapshot is loaded.
    fn build_keys(&self) -> Context {
        let mut context = Context::new();
        let p = &self.principal;
        context.insert("aws:PrincipalArn", p.arn());
        if let Some(account) = p.account() {
            context.insert("aws:PrincipalAccount", account);
        }
        context.insert("aws:PrincipalType", p.kind().as_str());
        if p.kind() == PrincipalKind::User {
            if let Some(name) = p.name() {
                context.insert("aws:username", name);
            }
        }
        context.insert("aws:userid", self.id.as_str());
        for (k, v) in &self.tags {
            context.insert(&format!("aws:PrincipalTag/{k}"), v.as_str());
        }
        context
    }
}

/// Whom an access key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// A user of the store.
    User(Arc<str>),
    /// The account's root user.
    Root,
}

/// A long-term access key.
pub struct AccessKey {
    /// The access key id.
    pub id: String,
    secret: String,
    signing: crate::sigv4::SecretKey,
    /// Whether the key may sign requests.
    pub active: bool,
    /// The account of the key.
    pub account: String,
    /// Its owner.
    pub owner: KeyOwner,
}

impl AccessKey {
    pub(crate) fn new(
        id: String,
        secret: String,
        active: bool,
        account: String,
        owner: KeyOwner,
    ) -> AccessKey {
        let signing = crate::sigv4::SecretKey::new(secret.as_bytes());
        AccessKey {
            id,
            secret,
            signing,
            active,
            account,
            owner,
        }
    }

    /// The secret access key. Never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The secret, prepared for the SigV4 verifier (its fingerprint keys the signing key cache).
    pub fn signing_secret(&self) -> &crate::sigv4::SecretKey {
        &self.signing
    }
}

crate::redact::debug_without_secrets!(AccessKey {
    id,
    active,
    account,
    owner
});

/// A resource with a policy or tags.
#[derive(Debug)]
pub struct Resource {
    /// The account that owns it.
    pub owner: String,
    /// Its resource-based policy.
    pub policy: Option<PolicySet>,
    /// Its tags, which requests see as `aws:ResourceTag/*`.
    pub tags: Vec<(String, String)>,
}

/// A virtual MFA device (RFC 6238 TOTP) enabled for a user.
pub struct MfaDevice {
    /// The device's ARN (`arn:aws:iam::ACCOUNT:mfa/NAME`), which clients send as `SerialNumber`.
    pub serial: String,
    /// The ARN of the user it is enabled for.
    pub user_arn: Arc<str>,
    secret: Vec<u8>,
}

impl MfaDevice {
    pub(crate) fn new(serial: String, user_arn: Arc<str>, secret: Vec<u8>) -> MfaDevice {
        MfaDevice {
            serial,
            user_arn,
            secret,
        }
    }

    /// The TOTP secret. Never log it.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }
}

crate::redact::debug_without_secrets!(MfaDevice { serial, user_arn });

/// Where an OpenID Connect provider's signing keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// Given in the store (inline or from a file next to it): reloaded with the store.
    Static(Arc<jsonwebtoken::jwk::JwkSet>),
    /// Fetched from a URL by the gateway, and refreshed.
    Url(String),
}

/// An OpenID Connect identity provider, which `AssumeRoleWithWebIdentity` trusts.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// `arn:aws:iam::ACCOUNT:oidc-provider/URL`.
    pub arn: String,
    /// The issuer without its scheme, as it prefixes condition keys (`URL:sub`, `URL:aud`).
    pub url: String,
    /// The accepted audiences.
    pub client_ids: Vec<String>,
    /// The signing keys.
    pub keys: JwksSource,
}

/// What a snapshot holds, for the start-up summary and `validate`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Accounts.
    pub accounts: usize,
    /// Users and roles.
    pub principals: usize,
    /// Distinct policy documents compiled.
    pub policies: usize,
    /// Statements in them.
    pub statements: usize,
    /// Access keys.
    pub keys: usize,
    /// Resources with a policy or tags.
    pub resources: usize,
}

/// The compiled store.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub(crate) accounts: Vec<String>,
    pub(crate) identities: HashMap<String, Arc<Identity>>,
    pub(crate) groups: HashMap<String, PolicySet>,
    pub(crate) keys: HashMap<String, AccessKey>,
    pub(crate) resources: HashMap<String, Resource>,
    pub(crate) managed: HashMap<String, Arc<Policy>>,
    pub(crate) mfa_devices: HashMap<String, MfaDevice>,
    pub(crate) oidc_providers: HashMap<String, OidcProvider>,
    pub(crate) summary: Summary,
}

impl Snapshot {
    /// The accounts, in order.
    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    /// A user or role by ARN.
    pub fn identity(&self, arn: &str) -> Option<&Arc<Identity>> {
        self.identities.get(arn)
    }

    /// A group's policies, by the group's ARN.
    pub fn group(&self, arn: &str) -> Option<&PolicySet> {
        self.groups.get(arn)
    }

    /// An access key by id.
    pub fn key(&self, id: &str) -> Option<&AccessKey> {
        self.keys.get(id)
    }

    /// The resource entry that governs `arn`: its own, or for an S3 object its bucket's.
    pub fn resource(&self, arn: &str) -> Option<&Resource> {
        if let Some(r) = self.resources.get(arn) {
            return Some(r);
        }
        // An object's bucket: the object ARN up to the key, which is the bucket's ARN.
        let object = arn.strip_prefix("arn:aws:s3:::")?;
        let (bucket, _key) = object.split_once('/')?;
        self.resources
            .get(&arn[.."arn:aws:s3:::".len() + bucket.len()])
    }

    /// A managed policy by ARN (session policies name them in `PolicyArns`).
    pub fn managed_policy(&self, arn: &str) -> Option<&Arc<Policy>> {
        self.managed.get(arn)
    }

    /// A virtual MFA device by serial number (its ARN).
    pub fn mfa_device(&self, serial: &str) -> Option<&MfaDevice> {
        self.mfa_devices.get(serial)
    }

    /// An OpenID Connect provider by ARN.
    pub fn oidc_provider(&self, arn: &str) -> Option<&OidcProvider> {
        self.oidc_providers.get(arn)
    }

    /// Counts, for the start-up summary.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Users and roles, sorted by ARN.
    pub fn identities(&self) -> BTreeMap<&str, &Arc<Identity>> {
        self.identities
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }
}
