//! DeleteObjects, key by key, as S3 answers it: the keys the caller may delete go to the
//! upstream; each refused key comes back as an `AccessDenied` entry of the `DeleteResult`,
//! and the request as a whole succeeds.

use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use md5::{Digest, Md5};

use super::respond::xml_escape;
use crate::policy::{Decision, Outcome};
use crate::route::s3::{delete_objects_checks, ObjectId};
use crate::route::Check;

/// The keys of a DeleteObjects request, split by the decisions on them.
pub struct Split {
    /// Keys the caller may delete.
    pub allowed: Vec<ObjectId>,
    /// Keys it may not.
    pub refused: Vec<ObjectId>,
}

/// Splits `objects` by the decision on each one's check.
pub fn split(bucket: &str, objects: Vec<ObjectId>, decisions: &[(Check, Decision)]) -> Split {
    let verdicts: HashMap<(&str, &str), Outcome> = decisions
        .iter()
        .map(|(c, d)| ((c.action.as_str(), c.resource.as_str()), d.outcome))
        .collect();
    let mut split = Split {
        allowed: Vec::new(),
        refused: Vec::new(),
    };
    for object in objects {
        let check = delete_objects_checks(bucket, std::slice::from_ref(&object));
        let allowed = check.first().is_some_and(|c| {
            verdicts.get(&(c.action.as_str(), c.resource.as_str())) == Some(&Outcome::Allowed)
        });
        if allowed {
            split.allowed.push(object);
        } else {
            split.refused.push(object);
        }
    }
    split
}

/// The request body for the allowed keys only.
pub fn request_body(allowed: &[ObjectId], quiet: bool) -> Bytes {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Delete>");
    if quiet {
        xml.push_str("<Quiet>true</Quiet>");
    }
    for object in allowed {
        xml.push_str("<Object><Key>");
        xml.push_str(&xml_escape(&object.key));
        xml.push_str("</Key>");
        if let Some(v) = &object.version_id {
            xml.push_str("<VersionId>");
            xml.push_str(&xml_escape(v));
            xml.push_str("</VersionId>");
        }
        xml.push_str("</Object>");
    }
    xml.push_str("</Delete>");
    Bytes::from(xml)
}

/// `Content-MD5` of a body, which S3 requires on DeleteObjects.
pub fn content_md5(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

/// The `<Error>` entries for refused keys.
pub fn refused_entries(refused: &[ObjectId]) -> String {
    let mut xml = String::new();
    for object in refused {
        xml.push_str("<Error><Key>");
        xml.push_str(&xml_escape(&object.key));
        xml.push_str("</Key>");
        if let Some(v) = &object.version_id {
            xml.push_str("<VersionId>");
            xml.push_str(&xml_escape(v));
            xml.push_str("</VersionId>");
        }
        xml.push_str("<Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
    }
    xml
}

/// A whole `DeleteResult` when the upstream was not asked (no key allowed).
pub fn result_only_refused(refused: &[ObjectId]) -> Bytes {
    Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</DeleteResult>",
        refused_entries(refused)
    ))
}

/// Adds the refused keys' entries to the upstream's `DeleteResult`.
pub fn merge(upstream: &[u8], refused: &[ObjectId]) -> Option<Bytes> {
    let text = std::str::from_utf8(upstream).ok()?;
    let at = text.rfind("</DeleteResult>")?;
    let mut out = String::with_capacity(text.len() + refused.len() * 96);
    out.push_str(&text[..at]);
    out.push_str(&refused_entries(refused));
    out.push_str(&text[at..]);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(key: &str) -> ObjectId {
        ObjectId {
            key: key.into(),
            version_id: None,
        }
    }

    #[test]
    fn merges_refusals_into_the_result() {
        let upstream = b"<DeleteResult><Deleted><Key>a</Key></Deleted></DeleteResult>";
        let merged = merge(upstream, &[id("b&c")]).unwrap();
        assert_eq!(
            std::str::from_utf8(&merged).unwrap(),
            "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b&amp;c</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"
        );
        let body = request_body(&[id("x<y")], true);
        assert!(std::str::from_utf8(&body)
            .unwrap()
            .contains("<Quiet>true</Quiet><Object><Key>x&lt;y</Key></Object>"));
        assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
    }
}
