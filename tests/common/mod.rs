//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The demo policy store of the repository.
pub fn demo_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What the official signer signs as the payload.
pub enum Payload<'a> {
    /// S3's `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// S3: a hash sent in `x-amz-content-sha256` (true or not).
    Claimed(String),
    /// Other services: the body itself.
    Bytes(&'a [u8]),
}

/// A request signed by the `aws-sigv4` crate, as the SDKs sign: the target (with the
/// signature's parameters when presigned) and the headers to send, `host` first.
pub struct Signed {
    /// Path and query.
    pub uri: String,
    /// Every header to send.
    pub headers: Vec<(String, String)>,
}

/// Signs `method uri` for `host` and `service` in us-east-1 with `key` (and a session `token`),
/// in the `Authorization` header or, `presigned`, in the query (valid five minutes).
#[allow(clippy::too_many_arguments)]
pub fn sign_official(
    method: &str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    token: Option<&str>,
    payload: Payload<'_>,
    presigned: bool,
) -> Signed {
    let now = std::time::SystemTime::now();
    let at = SignedAt("us-east-1", now);
    sign_official_at(
        method, uri, host, service, key, token, payload, presigned, at,
    )
}

/// Where and when a request is signed: the credential scope's region, and the signing time.
pub struct SignedAt<'a>(pub &'a str, pub std::time::SystemTime);

/// [`sign_official`] in another region or at another time (a client with a wrong clock).
#[allow(clippy::too_many_arguments)]
pub fn sign_official_at(
    method: &str,
    uri: &str,
    host: &str,
    service: &str,
    key: (&str, &str),
    token: Option<&str>,
    payload: Payload<'_>,
    presigned: bool,
    SignedAt(region, time): SignedAt<'_>,
) -> Signed {
    use aws_sigv4::http_request::{
        sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode,
    };
    let mut headers = vec![("host".to_owned(), host.to_owned())];
    let body = match payload {
        Payload::Unsigned => {
            if !presigned {
                headers.push(("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
            }
            SignableBody::UnsignedPayload
        }
        Payload::Claimed(hash) => {
            headers.push(("x-amz-content-sha256".into(), hash.clone()));
            SignableBody::Precomputed(hash)
        }
        Payload::Bytes(bytes) => SignableBody::Bytes(bytes),
    };
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    if presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(300));
    }
    let identity =
        aws_credential_types::Credentials::new(key.0, key.1, token.map(str::to_owned), None, "t")
            .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://{host}{uri}");
    let request = SignableRequest::new(
        method,
        &url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_owned(), value.to_owned()));
    }
    let mut uri = uri.to_owned();
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
    Signed { uri, headers }
}
