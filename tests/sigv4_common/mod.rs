//! Shared helpers of the SigV4 tests: reading the suite's requests, a credential store.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use iamgate::sigv4::{Credential, CredentialStore, KeyStatus, RequestHead, SecretKey, TokenCheck};

/// `<crate>/tests/data/conformance/sigv4/<rel>` (a copy of the shared suite, see its NOTICE).
pub fn suite_path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/conformance/sigv4"
    ))
    .join(rel)
}

/// A request as read from a suite file: raw target split into path and query, headers in order
/// (folded lines kept with their line break), body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    pub method: Vec<u8>,
    pub path: Vec<u8>,
    pub query: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn parse(raw: &[u8]) -> RawRequest {
        let mut lines: Vec<&[u8]> = Vec::new();
        let mut rest = raw;
        let body;
        loop {
            match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let mut line = &rest[..i];
                    if line.last() == Some(&b'\r') {
                        line = &line[..line.len() - 1];
                    }
                    rest = &rest[i + 1..];
                    if line.is_empty() && !lines.is_empty() {
                        body = rest.to_vec();
                        break;
                    }
                    lines.push(line);
                }
                None => {
                    if !rest.is_empty() {
                        lines.push(rest);
                    }
                    body = Vec::new();
                    break;
                }
            }
        }
        let first = lines[0];
        let sp1 = first.iter().position(|&b| b == b' ').unwrap();
        let sp2 = first.iter().rposition(|&b| b == b' ').unwrap();
        let method = first[..sp1].to_vec();
        let target = &first[sp1 + 1..sp2];
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(i) => (target[..i].to_vec(), target[i + 1..].to_vec()),
            None => (target.to_vec(), Vec::new()),
        };
        let mut headers: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for line in &lines[1..] {
            if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                let last = headers.last_mut().unwrap();
                last.1.push(b'\n');
                last.1.extend_from_slice(line);
            } else {
                let c = line.iter().position(|&b| b == b':').unwrap();
                headers.push((line[..c].to_vec(), line[c + 1..].to_vec()));
            }
        }
        RawRequest {
            method,
            path,
            query,
            headers,
            body,
        }
    }

    /// A [`RequestHead`] borrowing from this request (names and method must be UTF-8; a mutated
    /// name that is not is replaced by `?`).
    pub fn head(&self) -> RequestHead<'_> {
        let headers = self
            .headers
            .iter()
            .map(|(n, v)| (std::str::from_utf8(n).unwrap_or("?"), v.as_slice()))
            .collect();
        let mut h = RequestHead::new(
            std::str::from_utf8(&self.method).unwrap_or("?"),
            &self.path,
            &self.query,
            headers,
        );
        h.body_empty = self.body.is_empty();
        h
    }
}

/// An in-memory credential store.
#[derive(Default)]
pub struct Store {
    pub keys: HashMap<String, (String, KeyStatus, Option<String>)>,
    pub expired_tokens: Vec<String>,
}

impl Store {
    pub fn with(akid: &str, secret: &str, token: Option<&str>) -> Store {
        let mut s = Store::default();
        s.keys.insert(
            akid.into(),
            (secret.into(), KeyStatus::Active, token.map(str::to_owned)),
        );
        s
    }
}

impl CredentialStore for Store {
    type Principal = String;

    fn lookup(&self, akid: &str) -> Option<Credential<String>> {
        self.keys.get(akid).map(|(secret, status, _)| Credential {
            secret: SecretKey::new(secret),
            status: *status,
            principal: format!("principal:{akid}"),
        })
    }

    fn check_session_token(&self, akid: &str, _p: &String, token: Option<&str>) -> TokenCheck {
        let expected = self.keys.get(akid).and_then(|k| k.2.as_deref());
        match (token, expected) {
            (None, _) => TokenCheck::Valid,
            (Some(t), _) if self.expired_tokens.iter().any(|e| e == t) => TokenCheck::Expired,
            (Some(t), Some(e)) if t == e => TokenCheck::Valid,
            _ => TokenCheck::Invalid,
        }
    }
}

pub const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2013-05-24T00:00:00Z
pub const T0: i64 = 1_369_353_600;

/// Signs a request with the `aws-sigv4` crate (S3 settings unless `service` is not `s3`).
/// `uri` is `http://host/path?query`, already encoded.
#[allow(clippy::too_many_arguments)]
pub fn aws_sign(
    service: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: aws_sigv4::http_request::SignableBody<'_>,
    presign: Option<u64>,
    token: Option<&str>,
    time: i64,
) -> http::Request<()> {
    use aws_sigv4::http_request::{
        sign, PercentEncodingMode, SignableRequest, SignatureLocation, SigningSettings,
        UriPathNormalizationMode,
    };
    let identity = aws_credential_types::Credentials::new(
        AKID,
        SECRET,
        token.map(str::to_owned),
        None,
        "test",
    )
    .into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    if let Some(e) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(e));
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(time as u64))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(method, uri, headers.iter().copied(), body).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut b = http::Request::builder().method(method).uri(uri);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let mut req = b.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req
}

/// A verifier for S3 + `service`, region us-east-1, at `now`, knowing [`AKID`].
pub fn s3_verifier(now: i64) -> iamgate::sigv4::Verifier<Store, iamgate::sigv4::FixedClock> {
    let mut config = iamgate::sigv4::Config::new("us-east-1");
    config
        .services
        .push(iamgate::sigv4::ServiceRules::other("service"));
    iamgate::sigv4::Verifier::with_clock(
        config,
        Store::with(AKID, SECRET, None),
        iamgate::sigv4::FixedClock(now),
    )
}

/// A place to flip one byte of a signed part: (part, header index, byte index).
pub type Site = (&'static str, usize, usize);

/// Every byte of the method, path, query and body, and of each signed header's name and value
/// (and of `Authorization`).
pub fn mutation_sites(req: &RawRequest, signed: &[String]) -> Vec<Site> {
    let mut sites: Vec<Site> = Vec::new();
    sites.extend((0..req.method.len()).map(|i| ("method", 0, i)));
    sites.extend((0..req.path.len()).map(|i| ("path", 0, i)));
    sites.extend((0..req.query.len()).map(|i| ("query", 0, i)));
    sites.extend((0..req.body.len()).map(|i| ("body", 0, i)));
    for (hi, (n, val)) in req.headers.iter().enumerate() {
        let name = String::from_utf8_lossy(n).to_ascii_lowercase();
        if signed.contains(&name) || name == "authorization" {
            sites.extend((0..val.len()).map(|i| ("value", hi, i)));
            sites.extend((0..n.len()).map(|i| ("name", hi, i)));
        }
    }
    sites
}

/// `req` with the byte at `site` flipped.
pub fn flipped(req: &RawRequest, (part, hi, i): Site) -> RawRequest {
    let mut m = req.clone();
    let byte = match part {
        "method" => &mut m.method[i],
        "path" => &mut m.path[i],
        "query" => &mut m.query[i],
        "body" => &mut m.body[i],
        "value" => &mut m.headers[hi].1[i],
        _ => &mut m.headers[hi].0[i],
    };
    *byte ^= 1;
    m
}
