//! The request context: the condition keys and their values that a request brings.

/// Condition keys and their values. Key names are case-insensitive, as in AWS: they are
/// stored lower-cased. Values are kept as the text a request carries; each condition
/// operator reads them as its own type.
///
/// A context holds a few dozen keys at most, so a flat list scanned in order beats a hash map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Context {
        Context::default()
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
        self.insert_values(key, vec![value.into()]);
    }

    /// Sets a multi-valued key (such as `aws:TagKeys`), replacing any earlier values.
    pub fn insert_values(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = values,
            None => self.entries.push((key, values)),
        }
    }

    /// The values of a key; `key` must be lower-case.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
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
        for (key, values) in other.entries {
            self.insert_values(&key, values);
        }
    }

    /// The keys present, lower-cased.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
}
