//! Multipart uploads: parts in `uploads/<id>/`, assembled into one object file on completion.

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::{HeaderMap, Response, StatusCode};
use md5::{Digest, Md5};
use percent_encoding::utf8_percent_encode;
use serde::{Deserialize, Serialize};

use super::error::{Result, StoreError};
use super::fsio::{hex, now_ms, parse_hex, random_hex, read_meta, ObjectMeta, TempFile};
use super::xml::{self, XmlWriter};
use super::RequestBody;
use super::{
    check_received, collect_meta, commit, content_length, content_md5, copy_result, empty,
    etag_response, header_str, iso_date, not_found_is, read_limited, refuse_aws_chunked,
    strip_quotes, xml_response, LocalBody, LocalStore, Target, MAX_OBJECT, MAX_XML_BODY, MIN_PART,
    OWNER_ID, URL_ENCODE,
};
/// A multipart upload in progress (`uploads/<id>/upload.json`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct UploadInfo {
    pub(super) bucket: String,
    key: String,
    initiated_ms: i64,
    content_type: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    user_meta: BTreeMap<String, String>,
}

/// One part of a multipart upload, as a request names it.
pub(super) struct Part<'a> {
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
    pub(super) upload_id: &'a str,
    /// The part number (1 to 10,000).
    pub(super) number: u32,
}

/// A listing's `max-parts` or `max-uploads`: 1000 at the most, and when not given.
fn page_size(target: &Target, name: &str) -> Result<usize> {
    match target.q(name) {
        None => Ok(1000),
        Some(m) => m
            .parse::<usize>()
            .map(|n| n.min(1000))
            .map_err(|_| StoreError::invalid_argument(format!("invalid {name}"))),
    }
}

/// Keeps the first `max` of a sorted listing; true when some were cut (the listing is truncated).
fn keep_page<T>(items: &mut Vec<T>, max: usize) -> bool {
    let truncated = items.len() > max;
    items.truncate(max);
    truncated
}

pub(super) fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

impl LocalStore {
    pub(super) async fn uploads(&self) -> Result<Vec<(String, UploadInfo)>> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(self.inner.root.join("uploads")).await?;
        while let Some(entry) = dir.next_entry().await? {
            let Some(id) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !valid_upload_id(&id) {
                continue;
            }
            if let Ok(data) = tokio::fs::read(entry.path().join("upload.json")).await {
                if let Ok(info) = serde_json::from_slice::<UploadInfo>(&data) {
                    out.push((id, info));
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn load_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<UploadInfo> {
        if !valid_upload_id(id) {
            return Err(StoreError::no_such_upload(id));
        }
        self.ensure_bucket(bucket).await?;
        let data = not_found_is(
            tokio::fs::read(self.upload_dir(id).join("upload.json")).await,
            || StoreError::no_such_upload(id),
        )?;
        let info: UploadInfo =
            serde_json::from_slice(&data).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        if info.bucket != bucket || info.key != key {
            return Err(StoreError::no_such_upload(id));
        }
        Ok(info)
    }

    pub(super) fn part_path(&self, id: &str, part: u32) -> PathBuf {
        self.upload_dir(id).join(format!("part-{part:05}"))
    }

    /// Commits what `tmp` holds as `part`; an upload completed or aborted meanwhile is
    /// `NoSuchUpload`.
    async fn commit_part(&self, tmp: TempFile, part: &Part<'_>) -> Result<ObjectMeta> {
        let meta = tmp.written_meta();
        commit(
            tmp,
            &meta,
            &self.part_path(part.upload_id, part.number),
            || StoreError::no_such_upload(part.upload_id),
        )
        .await?;
        Ok(meta)
    }

    pub(super) async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: &HeaderMap,
    ) -> Result<Response<LocalBody>> {
        let (content_type, stored, user_meta) = collect_meta(headers)?;
        self.ensure_bucket(bucket).await?;
        let id = random_hex();
        tokio::fs::create_dir(self.upload_dir(&id)).await?;
        let info = UploadInfo {
            bucket: bucket.to_string(),
            key: key.to_string(),
            initiated_ms: now_ms(),
            content_type,
            headers: stored,
            user_meta,
        };
        let data =
            serde_json::to_vec(&info).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        if let Err(e) = self
            .write_small(&self.upload_dir(&id).join("upload.json"), &data)
            .await
        {
            let _ = tokio::fs::remove_dir_all(self.upload_dir(&id)).await;
            return Err(e);
        }
        let root = "InitiateMultipartUploadResult";
        let mut w = XmlWriter::new(root);
        w.elem("Bucket", bucket)
            .elem("Key", key)
            .elem("UploadId", &id);
        Ok(xml_response(StatusCode::OK, w.finish(root)))
    }

    pub(super) async fn upload_part<B: RequestBody>(
        &self,
        part: &Part<'_>,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Response<LocalBody>> {
        refuse_aws_chunked(headers)?;
        let declared = content_length(headers)?;
        if declared.is_some_and(|n| n > MAX_OBJECT) {
            return Err(StoreError::entity_too_large());
        }
        let md5 = content_md5(headers)?;
        self.load_upload(part.bucket, part.key, part.upload_id)
            .await?;
        let mut tmp = TempFile::create(&self.tmp_dir()).await?;
        tmp.write_body(body, MAX_OBJECT).await?;
        check_received(&tmp, declared, md5.as_deref())?;
        let meta = self.commit_part(tmp, part).await?;
        Ok(etag_response(&meta.etag))
    }

    pub(super) async fn upload_part_copy(
        &self,
        part: &Part<'_>,
        headers: &HeaderMap,
    ) -> Result<Response<LocalBody>> {
        self.load_upload(part.bucket, part.key, part.upload_id)
            .await?;
        let (_, _, src_meta, mut file) = self.copy_source(headers).await?;
        let (offset, len) = match header_str(headers, "x-amz-copy-source-range") {
            None => (0, src_meta.size),
            Some(r) => {
                let (a, b) = r
                    .trim()
                    .strip_prefix("bytes=")
                    .and_then(|s| s.split_once('-'))
                    .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
                    .filter(|(a, b)| a <= b)
                    .ok_or_else(|| StoreError::invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"))?;
                if b >= src_meta.size {
                    return Err(StoreError::invalid_range(src_meta.size));
                }
                (a, b - a + 1)
            }
        };
        let mut tmp = TempFile::create(&self.tmp_dir()).await?;
        tmp.copy_from(&mut file, offset, len).await?;
        drop(file);
        let meta = self.commit_part(tmp, part).await?;
        Ok(copy_result("CopyPartResult", &meta))
    }

    pub(super) async fn complete_upload<B: RequestBody>(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        body: B,
    ) -> Result<Response<LocalBody>> {
        let info = self.load_upload(bucket, key, id).await?;
        let data = read_limited(body, MAX_XML_BODY).await?;
        let requested = xml::parse_complete(&data)?;
        if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(StoreError::invalid_part_order());
        }
        let count = requested.len();
        let mut parts = Vec::with_capacity(count);
        for (number, etag) in &requested {
            let invalid = || {
                StoreError::invalid_part(format!(
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part {number})"
                ))
            };
            let (meta, file) = read_meta(&self.part_path(id, *number))
                .await?
                .ok_or_else(invalid)?;
            if strip_quotes(etag) != strip_quotes(&meta.etag) {
                return Err(invalid());
            }
            parts.push((meta, file));
        }
        if parts[..count - 1]
            .iter()
            .any(|(meta, _)| meta.size < MIN_PART)
        {
            return Err(StoreError::entity_too_small());
        }
        let mut md5s = Md5::new();
        let mut tmp = TempFile::create(&self.tmp_dir()).await?;
        for (meta, mut file) in parts {
            let digest = parse_hex(strip_quotes(&meta.etag))
                .ok_or_else(|| StoreError::Io(std::io::Error::other("corrupt part ETag")))?;
            md5s.update(&digest);
            tmp.copy_from(&mut file, 0, meta.size).await?;
        }
        let etag = format!("\"{}-{count}\"", hex(&md5s.finalize()));
        let meta = ObjectMeta {
            key: key.to_string(),
            etag: etag.clone(),
            content_type: info.content_type,
            headers: info.headers,
            user_meta: info.user_meta,
            parts: u32::try_from(count).ok(),
            ..tmp.written_meta()
        };
        commit(tmp, &meta, &self.object_path(bucket, key), || {
            StoreError::no_such_bucket(bucket)
        })
        .await?;
        tokio::fs::remove_dir_all(self.upload_dir(id)).await?;
        let root = "CompleteMultipartUploadResult";
        let mut w = XmlWriter::new(root);
        w.elem(
            "Location",
            &format!("/{bucket}/{}", utf8_percent_encode(key, URL_ENCODE)),
        )
        .elem("Bucket", bucket)
        .elem("Key", key)
        .elem("ETag", &etag);
        Ok(xml_response(StatusCode::OK, w.finish(root)))
    }

    pub(super) async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> Result<Response<LocalBody>> {
        self.load_upload(bucket, key, id).await?;
        not_found_is(tokio::fs::remove_dir_all(self.upload_dir(id)).await, || {
            StoreError::no_such_upload(id)
        })?;
        Ok(empty(StatusCode::NO_CONTENT))
    }

    pub(super) async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        id: &str,
        target: &Target,
    ) -> Result<Response<LocalBody>> {
        self.load_upload(bucket, key, id).await?;
        let marker = match target.q("part-number-marker") {
            None => 0,
            Some(m) => m
                .parse::<u32>()
                .map_err(|_| StoreError::invalid_argument("invalid part-number-marker"))?,
        };
        let max_parts = page_size(target, "max-parts")?;
        let mut numbers = Vec::new();
        let mut dir = not_found_is(tokio::fs::read_dir(self.upload_dir(id)).await, || {
            StoreError::no_such_upload(id)
        })?;
        while let Some(entry) = dir.next_entry().await? {
            if let Some(n) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("part-"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                if n > marker {
                    numbers.push(n);
                }
            }
        }
        numbers.sort_unstable();
        let truncated = keep_page(&mut numbers, max_parts);
        let root = "ListPartsResult";
        let mut w = XmlWriter::new(root);
        w.elem("Bucket", bucket)
            .elem("Key", key)
            .elem("UploadId", id)
            .elem("PartNumberMarker", &marker.to_string());
        if let Some(last) = numbers.last() {
            w.elem("NextPartNumberMarker", &last.to_string());
        }
        w.elem("MaxParts", &max_parts.to_string())
            .elem("IsTruncated", if truncated { "true" } else { "false" });
        for n in numbers {
            if let Ok(Some((meta, _))) = read_meta(&self.part_path(id, n)).await {
                w.open("Part")
                    .elem("PartNumber", &n.to_string())
                    .elem("LastModified", &iso_date(meta.last_modified_ms))
                    .elem("ETag", &meta.etag)
                    .elem("Size", &meta.size.to_string())
                    .close("Part");
            }
        }
        w.open("Initiator")
            .elem("ID", OWNER_ID)
            .elem("DisplayName", OWNER_ID)
            .close("Initiator");
        w.open("Owner")
            .elem("ID", OWNER_ID)
            .elem("DisplayName", OWNER_ID)
            .close("Owner");
        w.elem("StorageClass", "STANDARD");
        Ok(xml_response(StatusCode::OK, w.finish(root)))
    }

    pub(super) async fn list_uploads(
        &self,
        bucket: &str,
        target: &Target,
    ) -> Result<Response<LocalBody>> {
        self.ensure_bucket(bucket).await?;
        let prefix = target.q("prefix").unwrap_or("");
        let key_marker = target.q("key-marker").unwrap_or("");
        let id_marker = target.q("upload-id-marker").unwrap_or("");
        let max_uploads = page_size(target, "max-uploads")?;
        let mut uploads: Vec<(String, UploadInfo)> = self
            .uploads()
            .await?
            .into_iter()
            .filter(|(id, info)| {
                info.bucket == bucket
                    && info.key.starts_with(prefix)
                    && (key_marker.is_empty()
                        || info.key.as_str() > key_marker
                        || (info.key == key_marker
                            && !id_marker.is_empty()
                            && id.as_str() > id_marker))
            })
            .collect();
        uploads.sort_by(|a, b| {
            (a.1.key.as_str(), a.1.initiated_ms, a.0.as_str()).cmp(&(
                b.1.key.as_str(),
                b.1.initiated_ms,
                b.0.as_str(),
            ))
        });
        let truncated = keep_page(&mut uploads, max_uploads);
        let root = "ListMultipartUploadsResult";
        let mut w = XmlWriter::new(root);
        w.elem("Bucket", bucket)
            .elem("KeyMarker", key_marker)
            .elem("UploadIdMarker", id_marker);
        if let Some((id, info)) = uploads.last().filter(|_| truncated) {
            w.elem("NextKeyMarker", &info.key)
                .elem("NextUploadIdMarker", id);
        }
        w.elem("Prefix", prefix)
            .elem("MaxUploads", &max_uploads.to_string())
            .elem("IsTruncated", if truncated { "true" } else { "false" });
        for (id, info) in uploads {
            w.open("Upload")
                .elem("Key", &info.key)
                .elem("UploadId", &id)
                .open("Initiator")
                .elem("ID", OWNER_ID)
                .elem("DisplayName", OWNER_ID)
                .close("Initiator")
                .open("Owner")
                .elem("ID", OWNER_ID)
                .elem("DisplayName", OWNER_ID)
                .close("Owner")
                .elem("StorageClass", "STANDARD")
                .elem("Initiated", &iso_date(info.initiated_ms))
                .close("Upload");
        }
        Ok(xml_response(StatusCode::OK, w.finish(root)))
    }
}
