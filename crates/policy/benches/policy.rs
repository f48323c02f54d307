//! One policy decision, timed: iamgate's engine against identity policy sets of 10, 1,000 and
//! 10,000 statements and, with `--features cedar`, the `cedar-policy` crate on an equivalent
//! policy set. See `docs/PERFORMANCE.md` and `benches/run-policy-bench.sh` in the repository.
//!
//! Every statement is generated from one abstract description ([`Stmt`]) and rendered both as
//! IAM JSON and as a Cedar policy, so the two engines judge the same rules. Nothing is random.
// criterion's macros define public functions without documentation.
#![allow(missing_docs)]
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use iamgate_policy::{
    evaluate, Action, Context, Outcome, Policies, Policy, PolicyKind, PolicySet, Principal, Request,
};
use serde_json::json;

const ACCOUNT: &str = "111122223333";
const CALLER: &str = "arn:aws:iam::111122223333:user/bob";

/// Set sizes as (services, statements per service). The small set sits in one service, so the
/// engine's per-service index cannot skip any of it.
const SIZES: [(usize, usize); 3] = [(1, 10), (100, 10), (100, 100)];

/// The request context a gateway would build: the keys the policies test and a few more.
const CONTEXT: [(&str, &str); 6] = [
    ("aws:CurrentTime", "2026-11-27T12:00:00Z"),
    ("aws:SecureTransport", "true"),
    ("aws:SourceIp", "203.0.113.7"),
    ("aws:username", "bob"),
    ("aws:PrincipalAccount", ACCOUNT),
    ("aws:PrincipalTag/team", "data"),
];

/// One statement, engine-neutral. Resource patterns use `*` only (Cedar's `like` has no `?`).
struct Stmt {
    deny: bool,
    /// IAM action patterns (`svc:GetObject`, `svc:Get*`).
    actions: Vec<String>,
    /// ARN patterns; `*` alone means any resource.
    resources: Vec<String>,
    /// `StringEquals aws:PrincipalTag/team`.
    team: Option<String>,
    /// `IpAddress aws:SourceIp`.
    cidrs: Vec<String>,
}

fn service_name(index: usize) -> String {
    const REAL: [&str; 12] = [
        "s3",
        "dynamodb",
        "sqs",
        "sns",
        "lambda",
        "ec2",
        "kms",
        "logs",
        "secretsmanager",
        "ssm",
        "kinesis",
        "glue",
    ];
    REAL.get(index)
        .map_or_else(|| format!("svc{index:03}"), |s| (*s).to_owned())
}

fn arn(service: &str, region: &str, account: &str, rest: &str) -> String {
    format!("arn:aws:{service}:{region}:{account}:{rest}")
}

/// The statement that allows the benchmark's request; it is the last one of the last service.
fn target_statement(svc: &str) -> Stmt {
    Stmt {
        deny: false,
        actions: vec![format!("{svc}:Get*"), format!("{svc}:List*")],
        resources: vec![arn(svc, "*", ACCOUNT, "data/reports/*")],
        team: Some("data".into()),
        cidrs: vec!["203.0.113.0/24".into(), "198.51.100.0/24".into()],
    }
}

/// Statement `j` of service `svc`: a fixed mix of exact actions, wildcards, resource
/// wildcards, conditions and denies, none of which covers the benchmark's requests.
fn statement(svc: &str, j: usize) -> Stmt {
    let app = format!("app-{j}");
    let team = Some(format!("team{}", j % 7));
    let act = |names: &[&str]| names.iter().map(|n| format!("{svc}:{n}")).collect();
    let res = |region: &str, rest: String| vec![arn(svc, region, ACCOUNT, &rest)];
    let plain = |actions, resources| Stmt {
        deny: false,
        actions,
        resources,
        team: None,
        cidrs: Vec::new(),
    };
    match j % 10 {
        0 => plain(
            act(&["GetObject", "PutObject"]),
            res("eu-west-1", format!("{app}/data.csv")),
        ),
        1 => plain(act(&["Get*"]), res("*", format!("{app}/*"))),
        2 => Stmt {
            team,
            ..plain(act(&["List*", "Describe*"]), res("eu-west-1", "*".into()))
        },
        3 => Stmt {
            cidrs: vec![format!("10.{}.0.0/16", j % 256)],
            ..plain(
                act(&["UpdateConfig"]),
                res("eu-west-1", format!("{app}/config/*")),
            )
        },
        4 => plain(
            act(&["*Item"]),
            vec![arn(svc, "*", "*", &format!("{app}/items/*"))],
        ),
        // The denies: one for another action, one for the right action on another resource.
        5 if j % 20 == 5 => Stmt {
            deny: true,
            ..plain(act(&["Delete*"]), res("*", "*".into()))
        },
        5 => Stmt {
            deny: true,
            ..plain(act(&["Get*"]), res("*", format!("{app}/secret/*")))
        },
        6 => plain(
            act(&["GetObject"]),
            vec![
                arn(svc, "eu-west-1", ACCOUNT, &format!("{app}/a/*")),
                arn(svc, "eu-west-1", ACCOUNT, &format!("{app}/b/*")),
                arn(svc, "eu-west-1", ACCOUNT, &format!("shared-{j}/*")),
            ],
        ),
        7 => Stmt {
            team,
            cidrs: vec!["203.0.113.0/24".into()],
            ..plain(act(&["Put*", "Tag*"]), res("*", format!("{app}/*")))
        },
        8 => plain(
            act(&["Get*", "List*"]),
            res("eu-west-1", format!("*/{app}-*")),
        ),
        // Any resource, but only for another team: the condition is evaluated and fails.
        _ => Stmt {
            team,
            ..plain(act(&["GetObject", "GetItem"]), vec!["*".into()])
        },
    }
}

/// The statements of one set, grouped in one policy per service.
fn generate((services, per_service): (usize, usize)) -> Vec<Vec<Stmt>> {
    (0..services)
        .map(|s| {
            let svc = service_name(s);
            (0..per_service)
                .map(|j| {
                    if s + 1 == services && j + 1 == per_service {
                        target_statement(&svc)
                    } else {
                        statement(&svc, j)
                    }
                })
                .collect()
        })
        .collect()
}

fn iam_json(statements: &[Stmt]) -> String {
    let statements: Vec<_> = statements
        .iter()
        .map(|s| {
            let mut st = json!({
                "Effect": if s.deny { "Deny" } else { "Allow" },
                "Action": s.actions,
                "Resource": s.resources,
            });
            let mut condition = serde_json::Map::new();
            if let Some(team) = &s.team {
                condition.insert(
                    "StringEquals".into(),
                    json!({ "aws:PrincipalTag/team": team }),
                );
            }
            if !s.cidrs.is_empty() {
                condition.insert("IpAddress".into(), json!({ "aws:SourceIp": s.cidrs }));
            }
            if !condition.is_empty() {
                st["Condition"] = condition.into();
            }
            st
        })
        .collect();
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

fn iam_set(policies: &[Vec<Stmt>]) -> PolicySet {
    let compiled = policies
        .iter()
        .enumerate()
        .map(|(i, statements)| {
            let name = format!("policy-{i}");
            let policy = Policy::parse(&name, PolicyKind::Identity, &iam_json(statements))
                .expect("generated policy compiles");
            Arc::new(policy)
        })
        .collect();
    PolicySet::new(compiled)
}

/// What one benchmark case asks: the action and resource of the last service.
struct Case {
    size: usize,
    policies: Vec<Vec<Stmt>>,
    action: String,
    allowed_resource: String,
    denied_resource: String,
}

fn cases() -> Vec<Case> {
    SIZES
        .iter()
        .map(|&(services, per_service)| {
            let svc = service_name(services - 1);
            Case {
                size: services * per_service,
                policies: generate((services, per_service)),
                action: format!("{svc}:GetObject"),
                allowed_resource: arn(&svc, "eu-west-1", ACCOUNT, "data/reports/2026/q1.csv"),
                denied_resource: arn(&svc, "eu-west-1", ACCOUNT, "data/private/q1.csv"),
            }
        })
        .collect()
}

fn iam_decide(
    set: &PolicySet,
    principal: &Principal,
    action: &Action,
    resource: &str,
    context: &Context,
) -> Outcome {
    let policies = Policies {
        identity: Some(set),
        ..Policies::default()
    };
    let request = Request {
        principal,
        action,
        resource,
        context,
    };
    evaluate(&policies, &request).outcome
}

fn bench(c: &mut Criterion) {
    let principal = Principal::from_arn(CALLER).expect("valid principal");
    let cases = cases();
    let sets: Vec<PolicySet> = cases.iter().map(|c| iam_set(&c.policies)).collect();
    #[cfg(feature = "cedar")]
    let cedar_sets: Vec<cedar::Fixture> = cases.iter().map(cedar::Fixture::new).collect();
    // The translation is only fair if both engines agree, on more than the two timed requests.
    #[cfg(feature = "cedar")]
    for (i, &(services, _)) in SIZES.iter().enumerate() {
        let svc = service_name(services - 1);
        let context = Context::from_pairs(CONTEXT);
        for name in [
            "GetObject",
            "PutObject",
            "ListTable",
            "DeleteItem",
            "GetItem",
        ] {
            let action = format!("{svc}:{name}");
            for (j, rest) in [
                "data/reports/x",
                "app-1/x",
                "app-7/y",
                "app-4/items/z",
                "a/app-8-b",
            ]
            .into_iter()
            .enumerate()
            {
                let resource = arn(&svc, "eu-west-1", ACCOUNT, rest);
                let iam = iam_decide(
                    &sets[i],
                    &principal,
                    &Action::new(&action),
                    &resource,
                    &context,
                );
                let cedar = cedar_sets[i].allows(&action, &resource);
                assert_eq!(
                    iam == Outcome::Allowed,
                    cedar,
                    "{action} on {resource} ({j})"
                );
            }
        }
    }

    for (label, allowed) in [("allowed", true), ("denied", false)] {
        let mut group = c.benchmark_group(format!("decision/{label}"));
        for (i, case) in cases.iter().enumerate() {
            let resource = if allowed {
                &case.allowed_resource
            } else {
                &case.denied_resource
            };
            // Built once per request by the gateway, so outside the timed loop.
            let action = Action::new(&case.action);
            let context = Context::from_pairs(CONTEXT);
            let expected = if allowed {
                Outcome::Allowed
            } else {
                Outcome::ImplicitDeny
            };
            assert_eq!(
                iam_decide(&sets[i], &principal, &action, resource, &context),
                expected,
                "iamgate, {} statements",
                case.size
            );
            group.bench_function(BenchmarkId::new("iamgate", case.size), |b| {
                b.iter(|| {
                    iam_decide(
                        black_box(&sets[i]),
                        &principal,
                        black_box(&action),
                        black_box(resource),
                        black_box(&context),
                    )
                })
            });
            #[cfg(feature = "cedar")]
            cedar_sets[i].bench(&mut group, case, resource, allowed);
        }
        group.finish();
    }

    // The same allowed decision, now paying for the per-request values inside the loop.
    let mut group = c.benchmark_group("decision/allowed+build");
    for (i, case) in cases.iter().enumerate() {
        group.bench_function(BenchmarkId::new("iamgate", case.size), |b| {
            b.iter(|| {
                let action = Action::new(black_box(&case.action));
                let context = Context::from_pairs(black_box(CONTEXT));
                iam_decide(
                    black_box(&sets[i]),
                    &principal,
                    &action,
                    black_box(&case.allowed_resource),
                    &context,
                )
            })
        });
        #[cfg(feature = "cedar")]
        cedar_sets[i].bench_with_build(&mut group, case);
    }
    group.finish();
}

/// The same policies and requests in Cedar: each IAM statement becomes one `permit` or
/// `forbid`; action wildcards are expanded against the service's action list (Cedar has no
/// action wildcards), resources become an entity whose `arn` attribute is matched with `like`,
/// and the condition keys become context attributes.
#[cfg(feature = "cedar")]
mod cedar {
    use std::collections::{HashMap, HashSet};
    use std::fmt::Write as _;
    use std::hint::black_box;
    use std::str::FromStr;

    use cedar_policy::{
        Authorizer, Context, Decision, Entities, Entity, EntityUid, PolicySet, Request,
        RestrictedExpression,
    };
    use criterion::measurement::WallTime;
    use criterion::{BenchmarkGroup, BenchmarkId};
    use iamgate_policy::testing::wildcard_matches;

    use super::{Case, Stmt, CALLER, CONTEXT};

    /// The actions each service has; wildcards are expanded against them for Cedar.
    const VERBS: [&str; 8] = [
        "Get", "List", "Describe", "Put", "Create", "Update", "Delete", "Tag",
    ];
    const NOUNS: [&str; 6] = ["Object", "Item", "Table", "Queue", "Config", "Policy"];

    /// A Cedar policy set with its requests, all built before timing.
    pub struct Fixture {
        policies: PolicySet,
        authorizer: Authorizer,
    }

    /// Cedar's string literal syntax; our generated text only needs quotes and backslashes.
    fn quoted(text: &str) -> String {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }

    /// The service's actions that an IAM action pattern covers.
    fn expand(pattern: &str) -> Vec<String> {
        let (service, name) = pattern.split_once(':').expect("service:action");
        if !name.contains('*') {
            return vec![pattern.to_owned()];
        }
        let lower = pattern.to_ascii_lowercase();
        VERBS
            .iter()
            .flat_map(|v| NOUNS.iter().map(move |n| format!("{service}:{v}{n}")))
            .filter(|a| wildcard_matches(&lower, &a.to_ascii_lowercase()))
            .collect()
    }

    fn render(stmt: &Stmt, out: &mut String) {
        let mut actions: Vec<String> = stmt.actions.iter().flat_map(|a| expand(a)).collect();
        actions.sort();
        actions.dedup();
        let uids: Vec<String> = actions
            .iter()
            .map(|a| format!("Action::{}", quoted(a)))
            .collect();
        let scope = match uids.as_slice() {
            [one] => format!("action == {one}"),
            _ => format!("action in [{}]", uids.join(", ")),
        };
        let effect = if stmt.deny { "forbid" } else { "permit" };
        let mut when = Vec::new();
        if !stmt.resources.iter().any(|r| r == "*") {
            let likes: Vec<String> = stmt
                .resources
                .iter()
                .map(|r| format!("resource.arn like {}", quoted(r)))
                .collect();
            when.push(format!("({})", likes.join(" || ")));
        }
        if let Some(team) = &stmt.team {
            when.push(format!("context.team == {}", quoted(team)));
        }
        if !stmt.cidrs.is_empty() {
            let ranges: Vec<String> = stmt
                .cidrs
                .iter()
                .map(|c| format!("context.source_ip.isInRange(ip({}))", quoted(c)))
                .collect();
            when.push(format!("({})", ranges.join(" || ")));
        }
        let _ = write!(out, "{effect}(principal, {scope}, resource)");
        if !when.is_empty() {
            let _ = write!(out, " when {{ {} }}", when.join(" && "));
        }
        out.push_str(";\n");
    }

    fn uid(kind: &str, id: &str) -> EntityUid {
        EntityUid::from_str(&format!("{kind}::{}", quoted(id))).expect("valid uid")
    }

    /// The same keys as iamgate's context, typed as Cedar wants them.
    fn context() -> Context {
        let pairs = CONTEXT.iter().map(|&(key, value)| {
            let (name, value) = match key {
                "aws:SourceIp" => ("source_ip", RestrictedExpression::new_ip(value)),
                "aws:SecureTransport" => ("secure_transport", RestrictedExpression::new_bool(true)),
                "aws:PrincipalTag/team" => ("team", RestrictedExpression::new_string(value.into())),
                "aws:CurrentTime" => (
                    "current_time",
                    RestrictedExpression::new_string(value.into()),
                ),
                "aws:username" => ("username", RestrictedExpression::new_string(value.into())),
                _ => (
                    "principal_account",
                    RestrictedExpression::new_string(value.into()),
                ),
            };
            (name.to_owned(), value)
        });
        Context::from_pairs(pairs).expect("valid context")
    }

    /// The request and the one entity it needs (the resource, with its ARN).
    fn request(action: &str, resource: &str) -> (Request, Entities) {
        let resource_uid = uid("Resource", resource);
        let attrs = HashMap::from([(
            "arn".to_owned(),
            RestrictedExpression::new_string(resource.to_owned()),
        )]);
        let entity = Entity::new(resource_uid.clone(), attrs, HashSet::new()).expect("entity");
        let entities = Entities::from_entities([entity], None).expect("entities");
        let request = Request::new(
            uid("User", CALLER),
            uid("Action", action),
            resource_uid,
            context(),
            None,
        )
        .expect("valid request");
        (request, entities)
    }

    impl Fixture {
        pub fn new(case: &Case) -> Fixture {
            let mut text = String::new();
            for stmt in case.policies.iter().flatten() {
                render(stmt, &mut text);
            }
            let policies = PolicySet::from_str(&text).expect("generated Cedar parses");
            Fixture {
                policies,
                authorizer: Authorizer::new(),
            }
        }

        /// Whether Cedar allows `action` on `resource`, for the agreement check.
        pub fn allows(&self, action: &str, resource: &str) -> bool {
            let (request, entities) = request(action, resource);
            let response = self
                .authorizer
                .is_authorized(&request, &self.policies, &entities);
            response.decision() == Decision::Allow
        }

        pub fn bench(
            &self,
            group: &mut BenchmarkGroup<'_, WallTime>,
            case: &Case,
            resource: &str,
            allowed: bool,
        ) {
            let (request, entities) = request(&case.action, resource);
            let expected = if allowed {
                Decision::Allow
            } else {
                Decision::Deny
            };
            let response = self
                .authorizer
                .is_authorized(&request, &self.policies, &entities);
            assert_eq!(response.decision(), expected, "cedar, {}", case.size);
            assert!(
                response.diagnostics().errors().next().is_none(),
                "cedar evaluation errors"
            );
            group.bench_function(BenchmarkId::new("cedar", case.size), |b| {
                b.iter(|| {
                    self.authorizer
                        .is_authorized(
                            black_box(&request),
                            black_box(&self.policies),
                            black_box(&entities),
                        )
                        .decision()
                })
            });
        }

        pub fn bench_with_build(&self, group: &mut BenchmarkGroup<'_, WallTime>, case: &Case) {
            group.bench_function(BenchmarkId::new("cedar", case.size), |b| {
                b.iter(|| {
                    let (request, entities) =
                        request(&case.action, black_box(&case.allowed_resource));
                    self.authorizer
                        .is_authorized(&request, black_box(&self.policies), &entities)
                        .decision()
                })
            });
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
