//! Loading a policy store folder into a [`Snapshot`], reporting every problem with its file,
//! line and column.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use super::files::{
    AttachedPolicy, Boundary, CredentialEntry, IamExport, InlinePolicy, ManagedPolicyDetail,
    MfaEntry, OidcProviderEntry, PolicyVersion, ResourceEntry, Tag,
};
use super::position::{locate, Step};
use super::snapshot::{
    AccessKey, Identity, JwksSource, KeyOwner, MfaDevice, OidcProvider, Resource, Snapshot, Summary,
};
use crate::policy::{is_account_id, Policy, PolicyError, PolicyKind, PolicySet, Principal};

/// A problem in the store: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// The file (or folder).
    pub file: PathBuf,
    /// Line and column, from 1.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// One file's text, kept to turn paths into positions.
struct Source {
    file: PathBuf,
    text: String,
}

impl Source {
    fn error(&self, path: &[Step], message: impl Into<String>) -> LoadError {
        LoadError {
            file: self.file.clone(),
            position: Some(locate(&self.text, path)),
            message: message.into(),
        }
    }

    /// A policy problem, placed at the statement and element it names.
    fn policy_error(&self, doc_path: &[Step], e: &PolicyError) -> LoadError {
        let mut path = doc_path.to_vec();
        let position = match e.position {
            // A syntax error inside a URL-encoded document: the document's own position.
            Some(_) => locate(&self.text, &path),
            None => {
                if let Some(i) = e.statement_index {
                    path.extend([Step::key("Statement"), Step::Index(i as usize)]);
                }
                if let Some(element) = &e.element {
                    path.push(Step::key(element));
                }
                locate(&self.text, &path)
            }
        };
        LoadError {
            file: self.file.clone(),
            position: Some(position),
            message: e.to_string(),
        }
    }
}

/// Loads the store in `dir`: one folder per account (its 12-digit id) holding `iam.json`,
/// `credentials.json` and `resources.json`, each optional. Entries whose names start with `.`
/// are skipped (Kubernetes' `..data`), symbolic links are followed.
pub fn load(dir: &Path) -> Result<Snapshot, LoadErrors> {
    let mut loader = Loader::default();
    loader.load(dir);
    if loader.errors.is_empty() {
        Ok(loader.finish())
    } else {
        Err(LoadErrors(loader.errors))
    }
}

#[derive(Default)]
struct Loader {
    errors: Vec<LoadError>,
    accounts: Vec<String>,
    /// Managed policies of every account by ARN: AWS managed policies appear in each export.
    managed: HashMap<String, Arc<Policy>>,
    iam: Vec<(String, Source, IamExport)>,
    /// Policy documents of the exports compiled ahead, in parallel, by the document's address
    /// and the kind it was compiled as.
    precompiled: HashMap<(usize, PolicyKind), Result<Policy, PolicyError>>,
    snapshot: Snapshot,
    statements: usize,
    documents: usize,
    /// What failed to load and was reported: later references to it are not reported again
    /// (one trailing comma in `iam.json` is one error, not one per user that other files name).
    broken: Broken,
}

#[derive(Default)]
struct Broken {
    /// Accounts whose `iam.json` does not read.
    iam: HashSet<String>,
    /// `(account, user name)` of users that did not load.
    users: HashSet<(String, String)>,
    /// Managed policies (ARNs) that did not load.
    managed: HashSet<String>,
}

impl Loader {
    fn load(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.errors.push(LoadError {
                    file: dir.to_owned(),
                    position: None,
                    message: format!("cannot read the policy store: {e}"),
                });
                return;
            }
        };
        let mut folders = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if !is_account_id(&name) {
                self.errors.push(LoadError {
                    file: path,
                    position: None,
                    message: "an account folder must be named by its 12-digit account id".into(),
                });
                continue;
            }
            folders.insert(name, path);
        }
        for (account, path) in &folders {
            let reported = self.errors.len();
            if let Some((source, export)) = self.read::<IamExport>(&path.join("iam.json")) {
                self.iam.push((account.clone(), source, export));
            } else if self.errors.len() > reported {
                self.broken.iam.insert(account.clone());
            }
        }
        let iam = std::mem::take(&mut self.iam);
        self.precompiled = precompile(&iam);
        for (_, source, export) in &iam {
            self.collect_managed(source, export);
        }
        for (account, source, export) in &iam {
            self.compile_account(account, source, export);
        }
        for (account, path) in &folders {
            self.accounts.push(account.clone());
            if let Some((source, entries)) =
                self.read::<Vec<CredentialEntry>>(&path.join("credentials.json"))
            {
                self.compile_credentials(account, &source, entries);
            }
            if let Some((source, entries)) =
                self.read::<BTreeMap<String, ResourceEntry>>(&path.join("resources.json"))
            {
                self.compile_resources(account, &source, entries);
            }
            if let Some((source, entries)) = self.read::<Vec<MfaEntry>>(&path.join("mfa.json")) {
                self.compile_mfa(account, &source, entries);
            }
            if let Some((source, entries)) =
                self.read::<Vec<OidcProviderEntry>>(&path.join("oidc-providers.json"))
            {
                self.compile_oidc(account, path, &source, entries);
            }
        }
    }

    fn user_arn(&self, account: &str, user: &str) -> Option<Arc<str>> {
        self.snapshot
            .identities
            .values()
            .find(|id| {
                id.principal.account() == Some(account)
                    && id.principal.kind() == crate::policy::PrincipalKind::User
                    && id.principal.name() == Some(user)
            })
            .map(|id| Arc::<str>::from(id.principal.arn()))
    }

    /// Whether a user that is not in the snapshot was left out because of an error already
    /// reported (its account's `iam.json` does not read, or its entry did not load).
    fn user_reported(&self, account: &str, user: &str) -> bool {
        self.broken.iam.contains(account)
            || self
                .broken
                .users
                .contains(&(account.to_owned(), user.to_owned()))
    }

    fn compile_mfa(&mut self, account: &str, source: &Source, entries: Vec<MfaEntry>) {
        for (i, entry) in entries.into_iter().enumerate() {
            let at = |key: &str| [Step::Index(i), Step::key(key)];
            let Some(user_arn) = self.user_arn(account, &entry.user_name) else {
                if self.user_reported(account, &entry.user_name) {
                    continue;
                }
                self.errors.push(source.error(
                    &at("UserName"),
                    format!(
                        "user '{}' is not in this account's iam.json",
                        entry.user_name
                    ),
                ));
                continue;
            };
            let serial_ok = entry
                .serial_number
                .strip_prefix(&format!("arn:aws:iam::{account}:mfa/"))
                .is_some_and(|name| !name.is_empty());
            if !serial_ok {
                self.errors.push(source.error(
                    &at("SerialNumber"),
                    format!("SerialNumber must be arn:aws:iam::{account}:mfa/NAME"),
                ));
                continue;
            }
            let seed = entry
                .base32_string_seed
                .trim_end_matches('=')
                .to_ascii_uppercase();
            let secret = match data_encoding::BASE32_NOPAD.decode(seed.as_bytes()) {
                Ok(secret) if secret.len() >= 10 => secret,
                _ => {
                    self.errors.push(source.error(
                        &at("Base32StringSeed"),
                        "Base32StringSeed must be a base32 secret of at least 80 bits",
                    ));
                    continue;
                }
            };
            if self.snapshot.mfa_devices.contains_key(&entry.serial_number) {
                self.errors.push(source.error(
                    &at("SerialNumber"),
                    format!("MFA device {} is defined twice", entry.serial_number),
                ));
                continue;
            }
            self.snapshot.mfa_devices.insert(
                entry.serial_number.clone(),
                MfaDevice::new(entry.serial_number, user_arn, secret),
            );
        }
    }

    fn compile_oidc(
        &mut self,
        account: &str,
        folder: &Path,
        source: &Source,
        entries: Vec<OidcProviderEntry>,
    ) {
        for (i, entry) in entries.into_iter().enumerate() {
            let at = |key: &str| [Step::Index(i), Step::key(key)];
            let url = entry
                .url
                .strip_prefix("https://")
                .unwrap_or(&entry.url)
                .trim_end_matches('/')
                .to_owned();
            if url.is_empty() || url.contains("://") {
                self.errors.push(source.error(
                    &at("Url"),
                    "Url must be the issuer, such as https://token.example.com",
                ));
                continue;
            }
            if entry.client_id_list.is_empty() {
                self.errors.push(source.error(
                    &at("ClientIDList"),
                    "ClientIDList must name at least one audience",
                ));
                continue;
            }
            let parse_set =
                |value: Value| serde_json::from_value::<jsonwebtoken::jwk::JwkSet>(value);
            let keys = match (entry.jwks, entry.jwks_file, entry.jwks_url) {
                (Some(value), None, None) => match parse_set(value) {
                    Ok(set) => JwksSource::Static(Arc::new(set)),
                    Err(e) => {
                        self.errors.push(
                            source.error(&at("Jwks"), format!("not a JSON Web Key Set: {e}")),
                        );
                        continue;
                    }
                },
                (None, Some(file), None) => {
                    let file = folder.join(file);
                    let parsed = std::fs::read_to_string(&file)
                        .map_err(|e| (None, format!("cannot read: {e}")))
                        .and_then(|text| {
                            serde_json::from_str::<jsonwebtoken::jwk::JwkSet>(&text).map_err(|e| {
                                match crate::analyzer::json::describe_syntax_error(&text) {
                                    Some((line, column, message)) => {
                                        (Some((line, column)), message)
                                    }
                                    None => (
                                        Some((e.line(), e.column())),
                                        format!(
                                            "not a JSON Web Key Set: {}",
                                            crate::analyzer::json::serde_message(&e)
                                        ),
                                    ),
                                }
                            })
                        });
                    match parsed {
                        Ok(set) => JwksSource::Static(Arc::new(set)),
                        Err((position, message)) => {
                            self.errors.push(LoadError {
                                file,
                                position,
                                message,
                            });
                            continue;
                        }
                    }
                }
                (None, None, Some(url))
                    if url.starts_with("https://") || url.starts_with("http://") =>
                {
                    JwksSource::Url(url)
                }
                (None, None, Some(_)) => {
                    self.errors
                        .push(source.error(&at("JwksUrl"), "JwksUrl must be an http(s) URL"));
                    continue;
                }
                _ => {
                    self.errors.push(source.error(
                        &[Step::Index(i)],
                        "give the provider's signing keys as exactly one of Jwks, JwksFile or JwksUrl",
                    ));
                    continue;
                }
            };
            let arn = format!("arn:aws:iam::{account}:oidc-provider/{url}");
            if self.snapshot.oidc_providers.contains_key(&arn) {
                self.errors
                    .push(source.error(&at("Url"), format!("provider {arn} is defined twice")));
                continue;
            }
            self.snapshot.oidc_providers.insert(
                arn.clone(),
                OidcProvider {
                    arn,
                    url,
                    client_ids: entry.client_id_list,
                    keys,
                },
            );
        }
    }

    /// Reads and deserialises a file; `None` when it is absent or broken (recorded).
    fn read<T: DeserializeOwned>(&mut self, file: &Path) -> Option<(Source, T)> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.errors.push(LoadError {
                    file: file.to_owned(),
                    position: None,
                    message: format!("cannot read: {e}"),
                });
                return None;
            }
        };
        match serde_json::from_str::<T>(&text) {
            Ok(value) => Some((
                Source {
                    file: file.to_owned(),
                    text,
                },
                value,
            )),
            Err(e) => {
                // A syntax error is named, at the character at fault, as the simulators name
                // it; a file of the wrong shape gets serde's words, placed where it noticed.
                let (position, message) = match crate::analyzer::json::describe_syntax_error(&text)
                {
                    Some((line, column, message)) => ((line, column), message),
                    None => (
                        (e.line(), e.column()),
                        crate::analyzer::json::serde_message(&e),
                    ),
                };
                self.errors.push(LoadError {
                    file: file.to_owned(),
                    position: Some(position),
                    message,
                });
                None
            }
        }
    }

    fn compile(
        &mut self,
        source: &Source,
        path: &[Step],
        name: &str,
        kind: PolicyKind,
        document: &RawValue,
    ) -> Option<Arc<Policy>> {
        let result = match self.precompiled.remove(&(address(document), kind)) {
            Some(Ok(mut policy)) => {
                policy.set_name(name);
                Ok(policy)
            }
            Some(Err(mut e)) => {
                e.policy = name.to_owned();
                Err(e)
            }
            None => compile_document(name, kind, document),
        };
        match result {
            Ok(policy) => {
                self.documents += 1;
                self.statements += policy.statement_count();
                Some(Arc::new(policy))
            }
            Err(e) => {
                self.errors.push(source.policy_error(path, &e));
                None
            }
        }
    }

    fn collect_managed(&mut self, source: &Source, export: &IamExport) {
        for (i, detail) in export.policies.iter().enumerate() {
            let path = [Step::key("Policies"), Step::Index(i)];
            let default = default_version(detail);
            let Some((v, version)) = default else {
                self.broken.managed.insert(detail.arn.clone());
                self.errors.push(source.error(
                    &path,
                    format!("managed policy {} has no default version", detail.arn),
                ));
                continue;
            };
            let doc_path = [
                Step::key("Policies"),
                Step::Index(i),
                Step::key("PolicyVersionList"),
                Step::Index(v),
                Step::key("Document"),
            ];
            if let Some(policy) = self.compile(
                source,
                &doc_path,
                &detail.arn,
                PolicyKind::Identity,
                &version.document,
            ) {
                self.managed.insert(detail.arn.clone(), policy);
            } else {
                self.broken.managed.insert(detail.arn.clone());
            }
        }
    }

    fn inline(
        &mut self,
        source: &Source,
        path: &[Step],
        list: &str,
        owner_arn: &str,
        policies: &[InlinePolicy],
        out: &mut Vec<Arc<Policy>>,
    ) {
        for (i, p) in policies.iter().enumerate() {
            let mut doc_path = path.to_vec();
            doc_path.extend([Step::key(list), Step::Index(i), Step::key("PolicyDocument")]);
            let name = format!("{owner_arn} (inline {})", p.policy_name);
            if let Some(policy) = self.compile(
                source,
                &doc_path,
                &name,
                PolicyKind::Identity,
                &p.policy_document,
            ) {
                out.push(policy);
            }
        }
    }

    fn attached(
        &mut self,
        source: &Source,
        path: &[Step],
        attached: &[AttachedPolicy],
        out: &mut Vec<Arc<Policy>>,
    ) {
        for (i, a) in attached.iter().enumerate() {
            match self.managed.get(&a.policy_arn) {
                Some(policy) => out.push(policy.clone()),
                None if self.broken.managed.contains(&a.policy_arn) => {}
                None => {
                    let mut at = path.to_vec();
                    at.extend([Step::key("AttachedManagedPolicies"), Step::Index(i)]);
                    self.errors.push(source.error(
                        &at,
                        format!(
                            "attached policy {} is not among the exported Policies",
                            a.policy_arn
                        ),
                    ));
                }
            }
        }
    }

    fn boundary(
        &mut self,
        source: &Source,
        path: &[Step],
        boundary: Option<&Boundary>,
    ) -> Option<PolicySet> {
        let arn = boundary?.permissions_boundary_arn.as_str();
        match self.managed.get(arn) {
            Some(policy) => Some(PolicySet::new(vec![policy.clone()])),
            None if self.broken.managed.contains(arn) => None,
            None => {
                let mut at = path.to_vec();
                at.push(Step::key("PermissionsBoundary"));
                self.errors.push(source.error(
                    &at,
                    format!("permissions boundary {arn} is not among the exported Policies"),
                ));
                None
            }
        }
    }

    fn principal(
        &mut self,
        source: &Source,
        path: &[Step],
        arn: &str,
        account: &str,
    ) -> Option<Principal> {
        let mut at = path.to_vec();
        at.push(Step::key("Arn"));
        match Principal::from_arn(arn) {
            Ok(p) if p.account() == Some(account) => Some(p),
            Ok(_) => {
                self.errors.push(source.error(
                    &at,
                    format!("{arn} does not belong to account {account}, whose folder this is"),
                ));
                None
            }
            Err(e) => {
                self.errors.push(source.error(&at, e.to_string()));
                None
            }
        }
    }

    fn compile_account(&mut self, account: &str, source: &Source, export: &IamExport) {
        let mut groups: HashMap<&str, Vec<Arc<Policy>>> = HashMap::new();
        for (i, g) in export.group_detail_list.iter().enumerate() {
            let path = [Step::key("GroupDetailList"), Step::Index(i)];
            let mut policies = Vec::new();
            self.inline(
                source,
                &path,
                "GroupPolicyList",
                &g.arn,
                &g.group_policy_list,
                &mut policies,
            );
            self.attached(source, &path, &g.attached_managed_policies, &mut policies);
            self.snapshot
                .groups
                .insert(g.arn.clone(), PolicySet::new(policies.clone()));
            groups.insert(g.group_name.as_str(), policies);
        }
        for (i, u) in export.user_detail_list.iter().enumerate() {
            let path = [Step::key("UserDetailList"), Step::Index(i)];
            let Some(principal) = self.principal(source, &path, &u.arn, account) else {
                self.broken
                    .users
                    .insert((account.to_owned(), u.user_name.clone()));
                continue;
            };
            let mut policies = Vec::new();
            self.inline(
                source,
                &path,
                "UserPolicyList",
                &u.arn,
                &u.user_policy_list,
                &mut policies,
            );
            self.attached(source, &path, &u.attached_managed_policies, &mut policies);
            for (g, group) in u.group_list.iter().enumerate() {
                match groups.get(group.as_str()) {
                    Some(ps) => policies.extend(ps.iter().cloned()),
                    None => {
                        let at = [
                            Step::key("UserDetailList"),
                            Step::Index(i),
                            Step::key("GroupList"),
                            Step::Index(g),
                        ];
                        self.errors.push(
                            source.error(&at, format!("group '{group}' is not in GroupDetailList")),
                        );
                    }
                }
            }
            let boundary = self.boundary(source, &path, u.permissions_boundary.as_ref());
            let id = u.user_id.clone().unwrap_or_else(|| u.user_name.clone());
            let user = Identity::new(principal, id, policies, boundary, tags(&u.tags));
            self.add_identity(user);
        }
        for (i, r) in export.role_detail_list.iter().enumerate() {
            let path = [Step::key("RoleDetailList"), Step::Index(i)];
            let Some(principal) = self.principal(source, &path, &r.arn, account) else {
                continue;
            };
            let mut trust_path = path.to_vec();
            trust_path.push(Step::key("AssumeRolePolicyDocument"));
            let trust = self.compile(
                source,
                &trust_path,
                &format!("{} (trust policy)", r.arn),
                PolicyKind::Trust,
                &r.assume_role_policy_document,
            );
            let mut policies = Vec::new();
            self.inline(
                source,
                &path,
                "RolePolicyList",
                &r.arn,
                &r.role_policy_list,
                &mut policies,
            );
            self.attached(source, &path, &r.attached_managed_policies, &mut policies);
            let boundary = self.boundary(source, &path, r.permissions_boundary.as_ref());
            let id = r.role_id.clone().unwrap_or_else(|| r.role_name.clone());
            let role = Identity {
                trust: trust.map(|t| PolicySet::new(vec![t])),
                max_session_duration: r.max_session_duration,
                ..Identity::new(principal, id, policies, boundary, tags(&r.tags))
            };
            self.add_identity(role);
        }
    }

    fn add_identity(&mut self, identity: Identity) {
        self.snapshot
            .identities
            .insert(identity.principal.arn().to_owned(), Arc::new(identity));
    }

    fn compile_credentials(
        &mut self,
        account: &str,
        source: &Source,
        entries: Vec<CredentialEntry>,
    ) {
        for (i, entry) in entries.into_iter().enumerate() {
            let at = [Step::Index(i)];
            let active = match entry.status.as_str() {
                "Active" => true,
                "Inactive" => false,
                other => {
                    self.errors.push(source.error(
                        &[Step::Index(i), Step::key("Status")],
                        format!("Status must be Active or Inactive, not '{other}'"),
                    ));
                    continue;
                }
            };
            let owner = match (&entry.user_name, entry.root) {
                (None, true) => KeyOwner::Root,
                (Some(user), false) => {
                    let arn = self.user_arn(account, user);
                    match arn {
                        Some(arn) => KeyOwner::User(arn),
                        None if self.user_reported(account, user) => continue,
                        None => {
                            self.errors.push(source.error(
                                &[Step::Index(i), Step::key("UserName")],
                                format!("user '{user}' is not in this account's iam.json"),
                            ));
                            continue;
                        }
                    }
                }
                _ => {
                    self.errors.push(source.error(
                        &at,
                        "a key belongs either to a UserName or to the Root user (\"Root\": true)",
                    ));
                    continue;
                }
            };
            if entry.access_key_id.is_empty() || entry.secret_access_key.is_empty() {
                self.errors
                    .push(source.error(&at, "AccessKeyId and SecretAccessKey must not be empty"));
                continue;
            }
            if self.snapshot.keys.contains_key(&entry.access_key_id) {
                self.errors.push(source.error(
                    &at,
                    format!("access key {} is defined twice", entry.access_key_id),
                ));
                continue;
            }
            self.snapshot.keys.insert(
                entry.access_key_id.clone(),
                AccessKey::new(
                    entry.access_key_id,
                    entry.secret_access_key,
                    active,
                    account.to_owned(),
                    owner,
                ),
            );
        }
    }

    fn compile_resources(
        &mut self,
        account: &str,
        source: &Source,
        entries: BTreeMap<String, ResourceEntry>,
    ) {
        for (arn, entry) in entries {
            let path = [Step::key(&arn)];
            if !arn.starts_with("arn:") || arn.splitn(6, ':').count() != 6 {
                self.errors
                    .push(source.error(&path, format!("'{arn}' is not a resource ARN")));
                continue;
            }
            if self.snapshot.resources.contains_key(&arn) {
                self.errors.push(
                    source.error(&path, format!("{arn} is declared by more than one account")),
                );
                continue;
            }
            let policy = match &entry.policy {
                None => None,
                Some(doc) => {
                    let doc_path = [Step::key(&arn), Step::key("Policy")];
                    match self.compile(source, &doc_path, &arn, PolicyKind::Resource, doc) {
                        Some(p) => Some(PolicySet::new(vec![p])),
                        None => continue,
                    }
                }
            };
            self.snapshot.resources.insert(
                arn,
                Resource {
                    owner: account.to_owned(),
                    policy,
                    tags: entry.tags.into_iter().collect(),
                },
            );
        }
    }

    fn finish(mut self) -> Snapshot {
        self.snapshot.accounts = std::mem::take(&mut self.accounts);
        self.snapshot.managed = std::mem::take(&mut self.managed);
        self.snapshot.summary = Summary {
            accounts: self.snapshot.accounts.len(),
            principals: self.snapshot.identities.len(),
            policies: self.documents,
            statements: self.statements,
            keys: self.snapshot.keys.len(),
            resources: self.snapshot.resources.len(),
        };
        self.snapshot
    }
}

fn compile_document(
    name: &str,
    kind: PolicyKind,
    document: &RawValue,
) -> Result<Policy, PolicyError> {
    // Already checked to be JSON while the export was read: these parses do not fail on syntax.
    let not_json = |e: serde_json::Error| PolicyError::new(name, format!("not valid JSON: {e}"));
    let text = document.get();
    if text.trim_start().starts_with('"') {
        // The document as a string (URL-encoded, as the AWS CLI prints it).
        let inner: String = serde_json::from_str(text).map_err(not_json)?;
        return Policy::parse(name, kind, &inner);
    }
    let value: Value = serde_json::from_str(text).map_err(not_json)?;
    Policy::from_value(name, kind, &value)
}

/// A document's identity while the export it belongs to is alive.
fn address(document: &RawValue) -> usize {
    std::ptr::from_ref(document).cast::<u8>() as usize
}

/// The version of a managed policy in force.
fn default_version(detail: &ManagedPolicyDetail) -> Option<(usize, &PolicyVersion)> {
    detail
        .policy_version_list
        .iter()
        .enumerate()
        .find(|(_, v)| {
            v.is_default_version || Some(&v.version_id) == detail.default_version_id.as_ref()
        })
}

/// Compiles every policy document of the exports on all CPUs: most of a large store's load
/// time, and each document compiles on its own. The loader then takes each result where it
/// meets the document (names and errors are given their place there).
fn precompile(
    exports: &[(String, Source, IamExport)],
) -> HashMap<(usize, PolicyKind), Result<Policy, PolicyError>> {
    let mut jobs: Vec<(&RawValue, PolicyKind)> = Vec::new();
    for (_, _, export) in exports {
        fn inline(list: &[InlinePolicy]) -> impl Iterator<Item = (&RawValue, PolicyKind)> {
            list.iter()
                .map(|p| (&*p.policy_document, PolicyKind::Identity))
        }
        for detail in &export.policies {
            if let Some((_, version)) = default_version(detail) {
                jobs.push((&*version.document, PolicyKind::Identity));
            }
        }
        for g in &export.group_detail_list {
            jobs.extend(inline(&g.group_policy_list));
        }
        for u in &export.user_detail_list {
            jobs.extend(inline(&u.user_policy_list));
        }
        for r in &export.role_detail_list {
            jobs.push((&*r.assume_role_policy_document, PolicyKind::Trust));
            jobs.extend(inline(&r.role_policy_list));
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len() / PRECOMPILE_MIN_PER_THREAD);
    if threads < 2 {
        // Small stores: compiled where they are met, without threads.
        return HashMap::new();
    }
    let chunk = jobs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&(doc, kind)| ((address(doc), kind), compile_document("", kind, doc)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    })
}

/// Below this many documents per thread, threads cost more than they save.
const PRECOMPILE_MIN_PER_THREAD: usize = 64;

fn tags(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}
