#![allow(unused)]
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use iamgate::sigv4::{
    Authenticated, Config, Credential, CredentialStore, FixedClock, KeyStatus, Outcome,
    RequestHead, SecretKey, Verifier,
};
use std::hint::black_box;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const T0: i64 = 1_369_353_600;

struct Store(HashMap<String, Credential<u32>>);

impl CredentialStore for Store {
    type Principal = u32;
    fn lookup(&self, akid: &str) -> Option<Credential<u32>> {
        self.0.get(akid).cloned()
    }
}

fn verifier() -> Verifier<Store, FixedClock> {
    let mut m = HashMap::new();
    m.insert(
        AKID.to_owned(),
        Credential {
            secret: SecretKey::new(SECRET),
            status: KeyStatus::Active,
            principal: 7,
        },
    );
    Verifier::with_clock(Config::new("us-east-1"), Store(m), FixedClock(T0))
}

const URI: &str = "http://examplebucket.s3.amazonaws.com/reports/2026/q1.csv?versionId=3";
const HEADERS: [(&str, &str); 3] = [
    ("host", "examplebucket.s3.amazonaws.com"),
    ("range", "bytes=0-9"),
    (
        "x-amz-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
];

/// Signs the GET with the aws-sigv4 crate (a macro: the identity type lives in a crate this
/// package does not depend on directly).
macro_rules! aws_sign_get {
    ($identity:expr) => {{
        let identity = $identity;
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(identity)
            .region("us-east-1")
            .name("s3")
            .time(UNIX_EPOCH + Duration::from_secs(T0 as u64))
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let req = SignableRequest::new(
            "GET",
            URI,
            HEADERS.iter().copied(),
            SignableBody::Precomputed(HEADERS[2].1.to_owned()),
        )
        .expect("signable");
        sign(req, &params).expect("sign").into_parts()
    }};
}

fn signed_parts() -> http::request::Parts {
    let identity: aws_credential_types::Credentials =
        aws_credential_types::Credentials::new(AKID, SECRET, None, None, "b");
    let identity = identity.into();
    let (instructions, _) = aws_sign_get!(&identity);
    let mut b = http::Request::builder().method("GET").uri(URI);
    for (n, v) in HEADERS {
        b = b.header(n, v);
    }
    let mut req = b.body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    req.into_parts().0
}

fn authenticated(
    v: &Verifier<Store, FixedClock>,
    parts: &http::request::Parts,
) -> Authenticated<u32> {
    match v.verify(&RequestHead::from_parts(parts)).expect("verifies") {
        Outcome::Authenticated(a) => *a,
        Outcome::Anonymous => panic!("anonymous"),
    }
}

fn main() {
    let v = verifier();
    let parts = signed_parts();
    authenticated(&v, &parts);
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    for _ in 0..n {
        let head = RequestHead::from_parts(black_box(&parts));
        black_box(v.verify(&head).expect("verifies"));
    }
}
