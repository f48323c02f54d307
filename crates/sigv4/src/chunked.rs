//! A sans-IO decoder of `aws-chunked` bodies, with chunk and trailer signature checks.
//!
//! Wire format (one chunk per line pair, the last chunk has size 0):
//!
//! ```text
//! <hex size>[;chunk-signature=<64 hex>]\r\n<data>\r\n
//! ...
//! 0[;chunk-signature=<64 hex>]\r\n
//! [<trailer name>:<value>\r\n ...]           (trailer modes)
//! [x-amz-trailer-signature:<64 hex>\r\n]     (signed trailer mode)
//! \r\n
//! ```
//!
//! A chunk's data is released only after its signature checked out; every buffer is bounded
//! (line length, chunk size, trailer size).

use bytes::Bytes;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::push_hex32;
use super::error::AuthError;
use super::key::hmac_sha256;
use super::parse::decode_signature;
use super::verify::EMPTY_SHA256;

/// Longest chunk header or trailer line accepted.
pub const MAX_LINE: usize = 4096;
/// Largest trailer section accepted (all lines together).
pub const MAX_TRAILER: usize = 16 * 1024;

/// The material to check chunk signatures with.
#[derive(Clone)]
pub struct ChunkSigner {
    /// The signing key of the request.
    pub key: [u8; 32],
    /// `X-Amz-Date` of the request.
    pub amz_date: String,
    /// `date/region/service/aws4_request`.
    pub scope: String,
    /// The previous signature: the seed (request) signature at first.
    pub prev_signature: [u8; 32],
}

impl std::fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    fn chunk_signature(&self, data_hash: &[u8; 32]) -> [u8; 32] {
        let mut sts = self.string_to_sign("AWS4-HMAC-SHA256-PAYLOAD");
        sts.push_str(EMPTY_SHA256);
        sts.push('\n');
        push_hex32(&mut sts, data_hash);
        hmac_sha256(&self.key, sts.as_bytes())
    }

    fn trailer_signature(&self, canonical_trailers: &[u8]) -> [u8; 32] {
        let mut sts = self.string_to_sign("AWS4-HMAC-SHA256-TRAILER");
        push_hex32(&mut sts, &Sha256::digest(canonical_trailers).into());
        hmac_sha256(&self.key, sts.as_bytes())
    }

    /// The lines a chunk's and the trailer's strings to sign begin with: the algorithm, the
    /// date, the scope and the previous signature.
    fn string_to_sign(&self, algorithm: &str) -> String {
        let mut sts = String::with_capacity(300);
        for line in [algorithm, &self.amz_date, &self.scope] {
            sts.push_str(line);
            sts.push('\n');
        }
        push_hex32(&mut sts, &self.prev_signature);
        sts.push('\n');
        sts
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SizeLine,
    Data,
    DataCr,
    DataLf,
    Trailer,
    Done,
}

/// The sans-IO `aws-chunked` decoder.
#[derive(Debug)]
pub struct ChunkedDecoder {
    signer: Option<ChunkSigner>,
    trailers_allowed: bool,
    max_chunk: u64,
    state: State,
    line: Vec<u8>,
    remaining: u64,
    last_chunk: bool,
    chunk_sig: [u8; 32],
    chunk_hash: Sha256,
    pending: Vec<Bytes>,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<[u8; 32]>,
    trailer_bytes: usize,
}

fn bad(d: &'static str) -> AuthError {
    AuthError::MalformedChunkedBody(d)
}

impl ChunkedDecoder {
    /// A decoder. With a `signer`, every chunk must carry a valid `chunk-signature`, and with
    /// `trailers_allowed` too, the trailer must carry a valid `x-amz-trailer-signature`.
    /// Without a signer chunk signatures are not expected (unsigned trailer mode).
    pub fn new(signer: Option<ChunkSigner>, trailers_allowed: bool, max_chunk: u64) -> Self {
        Self {
            signer,
            trailers_allowed,
            max_chunk,
            state: State::SizeLine,
            line: Vec::new(),
            remaining: 0,
            last_chunk: false,
            chunk_sig: [0; 32],
            chunk_hash: Sha256::new(),
            pending: Vec::new(),
            trailers: Vec::new(),
            trailer_signature: None,
            trailer_bytes: 0,
        }
    }

    /// Feeds raw body bytes; decoded data that is ready (verified) is appended to `out`.
    pub fn push(&mut self, mut input: Bytes, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        while !input.is_empty() {
            match self.state {
                State::SizeLine | State::Trailer => {
                    let nl = input.iter().position(|&b| b == b'\n');
                    let take = nl.map_or(input.len(), |i| i + 1);
                    if self.line.len() + take > MAX_LINE {
                        return Err(bad("line too long"));
                    }
                    self.line.extend_from_slice(&input[..take]);
                    input = input.slice(take..);
                    if nl.is_some() {
                        let mut line = std::mem::take(&mut self.line);
                        line.pop();
                        if line.pop() != Some(b'\r') {
                            return Err(bad("line not terminated by CRLF"));
                        }
                        if self.state == State::SizeLine {
                            self.size_line(&line, out)?;
                        } else {
                            self.trailer_line(&line)?;
                        }
                    }
                }
                State::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let piece = input.split_to(n);
                    self.remaining -= n as u64;
                    if self.signer.is_some() {
                        self.chunk_hash.update(&piece);
                        self.pending.push(piece);
                    } else {
                        out.push(piece);
                    }
                    if self.remaining == 0 {
                        self.end_of_data(out)?;
                    }
                }
                State::DataCr => {
                    if input[0] != b'\r' {
                        return Err(bad("chunk data not followed by CRLF"));
                    }
                    input = input.slice(1..);
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if input[0] != b'\n' {
                        return Err(bad("chunk data not followed by CRLF"));
                    }
                    input = input.slice(1..);
                    self.state = State::SizeLine;
                }
                State::Done => return Err(bad("data after the final chunk")),
            }
        }
        Ok(())
    }

    fn size_line(&mut self, line: &[u8], out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        let line = std::str::from_utf8(line).map_err(|_| bad("chunk header is not text"))?;
        let mut parts = line.split(';');
        let size = parts.next().unwrap_or("");
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("invalid chunk size"));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| bad("invalid chunk size"))?;
        if size > self.max_chunk {
            return Err(bad("chunk too large"));
        }
        let mut sig = None;
        for ext in parts {
            if let Some(v) = ext.strip_prefix("chunk-signature=") {
                if sig.is_some() {
                    return Err(bad("repeated chunk-signature"));
                }
                sig = Some(decode_signature(v).ok_or(bad("invalid chunk-signature"))?);
            }
        }
        if self.signer.is_some() {
            self.chunk_sig = sig.ok_or(bad("missing chunk-signature"))?;
            self.chunk_hash = Sha256::new();
        }
        self.remaining = size;
        self.last_chunk = size == 0;
        if size == 0 {
            self.end_of_data(out)?;
        } else {
            self.state = State::Data;
        }
        Ok(())
    }

    fn end_of_data(&mut self, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        if let Some(signer) = &mut self.signer {
            let hash: [u8; 32] = std::mem::take(&mut self.chunk_hash).finalize().into();
            let expected = signer.chunk_signature(&hash);
            if !bool::from(expected.ct_eq(&self.chunk_sig)) {
                self.pending.clear();
                return Err(AuthError::SignatureDoesNotMatch);
            }
            signer.prev_signature = expected;
            out.append(&mut self.pending);
        }
        self.state = if self.last_chunk {
            State::Trailer
        } else {
            State::DataCr
        };
        Ok(())
    }

    fn trailer_line(&mut self, line: &[u8]) -> Result<(), AuthError> {
        if line.is_empty() {
            self.state = State::Done;
            return self.check_trailer();
        }
        if !self.trailers_allowed {
            return Err(bad("trailer not announced"));
        }
        self.trailer_bytes += line.len() + 2;
        if self.trailer_bytes > MAX_TRAILER {
            return Err(bad("trailer too large"));
        }
        let line = std::str::from_utf8(line).map_err(|_| bad("trailer is not text"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or(bad("trailer line without ':'"))?;
        let name = name.trim_matches([' ', '\t']).to_ascii_lowercase();
        let value = value.trim_matches([' ', '\t']);
        if name == "x-amz-trailer-signature" {
            if self.trailer_signature.is_some() {
                return Err(bad("repeated trailer signature"));
            }
            self.trailer_signature =
                Some(decode_signature(value).ok_or(bad("invalid trailer signature"))?);
        } else {
            if self.trailer_signature.is_some() {
                return Err(bad("trailer after its signature"));
            }
            self.trailers.push((name, value.to_owned()));
        }
        Ok(())
    }

    fn check_trailer(&mut self) -> Result<(), AuthError> {
        if let (Some(signer), true) = (&self.signer, self.trailers_allowed) {
            let sig = self
                .trailer_signature
                .ok_or(bad("missing trailer signature"))?;
            // Lower-case names, sorted, `name:value\n` each (as the SDKs sign them).
            let mut sorted: Vec<&(String, String)> = self.trailers.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            let mut canonical = Vec::new();
            for (n, v) in sorted {
                canonical.extend_from_slice(n.as_bytes());
                canonical.push(b':');
                canonical.extend_from_slice(v.as_bytes());
                canonical.push(b'\n');
            }
            if !bool::from(signer.trailer_signature(&canonical).ct_eq(&sig)) {
                return Err(AuthError::SignatureDoesNotMatch);
            }
        }
        Ok(())
    }

    /// Ends the body: the final chunk must have been seen (the closing empty line after the
    /// trailer may be missing). Returns the trailers (name lower case, value), signature excluded.
    pub fn finish(&mut self) -> Result<Trailers, AuthError> {
        match self.state {
            State::Done => {}
            State::Trailer if self.line.is_empty() => {
                self.state = State::Done;
                self.check_trailer()?;
            }
            _ => return Err(AuthError::IncompleteBody),
        }
        Ok(std::mem::take(&mut self.trailers))
    }
}

/// Trailer headers: `(lower-case name, value)`.
pub type Trailers = Vec<(String, String)>;

/// Decodes a whole unsigned `aws-chunked` body (a convenience for tests and fuzzing):
/// `(data, trailers)`.
pub fn decode_unsigned(input: &[u8]) -> Result<(Vec<u8>, Trailers), AuthError> {
    let mut d = ChunkedDecoder::new(None, true, u64::MAX);
    let mut out = Vec::new();
    d.push(Bytes::copy_from_slice(input), &mut out)?;
    let trailers = d.finish()?;
    Ok((out.concat(), trailers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_with_trailer() {
        let body = b"5\r\nhello\r\n1\r\n\n\r\n0\r\nx-amz-checksum-crc32:NjowIA==\r\n\r\n";
        let (data, t) = decode_unsigned(body).unwrap();
        assert_eq!(data, b"hello\n");
        assert_eq!(
            t,
            vec![("x-amz-checksum-crc32".to_owned(), "NjowIA==".to_owned())]
        );
    }

    #[test]
    fn malformed() {
        assert!(decode_unsigned(b"zz\r\n").is_err());
        assert!(decode_unsigned(b"5\r\nhelloXX").is_err());
        assert!(decode_unsigned(b"5\r\nhel").is_err());
        assert!(decode_unsigned(&[b'1'; 5000]).is_err());
        assert!(decode_unsigned(b"0\r\n\r\nmore").is_err());
    }
}
