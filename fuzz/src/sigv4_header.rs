// The body of the `sigv4_header` fuzz target, shared by `fuzz_targets/sigv4_header.rs` and the
// main crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments and no
// crate-level items here). It must never panic, whatever the bytes.
//
// Input format: `method \n path \n query \n name:value \n name:value ...` (a `\r` before a `\n`
// is kept in the value; a header line without `:` is a header with an empty value).

use iamgate::sigv4::key::{derive_signing_key, hmac_sha256};
use iamgate::sigv4::parse::parse_authorization_header;
use iamgate::sigv4::{
    AuthError, Config, Credential, CredentialStore, FixedClock, KeyStatus, Outcome, RequestHead,
    SecretKey, ServiceRules, TokenCheck, Verifier,
};

/// The AWS suite's key (`AKIDEXAMPLE`), the S3 example's key, and an inactive key.
pub const SUITE_KEY: (&str, &str) = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
pub const S3_KEY: (&str, &str) = (
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
);
/// 2015-08-30T12:36:00Z, the AWS suite's time.
pub const SUITE_TIME: i64 = 1_440_938_160;

/// A small in-memory store: the two example keys, an inactive one; session token `good` is
/// valid, `old` expired, any other refused.
pub struct FuzzStore;

impl CredentialStore for FuzzStore {
    type Principal = &'static str;

    fn lookup(&self, access_key_id: &str) -> Option<Credential<&'static str>> {
        let (secret, status, principal) = match access_key_id {
            "AKIDEXAMPLE" => (SUITE_KEY.1, KeyStatus::Active, "suite"),
            "AKIAIOSFODNN7EXAMPLE" => (S3_KEY.1, KeyStatus::Active, "s3"),
            "AKIDINACTIVE" => ("x", KeyStatus::Inactive, "inactive"),
            _ => return None,
        };
        Some(Credential {
            secret: SecretKey::new(secret),
            status,
            principal,
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

/// The secret of a key the store knows (for re-signing).
pub fn secret_of(access_key_id: &str) -> Option<&'static str> {
    [SUITE_KEY, S3_KEY]
        .into_iter()
        .find(|(id, _)| *id == access_key_id)
        .map(|(_, s)| s)
}

/// A verifier for us-east-1 serving `s3`, `sts`, the suite's `service` (normalised paths) and
/// `iot` (session token left out of the canonical query), at the suite's time.
pub fn fuzz_verifier() -> Verifier<FuzzStore, FixedClock> {
    let mut config = Config::new("us-east-1");
    config.services.push(ServiceRules::other("service"));
    let mut iot = ServiceRules::other("iot");
    iot.omit_session_token_from_query = true;
    config.services.push(iot);
    config.key_cache_capacity = 4;
    Verifier::with_clock(config, FuzzStore, FixedClock(SUITE_TIME))
}

/// Splits the input into a request head (see the format above); `None` when the method line is
/// not UTF-8.
pub fn head_from_bytes(data: &[u8]) -> Option<RequestHead<'_>> {
    let mut lines = data.split(|&b| b == b'\n');
    let method = std::str::from_utf8(lines.next()?).ok()?;
    let path = lines.next().unwrap_or(b"");
    let query = lines.next().unwrap_or(b"");
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            // `:authority` keeps its leading colon.
            Some(0) if line.starts_with(b":authority:") => line.split_at(10),
            Some(i) => line.split_at(i),
            None => (line, &b":"[..]),
        };
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        headers.push((name, &value[1..]));
    }
    Some(RequestHead::new(method, path, query, headers))
}

/// Parses the whole input (when UTF-8) as an `Authorization` value, then verifies the head built
/// from it. When verification fails only on the signature, re-signs the canonical request the
/// verifier computed with the key's secret and checks that the request then verifies.
pub fn check_sigv4_header(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_authorization_header(text);
    }
    let Some(head) = head_from_bytes(data) else {
        return;
    };
    if let Some(Ok(value)) = head.header("authorization").map(std::str::from_utf8) {
        let _ = parse_authorization_header(value);
    }
    let verifier = fuzz_verifier();
    let (result, explained) = verifier.verify_explained(&head);
    // The plain entry point must agree with the explained one.
    let plain = verifier.verify(&head);
    assert_eq!(
        result.as_ref().err(),
        plain.as_ref().err(),
        "verify and verify_explained disagree"
    );
    if let Ok(Outcome::Authenticated(auth)) = &result {
        assert_eq!(auth.signature_version, "AWS4-HMAC-SHA256");
        assert!(auth.signed_header_names().any(|h| h == "host"));
    }
    if result.as_ref().err() == Some(&AuthError::SignatureDoesNotMatch) {
        if let Some(sts) = &explained.string_to_sign {
            resign_and_verify(&verifier, &head, sts);
        }
    }
}

/// Replaces the signature of the (first) `Authorization` header by the one computed over
/// `string_to_sign`, unless that header is itself signed, and verifies again: the signature must
/// now check out (only the session token may still be refused).
fn resign_and_verify(
    verifier: &Verifier<FuzzStore, FixedClock>,
    head: &RequestHead<'_>,
    sts: &str,
) {
    let Some(Ok(value)) = head.header("authorization").map(std::str::from_utf8) else {
        return;
    };
    let Ok(parsed) = parse_authorization_header(value) else {
        return;
    };
    let c = &parsed.credential;
    if parsed
        .signed_headers
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("authorization"))
    {
        return;
    }
    let Some(secret) = secret_of(c.access_key_id) else {
        return;
    };
    let key = derive_signing_key(&SecretKey::new(secret), c.date, c.region, c.service);
    let signature = hmac_sha256(&key, sts.as_bytes());
    let new_value = format!(
        "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/{}, SignedHeaders={}, Signature={}",
        c.access_key_id,
        c.date,
        c.region,
        c.service,
        c.terminator,
        parsed.signed_headers,
        hex_lower(&signature)
    );
    let mut resigned = head.clone();
    if let Some(slot) = resigned
        .headers
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
    {
        slot.1 = new_value.as_bytes();
    }
    let (again, explained) = verifier.verify_explained(&resigned);
    assert_eq!(
        explained.string_to_sign.as_deref(),
        Some(sts),
        "the string to sign changed when only the signature did"
    );
    match again {
        Ok(_) | Err(AuthError::InvalidToken) | Err(AuthError::ExpiredToken) => {}
        Err(e) => panic!("re-signed request refused: {e:?}"),
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
