//! Who answers a request once it is through the front door: a proxied upstream (its
//! [`Model`](super::model::Model)) or a service the gateway serves itself ([`Service`]: STS
//! now). Adding a served service is adding a module that implements [`Service`] and
//! registering it in `Gateway::new`; the pipeline does not change.

use std::future::Future;
use std::pin::Pin;

use http::request;
use hyper::body::Incoming;

use super::exchange::Exchange;
use super::forward::ProxyBody;
use super::respond::{Dialect, Reject};
use super::{Gateway, KeyPrincipal, UpstreamRuntime};
use crate::caller::Caller;
use crate::policy::Context;
use crate::sigv4::{Authenticated, Claim};

/// What the front door established about a request, for the service that answers it.
pub(crate) struct Front {
    /// The verified signature, if the request was signed.
    pub auth: Option<Box<Authenticated<KeyPrincipal>>>,
    /// The caller: an identity of the store, a session, or anonymous.
    pub caller: Caller,
    /// The condition keys of the caller and of the request's environment.
    pub context: Context,
}

/// A request as selection sees it.
pub(crate) struct Arriving<'a> {
    pub gateway: &'a Gateway,
    pub parts: &'a request::Parts,
    /// What it says of its signature.
    pub claim: Option<&'a Claim<'a>>,
    /// The upstream the request's host selected.
    pub upstream: &'a UpstreamRuntime,
}

/// A boxed future of a served call.
pub(crate) type Serving<'a> =
    Pin<Box<dyn Future<Output = Result<http::Response<ProxyBody>, Reject>> + Send + 'a>>;

/// A boxed future that only fills in the exchange.
pub(crate) type Noting<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A service the gateway answers itself.
pub(crate) trait Service: Send + Sync {
    /// The name requests are signed for (`sts`); also the upstream label of its metrics and
    /// log records.
    fn name(&self) -> &'static str;

    /// The protocol its errors are answered in.
    fn dialect(&self) -> Dialect;

    /// Whether an unsigned request may reach it (STS's `AssumeRoleWithWebIdentity`).
    fn allows_anonymous(&self) -> bool {
        false
    }

    /// Whether the request is this service's: signed for it, or addressed to it by host, path
    /// or shape.
    fn claims(&self, request: &Arriving<'_>) -> bool;

    /// Answers a request the front door let through.
    fn serve<'a>(
        &'a self,
        gateway: &'a Gateway,
        exchange: &'a mut Exchange<'_>,
        parts: request::Parts,
        body: Incoming,
        front: Front,
    ) -> Serving<'a>;

    /// For a request refused before [`Service::serve`]: notes in the exchange what it asked
    /// for (its operation), for the record. The body may be read; it is dropped after.
    fn note_refused<'a>(
        &'a self,
        gateway: &'a Gateway,
        exchange: &'a mut Exchange<'_>,
        parts: &'a request::Parts,
        body: Incoming,
    ) -> Noting<'a>;
}

/// Who answers a request.
#[derive(Clone, Copy)]
pub(crate) enum Target<'g> {
    /// A proxied upstream.
    Upstream(&'g UpstreamRuntime),
    /// A service of the gateway's.
    Service(&'g dyn Service),
}

impl Target<'_> {
    /// The name its metrics and records carry.
    pub fn name(&self) -> &str {
        match self {
            Target::Upstream(u) => &u.name,
            Target::Service(s) => s.name(),
        }
    }

    /// The service requests to it are signed for.
    pub fn service(&self) -> &str {
        match self {
            Target::Upstream(u) => u.model.service(),
            Target::Service(s) => s.name(),
        }
    }

    /// The protocol of its errors.
    pub fn dialect(&self) -> Dialect {
        match self {
            Target::Upstream(u) => u.model.dialect(),
            Target::Service(s) => s.dialect(),
        }
    }

    /// Whether unsigned requests may go on.
    pub fn allows_anonymous(&self) -> bool {
        match self {
            Target::Upstream(u) => u.model.allows_anonymous(),
            Target::Service(s) => s.allows_anonymous(),
        }
    }

    /// The upstream, when it is one.
    pub fn upstream(&self) -> Option<&UpstreamRuntime> {
        match self {
            Target::Upstream(u) => Some(u),
            Target::Service(_) => None,
        }
    }
}

/// The services whose SDKs speak AWS's query protocol (botocore's `metadata.protocol` is
/// `query`), or REST-XML with `<ErrorResponse>` errors (CloudFront, Route 53): their errors are
/// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
const QUERY_XML_SERVICES: [&str; 16] = [
    "autoscaling",
    "cloudformation",
    "cloudfront",
    "cloudsearch",
    "elasticache",
    "elasticbeanstalk",
    "elasticloadbalancing",
    "iam",
    "importexport",
    "rds",
    "redshift",
    "route53",
    "sdb",
    "ses",
    "sns",
    "sts",
];

/// The protocol of the errors an AWS service's SDK parses, by the name requests to it are
/// signed for: S3's XML, EC2's, the query protocol's, or JSON (every other service).
pub(crate) fn dialect_of_service(service: &str) -> Dialect {
    match service {
        "s3" => Dialect::S3Xml,
        "ec2" => Dialect::Ec2Xml,
        s if QUERY_XML_SERVICES.contains(&s) => Dialect::QueryXml,
        _ => Dialect::Json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_answer_in_their_sdks_protocol() {
        assert_eq!(dialect_of_service("s3"), Dialect::S3Xml);
        assert_eq!(dialect_of_service("iam"), Dialect::QueryXml);
        assert_eq!(dialect_of_service("sts"), Dialect::QueryXml);
        assert_eq!(dialect_of_service("ec2"), Dialect::Ec2Xml);
        assert_eq!(dialect_of_service("dynamodb"), Dialect::Json);
        assert_eq!(dialect_of_service("orders"), Dialect::Json);
    }
}
