//! The sans-IO body verifier: one type for every payload mode.
//!
//! Feed it the raw body with [`BodyVerifier::push`] and end with [`BodyVerifier::finish`]; it
//! hands out the decoded, verified data. Whenever something is checked only at the end of the
//! body (SHA-256 of the payload, deferred signature, checksums, trailer signature), the last
//! piece of data is held back until the check passes, so a body that fails never reaches the
//! consumer whole. After an error every call fails.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::unhex32;
use super::checksum::{decode_checksum, Checksum};
use super::chunked::{ChunkSigner, ChunkedDecoder};
use super::error::{AuthError, ChecksumAlgorithm};
use super::key::hmac_sha256;
use super::verify::{
    body_headers, string_to_sign, string_to_sign_v4a, Authenticated, BodyHeaders, BodySigning,
    PayloadMode, RequestHead,
};

#[derive(Debug)]
enum Kind {
    Pass,
    Sha256 {
        expected: [u8; 32],
        hasher: Sha256,
    },
    Deferred {
        hasher: Sha256,
        signing: Box<BodySigning>,
    },
    Chunked(Box<ChunkedDecoder>),
}

/// The body verifier: feed it the raw body with [`BodyVerifier::push`], end with
/// [`BodyVerifier::finish`], and pass on only what it hands out.
///
/// Here the request is the AWS SigV4 test suite's `post-x-www-form-urlencoded` case, whose
/// signature covers `x-amz-content-sha256`, the SHA-256 of its 13-byte body.
///
/// ```
/// use bytes::Bytes;
/// use iamgate_sigv4::{AuthError, Config, Credential, CredentialStore, FixedClock, KeyStatus,
///     Outcome, PayloadMode, RequestHead, SecretKey, ServiceRules, Verifier};
///
/// struct Keys;
/// impl CredentialStore for Keys {
///     type Principal = ();
///     fn lookup(&self, access_key_id: &str) -> Option<Credential<()>> {
///         (access_key_id == "AKIDEXAMPLE").then(|| Credential {
///             secret: SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
///             status: KeyStatus::Active,
///             principal: (),
///         })
///     }
/// }
///
/// # fn main() -> Result<(), AuthError> {
/// let mut config = Config::new("us-east-1");
/// config.services.push(ServiceRules::other("service"));
/// let verifier = Verifier::with_clock(config, Keys, FixedClock(1_440_938_160));
/// let head = RequestHead::new("POST", b"/", b"", vec![
///     ("Content-Type", b"application/x-www-form-urlencoded".as_slice()),
///     ("Host", b"example.amazonaws.com"),
///     ("Content-Length", b"13"),
///     ("X-Amz-Date", b"20150830T123600Z"),
///     ("x-amz-content-sha256",
///         b"9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
///     ("Authorization", b"AWS4-HMAC-SHA256 \
///         Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
///         SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, \
///         Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"),
/// ]);
/// let Outcome::Authenticated(auth) = verifier.verify(&head)? else { unreachable!() };
/// assert!(matches!(auth.payload, PayloadMode::Sha256(_)));
///
/// // The body as signed, in two pieces: all of it comes out once the hash checked out.
/// let mut body = verifier.body_verifier(&auth)?;
/// let mut out = Vec::new();
/// body.push(Bytes::from_static(b"Param1="), &mut out)?;
/// body.push(Bytes::from_static(b"value1"), &mut out)?;
/// body.finish(&mut out)?;
/// assert_eq!(out.concat(), b"Param1=value1");
///
/// // Another body under the same signature: its last piece is held back, and the end fails.
/// let mut body = verifier.body_verifier(&auth)?;
/// let mut out = Vec::new();
/// body.push(Bytes::from_static(b"Param1=value2"), &mut out)?;
/// assert!(out.is_empty());
/// assert_eq!(body.finish(&mut out), Err(AuthError::ContentSha256Mismatch));
/// assert!(out.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct BodyVerifier {
    kind: Kind,
    header_checksum: Option<(Checksum, Vec<u8>)>,
    trailer_checksums: Vec<Checksum>,
    expected_len: Option<u64>,
    len: u64,
    hold: bool,
    held: Option<Bytes>,
    failed: bool,
    finished: bool,
    scratch: Vec<Bytes>,
}

impl BodyVerifier {
    /// A verifier that passes everything through (anonymous requests, `UNSIGNED-PAYLOAD`).
    pub fn passthrough() -> Self {
        Self {
            kind: Kind::Pass,
            header_checksum: None,
            trailer_checksums: Vec::new(),
            expected_len: None,
            len: 0,
            hold: false,
            held: None,
            failed: false,
            finished: false,
            scratch: Vec::new(),
        }
    }

    /// The verifier for an authenticated request's body. `max_chunk_size` bounds an
    /// `aws-chunked` chunk (use [`super::Config::max_chunk_size`], or
    /// [`super::Verifier::body_verifier`]).
    pub fn new<P>(auth: &Authenticated<P>, max_chunk_size: u64) -> Result<Self, AuthError> {
        let headers = BodyHeaders {
            decoded_content_length: auth.decoded_content_length,
            trailer_checksums: auth.trailer_checksums.clone(),
            checksum_header: auth.checksum_header.clone(),
        };
        Self::build(
            auth.payload,
            Some(&auth.body_signing),
            &headers,
            max_chunk_size,
        )
    }

    /// The verifier for an anonymous request's body: what the body headers announce is checked
    /// all the same (`x-amz-content-sha256` hash, unsigned `aws-chunked` decoding, checksums).
    /// Signed streaming modes make no sense without a signature and are refused.
    pub fn for_anonymous(head: &RequestHead<'_>, max_chunk_size: u64) -> Result<Self, AuthError> {
        let mode = match head.header("x-amz-content-sha256").map(<[u8]>::trim_ascii) {
            None | Some(b"UNSIGNED-PAYLOAD") => PayloadMode::Unsigned,
            Some(b"STREAMING-UNSIGNED-PAYLOAD-TRAILER") => PayloadMode::StreamingUnsignedTrailer,
            Some(v) => PayloadMode::Sha256(unhex32(v).ok_or(AuthError::InvalidContentSha256)?),
        };
        Self::build(mode, None, &body_headers(head)?, max_chunk_size)
    }

    fn build(
        mode: PayloadMode,
        signing: Option<&BodySigning>,
        headers: &BodyHeaders,
        max_chunk_size: u64,
    ) -> Result<Self, AuthError> {
        let needs_signing = || signing.ok_or(AuthError::InvalidContentSha256);
        let signer = || -> Result<ChunkSigner, AuthError> {
            let s = needs_signing()?;
            if s.v4a.is_some() {
                // SigV4A signed chunks are not supported (the verifier refuses them first).
                return Err(AuthError::InvalidContentSha256);
            }
            Ok(ChunkSigner {
                key: s.key,
                amz_date: s.amz_date.clone(),
                scope: s.scope.clone(),
                prev_signature: s.seed_signature,
            })
        };
        let chunked_decoder = |signer, trailer| {
            Kind::Chunked(Box::new(ChunkedDecoder::new(
                signer,
                trailer,
                max_chunk_size,
            )))
        };
        let (kind, chunked) = match mode {
            PayloadMode::Unsigned => (Kind::Pass, false),
            PayloadMode::Sha256(expected) => (
                Kind::Sha256 {
                    expected,
                    hasher: Sha256::new(),
                },
                false,
            ),
            PayloadMode::Deferred => (
                Kind::Deferred {
                    hasher: Sha256::new(),
                    signing: Box::new(needs_signing()?.clone()),
                },
                false,
            ),
            PayloadMode::StreamingSigned => (chunked_decoder(Some(signer()?), false), true),
            PayloadMode::StreamingSignedTrailer => (chunked_decoder(Some(signer()?), true), true),
            PayloadMode::StreamingUnsignedTrailer => (chunked_decoder(None, true), true),
        };
        let header_checksum = match &headers.checksum_header {
            Some((alg, v)) => Some((
                Checksum::new(*alg),
                decode_checksum(*alg, v).ok_or(AuthError::InvalidChecksum)?,
            )),
            None => None,
        };
        let trailer_checksums: Vec<Checksum> = if chunked {
            headers
                .trailer_checksums
                .iter()
                .map(|a| Checksum::new(*a))
                .collect()
        } else {
            Vec::new()
        };
        let hold = !matches!(kind, Kind::Pass)
            || header_checksum.is_some()
            || !trailer_checksums.is_empty();
        Ok(Self {
            kind,
            header_checksum,
            trailer_checksums,
            expected_len: if chunked {
                headers.decoded_content_length
            } else {
                None
            },
            hold,
            ..Self::passthrough()
        })
    }

    /// Feeds raw body bytes; verified, decoded data is appended to `out`.
    pub fn push(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        if self.failed || self.finished {
            return Err(AuthError::MalformedChunkedBody(
                "body verifier already ended",
            ));
        }
        let r = self.push_inner(input, out);
        if r.is_err() {
            self.fail();
        }
        r
    }

    fn fail(&mut self) {
        self.failed = true;
        self.held = None;
        self.scratch.clear();
    }

    fn push_inner(&mut self, input: Bytes, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        let mut decoded = std::mem::take(&mut self.scratch);
        match &mut self.kind {
            Kind::Pass => decoded.push(input),
            Kind::Sha256 { hasher, .. } | Kind::Deferred { hasher, .. } => {
                hasher.update(&input);
                decoded.push(input);
            }
            Kind::Chunked(d) => d.push(input, &mut decoded)?,
        }
        for piece in decoded.drain(..) {
            self.release(piece, out)?;
        }
        self.scratch = decoded;
        Ok(())
    }

    fn release(&mut self, piece: Bytes, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        if piece.is_empty() {
            return Ok(());
        }
        self.len += piece.len() as u64;
        if matches!(self.expected_len, Some(e) if self.len > e) {
            return Err(AuthError::IncompleteBody);
        }
        if let Some((c, _)) = &mut self.header_checksum {
            c.update(&piece);
        }
        for c in &mut self.trailer_checksums {
            c.update(&piece);
        }
        if self.hold {
            if let Some(h) = self.held.replace(piece) {
                out.push(h);
            }
        } else {
            out.push(piece);
        }
        Ok(())
    }

    /// Ends the body: runs the end-of-body checks and, when they pass, releases the held-back
    /// data into `out`.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), AuthError> {
        if self.failed || self.finished {
            return Err(AuthError::MalformedChunkedBody(
                "body verifier already ended",
            ));
        }
        let r = self.finish_inner();
        if r.is_err() {
            self.fail();
            return r;
        }
        self.finished = true;
        out.extend(self.held.take());
        Ok(())
    }

    fn finish_inner(&mut self) -> Result<(), AuthError> {
        match std::mem::replace(&mut self.kind, Kind::Pass) {
            Kind::Pass => {}
            Kind::Sha256 { expected, hasher } => {
                let got: [u8; 32] = hasher.finalize().into();
                if !bool::from(got.ct_eq(&expected)) {
                    return Err(AuthError::ContentSha256Mismatch);
                }
            }
            Kind::Deferred { hasher, signing } => {
                let mut cr = signing.canonical_prefix.clone();
                cr.extend_from_slice(&super::canonical::hex32(&hasher.finalize().into()));
                let ok = match &signing.v4a {
                    Some((pk, der)) => {
                        let sts = string_to_sign_v4a(&signing.amz_date, &signing.scope, &cr);
                        pk.verify(sts.as_bytes(), der)
                    }
                    None => {
                        let sts = string_to_sign(&signing.amz_date, &signing.scope, &cr);
                        let sig = hmac_sha256(&signing.key, sts.as_bytes());
                        bool::from(sig.ct_eq(&signing.seed_signature))
                    }
                };
                if !ok {
                    return Err(AuthError::SignatureDoesNotMatch);
                }
            }
            Kind::Chunked(mut d) => {
                let trailers = d.finish()?;
                for c in std::mem::take(&mut self.trailer_checksums) {
                    let alg = c.algorithm();
                    let value = trailers
                        .iter()
                        .find(|(n, _)| n == alg.header_name())
                        .map(|(_, v)| v.as_str())
                        .ok_or(AuthError::MalformedChunkedBody("announced trailer missing"))?;
                    let expected = decode_checksum(alg, value).ok_or(AuthError::InvalidChecksum)?;
                    check_digest(alg, c, &expected)?;
                }
                if matches!(self.expected_len, Some(e) if self.len != e) {
                    return Err(AuthError::IncompleteBody);
                }
            }
        }
        if let Some((c, expected)) = self.header_checksum.take() {
            check_digest(c.algorithm(), c, &expected)?;
        }
        Ok(())
    }

    /// Decoded bytes seen so far.
    pub fn decoded_len(&self) -> u64 {
        self.len
    }

    /// True when the body is `aws-chunked` (the output is the decoded data, not the input).
    pub fn is_chunked(&self) -> bool {
        matches!(self.kind, Kind::Chunked(_))
    }

    /// The decoded length announced by `x-amz-decoded-content-length` (chunked modes only).
    pub fn expected_decoded_len(&self) -> Option<u64> {
        self.expected_len
    }
}

fn check_digest(alg: ChecksumAlgorithm, c: Checksum, expected: &[u8]) -> Result<(), AuthError> {
    if bool::from(c.finish().as_slice().ct_eq(expected)) {
        Ok(())
    } else {
        Err(AuthError::BadDigest(alg))
    }
}
