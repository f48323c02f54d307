//! OpenID Connect web identity tokens (`AssumeRoleWithWebIdentity`): the token's signature,
//! expiry, issuer and audience, checked with `jsonwebtoken` against the provider's keys.
//!
//! Only asymmetric algorithms are accepted (RS*, PS*, ES*, EdDSA): a provider publishes public
//! keys, so an HMAC token could be forged by anyone who has them, and `alg: none` is not a
//! signature at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::policy::Context;
use crate::store::OidcProvider;

/// A verified web identity.
#[derive(Debug, Clone)]
pub struct WebIdentity {
    /// The provider's ARN.
    pub provider_arn: String,
    /// The provider's URL (the issuer without `https://`).
    pub provider_url: String,
    /// The `sub` claim.
    pub subject: String,
    /// The audience AWS reports: `azp` when present, else the `aud` accepted.
    pub audience: String,
    /// Every claim.
    pub claims: Map<String, Value>,
}

impl WebIdentity {
    /// The condition keys the trust policy sees, as AWS names them: `URL:sub`, `URL:aud`,
    /// `URL:oaud`, `URL:amr`, `URL:email`, and `aws:FederatedProvider`.
    pub fn context(&self) -> Context {
        let mut context = Context::new();
        let url = &self.provider_url;
        context.insert(&format!("{url}:sub"), self.subject.as_str());
        context.insert(&format!("{url}:aud"), self.audience.as_str());
        if self.claims.contains_key("azp") {
            let oaud = audiences(self.claims.get("aud"));
            if !oaud.is_empty() {
                context.insert_values(&format!("{url}:oaud"), oaud);
            }
        }
        if let Some(amr) = self.claims.get("amr") {
            let values = match amr {
                Value::Array(items) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            context.insert_values(&format!("{url}:amr"), values);
        }
        if let Some(Value::String(email)) = self.claims.get("email") {
            context.insert(&format!("{url}:email"), email.as_str());
        }
        context.insert("aws:FederatedProvider", self.provider_arn.as_str());
        context
    }
}

/// Why a web identity token is refused, in STS's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebIdentityError {
    /// `InvalidIdentityToken` (400).
    #[error("{0}")]
    Invalid(String),
    /// `ExpiredTokenException` (400).
    #[error("{0}")]
    Expired(String),
    /// `IDPCommunicationError` (400): the provider's keys could not be fetched.
    #[error("{0}")]
    Communication(String),
}

fn invalid(message: impl Into<String>) -> WebIdentityError {
    WebIdentityError::Invalid(message.into())
}

fn audiences(aud: Option<&Value>) -> Vec<String> {
    match aud {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The token's header and unverified claims, to find its provider and key. Nothing read here
/// is believed until [`verify`] checks the signature.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The signing algorithm.
    pub algorithm: Algorithm,
    /// The key id, if the header names one.
    pub key_id: Option<String>,
    /// The `iss` claim.
    pub issuer: String,
}

/// Reads the header and issuer of `token`, refusing what can never verify.
pub fn peek(token: &str) -> Result<Unverified, WebIdentityError> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| invalid("The web identity token is not a well-formed, signed JWT."))?;
    if matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(invalid(
            "The web identity token is signed with a symmetric algorithm; only public-key signatures are accepted.",
        ));
    }
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .ok_or_else(|| invalid("The web identity token's claims are not a JSON object."))?;
    let issuer = match payload.get("iss") {
        Some(Value::String(iss)) if !iss.is_empty() => iss.clone(),
        _ => return Err(invalid("The web identity token has no issuer (iss).")),
    };
    Ok(Unverified {
        algorithm: header.alg,
        key_id: header.kid,
        issuer,
    })
}

/// The ARN of the provider for `issuer` in `account`.
pub fn provider_arn(account: &str, issuer: &str) -> String {
    let url = issuer
        .strip_prefix("https://")
        .unwrap_or(issuer)
        .trim_end_matches('/');
    format!("arn:aws:iam::{account}:oidc-provider/{url}")
}

/// Verifies `token` from `provider` with `keys` at `now` (Unix seconds).
pub fn verify(
    token: &str,
    provider: &OidcProvider,
    keys: &JwkSet,
    now: i64,
) -> Result<WebIdentity, WebIdentityError> {
    let head = peek(token)?;
    let jwk = match &head.key_id {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
    .ok_or_else(|| {
        invalid("The web identity token is signed with a key the provider does not publish.")
    })?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|_| invalid("The provider's signing key cannot be used."))?;
    let mut validation = Validation::new(head.algorithm);
    // Times are checked below against the gateway's clock, with no leeway.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
    validation.set_issuer(&[format!("https://{}", provider.url), provider.url.clone()]);
    validation.set_audience(&provider.client_ids);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(
        |e| match e.kind() {
            ErrorKind::InvalidAudience => invalid("Incorrect token audience"),
            ErrorKind::InvalidIssuer => invalid("Incorrect token issuer"),
            ErrorKind::InvalidSignature => {
                invalid("The web identity token's signature does not verify.")
            }
            ErrorKind::InvalidAlgorithm => {
                invalid("The web identity token's algorithm does not match its key.")
            }
            ErrorKind::MissingRequiredClaim(claim) => {
                invalid(format!("The web identity token has no {claim} claim."))
            }
            _ => invalid("The web identity token could not be verified."),
        },
    )?;
    let claims = data.claims;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("The web identity token's exp claim is not a number."))?;
    if now >= exp {
        return Err(WebIdentityError::Expired(format!(
            "Token expired: current date/time {} must be before the expiration date/time {}",
            crate::context::iso8601(now),
            crate::context::iso8601(exp)
        )));
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64) {
        if now < nbf {
            return Err(invalid("The web identity token is not valid yet (nbf)."));
        }
    }
    let subject = match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(invalid(
                "The web identity token's sub claim is not a string.",
            ))
        }
    };
    let audience = match claims.get("azp") {
        Some(Value::String(azp)) => azp.clone(),
        _ => audiences(claims.get("aud"))
            .into_iter()
            .find(|a| provider.client_ids.contains(a))
            .unwrap_or_default(),
    };
    Ok(WebIdentity {
        provider_arn: provider.arn.clone(),
        provider_url: provider.url.clone(),
        subject,
        audience,
        claims,
    })
}

/// How long fetched keys are used before they are fetched again.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// A key id the cached set lacks refetches the set, at most this often (providers rotate keys by
/// publishing the new one first; a stranger's key id must not make the gateway hammer them).
pub const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);

/// Key sets fetched from providers' `JwksUrl`s.
#[derive(Debug, Default)]
pub struct JwksCache {
    sets: Mutex<HashMap<String, (Arc<JwkSet>, Instant)>>,
}

impl JwksCache {
    /// An empty cache.
    pub fn new() -> JwksCache {
        JwksCache::default()
    }

    /// The cached set for `url`, unless it must be fetched: absent, older than
    /// [`JWKS_MAX_AGE`], or lacking `kid` and older than [`JWKS_MIN_REFETCH`].
    pub fn fresh(&self, url: &str, kid: Option<&str>) -> Option<Arc<JwkSet>> {
        let sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        let (set, fetched) = sets.get(url)?;
        let age = fetched.elapsed();
        let has_kid = kid.is_none_or(|k| set.find(k).is_some());
        if age > JWKS_MAX_AGE || (!has_kid && age > JWKS_MIN_REFETCH) {
            return None;
        }
        Some(Arc::clone(set))
    }

    /// The cached set for `url` however old (used when a refetch fails).
    pub fn stale(&self, url: &str) -> Option<Arc<JwkSet>> {
        let sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.get(url).map(|(set, _)| Arc::clone(set))
    }

    /// Keeps a set just fetched.
    pub fn store(&self, url: &str, set: JwkSet) -> Arc<JwkSet> {
        let set = Arc::new(set);
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.insert(url.to_owned(), (Arc::clone(&set), Instant::now()));
        set
    }
}
