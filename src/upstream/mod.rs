//! Upstream services the gateway can serve in-process, after it has authenticated and authorised a
//! request.
//!
//! [`local`] is the built-in, folder-backed S3 subset that the demo puts behind the gateway.

pub mod local;
