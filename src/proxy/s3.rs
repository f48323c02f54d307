//! The S3 model of a proxied upstream: S3's routing, its DeleteObjects body (read and decided
//! key by key), its authentication condition keys, its 404 rule and its log parameters.

use bytes::Bytes;
use http::{request, HeaderMap, HeaderName, Method};
use serde_json::{Map, Value};

use super::delete_objects as del;
use super::exchange::RouteSeen;
use super::model::{BodyPlan, Model, Routed, Split};
use super::respond::{Dialect, Reject};
use super::KeyPrincipal;
use crate::audit::{self, Redactor};
use crate::policy::{Context, Decision};
use crate::route::s3::{self, ObjectId, S3Model};
use crate::route::Check;
use crate::sigv4::{Authenticated, ServiceRules};

impl Model for S3Model {
    fn service(&self) -> &str {
        "s3"
    }

    fn dialect(&self) -> Dialect {
        Dialect::S3Xml
    }

    fn signing_rules(&self) -> ServiceRules {
        ServiceRules::s3()
    }

    fn allows_anonymous(&self) -> bool {
        true
    }

    fn route(
        &self,
        parts: &request::Parts,
        _region: &str,
        _account: &str,
    ) -> Result<Routed, Reject> {
        let authority = parts.uri.authority().map(|a| a.as_str());
        let headers = s3::with_hoisted_headers(parts.uri.query(), &parts.headers)?;
        let r = S3Model::route(
            self,
            &parts.method,
            authority,
            parts.uri.path(),
            parts.uri.query(),
            &headers,
        )?;
        let mut replace_headers = Vec::new();
        if let Some(source) = r.copy_source {
            // The upstream copies from the source that was authorised, as the gateway read
            // it, never from the client's bytes (which a normalising upstream could read
            // otherwise).
            replace_headers.push((HeaderName::from_static("x-amz-copy-source"), source));
        }
        Ok(Routed {
            operation: r.operation.to_owned(),
            checks: r.checks,
            context: r.context,
            forward_path: r.forward_path,
            inspect_body: r.needs_body.is_some(),
            bucket: r.bucket,
            key: r.key,
            replace_headers,
            plan: None,
        })
    }

    /// DeleteObjects: one check per key, each key held to the upstream's key rule (it goes
    /// upstream in the body), and the plan that answers key by key.
    fn inspect(&self, routed: &mut Routed, body: &Bytes) -> Result<(), Reject> {
        let Some(bucket) = routed.bucket.clone() else {
            return Ok(());
        };
        let request = s3::parse_delete(body)?;
        for object in &request.objects {
            self.keys.check(&object.key)?;
        }
        routed
            .checks
            .extend(s3::delete_objects_checks(&bucket, &request.objects));
        routed.plan = Some(Box::new(DeleteObjects {
            bucket,
            objects: request.objects,
            quiet: request.quiet,
        }));
        Ok(())
    }

    fn signed_context(
        &self,
        context: &mut Context,
        auth: &Authenticated<KeyPrincipal>,
        headers: &HeaderMap,
    ) {
        context.insert_known("s3:authtype", auth.auth_type.s3_auth_type());
        context.insert_known("s3:signatureversion", auth.signature_version);
        context.insert_known(
            "s3:signatureage",
            (auth.signature_age_secs.max(0) * 1000).to_string(),
        );
        if let Some(v) = headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
        {
            context.insert_known("s3:x-amz-content-sha256", v);
        }
    }

    /// S3 answers a missing key with AccessDenied to a caller who may not list the bucket, so
    /// that nobody learns which keys exist without that right.
    fn when_not_found(&self, routed: &Routed, method: &Method) -> Option<Check> {
        if routed.key.is_none() || !matches!(*method, Method::GET | Method::HEAD) {
            return None;
        }
        let bucket = routed.bucket.as_deref()?;
        Some(Check::new("s3:ListBucket", s3::bucket_arn(bucket)))
    }

    /// `bucketName`, `key`, `Host` and the query's parameters; never an authentication one.
    fn request_parameters(
        &self,
        route: &RouteSeen,
        parts: &request::Parts,
        redactor: &Redactor,
    ) -> Map<String, Value> {
        let mut map = Map::new();
        if let Some(bucket) = &route.bucket {
            map.insert("bucketName".into(), Value::String(bucket.clone()));
        }
        if let Some(key) = &route.key {
            map.insert("key".into(), Value::String(redactor.scrub(key)));
        }
        if let Some(host) = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            map.insert("Host".into(), Value::String(audit::truncate(host, 256)));
        }
        for (name, value) in crate::query::raw_pairs(parts.uri.query().unwrap_or("")).take(32) {
            if audit::is_auth_param(name) {
                continue;
            }
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            let name = decode(name);
            if map.contains_key(&name) {
                continue;
            }
            let value = redactor.scrub(&audit::truncate(&decode(value), 1024));
            map.insert(name, Value::String(value));
        }
        map
    }
}

/// A DeleteObjects request, parsed once: the keys the caller may delete go upstream; each
/// refused key comes back as an `AccessDenied` entry of the `DeleteResult`.
struct DeleteObjects {
    bucket: String,
    objects: Vec<ObjectId>,
    quiet: bool,
}

impl BodyPlan for DeleteObjects {
    fn split(self: Box<Self>, decisions: &[(Check, Decision)], headers: &mut HeaderMap) -> Split {
        let split = del::split(&self.bucket, self.objects, decisions);
        if split.allowed.is_empty() {
            return Split::Answer(del::result_only_refused(&split.refused));
        }
        let body = del::request_body(&split.allowed, self.quiet);
        // The body changed: the client's checksums no longer hold; S3 requires Content-MD5.
        let checksums: Vec<_> = headers
            .keys()
            .filter(|k| {
                k.as_str().starts_with("x-amz-checksum-")
                    || k.as_str() == "x-amz-sdk-checksum-algorithm"
            })
            .cloned()
            .collect();
        for name in checksums {
            headers.remove(name);
        }
        if let Ok(v) = http::HeaderValue::from_str(&del::content_md5(&body)) {
            headers.insert("content-md5", v);
        }
        let refused = split.refused;
        Split::Forward {
            body,
            merge: (!refused.is_empty()).then(|| {
                Box::new(move |answer: &[u8]| del::merge(answer, &refused)) as super::model::Merge
            }),
        }
    }
}
