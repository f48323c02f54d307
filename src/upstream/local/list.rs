//! Listings: ListObjectsV2 and ListObjects (v1) over a bucket folder, in S3's key order.

use std::path::PathBuf;

use http::{Response, StatusCode};

use super::error::{Result, StoreError};
use super::fsio::{hex, parse_hex, read_meta};
use super::keys::{file_name_to_key, FileKey};
use super::xml::XmlWriter;
use super::{
    iso_date, not_found_is, url_encode_if, xml_response, LocalBody, LocalStore, Target, OWNER_ID,
};

/// What a listing produced, before object metadata is read.
enum Entry {
    Object(String, PathBuf),
    Prefix(String),
}

/// Listing parameters shared by ListObjects V1 and V2.
struct ListParams<'a> {
    prefix: &'a str,
    delimiter: &'a str,
    max_keys: usize,
    after: Option<String>,
}

impl LocalStore {
    /// Every key of a bucket with its file, sorted in UTF-8 byte order as S3 lists them.
    pub(super) async fn bucket_keys(&self, bucket: &str) -> Result<Vec<(String, PathBuf)>> {
        let dir_path = self.bucket_dir(bucket);
        let mut dir = not_found_is(tokio::fs::read_dir(&dir_path).await, || {
            StoreError::no_such_bucket(bucket)
        })?;
        let mut keys = Vec::new();
        while let Some(entry) = dir.next_entry().await? {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            match file_name_to_key(&name) {
                FileKey::Key(k) => keys.push((k, entry.path())),
                FileKey::Hashed => {
                    if let Ok(Some((meta, _))) = read_meta(&entry.path()).await {
                        keys.push((meta.key, entry.path()));
                    }
                }
                FileKey::Foreign => {}
            }
        }
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(keys)
    }

    pub(super) async fn list_objects(
        &self,
        bucket: &str,
        target: &Target,
        v2: bool,
    ) -> Result<Response<LocalBody>> {
        let prefix = target.q("prefix").unwrap_or("");
        let delimiter = target.q("delimiter").unwrap_or("");
        let url = match target.q("encoding-type") {
            None => false,
            Some("url") => true,
            Some(_) => {
                return Err(StoreError::invalid_argument(
                    "Invalid Encoding Method specified in Request",
                ))
            }
        };
        let max_keys = match target.q("max-keys") {
            None => 1000,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    StoreError::invalid_argument(
                        "Provided max-keys not an integer or within integer range",
                    )
                })?
                .min(1000) as usize,
        };
        let token = target.q("continuation-token");
        let start_after = target.q("start-after");
        let marker = target.q("marker");
        let after = if v2 {
            match token {
                Some(t) => Some(decode_token(t)?),
                None => start_after.filter(|s| !s.is_empty()).map(str::to_string),
            }
        } else {
            marker.filter(|s| !s.is_empty()).map(str::to_string)
        };
        let keys = self.bucket_keys(bucket).await?;
        let params = ListParams {
            prefix,
            delimiter,
            max_keys,
            after,
        };
        let (entries, truncated) = select_entries(keys, &params);
        let last = entries.last().map(|e| match e {
            Entry::Object(k, _) => k.clone(),
            Entry::Prefix(p) => p.clone(),
        });
        let root = "ListBucketResult";
        let mut w = XmlWriter::new(root);
        w.elem("Name", bucket)
            .elem("Prefix", &url_encode_if(prefix, url));
        if v2 {
            if let Some(t) = token {
                w.elem("ContinuationToken", t);
            }
            if let Some(s) = start_after {
                w.elem("StartAfter", &url_encode_if(s, url));
            }
            w.elem("KeyCount", &entries.len().to_string());
            if truncated {
                if let Some(l) = &last {
                    w.elem("NextContinuationToken", &hex(l.as_bytes()));
                }
            }
        } else {
            w.elem("Marker", &url_encode_if(marker.unwrap_or(""), url));
            if truncated {
                if let Some(l) = &last {
                    w.elem("NextMarker", &url_encode_if(l, url));
                }
            }
        }
        w.elem("MaxKeys", &max_keys.to_string());
        if !delimiter.is_empty() {
            w.elem("Delimiter", &url_encode_if(delimiter, url));
        }
        if url {
            w.elem("EncodingType", "url");
        }
        w.elem("IsTruncated", if truncated { "true" } else { "false" });
        let mut prefixes = Vec::new();
        for entry in entries {
            match entry {
                Entry::Prefix(p) => prefixes.push(p),
                Entry::Object(key, path) => {
                    let Ok(Some((meta, _))) = read_meta(&path).await else {
                        continue; // deleted meanwhile
                    };
                    w.open("Contents")
                        .elem("Key", &url_encode_if(&key, url))
                        .elem("LastModified", &iso_date(meta.last_modified_ms))
                        .elem("ETag", &meta.etag)
                        .elem("Size", &meta.size.to_string());
                    if !v2 || target.q("fetch-owner") == Some("true") {
                        w.open("Owner")
                            .elem("ID", OWNER_ID)
                            .elem("DisplayName", OWNER_ID)
                            .close("Owner");
                    }
                    w.elem("StorageClass", "STANDARD").close("Contents");
                }
            }
        }
        for p in prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &url_encode_if(&p, url))
                .close("CommonPrefixes");
        }
        Ok(xml_response(StatusCode::OK, w.finish(root)))
    }
}

fn decode_token(token: &str) -> Result<String> {
    parse_hex(token)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| StoreError::invalid_argument("The continuation token provided is incorrect"))
}

/// Applies prefix, start marker, delimiter and max-keys to a sorted key list.
fn select_entries(keys: Vec<(String, PathBuf)>, p: &ListParams<'_>) -> (Vec<Entry>, bool) {
    let mut out: Vec<Entry> = Vec::new();
    let mut truncated = false;
    let mut last_prefix: Option<String> = None;
    for (key, path) in keys {
        if !key.starts_with(p.prefix) {
            continue;
        }
        if p.after.as_deref().is_some_and(|a| key.as_str() <= a) {
            continue;
        }
        let common = if p.delimiter.is_empty() {
            None
        } else {
            key[p.prefix.len()..]
                .find(p.delimiter)
                .map(|i| key[..p.prefix.len() + i + p.delimiter.len()].to_string())
        };
        if let Some(cp) = &common {
            if last_prefix.as_deref() == Some(cp.as_str()) {
                continue;
            }
            if p.after.as_deref().is_some_and(|a| cp.as_str() <= a) {
                continue;
            }
        }
        if out.len() >= p.max_keys {
            truncated = true;
            break;
        }
        match common {
            Some(cp) => {
                last_prefix = Some(cp.clone());
                out.push(Entry::Prefix(cp));
            }
            None => out.push(Entry::Object(key, path)),
        }
    }
    (out, truncated)
}
