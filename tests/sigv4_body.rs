//! Body verification: every payload mode, the S3 streaming example, checksums, hold-back,
//! the `http_body` wrapper and split invariance.

mod sigv4_common;

use std::fs;

use bytes::Bytes;
use iamgate::sigv4::chunked::{decode_unsigned, ChunkedDecoder};
use iamgate::sigv4::{
    AuthError, Authenticated, BodyVerifier, ChecksumAlgorithm, Outcome, PayloadMode, RequestHead,
    VerifiedBody,
};
use proptest::prelude::*;
use sigv4_common::*;

fn authenticate(
    v: &iamgate::sigv4::Verifier<Store, iamgate::sigv4::FixedClock>,
    parts: &http::request::Parts,
) -> Result<Authenticated<String>, AuthError> {
    match v.verify(&RequestHead::from_parts(parts))? {
        Outcome::Authenticated(a) => Ok(*a),
        Outcome::Anonymous => panic!("anonymous"),
    }
}

/// Runs the body through a verifier in pieces of `piece` bytes; returns (released, result).
fn run(bv: &mut BodyVerifier, body: &[u8], piece: usize) -> (Vec<u8>, Result<(), AuthError>) {
    let mut out = Vec::new();
    let mut released = Vec::new();
    for p in body.chunks(piece.max(1)) {
        let r = bv.push(Bytes::copy_from_slice(p), &mut out);
        released.extend(out.drain(..).flat_map(|b| b.to_vec()));
        if let Err(e) = r {
            return (released, Err(e));
        }
    }
    let r = bv.finish(&mut out);
    released.extend(out.drain(..).flat_map(|b| b.to_vec()));
    (released, r)
}

struct Streaming {
    head: Vec<u8>,
    body: Vec<u8>,
    expected: serde_json::Value,
}

fn streaming() -> Streaming {
    let d = suite_path("s3-streaming");
    Streaming {
        head: fs::read(d.join("request-head.txt")).unwrap(),
        body: fs::read(d.join("request-body.bin")).unwrap(),
        expected: serde_json::from_slice(&fs::read(d.join("expected.json")).unwrap()).unwrap(),
    }
}

fn streaming_auth(s: &Streaming) -> Authenticated<String> {
    let req = RawRequest::parse(&s.head);
    let v = s3_verifier(T0);
    let (r, e) = v.verify_explained(&req.head());
    assert_eq!(
        e.canonical_request.as_deref(),
        s.expected["canonical_request"].as_str()
    );
    assert_eq!(
        e.string_to_sign.as_deref(),
        s.expected["string_to_sign"].as_str()
    );
    match r.unwrap() {
        Outcome::Authenticated(a) => *a,
        Outcome::Anonymous => panic!(),
    }
}

#[test]
fn s3_streaming_example_verifies_and_decodes() {
    let s = streaming();
    let a = streaming_auth(&s);
    assert_eq!(a.payload, PayloadMode::StreamingSigned);
    assert_eq!(a.decoded_content_length, Some(66_560));
    assert_eq!(
        hex::encode(a.seed_signature()),
        s.expected["seed_signature"].as_str().unwrap()
    );
    for piece in [1, 7, 1000, 65_536, usize::MAX] {
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let (out, r) = run(&mut bv, &s.body, piece);
        r.unwrap();
        assert_eq!(out.len(), 66_560);
        assert!(out.iter().all(|&b| b == b'a'));
    }
}

#[test]
fn s3_streaming_flipped_byte_is_refused_and_its_chunk_never_released() {
    let s = streaming();
    let a = streaming_auth(&s);
    // Chunk boundaries: [start, end) of each chunk's framing+data in the body.
    let sizes = [65_536usize, 1024, 0];
    let mut starts = Vec::new();
    let mut pos = 0;
    for sz in sizes {
        starts.push(pos);
        let hdr = s.body[pos..].iter().position(|&b| b == b'\n').unwrap() + 1;
        pos += hdr + sz + 2;
    }
    let mut tried = 0;
    for i in 0..s.body.len() {
        let chunk = starts.iter().rposition(|&st| st <= i).unwrap();
        let in_data = {
            let hdr = s.body[starts[chunk]..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap()
                + 1;
            i >= starts[chunk] + hdr && i < starts[chunk] + hdr + sizes[chunk]
        };
        // every framing byte, and every 97th data byte
        if in_data && i % 97 != 0 {
            continue;
        }
        tried += 1;
        let mut body = s.body.clone();
        body[i] ^= 1;
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let (out, r) = run(&mut bv, &body, 4096);
        assert!(r.is_err(), "flip at {i} accepted");
        let before: usize = sizes[..chunk].iter().sum();
        assert!(
            out.len() <= before,
            "flip at {i} (chunk {chunk}): {} bytes released",
            out.len()
        );
        assert!(out.iter().all(|&b| b == b'a'));
    }
    assert!(tried > 900, "{tried}");
}

#[test]
fn signed_payload_hash_checked_and_last_piece_held_back() {
    let body = b"hello world, this is the body".to_vec();
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let req = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/bucket/key",
        &[("x-amz-content-sha256", &hash)],
        aws_sigv4::http_request::SignableBody::Precomputed(hash.clone()),
        None,
        None,
        T0,
    );
    let (parts, ()) = req.into_parts();
    let a = authenticate(&s3_verifier(T0), &parts).unwrap();
    assert!(matches!(a.payload, PayloadMode::Sha256(_)));
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, &body, 5), (body.clone(), Ok(())));
    let mut bad = body.clone();
    *bad.last_mut().unwrap() ^= 1;
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    let (out, r) = run(&mut bv, &bad, 5);
    let e = r.unwrap_err();
    assert_eq!((e.status(), e.code()), (400, "XAmzContentSHA256Mismatch"));
    assert!(out.len() < bad.len());
    // a single-frame body is never released at all
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    let (out, r) = run(&mut bv, &bad, usize::MAX);
    assert!(r.is_err() && out.is_empty());
}

#[test]
fn unsigned_payload_passes_through() {
    let req = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/bucket/key",
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        aws_sigv4::http_request::SignableBody::UnsignedPayload,
        None,
        None,
        T0,
    );
    let (parts, ()) = req.into_parts();
    let a = authenticate(&s3_verifier(T0), &parts).unwrap();
    assert_eq!(a.payload, PayloadMode::Unsigned);
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    let mut out = Vec::new();
    bv.push(Bytes::from_static(b"abc"), &mut out).unwrap();
    assert_eq!(out, vec![Bytes::from_static(b"abc")]);
}

fn checksum_b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut c = iamgate::sigv4::checksum::Checksum::new(alg);
    c.update(data);
    c.finish_base64()
}

const ALGS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

fn unsigned_trailer_request(alg: ChecksumAlgorithm, decoded_len: usize) -> Authenticated<String> {
    let len = decoded_len.to_string();
    let req = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/bucket/key",
        &[
            ("content-encoding", "aws-chunked"),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", &len),
            ("x-amz-trailer", alg.header_name()),
        ],
        aws_sigv4::http_request::SignableBody::StreamingUnsignedPayloadTrailer,
        None,
        None,
        T0,
    );
    let (parts, ()) = req.into_parts();
    authenticate(&s3_verifier(T0), &parts).unwrap()
}

fn unsigned_chunked(data: &[u8], chunk: usize, trailer: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for c in data.chunks(chunk) {
        b.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        b.extend_from_slice(c);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("0\r\n{trailer}\r\n\r\n").as_bytes());
    b
}

#[test]
fn unsigned_trailer_checksums_every_algorithm() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for alg in ALGS {
        let a = unsigned_trailer_request(alg, data.len());
        assert_eq!(a.payload, PayloadMode::StreamingUnsignedTrailer);
        let good = unsigned_chunked(
            &data,
            65_536,
            &format!("{}:{}", alg.header_name(), checksum_b64(alg, &data)),
        );
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let (out, r) = run(&mut bv, &good, 3000);
        r.unwrap();
        assert_eq!(out, data);
        let mut other = data.clone();
        other[5] ^= 1;
        let bad = unsigned_chunked(
            &other,
            65_536,
            &format!("{}:{}", alg.header_name(), checksum_b64(alg, &data)),
        );
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let (out, r) = run(&mut bv, &bad, 3000);
        let e = r.unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "BadDigest"), "{alg:?}");
        assert_eq!(
            e.message(),
            format!(
                "The {} you specified did not match the calculated checksum.",
                alg.upper_name()
            )
        );
        assert!(out.len() < data.len());
        // missing trailer
        let none = unsigned_chunked(&data, 65_536, "");
        let none = String::from_utf8_lossy(&none)
            .replace("0\r\n\r\n\r\n", "0\r\n\r\n")
            .into_bytes();
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        assert!(run(&mut bv, &none, 3000).1.is_err());
    }
}

#[test]
fn decoded_length_is_checked() {
    let data = b"0123456789";
    let alg = ChecksumAlgorithm::Crc32;
    let body = unsigned_chunked(
        data,
        4,
        &format!("{}:{}", alg.header_name(), checksum_b64(alg, data)),
    );
    for declared in [9, 11] {
        let a = unsigned_trailer_request(alg, declared);
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let e = run(&mut bv, &body, 3).1.unwrap_err();
        assert_eq!((e.status(), e.code()), (400, "IncompleteBody"));
    }
}

#[test]
fn checksum_header_on_a_plain_body() {
    let data = b"hello\n";
    let req = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/bucket/key",
        &[
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-checksum-crc32", "NjowIA=="),
        ],
        aws_sigv4::http_request::SignableBody::UnsignedPayload,
        None,
        None,
        T0,
    );
    let (parts, ()) = req.into_parts();
    let a = authenticate(&s3_verifier(T0), &parts).unwrap();
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, data, 2), (data.to_vec(), Ok(())));
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    let e = run(&mut bv, b"hellO\n", 2).1.unwrap_err();
    assert_eq!(e, AuthError::BadDigest(ChecksumAlgorithm::Crc32));
}

/// Signs an aws-chunked body with chunk signatures (and optionally a signed trailer) using the
/// aws-sigv4 crate's chunk signer; the trailer signature follows the S3 documentation.
fn signed_chunked(
    seed: &str,
    data: &[u8],
    chunk: usize,
    trailer: Option<(&str, &str)>,
    time: i64,
) -> Vec<u8> {
    let identity = aws_credential_types::Credentials::new(AKID, SECRET, None, None, "t").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(time as u64))
        .settings(())
        .build()
        .unwrap();
    let mut prev = seed.to_owned();
    let mut b = Vec::new();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(b"");
    for c in pieces {
        let (_, sig) = aws_sigv4::sign::v4::sign_chunk(&Bytes::copy_from_slice(c), &prev, &params)
            .unwrap()
            .into_parts();
        b.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        b.extend_from_slice(c);
        if !c.is_empty() {
            b.extend_from_slice(b"\r\n");
        }
        prev = sig;
    }
    if let Some((n, v)) = trailer {
        use hmac::Mac;
        let key = iamgate::sigv4::key::derive_signing_key(
            &iamgate::sigv4::SecretKey::new(SECRET),
            "20130524",
            "us-east-1",
            "s3",
        );
        let canon = format!("{n}:{v}\n");
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{prev}\n{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(canon.as_bytes()))
        );
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
        m.update(sts.as_bytes());
        let tsig = hex::encode(m.finalize().into_bytes());
        b.extend_from_slice(format!("{n}:{v}\r\nx-amz-trailer-signature:{tsig}\r\n").as_bytes());
    }
    b.extend_from_slice(b"\r\n");
    b
}

fn signed_streaming_request(trailer: bool, len: usize) -> (Authenticated<String>, String) {
    let len = len.to_string();
    let mut headers = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", len.as_str()),
    ];
    let (mode, body) = if trailer {
        headers.push(("x-amz-trailer", "x-amz-checksum-crc32c"));
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            aws_sigv4::http_request::SignableBody::StreamingSignedPayloadTrailer,
        )
    } else {
        (
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            aws_sigv4::http_request::SignableBody::Precomputed(
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into(),
            ),
        )
    };
    headers.push(("x-amz-content-sha256", mode));
    let req = aws_sign(
        "s3",
        "PUT",
        "http://s3.amazonaws.com/bucket/key",
        &headers,
        body,
        None,
        None,
        T0,
    );
    let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
    let seed = auth.rsplit("Signature=").next().unwrap().to_owned();
    let (parts, ()) = req.into_parts();
    (authenticate(&s3_verifier(T0), &parts).unwrap(), seed)
}

#[test]
fn chunk_signed_bodies_signed_by_the_aws_crate() {
    let data: Vec<u8> = (0..70_000u32).map(|i| (i % 256) as u8).collect();
    let (a, seed) = signed_streaming_request(false, data.len());
    let body = signed_chunked(&seed, &data, 8192, None, T0);
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, &body, 1000), (data.clone(), Ok(())));

    let (a, seed) = signed_streaming_request(true, data.len());
    assert_eq!(a.payload, PayloadMode::StreamingSignedTrailer);
    let crc = checksum_b64(ChecksumAlgorithm::Crc32c, &data);
    let body = signed_chunked(
        &seed,
        &data,
        8192,
        Some(("x-amz-checksum-crc32c", &crc)),
        T0,
    );
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, &body, 1000), (data.clone(), Ok(())));
    // a changed trailer value breaks the trailer signature
    let at = body
        .windows(crc.len())
        .rposition(|w| w == crc.as_bytes())
        .unwrap();
    let mut tampered = body.clone();
    tampered[at..at + crc.len()].copy_from_slice(b"AAAAAA==");
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    let (out, r) = run(&mut bv, &tampered, 1000);
    assert_eq!(r.unwrap_err(), AuthError::SignatureDoesNotMatch);
    assert!(out.len() < data.len());
}

#[test]
fn deferred_signature_for_services_without_content_sha256() {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let req = aws_sign(
        "service",
        "POST",
        "http://example.amazonaws.com/",
        &[("content-type", "application/x-www-form-urlencoded")],
        aws_sigv4::http_request::SignableBody::Bytes(body),
        None,
        None,
        T0,
    );
    let (mut parts, ()) = req.into_parts();
    parts.headers.remove("x-amz-content-sha256");
    let mut head = RequestHead::from_parts(&parts);
    head.body_empty = false;
    let a = match s3_verifier(T0).verify(&head).unwrap() {
        Outcome::Authenticated(a) => a,
        Outcome::Anonymous => panic!(),
    };
    assert_eq!(a.payload, PayloadMode::Deferred);
    assert!(!a.signature_verified);
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, body, 7), (body.to_vec(), Ok(())));
    let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
    let (out, r) = run(&mut bv, b"Action=GetCallerIdentity&Version=2011-06-16", 7);
    assert_eq!(r.unwrap_err(), AuthError::SignatureDoesNotMatch);
    assert!(out.len() < body.len());
}

#[tokio::test]
async fn verified_body_wraps_http_body() {
    use http_body_util::BodyExt;
    let s = streaming();
    let a = streaming_auth(&s);
    let body = VerifiedBody::new(
        frames_body(&s.body, 5000),
        BodyVerifier::new(&a, 1 << 20).unwrap(),
    );
    assert_eq!(http_body::Body::size_hint(&body).exact(), Some(66_560));
    let collected = body.collect().await.unwrap().to_bytes();
    assert_eq!(collected.len(), 66_560);

    let mut bad = s.body.clone();
    bad[70_000 - 4000] ^= 1; // in the second chunk
    let mut body = VerifiedBody::new(
        frames_body(&bad, 5000),
        BodyVerifier::new(&a, 1 << 20).unwrap(),
    );
    let mut got = 0;
    let err = loop {
        match body.frame().await {
            Some(Ok(f)) => got += f.into_data().unwrap().len(),
            Some(Err(e)) => break e,
            None => panic!("ended without error"),
        }
    };
    assert_eq!(err, AuthError::SignatureDoesNotMatch);
    assert!(got <= 65_536);
}

/// A body yielding the given frames (no extra dependency).
struct FramesBody(std::collections::VecDeque<Bytes>);

fn frames_body(data: &[u8], size: usize) -> FramesBody {
    FramesBody(data.chunks(size).map(Bytes::copy_from_slice).collect())
}

impl http_body::Body for FramesBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunk_decoder_split_invariant(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        let data: Vec<u8> = (0..1500u32).map(|i| (i * 31 % 256) as u8).collect();
        let alg = ChecksumAlgorithm::Crc64Nvme;
        let body = unsigned_chunked(&data, 400, &format!("{}:{}", alg.header_name(), checksum_b64(alg, &data)));
        let whole = decode_unsigned(&body).unwrap();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut d = ChunkedDecoder::new(None, true, u64::MAX);
        let mut out = Vec::new();
        let mut last = 0;
        for c in cuts.into_iter().chain([body.len()]) {
            d.push(Bytes::copy_from_slice(&body[last..c]), &mut out).unwrap();
            last = c;
        }
        let trailers = d.finish().unwrap();
        prop_assert_eq!((out.concat(), trailers), whole);
    }

    #[test]
    fn body_verifier_split_invariant(cuts in proptest::collection::vec(0usize..70_000, 0..8)) {
        let s = streaming();
        let a = streaming_auth(&s);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (s.body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let mut out = Vec::new();
        let mut last = 0;
        for c in cuts.into_iter().chain([s.body.len()]) {
            bv.push(Bytes::copy_from_slice(&s.body[last..c]), &mut out).unwrap();
            last = c;
        }
        bv.finish(&mut out).unwrap();
        let got: Vec<u8> = out.concat();
        prop_assert_eq!(got, vec![b'a'; 66_560]);
    }

    #[test]
    fn every_mode_split_invariant(cuts in proptest::collection::vec(0usize..5000, 0..10), alg in 0usize..5) {
        let alg = ALGS[alg];
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 13 % 256) as u8).collect();
        let a = unsigned_trailer_request(alg, data.len());
        let body = unsigned_chunked(&data, 700, &format!("{}:{}", alg.header_name(), checksum_b64(alg, &data)));
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut bv = BodyVerifier::new(&a, 1 << 20).unwrap();
        let mut out = Vec::new();
        let mut last = 0;
        for c in cuts.into_iter().chain([body.len()]) {
            bv.push(Bytes::copy_from_slice(&body[last..c]), &mut out).unwrap();
            last = c;
        }
        bv.finish(&mut out).unwrap();
        prop_assert_eq!(out.concat(), data);
    }

    #[test]
    fn chunk_decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_unsigned(&input);
    }
}

#[test]
fn anonymous_bodies_are_checked_too() {
    let data = b"public upload";
    let alg = ChecksumAlgorithm::Sha1;
    let body = unsigned_chunked(
        data,
        5,
        &format!("{}:{}", alg.header_name(), checksum_b64(alg, data)),
    );
    let len = data.len().to_string();
    let headers = vec![
        ("host", &b"s3.amazonaws.com"[..]),
        ("content-encoding", b"aws-chunked"),
        (
            "x-amz-content-sha256",
            b"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        ),
        ("x-amz-trailer", b"x-amz-checksum-sha1"),
        ("x-amz-decoded-content-length", len.as_bytes()),
    ];
    let head = RequestHead::new("PUT", b"/public/x", b"", headers.clone());
    let mut bv = BodyVerifier::for_anonymous(&head, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, &body, 4), (data.to_vec(), Ok(())));
    let mut bad = body.clone();
    bad[4] ^= 1; // in the data
    let mut bv = BodyVerifier::for_anonymous(&head, 1 << 20).unwrap();
    assert_eq!(run(&mut bv, &bad, 4).1, Err(AuthError::BadDigest(alg)));
    let mut signed = headers;
    signed[2] = (
        "x-amz-content-sha256",
        b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    );
    let head = RequestHead::new("PUT", b"/public/x", b"", signed);
    assert!(BodyVerifier::for_anonymous(&head, 1 << 20).is_err());
}
