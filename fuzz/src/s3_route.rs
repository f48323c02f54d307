// The body of the `s3_route` fuzz target, shared by `fuzz_targets/s3_route.rs` and the main
// crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments and no
// crate-level items here). It must never panic, whatever the bytes.
//
// Input: `method \n host \n path \n query \n name:value \n ...` (an empty host line: no
// authority given, the Host header, if any, decides).

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use iamgate::route::s3::{bucket_arn, encode_key, object_arn, validate_bucket_name, MAX_KEY_BYTES};
use iamgate::route::{percent_decode, S3Model};

/// Splits the path a route forwards the way S3 reads it: first segment the bucket, the rest the
/// key, each percent-decoded once.
pub fn as_s3_reads(forward_path: &str) -> Option<(String, String)> {
    let rest = forward_path.strip_prefix('/')?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Some((percent_decode(bucket).ok()?, percent_decode(key).ok()?))
}

/// Routes one request and checks that what is authorised is what is forwarded.
pub fn check_s3_route(data: &[u8]) {
    let mut lines = data.split(|&b| b == b'\n');
    let Some(Ok(method)) = lines.next().map(Method::from_bytes) else {
        return;
    };
    let host = lines.next().and_then(|h| std::str::from_utf8(h).ok()).unwrap_or("");
    let Ok(path) = std::str::from_utf8(lines.next().unwrap_or(b"/")) else {
        return;
    };
    let Ok(query) = std::str::from_utf8(lines.next().unwrap_or(b"")) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, &b""[..]),
        };
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let model = S3Model::default();
    let host = (!host.is_empty()).then_some(host);
    let query = (!query.is_empty()).then_some(query);
    let Ok(route) = model.route(&method, host, path, query, &headers) else {
        return;
    };
    assert!(route.forward_path.starts_with('/'));
    match (&route.bucket, &route.key) {
        (None, None) => assert_eq!(route.forward_path, "/"),
        (None, Some(_)) => panic!("a key without a bucket"),
        (Some(bucket), key) => {
            assert!(validate_bucket_name(bucket).is_ok(), "invalid bucket {bucket:?}");
            let (seen_bucket, seen_key) =
                as_s3_reads(&route.forward_path).expect("the forward path decodes");
            assert_eq!(&seen_bucket, bucket, "forwarded to another bucket");
            assert_eq!(seen_key, key.clone().unwrap_or_default(), "forwarded another key");
            match key {
                Some(key) => {
                    assert!(!key.is_empty() && key.len() <= MAX_KEY_BYTES);
                    assert_eq!(route.forward_path, format!("/{bucket}/{}", encode_key(key)));
                    let arn = object_arn(bucket, key);
                    assert!(
                        route.needs_body.is_some() || route.checks.iter().any(|c| c.resource == arn),
                        "{:?} authorises nothing on {arn}",
                        route.checks
                    );
                }
                None => {
                    assert_eq!(route.forward_path, format!("/{bucket}"));
                    let arn = bucket_arn(bucket);
                    let objects = format!("{arn}/");
                    assert!(
                        route.needs_body.is_some()
                            || route.checks.iter().any(|c| c.resource == arn || c.resource.starts_with(&objects)),
                        "{:?} authorises nothing on {arn}",
                        route.checks
                    );
                }
            }
            // Nothing authorised in another bucket unless it is a copy's source.
            for check in &route.checks {
                let in_bucket = check.resource == bucket_arn(bucket)
                    || check.resource.starts_with(&format!("{}/", bucket_arn(bucket)));
                assert!(
                    in_bucket || check.resource == "*" || matches!(route.operation, "CopyObject" | "UploadPartCopy"),
                    "{} checks {} outside {bucket}",
                    route.operation,
                    check.resource
                );
            }
        }
    }
    assert!(route.needs_body.is_some() || !route.checks.is_empty(), "a route without checks");
}
