//! The AWS SigV4 test suite (`../shared/conformance/sigv4/v4`): every case verifies in header
//! and query form at its time, canonical request and string to sign equal the suite's, and any
//! single changed byte of a signed part is refused.

mod sigv4_common;

use std::fs;

use iamgate::sigv4::canonical::canonical_path;
use iamgate::sigv4::{
    AuthError, BodyVerifier, Config, FixedClock, Outcome, PathMode, PayloadMode, ServiceRules,
    Verifier,
};
use sigv4_common::{flipped, mutation_sites, suite_path, RawRequest, Store};

struct Case {
    name: String,
    ctx: serde_json::Value,
}

impl Case {
    fn file(&self, f: &str) -> Vec<u8> {
        fs::read(suite_path(&format!("v4/{}/{f}", self.name))).unwrap()
    }

    fn text(&self, f: &str) -> String {
        String::from_utf8(self.file(f)).unwrap()
    }

    fn normalize(&self) -> bool {
        self.ctx["normalize"].as_bool().unwrap_or(true)
    }

    fn verifier(&self) -> Verifier<Store, FixedClock> {
        let c = &self.ctx["credentials"];
        let store = Store::with(
            c["access_key_id"].as_str().unwrap(),
            c["secret_access_key"].as_str().unwrap(),
            c["token"].as_str(),
        );
        let mut rules = ServiceRules::other(self.ctx["service"].as_str().unwrap());
        rules.path_mode = if self.normalize() {
            PathMode::Normalized
        } else {
            PathMode::AsSent
        };
        rules.omit_session_token_from_query =
            self.ctx["omit_session_token"].as_bool().unwrap_or(false);
        let mut config = Config::new(self.ctx["region"].as_str().unwrap());
        config.services = vec![rules];
        let ts = time::OffsetDateTime::parse(
            self.ctx["timestamp"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        Verifier::with_clock(config, store, FixedClock(ts.unix_timestamp()))
    }
}

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = fs::read_dir(suite_path("v4"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("context.json").exists())
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

/// Verifies head and body; Ok(true) when accepted.
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

#[test]
fn every_case_verifies_with_the_suites_canonical_request_and_string_to_sign() {
    for case in cases() {
        let v = case.verifier();
        for form in ["header", "query"] {
            let req = RawRequest::parse(&case.file(&format!("{form}-signed-request.txt")));
            let (r, e) = v.verify_explained(&req.head());
            let r = r.unwrap_or_else(|err| panic!("{} {form}: {err:?} {e:?}", case.name));
            let Outcome::Authenticated(a) = r else {
                panic!("{} {form}: anonymous", case.name)
            };
            let expected_cr = case.text(&format!("{form}-canonical-request.txt"));
            // sign_body: the payload hash is the body's (declared or computed at the end).
            let body_hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&req.body).into();
            match a.payload {
                PayloadMode::Sha256(h) => assert_eq!(h, body_hash, "{}", case.name),
                PayloadMode::Deferred => assert!(case.ctx["sign_body"] == true, "{}", case.name),
                other => panic!("{}: {other:?}", case.name),
            }
            if a.signature_verified {
                assert_eq!(
                    e.string_to_sign.as_deref(),
                    Some(case.text(&format!("{form}-string-to-sign.txt")).as_str()),
                    "{} {form}: string to sign",
                    case.name
                );
            } else {
                // Deferred: the payload hash (last line) comes from the body.
                assert_eq!(a.payload, PayloadMode::Deferred);
                let cut = expected_cr.rfind('\n').unwrap() + 1;
                assert_eq!(
                    e.canonical_request.as_deref(),
                    Some(&expected_cr[..cut]),
                    "{}",
                    case.name
                );
                accepts(&v, &req).unwrap_or_else(|err| panic!("{} {form}: {err:?}", case.name));
                continue;
            }
            assert_eq!(
                e.canonical_request.as_deref(),
                Some(expected_cr.as_str()),
                "{} {form}: canonical request",
                case.name
            );
            accepts(&v, &req).unwrap_or_else(|err| panic!("{} {form}: {err:?}", case.name));
        }
    }
}

/// Every byte of every signed part, flipped (xor 1), is refused, except where path
/// normalisation maps the changed path to the same canonical path.
#[test]
fn every_flipped_signed_byte_is_refused() {
    let mut tried = 0usize;
    let mut equivalent = 0usize;
    for case in cases() {
        let v = case.verifier();
        for form in ["header", "query"] {
            let req = RawRequest::parse(&case.file(&format!("{form}-signed-request.txt")));
            let head = req.head();
            let Ok(Outcome::Authenticated(a)) = v.verify(&head) else {
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
                    // Only acceptable when normalisation maps both paths to the same canonical
                    // path (e.g. a byte of a segment that `..` removes).
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
fn cases_are_refused_at_another_time() {
    for case in cases() {
        let mut v = case.verifier();
        let req = RawRequest::parse(&case.file("header-signed-request.txt"));
        let t = match v.verify(&req.head()) {
            Ok(Outcome::Authenticated(a)) => a.request_time,
            other => panic!("{other:?}"),
        };
        let config = v.config().clone();
        let c = &case.ctx["credentials"];
        let mk = |now| {
            Verifier::with_clock(
                config.clone(),
                Store::with(
                    c["access_key_id"].as_str().unwrap(),
                    c["secret_access_key"].as_str().unwrap(),
                    c["token"].as_str(),
                ),
                FixedClock(now),
            )
        };
        assert!(mk(t + 900).verify(&req.head()).is_ok());
        for now in [t + 901, t - 901] {
            assert!(matches!(
                mk(now).verify(&req.head()).unwrap_err(),
                AuthError::RequestTimeTooSkewed(times) if times.request == t && times.server == now
            ));
        }
        let q = RawRequest::parse(&case.file("query-signed-request.txt"));
        assert!(mk(t + 3600).verify(&q.head()).is_ok());
        assert_eq!(
            mk(t + 3601).verify(&q.head()).unwrap_err(),
            AuthError::RequestExpired
        );
        assert!(matches!(
            mk(t - 901).verify(&q.head()).unwrap_err(),
            AuthError::RequestNotYetValid(times) if times.in_the_future()
        ));
        v = mk(t);
        assert!(v.verify(&q.head()).is_ok());
    }
}
