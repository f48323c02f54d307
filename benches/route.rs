//! The S3 router on the load harness's request: a presigned GET of an object, path style.
//!
//! `cargo bench --bench route -- --warm-up-time 1 --measurement-time 3`
// criterion's macros define public functions without documentation.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use iamgate::route::s3::S3Model;

const QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIALOADEXAMPLE00001%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261128T052000Z&X-Amz-Expires=21600&X-Amz-SignedHeaders=host&X-Amz-Signature=6c2bbd4fd0e4d94a9b6e3a0a1f5ce6f1b2c3d4e5f60718293a4b5c6d7e8f9012";

fn route(c: &mut Criterion) {
    let model = S3Model::new("s3.localhost");
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
    headers.insert("user-agent", HeaderValue::from_static("oha/1.4.5"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    c.bench_function("s3 route: presigned GET object", |b| {
        b.iter(|| {
            model
                .route(
                    black_box(&Method::GET),
                    None,
                    black_box("/bench/object.bin"),
                    Some(black_box(QUERY)),
                    black_box(&headers),
                )
                .map(|r| r.checks.len())
        })
    });
}

criterion_group!(benches, route);
criterion_main!(benches);
