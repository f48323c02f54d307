//! iamgate: a reverse proxy that puts AWS-IAM-style access control in front of HTTP services.
//!
//! The crate is laid out as the request pipeline: [`sigv4`] authenticates, [`policy`] evaluates,
//! [`cli`] exposes the simulator that shares the gateway's evaluator, and [`upstream`] holds the
//! in-process upstreams (the built-in local object store).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod policy;
pub mod sigv4;
pub mod upstream;
