//! The request context: the condition keys and their values that a request brings.

use std::borrow::Cow;
use std::sync::Arc;

/// Condition keys and their values. Key names are case-insensitive, as in AWS: they are
/// stored lower-cased. Values are kept as the text a request carries; each condition
/// operator reads them as its own type.
///
/// A context holds a few dozen keys at most, so a flat list scanned in order beats a hash map.
///
/// ```
/// use std::sync::Arc;
/// use iamgate_policy::Context;
///
/// // Keys shared by every request of a caller, built once.
/// let mut caller = Context::new();
/// caller.insert("aws:username", "bob");
/// caller.insert_values("aws:PrincipalTag/teams", vec!["ops".into(), "web".into()]);
/// let caller = Arc::new(caller);
///
/// // One request's keys, layered over them.
/// let mut request = Context::on(caller);
/// request.insert("aws:SecureTransport", "true");
/// request.insert("aws:SourceIp", "192.0.2.7");
///
/// assert_eq!(request.single("aws:securetransport"), Some("true")); // lower-case to read
/// assert_eq!(request.single("aws:username"), Some("bob"));
/// assert_eq!(request.get("aws:principaltag/teams").unwrap(), ["ops", "web"]);
/// assert_eq!(request.keys().count(), 4);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Keys lower-cased; those named by literals (`insert_known`) borrowed, not allocated per
    /// request.
    entries: Vec<(Cow<'static, str>, Values)>,
    /// Keys shared by many requests (a principal's, built once per snapshot), read after
    /// `entries`: a request's own keys shadow them.
    base: Option<Arc<Context>>,
}

/// A key's values: most keys have one, kept without a vector of its own.
#[derive(Debug, Clone)]
enum Values {
    One(String),
    Many(Vec<String>),
}

impl Values {
    fn as_slice(&self) -> &[String] {
        match self {
            Values::One(value) => std::slice::from_ref(value),
            Values::Many(values) => values,
        }
    }
}

/// The number of keys a request's own layer usually holds (the environment, the route's and the
/// signature's keys): room for them at once rather than by doubling.
const REQUEST_KEYS: usize = 16;

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
    }

    /// A context that starts with the keys of `base`, shared rather than copied.
    pub fn on(base: Arc<Context>) -> Context {
        Context {
            entries: Vec::with_capacity(REQUEST_KEYS),
            base: Some(base),
        }
    }

    /// A context of single-valued keys.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Context {
        let mut context = Context::new();
        for (k, v) in pairs {
            context.insert(k.as_ref(), v);
        }
        context
    }

    /// Sets a single-valued key, replacing any earlier value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.set(lower(key), Values::One(value.into()));
    }

    /// Sets a single-valued key named by a lower-case literal, as [`Context::insert`] does,
    /// without copying the name.
    ///
    /// # Panics
    /// In debug builds, when `key` is not lower-case (it would never be found).
    pub fn insert_known(&mut self, key: &'static str, value: impl Into<String>) {
        debug_assert!(
            !key.bytes().any(|b| b.is_ascii_uppercase()),
            "context key '{key}' is not lower-case"
        );
        self.set(Cow::Borrowed(key), Values::One(value.into()));
    }

    /// Sets a multi-valued key (such as `aws:TagKeys`), replacing any earlier values.
    pub fn insert_values(&mut self, key: &str, values: Vec<String>) {
        self.set(lower(key), Values::Many(values));
    }

    /// Appends without looking for an earlier value of the key: readers take the last one
    /// (a request sets a dozen keys, and scanning for each was most of the cost of setting them).
    fn set(&mut self, key: Cow<'static, str>, values: Values) {
        self.entries.push((key, values));
    }

    /// The request's own entries that no later entry of the same key replaces.
    fn current(&self) -> impl Iterator<Item = &(Cow<'static, str>, Values)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(i, (k, _))| !self.entries[i + 1..].iter().any(|(later, _)| later == k))
            .map(|(_, entry)| entry)
    }

    /// The values of a key; `key` must be lower-case.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        match self.entries.iter().rev().find(|(k, _)| k == key) {
            Some((_, v)) => Some(v.as_slice()),
            None => self.base.as_ref().and_then(|b| b.get(key)),
        }
    }

    /// The value of a key that has exactly one; `key` must be lower-case.
    pub fn single(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some([one]) => Some(one),
            _ => None,
        }
    }

    /// Adds every key of `other`, replacing the values of keys present in both.
    pub fn merge(&mut self, other: Context) {
        for (key, values) in other.iter() {
            self.insert_values(key, values.to_vec());
        }
    }

    /// The keys present, lower-cased.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(k, _)| k)
    }

    /// Every key with its values, the shadowed keys of the base left out.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        let own = self.current().map(|(k, v)| (k.as_ref(), v.as_slice()));
        let inherited: Box<dyn Iterator<Item = (&str, &[String])>> = match &self.base {
            Some(base) => Box::new(
                base.iter()
                    .filter(|(k, _)| !self.entries.iter().any(|(own, _)| own == k)),
            ),
            None => Box::new(std::iter::empty()),
        };
        own.chain(inherited)
    }
}

fn lower(key: &str) -> Cow<'static, str> {
    Cow::Owned(key.to_ascii_lowercase())
}

/// Equal when they hold the same keys with the same values, however layered.
impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        let mut a: Vec<_> = self.iter().collect();
        let mut b: Vec<_> = other.iter().collect();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

impl Eq for Context {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_shadows_its_base_and_shares_the_rest() {
        let base = Arc::new(Context::from_pairs([
            ("aws:username", "alice"),
            ("aws:PrincipalType", "User"),
        ]));
        let mut c = Context::on(Arc::clone(&base));
        c.insert("aws:SourceIp", "192.0.2.1");
        c.insert("aws:username", "mallory");
        assert_eq!(c.single("aws:username"), Some("mallory"));
        assert_eq!(c.single("aws:principaltype"), Some("User"));
        assert_eq!(c.single("aws:sourceip"), Some("192.0.2.1"));
        assert_eq!(c.get("aws:missing"), None);
        assert_eq!(base.single("aws:username"), Some("alice"));
        let mut keys: Vec<&str> = c.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["aws:principaltype", "aws:sourceip", "aws:username"]);
        let flat = Context::from_pairs([
            ("aws:username", "mallory"),
            ("aws:PrincipalType", "User"),
            ("aws:SourceIp", "192.0.2.1"),
        ]);
        assert_eq!(c, flat);
        let mut merged = Context::new();
        merged.merge(c.clone());
        assert_eq!(merged, flat);
        assert_ne!(Context::on(base), flat);
    }

    #[test]
    fn a_key_is_found_however_it_was_spelled_and_its_last_value_counts() {
        let mut c = Context::new();
        c.insert_known("aws:sourceip", "192.0.2.1");
        c.insert_known("s3:signatureage", "1000");
        c.insert_values("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert_eq!(c.single("aws:sourceip"), Some("192.0.2.1"));
        assert_eq!(c.single("s3:signatureage"), Some("1000"));
        assert_eq!(c.get("aws:tagkeys").map(<[String]>::len), Some(2));
        assert_eq!(c.single("aws:tagkeys"), None);
        c.insert("AWS:SOURCEIP", "198.51.100.7");
        assert_eq!(c.single("aws:sourceip"), Some("198.51.100.7"));
        assert_eq!(c.keys().count(), 3);
    }
}
