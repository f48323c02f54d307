//! The request pipeline, from a request's head to its record:
//!
//! 1. **begin** the request's [`Exchange`]: its id, the store snapshot it is decided on, the
//!    head as received;
//! 2. the **front door** ([`super::front`]): select who answers, check the head, authenticate,
//!    resolve the caller, hold it to its rate, build the context;
//! 3. **dispatch** to whoever answers: a proxied upstream ([`super::proxied`]: route, inspect,
//!    evaluate, forward) or a service of the gateway's ([`super::service::Service`]);
//! 4. **refuse** with the AWS error in the target's protocol, whatever phase refused;
//! 5. **record**, always: [`Exchange::finish`] when the answer is ready (timed out included),
//!    or the exchange's `Drop` when the client left first.

use std::time::Instant;

use http::header::HeaderValue;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::exchange::Exchange;
use super::forward::{self, ProxyBody};
use super::listener::Connection;
use super::respond::Reject;
use super::service::Target;
use super::Gateway;

impl Gateway {
    /// Serves one request through every phase, within the total request timeout.
    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        conn: Connection,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let (mut parts, body) = req.into_parts();
        // The headers `Connection` names are dropped before anything reads the request, not
        // only when it is forwarded: the decision is made on exactly what the upstream gets
        // (a signed header named there then fails the signature, as it would upstream).
        forward::strip_connection_named(&mut parts.headers);
        let mut x = Exchange::begin(self, conn, started, self.head_for_record(&parts));
        let response = match self.config.limits.request_timeout() {
            None => self.serve(&mut x, parts, body).await,
            Some(total) => {
                let deadline = tokio::time::Instant::now() + total;
                match tokio::time::timeout_at(deadline, self.serve(&mut x, parts, body)).await {
                    Ok(response) => {
                        response.map(|body| forward::DeadlineBody::new(body, deadline).boxed())
                    }
                    Err(_) => {
                        tracing::info!(peer = %conn.peer, request_id = %x.request_id, "request timed out ({total:?} in all)");
                        let mut response = self.refuse(&mut x, Reject::timed_out());
                        response
                            .headers_mut()
                            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                        response
                    }
                }
            }
        };
        x.finish(response.status().as_u16());
        response
    }

    /// What the record keeps of the head: method and target always, the headers only when
    /// the decision log is on.
    fn head_for_record(&self, parts: &http::request::Parts) -> http::request::Parts {
        let mut head = Request::new(());
        *head.method_mut() = parts.method.clone();
        *head.uri_mut() = parts.uri.clone();
        *head.version_mut() = parts.version;
        if self.decisions.enabled() {
            *head.headers_mut() = parts.headers.clone();
        }
        head.into_parts().0
    }

    /// The front door, then whoever answers.
    async fn serve<'g>(
        &'g self,
        x: &mut Exchange<'g>,
        parts: http::request::Parts,
        body: Incoming,
    ) -> Response<ProxyBody> {
        let target = match self
            .select(x, &parts)
            .and_then(|target| self.check_head(target.name(), &parts).map(|()| target))
        {
            Ok(target) => target,
            Err(reject) => {
                // The head is ambiguous or over a limit: answer, and close the connection
                // rather than guess where this request's body ends.
                let mut response = self.refuse(x, reject);
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        };
        if let Target::Upstream(upstream) = target {
            if upstream.passthrough {
                return self.pass_through(x, upstream, parts, body).await;
            }
        }
        let front = match self.front_door(x, &parts, &body) {
            Ok(front) => front,
            Err(reject) => {
                // What was asked, for the record: the route (the upstream's), or what the
                // service reads of the request.
                match target {
                    Target::Upstream(upstream) => self.note_route(x, upstream, &parts),
                    Target::Service(service) => {
                        let response = self.refuse(x, reject);
                        Box::pin(service.note_refused(self, x, &parts, body)).await;
                        return response;
                    }
                }
                let response = self.refuse(x, reject);
                Box::pin(self.drain(Some(body), super::proxied::expects_continue(&parts))).await;
                return response;
            }
        };
        match target {
            Target::Upstream(upstream) => self.proxy(x, upstream, parts, body, front).await,
            Target::Service(service) => {
                // Boxed, as every rare path is: the handler's future is as large as its
                // largest state, and it is allocated and moved once per request.
                match Box::pin(service.serve(self, x, parts, body, front)).await {
                    Ok(response) => response,
                    Err(reject) => self.refuse(x, reject),
                }
            }
        }
    }

    /// The answer to a refused request, in the exchange's protocol; the refusal is noted for
    /// the record.
    pub(super) fn refuse(&self, x: &mut Exchange<'_>, reject: Reject) -> Response<ProxyBody> {
        let response = reject.render(x.dialect, &x.request_id, x.head_only());
        x.refused = Some(reject);
        response
    }
}
