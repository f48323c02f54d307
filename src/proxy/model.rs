//! The models of a proxied upstream: how a request to it becomes the actions and resources to
//! authorise, and what the model adds to the pipeline's phases (the body it must read, its own
//! condition keys, what it does with a response, what its log records name). The pipeline
//! calls [`Model`] and knows neither model: S3 is in [`super::s3`], route tables here.

use bytes::Bytes;
use http::{request, HeaderMap, HeaderName, Method};
use serde_json::{Map, Value};

use super::respond::{Dialect, Reject};
use super::KeyPrincipal;
use crate::audit::Redactor;
use crate::policy::{Context, Decision};
use crate::route::{Check, RouteTable};
use crate::sigv4::{Authenticated, ServiceRules};

/// What routing made of a request.
pub(crate) struct Routed {
    /// The operation or action, for metrics and the log.
    pub operation: String,
    /// Every check must be allowed for the request to go on.
    pub checks: Vec<Check>,
    /// The condition keys the request itself provides (`s3:prefix`, a route's parameters).
    pub context: Vec<(String, Vec<String>)>,
    /// The path to send upstream.
    pub forward_path: String,
    /// The body must be read and given to [`Model::inspect`] before the checks are complete.
    pub inspect_body: bool,
    /// The bucket the request addresses (S3).
    pub bucket: Option<String>,
    /// The object key the request addresses (S3).
    pub key: Option<String>,
    /// Headers the upstream receives in place of the client's (S3's `x-amz-copy-source`,
    /// rebuilt from what was authorised).
    pub replace_headers: Vec<(HeaderName, String)>,
    /// What to do with an inspected body once its checks are decided.
    pub plan: Option<Box<dyn BodyPlan>>,
}

impl Routed {
    /// A route with one check and nothing else to do.
    pub fn single(operation: String, check: Check, forward_path: String) -> Routed {
        Routed {
            operation,
            checks: vec![check],
            context: Vec::new(),
            forward_path,
            inspect_body: false,
            bucket: None,
            key: None,
            replace_headers: Vec::new(),
            plan: None,
        }
    }
}

/// What a model does with a body it read to authorise a request, once each of the body's
/// checks is decided: the request is then answered part by part rather than refused whole
/// (S3's DeleteObjects deletes the keys the caller may delete and reports the others).
pub(crate) trait BodyPlan: Send + Sync {
    /// Splits the work by the decisions: answer at once, or forward a body of the allowed
    /// parts (adjusting `headers` for it) and merge the upstream's answer.
    fn split(self: Box<Self>, decisions: &[(Check, Decision)], headers: &mut HeaderMap) -> Split;
}

/// Completes the upstream's answer with the parts refused by the gateway.
pub(crate) type Merge = Box<dyn FnOnce(&[u8]) -> Option<Bytes> + Send>;

/// The outcome of [`BodyPlan::split`].
pub(crate) enum Split {
    /// Nothing goes upstream: this body is the answer (200).
    Answer(Bytes),
    /// Forward this body; merge the upstream's successful answer with `merge`, when given.
    Forward {
        /// The body for the upstream.
        body: Bytes,
        /// Completes the upstream's answer with the parts refused here.
        merge: Option<Merge>,
    },
}

/// A proxied upstream's model.
pub(crate) trait Model: Send + Sync {
    /// The service name requests are signed for (`s3`, a table's `service`).
    fn service(&self) -> &str;

    /// The protocol its errors are answered in.
    fn dialect(&self) -> Dialect;

    /// How its requests are authenticated.
    fn signing_rules(&self) -> ServiceRules {
        ServiceRules::other(self.service())
    }

    /// Whether an unsigned request may go on to the policies (S3: public buckets), or is
    /// refused as unauthenticated.
    fn allows_anonymous(&self) -> bool {
        false
    }

    /// The actions and resources to authorise, and where to forward.
    fn route(&self, parts: &request::Parts, region: &str, account: &str) -> Result<Routed, Reject>;

    /// Reads a body [`Routed::inspect_body`] asked for: its checks, and a plan for it.
    fn inspect(&self, _routed: &mut Routed, _body: &Bytes) -> Result<(), Reject> {
        Ok(())
    }

    /// The condition keys the model derives from how the request was authenticated.
    fn signed_context(
        &self,
        _context: &mut Context,
        _auth: &Authenticated<KeyPrincipal>,
        _headers: &HeaderMap,
    ) {
    }

    /// A check to decide when the upstream answers 404: if it is refused, the client gets
    /// 403 instead, and learns nothing of what exists (S3 without `s3:ListBucket`).
    fn when_not_found(&self, _routed: &Routed, _method: &Method) -> Option<Check> {
        None
    }

    /// The log record's `requestParameters`.
    fn request_parameters(
        &self,
        route: &super::exchange::RouteSeen,
        parts: &request::Parts,
        redactor: &Redactor,
    ) -> Map<String, Value>;
}

impl Model for RouteTable {
    fn service(&self) -> &str {
        RouteTable::service(self)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Json
    }

    fn route(&self, parts: &request::Parts, region: &str, account: &str) -> Result<Routed, Reject> {
        let path = parts.uri.path();
        let r =
            RouteTable::route(self, &parts.method, path, region, account).map_err(Reject::from)?;
        let mut routed = Routed::single(
            r.action.clone(),
            Check::new(r.action, r.resource),
            path.to_owned(),
        );
        let service = RouteTable::service(self);
        routed.context = r
            .params
            .into_iter()
            .map(|(name, value)| (format!("{service}:{name}"), vec![value]))
            .collect();
        Ok(routed)
    }

    /// The route's parameters, by name.
    fn request_parameters(
        &self,
        route: &super::exchange::RouteSeen,
        _parts: &request::Parts,
        redactor: &Redactor,
    ) -> Map<String, Value> {
        let prefix = format!("{}:", RouteTable::service(self));
        let mut map = Map::new();
        for (key, values) in &route.context {
            let name = key.strip_prefix(&prefix).unwrap_or(key);
            let value = match values.as_slice() {
                [one] => Value::String(redactor.scrub(one)),
                many => Value::Array(
                    many.iter()
                        .map(|v| Value::String(redactor.scrub(v)))
                        .collect(),
                ),
            };
            map.insert(name.to_owned(), value);
        }
        map
    }
}
