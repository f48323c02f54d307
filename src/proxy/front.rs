//! The front door, the phases every request goes through whoever answers it:
//!
//! 1. **select** who answers: a service of the gateway's that claims the request, else the
//!    upstream its host names (the default is the first S3 upstream); a request signed for a
//!    service that is neither gets its errors in that service's protocol;
//! 2. **check the head**: one host, one framing, within the limits;
//! 3. **authenticate** the signature (or accept an anonymous request where the target allows);
//! 4. **resolve the caller** and hold it to its **request rate**;
//! 5. **contextualise**: the condition keys of the caller and of the environment.

use std::time::Instant;

use http::header::{HeaderValue, CONTENT_LENGTH, HOST};
use http::{request, StatusCode};
use hyper::body::Incoming;

use super::exchange::Exchange;
use super::respond::Reject;
use super::service::{dialect_of_service, Arriving, Front, Target};
use super::{now_epoch, Gateway, UpstreamRuntime};
use crate::caller::Caller;
use crate::context::{self, Environment};
use crate::sigv4::{self, AuthError, Claim, RequestHead};

impl Gateway {
    /// Phase 1: who answers the request. Sets the exchange's target and dialect.
    pub(super) fn select<'g>(
        &'g self,
        x: &mut Exchange<'g>,
        parts: &request::Parts,
    ) -> Result<Target<'g>, Reject> {
        let upstream = self.select_upstream(parts)?;
        x.target = Target::Upstream(upstream);
        x.dialect = upstream.model.dialect();
        let claim = Claim::of(parts);
        let arriving = Arriving {
            gateway: self,
            parts,
            claim: claim.as_ref(),
            upstream,
        };
        if let Some(service) = self.services.iter().find(|s| s.claims(&arriving)) {
            x.target = Target::Service(service.as_ref());
            x.dialect = service.dialect();
            return Ok(x.target);
        }
        // Signed for a service that nobody here answers: its SDK reads the error only in its
        // own protocol.
        if let Some(claim) = &claim {
            let answered = self
                .upstreams
                .iter()
                .any(|u| claim.scoped_to(u.model.service()));
            if !answered {
                if let Some(signed) = claim.service() {
                    x.dialect = dialect_of_service(&signed);
                }
            }
        }
        Ok(x.target)
    }

    /// The upstream whose host the request names; otherwise the default. A request that names
    /// its host ambiguously is refused (400): several `Host` headers, a `Host` that is not
    /// ASCII, or an authority (absolute-form target, HTTP/2 `:authority`) that differs from
    /// the `Host` header.
    fn select_upstream(&self, parts: &request::Parts) -> Result<&UpstreamRuntime, Reject> {
        let bad = |message: String| Reject::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidArgument",
            message,
        };
        let mut hosts = parts.headers.get_all(HOST).iter();
        let header = match (hosts.next(), hosts.next()) {
            (Some(_), Some(_)) => {
                return Err(bad("The Host header is given more than once.".into()))
            }
            (Some(h), None) => Some(
                h.to_str()
                    .map_err(|_| bad("The Host header is not ASCII.".into()))?,
            ),
            (None, _) => None,
        };
        let authority = parts.uri.authority().map(|a| a.as_str());
        if let (Some(authority), Some(header)) = (authority, header) {
            if !authority.eq_ignore_ascii_case(header) {
                return Err(bad(format!(
                    "The request target names '{authority}' but the Host header '{header}'."
                )));
            }
        }
        // Checked above: the authority and the one Host header agree; either names the host.
        let host = request_host(parts);
        Ok(host
            .and_then(|h| self.upstreams.iter().find(|u| u.hosts.contains(&h)))
            .unwrap_or(&self.upstreams[0]))
    }

    /// Phase 2: the head's framing and size. A request target longer than `max_uri_bytes` is
    /// 414; a body framed twice (`Transfer-Encoding` with `Content-Length`), or framed by a
    /// transfer coding other than `chunked` alone, is 400 (request smuggling); a
    /// `Content-Length` over the target's body limit is 413, before anything is read.
    pub(super) fn check_head(&self, target: &str, parts: &request::Parts) -> Result<(), Reject> {
        let limits = &self.config.limits;
        let uri_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len())
            + parts.uri.authority().map_or(0, |a| a.as_str().len());
        if uri_len > limits.max_uri_bytes {
            return Err(Reject::Invalid {
                status: StatusCode::URI_TOO_LONG,
                code: "RequestURITooLong",
                message: format!(
                    "The request target is longer than the {} bytes allowed.",
                    limits.max_uri_bytes
                ),
            });
        }
        let smuggling = |message: &str| Reject::Invalid {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidRequest",
            message: message.to_owned(),
        };
        let codings: Vec<&HeaderValue> = parts
            .headers
            .get_all(http::header::TRANSFER_ENCODING)
            .iter()
            .collect();
        if !codings.is_empty() {
            if parts.headers.contains_key(CONTENT_LENGTH) {
                return Err(smuggling(
                    "Transfer-Encoding and Content-Length together are refused.",
                ));
            }
            let chunked_only = codings.len() == 1
                && codings[0]
                    .to_str()
                    .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            if !chunked_only {
                return Err(smuggling(
                    "The only Transfer-Encoding accepted is 'chunked', once.",
                ));
            }
        }
        let mut lengths = parts.headers.get_all(CONTENT_LENGTH).iter();
        if let Some(first) = lengths.next() {
            let length = first
                .to_str()
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| smuggling("The Content-Length is not one decimal number."))?;
            if lengths.next().is_some() {
                return Err(smuggling(
                    "The Content-Length header is given more than once.",
                ));
            }
            let limit = limits.max_body_bytes_for(target);
            if length > limit {
                return Err(too_large(limit));
            }
        }
        Ok(())
    }

    /// Phases 3 to 5: who is calling, proven how, within its rate, in which context.
    pub(super) fn front_door(
        &self,
        x: &mut Exchange<'_>,
        parts: &request::Parts,
        body: &Incoming,
    ) -> Result<Front, Reject> {
        // 3. authenticate
        let mut head = RequestHead::from_parts(parts);
        if http_body::Body::is_end_stream(body) {
            head.body_empty = true;
        }
        let auth = match self.verifier.verify(&head) {
            Ok(sigv4::Outcome::Anonymous) => None,
            Ok(sigv4::Outcome::Authenticated(auth)) => Some(auth),
            Err(e) => return Err(Reject::Auth(e)),
        };
        let target = x.target;
        let service = target.service();
        // 4. the caller
        let caller = match &auth {
            None if !target.allows_anonymous() => {
                x.principal = Some(crate::policy::Principal::anonymous());
                return Err(Reject::Auth(AuthError::MissingAuthenticationToken));
            }
            None => Caller::Anonymous,
            Some(auth) => {
                if auth.scope.service() != service {
                    return Err(Reject::Auth(AuthError::WrongService {
                        service: auth.scope.service().to_owned(),
                        expected: service.to_owned(),
                        query: auth.auth_type == sigv4::AuthType::Query,
                    }));
                }
                let key = &auth.principal;
                Caller::resolve(&x.snapshot, &key.account, &key.owner, key.session.as_ref())
                    .ok_or(Reject::Auth(AuthError::InvalidAccessKeyId))?
            }
        };
        x.marks.authenticated = Some(Instant::now());
        x.principal = Some(caller.principal().into_owned());
        if let Some(rates) = &self.rates {
            let allowed = match &caller {
                Caller::Anonymous => {
                    let ip = context::source_ip(
                        x.conn.peer.ip(),
                        &parts.headers,
                        &self.config.trusted_proxies,
                    );
                    rates.allow(&format!("anonymous@{ip}"), Instant::now())
                }
                _ => rates.allow(caller.principal().arn(), Instant::now()),
            };
            if !allowed {
                x.marks.throttled = true;
                return Err(Reject::Throttled);
            }
        }
        // 5. contextualise
        let now = now_epoch();
        let mut context = caller.context(now);
        self.add_environment(&mut context, parts, x.conn, now);
        Ok(Front {
            auth,
            caller,
            context,
        })
    }
}

impl Gateway {
    /// Adds the environment's condition keys (source IP, time, transport, user agent,
    /// region) to `context`.
    pub(super) fn add_environment(
        &self,
        context: &mut crate::policy::Context,
        parts: &request::Parts,
        conn: super::Connection,
        now: i64,
    ) {
        let source_ip =
            context::source_ip(conn.peer.ip(), &parts.headers, &self.config.trusted_proxies);
        context::add_environment(
            context,
            &Environment {
                source_ip,
                secure: conn.secure,
                now,
                region: &self.config.region,
            },
            &parts.headers,
        );
    }
}

/// 413, S3's `EntityTooLarge` (the other protocols keep the code).
pub(super) fn too_large(limit: u64) -> Reject {
    Reject::Invalid {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "EntityTooLarge",
        message: format!("Your proposed upload exceeds the maximum allowed size of {limit} bytes."),
    }
}

/// The host a request names (the URI's authority, else `Host`), lower-case, without a port.
pub(super) fn request_host(parts: &request::Parts) -> Option<String> {
    parts
        .uri
        .authority()
        .map(|a| a.host().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| {
                    h.rsplit_once(':')
                        .map_or(h, |(name, port)| {
                            if port.bytes().all(|b| b.is_ascii_digit()) {
                                name
                            } else {
                                h
                            }
                        })
                        .to_owned()
                })
        })
        .map(|h| h.to_ascii_lowercase())
}
