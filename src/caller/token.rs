//! Session tokens: sealed, authenticated blobs that carry a whole session, so that every replica
//! holding the sealing keys verifies a token with no shared state.
//!
//! A token is standard base64 of `version (1) ‖ key id (4) ‖ nonce (12) ‖ AES-256-GCM(claims)`.
//! The version and key id are the associated data. The key id is the first four bytes of the
//! key's SHA-256, so rotation needs no bookkeeping: the newest key seals, every configured key
//! opens. Nonces are random (96 bits); a key seals far fewer than the 2³² tokens after which
//! random nonces would risk a collision.

use std::fmt;

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Tokens longer than this are refused before any work (AWS's own are under 2 KiB; ours carry
/// session policies, at most 2,048 characters plus ten policy ARNs and fifty tags).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Who a session is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// A role session (`AssumeRole`, `AssumeRoleWithWebIdentity`).
    #[serde(rename = "r")]
    Role {
        /// The role's ARN.
        arn: String,
        /// The role's unique id (`AROA...`).
        id: String,
        /// The session name.
        session: String,
    },
    /// A user's session (`GetSessionToken`).
    #[serde(rename = "u")]
    User {
        /// The user's ARN.
        arn: String,
        /// The user's unique id.
        id: String,
    },
    /// The root user's session (`GetSessionToken` with root keys).
    #[serde(rename = "a")]
    Root,
}

/// Everything a session token carries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The temporary access key id (`ASIA...`).
    #[serde(rename = "k")]
    pub access_key_id: String,
    /// The temporary secret access key.
    #[serde(rename = "s")]
    pub secret_access_key: String,
    /// The account.
    #[serde(rename = "a")]
    pub account: String,
    /// Who the session is.
    #[serde(rename = "p")]
    pub subject: Subject,
    /// Issued at, Unix seconds (`aws:TokenIssueTime`).
    #[serde(rename = "i")]
    pub issued: i64,
    /// Expires at, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// The inline session policy, minified.
    #[serde(rename = "sp", default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Managed session policies.
    #[serde(rename = "pa", default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// Session tags (`aws:PrincipalTag/*`), including transitive ones inherited.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The keys of the tags that pass on to chained role sessions.
    #[serde(rename = "tt", default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// When multi-factor authentication happened, Unix seconds.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub mfa_time: Option<i64>,
    /// `aws:SourceIdentity`.
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// For web identity sessions: the provider's ARN (`aws:FederatedProvider`).
    #[serde(rename = "fp", default, skip_serializing_if = "Option::is_none")]
    pub federated_provider: Option<String>,
    /// Whether the session came from another role session (role chaining).
    #[serde(rename = "c", default, skip_serializing_if = "std::ops::Not::not")]
    pub chained: bool,
}

impl fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("account", &self.account)
            .field("subject", &self.subject)
            .field("issued", &self.issued)
            .field("expires", &self.expires)
            .field("policy", &self.policy.is_some())
            .field("policy_arns", &self.policy_arns)
            .field("tags", &self.tags)
            .field("mfa_time", &self.mfa_time)
            .field("source_identity", &self.source_identity)
            .finish_non_exhaustive()
    }
}

/// Why a token does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of ours, tampered with, or sealed with a key no longer configured.
    #[error("the session token is invalid")]
    Invalid,
    /// Opened, but past its expiry.
    #[error("the session token has expired")]
    Expired,
}

/// A sealing key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not base64.
    #[error("session token key {index} is not base64")]
    NotBase64 {
        /// Its position in the list, from 1.
        index: usize,
    },
    /// Not 32 bytes.
    #[error("session token key {index} is {len} bytes; it must be 32 (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")]
    Length {
        /// Its position in the list, from 1.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The system's random source failed.
    #[error("the system random source failed")]
    Random,
}

struct SealingKey {
    id: [u8; KEY_ID_LEN],
    key: LessSafeKey,
}

/// The keys that seal and open session tokens: the first seals, all open.
pub struct TokenKeys {
    keys: Vec<SealingKey>,
    random: SystemRandom,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl TokenKeys {
    /// Keys given as base64 text (32 bytes each), newest first.
    pub fn from_base64<S: AsRef<str>>(keys: &[S]) -> Result<TokenKeys, KeyError> {
        let mut raw = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(k.as_ref().trim())
                .map_err(|_| KeyError::NotBase64 { index: i + 1 })?;
            if bytes.len() != 32 {
                return Err(KeyError::Length {
                    index: i + 1,
                    len: bytes.len(),
                });
            }
            raw.push(bytes);
        }
        Ok(TokenKeys::from_raw(raw))
    }

    /// One fresh random key: tokens die with the process and other replicas refuse them.
    pub fn generate() -> Result<TokenKeys, KeyError> {
        let mut key = vec![0u8; 32];
        SystemRandom::new()
            .fill(&mut key)
            .map_err(|_| KeyError::Random)?;
        Ok(TokenKeys::from_raw(vec![key]))
    }

    fn from_raw(raw: Vec<Vec<u8>>) -> TokenKeys {
        let keys = raw
            .into_iter()
            .filter_map(|bytes| {
                let digest = Sha256::digest(&bytes);
                let mut id = [0u8; KEY_ID_LEN];
                id.copy_from_slice(&digest[..KEY_ID_LEN]);
                let key = UnboundKey::new(&AES_256_GCM, &bytes).ok()?;
                Some(SealingKey {
                    id,
                    key: LessSafeKey::new(key),
                })
            })
            .collect();
        TokenKeys {
            keys,
            random: SystemRandom::new(),
        }
    }

    /// How many keys open tokens.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no key at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Seals `claims` with the newest key.
    pub fn seal(&self, claims: &SessionClaims) -> Result<String, KeyError> {
        let key = self.keys.first().ok_or(KeyError::Random)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| KeyError::Random)?;
        let mut header = [0u8; HEADER_LEN];
        header[0] = VERSION;
        header[1..1 + KEY_ID_LEN].copy_from_slice(&key.id);
        header[1 + KEY_ID_LEN..].copy_from_slice(&nonce);
        // Serialising plain data into a Vec cannot fail.
        let mut body = serde_json::to_vec(claims).unwrap_or_default();
        key.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header[..1 + KEY_ID_LEN]),
                &mut body,
            )
            .map_err(|_| KeyError::Random)?;
        let mut token = Vec::with_capacity(HEADER_LEN + body.len());
        token.extend_from_slice(&header);
        token.extend_from_slice(&body);
        Ok(base64::engine::general_purpose::STANDARD.encode(token))
    }

    /// Opens a token at time `now` (Unix seconds).
    pub fn open(&self, token: &str, now: i64) -> Result<SessionClaims, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(token)
            .map_err(|_| TokenError::Invalid)?;
        if bytes.len() < HEADER_LEN || bytes[0] != VERSION {
            return Err(TokenError::Invalid);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id[..] == bytes[1..1 + KEY_ID_LEN])
            .ok_or(TokenError::Invalid)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[1 + KEY_ID_LEN..HEADER_LEN]);
        let (header, sealed) = bytes.split_at_mut(HEADER_LEN);
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header[..1 + KEY_ID_LEN]),
                sealed,
            )
            .map_err(|_| TokenError::Invalid)?;
        let claims: SessionClaims =
            serde_json::from_slice(plain).map_err(|_| TokenError::Invalid)?;
        if now >= claims.expires {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// A new temporary access key id and secret.
    pub fn new_credentials(&self) -> Result<(String, String), KeyError> {
        let mut id = [0u8; 10];
        let mut secret = [0u8; 30];
        self.random.fill(&mut id).map_err(|_| KeyError::Random)?;
        self.random
            .fill(&mut secret)
            .map_err(|_| KeyError::Random)?;
        let id = format!("ASIA{}", data_encoding::BASE32_NOPAD.encode(&id));
        let secret = base64::engine::general_purpose::STANDARD.encode(secret);
        Ok((id, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires: i64) -> SessionClaims {
        SessionClaims {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            account: "111122223333".into(),
            subject: Subject::Role {
                arn: "arn:aws:iam::111122223333:role/auditor".into(),
                id: "AROAEXAMPLE".into(),
                session: "s1".into(),
            },
            issued: 1_000,
            expires,
            policy: Some("{}".into()),
            policy_arns: vec![],
            tags: vec![("team".into(), "blue".into())],
            transitive_tag_keys: vec![],
            mfa_time: Some(990),
            source_identity: None,
            federated_provider: None,
            chained: false,
        }
    }

    fn key(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }

    #[test]
    fn a_sealed_token_opens_to_the_same_claims_until_it_expires() {
        let keys = TokenKeys::from_base64(&[key(1)]).unwrap();
        let token = keys.seal(&claims(2_000)).unwrap();
        assert_eq!(keys.open(&token, 1_999).unwrap(), claims(2_000));
        assert_eq!(keys.open(&token, 2_000), Err(TokenError::Expired));
        assert_eq!(keys.open(&token, 5_000), Err(TokenError::Expired));
    }

    #[test]
    fn two_seals_of_the_same_claims_differ() {
        let keys = TokenKeys::from_base64(&[key(1)]).unwrap();
        assert_ne!(
            keys.seal(&claims(2_000)).unwrap(),
            keys.seal(&claims(2_000)).unwrap()
        );
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let keys = TokenKeys::from_base64(&[key(1)]).unwrap();
        let token = keys.seal(&claims(2_000)).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap();
        for i in 0..raw.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = raw.clone();
                bad[i] ^= bit;
                let bad = base64::engine::general_purpose::STANDARD.encode(bad);
                assert_eq!(keys.open(&bad, 1_500), Err(TokenError::Invalid), "byte {i}");
            }
        }
        let truncated = base64::engine::general_purpose::STANDARD.encode(&raw[..raw.len() - 1]);
        assert_eq!(keys.open(&truncated, 1_500), Err(TokenError::Invalid));
        assert_eq!(keys.open("not base64!", 1_500), Err(TokenError::Invalid));
        assert_eq!(keys.open("", 1_500), Err(TokenError::Invalid));
    }

    #[test]
    fn rotation_the_newest_key_seals_and_every_key_opens() {
        let old = TokenKeys::from_base64(&[key(1)]).unwrap();
        let old_token = old.seal(&claims(2_000)).unwrap();
        let rotated = TokenKeys::from_base64(&[key(2), key(1)]).unwrap();
        assert!(rotated.open(&old_token, 1_500).is_ok());
        let new_token = rotated.seal(&claims(2_000)).unwrap();
        assert_eq!(old.open(&new_token, 1_500), Err(TokenError::Invalid));
        let retired = TokenKeys::from_base64(&[key(2)]).unwrap();
        assert_eq!(retired.open(&old_token, 1_500), Err(TokenError::Invalid));
        assert!(retired.open(&new_token, 1_500).is_ok());
    }

    #[test]
    fn a_token_of_another_deployment_is_invalid() {
        let ours = TokenKeys::from_base64(&[key(1)]).unwrap();
        let theirs = TokenKeys::generate().unwrap();
        let token = theirs.seal(&claims(2_000)).unwrap();
        assert_eq!(ours.open(&token, 1_500), Err(TokenError::Invalid));
    }

    #[test]
    fn bad_keys_are_named() {
        assert_eq!(
            TokenKeys::from_base64(&["!!"]).unwrap_err(),
            KeyError::NotBase64 { index: 1 }
        );
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
        assert_eq!(
            TokenKeys::from_base64(&[key(1), short]).unwrap_err(),
            KeyError::Length { index: 2, len: 16 }
        );
    }

    #[test]
    fn credentials_look_like_aws_temporary_ones() {
        let keys = TokenKeys::generate().unwrap();
        let (id, secret) = keys.new_credentials().unwrap();
        assert!(id.starts_with("ASIA") && id.len() == 20, "{id}");
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(secret.len(), 40);
        assert_ne!(keys.new_credentials().unwrap().0, id);
    }
}
