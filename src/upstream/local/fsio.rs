//! Files: the object file format, atomic writes through the store's tmp folder, streaming a request
//! body to disk and a file section back out as a response body.
//!
//! An object is ONE file: its content, then its metadata as JSON, then the JSON's length (u32,
//! big-endian) and an 8-byte magic. Content and metadata are therefore replaced together by a single
//! `rename`, a reader that opened the file sees one consistent version, and a byte range of the
//! content is a plain offset into the file.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter, ReadBuf};

use super::error::{Result, StoreError};
use super::RequestBody;

const MAGIC: &[u8; 8] = b"IGOBJv1\n";
const TRAILER: u64 = 12;
const MAX_META: u32 = 1 << 20;
const WRITE_BUF: usize = 1 << 20;
const READ_CHUNK: usize = 256 * 1024;

/// What the store keeps about an object besides its content.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ObjectMeta {
    /// The object key (authoritative for hashed file names).
    pub key: String,
    /// Content length in bytes.
    pub size: u64,
    /// The ETag, quotes included.
    pub etag: String,
    /// Last modification, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// Content-Type given at upload.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Other stored representation headers (Cache-Control, Content-Disposition, ...), lower-case names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `x-amz-meta-*` user metadata, names without the prefix, lower case.
    #[serde(default)]
    pub user_meta: BTreeMap<String, String>,
    /// Number of parts for a multipart object.
    #[serde(default)]
    pub parts: Option<u32>,
}

/// A random 32-hex-digit identifier (upload ids, temp names, request ids). Unique, not secret.
pub fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = String::with_capacity(32);
    for i in 0..2u8 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u8(i);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Parses lower- or upper-case hex.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A file in the store's tmp folder that is removed on drop unless it was committed.
pub struct TempFile {
    path: PathBuf,
    out: Option<BufWriter<tokio::fs::File>>,
    /// Bytes of content written so far.
    pub written: u64,
    /// MD5 of the content written so far.
    pub md5: Md5,
}

impl TempFile {
    /// Creates a new, exclusive temp file in `tmp_dir`.
    pub async fn create(tmp_dir: &Path) -> Result<TempFile> {
        let path = tmp_dir.join(format!("{}.tmp", random_hex()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(TempFile {
            path,
            out: Some(BufWriter::with_capacity(WRITE_BUF, file)),
            written: 0,
            md5: Md5::new(),
        })
    }

    fn out(&mut self) -> Result<&mut BufWriter<tokio::fs::File>> {
        self.out
            .as_mut()
            .ok_or_else(|| StoreError::Io(std::io::Error::other("temp file already closed")))
    }

    /// Appends content bytes (hashed into `md5`).
    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.out()?.write_all(data).await?;
        self.md5.update(data);
        self.written += data.len() as u64;
        Ok(())
    }

    /// Streams a request body into the file; fails (leaving the temp file to be dropped) when the
    /// body errors or exceeds `limit` bytes.
    pub async fn write_body<B: RequestBody>(&mut self, body: B, limit: u64) -> Result<()> {
        let mut body = std::pin::pin!(body);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| StoreError::body_error(format!("request body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if self.written + data.len() as u64 > limit {
                    return Err(StoreError::entity_too_large());
                }
                self.write(&data).await?;
            }
        }
        Ok(())
    }

    /// Copies `len` bytes of an open object file from `offset` into the content.
    pub async fn copy_from(
        &mut self,
        file: &mut tokio::fs::File,
        offset: u64,
        len: u64,
    ) -> Result<()> {
        file.seek(SeekFrom::Start(offset)).await?;
        let mut remaining = len;
        let mut buf = vec![0u8; READ_CHUNK];
        while remaining > 0 {
            let want = remaining.min(READ_CHUNK as u64) as usize;
            let n = file.read(&mut buf[..want]).await?;
            if n == 0 {
                return Err(StoreError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.write(&buf[..n]).await?;
            remaining -= n as u64;
        }
        Ok(())
    }

    /// The hex MD5 of the content so far.
    pub fn md5_hex(&self) -> String {
        hex(&self.md5.clone().finalize())
    }

    /// The metadata of the content written: its size, its ETag (the quoted MD5) and now as its
    /// modification time; the caller adds the rest.
    pub fn written_meta(&self) -> ObjectMeta {
        ObjectMeta {
            size: self.written,
            etag: format!("\"{}\"", self.md5_hex()),
            last_modified_ms: now_ms(),
            ..ObjectMeta::default()
        }
    }

    /// Writes the metadata trailer, fsyncs, and renames the file to `dest`.
    pub async fn commit(mut self, meta: &ObjectMeta, dest: &Path) -> Result<()> {
        let json =
            serde_json::to_vec(meta).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let len = u32::try_from(json.len()).map_err(|_| StoreError::metadata_too_large())?;
        let out = self.out()?;
        out.write_all(&json).await?;
        out.write_all(&len.to_be_bytes()).await?;
        out.write_all(MAGIC).await?;
        self.finish_and_rename(dest).await
    }

    /// Fsyncs the raw file (no trailer) and renames it to `dest` (multipart parts use this too, with
    /// their own trailer written through [`TempFile::commit`]).
    async fn finish_and_rename(&mut self, dest: &Path) -> Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush().await?;
            let file = out.into_inner();
            file.sync_all().await?;
            drop(file);
        }
        tokio::fs::rename(&self.path, dest).await?;
        // Committed: nothing left to clean up.
        self.path = PathBuf::new();
        // Make the rename itself durable (best effort: not every platform can fsync a folder).
        if let Some(parent) = dest.parent() {
            if let Ok(dir) = tokio::fs::File::open(parent).await {
                let _ = dir.sync_all().await;
            }
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            // Drop the handle first, then remove the name; errors only mean it is already gone.
            self.out.take();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Reads an object file's metadata trailer; `Ok(None)` when the file does not exist.
pub async fn read_meta(path: &Path) -> Result<Option<(ObjectMeta, tokio::fs::File)>> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().await?.len();
    let corrupt = || {
        StoreError::Io(std::io::Error::other(format!(
            "corrupt object file {}",
            path.display()
        )))
    };
    if len < TRAILER {
        return Err(corrupt());
    }
    file.seek(SeekFrom::Start(len - TRAILER)).await?;
    let mut trailer = [0u8; TRAILER as usize];
    file.read_exact(&mut trailer).await?;
    if &trailer[4..] != MAGIC {
        return Err(corrupt());
    }
    let meta_len = u32::from_be_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    if meta_len > MAX_META || u64::from(meta_len) + TRAILER > len {
        return Err(corrupt());
    }
    let start = len - TRAILER - u64::from(meta_len);
    file.seek(SeekFrom::Start(start)).await?;
    let mut json = vec![0u8; meta_len as usize];
    file.read_exact(&mut json).await?;
    let meta: ObjectMeta = serde_json::from_slice(&json).map_err(|_| corrupt())?;
    if meta.size != start {
        return Err(corrupt());
    }
    Ok(Some((meta, file)))
}

/// A response body streaming `remaining` bytes of a file from its current position.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
}

impl FileBody {
    /// Streams `len` bytes of `file` starting at `offset`.
    pub async fn new(mut file: tokio::fs::File, offset: u64, len: u64) -> Result<FileBody> {
        file.seek(SeekFrom::Start(offset)).await?;
        Ok(FileBody {
            file,
            remaining: len,
        })
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = this.remaining.min(READ_CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    this.remaining = 0;
                    return Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())));
                }
                this.remaining -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
