//! Evaluation logic end to end through the public API: identity and resource policies,
//! accounts, boundaries, sessions, anonymous callers, explanations and the action index.

use std::sync::Arc;

use iamgate::policy::{
    evaluate, Action, Context, Decision, Effect, Outcome, Policies, Policy, PolicyKind, PolicySet,
    Principal, Request,
};
use serde_json::{json, Value};

fn set(kind: PolicyKind, docs: &[Value]) -> PolicySet {
    PolicySet::new(
        docs.iter()
            .enumerate()
            .map(|(i, d)| Arc::new(Policy::from_value(&format!("p{i}"), kind, d).unwrap()))
            .collect(),
    )
}

fn identity(docs: &[Value]) -> PolicySet {
    set(PolicyKind::Identity, docs)
}

fn resource(doc: Value) -> PolicySet {
    set(PolicyKind::Resource, &[doc])
}

fn allow(action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": resource}]})
}

fn grant(principal: Value, action: &str, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource}]})
}

struct Case<'a> {
    caller: &'a str,
    identity: Option<&'a PolicySet>,
    boundary: Option<&'a PolicySet>,
    session: Option<&'a PolicySet>,
    resource: Option<&'a PolicySet>,
    owner: Option<&'a str>,
    action: &'a str,
    arn: &'a str,
    context: Context,
}

impl<'a> Case<'a> {
    fn new(caller: &'a str) -> Case<'a> {
        Case {
            caller,
            identity: None,
            boundary: None,
            session: None,
            resource: None,
            owner: Some("111122223333"),
            action: "s3:GetObject",
            arn: "arn:aws:s3:::reports/2026/q1.csv",
            context: Context::new(),
        }
    }

    fn decide(&self) -> Decision {
        let principal = match self.caller {
            "session" => Principal::from_arn("arn:aws:sts::111122223333:assumed-role/auditor/s1"),
            other => Principal::from_arn(other),
        }
        .unwrap();
        evaluate(
            &Policies {
                identity: self.identity,
                boundary: self.boundary,
                session: self.session,
                resource: self.resource,
                resource_owner: self.owner,
            },
            &Request {
                principal: &principal,
                action: &Action::new(self.action),
                resource: self.arn,
                context: &self.context,
            },
        )
    }

    fn outcome(&self) -> Outcome {
        self.decide().outcome
    }
}

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const CAROL: &str = "arn:aws:iam::444455556666:user/carol";
const ROOT: &str = "arn:aws:iam::111122223333:root";

#[test]
fn same_account_resource_policy_naming_the_account_needs_the_identity_side() {
    let rp = resource(grant(
        json!({"AWS": "111122223333"}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    let id = identity(&[allow("s3:GetObject", "*")]);
    let mut case = Case::new(ALICE);
    case.resource = Some(&rp);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
    case.identity = Some(&id);
    assert_eq!(case.outcome(), Outcome::Allowed);
}

#[test]
fn boundary_caps_identity_grants_but_not_a_resource_grant_to_the_user() {
    let id = identity(&[allow("s3:*", "*")]);
    let boundary = identity(&[allow("s3:ListBucket", "*")]);
    let mut case = Case::new(ALICE);
    case.identity = Some(&id);
    case.boundary = Some(&boundary);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);

    let rp_user = resource(grant(
        json!({"AWS": ALICE}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    case.resource = Some(&rp_user);
    assert_eq!(
        case.outcome(),
        Outcome::Allowed,
        "a grant naming the user is not capped"
    );

    let rp_account = resource(grant(
        json!({"AWS": ROOT}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    case.resource = Some(&rp_account);
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "a grant to the account is"
    );
}

#[test]
fn deny_in_a_boundary_is_an_explicit_deny() {
    let id = identity(&[allow("s3:*", "*")]);
    let boundary = identity(&[
        allow("s3:*", "*"),
        json!({"Statement": {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}}),
    ]);
    let mut case = Case::new(ALICE);
    case.identity = Some(&id);
    case.boundary = Some(&boundary);
    assert_eq!(case.outcome(), Outcome::ExplicitDeny);
}

#[test]
fn role_sessions_role_arn_versus_session_arn() {
    let session_policy = identity(&[allow("s3:ListBucket", "*")]);
    let by_role = resource(grant(
        json!({"AWS": "arn:aws:iam::111122223333:role/auditor"}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    let by_session = resource(grant(
        json!({"AWS": "arn:aws:sts::111122223333:assumed-role/auditor/s1"}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    let mut case = Case::new("session");
    case.resource = Some(&by_role);
    assert_eq!(case.outcome(), Outcome::Allowed);
    case.session = Some(&session_policy);
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "session policies cap a grant to the role"
    );
    case.resource = Some(&by_session);
    assert_eq!(
        case.outcome(),
        Outcome::Allowed,
        "but not one to the session itself"
    );
}

#[test]
fn cross_account_needs_both_sides() {
    let id = identity(&[allow("s3:GetObject", "arn:aws:s3:::reports/*")]);
    let rp = resource(grant(
        json!({"AWS": "444455556666"}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    let rp_user = resource(grant(
        json!({"AWS": CAROL}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    let mut case = Case::new(CAROL);
    case.resource = Some(&rp_user);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny, "no identity allow");
    case.identity = Some(&id);
    assert_eq!(case.outcome(), Outcome::Allowed);
    case.resource = Some(&rp);
    assert_eq!(case.outcome(), Outcome::Allowed);
    case.resource = None;
    assert_eq!(case.outcome(), Outcome::ImplicitDeny, "no resource policy");
    let boundary = identity(&[allow("s3:ListBucket", "*")]);
    case.resource = Some(&rp);
    case.boundary = Some(&boundary);
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "the boundary caps cross-account too"
    );
}

#[test]
fn anonymous_only_through_a_public_resource_policy() {
    let public = resource(grant(json!("*"), "s3:GetObject", "arn:aws:s3:::public/*"));
    let account = resource(grant(json!({"AWS": "111122223333"}), "s3:GetObject", "*"));
    let everything = identity(&[allow("*", "*")]);
    let mut case = Case::new("anonymous");
    case.arn = "arn:aws:s3:::public/index.html";
    case.identity = Some(&everything);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
    case.resource = Some(&account);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
    case.resource = Some(&public);
    assert_eq!(case.outcome(), Outcome::Allowed);
    case.arn = "arn:aws:s3:::reports/2026/q1.csv";
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
}

#[test]
fn root_user_own_account_and_others() {
    let mut case = Case::new(ROOT);
    assert_eq!(
        case.outcome(),
        Outcome::Allowed,
        "root needs no identity policy at home"
    );
    let deny = resource(json!({"Statement": [{"Effect": "Deny", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}]}));
    case.resource = Some(&deny);
    assert_eq!(case.outcome(), Outcome::ExplicitDeny);
    case.resource = None;
    case.owner = Some("999999999999");
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "another account's resource"
    );
    let rp = resource(grant(json!({"AWS": "111122223333"}), "s3:GetObject", "*"));
    case.resource = Some(&rp);
    assert_eq!(case.outcome(), Outcome::Allowed);
}

#[test]
fn not_principal_spares_a_session_only_when_session_role_and_account_are_listed() {
    let id = identity(&[allow("s3:*", "*")]);
    let deny_all_but = |listed: Value| {
        resource(
            json!({"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": listed},
            "Action": "s3:*", "Resource": "*"}]}),
        )
    };
    let partial = deny_all_but(json!(["arn:aws:sts::111122223333:assumed-role/auditor/s1"]));
    let full = deny_all_but(json!([
        "arn:aws:sts::111122223333:assumed-role/auditor/s1",
        "arn:aws:iam::111122223333:role/auditor",
        "arn:aws:iam::111122223333:root"
    ]));
    let mut case = Case::new("session");
    case.identity = Some(&id);
    case.resource = Some(&partial);
    assert_eq!(case.outcome(), Outcome::ExplicitDeny);
    case.resource = Some(&full);
    assert_eq!(case.outcome(), Outcome::Allowed);
    let mut bob = Case::new("arn:aws:iam::111122223333:user/bob");
    bob.identity = Some(&id);
    bob.resource = Some(&full);
    assert_eq!(
        bob.outcome(),
        Outcome::ExplicitDeny,
        "everyone else is denied"
    );
}

#[test]
fn explanation_names_statements_and_missing_keys() {
    let id = identity(&[json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
        {"Sid": "Tagged", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "data"}}},
        {"Sid": "Other", "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}
    ]})]);
    let mut case = Case::new(ALICE);
    case.identity = Some(&id);
    let d = case.decide();
    assert_eq!(d.outcome, Outcome::Allowed);
    assert_eq!(d.matched.len(), 1);
    assert_eq!(d.matched[0].sid.as_deref(), Some("Read"));
    assert_eq!(&*d.matched[0].policy, "p0");
    assert_eq!(d.matched[0].effect, Effect::Allow);
    assert_eq!(d.missing_context, vec!["aws:PrincipalTag/team".to_owned()]);

    case.action = "s3:PutObject";
    let d = case.decide();
    assert_eq!(d.outcome, Outcome::ExplicitDeny);
    assert_eq!(d.matched.len(), 1);
    assert_eq!(d.matched[0].sid.as_deref(), Some("Other"));
    assert_eq!(d.matched[0].index, 2);
}

#[test]
fn index_finds_every_kind_of_action_pattern() {
    let id = identity(&[json!({"Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "s3:Get*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "*"},
        {"Effect": "Allow", "NotAction": ["iam:*", "s3:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:*crypt", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3:::secret/*"}
    ]})]);
    let mut case = Case::new(ALICE);
    case.identity = Some(&id);
    case.arn = "arn:aws:sqs:us-east-1:111122223333:q";
    for (action, expected) in [
        ("sqs:SendMessage", Outcome::Allowed),
        ("S3:GETOBJECT", Outcome::Allowed),
        ("s3:PutObject", Outcome::ImplicitDeny),
        ("dynamodb:PutItem", Outcome::Allowed),
        ("dynamodb:Query", Outcome::Allowed), // via NotAction
        ("iam:CreateUser", Outcome::ImplicitDeny),
        ("kms:Decrypt", Outcome::Allowed),
        ("ec2:RunInstances", Outcome::Allowed),
    ] {
        case.action = action;
        assert_eq!(case.outcome(), expected, "{action}");
    }
    case.arn = "arn:aws:s3:::secret/x";
    case.action = "s3:GetObject";
    assert_eq!(case.outcome(), Outcome::ExplicitDeny);
}

#[test]
fn decision_does_not_depend_on_statement_or_policy_order() {
    let a = json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    let d = json!({"Statement": [{"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]});
    for docs in [[a.clone(), d.clone()], [d.clone(), a.clone()]] {
        let id = identity(&docs);
        let mut case = Case::new(ALICE);
        case.identity = Some(&id);
        assert_eq!(case.outcome(), Outcome::ExplicitDeny);
    }
}

#[test]
fn variables_resolve_per_request() {
    let id = identity(&[
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}]}),
    ]);
    let mut case = Case::new(ALICE);
    case.identity = Some(&id);
    case.arn = "arn:aws:s3:::home/alice/notes";
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "no aws:username, no match"
    );
    case.context.insert("aws:username", "alice");
    assert_eq!(case.outcome(), Outcome::Allowed);
    case.arn = "arn:aws:s3:::home/bob/notes";
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
}

const ROLE: &str = "arn:aws:iam::111122223333:role/r";

fn not_principal(effect: &str, listed: Value) -> PolicySet {
    resource(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": effect,
        "NotPrincipal": {"AWS": listed}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::reports/*"}]}),
    )
}

#[test]
fn allow_with_not_principal_never_grants_a_caller_it_lists() {
    // Alone as a string and in a list: alice is listed, so she is not granted.
    for listed in [json!(ALICE), json!([ALICE])] {
        let rp = not_principal("Allow", listed);
        let mut case = Case::new(ALICE);
        case.resource = Some(&rp);
        assert_eq!(case.outcome(), Outcome::ImplicitDeny);
        // Everyone else is: the statement means "everyone except the listed".
        let mut bob = Case::new("arn:aws:iam::111122223333:user/bob");
        bob.resource = Some(&rp);
        assert_eq!(bob.outcome(), Outcome::Allowed);
        let mut anonymous = Case::new("anonymous");
        anonymous.resource = Some(&rp);
        assert_eq!(anonymous.outcome(), Outcome::Allowed);
    }
    // Listed through its role or its account, a caller is listed too.
    let by_role = not_principal("Allow", json!("arn:aws:iam::111122223333:role/auditor"));
    let mut session = Case::new("session");
    session.resource = Some(&by_role);
    assert_eq!(session.outcome(), Outcome::ImplicitDeny);
    let by_account = not_principal("Allow", json!("111122223333"));
    let mut case = Case::new(ALICE);
    case.resource = Some(&by_account);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
    let reads = identity(&[allow("s3:GetObject", "*")]);
    let mut carol = Case::new(CAROL);
    carol.resource = Some(&by_account);
    carol.identity = Some(&reads);
    assert_eq!(
        carol.outcome(),
        Outcome::Allowed,
        "another account is not listed"
    );
    // An identity policy still allows a listed caller: the statement grants nothing, denies nothing.
    let rp = not_principal("Allow", json!(ALICE));
    let id = identity(&[allow("s3:GetObject", "*")]);
    let mut case = Case::new(ALICE);
    case.resource = Some(&rp);
    case.identity = Some(&id);
    assert_eq!(case.outcome(), Outcome::Allowed);
}

#[test]
fn deny_with_not_principal_denies_every_caller_with_a_boundary() {
    let rp = not_principal("Deny", json!([ALICE, ROOT]));
    let id = identity(&[allow("s3:GetObject", "*")]);
    let boundary = identity(&[allow("*", "*")]);
    let mut case = Case::new(ALICE);
    case.identity = Some(&id);
    case.resource = Some(&rp);
    assert_eq!(
        case.outcome(),
        Outcome::Allowed,
        "listed, no boundary: spared"
    );
    case.boundary = Some(&boundary);
    let decision = case.decide();
    assert_eq!(decision.outcome, Outcome::ExplicitDeny);
    assert_eq!(decision.matched.len(), 1);
    assert_eq!(decision.matched[0].effect, Effect::Deny);
    // A session of a role with a boundary, every identity listed: denied all the same.
    let listed = not_principal(
        "Deny",
        json!([
            "arn:aws:sts::111122223333:assumed-role/auditor/s1",
            "arn:aws:iam::111122223333:role/auditor",
            ROOT
        ]),
    );
    let mut session = Case::new("session");
    session.identity = Some(&id);
    session.resource = Some(&listed);
    assert_eq!(session.outcome(), Outcome::Allowed);
    session.boundary = Some(&boundary);
    assert_eq!(session.outcome(), Outcome::ExplicitDeny);
    // An Allow with NotPrincipal is not turned into a grant by the boundary.
    let allow_rp = not_principal("Allow", json!([ALICE, ROOT]));
    let mut case = Case::new(ALICE);
    case.resource = Some(&allow_rp);
    case.boundary = Some(&boundary);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
}

#[test]
fn a_role_arn_caller_is_evaluated_as_a_session_of_the_role() {
    let rp = resource(grant(
        json!({"AWS": ROLE}),
        "s3:GetObject",
        "arn:aws:s3:::reports/*",
    ));
    let boundary = identity(&[allow("ec2:*", "*")]);
    let session_policy = identity(&[allow("ec2:*", "*")]);
    let mut case = Case::new(ROLE);
    case.resource = Some(&rp);
    assert_eq!(case.outcome(), Outcome::Allowed);
    case.boundary = Some(&boundary);
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "a grant to the role ARN is capped by the boundary"
    );
    case.boundary = None;
    case.session = Some(&session_policy);
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "and by session policies"
    );
    // The same as for a named session of the role.
    let session_arn = "arn:aws:sts::111122223333:assumed-role/r/s";
    let mut session = Case::new(session_arn);
    session.resource = Some(&rp);
    session.boundary = Some(&boundary);
    assert_eq!(session.outcome(), Outcome::ImplicitDeny);
    // NotPrincipal cannot list the unknown session: a role caller is never spared by a Deny.
    let deny = not_principal("Deny", json!([ROLE, ROOT]));
    let id = identity(&[allow("s3:GetObject", "*")]);
    let mut case = Case::new(ROLE);
    case.identity = Some(&id);
    case.resource = Some(&deny);
    assert_eq!(case.outcome(), Outcome::ExplicitDeny);
    // Nor granted by an Allow that lists its role.
    let allow_rp = not_principal("Allow", json!(ROLE));
    let mut case = Case::new(ROLE);
    case.resource = Some(&allow_rp);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
}

#[test]
fn trust_and_key_policies_must_allow_the_caller() {
    let admin_role = "arn:aws:iam::111122223333:role/admin";
    let assume = identity(&[allow("sts:AssumeRole", "*")]);
    let trusts =
        |principal: &str| resource(grant(json!({"AWS": principal}), "sts:AssumeRole", "*"));
    let other = trusts("arn:aws:iam::111122223333:user/other");
    let mut case = Case::new(ALICE);
    case.action = "sts:AssumeRole";
    case.arn = admin_role;
    case.identity = Some(&assume);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny, "no trust policy");
    case.resource = Some(&other);
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "a trust policy naming someone else"
    );
    let account = trusts(ROOT);
    case.resource = Some(&account);
    assert_eq!(
        case.outcome(),
        Outcome::Allowed,
        "naming the account delegates"
    );
    case.identity = None;
    assert_eq!(
        case.outcome(),
        Outcome::ImplicitDeny,
        "to the identity side"
    );
    let alice = trusts(ALICE);
    case.resource = Some(&alice);
    assert_eq!(case.outcome(), Outcome::Allowed, "naming alice suffices");
    // A trust policy loaded as one (the store's roles) is recognised by its kind too.
    let trust_kind = set(
        PolicyKind::Trust,
        &[
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:user/other"}, "Action": "sts:AssumeRole"}]}),
        ],
    );
    case.identity = Some(&assume);
    case.resource = Some(&trust_kind);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
    // Other actions on a role are not governed by its trust policy.
    let get_role = identity(&[allow("iam:GetRole", "*")]);
    let mut case = Case::new(ALICE);
    case.action = "iam:GetRole";
    case.arn = admin_role;
    case.identity = Some(&get_role);
    assert_eq!(case.outcome(), Outcome::Allowed);

    // KMS: identity policies count only where the key policy names the account.
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let decrypt = identity(&[allow("kms:Decrypt", "*")]);
    let key_policy = |principal: &str| resource(grant(json!({"AWS": principal}), "kms:*", "*"));
    let mut case = Case::new(ALICE);
    case.action = "kms:Decrypt";
    case.arn = key;
    case.identity = Some(&decrypt);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny, "no key policy");
    let other = key_policy("arn:aws:iam::111122223333:user/other");
    case.resource = Some(&other);
    assert_eq!(case.outcome(), Outcome::ImplicitDeny);
    let account = key_policy(ROOT);
    case.resource = Some(&account);
    assert_eq!(case.outcome(), Outcome::Allowed);
    let mut root = Case::new(ROOT);
    root.action = "kms:Decrypt";
    root.arn = key;
    root.resource = Some(&other);
    assert_eq!(
        root.outcome(),
        Outcome::ImplicitDeny,
        "not even the account's root user"
    );
}
