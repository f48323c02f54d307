//! Signing key derivation and the bounded signing key cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// HMAC-SHA256.
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // new_from_slice accepts keys of any length for HMAC; the error arm is unreachable.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().into()
        }
        Err(_) => [0u8; 32],
    }
}

/// An HMAC-SHA256 state keyed with `key`.
pub(crate) fn keyed_mac(key: &[u8; 32]) -> HmacSha256 {
    // HMAC accepts keys of any length; a 32-byte key cannot fail.
    <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

/// A secret access key. Cloning is cheap; `Debug` never shows the secret. It carries a SHA-256
/// fingerprint used to key the signing key cache (so a rotated secret never hits a stale key).
#[derive(Clone)]
pub struct SecretKey(Arc<SecretInner>);

struct SecretInner {
    secret: Box<[u8]>,
    fingerprint: [u8; 32],
}

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let secret: Box<[u8]> = secret.as_ref().into();
        let fingerprint = Sha256::digest(&secret).into();
        Self(Arc::new(SecretInner {
            secret,
            fingerprint,
        }))
    }

    /// SHA-256 of the secret: identifies a version of the secret without revealing it.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.0.fingerprint
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.0.secret
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Derives the SigV4 signing key for `date` (`YYYYMMDD`), region and service.
pub fn derive_signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k = Vec::with_capacity(4 + secret.expose().len());
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret.expose());
    let k_date = hmac_sha256(&k, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

#[derive(Clone)]
struct Entry {
    fingerprint: [u8; 32],
    date: Box<str>,
    region: Box<str>,
    service: Box<str>,
    key: [u8; 32],
    /// HMAC state already keyed with `key` (saves two compressions per signature).
    mac: HmacSha256,
}

/// What the key caches keep for each access key id: at most `capacity` ids; emptied when full
/// (derivation is then merely slower).
pub(crate) struct ByAccessKey<V> {
    map: RwLock<HashMap<Box<str>, V>>,
    capacity: usize,
}

/// The number of entries only: never the keys.
impl<V> std::fmt::Debug for ByAccessKey<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.map.read().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("ByAccessKey")
            .field("entries", &entries)
            .finish()
    }
}

impl<V: Default> ByAccessKey<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// What `find` finds in the entry of `access_key_id`.
    pub(crate) fn find<R>(
        &self,
        access_key_id: &str,
        find: impl FnOnce(&V) -> Option<R>,
    ) -> Option<R> {
        self.map.read().ok()?.get(access_key_id).and_then(find)
    }

    /// Changes the entry of `access_key_id` (empty when new), emptying the map first when it
    /// is full.
    pub(crate) fn update(&self, access_key_id: &str, update: impl FnOnce(&mut V)) {
        if let Ok(mut map) = self.map.write() {
            if map.len() >= self.capacity && !map.contains_key(access_key_id) {
                map.clear();
            }
            update(map.entry(access_key_id.into()).or_default());
        }
    }

    /// Number of access key ids held.
    pub(crate) fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }
}

/// A bounded cache of derived signing keys, keyed by access key id, secret fingerprint, date,
/// region and service (all compared, so two credentials can never share a key). At most
/// `PER_KEY` entries per access key id and `capacity` access key ids; when full it is emptied
/// (derivation costs four HMACs, so a cold cache is merely slower).
#[derive(Debug)]
pub struct SigningKeyCache {
    map: ByAccessKey<Vec<Entry>>,
}

const PER_KEY: usize = 4;

impl SigningKeyCache {
    /// A cache holding keys for up to `capacity` access key ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: ByAccessKey::new(capacity),
        }
    }

    /// The signing key, derived or from the cache.
    pub fn get(
        &self,
        access_key_id: &str,
        secret: &SecretKey,
        date: &str,
        region: &str,
        service: &str,
    ) -> [u8; 32] {
        self.get_keyed(access_key_id, secret, date, region, service)
            .0
    }

    /// The signing key and an HMAC state keyed with it, derived or from the cache.
    pub(crate) fn get_keyed(
        &self,
        access_key_id: &str,
        secret: &SecretKey,
        date: &str,
        region: &str,
        service: &str,
    ) -> ([u8; 32], HmacSha256) {
        let matches = |e: &Entry| {
            e.fingerprint == *secret.fingerprint()
                && &*e.date == date
                && &*e.region == region
                && &*e.service == service
        };
        let found = self.map.find(access_key_id, |v| {
            v.iter()
                .find(|e| matches(e))
                .map(|e| (e.key, e.mac.clone()))
        });
        if let Some(found) = found {
            return found;
        }
        let key = derive_signing_key(secret, date, region, service);
        let mac = keyed_mac(&key);
        self.map.update(access_key_id, |v| {
            v.retain(|e| e.fingerprint == *secret.fingerprint());
            if v.len() >= PER_KEY {
                v.remove(0);
            }
            v.push(Entry {
                fingerprint: *secret.fingerprint(),
                date: date.into(),
                region: region.into(),
                service: service.into(),
                key,
                mac: mac.clone(),
            });
        });
        (key, mac)
    }

    /// Number of access key ids cached.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_doc_key() {
        // The AWS documentation's example (IAM, us-east-1, 20150830).
        let s = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let k = derive_signing_key(&s, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex::encode(k),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        assert!(!format!("{s:?}").contains("wJal"));
    }

    #[test]
    fn cache_distinguishes_secrets_and_is_bounded() {
        let c = SigningKeyCache::new(2);
        let a = SecretKey::new("a");
        let b = SecretKey::new("b");
        let ka = c.get("K", &a, "20150830", "r", "s");
        let kb = c.get("K", &b, "20150830", "r", "s");
        assert_ne!(ka, kb);
        assert_eq!(c.get("K", &a, "20150830", "r", "s"), ka);
        c.get("K2", &a, "20150830", "r", "s");
        c.get("K3", &a, "20150830", "r", "s");
        assert!(c.len() <= 2);
    }
}
