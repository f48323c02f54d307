// The body of the `policy_parse` fuzz target, shared by `fuzz_targets/policy_parse.rs` and
// the main crate's `tests/fuzz_regressions.rs` through `include!` (so no inner doc comments
// and no crate-level items here). It must never panic, whatever the bytes.

use iamgate::policy::{
    evaluate, Action, Context, Policies, Policy, PolicyKind, PolicySet, Principal, Request,
};
use std::sync::Arc;

/// Parses `data` (when UTF-8) as each kind of policy and evaluates whatever parses against a
/// fixed set of requests, as identity policy and as resource policy.
pub fn check_policy_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
        let Ok(policy) = Policy::parse("fuzz", kind, text) else {
            continue;
        };
        let _ = policy.statement_count();
        let set = PolicySet::new(vec![Arc::new(policy)]);
        evaluate_all(&set);
    }
}

fn principals() -> Vec<Principal> {
    vec![
        Principal::from_arn("arn:aws:iam::111122223333:user/alice").expect("user ARN"),
        Principal::from_arn("arn:aws:sts::111122223333:assumed-role/Admin/alice-session")
            .expect("assumed-role ARN"),
        Principal::from_arn("arn:aws:iam::444455556666:role/path/Other").expect("role ARN"),
        Principal::anonymous(),
    ]
}

fn contexts() -> Vec<Context> {
    let mut full = Context::from_pairs([
        ("aws:username", "alice"),
        ("aws:userid", "AIDAEXAMPLE"),
        ("aws:SourceIp", "203.0.113.7"),
        ("aws:CurrentTime", "2026-03-01T12:00:00Z"),
        ("aws:EpochTime", "1772366400"),
        ("aws:SecureTransport", "true"),
        ("aws:PrincipalTag/team", "reports"),
        ("s3:max-keys", "10"),
    ]);
    full.insert_values(
        "aws:TagKeys",
        vec!["team".into(), "cost-centre".into(), "é*?".into()],
    );
    let odd = Context::from_pairs([
        ("aws:username", "*"),
        ("aws:SourceIp", "2001:db8::1"),
        ("aws:CurrentTime", "not a time"),
        ("aws:EpochTime", "-1e400"),
    ]);
    vec![Context::new(), full, odd]
}

fn evaluate_all(set: &PolicySet) {
    let actions = [
        Action::new("s3:GetObject"),
        Action::new("sqs:SendMessage"),
        Action::new("nocolon"),
    ];
    let resources = [
        "arn:aws:s3:::reports/2026/q1.csv",
        "arn:aws:sqs:eu-west-1:111122223333:queue",
        "not-an-arn/with/slashes",
        "",
    ];
    for principal in &principals() {
        for context in &contexts() {
            for action in &actions {
                for resource in resources {
                    let request = Request {
                        principal,
                        action,
                        resource,
                        context,
                    };
                    let as_identity = Policies {
                        identity: Some(set),
                        ..Policies::default()
                    };
                    let _ = evaluate(&as_identity, &request);
                    let as_resource = Policies {
                        resource: Some(set),
                        resource_owner: Some("arn:aws:iam::111122223333:root"),
                        ..Policies::default()
                    };
                    let _ = evaluate(&as_resource, &request);
                    let as_caps = Policies {
                        identity: Some(set),
                        boundary: Some(set),
                        session: Some(set),
                        resource: Some(set),
                        resource_owner: Some("111122223333"),
                    };
                    let _ = evaluate(&as_caps, &request);
                }
            }
        }
    }
}
