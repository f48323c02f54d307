//! Signing as the SDKs do, with the official `aws-sigv4` crate ([`Sign`]),
//! and signing raw paths no URL library would accept, from the bytes as AWS defines it
//! ([`sign_raw`]).

use iamgate::sigv4::canonical::{canonical_path, canonical_query, PathMode};
use iamgate::sigv4::key::{derive_signing_key, hmac_sha256};
use iamgate::sigv4::SecretKey;
use sha2::{Digest, Sha256};

use super::client::Request;

/// A request to sign with the official signer: `method uri` for `host` and `service`, with
/// `key`; in us-east-1 and now, S3's payload `UNSIGNED-PAYLOAD`, no body, no session token, in
/// the `Authorization` header, unless the builder's calls say otherwise.
pub struct Sign<'a> {
    method: &'a str,
    uri: &'a str,
    host: &'a str,
    service: &'a str,
    key: (&'a str, &'a str),
    token: Option<&'a str>,
    body: &'a [u8],
    s3_payload: S3Payload,
    presigned: bool,
    at: Option<SignedAt<'a>>,
}

/// What an S3 request claims in `x-amz-content-sha256`.
enum S3Payload {
    Unsigned,
    Hashed,
    Claimed(String),
}

impl<'a> Sign<'a> {
    pub fn new(
        method: &'a str,
        uri: &'a str,
        host: &'a str,
        service: &'a str,
        key: (&'a str, &'a str),
    ) -> Sign<'a> {
        Sign {
            method,
            uri,
            host,
            service,
            key,
            token: None,
            body: b"",
            s3_payload: S3Payload::Unsigned,
            presigned: false,
            at: None,
        }
    }

    /// With a session token.
    pub fn token(mut self, token: Option<&'a str>) -> Sign<'a> {
        self.token = token;
        self
    }

    /// With a body (signed as it is for services other than S3).
    pub fn body(mut self, body: &'a [u8]) -> Sign<'a> {
        self.body = body;
        self
    }

    /// S3: the body's SHA-256 in `x-amz-content-sha256`, signed.
    pub fn hashed(mut self) -> Sign<'a> {
        self.s3_payload = S3Payload::Hashed;
        self
    }

    /// S3: `hash` in `x-amz-content-sha256`, true or not.
    pub fn claimed(mut self, hash: &str) -> Sign<'a> {
        self.s3_payload = S3Payload::Claimed(hash.to_owned());
        self
    }

    /// Presigned: the signature in the query (valid five minutes).
    pub fn presigned(mut self, presigned: bool) -> Sign<'a> {
        self.presigned = presigned;
        self
    }

    /// In another region or at another time (a client with a wrong clock).
    pub fn at(mut self, at: SignedAt<'a>) -> Sign<'a> {
        self.at = Some(at);
        self
    }

    /// The signed request: the target (with the signature's parameters when presigned) and
    /// the headers to send, `host` first.
    pub fn request(self) -> Request {
        use aws_sigv4::http_request::{
            sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
            SigningSettings, UriPathNormalizationMode,
        };
        let s3 = self.service == "s3";
        let mut headers = vec![("host".to_owned(), self.host.to_owned())];
        let claimed = match self.s3_payload {
            S3Payload::Unsigned => None,
            S3Payload::Hashed => Some(hex::encode(Sha256::digest(self.body))),
            S3Payload::Claimed(hash) => Some(hash),
        };
        // Other services sign the body itself.
        let body = match claimed {
            _ if !s3 => SignableBody::Bytes(self.body),
            None => {
                if !self.presigned {
                    headers.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
                }
                SignableBody::UnsignedPayload
            }
            Some(hash) => {
                headers.push(("x-amz-content-sha256".into(), hash.clone()));
                SignableBody::Precomputed(hash)
            }
        };
        let mut settings = SigningSettings::default();
        if s3 {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        if self.presigned {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(std::time::Duration::from_secs(300));
        }
        let (key, token) = (self.key, self.token);
        let identity = aws_credential_types::Credentials::new(
            key.0,
            key.1,
            token.map(str::to_owned),
            None,
            "t",
        )
        .into();
        let SignedAt(region, time) = self
            .at
            .unwrap_or_else(|| SignedAt("us-east-1", std::time::SystemTime::now()));
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(self.service)
            .time(time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = format!("http://{}{}", self.host, self.uri);
        let request = SignableRequest::new(
            self.method,
            &url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            body,
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_owned(), value.to_owned()));
        }
        let mut uri = self.uri.to_owned();
        const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        for (name, value) in instructions.params() {
            uri.push(if uri.contains('?') { '&' } else { '?' });
            uri.push_str(name);
            uri.push('=');
            uri.push_str(&percent_encoding::utf8_percent_encode(value, QUERY).to_string());
        }
        Request {
            method: self.method.to_owned(),
            uri,
            headers,
            body: bytes::Bytes::copy_from_slice(self.body),
        }
    }
}

/// Where and when a request is signed: the credential scope's region, and the signing time.
pub struct SignedAt<'a>(pub &'a str, pub std::time::SystemTime);

/// `Authorization` and `x-amz-date` (and for S3 `x-amz-content-sha256: UNSIGNED-PAYLOAD`)
/// signing `method raw_path?raw_query` with `host`, computed from the raw bytes the way AWS
/// defines it (S3: the path as sent; other services: normalised), so that paths no URL library
/// would accept can be signed.
pub fn sign_raw(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
) -> Vec<(String, String)> {
    sign_raw_with(method, raw_path, raw_query, host, service, key, &[])
}

/// [`sign_raw`], also signing the `extra` headers (lower-case names, values as sent); they are
/// not in the returned list: the caller sends them.
pub fn sign_raw_with(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let day = &date[..8];
    let s3 = service == "s3";
    let mut creq = Vec::new();
    creq.extend_from_slice(method.as_bytes());
    creq.push(b'\n');
    canonical_path(
        &mut creq,
        raw_path.as_bytes(),
        if s3 {
            PathMode::AsSent
        } else {
            PathMode::Normalized
        },
    );
    creq.push(b'\n');
    canonical_query(&mut creq, raw_query.as_bytes(), |_| false);
    creq.push(b'\n');
    let payload = if s3 {
        "UNSIGNED-PAYLOAD".to_owned()
    } else {
        hex::encode(Sha256::digest(b""))
    };
    let mut all: Vec<(&str, &str)> = vec![("host", host), ("x-amz-date", &date)];
    if s3 {
        all.push(("x-amz-content-sha256", &payload));
    }
    all.extend_from_slice(extra);
    all.sort();
    let headers: String = all.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed = all.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(";");
    let signed = signed.as_str();
    creq.extend_from_slice(headers.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(signed.as_bytes());
    creq.push(b'\n');
    creq.extend_from_slice(payload.as_bytes());
    let scope = format!("{day}/us-east-1/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(&creq))
    );
    let signing_key = derive_signing_key(&SecretKey::new(key.1), day, "us-east-1", service);
    let signature = hex::encode(hmac_sha256(&signing_key, to_sign.as_bytes()));
    let mut out = vec![
        ("x-amz-date".to_owned(), date),
        (
            "authorization".to_owned(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                key.0
            ),
        ),
    ];
    if s3 {
        out.push(("x-amz-content-sha256".to_owned(), payload));
    }
    out
}
