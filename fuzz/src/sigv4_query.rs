// The body of the `sigv4_query` fuzz target, shared by `fuzz_targets/sigv4_query.rs` and the
// main crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments and no
// crate-level items here). It must never panic, whatever the bytes.
//
// Input: a raw query string (without `?`).

use iamgate::sigv4::canonical::percent_decode;
use iamgate::sigv4::key::{derive_signing_key, hmac_sha256};
use iamgate::sigv4::parse::{parse_credential, parse_presigned_query};
use iamgate::sigv4::{
    AuthError, AuthType, Config, Credential, CredentialStore, FixedClock, KeyStatus, Outcome,
    RequestHead, SecretKey, ServiceRules, TokenCheck, Verifier,
};

/// The AWS suite's key and the S3 example's key.
const KEYS: [(&str, &str); 2] = [
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    (
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
];
/// 2015-08-30T12:36:00Z, the AWS suite's time.
const SUITE_TIME: i64 = 1_440_938_160;

struct QueryStore;

impl CredentialStore for QueryStore {
    type Principal = &'static str;

    fn lookup(&self, access_key_id: &str) -> Option<Credential<&'static str>> {
        if access_key_id == "AKIDINACTIVE" {
            return Some(Credential {
                secret: SecretKey::new("x"),
                status: KeyStatus::Inactive,
                principal: "inactive",
            });
        }
        KEYS.iter()
            .find(|(id, _)| *id == access_key_id)
            .map(|(_, secret)| Credential {
                secret: SecretKey::new(secret),
                status: KeyStatus::Active,
                principal: "known",
            })
    }

    fn check_session_token(&self, _: &str, _: &&'static str, token: Option<&str>) -> TokenCheck {
        match token {
            None | Some("good") => TokenCheck::Valid,
            Some("old") => TokenCheck::Expired,
            Some(_) => TokenCheck::Invalid,
        }
    }
}

fn query_verifier() -> Verifier<QueryStore, FixedClock> {
    let mut config = Config::new("us-east-1");
    config.services.push(ServiceRules::other("service"));
    let mut iot = ServiceRules::other("iot");
    iot.omit_session_token_from_query = true;
    config.services.push(iot);
    config.key_cache_capacity = 4;
    Verifier::with_clock(config, QueryStore, FixedClock(SUITE_TIME))
}

/// Parses the input as a presigned query; when it parses, verifies `GET /` with that query (and
/// a `host`). When verification fails only on the signature, puts the signature computed over
/// the verifier's string to sign in place of `X-Amz-Signature` and checks that it then verifies.
pub fn check_sigv4_query(data: &[u8]) {
    let parsed = parse_presigned_query(data);
    let Ok(Some(q)) = &parsed else {
        return;
    };
    assert!((1..=604_800).contains(&q.expires));
    let verifier = query_verifier();
    let head = RequestHead::new(
        "GET",
        b"/",
        data,
        vec![("host", &b"example.amazonaws.com"[..])],
    );
    let (result, explained) = verifier.verify_explained(&head);
    if let Ok(Outcome::Authenticated(auth)) = &result {
        assert_eq!(auth.auth_type, AuthType::Query);
        assert_eq!(auth.expires_secs, Some(q.expires));
    }
    assert!(
        !matches!(result, Ok(Outcome::Anonymous)),
        "presigned parameters parsed, yet the request is anonymous"
    );
    if result.as_ref().err() != Some(&AuthError::SignatureDoesNotMatch) {
        return;
    }
    let (Some(sts), Some(c)) = (&explained.string_to_sign, parse_credential(&q.credential)) else {
        return;
    };
    let Some((_, secret)) = KEYS.iter().find(|(id, _)| *id == c.access_key_id) else {
        return;
    };
    let key = derive_signing_key(&SecretKey::new(secret), c.date, c.region, c.service);
    let signature: String = hmac_sha256(&key, sts.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Rebuild the query with the signature replaced, every other piece as sent.
    let mut resigned: Vec<u8> = Vec::with_capacity(data.len());
    for (i, piece) in data.split(|&b| b == b'&').enumerate() {
        if i > 0 {
            resigned.push(b'&');
        }
        let name = piece.split(|&b| b == b'=').next().unwrap_or(b"");
        if !piece.is_empty() && &percent_decode(name)[..] == b"X-Amz-Signature" {
            resigned.extend_from_slice(b"X-Amz-Signature=");
            resigned.extend_from_slice(signature.as_bytes());
        } else {
            resigned.extend_from_slice(piece);
        }
    }
    let head = RequestHead::new(
        "GET",
        b"/",
        &resigned,
        vec![("host", &b"example.amazonaws.com"[..])],
    );
    let (again, explained) = verifier.verify_explained(&head);
    assert_eq!(
        explained.string_to_sign.as_deref(),
        Some(sts.as_str()),
        "the string to sign changed when only the signature did"
    );
    match again {
        Ok(_) | Err(AuthError::InvalidToken) | Err(AuthError::ExpiredToken) => {}
        Err(e) => panic!("re-signed request refused: {e:?}"),
    }
}
