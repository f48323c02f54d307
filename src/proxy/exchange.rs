//! The per-request context. One [`Exchange`] goes with a request from its head to its answer;
//! each phase adds what it learnt (the target, the caller, the route, the decisions, the
//! refusal), and the request is recorded once, from what the exchange holds: by
//! [`Exchange::finish`] when the answer is ready, or, for a request abandoned on the way (the
//! client left, so its future was dropped), by `Drop` — metrics and decision log alike.

use std::sync::Arc;
use std::time::Instant;

use http::request;
use serde_json::{Map, Value};

use super::listener::Connection;
use super::respond::{Dialect, Reject};
use super::service::Target;
use super::Gateway;
use crate::audit::{Marks, ResourceRef};
use crate::policy::{Decision, Outcome, Principal};
use crate::route::Check;
use crate::store::Snapshot;

/// The status recorded for a request whose client left before its answer (nginx's 499).
pub(crate) const CLIENT_GONE: u16 = 499;

/// What routing said a request is, for its record.
#[derive(Debug, Default)]
pub(crate) struct RouteSeen {
    /// The operation or action.
    pub operation: String,
    /// The bucket (S3).
    pub bucket: Option<String>,
    /// The object key (S3).
    pub key: Option<String>,
    /// The condition keys the request provided.
    pub context: Vec<(String, Vec<String>)>,
    /// The checks, when the request was refused before they were decided.
    pub checks: Vec<Check>,
}

/// What a service the gateway answers itself says of a call, for its record.
#[derive(Debug, Default)]
pub(crate) struct ServedRecord {
    /// `requestParameters`.
    pub request_parameters: Map<String, Value>,
    /// `responseElements`.
    pub response_elements: Option<Map<String, Value>>,
    /// `resources`.
    pub resources: Vec<ResourceRef>,
    /// Whether the call only reads.
    pub read_only: bool,
}

/// One request, from its head to its record.
pub(crate) struct Exchange<'g> {
    pub gateway: &'g Gateway,
    /// The id the client, the upstream and the log all see.
    pub request_id: String,
    /// When each phase ended.
    pub marks: Marks,
    /// The policy store as it was when the request arrived; every decision reads this one.
    pub snapshot: Arc<Snapshot>,
    /// The store's generation then.
    pub generation: u64,
    /// The client connection.
    pub conn: Connection,
    /// The head as received: method and target always, headers when the decision log is on
    /// (the request itself moves on to the upstream).
    pub head: request::Parts,
    /// Who answers: an upstream or a service of the gateway's.
    pub target: Target<'g>,
    /// The protocol errors are answered in.
    pub dialect: Dialect,
    /// The caller, once authenticated (or known to be anonymous).
    pub principal: Option<Principal>,
    /// What routing made of the request.
    pub route: Option<RouteSeen>,
    /// Every check and its decision (kept only when the decision log is on: metrics need
    /// only the outcome).
    pub decisions: Vec<(Check, Decision)>,
    /// The decision, when the checks were evaluated.
    pub outcome: Option<Outcome>,
    /// The error the gateway answered with, if it did.
    pub refused: Option<Reject>,
    /// A gateway-served call's own record parts.
    pub served: Option<ServedRecord>,
    recorded: bool,
}

impl<'g> Exchange<'g> {
    /// A request that just arrived, aimed at the default upstream until selection says more.
    pub fn begin(
        gateway: &'g Gateway,
        conn: Connection,
        started: Instant,
        head: request::Parts,
    ) -> Exchange<'g> {
        let target = Target::Upstream(&gateway.upstreams[0]);
        Exchange {
            gateway,
            request_id: gateway.ids.next(),
            marks: Marks::new(started),
            snapshot: gateway.store.snapshot(),
            generation: gateway.store.generation(),
            conn,
            head,
            dialect: target.dialect(),
            target,
            principal: None,
            route: None,
            decisions: Vec::new(),
            outcome: None,
            refused: None,
            served: None,
            recorded: false,
        }
    }

    /// Whether the request is a `HEAD` (its errors then have no body).
    pub fn head_only(&self) -> bool {
        self.head.method == http::Method::HEAD
    }

    /// Whether the decision log wants the details (headers, checks, route context).
    pub fn logging(&self) -> bool {
        self.gateway.decisions.enabled()
    }

    /// Records the request with the status it was answered with: metrics always, the
    /// decision log when it is on. Once; later calls do nothing.
    pub fn finish(&mut self, status: u16) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        self.gateway.record(self, status);
    }
}

impl Drop for Exchange<'_> {
    /// A request dropped before its answer (the client left): recorded all the same.
    fn drop(&mut self) {
        self.finish(CLIENT_GONE);
    }
}
