//! SigV4A (`AWS4-ECDSA-P256-SHA256`): the ECDSA P-256 key derived from a secret access key, its
//! cache, signature verification and region-set matching.
//!
//! The key derivation is AWS's (aws-c-auth `aws_ecc_key_pair_new_ecdsa_p256_key_from_aws_credentials`,
//! aws-sigv4 `sign::v4a::generate_signing_key`): NIST SP 800-108 counter-mode KDF with
//! HMAC-SHA256, key `"AWS4A" + secret`, fixed input
//! `be32(1) || "AWS4-ECDSA-P256-SHA256" || 0x00 || access_key_id || counter || be32(256)`;
//! the first candidate `k0 <= n - 2` (counter from 1) gives the private scalar `k0 + 1`, so
//! the scalar is in `1..n`. The verifier only needs the public key `(k0 + 1)·G`.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::{NonZeroScalar, PublicKey};
use sha2::{Digest, Sha256};

use super::key::{hmac_sha256, ByAccessKey, SecretKey};

/// The SigV4A algorithm name.
pub const ALGORITHM_V4A: &str = "AWS4-ECDSA-P256-SHA256";

/// The order `n` of P-256, minus 2, big-endian.
const N_MINUS_2: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x4f,
];

/// The SigV4A private scalar (big-endian) of a credential. `None` only if 254 candidates in a
/// row were out of range (probability about 2^-8000).
fn derive_private_scalar(access_key_id: &str, secret: &SecretKey) -> Option<[u8; 32]> {
    let mut key = Vec::with_capacity(5 + secret.expose().len());
    key.extend_from_slice(b"AWS4A");
    key.extend_from_slice(secret.expose());
    let mut input = Vec::with_capacity(4 + ALGORITHM_V4A.len() + 1 + access_key_id.len() + 5);
    for counter in 1u8..=254 {
        input.clear();
        input.extend_from_slice(&1u32.to_be_bytes());
        input.extend_from_slice(ALGORITHM_V4A.as_bytes());
        input.push(0);
        input.extend_from_slice(access_key_id.as_bytes());
        input.push(counter);
        input.extend_from_slice(&256u32.to_be_bytes());
        let mut k = hmac_sha256(&key, &input);
        // Big-endian byte strings of equal length compare like the numbers they encode.
        if k <= N_MINUS_2 {
            // k + 1 cannot overflow: k <= n - 2 < 2^256 - 1.
            for b in k.iter_mut().rev() {
                let (v, carry) = b.overflowing_add(1);
                *b = v;
                if !carry {
                    break;
                }
            }
            key.fill(0);
            return Some(k);
        }
    }
    key.fill(0);
    None
}

/// The SigV4A public key of a credential.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct V4aPublicKey(VerifyingKey);

impl V4aPublicKey {
    /// Derives the public key from the access key id and secret (one P-256 scalar
    /// multiplication; use [`V4aKeyCache`]).
    pub fn derive(access_key_id: &str, secret: &SecretKey) -> Option<Self> {
        let mut d = derive_private_scalar(access_key_id, secret)?;
        let scalar: Option<NonZeroScalar> = NonZeroScalar::from_repr(d.into()).into();
        d.fill(0);
        let public = PublicKey::from_secret_scalar(&scalar?);
        Some(Self(VerifyingKey::from(public)))
    }

    /// The affine coordinates `(x, y)`, big-endian.
    pub fn coordinates(&self) -> ([u8; 32], [u8; 32]) {
        let point = self.0.to_sec1_point(false);
        let sec1 = point.as_bytes();
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        if sec1.len() == 65 {
            x.copy_from_slice(&sec1[1..33]);
            y.copy_from_slice(&sec1[33..65]);
        }
        (x, y)
    }

    /// True when `der_signature` (ASN.1 DER `ECDSA-Sig-Value`) is a valid signature of
    /// SHA-256(`message`) under this key.
    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> bool {
        let Ok(sig) = Signature::from_der(der_signature) else {
            return false;
        };
        let digest = Sha256::digest(message);
        self.0.verify_prehash(&digest, &sig).is_ok()
    }
}

impl std::fmt::Debug for V4aPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (x, y) = self.coordinates();
        f.debug_struct("V4aPublicKey")
            .field("x", &hex::encode(x))
            .field("y", &hex::encode(y))
            .finish()
    }
}

/// A bounded cache of derived SigV4A public keys, keyed by access key id and secret fingerprint
/// (a rotated secret never hits a stale key). Holds up to `capacity` access key ids; emptied
/// when full.
#[derive(Debug)]
pub struct V4aKeyCache {
    /// Access key id → (secret fingerprint, public key).
    map: ByAccessKey<Option<([u8; 32], V4aPublicKey)>>,
}

impl V4aKeyCache {
    /// A cache for up to `capacity` access key ids.
    pub fn new(capacity: usize) -> Self {
        Self {
            map: ByAccessKey::new(capacity),
        }
    }

    /// The public key of a credential, derived or from the cache.
    pub fn get(&self, access_key_id: &str, secret: &SecretKey) -> Option<V4aPublicKey> {
        let cached = self.map.find(access_key_id, |entry| {
            entry
                .as_ref()
                .filter(|(fingerprint, _)| fingerprint == secret.fingerprint())
                .map(|(_, k)| *k)
        });
        if cached.is_some() {
            return cached;
        }
        let k = V4aPublicKey::derive(access_key_id, secret)?;
        self.map.update(access_key_id, |entry| {
            *entry = Some((*secret.fingerprint(), k));
        });
        Some(k)
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

/// True when `region` is in the comma-separated region set `set` (`X-Amz-Region-Set`). Entries
/// are trimmed; `*` in an entry matches any run of characters (`*`, `us-*`, `*-west-2`); other
/// characters must be equal (region names are lower case).
pub fn region_set_matches(set: &str, region: &str) -> bool {
    set.split(',')
        .map(|e| e.trim_matches([' ', '\t']))
        .filter(|e| !e.is_empty())
        .any(|e| glob(e.as_bytes(), region.as_bytes()))
}

fn glob(pattern: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with single backtrack point (linear-ish, no recursion).
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while i < s.len() {
        if p < pattern.len() && pattern[p] != b'*' && pattern[p] == s[i] {
            p += 1;
            i += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_sets() {
        assert!(region_set_matches("us-east-1", "us-east-1"));
        assert!(region_set_matches("eu-west-1, us-east-1", "us-east-1"));
        assert!(region_set_matches("*", "us-east-1"));
        assert!(region_set_matches("us-*", "us-east-1"));
        assert!(region_set_matches("*-east-1", "us-east-1"));
        assert!(region_set_matches("us-*-1", "us-east-1"));
        assert!(!region_set_matches("us-*", "eu-west-1"));
        assert!(!region_set_matches("us-east-2", "us-east-1"));
        assert!(!region_set_matches("us-east", "us-east-1"));
        assert!(!region_set_matches("", "us-east-1"));
        assert!(!region_set_matches(",", "us-east-1"));
        assert!(!region_set_matches("US-EAST-1", "us-east-1"));
    }

    #[test]
    fn derivation_matches_the_suite() {
        // tests/data/conformance/sigv4/v4a/*/public-key.json
        let k = V4aPublicKey::derive(
            "AKIDEXAMPLE",
            &SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        )
        .unwrap();
        let (x, y) = k.coordinates();
        assert_eq!(
            hex::encode(x),
            "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1"
        );
        assert_eq!(
            hex::encode(y),
            "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518"
        );
        let c = V4aKeyCache::new(1);
        let s = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        assert_eq!(c.get("AKIDEXAMPLE", &s), Some(k));
        assert_ne!(c.get("AKIDEXAMPLE", &SecretKey::new("other")), Some(k));
        c.get("K2", &s);
        assert_eq!(c.len(), 1);
    }
}
