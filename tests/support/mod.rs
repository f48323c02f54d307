//! What the integration tests share, in one place: scratch folders and the demo store
//! ([`scratch`]), the demo users' keys ([`keys`]), a gateway configuration builder ([`config`]),
//! the official signer and a raw-path signer ([`sign`]), upstreams that record what reaches them
//! ([`upstream`]), an HTTP client ([`client`]) and a raw-TCP one ([`raw`]), the decision log and
//! metrics as a test reads them ([`observe`]), the hardening tests' own store ([`hardened`]),
//! reading XML answers ([`xml`]), and waiting for a condition ([`within`]).
//!
//! The SigV4 test suite's loader (`tests/sigv4_common`) stays apart: it depends on the verifier's
//! API alone, so it moves with the verifier's tests.
//!
//! Each test file is a crate of its own that compiles this module whole (`mod support;`), so what
//! one file does not use is not dead code.
#![allow(dead_code)]

pub mod client;
pub mod config;
pub mod hardened;
pub mod keys;
pub mod observe;
pub mod raw;
pub mod scratch;
pub mod sign;
pub mod upstream;
pub mod xml;

// What most files use, at the top (allowed: a file that uses none of it would be warned).
#[allow(unused_imports)]
pub use client::{send, Answer, Request};
#[allow(unused_imports)]
pub use config::{GatewayConfig, Route};
#[allow(unused_imports)]
pub use scratch::Scratch;

use std::time::{Duration, Instant};

/// Polls `done` every 20 ms for up to `limit`; whether it came true.
pub fn within(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}
