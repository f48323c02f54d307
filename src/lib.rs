//! iamgate: a reverse proxy that puts AWS-IAM-style access control in front of HTTP services.
//!
//! The crate is laid out as the request pipeline: [`sigv4`] authenticates, [`route`] maps a request
//! to the actions and resources to authorise, [`policy`] evaluates, [`proxy`] forwards or
//! refuses, [`audit`] writes the decision log and [`metrics`] counts;
//! [`cli`] exposes the simulator that shares the gateway's evaluator.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analyzer;
pub mod audit;
pub mod caller;
pub mod cli;
pub mod config;
pub mod context;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod route;
pub mod sigv4;
pub mod store;
pub mod sts;
pub mod upstream;
