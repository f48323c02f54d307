// The body of the `chunk_decoder` fuzz target, shared by `fuzz_targets/chunk_decoder.rs` and the
// main crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments and no
// crate-level items here). It must never panic, whatever the bytes.
//
// Input: a raw `aws-chunked` body.

use bytes::Bytes;
use iamgate::sigv4::canonical::unhex32;
use iamgate::sigv4::chunked::{decode_unsigned, ChunkSigner, ChunkedDecoder, Trailers};
use iamgate::sigv4::key::derive_signing_key;
use iamgate::sigv4::{AuthError, SecretKey};

/// The signer of the S3 streaming example (`tests/data/conformance/sigv4/s3-streaming`): its
/// body verifies under it, and so do the seeds `make-seeds.py` signs with the same material.
pub fn example_signer() -> ChunkSigner {
    let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    ChunkSigner {
        key: derive_signing_key(&secret, "20130524", "us-east-1", "s3"),
        amz_date: "20130524T000000Z".into(),
        scope: "20130524/us-east-1/s3/aws4_request".into(),
        prev_signature: unhex32(
            b"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        )
        .unwrap_or_default(),
    }
}

/// Largest chunk the fuzzed decoders accept (the example's first chunk is 64 KiB).
const MAX_CHUNK: u64 = 1 << 20;

/// What a decoder made of a body: the data it released (even before an error) and how it ended.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub data: Vec<u8>,
    pub end: Result<Trailers, AuthError>,
}

/// Feeds `pieces` to a fresh decoder, stopping at the first error.
fn run<'a>(
    signer: Option<ChunkSigner>,
    trailers: bool,
    max_chunk: u64,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Decoded {
    let mut d = ChunkedDecoder::new(signer, trailers, max_chunk);
    let mut out = Vec::new();
    let mut end = None;
    for piece in pieces {
        if let Err(e) = d.push(Bytes::copy_from_slice(piece), &mut out) {
            end = Some(Err(e));
            break;
        }
    }
    let end = end.unwrap_or_else(|| d.finish());
    Decoded {
        data: out.concat(),
        end,
    }
}

/// Cut points derived from the input itself (FNV-1a of the bytes seeds a xorshift): pieces of
/// 1 to 1 + (hash % 97) bytes.
fn split_points(data: &[u8]) -> Vec<&[u8]> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let max = 1 + (h % 97) as usize;
    let mut state = h | 1;
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (1 + (state % max as u64) as usize).min(rest.len());
        let (a, b) = rest.split_at(n);
        pieces.push(a);
        rest = b;
    }
    pieces
}

/// Decodes the input whole, in pieces cut where the input says, and (when short) byte by byte,
/// signed (with and without a signed trailer) and unsigned (with and without trailers): every
/// way of cutting must release the same data and end the same way. `decode_unsigned` must agree
/// with the unsigned trailer decoder.
pub fn check_chunk_decoder(data: &[u8]) {
    let pieces = split_points(data);
    let configs: [(Option<ChunkSigner>, bool); 4] = [
        (Some(example_signer()), false),
        (Some(example_signer()), true),
        (None, true),
        (None, false),
    ];
    for (signer, trailers) in configs {
        let whole = run(signer.clone(), trailers, MAX_CHUNK, [data]);
        let split = run(signer.clone(), trailers, MAX_CHUNK, pieces.iter().copied());
        assert_eq!(
            whole,
            split,
            "signed={} trailers={trailers}: whole vs split at {:?}",
            signer.is_some(),
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>()
        );
        if data.len() <= 512 {
            let bytes = run(signer.clone(), trailers, MAX_CHUNK, data.chunks(1));
            assert_eq!(
                whole,
                bytes,
                "signed={} trailers={trailers}: whole vs byte by byte",
                signer.is_some()
            );
        }
        if signer.is_some() {
            // Released data is verified data: never more than the unsigned decoder releases.
            let unsigned = run(None, trailers, MAX_CHUNK, [data]);
            assert!(unsigned.data.starts_with(&whole.data));
        }
    }
    let reference = run(None, true, u64::MAX, [data]);
    match decode_unsigned(data) {
        Ok((out, trailers)) => {
            assert_eq!(reference.end.as_ref(), Ok(&trailers));
            assert_eq!(reference.data, out);
        }
        Err(e) => assert_eq!(reference.end, Err(e)),
    }
}
