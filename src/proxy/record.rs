//! The record of a request: its metrics and its decision-log line (CloudTrail's shape with
//! the gateway's details), built once, from its [`Exchange`]. Nothing here decides.

use serde_json::Map;

use super::exchange::{Exchange, CLIENT_GONE};
use super::forward::UpstreamError;
use super::respond::Reject;
use super::service::Target;
use super::Gateway;
use crate::audit::{self, CheckRecord, MatchedRecord, Record, Redactor, ResourceRef};
use crate::policy::{Decision, Effect, Outcome, Principal, PrincipalKind};
use crate::route::Check;
use crate::sigv4::Claim;
use crate::store::Snapshot;

impl Gateway {
    /// Records a request: metrics always, the decision log when it is on.
    pub(super) fn record(&self, x: &Exchange<'_>, status: u16) {
        let target = x.target.name();
        let decision = x.outcome.map_or("rejected", Outcome::as_str);
        let action = x.route.as_ref().map_or("unknown", |r| r.operation.as_str());
        // The code's own text for a valid status (no allocation per request).
        let code = http::StatusCode::from_u16(status).ok();
        let status_text = code.as_ref().map_or("other", http::StatusCode::as_str);
        let m = &self.metrics;
        m.requests.inc([decision, action, target, status_text]);
        let marks = &x.marks;
        if let Some(d) = marks.authentication() {
            m.authentication.observe(d);
        }
        if let Some(d) = marks.evaluation() {
            m.evaluation.observe(d);
        }
        if let Some(d) = marks.upstream {
            m.upstream.observe(d);
        }
        m.total.observe(marks.started.elapsed());
        let dry_run = x.target.upstream().is_some_and(|u| u.dry_run);
        let enforcement = match (dry_run, x.outcome) {
            (true, Some(Outcome::Allowed)) => "would allow",
            (true, Some(_)) => "would deny",
            _ => "enforced",
        };
        if dry_run && x.outcome.is_some() {
            let label = if enforcement == "would allow" {
                "would_allow"
            } else {
                "would_deny"
            };
            m.dry_run.inc([target, action, label]);
        }
        if let Some(Reject::Upstream(e)) = &x.refused {
            let kind = match e {
                UpstreamError::Timeout => "timeout",
                UpstreamError::Unavailable(_) => "unavailable",
            };
            m.upstream_errors.inc([target, kind]);
        }
        tracing::debug!(
            target: "iamgate::decision",
            request_id = x.request_id,
            method = %x.head.method,
            principal = x.principal.as_ref().map_or("-", Principal::arn),
            operation = action,
            upstream = target,
            decision,
            enforcement,
            status,
            error = x.refused.as_ref().map_or("-", |r| r.code(x.dialect)),
            checks = ?ChecksDebug(&x.decisions),
            micros = marks.started.elapsed().as_micros() as u64,
            "decision"
        );
        if !self.decisions.enabled() {
            return;
        }
        let record = self.build_record(x, status, enforcement);
        self.decisions.submit(record);
    }

    fn build_record(&self, x: &Exchange<'_>, status: u16, enforcement: &'static str) -> Record {
        let parts = &x.head;
        let query = parts.uri.query();
        let redactor = Redactor::of(&parts.headers, query);
        let service = x.target.service();
        let operation = x.route.as_ref().map_or("", |r| r.operation.as_str());
        let event_name = operation
            .strip_prefix(service)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(operation);
        let source_ip = crate::context::source_ip(
            x.conn.peer.ip(),
            &parts.headers,
            &self.config.trusted_proxies,
        );
        let user_agent = parts.headers.get(http::header::USER_AGENT).map(|v| {
            redactor.scrub_free_text(&audit::truncate(
                &String::from_utf8_lossy(v.as_bytes()),
                512,
            ))
        });
        let claim = Claim::of(parts);
        let access_key = claim.as_ref().and_then(Claim::access_key_id);
        let user_identity = user_identity(&x.snapshot, x.principal.as_ref(), access_key);
        let (request_parameters, response_elements, resources, read_only, management_event) =
            match (x.target, &x.served) {
                (Target::Upstream(upstream), _) => {
                    let resources = resources_of(x, upstream.owner.as_deref());
                    let parameters = x.route.as_ref().map_or_else(Map::new, |route| {
                        upstream.model.request_parameters(route, parts, &redactor)
                    });
                    let read_only = matches!(parts.method, http::Method::GET | http::Method::HEAD);
                    (parameters, None, resources, read_only, false)
                }
                (Target::Service(_), Some(served)) => (
                    served.request_parameters.clone(),
                    served.response_elements.clone(),
                    served.resources.clone(),
                    served.read_only,
                    true,
                ),
                (Target::Service(_), None) => (Map::new(), None, Vec::new(), false, true),
            };
        let recipient_account_id = match x.target {
            Target::Upstream(upstream) => resources
                .first()
                .and_then(|r| r.account_id.clone())
                .or_else(|| upstream.owner.clone()),
            Target::Service(_) => x
                .principal
                .as_ref()
                .and_then(|p| p.account())
                .map(str::to_owned),
        };
        let checks: Vec<CheckRecord> = x
            .decisions
            .iter()
            .take(audit::MAX_CHECKS)
            .map(|(check, d)| check_record(check, d, &redactor))
            .collect();
        let refused = x.refused.as_ref();
        let refused_at = match (x.outcome, x.target) {
            (Some(_), _) => None,
            (None, _) if status == CLIENT_GONE => Some("clientGone"),
            (None, Target::Service(s)) => x.refused.is_some().then(|| s.name()),
            (None, Target::Upstream(_)) => Some(x.marks.refused_at()),
        };
        Record {
            event_version: audit::EVENT_VERSION,
            event_time: audit::event_time_now(),
            event_source: format!("{service}.amazonaws.com"),
            event_name: event_name.to_owned(),
            aws_region: self.config.region.clone(),
            source_ip_address: source_ip.to_string(),
            user_agent,
            user_identity,
            request_parameters,
            response_elements,
            additional_event_data: audit::AdditionalEventData {
                signature_version: claim.as_ref().and_then(|c| c.version),
                authentication_method: claim.as_ref().map(|c| c.location.as_str()),
            },
            request_id: x.request_id.clone(),
            event_id: audit::event_id(&x.request_id),
            read_only,
            resources,
            event_type: "AwsApiCall",
            management_event,
            recipient_account_id,
            error_code: refused.map(|r| r.code(x.dialect).to_owned()),
            error_message: refused.map(|r| redactor.scrub_free_text(&r.message(x.dialect))),
            iamgate: audit::Details {
                decision: x.outcome.map(Outcome::as_str),
                enforcement,
                dry_run: x.target.upstream().is_some_and(|u| u.dry_run),
                refused_at,
                checks,
                checks_omitted: x.decisions.len().saturating_sub(audit::MAX_CHECKS),
                upstream: x.target.name().to_owned(),
                status,
                generation: x.generation,
                micros: x.marks.micros(),
            },
        }
    }
}

/// The resources a request to an upstream names: its checks' (decided or not), each once.
fn resources_of(x: &Exchange<'_>, owner: Option<&str>) -> Vec<ResourceRef> {
    let undecided = x.route.as_ref().map_or(&[][..], |r| r.checks.as_slice());
    let checks = x.decisions.iter().map(|(c, _)| c).chain(undecided);
    let mut resources: Vec<ResourceRef> = Vec::new();
    for check in checks {
        if check.resource == "*" || resources.iter().any(|r| r.arn == check.resource) {
            continue;
        }
        if resources.len() == audit::MAX_CHECKS {
            break;
        }
        resources.push(ResourceRef {
            account_id: x
                .snapshot
                .resource(&check.resource)
                .map(|r| r.owner.clone())
                .or_else(|| owner.map(str::to_owned)),
            kind: audit::resource_type(&check.resource),
            arn: check.resource.clone(),
        });
    }
    resources
}

fn check_record(check: &Check, d: &Decision, redactor: &Redactor) -> CheckRecord {
    CheckRecord {
        action: check.action.clone(),
        resource: redactor.scrub(&check.resource),
        decision: d.outcome.as_str(),
        matched_statements: d
            .matched
            .iter()
            .map(|m| MatchedRecord {
                policy: m.policy.to_string(),
                sid: m.sid.as_deref().map(str::to_owned),
                index: m.index,
                effect: match m.effect {
                    Effect::Allow => "Allow",
                    Effect::Deny => "Deny",
                },
                source: m.source.as_str(),
            })
            .collect(),
        missing_context_keys: d.missing_context.clone(),
    }
}

/// The checks as `["ACTION RESOURCE OUTCOME", ...]`, formatted only when a debug subscriber
/// asks for them.
struct ChecksDebug<'a>(&'a [(Check, Decision)]);

impl std::fmt::Debug for ChecksDebug<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(c, d)| format!("{} {} {}", c.action, c.resource, d.outcome.as_str())),
            )
            .finish()
    }
}

/// `userIdentity` as CloudTrail writes it.
fn user_identity(
    snapshot: &Snapshot,
    principal: Option<&Principal>,
    access_key: Option<String>,
) -> audit::UserIdentity {
    let Some(p) = principal else {
        // Signed, but the signature or the key did not hold (or unsigned where a signature is
        // required): who it claims to be is all there is.
        return audit::UserIdentity {
            kind: if access_key.is_some() {
                "Unknown"
            } else {
                "AWSAccount"
            },
            account_id: if access_key.is_some() {
                String::new()
            } else {
                "anonymous".into()
            },
            access_key_id: access_key,
            ..audit::UserIdentity::default()
        };
    };
    let account = p.account().unwrap_or("").to_owned();
    let id_of = |arn: &str| snapshot.identity(arn).map(|i| i.id.clone());
    let (kind, principal_id, user_name) = match p.kind() {
        PrincipalKind::Anonymous => {
            return audit::UserIdentity {
                kind: "AWSAccount",
                account_id: "anonymous".into(),
                ..audit::UserIdentity::default()
            }
        }
        PrincipalKind::Account => ("Root", account.clone(), None),
        PrincipalKind::User => (
            "IAMUser",
            id_of(p.arn()).unwrap_or_default(),
            p.name().map(str::to_owned),
        ),
        PrincipalKind::AssumedRole => {
            let role_id = p.role_arn().and_then(id_of).unwrap_or_default();
            let session = p.name().unwrap_or("");
            ("AssumedRole", format!("{role_id}:{session}"), None)
        }
        PrincipalKind::FederatedUser => ("FederatedUser", String::new(), None),
        PrincipalKind::Role => ("Role", id_of(p.arn()).unwrap_or_default(), None),
        PrincipalKind::Service => ("AWSService", String::new(), None),
        PrincipalKind::WebIdentity => ("WebIdentityUser", String::new(), None),
    };
    audit::UserIdentity {
        kind,
        principal_id,
        arn: Some(p.arn().to_owned()),
        account_id: account,
        access_key_id: access_key,
        user_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MatchedStatement;
    use crate::proxy::proxied::overall;

    fn decision(outcome: Outcome) -> (Check, Decision) {
        (
            Check::new("s3:GetObject", "arn:aws:s3:::b/k"),
            Decision {
                outcome,
                matched: Vec::<MatchedStatement>::new(),
                missing_context: Vec::new(),
            },
        )
    }

    #[test]
    fn an_explicit_deny_anywhere_wins() {
        use Outcome::*;
        assert_eq!(overall(&[]), Allowed);
        assert_eq!(overall(&[decision(Allowed)]), Allowed);
        assert_eq!(
            overall(&[decision(ImplicitDeny), decision(ExplicitDeny)]),
            ExplicitDeny
        );
        assert_eq!(
            overall(&[decision(Allowed), decision(ImplicitDeny)]),
            ImplicitDeny
        );
    }

    #[test]
    fn identities_as_cloudtrail_writes_them() {
        let snapshot = Snapshot::default();
        let anonymous = user_identity(&snapshot, Some(&Principal::anonymous()), None);
        assert_eq!(
            (anonymous.kind, anonymous.account_id.as_str()),
            ("AWSAccount", "anonymous")
        );
        let root = Principal::from_arn("arn:aws:iam::111122223333:root").unwrap();
        let root = user_identity(&snapshot, Some(&root), Some("AKIAROOT".into()));
        assert_eq!(
            (root.kind, root.principal_id.as_str()),
            ("Root", "111122223333")
        );
        let unknown = user_identity(&snapshot, None, Some("AKIAUNKNOWN".into()));
        assert_eq!(unknown.kind, "Unknown");
        assert_eq!(unknown.access_key_id.as_deref(), Some("AKIAUNKNOWN"));
    }
}
