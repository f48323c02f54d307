//! SigV4 benchmarks: head verification with a warm key cache (against the `aws-sigv4` crate
//! signing the same request), and body verification throughput.
//!
//! `cargo bench -p iamgate-sigv4 --bench sigv4 -- --warm-up-time 1 --measurement-time 3`
// criterion's macros define public functions without documentation.
#![allow(missing_docs)]

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use iamgate_sigv4::{
    Authenticated, BodyVerifier, Config, Credential, CredentialStore, FixedClock, KeyStatus,
    Outcome, RequestHead, SecretKey, Verifier,
};
use sha2::Digest;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const T0: i64 = 1_369_353_600;

struct Store(HashMap<String, Credential<u32>>);

impl CredentialStore for Store {
    type Principal = u32;
    fn lookup(&self, akid: &str) -> Option<Credential<u32>> {
        self.0.get(akid).cloned()
    }
}

fn verifier() -> Verifier<Store, FixedClock> {
    let mut m = HashMap::new();
    m.insert(
        AKID.to_owned(),
        Credential {
            secret: SecretKey::new(SECRET),
            status: KeyStatus::Active,
            principal: 7,
        },
    );
    Verifier::with_clock(Config::new("us-east-1"), Store(m), FixedClock(T0))
}

const URI: &str = "http://examplebucket.s3.amazonaws.com/reports/2026/q1.csv?versionId=3";
const HEADERS: [(&str, &str); 3] = [
    ("host", "examplebucket.s3.amazonaws.com"),
    ("range", "bytes=0-9"),
    (
        "x-amz-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
];

/// Signs the GET with the aws-sigv4 crate (a macro: the identity type lives in a crate this
/// package does not depend on directly).
macro_rules! aws_sign_get {
    ($identity:expr) => {{
        let identity = $identity;
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(identity)
            .region("us-east-1")
            .name("s3")
            .time(UNIX_EPOCH + Duration::from_secs(T0 as u64))
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let req = SignableRequest::new(
            "GET",
            URI,
            HEADERS.iter().copied(),
            SignableBody::Precomputed(HEADERS[2].1.to_owned()),
        )
        .expect("signable");
        sign(req, &params).expect("sign").into_parts()
    }};
}

fn signed_parts() -> http::request::Parts {
    let identity: aws_credential_types::Credentials =
        aws_credential_types::Credentials::new(AKID, SECRET, None, None, "b");
    let identity = identity.into();
    let (instructions, _) = aws_sign_get!(&identity);
    let mut b = http::Request::builder().method("GET").uri(URI);
    for (n, v) in HEADERS {
        b = b.header(n, v);
    }
    let mut req = b.body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    req.into_parts().0
}

fn authenticated(
    v: &Verifier<Store, FixedClock>,
    parts: &http::request::Parts,
) -> Authenticated<u32> {
    match v.verify(&RequestHead::from_parts(parts)).expect("verifies") {
        Outcome::Authenticated(a) => *a,
        Outcome::Anonymous => panic!("anonymous"),
    }
}

fn head(c: &mut Criterion) {
    let v = verifier();
    let parts = signed_parts();
    authenticated(&v, &parts); // warm the key cache
    let mut g = c.benchmark_group("sigv4_head");
    g.bench_function("iamgate_verify_header_signed_get", |b| {
        b.iter(|| {
            let head = RequestHead::from_parts(black_box(&parts));
            black_box(v.verify(&head).expect("verifies"))
        })
    });
    let identity = aws_credential_types::Credentials::new(AKID, SECRET, None, None, "b").into();
    g.bench_function("aws_sigv4_sign_same_get", |b| {
        b.iter(|| black_box(aws_sign_get!(black_box(&identity))))
    });
    g.finish();
}

fn put_parts(mode: &str, decoded_len: Option<usize>) -> http::request::Parts {
    let identity = aws_credential_types::Credentials::new(AKID, SECRET, None, None, "b").into();
    let len = decoded_len.map(|l| l.to_string());
    let mut headers = vec![
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-content-sha256", mode),
    ];
    if let Some(l) = &len {
        headers.push(("x-amz-decoded-content-length", l));
        headers.push(("content-encoding", "aws-chunked"));
    }
    let settings = SigningSettings::default();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(T0 as u64))
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let uri = "http://examplebucket.s3.amazonaws.com/big";
    let req = SignableRequest::new(
        "PUT",
        uri,
        headers.iter().copied(),
        SignableBody::Precomputed(mode.to_owned()),
    )
    .expect("signable");
    let (instructions, _) = sign(req, &params).expect("sign").into_parts();
    let mut b = http::Request::builder().method("PUT").uri(uri);
    for (n, v) in &headers {
        b = b.header(*n, *v);
    }
    let mut req = b.body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    req.into_parts().0
}

fn chunk_signed_body(seed: &str, data: &[u8], chunk: usize) -> Vec<u8> {
    let identity = aws_credential_types::Credentials::new(AKID, SECRET, None, None, "b").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(UNIX_EPOCH + Duration::from_secs(T0 as u64))
        .settings(())
        .build()
        .expect("params");
    let mut prev = seed.to_owned();
    let mut out = Vec::new();
    let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
    pieces.push(b"");
    for c in pieces {
        let (_, sig) = aws_sigv4::sign::v4::sign_chunk(&Bytes::copy_from_slice(c), &prev, &params)
            .expect("chunk")
            .into_parts();
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
        prev = sig;
    }
    out
}

fn run_body(a: &Authenticated<u32>, frames: &[Bytes]) -> usize {
    let mut bv = BodyVerifier::new(a, 16 << 20).expect("verifier");
    let mut out = Vec::with_capacity(4);
    let mut n = 0;
    for f in frames {
        bv.push(f.clone(), &mut out).expect("push");
        n += out.drain(..).map(|b| b.len()).sum::<usize>();
    }
    bv.finish(&mut out).expect("finish");
    n + out.drain(..).map(|b| b.len()).sum::<usize>()
}

fn body(c: &mut Criterion) {
    let v = verifier();
    let size = 8 << 20;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("sigv4_body");
    g.throughput(Throughput::Bytes(size as u64));

    g.bench_function("baseline_raw_sha2_sha256_8MiB", |b| {
        b.iter(|| black_box(sha2::Sha256::digest(black_box(&data))))
    });

    let hash = hex::encode(sha2::Sha256::digest(&data));
    let a = authenticated(&v, &put_parts(&hash, None));
    let frames: Vec<Bytes> = data.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
    g.bench_function("signed_payload_sha256_8MiB", |b| {
        b.iter(|| black_box(run_body(&a, &frames)))
    });

    let parts = put_parts("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", Some(size));
    let auth = parts.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let seed = auth.rsplit("Signature=").next().expect("sig").to_owned();
    let a = authenticated(&v, &parts);
    let body = chunk_signed_body(&seed, &data, 64 << 10);
    let frames: Vec<Bytes> = body.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
    g.bench_function("chunk_signed_64KiB_chunks_8MiB", |b| {
        b.iter(|| black_box(run_body(&a, &frames)))
    });

    let a = authenticated(&v, &put_parts("UNSIGNED-PAYLOAD", None));
    let frames: Vec<Bytes> = data.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
    g.bench_function("unsigned_payload_8MiB", |b| {
        b.iter(|| black_box(run_body(&a, &frames)))
    });
    g.finish();
}

/// Thread CPU time from `/proc/thread-self/schedstat` (nanoseconds on CPU): the benchmark
/// machine is shared, and wall time then measures the neighbours as much as the code.
struct ThreadCpuTime;

static WALL: criterion::measurement::WallTime = criterion::measurement::WallTime;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

impl criterion::measurement::Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        criterion::measurement::Measurement::formatter(&WALL)
    }
}

fn head_cpu(c: &mut Criterion<ThreadCpuTime>) {
    let v = verifier();
    let parts = signed_parts();
    authenticated(&v, &parts);
    let mut g = c.benchmark_group("sigv4_head_thread_cpu_time");
    // schedstat advances at scheduler ticks: every sample must span many ticks.
    g.sampling_mode(criterion::SamplingMode::Flat);
    g.sample_size(20);
    g.bench_function("iamgate_verify_header_signed_get", |b| {
        b.iter(|| {
            let head = RequestHead::from_parts(black_box(&parts));
            black_box(v.verify(&head).expect("verifies"))
        })
    });
    let identity: aws_credential_types::Credentials =
        aws_credential_types::Credentials::new(AKID, SECRET, None, None, "b");
    let identity = identity.into();
    g.bench_function("aws_sigv4_sign_same_get", |b| {
        b.iter(|| black_box(aws_sign_get!(black_box(&identity))))
    });
    g.finish();
}

fn body_cpu(c: &mut Criterion<ThreadCpuTime>) {
    let size = 8 << 20;
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let v = verifier();
    let mut g = c.benchmark_group("sigv4_body_thread_cpu_time");
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function("baseline_raw_sha2_sha256_8MiB", |b| {
        b.iter(|| black_box(sha2::Sha256::digest(black_box(&data))))
    });
    let hash = hex::encode(sha2::Sha256::digest(&data));
    let a = authenticated(&v, &put_parts(&hash, None));
    let frames: Vec<Bytes> = data.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
    g.bench_function("signed_payload_sha256_8MiB", |b| {
        b.iter(|| black_box(run_body(&a, &frames)))
    });
    let parts = put_parts("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", Some(size));
    let auth = parts.headers["authorization"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let seed = auth.rsplit("Signature=").next().expect("sig").to_owned();
    let a = authenticated(&v, &parts);
    let body = chunk_signed_body(&seed, &data, 64 << 10);
    let frames: Vec<Bytes> = body.chunks(64 << 10).map(Bytes::copy_from_slice).collect();
    g.bench_function("chunk_signed_64KiB_chunks_8MiB", |b| {
        b.iter(|| black_box(run_body(&a, &frames)))
    });
    g.finish();
}

criterion_group!(benches, head, body);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = head_cpu, body_cpu
}
criterion_main!(benches, cpu_benches);
