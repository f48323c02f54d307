//! What exists: the actions and condition keys of the services the catalog knows, from the
//! Service Authorization Reference (vendored in `data/`, see `scripts/vendor-iam-definition.py`
//! in the repository), AWS's global condition keys, and the actions of services declared by the
//! user of the catalog.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

/// The vendored, trimmed Service Authorization Reference (S3, IAM, STS, KMS, and every service's
/// prefix), parsed once on first use.
static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    Reference::parse(
        include_str!("data/iam-definition.json"),
        include_str!("data/global-condition-keys.json"),
    )
});

/// The type of a condition key, as the reference writes it (`String`, `ArrayOfString`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyType(pub String);

impl KeyType {
    /// Whether the key has several values in a request (`ArrayOf...`).
    pub fn is_multivalued(&self) -> bool {
        self.0.starts_with("ArrayOf")
    }

    /// The type of one value (`ArrayOfString` → `String`).
    pub fn base(&self) -> &str {
        self.0.strip_prefix("ArrayOf").unwrap_or(&self.0)
    }
}

/// A condition key name, or a family of them (`aws:RequestTag/${TagKey}`: any tag key).
#[derive(Debug, Clone)]
struct KeyPattern {
    /// Lower-cased; for a family, up to and including the `/`.
    lower: String,
    family: bool,
}

impl KeyPattern {
    fn new(name: &str) -> KeyPattern {
        let lower = name.to_ascii_lowercase();
        match lower.find('/') {
            Some(slash) => KeyPattern {
                lower: lower[..=slash].to_owned(),
                family: true,
            },
            None => KeyPattern {
                lower,
                family: false,
            },
        }
    }

    fn matches(&self, key_lower: &str) -> bool {
        if self.family {
            key_lower.starts_with(&self.lower)
        } else {
            key_lower == self.lower
        }
    }
}

#[derive(Debug)]
struct ActionEntry {
    name: String,
    condition_keys: Vec<KeyPattern>,
}

#[derive(Debug)]
struct ServiceEntry {
    /// Lower-cased action name → action.
    actions: HashMap<String, ActionEntry>,
}

#[derive(Debug)]
struct Reference {
    services: HashMap<String, ServiceEntry>,
    prefixes: HashSet<String>,
    /// Every condition key a known service or AWS defines, with its type.
    keys: Vec<(KeyPattern, KeyType)>,
    /// Global (`aws:`) keys.
    global: Vec<(KeyPattern, KeyType)>,
}

#[derive(Deserialize)]
struct RawDefinition {
    services: HashMap<String, RawService>,
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
struct RawService {
    actions: HashMap<String, RawAction>,
    condition_keys: HashMap<String, String>,
}

#[derive(Deserialize)]
struct RawAction {
    condition_keys: Vec<String>,
}

#[derive(Deserialize)]
struct RawGlobal {
    keys: HashMap<String, String>,
}

impl Reference {
    fn parse(definition: &str, global: &str) -> Reference {
        // Both are part of the program, checked by its tests: a failure here is a build defect.
        let definition: RawDefinition =
            serde_json::from_str(definition).expect("the vendored iam-definition.json parses");
        let global: RawGlobal =
            serde_json::from_str(global).expect("the vendored global-condition-keys.json parses");
        let mut keys = Vec::new();
        let mut services = HashMap::new();
        for (prefix, raw) in definition.services {
            for (key, ty) in &raw.condition_keys {
                keys.push((KeyPattern::new(key), KeyType(ty.clone())));
            }
            let actions = raw
                .actions
                .into_iter()
                .map(|(name, a)| {
                    let entry = ActionEntry {
                        condition_keys: a
                            .condition_keys
                            .iter()
                            .map(|k| KeyPattern::new(k))
                            .collect(),
                        name: format!("{prefix}:{name}"),
                    };
                    (name.to_ascii_lowercase(), entry)
                })
                .collect();
            services.insert(prefix.to_ascii_lowercase(), ServiceEntry { actions });
        }
        let global: Vec<_> = global
            .keys
            .into_iter()
            .map(|(k, ty)| (KeyPattern::new(&k), KeyType(ty)))
            .collect();
        keys.extend(global.iter().cloned());
        Reference {
            services,
            prefixes: definition.prefixes.into_iter().collect(),
            keys,
            global,
        }
    }
}

/// What a policy's actions and condition keys are checked against: AWS's reference for S3, IAM,
/// STS and KMS (and the prefixes of every AWS service), plus services of your own declared with
/// [`Catalog::add_service`].
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    /// Route-table services: lower-cased service → lower-cased action names → action as declared.
    custom: HashMap<String, HashMap<String, String>>,
}

/// Whether and how a service's actions can be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKnowledge {
    /// Its actions are known: an unknown one is an error.
    Known,
    /// The service exists, but its actions are not vendored: not checked.
    Exists,
    /// No such service.
    Unknown,
}

impl Catalog {
    /// AWS's reference alone.
    pub fn aws() -> Catalog {
        Catalog::default()
    }

    /// Declares a service and its actions (names without the prefix).
    pub fn add_service(&mut self, service: &str, actions: impl IntoIterator<Item = String>) {
        let entry = self.custom.entry(service.to_ascii_lowercase()).or_default();
        for a in actions {
            entry.insert(a.to_ascii_lowercase(), format!("{service}:{a}"));
        }
    }

    /// How much is known of the service with this (lower-cased) prefix.
    pub fn service(&self, prefix_lower: &str) -> ServiceKnowledge {
        if self.custom.contains_key(prefix_lower) || REFERENCE.services.contains_key(prefix_lower) {
            ServiceKnowledge::Known
        } else if REFERENCE.prefixes.contains(prefix_lower) {
            ServiceKnowledge::Exists
        } else {
            ServiceKnowledge::Unknown
        }
    }

    /// Whether the service's condition keys are known (it is in the vendored reference).
    pub fn is_reference_service(&self, prefix_lower: &str) -> bool {
        REFERENCE.services.contains_key(prefix_lower)
    }

    /// Whether `service:name` (lower-cased) is a known action.
    pub fn has_action(&self, prefix_lower: &str, name_lower: &str) -> bool {
        self.custom
            .get(prefix_lower)
            .is_some_and(|a| a.contains_key(name_lower))
            || REFERENCE
                .services
                .get(prefix_lower)
                .is_some_and(|s| s.actions.contains_key(name_lower))
    }

    /// The known actions of a service whose lower-cased name `matches`, as declared.
    pub fn actions_matching<'a>(
        &'a self,
        prefix_lower: &str,
        matches: impl Fn(&str) -> bool + 'a,
    ) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(custom) = self.custom.get(prefix_lower) {
            out.extend(
                custom
                    .iter()
                    .filter(|(lower, _)| matches(lower))
                    .map(|(_, name)| name.as_str()),
            );
        }
        if let Some(service) = REFERENCE.services.get(prefix_lower) {
            out.extend(
                service
                    .actions
                    .iter()
                    .filter(|(lower, _)| matches(lower))
                    .map(|(_, a)| a.name.as_str()),
            );
        }
        out.sort_unstable();
        out
    }

    /// The action as the reference spells it (`s3:GetObject`), if known.
    pub fn action_name(&self, prefix_lower: &str, name_lower: &str) -> Option<&str> {
        if let Some(name) = self
            .custom
            .get(prefix_lower)
            .and_then(|a| a.get(name_lower))
        {
            return Some(name);
        }
        REFERENCE
            .services
            .get(prefix_lower)?
            .actions
            .get(name_lower)
            .map(|a| a.name.as_str())
    }

    /// Whether the reference lists `key` (lower-cased) among an AWS action's condition keys;
    /// `None` when the action is not in the reference (a route-table action, an unvendored
    /// service).
    pub fn action_supports_key(
        &self,
        prefix_lower: &str,
        name_lower: &str,
        key_lower: &str,
    ) -> Option<bool> {
        let action = REFERENCE
            .services
            .get(prefix_lower)?
            .actions
            .get(name_lower)?;
        Some(action.condition_keys.iter().any(|k| k.matches(key_lower)))
    }

    /// The type of a global (`aws:`) condition key, if it is one.
    pub fn global_key(&self, key_lower: &str) -> Option<&'static KeyType> {
        key_type(&REFERENCE.global, key_lower)
    }

    /// The type of a condition key any known service or AWS defines (`s3:prefix`,
    /// `saml:sub`, `aws:SourceIp`).
    pub fn key(&self, key_lower: &str) -> Option<&'static KeyType> {
        key_type(&REFERENCE.keys, key_lower)
    }

    /// A known action close to a misspelt one (one or two edits, or a different case of the
    /// service), for "Did you mean".
    pub fn suggest_action(&self, prefix_lower: &str, name_lower: &str) -> Option<String> {
        // Action names are short; a long one is no typo, and comparing it would cost.
        if name_lower.len() > 128 {
            return None;
        }
        let candidates = self.actions_matching(prefix_lower, |_| true);
        candidates
            .into_iter()
            .map(|c| {
                let (_, n) = c.split_once(':').unwrap_or(("", c));
                (edit_distance(&n.to_ascii_lowercase(), name_lower), c)
            })
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, c)| c.to_owned())
    }
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        prev = row;
    }
    prev[b.len()]
}

/// The type of the first pattern of `keys` that `key_lower` matches.
fn key_type(keys: &'static [(KeyPattern, KeyType)], key_lower: &str) -> Option<&'static KeyType> {
    keys.iter()
        .find(|(k, _)| k.matches(key_lower))
        .map(|(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_reference_loads() {
        let c = Catalog::aws();
        assert_eq!(c.service("s3"), ServiceKnowledge::Known);
        assert_eq!(c.service("ec2"), ServiceKnowledge::Exists);
        assert_eq!(c.service("s4"), ServiceKnowledge::Unknown);
        assert!(c.has_action("s3", "getobject"));
        assert!(!c.has_action("s3", "getobjects"));
        assert_eq!(c.action_name("iam", "passrole"), Some("iam:PassRole"));
        assert_eq!(
            c.suggest_action("s3", "getobjects").as_deref(),
            Some("s3:GetObject")
        );
        assert_eq!(
            c.action_supports_key("s3", "listbucket", "s3:prefix"),
            Some(true)
        );
        assert_eq!(
            c.action_supports_key("s3", "getobject", "s3:prefix"),
            Some(false)
        );
        assert!(c.global_key("aws:username").is_some());
        assert!(c.global_key("aws:principaltag/team").is_some());
        assert!(c.global_key("aws:usrname").is_none());
        assert!(c.key("s3:existingobjecttag/x").is_some());
        assert!(c.key("cognito-identity.amazonaws.com:aud").is_some());
        assert!(c.key("aws:tagkeys").unwrap().is_multivalued());
    }

    #[test]
    fn route_table_services_join_the_catalog() {
        let mut c = Catalog::aws();
        c.add_service("orders", ["GetOrder".to_owned()]);
        assert_eq!(c.service("orders"), ServiceKnowledge::Known);
        assert!(c.has_action("orders", "getorder"));
        assert_eq!(c.action_name("orders", "getorder"), Some("orders:GetOrder"));
        assert_eq!(c.action_supports_key("orders", "getorder", "aws:x"), None);
    }
}
