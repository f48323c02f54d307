//! iamgate: a reverse proxy that puts AWS-IAM-style access control in front of HTTP services.
//!
//! The crate is laid out as the request pipeline: [`sigv4`] authenticates, [`route`] maps a request
//! to the actions and resources to authorise, [`policy`] evaluates, [`proxy`] forwards or
//! refuses, [`audit`] writes the decision log and [`metrics`] counts;
//! [`cli`] exposes the simulator that shares the gateway's evaluator.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The leaf crates, under the names the gateway's modules use for them.
pub use iamgate_policy as policy;
pub use iamgate_policy::analyzer;
pub use iamgate_sigv4 as sigv4;

pub mod audit;
pub mod caller;
pub mod cli;
pub mod config;
pub mod context;
pub mod ids;
pub mod metrics;
pub mod proxy;
pub mod query;
mod redact;
pub mod route;
pub mod store;
pub mod sts;
pub mod upstream;
pub mod xml;
