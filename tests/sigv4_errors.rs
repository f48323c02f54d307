//! Every error path of the head verifier: status and code as AWS gives them.

mod sigv4_common;

use aws_sigv4::http_request::SignableBody;
use iamgate::proxy::respond::{Dialect, Reject};
use iamgate::sigv4::{
    AuthError, CodeFamily, Config, FixedClock, KeyStatus, Outcome, RequestHead, ServiceRules,
    Verifier,
};
use sigv4_common::*;

fn signed_get(presign: Option<u64>, token: Option<&str>) -> http::request::Parts {
    let headers: &[(&str, &str)] = if presign.is_some() {
        &[]
    } else {
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]
    };
    let body = SignableBody::UnsignedPayload;
    aws_sign(
        "s3",
        "GET",
        "http://s3.amazonaws.com/bucket/key?x-id=GetObject",
        headers,
        body,
        presign,
        token,
        T0,
    )
    .into_parts()
    .0
}

/// The error as the gateway answers it: status, content type, body.
fn render(e: &AuthError, dialect: Dialect, request_id: &str) -> (u16, &'static str, String) {
    let (status, content_type, body) = Reject::Auth(e.clone()).to_body(dialect, request_id);
    (status.as_u16(), content_type, body)
}

fn err(v: &Verifier<Store, FixedClock>, parts: &http::request::Parts) -> AuthError {
    match v.verify(&RequestHead::from_parts(parts)) {
        Err(e) => e,
        Ok(o) => panic!("accepted: {o:?}"),
    }
}

fn assert_s3(e: &AuthError, status: u16, code: &str) {
    assert_eq!((e.status(), e.code()), (status, code), "{e:?}");
    let (s, ct, body) = render(e, Dialect::S3Xml, "REQ1");
    assert_eq!(s, status);
    assert_eq!(ct, "application/xml");
    assert!(
        body.contains(&format!("<Code>{code}</Code>"))
            && body.contains("<RequestId>REQ1</RequestId>")
    );
}

fn with_header(parts: &http::request::Parts, name: &str, value: &str) -> http::request::Parts {
    let mut p = parts.clone();
    p.headers.insert(
        http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        value.parse().unwrap(),
    );
    p
}

#[test]
fn good_requests_and_anonymous() {
    let v = s3_verifier(T0);
    for p in [signed_get(None, None), signed_get(Some(600), None)] {
        match v.verify(&RequestHead::from_parts(&p)).unwrap() {
            Outcome::Authenticated(a) => {
                assert_eq!(a.principal, format!("principal:{AKID}"));
                assert_eq!(a.scope.service(), "s3");
                assert_eq!(a.signature_version, "AWS4-HMAC-SHA256");
                assert!(a.signature_verified);
                assert_eq!(a.payload, iamgate::sigv4::PayloadMode::Unsigned);
                let t = a.auth_type.s3_auth_type();
                assert!(t == "REST-HEADER" || t == "REST-QUERY-STRING");
            }
            Outcome::Anonymous => panic!(),
        }
    }
    let anon = http::Request::get("http://s3.amazonaws.com/b/k?list-type=2")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert!(matches!(
        v.verify(&RequestHead::from_parts(&anon)).unwrap(),
        Outcome::Anonymous
    ));
    // the caller's answer to anonymous on a service that needs a signature
    let e = AuthError::MissingAuthenticationToken;
    assert_eq!(
        (
            e.status_for(CodeFamily::Common),
            e.code_for(CodeFamily::Common)
        ),
        (403, "MissingAuthenticationToken")
    );
    let (_, ct, body) = render(&e, Dialect::Json, "r");
    assert_eq!(ct, "application/x-amz-json-1.1");
    assert!(body.contains("\"__type\":\"MissingAuthenticationToken\""));
}

#[test]
fn http2_authority_counts_as_host() {
    let p = signed_get(None, None);
    let mut head_headers: Vec<(String, Vec<u8>)> = p
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    head_headers.retain(|h| h.0 != "host");
    head_headers.insert(0, (":authority".into(), b"s3.amazonaws.com".to_vec()));
    let headers = head_headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let head = RequestHead::new("GET", b"/bucket/key", b"x-id=GetObject", headers);
    assert!(matches!(
        s3_verifier(T0).verify(&head).unwrap(),
        Outcome::Authenticated(_)
    ));
}

#[test]
fn signature_and_key_errors() {
    let p = signed_get(None, None);
    let mut wrong = Store::with(AKID, "another secret", None);
    let v = Verifier::with_clock(
        Config::new("us-east-1"),
        Store::with(AKID, "x", None),
        FixedClock(T0),
    );
    assert_s3(&err(&v, &p), 403, "SignatureDoesNotMatch");
    let v = Verifier::with_clock(Config::new("us-east-1"), Store::default(), FixedClock(T0));
    assert_s3(&err(&v, &p), 403, "InvalidAccessKeyId");
    assert_eq!(
        err(&v, &p).code_for(CodeFamily::Common),
        "InvalidClientTokenId"
    );
    wrong.keys.get_mut(AKID).unwrap().1 = KeyStatus::Inactive;
    let v = Verifier::with_clock(Config::new("us-east-1"), wrong, FixedClock(T0));
    let e = err(&v, &p);
    assert_eq!(e, AuthError::InactiveAccessKey);
    assert_s3(&e, 403, "InvalidAccessKeyId");
    // a changed signature
    let auth = p.headers["authorization"].to_str().unwrap();
    let flipped = format!("{}0", &auth[..auth.len() - 1]);
    let flipped = if flipped == auth {
        format!("{}1", &auth[..auth.len() - 1])
    } else {
        flipped
    };
    assert_s3(
        &err(
            &s3_verifier(T0),
            &with_header(&p, "authorization", &flipped),
        ),
        403,
        "SignatureDoesNotMatch",
    );
}

#[test]
fn time_errors() {
    let p = signed_get(None, None);
    // Signed at T0 (2013-05-24T00:00:00Z), received 15 minutes and a second later.
    let late = err(&s3_verifier(T0 + 901), &p);
    assert_s3(&late, 403, "RequestTimeTooSkewed");
    // S3 says when the request was dated, what its clock says, and the skew it allows.
    let (_, _, body) = render(&late, Dialect::S3Xml, "REQ1");
    assert!(
        body.contains(
            "<RequestTime>20130524T000000Z</RequestTime><ServerTime>2013-05-24T00:15:01Z</ServerTime>\
             <MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds><RequestId>REQ1</RequestId>"
        ),
        "{body}"
    );
    // STS (and the JSON services) answer a signature that does not match, expired...
    assert_eq!(
        (
            late.status_for(CodeFamily::Common),
            late.code_for(CodeFamily::Common),
            late.message_for(CodeFamily::Common)
        ),
        (
            403,
            "SignatureDoesNotMatch",
            "Signature expired: 20130524T000000Z is now earlier than 20130524T000001Z \
             (20130524T001501Z - 15 min.)"
                .to_owned()
        )
    );
    // ... or, for a request dated 20 minutes ahead of the clock, not yet current: not "expired".
    let early = err(&s3_verifier(T0 - 1200), &p);
    assert_s3(&early, 403, "RequestTimeTooSkewed");
    let (_, _, body) = render(&early, Dialect::S3Xml, "REQ1");
    assert!(
        body.contains("<RequestTime>20130524T000000Z</RequestTime><ServerTime>2013-05-23T23:40:00Z</ServerTime>"),
        "{body}"
    );
    assert_eq!(
        (
            early.status_for(CodeFamily::Common),
            early.code_for(CodeFamily::Common),
            early.message_for(CodeFamily::Common)
        ),
        (
            403,
            "SignatureDoesNotMatch",
            "Signature not yet current: 20130524T000000Z is still later than 20130523T235500Z \
             (20130523T234000Z + 15 min.)"
                .to_owned()
        )
    );
    let (_, _, json) = render(&early, Dialect::Json, "r");
    assert!(
        !json.contains("RequestTime") && !json.contains("xpired"),
        "{json}"
    );
    let q = signed_get(Some(600), None);
    let e = err(&s3_verifier(T0 + 601), &q);
    assert_s3(&e, 403, "AccessDenied");
    assert_eq!(e.message(), "Request has expired");
    assert_eq!(
        (
            e.status_for(CodeFamily::Common),
            e.code_for(CodeFamily::Common)
        ),
        (400, "RequestExpired")
    );
    let e = err(&s3_verifier(T0 - 901), &q);
    assert_s3(&e, 403, "AccessDenied");
    assert_eq!(e.message(), "Request is not valid yet");
    assert_eq!(
        (
            e.code_for(CodeFamily::Common),
            e.message_for(CodeFamily::Common)
        ),
        (
            "SignatureDoesNotMatch",
            "Signature not yet current: 20130524T000000Z is still later than 20130523T235959Z \
             (20130523T234459Z + 15 min.)"
                .to_owned()
        )
    );
    let mut no_date = p.clone();
    no_date.headers.remove("x-amz-date");
    assert_s3(&err(&s3_verifier(T0), &no_date), 403, "AccessDenied");
}

#[test]
fn malformed_header_errors() {
    let p = signed_get(None, None);
    let auth = p.headers["authorization"].to_str().unwrap().to_owned();
    let v = s3_verifier(T0);
    // Another region: S3 says which one to use (SDKs redirect on it); STS and the JSON services
    // answer a signature scoped to the wrong place.
    let e = err(
        &v,
        &with_header(&p, "authorization", &auth.replace("us-east-1", "eu-west-1")),
    );
    assert_s3(&e, 400, "AuthorizationHeaderMalformed");
    assert_eq!(
        e.message(),
        "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'"
    );
    assert!(render(&e, Dialect::S3Xml, "R")
        .2
        .contains("<Region>us-east-1</Region><RequestId>R</RequestId>"));
    assert_eq!(
        (
            e.status_for(CodeFamily::Common),
            e.code_for(CodeFamily::Common),
            e.message_for(CodeFamily::Common)
        ),
        (
            403,
            "SignatureDoesNotMatch",
            "Credential should be scoped to a valid region, not 'eu-west-1'.".to_owned()
        )
    );
    for bad in [
        auth.replace("/s3/", "/dynamodb/"),
        auth.replace("aws4_request", "aws4_reques"),
        auth.replace("20130524/", "20130525/"),
        auth.replace("SignedHeaders=host;", "SignedHeaders="),
        auth.replace("Credential=", "Credentials="),
        auth.replace(", Signature=", ", Sig="),
        auth.replace("Signature=", "Signature=zz"),
        format!("{auth}, Signature=00"),
        "AWS4-HMAC-SHA256".to_owned(),
    ] {
        let e = err(&v, &with_header(&p, "authorization", &bad));
        assert_s3(&e, 400, "AuthorizationHeaderMalformed");
        assert_eq!(
            (
                e.status_for(CodeFamily::Common),
                e.code_for(CodeFamily::Common)
            ),
            (400, "IncompleteSignature"),
            "{bad}"
        );
    }
    let e = err(
        &v,
        &with_header(
            &p,
            "authorization",
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        ),
    );
    assert_s3(&e, 400, "InvalidRequest");
    let e = err(
        &v,
        &with_header(&p, "authorization", "AWS4-HMAC-SHA512 Credential=x"),
    );
    assert_s3(&e, 400, "InvalidRequest");
    // SigV4A is understood: a malformed SigV4A header is malformed, not unsupported.
    let e = err(
        &v,
        &with_header(&p, "authorization", "AWS4-ECDSA-P256-SHA256 Credential=x"),
    );
    assert_s3(&e, 400, "AuthorizationHeaderMalformed");
    // A SigV2 presigned URL is refused as unsupported, never taken for an anonymous request.
    let mut v2 = p.clone();
    v2.uri = "/bucket/key?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=abc%3D&Expires=1795834503"
        .parse()
        .unwrap();
    v2.headers.remove("authorization");
    assert_s3(&err(&v, &v2), 400, "InvalidRequest");
}

#[test]
fn malformed_query_errors() {
    let q = signed_get(Some(600), None);
    let v = s3_verifier(T0);
    let uri = q.uri.to_string();
    let with_uri = |u: String| {
        let mut p = q.clone();
        p.uri = u.parse().unwrap();
        p
    };
    for bad in [
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=604801"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=0"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=-1"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=ten"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=%2B600"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=+600"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires=600.0"),
        uri.replace("X-Amz-Expires=600", "X-Amz-Expires="),
        uri.replace(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-HMAC-SHA1",
        ),
        uri.replace("X-Amz-Signature=", "X-Amz-Signaturx="),
        uri.replace("X-Amz-Credential=", "X-Amz-Credentia="),
        uri.replace("X-Amz-Signature=", "X-Amz-Signature=ab"),
        format!("{uri}&X-Amz-Date=20130524T000000Z"),
    ] {
        assert_s3(
            &err(&v, &with_uri(bad.clone())),
            400,
            "AuthorizationQueryParametersError",
        );
    }
    let e = err(&v, &with_uri(uri.replace("us-east-1", "eu-west-1")));
    assert_s3(&e, 400, "AuthorizationQueryParametersError");
    assert_eq!(
        e.message(),
        "Error parsing the X-Amz-Credential parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'"
    );
    assert_eq!(
        e.code_for(CodeFamily::Common),
        "SignatureDoesNotMatch",
        "the same mistake, the same code in both forms"
    );
    // X-Amz-* presign parameters without the rest are never anonymous
    let lone = "http://s3.amazonaws.com/b/k?X-Amz-Signature=00".to_owned();
    assert_s3(
        &err(&v, &with_uri(lone)),
        400,
        "AuthorizationQueryParametersError",
    );
    // both header and query
    let p = signed_get(None, None);
    let mut both = with_uri(uri);
    both.headers
        .insert("authorization", p.headers["authorization"].clone());
    assert_s3(&err(&v, &both), 400, "InvalidArgument");
    // a presigned date in the query that differs from the credential's date
    let bad_date = q
        .uri
        .to_string()
        .replace("X-Amz-Date=20130524T", "X-Amz-Date=20130525T");
    assert!(err(&s3_verifier(T0), &with_uri(bad_date)).status() >= 400);
}

#[test]
fn payload_header_errors() {
    let p = signed_get(None, None);
    let v = s3_verifier(T0);
    let mut none = p.clone();
    none.headers.remove("x-amz-content-sha256");
    assert_s3(&err(&v, &none), 400, "InvalidRequest");
    assert_s3(
        &err(
            &v,
            &with_header(&p, "x-amz-content-sha256", "SIGNED-PAYLOAD"),
        ),
        400,
        "InvalidArgument",
    );
    let streaming = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/b/k",
        &[("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")],
        SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into()),
        None,
        None,
        T0,
    )
    .into_parts()
    .0;
    let e = err(&v, &streaming);
    assert_eq!((e.status(), e.code()), (411, "MissingContentLength"));
    let trailer = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/b/k",
        &[
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-trailer", "x-amz-meta-foo"),
        ],
        SignableBody::StreamingUnsignedPayloadTrailer,
        None,
        None,
        T0,
    )
    .into_parts()
    .0;
    assert_s3(&err(&v, &trailer), 400, "InvalidRequest");
    assert_s3(
        &AuthError::ContentSha256Mismatch,
        400,
        "XAmzContentSHA256Mismatch",
    );
    assert_s3(&AuthError::IncompleteBody, 400, "IncompleteBody");
}

#[test]
fn session_token_errors() {
    let p = signed_get(None, Some("TOKEN"));
    let mut store = Store::with(AKID, SECRET, Some("TOKEN"));
    let v = Verifier::with_clock(Config::new("us-east-1"), store, FixedClock(T0));
    match v.verify(&RequestHead::from_parts(&p)).unwrap() {
        Outcome::Authenticated(a) => assert!(a.session_token_present),
        Outcome::Anonymous => panic!(),
    }
    store = Store::with(AKID, SECRET, Some("OTHER"));
    let v = Verifier::with_clock(Config::new("us-east-1"), store, FixedClock(T0));
    let e = err(&v, &p);
    assert_s3(&e, 400, "InvalidToken");
    assert_eq!(
        (
            e.status_for(CodeFamily::Common),
            e.code_for(CodeFamily::Common)
        ),
        (403, "InvalidClientTokenId")
    );
    let mut store = Store::with(AKID, SECRET, Some("TOKEN"));
    store.expired_tokens.push("TOKEN".into());
    let v = Verifier::with_clock(Config::new("us-east-1"), store, FixedClock(T0));
    let e = err(&v, &p);
    assert_s3(&e, 400, "ExpiredToken");
    assert_eq!(
        (
            e.status_for(CodeFamily::Common),
            e.code_for(CodeFamily::Common)
        ),
        (403, "ExpiredToken")
    );
    // presigned with a token
    let q = signed_get(Some(60), Some("TOKEN"));
    let v = Verifier::with_clock(
        Config::new("us-east-1"),
        Store::with(AKID, SECRET, Some("TOKEN")),
        FixedClock(T0),
    );
    assert!(v.verify(&RequestHead::from_parts(&q)).is_ok());
}

#[test]
fn other_services_use_json_and_normalised_paths() {
    let mut config = Config::new("us-east-1");
    config.services = vec![ServiceRules::other("sts")];
    let v = Verifier::with_clock(config, Store::with(AKID, SECRET, None), FixedClock(T0));
    let p = aws_sign(
        "sts",
        "GET",
        "http://sts.amazonaws.com/a//b/../c%20d?Action=GetCallerIdentity&Version=2011-06-15",
        &[],
        SignableBody::Bytes(b""),
        None,
        None,
        T0,
    )
    .into_parts()
    .0;
    assert!(matches!(
        v.verify(&RequestHead::from_parts(&p)).unwrap(),
        Outcome::Authenticated(_)
    ));
    let q = aws_sign(
        "sts",
        "GET",
        "http://sts.amazonaws.com/?Action=GetCallerIdentity",
        &[],
        SignableBody::Bytes(b""),
        Some(60),
        None,
        T0,
    )
    .into_parts()
    .0;
    assert!(matches!(
        v.verify(&RequestHead::from_parts(&q)).unwrap(),
        Outcome::Authenticated(_)
    ));
}

/// S3 keys with characters that need encoding, encoded as botocore does (`quote(key, safe="/~")`),
/// signed by the aws-sigv4 crate in S3 mode (single encoding, no normalisation).
#[test]
fn s3_keys_with_special_characters() {
    let v = s3_verifier(T0);
    for path in [
        "/bucket/a%20b",
        "/bucket/%E2%82%AC/report%2B2026%3Dfinal%21.csv",
        "/bucket/dir//double/./dot/../x",
        "/bucket/%7Etilde~/%28paren%29%2A",
        "/bucket/",
    ] {
        for query in [
            "",
            "?prefix=a%20b&delimiter=%2F",
            "?uploads",
            "?list-type=2&start-after=x%2By",
        ] {
            let uri = format!("http://s3.amazonaws.com{path}{query}");
            for presign in [None, Some(60)] {
                let headers: &[(&str, &str)] = if presign.is_some() {
                    &[]
                } else {
                    &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]
                };
                let p = aws_sign(
                    "s3",
                    "GET",
                    &uri,
                    headers,
                    SignableBody::UnsignedPayload,
                    presign,
                    None,
                    T0,
                )
                .into_parts()
                .0;
                let r = v.verify(&RequestHead::from_parts(&p));
                assert!(
                    matches!(r, Ok(Outcome::Authenticated(_))),
                    "{uri} {presign:?}: {r:?}"
                );
            }
        }
    }
}

/// The headers that change what an S3 request does: each, added unsigned to a header-signed and
/// to a presigned request, is refused as S3 refuses it, naming the header.
#[test]
fn unsigned_amz_headers_are_refused() {
    let v = s3_verifier(T0);
    let semantic = [
        ("x-amz-copy-source", "/reports/confidential/salaries.csv"),
        ("x-amz-acl", "public-read"),
        (
            "x-amz-grant-read",
            "uri=http://acs.amazonaws.com/groups/global/AllUsers",
        ),
        ("x-amz-grant-full-control", "id=abc"),
        ("x-amz-tagging", "a=b"),
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-website-redirect-location", "https://evil.example/"),
        ("x-amz-server-side-encryption", "AES256"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
        ("x-amz-object-lock-mode", "GOVERNANCE"),
        ("x-amz-object-lock-legal-hold", "ON"),
        ("x-amz-storage-class", "GLACIER"),
        ("x-amz-meta-anything", "x"),
        ("X-Amz-Security-Token", "t"),
    ];
    for presign in [None, Some(600)] {
        let p = signed_get(presign, None);
        for (name, value) in semantic {
            let e = err(&v, &with_header(&p, name, value));
            assert_s3(&e, 403, "AccessDenied");
            assert_eq!(
                e.message(),
                "There were headers present in the request which were not signed"
            );
            let (_, _, body) = render(&e, Dialect::S3Xml, "R");
            assert!(
                body.contains(&format!(
                    "<HeadersNotSigned>{}</HeadersNotSigned>",
                    name.to_ascii_lowercase()
                )),
                "{body}"
            );
        }
        // Two at once are both named, once each.
        let mut two = with_header(&p, "x-amz-acl", "public-read");
        two.headers.append("x-amz-tagging", "a=b".parse().unwrap());
        two.headers.append("x-amz-acl", "private".parse().unwrap());
        let e = err(&v, &two);
        assert_eq!(
            e,
            AuthError::HeadersNotSigned("x-amz-acl, x-amz-tagging".into())
        );
        // Not x-amz-: `x-amzn-trace-id` is left unsigned by every SDK, and other headers are
        // the client's own.
        let fine = with_header(&p, "x-amzn-trace-id", "Root=1-abc");
        let fine = with_header(&fine, "x-custom", "1");
        assert!(v.verify(&RequestHead::from_parts(&fine)).is_ok());
    }
    // A presigned request may carry x-amz-content-sha256 unsigned (its payload is not signed;
    // the header only asks for a stricter body check); a header-signed one may not.
    let q = signed_get(Some(600), None);
    let ok = with_header(&q, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    assert!(v.verify(&RequestHead::from_parts(&ok)).is_ok());
    let header_form = aws_sign(
        "s3",
        "GET",
        "http://s3.amazonaws.com/bucket/key",
        &[],
        SignableBody::UnsignedPayload,
        None,
        None,
        T0,
    )
    .into_parts()
    .0;
    let unsigned_sha = with_header(&header_form, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    assert_eq!(
        err(&v, &unsigned_sha),
        AuthError::HeadersNotSigned("x-amz-content-sha256".into())
    );
    // Services other than S3 may carry x-amz-security-token unsigned (it is checked as a
    // token: this store knows none, so the answer is about the token, not the header); any
    // other unsigned x-amz-* header is refused there too.
    let service = aws_sign(
        "service",
        "GET",
        "http://s3.amazonaws.com/",
        &[],
        SignableBody::Bytes(b""),
        None,
        None,
        T0,
    )
    .into_parts()
    .0;
    assert!(v.verify(&RequestHead::from_parts(&service)).is_ok());
    assert_eq!(
        err(&v, &with_header(&service, "x-amz-security-token", "t")),
        AuthError::InvalidToken
    );
    assert_eq!(
        err(&v, &with_header(&service, "x-amz-target", "Svc.Other")),
        AuthError::HeadersNotSigned("x-amz-target".into())
    );
    // Signed, the same headers are accepted.
    let signed = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/bucket/key",
        &[
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-copy-source", "/src/k"),
            ("x-amz-acl", "private"),
        ],
        SignableBody::UnsignedPayload,
        None,
        None,
        T0,
    )
    .into_parts()
    .0;
    assert!(v.verify(&RequestHead::from_parts(&signed)).is_ok());
}
