//! The AWS SigV4A test suite (`tests/data/conformance/sigv4/v4a`): the derived public key equals
//! the suite's, canonical request and string to sign equal the suite's, the suite's signatures
//! verify in header and query form at the case's time, and a flipped byte of a signed part or of
//! the signature is refused. ECDSA signatures are randomized, so the suite's signatures are
//! verified, never compared with one we make.

mod sigv4_common;

use std::fs;

use iamgate::sigv4::canonical::canonical_path;
use iamgate::sigv4::v4a::V4aPublicKey;
use iamgate::sigv4::{
    AuthError, AuthType, BodyVerifier, Config, FixedClock, Outcome, PathMode, PayloadMode,
    SecretKey, ServiceRules, Verifier,
};
use sigv4_common::{flipped, mutation_sites, suite_path, RawRequest, Store};

struct Case {
    name: String,
    ctx: serde_json::Value,
}

impl Case {
    fn file(&self, f: &str) -> Vec<u8> {
        fs::read(suite_path(&format!("v4a/{}/{f}", self.name))).unwrap()
    }

    fn text(&self, f: &str) -> String {
        String::from_utf8(self.file(f)).unwrap()
    }

    fn normalize(&self) -> bool {
        self.ctx["normalize"].as_bool().unwrap_or(true)
    }

    fn akid(&self) -> &str {
        self.ctx["credentials"]["access_key_id"].as_str().unwrap()
    }

    fn secret(&self) -> &str {
        self.ctx["credentials"]["secret_access_key"]
            .as_str()
            .unwrap()
    }

    fn now(&self) -> i64 {
        time::OffsetDateTime::parse(
            self.ctx["timestamp"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
    }

    fn config(&self, region: &str) -> Config {
        let mut rules = ServiceRules::other(self.ctx["service"].as_str().unwrap());
        rules.path_mode = if self.normalize() {
            PathMode::Normalized
        } else {
            PathMode::AsSent
        };
        rules.omit_session_token_from_query =
            self.ctx["omit_session_token"].as_bool().unwrap_or(false);
        let mut config = Config::new(region);
        config.services = vec![rules];
        config
    }

    fn verifier_at(&self, region: &str, now: i64) -> Verifier<Store, FixedClock> {
        let store = Store::with(
            self.akid(),
            self.secret(),
            self.ctx["credentials"]["token"].as_str(),
        );
        Verifier::with_clock(self.config(region), store, FixedClock(now))
    }

    fn verifier(&self) -> Verifier<Store, FixedClock> {
        self.verifier_at(self.ctx["region"].as_str().unwrap(), self.now())
    }
}

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = fs::read_dir(suite_path("v4a"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("context.json").exists())
        // Two cases of the suite (get-vanilla-query-order-key, -value) have only a context and
        // a request, no signed request or key: nothing to verify.
        .filter(|e| e.path().join("header-signed-request.txt").exists())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let ctx =
                serde_json::from_slice(&fs::read(e.path().join("context.json")).unwrap()).unwrap();
            Case { name, ctx }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(v.len() >= 30, "suite not found or too small");
    v
}

/// Verifies head and body.
fn accepts(v: &Verifier<Store, FixedClock>, req: &RawRequest) -> Result<(), AuthError> {
    match v.verify(&req.head())? {
        Outcome::Anonymous => Err(AuthError::MissingAuthenticationToken),
        Outcome::Authenticated(a) => {
            let mut bv = BodyVerifier::new(&a, 1 << 20)?;
            let mut out = Vec::new();
            bv.push(bytes::Bytes::from(req.body.clone()), &mut out)?;
            bv.finish(&mut out)?;
            assert_eq!(out.concat(), req.body);
            Ok(())
        }
    }
}

fn hex64(v: &serde_json::Value) -> String {
    format!("{:0>64}", v.as_str().unwrap().to_ascii_lowercase())
}

#[test]
fn derived_public_keys_equal_the_suites() {
    for case in cases() {
        let k = V4aPublicKey::derive(case.akid(), &SecretKey::new(case.secret())).unwrap();
        let (x, y) = k.coordinates();
        let expected: serde_json::Value = serde_json::from_slice(&case.file("public-key.json"))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(hex::encode(x), hex64(&expected["X"]), "{}: X", case.name);
        assert_eq!(hex::encode(y), hex64(&expected["Y"]), "{}: Y", case.name);
    }
}

#[test]
fn the_suites_standalone_signatures_verify_over_its_string_to_sign() {
    for case in cases() {
        let k = V4aPublicKey::derive(case.akid(), &SecretKey::new(case.secret())).unwrap();
        for form in ["header", "query"] {
            let sts = case.file(&format!("{form}-string-to-sign.txt"));
            let sig = hex::decode(case.text(&format!("{form}-signature.txt")).trim()).unwrap();
            assert!(k.verify(&sts, &sig), "{} {form}", case.name);
            let mut bad = sts.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(!k.verify(&bad, &sig), "{} {form}", case.name);
        }
    }
}

#[test]
fn every_case_verifies_with_the_suites_canonical_request_and_string_to_sign() {
    let mut deferred = 0;
    for case in cases() {
        let v = case.verifier();
        for form in ["header", "query"] {
            let req = RawRequest::parse(&case.file(&format!("{form}-signed-request.txt")));
            let (r, e) = v.verify_explained(&req.head());
            let r = r.unwrap_or_else(|err| panic!("{} {form}: {err:?} {e:?}", case.name));
            let Outcome::Authenticated(a) = r else {
                panic!("{} {form}: anonymous", case.name)
            };
            assert_eq!(a.signature_version, "AWS4-ECDSA-P256-SHA256");
            assert_eq!(a.access_key_id, case.akid());
            assert_eq!(a.principal, format!("principal:{}", case.akid()));
            assert_eq!(a.scope.region(), "us-east-1");
            assert_eq!(a.region_set.as_deref(), Some("us-east-1"));
            assert_eq!(
                a.auth_type,
                if form == "header" {
                    AuthType::Header
                } else {
                    AuthType::Query
                }
            );
            assert_eq!(
                a.session_token_present,
                case.ctx["credentials"]["token"].is_string(),
                "{}",
                case.name
            );
            let body_hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&req.body).into();
            match a.payload {
                PayloadMode::Sha256(h) => assert_eq!(h, body_hash, "{}", case.name),
                PayloadMode::Deferred => {
                    // No x-amz-content-sha256 and a body: the ECDSA signature is checked by the
                    // body verifier once the body's hash is known.
                    assert!(case.ctx["sign_body"] == true, "{}", case.name);
                    assert!(!a.signature_verified);
                    let expected_cr = case.text(&format!("{form}-canonical-request.txt"));
                    let cut = expected_cr.rfind('\n').unwrap() + 1;
                    assert_eq!(
                        e.canonical_request.as_deref(),
                        Some(&expected_cr[..cut]),
                        "{}",
                        case.name
                    );
                    accepts(&v, &req).unwrap_or_else(|err| panic!("{} {form}: {err:?}", case.name));
                    let mut bad = req.clone();
                    bad.body[0] ^= 1;
                    assert_eq!(accepts(&v, &bad), Err(AuthError::SignatureDoesNotMatch));
                    deferred += 1;
                    continue;
                }
                other => panic!("{}: {other:?}", case.name),
            }
            assert!(a.signature_verified, "{} {form}", case.name);
            assert_eq!(
                e.canonical_request.as_deref(),
                Some(case.text(&format!("{form}-canonical-request.txt")).as_str()),
                "{} {form}: canonical request",
                case.name
            );
            assert_eq!(
                e.string_to_sign.as_deref(),
                Some(case.text(&format!("{form}-string-to-sign.txt")).as_str()),
                "{} {form}: string to sign",
                case.name
            );
            accepts(&v, &req).unwrap_or_else(|err| panic!("{} {form}: {err:?}", case.name));
        }
    }
    assert!(
        deferred > 0,
        "the deferred (body-signed) path was not exercised"
    );
}

/// Every byte of every signed part and of the signature, flipped (xor 1), is refused, except
/// where path normalisation maps the changed path to the same canonical path.
#[test]
fn every_flipped_signed_byte_is_refused() {
    let mut tried = 0usize;
    let mut equivalent = 0usize;
    for case in cases() {
        let v = case.verifier();
        for form in ["header", "query"] {
            let req = RawRequest::parse(&case.file(&format!("{form}-signed-request.txt")));
            let Ok(Outcome::Authenticated(a)) = v.verify(&req.head()) else {
                panic!("{}", case.name)
            };
            let signed: Vec<String> = a.signed_header_names().map(str::to_owned).collect();
            for site in mutation_sites(&req, &signed) {
                let (part, hi, i) = site;
                let m = flipped(&req, site);
                tried += 1;
                if accepts(&v, &m).is_ok() {
                    assert!(
                        part == "path" && case.normalize(),
                        "{} {form}: flipped {part} byte {i} (header {hi}) accepted",
                        case.name
                    );
                    let canon = |p: &[u8]| {
                        let mut o = Vec::new();
                        canonical_path(&mut o, p, PathMode::Normalized);
                        o
                    };
                    assert_eq!(canon(&m.path), canon(&req.path), "{}", case.name);
                    equivalent += 1;
                }
            }
        }
    }
    assert!(tried > 10_000, "only {tried} mutations");
    assert!(
        equivalent < tried / 50,
        "{equivalent} equivalent mutations of {tried}"
    );
    eprintln!("{tried} mutations tried, {equivalent} equivalent paths accepted");
}

#[test]
fn region_set_and_time_are_enforced() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "get-vanilla")
        .unwrap();
    let t = case.now();
    for form in ["header", "query"] {
        let req = RawRequest::parse(&case.file(&format!("{form}-signed-request.txt")));
        // Another gateway region is not in the signed set `us-east-1`.
        let e = case
            .verifier_at("eu-west-1", t)
            .verify(&req.head())
            .unwrap_err();
        assert!(
            matches!(
                e,
                AuthError::AuthorizationHeaderMalformed(_)
                    | AuthError::AuthorizationQueryParametersError(_)
            ),
            "{form}: {e:?}"
        );
        let at = |now| case.verifier_at("us-east-1", now).verify(&req.head());
        if form == "header" {
            assert!(at(t + 900).is_ok());
            assert!(matches!(
                at(t + 901).unwrap_err(),
                AuthError::RequestTimeTooSkewed(_)
            ));
            assert!(matches!(
                at(t - 901).unwrap_err(),
                AuthError::RequestTimeTooSkewed(_)
            ));
        } else {
            assert!(at(t + 3600).is_ok());
            assert_eq!(at(t + 3601).unwrap_err(), AuthError::RequestExpired);
            assert!(matches!(
                at(t - 901).unwrap_err(),
                AuthError::RequestNotYetValid(_)
            ));
        }
    }
    // A region set sent but not signed is refused.
    let mut req = RawRequest::parse(&case.file("header-signed-request.txt"));
    for (n, v) in &mut req.headers {
        if n.eq_ignore_ascii_case(b"authorization") {
            let s = String::from_utf8(v.clone()).unwrap();
            *v = s.replace(";x-amz-region-set", "").into_bytes();
        }
    }
    assert!(matches!(
        case.verifier().verify(&req.head()).unwrap_err(),
        AuthError::AuthorizationHeaderMalformed(_)
    ));
}

#[test]
fn the_suites_signature_under_another_key_is_refused() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "get-vanilla")
        .unwrap();
    let store = Store::with(case.akid(), "another secret", None);
    let v = Verifier::with_clock(case.config("us-east-1"), store, FixedClock(case.now()));
    for form in ["header", "query"] {
        let req = RawRequest::parse(&case.file(&format!("{form}-signed-request.txt")));
        assert_eq!(
            v.verify(&req.head()).unwrap_err(),
            AuthError::SignatureDoesNotMatch
        );
    }
}

/// The SigV4A private key, computed here independently of `iamgate::sigv4::v4a` (AWS's KDF).
fn private_key(akid: &str, secret: &str) -> p256::ecdsa::SigningKey {
    use hmac::Mac;
    let n_minus_2 =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc63254f").unwrap();
    for counter in 1u8..=254 {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(format!("AWS4A{secret}").as_bytes())
                .unwrap();
        mac.update(&1u32.to_be_bytes());
        mac.update(b"AWS4-ECDSA-P256-SHA256\0");
        mac.update(akid.as_bytes());
        mac.update(&[counter]);
        mac.update(&256u32.to_be_bytes());
        let k: [u8; 32] = mac.finalize().into_bytes().into();
        if k.as_slice() <= n_minus_2.as_slice() {
            let mut d = k;
            for b in d.iter_mut().rev() {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                if !c {
                    break;
                }
            }
            return p256::ecdsa::SigningKey::from_slice(&d).unwrap();
        }
    }
    unreachable!()
}

fn sign(key: &p256::ecdsa::SigningKey, sts: &str) -> String {
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    let z = <sha2::Sha256 as sha2::Digest>::digest(sts.as_bytes());
    let sig: p256::ecdsa::Signature = key.sign_prehash(&z).unwrap();
    hex::encode(sig.to_der().as_bytes())
}

/// Requests signed here (S3 header form with a wildcard region set, a presigned S3 URL, a
/// deferred non-S3 POST) verify; a signed SigV4A streaming body is refused.
#[test]
fn requests_signed_here_verify() {
    use sigv4_common::{s3_verifier, AKID, SECRET, T0};
    let key = private_key(AKID, SECRET);
    let v = s3_verifier(T0);
    let date = "20130524T000000Z";
    let cred = format!("{AKID}/20130524/s3/aws4_request");
    let dummy = "3006020101020101";

    // Header form, S3, region set with a wildcard.
    for (set, ok) in [("us-*", true), ("eu-west-1,*", true), ("eu-*", false)] {
        let auth = |sig: &str| {
            format!(
                "AWS4-ECDSA-P256-SHA256 Credential={cred}, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-region-set, Signature={sig}"
            )
        };
        let mk = |a: String| RawRequest {
            method: b"GET".to_vec(),
            path: b"/bucket/key".to_vec(),
            query: Vec::new(),
            headers: vec![
                (b"host".to_vec(), b"s3.amazonaws.com".to_vec()),
                (b"x-amz-date".to_vec(), date.as_bytes().to_vec()),
                (b"x-amz-region-set".to_vec(), set.as_bytes().to_vec()),
                (
                    b"x-amz-content-sha256".to_vec(),
                    b"UNSIGNED-PAYLOAD".to_vec(),
                ),
                (b"authorization".to_vec(), a.into_bytes()),
            ],
            body: Vec::new(),
        };
        let (r, e) = v.verify_explained(&mk(auth(dummy)).head());
        if !ok {
            assert!(matches!(r, Err(AuthError::AuthorizationHeaderMalformed(_))));
            continue;
        }
        assert_eq!(r.unwrap_err(), AuthError::SignatureDoesNotMatch);
        let sig = sign(&key, &e.string_to_sign.unwrap());
        let req = mk(auth(&sig));
        let Ok(Outcome::Authenticated(a)) = v.verify(&req.head()) else {
            panic!("{set}")
        };
        assert_eq!(a.signature_version, "AWS4-ECDSA-P256-SHA256");
        assert_eq!(a.scope.service(), "s3");
        assert_eq!(a.payload, PayloadMode::Unsigned);
        // A signed SigV4A streaming body is not supported.
        let mut streaming = req.clone();
        streaming.headers[3].1 = b"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD".to_vec();
        streaming
            .headers
            .push((b"x-amz-decoded-content-length".to_vec(), b"5".to_vec()));
        assert_eq!(
            v.verify(&streaming.head()).unwrap_err(),
            AuthError::InvalidContentSha256
        );
    }

    // Presigned S3 URL.
    let q = |sig: &str| {
        format!(
            "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential={}&X-Amz-Date={date}&X-Amz-Expires=600&X-Amz-Region-Set=%2A&X-Amz-SignedHeaders=host&X-Amz-Signature={sig}",
            cred.replace('/', "%2F")
        )
    };
    let mk = |query: String| RawRequest {
        method: b"GET".to_vec(),
        path: b"/bucket/key".to_vec(),
        query: query.into_bytes(),
        headers: vec![(b"host".to_vec(), b"s3.amazonaws.com".to_vec())],
        body: Vec::new(),
    };
    let (r, e) = v.verify_explained(&mk(q(dummy)).head());
    assert_eq!(r.unwrap_err(), AuthError::SignatureDoesNotMatch);
    let req = mk(q(&sign(&key, &e.string_to_sign.unwrap())));
    let Ok(Outcome::Authenticated(a)) = v.verify(&req.head()) else {
        panic!("presigned")
    };
    assert_eq!(a.auth_type, AuthType::Query);
    assert_eq!(a.region_set.as_deref(), Some("*"));

    // Deferred: a non-S3 POST without x-amz-content-sha256; the signature covers the body hash.
    let body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    let cred = format!("{AKID}/20130524/service/aws4_request");
    let mk = |sig: &str, body: &[u8]| {
        RawRequest {
        method: b"POST".to_vec(),
        path: b"/".to_vec(),
        query: Vec::new(),
        headers: vec![
            (b"host".to_vec(), b"service.amazonaws.com".to_vec()),
            (b"x-amz-date".to_vec(), date.as_bytes().to_vec()),
            (b"x-amz-region-set".to_vec(), b"us-east-1".to_vec()),
            (
                b"content-length".to_vec(),
                body.len().to_string().into_bytes(),
            ),
            (
                b"authorization".to_vec(),
                format!("AWS4-ECDSA-P256-SHA256 Credential={cred}, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature={sig}").into_bytes(),
            ),
        ],
        body: body.to_vec(),
    }
    };
    let (r, e) = v.verify_explained(&mk(dummy, &body).head());
    let Ok(Outcome::Authenticated(a)) = r else {
        panic!("deferred head")
    };
    assert_eq!(a.payload, PayloadMode::Deferred);
    let cr = format!(
        "{}{}",
        e.canonical_request.unwrap(),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body))
    );
    let sts = format!(
        "AWS4-ECDSA-P256-SHA256\n{date}\n20130524/service/aws4_request\n{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(cr.as_bytes()))
    );
    let sig = sign(&key, &sts);
    accepts(&v, &mk(&sig, &body)).unwrap();
    let mut other = body.clone();
    other[0] ^= 1;
    assert_eq!(
        accepts(&v, &mk(&sig, &other)),
        Err(AuthError::SignatureDoesNotMatch)
    );
    assert_eq!(
        accepts(&v, &mk(dummy, &body)),
        Err(AuthError::SignatureDoesNotMatch)
    );
}
