//! Phase 8, record: the decision log record and the metrics of one request, from what the
//! pipeline saw. The pipeline hands over plain borrowed data ([`Seen`]); nothing here decides.

use http::request;

use super::listener::Connection;
use super::respond::{Dialect, Reject};
use super::{Gateway, Model, UpstreamRuntime};
use crate::audit::{self, CheckRecord, Marks, MatchedRecord, Record, Redactor, ResourceRef};
use crate::policy::{Decision, Effect, Outcome, Principal, PrincipalKind};
use crate::route::Check;
use crate::store::Snapshot;

/// What the pipeline saw of one request, for its record.
pub(crate) struct Seen<'a> {
    pub request_id: &'a str,
    pub parts: &'a request::Parts,
    pub conn: Connection,
    pub upstream: &'a UpstreamRuntime,
    pub snapshot: &'a Snapshot,
    pub generation: u64,
    /// The authenticated caller, once known.
    pub principal: Option<&'a Principal>,
    /// What the route phase produced (for a refused request, what it would have produced).
    pub route: Option<RouteSeen<'a>>,
    /// Every check and its decision; empty when refused before a decision (and when the
    /// decision log is off: metrics need only the outcome).
    pub decisions: &'a [(Check, Decision)],
}

/// The route's view of a request.
pub(crate) struct RouteSeen<'a> {
    pub operation: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    pub context: &'a [(String, Vec<String>)],
    pub checks: &'a [Check],
}

/// The overall outcome of a request's checks: an explicit deny anywhere wins, then an
/// implicit one.
pub(crate) fn overall(decisions: &[(Check, Decision)]) -> Outcome {
    let mut outcome = Outcome::Allowed;
    for (_, d) in decisions {
        match d.outcome {
            Outcome::ExplicitDeny => return Outcome::ExplicitDeny,
            Outcome::ImplicitDeny => outcome = Outcome::ImplicitDeny,
            Outcome::Allowed => {}
        }
    }
    outcome
}

impl Gateway {
    /// Records a request: metrics always, the decision log when it is on. `refused` is the
    /// error the client received from the gateway, if any; `outcome` the decision, when the
    /// checks were evaluated.
    pub(crate) fn record(
        &self,
        seen: &Seen<'_>,
        marks: &Marks,
        status: u16,
        refused: Option<&Reject>,
        outcome: Option<Outcome>,
    ) {
        let upstream = seen.upstream;
        let decided = outcome.is_some();
        let decision = outcome.map_or("rejected", Outcome::as_str);
        let action = seen.route.as_ref().map_or("unknown", |r| r.operation);
        // The code's own text for a valid status (no allocation per request).
        let code = http::StatusCode::from_u16(status).ok();
        let status_text = code.as_ref().map_or("other", http::StatusCode::as_str);
        let m = &self.metrics;
        m.requests
            .inc([decision, action, upstream.name.as_str(), status_text]);
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
        let enforcement = match (upstream.dry_run, outcome) {
            (true, Some(Outcome::Allowed)) => "would allow",
            (true, Some(_)) => "would deny",
            _ => "enforced",
        };
        if upstream.dry_run && decided {
            let label = if enforcement == "would allow" {
                "would_allow"
            } else {
                "would_deny"
            };
            m.dry_run.inc([upstream.name.as_str(), action, label]);
        }
        if let Some(Reject::Upstream(e)) = refused {
            let kind = match e {
                super::forward::UpstreamError::Timeout => "timeout",
                super::forward::UpstreamError::Unavailable(_) => "unavailable",
            };
            m.upstream_errors.inc([upstream.name.as_str(), kind]);
        }
        tracing::debug!(
            target: "iamgate::decision",
            request_id = seen.request_id,
            method = %seen.parts.method,
            principal = seen.principal.map_or("-", Principal::arn),
            operation = action,
            upstream = %upstream.name,
            decision,
            enforcement,
            status,
            checks = ?ChecksDebug(seen.decisions),
            micros = marks.started.elapsed().as_micros() as u64,
            "decision"
        );
        if !self.decisions.enabled() {
            return;
        }
        let record = self.build_record(seen, marks, status, refused, outcome, enforcement);
        self.decisions.submit(record);
    }

    fn build_record(
        &self,
        seen: &Seen<'_>,
        marks: &Marks,
        status: u16,
        refused: Option<&Reject>,
        outcome: Option<Outcome>,
        enforcement: &'static str,
    ) -> Record {
        let parts = seen.parts;
        let upstream = seen.upstream;
        let query = parts.uri.query();
        let redactor = Redactor::of(&parts.headers, query);
        let dialect = match upstream.model {
            Model::S3(_) => Dialect::S3Xml,
            Model::Routes(_) => Dialect::Json,
        };
        let service = match &upstream.model {
            Model::S3(_) => "s3",
            Model::Routes(table) => table.service(),
        };
        let operation = seen.route.as_ref().map_or("", |r| r.operation);
        let event_name = operation
            .strip_prefix(service)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(operation);
        let source_ip = crate::context::source_ip(
            seen.conn.peer.ip(),
            &parts.headers,
            &self.config.trusted_proxies,
        );
        let user_agent = parts.headers.get(http::header::USER_AGENT).map(|v| {
            redactor.scrub_free_text(&truncate(&String::from_utf8_lossy(v.as_bytes()), 512))
        });
        let access_key = audit::claimed_access_key(&parts.headers, query);
        let user_identity = user_identity(seen.snapshot, seen.principal, access_key);
        let owner_of = |arn: &str| {
            seen.snapshot
                .resource(arn)
                .map(|r| r.owner.clone())
                .or_else(|| upstream.owner.clone())
        };
        let mut resources: Vec<ResourceRef> = Vec::new();
        if let Some(route) = &seen.route {
            for check in route.checks {
                if check.resource == "*" || resources.iter().any(|r| r.arn == check.resource) {
                    continue;
                }
                if resources.len() == audit::MAX_CHECKS {
                    break;
                }
                resources.push(ResourceRef {
                    account_id: owner_of(&check.resource),
                    kind: audit::resource_type(&check.resource),
                    arn: check.resource.clone(),
                });
            }
        }
        let recipient_account_id = resources
            .first()
            .and_then(|r| r.account_id.clone())
            .or_else(|| upstream.owner.clone());
        let checks: Vec<CheckRecord> = seen
            .decisions
            .iter()
            .take(audit::MAX_CHECKS)
            .map(|(check, d)| CheckRecord {
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
            })
            .collect();
        let (signature_version, authentication_method) = signing_of(parts);
        Record {
            event_version: audit::EVENT_VERSION,
            event_time: audit::event_time_now(),
            event_source: format!("{service}.amazonaws.com"),
            event_name: event_name.to_owned(),
            aws_region: self.config.region.clone(),
            source_ip_address: source_ip.to_string(),
            user_agent,
            user_identity,
            request_parameters: request_parameters(seen, service, &redactor),
            response_elements: None,
            additional_event_data: audit::AdditionalEventData {
                signature_version,
                authentication_method,
            },
            request_id: seen.request_id.to_owned(),
            event_id: audit::event_id(seen.request_id),
            read_only: matches!(parts.method, http::Method::GET | http::Method::HEAD),
            resources,
            event_type: "AwsApiCall",
            management_event: false,
            recipient_account_id,
            error_code: refused.map(|r| r.code(dialect).to_owned()),
            error_message: refused.map(|r| redactor.scrub_free_text(&r.message(dialect))),
            iamgate: audit::Details {
                decision: outcome.map(Outcome::as_str),
                enforcement,
                dry_run: upstream.dry_run,
                refused_at: outcome.is_none().then(|| marks.refused_at()),
                checks,
                checks_omitted: seen.decisions.len().saturating_sub(audit::MAX_CHECKS),
                upstream: upstream.name.clone(),
                status,
                generation: seen.generation,
                micros: marks.micros(),
            },
        }
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

/// What an STS call was, for its record.
pub(crate) struct StsSeen<'a> {
    pub request_id: &'a str,
    pub parts: &'a request::Parts,
    pub conn: Connection,
    pub snapshot: &'a Snapshot,
    pub generation: u64,
    pub principal: Option<&'a Principal>,
    pub params: Option<&'a crate::sts::Params>,
    pub result: Result<&'a crate::sts::StsResponse, &'a crate::sts::StsError>,
}

/// The parameters of an STS call that CloudTrail records; never `TokenCode` nor
/// `WebIdentityToken`, which are credentials.
const STS_LOGGED_PARAMS: [(&str, &str); 7] = [
    ("RoleArn", "roleArn"),
    ("RoleSessionName", "roleSessionName"),
    ("DurationSeconds", "durationSeconds"),
    ("SerialNumber", "serialNumber"),
    ("ExternalId", "externalId"),
    ("SourceIdentity", "sourceIdentity"),
    ("ProviderId", "providerId"),
];

impl Gateway {
    /// Records an STS call: the metrics of the `sts` upstream and a CloudTrail-shaped line.
    pub(crate) fn record_sts(&self, seen: &StsSeen<'_>, started: std::time::Instant) {
        use crate::sts::StsResponse;
        use serde_json::{json, Map, Value};

        let action = seen
            .params
            .and_then(|p| p.get("Action"))
            .filter(|a| a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or("unknown");
        let status = match seen.result {
            Ok(_) => 200,
            Err(e) => e.status,
        };
        let decision = if seen.result.is_ok() {
            "allowed"
        } else {
            "rejected"
        };
        let status_text = status.to_string();
        self.metrics
            .requests
            .inc([decision, action, "sts", &status_text]);
        self.metrics.total.observe(started.elapsed());
        if !self.decisions.enabled() {
            return;
        }
        let parts = seen.parts;
        let query = parts.uri.query();
        let redactor = Redactor::of(&parts.headers, query);
        let mut request_parameters = Map::new();
        if let Some(params) = seen.params {
            for (name, key) in STS_LOGGED_PARAMS {
                if let Some(v) = params.get(name) {
                    let value = match v.parse::<i64>() {
                        Ok(n) if name == "DurationSeconds" => json!(n),
                        _ => Value::String(redactor.scrub_free_text(&truncate(v, 2048))),
                    };
                    request_parameters.insert(key.to_owned(), value);
                }
            }
        }
        let response_elements = match seen.result {
            Ok(StsResponse::AssumeRole(s)) | Ok(StsResponse::AssumeRoleWithWebIdentity(s, _)) => {
                let mut m = Map::new();
                m.insert(
                    "credentials".into(),
                    json!({
                        "accessKeyId": s.credentials.access_key_id,
                        "expiration": crate::context::iso8601(s.credentials.expiration),
                    }),
                );
                m.insert(
                    "assumedRoleUser".into(),
                    json!({"assumedRoleId": s.assumed_role_id, "arn": s.arn}),
                );
                if let Some(size) = s.packed_policy_size {
                    m.insert("packedPolicySize".into(), json!(size));
                }
                Some(m)
            }
            Ok(StsResponse::GetSessionToken(c)) => {
                let mut m = Map::new();
                m.insert(
                    "credentials".into(),
                    json!({
                        "accessKeyId": c.access_key_id,
                        "expiration": crate::context::iso8601(c.expiration),
                    }),
                );
                Some(m)
            }
            Ok(StsResponse::GetCallerIdentity { .. }) | Err(_) => None,
        };
        let source_ip = crate::context::source_ip(
            seen.conn.peer.ip(),
            &parts.headers,
            &self.config.trusted_proxies,
        );
        let user_agent = parts.headers.get(http::header::USER_AGENT).map(|v| {
            redactor.scrub_free_text(&truncate(&String::from_utf8_lossy(v.as_bytes()), 512))
        });
        let access_key = audit::claimed_access_key(&parts.headers, query);
        let (signature_version, authentication_method) = signing_of(parts);
        let record = Record {
            event_version: audit::EVENT_VERSION,
            event_time: audit::event_time_now(),
            event_source: "sts.amazonaws.com".into(),
            event_name: action.to_owned(),
            aws_region: self.config.region.clone(),
            source_ip_address: source_ip.to_string(),
            user_agent,
            user_identity: user_identity(seen.snapshot, seen.principal, access_key),
            request_parameters,
            response_elements,
            additional_event_data: audit::AdditionalEventData {
                signature_version,
                authentication_method,
            },
            request_id: seen.request_id.to_owned(),
            event_id: audit::event_id(seen.request_id),
            read_only: action == "GetCallerIdentity",
            resources: seen
                .params
                .and_then(|p| p.get("RoleArn"))
                .filter(|arn| arn.starts_with("arn:"))
                .map(|arn| {
                    vec![ResourceRef {
                        account_id: arn.split(':').nth(4).map(str::to_owned),
                        kind: "AWS::IAM::Role".into(),
                        arn: redactor.scrub(arn),
                    }]
                })
                .unwrap_or_default(),
            event_type: "AwsApiCall",
            management_event: true,
            recipient_account_id: seen.principal.and_then(|p| p.account()).map(str::to_owned),
            error_code: seen.result.err().map(|e| e.code.to_owned()),
            error_message: seen
                .result
                .err()
                .map(|e| redactor.scrub_free_text(&e.message)),
            iamgate: audit::Details {
                decision: None,
                enforcement: "enforced",
                dry_run: false,
                refused_at: seen.result.is_err().then_some("sts"),
                checks: Vec::new(),
                checks_omitted: 0,
                upstream: "sts".into(),
                status,
                generation: seen.generation,
                micros: audit::StageMicros {
                    total: started.elapsed().as_micros() as u64,
                    ..audit::StageMicros::default()
                },
            },
        };
        self.decisions.submit(record);
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
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

/// `SigV4`/`SigV4A` and `AuthHeader`/`QueryString`, from the request as sent.
fn signing_of(parts: &request::Parts) -> (Option<&'static str>, Option<&'static str>) {
    let version = |algorithm: &str| {
        if algorithm.starts_with("AWS4-ECDSA-P256-SHA256") {
            Some("SigV4A")
        } else if algorithm.starts_with("AWS4-HMAC-SHA256") {
            Some("SigV4")
        } else {
            None
        }
    };
    if let Some(v) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return (version(v), Some("AuthHeader"));
    }
    for pair in parts.uri.query().unwrap_or("").split('&') {
        if let Some((name, value)) = pair.split_once('=') {
            if name.eq_ignore_ascii_case("x-amz-algorithm") {
                return (version(value), Some("QueryString"));
            }
        }
    }
    (None, None)
}

/// `requestParameters`: S3's `bucketName`, `key`, `Host` and query parameters, or the route
/// table's parameters; never an authentication parameter.
fn request_parameters(
    seen: &Seen<'_>,
    service: &str,
    redactor: &Redactor,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut map = serde_json::Map::new();
    let parts = seen.parts;
    match &seen.upstream.model {
        Model::S3(_) => {
            if let Some(route) = &seen.route {
                if let Some(bucket) = route.bucket {
                    map.insert("bucketName".into(), Value::String(bucket.to_owned()));
                }
                if let Some(key) = route.key {
                    map.insert("key".into(), Value::String(redactor.scrub(key)));
                }
            }
            if let Some(host) = parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
            {
                map.insert("Host".into(), Value::String(truncate(host, 256)));
            }
            for pair in parts.uri.query().unwrap_or("").split('&').take(32) {
                if pair.is_empty() {
                    continue;
                }
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                if audit::is_auth_param(name) {
                    continue;
                }
                let decode = |s: &str| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                let name = decode(name);
                if map.contains_key(&name) {
                    continue;
                }
                let value = redactor.scrub(&truncate(&decode(value), 1024));
                map.insert(name, Value::String(value));
            }
        }
        Model::Routes(_) => {
            if let Some(route) = &seen.route {
                let prefix = format!("{service}:");
                for (key, values) in route.context {
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
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::MatchedStatement;

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
