//! The action index never changes a decision: for generated policies, evaluating through the
//! index agrees with matching every statement's action patterns one by one.

use std::sync::Arc;

use iamgate::policy::testing::wildcard_matches;
use iamgate::policy::{
    evaluate, Action, Context, Outcome, Policies, Policy, PolicyKind, PolicySet, Principal, Request,
};
use proptest::prelude::*;

fn pattern() -> impl Strategy<Value = String> {
    let service = prop::sample::select(vec!["s3", "sqs", "s3x", "*"]);
    let name = prop::collection::vec(
        prop::sample::select(vec!["Get", "get", "Object", "*", "?", "Put", "b"]),
        0..4,
    )
    .prop_map(|parts| parts.concat());
    (service, name).prop_map(|(s, n)| {
        if s == "*" {
            "*".to_owned()
        } else {
            format!("{s}:{}", if n.is_empty() { "*".to_owned() } else { n })
        }
    })
}

fn statement() -> impl Strategy<Value = (bool, bool, Vec<String>)> {
    (
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::collection::vec(pattern(), 1..4),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn index_agrees_with_a_linear_scan(
        statements in prop::collection::vec(statement(), 1..8),
        action in prop::sample::select(vec!["s3:GetObject", "s3:PutObject", "sqs:GetQueue", "s3x:getb", "s3:b", "sqs:Object"]),
    ) {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": statements.iter().map(|(deny, not, patterns)| {
            let key = if *not { "NotAction" } else { "Action" };
            serde_json::json!({"Effect": if *deny { "Deny" } else { "Allow" }, key: patterns, "Resource": "*"})
        }).collect::<Vec<_>>()});
        let policy = Policy::from_value("p", PolicyKind::Identity, &doc).unwrap();
        let set = PolicySet::new(vec![Arc::new(policy)]);
        let caller = Principal::from_arn("arn:aws:iam::111122223333:user/u").unwrap();
        let decision = evaluate(
            &Policies { identity: Some(&set), ..Policies::default() },
            &Request { principal: &caller, action: &Action::new(action), resource: "arn:aws:s3:::b/k", context: &Context::new() },
        );
        let lower = action.to_ascii_lowercase();
        let applies = |(_, not, patterns): &(bool, bool, Vec<String>)| {
            patterns.iter().any(|p| wildcard_matches(&p.to_ascii_lowercase(), &lower)) != *not
        };
        let expected = if statements.iter().any(|s| s.0 && applies(s)) {
            Outcome::ExplicitDeny
        } else if statements.iter().any(|s| !s.0 && applies(s)) {
            Outcome::Allowed
        } else {
            Outcome::ImplicitDeny
        };
        prop_assert_eq!(decision.outcome, expected);
    }
}
