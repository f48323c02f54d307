//! The S3 model: every mapping row, addressing, hostile paths, forward_path round-trip.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use iamgate::route::s3::{delete_objects_checks, parse_delete_objects, KeyMode, ObjectId};
use iamgate::route::{percent_decode, BodyInspection, Check, RouteError, S3Model, S3Route};
use proptest::prelude::*;

const HOST: &str = "127.0.0.1:8080";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn route(
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    hdrs: &[(&str, &str)],
) -> Result<S3Route, RouteError> {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let query = if query.is_empty() { None } else { Some(query) };
    // S3's own reading of keys: literal (the strict mode's refusals are tested on their own).
    S3Model::default().with_keys(KeyMode::Literal).route(
        &method,
        Some(host),
        path,
        query,
        &headers(hdrs),
    )
}

struct Case {
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    operation: &'static str,
    checks: &'static [(&'static str, &'static str)],
    context: &'static [(&'static str, &'static [&'static str])],
}

const fn case(
    method: &'static str,
    path: &'static str,
    query: &'static str,
    operation: &'static str,
    checks: &'static [(&'static str, &'static str)],
) -> Case {
    Case {
        method,
        path,
        query,
        headers: &[],
        operation,
        checks,
        context: &[],
    }
}

const B: &str = "arn:aws:s3:::reports";
const O: &str = "arn:aws:s3:::reports/2026/q1.csv";

fn cases() -> Vec<Case> {
    let obj = "/reports/2026/q1.csv";
    let bkt = "/reports";
    vec![
        case(
            "GET",
            "/",
            "",
            "ListBuckets",
            &[("s3:ListAllMyBuckets", "*")],
        ),
        // Buckets.
        case("GET", bkt, "", "ListObjects", &[("s3:ListBucket", B)]),
        case("HEAD", bkt, "", "HeadBucket", &[("s3:ListBucket", B)]),
        Case {
            context: &[
                ("s3:prefix", &["2026/"]),
                ("s3:delimiter", &["/"]),
                ("s3:max-keys", &["10"]),
            ],
            ..case(
                "GET",
                bkt,
                "list-type=2&prefix=2026%2F&delimiter=%2F&max-keys=10&x-id=ListObjectsV2",
                "ListObjectsV2",
                &[("s3:ListBucket", B)],
            )
        },
        Case {
            context: &[("s3:prefix", &["a b"])],
            ..case(
                "GET",
                "/reports/",
                "prefix=a+b",
                "ListObjects",
                &[("s3:ListBucket", B)],
            )
        },
        Case {
            context: &[("s3:prefix", &["x"])],
            ..case(
                "GET",
                bkt,
                "versions&prefix=x",
                "ListObjectVersions",
                &[("s3:ListBucketVersions", B)],
            )
        },
        case(
            "GET",
            bkt,
            "uploads",
            "ListMultipartUploads",
            &[("s3:ListBucketMultipartUploads", B)],
        ),
        case(
            "GET",
            bkt,
            "location",
            "GetBucketLocation",
            &[("s3:GetBucketLocation", B)],
        ),
        case(
            "GET",
            bkt,
            "policy",
            "GetBucketPolicy",
            &[("s3:GetBucketPolicy", B)],
        ),
        case(
            "PUT",
            bkt,
            "policy",
            "PutBucketPolicy",
            &[("s3:PutBucketPolicy", B)],
        ),
        case(
            "DELETE",
            bkt,
            "policy",
            "DeleteBucketPolicy",
            &[("s3:DeleteBucketPolicy", B)],
        ),
        case("GET", bkt, "acl", "GetBucketAcl", &[("s3:GetBucketAcl", B)]),
        case(
            "GET",
            bkt,
            "acl=",
            "GetBucketAcl",
            &[("s3:GetBucketAcl", B)],
        ),
        Case {
            headers: &[("x-amz-acl", "private"), ("x-amz-grant-read", "id=abc")],
            context: &[
                ("s3:x-amz-acl", &["private"]),
                ("s3:x-amz-grant-read", &["id=abc"]),
            ],
            ..case("PUT", bkt, "acl", "PutBucketAcl", &[("s3:PutBucketAcl", B)])
        },
        case(
            "GET",
            bkt,
            "tagging",
            "GetBucketTagging",
            &[("s3:GetBucketTagging", B)],
        ),
        case(
            "PUT",
            bkt,
            "tagging",
            "PutBucketTagging",
            &[("s3:PutBucketTagging", B)],
        ),
        case(
            "DELETE",
            bkt,
            "tagging",
            "DeleteBucketTagging",
            &[("s3:PutBucketTagging", B)],
        ),
        case(
            "GET",
            bkt,
            "cors",
            "GetBucketCors",
            &[("s3:GetBucketCORS", B)],
        ),
        case(
            "PUT",
            bkt,
            "cors",
            "PutBucketCors",
            &[("s3:PutBucketCORS", B)],
        ),
        case(
            "DELETE",
            bkt,
            "cors",
            "DeleteBucketCors",
            &[("s3:PutBucketCORS", B)],
        ),
        case(
            "GET",
            bkt,
            "versioning",
            "GetBucketVersioning",
            &[("s3:GetBucketVersioning", B)],
        ),
        case(
            "PUT",
            bkt,
            "versioning",
            "PutBucketVersioning",
            &[("s3:PutBucketVersioning", B)],
        ),
        case(
            "GET",
            bkt,
            "lifecycle",
            "GetBucketLifecycleConfiguration",
            &[("s3:GetLifecycleConfiguration", B)],
        ),
        case(
            "PUT",
            bkt,
            "lifecycle",
            "PutBucketLifecycleConfiguration",
            &[("s3:PutLifecycleConfiguration", B)],
        ),
        case(
            "DELETE",
            bkt,
            "lifecycle",
            "DeleteBucketLifecycle",
            &[("s3:PutLifecycleConfiguration", B)],
        ),
        case(
            "GET",
            bkt,
            "encryption",
            "GetBucketEncryption",
            &[("s3:GetEncryptionConfiguration", B)],
        ),
        case(
            "PUT",
            bkt,
            "encryption",
            "PutBucketEncryption",
            &[("s3:PutEncryptionConfiguration", B)],
        ),
        case(
            "DELETE",
            bkt,
            "encryption",
            "DeleteBucketEncryption",
            &[("s3:PutEncryptionConfiguration", B)],
        ),
        case("PUT", bkt, "", "CreateBucket", &[("s3:CreateBucket", B)]),
        Case {
            headers: &[("x-amz-acl", "public-read")],
            context: &[("s3:x-amz-acl", &["public-read"])],
            ..case(
                "PUT",
                bkt,
                "",
                "CreateBucket",
                &[("s3:CreateBucket", B), ("s3:PutBucketAcl", B)],
            )
        },
        Case {
            headers: &[
                ("x-amz-bucket-object-lock-enabled", "true"),
                ("x-amz-object-ownership", "BucketOwnerEnforced"),
            ],
            ..case(
                "PUT",
                bkt,
                "",
                "CreateBucket",
                &[
                    ("s3:CreateBucket", B),
                    ("s3:PutBucketObjectLockConfiguration", B),
                    ("s3:PutBucketVersioning", B),
                    ("s3:PutBucketOwnershipControls", B),
                ],
            )
        },
        case("DELETE", bkt, "", "DeleteBucket", &[("s3:DeleteBucket", B)]),
        // Objects.
        case("GET", obj, "", "GetObject", &[("s3:GetObject", O)]),
        case("HEAD", obj, "", "HeadObject", &[("s3:GetObject", O)]),
        case(
            "GET",
            obj,
            "response-content-type=text%2Fplain&x-id=GetObject",
            "GetObject",
            &[("s3:GetObject", O)],
        ),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "GET",
                obj,
                "versionId=v1",
                "GetObject",
                &[("s3:GetObjectVersion", O)],
            )
        },
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "HEAD",
                obj,
                "versionId=v1",
                "HeadObject",
                &[("s3:GetObjectVersion", O)],
            )
        },
        case("PUT", obj, "", "PutObject", &[("s3:PutObject", O)]),
        Case {
            headers: &[
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "k1"),
                ("x-amz-storage-class", "STANDARD_IA"),
            ],
            context: &[
                ("s3:x-amz-server-side-encryption", &["aws:kms"]),
                ("s3:x-amz-server-side-encryption-aws-kms-key-id", &["k1"]),
                ("s3:x-amz-storage-class", &["STANDARD_IA"]),
            ],
            ..case("PUT", obj, "", "PutObject", &[("s3:PutObject", O)])
        },
        Case {
            headers: &[
                ("x-amz-acl", "bucket-owner-full-control"),
                ("x-amz-grant-full-control", "id=1"),
                ("x-amz-grant-read-acp", "id=2"),
            ],
            context: &[
                ("s3:x-amz-acl", &["bucket-owner-full-control"]),
                ("s3:x-amz-grant-read-acp", &["id=2"]),
                ("s3:x-amz-grant-full-control", &["id=1"]),
            ],
            ..case(
                "PUT",
                obj,
                "",
                "PutObject",
                &[("s3:PutObject", O), ("s3:PutObjectAcl", O)],
            )
        },
        Case {
            headers: &[("x-amz-tagging", "team=blue&cost%20center=a%26b")],
            context: &[
                ("s3:RequestObjectTag/team", &["blue"]),
                ("aws:RequestTag/team", &["blue"]),
                ("aws:RequestTag/cost center", &["a&b"]),
                ("aws:TagKeys", &["team", "cost center"]),
                ("s3:RequestObjectTag/cost center", &["a&b"]),
                ("s3:RequestObjectTagKeys", &["team", "cost center"]),
            ],
            ..case(
                "PUT",
                obj,
                "",
                "PutObject",
                &[("s3:PutObject", O), ("s3:PutObjectTagging", O)],
            )
        },
        Case {
            headers: &[
                ("x-amz-object-lock-mode", "GOVERNANCE"),
                (
                    "x-amz-object-lock-retain-until-date",
                    "2030-01-01T00:00:00Z",
                ),
                ("x-amz-object-lock-legal-hold", "ON"),
            ],
            context: &[
                ("s3:object-lock-mode", &["GOVERNANCE"]),
                (
                    "s3:object-lock-retain-until-date",
                    &["2030-01-01T00:00:00Z"],
                ),
                ("s3:object-lock-legal-hold", &["ON"]),
            ],
            ..case(
                "PUT",
                obj,
                "",
                "PutObject",
                &[
                    ("s3:PutObject", O),
                    ("s3:PutObjectRetention", O),
                    ("s3:PutObjectLegalHold", O),
                ],
            )
        },
        Case {
            headers: &[
                ("x-amz-copy-source", "/src-bucket/a%20b.txt"),
                ("x-amz-metadata-directive", "REPLACE"),
            ],
            context: &[
                ("s3:x-amz-metadata-directive", &["REPLACE"]),
                ("s3:x-amz-copy-source", &["/src-bucket/a b.txt"]),
            ],
            ..case(
                "PUT",
                obj,
                "",
                "CopyObject",
                &[
                    ("s3:PutObject", O),
                    ("s3:GetObject", "arn:aws:s3:::src-bucket/a b.txt"),
                ],
            )
        },
        Case {
            headers: &[("x-amz-copy-source", "src-bucket/k%3Fx?versionId=v%2F2")],
            context: &[("s3:x-amz-copy-source", &["src-bucket/k?x?versionId=v/2"])],
            ..case(
                "PUT",
                obj,
                "",
                "CopyObject",
                &[
                    ("s3:PutObject", O),
                    ("s3:GetObjectVersion", "arn:aws:s3:::src-bucket/k?x"),
                ],
            )
        },
        case("DELETE", obj, "", "DeleteObject", &[("s3:DeleteObject", O)]),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "DELETE",
                obj,
                "versionId=v1",
                "DeleteObject",
                &[("s3:DeleteObjectVersion", O)],
            )
        },
        case("GET", obj, "acl", "GetObjectAcl", &[("s3:GetObjectAcl", O)]),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "GET",
                obj,
                "acl&versionId=v1",
                "GetObjectAcl",
                &[("s3:GetObjectVersionAcl", O)],
            )
        },
        Case {
            headers: &[("x-amz-acl", "private")],
            context: &[("s3:x-amz-acl", &["private"])],
            ..case("PUT", obj, "acl", "PutObjectAcl", &[("s3:PutObjectAcl", O)])
        },
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "PUT",
                obj,
                "acl=&versionId=v1",
                "PutObjectAcl",
                &[("s3:PutObjectVersionAcl", O)],
            )
        },
        case(
            "GET",
            obj,
            "tagging",
            "GetObjectTagging",
            &[("s3:GetObjectTagging", O)],
        ),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "GET",
                obj,
                "tagging&versionId=v1",
                "GetObjectTagging",
                &[("s3:GetObjectVersionTagging", O)],
            )
        },
        case(
            "PUT",
            obj,
            "tagging",
            "PutObjectTagging",
            &[("s3:PutObjectTagging", O)],
        ),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "PUT",
                obj,
                "tagging&versionId=v1",
                "PutObjectTagging",
                &[("s3:PutObjectVersionTagging", O)],
            )
        },
        case(
            "DELETE",
            obj,
            "tagging",
            "DeleteObjectTagging",
            &[("s3:DeleteObjectTagging", O)],
        ),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "DELETE",
                obj,
                "tagging&versionId=v1",
                "DeleteObjectTagging",
                &[("s3:DeleteObjectVersionTagging", O)],
            )
        },
        case(
            "POST",
            obj,
            "uploads",
            "CreateMultipartUpload",
            &[("s3:PutObject", O)],
        ),
        Case {
            headers: &[("x-amz-acl", "private"), ("x-amz-storage-class", "GLACIER")],
            context: &[
                ("s3:x-amz-acl", &["private"]),
                ("s3:x-amz-storage-class", &["GLACIER"]),
            ],
            ..case(
                "POST",
                obj,
                "uploads=",
                "CreateMultipartUpload",
                &[("s3:PutObject", O), ("s3:PutObjectAcl", O)],
            )
        },
        case(
            "PUT",
            obj,
            "partNumber=1&uploadId=abc",
            "UploadPart",
            &[("s3:PutObject", O)],
        ),
        Case {
            headers: &[("x-amz-copy-source", "/src-bucket/big.bin")],
            context: &[("s3:x-amz-copy-source", &["/src-bucket/big.bin"])],
            ..case(
                "PUT",
                obj,
                "partNumber=2&uploadId=abc",
                "UploadPartCopy",
                &[
                    ("s3:PutObject", O),
                    ("s3:GetObject", "arn:aws:s3:::src-bucket/big.bin"),
                ],
            )
        },
        case(
            "POST",
            obj,
            "uploadId=abc",
            "CompleteMultipartUpload",
            &[("s3:PutObject", O)],
        ),
        case(
            "DELETE",
            obj,
            "uploadId=abc",
            "AbortMultipartUpload",
            &[("s3:AbortMultipartUpload", O)],
        ),
        case(
            "GET",
            obj,
            "uploadId=abc&max-parts=10",
            "ListParts",
            &[("s3:ListMultipartUploadParts", O)],
        ),
        case(
            "POST",
            obj,
            "restore",
            "RestoreObject",
            &[("s3:RestoreObject", O)],
        ),
        case(
            "GET",
            obj,
            "attributes",
            "GetObjectAttributes",
            &[("s3:GetObjectAttributes", O)],
        ),
        Case {
            context: &[("s3:VersionId", &["v1"])],
            ..case(
                "GET",
                obj,
                "attributes&versionId=v1",
                "GetObjectAttributes",
                &[("s3:GetObjectVersionAttributes", O)],
            )
        },
        case(
            "GET",
            obj,
            "retention",
            "GetObjectRetention",
            &[("s3:GetObjectRetention", O)],
        ),
        case(
            "PUT",
            obj,
            "retention",
            "PutObjectRetention",
            &[("s3:PutObjectRetention", O)],
        ),
        case(
            "GET",
            obj,
            "legal-hold",
            "GetObjectLegalHold",
            &[("s3:GetObjectLegalHold", O)],
        ),
        case(
            "PUT",
            obj,
            "legal-hold",
            "PutObjectLegalHold",
            &[("s3:PutObjectLegalHold", O)],
        ),
        case(
            "POST",
            obj,
            "select&select-type=2",
            "SelectObjectContent",
            &[("s3:GetObject", O)],
        ),
    ]
}

#[test]
fn every_mapping_row() {
    for c in cases() {
        let label = format!("{} {}?{} {:?}", c.method, c.path, c.query, c.headers);
        let got = route(c.method, HOST, c.path, c.query, c.headers)
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(got.operation, c.operation, "{label}");
        let checks: Vec<Check> = c.checks.iter().map(|(a, r)| Check::new(*a, *r)).collect();
        assert_eq!(got.checks, checks, "{label}");
        let context: Vec<(String, Vec<String>)> = c
            .context
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect();
        let mut got_context = got.context.clone();
        got_context.sort();
        let mut want_context = context;
        want_context.sort();
        assert_eq!(got_context, want_context, "{label}");
        assert_eq!(got.needs_body, None, "{label}");
    }
}

#[test]
fn the_same_rows_virtual_hosted() {
    for c in cases() {
        let Some(rest) = c.path.strip_prefix("/reports") else {
            continue;
        };
        let path = if rest.is_empty() { "/" } else { rest };
        let label = format!("{} {}?{}", c.method, path, c.query);
        let got = route(
            c.method,
            "reports.s3.localhost:8080",
            path,
            c.query,
            c.headers,
        )
        .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(got.operation, c.operation, "{label}");
        assert_eq!(got.bucket.as_deref(), Some("reports"), "{label}");
        let checks: Vec<Check> = c.checks.iter().map(|(a, r)| Check::new(*a, *r)).collect();
        assert_eq!(got.checks, checks, "{label}");
    }
}

#[test]
fn delete_objects_needs_its_body() {
    let mut r = route("POST", HOST, "/reports", "delete", &[]).unwrap();
    assert_eq!(r.operation, "DeleteObjects");
    assert_eq!(r.needs_body, Some(BodyInspection::DeleteObjects));
    assert!(r.checks.is_empty());
    let body = b"<Delete><Object><Key>a.txt</Key></Object>\
        <Object><Key>b &amp; c</Key><VersionId>v9</VersionId></Object>\
        <Object><Key>a.txt</Key></Object><Quiet>true</Quiet></Delete>";
    r.add_body(body).unwrap();
    assert_eq!(r.needs_body, None);
    assert_eq!(
        r.checks,
        vec![
            Check::new("s3:DeleteObject", "arn:aws:s3:::reports/a.txt"),
            Check::new("s3:DeleteObjectVersion", "arn:aws:s3:::reports/b & c"),
        ]
    );
    let mut r = route("POST", HOST, "/reports", "delete", &[]).unwrap();
    assert!(matches!(
        r.add_body(b"<Delete></Delete>"),
        Err(RouteError::MalformedXml(_))
    ));
    assert_eq!(r.needs_body, Some(BodyInspection::DeleteObjects));

    let objects = parse_delete_objects(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
    assert_eq!(
        objects,
        vec![ObjectId {
            key: "k".into(),
            version_id: None
        }]
    );
    assert_eq!(
        delete_objects_checks("b1b", &objects),
        vec![Check::new("s3:DeleteObject", "arn:aws:s3:::b1b/k")]
    );
}

fn err(method: &str, host: &str, path: &str, query: &str, hdrs: &[(&str, &str)]) -> &'static str {
    match route(method, host, path, query, hdrs) {
        Ok(r) => panic!("{method} {host} {path}?{query}: routed as {r:?}"),
        Err(e) => e.code(),
    }
}

#[test]
fn refusals_of_unmapped_methods_and_subresources() {
    let h = HOST;
    // Methods and subresources that are not mapped.
    assert_eq!(err("POST", h, "/reports/k", "", &[]), "MethodNotAllowed");
    assert_eq!(err("PATCH", h, "/reports/k", "", &[]), "MethodNotAllowed");
    assert_eq!(err("PUT", h, "/", "", &[]), "MethodNotAllowed");
    assert_eq!(err("HEAD", h, "/", "", &[]), "MethodNotAllowed");
    assert_eq!(err("OPTIONS", h, "/reports", "", &[]), "MethodNotAllowed");
    assert_eq!(err("POST", h, "/reports", "", &[]), "NotImplemented");
    assert_eq!(err("GET", h, "/reports", "website", &[]), "NotImplemented");
    assert_eq!(
        err("GET", h, "/reports", "notification", &[]),
        "NotImplemented"
    );
    assert_eq!(
        err("GET", h, "/reports/k", "torrent", &[]),
        "NotImplemented"
    );
    assert_eq!(
        err("GET", h, "/reports/k", "versioning", &[]),
        "NotImplemented"
    );
    assert_eq!(err("GET", h, "/", "acl", &[]), "NotImplemented");
    assert_eq!(err("DELETE", h, "/reports", "acl", &[]), "MethodNotAllowed");
    assert_eq!(
        err("PUT", h, "/reports", "location", &[]),
        "MethodNotAllowed"
    );
    assert_eq!(err("GET", h, "/reports", "delete", &[]), "MethodNotAllowed");
    assert_eq!(err("POST", h, "/reports/k", "acl", &[]), "MethodNotAllowed");
    assert_eq!(
        err("GET", h, "/reports/k", "uploads", &[]),
        "MethodNotAllowed"
    );
}

#[test]
fn query_parameter_names_are_case_sensitive() {
    let h = HOST;
    // Query parameter names are case-sensitive: ?ACL is not ?acl, and is ignored.
    assert_eq!(
        route("GET", h, "/reports/k", "ACL", &[]).unwrap().operation,
        "GetObject"
    );
    assert_eq!(
        route("GET", h, "/reports", "VERSIONS", &[])
            .unwrap()
            .operation,
        "ListObjects"
    );
}

#[test]
fn refusals_of_ambiguous_requests() {
    let h = HOST;
    // Ambiguity.
    assert_eq!(
        err("GET", h, "/reports/k", "acl&tagging", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("GET", h, "/reports/k", "versionId=a&versionId=b", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("GET", h, "/reports/k", "versionId=", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("PUT", h, "/reports/k", "versionId=v", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("GET", h, "/reports", "versionId=v", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("GET", h, "/reports", "list-type=3", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("PUT", h, "/reports/k", "uploadId=u", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("PUT", h, "/reports/k", "uploadId=u&partNumber=0", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("PUT", h, "/reports/k", "uploadId=u&partNumber=10001", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("POST", h, "/reports/k", "uploadId=", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("POST", h, "/reports/k", "select", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err(
            "GET",
            h,
            "/reports/k",
            "",
            &[("x-amz-copy-source", "/a-b/c")]
        ),
        "InvalidArgument"
    );
    assert_eq!(
        err(
            "PUT",
            h,
            "/reports/k",
            "",
            &[("x-amz-copy-source", "nokey")]
        ),
        "InvalidArgument"
    );
    assert_eq!(
        err(
            "PUT",
            h,
            "/reports/k",
            "",
            &[("x-amz-copy-source", "/BAD/k")]
        ),
        "InvalidBucketName"
    );
    assert_eq!(
        err(
            "PUT",
            h,
            "/reports/k",
            "",
            &[("x-amz-acl", "private"), ("x-amz-acl", "public-read")]
        ),
        "InvalidArgument"
    );
    assert_eq!(
        err("PUT", h, "/reports/k", "", &[("x-amz-tagging", "a=1&a=2")]),
        "InvalidArgument"
    );
}

#[test]
fn refusals_of_bad_bucket_names_and_keys() {
    let h = HOST;
    // Bucket names.
    assert_eq!(err("GET", h, "/Reports/k", "", &[]), "InvalidBucketName");
    assert_eq!(err("GET", h, "/ab/k", "", &[]), "InvalidBucketName");
    assert_eq!(
        err("GET", h, "/192.168.1.1/k", "", &[]),
        "InvalidBucketName"
    );
    assert_eq!(err("GET", h, "//k", "", &[]), "InvalidBucketName");
    assert_eq!(err("GET", h, "/a%2Fbc/k", "", &[]), "InvalidBucketName");
    assert_eq!(
        err("GET", "a_b.s3.localhost", "/k", "", &[]),
        "InvalidBucketName"
    );
    // Keys.
    let long = format!("/reports/{}", "k".repeat(1025));
    assert_eq!(err("GET", h, &long, "", &[]), "KeyTooLongError");
    assert!(route("GET", h, &format!("/reports/{}", "k".repeat(1024)), "", &[]).is_ok());
}

#[test]
fn status_codes() {
    assert_eq!(
        route("PATCH", HOST, "/reports/k", "", &[])
            .unwrap_err()
            .status(),
        405
    );
    assert_eq!(
        route("GET", HOST, "/reports", "website", &[])
            .unwrap_err()
            .status(),
        501
    );
    assert_eq!(
        route("GET", HOST, "/reports/%zz", "", &[])
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn addressing() {
    let get = |host: &str, path: &str| route("GET", host, path, "", &[]);
    // Virtual-hosted, with and without port, upper case, dotted bucket names.
    for host in [
        "reports.s3.localhost",
        "reports.s3.localhost:8080",
        "REPORTS.S3.LocalHost:8443",
    ] {
        let r = get(host, "/2026/q1.csv").unwrap();
        assert_eq!(r.bucket.as_deref(), Some("reports"), "{host}");
        assert_eq!(r.key.as_deref(), Some("2026/q1.csv"), "{host}");
        assert_eq!(r.forward_path, "/reports/2026/q1.csv");
    }
    let r = get("my.bucket.s3.localhost:8080", "/a").unwrap();
    assert_eq!(r.bucket.as_deref(), Some("my.bucket"));
    assert_eq!(
        r.checks,
        vec![Check::new("s3:GetObject", "arn:aws:s3:::my.bucket/a")]
    );
    // A virtual-hosted bucket and a path that looks like another bucket: the path is key space.
    let r = get("reports.s3.localhost", "/other/x").unwrap();
    assert_eq!(r.bucket.as_deref(), Some("reports"));
    assert_eq!(r.key.as_deref(), Some("other/x"));
    assert_eq!(r.forward_path, "/reports/other/x");
    let r = get("reports.s3.localhost", "/").unwrap();
    assert_eq!((r.operation, r.key), ("ListObjects", None));
    // Path-style for every other host.
    for host in [
        "s3.localhost",
        "s3.localhost:8080",
        "localhost",
        "localhost:8080",
        "127.0.0.1",
        "127.0.0.1:8080",
        "[::1]:8080",
        "example.com",
        "reports.example.com",
    ] {
        let r = get(host, "/reports/2026/q1.csv").unwrap();
        assert_eq!(r.bucket.as_deref(), Some("reports"), "{host}");
        assert_eq!(r.key.as_deref(), Some("2026/q1.csv"), "{host}");
        let r = get(host, "/").unwrap();
        assert_eq!(r.operation, "ListBuckets", "{host}");
        assert_eq!(r.forward_path, "/");
    }
    // A custom domain.
    let model = S3Model::new("storage.example.com");
    let r = model
        .route(
            &Method::GET,
            Some("photos.storage.example.com"),
            "/x.jpg",
            None,
            &HeaderMap::new(),
        )
        .unwrap();
    assert_eq!(r.bucket.as_deref(), Some("photos"));
    // The Host must be one unambiguous value.
    assert_eq!(
        err("GET", "a.s3.localhost, b.s3.localhost", "/k", "", &[]),
        "InvalidArgument"
    );
    assert_eq!(
        err("GET", "reports.s3.localhost:80:80", "/k", "", &[]),
        "InvalidArgument"
    );
    let two_hosts = headers(&[
        ("host", "reports.s3.localhost"),
        ("host", "other.s3.localhost"),
    ]);
    assert!(S3Model::default()
        .route(&Method::GET, None, "/k", None, &two_hosts)
        .is_err());
    let one_host = headers(&[("host", "reports.s3.localhost")]);
    let r = S3Model::default()
        .route(&Method::GET, None, "/k", None, &one_host)
        .unwrap();
    assert_eq!(r.bucket.as_deref(), Some("reports"));
    assert!(S3Model::default()
        .route(
            &Method::GET,
            Some("other.s3.localhost"),
            "/k",
            None,
            &one_host
        )
        .is_err());
    let r = S3Model::default()
        .route(&Method::GET, None, "/reports/k", None, &HeaderMap::new())
        .unwrap();
    assert_eq!(r.bucket.as_deref(), Some("reports"));
}

#[test]
fn hostile_paths() {
    let key = |path: &str| route("GET", HOST, path, "", &[]).map(|r| (r.key, r.forward_path));
    let ok = |path: &str, want: &str| {
        let (k, forward) = key(path).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        assert_eq!(k.as_deref(), Some(want), "{path}");
        assert_eq!(
            percent_decode(&forward).unwrap(),
            format!("/reports/{want}"),
            "{path}"
        );
    };
    // An encoded slash is a slash in the key.
    ok("/reports/a%2Fb", "a/b");
    // Dot segments are literal key characters, encoded or not.
    ok("/reports/%2e%2e/secret", "../secret");
    ok("/reports/../secret", "../secret");
    ok("/reports/a/./b", "a/./b");
    ok(
        "/reports/confidential/..%2F..%2Fpublic",
        "confidential/../../public",
    );
    // Double encoding decodes once.
    ok("/reports/a%252Fb", "a%2Fb");
    // `+` is not a space in a path.
    ok("/reports/a+b", "a+b");
    ok("/reports/a%20b", "a b");
    // Empty segments are kept.
    ok("/reports//x", "/x");
    ok("/reports/x//", "x//");
    // NUL and other controls are key characters.
    ok("/reports/a%00b", "a\0b");
    ok("/reports/%E2%82%AC", "€");
    let (_, forward) = key("/reports/%2e%2e/x").unwrap();
    assert_eq!(forward, "/reports/%2E%2E/x");
    let (_, forward) = key("/reports/a%2Fb+c").unwrap();
    assert_eq!(forward, "/reports/a/b%2Bc");
    // Invalid encodings and UTF-8.
    for bad in [
        "/reports/%",
        "/reports/%4",
        "/reports/%zz",
        "/reports/%FF",
        "/reports/%C3%28",
        "/reports/%ED%A0%80",
    ] {
        assert_eq!(key(bad).unwrap_err().code(), "InvalidURI", "{bad}");
    }
    assert_eq!(key("reports/k").unwrap_err().code(), "InvalidURI");
    assert_eq!(
        route("GET", HOST, "/reports", "prefix=%ZZ", &[])
            .unwrap_err()
            .code(),
        "InvalidURI"
    );
    // Confidential stays confidential however it is spelled.
    let r = route("GET", HOST, "/reports/confidential%2Fsalaries.csv", "", &[]).unwrap();
    assert_eq!(
        r.checks,
        vec![Check::new(
            "s3:GetObject",
            "arn:aws:s3:::reports/confidential/salaries.csv"
        )]
    );
    assert_eq!(r.forward_path, "/reports/confidential/salaries.csv");
}

proptest! {
    #[test]
    fn forward_path_round_trips(key in "\\PC{1,40}|[./%+ a-z\\x00-\\x1f]{1,40}") {
        let raw = format!("/reports/{}", iamgate::route::percent_encode(&key, false));
        let r = route("PUT", HOST, &raw, "", &[]).unwrap();
        prop_assert_eq!(r.key.as_deref(), Some(key.as_str()));
        let decoded = percent_decode(&r.forward_path).unwrap();
        prop_assert_eq!(decoded, format!("/reports/{key}"));
        // Forwarding is a fixed point: routing the forwarded path gives the same key.
        let again = route("PUT", HOST, &r.forward_path, "", &[]).unwrap();
        prop_assert_eq!(again.key, r.key);
        prop_assert_eq!(again.forward_path, r.forward_path);
    }

    #[test]
    fn never_panics(
        method in "GET|PUT|POST|DELETE|HEAD|PATCH",
        host in "[a-zA-Z0-9.:\\[\\]-]{0,30}",
        path in "/[ -~]{0,40}",
        query in "[ -~]{0,40}",
    ) {
        let _ = route(&method, &host, &path, &query, &[]);
    }
}

#[test]
fn from_a_request_head() {
    let request = http::Request::builder()
        .method("GET")
        .uri("/2026/q1%2Ecsv?versionId=v1")
        .header("host", "reports.s3.localhost:8080")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let r = S3Model::default().route_request(&parts).unwrap();
    assert_eq!(r.key.as_deref(), Some("2026/q1.csv"));
    assert_eq!(r.checks, vec![Check::new("s3:GetObjectVersion", O)]);
    // HTTP/2 style: the authority is in the URI.
    let request = http::Request::builder()
        .method("PUT")
        .uri("http://reports.s3.localhost/a%20b")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    let r = S3Model::default().route_request(&parts).unwrap();
    assert_eq!(r.forward_path, "/reports/a%20b");
    // An authority and a Host that disagree.
    let request = http::Request::builder()
        .method("GET")
        .uri("http://reports.s3.localhost/a")
        .header("host", "public.s3.localhost")
        .body(())
        .unwrap();
    let (parts, ()) = request.into_parts();
    assert_eq!(
        S3Model::default().route_request(&parts).unwrap_err().code(),
        "InvalidArgument"
    );
}

#[test]
fn query_parameters() {
    let h = HOST;
    // A name given twice is refused, in a short query and in a long one.
    assert_eq!(
        err("GET", h, "/reports", "prefix=a&prefix=b", &[]),
        "InvalidArgument"
    );
    let mut long: Vec<String> = (0..40).map(|i| format!("p{i}=v")).collect();
    let r = route("GET", h, "/reports", &long.join("&"), &[]).unwrap();
    assert_eq!(r.operation, "ListObjects");
    long.push("p17=again".into());
    assert_eq!(
        err("GET", h, "/reports", &long.join("&"), &[]),
        "InvalidArgument"
    );
    // Names compare after decoding: an encoded duplicate is a duplicate.
    assert_eq!(
        err("GET", h, "/reports", "prefix=a&pre%66ix=b", &[]),
        "InvalidArgument"
    );
    // Values decode once, `+` as a space; a subresource is found whether encoded or not.
    let r = route("GET", h, "/reports", "prefix=a+b%2Fc&delimiter=%2F", &[]).unwrap();
    assert!(
        r.context
            .iter()
            .any(|(k, v)| k == "s3:prefix" && v == &["a b/c".to_owned()]),
        "{:?}",
        r.context
    );
    let r = route("GET", h, "/reports/k", "%74agging", &[]).unwrap();
    assert_eq!(r.operation, "GetObjectTagging");
    assert_eq!(err("GET", h, "/reports", "prefix=%zz", &[]), "InvalidURI");
}

/// The default key mode, for upstreams that may normalise paths: every key a normaliser would
/// resolve to another one is refused, in the path (any encoding, path-style and virtual-hosted)
/// and in `x-amz-copy-source`; everything else routes as in literal mode.
#[test]
fn strict_keys_refuse_what_a_normaliser_would_resolve() {
    let strict = S3Model::default();
    assert_eq!(strict.keys, KeyMode::Strict);
    let get = |host: &str, path: &str, hdrs: &[(&str, &str)]| {
        strict.route(&Method::GET, Some(host), path, None, &headers(hdrs))
    };
    for path in [
        "/reports/../secret",
        "/reports/%2e%2e/secret",
        "/reports/%2E%2e/secret",
        "/reports/.%2E/secret",
        "/reports/a/./b",
        "/reports/a/%2E/b",
        "/reports/.",
        "/reports/..",
        "/reports//x",
        "/reports/a//b",
        "/reports/a/..%2F..%2Fb",
        "/reports/a%2F..%2Fb",
        "/reports/a%2F%2Fb",
        // A trailing slash: a file server answers with an index or a listing.
        "/reports/photos/",
        // Windows separators and trailing dots and spaces, Tomcat's `;` parameters, NUL.
        "/reports/x%5C..%5C..%5Csecret",
        "/reports/a\\b",
        "/reports/x/.../y",
        "/reports/x/..%20/y",
        "/reports/x/..;/y",
        "/reports/x/..;jsessionid=1/y",
        "/reports/;x/y",
        "/reports/x/..%00/y",
        "/reports/salaries.csv%00.txt",
        "/reports/a%0Ab",
    ] {
        let e = get(HOST, path, &[]).unwrap_err();
        assert_eq!(
            (e.code(), e.status().as_u16()),
            ("InvalidRequest", 400),
            "{path}"
        );
    }
    let e = get("reports.s3.localhost", "/x/../y", &[]).unwrap_err();
    assert_eq!(e.code(), "InvalidRequest");
    let e = get("reports.s3.localhost", "//y", &[]).unwrap_err();
    assert_eq!(e.code(), "InvalidRequest");
    // What resolves nothing routes: dots inside a segment or ending one that has more, encoded
    // slashes, `;` inside a segment.
    for (path, key) in [
        ("/reports/a..b/.c/d.", "a..b/.c/d."),
        ("/reports/.hidden/x", ".hidden/x"),
        ("/reports/a%2Fb", "a/b"),
        ("/reports/a;b", "a;b"),
        ("/reports/a%20b/c", "a b/c"),
    ] {
        let r = get(HOST, path, &[]).unwrap();
        assert_eq!(r.key.as_deref(), Some(key), "{path}");
    }
    for source in ["reports/../secret", "reports/a/%2e/b", "reports//x"] {
        let put = strict.route(
            &Method::PUT,
            Some(HOST),
            "/reports/copy",
            None,
            &headers(&[("x-amz-copy-source", source)]),
        );
        assert_eq!(put.unwrap_err().code(), "InvalidRequest", "{source}");
    }
    // The copy source forwarded is the one authorised, encoded as a path is.
    let put = strict
        .route(
            &Method::PUT,
            Some(HOST),
            "/reports/copy",
            None,
            &headers(&[("x-amz-copy-source", "/reports/a%20b%2Bc?versionId=v%2B1")]),
        )
        .unwrap();
    assert_eq!(
        put.copy_source.as_deref(),
        Some("/reports/a%20b%2Bc?versionId=v%2B1")
    );
    let literal = S3Model::default().with_keys(KeyMode::Literal);
    let put = literal
        .route(
            &Method::PUT,
            Some(HOST),
            "/reports/copy",
            None,
            &headers(&[("x-amz-copy-source", "reports/../x")]),
        )
        .unwrap();
    assert_eq!(put.copy_source.as_deref(), Some("/reports/%2E%2E/x"));
    assert_eq!(
        put.checks[1],
        Check::new("s3:GetObject", "arn:aws:s3:::reports/../x")
    );
}

/// `x-amz-*` headers hoisted into the query by a presigner are read as headers: the operation,
/// checks and condition keys are what S3 will act on; a parameter repeating a header is refused.
#[test]
fn hoisted_query_headers_are_routed_as_headers() {
    use iamgate::route::s3::with_hoisted_headers;
    let model = S3Model::default().with_keys(KeyMode::Literal);
    let query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&x-amz-copy-source=%2Freports%2Fconfidential%2Fsalaries.csv\
                 &X-Amz-Acl=public-read&x-id=PutObject";
    let none = HeaderMap::new();
    let hoisted = with_hoisted_headers(Some(query), &none).unwrap();
    assert_eq!(hoisted.len(), 2, "{hoisted:?}");
    let r = model
        .route(
            &Method::PUT,
            Some(HOST),
            "/reports/tmp/x",
            Some(query),
            &hoisted,
        )
        .unwrap();
    assert_eq!(r.operation, "CopyObject");
    assert!(r.checks.contains(&Check::new(
        "s3:GetObject",
        "arn:aws:s3:::reports/confidential/salaries.csv"
    )));
    assert_eq!(
        r.context_value("s3:x-amz-acl"),
        Some(&["public-read".to_owned()][..])
    );
    // A name is read decoded, as S3 reads it: an encoded `x-amz-` name is hoisted too.
    for encoded in ["x%2Damz-acl", "%78-amz-acl", "X-Amz%2Dacl"] {
        let query = format!("{encoded}=public-read");
        let hoisted = with_hoisted_headers(Some(&query), &none).unwrap();
        let r = model
            .route(
                &Method::PUT,
                Some(HOST),
                "/reports/x",
                Some(&query),
                &hoisted,
            )
            .unwrap();
        assert_eq!(
            r.context_value("s3:x-amz-acl"),
            Some(&["public-read".to_owned()][..]),
            "{encoded}"
        );
    }
    // Nothing hoisted: the headers as they are, not copied.
    let plain = headers(&[("x-amz-acl", "private")]);
    assert!(matches!(
        with_hoisted_headers(Some("X-Amz-Date=1&prefix=x-amz-"), &plain).unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));
    // The same header twice (query and header) is ambiguous.
    let both = with_hoisted_headers(Some("x-amz-acl=public-read"), &plain).unwrap();
    let e = model
        .route(
            &Method::PUT,
            Some(HOST),
            "/reports/x",
            Some("x-amz-acl=public-read"),
            &both,
        )
        .unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
}
